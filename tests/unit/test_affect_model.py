"""The trained reader of feeling (``kmidi.affect_model``), the arbiter that weighs it beside
the lexicon (``kmidi.affect_arbiter``), and how the analyser heeds both."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from kmidi.affect import READER_EVIDENCE, analyse_text
from kmidi.affect_arbiter import (
    FIRM_WORDS,
    Arbiter,
    Evidence,
    feature_names,
    packaged_arbiter,
    packaged_json,
)
from kmidi.affect_model import AffectReader, features, packaged_reader, tokens
from kmidi.emotions import PRESETS

ROOT = Path(__file__).resolve().parents[2]
CLASSES = tuple(PRESETS)


def _reader(votes: dict[str, dict[str, float]]) -> AffectReader:
    """A reader whose only known words are ``votes``' keys, each with logits for presets."""
    names = sorted(votes)
    weights = np.zeros((len(names), len(CLASSES)), dtype=np.float32)
    for row, name in enumerate(names):
        for preset, logit in votes[name].items():
            weights[row, CLASSES.index(preset)] = logit
    return AffectReader(
        classes=CLASSES,
        vocabulary={name: index for index, name in enumerate(names)},
        weights=weights,
        bias=np.zeros(len(CLASSES), dtype=np.float32),
        idf=np.ones(len(names), dtype=np.float32),
    )


def test_features_are_words_word_pairs_and_pieces_of_words() -> None:
    found = features("Sooo TIRED today")
    assert {"w soo", "w tired", "w today", "b soo tired", "b tired today"} <= found
    assert {"c <ti", "c tir", "c tired", "c red>"} <= found
    assert not any(name.startswith("w sooo") for name in found)


def test_tokens_keep_inner_apostrophes_emoji_and_runs_of_marks() -> None:
    assert tokens("I don’t know?! 😡 l'été...") == [
        "i",
        "don't",
        "know",
        "?!",
        "😡",
        "l'été",
        "...",
    ]


def test_a_reader_survives_its_file_format() -> None:
    reader = _reader({"w rain": {"melancholy": 3.0, "calm": 1.0}, "w sun": {"joy": 2.5}})
    again = AffectReader.from_bytes(reader.to_bytes())
    assert again.classes == reader.classes
    assert again.vocabulary == reader.vocabulary
    for text in ("rain", "sun and rain", "nothing known"):
        first, second = reader.probabilities(text), again.probabilities(text)
        assert first.keys() == second.keys()
        assert all(abs(first[name] - second[name]) < 1e-3 for name in first)


def test_the_packaged_reader_gives_every_preset_a_probability() -> None:
    reader = packaged_reader()
    assert set(reader.classes) == set(CLASSES)
    shares = reader.probabilities("my grandmother died last night")
    assert abs(sum(shares.values()) - 1.0) < 1e-4
    assert reader.probabilities("") == {}
    assert len(reader.vocabulary) > 20_000


def test_without_a_reader_the_lexicon_reads_alone() -> None:
    # The toy reader says joy about everything; without it the lexicon's reading is kept.
    text = "honestly a bit tired of hearing the same playlist"
    joyful = _reader({"w playlist": {"joy": 9.0}})
    alone = analyse_text(text, reader=None)
    assert alone.primary == "anger"
    assert alone.confidence < 0.7
    assert alone == analyse_text(text, reader=_reader({}))
    assert analyse_text(text, reader=joyful).primary == "joy"


def test_the_reader_finds_the_feeling_of_a_scene_the_lexicon_reads_as_nothing() -> None:
    text = "the light in the hallway flickers"
    assert analyse_text(text, reader=None).primary == "neutral"
    reading = analyse_text(text, reader=_reader({"w hallway": {"loneliness": 6.0}}))
    assert reading.primary == "loneliness"
    assert READER_EVIDENCE in reading.evidence
    assert 0.5 < reading.confidence <= 0.99


def test_a_sure_lexicon_reading_stands_against_a_reader_that_merely_leans() -> None:
    text = "I am absolutely furious with him"
    lexicon = analyse_text(text, reader=None)
    assert lexicon.primary == "anger"
    assert lexicon.confidence >= 0.8
    leaning = _reader({"w furious": {"joy": 2.0}})
    assert analyse_text(text, reader=leaning) == lexicon
    # A reader all but certain of another family outweighs it, and the reading asks.
    certain = analyse_text(text, reader=_reader({"w furious": {"joy": 9.0}}))
    assert certain.primary == "joy"
    assert certain.unsure


def test_short_texts_keep_the_lexicon_s_feeling() -> None:
    # Five words or fewer are too few for a bag of words: the arbiter is not asked.
    contrary = _reader({"w birthday": {"numbness": 9.0}, "w sad": {"melancholy": 9.0}})
    for text in ("it's my birthday!", "I'm not sad", "😭😭😭"):
        lexicon = analyse_text(text, reader=None)
        assert lexicon.primary != "neutral", text
        assert len(text.split()) <= FIRM_WORDS
        assert analyse_text(text, reader=contrary) == lexicon, text


