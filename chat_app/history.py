"""Chat history for the Chainlit UI, on our PostgreSQL.

Chainlit's own SQLAlchemy data layer stores threads, steps (messages and tool steps),
elements and feedback; its tables are created by our Alembic migration 0017 in the
`chat_ui` schema, and it connects with `search_path=chat_ui` so its `users` table is
not ours. Element contents (charts, CSV downloads) go to `chat_ui.files` through
`ChatFiles` and are served by `/chat-files/…` to the thread's author only, so a
resumed thread shows them again. An element that links to one of the app's own pages
(a call's recording, served with the viewer's permission) is stored as that link.

The assistant's own memory (what the model sees) stays in `assistant_threads` /
`assistant_messages`; a Chainlit thread remembers which one it continues in its
persisted user session (`assistant_thread_id`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, cast

from chainlit.data.sql_alchemy import SQLAlchemyDataLayer
from chainlit.data.storage_clients.base import BaseStorageClient
from chainlit.data.utils import queue_until_user_message
from chainlit.element import Element
from sqlalchemy import text
from sqlalchemy.engine import URL

from core.db import Database

SCHEMA = "chat_ui"
FILES_PATH = "/chat-files"
MAX_FILE_BYTES = 5 * 1024 * 1024
_JSON_COLUMNS = ("modes", "playerConfig")
# chat_ui.elements (migration 0017): what a stored element row may hold.
_ELEMENT_COLUMNS = frozenset(
    [
        "id",
        "threadId",
        "type",
        "url",
        "chainlitKey",
        "name",
        "display",
        "objectKey",
        "size",
        "page",
        "language",
        "forId",
        "mime",
        "props",
        "autoPlay",
        "playerConfig",
    ]
)
# Chainlit's decorator (untyped): an element is written once the user has said something.
_queued = cast(
    Callable[[Callable[..., Awaitable[None]]], Callable[..., Awaitable[None]]],
    queue_until_user_message(),  # type: ignore[no-untyped-call]
)
_INSERT_FILE = (
    "INSERT INTO chat_ui.files (object_key, mime, data) VALUES (:k, :m, :d)"
    " ON CONFLICT (object_key) DO NOTHING"
)
_UPSERT_FILE = (
    "INSERT INTO chat_ui.files (object_key, mime, data) VALUES (:k, :m, :d)"
    " ON CONFLICT (object_key) DO UPDATE SET data = EXCLUDED.data, mime = EXCLUDED.mime"
)


class ChatFiles(BaseStorageClient):
    """Element contents in `chat_ui.files`, keyed `<chainlit user id>/<element id>/<name>`."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def upload_file(
        self,
        object_key: str,
        data: bytes | str,
        mime: str = "application/octet-stream",
        overwrite: bool = True,
        content_disposition: str | None = None,
    ) -> dict[str, Any]:
        body = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        if len(body) > MAX_FILE_BYTES or len(object_key) > 500:
            return {}
        async with self.db.session() as session:
            await session.execute(
                text(_UPSERT_FILE if overwrite else _INSERT_FILE),
                {"k": object_key, "m": mime[:200], "d": body},
            )
            await session.commit()
        return {"object_key": object_key, "url": await self.get_read_url(object_key)}

    async def delete_file(self, object_key: str) -> bool:
        async with self.db.session() as session:
            result = await session.execute(
                text("DELETE FROM chat_ui.files WHERE object_key = :k"), {"k": object_key}
            )
            await session.commit()
        return bool(getattr(result, "rowcount", 0))

    async def get_read_url(self, object_key: str) -> str:
        return f"{FILES_PATH}/{object_key}"

    async def close(self) -> None:
        return None

    async def read(self, object_key: str, user_identifier: str) -> tuple[bytes, str] | None:
        """The file's bytes and type, if `user_identifier` (an email) owns it."""
        owner, _, _ = object_key.partition("/")
        try:
            uuid.UUID(owner)
        except ValueError:
            return None
        async with self.db.session() as session:
            row = (
                await session.execute(
                    text(
                        "SELECT f.data, f.mime FROM chat_ui.files f"
                        " JOIN chat_ui.users u ON u.id = CAST(:owner AS uuid)"
                        " WHERE f.object_key = :k AND u.identifier = :who"
                    ),
                    {"k": object_key, "owner": owner, "who": user_identifier},
                )
            ).first()
        return (bytes(row[0]), str(row[1])) if row is not None else None


class ChatHistory(SQLAlchemyDataLayer):
    """Chainlit's SQLAlchemy data layer on the `chat_ui` schema."""

    async def create_step(self, step_dict: Any) -> None:
        for column in _JSON_COLUMNS:
            if isinstance(step_dict.get(column), (dict, list)):
                step_dict[column] = json.dumps(step_dict[column])
        await super().create_step(step_dict)

    @_queued
    async def create_element(self, element: Element) -> None:
        """Chainlit copies an element given by URL into storage by fetching the URL.
        A link to the app's own page (`/calls/<id>/recording`) is kept as the link
        instead: the server cannot fetch a relative URL, and a recording is served to
        whoever asks with the viewer's own permission, never from a copy."""
        if not (element.for_id and _own_link(element)):
            await super().create_element(element)
            return
        row = {
            key: json.dumps(value) if isinstance(value, (dict, list)) else value
            for key, value in element.to_dict().items()
            if key in _ELEMENT_COLUMNS and value is not None
        }
        columns = ", ".join(f'"{column}"' for column in row)
        values = ", ".join(f":{column}" for column in row)
        updates = ", ".join(f'"{column}" = :{column}' for column in row if column != "id")
        # The column names are from the fixed list above; every value is a parameter.
        await self.execute_sql(
            query=f"INSERT INTO elements ({columns}) VALUES ({values})"  # noqa: S608
            f" ON CONFLICT (id) DO UPDATE SET {updates}",
            parameters=row,
        )


def _own_link(element: Element) -> bool:
    """Only a URL and it is a path on this app (not `//host/…`)."""
    url = element.url or ""
    return (
        not element.path
        and not element.content
        and url.startswith("/")
        and not url.startswith("//")
    )


def build_history(url: URL, files: ChatFiles) -> ChatHistory:
    return ChatHistory(
        conninfo=url.render_as_string(hide_password=False),
        connect_args={"options": f"-c search_path={SCHEMA}"},
        storage_provider=files,
    )
