"""Which second stage puts the answering chunk first: a sweep over rerankers on RealTime QA dev.

Run alone from the repository root, on an index of the whole RealTime QA corpus:

    PYTHONPATH=. .venv/bin/python benchmarks/rerank_sweep.py --data-dir /path/to/index [--limit 79]

For each dev question whose search documents hold the gold answer, the first stage (the engine's own search:
time words → preferred window, ``as_of`` = the question date, dense + BM25 fusion) gives 50 candidates once;
every candidate second stage reorders them. Printed per method: recall@1/3/5 (the gold answer in the first
k chunks), context recall at budgets 150/200/300 (the gold answer still in what the model reads after
``qa.context.condense`` cuts the first ``top_k`` chunks to the budget) and the milliseconds the method adds
per question (p50). Methods:

- ``fusion``: the first stage's order (today's default);
- ``article``: article-level evidence (articles scored by their best and second chunk and title overlap; the
  best chunk of each article first);
- ``sentence``: sentence-level scoring of the first 20 chunks (MiniLM cosine and word overlap per sentence);
- ``reformulated``: names, numbers and long words of the question as a second BM25 query, fused in;
- ``learned-self``: ``qa.rerank`` trained on pseudo-questions from the corpus (``qa.rerank_train``), no labels;
- ``learned-dev-cv``: the same model trained on dev labels, 5-fold cross-validated (a ceiling, never a default);
- ``learned-self+article``: the learned order, then one chunk per article first.

Also timed: a MiniLM cross-encoder scoring 30 candidates (``--cross-encoder``). Gold answers are read by the
scorer's functions only; the self-supervised model never sees a dev question.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import date
from pathlib import Path
from statistics import median

import numpy as np

from index.settings import Settings, use_offline_environment

use_offline_environment()  # before the model and store libraries load

from index.parse import normalize_date  # noqa: E402
from qa.cite import content_words, split_sentences  # noqa: E402
from qa.evaluate.score import gold_answer, recall_at_k  # noqa: E402
from qa.rerank import FEATURES, LinearReranker, features, fit, key_terms  # noqa: E402
from qa.retrieve import Candidate, lexical_filters  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "eval" / "realtimeqa"
POOL = 50
BUDGETS = (150, 200, 300)
_FUSION = Settings()  # the engine's fusion knobs (NEWSQA_RRF_K, NEWSQA_LEXICAL_WEIGHT or their defaults)
RRF_K, LEXICAL_WEIGHT = _FUSION.rrf_k, _FUSION.lexical_weight


class CachedEmbedder:
    """The engine's embedder with a memory of sentence vectors (condense runs per method and budget)."""

    def __init__(self, embedder) -> None:  # noqa: ANN001
        self.inner = embedder
        self.memo: dict[str, np.ndarray] = {}

    def embed(self, texts: list[str], **_: object) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self.memo]
        if missing:
            for t, v in zip(missing, self.inner.embed(missing), strict=True):
                self.memo[t] = v
        return np.stack([self.memo[t] for t in texts])

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)


def article_order(question: str, pool: list[Candidate]) -> list[Candidate]:
    """Articles scored by their best chunk, their second best and title overlap; best chunk of each first."""
    words = content_words(question)
    by_article: dict[str, list[Candidate]] = defaultdict(list)
    for c in sorted(pool, key=lambda c: -c.score):
        by_article[str(c.metadata.get("article_id"))].append(c)

    def article_score(chunks: list[Candidate]) -> float:
        title = content_words(str(chunks[0].metadata.get("title", "")))
        second = chunks[1].score if len(chunks) > 1 else 0.0
        overlap = len(words & title) / len(words) if words else 0.0
        return chunks[0].score * RRF_K + 0.5 * second * RRF_K + 0.5 * overlap

    articles = sorted(by_article.values(), key=article_score, reverse=True)
    return [a[0] for a in articles] + [c for a in articles for c in a[1:]]


def per_article_first(ordered: list[Candidate]) -> list[Candidate]:
    """The best chunk of each article first (in the given order), then the rest."""
    seen: set[str] = set()
    first, rest = [], []
    for c in ordered:
        article = str(c.metadata.get("article_id"))
        (rest if article in seen else first).append(c)
        seen.add(article)
    return first + rest


