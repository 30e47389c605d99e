"""How far the prompt budget can shrink when the top evidence is strong: context recall and prompt tokens.

Run alone from the repository root, on an index of the whole RealTime QA corpus:

    PYTHONPATH=. .venv/bin/python benchmarks/context_margin.py --data-dir /path/to/index

For each dev question whose search documents hold the gold answer, the engine's first stage gives its
candidates once; the first ``top_k`` are condensed (``qa.context.condense``) at the budget with each
``margin`` (sentences scoring more than ``margin`` below the best one are left out once ``floor`` tokens are
chosen; 0 = the fixed budget). Printed per setting: context recall (the gold answer in what the model would
read), mean and p50 passage tokens, and the token ratio to the fixed budget. At ~60 prompt tokens/s on two
cores, each 100 tokens saved is about 1.7 s of first-token time.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from statistics import mean, median

from index.settings import use_offline_environment

use_offline_environment()  # before the model and store libraries load

from rerank_sweep import DEFAULT_DATA, setup  # noqa: E402  (run as a script: benchmarks/ is on the path)

from qa.evaluate.score import gold_answer, recall_at_k  # noqa: E402


def main() -> None:
    """Print one row per (floor, margin): context recall, passage tokens, ratio to the fixed budget."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--eval-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--budget", type=int, default=300)
    parser.add_argument("--margins", default="0,0.1,0.15,0.2,0.25,0.3")
    parser.add_argument("--floors", default="60,120")
    args = parser.parse_args()
    from qa.context import condense

    engine, embedder, rows = setup(args.data_dir, args.eval_dir, args.limit)
    top_k = engine.settings.top_k
    settings = [(0, 0.0)] + [
        (int(f), float(m)) for f in args.floors.split(",") for m in args.margins.split(",") if float(m) > 0
    ]
    results: dict[tuple[int, float], list[tuple[bool, int]]] = {s: [] for s in settings}
    for row in rows:
        passages = [c.passage(n) for n, c in enumerate(row["pool"][:top_k], start=1)]
        for floor, margin in settings:
            shown = condense(row["search"].query, passages, embedder, args.budget, margin=margin, floor=floor)
            tokens = sum(embedder.count_tokens(p.text) for p in shown)
            results[(floor, margin)].append(
                (recall_at_k([p.text for p in shown], gold_answer(row["q"])), tokens)
            )
    base = mean(t for _, t in results[(0, 0.0)])
    print(f"\n{len(rows)} questions, top_k {top_k}, budget {args.budget}")
    print("| floor | margin | context recall | tokens mean | tokens p50 | ratio to fixed |")
    print("|---:|---:|---:|---:|---:|---:|")
    for (floor, margin), got in results.items():
        recall = mean(hit for hit, _ in got)
        tokens = [t for _, t in got]
        label = "fixed" if margin == 0 else f"{margin:.2f}"
        print(
            f"| {floor} | {label} | {recall:.3f} | {mean(tokens):.0f} | {median(tokens):.0f} | "
            f"{mean(tokens) / base:.2f} |"
        )


if __name__ == "__main__":
    main()
