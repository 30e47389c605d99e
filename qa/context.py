"""Tight context: fill a token budget with the most relevant sentences of the top passages.

On two cores the local model reads a prompt at roughly 100 tokens/s, so every passage token costs the
reader time before the first answer word. Sentences are scored by cosine similarity to the question
(the same MiniLM model), picked best first until the budget is full, and shown in article order under their
passage number, so ``[n]`` still points to a retrieved passage.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from index.embed import Embedder
from index.sentences import split_sentences
from qa.models import Passage


def condense(
    question: str, passages: list[Passage], embedder: Embedder, budget: int, *, margin: float = 0.0,
    floor: int = 0,
) -> list[Passage]:  # fmt: skip
    """Passages cut down to their best sentences, ``budget`` tokens in all (0 = keep whole passages).

    With ``margin`` > 0 the budget shrinks when the top evidence is strong: once ``floor`` tokens are
    chosen, sentences scoring more than ``margin`` below the best one are left out (every prompt token
    costs the reader time before the first word). Passages left with no sentence are dropped and the rest
    renumbered 1..m; each returned passage keeps the full chunk text in ``Passage.text`` of the original,
    and the condensed text in ``text``.
    """
    if budget <= 0 or not passages:
        return passages
    sentences: list[tuple[int, int, str]] = []  # (passage index, sentence index, text)
    for p_index, passage in enumerate(passages):
        for s_index, sentence in enumerate(split_sentences(passage.text)):
            sentences.append((p_index, s_index, sentence))
    if not sentences:
        return passages
    vectors = embedder.embed([question] + [s for _, _, s in sentences])
    scores = vectors[1:] @ vectors[0]
    # A small bonus for higher-ranked passages breaks ties toward what retrieval preferred.
    scores = scores + np.array([0.02 * (len(passages) - p) for p, _, _ in sentences])
    chosen: set[tuple[int, int]] = set()
    used = 0
    order = np.argsort(-scores)
    weakest = float(scores[order[0]]) - margin if margin > 0 else -np.inf
    for i in order:
        if scores[i] < weakest and used >= floor:
            break
        p_index, s_index, sentence = sentences[int(i)]
        cost = embedder.count_tokens(sentence) - 2
        if used + cost > budget and chosen:
            continue
        chosen.add((p_index, s_index))
        used += cost
        if used >= budget:
            break
    condensed = []
    for p_index, passage in enumerate(passages):
        kept = [s for p, si, s in sentences if p == p_index and (p, si) in chosen]
        if kept:
            condensed.append(replace(passage, n=len(condensed) + 1, text="\n\n".join(_runs(passage, kept))))
    return condensed


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
