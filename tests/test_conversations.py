"""Saved conversations and feedback without a browser: the SQLite store (per-user isolation, ratings and
notes, two processes at once), an exchange saved and rebuilt, the record a rating keeps, and
``newsqa feedback export``."""

from __future__ import annotations

import json
import multiprocessing
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from index.settings import Settings
from qa.cli import cli
from qa.conversations import ConversationNotFound, ConversationStore, title_of
from qa.models import Answer, Citation, Passage, Timings
from qa.ui.chat import Exchange, chat_messages
from qa.ui.filters import SearchOptions
from qa.ui.saved_chats import answer_record, user_of

PASSAGE = Passage(1, "a:0", "a", "Talks in Geneva", "Reuters", "2021-12-31", "https://example.org/a",
                  "The talks will be held in Geneva on January 10.", 0.71)  # fmt: skip


def an_answer() -> Answer:
    citation = Citation(1, "The talks will be held in Geneva on January 10.", PASSAGE)
    return Answer("Where are the talks?", "In Geneva [1].", [citation], [PASSAGE], Timings(1.0, 2.0, 3.0),
                  "test-model", retrieved=[PASSAGE])  # fmt: skip


def test_conversations_are_listed_loaded_and_updated_per_user(tmp_path: Path) -> None:
    store = ConversationStore.in_folder(tmp_path)
    first = store.save("alice", None, [{"question": "Where are the talks?", "text": "In Geneva [1]."}])
    other = store.save("alice", None, [{"question": "Who won?", "text": "…"}])
    store.save("alice", first, [{"question": "Where are the talks?"}, {"question": "When?"}])
    listed = store.conversations("alice")
    assert [c.id for c in listed] == [first, other] or [c.id for c in listed] == [other, first]
    assert {c.id: c.turns for c in listed} == {first: 2, other: 1}
    assert [e["question"] for e in store.load("alice", first)] == ["Where are the talks?", "When?"]
    assert store.conversations("bob") == []
    with pytest.raises(ConversationNotFound):
        store.load("bob", first)  # another user's id is not found, not shown
    with pytest.raises(ConversationNotFound):
        store.save("bob", first, [{"question": "overwrite?"}])
    with pytest.raises(ConversationNotFound):
        store.delete("bob", first)
    store.delete("alice", first)
    assert [c.id for c in store.conversations("alice")] == [other]
    with pytest.raises(ValueError, match="empty"):
        store.save("alice", None, [])


def test_ratings_and_notes_are_kept_per_answer_and_exported(tmp_path: Path) -> None:
    store = ConversationStore.in_folder(tmp_path)
    chat = store.save("alice", None, [{"question": "q1"}, {"question": "q2"}])
    store.rate("alice", chat, 1, "up", {"question": "q2", "answer": {"text": "a2"}})
    store.rate("alice", chat, 1, "down", {"question": "q2", "answer": {"text": "a2"}})  # changed mind
    assert store.annotate("alice", chat, 1, "  wrong date  ")
    assert not store.annotate("alice", chat, 0, "not rated")
    assert not store.annotate("bob", chat, 1, "not bob's")
    with pytest.raises(ConversationNotFound):
        store.rate("bob", chat, 0, "up", {})
    with pytest.raises(ValueError, match="rating"):
        store.rate("alice", chat, 0, "meh", {})  # type: ignore[arg-type]
    rows = list(store.feedback())
    assert len(rows) == 1
    assert {k: rows[0][k] for k in ("user", "turn", "rating", "note", "question")} == {
        "user": "alice", "turn": 1, "rating": "down", "note": "wrong date", "question": "q2"
    }  # fmt: skip
    assert list(store.feedback(rating="up")) == [] and list(store.feedback(user="bob")) == []
    store.delete("alice", chat)
    assert len(list(store.feedback())) == 1, "feedback outlives the conversation, for evaluation"
    store.rate("alice", store.save("alice", None, [{"question": "q"}]), 0, None, {})  # withdraw: no row


