"""Reading the articles while the question is typed.

The prompt is built passages first, question last (``qa.prompt``), so everything but the question's own
tokens can be read by llama.cpp before Enter. While a person types, :class:`TypeAhead` runs the search on
what is typed so far (every ``every`` seconds while keys keep coming, and at each pause of ``pause``
seconds, once it holds ``min_words`` content words) and has the model read the prompt up to the question
(:func:`read_ahead`, ``OpenAICompatibleLLM.prefill``). On Enter the answer searches again on the final
question; when it finds the same passages it takes them as they were read ahead, in that order and cut
(``Engine.stream(..., prepared=...)``), so the prompt is the one already read up to the question, and only
the question is read fresh. Newer text supersedes an older read-ahead; an answer being written stops any read-ahead at its
next piece (one llama.cpp slot serves everyone, and answers go first). The chat, ``POST /v1/prefill`` and
``newsqa bench typeahead`` all go through this module.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from qa.cite import content_words
from qa.dates import to_date, to_iso
from qa.llm import Prefilled, supports_prefill
from qa.models import Prepared
from qa.prompt import build_messages

if TYPE_CHECKING:
    from qa.answer import Engine

log = logging.getLogger(__name__)

MARKER = "\u2063newsqa-question\u2063"  # where the question will stand (invisible separators, never typed)
EVERY_S = 1.0  # while keys keep coming, read ahead at most this often
PAUSE_S = 0.5  # ...and at each pause this long
MIN_WORDS = 2  # content words before the first read-ahead
SHARED = "Passages:\n\n"  # the last one in the prompt ends the part every prompt has (qa.prompt.user_turn)


@dataclass
class ReadAhead:
    """One read-ahead: the text it searched for, the passages it read (in prompt order, as cut), what the
    model did, and how long it took."""

    question: str
    prepared: Prepared
    prefilled: Prefilled
    seconds: float
    retrieve_s: float = 0.0


def read_ahead(
    engine: Engine,
    question: str,
    *,
    should_stop: Callable[[], bool] = lambda: False,
    since: date | str | None = None,
    until: date | str | None = None,
    outlets: list[str] | str | None = None,
    as_of: date | str | None = None,
    top_k: int | None = None,
    style: str = "normal",
    planned: Callable[[Prepared], None] | None = None,
    previous: Prepared | None = None,
    **_ignored: Any,
) -> ReadAhead | None:
    """Search for ``question`` as ``Engine.stream`` would and have the model read the prompt up to the
    question; None when there is nothing to read (``read_ahead`` off, no llama.cpp server, too few words, a
    question the engine would decline without the model, or a "what's new" question). ``planned`` hears the passages
    before the model starts reading them. When the search finds the chunks of ``previous`` (an earlier
    read-ahead of the same box), they are kept as they were cut, so the reading goes on where it stopped."""
    if not engine.settings.read_ahead or len(content_words(question)) < MIN_WORDS:
        return None
    if not supports_prefill(engine.llm):
        return None
    started = time.perf_counter()
    day = to_date(as_of, "as_of") or date.today()
    since, until = to_iso(since, "since"), to_iso(until, "until")
    engine.refresh()
    plan = engine.plan(question, None, day, since, until, outlets, top_k or engine.settings.top_k)
    if plan.new_since or plan.declined:
        log.debug("no read-ahead for %r: %s", question, plan.declined or "a what's-new question")
        return None
    passages = plan.passages
    if previous is not None and sorted(p.chunk_id for p in passages) == sorted(previous.order):
        prepared = previous
    else:
        prepared = Prepared(
            [p.chunk_id for p in passages], engine.cut(question, passages, engine.settings.context_tokens)
        )
    retrieved = time.perf_counter() - started
    if planned:
        planned(prepared)
    messages = build_messages(MARKER, prepared.shown, style=style, as_of=day.isoformat())
    done = engine.llm.prefill(messages, marker=MARKER, shared=SHARED, should_stop=should_stop)  # type: ignore[attr-defined]
    log.debug("read ahead for %r: %s in %.2f s", question, done, time.perf_counter() - started)
    return ReadAhead(question, prepared, done, time.perf_counter() - started, retrieved)


@dataclass
class _Typed:
    text: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    version: int = 0
    last_key: float = 0.0


class TypeAhead:
    """One question box: reads ahead as its text changes (``typed``), hands the read order to the answer
    on Enter (``enter``). A worker thread runs while text keeps coming and ends after ``idle_s`` without."""

    def __init__(
        self, engine: Engine, *, every: float = EVERY_S, pause: float = PAUSE_S, idle_s: float = 30.0,
        on_done: Callable[[ReadAhead], None] | None = None,
    ) -> None:  # fmt: skip
        self.engine = engine
        self.every, self.pause, self.idle_s = every, pause, idle_s
        self.on_done = on_done
        self.done: list[ReadAhead] = []  # every read-ahead since the last Enter, oldest first
        self._typed = _Typed()
        self._read_version = -1  # the version of the text last read ahead
        self._reading: Prepared | None = None  # the passages being read (or last read) since Enter
        self._last_start = 0.0
        self._cond = threading.Condition()
        self._worker: threading.Thread | None = None
        self._closed = False

    def typed(self, text: str, **options: Any) -> None:
        """The box now holds ``text`` (searched with ``options``: since, until, outlets, as_of, top_k); a
        word still being typed is left out ("US–R" is no name to look for)."""
        words = (
            text
            if text[-1:].isspace() or text.rstrip()[-1:] in "?.!"
            else text.rsplit(None, 1)[0]
            if " " in text.strip()
            else ""
        )
        with self._cond:
            if words.strip() == self._typed.text and options == self._typed.options:
                self._typed.last_key = time.monotonic()  # still typing the same word: no new text to read
                return
            self._typed = _Typed(words.strip(), options, self._typed.version + 1, time.monotonic())
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._run, name="newsqa-read-ahead", daemon=True)
                self._worker.start()
            self._cond.notify_all()

    def enter(self, question: str) -> Prepared | None:
        """Enter was pressed on ``question``: stop reading ahead, and the passages last read (for
        ``Engine.stream(prepared=...)``), or None when nothing was read."""
        with self._cond:
            self._typed = _Typed("", {}, self._typed.version + 1, time.monotonic())
            self._read_version = self._typed.version
            order, self._reading, self.done = self._reading, None, []
            self._cond.notify_all()
        return order

    def wait_read(self, text: str, timeout: float) -> ReadAhead | None:
        """The read-ahead of ``text`` (the box's current text) once it is done, waiting at most ``timeout``
        seconds; None when none came (too few words, a question declined without the model, or newer
        text)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [d for d in self.done if d.question == text.strip()]
                if found or self._typed.text != text.strip() or time.monotonic() >= deadline:
                    return found[-1] if found else None
                self._cond.wait(timeout=min(0.1, max(0.0, deadline - time.monotonic())))

    def close(self) -> None:
        """Stop reading ahead and let the worker end."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def _due(self) -> float:
        """When the current text should be read ahead: at a pause, or ``every`` after the last start."""
        return min(self._typed.last_key + self.pause, self._last_start + self.every)

    def _next(self) -> _Typed | None:
        """Wait for text worth reading ahead, and its time; None when closed or idle."""
        with self._cond:
            while not self._closed:
                typed, now = self._typed, time.monotonic()
                fresh = typed.version != self._read_version and len(content_words(typed.text)) >= MIN_WORDS
                if fresh and now >= self._due():
                    self._read_version, self._last_start = typed.version, now
                    return typed
                if not fresh and now - typed.last_key > self.idle_s:
                    return None
                self._cond.wait(timeout=max(0.01, self._due() - now) if fresh else self.idle_s)
        return None

    def _stale(self, version: int, started: float) -> bool:
        """Whether the read-ahead of ``version`` (started at ``started``) should stop: closed, Enter pressed,
        or newer text due once it has had ``every`` seconds (so steady typing cannot starve the reading)."""
        typed, now = self._typed, time.monotonic()
        if self._closed or (typed.version != version and not typed.text):
            return True
        return typed.version != version and now >= self._due() and now - started >= self.every

    def _planned(self, version: int, prepared: Prepared) -> None:
        with self._cond:
            if version == self._typed.version or self._typed.text:  # not after Enter
                self._reading = prepared

    def _run(self) -> None:
        while (typed := self._next()) is not None:
            version, started = typed.version, time.monotonic()
            try:
                done = read_ahead(
                    self.engine, typed.text, should_stop=lambda v=version, t=started: self._stale(v, t),
                    planned=lambda ready, v=version: self._planned(v, ready), previous=self._reading,
                    **typed.options,
                )  # fmt: skip
            except Exception:  # noqa: BLE001 - a read-ahead is only a head start; the answer will say what fails
                log.exception("read-ahead for %r failed", typed.text)
                continue
            if done is not None:
                with self._cond:
                    if self._typed.text:  # not after Enter
                        self.done.append(done)
                    self._cond.notify_all()
                if self.on_done:
                    self.on_done(done)


class TypeAheads:
    """The read-aheads of many question boxes (chat sessions, API ``session`` names), at most ``limit``
    (the one unused longest is forgotten first)."""

    def __init__(self, engine: Engine, limit: int = 64) -> None:
        self.engine = engine
        self.limit = limit
        self._boxes: OrderedDict[str, TypeAhead] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str | None, *, create: bool = True) -> TypeAhead | None:
        """The read-ahead of box ``key`` (made on first use when ``create``); None for no key."""
        if not key:
            return None
        with self._lock:
            if key not in self._boxes:
                if not create:
                    return None
                self._boxes[key] = TypeAhead(self.engine)
                while len(self._boxes) > self.limit:
                    self._boxes.popitem(last=False)[1].close()
            self._boxes.move_to_end(key)
            return self._boxes[key]

    def enter(self, key: str | None, question: str) -> Prepared | None:
        """Enter in box ``key``: its read-ahead stops, and the passages it read (or None)."""
        box = self.get(key, create=False)
        return box.enter(question) if box is not None else None
