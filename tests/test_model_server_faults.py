"""Faults of the shared model server, seen through the ``openai`` backend.

The real part: an Engine over the sample corpus asks a real ``newsqa model-server`` (SmolLM2-135M) on
127.0.0.1; the server is ``kill -9``-ed mid-answer, asked while down, and restarted on the same port.
The small part: the retry rules against a scripted HTTP server (503s, a cut stream, a 400).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import SAMPLE, free_port
from smollm2_server import ModelServer

from index.settings import Settings
from qa.answer import Engine
from qa.llm import LLMError, OpenAICompatibleLLM
from qa.models import Answer

QUESTION = "What did Putin warn Biden about?"  # SmolLM2 writes hundreds of tokens for it
OFF_TOPIC = "Who won the football match yesterday?"  # abstains before the LLM is asked


@pytest.fixture(scope="module")
def server() -> Iterator[ModelServer]:
    """A SmolLM2 model server on a free loopback port."""
    srv = ModelServer(free_port())
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def engine(server: ModelServer, tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """An engine over the sample corpus answering through the server, with the default retry settings."""
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("faults"),
        llm="openai",
        openai_base_url=server.url,
        openai_model="smollm2",
        max_answer_tokens=120,  # long enough to be killed mid-answer, short enough to be quick
    )
    engine = Engine(settings)
    assert engine.ingestor().ingest([SAMPLE], progress=False).ok
    return engine


def test_kill_mid_answer_then_down_then_back(server: ModelServer, engine: Engine) -> None:
    """Killed mid-answer → clear LLMError; asked while down → clear error after bounded retries, and the
    engine still answers what needs no LLM; restarted on the same port → the next question is answered."""
    llm = engine.llm
    assert isinstance(llm, OpenAICompatibleLLM)
    # 1. kill -9 after the first pieces of the answer arrived
    pieces: list[str] = []
    with pytest.raises(LLMError) as mid:
        for item in engine.stream(QUESTION):
            assert not isinstance(item, Answer), "the answer finished before the server was killed"
            pieces.append(item)
            if len(pieces) == 3:
                server.kill()
    assert len(pieces) >= 3  # the user saw the start of the answer
    message = str(mid.value)
    assert f"the model server at {server.url} stopped mid-answer" in message
    assert "incomplete" in message and "Ask again" in message

    # 2. while it is down: a clear error after the bounded retries, not a hang and not a crash
    started = time.monotonic()
    with pytest.raises(LLMError, match=rf"cannot reach the LLM server at {server.url} .*4 tries") as down:
        engine.ask(QUESTION)
    waited = time.monotonic() - started
    assert sum(llm.delays()) <= waited < sum(llm.delays()) + 10, waited
    assert "Is it running?" in str(down.value)
    off_topic = engine.ask(OFF_TOPIC)  # the engine keeps working for everything the LLM is not needed for
    assert off_topic.abstained and off_topic.abstain_reason

    # 3. restart on the same port: the next question is answered (the retries cover the model loading)
    restarted = time.monotonic()
    server.launch()
    serving: list[float] = []  # when /v1/models first answers, to tell model loading from client recovery
    threading.Thread(target=_note_ready, args=(server, restarted, serving), daemon=True).start()
    answer, asks, first_token = None, 0, None
    while answer is None and time.monotonic() - restarted < 120:
        asks += 1
        pieces = []
        try:
            for item in engine.stream(QUESTION):
                if isinstance(item, Answer):
                    answer = item
                else:
                    first_token = first_token or time.monotonic() - restarted
                    pieces.append(item)
        except LLMError:
            continue
    recovery = time.monotonic() - restarted
    assert answer is not None, f"no answer within 120 s of the restart: {server.output()}"
    assert answer.model == "smollm2" and "".join(pieces).strip()  # written by the restarted server
    ready = f"{serving[0]:.1f} s" if serving else "?"
    print(
        f"\nrecovery: server restart -> serving {ready}, -> first token {first_token:.1f} s, "
        f"-> full answer {recovery:.1f} s ({asks} ask(s))"
    )


def _note_ready(server: ModelServer, since: float, out: list[float]) -> None:
    deadline = since + 120
    while time.monotonic() < deadline and not server.ready():
        time.sleep(0.1)
    out.append(time.monotonic() - since)


# -- the retry rules, against a scripted server ---------------------------------------------------------


def _chunk(text: str) -> bytes:
    event = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": "m",
             "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]}  # fmt: skip
    return f"data: {json.dumps(event)}\n\n".encode()


class _Scripted(BaseHTTPRequestHandler):
    script: Callable[[BaseHTTPRequestHandler, int], None]
    calls: list[int]
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers["Content-Length"]))
        self.calls.append(len(self.calls) + 1)
        type(self).script(self, len(self.calls))

    def log_message(self, *args: object) -> None:
        """Quiet."""


def _status(handler: BaseHTTPRequestHandler, code: int) -> None:
    body = json.dumps({"error": {"message": f"scripted {code}", "type": "server_error"}}).encode()
    handler.send_response(code)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def _stream(handler: BaseHTTPRequestHandler, pieces: list[str], *, cut: bool = False) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "text/event-stream")
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()
    for piece in pieces:
        data = _chunk(piece)
        handler.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        handler.wfile.flush()
    if cut:  # the connection drops mid-answer, as when the server process dies
        handler.close_connection = True
        handler.connection.shutdown(2)
        return
    done = b"data: [DONE]\n\n"
    handler.wfile.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(done), done))


@pytest.fixture
def scripted() -> Iterator[Callable[[Callable[[BaseHTTPRequestHandler, int], None]], tuple[str, list[int]]]]:
    """Serve a script (handler, call number) on 127.0.0.1; return its base URL and the list of calls."""
    servers: list[ThreadingHTTPServer] = []

    def serve(script: Callable[[BaseHTTPRequestHandler, int], None]) -> tuple[str, list[int]]:
        calls: list[int] = []
        handler = type("Handler", (_Scripted,), {"script": staticmethod(script), "calls": calls})
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        servers.append(httpd)
        return f"http://127.0.0.1:{httpd.server_address[1]}/v1", calls

    yield serve
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()


def _llm(url: str, attempts: int = 3) -> OpenAICompatibleLLM:
    return OpenAICompatibleLLM(url, "m", None, attempts=attempts, backoff=0.1, backoff_max=0.15, timeout=10)


def _hi(llm: OpenAICompatibleLLM) -> str:
    return "".join(llm.stream([{"role": "user", "content": "hi"}], max_tokens=8))


def test_5xx_is_retried_with_backoff_then_answers(scripted) -> None:
    url, calls = scripted(lambda h, n: _status(h, 503) if n < 3 else _stream(h, ["Hello", " world"]))
    llm = _llm(url)
    started = time.monotonic()
    assert _hi(llm) == "Hello world"
    assert calls == [1, 2, 3]
    assert time.monotonic() - started >= 0.1 + 0.15  # waited between the tries


def test_5xx_gives_up_after_the_bounded_tries(scripted) -> None:
    url, calls = scripted(lambda h, n: _status(h, 500))
    with pytest.raises(LLMError, match=rf"the LLM server at {url} kept failing \(HTTP 500, 3 tries"):
        _hi(_llm(url))
    assert len(calls) == 3


def test_a_cut_stream_is_not_retried_once_text_was_delivered(scripted) -> None:
    url, calls = scripted(lambda h, n: _stream(h, ["Geneva", " on"], cut=True))
    got: list[str] = []
    with pytest.raises(LLMError, match=rf"the model server at {url} stopped mid-answer"):
        for piece in _llm(url).stream([{"role": "user", "content": "hi"}], max_tokens=8):
            got.append(piece)
    assert got == ["Geneva", " on"] and calls == [1]  # delivered pieces stay, nothing is asked twice


def test_a_cut_stream_before_any_text_is_retried(scripted) -> None:
    url, calls = scripted(lambda h, n: _stream(h, [], cut=True) if n == 1 else _stream(h, ["ok"]))
    assert _hi(_llm(url)) == "ok" and calls == [1, 2]


def test_a_client_error_is_not_retried(scripted) -> None:
    url, calls = scripted(lambda h, n: _status(h, 400))
    with pytest.raises(LLMError, match=rf"the LLM server at {url} refused the request"):
        _hi(_llm(url))
    assert calls == [1]


def test_backoff_doubles_up_to_the_cap() -> None:
    llm = OpenAICompatibleLLM("http://127.0.0.1:9/v1", "m", None, attempts=6, backoff=0.5, backoff_max=4)
    assert llm.delays() == [0.5, 1.0, 2.0, 4.0, 4.0]


def test_retry_settings_reach_the_backend(tmp_path: Path) -> None:
    from qa.llm import get_llm

    settings = Settings(data_dir=tmp_path, llm="openai", openai_base_url=f"http://127.0.0.1:{free_port()}/v1",
                        openai_model="m", llm_attempts=2, llm_backoff=0.05, llm_timeout=7)  # fmt: skip
    llm = get_llm(settings)
    assert isinstance(llm, OpenAICompatibleLLM)
    assert (llm.attempts, llm.delays(), llm.timeout) == (2, [0.05], 7)
    with pytest.raises(LLMError, match="cannot reach the LLM server at .*2 tries"):
        _hi(llm)
