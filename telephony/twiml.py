"""The TwiML this app answers and places calls with, built by the `twilio` SDK's
`VoiceResponse` (`twilio.twiml.voice_response`), never by string formatting.

- `conversation_relay`: what a placed call runs. `<Connect action=…><ConversationRelay
  url="wss://…/voice/relay?call=…&token=…">`: Twilio does speech recognition and
  text-to-speech and exchanges text with our websocket. The agent speaks first (the AI
  and recording disclosure), so there is no `welcomeGreeting`; DTMF detection is on
  for the keypad opt-out (9).
- `dial`: hand the callee to a person (`<Dial callerId=…><Number>…`), what a
  `<Connect action>` answer returns when the agent ends the session with a hand-off.
- `hangup`, `empty`: end the call; acknowledge a callback.

Every document starts with the XML declaration; `conversation_relay` refuses one over
Twilio's 4,000-character cap on inline TwiML.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from twilio.twiml.voice_response import VoiceResponse

from telephony.twilio import TWIML_MAX_CHARS


def conversation_relay(
    *, relay_url: str, action_url: str, language: str = "en-US", parameters: dict[str, str]
) -> str:
    """Connect the call to our voice agent's websocket; `parameters` reach the agent in
    the `setup` message's `customParameters`."""
    response = VoiceResponse()
    connect = response.connect(action=action_url)
    relay = connect.conversation_relay(
        url=relay_url,
        language=language,
        interruptible=True,
        dtmf_detection=True,
        report_input_during_agent_speech="none",
    )
    for name, value in parameters.items():
        relay.parameter(name=name, value=value)
    twiml = str(response.to_xml())
    if len(twiml) > TWIML_MAX_CHARS:
        raise ValueError("the call's TwiML is over Twilio's 4,000-character limit")
    return twiml


def dial(
    number_e164: str,
    *,
    caller_id: str,
    action_url: str | None = None,
    time_limit_s: int | None = None,
    ring_timeout_s: int | None = None,
) -> str:
    """Hand the call to `number_e164` (a person), showing `caller_id` (our shared
    number). `time_limit_s` caps the bridged leg, as the call's own limit caps it."""
    response = VoiceResponse()
    leg = response.dial(
        action=action_url,
        method="POST" if action_url else None,
        caller_id=caller_id,
        time_limit=time_limit_s,
        timeout=ring_timeout_s,
    )
    leg.number(number_e164)
    return str(response.to_xml())


def hangup() -> str:
    """End the call."""
    response = VoiceResponse()
    response.hangup()
    return str(response.to_xml())


def empty() -> str:
    """An empty `<Response/>`: the acknowledgement of a status, AMD or recording
    callback (Twilio does nothing with it)."""
    return str(VoiceResponse().to_xml())


def relay_url_of(twiml: str) -> str | None:
    """The ConversationRelay websocket URL inside a TwiML document (the simulated
    carrier connects to it as Twilio would)."""
    try:
        root = ET.fromstring(twiml)  # noqa: S314 - our own TwiML, never user input
    except ET.ParseError:
        return None
    node = root.find("./Connect/ConversationRelay")
    return None if node is None else node.get("url")
