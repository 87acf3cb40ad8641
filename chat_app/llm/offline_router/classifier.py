"""The learned intent classifier: which intent a message asks for, with a probability.

A multinomial logistic regression over three blocks of features of a message:

* its words and word pairs, and the character 3- and 4-grams of its words (typos such
  as 'trnscript' still share most of their grams with 'transcript'), each block L2
  normalised, over the vocabulary seen in training;
* the signals `route` reads from it (a phone number, a named package, a period, a
  reference to one call, quoted text, an order to call, a question);
* its sentence embedding: all-MiniLM-L6-v2, the model retrieval already ships
  (`retrieval/model/`), loaded on first use and kept for the process.

The weights are learned at build time by `scripts/train_intents.py` from the labelled
phrasings in `training/*.jsonl` (one JSON object a line: `text`, `tool`, `args`, and for
answers given without a tool an `intent`: 'help', 'no_transfer' or 'none' — what no
tool does) plus each `Intent`'s `examples`, and shipped in `intent_model.npz` with the
hash of that data (`training_hash`): a test fails when the weights are stale.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
TRAINING_DIR = HERE / "training"
MODEL_FILE = HERE / "intent_model.npz"
# Bumped when the features or the fitting change, so old weights are seen as stale.
FEATURE_VERSION = "3"
NONE = "none"  # the class of what no tool does (and of what was not understood)
SIGNALS = ("phone", "package", "packages", "period", "one_call", "quoted", "order_to_call")
QUESTION = "question"
EMBEDDING_DIM = 384

Embed = Callable[[str], "np.ndarray[Any, Any]"]


@dataclass(frozen=True)
class Example:
    """One labelled phrasing: `label` is an intent's name ('none': no tool does it)."""

    text: str
    label: str
    args: dict[str, Any]
    tool: str | None


def _label(row: dict[str, Any]) -> str:
    return str(row.get("intent") or row.get("tool") or NONE)


def training_files(directory: Path = TRAINING_DIR) -> list[Path]:
    return sorted(directory.glob("*.jsonl"))


def intent_examples() -> list[tuple[str, str, str | None]]:
    """(text, intent name, tool) for each example written on an `Intent`."""
    from chat_app.llm.offline_router.intents import INTENTS

    return [(text, i.name, i.tool) for i in INTENTS for text in i.examples]


def load_examples(directory: Path = TRAINING_DIR) -> list[Example]:
    """Every labelled phrasing: the training files, then the intents' examples; a text
    seen before (case and spacing aside) is kept once."""
    seen: set[str] = set()
    found: list[Example] = []

    def add(text: str, label: str, args: dict[str, Any], tool: str | None) -> None:
        key = " ".join(re.sub(r"[^\w\s']", " ", text.lower()).split())
        if key and key not in seen:
            seen.add(key)
            found.append(Example(text=text, label=label, args=args, tool=tool))

    for path in training_files(directory):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                add(str(row["text"]), _label(row), dict(row.get("args") or {}), row.get("tool"))
    for text, name, tool in intent_examples():
        add(text, name, {}, tool)
    return found


def training_hash(directory: Path = TRAINING_DIR) -> str:
    """What the weights were learned from: the training files' bytes, the intents'
    examples and the feature version."""
    digest = hashlib.sha256(FEATURE_VERSION.encode())
    for path in training_files(directory):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    for text, name, tool in intent_examples():
        digest.update(f"{name}\0{tool}\0{text}\0".encode())
    return digest.hexdigest()


# --- features ---------------------------------------------------------------------------


def word_features(padded: str) -> list[str]:
    """Words and word pairs of a normalised message."""
    words = padded.split()
    pairs = [f"{a}_{b}" for a, b in itertools.pairwise(words)]
    return [f"w={w}" for w in words] + [f"b={p}" for p in pairs]


def char_features(padded: str) -> list[str]:
    """Character 3- and 4-grams of each word, marked at its ends ('<call>')."""
    grams: list[str] = []
    for word in padded.split():
        marked = f"<{word}>"
        for n in (3, 4):
            grams.extend(f"c={marked[i : i + n]}" for i in range(len(marked) - n + 1))
    return grams


def _block(names: Iterable[str], index: dict[str, int], size: int) -> np.ndarray[Any, Any]:
    vector = np.zeros(size, dtype=np.float32)
    for name in set(names):
        position = index.get(name)
        if position is not None:
            vector[position] = 1.0
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm else vector


@dataclass(frozen=True)
class Vocabulary:
    words: dict[str, int]
    chars: dict[str, int]

    @classmethod
    def learn(cls, padded_texts: Sequence[str], *, min_count: int = 2) -> Vocabulary:
        """Features seen in at least `min_count` texts, in a stable order."""

        def index(extract: Callable[[str], list[str]]) -> dict[str, int]:
            counts: dict[str, int] = {}
            for text in padded_texts:
                for name in set(extract(text)):
                    counts[name] = counts.get(name, 0) + 1
            kept = sorted(name for name, n in counts.items() if n >= min_count)
            return {name: i for i, name in enumerate(kept)}

        return cls(words=index(word_features), chars=index(char_features))


@dataclass(frozen=True)
class Scales:
    """How much each feature block weighs against the others."""

    words: float = 1.0
    chars: float = 1.0
    signals: float = 1.0
    embedding: float = 1.0

    def as_array(self) -> np.ndarray[Any, Any]:
        return np.array([self.words, self.chars, self.signals, self.embedding], np.float32)


