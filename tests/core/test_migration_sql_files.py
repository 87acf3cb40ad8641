"""Every PL/pgSQL function of ours lives once, as `core/migrations/sql/<name>/<revision>.sql`.

- At head, each of our functions is exactly the newest file of its name, and every one
  has a folder (procrastinate's and the extensions' aside).
- Walking down from head one revision at a time, every downgrade leaves exactly the
  versions the files say: at revision R, the newest file not after R for each name, and
  no function whose first file comes after R.
- Down to base and up again gives the same schema, byte for byte
  (`pg_dump --schema-only`), as a database migrated once.
- No migration module carries a function body of its own.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pgserver
import psycopg
import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy.engine import URL

from core import migrate
from core.db import libpq_url
from core.sql_script import SQL_DIR, previous_version, sql_file, sql_versions
from tests.conftest import empty_database

PG_DUMP = Path(pgserver.__file__).resolve().parent / "pginstall" / "bin" / "pg_dump"
VERSIONS_DIR = migrate.MIGRATIONS_DIR / "versions"

# Ours: in public, not an extension member, not procrastinate's (its own schema.sql).
OUR_FUNCTIONS = """
SELECT DISTINCT p.proname FROM pg_proc p
 WHERE p.pronamespace = 'public'::regnamespace
   AND p.proname NOT LIKE 'procrastinate%'
   AND NOT EXISTS (SELECT 1 FROM pg_depend d
                    WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                      AND d.deptype = 'e')
"""
DEFINITIONS = """
SELECT pg_get_functiondef(p.oid) FROM pg_proc p
 WHERE p.pronamespace = 'public'::regnamespace AND p.proname = %s
"""


def _names() -> list[str]:
    return sorted(p.name for p in SQL_DIR.iterdir() if p.is_dir() and list(p.glob("*.sql")))


def _expected(revision: str | None) -> dict[str, str]:
    """Each function's version in force at `revision` (None: base, nothing)."""
    if revision is None:
        return {}
    expected = {}
    for name in _names():
        written = [v for v in sql_versions(name) if v <= revision]
        if written:
            expected[name] = written[-1]
    return expected


def _revisions(url: URL) -> list[str]:
    """Every revision, oldest first."""
    script = ScriptDirectory.from_config(migrate.alembic_config(url))
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]


def _our_functions(conn: psycopg.Connection) -> set[str]:
    return {row[0] for row in conn.execute(OUR_FUNCTIONS).fetchall()}


def _definitions(conn: psycopg.Connection, name: str) -> list[str]:
    return sorted(row[0] for row in conn.execute(DEFINITIONS, (name,)).fetchall())


def _assert_functions_are_files(libpq: str, revision: str | None) -> None:
    """The database's functions are exactly the versions the files put in force at
    `revision`: applying each such file (rolled back) changes nothing."""
    expected = _expected(revision)
    with psycopg.connect(libpq) as conn:
        assert _our_functions(conn) == set(expected), f"at revision {revision}"
        for name, version in expected.items():
            before = _definitions(conn, name)
            assert len(before) == 1, f"{name} at {revision}: {len(before)} definitions"
            conn.execute(sql_file(name, version).read_text(encoding="utf-8"), prepare=False)
            after = _definitions(conn, name)
            conn.rollback()
            assert after == before, f"{name} at {revision} is not {name}/{version}.sql"


def _schema(libpq: str) -> str:
    return subprocess.run(
        [str(PG_DUMP), "--schema-only", "--no-owner", libpq],
        check=True,
        capture_output=True,
        text=True,
    ).stdout


@pytest.fixture
def empty(pg_server_url: str) -> Iterator[tuple[URL, str]]:
    """A database of its own with no schema yet: its URL, and the same for libpq."""
    with empty_database(pg_server_url, "klosesales_sqlfiles") as url:
        yield url, libpq_url(url)


def test_every_function_at_every_revision_is_its_file(empty):
    url, libpq = empty
    revisions = _revisions(url)
    migrate.upgrade(url)
    _assert_functions_are_files(libpq, revisions[-1])
    assert _expected(revisions[-1]), "no function files found"
    migrated_once = _schema(libpq)

    config = migrate.alembic_config(url)
    for index in range(len(revisions) - 1, -1, -1):
        target = revisions[index - 1] if index > 0 else "base"
        command.downgrade(config, target)
        _assert_functions_are_files(libpq, target if index > 0 else None)

    migrate.upgrade(url)
    assert _schema(libpq) == migrated_once


def test_every_file_belongs_to_a_revision():
    """A file is named after a revision that exists, so upgrade and downgrade find it."""
    revisions = {p.name[:4] for p in VERSIONS_DIR.glob("[0-9][0-9][0-9][0-9]_*.py")}
    for name in _names():
        assert set(sql_versions(name)) <= revisions, name
        for version in sql_versions(name):
            text = sql_file(name, version).read_text(encoding="utf-8")
            creates = re.findall(r"^CREATE OR REPLACE FUNCTION (\w+)\(", text, re.MULTILINE)
            assert creates == [name], f"{name}/{version}.sql must create {name} alone"


def test_no_migration_carries_a_function_body():
    for module in VERSIONS_DIR.glob("*.py"):
        source = module.read_text(encoding="utf-8")
        assert not re.search(r"CREATE\s+(OR\s+REPLACE\s+)?FUNCTION", source), module.name
        assert ".index(" not in source, module.name


def test_versions_and_their_predecessors():
    assert previous_version("ledger_debit", "0004") is None
    assert previous_version("ledger_debit", "0010") == "0004"
    assert previous_version("call_status_apply", "0022") == "0019"
    with pytest.raises(FileNotFoundError, match="wrote no version"):
        sql_file("ledger_debit", "0006")
    with pytest.raises(ValueError, match="not a function name"):
        sql_versions("ledger_debit; DROP TABLE users")
