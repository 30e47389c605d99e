"""The Library tab: its layout (corpus figures and chart, upload, article table, delete), its handlers and
their wiring; the logic behind them is in :mod:`qa.ui.library`.

Handlers that need the engine are methods of :class:`LibraryHandlers`; the others are plain functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr
from matplotlib.figure import Figure

from index.feedlist import FeedList, FeedListError
from index.settings import Settings
from qa.answer import Engine
from qa.models import source_label
from qa.ui import library
from qa.ui.examples import example_questions
from qa.ui.info import settings_markdown
from qa.ui.safe import escape_md

RESULT_HEADERS = ["File", "Result", "Details"]


# --- handlers ---------------------------------------------------------------------------------------------
def corpus_line(engine: Engine) -> str:
    """``**12** articles · **3** outlets · **80** chunks · 2021-12-31 – 2022-01-05`` for the page header."""
    return library.figures_markdown(engine.catalog.stats(), engine.store.count())


def library_figures(engine: Engine) -> str:
    """The Library tab's table of corpus figures."""
    return library.figures_table(engine.catalog.stats(), engine.store.count())


def pick_article(event: gr.SelectData) -> tuple[Any, ...]:
    """Remember the article selected in the table, for Delete."""
    row = event.row_value or []
    if len(row) < 4 or not row[3]:
        return "", "No article selected.", gr.Button(interactive=False)
    title, outlet, day, article_id = row[:4]
    label = f"Selected: {escape_md(source_label(title, outlet, day))}"
    return article_id, label, gr.Button(interactive=True)


class LibraryHandlers:
    """The Library tab's handlers that need the engine (and everything that follows the corpus: the page
    header, the outlets filter, the example questions, the settings view)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # the Library tab writes through the engine's corpus (one write lock for the data folder)
        self.librarian = engine.ingestor()

    def header(self) -> str:
        """The page header's corpus line."""
        return corpus_line(self.engine)

    def figures(self) -> str:
        """The table of corpus figures."""
        return library_figures(self.engine)

    def feeds(self) -> str:
        """The feed list with each feed's last check (read at every page load)."""
        settings = self.engine.settings
        try:
            listed = FeedList(settings.data_dir, settings.write_wait).feeds()
        except FeedListError as exc:
            return f"The feed list cannot be read: {escape_md(str(exc))}"
        return library.feeds_markdown(listed, settings.watch_feed_minutes)

    def chart(self) -> Figure | None:
        """The chart of articles per day and per outlet."""
        return library.corpus_chart(self.engine.catalog.rows())

    def outlet_choices(self, current: Any = None) -> Any:
        """The outlets filter's choices, keeping the chosen outlets that still exist."""
        names = self.engine.catalog.stats().outlets
        kept = [o for o in (current or []) if o in names]
        return gr.Dropdown(choices=names, value=kept)

    def examples_update(self) -> Any:
        """The example questions from the latest headlines."""
        return gr.Dataset(samples=[[q] for q in example_questions(self.engine.catalog.rows())])

    def table_update(self, query: str = "") -> tuple[Any, str]:
        """The article table's rows matching ``query``, and its caption."""
        rows, matched = library.article_rows(self.engine.catalog.rows(), query)
        total = self.engine.catalog.stats().articles
        shown = f"{len(rows)} of {matched} matching" if query and query.strip() else f"{len(rows)} of {total}"
        return rows, f"Articles: {shown} (newest first). Select a row to delete it."

    def refresh(self, query: str, outlets: Any) -> tuple[Any, ...]:
        """Everything that follows the corpus: header, figures, chart, table, outlets, examples, settings."""
        rows, caption = self.table_update(query)
        return (self.header(), self.figures(), self.chart(), rows, caption, self.outlet_choices(outlets),
                self.examples_update(), settings_markdown(self.engine))  # fmt: skip

    def on_load(self, query: str, current: Any) -> tuple[Any, ...]:
        """A new page: the current table, outlets and example questions (the index may have changed)."""
        return (*self.table_update(query), self.outlet_choices(current), self.examples_update())

    def ingest_files(
        self,
        files: list[str] | None,
        progress: gr.Progress = gr.Progress(track_tqdm=True),  # noqa: B008 - how gradio finds the tracker
    ) -> tuple[Any, ...]:
        """Check, copy and ingest the uploaded files; per-file results and a summary line."""
        if not files:
            return gr.skip(), "Choose one or more files first.", gr.skip()
        progress(0, desc="Reading the files…")
        results, report = library.ingest_uploads(self.librarian, files, progress=True)
        progress(1.0, desc="Done")
        summary = library.upload_summary(results, report)
        return [r.row() for r in results], f"**Upload finished**: {escape_md(summary)}", None

    def delete_selected(self, article_id: str) -> tuple[Any, ...]:
        """Delete the selected article (the browser asked for confirmation first)."""
        if not article_id:
            return gr.skip(), "No article deleted.", gr.skip()
        message = library.delete_article(self.librarian, article_id)
        return "", escape_md(message), gr.Button(interactive=False)


