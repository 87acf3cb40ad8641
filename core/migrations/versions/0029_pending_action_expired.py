"""Pending actions may end `expired`: a proposal nobody answered before `expires_at`.

The chat tells the user once that such a proposal expired unanswered (on reopening the
conversation, or when they answer it "yes" too late) and marks it `expired` with one
conditional UPDATE, so it is announced once and can never run.

Revision ID: 0029
Revises: 0028
"""

from collections.abc import Sequence

from alembic import op

from core.sql_script import execute_script

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPGRADE = """
ALTER TABLE pending_actions DROP CONSTRAINT IF EXISTS pending_actions_status_check;
ALTER TABLE pending_actions ADD CONSTRAINT pending_actions_status_check
    CHECK (status IN ('pending', 'running', 'done', 'failed', 'declined', 'expired'));
CREATE INDEX ix_pending_actions_thread ON pending_actions (thread_id, created_at);
"""

DOWNGRADE = """
DROP INDEX IF EXISTS ix_pending_actions_thread;
UPDATE pending_actions SET status = 'declined' WHERE status = 'expired';
ALTER TABLE pending_actions DROP CONSTRAINT IF EXISTS pending_actions_status_check;
ALTER TABLE pending_actions ADD CONSTRAINT pending_actions_status_check
    CHECK (status IN ('pending', 'running', 'done', 'failed', 'declined'));
"""


def upgrade() -> None:
    execute_script(op.get_bind(), UPGRADE)


def downgrade() -> None:
    execute_script(op.get_bind(), DOWNGRADE)
