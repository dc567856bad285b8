"""The musical plan: every decision about a piece, made before a single note is written.

A ``Plan`` is plain data. It travels as JSON in a Kafka event from the interrogation stage
to the generation stage, so ``Plan.from_dict(plan.to_dict()) == plan`` exactly.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, fields, replace
from itertools import accumulate, pairwise
from typing import TYPE_CHECKING, Any, Final, TypeVar

from kmidi import emotions
from kmidi.errors import TechnicalWishError
from kmidi.form import INTRO, Phrase, intro_bars, phrase_spans, plan_form
from kmidi.genres import GenreSpec, beat_groups, choose_genre, drum_style_for, get_genre
from kmidi.theory import (
    MINOR_LIKE,
    MODE_STEPS,
    RULE_BREAKS,
    Chord,
    Key,
    diatonic_chord,
    key_signature,
    parse_chord,
    parse_key,
    parse_time_signature,
    split_progression,
    validate_rule_breaks,
)
from kmidi.wishes import HeardWishes, heard_wishes

if TYPE_CHECKING:
    from kmidi.affect import Affect
    from schemas.intent import Intent, TechnicalWishes

PLAN_VERSION = 3
"""2 added ``phrases`` (form and cadences) and ``Instrumentation.voicing``; 3 added the
intro phrase and ``Instrumentation.intro``. Older plans still load (version 1: one phrase
per 4 bars, close voicings; versions 1 and 2: no intro)."""


@dataclass(frozen=True, slots=True)
class ChordSlot:
    """One chord of the progression: where it starts, how long it lasts, what it is."""

    bar: int
    """0-based bar index."""
    beat: float
    """Offset from the bar line in quarter-note beats."""
    beats: float
    """Duration in quarter-note beats."""
    symbol: str
    """Absolute chord symbol, e.g. "Am7"."""
    numeral: str | None
    """Roman numeral relative to the key, when known."""


@dataclass(frozen=True, slots=True)
class Section:
    """A stretch of the arc (intro, build, climax, release) with its energy 0..1."""

    name: str
    start_bar: int
    end_bar: int
    """Exclusive."""
    energy: float


@dataclass(frozen=True, slots=True)
class Groove:
    """How the time feels: ahead/behind the beat, swing, human looseness."""

    timing_feel: str
    feel_offset: float
    """Beats added to every onset except the drums' (positive = late, "behind")."""
    swing: float
    """Delay of off-beat eighths in beats (1/6 ≈ triplet swing)."""
    humanize_timing: float
    """Standard deviation of onset jitter in beats."""
    humanize_velocity: float
    """Standard deviation of velocity jitter as a fraction of 127."""
    displacement: float
    """Beats every melody onset is pushed (constant_displacement), else 0."""


@dataclass(frozen=True, slots=True)
class Instrumentation:
    """General MIDI programs per track, drums, and how harmony and bass play."""

    genre: str
    harmony_program: int
    bass_program: int
    melody_program: int
    pad_program: int | None
    drums: bool
    drum_style: str | None
    comping: str
    bass_style: str
    voicing: str = "close"
    """"close" triads and sevenths, or "power" (root, fifth, octave)."""
    tonic_pedal: bool = False
    """A modal key's tonic anchored: held above every chord (close voicings) or chugged
    by the bass between power chords. Never under a requested progression."""
    intro: tuple[str, ...] = ()
    """Parts that play the intro phrase (the others, and always the melody, enter after
    it); empty when the piece has no intro."""


@dataclass(frozen=True, slots=True)
class Registers:
    """MIDI note ranges per part."""

    melody_low: int
    melody_high: int
    melody_centre: int
    harmony_low: int
    harmony_high: int
    bass_low: int
    bass_high: int


@dataclass(frozen=True, slots=True)
class RuleBreak:
    """A deliberate departure from convention and why it is there."""

    name: str
    reason: str


