"""`klosesales packages …` and `klosesales admin …` billing commands, as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select

from billing.models import CreditExpiryPolicy, CreditPackage


def _run(database, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database.url.render_as_string(hide_password=False)}
    return subprocess.run(
        [sys.executable, "-m", "chat_app.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_packages_list_shows_the_catalogue_with_paddle_price_ids(database):
    proc = _run(database, "packages", "list", "--json")
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    starter = next(r for r in rows if r["code"] == "starter")
    assert (starter["price_cents"], starter["credits_mc"]) == (1000, 500_000)
    assert starter["paddle_price_id"] == "pri_klose_starter"


async def test_packages_set_adds_then_updates_a_package(database, db):
    add = _run(
        database,
        "packages",
        "set",
        "team",
        "--name",
        "Team",
        "--credits",
        "6000",
        "--price-cents",
        "10000",
        "--price-id",
        "pri_team",
        "--fee-cents",
        "200",
        "--fee-price-id",
        "pri_team_fee",
        "--inactive",
    )
    assert add.returncode == 0, add.stderr
    change = _run(
        database,
        "packages",
        "set",
        "team",
        "--name",
        "Team",
        "--credits",
        "6500",
        "--price-cents",
        "10000",
        "--price-id",
        "pri_team",
        "--inactive",
    )
    assert change.returncode == 0, change.stderr
    async with db.session() as session:
        team = await session.scalar(select(CreditPackage).where(CreditPackage.code == "team"))
        assert team is not None
        assert (team.credits_mc, team.service_fee_cents, team.active) == (6_500_000, 0, False)
        await session.execute(delete(CreditPackage).where(CreditPackage.code == "team"))
        await session.commit()


def test_packages_set_refuses_a_fee_without_its_price(database):
    proc = _run(
        database,
        "packages",
        "set",
        "bad",
        "--name",
        "Bad",
        "--credits",
        "1",
        "--price-cents",
        "100",
        "--price-id",
        "pri_bad",
        "--fee-cents",
        "50",
    )
    assert proc.returncode == 2
    assert "--fee-price-id" in proc.stderr


def test_expiry_rule_with_short_notice_is_refused(database):
    soon = (datetime.now(UTC) + timedelta(days=10)).date().isoformat()
    proc = _run(
        database,
        "admin",
        "schedule-credit-expiry",
        "--effective",
        soon,
        "--lifetime-days",
        "365",
        "--existing",
        "never_expire",
    )
    assert proc.returncode == 2
    assert "30 days" in proc.stderr


async def test_expiry_rule_with_notice_is_scheduled(database, db):
    later = (datetime.now(UTC) + timedelta(days=60)).date().isoformat()
    proc = _run(
        database,
        "admin",
        "schedule-credit-expiry",
        "--effective",
        later,
        "--lifetime-days",
        "365",
        "--existing",
        "expire_from_effective_date",
        "--by",
        "ops@test",
    )
    assert proc.returncode == 0, proc.stderr
    assert f"From {later}, credits bought expire 365 days after purchase" in proc.stdout
    async with db.session() as session:
        policy = await session.scalar(
            select(CreditExpiryPolicy).where(CreditExpiryPolicy.created_by == "ops@test")
        )
        assert policy is not None
        assert policy.existing_grants == "expire_from_effective_date"
        await session.execute(
            delete(CreditExpiryPolicy).where(CreditExpiryPolicy.created_by == "ops@test")
        )
        await session.commit()


async def test_paddle_events_lists_flagged_events_for_review(database, db):
    from billing.models import PaddleEvent

    async with db.session() as session:
        session.add(
            PaddleEvent(
                event_id="evt_cli_listing_test",
                event_type="transaction.completed",
                payload={},
                status="flagged",
                note="custom_data.workspace_id does not match",
                transaction_id="txn_cli",
            )
        )
        await session.commit()
    proc = _run(database, "admin", "paddle-events", "--status", "flagged")
    assert proc.returncode == 0, proc.stderr
    assert "evt_cli_listing_test transaction.completed txn_cli: custom_data" in proc.stdout
    processed = _run(database, "admin", "paddle-events", "--status", "processed")
    assert "evt_cli_listing_test" not in processed.stdout
    assert _run(database, "admin", "paddle-events", "--limit", "0").returncode == 2
