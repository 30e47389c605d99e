"""The answer pipeline: retrieve → (abstain if nothing relevant) → cited prompt → LLM → checked citations."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from llama_index.core.vector_stores.types import MetadataFilters

from index.catalog import Catalog
from index.embed import make_embedder
from index.ingest import Ingestor
from index.settings import Settings
from index.store import ChunkStore
from qa.abstain import weak_evidence
from qa.cite import check_citations, is_abstention
from qa.llm import LLM, get_llm
from qa.models import Answer, Passage, Timings
from qa.prompt import NOT_COVERED, build_messages
from qa.retrieve import Retriever

History = list[tuple[str, str]]
Filters = dict[str, Any] | MetadataFilters | None


class Engine:
    """One data folder's embedder, store, catalog and LLM; answers questions about it."""

    def __init__(self, settings: Settings | None = None, llm: LLM | None = None) -> None:
        self.settings = settings or Settings()
        self.embedder = make_embedder(self.settings)
        self.store = ChunkStore(self.settings)
        self.catalog = Catalog(self.settings.catalog_path)
        self.retriever = Retriever(self.embedder, self.store)
        self._llm = llm

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
        """An ingestor sharing this engine's model, store and catalog."""
        return Ingestor(self.settings, self.embedder, self.store, self.catalog)

    def stream(
        self,
        question: str,
        *,
        top_k: int | None = None,
        filters: Filters = None,
        history: History | None = None,
    ) -> Iterator[str | Answer]:
        """Yield answer text pieces as the model writes them, then the finished ``Answer``."""
        start = time.perf_counter()
        elapsed = lambda: (time.perf_counter() - start) * 1000  # noqa: E731
        passages = self.retriever.retrieve(question, top_k or self.settings.top_k, filters)
        timings = Timings(retrieve_ms=elapsed())
        reason = weak_evidence(question, passages, self.settings.min_relevance)
        if reason:
            yield NOT_COVERED
            timings.first_token_ms = timings.total_ms = elapsed()
            yield self._abstain(question, passages, timings, reason)
            return
        pieces: list[str] = []
        for piece in self.llm.stream(
            build_messages(question, passages, history), max_tokens=self.settings.max_answer_tokens
        ):
            if timings.first_token_ms is None:
                timings.first_token_ms = elapsed()
            pieces.append(piece)
            yield piece
        timings.total_ms = elapsed()
        raw = "".join(pieces).strip()
        text, citations = check_citations(raw, passages)
        if is_abstention(text) or not citations:
            reason = (
                "the model found no answer in the passages"
                if is_abstention(text)
                else ("the model's answer cited no passage")
            )
            yield self._abstain(question, passages, timings, reason)
            return
        yield Answer(question, text, citations, passages, timings, self.llm.name)

    def _abstain(self, question: str, passages: list[Passage], timings: Timings, reason: str) -> Answer:
        name = self._llm.name if self._llm else ""
        return Answer(
            question, NOT_COVERED, [], passages, timings, name, abstained=True, abstain_reason=reason
        )

    def ask(
        self,
        question: str,
        *,
        top_k: int | None = None,
        filters: Filters = None,
        history: History | None = None,
    ) -> Answer:
        """Answer a question with numbered citations, or say the articles do not cover it."""
        answer = None
        for item in self.stream(question, top_k=top_k, filters=filters, history=history):
            if isinstance(item, Answer):
                answer = item
        assert answer is not None
        return answer
