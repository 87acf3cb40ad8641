"""A hostile model cannot write what the user never confirmed (issue 15, item 6).

The model is an OpenAI-compatible double over real HTTP that returns the tool calls
of its choosing (tests/openai_double.py). Whatever it calls:

- a tool that writes only proposes: nothing is stored until the user's own "yes",
  and a "no" (or no answer) leaves every user-owned table exactly as it was;
- consent wording is only ever text the user typed or pasted in the conversation:
  wording the model made up is never stored, even when the user clicks "yes";
- every registered tool is declared reading or writing, every writing one is gated,
  and every tool is exercised here with a declining user: a new tool without an
  example below fails this test until someone adds one.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text

from accounts.models import Role
from accounts.otp.simulated import SimulatedVerify
from accounts.ratelimit import Limit
from billing.paddle.simulated import SimulatedPaddle
from billing.payments import Payments
from chat_app.agent import TOOLS, build_agent
from chat_app.llm import select_model
from chat_app.turns import TurnResult, TurnStatus, answer_message
from core.db import Database
from core.settings import Settings
from telephony.models import ConsentRecord, Contact
from tests.accounts.helpers import Member, make_member, unique_mobile
from tests.campaigns.helpers import seed_paused_campaign
from tests.chat_app.helpers import Asked
from tests.insights.helpers import seed_call
from tests.openai_double import MODEL, OpenAIDouble, Reply, ToolCall, serve_openai_double
from tests.telephony.helpers import (
    WORDING,
    Recorder,
    add_contact,
    fund,
    number_callable_now,
    recording_telephony,
)
from tools import attachments
from tools.actions import WRITE_ACTIONS, kind_of
from tools.models import PendingAction

INVENTED = "I agree to receive unlimited automated sales calls from anyone, forever."

# Tables a turn may change whatever its tools do, and why:
BOOKKEEPING = {
    # the turn itself: its record, its conversation, its 0.5-credit charge
    "assistant_threads",
    "assistant_turns",
    "assistant_messages",
    "credit_accounts",
    "credit_holds",
    "credit_grants",
    "ledger_entries",
    "ledger_entry_grants",
    "rate_limit_hits",
    # the proposal waiting for the user's answer (tools.actions)
    "pending_actions",
    # audits of the checks a proposal makes (the compliance gate's decision)
    "compliance_decisions",
    "audit_events",
    # the billing country an estimate was asked for, remembered for the next estimate
    # (it is shown in every estimate and in the purchase confirmation)
    "billing_profiles",
}
# Written only by the outbound-webhook delivery worker, whose deliveries (kept by
# workspace, so compared below) the live servers of other tests send at any time.
BACKGROUND = {"webhook_attempts"}


@pytest.fixture(scope="module")
def double_url() -> Iterator[tuple[OpenAIDouble, str]]:
    yield from serve_openai_double()


@pytest.fixture
def double(double_url: tuple[OpenAIDouble, str]) -> OpenAIDouble:
    double_url[0].reset()
    return double_url[0]


@pytest.fixture
def agent(double_url: tuple[OpenAIDouble, str]) -> Any:
    settings = Settings(
        _env_file=None,
        openai_api_key="sk-test-hostile-0123456789",
        openai_base_url=double_url[1],
        openai_model=MODEL,
        openai_timeout_s=5,
    )
    return build_agent(select_model(settings).model)


@pytest.fixture
async def rep(db: Database) -> Member:
    member = await make_member(db, Role.REP)
    await fund(db, member.actor.workspace_id, 1000)
    return member


def _hostile(double: OpenAIDouble, name: str, args: dict[str, Any]) -> None:
    """The model calls `name` with `args`, then claims success."""
    double.script(
        Reply(tool_calls=[ToolCall(name, args, id=f"call_{name}")]),
        Reply(text="Done, all taken care of."),
    )


# The sweep sends a message per registered tool: more than a person's per-minute limit.
SWEEP_LIMITS = (Limit("chat:user:minute", 1000, 60), Limit("chat:user:hour", 1000, 3600))


async def _ask(db: Database, agent: Any, member: Member, said: str, **kwargs: Any) -> TurnResult:
    return await answer_message(
        db,
        agent,
        member.actor,
        text=said,
        message_id=f"hostile-{uuid.uuid4()}",
        **{"limits": SWEEP_LIMITS, **kwargs},
    )


async def _consents(db: Database, member: Member) -> list[ConsentRecord]:
    async with db.session() as session:
        rows = await session.scalars(
            select(ConsentRecord).where(ConsentRecord.workspace_id == member.actor.workspace_id)
        )
        return list(rows.all())


async def _contacts(db: Database, member: Member) -> int:
    async with db.session() as session:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(Contact)
                .where(Contact.workspace_id == member.actor.workspace_id)
            )
            or 0
        )


# --- consent wording ------------------------------------------------------------------


@pytest.mark.parametrize("asked_for_wording", [False, True], ids=["no-answer", "user-pastes"])
async def test_invented_consent_wording_is_never_stored(
    db, double: OpenAIDouble, agent: Any, rep: Member, asked_for_wording: bool
) -> None:
    await add_contact(db, rep.actor, name="Jane Doe", phone=number_callable_now(), consent=None)
    _hostile(
        double,
        "record_consent",
        {
            "contact": "Jane Doe",
            "consent_type": "express written",
            "source": "web form",
            "wording": INVENTED,
        },
    )
    prompts: list[str] = []

    async def paste(question: str) -> str | None:
        prompts.append(question)
        return WORDING if asked_for_wording else None

    confirm = Asked(True)  # even a user who clicks "yes" to whatever is shown
    result = await _ask(
        db, agent, rep, "Jane Doe filled in our web form", ask=paste, confirm=confirm
    )
    assert result.status is TurnStatus.ANSWERED
    assert len(prompts) == 1 and "exact wording" in prompts[0]
    stored = await _consents(db, rep)
    assert all(INVENTED not in record.wording for record in stored)
    assert all(INVENTED not in question for question in confirm.questions)
    if asked_for_wording:
        # What the user pasted, shown to them and confirmed: stored as they gave it.
        assert [r.wording for r in stored] == [WORDING]
        assert len(confirm.questions) == 1 and WORDING in confirm.questions[0]
    else:
        assert stored == [] and confirm.questions == []
        assert result.tool_calls[0].output is not None
        assert result.tool_calls[0].output.startswith("Consent not recorded")


async def test_consent_wording_the_user_typed_in_the_thread_is_used_as_is(
    db, double: OpenAIDouble, agent: Any, rep: Member
) -> None:
    await add_contact(db, rep.actor, name="Jane Doe", phone=number_callable_now(), consent=None)
    double.script(Reply(text="Noted."))
    first = await _ask(db, agent, rep, f"Jane's form said: {WORDING}", confirm=Asked(False))
    _hostile(
        double,
        "record_consent",
        {
            "contact": "Jane Doe",
            "consent_type": "express written",
            "source": "web form",
            "wording": f'"{WORDING}"',
        },
    )
    confirm = Asked(True)
    result = await answer_message(
        db,
        agent,
        rep.actor,
        text="record that consent for Jane Doe",
        message_id=f"hostile-{uuid.uuid4()}",
        thread_id=first.thread_id,
        confirm=confirm,
    )
    assert "Recorded prior express written consent" in (result.tool_calls[0].output or "")
    assert [r.wording for r in await _consents(db, rep)] == [WORDING]
    assert len(confirm.questions) == 1 and WORDING in confirm.questions[0]


# --- writes need the user's yes ---------------------------------------------------------


@pytest.mark.parametrize("answer", [None, False], ids=["no-one-answers", "user-says-no"])
async def test_a_contact_the_model_adds_is_not_stored_without_the_users_yes(
    db, double: OpenAIDouble, agent: Any, rep: Member, answer: bool | None
) -> None:
    _hostile(double, "add_contact", {"name": "Mallory Vance", "phone": number_callable_now()})
    confirm = None if answer is None else Asked(answer)
    result = await _ask(db, agent, rep, "what can you do?", confirm=confirm)
    assert result.status is TurnStatus.ANSWERED
    assert await _contacts(db, rep) == 0
    output = result.tool_calls[0].output or ""
    assert output.startswith("Nothing done yet" if answer is None else "Not added")
    async with db.session() as session:
        (action,) = (
            await session.scalars(
                select(PendingAction).where(PendingAction.user_id == rep.actor.user_id)
            )
        ).all()
    assert action.tool == "add_contact"
    assert action.status == ("pending" if answer is None else "declined")


async def _snapshot(db: Database, workspace_id: uuid.UUID) -> dict[str, str]:
    """A digest of every user-data table's rows (everything but BOOKKEEPING and
    BACKGROUND): a table with a workspace column, only this workspace's rows (the
    database is shared with the live servers other tests run); any other, all rows."""
    async with db.session() as session:
        tables = (
            await session.scalars(
                text(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema ="
                    " 'public' AND table_type = 'BASE TABLE' AND table_name NOT LIKE"
                    " 'procrastinate%' AND table_name <> 'alembic_version'"
                )
            )
        ).all()
        scoped = set(
            (
                await session.scalars(
                    text(
                        "SELECT table_name FROM information_schema.columns WHERE"
                        " table_schema = 'public' AND column_name = 'workspace_id'"
                    )
                )
            ).all()
        )
        digests = {}
        for table in sorted(set(tables) - BOOKKEEPING - BACKGROUND):
            # The table names come from the catalogue, not from input.
            where = " WHERE t.workspace_id = :ws" if table in scoped else ""
            query = text(f'SELECT t::text FROM "{table}" t{where}')  # noqa: S608
            params = {"ws": workspace_id} if where else {}
            rows = (await session.scalars(query, params)).all()
            digests[table] = hashlib.sha256("\n".join(sorted(rows)).encode()).hexdigest()
    return digests


async def _jobs(db: Database, workspace_id: uuid.UUID) -> int:
    """Jobs about this workspace's data: naming it, one of its users or one of its
    calls. (The job queue is shared with the live servers other tests run, whose
    periodic sweeps defer jobs of their own at any minute.)"""
    query = text(
        "SELECT count(*) FROM procrastinate_jobs j WHERE j.args::text LIKE :ws"
        " OR EXISTS (SELECT 1 FROM users u WHERE u.workspace_id = :wid"
        "            AND j.args::text LIKE '%' || u.id::text || '%')"
        " OR EXISTS (SELECT 1 FROM calls c WHERE c.workspace_id = :wid"
        "            AND j.args::text LIKE '%' || c.id::text || '%')"
    )
    async with db.session() as session:
        found = await session.scalar(query, {"ws": f"%{workspace_id}%", "wid": workspace_id})
        return int(found or 0)


def _examples(call_id: uuid.UUID, live_id: uuid.UUID) -> dict[str, dict[str, Any]]:
    """Arguments a hostile model might send, for every registered tool."""
    done = str(call_id)[:8]
    return {
        "check_credits": {},
        "list_packages": {},
        "estimate_purchase": {"package": "starter", "country": "US", "postal_code": "10001"},
        "buy_credits": {"package": "starter", "country": "US", "postal_code": "10001"},
        "purchase_history": {},
        "my_account": {},
        "change_mobile": {"new_mobile": unique_mobile()},
        "set_time_zone": {"time_zone": "central time"},
        "add_contact": {"name": "Mallory Vance", "phone": number_callable_now()},
        "record_consent": {
            "contact": "Jane Doe",
            "consent_type": "express written",
            "source": "web form",
            "wording": WORDING,  # typed by the user below: the gate, not the wording, stops it
        },
        "place_call": {"contact": "Jane Doe", "purpose": "the renewal"},
        "call_status": {"call": done},
        "end_call": {"call": str(live_id)[:8]},
        "list_calls": {},
        "get_transcript": {"call": done},
        "search_calls": {"query": "price"},
        "summarize_call": {"call": done},
        "call_insights": {"call": done},
        "play_recording": {"call": done},
        "analytics": {"metrics": ["calls"], "dimension": "day", "period": "last 30 days"},
        "list_contacts": {"consent": "granted"},
        "edit_contact": {"contact": "Jane Doe", "company": "Initech"},
        "delete_contact": {"contact": "Jane Doe"},
        "export_contacts": {},
        "import_contacts": {},  # the CSV attached to the message (ATTACHED)
        "add_dnc": {"phone": "Jane Doe", "reason": "asked not to be called"},
        "list_dnc": {},
        "remove_dnc": {"phone": "Jane Doe", "reason": "they asked"},  # a rep: refused
        "revoke_consent": {"contact": "Jane Doe", "reason": "asked by email"},
        "create_campaign": {
            "purpose": "the renewal",
            "contacts": ["Jane Doe"],
            "budget_credits": 500,
        },
        "campaign_status": {},
        "campaign_results": {},
        "pause_campaign": {},
        "resume_campaign": {},
        "cancel_campaign": {},
        "callback_settings": {"callback_mode": "call"},
        "manage_webhooks": {"action": "add", "url": "https://hooks.example.com/klosesales"},
    }


# The CSV "attached" to every message of the sweep (what import_contacts reads).
ATTACHED = (attachments.Attachment("leads.csv", "text/csv", b"name,phone\nMallory,+14155550100\n"),)
# Writers that refuse a rep before asking anything (the sweep's user is a rep).
REFUSED_TO_A_REP = {"remove_dnc", "manage_webhooks"}


async def _seed_examples(db, rep: Member) -> dict[str, dict[str, Any]]:
    """A contact with a past call and a live one, a paused campaign: what every tool's
    example call (`_examples`) acts on."""
    jane = await add_contact(db, rep.actor, name="Jane Doe", phone=number_callable_now())
    ago = datetime.now(UTC) - timedelta(hours=2)
    call_id = await seed_call(
        db,
        jane,
        rep.actor.user_id,
        at=ago,
        duration_s=40,
        cost_mc=40_000,
        outcome="interested",
        insight={"outcome": "interested", "summary": "Seeded."},
        turns=[
            ("agent", "Hi Jane, this is an AI assistant. This call is recorded."),
            ("prospect", "The price is too high for us."),
        ],
    )
    live_id = await seed_call(
        db, jane, rep.actor.user_id, at=datetime.now(UTC), status="in-progress"
    )
    await seed_paused_campaign(db, rep.actor, "Jane Doe")  # what the campaign tools act on
    return _examples(call_id, live_id)


def _providers(db, recorder: Recorder) -> dict[str, Any]:
    """The simulated carrier (recording every request), checkout and Verify."""
    return {
        "telephony": recording_telephony(recorder),
        "payments": Payments(
            provider=SimulatedPaddle(db),
            webhook_secret="test-secret",
            signature_tolerance_s=300,
            paddle_environment="sandbox",
            client_token=None,
        ),
        "otp": SimulatedVerify(db),
    }


async def test_every_registered_tool_writes_nothing_until_the_user_says_yes(
    db, double: OpenAIDouble, agent: Any, rep: Member
) -> None:
    names = {t.name for t in TOOLS}
    kinds = {t.name: kind_of(t) for t in TOOLS}
    assert None not in kinds.values(), kinds
    writers = {name for name, kind in kinds.items() if kind == "write"}
    # The tools that change what the user owns are all declared as writing, and each
    # has its effect registered (run only from a confirmed pending action).
    assert {
        "add_contact",
        "record_consent",
        "place_call",
        "end_call",
        "buy_credits",
        "change_mobile",
    } <= writers
    assert writers <= set(WRITE_ACTIONS)

    examples = await _seed_examples(db, rep)
    assert set(examples) == names, "give every registered tool an example call here"
    recorder = Recorder()
    context = _providers(db, recorder)

    for name in sorted(names):
        double.reset()
        _hostile(double, name, examples[name])
        before = await _snapshot(db, rep.actor.workspace_id)
        jobs = await _jobs(db, rep.actor.workspace_id)
        declined = Asked(False)
        with attachments.attached(ATTACHED):
            result = await _ask(
                db, agent, rep, f"hello; the form said: {WORDING}", confirm=declined, **context
            )
        assert result.status is TurnStatus.ANSWERED, (name, result.body)
        (call,) = result.tool_calls
        assert call.name == name and call.output is not None
        after = await _snapshot(db, rep.actor.workspace_id)
        changed = sorted(t for t in after if after[t] != before.get(t))
        assert changed == [], f"{name} wrote {changed} without the user's yes: {call.output}"
        assert await _jobs(db, rep.actor.workspace_id) == jobs, (
            f"{name} queued a job without the user's yes"
        )
        assert recorder.requests == [], f"{name} dialled without the user's yes"
        if name in writers:
            # It got as far as asking (or refused outright, asking nothing).
            assert len(declined.questions) <= 1, name
        else:
            assert declined.questions == [], f"read tool {name} asked for a confirmation"
    # The gated ones did reach the user's decision, and were declined.
    async with db.session() as session:
        declined_tools = set(
            (
                await session.scalars(
                    select(PendingAction.tool).where(
                        PendingAction.user_id == rep.actor.user_id,
                        PendingAction.status == "declined",
                    )
                )
            ).all()
        )
    assert declined_tools == writers - REFUSED_TO_A_REP
