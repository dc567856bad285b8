"""Keys, modes, chord symbols, roman numerals, voice leading, wish validation."""

from __future__ import annotations

import io
import itertools

import mido
import pytest

from kmidi.errors import TechnicalWishError
from kmidi.plan import numeral_for
from kmidi.theory import (
    RULE_BREAKS,
    Key,
    diatonic_chord,
    key_signature,
    parse_chord,
    parse_chord_symbol,
    parse_key,
    parse_progression,
    split_progression,
    validate_technical,
    voice_lead,
    voicing_candidates,
)
from schemas.intent import TechnicalWishes

C = parse_key("C")


@pytest.mark.parametrize(
    ("text", "tonic", "pc", "mode"),
    [
        ("F#", "F#", 6, "ionian"),
        ("Bb minor", "Bb", 10, "aeolian"),
        ("Ebm", "Eb", 3, "aeolian"),
        ("D dorian", "D", 2, "dorian"),
        ("c# aeolian", "C#", 1, "aeolian"),
        ("A major", "A", 9, "ionian"),
        ("bm", "B", 11, "aeolian"),
        ("G mixolydian", "G", 7, "mixolydian"),
        ("E phrygian", "E", 4, "phrygian"),
        ("F lydian", "F", 5, "lydian"),
        ("B locrian", "B", 11, "locrian"),
        ("Ab min", "Ab", 8, "aeolian"),
        ("  g  ", "G", 7, "ionian"),
    ],
)
def test_parse_key(text: str, tonic: str, pc: int, mode: str) -> None:
    key = parse_key(text)
    assert (key.tonic, key.tonic_pc, key.mode) == (tonic, pc, mode)


@pytest.mark.parametrize("text", ["H#", "C blorp", "", "7", "Cx major", "Do minor"])
def test_bad_key_names_what_is_accepted(text: str) -> None:
    with pytest.raises(TechnicalWishError) as info:
        parse_key(text)
    assert info.value.code == "invalid_key"
    assert "tonic A–G" in info.value.message
    assert "dorian" in info.value.message


@pytest.mark.parametrize(
    ("mode", "scale"),
    [
        ("ionian", (0, 2, 4, 5, 7, 9, 11)),
        ("dorian", (0, 2, 3, 5, 7, 9, 10)),
        ("phrygian", (0, 1, 3, 5, 7, 8, 10)),
        ("lydian", (0, 2, 4, 6, 7, 9, 11)),
        ("mixolydian", (0, 2, 4, 5, 7, 9, 10)),
        ("aeolian", (0, 2, 3, 5, 7, 8, 10)),
        ("locrian", (0, 1, 3, 5, 6, 8, 10)),
    ],
)
def test_mode_scales_on_c(mode: str, scale: tuple[int, ...]) -> None:
    assert parse_key(f"C {mode}").scale == scale


@pytest.mark.parametrize(
    ("text", "name", "accidentals"),
    [
        ("C", "C", 0),
        ("D dorian", "C", 0),
        ("E phrygian", "C", 0),
        ("A minor", "Am", 0),
        ("F#", "F#", 6),
        ("Gb", "Gb", -6),
        ("Bb minor", "Bbm", -5),
        ("C# aeolian", "C#m", 4),
        ("F# dorian", "E", 4),
        ("Bb mixolydian", "Eb", -3),
        ("F lydian", "C", 0),
        ("B locrian", "C", 0),
        ("Eb", "Eb", -3),
        ("D#m", "D#m", 6),
    ],
)
def test_key_signature_is_a_valid_mido_key(text: str, name: str, accidentals: int) -> None:
    assert key_signature(parse_key(text)) == (name, accidentals)
    # mido must accept and round-trip the name in a real file.
    track = mido.MidiTrack([mido.MetaMessage("key_signature", key=name)])
    buf = io.BytesIO()
    mido.MidiFile(tracks=[track]).save(file=buf)
    back = mido.MidiFile(file=io.BytesIO(buf.getvalue()))
    assert [m.key for m in back.tracks[0] if m.type == "key_signature"] == [name]


