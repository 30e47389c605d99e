"""Web archives (``.warc``, ``.warc.gz``, ``.arc``, ``.arc.gz``) as articles, with ``warcio``.

Every ``response`` record (an ARC record is read as one) whose HTTP status is 200 and whose content is
HTML becomes a page read by trafilatura, exactly as ``newsqa ingest URL`` reads a fetched page
(:func:`index.reading.html_fields`): title, date and author from the page, outlet the page's site name
else the record's host, url the record's ``WARC-Target-URI``. The file is streamed record by record.

Passed over, and counted in one note per file: records that are not HTML, not HTTP 200, ``revisit``
records and repeats of a URL or payload already read from the file (the first capture is kept), pages
without article text. Request, metadata and warcinfo records are not pages and are not counted.

A record that is cut short or cannot be decompressed is one warning naming its offset; reading goes on
at the next record the file still holds (the next gzip member, or the next ``WARC/`` header). Contents
that expand past ``GZIP_MAX_RATIO`` times the compressed bytes (a decompression bomb) stop the file.
"""

from __future__ import annotations

import io
import zlib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from warcio.archiveiterator import ArchiveIterator
from warcio.bufferedreaders import DecompressingBufferedReader
from warcio.exceptions import ArchiveLoadFailed

from index.models import Article
from index.parse import ParseError
from index.reading import GZIP_FREE_BYTES, GZIP_MAX_RATIO, BoundedGzip, host_of, html_fields

if TYPE_CHECKING:
    from index.reading import FileReport

HTML_TYPES = ("text/html", "application/xhtml+xml")
MAX_PAGE_BYTES = 5_000_000  # as for an .html file
MAX_WARNINGS = 20
# what warcio raises on malformed records (besides its own ArchiveLoadFailed): a missing header, a bad
# length or status line, an undecodable header
_MALFORMED = (
    ArchiveLoadFailed,
    AttributeError,
    TypeError,
    KeyError,
    IndexError,
    ValueError,
    EOFError,
    UnicodeError,
)
_GZIP_MAGIC = b"\x1f\x8b\x08"
_SCAN_BLOCK = 1 << 20


class _Corrupt(Exception):
    """Compressed data that cannot be decompressed (raised in place of warcio's note on stderr)."""


class _Bomb(Exception):
    """Contents expanding past the decompression-bomb bound."""


class _StrictReader(DecompressingBufferedReader):
    """warcio's reader, except that corrupt gzip data raises (warcio writes it to stderr and reads on as
    if the member had ended) and decompressed bytes are bounded against the compressed bytes read."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.expanded = 0
        self.start = self.stream.tell()

    def _decompress(self, data: bytes) -> bytes:
        if self.decompressor is not None and data and self.num_block_read:
            try:
                out = self.decompressor.decompress(data)
            except zlib.error as exc:
                raise _Corrupt(str(exc)) from exc
        else:
            out = super()._decompress(data)
        self.expanded += len(out)
        read = max(self.stream.tell() - self.start, 1)
        if self.expanded > GZIP_FREE_BYTES and self.expanded > GZIP_MAX_RATIO * read:
            raise _Bomb(f"contents expand over {GZIP_MAX_RATIO}x (a decompression bomb?)")
        return out


class _Iterator(ArchiveIterator):
    """warcio's ArchiveIterator reading through :class:`_StrictReader`, counting (not printing) records
    that are not followed by the blank lines their length promises."""

    def __init__(self, handle: IO[bytes]) -> None:
        super().__init__(handle, arc2warc=True)
        self.reader = _StrictReader(self.fh, block_size=self.reader.block_size)
        self.misaligned = 0

    def _consume_blanklines(self) -> tuple[bytes | None, int]:
        """warcio's own, without its note on stderr."""
        empty_size = 0
        first_line = True
        while True:
            line = self.reader.readline()
            if len(line) == 0:
                return None, empty_size
            if len(line.rstrip()) == 0 or first_line:
                empty_size += len(line)
                if len(line.rstrip()) != 0:
                    self.misaligned += 1
                first_line = False
                continue
            return line, empty_size


def _is_html(record: Any, head: bytes) -> bool:
    kind = (record.http_headers.get_header("Content-Type") or "").split(";", 1)[0].strip().lower()
    if kind:
        return kind in HTML_TYPES
    start = head.lstrip()[:64].lower()
    return start.startswith((b"<!doctype html", b"<html"))


def _page(record: Any, path: Path, offset: int, seen: set[str], counts: Counter[str]) -> Article | None:
    """The article of one record, or None (and the reason counted) when it is not a new HTML page."""
    kind = record.rec_type
    if kind == "revisit":
        counts["duplicate (revisit record)"] += 1
        return None
    if kind != "response" or record.http_headers is None:
        return None
    status = record.http_headers.get_statuscode()
    if status != "200":
        counts[f"HTTP {status}"] += 1
        return None
    url = record.rec_headers.get_header("WARC-Target-URI") or ""
    digest = record.rec_headers.get_header("WARC-Payload-Digest")
    if url in seen or (digest and digest in seen):
        counts["duplicate (URL or payload read before)"] += 1
        return None
    try:
        content = record.content_stream().read(MAX_PAGE_BYTES + 1)
    except (_Corrupt, *_MALFORMED, OSError) as exc:
        counts[f"content that cannot be decoded ({type(exc).__name__})"] += 1
        return None
    if not _is_html(record, content[:512]):
        kind = (record.http_headers.get_header("Content-Type") or "unknown").split(";", 1)[0].strip()
        counts[f"not HTML ({kind})"] += 1
        return None
    seen.update(filter(None, (url, digest)))
    if len(content) > MAX_PAGE_BYTES:
        counts["page over 5 MB"] += 1
        return None
    try:
        fields = html_fields(content)
    except ParseError:
        counts["no article text"] += 1
        return None
    except Exception:  # noqa: BLE001 - an extractor failure on one odd page stops nothing else
        counts["page trafilatura could not read"] += 1
        return None
    body = fields["body"] or ""
    return Article(
        title=fields["title"] or body.split("\n", 1)[0][:120],
        body=body,
        published=fields["published"],
        outlet=fields["outlet"] or host_of(url) or fields["host"],
        url=url or None,
        source=f"{path}#{offset}",
        author=fields["author"],
    )


