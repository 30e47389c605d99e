"""The ONNX embedding backends: the exported model run by onnxruntime, fp32 (``onnx``) or quantized (``int8``).

``onnx`` (the default) runs the fp32 export: the same vectors as torch's to ~1e-6, and faster.
``int8`` runs the quantized model: about twice torch fp32's speed where the CPU has VNNI, with dev recall
equal to fp32's (its top-5 sets differ for ~60% of questions, by swaps between near-equal chunks), but a
lower short-answer F1 in one full evaluation, so ``auto`` does not choose it (docs/embedding.md). The model files are built on
first use by :mod:`index.onnx_export`. The int8 file lives beside the index on purpose: the vectors of an
index and the vectors of the questions asked of it must come from the same quantized model, and a re-export
under other library versions could round a few weights differently.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from index.embed_base import (
    EMBED_DIM,
    EMBED_MODEL_NAME,
    MAX_TOKENS,
    EmbedderBase,
    load_tokenizer,
    onnx_session,
)
from index.onnx_export import (
    FP32_MODEL_FILE,
    INT8_MODEL_FILE,
    ONNX_OUTPUT,
    ensure_index_int8_model,
    ensure_onnx_model,
)

if TYPE_CHECKING:
    import onnxruntime

    from index.tokenizer import PackagedTokenizer


class OnnxEmbedder(EmbedderBase):
    """An ONNX sentence-embedding model file (``sentence_embedding`` output), run by onnxruntime.

    Texts are tokenized once, sorted by token count (longest first) and batched, so each batch pads to
    nearly its own length; vectors come back in the input order. onnxruntime uses every core
    (``intra_op_num_threads``).
    """

    name = f"{EMBED_MODEL_NAME} (onnx)"
    backend = "onnx"
    precision: str | None = None  # fp32 or int8: the file is exported into its folder on first use

    def __init__(self, model_file: Path, batch_size: int = 32) -> None:
        super().__init__(batch_size=batch_size)
        self._model_file = Path(model_file)

    @cached_property
    def model_path(self) -> Path:
        """The ONNX file in use (for a ``precision``, exported on first access)."""
        if self.precision is None:
            return self._model_file
        return ensure_onnx_model(self._model_file.parent, self.precision)

    @cached_property
    def session(self) -> onnxruntime.InferenceSession:
        """The onnxruntime session, created on first use."""
        return onnx_session(self.model_path)

    @cached_property
    def tokenizer(self) -> PackagedTokenizer:
        """The model's own tokenizer (the embedding path's instance)."""
        return load_tokenizer()

    def _encode(self, texts: list[str], *, progress: bool) -> np.ndarray:
        session = self.session
        ids = self.tokenizer(
            texts,
            truncation=True,
            max_length=MAX_TOKENS,
            return_attention_mask=False,
            return_token_type_ids=False,
            verbose=False,
        )["input_ids"]
        order = sorted(range(len(texts)), key=lambda i: -len(ids[i]))
        pad_id = self.tokenizer.pad_token_id or 0
        out = np.empty((len(texts), EMBED_DIM), dtype=np.float32)
        starts = range(0, len(order), self.batch_size)
        if progress:
            from tqdm import tqdm

            starts = tqdm(starts, desc="Embedding", unit="batch")
        for start in starts:
            batch = order[start : start + self.batch_size]
            width = len(ids[batch[0]])  # longest first
            input_ids = np.full((len(batch), width), pad_id, dtype=np.int64)
            mask = np.zeros((len(batch), width), dtype=np.int64)
            for row, i in enumerate(batch):
                input_ids[row, : len(ids[i])] = ids[i]
                mask[row, : len(ids[i])] = 1
            feed = {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": np.zeros_like(mask)}
            out[batch] = session.run([ONNX_OUTPUT], feed)[0]
        return out


class OnnxFp32Embedder(OnnxEmbedder):
    """The ``onnx`` backend: the fp32 model exported to ONNX in ``models_dir``, exported there on first use.

    Its vectors match the torch model's to about 1e-6 (the export is checked to 1e-4 on probe texts), so
    an index built with ``fp32`` and questions embedded with ``onnx`` (or the reverse) agree; it embeds
    about twice as fast as torch on these CPUs (measured by ``benchmarks/embed_backends.py``).
    """

    name = f"{EMBED_MODEL_NAME} (fp32 onnx)"
    backend = "onnx"
    precision = "fp32"

    def __init__(self, models_dir: Path, batch_size: int = 32) -> None:
        super().__init__(Path(models_dir) / FP32_MODEL_FILE, batch_size=batch_size)


class OnnxInt8Embedder(OnnxEmbedder):
    """The ``int8`` backend: the model quantized to int8 in ``models_dir``, exported there on first use.

    The activations' int8 scale is computed per batch, so a text's vector can differ in the last digits
    with the batch it is embedded in.
    """

    name = f"{EMBED_MODEL_NAME} (int8 onnx)"
    backend = "int8"
    precision = "int8"

    def __init__(self, models_dir: Path, batch_size: int = 32, shared_dir: Path | None = None) -> None:
        super().__init__(Path(models_dir) / INT8_MODEL_FILE, batch_size=batch_size)
        self._shared_dir = shared_dir

    @cached_property
    def model_path(self) -> Path:
        """The index's int8 file; with ``shared_dir``, a new index copies the machine's int8 model from
        there instead of exporting its own."""
        if self._shared_dir is None:
            return ensure_onnx_model(self._model_file.parent, "int8")
        return ensure_index_int8_model(self._model_file.parent, self._shared_dir)
