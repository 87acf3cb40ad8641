"""Transcript segments → chunks: windows of consecutive turns with a one-turn overlap.

A window grows turn by turn until it holds `max_turns` turns or the next turn would
take it past `max_words` words; the next window starts again at the last turn of the
previous one, so an answer split across a window boundary is still found whole in one
of them. A single turn longer than `max_words` is cut into parts of at most `max_words`
words (all citing the same segment), so nothing is lost to the embedding model's input
limit (256 word pieces for all-MiniLM-L6-v2).

Each chunk records its first and last segment `seq`, its speakers (in order of first
appearance), when its first turn started and how far that is (whole seconds) into the
call, counted from the call's first segment. Pure: no database, no clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

MAX_TURNS = 6
MAX_WORDS = 120


class SegmentLike(Protocol):
    """What chunking needs of a transcript segment (`telephony.models.TranscriptSegment`)."""

    @property
    def seq(self) -> int: ...

    @property
    def speaker(self) -> str: ...

    @property
    def text(self) -> str: ...

    @property
    def started_at(self) -> datetime: ...


@dataclass(frozen=True)
class Chunk:
    seq: int  # 0, 1, 2 … within the call
    first_segment: int
    last_segment: int
    speakers: tuple[str, ...]
    started_at: datetime
    offset_s: int
    text: str


@dataclass(frozen=True)
class _Turn:
    seq: int
    speaker: str
    words: tuple[str, ...]
    started_at: datetime

    def line(self) -> str:
        return f"{self.speaker.capitalize()}: {' '.join(self.words)}"


def _turns(segments: Sequence[SegmentLike], max_words: int) -> list[_Turn]:
    """Non-empty segments in `seq` order, each cut into parts of at most `max_words`."""
    turns: list[_Turn] = []
    for segment in sorted(segments, key=lambda s: s.seq):
        words = segment.text.split()
        for start in range(0, len(words), max_words):
            part = tuple(words[start : start + max_words])
            turns.append(_Turn(segment.seq, segment.speaker, part, segment.started_at))
    return turns


def chunk_segments(
    segments: Sequence[SegmentLike], *, max_turns: int = MAX_TURNS, max_words: int = MAX_WORDS
) -> list[Chunk]:
    """The chunks of one call's transcript (none when it has no words)."""
    if max_turns < 2 or max_words < 1:
        raise ValueError("a window needs at least 2 turns and 1 word")
    if not segments:
        return []
    call_start = min(s.started_at for s in segments)
    turns = _turns(segments, max_words)
    chunks: list[Chunk] = []
    start = 0
    while start < len(turns):
        end, words = start + 1, len(turns[start].words)
        while (
            end < len(turns)
            and end - start < max_turns
            and words + len(turns[end].words) <= max_words
        ):
            words += len(turns[end].words)
            end += 1
        window = turns[start:end]
        first = window[0]
        chunks.append(
            Chunk(
                seq=len(chunks),
                first_segment=first.seq,
                last_segment=window[-1].seq,
                speakers=tuple(dict.fromkeys(t.speaker for t in window)),
                started_at=first.started_at,
                offset_s=max(0, int((first.started_at - call_start).total_seconds())),
                text="\n".join(t.line() for t in window),
            )
        )
        if end == len(turns):
            break
        # One turn of overlap, unless the window was a single turn (then move on).
        start = end - 1 if end - start > 1 else end
    return chunks


def clock(offset_s: int) -> str:
    """An offset into a call as "mm:ss" ("h:mm:ss" from an hour on)."""
    hours, rest = divmod(max(0, offset_s), 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes:02d}:{seconds:02d}"
