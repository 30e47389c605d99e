"""Property-based: parsers given random bytes or random structures return articles or raise ParseError."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from index.formats import FileReport, article_from_record, decode, read_articles
from index.models import Article
from index.parse import ParseError, normalize_date, parse_text

SUFFIXES = [".txt", ".md", ".html", ".json", ".jsonl", ".csv", ".jsonl.gz", ".txt.gz"]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=6)
    ),
    max_leaves=20,
)
keys = st.sampled_from(
    ["title", "body", "text", "date", "published_at", "source", "url", "author", "id", "x"]
)
records = st.dictionaries(keys, json_values, max_size=7)


def _check(articles: list) -> None:
    for article in articles:
        assert isinstance(article, Article) and article.title and article.body.strip()
        assert article.published is None or len(article.published) == 10


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=2000), suffix=st.sampled_from(SUFFIXES))
def test_random_bytes(tmp_path_factory, data: bytes, suffix: str) -> None:
    path = Path(tmp_path_factory.mktemp("fuzz")) / f"f{suffix}"
    path.write_bytes(data)
    with contextlib.suppress(ParseError):
        _check(list(read_articles(path, report=FileReport())))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    value=st.one_of(records, st.lists(records, max_size=4), json_values),
    suffix=st.sampled_from([".json", ".jsonl"]),
)
def test_random_json_structures(tmp_path_factory, value, suffix: str) -> None:
    path = Path(tmp_path_factory.mktemp("fuzz")) / f"f{suffix}"
    text = (
        json.dumps(value)
        if suffix == ".json"
        else "\n".join(json.dumps(v) for v in (value if isinstance(value, list) else [value]))
    )
    path.write_text(text)
    with contextlib.suppress(ParseError):
        _check(list(read_articles(path, report=FileReport())))


@settings(max_examples=300, deadline=None)
@given(record=st.one_of(records, json_values))
@example(record={"url": "[", "body": "text"})  # found by CI: a malformed URL must not crash the record
@example(record={"url": "http://]x[/", "body": "text", "source": "www.[x"})
def test_random_records(record) -> None:
    with contextlib.suppress(ParseError):
        _check([article_from_record(record, "fuzz")])


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=600))
def test_random_text(text: str) -> None:
    with contextlib.suppress(ParseError):
        _check([parse_text(text)])
    assert normalize_date(text[:40]) is None or len(normalize_date(text[:40])) == 10


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=500))
def test_decode_never_raises_anything_else(data: bytes) -> None:
    with contextlib.suppress(ParseError):
        assert isinstance(decode(data), str)
