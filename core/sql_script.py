"""Run a multi-statement SQL script (functions, DO blocks) inside a migration."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection


def execute_script(bind: Connection, sql: str) -> None:
    """Send `sql` as one simple-protocol query on the migration's own connection.

    Going to the psycopg connection directly keeps '%' literal (no placeholders are
    parsed) and keeps the script inside the migration's transaction.
    """
    driver: Any = bind.connection.driver_connection
    driver.execute(sql)
