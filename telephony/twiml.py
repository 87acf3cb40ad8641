"""The TwiML a placed call runs: connect the callee to our voice agent.

`<Connect action=…><ConversationRelay url="wss://…/voice/relay?call=…&token=…">`:
Twilio does speech recognition and text-to-speech and exchanges text with our
websocket. The agent speaks first (the AI and recording disclosure), so there is no
`welcomeGreeting`. DTMF detection is on for the keypad opt-out (9).
"""

from __future__ import annotations

from xml.sax.saxutils import quoteattr

from telephony.twilio import TWIML_MAX_CHARS


def conversation_relay(
    *, relay_url: str, action_url: str, language: str = "en-US", parameters: dict[str, str]
) -> str:
    params = "".join(
        f"<Parameter name={quoteattr(k)} value={quoteattr(v)}/>" for k, v in parameters.items()
    )
    twiml = (
        '<?xml version="1.0" encoding="UTF-8"?><Response>'
        f"<Connect action={quoteattr(action_url)}>"
        f"<ConversationRelay url={quoteattr(relay_url)} language={quoteattr(language)}"
        ' interruptible="true" dtmfDetection="true" reportInputDuringAgentSpeech="none">'
        f"{params}</ConversationRelay></Connect></Response>"
    )
    if len(twiml) > TWIML_MAX_CHARS:
        raise ValueError("the call's TwiML is over Twilio's 4,000-character limit")
    return twiml


def relay_url_of(twiml: str) -> str | None:
    """The ConversationRelay websocket URL inside a TwiML document (the simulated
    carrier connects to it as Twilio would)."""
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(twiml)  # noqa: S314 - our own TwiML, never user input
    except ET.ParseError:
        return None
    node = root.find("./Connect/ConversationRelay")
    return None if node is None else node.get("url")
