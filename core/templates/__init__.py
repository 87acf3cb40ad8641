"""Shared page layout (base.html) for the server-rendered pages of every domain."""

from pathlib import Path

TEMPLATES_DIR = Path(__file__).parent
