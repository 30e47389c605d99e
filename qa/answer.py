"""The answer pipeline: (rewrite a follow-up) → resolve time → retrieve → (abstain if the evidence is
weak) → tight cited prompt → LLM → checked citations → ``Answer``."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import closing, suppress
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Literal

from index.corpus import Corpus
from index.embed import make_embedder
from index.ingest import EMBED_BACKEND_KEY, Ingestor
from index.settings import Settings, use_offline_environment
from qa.abstain import weak_evidence
from qa.answer_type import expected_kind
from qa.choices import choice_hint
from qa.cite import check_citations, is_abstention
from qa.conflict import conflict_note, find_conflicts
from qa.context import condense
from qa.dates import to_date, to_iso
from qa.llm import LLM, get_llm, supports_grammar
from qa.models import Answer, OtherReport, Passage, Prepared, Reading, Timings
from qa.outlets import OutletMention, find_outlets, without_outlets
from qa.prompt import NOT_COVERED, build_messages, rewrite_messages, with_choices
from qa.rerank import MODEL_FILE, LinearReranker
from qa.retrieve import Mode, Retriever, check_filters, day_number, lexical_filters
from qa.spans import candidate_spans, choice_grammar, span_grammar
from qa.timerange import resolve_time, strip_time
from qa.whats_new import asks_whats_new, day_before, nothing_new, novel_passages

History = list[tuple[str, str]]
Filters = dict[str, Any] | None  # since, until (dates), outlets (see qa.retrieve.check_filters)
Style = Literal["normal", "short"]


_FIRST_CITATION = re.compile(r"\[\d+\]")
_YEAR_ONLY = re.compile(r"^(?:(?:in|during|since|until|before)\s+)?(?:the\s+year\s+)?\d{4}$", re.IGNORECASE)


@dataclass
class Search:
    """How a question is searched: the query text, hard filters, and the dates it prefers."""

    query: str
    filters: Filters
    window: tuple[str, str] | None = None  # the time the question speaks of: preferred, not required
    boost: tuple[str, str] | None = None  # a bare year's span: a small extra vote
    outlets: list[OutletMention] = field(default_factory=list)  # the corpus's outlets the question names

    def shown(self) -> dict[str, Any]:
        """The filters as the answer reports them, the preferred dates under ``preferring``."""
        shown = dict(self.filters or {})
        if self.window:
            shown["preferring"] = f"{self.window[0]} to {self.window[1]}"
        return shown


@dataclass
class Plan:
    """What the engine will do with a question before the model sees it: how it is searched, the passages
    found, and (``declined``) why it answers without the model; a "what's new" question instead carries the
    day it counts from (``new_since``) and no passages yet."""

    search: Search
    passages: list[Passage] = field(default_factory=list)
    declined: str | None = None
    new_since: str | None = None


class Engine:
    """One data folder's embedder, store, catalog and LLM; answers questions about it."""

    def __init__(self, settings: Settings | None = None, llm: LLM | None = None) -> None:
        use_offline_environment()  # a library user's process too: before the store and the embedder exist
        self.settings = settings or Settings()
        self.corpus = Corpus(self.settings)
        self.catalog = self.corpus.catalog
        self.store = self.corpus.store
        self.lexical = self.corpus.lexical
        self.embedder = make_embedder(self.settings, self.catalog.get_meta(EMBED_BACKEND_KEY))
        self.retriever = Retriever(self.embedder, self.store, self.lexical, settings=self.settings)
        self._reranker_stamp: int | None = None
        self.load_reranker()
        self._llm = llm

    @property
    def reranker_path(self) -> Path:
        """Where this data folder's trained reranker lives."""
        return Path(self.settings.data_dir) / MODEL_FILE

    def load_reranker(self) -> None:
        """With ``rerank = "learned"``, use the data folder's trained reranker (re-read when another process
        retrained it); otherwise, or without one, the first stage's fusion order stands."""
        stamp: int | None = None
        if self.settings.rerank == "learned":
            with suppress(OSError):
                stamp = self.reranker_path.stat().st_mtime_ns
        if stamp != self._reranker_stamp:
            self._reranker_stamp = stamp
            self.retriever.reranker = LinearReranker.load(self.reranker_path) if stamp else None

    def refresh(self) -> None:
        """Before a search: see what other processes wrote since the last one, and a retrained reranker."""
        self.corpus.sync()
        self.load_reranker()

    def find(
        self, search: Search, k: int, *, mode: Mode = "hybrid", choices: list[str] | None = None
    ) -> tuple[list[Passage], str | None]:
        """The ``k`` passages for ``search`` (with ``choices``: searched with each choice too), or none and
        why, when the time it speaks of is after every article."""
        beyond = self.beyond_the_corpus(search)
        if beyond:
            return [], beyond
        options = {"mode": mode, "boost": search.boost, "window": search.window}
        if search.outlets and not choices:
            return self.retriever.retrieve_covering(
                search.query, search.outlets, k, search.filters, **options
            ), None
        if choices:
            return self.retriever.retrieve_for_choices(
                search.query, choices, k, search.filters, **options
            ), None
        return self.retriever.retrieve(search.query, k, search.filters, **options), None

    def update_reranker(self, *, force: bool = False, progress: bool = False) -> str | None:
        """With ``rerank = "learned"``, train the reranker on this corpus when it has none or the corpus
        changed by a fifth since (see ``qa.rerank_train``); ``force`` trains anyway (and raises ``ValueError``
        when the corpus gives nothing to learn from; without it that is a returned warning). Returns what
        was done, or None when nothing was needed."""
        from qa.rerank_train import needs_training, train

        if self.settings.rerank != "learned" and not force:
            return None
        articles = self.catalog.stats().articles
        if not force and not needs_training(LinearReranker.load(self.reranker_path), articles):
            return None
        _, texts, metas = self.store.all_chunks()
        days = [int(m.get("published_day") or 0) for m in metas]
        previous, self.retriever.reranker = self.retriever.reranker, None  # train on first-stage order
        try:
            bar = _progress_bar("training the reranker") if progress else None
            model = train(self.retriever, texts, days, progress=bar)
        except ValueError as exc:  # the articles are in; an untrainable corpus is no ingest failure
            if force:
                raise
            return f"warning: reranker not trained: {exc}"
        finally:
            self.retriever.reranker = previous
        model.articles = articles
        model.save(self.reranker_path)
        self.load_reranker()
        return f"reranker trained on {articles} articles ({model.source})"

    @property
    def llm(self) -> LLM:
        """The configured LLM backend, started on first use."""
        if self._llm is None:
            self._llm = get_llm(self.settings)
        return self._llm

    def warm_up(self) -> None:
        """Load the embedding model and start the LLM now, so the first question does not wait for them."""
        self.embedder.embed_query("warm up")
        _ = self.llm

    def ingestor(self) -> Ingestor:
        """An ingestor sharing this engine's model and corpus (so its writes and this engine's reads use
        the same objects and the same write lock)."""
        return Ingestor(self.settings, self.embedder, corpus=self.corpus)

    def rewrite(self, question: str, history: History) -> str:
        """A follow-up question made standalone with the conversation (the LLM rewrites it)."""
        text = "".join(self.llm.stream(rewrite_messages(question, history), max_tokens=60)).strip()
        text = text.strip().strip('"').splitlines()[0].strip() if text else ""
        return text if len(text) > 3 else question

    def search_filters(
        self, question: str, filters: Filters, as_of: date | None, since: Any, until: Any, outlets: Any
    ) -> Search:
        """How to search for ``question``: the query without its time expression, the hard filters (the
        explicit ones, and never past ``as_of``), and the time the question speaks of.

        Time words relative to ``as_of`` ("this week", "yesterday", "in March 2024") become the preferred
        ``window``, widened by the settings' ``time_slack_days`` before (a quiz's "this week" reaches back to
        the weekend stories): articles of that time rank first, but an older report can still answer (see
        ``Retriever.retrieve``). A bare year ("in 1924", "since 1999") usually dates the event, not the
        reporting, so it only ``boost``s articles from that span."""
        merged: dict[str, Any] = {
            k: to_iso(v, f"filters[{k!r}]") if k in ("since", "until") else v
            for k, v in (check_filters(filters) or {}).items()
            if v not in (None, "", [])
        }
        if "outlets" in merged:  # one spelling from here on
            named = merged.pop("outlets")
            merged["outlet"] = [named] if isinstance(named, str) else list(named)
        merged.update({k: to_iso(v, k) for k, v in (("since", since), ("until", until)) if v})
        if outlets:
            merged["outlet"] = [outlets] if isinstance(outlets, str) else list(outlets)
        search = Search(question, merged)
        if not merged.get("outlet"):  # an outlet filter already says where to look
            search.outlets = find_outlets(question, self.lexical.outlet_names())
        if as_of is not None:
            merged["until"] = min(filter(None, [merged.get("until"), as_of.isoformat()]))
            # an outlet's name is no time word ("Business Today"): time is read from the rest
            span = resolve_time(without_outlets(question, search.outlets), as_of)
            if span is not None:
                search.query = strip_time(question, span) or question
                if _YEAR_ONLY.search(span.text):
                    search.boost = (span.since.isoformat(), span.until.isoformat())
                else:
                    since_day = (span.since - timedelta(days=self.settings.time_slack_days)).isoformat()
                    search.window = (since_day, min(span.until, as_of).isoformat())
        return search

    def beyond_the_corpus(self, search: Search) -> str | None:
        """Why no article can report on the question's time: its window starts after the newest article
        (within the hard filters). Articles can look back (anniversaries, follow-ups) but not ahead."""
        if search.window is None:
            return None
        newest = self.lexical.newest_day(**lexical_filters(search.filters))
        start = search.window[0]
        if newest is None or day_number(start) > newest:
            latest = f"{newest // 10000}-{newest // 100 % 100:02d}-{newest % 100:02d}" if newest else None
            return f"no article is dated on or after {start}" + (
                f" (the newest is from {latest})" if latest else ""
            )
        return None

    def stream(
        self,
        question: str,
        *,
        top_k: int | None = None,
        filters: Filters = None,
        history: History | None = None,
        as_of: date | str | None = None,
        since: date | str | None = None,
        until: date | str | None = None,
        outlets: list[str] | str | None = None,
        style: Style = "normal",
        mode: Mode = "hybrid",
        choices: list[str] | None = None,
        context_tokens: int | None = None,
        sources_first: bool = False,
        prepared: Prepared | None = None,
    ) -> Iterator[str | Reading | Answer]:
        """Yield answer text pieces as the model writes them, then the finished ``Answer``.

        Dates (``as_of``, ``since``, ``until``) are ``date``s, ``datetime``s or ISO strings; a malformed one
        raises ``ValueError`` naming the argument. ``as_of`` (default today) anchors "this week", "yesterday", "in December" and excludes later
        articles; ``since`` / ``until`` / ``outlets`` narrow the search; ``style="short"`` asks for the
        answer in as few words as possible (still cited); ``history`` holds earlier (question, answer)
        pairs, and a follow-up is first rewritten into a standalone question. ``choices`` (a quiz's
        options) are shown to the model with the question, and the search also looks for the question
        with each choice (``Retriever.retrieve_for_choices``); with choices the
        weak-evidence check does not stop the answer (the model still may say the articles do not cover it).
        ``context_tokens`` overrides the prompt budget (``Settings.context_tokens``) for this question.
        ``sources_first`` yields a ``Reading`` (the passages the model is about to read) before the first
        text piece, so a front end can show them while the model reads. ``prepared`` (from a read-ahead while the
        question was typed: ``qa.readahead``) is used as it is when the search finds the same chunks, so
        the prompt read ahead is the prompt answered and only the question is read fresh.
        """
        items = self._stream(question, top_k=top_k, filters=filters, history=history, as_of=as_of,
                             since=since, until=until, outlets=outlets, style=style, mode=mode,
                             choices=choices, context_tokens=context_tokens,
                             prepared=prepared)  # fmt: skip
        with closing(items):  # closing this stream (Stop) closes the model's stream at once
            for item in items:
                if sources_first or not isinstance(item, Reading):
                    yield item

    def _stream(
        self, question: str, *, top_k: int | None, filters: Filters, history: History | None,
        as_of: date | str | None, since: date | str | None, until: date | str | None,
        outlets: list[str] | str | None, style: Style, mode: Mode, choices: list[str] | None,
        context_tokens: int | None, prepared: Prepared | None,
    ) -> Iterator[str | Reading | Answer]:  # fmt: skip
        """``stream``, with the ``Reading`` always yielded."""
        start = time.perf_counter()
        elapsed = lambda: (time.perf_counter() - start) * 1000  # noqa: E731
        as_of = to_date(as_of, "as_of") or date.today()
        since, until = to_iso(since, "since"), to_iso(until, "until")
        self.refresh()
        rewritten = self.rewrite(question, history) if history else None
        asked = rewritten or question
        k = top_k or self.settings.top_k
        plan = self.plan(asked, filters, as_of, since, until, outlets, k, mode=mode, choices=choices)
        search = plan.search
        if plan.new_since:
            base = Answer(
                question, NOT_COVERED, [], [], Timings(), "", rewritten_question=rewritten, style=style
            )
            yield from self._whats_new(asked, search, plan.new_since, k, base, as_of, start, context_tokens)
            return
        passages = in_order(plan.passages, prepared.order if prepared and not choices else None)
        timings = Timings(retrieve_ms=elapsed())
        base = Answer(question, NOT_COVERED, [], passages, timings, "", rewritten_question=rewritten,
                      filters=search.shown(), style=style, retrieved=passages)  # fmt: skip
        if plan.declined and not (choices and passages):  # a quiz wants a pick: the model weighs the choices
            yield NOT_COVERED
            timings.first_token_ms = timings.total_ms = elapsed()
            yield replace(base, abstained=True, abstain_reason=plan.declined)
            return
        ready = prepared.shown if prepared and [p.chunk_id for p in passages] == prepared.order else None
        for item in self._generate(asked, base, as_of, start, context_tokens, choices, ready):
            yield self._with_provenance(item, search) if isinstance(item, Answer) else item

    def plan(
        self, asked: str, filters: Filters, as_of: date, since: str | None, until: str | None,
        outlets: list[str] | str | None, k: int, *, mode: Mode = "hybrid", choices: list[str] | None = None,
    ) -> Plan:  # fmt: skip
        """Search for ``asked`` (a standalone question): its filters and time, then (unless it asks what is
        new) the ``k`` passages and whether the evidence is too weak to ask the model. The answer and the
        read-ahead while typing (``qa.readahead``) both start here, so they find the same passages."""
        search = self.search_filters(asked, filters, as_of, since, until, outlets)
        new_since = self.new_since(asked, since, as_of)
        if new_since and not choices:
            return Plan(search, new_since=new_since)
        passages, beyond = self.find(search, k, mode=mode, choices=choices)
        declined = beyond or weak_evidence(asked, passages, self.settings.min_relevance, search.outlets)
        return Plan(search, passages, declined)

    @staticmethod
    def new_since(question: str, since: str | None, as_of: date) -> str | None:
        """The day a "what's new" question counts from: ``since``, else the start of the time it names
        ("since Monday"); None for any other question."""
        if not asks_whats_new(question):
            return None
        span = resolve_time(question, as_of)
        return since or (span.since.isoformat() if span is not None else None)

    def _whats_new(
        self, asked: str, search: Search, since: str, k: int, base: Answer, as_of: date, start: float,
        context_tokens: int | None,
    ) -> Iterator[str | Reading | Answer]:  # fmt: skip
        """Answer from what the articles from ``since`` on add to the earlier ones (qa/whats_new.py)."""
        hard = dict(search.filters or {})
        newer_filters = hard | {"since": max(hard.get("since", since), since)}
        older_filters = {key: v for key, v in hard.items() if key != "since"}
        older_filters["until"] = min(filter(None, [hard.get("until"), day_before(since)]))
        newer = self.retriever.retrieve(search.query, k, newer_filters)
        older = self.retriever.retrieve(search.query, 2 * k, older_filters)
        novel = novel_passages(newer, older, self.embedder, self.settings.novelty_threshold)
        base.timings.retrieve_ms = (time.perf_counter() - start) * 1000
        base = replace(base, passages=newer, retrieved=novel, filters=search.shown() | {"new since": since})
        weak = weak_evidence(search.query, newer, self.settings.min_relevance)
        if weak or not novel:
            text = f"No article from {since} on reports on this." if weak else nothing_new(since)
            yield text
            base.timings.first_token_ms = base.timings.total_ms = (time.perf_counter() - start) * 1000
            yield replace(
                base, text=text, abstained=True, abstain_reason=weak or "the newer articles add nothing"
            )
            return
        for item in self._generate(asked, base, as_of, start, context_tokens):
            yield self._with_provenance(item, search) if isinstance(item, Answer) else item

    def other_reports(self, article_id: str) -> list[OtherReport]:
        """The other outlets that carried this article's story (copies folded at ingest)."""
        return [
            OtherReport(row["outlet"] or "", row["published"] or "", row["url"] or "", row["title"] or "")
            for row in self.catalog.copies_of(article_id)
        ]

    def _with_provenance(self, answer: Answer, search: Search) -> Answer:
        """The answer with, for each citation, the other outlets that carried its story (folded copies),
        and a note when its newest source is older than the time the question asks about."""
        for citation in answer.citations:
            citation.also_reported_by = self.other_reports(citation.article_id)
        span = answer.date_range()
        if search.window is not None and span is not None and span[1] < search.window[0]:
            note = (
                f"The newest source is from {span[1]}, before the time the question asks about "
                f"({search.window[0]} to {search.window[1]})."
            )
            answer = replace(answer, freshness_note=note)
        return answer

    def cut(self, question: str, passages: list[Passage], budget: int) -> list[Passage]:
        """The passages as the prompt shows them: cut to their best sentences for ``question`` within
        ``budget`` tokens (``qa.context.condense``), numbered [1]..[m]."""
        return condense(question, passages, self.embedder, budget)

    def answer_from(self, question: str, passages: list[Passage], *, style: Style = "normal") -> Answer:
        """Answer from given passages (no retrieval, no abstention threshold): for evaluations."""
        passages = [replace(p, n=i) for i, p in enumerate(passages, start=1)]
        base = Answer(question, NOT_COVERED, [], passages, Timings(), "", style=style, retrieved=passages)
        *_, answer = self._generate(question, base, date.today(), time.perf_counter())
        assert isinstance(answer, Answer)
        return answer

    def _generate(
        self, asked: str, base: Answer, as_of: date, start: float, context_tokens: int | None = None,
        choices: list[str] | None = None, ready: list[Passage] | None = None,
    ) -> Iterator[str | Reading | Answer]:  # fmt: skip
        """Condense the passages into the budget (or take them ``ready`` cut, from a read-ahead), prompt the
        LLM, stream, check citations. With ``choices``, the question lists them, and says which one alone
        the passages name, if one does."""
        timings = base.timings
        passages = base.retrieved
        budget = self.settings.context_tokens if context_tokens is None else context_tokens
        question = asked
        if choices:
            asked = with_choices(asked, choices)
        shown = ready if ready and not choices else self.cut(asked, passages, budget)
        yield Reading(shown, (time.perf_counter() - start) * 1000)
        if choices:
            asked = f"{asked} {choice_hint(question, choices, shown)}".strip()
        messages = build_messages(asked, shown, style=base.style, as_of=as_of.isoformat())
        max_tokens = 48 if base.style == "short" else self.settings.max_answer_tokens
        grammar = self._answer_grammar(question if choices else asked, shown, base.style, choices)
        pieces: list[str] = []
        options = {"grammar": grammar} if grammar else {}
        with closing(self.llm.stream(messages, max_tokens=max_tokens, **options)) as stream:
            for piece in stream:
                if timings.first_token_ms is None:
                    timings.first_token_ms = (time.perf_counter() - start) * 1000
                cut = _short_answer_end("".join(pieces) + piece) if base.style == "short" else None
                if cut is not None:  # a short answer ends at its first citation: stop the model there
                    piece = piece[: max(0, len(piece) - cut)]
                pieces.append(piece)
                yield piece
                if cut is not None:
                    break
        timings.total_ms = (time.perf_counter() - start) * 1000
        usage = getattr(self.llm, "last_usage", None) or {}
        timings.prompt_tokens, timings.cached_tokens = usage.get("prompt_tokens"), usage.get("cached_tokens")
        text, citations = check_citations("".join(pieces).strip(), shown, asked)
        conflicts = find_conflicts(shown, text) if citations and not is_abstention(text) else []
        if conflicts:  # sources state the answer's value differently: say so and cite both sides
            note = conflict_note(conflicts)
            yield " " + note
            before = text
            text, citations = check_citations(f"{text} {note}", shown, asked)
            sides = {c.b: c.sentence_b for c in conflicts} | {c.a: c.sentence_a for c in conflicts}
            for citation in citations:  # a passage cited only by the note: quote its side of the conflict
                if citation.n in sides and f"[{citation.n}]" not in before:
                    citation.quote = sides[citation.n]
        originals = {p.chunk_id: p for p in passages}
        for citation in citations:  # the reader checks the quote against the whole retrieved chunk
            citation.passage = replace(originals[citation.passage.chunk_id], n=citation.n)
        base = replace(base, passages=shown, model=self.llm.name)
        if is_abstention(text) or not citations:
            why = (
                "the model found no answer in the passages"
                if is_abstention(text)
                else "the answer cited no passage"
            )
            yield replace(base, abstained=True, abstain_reason=why)
            return
        yield replace(base, text=text, citations=citations)

    def _answer_grammar(
        self, question: str, shown: list[Passage], style: str, choices: list[str] | None
    ) -> str | None:
        """With ``answer_spans`` on a backend that takes grammars: a quiz answer held to one of its choices,
        a short answer to a who / how many / when question held to a span of the shown passages."""
        if not (self.settings.answer_spans and shown and supports_grammar(self.llm)):
            return None
        if choices:
            return choice_grammar(choices, len(shown))
        kind = expected_kind(question) if style == "short" else None
        spans = candidate_spans(shown, kind, question) if kind else []
        return span_grammar(spans, len(shown)) if spans else None

    def ask(self, question: str, **options: Any) -> Answer:
        """Answer a question with numbered citations, or say the articles do not cover it (see ``stream``)."""
        answer = None
        for item in self.stream(question, **options):
            if isinstance(item, Answer):
                answer = item
        assert answer is not None
        return answer


