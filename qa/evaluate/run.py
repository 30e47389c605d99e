"""``newsqa eval realtimeqa`` and ``newsqa eval rgb``: answer real news questions, score, write a report.

RealTime QA: the corpus is indexed (incrementally, so an existing index is reused), then every question is
asked with ``as_of`` = its question date three times over the same retrieved passages (llama.cpp reuses
the shared prompt prefix): a normal cited answer, a short answer, and a multiple-choice answer. Gold answers
are read only here, by the scorer, never by the answering pipeline.

RGB (counterfactual robustness): each question answered from its true passages (accuracy), and from the
true passages mixed with counterfactual ones (how often the answer flags the conflict).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from index.parse import normalize_date
from index.settings import Settings
from qa.evaluate.report import write_report
from qa.evaluate.score import (
    choice_from_answer,
    citation_valid,
    contains_answer,
    exact_match,
    flags_conflict,
    gold_answer,
    is_except_question,
    percentile,
    recall_at_k,
    rgb_correct,
    token_f1,
)
from qa.models import Answer, Passage

DEFAULT_EVAL_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "eval"
REALTIMEQA_TARGETS = {
    "recall@5": 0.85,
    "short_f1": 0.45,
    "short_em": 0.33,
    "multiple_choice_accuracy": 0.75,
    "citation_validity": 0.9,
}
Echo = Callable[[str], None]


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _settings_summary(settings: Settings, engine_model: str, embedder: str) -> dict[str, Any]:
    return {
        "llm": engine_model,
        "embedding": embedder,
        "top_k": settings.top_k,
        "context_tokens (budget)": settings.context_tokens,
        "min_relevance": settings.min_relevance,
        "chunk_tokens": settings.chunk_tokens,
        "retrieval": "hybrid: Chroma dense + BM25, reciprocal rank fusion",
        "data_dir": str(settings.data_dir),
    }


def realtimeqa_corpus(eval_dir: Path, questions: list[dict], scope: str, folder: Path) -> Path:
    """The corpus file to index: the whole corpus, or only the questions' search documents."""
    corpus = eval_dir / "realtimeqa" / "corpus.jsonl"
    if scope == "full":
        return corpus
    wanted = {doc for q in questions for doc in q.get("search_doc_ids", [])}
    subset = folder / "realtimeqa-search-docs.jsonl"
    with corpus.open() as src, subset.open("w") as dst:
        for line in src:
            if json.loads(line)["doc_id"] in wanted:
                dst.write(line)
    return subset


def _flipped_spans(engine, ask: Callable[[], Any]) -> Any:  # noqa: ANN001
    """``ask()`` with NEWSQA_ANSWER_SPANS the other way round (restored afterwards)."""
    engine.settings.answer_spans = not engine.settings.answer_spans
    try:
        return ask()
    finally:
        engine.settings.answer_spans = not engine.settings.answer_spans


def _realtimeqa_row(
    engine,  # noqa: ANN001
    q: dict[str, Any],
    top_k: int,
    short_only: bool = False,
    compare_spans: bool = False,
    without_normal: bool = False,
) -> tuple[dict[str, Any], str]:
    """Ask one RealTime QA question three ways (normal, short, multiple choice; ``short_only``: only the
    short answer) and score the answers; returns the result row and the short answer's text."""
    as_of = date.fromisoformat(normalize_date(q["question_date"]) or date.today().isoformat())
    gold = gold_answer(q)
    short = engine.ask(q["query"], as_of=as_of, top_k=top_k, style="short")
    row = {
        "question_id": q["question_id"],
        "query": q["query"],
        "as_of": as_of.isoformat(),
        "gold": gold,
        "free_text_scored": not is_except_question(q["query"]),
        "gold_in_search_docs": bool(q.get("derived_answer_string_in_search_docs")),
        "retrieved_has_gold": recall_at_k([p.text for p in short.retrieved], gold),
        "best_score": round(max((p.score for p in short.retrieved), default=0.0), 4),
        "short_answer": short.text,
        "short_abstained": short.abstained,
        "short_abstain_reason": short.abstain_reason,
        "short_contains_gold": not short.abstained and contains_answer(short.text.split("[")[0], gold),
        "em": exact_match(short.text.split("[")[0], gold),
        "f1": token_f1(short.text.split("[")[0], gold),
        "filters": short.filters,
        "retrieve_ms": short.timings.retrieve_ms,
    }
    if compare_spans:  # the same prompt again (cached), the answer held to spans the other way round
        other = _flipped_spans(
            engine, lambda: engine.ask(q["query"], as_of=as_of, top_k=top_k, style="short")
        )
        said = other.text.split("[")[0]
        row |= {
            "other_short_answer": other.text,
            "other_em": exact_match(said, gold),
            "other_f1": token_f1(said, gold),
        }
    if not short_only:
        row |= _choice_answers(engine, q, top_k, as_of, compare_spans)
    if not (short_only or without_normal):
        row |= _full_answers(engine, q, top_k, as_of, gold)
    return row, short.text