def test_every_tonic_and_mode_has_a_mido_key_signature() -> None:
    for tonic in ("C", "C#", "Db", "D", "D#", "Eb", "E", "F", "F#", "Gb", "G", "G#", "Ab",
                  "A", "A#", "Bb", "B", "Cb"):  # fmt: skip
        for mode in ("ionian", "dorian", "phrygian", "lydian", "mixolydian", "aeolian",
                     "locrian"):  # fmt: skip
            name, count = key_signature(parse_key(f"{tonic} {mode}"))
            mido.MetaMessage("key_signature", key=name)  # raises on an unknown name
            assert -7 <= count <= 7
            # The signature's major key is the mode's parent scale.
            major = parse_key(name[:-1] + " minor" if name.endswith("m") else name)
            assert set(major.scale) == set(parse_key(f"{tonic} {mode}").scale)


@pytest.mark.parametrize(
    ("symbol", "pcs"),
    [
        ("Am", {9, 0, 4}),
        ("F", {5, 9, 0}),
        ("C7", {0, 4, 7, 10}),
        ("Gsus4", {7, 0, 2}),
        ("Bdim", {11, 2, 5}),
        ("F#m7b5", {6, 9, 0, 4}),
        ("Cmaj7", {0, 4, 7, 11}),
        ("E/G#", {4, 8, 11}),
        ("Bbm7", {10, 1, 5, 8}),
        ("Dm9", {2, 5, 9, 0, 4}),
        ("Caug", {0, 4, 8}),
        ("Ebadd9", {3, 7, 10, 5}),
        ("G5", {7, 2}),
    ],
)
def test_chord_symbols_to_pitch_classes(symbol: str, pcs: set[int]) -> None:
    chord = parse_chord_symbol(symbol)
    assert set(chord.pitch_classes) == pcs
    assert parse_chord_symbol(chord.symbol()) == chord


def test_slash_chord_keeps_its_bass() -> None:
    chord = parse_chord_symbol("E/G#")
    assert chord.root == 4
    assert chord.bass_pc == 8
    assert chord.symbol() == "E/G#"


@pytest.mark.parametrize(
    ("key", "progression", "symbols"),
    [
        ("C", "I-V-vi-IV", ["C", "G", "Am", "F"]),
        ("A minor", "i VI III VII", ["Am", "F", "C", "G"]),
        ("C", "ii7-V7-Imaj7", ["Dm7", "G7", "Cmaj7"]),
        ("C", "I bVII IV", ["C", "Bb", "F"]),
        ("C", "I iv I", ["C", "Fm", "C"]),
        ("C minor", "i-bVI-bIII-bVII", ["Cm", "Ab", "Eb", "Bb"]),
        ("D dorian", "i,IV|i", ["Dm", "G", "Dm"]),
        ("G", "I V/V V", ["G", "A", "D"]),
        ("C", "vii° viiø7 vii°7", ["Bdim", "Bm7b5", "Bdim7"]),
        ("E", "Am F C G", ["Am", "F", "C", "G"]),
        ("F", "I - IV | V7 , I", ["F", "Bb", "C7", "F"]),
    ],
)
def test_progressions(key: str, progression: str, symbols: list[str]) -> None:
    k = parse_key(key)
    chords = parse_progression(progression, k)
    assert chords == [parse_chord_symbol(s) for s in symbols]


def test_progression_as_a_list() -> None:
    assert parse_progression(["Am", "F C", "G"], C) == parse_progression("Am F C G", C)
    assert split_progression(["I-IV", "V"]) == ["I", "IV", "V"]


@pytest.mark.parametrize("bad", ["I-X-vi", "Am Hm", "C7b13#11", "", " - | ", "Q"])
def test_bad_progressions(bad: str) -> None:
    with pytest.raises(TechnicalWishError) as info:
        parse_progression(bad, C)
    assert info.value.code == "invalid_progression"
    assert "roman numerals" in info.value.message


