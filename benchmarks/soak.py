"""``newsqa bench soak``: the whole server under a steady crowd for M minutes, and what it looked like after.

What runs (all on 127.0.0.1, in a fresh work folder): a Chroma server (``chroma run``); the model server
(``newsqa model-server``: SmolLM2-135M by default, for speed, or the packaged model, or any GGUF file);
``newsqa serve --api`` (the chat page and the HTTP API in one process, the chunks on the Chroma server,
answering through the model server; it ingests the sample corpus on start); ``newsqa watch`` over a folder
into which a feed writes a new article file every ``article_every`` seconds.

What it does meanwhile: N API clients (:mod:`benchmarks.soak_api`) and M chat sessions
(:mod:`benchmarks.soak_chat`) ask question after question; the Library tab deletes one of the feed's
articles every ``delete_every`` seconds; from 15 % of the run, a client process asks until it gets its
first token and is ``kill -9``-ed then; half-way, the model server is stopped and started again.

What it reports (:mod:`benchmarks.soak_report`): answers, errors by kind, 503s, first-token p50/p95, the
chat's queue places, the index's article count against what the feed and the deletions imply, the API's
line at the end, errors in the server's log, and the server process's RSS, open files and threads after a
warm-up and at the end.
"""

from __future__ import annotations

import os
import random
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import httpx

from benchmarks.soak_api import ApiClient, kill_mid_answer
from benchmarks.soak_chat import ChatPage, ChatSession, delete_one
from benchmarks.soak_procs import Service, SoakError, free_port, http_ok, sample, smollm2_model
from benchmarks.soak_report import Outcome, SoakReport, Tally

API_KEY = "soak-key"
OUTLET = "Soak Wire"
SAMPLE_QUESTIONS = (
    "What did Putin warn Biden about?",
    "Where will the US-Russia talks be held?",
    "What did Putin say about legally binding security guarantees?",
)
TOWNS = ("Lisbon", "Tampere", "Ghent", "Brno", "Utrecht", "Bergen", "Graz", "Aarhus", "Lyon", "Turin")
PLANS = ("tram line", "flood barrier", "housing", "bike lane", "district heating", "school")
START_TIMEOUT_S = 300.0  # each server: model loads, the sample ingest, on a busy machine
DRAIN_S = 300.0  # after the load, the requests under way must end within this (a full line waits ~2 min)
Echo = Callable[[str], None]


@dataclass
class SoakOptions:
    """What ``newsqa bench soak`` runs (see the module docstring)."""

    minutes: float = 30.0
    api_clients: int = 6
    chat_sessions: int = 2
    model: str = "smollm2"  # "smollm2", "packaged", or the path of a .gguf file
    max_waiting: int | None = None  # NEWSQA_API_MAX_WAITING for the server (None: its derived default)
    article_every: float = 20.0
    delete_every: float = 60.0
    workdir: Path | None = None  # kept afterwards; default a temporary folder, removed


class QuestionBook:
    """The questions clients ask: the sample corpus's, and about the feed's articles."""

    def __init__(self) -> None:
        self.titles: list[str] = []
        self._lock = threading.Lock()

    def add(self, title: str) -> None:
        """A new article to ask about."""
        with self._lock:
            self.titles.append(title)

    def pick(self, rng: random.Random) -> str:
        """A question: two in five about one of the last ten feed articles, when there are any."""
        with self._lock:
            recent = self.titles[-10:]
        if recent and rng.random() < 0.4:
            return f"What did the council decide in the story '{rng.choice(recent)}'?"
        return rng.choice(SAMPLE_QUESTIONS)


def write_article(folder: Path, number: int, rng: random.Random) -> str:
    """A new article file in ``folder`` (written aside, then renamed, so the watcher never sees it half
    written); its title."""
    town, plan = rng.choice(TOWNS), rng.choice(PLANS)
    title = f"{town} council approves {plan} plan number {number}"
    votes, cost = rng.randint(20, 40), rng.randint(5, 90)
    body = (
        f"{town} - The city council of {town} voted {votes} to {rng.randint(1, 19)} on Monday to approve "
        f"the {plan} plan number {number}, worth {cost} million euros, the mayor's office said. Work is to "
        f"start next spring and end within {rng.randint(2, 6)} years. Opponents said the {plan} plan was "
        f"too expensive; supporters said it would serve {rng.randint(10, 90)} thousand residents."
    )
    text = f"Source: {OUTLET}\nTitle: {title}\nDate: {date.today().isoformat()}\n\n{body}\n"
    aside = folder / f"article-{number:05d}.part"
    aside.write_text(text)
    aside.rename(folder / f"article-{number:05d}.txt")
    return title


