"""What every bench script shares: figures on stdout, event loops, percentiles, CPU
meters, a clean SIGTERM, and a temporary database (embedded PostgreSQL, or the one at
`--database-url`) migrated on entry and removed on exit.

Not a bench itself; `bench/*.py` import it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

log = logging.getLogger("bench")


def emit(record: dict[str, Any]) -> None:
    """One figure line on stdout (and nothing else goes there)."""
    sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()


def run_async(coro: Any, loop: str = "asyncio") -> Any:
    """Run a coroutine on a fresh event loop: the standard one or uvloop.

    SIGTERM cancels the coroutine and then raises SystemExit here: raised from a plain
    signal handler it could land inside a transport callback, which swallows it.
    (SIGINT: asyncio.Runner cancels the coroutine and raises KeyboardInterrupt.)"""
    terminated: list[int] = []

    async def guarded() -> Any:
        task = asyncio.current_task()
        assert task is not None

        def on_sigterm() -> None:
            terminated.append(signal.SIGTERM)
            task.cancel()

        running = asyncio.get_running_loop()
        running.add_signal_handler(signal.SIGTERM, on_sigterm)
        try:
            return await coro
        finally:
            running.remove_signal_handler(signal.SIGTERM)

    previous = signal.getsignal(signal.SIGTERM)
    try:
        if loop == "uvloop":
            import uvloop

            result = uvloop.run(guarded())
        else:
            result = asyncio.run(guarded())
    except asyncio.CancelledError:
        if terminated:
            raise SystemExit(128 + signal.SIGTERM) from None
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)
    if terminated:
        raise SystemExit(128 + signal.SIGTERM)
    return result


def default_loop() -> str:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), round(q / 100 * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


def machine_cpu_times() -> tuple[float, float, float]:
    """(busy, total, stolen) CPU seconds of the whole machine so far, from /proc/stat.

    Stolen time (the hypervisor running someone else) is neither busy nor idle here.
    """
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:9]]
    except (OSError, ValueError):
        return 0.0, 0.0, 0.0
    tick = os.sysconf("SC_CLK_TCK")
    user, nice, system, idle, iowait, irq, softirq, steal = fields
    busy = user + nice + system + irq + softirq
    return busy / tick, (busy + idle + iowait) / tick, steal / tick


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far."""
    busy, total, _stolen = machine_cpu_times()
    return busy, total


def busy_pct(before: tuple[float, float], after: tuple[float, float]) -> float:
    """The whole machine's busy share (%) between two `machine_cpu()` readings."""
    (b0, t0), (b1, t1) = before, after
    return round(100 * (b1 - b0) / (t1 - t0), 1) if t1 > t0 else 0.0


def background_cpu_pct(seconds: float = 1.0) -> float:
    """How busy the machine is before we start (other processes skew the figures)."""
    before = machine_cpu()
    time.sleep(seconds)
    return busy_pct(before, machine_cpu())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class CpuMeter:
    """CPU seconds used by a process and its children (psutil), and by the machine."""

    def __init__(self, pids: dict[str, int]) -> None:
        import psutil  # type: ignore[import-untyped]

        self._procs = {name: psutil.Process(pid) for name, pid in pids.items()}

    def read(self) -> dict[str, float]:
        import psutil

        out: dict[str, float] = {}
        for name, proc in self._procs.items():
            total = 0.0
            try:
                members = [proc, *proc.children(recursive=True)]
            except psutil.Error:
                members = []
            for p in members:
                with contextlib.suppress(psutil.Error):
                    t = p.cpu_times()
                    total += t.user + t.system
            out[name] = total
        out["machine_busy"], out["machine_total"] = machine_cpu()
        out["client"] = time.process_time()
        return out


def postmaster_pid(libpq: str) -> int:
    import psutil
    import psycopg

    with psycopg.connect(libpq) as conn:
        row = conn.execute("SELECT pg_backend_pid()").fetchone()
        assert row is not None
        parent = psutil.Process(row[0]).parent()
    if parent is None:
        raise RuntimeError("cannot find the PostgreSQL server process")
    return int(parent.pid)


async def and_dispose(db: Any, coro: Any) -> Any:
    """Await `coro`, then drop the engine (its connections belong to this event loop)."""
    try:
        return await coro
    finally:
        await db.dispose()


def _terminate(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)  # unwinds through the clean-up in `bench_database`


def start(*, verbose: bool, quiet: Iterable[str]) -> float:
    """Logging to stderr (the `quiet` loggers at WARNING), SIGTERM as SystemExit; returns
    how busy the machine already is, with a warning when it would skew the figures."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(message)s",
    )
    for name in ("alembic", "pgserver", *quiet):
        logging.getLogger(name).setLevel(logging.WARNING)
    signal.signal(signal.SIGTERM, _terminate)
    background = background_cpu_pct()
    if background > 10:
        log.warning("the machine is already %.0f%% busy: the figures will be skewed", background)
    return background


@contextlib.contextmanager
def bench_database(
    database_url: str | None = None, *, keep: str | None = None
) -> Iterator[tuple[Any, Path]]:
    """(a migrated database, a scratch folder): a temporary embedded PostgreSQL, or the
    one at `database_url`; stopped on exit, whatever happened, and its folder removed
    unless it is `keep` (an embedded database left there to be used again)."""
    from core import migrate
    from core.db import Database, sqlalchemy_url, start_embedded
    from core.settings import Settings

    tmp = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="klose-bench-"))
    db = None
    try:
        if database_url:
            db = Database(url=sqlalchemy_url(database_url), embedded=False)
        else:
            db = start_embedded(Settings(data_dir=tmp, embedded_pg_dir=None, database_url=None))
            log.info("embedded PostgreSQL up in %s", tmp)
        t0 = time.perf_counter()
        migrate.upgrade(db.url)
        log.info("migrated in %.1f s", time.perf_counter() - t0)
        yield db, tmp
    except BaseException as exc:
        log.error("stopped by %s; cleaning up", type(exc).__name__)
        raise
    finally:
        if db is not None:
            try:
                run_async(db.dispose())
            finally:
                db.close()
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)
