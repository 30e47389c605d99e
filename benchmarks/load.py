"""``newsqa bench load``: N concurrent chat sessions asking M questions each, bounded in time.

How it drives newsqa: N Python threads over **one shared** ``qa.answer.Engine`` (the way the chat server
uses one engine for every visitor), each thread a session with its own conversation history, calling
``Engine.stream`` exactly as the chat does. It does not go through the Gradio API: that adds HTTP and queue
overhead of its own and the chat serialises generation anyway, while a shared engine is what has to stay
correct when several people ask at once. The LLM is whatever the settings name, or the model server given
with ``--llm-url`` (e.g. ``newsqa model-server``), so several clients really share one loaded model.

Each session asks questions built from the corpus's headlines, alternating a new story and follow-ups that
rely on its own history (a follow-up is rewritten by the LLM from that history). Every question carries the
session's unique tag; the leak check then looks at everything a session gets back (the answer's question,
its rewritten question, its text) and at the history list it passed, and reports a leak if another
session's tag shows up, if the answer is for a different question, or if its history list was changed.

Bounded: each request has a timeout (also the LLM client's silence timeout), and after the overall time
limit no new question starts; requests still running by then are reported, not waited for forever.
"""

from __future__ import annotations

import random
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from index.settings import Settings
from qa.answer import Engine, History
from qa.llm import LLMError
from qa.models import Answer

SAMPLE_DIR = Path(__file__).resolve().parent.parent / "data" / "sample"
FOLLOW_UPS = (
    "What happened next?",
    "Who said that, and when?",
    "Why does it matter?",
    "How did the other side respond?",
)
MODE = (
    "threads over one shared Engine (qa.answer.Engine.stream, as the chat calls it), "
    "each session with its own history; not the Gradio HTTP API"
)


class LoadError(RuntimeError):
    """The load test cannot start (empty index, unreachable LLM, bad arguments)."""


@dataclass
class Request:
    """One question of one session, as the session saw it."""

    session: int
    index: int
    question: str
    follow_up: bool
    first_token_s: float | None = None
    total_s: float | None = None
    answer: Answer | None = None
    error: str | None = None
    timed_out: bool = False

    @property
    def answered(self) -> bool:
        """A finished ``Answer`` arrived (cited, or an honest abstention) within the timeout."""
        return self.answer is not None and self.error is None


@dataclass
class Leak:
    """Something a session saw that was not its own."""

    session: int
    index: int
    where: str
    detail: str


@dataclass
class LoadReport:
    """Figures of one load run."""

    users: int
    questions: int
    llm: str
    requests: list[Request] = field(default_factory=list)
    leaks: list[Leak] = field(default_factory=list)
    wall_s: float = 0.0
    not_run: int = 0
    still_running: int = 0

    @property
    def total(self) -> int:
        """Requests planned: users × questions."""
        return self.users * self.questions

    @property
    def answered(self) -> list[Request]:
        """Requests that got a finished answer."""
        return [r for r in self.requests if r.answered]

    @property
    def errors(self) -> list[Request]:
        """Requests that failed or timed out."""
        return [r for r in self.requests if r.error is not None]

    @property
    def ok(self) -> bool:
        """Every request answered, no error, no leak."""
        return len(self.answered) == self.total and not self.errors and not self.leaks

    def lines(self) -> list[str]:
        """The printed report."""
        answered = self.answered
        cited = sum(1 for r in answered if r.answer and r.answer.citations)
        generated = sum(1 for r in answered if r.answer and r.answer.model)
        rewritten = sum(1 for r in answered if r.answer and r.answer.rewritten_question is not None)
        timeouts = sum(1 for r in self.errors if r.timed_out)
        minutes = self.wall_s / 60
        out = [
            f"mode:              {MODE}",
            f"llm:               {self.llm}",
            f"users:             {self.users}",
            f"questions/user:    {self.questions}",
            f"total requests:    {self.total} ({sum(r.follow_up for r in self.requests)} follow-ups)",
            f"answered:          {len(answered)} ({cited} cited, {len(answered) - cited} abstained; "
            f"{generated} written by the LLM, {rewritten} follow-ups rewritten by it)",
            f"errors:            {len(self.errors)} ({timeouts} timed out)",
            f"not run:           {self.not_run} (time limit)   still running at the end: {self.still_running}",
            f"wall time:         {self.wall_s:.1f} s",
            f"throughput:        {len(answered) / minutes if minutes else 0:.1f} answers/min",
            "first token:       " + _spread([r.first_token_s for r in answered]),
            "full answer:       " + _spread([r.total_s for r in answered]),
            f"history leaks:     {len(self.leaks)}"
            + (
                " (no session saw another's tag; every history list unchanged)"
                if not self.leaks
                else ": "
                + "; ".join(f"session {k.session} q{k.index} {k.where}: {k.detail}" for k in self.leaks[:5])
            ),
        ]
        for r in self.errors[:5]:
            out.append(f"  error session {r.session} q{r.index}: {r.error}")
        return out