class Stack:
    """The servers of a soak, started together and stopped together (a context manager)."""

    def __init__(self, work: Path, options: SoakOptions) -> None:
        self.work, self.options = work, options
        self.incoming = work / "incoming"
        self.incoming.mkdir(parents=True, exist_ok=True)
        ports = [free_port() for _ in range(3)]
        self.api = f"http://127.0.0.1:{ports[2]}/api"
        self.page = f"http://127.0.0.1:{ports[2]}"
        self.chroma = self._chroma(ports[0])
        self.model = self._model(ports[1])
        env = self._env(ports[0], ports[1])
        serve = [sys.executable, "-m", "qa.cli", "serve", "--api", "--port", str(ports[2])]
        self.serve = Service("newsqa serve --api", serve, env, work / "serve.log",
                             lambda: http_ok(f"{self.api}/healthz"))  # fmt: skip
        watch_log = work / "watch.log"
        watch = [sys.executable, "-m", "qa.cli", "watch", str(self.incoming)]
        self.watch = Service("newsqa watch", watch, env, watch_log,
                             lambda: " start: " in watch_log.read_text(errors="replace"))  # fmt: skip

    def llm_name(self) -> str:
        """What answers, in words."""
        model = self.options.model
        named = {"smollm2": "SmolLM2-135M (1 thread)", "packaged": "the packaged Qwen2.5-Coder-1.5B"}
        return f"{named.get(model, Path(model).name)} via newsqa model-server; Chroma server; watcher"

    def _chroma(self, port: int) -> Service:
        binary = Path(sys.executable).parent / "chroma"
        if not binary.exists():
            raise SoakError(f"no chroma command beside {sys.executable} (it comes with chromadb)")
        cmd = [
            str(binary),
            "run",
            "--path",
            str(self.work / "chroma"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ]
        return Service("chroma run", cmd, _base_env(), self.work / "chroma.log",
                       lambda: http_ok(f"http://127.0.0.1:{port}/api/v2/heartbeat"))  # fmt: skip

    def _model(self, port: int) -> Service:
        model, env = self.options.model, _base_env()
        cmd = [sys.executable, "-m", "qa.cli", "model-server", "--port", str(port)]
        if model == "smollm2":
            cmd += ["--model", str(smollm2_model())]
            env["NEWSQA_THREADS"] = "1"  # a 135M model loses little; a second thread fights the servers
        elif model != "packaged":
            cmd += ["--model", model]
        return Service("newsqa model-server", cmd, env, self.work / "model.log",
                       lambda: http_ok(f"http://127.0.0.1:{port}/v1/models"))  # fmt: skip

    def _env(self, chroma_port: int, model_port: int) -> dict[str, str]:
        env = _base_env() | {
            "NEWSQA_DATA_DIR": str(self.work / "data"),
            "NEWSQA_CHROMA_HOST": "127.0.0.1",
            "NEWSQA_CHROMA_PORT": str(chroma_port),
            "NEWSQA_CHROMA_COLLECTION": "soak",
            "NEWSQA_LLM": "openai",
            "NEWSQA_OPENAI_BASE_URL": f"http://127.0.0.1:{model_port}/v1",
            "NEWSQA_OPENAI_MODEL": "local",
            "NEWSQA_API_KEYS": API_KEY,
        }
        if self.options.max_waiting is not None:
            env["NEWSQA_API_MAX_WAITING"] = str(self.options.max_waiting)
        if self.options.model == "smollm2":  # short answers from short prompts (unless set): many a minute
            env.setdefault("NEWSQA_MAX_ANSWER_TOKENS", "60")
            env.setdefault("NEWSQA_CONTEXT_TOKENS", "150")
        return env

    def __enter__(self) -> Stack:
        """Start the Chroma and model servers, then the chat + API server (it needs the Chroma server and
        ingests the sample corpus), then launch the watcher; return once the first three answer (the
        watcher's start is awaited by ``run_soak``: it overlaps the warm-up)."""
        try:
            for first in (self.chroma, self.model):
                first.launch()
            self.chroma.wait_ready(START_TIMEOUT_S)
            self.serve.start(START_TIMEOUT_S)  # alone: two processes loading models at once slow both
            self.watch.launch()
            self.model.wait_ready(START_TIMEOUT_S)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        for service in (self.watch, self.serve, self.model, self.chroma):
            service.stop()


def _base_env() -> dict[str, str]:
    """This process's environment without the settings a soak sets itself (or must not inherit)."""
    own = ("NEWSQA_AUTH", "NEWSQA_API_KEYS", "NEWSQA_DATA_DIR", "NEWSQA_HOST", "NEWSQA_PORT",
           "NEWSQA_LLM", "NEWSQA_OPENAI_", "NEWSQA_CHROMA_", "NEWSQA_API_MAX_WAITING")  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith(own)}
    return env | {"PYTHONUNBUFFERED": "1"}


