"""Answers drawn from the passages: candidate spans of the shown text, as a llama.cpp grammar.

A short answer ("Jake Sullivan [1]") can be held to text that stands in the passages: the names, numbers
with their units and dates of the shown passages become the only answers the model may write, followed by
the number of a passage that holds it. The 1.5B model then cannot run on into a sentence, nor write a name
no passage gives. Multiple choice is held the same way to one of its options. GBNF is llama.cpp's grammar
format (``grammar`` in a chat completion request); a backend without grammars answers freely.
"""

from __future__ import annotations

import re

from qa.answer_type import Kind
from qa.models import Passage
from qa.prompt import NOT_COVERED

_NAME = re.compile(r"\b[A-Z][\w'’.\-]*(?:\s+(?:(?:of|the|de|del|da|van|von|and|&|for)\s+)?[A-Z][\w'’.\-]*)*")
_NUMBER = re.compile(
    r"(?:[$€£]\s?)?\b\d[\d,.]*(?:\s?(?:%|percent|million|billion|trillion|thousand|hundred|points?|"
    r"years?|months?|weeks?|days?|hours?|minutes?|people|votes?|seats?|games?|goals?|runs?|yards?|"
    r"miles?|kilometers?|km|meters?|feet|pounds|tons|degrees|dollars|euros))*\b"
)
_MONTHS = r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
_DATE = re.compile(
    rf"\b(?:{_MONTHS}\s+\d{{1,2}}(?:,?\s+\d{{4}})?|\d{{1,2}}\s+{_MONTHS}(?:\s+\d{{4}})?|{_MONTHS}\s+\d{{4}}|"
    r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)|(?:19|20)\d\d)\b"
)
_PATTERNS = {"name": [_NAME], "number": [_NUMBER], "date": [_DATE]}
YES_NO = ["Yes", "No"]
MAX_SPANS = 120


def candidate_spans(passages: list[Passage], kind: Kind, question: str) -> list[str]:
    """The distinct spans of ``kind`` in the passages' text, longest first, leaving out what the question
    already says (at most ``MAX_SPANS``); a yes-or-no question's are Yes and No."""
    if kind == "yesno":
        return list(YES_NO)
    asked = question.lower()
    found: dict[str, None] = {}
    for passage in passages:
        for pattern in _PATTERNS[kind]:
            for match in pattern.finditer(passage.text):
                span = match.group(0).strip(" ,.'’")
                if len(span) >= 2 and span.lower() not in asked and len(span) <= 60:
                    found.setdefault(span, None)
    return sorted(found, key=len, reverse=True)[:MAX_SPANS]


def _literal(text: str) -> str:
    """``text`` as a GBNF string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def span_grammar(spans: list[str], passages: int) -> str:
    """A grammar whose sentences are one of ``spans``, a space and a citation ``[1]``..``[passages]``, or
    the not-covered reply (the model may still decline)."""
    alternatives = " | ".join(_literal(s) for s in spans)
    numbers = " | ".join(_literal(f"[{n}]") for n in range(1, passages + 1))
    return f'root ::= ({alternatives}) " " ({numbers}) | {_literal(NOT_COVERED)}'


def choice_grammar(choices: list[str], passages: int) -> str:
    """A grammar for a multiple-choice answer: ``(B) the choice's text [n]``."""
    options = " | ".join(_literal(f"({'ABCDEFGHIJ'[i]}) {c}") for i, c in enumerate(choices[:10]))
    numbers = " | ".join(_literal(f"[{n}]") for n in range(1, passages + 1))
    return f'root ::= ({options}) " " ({numbers})'
