"""300 real news articles from RealTime QA (read from ../shared/eval, never copied): ingest, then
title queries find their article in the top 5."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from conftest import SHARED

from index.ingest import Ingestor
from index.settings import Settings
from qa.retrieve import Retriever

CORPUS = SHARED / "eval" / "realtimeqa" / "corpus.jsonl"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CORPUS.exists(), reason=f"RealTime QA corpus not found at {CORPUS} (../shared absent)"
    ),
]


def test_300_articles_ingest_and_title_retrieval(tmp_path: Path) -> None:
    subset = tmp_path / "rtqa300.jsonl"
    with CORPUS.open() as src, subset.open("w") as dst:
        for _, line in zip(range(300), src, strict=False):
            dst.write(line)
    ingestor = Ingestor(Settings(data_dir=tmp_path / "data"))
    report = ingestor.ingest([subset], progress=False)
    assert report.ok, report.summary()
    assert len(report.added) + len(report.folded) + len(report.unchanged) == 300
    assert len(report.added) >= 250
    stats = ingestor.catalog.stats()
    assert ingestor.store.count() == stats.chunks == report.chunks_added
    assert stats.first_date and stats.first_date.startswith("20") and len(stats.outlets) >= 3
    assert all(not o.startswith("www.") for o in stats.outlets)

    canonical = {a.source_key: a.id for a in report.added}
    canonical |= {c.article.source_key: c.article_id for c in report.folded}
    records = [json.loads(line) for line in subset.read_text().splitlines()]
    sample = random.Random(3).sample(records, 60)
    retriever = Retriever(ingestor.embedder, ingestor.store)
    hits = 0
    for record in sample:
        top = retriever.retrieve(record["title"], 5)
        hits += canonical.get(record["url"]) in {p.article_id for p in top}
    assert hits / len(sample) >= 0.85, f"title → article in top 5 for only {hits}/{len(sample)}"
