"""Twilio status-callback throughput against a running `klosesales serve`.

Starts its own embedded PostgreSQL (pgserver) in a temporary directory, migrates it,
and seeds one workspace with plenty of credits, a rep and one contact per call (each
with express written consent; one number per call, as the gate allows 3 attempts per
number in 24 hours). It then places the calls with `telephony.calls.place_call` at a
fixed weekday noon in New York through a `Telephony` whose provider is a stub that
hands back a fresh CallSid without dialing: real call rows, credit holds and attempts.

Then `klosesales serve` runs as a subprocess on a free port (TWILIO_AUTH_TOKEN set,
no job worker, LOG_LEVEL=WARNING, DB_POOL_SIZE from `--db-pool`), and each call gets
Twilio's four status callbacks — initiated (SequenceNumber 0), ringing (1),
in-progress (2), completed (3, with a random CallDuration of 1..300 s) — as Twilio's
form fields, signed with X-Twilio-Signature for `PUBLIC_BASE_URL/webhooks/twilio/
status?call=<id>`. About 15% of them are sent twice, and the whole lot is shuffled
(`--order shuffle`: a terminal callback often arrives before in-progress; `--order
local`: each call's callbacks stay near each other, so they race on the call's row).

`--clients` asyncio tasks (aiohttp, uvloop when installed) share one connection pool
of that size and post the callbacks as fast as the server answers; each request's
latency is recorded and every answer must be 200. A warm-up set of extra calls is
sent first, untimed. Afterwards every call is checked: status completed, exactly one
ledger entry of kind 'call' for its hold, of -CallDuration × 1000 milli-credits,
`calls.cost_mc` and the hold's settled amount equal to that, the hold settled — and
the workspace's balance, holds and ledger audit add up. `billing_errors` counts the
calls (and the workspace) that do not.

The figure line also shows where the CPU went (`client_cpu_ms_per_callback`: this
process; `server_cpu_ms_per_callback`: the uvicorn process; `pg_cpu_ms_per_callback`:
PostgreSQL) and the whole machine's busy share: on a small machine client, server
and database share the cores.

Figures go to stdout, one JSON object per line; logs go to stderr. Run from the
repository root:

    .venv/bin/python bench/webhooks.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import os
import random
import secrets
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from bench.harness import (  # noqa: E402  (the path above makes `bench` importable)
    CpuMeter,
    and_dispose,
    bench_database,
    default_loop,
    emit,
    free_port,
    percentile,
    postmaster_pid,
    run_async,
    start,
)

log = logging.getLogger("bench.webhooks")

TARGET_CALLBACKS_PER_S = 800
TARGET_P99_MS = 100
TARGET_PGBENCH_RATIO = 0.8  # --processes N: callbacks/s against pgbench's TPS, same run
DUPLICATE_SHARE = 0.15
MAX_DURATION_S = 300  # CallDuration is 1..this; the calls' holds cover it
MAX_CALL_SECONDS = 600
PRICE_MC_PER_S = 1_000  # billing.money.CALL_SECOND_PRICE_MC (checked at start)
STATUSES = ("initiated", "ringing", "in-progress", "completed")
ACCOUNT_SID = "AC" + "b" * 32
FROM_E164 = "+15005550006"  # Twilio's magic test number, as the simulated carrier uses
# Wednesday 18 November 2026, 17:00 UTC: noon in New York (the contacts' zone).
NOON_NY = datetime(2026, 11, 18, 17, 0, tzinfo=UTC)
CONSENT_AT = datetime(2026, 6, 1, 15, 30, tzinfo=UTC)
CONSENT_WORDING = (
    "By submitting this form I agree that Bench Co may call me at the number above, "
    "including with an AI voice, about its products. Consent is not a condition of purchase."
)
PURPOSE = "follow up on the spring pricing webinar"


# --- the telephony the bench places calls through -------------------------------------


class StubProvider:
    """A `TelephonyProvider` that dials nobody: every call gets a fresh CallSid."""

    live = False
    label = "bench stub"

    def __init__(self) -> None:
        self.placed: dict[str, Any] = {}

    async def create_call(self, req: Any) -> Any:
        from telephony.twilio import PlacedCall

        sid = "CA" + secrets.token_hex(16)
        self.placed[sid] = req
        return PlacedCall(sid=sid, status="queued")

    async def fetch_call(self, sid: str) -> dict[str, Any]:
        return {"sid": sid, "status": "queued"}

    async def hangup(self, sid: str) -> bool:
        return True

    async def aclose(self) -> None:
        return None


def make_telephony(base_url: str, token: str) -> Any:
    from telephony.provider import Telephony

    return Telephony(
        provider=StubProvider(),
        auth_token=token,
        from_e164=FROM_E164,
        public_base_url=base_url,
        max_call_seconds=MAX_CALL_SECONDS,
        ring_timeout_s=30,
        reconcile_after_s=120,
        # A stub provider, not the shared number: seeding is not paced at Twilio's 1 CPS.
        calls_per_second=100.0,
    )


# --- seeding --------------------------------------------------------------------------


@dataclass(frozen=True)
class Seeded:
    actor: Any  # accounts.service.Actor
    workspace_id: uuid.UUID
    granted_mc: int
    contact_ids: list[uuid.UUID]


def new_numbers(n: int, rng: random.Random, area: str = "212") -> list[Any]:
    """`n` distinct dialable numbers in one area code (PhoneInfo each)."""
    from telephony.numbers import is_dialable, phone_info

    seen: set[str] = set()
    out: list[Any] = []
    while len(out) < n:
        e164 = f"+1{area}{rng.randint(2_000_000, 9_999_999)}"
        if e164 in seen or not is_dialable(e164):
            continue
        seen.add(e164)
        out.append(phone_info(e164))
    return out


async def seed(db: Any, n_contacts: int, rng: random.Random) -> Seeded:
    """One workspace with credits for every call's full hold, a rep who has accepted
    the terms, and `n_contacts` contacts with express written consent (bulk inserted)."""
    from sqlalchemy import insert, text

    from accounts.models import Role
    from accounts.service import Actor, create_user, create_workspace
    from billing import ledger
    from telephony.models import ConsentRecord, ConsentType, Contact

    granted = (n_contacts + 10) * MAX_CALL_SECONDS * PRICE_MC_PER_S
    async with db.session() as s:
        ws = await create_workspace(s, f"Bench Co {uuid.uuid4().hex[:6]}")
        user = await create_user(
            s,
            workspace=ws,
            email=f"bench-{uuid.uuid4().hex[:10]}@example.test",
            name="Robin Bench",
            password=secrets.token_urlsafe(16),
            role=Role.REP,
            mobile_e164=None,
        )
        await s.execute(
            text(
                "INSERT INTO terms_acceptances (user_id, terms_version_id, ip)"
                " SELECT :u, id, 'bench' FROM terms_versions WHERE effective_at <= now()"
                " ORDER BY effective_at DESC LIMIT 1 ON CONFLICT DO NOTHING"
            ),
            {"u": user.id},
        )
        await ledger.grant(
            s,
            ws.id,
            amount_mc=granted,
            idempotency_key=f"bench-grant-{ws.id}",
            source="bench",
        )
        await s.commit()
        actor = Actor.of(user)
        workspace_id = ws.id

    phones = new_numbers(n_contacts, rng)
    contact_ids = [uuid.uuid4() for _ in phones]
    contacts = [
        {
            "id": cid,
            "workspace_id": workspace_id,
            "owner_id": actor.user_id,
            "name": f"Dana Lee {i}",
            "company": "Acme",
            "phone_e164": p.e164,
            "country": p.country,
            "time_zones": list(p.time_zones),
            "notes": "",
            "created_by": actor.user_id,
        }
        for i, (cid, p) in enumerate(zip(contact_ids, phones, strict=True))
    ]
    consents = [
        {
            "workspace_id": workspace_id,
            "contact_id": cid,
            "phone_e164": p.e164,
            "consent_type": ConsentType.EXPRESS_WRITTEN.value,
            "source": "https://acme.example/demo-request",
            "wording": CONSENT_WORDING,
            "method": "web form",
            "obtained_at": CONSENT_AT,
            "attested_by": actor.user_id,
        }
        for cid, p in zip(contact_ids, phones, strict=True)
    ]
    async with db.session() as s:
        for start in range(0, len(contacts), 1000):
            await s.execute(insert(Contact), contacts[start : start + 1000])
            await s.execute(insert(ConsentRecord), consents[start : start + 1000])
        await s.commit()
    return Seeded(actor, workspace_id, granted, contact_ids)


@dataclass(frozen=True)
class PlacedCall:
    call_id: uuid.UUID
    sid: str
    to_e164: str


async def place_calls(
    db: Any, actor: Any, contact_ids: list[uuid.UUID], telephony: Any, concurrency: int = 8
) -> list[PlacedCall]:
    """`place_call` for every contact (gate, hold, attempt, call row, stub dial)."""
    from telephony.calls import place_call

    queue = list(reversed(contact_ids))
    placed: list[PlacedCall] = []
    t0 = time.perf_counter()

    async def worker() -> None:
        while queue:
            contact_id = queue.pop()
            call = await place_call(
                db,
                actor,
                contact_id,
                telephony,
                purpose=PURPOSE,
                talking_points=["webinar attendees get 20% off the first year"],
                voicemail_message="Please call us back about the webinar offer.",
                now=NOON_NY,
            )
            assert call.twilio_sid is not None
            placed.append(PlacedCall(call.id, call.twilio_sid, call.phone_e164))
            if len(placed) % 1000 == 0:
                log.info("placed %d calls", len(placed))

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    log.info(
        "placed %d calls in %.1f s (%.0f/s)",
        len(placed),
        time.perf_counter() - t0,
        len(placed) / max(1e-9, time.perf_counter() - t0),
    )
    return placed


def setup_calls(
    db: Any, n_calls: int, base_url: str, token: str, rng: random.Random
) -> tuple[Seeded, list[PlacedCall], Any]:
    """Seed and place `n_calls` calls; returns the seed, the calls and the telephony."""
    telephony = make_telephony(base_url, token)

    async def go() -> tuple[Seeded, list[PlacedCall]]:
        seeded = await seed(db, n_calls, rng)
        calls = await place_calls(db, seeded.actor, seeded.contact_ids, telephony)
        return seeded, calls

    seeded, calls = run_async(and_dispose(db, go()))
    return seeded, calls, telephony


# --- the server -----------------------------------------------------------------------


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    base_url: str
    log_path: Path
    profiled: bool = False

    def stop(self) -> None:
        if self.proc.poll() is None:
            # uvicorn re-raises the signal once shut down: SIGINT lets cProfile write.
            self.proc.send_signal(signal.SIGINT if self.profiled else signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def start_server(
    db: Any,
    data_dir: Path,
    port: int,
    token: str,
    pool_size: int,
    timeout_s: float = 90,
    profile: Path | None = None,
    public_url: str | None = None,
) -> Server:
    """`klosesales serve` on `port` against the bench database; returns once /healthz
    answers 200. Twilio, OpenAI and Paddle stay simulated. With `profile`, the server
    runs under cProfile and writes its profile there when it stops. `public_url` is its
    PUBLIC_BASE_URL (default: its own address) — the URL Twilio signs, which every
    process of a fleet shares."""
    import httpx

    data_dir.mkdir(parents=True, exist_ok=True)
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DATABASE_URL": db.url.render_as_string(hide_password=False),
        "DATA_DIR": str(data_dir),
        "PUBLIC_BASE_URL": public_url or base,
        "TWILIO_AUTH_TOKEN": token,
        "RUN_WORKER_IN_SERVE": "false",
        "AUTO_MIGRATE": "false",
        "LOG_LEVEL": "WARNING",
        "DB_POOL_SIZE": str(pool_size),
        "RATE_LIMIT_IP_MULTIPLIER": "1000",
    }
    for name in (
        "TWILIO_ACCOUNT_SID",
        "TWILIO_FROM_NUMBER",
        "TWILIO_VERIFY_SERVICE_SID",
        "TWILIO_API_BASE",
        "OPENAI_API_KEY",
        "PADDLE_API_KEY",
    ):
        env.pop(name, None)
    log_path = data_dir / "serve.log"
    with open(log_path, "wb") as out:
        profiler = ["-m", "cProfile", "-o", str(profile)] if profile is not None else []
        proc = subprocess.Popen(
            [sys.executable, *profiler, "-m", "chat_app.cli", "serve", "--port", str(port)],
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=out,
            start_new_session=True,  # Ctrl-C reaches the bench, which stops the server
        )
    server = Server(proc, base, log_path, profiled=profile is not None)
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None:
                raise RuntimeError(f"klosesales serve exited:\n{server.log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"klosesales serve did not start:\n{server.log_tail()}")
            time.sleep(0.3)
    except BaseException:
        server.stop()
        raise
    log.info("klosesales serve up at %s (pid %d)", base, proc.pid)
    return server


# --- the callbacks --------------------------------------------------------------------


@dataclass(frozen=True)
class Callback:
    call_index: int
    path: str  # path and query, e.g. /webhooks/twilio/status?call=...
    body: bytes
    signature: str


def status_callbacks(
    call: PlacedCall, index: int, duration_s: int, base_url: str, token: str, rng: random.Random
) -> list[Callback]:
    """Twilio's four status callbacks of one answered call, signed."""
    from telephony.twilio import signature

    path = f"/webhooks/twilio/status?{urlencode({'call': str(call.call_id)})}"
    url = base_url.rstrip("/") + path
    ring_s = rng.randint(2, 12)
    offsets = (0, 1, 1 + ring_s, 1 + ring_s + duration_s)
    out = []
    for seq, (status, offset) in enumerate(zip(STATUSES, offsets, strict=True)):
        params = {
            "AccountSid": ACCOUNT_SID,
            "ApiVersion": "2010-04-01",
            "CallSid": call.sid,
            "CallStatus": status,
            "CallbackSource": "call-progress-events",
            "Direction": "outbound-api",
            "From": FROM_E164,
            "To": call.to_e164,
            "SequenceNumber": str(seq),
            "Timestamp": format_datetime(NOON_NY + timedelta(seconds=offset), usegmt=True),
        }
        if status == "completed":
            params["CallDuration"] = str(duration_s)
        out.append(
            Callback(
                index,
                path,
                urlencode(params).encode(),
                signature.compute(url, params, token),
            )
        )
    return out


