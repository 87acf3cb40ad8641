"""Credit-ledger throughput benchmark, compared with pgbench on the same server.

Starts its own embedded PostgreSQL (pgserver) in a temporary directory, migrates
it, then measures debit throughput with concurrent workers in two modes:

* hot:    every debit hits ONE account (the account's row lock serialises them);
* spread: debits are spread at random over 100 accounts;

and through two APIs (`--apis`):

* alone:   `billing.ledger.debit_alone(...)`, the debit as its own transaction on the
           database's pool of autocommit connections (one per worker): the account's
           lock is released as `ledger_debit` returns. The targets are held to this.
* session: `billing.ledger.debit(...)` + `commit()` in an `AsyncSession` bound to a
           connection of the worker's own: the debit as part of a caller's
           transaction, the lock held until the COMMIT comes back over the network.

Each debit is its own committed transaction with a unique idempotency key. After
each run every account's balance is checked against the expected figure and the
ledger's invariants (`billing.ledger.audit`). Then pgbench's TPC-B-like default
script runs against a separate database on the same server for comparison.

The workers are asyncio tasks (uvloop when installed) spread over `--procs`
client processes (default: one per CPU, at most 2 — like `pgbench -j 2`): one
Python process alone cannot keep up with the server, as the SQLAlchemy + psycopg
client needs about as much CPU per debit as the server does. Each ledger line
shows that split (`client_cpu_ms_per_debit`, `server_cpu_ms_per_debit`, the whole
machine's CPU and steal). `--sql-ceiling` also runs the same `ledger_debit` SQL
through pgbench's C client: what the server sustains without Python.

This machine's speed drifts from minute to minute; `--rounds N` repeats hot,
pgbench, spread N times and compares medians of per-round ratios.

Figures go to stdout, one JSON object per line; logs go to stderr. Run from the
repository root:

    .venv/bin/python bench/ledger.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import multiprocessing as mp
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from bench.harness import (  # noqa: E402  (the path above makes `bench` importable)
    and_dispose,
    bench_database,
    emit,
    machine_cpu_times,
    percentile,
    run_async,
    start,
)

log = logging.getLogger("bench.ledger")

DEBIT_MC = 1_000  # one credit per debit
GRANT_HEADROOM_MC = 1_000_000
TARGET_HOT_RATIO = 0.5
TARGET_SPREAD_RATIO = 0.7
WARMUP_DEBITS_PER_WORKER = 20

Job = tuple[uuid.UUID, str]  # (workspace, idempotency key)
API_LABELS = {
    "alone": "ledger.debit_alone",
    "session": "ledger.debit + commit",
}


# --- helpers --------------------------------------------------------------------------


@dataclass
class CpuSnapshot:
    machine_busy_s: float
    machine_total_s: float
    machine_steal_s: float
    server_s: dict[int, float]  # CPU seconds of each PostgreSQL process


class CpuProbe:
    """CPU used by the whole machine and by the PostgreSQL server's processes."""

    def __init__(self, libpq: str) -> None:
        import psutil  # type: ignore[import-untyped]
        import psycopg

        with psycopg.connect(libpq) as conn:
            backend = conn.execute("SELECT pg_backend_pid()").fetchone()
            assert backend is not None
            postmaster = psutil.Process(backend[0]).parent()  # while the backend lives
        if postmaster is None:
            raise RuntimeError("cannot find the PostgreSQL server process")
        self._postmaster = postmaster

    def snapshot(self) -> CpuSnapshot:
        import psutil

        server: dict[int, float] = {}
        try:
            procs = [self._postmaster, *self._postmaster.children()]
        except psutil.Error:
            procs = []
        for p in procs:
            try:
                t = p.cpu_times()
            except psutil.Error:
                continue
            server[p.pid] = t.user + t.system
        return CpuSnapshot(*machine_cpu_times(), server)

    @staticmethod
    def server_delta(a: CpuSnapshot, b: CpuSnapshot) -> float:
        """Server CPU between two snapshots (processes alive at the second one)."""
        return sum(cpu - a.server_s.get(pid, 0.0) for pid, cpu in b.server_s.items())


# --- the ledger workers ---------------------------------------------------------------


