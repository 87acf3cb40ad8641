"""The Chainlit app, mounted at /chat by `chat_app.server`.

Sign-in checks email and password against our users table; every message is
answered by `chat_app.turns.answer_message`, which also bills it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import chainlit as cl
from chainlit.context import init_ws_context
from chainlit.data import get_data_layer
from chainlit.server import sio
from chainlit.session import WebsocketSession
from fastapi import Request, Response

from accounts import service as accounts
from accounts import terms
from accounts.service import Actor
from accounts.sessions import SESSION_COOKIE, check_session, end_session, token_from_cookie_header
from billing import expiry
from billing.money import MC_PER_CREDIT
from chat_app import notifications, profiles, uploads
from chat_app.guard import chainlit_user
from chat_app.history import build_history
from chat_app.llm import followups
from chat_app.llm.offline_router.refusals import OFFLINE_HINT
from chat_app.runtime import Runtime, get_runtime
from chat_app.turns import ToolCallRecord, TurnResult, answer_message, chat_limits
from core.markdown import md_escape
from telephony.progress import follow
from tools import actions
from tools.attachments import Attachment, attached
from tools.callbacks import call_back_now
from tools.context import AgentContext, Artifact

log = logging.getLogger(__name__)
EDIT_REFUSED = "Sent messages can't be edited: send the corrected question as a new message."


@cl.data_layer
def _chat_history() -> Any:
    """Threads, steps and elements in the `chat_ui` schema (chat_app/history.py)."""
    runtime = get_runtime()
    return build_history(runtime.db.url, runtime.chat_files)


@cl.header_auth_callback
async def session_login(headers: Any) -> cl.User | None:
    """Sign-in happens on /account/login (password, then a code to the mobile); Chainlit
    trusts the session cookie that flow sets. chat_app/guard.py has already refused any
    request without one (and hands Chainlit that session's user on every request), so
    this only maps the session to a Chainlit user."""
    runtime = get_runtime()
    token = token_from_cookie_header(headers.get("cookie"))
    async with runtime.db.session() as session:
        check = await check_session(session, runtime.signer, token, touch=False)
    if check.user is None or check.session_id is None:
        return None
    return chainlit_user(check.user, check.session_id)


@cl.on_logout
async def end_klosesales_session(request: Request, response: Response) -> None:
    """Chainlit's own "Logout" signs the user out of Klosesales, not only out of
    Chainlit's token: the session this request carried (the one chat_app/guard.py
    checked) is ended in the database and its cookie cleared, as /account/logout does."""
    runtime = get_runtime()
    token = request.cookies.get(SESSION_COOKIE)
    async with runtime.db.session() as session:
        check = await check_session(session, runtime.signer, token, touch=False)
        if check.session_id is not None:
            await end_session(session, check.session_id)
            await session.commit()
    response.delete_cookie(SESSION_COOKIE, path="/")


async def _current_actor() -> Actor | None:
    """The signed-in user: the chat socket's own session, re-checked on every call.

    The socket's handshake carried exactly one `ks_session`, the one chat_app/guard.py
    checked, so its environ names the session this chat runs on; Chainlit's user
    metadata is not used (it is whatever its data layer stored last for the email).
    None when that session has ended or is not the chat's user."""
    cl_user = cl.user_session.get("user")
    environ = getattr(cl.context.session, "environ", None) or {}
    token = token_from_cookie_header(environ.get("HTTP_COOKIE"))
    if cl_user is None or token is None:
        return None
    runtime = get_runtime()
    async with runtime.db.session() as session:
        check = await check_session(session, runtime.signer, token, touch=False)
    if check.user is None or check.user.email != cl_user.identifier:
        return None
    return Actor.of(check.user)


class _StepObserver:
    """Shows each tool call as a Chainlit step."""

    def __init__(self) -> None:
        self.steps: dict[str, cl.Step] = {}

    async def tool_started(self, call: ToolCallRecord) -> None:
        step = cl.Step(name=call.name, type="tool")
        step.input = call.args or "{}"
        self.steps[call.id] = step
        await step.send()

    async def tool_finished(self, call: ToolCallRecord) -> None:
        step = self.steps.get(call.id)
        if step is not None:
            step.output = call.output or ""
            await step.update()


