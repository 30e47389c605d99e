"""``newsqa bench typeahead``: the first answer token after Enter, with and without reading while typing.

Each question is typed into a ``qa.readahead.TypeAhead`` (the chat's own code path) at ``cps`` characters
per second — steadily, or with a pause after each word — then "Enter" answers it with the passage order the
read-ahead used (``Engine.stream(prepared=...)``), exactly as the chat does. The same questions are
answered cold (nobody typed them) by a second, fresh llama.cpp server in the same run, so neither pass
finds the other's prompts in the server's prompt cache. Printed: the read-ahead hit rate (the final search
found the passages read ahead), prompt tokens reused (``cache_n``) and read fresh (``prompt_n``) after
Enter, first token p50/p95 both ways, and how many answers are the same text both ways (temperature 0).

Questions: the RealTime QA dev questions (``--eval-dir``; as of each question's date, as the chat's As-of
box would be set), or ``--sample``: the sample corpus's questions over ``data/sample``.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from index.parse import normalize_date
from index.settings import Settings

SAMPLE_QUESTIONS = [
    "What did Putin warn Biden about?",
    "Where will the US–Russia talks be held?",
    "What are the three negotiation tracks?",
    "When did Biden and Putin speak on the phone?",
    "What did Biden tell Putin about Ukraine?",
]


@dataclass
class Typed:
    """One question answered after Enter: timings, tokens and the answer text."""

    question: str
    first_token_s: float | None
    prompt_tokens: int | None
    cached_tokens: int | None
    text: str
    chunks: list[str] = field(default_factory=list)  # the passages the final search found
    hit: bool | None = None  # the final search found the passages read ahead (None: nothing was read)
    read_aheads: int = 0
    tokens_read_ahead: int = 0


@dataclass
class Pass:
    """All questions one way (cold, or typed)."""

    name: str
    rows: list[Typed] = field(default_factory=list)

    def first_tokens(self) -> list[float]:
        return [r.first_token_s for r in self.rows if r.first_token_s is not None]


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def questions_from(eval_dir: Path | None, limit: int, sample: bool) -> list[tuple[str, str | None]]:
    """(question, as of) pairs: the sample's, or the first ``limit`` RealTime QA dev questions."""
    if sample:
        return [(q, None) for q in SAMPLE_QUESTIONS[:limit]]
    assert eval_dir is not None
    rows = [json.loads(line) for line in (eval_dir / "realtimeqa" / "queries_dev.jsonl").open()][:limit]
    return [(r["query"], normalize_date(r["question_date"])) for r in rows]


def _answer(engine: Any, question: str, as_of: str | None, prepared: Any) -> Typed:  # noqa: ANN401
    """Answer as the chat does after Enter, timing the first text piece."""
    from qa.models import Answer

    started = time.perf_counter()
    first = None
    answer = None
    for item in engine.stream(question, as_of=as_of, sources_first=True, prepared=prepared):
        if isinstance(item, str) and first is None and item.strip():
            first = time.perf_counter() - started
        if isinstance(item, Answer):
            answer = item
    assert answer is not None
    if answer.abstained and first is None:
        first = None  # declined before the model: no first token to time
    t = answer.timings
    return Typed(
        question, first, t.prompt_tokens, t.cached_tokens, answer.text, [p.chunk_id for p in answer.retrieved]
    )


def _type(typeahead: Any, question: str, as_of: str | None, cps: float, pauses: float) -> None:  # noqa: ANN401
    """Type ``question`` into ``typeahead`` at ``cps`` characters per second (and ``pauses`` s after words)."""
    for i in range(1, len(question) + 1):
        typeahead.typed(question[:i], as_of=as_of)
        time.sleep(1 / cps + (pauses if question[i - 1] == " " else 0.0))


def _while_another_types(engine: Any, question: str, as_of: str | None, other: str, cps: float) -> Typed:  # noqa: ANN401
    """User B asks ``question`` cold 3 s into user A typing ``other`` (A's read-aheads running)."""
    import threading

    from qa.readahead import TypeAhead

    typeahead = TypeAhead(engine)
    typist = threading.Thread(target=_type, args=(typeahead, other, as_of, cps, 0.0), daemon=True)
    typist.start()
    time.sleep(3.0)
    row = _answer(engine, question, as_of, None)
    typist.join()
    typeahead.close()
    return row


