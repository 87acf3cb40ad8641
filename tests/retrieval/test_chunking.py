"""Chunking is pure: one chunk per turn, embedded with the turn before it; boilerplate
left out; word limits; offsets."""

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


def test_each_turn_is_a_chunk_embedded_on_its_own() -> None:
    segments = conversation([f"turn number {i}" for i in range(4)])
    chunks = chunk_segments(segments)
    assert [(c.first_segment, c.last_segment) for c in chunks] == [(0, 0), (1, 1), (2, 2), (3, 3)]
    assert [c.seq for c in chunks] == [0, 1, 2, 3]
    assert [c.offset_s for c in chunks] == [0, 7, 14, 21]
    assert chunks[1].started_at == START + timedelta(seconds=7)
    assert [c.speakers for c in chunks[:2]] == [("agent",), ("prospect",)]
    assert chunks[1].text == "Prospect: turn number 1"
    assert [c.embed_text for c in chunks] == [c.text for c in chunks]  # the turn alone
    # With context asked for, the turns before it too.
    context = chunk_segments(segments, context_turns=1)
    assert context[0].embed_text == "Agent: turn number 0"
    assert context[1].embed_text == "Agent: turn number 0\nProspect: turn number 1"


def test_the_agents_disclosure_and_sign_off_are_not_indexed_its_purpose_is() -> None:
    segments = conversation(
        [
            "Hi Dana, this is an AI assistant calling on behalf of Sam at Acme."
            " This call is recorded. Sam asked me to call about our spring pricing.",
            "Is this call recorded? Then what's the pricing?",
            "Eighty five a seat. Thanks so much for your time. Goodbye.",
            "Bye.",
            "Thank you for your time, goodbye!",
        ]
    )
    chunks = chunk_segments(segments)
    assert [c.text for c in chunks] == [
        "Agent: Sam asked me to call about our spring pricing.",  # the call's own purpose
        "Prospect: Is this call recorded? Then what's the pricing?",  # the prospect's, kept
        "Agent: Eighty five a seat.",  # the sign-off cut off, the answer kept
        "Prospect: Bye.",
    ]
    assert [c.first_segment for c in chunks] == [0, 1, 2, 3]
    assert chunks[1].offset_s == 7  # still counted from the call's first segment
    indexed = " ".join(c.embed_text for c in chunks)
    assert "AI assistant" not in indexed and "is recorded." not in indexed


def test_a_turn_longer_than_the_limit_is_cut_into_parts_citing_the_same_segment() -> None:
    words = [f"w{i}" for i in range(300)]
    segments = [Seg(3, "prospect", " ".join(words), START), Seg(4, "agent", "I see.", START)]
    chunks = chunk_segments(segments)
    assert [(c.first_segment, c.last_segment) for c in chunks] == [(3, 3), (3, 3), (3, 3), (4, 4)]
    assert all(len(c.text.split()) - 1 <= 120 for c in chunks)  # minus the speaker label
    said = [w for c in chunks for w in c.text.replace("Prospect:", "").split() if w.startswith("w")]
    assert said == words  # every word kept once, in order


def test_segments_are_taken_in_seq_order_and_empty_ones_skipped() -> None:
    segments = conversation(["hello", "   ", "how much is it", "forty dollars"])
    chunks = chunk_segments(list(reversed(segments)), context_turns=1)
    assert [c.text for c in chunks] == [
        "Agent: hello",
        "Agent: how much is it",
        "Prospect: forty dollars",
    ]
    assert chunks[1].embed_text == "Agent: hello\nAgent: how much is it"


def test_offsets_count_from_the_calls_first_segment() -> None:
    segments = conversation([f"t{i}" for i in range(3)], first_seq=10, every_s=20)
    chunks = chunk_segments(segments, context_turns=2)
    assert [(c.first_segment, c.offset_s) for c in chunks] == [(10, 0), (11, 20), (12, 40)]
    assert chunks[2].embed_text.count("\n") == 2


def test_nothing_to_chunk() -> None:
    assert chunk_segments([]) == []
    assert chunk_segments(conversation(["", " "])) == []


def test_context_cannot_be_negative() -> None:
    with pytest.raises(ValueError, match="0 or more turns"):
        chunk_segments(conversation(["a"]), context_turns=-1)


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(0, "00:00"), (5, "00:05"), (754, "12:34"), (3661, "1:01:01"), (-3, "00:00")],
)
def test_clock(seconds: int, shown: str) -> None:
    assert clock(seconds) == shown
