"""The emotion lexicon: tokeniser, suffix-rule stemmer and a phrase trie over ``lexicon.json``.

Everything is built once at import; a lookup is a walk over plain dicts. Lexicon terms and
text go through the same tokeniser and stemmer, so "grieving", "grieved" and "grieve" meet
at one key whether or not that key is a real English word.

``situations.json`` adds to the same trie what people write instead of naming a feeling:
situational cues (events, scenes), idioms and body sensations, all weighted below explicit
feeling words; phrasal verbs that carry no feeling ("sit down"); and contexts that re-weight
surface words around them (love words near a death read as grief).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any, Final, Literal

from kmidi.emotions import PRESETS
from kmidi.language import FOLD, FOLDED, expand_forms

TokenKind = Literal["word", "emoji", "number", "punct"]

CUE_CAP: Final = 0.9
"""Highest weight of a situational cue: a scene or event never outweighs a named feeling."""
IDIOM_CAP: Final = 1.0
"""Highest weight of an idiom or body sensation ("stomach in knots", "over the moon")."""


class LexiconError(ValueError):
    """The lexicon data file is malformed."""


@dataclass(frozen=True, slots=True)
class Token:
    """One token of input text."""

    surface: str
    """As written (case kept), for evidence."""
    key: str
    """Lower-cased, de-elongated, stemmed: what the trie is keyed on."""
    kind: TokenKind
    caps: bool = False
    """Written in capitals for emphasis ("AGAIN")."""
    elongated: bool = False
    """Letters stretched for emphasis ("sooo")."""


@dataclass(slots=True)
class Entry:
    """What one lexicon term (word or phrase) means."""

    hits: list[tuple[str, float]] = field(default_factory=list)
    """(preset name, weight) pairs."""
    modifiers: list[str] = field(default_factory=list)
    negator: bool = False
    breaker: bool = False
    """Ends a negation scope ("but", "because")."""
    contrast: bool = False
    """What follows outweighs what came before ("but", "though")."""
    scale: float = 1.0
    """Multiplier for the next emotion term: > 1 intensifies, < 1 dampens."""
    contexts: list[str] = field(default_factory=list)
    """Names of contexts this term switches on ("loss", "persistence"…)."""
    resolver: bool = False
    """Says the distress named before it in the clause is over ("exams are finally over")."""
    turn: bool = False
    """Opening a sentence of a long text, turns it: what came before weighs less ("Then…")."""
    aside: bool = False
    """Opening a sentence of a long text, makes it an aside that weighs less ("Anyway, …")."""


@dataclass(frozen=True, slots=True)
class Context:
    """A setting that changes what other words mean: part of one preset's score moves to another."""

    name: str
    shift: tuple[tuple[str, str, float], ...]
    """(source preset, target preset, share of the source's score that moves)."""
    reach: int = 0
    """In a long text, how many sentences after the one that switched it on it still colours."""
    unless: tuple[str, ...] = ()
    """Contexts that, when also on, keep this one from shifting anything."""


@dataclass(frozen=True, slots=True)
class Unit:
    """A matched span: one token, or a phrase of several, with its lexicon entry."""

    surface: str
    entry: Entry | None
    kind: TokenKind
    caps: bool
    elongated: bool
    scale: float = 1.0
    """Product of intensifiers/dampeners skipped inside the phrase."""
    key: str = ""
    """The stem when the unit is a single token (for negation transparency)."""


# --- stemming --------------------------------------------------------------------------