def in_order(passages: list[Passage], order: list[str] | None) -> list[Passage]:
    """``passages`` in the chunk order ``order`` when they are exactly those chunks (else unchanged)."""
    if not order or sorted(p.chunk_id for p in passages) != sorted(order):
        return passages
    rank = {chunk_id: i for i, chunk_id in enumerate(order)}
    ordered = sorted(passages, key=lambda p: rank[p.chunk_id])
    return [replace(p, n=i) for i, p in enumerate(ordered, start=1)]


def _short_answer_end(text: str) -> int | None:
    """For a short answer written so far: how many trailing characters lie past its first ``[n]`` (None
    while no citation is complete). "Bill Gates [1] testified on…" ends at "Bill Gates [1]"."""
    for match in _FIRST_CITATION.finditer(text):
        if any(ch.isalnum() for ch in _FIRST_CITATION.sub("", text[: match.start()])):
            return len(text) - match.end()
    return None  # no citation yet, or only citations before any answer word ("[1] Bill Gates")


def _progress_bar(label: str):  # noqa: ANN202 - a progress callback
    """A tqdm bar driven by ``(done, total)`` calls."""
    from tqdm import tqdm

    bar = None

    def update(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, desc=label, unit="q")
        bar.update(done - bar.n)
        if done == total:
            bar.close()

    return update
