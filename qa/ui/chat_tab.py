"""The Chat tab: its layout (filters, chat, question box, example questions, Sources panel), its handlers
and their wiring.

Handlers that need the engine are methods of :class:`ChatHandlers`; the others are plain functions.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

import gradio as gr

from qa.answer import Engine
from qa.intent import story_query, timeline_request
from qa.llm import LLMError
from qa.models import Answer, Reading
from qa.readahead import TypeAheads
from qa.timeline import Timeline, build_timeline
from qa.ui.assets import CARDS_CSS, CITE_JS
from qa.ui.chat import Exchange, chat_messages, history, run_stream, selected_turn
from qa.ui.examples import example_questions
from qa.ui.filters import MAX_TOP_K, FilterError, SearchOptions, read_options
from qa.ui.saved_chats import SavedChats, Sidebar, answer_record, note_box
from qa.ui.sources import SOURCES_EMPTY, SOURCES_SEARCHING, SOURCES_WRITING, reading_html

log = logging.getLogger(__name__)


# --- handlers ---------------------------------------------------------------------------------------------
def controls(busy: bool, text: str | None = None) -> tuple[Any, Any, Any]:
    """Updates for the question box, Send and Stop: locked with Stop offered while a question is waiting or
    being answered, free otherwise; ``text`` also sets the box's contents."""
    box = gr.Textbox(interactive=not busy) if text is None else gr.Textbox(value=text, interactive=not busy)
    return box, gr.Button(interactive=not busy), gr.Button(interactive=busy)


def take_question(message: str) -> tuple[Any, ...]:
    """At once, before the queue: move the question out of the box (so it cannot be sent twice while it
    waits for its turn) and offer Stop; ``ChatHandlers.respond`` then answers it from the ``asked`` state."""
    question = (message or "").strip()
    if not question:
        return "", gr.skip(), gr.skip(), gr.skip()
    return question, *controls(busy=True, text="")


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
    """Start a new conversation (stopping an answer being written; the old one stays saved): the chat
    outputs, then no saved id, nothing selected in the sidebar, the note box hidden."""
    for exchange in conversation or []:
        exchange.stop_requested = True
    cleared = [], SOURCES_EMPTY, *controls(busy=False, text=""), [], None
    return *cleared, None, gr.Radio(value=None), gr.Group(visible=False)


def select_answer(
    conversation: list[Exchange] | None, shown: int | None, event: gr.SelectData
) -> tuple[Any, Any]:
    """Show the sources of the answer the user clicked in the chat."""
    turn = selected_turn(event.index, conversation or [])
    if turn is None or turn == shown or not (conversation or [])[turn].panel:
        return gr.skip(), gr.skip()
    return conversation[turn].panel, turn


def use_example(sample: list[str]) -> str:
    """The clicked example question, for the question box."""
    return sample[0]


def today() -> str:
    """Today's date (ISO 8601): the "As of" filter's value on a new page."""
    return date.today().isoformat()


def example_samples(engine: Engine) -> list[list[str]]:
    """The example questions as rows of the examples dataset."""
    return [[q] for q in example_questions(engine.catalog.rows())]


