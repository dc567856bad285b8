"""Text → affect: what a person wrote, read as emotion, intensity, valence and arousal."""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from kmidi.affect_arbiter import Evidence, packaged_arbiter, too_short
from kmidi.affect_model import AffectReader, family_shares, packaged_reader
from kmidi.emotions import MODIFIERS, NEUTRAL, PRESETS
from kmidi.language import detect
from kmidi.lexicon import LEXICON, Entry, Lexicon, Unit, lexicon_for
from kmidi.sarcasm import (
    Irony,
    find_irony,
    find_mock,
    find_repeat,
    has_chore,
    has_trouble,
    irritation,
)

if TYPE_CHECKING:
    from schemas.intent import Intent


@dataclass(frozen=True, slots=True)
class Affect:
    """The emotional reading of an intent, with the words that drove it."""

    primary: str
    """Name of a preset in the taxonomy, or "neutral" only for text with no affect at all."""
    secondary: str | None
    intensity: float
    """0..1."""
    valence: float
    """-1..1."""
    arousal: float
    """-1..1."""
    confidence: float
    """0..1."""
    modifiers: tuple[str, ...] = ()
    """Names of modifiers detected (e.g. "suppressed", "cathartic_release")."""
    evidence: tuple[str, ...] = field(default=())
    """Words and phrases from the text that drove the reading, in order of weight."""
    language: str = "en"
    """ISO 639-1 code of the language the text was read in (``kmidi.language.LANGUAGES``)."""

    @property
    def unsure(self) -> bool:
        """The reading is a guess: no feeling found, or too little to go on (see
        ``UNSURE_BELOW``). Results say so, and the conversation asks instead of guessing."""
        return self.primary == "neutral" or self.confidence < UNSURE_BELOW

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["modifiers"] = list(self.modifiers)
        data["evidence"] = list(self.evidence)
        data["unsure"] = self.unsure
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Affect:
        return cls(
            primary=str(data["primary"]),
            secondary=data.get("secondary"),
            intensity=float(data["intensity"]),
            valence=float(data["valence"]),
            arousal=float(data["arousal"]),
            confidence=float(data["confidence"]),
            modifiers=tuple(data.get("modifiers", ())),
            evidence=tuple(data.get("evidence", ())),
            language=str(data.get("language", "en")),
        )


# --- analysis -------------------------------------------------------------------------

LONG_TEXT_CHARS = 160
"""Texts this long, of ``LONG_TEXT_MIN_SENTENCES`` sentences or more, are read sentence by
sentence, weighted (``_read_long``); any text over ``LONG_TEXT_ALWAYS`` characters is."""
LONG_TEXT_MIN_SENTENCES = 3
LONG_TEXT_ALWAYS = 1000
LONG_TEXT_SENTENCES = 8
SENTENCE_CAP = 1.2
"""What one sentence of a long text can give a reading: its feeling saturates past this
(``cap * tanh(total / cap)``), so a feeling the text keeps coming back to outweighs one
sentence that piles up words."""
POSITION_GAIN = 0.5
"""The last sentence of a long text weighs 1 + this times the first."""
EMPHATIC_SENTENCE = 1.3
TURN_DAMP = 0.6
"""A sentence that opens with a turn ("But…", "Then…", "Aber…") scales every sentence before
it by this: the text is arriving somewhere else."""
ASIDE_WEIGHT = 0.35
"""A sentence that opens with an aside ("Anyway, …", "En fin, …") weighs this much."""
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"”')\]]*\s+|\n+")
UNSURE_BELOW = 0.55
"""Confidence under which a reading is flagged ``unsure`` (a neutral reading always is). On
the 550-row corpus 25 readings that name a feeling fall below it and 8 of them are wrong
(32 %, against 4 % wrong overall)."""
FIRM_EVIDENCE = 0.5
"""Evidence (the leading family's score) from which a clear lead counts in full towards
confidence; below it a lone weak cue ("whatever", "a sigh") wins its family by default, reads
as a guess and is flagged ``unsure``."""
WOUND_WEIGHT = 0.5
"""The core wound colours the reading but the stated feeling leads."""
DESIRE_WEIGHT = 0.3
"""What someone longs for is not what they feel; it only nudges the reading."""
NEUTRAL_THRESHOLD = 0.2
"""Total lexical evidence at or below which text reads as neutral (e.g. a lone "slow")."""
_NEGATION_SCOPE = 4
_SCALE_SCOPE = 3
_CONTRAST_BOOST = 1.3
_CAPS_BOOST = 1.25
_ELONGATION_BOOST = 1.15
_SECONDARY_RATIO = 0.3
RESOLVED_RATIO = 0.8
"""Share of a distress that reads as relief (calm) once the text says it is over."""
_UNRESOLVABLE = frozenset({"grief"})
"""A death is not "over": "the funeral is over" is still grief."""
_KEEP_CONTEXTS = frozenset({"loss"})
EUPHORIA_CHANNELS = 2
"""Kinds of emphasis (capitals, "!!", stretched words) from which joy reads as euphoria."""
EUPHORIA_SHARE = 0.6
SINCERE_PRAISE = 0.3
"""Pleasant score left beside a praise word that keeps it sincere ("Great, I passed!")."""
SINCERE_OVER_MISHAP = 0.6
"""Pleasant score that keeps praise sincere when the rest names a mishap ("cancelled",
"en panne"): a passing pleasant word is not enough there."""
PLEASANT_VALENCE = 0.3
"""Presets pleasant enough to keep praise sincere (not defiance or nostalgia: "boss fight")."""
_MAX_EVIDENCE = 8
DISAGREEING = 0.5
"""The most a reading may be sure of when the arbiter chose another family than the
lexicon's feeling, or a feeling in a text too short for the reader (``too_short``; on
cross-validation such readings were right 66 of 92 times, against 1,900 of 2,279 in longer
texts): below ``UNSURE_BELOW``, so the conversation asks which of the two it is."""
SECOND_BELOW = 0.6
"""When the arbiter chose another family, the lexicon's other feelings are scaled to at most
this share of its leading preset (``_led_by``)."""
READER_EVIDENCE = "(trained reader)"
"""The evidence entry of a reading whose family the arbiter chose over the lexicon's."""


