"""The gate's decision as a pure function of the facts and a fixed time: every denial
reason on its own and together, calling hours in every time zone of a number, the
stricter state windows, the attempt cap."""

from __future__ import annotations

import re
import uuid
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest

from telephony.compliance import (
    ConsentFact,
    DncFact,
    GateFacts,
    Reason,
    evaluate,
)
from telephony.models import ConsentType
from telephony.numbers import parse_phone, phone_info
from telephony.rules import (
    CALLING_RULES,
    MIN_CALL_MC,
    CallingRule,
    rules_for,
)

from .helpers import NOON_NY, number_in

# Numbers phonenumbers places in two zones each (checked below).
ALASKA = "+19075551234"
NEWFOUNDLAND = "+17095551234"
TOLL_FREE = "+18005550199"

CONSENT = ConsentFact(
    id=uuid.uuid4(),
    type=ConsentType.EXPRESS_WRITTEN,
    source="https://acme.example/form",
    method="web form",
    obtained_at=datetime(2026, 6, 1, tzinfo=UTC),
)

REVOKED = ConsentFact(
    None,
    ConsentType.EXPRESS,
    "form",
    "web form",
    datetime(2026, 6, 1, tzinfo=UTC),
    revoked_at=datetime(2026, 11, 2, tzinfo=UTC),
    revoked_how="replied STOP",
)
# An existing business relationship from early 2024 lapsed 18 months later.
LAPSED_EBR = ConsentFact(
    None,
    ConsentType.EXISTING_RELATIONSHIP,
    "order #12",
    "purchase",
    datetime(2024, 1, 1, tzinfo=UTC),
)


def facts(number: str | None = None, **overrides: Any) -> GateFacts:
    """Facts under which a call is allowed at NOON_NY, with `overrides` applied."""
    base = GateFacts(
        phone=phone_info(number or number_in("415")),
        contact_name="Dana Lee",
        consents=(CONSENT,),
        available_mc=100_000,
    )
    return replace(base, **overrides)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_all_clear_is_allowed_and_says_what_was_checked():
    decision = evaluate(facts("+14155550123"), NOON_NY)
    assert decision.allowed, decision.describe()
    assert decision.reasons == ()
    text = decision.describe()
    assert text.startswith("OK to call Dana Lee at +1 415-555-0123:")
    assert "prior express written consent" in text
    assert "09:00 local time (America/Los_Angeles)" in text
    assert "0 of 3 attempts" in text
    assert "100 credits available" in text


@pytest.mark.parametrize(
    ("overrides", "reason", "phrase"),
    [
        ({"consents": ()}, Reason.NO_CONSENT, "No consent is on record"),
        (
            {"consents": (REVOKED,)},
            Reason.CONSENT_REVOKED,
            "was revoked on 2026-11-02 (replied STOP)",
        ),
        ({"consents": (LAPSED_EBR,)}, Reason.CONSENT_EXPIRED, "has lapsed"),
        (
            {"dnc": (DncFact(False, "opt_out_call", "said stop", NOON_NY - timedelta(days=1)),)},
            Reason.DNC_WORKSPACE,
            "do-not-call list since 2026-11-17 (opt-out during call: said stop)",
        ),
        (
            {"dnc": (DncFact(True, "complaint", "", NOON_NY - timedelta(days=1)),)},
            Reason.DNC_PLATFORM,
            "platform-wide do-not-call list",
        ),
        (
            {"attempts": tuple(NOON_NY - timedelta(hours=h) for h in (20, 5, 1))},
            Reason.ATTEMPT_LIMIT,
            "already called 3 times in the last 24 hours (the limit is 3)",
        ),
        (
            {"workspace_suspended": True},
            Reason.WORKSPACE_SUSPENDED,
            "This workspace is suspended",
        ),
        ({"credits_frozen": True}, Reason.CREDITS_FROZEN, "credits are frozen"),
        (
            {"available_mc": MIN_CALL_MC - 500},
            Reason.INSUFFICIENT_CREDITS,
            "a call needs at least 30 credits (30 seconds); 29.5 credits available",
        ),
        ({"number_valid": False}, Reason.INVALID_NUMBER, "not a valid phone number"),
    ],
    ids=lambda value: value.value if isinstance(value, Reason) else None,
)
def test_each_denial_reason_on_its_own(overrides, reason, phrase):
    decision = evaluate(facts(**overrides), NOON_NY)
    assert not decision.allowed
    assert [r.code for r in decision.reasons] == [reason]
    assert phrase in decision.describe()
    assert decision.describe().startswith("Cannot call Dana Lee")


