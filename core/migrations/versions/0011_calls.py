"""Telephony, part two: calls, the raw Twilio callbacks they receive, and transcripts.

A call row is the one place a dial's state lives: the gate's decision and the attempt it
counted, the credit hold sized to what the workspace could afford (its seconds are the
call's Twilio `TimeLimit`), Twilio's CallSid, the status as applied from callbacks, and
the settlement. `call_callbacks` keeps every signed callback as received, de-duplicated
by `dedupe_key` (status: CallSid + SequenceNumber), including the ones for CallSids we
do not know (kept for review). Transcript segments are append-only.

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

from alembic import op

from core.sql_script import execute_script

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPGRADE = """
CREATE TABLE calls (
    id                 uuid PRIMARY KEY,
    workspace_id       uuid NOT NULL REFERENCES workspaces (id),
    contact_id         uuid NOT NULL REFERENCES contacts (id),
    placed_by          uuid NOT NULL REFERENCES users (id),
    phone_e164         varchar(20) NOT NULL,
    from_e164          varchar(20) NOT NULL,
    decision_id        bigint NOT NULL REFERENCES compliance_decisions (id),
    attempt_id         bigint REFERENCES call_attempts (id),
    hold_id            bigint REFERENCES credit_holds (id),
    time_limit_s       integer NOT NULL CHECK (time_limit_s > 0),
    brief              jsonb NOT NULL DEFAULT '{}'::jsonb,
    twilio_sid         varchar(64) UNIQUE,
    status             varchar(20) NOT NULL DEFAULT 'pending',
    last_sequence      integer,
    answered_by        varchar(30),
    duration_s         integer CHECK (duration_s >= 0),
    cost_mc            bigint CHECK (cost_mc >= 0),
    outcome            varchar(30),
    callback_at        timestamptz,
    end_reason         text,
    error              text,
    recording_sid      varchar(64),
    recording_url      text,
    recording_duration_s integer,
    created_at         timestamptz NOT NULL DEFAULT now(),
    answered_at        timestamptz,
    ended_at           timestamptz,
    settled_at         timestamptz,
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT ck_calls_status CHECK (status IN (
        'pending', 'queued', 'initiated', 'ringing', 'in-progress', 'completed',
        'busy', 'failed', 'no-answer', 'canceled')),
    CONSTRAINT ck_calls_outcome CHECK (outcome IS NULL OR outcome IN (
        'interested', 'not_interested', 'callback_booked', 'voicemail', 'no_answer',
        'opted_out', 'busy', 'failed'))
);
CREATE INDEX ix_calls_workspace_created ON calls (workspace_id, created_at DESC);
CREATE INDEX ix_calls_placed_by_created ON calls (placed_by, created_at DESC);
CREATE INDEX ix_calls_contact ON calls (contact_id, created_at DESC);
CREATE INDEX ix_calls_unsettled ON calls (created_at) WHERE settled_at IS NULL;

CREATE TABLE call_callbacks (
    id              bigserial PRIMARY KEY,
    kind            varchar(12) NOT NULL CHECK (kind IN ('status', 'amd', 'recording')),
    dedupe_key      text NOT NULL UNIQUE,
    call_sid        varchar(64) NOT NULL,
    call_id         uuid REFERENCES calls (id),
    sequence_number integer,
    call_status     varchar(20),
    payload         jsonb NOT NULL,
    result          varchar(20) NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT ck_call_callbacks_result CHECK (result IN (
        'applied', 'settled', 'stale', 'after_terminal', 'unknown_call', 'reconciled'))
);
CREATE INDEX ix_call_callbacks_call_sid ON call_callbacks (call_sid);
CREATE INDEX ix_call_callbacks_unknown ON call_callbacks (received_at)
    WHERE result = 'unknown_call';

CREATE TABLE transcript_segments (
    id           bigserial PRIMARY KEY,
    call_id      uuid NOT NULL REFERENCES calls (id),
    workspace_id uuid NOT NULL REFERENCES workspaces (id),
    seq          integer NOT NULL,
    speaker      varchar(10) NOT NULL CHECK (speaker IN ('agent', 'prospect', 'system')),
    text         text NOT NULL,
    started_at   timestamptz NOT NULL,
    ended_at     timestamptz NOT NULL,
    interrupted  boolean NOT NULL DEFAULT false,
    CONSTRAINT uq_transcript_segments_call_seq UNIQUE (call_id, seq),
    CONSTRAINT ck_transcript_segments_times CHECK (ended_at >= started_at)
);
CREATE INDEX ix_transcript_segments_workspace ON transcript_segments (workspace_id);
CREATE TRIGGER transcript_segments_append_only
    BEFORE UPDATE OR DELETE ON transcript_segments
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE TRIGGER transcript_segments_no_truncate
    BEFORE TRUNCATE ON transcript_segments
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();
"""

DOWNGRADE = """
DROP TABLE IF EXISTS transcript_segments;
DROP TABLE IF EXISTS call_callbacks;
DROP TABLE IF EXISTS calls;
"""


def upgrade() -> None:
    execute_script(op.get_bind(), UPGRADE)


def downgrade() -> None:
    execute_script(op.get_bind(), DOWNGRADE)
