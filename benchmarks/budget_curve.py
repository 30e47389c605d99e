"""Accuracy and first-token time against the prompt budget (``NEWSQA_CONTEXT_TOKENS``).

Run alone from the repository root, on an index of the RealTime QA corpus (``newsqa eval realtimeqa``
builds one; ``--data-dir`` points at it):

    PYTHONPATH=. .venv/bin/python benchmarks/budget_curve.py --data-dir /path/to/index \
        [--limit 30] [--budgets 150,300,600]

Each question is asked with ``as_of`` = its question date, once per budget, in the short style (token F1
and exact match against the gold answer, first-token time) and as multiple choice (accuracy). Budgets are
taken in turn for each question, so a disturbance of the machine falls on every budget alike; compare the
ratios. Gold answers are read by the scorer's functions only.
"""

from __future__ import annotations

import argparse
import json
from datetime import date
from pathlib import Path
from statistics import median

from index.settings import Settings, use_offline_environment

use_offline_environment()  # before the model and store libraries load

from index.parse import normalize_date  # noqa: E402
from qa.evaluate.score import choice_from_answer, exact_match, gold_answer, is_except_question, token_f1  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "eval" / "realtimeqa"


def main() -> None:
    """Print one row per budget: short-answer F1 and EM, multiple-choice accuracy, first-token p50."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--eval-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--limit", type=int, default=30)
    parser.add_argument("--budgets", default="150,300,600")
    parser.add_argument("--out", type=Path, default=None, help="per-question JSONL")
    args = parser.parse_args()
    from qa.answer import Engine

    budgets = [int(b) for b in args.budgets.split(",")]
    lines = (args.eval_dir / "queries_dev.jsonl").read_text().splitlines()
    questions = [json.loads(line) for line in lines if line.strip()][: args.limit]
    engine = Engine(Settings(data_dir=args.data_dir))
    engine.warm_up()
    rows: list[dict] = []
    for i, q in enumerate(questions, start=1):
        as_of = date.fromisoformat(normalize_date(q["question_date"]) or date.today().isoformat())
        gold = gold_answer(q)
        for budget in budgets:
            short = engine.ask(q["query"], as_of=as_of, style="short", context_tokens=budget)
            mc = engine.ask(
                q["query"], as_of=as_of, style="short", choices=q["choices"], context_tokens=budget
            )
            picked = None if mc.abstained else choice_from_answer(mc.text, q["choices"])
            value = short.text.split("[")[0]
            rows.append(
                {
                    "question_id": q["question_id"],
                    "budget": budget,
                    "free_text_scored": not is_except_question(q["query"]),
                    "f1": token_f1(value, gold),
                    "em": exact_match(value, gold),
                    "mc_correct": picked is not None and picked in q["answer_index"],
                    "abstained": short.abstained,
                    "generated": short.model != "",  # False: abstained before the model was asked
                    "first_token_ms": short.timings.first_token_ms,
                    "prompt_passage_chars": sum(len(p.text) for p in short.passages),
                }
            )
        print(f"[{i}/{len(questions)}] " + " ".join(
            f"{r['budget']}:F1 {r['f1']:.2f} MC {'✓' if r['mc_correct'] else '✗'} {r['first_token_ms'] / 1000:.1f}s"
            for r in rows[-len(budgets):]
        ), flush=True)  # fmt: skip
    if args.out:
        args.out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    print("\n| budget | short F1 | short EM | MC accuracy | first token p50 (s) | ratio to largest |")
    print("|---:|---:|---:|---:|---:|---:|")
    p50 = {
        b: median(r["first_token_ms"] for r in rows if r["budget"] == b and r.get("generated", True))
        for b in budgets
    }
    for b in budgets:
        mine = [r for r in rows if r["budget"] == b]
        free = [r for r in mine if r["free_text_scored"]]
        f1 = sum(r["f1"] for r in free) / len(free)
        em = sum(r["em"] for r in free) / len(free)
        mc = sum(r["mc_correct"] for r in mine) / len(mine)
        print(
            f"| {b} | {f1:.3f} | {em:.3f} | {mc:.3f} | {p50[b] / 1000:.1f} | {p50[b] / p50[max(budgets)]:.2f} |"
        )


if __name__ == "__main__":
    main()
