"""``newsqa eval multihop``: MultiHop-RAG, questions that need two to four news articles, or none.

The corpus (609 articles of late 2023) is indexed incrementally; every question is searched once at depth
10 (Hits@4, Hits@10 and MRR@10 as the paper's ``retrieval_evaluate.py`` counts them: a passage that holds
a gold evidence sentence, whitespace ignored) and asked once for a short answer, with ``as_of`` = the
newest article's date (the reader asks at the end of the corpus's time; no question carries a date).
Accuracy is the paper's lenient rule (a word in common with the gold answer, see
``qa.evaluate.score.lenient_match``), with exact match and token F1 beside it; a null question ("Insufficient
information.") is right when newsqa declines, and any other question is wrong when it declines. Gold
answers and evidence are read only here, by the scorers.
"""

from __future__ import annotations

import json
import time
from datetime import date
from pathlib import Path
from typing import Any

from index.parse import normalize_date
from index.settings import Settings
from qa.evaluate.run import (
    DEFAULT_EVAL_DIR,
    Echo,
    _finish,
    _jsonl,
    _mean,
    _settings_summary,
    chosen_questions,
    partial_writer,
)
from qa.evaluate.score import (
    evidence_hits,
    exact_match,
    lenient_match,
    percentile,
    reciprocal_rank,
    strip_citations,
    token_f1,
)

TYPES = ("inference_query", "comparison_query", "temporal_query", "null_query")
MULTIHOP_TARGETS = {
    "hits@4": 0.70,
    "hits@10": 0.85,
    "accuracy": 0.60,
    "accuracy_comparison_query": 0.45,
    "accuracy_temporal_query": 0.45,
    "null_declined": 0.75,
}


def multihop_corpus(eval_dir: Path, questions: list[dict], scope: str, folder: Path) -> Path:
    """The corpus file to index: all 609 articles, or (``evidence``) the chosen questions' evidence
    articles and as many others again (the first by id), so the search still has to find them."""
    corpus = eval_dir / "multihop_rag" / "corpus.jsonl"
    if scope == "full":
        return corpus
    records = _jsonl(corpus)
    wanted = {doc for q in questions for doc in q.get("evidence_doc_ids", [])}
    others = sorted((r for r in records if r["doc_id"] not in wanted), key=lambda r: r["doc_id"])
    keep = wanted | {r["doc_id"] for r in others[: max(len(wanted), 10)]}
    subset = folder / "multihop-evidence-docs.jsonl"
    with corpus.open() as src, subset.open("w") as dst:
        for line in src:
            if line.strip() and _doc_id(line) in keep:
                dst.write(line)
    return subset


def _doc_id(line: str) -> str:
    return json.loads(line)["doc_id"]


def newest_date(corpus: Path) -> date:
    """The newest article date in the corpus file (the evaluation's ``as_of``)."""
    days = [normalize_date(r.get("published_at") or "") for r in _jsonl(corpus)]
    return date.fromisoformat(max(d for d in days if d))


def multihop_row(
    engine,
    q: dict[str, Any],
    as_of: date,
    *,
    answer: bool = True,
    compare_spans: bool = False,  # noqa: ANN001
) -> dict[str, Any]:
    """Search one question at depth 10 and (with ``answer``) ask it for a short answer; the scored row.
    ``compare_spans`` asks again with ``answer_spans`` the other way round (``other_answer``,
    ``other_correct``)."""
    facts = [e["fact"] for e in q.get("evidence", [])]
    search = engine.search_filters(q["query"], None, as_of, None, None, None)
    ranked, _ = engine.find(search, 10)
    texts = [p.text for p in ranked]
    null = q["question_type"] == "null_query"
    row: dict[str, Any] = {
        "question_id": q["question_id"],
        "type": q["question_type"],
        "query": q["query"],
        "gold": q["answer"],
        "hits@4": None if null else evidence_hits(texts, facts, 4),
        "hits@10": None if null else evidence_hits(texts, facts, 10),
        "rr@10": None if null else reciprocal_rank(texts, facts, 10),
        "retrieved": [{"title": p.title, "outlet": p.outlet, "date": p.date} for p in ranked],
    }
    if not answer:
        return row
    row |= _scored_answer(engine, q, as_of)
    if compare_spans:  # the same prompt again (cached), the answer held to spans the other way round
        engine.settings.answer_spans = not engine.settings.answer_spans
        try:
            other = _scored_answer(engine, q, as_of)
        finally:
            engine.settings.answer_spans = not engine.settings.answer_spans
        row |= {f"other_{key}": value for key, value in other.items() if key in ("answer", "correct")}
    return row


