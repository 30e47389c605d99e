"""``newsqa watch`` as a real process over a folder: a file dropped in is ingested within one cycle and
answered by another process; an edited file replaces its article; a deleted file's article is removed;
Ctrl-C stops it cleanly. Also: nothing to watch is a usage error."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

from conftest import LAYOUT_A, LAYOUT_B, REPO

from index.settings import Settings
from qa.answer import Engine


def _titles(data: Path) -> list[str]:
    try:
        with sqlite3.connect(data / "catalog.sqlite3", timeout=1) as db:
            return sorted(r[0] for r in db.execute("SELECT title FROM articles WHERE status = 'done'"))
    except sqlite3.Error:
        return []


def _wait(condition, limit: float = 60) -> bool:  # noqa: ANN001 - a predicate
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def test_watch_ingests_changes_as_they_happen(tmp_path: Path) -> None:
    folder, data = tmp_path / "in", tmp_path / "data"
    folder.mkdir()
    shutil.copy(LAYOUT_A, folder / "a.txt")
    env = {**os.environ, "PYTHONPATH": str(REPO), "NEWSQA_DATA_DIR": str(data)}
    proc = subprocess.Popen([sys.executable, "-m", "qa.cli", "watch", str(folder)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    lines: list[str] = []  # the watcher's log, read as it is written
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True)
    reader.start()

    def logged(text: str) -> bool:
        return any(text in line for line in list(lines))

    try:
        assert _wait(lambda: logged(" start: added 1 article(s)")), lines
        shutil.copy(LAYOUT_B, folder / "b.txt")  # a new file: ingested within one cycle
        assert _wait(lambda: len(_titles(data)) == 2, limit=30), "a new file was not picked up"
        engine = Engine(Settings(data_dir=data))  # another process's view, through the catalog
        answer = engine.ask("What are the three negotiation tracks?", as_of="2022-01-05")
        assert not answer.abstained and any(c.article_id for c in answer.citations), answer.text
        assert any("Geneva" in c.passage.text for c in answer.citations)

        edited = (folder / "a.txt").read_text().replace("Putin warns Biden", "Putin cautions Biden", 1)
        (folder / "a.txt").write_text(edited)  # an edit: the article is replaced
        assert _wait(lambda: logged("replaced 1"), limit=30), lines
        assert len(_titles(data)) == 2 and any(t.startswith("Putin cautions Biden") for t in _titles(data))
        (folder / "b.txt").unlink()  # a deletion: its article is removed
        assert _wait(lambda: logged("removed 1 article(s) of deleted files"), limit=30), lines
        assert len(_titles(data)) == 1
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
        reader.join(timeout=10)
    assert proc.returncode == 0, lines
    assert lines[-1].strip() == "stopped", lines


def test_nothing_to_watch_is_a_usage_error(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "NEWSQA_DATA_DIR": str(tmp_path / "data")}
    done = subprocess.run([sys.executable, "-m", "qa.cli", "watch"], env=env, capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert done.returncode == 2 and "nothing to watch" in done.stderr
