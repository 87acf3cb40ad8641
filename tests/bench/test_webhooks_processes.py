"""bench/webhooks.py --processes 2 runs end to end on a tiny size: one process, then two
behind a round-robin client (a call's callbacks land on both), every call billed once in
both runs, and both reported beside pgbench's TPS from the same run."""

from tests.bench.helpers import run_bench


def test_webhooks_bench_two_processes_tiny_run() -> None:
    out = run_bench(
        "bench/webhooks.py",
        "--callbacks",
        "400",
        "--clients",
        "8",
        "--processes",
        "2",
        "--pgbench-seconds",
        "2",
        timeout_s=600,
    )
    assert [run["processes"] for run in out] == [1, 2]
    for run in out:
        assert (run["callbacks"], run["non_200"], run["billing_errors"]) == (400, 0, 0)
        assert run["calls"] > 0 and run["stored_results"]["settled"] == run["calls"]
        assert run["callbacks_per_s"] > 0 and run["p99_ms"] >= run["p50_ms"] > 0
        assert run["pgbench_tps"] > 0
        assert run["pgbench_ratio"] == round(run["callbacks_per_s"] / run["pgbench_tps"], 3)
