"""The pre-generation abstention gate before and after issue 24: how many questions it declines before
the model is asked, answerable vs unanswerable, on MultiHop-RAG dev and RealTime QA dev.

Run alone from the repository root, with an index of each corpus:

    PYTHONPATH=. .venv/bin/python benchmarks/gate_tradeoff.py --multihop-index D1 [--realtimeqa-index D2]

"before": the plain search and the name check of qa/abstain.py as it was (every capitalised name of the
question in a passage's title or text, quote marks kept). "after": the search that covers named outlets
and the gate that reads outlets as metadata (qa.outlets). Unanswerable: MultiHop-RAG's null questions;
RealTime QA's questions whose search documents do not hold the answer. Gold answers are not read.
"""

from __future__ import annotations

import argparse
import json
import re
from datetime import date
from pathlib import Path

from index.settings import Settings, use_offline_environment

use_offline_environment()  # before the model and store libraries load

from index.parse import normalize_date  # noqa: E402
from qa.abstain import _QUESTION_WORDS, weak_evidence  # noqa: E402
from qa.models import Passage  # noqa: E402

EVAL = Path(__file__).resolve().parent.parent.parent / "shared" / "eval"
_OLD_NAME = re.compile(r"\b[A-Z][a-zA-Z'’\-]+(?:\s+[A-Z][a-zA-Z'’\-]+)*")


def old_gate(question: str, passages: list[Passage], min_relevance: float) -> str | None:
    """qa.abstain.weak_evidence as it was before issue 24."""
    if not passages:
        return "nothing"
    if max(p.score for p in passages) < min_relevance:
        return "below"
    haystack = " ".join(f"{p.title} {p.text}" for p in passages).lower()
    for match in _OLD_NAME.finditer(question):
        words = [w for w in match.group(0).split() if re.sub(r"['’]s$", "", w) not in _QUESTION_WORDS]
        if words:
            last = re.split(r"[\s\-–]+", re.sub(r"['’]s$", "", " ".join(words)).lower())[-1]
            if re.search(rf"\b{re.escape(last)}", haystack) is None:
                return "name"
    return None


def declines(engine, questions: list[tuple[str, date, bool]]) -> dict[str, list[int]]:  # noqa: ANN001
    """Per gate, [answerable declined, answerable, unanswerable declined, unanswerable]."""
    counts = {"before": [0, 0, 0, 0], "after": [0, 0, 0, 0]}
    floor = engine.settings.min_relevance
    for query, as_of, answerable in questions:
        search = engine.search_filters(query, None, as_of, None, None, None)
        options = {"boost": search.boost, "window": search.window}
        plain = engine.retriever.retrieve(search.query, engine.settings.top_k, search.filters, **options)
        covered, beyond = engine.find(search, engine.settings.top_k)
        verdicts = {
            "before": old_gate(query, plain, floor),
            "after": beyond or weak_evidence(query, covered, floor, search.outlets),
        }
        for gate, reason in verdicts.items():
            slot = 0 if answerable else 2
            counts[gate][slot] += reason is not None
            counts[gate][slot + 1] += 1
    return counts


def main() -> None:
    """Print the declines of each gate on each set."""
    from qa.answer import Engine
    from qa.evaluate.multihop import newest_date

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--multihop-index", type=Path, help="index of the MultiHop-RAG corpus")
    parser.add_argument("--realtimeqa-index", type=Path, help="index of the RealTime QA corpus")
    parser.add_argument("--limit", type=int, default=None, help="first N dev questions of each set")
    args = parser.parse_args()
    sets = []
    if args.multihop_index:
        folder = EVAL / "multihop_rag"
        as_of = newest_date(folder / "corpus.jsonl")
        rows = [json.loads(x) for x in (folder / "queries_dev.jsonl").read_text().splitlines()[: args.limit]]
        questions = [(q["query"], as_of, q["question_type"] != "null_query") for q in rows]
        sets.append(("MultiHop-RAG dev", args.multihop_index, questions))
    if args.realtimeqa_index:
        folder = EVAL / "realtimeqa"
        rows = [json.loads(x) for x in (folder / "queries_dev.jsonl").read_text().splitlines()[: args.limit]]
        questions = [
            (q["query"], date.fromisoformat(normalize_date(q["question_date"])),
             bool(q["derived_answer_string_in_search_docs"]))
            for q in rows
        ]  # fmt: skip
        sets.append(("RealTime QA dev", args.realtimeqa_index, questions))
    print("set | gate | answerable declined before the model | unanswerable declined before the model")
    for name, index, questions in sets:
        engine = Engine(Settings(data_dir=index))
        for gate, (a, an, u, un) in declines(engine, questions).items():
            print(f"{name} | {gate} | {a}/{an} ({a / max(an, 1):.3f}) | {u}/{un} ({u / max(un, 1):.3f})")


if __name__ == "__main__":
    main()
