"""`klosesales serve --port N` with no PUBLIC_BASE_URL is reached at that port: its own
pages' form posts pass the same-origin check (they used to be refused as coming from
another site, since the default named port 8000)."""

from __future__ import annotations

import httpx

from tests.conftest import serve_app


def test_serve_on_any_port_accepts_its_own_pages(database, tmp_path):
    with serve_app(database, tmp_path, {"PUBLIC_BASE_URL": None}) as base:
        own = httpx.post(f"{base}/account/logout", headers={"origin": base}, timeout=30)
        other = httpx.post(
            f"{base}/account/logout", headers={"origin": "http://127.0.0.1:8000"}, timeout=30
        )
    assert own.status_code == 303, own.text  # signed out (of nothing) and sent to login
    assert other.status_code == 403, other.text
