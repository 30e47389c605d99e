"""Which news-domain retrieval priors help: recall@5 of recency and per-article variants on RealTime QA dev.

Run alone from the repository root, on an index of the RealTime QA corpus:

    PYTHONPATH=. .venv/bin/python benchmarks/retrieval_sweep.py --data-dir /path/to/index [--limit 40]

Every variant goes through the engine's own search path (time words → filters, ``as_of`` = the question
date, hybrid fusion); they differ in (a) a recency vote for articles of the last N days before ``as_of``
when the question names no time span, and (b) a cap on passages per article in the top 5. Prints recall@5
per variant over the questions whose search documents hold the gold answer (the evaluation's population),
then, for the default search, the ceiling (recall at depth 10 / 20 / 50) and the context recall (the gold
answer still in the prompt after ``qa.context.condense`` cuts the top 5 to a token budget).
Gold answers are read by the scorer's functions only.
"""

from __future__ import annotations

import argparse
import json
from datetime import timedelta
from pathlib import Path

from index.settings import Settings, use_offline_environment

use_offline_environment()  # before the model and store libraries load

from index.parse import normalize_date  # noqa: E402
from qa.evaluate.score import gold_answer, recall_at_k  # noqa: E402
from qa.models import Passage  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "eval" / "realtimeqa"


def capped(passages: list[Passage], per_article: int | None, k: int = 5) -> list[Passage]:
    """The first ``k`` passages keeping at most ``per_article`` from one article."""
    if per_article is None:
        return passages[:k]
    seen: dict[str, int] = {}
    kept = []
    for p in passages:
        if seen.get(p.article_id, 0) < per_article:
            kept.append(p)
            seen[p.article_id] = seen.get(p.article_id, 0) + 1
        if len(kept) == k:
            break
    return kept


def stemmed_index(engine):  # noqa: ANN001, ANN201
    """A BM25 index over Snowball-stemmed words, built in a temporary folder (the index is not touched)."""
    import tempfile

    import bm25s
    from nltk.stem import SnowballStemmer

    import index.lexical as lexical

    stem = SnowballStemmer("english").stem
    lexical.tokenize = lambda texts: bm25s.tokenize(
        texts, stopwords="en", stemmer=lambda words: [stem(w) for w in words], show_progress=False
    )
    return lexical.LexicalIndex(Path(tempfile.mkdtemp()), engine.store, engine.catalog)


def main() -> None:
    """Retrieve once per (question, recency) and score every cap; print the table."""
    from datetime import date

    from qa.answer import Engine
    from qa.context import condense

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="index of the RealTime QA corpus")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="RealTime QA folder (read only)")
    parser.add_argument("--limit", type=int, default=None, help="first N dev questions")
    parser.add_argument("--recency", default="0,3,7,14,30", help="recency windows in days (0 = none)")
    parser.add_argument("--stem", action="store_true", help="BM25 over Snowball-stemmed words instead")
    parser.add_argument("--weights", default="0.25,0.5,1", help="recency vote weights (dense votes)")
    args = parser.parse_args()

    questions = [json.loads(line) for line in (args.data / "queries_dev.jsonl").read_text().splitlines()]
    questions = [q for q in questions[: args.limit] if q["derived_answer_string_in_search_docs"]]
    engine = Engine(Settings(data_dir=args.data_dir))
    windows = [int(x) for x in args.recency.split(",")]
    caps: list[int | None] = [None, 2, 1]
    weights = [float(x) for x in args.weights.split(",")]
    lexicals = {"stemmed": stemmed_index(engine)} if args.stem else {"plain": engine.lexical}
    depth = {d: 0 for d in (5, 10, 20, 50)}
    budgets = {b: 0 for b in (150, 300, 450, 600)}
    hits = {
        (lx, w, b, c): 0 for lx in lexicals for w in windows for b in (weights if w else [0.0]) for c in caps
    }
    for q in questions:
        as_of = date.fromisoformat(normalize_date(q["question_date"]))
        search = engine.search_filters(q["query"], None, as_of, None, None, None)
        query, filters, boost, time_window = search.query, search.filters, search.boost, search.window
        gold = gold_answer(q)
        ranked = engine.retriever.retrieve(query, 50, filters, boost=boost, window=time_window)
        for d in depth:
            depth[d] += bool(recall_at_k([p.text for p in ranked[:d]], gold))
        for b in budgets:
            context = condense(query, ranked[:5], engine.embedder, b)
            budgets[b] += bool(recall_at_k([p.text for p in context], gold))
        for lx, window, weight in {(lx, w, b) for lx, w, b, _ in hits}:
            engine.retriever.lexical = lexicals[lx]
            use, use_weight = boost, 1.0
            if window and boost is None and time_window is None:
                use, use_weight = ((as_of - timedelta(days=window)).isoformat(), as_of.isoformat()), weight
            ranked = engine.retriever.retrieve(
                query, 30, filters, boost=use, boost_weight=use_weight, window=time_window
            )
            for cap in caps:
                found = recall_at_k([p.text for p in capped(ranked, cap)], gold)
                hits[(lx, window, weight, cap)] += bool(found)
    print(f"{len(questions)} scorable questions, index {args.data_dir}")
    print("BM25    | recency days | vote weight | cap per article | recall@5")
    for (lx, window, weight, cap), n in sorted(hits.items(), key=lambda x: -x[1]):
        print(f"{lx:<7} | {window:>12} | {weight:>11} | {cap or '-':>15} | {n / len(questions):.3f}")
    print(
        "default search, recall at depth: "
        + ", ".join(f"@{d} {n / len(questions):.3f}" for d, n in depth.items())
    )
    print(
        "context recall of the top 5 by budget: "
        + ", ".join(f"{b} tokens {n / len(questions):.3f}" for b, n in budgets.items())
    )


if __name__ == "__main__":
    main()
