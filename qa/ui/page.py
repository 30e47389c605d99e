"""The newsqa chat page: a local Gradio 6 page that answers questions about the indexed articles, with sources.

Run ``newsqa serve`` (or ``python app.py``). It listens on 127.0.0.1:7860 by default (``--host`` /
``--port``, ``NEWSQA_HOST`` / ``NEWSQA_PORT``), never opens a public share link, asks for a login when
``NEWSQA_AUTH`` / ``NEWSQA_AUTH_FILE`` is set, and on an empty data folder first ingests the small sample
corpus in ``data/sample`` so there is something to ask about.

- **Chat** tab: filters (dates, outlets, "as of", passages) above the chat; answers stream in, Stop
  cancels, Clear starts over, follow-ups are rewritten into standalone questions. The Sources panel beside
  the chat shows one card per citation of the selected answer (click an answer to select it; the ``[n]``
  markers bring their card into view), or, when the answer abstains, what was searched and the closest
  articles. Every browser session has its own conversation; each is saved per user after every answer and
  listed in the Conversations sidebar, which reopens it with its sources; each answer takes a thumbs up /
  down and an optional note (:mod:`qa.ui.saved_chats`). A question about how a story developed
  ("How did the story develop?", "timeline of …", "… day by day") is answered with the story's timeline.
- **Timeline** tab: a story's articles in date order, grouped by day, syndicated copies folded into one
  entry with every outlet that carried it; optionally one cited sentence per day from the LLM.
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
from pathlib import Path
from typing import Any

import gradio as gr

from index.settings import Settings
from qa.answer import Engine
from qa.conversations import ConversationStore
from qa.hosts import is_loopback
from qa.ui import chat_tab, library_tab, saved_chats, settings_tab, timeline_tab
from qa.ui.assets import PAGE_CSS
from qa.ui.auth import auth_pairs

log = logging.getLogger(__name__)

SAMPLE_DIR = Path(__file__).resolve().parents[2] / "data" / "sample"


def build_app(engine: Engine) -> gr.Blocks:
    """The newsqa page for ``engine``: the Chat, Timeline, Library and Settings tabs (see the module
    docstring), each laid out and wired by its module in :mod:`qa.ui`."""
    library = library_tab.LibraryHandlers(engine)
    saved = saved_chats.SavedChats(ConversationStore.in_folder(engine.settings.data_dir))
    with gr.Blocks(title="newsqa — ask the news") as demo:
        side = saved_chats.sidebar()
        gr.Markdown("# newsqa — ask the news")
        header = gr.Markdown(library.header, elem_id="corpus")
        session = chat_tab.session_state()
        with gr.Tabs():
            chat = chat_tab.layout(engine)
            story = timeline_tab.layout(engine)
            shelf = library_tab.layout(library, engine.settings)
            settings_view = settings_tab.layout(settings_tab.SettingsHandlers(engine))
        chat_tab.wire(chat, session, chat_tab.ChatHandlers(engine), saved, side)
        demo.load(saved.listing, outputs=[side.listing], api_visibility="private", queue=False)
        timeline_tab.wire(story, timeline_tab.TimelineHandlers(engine), library.outlet_choices)
        library_tab.wire(
            demo,
            shelf,
            library,
            header=header,
            outlets=chat.outlets,
            examples=chat.examples,
            settings_view=settings_view,
        )
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


def main(
    host: str | None = None, port: int | None = None, settings: Settings | None = None, with_api: bool = False
) -> None:
    """Open the index of ``settings`` (default: from the environment; ingesting the sample corpus if it is
    empty) and serve the page on 127.0.0.1; ``with_api`` also serves the HTTP API under ``/api``."""
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
    if with_api:
        serve_with_api(demo, engine, options)
    else:
        demo.launch(**options)


def serve_with_api(demo: gr.Blocks, engine: Engine, options: dict[str, Any]) -> None:
    """Serve the page at ``/`` and the HTTP API (:mod:`qa.api`, its own credentials check) at ``/api``,
    from one uvicorn server. The API's answers and the chat's take turns at the one local model."""
    import uvicorn
    from fastapi import FastAPI

    from qa.api.app import create_app

    root = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    root.mount("/api", create_app(engine))
    launch = {k: v for k, v in options.items() if k != "share"}
    app = gr.mount_gradio_app(root, demo, path="", **launch)
    host, port = options["server_name"], options["server_port"]
    shown = f"[{host}]" if ":" in host else host
    print(f"* Running on local URL:  http://{shown}:{port}  (API: http://{shown}:{port}/api/v1, /api/docs)")
    uvicorn.run(app, host=host, port=port, log_level="warning")
