"""The newsqa chat: a local Gradio 6 page that answers questions about the indexed articles, with sources.

Run ``python app.py`` (or ``newsqa`` tooling that calls ``app.main()``). It listens on 127.0.0.1:7860 by
default (``NEWSQA_HOST`` / ``NEWSQA_PORT``), never opens a public share link, and on an empty data folder
first ingests the small sample corpus in ``data/sample`` so there is something to ask about.

Answers stream into the chat as the model writes them; when the answer is finished its cleaned text
replaces the stream and the "Sources" panel lists each cited article with the quote that supports it.
Everything that comes from the articles (titles, outlets, quotes) is escaped so it shows as text, never as
HTML or Markdown.
"""

from __future__ import annotations

import html
import logging
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from index.settings import Settings  # first: it sets GRADIO_ANALYTICS_ENABLED=False before gradio loads

# isort: split
import gradio as gr

from qa.answer import Engine
from qa.llm import LLMError
from qa.models import Answer, Passage

log = logging.getLogger(__name__)

SAMPLE_DIR = Path(__file__).parent / "data" / "sample"

Turn = tuple[str, str]  # (question, answer text) of one finished exchange
Message = dict[str, str]  # a gradio 6 Chatbot message: {"role": "user" | "assistant", "content": "..."}

_SOURCES_EMPTY = "### Sources\n\n_Ask a question: the articles an answer cites will be listed here._"
_SOURCES_SEARCHING = "### Sources\n\n_Searching the articles…_"
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~$])")


def escape_md(text: str | None) -> str:
    """``text`` as literal inline Markdown: HTML escaped, Markdown specials backslashed, one line."""
    text = " ".join((text or "").split())
    return _MD_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))


def escape_chat(text: str) -> str:
    """Chat text shown as written: HTML escaped (``[n]`` markers and Markdown emphasis are kept)."""
    return html.escape(text, quote=False)


def corpus_line(engine: Engine) -> str:
    """``**12** articles · **80** chunks · 3 outlets · 2021-12-31 – 2022-01-05`` for the page header."""
    stats = engine.catalog.stats()
    if not stats.articles:
        return "_The index is empty: ingest some articles with `newsqa ingest PATH`._"
    parts = [f"**{stats.articles}** articles", f"**{stats.chunks}** chunks"]
    if stats.outlets:
        parts.append(f"{len(stats.outlets)} outlet{'s' if len(stats.outlets) != 1 else ''}")
    if stats.first_date and stats.last_date:
        first, last = escape_md(stats.first_date[:10]), escape_md(stats.last_date[:10])
        parts.append(first if first == last else f"{first} – {last}")
    return " · ".join(parts)


def _seconds(ms: float | None) -> str:
    return "–" if ms is None else f"{ms / 1000:.1f} s"


def timings_line(answer: Answer) -> str:
    """``retrieval 0.1 s · first token 6.1 s · total 8.0 s · model X``, in small print."""
    t = answer.timings
    parts = [f"retrieval {_seconds(t.retrieve_ms)}"]
    if not answer.abstained:
        parts.append(f"first token {_seconds(t.first_token_ms)}")
    parts.append(f"total {_seconds(t.total_ms)}")
    if answer.model:
        parts.append(f"model {escape_md(answer.model)}")
    return f"<small>{' · '.join(parts)}</small>"


def _source_link(url: str) -> str:
    """`` · [link](<url>)`` for a plain http(s) URL, else nothing (no javascript: or odd characters)."""
    url = (url or "").strip()
    if not re.fullmatch(r"https?://[^\s<>\"'\\]+", url):
        return ""
    return f" · [link](<{url}>)"


def _closest(passages: list[Passage]) -> list[str]:
    """One line per distinct article among the passages, best first."""
    seen: set[str] = set()
    lines = []
    for p in passages:
        key = p.article_id or p.title
        if key in seen:
            continue
        seen.add(key)
        lines.append(
            f"- {escape_md(p.title) or '_untitled_'} — {escape_md(p.outlet) or 'unknown outlet'}, "
            f"{escape_md(p.date) or 'undated'}"
        )
    return lines


def sources_markdown(answer: Answer) -> str:
    """The Sources panel for a finished answer: the cited articles and quotes, or what was closest."""
    blocks = ["### Sources"]
    if answer.abstained:
        blocks.append("The articles do not cover this question.")
        closest = _closest(answer.passages)
        if closest:
            blocks.append("Closest passages found:\n\n" + "\n".join(closest))
        else:
            blocks.append("_No passages were found at all: is the index empty?_")
    elif not answer.citations:
        blocks.append("_The answer cites no passage; treat it with care._")
    else:
        for c in answer.citations:
            head = (
                f"**\\[{c.n}\\] {escape_md(c.title) or 'untitled'}** — "
                f"{escape_md(c.outlet) or 'unknown outlet'}, {escape_md(c.date) or 'undated'}"
                f"{_source_link(c.url)}"
            )
            quote = escape_md(c.quote)
            blocks.append(f"{head}\n\n> {quote}" if quote else head)
    blocks.append(timings_line(answer))
    return "\n\n".join(blocks)


def _chat(turns: list[Turn]) -> list[Message]:
    """Chatbot messages for the finished turns."""
    messages: list[Message] = []
    for question, answer in turns:
        messages.append({"role": "user", "content": escape_chat(question)})
        messages.append({"role": "assistant", "content": escape_chat(answer)})
    return messages