def _choice_answers(
    engine, q: dict[str, Any], top_k: int, as_of: date, compare_spans: bool
) -> dict[str, Any]:  # noqa: ANN001
    """The multiple-choice answer (and with ``compare_spans`` the same with spans the other way round)."""

    def ask() -> Any:
        return engine.ask(q["query"], as_of=as_of, top_k=top_k, style="short", choices=q["choices"])

    row: dict[str, Any] = {}
    for prefix, mc in [("", ask())] + ([("other_", _flipped_spans(engine, ask))] if compare_spans else []):
        picked = choice_from_answer(mc.text, q["choices"]) if not mc.abstained else None
        row |= {
            f"{prefix}mc_answer": mc.text,
            f"{prefix}mc_choice": picked,
            f"{prefix}mc_correct": picked is not None and picked in q["answer_index"],
        }
    return row


def _full_answers(engine, q: dict[str, Any], top_k: int, as_of: date, gold: Any) -> dict[str, Any]:  # noqa: ANN001
    """The normal answer of a RealTime QA question, scored (the row's other half)."""
    normal = engine.ask(q["query"], as_of=as_of, top_k=top_k)
    cited = [c.passage.text for c in normal.citations]
    return {
        "answer": normal.text,
        "abstained": normal.abstained,
        "abstain_reason": normal.abstain_reason,
        "contains_gold": contains_answer(normal.text, gold),
        "citations": [c.n for c in normal.citations],
        "citation_valid": citation_valid(cited, gold) if normal.citations else None,
        "retrieved": [
            {"n": p.n, "title": p.title, "date": p.date, "score": round(p.score, 3)} for p in normal.retrieved
        ],
        "retrieve_ms": normal.timings.retrieve_ms,
        "first_token_ms": normal.timings.first_token_ms,
        "total_ms": normal.timings.total_ms,
    }


def run_realtimeqa(
    settings: Settings,
    *,
    eval_dir: Path = DEFAULT_EVAL_DIR,
    split: str = "dev",
    limit: int | None = None,
    scope: str = "full",
    report_dir: Path | None = None,
    echo: Echo = print,
    seed: int | None = None,
    top_k: int = 5,
    short_only: bool = False,
    compare_spans: bool = False,
    without_normal: bool = False,
) -> dict[str, Any]:
    """Evaluate on RealTime QA (passages per question: ``top_k``, recall@top_k); returns the summary (and
    writes the report when ``report_dir`` is set). ``short_only`` asks only for the short answer (recall,
    EM, F1; a third of the model's time): the normal and multiple-choice metrics are then None;
    ``without_normal`` skips only the normal answer; ``compare_spans`` asks the short and multiple-choice
    answers again with NEWSQA_ANSWER_SPANS the other way round."""
    from qa.answer import Engine

    questions = chosen_questions(eval_dir / "realtimeqa" / f"queries_{split}.jsonl", seed, limit)
    engine = Engine(settings)
    folder = settings.data_dir
    folder.mkdir(parents=True, exist_ok=True)
    corpus = realtimeqa_corpus(eval_dir, questions, scope, folder)
    started = time.perf_counter()
    report = engine.ingestor().ingest([corpus], progress=True)
    trained = engine.update_reranker(progress=True)
    if trained:
        echo(trained)
    echo(f"index: {report.summary().splitlines()[0]} ({time.perf_counter() - started:.0f} s)")
    rows: list[dict[str, Any]] = []
    keep = partial_writer(report_dir)
    for i, q in enumerate(questions, start=1):
        row, short_text = _realtimeqa_row(engine, q, top_k, short_only, compare_spans, without_normal)
        rows.append(row)
        keep(row)
        echo(
            f"[{i}/{len(questions)}] F1 {row['f1']:.2f} MC {'-' if short_only else '✓' if row['mc_correct'] else '✗'} "
            f"R@k {'✓' if row['retrieved_has_gold'] else '✗'} | {q['query'][:70]} → {short_text[:40]!r} (gold {row['gold']!r})"
        )
    summary = summarize_realtimeqa(rows, top_k)
    summary["settings"] = _settings_summary(settings, engine.llm.name, engine.embedder.name)
    summary["settings"] |= {
        "top_k": top_k,
        "split": split,
        "questions": len(rows),
        "answers": "short"
        if short_only
        else "short, multiple choice"
        if without_normal
        else "normal, short, multiple choice",
        "corpus": scope,
        "seed": seed,
    }
    summary["targets"] = REALTIMEQA_TARGETS
    return _finish(summary, rows, report_dir, f"newsqa on RealTime QA ({split}, {len(rows)} questions)", echo)