def _save_many(folder: str, user: str) -> None:
    store = ConversationStore.in_folder(Path(folder))
    for i in range(40):
        chat = store.save(user, None, [{"question": f"{user} {i}"}])
        store.rate(user, chat, 0, "up", {"question": f"{user} {i}"})


def test_two_processes_write_one_store_without_losing_anything(tmp_path: Path) -> None:
    ConversationStore.in_folder(tmp_path).close()
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_save_many, args=(str(tmp_path), u)) for u in ("alice", "bob")]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    store = ConversationStore.in_folder(tmp_path)
    assert len(store.conversations("alice")) == len(store.conversations("bob")) == 40
    assert len(list(store.feedback())) == 80


def test_an_exchange_is_saved_and_reopened_as_it_was_shown() -> None:
    exchange = Exchange("Where are the talks?", "as of 2021-12-31")
    exchange.finish(an_answer(), 0)
    exchange.record = {"question": "Where are the talks?"}
    stopped = Exchange("And when?", text="On Jan")  # still being written when saved
    data = json.loads(json.dumps([exchange.to_dict(), stopped.to_dict()]))  # as stored
    reopened = [Exchange.from_dict(d) for d in data]
    assert chat_messages(reopened)[:2] == chat_messages([exchange])
    assert reopened[0].panel == exchange.panel and "Talks in Geneva" in reopened[0].panel
    assert reopened[0].finished and reopened[0].record == exchange.record
    assert not reopened[1].finished and "not finished" in reopened[1].note
    assert Exchange.from_dict({"question": "q", "from a newer version": 1}).question == "q"


def test_a_rating_keeps_question_answer_passages_options_and_settings() -> None:
    options = SearchOptions(since=date(2021, 12, 1), outlets=("Reuters",), top_k=3)
    record = answer_record("Where are the talks?", an_answer(), options, Settings())
    json.dumps(record)  # JSON-ready
    assert record["answer"]["citations"][0]["quote"].startswith("The talks")
    assert record["answer"]["retrieved"][0]["text"] == PASSAGE.text
    assert record["options"] == {"since": "2021-12-01", "until": None, "outlets": ["Reuters"],
                                 "as_of": None, "top_k": 3}  # fmt: skip
    assert record["settings"]["model"] == "test-model" and record["settings"]["llm"] == "local"
    timeline = answer_record("How did it develop?", None, SearchOptions(), Settings(), reply="2021-12-31: …")
    assert timeline["answer"] is None and timeline["reply"] and timeline["options"]["top_k"] == 4


def test_titles_and_users() -> None:
    assert title_of("  Where   are the talks? ") == "Where are the talks?"
    long = title_of("word " * 40)
    assert long.endswith("…") and len(long) <= 61
    assert user_of(None) == "local"

    class Request:
        username = "alice"

    assert user_of(Request()) == "alice"  # type: ignore[arg-type]


def test_feedback_export_writes_json_lines(tmp_path: Path) -> None:
    runner = CliRunner()
    data = tmp_path / "data"
    empty = runner.invoke(cli, ["--data-dir", str(data), "feedback", "export"])
    assert empty.exit_code == 1 and "no saved conversations" in empty.output
    store = ConversationStore.in_folder(data)
    chat = store.save("alice", None, [{"question": "q1"}])
    store.rate("alice", chat, 0, "down", {"question": "q1", "answer": None})
    store.annotate("alice", chat, 0, "ünïcode note")
    out = tmp_path / "feedback.jsonl"
    done = runner.invoke(
        cli, ["--data-dir", str(data), "feedback", "export", "-o", str(out), "--rating", "down"]
    )
    assert done.exit_code == 0, done.output
    assert "1 rating(s) written" in done.output
    (row,) = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert row["note"] == "ünïcode note" and row["question"] == "q1" and row["rating"] == "down"
    printed = runner.invoke(cli, ["--data-dir", str(data), "feedback", "export", "--user", "bob"])
    assert printed.exit_code == 0 and printed.stdout == ""
