"""Prompt tokens per part, current vs compact passage headers, and what llama.cpp's prompt cache saves.

Run alone from the repository root (the local model reads prompts at ~50-80 tokens/s on two cores, so
every per-question prompt token delays the first answer word):

    PYTHONPATH=. .venv/bin/python benchmarks/prompt_tokens.py [--data-dir /path/to/index] \
        [--question "..." --as-of 2022-01-05 --second-question "..."]

Without ``--data-dir`` the sample articles (``data/sample/``) are ingested into a temporary folder. The
prompt is built as ``Engine._generate`` builds it (retrieve, ``condense`` into the budget,
``build_messages``), counted with the llama.cpp server's own tokenizer (``POST /tokenize``), once with the
current ``[k] title (outlet, date)`` headers and once with compact ``[k] Outlet, date — title`` headers
(``compact_format_passages``, kept here only: the title only when it adds words the text lacks, once per
article). Then the question is sent twice, a second question once, and both again in the compact format,
to ``/v1/chat/completions`` (temperature 0, 8 tokens); llama.cpp's ``timings`` show how many prompt tokens
it evaluated (``prompt_n``) and how many it took from its cache (``cache_n``).
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from unittest import mock

from index.settings import Settings, use_offline_environment

use_offline_environment()  # before the model and store libraries load

from qa.cite import content_words  # noqa: E402
from qa.models import Passage  # noqa: E402

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample"
Formatter = Callable[[list[Passage]], str]


def _words(text: str) -> set[str]:
    """Content words with a crude stem ("protested" matches "protest")."""
    words = set()
    for word in content_words(text):
        for suffix in ("ing", "ed", "es", "s"):
            if word.endswith(suffix) and len(word) - len(suffix) >= 3:
                word = word[: -len(suffix)]
                break
        words.add(word)
    return words


def title_adds_words(title: str | None, text: str | None) -> bool:
    """Whether at least half of the title's content words are missing from the passage text."""
    words = _words(title or "")
    return bool(words) and 2 * len(words - _words(text or "")) >= len(words)


def compact_format_passages(passages: list[Passage]) -> str:
    """The compact layout tried for issue 12: ``[k] Outlet, date``, ``— title`` only when the title adds
    words and only for an article's first passage, then the text between ``<<<`` and ``>>>``. Not adopted:
    it saved no tokens on the sample corpus and the 1.5B model then missed the weapons follow-up."""
    from qa.prompt import _one_line, inert

    shown: set[str] = set()
    parts = []
    for p in passages:
        header = f"[{p.n}] {_one_line(p.outlet, 'unknown outlet')}, {_one_line(p.date, 'undated')}"
        if p.article_id not in shown and title_adds_words(p.title, p.text):
            header += f" \u2014 {_one_line(p.title, '')}"
        shown.add(p.article_id)
        parts.append(f"{header}\n<<<\n{inert(p.text).strip()}\n>>>")
    return "\n\n".join(parts)


class LlamaServer:
    """The few llama.cpp server endpoints used here: tokenize, apply the chat template, complete."""

    def __init__(self, base_url: str) -> None:
        import httpx

        self.root = base_url.rstrip("/").removesuffix("/v1")
        self._http = httpx.Client(timeout=600.0)

    def count(self, text: str) -> int:
        """Tokens of ``text`` by the model's own tokenizer (no special tokens added)."""
        reply = self._http.post(f"{self.root}/tokenize", json={"content": text, "add_special": False})
        reply.raise_for_status()
        return len(reply.json()["tokens"])

    def prompt_tokens(self, messages: list[dict[str, str]]) -> int | None:
        """Tokens of the whole chat as the template lays it out (None if the server cannot tell)."""
        reply = self._http.post(f"{self.root}/apply-template", json={"messages": messages})
        if reply.status_code != 200:
            return None
        return self.count(reply.json()["prompt"])

    def complete(self, messages: list[dict[str, str]]) -> dict:
        """One non-streaming chat completion (temperature 0, 8 tokens, prompt cache on): the JSON reply."""
        body = {"model": "local", "messages": messages, "temperature": 0, "max_tokens": 8}
        reply = self._http.post(f"{self.root}/v1/chat/completions", json=body | {"cache_prompt": True})
        reply.raise_for_status()
        return reply.json()


@dataclass
class Prompt:
    """A built prompt and the passages shown in it."""

    messages: list[dict[str, str]]
    shown: list[Passage]


def build_prompt(engine, question: str, as_of: date, formatter: Formatter | None = None) -> Prompt:  # noqa: ANN001
    """The prompt ``Engine._generate`` would send for ``question`` (normal style), optionally with another
    passage formatter standing in for ``qa.prompt.format_passages``."""
    import qa.prompt
    from qa.context import condense

    search = engine.search_filters(question, None, as_of, None, None, None)
    passages = engine.retriever.retrieve(
        search.query, engine.settings.top_k, search.filters, mode="hybrid", boost=search.boost,
        window=search.window,
    )  # fmt: skip
    shown = condense(question, passages, engine.embedder, engine.settings.context_tokens)
    with mock.patch.object(qa.prompt, "format_passages", formatter or qa.prompt.format_passages):
        messages = qa.prompt.build_messages(question, shown, style="normal", as_of=as_of.isoformat())
    return Prompt(messages, shown)


