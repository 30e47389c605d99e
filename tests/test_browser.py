"""The chat page end to end in headless Chromium: ``app.main()`` on a fresh data folder (the sample corpus
is ingested on start), the real local 1.5B model, one server for the whole module.

Asks as few questions of the model as possible (three; the others abstain before it is called):
a streamed answer with source cards and ``[n]`` links; an uploaded article asked about and cited (its
title is an HTML injection attempt, which must show as text and run nothing); a date filter that excludes
the corpus; two browser sessions at once, each seeing only its own conversation.

``NEWSQA_SCREENSHOT=1`` also saves the chat with its sources to ``docs/screenshot.png``.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from chat_server import CHROMIUM, chromium
from chat_server import chat_server as run_chat_server
from chat_server import tail as _tail
from conftest import REPO

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ANSWER_TIMEOUT_S = 240  # LLM load on the first question + ~10-30 s of generation (more on a busy machine)
QUESTION = "Where will the US-Russia talks be held?"
EVIL = "<img src=x onerror=alert(1)>"
UPLOADED = f"""Title: {EVIL}
Date: 2022-03-03
Source: Vantor Post
URL: javascript:alert(2)

The Zorblatt city council approved a new suspension bridge over the Vantor river on Thursday, after a
vote of nine to two. The bridge will cost 40 million euros and open in 2025, the mayor said.
"""
FINISHED_JS = """() => {
    const panel = document.querySelector('#sources')?.innerText ?? '';
    return document.querySelector('#sources .nq-card:not(.nq-reading)') !== null || /do not cover|No sources/.test(panel);
}"""

if not CHROMIUM.is_file():
    pytest.skip(
        f"headless browser test needs Chromium at {CHROMIUM} (apt-get install chromium)",
        allow_module_level=True,
    )
playwright_sync = pytest.importorskip(
    "playwright.sync_api", reason="needs playwright (pip install playwright)"
)
expect = playwright_sync.expect


@pytest.fixture(scope="module")
def chat_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The chat page on a fresh data folder, without login; yields (url, log file)."""
    with run_chat_server(tmp_path_factory.mktemp("chat")) as server:
        yield server


@pytest.fixture(scope="module")
def browser(chat_server: tuple[str, Path]) -> Iterator:
    with chromium() as browser:
        yield browser


class Session:
    """One browser context (its own cookies and session) on the chat page; records every dialog."""

    def __init__(self, browser, url: str, log: Path) -> None:  # noqa: ANN001 - playwright Browser
        self.context = browser.new_context(viewport={"width": 1280, "height": 1000})
        self.page = self.context.new_page()
        self.log = log
        self.dialogs: list[tuple[str, str]] = []
        self.page.on("dialog", self._dialog)
        self.off_machine: list[str] = []  # requests the page made to anything but the chat server
        self.page.on("request", self._request)
        self.page.goto(url, wait_until="load")
        expect(self.page.locator("#question textarea")).to_be_visible(timeout=60_000)

    def _dialog(self, dialog) -> None:  # noqa: ANN001 - playwright Dialog
        self.dialogs.append((dialog.type, dialog.message))
        if dialog.type == "confirm":
            dialog.accept()
        else:
            dialog.dismiss()

    def _request(self, request) -> None:  # noqa: ANN001 - playwright Request
        if not request.url.startswith(("http://127.0.0.1:", "data:", "blob:")):
            self.off_machine.append(request.url)

    def ask(self, question: str) -> None:
        box = self.page.locator("#question textarea")
        box.fill(question)
        box.press("Enter")

    def wait_finished(self) -> float:
        """Wait until the Sources panel shows cards or says why there are none; returns the seconds."""
        started = time.monotonic()
        try:
            self.page.wait_for_function(FINISHED_JS, timeout=ANSWER_TIMEOUT_S * 1000)
        except playwright_sync.TimeoutError:
            pytest.fail(
                f"no finished answer within {ANSWER_TIMEOUT_S} s; chat:\n{self.chat()}\n"
                f"sources:\n{self.sources()}\nserver log:\n{_tail(self.log)}"
            )
        self.page.wait_for_timeout(300)  # let the last chat update render
        return time.monotonic() - started

    def chat(self) -> str:
        return self.page.locator("#chat").inner_text()

    def sources(self) -> str:
        return self.page.locator("#sources").inner_text()

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def session(browser, chat_server: tuple[str, Path]) -> Iterator[Session]:  # noqa: ANN001
    s = Session(browser, *chat_server)
    try:
        yield s
    finally:
        s.close()