# --- layout -----------------------------------------------------------------------------------------------
@dataclass
class LibraryTab:
    """The Library tab's components."""

    figures: gr.Markdown
    chart: gr.Plot
    uploads: gr.File
    ingest_btn: gr.Button
    upload_status: gr.Markdown
    results: gr.Dataframe
    search: gr.Textbox
    delete_btn: gr.Button
    selected_label: gr.Markdown
    selected_id: gr.Textbox
    table_caption: gr.Markdown
    table: gr.Dataframe


def _upload_row(settings: Settings) -> tuple[gr.File, gr.Button, gr.Markdown, gr.Dataframe]:
    """The upload, its button and status, and the per-file results."""
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
    return uploads, ingest_btn, upload_status, results


def _search_row() -> tuple[gr.Textbox, gr.Button]:
    """The table's search box and the Delete button."""
    with gr.Row(equal_height=True):
        search = gr.Textbox(
            placeholder="Search titles, outlets, dates…", show_label=False, scale=4, elem_id="search"
        )
        delete_btn = gr.Button(
            "Delete selected article", variant="stop", interactive=False, scale=1, elem_id="delete"
        )
    return search, delete_btn


def layout(handlers: LibraryHandlers, settings: Settings) -> LibraryTab:
    """The Library tab (created inside the page's ``gr.Tabs``)."""
    with gr.Tab("Library", id="library-tab"):
        figures = gr.Markdown(handlers.figures, elem_id="figures")
        chart = gr.Plot(handlers.chart, show_label=False, elem_id="chart")
        gr.Markdown(handlers.feeds, elem_id="feeds")
        uploads, ingest_btn, upload_status, results = _upload_row(settings)
        search, delete_btn = _search_row()
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
    return LibraryTab(
        figures,
        chart,
        uploads,
        ingest_btn,
        upload_status,
        results,
        search,
        delete_btn,
        selected_label,
        selected_id,
        table_caption,
        table,
    )


# --- events -----------------------------------------------------------------------------------------------
def wire(
    demo: gr.Blocks,
    tab: LibraryTab,
    handlers: LibraryHandlers,
    *,
    header: gr.Markdown,
    outlets: gr.Dropdown,
    examples: gr.Dataset,
    settings_view: gr.Markdown,
) -> None:
    """Connect the Library tab's events (inside the page's ``gr.Blocks``); after a change to the corpus they
    also update the page header, the Chat tab's outlets and examples, and the settings view."""
    corpus_outputs = [
        header,
        tab.figures,
        tab.chart,
        tab.table,
        tab.table_caption,
        outlets,
        examples,
        settings_view,
    ]
    demo.load(
        handlers.on_load,
        [tab.search, outlets],
        [tab.table, tab.table_caption, outlets, examples],
        api_visibility="private",
        queue=False,
    )
    tab.search.change(
        handlers.table_update,
        [tab.search],
        [tab.table, tab.table_caption],
        api_visibility="private",
        queue=False,
        show_progress="hidden",
    )
    refresh = handlers.refresh  # one bound method for both events, as gradio's default concurrency id
    selection = [tab.selected_id, tab.selected_label, tab.delete_btn]
    tab.table.select(pick_article, None, selection, api_visibility="private", queue=False)
    tab.ingest_btn.click(
        handlers.ingest_files,
        [tab.uploads],
        [tab.results, tab.upload_status, tab.uploads],
        api_visibility="private",
        concurrency_id="library",  # one change to the index at a time
        concurrency_limit=1,
        show_progress="full",
        show_progress_on=[tab.results],
    ).then(refresh, [tab.search, outlets], corpus_outputs, api_visibility="private", queue=False)
    tab.delete_btn.click(
        handlers.delete_selected,
        [tab.selected_id],
        selection,
        js="(id) => (id && window.confirm('Delete this article from the index?')) ? id : ''",
        api_visibility="private",
        concurrency_id="library",
        concurrency_limit=1,
    ).then(refresh, [tab.search, outlets], corpus_outputs, api_visibility="private", queue=False)
