"""Readers for every article format newsqa ingests, each yielding articles one at a time.

- ``.txt`` / ``.md``: one article per file (``index.parse.parse_text``).
- ``.html`` / ``.htm``: main text and metadata by trafilatura (menus, footers and ads dropped).
- ``.json``: one object, a list of objects, or an object holding such a list (``articles``, ``items``...).
- ``.jsonl``: one object per line, streamed; a malformed line is skipped with a warning.
- ``.csv``: one row per article, streamed; a file without a text column fails with the columns it has.
- any of these ``.gz``-compressed (streamed through gzip; contents that expand past ``GZIP_MAX_RATIO``
  times the compressed size, beyond the first ``GZIP_FREE_BYTES``, stop the file as a decompression bomb).
- ``.pdf`` (:mod:`index.pdf`), ``.docx`` (:mod:`index.word`): one article per file.
- ``.warc`` / ``.arc`` and their ``.gz`` (:mod:`index.warc`): one article per HTML page of a web archive.
- ``.eml`` / ``.mbox`` (:mod:`index.mail`): one article per e-mail newsletter.

Field names are detected (title/headline, body/text/content/article, date/published_at/publish_date,
source/outlet/publisher, url/link, author) and can be overridden (``field_map={"body": "story_text"}``).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import sys
import zlib
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import IO, Any

from index.models import Article
from index.parse import ParseError, first_sentence_title, normalize_date, parse_text
from index.reading import (  # noqa: F401 - FileReport, html_fields and host_of are this module's API too
    GZIP_FREE_BYTES,
    GZIP_MAX_RATIO,
    BoundedGzip,
    FileReport,
    host_of,
    html_fields,
)

TEXT_SUFFIXES = {".txt", ".md"}
HTML_SUFFIXES = {".html", ".htm"}
RECORD_SUFFIXES = {".json", ".jsonl", ".csv"}
DOCUMENT_SUFFIXES = {".pdf", ".docx", ".eml", ".mbox"}  # read as they are, never gzipped
ARCHIVE_SUFFIXES = {".warc", ".arc"}  # web archives: gzipped record by record, or not at all
GZIP_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | RECORD_SUFFIXES | ARCHIVE_SUFFIXES
SUPPORTED_SUFFIXES = GZIP_SUFFIXES | DOCUMENT_SUFFIXES
MAX_SINGLE_ARTICLE_BYTES = 5_000_000  # a .txt/.md/.html bigger than this is not one news article
MAX_JSON_BYTES = 200_000_000  # .json is read whole; bigger exports should be .jsonl (streamed)
MAX_LINE_BYTES = 20_000_000  # a JSONL line longer than this is not one article record
_SNIFF_BYTES = 8192

FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "title": ("title", "headline", "heading", "name"),
    "body": ("body", "text", "content", "article", "article_text", "story", "maintext", "full_text"),
    "published": (
        "published_at",
        "publish_date",
        "published",
        "date",
        "pubdate",
        "pub_date",
        "datetime",
        "date_published",
        "publication_date",
        "created_at",
        "time",
        "timestamp",
    ),
    "outlet": ("source", "outlet", "publisher", "source_name", "site_name", "sitename", "site", "domain"),
    "url": ("url", "link", "href", "canonical_url", "permalink"),
    "author": ("author", "authors", "byline", "creator"),
    "id": ("doc_id", "id", "article_id", "guid", "uuid"),
}
_LIST_KEYS = ("articles", "items", "data", "results", "documents", "docs", "records", "entries")


def format_of(path: Path) -> tuple[str, bool]:
    """The article format suffix of a path (``.jsonl`` for ``x.jsonl.gz``) and whether it is gzipped."""
    suffixes = [s.lower() for s in path.suffixes]
    gz = bool(suffixes) and suffixes[-1] == ".gz"
    if gz:
        suffixes = suffixes[:-1]
    return (suffixes[-1] if suffixes else ""), gz


def is_supported(path: Path) -> bool:
    """Whether newsqa can read this file."""
    kind, gz = format_of(path)
    return kind in (GZIP_SUFFIXES if gz else SUPPORTED_SUFFIXES)


def type_label(path: Path) -> str:
    """A file's type as a report names it: ``.pptx``, ``.pdf.gz``, ``(no extension)``."""
    suffixes = [s.lower() for s in path.suffixes if " " not in s][-2:]
    if suffixes[-1:] != [".gz"]:
        suffixes = suffixes[-1:]
    return "".join(suffixes) or "(no extension)"


def supported_types() -> str:
    """The file types newsqa reads, in one line (for help texts and messages)."""
    return " ".join(sorted(SUPPORTED_SUFFIXES)) + " (and .gz of " + " ".join(sorted(GZIP_SUFFIXES)) + ")"


def _open_binary(path: Path, gz: bool) -> IO[bytes]:
    return io.BufferedReader(BoundedGzip(path)) if gz else path.open("rb")


