"""Never a silent neutral (issue 9, item 5): a vague or feeling-less text is flagged
``unsure`` and the conversation asks one concrete question back instead of composing.

Development texts written for this file before the work on the flag (dev data); the blind
measure is the unsure category of holdout4 and holdout5 (tests/unit/test_holdouts.py).

First pass (commit 954ec72): flagged 20/23 of ``VAGUE`` + ``FEELINGLESS`` ("whatever" read
as numbness at confidence 0.67: a lone weak word won its family by default), feeling-less
read as neutral 6/8 ("remember to water the plants" as nostalgia, "lorem ipsum dolor" as
Spanish pain), ``CLEAR`` 8/8 not flagged, the conversation asked back 23/23. The second
batch (``PROBE_*``, after confidence was tied to the amount of evidence): flagged 11/11,
neutral 4/4, clear 3/3; the third (added to them): flagged 6/7, neutral 1/2 (a pangram's
"lazy dog" reads as calm: a strict xfail).
"""

from __future__ import annotations

import pytest

from kmidi.affect import analyse_text
from kmidi.interrogation import advance

VAGUE = (
    "ok.",
    "whatever",
    "idk",
    "hmm",
    "k",
    "meh",
    "fine.",
    "something",
    "I don't know.",
    "not sure how I feel",
    "it's complicated",
    "just a song please",
    "can you make me something",
    "I guess it's fine, whatever",
    "nothing special today",
)
"""Vague on purpose: a feeling may be there, but there is too little to go on."""
FEELINGLESS = (
    "eggs, milk, bread, two onions, dish soap",
    "meeting at 3pm in room 4B",
    "the train leaves at 7:45 from platform 2",
    "Tuesday",
    "my cat is called Biscuit",
    "I went to the shop and bought some bread.",
    "please remember to water the plants on thursday",
    "lorem ipsum dolor sit amet",
)
"""No feeling at all: a list, a timetable, a fact."""
CLEAR = (
    "I am heartbroken",
    "we won the championship!",
    "I'm terrified of the surgery tomorrow",
    "I miss my grandmother so much",
    "so angry I could scream",
    "the baby fell asleep on my chest and I love her to bits",
    "a peaceful sunday morning, nothing to do, coffee in the garden",
    "estoy muy triste",
)
"""Plain feelings: these must not be flagged."""

PROBE_VAGUE: tuple[str, ...] = (
    "no idea",
    "so-so",
    "hmm, not sure",
    "normal day i guess",
    "could be worse",
    "yeah",
    "nothing to report",
)
PROBE_FEELINGLESS: tuple[str, ...] = (
    "buy stamps and return the library books",
    "the meeting moved to room 12",
    "3 eggs, 200g flour, 1 cup milk",
    "Flight BA2490 departs at 14:35 from gate 22",
)
PROBE_CLEAR = ("I am over the moon!", "I'm so lonely tonight", "furious with my brother")
"""Written after the first batch passed: first pass 11/11 flagged, 4/4 neutral."""
PROBE_VAGUE += (
    "can't really say",
    "eh",
    "I'm okay I suppose",
    "just a normal Tuesday",
    "dunno, surprise me",
)
PROBE_FEELINGLESS += (
    "reminder: dentist at 10, pick up the dry cleaning",
    "the quick brown fox jumps over the lazy dog",
)
"""Written after the second batch passed: first pass 6/7 flagged, 1/2 neutral."""
STILL_MISSED: dict[str, str] = {}
"""The pangram, missed before, is read since the arbiter (tenth session); "so-so" and "not
sure how I feel", feelings only the eleventh session's reader heard, are flagged since such
readings of five words or fewer are (``kmidi.affect.DISAGREEING``)."""


def _cases(texts: tuple[str, ...]) -> list[object]:
    return [
        pytest.param(text, marks=pytest.mark.xfail(strict=True, reason=STILL_MISSED[text]))
        if text in STILL_MISSED
        else text
        for text in texts
    ]


@pytest.mark.parametrize("text", _cases(PROBE_VAGUE + PROBE_FEELINGLESS))
def test_probe_vague_texts_are_flagged(text: str) -> None:
    reading = analyse_text(text)
    assert reading.unsure, (reading.primary, reading.confidence, reading.evidence)


@pytest.mark.parametrize("text", _cases(PROBE_FEELINGLESS))
def test_probe_feelingless_texts_name_no_feeling(text: str) -> None:
    assert analyse_text(text).primary == "neutral"


@pytest.mark.parametrize("text", PROBE_CLEAR)
def test_probe_clear_feelings_are_not_flagged(text: str) -> None:
    assert not analyse_text(text).unsure


@pytest.mark.parametrize("text", _cases(VAGUE + FEELINGLESS))
def test_a_vague_or_feelingless_text_is_flagged_unsure(text: str) -> None:
    reading = analyse_text(text)
    assert reading.unsure, (reading.primary, reading.confidence, reading.evidence)
    assert reading.to_dict()["unsure"] is True


@pytest.mark.parametrize("text", FEELINGLESS)
def test_a_feelingless_text_names_no_feeling(text: str) -> None:
    assert analyse_text(text).primary == "neutral"


@pytest.mark.parametrize("text", CLEAR)
def test_a_plain_feeling_is_not_flagged(text: str) -> None:
    reading = analyse_text(text)
    assert not reading.unsure, (reading.primary, reading.confidence, reading.evidence)


@pytest.mark.parametrize("text", VAGUE + FEELINGLESS)
def test_the_conversation_asks_back_instead_of_composing_neutral(text: str) -> None:
    _, reply = advance(None, text, session_id="unsure-1")
    assert not reply.ready
    assert reply.question
    assert reply.suggestions
