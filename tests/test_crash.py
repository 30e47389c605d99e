"""kill -9 in the middle of an ingest: the next run ends in exactly the state of a clean run."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO

from index.catalog import Catalog
from index.settings import Settings
from index.store import ChunkStore

WORDS = (
    "minister council river election court storm market bank harbor school police budget vote city "
    "company strike museum airport bridge treaty border senate drought farmers union factory energy "
    "protest hospital ministry governor mayor report inquiry contract summit talks ceasefire rates"
).split()


def _corpus(path: Path, n: int = 120) -> None:
    rng = random.Random(7)
    with path.open("w") as handle:
        for i in range(n):
            body = " ".join(
                " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 20))).capitalize() + "."
                for _ in range(rng.randint(15, 30))
            )
            record = {
                "title": f"Story {i}",
                "body": body,
                "date": f"2024-02-{1 + i % 28:02d}",
                "source": "Wire",
            }
            handle.write(json.dumps({**record, "url": f"https://wire.example/{i}"}) + "\n")


def _ingest_cmd(data: Path, corpus: Path) -> tuple[list[str], dict[str, str]]:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "NEWSQA_DATA_DIR": str(data),
        "NEWSQA_WRITE_BATCH_CHUNKS": "48",
    }
    return [sys.executable, "-m", "qa.cli", "ingest", "--quiet", str(corpus)], env


def _done(data: Path) -> int:
    try:
        with sqlite3.connect(data / "catalog.sqlite3", timeout=1) as db:
            return db.execute("SELECT COUNT(*) FROM articles WHERE status = 'done'").fetchone()[0]
    except sqlite3.Error:
        return 0


def _state(data: Path) -> tuple:
    settings = Settings(data_dir=data)
    catalog = Catalog(settings.catalog_path)
    rows = sorted(
        catalog.db.execute("SELECT id, title, source_key, n_chunks, status FROM articles").fetchall()
    )
    copies = sorted(catalog.db.execute("SELECT source_key, article_id, kind FROM copies").fetchall())
    got = ChunkStore(settings).collection.get(include=["metadatas"])
    chunks = sorted(
        (i, m["article_id"], m["chunk_index"]) for i, m in zip(got["ids"], got["metadatas"], strict=True)
    )
    return rows, copies, chunks


@pytest.mark.slow
def test_kill_9_mid_ingest_converges_to_the_clean_state(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.jsonl"
    _corpus(corpus)
    killed = tmp_path / "killed"
    for wait_for_done in (1, 40):  # kill early (first batch committed) and later (mid-corpus)
        cmd, env = _ingest_cmd(killed, corpus)
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 300
        while _done(killed) < wait_for_done and proc.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(random.Random(wait_for_done).uniform(0, 0.5))
        assert proc.poll() is None, "ingest finished before it could be killed; use a bigger corpus"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    partial = _done(killed)
    assert 0 < partial < 120

    cmd, env = _ingest_cmd(killed, corpus)
    finish = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert finish.returncode == 0, finish.stdout + finish.stderr

    clean = tmp_path / "clean"
    cmd, env = _ingest_cmd(clean, corpus)
    assert subprocess.run(cmd, env=env, capture_output=True, timeout=600).returncode == 0

    killed_state, clean_state = _state(killed), _state(clean)
    rows, _, chunks = clean_state
    assert len(rows) == 120 and all(r[4] == "done" for r in rows)
    assert sum(r[3] for r in rows) == len(chunks)
    assert killed_state == clean_state


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
    _corpus(corpus, 40)
    extra.mkdir()
    for i in range(8):
        (extra / f"e{i}.txt").write_text(
            f"Title: Extra {i}\nDate: Feb 3, 2024\n\n{' '.join(WORDS[i:] * 3)}.\n"
        )
    killed = tmp_path / "killed"
    cmd, env = _ingest_cmd(killed, corpus)
    assert subprocess.run([*cmd, str(extra)], env=env, capture_output=True, timeout=600).returncode == 0

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

    clean = tmp_path / "clean"
    cmd, env = _ingest_cmd(clean, corpus)
    assert subprocess.run(cmd, env=env, capture_output=True, timeout=600).returncode == 0
    killed_state, clean_state = _state(killed), _state(clean)
    assert len(clean_state[0]) == 40 and all("updated" in r[1] for r in clean_state[0])
    assert killed_state == clean_state
