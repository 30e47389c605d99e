"""What a chat question asks for beyond an answer: the timeline of a story.

"How did the story develop?", "How has the crisis unfolded since the call?", "Give me a timeline of the
Geneva talks", "the sanctions dispute, day by day" ask how a story went, not for one fact: the chat answers
them with the story's timeline (:func:`qa.timeline.build_timeline`). :func:`timeline_request` tells them
apart from ordinary questions, and :func:`story_query` cuts the request's own words off, leaving the
story to search for.

The request words must go before the search: "Timeline" or "Show" opening a question would count as names
that no article mentions (``qa.abstain.missing_names``), so the timeline would come back empty. Measured on
the sample corpus (2026-12-06, eight requests about the Putin–Biden call, ``build_timeline``): the raw
request kept both reports for 5 of 8 ("Timeline of the Putin-Biden call" and "Show the chronology of …"
came back empty, a "day by day" one kept one report either way), the story alone for 7 of 8; the best
passage's cosine rose by 0.05–0.10 for seven requests and fell by 0.035 for one ("How has the dispute over
Ukraine unfolded?", same two reports kept). Two off-topic requests stayed empty either way.
"""

from __future__ import annotations

import re
from datetime import date

from qa.timerange import resolve_time, strip_time

# intransitive "develop" and its kin; "play out" too. "How did Russia develop missiles?" has an object
# after the verb, which the tail below does not allow
_VERB = (
    r"(?:develop(?:ed|s|ing)?|unfold(?:ed|s|ing)?|evolv(?:e|ed|es|ing)|progress(?:ed|es|ing)?|"
    r"play(?:ed|s|ing)?\s+out)"
)
# what may follow the verb up to the end of the question: nothing, or when ("since the call", "this week")
_TAIL = (
    r"(?:\s*,?\s+(?:over|since|through|throughout|during|in|on|across|after|before|from|until|till|"
    r"between|so\s+far|this|last|today|yesterday|recently|then|later|afterwards|day|week|month|year)\b"
    r"[^?!.;]*)?\s*[?!.]*\s*$"
)
_HOW = re.compile(
    r"\bhow\s+(?:(?:did|has|have|had|is|are|was|were|does|do|will)\s+)?(?P<subject>\S.*?)\s+"
    rf"(?:(?:been|then|really|actually|further)\s+)*{_VERB}\b{_TAIL}",
    re.IGNORECASE,
)
_NOUN = re.compile(
    r"\b(?:time[\s-]?lines?|chronolog(?:y|ies|ical|ically)|day[\s-]+by[\s-]+day|"
    r"(?:sequence|course)\s+of\s+events)\b",
    re.IGNORECASE,
)
# "What is the timeline for the withdrawal?" asks for a schedule, not for the story so far
_SCHEDULE = re.compile(r"\b(?:what|when)\b.*\btime[\s-]?line\s+for\b", re.IGNORECASE)

_OPENING = re.compile(
    r"^(?:(?:please|so|and|ok|okay|now|then)\b[\s,]*)*(?:(?:can|could|would|will)\s+you\s+)?(?:please\s+)?"
    r"(?:(?:give|show|tell|walk|take)\s+(?:me|us)(?:\s+through)?|explain|describe|trace|summari[sz]e|outline|"
    r"show|give|list|make|build|create|what\s+(?:is|was|are)|what['’]s|whats|what\s+happened)?\b\s*",
    re.IGNORECASE,
)
_REQUEST_WORDS = [
    re.compile(r"\bhow\s+(?:(?:did|has|have|had|is|are|was|were|does|do|will)\b\s*)?", re.IGNORECASE),
    re.compile(rf"\b(?:(?:been|then|really|actually|further)\s+)*{_VERB}\b", re.IGNORECASE),
    re.compile(
        r"\b(?:(?:a|an|the)\s+)?(?:(?:short|brief|full|quick|complete)\s+)?(?:time[\s-]?lines?|chronology|"
        r"(?:sequence|course)\s+of\s+events)(?:\s+(?:of|for|on|about|in|around|covering))?\b",
        re.IGNORECASE,
    ),
    re.compile(
        r"\b(?:in\s+)?chronological(?:ly)?(?:\s+order)?\b|\b(?:day|step)[\s-]+by[\s-]+(?:day|step)\b|"
        r"\bover\s+time\b|\bso\s+far\b|\bsince\s+then\b|\bafterwards\b|\bwhat\s+happened\b",
        re.IGNORECASE,
    ),
]
_STORY_WORDS = r"(?:story|stories|situation|saga|affair|news|coverage|events?|developments?|things)"
_LEADING = re.compile(
    rf"^(?:(?:the|a|an|whole|entire|of|for|on|about|in|around|with|to|regarding|over|behind|surrounding)\b"
    rf"\s*|{_STORY_WORDS}\b\s*)+",
    re.IGNORECASE,
)
_TRAILING = re.compile(rf"(?:\s+{_STORY_WORDS})+$", re.IGNORECASE)
_PRONOUNS = frozenset("it this that they them these those things one".split())


def timeline_request(question: str) -> bool:
    """Whether ``question`` asks how a story developed (unfolded, evolved, played out, progressed) or for its
    timeline, chronology or sequence of events, or "day by day": the chat answers it with a timeline."""
    text = " ".join((question or "").split())
    if _HOW.search(text):
        return True
    return bool(_NOUN.search(text)) and not _SCHEDULE.search(text)


def story_query(question: str) -> str:
    """The story a timeline request names, its request words cut off: "How did the Putin Biden call story
    develop?" → "Putin Biden call"; time words stay ("… since the call"). "" when no story is named ("How
    did it develop?", "How did things develop this week?"): the caller then searches with the question."""
    text = " ".join((question or "").split())
    text = _OPENING.sub("", text, count=1)
    for words in _REQUEST_WORDS:
        text = words.sub(" ", text)
    text = " ".join(text.split()).strip(" ,;:?!.")
    text = _TRAILING.sub("", _LEADING.sub("", text)).strip(" ,;:?!.")
    rest = _LEADING.sub("", strip_time(text, resolve_time(text, date.today()))).strip(" ,;:?!.")
    return "" if not rest or rest.lower() in _PRONOUNS else text
