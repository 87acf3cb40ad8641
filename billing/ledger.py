"""The credit ledger's service API.

Every function takes the session (the caller owns the transaction and commits),
the workspace (or hold) and the idempotency key explicitly; `debit_alone` takes the
database instead and is its own transaction. Arguments are checked
here, before the database is touched; the rules themselves are enforced by the
`ledger_*` SQL functions (migration 0004) under the account's row lock.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, get_args

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from billing.models import CreditAccount, CreditGrant, CreditHold, LedgerEntry
from billing.money import credits_label
from core.db import Database
from core.errors import KloseError
from core.sql_functions import call_function, call_function_alone

DebitKind = Literal["query", "call", "debit", "adjustment"]
DEBIT_KINDS: tuple[str, ...] = get_args(DebitKind)
MAX_KEY_LENGTH = 200
MAX_AMOUNT_MC = 10**15  # a sanity ceiling far above any real purchase


class LedgerError(KloseError):
    pass


class InvalidLedgerArgument(LedgerError, ValueError):
    pass


class InsufficientCredits(LedgerError):
    def __init__(self, needed_mc: int, available_mc: int) -> None:
        self.needed_mc = needed_mc
        self.available_mc = available_mc
        super().__init__(
            f"Not enough credits: this needs {credits_label(needed_mc)}, "
            f"{credits_label(available_mc)} available."
        )


class AccountFrozen(LedgerError):
    def __init__(self) -> None:
        super().__init__("This workspace's credits are frozen; contact support.")


class IdempotencyConflict(LedgerError):
    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(f"The idempotency key {key!r} was already used for another operation.")


class HoldNotFound(LedgerError):
    pass


@dataclass(frozen=True)
class LedgerResult:
    status: str
    entry_id: int | None
    amount_mc: int
    balance_mc: int
    held_mc: int

    @property
    def duplicate(self) -> bool:
        return self.status in ("duplicate", "already_resolved")

    @property
    def available_mc(self) -> int:
        return self.balance_mc - self.held_mc


@dataclass(frozen=True)
class HoldResult:
    status: str
    hold_id: int | None
    amount_mc: int
    balance_mc: int
    held_mc: int

    @property
    def duplicate(self) -> bool:
        return self.status in ("duplicate", "already_resolved")

    @property
    def available_mc(self) -> int:
        return self.balance_mc - self.held_mc


@dataclass(frozen=True)
class Balance:
    balance_mc: int
    held_mc: int
    frozen: bool
    debt_mc: int = 0

    @property
    def available_mc(self) -> int:
        return self.balance_mc - self.held_mc


# --- argument checks ---------------------------------------------------------------


def _amount(value: object, name: str, *, allow_zero: bool = False) -> int:
    # bool is an int subclass; floats, Decimals and strings are refused outright.
    if type(value) is not int:
        raise InvalidLedgerArgument(
            f"{name} must be an integer number of milli-credits, not {type(value).__name__}"
        )
    if value < 0 or (value == 0 and not allow_zero):
        raise InvalidLedgerArgument(f"{name} must be {'>= 0' if allow_zero else '> 0'}: {value}")
    if value > MAX_AMOUNT_MC:
        raise InvalidLedgerArgument(f"{name} is implausibly large: {value}")
    return value


def _key(value: object) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_KEY_LENGTH:
        raise InvalidLedgerArgument(
            f"idempotency key must be a non-empty string of at most {MAX_KEY_LENGTH} characters"
        )
    return value


def _workspace(value: object) -> uuid.UUID:
    if not isinstance(value, uuid.UUID):
        raise InvalidLedgerArgument("workspace_id must be a UUID")
    return value


def _kind(value: object) -> DebitKind:
    if value not in DEBIT_KINDS:
        raise InvalidLedgerArgument(f"kind must be one of {', '.join(DEBIT_KINDS)}")
    return value  # type: ignore[return-value]


def _meta(metadata: dict[str, Any] | None) -> str:
    return json.dumps(metadata or {}, default=str)


def _raise_for(status: str, key: str, needed_mc: int, balance_mc: int, held_mc: int) -> None:
    if status == "insufficient":
        raise InsufficientCredits(needed_mc, balance_mc - held_mc)
    if status == "frozen":
        raise AccountFrozen()
    if status == "conflict":
        raise IdempotencyConflict(key)


# --- operations --------------------------------------------------------------------


async def grant(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    *,
    amount_mc: int,
    idempotency_key: str,
    source: str,
    expires_at: datetime | None = None,
    description: str = "",
    metadata: dict[str, Any] | None = None,
) -> LedgerResult:
    """Add a grant (lot) of credits. Applying the same key again moves nothing."""
    ws, amount, key = (
        _workspace(workspace_id),
        _amount(amount_mc, "amount_mc"),
        _key(idempotency_key),
    )
    row = (
        await call_function(
            session,
            text(
                "SELECT * FROM ledger_grant(:ws, :key, :amount, :source, :expires, :desc,"
                " CAST(:meta AS jsonb))"
            ),
            {
                "ws": ws,
                "key": key,
                "amount": amount,
                "source": source,
                "expires": expires_at,
                "desc": description,
                "meta": _meta(metadata),
            },
        )
    ).one()
    _raise_for(row.status, key, amount, row.balance_mc, row.held_mc)
    return LedgerResult(row.status, row.entry_id, row.amount_mc, row.balance_mc, row.held_mc)


_DEBIT = text("SELECT * FROM ledger_debit(:ws, :key, :amount, :kind, :desc, CAST(:meta AS jsonb))")


def _debit_params(
    workspace_id: uuid.UUID,
    amount_mc: int,
    idempotency_key: str,
    kind: DebitKind,
    description: str,
    metadata: dict[str, Any] | None,
) -> dict[str, Any]:
    return {
        "ws": _workspace(workspace_id),
        "key": _key(idempotency_key),
        "amount": _amount(amount_mc, "amount_mc"),
        "kind": _kind(kind),
        "desc": description,
        "meta": _meta(metadata),
    }


def _debited(row: Any, params: dict[str, Any]) -> LedgerResult:
    _raise_for(row.status, params["key"], params["amount"], row.balance_mc, row.held_mc)
    return LedgerResult(row.status, row.entry_id, row.amount_mc, row.balance_mc, row.held_mc)


async def debit(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    *,
    amount_mc: int,
    idempotency_key: str,
    kind: DebitKind,
    description: str = "",
    metadata: dict[str, Any] | None = None,
) -> LedgerResult:
    """Debit available credits in the session's transaction (committed with the
    caller's other writes); raises InsufficientCredits rather than go below zero.
    The account stays locked until the caller commits."""
    params = _debit_params(workspace_id, amount_mc, idempotency_key, kind, description, metadata)
    return _debited((await call_function(session, _DEBIT, params)).one(), params)


async def debit_alone(
    db: Database,
    workspace_id: uuid.UUID,
    *,
    amount_mc: int,
    idempotency_key: str,
    kind: DebitKind,
    description: str = "",
    metadata: dict[str, Any] | None = None,
) -> LedgerResult:
    """The same debit as its own transaction, for a debit that is the caller's whole
    unit of work: committed by the server as `ledger_debit` returns, so the account's
    lock is held only while the function runs, not until a COMMIT has come back over
    the network — what a busy account's throughput turns on (bench/ledger.py). Its
    key makes it safe to retry: a debit already applied answers `duplicate`."""
    params = _debit_params(workspace_id, amount_mc, idempotency_key, kind, description, metadata)
    return _debited((await call_function_alone(db, _DEBIT, params)).one(), params)


async def place_hold(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    *,
    max_mc: int,
    min_mc: int,
    idempotency_key: str,
    expires_at: datetime,
    reference: str | None = None,
) -> HoldResult:
    """Reserve as much as is available up to `max_mc`, but at least `min_mc`."""
    ws, key = _workspace(workspace_id), _key(idempotency_key)
    max_amount, min_amount = _amount(max_mc, "max_mc"), _amount(min_mc, "min_mc")
    if min_amount > max_amount:
        raise InvalidLedgerArgument("min_mc must not exceed max_mc")
    if expires_at.tzinfo is None:
        raise InvalidLedgerArgument("expires_at must be timezone-aware")
    row = (
        await call_function(
            session,
            text("SELECT * FROM ledger_hold_place(:ws, :key, :max, :min, :expires, :ref)"),
            {
                "ws": ws,
                "key": key,
                "max": max_amount,
                "min": min_amount,
                "expires": expires_at,
                "ref": reference,
            },
        )
    ).one()
    return hold_result(row, key, min_amount)


def hold_result(row: Any, idempotency_key: str, min_mc: int) -> HoldResult:
    """A `ledger_hold_place` row (also from a database function that calls it) as a
    HoldResult; raises InsufficientCredits, AccountFrozen or IdempotencyConflict as
    `place_hold` does."""
    _raise_for(row.status, idempotency_key, min_mc, row.balance_mc, row.held_mc)
    return HoldResult(row.status, row.hold_id, row.amount_mc, row.balance_mc, row.held_mc)


async def settle_hold(
    session: AsyncSession,
    hold_id: int,
    *,
    actual_mc: int,
    idempotency_key: str,
    kind: DebitKind,
    description: str = "",
    metadata: dict[str, Any] | None = None,
) -> LedgerResult:
    """Debit what was used (capped at the hold) and release the rest, exactly once."""
    actual, key = _amount(actual_mc, "actual_mc", allow_zero=True), _key(idempotency_key)
    if type(hold_id) is not int:
        raise InvalidLedgerArgument("hold_id must be an integer")
    row = (
        await call_function(
            session,
            text(
                "SELECT * FROM ledger_hold_settle(:hold, :actual, :key, :kind, :desc,"
                " CAST(:meta AS jsonb))"
            ),
            {
                "hold": hold_id,
                "actual": actual,
                "key": key,
                "kind": _kind(kind),
                "desc": description,
                "meta": _meta(metadata),
            },
        )
    ).one()
    if row.status == "not_found":
        raise HoldNotFound(f"No hold {hold_id}.")
    _raise_for(row.status, key, actual, row.balance_mc, row.held_mc)
    return LedgerResult(row.status, row.entry_id, row.amount_mc, row.balance_mc, row.held_mc)


async def release_hold(
    session: AsyncSession,
    hold_id: int,
    *,
    final_status: Literal["released", "expired"] = "released",
) -> HoldResult:
    """Release a hold without charging; a hold already resolved is left as it is."""
    if type(hold_id) is not int:
        raise InvalidLedgerArgument("hold_id must be an integer")
    row = (
        await call_function(
            session,
            text("SELECT * FROM ledger_hold_release(:hold, :final)"),
            {"hold": hold_id, "final": final_status},
        )
    ).one()
    if row.status == "not_found":
        raise HoldNotFound(f"No hold {hold_id}.")
    return HoldResult(row.status, row.hold_id, row.amount_mc, row.balance_mc, row.held_mc)


async def expire_holds(session: AsyncSession, *, now: datetime | None = None) -> list[int]:
    """Release every open hold past its expiry; returns the ids that expired."""
    cutoff = now or datetime.now(UTC)
    ids = (
        await session.scalars(
            select(CreditHold.id)
            .where(CreditHold.status == "open", CreditHold.expires_at <= cutoff)
            .order_by(CreditHold.expires_at)
        )
    ).all()
    expired = []
    for hold_id in ids:
        result = await release_hold(session, hold_id, final_status="expired")
        if result.status == "ok":
            expired.append(hold_id)
    return expired


ClawbackKind = Literal["refund", "chargeback", "credit_note"]
ReversalKind = Literal["chargeback_reverse", "credit_note_reverse"]
CLAWBACK_KINDS: tuple[str, ...] = get_args(ClawbackKind)
REVERSAL_KINDS: tuple[str, ...] = get_args(ReversalKind)


def _grant_entry(value: object) -> int:
    if type(value) is not int:
        raise InvalidLedgerArgument("the grant a take-back concerns must be given as its entry id")
    return value


async def claw_back(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    *,
    amount_mc: int,
    idempotency_key: str,
    kind: ClawbackKind,
    from_grant_entry: int,
    description: str = "",
    metadata: dict[str, Any] | None = None,
) -> LedgerResult:
    """Take back credits one purchase bought, from that purchase's own lot first.

    `from_grant_entry` is the purchase's grant entry id. Over all its take-backs a grant
    loses at most what it granted (migration 0021: its row is locked and its figures
    read under the account's lock, so concurrent take-backs cannot race past the cap).
    Within that cap, a refund or a credit note takes at most what is available; a
    chargeback takes it all, even below zero, and then freezes the account.
    `LedgerResult.amount_mc` says how much was taken: the caller records the rest."""
    ws, amount, key = (
        _workspace(workspace_id),
        _amount(amount_mc, "amount_mc"),
        _key(idempotency_key),
    )
    if kind not in CLAWBACK_KINDS:
        raise InvalidLedgerArgument(f"kind must be one of {', '.join(CLAWBACK_KINDS)}")
    row = (
        await call_function(
            session,
            text(
                "SELECT * FROM ledger_clawback(:ws, :key, :kind, :amount,"
                " (SELECT id FROM credit_grants WHERE entry_id = :grant_entry),"
                " :desc, CAST(:meta AS jsonb))"
            ),
            {
                "ws": ws,
                "key": key,
                "kind": kind,
                "amount": amount,
                "grant_entry": _grant_entry(from_grant_entry),
                "desc": description,
                "meta": _meta(metadata),
            },
        )
    ).one()
    _raise_for(row.status, key, amount, row.balance_mc, row.held_mc)
    return LedgerResult(row.status, row.entry_id, row.amount_mc, row.balance_mc, row.held_mc)


async def reverse_clawback(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    *,
    amount_mc: int,
    idempotency_key: str,
    kind: ReversalKind,
    of_grant_entry: int,
    description: str = "",
    metadata: dict[str, Any] | None = None,
) -> LedgerResult:
    """Give back what chargebacks (`chargeback_reverse`) or credit notes
    (`credit_note_reverse`) took from one grant, as a new lot: at most what they took
    and was not given back yet (`LedgerResult.amount_mc`; 0 when nothing is owed). The
    lot pays any chargeback debt first and unfreezes the account once its available
    balance is back at or above zero."""
    ws, amount, key = (
        _workspace(workspace_id),
        _amount(amount_mc, "amount_mc"),
        _key(idempotency_key),
    )
    if kind not in REVERSAL_KINDS:
        raise InvalidLedgerArgument(f"kind must be one of {', '.join(REVERSAL_KINDS)}")
    row = (
        await call_function(
            session,
            text(
                "SELECT * FROM ledger_clawback_reverse(:ws, :key, :kind, :amount,"
                " (SELECT id FROM credit_grants WHERE entry_id = :grant_entry),"
                " :desc, CAST(:meta AS jsonb))"
            ),
            {
                "ws": ws,
                "key": key,
                "kind": kind,
                "amount": amount,
                "grant_entry": _grant_entry(of_grant_entry),
                "desc": description,
                "meta": _meta(metadata),
            },
        )
    ).one()
    _raise_for(row.status, key, amount, row.balance_mc, row.held_mc)
    return LedgerResult(row.status, row.entry_id, row.amount_mc, row.balance_mc, row.held_mc)


async def grant_taken_back(session: AsyncSession, grant_entry: int) -> tuple[int, int] | None:
    """(granted, taken back so far) for the grant made by `grant_entry`, or None."""
    grant = await session.scalar(
        select(CreditGrant)
        .where(CreditGrant.entry_id == _grant_entry(grant_entry))
        .execution_options(populate_existing=True)
    )
    return None if grant is None else (grant.amount_mc, grant.taken_back_mc)


# --- reading -----------------------------------------------------------------------


async def get_balance(session: AsyncSession, workspace_id: uuid.UUID) -> Balance:
    account = await session.get(CreditAccount, _workspace(workspace_id), populate_existing=True)
    if account is None:
        return Balance(balance_mc=0, held_mc=0, frozen=False)
    return Balance(
        balance_mc=account.balance_mc,
        held_mc=account.held_mc,
        frozen=account.frozen,
        debt_mc=account.debt_mc,
    )


async def recent_entries(
    session: AsyncSession, workspace_id: uuid.UUID, *, limit: int = 5
) -> list[LedgerEntry]:
    result = await session.scalars(
        select(LedgerEntry)
        .where(LedgerEntry.workspace_id == _workspace(workspace_id))
        .order_by(LedgerEntry.id.desc())
        .limit(limit)
    )
    return list(result.all())


@dataclass(frozen=True)
class LedgerAudit:
    """The account's cached figures beside the sums they must equal."""

    balance_mc: int
    held_mc: int
    entries_sum_mc: int
    grants_remaining_mc: int
    debt_mc: int
    open_holds_mc: int
    last_balance_after_mc: int | None

    @property
    def consistent(self) -> bool:
        return (
            self.balance_mc == self.entries_sum_mc == self.grants_remaining_mc - self.debt_mc
            and (self.debt_mc == 0 or self.balance_mc == -self.debt_mc)
            and self.held_mc == self.open_holds_mc
            and self.last_balance_after_mc in (None, self.balance_mc)
        )


async def audit(session: AsyncSession, workspace_id: uuid.UUID) -> LedgerAudit:
    ws = _workspace(workspace_id)
    balance = await get_balance(session, ws)
    entries_sum = await session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.amount_mc), 0)).where(
            LedgerEntry.workspace_id == ws
        )
    )
    grants_sum = await session.scalar(
        select(func.coalesce(func.sum(CreditGrant.remaining_mc), 0)).where(
            CreditGrant.workspace_id == ws
        )
    )
    holds_sum = await session.scalar(
        select(func.coalesce(func.sum(CreditHold.amount_mc), 0)).where(
            CreditHold.workspace_id == ws, CreditHold.status == "open"
        )
    )
    last_after = await session.scalar(
        select(LedgerEntry.balance_after_mc)
        .where(LedgerEntry.workspace_id == ws)
        .order_by(LedgerEntry.id.desc())
        .limit(1)
    )
    return LedgerAudit(
        balance_mc=balance.balance_mc,
        held_mc=balance.held_mc,
        entries_sum_mc=int(entries_sum or 0),
        grants_remaining_mc=int(grants_sum or 0),
        debt_mc=balance.debt_mc,
        open_holds_mc=int(holds_sum or 0),
        last_balance_after_mc=last_after,
    )
