"""Turn the text of one news file into an ``Article``: title, ISO date, outlet, url, dateline, body.

Two plain-text layouts are recognised (both appear in the sample corpus):

(a) a title line, a date line ("Dec 31, 2021"), then the body, whose first line may open with a
    dateline ("Moscow [Russia], December 31 : ...", "WASHINGTON (AP) — ...");
(b) a leading `` date 2021-12-31 `` marker, then the body with no title line: the title is the
    body's first sentence.

Optional ``Key: value`` header lines (Title, Date, Published, Source, Outlet, Publisher, URL, Link) or a
``---`` front-matter block may precede either layout; a Markdown ``# Title`` counts as a title line.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from index.models import Article
from index.sentences import first_sentence


class ParseError(ValueError):
    """A file (or record) that cannot become an article; the message says why."""


_HEADER_KEYS = {
    "title": "title",
    "headline": "title",
    "date": "published",
    "published": "published",
    "published_at": "published",
    "source": "outlet",
    "outlet": "outlet",
    "publisher": "outlet",
    "url": "url",
    "link": "url",
}
_HEADER_RE = re.compile(r"^\s*([A-Za-z_]+)\s*:\s*(.+?)\s*$")
_DATE_MARKER_RE = re.compile(r"^\s*date\s+(\d{4}-\d{2}-\d{2})\s+", re.IGNORECASE)
_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?"
# "Moscow [Russia], December 31 :"  /  "NEW DELHI, Jan 3 (Reuters) -"
_DATELINE_PLACE_DATE_RE = re.compile(
    rf"^(?P<place>[A-Z][\w.'’\- ]{{1,40}}(?:\s*\[[^\]]{{1,40}}\])?(?:,\s*[A-Z][\w.' ]{{1,30}})?)\s*,\s*"
    rf"{_MONTH}\s+\d{{1,2}}(?:,\s*\d{{4}})?\s*(?:\((?P<agency>[A-Za-z ]{{2,20}})\))?\s*[:\-—–]+\s*"
)
# "WASHINGTON (AP) —"
_DATELINE_AGENCY_RE = re.compile(
    r"^(?P<place>[A-Z][A-Z.'’\- ]{1,40}(?:,\s*[A-Z][\w.]{1,20})?)\s*\((?P<agency>[A-Za-z ]{2,20})\)\s*[—–\-:]+\s*"
)


_YEAR_RE = re.compile(r"(?<!\d)(1[89]\d\d|20\d\d)(?!\d)")
_DATEPARSER_SETTINGS = {
    "PARSERS": ["timestamp", "custom-formats", "absolute-time"],  # nothing relative ("3 days ago")
    "PREFER_DAY_OF_MONTH": "first",
    "RETURN_AS_TIMEZONE_AWARE": False,
    "REQUIRE_PARTS": ["year", "month"],
}


def normalize_date(value: str | int | float | date | datetime | None) -> str | None:
    """Return the ISO 8601 date (YYYY-MM-DD) of a date-like value, or None when it is not a dated value.

    Any common written form is understood (dateparser: "Dec 31, 2021", "31 December 2021", "2026/05/08",
    RFC 822, ISO 8601 with time and zone, Unix timestamps); a date without a year is not trusted.
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    text = str(value).strip()
    if re.fullmatch(r"\d{9,10}(\.\d+)?", text):  # Unix seconds
        try:
            return datetime.fromtimestamp(float(text), tz=UTC).date().isoformat()
        except (OverflowError, OSError, ValueError):
            return None
    if not text or len(text) > 64 or not _YEAR_RE.search(text):
        return None
    try:
        return date.fromisoformat(text[:10]).isoformat()
    except ValueError:
        pass
    import dateparser

    try:
        parsed = dateparser.parse(text, settings=_DATEPARSER_SETTINGS)
    except (ValueError, OverflowError, TypeError, RecursionError):
        return None
    return parsed.date().isoformat() if parsed else None


def first_sentence_title(body: str, max_words: int = 16) -> str:
    """Derive a title from the body's first sentence, shortened to ``max_words`` words."""
    first = first_sentence(body)
    words = first.split()
    if len(words) > max_words:
        return " ".join(words[:max_words]).rstrip(",;:") + " …"
    return first.rstrip(".")


def split_dateline(body: str) -> tuple[str | None, str | None, str]:
    """Split a leading dateline off the body: (place, agency, rest)."""
    for pattern in (_DATELINE_PLACE_DATE_RE, _DATELINE_AGENCY_RE):
        match = pattern.match(body)
        if match:
            return match.group("place").strip(), match.group("agency"), body[match.end() :]
    return None, None, body


def _read_headers(lines: list[str]) -> tuple[dict[str, str], list[str]]:
    """Consume front matter / ``Key: value`` header lines at the top of the file."""
    headers: dict[str, str] = {}
    if lines and lines[0].strip() == "---":
        try:
            end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
        except StopIteration:
            end = 0
        if end:
            for line in lines[1:end]:
                match = _HEADER_RE.match(line)
                if match and match.group(1).lower() in _HEADER_KEYS:
                    headers[_HEADER_KEYS[match.group(1).lower()]] = match.group(2).strip("\"'")
            return headers, lines[end + 1 :]
    i = 0
    while i < len(lines):
        match = _HEADER_RE.match(lines[i])
        if not match or match.group(1).lower() not in _HEADER_KEYS:
            break
        headers[_HEADER_KEYS[match.group(1).lower()]] = match.group(2)
        i += 1
    return headers, lines[i:]


def parse_text(text: str, source: str = "") -> Article:
    """Parse a plain-text or Markdown news article (layouts (a) and (b) above)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    if not text.strip():
        raise ParseError("empty file")
    headers, lines = _read_headers(text.split("\n"))
    title = headers.get("title")
    published = normalize_date(headers.get("published"))
    rest = "\n".join(lines).strip()

    marker = _DATE_MARKER_RE.match(rest)
    if marker:  # layout (b)
        published = published or normalize_date(marker.group(1))
        rest = rest[marker.end() :].strip()
    elif title is None:  # layout (a): title line, then maybe a date line
        head, _, rest = rest.partition("\n")
        title = head.strip().lstrip("#").strip()
        rest = rest.strip()
        date_line, _, after = rest.partition("\n")
        line_date = normalize_date(date_line) if len(date_line.strip()) <= 40 else None
        if line_date:
            published = published or line_date
            rest = after.strip()

    place, agency, body = split_dateline(rest)
    body = body.strip()
    if not body:
        raise ParseError("no article text (only a title or header lines)")
    if not title:
        title = first_sentence_title(body)
    outlet = headers.get("outlet") or agency
    return Article(
        title=title,
        body=body,
        published=published,
        outlet=outlet,
        url=headers.get("url"),
        source=source,
        place=place,
    )