@dataclass(slots=True)
class _Reading:
    """Accumulated evidence across the intent's texts."""

    scores: dict[str, float] = field(default_factory=dict)
    evidence: dict[str, float] = field(default_factory=dict)
    modifiers: dict[str, None] = field(default_factory=dict)
    contexts: dict[str, None] = field(default_factory=dict)
    """Contexts switched on by what was read ("loss", "persistence"…), in order of appearance."""
    exclamations: int = 0
    caps_words: int = 0
    elongated: int = 0
    emoji: int = 0
    words: int = 0
    negated: list[tuple[str, float, float]] = field(default_factory=list)
    """(target preset, score moved there, valence of the negated preset) per negated feeling."""
    strength_scale: float = 1.0
    """Below 1 for a long text with many feeling sentences: intensity comes from how the
    feeling is said, not from how often (``_read_long``)."""
    opening: Entry | None = None
    """The lexicon entry of the first word or phrase read, if it has one ("But", "Anyway")."""
    sincere: bool = False
    """Praise with an irony marker ("thanks a lot") judged sincere: no trouble to mock."""

    def add(self, preset: str, weight: float, label: str) -> None:
        self.scores[preset] = self.scores.get(preset, 0.0) + weight
        self.evidence[label] = self.evidence.get(label, 0.0) + abs(weight)


def _negation_target(preset: str, lexicon: Lexicon) -> tuple[str, float]:
    target = lexicon.negation_targets.get(preset)
    if target is not None:
        return target
    # "not <unpleasant feeling>" leans calm; "not <pleasant feeling>" leans low.
    return ("calm", 0.35) if PRESETS[preset].valence < 0 else ("melancholy", 0.4)


@dataclass(slots=True)
class _Scope:
    """What the words read so far in a sentence do to the next ones."""

    negation_left: int = 0
    scale: float = 1.0
    scale_left: int = 0
    contrast: float = 1.0
    clause: list[tuple[str, float]] = field(default_factory=list)
    """Feelings read since the sentence began: what a resolver ("…but it's over now") ends."""
    clause_contexts: list[str] = field(default_factory=list)
    last: list[tuple[str, float]] = field(default_factory=list)
    """What the unit just read added, if it was a feeling: a "?" right after it questions it."""

    def new_clause(self) -> None:
        self.clause, self.clause_contexts = [], []

    def step(self) -> None:
        """One word further: negation and scaling reach a few words only."""
        self.negation_left = max(0, self.negation_left - 1)
        self.scale_left = max(0, self.scale_left - 1)


def _read(
    text: str, weight: float, reading: _Reading, prefix: str, lexicon: Lexicon = LEXICON
) -> None:
    units = lexicon.match(lexicon.tokenise(text))
    scope = _Scope()
    for index, unit in enumerate(units):
        if unit.kind == "punct":
            _punctuation(unit, scope, reading, prefix)
            continue
        scope.last = []
        _count_unit(unit, reading, prefix)
        entry = unit.entry
        if entry is None:
            # Negation reaches over "feel", "really", "that"… but stops at other content
            # words: "can't shake this uneasy feeling" does not negate "uneasy".
            if not lexicon.is_transparent(unit.key):
                scope.negation_left = 0
            scope.step()
            continue
        if entry.breaker:
            scope.negation_left = 0
        if entry.resolver and scope.negation_left == 0 and _ends_clause(units, index):
            _resolve(reading, scope.clause, scope.clause_contexts, prefix + unit.surface)
            scope.new_clause()
            continue
        if _sets_scope(entry, scope):
            continue
        negated = scope.negation_left > 0
        if entry.hits:
            _score_hits(unit, entry, scope, reading, weight, prefix, lexicon)
        if not negated:
            _switch_on(entry, reading, scope)
        scope.step()


