"""The `klosesales` command."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn, TypeVar

import typer

from core.db import Database, open_database
from core.errors import DatabaseUnavailable, KloseError
from core.settings import Settings, get_settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from chat_app.turns import TurnResult

T = TypeVar("T")

cli = typer.Typer(
    help="Klosesales: a chat-first AI sales-calling platform.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


CLI_CALL_WAIT_S = 900.0  # the longest simulated call `ask` waits for


def _setup_logging(settings: Settings) -> None:
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request is noise
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


@contextlib.contextmanager
def _database(settings: Settings, *, migrate: bool | None = None) -> Iterator[Database]:
    """Open the database (starting the embedded one if needed) and make sure its
    schema is current: migrated automatically where allowed (`migrate=True`: always
    run Alembic), else refused. A schema found current is not handed to Alembic at all:
    reading its revision is one query, where Alembic's no-op upgrade imports every
    model and Alembic itself (most of a second of a cold `klosesales ask`)."""
    from core import migrate as migrations

    try:
        db = open_database(settings)
    except DatabaseUnavailable as exc:
        _fail(str(exc))
    try:
        auto = settings.should_auto_migrate if migrate is None else migrate
        if migrate:  # `klosesales migrate`
            migrations.upgrade(db.url)
        elif migrations.is_up_to_date(db.url):
            pass
        elif auto:
            migrations.upgrade(db.url)
        else:
            _fail(
                f"the database schema is at {migrations.current_revision(db.url)}, this version "
                f"needs {migrations.head_revision(db.url)}: run `klosesales migrate` first"
            )
        yield db
    finally:
        db.close()


def _in_session(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run `work(session)` in one transaction on the configured database and commit.
    A KloseError (bad input the service refused) exits 2 with its one-line message."""
    settings = get_settings()

    async def run(db: Database) -> T:
        try:
            async with db.session() as session:
                result = await work(session)
                await session.commit()
                return result
        finally:
            await db.dispose()

    with _database(settings) as db:
        try:
            return asyncio.run(run(db))
        except KloseError as exc:
            _fail(str(exc), 2)


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Run the web app (chat at /chat, webhooks, health at /healthz) and the job worker."""
    import uvicorn

    from chat_app.server import create_app

    settings = get_settings()
    if "public_base_url" not in settings.model_fields_set:
        # Not configured: the address this process serves is the one browsers use (the
        # same-origin check and the signed callbacks' URLs depend on it).
        wildcard = host in ("0.0.0.0", "::", "")  # noqa: S104 (a comparison, not a bind)
        local = "127.0.0.1" if wildcard else host
        settings = settings.model_copy(update={"public_base_url": f"http://{local}:{port}"})
    _setup_logging(settings)
    with _database(settings) as db:
        try:
            app = create_app(settings, db)
        except KloseError as exc:  # settings that cannot work together: say which
            _fail(str(exc), 2)
        typer.echo(f"Klosesales is running at http://{host}:{port}/chat", err=True)
        uvicorn.run(app, host=host, port=port, log_level=settings.log_level.lower())


@cli.command()
def migrate() -> None:
    """Apply database migrations up to the latest revision."""
    from core import migrate as migrations

    settings = get_settings()
    _setup_logging(settings)
    with _database(settings, migrate=True) as db:
        typer.echo(f"database is at revision {migrations.current_revision(db.url)}")


@cli.command()
def worker() -> None:
    """Run the job-queue worker alone (when `serve` runs with RUN_WORKER_IN_SERVE=false).
    It survives database restarts (restarted with backoff); SIGINT or SIGTERM stop it,
    giving in-flight jobs a few seconds to finish."""
    import signal

    from chat_app.jobs import JobWorker, build_dispatcher, build_job_app
    from retrieval.embeddings import build_embedder
    from telephony.provider import build_telephony

    settings = get_settings()
    _setup_logging(settings)
    with _database(settings) as db:
        telephony = build_telephony(settings)
        job_app = build_job_app(db, telephony, settings, build_embedder(settings))

        async def run() -> None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            try:
                async with (
                    job_app.open_async(),
                    JobWorker(job_app),
                    build_dispatcher(db, telephony),  # the shared number's dials
                ):
                    typer.echo("Klosesales job worker is running", err=True)
                    await stop.wait()
            finally:
                await db.dispose()

        asyncio.run(run())


@cli.command("seed-demo")
def seed_demo(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    reset_passwords: Annotated[
        bool, typer.Option("--reset-passwords", help="Issue new passwords to the demo users.")
    ] = False,
) -> None:
    """Create workspace "Demo Co" (a manager, two reps, 500 credits); print the logins once."""
    from chat_app.seed import DEMO_CALL_CREDITS, DEMO_CONTACTS, SeedResult
    from chat_app.seed import seed_demo as run_seed

    settings = get_settings()
    _setup_logging(settings)
    with _database(settings) as db:

        async def run() -> SeedResult:
            try:
                return await run_seed(db, reset_passwords=reset_passwords, settings=settings)
            finally:
                await db.dispose()

        result = asyncio.run(run())
    if as_json:
        typer.echo(json.dumps(result.as_json()))
        return
    if result.created:
        typer.echo(f"Created workspace Demo Co ({result.workspace_id}) with 500 credits.")
        typer.echo(
            f"Added {len(DEMO_CONTACTS)} contacts with consent and {result.calls} past calls "
            f"placed through the simulated carrier (paid from a separate {DEMO_CALL_CREDITS:,} "
            "demo credits)."
        )
    else:
        typer.echo(f"Demo Co already exists ({result.workspace_id}).")
    for user in result.users:
        shown = user.password or "(unchanged; use --reset-passwords for a new one)"
        typer.echo(f"  {user.role:<8} {user.email:<32} {shown}  mobile {user.mobile}")
    if any(u.password for u in result.users):
        typer.echo("These passwords are shown only now.")
    typer.echo(
        "Sign in at /account/login; each sign-in texts a code to the mobile (with simulated "
        "Verify it is on /account/dev-inbox and in the server log)."
    )


@cli.command()
def ask(
    text: Annotated[str, typer.Argument(help="What to ask the assistant.")],
    user: Annotated[str, typer.Option("--user", help="Email of the user asking.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Answer any confirmation with yes.")] = False,
    thread: Annotated[
        str | None, typer.Option("--thread", help="Continue this conversation (its id).")
    ] = None,
) -> None:
    """Ask the assistant one question, headless, with the same billing as the chat."""
    from chat_app.turns import TurnStatus

    settings = get_settings()
    _setup_logging(settings)
    thread_id = _thread_id(thread)
    with _database(settings) as db:
        try:
            result = asyncio.run(
                _ask_once(settings, db, text=text, user=user, thread_id=thread_id, yes=yes)
            )
        except KloseError as exc:
            _fail(str(exc), 2)
    if result is None:
        _fail(f"no user with email {user}", 2)
    _print_answer(result, as_json=as_json)
    if result.status is TurnStatus.FAILED:
        raise typer.Exit(1)


def _thread_id(thread: str | None) -> uuid.UUID | None:
    """`--thread`'s conversation id; a usage error (exit 2) when it is not a UUID."""
    if thread is None:
        return None
    try:
        return uuid.UUID(thread)
    except ValueError:
        _fail(f"--thread must be a conversation id (a UUID), not {thread!r}", 2)


