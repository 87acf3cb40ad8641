"""The simulated recording store's address and account, without its routes.

The carrier (carrier.py) uploads each recording to the store and reports where it is;
the store itself (recordings.py) is a FastAPI router. Its addresses live here so that
placing a simulated call — or merely building the carrier, as every `klosesales ask`
does — does not import FastAPI.
"""

from __future__ import annotations

import hashlib
from typing import Final

PATH: Final = "/simulator/recordings"
ACCOUNT_SID: Final = "AC" + "5" * 32  # the simulated carrier's account


def body_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def upload_url(base_url: str, sid: str, body: bytes) -> str:
    """Where the carrier uploads recording `sid` (the URL it signs)."""
    return f"{base_url.rstrip('/')}{PATH}/{sid}?bodySHA256={body_hash(body)}"


def recording_url(base_url: str, sid: str) -> str:
    """The `RecordingUrl` the carrier reports (the media is at this URL + `.wav`)."""
    return f"{base_url.rstrip('/')}{PATH}/{sid}"