def build_plan(
    calls: list[PlacedCall],
    durations: list[int],
    total: int | None,
    base_url: str,
    token: str,
    order: str,
    rng: random.Random,
) -> list[Callback]:
    """Every call's callbacks, ~15% sent twice (to `total` requests when given), in
    the chosen order."""
    per_call = [
        status_callbacks(call, i, durations[i], base_url, token, rng)
        for i, call in enumerate(calls)
    ]
    singles = [cb for cbs in per_call for cb in cbs]
    n_dupes = round(len(singles) * DUPLICATE_SHARE) if total is None else total - len(singles)
    n_dupes = max(0, n_dupes)
    dupes = [singles[rng.randrange(len(singles))] for _ in range(n_dupes)]
    if order == "shuffle":
        plan = singles + dupes
        rng.shuffle(plan)
        return plan
    # local: a call's callbacks (and copies) go out around the call's own position,
    # so they are in flight together and race for its row, often out of order.
    spread = 12.0
    keyed = [(i + rng.uniform(0, spread), cb) for i, cbs in enumerate(per_call) for cb in cbs]
    keyed += [(cb.call_index + rng.uniform(0, spread), cb) for cb in dupes]
    keyed.sort(key=lambda kv: kv[0])
    return [cb for _, cb in keyed]