def run_typeahead(
    settings: Settings, questions: list[tuple[str, str | None]], *, cps: float = 6.0, pauses: float = 0.0,
    two_users: bool = False, echo: Callable[[str], None] = print,
) -> list[Pass]:  # fmt: skip
    """The cold pass, then the typed pass (and with ``two_users`` a pass where each question is asked
    cold while another user types the next one), each with its own fresh llama.cpp server."""
    from qa.answer import Engine
    from qa.llm import _start_local
    from qa.readahead import TypeAhead

    passes = []
    for name in ("cold", "typed", "two users")[: 3 if two_users else 2]:
        engine = Engine(settings, llm=_start_local(settings))
        engine.warm_up()
        engine.answer_from("Say hello.", [])  # the fixed prefix (system text, example), cached as in use
        result = Pass(name)
        for i, (question, as_of) in enumerate(questions, start=1):
            if name == "cold":
                row = _answer(engine, question, as_of, None)
            elif name == "two users":
                row = _while_another_types(engine, question, as_of, questions[i % len(questions)][0], cps)
            else:
                done: list[Any] = []
                typeahead = TypeAhead(engine, on_done=done.append)
                _type(typeahead, question, as_of, cps, pauses)
                prepared = typeahead.enter(question)
                typeahead.close()
                row = _answer(engine, question, as_of, prepared)
                row.hit = None if prepared is None else sorted(row.chunks) == sorted(prepared.order)
                row.read_aheads = len(done)
                row.tokens_read_ahead = sum(d.prefilled.read for d in done)
            result.rows.append(row)
            echo(
                f"[{name} {i}/{len(questions)}] first token {row.first_token_s or 0:.2f} s, prompt "
                f"{row.prompt_tokens} fresh / {row.cached_tokens} cached"
                + (
                    f", {row.read_aheads} read-aheads ({row.tokens_read_ahead} tokens)"
                    if name == "typed"
                    else ""
                )
                + f" | {question[:60]}"
            )
        passes.append(result)
        del engine
    return passes


def cpu_name() -> str:
    """The CPU's model name (from /proc/cpuinfo; ``platform.processor()`` elsewhere) and its core count."""
    import os
    import platform

    name = platform.processor() or "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    return f"{name}, {len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()} cores"


def report(passes: list[Pass], cpu: str) -> list[str]:
    """The figures, side by side."""
    cold, typed = passes[0], passes[1]
    lines = [f"CPU: {cpu}", f"questions: {len(cold.rows)}"]
    for p in passes:
        firsts = p.first_tokens()
        fresh = [r.prompt_tokens for r in p.rows if r.prompt_tokens is not None]
        cached = [r.cached_tokens for r in p.rows if r.cached_tokens is not None]
        p50, p95 = _percentile(firsts, 50), _percentile(firsts, 95)
        lines.append(
            f"{p.name:>5}: first token after Enter p50 {p50 or 0:.2f} s, p95 {p95 or 0:.2f} s "
            f"({len(firsts)} answered by the model); prompt tokens fresh median "
            f"{statistics.median(fresh) if fresh else '-'}, cached median {statistics.median(cached) if cached else '-'}"
        )
    read = [r for r in typed.rows if r.hit is not None]
    hits = sum(1 for r in read if r.hit)
    lines.append(
        f"read ahead before Enter: {len(read)}/{len(typed.rows)}; final search found the same passages: {hits}/{len(read)}"
    )
    same = sum(1 for a, b in zip(cold.rows, typed.rows, strict=True) if a.text == b.text)
    lines.append(f"same answer text cold and typed: {same}/{len(cold.rows)}")
    if len(passes) > 2:
        later = [
            b.first_token_s - a.first_token_s
            for a, b in zip(cold.rows, passes[2].rows, strict=True)
            if a.first_token_s is not None and b.first_token_s is not None
        ]
        lines.append(
            f"asked while another user types: first token later than cold by p50 {_percentile(later, 50) or 0:.2f} s, "
            f"max {max(later, default=0):.2f} s"
        )
    return lines
