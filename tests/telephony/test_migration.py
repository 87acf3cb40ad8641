"""Migrations 0009, 0019, 0021 and 0022: upgrade, downgrade, upgrade on a fresh database."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from alembic import command
from sqlalchemy.engine import URL

from core import migrate
from tests.conftest import empty_database

TABLES = {"contacts", "consent_records", "dnc_entries", "compliance_decisions", "call_attempts"}


def _tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        ).fetchall()
    return {row[0] for row in rows}


def _functions(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT proname FROM pg_proc WHERE pronamespace = 'public'::regnamespace"
        ).fetchall()
    return {row[0] for row in rows}


@pytest.fixture
def empty(pg_server_url: str) -> Iterator[tuple[URL, str]]:
    """A database of its own with no schema yet: its URL, and the same for libpq."""
    with empty_database(pg_server_url, "klosesales_mig") as url:
        yield url, url.set(drivername="postgresql").render_as_string(hide_password=False)


def test_0009_upgrade_downgrade_upgrade(empty):
    url, libpq = empty
    migrate.upgrade(url, "0009")
    assert migrate.current_revision(url) == "0009"
    assert _tables(libpq) >= TABLES
    assert "consent_records_guard" in _functions(libpq)

    command.downgrade(migrate.alembic_config(url), "0008")
    assert migrate.current_revision(url) == "0008"
    assert not (_tables(libpq) & TABLES)
    assert "consent_records_guard" not in _functions(libpq)
    assert "forbid_change" in _functions(libpq)  # 0008's, still used by 0008's tables
    assert "audit_events" in _tables(libpq)

    migrate.upgrade(url)
    assert _tables(libpq) >= TABLES
    assert migrate.is_up_to_date(url)


def _arity(url: str, function: str) -> list[int]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT pronargs FROM pg_proc WHERE proname = %s ORDER BY 1", (function,)
        ).fetchall()
    return [row[0] for row in rows]


def test_0019_upgrade_downgrade_upgrade(empty):
    """One `call_status_apply` at each revision: 0015's eight arguments, 0019's ten."""
    url, libpq = empty
    migrate.upgrade(url, "0019")
    assert _arity(libpq, "call_status_apply") == [10]
    command.downgrade(migrate.alembic_config(url), "0018")
    assert _arity(libpq, "call_status_apply") == [8]
    migrate.upgrade(url)
    assert _arity(libpq, "call_status_apply") == [10]
    assert migrate.is_up_to_date(url)


def _columns(url: str, table: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s", (table,)
        ).fetchall()
    return {row[0] for row in rows}


def _function_source(url: str, function: str) -> str:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT prosrc FROM pg_proc WHERE proname = %s", (function,)).fetchone()
    assert row is not None
    return str(row[0])


def test_0021_and_0022_upgrade_downgrade_upgrade(empty):
    """The refund cap (0021) and the billed call duration (0022) go and come back."""
    url, libpq = empty
    taken_back = {"refunded_mc", "charged_back_mc", "credited_back_mc"}
    migrate.upgrade(url, "0022")
    assert _columns(libpq, "credit_grants") >= taken_back
    assert "ledger_clawback_reverse" in _functions(libpq)
    assert "cost / 1000" in _function_source(libpq, "call_status_apply")
    assert _arity(libpq, "call_status_apply") == [10]

    command.downgrade(migrate.alembic_config(url), "0020")
    assert not (_columns(libpq, "credit_grants") & taken_back)
    assert not {"ledger_clawback_reverse", "ledger_credit_lot"} & _functions(libpq)
    assert "cost / 1000" not in _function_source(libpq, "call_status_apply")
    assert _arity(libpq, "call_status_apply") == [10]

    migrate.upgrade(url)
    assert _columns(libpq, "credit_grants") >= taken_back
    assert migrate.is_up_to_date(url)
