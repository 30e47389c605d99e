"""Helpers of the kill -9 tests (tests/test_crash.py, tests/test_chroma_server.py): a synthetic wire corpus,
the ``newsqa ingest`` command, progress read from the catalog, and an index's comparable state."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from index.catalog import Catalog
from index.ingest import Ingestor
from index.settings import Settings
from index.store import ChunkStore

REPO = Path(__file__).resolve().parent.parent
N_ARTICLES = 60  # enough that a kill lands mid-corpus (after 1 and after 20 committed articles)

WORDS = (
    "minister council river election court storm market bank harbor school police budget vote city "
    "company strike museum airport bridge treaty border senate drought farmers union factory energy "
    "protest hospital ministry governor mayor report inquiry contract summit talks ceasefire rates"
).split()


def write_corpus(path: Path, n: int = N_ARTICLES) -> None:
    """``n`` synthetic wire stories as JSON lines (the same every time)."""
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


def ingest_cmd(data: Path, corpus: Path) -> tuple[list[str], dict[str, str]]:
    """``newsqa ingest --quiet corpus`` into ``data`` (small write batches: many commits to land between)."""
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "NEWSQA_DATA_DIR": str(data),
        "NEWSQA_WRITE_BATCH_CHUNKS": "48",
    }
    return [sys.executable, "-m", "qa.cli", "ingest", "--quiet", str(corpus)], env


def done_count(data: Path) -> int:
    """Articles committed so far (0 while the catalog cannot be read)."""
    try:
        with sqlite3.connect(data / "catalog.sqlite3", timeout=1) as db:
            return db.execute("SELECT COUNT(*) FROM articles WHERE status = 'done'").fetchone()[0]
    except sqlite3.Error:
        return 0


def index_state(settings: Settings) -> tuple:
    """(article rows, copies, chunk ids) of an index, sorted: equal for equal indexes, wherever stored."""
    catalog = Catalog(settings.catalog_path)
    rows = sorted(
        catalog.db.execute("SELECT id, title, source_key, n_chunks, status FROM articles").fetchall()
    )
    copies = sorted(catalog.db.execute("SELECT source_key, article_id, kind FROM copies").fetchall())
    ids, _, metadatas = ChunkStore(settings).all_chunks()
    chunks = sorted((i, m["article_id"], m["chunk_index"]) for i, m in zip(ids, metadatas, strict=True))
    return rows, copies, chunks


def clean_state(data: Path, corpus: Path) -> tuple:
    """The state of a clean, uninterrupted ingest of ``corpus`` into a new data folder (in this process:
    the same ``Ingestor`` the command runs, without another interpreter start)."""
    report = Ingestor(Settings(data_dir=data)).ingest([corpus], progress=False)
    assert report.ok, report.summary()
    return index_state(Settings(data_dir=data))


def kill_mid_ingest(data: Path, command: Callable[[], tuple[list[str], dict[str, str]]]) -> int:
    """Start the ingest twice and SIGKILL it, once after the first committed article and once after
    ``N_ARTICLES // 3`` (each after a random extra moment); returns the articles committed by then."""
    for wait_for_done in (1, N_ARTICLES // 3):
        cmd, env = command()
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 300
        while done_count(data) < wait_for_done and proc.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(random.Random(wait_for_done).uniform(0, 0.5))
        assert proc.poll() is None, "ingest finished before it could be killed; use a bigger corpus"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    partial = done_count(data)
    assert 0 < partial < N_ARTICLES
    return partial
