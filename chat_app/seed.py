"""Demo data: a workspace "Demo Co" with a manager, two reps and 500 credits."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field

from sqlalchemy import select

from accounts import service as accounts
from accounts.models import Role, User
from accounts.passwords import hash_password
from billing import ledger
from billing.money import MC_PER_CREDIT
from core.db import Database

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

    def as_json(self) -> dict[str, object]:
        return {
            "workspace_id": str(self.workspace_id),
            "created": self.created,
            "users": [
                {"email": u.email, "password": u.password, "role": u.role, "mobile": u.mobile}
                for u in self.users
            ],
        }


def _new_password() -> str:
    return secrets.token_urlsafe(12)


async def seed_demo(db: Database, *, reset_passwords: bool = False) -> SeedResult:
    """Create the demo workspace once. Run again, it changes nothing unless asked to
    issue new passwords (they are stored only as hashes, so they can't be re-shown)."""
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
                    user.password_hash = hash_password(password)
                result.users.append(SeededUser(email, role.value, password, mobile))
            await session.commit()
            return result

        workspace = await accounts.create_workspace(session, DEMO_WORKSPACE)
        result = SeedResult(workspace_id=workspace.id, created=True)
        for email, name, role, mobile in DEMO_USERS:
            password = _new_password()
            await accounts.create_user(
                session, workspace=workspace, email=email, name=name, password=password,
                role=role, mobile_e164=mobile,
            )  # fmt: skip
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
        return result
