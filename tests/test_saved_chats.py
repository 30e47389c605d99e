"""Saved conversations and feedback in a real browser: two users signed in to one chat server (SmolLM2, the
sample corpus). Alice asks, reloads the page, reopens the conversation from the sidebar with its sources,
gives the answer a thumbs down with a note, and ``newsqa feedback export`` lists it; Bob sees none of it."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from chat_server import CHROMIUM, chat_server, chromium, tail
from conftest import REPO
from smollm2_server import smollm2_path

pytestmark = [pytest.mark.browser]

QUESTION = "Where will the US-Russia talks be held?"
BOBS_QUESTION = "Who did Putin speak with on the phone?"
NOTE = "The talks are in Geneva; the answer should say so."
FINISHED_JS = """() => {
    const panel = document.querySelector('#sources')?.innerText ?? '';
    return document.querySelector('#sources .nq-card:not(.nq-reading)') !== null || /do not cover|No sources/.test(panel);
}"""

if not CHROMIUM.is_file():
    pytest.skip(f"browser test needs Chromium at {CHROMIUM}", allow_module_level=True)
playwright_sync = pytest.importorskip("playwright.sync_api", reason="needs playwright")
expect = playwright_sync.expect


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, Path]]:
    """``newsqa serve --api`` with two users (alice, bob) and SmolLM2; yields (url, log, data folder)."""
    tmp = tmp_path_factory.mktemp("saved")
    users = tmp / "users.txt"
    users.write_text("alice:alice-pw\nbob:bob-pw\n")
    model = str(smollm2_path())
    env = {"NEWSQA_AUTH_FILE": str(users), "NEWSQA_LOCAL_MODEL_PATH": model}
    with chat_server(tmp, "--api", **env) as (url, log):
        yield url, log, tmp / "data"


@pytest.fixture(scope="module")
def browser(server: tuple[str, Path, Path]) -> Iterator:
    with chromium() as browser:
        yield browser


def signed_in(browser, url: str, user: str, password: str):  # noqa: ANN001, ANN201 - playwright objects
    """A new browser context signed in as ``user``; returns its page showing the chat."""
    page = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
    page.goto(url, wait_until="load")
    page.get_by_label("username").fill(user)
    page.get_by_label("password").fill(password)
    page.get_by_role("button", name="Login").click()
    expect(page.locator("#question textarea")).to_be_visible(timeout=60_000)
    return page


def export(data: Path, *args: str) -> list[dict]:
    """``newsqa feedback export`` of the data folder, parsed."""
    env = {**os.environ, "NEWSQA_DATA_DIR": str(data), "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-m", "qa.cli", "feedback", "export", *args],
        env=env, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def test_a_conversation_is_saved_reopened_and_rated_and_another_user_sees_none_of_it(
    browser,
    server: tuple[str, Path, Path],  # noqa: ANN001
) -> None:
    url, log, data = server
    alice = signed_in(browser, url, "alice", "alice-pw")
    alice.locator("#question textarea").fill(QUESTION)
    alice.locator("#question textarea").press("Enter")
    try:
        alice.wait_for_function(FINISHED_JS, timeout=240_000)
    except playwright_sync.TimeoutError:
        pytest.fail(f"no answer within 240 s; server log:\n{tail(log)}")
    saved = alice.locator("#saved-chats")
    expect(saved).to_contain_text("US-Russia talks", timeout=15_000)  # saved, listed under its question
    answer_text = alice.locator("#chat .message.bot, #chat [data-testid='bot']").last.inner_text()
    sources = alice.locator("#sources").inner_text()

    alice.reload(wait_until="load")  # a new page: the chat is empty, the sidebar still lists it
    expect(alice.locator("#question textarea")).to_be_visible(timeout=60_000)
    expect(saved).to_contain_text("US-Russia talks", timeout=15_000)
    assert QUESTION not in alice.locator("#chat").inner_text()
    saved.locator("label").filter(has_text="US-Russia talks").first.click()
    expect(alice.locator("#chat")).to_contain_text(QUESTION, timeout=15_000)
    expect(alice.locator("#chat")).to_contain_text(answer_text.strip()[:40], timeout=15_000)
    reopened = alice.locator("#sources")
    for _ in range(30):  # reopened with the same Sources panel
        if reopened.inner_text() == sources:
            break
        alice.wait_for_timeout(500)
    assert reopened.inner_text() == sources

    alice.locator("#chat button[aria-label='Dislike']").first.click()
    note = alice.locator("#feedback-note textarea")
    expect(note).to_be_visible(timeout=15_000)
    expect(alice.locator("#feedback-note")).to_contain_text("on answer 1 saved")
    note.fill(NOTE)
    alice.locator("#feedback-save").click()
    expect(note).to_be_hidden(timeout=15_000)

    rows = export(data)
    assert len(rows) == 1, rows
    row = rows[0]
    assert (row["user"], row["rating"], row["note"], row["question"]) == ("alice", "down", NOTE, QUESTION)
    assert row["answer"]["text"] and row["answer"]["retrieved"], "the answer is stored with its passages"
    assert row["options"]["top_k"] >= 1 and row["settings"]["model"].startswith("SmolLM2")

    bob = signed_in(browser, url, "bob", "bob-pw")
    bob.locator("#question textarea").fill(BOBS_QUESTION)
    bob.locator("#question textarea").press("Enter")
    bob.wait_for_function(FINISHED_JS, timeout=240_000)
    expect(bob.locator("#saved-chats")).to_contain_text("Who did Putin speak", timeout=15_000)
    assert bob.locator("#saved-chats label").count() == 1  # his own, and not alice's
    assert "US-Russia" not in bob.locator("#saved-chats").inner_text()
    assert export(data, "--user", "bob") == []
    alice.reload(wait_until="load")
    expect(saved).to_contain_text("US-Russia talks", timeout=15_000)
    assert "Who did Putin speak" not in saved.inner_text() and saved.locator("label").count() == 1


def test_serve_with_api_answers_openai_clients_beside_the_page(server: tuple[str, Path, Path]) -> None:
    """``newsqa serve --api``: the HTTP API under /api, with the page's users as its credentials."""
    url, _, _ = server
    api = f"{url}api"
    assert httpx.get(f"{api}/healthz", timeout=30).json()["status"] == "ok"  # open, for monitors
    refused = httpx.get(f"{api}/v1/stats", timeout=30)
    assert refused.status_code == 401 and "credentials" in refused.json()["error"]["message"]
    basic = {"Authorization": "Basic " + base64.b64encode(b"bob:bob-pw").decode()}
    assert httpx.get(f"{api}/v1/stats", headers=basic, timeout=30).json()["articles"] == 2
    docs = httpx.get(f"{api}/docs", headers=basic, timeout=30).text
    assert "/api/openapi.json" in docs  # the schema page finds its schema under the prefix
    schema = httpx.get(f"{api}/openapi.json", headers=basic, timeout=30).json()
    assert "/v1/chat/completions" in schema["paths"]
    client = openai.OpenAI(base_url=f"{api}/v1", api_key="unused", default_headers=basic, max_retries=0)
    done = client.chat.completions.create(
        model="newsqa",
        messages=[{"role": "user", "content": QUESTION}],
        extra_body={"newsqa": {"style": "short"}},
    )
    assert done.choices[0].message.content
    assert isinstance(done.model_extra.get("citations"), list)  # the sources travel with the answer
    assert "newsqa" in httpx.get(url, timeout=30).text  # the page is still served at /
