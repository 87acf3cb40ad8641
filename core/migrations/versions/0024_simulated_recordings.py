"""The simulated carrier's recordings: the audio it synthesised for a simulated call.

Twilio keeps a real call's recording and the app fetches it on demand with the
account's credentials (telephony/recordings.py); the simulated carrier has no storage
of its own that every process can reach, so the WAV it made (and when each turn starts
in it) is kept here, served to the app at `/simulator/recordings/{sid}` as Twilio
serves `RecordingUrl`.

Revision ID: 0024
Revises: 0023
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sim_recordings",
        sa.Column("sid", sa.String(64), primary_key=True),
        sa.Column("call_sid", sa.String(64), nullable=False, index=True),
        sa.Column("content_type", sa.String(40), nullable=False),
        sa.Column("audio", sa.LargeBinary(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("timeline", postgresql.JSONB(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
    )


def downgrade() -> None:
    op.drop_table("sim_recordings")