class ChatHandlers:
    """The Chat tab's handlers that need the engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.typing = TypeAheads(engine)  # each session's reading while typing (qa.readahead)

    def typed(
        self, text: str, since: Any, until: Any, outlets: Any, as_of: Any, top_k: Any, request: gr.Request
    ) -> None:
        """The question box changed: read the articles for what is typed so far (``qa.readahead``)."""
        try:
            options = read_options(since, until, outlets, as_of, top_k)
        except FilterError:  # said when the question is sent
            return
        typeahead = self.typing.get(getattr(request, "session_hash", None))
        if typeahead is not None:
            typeahead.typed(text or "", **options.stream_kwargs())

    def stop_typing(self, request: gr.Request) -> None:
        """Clear: stop reading ahead for this session."""
        self.typing.enter(getattr(request, "session_hash", None), "")

    def respond(
        self, question: str, conversation: list[Exchange] | None, since: Any, until: Any, outlets: Any,
        as_of: Any, top_k: Any, request: gr.Request = None,  # type: ignore[assignment]
    ) -> Iterator[tuple[Any, ...]]:  # fmt: skip
        """Stream one answer: (chatbot, sources, box, send, stop, conversation, shown turn) per update. A
        question about how a story developed is answered with the story's timeline instead."""
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
        story = timeline_request(question)
        described = (
            f"{replace(options, top_k=None).describe()} · timeline"
            if story
            else options.describe(self.engine.settings.top_k)
        )
        exchange = Exchange(question, described)
        conversation.append(exchange)
        yield chat_messages(conversation), SOURCES_SEARCHING, *(gr.skip(),) * 3, conversation, turn
        if story:
            yield from self.timeline_reply(exchange, conversation, past, options, turn)
            return

        answer: Answer | None = None
        error = "stopped before the answer was finished"
        prepared = self.typing.enter(getattr(request, "session_hash", None), question)
        stream = self.engine.stream(
            question, history=past or None, sources_first=True, prepared=None if past else prepared,
            **options.stream_kwargs(),
        )  # fmt: skip
        try:
            for item in run_stream(stream, lambda: exchange.stop_requested):
                if isinstance(item, Answer):
                    answer = item
                    break
                if isinstance(item, Reading):  # the passages being read, before the first word
                    exchange.panel = reading_html(item, turn)
                    yield gr.skip(), exchange.panel, *(gr.skip(),) * 3, conversation, gr.skip()
                    continue
                first = not exchange.text
                exchange.text += item
                panel = SOURCES_WRITING if first and not exchange.panel else gr.skip()
                yield chat_messages(conversation), panel, *(gr.skip(),) * 3, conversation, gr.skip()
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
            exchange.record = answer_record(question, answer, options, self.engine.settings)
        yield chat_messages(conversation), exchange.panel, *controls(busy=False), conversation, turn

    def timeline_reply(
        self, exchange: Exchange, conversation: list[Exchange], past: list[tuple[str, str]],
        options: SearchOptions, turn: int,
    ) -> Iterator[tuple[Any, ...]]:  # fmt: skip
        """Reply with the timeline of the story the question names: a follow-up is first made standalone
        (the one LLM call; a timeline itself needs none), the request's own words are cut off
        (:func:`qa.intent.story_query`), and the entries become the Sources panel's cards."""
        asked = exchange.question
        timeline: Timeline | None = None
        error = "stopped before the answer was finished"
        try:
            if past:
                asked = self.engine.rewrite(asked, past)
            story = story_query(asked) or asked
            timeline = build_timeline(self.engine, story, **options.timeline_kwargs())
        except LLMError as exc:
            error = f"the language model failed: {exc}"
        except Exception as exc:  # keep the page alive; the traceback goes to the server log
            log.exception("the timeline for %r failed", exchange.question)
            error = f"something went wrong while building the timeline: {type(exc).__name__}: {exc}"
        if timeline is None or exchange.stop_requested:  # failed, or Stop / Clear while it was built
            exchange.interrupt(error)
        else:
            exchange.finish_timeline(timeline, turn, asked if past else None)
            exchange.record = answer_record(
                exchange.question, None, options, self.engine.settings, reply=exchange.text
            )
        yield chat_messages(conversation), exchange.panel, *controls(busy=False), conversation, turn


# --- layout -----------------------------------------------------------------------------------------------
@dataclass
class ChatSession:
    """One browser session's state, shared by the Chat tab's events."""

    conversation: gr.State  # this user's exchanges
    shown: gr.State  # the exchange whose sources the panel shows
    asked: gr.State  # the question taken from the box, waiting for its turn to be answered
    saved: gr.State  # the id of the open conversation, once saved
    rated: gr.State  # the answer (turn) whose rating a note would go with