def build_app(engine: Engine) -> gr.Blocks:
    """The chat page for ``engine``: title, corpus figures, chat, question box and the Sources panel."""

    def respond(message: str, turns: list[Turn] | None) -> Iterator[tuple[Any, ...]]:
        """Stream one answer: (chatbot, sources, textbox, send button, turns) after each piece."""
        turns = list(turns or [])
        question = (message or "").strip()
        if not question:
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        busy_box = gr.Textbox(value="", interactive=False)
        busy_btn = gr.Button(interactive=False)
        messages = _chat(turns) + [{"role": "user", "content": escape_chat(question)}]
        yield messages, _SOURCES_SEARCHING, busy_box, busy_btn, turns

        pieces: list[str] = []
        answer: Answer | None = None
        error: str | None = None
        try:
            for item in engine.stream(question, history=turns):
                if isinstance(item, Answer):
                    answer = item
                    break
                pieces.append(item)
                shown = [*messages, {"role": "assistant", "content": escape_chat("".join(pieces))}]
                yield shown, gr.skip(), gr.skip(), gr.skip(), gr.skip()
        except LLMError as exc:
            error = f"⚠️ The language model failed: {exc}"
        except Exception as exc:  # keep the page alive; the traceback goes to the server log
            log.exception("answering %r failed", question)
            error = f"⚠️ Something went wrong while answering: {type(exc).__name__}: {exc}"

        idle_box = gr.Textbox(interactive=True)
        idle_btn = gr.Button(interactive=True)
        if answer is None:
            partial = "".join(pieces).strip()
            reply = f"{partial}\n\n{error}" if partial and error else error or partial or "⚠️ No answer."
            messages.append({"role": "assistant", "content": escape_chat(reply)})
            sources = "### Sources\n\n_No sources: the answer did not finish._"
            yield messages, sources, idle_box, idle_btn, turns
            return
        turns.append((question, answer.text))
        messages.append({"role": "assistant", "content": escape_chat(answer.text)})
        yield messages, sources_markdown(answer), idle_box, idle_btn, turns

    def clear() -> tuple[Any, ...]:
        return [], _SOURCES_EMPTY, gr.Textbox(value="", interactive=True), gr.Button(interactive=True), []

    with gr.Blocks(title="newsqa — ask the news") as demo:
        gr.Markdown("# newsqa — ask the news")
        gr.Markdown(lambda: corpus_line(engine), elem_id="corpus")
        turns = gr.State([])  # per browser session: finished (question, answer) pairs
        chatbot = gr.Chatbot(
            label="Chat",
            elem_id="chat",
            height=460,
            sanitize_html=True,
            allow_tags=False,
            feedback_options=None,
            latex_delimiters=[],
            buttons=["copy", "copy_all"],  # no "share" (it posts to Hugging Face)
            placeholder="Answers cite the articles they come from, like [1].",
        )
        with gr.Row():
            box = gr.Textbox(
                placeholder="Ask about the articles…",
                show_label=False,
                lines=1,
                max_lines=4,
                autofocus=True,
                scale=8,
                elem_id="question",
            )
            send = gr.Button("Send", variant="primary", scale=1, min_width=80, elem_id="send")
            clear_btn = gr.Button("Clear", scale=1, min_width=80, elem_id="clear")
        sources = gr.Markdown(_SOURCES_EMPTY, elem_id="sources", latex_delimiters=[])

        outputs = [chatbot, sources, box, send, turns]
        answering = gr.on(
            triggers=[box.submit, send.click],
            fn=respond,
            inputs=[box, turns],
            outputs=outputs,
            api_visibility="private",
            show_progress="minimal",
            concurrency_id="llm",  # one question at a time, whichever way it was sent
        )
        clear_btn.click(clear, None, outputs, cancels=[answering], api_visibility="private", queue=False)
        # the chatbot's own trash icon empties only the chat; forget the turns and sources with it
        chatbot.clear(clear, None, outputs, cancels=[answering], api_visibility="private", queue=False)
    return demo


def _warm_up(engine: Engine) -> None:
    """Load the models in the background while the page starts; a failure shows on the first question."""
    try:
        engine.warm_up()
    except Exception as exc:  # noqa: BLE001 - reported again, with its fix, when a question is asked
        logging.getLogger(__name__).warning("could not start the LLM yet: %s", exc)


def main(host: str | None = None, port: int | None = None) -> None:
    """Open the index (ingesting the sample corpus if it is empty) and serve the chat on 127.0.0.1."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    settings = Settings()
    engine = Engine(settings)
    if engine.catalog.stats().articles == 0:
        print(f"newsqa: the index in {settings.data_dir} is empty; ingesting the sample corpus {SAMPLE_DIR}")
        report = engine.ingestor().ingest([SAMPLE_DIR], progress=False)
        print(report.summary())
    threading.Thread(target=_warm_up, args=(engine,), daemon=True, name="warm-up").start()
    demo = build_app(engine)
    demo.queue(default_concurrency_limit=1)  # the local model answers one question at a time
    demo.launch(
        server_name=host or settings.host,
        server_port=port or settings.port,
        share=False,
        footer_links=["gradio", "settings"],  # gradio 6 has no show_api; this hides the API link instead
        run_history=False,  # do not keep the questions asked in the browser's run history
    )


if __name__ == "__main__":
    main()
