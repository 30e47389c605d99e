"""Saved conversations and feedback on the chat page: the Conversations sidebar (reopen, start a new one,
delete) and the thumbs up / down on each answer with an optional note.

A conversation is saved (``qa.conversations``, SQLite in the data folder) after every answer, stopped or
not, under the signed-in user (``local`` when the page has no login), and reopened with each answer's
Sources panel. A rating is stored with the question, the answer and what it was made with
(:func:`answer_record`), for ``newsqa feedback export``.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from typing import Any

import gradio as gr

from index.settings import Settings
from qa.api.models import AnswerOut
from qa.conversations import ConversationNotFound, ConversationStore
from qa.models import Answer
from qa.ui.chat import Exchange, chat_messages, selected_turn
from qa.ui.filters import SearchOptions
from qa.ui.sources import SOURCES_EMPTY

log = logging.getLogger(__name__)

LOCAL_USER = "local"  # whose conversations they are when the page has no login


def user_of(request: gr.Request | None) -> str:
    """The signed-in user, or ``local`` on a page without login."""
    return (getattr(request, "username", None) or "").strip() or LOCAL_USER


def answer_record(
    question: str, answer: Answer | None, options: SearchOptions, settings: Settings, reply: str = ""
) -> dict[str, Any]:
    """What a rating is stored with: the question, the answer (the ``/v1/ask`` JSON: text, citations,
    passages, timings, model), or a reply that is not an answer (a timeline), the search options, and the
    settings that shape an answer."""
    return {
        "question": question,
        "answer": AnswerOut.model_validate(answer).model_dump(mode="json") if answer else None,
        "reply": reply,
        "options": {
            "since": options.since.isoformat() if options.since else None,
            "until": options.until.isoformat() if options.until else None,
            "outlets": list(options.outlets),
            "as_of": options.as_of.isoformat() if options.as_of else None,
            "top_k": options.top_k or settings.top_k,
        },
        "settings": {
            "llm": settings.llm,
            "model": answer.model if answer else "",
            "embed_backend": settings.embed_backend,
            "rerank": settings.rerank,
            "min_relevance": settings.min_relevance,
            "context_tokens": settings.context_tokens,
            "max_answer_tokens": settings.max_answer_tokens,
        },
    }


def _listing(store: ConversationStore, user: str, selected: str | None = None) -> Any:
    """The sidebar's list of the user's conversations, ``selected`` marked."""
    choices = [(info.label(), info.id) for info in store.conversations(user)]
    return gr.Radio(choices=choices, value=selected if any(v == selected for _, v in choices) else None)


def _last_panel(conversation: list[Exchange]) -> tuple[str, int | None]:
    """The Sources panel to show for a reopened conversation: its last answer's, and that turn."""
    for turn in range(len(conversation) - 1, -1, -1):
        if conversation[turn].panel:
            return conversation[turn].panel, turn
    return SOURCES_EMPTY, None


class SavedChats:
    """The sidebar's and the ratings' handlers, over one conversation store."""

    def __init__(self, store: ConversationStore) -> None:
        self.store = store

    def listing(self, request: gr.Request) -> Any:
        """The user's conversations (on page load)."""
        return _listing(self.store, user_of(request))

    def save(self, conversation: list[Exchange] | None, saved: str | None, request: gr.Request) -> tuple:
        """Save the conversation as it is (after each answer, and after Stop): (its id, the list)."""
        if not conversation:
            return gr.skip(), gr.skip()
        user = user_of(request)
        exchanges = [exchange.to_dict() for exchange in conversation]
        try:
            saved = self.store.save(user, saved, exchanges)
        except ConversationNotFound:  # deleted meanwhile (another tab): keep it as a new conversation
            saved = self.store.save(user, None, exchanges)
        return saved, _listing(self.store, user, saved)

    def reopen(self, chosen: str | None, request: gr.Request) -> tuple:
        """Show a saved conversation: (chatbot, sources, conversation, shown turn, its id, note box)."""
        if not chosen:
            return (gr.skip(),) * 6
        try:
            conversation = [Exchange.from_dict(d) for d in self.store.load(user_of(request), chosen)]
        except ConversationNotFound:
            gr.Warning("That conversation is no longer saved.")
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
        panel, turn = _last_panel(conversation)
        return chat_messages(conversation), panel, conversation, turn, chosen, gr.Group(visible=False)

    def delete(self, saved: str | None, request: gr.Request) -> tuple:
        """Delete the open conversation and start a new one: (chatbot, sources, conversation, shown, id,
        list)."""
        user = user_of(request)
        if saved:
            with contextlib.suppress(ConversationNotFound):
                self.store.delete(user, saved)
        return [], SOURCES_EMPTY, [], None, None, _listing(self.store, user)

    def rate(
        self, conversation: list[Exchange] | None, saved: str | None, event: gr.LikeData, request: gr.Request
    ) -> tuple:
        """Store a thumbs up / down on an answer and offer a note: (id, list, rated turn, note box, note)."""
        conversation = conversation or []
        turn = selected_turn(event.index, conversation)
        if turn is None or not conversation[turn].finished:
            gr.Warning("Only a finished answer can be rated.")
            return (gr.skip(),) * 5
        saved, listing = self.save(conversation, saved, request)
        exchange = conversation[turn]
        liked = event.liked
        rating = "up" if liked is True or liked == "Like" else "down" if liked in (False, "Dislike") else None
        self.store.rate(
            user_of(request), saved, turn, rating, exchange.record or {"question": exchange.question}
        )
        if rating is None:
            return saved, listing, None, gr.Group(visible=False), ""
        return (
            saved,
            listing,
            turn,
            gr.Group(visible=True),
            gr.Textbox(value="", label=_note_label(turn, rating)),
        )

    def annotate(self, note: str, saved: str | None, turn: int | None, request: gr.Request) -> tuple:
        """Attach the note to the rating just given: (note box, note text)."""
        if saved is None or turn is None:
            return gr.Group(visible=False), ""
        if self.store.annotate(user_of(request), saved, turn, note or ""):
            gr.Info("Thank you: the note is saved with your rating.")
        return gr.Group(visible=False), ""


def _note_label(turn: int, rating: str) -> str:
    thumb = "👍" if rating == "up" else "👎"
    return f"{thumb} on answer {turn + 1} saved. Add a note (optional): what was right or wrong?"


@dataclass
class Sidebar:
    """The Conversations sidebar's components."""

    listing: gr.Radio
    new_btn: gr.Button
    delete_btn: gr.Button


def sidebar() -> Sidebar:
    """The Conversations sidebar (created at the top of the page's ``gr.Blocks``)."""
    with gr.Sidebar(label="Conversations", open=True, elem_id="history"):
        gr.Markdown("### Conversations")
        new_btn = gr.Button("New conversation", size="sm", elem_id="new-chat")
        listing = gr.Radio(choices=[], label="Saved", elem_id="saved-chats", type="value")
        delete_btn = gr.Button("Delete this conversation", size="sm", variant="stop", elem_id="delete-chat")
    return Sidebar(listing, new_btn, delete_btn)


def note_box() -> tuple[gr.Group, gr.Textbox, gr.Button]:
    """The note offered after a rating (created under the question box)."""
    with gr.Group(visible=False, elem_id="feedback") as box, gr.Row():
        note = gr.Textbox(
            label="Add a note (optional)", lines=1, max_lines=4, scale=8, elem_id="feedback-note"
        )
        save = gr.Button("Save note", scale=1, min_width=90, elem_id="feedback-save")
    return box, note, save