def _punctuation(unit: Unit, scope: _Scope, reading: _Reading, prefix: str) -> None:
    """A punctuation mark: "!" counts as emphasis, "?" questions the feeling just read,
    and every mark ends negation and scaling; ".", "!", "?" and "…" end the clause."""
    reading.exclamations += 0 if prefix else unit.surface.count("!")
    if unit.surface[0] == "?":
        _question(reading, scope.last)
    scope.negation_left = scope.scale_left = 0
    if unit.surface[0] in ".!?…":
        scope.new_clause()
    scope.last = []


def _sets_scope(entry: Entry, scope: _Scope) -> bool:
    """A contrast, a negator or a scaling word changes how the next words count; whether
    that is all the entry does."""
    if entry.contrast:
        scope.contrast = _CONTRAST_BOOST
    if entry.negator and not entry.hits:
        scope.negation_left = _NEGATION_SCOPE
        return True
    if entry.scale != 1.0 and not entry.hits:
        scope.scale = scope.scale * entry.scale if scope.scale_left else entry.scale
        scope.scale_left = _SCALE_SCOPE
        return True
    return False


def _switch_on(entry: Entry, reading: _Reading, scope: _Scope) -> None:
    """The modifiers and contexts an entry read without negation switches on."""
    for name in entry.modifiers:
        reading.modifiers.setdefault(name, None)
    for name in entry.contexts:
        if name not in reading.contexts:
            reading.contexts[name] = None
            scope.clause_contexts.append(name)


QUESTIONED = 0.6
"""Share a feeling keeps when a question mark follows it at once ("happy?", "am I
scared?"): asked about, not stated. A question about something else ("what if the
biopsy comes back bad?") keeps its feeling whole."""


def _question(reading: _Reading, last: list[tuple[str, float]]) -> None:
    """The feeling just read is asked about ("I guess I'm happy?"): it counts less."""
    for preset, amount in last:
        reading.scores[preset] -= amount * (1.0 - QUESTIONED)


def _count_unit(unit: Unit, reading: _Reading, prefix: str) -> None:
    """The surface counts emphasis is read from: words, capitals, elongations, emoji."""
    if unit.kind == "word":
        if not reading.words and not prefix:
            reading.opening = unit.entry
        reading.words += 1
        reading.caps_words += unit.caps
        reading.elongated += unit.elongated
    elif unit.kind == "emoji":
        reading.emoji += 1


def _score_hits(
    unit: Unit,
    entry: Entry,
    scope: _Scope,
    reading: _Reading,
    weight: float,
    prefix: str,
    lexicon: Lexicon,
) -> None:
    """Add a feeling word's presets to the reading, turned by a negation in scope."""
    negated = scope.negation_left > 0
    emphasis = (_CAPS_BOOST if unit.caps else 1.0) * (_ELONGATION_BOOST if unit.elongated else 1.0)
    scaled = scope.scale if scope.scale_left else 1.0
    factor = weight * scope.contrast * emphasis * unit.scale * scaled
    label = f"{prefix}not {unit.surface}" if negated else prefix + unit.surface
    for preset, strength in entry.hits:
        if negated:
            target, ratio = _negation_target(preset, lexicon)
            reading.add(target, strength * factor * ratio, label)
            reading.negated.append((target, strength * factor * ratio, PRESETS[preset].valence))
            continue
        reading.add(preset, strength * factor, label)
        scope.clause.append((preset, strength * factor))
        scope.last.append((preset, strength * factor))
        for context, minimum in lexicon.context_presets.get(preset, ()):
            if strength >= minimum and context not in reading.contexts:
                reading.contexts[context] = None
                scope.clause_contexts.append(context)
    scope.scale, scope.scale_left = 1.0, 0


_RESOLVER_FOLLOWERS = frozenset(
    token.key
    for token in LEXICON.tokenise(
        "and now finally at last thank thankfully so yay phew lol for already today tonight"
        " forever completely totally i we"
    )
)
"""Words that may follow "over"/"done" when it ends the matter ("exams are over and…")."""


def _ends_clause(units: list[Unit], index: int) -> bool:
    """Whether a resolver closes its clause: "it's over." yes, "over the moon" no."""
    if index + 1 >= len(units):
        return True
    following = units[index + 1]
    return following.kind != "word" or following.key in _RESOLVER_FOLLOWERS


