"""Every ingest format, from small fixture files written here; field overrides; bad input."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest

from index.formats import FileReport, read_articles
from index.ingest import Ingestor
from index.load import load_file
from index.parse import ParseError
from index.settings import Settings

HTML = """<html><head><title>Storm hits coast | Valley News</title>
<meta property="og:site_name" content="Valley News">
<meta property="article:published_time" content="2024-03-03T10:00:00Z">
<link rel="canonical" href="https://valley.example/storm"></head>
<body><nav>Home | World | Sports | Subscribe</nav><article><h1>Storm hits coast</h1>
<p>Winds of 120 km/h hit the coast on Sunday, cutting power to 40,000 homes. Officials said repairs would
take days.</p><p>The storm is expected to weaken by Tuesday as it moves north over land, forecasters said.</p>
</article><footer>Copyright 2024 Valley News. Subscribe now for unlimited access!</footer></body></html>"""

RECORDS = [
    {
        "headline": "Rates rise again",
        "content": "The central bank raised rates by a quarter point on Thursday.",
        "publish_date": "May 2, 2024",
        "publisher": {"name": "Daily Ledger"},
        "link": "https://ledger.example/rates",
        "author": ["A. Writer", "B. Writer"],
    },
    {
        "title": "Harbor reopens",
        "text": "The harbor reopened on Friday after a week of repairs.",
        "published_at": "2024-05-03T08:00:00+02:00",
        "url": "https://www.portnews.example/harbor",
    },
]


def _one(path: Path, **kwargs) -> list:
    return list(read_articles(path, **kwargs))


def test_html_main_text_and_metadata(tmp_path: Path) -> None:
    (tmp_path / "storm.html").write_text(HTML)
    [article] = _one(tmp_path / "storm.html")
    assert (article.title, article.outlet, article.published, article.url) == (
        "Storm hits coast",
        "Valley News",
        "2024-03-03",
        "https://valley.example/storm",
    )
    assert article.body.startswith("Winds of 120 km/h")
    assert "Subscribe" not in article.body and "Home | World" not in article.body


def test_json_list_object_and_wrapped(tmp_path: Path) -> None:
    (tmp_path / "list.json").write_text(json.dumps(RECORDS))
    (tmp_path / "one.json").write_text(json.dumps(RECORDS[1]))
    (tmp_path / "wrapped.json").write_text(json.dumps({"status": "ok", "articles": RECORDS}))
    first, second = _one(tmp_path / "list.json")
    assert (first.title, first.outlet, first.published, first.url, first.author) == (
        "Rates rise again",
        "Daily Ledger",
        "2024-05-02",
        "https://ledger.example/rates",
        "A. Writer, B. Writer",
    )
    assert (second.outlet, second.published) == ("portnews.example", "2024-05-03")  # outlet from the host
    assert [a.title for a in _one(tmp_path / "one.json")] == ["Harbor reopens"]
    assert len(_one(tmp_path / "wrapped.json")) == 2


def test_jsonl_skips_a_malformed_line_and_keeps_the_rest(tmp_path: Path) -> None:
    lines = [json.dumps(RECORDS[0]), '{"title": "broken", "body": ', json.dumps(RECORDS[1])]
    (tmp_path / "feed.jsonl").write_text("\n".join(lines) + "\n")
    report = FileReport()
    articles = list(read_articles(tmp_path / "feed.jsonl", report=report))
    assert [a.title for a in articles] == ["Rates rise again", "Harbor reopens"]
    assert report.skipped_records == 1 and "line 2: invalid JSON" in report.warnings[0]


def test_csv_and_gzip(tmp_path: Path) -> None:
    csv_text = 'title,body,date,source\n"Vote counted","The count ended at midnight, officials said.",2024-11-06,Wire\n'
    (tmp_path / "a.csv").write_text(csv_text)
    with gzip.open(tmp_path / "b.csv.gz", "wt") as handle:
        handle.write(csv_text)
    with gzip.open(tmp_path / "c.jsonl.gz", "wt") as handle:
        handle.write(json.dumps(RECORDS[1]) + "\n")
    [plain] = _one(tmp_path / "a.csv")
    assert (plain.title, plain.published, plain.outlet) == ("Vote counted", "2024-11-06", "Wire")
    assert _one(tmp_path / "b.csv.gz")[0].id == plain.id
    assert _one(tmp_path / "c.jsonl.gz")[0].title == "Harbor reopens"


def test_field_override(tmp_path: Path) -> None:
    (tmp_path / "x.csv").write_text(
        'hed,story_text,when\n"Bridge opens","The bridge opened to traffic.",2023-07-01\n'
    )
    with pytest.raises(ParseError, match="no text column: found columns"):
        _one(tmp_path / "x.csv")
    [article] = _one(
        tmp_path / "x.csv", field_map={"body": "story_text", "title": "hed", "published": "when"}
    )
    assert (article.title, article.body, article.published) == (
        "Bridge opens",
        "The bridge opened to traffic.",
        "2023-07-01",
    )


def test_bad_input_folder(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "good.jsonl").write_text(
        json.dumps(RECORDS[0]) + "\nnot json\n" + json.dumps(RECORDS[1]) + "\n"
    )
    (folder / "empty.txt").write_bytes(b"")
    (folder / "binary.md").write_bytes(b"\x7fELF\x02\x01\x01\x00\x00\x00" * 100)
    (folder / "latin1.txt").write_bytes(
        "Café news\nJan 3, 2024\nThe café reopened in Lyon.".encode("latin-1")
    )
    (folder / "notext.csv").write_text("a,b\n1,2\n")
    (folder / "broken.json").write_text('{"title": "x", ')
    (folder / "huge.txt").write_bytes(b"word " * 10_000_000)  # 50 MB: not one article
    (folder / "dangling.txt").symlink_to(tmp_path / "nowhere.txt")
    big = folder / "big.jsonl"  # a 50 MB export, streamed line by line
    line = (
        json.dumps({"title": "Filler", "body": "x " * 400, "url": "https://f.example/{}"}) + "\n"
    ).encode()
    with big.open("wb") as handle:
        for i in range(50_000_000 // len(line)):
            handle.write(line.replace(b"{}", str(i).encode()))
    assert os.path.getsize(big) > 45_000_000
    loaded = load_file(big)
    assert loaded.error is None and len(loaded.articles) > 50_000

    big.unlink()  # keep the ingest below quick
    report = Ingestor(Settings(data_dir=tmp_path / "data")).ingest([folder], progress=False)
    failed = {Path(p).name: reason for p, reason in report.failed}
    assert set(failed) == {"empty.txt", "binary.md", "notext.csv", "broken.json", "huge.txt", "dangling.txt"}
    assert "empty" in failed["empty.txt"] and "binary" in failed["binary.md"]
    assert "no text column" in failed["notext.csv"] and "invalid JSON" in failed["broken.json"]
    assert "too large" in failed["huge.txt"] and "broken symbolic link" in failed["dangling.txt"]
    warned = {Path(p).name: m for p, m in report.warnings}
    assert "UTF-8" in warned["latin1.txt"] and "invalid JSON" in warned["good.jsonl"]
    assert sorted(a.title for a in report.added) == ["Café news", "Harbor reopens", "Rates rise again"]
    assert not report.ok
