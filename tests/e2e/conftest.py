"""Browser tests use `live_server` from tests/conftest.py, or `answering_server`: the
same app whose simulated carrier always reaches a person, with its job worker (the
journeys that need a conversation, a summary and a transcript to search)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from core.db import Database
from tests.conftest import serve_app


@pytest.fixture(scope="module")
def answering_server(database: Database, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    env = {"SIM_CARRIER_ODDS": "answered=1", "SIM_CARRIER_PACE_S": "0.05"}
    with serve_app(database, tmp_path_factory.mktemp("answering-serve"), env, worker=True) as base:
        yield base