def _resolve(
    reading: _Reading, clause: list[tuple[str, float]], contexts: list[str], label: str
) -> None:
    """The clause's distress is over: most of it reads as relief, and its contexts end.

    "exams are finally over" is calm, not anxiety; pleasant feelings are left alone.
    """
    for preset, amount in clause:
        if PRESETS[preset].valence >= 0 or preset in _UNRESOLVABLE:
            continue
        reading.scores[preset] -= amount
        reading.add("calm", amount * RESOLVED_RATIO, label)
    for name in contexts:
        if name not in _KEEP_CONTEXTS:
            reading.contexts.pop(name, None)


def _mixed_negation(reading: _Reading) -> None:
    """Pleasant and unpleasant feelings both denied ("not sad, not happy, just…") read as numb."""
    signs = {valence > 0 for _, _, valence in reading.negated if valence != 0}
    if len(signs) < 2:
        return
    for target, amount, _ in reading.negated:
        reading.scores[target] -= amount
        reading.scores["numbness"] = reading.scores.get("numbness", 0.0) + amount


def _ecstatic(reading: _Reading) -> None:
    """Joy written with two kinds of emphasis (capitals, "!!", "sooo") about an ecstatic scene
    (a win, a crowd) is euphoria; plain "I AM HAPPY!!!" stays joy, only louder."""
    joy = reading.scores.get("joy", 0.0)
    if reading.scores.get("euphoria", 0.0) <= 0.0:
        return
    channels = (
        int(_shouting(reading)) + int(reading.exclamations >= 2) + int(reading.elongated >= 1)
    )
    if channels >= EUPHORIA_CHANNELS and joy > 0.0:
        reading.scores["joy"] = joy * (1.0 - EUPHORIA_SHARE)
        reading.scores["euphoria"] = reading.scores.get("euphoria", 0.0) + joy * EUPHORIA_SHARE


def _apply_contexts(reading: _Reading, lexicon: Lexicon) -> None:
    """Move score between presets as the active contexts say, all from one snapshot.

    A source shifted by several contexts never gives away more than it has.
    """
    moves: dict[str, list[tuple[str, float]]] = {}
    for name in reading.contexts:
        context = lexicon.contexts[name]
        if any(other in reading.contexts for other in context.unless):
            continue
        for source, target, share in context.shift:
            if reading.scores.get(source, 0.0) > 0.0:
                moves.setdefault(source, []).append((target, share))
    snapshot = dict(reading.scores)
    for source, targets in moves.items():
        total_share = sum(share for _, share in targets)
        norm = 1.0 / total_share if total_share > 1.0 else 1.0
        for target, share in targets:
            moved = snapshot[source] * share * norm
            reading.scores[source] -= moved
            reading.scores[target] = reading.scores.get(target, 0.0) + moved


def _shouting(reading: _Reading) -> bool:
    return reading.caps_words >= 1 and (
        reading.caps_words >= 2 or reading.caps_words * 3 >= reading.words
    )


def _emphasis(reading: _Reading) -> float:
    shouting = _shouting(reading)
    return min(
        0.3,
        0.08 * min(reading.exclamations, 3)
        + (0.1 if shouting else 0.0)
        + 0.05 * min(reading.elongated, 2)
        + 0.03 * min(reading.emoji, 3),
    )


def _neutral(reading: _Reading, language: str) -> Affect:
    return Affect(
        primary=NEUTRAL.name,
        secondary=None,
        intensity=0.0,
        valence=0.0,
        arousal=0.0,
        confidence=0.6 if reading.words >= 3 else 0.3,
        modifiers=tuple(reading.modifiers),
        evidence=(),
        language=language,
    )


def _order(scores: dict[str, float]) -> list[str]:
    # Ties fall back to taxonomy order so the reading is deterministic.
    rank = {name: i for i, name in enumerate(PRESETS)}
    return sorted(scores, key=lambda name: (-scores[name], rank[name]))


def _sentences(text: str) -> list[str]:
    return [part for part in _SENTENCE_END.split(text) if part.strip()]


def _is_long(text: str) -> bool:
    if len(text) > LONG_TEXT_ALWAYS:
        return True
    return len(text) >= LONG_TEXT_CHARS and len(_sentences(text)) >= LONG_TEXT_MIN_SENTENCES


def _merge(reading: _Reading, part: _Reading, weight: float) -> bool:
    """Add one sentence's reading to the text's, its feeling saturating at ``SENTENCE_CAP``.
    Whether the sentence carried any feeling."""
    total = sum(score for score in part.scores.values() if score > 0.0)
    factor = weight * (SENTENCE_CAP * math.tanh(total / SENTENCE_CAP) / total if total else 1.0)
    for preset, score in part.scores.items():
        reading.scores[preset] = reading.scores.get(preset, 0.0) + score * factor
    for label, amount in part.evidence.items():
        reading.evidence[label] = reading.evidence.get(label, 0.0) + amount * factor
    reading.negated.extend((t, amount * factor, v) for t, amount, v in part.negated)
    for name in part.modifiers:
        reading.modifiers.setdefault(name, None)
    for name in part.contexts:
        reading.contexts.setdefault(name, None)
    reading.exclamations += part.exclamations
    reading.caps_words += part.caps_words
    reading.elongated += part.elongated
    reading.emoji += part.emoji
    reading.words += part.words
    reading.sincere |= part.sincere
    return total > 0.0