def api_client(base: str, timeout: float) -> httpx.Client:
    """An HTTP client for the soak server's API, with its key."""
    headers = {"Authorization": f"Bearer {API_KEY}"}
    return httpx.Client(base_url=base, headers=headers, timeout=timeout, trust_env=False)


def run_soak(options: SoakOptions, echo: Echo = print) -> SoakReport:
    """Start the servers, warm them up, run the load for ``options.minutes``, and report."""
    work = options.workdir or Path(tempfile.mkdtemp(prefix="newsqa-soak-"))
    work.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    try:
        echo(f"starting the servers in {work} ...")
        with Stack(work, options) as stack:
            echo(f"servers ready after {time.monotonic() - began:.0f} s; warming up ...")
            limit = "unset (derived)" if options.max_waiting is None else str(options.max_waiting)
            report = SoakReport(
                options.minutes, stack.llm_name(), options.api_clients, options.chat_sessions, limit
            )
            _warm_up(stack)  # while the watcher may still be starting
            stack.watch.wait_ready(START_TIMEOUT_S)
            report.start = sample(stack.serve.pid)
            echo(f"warm after {time.monotonic() - began:.0f} s ({report.start.line()}); "
                 f"load for {options.minutes:g} min ...")  # fmt: skip
            Load(stack, options, report, echo).run()
            _finish(stack, report)
            echo(f"done after {time.monotonic() - began:.0f} s")
        return report
    finally:
        if options.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


def _warm_up(stack: Stack) -> None:
    """One API answer and one chat answer (at once: they meet at the model) before the first figures, so
    lazy loading is not counted as growth."""
    chat = threading.Thread(target=_warm_up_chat, args=(stack.page,), daemon=True)
    chat.start()
    api = api_client(stack.api, 300)
    with api:
        body = {"model": "newsqa", "messages": [{"role": "user", "content": SAMPLE_QUESTIONS[0]}],
                "newsqa": {"style": "short"}}  # fmt: skip
        reply = api.post("/v1/chat/completions", json=body)
        if reply.status_code != 200:
            raise SoakError(f"the warm-up question failed ({reply.status_code}): {reply.text[:300]}")
    chat.join(timeout=300)


def _warm_up_chat(base: str) -> None:
    page = ChatPage(base)
    try:
        page.run("take_question", [SAMPLE_QUESTIONS[0]], "warm-up")
        page.queued("respond", [None, None, None, None, None, None, 4], "warm-up")
    finally:
        page.close()