@dataclass
class GroupResult:
    """What one client process reports back."""

    started: float = 0.0
    finished: float = 0.0
    cpu_s: float = 0.0  # this process's CPU time between started and finished
    latencies_s: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


DebitOne = Callable[[uuid.UUID, str], Awaitable[Any]]


async def _worker(
    debit_one: DebitOne,
    jobs: list[Job],
    warmup: list[Job],
    start: asyncio.Event,
    ready: asyncio.Event,
    result: GroupResult,
) -> None:
    """One worker: its debits one after another, each timed."""
    for ws, key in warmup:  # connect, prepare statements and plans: untimed
        await debit_one(ws, key)
    ready.set()
    await start.wait()
    latencies = result.latencies_s
    clock = time.perf_counter
    for ws, key in jobs:
        t0 = clock()
        try:
            res = await debit_one(ws, key)
        except Exception as exc:
            result.errors.append(f"{key}: {type(exc).__name__}: {exc}")
            continue
        latencies.append(clock() - t0)
        if res.status != "ok":  # e.g. 'duplicate': nothing was debited
            result.errors.append(f"{key}: status {res.status}")


@contextlib.asynccontextmanager
async def _in_session(engine: Any) -> AsyncIterator[DebitOne]:
    """`ledger.debit` + `commit()` in a session bound to a connection of the worker's
    own: the connection stays checked out (no pool checkout or pre-ping per debit);
    every commit() ends the debit's transaction and the next debit begins a new one."""
    from sqlalchemy.ext.asyncio import AsyncSession

    from billing import ledger

    async with engine.connect() as conn:
        session = AsyncSession(bind=conn, expire_on_commit=False)

        async def debit_one(ws: uuid.UUID, key: str) -> Any:
            try:
                res = await ledger.debit(
                    session, ws, amount_mc=DEBIT_MC, idempotency_key=key, kind="query"
                )
                await session.commit()
            except Exception:
                await session.rollback()
                raise
            return res

        try:
            yield debit_one
        finally:
            await session.close()


def _alone(db: Any) -> DebitOne:
    """`ledger.debit_alone`: each debit its own transaction on the function pool."""
    from billing import ledger

    async def debit_one(ws: uuid.UUID, key: str) -> Any:
        return await ledger.debit_alone(
            db, ws, amount_mc=DEBIT_MC, idempotency_key=key, kind="query"
        )

    return debit_one


async def _run_group(
    url: str,
    api: str,
    worker_jobs: list[list[Job]],
    worker_warmup: list[list[Job]],
    before_start: Callable[[], Any],
    after_finish: Callable[[], Any] | None,
) -> GroupResult:
    """Run some workers as asyncio tasks in this process."""
    from sqlalchemy.engine import make_url

    from core.db import Database

    n = len(worker_jobs)
    db = Database(url=make_url(url), embedded=False)
    db.engine(pool_size=n)  # the function pool takes the same size: a connection a worker
    result = GroupResult()
    ready = [asyncio.Event() for _ in range(n)]
    start = asyncio.Event()
    try:
        async with contextlib.AsyncExitStack() as stack:
            debits = [
                _alone(db)
                if api == "alone"
                else await stack.enter_async_context(_in_session(db.engine()))
                for _ in range(n)
            ]
            tasks = [
                asyncio.create_task(_worker(debit_one, jobs, warm, start, r, result))
                for debit_one, jobs, warm, r in zip(
                    debits, worker_jobs, worker_warmup, ready, strict=True
                )
            ]
            # Wait until every worker has warmed up (or one has failed).
            all_ready: asyncio.Future[Any] = asyncio.ensure_future(
                asyncio.gather(*(r.wait() for r in ready))
            )
            pending: list[asyncio.Future[Any]] = [all_ready, *tasks]
            await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            all_ready.cancel()
            if all(r.is_set() for r in ready):
                # In a child process this blocks until every process is ready.
                await asyncio.get_running_loop().run_in_executor(None, before_start)
            cpu0 = time.process_time()
            result.started = time.perf_counter()
            start.set()
            await asyncio.gather(*tasks)  # re-raises a worker's set-up failure
            result.finished = time.perf_counter()
            result.cpu_s = time.process_time() - cpu0
            if after_finish is not None:
                after_finish()
    finally:
        await db.dispose()
    return result


