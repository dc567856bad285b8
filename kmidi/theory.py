"""Music theory: keys, modes, chord symbols, roman numerals, voice leading.

Pitch classes are ints 0..11 with C = 0. "major" is ionian and "minor" is aeolian.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from operator import sub
from typing import TYPE_CHECKING

from kmidi.emotions import MODES
from kmidi.errors import TechnicalWishError

if TYPE_CHECKING:
    from schemas.intent import TechnicalWishes

NATURAL_PC: dict[str, int] = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_PLAIN_NAMES: tuple[str, ...] = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
SHARP_NAMES: tuple[str, ...] = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
FLAT_NAMES: tuple[str, ...] = ("C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B")

MODE_STEPS: dict[str, tuple[int, ...]] = {
    "ionian": (0, 2, 4, 5, 7, 9, 11),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "phrygian": (0, 1, 3, 5, 7, 8, 10),
    "lydian": (0, 2, 4, 6, 7, 9, 11),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "aeolian": (0, 2, 3, 5, 7, 8, 10),
    "locrian": (0, 1, 3, 5, 6, 8, 10),
}
# Semitones from the relative major's tonic up to the mode's tonic.
MODE_OFFSET: dict[str, int] = {
    "ionian": 0,
    "dorian": 2,
    "phrygian": 4,
    "lydian": 5,
    "mixolydian": 7,
    "aeolian": 9,
    "locrian": 11,
}
MODE_ALIASES: dict[str, str] = {
    "": "ionian",
    "maj": "ionian",
    "major": "ionian",
    "ionian": "ionian",
    "m": "aeolian",
    "min": "aeolian",
    "minor": "aeolian",
    "aeolian": "aeolian",
    "dorian": "dorian",
    "dor": "dorian",
    "phrygian": "phrygian",
    "phr": "phrygian",
    "lydian": "lydian",
    "lyd": "lydian",
    "mixolydian": "mixolydian",
    "mixo": "mixolydian",
    "mix": "mixolydian",
    "locrian": "locrian",
    "loc": "locrian",
}
MINOR_LIKE: frozenset[str] = frozenset({"dorian", "phrygian", "aeolian", "locrian"})

# Major-key signatures: pitch class → (mido name, accidentals; + sharps, - flats).
_MAJOR_SIGS: dict[int, tuple[tuple[str, int], ...]] = {
    0: (("C", 0),),
    7: (("G", 1),),
    2: (("D", 2),),
    9: (("A", 3),),
    4: (("E", 4),),
    11: (("B", 5), ("Cb", -7)),
    6: (("F#", 6), ("Gb", -6)),
    1: (("Db", -5), ("C#", 7)),
    5: (("F", -1),),
    10: (("Bb", -2),),
    3: (("Eb", -3),),
    8: (("Ab", -4),),
}

KEY_HELP = (
    'use a tonic A–G with optional #/b and an optional mode: "F#", "Bb minor", "Ebm", '
    '"D dorian", "c# aeolian" (modes: major, minor, ' + ", ".join(MODES) + ")"
)

_KEY_RE = re.compile(r"^\s*([A-Ga-g])\s*([#♯b♭]?)\s*(.*?)\s*$")


_ASCII_ACC = {"♯": "#", "♭": "b"}


def _accidental(text: str) -> int:
    return {"#": 1, "♯": 1, "b": -1, "♭": -1}.get(text, 0)


@lru_cache(maxsize=128)  # a piece asks for its scale thousands of times
def _scale(tonic_pc: int, mode: str) -> tuple[int, ...]:
    return tuple((tonic_pc + s) % 12 for s in MODE_STEPS[mode])


@dataclass(frozen=True, slots=True)
class Key:
    """A tonic and a mode, with the spelling the person used."""

    tonic: str
    """Spelled tonic, e.g. "F#", "Bb"."""
    tonic_pc: int
    mode: str

    @property
    def scale(self) -> tuple[int, ...]:
        """Pitch classes of the scale, tonic first."""
        return _scale(self.tonic_pc, self.mode)

    @property
    def is_minor_like(self) -> bool:
        return self.mode in MINOR_LIKE

    @property
    def prefers_flats(self) -> bool:
        return key_signature(self)[1] < 0 or (key_signature(self)[1] == 0 and "b" in self.tonic)

    def spell(self, pc: int) -> str:
        """Name a pitch class in this key's accidental direction."""
        count = key_signature(self)[1]
        if count == 0 and "#" not in self.tonic:
            return _PLAIN_NAMES[pc % 12]
        return (FLAT_NAMES if self.prefers_flats else SHARP_NAMES)[pc % 12]

    def spell_degree(self, degree: int, pc: int) -> str:
        """Name ``pc`` as a form of scale ``degree`` (bVII in C is "Bb", not "A#")."""
        letters = "CDEFGAB"
        letter = letters[(letters.index(self.tonic[0]) + degree - 1) % 7]
        diff = (pc - NATURAL_PC[letter] + 6) % 12 - 6
        if diff == 0:
            return letter
        if diff in (1, -1):
            return letter + ("#" if diff == 1 else "b")
        return self.spell(pc)

    def __str__(self) -> str:
        return f"{self.tonic} {self.mode}"


