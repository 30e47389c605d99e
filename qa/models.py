"""The things a question produces: retrieved ``Passage``s, checked ``Citation``s, and the ``Answer``."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Passage:
    """A retrieved chunk, numbered as it appears in the prompt ([n])."""

    n: int
    chunk_id: str
    article_id: str
    title: str
    outlet: str
    date: str
    url: str
    text: str
    score: float  # cosine similarity to the question

    def label(self) -> str:
        """``Title — Outlet, 2021-12-31`` for source lists (see ``source_label``)."""
        return source_label(self.title, self.outlet, self.date)


def source_label(title: str, outlet: str, date: str) -> str:
    """The one way a source is named to a reader: ``Title — Outlet, 2021-12-31`` (``unknown outlet`` and
    ``undated`` when missing). The prompt names sources in its own measured form (qa/prompt.py)."""
    return f"{title} — {outlet or 'unknown outlet'}, {date or 'undated'}"


@dataclass
class OtherReport:
    """Another outlet that carried the same story (a syndicated or near-identical copy folded at ingest)."""

    outlet: str
    date: str
    url: str
    title: str = ""

    def label(self) -> str:
        """``Outlet, 2021-12-31``."""
        return f"{self.outlet or 'unknown outlet'}, {self.date or 'undated'}"


@dataclass
class Citation:
    """One checked ``[n]`` of an answer: the passage it points to and the quote that supports it.

    The article's fields are read through the passage (``citation.title`` is ``citation.passage.title``);
    ``also_reported_by`` lists the other outlets that carried the same story."""

    n: int
    quote: str
    passage: Passage
    also_reported_by: list[OtherReport] = field(default_factory=list)

    @property
    def article_id(self) -> str:
        """The cited article's id."""
        return self.passage.article_id

    @property
    def title(self) -> str:
        """The cited article's title."""
        return self.passage.title

    @property
    def outlet(self) -> str:
        """The cited article's outlet."""
        return self.passage.outlet

    @property
    def date(self) -> str:
        """The cited article's date (ISO), or ""."""
        return self.passage.date

    @property
    def url(self) -> str:
        """The cited article's link, or ""."""
        return self.passage.url


@dataclass
class Timings:
    """Milliseconds spent: retrieval, until the first answer token, and in all; and the prompt's tokens."""

    retrieve_ms: float = 0.0
    first_token_ms: float | None = None
    total_ms: float = 0.0
    prompt_tokens: int | None = None  # prompt tokens the model read fresh (llama.cpp servers report it)
    cached_tokens: int | None = None  # prompt tokens found in its cache (read ahead, or an earlier prompt)


@dataclass
class Reading:
    """What the model is about to read, streamed before the answer's first word (``stream(...,
    sources_first=True)``): the passages as numbered in the prompt, each cut to the sentences it shows."""

    passages: list[Passage]
    retrieve_ms: float = 0.0  # milliseconds from the question until these were known


@dataclass
class Prepared:
    """A prompt's passages prepared ahead (``qa.readahead``, while the question was typed): the chunks the
    search found, in prompt order, and the passages as cut for the prompt. An answer whose search finds
    the same chunks uses them as they are, so its prompt is the one already read up to the question."""

    order: list[str]
    shown: list[Passage]


@dataclass
class Answer:
    """A cited answer (or an abstention, with no citations)."""

    question: str
    text: str
    citations: list[Citation] = field(default_factory=list)
    passages: list[Passage] = field(default_factory=list)  # what the model was shown, numbered [1]..[k]
    timings: Timings = field(default_factory=Timings)
    model: str = ""
    abstained: bool = False
    abstain_reason: str | None = None  # why the evidence was judged too weak, when it was
    rewritten_question: str | None = None  # the standalone form of a follow-up, when one was made
    filters: dict = field(default_factory=dict)  # the date / outlet filters the search applied
    style: str = "normal"
    retrieved: list[Passage] = field(default_factory=list)  # every retrieved chunk, whole, with its score
    freshness_note: str | None = None  # said when the newest source is older than the time asked about

    def sources_text(self) -> str:
        """Numbered source lines for terminals: ``[1] Title — Outlet, date``, the link, the quote, and the
        other outlets that carried the story."""
        lines = []
        for c in self.citations:
            lines.append(f"[{c.n}] {c.passage.label()}")
            if c.url:
                lines.append(f"    {c.url}")
            lines.append(f'    "{c.quote}"')
            for other in c.also_reported_by:
                lines.append(
                    f"    also reported by {other.label()}" + (f" — {other.url}" if other.url else "")
                )
        return "\n".join(lines)

    def date_range(self) -> tuple[str, str] | None:
        """The first and last date of the cited articles (None when nothing dated is cited)."""
        days = sorted(c.date for c in self.citations if c.date)
        return (days[0], days[-1]) if days else None

    def freshness_text(self) -> str:
        """One line on how recent the answer's sources are: their date range, and the staleness note."""
        span = self.date_range()
        if span is None:
            return self.freshness_note or ""
        used = f"Sources dated {span[0]}" + (f" to {span[1]}" if span[1] != span[0] else "") + "."
        return f"{used} {self.freshness_note}" if self.freshness_note else used