def _scored_answer(engine, q: dict[str, Any], as_of: date) -> dict[str, Any]:  # noqa: ANN001
    """Ask ``q`` for a short answer and score it against the gold."""
    null = q["question_type"] == "null_query"
    reply = engine.ask(q["query"], as_of=as_of, style="short")
    said = strip_citations(reply.text)
    return {
        "answer": reply.text,
        "abstained": reply.abstained,
        "abstain_reason": reply.abstain_reason,
        "correct": reply.abstained if null else (not reply.abstained and lenient_match(said, q["answer"])),
        "em": None if null else (0.0 if reply.abstained else exact_match(said, q["answer"])),
        "f1": None if null else (0.0 if reply.abstained else token_f1(said, q["answer"])),
        "first_token_ms": reply.timings.first_token_ms,
        "total_ms": reply.timings.total_ms,
    }


def summarize_multihop(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The metrics over per-question rows: Hits@k and MRR (non-null questions), accuracy overall and by
    type, exact match and F1 (non-null), null questions declined, answered-and-right."""
    scored = [r for r in rows if r["type"] != "null_query"]
    asked = [r for r in rows if "correct" in r]
    metrics: dict[str, float | None] = {
        "hits@4": _mean([float(r["hits@4"]) for r in scored]),
        "hits@10": _mean([float(r["hits@10"]) for r in scored]),
        "mrr@10": _mean([r["rr@10"] for r in scored]),
        "accuracy": _mean([float(r["correct"]) for r in asked]),
        "accuracy_other_spans": _mean([float(r["other_correct"]) for r in asked if "other_correct" in r]),
    }
    for kind in TYPES:
        of_kind = [float(r["correct"]) for r in asked if r["type"] == kind]
        metrics[f"accuracy_{kind}"] = _mean(of_kind)
    answerable = [r for r in asked if r["type"] != "null_query"]
    metrics |= {
        "exact_match": _mean([r["em"] for r in answerable]),
        "f1": _mean([r["f1"] for r in answerable]),
        "null_declined": metrics.pop("accuracy_null_query"),
        "answered_right": _mean([float(r["correct"]) for r in answerable]),
        "declined_answerable": _mean([float(r["abstained"]) for r in answerable]),
        "first_token_p50_ms": percentile([r["first_token_ms"] for r in asked if not r["abstained"]], 50),
    }
    counts = {kind: sum(r["type"] == kind for r in rows) for kind in TYPES}
    return {"metrics": metrics, "questions": len(rows), "by_type": counts}


def run_multihop(
    settings: Settings,
    *,
    eval_dir: Path = DEFAULT_EVAL_DIR,
    limit: int | None = None,
    seed: int | None = None,
    scope: str = "full",
    report_dir: Path | None = None,
    echo: Echo = print,
    retrieval_only: bool = False,
    compare_spans: bool = False,
) -> dict[str, Any]:
    """Evaluate on MultiHop-RAG dev: retrieval Hits@4/@10 and MRR@10, then (unless ``retrieval_only``)
    short answers scored by lenient accuracy, exact match and F1 per question type; returns the summary
    (and writes the report when ``report_dir`` is set). ``compare_spans`` also answers each question with
    ``answer_spans`` the other way round (``accuracy_other_spans``)."""
    from qa.answer import Engine

    questions = chosen_questions(eval_dir / "multihop_rag" / "queries_dev.jsonl", seed, limit)
    engine = Engine(settings)
    folder = settings.data_dir
    folder.mkdir(parents=True, exist_ok=True)
    corpus = multihop_corpus(eval_dir, questions, scope, folder)
    started = time.perf_counter()
    report = engine.ingestor().ingest([corpus], progress=True)
    echo(f"index: {report.summary().splitlines()[0]} ({time.perf_counter() - started:.0f} s)")
    as_of = newest_date(corpus)
    rows: list[dict[str, Any]] = []
    keep = partial_writer(report_dir)
    for i, q in enumerate(questions, start=1):
        row = multihop_row(engine, q, as_of, answer=not retrieval_only, compare_spans=compare_spans)
        rows.append(row)
        keep(row)
        said = "" if retrieval_only else f" → {row['answer'][:40]!r} {'✓' if row['correct'] else '✗'}"
        hit = "-" if row["hits@10"] is None else "✓" if row["hits@10"] else "✗"
        echo(
            f"[{i}/{len(questions)}] {row['type'][:4]} H@10 {hit} | {q['query'][:60]}{said} (gold {row['gold']!r})"
        )
    summary = summarize_multihop(rows)
    summary["settings"] = _settings_summary(settings, "none" if retrieval_only else engine.llm.name,
                                            engine.embedder.name)  # fmt: skip
    summary["settings"] |= {"questions": len(rows), "corpus": scope, "seed": seed, "as_of": as_of.isoformat()}
    summary["targets"] = MULTIHOP_TARGETS
    return _finish(summary, rows, report_dir, f"newsqa on MultiHop-RAG (dev, {len(rows)} questions)", echo)


__all__ = ["run_multihop", "summarize_multihop"]
