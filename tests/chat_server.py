"""The chat page as a real server for browser tests: ``app.main()`` in a subprocess on a fresh data folder
and a free port on 127.0.0.1 (the sample corpus is ingested on start), and Chromium's launch arguments."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, free_port

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
START_TIMEOUT_S = 300  # embedding model load + ingesting the sample corpus


def tail(log: Path, lines: int = 60) -> str:
    """The last ``lines`` lines of a server log."""
    text = log.read_text(errors="replace") if log.exists() else ""
    return "\n".join(text.splitlines()[-lines:])


def answers(url: str) -> bool:
    """Whether the server at ``url`` answers HTTP (no proxies: it is on 127.0.0.1)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


@contextmanager
def chat_server(tmp: Path, *args: str, **env_extra: str) -> Iterator[tuple[str, Path]]:
    """``app.main()`` (or ``newsqa serve ARGS`` when ``args`` are given) with its data folder in ``tmp``
    (plus ``env_extra``, e.g. a users file); yields (url, log file) once it answers, and stops it
    afterwards. No login unless ``env_extra`` sets one."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    env = {
        **os.environ,  # NEWSQA_MODEL_DIR etc. come from the caller
        "PYTHONPATH": str(REPO),
        "NEWSQA_DATA_DIR": str(tmp / "data"),
        "NEWSQA_HOST": "127.0.0.1",
        "NEWSQA_PORT": str(port),
        "PYTHONUNBUFFERED": "1",
    }
    for key in ("NEWSQA_AUTH", "NEWSQA_AUTH_FILE"):
        env.pop(key, None)
    env.update(env_extra)
    log = tmp / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "qa.cli", "serve", *args]
            if args
            else [sys.executable, "-c", "import app; app.main()"],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not answers(url):
            if proc.poll() is not None:
                pytest.fail(f"the chat server exited with code {proc.returncode}:\n{tail(log)}")
            if time.monotonic() > deadline:
                pytest.fail(
                    f"the chat server did not answer at {url} within {START_TIMEOUT_S} s:\n{tail(log)}"
                )
            time.sleep(0.2)
        yield url, log
    finally:
        stop_process(proc)


def stop_process(proc: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL if it has not ended within 30 s."""
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=30)


@contextmanager
def chromium() -> Iterator[Any]:
    """Headless Chromium (Debian's, driven by Playwright), closed afterwards."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
