"""Wall time of `klosesales ask` answering a simple question from a cold process.

Starts its own embedded PostgreSQL in a temporary directory (or uses `--database-url`,
where it only adds a workspace of its own), migrates it, adds a workspace with credits
and one user, then runs `klosesales ask "<question>" --user … --json` `--runs` times,
each a new process pointed at that database (`DATABASE_URL`), as a rep would from a
shell. Also times `--runs` bare imports of what `ask` needs (`python -c "import
chat_app.cli"`) to show how much of the wall time is Python starting.

Prints one JSON object per figure: `ask_cold_p50_ms`, `ask_cold_p95_ms` (target:
≤ 2,000 ms), the same in CPU time (`ask_cold_cpu_*`: on a busy shared machine the wall
time also counts waiting for a core), the answer's tool and status (it must be answered
by `check_credits`), `import_cli_p50_ms`, and the machine's load average before and
after (`load_avg_1m`: figures taken under different loads do not compare).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import background_cpu_pct, bench_database, emit, percentile  # noqa: E402

KLOSESALES = ROOT / ".venv" / "bin" / "klosesales"
PYTHON = ROOT / ".venv" / "bin" / "python"


async def _seed(db: object) -> str:
    """A workspace with 100 credits and one rep; returns the rep's email."""
    from accounts.models import Role, User
    from accounts.service import create_workspace
    from billing import ledger

    email = f"ask-cold-{uuid.uuid4().hex[:10]}@example.test"
    async with db.session() as s:  # type: ignore[attr-defined]
        ws = await create_workspace(s, f"ask cold {uuid.uuid4().hex[:6]}")
        s.add(User(workspace_id=ws.id, email=email, name="Cold Rep", role=Role.REP.value))
        await ledger.grant(
            s, ws.id, amount_mc=100_000, idempotency_key=f"ask-cold-{ws.id}", source="bench"
        )
        await s.commit()
    await db.dispose()  # type: ignore[attr-defined]
    return email


def _cpu_s() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def _timed(command: list[str], env: dict[str, str]) -> tuple[float, str, float]:
    """(wall ms, stdout, CPU ms of the child: what it costs on a machine shared with
    others, where the wall time also counts waiting for a core)."""
    cpu = _cpu_s()
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    elapsed_ms = (time.perf_counter() - started) * 1000
    if done.returncode != 0:
        raise SystemExit(f"{command[0]} failed ({done.returncode}): {done.stderr[-2000:]}")
    return elapsed_ms, done.stdout, (_cpu_s() - cpu) * 1000


_PROFILED = """
import cProfile, sys
from chat_app.cli import cli
profile = cProfile.Profile()
sys.argv = ["klosesales", *sys.argv[2:]]
profile.enable()
try:
    cli()
except SystemExit:
    pass
finally:
    profile.disable()
    profile.dump_stats("{out}")
"""


def _profile(folder: Path, ask_args: list[str], env: dict[str, str]) -> None:
    """One `ask` with `-X importtime` (importtime.txt) and one under cProfile (ask.prof)."""
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [str(PYTHON), "-X", "importtime", "-m", "chat_app.cli", *ask_args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    (folder / "importtime.txt").write_text(done.stderr, encoding="utf-8")
    code = _PROFILED.replace("{out}", str(folder / "ask.prof"))
    subprocess.run(
        [str(PYTHON), "-c", code, "--", *ask_args], env=env, capture_output=True, check=False
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="3 runs")
    parser.add_argument("--question", default="how many credits do I have?")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--keep", default=None, help="keep (or reuse) the database in this folder")
    parser.add_argument(
        "--profile", default=None, help="also write importtime.txt and ask.prof (cProfile) here"
    )
    args = parser.parse_args()
    runs = 3 if args.quick else args.runs
    emit(
        {
            "background_cpu_pct": round(background_cpu_pct(), 1),
            "load_avg_1m": round(os.getloadavg()[0], 2),  # `uptime`'s: note it with figures
        }
    )
    with bench_database(args.database_url, keep=args.keep) as (db, tmp):
        email = asyncio.run(_seed(db))
        env = {
            **os.environ,
            "DATABASE_URL": db.libpq_url,
            "DATA_DIR": str(tmp),
            "LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(ROOT),  # this tree, even where the installed package lags
        }
        env.pop("OPENAI_API_KEY", None)  # the offline model
        ask = [str(KLOSESALES), "ask", args.question, "--user", email, "--json"]
        _, first, _ = _timed(ask, env)  # untimed: the OS file cache warm, as for a user
        answer = json.loads(first)
        emit(
            {
                "user": email,
                "database_url": db.libpq_url,
                "question": args.question,
                "tool_calls": [c["name"] for c in answer["tool_calls"]],
                "status": answer["status"],
                "cost_mc": answer["cost_mc"],
            }
        )
        timed = [_timed(ask, env) for _ in range(runs)]
        walls = sorted(t[0] for t in timed)
        cpus = sorted(t[2] for t in timed)
        if args.profile:
            _profile(Path(args.profile), ask[1:], env)
        imports = sorted(
            _timed([str(PYTHON), "-c", "import chat_app.cli"], env)[0] for _ in range(runs)
        )
    emit(
        {
            "runs": runs,
            "ask_cold_p50_ms": round(statistics.median(walls), 1),
            "ask_cold_p95_ms": round(percentile(walls, 95), 1),
            "ask_cold_max_ms": round(walls[-1], 1),
            "ask_cold_cpu_p50_ms": round(statistics.median(cpus), 1),
            "ask_cold_cpu_p95_ms": round(percentile(cpus, 95), 1),
            "import_cli_p50_ms": round(statistics.median(imports), 1),
            "load_avg_1m_after": round(os.getloadavg()[0], 2),
        }
    )


if __name__ == "__main__":
    main()
