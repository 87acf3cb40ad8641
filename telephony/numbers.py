"""Phone numbers of people we call: parsed with `phonenumbers`, stored as E.164.

`parse_phone` refuses, with a message fit for the rep, anything that cannot be dialled
safely: not a number, not a valid number, an extension, a premium-rate number, or a
number whose time zone is unknown (calling hours could not be checked).

`PhoneInfo` carries what the compliance gate needs to know about a number: every time
zone it may be in (`phonenumbers.timezone.time_zones_for_number`) and, for North
American numbers, the state or province of its area code. An area code (NPA) never
crosses a state line, so the state of any number in it is the area code's state; it is
read from `phonenumbers.geocoder`, which names it either directly ("Florida",
"Washington State") or after a city ("Miami, FL").
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import phonenumbers
import pycountry
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType

from core.errors import KloseError

DEFAULT_REGION = "US"
MAX_PHONE_CHARS = 40
UNKNOWN_ZONE = "Etc/Unknown"
# Numbers the platform never dials: the callee's time is unknown, or the call costs
# the caller a premium.
REFUSED_TYPES = {
    PhoneNumberType.PREMIUM_RATE: "a premium-rate number",
    PhoneNumberType.SHARED_COST: "a shared-cost number",
    PhoneNumberType.PAGER: "a pager number",
    PhoneNumberType.VOICEMAIL: "a voicemail-only number",
}
NANP_COUNTRY_CODE = 1

# Geocoder names that are not a subdivision's official name.
_NAME_ALIASES: dict[str, dict[str, str]] = {
    "US": {
        "washington state": "WA",
        "washington d.c.": "DC",
        "washington dc": "DC",
        "u.s. virgin islands": "VI",
    },
    "CA": {"british colombia": "BC", "quebec": "QC"},
}


class InvalidPhone(KloseError, ValueError):
    pass


@functools.cache
def _subdivisions(country: str) -> dict[str, str]:
    """Subdivision code without the country -> its name ('FL' -> 'Florida')."""
    prefix = f"{country}-"
    return {
        str(sub.code)[len(prefix) :]: str(sub.name)
        for sub in pycountry.subdivisions
        if str(sub.code).startswith(prefix)
    }


@functools.cache
def _subdivision_names(country: str) -> dict[str, str]:
    """Lower-case subdivision name -> its code without the country ('Florida' -> 'FL')."""
    names = {name.lower(): code for code, name in _subdivisions(country).items()}
    names.update(_NAME_ALIASES.get(country, {}))
    return names


@functools.cache
def _subdivision_codes(country: str) -> frozenset[str]:
    return frozenset(_subdivision_names(country).values())


def state_from_description(country: str, description: str) -> str | None:
    """'Miami, FL' or 'Florida' -> 'FL'; '' or an ambiguous name -> None."""
    text = description.strip()
    if not text:
        return None
    if "," in text:
        suffix = text.rsplit(",", 1)[1].strip().upper()
        if suffix in _subdivision_codes(country):
            return suffix
    return _subdivision_names(country).get(text.lower())


@dataclass(frozen=True)
class PhoneInfo:
    e164: str
    country: str | None  # ISO region of the number: "US", "CA", "PR", "GB"...
    time_zones: tuple[str, ...]  # empty when unknown
    area_code: str | None  # North American numbers only
    state: str | None  # the area code's state or province, e.g. "FL"
    place: str  # the geocoder's description, e.g. "Miami, FL" ("" when none)
    number_type: str

    @property
    def display(self) -> str:
        return format_phone(self.e164)

    @property
    def state_name(self) -> str | None:
        if self.state is None or self.country is None:
            return None
        return _subdivisions(self.country).get(self.state, self.state)


def _info(number: phonenumbers.PhoneNumber) -> PhoneInfo:
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    region = phonenumbers.region_code_for_number(number)
    # Loaded on first use: the geocoder's data takes ~0.5 s to import.
    from phonenumbers import geocoder
    from phonenumbers import timezone as pn_timezone

    zones = tuple(z for z in pn_timezone.time_zones_for_number(number) if z != UNKNOWN_ZONE)
    place = geocoder.description_for_number(number, "en")
    area_code: str | None = None
    state: str | None = None
    if number.country_code == NANP_COUNTRY_CODE:
        area_code = str(number.national_number)[:3]
        if region in ("US", "CA"):
            state = state_from_description(region, place)
    return PhoneInfo(
        e164=e164,
        country=region,
        time_zones=zones,
        area_code=area_code,
        state=state,
        place=place,
        number_type=PhoneNumberType.to_string(phonenumbers.number_type(number)),
    )


def parse_phone(raw: str, *, default_region: str | None = DEFAULT_REGION) -> PhoneInfo:
    """'(305) 555-0123' -> PhoneInfo('+13055550123', ...); refuses what cannot be dialled.

    Numbers without a '+' are read as numbers of `default_region` (the US by default).
    """
    text = (raw or "").strip()
    if not text:
        raise InvalidPhone("A phone number is required.")
    if len(text) > MAX_PHONE_CHARS:
        raise InvalidPhone(f"{text[:20]}… is too long to be a phone number.")
    try:
        number = phonenumbers.parse(text, default_region)
    except NumberParseException:
        raise InvalidPhone(
            f"{text!r} is not a phone number: use the international format, e.g. +1 415 555 2671."
        ) from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone(
            f"{text!r} is not a valid phone number: check the country code, area code "
            "and number of digits."
        )
    if number.extension:
        raise InvalidPhone(
            f"{text!r} has an extension ({number.extension}): calls cannot dial extensions; "
            "enter the main number only."
        )
    kind = phonenumbers.number_type(number)
    if kind in REFUSED_TYPES:
        raise InvalidPhone(f"{text!r} is {REFUSED_TYPES[kind]}, which is never called.")
    info = _info(number)
    if not info.time_zones:
        raise InvalidPhone(
            f"The time zone of {text!r} is unknown, so calling hours cannot be checked."
        )
    return info


def phone_info(e164: str) -> PhoneInfo:
    """What is known about a stored number, without refusing anything (the gate decides)."""
    try:
        number = phonenumbers.parse(e164, None)
    except NumberParseException:
        return PhoneInfo(e164, None, (), None, None, "", "UNKNOWN")
    return _info(number)


def is_dialable(e164: str) -> bool:
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(e164, None))
    except NumberParseException:
        return False


def format_phone(e164: str) -> str:
    """'+13055550123' -> '+1 305-555-0123' (the stored value when it does not parse)."""
    try:
        number = phonenumbers.parse(e164, None)
    except NumberParseException:
        return e164
    return phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)
