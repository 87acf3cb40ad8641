"""bench/campaigns.py end to end on a tiny size (its own embedded PostgreSQL, worker
subprocesses, one killed mid-run): the invariants hold — never more dials in a second
than the limit (by the dispatcher's stamps and by arrival at the carrier), no call
outside its window or past its campaign's cap, no budget overrun, no double dial,
every call billed exactly once. (The throughput and fairness targets are the bench's
business, not a test's.)"""

from tests.bench.helpers import run_bench


def test_campaigns_bench_tiny_run_keeps_every_invariant() -> None:
    out = run_bench(
        "bench/campaigns.py",
        "--contacts",
        "60",
        "--workspaces",
        "4",
        "--cps",
        "10",
        "--cap",
        "3",
        timeout_s=900,
    )
    assert [r["scenario"] for r in out] == ["one_worker", "two_workers_one_killed"]
    for run in out:
        assert run["bench"] == "campaigns"
        assert run["dials"] > 0, run
        assert run["max_stamped_in_any_second"] <= run["cps"], run
        # Counted where it matters: requests arriving at the carrier, any 1-s window.
        assert run["max_calls_in_any_second"] <= run["cps"], run
        for key in (
            "calls_outside_window",
            "cap_violations",
            "budget_overruns",
            "double_dials",
            "billing_errors",
        ):
            assert run[key] == 0, (key, run)
        assert 0 < run["jain_index"] <= 1
        assert run["throughput_ratio"] >= 0
    assert out[1]["killed_workers"] == 1
