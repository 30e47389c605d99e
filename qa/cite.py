"""Check an answer's ``[n]`` citations against the passages it was given.

Out-of-range numbers are removed from the text; each kept citation carries its passage and the sentence of
that passage that best supports the claim it follows (a quote the reader can check).
"""

from __future__ import annotations

import re

from index.sentences import split_sentences
from qa.models import Citation, Passage
from qa.prompt import NOT_COVERED

_MARKER_RE = re.compile(r"\[(\d+(?:\s*[,;]\s*\d+)*)\]")
_WORD_RE = re.compile(r"[A-Za-z0-9]+")
_STOP = frozenset(
    "a an and are as at be been but by did do does for from had has have he her his how in is it its "
    "of on or said say says she that the their them they this to was were what when where which who "
    "why will with would".split()
)


def content_words(text: str) -> set[str]:
    """Lowercased words minus stop words, for overlap scoring."""
    return {w for w in (m.lower() for m in _WORD_RE.findall(text)) if w not in _STOP}


def best_quote(claim: str, passage_text: str) -> str:
    """The passage sentence sharing the most content words with the claim (first sentence on ties)."""
    sentences = split_sentences(passage_text) or [passage_text.strip()]
    words = content_words(claim)
    return max(sentences, key=lambda s: len(words & content_words(s)) / (1 + 0.01 * len(s)))


def _bare(text: str) -> str:
    return " ".join(re.sub(r"[^a-z]+", " ", _MARKER_RE.sub(" ", text.lower())).split())


def is_abstention(text: str) -> bool:
    """Whether the answer is the not-covered reply itself (letter case, spacing, punctuation and stray
    citation marks aside). An answer that merely says something "does not cover" a case is an answer."""
    return _bare(text) == _bare(NOT_COVERED)


def _support(words: set[str], passage: Passage) -> float:
    """Share of the claim's words that the passage contains."""
    return len(words & content_words(passage.text)) / len(words) if words else 0.0


def _repair(sentence: str, by_n: dict[int, Passage], question: str) -> str:
    """Point a sentence's citations at the passages that support it.

    Only for a sentence whose markers sit together in one place (a claim, then its ``[n]``): the claim's
    words beyond the question's own are looked up in each passage; cited passages that share none of them
    are dropped (when another cited one does), and when no cited passage holds even half of what the best
    passage holds (and that one holds at least half of the words), the citation moves to the best one.
    """
    markers = list(_MARKER_RE.finditer(sentence))
    if not markers or sentence[markers[0].start() : markers[-1].end()].replace(" ", "") != "".join(
        m.group(0).replace(" ", "") for m in markers
    ):
        return sentence
    claim = _MARKER_RE.sub("", sentence)
    words = content_words(claim) - content_words(question) or content_words(claim)
    if not words:
        return sentence
    cited = list(dict.fromkeys(int(n) for m in markers for n in re.split(r"\s*[,;]\s*", m.group(1))))
    support = {n: _support(words, p) for n, p in by_n.items()}
    keep = [n for n in cited if support[n] > 0] or cited
    best = max(by_n, key=lambda n: (support[n], -n))
    if support[best] >= 0.5 and max(support[n] for n in keep) < 0.5 * support[best]:
        keep = [best]
    if keep == cited:
        return sentence
    joined = "".join(f"[{n}]" for n in keep)
    return sentence[: markers[0].start()] + joined + sentence[markers[-1].end() :]


def check_citations(text: str, passages: list[Passage], question: str = "") -> tuple[str, list[Citation]]:
    """Remove out-of-range ``[n]``, re-point citations to the passages that support their claims (see
    :func:`_repair`; ``question`` words do not count as support), and return the cleaned text and one
    citation per cited passage."""
    by_n = {p.n: p for p in passages}

    def keep_valid(match: re.Match[str]) -> str:
        numbers = [int(n) for n in re.split(r"\s*[,;]\s*", match.group(1))]
        return "".join(f"[{n}]" for n in dict.fromkeys(numbers) if n in by_n)

    cleaned = _MARKER_RE.sub(keep_valid, text)
    cleaned = re.sub(r"[ \t]+([.,;:])", r"\1", re.sub(r"[ \t]{2,}", " ", cleaned)).strip()
    if by_n:
        pieces, cursor = [], 0
        for sentence in split_sentences(cleaned):
            start = cleaned.find(sentence, cursor)
            if start < 0:
                continue
            pieces += [cleaned[cursor:start], _repair(sentence, by_n, question)]
            cursor = start + len(sentence)
        cleaned = "".join(pieces) + cleaned[cursor:]

    citations: dict[int, Citation] = {}
    for sentence in split_sentences(cleaned):
        claim = _MARKER_RE.sub("", sentence)
        for match in _MARKER_RE.finditer(sentence):
            n = int(match.group(1))
            if n in citations:
                continue
            citations[n] = Citation(n=n, quote=best_quote(claim, by_n[n].text), passage=by_n[n])
    return cleaned, sorted(citations.values(), key=lambda c: c.n)
