"""A person's own time: which zone they are in, and times shown in it.

* `zone_for_phone` — the default zone of a user: the zone of their mobile number
  (`phonenumbers.timezone`); a number spanning several zones (a US toll-free number, an
  Australian mobile) takes its country's most populous zone.
* `region_for_phone` — the country a number belongs to ("US", "GB"): the default
  region for numbers that person types in their national format.
* `resolve_zone` — what people type ("central time", "PT", "London", "new york",
  "America/Chicago", "UTC+5:30" is refused) → an IANA name, or `UnknownTimeZone`.
* `format_local` / `zone_abbr` — "Thu Dec 10, 2:00 PM PT": the moment in a zone,
  labelled with the zone's short name (US zones without the S/D, as people say them).

Pure functions over the standard library and `phonenumbers`; no database.
"""

from __future__ import annotations

import functools
import re
import zoneinfo
from datetime import UTC, date, datetime
from importlib import resources
from pathlib import Path
from typing import Final
from zoneinfo import ZoneInfo

import phonenumbers
from phonenumbers import NumberParseException
from phonenumbers import timezone as pn_timezone

from core.errors import KloseError

DEFAULT_ZONE: Final = "UTC"
DEFAULT_REGION: Final = "US"

# A number that spans zones: its country's most populous one.
_COUNTRY_ZONES: Final[dict[str, str]] = {
    "US": "America/New_York",
    "CA": "America/Toronto",
    "AU": "Australia/Sydney",
    "BR": "America/Sao_Paulo",
    "MX": "America/Mexico_City",
    "RU": "Europe/Moscow",
    "ID": "Asia/Jakarta",
    "CN": "Asia/Shanghai",
    "KZ": "Asia/Almaty",
    "AR": "America/Argentina/Buenos_Aires",
    "ES": "Europe/Madrid",
    "PT": "Europe/Lisbon",
    "NZ": "Pacific/Auckland",
    "CL": "America/Santiago",
    "EC": "America/Guayaquil",
    "MN": "Asia/Ulaanbaatar",
    "KI": "Pacific/Tarawa",
    "IE": "Europe/Dublin",
}
# Old names phonenumbers still returns, as the tz database now calls them.
_CANONICAL: Final[dict[str, str]] = {
    "Asia/Calcutta": "Asia/Kolkata",
    "Asia/Katmandu": "Asia/Kathmandu",
    "Asia/Saigon": "Asia/Ho_Chi_Minh",
    "Asia/Rangoon": "Asia/Yangon",
    "Europe/Kiev": "Europe/Kyiv",
}
# What people call zones (lower case, spaces squashed) → an IANA name.
_SPOKEN: Final[dict[str, str]] = {
    "pacific": "America/Los_Angeles",
    "pt": "America/Los_Angeles",
    "pst": "America/Los_Angeles",
    "pdt": "America/Los_Angeles",
    "mountain": "America/Denver",
    "mt": "America/Denver",
    "mst": "America/Denver",
    "mdt": "America/Denver",
    "arizona": "America/Phoenix",
    "central": "America/Chicago",
    "ct": "America/Chicago",
    "cst": "America/Chicago",
    "cdt": "America/Chicago",
    "eastern": "America/New_York",
    "et": "America/New_York",
    "est": "America/New_York",
    "edt": "America/New_York",
    "atlantic": "America/Halifax",
    "alaska": "America/Anchorage",
    "akst": "America/Anchorage",
    "hawaii": "Pacific/Honolulu",
    "hst": "Pacific/Honolulu",
    "utc": "UTC",
    "gmt": "Europe/London",
    "bst": "Europe/London",
    "uk": "Europe/London",
    "british": "Europe/London",
    "cet": "Europe/Paris",
    "central european": "Europe/Paris",
    "ist": "Asia/Kolkata",
    "india": "Asia/Kolkata",
    "indian": "Asia/Kolkata",
    "aest": "Australia/Sydney",
    "jst": "Asia/Tokyo",
    "sgt": "Asia/Singapore",
    # Cities the tz database names after another city.
    "san francisco": "America/Los_Angeles",
    "seattle": "America/Los_Angeles",
    "portland": "America/Los_Angeles",
    "san diego": "America/Los_Angeles",
    "las vegas": "America/Los_Angeles",
    "salt lake city": "America/Denver",
    "dallas": "America/Chicago",
    "houston": "America/Chicago",
    "austin": "America/Chicago",
    "minneapolis": "America/Chicago",
    "nashville": "America/Chicago",
    "boston": "America/New_York",
    "miami": "America/New_York",
    "atlanta": "America/New_York",
    "philadelphia": "America/New_York",
    "washington": "America/New_York",
    "washington dc": "America/New_York",
    "nyc": "America/New_York",
    "montreal": "America/Toronto",
    "ottawa": "America/Toronto",
    "mumbai": "Asia/Kolkata",
    "delhi": "Asia/Kolkata",
    "new delhi": "Asia/Kolkata",
    "bangalore": "Asia/Kolkata",
    "bengaluru": "Asia/Kolkata",
    "chennai": "Asia/Kolkata",
    "jalandhar": "Asia/Kolkata",
    "manchester": "Europe/London",
    "edinburgh": "Europe/London",
    "munich": "Europe/Berlin",
    "frankfurt": "Europe/Berlin",
    "barcelona": "Europe/Madrid",
    "milan": "Europe/Rome",
    "beijing": "Asia/Shanghai",
    "melbourne": "Australia/Melbourne",
}
_FILLER = re.compile(
    r"\b(?:time|zone|timezone|standard|daylight|saving|savings|the|my|in|us|u\.s\.)\b"
)


