"""Insights: one AI-generated (or rule-based) reading of each call.

Summary, outcome, objections, next steps and sentiment, with what produced them
(`generator`). Regenerating a call's insights replaces its row.

Revision ID: 0013
Revises: 0012
"""

from collections.abc import Sequence

from alembic import op

from core.sql_script import execute_script

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPGRADE = """
CREATE TABLE call_insights (
    call_id         uuid PRIMARY KEY REFERENCES calls (id),
    workspace_id    uuid NOT NULL REFERENCES workspaces (id),
    summary         text NOT NULL,
    outcome         varchar(30) NOT NULL,
    objections      text[] NOT NULL DEFAULT '{}',
    next_steps      text[] NOT NULL DEFAULT '{}',
    sentiment       varchar(10) NOT NULL,
    sentiment_score real NOT NULL CHECK (sentiment_score BETWEEN -1 AND 1),
    generator       varchar(100) NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT ck_call_insights_outcome CHECK (outcome IN (
        'interested', 'not_interested', 'callback_booked', 'voicemail', 'no_answer',
        'opted_out')),
    CONSTRAINT ck_call_insights_sentiment CHECK (sentiment IN ('positive', 'neutral', 'negative')),
    CONSTRAINT ck_call_insights_objections CHECK (
        objections <@ ARRAY['price', 'timing', 'competitor', 'authority', 'need']::text[])
);
CREATE INDEX ix_call_insights_workspace ON call_insights (workspace_id);
CREATE INDEX ix_call_insights_objections ON call_insights USING gin (objections);
"""

DOWNGRADE = """
DROP TABLE IF EXISTS call_insights;
"""


def upgrade() -> None:
    execute_script(op.get_bind(), UPGRADE)


def downgrade() -> None:
    execute_script(op.get_bind(), DOWNGRADE)