def _child_main(
    url: str,
    api: str,
    worker_jobs: Any,
    worker_warmup: Any,
    loop: str,
    ready_q: Any,
    go: Any,
    done_q: Any,
    release: Any,
    out_q: Any,
) -> None:
    """Entry point of a client process (spawned)."""
    announced = finished = False

    def wait_for_go() -> None:
        nonlocal announced
        ready_q.put(os.getpid())
        announced = True
        go.wait()

    def wait_for_release() -> None:
        # Keep the connections (and their server processes) open until the parent
        # has read the server's CPU use.
        nonlocal finished
        done_q.put(os.getpid())
        finished = True
        release.wait(timeout=60)

    try:
        result = run_async(
            _run_group(url, api, worker_jobs, worker_warmup, wait_for_go, wait_for_release),
            loop,
        )
        out_q.put(("ok", result))
    except BaseException as exc:
        if not announced:
            ready_q.put(-1)
        if not finished:
            done_q.put(-1)
        out_q.put(("error", f"{type(exc).__name__}: {exc}"))


def run_workers(
    url: str,
    api: str,
    worker_jobs: list[list[Job]],
    worker_warmup: list[list[Job]],
    procs: int,
    loop: str,
    probe: CpuProbe,
) -> tuple[list[GroupResult], CpuSnapshot, CpuSnapshot]:
    """Run the workers over `procs` client processes (1: in this process)."""
    snaps: list[CpuSnapshot] = []
    if procs <= 1:
        group = run_async(
            _run_group(
                url,
                api,
                worker_jobs,
                worker_warmup,
                lambda: snaps.append(probe.snapshot()),
                lambda: snaps.append(probe.snapshot()),
            ),
            loop,
        )
        return [group], snaps[0], snaps[-1]

    ctx = mp.get_context("spawn")
    ready_q, done_q, out_q = ctx.Queue(), ctx.Queue(), ctx.Queue()
    go, release = ctx.Event(), ctx.Event()
    children = []
    for p in range(procs):
        jobs, warm = worker_jobs[p::procs], worker_warmup[p::procs]
        child = ctx.Process(
            target=_child_main,
            args=(url, api, jobs, warm, loop, ready_q, go, done_q, release, out_q),
            daemon=True,
        )
        child.start()
        children.append(child)
    completed = False
    try:
        for _ in children:
            if ready_q.get(timeout=300) == -1:
                break
        start_snap = probe.snapshot()
        go.set()
        for _ in children:
            done_q.get(timeout=3600)
        end_snap = probe.snapshot()
        release.set()
        results: list[GroupResult] = []
        failures: list[str] = []
        for _ in children:
            status, payload = out_q.get(timeout=600)
            (results if status == "ok" else failures).append(payload)
        if failures:
            raise RuntimeError(f"client process failed: {failures[0]}")
        completed = True
    finally:
        for child in children:
            if completed:
                child.join(timeout=10)
            if child.is_alive():
                child.terminate()
                child.join(timeout=10)
    return results, start_snap, end_snap


# --- set-up and checks ----------------------------------------------------------------


async def create_accounts(db: Any, amounts: list[int], label: str) -> list[uuid.UUID]:
    """One workspace per amount, each granted that many milli-credits (committed)."""
    from accounts.service import create_workspace
    from billing import ledger

    ids = []
    async with db.session() as s:
        for i, amount in enumerate(amounts):
            ws = await create_workspace(s, f"bench {label} {i}")
            await ledger.grant(
                s,
                ws.id,
                amount_mc=amount,
                idempotency_key=f"bench-grant-{label}-{ws.id}",
                source="bench",
            )
            ids.append(ws.id)
        await s.commit()
    return ids


async def check_balances(db: Any, expected: dict[uuid.UUID, int | None]) -> int:
    """Accounts whose balance (None: not checked) or ledger invariants are off."""
    from billing import ledger

    mismatches = 0
    async with db.session() as s:
        for ws, want in expected.items():
            audit = await ledger.audit(s, ws)
            if (want is not None and audit.balance_mc != want) or not audit.consistent:
                log.error(
                    "account %s: balance %d, expected %s, audit %s",
                    ws,
                    audit.balance_mc,
                    want,
                    audit,
                )
                mismatches += 1
    return mismatches


