"""A simulated call placed by `klosesales ask` while `klosesales serve` runs on the same
data completes and bills: both processes sign and check with one simulated Twilio token,
made once and kept in the data directory (no TWILIO_AUTH_TOKEN configured)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from billing import ledger
from billing.models import LedgerEntry
from core.db import Database
from telephony.models import Call
from tests.chat_app.helpers import funded_rep
from tests.conftest import serve_app
from tests.telephony.helpers import add_contact, number_callable_now

SIMULATED = {"TWILIO_AUTH_TOKEN": None, "PADDLE_WEBHOOK_SECRET": None}


def _ask(database: Database, data_dir: Path, base: str, email: str, text: str) -> str:
    env = {
        **os.environ,
        "DATABASE_URL": database.url.render_as_string(hide_password=False),
        "DATA_DIR": str(data_dir),
        "PUBLIC_BASE_URL": base,
        "SIM_CARRIER_ODDS": "answered=1",
        "SIM_CARRIER_PACE_S": "0.05",
        "LOG_LEVEL": "WARNING",
    }
    for name in ("TWILIO_AUTH_TOKEN", "PADDLE_WEBHOOK_SECRET", "OPENAI_API_KEY"):
        env.pop(name, None)
    proc = subprocess.run(
        [sys.executable, "-m", "chat_app.cli", "ask", "--user", email, "--yes", text],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


async def test_cli_call_completes_and_bills_against_running_server(db, database, tmp_path):
    actor = await funded_rep(db, 600_000)
    contact = await add_contact(db, actor, phone=number_callable_now(), name="Priya Raman")
    with serve_app(database, tmp_path, SIMULATED) as base:
        _ask(database, tmp_path, base, actor.email, "call Priya Raman about the renewal")
        async with db.session() as s:
            call = await s.scalar(select(Call).where(Call.contact_id == contact.id))
            assert call is not None and call.twilio_sid is not None
            entries = list(
                await s.scalars(
                    select(LedgerEntry).where(
                        LedgerEntry.idempotency_key == f"call:{call.id}:settle"
                    )
                )
            )
            balance = await ledger.get_balance(s, actor.workspace_id)
    # The server accepted the CLI carrier's signed callbacks: settled, billed once.
    assert call.status == "completed" and call.duration_s is not None
    assert len(entries) == 1 and -entries[0].amount_mc == call.cost_mc == call.duration_s * 1000
    assert balance.held_mc == 0
    token = (tmp_path / "sim_twilio_auth_token").read_text().strip()
    assert len(token) >= 32
