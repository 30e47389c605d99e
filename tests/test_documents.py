"""PDF, Word, WARC / ARC and e-mail newsletters in, from fixture files written here (tests/doc_fixtures.py):
titles, dates and text exact; records passed over are counted; bad input is one line naming the file (and
record or message) within time and memory bounds while the good files of the same run are ingested; files
of types newsqa does not read are counted by type in the CLI, the upload and the API."""

from __future__ import annotations

import gzip
import resource
import time
from pathlib import Path

import pytest
from doc_fixtures import (
    GLACIER,
    PDF_PAGES,
    TRAM,
    make_pdf,
    newsletters,
    write_arc,
    write_docx,
    write_mbox,
    write_warc,
)

from index.formats import FileReport, read_articles
from index.ingest import Ingestor
from index.parse import ParseError
from index.settings import Settings


def _read(path: Path) -> tuple[list, FileReport]:
    report = FileReport()
    return list(read_articles(path, report=report)), report


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_pdf_title_date_dateline_and_page_two(tmp_path: Path) -> None:
    path = tmp_path / "strike.pdf"
    path.write_bytes(
        make_pdf(PDF_PAGES, {"Title": "Microsoft Word - strike.docx", "CreationDate": "D:20240306"})
    )
    [article], _ = _read(path)
    assert (article.title, article.published, article.place) == (
        "Harbor strike ends after nine days",
        "2024-03-05",
        "PORTVILLE",
    )
    assert article.body.startswith(
        "Dock workers voted on Tuesday to end the strike that closed the port of Portville"
    )
    assert (
        "the container cranes restart on Monday, and the first ships are expected" in article.body
    )  # page 2
    # no title or date line in the text: the metadata's
    path.write_bytes(
        make_pdf(
            [["The vote was 412 to 88, the union said."]],
            {"Title": "Vote count", "CreationDate": "D:20240307120000Z"},
        )
    )
    [article], _ = _read(path)
    assert (article.title, article.published, article.body) == (
        "Vote count",
        "2024-03-07",
        "The vote was 412 to 88, the union said.",
    )


def test_word_file(tmp_path: Path) -> None:
    [article], _ = _read(write_docx(tmp_path / "council.docx"))
    assert (article.title, article.published, article.place, article.author) == (
        "Council approves Eastwick library budget",
        "2024-04-02",
        "EASTWICK",
        "City Desk",
    )
    assert article.body.startswith("The town council approved 4.2 million euros on Monday")
    assert "Votes in favour | 17" in article.body and article.body.endswith("the mayor said.")


def test_warc_pages_and_what_is_passed_over(tmp_path: Path) -> None:
    articles, report = _read(write_warc(tmp_path / "crawl.warc.gz"))
    assert [(a.title, a.published, a.outlet, a.url) for a in articles] == [
        (
            "Soltind glacier retreated 38 metres last summer",
            "2024-09-12",
            "Fjord Post",
            "https://fjord.example/glacier",
        ),
        ("Tram fares frozen for another year", "2024-09-13", "Fjord Post", "https://fjord.example/tram"),
    ]
    assert report.notes == [
        "2 page(s) read; skipped 3 record(s): 1 HTTP 404, 1 not HTML (image/png), 1 duplicate (revisit record)"
    ]
    assert report.warnings == [] and report.skipped_records == 0
    # the whole file gzipped as one member (``gzip crawl.warc``), not record by record: read all the same
    plain = write_warc(tmp_path / "plain.warc", gz=False).read_bytes()
    (tmp_path / "whole.warc.gz").write_bytes(gzip.compress(plain))
    assert [a.url for a in _read(tmp_path / "whole.warc.gz")[0]] == [a.url for a in articles]
    [old], _ = _read(write_arc(tmp_path / "old.arc.gz"))
    assert (old.title, old.published, old.outlet, old.url) == (
        "Lighthouse keeper retires after forty years",
        "2005-01-02",
        "Coast Weekly",
        "http://coast.example/lighthouse",
    )


def test_a_cut_or_corrupt_warc_record_is_named_by_offset_and_the_rest_read(tmp_path: Path) -> None:
    whole = write_warc(tmp_path / "whole.warc.gz").read_bytes()
    # the glacier page's record is the second gzip member: corrupt it in the middle, cut the file's end
    starts = [i for i in range(len(whole)) if whole.startswith(b"\x1f\x8b\x08", i)]
    broken = bytearray(whole)
    broken[starts[1] + 40 : starts[1] + 60] = bytes(20)
    (tmp_path / "broken.warc.gz").write_bytes(bytes(broken[: len(whole) - 30]))
    articles, report = _read(tmp_path / "broken.warc.gz")
    assert [a.title for a in articles] == ["Tram fares frozen for another year"]  # read on after the bad one
    assert len(report.warnings) == 2 and report.skipped_records == 2
    assert (
        report.warnings[0].startswith(f"record at offset {starts[1]:,}: ")
        and "read on after it" in report.warnings[0]
    )
    assert report.warnings[1].startswith(f"record at offset {starts[-1]:,}: cut short")
    plain = write_warc(tmp_path / "plain.warc", gz=False).read_bytes()
    (tmp_path / "cut.warc").write_bytes(plain[: plain.index(b"Tram fares frozen") + 40])
    articles, report = _read(tmp_path / "cut.warc")
    assert [a.title for a in articles] == ["Soltind glacier retreated 38 metres last summer"]
    assert len(report.warnings) == 1 and "cut short" in report.warnings[0]