def parse_key(text: str) -> Key:
    """Parse "F#", "Bb minor", "Ebm", "D dorian", "c# aeolian", "A major"."""
    match = _KEY_RE.match(text)
    if not match:
        raise TechnicalWishError("invalid_key", f'key "{text}" not understood; {KEY_HELP}')
    letter, acc, rest = match.groups()
    mode_word = rest.lower().strip()
    if mode_word.endswith(" mode"):
        mode_word = mode_word[: -len(" mode")].strip()
    if mode_word not in MODE_ALIASES:
        # "Ebm" arrives as letter E, accidental b, rest "m"; a bare "bm" (B minor) works too.
        raise TechnicalWishError(
            "invalid_key", f'key "{text}": mode "{rest}" not understood; {KEY_HELP}'
        )
    mode = MODE_ALIASES[mode_word]
    letter = letter.upper()
    tonic = letter + {"♯": "#", "♭": "b"}.get(acc, acc)
    pc = (NATURAL_PC[letter] + _accidental(acc)) % 12
    return Key(tonic=tonic, tonic_pc=pc, mode=mode)


def key_signature(key: Key) -> tuple[str, int]:
    """The key signature as (mido key name, accidentals: +sharps / -flats).

    Church modes other than aeolian carry their relative major's signature (D dorian → "C");
    aeolian is written as a minor key ("Am"), as MIDI's key_signature has only major/minor.
    """
    major_pc = (key.tonic_pc - MODE_OFFSET[key.mode]) % 12
    options = _MAJOR_SIGS[major_pc]
    choice = options[0]
    if len(options) > 1:
        # Respect the person's spelling when the signature has an enharmonic twin.
        wants_flats = "b" in key.tonic
        wants_sharps = "#" in key.tonic
        for name, count in options:
            if (wants_flats and count < 0) or (wants_sharps and count > 0):
                choice = (name, count)
                break
    name, count = choice
    if key.mode == "aeolian":
        names = FLAT_NAMES if count < 0 else SHARP_NAMES
        minor_name = names[key.tonic_pc]
        # Enharmonic extremes mido does not name (e.g. "Gbm") fall back to the common twin.
        if minor_name + "m" not in _MINOR_KEY_NAMES:
            minor_name = (SHARP_NAMES if count < 0 else FLAT_NAMES)[key.tonic_pc]
        return minor_name + "m", count
    return name, count


_MINOR_KEY_NAMES = frozenset(
    {
        "Am", "Em", "Bm", "F#m", "C#m", "G#m", "D#m", "A#m",
        "Dm", "Gm", "Cm", "Fm", "Bbm", "Ebm", "Abm",
    }
)  # fmt: skip


# ---------------------------------------------------------------- chords

