"""PDF files (``.pdf``) as articles: text by PDFium (``pypdfium2``), one article per file.

PDFium is C++ and a PDF can be built to exhaust it (a page tree of a million pages, a content stream
that inflates to gigabytes, or just a crash), so the text is read in a child process
(``python -m index.pdf FILE``) with ``MEMORY_MB`` of address space and ``SECONDS`` of time: whatever the
file does, the ingest gets one line saying why and goes on. A document of more than ``MAX_PAGES`` pages,
or a page of more than ``MAX_OBJECTS`` objects, is refused before its text is read.

A multi-page file stays one article (an e-paper's pages are not split at guessed headlines: a running head,
a jump line or a page number in large type would cut one story into several, each titled wrong; the
chunks are searched and cited one by one anyway). Title, date and dateline: :mod:`index.document`.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from index.parse import ParseError

if TYPE_CHECKING:
    from index.models import Article
    from index.reading import FileReport

MAX_PAGES = 1000  # a daily's e-paper is under 200 pages
MAX_OBJECTS = 200_000  # text, path and image objects on one page
MAX_TEXT_CHARS = 20_000_000
MEMORY_MB = 768  # address space of the child process that runs PDFium
SECONDS = 60.0
_PDF_DATE = re.compile(r"^(?:D:)?(\d{4})(\d{2})?(\d{2})?")


def pdf_date(value: str | None) -> str | None:
    """A PDF metadata date (``D:20240305120000Z``) as an ISO date, or None."""
    match = _PDF_DATE.match((value or "").strip())
    if not match:
        return None
    year, month, day = match.group(1), match.group(2) or "01", match.group(3) or "01"
    return f"{year}-{month}-{day}" if "01" <= month <= "12" and "01" <= day <= "31" else None


def read_pdf(path: Path, report: FileReport) -> Iterator[Article]:
    """The one article of a PDF file; ParseError (one line) when it has no text layer, is encrypted, is
    not a PDF or is beyond the bounds above."""
    from index.document import document_article

    found = extract(path)
    pages: list[str] = found["pages"]
    if not any(page.strip() for page in pages):
        raise ParseError("no text layer (a scanned PDF?): OCR it first")
    if found.get("cut"):
        report.warnings.append(f"text cut at {MAX_TEXT_CHARS / 1e6:.0f} million characters")
    meta = found.get("metadata") or {}
    lines = [line for page in pages for line in [*page.replace("\r\n", "\n").split("\n"), ""]]
    yield document_article(
        lines,
        str(path),
        title=meta.get("Title"),
        date=pdf_date(meta.get("CreationDate")),
        author=meta.get("Author"),
        wrapped=True,
    )


def extract(path: Path, seconds: float = SECONDS) -> dict[str, Any]:
    """``{"pages": [text of each page], "metadata": {...}, "cut": bool}`` from the child process;
    ParseError with the reason when the file cannot be read within the bounds."""
    package_root = str(Path(__file__).resolve().parent.parent)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")])),
    }
    try:
        done = subprocess.run(
            [sys.executable, "-m", "index.pdf", str(path)],
            capture_output=True,
            timeout=seconds,
            env=env,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        raise ParseError(f"PDF not read within {seconds:g} s (a PDF bomb?)") from exc
    try:
        found = json.loads(done.stdout)
    except ValueError:
        found = None
    if done.returncode != 0 or not isinstance(found, dict):
        if done.returncode == -signal.SIGXCPU:
            raise ParseError(f"PDF not read within {seconds:g} s of CPU time (a PDF bomb?)")
        if done.returncode < 0 or b"MemoryError" in done.stderr or b"bad_alloc" in done.stderr:
            raise ParseError(f"PDF needs more than {MEMORY_MB} MB to read (a PDF bomb?)")
        detail = (done.stderr.decode(errors="replace").strip().splitlines() or ["no output"])[-1]
        raise ParseError(f"PDFium could not read the file ({detail[:200]})")
    if "error" in found:
        raise ParseError(str(found["error"]))
    return found


def _child_read(path: str) -> dict[str, Any]:
    """In the child: the pages' text and the metadata, or ``{"error": reason}``."""
    import pypdfium2 as pdfium
    import pypdfium2.raw as raw

    try:
        document = pdfium.PdfDocument(path)
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            return {"error": "encrypted PDF (it needs a password): decrypt it first"}
        return {"error": f"not a readable PDF ({exc})"}
    count = len(document)
    if count > MAX_PAGES:
        return {"error": f"{count:,} pages: more than {MAX_PAGES:,}, not a news document (a PDF bomb?)"}
    pages: list[str] = []
    total = 0
    for number in range(count):
        page = document[number]
        objects = raw.FPDFPage_CountObjects(page.raw)
        if objects > MAX_OBJECTS:
            return {
                "error": f"page {number + 1} holds {objects:,} objects: more than {MAX_OBJECTS:,} (a PDF bomb?)"
            }
        text = page.get_textpage().get_text_bounded()
        pages.append(text)
        total += len(text)
        if total > MAX_TEXT_CHARS:
            return {"pages": pages, "metadata": document.get_metadata_dict(), "cut": True}
    return {"pages": pages, "metadata": document.get_metadata_dict(), "cut": False}


def _child(path: str) -> None:
    """The child process: cap its memory and CPU time, read the PDF, print JSON."""
    import resource

    limit = MEMORY_MB * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    resource.setrlimit(resource.RLIMIT_CPU, (int(SECONDS) + 1, int(SECONDS) + 1))
    sys.stdout.write(json.dumps(_child_read(path)))


if __name__ == "__main__":
    _child(sys.argv[1])