def _read_long(text: str, reading: _Reading, lexicon: Lexicon, language: str) -> None:
    """A long text, sentence by sentence (a diary entry, a letter, a rant).

    - Each sentence is read on its own (sarcasm included, its neighbours telling whether
      there is trouble to mock), and what it gives saturates at ``SENTENCE_CAP``: the
      feeling the text keeps returning to outweighs one sentence that piles up words.
    - Later sentences weigh up to ``1 + POSITION_GAIN`` times the first (a letter tends to
      arrive at its feeling); a sentence with "!" or a shouted word ``EMPHATIC_SENTENCE``.
    - A sentence that opens with a turn ("But something shifted", "Then I saw him")
      scales everything before it by ``TURN_DAMP``; one that opens with an aside ("Anyway,
      the weather was lovely") weighs ``ASIDE_WEIGHT``.
    - Intensity counts at most ``LONG_TEXT_SENTENCES`` sentences that carry a feeling, so
      a long text is not intense for being long.
    """
    sentences = _sentences(text)
    count = len(sentences)
    parts: list[_Reading] = []
    weights: list[float] = []
    asides: list[bool] = []
    for index, sentence in enumerate(sentences):
        around = " ".join(sentences[max(0, index - 1) : index + 2])
        parts.append(_read_short(sentence, lexicon, language, around=around))
        weight = 1.0 + POSITION_GAIN * index / max(1, count - 1)
        if "!" in sentence or any(w.isupper() and len(w) > 2 for w in sentence.split()):
            weight *= EMPHATIC_SENTENCE
        opening = parts[-1].opening
        aside = opening is not None and opening.aside
        if aside:
            weight *= ASIDE_WEIGHT
        elif opening is not None and (opening.contrast or opening.turn) and index > 0:
            weights = [earlier * TURN_DAMP for earlier in weights]
        weights.append(weight)
        asides.append(aside)
    _contexts_by_sentence(parts, asides, lexicon)
    feeling = sum(
        _merge(reading, part, weight) for part, weight in zip(parts, weights, strict=True)
    )
    reading.strength_scale = min(1.0, LONG_TEXT_SENTENCES / max(1, feeling))


def _contexts_by_sentence(parts: list[_Reading], asides: list[bool], lexicon: Lexicon) -> None:
    """Apply each sentence's contexts to that sentence, and leave none on it.

    A context colours its own sentence, not the whole text: a wait in January does not
    make a restful ending anxious. Some reach further (``Context.reach``: a death, a
    homecoming colour the sentences after them). An aside switches none on."""
    switched = [
        () if aside else tuple(part.contexts) for part, aside in zip(parts, asides, strict=True)
    ]
    for index, part in enumerate(parts):
        window = dict.fromkeys(switched[index])
        for back in range(1, index + 1):
            for name in switched[index - back]:
                if lexicon.contexts[name].reach >= back:
                    window.setdefault(name, None)
        part.contexts = window
        if window:
            _apply_contexts(part, lexicon)
        part.contexts = {}


def _read_short(text: str, lexicon: Lexicon, language: str, *, around: str = "") -> _Reading:
    """A text read whole; sarcastic praise is set aside, read as irritation (``kmidi.sarcasm``).
    ``around`` is the text around a sentence of a long text, where its trouble may be."""
    irony = find_irony(text, language)
    if irony is None:
        mocked = _read_mock(text, lexicon, language)
        if mocked is not None:
            return mocked
        reading = _Reading()
        _read(text, 1.0, reading, "", lexicon)
        _repeated_mishap(text, reading, language)
        return reading
    rest = _Reading()
    _read(irony.rest, 1.0, rest, "", lexicon)
    if not _ironic(irony, rest, language, lexicon, around):
        reading = _Reading(sincere=True)
        _read(text, 1.0, reading, "", lexicon)
        return reading
    for preset, score in rest.scores.items():
        if PRESETS[preset].valence > 0 and score > 0:
            rest.scores[preset] = 0.0  # praise under irony is not felt
    rest.add("anger", irritation(), f"sarcasm: {irony.marker}")
    return rest


REPEAT_QUIET = 0.6
"""A text whose feelings add up to less than this, none of them pleasant, and that says a
mishap happened again reads the irritation of it (``_repeated_mishap``)."""


