"""/settings/automation: a rep sets what booked callbacks become; a manager adds a
webhook receiver (the secret shown once), sees the delivery log, removes it; an unsafe
URL is refused on the page too; a rep sees no webhook section and cannot post one."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from accounts.models import Role
from chat_app import settings_views
from integrations.models import WebhookEndpoint
from telephony.call_settings import get_settings
from telephony.followup_models import CallbackMode
from tests.accounts.helpers import client, make_member, sign_in


def _mount(web) -> None:
    if not any(getattr(r, "path", "") == settings_views.PATH for r in web.app.routes):
        web.app.include_router(settings_views.router)


async def test_rep_changes_callback_mode_but_not_webhooks(db, web) -> None:
    _mount(web)
    rep = await make_member(db, Role.REP)
    async with client(web) as http:
        assert (await http.get(settings_views.PATH)).status_code == 303  # sign in first
        await sign_in(http, db, rep)
        page = await http.get(settings_views.PATH)
        assert page.status_code == 200 and 'id="call-settings"' in page.text
        assert 'id="add-webhook"' not in page.text
        saved = await http.post(
            f"{settings_views.PATH}/calls",
            data={"callback_mode": "call", "handoff_on_goal": "yes"},
        )
        assert saved.status_code == 200 and "Saved." in saved.text
        refused = await http.post(
            f"{settings_views.PATH}/webhooks", data={"url": "https://hooks.example.com/x"}
        )
        assert refused.status_code == 403
    async with db.session() as session:
        chosen = await get_settings(session, rep.actor.workspace_id)
        count = await session.scalar(
            select(func.count()).where(WebhookEndpoint.workspace_id == rep.actor.workspace_id)
        )
    assert chosen.callback_mode is CallbackMode.CALL and chosen.handoff_on_goal
    assert count == 0


async def test_manager_manages_webhooks_on_the_page(db, web) -> None:
    _mount(web)
    manager = await make_member(db, Role.MANAGER)
    async with client(web) as http:
        await sign_in(http, db, manager)
        bad = await http.post(
            f"{settings_views.PATH}/webhooks", data={"url": "https://192.168.0.10/in"}
        )
        assert bad.status_code == 400 and "private, loopback or link-local" in bad.text
        plain = await http.post(
            f"{settings_views.PATH}/webhooks", data={"url": "http://hooks.example.com/in"}
        )
        assert plain.status_code == 400 and "https://" in plain.text
        added = await http.post(
            f"{settings_views.PATH}/webhooks",
            data={"url": "https://93.184.216.34/klosesales", "events": "call.completed"},
        )
        assert added.status_code == 200, added.text
        secret = re.search(r'id="webhook-secret">(whsec_[0-9a-f]+)<', added.text)
        assert secret is not None
        page = await http.get(settings_views.PATH)
        assert "https://93.184.216.34/klosesales" in page.text
        assert secret.group(1) not in page.text  # shown once
        async with db.session() as session:
            endpoint = await session.scalar(
                select(WebhookEndpoint).where(
                    WebhookEndpoint.workspace_id == manager.actor.workspace_id
                )
            )
        assert endpoint is not None and endpoint.event_types == ["call.completed"]
        removed = await http.post(f"{settings_views.PATH}/webhooks/{endpoint.id}/remove")
        assert removed.status_code == 200 and "Receiver removed." in removed.text
