"""Scenes without a feeling word read as the feeling a reader gets from them
(``data/situations.json`` cues). Development sentences; the blind measure is the scene
category of holdout4 and holdout5 (tests/unit/test_holdouts.py)."""

from __future__ import annotations

import pytest

from kmidi.affect import analyse_text
from kmidi.emotions import PRESETS

SCENES = [
    ("the last bus pulled away and the street lights flickered over an empty stop", "sadness"),
    ("sunday morning, coffee on the porch, birds in the hedge", "peace"),
    ("the kids are screaming down the slide and the ice cream truck just turned the corner", "joy"),
    ("the hospital corridor at 3am, a monitor beeping somewhere behind a curtain", "fear"),
    ("a single candle on the kitchen table, her chair pushed in, the dishes for one", "sadness"),
    ("waves rolling in under a pink sky, nobody else on the sand", "peace"),
    ("stadium lights, sixty thousand people, the final whistle about to blow", "tension"),
    ("footsteps behind me in the car park, getting closer, and my keys won't turn", "fear"),
    ("grandma's recipe card, the ink faded, flour still in the creases", "nostalgia"),
    ("the whole valley below us, clouds drifting under our feet, the peaks on fire at dawn", "awe"),
    ("the baby asleep on my chest, her tiny fist wrapped round my finger", "tenderness"),
    ("rain against the window, the radiator ticking, a book open on my knee", "peace"),
    ("the door slammed, the plates are smashed on the floor and he's still shouting", "anger"),
    ("an old cassette of my dad singing, found in the attic", "nostalgia"),
    ("the phone screen lights up with his name at 2am", "fear"),  # dread: anxiety, not suspense
    ("snow falling on the empty playground, the swings moving by themselves", "sadness"),
    ("fireworks over the harbour and everyone counting down together", "joy"),
    ("the office at 9am on a Monday, the same grey carpet, the same emails", "detachment"),
    ("the courtroom goes silent as the jury files back in", "tension"),
    ("his boots still by the door, his coat on the hook, the dog waiting", "sadness"),
]


@pytest.mark.parametrize(("text", "family"), SCENES)
def test_a_scene_reads_as_its_feeling(text: str, family: str) -> None:
    reading = analyse_text(text)
    assert PRESETS[reading.primary].family == family, (reading.primary, reading.evidence)


def test_empty_alone_is_still_a_feeling_of_emptiness() -> None:
    assert analyse_text("I feel empty").primary == "numbness"
