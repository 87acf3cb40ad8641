"""The image's HEALTHCHECK: exit 0 when the app's /healthz answers 200, else 1.

Usage: python deploy/healthcheck.py [URL]   (default http://127.0.0.1:8000/healthz)

Standard library only (the slim image has no curl). /healthz answers 503 while the
database cannot be reached, so a replica cut off from PostgreSQL turns unhealthy.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request

DEFAULT_URL = "http://127.0.0.1:8000/healthz"
TIMEOUT_S = 4.0


def healthy(url: str) -> bool:
    """True when `url` answers HTTP 200 within TIMEOUT_S."""
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:  # noqa: S310
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def main(argv: list[str]) -> int:
    url = argv[1] if len(argv) > 1 else DEFAULT_URL
    ok = healthy(url)
    print("healthy" if ok else f"unhealthy: {url}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
