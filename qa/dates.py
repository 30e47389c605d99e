"""Dates at the public boundary: ``ask`` / ``stream``, the CLI and the chat's form all take a ``date``, a
``datetime`` or an ISO 8601 string (``2026-06-05``, ``2026-06-05T10:00``) for a day."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any


def to_date(value: Any, name: str) -> date | None:
    """``value`` as a day, None when empty; ``ValueError`` naming the argument ``name`` otherwise."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            return date.fromisoformat(text) if len(text) <= 10 else datetime.fromisoformat(text).date()
        except ValueError:
            pass
        raise ValueError(f"{name}: {text[:40]!r} is not a date; use YYYY-MM-DD, e.g. 2021-12-31")
    raise ValueError(
        f"{name}: expected a date, a datetime or an ISO string (YYYY-MM-DD), got {type(value).__name__}"
    )


def to_iso(value: Any, name: str) -> str | None:
    """``value`` (see ``to_date``) as ``YYYY-MM-DD``, or None."""
    day = to_date(value, name)
    return day.isoformat() if day else None
