"""Telephony: contacts and consent, do-not-call lists, the compliance gate before every
dial (telephony/compliance.py), and call attempts. Placing calls, the voice agent,
Twilio callbacks and the simulated carrier come later."""
