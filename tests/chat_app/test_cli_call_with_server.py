"""A simulated call placed by `klosesales ask` while `klosesales serve` runs on the same
data completes and bills: both processes sign and check with one simulated Twilio token,
made once and kept in the data directory (no TWILIO_AUTH_TOKEN configured)."""

from __future__ import annotations

from sqlalchemy import select

from billing import ledger
from billing.models import LedgerEntry
from telephony.models import Call
from tests.chat_app.helpers import ask_cli, funded_rep
from tests.telephony.helpers import add_contact, number_callable_now


async def test_cli_call_completes_and_bills_against_running_server(db, database, simulated_server):
    actor = await funded_rep(db, 600_000)
    contact = await add_contact(db, actor, phone=number_callable_now(), name="Priya Raman")
    base, data = simulated_server
    ask_cli(database, data, base, actor.email, "call Priya Raman about the renewal", "--yes")
    async with db.session() as s:
        call = await s.scalar(select(Call).where(Call.contact_id == contact.id))
        assert call is not None and call.twilio_sid is not None
        entries = list(
            await s.scalars(
                select(LedgerEntry).where(LedgerEntry.idempotency_key == f"call:{call.id}:settle")
            )
        )
        balance = await ledger.get_balance(s, actor.workspace_id)
    # The server accepted the CLI carrier's signed callbacks: settled, billed once.
    assert call.status == "completed" and call.duration_s is not None
    assert len(entries) == 1 and -entries[0].amount_mc == call.cost_mc == call.duration_s * 1000
    assert balance.held_mc == 0
    token = (data / "sim_twilio_auth_token").read_text().strip()
    assert len(token) >= 32