CHORD_QUALITIES: dict[str, tuple[int, ...]] = {
    "": (0, 4, 7),
    "maj": (0, 4, 7),
    "M": (0, 4, 7),
    "m": (0, 3, 7),
    "min": (0, 3, 7),
    "dim": (0, 3, 6),
    "°": (0, 3, 6),
    "o": (0, 3, 6),
    "aug": (0, 4, 8),
    "+": (0, 4, 8),
    "sus2": (0, 2, 7),
    "sus4": (0, 5, 7),
    "sus": (0, 5, 7),
    "5": (0, 7),
    "6": (0, 4, 7, 9),
    "m6": (0, 3, 7, 9),
    "7": (0, 4, 7, 10),
    "maj7": (0, 4, 7, 11),
    "M7": (0, 4, 7, 11),
    "Δ": (0, 4, 7, 11),
    "Δ7": (0, 4, 7, 11),
    "m7": (0, 3, 7, 10),
    "min7": (0, 3, 7, 10),
    "m7b5": (0, 3, 6, 10),
    "ø": (0, 3, 6, 10),
    "ø7": (0, 3, 6, 10),
    "dim7": (0, 3, 6, 9),
    "°7": (0, 3, 6, 9),
    "o7": (0, 3, 6, 9),
    "mmaj7": (0, 3, 7, 11),
    "mM7": (0, 3, 7, 11),
    "aug7": (0, 4, 8, 10),
    "7#5": (0, 4, 8, 10),
    "7sus4": (0, 5, 7, 10),
    "7sus2": (0, 2, 7, 10),
    "9": (0, 4, 7, 10, 14),
    "maj9": (0, 4, 7, 11, 14),
    "m9": (0, 3, 7, 10, 14),
    "add9": (0, 4, 7, 14),
    "madd9": (0, 3, 7, 14),
    "add2": (0, 2, 4, 7),
    "7b9": (0, 4, 7, 10, 13),
}
# Canonical suffix for each interval set, used when kmidi writes a symbol back out.
_CANONICAL: dict[tuple[int, ...], str] = {}
for _suffix in (
    "", "m", "dim", "aug", "sus2", "sus4", "5", "6", "m6", "7", "maj7", "m7", "m7b5",
    "dim7", "mmaj7", "aug7", "7sus4", "7sus2", "9", "maj9", "m9", "add9", "madd9",
    "add2", "7b9",
):  # fmt: skip
    _CANONICAL.setdefault(CHORD_QUALITIES[_suffix], _suffix)

CHORD_HELP = (
    'use chord symbols like "Am", "F", "C7", "Gsus4", "Bdim", "F#m7b5", "Cmaj7", "E/G#" '
    'or roman numerals like "I-V-vi-IV", "i VI III VII", "ii7-V7-Imaj7", "bVII", "V/V", '
    'separated by "-", spaces, "," or "|" (or given as a list)'
)

_CHORD_RE = re.compile(r"^([A-Ga-g])([#♯b♭]?)(.*?)(?:/([A-Ga-g])([#♯b♭]?))?$")
_ROMAN_RE = re.compile(
    r"^([b#♭♯]?)(VII|VI|V|IV|III|II|I|vii|vi|v|iv|iii|ii|i)"
    r"(°|o|dim|ø|\+|aug)?"
    r"(maj7|M7|Δ7|Δ|7|9|6|sus2|sus4|add9|m7)?$"
)
_ROMAN_VALUES: dict[str, int] = {"i": 1, "ii": 2, "iii": 3, "iv": 4, "v": 5, "vi": 6, "vii": 7}


@dataclass(frozen=True, slots=True)
class Chord:
    """A chord: root pitch class, intervals above the root, optional bass."""

    root: int
    intervals: tuple[int, ...]
    bass: int | None = None
    root_name: str | None = field(default=None, compare=False)
    """Spelling of the root when known (from the symbol or the scale degree)."""
    bass_name: str | None = field(default=None, compare=False)

    @property
    def pitch_classes(self) -> tuple[int, ...]:
        """Distinct pitch classes, root first, then in interval order (bass included)."""
        out: list[int] = []
        for iv in self.intervals:
            pc = (self.root + iv) % 12
            if pc not in out:
                out.append(pc)
        if self.bass is not None and self.bass not in out:
            out.append(self.bass)
        return tuple(out)

    @property
    def bass_pc(self) -> int:
        return self.root if self.bass is None else self.bass

    @property
    def is_minor(self) -> bool:
        return 3 in self.intervals and 4 not in self.intervals

    def symbol(self, key: Key | None = None) -> str:
        """A canonical chord symbol that ``parse_chord`` reads back to this chord."""
        spell = key.spell if key is not None else (lambda pc: SHARP_NAMES[pc % 12])
        suffix = _CANONICAL.get(self.intervals)
        if suffix is None:
            raise ValueError(f"no symbol for intervals {self.intervals}")
        text = (self.root_name or spell(self.root)) + suffix
        if self.bass is not None and self.bass != self.root:
            text += "/" + (self.bass_name or spell(self.bass))
        return text


