"""newsqa question answering: ``qa.ask(question)`` for a cited ``Answer``, ``qa.stream`` to watch it come."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qa.answer import Engine
    from qa.models import Answer

_engine: Engine | None = None
_engine_lock = threading.Lock()


def default_engine() -> Engine:
    """The process's engine for the settings in the environment, created on first use."""
    global _engine
    with _engine_lock:
        if _engine is None:
            from qa.answer import Engine

            _engine = Engine()
        return _engine


def ask(
    question: str,
    *,
    top_k: int | None = None,
    filters: dict[str, Any] | None = None,
    history: list[tuple[str, str]] | None = None,
) -> Answer:
    """Answer ``question`` from the indexed articles, with numbered citations (or an honest abstention)."""
    return default_engine().ask(question, top_k=top_k, filters=filters, history=history)


def stream(
    question: str,
    *,
    top_k: int | None = None,
    filters: dict[str, Any] | None = None,
    history: list[tuple[str, str]] | None = None,
) -> Iterator[str | Answer]:
    """Yield the answer's text pieces as they are written, then the finished ``Answer``."""
    return default_engine().stream(question, top_k=top_k, filters=filters, history=history)


__all__ = ["ask", "stream", "default_engine"]