async def _ask_once(
    settings: Settings,
    db: Database,
    *,
    text: str,
    user: str,
    thread_id: uuid.UUID | None,
    yes: bool,
) -> TurnResult | None:
    """One turn for the user with email `user` (None: no such user), confirmations
    asked on the terminal; then the process's providers and database are closed."""
    from accounts import service as accounts
    from accounts.service import Actor
    from chat_app.runtime import Runtime
    from chat_app.turns import answer_message, chat_limits

    runtime = Runtime(settings=settings, db=db)
    try:
        async with db.session() as session:
            found = await accounts.get_user_by_email(session, user)
        if found is None:
            return None
        return await answer_message(
            db,
            runtime.agent,
            Actor.of(found),
            text=text,
            message_id=f"cli-{uuid.uuid4()}",
            thread_id=thread_id,
            auto_confirm=yes,
            confirm=_terminal_confirm,
            ask=_terminal_ask,
            payments=runtime.payments,
            otp=runtime.otp,
            base_url=settings.public_base_url,
            telephony=runtime.telephony,
            limits=chat_limits(settings),
        )
    finally:
        # A simulated call lives in this process: let it finish (its callbacks go to
        # the server at PUBLIC_BASE_URL) before the process exits.
        await runtime.telephony.finish_calls(timeout_s=CLI_CALL_WAIT_S)
        await runtime.telephony.aclose()
        await runtime.payments.provider.aclose()
        await runtime.otp.aclose()
        await db.dispose()


