"""Run SQL scripts inside a migration: multi-statement strings, and function files.

Every version of a PL/pgSQL function lives once, as
`core/migrations/sql/<function name>/<revision>.sql`: the `CREATE OR REPLACE FUNCTION`
that migration `<revision>` introduced. A migration applies its own versions on upgrade
(`apply_sql`) and puts back the ones they replaced on downgrade (`revert_sql`), so no
function body is ever copied from one migration into another.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Connection

SQL_DIR = Path(__file__).resolve().parent / "migrations" / "sql"

_NAME = re.compile(r"[a-z_][a-z0-9_]*")
_REVISION = re.compile(r"[0-9]{4}")


def execute_script(bind: Connection, sql: str) -> None:
    """Send `sql` as one simple-protocol query on the migration's own connection.

    Going to the psycopg connection directly keeps '%' literal (no placeholders are
    parsed) and keeps the script inside the migration's transaction.
    """
    driver: Any = bind.connection.driver_connection
    driver.execute(sql)


def sql_versions(name: str) -> list[str]:
    """The revisions that wrote a version of function `name`, oldest first.

    Raises ValueError for a name that is not a plain lower-case SQL identifier, and
    FileNotFoundError when no version of it exists.
    """
    if not _NAME.fullmatch(name):
        raise ValueError(f"not a function name: {name!r}")
    folder = SQL_DIR / name
    versions = sorted(p.stem for p in folder.glob("*.sql") if _REVISION.fullmatch(p.stem))
    if not versions:
        raise FileNotFoundError(f"no SQL file for function {name} under {folder}")
    return versions


def sql_file(name: str, revision: str) -> Path:
    """The file holding the version of function `name` that `revision` wrote.

    Raises FileNotFoundError when that revision wrote no version of it.
    """
    if revision not in sql_versions(name):
        raise FileNotFoundError(f"revision {revision} wrote no version of function {name}")
    return SQL_DIR / name / f"{revision}.sql"


def previous_version(name: str, revision: str) -> str | None:
    """The revision whose version of `name` the one `revision` wrote replaced; None when
    `revision` introduced the function."""
    sql_file(name, revision)
    older = [v for v in sql_versions(name) if v < revision]
    return older[-1] if older else None


def apply_sql(bind: Connection, name: str, revision: str) -> None:
    """Create (or replace) function `name` as `revision` wrote it."""
    execute_script(bind, sql_file(name, revision).read_text(encoding="utf-8"))


def revert_sql(bind: Connection, name: str, revision: str) -> None:
    """Undo `revision`'s version of function `name`: put back the version it replaced, or
    drop the function when `revision` introduced it.

    The version put back must have the same arguments (CREATE OR REPLACE); a migration that
    changed a function's arguments drops its own signature first. The drop names no
    arguments, so it fails loudly if several functions share the name.
    """
    previous = previous_version(name, revision)
    if previous is None:
        execute_script(bind, f"DROP FUNCTION IF EXISTS {name};")
    else:
        apply_sql(bind, name, previous)
