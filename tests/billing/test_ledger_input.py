"""Bad arguments are refused with InvalidLedgerArgument BEFORE the database is touched.

The proof: the calls get a session bound to an engine pointing at a server that does
not exist (127.0.0.1:1). Touching the database there raises OperationalError — the
control tests show that — so getting InvalidLedgerArgument means nothing was sent.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from billing import ledger
from tests.billing.helpers import assert_invariants, new_key

WS = uuid.uuid4()
LATER = datetime.now(UTC) + timedelta(hours=1)

BAD_AMOUNTS = [
    pytest.param(1.5, id="float"),
    pytest.param(500.0, id="integral-float"),
    pytest.param(Decimal("500"), id="decimal"),
    pytest.param(Decimal("1.5"), id="fractional-decimal"),
    pytest.param("500", id="str"),
    pytest.param(True, id="bool"),
    pytest.param(None, id="none"),
    pytest.param(-500, id="negative"),
    pytest.param(-1, id="minus-one"),
    pytest.param(0, id="zero"),
    pytest.param(ledger.MAX_AMOUNT_MC + 1, id="implausibly-large"),
]
BAD_SETTLE_AMOUNTS = [
    *(p for p in BAD_AMOUNTS if p.id != "zero"),
    pytest.param(Decimal(0), id="decimal-zero"),
    pytest.param("0", id="str-zero"),
    pytest.param(False, id="bool-false"),
]
BAD_KEYS = [
    pytest.param("", id="empty"),
    pytest.param("   ", id="blank"),
    pytest.param("k" * (ledger.MAX_KEY_LENGTH + 1), id="overlong"),
    pytest.param(None, id="none"),
    pytest.param(42, id="int"),
    pytest.param(b"key", id="bytes"),
]


@pytest.fixture
async def dead_session():
    engine = create_async_engine("postgresql+psycopg://u:p@127.0.0.1:1/x")
    async with AsyncSession(engine) as s:
        yield s
    await engine.dispose()


def calls(
    amount: Any = 500, key: Any = "k", ws: Any = WS, hold_id: Any = 1
) -> dict[str, Callable[[AsyncSession], Awaitable[object]]]:
    """Every write, with one argument replaced."""
    return {
        "grant": lambda s: ledger.grant(s, ws, amount_mc=amount, idempotency_key=key, source="t"),
        "debit": lambda s: ledger.debit(s, ws, amount_mc=amount, idempotency_key=key, kind="query"),
        "hold-max": lambda s: ledger.place_hold(
            s, ws, max_mc=amount, min_mc=1, idempotency_key=key, expires_at=LATER
        ),
        "hold-min": lambda s: ledger.place_hold(
            s,
            ws,
            max_mc=ledger.MAX_AMOUNT_MC,
            min_mc=amount,
            idempotency_key=key,
            expires_at=LATER,
        ),
        "settle": lambda s: ledger.settle_hold(
            s, hold_id, actual_mc=amount, idempotency_key=key, kind="call"
        ),
    }


# --- the probe works -------------------------------------------------------------------


@pytest.mark.parametrize("name", ["grant", "debit", "hold-max", "hold-min", "settle"])
async def test_control_valid_arguments_do_reach_the_dead_database(dead_session, name):
    with pytest.raises(OperationalError):
        await calls()[name](dead_session)


async def test_control_release_does_reach_the_dead_database(dead_session):
    with pytest.raises(OperationalError):
        await ledger.release_hold(dead_session, 1)


# --- rejected before the database --------------------------------------------------------


@pytest.mark.parametrize("bad", BAD_AMOUNTS)
@pytest.mark.parametrize("name", ["grant", "debit", "hold-max", "hold-min"])
async def test_bad_amounts_are_rejected_before_the_database(dead_session, name, bad):
    with pytest.raises(ledger.InvalidLedgerArgument):
        await calls(amount=bad)[name](dead_session)


@pytest.mark.parametrize("bad", BAD_SETTLE_AMOUNTS)
async def test_bad_settle_amounts_are_rejected_before_the_database(dead_session, bad):
    """Settling for 0 is valid; everything else that is bad elsewhere is bad here."""
    with pytest.raises(ledger.InvalidLedgerArgument):
        await calls(amount=bad)["settle"](dead_session)


@pytest.mark.parametrize("bad", BAD_KEYS)
@pytest.mark.parametrize("name", ["grant", "debit", "hold-max", "settle"])
async def test_bad_idempotency_keys_are_rejected_before_the_database(dead_session, name, bad):
    with pytest.raises(ledger.InvalidLedgerArgument, match="idempotency key"):
        await calls(key=bad)[name](dead_session)


@pytest.mark.parametrize("bad", [str(WS), WS.hex, None, 1], ids=["str", "hex", "none", "int"])
@pytest.mark.parametrize("name", ["grant", "debit", "hold-max"])
async def test_bad_workspace_is_rejected_before_the_database(dead_session, name, bad):
    with pytest.raises(ledger.InvalidLedgerArgument, match="workspace_id"):
        await calls(ws=bad)[name](dead_session)


@pytest.mark.parametrize("bad", ["1", 1.0, True, None])
async def test_bad_hold_id_is_rejected_before_the_database(dead_session, bad):
    with pytest.raises(ledger.InvalidLedgerArgument, match="hold_id"):
        await calls(hold_id=bad)["settle"](dead_session)
    with pytest.raises(ledger.InvalidLedgerArgument, match="hold_id"):
        await ledger.release_hold(dead_session, bad)


async def test_hold_min_above_max_and_naive_expiry_are_rejected(dead_session):
    with pytest.raises(ledger.InvalidLedgerArgument, match="min_mc"):
        await ledger.place_hold(
            dead_session, WS, max_mc=100, min_mc=101, idempotency_key="k", expires_at=LATER
        )
    with pytest.raises(ledger.InvalidLedgerArgument, match="timezone"):
        await ledger.place_hold(
            dead_session,
            WS,
            max_mc=100,
            min_mc=1,
            idempotency_key="k",
            expires_at=datetime.now() + timedelta(hours=1),  # naive on purpose
        )


async def test_error_messages_say_what_is_wrong(dead_session):
    with pytest.raises(ledger.InvalidLedgerArgument, match="integer number of milli-credits"):
        await ledger.debit(
            dead_session,
            WS,
            amount_mc=1.5,  # type: ignore[arg-type]
            idempotency_key="k",
            kind="query",
        )
    with pytest.raises(ledger.InvalidLedgerArgument, match="> 0"):
        await ledger.debit(dead_session, WS, amount_mc=-5, idempotency_key="k", kind="query")


# --- the boundaries are accepted by the real database ----------------------------------


async def test_longest_key_and_largest_amount_are_accepted(session, make_workspace):
    ws = await make_workspace()
    key = (new_key("max") + "x" * ledger.MAX_KEY_LENGTH)[: ledger.MAX_KEY_LENGTH]
    result = await ledger.grant(
        session, ws, amount_mc=ledger.MAX_AMOUNT_MC, idempotency_key=key, source="t"
    )
    await ledger.debit(session, ws, amount_mc=1, idempotency_key=new_key("d"), kind="query")
    await session.commit()
    assert result.status == "ok"
    assert (await assert_invariants(session, ws)).balance_mc == ledger.MAX_AMOUNT_MC - 1


@pytest.mark.parametrize(
    "call",
    [
        "SELECT * FROM ledger_grant(:ws, :key, 0, 't', NULL, '', '{}')",
        "SELECT * FROM ledger_debit(:ws, :key, -5, 'query', '', '{}')",
        "SELECT * FROM ledger_hold_place(:ws, :key, 5, 10, now(), NULL)",
    ],
)
async def test_sql_functions_also_refuse_nonpositive_amounts(session, make_workspace, call):
    """Defence in depth: called directly, the SQL refuses what the service would."""
    ws = await make_workspace()
    with pytest.raises(DBAPIError, match=r"must be positive|0 < min <= max"):
        await session.execute(text(call), {"ws": ws, "key": new_key("raw")})
    await session.rollback()
    assert (await assert_invariants(session, ws)).entries == ()
