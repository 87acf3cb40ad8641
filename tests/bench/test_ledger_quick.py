"""bench/ledger.py runs end to end on a tiny size, on its own embedded PostgreSQL: every
debit billed exactly once, every figure present (the timing targets are the bench's
business, not a test's). bench/webhooks.py's one-process run is the first half of
tests/bench/test_webhooks_processes.py."""

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