_STEM_EXCEPTIONS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "died": "die",
        "dies": "die",
        "dying": "die",
        "lost": "lose",
        "losing": "lose",
        "felt": "feel",
        "broke": "break",
        "broken": "break",
        "tore": "tear",
        "torn": "tear",
        "won": "win",
        "winning": "win",
        "fell": "fall",
        "fallen": "fall",
        "was": "be",
        "were": "be",
        "am": "be",
        "is": "be",
        "are": "be",
        "been": "be",
        "being": "be",
        "wept": "weep",
        "buried": "bury",
        "children": "child",
        "kids": "kid",
        "men": "man",
        "women": "woman",
        "saddest": "sad",
        "sadder": "sad",
        "angrier": "angry",
        "angriest": "angry",
        "calmer": "calm",
        "calmest": "calm",
        "lonelier": "lonely",
        "happier": "happy",
        "happiest": "happy",
        "madder": "mad",
        "better": "better",
        "worse": "worse",
        "went": "go",
        "gone": "gone",
        "made": "make",
        "left": "left",
        "ones": "one",
        "news": "news",
        "always": "always",
        "this": "this",
        "his": "his",
        "has": "have",
        "does": "do",
        "did": "do",
        "done": "done",
        "stars": "star",
        "us": "us",
        "yes": "yes",
        "nothing": "nothing",
        "something": "something",
        "anything": "anything",
        "everything": "everything",
        "morning": "morning",
        "evening": "evening",
        "ceiling": "ceiling",
        "wedding": "wedding",
        "building": "building",
        "feelings": "feel",
        "feeling": "feel",
        "sing": "sing",
        "thing": "thing",
        "things": "thing",
        "bring": "bring",
        "king": "king",
        "spring": "spring",
        "string": "string",
        "ring": "ring",
        "nothingness": "nothingness",
        "please": "please",
        "pleased": "pleased",
    }
)
_VOWELS: Final = frozenset("aeiouy")


def stem(word: str) -> str:
    """A crude but consistent stem of a lower-case word (suffix rules + exception table)."""
    if word in _STEM_EXCEPTIONS:
        return _STEM_EXCEPTIONS[word]
    if len(word) <= 3 or not word.isalpha():
        return word
    w = word
    stripped = False
    if w.endswith("iness") and len(w) > 6:
        return w[:-5] + "y"
    if w.endswith("ness") and len(w) > 6:
        return stem(w[:-4])
    if w.endswith("ily") and len(w) > 5:
        return w[:-3] + "y"
    if w.endswith(("ies", "ied")) and len(w) > 4:
        return w[:-3] + "y"
    if w.endswith("ier") and len(w) > 5:
        return w[:-3] + "y"
    if w.endswith("s") and not w.endswith(("ss", "us", "is")) and len(w) > 3:
        w = w[:-1]
    if w.endswith("ing") and len(w) > 5:
        w, stripped = w[:-3], True
    elif w.endswith("ed") and len(w) > 4:
        w, stripped = w[:-2], True
    if len(w) >= 2 and w[-1] == w[-2] and w[-1] not in _VOWELS:
        # "sobbing" -> "sob", and "miss"/"missed" both -> "mis" so the two forms meet.
        return w[:-1]
    if stripped and len(w) <= 3:
        return w + "e"  # "cared" -> "care", not "car"
    if w.endswith("e") and len(w) > 4:
        return w[:-1]  # "grieve" meets "grieving" at "griev"
    return w


# --- tokenising -----------------------------------------------------------------------

_EMOJI_CLASS = "\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff\u2300-\u23ff\u2190-\u21ff"
_TOKEN_RE: Final = re.compile(
    r"(?P<emoticon>(?<![\w:;])(?:>:\(|:'\(|[:;]-?[()DPp]|<3)(?![\w]))"
    r"|(?P<word>[^\W\d_]+(?:'[^\W\d_]+)*(?:-[^\W\d_]+)*)"
    r"|(?P<number>\d+(?:[.,:/]\d+)*)"
    r"|(?P<punct>[!?]+|[.,;:…]+|[—–]+)"
    rf"|(?P<emoji>[{_EMOJI_CLASS}](?:\u200d[{_EMOJI_CLASS}])*)"
)
_STRIP_TABLE: Final = str.maketrans(
    {
        "\u2019": "'",
        "\u2018": "'",
        "`": "'",
        "\ufe0f": None,
        "\ufe0e": None,
        **{chr(c): None for c in range(0x1F3FB, 0x1F400)},  # skin tones
    }
)
_ELONGATION_RE: Final = re.compile(r"([a-z])\1{2,}")
_CONTRACTIONS: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        "can't": ("can", "not"),
        "cant": ("can", "not"),
        "cannot": ("can", "not"),
        "won't": ("will", "not"),
        "wont": ("will", "not"),
        "ain't": ("be", "not"),
        "dont": ("do", "not"),
        "doesnt": ("does", "not"),
        "didnt": ("did", "not"),
        "isnt": ("is", "not"),
        "wasnt": ("was", "not"),
        "arent": ("are", "not"),
        "couldnt": ("could", "not"),
        "wouldnt": ("would", "not"),
        "shouldnt": ("should", "not"),
        "havent": ("have", "not"),
        "hasnt": ("has", "not"),
        "im": ("i", "am"),
        "ive": ("i", "have"),
        "idk": ("i", "do", "not", "know"),
    }
)
_SUFFIXES: Final = (("n't", "not"), ("'re", "are"), ("'m", "am"), ("'ve", "have"), ("'ll", "will"))


