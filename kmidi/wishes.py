"""Musical words in free text are wishes: genre, dance and meter, tempo, instrument, length.

"A slow waltz for my grandmother" asks for 3/4 at a slow tempo as surely as the
``technical`` fields do. ``heard_wishes`` finds such words (the vocabulary is
``kmidi/data/music_words.json``, in English, Spanish, German, French, Portuguese and
Italian) and reports what it heard, the words that said it, and contradictions ("slow
and upbeat"). Explicit ``technical`` fields always win over words; the planner applies
what is left and names it in the plan's explanations.

Matching is plain: lower-cased text, phrases on word boundaries, longest phrase first, a
phrase just after a negation ("no drums", "nothing jazzy", "sin piano") ignored. A
library would not know this vocabulary; the list is small enough to read in one sitting.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

_NUMBERS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "a": 1, "an": 1, "half a": 0.5,
}  # fmt: skip
_NUMBER = r"(\d+(?:[.,]\d+)?|" + "|".join(sorted(_NUMBERS, key=len, reverse=True)) + r")"
_BPM = re.compile(r"\b(\d{2,3})\s*(?:bpm|beats per minute|beats a minute)\b")
_MINUTES = re.compile(
    _NUMBER + r"[\s-]*(?:minutes?|mins?|minuten|minutos|minuti|minutos)\b", re.IGNORECASE
)
_SECONDS = re.compile(r"\b(\d+)[\s-]*(?:seconds?|secs?|segundos|sekunden|secondes|secondi)\b")
_BARS = re.compile(r"\b(\d+)[\s-]*(?:bars?|measures?|takte|compases|mesures|battute)\b")
_NEGATION_REACH = 2
"""Words after a negation that it still covers ("no jazz", "not too slow")."""


@dataclass(frozen=True, slots=True)
class HeardWishes:
    """What the text asked for; None where it asked nothing."""

    genre: str | None = None
    time_signature: str | None = None
    bpm: float | None = None
    tempo_word: str | None = None
    """The number, tempo or dance word that set ``bpm`` (for the explanation)."""
    energy: str | None = None
    """"calm" or "lively": a feel that caps or floors the emotion's own tempo."""
    energy_bpm: float | None = None
    """The cap ("calm") or floor ("lively")."""
    instrument: str | None = None
    program: int | None = None
    """General MIDI program of ``instrument``."""
    solo: bool = False
    """"solo piano", "just a guitar": the instrument plays every pitched part."""
    seconds: float | None = None
    bars: int | None = None
    words: tuple[tuple[str, str], ...] = ()
    """(what, the words that said it) for each wish, in the order found."""
    conflicts: tuple[str, ...] = ()
    """Contradictions in the words, said in a sentence each."""

    @property
    def empty(self) -> bool:
        return not self.words


@dataclass(slots=True)
class _Finder:
    """Phrase search over one text, aware of negations and of phrases already taken."""

    text: str
    negations: tuple[str, ...]
    used: list[tuple[int, int]] = field(default_factory=list)

    def first(self, category: str) -> tuple[str, str, int] | None:
        """(entry name, the phrase found, where) of the earliest phrase of a vocabulary
        category in the text (the longest one at that place: "slow waltz" over "waltz"),
        not negated and not inside a phrase already taken; it is taken."""
        pattern, owner = _matcher(category)
        for match in pattern.finditer(self.text):
            start, end = match.span()
            if any(a < end and start < b for a, b in self.used) or self._negated(start):
                continue
            self.used.append((start, end))
            return owner[match.group(0)], match.group(0), start
        return None

    def _negated(self, start: int) -> bool:
        before = re.findall(r"[\w'-]+", self.text[:start])[-_NEGATION_REACH:]
        return any(word in self.negations for word in before)


