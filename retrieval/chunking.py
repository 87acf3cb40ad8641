"""Transcript segments → chunks: one turn each, embedded on its own.

A hit must point at the words that matched, so a chunk is one turn (a turn longer than
`max_words` words is cut into parts of at most `max_words`, all citing the same segment,
so nothing is lost to the embedding model's input limit of 256 word pieces). Its `text`
(what full-text search indexes and a hit quotes) is the turn alone; its `embed_text`
(what the embedding model reads) is the `context_turns` turns before it and the turn
itself. By default that is the turn alone: with the turn before it in the same vector
(so "Yes, Thursday works" would carry the question it answers), the small sentence
model placed every turn nearer its neighbour's topic than its own, and on the labelled
set's tuning half (bench/search_quality.py) nDCG@10 fell from 0.56 to 0.51 and the
first hit was relevant for 16 queries in 21 instead of 14. Changing it needs every call
re-indexed (`klosesales reindex --all`): rows do not record their context.

Boilerplate — the agent's opening with its AI / recording disclosure and its sign-off —
is left out (`retrieval.boilerplate`): it is said on every call and would otherwise be
what every search finds first.

Each chunk records its segment `seq` (first and last are the same), its speaker, when
the turn started and how far that is (whole seconds) into the call, counted from the
call's first segment. Pure: no database, no clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from retrieval.boilerplate import searchable_text

CONTEXT_TURNS = 0
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
    text: str  # the turn alone: indexed for full text, quoted by a hit
    embed_text: str  # the turns before it and the turn: what is embedded


@dataclass(frozen=True)
class _Turn:
    seq: int
    speaker: str
    words: tuple[str, ...]
    started_at: datetime

    def line(self) -> str:
        return f"{self.speaker.capitalize()}: {' '.join(self.words)}"


def _turns(segments: Sequence[SegmentLike], max_words: int) -> list[_Turn]:
    """The searchable part of each segment (`retrieval.boilerplate`), in `seq` order,
    each cut into parts of at most `max_words` (none for a segment with nothing left)."""
    turns: list[_Turn] = []
    for segment in sorted(segments, key=lambda s: s.seq):
        words = searchable_text(segment.speaker, segment.text).split()
        for start in range(0, len(words), max_words):
            part = tuple(words[start : start + max_words])
            turns.append(_Turn(segment.seq, segment.speaker, part, segment.started_at))
    return turns


def chunk_segments(
    segments: Sequence[SegmentLike],
    *,
    context_turns: int = CONTEXT_TURNS,
    max_words: int = MAX_WORDS,
) -> list[Chunk]:
    """The chunks of one call's transcript, one per searchable turn (part), in order
    (none when nothing is left to search)."""
    if context_turns < 0 or max_words < 1:
        raise ValueError("context needs 0 or more turns and a chunk at least 1 word")
    if not segments:
        return []
    call_start = min(s.started_at for s in segments)
    turns = _turns(segments, max_words)
    chunks: list[Chunk] = []
    for i, turn in enumerate(turns):
        window = turns[max(0, i - context_turns) : i + 1]
        chunks.append(
            Chunk(
                seq=i,
                first_segment=turn.seq,
                last_segment=turn.seq,
                speakers=(turn.speaker,),
                started_at=turn.started_at,
                offset_s=max(0, int((turn.started_at - call_start).total_seconds())),
                text=turn.line(),
                embed_text="\n".join(t.line() for t in window),
            )
        )
    return chunks


def clock(offset_s: int) -> str:
    """An offset into a call as "mm:ss" ("h:mm:ss" from an hour on)."""
    hours, rest = divmod(max(0, offset_s), 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes:02d}:{seconds:02d}"