def test_streamed_answer_with_source_cards_and_citation_links(session: Session) -> None:
    page = session.page
    session.ask(QUESTION)
    last_bot = """() => {
        const bots = document.querySelectorAll('#chat .message.bot, #chat [data-testid="bot"]');
        const last = bots[bots.length - 1];
        return last ? last.innerText.replace(/\\s+/g, ' ').trim() : '';
    }"""
    # sources first: the passages being read are listed before the answer's first word
    before = page.wait_for_function(
        f"""() => document.querySelector('#sources .nq-card.nq-reading') ? ({last_bot})() || '-' : null""",
        timeout=ANSWER_TIMEOUT_S * 1000,
    ).json_value()
    assert "geneva" not in before.lower(), f"the answer was written before its sources were shown: {before!r}"
    expect(page.locator("#sources .nq-reading-note")).to_contain_text("Reading")
    expect(page.locator("#sources .nq-card.nq-reading .nq-date").first).to_have_text("2021-12-31")
    # streaming: answer text is in the chat while the panel still lists the passages being read
    page.wait_for_function(
        f"""() => ({last_bot})().length > 3 && document.querySelector('#sources .nq-card.nq-reading')""",
        timeout=ANSWER_TIMEOUT_S * 1000,
    )
    elapsed = session.wait_finished()
    chat, panel = session.chat(), session.sources()
    print(f"\nanswered in {elapsed:.1f} s\n--- chat ---\n{chat}\n--- sources ---\n{panel}")
    assert QUESTION in chat and "as of " in chat  # the question, with the filters it was searched with
    assert "geneva" in chat.lower(), chat

    cards = page.locator("#sources .nq-card")
    assert cards.count() >= 1, panel
    first = cards.first
    assert (
        first.locator(".nq-outlet").inner_text().strip()
    )  # the sample files name no outlet: "unknown outlet"
    assert first.locator(".nq-date").inner_text().strip() == "2021-12-31"
    assert first.locator("mark").inner_text().strip(), "the supporting quote is highlighted"

    link = page.locator('#chat a[href^="#src-"]').first
    expect(link).to_have_text(re.compile(r"\[\d+\]"))
    n = int(link.inner_text().strip("[] "))
    card = page.locator(f"#sources .nq-card[data-n='{n}']")
    expect(card).not_to_have_class(re.compile("nq-active"))
    link.click()
    expect(card).to_have_class(re.compile("nq-active"), timeout=10_000)
    expect(page.locator("#sources .nq-card.nq-active")).to_have_count(1)
    expect(card).to_be_in_viewport()
    assert session.off_machine == [], "the page fetched something from off the machine (fonts, scripts?)"

    if os.environ.get("NEWSQA_SCREENSHOT") == "1":
        shot = REPO / "docs" / "screenshot.png"
        shot.parent.mkdir(parents=True, exist_ok=True)
        page.wait_for_timeout(600)
        page.screenshot(path=str(shot), full_page=False)
    assert session.dialogs == []


