"""A running server in simulated mode for the tests that drive `klosesales ask` against
it: no Twilio or Paddle secret configured, so the server and every `ask` process make
and share theirs in one data folder (issue 19, item 4)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.db import Database
from tests.conftest import serve_app

SIMULATED = {"TWILIO_AUTH_TOKEN": None, "PADDLE_WEBHOOK_SECRET": None}


@pytest.fixture(scope="session")
def simulated_server(
    database: Database, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    """(the server's base URL, the data folder it shares with every `ask` process)."""
    data = tmp_path_factory.mktemp("simulated-serve")
    with serve_app(database, data, SIMULATED) as base:
        yield base, data
