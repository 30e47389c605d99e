"""The newsqa chat: a local Gradio 6 page that answers questions about the indexed articles, with sources.

Run ``newsqa serve`` (or ``python app.py``). It listens on 127.0.0.1:7860 by default (``--host`` /
``--port``, ``NEWSQA_HOST`` / ``NEWSQA_PORT``), never opens a public share link, asks for a login when
``NEWSQA_AUTH`` / ``NEWSQA_AUTH_FILE`` is set, and on an empty data folder first ingests the small sample
corpus in ``data/sample`` so there is something to ask about.

- **Chat** tab: filters (dates, outlets, "as of", passages) above the chat; answers stream in, Stop
  cancels, Clear starts over, follow-ups are rewritten into standalone questions. The Sources panel beside
  the chat shows one card per citation of the selected answer (click an answer to select it; the ``[n]``
  markers bring their card into view), or, when the answer abstains, what was searched and the closest
  articles. Every browser session has its own conversation.
- **Library** tab: corpus figures and a chart, uploads (every format ``newsqa ingest`` reads, checked
  against ``NEWSQA_UPLOAD_MAX_MB``) ingested with a progress bar and a per-file result, and a searchable
  table of the articles with delete.
- **Settings** tab: the LLM, the embedding model and the index size, read-only.

The local model answers one question at a time (the generation event's concurrency limit is 1, and the
others see their place in the queue); library reads bypass the queue. Everything that comes from the
articles or the users is escaped (:mod:`qa.ui.safe`): it shows as text, never as HTML or script.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

from index.settings import Settings  # first: it sets GRADIO_ANALYTICS_ENABLED=False before gradio loads

# isort: split
import gradio as gr

from qa.answer import Engine
from qa.hosts import is_loopback
from qa.llm import LLMError
from qa.models import Answer
from qa.ui import library
from qa.ui.assets import CARDS_CSS, CITE_JS, PAGE_CSS
from qa.ui.auth import auth_pairs
from qa.ui.chat import Exchange, chat_messages, history, run_stream, selected_turn
from qa.ui.examples import example_questions
from qa.ui.filters import MAX_TOP_K, FilterError, read_options
from qa.ui.info import settings_markdown
from qa.ui.safe import escape_md
from qa.ui.sources import SOURCES_EMPTY, SOURCES_SEARCHING, SOURCES_WRITING

log = logging.getLogger(__name__)

SAMPLE_DIR = Path(__file__).parent / "data" / "sample"
RESULT_HEADERS = ["File", "Result", "Details"]


def corpus_line(engine: Engine) -> str:
    """``**12** articles · **3** outlets · **80** chunks · 2021-12-31 – 2022-01-05`` for the page header."""
    return library.figures_markdown(engine.catalog.stats(), engine.store.count())


def library_figures(engine: Engine) -> str:
    """The Library tab's table of corpus figures."""
    return library.figures_table(engine.catalog.stats(), engine.store.count())


def controls(busy: bool, text: str | None = None) -> tuple[Any, Any, Any]:
    """Updates for the question box, Send and Stop: locked with Stop offered while a question is waiting or
    being answered, free otherwise; ``text`` also sets the box's contents."""
    box = gr.Textbox(interactive=not busy) if text is None else gr.Textbox(value=text, interactive=not busy)
    return box, gr.Button(interactive=not busy), gr.Button(interactive=busy)