def test_outside_calling_hours_on_its_own():
    # 21:30 in Los Angeles; the rep asking is in Chicago.
    gate = facts("+14155550123", viewer_zone="America/Chicago")
    decision = evaluate(gate, at("2026-11-19T05:30"))
    assert [r.code for r in decision.reasons] == [Reason.OUTSIDE_CALLING_HOURS]
    message = decision.reasons[0].message
    assert "It is 21:30 in America/Los_Angeles" in message
    assert "calls may start only from 08:00 to 21:00 local time" in message
    # The callee's time labelled as theirs, the rep's own beside it; never UTC.
    assert (
        "Next possible: Thu Nov 19, 8:00 AM PT (callee's time, America/Los_Angeles; "
        "Nov 19, 10:00 AM CT yours)." in message
    )
    assert "UTC" not in message
    assert decision.next_window_at == at("2026-11-19T16:00")


def test_the_attempt_cap_says_when_in_the_users_own_time():
    now = at("2026-11-19T18:00")
    earlier = (at("2026-11-19T15:00"), at("2026-11-19T16:00"), at("2026-11-19T17:00"))
    decision = evaluate(facts(attempts=earlier, viewer_zone="Europe/London"), now)
    message = decision.describe()
    assert "possible from Fri Nov 20, 3:00 PM GMT your time" in message
    assert "UTC" not in message


def test_every_failing_reason_is_reported_together():
    decision = evaluate(
        facts(
            "+14155550123",
            consents=(),
            dnc=(
                DncFact(True, "complaint", "", NOON_NY),
                DncFact(False, "manual", "asked by email", NOON_NY),
            ),
            attempts=(NOON_NY - timedelta(hours=3),) * 3,
            workspace_suspended=True,
            credits_frozen=True,
            available_mc=-2000,
        ),
        at("2026-11-19T06:00"),  # 22:00 in Los Angeles
    )
    assert not decision.allowed
    assert decision.codes == {
        Reason.NO_CONSENT,
        Reason.DNC_PLATFORM,
        Reason.DNC_WORKSPACE,
        Reason.OUTSIDE_CALLING_HOURS,
        Reason.ATTEMPT_LIMIT,
        Reason.WORKSPACE_SUSPENDED,
        Reason.CREDITS_FROZEN,
        Reason.INSUFFICIENT_CREDITS,
    }
    lines = decision.describe().splitlines()
    assert len(lines) == 1 + 8
    assert all(line.startswith("- ") for line in lines[1:])


def test_time_zones_of_multi_zone_numbers_are_what_phonenumbers_says():
    assert phone_info(ALASKA).time_zones == ("America/Adak", "America/Anchorage")
    assert phone_info(NEWFOUNDLAND).time_zones == ("America/Halifax", "America/St_Johns")
    toll_free = phone_info(TOLL_FREE)
    assert len(toll_free.time_zones) > 30
    assert {"Pacific/Guam", "Pacific/Pago_Pago", "America/New_York"} <= set(toll_free.time_zones)


@pytest.mark.parametrize(
    ("utc", "allowed"),
    [
        # Alaska (area 907) is in America/Adak (UTC-10) or America/Anchorage (UTC-9).
        ("2026-11-18T17:59", False),  # 07:59 Adak, 08:59 Anchorage
        ("2026-11-18T18:00", True),  # 08:00 Adak, 09:00 Anchorage
        ("2026-11-19T05:59", True),  # 19:59 Adak, 20:59 Anchorage
        ("2026-11-19T06:00", False),  # 20:00 Adak, 21:00 Anchorage
    ],
)
def test_alaska_numbers_must_be_inside_hours_in_both_zones(utc, allowed):
    decision = evaluate(facts(ALASKA), at(utc))
    assert decision.allowed is allowed, decision.describe()
    assert [t.zone for t in decision.local_times] == ["America/Adak", "America/Anchorage"]
    if not allowed:
        assert decision.codes == {Reason.OUTSIDE_CALLING_HOURS}
        assert "may be in 2 time zones" in decision.reasons[0].message


