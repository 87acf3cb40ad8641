"""Estimates, billing addresses, checkout records and the expiry policy, on real
PostgreSQL with the simulated Paddle."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from accounts.models import Workspace
from billing import expiry, ledger, purchases, webhooks
from billing.models import CreditGrant, PaddleEvent, PaddleTransaction
from billing.paddle.simulated import SimulatedPaddle
from core.errors import NotFound, PermissionDenied
from tests.billing.paddle_helpers import checkout, new_member, transaction_event


async def test_catalogue_has_the_starter_package_at_ten_dollars_for_500_credits(session):
    packages = await purchases.list_packages(session)
    starter = next(p for p in packages if p.code == "starter")
    assert (starter.price_cents, starter.credits_mc, starter.currency) == (1000, 500_000, "USD")
    # The service fee is its own Paddle price line.
    assert starter.service_fee_cents > 0
    assert starter.paddle_fee_price_id not in (None, starter.paddle_price_id)


@pytest.mark.parametrize("wanted", ["starter", "Starter", "500", "500 credits"])
async def test_packages_are_found_by_code_name_or_credits(session, wanted):
    assert (await purchases.find_package(session, wanted)).code == "starter"


async def test_an_unknown_package_names_the_ones_on_sale(session):
    with pytest.raises(NotFound, match="Starter"):
        await purchases.find_package(session, "platinum")


@pytest.mark.parametrize(
    ("country", "postal", "tax_cents", "where"),
    [
        ("GB", None, 210, "GB"),  # 20 % of $10.00 + $0.50
        ("Germany", "10115", 200, "DE"),  # 19 %: 190 + 9.5 → 10
        ("US", "10001", 42, "US-NY"),  # 4 % of 1000 and of 50
        ("US", "97201", 0, "US-OR"),  # Oregon taxes nothing
    ],
)
async def test_simulated_estimate_adds_fee_and_tax_by_country_and_state(
    db, country, postal, tax_cents, where
):
    actor = await new_member(db)
    async with db.session() as session:
        est = await purchases.estimate(
            session, SimulatedPaddle(db), actor, "starter", country=country, postal_code=postal
        )
        await session.commit()
    p = est.preview
    assert [line.subtotal for line in p.lines] == [1000, 50]
    assert (p.subtotal, p.tax, p.total) == (1050, tax_cents, 1050 + tax_cents)
    assert where in p.tax_source
    assert "simulated tax table" in p.tax_source
    text_ = est.describe()
    assert "Estimated total" in text_
    assert "may vary slightly" in text_


async def test_the_billing_address_is_asked_once_then_remembered(db):
    actor = await new_member(db)
    provider = SimulatedPaddle(db)
    async with db.session() as session:
        with pytest.raises(purchases.BillingAddressNeeded):
            await purchases.estimate(session, provider, actor, "starter")
        await purchases.estimate(
            session, provider, actor, "starter", country="US", postal_code="94105"
        )
        await session.commit()
    async with db.session() as session:
        again = await purchases.estimate(session, provider, actor, "starter")
    assert (again.address.country_code, again.address.region) == ("US", "CA")


@pytest.mark.parametrize(
    ("country", "postal", "message"),
    [
        ("Atlantis", None, "don't know the country"),
        ("US", None, "ZIP code too"),
        ("US", "00000", "not a US ZIP"),
        ("GB", "<script>", "not a postal code"),
    ],
)
async def test_bad_billing_addresses_are_refused_and_not_stored(db, country, postal, message):
    actor = await new_member(db)
    async with db.session() as session:
        with pytest.raises(purchases.BillingAddressInvalid, match=message):
            await purchases.estimate(
                session, SimulatedPaddle(db), actor, "starter", country=country, postal_code=postal
            )
        assert await purchases.get_billing_address(session, actor.workspace_id) is None


async def test_checkout_records_the_transaction_with_server_side_custom_data(db):
    actor = await new_member(db)
    txn = await checkout(db, actor, "growth", country="GB", postal_code=None)
    async with db.session() as session:
        stored = await session.get(PaddleTransaction, txn.id)
    assert stored is not None
    assert stored.id.startswith("txn_")
    assert len(stored.id) == 30
    assert stored.custom_data["workspace_id"] == str(actor.workspace_id)
    assert stored.custom_data["user_id"] == str(actor.user_id)
    assert stored.credits_mc == 1_300_000
    assert (stored.status, stored.grant_entry_id) == ("ready", None)
    # Nothing is granted by starting a checkout.
    async with db.session() as session:
        assert (await ledger.get_balance(session, actor.workspace_id)).balance_mc == 0


async def test_a_suspended_workspace_cannot_buy(db):
    actor = await new_member(db)
    async with db.session() as session:
        ws = await session.get(Workspace, actor.workspace_id)
        assert ws is not None
        ws.status = "suspended"
        await session.commit()
    with pytest.raises(PermissionDenied, match="suspended"):
        await checkout(db, actor)
    async with db.session() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(PaddleTransaction)
            .where(PaddleTransaction.workspace_id == actor.workspace_id)
        )
    assert count == 0


# --- credit expiry policy ------------------------------------------------------------


async def test_an_expiry_rule_needs_thirty_days_notice(session):
    now = datetime(2026, 11, 28, tzinfo=UTC)
    with pytest.raises(expiry.ExpiryPolicyInvalid, match="30 days"):
        await expiry.schedule_policy(
            session,
            effective_at=now + timedelta(days=29),
            lifetime_days=365,
            existing_grants="never_expire",
            created_by="admin@test",
            now=now,
        )
    await session.rollback()


async def test_the_database_refuses_short_notice_too(session):
    with pytest.raises(Exception, match="ck_credit_expiry_policies_notice"):
        await session.execute(
            text(
                "INSERT INTO credit_expiry_policies (id, announced_at, effective_at,"
                " lifetime_days, existing_grants, summary, created_by) VALUES"
                " (gen_random_uuid(), now(), now() + interval '10 days', 365,"
                " 'never_expire', 'x', 'x')"
            )
        )
    await session.rollback()


async def test_a_scheduled_rule_is_announced_at_once_and_applies_only_from_its_date(db):
    now = datetime.now(UTC)
    async with db.session() as session:
        policy = await expiry.schedule_policy(
            session,
            effective_at=now + timedelta(days=45),
            lifetime_days=365,
            existing_grants="never_expire",
            created_by="admin@test",
            now=now,
        )
        notice = expiry.notice(await expiry.announced_policies(session, now=now))
        assert notice is not None and "365 days after purchase" in notice
        assert "never expire" in notice
        # Before the effective date a purchase carries no expiry; after, it does.
        assert await expiry.expiry_for_new_grant(session, now=now + timedelta(days=44)) is None
        later = now + timedelta(days=46)
        assert await expiry.expiry_for_new_grant(session, now=later) == later + timedelta(days=365)
        await session.delete(policy)  # leave no rule behind for other tests
        await session.commit()


async def test_today_nothing_expires(db):
    """No rule is in force: credits bought today carry no expiry date."""
    actor = await new_member(db)
    txn = await checkout(db, actor)
    event = transaction_event(txn, "transaction.completed", "completed")
    async with db.session() as session:
        assert await expiry.expiry_for_new_grant(session) is None
        session.add(
            PaddleEvent(
                event_id=event["event_id"],
                event_type=event["event_type"],
                payload=event,
                transaction_id=txn.id,
            )
        )
        await session.commit()
    outcome = await webhooks.process_event(db, event["event_id"])
    assert outcome is not None
    assert outcome.status == "processed"
    async with db.session() as session:
        stored = await session.get(PaddleTransaction, txn.id)
        assert stored is not None
        grant = await session.scalar(
            select(CreditGrant).where(CreditGrant.entry_id == stored.grant_entry_id)
        )
    assert grant is not None
    assert (grant.amount_mc, grant.source, grant.expires_at) == (500_000, "purchase", None)
