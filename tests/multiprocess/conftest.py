"""The fleet the multi-process tests share: serve processes A and B and a worker on one
database (tests/multiprocess/fleet.py) — a database of the package's own: the worker
sweeps every workspace (reconciliation, the post-call sweep), so on the xdist worker's
shared database it would work through whatever other test files left behind before it
reached this package's calls, and change those files' rows."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from core import migrate
from core.db import Database
from tests.conftest import empty_database
from tests.multiprocess.fleet import Fleet, serve, worker


@pytest.fixture(scope="package")
def database(pg_server_url: str) -> Iterator[Database]:
    with empty_database(pg_server_url, "klosesales_fleet") as url:
        migrate.upgrade(url)
        yield Database(url=url, embedded=False)


@pytest.fixture
async def db(database: Database) -> AsyncIterator[Database]:
    yield database
    await database.dispose()


@pytest.fixture(scope="package")
def fleet(database: Database, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    root = tmp_path_factory.mktemp("fleet")
    # Simulated calls placed from a chat are answered by a person (not a machine).
    odds = {"SIM_CARRIER_ODDS": "answered=1"}
    with (
        serve(database, root / "b", **odds) as b,
        serve(database, root / "a", public_base_url=b.base, **odds) as a,
        worker(database, root / "worker", PUBLIC_BASE_URL=b.base),
    ):
        yield Fleet(a, b)
