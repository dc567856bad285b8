"""Sarcasm: praise said over a mishap means its opposite.

"Oh great, my flight got cancelled again" is not joy. ``find_irony`` finds the words
that may mark sarcasm (the vocabulary is ``kmidi/data/sarcasm.json``, in the six
languages kmidi reads) and hands back the text without them; ``kmidi.affect`` reads what
is left and decides, by the strongest marker found:

- a *certain* marker ("/s", "yeah right", "just what I needed", "oh sure, because",
  "who needs sleep anyway", "na toll", 🙄) is ironic wherever it stands;
- *praise*: a praise word standing alone at the start of a clause ("Great, …", "oh
  perfect.", "Amazing. Truly amazing.", "cool cool cool") or a praise phrase ("best day
  ever", "another wonderful day", "great job") is ironic only when the rest of the text
  holds trouble (an unpleasant feeling, or a mishap word such as "again", "cancelled",
  "traffic") and nothing else pleasant: "Great, I passed!" stays joy;
- *enthusiasm* ("can't wait to", "I just love it when", "nothing says … like", "ten out
  of ten") is ironic only over a chore or an annoyance named in the text ("my taxes", "a
  double shift", "people chewing with their mouth open") or a mishap that is not one of
  the language's ``weak`` words ("again", "another"), and nothing else pleasant: "can't
  wait to see you again" stays joy. Praise written in capitals ("I just LOVE it when…")
  is ironic over any trouble.

The other direction, a *mock complaint* ("I hate how good this lasagne is", "my friends
are the worst, they threw me a surprise party", "stupidly beautiful"), is found by
``find_mock``: the complaint words are set aside and, when what is left is clearly
pleasant and holds no trouble, the pleasant reading stands (``kmidi.affect``). And a
mishap said to happen again ("the technician didn't show up for the third time") voices
irritation even without a feeling word (``find_repeat``).

Matching is plain regular expressions over the text, case-insensitive, on word
boundaries; a few forms are patterns ("nothing says … like", "after only three weeks").
No package on PyPI detects sarcasm without a model downloaded at run time (checked:
sarcasm-detector and the like wrap transformer weights); the list is small enough to read
in one sitting.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

from kmidi.lexicon import read_data

Tier = Literal["certain", "praise", "enthusiasm"]
_RANK: dict[Tier, int] = {"certain": 0, "praise": 1, "enthusiasm": 2}
_CLAUSE_START = r"(?:^|(?<=[.!?…:;,(\"“-]))\s*"
_CLAUSE_END = r"(?=\s*(?:[,.!?…:;)\"”-]|$))"
_SHOUTED = re.compile(r"\b[^\W\d_]{3,}\b")
_WORD = re.compile(r"[^\W\d_]+")
_COMMON = frozenset(
    [
        "the",
        "a",
        "an",
        "i",
        "my",
        "me",
        "it",
        "is",
        "for",
        "of",
        "to",
        "and",
        "you",
        "so",
        "just",
        "that",
        "this",
        "when",
        "what",
        "how",
    ]
)
"""Words too common to choose as a phrase's trigger ("love *that* for me")."""


@dataclass(frozen=True, slots=True)
class Irony:
    """Words that may mark sarcasm, and the text without them."""

    marker: str
    """The first marker, as written."""
    rest: str
    """The text with every marker removed."""
    certain: bool
    """A marker that is ironic wherever it stands."""
    tier: Tier = "praise"
    """The strongest kind of marker found (``certain`` when ``certain``)."""
    shouted: bool = False
    """A marker written in capitals ("I just LOVE it when…")."""


@dataclass(frozen=True, slots=True)
class _Patterns:
    markers: tuple[tuple[Tier, re.Pattern[str]], ...]
    trouble: re.Pattern[str]
    chores: re.Pattern[str] | None
    weak: frozenset[str]
    """Trouble words too common to carry enthusiasm's irony alone ("again", "another")."""
    triggers: frozenset[str]
    """Words one of which every marker holds (a phrase's longest word, or a pattern's
    ``pattern_words``): a text with none of them is not searched."""
    marks: tuple[str, ...]
    """Markers that start with no word ("/s", "🙄", "10/10"): searched for as written."""


