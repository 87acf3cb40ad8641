"""Alembic, configured in code so it works from an installed package too."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
from sqlalchemy.engine import URL

from core.db import libpq_url

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: URL) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    # '%' must be escaped for ConfigParser interpolation (passwords may contain it).
    cfg.set_main_option(
        "sqlalchemy.url", url.render_as_string(hide_password=False).replace("%", "%%")
    )
    return cfg


def upgrade(url: URL, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(alembic_config(url), revision)


_REVISION = re.compile(r"^revision(?:\s*:\s*str)?\s*=\s*[\"']([^\"']+)[\"']", re.MULTILINE)
_DOWN_REVISION = re.compile(r"^down_revision\b[^=\n]*=\s*(.+)$", re.MULTILINE)


def _head_from_files() -> str | None:
    """The one head of the migration files, read from their `revision` and
    `down_revision` lines without importing them (what Alembic takes ~0.3 s to do);
    None if any file can't be read that way or there is not exactly one head."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        if path.name == "__init__.py":
            continue
        source = path.read_text(encoding="utf-8")
        revision, down = _REVISION.search(source), _DOWN_REVISION.search(source)
        if revision is None or down is None:
            return None
        revisions.add(revision.group(1))
        parents.update(re.findall(r"[\"']([^\"']+)[\"']", down.group(1)))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 and parents <= revisions else None


def head_revision(url: URL) -> str | None:
    quick = _head_from_files()
    if quick is not None:
        return quick
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()


def current_revision(url: URL) -> str | None:
    """The revision the database is at (None: never migrated), read from Alembic's
    version table as Alembic reads it, over one plain connection: importing Alembic for
    this took ~0.2 s of every `klosesales ask`. A table holding several revisions
    (branches) is refused, as Alembic's `get_current_revision` refuses it."""
    with psycopg.connect(libpq_url(url)) as conn:
        found = conn.execute("SELECT to_regclass('alembic_version')").fetchone()
        if found is None or found[0] is None:
            return None
        rows = conn.execute("SELECT version_num FROM alembic_version").fetchall()
    if len(rows) > 1:
        raise RuntimeError(
            f"the database is at {len(rows)} revisions at once ({', '.join(r[0] for r in rows)})"
        )
    return str(rows[0][0]) if rows else None


def is_up_to_date(url: URL) -> bool:
    return current_revision(url) == head_revision(url)