# US zones people name without the season: "PT", not "PST"/"PDT".
_US_SEASONAL: Final = frozenset({"PST", "PDT", "MST", "MDT", "CST", "CDT", "EST", "EDT"})


class UnknownTimeZone(KloseError, ValueError):
    """A zone name nobody could read; the message gives examples that work."""


def canonical(zone: str) -> str:
    """The tz database's current name for `zone` ('Asia/Calcutta' → 'Asia/Kolkata')."""
    return _CANONICAL.get(zone, zone)


def is_zone(name: str | None) -> bool:
    """Whether `name` is an IANA zone this machine knows (exact spelling)."""
    if not name or ("/" not in name and name != "UTC"):
        return False
    try:
        ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _parse(e164: str | None) -> phonenumbers.PhoneNumber | None:
    if not e164:
        return None
    try:
        number = phonenumbers.parse(e164, None)
    except NumberParseException:
        return None
    return number if phonenumbers.is_valid_number(number) else None


def region_for_phone(e164: str | None) -> str | None:
    """The country (ISO 3166 alpha-2) of a stored E.164 number; None when unknown."""
    number = _parse(e164)
    if number is None:
        return None
    region = phonenumbers.region_code_for_number(number)
    return region if region and region != "ZZ" else None


def zone_for_phone(e164: str | None) -> str | None:
    """The zone a phone number's owner is most likely in (None: no clue)."""
    number = _parse(e164)
    if number is None:
        return None
    zones = [z for z in pn_timezone.time_zones_for_number(number) if z != "Etc/Unknown"]
    if len(zones) == 1:
        return canonical(zones[0])
    region = phonenumbers.region_code_for_number(number)
    if region in _COUNTRY_ZONES:
        return _COUNTRY_ZONES[region]
    # A number of a country whose numbers span islands or dependencies (+44 covers
    # Jersey and Guernsey): the candidate the tz database lists for that country.
    own = [z for z in _country_zones().get(region or "", ()) if z in zones]
    pick = own or zones
    return canonical(pick[0]) if pick else None


@functools.cache
def _country_zones() -> dict[str, tuple[str, ...]]:
    """Region → its zones, in the tz database's order (zone.tab, from the `tzdata`
    package or the system's zoneinfo); empty when neither is readable."""
    text = ""
    try:
        text = (resources.files("tzdata") / "zoneinfo" / "zone.tab").read_text("utf-8")
    except (ModuleNotFoundError, OSError):
        for base in zoneinfo.TZPATH:
            try:
                text = (Path(base) / "zone.tab").read_text("utf-8")
                break
            except OSError:
                continue
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            parts = line.split("\t")
            if len(parts) >= 3:
                found.setdefault(parts[0], []).append(parts[2])
    return {region: tuple(zones) for region, zones in found.items()}


def user_zone(time_zone: str | None, mobile_e164: str | None) -> str:
    """A user's zone: the one they chose, else their mobile's, else UTC."""
    if time_zone and is_zone(time_zone):
        return time_zone
    return zone_for_phone(mobile_e164) or DEFAULT_ZONE


def user_region(mobile_e164: str | None) -> str:
    """The default region for numbers a user types: their own mobile's country."""
    return region_for_phone(mobile_e164) or DEFAULT_REGION