@dataclass
class ClientResult:
    latencies_s: list[float] = field(default_factory=list)
    non_200: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    elapsed_s: float = 0.0


async def send_all(base_urls: list[str], plan: list[Callback], clients: int) -> ClientResult:
    """Post the plan's callbacks from `clients` tasks over one pool of that size: the
    i-th to `base_urls[i % n]`, as a load balancer without stickiness spreads them (a
    call's callbacks land on different processes and race there for its row)."""
    import aiohttp

    result = ClientResult()
    counter = itertools.count()
    connector = aiohttp.TCPConnector(limit=clients, limit_per_host=clients)
    timeout = aiohttp.ClientTimeout(total=60)
    bases = [url.rstrip("/") for url in base_urls]

    async def client(http: aiohttp.ClientSession) -> None:
        clock = time.perf_counter
        latencies = result.latencies_s
        while True:
            i = next(counter)
            if i >= len(plan):
                return
            cb = plan[i]
            headers = {
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Twilio-Signature": cb.signature,
                "User-Agent": "TwilioProxy/1.1",
            }
            t0 = clock()
            try:
                base = bases[i % len(bases)]
                async with http.post(base + cb.path, data=cb.body, headers=headers) as resp:
                    await resp.read()
                    status = resp.status
            except (aiohttp.ClientError, TimeoutError) as exc:
                key = type(exc).__name__
                result.errors[key] = result.errors.get(key, 0) + 1
                result.non_200 += 1
                continue
            latencies.append(clock() - t0)
            if status != 200:
                result.non_200 += 1
                key = f"HTTP {status}"
                result.errors[key] = result.errors.get(key, 0) + 1

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        t0 = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(clients)))
        result.elapsed_s = time.perf_counter() - t0
    return result