def build_app(engine: Engine) -> gr.Blocks:
    """The newsqa page for ``engine``: the Chat, Library and Settings tabs (see the module docstring)."""
    settings = engine.settings
    # the Library tab writes through the engine's corpus (one write lock for the data folder)
    librarian = engine.ingestor()

    # --- chat -------------------------------------------------------------------------------------------
    def take_question(message: str) -> tuple[Any, ...]:
        """At once, before the queue: move the question out of the box (so it cannot be sent twice while it
        waits for its turn) and offer Stop; ``respond`` then answers it from the ``asked`` state."""
        question = (message or "").strip()
        if not question:
            return "", gr.skip(), gr.skip(), gr.skip()
        return question, *controls(busy=True, text="")

    def respond(
        question: str, conversation: list[Exchange] | None, since: Any, until: Any, outlets: Any,
        as_of: Any, top_k: Any,
    ) -> Iterator[tuple[Any, ...]]:  # fmt: skip
        """Stream one answer: (chatbot, sources, box, send, stop, conversation, shown turn) per update."""
        if not question:
            yield (gr.skip(),) * 7
            return
        try:
            options = read_options(since, until, outlets, as_of, top_k)
        except FilterError as exc:  # give the question back, to send again with other filters
            gr.Warning(str(exc), title="Check the filters")
            yield gr.skip(), gr.skip(), *controls(busy=False, text=question), gr.skip(), gr.skip()
            return
        conversation = list(conversation or [])
        past = history(conversation)
        turn = len(conversation)
        exchange = Exchange(question, options.describe(settings.top_k))
        conversation.append(exchange)
        yield chat_messages(conversation), SOURCES_SEARCHING, *(gr.skip(),) * 3, conversation, turn

        answer: Answer | None = None
        error = "stopped before the answer was finished"
        stream = engine.stream(question, history=past or None, **options.stream_kwargs())
        try:
            for item in run_stream(stream, lambda: exchange.stop_requested):
                if isinstance(item, Answer):
                    answer = item
                    break
                first = not exchange.text
                exchange.text += item
                panel = SOURCES_WRITING if first else gr.skip()
                yield (
                    chat_messages(conversation),
                    panel,
                    gr.skip(),
                    gr.skip(),
                    gr.skip(),
                    conversation,
                    gr.skip(),
                )
        except LLMError as exc:
            error = f"the language model failed: {exc}"
        except Exception as exc:  # keep the page alive; the traceback goes to the server log
            log.exception("answering %r failed", question)
            error = f"something went wrong while answering: {type(exc).__name__}: {exc}"
        finally:
            if answer is None:  # stopped, failed, or this generator was abandoned: stop the model too
                exchange.stop_requested = True

        if answer is None:
            exchange.interrupt(error)
        else:
            exchange.finish(answer, turn)
        yield chat_messages(conversation), exchange.panel, *controls(busy=False), conversation, turn

    def stop(conversation: list[Exchange] | None, waiting: str) -> tuple[Any, ...]:
        """Stop the answer being written: mark it stopped (its stream closes) and free the question box; a
        question still waiting in the queue is taken back and put in the box again."""
        conversation = list(conversation or [])
        if conversation and not conversation[-1].finished and not conversation[-1].note:
            last = conversation[-1]
            last.stop_requested = True
            last.interrupt("stopped before the answer was finished")
            turn = len(conversation) - 1
            return chat_messages(conversation), last.panel, *controls(busy=False), conversation, turn
        return gr.skip(), gr.skip(), *controls(busy=False, text=waiting), gr.skip(), gr.skip()

    def clear(conversation: list[Exchange] | None) -> tuple[Any, ...]:
        """Forget the conversation (stopping an answer being written)."""
        for exchange in conversation or []:
            exchange.stop_requested = True
        return [], SOURCES_EMPTY, *controls(busy=False, text=""), [], None

    def select_answer(
        conversation: list[Exchange] | None, shown: int | None, event: gr.SelectData
    ) -> tuple[Any, Any]:
        """Show the sources of the answer the user clicked in the chat."""
        turn = selected_turn(event.index, conversation or [])
        if turn is None or turn == shown or not (conversation or [])[turn].panel:
            return gr.skip(), gr.skip()
        return conversation[turn].panel, turn

    # --- library ----------------------------------------------------------------------------------------
    def outlet_choices(current: Any = None) -> Any:
        names = engine.catalog.stats().outlets
        kept = [o for o in (current or []) if o in names]
        return gr.Dropdown(choices=names, value=kept)

    def examples_update() -> Any:
        return gr.Dataset(samples=[[q] for q in example_questions(engine.catalog.rows())])

    def table_update(query: str = "") -> tuple[Any, str]:
        rows, matched = library.article_rows(engine.catalog.rows(), query)
        total = engine.catalog.stats().articles
        shown = f"{len(rows)} of {matched} matching" if query and query.strip() else f"{len(rows)} of {total}"
        return rows, f"Articles: {shown} (newest first). Select a row to delete it."

    def refresh(query: str, outlets: Any) -> tuple[Any, ...]:
        """Everything that follows the corpus: header, figures, chart, table, outlets, examples, settings."""
        rows, caption = table_update(query)
        chart = library.corpus_chart(engine.catalog.rows())
        return (corpus_line(engine), library_figures(engine), chart, rows, caption, outlet_choices(outlets),
                examples_update(), settings_markdown(engine))  # fmt: skip

    def on_load(query: str, current: Any) -> tuple[Any, ...]:
        """A new page: the current table, outlets and example questions (the index may have changed)."""
        return (*table_update(query), outlet_choices(current), examples_update())

    def ingest_files(
        files: list[str] | None,
        progress: gr.Progress = gr.Progress(track_tqdm=True),  # noqa: B008 - how gradio finds the tracker
    ) -> tuple[Any, ...]:
        """Check, copy and ingest the uploaded files; per-file results and a summary line."""
        if not files:
            return gr.skip(), "Choose one or more files first.", gr.skip()
        progress(0, desc="Reading the files…")
        results, report = library.ingest_uploads(librarian, files, progress=True)
        progress(1.0, desc="Done")
        summary = report.summary().splitlines()[0] if report else "Nothing was ingested."
        return [r.row() for r in results], f"**Upload finished**: {escape_md(summary)}", None

    def pick_article(event: gr.SelectData) -> tuple[Any, ...]:
        """Remember the article selected in the table, for Delete."""
        row = event.row_value or []
        if len(row) < 4 or not row[3]:
            return "", "No article selected.", gr.Button(interactive=False)
        title, outlet, day, article_id = row[:4]
        label = f"Selected: **{escape_md(title)}** — {escape_md(outlet) or 'unknown outlet'}, {escape_md(day) or 'undated'}"
        return article_id, label, gr.Button(interactive=True)

    def delete_selected(article_id: str) -> tuple[Any, ...]:
        """Delete the selected article (the browser asked for confirmation first)."""
        if not article_id:
            return gr.skip(), "No article deleted.", gr.skip()
        message = library.delete_article(librarian, article_id)
        return "", escape_md(message), gr.Button(interactive=False)

    # --- layout -----------------------------------------------------------------------------------------
    with gr.Blocks(title="newsqa — ask the news") as demo:
        gr.Markdown("# newsqa — ask the news")
        header = gr.Markdown(lambda: corpus_line(engine), elem_id="corpus")
        conversation = gr.State([])  # per browser session: this user's exchanges
        shown = gr.State(None)  # the exchange whose sources the panel shows
        asked = gr.State("")  # the question taken from the box, waiting for its turn to be answered
        with gr.Tabs():
            with gr.Tab("Chat", id="chat-tab"):
                with gr.Row(elem_id="filters", equal_height=True):
                    since = gr.DateTime(label="Since", include_time=False, type="string", elem_id="f-since")
                    until = gr.DateTime(label="Until", include_time=False, type="string", elem_id="f-until")
                    outlets = gr.Dropdown(
                        label="Outlets",
                        choices=engine.catalog.stats().outlets,
                        multiselect=True,
                        elem_id="f-outlets",
                        scale=2,
                    )
                    as_of = gr.DateTime(
                        lambda: date.today().isoformat(),
                        label="As of",
                        include_time=False,
                        type="string",
                        elem_id="f-asof",
                    )
                    top_k = gr.Slider(
                        1, MAX_TOP_K, value=settings.top_k, step=1, label="Passages", elem_id="f-topk"
                    )
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3):
                        chatbot = gr.Chatbot(
                            label="Chat",
                            elem_id="chat",
                            height=520,
                            sanitize_html=True,
                            allow_tags=False,
                            feedback_options=None,
                            latex_delimiters=[],
                            buttons=["copy", "copy_all"],  # no "share" (it posts to Hugging Face)
                            placeholder="Answers cite the articles they come from, like [1]. "
                            "Click an answer to see its sources.",
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
                            send = gr.Button("Send", variant="primary", scale=0, min_width=80, elem_id="send")
                            stop_btn = gr.Button(
                                "Stop",
                                variant="stop",
                                scale=1,
                                min_width=70,
                                interactive=False,
                                elem_id="stop",
                            )
                            clear_btn = gr.Button("Clear", scale=0, min_width=80, elem_id="clear")
                        examples = gr.Dataset(
                            label="Try asking (recent headlines)",
                            components=["textbox"],
                            samples=[[q] for q in example_questions(engine.catalog.rows())],
                            elem_id="examples",
                        )
                    with gr.Column(scale=2, min_width=320):
                        sources = gr.HTML(
                            SOURCES_EMPTY,
                            elem_id="sources",
                            css_template=CARDS_CSS,
                            js_on_load=CITE_JS,
                            max_height=640,
                            padding=True,
                            container=True,
                        )
            with gr.Tab("Library", id="library-tab"):
                figures = gr.Markdown(lambda: library_figures(engine), elem_id="figures")
                chart = gr.Plot(
                    lambda: library.corpus_chart(engine.catalog.rows()), show_label=False, elem_id="chart"
                )
                with gr.Row(equal_height=False):
                    with gr.Column(scale=2):
                        uploads = gr.File(
                            label=f"Add articles ({' '.join(library.accepted_types())}; at most "
                            f"{settings.upload_max_mb:g} MB per file)",
                            file_count="multiple",
                            file_types=library.accepted_types(),
                            type="filepath",
                            elem_id="upload",
                        )
                        ingest_btn = gr.Button("Add to the index", variant="primary", elem_id="ingest")
                        upload_status = gr.Markdown(
                            "A file with the name of an earlier upload replaces it.", elem_id="upload-status"
                        )
                    with gr.Column(scale=3):
                        results = gr.Dataframe(
                            headers=RESULT_HEADERS,
                            value=[],
                            label="Upload results",
                            interactive=False,
                            wrap=True,
                            elem_id="upload-results",
                        )
                with gr.Row(equal_height=True):
                    search = gr.Textbox(
                        placeholder="Search titles, outlets, dates…",
                        show_label=False,
                        scale=4,
                        elem_id="search",
                    )
                    delete_btn = gr.Button(
                        "Delete selected article",
                        variant="stop",
                        interactive=False,
                        scale=1,
                        elem_id="delete",
                    )
                selected_label = gr.Markdown("No article selected.", elem_id="selected")
                selected_id = gr.Textbox(visible=False)
                table_caption = gr.Markdown(elem_id="table-caption")
                table = gr.Dataframe(
                    headers=library.TABLE_HEADERS,
                    value=[],
                    interactive=False,
                    wrap=True,
                    max_height=480,
                    column_widths=["55%", "20%", "12%", "13%"],
                    elem_id="articles",
                )
            with gr.Tab("Settings", id="settings-tab"):
                settings_view = gr.Markdown(lambda: settings_markdown(engine), elem_id="settings")

        # --- events -------------------------------------------------------------------------------------
        chat_outputs = [chatbot, sources, box, send, stop_btn, conversation, shown]
        answering = gr.on(
            triggers=[box.submit, send.click],
            fn=take_question,
            inputs=[box],
            outputs=[asked, box, send, stop_btn],
            api_visibility="private",
            queue=False,
            show_progress="hidden",
        ).then(
            respond,
            inputs=[asked, conversation, since, until, outlets, as_of, top_k],
            outputs=chat_outputs,
            api_visibility="private",
            show_progress="full",
            show_progress_on=[sources],  # the queue position and timer show on the Sources panel
            concurrency_id="llm",  # the model answers one question at a time, whichever way it was sent
            concurrency_limit=1,
            # a question sent while a stopped answer is still being cancelled is taken (the default, "once",
            # silently dropped a question asked within ~0.5 s of Stop); the queue still runs them in turn
            trigger_mode="multiple",
        )
        stop_btn.click(
            stop,
            [conversation, asked],
            chat_outputs,
            cancels=[answering],
            api_visibility="private",
            queue=False,
        )
        clear_btn.click(
            clear, [conversation], chat_outputs, cancels=[answering], api_visibility="private", queue=False
        )
        # the chatbot's own trash icon empties only the chat; forget the conversation and sources with it
        chatbot.clear(
            clear, [conversation], chat_outputs, cancels=[answering], api_visibility="private", queue=False
        )
        chatbot.select(
            select_answer, [conversation, shown], [sources, shown], api_visibility="private", queue=False
        )
        examples.click(lambda sample: sample[0], [examples], [box], api_visibility="private", queue=False)

        corpus_outputs = [header, figures, chart, table, table_caption, outlets, examples, settings_view]
        demo.load(on_load, [search, outlets], [table, table_caption, outlets, examples], api_visibility="private",
                  queue=False)  # fmt: skip
        search.change(table_update, [search], [table, table_caption], api_visibility="private", queue=False,
                      show_progress="hidden")  # fmt: skip
        table.select(
            pick_article,
            None,
            [selected_id, selected_label, delete_btn],
            api_visibility="private",
            queue=False,
        )
        ingest_btn.click(
            ingest_files,
            [uploads],
            [results, upload_status, uploads],
            api_visibility="private",
            concurrency_id="library",  # one change to the index at a time
            concurrency_limit=1,
            show_progress="full",
            show_progress_on=[results],
        ).then(refresh, [search, outlets], corpus_outputs, api_visibility="private", queue=False)
        delete_btn.click(
            delete_selected,
            [selected_id],
            [selected_id, selected_label, delete_btn],
            js="(id) => (id && window.confirm('Delete this article from the index?')) ? id : ''",
            api_visibility="private",
            concurrency_id="library",
            concurrency_limit=1,
        ).then(refresh, [search, outlets], corpus_outputs, api_visibility="private", queue=False)
    return demo


def _warm_up(engine: Engine) -> None:
    """Load the models in the background while the page starts; a failure shows on the first question."""
    try:
        engine.warm_up()
    except Exception as exc:  # noqa: BLE001 - reported again, with its fix, when a question is asked
        log.warning("could not start the LLM yet: %s", exc)


def launch_options(settings: Settings, host: str | None = None, port: int | None = None) -> dict[str, Any]:
    """Keyword arguments for ``Blocks.launch``: address (127.0.0.1:7860 unless told), optional login,
    upload size limit, page CSS; never a public share link."""
    auth = auth_pairs(settings)
    server_name = host or settings.host
    if auth is None and not is_loopback(server_name):
        log.warning(
            "serving on %s without a login: anyone who can reach it can ask and change the index "
            "(set NEWSQA_AUTH=user:password or NEWSQA_AUTH_FILE)",
            server_name,
        )
    return {
        "server_name": server_name,
        "server_port": port or settings.port,
        "share": False,
        "auth": auth,
        "auth_message": "newsqa: sign in with the user and password you were given." if auth else None,
        "max_file_size": int(settings.upload_max_mb * 1024 * 1024),
        "css": PAGE_CSS,
        "footer_links": ["gradio", "settings"],  # gradio 6 has no show_api; this hides the API link instead
        "run_history": False,  # do not keep the questions asked in the browser's run history
    }


def main(host: str | None = None, port: int | None = None, settings: Settings | None = None) -> None:
    """Open the index of ``settings`` (default: from the environment; ingesting the sample corpus if it is
    empty) and serve the page on 127.0.0.1."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:  # libraries that set their own loggers to DEBUG (bm25s)
        handler.setLevel(logging.WARNING)
    settings = settings or Settings()
    options = launch_options(settings, host, port)  # a bad login setting fails here, before any loading
    engine = Engine(settings)
    if engine.catalog.stats().articles == 0:
        print(f"newsqa: the index in {settings.data_dir} is empty; ingesting the sample corpus {SAMPLE_DIR}")
        report = engine.ingestor().ingest([SAMPLE_DIR], progress=False)
        print(report.summary())
    threading.Thread(target=_warm_up, args=(engine,), daemon=True, name="warm-up").start()
    demo = build_app(engine)
    demo.queue(default_concurrency_limit=1)
    demo.launch(**options)


if __name__ == "__main__":
    main()