def decode(data: bytes, report: FileReport | None = None, where: str = "") -> str:
    """Decode bytes: UTF-8, else cp1252 with a warning; NUL bytes or mostly unprintable text is binary."""
    if b"\x00" in data[:_SNIFF_BYTES]:
        raise ParseError("binary file (contains NUL bytes), not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        warning = f"{where}not valid UTF-8 (byte {exc.start}); decoded as cp1252 instead"
    text = data.decode("cp1252", errors="replace")
    sample = text[:_SNIFF_BYTES]
    printable = sum(ch.isprintable() or ch in "\n\r\t" for ch in sample)
    if printable < 0.9 * len(sample):
        raise ParseError("binary file (mostly unprintable bytes), not text")
    if report is not None and not any("not valid UTF-8" in w for w in report.warnings):
        report.warnings.append(warning)
    return text


def _read_whole(path: Path, gz: bool, limit: int, what: str) -> bytes:
    if not gz and path.stat().st_size > limit:
        raise ParseError(
            f"file is {path.stat().st_size / 1e6:.0f} MB, too large for {what} (limit {limit / 1e6:.0f} MB)"
        )
    with _open_binary(path, gz) as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise ParseError(f"file is over {limit / 1e6:.0f} MB uncompressed, too large for {what}")
    if not data.strip():
        raise ParseError("empty file")
    return data


def _scalar(value: Any) -> str | None:
    """A field value as text: dicts give their name/title/url, lists their joined items."""
    if value is None:
        return None
    if isinstance(value, dict):
        for key in ("name", "title", "text", "url", "href", "value"):
            if key in value:
                return _scalar(value[key])
        return None
    if isinstance(value, list | tuple):
        items = [s for s in (_scalar(v) for v in value) if s]
        return ", ".join(items) if items else None
    text = str(value).strip()
    return text or None


def pick_fields(record: dict[str, Any], field_map: dict[str, str] | None = None) -> dict[str, str | None]:
    """Map a record's keys to article fields: explicit overrides first, then the known aliases."""
    lowered = {str(k).strip().lower(): v for k, v in record.items()}
    picked: dict[str, str | None] = {}
    for name, aliases in FIELD_ALIASES.items():
        override = (field_map or {}).get(name)
        keys = (override.lower(),) if override else aliases
        picked[name] = next((s for s in (_scalar(lowered.get(k)) for k in keys) if s), None)
    return picked


def _clean_outlet(outlet: str | None) -> str | None:
    """``www.cnn.com`` and ``cnn.com`` name the same outlet: a bare host loses its ``www.``."""
    if outlet and " " not in outlet and "." in outlet:
        return host_of(outlet) or outlet
    return outlet


def article_from_record(
    record: dict[str, Any], source: str, field_map: dict[str, str] | None = None
) -> Article:
    """Build an article from a structured record, or raise ParseError saying which field is missing."""
    if not isinstance(record, dict):
        raise ParseError(f"expected an object, got {type(record).__name__}")
    fields = pick_fields(record, field_map)
    body = fields["body"]
    if not body:
        wanted = (field_map or {}).get("body") or "/".join(FIELD_ALIASES["body"][:4])
        raise ParseError(f"no article text (field {wanted}) in record with keys {sorted(record)[:8]}")
    if not fields["title"]:
        fields["title"] = first_sentence_title(body)
    url = fields["url"]
    return Article(
        title=fields["title"],
        body=body.strip(),
        published=normalize_date(fields["published"]),
        outlet=_clean_outlet(fields["outlet"]) or host_of(url),
        url=url,
        source=source,
        author=fields["author"],
    )


def _html_article(text: str, source: str) -> Article:
    fields = html_fields(text)
    body = fields["body"] or ""
    url = fields["url"]
    return Article(
        title=fields["title"] or body.split("\n", 1)[0][:120],
        body=body,
        published=fields["published"],
        outlet=fields["outlet"] or fields["host"] or host_of(url),
        url=url,
        source=source,
        author=fields["author"],
    )


def _json_records(path: Path, gz: bool, report: FileReport) -> Iterator[tuple[str, Any]]:
    text = decode(_read_whole(path, gz, MAX_JSON_BYTES, "a .json file (use .jsonl)"), report)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParseError(f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from exc
    if isinstance(data, dict):
        nested = next((data[k] for k in _LIST_KEYS if isinstance(data.get(k), list)), None)
        data = nested if nested is not None else [data]
    if not isinstance(data, list):
        raise ParseError(f"expected a JSON object or list of objects, got {type(data).__name__}")
    for i, record in enumerate(data):
        yield f"#{i}", record


def _jsonl_records(path: Path, gz: bool, report: FileReport) -> Iterator[tuple[str, Any]]:
    with _open_binary(path, gz) as handle:
        for lineno, raw in enumerate(iter(lambda: handle.readline(MAX_LINE_BYTES + 1), b""), start=1):
            if len(raw) > MAX_LINE_BYTES:
                raise ParseError(
                    f"line {lineno} is over {MAX_LINE_BYTES / 1e6:.0f} MB: not one article record"
                )
            if not raw.strip():
                continue
            try:
                yield f"#L{lineno}", json.loads(decode(raw, report, f"line {lineno}: "))
            except (json.JSONDecodeError, ParseError) as exc:
                report.skipped_records += 1
                report.warnings.append(f"line {lineno}: invalid JSON ({exc}); line skipped")


def _csv_records(path: Path, gz: bool, report: FileReport) -> Iterator[tuple[str, Any]]:
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    with _open_binary(path, gz) as raw:
        head = raw.read(_SNIFF_BYTES)
        decode(head, None)  # binary check on the first block
        try:
            head.decode("utf-8")
            encoding = "utf-8-sig"
        except UnicodeDecodeError:
            encoding = "cp1252"
            report.warnings.append("not valid UTF-8; decoded as cp1252 instead")
    with _open_binary(path, gz) as raw:
        stream = io.TextIOWrapper(raw, encoding=encoding, errors="replace", newline="")
        reader = csv.DictReader(stream)
        if not reader.fieldnames:
            raise ParseError("empty file")
        columns = {name.strip().lower() for name in reader.fieldnames if name}
        if not columns & set(FIELD_ALIASES["body"]):
            yield "#columns", sorted(columns)  # no known text column: the caller checks the field map
        for i, row in enumerate(reader, start=2):
            yield f"#L{i}", row


def _document_reader(kind: str) -> Callable[[Path, FileReport], Iterator[Article]]:
    """The reader of a document or web-archive format (imported when first needed)."""
    if kind == ".pdf":
        from index.pdf import read_pdf

        return read_pdf
    if kind == ".docx":
        from index.word import read_docx

        return read_docx
    if kind in (".eml", ".mbox"):
        from index.mail import read_mail

        return read_mail
    from index.warc import read_warc

    return read_warc


def read_articles(
    path: Path, field_map: dict[str, str] | None = None, report: FileReport | None = None
) -> Iterator[Article]:
    """Yield the articles in one file. File-level problems raise ParseError (OSError if the file cannot
    be read at all); record-level problems are added to ``report.warnings`` and that record is skipped."""
    try:
        yield from _read_articles(path, field_map, report if report is not None else FileReport())
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise ParseError(f"not a valid gzip file ({exc})") from exc


def _read_articles(path: Path, field_map: dict[str, str] | None, report: FileReport) -> Iterator[Article]:
    kind, gz = format_of(path)
    if path.is_symlink() and not path.exists():
        raise ParseError("broken symbolic link")
    if not gz and path.stat().st_size == 0:
        raise ParseError("empty file")
    if kind in TEXT_SUFFIXES or kind in HTML_SUFFIXES:
        text = decode(_read_whole(path, gz, MAX_SINGLE_ARTICLE_BYTES, "one article"), report)
        yield (_html_article if kind in HTML_SUFFIXES else parse_text)(text, str(path))
        return
    if kind in DOCUMENT_SUFFIXES or kind in ARCHIVE_SUFFIXES:
        if gz and kind not in ARCHIVE_SUFFIXES:
            raise ParseError(f"a gzipped {kind} is not read: decompress it first")
        yield from _document_reader(kind)(path, report)
        return
    readers: dict[str, Callable[[Path, bool, FileReport], Iterator[tuple[str, Any]]]] = {
        ".json": _json_records,
        ".jsonl": _jsonl_records,
        ".csv": _csv_records,
    }
    if kind not in readers:
        raise ParseError(f"unsupported file type '{kind or '(none)'}'")
    produced = 0
    errors: list[str] = []
    for where, record in readers[kind](path, gz, report):
        if where == "#columns":
            wanted = (field_map or {}).get("body")
            if not wanted or wanted.lower() not in record:
                raise ParseError(
                    f"no text column: found columns {record}; expected one of "
                    f"{', '.join(FIELD_ALIASES['body'][:5])} (or name it with --field body=COLUMN)"
                )
            continue
        try:
            record_id = pick_fields(record, field_map)["id"] if isinstance(record, dict) else None
            article = article_from_record(record, f"{path}#{record_id}", field_map)
            if not record_id:  # keyed by content, not by line: inserting a line shifts no other record
                article = replace(article, source=f"{path}#{article.id}")
            yield article
            produced += 1
        except ParseError as exc:
            report.skipped_records += 1
            errors.append(f"{where.lstrip('#')}: {exc}")
    report.warnings += [f"record {e}; skipped" for e in errors[:20]]
    if len(errors) > 20:
        report.warnings.append(f"... and {len(errors) - 20} more records skipped")
    if produced == 0:
        if errors:
            raise ParseError(f"no usable records ({errors[0]})")
        if report.skipped_records:
            raise ParseError("no usable records (every line was invalid JSON)")
        raise ParseError("empty file (no records)")