# --- the check ------------------------------------------------------------------------


VERIFY_SQL = """
SELECT c.id::text, c.status, c.cost_mc, c.duration_s, c.settled_at IS NOT NULL,
       h.status, h.settled_mc,
       (SELECT count(*) FROM ledger_entries e
         WHERE e.kind = 'call'
           AND (e.hold_id = c.hold_id OR e.metadata->>'call_id' = c.id::text)),
       (SELECT coalesce(sum(e.amount_mc), 0) FROM ledger_entries e
         WHERE e.kind = 'call'
           AND (e.hold_id = c.hold_id OR e.metadata->>'call_id' = c.id::text)),
       (SELECT count(*) FROM call_callbacks cb WHERE cb.call_id = c.id AND cb.kind = 'status')
FROM calls c LEFT JOIN credit_holds h ON h.id = c.hold_id
WHERE c.workspace_id = %s
"""


def callback_results(db: Any, seeded: Seeded) -> dict[str, int]:
    """How the server filed the stored status callbacks (applied, settled, stale,
    after_terminal...): shows the out-of-order deliveries were exercised."""
    import psycopg

    with psycopg.connect(db.libpq_url) as conn:
        rows = conn.execute(
            "SELECT cb.result, count(*) FROM call_callbacks cb JOIN calls c ON c.id = cb.call_id"
            " WHERE c.workspace_id = %s AND cb.kind = 'status' GROUP BY cb.result ORDER BY 1",
            (seeded.workspace_id,),
        ).fetchall()
    return {str(result): int(n) for result, n in rows}


