"""The Timeline tab: a story's articles in date order, grouped by day, syndicated copies folded into one
entry with every outlet that carried it (:func:`qa.timeline.build_timeline`, shown by
:func:`qa.ui.timeline_view.timeline_html`); optionally one cited sentence per day from the LLM.

Without summaries a timeline needs no LLM call, so it does not queue behind the chat's answers: its event
has its own concurrency group. With summaries its requests wait at the model like any other.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gradio as gr

from qa.answer import Engine
from qa.intent import story_query
from qa.llm import LLMError
from qa.timeline import build_timeline
from qa.ui.assets import CARDS_CSS, TIMELINE_CSS
from qa.ui.chat_tab import date_and_outlet_inputs
from qa.ui.filters import FilterError, read_options
from qa.ui.safe import one_line
from qa.ui.timeline_view import TIMELINE_EMPTY, timeline_html, timeline_message

log = logging.getLogger(__name__)


# --- handlers ---------------------------------------------------------------------------------------------
class TimelineHandlers:
    """The Timeline tab's handler, which needs the engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def show(self, story: str, since: Any, until: Any, outlets: Any, summaries: bool) -> Any:
        """The timeline of ``story`` (request words such as "timeline of" cut off) within the filters, with
        per-day summaries when asked; a message when no story is named or something fails."""
        story = one_line(story)
        if not story:
            return timeline_message("Name a story first, e.g. “Putin Biden call”.")
        try:
            options = read_options(since, until, outlets)
        except FilterError as exc:
            gr.Warning(str(exc), title="Check the filters")
            return gr.skip()
        try:
            timeline = build_timeline(
                self.engine,
                story_query(story) or story,
                **options.timeline_kwargs(),
                summarize=bool(summaries),
            )
        except LLMError as exc:
            return timeline_message(f"The language model failed while writing the summaries: {exc}")
        except Exception as exc:  # keep the page alive; the traceback goes to the server log
            log.exception("the timeline of %r failed", story)
            return timeline_message(f"Something went wrong: {type(exc).__name__}: {exc}")
        return timeline_html(timeline)


# --- layout -----------------------------------------------------------------------------------------------
@dataclass
class TimelineTab:
    """The Timeline tab's components."""

    tab: gr.Tab
    story: gr.Textbox
    since: gr.DateTime
    until: gr.DateTime
    outlets: gr.Dropdown
    summaries: gr.Checkbox
    show: gr.Button
    result: gr.HTML


def layout(engine: Engine) -> TimelineTab:
    """The Timeline tab (created inside the page's ``gr.Tabs``)."""
    with gr.Tab("Timeline", id="timeline-tab") as tab:
        with gr.Row(equal_height=True):
            story = gr.Textbox(
                label="Story",
                placeholder="e.g. Putin Biden call",
                lines=1,
                max_lines=2,
                scale=4,
                elem_id="timeline-story",
            )
            since, until, outlets = date_and_outlet_inputs(engine, "t")
        with gr.Row(equal_height=True):
            summaries = gr.Checkbox(
                label="Per-day summaries (slower: uses the LLM)", value=False, elem_id="timeline-summaries"
            )
            show = gr.Button("Show", variant="primary", scale=0, min_width=100, elem_id="timeline-show")
        result = gr.HTML(
            TIMELINE_EMPTY,
            elem_id="timeline",
            css_template=CARDS_CSS + TIMELINE_CSS,
            js_on_load=None,
            padding=True,
            container=True,
        )
    return TimelineTab(tab, story, since, until, outlets, summaries, show, result)


# --- events -----------------------------------------------------------------------------------------------
def wire(tab: TimelineTab, handlers: TimelineHandlers, outlet_choices: Callable[[Any], Any]) -> None:
    """Connect the Timeline tab's events (inside the page's ``gr.Blocks``); ``outlet_choices`` refreshes the
    outlets filter when the tab is opened (the Library tab may have changed the corpus)."""
    gr.on(
        triggers=[tab.story.submit, tab.show.click],
        fn=handlers.show,
        inputs=[tab.story, tab.since, tab.until, tab.outlets, tab.summaries],
        outputs=[tab.result],
        api_visibility="private",
        show_progress="full",
        concurrency_id="timeline",  # not "llm": without summaries no model is called
        concurrency_limit=1,
    )
    tab.tab.select(outlet_choices, [tab.outlets], [tab.outlets], api_visibility="private", queue=False)
