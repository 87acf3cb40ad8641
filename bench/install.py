"""The README's first command, timed: a fresh clone, a fresh virtualenv, `pip install uv`
then `uv pip install -p .venv -c constraints.txt -e .`, `klosesales seed-demo`, then
`klosesales serve` until /healthz answers. Also the virtualenv's size on disk (after the
install, and after that first run has cached its bytecode) and its biggest packages.

Run it with the system's `python3` (it makes its own virtualenv):

    python3 bench/install.py [--repo /work/main] [--ref HEAD] [--keep] [--cold-cache]

Figures (JSON lines): `venv_s`, `install_s`, `seed_demo_s`, `serve_ready_s`,
`total_s` (wall), each step's `cpu_s` (its processes' user + system CPU: steadier
than the wall time on a shared machine) and `machine_busy_pct` (how busy the whole
machine was meanwhile), `venv_mb` (`venv_mb_after_run` too), and one
`largest_packages` record. The clone is of the repository's committed `--ref`, so
uncommitted work is not measured. With `--cold-cache` uv starts from an empty cache and
downloads every wheel; otherwise what pip and uv cached before is reused.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def emit(record: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()


def dir_mb(path: Path) -> float:
    """Disk usage like `du -s` (allocated blocks, hard links counted once), in MiB."""
    out = subprocess.run(["du", "-sk", str(path)], check=True, capture_output=True, text=True)
    return round(int(out.stdout.split()[0]) / 1024, 1)


def largest_packages(site: Path, top: int = 8) -> list[tuple[str, float]]:
    sizes = [(p.name, dir_mb(p)) for p in site.iterdir() if p.is_dir()]
    return sorted(sizes, key=lambda x: -x[1])[:top]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clean_env(data_dir: Path, *, cold_cache: bool) -> dict[str, str]:
    """The caller's environment without anything that would point the app elsewhere."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_", "OPENAI_", "TWILIO_", "PADDLE_", "EMBEDDINGS_"))
        and k not in {"VIRTUAL_ENV", "DATA_DIR", "CHAINLIT_APP_ROOT"}
    }
    env["DATA_DIR"] = str(data_dir)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # a user's default: bytecode is cached
    if cold_cache:  # nothing downloaded before: uv fetches every wheel from the index
        env["UV_CACHE_DIR"] = str(data_dir.parent.parent / "uv-cache")
    return env


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU ticks of the whole machine so far, from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:9]]
    user, nice, system, idle, iowait, irq, softirq, _steal = fields
    busy = user + nice + system + irq + softirq
    return busy, busy + idle + iowait


def timed(cmd: list[str], cwd: Path, env: dict[str, str], log: Path) -> float:
    t0 = time.perf_counter()
    with log.open("ab") as out:
        subprocess.run(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, check=True)
    return time.perf_counter() - t0


def wait_healthy(port: int, proc: subprocess.Popen[bytes], limit_s: float = 300.0) -> float:
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < limit_s:
        if proc.poll() is not None:
            raise RuntimeError(f"serve exited with {proc.returncode} before it was healthy")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                if r.status == 200:
                    return time.perf_counter() - t0
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError("serve never became healthy")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", default=str(REPO_ROOT))
    parser.add_argument("--ref", default="HEAD")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument(
        "--cold-cache", action="store_true", help="an empty uv cache: every wheel downloaded"
    )
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="klose-install-"))
    clone, log = tmp / "clone", tmp / "install.log"
    sys.stderr.write(f"working in {tmp} (log: {log})\n")
    ok = False
    try:
        subprocess.run(["git", "clone", "-q", args.repo, str(clone)], check=True)
        subprocess.run(["git", "-C", str(clone), "checkout", "-q", args.ref], check=True)
        commit = subprocess.run(
            ["git", "-C", str(clone), "rev-parse", "--short", "HEAD"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        base = {"bench": "install", "commit": commit}
        env = clean_env(clone / ".data", cold_cache=args.cold_cache)
        total = 0.0

        marks = (children_cpu_s(), machine_cpu())

        def step(name: str, seconds: float) -> None:
            nonlocal total, marks
            total += seconds
            cpu, (busy, all_ticks) = children_cpu_s(), machine_cpu()
            (cpu0, (busy0, all0)) = marks
            marks = (cpu, (busy, all_ticks))
            emit(
                {
                    **base,
                    "figure": name,
                    name: round(seconds, 1),
                    "cpu_s": round(cpu - cpu0, 1),
                    "machine_busy_pct": round(100 * (busy - busy0) / max(1, all_ticks - all0)),
                }
            )

        step("venv_s", timed([sys.executable, "-m", "venv", ".venv"], clone, env, log))
        pip_uv = [str(clone / ".venv/bin/pip"), "install", "uv"]
        uv = [str(clone / ".venv/bin/uv"), "pip", "install", "-p", ".venv"]
        install = [*uv, "-c", "constraints.txt", "-e", "."]
        step("install_s", timed(pip_uv, clone, env, log) + timed(install, clone, env, log))
        emit({**base, "figure": "venv_mb", "venv_mb": dir_mb(clone / ".venv")})
        site = next((clone / ".venv/lib").glob("python3*/site-packages"))
        emit({**base, "figure": "largest_packages", "largest_packages_mb": largest_packages(site)})
        klose = str(clone / ".venv/bin/klosesales")
        step("seed_demo_s", timed([klose, "seed-demo"], clone, env, log))
        port = free_port()
        with log.open("ab") as out:
            proc = subprocess.Popen(
                [klose, "serve", "--port", str(port)], cwd=clone, env=env, stdout=out, stderr=out
            )
            try:
                ready = wait_healthy(port, proc)
            finally:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            step("serve_ready_s", ready)  # cpu_s: serve's whole life, its shutdown too
        emit({**base, "figure": "total_s", "total_s": round(total, 1)})
        # After a first run: Python has cached the bytecode of what the app imports.
        emit({**base, "figure": "venv_mb_after_run", "venv_mb": dir_mb(clone / ".venv")})
        ok = True
    finally:
        if ok and not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        elif not ok:
            sys.stderr.write(f"failed: kept {tmp} (see {log})\n")


if __name__ == "__main__":
    main()
