"""Campaigns through the shared number's dispatcher: pace, fairness, safety, billing.

Starts its own embedded PostgreSQL (pgserver) in a temporary directory and migrates it.
For each scenario it seeds `--workspaces` workspaces (one holding half of the
`--contacts`; the rest share the other half), each with a manager, credits and one
campaign over all its contacts (consent on record for 98% of them; about 2% are in
Hawaii, whose window is closed for the whole run; Florida, Oklahoma and Washington
numbers get their stricter hours). Every campaign calls every day 10:00–16:00 in the
callee's local time, at most `--cap` at a time, once per contact; one in ten has a
budget too small for all its contacts.

The carrier is simulated in this process (`telephony.simulator.fast.FastCarrier`
behind a small TCP service, at `--speed` times real time: ring, talk or not, status
callbacks applied through `telephony.callbacks.apply_status`, which settles each
call's hold once). It survives the workers, as Twilio would. The dispatchers run in
`klosesales`-like worker subprocesses (`--worker`), each a `telephony.dispatch.
Dispatcher` with the campaigns' guard and feeder, at `--cps` calls per second, judging
windows by a simulated clock that starts on a Wednesday at 18:00 UTC (13:00 in New
York, 10:00 in Los Angeles) and runs at real speed.

Scenarios: `one_worker`; `two_workers_one_killed` (two workers; one is killed with
SIGKILL once 40% of the dials are made, the other carries on; the dead one's claimed
dials are recovered by the survivor and its interrupted calls reconciled).

Figures per scenario (one JSON line each):
- `throughput_ratio`: dials per second over the seconds in which dials were waiting in
  the queue all along, divided by `--cps` (target ≥ 0.95);
- `max_calls_in_any_second`: the most carrier requests in any sliding one-second window,
  by arrival time at the carrier (≤ cps: the pacer counts each request from its slot to
  its completion), and `max_stamped_in_any_second` by the dispatcher's own stamps;
- `jain_index`: Jain's fairness index of dials per workspace from the first dial until
  the first workspace ran out of work, over the workspaces still active then and not
  held back by their own budget (≥ 0.9);
- `calls_outside_window`, `cap_violations`, `budget_overruns`, `double_dials`,
  `billing_errors`: each must be 0;
- `worker_cpu_ms_per_dial`, `db_cpu_ms_per_dial`, `bench_cpu_ms_per_dial`: CPU time
  (user + system) of the worker processes, of PostgreSQL (every backend, the carrier's
  callbacks included) and of the bench process (the carrier), per dial — what a dial
  costs, less dependent on the machine's other load than the throughput.

Run from the repository root: `.venv/bin/python bench/campaigns.py [--quick]`.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import logging
import math
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from bench.harness import bench_database, emit, start  # noqa: E402

log = logging.getLogger("bench.campaigns")

CLOCK_BASE = datetime(2026, 11, 18, 18, 0, tzinfo=UTC)  # Wed 13:00 New York
AREAS = [
    "212",
    "646",
    "617",
    "312",
    "214",
    "713",
    "303",
    "602",
    "415",
    "213",
    "206",
    "305",
    "405",
    "404",
    "702",
    "503",
    "612",
    "615",
    "919",
    "614",
]
HAWAII = "808"
WINDOW = (dtime(10, 0), dtime(16, 0))
FROM = "+15005550006"


# --- the carrier, in this process ---------------------------------------------------------


class CarrierService:
    """FastCarrier behind a TCP service: one JSON line in, one out, per call."""

    def __init__(self, db: Any, speed: float, seed: int) -> None:
        from telephony.simulator.fast import FastCarrier

        self.fast = FastCarrier(db, speed=speed, seed=seed)
        self.received: list[tuple[float, str]] = []
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        from telephony.twilio import CallRequest

        try:
            while line := await reader.readline():
                req = json.loads(line)
                self.received.append((time.time(), req["call"]))
                placed = await self.fast.create_call(
                    CallRequest(
                        to_e164=req["to"],
                        from_e164=FROM,
                        status_callback_url=f"http://carrier.invalid/s?call={req['call']}",
                        time_limit_s=int(req["limit"]),
                        twiml="<Response/>",
                        amd_callback_url="http://carrier.invalid/a",
                        recording_callback_url="http://carrier.invalid/r",
                    )
                )
                writer.write((json.dumps({"sid": placed.sid}) + "\n").encode())
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()


class RemoteCarrier:
    """A worker's TelephonyProvider: each call is a request to the carrier service."""

    live = False
    label = "bench carrier"

    def __init__(self, port: int) -> None:
        self.port = port

    async def create_call(self, req: Any) -> Any:
        from urllib.parse import parse_qs, urlsplit

        from telephony.twilio import PlacedCall, TelephonyError

        call = parse_qs(urlsplit(req.status_callback_url).query)["call"][0]
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
            payload = {"call": call, "to": req.to_e164, "limit": req.time_limit_s}
            writer.write((json.dumps(payload) + "\n").encode())
            await writer.drain()
            answer = json.loads(await reader.readline())
            writer.close()
        except (OSError, ValueError) as exc:
            raise TelephonyError(f"carrier unreachable: {exc}") from exc
        return PlacedCall(sid=answer["sid"], status="queued")

    async def fetch_call(self, sid: str) -> dict[str, Any]:
        return {"sid": sid, "status": "queued"}

    async def hangup(self, sid: str) -> bool:
        return True

    async def aclose(self) -> None:
        return None