def features(
    vocabulary: Vocabulary,
    scales: Scales,
    padded: str,
    signals: frozenset[str],
    embedding: np.ndarray[Any, Any],
) -> np.ndarray[Any, Any]:
    """One message's feature vector (see the module docstring)."""
    flags = np.array([1.0 if s in signals else 0.0 for s in (*SIGNALS, QUESTION)], np.float32)
    return np.concatenate(
        [
            scales.words * _block(word_features(padded), vocabulary.words, len(vocabulary.words)),
            scales.chars * _block(char_features(padded), vocabulary.chars, len(vocabulary.chars)),
            scales.signals * flags,
            scales.embedding * np.asarray(embedding, dtype=np.float32),
        ]
    )


# --- the embedding ----------------------------------------------------------------------

_embed_lock = threading.Lock()


def embed(text: str) -> np.ndarray[Any, Any]:
    """The message's unit sentence vector from the shipped MiniLM (loaded once, on first
    call: importing this module loads nothing). Zeros if the model can't be loaded, so
    the words alone still decide."""
    model = _minilm()
    if model is None:
        return np.zeros(EMBEDDING_DIM, dtype=np.float32)
    vector: np.ndarray[Any, Any] = model.encode([text])[0]
    return vector


@functools.cache
def _minilm() -> Any:
    # The process's one copy of the model, shared with retrieval.
    from retrieval.embeddings import EmbeddingError, _load_onnx

    with _embed_lock:
        try:
            return _load_onnx()
        except EmbeddingError:
            return None


# --- the model --------------------------------------------------------------------------


@dataclass(frozen=True)
class IntentModel:
    classes: tuple[str, ...]
    vocabulary: Vocabulary
    scales: Scales
    weights: np.ndarray[Any, Any]  # (classes, features)
    bias: np.ndarray[Any, Any]  # (classes,)
    floor: float  # below this probability nothing is guessed
    data_hash: str
    # The same regression fitted without the embedding: when it is at least
    # `lexical_sure` sure, the sentence model is not needed (nor loaded).
    lexical_weights: np.ndarray[Any, Any] | None = None
    lexical_bias: np.ndarray[Any, Any] | None = None
    lexical_sure: float = 1.01

    def probabilities(
        self, padded: str, signals: frozenset[str], embedding: np.ndarray[Any, Any] | None
    ) -> dict[str, float]:
        """Each intent's probability for a message (summing to 1); with `embedding`
        None, the lexical model's (words, characters and signals only)."""
        if embedding is None:
            if self.lexical_weights is None or self.lexical_bias is None:
                raise ValueError("these weights have no lexical model")
            weights, bias = self.lexical_weights, self.lexical_bias
            embedding = np.zeros(EMBEDDING_DIM, dtype=np.float32)
        else:
            weights, bias = self.weights, self.bias
        x = features(self.vocabulary, self.scales, padded, signals, embedding)
        logits = weights @ x + bias
        exp = np.exp(logits - logits.max())
        shares = exp / exp.sum()
        return {name: float(p) for name, p in zip(self.classes, shares, strict=True)}

    def save(self, path: Path = MODEL_FILE) -> None:
        words = sorted(self.vocabulary.words, key=self.vocabulary.words.__getitem__)
        chars = sorted(self.vocabulary.chars, key=self.vocabulary.chars.__getitem__)
        arrays: dict[str, np.ndarray[Any, Any]] = {
            "classes": np.array(self.classes),
            "words": np.array(words),
            "chars": np.array(chars),
            "scales": self.scales.as_array(),
            "weights": self.weights.astype(np.float32),
            "bias": self.bias.astype(np.float32),
            "floor": np.array(self.floor, dtype=np.float32),
            "data_hash": np.array(self.data_hash),
            "feature_version": np.array(FEATURE_VERSION),
        }
        if self.lexical_weights is not None and self.lexical_bias is not None:
            arrays["lexical_weights"] = self.lexical_weights.astype(np.float32)
            arrays["lexical_bias"] = self.lexical_bias.astype(np.float32)
            arrays["lexical_sure"] = np.array(self.lexical_sure, dtype=np.float32)
        with path.open("wb") as out:
            np.savez_compressed(out, allow_pickle=False, **arrays)

    @classmethod
    def load(cls, path: Path = MODEL_FILE) -> IntentModel:
        with np.load(path, allow_pickle=False) as data:
            words = [str(w) for w in data["words"]]
            chars = [str(c) for c in data["chars"]]
            s = [float(v) for v in data["scales"]]
            return cls(
                classes=tuple(str(c) for c in data["classes"]),
                vocabulary=Vocabulary(
                    words={w: i for i, w in enumerate(words)},
                    chars={c: i for i, c in enumerate(chars)},
                ),
                scales=Scales(words=s[0], chars=s[1], signals=s[2], embedding=s[3]),
                weights=np.asarray(data["weights"], dtype=np.float32),
                bias=np.asarray(data["bias"], dtype=np.float32),
                floor=float(data["floor"]),
                data_hash=str(data["data_hash"]),
                lexical_weights=(
                    np.asarray(data["lexical_weights"], np.float32)
                    if "lexical_weights" in data
                    else None
                ),
                lexical_bias=(
                    np.asarray(data["lexical_bias"], np.float32) if "lexical_bias" in data else None
                ),
                lexical_sure=float(data["lexical_sure"]) if "lexical_sure" in data else 1.01,
            )


@functools.cache
def shipped_model() -> IntentModel:
    """The weights shipped in the package (read once)."""
    return IntentModel.load(MODEL_FILE)