def test_uploaded_article_is_cited_and_its_hostile_title_stays_text(session: Session, tmp_path: Path) -> None:
    page = session.page
    article = tmp_path / "zorblatt-bridge.txt"
    article.write_text(UPLOADED)

    page.get_by_role("tab", name="Library").click()
    page.locator("#upload input[type=file]").set_input_files([str(article)])
    page.locator("#ingest").click()
    expect(page.locator("#upload-status")).to_contain_text("Upload finished", timeout=ANSWER_TIMEOUT_S * 1000)
    expect(page.locator("#upload-results")).to_contain_text("added 1 article")
    expect(page.locator("#articles")).to_contain_text(EVIL, timeout=30_000)  # the title, as text
    expect(page.locator("#corpus")).to_contain_text("3 articles")
    expect(page.locator("#figures")).to_contain_text("Outlets: Vantor Post")

    page.get_by_role("tab", name="Chat").click()
    session.ask("What did the Zorblatt city council approve?")
    session.wait_finished()
    chat, panel = session.chat(), session.sources()
    print(f"\n--- chat ---\n{chat}\n--- sources ---\n{panel}")
    assert "bridge" in chat.lower(), chat
    card = page.locator("#sources .nq-card", has_text="Vantor Post")
    expect(card).to_have_count(1)
    expect(card.locator(".nq-title")).to_have_text(EVIL)  # shown as text
    assert card.locator("a").count() == 0  # its javascript: url is not a link
    assert page.locator("#chat a[href^='#src-']").count() >= 1

    # nothing from the article became markup anywhere (sources, examples, table), and nothing ran
    assert page.locator("img[src='x']").count() == 0
    assert page.locator("a[href^='javascript']").count() == 0
    assert session.dialogs == []

    # delete it again from the library table (the browser asks for confirmation)
    page.get_by_role("tab", name="Library").click()
    page.locator("#articles").get_by_text(EVIL).first.click()
    expect(page.locator("#selected")).to_contain_text(EVIL)
    page.locator("#delete").click()
    expect(page.locator("#selected")).to_contain_text("Deleted", timeout=60_000)
    expect(page.locator("#articles")).not_to_contain_text(EVIL, timeout=30_000)
    assert [t for t, _ in session.dialogs] == ["confirm"]


def test_typing_at_human_speed_reads_the_articles_before_enter(session: Session) -> None:
    """Reading while typing: the question typed at about 6 characters a second, a short pause, then
    Enter: llama.cpp had read the prompt up to the question (its ``cache_n``, shown in the panel's
    timings), so after Enter only the question's own tokens are read."""
    page = session.page
    box = page.locator("#question textarea")
    box.click()
    page.keyboard.type("What are the three negotiation tracks?", delay=160)
    page.wait_for_timeout(15000)  # reading the question over: the read-ahead finishes meanwhile
    box.press("Enter")
    session.wait_finished()
    panel = session.sources()
    print(f"\n--- chat ---\n{session.chat()}\n--- sources ---\n{panel}")
    tokens = re.search(r"prompt tokens (\d+) read, (\d+) cached", panel)
    assert tokens, panel
    fresh, cached = int(tokens[1]), int(tokens[2])
    assert fresh <= 60 and cached >= 5 * fresh, f"{fresh} prompt tokens read after Enter, {cached} cached"


def test_date_filter_that_excludes_the_corpus_abstains(session: Session) -> None:
    page = session.page
    since = page.locator("#f-since input").first
    since.fill("2023-01-01")
    since.press("Enter")
    session.ask(QUESTION)
    session.wait_finished()
    chat, panel = session.chat(), session.sources()
    print(f"\n--- chat ---\n{chat}\n--- sources ---\n{panel}")
    assert "do not cover" in chat and "do not cover" in panel
    assert "since 2023-01-01" in chat  # shown with the question
    assert "since 2023-01-01" in panel and QUESTION in panel  # what was searched
    assert page.locator("#sources .nq-card").count() == 0

    page.locator("#clear").click()  # Clear forgets the conversation and its sources
    expect(page.locator("#chat")).not_to_contain_text(QUESTION)
    expect(page.locator("#sources")).to_contain_text("Ask a question")


def test_stop_then_a_follow_up_in_the_same_conversation(session: Session) -> None:
    """Stop ends the answer being written (and says so); the chat takes the next question, and a follow-up
    is rewritten into a standalone question from the conversation, shown with it, and answered."""
    page = session.page
    session.ask("What did Putin warn Biden about?")
    page.wait_for_function(  # the answer is being written
        """() => {
            const bots = document.querySelectorAll('#chat .message.bot, #chat [data-testid="bot"]');
            const last = bots[bots.length - 1];
            return (last ? last.innerText.trim().length : 0) > 3
                && document.querySelector('#sources .nq-card.nq-reading') !== null;
        }""",
        timeout=ANSWER_TIMEOUT_S * 1000,
    )
    page.locator("#stop").click()
    expect(page.locator("#chat")).to_contain_text("stopped before the answer was finished", timeout=30_000)
    expect(page.locator("#sources")).to_contain_text("No sources: stopped")

    session.ask(QUESTION)
    expect(page.locator("#sources")).not_to_contain_text("No sources: stopped", timeout=60_000)  # the new one
    session.wait_finished()
    assert "geneva" in session.chat().lower(), session.chat()
    session.ask("And when will they take place?")
    expect(page.locator("#chat")).to_contain_text("searched as:", timeout=ANSWER_TIMEOUT_S * 1000)
    page.wait_for_timeout(500)
    session.wait_finished()
    chat = session.chat()
    print(f"\n--- chat ---\n{chat}\n--- sources ---\n{session.sources()}")
    asked = chat.split("searched as:")[1].splitlines()[0].lower()
    assert any(w in asked for w in ("talks", "russia", "geneva", "u.s.", "us-")), asked  # made standalone
    assert chat.count("Putin warn Biden") == 1 and chat.count(QUESTION) == 1  # one conversation, in order