def _repeated_mishap(text: str, reading: _Reading, language: str) -> None:
    """A mishap said to happen again ("the plumber didn't show up for the third time", "me
    han vuelto a cobrar la factura") voices irritation when little else is felt: the
    repetition is the complaint. Needs a mishap or chore word, so "play it again" is not."""
    felt = sum(score for score in reading.scores.values() if score > 0.0)
    if felt >= REPEAT_QUIET or any(
        score > 0.0 and PRESETS[preset].valence >= PLEASANT_VALENCE
        for preset, score in reading.scores.items()
    ):
        return
    marker = find_repeat(text, language)
    if marker is None:
        return
    if has_trouble(text, language, strong=True) or has_chore(text, language):
        reading.add("anger", irritation(), f"again: {marker}")


def _read_mock(text: str, lexicon: Lexicon, language: str) -> _Reading | None:
    """A complaint about something good ("I hate how good this is", "the worst, they threw
    me a surprise party") read as the good thing: only when, the complaint set aside, the
    rest is pleasant (``SINCERE_PRAISE`` or more, contexts applied) and outweighs anything
    unpleasant (or the marker is hyperbole, "Tragic.", whose complaints are all mock), and
    names no mishap."""
    mock = find_mock(text, language)
    if mock is None or has_trouble(mock.rest, language, strong=True):
        return None
    rest = _Reading()
    _read(mock.rest, 1.0, rest, "", lexicon)
    if mock.certain:
        rest.contexts = {}  # a mock "devastated" switches on no loss
    settled = _Reading(scores=dict(rest.scores), contexts=dict(rest.contexts))
    if settled.contexts:
        _apply_contexts(settled, lexicon)
    pleasant, unpleasant = _valence_sums(settled.scores)
    label = f"mock complaint: {mock.marker}"
    if mock.certain:
        # Hyperbole ("devastated I have to eat cake. Tragic."): its complaints are mock too,
        # and the joke itself is amused when nothing else pleasant is named.
        for preset, score in rest.scores.items():
            if score > 0 and PRESETS[preset].valence < 0:
                rest.scores[preset] = 0.0
        if pleasant < SINCERE_PRAISE:
            rest.add("joy", SINCERE_PRAISE + NEUTRAL_THRESHOLD, label)
            return rest
    elif pleasant < SINCERE_PRAISE or unpleasant >= pleasant:
        return None
    rest.evidence[label] = 0.0
    return rest


def _valence_sums(scores: dict[str, float]) -> tuple[float, float]:
    """(pleasant, unpleasant): the positive scores of pleasant presets (``PLEASANT_VALENCE``
    or more) and of unpleasant ones (valence under 0)."""
    pleasant = unpleasant = 0.0
    for preset, score in scores.items():
        if score > 0 and PRESETS[preset].valence >= PLEASANT_VALENCE:
            pleasant += score
        elif score > 0 and PRESETS[preset].valence < 0:
            unpleasant += score
    return pleasant, unpleasant


def _ironic(irony: Irony, rest: _Reading, language: str, lexicon: Lexicon, around: str) -> bool:
    """Whether the markers found mean the opposite (``kmidi.sarcasm``): a certain marker
    always; otherwise only with nothing pleasant left (under ``SINCERE_PRAISE``, or
    ``SINCERE_OVER_MISHAP`` beside a mishap), praise
    over trouble and enthusiasm over a chore (or over trouble when shouted)."""
    if irony.certain:
        return True
    pleasant = sum(
        score for p, score in rest.scores.items() if PRESETS[p].valence >= PLEASANT_VALENCE
    )
    mishap = has_trouble(irony.rest, language, strong=True)
    # Over a named mishap a passing pleasant word ("Génial, la machine à *café* est en
    # panne") does not make the praise sincere; a real feeling ("…but I got a seat!") does.
    if pleasant >= (SINCERE_OVER_MISHAP if mishap else SINCERE_PRAISE):
        return False
    chore = mishap or has_chore(irony.rest, language)
    if chore or (around and has_chore(around, language)):
        return True
    if irony.tier == "enthusiasm" and not irony.shouted:
        return False
    unpleasant = any(score > 0 and PRESETS[p].valence < 0 for p, score in rest.scores.items())
    if unpleasant or has_trouble(irony.rest, language):
        return True
    return bool(around) and (has_trouble(around, language) or _unpleasant(around, lexicon))


def _unpleasant(text: str, lexicon: Lexicon) -> bool:
    reading = _Reading()
    _read(text, 1.0, reading, "", lexicon)
    return any(score > 0 and PRESETS[p].valence < 0 for p, score in reading.scores.items())


