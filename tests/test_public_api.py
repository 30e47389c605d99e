"""The public boundary: dates as ISO strings everywhere, the exact not-covered reply as the only abstention,
``serve --data-dir``, the model server's warning, secrets, separate tokenizers, uploads that never replace.

The LLM here is a fixed reply (a unit test of the pipeline around it); the real models are tested elsewhere."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import REPO, SAMPLE

from index.settings import Settings
from qa.answer import Engine
from qa.cite import is_abstention
from qa.cli import cli
from qa.prompt import NOT_COVERED
from qa.ui import library


class FixedReply:
    """An LLM that always writes ``reply``."""

    name = "fixed"

    def __init__(self, reply: str) -> None:
        self.reply = reply

    def stream(self, messages: list[dict[str, str]], *, max_tokens: int) -> Iterator[str]:
        yield self.reply


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    engine = Engine(Settings(data_dir=tmp_path_factory.mktemp("api") / "data"), llm=FixedReply(""))
    assert engine.ingestor().ingest([SAMPLE], progress=False).ok
    return engine


@pytest.mark.parametrize(
    "as_of", ["2022-01-05", date(2022, 1, 5), datetime(2022, 1, 5, 9, 30), "2022-01-05T09:30:00"]
)
def test_dates_may_be_iso_strings_dates_or_datetimes(engine: Engine, as_of: object) -> None:
    engine._llm = FixedReply("The talks will be held in Geneva [1].")
    answer = engine.ask(
        "Where will the talks be held?", as_of=as_of, since="2021-12-01", until=date(2022, 1, 1)
    )
    assert not answer.abstained and answer.citations
    assert answer.filters["since"] == "2021-12-01" and answer.filters["until"] == "2022-01-01"


def test_as_of_before_every_article_leaves_nothing_to_answer_from(engine: Engine) -> None:
    answer = engine.ask("Where will the talks be held?", as_of="2021-06-01")
    assert answer.abstained and answer.passages == []


@pytest.mark.parametrize("name", ["as_of", "since", "until"])
def test_a_malformed_date_is_a_value_error_naming_the_argument(engine: Engine, name: str) -> None:
    with pytest.raises(ValueError, match=rf"^{name}: 'June 5th' is not a date"):
        engine.ask("Where will the talks be held?", **{name: "June 5th"})
    with pytest.raises(ValueError, match="since"):
        engine.ask("Where?", filters={"since": "2021-02-30"})


def test_cli_names_the_bad_date_option(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--data-dir", str(tmp_path), "ask", "Where?", "--as-of", "5/6/26"])
    assert result.exit_code == 2 and "--as-of" in result.output and "not a date" in result.output


def test_an_answer_that_says_do_not_cover_is_still_an_answer(engine: Engine) -> None:
    assert is_abstention(NOT_COVERED) and is_abstention(" the articles do NOT cover this [1]")
    assert not is_abstention("The rules do not cover small firms [1].")
    engine._llm = FixedReply("Putin said the sanctions do not cover the talks in Geneva [1].")
    answer = engine.ask("Where will the talks be held?", as_of="2022-01-05")
    assert not answer.abstained and answer.citations and "do not cover" in answer.text
    engine._llm = FixedReply(NOT_COVERED)
    assert engine.ask("Where will the talks be held?", as_of="2022-01-05").abstained


def test_serve_uses_the_data_dir_option(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from qa.ui import page

    seen: list[Settings] = []
    apis: list[bool] = []
    monkeypatch.setattr(
        page,
        "main",
        lambda host=None, port=None, settings=None, with_api=False: (
            seen.append(settings),
            apis.append(with_api),
        ),
    )
    result = CliRunner().invoke(cli, ["--data-dir", str(tmp_path / "X"), "serve", "--port", "7999"])
    assert result.exit_code == 0, result.output
    assert seen and seen[0].data_dir == tmp_path / "X" and apis == [False]
    # --api on an address other machines reach, without credentials: refused before anything loads
    monkeypatch.delenv("NEWSQA_AUTH", raising=False)
    monkeypatch.delenv("NEWSQA_AUTH_FILE", raising=False)
    monkeypatch.delenv("NEWSQA_API_KEYS", raising=False)
    refused = CliRunner().invoke(
        cli, ["--data-dir", str(tmp_path / "X"), "serve", "--api", "--host", "0.0.0.0"]
    )
    assert refused.exit_code == 1 and "refusing to serve the API on 0.0.0.0" in refused.output
    assert apis == [False]
    allowed = CliRunner().invoke(
        cli, ["--data-dir", str(tmp_path / "X"), "serve", "--api", "--host", "0.0.0.0", "--insecure"]
    )
    assert allowed.exit_code == 0, allowed.output
    assert apis == [False, True]


def test_model_server_warns_before_binding_every_interface(tmp_path: Path) -> None:
    bogus = tmp_path / "not-a-model.gguf"
    bogus.write_bytes(b"GGUF but not really")  # the server fails to load it, so nothing is ever bound
    result = subprocess.run(
        [sys.executable, "-m", "qa.cli", "model-server", "--model", str(bogus), "--host", "0.0.0.0"],
        capture_output=True, text=True, timeout=120, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert result.returncode != 0
    assert "warning: serving the model on 0.0.0.0 with no API key" in result.stderr


def test_the_api_key_is_a_secret() -> None:
    settings = Settings(openai_api_key="sk-very-secret")
    assert "sk-very-secret" not in repr(settings) and "sk-very-secret" not in str(settings.model_dump())
    assert settings.openai_api_key.get_secret_value() == "sk-very-secret"


def test_counting_and_embedding_use_separate_tokenizers(engine: Engine) -> None:
    embedder = engine.embedder
    assert embedder.counting_tokenizer is not embedder.tokenizer
    text = "Putin warned Biden that new sanctions could lead to a rupture of relations. " * 30
    errors: list[BaseException] = []

    def hammer(work) -> None:
        try:
            for _ in range(60):
                work()
        except BaseException as exc:  # noqa: BLE001 - collected
            errors.append(exc)

    threads = [
        threading.Thread(target=hammer, args=(lambda: embedder.count_tokens(text),)),
        threading.Thread(target=hammer, args=(lambda: engine.ingestor().chunker.chunks(_article(text)),)),
        threading.Thread(target=hammer, args=(lambda: embedder.embed([text, "short"]),)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    assert errors == []


def _article(text: str):
    from index.models import Article

    return Article(title="Sanctions", body=text, published="2021-12-31")


def test_two_uploads_of_one_name_never_replace_each_other(tmp_path: Path) -> None:
    target = tmp_path / "uploads"
    target.mkdir()
    alice, bob = tmp_path / "alice", tmp_path / "bob"
    for folder, text in ((alice, "Alice's story"), (bob, "Bob's story")):
        folder.mkdir()
        (folder / "story.txt").write_text(text)
    first = library.stage_uploads([alice / "story.txt"], target)
    second = library.stage_uploads([bob / "story.txt"], target)
    again = library.stage_uploads([alice / "story.txt"], target)  # the same file again: the same copy
    assert [p.name for p in first] == ["story.txt"] and [p.name for p in second] == ["story-2.txt"]
    assert list(again) == list(first)
    assert (target / "story.txt").read_text() == "Alice's story"
    assert (target / "story-2.txt").read_text() == "Bob's story"


def test_filters_are_one_plain_dict(engine: Engine) -> None:
    from llama_index.core.vector_stores.types import MetadataFilter, MetadataFilters

    with pytest.raises(TypeError, match="filters must be a dict"):
        engine.ask("Where?", filters=MetadataFilters(filters=[MetadataFilter(key="outlet", value="AP")]))
    with pytest.raises(ValueError, match="unknown filter 'source_file'"):
        engine.ask("Where?", filters={"source_file": "a.txt"})


def test_citations_carry_the_other_outlets_and_answers_their_dates(tmp_path: Path) -> None:
    from qa.answer import Search

    body = (
        "The city council approved a new budget of 2.1 billion dollars on Tuesday by seven votes to two. "
        "The mayor said the plan pays for 300 new teachers and longer library hours."
    )
    records = [
        {"title": "Council passes budget", "body": body, "source": "Springfield Herald", "date": "2024-01-05",
         "url": "https://herald.example/budget"},
        {"title": "Council passes budget", "body": body, "source": "Valley Wire", "date": "2024-01-06",
         "url": "https://wire.example/budget"},
    ]  # fmt: skip
    corpus = tmp_path / "budget.jsonl"
    corpus.write_text("".join(json.dumps(r) + "\n" for r in records))
    engine = Engine(
        Settings(data_dir=tmp_path / "data"), llm=FixedReply("The council approved a budget [1].")
    )
    report = engine.ingestor().ingest([corpus], progress=False)
    assert len(report.added) == 1 and len(report.folded) == 1
    answer = engine.ask("What budget did the council approve?", as_of="2024-02-01")
    assert [c.outlet for c in answer.citations] == ["Springfield Herald"]
    others = answer.citations[0].also_reported_by
    assert [(o.outlet, o.date, o.url) for o in others] == [
        ("Valley Wire", "2024-01-06", "https://wire.example/budget")
    ]
    assert "also reported by Valley Wire, 2024-01-06 — https://wire.example/budget" in answer.sources_text()
    assert answer.freshness_text() == "Sources dated 2024-01-05." and answer.freshness_note is None
    stale = engine._with_provenance(answer, Search("budget", {}, window=("2024-01-29", "2024-02-01")))
    assert stale.freshness_note == (
        "The newest source is from 2024-01-05, before the time the question asks about (2024-01-29 to 2024-02-01)."
    )