def chosen_questions(path: Path, seed: int | None, limit: int | None) -> list[dict[str, Any]]:
    """The questions of a JSON-lines file, shuffled with ``seed`` (when given), the first ``limit``."""
    questions = _jsonl(path)
    if seed is not None:
        random.Random(seed).shuffle(questions)
    return questions[:limit] if limit else questions


def partial_writer(report_dir: Path | None) -> Callable[[dict[str, Any]], None]:
    """A function that appends a result row to ``results.partial.jsonl`` in ``report_dir`` (emptied first),
    so an interrupted run keeps what it measured; does nothing without a report folder."""
    if report_dir is None:
        return lambda row: None
    report_dir.mkdir(parents=True, exist_ok=True)
    partial = report_dir / "results.partial.jsonl"
    partial.write_text("")

    def keep(row: dict[str, Any]) -> None:
        with partial.open("a") as handle:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")

    return keep


def _finish(
    summary: dict[str, Any], rows: list[dict[str, Any]], report_dir: Path | None, title: str, echo: Echo
) -> dict[str, Any]:
    """Write the report (when asked) and print the metrics."""
    if report_dir:
        echo(f"report: {write_report(report_dir, rows, summary, title)['summary']}")
    for name, value in summary["metrics"].items():
        echo(f"{name:>28}: {value if value is None else round(value, 3)}")
    return summary


def summarize_realtimeqa(rows: list[dict[str, Any]], k: int) -> dict[str, Any]:
    """The metrics over per-question rows."""
    recall_rows = [r for r in rows if r["gold_in_search_docs"]]
    free = [r for r in rows if r["free_text_scored"]]
    full = [r for r in rows if "answer" in r]  # rows with the normal answer
    chosen = [r for r in rows if "mc_correct" in r]  # rows with the multiple-choice answer
    free_full = [r for r in full if r["free_text_scored"]]
    answered = [r for r in full if not r["abstained"]]
    metrics = {
        f"recall@{k}": _mean([float(r["retrieved_has_gold"]) for r in recall_rows]),
        "short_f1": _mean([r["f1"] for r in free]),
        "short_em": _mean([r["em"] for r in free]),
        "short_f1_other_spans": _mean([r["other_f1"] for r in free if "other_f1" in r]),
        "short_em_other_spans": _mean([r["other_em"] for r in free if "other_em" in r]),
        "containment_accuracy": _mean([float(r["contains_gold"]) for r in free_full]),
        "multiple_choice_accuracy": _mean([float(r["mc_correct"]) for r in chosen]),
        "multiple_choice_accuracy_other_spans": _mean(
            [float(r["other_mc_correct"]) for r in chosen if "other_mc_correct" in r]
        ),
        "citation_validity": _mean([float(bool(r["citation_valid"])) for r in answered]),
        "abstention_rate": _mean([float(r["abstained"]) for r in full]),
        "short_answered_right": _mean(
            [
                float(r["short_contains_gold"])
                for r in recall_rows
                if r["free_text_scored"] and "short_abstained" in r
            ]
        ),
        "short_declined_unanswerable": _mean(
            [
                float(r["short_abstained"])
                for r in rows
                if "short_abstained" in r and not r["gold_in_search_docs"]
            ]
        ),
        "retrieve_p50_ms": percentile([r["retrieve_ms"] for r in rows if "retrieve_ms" in r], 50),
        "first_token_p50_ms": percentile([r["first_token_ms"] for r in answered], 50),
        "first_token_p95_ms": percentile([r["first_token_ms"] for r in answered], 95),
        "total_p50_ms": percentile([r["total_ms"] for r in answered], 50),
        "total_p95_ms": percentile([r["total_ms"] for r in answered], 95),
    }
    return {
        "metrics": metrics,
        "questions": len(rows),
        "recall_questions": len(recall_rows),
        "abstention_tradeoff": abstention_tradeoff(rows),
    }


TRADEOFF_THRESHOLDS = (0.0, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5)


