"""The reranker's pieces without a model or an index: features, the linear model and its file, the
pseudo-questions it is trained on, the retrain policy, and where a short answer stops."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np

from qa.answer import _short_answer_end
from qa.rerank import FEATURES, LinearReranker, default_reranker, features, fit, key_terms
from qa.rerank_train import MIN_ARTICLES, make_question, needs_training, pseudo_questions
from qa.retrieve import Candidate


def _candidate(i: int, text: str, title: str, day: int = 20260604, article: str = "a", **kw) -> Candidate:
    meta = {"article_id": article, "title": title, "published_day": day, "chunk_index": kw.pop("index", 0)}
    return Candidate(f"c{i}", text=text, metadata=meta, **kw)


def _pool() -> list[Candidate]:
    return [
        _candidate(0, "Markets fell on Monday.", "Stocks slide", fused=0.05, dense_rank=0, cosine=0.5),
        _candidate(
            1,
            "Nvidia said revenue rose to 35 billion dollars.",
            "Nvidia results",
            article="b",
            fused=0.04,
            lexical_rank=0,
            lexical_score=7.0,
            cosine=0.4,
            index=2,
        ),  # fmt: skip
        _candidate(2, "An undated note.", "Note", day=0, article="c", fused=0.01, cosine=0.1),
    ]


def test_features_read_names_numbers_titles_and_dates() -> None:
    x = features("How much revenue did Nvidia report, 35 billion?", _pool(), ("2026-06-01", "2026-06-05"))
    assert x.shape == (3, len(FEATURES)) and np.isfinite(x).all()
    col = {name: x[:, i] for i, name in enumerate(FEATURES)}
    assert col["names_found"][1] == 1.0 and col["names_found"][0] == 0.0
    assert col["numbers_found"][1] == 1.0 and col["numbers_found"][0] == 0.0
    assert col["title_overlap"][1] > 0 and col["undated"][2] == 1.0
    assert col["lexical_rel"][1] == 1.0 and col["lead"][1] == 1 / 3
    assert key_terms("Where did Joe Biden meet Putin in 2021?") == ({"joe", "biden", "putin"}, {"2021"})


def test_linear_model_orders_saves_and_loads(tmp_path: Path) -> None:
    pool = _pool()
    assert [c.id for c in default_reranker().rerank("q", list(pool), None)] == ["c0", "c1", "c2"]
    weights = np.zeros(len(FEATURES), dtype=np.float32)
    weights[FEATURES.index("names_found")] = 1.0
    model = LinearReranker(weights, np.zeros_like(weights), np.ones_like(weights), 0.0, "test", 120)
    ordered = model.rerank("What did Nvidia say?", list(pool), None)
    assert ordered[0].id == "c1" and ordered[0].score > ordered[1].score
    path = tmp_path / "reranker.json"
    model.save(path)
    again = LinearReranker.load(path)
    assert again is not None and again.articles == 120 and np.allclose(again.weights, model.weights)
    assert not path.with_suffix(".tmp").exists()
    path.write_text('{"features": ["old"], "weights": [1]}')
    assert LinearReranker.load(path) is None  # a model for other features is ignored, not misread
    assert LinearReranker.load(tmp_path / "missing.json") is None


def test_fit_is_deterministic() -> None:
    rng = np.random.default_rng(0)
    x = rng.random((200, len(FEATURES))).astype(np.float32)
    y = (x[:, 1] + 0.1 * rng.random(200) > 0.6).astype(np.int8)
    a, b = fit(x, y, "a"), fit(x, y, "b")
    assert np.array_equal(a.weights, b.weights) and a.weights[1] > 0


def test_pseudo_questions_hide_the_answer_and_repeat_with_the_seed() -> None:
    sentence = "The Federal Reserve raised its benchmark rate by 75 basis points on Wednesday in Washington."
    question = make_question(sentence, random.Random(1))
    assert question is not None and question.endswith("?")
    words = question.rstrip("?").split()[1:]
    assert len(words) < len(sentence.split()) - 3  # most words dropped: not a copy of the sentence
    texts = [sentence + " " + "Officials said inflation in Ohio stayed high for 12 months in a row."] * 5
    days = [20260601, 20260602, 0, 20260603, 20260604]
    one, two = pseudo_questions(texts, days, 4, seed=7), pseudo_questions(texts, days, 4, seed=7)
    assert one == two and one and all(q.sentence in texts[0] for q in one)
    assert all(q.as_of >= "2026-06-01" for q in one)


def test_retrain_policy() -> None:
    assert not needs_training(None, MIN_ARTICLES - 1)
    assert needs_training(None, MIN_ARTICLES)
    model = default_reranker()
    model.articles = 1000
    assert not needs_training(model, 1100) and needs_training(model, 1200) and needs_training(model, 790)


def test_short_answer_stops_at_its_first_citation() -> None:
    assert _short_answer_end("Bill Gates [1] testified on") == len(" testified on")
    assert _short_answer_end("Bill Gates") is None
    assert _short_answer_end("[1] Bill Gates") is None  # a citation before any answer word does not end it
    assert _short_answer_end("[1] Bill Gates [2]") == 0
