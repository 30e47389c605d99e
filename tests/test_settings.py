"""Settings from environment and newsqa.toml; the model file checksum."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.settings import Settings
from qa.model_files import ModelFileError, ensure_model


def test_environment_overrides_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "newsqa.toml").write_text('top_k = 6\nllm = "openai"\ndata_dir = "from-toml"\n')
    monkeypatch.setenv("NEWSQA_TOP_K", "3")
    settings = Settings()
    assert settings.top_k == 3  # environment wins
    assert settings.llm == "openai" and settings.data_dir == Path("from-toml")


def test_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for var in ("NEWSQA_DATA_DIR", "NEWSQA_LLM", "NEWSQA_TOP_K", "NEWSQA_HOST"):
        monkeypatch.delenv(var, raising=False)
    settings = Settings()
    assert settings.data_dir == Path(".newsqa") and settings.llm == "local" and settings.top_k == 4
    assert settings.host == "127.0.0.1"


def test_corrupt_model_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf").write_bytes(b"not a model")
    with pytest.raises(ModelFileError, match="expected cc324af0"):
        ensure_model(tmp_path)
