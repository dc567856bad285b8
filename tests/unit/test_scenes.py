"""Scenes without a feeling word read as the feeling a reader gets from them
(``data/situations.json`` cues). Development sentences; the blind measure is the scene
category of holdout4 and holdout5 (tests/unit/test_holdouts.py).

Issue 9 generalisation round, three batches each written before the changes it drove, first
pass on the code as it stood: ``FRESH_SCENES`` 13/28 (commit 954ec72), ``PROBE_SCENES`` 6/14
after cues were written by theme (threats, injustices, absences, keepsakes, restful and awe
scenes, not only the missed phrases), ``THIRD_SCENES`` 4/10 after the second round. All 52
right now. Expect fresh scenes to land near the later first passes (40-50 %): each round
mostly taught the vocabulary its own misses named.
"""

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


FRESH_SCENES = [
    (
        "the moving boxes are packed and the kids' height marks are still on the doorframe",
        "nostalgia",
    ),
    ("an empty hospital bed, the sheets already changed", "sadness"),
    ("a text from an unknown number: I know where you live", "fear"),
    ("someone keyed my car and left a note saying learn to park", "anger"),
    ("hot chocolate, thick socks, the fire crackling, snow outside", "peace"),
    ("confetti everywhere, champagne popping, she said yes", "joy"),
    ("tucking my grandmother's blanket around her shoulders as she dozes", "tenderness"),
    ("the northern lights rippling green over the frozen lake", "awe"),
    ("the lights went out and something is scratching at the back door", "fear"),
    ("down by one point, four seconds on the clock, he's lining up the free throw", "tension"),
    ("the same four walls, the same microwave dinner, the TV on for company", "sadness"),
    ("the swing set in my parents' old garden, rusted now", "nostalgia"),
    ("my boss took credit for my project in front of the whole board", "anger"),
    ("the choir's last note still hanging under the cathedral's painted ceiling", "awe"),
    ("sprinklers on, kids running through them screaming, a barbecue going", "joy"),
    ("a positive pregnancy test after three years of trying", "joy"),
    ("packing up her desk the day after the layoffs, nobody making eye contact", "sadness"),
    ("a hammock between two palm trees and nowhere to be", "peace"),
    ("the plane drops suddenly and the oxygen masks fall", "fear"),
    ("the dentist's drill whining in the next room while I wait my turn", "fear"),
    ("the guy jumped the queue and shoved an old lady out of the way", "anger"),
    ("staring at the ceiling at 4am, scrolling, not tired, not anything", "detachment"),
    ("the envelope with the exam results sitting unopened on the table", "tension"),
    (
        "my son's first drawing still stuck on the fridge, and now he's off to university",
        "nostalgia",
    ),
    ("watching the mountains turn pink from the summit, the whole range laid out below", "awe"),
    ("the funeral flowers wilting on the porch a week later", "sadness"),
    ("he cancelled on me again, by text, ten minutes before, third time this month", "anger"),
    ("a knock on the door at midnight, two police officers on the step", "fear"),
]
"""Varied on purpose: objects left behind, a threat by text, a queue jumper, a sleepless
night. First pass 13/28 (module docstring)."""


@pytest.mark.parametrize(("text", "family"), FRESH_SCENES)
def test_a_fresh_scene_reads_as_its_feeling(text: str, family: str) -> None:
    reading = analyse_text(text)
    assert PRESETS[reading.primary].family == family, (reading.primary, reading.evidence)


PROBE_SCENES = [
    ("the ICU waiting room, a vending machine humming, nobody speaking", "fear"),
    (
        "a wedding dress still in its bag at the back of the wardrobe, the wedding called off",
        "sadness",
    ),
    ("my neighbour's dog barking for the fourth night in a row at 3am", "anger"),
    ("bare feet in the cool grass, a paperback, the hum of bees", "peace"),
    ("the whole stadium on its feet as the ball hits the back of the net", "joy"),
    ("a tiny kitten curled up asleep in my slipper", "tenderness"),
    ("my grandfather's watch, still ticking in its old velvet box", "nostalgia"),
    ("the lift jolts and stops between floors, then the lights go out", "fear"),
    ("the referee checking the monitor, the whole stadium waiting", "tension"),
    ("the landlord let himself into my flat again without asking", "anger"),
    ("my daughter's voice on the phone after six months away: mum, I'm coming home", "joy"),
    ("a cathedral of ancient trees, sunlight falling through in columns", "awe"),
    ("an empty playground at dusk, one swing creaking", "sadness"),
    ("reading the same paragraph five times, nothing going in, the day just passing", "detachment"),
]
"""Written after ``FRESH_SCENES`` passed: first pass 6/14."""
THIRD_SCENES = [
    ("the smoke alarm going off at 4am and the hallway full of smoke", "fear"),
    ("our first night in the new house, pizza on the floor, no furniture yet", "joy"),
    ("a hospital bracelet in the drawer and the nursery still painted yellow", "sadness"),
    ("my boss replied 'see me in my office' with no other words", "fear"),
    ("the sound of my dad's old record player crackling on a sunday afternoon", "nostalgia"),
    ("two hours into the hike, the fog lifts and the glacier appears below us", "awe"),
    ("someone ate my labelled lunch from the office fridge again", "anger"),
    ("feeding the ducks with my granddaughter, her hand in mine", "tenderness"),
    ("a quiet cabin, rain drumming on the tin roof, a pot of soup on the stove", "peace"),
    ("the final question, the whole family crowded around the TV, the host pausing", "tension"),
]
"""Written after the second batch passed: first pass 4/10."""
PROBE_SCENES += THIRD_SCENES


@pytest.mark.parametrize(("text", "family"), PROBE_SCENES)
def test_a_probe_scene_reads_as_its_feeling(text: str, family: str) -> None:
    reading = analyse_text(text)
    assert PRESETS[reading.primary].family == family, (reading.primary, reading.evidence)


def test_empty_alone_is_still_a_feeling_of_emptiness() -> None:
    assert analyse_text("I feel empty").primary == "numbness"
