"""MultiHop-RAG (read from ../shared/eval, never copied; skipped without it): `newsqa eval multihop
--corpus evidence` with the 1.5B model on the first five dev questions and the first ten's null one, then
`--limit 10 --retrieval-only` on the same index; their reports, and floors set from the measured figures
with a margin (docs/evaluation.md); a question naming two outlets reads a passage from each. The search
floors run under ``make test``; the answers (a minute of the 1.5B model) under ``make eval``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import SHARED

from index.settings import Settings

EVAL = SHARED / "eval"
QUESTIONS = EVAL / "multihop_rag" / "queries_dev.jsonl"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not QUESTIONS.exists(), reason=f"MultiHop-RAG data not found at {QUESTIONS} (../shared absent)"
    ),
]


N_SEARCHED = 10  # searched at depth 10 (Hits@4 / Hits@10) without the model: a second each
N_ANSWERED = 5  # also answered by the 1.5B model (~13 s each), with the first ten's null one


def answered_eval_dir(folder: Path) -> Path:
    """An eval folder whose MultiHop-RAG dev questions are the first ``N_ANSWERED`` dev questions and every
    null question among the first ``N_SEARCHED`` (the corpus is linked, not copied)."""
    first = [line for line in QUESTIONS.read_text().splitlines() if line.strip()][:N_SEARCHED]
    chosen = first[:N_ANSWERED] + [
        line for line in first[N_ANSWERED:] if json.loads(line)["question_type"] == "null_query"
    ]
    target = folder / "multihop_rag"
    target.mkdir(parents=True)
    (target / "corpus.jsonl").symlink_to(EVAL / "multihop_rag" / "corpus.jsonl")
    (target / "queries_dev.jsonl").write_text("\n".join(chosen) + "\n")
    return folder


@pytest.fixture(scope="module")
def multihop(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The first ten dev questions searched without the model (``retrieval_only``) over their evidence
    articles and as many others (42 articles): the summary, the data folder and the settings."""
    from qa.evaluate.multihop import run_multihop

    folder = tmp_path_factory.mktemp("multihop")
    settings = Settings(data_dir=folder / "data")
    searched = run_multihop(settings, eval_dir=EVAL, limit=N_SEARCHED, scope="evidence",
                            report_dir=folder / "searched", echo=print, retrieval_only=True)  # fmt: skip
    return {"searched": searched, "folder": folder, "settings": settings}


@pytest.fixture(scope="module")
def answered(multihop: dict) -> dict:
    """``run_multihop`` with the 1.5B model on the first five dev questions and the first ten's null one,
    over the same 42-article index (their evidence articles are already in it)."""
    from qa.evaluate.multihop import run_multihop

    folder = multihop["folder"]
    return run_multihop(multihop["settings"], eval_dir=answered_eval_dir(folder / "eval"), scope="evidence",
                        report_dir=folder / "answered", echo=print)  # fmt: skip


def _report_rows(report: Path) -> list[dict]:
    for name in ("results.jsonl", "summary.md", "chart.png"):
        assert (report / name).exists()
    return [json.loads(line) for line in (report / "results.jsonl").read_text().splitlines()]


@pytest.mark.eval
def test_eval_multihop_answers(answered, multihop) -> None:  # noqa: ANN001
    summary = answered
    metrics = summary["metrics"]
    print(metrics)
    rows = _report_rows(multihop["folder"] / "answered")
    assert len(rows) == N_ANSWERED + 1 and all("correct" in r for r in rows)
    assert summary["by_type"]["null_query"] == 1  # the first ten hold one null question
    # measured 2026-12-07 (AMD EPYC): accuracy 0.667 (4 of 6: the null question declined; questions 1 and 3
    # declined, as they were in the ten-question run over 42 articles, which measured 0.7); Hits@4 1.0
    assert metrics["accuracy"] >= 0.5, metrics
    assert metrics["null_declined"] == 1.0, metrics
    assert "accuracy_comparison_query" in metrics and "null_declined" in metrics


def test_eval_multihop_search_on_10_dev_questions(multihop) -> None:
    summary = multihop["searched"]
    metrics = summary["metrics"]
    print(metrics)
    rows = _report_rows(multihop["folder"] / "searched")
    assert len(rows) == N_SEARCHED and not any("correct" in r for r in rows)  # the model was not asked
    assert summary["by_type"]["null_query"] == 1
    # measured 2026-12-07 (AMD EPYC): Hits@4 1.0, Hits@10 1.0
    assert metrics["hits@10"] >= 0.9, metrics
    assert metrics["hits@4"] >= 0.8, metrics
    assert metrics["accuracy"] is None, metrics


def test_a_question_naming_two_outlets_reads_a_passage_from_each(multihop) -> None:
    from qa.answer import Engine

    engine = Engine(multihop["settings"])  # the 42-article index of the first ten questions
    question = json.loads(QUESTIONS.read_text().splitlines()[0])["query"]  # 'The Age' and 'Sporting News'
    search = engine.search_filters(question, None, None, None, None, None)
    named = {outlet for mention in search.outlets for outlet in mention.outlets}
    assert named == {"The Age", "Sporting News"}
    passages, _ = engine.find(search, 4)
    assert named <= {p.outlet for p in passages}
    plain = engine.retriever.retrieve(search.query, 4, search.filters)
    print("whole-corpus search alone reads", sorted({p.outlet for p in plain}))
