"""Alembic environment. Run through `core.migrate` (or `klosesales migrate`)."""

from __future__ import annotations

import importlib

from alembic import context
from sqlalchemy import create_engine, pool

from core.base import Base

# Every domain's models, so that `alembic revision --autogenerate` sees all tables.
# Imported by name: core must not depend on the domains statically.
MODEL_MODULES = (
    "accounts.models",
    "billing.models",
    "chat_app.models",
    "insights.models",
    "retrieval.models",
    "telephony.models",
    "tools.models",
)
for name in MODEL_MODULES:
    importlib.import_module(name)

config = context.config
target_metadata = Base.metadata


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "", poolclass=pool.NullPool)
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