def test_one_zone_inside_is_not_enough():
    # 08:59 in Anchorage (inside) but 07:59 in Adak (outside).
    decision = evaluate(facts(ALASKA), at("2026-11-18T17:59"))
    inside = {t.zone: t.inside for t in decision.local_times}
    assert inside == {"America/Adak": False, "America/Anchorage": True}
    assert not decision.allowed
    message = decision.reasons[0].message
    assert "it is 07:59 in America/Adak" in message
    assert "Anchorage" not in message.split("it is", 1)[1]  # only the failing zone listed
    assert decision.next_window_at == at("2026-11-18T18:00")


@pytest.mark.parametrize(
    ("utc", "allowed"),
    [
        # Newfoundland and Labrador (709): America/Halifax (UTC-4), America/St_Johns (UTC-3:30).
        ("2026-11-18T11:59", False),  # 07:59 Halifax, 08:29 St John's
        ("2026-11-18T12:00", True),
        ("2026-11-19T00:29", True),  # 20:29 Halifax, 20:59 St John's
        ("2026-11-19T00:30", False),  # 21:00 St John's
    ],
)
def test_half_hour_zones_are_checked_to_the_minute(utc, allowed):
    assert evaluate(facts(NEWFOUNDLAND), at(utc)).allowed is allowed


@pytest.mark.parametrize(
    ("utc", "allowed"),
    [
        # A toll-free number may ring anywhere from Guam (UTC+10) to Pago Pago (UTC-11)
        # and St John's (UTC-3:30): only 22:00-00:30 UTC is inside hours in all of them.
        ("2026-11-18T17:00", False),
        ("2026-11-18T21:59", False),  # 07:59 in Guam
        ("2026-11-18T22:00", True),  # 08:00 in Guam, 11:00 in Pago Pago, 18:30 St John's
        ("2026-11-19T00:29", True),  # 20:59 in St John's, 10:29 in Guam
        ("2026-11-19T00:30", False),  # 21:00 in St John's
        ("2026-11-19T06:00", False),
    ],
)
def test_toll_free_numbers_are_callable_only_when_every_zone_is_inside(utc, allowed):
    decision = evaluate(facts(TOLL_FREE), at(utc))
    assert decision.allowed is allowed, decision.describe()
    assert len(decision.local_times) == len(phone_info(TOLL_FREE).time_zones) > 30
    if not allowed:
        assert decision.codes == {Reason.OUTSIDE_CALLING_HOURS}
        message = decision.reasons[0].message
        assert re.search(r"may be in \d+ time zones", message)
        outside = [t for t in decision.local_times if not t.inside]
        assert all(f"in {t.zone}" in message for t in outside[:4])
        if len(outside) > 4:
            assert f"and {len(outside) - 4} more." in message
        assert decision.next_window_at is not None
        assert decision.next_window_at.astimezone(UTC).time() == time(22, 0)


def test_a_window_narrower_than_the_zones_spread_never_opens():
    rule = CallingRule(
        name="Tight",
        source="test",
        start=time(9),
        end=time(10),
        country="US",
        state=None,
        area_code="800",
    )
    decision = evaluate(facts(TOLL_FREE), at("2026-11-18T22:00"), rules=(rule,))
    assert decision.codes == {Reason.OUTSIDE_CALLING_HOURS}
    assert decision.next_window_at is None
    assert (
        "No time of day is inside calling hours in every one of its time zones"
        in decision.reasons[0].message
    )
    assert "cannot be called" in decision.reasons[0].message


@pytest.mark.parametrize(
    ("utc", "allowed"),
    [
        ("2026-11-18T12:59", False),  # 07:59 in Miami
        ("2026-11-18T13:00", True),  # 08:00
        ("2026-11-19T00:59", True),  # 19:59
        ("2026-11-19T01:00", False),  # 20:00: Florida stops at 20:00
        ("2026-11-19T01:30", False),  # 20:30: would be fine in New York
    ],
)
def test_florida_window_ends_at_eight_pm(utc, allowed):
    decision = evaluate(facts(number_in("305")), at(utc))
    assert decision.allowed is allowed, decision.describe()
    assert decision.window_label == "08:00–20:00 (Florida)"
    if not allowed:
        assert "calls to Florida numbers may start only from 08:00 to 20:00 local time" in (
            decision.reasons[0].message
        )


def test_new_york_at_half_past_eight_pm_is_still_allowed():
    decision = evaluate(facts(number_in("212")), at("2026-11-19T01:30"))  # 20:30 EST
    assert decision.allowed, decision.describe()
    assert decision.window_label == "08:00–21:00"