def _expand(word: str) -> tuple[str, ...]:
    """Split contractions so "don't" reads as "do not" and "I'm" as "i am"."""
    if word in _CONTRACTIONS:
        return _CONTRACTIONS[word]
    if "'" not in word:
        return (word,)
    for suffix, full in _SUFFIXES:
        if word.endswith(suffix) and len(word) > len(suffix):
            return (word[: -len(suffix)], full)
    if word.endswith(("'s", "'d")):
        return (word[:-2],)  # possessive/"is"/"would": the head word is what carries meaning
    return (word.replace("'", ""),)


def _split_elision(word: str) -> tuple[str, ...]:
    """Outside English an apostrophe separates an elided article or pronoun from its word:
    "j'ai" -> j ai, "l'amore" -> l amore."""
    if "'" not in word:
        return (word,)
    return tuple(piece for piece in word.split("'") if piece)


# --- the lexicon ----------------------------------------------------------------------

_TERMINAL: Final = ""
"""Trie key holding a node's Entry; no token key is ever empty."""

Trie = dict[str, Any]


class Lexicon:
    """A compiled lexicon: vocabulary of stems and a phrase trie of entries."""

    __slots__ = (
        "_fillers",
        "_fold",
        "_known",
        "_max_phrase",
        "_prefix_lengths",
        "_prefixes",
        "_transparent",
        "_trie",
        "_vocabulary",
        "context_presets",
        "contexts",
        "language",
        "negation_targets",
        "presets",
    )

    def __init__(
        self,
        document: Mapping[str, Any],
        situations: Mapping[str, Any] | None = None,
        *,
        language: str = "en",
    ) -> None:
        self.language = language
        """ISO 639-1 code of the language this lexicon reads ("en", "es"…)."""
        self._fold = language in FOLDED
        self._trie: Trie = {}
        self._vocabulary: set[str] = set()
        self._known: set[str] = set()
        """Every key of every term, in any position of a phrase."""
        self._prefixes: dict[str, str] = {}
        """Word beginning -> its trie key ("llor" -> "*llor"): see ``_compile_prefixes``."""
        self._prefix_lengths: tuple[int, ...] = ()
        self._max_phrase = 1
        self.presets: tuple[str, ...] = tuple(PRESETS)
        self.negation_targets: dict[str, tuple[str, float]] = {}
        self._fillers: dict[str, float] = {}
        self._transparent: frozenset[str] = frozenset()
        self.contexts: dict[str, Context] = {}
        self.context_presets: dict[str, tuple[tuple[str, float], ...]] = {}
        """Preset -> (context, minimum hit weight): a strong enough hit switches the context on."""
        self._compile(document)
        if situations is not None:
            self._compile_situations(situations, document.get("classes", {}))
        self._compile_prefixes(document.get("prefixes", {}))

    # building

    def _keys(self, term: str) -> list[str]:
        return [token.key for token in self.tokenise(term.lower(), expand_hyphens=False)]

    def _entry(self, term: str) -> Entry:
        keys = self._keys(term)
        if not keys:
            raise LexiconError(f"lexicon term {term!r} has no tokens")
        node = self._trie
        for key in keys:
            node = node.setdefault(key, {})
            self._known.add(key)
        self._max_phrase = max(self._max_phrase, len(keys))
        if len(keys) == 1:
            self._vocabulary.add(keys[0])
        entry: Entry = node.setdefault(_TERMINAL, Entry())
        return entry

    def _compile(self, doc: Mapping[str, Any]) -> None:
        classes: dict[str, list[str]] = {
            str(name): [str(m) for m in members] for name, members in doc.get("classes", {}).items()
        }
        for word in _CONTRACTIONS:
            self._vocabulary.add(word)
        emotions = doc.get("emotions")
        if not isinstance(emotions, dict) or not emotions:
            raise LexiconError("lexicon needs an 'emotions' object")
        for preset, terms in emotions.items():
            if preset not in PRESETS or preset == "neutral":
                raise LexiconError(f"lexicon names unknown preset {preset!r}")
            for term, weight in terms.items():
                if not isinstance(weight, int | float) or not 0.0 < float(weight) <= 1.5:
                    raise LexiconError(f"lexicon weight for {term!r} must be in (0, 1.5]")
                for expanded in self._expand_classes(term, classes):
                    _add_hit(self._entry(expanded), preset, float(weight))
        for modifier, terms in doc.get("modifiers", {}).items():
            for term in terms:
                self._entry(term).modifiers.append(modifier)
        for term in doc.get("negators", []):
            self._entry(term).negator = True
        for term in doc.get("scope_breakers", []):
            self._entry(term).breaker = True
        for term in doc.get("contrast", []):
            self._entry(term).contrast = True
        for term in doc.get("resolvers", []):
            self._entry(term).resolver = True
        for term in doc.get("turns", []):
            self._entry(term).turn = True
        for term in doc.get("asides", []):
            self._entry(term).aside = True
        for section in ("intensifiers", "dampeners"):
            for term, scale in doc.get(section, {}).items():
                self._entry(term).scale = float(scale)
        # One-word intensifiers and dampeners may sit inside a phrase ("feeling kinda down").
        for key, node in self._trie.items():
            entry = node.get(_TERMINAL)
            if entry is not None and not entry.hits and entry.scale != 1.0:
                self._fillers[key] = entry.scale
        self._transparent = frozenset(
            key for term in doc.get("negation_transparent", []) for key in self._keys(term)
        )
        for preset, (target, weight) in doc.get("negation_targets", {}).items():
            if preset not in PRESETS or target not in PRESETS:
                raise LexiconError(f"negation target {preset!r} -> {target!r} names no preset")
            self.negation_targets[preset] = (target, float(weight))

    def _compile_situations(self, doc: Mapping[str, Any], base: Mapping[str, Any]) -> None:
        """Cues, idioms, no-feeling phrasal verbs and contexts from ``situations.json``."""
        classes: dict[str, list[str]] = {
            str(name): [str(m) for m in members]
            for source in (base, doc.get("classes", {}))
            for name, members in source.items()
        }
        for section, cap in (("cues", CUE_CAP), ("idioms", IDIOM_CAP)):
            for preset, terms in doc.get(section, {}).items():
                if preset not in PRESETS or preset == "neutral":
                    raise LexiconError(f"situations {section} name unknown preset {preset!r}")
                for term, weight in terms.items():
                    if not isinstance(weight, int | float) or not 0.0 < float(weight) <= cap:
                        raise LexiconError(f"{section} weight for {term!r} must be in (0, {cap}]")
                    for expanded in self._expand_classes(term, classes):
                        _add_hit(self._entry(expanded), preset, float(weight))
        for term in doc.get("phrasal", []):
            for expanded in self._expand_classes(term, classes):
                self._entry(expanded)  # a span that is matched and means nothing
        by_preset: dict[str, list[tuple[str, float]]] = {}
        for name, spec in doc.get("contexts", {}).items():
            shift = []
            for source, (target, share) in spec.get("shift", {}).items():
                if source not in PRESETS or target not in PRESETS or not 0.0 < share <= 1.0:
                    raise LexiconError(
                        f"context {name!r} shift {source!r} -> {target!r} is invalid"
                    )
                shift.append((source, target, float(share)))
            self.contexts[name] = Context(
                name,
                tuple(shift),
                int(spec.get("reach", 0)),
                tuple(str(other) for other in spec.get("unless", ())),
            )
            for preset, minimum in spec.get("presets", {}).items():
                if preset not in PRESETS:
                    raise LexiconError(f"context {name!r} names unknown preset {preset!r}")
                by_preset.setdefault(preset, []).append((name, float(minimum)))
            for term in spec.get("cues", []):
                for expanded in self._expand_classes(term, classes):
                    entry = self._entry(expanded)
                    if name not in entry.contexts:
                        entry.contexts.append(name)
        self.context_presets = {preset: tuple(pairs) for preset, pairs in by_preset.items()}

    def _compile_prefixes(self, doc: Mapping[str, Any]) -> None:
        """Word beginnings that carry a feeling in any form ("llor" for lloro, lloraba, lloré,
        llorando). Compiled last: a word that any term names is read as that term, and only
        a word no term knows falls back to the longest beginning it starts with."""
        for preset, terms in doc.items():
            if preset not in PRESETS or preset == "neutral":
                raise LexiconError(f"prefixes name unknown preset {preset!r}")
            for prefix, weight in terms.items():
                beginning = str(prefix).lower()
                beginning = beginning.translate(FOLD) if self._fold else beginning
                if len(beginning) < 4 or not beginning.isalpha():
                    raise LexiconError(f"prefix {prefix!r} must be 4 or more letters")
                if not isinstance(weight, int | float) or not 0.0 < float(weight) <= 1.5:
                    raise LexiconError(f"prefix weight for {prefix!r} must be in (0, 1.5]")
                key = "*" + beginning
                node = self._trie.setdefault(key, {})
                _add_hit(node.setdefault(_TERMINAL, Entry()), preset, float(weight))
                self._prefixes[beginning] = key
                self._vocabulary.add(key)
        self._prefix_lengths = tuple(sorted({len(p) for p in self._prefixes}, reverse=True))

    def _by_prefix(self, key: str) -> str:
        """The trie key of the longest known beginning of an unknown word, or the word's key."""
        if key in self._known:
            return key
        for length in self._prefix_lengths:
            if length <= len(key):
                found = self._prefixes.get(key[:length])
                if found is not None:
                    return found
        return key

    @staticmethod
    def _expand_classes(term: str, classes: Mapping[str, Sequence[str]]) -> Iterator[str]:
        match = re.search(r"\{(\w+)\}", term)
        if match is None:
            yield term
            return
        name = match.group(1)
        if name not in classes:
            raise LexiconError(f"lexicon term {term!r} uses unknown class {name!r}")
        for member in classes[name]:
            yield from Lexicon._expand_classes(
                term[: match.start()] + member + term[match.end() :], classes
            )

    # reading

    def _word_key(self, lowered: str) -> tuple[str, bool]:
        """Stem of a lower-case word, undoing "sooo"-style elongation; (key, was elongated)."""
        if _ELONGATION_RE.search(lowered) is None:
            return stem(lowered), False
        for repl in (r"\1\1", r"\1"):
            candidate = stem(_ELONGATION_RE.sub(repl, lowered))
            if candidate in self._vocabulary:
                return candidate, True
        return stem(_ELONGATION_RE.sub(r"\1\1", lowered)), True

    def tokenise(self, text: str, *, expand_hyphens: bool = True) -> list[Token]:
        """Tokens of ``text``: words (contractions split, stemmed), emoji, numbers, punctuation."""
        tokens: list[Token] = []
        text = text.translate(_STRIP_TABLE)
        # Folding maps one character to one, so a match's span is the same in both texts:
        # keys are read without accents, evidence keeps them.
        fold = self._fold
        scanned = text.translate(FOLD) if fold else text
        pieces = _expand if self.language == "en" else _split_elision
        prefixes = bool(self._prefixes)
        for match in _TOKEN_RE.finditer(scanned):
            group = match.lastgroup
            surface = text[match.start() : match.end()] if fold else match.group()
            if group == "word":
                lowered = match.group().lower()
                caps = len(surface) >= 2 and surface.isupper()
                if expand_hyphens and "-" in lowered and stem(lowered) not in self._vocabulary:
                    parts = lowered.split("-")
                else:
                    parts = [lowered]
                for part in parts:
                    for piece in pieces(part):
                        key, elongated = self._word_key(piece)
                        if prefixes:
                            key = self._by_prefix(key)
                        tokens.append(Token(surface, key, "word", caps, elongated))
            elif group == "emoticon":
                tokens.append(Token(surface, surface.lower(), "emoji"))
            elif group == "emoji":
                tokens.append(Token(surface, surface, "emoji"))
            elif group == "number":
                tokens.append(Token(surface, surface, "number"))
            else:
                tokens.append(Token(surface, surface, "punct"))
        return tokens

    def is_transparent(self, key: str) -> bool:
        """Whether negation reaches across this word ("not *feeling* calm")."""
        return key in self._transparent or key in self._fillers

    def match(self, tokens: Sequence[Token]) -> list[Unit]:
        """Greedy longest-match of lexicon phrases over ``tokens``, left to right.

        A one-word intensifier or dampener inside a phrase is skipped and its scale kept,
        also where the trie has a branch for it ("feel *so* blue" beside "felt so small").
        """
        units: list[Unit] = []
        n = len(tokens)
        i = 0
        while i < n:
            best_end, best, best_scale = self._longest(tokens, i, n)
            token = tokens[i]
            if best is None:
                units.append(
                    Unit(
                        token.surface, None, token.kind, token.caps, token.elongated, 1.0, token.key
                    )
                )
                i += 1
                continue
            span = tokens[i : best_end + 1]
            surface = token.surface if best_end == i else _join(span)
            units.append(
                Unit(
                    surface,
                    best,
                    token.kind,
                    any(t.caps for t in span),
                    any(t.elongated for t in span),
                    best_scale,
                    token.key if best_end == i else "",
                )
            )
            i = best_end + 1
        return units

    def _longest(self, tokens: Sequence[Token], i: int, n: int) -> tuple[int, Entry | None, float]:
        """(last token, entry, scale of skipped fillers) of the longest term starting at
        ``i``; (-1, None, 1.0) when none does. A filler that also has a branch in the trie
        is tried both ways, the literal way first (it wins a tie)."""
        fillers = self._fillers
        max_phrase = self._max_phrase
        best_end, best, best_scale = -1, None, 1.0
        pending: list[tuple[Trie, int, int, float]] = [(self._trie, i, 0, 1.0)]
        while pending:
            node, j, length, scale = pending.pop()
            while j < n and length < max_phrase:
                key = tokens[j].key
                child: Trie | None = node.get(key)
                if j > i and key in fillers:
                    if child is None:
                        scale *= fillers[key]
                        j += 1
                        continue
                    pending.append((node, j + 1, length, scale * fillers[key]))
                if child is None:
                    break
                node = child
                length += 1
                entry = node.get(_TERMINAL)
                if entry is not None and j > best_end:
                    best_end, best, best_scale = j, entry, scale
                j += 1
        return best_end, best, best_scale

    def lookup(self, term: str) -> Entry | None:
        """The entry for a word or phrase, or None."""
        node: Trie | None = self._trie
        for key in self._keys(term):
            node = node.get(key) if node is not None else None
        return node.get(_TERMINAL) if node is not None else None


