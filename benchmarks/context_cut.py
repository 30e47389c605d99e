"""Which sentence cut keeps the answer: context recall of the top 5 at 150 / 200 / 300 tokens, per cut.

Run alone from the repository root, on an index of the whole RealTime QA corpus:

    PYTHONPATH=. .venv/bin/python benchmarks/context_cut.py --data-dir /path/to/index [--limit 40]

Each dev question whose search documents hold the gold answer is searched once through the engine's own
path (time words, ``as_of`` = the question date, hybrid fusion, top 5); then every ``qa.context.Cut``
below condenses those five passages at each budget, and the context recall is the share of questions whose
gold answer is still in what the model would read. recall@5 (the whole five passages) is the ceiling.
Gold answers are read by the scorer's functions only.
"""

from __future__ import annotations

import argparse
import json
from datetime import date
from pathlib import Path

import numpy as np

from index.settings import Settings, use_offline_environment

use_offline_environment()  # before the model and store libraries load

from index.parse import normalize_date  # noqa: E402
from qa.context import Cut, condense  # noqa: E402
from qa.evaluate.score import gold_answer, recall_at_k  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "eval" / "realtimeqa"
BUDGETS = (150, 200, 300)
CUTS = {
    "cosine (before issue 24)": Cut(),
    "lexical 0.2": Cut(lexical=0.2),
    "lexical 0.4": Cut(lexical=0.4),
    "kind 0.05": Cut(kind=0.05),
    "kind 0.1": Cut(kind=0.1),
    "each first": Cut(each_first=True),
    "neighbours": Cut(neighbours=True),
    "lexical 0.2 + kind 0.1": Cut(lexical=0.2, kind=0.1),
    "lexical 0.2 + kind 0.1 + each first": Cut(lexical=0.2, kind=0.1, each_first=True),
    "all four (0.2, 0.1)": Cut(lexical=0.2, kind=0.1, each_first=True, neighbours=True),
    "all four (0.4, 0.1)": Cut(lexical=0.4, kind=0.1, each_first=True, neighbours=True),
    "lexical 0.6": Cut(lexical=0.6),
    "lexical 1.0": Cut(lexical=1.0),
    "lexical 0.6 + kind 0.1": Cut(lexical=0.6, kind=0.1),
    "lexical 0.6 + kind 0.2": Cut(lexical=0.6, kind=0.2),
    "lexical 1.0 + kind 0.2": Cut(lexical=1.0, kind=0.2),
    "lexical 0.6 + kind 0.1 + neighbours": Cut(lexical=0.6, kind=0.1, neighbours=True),
    "all four (0.6, 0.1)": Cut(lexical=0.6, kind=0.1, each_first=True, neighbours=True),
    "all four (0.6, 0.2)": Cut(lexical=0.6, kind=0.2, each_first=True, neighbours=True),
    "all four (1.0, 0.2)": Cut(lexical=1.0, kind=0.2, each_first=True, neighbours=True),
}


class MemoEmbedder:
    """The engine's embedder with a memory of every text it embedded (each cut re-reads the same
    sentences)."""

    def __init__(self, embedder) -> None:  # noqa: ANN001
        self.inner, self.vectors, self.tokens = embedder, {}, {}

    def embed(self, texts: list[str]) -> np.ndarray:
        """Vectors of ``texts``, each embedded once."""
        new = [t for t in dict.fromkeys(texts) if t not in self.vectors]
        if new:
            self.vectors.update(zip(new, self.inner.embed(new), strict=True))
        return np.asarray([self.vectors[t] for t in texts])

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text``, each counted once."""
        if text not in self.tokens:
            self.tokens[text] = self.inner.count_tokens(text)
        return self.tokens[text]


def main() -> None:
    """Search once per question, condense with every cut at every budget; print the table."""
    from qa.answer import Engine

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="index of the RealTime QA corpus")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="RealTime QA folder (read only)")
    parser.add_argument("--limit", type=int, default=None, help="first N dev questions")
    parser.add_argument("--top", type=int, default=5, help="passages condensed")
    args = parser.parse_args()

    questions = [json.loads(line) for line in (args.data / "queries_dev.jsonl").read_text().splitlines()]
    questions = [q for q in questions[: args.limit] if q["derived_answer_string_in_search_docs"]]
    engine = Engine(Settings(data_dir=args.data_dir))
    embedder = MemoEmbedder(engine.embedder)
    found = 0
    kept = {(name, b): 0 for name in CUTS for b in BUDGETS}
    for q in questions:
        as_of = date.fromisoformat(normalize_date(q["question_date"]))
        search = engine.search_filters(q["query"], None, as_of, None, None, None)
        passages, _ = engine.find(search, args.top)
        gold = gold_answer(q)
        found += bool(recall_at_k([p.text for p in passages], gold))
        for name, cut in CUTS.items():
            for budget in BUDGETS:
                shown = condense(search.query, passages, embedder, budget, cut=cut)
                kept[(name, budget)] += bool(recall_at_k([p.text for p in shown], gold))
    n = len(questions)
    print(f"{n} questions whose search documents hold the answer; recall@{args.top} {found / n:.3f}")
    print(f"{'cut':<38} | " + " | ".join(f"@{b} tokens" for b in BUDGETS))
    for name in CUTS:
        print(f"{name:<38} | " + " | ".join(f"{kept[(name, b)] / n:.3f}     " for b in BUDGETS))


if __name__ == "__main__":
    main()