async def balances(db: Any, ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    from billing import ledger

    async with db.session() as s:
        return {ws: (await ledger.get_balance(s, ws)).balance_mc for ws in ids}


def checkpoint(libpq: str) -> None:
    """Start each measurement with no checkpoint debt from the previous one."""
    import psycopg

    with psycopg.connect(libpq, autocommit=True) as conn:
        conn.execute("CHECKPOINT")


# --- the ledger benchmark -------------------------------------------------------------


def bench_ledger(db: Any, mode: str, api: str, args: argparse.Namespace) -> dict[str, Any]:
    debits, workers = args.debits, args.workers
    n_accounts = 1 if mode == "hot" else args.accounts
    rng = random.Random(args.seed)
    run = uuid.uuid4().hex[:8]
    # Plan every debit up front: which account, which key, which worker.
    targets = [rng.randrange(n_accounts) for _ in range(debits)]
    per_account = [0] * n_accounts
    for t in targets:
        per_account[t] += 1
    grants = [c * DEBIT_MC + GRANT_HEADROOM_MC for c in per_account]
    warm_grant = workers * WARMUP_DEBITS_PER_WORKER * DEBIT_MC + GRANT_HEADROOM_MC

    ids = run_async(and_dispose(db, create_accounts(db, grants, f"{mode}-{run}")))
    warm_ws = run_async(and_dispose(db, create_accounts(db, [warm_grant], f"warm-{run}")))[0]
    worker_jobs: list[list[Job]] = [[] for _ in range(workers)]
    for i, t in enumerate(targets):
        worker_jobs[i % workers].append((ids[t], f"bench-{api}-{mode}-{run}-{i}"))
    worker_warmup = [
        [
            (warm_ws, f"bench-warmup-{api}-{mode}-{run}-{w}-{j}")
            for j in range(WARMUP_DEBITS_PER_WORKER)
        ]
        for w in range(workers)
    ]
    checkpoint(db.libpq_url)

    log.info(
        "ledger %s (%s): %d debits, %d workers, %d account(s), %d client process(es), %s",
        mode,
        api,
        debits,
        workers,
        n_accounts,
        args.procs,
        args.loop,
    )
    probe = CpuProbe(db.libpq_url)
    url = db.url.render_as_string(hide_password=False)
    groups, snap0, snap1 = run_workers(
        url, api, worker_jobs, worker_warmup, args.procs, args.loop, probe
    )
    wall = max(g.finished for g in groups) - min(g.started for g in groups)
    latencies = sorted(x for g in groups for x in g.latencies_s)
    errors = [e for g in groups for e in g.errors]
    for e in errors[:5]:
        log.error("debit failed: %s", e)

    expected: dict[uuid.UUID, int | None] = {
        ws: g - c * DEBIT_MC for ws, g, c in zip(ids, grants, per_account, strict=True)
    }
    mismatches = run_async(and_dispose(db, check_balances(db, expected)))
    done = len(latencies)  # debits that returned and committed
    raised = sum(1 for e in errors if ": status " not in e)
    missing = debits - done - raised
    per = 1000 / max(done, 1)
    machine_busy = snap1.machine_busy_s - snap0.machine_busy_s
    machine_total = snap1.machine_total_s - snap0.machine_total_s
    steal = snap1.machine_steal_s - snap0.machine_steal_s
    client_cpu = sum(g.cpu_s for g in groups)
    server_cpu = CpuProbe.server_delta(snap0, snap1)
    return {
        "bench": "ledger",
        "mode": mode,
        "api": API_LABELS[api],
        "debits": debits,
        "workers": workers,
        "accounts": n_accounts,
        "client_procs": args.procs,
        "event_loop": args.loop,
        "duration_s": round(wall, 3),
        "debits_per_s": round(done / wall, 1) if wall > 0 else 0.0,
        "p50_ms": round(percentile(latencies, 50) * 1000, 2),
        "p99_ms": round(percentile(latencies, 99) * 1000, 2),
        # where the CPU went, per debit: the Python client vs the PostgreSQL server
        "client_cpu_ms_per_debit": round(client_cpu * per, 3),
        "server_cpu_ms_per_debit": round(server_cpu * per, 3),
        "machine_cpu_ms_per_debit": round(machine_busy * per, 3),
        "machine_cpu_util_pct": (
            round(100 * machine_busy / machine_total, 1) if machine_total > 0 else None
        ),
        # CPU the hypervisor gave to others: > a few % means noisy figures
        "machine_steal_pct": (
            round(100 * steal / (machine_total + steal), 1) if machine_total > 0 else None
        ),
        # failed or non-'ok' debits + accounts whose balance/invariants are off
        "billing_errors": len(errors) + mismatches + missing,
    }


# --- pgbench --------------------------------------------------------------------------


def pgbench_path() -> Path:
    import pgserver

    return Path(pgserver.__file__).parent / "pginstall" / "bin" / "pgbench"


def run_pgbench(args: list[str], target: str) -> dict[str, Any]:
    """Run pgbench; tps and friends from its report, plus the machine's CPU use."""
    b0, t0, s0 = machine_cpu_times()
    run = subprocess.run(
        [str(pgbench_path()), *args, target], capture_output=True, text=True, check=False
    )
    b1, t1, s1 = machine_cpu_times()
    sys.stderr.write(run.stdout)
    if run.returncode != 0:
        raise RuntimeError(f"pgbench failed: {run.stderr.strip()}")
    m = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", run.stdout)
    n = re.search(r"number of transactions actually processed: (\d+)", run.stdout)
    if m is None or n is None:
        raise RuntimeError(f"no tps in pgbench output:\n{run.stdout}")
    out: dict[str, Any] = {"tps": float(m.group(1)), "transactions": int(n.group(1))}
    lat = re.search(r"latency average = ([0-9.]+) ms", run.stdout)
    failed = re.search(r"number of failed transactions: (\d+)", run.stdout)
    if lat:
        out["latency_avg_ms"] = float(lat.group(1))
    if failed:
        out["failed"] = int(failed.group(1))
    if t1 > t0 and out["transactions"]:
        out["machine_cpu_ms_per_txn"] = round((b1 - b0) / out["transactions"] * 1000, 3)
        out["machine_cpu_util_pct"] = round(100 * (b1 - b0) / (t1 - t0), 1)
        out["machine_steal_pct"] = round(100 * (s1 - s0) / (t1 - t0 + s1 - s0), 1)
    return out


def bench_pgbench(db: Any, clients: int, threads: int, seconds: int) -> dict[str, Any]:
    """pgbench's built-in TPC-B-like script, scale 1, on a database of its own."""
    import psycopg

    from core.db import libpq_url

    with psycopg.connect(db.libpq_url, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS pgbench")
        conn.execute("CREATE DATABASE pgbench")
    target = libpq_url(db.url.set(database="pgbench"))
    log.info("pgbench: initialising (scale 1)")
    init = subprocess.run(
        [str(pgbench_path()), "-i", "-s", "1", "-q", target],
        capture_output=True,
        text=True,
        check=False,
    )
    if init.returncode != 0:
        raise RuntimeError(f"pgbench -i failed: {init.stderr.strip()}")
    checkpoint(target)
    log.info("pgbench: %d clients, %d threads, %d s", clients, threads, seconds)
    # -n: no vacuum before the run; `pgbench -i` has just vacuumed its tables.
    res = run_pgbench(["-n", "-c", str(clients), "-j", str(threads), "-T", str(seconds)], target)
    return {
        "bench": "pgbench",
        "clients": clients,
        "threads": threads,
        "scale": 1,
        "tps": res.pop("tps"),
        "duration_s": seconds,
        **res,
    }


def bench_sql_ceiling(db: Any, mode: str, args: argparse.Namespace) -> dict[str, Any]:
    """The same ledger_debit SQL (BEGIN; SELECT ledger_debit(...); COMMIT) driven by
    pgbench's C client: what the server sustains without the Python client."""
    import psycopg

    n_accounts = 1 if mode == "hot" else args.accounts
    run = uuid.uuid4().hex[:8]
    per_account = 10**12  # far more than 8 clients can spend in the run
    ids = run_async(
        and_dispose(db, create_accounts(db, [per_account] * n_accounts, f"sql-{mode}-{run}"))
    )
    table = f"bench_ws_{run}"
    with psycopg.connect(db.libpq_url, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {table} (i int PRIMARY KEY, ws uuid NOT NULL)")
        with conn.cursor() as cur:
            cur.executemany(f"INSERT INTO {table} VALUES (%s, %s)", list(enumerate(ids)))
    fd, name = tempfile.mkstemp(suffix=".sql")
    os.close(fd)
    script = Path(name)
    script.write_text(
        f"\\set a random(0, {n_accounts - 1})\n"
        "BEGIN;\n"
        f"SELECT * FROM ledger_debit((SELECT ws FROM {table} WHERE i = :a),"
        f" 'sql-{run}-' || gen_random_uuid(), {DEBIT_MC}, 'query', '', CAST('{{}}' AS jsonb));\n"
        "COMMIT;\n"
    )
    checkpoint(db.libpq_url)
    log.info(
        "ledger SQL via pgbench (%s): %d clients, %d s", mode, args.workers, args.pgbench_seconds
    )
    try:
        res = run_pgbench(
            [
                "-n",
                "-M",
                "prepared",
                "-c",
                str(args.workers),
                "-j",
                str(args.pgbench_threads),
                "-T",
                str(args.pgbench_seconds),
                "-f",
                str(script),
            ],
            db.libpq_url,
        )
    finally:
        script.unlink(missing_ok=True)
    # Each transaction debited once: the balances must add up (and the audits hold).
    after = run_async(and_dispose(db, balances(db, ids)))
    spent = sum(per_account - b for b in after.values())
    mismatches = int(spent != res["transactions"] * DEBIT_MC)
    mismatches += run_async(and_dispose(db, check_balances(db, dict.fromkeys(ids))))
    return {
        "bench": "ledger_sql_pgbench",
        "mode": mode,
        "clients": args.workers,
        "accounts": n_accounts,
        "tps": res.pop("tps"),
        "duration_s": args.pgbench_seconds,
        **res,
        "billing_errors": mismatches + res.get("failed", 0),
    }


def compare(
    ledger_runs: dict[tuple[str, str], list[dict[str, Any]]],
    pgbench_runs: list[dict[str, Any]],
    background: float,
) -> dict[str, Any]:
    """Ledger debits/s over pgbench TPS (the median over rounds) against the targets,
    which `ledger.debit_alone` is held to; `ledger.debit` + `commit()` (the debit in a
    caller's transaction) is shown beside it as `session_*`."""
    from statistics import median

    tps = [r["tps"] for r in pgbench_runs]
    cmp: dict[str, Any] = {"bench": "ledger_vs_pgbench", "pgbench_tps": round(median(tps), 1)}
    if len(tps) > 1:
        cmp["rounds"] = len(tps)
    ok = None
    for (api, mode), runs in ledger_runs.items():
        if not runs:
            continue
        name = mode if api == "alone" else f"{api}_{mode}"
        ratios = [r["debits_per_s"] / t for r, t in zip(runs, tps, strict=True)]
        cmp[f"{name}_ratio"] = round(median(ratios), 3)
        if len(ratios) > 1:
            cmp[f"{name}_ratios"] = [round(x, 3) for x in ratios]
        if api == "alone":
            target = TARGET_HOT_RATIO if mode == "hot" else TARGET_SPREAD_RATIO
            cmp[f"target_{mode}_ratio"] = target
            errors = sum(r["billing_errors"] for r in runs)
            ok = (ok is not False) and median(ratios) >= target and errors == 0
    cmp["meets_target"] = bool(ok)
    cmp["background_cpu_pct"] = background
    return cmp


# --- main -----------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Ledger debit throughput (hot account / spread accounts) vs pgbench TPC-B "
        "on a temporary embedded PostgreSQL. JSON figures on stdout, logs on stderr."
    )
    p.add_argument(
        "--quick", action="store_true", help="small run: 2,000 debits per mode, 5 s of pgbench"
    )
    p.add_argument(
        "--debits", type=int, default=None, help="debits per mode (default 20000, --quick 2000)"
    )
    p.add_argument(
        "--workers", type=int, default=8, help="concurrent workers, one connection each (default 8)"
    )
    p.add_argument(
        "--accounts", type=int, default=100, help="accounts for the spread mode (default 100)"
    )
    p.add_argument(
        "--procs",
        type=int,
        default=min(2, os.cpu_count() or 1),
        help="client processes the workers are spread over (default: CPUs, at most 2)",
    )
    p.add_argument(
        "--loop",
        choices=("uvloop", "asyncio"),
        default=None,
        help="client event loop (default uvloop when installed)",
    )
    p.add_argument(
        "--pgbench-seconds", type=int, default=None, help="pgbench duration (default 20, --quick 5)"
    )
    p.add_argument("--pgbench-threads", type=int, default=2, help="pgbench -j (default 2)")
    p.add_argument("--modes", default="hot,spread", help="comma-separated: hot,spread")
    p.add_argument(
        "--apis",
        default="alone,session",
        help="comma-separated: alone (ledger.debit_alone, each debit its own transaction: "
        "what the targets hold), session (ledger.debit + commit in a session)",
    )
    p.add_argument("--no-pgbench", action="store_true", help="skip pgbench and the ratios")
    p.add_argument(
        "--sql-ceiling",
        action="store_true",
        help="also run the ledger_debit SQL through pgbench's C client",
    )
    p.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="repeat hot, pgbench, spread this many times; ratios are medians",
    )
    p.add_argument("--seed", type=int, default=1, help="random seed for the spread plan")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    args = p.parse_args(argv)
    if args.debits is None:
        args.debits = 2_000 if args.quick else 20_000
    if args.pgbench_seconds is None:
        args.pgbench_seconds = 5 if args.quick else 20
    args.modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if not set(args.modes) <= {"hot", "spread"}:
        p.error("--modes takes hot and/or spread")
    args.apis = [a.strip() for a in args.apis.split(",") if a.strip()]
    if not args.apis or not set(args.apis) <= set(API_LABELS):
        p.error("--apis takes alone and/or session")
    if (
        min(args.workers, args.debits, args.accounts, args.procs, args.pgbench_seconds, args.rounds)
        < 1
    ):
        p.error(
            "--workers, --debits, --accounts, --procs, --pgbench-seconds and --rounds must be >= 1"
        )
    args.procs = min(args.procs, args.workers)
    if args.loop is None:
        try:
            import uvloop  # noqa: F401
        except ImportError:
            args.loop = "asyncio"
        else:
            args.loop = "uvloop"
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Logging, SIGTERM as SystemExit, and how busy the machine was before we started.
    background = start(verbose=args.verbose, quiet=())
    t_start = time.perf_counter()
    with bench_database() as (db, _tmp):
        runs = [(api, mode) for api in args.apis for mode in args.modes]
        ledger_runs: dict[tuple[str, str], list[dict[str, Any]]] = {r: [] for r in runs}
        pgbench_runs: list[dict[str, Any]] = []
        # The ledger runs with pgbench in their middle: the machine's speed drifts, so
        # the comparison figure is measured next to the ledger figures.
        steps: list[Any] = [*runs[:1], "pgbench", *runs[1:]]
        if args.no_pgbench:
            steps.remove("pgbench")
        if args.sql_ceiling:
            steps += [f"sql-{m}" for m in args.modes]
        for rnd in range(1, args.rounds + 1):
            tag = {"round": rnd} if args.rounds > 1 else {}
            for step in steps:
                if step == "pgbench":
                    rec = bench_pgbench(
                        db, args.workers, args.pgbench_threads, args.pgbench_seconds
                    )
                    pgbench_runs.append(rec)
                elif isinstance(step, str):
                    rec = bench_sql_ceiling(db, step.removeprefix("sql-"), args)
                else:
                    rec = bench_ledger(db, step[1], step[0], args)
                    ledger_runs[step].append(rec)
                emit({**rec, **tag})
        if pgbench_runs:
            emit(compare(ledger_runs, pgbench_runs, background))
        log.info("done in %.1f s", time.perf_counter() - t_start)
        return 0


if __name__ == "__main__":
    sys.exit(main())
