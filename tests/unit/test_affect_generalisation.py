"""The generalisation round's mechanisms (issue 9), and the fresh batches as development data.

Each mechanism reads a form, not a sentence: a mock complaint about something good, hyperbole,
a mishap said to happen again, danger that turns being alone into fear, pretending, negation
across "the last time", contexts that move loneliness, laughter and tears. The sentences
below were written for these tests (development data, not blind).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from kmidi.affect import analyse_text
from kmidi.emotions import PRESETS

ROOT = Path(__file__).resolve().parents[2]
FRESH = ROOT / "bench" / "affect_fresh.jsonl"
FRESH2 = ROOT / "bench" / "affect_fresh2.jsonl"
PROBES = ROOT / "bench" / "affect_probes.jsonl"
"""Ten probe sets written during the round, each labelled before its first run (177/303 then)."""
KINDS = {"plain", "scene", "sarcasm", "long", "neutral", "es", "de", "fr", "pt", "it"}


def _family(text: str) -> str:
    return PRESETS[analyse_text(text).primary].family


@pytest.mark.parametrize(
    ("text", "family"),
    [
        ("Ugh, I hate how good this lasagne is, I can't stop eating it.", "joy"),
        ("Rude of my dog to be this cute when I'm trying to work.", "tenderness"),
        ("I'm absolutely devastated that I have to eat cake for breakfast. Tragic.", "joy"),
        ("Odio que mi gato sea tan adorable, así no hay quien trabaje.", "tenderness"),
    ],
)
def test_a_mock_complaint_about_something_good_reads_as_the_good_thing(
    text: str, family: str
) -> None:
    assert _family(text) == family


@pytest.mark.parametrize(
    "text",
    [
        "I hate how late the bus is again.",
        pytest.param(
            "got promoted today but honestly I'm furious",
            marks=pytest.mark.xfail(
                strict=True,
                reason="the arbiter (tenth session) follows the trained reader (joy 0.72: 'got "
                "promoted') over the lexicon's explicit 'furious'",
            ),
        ),
        "Ugh, the printer jammed before the deadline.",
    ],
)
def test_a_real_complaint_stays_a_complaint(text: str) -> None:
    assert PRESETS[analyse_text(text).primary].valence < 0


@pytest.mark.parametrize(
    "text",
    [
        "The technician didn't show up for the third time.",
        "Mi compañero de piso vuelve a dejar los platos sucios.",
        "Il tecnico non si è presentato per la terza volta di fila.",
    ],
)
def test_a_mishap_said_to_happen_again_voices_irritation(text: str) -> None:
    assert analyse_text(text).primary == "anger"


def test_the_repetition_is_the_complaint_when_nothing_else_is_felt() -> None:
    reading = analyse_text("Encore une fois, la banque a bloqué ma carte.")
    assert reading.primary == "anger"
    assert any(label.startswith("again: ") for label in reading.evidence), reading.evidence


@pytest.mark.parametrize(
    ("text", "preset"),
    [
        ("Play it again, a bit slower this time.", "neutral"),
        ("Pick up the kids again at four.", "neutral"),
        ("I failed my driving test again.", "melancholy"),
    ],
)
def test_again_alone_is_no_complaint(text: str, preset: str) -> None:
    assert analyse_text(text).primary == preset


def test_danger_turns_being_alone_and_stillness_into_fear() -> None:
    assert _family("Footsteps on the stairs, and I live alone.") == "fear"
    assert _family("J'ai entendu des pas dans le couloir alors que je suis seule.") == "fear"
    # Without danger, being alone stays lonely.
    assert _family("I live alone and the evenings are long.") == "sadness"


def test_negation_reaches_across_the_last_time_and_pretending_negates() -> None:
    assert _family("I can't remember the last time I laughed.") == "sadness"
    assert _family("Le digo a mi madre que estoy muy bien para que no se preocupe.") == "sadness"
    lexicon = analyse_text("When was the last time we laughed like that?", reader=None)
    assert PRESETS[lexicon.primary].family == "joy"


@pytest.mark.xfail(
    strict=True,
    reason="the arbiter follows the eleventh session's reader (sadness 0.41: 'the last time' is "
    "mostly a loss in its sentences) over the lexicon's fond question; flagged unsure (0.46)",
)
def test_a_fond_question_about_the_last_time_reads_as_joy() -> None:
    assert _family("When was the last time we laughed like that?") == "joy"


def test_contexts_move_loneliness_laughter_and_tears() -> None:
    # A death turns an empty house to grief; others' laughter in a lonely scene is loneliness;
    # tears at a surprise party are happy.
    buried = "Gestern haben wir Papa beerdigt, und heute ist das Haus so leer."
    assert analyse_text(buried).primary == "grief"
    assert _family("Dinner for one, and the neighbours' laughter through the wall.") == "sadness"


def test_tears_at_a_surprise_party_are_happy() -> None:
    assert _family("They threw me a surprise party and I was in tears.") == "joy"


def test_a_passing_pleasant_word_does_not_keep_praise_over_a_mishap_sincere() -> None:
    assert _family("Génial, la machine à café est encore en panne.") == "anger"
    assert _family("Great, I passed!") == "joy"


@pytest.mark.xfail(
    strict=True,
    reason="the arbiter (tenth session) follows the trained reader (a late train: sadness) over "
    "the lexicon's sincere praise",
)
def test_a_real_pleasure_keeps_praise_over_a_mishap_sincere() -> None:
    assert _family("Great, the train was late but I got a seat and a lovely coffee!") == "joy"


def _rows(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def test_the_fresh_batches_are_well_formed() -> None:
    rows = _rows(FRESH) + _rows(FRESH2)
    for row in rows:
        assert row["kind"] in KINDS, row
        assert row["preset"] in PRESETS, row
        assert PRESETS[str(row["preset"])].family == row["family"], row
    batches = Counter(row["batch"] for row in _rows(FRESH2))
    assert batches[4] >= 80
    assert all(row.get("first_pass") in PRESETS for row in _rows(FRESH2) if row["batch"] == 4), (
        "batch 4's first pass is recorded per row"
    )
    longs = [row for row in _rows(FRESH2) if row["kind"] == "long" and row["batch"] == 4]
    assert len(longs) >= 4
    assert all(len(str(row["text"])) >= 800 for row in longs)


_BELOW_FLOOR = pytest.mark.xfail(
    strict=True,
    reason="the arbiter (tenth session) reads fewer of the sentences the lexicon was tuned on: "
    "affect_fresh2 88 -> 82 of 90, affect_probes 288 -> 276 of 303 (the lexicon alone -> with "
    "the arbiter); it reads more of every blind split",
)


@pytest.mark.parametrize(
    ("path", "floor"),
    [
        (FRESH, 0.95),
        pytest.param(FRESH2, 0.95, marks=_BELOW_FLOOR),
        pytest.param(PROBES, 0.93, marks=_BELOW_FLOOR),
    ],
    ids=lambda value: value.name if isinstance(value, Path) else str(value),
)
def test_the_fresh_batches_as_development_data_stay_read(path: Path, floor: float) -> None:
    """Batches 1-4 and the probes were tuned on once recorded: a floor against regressions,
    not a measure of generalisation."""
    rows = [row for row in _rows(path) if row.get("batch") != 5]
    right = sum(_family(str(row["text"])) == row["family"] for row in rows)
    assert right >= floor * len(rows), (path.name, right, len(rows))


def test_the_lexicon_alone_keeps_the_fresh_batches_it_was_tuned_on() -> None:
    for path, floor in ((FRESH, 0.95), (FRESH2, 0.95), (PROBES, 0.93)):
        rows = [row for row in _rows(path) if row.get("batch") != 5]
        right = sum(
            PRESETS[analyse_text(str(row["text"]), reader=None).primary].family == row["family"]
            for row in rows
        )
        assert right >= floor * len(rows), (path.name, right, len(rows))


def test_a_feeling_asked_about_counts_less_than_one_stated() -> None:
    stated, asked = analyse_text("I guess I'm happy."), analyse_text("I guess I'm happy?")
    assert stated.primary == asked.primary == "joy"
    assert asked.confidence < stated.confidence
    # A question about something else keeps its feeling whole.
    assert analyse_text("What if the biopsy comes back bad?").primary == "anxiety"


@pytest.mark.parametrize(
    ("text", "family"),
    [("💀💀 I can't", "joy"), ("😤", "anger"), ("🥲", "sadness"), ("🥹 mi hija", "tenderness")],
)
def test_emoji_people_use_for_a_feeling_read_as_it(text: str, family: str) -> None:
    assert _family(text) == family