def part_counts(server: LlamaServer, prompt: Prompt, formatter: Formatter) -> dict[str, int | None]:
    """Tokens per part of the prompt: system text, worked example turn(s), passage headers, passage texts
    (with their ``<<<`` ``>>>`` quotes), the date line, the question, the last user turn, the whole chat."""
    headers = texts = 0
    for passage in prompt.shown:
        header, _, block = formatter([passage]).partition("\n")
        headers += server.count(header)
        texts += server.count(block)
    last = prompt.messages[-1]["content"]
    tail = last[last.rindex("\n\n") + 2 :]  # "Question: …\nAnswer style: …"
    when = last[: last.index("Passages:")]  # "Today is ….\n\n", read with the passages, cached for the day
    return {
        "system text": server.count(prompt.messages[0]["content"]),
        "example turn(s)": sum(server.count(m["content"]) for m in prompt.messages[1:-1]),
        "passage headers": headers,
        "passage texts": texts,
        "date line": server.count(when) if when else 0,
        "question + style": server.count(tail),
        "last user turn (per question)": server.count(last),
        "whole chat (template applied)": server.prompt_tokens(prompt.messages),
    }


def print_parts(old: dict[str, int | None], new: dict[str, int | None]) -> None:
    """A markdown table of tokens per part, current headers vs compact."""
    print("\n| part | current headers | compact headers | saved |")
    print("|---|---:|---:|---:|")
    for part in new:
        a, b = old[part], new[part]
        saved = f"{a - b}" if a is not None and b is not None else "?"
        print(f"| {part} | {a if a is not None else '?'} | {b if b is not None else '?'} | {saved} |")


def print_calls(server: LlamaServer, calls: list[tuple[str, Prompt]]) -> None:
    """Send each prompt in turn and print llama.cpp's timings: evaluated vs cached prompt tokens."""
    print(
        "\n| call | prompt tokens | cached (cache_n) | evaluated (prompt_n) | prompt ms | tokens/s | reply |"
    )
    print("|---|---:|---:|---:|---:|---:|---|")
    for label, prompt in calls:
        reply = server.complete(prompt.messages)
        t = reply.get("timings", {})
        used = reply.get("usage", {}).get("prompt_tokens", "?")
        text = " ".join((reply["choices"][0]["message"].get("content") or "").split())
        print(
            f"| {label} | {used} | {t.get('cache_n', '?')} | {t.get('prompt_n', '?')} | "
            f"{t.get('prompt_ms', 0):.0f} | {t.get('prompt_per_second', 0):.1f} | {text[:40]} |",
            flush=True,
        )


def run(data_dir: Path | None, question: str, second: str, as_of: date) -> None:
    """Build, count and send the prompts on the index in ``data_dir`` (or on the ingested samples)."""
    from qa.answer import Engine
    from qa.prompt import format_passages

    with tempfile.TemporaryDirectory(prefix="newsqa-prompt-tokens-") as tmp:
        engine = Engine(Settings(data_dir=data_dir or Path(tmp)))
        if data_dir is None:
            report = engine.ingestor().ingest([SAMPLE], progress=False)
            print(f"ingested {SAMPLE}: {report.summary()}")
        server = LlamaServer(engine.llm.base_url)  # type: ignore[attr-defined]
        old, new = (
            build_prompt(engine, question, as_of),
            build_prompt(engine, question, as_of, compact_format_passages),
        )
        old2, new2 = (
            build_prompt(engine, second, as_of),
            build_prompt(engine, second, as_of, compact_format_passages),
        )
        print(f"\nQuestion: {question} (as of {as_of}); {len(old.shown)} passages shown")
        for passage in old.shown:
            print(f"  current: {format_passages([passage]).partition(chr(10))[0]}")
            print(f"  compact: {compact_format_passages([passage]).partition(chr(10))[0]}")
        print_parts(
            part_counts(server, old, format_passages), part_counts(server, new, compact_format_passages)
        )
        print_calls(
            server,
            [
                ("current Q1, first (cold)", old),
                ("current Q1, repeat", old),
                ("current Q2 (fixed prefix cached)", old2),
                ("compact Q1 (system cached)", new),
                ("compact Q2 (compact prefix cached)", new2),
            ],
        )
        print(f"\nQ2: {second}")


def main() -> None:
    """Parse the arguments and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=None, help="an index (default: ingest data/sample)")
    parser.add_argument("--question", default="Where will the US-Russia talks be held?")
    parser.add_argument("--second-question", default="What did Putin warn Biden about?")
    parser.add_argument("--as-of", type=date.fromisoformat, default=date(2022, 1, 5))
    args = parser.parse_args()
    run(args.data_dir, args.question, args.second_question, args.as_of)


if __name__ == "__main__":
    main()
