"""``qa.as_retriever`` and ``qa.as_query_engine`` as llama-index components, over the sample corpus.

The LLM is SmolLM2-135M behind a real ``newsqa model-server`` (the session's), reached through newsqa's own
``openai`` backend (``qa.llm``). No llama-index LLM integration package is installed (the lock has
llama-index-core only), so llama-index's ``RetrieverQueryEngine`` gets ``NewsqaLLM``, a small ``CustomLLM``
over that same backend: a real model writing the answer from the retrieved nodes.

SmolLM2 writes sensible sentences but almost never a ``[n]`` marker, so newsqa withdraws nearly all its
answers ("the answer cited no passage"). ``as_query_engine`` is therefore tested twice: with SmolLM2 as it
is (whatever it writes, the response is either checked citations or the abstention, never an unchecked
answer), and with SmolLM2's answer followed by `` [1]`` when it has no marker (``CitingLLM``, the same
workaround as tests/test_api.py's proxy), so newsqa's citation checking and quoting run on a real model's text.
Everything starts once for the module (the model server once for the session): it may still be loading
while the sample corpus is ingested.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from conftest import REPO, SAMPLE
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    CompletionResponse,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
)
from llama_index.core.base.response.schema import Response
from llama_index.core.llms import CustomLLM
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import MetadataMode, NodeWithScore
from pydantic import ConfigDict, Field
from smollm2_server import ModelServer

import qa
from qa.llm import LLM, get_llm
from qa.models import Answer
from qa.prompt import NOT_COVERED

WARNING = "What did Putin warn Biden about?"  # answered by the first sample article
MAX_TOKENS = 40  # SmolLM2 stops sooner


class NewsqaLLM(CustomLLM):
    """A llama-index LLM over a newsqa LLM backend (``qa.llm``): chat messages go to it as they are."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    backend: Any = Field(exclude=True)
    max_tokens: int = MAX_TOKENS
    prompts: list[list[dict[str, str]]] = Field(default_factory=list, exclude=True)

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(
            context_window=4096, num_output=self.max_tokens, is_chat_model=True, model_name=self.backend.name
        )

    def _write(self, messages: list[dict[str, str]]) -> Iterator[str]:
        self.prompts.append(messages)
        return self.backend.stream(messages, max_tokens=self.max_tokens)

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        said = [{"role": m.role.value, "content": m.content or ""} for m in messages]
        text = "".join(self._write(said))
        return ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content=text))

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return CompletionResponse(text="".join(self._write([{"role": "user", "content": prompt}])))

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        text = ""
        for piece in self._write([{"role": "user", "content": prompt}]):
            text += piece
            yield CompletionResponse(text=text, delta=piece)


class CitingLLM:
    """A newsqa LLM backend whose answer (a prompt quoting passages between ``<<<`` and ``>>>``) gets
    `` [1]`` appended when the model wrote no ``[n]`` (see the module docstring)."""

    def __init__(self, backend: LLM) -> None:
        self.backend = backend
        self.name = backend.name

    def stream(self, messages: list[dict[str, str]], *, max_tokens: int) -> Iterator[str]:
        text = ""
        for piece in self.backend.stream(messages, max_tokens=max_tokens):
            text += piece
            yield piece
        if "\n<<<\n" in messages[-1]["content"] and not re.search(r"\[\d+\]", text):
            yield " [1]"


@pytest.fixture(scope="module")
def model_server(smollm2_server: ModelServer) -> ModelServer:
    """The session's SmolLM2 behind ``newsqa model-server`` on a loopback port (it may still be loading)."""
    return smollm2_server


