"""Property-based: the PDF, Word, WARC / ARC, mail and sitemap readers given random bytes, or a valid
fixture with bytes overwritten, cut or inserted, return articles or raise ParseError, nothing else, and
quickly (tests/test_parse_fuzz.py does the same for the text and record formats)."""

from __future__ import annotations

import contextlib
import gzip
import threading
import time
from functools import cache
from pathlib import Path

from doc_fixtures import (
    PDF_PAGES,
    make_pdf,
    news_sitemap,
    newsletters,
    write_arc,
    write_docx,
    write_mbox,
    write_warc,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from index.formats import FileReport, read_articles
from index.models import Article
from index.parse import ParseError
from index.sitemap import read_sitemap

SECONDS = 20.0  # per file; a healthy one takes well under a second (a PDF: a child process)


@cache
def _valid(suffix: str) -> bytes:
    """A valid fixture file of each format, built once."""
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="newsqa-fuzz-"))
    writers = {
        ".pdf": lambda p: p.write_bytes(make_pdf(PDF_PAGES, {"Title": "Harbor strike"})),
        ".docx": write_docx,
        ".warc.gz": write_warc,
        ".warc": lambda p: write_warc(p, gz=False),
        ".arc.gz": write_arc,
        ".mbox": write_mbox,
        ".eml": lambda p: p.write_bytes(newsletters()[0]),
    }
    path = folder / f"valid{suffix}"
    writers[suffix](path)
    return path.read_bytes()


def _bounded_read(path: Path) -> None:
    """Read ``path`` in a thread: articles (each with a title and text) or ParseError, within SECONDS."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with contextlib.suppress(ParseError):
                for article in read_articles(path, report=FileReport()):
                    assert isinstance(article, Article) and article.title and article.body.strip()
                    assert article.published is None or len(article.published) == 10
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    started = time.perf_counter()
    thread.start()
    thread.join(SECONDS)
    assert not thread.is_alive(), f"{path.name}: still reading after {time.perf_counter() - started:.0f} s"
    if errors:
        raise errors[0]


mutations = st.lists(
    st.tuples(st.sampled_from(["set", "cut", "insert"]), st.floats(0, 1), st.binary(min_size=1, max_size=16)),
    min_size=1,
    max_size=4,
)


def _mutate(data: bytes, changes: list[tuple[str, float, bytes]]) -> bytes:
    out = bytearray(data)
    for kind, where, piece in changes:
        at = int(where * len(out))
        if kind == "set":
            out[at : at + len(piece)] = piece
        elif kind == "cut":
            del out[at:]
        else:
            out[at:at] = piece
    return bytes(out)


FAST = [".docx", ".warc.gz", ".warc", ".arc.gz", ".mbox", ".eml"]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(suffix=st.sampled_from(FAST), changes=mutations)
def test_mutated_files(tmp_path_factory, suffix: str, changes) -> None:
    path = Path(tmp_path_factory.mktemp("fuzz")) / f"f{suffix}"
    path.write_bytes(_mutate(_valid(suffix), changes))
    _bounded_read(path)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(suffix=st.sampled_from(FAST), data=st.binary(max_size=3000))
def test_random_bytes(tmp_path_factory, suffix: str, data: bytes) -> None:
    path = Path(tmp_path_factory.mktemp("fuzz")) / f"f{suffix}"
    path.write_bytes(gzip.compress(data) if suffix.endswith(".gz") and data[:1] == b"g" else data)
    _bounded_read(path)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(changes=mutations)
def test_mutated_pdfs(tmp_path_factory, changes) -> None:
    """Fewer examples: each PDF is read in a child process (about 0.1 s)."""
    path = Path(tmp_path_factory.mktemp("fuzz")) / "f.pdf"
    path.write_bytes(_mutate(_valid(".pdf"), changes))
    _bounded_read(path)


@settings(max_examples=150, deadline=None)
@given(changes=mutations)
def test_mutated_sitemaps(changes) -> None:
    valid = news_sitemap("https://isle.example", [("/a", "A", "2024-05-20"), ("/b", "B", "2024-05-21")])
    for data in (_mutate(valid, changes), gzip.compress(_mutate(valid, changes))):
        with contextlib.suppress(ParseError):
            for page in read_sitemap(data, "https://isle.example/s.xml").pages:
                assert page.entry.link and page.entry.key == page.entry.link
