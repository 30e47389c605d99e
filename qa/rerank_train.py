"""Train the reranker on the user's own corpus, without labels.

Pseudo-questions are made from the corpus itself: a body sentence of a chunk, with one of its names or
numbers taken out (the "answer") and most of its other words dropped, so the question shares a few words
with its answer as a reader's question does, instead of copying it (a copied sentence would teach the
model only "trust BM25's first hit"). The article's date (plus a few days) is the question's ``as_of``, and
half of the questions speak of "this week". The first stage retrieves candidates for each as it would for a
reader; the chunks holding the sentence are the positives. A logistic regression on the candidates'
features (``qa.rerank.features``) gives the weights.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from index.sentences import split_sentences
from qa.cite import _STOP
from qa.rerank import LinearReranker, features, fit
from qa.retrieve import Retriever

_TOKEN_RE = re.compile(r"[A-Za-z][\w'’\-]*|\d[\d,.]*\d|\d")
MIN_ARTICLES = 100  # below this the corpus is too small to learn from: the fusion order is kept
RETRAIN_GROWTH = 0.2  # retrain when the corpus has grown (or shrunk) by this share since the last training
KEEP = 0.45  # share of a sentence's other content words kept in its pseudo-question
MAX_WORDS = 9


@dataclass
class PseudoQuestion:
    """A question made from one corpus sentence, and what answers it."""

    query: str
    sentence: str
    as_of: str
    window: tuple[str, str] | None


def make_question(sentence: str, rng: random.Random) -> str | None:
    """A question-like query from a sentence: one name or number removed, most other words dropped."""
    tokens = _TOKEN_RE.findall(sentence)
    answers = [t for i, t in enumerate(tokens) if (t[0].isupper() and i > 0) or t[0].isdigit()]
    if len(tokens) < 8 or not answers:
        return None
    answer = rng.choice(answers)
    content = [t for t in tokens if t != answer and t.lower() not in _STOP]
    kept = [t for t in content if rng.random() < KEEP][:MAX_WORDS]
    if len(kept) < 3:
        return None
    opener = "How many" if answer[0].isdigit() else rng.choice(["Who", "What", "Which"])
    return f"{opener} {' '.join(kept)}?"


def pseudo_questions(texts: list[str], days: list[int], count: int, seed: int = 0) -> list[PseudoQuestion]:
    """Up to ``count`` pseudo-questions from dated chunks (texts and their ``YYYYMMDD`` days), deterministic."""
    rng = random.Random(seed)
    order = [i for i in range(len(texts)) if days[i] > 0]
    rng.shuffle(order)
    made: list[PseudoQuestion] = []
    for i in order:
        sentences = [s for s in split_sentences(texts[i]) if 8 <= len(s.split()) <= 60]
        if not sentences:
            continue
        sentence = rng.choice(sentences)
        query = make_question(sentence, rng)
        if query is None:
            continue
        day = days[i]
        published = date(day // 10000, day // 100 % 100, day % 100)
        as_of = published + timedelta(days=rng.randint(0, 6))
        window = ((as_of - timedelta(days=10)).isoformat(), as_of.isoformat()) if rng.random() < 0.5 else None
        made.append(PseudoQuestion(query, sentence, as_of.isoformat(), window))
        if len(made) == count:
            break
    return made


def training_rows(
    retriever: Retriever, questions: list[PseudoQuestion], pool: int = 50,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Feature rows and labels of the first-stage candidates of each pseudo-question that found its
    sentence (a question whose answer the first stage missed teaches the order nothing)."""
    xs, ys = [], []
    for i, q in enumerate(questions, start=1):
        candidates = retriever.pool(q.query, pool, {"until": q.as_of}, window=q.window)
        labels = [q.sentence in c.text for c in candidates]
        if any(labels) and not all(labels):
            xs.append(features(q.query, candidates, q.window or ("", q.as_of)))
            ys.append(np.asarray(labels, dtype=np.int8))
        if progress:
            progress(i, len(questions))
    if not xs:
        raise ValueError("no pseudo-question found its sentence: the corpus is too small to train on")
    return np.concatenate(xs), np.concatenate(ys)


def train(
    retriever: Retriever, texts: list[str], days: list[int], count: int = 300, seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> LinearReranker:  # fmt: skip
    """A reranker trained on ``count`` pseudo-questions from the given chunks (same inputs, same model)."""
    questions = pseudo_questions(texts, days, count, seed)
    x, y = training_rows(retriever, questions, progress=progress)
    return fit(x, y, source=f"self-supervised, {len(questions)} pseudo-questions, {int(y.sum())} positives")


def needs_training(model: LinearReranker | None, articles: int) -> bool:
    """Whether a corpus of ``articles`` should get a (new) model: big enough, and none yet or it changed."""
    if articles < MIN_ARTICLES:
        return False
    if model is None or model.articles <= 0:
        return True
    return abs(articles - model.articles) / model.articles >= RETRAIN_GROWTH
