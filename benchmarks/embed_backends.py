"""Embedding backends compared: throughput and retrieval agreement with fp32 on RealTime QA.

Run alone (it uses every core) from the repository root:

    PYTHONPATH=. .venv/bin/python benchmarks/embed_backends.py

1. Throughput: the same ~600 chunk texts (the first articles of the corpus, chunked as ingestion does:
   title + date + blank line + text, 200 MiniLM tokens, overlap 20) embedded by each backend, in
   interleaved rounds (fp32, bf16, int8, fp32, ...), so a burst of other load hits every backend alike.
   Chunks/s is reported as the best and the median round; ratios use the medians.
2. Agreement: every article any dev question searches (``search_doc_ids``, deduplicated) is chunked and
   embedded by each backend; each question (embedded alone, as ``qa`` does) gets its top-5 chunks by
   cosine. Reported per backend: share of questions whose top-5 set equals fp32's, mean |A∩B|/5,
   top-1 agreement, and the cosine between the backend's and fp32's chunk vectors.
3. The gate of the issue: int8 may become the default at top-5 agreement ≥ 0.95; else bf16 if it passes and
   is faster; else fp32 stays.

The evaluation data is read from ``/work/shared/eval/realtimeqa`` (``--data``) and never copied. The int8
model is exported into a temporary data folder (its export time and size are reported). ``--onnx-fp32``
adds an informational row: the same ONNX graph before quantization. ``--cache DIR`` keeps the agreement
vectors between runs (keyed by backend and corpus size).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from index.settings import Settings, use_offline_environment

use_offline_environment()  # before the model and store libraries load

from index.chunk import Chunker  # noqa: E402
from index.embed import Embedder, cpu_has_native_bf16, cpu_has_vnni, make_embedder  # noqa: E402
from index.embed_onnx import OnnxEmbedder  # noqa: E402
from index.models import Article  # noqa: E402
from index.onnx_export import FP32_MODEL_FILE, INT8_MODEL_FILE, export_fp32, export_int8  # noqa: E402
from index.parse import normalize_date  # noqa: E402

DEFAULT_DATA = Path("/work/shared/eval/realtimeqa")
GATE = 0.95
TOP_K = 5


def read_jsonl(path: Path) -> list[dict]:
    """Records of a JSON-lines file."""
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def chunk_texts(doc: dict, chunker: Chunker) -> list[str]:
    """The embedded texts of one corpus article, as ingestion builds them."""
    article = Article(
        title=doc.get("title") or "",
        body=doc.get("body") or "",
        published=normalize_date(doc.get("published_at")),
        outlet=doc.get("source"),
        url=doc.get("url"),
    )
    return [c.embed_text for c in chunker.chunks(article)]


def load_sets(data: Path, n_throughput: int, max_articles: int | None, tokenizer) -> dict:  # noqa: ANN001
    """Throughput texts, the agreement corpus (texts, article of each) and the dev questions."""
    corpus = read_jsonl(data / "corpus.jsonl")
    questions = read_jsonl(data / "queries_dev.jsonl")
    chunker = Chunker(lambda s: tokenizer.encode(s, add_special_tokens=False, verbose=False), 200, 20)

    throughput: list[str] = []
    for doc in corpus:
        throughput.extend(chunk_texts(doc, chunker))
        if len(throughput) >= n_throughput:
            break
    throughput = throughput[:n_throughput]

    wanted = {doc_id for q in questions for doc_id in q["search_doc_ids"]}
    docs = [doc for doc in corpus if doc["doc_id"] in wanted]  # corpus order, each article once
    if max_articles is not None and len(docs) > max_articles:
        docs = docs[:max_articles]
    texts: list[str] = []
    owner: list[str] = []
    for doc in docs:
        pieces = chunk_texts(doc, chunker)
        texts.extend(pieces)
        owner.extend([doc["doc_id"]] * len(pieces))
    return {
        "throughput": throughput,
        "corpus": texts,
        "owner": owner,
        "articles": len(docs),
        "articles_wanted": len(wanted),
        "questions": [q["query"] for q in questions],
    }


def mean_tokens(texts: list[str], tokenizer) -> float:  # noqa: ANN001
    """Mean model tokens per text (special tokens included, before truncation)."""
    return statistics.fmean(len(ids) for ids in tokenizer(texts, verbose=False)["input_ids"])


def throughput(embedders: dict[str, Embedder], texts: list[str], rounds: int) -> dict[str, list[float]]:
    """Chunks/s of each embedder per round, rounds interleaved across embedders."""
    for embedder in embedders.values():  # load models, warm caches and thread pools
        embedder.embed(texts[: embedder.batch_size])
    rates: dict[str, list[float]] = {name: [] for name in embedders}
    for r in range(rounds):
        for name, embedder in embedders.items():
            started = time.perf_counter()
            vectors = embedder.embed(texts)
            elapsed = time.perf_counter() - started
            assert vectors.shape == (len(texts), embedder.dim)
            rates[name].append(len(texts) / elapsed)
            print(
                f"  round {r + 1} {name:10s} {rates[name][-1]:7.1f} chunks/s  (load {os.getloadavg()[0]:.2f})",
                flush=True,
            )
    return rates


def embed_corpus(name: str, embedder: Embedder, sets: dict, cache: Path | None) -> tuple[np.ndarray, ...]:
    """Chunk and question vectors of one backend (questions embedded one at a time, as ``qa`` does)."""
    key = f"{name}-{len(sets['corpus'])}-{len(sets['questions'])}.npz"
    if cache is not None and (cache / key).exists():
        saved = np.load(cache / key)
        return saved["chunks"], saved["questions"], float(saved["seconds"])
    started = time.perf_counter()
    chunks = embedder.embed(sets["corpus"], progress=sys.stderr.isatty())
    seconds = time.perf_counter() - started
    questions = np.array([embedder.embed_query(q) for q in sets["questions"]], dtype=np.float32)
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
        np.savez(cache / key, chunks=chunks, questions=questions, seconds=seconds)
    return chunks, questions, seconds


def top_k(questions: np.ndarray, chunks: np.ndarray, k: int = TOP_K) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the k best chunks per question (best first) and all scores."""
    scores = questions @ chunks.T
    best = np.argpartition(-scores, k, axis=1)[:, :k]
    order = np.take_along_axis(scores, best, axis=1).argsort(axis=1)[:, ::-1]
    return np.take_along_axis(best, order, axis=1), scores