@cl.set_chat_profiles
async def chat_profiles(user: cl.User | None) -> list[cl.ChatProfile]:
    """The profiles of the user's current role (read from our users table: Chainlit's
    stored user metadata can be older than a promotion)."""
    offered = [profiles.REP_PROFILE]
    if user is not None:
        async with get_runtime().db.session() as session:
            found = await accounts.get_user_by_email(session, user.identifier)
            if found is not None:
                offered = await _offered(session, found.role, found.workspace_id)
    return [
        cl.ChatProfile(
            name=profile.name,
            markdown_description=profile.description,
            default=index == 0,
        )
        for index, profile in enumerate(offered)
    ]


async def _offered(session: Any, role: str, workspace_id: uuid.UUID) -> list[profiles.Profile]:
    """The profiles of a role in its workspace as it is now (a sign-up on their own
    with no contacts yet: Getting started first)."""
    shape = await profiles.workspace_of(session, workspace_id)
    return profiles.profiles_for(role, solo=shape.solo, empty=shape.empty)


async def _profile(actor: Actor | None) -> profiles.Profile:
    """The chosen profile, among those the user's role and workspace offer."""
    if actor is None:
        return profiles.REP_PROFILE
    async with get_runtime().db.session() as session:
        offered = await _offered(session, actor.role.value, actor.workspace_id)
    chosen = cl.user_session.get("chat_profile")
    return next((p for p in offered if p.name == chosen), offered[0])


@cl.action_callback("starter")
async def on_starter(action: cl.Action) -> None:
    """A starter button: sent as if the user had typed it (only the profile's own)."""
    actor = await _current_actor()
    text = str(action.payload.get("message", ""))
    if actor is None or text not in {s.message for s in (await _profile(actor)).starters}:
        return
    message = cl.Message(content=text, author=actor.email, type="user_message")
    await message.send()
    history = get_data_layer()
    if history is not None and not cl.user_session.get("assistant_thread_id"):
        # Chainlit names a thread after its first typed message; a button is not one.
        await history.update_thread(cl.context.session.thread_id, name=text)
    await on_message(message)


async def _ask_yes_no(question: str) -> bool | None:
    """Ask in chat with two buttons: True, False, or None when no answer came in time
    (the proposal then stays pending and is offered again: `_offer_pending`)."""
    answer = await _unless_gone(
        cl.AskActionMessage(
            content=question,
            actions=[
                cl.Action(name="confirm", payload={"answer": "yes"}, label="Yes, continue"),
                cl.Action(name="cancel", payload={"answer": "no"}, label="No, cancel"),
            ],
            timeout=90,
        ).send()
    )
    if answer is None:
        return None
    return bool(answer.get("payload", {}).get("answer") == "yes")


