"""The multiple-choice hint: said only when exactly one option is named in the passages."""

from __future__ import annotations

from qa.choices import choice_hint
from qa.models import Passage


def _p(n: int, text: str) -> Passage:
    return Passage(n, f"c{n}", "a", "Title", "Outlet", "2026-06-04", "", text, 0.5)


def test_one_named_choice_is_pointed_at() -> None:
    passages = [_p(1, "Markets fell."), _p(2, "Toys R Us filed for bankruptcy on Monday.")]
    choices = ["Sears", "Toys R Us", "Macy's", "J.C. Penney"]
    hint = choice_hint("Which chain filed for bankruptcy?", choices, passages)
    assert hint == "Of the choices, only (B) Toys R Us is named in the passages, in [2]."


def test_no_hint_when_none_or_several_are_named_or_the_question_is_negated() -> None:
    passages = [_p(1, "Sears and Macy's both cut jobs."), _p(2, "Searsville is a town.")]
    choices = ["Sears", "Toys R Us", "Macy's"]
    assert choice_hint("Which chain cut jobs?", choices, passages) == ""  # two named
    assert choice_hint("Which chain cut jobs?", ["Target", "Kohl's"], passages) == ""  # none
    only_sears = [_p(1, "Sears cut jobs.")]
    assert choice_hint("Which chain did not cut jobs?", choices, only_sears) == ""
    assert choice_hint("All of these cut jobs except:", choices, only_sears) == ""
    assert "(A) Sears" in choice_hint("Which chain cut jobs?", choices, only_sears)
