"""Offline evaluation helpers: answer scoring (:mod:`qa.evaluate.score`) and report writing
(:mod:`qa.evaluate.report`)."""

from qa.evaluate.report import write_report
from qa.evaluate.score import (
    choice_from_answer,
    citation_valid,
    contains_answer,
    exact_match,
    flags_conflict,
    gold_answer,
    is_except_question,
    normalize_answer,
    percentile,
    recall_at_k,
    rgb_correct,
    token_f1,
)

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
    "write_report",
]
