"""One article from the text blocks of a document file (a PDF's lines, a Word file's paragraphs).

The title is the document's own (its metadata) when that is a real title, else its first line; the date is
a short date line near the top, else a dateline's date ("PORTVILLE, March 5, 2024 —"), else the
document's metadata date; a dateline's place is split off the body as for text files.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from index.models import Article, normalize_text
from index.parse import ParseError, first_sentence_title, normalize_date, split_dateline

HEAD_LINES = 6  # the title and date are looked for in the first lines only
MAX_TITLE_CHARS = 200
_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?"
_DATE_IN_LINE = re.compile(
    rf"\b{_MONTH}\s+\d{{1,2}},?\s+\d{{4}}\b|\b\d{{1,2}}\s+{_MONTH}\s+\d{{4}}\b|\b\d{{4}}-\d{{2}}-\d{{2}}\b"
)
_JUNK_TITLE = re.compile(
    r"(?i)^(?:untitled|document\d*|microsoft word - .*|.*\.(?:docx?|pdf|indd|qxd|rtf|odt|txt))$"
)
_SENTENCE_END = (".", "!", "?", ":", '"', "”", "’", "'")


def usable_title(title: str | None) -> str | None:
    """A document's metadata title, unless it is empty or a placeholder ("Untitled", a file name,
    "Microsoft Word - draft.docx")."""
    title = " ".join((title or "").split())
    if not title or len(title) > MAX_TITLE_CHARS or _JUNK_TITLE.match(title):
        return None
    return title


def _head_date(lines: list[str]) -> tuple[str | None, int | None]:
    """A date near the top: (ISO date, index of a line that is only a date, to drop) or (date, None) for
    a date inside a longer line (a dateline), or (None, None)."""
    for i, line in enumerate(lines[:HEAD_LINES]):
        if len(line) <= 40 and (day := normalize_date(line)):
            return day, i
        match = _DATE_IN_LINE.search(line[:120])
        if match and (day := normalize_date(match.group(0))):
            return day, None
    return None, None


def reflow(lines: Sequence[str]) -> str:
    """Hard-wrapped lines (a PDF's) joined into paragraphs: a line that does not end a sentence runs on
    into the next one; a blank line always ends a paragraph."""
    paragraphs: list[str] = []
    current: list[str] = []
    for raw in lines:
        line = " ".join(raw.split())
        if not line:
            if current:
                paragraphs.append(" ".join(current))
                current = []
            continue
        current.append(line)
        if line.endswith(_SENTENCE_END):
            paragraphs.append(" ".join(current))
            current = []
    if current:
        paragraphs.append(" ".join(current))
    return "\n\n".join(paragraphs)


def document_article(
    lines: Sequence[str],
    source: str,
    *,
    title: str | None = None,
    date: str | None = None,
    author: str | None = None,
    wrapped: bool = False,
) -> Article:
    """The article in a document's text ``lines`` (``wrapped``: hard-wrapped lines to reflow, as a PDF's),
    with the metadata ``title``, ``date`` and ``author`` it declares (each None when it has none)."""
    lines = [" ".join(line.split()) for line in lines]
    while lines and not lines[0]:
        lines.pop(0)
    if not any(lines):
        raise ParseError("no text in the document")
    title = usable_title(title)
    first = lines[0]
    if len(first) <= MAX_TITLE_CHARS and (title is None or normalize_text(first) == normalize_text(title)):
        title = title or first
        lines = lines[1:]
    day, date_line = _head_date(lines)
    if date_line is not None:
        lines = lines[:date_line] + lines[date_line + 1 :]
    text = reflow(lines) if wrapped else "\n\n".join(line for line in lines if line)
    place, _, body = split_dateline(text.strip())
    body = body.strip()
    if not body:
        raise ParseError("no article text (only a title or a date)")
    return Article(
        title=title or first_sentence_title(body),
        body=body,
        published=day or normalize_date(date),
        author=" ".join((author or "").split()) or None,
        source=source,
        place=place,
    )