def agreement(reference: np.ndarray, other: np.ndarray) -> dict[str, float]:
    """Top-5 set equality, mean overlap |A∩B|/5 and top-1 agreement of two rankings."""
    same = [set(a) == set(b) for a, b in zip(reference, other, strict=True)]
    overlap = [len(set(a) & set(b)) / TOP_K for a, b in zip(reference, other, strict=True)]
    top1 = [a[0] == b[0] for a, b in zip(reference, other, strict=True)]
    return {
        "top5_set": float(np.mean(same)),
        "overlap": float(np.mean(overlap)),
        "top1": float(np.mean(top1)),
        "differ": int(len(same) - sum(same)),
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="RealTime QA folder (read only)")
    parser.add_argument("--throughput-chunks", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved throughput rounds")
    parser.add_argument("--max-articles", type=int, default=None, help="cap the agreement corpus")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--backends", default="fp32,bf16,int8")
    parser.add_argument("--onnx-fp32", action="store_true", help="also time the unquantized ONNX graph")
    parser.add_argument("--skip-agreement", action="store_true")
    parser.add_argument("--cache", type=Path, default=None, help="keep agreement vectors here")
    return parser.parse_args(argv)


def export_onnx(models: Path) -> Path:
    """Export the fp32 ONNX model into ``models`` and quantize it to int8 now, to time it (the int8
    embedder would do both on first use); returns the fp32 file."""
    fp32_file, int8_file = models / FP32_MODEL_FILE, models / INT8_MODEL_FILE
    started = time.perf_counter()
    export_fp32(fp32_file)
    exported = time.perf_counter()
    meta = export_int8(int8_file, fp32_file)
    print(
        f"onnx export: fp32 {exported - started:.1f} s, int8 {time.perf_counter() - exported:.1f} s, "
        f"{int8_file.stat().st_size / 1e6:.1f} MB (reduce_range={meta['reduce_range']}, "
        f"probe min cosine {meta['probe_min_cosine']})"
    )
    return fp32_file


def report_throughput(embedders: dict[str, Embedder], texts: list[str], rounds: int) -> dict[str, float]:
    """Time every embedder on ``texts`` and print the table; returns the median chunks/s of each."""
    print(f"\n== throughput ({rounds} interleaved rounds of {len(texts)} chunks)")
    rates = throughput(embedders, texts, rounds)
    median = {name: statistics.median(values) for name, values in rates.items()}
    print(f"\n{'backend':10s} {'median/s':>9s} {'best/s':>8s} {'x fp32':>7s}  name")
    for name, values in rates.items():
        print(
            f"{name:10s} {median[name]:9.1f} {max(values):8.1f} {median[name] / median['fp32']:7.2f}  "
            f"{embedders[name].name}"
        )
    return median


def report_agreement(embedders: dict[str, Embedder], sets: dict, cache: Path | None) -> dict[str, dict]:
    """Embed the agreement corpus with every embedder and print how each ranks like fp32."""
    print(f"\n== agreement with fp32 on {len(sets['questions'])} dev questions, top-{TOP_K} by cosine")
    vectors = {}
    for name, embedder in embedders.items():
        chunks, questions, seconds = embed_corpus(name, embedder, sets, cache)
        vectors[name] = (chunks, questions)
        print(
            f"  {name:10s} embedded {len(chunks)} chunks in {seconds:.0f} s ({len(chunks) / seconds:.1f}/s)"
        )
    ref_chunks, ref_questions = vectors["fp32"]
    ref_top, ref_scores = top_k(ref_questions, ref_chunks)
    gap = np.sort(ref_scores, axis=1)[:, ::-1]
    near_ties = float(np.mean(gap[:, TOP_K - 1] - gap[:, TOP_K] < 1e-3))
    print(f"  (fp32: {near_ties:.0%} of questions have ranks 5 and 6 within 0.001 cosine)")
    print(
        f"\n{'backend':10s} {'top5 set':>8s} {'differ':>6s} {'overlap':>7s} {'top1':>6s} "
        f"{'cos mean':>8s} {'cos min':>8s} {'q cos min':>9s}"
    )
    results = {}
    for name, (chunks, questions) in vectors.items():
        found, _ = top_k(questions, chunks)
        result = agreement(ref_top, found)
        cos = (chunks * ref_chunks).sum(axis=1)
        qcos = (questions * ref_questions).sum(axis=1)
        results[name] = result
        print(
            f"{name:10s} {result['top5_set']:8.3f} {result['differ']:6d} {result['overlap']:7.3f} "
            f"{result['top1']:6.3f} {cos.mean():8.5f} {cos.min():8.4f} {qcos.min():9.4f}"
        )
    return results


def report_verdict(results: dict[str, dict], median: dict[str, float]) -> None:
    """Print the gate of the issue and the default it recommends."""
    passes = {b: results[b]["top5_set"] >= GATE for b in ("int8", "bf16") if b in results}
    if passes.get("int8"):
        verdict = "int8"
    elif passes.get("bf16") and median["bf16"] > median["fp32"]:
        verdict = "bf16"
    else:
        verdict = "fp32"
    gates = ", ".join(f"{b} {'passes' if ok else 'fails'}" for b, ok in passes.items())
    print(f"\ngate top-5 agreement >= {GATE}: {gates} -> recommended default: {verdict}")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures."""
    args = parse_args(argv)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if "fp32" not in backends:
        backends.insert(0, "fp32")
    print(
        f"cpu: {os.cpu_count()} logical cores, vnni={cpu_has_vnni()}, native bf16={cpu_has_native_bf16()}, "
        f"load {os.getloadavg()[0]:.2f}; batch {args.batch_size}"
    )

    with tempfile.TemporaryDirectory(prefix="newsqa-embed-bench-") as tmp:
        data_dir = Path(tmp)
        embedders: dict[str, Embedder] = {
            b: make_embedder(Settings(data_dir=data_dir, embed_backend=b, embed_batch_size=args.batch_size))
            for b in backends
        }
        tokenizer = embedders["fp32"].counting_tokenizer
        if "int8" in embedders:  # export explicitly, to time it (the embedder would do it on first use)
            fp32_file = export_onnx(data_dir / "models")
            if args.onnx_fp32:
                onnx_fp32 = OnnxEmbedder(fp32_file, batch_size=args.batch_size)
                onnx_fp32.name = "all-MiniLM-L6-v2 (fp32 onnx)"
                embedders["onnx-fp32"] = onnx_fp32

        started = time.perf_counter()
        sets = load_sets(args.data, args.throughput_chunks, args.max_articles, tokenizer)
        print(
            f"chunked in {time.perf_counter() - started:.0f} s: throughput set {len(sets['throughput'])} chunks "
            f"({mean_tokens(sets['throughput'], tokenizer):.0f} tokens each on average); agreement corpus "
            f"{len(sets['corpus'])} chunks of {sets['articles']}/{sets['articles_wanted']} articles; "
            f"{len(sets['questions'])} questions"
        )
        median = report_throughput(embedders, sets["throughput"], args.rounds)
        if not args.skip_agreement:
            report_verdict(report_agreement(embedders, sets, args.cache), median)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
