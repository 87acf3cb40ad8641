"""Pending actions: what a write tool proposed, waiting for the user's confirmation.

A tool that writes (contacts, consent, calls, purchases, the account's mobile…) never
writes when the model calls it: it stores a proposal here and asks the user. Only the
user's "yes" moves a row from `pending` to `running` (one conditional UPDATE, so it
runs at most once, whichever process or tab answers); the tool's effect runs after
that and the row ends `done` or `failed`. A "no" ends it `declined`; an unanswered
one stays `pending` (it survives a reload: the chat shows it again with its buttons)
until `expires_at`.

Revision ID: 0020
Revises: 0019
"""

from collections.abc import Sequence

from alembic import op

from core.sql_script import execute_script

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPGRADE = """
CREATE TABLE pending_actions (
    id            uuid PRIMARY KEY,
    user_id       uuid NOT NULL REFERENCES users (id),
    workspace_id  uuid NOT NULL REFERENCES workspaces (id),
    thread_id     uuid REFERENCES assistant_threads (id) ON DELETE CASCADE,
    message_id    varchar(100),
    tool          varchar(60) NOT NULL,
    payload       jsonb NOT NULL,
    question      text NOT NULL,
    declined_text text NOT NULL,
    status        varchar(20) NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'running', 'done', 'failed', 'declined')),
    result        text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    decided_at    timestamptz,
    finished_at   timestamptz
);
CREATE INDEX ix_pending_actions_open
    ON pending_actions (user_id, thread_id, created_at) WHERE status = 'pending';
"""

DOWNGRADE = """
DROP TABLE IF EXISTS pending_actions;
"""


def upgrade() -> None:
    execute_script(op.get_bind(), UPGRADE)


def downgrade() -> None:
    execute_script(op.get_bind(), DOWNGRADE)
