"""Which language a text is written in: English, Spanish, German, French, Portuguese or Italian.

Two signals, cheapest first (the rule and its figures are in ``docs/languages.md``):

1. **Words.** Each language has marker words (function words) and the words of its emotion
   lexicon (``data/lexicon_intl.json``). A word counts for every language that has it,
   split evenly ("triste" is Spanish, French, Portuguese and Italian: a quarter each). Text
   in which no other language outscores English is English, and nothing else runs: the
   English path costs a few microseconds and never loads the model. A foreign language
   that leads every other by ``WORDS_LEAD`` (a whole word of its own) is the answer.
2. **The model.** Otherwise a text of at least ``MODEL_MIN_CHARS`` characters goes to
   py3langid (langid.py's naive Bayes over byte n-grams, its model inside the wheel),
   restricted to the six languages; its answer stands when its probability is at least
   ``MODEL_MIN_CONFIDENCE``. A shorter text, or an unsure model, is decided by the words:
   a tie by which lexicon reads more of the text, then by the model's ranking.

py3langid is imported on first use only (loading its model takes about 0.7 s), so importing
kmidi, ``kmidi --help`` and service start-up never pay for it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from py3langid.langid import LanguageIdentifier  # type: ignore[import-untyped]

LANGUAGES: Final = ("en", "es", "de", "fr", "pt", "it")
"""Languages kmidi reads, English first (the default)."""
DEFAULT: Final = "en"
FOREIGN: Final = LANGUAGES[1:]
WORDS_LEAD: Final = 1.0
"""A language whose words lead every other foreign language's by this much is the answer,
without the model (see docs/languages.md)."""
MODEL_MIN_CHARS: Final = 20
"""Texts shorter than this are decided by their words alone (see docs/languages.md)."""
MODEL_MIN_CONFIDENCE: Final = 0.9
"""The model's probability (over the six languages) from which its answer stands."""

_WORD: Final = re.compile(r"[^\W\d_]+")
FOLDED: Final = frozenset({"es", "fr", "pt", "it"})
"""Languages read without their accents, as people often type them ("esta triste", "coracao");
German keeps its umlauts ("schon" is not "schön")."""
FOLD: Final = str.maketrans("áàâãäéèêëíìîïóòôõöúùûüç", "aaaaaeeeeiiiiooooouuuuc")
"""Accented vowels and ç to their plain letters; ñ is kept ("año" is not "ano")."""


def _intl_document() -> dict[str, dict[str, object]]:
    """The per-language sections of ``data/lexicon_intl.json`` (parsed once, shared with the
    lexicons)."""
    from kmidi.lexicon import read_data  # the lexicon imports this module at its import

    languages: dict[str, dict[str, object]] = read_data("lexicon_intl.json")["languages"]
    return languages


_ALTERNATION: Final = re.compile(r"\(([^()]*)\)")


def expand_forms(term: str) -> list[str]:
    """``"content(o|a|os|as)"`` -> contento, contenta, contentos, contentas. A term may hold
    several groups ("asustad(o|a) de verdad"); an empty alternative drops the group."""
    match = _ALTERNATION.search(term)
    if match is None:
        return [term]
    out: list[str] = []
    for alternative in match.group(1).split("|"):
        out.extend(expand_forms(term[: match.start()] + alternative + term[match.end() :]))
    return out


def _words_of(terms: Iterable[str]) -> set[str]:
    words: set[str] = set()
    for term in terms:
        for form in expand_forms(term):
            words.update(_WORD.findall(form.lower()))
    return words


def _english_words() -> set[str]:
    """The one-word terms and class members ("mama", "nana") of the English lexicon."""
    from kmidi.lexicon import read_data

    document = read_data("lexicon.json")
    emotions: dict[str, dict[str, float]] = document["emotions"]
    classes: dict[str, list[str]] = document.get("classes", {})
    terms = [term for section in emotions.values() for term in section]
    terms += [member for members in classes.values() for member in members]
    return {term.lower() for term in terms if term.isalpha()}


@cache
def _markers() -> dict[str, tuple[str, ...]]:
    """Word -> the languages that use it (markers and lexicon words), also without accents
    for the languages read that way."""
    owners: dict[str, list[str]] = {}
    for language, section in _intl_document().items():
        words = _words_of(_strings(section.get("markers", ())))
        emotions = section.get("emotions", {})
        if isinstance(emotions, dict):
            # Only one-word terms: the inner words of a phrase are often cognates or
            # shared ("luz al *final* del túnel", "*piano* piano").
            for terms in emotions.values():
                words |= _words_of(t for t in terms if " " not in t and not t.endswith("*"))
        for key in ("negators", "intensifiers", "dampeners", "negation_transparent"):
            words |= _words_of(_strings(section.get(key, ())))
        if language == DEFAULT:
            words |= _english_words()
        if language in FOLDED:
            words |= {word.translate(FOLD) for word in words}
        for word in words:
            owners.setdefault(word, []).append(language)
    return {word: tuple(languages) for word, languages in owners.items()}


def _strings(value: object) -> list[str]:
    if isinstance(value, dict):
        return [str(key) for key in value]
    if isinstance(value, list | tuple):
        return [str(item) for item in value]
    return []


def word_scores(text: str) -> dict[str, float]:
    """Per language, how many of the text's words are its own (shared words split evenly)."""
    markers = _markers()
    scores = dict.fromkeys(LANGUAGES, 0.0)
    for word in _WORD.findall(text.lower()):
        languages = markers.get(word)
        if languages:
            share = 1.0 / len(languages)
            for language in languages:
                scores[language] += share
    return scores


@cache
def _model() -> LanguageIdentifier | None:
    """py3langid restricted to the six languages, or None where it is not installed (then
    the words alone decide)."""
    try:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier
    except ImportError:  # pragma: no cover - a dependency; the words still decide
        return None
    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(LANGUAGES))
    return identifier


def model_guess(text: str) -> tuple[str, float]:
    """py3langid's language for ``text`` among the six, with its probability (0 without it)."""
    model = _model()
    if model is None:
        return DEFAULT, 0.0
    language, probability = model.classify(text)
    return str(language), float(probability)


def detect(text: str) -> str:
    """The language of ``text``: one of ``LANGUAGES``; English when in doubt."""
    scores = word_scores(text)
    english = scores[DEFAULT]
    ranked = sorted(FOREIGN, key=lambda language: -scores[language])
    best = ranked[0]
    if scores[best] <= english:
        return DEFAULT
    if scores[best] - scores[ranked[1]] >= WORDS_LEAD:
        return best
    if len(text.strip()) >= MODEL_MIN_CHARS:
        language, probability = model_guess(text)
        if probability >= MODEL_MIN_CONFIDENCE:
            return language
    tied = [language for language in FOREIGN if scores[language] == scores[best]]
    if len(tied) > 1:
        coverage = {language: _coverage(text, language) for language in tied}
        most = max(coverage.values())
        tied = [language for language in tied if coverage[language] == most]
    if len(tied) == 1:
        return tied[0]
    model = _model()
    if model is None:
        return tied[0]
    ranked = model.rank(text)
    return next((str(language) for language, _ in ranked if language in tied), tied[0])


def _coverage(text: str, language: str) -> int:
    """How many of the text's words the language's lexicon reads as feeling ("me da igual" is
    one Spanish phrase of three words, and in Portuguese nothing)."""
    from kmidi.lexicon import lexicon_for

    lexicon = lexicon_for(language)
    units = lexicon.match(lexicon.tokenise(text))
    return sum(len(unit.surface.split()) for unit in units if unit.entry and unit.entry.hits)