def verify_billing(
    db: Any, seeded: Seeded, calls: list[PlacedCall], durations: list[int]
) -> tuple[int, int]:
    """(billing errors, calls checked): every call billed once, for its duration, and
    the workspace's balance and ledger consistent."""
    import psycopg

    expected = {str(c.call_id): d * PRICE_MC_PER_S for c, d in zip(calls, durations, strict=True)}
    errors = 0
    shown = 0
    with psycopg.connect(db.libpq_url) as conn:
        rows = conn.execute(VERIFY_SQL, (seeded.workspace_id,)).fetchall()
    seen = set()
    for call_id, status, cost, dur, settled, h_status, h_settled, n, total, stored in rows:
        seen.add(call_id)
        want = expected.get(call_id)
        problems = []
        if want is None:
            problems.append("not a call this bench placed")
        else:
            if status != "completed":
                problems.append(f"status {status}")
            if n != 1:
                problems.append(f"{n} 'call' ledger entries")
            if total != -want:
                problems.append(f"ledger {total} != {-want}")
            if cost != want:
                problems.append(f"cost_mc {cost} != {want}")
            if dur != want // PRICE_MC_PER_S:
                problems.append(f"duration_s {dur} != {want // PRICE_MC_PER_S}")
            if h_status != "settled" or h_settled != want:
                problems.append(f"hold {h_status} {h_settled}")
            if not settled:
                problems.append("settled_at not set")
            if stored != len(STATUSES):
                problems.append(f"{stored} status callbacks stored, not {len(STATUSES)}")
        if problems:
            errors += 1
            if shown < 10:
                log.error("call %s: %s", call_id, "; ".join(problems))
                shown += 1
    missing = set(expected) - seen
    if missing:
        log.error("%d placed calls were not found", len(missing))
        errors += len(missing)
    errors += run_async(and_dispose(db, check_workspace(db, seeded, sum(expected.values()))))
    return errors, len(rows)


async def check_workspace(db: Any, seeded: Seeded, spent_mc: int) -> int:
    from billing import ledger

    async with db.session() as s:
        audit = await ledger.audit(s, seeded.workspace_id)
        balance = await ledger.get_balance(s, seeded.workspace_id)
    want = seeded.granted_mc - spent_mc
    if balance.balance_mc != want or balance.held_mc != 0 or not audit.consistent:
        log.error(
            "workspace: balance %d (expected %d), held %d (expected 0), audit %s",
            balance.balance_mc,
            want,
            balance.held_mc,
            audit,
        )
        return 1
    return 0


# --- the benchmark --------------------------------------------------------------------


def start_servers(
    db: Any, tmp: Path, token: str, args: argparse.Namespace, processes: int, first_port: int
) -> list[Server]:
    """`processes` serve processes on the one database, each with its own data folder,
    the first on `first_port`, all with the first one's address as PUBLIC_BASE_URL (the
    URL the callbacks are signed for, as a fleet's load balancer address is)."""
    public = f"http://127.0.0.1:{first_port}"
    servers: list[Server] = []
    try:
        for i in range(processes):
            port = first_port if i == 0 else free_port()
            profile = args.profile_server if i == 0 else None
            data = tmp / f"serve-data-{processes}-{i}"
            server = start_server(
                db, data, port, token, args.db_pool, profile=profile, public_url=public
            )
            servers.append(server)
    except BaseException:
        for server in servers:
            server.stop()
        raise
    return servers