def parse_chord_symbol(token: str) -> Chord:
    """Parse an absolute chord symbol such as "F#m7b5" or "E/G#"."""
    match = _CHORD_RE.match(token.strip())
    if not match:
        raise TechnicalWishError(
            "invalid_progression", f'chord "{token}" not understood; {CHORD_HELP}'
        )
    letter, acc, quality, bass_letter, bass_acc = match.groups()
    if quality not in CHORD_QUALITIES:
        raise TechnicalWishError(
            "invalid_progression",
            f'chord "{token}": quality "{quality}" not understood; {CHORD_HELP}',
        )
    root = (NATURAL_PC[letter.upper()] + _accidental(acc)) % 12
    bass = bass_name = None
    if bass_letter:
        bass = (NATURAL_PC[bass_letter.upper()] + _accidental(bass_acc)) % 12
        bass_name = bass_letter.upper() + _ASCII_ACC.get(bass_acc, bass_acc)
    name = letter.upper() + _ASCII_ACC.get(acc, acc)
    return Chord(
        root=root,
        intervals=CHORD_QUALITIES[quality],
        bass=bass,
        root_name=name,
        bass_name=bass_name,
    )


def _roman_chord(token: str, key: Key) -> Chord | None:
    match = _ROMAN_RE.match(token)
    if not match:
        return None
    acc, numeral, alter, ext = match.groups()
    degree = _ROMAN_VALUES[numeral.lower()]
    if acc:
        # An accidental is read against the major scale (bVII in C minor is Bb, as VII is).
        root = (key.tonic_pc + MODE_STEPS["ionian"][degree - 1] + _accidental(acc)) % 12
    else:
        root = key.scale[degree - 1]
    upper = numeral.isupper()
    alter = alter or ""
    ext = ext or ""
    if alter in ("°", "o", "dim"):
        base = "dim"
    elif alter == "ø":
        base = "m7b5"
    elif alter in ("+", "aug"):
        base = "aug"
    else:
        base = "" if upper else "m"
    if base == "dim" and ext == "7":
        quality = "dim7"
    elif base == "m7b5":
        quality = "m7b5"
    elif base == "aug" and ext == "7":
        quality = "aug7"
    elif ext in ("maj7", "M7", "Δ7", "Δ"):
        quality = "maj7" if upper else "mmaj7"
    elif ext in ("7", "m7"):
        quality = "7" if upper and ext == "7" else "m7"
    elif ext == "9":
        quality = "9" if upper else "m9"
    elif ext == "6":
        quality = "6" if upper else "m6"
    elif ext == "add9":
        quality = "add9" if upper else "madd9"
    elif ext in ("sus2", "sus4"):
        quality = ext
    else:
        quality = base
    if quality not in CHORD_QUALITIES or (base in ("dim", "aug") and ext not in ("", "7")):
        return None
    return Chord(
        root=root, intervals=CHORD_QUALITIES[quality], root_name=key.spell_degree(degree, root)
    )


def parse_chord(token: str, key: Key) -> tuple[Chord, bool]:
    """Parse a roman numeral (relative to ``key``) or a chord symbol.

    Returns the chord and whether it was written as a roman numeral. "V/V" style applied
    chords are read as the numeral in the major key of the target degree.
    """
    token = token.strip()
    if not token:
        raise TechnicalWishError("invalid_progression", f"empty chord; {CHORD_HELP}")
    if "/" in token:
        head, _, tail = token.partition("/")
        target = _roman_chord(tail, key)
        if target is not None and _ROMAN_RE.match(head):
            local = Key(
                tonic=target.root_name or key.spell(target.root),
                tonic_pc=target.root,
                mode="ionian",
            )
            applied = _roman_chord(head, local)
            if applied is not None:
                return applied, True
    roman = _roman_chord(token, key)
    if roman is not None:
        return roman, True
    return parse_chord_symbol(token), False


