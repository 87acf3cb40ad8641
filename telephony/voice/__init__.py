"""The voice agent: the AI side of a call, spoken through Twilio ConversationRelay.

`brief` is what the rep asks the agent to do; `scripted` is the offline sales flow and
`openai_agent` the model-backed one (both behind `VoiceAgent`); `relay` is the
`/voice/relay` websocket that carries their words.
"""
