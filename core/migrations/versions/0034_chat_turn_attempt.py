"""A chat message's admission can be retried: the turn it started is resumed.

`chat_turn_admit` (0033) runs on the autocommit function pool, whose caller retries a
call once on a fresh connection when the first one broke (core/sql_functions.py). If
the break came after the server had committed the admission, the retry found the
message id taken and answered 'repeat': the user was told the message was "already
being answered" and the turn stayed running, its thread busy, until it went stale.
The caller now names its admission (`p_attempt`, one per message answered, the same
on the retry); the turn records it (`assistant_turns.admitted_by`), and a running turn
admitted by the same attempt is 'started' again, with its history.

Revision ID: 0034
Revises: 0033
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

from core.sql_script import apply_sql, execute_script, revert_sql

revision: str = "0034"
down_revision: str | None = "0033"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DROP_0033 = """
DROP FUNCTION IF EXISTS chat_turn_admit(
    uuid, uuid, uuid, uuid, text, text, text[], bigint[], integer[], interval, integer);
"""
DROP_0034 = """
DROP FUNCTION IF EXISTS chat_turn_admit(
    uuid, uuid, uuid, uuid, text, text, text[], bigint[], integer[], interval, integer, uuid);
"""


def upgrade() -> None:
    op.add_column("assistant_turns", sa.Column("admitted_by", UUID(as_uuid=True), nullable=True))
    bind = op.get_bind()
    execute_script(bind, DROP_0033)
    apply_sql(bind, "chat_turn_admit", "0034")


def downgrade() -> None:
    bind = op.get_bind()
    execute_script(bind, DROP_0034)
    revert_sql(bind, "chat_turn_admit", "0034")
    op.drop_column("assistant_turns", "admitted_by")
