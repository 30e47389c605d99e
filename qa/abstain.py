"""When to say "the articles do not cover this" instead of answering.

Before generation: the best passage's cosine similarity is below ``Settings.min_relevance``, or the question
names someone or something (a capitalised name) that no retrieved passage mentions. After generation: the
model itself says so, or its answer cites no passage at all (an uncited claim is not backed by the corpus).

Calibration of ``min_relevance`` on the sample corpus (best-passage cosine, all-MiniLM-L6-v2): seven
answerable questions scored 0.21–0.70, three off-topic ones 0.06–0.14; the default 0.18 sits between.
"""

from __future__ import annotations

import re

from qa.models import Passage

_NAME_RE = re.compile(r"\b[A-Z][a-zA-Z'’\-]+(?:\s+[A-Z][a-zA-Z'’\-]+)*")
_QUESTION_WORDS = frozenset(
    "What Who Whom Whose When Where Which Why How Did Does Do Is Are Was Were Will Would Can Could "
    "Should Has Have Had In On At According And But Or The A An Of For To By With From After Before "
    "During Since Until This That These Those Tell Give List Name Describe Explain Summarize I".split()
)


def question_names(question: str) -> list[str]:
    """Capitalised names in a question, question words and sentence-initial words left out."""
    names = []
    for match in _NAME_RE.finditer(question):
        words = [w for w in match.group(0).split() if re.sub(r"['’]s$", "", w) not in _QUESTION_WORDS]
        if words:  # "What's" is a question word, "Putin's" the name Putin
            names.append(re.sub(r"['’]s$", "", " ".join(words)))
    return names


def _mentioned(name: str, haystack: str) -> bool:
    # A multi-word name counts as mentioned if its last word is (e.g. "President Zelensky" → "Zelensky").
    last = re.split(r"[\s\-–]+", name.lower())[-1]
    return re.search(rf"\b{re.escape(last)}", haystack) is not None


def missing_names(question: str, passages: list[Passage]) -> list[str]:
    """Names in the question that none of the passages (titles included) mention."""
    haystack = " ".join(f"{p.title} {p.text}" for p in passages).lower()
    return [name for name in question_names(question) if not _mentioned(name, haystack)]


def weak_evidence(question: str, passages: list[Passage], min_relevance: float) -> str | None:
    """Why the retrieved evidence cannot answer the question, or None when it may."""
    if not passages:
        return "nothing in the index matched"
    best = max(p.score for p in passages)
    if best < min_relevance:
        return f"best passage similarity {best:.2f} is below {min_relevance:.2f}"
    missing = missing_names(question, passages)
    if missing:
        return f"no retrieved passage mentions {', '.join(missing)}"
    return None
