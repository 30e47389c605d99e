"""``newsqa api`` as a real server on 127.0.0.1, driven by the official ``openai`` client.

The answering model is SmolLM2-135M behind a real ``newsqa model-server`` (one thread: a 135M model loses
little, and a second spinning thread slows it tenfold on a busy 2-core machine). SmolLM2 writes sensible
sentences but almost never a ``[n]`` marker, so newsqa would withdraw nearly every answer ("cited no
passage"); a small proxy between ``newsqa api`` and the model server appends `` [1]`` to an answer that has
none (answers only: never to a follow-up's rewrite), so newsqa's citation checking, quoting and the sources'
travel run on a real model's text. The proxy also keeps the prompts, to see what the rewrite was given.
The assertions are about newsqa's behaviour (sources travel with the answer and quote their passages,
history reaches the rewrite, filters apply, credentials are checked, concurrent requests keep their own
sources), not about SmolLM2's wording. Everything starts once for the module; the sample corpus goes in
through ``POST /v1/ingest``. The bounded line (``NEWSQA_API_MAX_WAITING``) is tested against the same
model server through an in-process app over the same data folder, and with a scripted engine.
"""

from __future__ import annotations

import json
import math
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from chat_server import stop_process
from conftest import LAYOUT_A, LAYOUT_B, REPO, SAMPLE, free_port
from smollm2_server import ModelServer

from qa.prompt import NOT_COVERED, REWRITE_SYSTEM

KEY = "test-key-1"
USER, PASSWORD = "alice", "s3cret:pw"
WARNING = "What did Putin warn Biden about?"  # answered by the first sample article (layout A)
GUARANTEES = "What did Putin say about legally binding security guarantees?"  # by the second (layout B)
SHORT = {"newsqa": {"style": "short"}}  # a short answer: SmolLM2 stops sooner


@dataclass
class Api:
    """The running ``newsqa api``: its base URL, the sample articles' ids by file name, the upload's result,
    and the prompts the LLM received."""

    base: str
    data: Path  # its data folder
    ids: dict[str, str]
    upload: dict[str, Any]  # what POST /v1/ingest said of the sample files and a refused one
    prompts: list[list[dict[str, str]]]

    def client(self, key: str = KEY) -> openai.OpenAI:
        """The official client, with a bearer key, no retries."""
        return openai.OpenAI(base_url=f"{self.base}/v1", api_key=key, max_retries=0, timeout=120)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        """A plain HTTP POST with the key (for the endpoints the OpenAI client has no method for)."""
        headers = {"Authorization": f"Bearer {KEY}", **kwargs.pop("headers", {})}
        return httpx.post(f"{self.base}{path}", headers=headers, timeout=120, **kwargs)