def test_roman_numerals_follow_the_mode() -> None:
    # Without accidentals a numeral is a degree of the key's own mode.
    phrygian = parse_key("E phrygian")
    assert parse_chord("II", phrygian)[0] == parse_chord_symbol("F")
    lydian = parse_key("F lydian")
    assert parse_chord("IV", lydian)[0].root == 11  # B, the raised fourth
    assert parse_chord("I", C)[1] is True
    assert parse_chord("C", C)[1] is False


@pytest.mark.parametrize("mode", ["ionian", "dorian", "phrygian", "lydian", "mixolydian",
                                  "aeolian", "locrian"])  # fmt: skip
def test_diatonic_chords_stay_in_the_scale(mode: str) -> None:
    key = parse_key(f"Eb {mode}")
    for degree in range(1, 8):
        for seventh in (False, True):
            chord = diatonic_chord(key, degree, seventh=seventh)
            assert set(chord.pitch_classes) <= set(key.scale)
            numeral = numeral_for(chord, key)
            assert numeral is not None
            assert parse_chord(numeral, key)[0] == chord
            assert parse_chord_symbol(chord.symbol(key)) == chord


def test_voicings_stay_in_register_and_contain_the_chord() -> None:
    chords = parse_progression("C Am F G7 Em Dm7 G C", C)
    for chord in chords:
        for v in voicing_candidates(chord, 52, 76, 4):
            assert all(52 <= p <= 76 for p in v)
            assert len(set(v)) == len(v)
            assert chord.root in {p % 12 for p in v}
            assert {p % 12 for p in v} <= set(chord.pitch_classes)


def test_voice_leading_moves_less_than_block_chords() -> None:
    chords = parse_progression("C Am F G Em Am Dm G C", C)
    led = voice_lead(chords, 52, 76, voices=4)
    # Naive: every chord in root position at the same octave.
    naive = [
        tuple(
            sorted(
                60 + (c.root - 0) % 12 - (12 if c.root > 7 else 0) + iv for iv in (*c.intervals, 12)
            )
        )
        for c in chords
    ]

    def movement(vs: list[tuple[int, ...]]) -> int:
        return sum(
            sum(abs(a - b) for a, b in zip(x, y, strict=True)) for x, y in itertools.pairwise(vs)
        )

    assert movement(led) < movement(naive)
    # Good voice leading: no voice jumps more than a fourth between neighbours.
    for x, y in itertools.pairwise(led):
        assert max(abs(a - b) for a, b in zip(x, y, strict=True)) <= 5


def test_validate_technical_accepts_good_wishes() -> None:
    validate_technical(
        TechnicalWishes(
            key="Bb minor",
            bpm=72,
            progression="i-VI-III-VII",
            genre="cinematic",
            length_bars=16,
            time_signature="6/8",
            rule_breaks=["Tempo drift", "modal-interchange"],
        )
    )


@pytest.mark.parametrize(
    ("wishes", "code"),
    [
        ({"key": "H#"}, "invalid_key"),
        ({"progression": "I-X"}, "invalid_progression"),
        ({"key": "D dorian", "progression": ["i", "IV", "Zz"]}, "invalid_progression"),
        ({"rule_breaks": ["play_backwards"]}, "invalid_rule_break"),
    ],
)
def test_validate_technical_rejects(wishes: dict[str, object], code: str) -> None:
    with pytest.raises(TechnicalWishError) as info:
        validate_technical(TechnicalWishes.model_validate(wishes))
    assert info.value.code == code
    assert isinstance(info.value, ValueError)
    if code == "invalid_rule_break":
        assert all(name in info.value.message for name in RULE_BREAKS)


def test_key_spells_in_its_own_accidentals() -> None:
    assert parse_key("F").spell(10) == "Bb"
    assert parse_key("E").spell(6) == "F#"
    assert Key("C", 0, "ionian").spell_degree(7, 10) == "Bb"