def whole_file_gzip(path: Path, probe: int = 2_000_000) -> bool:
    """Whether a gzipped web archive is one gzip member around many records (``gzip crawl.warc``) rather
    than a member per record, as the WARC standard has it: its first member holds a second record."""
    inflater = zlib.decompressobj(wbits=31)
    data = b""
    with path.open("rb") as handle:
        while len(data) < probe and not inflater.eof and (block := handle.read(1 << 16)):
            try:
                data += inflater.decompress(block, probe - len(data))
            except zlib.error:
                return False
    return data.find(b"\r\nWARC/1.") > 0


def _resume_at(handle: IO[bytes], start: int) -> int | None:
    """The offset of the next record that may begin after ``start``: a gzip member, else a ``WARC/``
    header line (None when the file holds neither, or is read as one stream)."""
    if not handle.seekable():
        return None
    handle.seek(start)
    carry = b""
    position = start
    while block := handle.read(_SCAN_BLOCK):
        data = carry + block
        found = [i for i in (data.find(_GZIP_MAGIC), data.find(b"\nWARC/1.")) if i >= 0]
        if found:
            at = min(found)
            return position - len(carry) + at + (1 if data[at : at + 1] == b"\n" else 0)
        carry = data[-8:]
        position += len(block)
    return None


def _reason(exc: BaseException) -> str:
    """A malformed record's reason in words."""
    if isinstance(exc, _Corrupt):
        return " ".join(str(exc).split())[:200]
    if isinstance(exc, ArchiveLoadFailed):
        return "not a WARC or ARC record"
    return f"malformed record ({type(exc).__name__})"


def _warn(report: FileReport, offset: int, reason: str) -> None:
    report.skipped_records += 1
    if report.skipped_records <= MAX_WARNINGS:
        report.warnings.append(f"record at offset {offset:,}: {reason}; read on after it")


def _records(handle: IO[bytes], report: FileReport, size: int | None) -> Iterator[tuple[int, Any]]:
    """(offset, record) for every record that can be read; a cut or corrupt one becomes a warning and the
    reading goes on at the next record found after it (``size``: the file's, to tell a cut last record;
    None for a stream)."""
    start: int | None = 0
    while start is not None:
        if handle.seekable():
            handle.seek(start)
        iterator = _Iterator(handle)
        records = iter(iterator)
        while True:
            offset = iterator.offset  # where the next record starts
            try:
                record = next(records, None)
            except _Bomb as exc:
                raise ParseError(f"record at offset {offset:,}: {exc}") from exc
            except (_Corrupt, *_MALFORMED) as exc:
                _warn(report, offset, _reason(exc))
                break
            if record is None:
                if size is not None and offset < size:  # the last record's start was read, not the record
                    _warn(report, offset, f"cut short ({size - offset:,} bytes that are not a whole record)")
                return
            yield offset, record
            try:
                iterator.read_to_end()
            except (_Corrupt, *_MALFORMED) as exc:
                _warn(report, offset, _reason(exc))
                break
            missing = getattr(record.raw_stream, "limit", 0)  # bytes its Content-Length promised, not there
            if missing > 0:
                _warn(report, offset, f"cut short ({missing:,} bytes missing)")
                break
        start = _resume_at(handle, max(offset, 0) + 1)


def read_warc(path: Path, report: FileReport) -> Iterator[Article]:
    """The articles of a web archive (see the module's description); ParseError when it holds no
    readable record at all, or expands like a decompression bomb."""
    counts: Counter[str] = Counter()
    seen: set[str] = set()
    pages = records = 0
    whole = path.suffix.lower() == ".gz" and whole_file_gzip(path)
    with io.BufferedReader(BoundedGzip(path)) if whole else path.open("rb") as handle:
        for offset, record in _records(handle, report, None if whole else path.stat().st_size):
            records += 1
            article = _page(record, path, offset, seen, counts)
            if article is not None:
                pages += 1
                yield article
    if report.skipped_records > MAX_WARNINGS:
        report.warnings.append(f"... and {report.skipped_records - MAX_WARNINGS} more unreadable records")
    if records == 0:
        reason = f" ({report.warnings[0]})" if report.warnings else ""
        raise ParseError(
            f"not a WARC or ARC file (no record could be read){reason.replace('; read on after it', '')}"
        )
    if counts:
        skipped = ", ".join(f"{n} {reason}" for reason, n in counts.most_common())
        report.notes.append(f"{pages} page(s) read; skipped {sum(counts.values())} record(s): {skipped}")
    if pages == 0 and not counts:
        report.notes.append("no HTML page in the archive")
