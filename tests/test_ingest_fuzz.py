"""Hostile text through the whole ingest path (format → parse → chunk, with the real tokenizer): every
article ingests or fails with the project's own error, and quickly. Includes the one-word-title hang."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from index.embed import load_tokenizer
from index.formats import read_articles
from index.ingest import Ingestor
from index.parse import ParseError
from index.settings import Settings

SECONDS = 10.0  # per article; a healthy one takes milliseconds

pieces = st.sampled_from([
    "中国人民银行宣布下调存款准备金率以支持经济增长",  # Chinese, no spaces
    "東京証券取引所で株価が大幅に下落した",  # Japanese
    "รัฐบาลประกาศมาตรการกระตุ้นเศรษฐกิจใหม่",  # Thai, no spaces
    "הממשלה אישרה את התקציב החדש",  # right-to-left
    "مجلس النواب يقر الميزانية",
    "🚀🔥📈", "\u200b\u200c\u200d\ufeff", "\x00\x07\x1b[31m", "https://example.org/" + "a" * 300,
    "x" * 10_000, "\n\n\n", "   ", "Officials said on Monday that talks would resume.",
])  # fmt: skip
texts = st.lists(pieces | st.text(max_size=80), min_size=0, max_size=8).map("".join)


@pytest.fixture(scope="module")
def chunker():
    from index.chunk import Chunker

    tokenizer = load_tokenizer()
    return Chunker(lambda text: tokenizer.encode(text, add_special_tokens=False, verbose=False))


def _bounded(work, seconds: float = SECONDS) -> None:
    """Run ``work`` in a thread; fail if it has not returned in ``seconds`` (a hang, not a slow run)."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    start = time.perf_counter()
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {time.perf_counter() - start:.0f} s"
    if errors:
        raise errors[0]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(title=texts, body=texts, suffix=st.sampled_from([".txt", ".json"]))
@example(title="中" * 70, body="Officials said on Monday that talks would resume.", suffix=".txt")
@example(title="https://example.org/" + "a" * 2000, body="x" * 10_000, suffix=".json")
@example(title="\n\n", body="\n\n\n", suffix=".txt")
def test_hostile_titles_and_bodies_ingest_or_fail_cleanly(tmp_path_factory, chunker, title, body, suffix):
    import json

    path = Path(tmp_path_factory.mktemp("hostile")) / f"a{suffix}"
    if suffix == ".txt":
        path.write_text(f"{title}\nDec 31, 2021\n\n{body}\n", errors="surrogatepass")
    else:
        path.write_text(json.dumps({"title": title, "body": body, "date": "2021-12-31"}))

    def work() -> None:
        try:
            articles = list(read_articles(path))
        except ParseError:
            return
        for article in articles:
            for chunk in chunker.chunks(article):
                assert len(chunker._tokenize(chunk.embed_text)) <= chunker.chunk_tokens + 2  # noqa: SLF001

    _bounded(work)


def test_a_title_that_is_one_long_word_ingests(tmp_path: Path) -> None:
    """The reported hang: 70 Chinese characters as the title never returned from ``newsqa ingest``."""
    path = tmp_path / "that.txt"
    path.write_text(
        "中" * 70 + "\nDec 31, 2021\n\nThe talks will be held in Geneva next month, officials said.\n"
    )
    reports = []
    _bounded(lambda: reports.append(Ingestor(Settings(data_dir=tmp_path / "data")).ingest([path], progress=False)),
             seconds=120)  # fmt: skip
    (report,) = reports
    assert report.ok and len(report.added) == 1
