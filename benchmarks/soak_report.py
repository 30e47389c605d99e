"""What a soak (``newsqa bench soak``) saw: every request's outcome by kind, the events it caused, the
server process's figures at start and end, and the printed / JSON report.

Kinds of outcome: ``answered``; ``queue_full`` (the API's 503 with ``Retry-After``: expected under load);
``llm_unavailable`` (the model server could not answer: expected while it restarts); ``server_error``
(a 500 or an unexpected error in words); ``client_error`` (another 4xx); and the **lost** ones, a request
that ended with no answer and no error in words: ``transport`` (connection failed or cut), ``timeout``,
``incomplete`` (a stream that ended without its end marker).
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from benchmarks.soak_procs import ProcSample

LOST = ("transport", "timeout", "incomplete")
RESTART_GRACE_S = 30.0  # an LLM error this long after the model server is back still counts as the restart's
RSS_BOUND_MB, RSS_BOUND_SHARE = 150.0, 0.25  # RSS at the end: at most the start + max(150 MB, 25 %)
FILES_BOUND = 16  # open files at the end: at most the start + 16


@dataclass
class Outcome:
    """One request of one client."""

    who: str  # "api" or "chat"
    kind: str
    at: float  # seconds since the load started, when it ended
    first_token_s: float | None = None  # as the client saw it, the wait in line included
    retry_after: int | None = None
    detail: str = ""


class Tally:
    """The outcomes of every client, thread-safe."""

    def __init__(self) -> None:
        self.outcomes: list[Outcome] = []
        self._lock = threading.Lock()

    def add(self, outcome: Outcome) -> None:
        """Record one request's outcome."""
        with self._lock:
            self.outcomes.append(outcome)

    def snapshot(self) -> list[Outcome]:
        """The outcomes so far."""
        with self._lock:
            return list(self.outcomes)


