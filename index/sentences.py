"""newsqa's one sentence splitter: NLTK's Punkt with the model data llama-index ships (no download).

Punkt knows that "Mr.", "U.S." and "Jan." do not end a sentence, which a regular expression gets wrong in
news copy. Quotes, conflict checks, tight context and derived titles all split with it; the chunker's
llama-index ``SentenceSplitter`` runs the same Punkt model internally.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

_PARAGRAPH_RE = re.compile(r"\n\s*\n")


@cache
def _tokenizer():  # noqa: ANN202
    import llama_index.core
    import nltk
    from nltk.tokenize import PunktTokenizer

    nltk_data = Path(llama_index.core.__file__).parent / "_static" / "nltk_cache"
    if str(nltk_data) not in nltk.data.path:
        nltk.data.path.insert(0, str(nltk_data))
    return PunktTokenizer()


def split_sentences(text: str) -> list[str]:
    """Split text into sentences; a blank line (a paragraph or sub-heading break) always ends one."""
    tokenizer = _tokenizer()
    return [s.strip() for para in _PARAGRAPH_RE.split(text) for s in tokenizer.tokenize(para) if s.strip()]


def first_sentence(text: str) -> str:
    """The first sentence of ``text`` (read from the first paragraph that has text), or "" for blank text."""
    for para in _PARAGRAPH_RE.split(text.strip()):
        sentences = split_sentences(para)
        if sentences:
            return sentences[0]
    return ""
