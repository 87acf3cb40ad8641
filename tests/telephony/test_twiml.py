"""The TwiML documents, built by the `twilio` SDK's `VoiceResponse`: read back as XML,
the way Twilio reads them."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from telephony import twiml
from telephony.twilio import TWIML_MAX_CHARS

DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'
RELAY = "wss://klose.example/voice/relay?call=7b0c&token=ab12"
ACTION = "https://klose.example/webhooks/twilio/relay-ended?call=7b0c"


def _root(document: str) -> ET.Element:
    assert document.startswith(DECLARATION)
    return ET.fromstring(document.removeprefix(DECLARATION))  # noqa: S314 - our own output


def test_conversation_relay_connects_the_call_to_our_socket() -> None:
    document = twiml.conversation_relay(
        relay_url=RELAY, action_url=ACTION, parameters={"call_id": "7b0c", "odd": "<\"&'>"}
    )
    root = _root(document)
    assert root.tag == "Response"
    [connect] = list(root)
    assert (connect.tag, connect.get("action")) == ("Connect", ACTION)
    [relay] = list(connect)
    assert relay.tag == "ConversationRelay"
    assert relay.attrib == {
        "url": RELAY,  # the & survives escaping
        "language": "en-US",
        "interruptible": "true",
        "dtmfDetection": "true",  # the keypad opt-out
        "reportInputDuringAgentSpeech": "none",
    }
    assert "welcomeGreeting" not in relay.attrib  # the agent speaks first (disclosures)
    params = [(p.tag, p.get("name"), p.get("value")) for p in relay]
    assert params == [("Parameter", "call_id", "7b0c"), ("Parameter", "odd", "<\"&'>")]
    assert twiml.relay_url_of(document) == RELAY


def test_conversation_relay_refuses_twiml_over_twilios_cap() -> None:
    with pytest.raises(ValueError, match="4,000"):
        twiml.conversation_relay(
            relay_url=RELAY, action_url=ACTION, parameters={"x": "y" * TWIML_MAX_CHARS}
        )


def test_dial_hands_the_call_to_a_person() -> None:
    document = twiml.dial(
        "+14155550123",
        caller_id="+15005550006",
        action_url="https://klose.example/webhooks/twilio/dial-ended?call=1",
        time_limit_s=240,
        ring_timeout_s=20,
    )
    [dial] = list(_root(document))
    assert dial.tag == "Dial"
    assert dial.attrib == {
        "callerId": "+15005550006",
        "action": "https://klose.example/webhooks/twilio/dial-ended?call=1",
        "method": "POST",
        "timeLimit": "240",
        "timeout": "20",
    }
    [number] = list(dial)
    assert (number.tag, number.text) == ("Number", "+14155550123")


def test_dial_without_an_action_has_only_what_was_asked() -> None:
    [dial] = list(_root(twiml.dial("+14155550123", caller_id="+15005550006")))
    assert dial.attrib == {"callerId": "+15005550006"}


def test_hangup_and_empty() -> None:
    assert [e.tag for e in _root(twiml.hangup())] == ["Hangup"]
    empty = _root(twiml.empty())
    assert (empty.tag, list(empty)) == ("Response", [])


def test_relay_url_of_anything_else_is_none() -> None:
    assert twiml.relay_url_of(twiml.hangup()) is None
    assert twiml.relay_url_of("not xml") is None
