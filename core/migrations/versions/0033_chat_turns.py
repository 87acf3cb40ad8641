"""A chat turn's database steps are one round trip each.

Admitting a message (chat_app/turns.py) took an ORM transaction of five statements and
a pool checkout's ping: the rate limit's count, the workspace's status with the
thread's owner and lock, the message id and the running turns, the turn's insert and
the history. Settling and storing the answer took another: the thread's lock, the
ledger's settlement, the messages, the turn, the thread and the balance.
Holding the answer's price took a third (a ping, BEGIN, the ledger's hold, the hold
noted on the turn, COMMIT). `chat_turn_admit`, `chat_turn_hold` and `chat_turn_store`
do the same work in the same order, each as its own transaction on the database's
autocommit function pool (core/sql_functions.py), calling the ledger's own
`ledger_hold_place`, `ledger_hold_settle` and `ledger_hold_release`.

Revision ID: 0033
Revises: 0032
"""

from collections.abc import Sequence

from alembic import op

from core.sql_script import apply_sql, revert_sql

revision: str = "0033"
down_revision: str | None = "0032"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FUNCTIONS = ("chat_turn_admit", "chat_turn_hold", "chat_turn_store")


def upgrade() -> None:
    for name in FUNCTIONS:
        apply_sql(op.get_bind(), name, "0033")


def downgrade() -> None:
    for name in reversed(FUNCTIONS):
        revert_sql(op.get_bind(), name, "0033")
