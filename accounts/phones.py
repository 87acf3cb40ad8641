"""Mobile numbers: parsed and normalised to E.164 with `phonenumbers`.

A number typed without a "+" is read in a national format of `default_region`: the
country picked on the sign-up form, or the user's own country (their mobile's) when
they invite someone or change their number. "(415) 555-0188" is a US number for a
US user; "07911 123456" a UK one for a UK user.
"""

from __future__ import annotations

import functools

import phonenumbers
import pycountry
from phonenumbers import NumberParseException, PhoneNumberType

from core.errors import KloseError
from core.timezones import DEFAULT_REGION

# A US/CA number cannot be told apart from a landline by its digits: both are allowed.
MOBILE_TYPES = frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE})


class InvalidMobile(KloseError, ValueError):
    pass


# Regions phonenumbers dials that ISO 3166 (pycountry) does not list.
_EXTRA_NAMES = {"AC": "Ascension Island", "TA": "Tristan da Cunha", "XK": "Kosovo"}


@functools.cache
def country_names() -> dict[str, str]:
    """Region → its common English name, for every region phonenumbers knows."""
    names = {}
    for region in phonenumbers.SUPPORTED_REGIONS:
        found = pycountry.countries.get(alpha_2=region)
        name = getattr(found, "common_name", None) or getattr(found, "name", None)
        names[region] = str(name or _EXTRA_NAMES.get(region, region))
    return names


@functools.cache
def country_choices() -> tuple[tuple[str, str], ...]:
    """(region, "United Kingdom (+44)") for every country phonenumbers knows, by name."""
    out = [
        (region, f"{name} (+{phonenumbers.country_code_for_region(region)})")
        for region, name in country_names().items()
    ]
    return tuple(sorted(out, key=lambda choice: choice[1]))


def check_region(raw: str | None) -> str:
    """A country picked on a form ("gb", "GB") as phonenumbers names it; "" → the
    default (US). InvalidMobile for a code that names no country."""
    region = (raw or "").strip().upper() or DEFAULT_REGION
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise InvalidMobile("Pick your country from the list.")
    return region


def normalise_mobile(raw: str, *, default_region: str | None = None) -> str:
    """'+1 (415) 555-2671' → '+14155552671'; '(415) 555-2671' too with the default
    region "US", '07911 123456' → '+447911123456' with "GB". Refuses what is not a
    valid mobile, saying which country a national number was read as."""
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
    too_short = phonenumbers.ValidationResult.TOO_SHORT
    if phonenumbers.is_possible_number_with_reason(number) == too_short:
        raise InvalidMobile(
            "That is not a phone number: it is too short. Include the area code, or use "
            "the international format, e.g. +1 415 555 2671."
        )
    if not phonenumbers.is_valid_number(number):
        if default_region and not text.startswith(("+", "00")):
            country = country_names().get(default_region, default_region)
            raise InvalidMobile(
                f"That is not a valid number in {country}: check the digits, or start "
                "with + and the country code if it is from another country."
            )
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


def region_from_languages(accept_language: str | None) -> str:
    """The country a browser's Accept-Language names first ("en-GB,en;q=0.9" → "GB"),
    to pre-select on the sign-up form; the default (US) when none is named."""
    for part in (accept_language or "").split(",")[:8]:
        tag = part.split(";")[0].strip()
        if "-" in tag:
            region = tag.rsplit("-", 1)[1].upper()
            if region in phonenumbers.SUPPORTED_REGIONS:
                return region
    return DEFAULT_REGION


def signup_countries(picked: str | None, accept_language: str | None) -> dict[str, object]:
    """What the sign-up form's country select needs: the choices and the one picked."""
    chosen = (picked or "").strip().upper()
    if chosen not in phonenumbers.SUPPORTED_REGIONS:
        chosen = region_from_languages(accept_language)
    return {"countries": country_choices(), "picked_country": chosen}


# Built once, when the module is imported: loading pycountry's database on the first
# sign-up page would hold up the event loop for ~100 ms.
country_choices()
