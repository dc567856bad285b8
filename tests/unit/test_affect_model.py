"""The trained reader of feeling (``kmidi.affect_model``) and how the analyser heeds it."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from kmidi.affect import (
    FIRM_CONFIDENCE,
    PLEASANT_VALENCE,
    PRAISE_OVERRULED,
    READER_EVIDENCE,
    analyse_text,
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


def test_a_firm_lexicon_reading_stands_against_the_reader() -> None:
    text = "I am absolutely furious with him"
    lexicon = analyse_text(text, reader=None)
    assert lexicon.primary == "anger"
    assert lexicon.confidence >= 0.8
    assert analyse_text(text, reader=_reader({"w furious": {"joy": 9.0}})) == lexicon


def test_a_denied_feeling_is_not_read_back_by_the_bag_of_words() -> None:
    text = "I'm not sad"
    lexicon = analyse_text(text, reader=None)
    assert lexicon.primary != "neutral"
    assert PRESETS[lexicon.primary].family != "sadness"
    sad = _reader({"w sad": {"melancholy": 9.0}})
    assert analyse_text(text, reader=sad) == lexicon


def test_the_reader_does_not_erase_a_feeling_the_lexicon_read() -> None:
    # A bag of words that knows none of the words says "no feeling"; that is no evidence.
    text = "honestly a bit tired of hearing the same playlist"
    lexicon = analyse_text(text, reader=None)
    assert analyse_text(text, reader=_reader({"w playlist": {"neutral": 9.0}})) == lexicon


def test_when_the_reader_overrules_the_lexicon_the_reading_asks() -> None:
    text = "honestly a bit tired of hearing the same playlist"
    reading = analyse_text(text, reader=_reader({"w playlist": {"nostalgia": 4.0}}))
    assert (reading.primary, reading.secondary) == ("nostalgia", "anger")
    assert reading.unsure  # two readers disagree: the conversation asks which
    nostalgia, anger = PRESETS["nostalgia"].valence, PRESETS["anger"].valence
    assert abs(reading.valence - nostalgia) < abs(reading.valence - anger)


def test_short_or_denied_or_turned_feelings_stand_against_the_reader() -> None:
    contrary = _reader({"w birthday": {"numbness": 9.0}, "w ashes": {"joy": 9.0}})
    for text in ("it's my birthday!", "we scattered her ashes at the beach she loved"):
        assert analyse_text(text, reader=contrary) == analyse_text(text, reader=None), text


def test_firm_praise_over_trouble_gives_way_to_a_reader_sure_of_the_trouble() -> None:
    text = "what a wonderful joyful day, my landlord raised the rent again"
    lexicon = analyse_text(text, reader=None)
    assert PRESETS[lexicon.primary].valence >= PLEASANT_VALENCE
    assert lexicon.confidence >= FIRM_CONFIDENCE
    sure = _reader({"w landlord": {"anger": 30.0}})
    reading = analyse_text(text, reader=sure)
    assert PRESETS[reading.primary].family == "anger"
    assert reading.unsure  # the two readers disagree: the conversation asks
    faint = _reader({"w landlord": {"anger": 1.0}})
    assert (
        sum(share for name, share in faint.probabilities(text).items() if name == "anger")
        < PRAISE_OVERRULED
    )
    assert analyse_text(text, reader=faint) == lexicon


def test_sincere_praise_and_short_praise_keep_their_pleasant_reading() -> None:
    sure = _reader({"w flowers": {"anger": 9.0}, "w wedding": {"anger": 9.0}})
    for text in ("thanks a lot for the flowers, they made my day", "happy wedding day!"):
        lexicon = analyse_text(text, reader=None)
        assert PRESETS[lexicon.primary].valence >= PLEASANT_VALENCE, text
        assert analyse_text(text, reader=sure) == lexicon, text


def test_where_the_lexicon_found_nothing_a_weak_guess_is_not_a_feeling() -> None:
    text = "the light in the hallway flickers"
    vague = _reader({"w hallway": {"loneliness": 1.0}})
    assert max(vague.probabilities(text).values()) < 0.4
    assert analyse_text(text, reader=vague).primary == "neutral"


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
