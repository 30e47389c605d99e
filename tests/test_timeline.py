"""Story timelines (``qa/timeline.py``, ``newsqa timeline``): the sample corpus's two reports under
2021-12-31; a three-day story in date order with its syndicated copies folded into one entry that names
every outlet; filters; an unknown story; per-day summaries cited by the real local model."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from conftest import story_engine_over

from qa.answer import Engine
from qa.cli import cli
from qa.timeline import build_timeline

SAMPLE_TITLES = (
    "Putin warns Biden of severing relations",
    "Russian President Vladimir Putin told his US counterpart Joe Biden",
)
OPENING = (
    "The new desalination plant in Port Avra began supplying drinking water to 200,000 residents on Monday, "
    "the regional water authority said. Engineers said output would rise in stages over the coming months, "
    "and farmers welcomed the plant after three dry years. The regional governor called it the largest water "
    "project in the region's history and promised a second plant by 2030, while environmental groups warned "
    "about the brine the plant returns to the sea and asked for an independent study of the outflow."
)
STORY = {  # file name: (title, date, outlet, body)
    "1_plan.txt": ("Port Avra approves desalination plant", "Mar 1, 2024", "Avra Herald",
                   "The Port Avra council approved a desalination plant on Friday to end years of water "
                   "shortages; the plant is to open within days and supply 200,000 residents."),
    "2_wire.txt": ("Desalination plant opens in Port Avra", "Mar 4, 2024", "Wire Service", OPENING),
    "3_copy.txt": ("Desalination plant opens in Port Avra", "Mar 4, 2024", "Copy Daily", OPENING),
    "4_near.txt": ("Port Avra desalination plant opens", "Mar 5, 2024", "Coast Times",
                   OPENING.replace("on Monday", "on Monday morning")),
    "5_brine.txt": ("Brine from Port Avra desalination plant worries fishermen", "Mar 6, 2024", "Avra Herald",
                    "Fishermen in Port Avra said on Wednesday that brine from the new desalination plant "
                    "was harming their catch, and asked the water authority to move the outflow."),
    "6_museum.txt": ("Museum reopens", "Mar 4, 2024", "Arts Weekly",
                     "The city museum reopened after a two-year renovation, drawing large crowds to its "
                     "new gallery of Roman mosaics."),
}  # fmt: skip


@pytest.fixture(scope="module")
def story_engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """An engine over a three-day story (with an exact and a near copy) and an unrelated article."""
    engine, report = story_engine_over(tmp_path_factory, STORY)
    assert len(report.added) == 4 and len(report.folded) == 2, report.summary()
    return engine


def test_the_sample_reports_share_one_day(sample_engine: Engine) -> None:
    timeline = build_timeline(sample_engine, "Putin Biden call")
    assert [day.day for day in timeline.days] == ["2021-12-31"]
    titles = [entry.passage.title for entry in timeline.days[0].entries]
    assert len(titles) == 2 and all(any(t.startswith(s) for t in titles) for s in SAMPLE_TITLES)
    assert [entry.n for entry in timeline.entries] == [1, 2]
    text = timeline.text()
    assert "2 articles over 1 day" in text and "\n2021-12-31\n" in text and "[2] " in text


def test_a_story_in_date_order_with_its_copies_folded(story_engine: Engine) -> None:
    timeline = build_timeline(story_engine, "Port Avra desalination plant")
    assert [day.day for day in timeline.days] == ["2024-03-01", "2024-03-04", "2024-03-06"]
    opening = timeline.days[1].entries
    assert [e.passage.title for e in opening] == ["Desalination plant opens in Port Avra"]
    assert opening[0].outlets() == ["Wire Service", "Copy Daily", "Coast Times"]
    assert "also reported by: Copy Daily, Coast Times (2024-03-05)" in timeline.text()
    assert "Museum" not in timeline.text()
    for entry in timeline.entries:  # the excerpt is one sentence of the article's own text
        assert entry.excerpt and entry.excerpt in entry.passage.text


def test_filters_and_an_unknown_story(story_engine: Engine) -> None:
    later = build_timeline(story_engine, "Port Avra desalination plant", since="2024-03-04")
    assert [day.day for day in later.days] == ["2024-03-04", "2024-03-06"]
    one = build_timeline(story_engine, "Port Avra desalination plant", outlets=["Avra Herald"])
    assert {e.passage.outlet for e in one.entries} == {"Avra Herald"} and len(one.entries) == 2
    assert len(build_timeline(story_engine, "Port Avra desalination plant", limit=1).entries) == 1
    unknown = build_timeline(story_engine, "Zelensky visit to Washington")
    assert unknown.days == [] and unknown.headline().startswith('No article in the index is about "Zelensky')


def test_timeline_command(sample_engine: Engine) -> None:
    data = str(sample_engine.settings.data_dir)
    result = CliRunner().invoke(cli, ["--data-dir", data, "timeline", "Putin Biden call"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith('Timeline of "Putin Biden call": 2 articles over 1 day')
    bad = CliRunner().invoke(cli, ["--data-dir", data, "timeline", "Putin", "--since", "2021-13-01"])
    assert bad.exit_code == 2 and "--since" in bad.output


@pytest.mark.slow
def test_day_summary_is_one_cited_sentence(sample_engine: Engine) -> None:
    timeline = build_timeline(sample_engine, "Putin Biden call", summarize=True)
    summary = timeline.days[0].summary
    assert summary.count(".") >= 1 and summary.rstrip(".").count(". ") == 0, summary
    assert "[1]" in summary or "[2]" in summary, summary
    assert "Biden" in summary or "Putin" in summary, summary
