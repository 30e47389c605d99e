"""The chat page's parts; :mod:`qa.ui.page` puts the page together from the four tab modules.

- :mod:`qa.ui.chat_tab`, :mod:`qa.ui.timeline_tab`, :mod:`qa.ui.library_tab`, :mod:`qa.ui.settings_tab`:
  each tab's Gradio layout, its handlers (those that need the engine are methods of a small class holding
  it) and its event wiring.

The logic behind them, without Gradio:

- :mod:`qa.ui.safe`: escaping of everything that comes from articles or users (text, never HTML).
- :mod:`qa.ui.sources`: the Sources panel (one card per citation, or what was searched when the answer
  abstains) and the ``[n]`` links in the answer.
- :mod:`qa.ui.timeline_view`: a story's timeline as the Timeline tab's HTML, a chat reply and source cards.
- :mod:`qa.ui.filters`: the search options above the chat (dates, outlets, as-of date, passages).
- :mod:`qa.ui.library`: the Library tab (corpus figures, chart, upload, article table, delete).
- :mod:`qa.ui.examples`: example questions drawn from the latest headlines.
- :mod:`qa.ui.info`: the read-only settings view.
- :mod:`qa.ui.auth`: optional login (``NEWSQA_AUTH`` / ``NEWSQA_AUTH_FILE``).
- :mod:`qa.ui.assets`: the page's CSS and the small script that brings a cited card into view.
"""
