"""Ingesting into a real Chroma store: chunk sizes, idempotence, bad input, crash recovery."""

from __future__ import annotations

from pathlib import Path

from conftest import SAMPLE

from index.embed import MAX_TOKENS
from index.ingest import STAGES, Ingestor
from index.parse import parse_text
from index.settings import Settings


def test_sample_ingest_chunks_fit_and_second_run_adds_nothing(settings: Settings) -> None:
    ingestor = Ingestor(settings)
    first = ingestor.ingest([SAMPLE], progress=False)
    assert first.ok and len(first.added) == 2 and first.chunks_added >= 4
    assert set(first.stages) == set(STAGES) and first.stages["embed"] > 0  # where the time went
    assert ingestor.store.count() == first.chunks_added

    for path in sorted(SAMPLE.iterdir()):
        article = parse_text(path.read_text(), str(path))
        chunks = ingestor.chunker.chunks(article)
        assert chunks, path
        for chunk in chunks:
            assert ingestor.embedder.count_tokens(chunk.embed_text) <= MAX_TOKENS
            assert chunk.embed_text.startswith(f"{article.title}\n{article.published}\n")
            assert "http" not in chunk.embed_text  # no url/ids in what gets embedded

    second = ingestor.ingest([SAMPLE], progress=False)
    assert len(second.added) == 0 and len(second.unchanged) == 2 and second.chunks_added == 0
    assert ingestor.store.count() == first.chunks_added
    stats = ingestor.catalog.stats()
    assert (stats.articles, stats.chunks, stats.first_date) == (2, first.chunks_added, "2021-12-31")


def test_chunk_metadata_in_chroma(settings: Settings) -> None:
    ingestor = Ingestor(settings)
    ingestor.ingest([SAMPLE], progress=False)
    got = ingestor.store.collection.get(include=["metadatas"])
    keys = set(got["metadatas"][0])
    assert {"article_id", "title", "outlet", "published", "url", "chunk_index"} <= keys
    assert all(m["published"] == "2021-12-31" for m in got["metadatas"])
    assert sorted(got["ids"])[0].endswith(":0")


def test_bad_files_are_reported_and_good_ones_ingested(settings: Settings, sample_copy: Path) -> None:
    (sample_copy / "empty.txt").write_bytes(b"")
    (sample_copy / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00")
    (sample_copy / "latin.txt").write_bytes(
        "Café owners protest\nMar 2, 2022\nCafé owners in Lyon protested new rules.".encode("latin-1")
    )
    report = Ingestor(settings).ingest([sample_copy], progress=False)
    failed = dict((Path(p).name, reason) for p, reason in report.failed)
    assert set(failed) == {"empty.txt", "image.txt"}
    assert "empty" in failed["empty.txt"]
    assert "binary" in failed["image.txt"]
    warned = dict((Path(p).name, message) for p, message in report.warnings)
    assert "UTF-8" in warned["latin.txt"]
    assert {a.title for a in report.added} >= {"Café owners protest"}
    assert len(report.added) == 3 and not report.ok
    assert "failed: " in report.summary() and "empty.txt" in report.summary()


def test_interrupted_article_is_cleaned_up_on_next_run(settings: Settings) -> None:
    ingestor = Ingestor(settings)
    ingestor.ingest([SAMPLE], progress=False)
    clean_count = ingestor.store.count()
    # Simulate a crash after chunks were written but before the article was committed.
    article = parse_text((SAMPLE / "000_d3fb9e4258edd0dc.txt").read_text())
    ingestor.catalog.set_pending(article.id)
    orphan = parse_text("Orphan story\nJan 1, 2022\nThis text was half written when the process died.")
    ingestor.catalog.mark_pending([(orphan, 1, None)])
    chunks = ingestor.chunker.chunks(orphan)
    ingestor.store.add(orphan, chunks, ingestor.embedder.embed([c.embed_text for c in chunks]))

    again = Ingestor(settings).ingest([SAMPLE], progress=False)
    assert again.recovered == 2
    assert len(again.added) == 1  # the interrupted sample article is written again
    assert ingestor.store.count() == clean_count
    assert ingestor.catalog.pending() == []