def sentence_order(question: str, pool: list[Candidate], embedder, depth: int = 20) -> list[Candidate]:  # noqa: ANN001
    """The first ``depth`` chunks ordered by their best sentence (cosine + word overlap), the rest after."""
    head, tail = pool[:depth], pool[depth:]
    words = content_words(question)
    pieces = [(i, s) for i, c in enumerate(head) for s in split_sentences(c.text)]
    if not pieces:
        return pool
    vectors = embedder.embed([question] + [s for _, s in pieces])
    cosines = vectors[1:] @ vectors[0]
    best = np.full(len(head), -1.0)
    for (i, sentence), cos in zip(pieces, cosines, strict=True):
        overlap = len(words & content_words(sentence)) / len(words) if words else 0.0
        best[i] = max(best[i], float(cos) + 0.3 * overlap)
    order = sorted(range(len(head)), key=lambda i: -best[i])
    return [head[i] for i in order] + tail


def reformulated(question: str, pool: list[Candidate], engine, filters) -> list[Candidate]:  # noqa: ANN001
    """Fuse in a BM25 search for the question's names, numbers and long words."""
    names, numbers = key_terms(question)
    long_words = {w for w in content_words(question) if len(w) >= 5}
    query = " ".join(sorted(names | numbers | long_words))
    if not query:
        return pool
    hits = engine.lexical.search(
        query, POOL, **lexical_filters(filters if isinstance(filters, dict) else None)
    )
    by_id = {c.id: Candidate(**{**c.__dict__}) for c in pool}
    new = [h.id for h in hits if h.id not in by_id]
    fetched = engine.store.get_chunks(new) if new else {}
    for rank, hit in enumerate(hits):
        if hit.id not in by_id:
            if hit.id not in fetched:
                continue
            text, meta, _ = fetched[hit.id]
            by_id[hit.id] = Candidate(hit.id, text=text, metadata=meta)
        by_id[hit.id].score += LEXICAL_WEIGHT / (RRF_K + rank + 1)
    return sorted(by_id.values(), key=lambda c: -c.score)


def timed(fn: Callable[[], list[Candidate]]) -> tuple[list[Candidate], float]:
    start = time.perf_counter()
    out = fn()
    return out, (time.perf_counter() - start) * 1000


def first_stage(engine, questions: list[dict]) -> list[dict]:  # noqa: ANN001
    """The question, its search and its 50 candidates (first-stage order), once per question."""
    rows = []
    for q in questions:
        as_of = date.fromisoformat(normalize_date(q["question_date"]))
        search = engine.search_filters(q["query"], None, as_of, None, None, None)
        start = time.perf_counter()
        pool = engine.retriever.pool(
            search.query, POOL, search.filters, boost=search.boost, window=search.window
        )
        ms = (time.perf_counter() - start) * 1000
        until = search.filters.get("until") if isinstance(search.filters, dict) else None
        window = search.window or (("", until) if until else None)
        labels = [recall_at_k([c.text], gold_answer(q)) for c in pool]
        rows.append({"q": q, "search": search, "pool": pool, "window": window, "labels": labels, "ms": ms})
    return rows


def dev_cv_orders(rows: list[dict], folds: int = 5) -> list[list[Candidate]]:
    """Each question's candidates ordered by a model trained on the other folds' dev labels (a ceiling)."""
    orders: list[list[Candidate]] = [[] for _ in rows]
    xs = [features(r["search"].query, r["pool"], r["window"]) for r in rows]
    for fold in range(folds):
        train = [i for i in range(len(rows)) if i % folds != fold and any(rows[i]["labels"])]
        model = fit(
            np.concatenate([xs[i] for i in train]),
            np.concatenate([np.asarray(rows[i]["labels"], dtype=np.int8) for i in train]),
            "dev labels",
        )
        for i in range(fold, len(rows), folds):
            orders[i] = model.rerank(rows[i]["search"].query, list(rows[i]["pool"]), rows[i]["window"])
    return orders


def score_order(order: list[Candidate], row: dict, embedder, top_k: int) -> dict[str, bool]:  # noqa: ANN001
    """recall@1/3/5 and context recall at each budget for one ordering of one question."""
    from qa.context import condense

    gold = gold_answer(row["q"])
    out = {f"r@{k}": recall_at_k([c.text for c in order[:k]], gold) for k in (1, 3, 5)}
    passages = [c.passage(n) for n, c in enumerate(order[:top_k], start=1)]
    for budget in BUDGETS:
        context = condense(row["search"].query, passages, embedder, budget)
        out[f"ctx{budget}"] = recall_at_k([p.text for p in context], gold)
    return out


def train_self(engine, count: int, seed: int) -> tuple[LinearReranker, float]:  # noqa: ANN001
    """The self-supervised model trained on the index's own chunks, and the seconds it took."""
    from qa.rerank_train import train

    start = time.perf_counter()
    ids, texts, metas = engine.store.all_chunks()
    days = [int(m.get("published_day") or 0) for m in metas]
    model = train(engine.retriever, texts, days, count=count, seed=seed)
    return model, time.perf_counter() - start


