""" "What's new since …": an answer built only from what newer articles add to older ones.

A question that asks what is new ("What's new about the plant?", "any updates on the strike?") with a
start date (``since=``, or a time in the question: "since Monday") is searched twice: among the articles
from that day on (newer) and among those before it (older). Each sentence of the newer passages is
compared with every sentence of the older ones (MiniLM cosine); a sentence that restates an earlier one
(at least ``novelty_threshold``) is dropped, so the model sees, and can cite, only what the newer
reports add. When nothing is left the answer says so plainly, without calling the model.

Why hand-written: no library compares news reports by date; this reuses the index's own embedder and the
Punkt sentence splitter, and the rest of the answer pipeline (prompt, citations, conflicts) unchanged.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, timedelta

import numpy as np

from index.embed_base import Embedder
from index.sentences import split_sentences
from qa.models import Passage

_WHATS_NEW = re.compile(
    r"\b(?:what(?:'s|’s|\s+is|\s+has|\s+was)?\s+(?:new|changed|the\s+latest)"
    r"|any(?:thing)?\s+new|(?:the\s+)?latest\s+(?:news|on|about|developments?)"
    r"|(?:news|updates?|developments?)\s+(?:on|about|since|in)"
    r"|any\s+(?:news|updates?|developments?))\b",
    re.IGNORECASE,
)


def asks_whats_new(question: str) -> bool:
    """True when ``question`` asks what is new, changed or latest about something."""
    return _WHATS_NEW.search(question) is not None


def nothing_new(since: str) -> str:
    """The plain answer when the articles from ``since`` on add nothing to what was known before."""
    return (
        f"Nothing new was reported since {since}: the articles from then on repeat what earlier reports said."
    )


def day_before(day: str) -> str:
    """The ISO day before ``day``."""
    return (date.fromisoformat(day) - timedelta(days=1)).isoformat()


def novel_passages(
    newer: list[Passage], older: list[Passage], embedder: Embedder, threshold: float
) -> list[Passage]:
    """The newer passages cut down to their sentences that no older sentence restates (cosine below
    ``threshold``), in their order; a passage with no such sentence is left out. Numbered from 1."""
    older_sentences = [s for p in older for s in split_sentences(p.text)]
    known = embedder.embed(older_sentences) if older_sentences else np.zeros((0, embedder.dim), np.float32)
    kept = []
    for passage in newer:
        sentences = split_sentences(passage.text)
        if not sentences:
            continue
        if len(known):
            similarity = (embedder.embed(sentences) @ known.T).max(axis=1)
            sentences = [s for s, best in zip(sentences, similarity, strict=True) if best < threshold]
        if sentences:
            kept.append(replace(passage, text=" ".join(sentences)))
    return [replace(p, n=i) for i, p in enumerate(kept, start=1)]