@dataclass
class ChatTab:
    """The Chat tab's components."""

    since: gr.DateTime
    until: gr.DateTime
    outlets: gr.Dropdown
    as_of: gr.DateTime
    top_k: gr.Slider
    chatbot: gr.Chatbot
    box: gr.Textbox
    send: gr.Button
    stop_btn: gr.Button
    clear_btn: gr.Button
    examples: gr.Dataset
    sources: gr.HTML
    note_box: gr.Group
    note: gr.Textbox
    note_save: gr.Button


def session_state() -> ChatSession:
    """The per-session states (created inside the page's ``gr.Blocks``)."""
    return ChatSession(
        conversation=gr.State([]),
        shown=gr.State(None),
        asked=gr.State(""),
        saved=gr.State(None),
        rated=gr.State(None),
    )


def date_and_outlet_inputs(engine: Engine, prefix: str) -> tuple[gr.DateTime, gr.DateTime, gr.Dropdown]:
    """Since, until and outlets inputs (element ids ``{prefix}-since`` …), for the Chat and Timeline tabs."""
    since = gr.DateTime(label="Since", include_time=False, type="string", elem_id=f"{prefix}-since")
    until = gr.DateTime(label="Until", include_time=False, type="string", elem_id=f"{prefix}-until")
    outlets = gr.Dropdown(
        label="Outlets",
        choices=engine.catalog.stats().outlets,
        multiselect=True,
        elem_id=f"{prefix}-outlets",
        scale=2,
    )
    return since, until, outlets


def _filters(engine: Engine) -> tuple[gr.DateTime, gr.DateTime, gr.Dropdown, gr.DateTime, gr.Slider]:
    """The row of search filters above the chat: since, until, outlets, as of, passages."""
    with gr.Row(elem_id="filters", equal_height=True):
        since, until, outlets = date_and_outlet_inputs(engine, "f")
        as_of = gr.DateTime(today, label="As of", include_time=False, type="string", elem_id="f-asof")
        top_k = gr.Slider(
            1, MAX_TOP_K, value=engine.settings.top_k, step=1, label="Passages", elem_id="f-topk"
        )
    return since, until, outlets, as_of, top_k


def _question_row() -> tuple[gr.Textbox, gr.Button, gr.Button, gr.Button]:
    """The question box with Send, Stop and Clear."""
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
        stop_btn = gr.Button("Stop", variant="stop", scale=1, min_width=70, interactive=False, elem_id="stop")
        clear_btn = gr.Button("Clear", scale=0, min_width=80, elem_id="clear")
    return box, send, stop_btn, clear_btn


def _chatbot() -> gr.Chatbot:
    """The conversation (answers are shown as escaped Markdown, never as HTML)."""
    return gr.Chatbot(
        label="Chat",
        elem_id="chat",
        height=520,
        sanitize_html=True,
        allow_tags=False,
        feedback_options=("Like", "Dislike"),  # thumbs up / down, stored with the answer (saved_chats)
        latex_delimiters=[],
        buttons=["copy", "copy_all"],  # no "share" (it posts to Hugging Face)
        placeholder="Answers cite the articles they come from, like [1]. Click an answer to see its sources.",
    )


def _sources_panel() -> gr.HTML:
    """The Sources panel beside the chat."""
    return gr.HTML(
        SOURCES_EMPTY,
        elem_id="sources",
        css_template=CARDS_CSS,
        js_on_load=CITE_JS,
        max_height=640,
        padding=True,
        container=True,
    )


def layout(engine: Engine) -> ChatTab:
    """The Chat tab (created inside the page's ``gr.Tabs``)."""
    with gr.Tab("Chat", id="chat-tab"):
        since, until, outlets, as_of, top_k = _filters(engine)
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                chatbot = _chatbot()
                box, send, stop_btn, clear_btn = _question_row()
                feedback, note, note_save = note_box()
                examples = gr.Dataset(
                    label="Try asking (recent headlines)",
                    components=["textbox"],
                    samples=example_samples(engine),
                    elem_id="examples",
                )
            with gr.Column(scale=2, min_width=320):
                sources = _sources_panel()
    return ChatTab(
        since, until, outlets, as_of, top_k, chatbot, box, send, stop_btn, clear_btn, examples, sources,
        feedback, note, note_save,
    )  # fmt: skip


