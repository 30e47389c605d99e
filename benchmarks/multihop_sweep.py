"""How to search questions that name outlets: Hits@4 / Hits@10 / MRR@10 on MultiHop-RAG dev, per variant.

Run alone from the repository root, on an index of the MultiHop-RAG corpus (``newsqa --data-dir D ingest
../shared/eval/multihop_rag/corpus.jsonl``):

    PYTHONPATH=. .venv/bin/python benchmarks/multihop_sweep.py --data-dir D [--limit 200]

Every variant goes through the engine's own search path (time words, ``as_of`` = the newest article's
date, hybrid fusion) and differs only in how a question that names the corpus's outlets is searched:
``plain`` (the whole question, as before issue 24) or ``Retriever.retrieve_covering`` with the whole-corpus
query (the question, or the question with its outlet names cut out) and the merge (each outlet's best first, or the whole
corpus's order with each outlet's best brought in). Gold evidence is read by the scorer only.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from index.settings import Settings, use_offline_environment

use_offline_environment()  # before the model and store libraries load

from qa.evaluate.score import evidence_hits, reciprocal_rank  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "eval" / "multihop_rag"
VARIANTS = {
    "plain": None,
    "question, heads": ("question", "heads"),
    "stripped, heads (adopted)": ("stripped", "heads"),
    "stripped, main": ("stripped", "main"),
    "question, main": ("question", "main"),
}


def main() -> None:
    """Search every non-null dev question once per variant at depth 10; print the table."""
    from qa.answer import Engine
    from qa.evaluate.multihop import newest_date

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="index of the MultiHop-RAG corpus")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="MultiHop-RAG folder (read only)")
    parser.add_argument("--limit", type=int, default=None, help="first N dev questions")
    args = parser.parse_args()

    lines = (args.data / "queries_dev.jsonl").read_text().splitlines()[: args.limit]
    questions = [q for q in map(json.loads, lines) if q["question_type"] != "null_query"]
    engine = Engine(Settings(data_dir=args.data_dir))
    as_of = newest_date(args.data / "corpus.jsonl")
    scores = {name: [0.0, 0.0, 0.0] for name in VARIANTS}
    named = 0
    for q in questions:
        facts = [e["fact"] for e in q["evidence"]]
        search = engine.search_filters(q["query"], None, as_of, None, None, None)
        named += bool(search.outlets)
        options = {"boost": search.boost, "window": search.window}
        for name, variant in VARIANTS.items():
            if variant is None or not search.outlets:
                ranked = engine.retriever.retrieve(search.query, 10, search.filters, **options)
            else:
                whole, merge = variant
                ranked = engine.retriever.retrieve_covering(
                    search.query, search.outlets, 10, search.filters, whole=whole, merge=merge, **options
                )
            texts = [p.text for p in ranked]
            for i, value in enumerate(
                (
                    evidence_hits(texts, facts, 4),
                    evidence_hits(texts, facts, 10),
                    reciprocal_rank(texts, facts),
                )
            ):
                scores[name][i] += float(value)
    print(f"{len(questions)} non-null questions ({named} name an indexed outlet), index {args.data_dir}")
    print(f"{'variant':<28} | Hits@4 | Hits@10 | MRR@10")
    for name, (h4, h10, rr) in scores.items():
        n = len(questions)
        print(f"{name:<28} | {h4 / n:.3f}  | {h10 / n:.3f}   | {rr / n:.3f}")


if __name__ == "__main__":
    main()
