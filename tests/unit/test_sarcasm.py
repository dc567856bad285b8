"""Sarcasm reads as its real feeling; sincere praise stays praise (``kmidi.sarcasm``).

These sentences were written for development; the blind measure is holdout5's sarcasm
category (tests/unit/test_holdouts.py), which never fed this list.
"""

from __future__ import annotations

import pytest

from kmidi.affect import analyse_text
from kmidi.emotions import PRESETS
from kmidi.sarcasm import find_irony, has_trouble

IRRITATED = (
    "oh great, my flight got cancelled again",
    "Fantastic. The printer jammed five minutes before the deadline.",
    "just what I needed, a parking ticket on my birthday",
    "love that for me, stuck in traffic for two hours",
    "yay, another Monday of pointless meetings /s",
    "best day ever: lost my keys, missed the bus, and it's pouring",
    "sure, ignoring the problem will totally make it go away 🙄",
    "Wonderful, the results came back and I have to redo everything",
    "oh perfect, the power's out and my phone is at 2%",
    "great, just great. the landlord is raising the rent again",
    "Brilliant, I locked myself out of the house. Again.",
    "my favourite thing, waiting on hold for an hour",
    "lucky me, the one day I forget my umbrella",
    "na toll, der Zug fällt schon wieder aus",
    "lo que me faltaba, ahora se rompe la lavadora",
    "il ne manquait plus que ça, la voiture est en panne",
)
SINCERE = (
    "great news, we got the apartment!",
    "Oh wow, what a wonderful surprise party, I'm so touched",
    "we had a wonderful day at the beach even though it rained a bit",
    "yay we won!!!",
    "Great, the exam is over and I passed!",
    "thanks a lot for the flowers, they made my day",
    "best day ever, we got engaged on the beach",
    "Fantastic concert tonight, the crowd was wild",
    "Perfect evening with friends, I love them",
)


@pytest.mark.parametrize("text", IRRITATED)
def test_sarcastic_praise_reads_as_irritation(text: str) -> None:
    reading = analyse_text(text)
    assert PRESETS[reading.primary].family == "anger", (reading.primary, reading.evidence)
    assert reading.valence < 0
    assert reading.evidence[0].startswith("sarcasm: "), reading.evidence


@pytest.mark.parametrize("text", SINCERE)
def test_sincere_praise_stays_pleasant(text: str) -> None:
    reading = analyse_text(text)
    assert PRESETS[reading.primary].valence > 0, (reading.primary, reading.evidence)
    assert not any(e.startswith("sarcasm: ") for e in reading.evidence)


def test_the_feeling_under_the_irony_is_kept() -> None:
    # Grief outweighs the irritation the sarcasm voices.
    reading = analyse_text("oh wonderful, my grandmother died and the funeral is on my birthday")
    assert PRESETS[reading.primary].family == "sadness", reading.evidence


def test_markers_and_what_is_left() -> None:
    irony = find_irony("Great, just great. The bus is late again /s", "en")
    assert irony is not None
    assert irony.certain
    assert irony.marker == "Great"
    assert "great" not in irony.rest.lower()
    assert "/s" not in irony.rest
    assert has_trouble(irony.rest, "en")
    # Praise followed by more words is not an interjection; a language without data has none.
    assert find_irony("great news from the clinic", "en") is None
    assert find_irony("great, the bus is late", "xx") is None
