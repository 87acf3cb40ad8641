"""set_time_zone: the user's own time zone, in which every time is shown to them.

The zone is read from what people type ("central time", "PT", "London", "New York",
"America/Chicago"); a name nobody could read is refused with examples, and nothing is
changed. It changes the account, so it only proposes (tools.actions): the zone is set
once the user confirms. Free: an account setting, not assistant work."""

from __future__ import annotations

from typing import Any

from langchain.tools import ToolRuntime

from accounts.service import set_time_zone as store_time_zone
from core.errors import KloseError
from core.timezones import describe_zone, resolve_zone
from tools.actions import Proposal, write_tool
from tools.context import AgentContext


async def _set(ctx: AgentContext, payload: dict[str, Any]) -> str:
    try:
        async with ctx.db.session() as session:
            zone = await store_time_zone(session, ctx.actor.user_id, str(payload["time_zone"]))
            await session.commit()
    except KloseError as exc:
        return f"Your time zone was not changed: {exc}"
    return (
        f"Done: your time zone is now {describe_zone(zone)}. Times, “today” and "
        "“this week”, and analytics days are counted in it from your next message."
    )


@write_tool(_set, billable=False)
async def set_time_zone(runtime: ToolRuntime[AgentContext], time_zone: str) -> Proposal | str:
    """Set the user's own time zone, in which every time, "today / this week" and
    analytics day is shown to them. `time_zone`: an IANA name (America/Chicago) or what
    the user said ("central time", "PT", "Eastern", a city such as "London"). Asks the
    user to confirm first."""
    ctx = runtime.context
    try:
        zone = resolve_zone(time_zone)
    except KloseError as exc:
        return f"Your time zone was not changed: {exc}"
    if zone == ctx.actor.time_zone:
        return f"Your time zone is already {describe_zone(zone)}: nothing to change."
    return Proposal(
        question=(
            f"Change your time zone from {describe_zone(ctx.actor.time_zone)} to "
            f"{describe_zone(zone)}?"
        ),
        payload={"time_zone": zone},
        declined="Your time zone was not changed: you declined.",
    )
