"""Job queue: procrastinate's schema, owned by our migrations.

The SQL is procrastinate's own `schema.sql` for the pinned version (see
constraints.txt). When procrastinate is upgraded, add a revision that applies the
files from `procrastinate.schema.SchemaManager.get_migrations_path()` in between.

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

from alembic import op
from procrastinate.schema import SchemaManager

from core.sql_script import execute_script

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    execute_script(op.get_bind(), SchemaManager.get_schema())


def downgrade() -> None:
    execute_script(
        op.get_bind(),
        """
        DO $$ DECLARE r record; BEGIN
          FOR r IN SELECT tablename FROM pg_tables
                   WHERE schemaname = 'public' AND tablename LIKE 'procrastinate%' LOOP
            EXECUTE format('DROP TABLE IF EXISTS %I CASCADE', r.tablename);
          END LOOP;
          FOR r IN SELECT p.oid::regprocedure AS sig FROM pg_proc p
                   JOIN pg_namespace n ON n.oid = p.pronamespace
                   WHERE n.nspname = 'public' AND p.proname LIKE 'procrastinate%' LOOP
            EXECUTE format('DROP FUNCTION IF EXISTS %s CASCADE', r.sig);
          END LOOP;
          -- Its enums and its own composite types (a table's row type went with the table).
          FOR r IN SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
                   LEFT JOIN pg_class c ON c.oid = t.typrelid
                   WHERE n.nspname = 'public' AND t.typname LIKE 'procrastinate%'
                     AND (t.typtype = 'e' OR c.relkind = 'c') LOOP
            EXECUTE format('DROP TYPE IF EXISTS %I CASCADE', r.typname);
          END LOOP;
        END $$;
        """,
    )
