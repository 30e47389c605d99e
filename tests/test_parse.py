"""Parsing the two sample layouts and the header / dateline / date variants."""

from __future__ import annotations

import pytest
from conftest import LAYOUT_A, LAYOUT_B

from index.formats import decode
from index.load import find_files
from index.parse import ParseError, normalize_date, parse_text, split_dateline


def test_layout_a_title_date_and_dateline() -> None:
    article = parse_text(LAYOUT_A.read_text(), str(LAYOUT_A))
    assert article.title == (
        "Putin warns Biden of severing relations if West imposes sanctions on Russia over Ukraine situation"
    )
    assert article.published == "2021-12-31"
    assert article.place == "Moscow [Russia]"
    assert article.body.startswith("Stressing that the call between Russian and the US President")
    assert article.body.endswith("said Ushakov.")


def test_layout_b_date_marker_and_derived_title() -> None:
    article = parse_text(LAYOUT_B.read_text(), str(LAYOUT_B))
    assert article.published == "2021-12-31"
    assert article.title == (
        "Russian President Vladimir Putin told his US counterpart Joe Biden that Moscow requires legally "
        "binding agreements …"
    )
    assert article.body.startswith("Russian President Vladimir Putin told his US counterpart")
    assert "date 2021-12-31" not in article.body


def test_ids_are_stable_and_ignore_layout_whitespace() -> None:
    a = parse_text("Title here\nJan 5, 2022\nSome body text.   More  text.")
    b = parse_text("Title here\n\nJan 5, 2022\n\nSome body text.\nMore text.\n")
    assert a.id == b.id and len(a.id) == 16
    assert a.id != parse_text("Title here\nJan 5, 2022\nOther body text.").id


def test_header_lines_give_outlet_url_and_date() -> None:
    text = (
        "Title: Storm hits coast\nSource: Valley News\nURL: https://example.org/storm\nDate: 3 March 2024\n"
        "\nWinds of 120 km/h hit the coast on Sunday."
    )
    article = parse_text(text)
    assert (article.title, article.outlet, article.url, article.published) == (
        "Storm hits coast",
        "Valley News",
        "https://example.org/storm",
        "2024-03-03",
    )
    assert article.body == "Winds of 120 km/h hit the coast on Sunday."


def test_markdown_title_and_agency_dateline() -> None:
    article = parse_text("# Rates rise\nMay 2, 2024\nWASHINGTON (AP) — The Fed raised rates on Thursday.")
    assert article.title == "Rates rise"
    assert (article.place, article.outlet) == ("WASHINGTON", "AP")
    assert article.body == "The Fed raised rates on Thursday."


@pytest.mark.parametrize(
    ("raw", "iso"),
    [
        ("Dec 31, 2021", "2021-12-31"),
        ("2021-12-31", "2021-12-31"),
        ("31 December 2021", "2021-12-31"),
        ("2026/05/08", "2026-05-08"),
        ("December 31", None),  # no year: not trusted
        ("Putin warns Biden", None),
        ("", None),
    ],
)
def test_normalize_date(raw: str, iso: str | None) -> None:
    assert normalize_date(raw) == iso


def test_no_dateline_leaves_body_alone() -> None:
    assert split_dateline("The talks went well.") == (None, None, "The talks went well.")


def test_empty_and_title_only_raise_parse_error() -> None:
    with pytest.raises(ParseError, match="empty"):
        parse_text("   \n\n")
    with pytest.raises(ParseError, match="no article text"):
        parse_text("Only a title\nJan 1, 2022\n")


def test_decode_rejects_binary_and_warns_on_non_utf8() -> None:
    with pytest.raises(ParseError, match="binary"):
        decode(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    from index.formats import FileReport

    report = FileReport()
    text = decode("Café opens\nJan 1, 2022\nThe café opened.".encode("cp1252"), report)
    assert "Café" in text and "UTF-8" in report.warnings[0]


def test_find_files_recurses_and_reports(tmp_path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "x.txt").write_text("x")
    (tmp_path / "a" / "y.md").write_text("y")
    (tmp_path / "a" / "skip.pptx").write_text("z")
    (tmp_path / "note.pptx").write_text("z")
    found = find_files([tmp_path / "a", tmp_path / "note.pptx", tmp_path / "missing.txt"])
    assert sorted(p.name for p in found.files) == ["x.txt", "y.md"]
    assert [p.name for p in found.unsupported] == ["note.pptx"]
    assert [p.name for p in found.missing] == ["missing.txt"]
