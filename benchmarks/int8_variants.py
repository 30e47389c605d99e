"""Embedding backends gated on what users see: speed, and dev recall@5 / recall@50 against fp32.

Run alone (it uses every core) from the repository root:

    PYTHONPATH=. .venv/bin/python benchmarks/int8_variants.py [--cache /tmp/embed-cache]

Backends: torch fp32 (the reference), torch bf16 autocast, ONNX fp32, the shipped dynamic int8 model, and
int8 variants meant to keep accuracy, built here from the fp32 export:

- ``int8-ends``: dynamic int8 with the first and last encoder layers kept in fp32;
- ``qdq``: static QDQ quantization, weights int8 per channel, activations uint8 with scales calibrated
  on corpus chunks (not the dev articles); attention's activation products (QK^T, softmax·V) kept fp32;
- ``qdq-ends``: ``qdq`` with the first and last layers also kept fp32.

Recall (as ``newsqa eval realtimeqa`` counts it: the gold answer inside one of the top-k texts) is taken
by exact cosine over the chunks of every article a dev question searches, for the questions whose answer
is in that corpus; the top-5 set agreement with fp32 is printed too. The gate of issue 14: recall@5 and
recall@50 each within 0.01 of fp32. Speed is chunks/s over the same chunk texts in interleaved rounds.
The evaluation data is read from ``--data`` and never copied.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from index.settings import Settings, use_offline_environment

use_offline_environment()  # before the model libraries load

from embed_backends import (  # noqa: E402
    DEFAULT_DATA,
    agreement,
    embed_corpus,
    load_sets,
    read_jsonl,
    report_throughput,
)

from index.embed import Embedder, cpu_has_native_bf16, cpu_has_vnni, make_embedder  # noqa: E402
from index.embed_onnx import OnnxEmbedder  # noqa: E402
from index.onnx_export import FP32_MODEL_FILE, ensure_onnx_model  # noqa: E402
from qa.evaluate.score import contains_answer, gold_answer  # noqa: E402

GATE = 0.01
ENDS = ("/bert/encoder/layer.0/", "/bert/encoder/layer.5/")
ATTENTION_PRODUCTS = ("attention/self/MatMul",)  # QK^T and softmax·V: two activations, no weight


def matmul_nodes(model_file: Path, *prefixes: str) -> list[str]:
    """Names of the MatMul nodes whose name contains any of ``prefixes``."""
    import onnx

    model = onnx.load(str(model_file))
    return [n.name for n in model.graph.node if n.op_type == "MatMul" and any(p in n.name for p in prefixes)]


class _Calibration:
    """onnxruntime calibration reader: corpus chunk texts as model inputs, a batch at a time."""

    def __init__(self, texts: list[str], tokenizer, batch: int = 16) -> None:  # noqa: ANN001
        self._feeds = []
        for start in range(0, len(texts), batch):
            enc = tokenizer(texts[start : start + batch], padding=True, truncation=True, max_length=256,
                            return_tensors="np")  # fmt: skip
            ids = enc["input_ids"].astype(np.int64)
            mask = enc["attention_mask"].astype(np.int64)
            self._feeds.append(
                {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            )
        self._iter = iter(self._feeds)

    def get_next(self) -> dict | None:
        """The next batch of inputs, or None at the end."""
        return next(self._iter, None)

    def rewind(self) -> None:
        """Start over (the calibrator may read twice)."""
        self._iter = iter(self._feeds)


def build_variant(name: str, fp32_file: Path, folder: Path, calibration: list[str], tokenizer) -> Path:  # noqa: ANN001
    """Quantize ``fp32_file`` as variant ``name`` into ``folder``; returns the file."""
    from onnxruntime.quantization import (
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quant_pre_process,
        quantize_dynamic,
        quantize_static,
    )

    target = folder / f"{name}.onnx"
    source = folder / f"{name}-source.onnx"
    shutil.copyfile(fp32_file, source)
    keep = matmul_nodes(fp32_file, *ENDS) if name.endswith("-ends") else []
    reduce_range = not cpu_has_vnni()
    if name.startswith("int8"):
        quantize_dynamic(source, target, weight_type=QuantType.QInt8, per_channel=True, reduce_range=reduce_range,
                         op_types_to_quantize=["MatMul"], nodes_to_exclude=keep)  # fmt: skip
        return target
    prepared = folder / f"{name}-prepared.onnx"
    quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
    keep += matmul_nodes(fp32_file, *ATTENTION_PRODUCTS)
    quantize_static(
        str(prepared), str(target), _Calibration(calibration, tokenizer), quant_format=QuantFormat.QDQ,
        op_types_to_quantize=["MatMul"], per_channel=True, reduce_range=reduce_range,
        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, nodes_to_exclude=keep,
        calibrate_method=CalibrationMethod.MinMax,
    )  # fmt: skip
    return target


def recalls(questions: np.ndarray, chunks: np.ndarray, texts: list[str], golds: list[str]) -> dict:
    """recall@5 and @50 over the questions answerable in this corpus, and each question's top 5."""
    scores = questions @ chunks.T
    order = np.argsort(-scores, axis=1)[:, :50]
    hits5, hits50 = [], []
    for row, gold in zip(order, golds, strict=True):
        found = [contains_answer(texts[i], gold) for i in row]
        hits5.append(any(found[:5]))
        hits50.append(any(found))
    return {"r5": hits5, "r50": hits50, "top5": order[:, :5]}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="RealTime QA folder (read only)")
    parser.add_argument("--backends", default="fp32,bf16,onnx,int8,int8-ends,qdq,qdq-ends")
    parser.add_argument("--calibration", type=int, default=256, help="corpus chunks to calibrate qdq on")
    parser.add_argument("--throughput-chunks", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cache", type=Path, default=None, help="keep the corpus vectors here")
    return parser.parse_args(argv)


def make_embedders(names: list[str], folder: Path, sets: dict) -> dict[str, Embedder]:
    """Every backend by name; the variants are built from the fp32 export in ``folder``."""
    embedders: dict[str, Embedder] = {}
    fp32_file = ensure_onnx_model(folder, "fp32")
    tokenizer = None
    for name in names:
        if name in ("fp32", "bf16", "onnx", "int8"):
            embedders[name] = make_embedder(
                Settings(data_dir=folder / name, embed_backend=name, model_dir=folder)
            )
            tokenizer = tokenizer or embedders[name].counting_tokenizer
            continue
        started = time.perf_counter()
        model = build_variant(name, fp32_file, folder, sets["calibration"], tokenizer)
        embedder = OnnxEmbedder(model)
        embedder.name = f"all-MiniLM-L6-v2 ({name} onnx)"
        embedders[name] = embedder
        size = model.stat().st_size / 1e6
        print(f"built {name} in {time.perf_counter() - started:.0f} s ({size:.1f} MB)", flush=True)
    assert (folder / FP32_MODEL_FILE).exists()
    return embedders


def main(argv: list[str] | None = None) -> int:
    """Build the variants, time them, and print recall against fp32 with the gate's verdict."""
    args = parse_args(argv)
    names = ["fp32", *[b for b in args.backends.split(",") if b and b != "fp32"]]
    print(f"cpu: {os.cpu_count()} cores, vnni={cpu_has_vnni()}, native bf16={cpu_has_native_bf16()}")
    with tempfile.TemporaryDirectory(prefix="newsqa-int8-") as tmp:
        folder = Path(tmp)
        probe = make_embedder(Settings(data_dir=folder / "probe", embed_backend="fp32"))
        sets = load_sets(args.data, args.throughput_chunks + args.calibration, None, probe.counting_tokenizer)
        sets["calibration"] = sets["throughput"][args.throughput_chunks :]
        sets["throughput"] = sets["throughput"][: args.throughput_chunks]
        queries = read_jsonl(args.data / "queries_dev.jsonl")
        golds = [gold_answer(q) for q in queries]
        answerable = answerable_questions(queries, golds, sets)
        embedders = make_embedders(names, folder, sets)
        median = report_throughput(embedders, sets["throughput"], args.rounds)
        report_recall(embedders, sets, golds, answerable, median, args.cache)
    return 0


def answerable_questions(queries: list[dict], golds: list[str], sets: dict) -> list[int]:
    """The questions whose answer is in one of the articles they search (as the fusion sweep counts)."""
    by_doc: dict[str, list[str]] = {}
    for text, doc in zip(sets["corpus"], sets["owner"], strict=True):
        by_doc.setdefault(doc, []).append(text)
    return [
        i
        for i, (q, gold) in enumerate(zip(queries, golds, strict=True))
        if any(contains_answer(t, gold) for d in q["search_doc_ids"] for t in by_doc.get(d, []))
    ]


def report_recall(embedders: dict[str, Embedder], sets: dict, golds: list[str], answerable: list[int],
                  median: dict, cache: Path | None) -> None:  # fmt: skip
    """Embed the dev articles with every backend; print recall, agreement and the gate's verdict."""
    results = {}
    for name, embedder in embedders.items():
        chunks, questions, seconds = embed_corpus(name, embedder, sets, cache)
        results[name] = recalls(questions, chunks, sets["corpus"], golds)
        print(f"  {name:10s} embedded {len(chunks)} chunks in {seconds:.0f} s", flush=True)
    ref = results["fp32"]
    print(f"\nrecall over the {len(answerable)} of {len(golds)} dev questions answerable in their articles")
    print(
        f"{'backend':10s} {'x fp32':>7s} {'R@5':>6s} {'R@50':>6s} {'dR@5':>6s} {'dR@50':>6s} {'top5 set':>8s}  gate"
    )
    base5 = np.mean([ref["r5"][i] for i in answerable])
    base50 = np.mean([ref["r50"][i] for i in answerable])
    for name, result in results.items():
        r5 = np.mean([result["r5"][i] for i in answerable])
        r50 = np.mean([result["r50"][i] for i in answerable])
        same = agreement(ref["top5"], result["top5"])["top5_set"]
        ok = r5 >= base5 - GATE and r50 >= base50 - GATE
        print(f"{name:10s} {median[name] / median['fp32']:7.2f} {r5:6.3f} {r50:6.3f} {r5 - base5:+6.3f} "
              f"{r50 - base50:+6.3f} {same:8.3f}  {'passes' if ok else 'fails'}")  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
