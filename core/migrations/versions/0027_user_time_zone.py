"""Each user's own time zone (issue 18 part 5).

`users.time_zone` is an IANA name; every time the app shows that user, and every
"today / this week" and analytics bucket it counts, is in it. Existing users get
the zone of their mobile number (`core.timezones.zone_for_phone`); NULL means
"not known yet" and reads as the mobile's zone, else UTC (`core.timezones.user_zone`).

Revision ID: 0027
Revises: 0026
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from core.timezones import zone_for_phone

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("users", sa.Column("time_zone", sa.String(64), nullable=True))
    bind = op.get_bind()
    rows = bind.execute(
        sa.text("SELECT id, mobile_e164 FROM users WHERE mobile_e164 IS NOT NULL")
    ).all()
    for user_id, mobile in rows:
        zone = zone_for_phone(mobile)
        if zone is not None:
            bind.execute(
                sa.text("UPDATE users SET time_zone = :zone WHERE id = :id"),
                {"zone": zone, "id": user_id},
            )


def downgrade() -> None:
    op.drop_column("users", "time_zone")
