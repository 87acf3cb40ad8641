"""`X-Twilio-Signature` goes through the `twilio` SDK's `RequestValidator`, both ways.

The vectors are produced by the SDK itself (`RequestValidator.compute_signature`), plus
the one in Twilio's security documentation (token 12345), so our wrapper can neither
drift from the SDK nor from Twilio.
"""

from __future__ import annotations

import pytest
from multidict import MultiDict
from twilio.request_validator import RequestValidator

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
DOCUMENTED = "RSOYDt4T1cUTdK1PDd93/VVr8B8="  # Twilio's docs, for URL + PARAMS + 12345
SDK = RequestValidator(TOKEN)


def test_the_sdk_and_the_documented_vector_agree_with_us() -> None:
    assert SDK.compute_signature(URL, PARAMS) == DOCUMENTED
    assert signature.compute(URL, PARAMS, TOKEN) == DOCUMENTED
    assert signature.verify(URL, PARAMS, DOCUMENTED, TOKEN)


def test_compute_and_verify_are_the_sdks(monkeypatch: pytest.MonkeyPatch) -> None:
    """No signing code of our own: both directions call `RequestValidator`."""
    seen: list[str] = []
    real_compute = RequestValidator.compute_signature

    def spy(self: RequestValidator, uri: str, params: object, algorithm: object = None) -> str:
        seen.append(uri)
        return str(real_compute(self, uri, params, algorithm))

    with_port = URL.replace(".com/", ".com:443/")
    signed_with_port = SDK.compute_signature(with_port, PARAMS)
    monkeypatch.setattr(RequestValidator, "compute_signature", spy)
    header = signature.compute(URL, PARAMS, TOKEN)
    assert seen == [URL]
    # A signature of the URL as received: one SDK signature settles it.
    assert signature.verify(URL, PARAMS, header, TOKEN)
    assert seen[1:] == [URL]
    # Any other goes to validate(), which tries the URL without and with the default
    # port (Twilio signed with the explicit port here).
    assert signature.verify(URL, PARAMS, signed_with_port, TOKEN)
    assert seen[2:] == [URL, URL, with_port]


def test_param_order_does_not_matter() -> None:
    shuffled = list(reversed(list(PARAMS.items())))
    assert signature.compute(URL, shuffled, TOKEN) == DOCUMENTED


def test_repeated_names_sign_every_value_as_the_sdk_does() -> None:
    pairs = [("Sid", "CA123"), ("SidAccount", "AC123"), ("Digits", "5678"), ("Digits", "1234")]
    expected = SDK.compute_signature(URL, MultiDict(pairs))
    assert signature.compute(URL, pairs, TOKEN) == expected
    assert signature.verify(URL, pairs, expected, TOKEN)
    # Dropping one of the repeated values is a different request.
    assert not signature.verify(URL, pairs[:3], expected, TOKEN)


def test_changed_param_fails() -> None:
    assert not signature.verify(URL, {**PARAMS, "Digits": "1235"}, DOCUMENTED, TOKEN)
    assert not signature.verify(URL, {**PARAMS, "Extra": "x"}, DOCUMENTED, TOKEN)
    without = {k: v for k, v in PARAMS.items() if k != "To"}
    assert not signature.verify(URL, without, DOCUMENTED, TOKEN)


def test_different_url_fails() -> None:
    assert not signature.verify(URL.replace("foo=1", "foo=2"), PARAMS, DOCUMENTED, TOKEN)
    evil = "https://evil.test/myapp.php?foo=1&bar=2"
    assert not signature.verify(evil, PARAMS, DOCUMENTED, TOKEN)
    assert not signature.verify(URL.replace("https", "http"), PARAMS, DOCUMENTED, TOKEN)


def test_wrong_token_missing_or_garbage_header_fails() -> None:
    assert not signature.verify(URL, PARAMS, DOCUMENTED, "54321")
    assert not signature.verify(URL, PARAMS, None, TOKEN)
    assert not signature.verify(URL, PARAMS, "", TOKEN)
    assert not signature.verify(URL, PARAMS, "not base64 é", TOKEN)
    assert not signature.verify(URL, PARAMS, DOCUMENTED, "")


@pytest.mark.parametrize(
    ("received", "signed"),
    [
        (URL, URL.replace(".com/", ".com:443/")),  # Twilio signed with the explicit port
        (URL.replace(".com/", ".com:443/"), URL),  # … or without it
        (URL.replace("https", "http"), URL.replace("https", "http").replace(".com/", ".com:80/")),
    ],
)
def test_port_variants_are_accepted(received: str, signed: str) -> None:
    assert signature.verify(received, PARAMS, SDK.compute_signature(signed, PARAMS), TOKEN)


def test_a_relay_handshake_signs_the_wss_url_alone() -> None:
    url = "wss://klose.example/voice/relay?call=7&token=abc"
    header = SDK.compute_signature(url, {})
    assert signature.compute(url, None, TOKEN) == header
    assert signature.verify(url, None, header, TOKEN)
    assert not signature.verify(url.replace("call=7", "call=8"), None, header, TOKEN)
    assert not signature.verify(url.replace("wss://", "https://"), None, header, TOKEN)


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


@pytest.mark.parametrize(
    ("base", "expected"),
    [
        ("https://klose.example/", "wss://klose.example"),
        ("http://127.0.0.1:8000", "ws://127.0.0.1:8000"),
        ("https://t.ngrok.app/app", "wss://t.ngrok.app/app"),
    ],
)
def test_websocket_base(base: str, expected: str) -> None:
    assert signature.websocket_base(base) == expected


def test_websocket_base_refuses_other_schemes() -> None:
    with pytest.raises(ValueError, match="PUBLIC_BASE_URL"):
        signature.websocket_base("ftp://klose.example")


def test_signed_against_public_url_not_host_header() -> None:
    public = signature.public_url("https://klose.example", "/webhooks/twilio/status", "c=1")
    header = SDK.compute_signature(public, PARAMS)
    assert signature.verify(public, PARAMS, header, TOKEN)
    internal = "http://127.0.0.1:8000/webhooks/twilio/status?c=1"
    assert not signature.verify(internal, PARAMS, header, TOKEN)
