"""play_recording: a call's recording, played in the chat.

The answer carries an audio player (an `Artifact` of kind "audio" whose content is the
app's own URL, `/calls/{id}/recording`: the browser fetches it with the user's session,
and the app checks again that they may see the call — telephony/recording_views.py).
The carrier's URL never reaches the chat. A call without a recording says why, free.
"""

from __future__ import annotations

from langchain.tools import ToolRuntime

from core.errors import KloseError
from core.markdown import md_escape
from telephony.models import Contact
from telephony.numbers import format_phone
from telephony.recordings import has_recording, no_recording_reason, recording_path
from tools.actions import read_tool
from tools.call_refs import resolve_call
from tools.context import AgentContext, Artifact
from tools.metering import done


@read_tool(billable=True)
async def play_recording(runtime: ToolRuntime[AgentContext], call: str | None = None) -> str:
    """Play the recording of a call in the chat. `call` is a call id (or its first 8
    characters), a contact's name or phone number (their latest call), or empty for the
    latest call."""
    ctx = runtime.context
    try:
        async with ctx.db.session() as session:
            found = await resolve_call(session, ctx.actor, call)
            contact = await session.get(Contact, found.contact_id)
            short = str(found.id)[:8]
            if not has_recording(found):
                why = await no_recording_reason(session, found, ctx.require_telephony())
                return f"Call {short}: {why}"
    except KloseError as exc:
        return str(exc)
    who = md_escape(contact.name) if contact else "the contact"
    length = f", {found.recording_duration_s} s" if found.recording_duration_s else ""
    path = recording_path(found.id)
    ctx.artifacts.append(Artifact("audio", f"Recording of call {short}", path, "audio/wav"))
    page = f"{ctx.base_url.rstrip('/')}/calls/{found.id}"
    return done(
        f"Recording of call {short} with {who} ({format_phone(found.phone_e164)}"
        f"{length}): the player is below. The call, its transcript and recording: {page}"
    )
