"""E-mail newsletters (``.eml``: one message; ``.mbox``: a mailbox of them) as articles, with the
standard library's ``email`` and ``mailbox``.

Each message is one article: the subject is its title, ``Date:`` its date, the sender's display name (else
the domain of their address) its outlet; the text is the HTML part read by trafilatura (as a web page is),
else the plain-text part. Quoted replies (``>`` lines and the "On … wrote:" line before them), a signature
after ``-- `` and the unsubscribe / preferences footer at the end are dropped. The message's
``Message-ID`` names it, so a mailbox read again knows its messages however they are ordered.

A message in a charset Python does not know is decoded as UTF-8 when it is valid UTF-8, else as cp1252,
with a warning naming it; a message without text, or over ``MAX_MESSAGE_BYTES``, is skipped with a warning
and the rest of the mailbox is read.
"""

from __future__ import annotations

import email
import email.policy
import mailbox
import re
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING

from index.models import Article
from index.parse import ParseError, first_sentence_title, normalize_date

if TYPE_CHECKING:
    from index.reading import FileReport

MAX_MESSAGE_BYTES = 25_000_000  # attachments included; the text itself is far smaller
MAX_WARNINGS = 20
FOOTER_LINES = 25  # a footer is looked for in the last lines only
_FOOTER = re.compile(
    r"(?i)\bunsubscribe\b|manage (?:your )?(?:preferences|subscription)|update your preferences|"
    r"you (?:are )?receiv(?:ed|ing) this (?:e-?mail|newsletter|message)|"
    r"view (?:this email |it )?in (?:your|a) browser|opt[ -]out|no longer wish to receive"
)
_WROTE = re.compile(r"(?i)^\s*on .{4,200}wrote:\s*$")


def clean_text(text: str) -> str:
    """A newsletter's text without quoted replies, a signature, or an unsubscribe footer."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    for line in lines:
        if line.rstrip() == "--":  # "-- " starts a signature: the rest is not the newsletter
            break
        if line.lstrip().startswith(">"):
            if kept and _WROTE.match(kept[-1]):
                kept.pop()
            continue
        kept.append(line)
    tail = max(0, len(kept) - FOOTER_LINES)
    for i in range(tail, len(kept)):
        if _FOOTER.search(kept[i]):
            kept = kept[:i]
            break
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()


def _outlet(message: EmailMessage) -> str | None:
    """The sender's display name, else their address's domain."""
    try:
        addresses = message["from"].addresses if message["from"] is not None else ()
    except (AttributeError, IndexError, ValueError):
        return None
    for address in addresses:
        name = " ".join((address.display_name or "").split())
        if name:
            return name
        if address.domain:
            return address.domain.lower().removeprefix("www.")
    return None


def _part_text(part: EmailMessage, warn: list[str]) -> str:
    """A text part's content; an unknown charset is decoded as UTF-8 if valid, else cp1252 (warned)."""
    try:
        return part.get_content()
    except (LookupError, UnicodeError):
        data = part.get_payload(decode=True) or b""
        try:
            text, used = data.decode("utf-8"), "UTF-8"
        except UnicodeDecodeError:
            text, used = data.decode("cp1252", errors="replace"), "cp1252"
        warn.append(f"unknown charset '{part.get_content_charset()}'; decoded as {used}")
        return text


def _body(message: EmailMessage, warn: list[str]) -> str:
    """The newsletter's text: its HTML part through trafilatura, else its plain-text part."""
    from index.reading import html_fields

    html = message.get_body(preferencelist=("html",))
    if html is not None:
        try:
            return clean_text(html_fields(_part_text(html, warn))["body"] or "")
        except ParseError:
            pass  # no article text in the HTML: the plain-text part may have it
    plain = message.get_body(preferencelist=("plain",))
    return clean_text(_part_text(plain, warn)) if plain is not None else ""


def message_article(data: bytes, path: Path, number: int, warn: list[str]) -> Article:
    """The article in one message's bytes (``number``: its place in the file, for a message without a
    ``Message-ID``); ParseError when it holds no text. Decoding notes are added to ``warn``."""
    message = email.message_from_bytes(data, _class=EmailMessage, policy=email.policy.default)
    if not isinstance(message, EmailMessage) or not message.keys():
        raise ParseError("not an e-mail message (no headers)")
    body = _body(message, warn)
    if not body:
        raise ParseError("no text in the message")
    subject = " ".join(str(message.get("subject", "") or "").split())
    message_id = " ".join(str(message.get("message-id", "") or "").split()).strip("<>")
    date = message.get("date")
    published = normalize_date(date.datetime if getattr(date, "datetime", None) else str(date or "") or None)
    return Article(
        title=subject or first_sentence_title(body),
        body=body,
        published=published,
        outlet=_outlet(message),
        source=f"{path}#{message_id or number}",
    )


def _messages(path: Path) -> Iterator[tuple[int, bytes | None]]:
    """(number from 1, bytes) of each message; None in place of one over ``MAX_MESSAGE_BYTES``."""
    if path.suffix.lower() == ".eml":
        with path.open("rb") as handle:
            data = handle.read(MAX_MESSAGE_BYTES + 1)
        yield 1, data if len(data) <= MAX_MESSAGE_BYTES else None
        return
    box = mailbox.mbox(path, create=False)
    try:
        for number, key in enumerate(box.iterkeys(), start=1):
            handle = box.get_file(key)
            data = handle.read(MAX_MESSAGE_BYTES + 1)
            handle.close()
            yield number, data if len(data) <= MAX_MESSAGE_BYTES else None
    finally:
        box.close()


def read_mail(path: Path, report: FileReport) -> Iterator[Article]:
    """The newsletters of an ``.eml`` or ``.mbox`` file (see the module's description)."""
    single = path.suffix.lower() == ".eml"
    produced = 0
    problems: list[str] = []
    for number, data in _messages(path):
        warn: list[str] = []
        where = "" if single else f"message {number}: "
        try:
            if data is None:
                raise ParseError(f"over {MAX_MESSAGE_BYTES / 1e6:.0f} MB")
            article = message_article(data, path, number, warn)
        except ParseError as exc:
            if single:
                raise
            report.skipped_records += 1
            problems.append(f"{where}{exc}; skipped")
            continue
        finally:
            problems += [f"{where}{w}" for w in warn]
        produced += 1
        yield article
    report.warnings += problems[:MAX_WARNINGS]
    if len(problems) > MAX_WARNINGS:
        report.warnings.append(f"... and {len(problems) - MAX_WARNINGS} more")
    if produced == 0:
        if problems:
            raise ParseError(f"no newsletter with text in the mailbox ({problems[0]})")
        raise ParseError("no message in the mailbox (an mbox message starts with a 'From ' line)")
