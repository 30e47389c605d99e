"""The second stage: reorder the fused candidates so the chunk that answers comes first.

A learned linear model over cheap features of each candidate (what the dense and BM25 searches said of it,
how many of the question's words, names and numbers it and its title hold, where it sits in its article, how
much of its article the first stage found, its date against the question's time). No packaged cross-encoder
exists and a MiniLM cross-encoder is too slow on two cores (benchmarks/rerank_sweep.py), so the features are
the news-domain knowledge here: names, numbers, titles and dates carry a news question.

The weights are learned without labels, from the user's own corpus (``qa.rerank_train``), and stored as
JSON in the data folder; scoring is a dot product (no scikit-learn at question time).
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.cite import content_words
from qa.retrieve import Candidate, day_number

MODEL_FILE = "reranker.json"
# The fused score times 30 (the default rrf_k) is about 1 for a first-ranked dense vote. Features are
# standardized, so the scale does not change a model; it stays fixed so that a stored model keeps its meaning.
FUSED_SCALE = 30
_NUMBER_RE = re.compile(r"\b\d[\d,.]*\b")
_NAME_RE = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][\w'’\-]*")

FEATURES = (
    "fused",
    "cosine",
    "dense_rr",
    "lexical_rr",
    "lexical_rel",
    "title_overlap",
    "text_overlap",
    "names_found",
    "numbers_found",
    "in_window",
    "age",
    "undated",
    "lead",
    "article_hits",
    "article_best",
    "cosine_gap",
)


def key_terms(question: str) -> tuple[set[str], set[str]]:
    """The names (capitalised words past the first) and numbers of a question, lowercased."""
    names = {m.group(0).lower().rstrip("'’s") for m in _NAME_RE.finditer(question)}
    numbers = {m.group(0).rstrip(".,").replace(",", "") for m in _NUMBER_RE.finditer(question)}
    return names - content_words("what who which when where why how"), numbers


def _fraction(wanted: set[str], have: set[str]) -> float:
    return len(wanted & have) / len(wanted) if wanted else 0.0


def _reference_day(candidates: list[Candidate], window: tuple[str, str] | None) -> int | None:
    if window and window[1]:
        return day_number(window[1])
    days = [int(c.metadata.get("published_day") or 0) for c in candidates]
    return max(days) if any(days) else None


def _days_between(a: int, b: int) -> int:
    from datetime import date

    def as_date(day: int) -> date:
        return date(day // 10000, day // 100 % 100, day % 100)

    return abs((as_date(a) - as_date(b)).days)


def features(question: str, candidates: list[Candidate], window: tuple[str, str] | None) -> np.ndarray:
    """One row of ``FEATURES`` per candidate, all roughly in [0, 1]."""
    words = content_words(question)
    names, numbers = key_terms(question)
    reference = _reference_day(candidates, window)
    top_lexical = max((c.lexical_score for c in candidates), default=0.0) or 1.0
    top_cosine = max((c.cosine for c in candidates), default=0.0)
    per_article = Counter(str(c.metadata.get("article_id", "")) for c in candidates)
    best_of: dict[str, str] = {}
    for c in sorted(candidates, key=lambda c: -c.fused):
        best_of.setdefault(str(c.metadata.get("article_id", "")), c.id)
    rows = []
    for c in candidates:
        title = str(c.metadata.get("title", ""))
        text_words = content_words(c.text)
        title_words = content_words(title)
        both = text_words | title_words
        plain = f"{title} {c.text}".lower().replace(",", "")
        day = int(c.metadata.get("published_day") or 0)
        age = _days_between(reference, day) if reference and day else 0
        article = str(c.metadata.get("article_id", ""))
        rows.append(
            [
                c.fused * FUSED_SCALE,
                c.cosine,
                1 / (1 + c.dense_rank) if c.dense_rank is not None else 0.0,
                1 / (1 + c.lexical_rank) if c.lexical_rank is not None else 0.0,
                c.lexical_score / top_lexical,
                _fraction(words, title_words),
                _fraction(words, text_words),
                _fraction(names, both),
                sum(n in plain for n in numbers) / len(numbers) if numbers else 0.0,
                float(c.in_window),
                math.log1p(age) / 6,
                float(day == 0),
                1 / (1 + int(c.metadata.get("chunk_index") or 0)),
                min(per_article[article], 5) / 5,
                float(best_of.get(article) == c.id),
                top_cosine - c.cosine,
            ]
        )
    return np.asarray(rows, dtype=np.float32).reshape(len(candidates), len(FEATURES))


@dataclass
class LinearReranker:
    """Scores candidates by ``features · weights + bias`` (standardized features)."""

    weights: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    bias: float = 0.0
    source: str = ""
    articles: int = 0  # articles in the corpus it was trained on (0: not trained on a corpus)

    def scores(
        self, question: str, candidates: list[Candidate], window: tuple[str, str] | None
    ) -> np.ndarray:
        """The model's score of each candidate."""
        x = (features(question, candidates, window) - self.mean) / self.scale
        return x @ self.weights + self.bias

    def rerank(
        self, question: str, candidates: list[Candidate], window: tuple[str, str] | None
    ) -> list[Candidate]:
        """The candidates, best first by the model's score (ties: the first stage's order)."""
        if not candidates:
            return candidates
        scores = self.scores(question, candidates, window)
        for c, s in zip(candidates, scores, strict=True):
            c.score = float(s)
        order = sorted(range(len(candidates)), key=lambda i: (-scores[i], i))
        return [candidates[i] for i in order]

    def save(self, path: Path) -> None:
        """Write the model as JSON (written to a temporary file, then renamed: never half-written)."""
        data = {
            "features": list(FEATURES),
            "weights": [round(float(w), 6) for w in self.weights],
            "mean": [round(float(m), 6) for m in self.mean],
            "scale": [round(float(s), 6) for s in self.scale],
            "bias": round(float(self.bias), 6),
            "source": self.source,
            "articles": self.articles,
        }
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1) + "\n")
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> LinearReranker | None:
        """The model stored at ``path``; None if there is none or it was made for other features."""
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        if data.get("features") != list(FEATURES):
            return None
        return cls(
            np.asarray(data["weights"], dtype=np.float32),
            np.asarray(data["mean"], dtype=np.float32),
            np.asarray(data["scale"], dtype=np.float32),
            float(data.get("bias", 0.0)),
            str(data.get("source", "")),
            int(data.get("articles", 0)),
        )


def fit(x: np.ndarray, y: np.ndarray, source: str, c: float = 1.0) -> LinearReranker:
    """A logistic regression of ``y`` (1 = the chunk answers) on feature rows ``x``, deterministic."""
    from sklearn.linear_model import LogisticRegression

    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-6] = 1.0
    model = LogisticRegression(C=c, class_weight="balanced", max_iter=2000)
    model.fit((x - mean) / scale, y)
    return LinearReranker(model.coef_[0].astype(np.float32), mean, scale, float(model.intercept_[0]), source)


def default_reranker() -> LinearReranker:
    """Weights for an index that has no trained model yet: the first-stage fusion order unchanged."""
    n = len(FEATURES)
    weights = np.zeros(n, dtype=np.float32)
    weights[FEATURES.index("fused")] = 1.0
    return LinearReranker(weights, np.zeros(n, np.float32), np.ones(n, np.float32), 0.0, "fusion")
