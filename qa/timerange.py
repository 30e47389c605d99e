"""Time words in a news question → an inclusive date range, relative to the question's ``as_of`` date.

"this week", "yesterday", "last month", "in December 2021", "on Jan 10", "since March 2024"... Spotting the
expressions is a table of regexes (conservative: a month name needs a day, a year or a preposition, so
"What may happen" and "a protest march" do not match); the calendar arithmetic uses the standard library.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

MONTHS = {
    name: i for i in range(1, 13) for name in (calendar.month_name[i].lower(), calendar.month_abbr[i].lower())
}
MONTHS["sept"] = 9
_MONTH_NAMES = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?"
    r"|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_MONTH = rf"(?P<month>{_MONTH_NAMES})\.?"
_YEAR = r"(?P<year>(?:19|20)\d\d)(?![\d,])"
_DAY = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th)?"
_WEEKDAYS = {calendar.day_name[i].lower(): i for i in range(7)}
_WEEKDAY = r"(?P<weekday>monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
_N = r"(?P<n>\d{1,2}|one|two|three|four|five|six|seven|eight|nine|ten|a)"
_NUMBERS = {"a": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
            "nine": 9, "ten": 10}  # fmt: skip
EARLIEST = date(1900, 1, 1)


@dataclass(frozen=True)
class TimeRange:
    """An inclusive date range and the words of the question it came from."""

    since: date
    until: date
    text: str


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def _month_range(year: int, month: int) -> tuple[date, date]:
    return date(year, month, 1), _month_end(year, month)


def _week(day: date) -> tuple[date, date]:
    start = day - timedelta(days=day.weekday())
    return start, start + timedelta(days=6)


def _shift_month(year: int, month: int, delta: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + delta
    return index // 12, index % 12 + 1


def _latest(month: int, day: int, as_of: date) -> date | None:
    """The most recent ``month/day`` on or before ``as_of``."""
    for year in (as_of.year, as_of.year - 1):
        try:
            candidate = date(year, month, day)
        except ValueError:
            continue
        if candidate <= as_of:
            return candidate
    return None


def _date(m: re.Match[str], as_of: date) -> date | None:
    month = MONTHS[m.group("month").lower().rstrip(".")]
    day = int(m.group("day"))
    year = m.groupdict().get("year")
    try:
        return date(int(year), month, day) if year else _latest(month, day, as_of)
    except ValueError:
        return None


def _n(m: re.Match[str]) -> int:
    value = m.group("n").lower()
    return _NUMBERS.get(value) or int(value)


Rule = Callable[[re.Match[str], date], tuple[date, date] | None]


def _r_between(m: re.Match[str], as_of: date) -> tuple[date, date]:
    year = int(m.group("year"))
    first, last = MONTHS[m.group("m1").lower().rstrip(".")], MONTHS[m.group("month").lower().rstrip(".")]
    return date(year, first, 1), _month_end(year, last)


def _r_part_month(m: re.Match[str], as_of: date) -> tuple[date, date]:
    start, end = _month_range(int(m.group("year")), MONTHS[m.group("month").lower().rstrip(".")])
    middle = start + timedelta(days=14)
    return (start, middle) if m.group("part").lower() == "early" else (middle, end)


def _r_since_month(m: re.Match[str], as_of: date) -> tuple[date, date]:
    return date(int(m.group("year")), MONTHS[m.group("month").lower().rstrip(".")], 1), as_of


def _r_until_month(m: re.Match[str], as_of: date) -> tuple[date, date]:
    end = _month_end(int(m.group("year")), MONTHS[m.group("month").lower().rstrip(".")])
    return EARLIEST, end if m.group("kw").lower() == "until" else date(end.year, end.month, 1) - timedelta(
        days=1
    )


def _r_since_year(m: re.Match[str], as_of: date) -> tuple[date, date]:
    return date(int(m.group("year")), 1, 1), as_of


def _r_before_year(m: re.Match[str], as_of: date) -> tuple[date, date]:
    year = int(m.group("year"))
    return EARLIEST, date(year, 12, 31) if m.group("kw").lower() == "until" else date(year - 1, 12, 31)


def _r_day(m: re.Match[str], as_of: date) -> tuple[date, date] | None:
    day = _date(m, as_of)
    return (day, day) if day else None


def _r_iso(m: re.Match[str], as_of: date) -> tuple[date, date] | None:
    try:
        day = date(int(m.group("y")), int(m.group("mo")), int(m.group("d")))
    except ValueError:
        return None
    return day, day


def _r_month_year(m: re.Match[str], as_of: date) -> tuple[date, date]:
    return _month_range(int(m.group("year")), MONTHS[m.group("month").lower().rstrip(".")])


def _r_month_only(m: re.Match[str], as_of: date) -> tuple[date, date]:
    month = MONTHS[m.group("month").lower().rstrip(".")]
    year = as_of.year if month <= as_of.month else as_of.year - 1
    return _month_range(year, month)


def _r_year(m: re.Match[str], as_of: date) -> tuple[date, date]:
    year = int(m.group("year"))
    return date(year, 1, 1), date(year, 12, 31)


def _r_ago(m: re.Match[str], as_of: date) -> tuple[date, date]:
    n, unit = _n(m), m.group("unit").lower()
    if unit.startswith("day"):
        day = as_of - timedelta(days=n)
        return day, day
    if unit.startswith("week"):
        return _week(as_of - timedelta(weeks=n))
    if unit.startswith("month"):
        return _month_range(*_shift_month(as_of.year, as_of.month, -n))
    return date(as_of.year - n, 1, 1), date(as_of.year - n, 12, 31)


def _r_past(m: re.Match[str], as_of: date) -> tuple[date, date]:
    n = _n(m) if m.group("n") else 1
    unit = m.group("unit").lower()
    days = {"day": 1, "week": 7, "month": 30, "year": 365}[unit.rstrip("s")] * n
    return as_of - timedelta(days=days), as_of


def _r_weekday(m: re.Match[str], as_of: date) -> tuple[date, date]:
    back = (as_of.weekday() - _WEEKDAYS[m.group("weekday").lower()]) % 7
    if m.group("kw") and m.group("kw").lower() == "last" and back == 0:
        back = 7
    day = as_of - timedelta(days=back)
    return day, day


def _r_weekend(m: re.Match[str], as_of: date) -> tuple[date, date]:
    saturday = as_of - timedelta(days=(as_of.weekday() - 5) % 7)
    if m.group("kw").lower() == "last" and saturday + timedelta(days=1) >= as_of:
        saturday -= timedelta(days=7)
    return saturday, min(saturday + timedelta(days=1), as_of)


def _fixed(kind: str) -> Rule:
    def rule(m: re.Match[str], as_of: date) -> tuple[date, date]:
        if kind == "today":
            return as_of, as_of
        if kind == "yesterday":
            return as_of - timedelta(days=1), as_of - timedelta(days=1)
        if kind == "this week":
            return _week(as_of)[0], as_of
        if kind == "last week":
            return _week(as_of - timedelta(weeks=1))
        if kind == "this month":
            return date(as_of.year, as_of.month, 1), as_of
        if kind == "last month":
            return _month_range(*_shift_month(as_of.year, as_of.month, -1))
        if kind == "this year":
            return date(as_of.year, 1, 1), as_of
        if kind == "last year":
            return date(as_of.year - 1, 1, 1), date(as_of.year - 1, 12, 31)
        return as_of - timedelta(days=30), as_of  # recently

    return rule


# Most specific first; the first rule that matches wins.
RULES: list[tuple[str, Rule]] = [
    (rf"\bbetween\s+(?P<m1>{_MONTH_NAMES})\.?\s+and\s+{_MONTH}\s+{_YEAR}", _r_between),
    (rf"\b(?:in\s+)?(?P<part>early|late)\s+{_MONTH}\s+{_YEAR}", _r_part_month),
    (rf"\bsince\s+{_MONTH}\s+{_YEAR}", _r_since_month),
    (rf"\b(?P<kw>until|before)\s+{_MONTH}\s+{_YEAR}", _r_until_month),
    (rf"\bsince\s+{_YEAR}", _r_since_year),
    (rf"\b(?P<kw>until|before)\s+{_YEAR}", _r_before_year),
    (r"\b(?:on\s+)?(?P<y>(?:19|20)\d\d)-(?P<mo>\d\d)-(?P<d>\d\d)\b", _r_iso),
    (rf"\b(?:on\s+)?{_MONTH}\s+{_DAY}(?:,?\s+{_YEAR})?(?!\d)", _r_day),
    (rf"\b(?:on\s+)?(?:the\s+)?{_DAY}\s+(?:of\s+)?{_MONTH}(?:,?\s+{_YEAR})?(?!\d)", _r_day),
    (rf"\b(?:in\s+|during\s+)?{_MONTH}\s+(?:of\s+)?{_YEAR}", _r_month_year),
    (rf"\b(?:in|during|since)\s+{_MONTH}(?!\s+\d)\b", _r_month_only),
    (rf"\b(?:in|during)\s+(?:the\s+year\s+)?{_YEAR}", _r_year),
    (rf"\b{_N}\s+(?P<unit>days?|weeks?|months?|years?)\s+ago\b", _r_ago),
    (
        r"\b(?:in\s+)?(?:the\s+)?(?:past|last)\s+(?:(?P<n>\d{1,2}|two|three|four|five|six|seven|ten)\s+)?(?P<unit>days|weeks|months|years)\b",
        _r_past,
    ),
    (r"\b(?:in\s+|over\s+)?(?:this\s+past|the\s+past)\s+(?P<n>)?(?P<unit>week|month|year)\b", _r_past),
    (rf"\b(?P<kw>last|this|on|past)\s+{_WEEKDAY}\b", _r_weekday),
    (r"\b(?P<kw>this|last)\s+weekend\b", _r_weekend),
    (r"\btoday\b", _fixed("today")),
    (r"\byesterday\b", _fixed("yesterday")),
    (r"\bthis\s+week\b", _fixed("this week")),
    (r"\blast\s+week\b", _fixed("last week")),
    (r"\bthis\s+month\b", _fixed("this month")),
    (r"\blast\s+month\b", _fixed("last month")),
    (r"\bthis\s+year\b", _fixed("this year")),
    (r"\blast\s+year\b", _fixed("last year")),
    (r"\b(?:recently|lately)\b", _fixed("recently")),
]
_COMPILED = [(re.compile(pattern, re.IGNORECASE), rule) for pattern, rule in RULES]


def resolve_time(question: str, as_of: date) -> TimeRange | None:
    """The date range a question's time words refer to, or None when it has none."""
    for pattern, rule in _COMPILED:
        for match in pattern.finditer(question):
            span = rule(match, as_of)
            if span is not None:
                since, until = span
                return TimeRange(since, min(until, max(since, until)), match.group(0).strip())
    return None


def strip_time(question: str, time_range: TimeRange) -> str:
    """The question without its time words (what the retrievers should match on)."""
    stripped = question.replace(time_range.text, " ")
    return re.sub(r"\s+([?.!,])", r"\1", re.sub(r"\s{2,}", " ", stripped)).strip()
