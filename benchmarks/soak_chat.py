"""The soak's chat sessions and Library deletions, sent the way the chat page sends them: Gradio's own HTTP
protocol (``/gradio_api/run/predict`` for the instant events, ``/gradio_api/queue/join`` then the
``/gradio_api/queue/data`` event stream for the queued ones), the events found by name in ``/config``. No
browser: a session is a thread, so several fit beside the model on two cores.

A question is what a click on Send does: ``take_question`` (the box is emptied), ``respond`` (queued behind
the other sessions' answers; the stream reports the session's place while it waits, then the answer's
text), ``save``. A Library deletion is ``delete_selected`` with the article's id.
"""

from __future__ import annotations

import json
import random
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

from benchmarks.soak_api import TIMEOUT, Clock
from benchmarks.soak_report import Outcome, Tally

QUESTIONS_PER_VISIT = 3  # a session starts a new conversation (a new visitor) after this many questions
WAITED_S = 0.5  # a question whose answer started later than this after it was sent waited its turn


class ChatPage:
    """The chat page at ``base``: its events by name, called as the browser calls them."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = httpx.Client(timeout=TIMEOUT, trust_env=False)
        config = self.http.get(f"{base}/config").json()
        self.events = {d["api_name"]: d for d in config["dependencies"]}

    def close(self) -> None:
        """Close the connections."""
        self.http.close()

    def _body(self, name: str, data: list[Any], session: str) -> dict[str, Any]:
        event = self.events[name]
        trigger = event["targets"][0][0] if event["targets"] else None
        return {"data": data, "fn_index": event["id"], "session_hash": session, "event_data": None,
                "trigger_id": trigger}  # fmt: skip

    def run(self, name: str, data: list[Any], session: str) -> Any:
        """An instant (not queued) event; its outputs."""
        reply = self.http.post(f"{self.base}/gradio_api/run/predict", json=self._body(name, data, session))
        reply.raise_for_status()
        return reply.json()["data"]

    def queued(
        self,
        name: str,
        data: list[Any],
        session: str,
        seen: Callable[[dict[str, Any]], None] = lambda m: None,
    ) -> dict[str, Any] | None:
        """A queued event: join the queue, follow its messages (each given to ``seen``) and return the
        ``process_completed`` one (None if the stream ended without it)."""
        joined = self.http.post(f"{self.base}/gradio_api/queue/join", json=self._body(name, data, session))
        joined.raise_for_status()
        event_id = joined.json()["event_id"]
        url = f"{self.base}/gradio_api/queue/data"
        with self.http.stream("GET", url, params={"session_hash": session}) as stream:
            for line in stream.iter_lines():
                if not line.startswith("data:"):
                    continue
                message = json.loads(line[5:])
                if message.get("event_id") not in (None, event_id):
                    continue
                seen(message)
                if message.get("msg") == "process_completed":
                    return message
        return None


def chat_kind(completed: dict[str, Any] | None) -> str:
    """The outcome kind of a ``respond`` event's last message."""
    if completed is None:
        return "incomplete"
    if not completed.get("success"):
        return "server_error"
    text = json.dumps(completed.get("output", {}), ensure_ascii=False)
    if "the language model failed" in text:
        return "llm_unavailable"
    return "server_error" if "something went wrong" in text else "answered"


class ChatSession:
    """One visitor after another at the chat page, asking until ``stop`` is set."""

    def __init__(
        self, number: int, base: str, tally: Tally, clock: Clock, stop: threading.Event,
        question: Callable[[random.Random], str],
    ) -> None:  # fmt: skip
        self.base, self.tally, self.clock, self.stop, self.question = base, tally, clock, stop, question
        self.rng = random.Random(1000 + number)
        self.highest_place = 0  # the highest place in the queue this session was shown
        self.waited = self.shown_place = 0  # questions that waited their turn; those shown their place

    def run(self) -> None:
        """Ask until stopped; a new conversation every ``QUESTIONS_PER_VISIT`` questions."""
        page = ChatPage(self.base)
        try:
            asked = 0
            session = secrets.token_hex(6)
            while not self.stop.is_set():
                if asked and asked % QUESTIONS_PER_VISIT == 0:
                    session = secrets.token_hex(6)
                self.tally.add(self.ask_once(page, session))
                asked += 1
                self.stop.wait(self.rng.uniform(0.5, 2.0))
        finally:
            page.close()

    def ask_once(self, page: ChatPage, session: str) -> Outcome:
        """One question as Send asks it; its outcome."""
        started, generating, first, place = time.monotonic(), 0, None, None

        def seen(message: dict[str, Any]) -> None:
            nonlocal generating, first, place
            if message.get("msg") == "estimation" and message.get("rank") is not None:
                place = int(message["rank"]) + 1
                self.highest_place = max(self.highest_place, place)
            if message.get("msg") == "process_starts" and time.monotonic() - started > WAITED_S:
                self.waited += 1
                self.shown_place += place is not None
            if message.get("msg") == "process_generating":
                generating += 1
                if generating == 2 and first is None:  # the first shows the question; then the text
                    first = time.monotonic() - started

        try:
            page.run("take_question", [self.question(self.rng)], session)
            completed = page.queued("respond", [None, None, None, None, None, None, 4], session, seen)
            if completed is not None and completed.get("success"):
                page.run("save", [None, None], session)
            kind, detail = chat_kind(completed), ""
        except httpx.TimeoutException as exc:
            kind, detail = "timeout", type(exc).__name__
        except httpx.HTTPError as exc:
            kind, detail = "transport", f"{type(exc).__name__}: {exc}"
        return Outcome("chat", kind, self.clock(), first, None, detail)


def delete_one(page: ChatPage, api: httpx.Client, outlet: str) -> str | None:
    """Delete an article of ``outlet`` (the last one listed) with the Library tab's delete; its id, or None
    when there was none or the page did not delete it."""
    found = api.get("/v1/articles", params={"q": outlet, "per_page": 500}).json()["articles"]
    if not found:
        return None
    article = found[-1]["id"]  # newest first
    completed = page.queued("delete_selected", [article], secrets.token_hex(6))
    done = completed is not None and completed.get("success") and "Deleted" in json.dumps(completed["output"])
    return article if done else None
