"""When to say "the articles do not cover this" instead of answering.

Before generation: the best passage's cosine similarity is below ``Settings.min_relevance``, or the question
names someone or something (a capitalised name) that no retrieved passage mentions, or an outlet that no
retrieved passage comes from. An outlet is metadata (``qa.outlets``): its mention is checked against the
passages' outlets and left out of the name check, and a name may also be found in a passage's title,
outlet or date. After generation: the model itself says so, or its answer cites no passage at all (an
uncited claim is not backed by the corpus).

Calibration of ``min_relevance`` on the sample corpus (best-passage cosine, all-MiniLM-L6-v2): seven
answerable questions scored 0.21–0.70, three off-topic ones 0.06–0.14; the default 0.18 sits between.
"""

from __future__ import annotations

import re

from qa.answer_type import CALENDAR_WORDS
from qa.models import Passage
from qa.outlets import OutletMention, named_outlets, without_outlets

_NAME_RE = re.compile(r"\b[A-Z][a-zA-Z'’\-]+(?:\s+[A-Z][a-zA-Z'’\-]+)*")
_QUESTION_WORDS = frozenset(
    "What Who Whom Whose When Where Which Why How Did Does Do Is Are Was Were Will Would Can Could "
    "Should Has Have Had In On At According And But Or The A An Of For To By With From After Before "
    "During Since Until This That These Those Tell Give List Name Describe Explain Summarize I".split()
)


# Month and weekday names date the question; the time it names is read by qa.timerange, not looked for as
# a name in the passages ("after reporting on September 28" against an article dated 2023-09-28).
_CALENDAR = CALENDAR_WORDS
_QUOTE_MARKS = "'\"‘’“”"
_SENTENCE_START = re.compile(r"(?:^|[.?!:;]\s+)[\"'‘“(]*$")


def question_names(question: str) -> list[str]:
    """Capitalised names in a question, question words left out, and a single capitalised word that
    starts the question or one of its sentences ("Considering the …", "Between the …") too."""
    names = []
    for match in _NAME_RE.finditer(question):
        words = [w.strip(_QUOTE_MARKS) for w in match.group(0).split()]
        words = [w for w in words if w and re.sub(r"['’]s$", "", w) not in _QUESTION_WORDS]
        if (
            len(words) == 1
            and words[0] == match.group(0)
            and _SENTENCE_START.search(question[: match.start()])
        ):
            continue  # one word at a sentence start is capitalised by grammar, not as a name
        words = [w for w in words if w.lower().rstrip(".") not in _CALENDAR]  # dates are matched as dates
        name = re.sub(r"['’]s$", "", " ".join(words))
        if words and name not in names:  # "What's" asks, "Putin's" is Putin, "'The Age'" is Age
            names.append(name)
    return names


def _mentioned(name: str, haystack: str) -> bool:
    # A multi-word name counts as mentioned if its last word is (e.g. "President Zelensky" → "Zelensky").
    last = re.split(r"[\s\-–]+", name.lower())[-1]
    return re.search(rf"\b{re.escape(last)}", haystack) is not None


def missing_names(question: str, passages: list[Passage]) -> list[str]:
    """Names in the question that none of the passages mention (in title, text, outlet or date)."""
    haystack = " ".join(f"{p.title} {p.outlet} {p.date} {p.text}" for p in passages).lower()
    return [name for name in question_names(question) if not _mentioned(name, haystack)]


def missing_outlets(mentions: list[OutletMention], passages: list[Passage]) -> list[str]:
    """The outlets the question names (``qa.outlets.find_outlets``) that no passage comes from."""
    have = {p.outlet for p in passages}
    return [
        next(m.text for m in mentions if m.outlets == group).strip(_QUOTE_MARKS + " ")
        for group in named_outlets(mentions)
        if not have & set(group)
    ]


def weak_evidence(
    question: str, passages: list[Passage], min_relevance: float, outlets: list[OutletMention] | None = None
) -> str | None:
    """Why the retrieved evidence cannot answer the question, or None when it may. ``outlets`` are the
    question's outlet mentions: each must be the outlet of a passage, and their words are no names."""
    if not passages:
        return "nothing in the index matched"
    best = max(p.score for p in passages)
    if best < min_relevance:
        return f"best passage similarity {best:.2f} is below {min_relevance:.2f}"
    absent = missing_outlets(outlets or [], passages)
    if absent:
        return f"no retrieved passage is from {', '.join(absent)}"
    missing = missing_names(without_outlets(question, outlets or []), passages)
    if missing:
        return f"no retrieved passage mentions {', '.join(missing)}"
    return None
