"""Example questions drawn from the corpus: the most recent headlines, turned into questions."""

from __future__ import annotations

from collections.abc import Iterable

from index.catalog import CatalogRow
from qa.ui.safe import one_line

MAX_WORDS = 14  # a longer headline is cut (with "…") so the question stays readable


def headline_question(title: str) -> str | None:
    """A question about one headline; None for a title too short to ask about.

    A headline that is already a question is kept; otherwise it becomes ``What do the articles say about
    “<headline>”?`` — the headline's own words are what retrieval finds the story by."""
    text = one_line(title).strip(" .:;-—–")
    words = text.split()
    if len(words) < 3:
        return None
    if text.endswith("?"):
        return text
    if len(words) > MAX_WORDS:
        text = " ".join(words[:MAX_WORDS]).rstrip(",;:") + "…"
    return f"What do the articles say about “{text}”?"


def example_questions(rows: Iterable[CatalogRow], limit: int = 4) -> list[str]:
    """Up to ``limit`` questions from the most recent headlines (newest first, one per distinct title)."""
    newest = sorted(rows, key=lambda r: (r.published or "", r.id), reverse=True)
    questions: list[str] = []
    seen: set[str] = set()
    for row in newest:
        key = one_line(row.title).lower()
        question = headline_question(row.title)
        if question and key not in seen:
            seen.add(key)
            questions.append(question)
        if len(questions) >= limit:
            break
    return questions
