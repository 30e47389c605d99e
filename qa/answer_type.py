"""What kind of answer a question wants (a name, a number, a date), and whether a sentence holds one.

Used by the prompt's sentence cut (``qa.context``): the sentence that restates the question ("the talks
will take place") resembles it more than the sentence that answers it ("in Geneva on January 10"), so a
sentence that holds something of the wanted kind that the question does not already say gets a vote. Read
from the question word and the sentence's own tokens: no model, written for English news questions.
"""

from __future__ import annotations

import re
from typing import Literal

Kind = Literal["name", "number", "date", "yesno"]

_WORD = re.compile(r"[A-Za-z][A-Za-z'’\-]*|\d[\d,.:/%]*")
_NUMBER_WORDS = frozenset(
    "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred thousand "
    "million billion trillion dozen dozens half percent".split()
)
CALENDAR_WORDS = frozenset(
    "january february march april may june july august september october november december jan feb mar "
    "apr jun jul aug sep sept oct nov dec monday tuesday wednesday thursday friday saturday sunday".split()
)  # month and weekday names (also used by qa.abstain)
_DATE_WORDS = CALENDAR_WORDS | frozenset(
    "today yesterday tomorrow weekend spring summer autumn fall winter".split()
)
_RULES: list[tuple[re.Pattern[str], Kind]] = [
    (
        re.compile(
            r"\bhow (many|much|long|far|old|big|large|tall|often)\b|\bwhat (percentage|share|number|"
            r"amount|price|score|age)\b",
            re.I,
        ),
        "number",
    ),  # fmt: skip
    (re.compile(r"\bwhen\b|\b(what|which) (year|date|day|month|time|week)\b", re.I), "date"),
    (
        re.compile(
            r"\b(who|whom|whose|where)\b|\b(which|what) (\w+ )?(person|man|woman|company|firm|group|"
            r"organi[sz]ation|team|country|city|state|nation|state|brand|player|party|agency|official|"
            r"leader|star|singer|actor|place|airline|bank|club|network|app|site)s?\b",
            re.I,
        ),
        "name",
    ),  # fmt: skip
]


_YES_NO = re.compile(
    r"^\W*(?:does|do|did|is|are|was|were|has|have|had|can|could|will|would|should|after|before|between)\b",
    re.I,
)


def expected_kind(question: str) -> Kind | None:
    """The kind of answer ``question`` asks for: ``yesno`` (it starts with does, is, was …, or "between
    the reports … was there"), ``name`` (who, where, which company …), ``number`` (how many, how much …),
    ``date`` (when, which year …), or None (what did X say, why)."""
    if _YES_NO.search(question) and not re.search(r"\b(who|which|what|when|where|how)\b", question, re.I):
        return "yesno"
    for pattern, kind in _RULES:
        if pattern.search(question):
            return kind
    return None


def holds_kind(sentence: str, kind: Kind, question: str) -> bool:
    """True when ``sentence`` holds a ``kind`` the question does not already contain: a capitalised word
    past the sentence's first (a name), a number or number word, a month, weekday or year."""
    asked = {w.lower() for w in _WORD.findall(question)}
    words = _WORD.findall(sentence)
    for i, word in enumerate(words):
        lower = word.lower()
        if lower in asked:
            continue
        if kind == "name" and i > 0 and word[0].isupper():
            return True
        if kind == "number" and (word[0].isdigit() or lower in _NUMBER_WORDS):
            return True
        if kind == "date" and (lower in _DATE_WORDS or re.fullmatch(r"(1[89]|20)\d\d", word)):
            return True
    return False