def _print_answer(result: TurnResult, *, as_json: bool) -> None:
    """The answer and its footer (the thread's id on stderr), or one JSON object."""
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "answer": result.body,
                    "tool_calls": [{"name": c.name, "args": c.args} for c in result.tool_calls],
                    "cost_mc": result.cost_mc,
                    "balance_mc": result.balance_mc,
                    "status": result.status.value,
                    "thread_id": str(result.thread_id) if result.thread_id else None,
                }
            )
        )
        return
    typer.echo(result.text)
    if result.thread_id:
        typer.echo(f"(thread {result.thread_id})", err=True)


async def _terminal_confirm(question: str) -> bool | None:
    """Ask on the terminal. Without one (a script) nobody answers: the proposal stays
    pending in the conversation, to be answered by `ask --thread <id> yes` (or no) —
    or pass --yes to confirm at once."""
    if not sys.stdin.isatty():
        typer.echo(
            "(not confirmed yet: no terminal to ask on; answer with "
            "`klosesales ask --thread <id> yes` or `no`, or pass --yes)",
            err=True,
        )
        return None
    typer.echo(question, err=True)
    return await asyncio.to_thread(typer.confirm, "Continue?", default=False, err=True)


async def _terminal_ask(question: str) -> str | None:
    if not sys.stdin.isatty():
        typer.echo("(no answer: there is no terminal to ask on)", err=True)
        return None
    typer.echo(question, err=True)
    answer = await asyncio.to_thread(typer.prompt, "Answer", default="", err=True)
    return str(answer).strip() or None


packages_cli = typer.Typer(help="The credit package catalogue.", no_args_is_help=True)
admin_cli = typer.Typer(help="Platform administration.", no_args_is_help=True)
cli.add_typer(packages_cli, name="packages")
cli.add_typer(admin_cli, name="admin")


@packages_cli.command("list")
def packages_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False,
) -> None:
    """List the packages on sale with their Paddle price ids."""
    from billing import purchases
    from billing.money import credits_label, format_money

    async def work(session: AsyncSession) -> list[tuple[dict[str, object], str]]:
        return [
            (
                {
                    "code": p.code,
                    "name": p.name,
                    "credits_mc": p.credits_mc,
                    "price_cents": p.price_cents,
                    "currency": p.currency,
                    "paddle_price_id": p.paddle_price_id,
                    "service_fee_cents": p.service_fee_cents,
                    "paddle_fee_price_id": p.paddle_fee_price_id,
                },
                f"{p.code:<10} {p.name:<10} {credits_label(p.credits_mc):>16}"
                f"  {format_money(p.price_cents, p.currency):>9}"
                f" + fee {format_money(p.service_fee_cents, p.currency)}"
                f"  {p.paddle_price_id} / {p.paddle_fee_price_id or '-'}",
            )
            for p in await purchases.list_packages(session)
        ]

    for as_dict, line in _in_session(work):
        typer.echo(json.dumps(as_dict) if as_json else line)


@packages_cli.command("set")
def packages_set(
    code: Annotated[str, typer.Argument(help="Package code, e.g. starter.")],
    name: Annotated[str, typer.Option(help="Display name.")],
    credits: Annotated[int, typer.Option(help="Credits granted.", min=1)],
    price_cents: Annotated[int, typer.Option(help="Base price in cents.", min=1)],
    price_id: Annotated[str, typer.Option(help="Paddle price id of the package.")],
    fee_cents: Annotated[int, typer.Option(help="Service fee in cents.", min=0)] = 0,
    fee_price_id: Annotated[
        str | None, typer.Option(help="Paddle price id of the service fee.")
    ] = None,
    currency: Annotated[str, typer.Option(help="ISO currency code.")] = "USD",
    active: Annotated[bool, typer.Option("--active/--inactive")] = True,
) -> None:
    """Add a package or change one (matched by code)."""
    from sqlalchemy.dialects.postgresql import insert

    from billing.models import CreditPackage

    if fee_cents and not fee_price_id:
        _fail("--fee-cents needs --fee-price-id (the fee is its own Paddle price line)", 2)
    values = {
        "name": name,
        "credits_mc": credits * 1000,
        "price_cents": price_cents,
        "currency": currency.upper(),
        "paddle_price_id": price_id,
        "service_fee_cents": fee_cents,
        "paddle_fee_price_id": fee_price_id,
        "active": active,
    }

    async def work(session: AsyncSession) -> None:
        await session.execute(
            insert(CreditPackage)
            .values(id=uuid.uuid4(), code=code.lower(), **values)
            .on_conflict_do_update(index_elements=[CreditPackage.code], set_=values)
        )

    _in_session(work)
    typer.echo(f"package {code.lower()} saved")


