"""The Settings tab: the LLM, the embedding model and the index size, read-only (see :mod:`qa.ui.info`)."""

from __future__ import annotations

import gradio as gr

from qa.answer import Engine
from qa.ui.info import settings_markdown


class SettingsHandlers:
    """The Settings tab's handler, which needs the engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def markdown(self) -> str:
        """The settings table, read again on every new page."""
        return settings_markdown(self.engine)


def layout(handlers: SettingsHandlers) -> gr.Markdown:
    """The Settings tab (created inside the page's ``gr.Tabs``); returns its view, which the Library tab
    refreshes after a change to the index."""
    with gr.Tab("Settings", id="settings-tab"):
        return gr.Markdown(handlers.markdown, elem_id="settings")
