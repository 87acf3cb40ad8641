"""The fleet the multi-process tests share: serve processes A and B and a worker on the
one test database (tests/multiprocess/fleet.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from core.db import Database
from tests.multiprocess.fleet import Fleet, serve, worker


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
