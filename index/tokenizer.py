"""The embedding model's tokenizer, read with the ``tokenizers`` library.

``tokenizers`` is the Rust tokenizer behind transformers' fast tokenizers; reading the packaged model's own
``tokenizer.json`` with it gives the same ids as ``transformers.AutoTokenizer`` (tests/test_embed.py
compares them), without importing transformers, which imports torch: 4.4 s of every process that ingests or
answers (AMD EPYC, 2026-12-07), while the default ONNX backend needs neither. Only the calls newsqa makes of a
Hugging Face tokenizer are offered: ``encode``, a call on a batch (truncation, padding to the longest,
NumPy arrays) and ``pad_token_id``.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


class PackagedTokenizer:
    """A WordPiece tokenizer from a model folder's ``tokenizer.json``. Its Rust tokenizers are never changed
    after they are made (one per truncation length), so threads may share an instance: switching a fast
    tokenizer's truncation while another thread encodes fails with "Already borrowed"."""

    def __init__(self, model_dir: str | Path) -> None:
        from tokenizers import Tokenizer

        self._file = str(Path(model_dir) / "tokenizer.json")
        self._plain = Tokenizer.from_file(self._file)
        self._plain.no_truncation()  # the file asks for 128 tokens, padded: transformers ignores that too
        self._plain.no_padding()
        self._truncating: dict[int, Any] = {}
        self._lock = threading.Lock()
        pad = self._plain.token_to_id("[PAD]")
        self.pad_token_id: int = 0 if pad is None else pad

    def _cut_at(self, max_length: int) -> Any:
        with self._lock:
            if max_length not in self._truncating:
                from tokenizers import Tokenizer

                tokenizer = Tokenizer.from_file(self._file)
                tokenizer.no_padding()
                tokenizer.enable_truncation(max_length=max_length)
                self._truncating[max_length] = tokenizer
            return self._truncating[max_length]

    def encode(self, text: str, add_special_tokens: bool = True, verbose: bool = False) -> list[int]:
        """The ids of one text, never truncated (``verbose`` is accepted for transformers' signature)."""
        return self._plain.encode(text, add_special_tokens=add_special_tokens).ids

    def __call__(
        self,
        texts: Sequence[str],
        *,
        truncation: bool = False,
        max_length: int | None = None,
        padding: bool = False,
        return_tensors: str | None = None,
        return_attention_mask: bool = True,
        return_token_type_ids: bool = True,
        verbose: bool = False,
    ) -> dict[str, Any]:
        """A batch as transformers gives it: ``input_ids`` (special tokens added; cut to ``max_length`` with
        ``truncation``; padded to the longest with ``padding``), ``attention_mask``, ``token_type_ids``;
        lists, or int64 NumPy arrays with ``return_tensors="np"`` (which needs ``padding`` when lengths
        differ)."""
        tokenizer = self._cut_at(max_length) if truncation and max_length else self._plain
        ids = [e.ids for e in tokenizer.encode_batch(list(texts))]
        mask = [[1] * len(row) for row in ids]
        if padding:
            width = max((len(row) for row in ids), default=0)
            mask = [row + [0] * (width - len(row)) for row in mask]
            ids = [row + [self.pad_token_id] * (width - len(row)) for row in ids]
        out: dict[str, Any] = {"input_ids": ids}
        if return_attention_mask:
            out["attention_mask"] = mask
        if return_token_type_ids:
            out["token_type_ids"] = [[0] * len(row) for row in ids]
        if return_tensors == "np":
            out = {key: np.asarray(value, dtype=np.int64) for key, value in out.items()}
        elif return_tensors is not None:
            raise ValueError(f"return_tensors={return_tensors!r}: only 'np' is offered")
        return out