def _add_hit(entry: Entry, preset: str, weight: float) -> None:
    # Two spellings of one stem ("happy", "happiness") keep the stronger weight, not the sum.
    for index, (name, existing) in enumerate(entry.hits):
        if name == preset:
            entry.hits[index] = (name, max(existing, weight))
            return
    entry.hits.append((preset, weight))


def _join(span: Sequence[Token]) -> str:
    out: list[str] = []
    for token in span:
        # A contraction yields several tokens with one surface; show it once.
        if not out or out[-1] != token.surface:
            out.append(token.surface)
    return " ".join(out)


@cache
def read_data(name: str) -> Any:
    """A packaged data file (``kmidi/data/NAME``), read and parsed once per process. The
    lexicons of every language and the language detector share it: do not mutate it."""
    text = resources.files("kmidi").joinpath(f"data/{name}").read_text(encoding="utf-8")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise LexiconError(f"{name} is not valid JSON: {exc}") from exc


def _load() -> Lexicon:
    return Lexicon(read_data("lexicon.json"), read_data("situations.json"))


LEXICON: Final[Lexicon] = _load()
"""The packaged lexicon, compiled once at import."""


def _expanded_terms(terms: Any) -> Any:
    """A section of ``lexicon_intl.json`` with its inflection groups written out."""
    if isinstance(terms, dict):
        return {form: value for term, value in terms.items() for form in expand_forms(term)}
    return [form for term in terms for form in expand_forms(term)]