def analyse_text(
    text: str,
    *,
    wound: str | None = None,
    desire: str | None = None,
    reader: AffectReader | Literal["packaged"] | None = "packaged",
) -> Affect:
    """Read emotion, intensity, valence and arousal from what a person wrote.

    ``wound`` and ``desire`` contribute with lower weight. Text with no affect at all reads
    as ``neutral`` with intensity 0. The language (``kmidi.language.detect`` over all three)
    chooses the lexicon, and is reported in ``Affect.language``. The trained ``reader`` reads
    the text and the wound beside the lexicon (``None``: the lexicon alone), and the arbiter
    (``kmidi.affect_arbiter``) chooses the family from both.
    """
    lexicon_side = _read_lexicon(text or "", wound, desire)
    lexical = lexicon_side.affect
    lexical_family = PRESETS[lexical.primary].family
    if lexicon_stands(lexical_family, short=lexicon_side.short):
        return lexical
    # The reader hears the wound (what happened carries a feeling) but not the desire: a
    # wish for calm is not calm, and the reader, fitted on how people feel, would read it so.
    opinion = _opinion(" ".join(part for part in (text, wound) if part), reader)
    if not opinion:
        return lexical
    family, posterior = packaged_arbiter().choose(lexicon_side.evidence(opinion))
    if family == lexical_family:
        return lexical
    if family == NEUTRAL.name:
        # The reader never hears the desire: a feeling the wound or desire gave stands.
        return lexical if wound or desire else _neutral(lexicon_side.reading, lexicon_side.language)
    reading = lexicon_side.reading
    reading.evidence[READER_EVIDENCE] = max(reading.evidence.values(), default=1.0) + 1.0
    if lexical.primary != NEUTRAL.name or lexicon_side.short:
        # Two readers that disagree are a reason to ask, and so is a feeling only the reader
        # hears in five words or fewer: the reading is flagged unsure.
        posterior = min(posterior, DISAGREEING)
    led = _led_by(lexicon_side.scores, opinion, family)
    return _affect_of(
        reading,
        led,
        lexicon_side.emphasis,
        lexicon_side.language,
        family=family,
        confidence=posterior,
    )


def lexicon_stands(family: str, *, short: bool) -> bool:
    """Whether the lexicon's reading stands without the arbiter: a feeling (``family``) read
    in a text too short for the trained reader (``too_short``)."""
    return family != NEUTRAL.name and short


def arbiter_evidence(text: str, opinion: dict[str, float]) -> Evidence:
    """What the arbiter weighs for ``text`` given the reader's ``opinion`` (its preset
    probabilities): the same as ``analyse_text`` gives it, for fitting the arbiter."""
    return _read_lexicon(text, None, None).evidence(opinion)


@dataclass(slots=True)
class _LexiconSide:
    """The lexicon's reading of an intent, and what it leaves for the arbiter to weigh."""

    language: str
    reading: _Reading
    scores: dict[str, float]
    """The positive preset scores."""
    emphasis: float
    affect: Affect

    @property
    def short(self) -> bool:
        """Too few words for the trained reader to go on (``too_short``)."""
        return too_short(self.reading.words)

    def evidence(self, opinion: dict[str, float]) -> Evidence:
        reading = self.reading
        return Evidence(
            reader=family_shares(opinion),
            lexicon=family_shares(self.scores),
            lexicon_family=PRESETS[self.affect.primary].family,
            lexicon_confidence=self.affect.confidence,
            negated=bool(reading.negated),
            contexts=bool(reading.contexts),
            sincere=reading.sincere,
            words=reading.words,
        )


def _read_lexicon(text: str, wound: str | None, desire: str | None) -> _LexiconSide:
    language = detect(" ".join(part for part in (text, wound, desire) if part))
    reading = _gather(text, wound, desire, lexicon_for(language), language)
    emphasis = _emphasis(reading)
    _ecstatic(reading)
    scores = {name: score for name, score in reading.scores.items() if score > 0.0}
    if sum(scores.values()) <= NEUTRAL_THRESHOLD:
        lexical = _neutral(reading, language)
    else:
        lexical = _affect_of(reading, scores, emphasis, language)
    return _LexiconSide(language, reading, scores, emphasis, lexical)


def _opinion(text: str, reader: AffectReader | Literal["packaged"] | None) -> dict[str, float]:
    """The trained reader's preset probabilities; empty without a reader, a text, or a word
    of it the reader knows (then the lexicon reads alone)."""
    if reader is None or not text:
        return {}
    return (packaged_reader() if isinstance(reader, str) else reader).probabilities(text)


def _led_by(scores: dict[str, float], opinion: dict[str, float], family: str) -> dict[str, float]:
    """The lexicon's scores with the reader's presets of ``family`` added, every other
    family scaled below its leader (``SECOND_BELOW``): still a possible second feeling,
    no longer what valence and arousal follow."""
    led = dict(scores)
    for name, share in opinion.items():
        if PRESETS[name].family == family:
            led[name] = led.get(name, 0.0) + share
    lead = max(score for name, score in led.items() if PRESETS[name].family == family)
    others = max(
        (score for name, score in led.items() if PRESETS[name].family != family), default=0.0
    )
    if others <= SECOND_BELOW * lead:
        return led
    scale = SECOND_BELOW * lead / others
    return {name: s if PRESETS[name].family == family else s * scale for name, s in led.items()}


