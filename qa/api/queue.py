"""One question at a time for the HTTP API, in arrival order, as the chat does (its generation event has a
concurrency limit of 1): the local model is one llama.cpp slot, and an answer's rewrite, search and
generation run as one turn. Each request waits for its turn in a worker thread; the answer's pieces
reach the request's coroutine through an asyncio queue, so waiting costs the event loop nothing.

The line is bounded: behind the question being answered at most ``max_waiting`` wait (the setting
``NEWSQA_API_MAX_WAITING``; unset, as many as the measured mean answer time gets through in about
``WAIT_TARGET_S``). A question that finds the line full is refused at once with :class:`LineFull`, which
says when to come back (the API answers 503 with ``Retry-After``), instead of waiting minutes with no word.

A request whose client goes away gives up its place in the line, or, when already answering, stops the
answer (the LLM request is closed, so the model stops writing): the request's coroutine is closed, or it
notices the disconnect itself (``gone``), which a plain, non-streamed request needs.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from qa.answer import Engine
from qa.models import Answer, Reading

WAIT_TARGET_S = 120.0  # about the longest a question admitted to the line should wait for its turn
PRIOR_ANSWER_S = 15.0  # the mean answer time assumed until one is measured (the 1.5B model on 2 cores)
MEASURED_ANSWERS = 20  # the mean answer time is over the last this many answers
MAX_AUTO_WAITING = 100  # the derived limit never exceeds this (each waiting question holds a thread)
_POLL = 0.2  # seconds between two looks at a waiting request's stop flag, or at its client

Gone = Callable[[], Awaitable[bool]]  # whether the request's client went away (``Request.is_disconnected``)


def auto_max_waiting(mean_answer_s: float) -> int:
    """The default limit: as many questions as are answered in about ``WAIT_TARGET_S`` at
    ``mean_answer_s`` each, at least 1 and at most ``MAX_AUTO_WAITING``."""
    return max(1, min(MAX_AUTO_WAITING, int(WAIT_TARGET_S // max(mean_answer_s, 0.1))))


def retry_after(mean_answer_s: float) -> int:
    """Seconds to tell a turned-away client (``Retry-After``): one mean answer time, at least 1."""
    return max(1, math.ceil(mean_answer_s))


class LineFull(Exception):
    """The line is full: the question was not queued. ``retry_after`` is in seconds."""

    def __init__(self, waiting: int, limit: int, mean_answer_s: float, auto: bool) -> None:
        self.waiting, self.limit, self.retry_after = waiting, limit, retry_after(mean_answer_s)
        each = f"{mean_answer_s:.1f}" if mean_answer_s < 10 else f"{mean_answer_s:.0f}"
        why = (
            f"the most that are answered in about {WAIT_TARGET_S / 60:.0f} minutes at {each} s an answer "
            "(NEWSQA_API_MAX_WAITING sets another limit)"
            if auto
            else "the most NEWSQA_API_MAX_WAITING allows"
        )
        super().__init__(
            f"newsqa is busy: {waiting} question(s) are waiting behind the one being answered, {why}. "
            f"Try again in {self.retry_after} s."
        )


class ClientGone(Exception):
    """The request's client went away before its answer was finished."""


@dataclass(frozen=True)
class LineState:
    """The line as it is now, and what it has done since the server started."""

    answering: int  # 0 or 1
    waiting: int  # behind the one being answered
    max_waiting: int  # the limit now (fixed, or derived from mean_answer_s)
    auto: bool  # whether max_waiting is derived (NEWSQA_API_MAX_WAITING unset)
    mean_answer_s: float | None  # over the last MEASURED_ANSWERS answers; None before the first
    retry_after_s: int  # what a question turned away now is told
    answered: int
    turned_away: int