@admin_cli.command("schedule-credit-expiry")
def schedule_credit_expiry(
    effective: Annotated[str, typer.Option(help="Effective date, YYYY-MM-DD (UTC).")],
    lifetime_days: Annotated[int, typer.Option(help="Days credits live after purchase.")],
    existing: Annotated[
        str,
        typer.Option(help="Credits bought before: never_expire | expire_from_effective_date."),
    ],
    by: Annotated[str, typer.Option(help="Who is scheduling it (for the record).")] = "admin",
) -> None:
    """Schedule a credit-expiry rule (at least 30 days ahead; users are told at once)."""
    from datetime import UTC, datetime

    from billing import expiry

    try:
        effective_at = datetime.strptime(effective, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        _fail("--effective must be a date: YYYY-MM-DD", 2)

    async def work(session: AsyncSession) -> str:
        policy = await expiry.schedule_policy(
            session,
            effective_at=effective_at,
            lifetime_days=lifetime_days,
            existing_grants=existing,  # type: ignore[arg-type]  # checked by the service
            created_by=by,
        )
        return policy.summary

    typer.echo(f"scheduled: {_in_session(work)}")


@admin_cli.command("paddle-events")
def paddle_events(
    status: Annotated[
        str, typer.Option(help="pending | processed | ignored | flagged | review")
    ] = "flagged",
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
) -> None:
    """List stored Paddle webhook events by status (flagged and review need a human)."""
    from sqlalchemy import select

    from billing.models import PaddleEvent

    async def work(session: AsyncSession) -> list[str]:
        rows = await session.scalars(
            select(PaddleEvent)
            .where(PaddleEvent.status == status)
            .order_by(PaddleEvent.received_at.desc())
            .limit(limit)
        )
        return [
            f"{e.received_at:%Y-%m-%d %H:%M:%S} {e.event_id} {e.event_type} "
            f"{e.transaction_id or '-'}: {e.note or ''}"
            for e in rows
        ]

    for line in _in_session(work):
        typer.echo(line)


def _workspace_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        _fail(f"--workspace must be a workspace id (a UUID), not {value!r}", 2)


@admin_cli.command("publish-terms")
def publish_terms(
    file: Annotated[Path, typer.Argument(help="The terms, in markdown.")],
    effective: Annotated[str, typer.Option(help="Effective date, YYYY-MM-DD (UTC).")],
    material: Annotated[
        bool, typer.Option("--material", help="A material change: needs 7 days' notice.")
    ] = False,
    version: Annotated[
        str | None, typer.Option(help="Version name (default: the effective date).")
    ] = None,
    by: Annotated[str, typer.Option(help="Who publishes it (for the record).")] = "admin",
) -> None:
    """Publish a new version of the terms; users see it at once and must accept it once
    it takes effect."""
    from datetime import UTC, datetime

    from accounts import terms

    try:
        body = file.read_text(encoding="utf-8")
    except OSError as exc:
        _fail(f"cannot read {file}: {exc.strerror}", 2)
    except UnicodeDecodeError:
        _fail(f"cannot read {file}: it is not UTF-8 text", 2)
    try:
        effective_at = datetime.strptime(effective, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        _fail("--effective must be a date: YYYY-MM-DD", 2)

    async def work(session: AsyncSession) -> str:
        row = await terms.publish(
            session,
            body,
            version=version or effective,
            effective_at=effective_at,
            material=material,
            published_by=by,
        )
        return f"terms {row.version} effective {row.effective_at:%Y-%m-%d}"

    typer.echo(f"published {_in_session(work)}")


@admin_cli.command("suspend")
def suspend_workspace(
    workspace: Annotated[str, typer.Option(help="Workspace id.")],
    reason: Annotated[str, typer.Option(help="Why (recorded, shown to no one else).")],
    by: Annotated[str, typer.Option(help="Who suspends it (for the record).")] = "admin",
) -> None:
    """Suspend a workspace: no sign-in, assistant, calls or purchases; sessions end now.
    With live Twilio its calls in progress are hung up too (simulated calls live in the
    server process, which hangs them up when it suspends)."""
    from accounts import suspension

    settings = get_settings()
    if settings.twilio_live:
        from telephony.calls import suspension_hook
        from telephony.provider import build_telephony

        suspension.register_suspend_hook(suspension_hook(build_telephony(settings)))
    workspace_id = _workspace_id(workspace)
    changed = _in_session(
        lambda session: suspension.suspend(
            session, workspace_id, reason=reason, by_label=f"cli:{by}"
        )
    )
    typer.echo(f"workspace {workspace_id} " + ("suspended" if changed else "was already suspended"))


@admin_cli.command("unsuspend")
def unsuspend_workspace(
    workspace: Annotated[str, typer.Option(help="Workspace id.")],
    by: Annotated[str, typer.Option(help="Who reinstates it (for the record).")] = "admin",
) -> None:
    """Lift a suspension."""
    from accounts import suspension

    workspace_id = _workspace_id(workspace)
    changed = _in_session(
        lambda session: suspension.unsuspend(session, workspace_id, by_label=f"cli:{by}")
    )
    typer.echo(f"workspace {workspace_id} " + ("reinstated" if changed else "was not suspended"))


@admin_cli.command("audit")
def audit_log(
    workspace: Annotated[str | None, typer.Option(help="Only this workspace.")] = None,
    action: Annotated[str | None, typer.Option(help="Only this action.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """The audit log, newest first: sign-ins, failed codes, role changes, admin actions."""
    from accounts import audit

    workspace_id = _workspace_id(workspace) if workspace else None

    async def work(session: AsyncSession) -> list[dict[str, object]]:
        events = await audit.list_events(
            session, workspace_id=workspace_id, action=action, limit=limit
        )
        return [
            {
                "at": e.at.isoformat(),
                "action": e.action,
                "actor": e.actor_label,
                "actor_id": str(e.actor_id) if e.actor_id else None,
                "workspace_id": str(e.workspace_id) if e.workspace_id else None,
                "target": e.target,
                "ip": e.ip,
                "detail": e.detail,
            }
            for e in events
        ]

    for row in _in_session(work):
        if as_json:
            typer.echo(json.dumps(row))
        else:
            typer.echo(
                f"{row['at']} {row['action']:<22} {row['actor']} "
                f"{row['target'] or ''} {row['ip'] or ''} {json.dumps(row['detail'])}".rstrip()
            )


@cli.command()
def reindex(
    batch_size: Annotated[int, typer.Option(min=1, help="Calls read per batch.")] = 100,
    max_calls: Annotated[
        int | None, typer.Option(min=0, help="Stop after this many calls (resume later).")
    ] = None,
    after: Annotated[
        str | None, typer.Option(help="Start after this call id (a run's last_call_id).")
    ] = None,
    everything: Annotated[
        bool, typer.Option("--all", help="Re-index every call with chunks, not only stale ones.")
    ] = False,
) -> None:
    """Re-chunk calls indexed before one turn became one chunk (idempotent, resumable)."""
    from retrieval.embeddings import build_embedder
    from retrieval.reindex import ReindexReport, reindex_stale_calls

    settings = get_settings()
    _setup_logging(settings)
    start = _call_id_option(after)
    with _database(settings) as db:

        async def run() -> ReindexReport:
            try:
                return await reindex_stale_calls(
                    db,
                    build_embedder(settings),
                    batch_size=batch_size,
                    max_calls=max_calls,
                    after=start,
                    everything=everything,
                    progress=lambda r: typer.echo(json.dumps(r.as_json()), err=True),
                )
            finally:
                await db.dispose()

        report = asyncio.run(run())
    typer.echo(json.dumps(report.as_json()))


def _call_id_option(value: str | None) -> uuid.UUID | None:
    if value is None:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        _fail(f"{value!r} is not a call id", 2)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
