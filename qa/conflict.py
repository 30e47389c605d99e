"""Spot sources that disagree: two passages telling the same fact with a different date, number or name.

News copy is rewritten from the same wire report, so two outlets' versions of one fact are near-identical
sentences; when they differ, it is usually in exactly the value a reader asks about ("at least 30 dead" /
"at least 32 dead", "won by Germany" / "won by Spain"). A pair of sentences from different passages is a
conflict when most of their words match in order (``difflib``) and the few words that differ carry a
value (a digit, a capitalised name or a month) that the other sentence does not contain at all (so a
reordering such as "Putin told Biden" / "Biden told Putin" is not one). Only conflicts about a value the
answer states are reported: the answer then says the sources disagree and cites both sides.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher
from itertools import combinations

from index.sentences import split_sentences
from qa.models import Passage

MIN_WORDS = 6  # shorter sentences match by chance
MIN_RATIO = 0.6  # share of the two sentences' words that match, in order
MAX_SPAN = 4  # a differing value is at most this many words on each side
MAX_CHANGES = 2  # more changed places than this: a different sentence, not a changed value
_MONTHS = frozenset(
    "january february march april may june july august september october november december".split()
)
_TOKEN_RE = re.compile(r"[\w$%£€'’.,:/-]+")


@dataclass(frozen=True)
class Conflict:
    """Passages ``a`` and ``b`` state the same thing with different values."""

    a: int
    b: int
    value_a: str
    value_b: str
    sentence_a: str
    sentence_b: str


def _tokens(sentence: str) -> list[str]:
    return [t.strip(".,:'’") for t in _TOKEN_RE.findall(sentence) if t.strip(".,:'’")]


def _norm(words: list[str]) -> str:
    return re.sub(r"[^0-9a-z]+", "", " ".join(words).lower())


def _carries_value(words: list[str]) -> bool:
    """A digit, a capitalised word or a month name: the kind of value sources disagree about."""
    return any(any(ch.isdigit() for ch in w) or w[:1].isupper() or w.lower() in _MONTHS for w in words)


def _date_part(word: str) -> bool:
    return word.lower().strip(".") in _MONTHS or word.isdigit()


def _widen(words: list[str], start: int, end: int, most: int = 2) -> list[str]:
    """A differing date piece with up to ``most`` shared date words on each side ("10 2020" becomes
    "November 10 2020"), so the note quotes a whole date; names and other values stay as they differ."""
    if not all(_date_part(w) for w in words[start:end]):
        return words[start:end]
    for _ in range(most):
        if start > 0 and _date_part(words[start - 1]):
            start -= 1
    for _ in range(most):
        if end < len(words) and _date_part(words[end]):
            end += 1
    return words[start:end]


def sentence_conflict(first: str, second: str) -> tuple[str, str] | None:
    """The differing values when two sentences tell the same fact differently, else None."""
    a, b = _tokens(first), _tokens(second)
    if min(len(a), len(b)) < MIN_WORDS:
        return None
    matcher = SequenceMatcher(None, [w.lower() for w in a], [w.lower() for w in b], autojunk=False)
    if matcher.quick_ratio() < MIN_RATIO or matcher.ratio() < MIN_RATIO:
        return None
    changes = [op for op in matcher.get_opcodes() if op[0] != "equal"]
    replaced = [op for op in changes if op[0] == "replace"]
    if not replaced or len(changes) > MAX_CHANGES:
        return None
    for _, i1, i2, j1, j2 in replaced:
        left, right = a[i1:i2], b[j1:j2]
        if max(len(left), len(right)) > MAX_SPAN or _norm(left) == _norm(right):
            continue
        if not (_carries_value(left) and _carries_value(right)):
            continue
        value_a, value_b = " ".join(_widen(a, i1, i2)), " ".join(_widen(b, j1, j2))
        if _norm([value_a]) in _norm(b) or _norm([value_b]) in _norm(a):
            continue  # the "other" value is in both sentences: reordered, not contradicted
        return value_a, value_b
    return None


def _mentions(text: str, value: str) -> bool:
    words = _norm(value.split())
    return bool(words) and words in _norm(_tokens(text))


def find_conflicts(passages: list[Passage], answer: str) -> list[Conflict]:
    """Conflicts between passages of different articles about a value the answer states (at most one per
    pair of passages, in passage order)."""
    sentences = {p.n: split_sentences(p.text) for p in passages}
    found: list[Conflict] = []
    for p, q in combinations(passages, 2):
        if p.article_id and p.article_id == q.article_id:
            continue
        for s in sentences[p.n]:
            hit = next(((t, d) for t in sentences[q.n] if (d := sentence_conflict(s, t))), None)
            if hit and (_mentions(answer, hit[1][0]) or _mentions(answer, hit[1][1])):
                found.append(Conflict(p.n, q.n, hit[1][0], hit[1][1], s, hit[0]))
                break
    return found


def conflict_note(conflicts: list[Conflict]) -> str:
    """One sentence per conflict, citing both sides: ``The sources disagree: [1] says "30", [2] says "32".``"""
    return " ".join(
        f'The sources disagree: [{c.a}] says "{c.value_a}", [{c.b}] says "{c.value_b}".' for c in conflicts
    )