def cross_encoder_ms(rows: list[dict]) -> float:
    """Milliseconds for a MiniLM cross-encoder (the packaged weights, untrained head) to score 30 pairs."""
    from sentence_transformers import CrossEncoder

    from index.embed import packaged_model_path

    model = CrossEncoder(packaged_model_path(), num_labels=1, max_length=256)
    times = []
    for row in rows[:10]:
        pairs = [(row["search"].query, c.text) for c in row["pool"][:30]]
        start = time.perf_counter()
        model.predict(pairs, batch_size=32)
        times.append((time.perf_counter() - start) * 1000)
    return median(times)


def setup(data_dir: Path, data: Path, limit: int | None) -> tuple:
    """The engine on ``data_dir`` (no reranker), a caching embedder, and the first stage of the answerable
    dev questions (the first ``limit``)."""
    from qa.answer import Engine

    lines = (data / "queries_dev.jsonl").read_text().splitlines()
    questions = [json.loads(line) for line in lines if line.strip()][:limit]
    questions = [q for q in questions if q["derived_answer_string_in_search_docs"]]
    engine = Engine(Settings(data_dir=data_dir))
    engine.retriever.reranker = None
    engine.embedder.embed_query("warm up")
    return engine, CachedEmbedder(engine.embedder), first_stage(engine, questions)


def main() -> None:
    """Run the first stage once per question, every method over its candidates; print the table."""

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="index of the RealTime QA corpus")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="RealTime QA folder (read only)")
    parser.add_argument("--limit", type=int, default=None, help="first N dev questions")
    parser.add_argument(
        "--pseudo", type=int, default=300, help="pseudo-questions for the self-supervised model"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cross-encoder", action="store_true", help="also time a MiniLM cross-encoder")
    parser.add_argument("--save-model", type=Path, default=None, help="write the self-supervised model here")
    args = parser.parse_args()

    engine, embedder, rows = setup(args.data_dir, args.data, args.limit)
    top_k = engine.settings.top_k
    model, train_s = train_self(engine, args.pseudo, args.seed)
    if args.save_model:
        model.save(args.save_model)
    print(f"self-supervised model: {model.source}; trained in {train_s:.1f} s")
    print("weights: " + ", ".join(f"{n} {w:+.2f}" for n, w in zip(FEATURES, model.weights, strict=True)))
    cv = dev_cv_orders(rows)
    methods: dict[str, Callable[[int, dict], list[Candidate]]] = {
        "fusion": lambda i, r: list(r["pool"]),
        "article": lambda i, r: article_order(r["search"].query, r["pool"]),
        "sentence": lambda i, r: sentence_order(r["search"].query, r["pool"], engine.embedder),
        "reformulated": lambda i, r: reformulated(r["search"].query, r["pool"], engine, r["search"].filters),
        "learned-self": lambda i, r: model.rerank(r["search"].query, list(r["pool"]), r["window"]),
        "learned-self+article": lambda i, r: per_article_first(
            model.rerank(r["search"].query, list(r["pool"]), r["window"])
        ),
        "learned-dev-cv": lambda i, r: cv[i],
    }
    table: dict[str, dict[str, float]] = {}
    for name, method in methods.items():
        hits: dict[str, int] = defaultdict(int)
        ms = []
        for i, row in enumerate(rows):
            for c in row["pool"]:
                c.score = c.fused
            order, spent = timed(lambda method=method, i=i, row=row: method(i, row))
            ms.append(spent)
            for key, hit in score_order(order, row, embedder, top_k).items():
                hits[key] += hit
        table[name] = {k: v / len(rows) for k, v in hits.items()} | {"ms": median(ms)}
        print(f"  {name}: done", flush=True)
    first_ms = sorted(r["ms"] for r in rows)
    print(f"\n{len(rows)} questions; first stage p50 {median(first_ms):.0f} ms, "
          f"p95 {first_ms[int(0.95 * (len(first_ms) - 1))]:.0f} ms; context = first {top_k} chunks")  # fmt: skip
    print("\n| method | r@1 | r@3 | r@5 | ctx@150 | ctx@200 | ctx@300 | added ms p50 |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, t in table.items():
        cells = " | ".join(f"{t[k]:.3f}" for k in ("r@1", "r@3", "r@5", "ctx150", "ctx200", "ctx300"))
        print(f"| {name} | {cells} | {t['ms']:.1f} |")
    if args.cross_encoder:
        print(f"\nMiniLM cross-encoder, 30 candidates: {cross_encoder_ms(rows):.0f} ms p50 (torch fp32)")
    print("\n(ceiling: gold anywhere in the 50 candidates "
          f"{sum(any(r['labels']) for r in rows) / len(rows):.3f})")  # fmt: skip


if __name__ == "__main__":
    main()
