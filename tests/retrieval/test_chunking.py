"""Chunking is pure: windows of turns with one turn of overlap, word limits, offsets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from retrieval.chunking import Chunk, chunk_segments, clock

START = datetime(2026, 11, 18, 17, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Seg:
    seq: int
    speaker: str
    text: str
    started_at: datetime


def conversation(texts: list[str], *, first_seq: int = 0, every_s: int = 7) -> list[Seg]:
    speakers = ("agent", "prospect")
    return [
        Seg(first_seq + i, speakers[i % 2], t, START + timedelta(seconds=every_s * i))
        for i, t in enumerate(texts)
    ]


def covered(chunks: list[Chunk]) -> set[int]:
    return {s for c in chunks for s in range(c.first_segment, c.last_segment + 1)}


def test_short_turns_make_six_turn_windows_overlapping_by_one() -> None:
    segments = conversation([f"turn number {i}" for i in range(14)])
    chunks = chunk_segments(segments)
    assert [(c.first_segment, c.last_segment) for c in chunks] == [(0, 5), (5, 10), (10, 13)]
    assert [c.seq for c in chunks] == [0, 1, 2]
    assert [c.offset_s for c in chunks] == [0, 35, 70]
    assert chunks[1].started_at == START + timedelta(seconds=35)
    assert chunks[0].speakers == ("agent", "prospect")
    assert chunks[0].text.splitlines()[:2] == ["Agent: turn number 0", "Prospect: turn number 1"]
    # The overlapping turn is in both windows.
    assert "turn number 5" in chunks[0].text and "turn number 5" in chunks[1].text
    assert covered(chunks) == set(range(14))


def test_the_word_limit_closes_a_window_early() -> None:
    fifty = " ".join(["word"] * 50)
    chunks = chunk_segments(conversation([fifty] * 5))
    assert [(c.first_segment, c.last_segment) for c in chunks] == [(0, 1), (1, 2), (2, 3), (3, 4)]
    assert all(len(c.text.split()) - 2 <= 120 for c in chunks)  # minus the speaker labels


def test_a_turn_longer_than_the_limit_is_cut_into_parts_citing_the_same_segment() -> None:
    words = [f"w{i}" for i in range(300)]
    segments = [Seg(3, "prospect", " ".join(words), START), Seg(4, "agent", "I see.", START)]
    chunks = chunk_segments(segments)
    assert [(c.first_segment, c.last_segment) for c in chunks] == [(3, 3), (3, 3), (3, 4)]
    said = [w for c in chunks for w in c.text.replace("Prospect:", "").split() if w.startswith("w")]
    assert said == words  # every word kept once, in order


def test_segments_are_taken_in_seq_order_and_empty_ones_skipped() -> None:
    segments = conversation(["hello", "   ", "how much is it", "forty dollars"])
    chunks = chunk_segments(list(reversed(segments)))
    assert len(chunks) == 1
    assert chunks[0].text == "Agent: hello\nAgent: how much is it\nProspect: forty dollars"
    assert (chunks[0].first_segment, chunks[0].last_segment) == (0, 3)


def test_offsets_count_from_the_calls_first_segment() -> None:
    segments = conversation([f"t{i}" for i in range(8)], first_seq=10, every_s=20)
    chunks = chunk_segments(segments, max_turns=3)
    assert [(c.first_segment, c.offset_s) for c in chunks] == [
        (10, 0),
        (12, 40),
        (14, 80),
        (16, 120),
    ]


def test_nothing_to_chunk() -> None:
    assert chunk_segments([]) == []
    assert chunk_segments(conversation(["", " "])) == []


def test_windows_need_room_for_an_overlap() -> None:
    with pytest.raises(ValueError, match="at least 2 turns"):
        chunk_segments(conversation(["a"]), max_turns=1)


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(0, "00:00"), (5, "00:05"), (754, "12:34"), (3661, "1:01:01"), (-3, "00:00")],
)
def test_clock(seconds: int, shown: str) -> None:
    assert clock(seconds) == shown
