"""Multiple choice: which of a quiz's options the passages name, so the prompt can point at the evidence.

A 1.5B model weighs four options against several passages poorly; when exactly one option is named in the
passages it reads, saying so (and where) is a fact about the passages, not a guess. A question that asks
for the odd one out ("all of these except", "which did not") is left alone: there the one named option is
more likely the wrong pick.
"""

from __future__ import annotations

import re

from qa.models import Passage

_NEGATED = re.compile(r"\b(?:except|not|never|n't|none)\b", re.IGNORECASE)
_WORD = re.compile(r"[a-z0-9]+")


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("’", "'"))


def _names(choice: str, passage: str) -> bool:
    """Whether the passage contains the choice as a whole-word sequence (case and punctuation ignored)."""
    want, have = _words(choice), _words(passage)
    n = len(want)
    return n > 0 and any(have[i : i + n] == want for i in range(len(have) - n + 1))


def choice_hint(question: str, choices: list[str], passages: list[Passage]) -> str:
    """ "Of the choices, only (B) is named in the passages, in [2]." when exactly one choice is; else ""."""
    if _NEGATED.search(question):
        return ""
    named = {i: [p.n for p in passages if _names(choice, p.text)] for i, choice in enumerate(choices[:10])}
    found = [i for i, where in named.items() if where]
    if len(found) != 1:
        return ""
    i = found[0]
    cited = "".join(f"[{n}]" for n in named[i])
    return f"Of the choices, only ({'ABCDEFGHIJ'[i]}) {choices[i]} is named in the passages, in {cited}."