class CitingProxy:
    """Forwards chat completions to the model server, keeping each request's messages; when an answer's
    stream (its prompt quotes passages between ``<<<`` and ``>>>``) ends without a ``[n]``, adds `` [1]``."""

    def __init__(self, upstream: str) -> None:
        self.prompts: list[list[dict[str, str]]] = []
        self.model: ModelServer | None = None  # the server behind it
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                messages = json.loads(body)["messages"]
                proxy.prompts.append(messages)
                answering = "\n<<<\n" in messages[-1]["content"]
                with httpx.stream("POST", f"{upstream}{self.path.removeprefix('/v1')}", content=body,
                                  headers={"Content-Type": "application/json"}, timeout=120) as reply:  # fmt: skip
                    self.send_response(reply.status_code)
                    self.send_header("Content-Type", reply.headers.get("content-type", "text/event-stream"))
                    self.end_headers()
                    text, last = "", None
                    for line in reply.iter_lines():
                        if line.startswith("data: {"):
                            last = json.loads(line[6:])
                            if last.get("choices"):
                                text += last["choices"][0]["delta"].get("content") or ""
                        if line == "data: [DONE]" and answering and last and not re.search(r"\[\d+\]", text):
                            extra = {**last, "choices": [{"index": 0, "delta": {"content": " [1]"}}]}
                            self.wfile.write(f"data: {json.dumps(extra)}\n\n".encode())
                        self.wfile.write(f"{line}\n".encode())
                    self.wfile.flush()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True, name="citing-proxy").start()

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def llm() -> Iterator[CitingProxy]:
    """SmolLM2 behind ``newsqa model-server`` (one thread) on a free loopback port, behind the proxy; it
    loads while ``newsqa api`` starts (``api`` waits for both)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NEWSQA_THREADS", "1")
        server = ModelServer(free_port())
        server.launch()
    proxy = CitingProxy(server.url)
    proxy.model = server
    yield proxy
    proxy.close()
    server.stop()


def _env(llm: CitingProxy) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "NEWSQA_LLM": "openai",
        "NEWSQA_OPENAI_BASE_URL": llm.url,
        "NEWSQA_OPENAI_MODEL": "smollm2",
        "NEWSQA_MAX_ANSWER_TOKENS": "40",
        "NEWSQA_CONTEXT_TOKENS": "150",  # a shorter prompt: SmolLM2 reads it sooner
        "NEWSQA_API_KEYS": f"{KEY}, test-key-2",
        "NEWSQA_AUTH": f"{USER}:{PASSWORD}",
        "NEWSQA_API_MAX_WAITING": "30",  # twenty at once must all wait, whatever the answer time measured
    }


def _output(log: Any) -> str:
    log.seek(0)
    return log.read().decode(errors="replace")


def _wait_for_model(server: ModelServer | None, timeout: float = 120) -> None:
    assert server is not None and server.proc is not None
    deadline = time.monotonic() + timeout
    while not server.ready():
        if server.proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"the model server did not start: {server.output()}")
        time.sleep(0.2)


def _wait_ready(base: str, proc: subprocess.Popen[bytes], log: Any, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"newsqa api exited: {_output(log)}")
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    pytest.fail(f"newsqa api did not answer /healthz within {timeout:.0f} s")


@pytest.fixture(scope="module")
def api(llm: CitingProxy, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """``newsqa api`` over an empty data folder, the sample corpus then uploaded through /v1/ingest."""
    data = tmp_path_factory.mktemp("api-index")
    port = free_port()
    cmd = [sys.executable, "-m", "qa.cli", "--data-dir", str(data), "api", "--port", str(port)]
    log = tempfile.TemporaryFile()  # noqa: SIM115 - not a pipe: a full pipe would block the server
    proc = subprocess.Popen(cmd, cwd=REPO, env=_env(llm), stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, proc, log)
        files = [("files", (p.name, p.read_bytes(), "text/plain")) for p in sorted(SAMPLE.iterdir())]
        files.append(("files", ("notes.exe", b"MZ binary", "application/octet-stream")))
        auth = {"Authorization": f"Bearer {KEY}"}
        upload = httpx.post(f"{base}/v1/ingest", files=files, headers=auth, timeout=300)
        assert upload.status_code == 200, _output(log)
        listed = httpx.get(f"{base}/v1/articles", headers=auth, timeout=30).json()["articles"]
        first_title = LAYOUT_A.read_text().splitlines()[0].strip()
        ids = {LAYOUT_A.name if a["title"] == first_title else LAYOUT_B.name: a["id"] for a in listed}
        _wait_for_model(llm.model)
        yield Api(base, data, ids, upload.json(), llm.prompts)
    finally:
        stop_process(proc)
        output = _output(log)
        assert KEY not in output and PASSWORD not in output  # secrets never logged


def test_upload_through_the_api_then_browse_the_articles(api: Api) -> None:
    upload = api.upload
    assert upload["summary"].startswith("added 2 article(s)") and upload["ok"] is False  # one was refused
    results = {f["file"]: f for f in upload["files"]}
    assert (
        results["notes.exe"]["result"] == "refused" and "unsupported type" in results["notes.exe"]["details"]
    )
    assert results[LAYOUT_A.name]["result"] == results[LAYOUT_B.name]["result"] == "added 1 article"
    assert len(api.ids) == 2
    again = api.post("/v1/ingest", files=[("files", (LAYOUT_A.name, LAYOUT_A.read_bytes(), "text/plain"))])
    assert again.status_code == 200 and again.json()["files"][0]["result"] == "1 article already in the index"
    refused = api.post("/v1/ingest", files=[("files", ("empty.txt", b"", "text/plain"))])
    assert refused.status_code == 422 and "empty.txt: empty file" in refused.json()["error"]["message"]
    auth = {"Authorization": f"Bearer {KEY}"}
    page = httpx.get(f"{api.base}/v1/articles", params={"q": "putin", "per_page": 1, "page": 2}, headers=auth)
    assert page.json()["total"] == 2 and len(page.json()["articles"]) == 1
    none = httpx.get(f"{api.base}/v1/articles", params={"q": "football"}, headers=auth).json()
    assert none["total"] == 0 and none["articles"] == []
    stats = httpx.get(f"{api.base}/v1/stats", headers=auth).json()
    assert stats["articles"] == 2 and stats["chunks"] >= 2 and stats["first_date"].startswith("2021-12-31")


def _norm(text: str) -> str:
    return " ".join(text.split())


def _check_sources(answer_text: str, citations: list[dict[str, Any]], passages: dict[str, str]) -> None:
    """Each citation is a ``[n]`` of the text, and its quote lies in a passage of its article."""
    for c in citations:
        assert set(c) >= {"n", "title", "outlet", "date", "url", "quote"}
        assert f"[{c['n']}]" in answer_text
        assert _norm(c["quote"]) in _norm(passages[c["article_id"]]), c


def _passages(api: Api, question: str) -> dict[str, str]:
    """Every retrieved passage's text by article (``POST /v1/ask``), checking its own citations too."""
    reply = api.post("/v1/ask", json={"question": question, "style": "short"})
    assert reply.status_code == 200, reply.text
    answer = reply.json()
    assert answer["question"] == question and answer["retrieved"] and answer["citations"]
    for c in answer["citations"]:
        assert c["quote"] in c["passage"]["text"] and c["article_id"] == c["passage"]["article_id"]
    assert set(answer) >= {
        "text",
        "passages",
        "timings",
        "model",
        "abstained",
        "rewritten_question",
        "filters",
    }
    texts: dict[str, str] = {}
    for p in answer["retrieved"]:
        texts[p["article_id"]] = texts.get(p["article_id"], "") + "\n" + p["text"]
    return texts