_SEPARATORS = re.compile(r"[\s,|\-–—]+")


def split_progression(progression: str | Sequence[str]) -> list[str]:
    """Split a progression string on "-", spaces, "," or "|"; a list passes through."""
    if isinstance(progression, str):
        tokens = [t for t in _SEPARATORS.split(progression) if t]
    else:
        tokens = []
        for item in progression:
            tokens.extend(t for t in _SEPARATORS.split(item) if t)
    if not tokens:
        raise TechnicalWishError("invalid_progression", f"progression is empty; {CHORD_HELP}")
    if len(tokens) > 64:
        raise TechnicalWishError(
            "invalid_progression", f"progression has {len(tokens)} chords; at most 64 accepted"
        )
    return tokens


def parse_progression(progression: str | Sequence[str], key: Key) -> list[Chord]:
    """Parse every chord of a progression relative to ``key``."""
    return [parse_chord(token, key)[0] for token in split_progression(progression)]


def diatonic_chord(key: Key, degree: int, *, seventh: bool = False) -> Chord:
    """The chord built in thirds on scale ``degree`` (1..7) of ``key``'s mode."""
    steps = MODE_STEPS[key.mode]
    idx = degree - 1
    root_step = steps[idx]
    tones = [0]
    for k in (2, 4, 6) if seventh else (2, 4):
        j = idx + k
        tones.append((steps[j % 7] + 12 * (j // 7) - root_step) % 12)
    intervals = tuple(tones)
    if intervals not in _CANONICAL:
        intervals = intervals[:3]
    root = (key.tonic_pc + root_step) % 12
    return Chord(root=root, intervals=intervals, root_name=key.spell_degree(degree, root))


# ---------------------------------------------------------------- voice leading


def voicing_candidates(chord: Chord, low: int, high: int, voices: int) -> list[tuple[int, ...]]:
    """Close and open voicings of ``chord`` with ``voices`` notes inside [low, high]."""
    pcs = [(chord.root + iv) % 12 for iv in chord.intervals]
    # Thin extended chords to the voices we have, dropping the fifth first (it adds least).
    while len(pcs) > voices and len(pcs) > 2:
        fifth = (chord.root + 7) % 12
        pcs.remove(fifth if fifth in pcs and len(pcs) > 3 else pcs[-1])
    while len(pcs) < voices:
        pcs.append(pcs[0])
    out: list[tuple[int, ...]] = []
    n = len(pcs)
    for inversion in range(n):
        order = pcs[inversion:] + pcs[:inversion]
        for base in range(low + (order[0] - low) % 12, high + 1, 12):
            notes = [base]
            for pc in order[1:]:
                nxt = notes[-1] + ((pc - notes[-1]) % 12 or 12)
                notes.append(nxt)
            if notes[0] >= low and notes[-1] <= high and len(set(notes)) == n:
                out.append(tuple(notes))
                if n >= 3:
                    # Drop-2: the second voice from the top goes down an octave (warmer spread).
                    drop = sorted([*notes[:-2], notes[-2] - 12, notes[-1]])
                    if drop[0] >= low and len(set(drop)) == n:
                        out.append(tuple(drop))
    if not out:
        centre = (low + high) // 2
        out.append(tuple(sorted(centre + ((pc - centre) % 12) for pc in pcs)))
    return out


@lru_cache(maxsize=2048)
def _centred_candidates(
    root: int, intervals: tuple[int, ...], low: int, high: int, voices: int, mid: int
) -> tuple[tuple[float, tuple[int, ...]], ...]:
    """``voicing_candidates`` of a chord shape, each with its distance from ``mid``.

    Cached across pieces: registers and chord shapes come from small sets, so most pieces
    only look their chords up.
    """
    return tuple(
        (abs(sum(v) / len(v) - mid), v)
        for v in voicing_candidates(Chord(root, intervals), low, high, voices)
    )


def voice_lead(
    chords: Sequence[Chord], low: int, high: int, *, voices: int = 4, centre: int | None = None
) -> list[tuple[int, ...]]:
    """Voicings of ``chords`` within [low, high] that move as little as possible.

    The first chord sits nearest ``centre``; each next one is the candidate with the least
    total voice movement from the previous voicing (ties broken toward the centre).
    """
    mid = (low + high) // 2 if centre is None else centre
    result: list[tuple[int, ...]] = []
    prev: tuple[int, ...] | None = None
    # Progressions repeat, so the same (previous voicing, chord) pair comes back again and
    # again: the choice is a pure function of the pair, so each is worked out once per call.
    # Keys use root/intervals only (all voicing_candidates reads), not the spelled names.
    chosen: dict[tuple[tuple[int, ...] | None, int, tuple[int, ...]], tuple[int, ...]] = {}
    for chord in chords:
        step = (prev, chord.root, chord.intervals)
        best = chosen.get(step)
        if best is None:
            cands = _centred_candidates(chord.root, chord.intervals, low, high, voices, mid)
            # Movement: the sum of |step| over paired voices, +3 per voice gained or lost.
            # Comparing (movement, centre distance, voicing) tuples picks what min(key=...)
            # would: equal keys mean equal voicings.
            if prev is None:
                best = min(cands)[1]
            else:
                p, n = prev, len(prev)
                best = min(
                    (sum(map(abs, map(sub, p, v))) + 3 * abs(n - len(v)), d, v) for d, v in cands
                )[2]
            chosen[step] = best
        result.append(best)
        prev = best
    return result


# ---------------------------------------------------------------- validation

RULE_BREAKS: dict[str, str] = {
    "avoid_tonic_resolution": "phrases and the ending never settle on the tonic chord",
    "modal_interchange": "chords borrowed from the parallel major/minor",
    "unresolved_dissonance": "added seconds and sevenths that are left hanging",
    "constant_displacement": "the melody sits a sixteenth off the beat throughout",
    "tempo_drift": "the tempo slowly gives way (or presses on) across the piece",
}
"""Deliberate rule-breaking kmidi knows, with what each does."""


def normalise_rule_break(name: str) -> str:
    """Lower-case, with spaces and dashes as underscores ("Tempo drift" → tempo_drift)."""
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


def validate_rule_breaks(names: Sequence[str]) -> list[str]:
    """Normalised rule-break names, or ``TechnicalWishError`` naming the known ones."""
    out: list[str] = []
    for name in names:
        norm = normalise_rule_break(name)
        if norm not in RULE_BREAKS:
            raise TechnicalWishError(
                "invalid_rule_break",
                f'rule break "{name}" not known; use one of ' + ", ".join(RULE_BREAKS),
            )
        if norm not in out:
            out.append(norm)
    return out


TIME_SIGNATURES: tuple[str, ...] = ("2/4", "3/4", "4/4", "5/4", "6/8", "7/8", "9/8", "12/8")


def parse_time_signature(text: str) -> tuple[int, int]:
    """Parse "6/8" into (6, 8)."""
    if text not in TIME_SIGNATURES:
        raise TechnicalWishError(
            "invalid_time_signature",
            f'time signature "{text}" not supported; use one of ' + ", ".join(TIME_SIGNATURES),
        )
    num, den = text.split("/")
    return int(num), int(den)


def validate_technical(technical: TechnicalWishes) -> None:
    """Raise ``TechnicalWishError`` for any wish kmidi cannot honour (cheap, no rendering)."""
    key = parse_key(technical.key) if technical.key is not None else Key("C", 0, "ionian")
    if technical.progression is not None:
        parse_progression(technical.progression, key)
    if technical.time_signature is not None:
        parse_time_signature(technical.time_signature)
    if technical.bpm is not None and not 40 <= technical.bpm <= 240:
        raise TechnicalWishError("invalid_bpm", f"bpm {technical.bpm} outside 40–240")
    if technical.length_bars is not None and not 1 <= technical.length_bars <= 256:
        raise TechnicalWishError(
            "invalid_length", f"length {technical.length_bars} bars outside 1–256"
        )
    if technical.rule_breaks:
        validate_rule_breaks(technical.rule_breaks)