@cache
def _vocabulary() -> dict[str, Any]:
    text = resources.files("kmidi").joinpath("data/music_words.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


@cache
def _matcher(category: str) -> tuple[re.Pattern[str], dict[str, str]]:
    """One compiled alternation of every phrase of a category, longest first, and the
    entry each phrase belongs to (a pattern per phrase cost a millisecond a call)."""
    owner: dict[str, str] = {}
    for name, entry in _vocabulary()[category].items():
        for phrase in entry["words"] if isinstance(entry, dict) else entry:
            owner.setdefault(phrase, name)
    alternation = "|".join(re.escape(p) for p in sorted(owner, key=len, reverse=True))
    return re.compile(rf"(?<![\w-])(?:{alternation})(?![\w-])"), owner


def _number(text: str) -> float:
    return float(_NUMBERS.get(text.lower(), 0) or text.replace(",", "."))


def heard_wishes(*texts: str | None) -> HeardWishes:
    """The musical wishes stated in ``texts`` (the intent's free-text fields)."""
    vocab = _vocabulary()
    text = " ".join(t for t in texts if t).lower()
    finder = _Finder(text, tuple(vocab["negations"]))
    wishes: dict[str, Any] = {}
    words: list[tuple[str, str]] = []
    conflicts: list[str] = []

    dance = finder.first("dances")
    if dance is not None:
        name, phrase, _ = dance
        entry = vocab["dances"][name]
        wishes["time_signature"] = entry["time_signature"]
        wishes["bpm"], wishes["tempo_word"] = float(entry["bpm"]), phrase
        if "genre" in entry:
            wishes["genre"] = entry["genre"]
        if "instrument" in entry:
            wishes["instrument"] = entry["instrument"]
        words.append((f"{name} ({entry['time_signature']})", phrase))
    meter = finder.first("meters")
    if meter is not None:  # a meter said outright beats a dance's own
        wishes["time_signature"] = meter[0]
        words.append((f"meter {meter[0]}", meter[1]))
    genre = finder.first("genres")
    if genre is not None:
        wishes["genre"] = genre[0]
        words.append((f"genre {genre[0]}", genre[1]))
    _tempo(finder, vocab, wishes, words, conflicts)
    _instrument(finder, vocab, wishes, words)
    _length(text, finder, vocab, wishes, words)
    return HeardWishes(**wishes, words=tuple(words), conflicts=tuple(conflicts))


def _tempo(
    finder: _Finder,
    vocab: dict[str, Any],
    wishes: dict[str, Any],
    words: list[tuple[str, str]],
    conflicts: list[str],
) -> None:
    """A number of bpm beats a tempo word, which beats a dance's tempo; an energy word
    ("gentle", "upbeat") is kept as a feel. A tempo word and an energy word that disagree
    are reported (the tempo word keeps the tempo)."""
    explicit = _BPM.search(finder.text)
    tempo = finder.first("tempo")
    energy = finder.first("energy")
    if explicit is not None and 40 <= int(explicit.group(1)) <= 240:
        wishes["bpm"], wishes["tempo_word"] = float(explicit.group(1)), explicit.group(0)
        words.append((f"{explicit.group(1)} bpm", explicit.group(0)))
    elif tempo is not None:
        wishes["bpm"] = float(vocab["tempo"][tempo[0]]["bpm"])
        wishes["tempo_word"] = tempo[1]
        words.append((f"{tempo[0]} tempo", tempo[1]))
    if energy is not None:
        wishes["energy"] = energy[0]
        wishes["energy_bpm"] = float(vocab["energy"][energy[0]]["bpm"])
        words.append((f"{energy[0]} energy", energy[1]))
    if tempo is not None and energy is not None:
        fast_tempo = vocab["tempo"][tempo[0]]["bpm"] > 100
        lively = vocab["energy"][energy[0]]["bpm"] > 100
        if fast_tempo != lively:
            conflicts.append(
                f'"{tempo[1]}" and "{energy[1]}" pull the tempo both ways: '
                f'kept "{tempo[1]}" for the tempo, "{energy[1]}" for the feel.'
            )


def _instrument(
    finder: _Finder, vocab: dict[str, Any], wishes: dict[str, Any], words: list[tuple[str, str]]
) -> None:
    found = finder.first("instruments")
    name = found[0] if found is not None else wishes.get("instrument")
    if name is None:
        return
    wishes["instrument"] = name
    wishes["program"] = int(vocab["instruments"][name]["program"])
    if found is None:
        return
    _, phrase, at = found
    before = re.findall(r"[\w'-]+", finder.text[:at])[-2:]
    after = re.findall(r"[\w'-]+", finder.text[at + len(phrase) :])[:1]
    wishes["solo"] = any(w in vocab["solo"] for w in before) or after == ["solo"]
    words.append((("solo " if wishes["solo"] else "") + name, phrase))


def _length(
    text: str,
    finder: _Finder,
    vocab: dict[str, Any],
    wishes: dict[str, Any],
    words: list[tuple[str, str]],
) -> None:
    minutes, seconds, bars = _MINUTES.search(text), _SECONDS.search(text), _BARS.search(text)
    if bars is not None and 1 <= int(bars.group(1)) <= 256:
        wishes["bars"] = int(bars.group(1))
        words.append((f"{bars.group(1)} bars", bars.group(0)))
    elif minutes is not None and 0 < _number(minutes.group(1)) <= 20:
        wishes["seconds"] = _number(minutes.group(1)) * 60
        words.append((f"{_number(minutes.group(1)):g} minutes", minutes.group(0)))
    elif seconds is not None and 5 <= int(seconds.group(1)) <= 1200:
        wishes["seconds"] = float(seconds.group(1))
        words.append((f"{seconds.group(1)} seconds", seconds.group(0)))
    else:
        found = finder.first("length")
        if found is not None:
            wishes["seconds"] = float(vocab["length"][found[0]]["seconds"])
            words.append((f"a {found[0]} piece", found[1]))


__all__ = ["HeardWishes", "heard_wishes"]