class AnswerQueue:
    """Answers questions with one engine, one at a time, first come first served, in a bounded line."""

    def __init__(self, engine: Engine, max_waiting: int | None = None) -> None:
        self.engine = engine
        self.max_waiting = max_waiting  # None: derived from the measured answer time
        self._line: deque[object] = deque()  # waiting, first in line first
        self._current: object | None = None  # the ticket being answered
        self._times: deque[float] = deque(maxlen=MEASURED_ANSWERS)
        self._answered = self._turned_away = 0
        self._changed = threading.Condition()

    @property
    def waiting(self) -> int:
        """Questions waiting for their turn (not counting the one being answered)."""
        with self._changed:
            return len(self._line)

    def _mean(self) -> float | None:
        return sum(self._times) / len(self._times) if self._times else None

    def _limit(self) -> int:
        if self.max_waiting is not None:
            return self.max_waiting
        return auto_max_waiting(self._mean() or PRIOR_ANSWER_S)

    def state(self) -> LineState:
        """The line's length, its limit and the mean answer time (for ``/healthz`` and ``/v1/stats``)."""
        with self._changed:
            mean = self._mean()
            return LineState(
                answering=int(self._current is not None),
                waiting=len(self._line),
                max_waiting=self._limit(),
                auto=self.max_waiting is None,
                mean_answer_s=None if mean is None else round(mean, 2),
                retry_after_s=retry_after(mean or PRIOR_ANSWER_S),
                answered=self._answered,
                turned_away=self._turned_away,
            )

    def _admit(self, ticket: object) -> None:
        """Put ``ticket`` at the end of the line, or raise ``LineFull`` (it would wait past the limit)."""
        with self._changed:
            ahead = len(self._line) + (self._current is not None)
            limit = self._limit()
            if ahead > limit:  # it would be the (limit + 1)th waiting behind the one being answered
                self._turned_away += 1
                mean = self._mean() or PRIOR_ANSWER_S
                raise LineFull(len(self._line), limit, mean, self.max_waiting is None)
            self._line.append(ticket)

    def _leave(self, ticket: object) -> None:
        """Take ``ticket`` out of the line if it is still waiting (its client went away)."""
        with self._changed:
            if ticket in self._line:
                self._line.remove(ticket)
                self._changed.notify_all()

    def _wait_turn(self, ticket: object, stop: threading.Event) -> bool:
        """Wait until ``ticket`` is first and the model free, and take the turn; False (and out of the
        line) if ``stop`` is set or it left the line meanwhile."""
        with self._changed:
            while ticket in self._line:
                if stop.is_set():
                    self._line.remove(ticket)
                    self._changed.notify_all()
                    return False
                if self._current is None and self._line[0] is ticket:
                    self._line.popleft()
                    self._current = ticket
                    return True
                self._changed.wait(_POLL)
            return False

    def _end_turn(self, ticket: object, seconds: float | None) -> None:
        """Release the turn; ``seconds`` is the answer's time when it was finished (not stopped, no error)."""
        with self._changed:
            if self._current is ticket:
                self._current = None
            if seconds is not None:
                self._times.append(seconds)
                self._answered += 1
            self._changed.notify_all()

    def _answer(
        self, ticket: object, question: str, options: dict[str, Any], stop: threading.Event, send: Any
    ) -> None:
        """The worker: wait for the turn, stream the answer into ``send``, then release the turn."""
        try:
            if not self._wait_turn(ticket, stop):
                return
            started, finished = time.monotonic(), False
            try:
                items = self.engine.stream(question, **options)
                try:
                    for item in items:
                        if stop.is_set():
                            break
                        send(("item", item))
                        finished = isinstance(item, Answer)
                finally:
                    items.close()  # a stopped answer closes its LLM request
            finally:
                self._end_turn(ticket, time.monotonic() - started if finished else None)
            send(("done", None))
        except Exception as exc:  # noqa: BLE001 - handed to the request's coroutine
            send(("error", exc))

    async def events(
        self, question: str, *, gone: Gone | None = None, **options: Any
    ) -> AsyncIterator[str | Reading | Answer]:
        """The answer's text pieces as the model writes them, then the ``Answer`` (see ``Engine.stream``;
        with ``sources_first=True`` a ``Reading`` comes first).
        Raises ``LineFull`` at once when the line is full, an engine error when it fails, and
        ``ClientGone`` when ``gone()`` says the client left (it is asked every ``_POLL`` s of silence)."""
        ticket = object()
        self._admit(ticket)
        loop = asyncio.get_running_loop()
        out: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        stop = threading.Event()

        def send(entry: tuple[str, Any]) -> None:
            with suppress(RuntimeError):  # the server is shutting down: nobody reads any more
                loop.call_soon_threadsafe(out.put_nowait, entry)

        worker = threading.Thread(
            target=self._answer, args=(ticket, question, options, stop, send), name="newsqa-api-answer",
            daemon=True,
        )  # fmt: skip
        worker.start()
        getter: asyncio.Future[tuple[str, Any]] | None = None
        try:
            while True:
                getter = getter or asyncio.ensure_future(out.get())
                done, _ = await asyncio.wait({getter}, timeout=_POLL if gone else None)
                if not done:
                    if gone is not None and await gone():
                        raise ClientGone("the client went away before the answer was finished")
                    continue
                kind, value = getter.result()
                getter = None
                if kind == "done":
                    return
                if kind == "error":
                    raise value
                yield value
        finally:
            stop.set()
            self._leave(ticket)  # at once, not at the worker's next look
            if getter is not None:
                getter.cancel()

    async def answer(self, question: str, *, gone: Gone | None = None, **options: Any) -> Answer:
        """The finished ``Answer`` (see ``events``)."""
        final = None
        async for item in self.events(question, gone=gone, **options):
            if isinstance(item, Answer):
                final = item
        assert final is not None
        return final
