"""One browser session's conversation: its exchanges, and the chat messages and history made from them.

Each exchange keeps what the page shows for it: the question and the options it was searched with, the
answer (streamed, then final) or a story's timeline, the standalone form of a follow-up, and its Sources
panel, so that selecting an earlier answer can show that answer's sources again.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from qa.models import Answer
from qa.timeline import Timeline
from qa.ui.safe import escape_chat, escape_md
from qa.ui.sources import link_citations, message_html, sources_html
from qa.ui.timeline_view import timeline_brief, timeline_markdown, timeline_sources_html

T = TypeVar("T")
Message = dict[str, str]  # a gr.Chatbot message: {"role": "user" | "assistant", "content": "..."}


@dataclass
class Exchange:
    """A question and what became of it."""

    question: str
    options: str = ""  # the filters it was searched with, in words
    text: str = ""  # the answer so far (streaming), then the final answer text
    reply: str = ""  # a finished reply that is not answer text (a timeline), as chat Markdown
    rewritten: str | None = None  # the standalone form of a follow-up
    cited: list[int] = field(default_factory=list)
    panel: str = ""  # the Sources panel HTML for this answer
    finished: bool = False  # a complete answer (part of the history for follow-ups)
    note: str = ""  # why it is unfinished: stopped, or an error
    stop_requested: bool = False  # set by the Stop / Clear buttons; the answer stream checks it
    record: dict[str, Any] = field(default_factory=dict)  # what feedback stores: answer, options, settings

    SAVED: ClassVar[tuple[str, ...]] = (
        "question",
        "options",
        "text",
        "reply",
        "rewritten",
        "cited",
        "panel",
        "finished",
        "note",
        "record",
    )

    def to_dict(self) -> dict[str, Any]:
        """What a saved conversation keeps of this exchange (JSON-ready; an answer being written is saved
        as stopped, which is what a reopened conversation shows of it)."""
        data = {name: getattr(self, name) for name in self.SAVED}
        if not self.finished and not self.note:
            data["note"] = "not finished when the conversation was saved"
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Exchange:
        """An exchange of a reopened conversation (unknown keys are ignored)."""
        return cls(**{name: data[name] for name in cls.SAVED if name in data})

    def finish(self, answer: Answer, turn: int) -> None:
        """Record the final answer: its text, citations, rewritten question and Sources panel."""
        self.text = answer.text
        self.cited = [c.n for c in answer.citations]
        self.rewritten = answer.rewritten_question
        self.panel = sources_html(answer, turn)
        self.finished = True

    def finish_timeline(self, timeline: Timeline, turn: int, rewritten: str | None = None) -> None:
        """Record a timeline reply: the timeline in the chat, its entries as the Sources panel's cards, and a
        short form of it for the history a later follow-up is rewritten with."""
        self.text = timeline_brief(timeline)
        self.reply = timeline_markdown(timeline, turn)
        self.cited = [entry.n for entry in timeline.entries]
        self.rewritten = rewritten
        self.panel = timeline_sources_html(timeline, turn, self.question, rewritten)
        self.finished = True

    def interrupt(self, note: str) -> None:
        """Mark the exchange unfinished (stopped by the user, or failed) and say so in the panel."""
        self.note = note
        self.panel = message_html(f"No sources: {note}")

    def user_message(self) -> Message:
        """The question, with a small line of the options it was searched with (and its rewritten form)."""
        meta = self.options
        if self.rewritten and self.rewritten.strip() != self.question.strip():
            meta = f"{meta} · searched as: {self.rewritten}" if meta else f"searched as: {self.rewritten}"
        content = escape_chat(self.question)
        if meta:
            content += f'\n\n<small class="nq-asked">{escape_md(meta)}</small>'
        return {"role": "user", "content": content}

    def assistant_message(self, turn: int) -> Message:
        """The answer with ``[n]`` links to its cards (or the partial text and why it stopped)."""
        if self.finished:
            return {"role": "assistant", "content": self.reply or link_citations(self.text, turn, self.cited)}
        text = escape_chat(self.text.strip())
        if self.note:
            text = f"{text}\n\n_({escape_md(self.note)})_" if text else f"_({escape_md(self.note)})_"
        return {"role": "assistant", "content": text or "…"}


def chat_messages(conversation: list[Exchange]) -> list[Message]:
    """Chatbot messages: a user and an assistant message per exchange."""
    messages: list[Message] = []
    for turn, exchange in enumerate(conversation):
        messages += [exchange.user_message(), exchange.assistant_message(turn)]
    return messages


def history(conversation: list[Exchange]) -> list[tuple[str, str]]:
    """(question, answer) pairs of the finished exchanges, for rewriting a follow-up."""
    return [(e.question, e.text) for e in conversation if e.finished]


def selected_turn(index: object, conversation: list[Exchange]) -> int | None:
    """The exchange a selected chat message belongs to (``index`` as Gradio reports it), if known."""
    if isinstance(index, list | tuple):
        index = index[0] if index else None
    if not isinstance(index, int) or index < 0:
        return None
    turn = index // 2
    return turn if turn < len(conversation) else None


def run_stream(items: Iterator[T], should_stop: Callable[[], bool], read_ahead: int = 16) -> Iterator[T]:
    """Iterate ``items`` in a worker thread and yield what it produces until ``should_stop()`` is true;
    the worker then stops taking items and closes ``items`` (for an answer: the LLM request is closed, so
    the model stops writing instead of finishing an answer nobody reads). Errors are re-raised here."""
    out: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=read_ahead)

    def put(entry: tuple[str, Any]) -> bool:
        while not should_stop():
            try:
                out.put(entry, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for item in items:
                if not put(("item", item)):
                    break
            else:
                put(("done", None))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            put(("error", exc))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    threading.Thread(target=work, name="newsqa-answer", daemon=True).start()
    while not should_stop():
        try:
            kind, value = out.get(timeout=0.2)
        except queue.Empty:
            continue
        if kind == "done":
            return
        if kind == "error":
            raise value
        yield value
