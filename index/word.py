"""Word files (``.docx``) as articles, with ``python-docx``: one article per file, paragraphs and table
rows in document order; title, date and dateline as for PDFs (:mod:`index.document`), the file's own
title, author and creation date used where it declares them.

A ``.docx`` is a zip archive: its entries' declared sizes are checked before anything is unpacked
(``MAX_UNPACKED_BYTES``, ``MAX_ENTRIES``), so a zip bomb is refused in milliseconds.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from index.parse import ParseError

if TYPE_CHECKING:
    from index.models import Article
    from index.reading import FileReport

MAX_UNPACKED_BYTES = 200_000_000
MAX_ENTRIES = 10_000
# what python-docx's own template declares: not the document's author or date
_TEMPLATE_AUTHOR = "python-docx"
_TEMPLATE_CREATED = datetime(2013, 12, 23, 23, 15)


def check_zip(path: Path) -> None:
    """ParseError unless ``path`` is a zip archive of sane size (declared sizes; zipfile then reads no
    entry past its declared size)."""
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ParseError(f"not a Word file (not a zip archive: {exc})") from exc
    unpacked = sum(entry.file_size for entry in entries)
    if len(entries) > MAX_ENTRIES or unpacked > MAX_UNPACKED_BYTES:
        raise ParseError(
            f"{len(entries):,} entries unpacking to {unpacked / 1e6:,.0f} MB: more than a Word file holds "
            "(a zip bomb?)"
        )


def _blocks(document: Any) -> list[str]:
    """Paragraph texts and table rows (cells joined by `` | ``), in document order."""
    from docx.table import Table

    blocks: list[str] = []
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            for row in item.rows:
                cells = list(dict.fromkeys(cell.text.strip() for cell in row.cells))  # merged cells once
                blocks.append(" | ".join(c for c in cells if c))
        else:
            blocks.append(item.text)
    return blocks


def read_docx(path: Path, report: FileReport) -> Iterator[Article]:
    """The one article of a Word file; ParseError (one line) when it is not one or holds no text."""
    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from lxml import etree

    from index.document import document_article

    check_zip(path)
    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, KeyError, ValueError, zipfile.BadZipFile, etree.XMLSyntaxError) as exc:
        raise ParseError(f"not a readable Word file ({type(exc).__name__}: {exc})") from exc
    core = document.core_properties
    created = core.created
    if created is not None and created.replace(tzinfo=None) == _TEMPLATE_CREATED:
        created = None
    author = core.author if core.author != _TEMPLATE_AUTHOR else None
    yield document_article(
        _blocks(document),
        str(path),
        title=core.title,
        date=created.date().isoformat() if created else None,
        author=author,
    )