def test_mbox_newsletters(tmp_path: Path) -> None:
    articles, report = _read(write_mbox(tmp_path / "letters.mbox"))
    assert [(a.title, a.published, a.outlet) for a in articles] == [
        ("Orchard festival moves to Saturday", "2024-05-06", "Valley Weekly"),
        ("Bakery wins regional prize", "2024-05-07", "bakers.example"),
        ("Café Zürich reopens on Main Street", "2024-05-08", "Town Crier"),
    ]
    html, plain, latin = (a.body for a in articles)
    assert (
        html.startswith("The orchard festival in Lindholm will be held on Saturday")
        and "Unsubscribe" not in html
    )
    assert (
        plain
        == "The Hansen bakery in Lindholm won the regional rye bread prize on Monday.\n\nThe judges praised its sourdough."
    )
    assert "crème brûlée" in latin
    assert articles[0].source.endswith("letters.mbox#letter1@news.example") and report.warnings == []
    (tmp_path / "one.eml").write_bytes(newsletters()[1])
    [single], _ = _read(tmp_path / "one.eml")
    assert single.title == "Bakery wins regional prize"


def test_bad_input_is_one_line_each_within_bounds_and_the_good_files_are_ingested(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "good.pdf").write_bytes(make_pdf(PDF_PAGES))
    write_mbox(
        folder / "letters.mbox",
        [newsletters()[0], newsletters()[2].replace(b"iso-8859-1", b"x-unknown-8bit")],
    )
    (folder / "locked.pdf").write_bytes(make_pdf([["secret"]], encrypt=True))
    (folder / "scan.pdf").write_bytes(make_pdf([], contents=[b"0 0 100 100 re f"]))
    (folder / "pages.pdf").write_bytes(make_pdf([["x"]], page_count=200_000))
    (folder / "bomb.pdf").write_bytes(
        make_pdf([], contents=[b"0 0 1 1 re f\n" * 800_000], repeat_contents=100)
    )
    member = gzip.compress(b"0" * 10_000_000, 9)  # 1 GB of zeros in 1 MB
    (folder / "bomb.jsonl.gz").write_bytes(member * 100)
    whole = write_warc(tmp_path / "crawl.warc.gz").read_bytes()
    third = whole.index(b"\x1f\x8b\x08", whole.index(b"\x1f\x8b\x08", 1) + 1)  # the tram's request record
    (folder / "cut.warc.gz").write_bytes(whole[: third + 30])  # the glacier page is whole before it
    (folder / "broken.docx").write_bytes(b"PK\x03\x04 not really a zip")
    (folder / "notes.pptx").write_bytes(b"PK")
    (folder / "photo.png").write_bytes(b"\x89PNG")
    ingestor = Ingestor(Settings(data_dir=tmp_path / "data"))
    ingestor.embedder.embed(["warm up"])  # the model's memory is not the readers'
    assert ingestor.chunker is not None
    before, started = _peak_mb(), time.perf_counter()
    report = ingestor.ingest([folder], progress=False)
    seconds = time.perf_counter() - started
    lines = [line.strip() for line in report.summary().splitlines()]
    failed = {
        line.split(": ", 2)[1].rsplit("/", 1)[-1]: line.split(": ", 2)[2]
        for line in lines
        if line.startswith("failed:")
    }
    assert failed == {
        "locked.pdf": "encrypted PDF (it needs a password): decrypt it first",
        "scan.pdf": "no text layer (a scanned PDF?): OCR it first",
        "pages.pdf": "200,000 pages: more than 1,000, not a news document (a PDF bomb?)",
        "bomb.pdf": "PDF needs more than 768 MB to read (a PDF bomb?)",
        "bomb.jsonl.gz": "compressed contents expand over 200x (a decompression bomb?); stopped after 10 MB",
        "broken.docx": "not a Word file (not a zip archive: File is not a zip file)",
    }, report.summary()
    warnings = [line for line in lines if line.startswith("warning:")]
    assert any(
        w.endswith("letters.mbox: message 2: unknown charset 'x-unknown-8bit'; decoded as cp1252")
        for w in warnings
    ), warnings
    assert any("cut.warc.gz: record at offset " in w and "cut short" in w for w in warnings), warnings
    # the good PDF, both newsletters and the page before the cut are in; the rest is counted by type
    assert lines[0].startswith("added 4 article(s)") and "failed 6" in lines[0]
    assert lines[0].endswith("; skipped 2 files: 1 .png, 1 .pptx (types newsqa does not read)")
    assert seconds < 60 and _peak_mb() - before < 300, (seconds, _peak_mb() - before)


