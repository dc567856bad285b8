"""Golden output: fixed intents and seeds must keep giving the same MIDI bytes and document.

For each case in ``CASES`` the file ``data/render_golden.json`` holds the sha256 of the
MIDI bytes ``compose`` produces and of the canonical JSON of ``Composition.to_document()``
(seed, duration, affect, plan and every note). Refactors and speed work must leave both
unchanged.

A deliberate change of the output (the music, or the random draws behind it) regenerates
the file:

    .venv/bin/python -m tests.unit.test_render_golden --regenerate

and the diff of ``render_golden.json`` must then be reviewed (which cases changed, and
does the change explain them) before it is committed.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from kmidi.compose import compose
from schemas.intent import Intent

GOLDEN = Path(__file__).parent / "data" / "render_golden.json"

# (case id, intent fields, seed). Together they cover every genre (so every comping, bass
# and drum style), every time signature, keys and modes, explicit progressions, rule
# breaks (tempo_drift gives a non-uniform tempo map), and lengths from 1 to 96 bars.
CASES: list[tuple[str, dict[str, Any], int]] = [
    ("bench_rock_32", {"emotional_intent": "I am so happy today, everything is bright!",
                       "technical": {"genre": "rock", "length_bars": 32}}, 12345),
    ("grief_default", {"emotional_intent": "I am feeling grief"}, 1),
    ("grief_seed0", {"emotional_intent": "I am feeling grief"}, 0),
    ("grief_maxseed", {"emotional_intent": "I am feeling grief"}, 2**31 - 1),
    ("joy_pop", {"emotional_intent": "we won the championship!",
                 "technical": {"genre": "pop", "length_bars": 8}}, 7),
    ("anger_rock_fsharp", {"emotional_intent": "I am furious",
                           "technical": {"genre": "rock", "key": "F#", "bpm": 168}}, 3),
    ("fear_cinematic", {"emotional_intent": "I am terrified of what comes next",
                        "technical": {"genre": "cinematic", "length_bars": 24}}, 11),
    ("peace_ambient", {"emotional_intent": "calm and peaceful evening",
                       "technical": {"genre": "ambient", "length_bars": 16}}, 5),
    ("tender_folk_34", {"emotional_intent": "tender love for my newborn",
                        "technical": {"genre": "folk", "time_signature": "3/4"}}, 21),
    ("blues_bb_minor", {"emotional_intent": "my baby left me and I feel so blue",
                        "technical": {"genre": "blues", "key": "Bb minor", "bpm": 72}}, 9),
    ("jazz_d_dorian", {"emotional_intent": "a smoky late night, a little wistful",
                       "technical": {"genre": "jazz", "key": "D dorian", "length_bars": 16}}, 4),
    ("jazz_walking_54", {"emotional_intent": "restless and curious",
                         "technical": {"genre": "jazz", "time_signature": "5/4"}}, 13),
    ("classical_arpeggio", {"emotional_intent": "I miss her so much, the grief is unbearable",
                            "technical": {"genre": "classical", "length_bars": 20}}, 17),
    ("classical_68", {"emotional_intent": "gentle tenderness for you",
                      "technical": {"genre": "classical", "time_signature": "6/8"}}, 2),
    ("electronic_offbeat", {"emotional_intent": "pure joy, let's celebrate",
                            "technical": {"genre": "electronic", "bpm": 128}}, 8),
    ("experimental_78", {"emotional_intent": "panic and dread",
                         "technical": {"genre": "experimental", "time_signature": "7/8"}}, 19),
    ("funk_stabs", {"emotional_intent": "I feel confident and groovy",
                    "technical": {"genre": "funk", "key": "E minor", "length_bars": 12}}, 23),
    ("soul_pulse", {"emotional_intent": "longing for home",
                    "technical": {"genre": "soul", "key": "Ab"}}, 29),
    ("soul_98", {"emotional_intent": "hopeful again after a long winter",
                 "technical": {"genre": "soul", "time_signature": "9/8"}}, 31),
    ("folk_128", {"emotional_intent": "nostalgic for summers long gone",
                  "technical": {"genre": "folk", "time_signature": "12/8", "bpm": 60}}, 37),
    ("pop_24", {"emotional_intent": "excited and bouncy",
                "technical": {"genre": "pop", "time_signature": "2/4", "length_bars": 16}}, 41),
    ("roman_prog", {"emotional_intent": "defiant but sad",
                    "technical": {"key": "A minor", "progression": "i-VI-III-VII"}}, 43),
    ("symbol_prog", {"emotional_intent": "content",
                     "technical": {"key": "C", "progression": "Am F C G", "genre": "pop"}}, 47),
    ("list_prog_jazz", {"emotional_intent": "wistful",
                        "technical": {"genre": "jazz", "progression": ["Dm7", "G7", "Cmaj7"]}}, 53),
    ("avoid_tonic", {"emotional_intent": "unfinished business",
                     "technical": {"rule_breaks": ["avoid_tonic_resolution"]}}, 59),
    ("modal_interchange", {"emotional_intent": "bittersweet",
                           "technical": {"rule_breaks": ["modal interchange"], "key": "G"}}, 61),
    ("unresolved", {"emotional_intent": "anxious and uneasy",
                    "technical": {"rule_breaks": ["unresolved_dissonance"], "genre": "ambient"}},
     67),
    ("displacement", {"emotional_intent": "off balance, stumbling",
                      "technical": {"rule_breaks": ["constant_displacement"], "genre": "funk"}},
     71),
    ("tempo_drift", {"emotional_intent": "slowly letting go",
                     "technical": {"rule_breaks": ["tempo_drift"], "length_bars": 24}}, 73),
    ("tempo_drift_rock", {"emotional_intent": "rage building up",
                          "technical": {"rule_breaks": ["tempo-drift"], "genre": "rock",
                                        "bpm": 140}}, 79),
    ("one_bar", {"emotional_intent": "a sigh", "technical": {"length_bars": 1}}, 83),
    ("two_bars_78", {"emotional_intent": "a jolt of surprise",
                     "technical": {"length_bars": 2, "time_signature": "7/8"}}, 89),
    ("three_bars", {"emotional_intent": "a brief smile", "technical": {"length_bars": 3}}, 97),
    ("long_96", {"emotional_intent": "an epic journey of hope and triumph",
                 "technical": {"genre": "cinematic", "length_bars": 96}}, 101),
    ("slow_40bpm", {"emotional_intent": "deep mourning",
                    "technical": {"bpm": 40, "key": "C# minor"}}, 103),
    ("fast_240bpm", {"emotional_intent": "frantic energy",
                     "technical": {"bpm": 240, "genre": "electronic"}}, 107),
    ("wound_desire", {"emotional_intent": "I feel lost",
                      "core_wound": "abandoned as a child",
                      "core_desire": "to feel safe and loved"}, 109),
    ("mixed_feelings", {"emotional_intent": "happy but also a little scared and angry"}, 113),
    ("eflat_lydian", {"emotional_intent": "dreamy wonder",
                      "technical": {"key": "Eb lydian", "genre": "ambient"}}, 127),
    ("e_phrygian", {"emotional_intent": "menacing and dark",
                    "technical": {"key": "E phrygian", "genre": "rock"}}, 131),
    ("neutral_text", {"emotional_intent": "the table is made of wood"}, 137),
    ("ebm_short_key", {"emotional_intent": "lonely rain at night",
                       "technical": {"key": "Ebm", "genre": "soul", "length_bars": 8}}, 139),
    ("blues_shuffle", {"emotional_intent": "so excited, let's party all night!",
                       "technical": {"genre": "blues", "key": "G"}}, 149),
    ("folk_drums", {"emotional_intent": "joyful dancing in the village square",
                    "technical": {"genre": "folk"}}, 151),
    ("rock_half_time", {"emotional_intent": "tired, numb and sad",
                        "technical": {"genre": "rock", "length_bars": 16}}, 157),
]  # fmt: skip


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fingerprint(intent: dict[str, Any], seed: int) -> dict[str, Any]:
    """Hashes of the MIDI bytes and of the canonical JSON document, plus a few readable facts."""
    c = compose(Intent.model_validate(intent), seed=seed)
    doc = c.to_document()
    canonical = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return {
        "midi_sha256": _sha256(c.midi),
        "document_sha256": _sha256(canonical.encode("ascii")),
        "midi_bytes": len(c.midi),
        "notes": len(doc["notes"]),
    }


def regenerate() -> None:
    """Write the golden file from the current code (a deliberate musical change only)."""
    golden = {case_id: fingerprint(intent, seed) for case_id, intent, seed in CASES}
    GOLDEN.write_text(json.dumps(golden, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {len(golden)} cases to {GOLDEN}")


def _golden() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(GOLDEN.read_text(encoding="utf-8"))
    return data


def test_golden_file_covers_exactly_the_cases() -> None:
    assert sorted(_golden()) == sorted(case_id for case_id, _, _ in CASES)


@pytest.mark.parametrize(("case_id", "intent", "seed"), CASES, ids=[c[0] for c in CASES])
def test_render_matches_golden(case_id: str, intent: dict[str, Any], seed: int) -> None:
    assert fingerprint(intent, seed) == _golden()[case_id]


if __name__ == "__main__":
    if sys.argv[1:] != ["--regenerate"]:
        sys.exit(f"usage: python -m tests.unit.test_render_golden --regenerate\n\n{__doc__}")
    regenerate()
