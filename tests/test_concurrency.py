"""Several processes on one embedded index: a reader sees what a writer process added, and a 200-article
ingest in one process while another asks questions and deletes an article ends as a clean ingest would."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from conftest import LAYOUT_A, LAYOUT_B, REPO, SAMPLE
from smollm2_server import smollm2_path

from index.ingest import Ingestor
from index.settings import Settings
from qa.answer import Engine
from qa.ui.library import delete_article

TOPICS = (
    "harbour terminal crane union shipping dock cargo strike customs ferry glacier avalanche resort "
    "vineyard harvest drought reservoir turbine pipeline refinery satellite orbit launch telescope "
    "museum painting auction sculpture orchestra festival stadium marathon cyclist referee tariff "
    "parliament coalition budget pension mayor council tram subway bridge tunnel airport runway"
).split()


def _corpus(path: Path, n: int) -> list[str]:
    """``n`` synthetic wire stories (one JSONL file); returns their topics, one per story."""
    rng = random.Random(11)
    topics = []
    with path.open("w") as handle:
        for i in range(n):
            topic = f"{rng.choice(TOPICS)}{i}"
            topics.append(topic)
            body = " ".join(
                " ".join([topic, *(rng.choice(TOPICS) for _ in range(rng.randint(10, 18)))]).capitalize()
                + "."
                for _ in range(rng.randint(8, 16))
            )
            record = {"title": f"Report {i} on the {topic}", "body": body, "date": f"2024-05-{1 + i % 28:02d}",
                      "source": "Wire", "url": f"https://wire.example/{i}"}  # fmt: skip
            handle.write(json.dumps(record) + "\n")
    return topics


def _ingest_process(data: Path, *paths: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO), "NEWSQA_DATA_DIR": str(data)}
    cmd = [sys.executable, "-m", "qa.cli", "ingest", "--quiet", *map(str, paths)]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _state(settings: Settings) -> tuple[set[str], set[str], int]:
    """(article ids, chunk ids, BM25 documents) of a data folder."""
    ingestor = Ingestor(settings)
    articles = {r.id for r in ingestor.catalog.rows()}
    chunks = set(ingestor.store.collection.get(include=[])["ids"])
    lexical = ingestor.corpus.lexical
    lexical.search("anything", 1)
    return articles, chunks, len(lexical._ids)  # noqa: SLF001 - the loaded BM25 document list


def test_a_reader_process_sees_vectors_another_process_added(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    engine = Engine(settings)
    engine.ingestor().ingest([SAMPLE], progress=False)
    assert engine.retriever.retrieve("Geneva talks", 3, mode="dense")  # the store is open, in memory

    extra = tmp_path / "extra.txt"
    extra.write_text("Title: Glacier cave collapses\nDate: May 3, 2024\n\nA glacier cave collapsed near the "
                     "alpine village of Zermatt on Friday; rescuers searched the ice all night.\n")  # fmt: skip
    process = _ingest_process(settings.data_dir, extra)
    assert process.wait(300) == 0, process.stderr.read()

    engine.corpus.sync()  # what Engine.stream does before each question
    found = engine.retriever.retrieve("glacier cave collapse Zermatt", 3, mode="dense")
    assert found and found[0].title == "Glacier cave collapses"


@pytest.mark.slow
def test_ingest_in_one_process_while_another_asks_and_deletes(tmp_path: Path) -> None:
    corpus = tmp_path / "wire.jsonl"
    topics = _corpus(corpus, 200)
    settings = Settings(data_dir=tmp_path / "data", local_model_path=smollm2_path(), max_answer_tokens=24)
    engine = Engine(settings)
    assert engine.ingestor().ingest([SAMPLE], progress=False).ok
    doomed = next(r for r in engine.catalog.rows() if r.source_path == str(LAYOUT_A))

    process = _ingest_process(settings.data_dir, corpus)
    errors: list[str] = []
    deleted: list[str] = []

    def delete() -> None:  # the chat's Library tab, while the other process is writing
        try:
            deleted.append(delete_article(engine.ingestor(), doomed.id))
        except Exception as exc:  # noqa: BLE001 - counted
            errors.append(f"delete: {exc!r}")

    deleter = threading.Thread(target=delete)
    answers = 0
    for i, topic in enumerate(topics[::10]):  # 20 questions
        if i == 3:
            deleter.start()
        try:
            engine.ask(f"What happened to the {topic}?", style="short", as_of="2024-06-30")
            answers += 1
        except Exception as exc:  # noqa: BLE001 - counted
            errors.append(f"ask {topic}: {exc!r}")
    deleter.join(600)
    out, err = process.communicate(timeout=600)
    assert process.returncode == 0, err
    assert errors == [] and answers == 20 and deleted and deleted[0].startswith("Deleted")

    clean = Settings(data_dir=tmp_path / "clean")
    Ingestor(clean).ingest([corpus, LAYOUT_B], progress=False)
    got, want = _state(settings), _state(clean)
    assert got[0] == want[0] and len(got[0]) == 201
    assert got[1] == want[1] and got[2] == want[2] == len(got[1])
