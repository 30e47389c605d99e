"""One question at a time for the HTTP API, in arrival order, as the chat does (its generation event has a
concurrency limit of 1): the local model is one llama.cpp slot, and an answer's rewrite, search and
generation run as one turn. Each request waits for its turn in a worker thread; the answer's pieces
reach the request's coroutine through an asyncio queue, so waiting costs the event loop nothing.

A request whose client goes away gives up its place in the line, or, when already answering, stops the
answer (the LLM request is closed, so the model stops writing).
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import AsyncIterator
from contextlib import suppress
from typing import Any

from qa.answer import Engine
from qa.models import Answer

_POLL = 0.2  # seconds between two looks at a waiting request's stop flag


class AnswerQueue:
    """Answers questions with one engine, one at a time, first come first served."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._line: deque[object] = deque()
        self._changed = threading.Condition()

    @property
    def waiting(self) -> int:
        """Questions being answered or waiting for their turn."""
        with self._changed:
            return len(self._line)

    def _wait_turn(self, ticket: object, stop: threading.Event) -> bool:
        """Queue ``ticket`` and wait until it is first; False (and out of the line) if ``stop`` is set."""
        with self._changed:
            self._line.append(ticket)
            while self._line[0] is not ticket:
                if stop.is_set():
                    self._line.remove(ticket)
                    self._changed.notify_all()
                    return False
                self._changed.wait(_POLL)
            return True

    def _end_turn(self, ticket: object) -> None:
        with self._changed:
            self._line.remove(ticket)
            self._changed.notify_all()

    def _answer(self, question: str, options: dict[str, Any], stop: threading.Event, send: Any) -> None:
        """The worker: wait for the turn, stream the answer into ``send``, then release the turn."""
        ticket = object()
        try:
            if not self._wait_turn(ticket, stop):
                return
            try:
                items = self.engine.stream(question, **options)
                try:
                    for item in items:
                        if stop.is_set():
                            break
                        send(("item", item))
                finally:
                    items.close()  # a stopped answer closes its LLM request
            finally:
                self._end_turn(ticket)
            send(("done", None))
        except Exception as exc:  # noqa: BLE001 - handed to the request's coroutine
            send(("error", exc))

    async def events(self, question: str, **options: Any) -> AsyncIterator[str | Answer]:
        """The answer's text pieces as the model writes them, then the ``Answer`` (see ``Engine.stream``);
        an error of the engine is raised here."""
        loop = asyncio.get_running_loop()
        out: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        stop = threading.Event()

        def send(entry: tuple[str, Any]) -> None:
            with suppress(RuntimeError):  # the server is shutting down: nobody reads any more
                loop.call_soon_threadsafe(out.put_nowait, entry)

        worker = threading.Thread(
            target=self._answer, args=(question, options, stop, send), name="newsqa-api-answer", daemon=True
        )
        worker.start()
        try:
            while True:
                kind, value = await out.get()
                if kind == "done":
                    return
                if kind == "error":
                    raise value
                yield value
        finally:
            stop.set()

    async def answer(self, question: str, **options: Any) -> Answer:
        """The finished ``Answer`` (see ``events``)."""
        final = None
        async for item in self.events(question, **options):
            if isinstance(item, Answer):
                final = item
        assert final is not None
        return final