async def _unless_gone(asking: Any) -> Any:
    """The answer to a question put in chat, or None as soon as the page goes away (a
    reload, a closed tab): the turn then ends at once, its proposal still pending, so
    the reopened conversation can answer it — with its buttons or by typing "yes" —
    instead of finding the old turn still waiting (issue 17)."""
    gone = asyncio.Event()
    cl.user_session.set("asking_gone", gone)
    ask = asyncio.ensure_future(asking)
    waiter = asyncio.ensure_future(gone.wait())
    try:
        finished, _ = await asyncio.wait({ask, waiter}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
    if ask not in finished:
        ask.cancel()
        return None
    return ask.result()


class _PlacedCalls:
    """The calls an answer placed: noted while it runs (`note`, its `watch_call`), then
    watched (`watch`) once the answer is shown, so each call's progress goes below it."""

    def __init__(self) -> None:
        self.ids: list[uuid.UUID] = []

    async def note(self, call_id: uuid.UUID) -> None:
        self.ids.append(call_id)

    async def watch(self) -> None:
        for call_id in self.ids:
            await _watch_call(call_id)


def _action_context(actor: Actor, watch_call: Any = None) -> AgentContext:
    """What a confirmed action runs with outside a turn (a button pressed later)."""
    runtime = get_runtime()
    return AgentContext(
        actor=actor,
        db=runtime.db,
        ask=_ask_text,
        payments=runtime.payments,
        otp=runtime.otp,
        base_url=runtime.settings.public_base_url,
        telephony=runtime.telephony,
        watch_call=watch_call,
        thread_id=_assistant_thread_id(),
    )


async def _offer_pending(actor: Actor | None) -> None:
    """Show this conversation's proposals still waiting for an answer (after a reload,
    or when the question went unanswered), each with its Yes / No buttons."""
    thread_id = _assistant_thread_id()
    if actor is None or thread_id is None:
        return
    for expired in await actions.expire_unanswered(_action_context(actor), thread_id):
        await cl.Message(
            content=f"{actions.EXPIRED}\n\n> {expired.question.splitlines()[-1]}",
            author="Klosesales",
        ).send()
    for action in await actions.open_actions(_action_context(actor), thread_id):
        payload = {"id": str(action.id)}
        await cl.Message(
            content=f"Still waiting for your answer:\n\n{action.question}",
            author="Klosesales",
            actions=[
                cl.Action(
                    name=f"pending_{answer}",
                    payload=payload,
                    label=label,
                    id=f"pending-{action.id}-{answer}",
                )
                for answer, label in (("yes", "Yes, continue"), ("no", "No, cancel"))
            ],
        ).send()


async def _answer_pending(action: cl.Action, *, yes: bool) -> None:
    """A Yes / No button of a pending proposal: decided at most once, by its owner."""
    actor = await _current_actor()
    if actor is None:
        await cl.Message(content="Your session has ended; please sign in again.").send()
        return
    try:
        action_id = uuid.UUID(str(action.payload.get("id")))
    except ValueError:
        return
    placed = _PlacedCalls()

    try:
        ctx = _action_context(actor, placed.note)
        result, artifact = await actions.decide_noting(ctx, action_id, yes=yes)
        # Kept with the conversation: "call them again" then means this call's contact.
        await followups.record_decision(ctx, action_id, yes=yes, result=result, artifact=artifact)
        await cl.Message(content=result, author="Klosesales").send()
        if placed.ids:
            await _announce(actor.workspace_id)
    finally:
        await placed.watch()
    for answer in ("yes", "no"):  # both buttons go: the question is answered
        await cl.Action(
            name=f"pending_{answer}",
            payload={},
            id=f"pending-{action_id}-{answer}",
            forId=action.forId,
        ).remove()


@cl.action_callback("pending_yes")
async def on_pending_yes(action: cl.Action) -> None:
    await _answer_pending(action, yes=True)


@cl.action_callback("pending_no")
async def on_pending_no(action: cl.Action) -> None:
    await _answer_pending(action, yes=False)


@cl.action_callback("callback_call_now")
async def on_callback_call_now(action: cl.Action) -> None:
    """A callback reminder's "Call now": the gate's verdict and the cost ceiling, then
    the usual Yes / No before anything is dialled (tools/callbacks.py)."""
    actor = await _current_actor()
    if actor is None:
        await cl.Message(content="Your session has ended; please sign in again.").send()
        return
    try:
        callback_id = uuid.UUID(str(action.payload.get("callback")))
    except ValueError:
        return
    placed = _PlacedCalls()

    ctx = dataclasses.replace(_action_context(actor, placed.note), confirm=_ask_yes_no)
    try:
        result = await call_back_now(ctx, callback_id)
        await cl.Message(content=result, author="Klosesales").send()
        if placed.ids:
            await _announce(actor.workspace_id)
    finally:
        await placed.watch()


async def _typed_answer(question: str) -> str | None:
    answer = await _unless_gone(cl.AskUserMessage(content=question, timeout=180).send())
    if answer is None:
        return None
    return str(answer.get("output", "")).strip() or None


def _queue_request(text: str) -> None:
    queued = cl.user_session.get("queued_requests") or []
    cl.user_session.set("queued_requests", [*queued, text])


# The user's typed answer to a question. A new request typed instead ("call Jordan Lee
# about …" at the consent-wording question) is not taken as the answer: the question
# counts as unanswered and the request is answered after this turn (`_answer_queued`).
_ask_text = followups.screened(_typed_answer, _queue_request)


async def _answer_queued() -> None:
    """Answer the requests typed in answer to a question (`_ask_text`), each as a turn."""
    queued = cl.user_session.get("queued_requests") or []
    cl.user_session.set("queued_requests", [])
    for text in queued:
        await on_message(cl.Message(content=str(text)))


@cl.on_chat_start
async def on_chat_start() -> None:
    runtime = get_runtime()
    actor = await _current_actor()
    name = md_escape(actor.name) if actor else "there"
    simulated = [
        k.replace("_", " ") for k, v in runtime.providers().items() if v["mode"] == "simulated"
    ]
    profile = await _profile(actor)
    lines = [
        f"Hi {name}! "
        + _WELCOME.get(
            profile.name,
            "I place AI sales calls for you and answer questions about them: "
            "“add a contact”, “call Dana about pricing”, “summarize my last call”.",
        )
        + " Calls cost 1 credit per second; an answer that does work for you (a summary, "
        "a search, analytics, a contact added, a call placed) 0.5 credit — questions about "
        "your credits and packages are free."
    ]
    if not runtime.model.live:
        # Only an admin can act on the model's configuration (issue 17, item 4).
        admin = actor is not None and actor.role.value == "admin"
        hint = f" {OFFLINE_HINT}" if admin else ""
        lines.append(
            f"⚠️ **{runtime.model.label}** — a small local model; answers are limited.{hint}"
        )
    if simulated:
        lines.append("🧪 Simulated providers: " + ", ".join(simulated) + ".")
    async with runtime.db.session() as session:
        expiry_notice = expiry.notice(await expiry.announced_policies(session))
        new_terms = await terms.upcoming(session)
    if new_terms is not None:
        lines.append(
            f"📢 New terms of service (version {new_terms.version}) take effect on "
            f"{new_terms.effective_at:%Y-%m-%d}"
            + (" — a material change" if new_terms.material else "")
            + ": [read them](/account/terms)."
        )
    if expiry_notice:
        lines.append(f"📢 {expiry_notice}")
    links = ["[Sign out](/account/logout)"]
    if actor is not None and actor.role.value in ("manager", "admin"):
        links.insert(0, "[Team](/account/team)")
    lines.append(" · ".join(links))
    # The profile's starters are buttons under the greeting (Chainlit's own starters
    # only show on a chat with no message yet, and this greeting is one).
    welcome = cl.Message(
        content="\n\n".join(lines),
        author="Klosesales",
        actions=[
            cl.Action(name="starter", payload={"message": s.message}, label=s.label)
            for s in profile.starters
        ],
    )
    # Kept before it is sent: a socket the page drops meanwhile loses it (`_resend_welcome`).
    cl.user_session.set("welcome", _Welcome(cl.context.current_step, welcome))
    await welcome.send()
    _start_notices(actor)


@dataclasses.dataclass(frozen=True)
class _Welcome:
    """The greeting `on_chat_start` sent, and the step it runs in (the message's parent).
    Not JSON: Chainlit leaves it out of the user session it stores with a thread."""

    run: cl.Step | None
    message: cl.Message


async def _resend_welcome() -> None:
    """Send this chat's welcome again, to the socket the chat has now.

    Chainlit's page can replace its socket right after opening it (a second connect
    with the same chat session when its settings reload late, as on a busy machine);
    `on_chat_start` ran once, for the first socket, and what it sent there is lost if
    the page had dropped that socket already: the chat stayed empty. The same steps and
    buttons go again, under the same ids: the page updates a step it has in place, and
    each button is taken away before it is shown, so a page that did see the welcome
    still shows it once. The parent step goes first (the page drops a step whose parent
    it lacks)."""
    welcome = cl.user_session.get("welcome")
    if not isinstance(welcome, _Welcome):
        return  # on_chat_start has not got that far: it sends to this socket itself
    emitter = cl.context.emitter
    if welcome.run is not None:
        await emitter.send_step(welcome.run.to_dict())
    await emitter.send_step(welcome.message.to_dict())
    for action in welcome.message.actions:
        await action.remove()
        await action.send(for_id=welcome.message.id)


_WELCOME = {
    profiles.MANAGER: "Ask me about your team's calls — “connect rate by rep this month” — "
    "and I'll answer with a table, a chart and a CSV.",
    profiles.GETTING_STARTED: "Welcome to Klosesales: I place AI sales calls to your "
    "contacts and then tell you how they went — summaries, transcripts, searches and "
    "analytics. Your workspace is empty, so start by adding a contact (or importing a "
    "CSV of them) and buying credits; your balance is shown at the top of the page.",
}


def _assistant_thread_id() -> uuid.UUID | None:
    """The assistant thread this chat continues (restored with the chat on resume)."""
    raw = cl.user_session.get("assistant_thread_id")
    try:
        return uuid.UUID(str(raw)) if raw else None
    except ValueError:
        return None


@cl.on_chat_resume
async def on_chat_resume(thread: Any) -> None:
    """A past chat reopened from the sidebar: Chainlit replays its messages; the
    assistant carries on in the same conversation, notices resume, and proposals still
    waiting for an answer are offered again, with their buttons.

    Chainlit calls this hook *before* it sends the stored thread to the page, and that
    replaces what the page shows: a message sent from here would vanish. So the offer
    is made right after the thread is sent (this session's emitter, wrapped once)."""
    actor = await _current_actor()
    _start_notices(actor)
    emitter = cl.context.emitter
    send_thread = emitter.resume_thread

    async def send_thread_then_offer(thread_dict: Any) -> None:
        await send_thread(thread_dict)
        await _offer_pending(actor)

    emitter.resume_thread = send_thread_then_offer  # type: ignore[method-assign]


def _start_notices(actor: Actor | None) -> None:
    """Start this chat's notice watch, unless one is running already: a chat whose
    socket came back while `on_chat_start` was still under way would get two (every
    notice twice), and the one overwritten would outlive the chat."""
    running = cl.user_session.get("notice_task")
    if isinstance(running, asyncio.Task) and not running.done() and not running.cancelling():
        return
    if actor is not None:
        # The task inherits this chat's context, so its messages reach this chat.
        task = asyncio.create_task(_watch_notices(actor.user_id, actor.workspace_id))
        cl.user_session.set("notice_task", task)


@cl.on_chat_end
async def on_chat_end() -> None:
    task = cl.user_session.get("notice_task")
    if isinstance(task, asyncio.Task):
        task.cancel()
    gone = cl.user_session.get("asking_gone")
    if isinstance(gone, asyncio.Event):
        gone.set()  # a question still waiting is left pending (`_unless_gone`)


async def _watch_notices(user_id: uuid.UUID, workspace_id: uuid.UUID) -> None:
    """While the chat is open: calls that ended (with their summary), low balance — woken
    by events from any process (chat_app/notifications.py)."""
    runtime = get_runtime()

    async def send(notice: notifications.Notice) -> None:
        buttons = (
            [
                cl.Action(
                    name="callback_call_now",
                    payload={"callback": str(notice.call_now)},
                    label="📞 Call now",
                )
            ]
            if notice.call_now is not None
            else []
        )
        await cl.Message(content=notice.text, author="Klosesales", actions=buttons).send()

    await notifications.watch(
        runtime.db,
        runtime.events,
        send,
        user_id=user_id,
        workspace_id=workspace_id,
        low_balance_mc=runtime.settings.low_balance_credits * MC_PER_CREDIT,
        resync_s=runtime.settings.events_resync_s,
    )


async def _announce(workspace_id: uuid.UUID) -> None:
    """Credits were used or a call placed: the workspace's open chats, on every process,
    look for notices due (low balance)."""
    try:
        async with get_runtime().db.session() as session:
            await notifications.announce(session, workspace_id)
            await session.commit()
    except Exception:  # the answer is given; a missed event is caught up by the resync
        log.warning("could not announce to the workspace's chats", exc_info=True)


async def refuse_edit(sid: str, payload: Any) -> None:
    """Editing a sent message is off (.chainlit/config.toml hides the button). This
    replaces Chainlit's handler, which rewrites the stored question, deletes the answers
    after it and runs `on_message` again with the old message id — whose turn is already
    done, so the old answer came back. A client that sends an edit anyway changes
    nothing and is told to send a new message."""
    chat = WebsocketSession.get(sid)
    if chat is None:
        return
    init_ws_context(chat)
    await cl.Message(content=EDIT_REFUSED).send()


sio.on("edit_message", refuse_edit)  # loaded after chainlit.socket: this one wins

_chainlit_connection_successful = sio.handlers["/"]["connection_successful"]


async def connection_successful(sid: str) -> None:
    """Chainlit's handler, then, for a chat whose socket dropped (a proxy, a network
    blip, or the page itself replacing its socket) and whose client came back to this
    process with the same session: before its first message, the welcome is sent again
    (`_resend_welcome`); the notices start again (`on_chat_end` stopped them when the
    socket went), and the proposals still waiting for an answer are offered again — a
    question asked just before the drop went to the old socket and is not shown again
    by Chainlit."""
    chat = WebsocketSession.get(sid)
    was_started = chat is not None and chat.chat_started
    await _chainlit_connection_successful(sid)
    if chat is None or not chat.restored or not was_started:
        return  # a new chat: on_chat_start / on_chat_resume do all this
    init_ws_context(chat)
    if not chat.has_first_interaction:
        await _resend_welcome()
    actor = await _current_actor()
    _start_notices(actor)
    if chat.has_first_interaction:
        await _offer_pending(actor)


sio.on("connection_successful", connection_successful)


@cl.on_message
async def on_message(message: cl.Message) -> None:
    runtime = get_runtime()
    actor = await _current_actor()
    if actor is None:
        _discard_uploads(message)
        await cl.Message(content="Your session has ended; please sign in again.").send()
        return
    thread_id = _assistant_thread_id()
    placed = _PlacedCalls()

    # An attached CSV reaches this turn's tools (import_contacts) through tools.attachments.
    files = uploads.read_attachments(message.elements)
    try:
        with attached(files):
            result = await _answer(runtime, actor, message, files, thread_id, placed.note)
        _discard_uploads(message)  # handled: the app keeps no uploaded file
        if result.cost_mc or placed.ids:
            await _announce(actor.workspace_id)
        if result.thread_id is not None:
            # Kept as text: the user session is persisted with the thread as JSON.
            cl.user_session.set("assistant_thread_id", str(result.thread_id))
        await cl.Message(content=result.text, elements=_elements(result.artifacts)).send()
        await _offer_pending(actor)
        await _answer_queued()
    finally:
        _discard_uploads(message)
        # A call's live progress goes below the answer that placed it (then is updated
        # in place), not above it while the answer is still being written.
        await placed.watch()


async def _answer(
    runtime: Runtime,
    actor: Actor,
    message: cl.Message,
    files: tuple[Attachment, ...],
    thread_id: uuid.UUID | None,
    watch_after_answer: Callable[[uuid.UUID], Awaitable[None]],
) -> TurnResult:
    """Answer the message (a CSV sent alone asks for it to be imported)."""
    return await answer_message(
        runtime.db,
        runtime.agent,
        actor,
        text=uploads.request_text(message.content, files),
        message_id=message.id,
        thread_id=thread_id,
        observer=_StepObserver(),
        confirm=_ask_yes_no,
        ask=_ask_text,
        payments=runtime.payments,
        otp=runtime.otp,
        base_url=runtime.settings.public_base_url,
        telephony=runtime.telephony,
        watch_call=watch_after_answer,
        limits=chat_limits(runtime.settings),
    )


def _discard_uploads(message: cl.Message) -> None:
    """Delete the message's uploaded files from Chainlit's `.files/` (chat_app/uploads.py)."""
    uploads.discard(message.elements, cl.context.session.files)


def _elements(artifacts: list[Artifact]) -> list[Any]:
    """Charts inline and files as downloads, under the answer."""
    elements: list[Any] = []
    for artifact in artifacts:
        if artifact.kind == "plotly":
            elements.append(
                cl.Plotly(name=artifact.name, figure=artifact.content, display="inline")
            )
        elif artifact.kind == "audio":  # the app's own URL: played with the user's session
            elements.append(
                cl.Audio(
                    name=artifact.name, url=artifact.content, mime=artifact.mime, display="inline"
                )
            )
        else:
            elements.append(
                cl.File(
                    name=artifact.name,
                    content=str(artifact.content).encode("utf-8"),
                    mime=artifact.mime,
                    display="inline",
                )
            )
    return elements


async def _watch_call(call_id: uuid.UUID) -> None:
    """Show a placed call's progress in one message, updated in place."""
    message = cl.Message(content="Placing the call…", author="Call")
    await message.send()
    # The task inherits this message's context (contextvars), so Chainlit knows the chat.
    task = asyncio.create_task(_follow_call(call_id, message))
    _watchers.add(task)
    task.add_done_callback(_watchers.discard)


_watchers: set[asyncio.Task[None]] = set()


async def _follow_call(call_id: uuid.UUID, message: cl.Message) -> None:
    """Updated as the call's callbacks land on any process (telephony/progress.py)."""
    runtime = get_runtime()

    async def show(line: str) -> None:
        message.content = line
        await message.update()

    await follow(
        runtime.db,
        runtime.events,
        call_id,
        show,
        ring_timeout_s=runtime.telephony.ring_timeout_s,
        resync_s=runtime.settings.events_resync_s,
    )
