"""The torch embedding backends: sentence-transformers in float32 (``fp32``) and under bf16 autocast (``bf16``).

``fp32`` is the reference every other backend is measured against. ``bf16`` runs the same weights and code
under ``torch.autocast("cpu", dtype=torch.bfloat16)``: the linear layers run in bfloat16; LayerNorm,
pooling and normalization stay in float32. Fast on CPUs with native bf16 (``avx512_bf16`` / AMX);
elsewhere it still works, more slowly.
"""

from __future__ import annotations

import logging
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from index.embed_base import (
    EMBED_MODEL_NAME,
    MAX_TOKENS,
    EmbedderBase,
    cpu_has_native_bf16,
    l2_normalize,
    packaged_model_path,
)

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer
    from transformers import PreTrainedTokenizerBase

log = logging.getLogger(__name__)


class TorchEmbedder(EmbedderBase):
    """The ``fp32`` backend: loads the model once and embeds texts in batches, as unit vectors."""

    name = f"{EMBED_MODEL_NAME} (fp32)"
    backend = "fp32"

    @cached_property
    def model(self) -> SentenceTransformer:
        """The sentence-transformers model, loaded on first use (torch is slow to import)."""
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        model = SentenceTransformer(packaged_model_path(), device="cpu", local_files_only=True)
        model.max_seq_length = MAX_TOKENS
        return model

    @property
    def tokenizer(self) -> PreTrainedTokenizerBase:
        """The model's own Hugging Face tokenizer (the embedding path's instance)."""
        return self.model.tokenizer

    def _encode(self, texts: list[str], *, progress: bool) -> np.ndarray:
        """sentence-transformers sorts the texts by length before batching and restores their order."""
        vectors = self.model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.asarray(vectors, dtype=np.float32)


class Bf16Embedder(TorchEmbedder):
    """The ``bf16`` backend: sentence-transformers under CPU bfloat16 autocast (same weights, same code)."""

    name = f"{EMBED_MODEL_NAME} (bf16 autocast)"
    backend = "bf16"

    @cached_property
    def model(self) -> SentenceTransformer:
        """The sentence-transformers model (float32 weights; autocast lowers the matmuls per call)."""
        if cpu_has_native_bf16() is False:
            log.warning("this CPU has no native bfloat16: embed_backend=bf16 is slower here than fp32")
        return super().model

    def _encode(self, texts: list[str], *, progress: bool) -> np.ndarray:
        import torch

        model = self.model  # load outside autocast: the weights stay float32
        with torch.autocast("cpu", dtype=torch.bfloat16):
            vectors = model.encode(
                texts,
                batch_size=self.batch_size,
                normalize_embeddings=False,
                convert_to_numpy=True,
                show_progress_bar=progress,
            )
        return l2_normalize(vectors)  # normalized in float32, like the fp32 path
