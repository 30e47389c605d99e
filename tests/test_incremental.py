"""Incremental ingest (skip / replace / prune) and duplicate folding, on a real Chroma store."""

from __future__ import annotations

import json
from pathlib import Path

from index.ingest import Ingestor
from index.lexical import LexicalIndex
from index.settings import Settings

WIRE = (
    "Officials in the port city said on Monday that the new desalination plant would supply water to "
    "200,000 residents by next summer. The plant, built at a cost of 450 million dollars, uses solar power "
    "for most of its energy needs. Engineers said the first tests had gone well and that output would rise "
    "in stages over the coming months. Local farmers welcomed the news after three dry years, but "
    "environmental groups warned about the brine the plant returns to the sea. The regional governor "
    "called it the largest water project in the region's history and promised a second plant by 2030."
)


def _write(
    folder: Path, name: str, title: str, body: str, date: str = "Mar 4, 2024", outlet: str = ""
) -> Path:
    path = folder / name
    header = f"Source: {outlet}\n" if outlet else ""
    path.write_text(f"{header}Title: {title}\nDate: {date}\n\n{body}\n")
    return path


def _chunk_ids(ingestor: Ingestor) -> set[str]:
    return set(ingestor.store.collection.get(include=[])["ids"])


def test_skip_replace_and_prune(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    _write(folder, "a.txt", "Plant opens", WIRE)
    b = _write(folder, "b.txt", "Election results", "The vote count ended at midnight with a narrow win.")
    ingestor = Ingestor(Settings(data_dir=tmp_path / "data"))
    first = ingestor.ingest([folder], progress=False)
    assert len(first.added) == 2
    ids_before = _chunk_ids(ingestor)

    same = ingestor.ingest([folder], progress=False)
    assert (len(same.added), len(same.unchanged), same.replaced) == (0, 2, [])
    assert _chunk_ids(ingestor) == ids_before

    _write(
        folder,
        "b.txt",
        "Election results",
        "The vote count ended at 2 a.m. with a narrow win, officials said.",
    )
    changed = ingestor.ingest([folder], progress=False)
    assert len(changed.added) == 1 and len(changed.replaced) == 1 and len(changed.unchanged) == 1
    stats = ingestor.catalog.stats()
    assert stats.articles == 2 and ingestor.store.count() == stats.chunks
    texts = " ".join(ingestor.store.collection.get(include=["documents"])["documents"])
    assert "2 a.m." in texts and "ended at midnight" not in texts

    lexical = LexicalIndex(ingestor.settings.data_dir, ingestor.store, ingestor.catalog)
    assert lexical.search("vote count", 5) and not lexical.search("midnight", 5)  # BM25 in step

    b.unlink()
    pruned = ingestor.ingest([folder], progress=False, prune=True)
    assert len(pruned.pruned) == 1
    assert (
        ingestor.catalog.stats().articles == 1 and ingestor.store.count() == ingestor.catalog.stats().chunks
    )
    assert not lexical.search("vote count", 5) and lexical.search("desalination plant", 5)


def test_exact_and_near_duplicates_fold_and_remember_outlets(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    _write(folder, "1_wire.txt", "Desalination plant to supply 200,000", WIRE, outlet="Wire Service")
    _write(folder, "2_exact.txt", "Desalination plant to supply 200,000", WIRE, outlet="Copy Daily")
    near = WIRE.replace("on Monday", "on Monday morning")  # a light edit: Jaccard about 0.9
    _write(
        folder, "3_near.txt", "Big desalination plant opens", near, date="Mar 5, 2024", outlet="Coast Times"
    )
    other = "A different story entirely: the museum reopened after renovation, drawing large crowds."
    _write(folder, "4_other.txt", "Museum reopens", other, outlet="Arts Weekly")
    records = [{"title": "Desalination plant to supply 200,000", "body": WIRE, "source": "Feed Co",
                "url": "https://feed.example/plant", "date": "2024-03-04"}]  # fmt: skip
    (folder / "5_feed.json").write_text(json.dumps(records))

    ingestor = Ingestor(Settings(data_dir=tmp_path / "data"))
    report = ingestor.ingest([folder], progress=False)
    assert len(report.added) == 2  # the wire story once, the museum story once
    kinds = sorted((c.kind, c.article.outlet) for c in report.folded)
    assert kinds == [("exact", "Copy Daily"), ("exact", "Feed Co"), ("near", "Coast Times")]
    wire_id = next(a.id for a in report.added if a.outlet == "Wire Service")
    copies = ingestor.catalog.copies_of(wire_id)
    assert {c["outlet"] for c in copies} == {"Copy Daily", "Coast Times", "Feed Co"}
    assert {c["published"] for c in copies} == {"2024-03-04", "2024-03-05"}
    assert "https://feed.example/plant" in {c["url"] for c in copies}
    stats = ingestor.catalog.stats()
    assert (stats.exact_copies, stats.near_copies) == (2, 1)
    assert set(stats.outlets) == {"Wire Service", "Copy Daily", "Coast Times", "Feed Co", "Arts Weekly"}

    again = ingestor.ingest([folder], progress=False)  # folding is stable: nothing new, nothing lost
    assert len(again.added) == 0 and ingestor.catalog.stats() == stats


def test_near_duplicate_threshold_is_a_setting(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    _write(folder, "1.txt", "Plant", WIRE)
    _write(folder, "2.txt", "Plant again", WIRE.replace("on Monday", "on Monday morning"))
    strict = Ingestor(Settings(data_dir=tmp_path / "strict", near_dup_threshold=0.99)).ingest(
        [folder], progress=False
    )
    assert len(strict.added) == 2 and not strict.folded
    loose = Ingestor(Settings(data_dir=tmp_path / "loose")).ingest([folder], progress=False)
    assert len(loose.added) == 1 and [c.kind for c in loose.folded] == ["near"]


def _index_state(settings: Settings) -> tuple:
    """Catalog rows, copies and chunk ids of a data folder, in a comparable form."""
    ingestor = Ingestor(settings)
    rows = sorted(
        ingestor.catalog.db.execute("SELECT id, source_key, n_chunks, status FROM articles").fetchall()
    )
    copies = sorted(ingestor.catalog.db.execute("SELECT source_key, article_id, kind FROM copies").fetchall())
    return rows, copies, sorted(_chunk_ids(ingestor))


def test_one_article_per_batch_gives_the_same_index_as_one_batch(tmp_path: Path) -> None:
    """With a batch in flight while the next is routed, an exact copy and a near copy of an article in it
    must be folded exactly as when everything is one batch."""
    words = WIRE.split()
    records = [
        {"title": "Plant opens", "body": WIRE, "url": "https://a.example/1", "source": "A"},
        {"title": "Plant opens", "body": WIRE, "url": "https://b.example/1", "source": "B"},  # exact copy
        {"title": "Plant opens soon", "body": " ".join(words[:-2]) + " by 2031.", "url": "https://c.example/1"},
        {"title": "Vote count", "body": "The vote count ended at midnight with a narrow win.", "url": "https://a.example/2"},
        {"title": "Storm", "body": "A storm closed the port for two days, the harbour master said.", "url": "https://a.example/3"},
    ]  # fmt: skip
    corpus = tmp_path / "wire.jsonl"
    corpus.write_text("".join(json.dumps({**r, "date": "2024-03-04"}) + "\n" for r in records))
    states = []
    for name, chunks in (("one-batch", 10_000), ("per-article", 1)):
        settings = Settings(data_dir=tmp_path / name, write_batch_chunks=chunks)
        report = Ingestor(settings).ingest([corpus], progress=False)
        assert report.ok, report.summary()
        states.append((_index_state(settings), len(report.added), len(report.folded), len(report.replaced)))
    assert states[0] == states[1]
    _, added, folded, _ = states[0]
    assert added + folded == 5 and folded >= 1, states[0]  # the exact copy at least
