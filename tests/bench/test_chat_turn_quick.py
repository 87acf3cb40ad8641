"""bench/chat_turn.py runs end to end on a tiny size: every message answered and billed
once at its price, the figures present (the timing targets are the bench's business,
not a test's)."""

from core.db import Database
from tests.bench.helpers import run_bench


def test_chat_turn_bench_tiny_run(database: Database) -> None:
    [out] = run_bench(
        "bench/chat_turn.py",
        "--database-url",
        database.url.render_as_string(hide_password=False),
        "--embedder",
        "hashing",
        "--messages",
        "10",
        "--warmup",
        "5",
        "--sessions",
        "3",
        "--per-session",
        "3",
        "--calls-per-user",
        "1",
        timeout_s=240,
    )
    assert out["bench"] == "chat_turn"
    assert (out["answered"], out["errors"]) == (10, 0)
    assert out["overhead_p95_ms"] > 0 and out["model_p50_ms"] > 0
    assert (out["concurrent_answered"], out["concurrent_errors"]) == (9, 0)
    assert out["concurrent_billing_errors"] == 0
    # Only answers that did work are charged (DESIGN.md §1): the bench works out what
    # each answer must cost, and the ledger must agree to the milli-credit.
    debited = out["concurrent_debited_mc"]
    assert debited == out["concurrent_expected_debited_mc"] and debited % 500 == 0
    assert debited <= 9 * 500
    assert out["concurrent_end_balance_mc"] == out["concurrent_start_balance_mc"] - debited
    assert out["concurrent_held_mc"] == 0
