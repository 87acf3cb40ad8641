"""Files users attach to chat messages: accepted narrowly, and not kept on disk.

Chainlit takes an upload only if `.chainlit/config.toml` `[features.spontaneous_file_upload]`
allows it (a CSV, up to its size, one per message; chat_app/security.py refuses
larger bodies before they are read) and writes it to `.files/<chat session>/` under
the app root, where it would stay until the chat session ends. The app reads an
upload, if at all, while it answers the message (`read_attachments`: handed to that
turn's tools through tools.attachments, e.g. import_contacts); `discard` then deletes
the file and forgets it. (The attachment shown in the thread is the chat history's own copy in
`chat_ui.files`, served to its author only; it goes with the thread.)
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from tools.attachments import Attachment

log = logging.getLogger(__name__)


def files_root() -> Path:
    """Where Chainlit writes uploads (`.files` under the Chainlit app root)."""
    from chainlit.config import FILES_DIRECTORY

    return Path(FILES_DIRECTORY).resolve()


def discard(elements: list[Any] | None, session_files: dict[str, Any] | None) -> list[Path]:
    """Delete the files Chainlit stored for these uploaded elements and drop them from
    the chat session's file table. Only files under `files_root()` are touched; calling
    it again is harmless. Returns the paths deleted."""
    root = files_root()
    deleted: list[Path] = []
    for element in elements or []:
        raw = getattr(element, "path", None)
        if not raw:
            continue
        path = Path(raw).resolve()
        if not path.is_relative_to(root):
            continue
        if session_files is not None:
            session_files.pop(str(getattr(element, "chainlit_key", "") or ""), None)
            session_files.pop(str(getattr(element, "id", "") or ""), None)
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        except OSError:
            log.warning("could not delete an uploaded file", exc_info=True)
            continue
        deleted.append(path)
    return deleted


# What the chat answers about an upload it cannot hand to a tool, and the request a
# message made of an attachment alone stands for.
IMPORT_REQUEST = "Import the contacts from the attached CSV file."
MAX_READ_BYTES = 5 * 1024 * 1024  # .chainlit/config.toml max_size_mb


def read_attachments(elements: list[Any] | None) -> tuple[Attachment, ...]:
    """The uploaded files of a message, read from Chainlit's `.files/` (only files under
    `files_root()`, at most `MAX_READ_BYTES` each; others are skipped), for the tools of
    this turn (tools.attachments). `discard` still deletes them afterwards."""
    root = files_root()
    found: list[Attachment] = []
    for element in elements or []:
        raw = getattr(element, "path", None)
        if not raw:
            continue
        path = Path(raw).resolve()
        if not path.is_relative_to(root):
            continue
        try:
            if path.stat().st_size > MAX_READ_BYTES:
                continue
            data = path.read_bytes()
        except OSError:
            log.warning("could not read an uploaded file", exc_info=True)
            continue
        name = str(getattr(element, "name", "") or path.name)
        mime = str(getattr(element, "mime", "") or "")
        found.append(Attachment(name=name[:200], mime=mime[:100], data=data))
    return tuple(found)


def request_text(content: str | None, files: tuple[Attachment, ...]) -> str:
    """The message's text; a CSV sent with no text asks for it to be imported."""
    text = (content or "").strip()
    if text or not files:
        return content or ""
    return IMPORT_REQUEST
