"""Form: phrases cover every length, materials return, cadences close each phrase."""

from __future__ import annotations

import itertools

import pytest

from kmidi.form import FORMS, phrase_spans, plan_form


@pytest.mark.parametrize("bars", range(1, 257))
def test_phrases_cover_every_length_without_gaps(bars: int) -> None:
    spans = phrase_spans(bars)
    assert spans[0][0] == 0
    assert spans[-1][1] == bars
    assert all(a[1] == b[0] for a, b in itertools.pairwise(spans))
    assert all(1 <= end - start <= 7 for start, end in spans)


@pytest.mark.parametrize("form", sorted(FORMS))
def test_every_phrase_ends_on_a_cadence_and_the_last_on_the_final_one(form: str) -> None:
    for bars in (1, 4, 8, 16, 33, 64):
        for final in ("authentic", "deceptive", "open"):
            phrases = plan_form(bars, form, final=final)
            assert phrases[-1].cadence == final
            assert {p.cadence for p in phrases[:-1]} <= {"half", "authentic"}


def test_song_form_alternates_question_and_answer() -> None:
    phrases = plan_form(32, "song")
    assert [p.label for p in phrases] == ["A", "A'", "B", "B'"] * 2
    assert [p.cadence for p in phrases[:4]] == ["half", "authentic", "half", "authentic"]
    assert phrases[1].material == phrases[0].material == "A"


def test_a_through_composed_piece_returns_to_its_opening() -> None:
    phrases = plan_form(24, "through")
    assert [p.label for p in phrases] == ["A", "B", "C", "D", "E", "A'"]


def test_unknown_form_or_cadence_is_refused() -> None:
    with pytest.raises(ValueError, match="known: song"):
        plan_form(8, "rondo")
    with pytest.raises(ValueError, match="unknown cadence"):
        plan_form(8, "song", final="plagal")
