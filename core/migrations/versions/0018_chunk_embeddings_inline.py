"""Keep transcript-chunk embeddings inline in the table, not in its TOAST relation.

A chunk row is ≈ 2.5 kB (the 384-d embedding alone is 1,544 bytes), above PostgreSQL's
default 2 kB TOAST target, and pgvector's `vector` type has EXTERNAL storage: so every
embedding was moved out of line, and exact search (which reads every row of a scope)
paid a TOAST index look-up and a second heap fetch per row. Measured on 1M chunks
(bench/retrieval.py, 2 cores): reading the 15,500 embeddings of one rep took 31 ms out
of line against 8 ms inline, while computing their cosine distances took ≈ 2 ms.

So the embedding's storage becomes MAIN (moved out of line only as the very last
resort) and the table's `toast_tuple_target` is raised to its maximum, so that a row
is left whole up to ≈ 8 kB; the text and its `tsv` stay inline too, as they were.
HNSW indexes keep their own copy of each vector and are not affected.

Only rows written from now on are stored this way. Rows already out of line stay so
until they are rewritten: re-indexing a call rewrites its chunks, and
`VACUUM FULL transcript_chunks` (an exclusive lock; it rebuilds the indexes) rewrites
them all.

Revision ID: 0018
Revises: 0017
"""

from collections.abc import Sequence

from alembic import op

from core.sql_script import execute_script

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPGRADE = """
ALTER TABLE transcript_chunks ALTER COLUMN embedding SET STORAGE MAIN;
ALTER TABLE transcript_chunks SET (toast_tuple_target = 8160);
"""

DOWNGRADE = """
ALTER TABLE transcript_chunks RESET (toast_tuple_target);
ALTER TABLE transcript_chunks ALTER COLUMN embedding SET STORAGE EXTERNAL;
"""


def upgrade() -> None:
    execute_script(op.get_bind(), UPGRADE)


def downgrade() -> None:
    execute_script(op.get_bind(), DOWNGRADE)