@dataclass(frozen=True, slots=True)
class EmotionRef:
    """The emotion the plan expresses."""

    preset: str
    modifiers: tuple[str, ...]
    intensity: float
    valence: float
    arousal: float


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything the renderer needs; JSON-serialisable and exactly round-tripping."""

    seed: int
    emotion: EmotionRef
    key_tonic: str
    key_mode: str
    key_signature: str
    """mido key name of the signature ("C" for D dorian, "F#m" for F# aeolian)."""
    tempo_bpm: float
    """Quarter notes per minute at the start (MIDI set_tempo)."""
    tempo_end_bpm: float
    """Tempo of the last bar; differs from ``tempo_bpm`` only with tempo_drift."""
    time_signature: str
    length_bars: int
    harmonic_rhythm: float
    progression: tuple[ChordSlot, ...]
    sections: tuple[Section, ...]
    phrases: tuple[Phrase, ...]
    """The form: phrases with their material label and the cadence that ends each."""
    groove: Groove
    dynamics: tuple[float, ...]
    """Loudness per bar, 0..1 of the MIDI velocity range."""
    dynamics_variance: float
    instrumentation: Instrumentation
    registers: Registers
    note_density: float
    space: float
    legato: float
    dissonance: float
    rule_breaks: tuple[RuleBreak, ...]
    explanations: tuple[str, ...]
    ending: str = "held"
    """"held" (in time) or "ritardando" (the last two bars slow to 0.92 and 0.82 of the
    tempo)."""
    version: int = PLAN_VERSION

    # ------------------------------------------------------------ derived timing

    @property
    def meter(self) -> tuple[int, int]:
        num, den = self.time_signature.split("/")
        return int(num), int(den)

    @property
    def beats_per_bar(self) -> float:
        """Quarter-note beats per bar (6/8 → 3.0)."""
        num, den = self.meter
        return num * 4 / den

    @property
    def total_beats(self) -> float:
        return self.length_bars * self.beats_per_bar

    @property
    def key(self) -> Key:
        return parse_key(f"{self.key_tonic} {self.key_mode}")

    @property
    def variation(self) -> int:
        """The seed every random choice of this piece is drawn with (see ``variation_seed``)."""
        e = self.emotion
        return variation_seed(self.seed, e.preset, e.modifiers, e.intensity, e.valence, e.arousal)

    def has_rule_break(self, name: str) -> bool:
        return any(rb.name == name for rb in self.rule_breaks)

    def bar_tempi_us(self) -> list[int]:
        """MIDI tempo (microseconds per quarter) of each bar, as written to the file."""
        bars = self.length_bars
        step = (self.tempo_end_bpm - self.tempo_bpm) / (bars - 1) if bars > 1 else 0.0
        bpm = [self.tempo_bpm + step * i for i in range(bars)]
        if self.ending == "ritardando" and bars >= 4:
            bpm[-2:] = [bpm[-2] * _RITARDANDO[0], bpm[-1] * _RITARDANDO[1]]
        return [round(60_000_000 / b) for b in bpm]

    def duration_seconds(self) -> float:
        """Exact length of the rendered file: the sum of every bar at its tempo."""
        bpb = self.beats_per_bar
        return sum(us * bpb for us in self.bar_tempi_us()) / 1_000_000

    # ------------------------------------------------------------ serialisation

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types only (lists, dicts, str, int, float, None, bool)."""
        return _to_plain(self)  # type: ignore[no-any-return]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Plan:
        """Inverse of ``to_dict``; raises ``ValueError`` on a malformed document."""
        try:
            return cls(
                seed=int(data["seed"]),
                emotion=_emotion_from(data["emotion"]),
                key_tonic=str(data["key_tonic"]),
                key_mode=str(data["key_mode"]),
                key_signature=str(data["key_signature"]),
                tempo_bpm=float(data["tempo_bpm"]),
                tempo_end_bpm=float(data["tempo_end_bpm"]),
                time_signature=str(data["time_signature"]),
                length_bars=int(data["length_bars"]),
                harmonic_rhythm=float(data["harmonic_rhythm"]),
                progression=tuple(_chord_slot_from(c) for c in data["progression"]),
                sections=tuple(_section_from(s) for s in data["sections"]),
                phrases=_phrases(data),
                groove=_record_from(Groove, data["groove"]),
                dynamics=tuple(float(x) for x in data["dynamics"]),
                dynamics_variance=float(data["dynamics_variance"]),
                instrumentation=_instrumentation_from(data["instrumentation"]),
                registers=_record_from(Registers, data["registers"]),
                note_density=float(data["note_density"]),
                space=float(data["space"]),
                legato=float(data["legato"]),
                dissonance=float(data["dissonance"]),
                rule_breaks=tuple(
                    RuleBreak(name=str(r["name"]), reason=str(r["reason"]))
                    for r in data["rule_breaks"]
                ),
                explanations=tuple(str(e) for e in data["explanations"]),
                ending=str(data.get("ending", "held")),
                version=int(data.get("version", PLAN_VERSION)),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"malformed plan: {exc!r}") from exc


def variation_seed(
    seed: int,
    preset: str,
    modifiers: tuple[str, ...],
    intensity: float,
    valence: float,
    arousal: float,
) -> int:
    """The seed mixed with the reading, so that the words, not the seed alone, choose the
    key, the genre's draw and the melody: two readings composed with one seed differ, and
    one intent with one seed is still the same piece every time."""
    reading = f"{seed}|{preset}|{','.join(modifiers)}|{intensity:.4f}|{valence:.4f}|{arousal:.4f}"
    return int.from_bytes(hashlib.blake2b(reading.encode(), digest_size=8).digest(), "big")


def _emotion_from(data: dict[str, Any]) -> EmotionRef:
    return EmotionRef(
        preset=str(data["preset"]),
        modifiers=tuple(str(m) for m in data["modifiers"]),
        intensity=float(data["intensity"]),
        valence=float(data["valence"]),
        arousal=float(data["arousal"]),
    )


def _chord_slot_from(data: dict[str, Any]) -> ChordSlot:
    return ChordSlot(
        bar=int(data["bar"]),
        beat=float(data["beat"]),
        beats=float(data["beats"]),
        symbol=str(data["symbol"]),
        numeral=None if data["numeral"] is None else str(data["numeral"]),
    )


def _section_from(data: dict[str, Any]) -> Section:
    return Section(
        name=str(data["name"]),
        start_bar=int(data["start_bar"]),
        end_bar=int(data["end_bar"]),
        energy=float(data["energy"]),
    )


_Record = TypeVar("_Record", Groove, Registers)


def _record_from(kind: type[_Record], data: dict[str, Any]) -> _Record:
    """A record whose every field is stored as is, by name."""
    return kind(**{f.name: data[f.name] for f in fields(kind)})


def _instrumentation_from(data: dict[str, Any]) -> Instrumentation:
    """Instrumentation from JSON; fields added after version 1 take their defaults."""
    later = ("voicing", "tonic_pedal", "intro")
    values = {f.name: data[f.name] for f in fields(Instrumentation) if f.name in data}
    missing = [
        f.name for f in fields(Instrumentation) if f.name not in data and f.name not in later
    ]
    if missing:
        raise KeyError(missing[0])
    if "intro" in values:
        values["intro"] = tuple(str(p) for p in values["intro"])
    return Instrumentation(**values)


def _phrases(data: dict[str, Any]) -> tuple[Phrase, ...]:
    """The plan's phrases; a version-1 plan had none, so its 4-bar phrases are derived."""
    if "phrases" not in data:
        spans = phrase_spans(int(data["length_bars"]))
        return tuple(Phrase(a, b, "A", "authentic") for a, b in spans)
    return tuple(
        Phrase(
            start_bar=int(p["start_bar"]),
            end_bar=int(p["end_bar"]),
            label=str(p["label"]),
            cadence=str(p["cadence"]),
        )
        for p in data["phrases"]
    )


_SCALARS: Final = (str, int, float, bool, type(None))
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}
"""Field names per dataclass: ``fields()`` builds a new tuple on every call, and a plan
has ~460 values; with the names kept, ``to_dict`` takes 0.14 ms instead of 0.45."""


def _to_plain(value: Any) -> Any:
    if type(value) in _SCALARS:  # most values of a plan: checked first
        return value
    names = _FIELD_NAMES.get(type(value))
    if names is None:
        if not hasattr(value, "__dataclass_fields__"):
            return [_to_plain(v) for v in value] if isinstance(value, tuple | list) else value
        names = _FIELD_NAMES.setdefault(type(value), tuple(f.name for f in fields(value)))
    return {name: _to_plain(getattr(value, name)) for name in names}


# ---------------------------------------------------------------- building

# Tonic preferences per quadrant of the circumplex (valence sign, arousal sign): the
# idiomatic keys first, then three more, so two readings in one quadrant rarely share a
# home (a shared tonic, genre and meter was most of what made two pieces sound alike).
_TONICS: dict[tuple[bool, bool], tuple[str, ...]] = {
    (False, False): ("D", "A", "E", "C", "G", "F", "B", "Bb", "C#"),
    (False, True): ("E", "C#", "F#", "B", "C", "D", "G", "A", "F"),
    (True, True): ("D", "E", "A", "G", "C", "Bb", "F", "B", "Eb"),
    (True, False): ("F", "Eb", "Bb", "C", "Ab", "G", "D", "A", "Db"),
}
_TONIC_WEIGHTS = (1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.7, 0.7, 0.7)
# Phrase templates (scale degrees) per mode; the first of each list is the most idiomatic.
_TEMPLATES: dict[str, tuple[tuple[int, ...], ...]] = {
    "ionian": ((1, 5, 6, 4), (1, 6, 4, 5), (1, 4, 6, 5), (1, 4, 5, 4), (6, 4, 1, 5), (1, 3, 4, 5)),
    "aeolian": ((1, 6, 4, 5), (1, 4, 1, 5), (1, 4, 6, 5), (1, 6, 3, 7), (1, 7, 6, 7), (1, 4, 7, 3)),
    "dorian": ((1, 4, 1, 5), (1, 2, 1, 4), (1, 4, 1, 4), (1, 7, 4, 1), (1, 5, 7, 1)),
    "phrygian": ((1, 2, 1, 7), (1, 2, 3, 2), (1, 7, 6, 2), (1, 2, 7, 1)),
    "lydian": ((1, 2, 1, 2), (1, 2, 5, 1), (1, 2, 3, 2), (1, 5, 2, 1)),
    "mixolydian": ((1, 7, 4, 1), (1, 5, 7, 4), (1, 7, 1, 4), (1, 4, 7, 1)),
    "locrian": ((1, 2, 1, 2), (1, 2, 7, 1), (1, 6, 2, 1), (1, 5, 2, 1)),
}
# Applied dominants lead to these degrees, in these modes (minor keys keep their own V).
_APPLIED_TARGETS = frozenset((2, 3, 4, 5, 6))
_APPLIED_MODES = frozenset(("ionian", "lydian", "mixolydian"))
# Modes that share their notes with a major or minor key and need their tonic anchored.
_MODAL = frozenset(("dorian", "phrygian", "lydian", "mixolydian", "locrian"))
_RITARDANDO = (0.92, 0.82)
"""Tempo factors of the last two bars of a piece that ends with a ritardando."""
# A half cadence's (approach, last chord) where it is not IV–V. Phrygian asks on its bVII
# from the tonic: approached from iv, bVII is IV–I of the minor key a fourth up, and key
# finders heard that key in 5 of 7 phrygian pieces (tests/unit/test_composition.py).
_HALF_CADENCE: dict[str, tuple[int, int]] = {"phrygian": (1, 7)}
# Chord before the final tonic, by mode: the cadence each mode is known for.
_CADENCE: dict[str, int] = {
    "ionian": 5, "lydian": 5, "mixolydian": 7, "aeolian": 5, "dorian": 4, "phrygian": 2,
    "locrian": 2,
}  # fmt: skip
_CHROMATIC_NUMERALS = (
    "I",
    "bII",
    "II",
    "bIII",
    "III",
    "IV",
    "#IV",
    "V",
    "bVI",
    "VI",
    "bVII",
    "VII",
)
_NUMERAL_SUFFIX: dict[tuple[int, ...], str] = {
    (0, 4, 7, 10): "7",
    (0, 4, 7, 11): "maj7",
    (0, 3, 7, 10): "7",
    (0, 3, 6, 10): "ø7",
    (0, 3, 6, 9): "°7",
    (0, 2, 7): "sus2",
    (0, 5, 7): "sus4",
    (0, 4, 7, 14): "add9",
    (0, 3, 7, 14): "add9",
}


