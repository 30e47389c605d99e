"""The search options above the chat: a date range, outlets, the "as of" date and the number of passages.

They are read from the form when a question is sent (:func:`read_options`), passed to ``Engine.stream``
(:meth:`SearchOptions.stream_kwargs`) or to a story's timeline (:meth:`SearchOptions.timeline_kwargs`),
and shown under the question (:meth:`SearchOptions.describe`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from qa.dates import to_date
from qa.ui.safe import one_line

MAX_TOP_K = 20


class FilterError(ValueError):
    """A filter value that cannot be used; the message names the field and what is wrong."""


@dataclass(frozen=True)
class SearchOptions:
    """What the next question is searched with (``None`` / empty: no limit, or the default)."""

    since: date | None = None
    until: date | None = None
    outlets: tuple[str, ...] = ()
    as_of: date | None = None  # None: today
    top_k: int | None = None  # None: the settings' top_k

    def stream_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``Engine.stream``."""
        return {
            "since": self.since,
            "until": self.until,
            "outlets": list(self.outlets) or None,
            "as_of": self.as_of,
            "top_k": self.top_k,
        }

    def timeline_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``qa.timeline.build_timeline`` (the number of passages does not apply)."""
        return {k: v for k, v in self.stream_kwargs().items() if k != "top_k"}

    def describe(self, default_top_k: int | None = None) -> str:
        """``as of 2026-11-24 · since 2021-12-01 · outlets: Reuters, AP · 4 passages`` (plain text)."""
        parts = [f"as of {(self.as_of or date.today()).isoformat()}"]
        if self.since:
            parts.append(f"since {self.since.isoformat()}")
        if self.until:
            parts.append(f"until {self.until.isoformat()}")
        if self.outlets:
            parts.append("outlets: " + ", ".join(one_line(o) for o in self.outlets))
        k = self.top_k or default_top_k
        if k:
            parts.append(f"{k} passage{'s' if k != 1 else ''}")
        return " · ".join(parts)


def parse_day(value: Any, what: str) -> date | None:
    """A date from a form value (``YYYY-MM-DD``, a ``YYYY-MM-DD hh:mm:ss`` string, a datetime or a
    timestamp); None when empty. Raises :class:`FilterError` naming ``what`` otherwise."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value).date()
    try:
        return to_date(value, what)
    except ValueError as exc:
        raise FilterError(str(exc)) from None


def read_options(
    since: Any = None, until: Any = None, outlets: Any = None, as_of: Any = None, top_k: Any = None
) -> SearchOptions:
    """Validated search options from the form's values; raises :class:`FilterError` with the reason."""
    first, last = parse_day(since, "Since"), parse_day(until, "Until")
    if first and last and first > last:
        raise FilterError(f"Since ({first}) is after Until ({last}): no article can match.")
    names = [outlets] if isinstance(outlets, str) else list(outlets or [])
    k = None
    if top_k not in (None, ""):
        try:
            k = int(top_k)
        except (TypeError, ValueError):
            raise FilterError(f"Passages: {top_k!r} is not a whole number") from None
        if not 1 <= k <= MAX_TOP_K:
            raise FilterError(f"Passages: {k} is outside 1–{MAX_TOP_K}")
    return SearchOptions(
        since=first,
        until=last,
        outlets=tuple(dict.fromkeys(str(n) for n in names if str(n).strip())),  # exact stored names
        as_of=parse_day(as_of, "As of"),
        top_k=k,
    )
