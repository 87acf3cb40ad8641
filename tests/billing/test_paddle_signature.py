"""Paddle-Signature verification: HMAC-SHA256 over `ts:raw body`, rotation, tolerance."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from billing.paddle.signature import SignatureError, sign, verify

SECRET = "pdl_ntfset_01_secret"
BODY = b'{"event_id":"evt_1","event_type":"transaction.completed","data":{}}'
NOW = 1_800_000_000


def test_signature_matches_paddles_documented_construction() -> None:
    header = sign(BODY, [SECRET], ts=NOW)
    expected = hmac.new(SECRET.encode(), f"{NOW}:".encode() + BODY, hashlib.sha256).hexdigest()
    assert header == f"ts={NOW};h1={expected}"
    assert verify(header, BODY, SECRET, tolerance_s=5, now=NOW) == NOW


def test_any_h1_may_match_during_secret_rotation() -> None:
    header = sign(BODY, ["old-secret", SECRET], ts=NOW)
    assert header.count("h1=") == 2
    assert verify(header, BODY, SECRET, tolerance_s=5, now=NOW) == NOW
    with pytest.raises(SignatureError, match="does not match"):
        verify(header, BODY, "a-third-secret", tolerance_s=5, now=NOW)


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "missing"),
        ("", "missing"),
        ("garbage", "malformed"),
        (f"ts={NOW}", "at least one h1"),
        ("h1=abc", "one ts"),
        (f"ts={NOW};ts={NOW};h1=abc", "one ts"),
        ("ts=soon;h1=abc", "not a unix time"),
    ],
)
def test_malformed_headers_are_refused(header: str | None, reason: str) -> None:
    with pytest.raises(SignatureError, match=reason):
        verify(header, BODY, SECRET, tolerance_s=5, now=NOW)


def test_a_changed_body_fails() -> None:
    header = sign(BODY, [SECRET], ts=NOW)
    with pytest.raises(SignatureError, match="does not match"):
        verify(header, BODY.replace(b"evt_1", b"evt_2"), SECRET, tolerance_s=5, now=NOW)


@pytest.mark.parametrize("skew", [-301, 301])
def test_stale_or_future_timestamps_are_refused(skew: int) -> None:
    header = sign(BODY, [SECRET], ts=NOW + skew)
    with pytest.raises(SignatureError, match="off"):
        verify(header, BODY, SECRET, tolerance_s=300, now=NOW)


def test_inside_the_tolerance_window_passes() -> None:
    header = sign(BODY, [SECRET], ts=NOW - 299)
    assert verify(header, BODY, SECRET, tolerance_s=300, now=NOW) == NOW - 299