class DbWork:
    """What the database did during the timed run: transactions committed or rolled
    back in the bench database (`pg_stat_database`; an autocommit statement is one),
    and, with `statements=True`, every statement the servers sent, counted from the
    server log (`log_statement = 'all'` for the run only: it costs the database CPU,
    so throughput and CPU figures of such a run are not comparable)."""

    OWN = ("SELECT pg_stat_clear_snapshot()", "ALTER SYSTEM", "SELECT pg_reload_conf", "SHOW ")

    def __init__(self, libpq: str, *, statements: bool) -> None:
        self.libpq = libpq
        self.statements = statements
        self.xacts = 0
        self.log_path: Path | None = None
        self.log_offset = 0

    def _xacts(self) -> int:
        import psycopg

        with psycopg.connect(self.libpq) as conn:
            row = conn.execute(
                "SELECT pg_stat_clear_snapshot(), xact_commit + xact_rollback"
                " FROM pg_stat_database WHERE datname = current_database()"
            ).fetchone()
        assert row is not None
        return int(row[1])

    def _log_statements(self, on: bool) -> None:
        import psycopg

        with psycopg.connect(self.libpq, autocommit=True) as conn:
            if on:
                conn.execute("ALTER SYSTEM SET log_statement = 'all'")
                conn.execute("ALTER SYSTEM SET track_functions = 'pl'")
                conn.execute("SELECT pg_stat_reset()")
            else:
                conn.execute("ALTER SYSTEM RESET log_statement")
                conn.execute("ALTER SYSTEM RESET track_functions")
            conn.execute("SELECT pg_reload_conf()")
            row = conn.execute("SHOW data_directory").fetchone()
        assert row is not None
        self.log_path = Path(str(row[0])) / "log"
        time.sleep(0.5)  # the reload reaches every backend at its next command

    def _function_times(self, callbacks: int) -> dict[str, list[float]]:
        """Each database function's [total, self] time per callback (ms), from
        `pg_stat_user_functions` (`track_functions = 'pl'` during the run)."""
        import psycopg

        with psycopg.connect(self.libpq) as conn:
            rows = conn.execute(
                "SELECT pg_stat_clear_snapshot(), funcname, total_time, self_time"
                " FROM pg_stat_user_functions ORDER BY total_time DESC LIMIT 10"
            ).fetchall()
        return {
            str(name): [round(total / callbacks, 3), round(own / callbacks, 3)]
            for _, name, total, own in rows
        }

    def start(self) -> None:
        if self.statements:
            self._log_statements(True)
            assert self.log_path is not None
            self.log_offset = self.log_path.stat().st_size
        self.xacts = self._xacts()

    def stop(self, callbacks: int) -> dict[str, Any]:
        xacts = self._xacts() - self.xacts - 1  # the reading itself is one
        out: dict[str, Any] = {"xacts_per_callback": round(xacts / callbacks, 3)}
        if self.statements:
            out["function_ms_per_callback"] = self._function_times(callbacks)
            self._log_statements(False)
            assert self.log_path is not None
            with self.log_path.open("rb") as log_file:
                log_file.seek(self.log_offset)
                lines = log_file.read().decode("utf-8", "replace").splitlines()
            kinds: dict[str, int] = {}
            for i, line in enumerate(lines):
                for marker in ("LOG:  statement: ", "LOG:  execute "):
                    at = line.find(marker)
                    if at < 0:
                        continue
                    text = line[at + len(marker) :]
                    if marker.endswith("execute "):
                        text = text.split(": ", 1)[-1]
                    if not text.strip() and i + 1 < len(lines) and lines[i + 1][:1].isspace():
                        text = lines[i + 1]  # it goes on below
                    key = " ".join(text.split()[:6])[:70]
                    if not key.startswith(self.OWN):
                        kinds[key] = kinds.get(key, 0) + 1
            total = sum(kinds.values())
            out["statements_per_callback"] = round(total / callbacks, 3)
            out["statements"] = dict(sorted(kinds.items(), key=lambda kv: -kv[1])[:8])
        return out


