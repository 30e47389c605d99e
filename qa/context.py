"""Tight context: fill a token budget with the sentences of the top passages that answer the question.

On two cores the local model reads a prompt at roughly 65 tokens/s, so every passage token costs the
reader time before the first answer word. Sentences are scored by cosine similarity to the question (the
same MiniLM model), the share of the question's rare words they hold, and whether they hold the kind of
answer the question wants (``Cut``); picked best first until the budget is full, and shown in article order
under their passage number, so ``[n]`` still points to a retrieved passage. Cosine alone prefers the
sentence that restates the question to the one that answers it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace

import numpy as np

from index.embed import Embedder
from index.sentences import split_sentences
from qa.answer_type import expected_kind, holds_kind
from qa.models import Passage


@dataclass(frozen=True)
class Cut:
    """How sentences are scored and picked. Every sentence scores its MiniLM cosine to the question, plus
    ``lexical`` times its share of the question's rare words (IDF over the candidate sentences), plus
    ``kind`` when it holds the kind of answer the question wants (``qa.answer_type``), plus a small vote
    for higher-ranked passages. ``each_first``: every passage's best sentence before any passage's second;
    ``neighbours``: a sentence that starts with a pronoun or continues a quote brings the one before it.
    The default is the cut measured best (benchmarks/context_cut.py, docs/evaluation.md)."""

    lexical: float = 0.0
    kind: float = 0.0
    each_first: bool = False
    neighbours: bool = False


COSINE_ONLY = Cut()  # the cut before issue 24
# RealTime QA dev, the 79 answerable questions, top 5 of the 907 search documents' index: context recall at
# 150 / 200 / 300 tokens 0.481 / 0.582 / 0.608 with cosine only, 0.570 / 0.646 / 0.722 with this (recall@5
# 0.797 is the ceiling); each-first and neighbours did not add to it (benchmarks/context_cut.py).
DEFAULT_CUT = Cut(lexical=1.0, kind=0.2)

_TERM = re.compile(r"[a-z0-9][a-z0-9'’\-]*")
_STOP = frozenset(
    "a an and are as at be been but by did do does for from had has have he her his how i in into is it its "
    "of on or she that the their them they this to was were what when where which who whom whose why will "
    "with would".split()
)
_CONTINUES = re.compile(r"^(?:[\"“”'‘’]|(?:he|she|it|they|this|that|these|those|his|her|its|their|but|and|"
                        r"also|however|still|then|there)\b)", re.IGNORECASE)  # fmt: skip


def _terms(text: str) -> set[str]:
    """Lowercase content words, a possessive or plural ``s`` dropped."""
    return {re.sub(r"(['’]s|s)$", "", w) for w in _TERM.findall(text.lower()) if w not in _STOP}


def _lexical_scores(question: str, sentences: list[str]) -> np.ndarray:
    """Each sentence's share of the question's content words, each word weighted by its IDF among the
    sentences (a rare word counts more than one every sentence repeats)."""
    wanted = _terms(question)
    bags = [_terms(s) for s in sentences]
    if not wanted or not bags:
        return np.zeros(len(sentences))
    n = len(bags)
    idf = {t: math.log(1 + (n - df + 0.5) / (df + 0.5)) for t in wanted for df in [sum(t in b for b in bags)]}
    total = sum(idf.values()) or 1.0
    return np.array([sum(idf[t] for t in wanted & bag) / total for bag in bags])


def condense(
    question: str, passages: list[Passage], embedder: Embedder, budget: int, *, margin: float = 0.0,
    floor: int = 0, cut: Cut = DEFAULT_CUT,
) -> list[Passage]:  # fmt: skip
    """Passages cut down to their best sentences, ``budget`` tokens in all (0 = keep whole passages).

    With ``margin`` > 0 the budget shrinks when the top evidence is strong: once ``floor`` tokens are
    chosen, sentences scoring more than ``margin`` below the best one are left out (every prompt token
    costs the reader time before the first word). Passages left with no sentence are dropped and the rest
    renumbered 1..m; each returned passage keeps the full chunk text in ``Passage.text`` of the original,
    and the condensed text in ``text``. ``cut`` says how sentences are scored and picked (``Cut``).
    """
    if budget <= 0 or not passages:
        return passages
    sentences: list[tuple[int, int, str]] = []  # (passage index, sentence index, text)
    for p_index, passage in enumerate(passages):
        for s_index, sentence in enumerate(split_sentences(passage.text)):
            sentences.append((p_index, s_index, sentence))
    if not sentences:
        return passages
    scores = _sentence_scores(question, [s for _, _, s in sentences], embedder, cut)
    # A small bonus for higher-ranked passages breaks ties toward what retrieval preferred.
    scores = scores + np.array([0.02 * (len(passages) - p) for p, _, _ in sentences])
    chosen = _pick(sentences, scores, embedder, budget, margin, floor, cut)
    condensed = []
    for p_index, passage in enumerate(passages):
        kept = [s for p, si, s in sentences if p == p_index and (p, si) in chosen]
        if kept:
            condensed.append(replace(passage, n=len(condensed) + 1, text="\n\n".join(_runs(passage, kept))))
    return condensed


def _sentence_scores(question: str, texts: list[str], embedder: Embedder, cut: Cut) -> np.ndarray:
    """Cosine to the question, plus the lexical and answer-kind votes of ``cut``."""
    vectors = embedder.embed([question] + texts)
    scores = vectors[1:] @ vectors[0]
    if cut.lexical:
        scores = scores + cut.lexical * _lexical_scores(question, texts)
    kind = expected_kind(question) if cut.kind else None
    if kind is not None:
        scores = scores + cut.kind * np.array([holds_kind(t, kind, question) for t in texts], dtype=float)
    return scores


def _pick(
    sentences: list[tuple[int, int, str]], scores: np.ndarray, embedder: Embedder, budget: int,
    margin: float, floor: int, cut: Cut,
) -> set[tuple[int, int]]:  # fmt: skip
    """The (passage, sentence) pairs kept within ``budget`` tokens, best first (see ``Cut``)."""
    order = [int(i) for i in np.argsort(-scores)]
    if cut.each_first:
        firsts: dict[int, int] = {}
        for i in order:
            firsts.setdefault(sentences[i][0], i)
        order = list(firsts.values()) + [i for i in order if i not in set(firsts.values())]
    where = {(p, si): i for i, (p, si, _) in enumerate(sentences)}
    chosen: set[tuple[int, int]] = set()
    used = 0
    weakest = float(scores[order[0]]) - margin if margin > 0 else -np.inf
    for i in order:
        if scores[i] < weakest and used >= floor:
            break
        p_index, s_index, sentence = sentences[i]
        picks = [(p_index, s_index)]
        if cut.neighbours and s_index > 0 and _CONTINUES.match(sentence):
            picks.insert(0, (p_index, s_index - 1))
        picks = [pair for pair in picks if pair not in chosen]
        cost = sum(embedder.count_tokens(sentences[where[pair]][2]) - 2 for pair in picks)
        if not picks or (used + cost > budget and chosen):
            continue
        chosen.update(picks)
        used += cost
        if used >= budget:
            break
    return chosen


def _runs(passage: Passage, kept: list[str]) -> list[str]:
    """Adjacent kept sentences as one piece of the original text (so quotes stay verbatim); gaps between
    them become separate pieces (separated by a blank line)."""
    text = passage.text
    spans = []
    cursor = 0
    for sentence in split_sentences(text):
        start = text.find(sentence, cursor)
        if start < 0:
            continue
        spans.append((start, start + len(sentence), sentence in kept))
        cursor = start + len(sentence)
    pieces: list[tuple[int, int]] = []
    previous_kept = False
    for start, end, is_kept in spans:
        if is_kept:
            if previous_kept and pieces:
                pieces[-1] = (pieces[-1][0], end)
            else:
                pieces.append((start, end))
        previous_kept = is_kept
    return [text[start:end] for start, end in pieces]