# --- a worker process ----------------------------------------------------------------------


async def run_worker(args: argparse.Namespace) -> None:
    from campaigns import service
    from core.db import Database, sqlalchemy_url
    from telephony.dispatch import Dispatcher
    from telephony.provider import Telephony

    db = Database(url=sqlalchemy_url(args.database_url), embedded=False)
    db.engine(pool_size=args.lanes + 4)
    telephony = Telephony(
        provider=RemoteCarrier(args.carrier_port),
        auth_token="bench",  # noqa: S106 (nothing is signed in the bench)
        from_e164=FROM,
        public_base_url="http://127.0.0.1:9",
        max_call_seconds=600,
        ring_timeout_s=30,
        reconcile_after_s=60,
        calls_per_second=args.cps,
        dial_lanes=args.lanes,
    )
    t0 = args.clock_t0

    def clock() -> datetime:
        return CLOCK_BASE + timedelta(seconds=time.time() - t0)

    dispatcher = Dispatcher(
        db,
        telephony,
        guard=service.guard,
        feeders=[service.feed],
        clock=clock,
        feed_every_s=0.25,
        idle_poll_s=0.05,
        stale_claim=timedelta(seconds=10),
    )
    async with dispatcher:
        await asyncio.Event().wait()


# --- seeding ---------------------------------------------------------------------------------


def _number(rng: random.Random, area: str) -> str:
    import phonenumbers

    while True:
        candidate = f"+1{area}{rng.randint(2000000, 9999999)}"
        if phonenumbers.is_valid_number(phonenumbers.parse(candidate)):
            return candidate


