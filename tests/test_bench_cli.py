"""``newsqa bench``: reached through the ``newsqa.commands`` entry point, clear errors on bad input."""

from __future__ import annotations

import json
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest
from click.testing import CliRunner

from qa import cli as cli_module


def test_bench_is_a_plugin_command_listed_with_the_others() -> None:
    assert "bench" in cli_module._plugins()  # registered by pyproject.toml, not imported by qa/cli.py
    result = CliRunner().invoke(cli_module.cli, ["--help"])
    assert result.exit_code == 0 and "bench" in result.output
    result = CliRunner().invoke(cli_module.cli, ["bench", "--help"])
    assert result.exit_code == 0
    assert "ingest" in result.output and "load" in result.output and "soak" in result.output
    result = CliRunner().invoke(cli_module.cli, ["bench", "soak", "--help"])
    assert result.exit_code == 0 and "--minutes" in result.output and "smollm2" in result.output


def test_bench_ingest_names_a_file_that_is_not_a_corpus(tmp_path: Path) -> None:
    bad = tmp_path / "notes.jsonl"
    bad.write_text(json.dumps({"doc_id": "a", "body": "fine"}) + "\nnot json\n")
    args = ["--data-dir", str(tmp_path / "d"), "bench", "ingest", "--corpus", str(bad), "--articles", "5"]
    result = CliRunner().invoke(cli_module.cli, args)
    assert result.exit_code == 1
    assert f"{bad}, line 2: not a RealTime QA record" in result.output


def test_a_plugin_that_cannot_load_is_reported_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    broken = EntryPoint("broken", "no_such_module_here:command", cli_module.PLUGIN_GROUP)
    monkeypatch.setattr(cli_module, "_plugins", lambda: {"broken": broken})
    result = CliRunner().invoke(cli_module.cli, ["broken"])
    assert result.exit_code == 1
    assert "the 'broken' command (no_such_module_here:command) cannot load" in result.output