@dataclass
class SoakReport:
    """Figures of one soak run; ``ok`` when nothing was lost, nothing failed on the server's side, the line
    emptied, the index holds what it should, and memory and open files came back within the bounds."""

    minutes: float
    llm: str
    api_clients: int
    chat_sessions: int
    max_waiting: str
    outcomes: list[Outcome] = field(default_factory=list)
    restart: dict[str, float] = field(default_factory=dict)  # at, stopped_s, ready_s (since the load began)
    killed: str = "not done"
    articles: dict[str, int] = field(default_factory=dict)  # written, deleted, expected, found
    chat_places: int = 0  # the highest place in the chat's queue a session was shown
    chat_waited: list[int] = field(default_factory=lambda: [0, 0])  # questions that waited; shown their place
    start: ProcSample | None = None
    end: ProcSample | None = None
    line_end: dict[str, Any] = field(default_factory=dict)
    log_errors: list[str] = field(default_factory=list)
    wall_s: float = 0.0

    def kinds(self, who: str | None = None) -> Counter[str]:
        """Outcomes by kind (of one client type, or all)."""
        return Counter(o.kind for o in self.outcomes if who is None or o.who == who)

    @property
    def lost(self) -> int:
        """Requests that ended with neither an answer nor an error in words."""
        return sum(self.kinds()[k] for k in LOST)

    @property
    def llm_errors_outside_restart(self) -> int:
        """``llm_unavailable`` outcomes not explained by the model server's restart."""
        start = self.restart.get("at", float("inf"))
        end = start + self.restart.get("stopped_s", 0) + self.restart.get("ready_s", 0) + RESTART_GRACE_S
        return sum(1 for o in self.outcomes if o.kind == "llm_unavailable" and not start <= o.at <= end)

    def within_bounds(self) -> bool:
        """RSS and open files at the end within the stated bounds of the start."""
        if self.start is None or self.end is None:
            return False
        rss_room = max(RSS_BOUND_MB, RSS_BOUND_SHARE * self.start.rss_mb)
        return (
            self.end.rss_mb <= self.start.rss_mb + rss_room
            and self.end.open_files <= self.start.open_files + FILES_BOUND
        )

    @property
    def ok(self) -> bool:
        """See the class docstring."""
        articles = self.articles
        return (
            self.lost == 0
            and self.kinds()["server_error"] == 0
            and self.llm_errors_outside_restart == 0
            and not self.log_errors
            and self.line_end.get("answering") == 0
            and self.line_end.get("waiting") == 0
            and articles.get("found") == articles.get("expected")
            and not articles.get("deletions_failed")
            and self.within_bounds()
        )

    def lines(self) -> list[str]:
        """The printed report."""
        api, chat = self.kinds("api"), self.kinds("chat")
        waits = sorted({o.retry_after for o in self.outcomes if o.retry_after is not None})
        others = Counter({k: v for k, v in self.kinds().items() if k not in ("answered", "queue_full")})
        out = [
            f"soak:              {self.wall_s / 60:.1f} min of load ({self.minutes:g} asked), {self.llm}",
            f"clients:           {self.api_clients} API, {self.chat_sessions} chat session(s); "
            f"NEWSQA_API_MAX_WAITING {self.max_waiting}",
            f"answers:           {api['answered'] + chat['answered']} (API {api['answered']}, "
            f"chat {chat['answered']})",
            f"503 line full:     {api['queue_full']}"
            + (f" (Retry-After {waits[0]}–{waits[-1]} s, honoured)" if waits else ""),
            "errors by kind:    " + (", ".join(f"{k} {v}" for k, v in sorted(others.items())) or "none"),
            f"lost:              {self.lost}   server errors: {self.kinds()['server_error']}   "
            f"LLM errors outside the restart: {self.llm_errors_outside_restart}",
            "first token API:   " + spread([o.first_token_s for o in self.outcomes if o.who == "api"]),
            "first token chat:  " + spread([o.first_token_s for o in self.outcomes if o.who == "chat"]),
            f"chat queue:        {self.chat_waited[0]} question(s) waited their turn, {self.chat_waited[1]} "
            f"of them shown their place (up to {self.chat_places})",
            f"model restart:     {self._restart_text()}",
            f"client killed:     {self.killed}",
            f"articles:          {self._articles_text()}",
        ]
        out += self._process_lines()
        out.append(f"result:            {'ok' if self.ok else 'FAILED'}")
        return out

    def _restart_text(self) -> str:
        if not self.restart:
            return "not done"
        r = self.restart
        return (
            f"at {r['at']:.0f} s: stopped in {r['stopped_s']:.1f} s, serving again {r['ready_s']:.1f} s later"
        )

    def _articles_text(self) -> str:
        a = self.articles
        return (
            f"{a.get('written', 0)} written by the feed, {a.get('deleted', 0)} deleted in the Library "
            f"({a.get('deletions_failed', 0)} failed); the index holds {a.get('found', '?')} "
            f"(expected {a.get('expected', '?')}: the sample's 2 + written - deleted)"
        )

    def _process_lines(self) -> list[str]:
        line = self.line_end
        out = [
            f"server at start:   {self.start.line() if self.start else '-'}",
            f"server at end:     {self.end.line() if self.end else '-'}"
            + (f" (peak RSS {self.end.peak_rss_mb:.0f} MB)" if self.end else ""),
            f"within bounds:     {'yes' if self.within_bounds() else 'NO'} (RSS + max({RSS_BOUND_MB:.0f} MB, "
            f"{RSS_BOUND_SHARE:.0%}), open files + {FILES_BOUND})",
            f"line at the end:   answering {line.get('answering')}, waiting {line.get('waiting')}, "
            f"mean answer {line.get('mean_answer_s')} s, limit {line.get('max_waiting')}"
            + (" (derived)" if line.get("auto") else ""),
            f"server log errors: {len(self.log_errors)}",
        ]
        out += [f"  {text}" for text in self.log_errors[:5]]
        return out

    def to_json(self) -> str:
        """Everything, for a test or a later comparison."""
        body = asdict(self) | {"ok": self.ok, "lost": self.lost, "kinds": dict(self.kinds()),
                               "within_bounds": self.within_bounds(),
                               "llm_errors_outside_restart": self.llm_errors_outside_restart}  # fmt: skip
        return json.dumps(body, indent=1)


def spread(values: list[float | None]) -> str:
    """``p50 1.20 s   p95 4.50 s   (n=40)`` over the values given."""
    data = np.array([v for v in values if v is not None], dtype=float)
    if not data.size:
        return "-"
    p50, p95 = np.percentile(data, [50, 95])
    return f"p50 {p50:.2f} s   p95 {p95:.2f} s   max {data.max():.2f} s   (n={data.size})"
