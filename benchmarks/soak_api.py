"""The soak's HTTP API clients: each a thread asking question after question (streamed and plain chat
completions, ``/v1/ask``), honouring ``Retry-After`` when the line is full; and one client process killed
mid-answer. Every request ends as one :class:`~benchmarks.soak_report.Outcome`.
"""

from __future__ import annotations

import json
import queue
import random
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

from benchmarks.soak_report import Outcome, Tally

TIMEOUT = httpx.Timeout(connect=10, read=600, write=30, pool=30)  # a full line waits about 2 minutes
Clock = Callable[[], float]  # seconds since the load started


def error_kind(status: int, body: Any) -> str:
    """The outcome kind of an HTTP error status and its JSON body."""
    kind = body.get("error", {}).get("type") if isinstance(body, dict) else None
    if status == 503 and kind in ("queue_full", "llm_unavailable"):
        return kind
    return "server_error" if status >= 500 else "client_error"


class ApiClient:
    """One API client: asks until ``stop`` is set, then returns (finishing the request under way)."""

    def __init__(
        self, number: int, base: str, key: str, tally: Tally, clock: Clock, stop: threading.Event,
        question: Callable[[random.Random], str],
    ) -> None:  # fmt: skip
        self.base, self.tally, self.clock, self.stop, self.question = base, tally, clock, stop, question
        self.rng = random.Random(number)
        self.http = httpx.Client(headers={"Authorization": f"Bearer {key}"}, timeout=TIMEOUT, trust_env=False)

    def run(self) -> None:
        """Ask, record, pause a moment (or as long as ``Retry-After`` says), until stopped."""
        try:
            while not self.stop.is_set():
                outcome = self.ask_once()
                self.tally.add(outcome)
                self.stop.wait(outcome.retry_after or self.rng.uniform(0.2, 1.5))
        finally:
            self.http.close()

    def ask_once(self) -> Outcome:
        """One request of a random form; its outcome."""
        question, roll = self.question(self.rng), self.rng.random()
        started = time.monotonic()
        try:
            if roll < 0.5:
                kind, first, wait = self._streamed(question, started)
            else:
                kind, first, wait = self._plain(question, ask=roll > 0.8)
        except httpx.TimeoutException as exc:
            kind, first, wait, detail = "timeout", None, None, type(exc).__name__
        except httpx.TransportError as exc:
            kind, first, wait, detail = "transport", None, None, f"{type(exc).__name__}: {exc}"
        else:
            detail = ""
        return Outcome("api", kind, self.clock(), first, wait, detail)

    def _body(self, question: str, stream: bool) -> dict[str, Any]:
        return {"model": "newsqa", "stream": stream, "messages": [{"role": "user", "content": question}],
                "newsqa": {"style": "short"}}  # fmt: skip

    def _plain(self, question: str, ask: bool) -> tuple[str, None, int | None]:
        if ask:
            reply = self.http.post(f"{self.base}/v1/ask", json={"question": question, "style": "short"})
        else:
            reply = self.http.post(f"{self.base}/v1/chat/completions", json=self._body(question, False))
        if reply.status_code == 200:
            return "answered", None, None
        return _refusal(reply)

    def _streamed(self, question: str, started: float) -> tuple[str, float | None, int | None]:
        url, first = f"{self.base}/v1/chat/completions", None
        with self.http.stream("POST", url, json=self._body(question, True)) as reply:
            if reply.status_code != 200:
                reply.read()
                return _refusal(reply)
            for line in reply.iter_lines():
                if line == "data: [DONE]":
                    return "answered", first, None
                if not line.startswith("data: {"):
                    continue
                chunk = json.loads(line[6:])
                if "error" in chunk:
                    status = chunk["error"].get("status", 500)
                    return error_kind(status, chunk), first, None
                if first is None and (chunk["choices"][0]["delta"].get("content") or ""):
                    first = time.monotonic() - started
        return "incomplete", first, None


def _refusal(reply: httpx.Response) -> tuple[str, None, int | None]:
    try:
        body = reply.json()
    except ValueError:
        body = None
    kind = error_kind(reply.status_code, body)
    wait = reply.headers.get("Retry-After")
    return kind, None, int(wait) if kind == "queue_full" and wait and wait.isdigit() else None


KILLED_CLIENT = """
import json, sys, httpx
url, key, question = sys.argv[1:4]
body = {"model": "newsqa", "stream": True, "messages": [{"role": "user", "content": question}]}
headers = {"Authorization": f"Bearer {key}"}
with httpx.stream("POST", url, json=body, headers=headers, timeout=600, trust_env=False) as reply:
    print(reply.status_code, flush=True)
    for line in reply.iter_lines():
        chunk = json.loads(line[6:]) if line.startswith("data: {") else {}
        if chunk.get("choices", [{}])[0].get("delta", {}).get("content"):
            print("token", flush=True)
"""


def kill_mid_answer(base: str, key: str, question: str, deadline: float) -> str:
    """Run a client process that streams an answer and ``kill -9`` it at its first token; after a 503 (or
    an answer without text) it asks again a second later. At ``deadline`` (a ``time.monotonic()`` value)
    it is killed wherever it is, typically waiting in line. What happened, in words."""
    began = time.monotonic()
    cmd = [sys.executable, "-c", KILLED_CLIENT, f"{base}/v1/chat/completions", key, question]
    while True:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=_read_lines, args=(proc, lines), daemon=True).start()
        status = _next_line(lines, deadline)
        token = status == "200" and _next_line(lines, deadline) == "token"
        proc.kill()  # SIGKILL: no goodbye to the server
        proc.wait(timeout=30)
        when = f"{time.monotonic() - began:.1f} s after it first asked"
        if token:
            return f"kill -9 at its first token, {when}"
        if time.monotonic() >= deadline:
            return f"kill -9 while it waited in line (no token by the deadline), {when}"
        time.sleep(1)  # refused, or answered without text: not a polite client, it wants its place


def _read_lines(proc: subprocess.Popen[str], lines: queue.Queue[str]) -> None:
    for line in proc.stdout or ():
        lines.put(line.strip())
    lines.put("end")


def _next_line(lines: queue.Queue[str], deadline: float) -> str:
    """The client's next line, or "" at the deadline."""
    try:
        return lines.get(timeout=max(0.01, deadline - time.monotonic()))
    except queue.Empty:
        return ""
