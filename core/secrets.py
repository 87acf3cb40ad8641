"""Secrets the app makes for itself when none is configured (kept in DATA_DIR, 0600)."""

from __future__ import annotations

import os
import secrets
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
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(secret)
    return secret
