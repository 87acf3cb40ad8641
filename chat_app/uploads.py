"""Files users attach to chat messages: accepted narrowly, and not kept on disk.

Chainlit takes an upload only if `.chainlit/config.toml` `[features.spontaneous_file_upload]`
allows it (a CSV, up to its size, one per message; chat_app/security.py refuses
larger bodies before they are read) and writes it to `.files/<chat session>/` under
the app root, where it would stay until the chat session ends. The app reads an
upload, if at all, while it answers the message; `discard` then deletes the file and
forgets it. (The attachment shown in the thread is the chat history's own copy in
`chat_ui.files`, served to its author only; it goes with the thread.)
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

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
