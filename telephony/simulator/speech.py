"""The simulated call's recording: the conversation spoken by espeak-ng, one WAV.

Twilio records a real call; the simulated carrier makes the same artefact from what
was said: each turn of its transcript is synthesised with Debian's `espeak-ng` (the
agent and the prospect in different voices, a keypad press as its DTMF tone, an
answering machine's greeting followed by its beep), and the pieces are joined with the
standard library's `wave` into one 16-bit mono WAV. Each turn's audio lasts exactly
as long as the relay says the turn lasts on a simulated call (`turn_seconds`: its
words at 2.5 a second, a key press 0.3 s) — espeak-ng speaks a little faster, the rest
is the pause after it; a turn it cannot fit is spoken faster — so turn *n* starts at
the sum of the audio durations of turns 0…n-1, exactly where the stored transcript
puts it (telephony/voice/relay.py).

Without `espeak-ng` there is no recording (`available()` is False): the carrier reports
the recording as absent and the app says so.
"""

from __future__ import annotations

import io
import math
import shutil
import struct
import subprocess
import wave
from dataclasses import dataclass
from typing import Final

from telephony.voice.relay import turn_seconds

ESPEAK: Final = "espeak-ng"
RATE: Final = 22050  # espeak-ng's output rate
WIDTH: Final = 2  # 16-bit samples
VOICES: Final = {"agent": "en-us+f3", "prospect": "en-us+m3", "machine": "en-us+f5"}
WORDS_PER_MINUTE: Final = 165
MAX_WORDS_PER_MINUTE: Final = 450  # espeak-ng's fastest
BEEP_S: Final = 0.6
MACHINE_BEEP_TURN_S: Final = 1.0  # the carrier's answering machine: its beep and a breath
DTMF_S: Final = 0.3
# The keypad's two frequencies (Hz) for each key.
DTMF: Final = {
    "1": (697, 1209),
    "2": (697, 1336),
    "3": (697, 1477),
    "4": (770, 1209),
    "5": (770, 1336),
    "6": (770, 1477),
    "7": (852, 1209),
    "8": (852, 1336),
    "9": (852, 1477),
    "*": (941, 1209),
    "0": (941, 1336),
    "#": (941, 1477),
}
MAX_TURN_CHARS: Final = 2000
SYNTH_TIMEOUT_S: Final = 20.0


class SpeechError(RuntimeError):
    """espeak-ng is missing or failed."""


@dataclass(frozen=True)
class Turn:
    """One turn as said on the call. `speaker`: agent, prospect, machine or keypad (the
    text is then the key)."""

    speaker: str
    text: str


@dataclass(frozen=True)
class TimedTurn:
    speaker: str
    text: str
    start_s: float  # from the start of the recording
    end_s: float  # when its sound ends (the pause after it is not counted)

    def as_json(self) -> dict[str, object]:
        return {
            "speaker": self.speaker,
            "text": self.text,
            "start_s": round(self.start_s, 3),
            "end_s": round(self.end_s, 3),
        }


@dataclass(frozen=True)
class Recording:
    wav: bytes
    timeline: tuple[TimedTurn, ...]
    duration_s: float


def available() -> bool:
    """Whether espeak-ng is installed (Debian: `apt-get install espeak-ng`)."""
    return shutil.which(ESPEAK) is not None


def _silence(seconds: float) -> bytes:
    return b"\x00\x00" * round(seconds * RATE)


def _tones(freqs: tuple[int, ...], seconds: float, volume: float = 0.3) -> bytes:
    n = round(seconds * RATE)
    scale = 32767 * volume / len(freqs)
    samples = (
        round(scale * sum(math.sin(2 * math.pi * f * i / RATE) for f in freqs)) for i in range(n)
    )
    return struct.pack(f"<{n}h", *samples)


