"""Settings from environment and newsqa.toml; the offline environment; the model file checksum."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from conftest import REPO
from pydantic import ValidationError

from index.settings import OFFLINE_ENVIRONMENT, Settings, use_offline_environment
from qa.model_files import ModelFileError, ensure_model
from qa.retrieve import Retriever


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


OFFLINE = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "GRADIO_ANALYTICS_ENABLED", "ANONYMIZED_TELEMETRY")


def test_importing_settings_changes_no_environment_variable() -> None:
    """A clean process that imports index.settings (and builds a Settings) has the environment it began with."""
    script = (
        "import json, os; before = dict(os.environ); import index.settings; index.settings.Settings(); "
        "print(json.dumps(dict(os.environ) == before))"
    )
    env = {k: v for k, v in os.environ.items() if k not in OFFLINE_ENVIRONMENT}
    env["PYTHONPATH"] = str(REPO)
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=REPO, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "true", done.stderr


def test_use_offline_environment_sets_the_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in OFFLINE_ENVIRONMENT:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "true")  # a value already set wins
    use_offline_environment()
    use_offline_environment()  # idempotent
    assert all(os.environ[var] == OFFLINE_ENVIRONMENT[var] for var in OFFLINE)
    assert os.environ["HF_HUB_OFFLINE"] == "1" and os.environ["ANONYMIZED_TELEMETRY"] == "False"
    assert os.environ["TOKENIZERS_PARALLELISM"] == "true"


def test_retrieval_knobs_read_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    knobs = ("RRF_K", "LEXICAL_WEIGHT", "CANDIDATES", "OPEN_WEIGHT", "TIME_SLACK_DAYS")
    for knob in knobs:
        monkeypatch.delenv(f"NEWSQA_{knob}", raising=False)
    defaults = Settings()
    assert (defaults.rrf_k, defaults.lexical_weight, defaults.candidates) == (30, 0.5, 50)
    assert (defaults.open_weight, defaults.time_slack_days) == (1.0, 3)
    for knob, value in zip(knobs, ("60", "0.75", "20", "0", "1"), strict=True):
        monkeypatch.setenv(f"NEWSQA_{knob}", value)
    settings = Settings()
    assert (settings.rrf_k, settings.lexical_weight, settings.candidates) == (60, 0.75, 20)
    assert (settings.open_weight, settings.time_slack_days) == (0.0, 1)
    monkeypatch.setenv("NEWSQA_RRF_K", "0")
    with pytest.raises(ValidationError, match="rrf_k"):
        Settings()


def test_retrieval_reads_its_knobs_from_settings(sample_engine) -> None:
    """open_weight 0 in the settings makes a time window a hard filter; time_slack_days widens the window."""
    engine = sample_engine
    strict = engine.settings.model_copy(update={"open_weight": 0.0, "time_slack_days": 0})
    retriever = Retriever(engine.embedder, engine.store, engine.lexical, settings=strict)
    window = ("2022-03-01", "2022-03-31")
    assert retriever.retrieve("Putin", 4, window=window) == []
    assert len(retriever.retrieve("Putin", 4, window=window, open_weight=1.0)) == 4  # an explicit value wins
    assert len(engine.retriever.retrieve("Putin", 4, window=window)) == 4
    as_of = date(2022, 2, 10)
    assert engine.search_filters("What happened last month?", None, as_of, None, None, None).window == (
        "2021-12-29",
        "2022-01-31",
    )
    unslack = copy.copy(engine)
    unslack.settings = strict
    assert unslack.search_filters("What happened last month?", None, as_of, None, None, None).window == (
        "2022-01-01",
        "2022-01-31",
    )
