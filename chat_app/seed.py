"""Demo data: a workspace "Demo Co" with a manager, two reps and 500 credits."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy import select

from accounts import service as accounts
from accounts.models import Role, User
from accounts.passwords import hash_password
from billing import ledger
from billing.money import MC_PER_CREDIT
from core.db import Database
from core.settings import Settings

if TYPE_CHECKING:
    from accounts.service import Actor
    from chat_app.runtime import Runtime

DEMO_WORKSPACE = "Demo Co"
DEMO_CREDITS = 500
# Fictional numbers (555-01xx): with simulated Verify the sign-in codes appear on
# /account/dev-inbox and in the server log.
DEMO_USERS: tuple[tuple[str, str, Role, str], ...] = (
    ("manager@demo.klosesales.test", "Morgan Manager", Role.MANAGER, "+14155550101"),
    ("rep1@demo.klosesales.test", "Riley Rep", Role.REP, "+14155550102"),
    ("rep2@demo.klosesales.test", "Sam Rep", Role.REP, "+14155550103"),
)


@dataclass
class SeededUser:
    email: str
    role: str
    password: str | None  # None: it already existed and was not reset
    mobile: str


@dataclass
class SeedResult:
    workspace_id: uuid.UUID
    created: bool
    users: list[SeededUser] = field(default_factory=list)
    calls: int = 0  # past demo calls made through the simulated carrier

    def as_json(self) -> dict[str, object]:
        return {
            "workspace_id": str(self.workspace_id),
            "created": self.created,
            "calls": self.calls,
            "users": [
                {"email": u.email, "password": u.password, "role": u.role, "mobile": u.mobile}
                for u in self.users
            ],
        }


def _new_password() -> str:
    return secrets.token_urlsafe(12)


async def seed_demo(
    db: Database, *, reset_passwords: bool = False, settings: Settings | None = None
) -> SeedResult:
    """Create the demo workspace once. Run again, it changes nothing unless asked to
    issue new passwords (they are stored only as hashes, so they can't be re-shown).
    With `settings`, a new workspace also gets contacts and past calls (see
    `seed_demo_calls`)."""
    async with db.session() as session:
        existing = await session.scalar(select(User).where(User.email == DEMO_USERS[0][0]))
        if existing is not None:
            result = SeedResult(workspace_id=existing.workspace_id, created=False)
            for email, _name, role, mobile in DEMO_USERS:
                user = await accounts.get_user_by_email(session, email)
                if user is None:
                    continue
                password = _new_password() if reset_passwords else None
                if password is not None:
                    user.password_hash = await hash_password(password)
                result.users.append(SeededUser(email, role.value, password, mobile))
            await session.commit()
            return result

        workspace = await accounts.create_workspace(session, DEMO_WORKSPACE)
        result = SeedResult(workspace_id=workspace.id, created=True)
        for email, name, role, mobile in DEMO_USERS:
            password = _new_password()
            await accounts.create_user(
                session,
                workspace=workspace,
                email=email,
                name=name,
                password=password,
                role=role,
                mobile_e164=mobile,
            )
            result.users.append(SeededUser(email, role.value, password, mobile))
        await ledger.grant(
            session,
            workspace.id,
            amount_mc=DEMO_CREDITS * MC_PER_CREDIT,
            idempotency_key=f"seed:{workspace.id}",
            source="demo",
            description="demo credits",
        )
        await session.commit()
    if settings is not None:
        result.calls = await seed_demo_calls(settings, db, result.workspace_id)
    return result


# --- demo contacts and past calls ------------------------------------------------------

DEMO_CONTACTS: tuple[tuple[str, str, str, int], ...] = (
    # name, company, number (fictional 555-01xx lines), owner (index into the reps)
    ("Jordan Blake", "Northwind Traders", "+12125550142", 0),
    ("Priya Nair", "Contoso Health", "+14155550143", 0),
    ("Marcus Chen", "Fabrikam Logistics", "+13125550144", 0),
    ("Elena Rossi", "Tailspin Toys", "+16175550145", 0),
    ("Omar Haddad", "Litware Inc", "+12065550146", 0),
    ("Grace Kim", "Adventure Works", "+15125550147", 0),
    ("Tom Becker", "Wide World Importers", "+13035550148", 1),
    ("Aisha Bello", "Proseware", "+14045550149", 1),
    ("Lucas Moreau", "Coho Winery", "+17135550150", 1),
    ("Hannah Weiss", "Blue Yonder Airlines", "+16025550151", 1),
    ("Diego Alvarez", "Trey Research", "+13055550152", 1),
    ("Mei Tanaka", "Lucerne Publishing", "+15035550153", 1),
)
DEMO_CALLS_PER_CONTACT = 3  # the 24-hour attempt cap
DEMO_CALL_SECONDS = 120  # each demo call's cap
DEMO_CALL_CREDITS = 2000  # a separate grant the demo call history is paid from
DEMO_PURPOSES = (
    "follow up on the webinar about AI-assisted outreach",
    "introduce our spring pricing for growing sales teams",
    "check in after the free trial ended",
)
CONSENT_WORDING = (
    "I agree that Demo Co may call me at this number, including with an AI voice "
    "and recorded calls, about its products. Consent is not a condition of purchase."
)


@contextlib.asynccontextmanager
async def _served_locally(settings: Settings, db: Database) -> AsyncIterator[Runtime]:
    """This app, with the demo's call settings, served by uvicorn on a free local port
    while the block runs (the simulated carrier posts its callbacks there)."""
    import uvicorn

    from chat_app.server import create_app

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    local = settings.model_copy(
        update={
            "public_base_url": f"http://127.0.0.1:{port}",
            "max_call_seconds": DEMO_CALL_SECONDS,
            "run_worker_in_serve": False,
            "sim_carrier_pace_s": 0.0,
            # The demo history is made on this private simulated carrier, never on the
            # shared number, so Twilio's 1 call per second does not pace it.
            "twilio_calls_per_second": 50.0,
            "sim_carrier_odds": "answered=0.75,busy=0.08,no-answer=0.09,voicemail=0.08",
        }
    )
    app = create_app(local, db, owns_db=False)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn has no event to wait on
        await asyncio.sleep(0.05)
    try:
        yield app.state.runtime
    finally:
        server.should_exit = True
        await serving


def _demo_noon() -> datetime:
    """The last weekday noon in New York (not in the future), in UTC: inside calling
    hours everywhere in the US."""
    new_york = ZoneInfo("America/New_York")
    day = datetime.now(new_york).replace(hour=12, minute=0, second=0, microsecond=0)
    while day.weekday() >= 5 or day > datetime.now(new_york):
        day -= timedelta(days=1)
    return day.astimezone(UTC)


async def _demo_contacts(
    db: Database, workspace_id: uuid.UUID, noon: datetime
) -> list[tuple[Actor, uuid.UUID]]:
    """Grant the demo call credits and add `DEMO_CONTACTS` with consent, each owned by
    one of the workspace's reps; returns (owner, contact id) pairs."""
    from accounts.service import Actor
    from telephony import consent as consents
    from telephony import contacts as contacts_service
    from telephony.models import ConsentType

    async with db.session() as session:
        await ledger.grant(
            session,
            workspace_id,
            amount_mc=DEMO_CALL_CREDITS * MC_PER_CREDIT,
            idempotency_key=f"seed:calls:{workspace_id}",
            source="demo",
            description="demo credits for the seeded call history",
        )
        reps = (
            await session.scalars(
                select(User)
                .where(User.workspace_id == workspace_id, User.role == Role.REP.value)
                .order_by(User.email)
            )
        ).all()
        actors = [Actor.of(u) for u in reps]
        made = []
        for name, company, phone, owner in DEMO_CONTACTS:
            actor = actors[owner % len(actors)]
            contact = await contacts_service.add_contact(
                session, actor, name=name, phone=phone, company=company
            )
            await consents.record_consent(
                session,
                actor,
                contact.id,
                consent_type=ConsentType.EXPRESS_WRITTEN,
                source="demo.klosesales.test/webinar-signup",
                wording=CONSENT_WORDING,
                method="web form",
                obtained_at=noon - timedelta(days=30),
            )
            made.append((actor, contact.id))
        await session.commit()
    return made


async def _demo_call(
    runtime: Runtime, i: int, actor: Actor, contact_id: uuid.UUID, noon: datetime
) -> bool:
    """Place one demo call and wait until the server has settled it; False when the
    gate refuses it (e.g. the prospect opted out on an earlier call)."""
    from telephony import calls as calls_service
    from telephony.models import Call
    from telephony.simulator.carrier import SimulatedCarrier

    db, telephony = runtime.db, runtime.telephony
    carrier = telephony.provider
    assert isinstance(carrier, SimulatedCarrier)
    try:
        call = await calls_service.place_call(
            db,
            actor,
            contact_id,
            telephony,
            purpose=DEMO_PURPOSES[i % len(DEMO_PURPOSES)],
            talking_points=["teams save about five hours a week on follow-ups"],
            voicemail_message="We'd love to show you what's new; call us back any time.",
            now=noon,
        )
    except (calls_service.CallRefused, calls_service.CallNotPlaced):
        return False
    if call.twilio_sid is not None:
        await carrier.wait(call.twilio_sid, timeout_s=60)
    for _ in range(100):  # the final callback is applied by the server
        async with db.session() as session:
            fresh = await session.get(Call, call.id, populate_existing=True)
            if fresh is not None and fresh.settled_at is not None:
                break
        await asyncio.sleep(0.05)
    return True


async def seed_demo_calls(settings: Settings, db: Database, workspace_id: uuid.UUID) -> int:
    """Give the demo workspace contacts with consent and a few dozen past calls, made
    through the simulated carrier against this app served on a private local port (the
    same relay, webhooks and ledger as a live call). Returns how many calls were made."""
    noon = _demo_noon()
    made = 0
    async with _served_locally(settings, db) as runtime:
        contacts = await _demo_contacts(db, workspace_id, noon)
        for round_ in range(DEMO_CALLS_PER_CONTACT):
            placed = await asyncio.gather(
                *(
                    _demo_call(runtime, round_ * len(contacts) + k, actor, contact_id, noon)
                    for k, (actor, contact_id) in enumerate(contacts)
                )
            )
            made += sum(placed)
    return made
