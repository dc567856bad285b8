"""Musical words in free text become wishes; technical fields win; conflicts are said."""

from __future__ import annotations

from typing import Any

import pytest

from kmidi.compose import compose
from kmidi.wishes import heard_wishes
from schemas.intent import Intent
from tests.unit.midi_tools import midicsv


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a slow waltz for my grandmother's funeral", {"time_signature": "3/4", "bpm": 84.0}),
        ("upbeat jazz for a sunny morning", {"genre": "jazz", "energy": "lively"}),
        ("techno for the gym", {"genre": "electronic", "bpm": 128.0}),
        ("epic trailer music", {"genre": "cinematic"}),
        ("a lullaby for my daughter", {"time_signature": "6/8", "instrument": "music box"}),
        ("solo piano, very sad", {"instrument": "piano", "program": 0, "solo": True}),
        ("five minutes of calm ambient", {"genre": "ambient", "seconds": 300.0}),
        ("a short happy tune", {"seconds": 30.0}),
        ("something at 90 bpm, 16 bars", {"bpm": 90.0, "bars": 16}),
        ("un vals lento para mi abuela", {"time_signature": "3/4", "bpm": 84.0}),
        ("ein schnelles Stück mit Klavier", {"bpm": 138.0, "instrument": "piano"}),
        ("une berceuse pour mon fils", {"time_signature": "6/8"}),
        ("uma música lenta com violão e guitarra", {"bpm": 68.0, "instrument": "guitar"}),
        ("una marcia con la tromba", {"time_signature": "2/4", "instrument": "trumpet"}),
        ("a tarantella for the wedding", {"time_signature": "6/8", "genre": "folk"}),
        ("a sad minuet", {"time_signature": "3/4", "genre": "classical"}),
        ("bossa nova for a lazy sunday", {"time_signature": "4/4", "genre": "jazz"}),
        ("something gentle in 6/8", {"time_signature": "6/8", "energy": "calm"}),
        ("a waltz, but in 6/8 time", {"time_signature": "6/8", "bpm": 90.0}),
        ("a ballad in twelve-eight", {"time_signature": "12/8"}),
        ("ein Stück im Dreivierteltakt", {"time_signature": "3/4"}),
        ("algo en 7/8, por favor", {"time_signature": "7/8"}),
    ],
)
def test_musical_words_are_heard(text: str, expected: dict[str, Any]) -> None:
    heard = heard_wishes(text)
    for name, value in expected.items():
        assert getattr(heard, name) == value, (text, name)
    assert heard.words, "the words that said it are kept for the explanation"


@pytest.mark.parametrize(
    "text",
    [
        "I am feeling grief",
        "it was a long day at work",
        "pop the champagne, we won!",
        "no jazz please",
        "I'm short on money and scared",
        "nothing too slow",
        "I paid 3/4 of the rent and 1/2 of the bills",
    ],
)
def test_words_that_are_not_wishes_are_not_heard(text: str) -> None:
    assert heard_wishes(text).empty, text


def test_a_contradiction_is_reported_and_the_tempo_word_keeps_the_tempo() -> None:
    heard = heard_wishes("I want it slow and upbeat")
    assert heard.bpm == 68.0
    assert len(heard.conflicts) == 1
    assert '"slow"' in heard.conflicts[0]
    assert '"upbeat"' in heard.conflicts[0]
    c = compose(Intent(emotional_intent="I want it slow and upbeat"), seed=1)
    assert any(e.startswith("Conflict in your words") for e in c.plan.explanations)


def test_heard_wishes_reach_the_file() -> None:
    c = compose(Intent(emotional_intent="a slow waltz for my grandmother, solo piano"), seed=3)
    parsed = midicsv(c.midi)
    assert parsed.time_signatures[0][1:] == (3, 4)
    assert 60_000_000 / parsed.tempos[0][1] < 90
    assert set(parsed.programs.values()) == {0}, "every pitched part is a piano"
    assert "drums" not in parsed.track_names.values()
    said = " ".join(c.plan.explanations)
    assert "in your words" in said


def test_technical_fields_win_over_words() -> None:
    intent = Intent(
        emotional_intent="a fast jazz waltz",
        technical={"genre": "rock", "time_signature": "4/4", "bpm": 90},
    )
    plan = compose(intent, seed=2).plan
    assert (plan.instrumentation.genre, plan.time_signature, plan.tempo_bpm) == ("rock", "4/4", 90)
    assert any("requested genre wins" in e for e in plan.explanations)


def test_minutes_become_bars_at_the_chosen_tempo() -> None:
    plan = compose(Intent(emotional_intent="two minutes of calm piano"), seed=4).plan
    assert plan.duration_seconds() == pytest.approx(
        120, abs=plan.duration_seconds() / plan.length_bars
    )