def test_the_reader_may_read_a_feeling_as_none() -> None:
    # Trained on errands and chat as well as feelings, the reader's "no feeling" is evidence.
    text = "honestly a bit tired of hearing the same playlist"
    assert analyse_text(text, reader=None).primary == "anger"
    none = analyse_text(text, reader=_reader({"w playlist": {"neutral": 9.0}}))
    assert none.primary == "neutral"
    assert none.intensity == 0.0


def test_when_the_reader_overrules_the_lexicon_the_reading_asks() -> None:
    text = "honestly a bit tired of hearing the same playlist"
    reading = analyse_text(text, reader=_reader({"w playlist": {"nostalgia": 4.0}}))
    assert (reading.primary, reading.secondary) == ("nostalgia", "anger")
    assert reading.unsure  # two readers disagree: the conversation asks which
    assert READER_EVIDENCE in reading.evidence
    nostalgia, anger = PRESETS["nostalgia"].valence, PRESETS["anger"].valence
    assert abs(reading.valence - nostalgia) < abs(reading.valence - anger)


def test_where_the_lexicon_found_nothing_a_weak_guess_is_flagged_unsure() -> None:
    text = "the light in the hallway flickers"
    vague = _reader({"w hallway": {"loneliness": 1.0}})
    reading = analyse_text(text, reader=vague)
    assert reading.unsure
    sure = analyse_text(text, reader=_reader({"w hallway": {"loneliness": 6.0}}))
    assert sure.confidence > reading.confidence


def test_the_packaged_readers_read_sarcasm_and_scenes() -> None:
    """Sentences of the kinds the lexicon alone misread, read by the shipped reader and
    arbiter (each written for this test, not drawn from the training sentences)."""
    cases = {
        "what a wonderful joyful day, my landlord raised the rent again": "anger",
        "Oh fantastic, the train is cancelled and it's pouring, best Monday ever": "anger",
        "we scattered her ashes at the beach she loved": "sadness",
        "I'm not sad, I'm relieved it's finally over and I can rest": "peace",
    }
    for text, family in cases.items():
        assert PRESETS[analyse_text(text).primary].family == family, text


def test_the_arbiter_gives_every_family_a_probability() -> None:
    arbiter = packaged_arbiter()
    assert set(arbiter.families) == {preset.family for preset in PRESETS.values()}
    evidence = Evidence(
        reader={"sadness": 0.7, "anger": 0.3},
        lexicon={"joy": 0.9},
        lexicon_family="joy",
        lexicon_confidence=0.8,
        negated=False,
        contexts=False,
        sincere=False,
        words=12,
    )
    posteriors = arbiter.posteriors(evidence)
    assert abs(sum(posteriors.values()) - 1.0) < 1e-9
    family, posterior = arbiter.choose(evidence)
    assert posterior == max(posteriors.values()) == posteriors[family]


def test_an_arbiter_survives_its_file_format_and_refuses_other_features() -> None:
    arbiter = packaged_arbiter()
    again = Arbiter.from_json(arbiter.to_json({"sentences": "x", "reader": "y"}))
    assert again.families == arbiter.families
    assert np.array_equal(again.weights, arbiter.weights)
    assert np.array_equal(again.bias, arbiter.bias)
    stale = json.loads(packaged_json())
    stale["features"] = [*feature_names(arbiter.families)[:-1], "something else"]
    with pytest.raises(ValueError, match="other features"):
        Arbiter.from_json(json.dumps(stale))


def test_the_arbiter_was_fitted_on_the_committed_sentences_and_reader() -> None:
    """The arbiter's file names what it was fitted on: refitting the reader or changing a
    sentence without refitting the arbiter fails here."""
    sys.path.insert(0, str(ROOT / "bench"))
    from train_affect_reader import TRAIN_DIR, development_rows, digest, training_rows

    rows = training_rows(TRAIN_DIR)
    reader_bytes = (ROOT / "kmidi" / "data" / "affect_reader.npz").read_bytes()
    trained_on = json.loads(packaged_json())["trained_on"]
    assert trained_on == digest(rows + development_rows(rows), reader_bytes)


def test_the_shipped_weights_come_from_the_committed_sentences() -> None:
    """Refit from bench/affect_train/ and the development sentences: the same families."""
    sys.path.insert(0, str(ROOT / "bench"))
    from train_affect_reader import TRAIN_DIR, development_rows, fit, reader_family, training_rows

    rows = training_rows(TRAIN_DIR)
    everything = rows + development_rows(rows)
    refitted = fit(everything, sorted({row.preset for row in everything}))
    shipped = packaged_reader()
    assert refitted.classes == shipped.classes
    assert refitted.vocabulary == shipped.vocabulary

    sample = [row.text for row in rows[::7]]
    agree = sum(reader_family(refitted, text) == reader_family(shipped, text) for text in sample)
    assert agree >= 0.99 * len(sample), (agree, len(sample))


@pytest.mark.parametrize("text", ["", "   ", "12345"])
def test_texts_without_words_are_read_by_the_lexicon_alone(text: str) -> None:
    assert analyse_text(text) == analyse_text(text, reader=None)
