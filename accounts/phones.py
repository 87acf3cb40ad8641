"""Mobile numbers: parsed and normalised to E.164 with `phonenumbers`."""

from __future__ import annotations

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType

from core.errors import KloseError

# A US/CA number cannot be told apart from a landline by its digits: both are allowed.
MOBILE_TYPES = frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE})


class InvalidMobile(KloseError, ValueError):
    pass


def normalise_mobile(raw: str, *, default_region: str | None = None) -> str:
    """'+1 (415) 555-2671' → '+14155552671'; refuses what is not a valid mobile."""
    text = (raw or "").strip()
    if not text:
        raise InvalidMobile("Enter your mobile number.")
    if len(text) > 30:
        raise InvalidMobile("That is not a phone number.")
    try:
        number = phonenumbers.parse(text, default_region)
    except NumberParseException:
        raise InvalidMobile(
            "That is not a phone number: use the international format, e.g. +1 415 555 2671."
        ) from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidMobile("That phone number is not valid: check the country code and digits.")
    if phonenumbers.number_type(number) not in MOBILE_TYPES:
        raise InvalidMobile("That is not a mobile number: codes are sent by text message.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def mask(e164: str) -> str:
    """'+14155552671' → '+1•••••••71' (enough to recognise, not to dial)."""
    if len(e164) < 6:
        return "•" * len(e164)
    try:
        country: int | None = phonenumbers.parse(e164).country_code
    except NumberParseException:
        country = None
    prefix = f"+{country}" if country else e164[:2]
    return prefix + "•" * (len(e164) - len(prefix) - 2) + e164[-2:]