def _speak(text: str, voice: str, wpm: int = WORDS_PER_MINUTE) -> bytes:
    """`text` spoken by espeak-ng, as 16-bit mono PCM at `RATE`. The text goes in on
    stdin, so nothing in it can be read as an option."""
    exe = shutil.which(ESPEAK)
    if exe is None:
        raise SpeechError("espeak-ng is not installed")
    try:
        done = subprocess.run(  # noqa: S603 - a fixed executable; the text is stdin
            [exe, "-v", voice, "-s", str(wpm), "--stdout"],
            input=text[:MAX_TURN_CHARS].encode("utf-8"),
            capture_output=True,
            timeout=SYNTH_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SpeechError(f"espeak-ng failed: {exc}") from exc
    if done.returncode != 0 or not done.stdout:
        raise SpeechError(f"espeak-ng failed ({done.returncode})")
    with wave.open(io.BytesIO(done.stdout)) as piece:
        if (piece.getnchannels(), piece.getsampwidth(), piece.getframerate()) != (1, WIDTH, RATE):
            raise SpeechError("espeak-ng wrote an unexpected audio format")
        # Written to a pipe, the header's length is a placeholder: read to the end.
        pcm: bytes = piece.readframes(piece.getnframes())
        return pcm


def _spoken_within(text: str, voice: str, seconds: float) -> bytes:
    """`text` spoken in at most `seconds` (faster if it must, cut if even that fails)."""
    limit = round(seconds * RATE) * WIDTH
    sound = _speak(text, voice)
    if len(sound) > limit and limit > 0:
        faster = math.ceil(WORDS_PER_MINUTE * len(sound) / limit * 1.1)
        sound = _speak(text, voice, min(MAX_WORDS_PER_MINUTE, faster))
    return sound[:limit]


def _fitted(sound: bytes, seconds: float) -> bytes:
    """`sound` followed by silence up to exactly `seconds`."""
    frames = round(seconds * RATE) * WIDTH
    return sound[:frames] + b"\x00" * max(0, frames - len(sound))


def turn_length(turn: Turn) -> float:
    """How long the turn lasts in the recording (and in the relay's transcript)."""
    if turn.speaker == "machine":  # not heard by the relay: the carrier's own pace
        return turn_seconds("prospect", turn.text) + MACHINE_BEEP_TURN_S
    return turn_seconds(turn.speaker, turn.text)


def _audio(turn: Turn) -> bytes:
    seconds = turn_length(turn)
    if turn.speaker == "keypad":
        return _fitted(_tones(DTMF.get(turn.text, DTMF["9"]), DTMF_S), seconds)
    if turn.speaker == "machine":
        words = seconds - MACHINE_BEEP_TURN_S
        greeting = _fitted(_spoken_within(turn.text, VOICES["machine"], words), words)
        beep = _fitted(_silence(0.2) + _tones((1000,), BEEP_S), MACHINE_BEEP_TURN_S)
        return greeting + beep
    voice = VOICES.get(turn.speaker, VOICES["prospect"])
    return _fitted(_spoken_within(turn.text, voice, seconds), seconds)


def synthesise(turns: list[Turn], *, max_seconds: float | None = None) -> Recording:
    """The conversation as one WAV and when each turn starts and ends in it; cut at
    `max_seconds` (a call's time limit), dropping turns that start after it. Blocking
    (it runs espeak-ng): call it in a thread. Raises SpeechError without espeak-ng."""
    frames = bytearray()
    timeline: list[TimedTurn] = []
    limit = None if max_seconds is None else round(max_seconds * RATE) * WIDTH
    for turn in turns:
        if not turn.text.strip():
            continue
        start = len(frames)
        if limit is not None and start >= limit:
            break
        frames += _audio(turn)
        end = len(frames)
        if limit is not None:
            end = min(end, limit)
        timeline.append(
            TimedTurn(turn.speaker, turn.text, start / WIDTH / RATE, end / WIDTH / RATE)
        )
    if limit is not None:
        del frames[limit:]
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(WIDTH)
        wav.setframerate(RATE)
        wav.writeframes(bytes(frames))
    return Recording(out.getvalue(), tuple(timeline), len(frames) / WIDTH / RATE)
