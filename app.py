"""The newsqa chat: ``python app.py`` (or ``newsqa serve``) serves the page of :mod:`qa.ui.page` on
127.0.0.1:7860, ingesting the sample corpus in ``data/sample`` first when the index is empty.

The page is laid out from its parts in :mod:`qa.ui` (``page`` puts the Chat, Library and Settings tabs
together); this file is only the entry point, so no module of newsqa imports it.
"""

from __future__ import annotations

from index.settings import use_offline_environment

use_offline_environment()  # before gradio and the model libraries load (huggingface_hub reads it on import)

from qa.ui.page import build_app, launch_options, main  # noqa: E402

__all__ = ["build_app", "launch_options", "main"]

if __name__ == "__main__":
    main()
