"""Chat notifications: which notice each user has been shown, so each shows once.

A row per (user, key): `call-ended:<call id>` once a call's outcome and summary were
shown, `low-balance:<grant id>` once a low balance was announced (a new grant — a
top-up — makes a new key, so the next dip is announced again). Claiming a notice is
an insert that does nothing on conflict, so two open tabs never both show it.

Revision ID: 0016
Revises: 0015
"""

from collections.abc import Sequence

from alembic import op

from core.sql_script import execute_script

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPGRADE = """
CREATE TABLE chat_notifications (
    user_id    uuid NOT NULL REFERENCES users (id),
    key        varchar(100) NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key)
);
"""

DOWNGRADE = """
DROP TABLE IF EXISTS chat_notifications;
"""


def upgrade() -> None:
    execute_script(op.get_bind(), UPGRADE)


def downgrade() -> None:
    execute_script(op.get_bind(), DOWNGRADE)