def _alternation(phrases: Sequence[str]) -> str:
    """Longest first, so "just great" wins over "great"."""
    ordered = sorted(phrases, key=len, reverse=True)
    return "(?:" + "|".join(re.escape(p) for p in ordered) + ")"


def _words(phrases: Sequence[str], patterns: Sequence[str] = ()) -> str:
    """Phrases on word boundaries, and regular expressions that start on one."""
    alternatives = [rf"(?<!\w){_alternation(phrases)}(?!\w)"] if phrases else []
    alternatives += [rf"(?<!\w)(?:{pattern})" for pattern in patterns]
    return "|".join(alternatives) or r"(?!x)x"


def _compile(entry: dict[str, Any]) -> _Patterns:
    word = _alternation(entry["interjections"])
    leads = _alternation(entry.get("leads", ["oh", "ah", "wow", "well"]))
    adverbs = _alternation(entry.get("adverbs", ["just", "truly", "really", "so", "simply"]))
    # One praise word, or the same said again ("cool cool cool", "great, great").
    praised = rf"(?:{adverbs}\s+)?{word}(?:[,\s]+(?:{adverbs}\s+)?{word})*"
    interjection = (
        rf"{_CLAUSE_START}(?:{leads}[,\s]+)?{praised}{_CLAUSE_END}"
        rf"|(?<!\w){leads}[,\s]+{praised}(?!\w)"
    )
    flags = re.IGNORECASE
    certain = _words(entry["certain"], entry.get("certain_patterns", []))
    phrases = _words(entry["phrases"], entry.get("phrase_patterns", []))
    enthusiasm = entry.get("enthusiasm", [])
    enthusiasm_patterns = entry.get("enthusiasm_patterns", [])
    markers: list[tuple[Tier, re.Pattern[str]]] = [
        ("certain", re.compile(certain, flags)),
        # Phrases first: at one position the first alternative wins ("thanks, universe"
        # over "thanks").
        ("praise", re.compile(rf"{phrases}|{interjection}", flags)),
    ]
    if enthusiasm or enthusiasm_patterns:
        markers.append(("enthusiasm", re.compile(_words(enthusiasm, enthusiasm_patterns), flags)))
    chores = entry.get("chores", [])
    triggers: set[str] = {word.lower() for word in entry.get("pattern_words", [])}
    marks: list[str] = []
    # Leads and adverbs only come with an interjection, so the interjection is the trigger;
    # a phrase's longest uncommon word is its rarest.
    for key in ("certain", "interjections", "phrases", "enthusiasm"):
        for phrase in entry.get(key, []):
            lowered = str(phrase).lower()
            words = _WORD.findall(lowered)
            if not words or not lowered.startswith(words[0]):
                marks.append(lowered)
            else:
                telling = [word for word in words if word not in _COMMON] or words
                triggers.add(max(reversed(telling), key=len))  # ties: the later word
    return _Patterns(
        markers=tuple(markers),
        trouble=re.compile(_words(entry["trouble"], entry.get("trouble_patterns", [])), flags),
        chores=re.compile(_words(chores), flags) if chores else None,
        weak=frozenset(word.lower() for word in entry.get("weak", [])),
        triggers=frozenset(triggers),
        marks=tuple(marks),
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
    lowered = text.lower()
    if patterns.triggers.isdisjoint(_WORD.findall(lowered)) and not any(
        mark in lowered for mark in patterns.marks
    ):
        return None
    matches = [
        (match, tier)
        for tier, pattern in patterns.markers
        for match in pattern.finditer(text)
        if match.group().strip()
    ]
    if not matches:
        return None
    found: list[tuple[re.Match[str], Tier]] = []
    for match, tier in sorted(matches, key=lambda m: (m[0].start(), -m[0].end(), _RANK[m[1]])):
        if not found or match.start() >= found[-1][0].end():  # overlaps keep the longer
            found.append((match, tier))
    rest = text
    for match, _ in reversed(found):
        rest = rest[: match.start()] + " " + rest[match.end() :]
    # A certain marker inside a longer one ("just great" in "Great, just great") counts.
    tier = min((tier for _, tier in matches), key=_RANK.__getitem__)
    shouted = any(word.isupper() for match, _ in found for word in _SHOUTED.findall(match.group()))
    first = found[0][0].group().strip(" ,")
    return Irony(first, rest, tier == "certain", tier, shouted)


@dataclass(frozen=True, slots=True)
class _Mock:
    pattern: re.Pattern[str]
    certain: frozenset[str]
    """Mock markers that are hyperbole wherever they stand ("Tragic.", "poor me", "first
    world problems"): the complaints beside them are mock too."""
    triggers: frozenset[str]


@cache
def _mock(language: str) -> _Mock | None:
    entry = read_data("sarcasm.json")["languages"].get(language)
    certain = [] if entry is None else entry.get("mock_certain", [])
    phrases = certain + ([] if entry is None else entry.get("mock", []))
    if not phrases:
        return None
    triggers = set()
    for phrase in phrases:
        words = _WORD.findall(str(phrase).lower())
        telling = [word for word in words if word not in _COMMON] or words
        triggers.add(max(reversed(telling), key=len))
    pattern = re.compile(_words(phrases), re.IGNORECASE)
    return _Mock(pattern, frozenset(phrase.lower() for phrase in certain), frozenset(triggers))


def find_mock(text: str, language: str) -> Irony | None:
    """Words of a complaint that may be mock ("I hate how…", "the worst", "stupidly"), and
    the text without them; ``kmidi.affect`` keeps the complaint when the rest is not
    clearly pleasant ("I hate how late the bus is" stays anger). ``certain`` when one of
    them is hyperbole wherever it stands ("Tragic.", "poor me")."""
    mock = _mock(language)
    if mock is None or mock.triggers.isdisjoint(_WORD.findall(text.lower())):
        return None
    found = list(mock.pattern.finditer(text))
    if not found:
        return None
    rest = text
    for match in reversed(found):
        rest = rest[: match.start()] + " " + rest[match.end() :]
    certain = any(match.group().lower() in mock.certain for match in found)
    return Irony(found[0].group().strip(" ,"), rest, certain)


@cache
def _repeat(language: str) -> re.Pattern[str] | None:
    entry = read_data("sarcasm.json")["languages"].get(language)
    words = [] if entry is None else entry.get("repeat", [])
    patterns = [] if entry is None else entry.get("repeat_patterns", [])
    return re.compile(_words(words, patterns), re.IGNORECASE) if words or patterns else None


def find_repeat(text: str, language: str) -> str | None:
    """A word saying a mishap happened again ("again", "for the third time", "otra vez",
    "schon wieder", "encore une fois"), as written, or None."""
    pattern = _repeat(language)
    match = None if pattern is None else pattern.search(text)
    return None if match is None else match.group()


def has_trouble(text: str, language: str, *, strong: bool = False) -> bool:
    """Whether ``text`` names an everyday mishap ("again", "cancelled", "traffic"); with
    ``strong``, one that is not among the language's ``weak`` words ("again", "another")."""
    patterns = _patterns(language)
    if patterns is None:
        return False
    return any(
        not strong or match.group().lower() not in patterns.weak
        for match in patterns.trouble.finditer(text)
    )


def has_chore(text: str, language: str) -> bool:
    """Whether ``text`` names a chore or an annoyance ("my taxes", "a double shift")."""
    patterns = _patterns(language)
    return (
        patterns is not None
        and patterns.chores is not None
        and patterns.chores.search(text) is not None
    )


__all__ = [
    "Irony",
    "find_irony",
    "find_mock",
    "find_repeat",
    "has_chore",
    "has_trouble",
    "irritation",
]
