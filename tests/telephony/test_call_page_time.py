"""A call's page (/calls/{id}) states when the call was placed in the viewer's own time
zone, and what it cost; another rep's call is not shown at all."""

from __future__ import annotations

from datetime import UTC, datetime

from accounts.models import Role
from tests.accounts.helpers import client, make_member, sign_in
from tests.insights.helpers import make_contact, seed_call


async def test_the_call_page_reads_in_the_viewers_zone(live_server, db) -> None:
    rep = await make_member(db, Role.REP)  # a +1 415/628/650 mobile: Pacific
    contact = await make_contact(db, rep.actor, name="Pia Page")
    at = datetime(2026, 12, 3, 22, 0, tzinfo=UTC)
    call_id = await seed_call(db, contact, rep.actor.user_id, at=at, duration_s=49)
    other = await make_member(db, Role.REP, workspace_id=rep.actor.workspace_id)
    async with client(live_server) as http:
        await sign_in(http, db, rep)
        page = await http.get(f"/calls/{call_id}")
    assert page.status_code == 200
    assert "Thu Dec 3 2026, 2:00 PM PT" in page.text and "cost 49 credits" in page.text
    assert "UTC" not in page.text
    async with client(live_server) as http:
        await sign_in(http, db, other)
        hidden = await http.get(f"/calls/{call_id}")
    assert hidden.status_code == 404 and "Pia Page" not in hidden.text
