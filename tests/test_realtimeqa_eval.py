"""Hybrid retrieval and the evaluation on RealTime QA dev questions (read from ../shared/eval, skipped
without it). Floors are set from measured figures with a safety margin (see README, Evaluation)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import SHARED

from index.parse import normalize_date
from index.settings import Settings
from qa.evaluate.run import realtimeqa_corpus, run_realtimeqa
from qa.evaluate.score import gold_answer, recall_at_k

EVAL = SHARED / "eval"
QUESTIONS = EVAL / "realtimeqa" / "queries_dev.jsonl"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not QUESTIONS.exists(), reason=f"RealTime QA data not found at {QUESTIONS} (../shared absent)"
    ),
]


def _questions(n: int) -> list[dict]:
    return [json.loads(line) for line in QUESTIONS.read_text().splitlines()[:n]]


@pytest.fixture(scope="module")
def rtqa_engine(tmp_path_factory: pytest.TempPathFactory):
    """An engine over the search documents of the first 40 dev questions."""
    from qa.answer import Engine

    folder = tmp_path_factory.mktemp("rtqa40")
    engine = Engine(Settings(data_dir=folder / "data"))
    corpus = realtimeqa_corpus(EVAL, _questions(40), "search-docs", folder)
    assert engine.ingestor().ingest([corpus], progress=False).ok
    return engine


@pytest.mark.xfail(
    reason="measured 2026-11-23 on these 24 questions: hybrid 0.71 < dense 0.79 < lexical 0.75 with equal-weight "
    "RRF; fusion weights are still to be tuned (issue 4 open)",
    strict=False,
)
def test_fusion_beats_either_retriever_alone(rtqa_engine) -> None:
    questions = [q for q in _questions(40) if q["derived_answer_string_in_search_docs"]]
    recall = {}
    for mode in ("dense", "lexical", "hybrid"):
        hits = 0
        for q in questions:
            passages = rtqa_engine.retriever.retrieve(
                q["query"], 5, {"until": normalize_date(q["question_date"])}, mode=mode
            )
            hits += recall_at_k([p.text for p in passages], gold_answer(q))
        recall[mode] = hits / len(questions)
    print(f"recall@5 on {len(questions)} questions: {recall}")
    assert recall["hybrid"] > recall["dense"] and recall["hybrid"] > recall["lexical"], recall


def test_eval_on_15_dev_questions(rtqa_engine, tmp_path: Path) -> None:
    summary = run_realtimeqa(
        rtqa_engine.settings,
        eval_dir=EVAL,
        limit=15,
        scope="search-docs",
        report_dir=tmp_path / "report",
        echo=print,
    )
    metrics = summary["metrics"]
    assert metrics["recall@5"] >= 0.7, metrics
    assert metrics["short_f1"] >= 0.3, metrics
    for name in ("results.jsonl", "summary.md", "chart.png"):
        assert (tmp_path / "report" / name).exists()
    rows = [json.loads(line) for line in (tmp_path / "report" / "results.jsonl").read_text().splitlines()]
    assert len(rows) == 15 and all(r["as_of"] for r in rows)