@pytest.fixture(scope="module")
def engine(model_server: ModelServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """``qa.default_engine()`` configured by the environment, as a library user's would be: a fresh data
    folder holding the sample corpus, SmolLM2 as the ``openai`` backend; the previous default put back after."""
    env = {
        "NEWSQA_DATA_DIR": str(tmp_path_factory.mktemp("llamaindex") / "data"),
        "NEWSQA_LLM": "openai",
        "NEWSQA_OPENAI_BASE_URL": model_server.url,
        "NEWSQA_OPENAI_MODEL": "smollm2",
        "NEWSQA_MAX_ANSWER_TOKENS": str(MAX_TOKENS),
        "NEWSQA_CONTEXT_TOKENS": "150",  # a shorter prompt: SmolLM2 reads it sooner
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        patch.setattr(qa, "_engine", None)
        engine = qa.default_engine()
        assert engine.ingestor().ingest([SAMPLE], progress=False).ok
        yield engine


@pytest.fixture(scope="module")
def smollm2(model_server: ModelServer, engine: Any) -> LLM:
    """newsqa's backend for the engine's settings (SmolLM2), once the server answers."""
    model_server.wait()
    return get_llm(engine.settings)


def test_import_qa_does_not_load_llama_index() -> None:
    code = "import sys, qa; assert not [m for m in sys.modules if m.startswith('llama_index')], 'loaded'"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=60)


def test_retriever_gives_newsqa_passages_as_scored_nodes(engine: Any) -> None:
    retriever = qa.as_retriever(top_k=3)
    assert isinstance(retriever, BaseRetriever)
    nodes = retriever.retrieve(WARNING)
    passages = engine.retriever.retrieve(WARNING, 3, {"until": time.strftime("%Y-%m-%d")})
    assert [n.node.node_id for n in nodes] == [p.chunk_id for p in passages]  # newsqa's reranked order
    assert all(isinstance(n, NodeWithScore) for n in nodes) and len(nodes) == 3
    first = nodes[0].node
    assert "Putin warns Biden" in first.metadata["title"] and first.metadata["date"] == "2021-12-31"
    assert {"article_id", "title", "outlet", "date", "url", "n"} <= first.metadata.keys()
    assert [n.node.metadata["n"] for n in nodes] == [1, 2, 3]
    assert first.ref_doc_id == first.metadata["article_id"]  # the node's source document is the article
    scores = [n.score for n in nodes]
    assert all(isinstance(s, float) and 0 < s <= 1 for s in scores)  # cosine similarity to the question
    assert scores[0] >= scores[-1]  # reranked, so only roughly descending
    shown = first.get_content(metadata_mode=MetadataMode.LLM)
    assert first.metadata["title"] in shown and "2021-12-31" in shown and first.text in shown
    assert first.metadata["article_id"] not in shown and "url:" not in shown
    assert first.metadata["article_id"] not in first.get_content(metadata_mode=MetadataMode.EMBED)


@pytest.mark.parametrize(
    "options",
    [{"since": "2022-01-01"}, {"outlets": ["No Such Outlet"]}, {"as_of": "2021-12-01"}],
    ids=["since", "outlets", "as_of"],
)
def test_retriever_filters_as_ask_does(engine: Any, options: dict[str, Any]) -> None:
    assert qa.as_retriever(**options).retrieve(WARNING) == []
    assert asyncio.run(qa.as_retriever(**options).aretrieve(WARNING)) == []


def test_retriever_reads_time_words_as_ask_does(engine: Any) -> None:
    week = "What did Putin warn Biden about this week?"
    assert qa.as_retriever(as_of="2022-01-03").retrieve(week)  # "this week" reaches back to Dec 31
    assert qa.as_retriever(as_of="2021-12-20").retrieve(week) == []  # nothing was published yet
    assert (
        qa.as_retriever(as_of="2022-06-01").retrieve("What happened yesterday?") == []
    )  # after every article
    nodes = asyncio.run(qa.as_retriever(since="2021-12-31", until="2021-12-31").aretrieve(WARNING))
    assert nodes and {n.node.metadata["date"] for n in nodes} == {"2021-12-31"}


def test_options_are_checked_when_built(engine: Any) -> None:
    with pytest.raises(ValueError, match="since"):
        qa.as_retriever(since="June 5th")
    with pytest.raises(TypeError):
        qa.as_retriever(style="short")  # not a search option
    with pytest.raises(TypeError):
        qa.as_query_engine(top_n=3)


def test_retriever_query_engine_answers_with_source_nodes(engine: Any, smollm2: LLM) -> None:
    llm = NewsqaLLM(backend=smollm2)
    query_engine = RetrieverQueryEngine.from_args(retriever=qa.as_retriever(top_k=2), llm=llm)
    response = query_engine.query(WARNING)
    assert isinstance(response, Response) and str(response).strip()  # whatever SmolLM2 made of it
    assert len(response.source_nodes) == 2
    assert "Putin warns Biden" in response.source_nodes[0].node.metadata["title"]
    (prompt,) = llm.prompts  # one call: both passages fit the context window
    said = "\n".join(m["content"] for m in prompt)
    assert WARNING in said and response.source_nodes[0].node.text in said
    assert response.source_nodes[0].node.metadata["article_id"] not in said


def _check_response(response: Response) -> None:
    """An answer with checked citations (each quote in its source node's text) or the abstention."""
    assert isinstance(response, Response)
    meta = response.metadata or {}
    answer = meta["answer"]
    assert isinstance(answer, Answer) and response.response == answer.text
    assert meta["abstained"] is answer.abstained
    nodes = {n.node.metadata["n"]: n.node for n in response.source_nodes}
    assert len(nodes) == len(answer.passages) and all(n.node.text for n in response.source_nodes)
    if answer.abstained:
        assert meta["citations"] == [] and response.response == NOT_COVERED
        return
    assert meta["citations"]
    for citation in meta["citations"]:
        node = nodes[citation["n"]]
        assert f"[{citation['n']}]" in response.response
        assert citation["quote"] and citation["quote"] in node.text and citation["node_id"] == node.node_id
        assert citation["title"] == node.metadata["title"] and citation["date"] == "2021-12-31"
        assert set(citation) == {"n", "title", "outlet", "date", "url", "quote", "article_id", "node_id"}


def test_query_engine_with_smollm2_as_it_is(engine: Any, smollm2: LLM) -> None:
    response = qa.as_query_engine(style="short").query(WARNING)
    _check_response(response)
    assert response.source_nodes  # shown to the model, cited or not


def test_query_engine_cites_and_quotes(engine: Any, smollm2: LLM, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "_llm", CitingLLM(smollm2))
    response = asyncio.run(qa.as_query_engine(style="short", top_k=2).aquery(WARNING))
    _check_response(response)
    assert not response.metadata["abstained"] and response.metadata["citations"]


def test_query_engine_abstains_outside_the_filters(engine: Any) -> None:
    response = qa.as_query_engine(outlets=["No Such Outlet"]).query(WARNING)
    _check_response(response)
    assert response.metadata["abstained"] and response.source_nodes == []
    assert response.metadata["answer"].filters["outlet"] == ["No Such Outlet"]
