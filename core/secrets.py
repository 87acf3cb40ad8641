"""Secrets the app makes for itself when none is configured (kept in DATA_DIR, 0600)."""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path

from pydantic import SecretStr


def persistent_secret(data_dir: Path, name: str, configured: SecretStr | None) -> str:
    """The configured secret, else one generated once into `data_dir/name`."""
    if configured is not None:
        return configured.get_secret_value()
    path = data_dir / name
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    # Published whole or not at all: written to a private temporary file, then linked
    # into place (link fails if the name exists), so a process starting beside this one
    # never reads a half-written secret, and the first one to publish wins.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{name}.")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(secret)
        os.link(tmp, path)
    except FileExistsError:  # another process published first: use theirs
        return path.read_text().strip()
    finally:
        os.unlink(tmp)
    return secret