def test_reingest_skips_what_is_unchanged_and_a_new_crawl_replaces(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    ingestor = Ingestor(settings)
    write_warc(tmp_path / "crawl.warc.gz")
    assert len(ingestor.ingest([tmp_path / "crawl.warc.gz"], progress=False).added) == 2
    again = ingestor.ingest([tmp_path / "crawl.warc.gz"], progress=False)
    assert (len(again.added), len(again.unchanged), again.replaced) == (0, 2, [])
    changed = (
        TRAM.replace(b"2.50 euros", b"2.80 euros")
        .replace(b"will stay at", b"rise to")
        .replace(b"frozen for another year", b"rise next year")
    )
    write_warc(
        tmp_path / "crawl-2.warc.gz",
        [("https://fjord.example/glacier", GLACIER), ("https://fjord.example/tram", changed)],
    )
    report = ingestor.ingest([tmp_path / "crawl-2.warc.gz"], progress=False)
    assert len(report.replaced) == 1 and [a.title for a in report.added] == ["Tram fares rise next year"]
    titles = sorted(r.title for r in ingestor.catalog.rows())
    assert titles == ["Soltind glacier retreated 38 metres last summer", "Tram fares rise next year"]


def test_uploads_and_api_count_refused_types(tmp_path: Path) -> None:
    from qa.ui import library

    (tmp_path / "a.pptx").write_bytes(b"PK")
    (tmp_path / "b.pptx").write_bytes(b"PK")
    (tmp_path / "c.exe.gz").write_bytes(b"x")
    accepted, refused = library.check_uploads(list(tmp_path.iterdir()), max_mb=1)
    assert accepted == [] and dict(library.skipped_types(refused)) == {".pptx": 2, ".exe.gz": 1}
    assert library.upload_summary(refused, None) == (
        "nothing was ingested; skipped 3 files: 2 .pptx, 1 .exe.gz (types newsqa does not read)"
    )
    assert ".pdf" in library.accepted_types() and ".mbox" in library.accepted_types()


def test_gzipped_documents_are_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "strike.pdf.gz"
    path.write_bytes(gzip.compress(make_pdf(PDF_PAGES)))
    with pytest.raises(ParseError, match=r"^a gzipped \.pdf is not read: decompress it first$"):
        _read(path)


@pytest.mark.slow
def test_each_new_format_is_answered_with_a_citation_of_its_article(
    sample_engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One index of every new format (the sitemap's page from a server on 127.0.0.1), one short question
    per format to the session's 1.5B model: each answer cites the article it comes from."""
    from doc_fixtures import FERRY, local_site, news_sitemap

    from index.web import ingest_urls
    from qa.answer import Engine

    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "strike.pdf").write_bytes(make_pdf(PDF_PAGES))
    write_docx(folder / "council.docx")
    write_warc(folder / "crawl.warc.gz")
    write_mbox(folder / "letters.mbox")
    settings = Settings(data_dir=tmp_path / "data", fetch_delay=0, fetch_timeout=10)
    engine = Engine(settings, llm=sample_engine.llm)  # the session's model: never two loaded at once
    with local_site() as site:
        site.serve("/ferry", FERRY)
        sitemap = site.serve(
            "/sitemap.xml",
            lambda base: news_sitemap(base, [("/ferry", "Holm ferry", "2024-05-20")]),
            "application/xml",
        )
        web, report = ingest_urls(settings, [sitemap], engine.ingestor(), paths=[folder], progress=False)
    assert report.ok and web.errors == [] and len(report.added) == 8, report.summary()
    questions = [
        (
            "When do the container cranes in Portville restart?",
            "Harbor strike ends after nine days",
            "monday",
        ),
        (
            "How much did the council approve for the Eastwick library?",
            "Council approves Eastwick library budget",
            "4.2",
        ),
        (
            "How far did the Soltind glacier retreat last summer?",
            "Soltind glacier retreated 38 metres last summer",
            "38",
        ),
        (
            "On which day is the Lindholm orchard festival held?",
            "Orchard festival moves to Saturday",
            "saturday",
        ),
        (
            "At what time will the ferry to Holm island leave from June?",
            "Holm ferry leaves at 7:15 from June",
            "7:15",
        ),
    ]
    for question, title, expected in questions:
        answer = engine.ask(question, style="short")
        assert not answer.abstained and answer.citations, (question, answer.text)
        assert {c.passage.title for c in answer.citations} == {title}, (question, answer.text)
        assert expected in answer.text.lower(), (question, answer.text)
