"""Citation checking, abstention rules and prompt layout (small pieces, no model)."""

from __future__ import annotations

from index.sentences import split_sentences
from qa.abstain import missing_names, question_names, weak_evidence
from qa.cite import check_citations
from qa.models import Passage
from qa.prompt import NOT_COVERED, build_messages


def _passage(n: int, text: str, score: float = 0.5) -> Passage:
    return Passage(n, f"a{n}:0", f"a{n}", f"Title {n}", "Outlet", "2021-12-31", "", text, score)


PASSAGES = [
    _passage(1, "The talks will be held in Geneva. Officials met on Monday."),
    _passage(2, "Putin warned of a rupture of relations. He spoke for 50 minutes."),
]


def test_out_of_range_citations_are_removed_and_kept_ones_carry_quotes() -> None:
    text, citations = check_citations(
        "Talks are in Geneva [1][7]. Putin warned of a rupture [2, 9].", PASSAGES
    )
    assert text == "Talks are in Geneva [1]. Putin warned of a rupture [2]."
    assert [c.n for c in citations] == [1, 2]
    assert citations[0].quote == "The talks will be held in Geneva."
    assert citations[1].quote == "Putin warned of a rupture of relations."
    for c in citations:
        assert c.quote in c.passage.text


def test_answer_without_valid_markers_has_no_citations() -> None:
    text, citations = check_citations("Nothing to see [5].", PASSAGES)
    assert (text, citations) == ("Nothing to see.", [])


def test_sentence_splitter_knows_abbreviations() -> None:
    assert split_sentences("The U.S. will not deploy weapons. Mr. Biden said so.") == [
        "The U.S. will not deploy weapons.",
        "Mr. Biden said so.",
    ]
    assert split_sentences("A sub-heading\n\nThe story goes on.") == ["A sub-heading", "The story goes on."]


def test_names_in_question_must_appear_in_evidence() -> None:
    assert question_names("What did Zelensky say about the call?") == ["Zelensky"]
    assert question_names("Where will the US–Russia talks be held?") == ["US", "Russia"]
    assert question_names("What's new about Putin's plan?") == ["Putin"]  # "What's" asks, it names no one
    assert missing_names("What did Zelensky say?", PASSAGES) == ["Zelensky"]
    assert missing_names("What did Putin warn of?", PASSAGES) == []
    assert weak_evidence("What did Zelensky say?", PASSAGES, 0.18) is not None
    assert weak_evidence("What did Putin warn of?", PASSAGES, 0.18) is None
    assert "below" in weak_evidence("What did Putin warn of?", [_passage(1, "Putin", 0.05)], 0.18)


def test_prompt_starts_with_a_fixed_prefix_and_numbers_passages() -> None:
    one = build_messages("Where are the talks?", PASSAGES)
    two = build_messages("Who warned whom?", PASSAGES[:1])
    assert one[:-1] == two[:-1]  # system text and worked examples: identical, cacheable
    assert one[0]["role"] == "system" and NOT_COVERED in one[0]["content"]
    last = one[-1]["content"]
    assert "[1] Title 1 (Outlet, 2021-12-31)" in last and "[2] Title 2" in last
    assert "Question: Where are the talks?\nAnswer style: two to four" in last
    short = build_messages("Where are the talks?", PASSAGES, style="short")[-1]["content"]
    shared = last[: last.index("Answer style")]
    assert short.startswith(shared) and "as few words" in short  # same passages: one cached prefix


def test_citation_moves_to_the_passage_that_supports_the_claim() -> None:
    text, citations = check_citations(
        "Putin warned of a rupture of relations [1][2]. Talks are held in Geneva [2].",
        PASSAGES,
        "What did Putin warn about, and where are the talks?",
    )
    assert text == "Putin warned of a rupture of relations [2]. Talks are held in Geneva [1]."
    assert [c.n for c in citations] == [1, 2]


def test_citation_left_alone_when_no_passage_supports_the_claim_better() -> None:
    text, _ = check_citations("Officials met [2].", PASSAGES[:1] + [_passage(2, "Officials met briefly.")])
    assert text == "Officials met [2]."