def abstention_tradeoff(
    rows: list[dict[str, Any]], thresholds: tuple[float, ...] = TRADEOFF_THRESHOLDS
) -> list[dict[str, Any]]:
    """What each ``min_relevance`` threshold would do to the normal answers of this run.

    A question is answered at threshold t when its best retrieved passage's cosine is at least t and the
    model answered (its own abstentions stay abstentions). Per t: coverage (share answered), accuracy of
    the answered (the gold answer is in the answer), wrong answers avoided and right answers lost by
    abstaining, and a selective-QA utility (+1 right, -1 wrong, 0 abstained, per question). Meaningful
    for thresholds at or above the run's own ``min_relevance`` (below it the early abstentions hide the
    answers): run with ``NEWSQA_MIN_RELEVANCE=0`` to calibrate.
    """
    scored = [r for r in rows if r["free_text_scored"] and "best_score" in r and "abstained" in r]
    table = []
    for t in thresholds:
        answered = [r for r in scored if not r["abstained"] and r["best_score"] >= t]
        dropped = [r for r in scored if not r["abstained"] and r["best_score"] < t]
        right = sum(bool(r["contains_gold"]) for r in answered)
        table.append(
            {
                "threshold": t,
                "coverage": len(answered) / len(scored) if scored else None,
                "accuracy_answered": right / len(answered) if answered else None,
                "wrong_avoided": sum(not r["contains_gold"] for r in dropped),
                "right_lost": sum(bool(r["contains_gold"]) for r in dropped),
                "utility": (2 * right - len(answered)) / len(scored) if scored else None,
            }
        )
    return table


def _rgb_passages(docs: list[dict[str, Any]]) -> list[Passage]:
    return [
        Passage(i, d["doc_id"], d["doc_id"], f"Document {i}", "", "", "", d["text"], 1.0)
        for i, d in enumerate(docs, start=1)
    ]


def run_rgb(
    settings: Settings,
    *,
    eval_dir: Path = DEFAULT_EVAL_DIR,
    limit: int | None = None,
    report_dir: Path | None = None,
    echo: Echo = print,
    passages_per_side: int = 2,
) -> dict[str, Any]:
    """Evaluate counterfactual robustness on RGB (en_fact)."""
    from qa.answer import Engine

    queries = _jsonl(eval_dir / "rgb_en_fact" / "queries_dev.jsonl")[: limit or None]
    corpus = {d["doc_id"]: d for d in _jsonl(eval_dir / "rgb_en_fact" / "corpus.jsonl")}
    engine = Engine(settings)
    rows = []
    for i, q in enumerate(queries, start=1):
        true_docs = [corpus[d] for d in q["positive_ids"][:passages_per_side] if d in corpus]
        wrong_docs = [corpus[d] for d in q["positive_wrong_ids"][:passages_per_side] if d in corpus]
        clean: Answer = engine.answer_from(q["query"], _rgb_passages(true_docs))
        mixed_docs = [doc for pair in zip(true_docs, wrong_docs, strict=False) for doc in pair]
        mixed: Answer = engine.answer_from(q["query"], _rgb_passages(mixed_docs))
        row = {
            "qid": q["qid"],
            "query": q["query"],
            "answer": q["answer"],
            "fakeanswer": q["fakeanswer"],
            "clean_answer": clean.text,
            "clean_correct": rgb_correct(clean.text, q["answer"]),
            "mixed_answer": mixed.text,
            "mixed_flags_conflict": flags_conflict(mixed.text, q["answer"], q["fakeanswer"]),
            "mixed_correct": rgb_correct(mixed.text, q["answer"]),
        }
        rows.append(row)
        echo(f"[{i}/{len(queries)}] true {'✓' if row['clean_correct'] else '✗'} "
             f"conflict {'✓' if row['mixed_flags_conflict'] else '✗'} | {q['query'][:70]}")  # fmt: skip
    summary = {
        "metrics": {
            "accuracy_true_passages": _mean([float(r["clean_correct"]) for r in rows]),
            "conflict_flagged_rate": _mean([float(r["mixed_flags_conflict"]) for r in rows]),
            "accuracy_mixed_passages": _mean([float(r["mixed_correct"]) for r in rows]),
        },
        "questions": len(rows),
        "settings": _settings_summary(settings, engine.llm.name, engine.embedder.name)
        | {"passages_per_side": passages_per_side},
    }
    return _finish(summary, rows, report_dir, f"newsqa on RGB counterfactual ({len(rows)} questions)", echo)


__all__ = ["run_realtimeqa", "run_rgb", "summarize_realtimeqa"]