@functools.cache
def _by_lower_name() -> dict[str, str]:
    """Every IANA name, and every zone's city ('new york', 'los angeles'), lower case."""
    index: dict[str, str] = {}
    for name in sorted(zoneinfo.available_timezones()):
        if name.startswith(("Etc/", "SystemV/", "posix/", "right/")) or "/" not in name:
            continue
        index.setdefault(name.lower(), name)
        city = name.rsplit("/", 1)[1].replace("_", " ").lower()
        index.setdefault(city, canonical(name))
    index["utc"] = "UTC"
    return index


# Offered first on the account page (any IANA name, or what people say, is accepted).
COMMON_ZONES: Final = (
    "America/Los_Angeles",
    "America/Denver",
    "America/Phoenix",
    "America/Chicago",
    "America/New_York",
    "America/Anchorage",
    "Pacific/Honolulu",
    "America/Toronto",
    "America/Sao_Paulo",
    "Europe/London",
    "Europe/Dublin",
    "Europe/Paris",
    "Europe/Berlin",
    "Africa/Johannesburg",
    "Asia/Dubai",
    "Asia/Kolkata",
    "Asia/Singapore",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Pacific/Auckland",
    "UTC",
)
EXAMPLES: Final = "“Pacific”, “central time”, “ET”, “London”, or an IANA name like America/Chicago"


def resolve_zone(text: str) -> str:
    """The IANA zone `text` names: an IANA name (any case), a US zone as people say it
    ("central time", "PT", "Eastern"), a common abbreviation, or a city. Raises
    UnknownTimeZone (with examples) for anything else, an empty text included."""
    raw = (text or "").strip()
    if not raw or len(raw) > 80:
        raise UnknownTimeZone(f"Which time zone? For example {EXAMPLES}.")
    index = _by_lower_name()
    lowered = " ".join(raw.lower().replace("_", " ").split())
    if raw.lower() in index and "/" in raw:
        return index[raw.lower()]
    for candidate in (lowered, " ".join(_FILLER.sub(" ", lowered).split())):
        candidate = candidate.strip(" .,")
        if candidate in _SPOKEN:
            return _SPOKEN[candidate]
        if candidate in index:
            return index[candidate]
    raise UnknownTimeZone(f"I don't know the time zone {raw!r}. Try {EXAMPLES}.")


def zone_abbr(when: datetime, zone: str) -> str:
    """The short name people use for `zone` at `when`: 'PT' / 'ET' for US zones (not
    PST/PDT), 'GMT', 'BST', 'IST'; 'UTC+05:45' where the zone has no letters."""
    local = when.astimezone(ZoneInfo(zone))
    name = local.tzname() or "UTC"
    if name in _US_SEASONAL:
        return name[0] + "T"
    if name.startswith(("+", "-")):
        offset = local.utcoffset()
        assert offset is not None
        minutes = int(offset.total_seconds() // 60)
        sign = "+" if minutes >= 0 else "-"
        return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    return name


def _clock(local: datetime) -> str:
    """'2:05 PM': a local time on a 12-hour clock."""
    return f"{local.hour % 12 or 12}:{local:%M} {'AM' if local.hour < 12 else 'PM'}"


def format_local(
    when: datetime, zone: str, *, weekday: bool = True, year: bool = False, label: bool = True
) -> str:
    """`when` in `zone`, as a person reads it: 'Thu Dec 10, 2:00 PM PT' (with `year`:
    'Thu Dec 10 2026, 2:00 PM PT'). Naive datetimes are taken as UTC."""
    moment = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
    local = moment.astimezone(ZoneInfo(zone))
    day = f"{local:%a} " if weekday else ""
    day += f"{local:%b} {local.day}" + (f" {local.year}" if year else "")
    return f"{day}, {_clock(local)}" + (f" {zone_abbr(moment, zone)}" if label else "")


def today_in(zone: str, now: datetime | None = None) -> date:
    """Today's date in `zone` (what "today", "this week" … are counted from)."""
    return (now or datetime.now(UTC)).astimezone(ZoneInfo(zone)).date()


def describe_zone(zone: str, now: datetime | None = None) -> str:
    """'America/Chicago (CT, now 9:14 AM)' — a zone as the account page and chat show it."""
    moment = now or datetime.now(UTC)
    local = moment.astimezone(ZoneInfo(zone))
    return f"{zone} ({zone_abbr(moment, zone)}, now {_clock(local)})"