@pytest.mark.parametrize(("area", "state"), [("305", "FL"), ("405", "OK"), ("206", "WA")])
def test_state_comes_from_the_area_code_and_narrows_the_window(area, state):
    info = parse_phone(number_in(area))
    assert info.state == state
    effective = rules_for(country=info.country, state=info.state, area_code=info.area_code)
    assert (effective.window.start, effective.window.end) == (time(8), time(20))


def test_rules_are_data_an_area_code_rule_narrows_further():
    rule = CallingRule(
        name="Area 415 test rule", source="test", start=time(9), end=time(17), area_code="415"
    )
    rules = (*CALLING_RULES, rule)
    early = evaluate(facts(number_in("415")), at("2026-11-18T16:30"), rules=rules)  # 08:30
    assert early.codes == {Reason.OUTSIDE_CALLING_HOURS}
    assert "from 09:00 to 17:00 (Area 415 test rule) local time" in early.reasons[0].message
    later = evaluate(facts(number_in("415")), at("2026-11-18T17:30"), rules=rules)  # 09:30
    assert later.allowed
    other = evaluate(facts(number_in("212")), at("2026-11-18T13:30"), rules=rules)  # 08:30 NY
    assert other.allowed


def test_attempt_cap_counts_a_rolling_24_hours():
    two = (NOON_NY - timedelta(hours=23, minutes=59), NOON_NY - timedelta(hours=2))
    assert evaluate(facts(attempts=two), NOON_NY).allowed
    three = (NOON_NY - timedelta(hours=24), *two)  # the first is exactly 24 h old: out
    assert evaluate(facts(attempts=three), NOON_NY).allowed
    capped = (NOON_NY - timedelta(hours=23, minutes=59, seconds=59), *two)
    decision = evaluate(facts(attempts=capped), NOON_NY)
    assert decision.codes == {Reason.ATTEMPT_LIMIT}
    assert decision.next_attempt_at == NOON_NY + timedelta(seconds=1)
    assert decision.attempts_in_window == 3


def test_revoked_consent_does_not_count_but_a_newer_consent_does():
    revoked = ConsentFact(
        None,
        ConsentType.EXPRESS_WRITTEN,
        "form",
        "web form",
        datetime(2026, 1, 1, tzinfo=UTC),
        revoked_at=datetime(2026, 3, 1, tzinfo=UTC),
        revoked_how="asked by email",
    )
    assert evaluate(facts(consents=(revoked,)), NOON_NY).codes == {Reason.CONSENT_REVOKED}
    renewed = ConsentFact(
        None, ConsentType.EXPRESS, "call-in", "recorded call", datetime(2026, 4, 1, tzinfo=UTC)
    )
    decision = evaluate(facts(consents=(revoked, renewed)), NOON_NY)
    assert decision.allowed
    assert decision.consent == renewed


def test_consent_given_after_the_decision_time_does_not_count():
    later = ConsentFact(
        None, ConsentType.EXPRESS, "form", "web form", NOON_NY + timedelta(minutes=1)
    )
    assert evaluate(facts(consents=(later,)), NOON_NY).codes == {Reason.NO_CONSENT}


def test_exactly_the_minimum_credits_is_enough():
    assert evaluate(facts(available_mc=MIN_CALL_MC), NOON_NY).allowed
    assert not evaluate(facts(available_mc=MIN_CALL_MC - 1), NOON_NY).allowed


def test_an_unknown_or_unreadable_time_zone_fails_closed():
    la = phone_info("+14155550123")
    nowhere = replace(la, time_zones=())
    decision = evaluate(facts(phone=nowhere), NOON_NY)
    assert decision.codes == {Reason.UNKNOWN_LOCAL_TIME}
    assert "calling hours cannot be checked" in decision.describe()
    # One zone that cannot be read is enough to deny, even if the others are inside.
    odd = replace(la, time_zones=("America/Los_Angeles", "Mars/Olympus_Mons"))
    decision = evaluate(facts(phone=odd), NOON_NY)
    assert decision.codes == {Reason.UNKNOWN_LOCAL_TIME}
    assert "Mars/Olympus_Mons cannot be read" in decision.describe()


def test_naive_times_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        evaluate(facts(), datetime(2026, 11, 18, 12, 0))
