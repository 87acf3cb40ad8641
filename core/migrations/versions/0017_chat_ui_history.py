"""Chat history for the Chainlit UI: its SQLAlchemy data layer's tables, owned here.

They live in their own schema, `chat_ui`, because Chainlit's table names (`users`,
`threads`, `steps`, …) would collide with ours; the data layer connects with
`search_path=chat_ui`. Columns follow Chainlit 2.12's `Step.to_dict()`,
`Message.to_dict()` and `Element.to_dict()` keys (a test checks they fit), plus
`chat_ui.files`, where chart and CSV elements are kept so a resumed thread shows them.

Revision ID: 0017
Revises: 0016
"""

from collections.abc import Sequence

from alembic import op

from core.sql_script import execute_script

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPGRADE = """
CREATE SCHEMA chat_ui;

CREATE TABLE chat_ui.users (
    "id"         uuid PRIMARY KEY,
    "identifier" text NOT NULL UNIQUE,
    "metadata"   jsonb NOT NULL,
    "createdAt"  text
);

CREATE TABLE chat_ui.threads (
    "id"             uuid PRIMARY KEY,
    "createdAt"      text,
    "name"           text,
    "userId"         uuid REFERENCES chat_ui.users ("id") ON DELETE CASCADE,
    "userIdentifier" text,
    "tags"           text[],
    "metadata"       jsonb
);
CREATE INDEX ix_chat_ui_threads_user ON chat_ui.threads ("userId", "createdAt");

CREATE TABLE chat_ui.steps (
    "id"            uuid PRIMARY KEY,
    "name"          text NOT NULL,
    "type"          text NOT NULL,
    "threadId"      uuid NOT NULL REFERENCES chat_ui.threads ("id") ON DELETE CASCADE,
    "parentId"      uuid,
    "streaming"     boolean NOT NULL,
    "waitForAnswer" boolean,
    "isError"       boolean,
    "metadata"      jsonb,
    "tags"          text[],
    "input"         text,
    "output"        text,
    "createdAt"     text,
    "command"       text,
    "start"         text,
    "end"           text,
    "generation"    jsonb,
    "showInput"     text,
    "language"      text,
    "indent"        integer,
    "defaultOpen"   boolean,
    "autoCollapse"  boolean,
    "modes"         jsonb
);
CREATE INDEX ix_chat_ui_steps_thread ON chat_ui.steps ("threadId", "createdAt");

CREATE TABLE chat_ui.elements (
    "id"           uuid PRIMARY KEY,
    "threadId"     uuid REFERENCES chat_ui.threads ("id") ON DELETE CASCADE,
    "type"         text,
    "url"          text,
    "chainlitKey"  text,
    "name"         text NOT NULL,
    "display"      text,
    "objectKey"    text,
    "size"         text,
    "page"         integer,
    "language"     text,
    "forId"        uuid,
    "mime"         text,
    "props"        jsonb,
    "autoPlay"     boolean,
    "playerConfig" jsonb
);
CREATE INDEX ix_chat_ui_elements_thread ON chat_ui.elements ("threadId");

CREATE TABLE chat_ui.feedbacks (
    "id"       uuid PRIMARY KEY,
    "forId"    uuid NOT NULL,
    "threadId" uuid NOT NULL REFERENCES chat_ui.threads ("id") ON DELETE CASCADE,
    "value"    integer NOT NULL,
    "comment"  text
);

-- Element contents (charts, CSVs), served only to the thread's author.
CREATE TABLE chat_ui.files (
    object_key varchar(500) PRIMARY KEY,
    mime       varchar(200) NOT NULL,
    data       bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
"""

DOWNGRADE = """
DROP SCHEMA IF EXISTS chat_ui CASCADE;
"""


def upgrade() -> None:
    execute_script(op.get_bind(), UPGRADE)


def downgrade() -> None:
    execute_script(op.get_bind(), DOWNGRADE)
