"""What reading while typing does to the passages an answer reads: context recall and prefix reuse, no model.

Run from the repository root (retrieval and sentence cuts only; a few minutes for the 126 dev questions):

    PYTHONPATH=. .venv/bin/python benchmarks/typeahead_recall.py --data-dir <realtimeqa index> [--limit N]

Each RealTime QA dev question is "typed": every ``--chars`` characters (6 = one read-ahead a second at 6
characters/s) the text up to the last whole word is searched as ``qa.readahead.read_ahead`` searches it, and
the passages it would read are prepared, one read-ahead after another, under three rules: **same set
only** (``qa.readahead``'s rule: an earlier read-ahead's cut is kept only when the search finds exactly
the same chunks), and two tried and not adopted (docs/latency.md), where the chunks read before and found
again stay first, as they were cut: **carry over, in budget** (the newly found ones cut into the budget
left) and **carry over, all of the cut** (then whatever the question's own cut shows that they do not).
On Enter the final question is searched and its prompt passages prepared the same way, against the
answer's own cold cut. Printed per rule: how often the gold answer is still in what the
model reads (context recall, over the questions whose search documents hold it), the passage tokens the
Enter prompt shares with the last read-ahead as a prefix (what the model's cache can reuse, assuming the
read-ahead was read to its end), and how often the prompt passages are the cold ones exactly.
"""

from __future__ import annotations

import argparse
import json
import statistics
from dataclasses import replace
from datetime import date
from pathlib import Path

from index.settings import Settings, use_offline_environment

use_offline_environment()  # before the model and store libraries load

from index.parse import normalize_date  # noqa: E402
from index.sentences import split_sentences  # noqa: E402
from qa.cite import content_words  # noqa: E402
from qa.context import condense  # noqa: E402
from qa.evaluate.score import gold_answer, recall_at_k  # noqa: E402
from qa.models import Passage, Prepared  # noqa: E402
from qa.readahead import MIN_WORDS  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "eval" / "realtimeqa"
RULES = ("same set only", "carry over, in budget", "carry over, all of the cut")


def typed_prefixes(question: str, chars: int) -> list[str]:
    """The texts read ahead while ``question`` is typed: every ``chars`` characters, up to the last whole
    word (as ``TypeAhead.typed`` leaves a word being typed out), each new text once."""
    seen: list[str] = []
    for end in range(chars, len(question), chars):
        text = question[:end]
        words = text if text[-1].isspace() else text.rsplit(None, 1)[0] if " " in text.strip() else ""
        words = words.strip()
        if words and (not seen or words != seen[-1]) and len(content_words(words)) >= MIN_WORDS:
            seen.append(words)
    return seen


def carry_in_budget(
    question: str, passages: list[Passage], previous: Prepared, embedder, budget: int
) -> Prepared:  # noqa: ANN001
    """Tried and not adopted: the passages shown before and found again first, as they were cut; the newly
    found ones after them, cut into what is left of ``budget``."""
    found = {p.chunk_id for p in passages}
    kept = [p for p in previous.shown if p.chunk_id in found]
    ids = {p.chunk_id for p in kept}
    rest = [p for p in passages if p.chunk_id not in ids]
    left = budget - sum(embedder.count_tokens(p.text) - 2 for p in kept)
    extra = condense(question, rest, embedder, left) if rest and left >= 24 else []
    shown = [replace(p, n=i) for i, p in enumerate(kept + extra, start=1)]
    return Prepared([p.chunk_id for p in kept + rest], shown)


def carry_all(question: str, passages: list[Passage], previous: Prepared, embedder, budget: int) -> Prepared:  # noqa: ANN001
    """Tried and not adopted: the passages shown before and found again first, as they were cut; then what
    ``question``'s own cut shows that they do not (the prompt passes the budget)."""
    found = [p.chunk_id for p in passages]
    kept = [p for p in previous.shown if p.chunk_id in set(found)]
    read = {p.chunk_id: p.text for p in kept}
    extra = []
    for p in condense(question, passages, embedder, budget):
        missing = [s for s in split_sentences(p.text) if s not in read.get(p.chunk_id, "")]
        if missing:
            extra.append(replace(p, text=" ".join(missing)) if p.chunk_id in read else p)
    shown = [replace(p, n=i) for i, p in enumerate(kept + extra, start=1)]
    ids = list(dict.fromkeys(p.chunk_id for p in shown))
    return Prepared(ids + [c for c in found if c not in ids], shown)


