"""The conversation asks in the person's language (``data/dialogue.json``), and what it
offers to click is read back in that language."""

from __future__ import annotations

import pytest

from kmidi.emotions import PRESETS
from kmidi.interrogation import TOPICS, advance
from kmidi.language import FOREIGN, LANGUAGES
from kmidi.lexicon import read_data

DIALOGUE = read_data("dialogue.json")["languages"]
# Greetings with a request: no feeling for either reader. (Vague openings such as "ich weiß
# nicht genau, was mit mir los ist" read as a low mood to the trained reader, fairly.)
OPENINGS = {
    "es": "hola, ¿qué tal? quiero una canción",
    "de": "hallo, wie geht es? ich möchte ein Lied",
    "fr": "salut, ça va ? je voudrais une chanson",
    "pt": "olá, tudo bem? quero uma música",
    "it": "ciao, come va? vorrei una canzone",
}


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_language_says_everything(language: str) -> None:
    said = DIALOGUE[language]
    for topic in TOPICS:
        assert len(said["questions"][topic]) >= 2, topic
        assert said["suggestions"][topic], topic
    assert said["clarify"].format(first="x", second="y").count("x") == 1
    assert "{question}" in said["again"]
    if language != "en":
        assert set(said["feelings"]) == set(PRESETS)


@pytest.mark.parametrize(
    "language",
    [
        pytest.param(
            language,
            marks=pytest.mark.xfail(
                strict=True,
                reason="the arbiter (tenth session) follows the trained reader's weak guess "
                "(dissociation, 0.25, flagged unsure) for the German greeting",
            ),
        )
        if language == "de"
        else language
        for language in FOREIGN
    ],
)
def test_a_conversation_in_another_language_is_asked_in_it(language: str) -> None:
    state, reply = advance(None, OPENINGS[language], session_id="s")
    assert reply.affect is not None
    assert reply.affect["primary"] == "neutral", "the opening names no feeling"
    assert reply.question == DIALOGUE[language]["questions"]["feeling"][0]
    assert reply.suggestions == DIALOGUE[language]["suggestions"]["feeling"]
    # Clicking an offered feeling is understood, and the next question stays in the language.
    state, reply = advance(state, reply.suggestions[0], session_id="s")
    assert reply.affect is not None
    assert PRESETS[reply.affect["primary"]].family != "neutral", reply.affect
    assert reply.affect["language"] == language
    assert reply.question in DIALOGUE[language]["questions"]["wound"]
    # A plain answer to "what happened?" is the wound, in any language.
    state, reply = advance(state, reply.suggestions[0], session_id="s")
    assert state.core_wound == DIALOGUE[language]["suggestions"]["wound"][0]


def test_an_english_conversation_is_unchanged() -> None:
    _, reply = advance(None, "hello", session_id="s")
    assert reply.question == DIALOGUE["en"]["questions"]["feeling"][0]
    assert (reply.question or "").startswith("How are you feeling")


def test_the_clarifying_question_names_feelings_in_the_language() -> None:
    text = "tengo ganas de llorar pero también de reír"  # laughing and crying: unsure
    _, reply = advance(None, text, session_id="s")
    assert reply.affect is not None
    assert reply.affect["unsure"], reply.affect
    names = DIALOGUE["es"]["feelings"]
    assert reply.suggestions[0] == names[reply.affect["primary"]]
    assert reply.question == DIALOGUE["es"]["clarify"].format(
        first=reply.suggestions[0], second=reply.suggestions[1]
    )
