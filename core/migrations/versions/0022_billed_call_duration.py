"""A settled call's stored duration is at most what was billed for it.

`call_status_apply` (migration 0019) stored Twilio's `CallDuration` as the call's
`duration_s` as it came, while the charge was capped at the hold: a callback claiming
999,999,999 seconds billed what the hold allowed and recorded a call of 31 years,
which analytics (talk time, averages) then summed. The duration is now clamped to the
whole seconds billed (`cost_mc` / 1000, rounded down), or to the call's time limit
for a call that has no hold. Everything else in the function is 0019's, unchanged.

Revision ID: 0022
Revises: 0021
"""

import importlib
from collections.abc import Sequence

from alembic import op

from core.sql_script import execute_script

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_REPORTED = """duration_s = CASE WHEN p_status = 'completed' THEN GREATEST(coalesce(p_duration, 0), 0)
                                 ELSE 0 END,"""
_BILLED = """duration_s = CASE WHEN p_status = 'completed'
                                 THEN LEAST(GREATEST(coalesce(p_duration, 0), 0),
                                            CASE WHEN c.hold_id IS NOT NULL THEN cost / 1000
                                                 ELSE c.time_limit_s END)
                                 ELSE 0 END,"""


def _upgrade_0019() -> str:
    module = importlib.import_module(
        "core.migrations.versions.0019_reconcile_through_call_status_apply"
    )
    script: str = module.UPGRADE
    create = "CREATE FUNCTION call_status_apply("
    if script.count(create) != 1:
        raise RuntimeError("0019's call_status_apply is not the one 0022 was written against")
    return script.replace(create, "CREATE OR REPLACE FUNCTION call_status_apply(")


def upgrade() -> None:
    script = _upgrade_0019()
    if script.count(_REPORTED) != 1:
        raise RuntimeError("0019's call_status_apply is not the one 0022 was written against")
    execute_script(op.get_bind(), script.replace(_REPORTED, _BILLED))


def downgrade() -> None:
    execute_script(op.get_bind(), _upgrade_0019())
