"""How to fuse dense and BM25 results: recall@5 of fusion variants on RealTime QA dev questions.

Run alone from the repository root, on an index of the RealTime QA corpus (``newsqa eval realtimeqa``
builds one; ``--data-dir`` points at it):

    PYTHONPATH=. .venv/bin/python benchmarks/fusion_sweep.py --data-dir /path/to/index [--limit 40]

For each question whose search documents hold the gold answer (the recall@k population of the evaluation),
the dense (Chroma, cosine) and lexical (BM25) rankings are fetched once, with the question's date as the
``until`` filter, as deep as ``--pool``; every fusion variant is then computed from those two lists, so the
variants differ only in how they fuse. Prints recall@5 per variant. Gold answers are read by the scorer's
functions only.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from index.settings import Settings, use_offline_environment

use_offline_environment()  # before the model and store libraries load

from index.parse import normalize_date  # noqa: E402
from qa.evaluate.score import gold_answer, recall_at_k  # noqa: E402
from qa.retrieve import to_filters  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "eval" / "realtimeqa"
Ranking = list[tuple[str, float]]  # (chunk id, score), best first


def rrf(dense: Ranking, lexical: Ranking, *, k: int, w_dense: float, w_lex: float, depth: int) -> list[str]:
    """Weighted reciprocal-rank fusion of the first ``depth`` results of each list."""
    fused: dict[str, float] = {}
    for weight, ranking in ((w_dense, dense), (w_lex, lexical)):
        for rank, (cid, _) in enumerate(ranking[:depth]):
            fused[cid] = fused.get(cid, 0.0) + weight / (k + rank + 1)
    return [c for c, _ in sorted(fused.items(), key=lambda x: (-x[1], x[0]))]


def convex(dense: Ranking, lexical: Ranking, *, alpha: float, depth: int) -> list[str]:
    """alpha * min-max(cosine) + (1 - alpha) * min-max(BM25) over the union of both lists."""

    def norm(ranking: Ranking) -> dict[str, float]:
        if not ranking:
            return {}
        scores = np.array([s for _, s in ranking[:depth]])
        low, high = scores.min(), scores.max()
        span = (high - low) or 1.0
        return {cid: (s - low) / span for cid, s in ranking[:depth]}

    d, lx = norm(dense), norm(lexical)
    fused = {cid: alpha * d.get(cid, 0.0) + (1 - alpha) * lx.get(cid, 0.0) for cid in {*d, *lx}}
    return [c for c, _ in sorted(fused.items(), key=lambda x: (-x[1], x[0]))]


def main() -> None:
    """Fetch the rankings, score every variant, print the table."""
    from qa.answer import Engine

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="index of the RealTime QA corpus")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="RealTime QA folder (read only)")
    parser.add_argument("--limit", type=int, default=None, help="first N dev questions")
    parser.add_argument("--pool", type=int, default=100, help="depth of each ranking fetched")
    args = parser.parse_args()

    questions = [json.loads(line) for line in (args.data / "queries_dev.jsonl").read_text().splitlines()]
    questions = [q for q in questions[: args.limit] if q["derived_answer_string_in_search_docs"]]
    engine = Engine(Settings(data_dir=args.data_dir))
    store, lexical = engine.store, engine.lexical
    runs = []
    for q in questions:
        until = normalize_date(q["question_date"])
        vector = engine.embedder.embed_query(q["query"])
        filters = to_filters({"until": until})
        dense = [(h.id, h.score) for h in store.search(vector, args.pool, filters)]
        day = int(until.replace("-", ""))
        lex = [(h.id, h.score) for h in lexical.search(q["query"], args.pool, until_day=day)]
        runs.append((q, dense, lex))
    ids = {cid for _, d, lx in runs for cid, _ in d + lx}
    got = store.collection.get(ids=list(ids), include=["documents"])
    text = dict(zip(got["ids"], got["documents"], strict=True))

    variants: dict[str, Callable[[Ranking, Ranking], list[str]]] = {
        "dense": lambda d, lx: [c for c, _ in d],
        "lexical": lambda d, lx: [c for c, _ in lx],
    }
    for depth in (20, 50, 100):
        for k in (10, 30, 60):
            for w in (0.5, 0.75, 1.0, 1.5):
                variants[f"rrf depth={depth} k={k} w_lex={w}"] = lambda d, lx, depth=depth, k=k, w=w: rrf(
                    d, lx, k=k, w_dense=1.0, w_lex=w, depth=depth
                )
        for alpha in (0.3, 0.5, 0.7):
            variants[f"convex depth={depth} alpha={alpha}"] = lambda d, lx, depth=depth, a=alpha: convex(
                d, lx, alpha=a, depth=depth
            )
    results = {}
    for name, fuse in variants.items():
        hits = sum(
            recall_at_k([text[c] for c in fuse(d, lx)[:5] if c in text], gold_answer(q)) for q, d, lx in runs
        )
        results[name] = hits / len(runs)
    print(f"{len(runs)} scorable questions, index {args.data_dir}")
    for name, value in sorted(results.items(), key=lambda x: -x[1]):
        print(f"{value:.3f}  {name}")


if __name__ == "__main__":
    main()
