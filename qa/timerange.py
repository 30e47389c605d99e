"""Time words in a news question → an inclusive date range, relative to the question's ``as_of`` date.

``resolve_time("Who resigned last week?", date(2026, 5, 8))`` gives ``TimeRange(2026-04-27, 2026-05-03,
"last week")``, and ``strip_time`` drops those words again so the retrievers match on the rest.

How it works:

1. **Spotting** is a table of regexes (``RULES``), one row per kind of expression ("2021-12-31",
   "December 2021", "in March", "last Friday", "3 weeks ago", ...). Each row's regex has a leading
   preposition group (``prep``): optional for expressions that are unambiguous on their own ("December 31,
   2021", "last week"), required for those that are not (a bare month or year, a weekday). Every match
   anywhere in the question is a candidate; the longest one wins where candidates overlap.
2. **Resolving** each match to a (since, until) pair is the row's function; month and weekday names go
   through ``dateutil``'s parser tables, month arithmetic through ``relativedelta``.
3. **Modifiers** come from the preposition: "since X" → X's start .. as_of, "after X" → the day after X ..
   as_of, "before X" → .. the day before X, "until/till/through X" → .. X's end (open starts are
   ``EARLIEST``). "between X and Y" / "from X to Y" join two matches into one range; a year written only on Y
   ("between March and May 2024") applies to X too.

It is deliberately conservative — a missed time expression only widens the search, a false one hides the
answer: a month name needs a day, a year, or a preposition ("in", "since", "until", "during", "last",
"this", "early", "late", ...) before it; "may"/"march" written in lower case only count next to a year ("What
may happen", "a protest march", "they march 10 miles" do not match); a bare "May" followed by a word such as
a verb is taken for a name ("since May took office"); a bare year needs a preposition and must not be
followed by a counted noun ("in 2000 troops", "2,000 people" and "200 people" are not years).

When a question holds several time expressions the first (leftmost) one is used.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from dateutil.parser import parserinfo
from dateutil.relativedelta import relativedelta

EARLIEST = date(1900, 1, 1)
"""The open start of "before 2020" / "until June 2023"."""


@dataclass(frozen=True)
class TimeRange:
    """An inclusive date range and the words of the question it came from (``text``, preposition included)."""

    since: date
    until: date
    text: str


Span = tuple[date, date]
# A row's resolver: (match, as_of, year) -> (since, until) or None when the match is not a date after all.
# ``year`` is only set when the row is the first half of "between March and May 2024" and carries no year.
Resolver = Callable[[re.Match[str], date, int | None], Span | None]

# ---------------------------------------------------------------------------------------------------------
# Regex building blocks
# ---------------------------------------------------------------------------------------------------------

_MON = (
    r"(?P<mon>(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\b\.?)"
)
_DAY = r"(?P<d>[0-3]?\d)(?:st|nd|rd|th)?\b"
# A year is 1900-2099, not part of a longer number ("2,000", "20215", "2021.5") and not followed by a counted
# noun ("in 2000 troops", "in 1999 more people"): a lower-case plural, a few irregular plurals, or more/extra.
_COUNTED = (
    r"(?:more|additional|extra|people|police|personnel|staff|children|men|women|cattle"
    r"|(?!(?:was|is|has|as|its|this|his|us|does|thus|always|perhaps|across|plus|unless|whereas)\b)"
    r"(?-i:[a-z]+s))\b"
)
_YEAR = rf"(?<![\d,.$£€])(?P<y>(?:19|20)\d\d)(?![,.]?\d)(?!\s+{_COUNTED})"
_PART = r"(?P<part>early|mid|late)"
_WEEKDAY = r"(?P<wd>monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b"
_NUM = (
    r"(?P<n>\d{1,3}|an?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve"
    r"|(?:a\s+)?few|(?:a\s+)?couple(?:\s+of)?)"
)
_NUMBERS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "few": 3, "couple": 2,
}  # fmt: skip

# Prepositions. A row with required prepositions lists those that may introduce it on its own (rows with
# optional ones take any of _ANY_PREP). Any row may also be introduced by the connectors below, which only
# count when they join two expressions: "between X and Y", "from X to Y" (a range), "on X and/or Y" (a list
# whose year is written once). Unjoined, "and May" / "from May" / "between May" is no date at all.
_OPENERS = ("between", "from")
_CLOSERS = ("and", "to", "until", "till", "through", "thru")
_LIST_HEADS = (None, "on", "in", "during")  # "on Dec 30 and Dec 31, 2021", "in 2023 and 2024"
_LISTERS = ("and", "or")
_ANY_PREP = ("in", "on", "during", "over", "within", "of", "from", "since", "after", "until", "till", "through", "thru",
             "before")  # fmt: skip
_MONTH_PREPS = ("in", "during", "since", "after", "until", "till", "through", "thru", "before")
_YEAR_PREPS = (*_MONTH_PREPS, "of", "from")
_WEEKDAY_PREPS = ("on", "since", "after", "until", "till", "before")
# Prepositions that make a lower-case "may"/"march" a month ("in may", "on march 3").
_DATE_PREPS = frozenset((*_MONTH_PREPS, "on", "between"))

# A bare "May" (no day, no year) must be followed by the end of the question, punctuation, or one of these
# words — otherwise it is more likely Theresa May ("since May took office").
_AFTER_BARE_MAY = re.compile(
    r"(?:\s*(?:[^\w\s]|$)|\s+(?:and|or|to|through|until|till|of|in|at|on|when|while|but|this|last|so|"
    r"compared|versus|vs)\b)",
    re.IGNORECASE,
)

_INFO = parserinfo()


# ---------------------------------------------------------------------------------------------------------
# Calendar helpers
# ---------------------------------------------------------------------------------------------------------


def _month_number(m: re.Match[str]) -> int:
    number = _INFO.month(m.group("mon").rstrip("."))
    assert number is not None, m.group("mon")
    return number


def _ambiguous_month(m: re.Match[str]) -> bool:
    """A lower-case "may", "march" or "mar" with no date preposition before it ("they march 10 miles",
    "the last march"): a verb or a noun. "on march 3" and "in may" still count; so does "may 2021"."""
    token = m.group("mon").rstrip(".")
    prep = (m.group("prep") or "").lower()
    return token.lower() in {"may", "march", "mar"} and token[0].islower() and prep not in _DATE_PREPS


def _month_range(year: int, month: int) -> Span:
    start = date(year, month, 1)
    return start, start + relativedelta(months=1, days=-1)


def _month_part(year: int, month: int, part: str | None) -> Span:
    """A whole month, or its first half ("early"), middle ("mid") or second half ("late")."""
    start, end = _month_range(year, month)
    if part == "early":
        return start, start.replace(day=15)
    if part == "mid":
        return start.replace(day=11), start.replace(day=20)
    if part == "late":
        return start.replace(day=16), end
    return start, end


def _year_part(year: int, part: str | None) -> Span:
    """A whole year, or its first ("early"), middle ("mid") or last ("late") four months."""
    first, last = {"early": (1, 4), "mid": (5, 8), "late": (9, 12)}.get(part or "", (1, 12))
    return date(year, first, 1), _month_range(year, last)[1]


def _week(day: date) -> Span:
    monday = day - timedelta(days=day.weekday())
    return monday, monday + timedelta(days=6)


def _count(m: re.Match[str]) -> int:
    raw = (m.groupdict().get("n") or "1").lower().split()
    word = raw[1] if raw[0] == "a" and len(raw) > 1 else raw[0]  # "a few", "a couple of"
    return _NUMBERS[word] if word in _NUMBERS else int(word)


def _part(m: re.Match[str]) -> str | None:
    part = m.groupdict().get("part")
    return part.lower() if part else None


# ---------------------------------------------------------------------------------------------------------
# Resolvers, one per row of RULES
# ---------------------------------------------------------------------------------------------------------


def _r_iso(m: re.Match[str], as_of: date, year: int | None) -> Span | None:
    try:
        day = date(int(m.group("y")), int(m.group("m")), int(m.group("d")))
    except ValueError:
        return None
    return day, day


def _r_full_date(m: re.Match[str], as_of: date, year: int | None) -> Span | None:
    """A full date: "December 31, 2021", "31st of Dec. 2021"."""
    try:
        day = date(int(m.group("y")), _month_number(m), int(m.group("d")))
    except ValueError:
        return None
    return day, day


def _r_day_month(m: re.Match[str], as_of: date, year: int | None) -> Span | None:
    """A day without a year ("Jan 10", "10 January"): the latest on or before as_of, or that in ``year``."""
    if _ambiguous_month(m):
        return None
    month, day = _month_number(m), int(m.group("d"))
    years = [year] if year else range(as_of.year, as_of.year - 8, -1)  # 8 years back finds a 29 February
    for y in years:
        try:
            candidate = date(y, month, day)
        except ValueError:
            continue
        if year or candidate <= as_of:
            return candidate, candidate
    return None


def _r_month_year(m: re.Match[str], as_of: date, year: int | None) -> Span:
    """A month of a given year: "December 2021", "early March 2024"."""
    return _month_part(int(m.group("y")), _month_number(m), _part(m))


def _r_month(m: re.Match[str], as_of: date, year: int | None) -> Span | None:
    """A month without a year ("in March", "last May", "late March"): the latest one begun by as_of (up to
    as_of), the one before the current month for "last", or the one in ``year``."""
    if _ambiguous_month(m):
        return None
    month, part = _month_number(m), _part(m)
    rel = " ".join((m.groupdict().get("rel") or "").lower().split())
    bare_may = month == 5 and not part and not rel and not m.group("mon").endswith(".")
    if bare_may and not _AFTER_BARE_MAY.match(m.string, m.end()):
        return None
    if year:
        return _month_part(year, month, part)
    if rel == "this":
        y = as_of.year
    elif rel == "last":  # strictly before the current month
        y = as_of.year if month < as_of.month else as_of.year - 1
    else:
        y = as_of.year if _month_part(as_of.year, month, part)[0] <= as_of else as_of.year - 1
    since, until = _month_part(y, month, part)
    return since, min(until, as_of)


def _r_year(m: re.Match[str], as_of: date, year: int | None) -> Span:
    """A year: "in 2021", "early 2024"."""
    return _year_part(int(m.group("y")), _part(m))


def _r_weekday(m: re.Match[str], as_of: date, year: int | None) -> Span:
    """A weekday: "on Monday" (latest on or before as_of), "last Friday" (latest strictly before as_of)."""
    weekday = _INFO.weekday(m.group("wd"))
    assert weekday is not None
    back = (as_of.weekday() - weekday) % 7
    if back == 0 and m.groupdict().get("rel"):
        back = 7
    day = as_of - timedelta(days=back)
    return day, day


def _r_weekend(m: re.Match[str], as_of: date, year: int | None) -> Span:
    """A weekend. "last weekend": Sat–Sun of the previous Mon–Sun week. "this weekend", "the past weekend",
    "over the weekend": the current one when as_of is a Saturday or Sunday (up to as_of), otherwise the one
    just gone (a question asked on a weekday is about news already written)."""
    monday = _week(as_of)[0]
    last = monday - timedelta(days=2), monday - timedelta(days=1)
    if m.group("rel").lower() == "last" or as_of.weekday() < 5:
        return last
    saturday = monday + timedelta(days=5)
    return saturday, as_of


_DAY_WORDS = {"today": 0, "tonight": 0, "this": 0, "yesterday": 1, "last": 1, "the": 2}


def _r_day_word(m: re.Match[str], as_of: date, year: int | None) -> Span:
    """A day near as_of: "today", "this morning", "yesterday", "last night", "the day before yesterday"."""
    day = as_of - timedelta(days=_DAY_WORDS[m.group("word").lower()])
    return day, day


def _r_this(m: re.Match[str], as_of: date, year: int | None) -> Span:
    """So far this week/month/year: "this week" (Monday .. as_of), "this month", "this year" (to date)."""
    unit = m.group("unit").lower()
    if unit == "week":
        return _week(as_of)[0], as_of
    if unit == "month":
        return as_of.replace(day=1), as_of
    return date(as_of.year, 1, 1), as_of


def _r_last(m: re.Match[str], as_of: date, year: int | None) -> Span:
    """The previous calendar week (Mon–Sun), month or year: "last week", "last month", "last year"."""
    unit = m.group("unit").lower()
    if unit == "week":
        return _week(as_of - timedelta(days=7))
    if unit == "month":
        previous = as_of - relativedelta(months=1)
        return _month_range(previous.year, previous.month)
    return date(as_of.year - 1, 1, 1), date(as_of.year - 1, 12, 31)


_ROLLING_DAYS = {"hour": 1 / 24, "day": 1, "week": 7, "month": 30, "year": 365}


def _r_rolling(m: re.Match[str], as_of: date, year: int | None) -> Span:
    """A rolling window, as_of minus N units .. as_of (a month is 30 days): "the past week", "last 7 days"."""
    days = math.ceil(_count(m) * _ROLLING_DAYS[m.group("unit").lower()])
    return as_of - timedelta(days=max(days, 1)), as_of


def _r_ago(m: re.Match[str], as_of: date, year: int | None) -> Span:
    """A past period: "3 days ago" (that day), "2 weeks ago" (that Mon–Sun week), "a month ago" (that
    calendar month), "a year ago" (that calendar year)."""
    n, unit = _count(m), m.group("unit").lower()
    if unit == "day":
        day = as_of - timedelta(days=n)
        return day, day
    if unit == "week":
        return _week(as_of - timedelta(weeks=n))
    if unit == "month":
        then = as_of - relativedelta(months=n)
        return _month_range(then.year, then.month)
    return date(as_of.year - n, 1, 1), date(as_of.year - n, 12, 31)


_RECENT_DAYS = {None: 30, "days": 7, "weeks": 30, "months": 90}


def _r_recent(m: re.Match[str], as_of: date, year: int | None) -> Span:
    """A recent window: "recently", "lately" (30 days), "in recent days/weeks/months" (7/30/90 days)."""
    unit = m.group("unit")
    return as_of - timedelta(days=_RECENT_DAYS[unit.lower() if unit else None]), as_of


# ---------------------------------------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Rule:
    name: str
    core: str  # the expression itself, without its preposition
    resolve: Resolver
    preps: tuple[str, ...] | None = None  # required prepositions; None: any of _ANY_PREP, optional
    has_year: bool = False  # the expression names its year (so it can lend it to "between March and ...")
    takes_year: bool = False  # the expression has no year and can borrow one (its resolver uses ``year``)


RULES: tuple[_Rule, ...] = (
    # absolute dates
    _Rule("iso date", r"(?<![\d-])(?P<y>(?:19|20)\d\d)-(?P<m>[01]\d)-(?P<d>[0-3]\d)(?![\d-])", _r_iso, has_year=True),
    _Rule("month day year", rf"{_MON}\s+{_DAY},?\s+{_YEAR}", _r_full_date, has_year=True),
    _Rule("day month year", rf"(?<![\d$£€.,]){_DAY}\s+(?:of\s+)?{_MON},?\s+{_YEAR}", _r_full_date, has_year=True),
    # "in January 10 people died" is a month, not 10 January: no "in"/"during" before a month + day
    _Rule("month day", rf"(?<!\bin\s)(?<!\bduring\s){_MON}\s+{_DAY}(?!\s*,?\s*\d|[:.]\d|\s*(?:%|percent|per\s+cent))", _r_day_month, takes_year=True),
    _Rule("day month", rf"(?<![\d$£€.,]){_DAY}\s+(?:of\s+)?{_MON}(?!\s*,?\s*\d)", _r_day_month, takes_year=True),
    # months and years
    _Rule("month year", rf"(?:{_PART}[-\s]+)?{_MON},?\s+(?:of\s+)?{_YEAR}", _r_month_year, has_year=True),
    _Rule("month", rf"(?:{_PART}[-\s]+)?{_MON}(?!'s|\s*\d)", _r_month, preps=_MONTH_PREPS, takes_year=True),
    _Rule("part of month", rf"{_PART}[-\s]+{_MON}(?!'s|\s*\d)", _r_month, takes_year=True),
    _Rule("last month name", rf"(?P<rel>last|this(?:\s+past)?|past)\s+{_MON}(?!'s|\s*\d)", _r_month, takes_year=True),
    _Rule("year", rf"(?:{_PART}[-\s]+)?{_YEAR}(?:'s)?", _r_year, preps=_YEAR_PREPS, has_year=True),
    _Rule("part of year", rf"{_PART}[-\s]+{_YEAR}", _r_year, has_year=True),
    # weekdays and weekends
    _Rule("weekday", _WEEKDAY, _r_weekday, preps=_WEEKDAY_PREPS),
    _Rule("last weekday", rf"(?P<rel>last|this\s+past|past)\s+{_WEEKDAY}", _r_weekday),
    _Rule("weekend", r"(?P<rel>this\s+past|the\s+past|this|last|past|(?<=\bover\s)the)\s+weekend\b", _r_weekend),
    # relative to as_of
    # a quoted "Today" is a title (the NBC show, a newspaper), not a day
    _Rule("day word", r"(?<![\u201c\u2018\"'])(?P<word>today|tonight|yesterday)\b(?![\u201d\"]|[\u2019'](?!s\b))", _r_day_word),
    _Rule("day part", r"(?P<word>this|last)\s+(?:morning|afternoon|evening|night)\b", _r_day_word),
    _Rule("day before yesterday", r"(?P<word>the)\s+day\s+before\s+yesterday\b", _r_day_word),
    _Rule("this unit", r"(?:(?:earlier|later)\s+)?this\s+(?P<unit>week|month|year)\b(?!\s+of\b)", _r_this),
    _Rule("last unit", r"last\s+(?P<unit>week|month|year)\b(?!\s+of\b)", _r_last),
    _Rule("past unit", r"(?:the\s+(?:past|last)|this\s+past|past)\s+(?P<unit>hour|day|week|month|year)\b(?!\s+of\b)", _r_rolling),
    _Rule("past n units", rf"(?:the\s+)?(?:past|last)\s+{_NUM}\s+(?P<unit>hour|day|week|month|year)s?\b", _r_rolling),
    _Rule("ago", rf"{_NUM}\s+(?P<unit>day|week|month|year)s?\s+ago\b", _r_ago),
    _Rule("recently", r"recently\b|lately\b|(?:in\s+)?recent\s+(?P<unit>days|weeks|months)\b", _r_recent),
)  # fmt: skip


def _compile(rule: _Rule) -> re.Pattern[str]:
    if rule.preps is None:
        preps = "|".join((*_ANY_PREP, *_OPENERS, *_CLOSERS, *_LISTERS[1:]))
        return re.compile(rf"(?:\b(?P<prep>{preps})\s+)?\b(?P<core>{rule.core})", re.IGNORECASE)
    preps = "|".join(dict.fromkeys((*rule.preps, *_OPENERS, *_CLOSERS, *_LISTERS)))
    return re.compile(rf"\b(?P<prep>{preps})\s+\b(?P<core>{rule.core})", re.IGNORECASE)


_COMPILED = tuple((rule, _compile(rule)) for rule in RULES)


# ---------------------------------------------------------------------------------------------------------
# Matching
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Hit:
    start: int
    end: int
    order: int  # row in RULES (ties: the earlier row wins)
    rule: _Rule
    match: re.Match[str]
    span: Span

    @property
    def prep(self) -> str | None:
        prep = self.match.group("prep")
        return prep.lower() if prep else None


def _hits(question: str, as_of: date) -> list[_Hit]:
    """Every resolvable match of every row, then the longest of overlapping ones, left to right."""
    found = []
    for order, (rule, pattern) in enumerate(_COMPILED):
        for match in pattern.finditer(question):
            span = rule.resolve(match, as_of, None)
            if span is not None:
                found.append(_Hit(match.start(), match.end(), order, rule, match, span))
    found.sort(key=lambda h: (h.start, -h.end, h.order))
    chosen: list[_Hit] = []
    for hit in found:
        if not chosen or hit.start >= chosen[-1].end:
            chosen.append(hit)
    return chosen


def _apply_prep(prep: str | None, span: Span, as_of: date) -> Span:
    since, until = span
    if prep == "since":
        return since, as_of
    if prep == "after":
        return until + timedelta(days=1), as_of
    if prep == "before":
        return EARLIEST, since - timedelta(days=1)
    if prep in {"until", "till", "through", "thru"}:
        return EARLIEST, until
    return since, until


def _joined(first: _Hit, second: _Hit, question: str, as_of: date) -> Span | None:
    """The range two adjacent hits make together, or None when they do not form one.

    "between March and May 2024", "from 2019 to 2021": a range. "on Dec 30 and Dec 31, 2021", "in 2023 and
    2024": a list (the year perhaps written once), covered by one range. A month or day without a year
    borrows the second one's year (or the year before: "between December and March 2024").
    """
    if question[first.end : second.start].strip():
        return None
    is_range = first.prep in _OPENERS and second.prep in _CLOSERS
    is_list = (
        first.prep in _LIST_HEADS
        and second.prep in _LISTERS
        and second.rule.has_year
        and (first.rule.takes_year or first.rule is second.rule)  # "Dec 30 and Dec 31, 2021", "2023 and 2024"
    )
    if not (is_range or is_list):
        return None
    start = first.span
    if first.rule.takes_year and second.rule.has_year:
        year = second.span[0].year
        start = first.rule.resolve(first.match, as_of, year) or start
        if start[0] > second.span[1]:
            start = first.rule.resolve(first.match, as_of, year - 1) or start
    return (start[0], second.span[1]) if start[0] <= second.span[1] else None


def _candidates(question: str, as_of: date) -> list[tuple[int, int, Span]]:
    """(start, end, span) of every time expression in the question, after joins and prepositions."""
    hits = _hits(question, as_of)
    out: list[tuple[int, int, Span]] = []
    i = 0
    while i < len(hits):
        hit = hits[i]
        joined = _joined(hit, hits[i + 1], question, as_of) if i + 1 < len(hits) else None
        if joined is not None:
            out.append((hit.start, hits[i + 1].end, joined))
            i += 2
            continue
        standalone = _ANY_PREP if hit.rule.preps is None else hit.rule.preps
        if hit.prep is None or hit.prep in standalone:
            out.append((hit.start, hit.end, _apply_prep(hit.prep, hit.span, as_of)))
        elif hit.rule.preps is None:  # "Biden and December 2021": "and" is no part of the date
            out.append((hit.match.start("core"), hit.end, hit.span))
        # else: "and May", "between May", "from May" alone: a bare month or year needs a real preposition
        i += 1
    return [(s, e, span) for s, e, span in out if span[0] <= span[1]]


def resolve_time(question: str, as_of: date) -> TimeRange | None:
    """The inclusive date range the first time expression in ``question`` refers to, or None without one.

    Relative expressions ("last week", "3 days ago", "in March") are resolved against ``as_of``.
    """
    for start, end, (since, until) in _candidates(question, as_of):
        return TimeRange(since, until, question[start:end])
    return None


def strip_time(question: str, time_range: TimeRange | None) -> str:
    """``question`` without the time expression ``time_range`` came from (the text the retrievers match on).

    Returns the question unchanged when ``time_range`` is None or its text is not in the question.
    """
    if time_range is None or not time_range.text:
        return question
    index = question.find(time_range.text)
    if index < 0:
        return question
    stripped = question[:index] + " " + question[index + len(time_range.text) :]
    stripped = re.sub(r"\s+", " ", stripped)
    stripped = re.sub(r"\s+([?.!,;:])", r"\1", stripped)
    stripped = re.sub(r"([,;:])(?=[?.!,;:])", "", stripped)  # "In 2021, what ...?" → ", what" → "what"
    stripped = stripped.strip().lstrip(",;: ")
    return (
        stripped[:1].upper() + stripped[1:] if stripped[:1].islower() and question[:1].isupper() else stripped
    )
