"""The chat application: Chainlit UI, the assistant agent, the FastAPI server, the CLI.

Chainlit reads `.chainlit/config.toml` (and writes a permissive default one if there
is none) from `CHAINLIT_APP_ROOT`, or the working directory, the first time any of its
modules is imported — and modules here import it at load time. So the app root is set
here, before anything in this package can import Chainlit: the repo's own `.chainlit/`
when it is there (a source checkout or the image), else the working directory.
"""

import os
from pathlib import Path

_REPO_ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault(
    "CHAINLIT_APP_ROOT",
    str(_REPO_ROOT if (_REPO_ROOT / "chainlit.md").exists() else Path.cwd()),
)
