"""Helpers for tests that need a campaign to exist."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import time

from accounts.service import Actor
from campaigns import service
from campaigns.models import Campaign, CampaignStatus
from campaigns.windows import EVERY_DAY, CampaignWindow
from core import migrate
from core.db import Database
from tests.conftest import empty_database


async def seed_paused_campaign(db: Database, actor: Actor, *contacts: str) -> Campaign:
    """A paused campaign calling `contacts` (names): nothing dials it until resumed."""
    spec = service.CampaignSpec(
        name="Seeded campaign",
        purpose="the renewal",
        selection=service.Selection(contacts=tuple(contacts)),
        window=CampaignWindow(EVERY_DAY, time(0), time(23, 59)),
        max_concurrent=1,
        budget_mc=100_000,
        max_attempts=1,
    )
    async with db.session() as session:
        campaign, _plan = await service.create_campaign(session, actor, spec)
        campaign.status = CampaignStatus.PAUSED.value
        await session.commit()
        return campaign


@contextlib.contextmanager
def private_database(server_url: str, prefix: str) -> Iterator[Database]:
    """A database of its own, migrated: the dispatchers of the live servers other tests
    start (on the shared test database) never see its dial queue."""
    with empty_database(server_url, prefix) as url:
        migrate.upgrade(url)
        yield Database(url=url, embedded=False)
