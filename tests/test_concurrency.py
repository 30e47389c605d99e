"""Several processes on one embedded index: a reader sees what a writer process added (after its sync, and
when the commit or a delete lands after it), and a 100-article ingest in one process while another asks
questions and deletes an article ends as a clean ingest would."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import LAYOUT_A, LAYOUT_B, REPO, SAMPLE
from crash_support import done_count

from index.ingest import Ingestor
from index.settings import Settings
from qa.answer import Engine
from qa.retrieve import to_filters
from qa.ui.library import delete_article

N_ARTICLES = 100  # written in several commits by the other process while 20 questions are asked
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


def _ingest_process(data: Path, *paths: Path, batch_chunks: int | None = None) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO), "NEWSQA_DATA_DIR": str(data)}
    if batch_chunks:
        env["NEWSQA_WRITE_BATCH_CHUNKS"] = str(batch_chunks)
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


def _store_process(settings: Settings, action: str, arg: object) -> None:
    """Another process adding one chunk to, or deleting an article from, the data folder's Chroma store:
    plain chromadb, without the CLI's start-up of several seconds (only the store is the subject here)."""
    code = f"""
import json, sys
import chromadb
from chromadb.config import Settings
client = chromadb.PersistentClient(path=sys.argv[1], settings=Settings(anonymized_telemetry=False))
collection = client.get_collection(sys.argv[2])
arg = json.loads(sys.argv[3])
if {action!r} == "add":
    collection.add(ids=[arg["id"]], embeddings=[arg["vector"]], documents=[arg["body"]], metadatas=[arg["meta"]])
else:
    collection.delete(where={{"article_id": arg}})
"""
    args = [str(settings.chroma_dir), settings.chroma_collection, json.dumps(arg)]
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr


def test_a_reader_process_sees_what_other_processes_add_and_delete(tmp_path: Path) -> None:
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

    # a commit landing after the question's sync: Chroma's metadata (shared SQLite) then names chunks this
    # process's in-memory vector index has not seen, and a filtered query failed with "Error finding id"
    # (CI, one question of 20 in the test below)
    body = "Ferry crews in Dover ended their strike on Saturday after the operator agreed to a new rota."
    vector = [float(x) for x in engine.embedder.embed_query("ferry strike Dover")]
    meta = {
        "article_id": "ferry",
        "title": "Ferry strike ends",
        "published": "2024-05-04",
        "published_day": 20240504,
    }
    _store_process(settings, "add", {"id": "ferry:0", "body": body, "vector": vector, "meta": meta})
    found = engine.store.search(vector, 3, to_filters({"since": "2024-05-04", "until": "2024-05-04"}))
    assert [c.metadata["title"] for c in found] == ["Ferry strike ends"]

    # a delete landing after the sync: the search must not return chunks whose text is gone
    _store_process(settings, "delete", "ferry")
    found = engine.store.search(vector, 3)
    assert found and all(c.text and c.metadata["title"] != "Ferry strike ends" for c in found)


@pytest.mark.slow
def test_ingest_in_one_process_while_another_asks_and_deletes(tmp_path: Path) -> None:
    corpus = tmp_path / "wire.jsonl"
    topics = _corpus(corpus, N_ARTICLES)
    # every question is searched in full (sync with the other process's commits, dense and BM25 reads),
    # then held back by a relevance bar no cosine reaches: the store under concurrent writes is the
    # subject here, not the model (a question searched before any wire story exists abstains the same way)
    settings = Settings(data_dir=tmp_path / "data", min_relevance=1.01)
    engine = Engine(settings)
    assert engine.ingestor().ingest([SAMPLE], progress=False).ok
    doomed = next(r for r in engine.catalog.rows() if r.source_path == str(LAYOUT_A))

    process = _ingest_process(settings.data_dir, corpus, batch_chunks=48)  # a commit every ~24 articles
    # ask and delete once the other process is writing (its interpreter start takes seconds; without this
    # wait every question was asked, and the article deleted, before its first commit)
    while done_count(settings.data_dir) <= 2 and process.poll() is None:  # 2: the sample's articles
        time.sleep(0.05)
    errors: list[str] = []
    deleted: list[str] = []

    def delete() -> None:  # the chat's Library tab, while the other process is writing
        try:
            deleted.append(delete_article(engine.ingestor(), doomed.id))
        except Exception as exc:  # noqa: BLE001 - counted
            errors.append(f"delete: {exc!r}")

    deleter = threading.Thread(target=delete)
    answers, saw_wire = 0, 0
    for i, topic in enumerate(topics[::5]):  # 20 questions, one every 0.2 s, among the other's commits
        if i == 3:
            deleter.start()
        try:
            answer = engine.ask(f"What happened to the {topic}?", style="short", as_of="2024-06-30")
            answers += 1
            saw_wire += any(p.title.startswith("Report ") for p in answer.retrieved)
        except Exception as exc:  # noqa: BLE001 - counted
            errors.append(f"ask {topic}: {exc!r}")
        time.sleep(0.2)
    deleter.join(600)
    out, err = process.communicate(timeout=600)
    assert process.returncode == 0, err
    assert errors == [] and answers == 20 and deleted and deleted[0].startswith("Deleted")
    assert saw_wire, "no question found a story the other process had committed"

    clean = Settings(data_dir=tmp_path / "clean")
    Ingestor(clean).ingest([corpus, LAYOUT_B], progress=False)
    got, want = _state(settings), _state(clean)
    assert got[0] == want[0] and len(got[0]) == N_ARTICLES + 1
    assert got[1] == want[1] and got[2] == want[2] == len(got[1])