def numeral_for(chord: Chord, key: Key) -> str | None:
    """A roman numeral for ``chord`` that ``parse_chord`` reads back to it in ``key``.

    Accidentals are relative to the major scale on the tonic (bVII, bVI), as kmidi's parser
    reads them; None for qualities roman numerals here cannot express.
    """
    name = _CHROMATIC_NUMERALS[(chord.root - key.tonic_pc) % 12]
    iv = chord.intervals
    if iv in ((0, 4, 7), (0, 4, 7, 10), (0, 4, 7, 11), (0, 2, 7), (0, 5, 7), (0, 4, 7, 14)):
        text = name
    elif iv in ((0, 3, 7), (0, 3, 7, 10), (0, 3, 7, 14)):
        text = name.lower()
    elif iv == (0, 3, 6):
        text = name.lower() + "°"
    elif iv in ((0, 3, 6, 10), (0, 3, 6, 9)):
        text = name.lower()
    elif iv == (0, 4, 8):
        text = name + "+"
    else:
        return None
    if chord.bass is not None:
        return None
    text += _NUMERAL_SUFFIX.get(iv, "")
    return text if parse_chord(text, key)[0] == chord else None


def _pick_mode(
    preset: emotions.EmotionPreset, intensity: float, mods: tuple[str, ...], rng: random.Random
) -> str:
    """A mode drawn from the preset's weights, sharpened by intensity.

    A strongly felt emotion picks its most typical mode more often (weights are raised to
    the power 1 + intensity before drawing). A strongly felt negative emotion (intensity
    0.7 and up) never gets a major home key unless a modifier keeps one (bittersweet).
    """
    weights = preset.mode_weights
    modes = [m for m in MODE_STEPS if weights.get(m, 0.0) > 0]
    keeps_major = any(emotions.MODIFIERS[m].keeps_major_home for m in mods)
    if preset.valence < 0 and intensity >= 0.7 and not keeps_major:
        modes = [m for m in modes if m in MINOR_LIKE] or modes
    power = 1.0 + max(0.0, min(1.0, intensity))
    return rng.choices(modes, weights=[weights[m] ** power for m in modes])[0]


def _sections(
    bars: int, valence: float, arousal: float, intensity: float, variance: float
) -> tuple[Section, ...]:
    base = 0.2 + 0.6 * (arousal + 1) / 2
    amp = (0.15 + 0.45 * variance) * (0.6 + 0.8 * intensity)

    def clamp(x: float) -> float:
        return round(min(1.0, max(0.05, x)), 4)

    if bars < 4:
        return (Section("theme", 0, bars, clamp(base)),)
    if bars < 8:
        half = bars // 2
        return (
            Section("statement", 0, half, clamp(base - amp * 0.3)),
            Section("answer", half, bars, clamp(base + amp * 0.3)),
        )
    unit = 4 if bars >= 16 else 2
    units = bars // unit
    # Intro ≈ 1/8, build ≈ 1/4, climax ≈ 3/8, release the rest; every part at least one unit.
    intro = max(1, round(units * 0.125))
    build = max(1, round(units * 0.25))
    climax = max(1, round(units * 0.375))
    release = units - intro - build - climax
    if release < 1:
        climax -= 1 - release
        release = 1
    cuts = [0, intro * unit, (intro + build) * unit, (intro + build + climax) * unit, bars]
    # A negative, low-arousal arc peaks less and falls further (the swell of grief).
    fall = 0.75 if valence < 0 and arousal < 0 else 0.55
    energies = (base - amp * 0.5, base, base + amp * 0.7, base - amp * fall)
    names = ("intro", "build", "climax", "release")
    return tuple(
        Section(names[i], cuts[i], cuts[i + 1], clamp(energies[i]))
        for i in range(4)
        if cuts[i + 1] > cuts[i]
    )


def _dynamics_curve(
    sections: tuple[Section, ...], bars: int, floor: float, ceiling: float
) -> tuple[float, ...]:
    centres = [((s.start_bar + s.end_bar - 1) / 2, s.energy) for s in sections]
    out: list[float] = []
    for bar in range(bars):
        if bar <= centres[0][0]:
            energy = centres[0][1]
        elif bar >= centres[-1][0]:
            energy = centres[-1][1]
        else:
            energy = centres[-1][1]
            for (x0, e0), (x1, e1) in pairwise(centres):
                if x0 <= bar <= x1:
                    energy = e0 + (e1 - e0) * ((bar - x0) / (x1 - x0) if x1 > x0 else 0.0)
                    break
        out.append(round(floor + (ceiling - floor) * energy, 4))
    if bars >= 4:
        # A last-bar diminuendo: endings breathe out rather than stop.
        out[-1] = round(max(floor, out[-1] * 0.85), 4)
    return tuple(out)