# --- events -----------------------------------------------------------------------------------------------
def wire(
    tab: ChatTab, session: ChatSession, handlers: ChatHandlers, saved: SavedChats, side: Sidebar
) -> None:
    """Connect the Chat tab's and the Conversations sidebar's events (inside the page's ``gr.Blocks``)."""
    chat_outputs = [
        tab.chatbot,
        tab.sources,
        tab.box,
        tab.send,
        tab.stop_btn,
        session.conversation,
        session.shown,
    ]
    saving = {"fn": saved.save, "inputs": [session.conversation, session.saved],
              "outputs": [session.saved, side.listing], "api_visibility": "private", "queue": False}  # fmt: skip
    answering = gr.on(
        triggers=[tab.box.submit, tab.send.click],
        fn=take_question,
        inputs=[tab.box],
        outputs=[session.asked, tab.box, tab.send, tab.stop_btn],
        api_visibility="private",
        queue=False,
        show_progress="hidden",
    ).then(
        handlers.respond,
        inputs=[session.asked, session.conversation, tab.since, tab.until, tab.outlets, tab.as_of, tab.top_k],
        outputs=chat_outputs,
        api_visibility="private",
        show_progress="full",
        show_progress_on=[tab.sources],  # the queue position and timer show on the Sources panel
        concurrency_id="llm",  # the model answers one question at a time, whichever way it was sent
        concurrency_limit=1,
        # a question sent while a stopped answer is still being cancelled is taken (the default, "once",
        # silently dropped a question asked within ~0.5 s of Stop); the queue still runs them in turn
        trigger_mode="multiple",
    )
    answering.then(**saving)  # every answer is saved as soon as it is finished
    private = {"api_visibility": "private", "queue": False}
    tab.stop_btn.click(
        stop, [session.conversation, session.asked], chat_outputs, cancels=[answering], **private
    ).then(**saving)
    # Clear, New conversation, and the chatbot's own trash icon (which empties only the chat): start over
    new_outputs = [*chat_outputs, session.saved, side.listing, tab.note_box]
    for cleared in (tab.clear_btn.click, side.new_btn.click, tab.chatbot.clear):
        cleared(clear, [session.conversation], new_outputs, cancels=[answering], **private)
    tab.chatbot.select(
        select_answer, [session.conversation, session.shown], [tab.sources, session.shown], **private
    )
    tab.examples.click(use_example, [tab.examples], [tab.box], **private)
    # reading while typing: each change of the box (the latest only) starts or supersedes a read-ahead
    tab.box.input(
        handlers.typed, [tab.box, tab.since, tab.until, tab.outlets, tab.as_of, tab.top_k], None,
        trigger_mode="always_last", show_progress="hidden", **private,
    )  # fmt: skip
    for cleared in (tab.clear_btn.click, side.new_btn.click):
        cleared(handlers.stop_typing, None, None, **private)
    _wire_saved(tab, session, saved, side, answering)


def _wire_saved(tab: ChatTab, session: ChatSession, saved: SavedChats, side: Sidebar, answering: Any) -> None:
    """Reopen and delete saved conversations; rate answers and add a note."""
    private = {"api_visibility": "private", "queue": False}
    side.listing.input(
        saved.reopen,
        [side.listing],
        [tab.chatbot, tab.sources, session.conversation, session.shown, session.saved, tab.note_box],
        cancels=[answering],
        **private,
    )
    side.delete_btn.click(
        saved.delete,
        [session.saved],
        [tab.chatbot, tab.sources, session.conversation, session.shown, session.saved, side.listing],
        cancels=[answering],
        **private,
    )
    tab.chatbot.like(
        saved.rate,
        [session.conversation, session.saved],
        [session.saved, side.listing, session.rated, tab.note_box, tab.note],
        **private,
    )
    for noted in (tab.note_save.click, tab.note.submit):
        noted(saved.annotate, [tab.note, session.saved, session.rated], [tab.note_box, tab.note], **private)
