"""How hard a question's time words should narrow the search: recall of a hard date filter vs a preference.

Run alone from the repository root, on an index of the RealTime QA corpus:

    PYTHONPATH=. .venv/bin/python benchmarks/time_sweep.py --data-dir /path/to/index [--limit 40]

Every question goes through the engine's own search path (``Engine.search_filters``: time words → the
preferred window, ``as_of`` = the question date as a hard limit, hybrid fusion). The variants differ only in
``open_weight``, the weight of the search outside the window: 0 is a hard filter (the window only), larger
values let older reports compete; "no window" ignores the time words altogether (they are still stripped
from the query). Prints, per variant, recall@5 / @10 / @50 over the questions whose search documents hold the
gold answer (the evaluation's population), recall@5 over all questions, and the context recall (the gold
answer still in the prompt after ``qa.context.condense`` cuts the top 5 to ``--budget`` tokens).
Gold answers are read by the scorer's functions only.
"""

from __future__ import annotations

import argparse
import json
from datetime import date
from pathlib import Path

from index.settings import Settings, use_offline_environment

use_offline_environment()  # before the model and store libraries load

from index.parse import normalize_date  # noqa: E402
from qa.evaluate.score import gold_answer, recall_at_k  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "eval" / "realtimeqa"


def main() -> None:
    """Retrieve every question once per variant and print the recall table."""
    from qa.answer import Engine
    from qa.context import condense

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="index of the RealTime QA corpus")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="RealTime QA folder (read only)")
    parser.add_argument("--limit", type=int, default=None, help="first N dev questions")
    parser.add_argument("--weights", default="0,0.25,0.5,1,2", help="open-search weights to compare")
    parser.add_argument("--budget", type=int, default=300, help="prompt budget for the context recall")
    args = parser.parse_args()

    questions = [json.loads(line) for line in (args.data / "queries_dev.jsonl").read_text().splitlines()]
    questions = questions[: args.limit]
    engine = Engine(Settings(data_dir=args.data_dir))
    variants: list[tuple[str, float | None]] = [(f"open {w}", float(w)) for w in args.weights.split(",")]
    variants.append(("no window", None))
    depths = (5, 10, 50)
    hits = {name: {d: 0 for d in depths} | {"all@5": 0, "context": 0} for name, _ in variants}
    scorable = [q for q in questions if q["derived_answer_string_in_search_docs"]]
    windowed = 0
    for q in questions:
        as_of = date.fromisoformat(normalize_date(q["question_date"]))
        search = engine.search_filters(q["query"], None, as_of, None, None, None)
        windowed += search.window is not None
        gold = gold_answer(q)
        for name, weight in variants:
            ranked = engine.retriever.retrieve(
                search.query,
                max(depths),
                search.filters,
                boost=search.boost,
                window=search.window if weight is not None else None,
                open_weight=weight or 0.0,
            )
            top5 = [p.text for p in ranked[:5]]
            hits[name]["all@5"] += recall_at_k(top5, gold)
            if not q["derived_answer_string_in_search_docs"]:
                continue
            for d in depths:
                hits[name][d] += recall_at_k([p.text for p in ranked[:d]], gold)
            context = condense(search.query, ranked[:5], engine.embedder, args.budget)
            hits[name]["context"] += recall_at_k([p.text for p in context], gold)
    n, total = len(scorable), len(questions)
    print(f"{n} scorable of {total} questions ({windowed} with a time window), index {args.data_dir}")
    print(f"variant    | recall@5 | @10   | @50   | all {total} @5 | context recall @{args.budget}")
    for name, _ in variants:
        h = hits[name]
        print(
            f"{name:<10} | {h[5] / n:.3f}    | {h[10] / n:.3f} | {h[50] / n:.3f} | {h['all@5'] / total:.3f}"
            f"       | {h['context'] / n:.3f}"
        )


if __name__ == "__main__":
    main()