def bench_webhooks(
    db: Any, tmp: Path, args: argparse.Namespace, processes: int = 1
) -> dict[str, Any]:
    """The timed run against `processes` serve processes (round robin)."""
    from billing.money import CALL_SECOND_PRICE_MC

    assert CALL_SECOND_PRICE_MC == PRICE_MC_PER_S, "the bench's price is out of date"
    rng = random.Random(args.seed + processes)
    token = "bench-" + secrets.token_hex(20)
    port = free_port()
    base = f"http://127.0.0.1:{port}"  # every process's PUBLIC_BASE_URL

    per_call = len(STATUSES) * (1 + DUPLICATE_SHARE)
    n_calls = max(1, round(args.callbacks / per_call))
    n_calls = min(n_calls, args.callbacks // len(STATUSES))
    n_warm = min(args.clients, 64)
    log.info("seeding %d calls (+%d warm-up)", n_calls, n_warm)
    seeded, placed, _telephony = setup_calls(db, n_calls + n_warm, base, token, rng)
    durations = [rng.randint(1, MAX_DURATION_S) for _ in placed]
    warm_calls, calls = placed[:n_warm], placed[n_warm:]
    warm_plan = build_plan(warm_calls, durations[:n_warm], None, base, token, args.order, rng)
    plan = build_plan(calls, durations[n_warm:], args.callbacks, base, token, args.order, rng)
    log.info(
        "%d callbacks for %d calls (%d duplicates, order %s)",
        len(plan),
        len(calls),
        len(plan) - len(calls) * len(STATUSES),
        args.order,
    )

    servers = start_servers(db, tmp, token, args, processes, port)
    try:
        pids = {f"server{i}": server.proc.pid for i, server in enumerate(servers)}
        meter = CpuMeter({**pids, "pg": postmaster_pid(db.libpq_url)})
        work = DbWork(db.libpq_url, statements=args.count_statements)
        urls = [server.base_url for server in servers]
        warm = run_async(send_all(urls, warm_plan, args.clients), args.loop)
        if warm.non_200:
            log.error("warm-up: %d requests failed: %s", warm.non_200, warm.errors)
            log.error("server log:\n%s", servers[0].log_tail())
        log.info(
            "sending %d callbacks from %d clients to %d process(es)",
            len(plan),
            args.clients,
            len(servers),
        )
        work.start()
        before = meter.read()
        res = run_async(send_all(urls, plan, args.clients), args.loop)
        after = meter.read()
        db_work = work.stop(len(plan))
        for name in pids:  # the server processes' CPU, together
            before["server"] = before.get("server", 0.0) + before[name]
            after["server"] = after.get("server", 0.0) + after[name]
        if res.non_200:
            log.error("%d requests were not answered 200: %s", res.non_200, res.errors)
            log.error("server log (tail):\n%s", servers[0].log_tail())
    finally:
        for server in servers:
            server.stop()

    billing_errors, checked = verify_billing(db, seeded, placed, durations)
    results = callback_results(db, seeded)
    lat = sorted(res.latencies_s)
    n = len(plan)
    cps = n / res.elapsed_s if res.elapsed_s > 0 else 0.0
    p50, p99 = percentile(lat, 50) * 1000, percentile(lat, 99) * 1000

    def per_cb(name: str) -> float:
        return round((after[name] - before[name]) * 1000 / n, 3)

    busy = after["machine_busy"] - before["machine_busy"]
    total = after["machine_total"] - before["machine_total"]
    return {
        "bench": "webhooks",
        "processes": processes,
        "callbacks": n,
        "clients": args.clients,
        "callbacks_per_s": round(cps, 1),
        "p50_ms": round(p50, 2),
        "p99_ms": round(p99, 2),
        "max_ms": round(lat[-1] * 1000, 2) if lat else None,
        "non_200": res.non_200,
        "billing_errors": billing_errors,
        "calls": checked,
        "duplicates": n - len(calls) * len(STATUSES),
        "order": args.order,
        "stored_results": results,
        "elapsed_s": round(res.elapsed_s, 2),
        "client_cpu_ms_per_callback": per_cb("client"),
        "server_cpu_ms_per_callback": per_cb("server"),
        "pg_cpu_ms_per_callback": per_cb("pg"),
        **db_work,
        "machine_busy_pct": round(100 * busy / total, 1) if total > 0 else None,
        "cpus": os.cpu_count(),
        "db_pool": args.db_pool,
        "target_callbacks_per_s": TARGET_CALLBACKS_PER_S,
        "target_p99_ms": TARGET_P99_MS,
        "met": bool(
            cps >= TARGET_CALLBACKS_PER_S
            and p99 <= TARGET_P99_MS
            and res.non_200 == 0
            and billing_errors == 0
        ),
    }


def fleet_figures(db: Any, tmp: Path, args: argparse.Namespace) -> list[dict[str, Any]]:
    """One process, then `args.processes`, then pgbench on the same server: each run's
    figures with `pgbench_tps` and `pgbench_ratio` (callbacks/s ÷ pgbench TPS), the
    fleet's `met` judged on the ratio (≥ TARGET_PGBENCH_RATIO) and the p99."""
    from bench.ledger import bench_pgbench

    runs = [bench_webhooks(db, tmp, args, 1), bench_webhooks(db, tmp, args, args.processes)]
    pgbench = bench_pgbench(db, args.clients, 2, args.pgbench_seconds)
    tps = float(pgbench["tps"])
    out = []
    for run in runs:
        ratio = run["callbacks_per_s"] / tps if tps > 0 else 0.0
        run = {
            **run,
            "pgbench_tps": round(tps, 1),
            "pgbench_clients": args.clients,
            "pgbench_ratio": round(ratio, 3),
            "target_pgbench_ratio": TARGET_PGBENCH_RATIO,
        }
        if run["processes"] > 1:
            run["met"] = bool(
                ratio >= TARGET_PGBENCH_RATIO
                and run["p99_ms"] <= TARGET_P99_MS
                and run["non_200"] == 0
                and run["billing_errors"] == 0
            )
        out.append(run)
    return out


# --- main -----------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Signed Twilio status callbacks (duplicated, out of order) against a "
        "running `klosesales serve` on a temporary embedded PostgreSQL: throughput, "
        "latency and a billing check. JSON figures on stdout, logs on stderr."
    )
    p.add_argument("--quick", action="store_true", help="small run: 2,000 callbacks")
    p.add_argument(
        "--callbacks",
        type=int,
        default=None,
        help="requests in the timed run, duplicates included (default 20000, --quick 2000)",
    )
    p.add_argument(
        "--clients",
        type=int,
        default=64,
        help="concurrent client tasks and connections (default 64)",
    )
    p.add_argument(
        "--order",
        choices=("shuffle", "local"),
        default="shuffle",
        help="shuffle: all callbacks in random order (default); local: each call's "
        "callbacks close together, racing for its row",
    )
    p.add_argument("--db-pool", type=int, default=20, help="the server's DB_POOL_SIZE (default 20)")
    p.add_argument(
        "--loop",
        choices=("uvloop", "asyncio"),
        default=None,
        help="client event loop (default uvloop when installed)",
    )
    p.add_argument(
        "--profile-server",
        type=Path,
        default=None,
        metavar="FILE",
        help="run the server under cProfile and write its profile to FILE",
    )
    p.add_argument(
        "--processes",
        type=int,
        default=1,
        help="serve processes behind a round-robin client (default 1). Above 1, a "
        "one-process run comes first and pgbench after both (`pgbench_ratio`)",
    )
    p.add_argument(
        "--pgbench-seconds", type=int, default=None, help="pgbench duration (default 20, --quick 5)"
    )
    p.add_argument(
        "--count-statements",
        action="store_true",
        help="log every statement during the timed runs and report statements per "
        "callback (slows the database: do not compare that run's CPU or throughput)",
    )
    p.add_argument("--seed", type=int, default=1, help="random seed for durations and order")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    args = p.parse_args(argv)
    if args.pgbench_seconds is None:
        args.pgbench_seconds = 5 if args.quick else 20
    if args.callbacks is None:
        args.callbacks = 2_000 if args.quick else 20_000
    if args.callbacks < len(STATUSES) or args.clients < 1 or args.db_pool < 1:
        p.error("--callbacks must be >= 4, --clients and --db-pool >= 1")
    if args.processes < 1 or args.pgbench_seconds < 1:
        p.error("--processes and --pgbench-seconds must be >= 1")
    if args.loop is None:
        args.loop = default_loop()
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    background = start(verbose=args.verbose, quiet=("telephony", "billing", "accounts", "httpx"))
    t_start = time.perf_counter()
    with bench_database() as (db, tmp):
        if args.processes == 1:
            emit({**bench_webhooks(db, tmp, args), "background_cpu_pct": background})
        else:
            for figures in fleet_figures(db, tmp, args):
                emit({**figures, "background_cpu_pct": background})
    log.info("done in %.1f s", time.perf_counter() - t_start)
    return 0


if __name__ == "__main__":
    sys.exit(main())
