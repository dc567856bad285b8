"""Sarcasm reads as its real feeling; sincere praise stays praise (``kmidi.sarcasm``).

These sentences were written for development; the blind measure is holdout5's sarcasm
category (tests/unit/test_holdouts.py), which never fed this list.

Issue 9 generalisation round, three batches each written before the changes it drove, first
pass on the code as it stood (ironic ones read as anger; sincere ones stay pleasant):

- ``FORMS`` (24) and ``SINCERE_FORMS`` (7), before the round (commit 954ec72): 4/24 and
  6/7. Unknown forms: "oh sure, because…", "can't wait to <chore>", "I just LOVE it when",
  "nothing says X like Y", "thanks, universe", "cool cool cool", "Amazing. Truly amazing.",
  "ten out of ten, would … again".
- ``PROBE`` (12) and ``PROBE_SINCERE`` (3), after the marker tiers: 5/12 and 3/3 (scare
  quotes, "Love it.", "great idea", a dead phone read as a death).
- ``THIRD`` (10) and ``THIRD_SINCERE`` (3), after the second round: 5/10 and 3/3
  ("Typical.", "Of course the train is late", "said no one", "love how…").

Now (eleventh session) 61 of 62 ironic and 18 of 22 sincere; the misses are strict xfails
below.
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

FORMS = (
    "Oh sure, because waiting three hours at the DMV is exactly how I wanted to spend my Saturday.",
    "Can't wait to spend my whole weekend doing my taxes.",
    "I just LOVE it when people chew with their mouth open.",
    "Nothing says 'we value you' like a pay cut.",
    "What a great way to start the week: the car won't start.",
    "Thanks, universe. Really needed a flat tire today.",
    "Cool cool cool, so the meeting got moved to 7am.",
    "Another wonderful day at the office, three hours of meetings that could have been an email.",
    "So glad I stayed up all night finishing a report that nobody is going to read.",
    "Wow, thanks for the reply after only three weeks.",
    "Great job, genius, you deleted the whole folder.",
    "Oh how lovely, the neighbours are drilling again at 8am on a Sunday.",
    "Sure, I'd love to work another double shift, who needs sleep anyway.",
    "Ah yes, my favourite part of the day: the two-hour commute.",
    "Because obviously I have nothing better to do than wait for the plumber all day.",
    "Oh brilliant. They lost my luggage.",
    "Ten out of ten experience, would definitely get food poisoning again.",
    "My internet went down during the final boss fight. Amazing. Truly amazing.",
    "Oh good, another group project where I do all the work.",
    "Qué maravilla, otro lunes con reuniones hasta las ocho.",
    "Super, der Drucker streikt mal wieder.",
    "Génial, encore une grève des trains aujourd'hui.",
    "Che bello, il treno è in ritardo come sempre.",
    "Ótimo, acabou a luz bem na hora do jogo.",
)
"""Forms of sarcasm the first reader did not know. First pass 4/24 (module docstring)."""
SINCERE_FORMS = (
    "Can't wait to see you this weekend!",
    "I just love it when my grandkids come to visit.",
    "Oh good, you made it home safe.",
    "Thanks, universe, for this beautiful sunset.",
    "So glad I stayed up to watch the meteor shower.",
    "Ten out of ten, would definitely go back to that little restaurant again.",
    "Nothing says summer like a cold watermelon on the porch.",
)

PROBE: tuple[str, ...] = (
    "Oh fantastic, the dishwasher flooded the kitchen. Just what a Tuesday needs.",
    "Wow, another 'quick' meeting that lasted three hours. Love it.",
    "Sure, let's put the deadline on Christmas Eve, great idea.",
    "Nothing like waking up to a cancelled train and a soaking wet coat.",
    "Oh yay, my ex just got engaged to my best friend. Happy for them. Really.",
    "I'm just thrilled that my landlord decided to keep my deposit.",
    "Best. Customer service. Ever. Forty minutes on hold just to be hung up on.",
    "Great, my phone died and I'm lost in a city I don't know.",
    "Genial, se me ha caído el móvil al váter.",
    "Toll, jetzt regnet es auch noch durch das Dach.",
    "Super, encore un lundi sous la pluie.",
    "Perfetto, ho perso le chiavi un'altra volta.",
)
"""Written after ``FORMS`` passed: first pass 5/12."""
PROBE_SINCERE: tuple[str, ...] = (
    "Wow, thanks so much for the surprise, I'm speechless!",
    "Great, the baby is finally asleep and the house is quiet.",
    "Can't wait to finally meet my little niece tomorrow.",
)
THIRD = (
    "Oh wonderful, the kids have the flu right before our holiday.",
    "Typical. The one day I leave my umbrella at home.",
    "Of course the train is late, it's raining, why wouldn't it be.",
    "Here we go again, another 'urgent' email at 11pm.",
    "Love how my landlord only answers when the rent is due.",
    "Nice weather we're having, said no one in this soggy town.",
    "What a great start to the year, my car got towed.",
    "Really mature, leaving passive-aggressive notes on the fridge.",
    "Fantastisch, der Zug hat schon wieder eine Stunde Verspätung.",
    "Que maravilha, acabou a água quente no meio do banho.",
)
THIRD_SINCERE = (
    "Of course I'll come to your wedding, I wouldn't miss it!",
    "Love how the light falls across the kitchen in the morning.",
    "What a great start to the year, we got engaged!",
)
"""Written after the second batch passed: first pass 5/10 (sincere 3/3)."""
PROBE += THIRD
PROBE_SINCERE += THIRD_SINCERE


STILL_MISSED = {
    "Oh yay, my ex just got engaged to my best friend. Happy for them. Really.": (
        "bitterness said with sincere words: nothing marks it but the situation"
    ),
    **dict.fromkeys(
        (
            "Ten out of ten, would definitely go back to that little restaurant again.",
            "Oh wow, what a wonderful surprise party, I'm so touched",
            "Thanks, universe, for this beautiful sunset.",
        ),
        "sincere praise in a form the training sentences mostly use sarcastically: the arbiter "
        "follows the trained reader's irritation over the sarcasm reader's 'sincere' (tenth "
        "session; on cross-validation that judgement was right for 53 of 259 such sentences)",
    ),
    "we had a wonderful day at the beach even though it rained a bit": (
        "the arbiter follows the eleventh session's reader (sadness 0.6: rain) over the "
        "lexicon's wonderful day; flagged unsure (0.5)"
    ),
}


def _cases(texts: tuple[str, ...]) -> list[object]:
    return [
        pytest.param(text, marks=pytest.mark.xfail(strict=True, reason=STILL_MISSED[text]))
        if text in STILL_MISSED
        else text
        for text in texts
    ]


@pytest.mark.parametrize("text", _cases(PROBE))
def test_probe_sarcasm_reads_as_irritation(text: str) -> None:
    reading = analyse_text(text)
    assert PRESETS[reading.primary].family == "anger", (reading.primary, reading.evidence)


@pytest.mark.parametrize("text", PROBE_SINCERE)
def test_probe_sincere_praise_stays_pleasant(text: str) -> None:
    reading = analyse_text(text)
    assert PRESETS[reading.primary].valence > 0, (reading.primary, reading.evidence)


@pytest.mark.parametrize("text", _cases(FORMS))
def test_other_forms_of_sarcasm_read_as_irritation(text: str) -> None:
    reading = analyse_text(text)
    assert PRESETS[reading.primary].family == "anger", (reading.primary, reading.evidence)
    assert reading.valence < 0


@pytest.mark.parametrize("text", _cases(SINCERE_FORMS))
def test_the_same_forms_said_sincerely_stay_pleasant(text: str) -> None:
    reading = analyse_text(text)
    assert PRESETS[reading.primary].valence > 0, (reading.primary, reading.evidence)


@pytest.mark.parametrize("text", IRRITATED)
def test_sarcastic_praise_reads_as_irritation(text: str) -> None:
    reading = analyse_text(text)
    assert PRESETS[reading.primary].family == "anger", (reading.primary, reading.evidence)
    assert reading.valence < 0
    assert reading.evidence[0].startswith("sarcasm: "), reading.evidence


@pytest.mark.parametrize("text", _cases(SINCERE))
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
    assert irony.marker == "Great, just great"  # the praise said again is one marker
    assert "great" not in irony.rest.lower()
    assert "/s" not in irony.rest
    assert has_trouble(irony.rest, "en")
    # Praise followed by more words is not an interjection; a language without data has none.
    assert find_irony("great news from the clinic", "en") is None
    assert find_irony("great, the bus is late", "xx") is None


def test_enthusiasm_needs_a_chore_or_a_real_mishap() -> None:
    irony = find_irony("can't wait to see you again", "en")
    assert irony is not None
    assert irony.tier == "enthusiasm"
    assert PRESETS[analyse_text("can't wait to see you again").primary].valence > 0
    assert analyse_text("can't wait to do my taxes again").primary == "anger"


def test_a_text_without_any_marker_word_is_not_searched() -> None:
    assert find_irony("we walked to the shop and back and then made some dinner", "en") is None
    assert find_irony("the printer is broken again /s", "en") is not None
    assert find_irony("Another 'quick' meeting, three hours long", "en") is not None