def _intl_lexicon(language: str) -> Lexicon:
    """One language's lexicon from ``lexicon_intl.json``.

    It shares English's emoji and emoticons, its negation targets and its contexts (with the
    language's own cue words), so negation, intensity and contexts work as in English.
    """
    sections = read_data("lexicon_intl.json")["languages"]
    if language not in sections:
        raise LexiconError(f"no lexicon for language {language!r}")
    section = sections[language]
    english = read_data("lexicon.json")
    emotions, prefixes = _intl_emotions(english["emotions"], section.get("emotions", {}))
    document: dict[str, Any] = {
        "emotions": emotions,
        "prefixes": prefixes,
        "negation_targets": english["negation_targets"],
        "classes": section.get("classes", {}),
        **_intl_word_lists(section),
    }
    contexts = _intl_contexts(section.get("context_cues", {}))
    return Lexicon(document, {"contexts": contexts}, language=language)


def _intl_word_lists(section: dict[str, Any]) -> dict[str, Any]:
    """The language's negators, scope breakers, contrast and other word lists, its
    intensifiers and dampeners (word: weight) and its modifiers (name: words)."""
    lists: dict[str, Any] = {}
    for key in (
        "negators",
        "scope_breakers",
        "contrast",
        "negation_transparent",
        "turns",
        "asides",
    ):
        lists[key] = _expanded_terms(section.get(key, []))
    for key in ("intensifiers", "dampeners"):
        lists[key] = _expanded_terms(section.get(key, {}))
    lists["modifiers"] = {
        name: _expanded_terms(terms) for name, terms in section.get("modifiers", {}).items()
    }
    return lists


