"""The ``newsqa`` command line: ingest (bad files, exit code 1) and ask (not covered, exit code 0) as real
subprocesses; the rest, and an answer the model writes, through click in this process (the session's
loaded model)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import REPO, SAMPLE

from qa.cli import cli


def newsqa(data_dir: Path, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "NEWSQA_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "qa.cli", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def test_ingest_reports_each_bad_file_and_exits_nonzero(tmp_path: Path, sample_copy: Path) -> None:
    (sample_copy / "empty.txt").write_bytes(b"")
    (sample_copy / "blob.md").write_bytes(bytes(range(256)) * 4)
    result = newsqa(tmp_path / "data", "ingest", "--quiet", str(sample_copy))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "added 2 article(s)" in result.stdout and "failed 2" in result.stdout
    assert "empty.txt: empty file" in result.stdout
    assert "blob.md: binary file" in result.stdout

    # the same data folder again, through click in this process (the interpreter start was checked above)
    data = ["--data-dir", str(tmp_path / "data")]
    again = CliRunner().invoke(cli, [*data, "ingest", "--quiet", str(SAMPLE)])
    assert again.exit_code == 0 and "added 0 article(s)" in again.stdout and "unchanged 2" in again.stdout

    stats = CliRunner().invoke(cli, [*data, "stats"])
    assert stats.exit_code == 0
    assert "articles:    2" in stats.stdout and "2021-12-31 … 2021-12-31" in stats.stdout


@pytest.fixture(scope="module")
def sample_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder with the sample corpus, ingested by ``newsqa ingest`` through click in this process
    (once for the ask tests; the command as a process is the bad-file test's subject)."""
    data = tmp_path_factory.mktemp("cli") / "data"
    result = CliRunner().invoke(cli, ["--data-dir", str(data), "ingest", "--quiet", str(SAMPLE)])
    assert result.exit_code == 0, result.output
    return data


@pytest.mark.slow
def test_ask_prints_answer_and_sources(sample_data: Path) -> None:
    """``newsqa ask`` through click in this process: the session's loaded model answers (its prompt cache
    often holds this prompt already); the interpreter start is the other tests' subject."""
    result = CliRunner().invoke(
        cli, ["--data-dir", str(sample_data), "ask", "Where will the US–Russia talks be held?"]
    )
    assert result.exit_code == 0, result.output
    assert "Geneva" in result.stdout
    assert (
        "Sources:" in result.stdout
        and re.search(r"^\[\d\] ", result.stdout, re.M)
        and "2021-12-31" in result.stdout
    )
    assert "first token" in result.stderr
    assert re.search(r"^Reading:\n  \[1\] .+2021-12-31", result.stderr, re.M), result.stderr  # sources first


def test_ask_not_covered_needs_no_model(sample_data: Path) -> None:
    result = newsqa(sample_data, "ask", "Who won the football world cup?")
    assert result.returncode == 0
    assert "The articles do not cover this." in result.stdout and "Sources:" not in result.stdout
