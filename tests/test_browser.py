"""The chat page end to end: start ``app.main()`` on an empty data folder, ask in headless Chromium, read the
streamed answer and its Sources panel. Uses the real local 1.5B model (a minute or two on 2 cores).

``NEWSQA_SCREENSHOT=1`` also saves the page to ``docs/screenshot.png``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import REPO, free_port

pytestmark = [pytest.mark.browser, pytest.mark.slow]

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
ANSWER_TIMEOUT_S = 240  # LLM load on the first question + ~10-30 s of generation
QUESTION = "Where will the US-Russia talks be held?"

if not CHROMIUM.is_file():
    pytest.skip(
        f"headless browser test needs Chromium at {CHROMIUM} (apt-get install chromium)",
        allow_module_level=True,
    )
playwright_sync = pytest.importorskip(
    "playwright.sync_api", reason="needs playwright (pip install playwright)"
)


def _tail(log: Path, lines: int = 60) -> str:
    text = log.read_text(errors="replace") if log.exists() else ""
    return "\n".join(text.splitlines()[-lines:])


def _answers(url: str) -> bool:
    """Whether the server at ``url`` answers HTTP (no proxies: it is on 127.0.0.1)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


@pytest.fixture
def chat_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """``app.main()`` in a subprocess on a fresh data folder and a free port; yields (url, log file)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    env = {
        **os.environ,  # NEWSQA_MODEL_DIR etc. come from the caller
        "PYTHONPATH": str(REPO),
        "NEWSQA_DATA_DIR": str(tmp_path / "data"),
        "NEWSQA_HOST": "127.0.0.1",
        "NEWSQA_PORT": str(port),
        "PYTHONUNBUFFERED": "1",
    }
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", "import app; app.main()"],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _answers(url):
            if proc.poll() is not None:
                pytest.fail(f"the chat server exited with code {proc.returncode}:\n{_tail(log)}")
            if time.monotonic() > deadline:
                pytest.fail(
                    f"the chat server did not answer at {url} within {START_TIMEOUT_S} s:\n{_tail(log)}"
                )
            time.sleep(1)
        yield url, log
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)


def test_chat_answers_with_cited_sources(chat_server: tuple[str, Path]) -> None:
    url, log = chat_server
    with playwright_sync.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 1000})
            page.goto(url, wait_until="load")
            box = page.get_by_placeholder("Ask about the articles…")
            box.fill(QUESTION)
            box.press("Enter")

            sources = page.locator("#sources")
            started = time.monotonic()
            try:
                # finished: the panel lists cited sources ([n]), or says why there are none
                page.wait_for_function(
                    """() => {
                        const text = document.querySelector('#sources')?.innerText ?? '';
                        return /\\[\\d+\\]/.test(text) || /do not cover|did not finish/.test(text);
                    }""",
                    timeout=ANSWER_TIMEOUT_S * 1000,
                )
            except playwright_sync.TimeoutError:
                pytest.fail(
                    f"no finished answer within {ANSWER_TIMEOUT_S} s; chat:\n"
                    f"{page.locator('#chat').inner_text()}\nserver log:\n{_tail(log)}"
                )
            elapsed = time.monotonic() - started
            page.wait_for_timeout(300)  # let the last chat update render
            panel = sources.inner_text()
            chat = page.locator("#chat").inner_text()
            print(f"\nanswered in {elapsed:.1f} s\n--- chat ---\n{chat}\n--- sources ---\n{panel}")

            if os.environ.get("NEWSQA_SCREENSHOT") == "1":
                shot = REPO / "docs" / "screenshot.png"
                shot.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(shot), full_page=True)

            assert QUESTION in chat
            assert "geneva" in chat.lower(), chat
            assert "[1]" in panel or any(f"[{n}]" in panel for n in range(2, 21)), panel
            assert "2021-12-31" in panel, panel
            assert "do not cover" not in panel, panel
        finally:
            browser.close()
