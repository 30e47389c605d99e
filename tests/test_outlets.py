"""Outlets named in a question, the abstention gate that reads them as metadata, the answer-kind votes
and the sentence cut (small pieces, no model)."""

from __future__ import annotations

from qa.abstain import question_names, weak_evidence
from qa.answer_type import expected_kind, holds_kind
from qa.evaluate.score import evidence_hits, lenient_match, reciprocal_rank, strip_citations
from qa.models import Passage
from qa.outlets import find_outlets, named_outlets, without_outlets
from qa.retrieve import _merge_covering

OUTLETS = {
    "TechCrunch",
    "The Verge",
    "Sporting News",
    "The Age",
    "Fortune",
    "The Independent - Life and Style",
    "The Independent - Sports",
    "Cnbc | World Business News Leader",
}


def _passage(n: int, outlet: str, text: str, score: float = 0.5, title: str = "A title") -> Passage:
    return Passage(n, f"c{n}", f"a{n}", title, outlet, "2023-11-20", "", text, score)


def test_outlets_are_found_by_full_name_section_and_without_the() -> None:
    q = "Does 'The Age' article agree with the Sporting News report and the one by The Independent?"
    mentions = find_outlets(q, OUTLETS)
    assert [m.outlets for m in mentions] == [
        ("The Age",),
        ("Sporting News",),
        ("The Independent - Life and Style", "The Independent - Sports"),
    ]
    assert without_outlets(q, mentions) == "Does article agree with report and the one by?"
    long = "as covered by The Independent - Life and Style and Cnbc | World Business News Leader"
    assert [m.outlets for m in find_outlets(long, OUTLETS)] == [
        ("The Independent - Life and Style",),
        ("Cnbc | World Business News Leader",),
    ]


def test_lowercase_words_are_not_outlets_and_repeats_count_once() -> None:
    assert find_outlets("He made a fortune on the verge of a deal", OUTLETS) == []
    q = "Did the TechCrunch article on X and the TechCrunch article on Y agree?"
    mentions = find_outlets(q, OUTLETS)
    assert len(mentions) == 2 and named_outlets(mentions) == [("TechCrunch",)]


def test_gate_reads_outlets_as_metadata_and_quoted_names_without_quotes() -> None:
    q = "What did 'The Age' and TechCrunch report about Sam Altman's departure?"
    mentions = find_outlets(q, OUTLETS)
    passages = [
        _passage(1, "The Age", "Sam Altman was ousted by the board."),
        _passage(2, "TechCrunch", "The departure shocked investors."),
    ]
    assert weak_evidence(q, passages, 0.18, mentions) is None
    # An outlet's name is metadata: before issue 24 it had to be in the text ("… mentions Age, TechCrunch").
    elsewhere = [_passage(3, "Fortune", "Sam Altman was ousted; the departure shocked investors.")]
    assert weak_evidence(q, elsewhere, 0.18, mentions) == "no retrieved passage is from The Age, TechCrunch"
    only_one = weak_evidence(q, passages[:1], 0.18, mentions)
    assert only_one == "no retrieved passage is from TechCrunch"
    # A name that is no outlet of the corpus still has to be mentioned: a question about someone unknown.
    unknown = "What did Bloomberg and The Age say about Oleg Fomenko?"
    reason = weak_evidence(unknown, passages, 0.18, find_outlets(unknown, OUTLETS))
    assert reason == "no retrieved passage mentions Bloomberg, Oleg Fomenko"
    assert question_names("Considering the Guardian piece, who won?") == ["Guardian"]


def test_covering_merge_puts_each_outlets_best_first_without_repeats() -> None:
    main = [_passage(i, "Other", f"main {i}") for i in range(1, 5)]
    verge = [_passage(11, "The Verge", "v1"), _passage(12, "The Verge", "v2")]
    crunch = [main[2], _passage(21, "TechCrunch", "t2")]  # the whole search already found TechCrunch's best
    merged = _merge_covering(main, [verge, crunch], 4, "heads")
    assert [p.chunk_id for p in merged] == ["c11", "c3", "c1", "c2"]
    assert [p.n for p in merged] == [1, 2, 3, 4]
    kept = _merge_covering(main, [verge, crunch], 4, "main")
    assert [p.chunk_id for p in kept] == ["c1", "c2", "c3", "c11"]


def test_answer_kinds() -> None:
    assert expected_kind("Who won the election?") == "name"
    assert expected_kind("Which company was sued by publishers?") == "name"
    assert expected_kind("How many people died?") == "number"
    assert expected_kind("When will the talks be held?") == "date"
    assert expected_kind("What did Putin warn Biden about?") is None
    q = "Where will the talks be held?"
    assert holds_kind("The talks will be held in Geneva.", "name", q)
    assert not holds_kind("The talks will be held soon.", "name", q)
    assert holds_kind("It rose 4.5%.", "number", "How much did it rise?")
    assert holds_kind("They meet on January 10.", "date", "When do they meet?")


def test_multihop_scorers() -> None:
    assert strip_citations("Yes [1][2].") == "Yes."
    assert lenient_match("Yes.", "Yes") and not lenient_match("The Verge", "The Age")
    texts = ["one two\nthree", "the gold  fact here", "other"]
    assert evidence_hits(texts, ["gold fact"], 2) and not evidence_hits(texts, ["gold fact"], 1)
    assert reciprocal_rank(texts, ["goldfact"]) == 0.5


def test_candidate_spans_and_grammars() -> None:
    from qa.spans import candidate_spans, choice_grammar, span_grammar

    passages = [
        _passage(1, "Wire", 'Talks open in Geneva on January 10, 2022, said Jake Sullivan of the "NSC".'),
        _passage(2, "Wire", "About 1,200 people and $4.5 million were involved over 3 days."),
    ]
    names = candidate_spans(passages, "name", "Who spoke about the talks in Geneva?")
    assert "Jake Sullivan" in names and "Geneva" not in names  # the question already says Geneva
    assert {"1,200 people", "$4.5 million", "3 days"} <= set(candidate_spans(passages, "number", "How many?"))
    assert "January 10, 2022" in candidate_spans(passages, "date", "When do talks open?")
    grammar = span_grammar(['Jake "J" Sullivan', "NSC"], 2)
    assert (
        grammar
        == 'root ::= ("Jake \\"J\\" Sullivan" | "NSC") " " ("[1]" | "[2]") | "The articles do not cover this."'
    )
    assert candidate_spans(passages, "yesno", "Did the talks open?") == ["Yes", "No"]
    assert expected_kind("Does the TechCrunch article suggest X, while The Verge says Y?") == "yesno"
    assert expected_kind("Between the two reports, was there a change?") == "yesno"
    assert expected_kind("Did the report say who won?") == "name"
    assert choice_grammar(["Paris", "Geneva"], 1) == 'root ::= ("(A) Paris" | "(B) Geneva") " " ("[1]")'


def test_an_outlets_name_is_no_time_word_nor_a_month_a_name() -> None:
    from datetime import date

    from qa.timerange import resolve_time

    q = "After the report by Business Today on October 7, 2023, did Fortune agree?"
    mentions = find_outlets(q, {"Business Today", "Fortune"})
    span = resolve_time(without_outlets(q, mentions), date(2023, 12, 25))
    assert span is not None and span.since == date(2023, 10, 7)  # not "today"
    assert question_names("Did TechCrunch, after reporting on September 28, agree?") == ["TechCrunch"]
    assert question_names("Did Apple and Apple agree?") == ["Apple"]
