"""Learn the offline model's intent classifier from the labelled phrasings.

    .venv/bin/python scripts/train_intents.py           # fit, report, write the weights
    .venv/bin/python scripts/train_intents.py --search  # search the settings first (slow)
    .venv/bin/python scripts/train_intents.py --check   # exit 1 if the weights are stale

Fitting needs scikit-learn, the `train` extra (`pip install -e ".[train]"`); the app
itself only reads the weights this writes.

Reads every `chat_app/llm/offline_router/training/*.jsonl` file and each `Intent`'s
examples (`classifier.load_examples`). A fixed 15 % of them (by a hash of the text, so
the split never changes when a file grows) is held out as the validation split: the
hyper-parameters (regularisation, block scales, the confidence floor) are chosen by
right-tool-and-arguments accuracy on it (`--search`; without it, the settings last
chosen, `SETTINGS`), and `tests/fixtures/offline_heldout.jsonl` is reported as a second
validation set, `tests/fixtures/offline_validation_2.jsonl` (phrasings written
blind to the model and never used to choose anything) as a third and
`tests/fixtures/offline_dev_3.jsonl` (the same, written before the router was read) as a
fourth. The shipped weights
are then fitted on all the phrasings with the chosen settings and written to
`classifier.MODEL_FILE` with the training data's hash. Deterministic: the same data
gives the same weights.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chat_app.llm.offline_router import classifier  # noqa: E402
from chat_app.llm.offline_router.classifier import (  # noqa: E402
    EMBEDDING_DIM,
    Example,
    IntentModel,
    Scales,
    Vocabulary,
    features,
)
from chat_app.llm.offline_router.route import read_message  # noqa: E402

TODAY = date(2026, 11, 29)  # the date the phrasings' periods are read on (as in the tests)
VALIDATION_SHARE = 15  # percent
HELD_OUT = ROOT / "tests" / "fixtures" / "offline_heldout.jsonl"
VALIDATION_2 = ROOT / "tests" / "fixtures" / "offline_validation_2.jsonl"
# A development set written before the router was read (follow-ups left out here: the
# router alone can't read them; tests/chat_app/test_offline_dev_3.py scores them all).
DEV_3 = ROOT / "tests" / "fixtures" / "offline_dev_3.jsonl"
C_GRID = (2.0, 8.0)
EMBEDDING_GRID = (1.0, 2.0)
CHAR_GRID = (1.0,)
FLOOR_GRID = (0.0, 0.2, 0.3, 0.4, 0.5)
# How sure the words-only model must be to skip the sentence model: the lowest that
# loses nothing on the validation split.
SURE_GRID = (0.6, 0.7, 0.8, 0.9, 0.95, 0.98)
# How classes are weighted in the fit (None: by their phrasings; "balanced": equally).
CLASS_WEIGHT: str | None = None
# What `--search` chose on 2026-12-07 (regularisation C, block scales).
SETTINGS = (8.0, Scales())


def in_validation(text: str) -> bool:
    digest = hashlib.sha256(" ".join(text.lower().split()).encode()).digest()
    return int.from_bytes(digest[:4], "big") % 100 < VALIDATION_SHARE


# Embeddings of past runs (not shipped: MiniLM is deterministic, this only saves time).
EMBEDDING_CACHE = ROOT / ".data" / "intent_embeddings.npz"


class Encoded:
    """Each text's normalised form, signals and embedding, computed once (embeddings
    kept across runs in `EMBEDDING_CACHE`)."""

    def __init__(self) -> None:
        self._read: dict[str, tuple[str, frozenset[str]]] = {}
        self._vectors: dict[str, np.ndarray[Any, Any]] = {}
        if EMBEDDING_CACHE.exists():
            with np.load(EMBEDDING_CACHE, allow_pickle=False) as cached:
                texts, vectors = cached["texts"], cached["vectors"]
                self._vectors = {str(t): v for t, v in zip(texts, vectors, strict=True)}

    def keep(self) -> None:
        EMBEDDING_CACHE.parent.mkdir(parents=True, exist_ok=True)
        texts = sorted(self._vectors)
        with EMBEDDING_CACHE.open("wb") as out:
            np.savez(
                out,
                allow_pickle=False,
                texts=np.array(texts),
                vectors=np.stack([self._vectors[t] for t in texts]),
            )

    def read(self, text: str) -> tuple[str, frozenset[str]]:
        if text not in self._read:
            _, padded, found = read_message(text, TODAY)
            self._read[text] = (padded, found)
        return self._read[text]

    def embed(self, scored: str) -> np.ndarray[Any, Any]:
        if scored not in self._vectors:
            self._vectors[scored] = classifier.embed(scored)
        return self._vectors[scored]

    def scored(self, text: str) -> str:
        return read_message(text, TODAY)[0]


def with_typos(examples: Sequence[Example]) -> list[Example]:
    """`examples` and, for each, a copy with one typo in a word of 5+ letters (a letter
    dropped, two swapped or one doubled, chosen by a hash of the text: deterministic),
    so a misspelt request is not taken for something no tool does."""
    out = list(examples)
    for example in examples:
        words = example.text.split(" ")
        long = [i for i, w in enumerate(words) if len(w) >= 5 and w.isalpha()]
        if not long:
            continue
        seed = int.from_bytes(hashlib.sha256(example.text.encode()).digest()[:4], "big")
        i = long[seed % len(long)]
        word, at = words[i], 1 + (seed // 7) % (len(words[i]) - 2)
        kind = (seed // 131) % 3
        if kind == 0:
            typo = word[:at] + word[at + 1 :]
        elif kind == 1:
            typo = word[:at] + word[at + 1] + word[at] + word[at + 2 :]
        else:
            typo = word[:at] + word[at] + word[at:]
        text = " ".join([*words[:i], typo, *words[i + 1 :]])
        out.append(replace(example, text=text))
    return out


def fit(
    examples: Sequence[Example], encoded: Encoded, scales: Scales, c: float, data_hash: str
) -> IntentModel:
    """The regression with and without the embedding, on one vocabulary (learned from
    the examples as written); fitted on the examples and a misspelt copy of each."""
    vocabulary = Vocabulary.learn([encoded.read(e.text)[0] for e in examples])
    examples = with_typos(examples)
    from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]

    padded = [encoded.read(e.text)[0] for e in examples]
    from scipy import sparse  # type: ignore[import-untyped]

    # Sparse rows: the word and character blocks are mostly zeros (fitting is ~10x faster).
    x = sparse.vstack(
        [
            sparse.csr_matrix(
                features(
                    vocabulary,
                    scales,
                    p,
                    encoded.read(e.text)[1],
                    encoded.embed(encoded.scored(e.text)),
                )
            )
            for p, e in zip(padded, examples, strict=True)
        ],
        format="csr",
    )
    labels = [e.label for e in examples]
    classes = tuple(sorted(set(labels)))
    y = np.array([classes.index(label) for label in labels])
    full = LogisticRegression(C=c, max_iter=3000, class_weight=CLASS_WEIGHT).fit(x, y)
    keep = np.ones(x.shape[1], dtype=np.float32)
    keep[-EMBEDDING_DIM:] = 0.0  # the embedding block is last
    lexical = LogisticRegression(C=c, max_iter=3000, class_weight=CLASS_WEIGHT)
    lexical.fit(x @ sparse.diags(keep), y)
    return IntentModel(
        classes=classes,
        vocabulary=vocabulary,
        scales=scales,
        weights=full.coef_.astype(np.float32),
        bias=full.intercept_.astype(np.float32),
        floor=0.0,
        data_hash=data_hash,
        lexical_weights=lexical.coef_.astype(np.float32),
        lexical_bias=lexical.intercept_.astype(np.float32),
        lexical_sure=1.01,  # chosen on the validation split (`main`)
    )


def score(model: IntentModel, cases: Sequence[dict[str, Any]], encoded: Encoded) -> dict[str, Any]:
    """Right tool, and right tool and arguments, as tests/chat_app/test_offline_coverage
    judges them."""
    from tests.chat_app import test_offline_coverage as coverage

    tools = right = no_tool = no_tool_right = 0
    misses: list[str] = []
    for case in cases:
        ok, why = coverage.outcome(case, model=model, embed=encoded.embed)
        got_tool = coverage.routed_tool(case["text"], model=model, embed=encoded.embed)
        tools += got_tool == case["tool"]
        right += ok
        if case["tool"] is None:
            no_tool += 1
            no_tool_right += got_tool is None
        if not ok:
            misses.append(why)
    n = len(cases)
    return {
        "n": n,
        "tool": tools / n,
        "tool_and_args": right / n,
        "no_tool_kept": no_tool_right / max(no_tool, 1),  # of the cases that call no tool
        "misses": misses,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="only check the weights are current")
    parser.add_argument("--search", action="store_true", help="search the settings first")
    options = parser.parse_args()
    data_hash = classifier.training_hash()
    if options.check:
        return _check(data_hash)

    started = time.monotonic()
    examples = classifier.load_examples()
    train = [e for e in examples if not in_validation(e.text)]
    valid = [e for e in examples if in_validation(e.text)]
    valid_cases = [{"text": e.text, "tool": e.tool, "args": e.args} for e in valid]
    encoded = Encoded()
    print(f"{len(examples)} phrasings: {len(train)} to fit, {len(valid)} to validate")

    c, scales, tuned = _choose(train, valid_cases, encoded, data_hash, search=options.search)
    sure = _lexical_sure(tuned, valid_cases, encoded)
    tuned = replace(tuned, lexical_sure=sure)
    _report(tuned, valid_cases, encoded)
    encoded.keep()
    final = replace(
        fit(examples, encoded, scales, c, data_hash), floor=tuned.floor, lexical_sure=sure
    )
    if classifier.training_hash() != data_hash:
        print("the training files changed while fitting: run this again", file=sys.stderr)
        return 1
    final.save()
    print(
        f"chose C={c}, scales={scales}, floor={tuned.floor}, lexical_sure={sure}; wrote "
        f"{classifier.MODEL_FILE.name} ({classifier.MODEL_FILE.stat().st_size // 1024} KiB) "
        f"in {time.monotonic() - started:.0f} s"
    )
    return 0


def _check(data_hash: str) -> int:
    """0 if the shipped weights were fitted on the current training files, else 1."""
    current = classifier.MODEL_FILE.exists() and (
        classifier.IntentModel.load().data_hash == data_hash
    )
    print("current" if current else "stale: run scripts/train_intents.py")
    return 0 if current else 1


def _choose(
    train: list[Example],
    valid_cases: list[dict[str, Any]],
    encoded: Encoded,
    data_hash: str,
    *,
    search: bool,
) -> tuple[float, Scales, IntentModel]:
    """The regularisation, block scales and confidence floor that score best on the
    validation split (`SETTINGS` alone unless `search`), with the model fitted with them."""
    grid = (
        [SETTINGS]
        if not search
        else [
            (c, Scales(chars=ch, embedding=em))
            for c, ch, em in itertools.product(C_GRID, CHAR_GRID, EMBEDDING_GRID)
        ]
    )
    best: tuple[float, float, Scales, float] | None = None
    fitted: dict[tuple[float, Scales], IntentModel] = {}
    for c, scales in grid:
        model = fitted[c, scales] = fit(train, encoded, scales, c, data_hash)
        for floor in FLOOR_GRID:
            result = score(replace(model, floor=floor), valid_cases, encoded)
            # Calling no tool where none should be called counts extra (a wrong action is
            # worse than a question back), and ties go to the higher floor.
            key = (
                result["tool_and_args"]
                + result["no_tool_kept"] / 10
                + result["tool"] / 100
                + floor / 1000
            )
            print(
                json.dumps(
                    {"c": c, "scales": scales.as_array().tolist(), "floor": floor}
                    | {k: round(v, 4) for k, v in result.items() if k != "misses" and k != "n"}
                ),
                flush=True,
            )
            if best is None or key > best[0]:
                best = (key, c, scales, floor)
    assert best is not None
    _, c, scales, floor = best
    return c, scales, replace(fitted[c, scales], floor=floor)


def _lexical_sure(tuned: IntentModel, valid_cases: list[dict[str, Any]], encoded: Encoded) -> float:
    """The lowest confidence at which the words-only model may answer alone without
    losing accuracy on the validation split (1.01: never)."""
    full_only = score(tuned, valid_cases, encoded)["tool_and_args"]
    for candidate in SURE_GRID:
        result = score(replace(tuned, lexical_sure=candidate), valid_cases, encoded)
        print(json.dumps({"lexical_sure": candidate, "tool_and_args": result["tool_and_args"]}))
        if result["tool_and_args"] >= full_only:
            return candidate
    return 1.01


def _report(tuned: IntentModel, valid_cases: list[dict[str, Any]], encoded: Encoded) -> None:
    """Prints the model's figures on the validation split and the two other sets."""
    held_out = [json.loads(line) for line in HELD_OUT.read_text().splitlines() if line.strip()]
    second = [json.loads(line) for line in VALIDATION_2.read_text().splitlines() if line.strip()]
    dev = [json.loads(line) for line in DEV_3.read_text().splitlines() if line.strip()]
    for name, cases in (
        ("validation split", valid_cases),
        ("offline_heldout", held_out),
        ("offline_validation_2", second),
        ("offline_dev_3", [c for c in dev if not c.get("context")]),
    ):
        result = score(tuned, cases, encoded)
        print(
            f"{name}: {result['n']} phrasings, right tool {result['tool']:.1%}, "
            f"right tool and arguments {result['tool_and_args']:.1%}, no tool where none "
            f"should be called {result['no_tool_kept']:.1%}"
        )
        for why in result["misses"]:
            print("   ", why)


if __name__ == "__main__":
    raise SystemExit(main())