def _spread(values: list[float | None]) -> str:
    """``p50 / p95 / max`` in seconds."""
    data = np.array([v for v in values if v is not None], dtype=float)
    if not data.size:
        return "-"
    p50, p95 = np.percentile(data, [50, 95])
    return f"p50 {p50:.2f} s   p95 {p95:.2f} s   max {data.max():.2f} s   (n={data.size})"


def session_tag(session: int) -> str:
    """A tag no other session (and no article) carries: lower case, so no name check reacts to it."""
    return f"u{session:02d}x{secrets.token_hex(4)}"


def plan_questions(
    headlines: list[str], session: int, count: int, tag: str, seed: int = 0
) -> list[tuple[str, bool]]:
    """``count`` (question, is_follow_up) pairs for one session: a headline question, then follow-ups,
    a new headline every third question; each question ends with the session's tag."""
    rng = random.Random(seed * 1000 + session)
    plan = []
    for j in range(count):
        if j % 3 == 0:
            headline = _short(headlines[(session + j // 3) % len(headlines)])
            question, follow_up = f'What is reported in the story "{headline}"?', False
        else:
            question, follow_up = rng.choice(FOLLOW_UPS), True
        plan.append((f"{question} (ref {tag})", follow_up))
    return plan


def _short(headline: str, words: int = 14) -> str:
    parts = headline.replace("…", "").split()
    return " ".join(parts[:words]).rstrip(".,;:")


def find_leaks(session: int, index: int, asked: str, answer: Answer, history: History,
               before: History, own: str, others: list[str]) -> list[Leak]:  # fmt: skip
    """Everything wrong with what one session got back for one question."""
    leaks = []
    if answer.question != asked:
        leaks.append(Leak(session, index, "answer.question", f"answer is for {answer.question!r}"))
    fields = {"rewritten_question": answer.rewritten_question or "", "text": answer.text}
    for where, text in fields.items():
        for tag in others:
            if tag in text:
                leaks.append(Leak(session, index, f"answer.{where}", f"contains another session's tag {tag}"))
    if history != before or any(a is not b for a, b in zip(history, before, strict=False)):
        leaks.append(Leak(session, index, "history", "the history list changed during the request"))
    for k, (q, a) in enumerate(history):
        if own not in q:
            leaks.append(
                Leak(session, index, f"history[{k}]", f"a question without this session's tag: {q!r}")
            )
        for tag in others:
            if tag in q or tag in a:
                leaks.append(Leak(session, index, f"history[{k}]", f"contains another session's tag {tag}"))
    return leaks


def run_load(
    settings: Settings,
    users: int,
    questions: int,
    *,
    request_timeout: float = 600.0,
    time_limit: float = 1800.0,
    llm_url: str | None = None,
    llm_model: str | None = None,
    corpus: list[Path] | None = None,
    style: str = "normal",
    seed: int = 0,
    echo: Callable[[str], None] = print,
) -> LoadReport:
    """Run ``users`` concurrent sessions of ``questions`` questions each and return the figures."""
    if users < 1 or questions < 1:
        raise LoadError("--users and --questions must be at least 1")
    update: dict[str, object] = {"llm_timeout": request_timeout}
    if llm_url:
        update |= {"llm": "openai", "openai_base_url": llm_url,
                   "openai_model": llm_model or settings.openai_model or "newsqa"}  # fmt: skip
    settings = settings.model_copy(update=update)
    engine, llm_name = _ready_engine(settings, corpus, echo)
    headlines = [row.title for row in engine.catalog.rows() if row.title]
    report = LoadReport(users, questions, llm_name)
    sessions = _Sessions(engine, report, headlines, style, seed, request_timeout)
    echo(f"{users} session(s) × {questions} question(s), {MODE}")
    sessions.run(time_limit)
    return report


def _ready_engine(
    settings: Settings, corpus: list[Path] | None, echo: Callable[[str], None]
) -> tuple[Engine, str]:
    """An engine on ``settings`` with articles in its index and a warm LLM, and the LLM's description."""
    engine = Engine(settings)
    if corpus or not engine.catalog.rows():
        paths = corpus or [SAMPLE_DIR]
        echo(f"ingesting {', '.join(map(str, paths))} into {settings.data_dir} first")
        report = engine.ingestor().ingest(paths, progress=False)
        if not engine.catalog.rows():
            raise LoadError(
                f"the index in {settings.data_dir} is still empty after ingesting: {report.summary()}"
            )
    llm_name = (
        f"OpenAI-compatible server at {settings.openai_base_url} (model {settings.openai_model})"
        if settings.llm == "openai"
        else "local llama.cpp in this process"
    )
    echo(f"warming up ({llm_name}) ...")
    try:
        engine.warm_up()
        "".join(engine.llm.stream([{"role": "user", "content": "Say OK."}], max_tokens=2))
    except LLMError as exc:
        raise LoadError(f"the LLM is not usable before the load starts: {exc}") from exc
    return engine, llm_name


class _Sessions:
    """The concurrent sessions of one load run, each a thread asking its planned questions in turn."""

    def __init__(
        self, engine: Engine, report: LoadReport, headlines: list[str], style: str, seed: int,
        request_timeout: float,
    ) -> None:  # fmt: skip
        self.engine, self.report, self.headlines = engine, report, headlines
        self.style, self.seed, self.request_timeout = style, seed, request_timeout
        self.tags = [session_tag(i) for i in range(report.users)]
        self.lock = threading.Lock()
        self.start_line = threading.Barrier(report.users + 1)
        self.stop = threading.Event()

    def session(self, i: int) -> None:
        """Session ``i``: its questions one after another, follow-ups with its own history."""
        report, questions = self.report, self.report.questions
        others = [t for k, t in enumerate(self.tags) if k != i]
        history: History = []
        self.start_line.wait()
        plan = plan_questions(self.headlines, i, questions, self.tags[i], self.seed)
        for j, (asked, follow_up) in enumerate(plan):
            if self.stop.is_set():
                with self.lock:
                    report.not_run += questions - j
                return
            request = Request(i, j, asked, follow_up)
            with self.lock:
                report.requests.append(request)
            before = list(history)
            _ask(self.engine, request, history, self.style, self.request_timeout)
            if request.answer is not None:
                found = find_leaks(i, j, asked, request.answer, history, before, self.tags[i], others)
                with self.lock:
                    report.leaks.extend(found)
                history.append((asked, request.answer.text))

    def run(self, time_limit: float) -> None:
        """Start every session at once, wait up to ``time_limit`` (plus one request timeout for requests
        under way), and record wall time and what was still running."""
        threads = [
            threading.Thread(target=self.session, args=(i,), name=f"session-{i}", daemon=True)
            for i in range(self.report.users)
        ]
        for thread in threads:
            thread.start()
        self.start_line.wait()
        started = time.perf_counter()
        deadline = started + time_limit
        for thread in threads:
            thread.join(timeout=max(0.0, deadline - time.perf_counter()))
        self.stop.set()
        for thread in threads:  # requests under way at the limit: at most one request timeout more
            thread.join(timeout=max(0.0, deadline + self.request_timeout - time.perf_counter()))
        self.report.wall_s = time.perf_counter() - started
        with self.lock:
            self.report.still_running = sum(1 for t in threads if t.is_alive())
            for r in self.report.requests:
                if r.answer is None and r.error is None:
                    r.error, r.timed_out = "still running when the time limit ran out", True


def _ask(engine: Engine, request: Request, history: History, style: str, timeout: float) -> None:
    """Stream one answer into ``request``, timing the first piece and the whole; bounded by ``timeout``."""
    started = time.perf_counter()
    stream = engine.stream(request.question, history=history or None, style=style)  # type: ignore[arg-type]
    try:
        for item in stream:
            elapsed = time.perf_counter() - started
            if isinstance(item, Answer):
                request.answer = item
            elif request.first_token_s is None:
                request.first_token_s = elapsed
            if elapsed > timeout:
                request.error, request.timed_out = f"no full answer within {timeout:.0f} s", True
                return
        request.total_s = time.perf_counter() - started
        if request.answer is None:
            request.error = "the answer stream ended without an Answer"
    except LLMError as exc:
        request.error = str(exc)
    except Exception as exc:  # noqa: BLE001 - a load test reports every failure instead of stopping
        request.error = f"{type(exc).__name__}: {exc}"
    finally:
        stream.close()
