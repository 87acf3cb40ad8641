"""The live call line in chat says a callback in the callee's own time, labelled as
theirs — never UTC beside the summary's "2:00 PM PT" (issue 18)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from telephony.models import Call
from telephony.progress import progress_line


def _call(phone: str) -> Call:
    return Call(
        id=uuid.uuid4(),
        status="completed",
        phone_e164=phone,
        time_limit_s=600,
        callback_at=datetime(2026, 12, 10, 22, 0, tzinfo=UTC),
        outcome="callback_booked",
        settled_at=datetime(2026, 12, 7, 18, 0, tzinfo=UTC),
        duration_s=42,
        cost_mc=42_000,
    )


def test_a_callback_reads_in_the_callees_time() -> None:
    line = progress_line(_call("+14155550123"), "Dana Lee")
    assert line.endswith("callback Thu Dec 10, 2:00 PM PT (callee's time)")
    assert "UTC" not in line
    london = progress_line(_call("+442079460018"), "Nell Gwyn")
    assert london.endswith("callback Thu Dec 10, 10:00 PM GMT (callee's time)")