def test_two_sessions_chatting_at_once_see_only_their_own_messages(
    browser,
    chat_server: tuple[str, Path],  # noqa: ANN001
) -> None:
    alice, bob = Session(browser, *chat_server), Session(browser, *chat_server)
    try:
        alice_q = "What did Putin warn Biden about?"
        bob_q = "Who won the football match last night?"  # off-topic: abstains without the model
        alice.ask(alice_q)
        expect(alice.page.locator("#sources")).to_contain_text(
            re.compile("Searching|Reading|Writing"), timeout=60_000
        )
        bob.ask(bob_q)  # queued behind Alice's answer (the model answers one question at a time)
        state = bob.page.wait_for_function(  # Bob is shown his place in the queue (or it is already over)
            f"""() => /queue: \\d+\\/\\d+/.test(document.querySelector('#sources')?.innerText ?? '')
                ? 'queued' : (({FINISHED_JS})() ? 'finished' : false)""",
            timeout=ANSWER_TIMEOUT_S * 1000,
        ).json_value()
        assert state == "queued", "Bob was not shown that his question waited for Alice's"
        box = bob.page.locator("#question textarea")
        assert box.input_value() == "" and box.is_disabled(), "a waiting question could be sent twice"
        bob.page.locator("#stop").click()  # Stop while waiting: the question comes back to the box, unasked
        expect(box).to_have_value(bob_q, timeout=10_000)
        expect(box).to_be_enabled()
        assert bob_q not in bob.chat()
        box.press("Enter")  # and is sent again
        bob.wait_finished()
        alice.wait_finished()
        a_chat, b_chat = alice.chat(), bob.chat()
        print(f"\n--- alice ---\n{a_chat}\n--- bob ---\n{b_chat}")
        assert alice_q in a_chat and bob_q not in a_chat
        assert b_chat.count(bob_q) == 1 and alice_q not in b_chat
        assert "do not cover" in b_chat
        assert "football" not in alice.sources() and "Putin warn" not in bob.sources()
        # each page reloaded starts empty: nothing of the other's conversation leaks in
        bob.page.reload(wait_until="load")
        expect(bob.page.locator("#question textarea")).to_be_visible(timeout=60_000)
        assert alice_q not in bob.chat() and bob_q not in bob.chat()
    finally:
        alice.close()
        bob.close()


def test_timeline_tab_and_a_how_did_it_develop_question(session: Session) -> None:
    """The Timeline tab shows both sample reports under their day; the chat answers "how did the story
    develop?" with the same timeline, its entries as source cards (no model call: nothing to rewrite)."""
    page = session.page
    titles = ("Putin warns Biden of severing relations", "Russian President Vladimir Putin told his US")
    page.get_by_role("tab", name="Timeline").click()
    page.locator("#timeline-story textarea").fill("Putin Biden call")
    page.locator("#timeline-show").click()
    day = page.locator("#timeline section.nq-day")
    expect(day).to_have_count(1, timeout=60_000)
    expect(day.locator(".nq-day-head")).to_have_text("2021-12-31")
    expect(day.locator(".nq-card")).to_have_count(2)
    for title in titles:
        expect(day.locator(".nq-title", has_text=title)).to_have_count(1)

    page.get_by_role("tab", name="Chat").click()
    session.ask("How did the Putin Biden call story develop?")
    session.wait_finished()
    chat = session.chat()
    print(f"\n--- chat ---\n{chat}\n--- sources ---\n{session.sources()}")
    assert "2021-12-31" in chat and all(title in chat for title in titles), chat
    expect(page.locator("#sources .nq-card")).to_have_count(2)
    assert page.locator('#chat a[href^="#src-"]').count() == 2  # each entry's [n] links to its card
    assert session.dialogs == [] and session.off_machine == []
