"""The gate against the real database: facts gathered from consent, do-not-call lists,
call attempts, the workspace and its ledger; every decision stored."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from accounts import suspension
from accounts.models import Role
from billing import ledger
from core.errors import NotFound, PermissionDenied
from telephony import attempts, compliance, consent, dnc
from telephony.compliance import Reason
from telephony.models import ComplianceDecisionRecord, ConsentRecord, DncSource
from tests.accounts.helpers import make_member

from .helpers import NOON_NY, add_contact, fund, number_in


async def _check(db, actor, contact_id, now=NOON_NY) -> compliance.ComplianceDecision:
    async with db.session() as session:
        decision = await compliance.check_call(session, actor, contact_id, now=now)
        await session.commit()
        return decision


async def _stored(db, decision_id: int | None) -> ComplianceDecisionRecord:
    assert decision_id is not None
    async with db.session() as session:
        row: ComplianceDecisionRecord | None = await session.get(
            ComplianceDecisionRecord, decision_id
        )
        assert row is not None
        return row


async def _callable(db, area: str = "415", credits: float = 100):
    """A rep with a funded workspace and a consented contact: allowed at NOON_NY."""
    rep = await make_member(db, Role.REP)
    await fund(db, rep.actor.workspace_id, credits)
    contact = await add_contact(db, rep.actor, area=area)
    return rep, contact


async def test_allowed_call_is_stored_with_what_was_checked(db):
    rep, contact = await _callable(db)
    decision = await _check(db, rep.actor, contact.id)
    assert decision.allowed, decision.describe()
    assert decision.id is not None
    row = await _stored(db, decision.id)
    assert (row.allowed, row.reasons, row.contact_id, row.actor_id) == (
        True,
        [],
        contact.id,
        rep.actor.user_id,
    )
    assert row.phone_e164 == contact.phone_e164
    assert row.workspace_id == rep.actor.workspace_id
    assert row.decided_at == NOON_NY
    assert row.local_times == [
        {"zone": "America/Los_Angeles", "local": "2026-11-18T09:00:00-08:00", "inside": True}
    ]
    assert row.detail["consent"]["type"] == "express_written"
    assert row.detail["available_mc"] == 100_000


async def test_no_consent(db):
    rep = await make_member(db, Role.REP)
    await fund(db, rep.actor.workspace_id, 100)
    contact = await add_contact(db, rep.actor, consent=None)
    decision = await _check(db, rep.actor, contact.id)
    assert decision.codes == {Reason.NO_CONSENT}
    row = await _stored(db, decision.id)
    assert row.allowed is False
    assert row.reasons == [{"code": "no_consent", "message": decision.reasons[0].message}]


async def test_revoked_consent_denies_until_new_consent_is_recorded(db):
    rep, contact = await _callable(db)
    async with db.session() as session:
        revoked = await consent.revoke_consent(
            session,
            rep.actor,
            contact.id,
            how="replied STOP to a text",
            at=NOON_NY - timedelta(days=1),
        )
        await session.commit()
    assert len(revoked) == 1
    decision = await _check(db, rep.actor, contact.id)
    assert decision.codes == {Reason.CONSENT_REVOKED}
    assert "revoked on 2026-11-17 (replied STOP to a text)" in decision.describe()
    # Consent obtained again afterwards counts.
    async with db.session() as session:
        await consent.record_consent(
            session,
            rep.actor,
            contact.id,
            consent_type="express",
            source="inbound call",
            wording="Yes, you can call me back about the renewal.",
            method="recorded call",
            obtained_at=NOON_NY - timedelta(hours=2),
        )
        await session.commit()
    assert (await _check(db, rep.actor, contact.id)).allowed


async def test_workspace_dnc_opt_out_denies_and_revokes_consent(db):
    rep, contact = await _callable(db)
    async with db.session() as session:
        entry = await dnc.add_to_dnc(
            session,
            rep.actor,
            contact.phone_e164,
            reason="said 'stop calling me'",
            source=DncSource.OPT_OUT_CALL,
            reference="CA123",
            now=NOON_NY - timedelta(hours=1),
        )
        await session.commit()
    assert (entry.workspace_id, entry.source, entry.added_by) == (
        rep.actor.workspace_id,
        "opt_out_call",
        rep.actor.user_id,
    )
    decision = await _check(db, rep.actor, contact.id)
    assert decision.codes == {Reason.DNC_WORKSPACE, Reason.CONSENT_REVOKED}
    assert "on this workspace's do-not-call list since 2026-11-18 (opt-out during call: " in (
        decision.describe()
    )
    async with db.session() as session:
        records = (
            await session.scalars(
                select(ConsentRecord).where(ConsentRecord.contact_id == contact.id)
            )
        ).all()
    assert [r.revoked_how for r in records] == [
        "do-not-call (opt-out during call): said 'stop calling me'"
    ]
    # Opting out again is harmless: the same entry comes back.
    async with db.session() as session:
        again = await dnc.add_to_dnc(
            session,
            rep.actor,
            contact.phone_e164,
            reason="again",
            source=DncSource.OPT_OUT_CALL,
        )
        await session.commit()
    assert again.id == entry.id and again.reason == "said 'stop calling me'"


async def test_a_workspace_list_binds_only_its_workspace(db):
    number = number_in("415")
    rep_a = await make_member(db, Role.REP)
    rep_b, _ = await _callable(db)
    contact_b = await add_contact(db, rep_b.actor, phone=number, name="Sam B")
    async with db.session() as session:
        await dnc.add_to_dnc(session, rep_a.actor, number, reason="asked by email")
        await session.commit()
    assert (await _check(db, rep_b.actor, contact_b.id)).allowed


async def test_platform_dnc_binds_every_workspace_and_only_admins_add_to_it(db):
    number = number_in("415")
    admin = await make_member(db, Role.ADMIN)
    manager = await make_member(db, Role.MANAGER)
    async with db.session() as session:
        with pytest.raises(PermissionDenied):
            await dnc.add_to_dnc(session, manager.actor, number, reason="x", platform=True)
        with pytest.raises(PermissionDenied):
            await dnc.list_dnc(session, manager.actor, platform=True)
        entry = await dnc.add_to_dnc(
            session,
            admin.actor,
            number,
            reason="litigator",
            source=DncSource.COMPLAINT,
            platform=True,
            now=NOON_NY - timedelta(days=3),
        )
        await session.commit()
    assert entry.workspace_id is None and entry.platform
    for _ in range(2):  # two unrelated workspaces
        rep, _contact = await _callable(db)
        contact = await add_contact(db, rep.actor, phone=number, name="Pat")
        decision = await _check(db, rep.actor, contact.id)
        assert decision.codes == {Reason.DNC_PLATFORM}
        assert "platform-wide do-not-call list (since 2026-11-15)" in decision.describe()
        assert "litigator" not in decision.describe()  # another tenant's note stays private
    async with db.session() as session:
        listed = await dnc.list_dnc(session, admin.actor, platform=True, limit=1000)
        assert entry.id in {e.id for e in listed}
        assert await dnc.is_on_dnc(session, uuid.uuid4(), number)


async def test_outside_calling_hours_uses_the_florida_window(db):
    rep, contact = await _callable(db, area="305")
    # 19:59 in Miami: allowed; 20:00: not (Florida stops at 20:00).
    assert (
        await _check(db, rep.actor, contact.id, NOON_NY + timedelta(hours=7, minutes=59))
    ).allowed
    decision = await _check(db, rep.actor, contact.id, NOON_NY + timedelta(hours=8))
    assert decision.codes == {Reason.OUTSIDE_CALLING_HOURS}
    row = await _stored(db, decision.id)
    assert row.local_times == [
        {"zone": "America/New_York", "local": "2026-11-18T20:00:00-05:00", "inside": False}
    ]
    assert row.detail["state"] == "FL"
    assert row.detail["window"] == "08:00–20:00"
    assert row.detail["next_window_at"] == "2026-11-19T13:00:00+00:00"


async def test_three_attempts_per_24_hours(db):
    rep, contact = await _callable(db)
    first = NOON_NY - timedelta(hours=20)
    async with db.session() as session:
        for when in (first, NOON_NY - timedelta(hours=2), NOON_NY - timedelta(minutes=5)):
            await attempts.record_attempt(
                session, rep.actor, phone_e164=contact.phone_e164, contact_id=contact.id, at=when
            )
        await session.commit()
    decision = await _check(db, rep.actor, contact.id)
    assert decision.codes == {Reason.ATTEMPT_LIMIT}
    assert decision.attempts_in_window == 3
    assert decision.next_attempt_at == first + timedelta(hours=24)
    # The hard stop: a fourth attempt is refused even without the gate.
    async with db.session() as session:
        with pytest.raises(attempts.AttemptLimitReached, match=r"the limit is 3\).* PT your time"):
            await attempts.record_attempt(
                session, rep.actor, phone_e164=contact.phone_e164, at=NOON_NY
            )
    # Once the first is 24 hours old, one more is allowed.
    later = first + timedelta(hours=24)
    assert (await _check(db, rep.actor, contact.id, later)).allowed
    async with db.session() as session:
        await attempts.record_attempt(session, rep.actor, phone_e164=contact.phone_e164, at=later)
        await session.commit()
    assert (await _check(db, rep.actor, contact.id, later)).codes == {Reason.ATTEMPT_LIMIT}


async def test_attempts_are_counted_per_workspace(db):
    number = number_in("415")
    rep_a, _ = await _callable(db)
    rep_b, _ = await _callable(db)
    contact_b = await add_contact(db, rep_b.actor, phone=number)
    async with db.session() as session:
        for minutes in (30, 20, 10):
            await attempts.record_attempt(
                session, rep_a.actor, phone_e164=number, at=NOON_NY - timedelta(minutes=minutes)
            )
        await session.commit()
    assert (await _check(db, rep_b.actor, contact_b.id)).allowed


async def test_suspended_workspace(db):
    rep, contact = await _callable(db)
    async with db.session() as session:
        await suspension.suspend(
            session, rep.actor.workspace_id, reason="robocall complaints", by_label="test-admin"
        )
        await session.commit()
    decision = await _check(db, rep.actor, contact.id)
    assert decision.codes == {Reason.WORKSPACE_SUSPENDED}
    assert "This workspace is suspended" in decision.describe()


async def test_frozen_credits_after_a_chargeback(db):
    rep, contact = await _callable(db, credits=100)
    async with db.session() as session:
        ws = rep.actor.workspace_id
        await ledger.debit(
            session, ws, amount_mc=60_000, idempotency_key=f"test:{uuid.uuid4()}", kind="call"
        )
        bought = [e.id for e in await ledger.recent_entries(session, ws) if e.kind == "grant"]
        await ledger.claw_back(
            session,
            ws,
            amount_mc=100_000,
            idempotency_key=f"test:{uuid.uuid4()}",
            kind="chargeback",
            from_grant_entry=bought[0],
        )
        await session.commit()
        assert (await ledger.get_balance(session, ws)).frozen
    decision = await _check(db, rep.actor, contact.id)
    assert decision.codes == {Reason.CREDITS_FROZEN, Reason.INSUFFICIENT_CREDITS}
    assert "credits are frozen; contact support" in decision.describe()


async def test_insufficient_credits_for_a_minimum_call(db):
    rep, contact = await _callable(db, credits=29.999)
    decision = await _check(db, rep.actor, contact.id)
    assert decision.codes == {Reason.INSUFFICIENT_CREDITS}
    assert "needs at least 30 credits (30 seconds); 29.999 credits available" in (
        decision.describe()
    )
    await fund(db, rep.actor.workspace_id, 0.001)
    assert (await _check(db, rep.actor, contact.id)).allowed


async def test_a_workspace_without_a_credit_account_cannot_call(db):
    rep = await make_member(db, Role.REP)
    contact = await add_contact(db, rep.actor)
    assert (await _check(db, rep.actor, contact.id)).codes == {Reason.INSUFFICIENT_CREDITS}


async def test_several_failures_are_all_stored(db):
    rep = await make_member(db, Role.REP)
    contact = await add_contact(db, rep.actor, area="305", consent=None)
    async with db.session() as session:
        await suspension.suspend(session, rep.actor.workspace_id, reason="x", by_label="t")
        await session.commit()
    decision = await _check(db, rep.actor, contact.id, NOON_NY + timedelta(hours=8, minutes=30))
    expected = [
        Reason.NO_CONSENT,
        Reason.OUTSIDE_CALLING_HOURS,
        Reason.WORKSPACE_SUSPENDED,
        Reason.INSUFFICIENT_CREDITS,
    ]
    assert [r.code for r in decision.reasons] == expected
    row = await _stored(db, decision.id)
    assert [r["code"] for r in row.reasons] == [r.value for r in expected]
    assert decision.describe().count("\n- ") == 4


async def test_decisions_are_append_only(db):
    rep, contact = await _callable(db)
    decision = await _check(db, rep.actor, contact.id)
    for statement in (
        "UPDATE compliance_decisions SET allowed = NOT allowed WHERE id = :id",
        "DELETE FROM compliance_decisions WHERE id = :id",
    ):
        async with db.session() as session:
            with pytest.raises(DBAPIError, match="append-only"):
                await session.execute(text(statement), {"id": decision.id})
    async with db.session() as session:
        history = await compliance.decisions_for(session, rep.actor, contact.id)
    assert [d.id for d in history] == [decision.id]


async def test_the_gate_respects_visibility(db):
    rep_a, contact = await _callable(db)
    ws = rep_a.actor.workspace_id
    rep_b = await make_member(db, Role.REP, workspace_id=ws)
    manager = await make_member(db, Role.MANAGER, workspace_id=ws)
    outsider = await make_member(db, Role.MANAGER)
    for actor in (rep_b.actor, outsider.actor):
        async with db.session() as session:
            with pytest.raises(NotFound):
                await compliance.check_call(session, actor, contact.id, now=NOON_NY)
    decision = await _check(db, manager.actor, contact.id)
    assert decision.allowed
    assert (await _stored(db, decision.id)).actor_id == manager.actor.user_id
    # A platform admin may check any workspace's contact; the workspace's facts apply.
    admin = await make_member(db, Role.ADMIN)
    decision = await _check(db, admin.actor, contact.id)
    assert decision.allowed
    assert (await _stored(db, decision.id)).workspace_id == ws
