"""The corpus owner: absolute sources and --prune from another folder, re-read files reconciled, promoted
copies carried into the chunk store and BM25, and the write lock (BM25 is never rebuilt under a writer)."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

import pytest
from conftest import SAMPLE
from test_incremental import _write

from index.corpus import IndexBusy, write_lock
from index.ingest import Ingestor
from index.settings import Settings

STORY = (
    "The harbour authority said on Tuesday that the new container terminal would open in May, two years "
    "late and 30 percent over budget. Dock workers' unions welcomed the jobs but warned about safety."
)


def _text(folder: Path, name: str, title: str, body: str, outlet: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return _write(folder, name, title, body, outlet=outlet)


def _chunk_ids(ingestor: Ingestor) -> set[str]:
    return set(ingestor.store.collection.get(include=[])["ids"])


def test_prune_from_another_working_folder_keeps_articles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    a, b = tmp_path / "A", tmp_path / "B"
    _text(a / "articles", "one.txt", "Terminal opens late", STORY)
    _text(a / "articles", "two.txt", "Vote counted", "The vote count ended at midnight with a narrow win.")
    _text(b / "other", "three.txt", "Bridge closed", "The old bridge closed for repairs on Monday morning.")
    monkeypatch.chdir(a)
    assert len(Ingestor(settings).ingest(["articles"], progress=False).added) == 2
    monkeypatch.chdir(b)
    report = Ingestor(settings).ingest(["other"], progress=False, prune=True)
    assert report.pruned == [] and len(report.added) == 1
    assert Ingestor(settings).catalog.stats().articles == 3
    rows = Ingestor(settings).catalog.rows()
    assert all(Path(r.source_path).is_absolute() for r in rows)

    (a / "articles" / "two.txt").unlink()  # now a file really is gone: prune removes exactly it
    report = Ingestor(settings).ingest(["other"], progress=False, prune=True)
    assert len(report.pruned) == 1 and Ingestor(settings).catalog.stats().articles == 2


def test_relative_sources_of_older_versions_are_never_pruned_and_migrate_on_ingest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    a = tmp_path / "A"
    _text(a / "articles", "one.txt", "Terminal opens late", STORY)
    monkeypatch.chdir(a)
    Ingestor(settings).ingest(["articles"], progress=False)
    with sqlite3.connect(settings.catalog_path) as db:  # as an index written by an older version
        db.execute("UPDATE articles SET source_path = 'articles/one.txt', source_key = 'articles/one.txt'")
    monkeypatch.chdir(tmp_path)  # from elsewhere the relative path names nothing: kept, reported
    report = Ingestor(settings).ingest([], progress=False, prune=True)
    assert report.pruned == [] and Ingestor(settings).catalog.stats().articles == 1
    assert any("not checked" in message for _, message in report.warnings)

    monkeypatch.chdir(a)  # ingesting the same file again records it under its absolute path
    report = Ingestor(settings).ingest(["articles"], progress=False)
    assert len(report.unchanged) == 1 and not report.folded and not report.added
    (row,) = Ingestor(settings).catalog.rows()
    assert row.source_path == str((a / "articles" / "one.txt").resolve()) == row.source_key


def _jsonl(path: Path, records: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


def test_edited_jsonl_holds_exactly_its_current_records(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    export = tmp_path / "export.jsonl"
    one = {"title": "Terminal opens late", "body": STORY, "date": "2024-03-04"}
    two = {
        "title": "Vote counted",
        "body": "The vote count ended at midnight with a narrow win for the mayor.",
    }
    three = {
        "title": "Bridge closed",
        "body": "The old bridge closed for repairs on Monday, the council said.",
    }
    _jsonl(export, [one, two, three])
    ingestor = Ingestor(settings)
    assert len(ingestor.ingest([export], progress=False).added) == 3

    new = {
        "title": "Storm warning",
        "body": "Forecasters warned of a storm reaching the coast by Friday night.",
    }
    _jsonl(export, [new, one, three])  # a line inserted on top (every line number shifts), one removed
    report = Ingestor(settings).ingest([export], progress=False)
    assert len(report.added) == 1 and len(report.removed) == 1 and not report.folded
    catalog = Ingestor(settings).catalog
    titles = sorted(r.title for r in catalog.rows())
    assert titles == ["Bridge closed", "Storm warning", "Terminal opens late"]
    assert catalog.copy_rows() == []  # no bogus copies from shifted line numbers

    clean = Ingestor(Settings(data_dir=tmp_path / "clean"))
    clean.ingest([export], progress=False)
    assert _chunk_ids(Ingestor(settings)) == _chunk_ids(clean)

    broken = export.read_text().splitlines()[:2] + ["{not json"]
    export.write_text("\n".join(broken) + "\n")  # a bad line: nothing is dropped on bad input
    report = Ingestor(settings).ingest([export], progress=False)
    assert report.removed == [] and Ingestor(settings).catalog.stats().articles == 3


def test_promoted_copy_is_what_chunks_and_bm25_say(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    first = _text(tmp_path / "in", "a.txt", "Terminal opens late", STORY, outlet="Harbour Daily")
    _text(tmp_path / "in", "b.txt", "Terminal opens late", STORY, outlet="Coast Wire")
    ingestor = Ingestor(settings)
    report = ingestor.ingest([tmp_path / "in"], progress=False)
    assert len(report.added) == 1 and len(report.folded) == 1
    first.unlink()
    assert Ingestor(settings).ingest([], progress=False, prune=True).pruned == []

    ingestor = Ingestor(settings)
    (row,) = ingestor.catalog.rows()
    assert row.outlet == "Coast Wire" and row.source_path.endswith("b.txt")
    metadatas = ingestor.store.collection.get(include=["metadatas"])["metadatas"]
    assert {m["outlet"] for m in metadatas} == {"Coast Wire"}
    assert {m["source"] for m in metadatas} == {row.source_path}
    lexical = ingestor.corpus.lexical
    assert lexical.search("container terminal", 5, outlets=["Coast Wire"])
    assert lexical.search("container terminal", 5, outlets=["Harbour Daily"]) == []


def test_readers_never_rebuild_bm25_while_a_writer_holds_the_lock(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    writer = Ingestor(settings)
    writer.ingest([SAMPLE], progress=False)
    reader = Ingestor(settings).corpus.lexical
    assert reader.search("Geneva talks", 3)
    built = reader.generation

    held, release = threading.Event(), threading.Event()

    def hold() -> None:  # another writer, in the middle of its work: the catalog moved, BM25 not yet
        with writer.corpus.writing():
            writer.catalog.set_meta("generation", str(writer.catalog.generation() + 1))
            held.set()
            release.wait(30)

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert held.wait(30)
        assert reader.search("Geneva talks", 3)  # the published index, as it was
        assert reader.generation == built
    finally:
        release.set()
        thread.join(30)
    assert reader.generation != built  # the writer published a new build before letting go
    assert reader.search("Geneva talks", 3)
    builds = [p for p in (settings.data_dir / "bm25").iterdir() if p.is_dir()]
    assert len(builds) <= 2 and not [p for p in builds if p.name.startswith(".build-")]


def test_a_second_writer_waits_then_fails_clearly(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", write_wait=0.3)
    lock = write_lock(settings.data_dir)
    errors: list[BaseException] = []
    taken = threading.Event()

    def other_writer() -> None:
        with lock:
            taken.set()
            done.wait(30)

    done = threading.Event()
    thread = threading.Thread(target=other_writer)
    thread.start()
    try:
        assert taken.wait(30)
        try:
            Ingestor(settings).ingest([SAMPLE], progress=False)
        except IndexBusy as exc:
            errors.append(exc)
    finally:
        done.set()
        thread.join(30)
    assert errors and "still writing to" in str(errors[0]) and str(settings.data_dir) in str(errors[0])
    assert Ingestor(settings).ingest([SAMPLE], progress=False).ok  # free again: the write goes through