def _split(text: str) -> tuple[str, str]:
    """(answer, source list) of a reply's text; a ``Checked answer:`` line replaces what was streamed."""
    answer, _, sources = text.partition("\n\nSources:\n")
    return answer.rsplit("\n\nChecked answer: ", 1)[-1], sources


def _source_lines(citations: list[dict[str, Any]]) -> list[str]:
    return [
        f"[{c['n']}] {c['title']} — {c['outlet'] or 'unknown outlet'}, {c['date'] or 'undated'}"
        + (f" — {c['url']}" if c["url"] else "")
        for c in citations
    ]


def test_non_streamed_completion_carries_quoted_sources(api: Api) -> None:
    reply = api.client().chat.completions.create(
        model="newsqa",
        messages=[{"role": "user", "content": WARNING}],
        temperature=0.7,  # ignored
    )
    assert reply.object == "chat.completion" and reply.choices[0].finish_reason == "stop"
    assert reply.model == api.client().models.list().data[0].id  # the index's name
    citations = reply.model_extra["citations"]
    answer, sources = _split(reply.choices[0].message.content)
    assert citations, reply.choices[0].message.content
    _check_sources(answer, citations, _passages(api, WARNING))
    assert sources.splitlines() == _source_lines(citations)  # the text-only clients' list
    info = reply.model_extra["newsqa"]
    assert info["question"] == WARNING and info["abstained"] is False and info["llm"] == "smollm2"