async def seed(db: Any, args: argparse.Namespace, tag: str) -> list[dict[str, Any]]:
    """Workspaces, managers, credits, contacts with consent, one campaign each."""
    from sqlalchemy import insert

    from accounts.models import Role, User, Workspace
    from accounts.service import Actor
    from billing import ledger
    from campaigns import service
    from campaigns.windows import EVERY_DAY, CampaignWindow
    from telephony.models import ConsentRecord, Contact
    from telephony.numbers import phone_info

    rng = random.Random(f"{args.seed}:{tag}")
    sizes = [args.contacts // 2] + [
        (args.contacts - args.contacts // 2) // (args.workspaces - 1)
    ] * (args.workspaces - 1)
    now = datetime.now(UTC)
    out: list[dict[str, Any]] = []
    used: set[str] = set()
    for index, size in enumerate(sizes):
        async with db.session() as session:
            ws = Workspace(name=f"{tag} workspace {index}")
            session.add(ws)
            await session.flush()
            user = User(
                workspace_id=ws.id,
                email=f"{tag}-{index}@bench.test",
                name=f"Manager {index}",
                role=Role.MANAGER.value,
                mobile_e164=f"+1415{5550000 + index + 5000 * (tag != 'one_worker'):07d}",
            )
            session.add(user)
            await session.flush()
            await ledger.grant(
                session,
                ws.id,
                amount_mc=10_000_000_000,
                idempotency_key=f"bench:{ws.id}",
                source="bench",
            )
            contacts, consents = [], []
            for n in range(size):
                area = HAWAII if rng.random() < 0.02 else rng.choice(AREAS)
                phone = _number(rng, area)
                while phone in used:
                    phone = _number(rng, area)
                used.add(phone)
                cid = uuid.uuid4()
                contacts.append(
                    {
                        "id": cid,
                        "workspace_id": ws.id,
                        "owner_id": user.id,
                        "name": f"Contact {index}-{n}",
                        "company": "Acme",
                        "phone_e164": phone,
                        "country": "US",
                        "time_zones": list(phone_info(phone).time_zones),
                        "notes": "",
                    }
                )
                if rng.random() < 0.98:
                    consents.append(
                        {
                            "id": uuid.uuid4(),
                            "workspace_id": ws.id,
                            "contact_id": cid,
                            "phone_e164": phone,
                            "consent_type": "express_written",
                            "source": "bench",
                            "wording": "I agree to be called.",
                            "method": "web form",
                            "obtained_at": now - timedelta(days=30),
                            "attested_by": user.id,
                        }
                    )
            await session.execute(insert(Contact), contacts)
            if consents:
                await session.execute(insert(ConsentRecord), consents)
            await session.commit()
            actor = Actor.of(user)
        budget_limited = index % 10 == 5
        spec = service.CampaignSpec(
            name=f"{tag} campaign {index}",
            purpose="the spring renewal",
            selection=service.Selection(),
            window=CampaignWindow(EVERY_DAY, *WINDOW),
            max_concurrent=args.cap,
            budget_mc=(size * 15 if budget_limited else size * 1000) * 1000,
            max_attempts=1,
            retry_outcomes=(),
        )
        async with db.session() as session:
            campaign, plan = await service.create_campaign(session, actor, spec, now=CLOCK_BASE)
            await session.commit()
        out.append(
            {
                "workspace_id": ws.id,
                "campaign_id": campaign.id,
                "size": size,
                "included": len(plan.included),
                "budget_limited": budget_limited,
            }
        )
    return out


# --- running a scenario ---------------------------------------------------------------------


def _cpu_s(pid: int, *, children: bool = False) -> float:
    """CPU seconds (user + system) a process has used, with its reaped children's when
    `children`; 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    if children:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def _db_cpu_s(pg_dir: Path | None) -> float:
    """CPU seconds the embedded PostgreSQL has used: its postmaster with every backend
    it has reaped, plus the live ones."""
    found = next(pg_dir.rglob("postmaster.pid"), None) if pg_dir else None
    if found is None:
        return 0.0
    master = int(found.read_text().split()[0])
    total = _cpu_s(master, children=True)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if parent == master:
            total += _cpu_s(int(stat.parent.name))
    return total


def _spawn(args: argparse.Namespace, url: str, port: int, t0: float) -> subprocess.Popen[bytes]:
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        "--database-url",
        url,
        "--carrier-port",
        str(port),
        "--cps",
        str(args.cps),
        "--lanes",
        str(args.lanes),
        "--clock-t0",
        repr(t0),
        *(["--profile", args.profile] if args.profile else []),
    ]
    env = {**os.environ, "LOG_LEVEL": "WARNING"}
    return subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stderr=subprocess.DEVNULL)


async def _waiting(db: Any) -> int:
    from sqlalchemy import text

    async with db.session() as session:
        return int(
            await session.scalar(
                text(
                    "SELECT count(*) FROM dial_queue WHERE status = 'queued' "
                    "AND not_before <= now()"
                )
            )
            or 0
        )


async def _open_work(db: Any, campaign_ids: list[uuid.UUID], sim_now: datetime) -> int:
    from sqlalchemy import text

    async with db.session() as session:
        return int(
            await session.scalar(
                text(
                    "SELECT count(*) FROM campaign_targets WHERE campaign_id = ANY(:ids) AND "
                    "(status IN ('queued', 'calling') OR (status = 'waiting' AND next_at <= :now)) "
                    "AND campaign_id IN (SELECT id FROM campaigns WHERE status = 'active') "
                    # A dial a killed worker left after its slot waits for the call
                    # reconciliation (run at the end), never for another dial; so does its
                    # campaign while that call's hold may keep it at its budget.
                    "AND NOT EXISTS (SELECT 1 FROM dial_queue d WHERE d.campaign_id = "
                    "campaign_targets.campaign_id AND d.status = 'dialing' "
                    "AND d.dialed_at IS NOT NULL AND d.claimed_at < now() - interval '15 seconds')"
                ),
                {"ids": campaign_ids, "now": sim_now},
            )
            or 0
        )


async def scenario(
    db: Any, args: argparse.Namespace, name: str, workers: int, kill_at: float | None
) -> dict[str, Any]:
    from telephony import callbacks

    seeded = await seed(db, args, name)
    campaign_ids = [s["campaign_id"] for s in seeded]
    carrier = CarrierService(db, args.speed, args.seed)
    port = await carrier.start()
    t0 = time.time()
    url = db.libpq_url
    db_cpu_start = _db_cpu_s(args.pg_dir)
    bench_cpu_start = _cpu_s(os.getpid())
    procs = [_spawn(args, url, port, t0) for _ in range(workers)]
    worker_cpu: dict[int, float] = {}
    expected = sum(s["included"] for s in seeded)
    samples: list[tuple[float, bool]] = []
    killed = False
    idle_rounds = 0
    deadline = time.monotonic() + args.timeout
    try:
        while time.monotonic() < deadline:
            await asyncio.sleep(0.25)
            samples.append((time.time(), await _waiting(db) > 0))
            for proc in procs:
                if proc.poll() is None:
                    worker_cpu[proc.pid] = _cpu_s(proc.pid)
            if kill_at is not None and not killed and len(carrier.received) >= kill_at * expected:
                procs[0].send_signal(signal.SIGKILL)
                killed = True
                log.info("%s: killed worker 0 after %d dials", name, len(carrier.received))
            sim_now = CLOCK_BASE + timedelta(seconds=time.time() - t0)
            if len(samples) % 4 == 0:
                work = await _open_work(db, campaign_ids, sim_now)
                idle_rounds = idle_rounds + 1 if work == 0 else 0
                if idle_rounds >= 3:
                    break
                log.info("%s: %d dials, %d targets open", name, len(carrier.received), work)
        else:
            log.warning("%s: timed out", name)
    finally:
        cpu = {
            "worker_cpu_s": sum(worker_cpu.values()),
            "db_cpu_s": _db_cpu_s(args.pg_dir) - db_cpu_start,
            "bench_cpu_s": _cpu_s(os.getpid()) - bench_cpu_start,
        }
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
    await carrier.fast.finish(60)
    await carrier.stop()
    # The killed worker's calls that never reached the carrier: reconciled (failed,
    # holds released) as the periodic job would, never dialled again.
    await callbacks.reconcile(
        db, carrier.fast, ring_timeout_s=0, grace_s=0, now=datetime.now(UTC) + timedelta(hours=2)
    )
    figures = await measure(db, args, seeded, carrier, t0, samples)
    dials = max(figures["dials"], 1)
    per_dial = {f"{key[:-2]}_ms_per_dial": round(1000 * v / dials, 1) for key, v in cpu.items()}
    return {
        "bench": "campaigns",
        "scenario": name,
        "workers": workers,
        "killed_workers": 1 if killed else 0,
        "cps": args.cps,
        "contacts": args.contacts,
        "workspaces": args.workspaces,
        "cap": args.cap,
        "expected_dials_max": expected,
        **figures,
        **per_dial,
    }


def _max_in_window(times: list[float], width: float = 1.0) -> int:
    times = sorted(times)
    best = 0
    for i, t in enumerate(times):
        j = bisect.bisect_left(times, t + width)
        best = max(best, j - i)
    return best


def _jain(values: list[int]) -> float:
    if not values:
        return 1.0
    total = sum(values)
    squares = sum(v * v for v in values)
    return (total * total) / (len(values) * squares) if squares else 1.0


async def measure(
    db: Any,
    args: argparse.Namespace,
    seeded: list[dict[str, Any]],
    carrier: CarrierService,
    t0: float,
    samples: list[tuple[float, bool]],
) -> dict[str, Any]:
    from sqlalchemy import text

    from campaigns.windows import EVERY_DAY, CampaignWindow, callee_window
    from telephony.numbers import phone_info

    ids = [s["campaign_id"] for s in seeded]
    async with db.session() as session:
        rows = (
            await session.execute(
                text(
                    "SELECT d.campaign_id, d.workspace_id, d.dialed_at, c.id AS call_id, "
                    "c.phone_e164, c.settled_at, c.cost_mc, c.hold_id, c.twilio_sid, "
                    "(SELECT count(*) FROM ledger_entries e WHERE e.hold_id = c.hold_id "
                    " AND e.kind = 'call') AS debits, "
                    "(SELECT coalesce(sum(-e.amount_mc), 0) FROM ledger_entries e "
                    " WHERE e.hold_id = c.hold_id AND e.kind = 'call') AS debited, "
                    "(SELECT status FROM credit_holds h WHERE h.id = c.hold_id) AS hold_status "
                    "FROM dial_queue d JOIN calls c ON c.id = d.call_id "
                    "WHERE d.campaign_id = ANY(:ids)"
                ),
                {"ids": ids},
            )
        ).all()
        budgets = dict(
            (
                await session.execute(
                    text("SELECT id, budget_mc FROM campaigns WHERE id = ANY(:ids)"), {"ids": ids}
                )
            ).all()
        )
        caps = dict(
            (
                await session.execute(
                    text("SELECT id, max_concurrent FROM campaigns WHERE id = ANY(:ids)"),
                    {"ids": ids},
                )
            ).all()
        )
    received = [t for t, _ in carrier.received]
    per_call = Counter(c for _, c in carrier.received)
    double_dials = sum(n - 1 for n in per_call.values() if n > 1)
    dialled = [r for r in rows if r.twilio_sid is not None and str(r.call_id) in per_call]
    stamps = [r.dialed_at.timestamp() for r in dialled if r.dialed_at is not None]

    # Throughput over the whole seconds in which dials were waiting all along.
    waiting_by_second: dict[int, list[bool]] = defaultdict(list)
    for t, waiting in samples:
        waiting_by_second[int(t)].append(waiting)
    saturated = [s for s, flags in waiting_by_second.items() if len(flags) >= 3 and all(flags)]
    per_second = Counter(int(t) for t in received)
    saturated_dials = sum(per_second[s] for s in saturated)
    throughput = saturated_dials / (len(saturated) * args.cps) if saturated else 0.0

    # Fairness until the first workspace (not stopped by its budget) ran out of work.
    last_dial: dict[uuid.UUID, float] = {}
    for r in dialled:
        if r.dialed_at is not None:
            last_dial[r.workspace_id] = max(
                last_dial.get(r.workspace_id, 0), r.dialed_at.timestamp()
            )
    natural = [
        last_dial[s["workspace_id"]]
        for s in seeded
        if not s["budget_limited"] and s["workspace_id"] in last_dial
    ]
    t_end = min(natural) if natural else 0.0
    # A campaign held back by its own budget is not starved by the dispatcher: left out.
    limited = {s["workspace_id"] for s in seeded if s["budget_limited"]}
    active = {ws for ws, t in last_dial.items() if t >= t_end and ws not in limited}
    counts = Counter(
        r.workspace_id
        for r in dialled
        if r.dialed_at is not None and r.dialed_at.timestamp() < t_end and r.workspace_id in active
    )
    jain = _jain([counts.get(ws, 0) for ws in active])

    # Safety: windows, caps, budgets, billing.
    window = CampaignWindow(EVERY_DAY, *WINDOW)
    outside = 0
    for r in dialled:
        if r.dialed_at is None:
            continue
        sim = CLOCK_BASE + timedelta(seconds=r.dialed_at.timestamp() - t0)
        if not callee_window(window, phone_info(r.phone_e164)).open_at(sim):
            outside += 1
    cap_violations = 0
    by_campaign: dict[uuid.UUID, list[Any]] = defaultdict(list)
    for r in dialled:
        by_campaign[r.campaign_id].append(r)
    for campaign_id, calls in by_campaign.items():
        events: list[tuple[float, int]] = []
        for r in calls:
            start_t = r.dialed_at.timestamp()
            end_t = r.settled_at.timestamp() if r.settled_at else float("inf")
            events += [(start_t, 1), (end_t, -1)]
        live = peak = 0
        for _, step in sorted(events, key=lambda e: (e[0], e[1])):
            live += step
            peak = max(peak, live)
        if peak > caps[campaign_id]:
            cap_violations += 1
    spent: Counter[uuid.UUID] = Counter()
    for r in rows:
        spent[r.campaign_id] += int(r.cost_mc or 0)
    overruns = sum(1 for cid, mc in spent.items() if mc > budgets[cid])
    billing_errors = 0
    for r in rows:
        cost = int(r.cost_mc or 0)
        unsettled = r.settled_at is None or r.hold_status == "open"
        if unsettled or r.debits > 1 or (cost > 0 and r.debits != 1) or int(r.debited) != cost:
            billing_errors += 1
    return {
        "dials": len(received),
        "throughput_ratio": round(throughput, 3),
        "saturated_s": len(saturated),
        "max_calls_in_any_second": _max_in_window(received),
        "max_stamped_in_any_second": _max_in_window(stamps),
        "jain_index": round(jain, 4),
        "fair_active_workspaces": len(active),
        "calls_outside_window": outside,
        "cap_violations": cap_violations,
        "budget_overruns": overruns,
        "double_dials": double_dials,
        "billing_errors": billing_errors,
        "credits_spent": sum(spent.values()) / 1000,
        "wall_s": round(time.time() - t0, 1),
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="campaigns through the dial dispatcher")
    p.add_argument("--quick", action="store_true", help="small run: 400 contacts, 10 workspaces")
    p.add_argument("--contacts", type=int, default=10_000)
    p.add_argument("--workspaces", type=int, default=100)
    p.add_argument("--cps", type=float, default=20.0, help="calls per second (default 20)")
    p.add_argument("--cap", type=int, default=10, help="each campaign's calls at a time")
    p.add_argument("--speed", type=float, default=100.0, help="simulated call speed-up")
    p.add_argument(
        "--lanes",
        type=int,
        default=None,
        help="dial lanes per worker (default max(10, ⌈cps⌉): dials prepared ahead of slots)",
    )
    p.add_argument("--timeout", type=float, default=1800.0, help="per scenario, seconds")
    p.add_argument(
        "--scenario",
        choices=["both", "one_worker", "two_workers_one_killed"],
        default="both",
    )
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--profile", help="profile each worker with cProfile into this folder")
    p.add_argument("-v", "--verbose", action="store_true")
    # Internal: run as a worker subprocess.
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--database-url", help=argparse.SUPPRESS)
    p.add_argument("--carrier-port", type=int, help=argparse.SUPPRESS)
    p.add_argument("--clock-t0", type=float, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.pg_dir = None
    if args.quick:
        args.contacts, args.workspaces = 400, 10
    if args.lanes is None:
        args.lanes = max(10, math.ceil(args.cps))
    return args


def _run_worker_process(args: argparse.Namespace) -> None:
    """A worker until it is stopped; with `--profile DIR`, under cProfile, its figures
    written to DIR/worker-<pid>.prof when it is terminated (SIGTERM)."""
    if not args.profile:
        asyncio.run(run_worker(args))
        return
    import cProfile

    def stop(*_: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        asyncio.run(run_worker(args))
    except SystemExit:
        pass
    finally:
        profiler.disable()
        profiler.dump_stats(str(Path(args.profile) / f"worker-{os.getpid()}.prof"))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
        _run_worker_process(args)
        return 0
    background = start(
        verbose=args.verbose, quiet=("telephony", "billing", "accounts", "campaigns", "httpx")
    )
    with bench_database() as (db, tmp):
        args.pg_dir = tmp

        async def run() -> None:
            try:
                if args.scenario in ("both", "one_worker"):
                    figures = await scenario(db, args, "one_worker", 1, None)
                    emit({**figures, "background_cpu_pct": background})
                if args.scenario in ("both", "two_workers_one_killed"):
                    figures = await scenario(db, args, "two_workers_one_killed", 2, 0.4)
                    emit({**figures, "background_cpu_pct": background})
            finally:
                await db.dispose()

        asyncio.run(run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
