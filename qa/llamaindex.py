"""newsqa as llama-index components: ``NewsRetriever`` (a ``BaseRetriever`` whose nodes are newsqa's reranked
passages) and ``NewsQueryEngine`` (a query engine whose ``Response`` is newsqa's cited answer).

A passage becomes ``NodeWithScore(node=TextNode(id_=chunk_id, text=..., metadata={article_id, title, outlet,
date, url, n}), score=cosine similarity)``; the node's source document is the article. The article id, the
link and the passage number stay out of the text llama-index shows an LLM or embeds (title, outlet and date
go in). Async calls run the same work in a worker thread. llama-index is imported here only, so
``import qa`` stays light; ``qa.as_retriever`` / ``qa.as_query_engine`` build these over the default engine.
"""

from __future__ import annotations

import asyncio
import inspect
from dataclasses import replace
from datetime import date
from typing import Any

from llama_index.core.base.base_query_engine import BaseQueryEngine
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.base.response.schema import Response
from llama_index.core.callbacks.base import CallbackManager
from llama_index.core.prompts.mixin import PromptMixinType
from llama_index.core.schema import NodeRelationship, NodeWithScore, QueryBundle, RelatedNodeInfo, TextNode

from qa.answer import Engine, Filters
from qa.dates import to_date, to_iso
from qa.models import Answer, Citation, Passage
from qa.retrieve import Mode

HIDDEN_METADATA = ["article_id", "url", "n"]  # kept out of the text an LLM reads and of what is embedded


def passage_node(passage: Passage) -> NodeWithScore:
    """A passage as a llama-index node with its score (the cosine similarity to the question)."""
    node = TextNode(
        id_=passage.chunk_id,
        text=passage.text,
        metadata={
            "article_id": passage.article_id,
            "title": passage.title,
            "outlet": passage.outlet,
            "date": passage.date,
            "url": passage.url,
            "n": passage.n,
        },
        excluded_llm_metadata_keys=list(HIDDEN_METADATA),
        excluded_embed_metadata_keys=list(HIDDEN_METADATA),
        relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=passage.article_id)},
    )
    return NodeWithScore(node=node, score=passage.score)


def citation_record(citation: Citation) -> dict[str, Any]:
    """A checked citation as a plain dict: n, title, outlet, date, url, quote, article_id, and the
    ``node_id`` of its source node (the passage's chunk id)."""
    return {
        "n": citation.n,
        "title": citation.title,
        "outlet": citation.outlet,
        "date": citation.date,
        "url": citation.url,
        "quote": citation.quote,
        "article_id": citation.article_id,
        "node_id": citation.passage.chunk_id,
    }


def answer_response(answer: Answer) -> Response:
    """An ``Answer`` as a llama-index ``Response``: the text (with its ``[n]`` markers), one source node per
    passage the model was shown (whole chunk, ``metadata["n"]`` being its ``[n]``), and under ``metadata``
    the ``citations`` (plain dicts), ``abstained`` and the ``answer`` itself."""
    whole = {p.chunk_id: p for p in answer.retrieved}
    shown = [replace(whole.get(p.chunk_id, p), n=p.n) for p in answer.passages]
    return Response(
        response=answer.text,
        source_nodes=[passage_node(p) for p in shown],
        metadata={
            "citations": [citation_record(c) for c in answer.citations],
            "abstained": answer.abstained,
            "answer": answer,
        },
    )


class NewsRetriever(BaseRetriever):
    """newsqa's search as a llama-index retriever: the ``top_k`` reranked passages for a query, best first.

    The options are those of ``qa.ask`` that shape the search: ``top_k`` (default the settings'),
    ``filters`` / ``since`` / ``until`` / ``outlets`` (hard filters), ``as_of`` (default: the day of each
    query; anchors "this week" and excludes later articles) and ``mode``. Time words in the query are read
    exactly as ``qa.ask`` reads them. A malformed date raises ``ValueError`` here, naming the option.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        top_k: int | None = None,
        filters: Filters = None,
        since: date | str | None = None,
        until: date | str | None = None,
        outlets: list[str] | str | None = None,
        as_of: date | str | None = None,
        mode: Mode = "hybrid",
        callback_manager: CallbackManager | None = None,
    ) -> None:
        super().__init__(callback_manager=callback_manager)
        self.engine = engine
        self.top_k = top_k
        self.filters = filters
        self.since, self.until = to_iso(since, "since"), to_iso(until, "until")
        self.outlets = outlets
        self.as_of = to_date(as_of, "as_of")
        self.mode: Mode = mode
        engine.search_filters("", filters, None, self.since, self.until, outlets)  # bad filters raise now

    def passages(self, query: str) -> list[Passage]:
        """newsqa's passages for ``query`` under this retriever's options (empty when the time the query
        speaks of is after every article)."""
        engine = self.engine
        engine.refresh()
        as_of = self.as_of or date.today()
        search = engine.search_filters(query, self.filters, as_of, self.since, self.until, self.outlets)
        passages, _ = engine.find(search, self.top_k or engine.settings.top_k, mode=self.mode)
        return passages

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return [passage_node(p) for p in self.passages(query_bundle.query_str)]

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return await asyncio.to_thread(self._retrieve, query_bundle)


class NewsQueryEngine(BaseQueryEngine):
    """newsqa's whole answer pipeline as a llama-index query engine: ``query`` returns a ``Response`` whose
    text is the cited answer (or newsqa's not-covered reply), whose ``source_nodes`` are the passages the
    model was shown, and whose ``metadata`` holds ``citations``, ``abstained`` and the ``answer``.

    ``options`` are ``qa.ask``'s (``top_k``, ``filters``, ``history``, ``as_of``, ``since``, ``until``,
    ``outlets``, ``style``, ``mode``, ...); an unknown one raises ``TypeError`` here.
    """

    def __init__(
        self, engine: Engine, *, callback_manager: CallbackManager | None = None, **options: Any
    ) -> None:
        super().__init__(callback_manager=callback_manager)
        inspect.signature(engine.stream).bind("question", **options)  # an unknown option fails now
        self.engine = engine
        self.options = options

    def _get_prompt_modules(self) -> PromptMixinType:
        return {}

    def _query(self, query_bundle: QueryBundle) -> Response:
        return answer_response(self.engine.ask(query_bundle.query_str, **self.options))

    async def _aquery(self, query_bundle: QueryBundle) -> Response:
        return await asyncio.to_thread(self._query, query_bundle)
