"""Sarcasm: praise said over a mishap means its opposite.

"Oh great, my flight got cancelled again" is not joy. ``find_irony`` finds the words
that may mark sarcasm (the vocabulary is ``kmidi/data/sarcasm.json``, in the six
languages kmidi reads) and hands back the text without them; ``kmidi.affect`` reads what
is left and decides:

- a *certain* marker ("/s", "yeah right", "just what I needed", "na toll", 🙄) is ironic
  wherever it stands;
- a praise word standing alone at the start of a clause ("Great, …", "oh perfect.") or a
  praise phrase ("best day ever", "thanks a lot") is ironic only when the rest of the text
  holds trouble (an unpleasant feeling, or a mishap word such as "again", "cancelled",
  "traffic") and nothing else pleasant: "Great, I passed!" stays joy.

Matching is plain regular expressions over the text, case-insensitive, on word
boundaries. No package on PyPI detects sarcasm without a model downloaded at run time
(checked: sarcasm-detector and the like wrap transformer weights); the list is small
enough to read in one sitting.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from kmidi.lexicon import read_data

_LEADS = r"(?:oh|ah|ay|wow|och|well)"
"""Words that may lead an ironic interjection: "oh great", "ah perfect"."""
_CLAUSE_START = r"(?:^|(?<=[.!?…:;,(\"“-]))\s*"
_CLAUSE_END = r"(?=\s*(?:[,.!?…:;)\"”-]|$))"


@dataclass(frozen=True, slots=True)
class Irony:
    """Words that may mark sarcasm, and the text without them."""

    marker: str
    """The first marker, as written."""
    rest: str
    """The text with every marker removed."""
    certain: bool
    """A marker that is ironic wherever it stands."""


@dataclass(frozen=True, slots=True)
class _Patterns:
    certain: re.Pattern[str]
    praise: re.Pattern[str]
    trouble: re.Pattern[str]


def _alternation(phrases: list[str]) -> str:
    """Longest first, so "just great" wins over "great"."""
    ordered = sorted(phrases, key=len, reverse=True)
    return "(?:" + "|".join(re.escape(p) for p in ordered) + ")"


def _words(phrases: list[str]) -> str:
    return rf"(?<!\w){_alternation(phrases)}(?!\w)"


def _compile(entry: dict[str, Any]) -> _Patterns:
    word = _alternation(entry["interjections"])
    interjection = (
        rf"{_CLAUSE_START}(?:{_LEADS}[,\s]+)?{word}{_CLAUSE_END}"
        rf"|(?<!\w){_LEADS}[,\s]+{word}(?!\w)"
    )
    flags = re.IGNORECASE
    return _Patterns(
        certain=re.compile(_words(entry["certain"]), flags),
        praise=re.compile(rf"{interjection}|{_words(entry['phrases'])}", flags),
        trouble=re.compile(_words(entry["trouble"]), flags),
    )


@cache
def _patterns(language: str) -> _Patterns | None:
    entry = read_data("sarcasm.json")["languages"].get(language)
    return None if entry is None else _compile(entry)


def irritation() -> float:
    """Score of the irritation that sarcasm itself voices (anger), from the data."""
    return float(read_data("sarcasm.json")["irritation"])


def find_irony(text: str, language: str) -> Irony | None:
    """The markers of possible sarcasm in ``text`` (read in ``language``), or None."""
    patterns = _patterns(language)
    if patterns is None:
        return None
    certain = list(patterns.certain.finditer(text))
    praise = list(patterns.praise.finditer(text))
    found: list[re.Match[str]] = []
    for match in sorted(certain + praise, key=lambda m: (m.start(), -m.end())):
        if not found or match.start() >= found[-1].end():  # overlaps keep the longer
            found.append(match)
    if not found:
        return None
    rest = text
    for match in reversed(found):
        rest = rest[: match.start()] + " " + rest[match.end() :]
    return Irony(found[0].group().strip(" ,"), rest, bool(certain))


def has_trouble(text: str, language: str) -> bool:
    """Whether ``text`` names an everyday mishap ("again", "cancelled", "traffic")."""
    patterns = _patterns(language)
    return patterns is not None and patterns.trouble.search(text) is not None


__all__ = ["Irony", "find_irony", "has_trouble", "irritation"]