def _gather(
    text: str, wound: str | None, desire: str | None, lexicon: Lexicon, language: str
) -> _Reading:
    """Every cue of the text, the wound and the desire, with negation and contexts applied."""
    if _is_long(text):
        reading = _Reading()
        _read_long(text, reading, lexicon, language)
    else:
        reading = _read_short(text, lexicon, language)
    if wound:
        _read(wound, WOUND_WEIGHT, reading, "wound: ", lexicon)
    if desire:
        _read(desire, DESIRE_WEIGHT, reading, "desire: ", lexicon)
    _mixed_negation(reading)
    if reading.contexts:
        _apply_contexts(reading, lexicon)
    return reading


def _affect_of(
    reading: _Reading,
    scores: dict[str, float],
    emphasis: float,
    language: str,
    *,
    family: str | None = None,
    confidence: float | None = None,
) -> Affect:
    """The reading's scores as an Affect: the leading family's strongest preset, a close
    second, intensity, valence, arousal and how sure the reading is (``family`` and
    ``confidence`` when the trained reader chose the family: its posterior)."""
    families = family_shares(scores)
    family_order = sorted(families, key=lambda f: (f != family, -families[f]))
    primary, secondary = _leading_presets(scores, family_order[0])
    strength = families[family_order[0]]
    felt = strength * reading.strength_scale
    intensity = _clamp(0.15 + 0.7 * math.tanh(0.9 * felt) + emphasis, 0.05, 1.0)
    valence, arousal = _circumplex(scores, primary, intensity, emphasis)
    runner_up = families[family_order[1]] if len(family_order) > 1 else 0.0
    if confidence is None:
        confidence = _confidence(strength, runner_up)
    evidence = sorted(reading.evidence, key=lambda label: -reading.evidence[label])
    return Affect(
        primary=primary,
        secondary=secondary,
        intensity=round(intensity, 4),
        valence=round(valence, 4),
        arousal=round(arousal, 4),
        confidence=round(_clamp(confidence, 0.05, 0.99), 4),
        modifiers=_modifiers(reading, scores, primary, secondary),
        evidence=tuple(evidence[:_MAX_EVIDENCE]),
        language=language,
    )


def _leading_presets(scores: dict[str, float], family: str) -> tuple[str, str | None]:
    """The strongest preset of ``family``, and a second one close enough to it
    (``_SECONDARY_RATIO``) from any family."""
    ordered = _order(scores)
    primary = next(name for name in ordered if PRESETS[name].family == family)
    secondary = next(
        (
            name
            for name in ordered
            if name != primary and scores[name] >= _SECONDARY_RATIO * scores[primary]
        ),
        None,
    )
    return primary, secondary


def _circumplex(
    scores: dict[str, float], primary: str, intensity: float, emphasis: float
) -> tuple[float, float]:
    """Valence and arousal: the presets within a fifth of the primary's score, averaged by
    score; valence fades with low intensity, emphasis raises arousal."""
    considered = [name for name in _order(scores) if scores[name] >= 0.2 * scores[primary]]
    weight_sum = sum(scores[name] for name in considered)
    valence = sum(PRESETS[n].valence * scores[n] for n in considered) / weight_sum
    arousal = sum(PRESETS[n].arousal * scores[n] for n in considered) / weight_sum
    return (
        _clamp(valence * (0.6 + 0.4 * intensity), -1.0, 1.0),
        _clamp(arousal + emphasis, -1.0, 1.0),
    )


def _modifiers(
    reading: _Reading, scores: dict[str, float], primary: str, secondary: str | None
) -> tuple[str, ...]:
    """The modifiers read, with "bittersweet" where a strong second feeling has the other
    valence."""
    modifiers = dict(reading.modifiers)
    if (
        secondary is not None
        and PRESETS[primary].valence * PRESETS[secondary].valence < 0
        and scores[secondary] >= 0.5 * scores[primary]
    ):
        modifiers.setdefault("bittersweet", None)
    return tuple(name for name in modifiers if name in MODIFIERS)


def _confidence(strength: float, runner_up: float) -> float:
    """How sure a reading is: its strength, and its lead over the next family."""
    margin = (strength - runner_up) / strength
    # A lead over nothing is not certainty: one weak word ("whatever") wins its family by
    # default, so the margin counts in proportion to the evidence, up to FIRM_EVIDENCE.
    evidence_share = min(1.0, strength / FIRM_EVIDENCE)
    return _clamp(0.2 + 0.4 * math.tanh(strength) + 0.35 * margin * evidence_share, 0.05, 0.99)


def analyse_intent(intent: Intent) -> Affect:
    """``analyse_text`` over an intent's feeling, core wound and core desire."""
    return analyse_text(intent.emotional_intent, wound=intent.core_wound, desire=intent.core_desire)


def _clamp(value: float, low: float, high: float) -> float:
    return min(high, max(low, value))