def _prepare(engine, rule: str, text: str, passages: list[Passage], previous: Prepared | None) -> Prepared:  # noqa: ANN001
    budget = engine.settings.context_tokens
    if previous is not None and rule.startswith("carry over"):
        carry = carry_in_budget if rule == "carry over, in budget" else carry_all
        return carry(text, passages, previous, engine.embedder, budget)
    if previous is not None and sorted(p.chunk_id for p in passages) == sorted(previous.order):
        return previous
    return Prepared([p.chunk_id for p in passages], engine.cut(text, passages, budget))


def shared_tokens(engine, read: list[Passage], final: list[Passage]) -> int:  # noqa: ANN001
    """Passage tokens ``final`` shares with ``read`` from the start (same chunk, same cut, same place)."""
    shared = 0
    for a, b in zip(read, final, strict=False):
        if (a.chunk_id, a.text) != (b.chunk_id, b.text):
            break
        shared += engine.embedder.count_tokens(b.text) - 2
    return shared


def run(engine, question: dict, chars: int) -> dict[str, dict]:  # noqa: ANN001
    """One question under each rule: recall kept, prefix tokens shared, the same passages as cold."""
    as_of = date.fromisoformat(normalize_date(question["question_date"]))
    k = engine.settings.top_k

    def passages_for(text: str) -> list[Passage] | None:
        plan = engine.plan(text, None, as_of, None, None, None, k)
        return None if plan.new_since or plan.declined else plan.passages

    final = passages_for(question["query"]) or []
    cold = engine.cut(question["query"], final, engine.settings.context_tokens)
    gold = gold_answer(question)
    rows = {
        "cold": {
            "recall": bool(recall_at_k([p.text for p in cold], gold)),
            "tokens": 0,
            "same": True,
            "total": sum(engine.embedder.count_tokens(p.text) - 2 for p in cold),
        }
    }
    for rule in RULES:
        previous = None
        for text in typed_prefixes(question["query"], chars):
            found = passages_for(text)
            if found is not None:
                previous = _prepare(engine, rule, text, found, previous)
        shown = _prepare(engine, rule, question["query"], final, previous).shown if previous else cold
        rows[rule] = {
            "recall": bool(recall_at_k([p.text for p in shown], gold)),
            "tokens": shared_tokens(engine, previous.shown, shown) if previous else 0,
            "total": sum(engine.embedder.count_tokens(p.text) - 2 for p in shown),
            "same": [(p.chunk_id, p.text) for p in shown] == [(p.chunk_id, p.text) for p in cold],
        }
    return rows


def main() -> None:
    """Type every question under each rule and print the table."""
    from qa.answer import Engine

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="index of the RealTime QA corpus")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="RealTime QA folder (read only)")
    parser.add_argument("--limit", type=int, default=None, help="first N dev questions")
    parser.add_argument("--chars", type=int, default=6, help="characters typed between read-aheads")
    args = parser.parse_args()

    lines = (args.data / "queries_dev.jsonl").read_text().splitlines()[: args.limit]
    questions = [json.loads(line) for line in lines]
    engine = Engine(Settings(data_dir=args.data_dir))
    results = [run(engine, q, args.chars) for q in questions]
    answerable = [
        r for r, q in zip(results, questions, strict=True) if q["derived_answer_string_in_search_docs"]
    ]
    print(f"{len(questions)} dev questions ({len(answerable)} whose search documents hold the answer)")
    print("\n| prompt passages | context recall | passage tokens, median | shared with the last read-ahead, "
          "median | the cold passages exactly |")  # fmt: skip
    print("|---|---:|---:|---:|---:|")
    for rule in ("cold",) + RULES:
        recall = sum(r[rule]["recall"] for r in answerable) / max(1, len(answerable))
        shared = statistics.median(r[rule]["tokens"] for r in results)
        same = sum(r[rule]["same"] for r in results)
        total = statistics.median(r[rule]["total"] for r in results)
        print(f"| {rule} | {recall:.3f} | {total:.0f} | {shared:.0f} | {same}/{len(results)} |")


if __name__ == "__main__":
    main()
