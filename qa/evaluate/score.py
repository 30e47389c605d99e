"""Pure scoring functions for the offline evaluations (RealTime QA and RGB counterfactual robustness).

Conventions:

* Free-text answers follow SQuAD: :func:`normalize_answer` lowercases, strips punctuation and the articles
  "a"/"an"/"the" and collapses whitespace; :func:`exact_match` and :func:`token_f1` are SQuAD's EM and token
  F1, taking the maximum over several golds.
* RealTime QA: the gold is the text of the gold choice (:func:`gold_answer`); questions ending in "except"
  only make sense as multiple choice and are left out of free-text scoring (:func:`is_except_question`).
* Containment (:func:`contains_answer`, :func:`recall_at_k`, :func:`citation_valid`) compares whole tokens of
  the normalized strings, so "Iran" is *not* found in "Iranian officials" (see :func:`contains_answer`).
* RGB (:func:`rgb_correct`) follows RGB's ``checkanswer``: lowercase substring match; a top-level list of
  golds must all be present, an inner list is a set of aliases of which any one suffices.
"""

from __future__ import annotations

import math
import re
import string
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = [
    "choice_from_answer",
    "citation_valid",
    "contains_answer",
    "exact_match",
    "flags_conflict",
    "gold_answer",
    "is_except_question",
    "normalize_answer",
    "percentile",
    "recall_at_k",
    "rgb_correct",
    "token_f1",
    "strip_citations",
    "lenient_match",
    "evidence_hits",
    "reciprocal_rank",
]

