"""Which outlets a question names ("as reported by TechCrunch", "the 'Sporting News' article").

An outlet is an article's metadata, not its text, so a check that looks for the question's names in the
passages' words cannot see it, and a search that reads it as words looks for articles that mention the
outlet rather than articles from it. The names are the corpus's own (the BM25 index keeps every chunk's
outlet); news needs this because "What did Reuters report about …?" is the most ordinary news question.

An outlet is known by its full name ("The Independent - Life and Style"), without a leading "The", and by
the part before " - " or " | " ("The Independent" stands for all of The Independent's sections). A mention
must start with a capital letter ("a fortune" is not Fortune) and is matched longest first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

_SECTION = re.compile(r"\s+[-|–—:]\s+")
_QUOTES = "'\"‘’“”"


@dataclass(frozen=True)
class OutletMention:
    """A stretch of the question that names one or more of the corpus's outlets."""

    text: str  # as written in the question
    start: int
    end: int
    outlets: tuple[str, ...]  # the corpus's outlet names it stands for


def _aliases(outlet: str) -> set[str]:
    """The lowercase names a question may use for ``outlet``."""
    full = " ".join(outlet.split())
    names = {full, _SECTION.split(full)[0]}
    names |= {re.sub(r"^the\s+", "", n, flags=re.IGNORECASE) for n in names}
    return {n.lower() for n in names if len(n) >= 3 and any(ch.isalpha() for ch in n)}


@lru_cache(maxsize=8)
def _matcher(outlets: frozenset[str]) -> tuple[re.Pattern[str] | None, dict[str, tuple[str, ...]]]:
    """One regular expression over every alias (longest first) and what each alias stands for."""
    table: dict[str, set[str]] = {}
    for outlet in outlets:
        for alias in _aliases(outlet):
            table.setdefault(alias, set()).add(outlet)
    if not table:
        return None, {}
    ordered = sorted(table, key=len, reverse=True)
    pattern = re.compile(
        r"(?<![\w.])(?:the\s+)?(" + "|".join(re.escape(a) for a in ordered) + r")(?![\w])", re.IGNORECASE
    )
    return pattern, {alias: tuple(sorted(names)) for alias, names in table.items()}


def find_outlets(question: str, outlets: Iterable[str]) -> list[OutletMention]:
    """The mentions of the corpus's ``outlets`` in ``question``, in question order (none for an outlet
    written in lower case)."""
    pattern, table = _matcher(frozenset(o for o in outlets if o))
    if pattern is None:
        return []
    mentions = []
    for match in pattern.finditer(question):
        name = match.group(1)
        if not name[0].isupper() and not name[0].isdigit():
            continue
        mentions.append(OutletMention(match.group(0), match.start(), match.end(), table[name.lower()]))
    return mentions


def without_outlets(question: str, mentions: list[OutletMention]) -> str:
    """The question with its outlet mentions (and the quote marks around them) cut out."""
    pieces, cursor = [], 0
    for mention in mentions:
        pieces.append(question[cursor : mention.start].rstrip(_QUOTES + " "))
        cursor = mention.end
        while cursor < len(question) and question[cursor] in _QUOTES:
            cursor += 1
    pieces.append(question[cursor:])
    joined = " ".join(" ".join(p.split()) for p in pieces if p.strip())
    return re.sub(r"\s+([?.,;:!])", r"\1", joined)


def named_outlets(mentions: list[OutletMention]) -> list[tuple[str, ...]]:
    """Each distinct outlet (group) the question names, once, in question order."""
    seen: list[tuple[str, ...]] = []
    for mention in mentions:
        if mention.outlets not in seen:
            seen.append(mention.outlets)
    return seen