def _intl_emotions(
    english: dict[str, dict[str, float]], own: dict[str, Any]
) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, float]]]:
    """Each preset's terms and weights, and its prefix terms (written ``stem*``, kept without
    the star): English's symbols (emoji, emoticons) first, then the language's ``own``."""
    emotions: dict[str, dict[str, float]] = {}
    for preset, terms in english.items():
        symbols = {term: w for term, w in terms.items() if not any(c.isalpha() for c in term)}
        emotions.setdefault(preset, {}).update(symbols)
    prefixes: dict[str, dict[str, float]] = {}
    for preset, terms in own.items():
        for term, weight in _expanded_terms(terms).items():
            if term.endswith("*"):
                prefixes.setdefault(preset, {})[term[:-1]] = weight
            else:
                emotions.setdefault(preset, {})[term] = weight
    return emotions, prefixes


def _intl_contexts(cues: dict[str, list[str]]) -> dict[str, dict[str, Any]]:
    """English's contexts (``situations.json``) with the language's own cue words."""
    return {
        name: {
            "shift": spec["shift"],
            "presets": spec.get("presets", {}),
            "reach": spec.get("reach", 0),
            "unless": spec.get("unless", []),
            "cues": _expanded_terms(cues.get(name, [])),
        }
        for name, spec in read_data("situations.json")["contexts"].items()
    }


@cache
def lexicon_for(language: str) -> Lexicon:
    """The lexicon that reads ``language``; other languages are compiled on first use."""
    return LEXICON if language == "en" else _intl_lexicon(language)