def _slot_grid(
    bars: int, numerator: int, denominator: int, per_bar: float
) -> list[tuple[int, float, float]]:
    """(bar, beat offset, beats) for a harmonic rhythm of ``per_bar`` chords per bar."""
    beats_per_bar = numerator * 4 / denominator
    slots: list[tuple[int, float, float]] = []
    groups = beat_groups(numerator, denominator)
    if per_bar >= 2 and len(groups) >= 2:
        # Split at a felt-beat boundary (7/8 = 2+2+3 eighths splits 2+2 | 3).
        first = sum(groups[: (len(groups) + 1) // 2]) / 4
        for bar in range(bars):
            slots.append((bar, 0.0, first))
            slots.append((bar, float(first), beats_per_bar - first))
        return slots
    span = 1 if per_bar >= 1 else (2 if per_bar >= 0.5 else 4)
    bar = 0
    while bar < bars:
        length = min(span, bars - bar)
        slots.append((bar, 0.0, length * beats_per_bar))
        bar += length
    return slots


def _phrase_grid(
    phrases: tuple[Phrase, ...], numerator: int, denominator: int, per_bar: float
) -> list[list[tuple[int, float, float]]]:
    """The chord slots of each phrase: no chord straddles a phrase boundary, and a phrase
    of two bars or more has room for its opening chord and a two-chord cadence (the last
    long chord gives up its last bar: harmony quickens into a cadence)."""
    grids = []
    bar_beats = numerator * 4 / denominator
    for phrase in phrases:
        slots = _slot_grid(phrase.bars, numerator, denominator, per_bar)
        while len(slots) < min(3, phrase.bars):
            i = max(k for k, (_, _, beats) in enumerate(slots) if beats > bar_beats)
            bar, beat, beats = slots[i]
            slots[i : i + 1] = [
                (bar, beat, beats - bar_beats),
                (bar + round(beats / bar_beats) - 1, 0.0, bar_beats),
            ]
        grids.append([(phrase.start_bar + bar, beat, beats) for bar, beat, beats in slots])
    last = grids[-1]
    if len(last) >= 3 and last[-1][0] == last[-2][0]:
        # The piece's last bar holds its final chord whole: the cadence arrives on the
        # downbeat, and its approach takes the slot before.
        bar, _, _ = last.pop()
        last[-1] = (bar, 0.0, bar_beats)
    return grids


def _cadence_degrees(mode: str, cadence: str, count: int, opening: int) -> tuple[int, ...]:
    """Scale degrees of the last one or two chords of a phrase ending on ``cadence``.

    A two-chord phrase keeps its ``opening`` chord unless that is where it must end.
    """
    if cadence == "half":
        before, end = _HALF_CADENCE.get(mode, (4, 5))
    elif cadence == "deceptive":
        end, before = 6, 5
    else:  # authentic, and open (the home chord, left tensed by the rule that asks)
        end, before = 1, _CADENCE[mode]
    if count == 1:
        return (end,)
    if count == 2 and opening != end:
        return (opening, end)
    return (before, end)


def _phrase_degrees(
    key: Key,
    phrases: tuple[Phrase, ...],
    counts: list[int],
    rng: random.Random,
) -> tuple[list[int], set[int]]:
    """Degrees of every chord, phrase by phrase, and the slots that end on a cadence's V.

    Each material draws its template once, so a returning phrase ("A'") has the same
    chords as its first statement up to its own cadence. An intro vamps on the first two
    chords of A.
    """
    templates = _TEMPLATES[key.mode]
    # The first template is the most idiomatic, but every one is idiomatic: a mild lean,
    # so readings sharing a key rarely share the progression as well.
    weights = [1.0 / (1 + 0.3 * i) for i in range(len(templates))]
    template_of: dict[str, tuple[int, ...]] = {}
    degrees: list[int] = []
    dominants: set[int] = set()
    for phrase, count in zip(phrases, counts, strict=True):
        material = "A" if phrase.label == INTRO else phrase.material
        if material not in template_of:
            # New material gets a progression of its own while the mode has one left.
            fresh = [i for i, t in enumerate(templates) if t not in template_of.values()]
            pool = fresh or list(range(len(templates)))
            pick = rng.choices(pool, weights=[weights[i] for i in pool])[0]
            template_of[material] = templates[pick]
        template = template_of[material]
        cycle = len(template) if phrase.label != INTRO else 2
        body = [template[i % cycle] for i in range(count)]
        ending = _cadence_degrees(key.mode, phrase.cadence, count, body[0])
        body[count - len(ending) :] = ending
        first = len(degrees)
        dominants.update(first + i for i in range(count - len(ending), count) if body[i] == 5)
        degrees += body
    return degrees, dominants


@dataclass(frozen=True, slots=True)
class _Colour:
    """What colours a generated progression beyond its templates."""

    sevenths: bool
    valence: float
    rules: frozenset[str]
    applied: float
    """Chance that a chord before ii, iii, IV, V or vi becomes its applied dominant."""


def _generated_chords(
    key: Key,
    phrases: tuple[Phrase, ...],
    counts: list[int],
    rng: random.Random,
    colour: _Colour,
) -> list[Chord]:
    """The chords of a generated progression: templates per material, cadences per phrase,
    applied dominants, then the rule breaks' colour."""
    degrees, dominants = _phrase_degrees(key, phrases, counts, rng)
    # A progression uses a handful of degrees: build each chord once (Chord is immutable).
    by_degree = {d: diatonic_chord(key, d, seventh=colour.sevenths) for d in dict.fromkeys(degrees)}
    chords = [by_degree[d] for d in degrees]
    if key.mode == "aeolian":
        _raise_dominants(key, chords, dominants, sevenths=colour.sevenths)
    if colour.applied and key.mode in _APPLIED_MODES:
        _apply_dominants(key, degrees, chords, _free_slots(phrases, counts), colour.applied, rng)
    if "modal_interchange" in colour.rules:
        _borrow_from_parallel(key, degrees, chords, sevenths=colour.sevenths)
    _deceive(key, phrases, counts, chords, colour)
    if "unresolved_dissonance" in colour.rules:
        _leave_unresolved(key, chords)
    return chords


def _raise_dominants(key: Key, chords: list[Chord], dominants: set[int], *, sevenths: bool) -> None:
    """Common-practice minor: a cadence's dominant is major (the raised seventh)."""
    root = (key.tonic_pc + 7) % 12
    major_v = Chord(
        root, (0, 4, 7, 10) if sevenths else (0, 4, 7), root_name=key.spell_degree(5, root)
    )
    for i in dominants:
        chords[i] = major_v


def _borrow_from_parallel(
    key: Key, degrees: list[int], chords: list[Chord], *, sevenths: bool
) -> None:
    """Borrow on the third chord of every other phrase: a shadow (or light) passing over;
    a major key also takes the minor iv before home."""
    parallel = Key(key.tonic, key.tonic_pc, "ionian" if key.is_minor_like else "aeolian")
    count = len(chords)
    for i in range(2, count - 1, 8):
        borrowed_degree = 4 if degrees[i] not in (4, 6) else degrees[i]
        chords[i] = diatonic_chord(parallel, borrowed_degree, seventh=sevenths)
    if count >= 4 and not key.is_minor_like:
        chords[-2] = diatonic_chord(parallel, 4)


def _deceive(
    key: Key,
    phrases: tuple[Phrase, ...],
    counts: list[int],
    chords: list[Chord],
    colour: _Colour,
) -> None:
    """A deceptive cadence's last chord becomes a stable chord away from home."""
    ends = list(accumulate(counts))
    deceptive = [end - 1 for end, p in zip(ends, phrases, strict=True) if p.cadence == "deceptive"]
    if not deceptive:
        return
    # Minor modes stay minor-coloured away from home (iv, v); major ones go to vi or IV.
    if key.is_minor_like:
        prefer: tuple[int, ...] = (4, 5, 6)
    else:
        prefer = (6, 4) if colour.valence < 0 else (4, 6)
    away = _stable_away(key, prefer, sevenths=colour.sevenths, minor=key.is_minor_like)
    for i in deceptive:
        chords[i] = away


def _leave_unresolved(key: Key, chords: list[Chord]) -> None:
    """Added ninths, and a suspended ending that never resolves — all from the scale."""
    scale = set(key.scale)
    for i in range(1, len(chords), 3):
        chords[i] = _tensed(chords[i], scale, ((0, 4, 7, 14), (0, 3, 7, 14)))
    chords[-1] = _tensed(chords[-1], scale, ((0, 5, 7), (0, 2, 7), (0, 4, 7, 14), (0, 3, 7, 14)))


def _free_slots(phrases: tuple[Phrase, ...], counts: list[int]) -> list[tuple[int, str, int]]:
    """(slot, material, place in the phrase) of the slots a colour may change: not a
    phrase's first chord, not its cadence's two, not in an intro or an A phrase (the
    opening material stays plain; its return is heard)."""
    free: list[tuple[int, str, int]] = []
    start = 0
    for phrase, count in zip(phrases, counts, strict=True):
        if phrase.material not in ("A", INTRO):
            free += [(start + k, phrase.material, k) for k in range(1, count - 2)]
        start += count
    return free


def _apply_dominants(
    key: Key,
    degrees: list[int],
    chords: list[Chord],
    free: list[tuple[int, str, int]],
    rate: float,
    rng: random.Random,
) -> None:
    """Turn a chord into the dominant seventh of the chord after it (V7/ii before ii…),
    latest first, so a chord that became a dominant is never the target of another. The
    choice is drawn once per material and place, so a returning phrase keeps its chords."""
    chosen: dict[tuple[str, int], bool] = {}
    changed: set[int] = set()
    for i, material, place in sorted(free, reverse=True):
        target = degrees[i + 1]
        if i + 1 in changed or target not in _APPLIED_TARGETS or degrees[i] == target:
            continue
        if not chosen.setdefault((material, place), rng.random() < rate):
            continue
        degree = (target + 3) % 7 + 1  # a fifth above the target, as a scale degree
        root = (key.tonic_pc + MODE_STEPS[key.mode][degree - 1]) % 12
        if (chords[i + 1].root - root) % 12 != 5:
            continue  # the scale's degree is not a perfect fifth above the target
        chords[i] = Chord(root, (0, 4, 7, 10), root_name=key.spell_degree(degree, root))
        changed.add(i)


def _applied_pairs(chords: list[Chord], symbols: list[str], key: Key) -> str:
    """ "A7→Dm, E7→Am": each dominant seventh from outside the scale and the chord other
    than home it resolves to, once each (a minor key's own V7–i is not applied)."""
    scale = set(key.scale)
    pairs = {
        f"{symbols[i]}→{symbols[i + 1]}"
        for i, (chord, after) in enumerate(pairwise(chords))
        if chord.intervals == (0, 4, 7, 10)
        and not set(chord.pitch_classes) <= scale
        and (chord.root - after.root) % 12 == 7
        and after.root != key.tonic_pc
    }
    return ", ".join(sorted(pairs))


def _tensed(chord: Chord, scale: set[int], options: tuple[tuple[int, ...], ...]) -> Chord:
    """The first of ``options`` on the chord's root that stays in ``scale`` (else unchanged)."""
    for intervals in options:
        if all((chord.root + iv) % 12 in scale for iv in intervals) and (
            len(intervals) == 3 or intervals[:3] == chord.intervals[:3]
        ):
            return Chord(chord.root, intervals, root_name=chord.root_name)
    return chord


def _stable_away(key: Key, prefer: tuple[int, ...], *, sevenths: bool, minor: bool) -> Chord:
    """The first of ``prefer`` whose chord is stable (minor if ``minor``), never the tonic."""
    wanted = ((0, 3, 7),) if minor else ((0, 3, 7), (0, 4, 7))
    for accept in (wanted, ((0, 3, 7), (0, 4, 7))):
        for degree in (*prefer, 4, 6, 5, 3, 7, 2):
            chord = diatonic_chord(key, degree, seventh=sevenths)
            if chord.intervals[:3] in accept and chord.root != key.tonic_pc:
                return chord
    return diatonic_chord(key, 4)


def _emotion_rule_breaks(
    preset: emotions.EmotionPreset, mods: tuple[str, ...], intensity: float
) -> list[tuple[str, str]]:
    """The rule breaks the emotions data asks for at this intensity: the preset's, then
    its modifiers', at most two."""
    cues = [*preset.rule_breaks, *(c for m in mods for c in emotions.MODIFIERS[m].rule_breaks)]
    chosen: dict[str, str] = {}
    for cue in cues:
        if intensity >= cue.min_intensity:
            chosen.setdefault(cue.name, cue.reason)
    return list(chosen.items())[:2]


# ---------------------------------------------------------------- the plan, part by part


def _choose_preset(
    affect: Affect, why: list[str]
) -> tuple[emotions.EmotionPreset, tuple[str, ...]]:
    """The preset for the reading, with its modifiers applied."""
    try:
        preset = emotions.get_preset(affect.primary)
    except KeyError:
        preset = emotions.NEUTRAL
        why.append(f'Emotion "{affect.primary}" is not in the taxonomy; neutral preset used.')
    mods = tuple(m for m in affect.modifiers if m in emotions.MODIFIERS)
    preset = emotions.apply_modifiers(preset, mods, affect.intensity)
    why.append(
        f"{preset.name} ({preset.family}), intensity {affect.intensity:.2f}"
        + (f", modifiers {', '.join(mods)}" if mods else "")
        + f": valence {affect.valence:+.2f}, arousal {affect.arousal:+.2f}."
    )
    return preset, mods


def _choose_key(
    tech: TechnicalWishes,
    preset: emotions.EmotionPreset,
    affect: Affect,
    mods: tuple[str, ...],
    rng: random.Random,
    why: list[str],
) -> Key:
    if tech.key is not None:
        key = parse_key(tech.key)
        why.append(f"Key {key} as requested.")
        return key
    mode = _pick_mode(preset, affect.intensity, mods, rng)
    tonic = rng.choices(_TONICS[(preset.valence >= 0, preset.arousal >= 0)], _TONIC_WEIGHTS)[0]
    key = parse_key(f"{tonic} {mode}")
    weight = preset.mode_weights.get(mode, 0.0)
    why.append(
        f"Key {key}: {mode} carries {weight:.0%} of {preset.name}'s mode weight"
        + (" (minor-leaning colour)." if key.is_minor_like else " (major-leaning colour).")
    )
    return key


def _choose_tempo(
    tech: TechnicalWishes,
    heard: HeardWishes,
    preset: emotions.EmotionPreset,
    arousal: float,
    rng: random.Random,
    why: list[str],
) -> float:
    """The requested tempo, else the one the words name, else the emotion's moved by the
    reading's arousal (capped or floored by a calm or lively feel in the words)."""
    if tech.bpm is not None:
        why.append(f"Tempo {float(tech.bpm):g} bpm as requested.")
        return float(tech.bpm)
    if heard.bpm is not None:
        bpm = float(round(min(240.0, max(40.0, heard.bpm * rng.uniform(0.97, 1.03)))))
        why.append(f'Tempo {bpm:g} bpm: "{heard.tempo_word}" in your words.')
        return bpm
    # The reading's own arousal moves the tempo continuously off the preset's (its
    # intensity already has), and the draw a little.
    lean = 0.12 * (arousal - preset.arousal) + rng.uniform(-0.03, 0.03)
    bpm = float(
        round(min(preset.tempo_max, max(preset.tempo_min, preset.tempo_suggested * (1 + lean))))
    )
    why.append(
        f"Tempo {bpm:g} bpm within {preset.name}'s {preset.tempo_min:g}–{preset.tempo_max:g}."
    )
    if heard.energy_bpm is not None:
        calm = heard.energy == "calm"
        felt = min(bpm, heard.energy_bpm) if calm else max(bpm, heard.energy_bpm)
        if felt != bpm:
            bpm = felt
            why.append(f"Tempo {bpm:g} bpm: a {heard.energy} feel asked for in your words.")
    return bpm


def _choose_length(
    tech: TechnicalWishes,
    heard: HeardWishes,
    intensity: float,
    bpm: float,
    beats_per_bar: float,
    why: list[str],
) -> int:
    if tech.length_bars is not None:
        why.append(f"{int(tech.length_bars)} bars as requested.")
        return int(tech.length_bars)
    if heard.bars is not None:
        why.append(f"{heard.bars} bars: asked for in your words.")
        return heard.bars
    if heard.seconds is not None:
        bars = max(1, min(256, round(heard.seconds * bpm / 60 / beats_per_bar)))
        why.append(f"{bars} bars ≈ {heard.seconds:g} s: the length asked for in your words.")
        return bars
    target_seconds = 60 + 30 * intensity
    bars = round(target_seconds * bpm / 60 / beats_per_bar / 4) * 4
    bars = max(16, min(48, bars))
    why.append(f"{bars} bars ≈ {bars * beats_per_bar * 60 / bpm:.0f} s at this tempo.")
    return bars


def _choose_rule_breaks(
    tech: TechnicalWishes,
    preset: emotions.EmotionPreset,
    mods: tuple[str, ...],
    affect: Affect,
    why: list[str],
) -> list[RuleBreak]:
    """Requested rule breaks first, then those the emotion asks for."""
    requested = validate_rule_breaks(tech.rule_breaks or [])
    rule_list = [RuleBreak(name, f"requested: {RULE_BREAKS[name]}") for name in requested]
    for name, reason in _emotion_rule_breaks(preset, mods, affect.intensity):
        if name in requested:
            continue
        if name == "tempo_drift" and tech.bpm is not None:
            why.append("No tempo drift: the requested bpm is kept throughout.")
            continue
        rule_list.append(RuleBreak(name, reason))
    rules = {rb.name for rb in rule_list}
    if tech.progression is not None and rules & {
        "modal_interchange",
        "avoid_tonic_resolution",
        "unresolved_dissonance",
    }:
        why.append("The requested progression is kept exactly; rule breaks shape the melody.")
    return rule_list


def _choose_genre(
    tech: TechnicalWishes,
    heard: HeardWishes,
    preset: emotions.EmotionPreset,
    rng: random.Random,
    why: list[str],
) -> tuple[GenreSpec, str | None]:
    if tech.genre is not None:
        genre_name: str = tech.genre
        why.append(f"Genre {genre_name} as requested.")
        if heard.genre is not None and heard.genre != tech.genre:
            why.append(f"Your words also said {heard.genre}; the requested genre wins.")
    elif heard.genre is not None:
        genre_name = heard.genre
        why.append(f"Genre {genre_name}: asked for in your words.")
    else:
        genre_name = choose_genre(preset.valence, preset.arousal, rng)
        why.append(f"Genre {genre_name}: closest in feel to {preset.name}.")
    genre = get_genre(genre_name)
    drum_style = drum_style_for(genre, preset.arousal)
    why.append(f"Drums: {drum_style} groove." if drum_style else "No drums: the feeling wants air.")
    return genre, drum_style


def _final_cadence(rules: set[str]) -> str:
    if "unresolved_dissonance" in rules:
        return "open"
    if "avoid_tonic_resolution" in rules:
        return "deceptive"
    return "authentic"


def _choose_form(
    bars: int, genre: GenreSpec, rules: set[str], why: list[str]
) -> tuple[Phrase, ...]:
    """Phrases and cadences; a piece that must not come home deceives at every cadence."""
    intro = intro_bars(bars)
    phrases = plan_form(bars, genre.form, final=_final_cadence(rules), intro=intro)
    if "avoid_tonic_resolution" in rules:
        phrases = tuple(
            replace(p, cadence="deceptive") if p.cadence == "authentic" else p for p in phrases
        )
    body = phrases[1:] if intro else phrases
    why.append(
        f"Form {genre.form}: {' '.join(p.label for p in body)}, phrases of {body[0].bars} "
        f"bars; the piece ends on {_article(phrases[-1].cadence)} {phrases[-1].cadence} cadence."
    )
    return phrases


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def _requested_cadence(chord: Chord, key: Key) -> str:
    """What a requested progression's phrase end actually does."""
    if chord.root == key.tonic_pc:
        return "authentic"
    if (chord.root - key.tonic_pc) % 12 == 7:
        return "half"
    return "open"


_Slot = tuple[int, float, float]
"""A chord slot's (bar, beat offset, beats), before its chord is known."""


def _progression(
    tech: TechnicalWishes,
    key: Key,
    phrases: tuple[Phrase, ...],
    meter: tuple[int, int],
    harmonic_rhythm: float,
    rng: random.Random,
    colour: _Colour,
    why: list[str],
) -> tuple[tuple[ChordSlot, ...], float, tuple[Phrase, ...]]:
    """The chord slots (requested, or generated phrase by phrase), the harmonic rhythm, and
    the phrases with the cadences a requested progression really makes."""
    if tech.progression is not None:
        grid, chords, numerals, phrases = _requested_progression(
            tech.progression, key, phrases, meter, why
        )
        harmonic_rhythm = 1.0
    else:
        grid, chords, numerals = _generated_progression(
            key, phrases, meter, harmonic_rhythm, rng, colour, why
        )
    symbols = _symbols(chords, key)
    if tech.progression is None and (applied := _applied_pairs(chords, symbols, key)):
        why.append(f"Applied dominants lead into chords of the later sections: {applied}.")
    progression = tuple(
        ChordSlot(bar=b, beat=o, beats=d, symbol=s, numeral=n)
        for (b, o, d), s, n in zip(grid, symbols, numerals, strict=True)
    )
    return progression, float(harmonic_rhythm), phrases


def _requested_progression(
    requested: str | list[str],
    key: Key,
    phrases: tuple[Phrase, ...],
    meter: tuple[int, int],
    why: list[str],
) -> tuple[list[_Slot], list[Chord], list[str | None], tuple[Phrase, ...]]:
    """The requested progression, one chord a bar, repeated to fill; the phrases' cadences
    become the ones it makes."""
    bars = phrases[-1].end_bar
    tokens = split_progression(requested)
    parsed = [parse_chord(t, key) for t in tokens]
    chords = [parsed[i % len(parsed)][0] for i in range(bars)]
    numerals = [
        tokens[i % len(tokens)] if parsed[i % len(parsed)][1] else None for i in range(bars)
    ]
    grid = [(bar, 0.0, meter[0] * 4 / meter[1]) for bar in range(bars)]
    phrases = tuple(
        replace(p, cadence=_requested_cadence(chords[p.end_bar - 1], key)) for p in phrases
    )
    why.append(f"Progression {' '.join(tokens)} as requested, one chord a bar, repeated to fill.")
    return grid, chords, numerals, phrases


def _generated_progression(
    key: Key,
    phrases: tuple[Phrase, ...],
    meter: tuple[int, int],
    harmonic_rhythm: float,
    rng: random.Random,
    colour: _Colour,
    why: list[str],
) -> tuple[list[_Slot], list[Chord], list[str | None]]:
    """A progression generated phrase by phrase at the preset's harmonic rhythm."""
    per_phrase = _phrase_grid(phrases, *meter, harmonic_rhythm)
    grid = [slot for slots in per_phrase for slot in slots]
    chords = _generated_chords(key, phrases, [len(slots) for slots in per_phrase], rng, colour)
    why.append(
        f"Progression in {key.mode}, {harmonic_rhythm:g} chord(s) a bar"
        + (" with sevenths" if colour.sevenths else "")
        + ", each phrase closing on its cadence."
    )
    return grid, chords, _numerals(chords, key)


def _numerals(chords: list[Chord], key: Key) -> list[str | None]:
    # numeral_for round-trips through the parser; chords repeat, so ask once per chord.
    # It reads only root, intervals and bass (the fields Chord equality compares).
    numeral_of: dict[tuple[int, tuple[int, ...], int | None], str | None] = {}
    numerals: list[str | None] = []
    for c in chords:
        shape = (c.root, c.intervals, c.bass)
        if shape not in numeral_of:
            numeral_of[shape] = numeral_for(c, key)
        numerals.append(numeral_of[shape])
    return numerals


def _symbols(chords: list[Chord], key: Key) -> list[str]:
    # Symbols depend on the spellings too, so they are cached by every field of the chord.
    symbol_of: dict[tuple[int, tuple[int, ...], int | None, str | None, str | None], str] = {}
    symbols = []
    for c in chords:
        spelled = (c.root, c.intervals, c.bass, c.root_name, c.bass_name)
        symbol = symbol_of.get(spelled)
        if symbol is None:
            symbol = symbol_of[spelled] = c.symbol(key)
        symbols.append(symbol)
    return symbols


# The lowest note the bass part's General MIDI instrument has (bass guitars and double
# bass E1, cello C2, guitars E2, pianos A0), so no bass note sounds below it. Programs not
# listed (synth basses, organs) go down to the register's own floor.
_LOWEST_BASS_NOTE: Final[dict[range, int]] = {
    range(0, 8): 21, range(24, 32): 40, range(32, 38): 28, range(40, 41): 55,
    range(41, 42): 48, range(42, 43): 36, range(43, 44): 28,
}  # fmt: skip


def _lowest_note(program: int) -> int:
    return next((low for span, low in _LOWEST_BASS_NOTE.items() if program in span), 0)


def _registers(preset: emotions.EmotionPreset, bass_program: int) -> Registers:
    """Melody from the preset; harmony below the melody's centre, bass below the harmony
    and not below what the bass's instrument can play."""
    mel_low, mel_high = preset.register_low, preset.register_high
    mel_centre = preset.register_centre
    harm_low = max(45, min(60, mel_centre - 17))
    # Accompaniment stays under the tune: its top sits below the melody's centre.
    harm_high = max(harm_low + 12, min(harm_low + 19, mel_centre - 2))
    bass_high = max(40, harm_low - 3)
    bass_low = max(24, bass_high - 20, _lowest_note(bass_program))
    bass_high = max(bass_high, bass_low + 12)
    return Registers(mel_low, mel_high, mel_centre, harm_low, harm_high, bass_low, bass_high)


def _groove(
    preset: emotions.EmotionPreset, genre: GenreSpec, rules: set[str], meter: tuple[int, int]
) -> Groove:
    num, den = meter
    # A compound meter already divides its beat in three: swing on top would blur it.
    compound = den == 8 and num % 3 == 0
    return Groove(
        timing_feel=preset.timing_feel,
        feel_offset={"behind": 0.03, "on": 0.0, "ahead": -0.015}[preset.timing_feel],
        swing=0.0 if compound else genre.swing,
        humanize_timing=round(genre.humanize * (1.0 + 0.5 * preset.dynamics_variance), 4),
        humanize_velocity=round(0.02 + 0.08 * preset.dynamics_variance, 4),
        displacement=0.25 if "constant_displacement" in rules else 0.0,
    )


def _instrumentation(
    genre: GenreSpec,
    drum_style: str | None,
    heard: HeardWishes,
    *,
    tonic_pedal: bool,
    intro: int,
    why: list[str],
) -> Instrumentation:
    """The genre's band, with an instrument named in the words on the melody, or on
    every pitched part when it is asked for alone ("solo piano": no pad, no drums)."""
    solo = heard.solo and heard.program is not None
    melody, accompaniment = _heard_programs(heard, solo=solo, why=why)
    pad = None if solo else genre.pad_program
    drums = drum_style is not None and not solo
    return Instrumentation(
        genre=genre.name,
        harmony_program=genre.harmony_program if accompaniment is None else accompaniment,
        bass_program=genre.bass_program if accompaniment is None else accompaniment,
        melody_program=genre.melody_program if melody is None else melody,
        pad_program=pad,
        drums=drums,
        drum_style=None if solo else drum_style,
        comping=genre.comping,
        bass_style=genre.bass_style,
        voicing="close" if solo else genre.voicing,
        tonic_pedal=tonic_pedal,
        intro=_intro_parts(genre, intro, pad=pad, drums=drums, why=why),
    )


def _heard_programs(
    heard: HeardWishes, *, solo: bool, why: list[str]
) -> tuple[int | None, int | None]:
    """The programs the words ask for, (melody, harmony and bass); None keeps the genre's."""
    if solo:
        why.append(f"Solo {heard.instrument}: asked for in your words; no pad, no drums.")
        return heard.program, heard.program
    if heard.program is not None:
        why.append(f"The melody on {heard.instrument}: asked for in your words.")
    return heard.program, None


def _intro_parts(
    genre: GenreSpec, intro: int, *, pad: int | None, drums: bool, why: list[str]
) -> tuple[str, ...]:
    """The parts of the band that play an ``intro``-bar intro (none without one)."""
    if not intro:
        return ()
    present = (
        {"harmony", "bass"}
        | ({"pad"} if pad is not None else set())
        | ({"drums"} if drums else set())
    )
    parts = tuple(p for p in genre.intro if p in present)
    if not {"harmony", "pad"} & set(parts):
        parts += ("harmony",)  # the genre's chords live on a part this band lacks
    why.append(
        f"A {intro}-bar intro on {', '.join(parts)} sets up the {genre.name} "
        f"groove; the melody enters at bar {intro + 1}."
    )
    return parts


def _choose_meter(tech: TechnicalWishes, heard: HeardWishes, why: list[str]) -> str:
    """The time signature: the technical wish, else one named in the words, else 4/4."""
    time_signature = tech.time_signature or heard.time_signature or "4/4"
    if tech.time_signature is None and heard.time_signature is not None:
        why.append(f"Meter {time_signature}: asked for in your words.")
    return time_signature


def _touch(preset: emotions.EmotionPreset, affect: Affect, why: list[str]) -> tuple[float, float]:
    """Note density and legato: the preset's, moved by the reading. A stronger or more
    stirred feeling plays more notes, and shorter ones."""
    stir = affect.arousal - preset.arousal
    lean = 0.1 * stir + 0.12 * (affect.intensity - 0.5)
    density = round(min(1.0, max(0.0, preset.note_density + lean)), 4)
    legato = round(min(1.0, max(0.0, preset.legato - 0.15 * stir)), 4)
    why.append(
        f"Timing {preset.timing_feel} the beat; legato {legato:.2f}, "
        f"density {density:.2f}, space {preset.space:.2f}."
    )
    return density, legato


def _end_tempo(
    bpm: float, bars: int, preset: emotions.EmotionPreset, rules: set[str], why: list[str]
) -> float:
    """The last bar's tempo: the first bar's, unless the tempo_drift rule break applies."""
    if "tempo_drift" not in rules or bars <= 1:
        return bpm
    factor = 0.9 if preset.arousal < 0 else 1.07
    end_bpm = float(round(min(240.0, max(40.0, bpm * factor)), 2))
    why.append(f"Tempo drifts from {bpm:g} to {end_bpm:g} bpm.")
    return end_bpm


def _choose_ending(tech: TechnicalWishes, bars: int, genre: GenreSpec, why: list[str]) -> str:
    """The genre's ending, held instead when the tempo is a wish or the piece is short."""
    ending = "held" if tech.bpm is not None or bars < 4 else genre.ending
    if ending == "ritardando":
        why.append(f"Ending: {genre.name} slows over its last two bars (a ritardando).")
    return ending


@dataclass(frozen=True, slots=True)
class _Shape:
    """The meter, the tempo and the length, and the arc of energy over those bars."""

    time_signature: str
    meter: tuple[int, int]
    bpm: float
    bars: int
    sections: tuple[Section, ...]
    dynamics: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class _Harmony:
    """The key, the form and the chords that fill it."""

    key: Key
    phrases: tuple[Phrase, ...]
    progression: tuple[ChordSlot, ...]
    harmonic_rhythm: float

    @property
    def intro_bars(self) -> int:
        """Bars of the intro phrase; 0 when the piece has none."""
        first = self.phrases[0]
        return first.bars if first.label == INTRO else 0


@dataclass(frozen=True, slots=True)
class _Performance:
    """How the piece is played: its last tempo, its ending, its groove and its touch."""

    end_bpm: float
    ending: str
    groove: Groove
    note_density: float
    legato: float


def build_plan(intent: Intent, affect: Affect, *, seed: int) -> Plan:
    """Decide everything about the piece; every technical wish is honoured or rejected."""
    # The steps run in the order of the random draws and of the explanations.
    tech = intent.technical
    why: list[str] = []
    preset, mods = _choose_preset(affect, why)
    rng = random.Random(
        variation_seed(seed, preset.name, mods, affect.intensity, affect.valence, affect.arousal)
    )
    key = _choose_key(tech, preset, affect, mods, rng, why)
    heard = heard_wishes(intent.emotional_intent, intent.core_desire)
    why += [f"Conflict in your words: {c}" for c in heard.conflicts]
    shape = _choose_shape(tech, heard, preset, affect, rng, why)
    rule_list = _choose_rule_breaks(tech, preset, mods, affect, why)
    rules = {rb.name for rb in rule_list}
    genre, drum_style = _choose_genre(tech, heard, preset, rng, why)
    harmony = _choose_harmony(tech, key, shape, genre, preset, rules, rng, why)
    performance = _choose_performance(tech, shape, genre, preset, affect, rules, why)
    why += [f"Rule break {rb.name}: {rb.reason}." for rb in rule_list]
    instrumentation = _instrumentation(
        genre,
        drum_style,
        heard,
        tonic_pedal=tech.progression is None and key.mode in _MODAL,
        intro=harmony.intro_bars,
        why=why,
    )
    return _assemble_plan(
        seed,
        _emotion_ref(preset, mods, affect),
        preset,
        shape,
        harmony,
        performance,
        instrumentation,
        rule_list,
        why,
    )


def _choose_shape(
    tech: TechnicalWishes,
    heard: HeardWishes,
    preset: emotions.EmotionPreset,
    affect: Affect,
    rng: random.Random,
    why: list[str],
) -> _Shape:
    """The meter, then the tempo, then the length at that tempo, and its arc."""
    time_signature = _choose_meter(tech, heard, why)
    meter = parse_time_signature(time_signature)
    bpm = _choose_tempo(tech, heard, preset, affect.arousal, rng, why)
    bars = _choose_length(tech, heard, affect.intensity, bpm, meter[0] * 4 / meter[1], why)
    sections = _sections(
        bars, preset.valence, preset.arousal, affect.intensity, preset.dynamics_variance
    )
    dynamics = _dynamics_curve(sections, bars, preset.dynamics_floor, preset.dynamics_ceiling)
    return _Shape(time_signature, meter, bpm, bars, sections, dynamics)


def _choose_harmony(
    tech: TechnicalWishes,
    key: Key,
    shape: _Shape,
    genre: GenreSpec,
    preset: emotions.EmotionPreset,
    rules: set[str],
    rng: random.Random,
    why: list[str],
) -> _Harmony:
    """The form, then the progression that fills it."""
    phrases = _choose_form(shape.bars, genre, rules, why)
    colour = _Colour(
        sevenths=genre.sevenths or preset.dissonance >= 0.5,
        valence=preset.valence,
        rules=frozenset(rules),
        applied=genre.applied_dominants,
    )
    progression, harmonic_rhythm, phrases = _progression(
        tech, key, phrases, shape.meter, preset.harmonic_rhythm, rng, colour, why
    )
    return _Harmony(key, phrases, progression, harmonic_rhythm)


def _choose_performance(
    tech: TechnicalWishes,
    shape: _Shape,
    genre: GenreSpec,
    preset: emotions.EmotionPreset,
    affect: Affect,
    rules: set[str],
    why: list[str],
) -> _Performance:
    """The last bar's tempo, the ending, the groove and the touch."""
    end_bpm = _end_tempo(shape.bpm, shape.bars, preset, rules, why)
    ending = _choose_ending(tech, shape.bars, genre, why)
    groove = _groove(preset, genre, rules, shape.meter)
    density, legato = _touch(preset, affect, why)
    return _Performance(end_bpm, ending, groove, density, legato)


def _emotion_ref(
    preset: emotions.EmotionPreset, mods: tuple[str, ...], affect: Affect
) -> EmotionRef:
    """The preset chosen, with the reading's own intensity, valence and arousal."""
    return EmotionRef(
        preset=preset.name,
        modifiers=mods,
        intensity=float(affect.intensity),
        valence=float(affect.valence),
        arousal=float(affect.arousal),
    )


def _assemble_plan(
    seed: int,
    emotion: EmotionRef,
    preset: emotions.EmotionPreset,
    shape: _Shape,
    harmony: _Harmony,
    performance: _Performance,
    instrumentation: Instrumentation,
    rule_list: list[RuleBreak],
    why: list[str],
) -> Plan:
    """The decisions, as the plan the renderer reads."""
    return Plan(
        seed=seed,
        emotion=emotion,
        key_tonic=harmony.key.tonic,
        key_mode=harmony.key.mode,
        key_signature=key_signature(harmony.key)[0],
        tempo_bpm=shape.bpm,
        tempo_end_bpm=performance.end_bpm,
        time_signature=shape.time_signature,
        length_bars=shape.bars,
        harmonic_rhythm=harmony.harmonic_rhythm,
        progression=harmony.progression,
        sections=shape.sections,
        phrases=harmony.phrases,
        groove=performance.groove,
        dynamics=shape.dynamics,
        dynamics_variance=preset.dynamics_variance,
        instrumentation=instrumentation,
        registers=_registers(preset, instrumentation.bass_program),
        note_density=performance.note_density,
        space=preset.space,
        legato=performance.legato,
        dissonance=preset.dissonance,
        rule_breaks=tuple(rule_list),
        explanations=tuple(why),
        ending=performance.ending,
    )


__all__ = [
    "ChordSlot",
    "EmotionRef",
    "Groove",
    "Instrumentation",
    "Plan",
    "Registers",
    "RuleBreak",
    "Section",
    "TechnicalWishError",
    "build_plan",
    "numeral_for",
]
