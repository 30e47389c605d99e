"""``newsqa bench load``: concurrent sessions against a real SmolLM2 model server, and the leak check itself."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO
from smollm2_server import ModelServer

from benchmarks.load import find_leaks, plan_questions, session_tag
from qa.models import Answer


@pytest.fixture
def server(smollm2_server: ModelServer) -> ModelServer:
    """The session's SmolLM2 model server, once it serves."""
    smollm2_server.wait()
    return smollm2_server


def _figure(output: str, label: str) -> str:
    match = re.search(rf"^{label}:\s+(.*)$", output, re.MULTILINE)
    assert match, f"no {label!r} line in:\n{output}"
    return match.group(1)


def test_bench_load_three_users_two_questions(server: ModelServer, tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "qa.cli", "--data-dir", str(tmp_path / "data"), "bench", "load",
           "--users", "3", "--questions", "2", "--llm-url", server.url, "--llm-model", "smollm2",
           "--request-timeout", "300", "--time-limit", "600", "--short"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    out = done.stdout
    assert done.returncode == 0, f"{out}\n{done.stderr[-3000:]}"
    assert "threads over one shared Engine" in _figure(out, "mode")
    assert _figure(out, "users") == "3" and _figure(out, "questions/user") == "2"
    assert _figure(out, "total requests").startswith("6 (3 follow-ups)")
    assert _figure(out, "answered").startswith("6 (")
    # every follow-up was rewritten by the model; the other answers may abstain before it is asked
    assert re.search(r"\d written by the LLM, 3 follow-ups rewritten by it", _figure(out, "answered"))
    assert _figure(out, "errors").startswith("0 ")
    assert _figure(out, "history leaks").startswith("0 ")
    assert re.match(r"p50 [\d.]+ s\s+p95 [\d.]+ s\s+max [\d.]+ s\s+\(n=6\)", _figure(out, "first token"))
    assert float(_figure(out, "throughput").split()[0]) > 0


def _answer(question: str, text: str, rewritten: str | None = None) -> Answer:
    return Answer(question, text, rewritten_question=rewritten)


def test_leak_check_finds_another_sessions_tag_and_a_changed_history() -> None:
    mine, theirs = session_tag(1), session_tag(2)
    assert mine != theirs and mine.islower()
    asked = f"What happened next? (ref {mine})"
    history = [(f"Q (ref {mine})", "A")]
    clean = find_leaks(1, 1, asked, _answer(asked, "fine"), history, list(history), mine, [theirs])
    assert clean == []
    wrong = _answer(asked, "fine", rewritten=f"What did they say? (ref {theirs})")
    assert [k.where for k in find_leaks(1, 1, asked, wrong, history, list(history), mine, [theirs])] == [
        "answer.rewritten_question"
    ]
    other = _answer(f"Q (ref {theirs})", "x")
    assert (
        find_leaks(1, 1, asked, other, history, list(history), mine, [theirs])[0].where == "answer.question"
    )
    changed = [*history, (f"Q (ref {theirs})", "A")]
    wheres = {
        k.where for k in find_leaks(1, 1, asked, _answer(asked, "ok"), changed, history, mine, [theirs])
    }
    assert {"history", "history[1]"} <= wheres


def test_plan_alternates_headlines_and_follow_ups() -> None:
    plan = plan_questions(["Talks set for Geneva", "Putin warns Biden"], 0, 5, "u00xabc")
    assert [follow for _, follow in plan] == [False, True, True, False, True]
    assert all(q.endswith("(ref u00xabc)") for q, _ in plan)
    assert '"Talks set for Geneva"' in plan[0][0] and '"Putin warns Biden"' in plan[3][0]