def test_streamed_completion_ends_with_its_citations(api: Api) -> None:
    stream = api.client().chat.completions.create(
        model="newsqa", messages=[{"role": "user", "content": GUARANTEES}], stream=True, extra_body=SHORT
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert len(chunks) > 4  # the answer came in pieces
    reading = chunks[0].model_extra["newsqa"]["reading"]  # the sources, before any text
    assert not chunks[0].choices[0].delta.content
    assert [p["n"] for p in reading] == list(range(1, len(reading) + 1)) and reading[0]["title"]
    assert {p["article_id"] for p in reading} <= set(_passages(api, GUARANTEES))
    assert all(c.choices[0].finish_reason is None for c in chunks[:-1])
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop" and len({c.id for c in chunks}) == 1
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    citations = last.model_extra["citations"]
    answer, sources = _split(text)
    assert citations, text
    _check_sources(answer, citations, _passages(api, GUARANTEES))
    assert sources.splitlines() == _source_lines(citations)
    assert last.model_extra["newsqa"]["filters"]  # the search's own (as of today, at least)


def test_follow_up_is_rewritten_from_the_history(api: Api) -> None:
    """Earlier turns reach the rewrite as (question, answer) pairs, the answer without its source list."""
    earlier = "Putin warned of severing relations if the West imposed sanctions [1]."
    follow_up = "And what did he say would happen then?"
    messages = [
        {"role": "system", "content": "You are a helpful assistant."},  # not part of the history
        {"role": "user", "content": WARNING},
        {"role": "assistant", "content": f"{earlier}\n\nSources:\n[1] Putin warns Biden — undated"},
        {"role": "user", "content": follow_up},
    ]
    seen = len(api.prompts)
    reply = api.client().chat.completions.create(model="newsqa", messages=messages, extra_body=SHORT)
    rewrites = [m for m in api.prompts[seen:] if m[0]["content"] == REWRITE_SYSTEM]
    assert len(rewrites) == 1
    prompt = rewrites[0][-1]["content"]
    assert f"User: {WARNING}\nAssistant: {earlier}\n" in prompt and "Sources:" not in prompt
    assert prompt.rstrip().endswith(f"Last question: {follow_up}\n\nRewritten:")
    info = reply.model_extra["newsqa"]
    assert info["question"] == follow_up and info["rewritten_question"]  # whatever SmolLM2 made of it


def test_prefill_takes_typed_text_under_the_same_credentials(api: Api) -> None:
    """``POST /v1/prefill``: a custom front end sends what is typed so far; the model behind this API is
    reached through a plain chat-completions proxy (no llama.cpp endpoints), so nothing is read ahead, and
    the answer with the same session is given as usual (qa/readahead.py; tests/test_readahead.py reads
    ahead against llama.cpp itself)."""
    body = {"question": "Where will the US-Russia talks", "session": "box-1", "as_of": "2022-01-05"}
    assert httpx.post(f"{api.base}/v1/prefill", json=body, timeout=30).status_code == 401
    reply = api.post("/v1/prefill", json=body | {"wait": 1})
    assert reply.status_code == 202, reply.text
    assert reply.json() == {"session": "box-1", "reading": False, "read_tokens": None, "cached_tokens": None,
                            "complete": None}  # fmt: skip
    bad = api.post("/v1/prefill", json=body | {"session": ""})
    assert bad.status_code == 422 and "session" in bad.text
    answer = api.post("/v1/ask", json={"question": WARNING, "session": "box-1", "style": "short"})
    assert answer.status_code == 200 and answer.json()["citations"], answer.text


@pytest.mark.parametrize("stream", [False, True])
def test_a_filter_that_leaves_nothing_gives_the_not_covered_answer(api: Api, stream: bool) -> None:
    options = {"newsqa": {"outlets": ["No Such Outlet"], "since": "2021-01-01", "top_k": 3}}
    reply = api.client().chat.completions.create(
        model="newsqa", messages=[{"role": "user", "content": WARNING}], stream=stream, extra_body=options
    )
    if stream:
        chunks = list(reply)
        text = "".join(c.choices[0].delta.content or "" for c in chunks)
        extra = chunks[-1].model_extra
    else:
        text, extra = reply.choices[0].message.content, reply.model_extra
    assert text == NOT_COVERED
    assert extra["citations"] == []
    assert extra["newsqa"]["abstained"] is True and extra["newsqa"]["abstain_reason"]
    assert extra["newsqa"]["filters"]["outlet"] == ["No Such Outlet"]


def test_credentials_are_required_and_never_echoed(api: Api) -> None:
    with pytest.raises(openai.AuthenticationError) as wrong:
        api.client("not-a-key").chat.completions.create(
            model="newsqa", messages=[{"role": "user", "content": "hi"}]
        )
    assert wrong.value.status_code == 401
    assert "not valid" in wrong.value.body["message"] and "not-a-key" not in wrong.value.response.text
    bare = httpx.post(f"{api.base}/v1/chat/completions", json={"model": "newsqa", "messages": []}, timeout=30)
    assert bare.status_code == 401 and bare.headers["www-authenticate"].startswith("Basic")
    assert "NEWSQA_API_KEYS" in bare.json()["error"]["message"]
    for path in ("/v1/stats", "/v1/articles", "/docs", "/openapi.json"):
        assert httpx.get(f"{api.base}{path}", timeout=30).status_code == 401, path
    stats = httpx.get(f"{api.base}/v1/stats", auth=(USER, PASSWORD), timeout=30)  # a NEWSQA_AUTH user
    assert stats.status_code == 200 and stats.json()["articles"] == 2
    assert httpx.get(f"{api.base}/v1/stats", auth=(USER, "wrong"), timeout=30).status_code == 401
    assert httpx.get(f"{api.base}/healthz", timeout=30).json()["status"] == "ok"  # open, says nothing
    schema = httpx.get(f"{api.base}/openapi.json", headers={"Authorization": "Bearer test-key-2"}, timeout=30)
    assert {"/v1/chat/completions", "/v1/ask", "/v1/ingest", "/v1/articles"} <= set(schema.json()["paths"])


def test_malformed_bodies_are_422_with_a_message(api: Api) -> None:
    with pytest.raises(openai.UnprocessableEntityError) as empty:
        api.client().chat.completions.create(model="newsqa", messages=[])
    assert empty.value.status_code == 422 and "messages" in empty.value.body["message"]
    broken = api.post(
        "/v1/chat/completions",
        content=b'{"model": "newsqa", "messages": [',
        headers={"Content-Type": "application/json"},
    )
    assert broken.status_code == 422 and "not valid JSON" in broken.json()["error"]["message"]
    with pytest.raises(openai.UnprocessableEntityError) as date:
        api.client().chat.completions.create(
            model="newsqa",
            messages=[{"role": "user", "content": WARNING}],
            extra_body={"newsqa": {"since": "last week"}},
        )
    assert "newsqa.since" in date.value.body["message"] and "YYYY-MM-DD" in date.value.body["message"]
    with pytest.raises(openai.NotFoundError) as other:
        api.client().chat.completions.create(model="gpt-4", messages=[{"role": "user", "content": WARNING}])
    assert "no index named 'gpt-4'" in other.value.body["message"]


def test_twenty_concurrent_requests_each_get_their_own_sources(api: Api) -> None:
    """Twenty at once, ten asking one question and ten another, each answered by a different article
    (``top_k`` 1): every request is answered, about its own question, citing only its own article. (Sent
    ten and ten, not alternating, so SmolLM2's prompt cache spares it re-reading the same passage.)"""
    plan = [(WARNING, api.ids[LAYOUT_A.name])] * 10 + [(GUARANTEES, api.ids[LAYOUT_B.name])] * 10
    client = api.client()

    def ask(question: str) -> Any:
        return client.chat.completions.create(
            model="newsqa",
            messages=[{"role": "user", "content": question}],
            extra_body={"newsqa": {"top_k": 1, "style": "short"}},
        )

    with ThreadPoolExecutor(max_workers=20) as pool:
        futures = []
        for question, _ in plan:
            futures.append(pool.submit(ask, question))
            time.sleep(0.03)  # arrive in this order (the line is first come, first served)
        in_line = httpx.get(f"{api.base}/healthz", timeout=30).json()["waiting"]
        replies = [f.result() for f in futures]
    assert in_line >= 5  # they were there together
    for (question, article), reply in zip(plan, replies, strict=True):
        assert reply.model_extra["newsqa"]["question"] == question  # its own answer, not another's
        citations = reply.model_extra["citations"]
        assert citations, reply.choices[0].message.content
        assert {c["article_id"] for c in citations} == {article}, question
        assert all(f"[{c['n']}]" in reply.choices[0].message.content for c in citations)
    assert httpx.get(f"{api.base}/healthz", timeout=30).json()["waiting"] == 0


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """``app`` served by uvicorn in a thread on a free loopback port; yields its base URL."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, port=free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _wait_line(base: str, wanted: Callable[[dict[str, Any]], bool], timeout: float = 30) -> dict[str, Any]:
    """``/healthz`` once ``wanted`` holds of it (fails after ``timeout`` s, showing the last one)."""
    deadline = time.monotonic() + timeout
    while True:
        line = httpx.get(f"{base}/healthz", timeout=10).json()
        if wanted(line):
            return line
        assert time.monotonic() < deadline, f"the line never got there: {line}"
        time.sleep(0.05)


class GatedLLM:
    """The real LLM behind a gate: nothing is written until the test opens it, so every request has arrived
    (and been queued or turned away) before the first answer can finish."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.gate = inner, threading.Event()

    def __getattr__(self, name: str) -> Any:  # the model's name and the rest
        return getattr(self.inner, name)

    def stream(self, messages: list[dict[str, str]], **options: Any) -> Iterator[str]:
        assert self.gate.wait(120), "the gate was never opened"
        yield from self.inner.stream(messages, **options)


def test_a_full_line_answers_what_the_setting_allows_and_turns_the_rest_away(
    api: Api, llm: CitingProxy
) -> None:
    """Five clients at once, ``NEWSQA_API_MAX_WAITING=2``, the real SmolLM2 server (through an in-process
    app over the API's data folder): one answered at once and two after waiting, two turned away with 503,
    ``Retry-After`` and an OpenAI-style error; none hangs; the line is empty afterwards."""
    from index.settings import Settings
    from qa.answer import Engine
    from qa.api.app import create_app
    from qa.llm import get_llm

    settings = Settings(data_dir=api.data, llm="openai", openai_base_url=llm.url, openai_model="smollm2",
                        max_answer_tokens=40, context_tokens=150, api_max_waiting=2, auth=None,
                        auth_file=None, api_keys=None)  # fmt: skip
    gated = GatedLLM(get_llm(settings))
    started = time.monotonic()
    engine = Engine(settings, llm=gated)
    engine.embedder.embed_query("warm up")
    with serving(create_app(engine, settings)) as base:
        arrive = threading.Barrier(5)

        def ask(i: int) -> httpx.Response:
            body = {
                "model": "newsqa",
                "messages": [{"role": "user", "content": GUARANTEES}],
                "stream": i % 2 == 1,
            }
            arrive.wait()
            # the last prompt of the test before: SmolLM2's prompt cache spares it reading it again
            options = {"newsqa": {"style": "short", "top_k": 1}}
            return httpx.post(f"{base}/v1/chat/completions", json=body | options, timeout=120)

        with ThreadPoolExecutor(max_workers=5) as pool:
            futures = [pool.submit(ask, i) for i in range(5)]
            full = _wait_line(base, lambda line: line["turned_away"] == 2 and line["answering"] == 1)
            assert (full["answering"], full["waiting"], full["max_waiting"]) == (1, 2, 2)
            gated.gate.set()
            replies = [f.result(timeout=150) for f in futures]
        after = _wait_line(base, lambda line: line["answering"] == line["waiting"] == 0, timeout=10)
        stats = httpx.get(f"{base}/v1/stats", timeout=30).json()["line"]
    assert time.monotonic() - started < 150  # none hung
    refused = [r for r in replies if r.status_code == 503]
    answered = [r for r in replies if r.status_code == 200]
    assert len(refused) == 2 and len(answered) == 3, [(r.status_code, r.text[:200]) for r in replies]
    for reply in refused:
        assert (
            reply.headers["Retry-After"] == str(full["retry_after_s"])
            and int(reply.headers["Retry-After"]) >= 1
        )
        error = reply.json()["error"]
        assert error["type"] == "queue_full" and error["status"] == 503
        assert (
            "NEWSQA_API_MAX_WAITING" in error["message"]
            and f"Try again in {full['retry_after_s']} s" in error["message"]
        )
    for reply in answered:
        if reply.headers["content-type"].startswith("text/event-stream"):
            assert reply.text.endswith("data: [DONE]\n\n") and '"citations": [{' in reply.text
        else:
            assert (
                reply.json()["newsqa"]["question"] == GUARANTEES
                and reply.json()["choices"][0]["message"]["content"]
            )
    assert after["answered"] == 3 and after["turned_away"] == 2 and after["mean_answer_s"] > 0
    assert stats["answered"] == 3 and stats["retry_after_s"] == max(1, math.ceil(stats["mean_answer_s"]))


def test_a_reachable_host_without_credentials_refuses_to_start(tmp_path: Path) -> None:
    env = {
        k: v for k, v in os.environ.items() if k not in ("NEWSQA_API_KEYS", "NEWSQA_AUTH", "NEWSQA_AUTH_FILE")
    }
    cmd = [
        sys.executable,
        "-m",
        "qa.cli",
        "--data-dir",
        str(tmp_path),
        "api",
        "--host",
        "0.0.0.0",
        "--port",
        "9",
    ]
    done = subprocess.run(
        cmd, cwd=REPO, env={**env, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert "refusing to serve the API on 0.0.0.0 without credentials" in done.stderr
    assert "--insecure" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "catalog.sqlite3").exists()  # refused before opening anything


class ScriptedEngine:
    """Stands in for ``Engine`` behind ``create_app``: answers "<question> [1]" in pieces, or fails as told
    (``down``: before the first word; ``cut``: mid-answer), and records how many answer at once."""

    def __init__(self, settings: Any) -> None:
        from types import SimpleNamespace

        self.settings = settings
        self.catalog = SimpleNamespace(rows=list, stats=lambda: None)
        self.store = SimpleNamespace(count=lambda: 0)
        self.active = self.peak = 0
        self.closed: list[str] = []
        self.started: list[str] = []
        self.release = threading.Event()  # a "hold..." question is answered only once this is set
        self.lock = threading.Lock()

    def ingestor(self) -> Any:
        return self

    def stream(self, question: str, **options: Any) -> Iterator[Any]:
        from qa.llm import LLMError
        from qa.models import Answer, Citation, Passage

        with self.lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
            self.started.append(question)
        try:
            if question.startswith("hold"):
                assert self.release.wait(30), "never released"
            if question == "down":
                raise LLMError(
                    "cannot reach the LLM server at http://127.0.0.1:9/v1 (4 tries). Is it running?"
                )
            for _ in range(4):
                time.sleep(0.01)
                yield f"{question} "
                if question == "cut":
                    raise LLMError("the model server stopped mid-answer; the answer so far is incomplete.")
            passage = Passage(1, f"{question}:0", question, "T", "O", "", "", f"About {question}.", 0.5)
            yield Answer(question, f"{question} [1]", [Citation(1, f"About {question}.", passage)], [passage])
        finally:
            with self.lock:
                self.active -= 1
                self.closed.append(question)


def test_answers_one_at_a_time_and_errors_in_words(tmp_path: Path) -> None:
    """In-process, with a scripted engine: twenty streams at once are answered one at a time, each with its
    own answer; a client that leaves stops its answer; an LLM that is down is a 503 with the reason, and
    one that fails mid-answer ends the stream with an error event (no ``[DONE]``)."""
    from index.settings import Settings
    from qa.api.app import create_app

    settings = Settings(data_dir=tmp_path, api_max_waiting=30)  # twenty at once all wait their turn
    engine = ScriptedEngine(settings)
    with serving(create_app(engine, settings)) as base:
        url = f"{base}/v1/chat/completions"

        def ask(question: str, stream: bool = True) -> httpx.Response:
            body = {"model": "newsqa", "messages": [{"role": "user", "content": question}], "stream": stream}
            return httpx.post(url, json=body, timeout=60)

        with ThreadPoolExecutor(max_workers=20) as pool:
            replies = list(pool.map(ask, [f"q{i}" for i in range(20)]))
        assert engine.peak == 1
        for i, reply in enumerate(replies):
            assert reply.text.endswith("data: [DONE]\n\n") and f'"article_id": "q{i}"' in reply.text
        with httpx.stream("POST", url, json={"model": "newsqa", "stream": True,
                                             "messages": [{"role": "user", "content": "gone"}]}) as reply:  # fmt: skip
            next(line for line in reply.iter_lines() if "gone" in line)
        deadline = time.monotonic() + 10
        while "gone" not in engine.closed and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "gone" in engine.closed  # the client left: its answer was closed
        down = ask("down", stream=False)
        assert down.status_code == 503 and "Is it running?" in down.json()["error"]["message"]
        assert ask("down").status_code == 503  # streamed too: nothing was sent yet
        cut = ask("cut")
        assert (
            cut.status_code == 200 and '"error": {"message": "the model server stopped mid-answer' in cut.text
        )
        assert "[DONE]" not in cut.text


def test_a_full_line_says_when_to_come_back_and_a_client_that_leaves_gives_up_its_place(
    tmp_path: Path,
) -> None:
    """With a scripted engine that holds every answer until released and ``NEWSQA_API_MAX_WAITING=2``: one
    answering and two waiting fill the line; the next is a 503 whose ``Retry-After`` is the assumed answer
    time (nothing measured yet); a waiting client that gives up (a plain, non-streamed request) leaves the
    line at once and is never answered, and its place goes to the next; afterwards the line is empty and
    reports the measured mean."""
    from index.settings import Settings
    from qa.api.app import create_app
    from qa.api.queue import PRIOR_ANSWER_S

    settings = Settings(data_dir=tmp_path, api_max_waiting=2)
    engine = ScriptedEngine(settings)
    prior = str(math.ceil(PRIOR_ANSWER_S))
    with serving(create_app(engine, settings)) as base, ThreadPoolExecutor(max_workers=4) as pool:

        def ask(question: str, stream: bool = False, timeout: float = 60) -> httpx.Response:
            body = {"model": "newsqa", "messages": [{"role": "user", "content": question}], "stream": stream}
            return httpx.post(f"{base}/v1/chat/completions", json=body, timeout=timeout)

        first = pool.submit(ask, "hold-1", True)
        _wait_line(base, lambda line: line["answering"] == 1)
        second = pool.submit(ask, "hold-2")
        _wait_line(base, lambda line: line["waiting"] == 1)
        body = json.dumps({"model": "newsqa", "messages": [{"role": "user", "content": "hold-3"}]}).encode()
        leaver = socket.create_connection(("127.0.0.1", int(base.rsplit(":", 1)[1])))  # leaves when told
        head = b"POST /v1/chat/completions HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        leaver.sendall(head + b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        _wait_line(base, lambda line: line["waiting"] == 2)
        full = ask("hold-4")
        assert full.status_code == 503 and full.headers["Retry-After"] == prior
        error = full.json()["error"]
        assert error["type"] == "queue_full" and f"Try again in {prior} s" in error["message"]
        leaver.close()
        _wait_line(base, lambda line: line["waiting"] == 1, timeout=5)  # its place given up
        third = pool.submit(ask, "hold-5")
        _wait_line(base, lambda line: line["waiting"] == 2)
        engine.release.set()
        assert first.result().text.endswith("data: [DONE]\n\n")
        assert [f.result().status_code for f in (second, third)] == [200, 200]
        line = _wait_line(base, lambda line: line["answering"] == line["waiting"] == 0)
    assert engine.started == ["hold-1", "hold-2", "hold-5"]  # the one that left was never answered
    assert line["answered"] == 3 and line["turned_away"] == 1 and line["max_waiting"] == 2
    assert line["auto"] is False and line["retry_after_s"] == max(1, math.ceil(line["mean_answer_s"]))


def test_the_default_limit_keeps_the_wait_near_two_minutes(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    from index.settings import Settings
    from qa.api.queue import auto_max_waiting, retry_after

    assert [auto_max_waiting(s) for s in (15, 2, 0.5, 119, 200)] == [8, 60, 100, 1, 1]
    assert [retry_after(s) for s in (0.2, 2.5, 15)] == [1, 3, 15]
    assert Settings().api_max_waiting is None  # derived unless set
    monkeypatch.setenv("NEWSQA_API_MAX_WAITING", "3")
    assert Settings().api_max_waiting == 3
    monkeypatch.setenv("NEWSQA_API_MAX_WAITING", "-1")
    with pytest.raises(ValidationError):
        Settings()


def test_the_answer_json_has_every_field_of_the_answer() -> None:
    """``POST /v1/ask`` returns ``qa.ask``'s ``Answer`` field for field: a field added to the dataclasses
    must be added to their API models too."""
    import dataclasses

    from qa.api import models as api_models
    from qa.models import Answer, Citation, OtherReport, Passage, Timings

    pairs = [(Answer, api_models.AnswerOut), (Citation, api_models.CitationOut), (Passage, api_models.PassageOut),
             (OtherReport, api_models.OtherReportOut), (Timings, api_models.TimingsOut)]  # fmt: skip
    for kind, model in pairs:
        assert {f.name for f in dataclasses.fields(kind)} <= set(model.model_fields), kind.__name__
