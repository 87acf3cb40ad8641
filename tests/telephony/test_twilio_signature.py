"""`X-Twilio-Signature` against the vectors in twilio-python's RequestValidator tests."""

from __future__ import annotations

import hmac

import pytest

from telephony.twilio import signature

TOKEN = "12345"
URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Digits": "1234",
    "From": "+14158675309",
    "To": "+18005551212",
    "Caller": "+14158675309",
}
EXPECTED = "RSOYDt4T1cUTdK1PDd93/VVr8B8="

BODY = '{"property": "value", "boolean": true}'
BODY_HASH = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"
BODY_SIGNATURE = "a9nBmqA0ju/hNViExpshrM61xv4="


def test_documented_vector() -> None:
    assert signature.compute(URL, PARAMS, TOKEN) == EXPECTED
    assert signature.verify(URL, PARAMS, EXPECTED, TOKEN)


def test_signing_string_sorts_params_by_name_without_separators() -> None:
    assert signature.signing_string("https://x.test/cb", {"b": "2", "a": "1", "C": "3"}) == (
        "https://x.test/cbC3a1b2"
    )


def test_param_order_does_not_matter() -> None:
    shuffled = list(reversed(list(PARAMS.items())))
    assert signature.compute(URL, shuffled, TOKEN) == EXPECTED


def test_repeated_names_match_twilio_python() -> None:
    pairs = [("Sid", "CA123"), ("SidAccount", "AC123"), ("Digits", "5678"), ("Digits", "1234")]
    assert signature.compute(URL, pairs, TOKEN) == "IK+Dwps556ElfBT0I3Rgjkr1wJU="


def test_changed_param_fails() -> None:
    assert not signature.verify(URL, {**PARAMS, "Digits": "1235"}, EXPECTED, TOKEN)
    assert not signature.verify(URL, {**PARAMS, "Extra": "x"}, EXPECTED, TOKEN)
    without = {k: v for k, v in PARAMS.items() if k != "To"}
    assert not signature.verify(URL, without, EXPECTED, TOKEN)


def test_different_url_fails() -> None:
    assert not signature.verify(URL.replace("foo=1", "foo=2"), PARAMS, EXPECTED, TOKEN)
    assert not signature.verify("https://evil.test/myapp.php?foo=1&bar=2", PARAMS, EXPECTED, TOKEN)
    assert not signature.verify(URL.replace("https", "http"), PARAMS, EXPECTED, TOKEN)


def test_wrong_token_missing_or_garbage_header_fails() -> None:
    assert not signature.verify(URL, PARAMS, EXPECTED, "54321")
    assert not signature.verify(URL, PARAMS, None, TOKEN)
    assert not signature.verify(URL, PARAMS, "", TOKEN)
    assert not signature.verify(URL, PARAMS, "not base64 é", TOKEN)
    assert not signature.verify(URL, PARAMS, EXPECTED, "")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (URL.replace(".com", ".com:1234"), EXPECTED),  # https: port stripped
        (URL, "kvajT1Ptam85bY51eRf/AJRuM3w="),  # signed with :443
        (URL.replace("https", "http"), "0ZXoZLH/DfblKGATFgpif+LLRf4="),  # signed with :80
        (URL.replace(".com", ".com:1234").replace("https", "http"), "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="),
    ],
)
def test_port_variants_like_twilio_python(url: str, expected: str) -> None:
    assert signature.verify(url, PARAMS, expected, TOKEN)


def test_json_body_variant() -> None:
    assert signature.body_sha256(BODY) == BODY_HASH
    url = f"{URL}&bodySHA256={BODY_HASH}"
    assert signature.compute(url, None, TOKEN) == BODY_SIGNATURE
    assert signature.verify_json(url, BODY, BODY_SIGNATURE, TOKEN)
    assert signature.verify_json(url, BODY.encode(), BODY_SIGNATURE, TOKEN)
    # A changed body no longer matches the signed hash.
    assert not signature.verify_json(url, BODY.replace("true", "false"), BODY_SIGNATURE, TOKEN)
    # No hash in the URL: not a valid JSON-body request.
    assert not signature.verify_json(URL, BODY, signature.compute(URL, None, TOKEN), TOKEN)


def test_verify_uses_constant_time_compare(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    assert signature.verify(URL, PARAMS, EXPECTED, TOKEN)
    assert calls
    assert all(b == EXPECTED.encode() for _, b in calls)


@pytest.mark.parametrize(
    ("base", "path", "query", "expected"),
    [
        (
            "https://klose.example",
            "/webhooks/twilio/status",
            "",
            "https://klose.example/webhooks/twilio/status",
        ),
        (
            "https://klose.example/",
            "webhooks/x",
            "a=1&b=%2B1",
            "https://klose.example/webhooks/x?a=1&b=%2B1",
        ),
        ("https://t.ngrok.app/app", "/cb", "?call=7", "https://t.ngrok.app/app/cb?call=7"),
    ],
)
def test_public_url(base: str, path: str, query: str, expected: str) -> None:
    assert signature.public_url(base, path, query) == expected


def test_signed_against_public_url_not_host_header() -> None:
    public = signature.public_url("https://klose.example", "/webhooks/twilio/status", "c=1")
    header = signature.compute(public, PARAMS, TOKEN)
    assert signature.verify(public, PARAMS, header, TOKEN)
    internal = "http://127.0.0.1:8000/webhooks/twilio/status?c=1"
    assert not signature.verify(internal, PARAMS, header, TOKEN)
