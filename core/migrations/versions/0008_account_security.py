"""Accounts, complete: sign-up requests, verified mobiles, sessions with a second
factor, OAuth identities, invitations, versioned terms and their acceptances, rate
limits, and an append-only audit log.

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from core.sql_script import apply_sql, execute_script, revert_sql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = """
ALTER TABLE users
    ADD COLUMN status varchar(20) NOT NULL DEFAULT 'active',
    ADD COLUMN mobile_verified_at timestamptz,
    ADD COLUMN age_attested_at timestamptz,
    ADD COLUMN session_version integer NOT NULL DEFAULT 0,
    ADD CONSTRAINT ck_users_status CHECK (status IN ('active', 'removed'));

ALTER TABLE workspaces
    ADD COLUMN suspended_at timestamptz;

-- A sign-up waiting for its mobile code; the user exists only once the code checks.
CREATE TABLE signup_requests (
    id               uuid PRIMARY KEY,
    name             varchar(200) NOT NULL,
    email            varchar(320) NOT NULL CHECK (email = lower(email)),
    password_hash    text,
    mobile_e164      varchar(20) NOT NULL,
    age_attested_at  timestamptz NOT NULL,
    terms_version_id integer,
    invitation_id    uuid,
    oauth_provider   varchar(20),
    oauth_subject    varchar(255),
    ip               varchar(64),
    created_at       timestamptz NOT NULL DEFAULT now(),
    expires_at       timestamptz NOT NULL,
    completed_at     timestamptz,
    user_id          uuid REFERENCES users (id)
);
CREATE INDEX ix_signup_requests_email ON signup_requests (email);

CREATE TABLE user_sessions (
    id            uuid PRIMARY KEY,
    user_id       uuid NOT NULL REFERENCES users (id),
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_seen_at  timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    revoked_at    timestamptz,
    ip            varchar(64),
    user_agent    varchar(300),
    method        varchar(20) NOT NULL
);
CREATE INDEX ix_user_sessions_user ON user_sessions (user_id);

CREATE TABLE user_identities (
    id         uuid PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id),
    provider   varchar(20) NOT NULL,
    subject    varchar(255) NOT NULL,
    email      varchar(320),
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT uq_user_identities_provider_subject UNIQUE (provider, subject)
);

CREATE TABLE invitations (
    id           uuid PRIMARY KEY,
    workspace_id uuid NOT NULL REFERENCES workspaces (id),
    email        varchar(320) NOT NULL CHECK (email = lower(email)),
    mobile_e164  varchar(20) NOT NULL,
    role         varchar(20) NOT NULL CHECK (role IN ('rep', 'manager')),
    token_hash   varchar(64) NOT NULL UNIQUE,
    invited_by   uuid NOT NULL REFERENCES users (id),
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    accepted_at  timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX ix_invitations_workspace ON invitations (workspace_id, created_at DESC);

CREATE TABLE terms_versions (
    id           serial PRIMARY KEY,
    version      varchar(40) NOT NULL UNIQUE,
    effective_at timestamptz NOT NULL,
    material     boolean NOT NULL DEFAULT false,
    body_md      text NOT NULL,
    published_at timestamptz NOT NULL DEFAULT now(),
    published_by varchar(200) NOT NULL,
    CONSTRAINT ck_terms_versions_material_notice CHECK (
        NOT material OR effective_at >= published_at + interval '7 days')
);

CREATE TABLE terms_acceptances (
    id               bigserial PRIMARY KEY,
    user_id          uuid NOT NULL REFERENCES users (id),
    terms_version_id integer NOT NULL REFERENCES terms_versions (id),
    accepted_at      timestamptz NOT NULL DEFAULT now(),
    ip               varchar(64),
    user_agent       varchar(300),
    CONSTRAINT uq_terms_acceptances_user_version UNIQUE (user_id, terms_version_id)
);

ALTER TABLE signup_requests
    ADD CONSTRAINT fk_signup_requests_terms FOREIGN KEY (terms_version_id) REFERENCES terms_versions (id),
    ADD CONSTRAINT fk_signup_requests_invitation FOREIGN KEY (invitation_id) REFERENCES invitations (id);

CREATE TABLE audit_events (
    id           bigserial PRIMARY KEY,
    at           timestamptz NOT NULL DEFAULT now(),
    action       varchar(60) NOT NULL,
    actor_id     uuid REFERENCES users (id),
    actor_label  varchar(200) NOT NULL,
    workspace_id uuid REFERENCES workspaces (id),
    target       varchar(300),
    ip           varchar(64),
    detail       jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX ix_audit_events_at ON audit_events (at DESC);
CREATE INDEX ix_audit_events_workspace ON audit_events (workspace_id, at DESC);
"""

# After forbid_change (core/migrations/sql/forbid_change/0008.sql).
TRIGGERS = """
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();
CREATE TRIGGER terms_acceptances_append_only BEFORE UPDATE OR DELETE ON terms_acceptances
    FOR EACH ROW EXECUTE FUNCTION forbid_change();

-- Fixed-window counters for rate limits (per IP, per number, per email).
CREATE TABLE rate_limit_hits (
    key          varchar(200) NOT NULL,
    window_start timestamptz NOT NULL,
    hits         integer NOT NULL DEFAULT 0,
    PRIMARY KEY (key, window_start)
);
"""

# The first terms, in force from the start.
SEED = """
INSERT INTO terms_versions (version, effective_at, material, body_md, published_by)
VALUES ('2026-11-01', '2026-11-01T00:00:00Z', false, :terms, 'migration 0008')
"""

FIRST_TERMS = """# Klosesales terms of service

Effective 1 November 2026.

1. **Who may use Klosesales.** You must be at least 18 and authorised to accept these
   terms for yourself and the organisation you represent.
2. **Lawful calling only.** You may call only people who gave consent or with whom you
   have a prior business relationship. You must honour do-not-call requests and local
   calling hours. Every call is placed by an AI that says so, and is recorded.
3. **Credits.** Credits are bought in packages through Paddle, our merchant of record.
   Calls cost 1 credit per second and each assistant answer costs 0.5 credit. Credits
   cannot be transferred, have no cash value, and do not expire today; any expiry rule
   will be announced at least 30 days ahead.
4. **AI output.** Summaries and insights are generated by AI and may be inaccurate.
5. **Suspension.** We may suspend a workspace that breaks these terms or the law.
6. **Changes.** We announce material changes at least 7 days before they take effect;
   you will be asked to accept them in the app.
"""


def upgrade() -> None:
    bind = op.get_bind()
    execute_script(bind, TABLES)
    apply_sql(bind, "forbid_change", "0008")
    execute_script(bind, TRIGGERS)
    op.execute(sa.text(SEED).bindparams(terms=FIRST_TERMS))


def downgrade() -> None:
    bind = op.get_bind()
    execute_script(
        bind,
        """
        DROP TABLE IF EXISTS rate_limit_hits, audit_events, signup_requests, terms_acceptances,
            terms_versions, invitations, user_identities, user_sessions;
        ALTER TABLE workspaces DROP COLUMN IF EXISTS suspended_at;
        ALTER TABLE users DROP CONSTRAINT IF EXISTS ck_users_status,
            DROP COLUMN IF EXISTS status, DROP COLUMN IF EXISTS mobile_verified_at,
            DROP COLUMN IF EXISTS age_attested_at, DROP COLUMN IF EXISTS session_version;
        """,
    )
    revert_sql(bind, "forbid_change", "0008")
