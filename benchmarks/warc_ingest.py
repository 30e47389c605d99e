"""``newsqa bench ingest --warc``: the same RealTime QA articles ingested from JSONL and from a WARC of
them rendered as HTML pages, so that the cost of reading a web archive (warcio, then trafilatura on every
page) is known next to reading records that are already text.

Each article becomes a page with a title, the outlet's site name and publication time in ``<meta>`` tags,
navigation and a footer around an ``<article>`` of its paragraphs; the WARC (gzip per record, written with
warcio) holds a request and a response record per page, as a crawler writes them. Both runs use one
embedding backend into their own fresh index; the first lines time reading alone (no embedding), on
a second pass (the first one loads the libraries).
"""

from __future__ import annotations

import html
import io
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.ingest_speed import BenchSetupError, _subset
from index.settings import Settings


def page_of(record: dict) -> bytes:
    """An article record as the HTML page a news site would serve."""
    title = html.escape(str(record.get("title") or ""))
    site = html.escape(str(record.get("source") or ""))
    day = html.escape(str(record.get("published_at") or "").replace("/", "-"))
    paragraphs = "".join(
        f"<p>{html.escape(p)}</p>" for p in str(record.get("body") or "").split("\n") if p.strip()
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title>"
        f"<meta property='og:site_name' content='{site}'><meta property='article:published_time' content='{day}'>"
        f"</head><body><nav>Home | World | Politics | Business | Sport</nav><article><h1>{title}</h1>"
        f"{paragraphs}</article><footer>Copyright {site}. Subscribe for unlimited access.</footer></body></html>"
    ).encode()


def write_warc(subset: Path, target: Path) -> int:
    """Write the records of the JSONL ``subset`` as a gzipped WARC of HTML pages; returns the pages."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    count = 0
    with subset.open() as source, target.open("wb") as out:
        writer = WARCWriter(out, gzip=True)
        for number, line in enumerate(source):
            record = json.loads(line)
            url = record.get("url") or f"https://bench.example/{number}"
            request = io.BytesIO(f"GET {url} HTTP/1.1\r\n\r\n".encode())
            writer.write_record(writer.create_warc_record(url, "request", payload=request))
            http = StatusAndHeaders(
                "200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1"
            )
            page = io.BytesIO(page_of(record))
            writer.write_record(writer.create_warc_record(url, "response", payload=page, http_headers=http))
            count += 1
    return count


def bench_warc(articles: int, corpus: Path, settings: Settings, echo: Callable[[str], None] = print,
               backend: str = "auto") -> dict[str, float]:  # fmt: skip
    """Ingest the first ``articles`` articles from JSONL and from a WARC; returns articles per second by
    run (``jsonl``, ``warc``, and ``read:jsonl`` / ``read:warc`` for reading alone)."""
    from index.formats import FileReport, read_articles
    from index.ingest import Ingestor

    if not corpus.exists():
        raise BenchSetupError(f"RealTime QA corpus not found at {corpus}; pass --corpus")
    rates: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="newsqa-bench-warc-") as tmp:
        folder = Path(tmp)
        subset = _subset(corpus, articles, folder)
        warc = folder / "articles.warc.gz"
        pages = write_warc(subset, warc)
        echo(
            f"{pages} articles: {subset.stat().st_size / 1e6:.1f} MB of JSONL, {warc.stat().st_size / 1e6:.1f} MB of WARC (gzip)"
        )
        for name, path in (("jsonl", subset), ("warc", warc)):
            list(
                read_articles(path, report=FileReport())
            )  # imports and caches warmed: the next pass is timed
            started = time.perf_counter()
            read = list(read_articles(path, report=FileReport()))
            seconds = time.perf_counter() - started
            rates[f"read:{name}"] = len(read) / seconds
            echo(f"read only  {name:<5} {len(read):>5} articles {seconds:>7.2f} s {rates[f'read:{name}']:>8.1f} articles/s "
                 f"({1000 * seconds / max(len(read), 1):.1f} ms each)")  # fmt: skip
        for name, path in (("jsonl", subset), ("warc", warc)):
            ingestor = Ingestor(
                settings.model_copy(update={"data_dir": folder / name, "embed_backend": backend})
            )
            ingestor.embedder.embed(["warm up"])  # model load (and any ONNX export) not timed
            started = time.perf_counter()
            report = ingestor.ingest([path], progress=False)
            seconds = time.perf_counter() - started
            rates[name] = len(report.added) / seconds
            echo(f"ingest     {name:<5} {len(report.added):>5} articles {seconds:>7.2f} s {rates[name]:>8.1f} articles/s "
                 f"[{ingestor.embedder.name}] stages: {report.stages_line()}")  # fmt: skip
    echo(f"WARC / JSONL: {rates['warc'] / rates['jsonl']:.2f} of the ingest rate; reading alone "
         f"{rates['read:warc'] / rates['read:jsonl']:.3f}")  # fmt: skip
    return rates