class Load:
    """The clients, the feed, the deletions, the killed client and the model restart of one run."""

    def __init__(self, stack: Stack, options: SoakOptions, report: SoakReport, echo: Echo) -> None:
        self.stack, self.options, self.report, self.echo = stack, options, report, echo
        self.tally, self.book, self.stop = Tally(), QuestionBook(), threading.Event()
        self.began = time.monotonic()
        self.written = self.deleted = self.deletions_failed = 0

    def clock(self) -> float:
        """Seconds since the load began."""
        return time.monotonic() - self.began

    def run(self) -> None:
        """Everything at once for ``minutes``; then stop the clients and wait for the requests under way."""
        stack, tally, stop = self.stack, self.tally, self.stop
        api = [ApiClient(i, stack.api, API_KEY, tally, self.clock, stop, self.book.pick)
               for i in range(self.options.api_clients)]  # fmt: skip
        chat = [ChatSession(i, stack.page, tally, self.clock, stop, self.book.pick)
                for i in range(self.options.chat_sessions)]  # fmt: skip
        workers = [
            threading.Thread(target=c.run, name=f"soak-api-{i}", daemon=True) for i, c in enumerate(api)
        ]
        workers += [
            threading.Thread(target=c.run, name=f"soak-chat-{i}", daemon=True) for i, c in enumerate(chat)
        ]
        workers += [
            threading.Thread(target=self._feed, name="soak-feed", daemon=True),
            threading.Thread(target=self._delete, name="soak-library", daemon=True),
        ]
        self.began = time.monotonic()
        for worker in workers:
            worker.start()
        self._events(self.options.minutes * 60)
        stop.set()
        drained = time.monotonic() + DRAIN_S
        for worker in workers:
            worker.join(timeout=max(0.1, drained - time.monotonic()))
        for worker in workers:
            if worker.is_alive():  # a request that never ended: lost
                who = "chat" if "chat" in worker.name else "api"
                tally.add(Outcome(who, "timeout", self.clock(), detail=f"{worker.name} still waiting"))
        self.report.outcomes = tally.snapshot()
        self.report.chat_places = max((c.highest_place for c in chat), default=0)
        self.report.chat_waited = [sum(c.waited for c in chat), sum(c.shown_place for c in chat)]
        self.report.articles = {"written": self.written, "deleted": self.deleted,
                                "deletions_failed": self.deletions_failed}  # fmt: skip
        self.report.wall_s = self.clock()

    def _events(self, seconds: float) -> None:
        """From 15 % of the run, kill a client at its first token; half-way, restart the model server."""
        self._sleep_until(seconds * 0.15)
        deadline = time.monotonic() + max(5.0, min(300.0, seconds * 0.3))
        self.report.killed = kill_mid_answer(self.stack.api, API_KEY, SAMPLE_QUESTIONS[0], deadline)
        self.echo(f"{self.clock():.0f} s: client {self.report.killed}")
        self._sleep_until(seconds * 0.5)
        at = self.clock()
        stopped, ready = self.stack.model.restart(START_TIMEOUT_S)
        self.report.restart = {"at": at, "stopped_s": stopped, "ready_s": ready}
        self.echo(f"{at:.0f} s: model server restarted, serving again after {ready:.1f} s")
        self._sleep_until(seconds)

    def _sleep_until(self, when: float) -> None:
        time.sleep(max(0.0, when - self.clock()))

    def _feed(self) -> None:
        rng = random.Random(7)
        while not self.stop.wait(self.options.article_every):
            self.written += 1
            self.book.add(write_article(self.stack.incoming, self.written, rng))

    def _delete(self) -> None:
        page = ChatPage(self.stack.page)
        api = api_client(self.stack.api, 60)
        with api:
            try:
                while not self.stop.wait(self.options.delete_every):
                    try:
                        self.deleted += bool(delete_one(page, api, OUTLET))
                    except httpx.HTTPError as exc:
                        self.deletions_failed += 1
                        self.echo(f"{self.clock():.0f} s: a Library deletion failed: {exc}")
            finally:
                page.close()


def _finish(stack: Stack, report: SoakReport) -> None:
    """After the load: the line drained, the watcher caught up, the last figures and the server's log."""
    api = api_client(stack.api, 60)
    with api:
        deadline = time.monotonic() + 60
        line = api.get("/healthz").json()
        while (line["answering"] or line["waiting"]) and time.monotonic() < deadline:
            time.sleep(0.5)
            line = api.get("/healthz").json()
        report.line_end = line
        articles = report.articles
        articles["expected"] = 2 + articles.get("written", 0) - articles.get("deleted", 0)  # 2: the sample
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            articles["found"] = api.get("/v1/stats").json()["articles"]
            if articles["found"] == articles["expected"]:
                break
            time.sleep(1)
    time.sleep(2)  # let the last connections close
    report.end = sample(stack.serve.pid)
    report.log_errors = log_errors(stack.serve.log, stack.watch.log)


def log_errors(serve_log: Path, watch_log: Path) -> list[str]:
    """Lines of the server's log that show an error (a traceback, an ERROR), and watcher runs that failed."""
    found = [
        line.strip()
        for line in serve_log.read_text(errors="replace").splitlines()
        if "Traceback" in line or line.startswith("ERROR") or "Exception in ASGI" in line
    ]
    found += [
        f"watch: {line.strip()}"
        for line in watch_log.read_text(errors="replace").splitlines()
        if " failed " in line and " failed 0" not in line
    ]
    return found
