"""Retrieval: transcript chunks with embeddings (pgvector) and full-text (tsvector).

A chunk is a window of consecutive transcript turns (with overlap) of one call. Its
embedding is 384-dimensional (all-MiniLM-L6-v2 locally; OpenAI embeddings are asked for
384 dimensions), and each row records the model that made it: a query is compared only
with rows of the model that embedded it. Full-text search uses a generated `tsv`
column with a GIN index.

pgvector 0.6.2 has no iterative index scans, so a filtered HNSW query can return fewer
rows than asked: small tenants are searched exactly (their rows found by the btree
index), and a tenant large enough gets its own partial HNSW index, created by a job
and listed in `retrieval_tenant_indexes`.

Revision ID: 0012
Revises: 0011
"""

from collections.abc import Sequence

from alembic import op

from core.sql_script import execute_script

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPGRADE = """
CREATE TABLE transcript_chunks (
    id              bigserial PRIMARY KEY,
    call_id         uuid NOT NULL REFERENCES calls (id),
    workspace_id    uuid NOT NULL REFERENCES workspaces (id),
    owner_id        uuid NOT NULL REFERENCES users (id),
    contact_id      uuid NOT NULL REFERENCES contacts (id),
    seq             integer NOT NULL,
    first_segment   integer NOT NULL,
    last_segment    integer NOT NULL,
    started_at      timestamptz NOT NULL,
    offset_s        integer NOT NULL CHECK (offset_s >= 0),
    speakers        text[] NOT NULL,
    text            text NOT NULL,
    tsv             tsvector GENERATED ALWAYS AS (to_tsvector('english', text)) STORED,
    embedding       vector(384) NOT NULL,
    embedding_model varchar(100) NOT NULL,
    embedding_dim   integer NOT NULL CHECK (embedding_dim = 384),
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT uq_transcript_chunks_call_seq UNIQUE (call_id, seq)
);
CREATE INDEX ix_transcript_chunks_workspace ON transcript_chunks (workspace_id, owner_id);
CREATE INDEX ix_transcript_chunks_tsv ON transcript_chunks USING gin (tsv);

CREATE TABLE retrieval_tenant_indexes (
    workspace_id uuid PRIMARY KEY REFERENCES workspaces (id),
    index_name   text NOT NULL UNIQUE,
    rows_at_build bigint NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
"""

DOWNGRADE = """
DROP TABLE IF EXISTS retrieval_tenant_indexes;
DROP TABLE IF EXISTS transcript_chunks;
"""


def upgrade() -> None:
    execute_script(op.get_bind(), UPGRADE)


def downgrade() -> None:
    execute_script(op.get_bind(), DOWNGRADE)
