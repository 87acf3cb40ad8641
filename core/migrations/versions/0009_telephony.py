"""Telephony, part one: contacts, consent records, do-not-call lists (per workspace and
platform-wide), call attempts and the compliance gate's decisions.

Consent records are evidence: once written, only a revocation may be added (and never
taken back), and none is deleted. Compliance decisions are append-only.

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

from alembic import op

from core.sql_script import apply_sql, execute_script, revert_sql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CONTACTS = """
CREATE TABLE contacts (
    id           uuid PRIMARY KEY,
    workspace_id uuid NOT NULL REFERENCES workspaces (id),
    owner_id     uuid NOT NULL REFERENCES users (id),
    name         varchar(200) NOT NULL CHECK (btrim(name) <> ''),
    company      varchar(200),
    phone_e164   varchar(20) NOT NULL CHECK (phone_e164 ~ '^\\+[1-9][0-9]{6,14}$'),
    country      varchar(2),
    time_zones   text[] NOT NULL,
    notes        text NOT NULL DEFAULT '',
    created_by   uuid REFERENCES users (id),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX uq_contacts_workspace_phone ON contacts (workspace_id, phone_e164);
CREATE INDEX ix_contacts_owner ON contacts (owner_id);

CREATE TABLE consent_records (
    id                  uuid PRIMARY KEY,
    workspace_id        uuid NOT NULL REFERENCES workspaces (id),
    contact_id          uuid NOT NULL REFERENCES contacts (id),
    phone_e164          varchar(20) NOT NULL,
    consent_type        varchar(30) NOT NULL,
    source              text NOT NULL CHECK (btrim(source) <> ''),
    wording             text NOT NULL CHECK (btrim(wording) <> ''),
    method              varchar(100) NOT NULL CHECK (btrim(method) <> ''),
    obtained_at         timestamptz NOT NULL,
    attested_by         uuid NOT NULL REFERENCES users (id),
    created_at          timestamptz NOT NULL DEFAULT now(),
    revoked_at          timestamptz,
    revoked_how         text,
    revoked_recorded_by uuid REFERENCES users (id),
    CONSTRAINT ck_consent_records_consent_type
        CHECK (consent_type IN ('existing_relationship', 'express', 'express_written')),
    CONSTRAINT ck_consent_records_revocation CHECK ((revoked_at IS NULL) = (revoked_how IS NULL))
);
CREATE INDEX ix_consent_records_contact ON consent_records (contact_id);
CREATE INDEX ix_consent_records_workspace_phone ON consent_records (workspace_id, phone_e164);
"""

# After consent_records_guard (core/migrations/sql/consent_records_guard/0009.sql).
TRIGGERS_AND_LISTS = """
CREATE TRIGGER consent_records_guard BEFORE UPDATE OR DELETE ON consent_records
    FOR EACH ROW EXECUTE FUNCTION consent_records_guard();
CREATE TRIGGER consent_records_no_truncate BEFORE TRUNCATE ON consent_records
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();

-- workspace_id NULL: the platform-wide list.
CREATE TABLE dnc_entries (
    id           bigserial PRIMARY KEY,
    workspace_id uuid REFERENCES workspaces (id),
    phone_e164   varchar(20) NOT NULL,
    reason       text NOT NULL DEFAULT '',
    source       varchar(20) NOT NULL,
    reference    varchar(200),
    added_at     timestamptz NOT NULL DEFAULT now(),
    added_by     uuid REFERENCES users (id),
    CONSTRAINT ck_dnc_entries_source
        CHECK (source IN ('opt_out_call', 'import', 'manual', 'complaint'))
);
CREATE UNIQUE INDEX uq_dnc_entries_workspace_phone ON dnc_entries (workspace_id, phone_e164)
    WHERE workspace_id IS NOT NULL;
CREATE UNIQUE INDEX uq_dnc_entries_platform_phone ON dnc_entries (phone_e164)
    WHERE workspace_id IS NULL;

CREATE TABLE compliance_decisions (
    id           bigserial PRIMARY KEY,
    workspace_id uuid NOT NULL REFERENCES workspaces (id),
    contact_id   uuid REFERENCES contacts (id),
    phone_e164   varchar(20) NOT NULL,
    actor_id     uuid NOT NULL REFERENCES users (id),
    decided_at   timestamptz NOT NULL,
    allowed      boolean NOT NULL,
    reasons      jsonb NOT NULL DEFAULT '[]'::jsonb,
    local_times  jsonb NOT NULL DEFAULT '[]'::jsonb,
    detail       jsonb NOT NULL DEFAULT '{}'::jsonb,
    recorded_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT ck_compliance_decisions_reasons
        CHECK (jsonb_typeof(reasons) = 'array' AND (allowed = (jsonb_array_length(reasons) = 0)))
);
CREATE INDEX ix_compliance_decisions_contact ON compliance_decisions (contact_id, decided_at);
CREATE INDEX ix_compliance_decisions_workspace ON compliance_decisions (workspace_id, decided_at);
CREATE TRIGGER compliance_decisions_append_only BEFORE UPDATE OR DELETE ON compliance_decisions
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE TRIGGER compliance_decisions_no_truncate BEFORE TRUNCATE ON compliance_decisions
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();

CREATE TABLE call_attempts (
    id           bigserial PRIMARY KEY,
    workspace_id uuid NOT NULL REFERENCES workspaces (id),
    phone_e164   varchar(20) NOT NULL,
    at           timestamptz NOT NULL DEFAULT now(),
    contact_id   uuid REFERENCES contacts (id),
    user_id      uuid REFERENCES users (id),
    decision_id  bigint REFERENCES compliance_decisions (id),
    reference    varchar(200)
);
CREATE INDEX ix_call_attempts_workspace_phone_at ON call_attempts (workspace_id, phone_e164, at);
"""

DOWNGRADE = """
DROP TABLE IF EXISTS call_attempts, compliance_decisions, dnc_entries, consent_records, contacts;
"""


def upgrade() -> None:
    bind = op.get_bind()
    execute_script(bind, CONTACTS)
    apply_sql(bind, "consent_records_guard", "0009")
    execute_script(bind, TRIGGERS_AND_LISTS)


def downgrade() -> None:
    bind = op.get_bind()
    execute_script(bind, DOWNGRADE)
    revert_sql(bind, "consent_records_guard", "0009")
