"""bench/ledger.py and bench/webhooks.py run end to end on a tiny size, each on its own
embedded PostgreSQL: every debit and every call billed exactly once, every figure present
(the timing targets are the benches' business, not a test's)."""

from tests.bench.helpers import run_bench


def test_ledger_bench_tiny_run() -> None:
    out = run_bench("bench/ledger.py", "--debits", "400", "--pgbench-seconds", "2")
    runs = [r for r in out if r["bench"] == "ledger"]
    assert sorted((r["api"], r["mode"]) for r in runs) == [
        ("ledger.debit + commit", "hot"),
        ("ledger.debit + commit", "spread"),
        ("ledger.debit_alone", "hot"),
        ("ledger.debit_alone", "spread"),
    ]
    for run in runs:
        assert run["billing_errors"] == 0, run
        assert run["debits"] == 400 and run["debits_per_s"] > 0
    [pgbench] = [r for r in out if r["bench"] == "pgbench"]
    assert pgbench["failed"] == 0 and pgbench["tps"] > 0
    [cmp] = [r for r in out if r["bench"] == "ledger_vs_pgbench"]
    for name in ("hot", "spread", "session_hot", "session_spread"):
        assert cmp[f"{name}_ratio"] > 0
    assert (cmp["target_hot_ratio"], cmp["target_spread_ratio"]) == (0.5, 0.7)


def test_webhooks_bench_tiny_run() -> None:
    [out] = run_bench("bench/webhooks.py", "--callbacks", "400", "--clients", "8")
    assert out["bench"] == "webhooks"
    assert (out["callbacks"], out["non_200"], out["billing_errors"]) == (400, 0, 0)
    assert out["calls"] > 0 and out["stored_results"]["settled"] == out["calls"]
    assert out["callbacks_per_s"] > 0 and out["p99_ms"] >= out["p50_ms"] > 0
