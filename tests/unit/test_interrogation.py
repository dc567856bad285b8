"""The interrogation dialogue: extractors, turn logic, state round-trip and robustness."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kmidi.affect import analyse_text
from kmidi.interrogation import (
    ConversationState,
    InterrogationReply,
    advance,
    extract_bpm,
    extract_desire,
    extract_genre,
    extract_key,
    extract_length_bars,
    extract_progression,
    extract_time_signature,
    extract_wound,
    wants_to_go_ahead,
)
from schemas.intent import GENRES, MAX_TEXT_CHARS, Intent


def _talk(*messages: str) -> tuple[ConversationState, list[InterrogationReply]]:
    state: ConversationState | None = None
    replies = []
    for message in messages:
        state, reply = advance(state, message, session_id="s-1")
        replies.append(reply)
    assert state is not None
    return state, replies


def test_a_conversation_reaches_ready_and_yields_a_valid_intent() -> None:
    state, replies = _talk(
        "hello",
        "honestly I've been grieving a lot",
        "since my grandad died in march",
        "make it orchestral, slow, about 2 minutes in D minor",
    )
    first, second, third, fourth = replies
    assert not first.ready
    assert first.question is not None
    assert 2 <= len(first.suggestions) <= 4
    assert not second.ready
    assert second.affect is not None
    assert second.affect["primary"] == "grief"
    assert second.question is not None
    assert "happened" in second.question
    assert third.ready
    assert third.question is None
    assert third.extracted["core_wound"] == "my grandad died in march"
    intent = Intent.model_validate(fourth.intent)
    assert intent.core_wound == "my grandad died in march"
    assert intent.technical.genre == "cinematic"
    assert intent.technical.bpm == 70
    assert intent.technical.key == "D minor"
    assert intent.technical.length_bars == 35  # 120 s at 70 bpm in 4/4
    assert state.turn == 4
    assert [reply.turn for reply in replies] == [1, 2, 3, 4]


def test_questions_follow_usefulness_order_and_never_repeat() -> None:
    state, replies = _talk("hmm", "I'm anxious", "whatever", "still nothing to add")
    questions = [reply.question for reply in replies if reply.question]
    assert len(questions) == len(set(questions))
    assert state.asked[0].startswith("feeling")
    assert state.asked[1].startswith("wound")


def test_after_three_turns_with_a_known_emotion_the_dialogue_stops_asking() -> None:
    _, replies = _talk("hmm", "I'm anxious", "whatever", "still nothing to add")
    assert replies[-1].ready


def test_off_topic_and_empty_messages_get_a_gentle_re_ask() -> None:
    _, replies = _talk("what's the weather like", "", "   ")
    for reply in replies:
        assert not reply.ready
        assert reply.question
    assert replies[1].question is not None
    assert replies[1].question.startswith("No worries")
    assert len({reply.question for reply in replies}) == 3


def test_going_ahead_makes_it_ready_once_an_emotion_is_known() -> None:
    _, replies = _talk("just make it")
    assert not replies[0].ready  # no feeling yet
    _, replies = _talk("I'm feeling hopeful", "go ahead")
    assert not replies[0].ready
    assert replies[1].ready
    assert replies[1].extracted["go_ahead"] is True
    Intent.model_validate(replies[1].intent)


def test_an_emotion_and_a_desire_in_one_message_is_ready_at_once() -> None:
    _, (reply,) = _talk("I'm so lonely, I just want someone to hold me")
    assert reply.ready
    assert reply.intent["core_desire"] == "someone to hold me"
    assert reply.affect is not None
    assert reply.affect["primary"] == "loneliness"


def test_answers_to_wound_and_desire_questions_need_no_marker_words() -> None:
    state, replies = _talk("I feel really angry", "my brother stole from me")
    assert state.core_wound == "my brother stole from me"
    assert replies[-1].ready


def test_unresolvable_feeling_stops_asking_and_falls_back_to_neutral() -> None:
    state, replies = _talk(*["ok"] * 8)
    assert replies[-1].ready
    questions = [r.question for r in replies if r.question]
    assert len(questions) == len(set(questions))
    Intent.model_validate(replies[-1].intent)
    assert state.affect is not None
    assert state.affect["primary"] == "neutral"


@pytest.mark.parametrize(
    ("message", "wound"),
    [
        ("I'm sad because my dog died", "my dog died"),
        ("angry because of what he said, and I can't let it go", "what he said"),
        ("since my mum died I feel empty", "my mum died"),
        ("everything changed after I lost my job", "I lost my job"),
        ("I've been numb after my divorce.", "my divorce"),
        ("I feel fine", None),
    ],
)
def test_extract_wound(message: str, wound: str | None) -> None:
    assert extract_wound(message) == wound


@pytest.mark.parametrize(
    ("message", "desire"),
    [
        ("I want to feel at peace again", "feel at peace again"),
        ("I wish I could see her one more time", "see her one more time"),
        ("I just want it to stop hurting", "it to stop hurting"),
        ("I need to let go", "let go"),
        ("I long for home", "home"),
        ("I want a jazz track at 90 bpm", None),
        ("it's raining", None),
    ],
)
def test_extract_desire(message: str, desire: str | None) -> None:
    assert extract_desire(message) == desire


@pytest.mark.parametrize(
    ("message", "bpm"),
    [
        ("90 bpm please", 90.0),
        ("around 128 BPM", 128.0),
        ("keep it slow", 70.0),
        ("very slow and quiet", 56.0),
        ("fast!", 132.0),
        ("mid-tempo", 100.0),
        ("999 bpm", None),
        ("no idea", None),
    ],
)
def test_extract_bpm(message: str, bpm: float | None) -> None:
    assert extract_bpm(message) == bpm


@pytest.mark.parametrize(
    ("message", "key"),
    [
        ("in D minor", "D minor"),
        ("key of F#", "F#"),
        ("in Bb major please", "Bb major"),
        ("in Ebm", "Eb minor"),
        ("something in d dorian", "D dorian"),
        ("in E flat major", "Eb major"),
        ("in A", "A"),
        ("in a nice mood", None),
        ("I was in a bad place", None),
    ],
)
def test_extract_key(message: str, key: str | None) -> None:
    assert extract_key(message) == key


@pytest.mark.parametrize(
    ("message", "genre"),
    [
        ("something orchestral", "cinematic"),
        ("lofi beats", "electronic"),
        ("lo-fi hip hop", "electronic"),
        ("jazzy", "jazz"),
        ("acoustic guitar folk", "folk"),
        ("a classical piece", "classical"),
        ("like a film score", "cinematic"),
        ("soulful r&b", "soul"),
        ("it pops into my head", None),
        ("no preference", None),
    ],
)
def test_extract_genre_maps_only_into_schema_genres(message: str, genre: str | None) -> None:
    found = extract_genre(message)
    assert found == genre
    assert found is None or found in GENRES


def test_extract_length_and_time_signature_and_progression() -> None:
    assert extract_length_bars("32 bars") == 32
    assert extract_length_bars("about 2 minutes", bpm=120) == 60
    assert extract_length_bars("a minute and a half", bpm=80) == 30
    assert extract_length_bars("30 seconds", bpm=90, time_signature="3/4") == 15
    assert extract_length_bars("500 bars") is None
    assert extract_length_bars("no length") is None
    assert extract_time_signature("a waltz") == "3/4"
    assert extract_time_signature("in 6/8") == "6/8"
    assert extract_time_signature("on 3/4/2024") is None
    assert extract_progression("use i-VI-III-VII") == "i-VI-III-VII"
    assert extract_progression("chords Am F C G") == "Am F C G"
    assert extract_progression("I am fine") is None
    assert wants_to_go_ahead("ok that's all, generate it")
    assert not wants_to_go_ahead("I'm not sure yet")


def test_state_round_trips_exactly_through_json() -> None:
    state, _ = _talk("I feel tender and warm", "in 6/8, 16 bars, Am F C G")
    data = json.loads(json.dumps(state.to_dict()))
    assert ConversationState.from_dict(data) == state
    assert ConversationState.from_dict(data).to_dict() == state.to_dict()


def test_from_dict_tolerates_unknown_and_missing_keys() -> None:
    state, _ = _talk("I'm furious")
    data = state.to_dict() | {"future_field": 1, "technical": {"bpm": 90, "colour": "red"}}
    restored = ConversationState.from_dict(data)
    assert restored.technical == {"bpm": 90}
    assert restored.emotional_intent == state.emotional_intent
    bare = ConversationState.from_dict({"session_id": "x"})
    assert bare.turn == 0
    assert bare.asked == ()


def test_advance_is_pure_and_deterministic() -> None:
    state, _ = _talk("I'm scared")
    before = state.to_dict()
    first = advance(state, "because of the storm", session_id="s-1")
    second = advance(state, "because of the storm", session_id="s-1")
    assert first == second
    assert state.to_dict() == before


def test_long_messages_keep_the_intent_valid() -> None:
    long_text = "I am so sad " * (MAX_TEXT_CHARS // 10)
    _, replies = _talk(long_text, long_text, "go ahead")
    assert replies[-1].ready
    intent = Intent.model_validate(replies[-1].intent)
    assert MAX_TEXT_CHARS - 200 <= len(intent.emotional_intent) <= MAX_TEXT_CHARS


@settings(max_examples=150, deadline=None)
@given(st.lists(st.text(max_size=300), min_size=1, max_size=5))
def test_random_text_never_raises_and_replies_are_valid(messages: list[str]) -> None:
    state: ConversationState | None = None
    for message in messages:
        state, reply = advance(state, message, session_id="fuzz")
        json.dumps(reply.to_dict())
        assert ConversationState.from_dict(json.loads(json.dumps(state.to_dict()))) == state
        if reply.ready:
            assert reply.question is None
            Intent.model_validate(reply.intent)
        else:
            assert reply.question
            assert 2 <= len(reply.suggestions) <= 4


def test_an_unsure_reading_asks_one_concrete_question_instead_of_guessing() -> None:
    text = "happy but sad looking back on how far we've come"
    reading = analyse_text(text)
    assert reading.unsure
    assert reading.to_dict()["unsure"] is True
    _, replies = _talk(text, "melancholy, I think", "because my best friend moved away")
    first = replies[0]
    assert not first.ready
    assert first.question is not None
    assert "closer to" in first.question
    assert len(first.suggestions) == 2
    assert reading.primary.replace("_", " ") in first.suggestions
    # Asked once: the answer is read, and the conversation goes on to other topics.
    assert all("closer to" not in (r.question or "") for r in replies[1:])
    assert replies[-1].affect is not None
    assert replies[-1].affect["primary"] in ("melancholy", "nostalgia", "grief")


def test_a_clear_reading_is_not_questioned() -> None:
    text = "I am furious at my brother for lying to me"
    assert not analyse_text(text).unsure
    _, replies = _talk(text)
    assert "closer to" not in (replies[0].question or "")
