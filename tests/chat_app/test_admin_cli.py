"""`klosesales admin publish-terms | suspend | unsuspend | audit`, run as a user would."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, text

from accounts.models import TermsVersion, Workspace
from tests.accounts.helpers import make_member
from tests.chat_app.test_billing_cli import _run


def _date(days: int) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).date().isoformat()


async def test_publish_terms_with_notice(database, db, tmp_path):
    body = tmp_path / "terms.md"
    body.write_text("# Terms v3\n\nNew calling rules.\n")
    version = f"cli-{uuid.uuid4().hex[:6]}"
    proc = _run(
        database,
        "admin",
        "publish-terms",
        str(body),
        "--effective",
        _date(10),
        "--material",
        "--version",
        version,
        "--by",
        "legal@test",
    )
    assert proc.returncode == 0, proc.stderr
    assert f"published terms {version} effective {_date(10)}" in proc.stdout
    async with db.session() as session:
        row = await session.scalar(select(TermsVersion).where(TermsVersion.version == version))
        assert row is not None
        assert (row.material, row.published_by) == (True, "legal@test")
        # Keep the shared database's upcoming version out of other tests' way.
        await session.execute(
            text("UPDATE terms_versions SET effective_at = '2099-01-02' WHERE id = :i"),
            {"i": row.id},
        )
        await session.commit()


def test_publish_terms_bad_input(database, tmp_path):
    body = tmp_path / "terms.md"
    body.write_text("# Terms\n")
    short = _run(
        database, "admin", "publish-terms", str(body), "--effective", _date(3), "--material"
    )
    assert short.returncode == 2
    assert "7 days" in short.stderr
    missing = _run(
        database, "admin", "publish-terms", str(tmp_path / "nope.md"), "--effective", _date(10)
    )
    assert missing.returncode == 2
    assert "cannot read" in missing.stderr
    bad_date = _run(database, "admin", "publish-terms", str(body), "--effective", "next week")
    assert bad_date.returncode == 2
    assert "YYYY-MM-DD" in bad_date.stderr


async def test_suspend_unsuspend_and_audit(database, db):
    member = await make_member(db)
    ws = str(member.actor.workspace_id)
    suspended = _run(database, "admin", "suspend", "--workspace", ws, "--reason", "robocalls")
    assert suspended.returncode == 0, suspended.stderr
    assert "suspended" in suspended.stdout
    again = _run(database, "admin", "suspend", "--workspace", ws, "--reason", "robocalls")
    assert "was already suspended" in again.stdout
    async with db.session() as session:
        row = await session.get(Workspace, member.actor.workspace_id)
        assert row is not None
        assert (row.status, row.suspended_reason) == ("suspended", "robocalls")
    back = _run(database, "admin", "unsuspend", "--workspace", ws)
    assert back.returncode == 0
    assert "reinstated" in back.stdout
    log = _run(database, "admin", "audit", "--workspace", ws, "--json")
    assert log.returncode == 0, log.stderr
    actions = [json.loads(line)["action"] for line in log.stdout.splitlines()]
    assert actions[:2] == ["workspace_unsuspended", "workspace_suspended"]
    first = json.loads(log.stdout.splitlines()[1])
    assert (first["actor"], first["detail"]) == ("cli:admin", {"reason": "robocalls"})


def test_suspend_bad_input(database):
    not_uuid = _run(database, "admin", "suspend", "--workspace", "acme", "--reason", "x")
    assert not_uuid.returncode == 2
    assert "UUID" in not_uuid.stderr
    unknown = _run(database, "admin", "suspend", "--workspace", str(uuid.uuid4()), "--reason", "x")
    assert unknown.returncode == 2
    assert "No workspace" in unknown.stderr
    no_reason = _run(
        database, "admin", "suspend", "--workspace", str(uuid.uuid4()), "--reason", " "
    )
    assert no_reason.returncode == 2


async def test_publish_terms_defaults_its_version_to_the_date_and_refuses_it_twice(
    database, db, tmp_path
):
    body = tmp_path / "terms.md"
    body.write_text("# Terms\n\nFar in the future.\n")
    # A random far-future date: unique in the shared database, out of other tests' way.
    day = (datetime(2300, 1, 1, tzinfo=UTC) + timedelta(days=uuid.uuid4().int % 3000)).date()
    first = _run(database, "admin", "publish-terms", str(body), "--effective", day.isoformat())
    assert first.returncode == 0, first.stderr
    assert f"published terms {day.isoformat()} effective {day.isoformat()}" in first.stdout
    again = _run(database, "admin", "publish-terms", str(body), "--effective", day.isoformat())
    assert again.returncode == 2
    assert "already exists" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1
    async with db.session() as session:
        row = await session.scalar(
            select(TermsVersion).where(TermsVersion.version == day.isoformat())
        )
        assert row is not None
        assert (row.material, row.published_by, row.body_md) == (
            False,
            "admin",
            "# Terms\n\nFar in the future.\n",
        )
        # Nobody accepted it: it can go (terms_versions is not append-only).
        await session.delete(row)
        await session.commit()


def test_publish_terms_refuses_the_past_an_empty_file_and_non_utf8(database, tmp_path):
    body = tmp_path / "terms.md"
    body.write_text("# Terms\n")
    past = _run(database, "admin", "publish-terms", str(body), "--effective", _date(-2))
    assert past.returncode == 2
    assert "in the past" in past.stderr
    empty = tmp_path / "empty.md"
    empty.write_text("  \n")
    blank = _run(database, "admin", "publish-terms", str(empty), "--effective", _date(30))
    assert blank.returncode == 2
    assert "empty" in blank.stderr
    latin = tmp_path / "latin.md"
    latin.write_bytes("# Conditions générales\n".encode("latin-1"))
    not_utf8 = _run(database, "admin", "publish-terms", str(latin), "--effective", _date(30))
    assert not_utf8.returncode == 2
    assert "UTF-8" in not_utf8.stderr


async def test_audit_lines_and_filters(database, db, make_workspace):
    from accounts import audit

    ws = await make_workspace()
    async with db.session() as session:
        await audit.record(
            session,
            audit.ROLE_CHANGED,
            actor_label="boss@test",
            workspace_id=ws,
            target="rep@test",
            ip="198.51.100.4",
            detail={"from": "rep", "to": "manager"},
        )
        await audit.record(session, audit.SIGNIN, actor_label="rep@test", workspace_id=ws)
        await session.commit()
    lines = _run(database, "admin", "audit", "--workspace", str(ws))
    assert lines.returncode == 0, lines.stderr
    out = lines.stdout.splitlines()
    assert len(out) == 2
    assert "signin" in out[0]
    assert "role_changed" in out[1]
    assert "boss@test" in out[1]
    assert "rep@test" in out[1]
    assert "198.51.100.4" in out[1]
    one = _run(
        database, "admin", "audit", "--workspace", str(ws), "--action", "role_changed", "--json"
    )
    assert one.returncode == 0, one.stderr
    (row,) = [json.loads(line) for line in one.stdout.splitlines()]
    assert (row["action"], row["actor"], row["target"], row["workspace_id"]) == (
        "role_changed",
        "boss@test",
        "rep@test",
        str(ws),
    )
    assert row["detail"] == {"from": "rep", "to": "manager"}
    bad = _run(database, "admin", "audit", "--workspace", "nope")
    assert bad.returncode == 2
    assert "UUID" in bad.stderr
    assert _run(database, "admin", "audit", "--limit", "0").returncode == 2


def test_unsuspend_refuses_bad_input(database):
    unknown = _run(database, "admin", "unsuspend", "--workspace", str(uuid.uuid4()))
    assert unknown.returncode == 2
    assert "No workspace" in unknown.stderr
    assert _run(database, "admin", "unsuspend", "--workspace", "12").returncode == 2