_ASCII_PUNCT = frozenset(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")

Gold = str | Sequence[str]


def _is_punct(ch: str) -> bool:
    """True for ASCII punctuation (SQuAD's set) and any Unicode punctuation (’ “ ” – — …)."""
    return ch in _ASCII_PUNCT or unicodedata.category(ch).startswith("P")


def normalize_answer(s: str) -> str:
    """SQuAD normalization: lowercase, drop punctuation, drop articles, collapse whitespace.

    Identical to SQuAD's ``normalize_answer`` on ASCII text; Unicode punctuation (curly quotes, dashes) is
    dropped too, so "New Year’s" and "New Year's" normalize alike.
    """
    s = (s or "").lower()
    s = "".join(ch for ch in s if not _is_punct(ch))
    s = _ARTICLES.sub(" ", s)
    return " ".join(s.split())


def _golds(gold: Gold) -> list[str]:
    """A gold string or list of gold strings as a list."""
    if isinstance(gold, str):
        return [gold]
    return [g for g in gold if isinstance(g, str)]


def exact_match(prediction: str, gold: Gold) -> float:
    """SQuAD exact match (1.0 or 0.0) after normalization; max over a list of golds."""
    pred = normalize_answer(prediction)
    return max((float(pred == normalize_answer(g)) for g in _golds(gold)), default=0.0)


def _f1(prediction: str, gold: str) -> float:
    pred_tokens = normalize_answer(prediction).split()
    gold_tokens = normalize_answer(gold).split()
    if not pred_tokens or not gold_tokens:  # SQuAD v2: empty vs empty is a match
        return float(pred_tokens == gold_tokens)
    num_same = sum((Counter(pred_tokens) & Counter(gold_tokens)).values())
    if num_same == 0:
        return 0.0
    precision = num_same / len(pred_tokens)
    recall = num_same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def token_f1(prediction: str, gold: Gold) -> float:
    """SQuAD token-level F1 between normalized prediction and gold; max over a list of golds."""
    return max((_f1(prediction, g) for g in _golds(gold)), default=0.0)


def gold_answer(question: dict[str, Any]) -> str:
    """The gold answer text of a RealTime QA question: ``choices[answer_index[0]]``, else ``answer``."""
    choices = question.get("choices") or []
    index = question.get("answer_index")
    if isinstance(index, list):
        index = index[0] if index else None
    if isinstance(index, str) and index.strip().isdigit():
        index = int(index)
    if isinstance(index, int) and not isinstance(index, bool) and 0 <= index < len(choices):
        return str(choices[index])
    answer = question.get("answer", "")
    if isinstance(answer, list):
        answer = answer[0] if answer else ""
    return str(answer)


def is_except_question(query: str) -> bool:
    """True if the question ends in "except" (ignoring case and trailing punctuation/whitespace)."""
    stripped = re.sub(r"[\W_]+$", "", query or "")
    return re.search(r"\bexcept$", stripped, flags=re.IGNORECASE) is not None


def _contains_tokens(haystack: list[str], needle: list[str]) -> bool:
    n = len(needle)
    if n == 0:
        return False
    return any(haystack[i : i + n] == needle for i in range(len(haystack) - n + 1))


def _normalize_spaced(s: str) -> str:
    """Like :func:`normalize_answer` but punctuation becomes a space ("Iran's" -> "iran s")."""
    s = "".join(" " if _is_punct(ch) else ch for ch in (s or "").lower())
    return " ".join(_ARTICLES.sub(" ", s).split())


def contains_answer(text: str, gold: Gold) -> bool:
    """True if the normalized gold occurs in the normalized text as a whole-token sequence.

    Whole tokens only: "Iran" is not contained in "Iranian officials". The check passes if it holds under
    SQuAD normalization (punctuation deleted: "1,000" matches "1000", "U.S." matches "US") or with
    punctuation turned into spaces ("Iran's" contains "Iran", "Iran-backed" contains "Iran"). An empty gold
    is never contained; with a list of golds, any one suffices.
    """
    squad = normalize_answer(text).split()
    spaced = _normalize_spaced(text).split()
    return any(
        _contains_tokens(squad, normalize_answer(g).split())
        or _contains_tokens(spaced, _normalize_spaced(g).split())
        for g in _golds(gold)
    )


_CITATION = re.compile(r"\[\d+(?:\s*[,;–-]\s*\d+)*\]")  # this project's citation markers: [1], [1, 3], [2-4]
_LETTERS = "ABCDEFGHIJ"
_NEXT_OK = r"(?![A-Za-z0-9])(?!\s+[a-z])"  # "Answer: A fire broke out" is the article, not option A
_KEYWORD_LETTER = re.compile(
    r"\b(?:answer|option|choice)\b\s*(?:is|:|=|-)?\s*(?:option\s+|choice\s+)?[\(\[]?([A-J])[\)\]]?"
    + _NEXT_OK,
    flags=re.IGNORECASE,
)
_MARKED_LETTER = re.compile(
    r"(?<![A-Za-z0-9])(?:\(([A-J])\)|([A-J])\))|^\s*([A-J])[.:](?:\s|$)", re.MULTILINE
)
_KEYWORD_NUMBER = re.compile(
    r"\b(?:answer|option|choice)\b\s*(?:is|:|=|-)?\s*(?:option\s+|choice\s+)?[\(\[]?([1-9])[\)\]]?(?![A-Za-z0-9])(?![.,]\d)(?!\s+[A-Za-z0-9])",
    flags=re.IGNORECASE,
)
_MARKED_NUMBER = re.compile(
    r"(?<![A-Za-z0-9])(?:\(([1-9])\)|([1-9])\))|^\s*([1-9])[.:](?:\s|$)", re.MULTILINE
)


def _explicit_choice(
    answer_text: str, n: int, keyword: re.Pattern[str], marked: re.Pattern[str]
) -> int | None:
    """Index picked by an explicit marker: a keyword form first, else one distinct bracketed marker."""

    def index_of(label: str) -> int:
        return _LETTERS.index(label.upper()) if label.isalpha() else int(label) - 1

    for m in keyword.finditer(answer_text):
        i = index_of(m.group(1))
        if 0 <= i < n:
            return i
    found = {index_of(next(g for g in m.groups() if g)) for m in marked.finditer(answer_text)}
    found = {i for i in found if 0 <= i < n}
    return found.pop() if len(found) == 1 else None


def choice_from_answer(answer_text: str, choices: Sequence[str]) -> int | None:
    """Which choice (0-based index) an answer picks, or None if it cannot tell.

    Citation markers such as "[1]" or "[1, 3]" are removed first. Then, in order: an explicit letter
    ("(B)", "B)", "B." at the start of a line, "Answer: B", "option B"); an explicit 1-based number in the same forms, unless the choices are themselves numbers; the only choice
    whose normalized text is contained in the answer; the choice with the best token F1 above 0.5 (a tie
    gives None).
    """
    answer_text = _CITATION.sub(" ", answer_text or "")
    if not answer_text.strip() or not choices:
        return None
    n = len(choices)
    bare = re.fullmatch(r"\s*\(?([A-Ja-j])\)?[.:]?\s*", answer_text)  # the whole answer is one letter: "A"
    if bare and ord(bare.group(1).upper()) - ord("A") < n:
        return ord(bare.group(1).upper()) - ord("A")
    picked = _explicit_choice(answer_text, n, _KEYWORD_LETTER, _MARKED_LETTER)
    if picked is not None:
        return picked
    if not any(normalize_answer(str(c)).replace(" ", "").isdigit() for c in choices):
        picked = _explicit_choice(answer_text, n, _KEYWORD_NUMBER, _MARKED_NUMBER)
        if picked is not None:
            return picked
    contained = [i for i, c in enumerate(choices) if contains_answer(answer_text, str(c))]
    if len(contained) == 1:
        return contained[0]
    scores = [token_f1(answer_text, str(c)) for c in choices]
    best = max(scores)
    if best > 0.5 and scores.count(best) == 1:
        return scores.index(best)
    return None


def recall_at_k(passage_texts: Iterable[str], gold: Gold) -> bool:
    """True if the gold answer is contained (normalized, whole tokens) in any of the retrieved passages."""
    return any(contains_answer(text, gold) for text in passage_texts)


def citation_valid(cited_texts: Iterable[str], gold: Gold) -> bool:
    """True if at least one cited passage contains the gold answer (normalized, whole tokens)."""
    return any(contains_answer(text, gold) for text in cited_texts)


def percentile(values: Iterable[float | None], p: float) -> float | None:
    """The p-th percentile (0..100, linear interpolation as numpy's default) ignoring None and NaN.

    Returns None when no values remain.
    """
    data = sorted(float(v) for v in values if v is not None and not math.isnan(float(v)))
    if not data:
        return None
    if not 0 <= p <= 100:
        raise ValueError(f"percentile must be within 0..100, got {p}")
    rank = (len(data) - 1) * p / 100
    low = math.floor(rank)
    high = min(low + 1, len(data) - 1)
    return data[low] + (data[high] - data[low]) * (rank - low)


def rgb_correct(answer_text: str, answer_gold: Any) -> bool:
    """RGB's ``checkanswer``: is the gold answer in the model's answer (lowercase substring)?

    ``answer_gold`` is a string, a list or a nested list. Each top-level item must be present; an item that
    is itself a list is a set of aliases (e.g. date spellings) of which any one suffices. So
    ``[["Nov 10, 2020", "November 10, 2020"]]`` needs either spelling, and ``["A", "B"]`` needs both.
    """
    text = (answer_text or "").lower()
    items = answer_gold if isinstance(answer_gold, list) else [answer_gold]
    labels = []
    for item in items:
        aliases = item if isinstance(item, list) else [item]
        labels.append(any(str(a).lower() in text for a in aliases if str(a)))
    return bool(labels) and all(labels)


_CONFLICT = re.compile(
    r"\b(?:conflict\w*|contradict\w*|inconsisten\w*|disagree\w*|discrepanc\w*|differ|differs|differing|"
    r"(?:do|does|did)\s*(?:not|n['’]t)\s+agree|not\s+consistent|factual\s+errors?|"
    r"(?:sources|reports|documents|articles|passages|accounts)\s+(?:vary|varies|differ)|"
    r"some\s+(?:sources|reports|documents|articles|passages|accounts|outlets)\b[^.!?]{0,200}?\b(?:others?|another)\b|"
    r"(?:one|a)\s+(?:source|report|document|article|passage|account)\b[^.!?]{0,200}?\b(?:another|others?)\b)",
    flags=re.IGNORECASE,
)
_NEGATED = re.compile(r"\b(?:no|not|without|never|any)\s+(?:\w+\s+){0,1}$|n['’]t\s+(?:\w+\s+){0,1}$", re.I)


def flags_conflict(answer_text: str, gold: Any = None, fake: Any = None) -> bool:
    """True if the answer points out that its sources disagree.

    Either it uses conflict wording (conflict, contradict, inconsistent, disagree, differ, discrepancy,
    "factual errors" as RGB's prompt asks, "some reports say ... others ...") that is not negated ("there
    is no conflict"), or, when ``gold`` and ``fake`` are given, it mentions both the true and the
    counterfactual answer (checked with :func:`rgb_correct`).
    """
    text = answer_text or ""
    for m in _CONFLICT.finditer(text):
        if not _NEGATED.search(text[max(0, m.start() - 40) : m.start()]):
            return True
    return gold is not None and fake is not None and rgb_correct(text, gold) and rgb_correct(text, fake)


def strip_citations(text: str) -> str:
    """An answer without its ``[n]`` citations (what the scorers compare)."""
    return re.sub(r"\s*\[\d+\]", "", text or "").strip()


def lenient_match(prediction: str, gold: str) -> bool:
    """MultiHop-RAG's accuracy rule: the prediction and the gold share a word. Both are SQuAD-normalized
    first (lowercase, punctuation and articles dropped), so "Yes." matches "yes" and "the" matches nothing;
    the paper splits the raw lowercased strings, which counts "the" and not "yes.": a little stricter here."""
    return bool(set(normalize_answer(prediction).split()) & set(normalize_answer(gold).split()))


def evidence_hits(passage_texts: Sequence[str], facts: Sequence[str], k: int) -> bool:
    """MultiHop-RAG's Hits@k: one of the first ``k`` passages holds a gold evidence sentence (whitespace
    ignored, as the paper's ``retrieval_evaluate.py``)."""
    squeezed = [re.sub(r"\s+", "", fact) for fact in facts if fact]
    return any(fact in re.sub(r"\s+", "", text) for text in passage_texts[:k] for fact in squeezed)


def reciprocal_rank(passage_texts: Sequence[str], facts: Sequence[str], k: int = 10) -> float:
    """1 / rank of the first of the ``k`` passages that holds a gold evidence sentence (0 if none)."""
    for rank in range(1, min(k, len(passage_texts)) + 1):
        if evidence_hits(passage_texts[rank - 1 : rank], facts, 1):
            return 1.0 / rank
    return 0.0
