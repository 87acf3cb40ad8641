"""/settings/automation: what booked callbacks become and the warm hand-off on the goal
(any member of the workspace), and — for managers — the workspace's webhook receivers
and their delivery log. Server-rendered forms; the same services and checks as the
chat tools (tools/callbacks.py, tools/webhooks.py): a webhook URL that is not https or
points at a private address is refused here too."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.deps import sign_in_first
from accounts.models import Role
from accounts.service import Actor
from core.errors import KloseError
from core.timezones import format_local
from core.web.deps import DbSession, SettingsDep
from core.web.pages import Page, templates_for
from core.web.routes import PageRoute
from integrations import webhooks
from telephony.call_settings import get_settings, parse_mode, set_settings

PATH = "/settings/automation"
TEMPLATES = templates_for(__file__)
router = APIRouter(route_class=PageRoute, include_in_schema=False)
SignedIn = Annotated[Actor, Depends(sign_in_first(PATH))]


class CallFields(BaseModel):
    callback_mode: Annotated[str, Field(max_length=20)] = "remind"
    handoff_on_goal: Annotated[str, Field(max_length=10)] = ""


class WebhookFields(BaseModel):
    url: Annotated[str, Field(max_length=2100)] = ""
    events: Annotated[str, Field(max_length=500)] = ""


def _manager(actor: Actor) -> bool:
    return actor.role in (Role.MANAGER, Role.ADMIN)


async def _render(
    request: Request, session: AsyncSession, actor: Actor, status: int = 200, **ctx: Any
) -> Response:
    manager = _manager(actor)
    return Page(TEMPLATES, request)(
        "automation.html",
        status,
        settings=await get_settings(session, actor.workspace_id),
        manager=manager,
        endpoints=await webhooks.list_endpoints(session, actor.workspace_id) if manager else [],
        deliveries=await webhooks.delivery_log(session, actor.workspace_id) if manager else [],
        local=lambda when: format_local(when, actor.time_zone, year=True),  # viewer's time
        **ctx,
    )


@router.get(PATH)
async def automation_page(request: Request, actor: SignedIn, session: DbSession) -> Response:
    return await _render(request, session, actor)


@router.post(f"{PATH}/calls")
async def save_calls(
    request: Request,
    actor: SignedIn,
    fields: Annotated[CallFields, Form()],
    session: DbSession,
) -> Response:
    try:
        mode = parse_mode(fields.callback_mode)
        await set_settings(
            session, actor, callback_mode=mode, handoff_on_goal=fields.handoff_on_goal == "yes"
        )
        await session.commit()
    except KloseError as exc:
        await session.rollback()
        return await _render(request, session, actor, 400, message=str(exc))
    return await _render(request, session, actor, notice="Saved.")


@router.post(f"{PATH}/webhooks")
async def add_webhook(
    request: Request,
    actor: SignedIn,
    fields: Annotated[WebhookFields, Form()],
    session: DbSession,
    settings: SettingsDep,
) -> Response:
    if not _manager(actor):
        return await _render(
            request, session, actor, 403, message="Only a manager can add webhooks."
        )
    try:
        events = [e for e in fields.events.replace(" ", ",").split(",") if e.strip()]
        endpoint, secret = await webhooks.add_endpoint(
            session,
            actor.workspace_id,
            fields.url,
            event_types=events,
            created_by=actor.user_id,
            allow_loopback=settings.webhook_test_allow_loopback,
        )
        await session.commit()
    except KloseError as exc:
        await session.rollback()
        return await _render(request, session, actor, 400, message=str(exc))
    return await _render(
        request, session, actor, notice=f"Receiver {endpoint.url} added.", secret=secret
    )


@router.post(PATH + "/webhooks/{endpoint_id}/remove")
async def remove_webhook(
    request: Request, endpoint_id: uuid.UUID, actor: SignedIn, session: DbSession
) -> Response:
    if not _manager(actor):
        return await _render(
            request, session, actor, 403, message="Only a manager can remove webhooks."
        )
    removed = await webhooks.remove_endpoint(session, actor.workspace_id, endpoint_id)
    await session.commit()
    notice = "Receiver removed." if removed else "No such receiver (already removed?)."
    return await _render(request, session, actor, notice=notice)
