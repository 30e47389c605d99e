"""Split articles into chunks that fit the embedding model, with title and date leading the embedded text."""

from __future__ import annotations

from collections.abc import Callable

from llama_index.core.node_parser import SentenceSplitter

from index.embed import MAX_TOKENS
from index.models import Article, Chunk

_SPECIAL_TOKENS = 2  # [CLS] and [SEP]
_MAX_TITLE_TOKENS = 48


def embed_header(article: Article) -> str:
    """The lines that open every chunk's embedded text: title, then date (when known)."""
    return f"{article.title}\n{article.published}" if article.published else article.title


class Chunker:
    """Sentence-aware splitting (llama-index ``SentenceSplitter``) counting the embedding model's tokens.

    ``chunk_tokens`` bounds header + text together, so no embedded text exceeds the model's limit.
    """

    def __init__(self, tokenize: Callable[[str], list], chunk_tokens: int = 200, overlap: int = 20) -> None:
        if chunk_tokens + _SPECIAL_TOKENS > MAX_TOKENS:
            raise ValueError(f"chunk_tokens={chunk_tokens} leaves no room under the {MAX_TOKENS}-token limit")
        self._tokenize = tokenize
        self.chunk_tokens = chunk_tokens
        self._splitter = SentenceSplitter(
            chunk_size=chunk_tokens, chunk_overlap=min(overlap, chunk_tokens // 4), tokenizer=tokenize
        )

    def _short_title(self, title: str) -> str:
        """The title cut to at most ``_MAX_TITLE_TOKENS`` tokens: whole words while there are several, then
        characters (a title in Chinese, Japanese or Thai, or a long URL, is one "word")."""
        text = title
        while len(text) > 1 and len(self._tokenize(text)) > _MAX_TITLE_TOKENS:
            words = text.split()
            if len(words) > 1:
                text = " ".join(words[: max(1, len(words) * 3 // 4)])
            else:
                text = text[: max(1, len(text) * 3 // 4)]
        return text

    def _header(self, article: Article) -> str:
        if len(self._tokenize(article.title)) <= _MAX_TITLE_TOKENS:
            return embed_header(article)
        short = self._short_title(article.title) + " …"  # absurdly long titles would crowd out the text
        return f"{short}\n{article.published}" if article.published else short

    def chunks(self, article: Article) -> list[Chunk]:
        """Split one article into chunks; the embedded text is ``header + blank line + text``."""
        header = self._header(article)
        pieces = self._splitter.split_text_metadata_aware(article.body, header + "\n\n")
        return [
            Chunk(article_id=article.id, index=i, text=piece, embed_text=f"{header}\n\n{piece}")
            for i, piece in enumerate(p.strip() for p in pieces)
            if piece
        ]
