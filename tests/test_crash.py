"""kill -9 in the middle of an ingest: the next run ends in exactly the state of a clean run."""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
from crash_support import (
    N_ARTICLES,
    WORDS,
    clean_state,
    index_state,
    ingest_cmd,
    kill_mid_ingest,
    write_corpus,
)

from index.ingest import Ingestor
from index.settings import Settings


@pytest.mark.slow
def test_kill_9_mid_ingest_converges_to_the_clean_state(
    crash_corpus: tuple[Path, tuple], tmp_path: Path
) -> None:
    corpus, clean = crash_corpus
    killed = tmp_path / "killed"
    kill_mid_ingest(killed, lambda: ingest_cmd(killed, corpus))
    cmd, env = ingest_cmd(killed, corpus)
    finish = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert finish.returncode == 0, finish.stdout + finish.stderr

    rows, _, chunks = clean
    assert len(rows) == N_ARTICLES and all(r[4] == "done" for r in rows)
    assert sum(r[3] for r in rows) == len(chunks)
    assert index_state(Settings(data_dir=killed)) == clean


def _wait_for(data: Path, sql: str, at_least: int, proc: subprocess.Popen, limit: float = 300) -> None:
    deadline = time.time() + limit
    while proc.poll() is None and time.time() < deadline:
        try:
            with sqlite3.connect(data / "catalog.sqlite3", timeout=1) as db:
                if db.execute(sql).fetchone()[0] >= at_least:
                    return
        except sqlite3.Error:
            pass
        time.sleep(0.05)


@pytest.mark.slow
def test_kill_9_mid_replace_and_prune_converges_to_the_clean_state(tmp_path: Path) -> None:
    corpus, extra = tmp_path / "corpus.jsonl", tmp_path / "extra"
    write_corpus(corpus, 40)
    extra.mkdir()
    for i in range(8):
        (extra / f"e{i}.txt").write_text(
            f"Title: Extra {i}\nDate: Feb 3, 2024\n\n{' '.join(WORDS[i:] * 3)}.\n"
        )
    killed = tmp_path / "killed"
    cmd, env = ingest_cmd(killed, corpus)
    # the starting index: the command's own Ingestor in this process (the kills below are the processes)
    first = Ingestor(Settings(data_dir=killed, write_batch_chunks=48)).ingest([corpus, extra], progress=False)
    assert first.ok, first.summary()

    records = [json.loads(line) for line in corpus.read_text().splitlines()]
    corpus.write_text("".join(  # every story edited (same url: a replace), the extra files gone (prune)
        json.dumps({**r, "title": r["title"] + " (updated)", "body": r["body"] + " Updated."}) + "\n"
        for r in records
    ))  # fmt: skip
    for path in extra.iterdir():
        path.unlink()
    updated = "SELECT COUNT(*) FROM articles WHERE status = 'done' AND title LIKE '%updated%'"
    for at_least in (1, 12):  # kill around the prune and the first replaces, then mid-way
        proc = subprocess.Popen(
            [*cmd, "--prune"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        _wait_for(killed, updated, at_least, proc)
        time.sleep(random.Random(at_least).uniform(0, 0.3))
        assert proc.poll() is None, "ingest finished before it could be killed; use a bigger corpus"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finish = subprocess.run([*cmd, "--prune"], env=env, capture_output=True, text=True, timeout=600)
    assert finish.returncode == 0, finish.stdout + finish.stderr

    clean = clean_state(tmp_path / "clean", corpus)
    assert len(clean[0]) == 40 and all("updated" in r[1] for r in clean[0])
    assert index_state(Settings(data_dir=killed)) == clean
