"""Text → affect: corpus accuracy per family, and the behaviours the analyser promises."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from kmidi.affect import Affect, analyse_intent, analyse_text
from kmidi.emotions import MODIFIERS, PRESETS
from schemas.intent import MAX_TEXT_CHARS, Intent

CORPUS = Path(__file__).parent / "data" / "affect_corpus.jsonl"
OVERALL_TARGET = 0.90
FAMILY_TARGET = 0.80
HELD_OUT_TARGET = 0.75


@dataclass(frozen=True)
class Case:
    text: str
    family: str
    preset: str
    wound: str | None
    desire: str | None
    split: str


def _corpus() -> list[Case]:
    cases = []
    for line in CORPUS.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            cases.append(
                Case(
                    row["text"],
                    row["family"],
                    row["preset"],
                    row.get("wound"),
                    row.get("desire"),
                    row.get("split", "dev"),
                )
            )
    return cases


def _family(affect: Affect) -> str:
    return PRESETS[affect.primary].family


def _evaluate(cases: list[Case]) -> tuple[str, float, dict[str, float], list[str]]:
    total: Counter[str] = Counter()
    right: Counter[str] = Counter()
    preset_right = 0
    misses: list[str] = []
    for case in cases:
        affect = analyse_text(case.text, wound=case.wound, desire=case.desire)
        total[case.family] += 1
        if _family(affect) == case.family:
            right[case.family] += 1
        else:
            misses.append(f"  {case.family:>10} <- {affect.primary:<16} {case.text!r}")
        preset_right += affect.primary == case.preset
    per_family = {family: right[family] / total[family] for family in sorted(total)}
    overall = sum(right.values()) / len(cases)
    lines = [f"{'family':>12} {'n':>4} {'accuracy':>9}"]
    lines += [f"{f:>12} {total[f]:>4} {acc:>9.1%}" for f, acc in per_family.items()]
    lines.append(f"{'overall':>12} {len(cases):>4} {overall:>9.1%}")
    lines.append(f"{'preset':>12} {len(cases):>4} {preset_right / len(cases):>9.1%}")
    table = "\n".join(lines)
    return table, overall, per_family, misses


def test_corpus_is_big_and_spread_across_every_preset() -> None:
    cases = _corpus()
    assert len(cases) >= 180
    families = Counter(case.family for case in cases)
    for preset in PRESETS.values():
        assert families[preset.family] >= 8, preset.family
        assert any(case.preset == preset.name for case in cases), preset.name
    assert all(case.preset in PRESETS for case in cases)
    assert all(PRESETS[case.preset].family == case.family for case in cases)
    assert families["neutral"] >= 15


def test_corpus_accuracy_per_family() -> None:
    cases = [case for case in _corpus() if case.split == "dev"]
    table, overall, per_family, misses = _evaluate(cases)
    report = f"\n{table}\nmisses:\n" + "\n".join(misses)
    print(report)
    assert overall >= OVERALL_TARGET, report
    weak = {family: acc for family, acc in per_family.items() if acc < FAMILY_TARGET}
    assert not weak, report


@pytest.mark.parametrize("split", ["holdout", "holdout2", "holdout3"])
def test_held_out_accuracy_is_reported(split: str) -> None:
    """Sentences not tuned on when written: an honest generalisation figure.

    Each was written without looking at the analyser's source or vocabulary and labelled
    before its first run. "holdout" has since been seen during tuning; the situational
    work was guided by the failure categories of "holdout2" (45 % first pass), not by its
    rows; "holdout3" (76 % first pass) came after it and must never be tuned on.
    """
    cases = [case for case in _corpus() if case.split == split]
    assert len(cases) >= 50, f"split {split!r} has {len(cases)} rows"
    table, overall, _, misses = _evaluate(cases)
    report = f"\nheld-out ({split}):\n{table}\nmisses:\n" + "\n".join(misses)
    print(report)
    assert overall >= HELD_OUT_TARGET, report


# --- named behaviours ------------------------------------------------------------------


def test_the_seed_services_own_example_reads_as_grief() -> None:
    affect = analyse_text("I am feeling grief")
    assert affect.primary == "grief"
    assert affect.valence < 0
    assert "grief" in affect.evidence


def test_winning_the_championship_is_high_arousal_joy() -> None:
    affect = analyse_text("we won the championship!")
    assert affect.primary in ("joy", "euphoria")
    assert affect.arousal > 0.6
    assert affect.valence > 0.5


@pytest.mark.parametrize(
    ("text", "preset"),
    [
        ("I've been grieving for months", "grief"),
        ("heartbroken", "grief"),
        ("we mourned him all summer", "grief"),
        ("my grandad passed away on sunday", "grief"),
        ("I can't breathe, everything is closing in", "anxiety"),
        ("been on edge since the phone call", "anxiety"),
        ("I'm over the moon", "euphoria"),
        ("feeling nostalgic", "nostalgia"),
    ],
)
def test_inflections_and_multiword_expressions(text: str, preset: str) -> None:
    assert analyse_text(text).primary == preset


def test_negation_flips_or_drops_the_negated_feeling() -> None:
    not_angry = analyse_text("I'm not angry anymore")
    assert PRESETS[not_angry.primary].family != "anger"
    assert "not angry" in not_angry.evidence
    not_calm = analyse_text("I don't feel calm")
    assert not_calm.primary != "calm"
    assert not_calm.valence < 0
    no_longer = analyse_text("I am no longer afraid")
    assert PRESETS[no_longer.primary].family != "fear"
    # Negation has a short scope and stops at a clause boundary.
    assert analyse_text("I'm not sure why, but I'm furious").primary == "anger"
    assert analyse_text("no. I'm happy").primary == "joy"


def test_intensifiers_and_dampeners_move_intensity() -> None:
    mild = analyse_text("I'm a bit sad").intensity
    plain = analyse_text("I'm sad").intensity
    strong = analyse_text("I'm so sad").intensity
    strongest = analyse_text("I'm absolutely devastated!!!").intensity
    assert mild < plain < strong < strongest
    assert analyse_text("kind of anxious").intensity < analyse_text("really anxious").intensity


def test_punctuation_capitals_and_elongation_add_emphasis() -> None:
    plain = analyse_text("I am happy")
    loud = analyse_text("I AM HAPPY!!!")
    stretched = analyse_text("I am sooo happyyy")
    assert loud.primary == stretched.primary == "joy"
    assert loud.intensity > plain.intensity
    assert loud.arousal > plain.arousal
    assert stretched.intensity > plain.intensity


@pytest.mark.parametrize(
    ("text", "family"),
    [
        ("😭😭😭", "sadness"),
        ("😡", "anger"),
        ("today 😊", "joy"),
        ("🥰🥰", "tenderness"),
        ("😱", "fear"),
        ("🙂", "joy"),
        ("💔", "sadness"),
        ("🎉🎉", "joy"),
        ("❤️", "tenderness"),
    ],
)
def test_emoji_carry_affect(text: str, family: str) -> None:
    assert _family(analyse_text(text)) == family


def test_mixed_feelings_give_primary_and_secondary() -> None:
    mixed = analyse_text("happy but sad")
    assert {mixed.primary, mixed.secondary} == {"joy", "melancholy"}
    assert mixed.primary == "melancholy"  # what follows "but" weighs more
    assert "bittersweet" in mixed.modifiers
    bitter = analyse_text("it's bittersweet")
    assert bitter.primary == "nostalgia"
    assert "bittersweet" in bitter.modifiers
    scared_excited = analyse_text("I'm terrified and excited about the move")
    assert {_family(scared_excited), PRESETS[scared_excited.secondary or "neutral"].family} == {
        "fear",
        "joy",
    }


def test_neutral_text_and_empty_text() -> None:
    for text in ("the meeting is at 3pm", "", "   ", "...", "ok", "C major, 4/4"):
        affect = analyse_text(text)
        assert affect.primary == "neutral", text
        assert affect.intensity == 0.0
        assert affect.secondary is None


def test_wound_and_desire_contribute_with_lower_weight() -> None:
    from_wound = analyse_text("make me a song", wound="my mother died last year")
    assert from_wound.primary == "grief"
    assert any(label.startswith("wound: ") for label in from_wound.evidence)
    direct = analyse_text("my mother died last year")
    assert from_wound.intensity < direct.intensity
    # A stated feeling outweighs a differently-coloured desire.
    led = analyse_text("I'm so anxious", desire="to feel calm and at peace")
    assert led.primary == "anxiety"


def test_modifiers_are_detected() -> None:
    assert "suppressed" in analyse_text("I'm holding it in, so angry").modifiers
    assert "cathartic_release" in analyse_text("I just want to let it all out and cry").modifiers
    assert "intrusion" in analyse_text("the flashbacks keep coming back, I'm scared").modifiers
    assert "dissociation" in analyse_text("I feel detached and numb").modifiers
    assert "resigned" not in analyse_text("I refuse to give up").modifiers


@pytest.mark.parametrize(
    ("text", "family"),
    [
        ("waiting for the biopsy results", "fear"),
        ("sitting on the porch listening to the crickets", "peace"),
        ("the hospice called at 4am", "sadness"),
        ("got promoted today", "joy"),
        ("found an old mixtape in the attic", "nostalgia"),
        ("two minutes left and the score is tied", "tension"),
        ("the choir and the cathedral gave me goosebumps", "awe"),
    ],
)
def test_situations_without_feeling_words_are_not_neutral(text: str, family: str) -> None:
    affect = analyse_text(text)
    assert affect.primary != "neutral", text
    assert _family(affect) == family


@pytest.mark.parametrize(
    ("text", "preset"),
    [
        ("my stomach is in knots", "anxiety"),
        ("my heart was in my throat", "anxiety"),
        ("such a weight off my shoulders", "calm"),
        ("on cloud nine", "euphoria"),
        ("a lump in my throat all day", "melancholy"),
    ],
)
def test_idioms_and_body_sensations(text: str, preset: str) -> None:
    assert analyse_text(text).primary == preset


def test_an_explicit_feeling_outweighs_a_situational_cue() -> None:
    assert analyse_text("got promoted today but honestly I'm furious", reader=None).primary == (
        "anger"
    )
    assert analyse_text("exam tomorrow and I feel totally calm").primary != "neutral"


@pytest.mark.xfail(
    strict=True,
    reason="the arbiter (tenth session) follows the trained reader (joy 0.72: 'got promoted') "
    "over the lexicon's explicit 'furious' (confidence 0.71)",
)
def test_an_explicit_feeling_outweighs_a_situational_cue_with_the_reader() -> None:
    assert analyse_text("got promoted today but honestly I'm furious").primary == "anger"


def test_a_loss_context_turns_love_and_occasion_words_to_grief() -> None:
    assert analyse_text("we scattered her ashes at the beach she loved").primary == "grief"
    assert analyse_text("first birthday without mum").primary == "grief"
    # Without a loss nearby the same words keep their meaning.
    assert _family(analyse_text("we went to the beach she loved")) == "tenderness"
    assert _family(analyse_text("it's my birthday!")) == "joy"


def test_other_contexts_reweight_surface_words() -> None:
    cradled = analyse_text("the baby fell asleep on my chest and I'm scared to move")
    assert cradled.primary == "tenderness"
    lonely = analyse_text("the flat is empty and no one texts back, it's so quiet")
    assert lonely.primary == "loneliness"
    persistent = analyse_text("Fine. They said no. I'm applying again next year anyway")
    assert persistent.primary == "defiance"


@pytest.mark.parametrize(
    "text", ["time to wind down", "sit down and write the report", "the server is going down"]
)
def test_phrasal_down_is_not_sadness(text: str) -> None:
    assert PRESETS[analyse_text(text).primary].family != "sadness"


def test_long_is_a_length_and_longing_for_is_nostalgia() -> None:
    # "longing" and "long" share a stem: only the yearning phrases may carry nostalgia.
    for text in ("it was a long day at work", "make a long piece for my yoga class"):
        assert analyse_text(text, reader=None).primary == "neutral", text
        # The trained reader may hear a mood in the rest (yoga: calm), never longing.
        assert _family(analyse_text(text)) != "nostalgia", text
    for text in ("longing for home", "I long for you", "full of longing for the sea"):
        assert analyse_text(text).primary == "nostalgia", text


def test_wound_and_desire_describing_situations_go_through_the_cues() -> None:
    fired = analyse_text("something for the drive home", wound="got fired with no warning")
    assert _family(fired) == "sadness"
    proving = analyse_text("make it loud", desire="to prove everyone who doubted me wrong")
    assert proving.primary == "defiance"


def test_analyse_intent_reads_all_fields() -> None:
    intent = Intent(
        emotional_intent="I need a piece", core_wound="after I lost my dad", core_desire=None
    )
    assert analyse_intent(intent).primary == "grief"


def test_reading_is_deterministic_and_json_round_trips() -> None:
    text = "I'm so anxious but also kind of hopeful 🙂"
    first, second = analyse_text(text), analyse_text(text)
    assert first == second
    assert Affect.from_dict(json.loads(json.dumps(first.to_dict()))) == first


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400), st.one_of(st.none(), st.text(max_size=80)))
def test_any_text_yields_a_valid_affect(text: str, wound: str | None) -> None:
    affect = analyse_text(text, wound=wound, desire=wound)
    assert affect.primary in PRESETS
    assert affect.secondary is None or affect.secondary in PRESETS
    assert 0.0 <= affect.intensity <= 1.0
    assert -1.0 <= affect.valence <= 1.0
    assert -1.0 <= affect.arousal <= 1.0
    assert 0.0 <= affect.confidence <= 1.0
    assert set(affect.modifiers) <= set(MODIFIERS)


@pytest.mark.parametrize(
    ("text", "family"),
    [
        ("exams are finally over, lying in the grass", "peace"),
        pytest.param(
            "the panic attack is over and I can breathe",
            "peace",
            marks=pytest.mark.xfail(
                strict=True,
                reason="the arbiter follows the eleventh session's reader (fear 0.82: a panic "
                "attack) over the lexicon's relief; flagged unsure (0.5)",
            ),
        ),
        pytest.param(
            "the argument with my brother is resolved",
            "peace",
            marks=pytest.mark.xfail(
                strict=True,
                reason="the arbiter (tenth session) follows the trained reader (no feeling, "
                "0.76) over the lexicon's relief",
            ),
        ),
        ("I was so nervous but it's done now", "peace"),  # the whole sentence is resolved
        ("I can't wait for my exams to be over", "fear"),  # waiting is not the end
        ("I'm over the moon", "joy"),  # an idiom, not a resolution
        ("the funeral is over", "sadness"),  # a loss is not "over"
    ],
)
def test_distress_said_to_be_over_reads_as_relief(text: str, family: str) -> None:
    assert _family(analyse_text(text)) == family


def test_the_lexicon_reads_distress_said_to_be_over_as_relief() -> None:
    # What the arbiter weighs against the reader, where it follows the reader (above).
    for text in (
        "the panic attack is over and I can breathe",
        "the argument with my brother is resolved",
    ):
        assert _family(analyse_text(text, reader=None)) == "peace", text


@pytest.mark.parametrize("text", ["neither happy nor sad", "not sad, not happy, just blank"])
def test_pleasant_and_unpleasant_both_denied_read_as_numb(text: str) -> None:
    assert analyse_text(text).primary == "numbness"


@pytest.mark.parametrize(
    ("text", "preset"),
    [
        ("went through the motions all day", "numbness"),
        ("went to the funeral and didn't feel a thing", "numbness"),
        ("it's like watching my life through glass", "dissociation"),
        ("everyone was talking but I felt miles away", "dissociation"),
        ("keep zoning out and losing hours", "dissociation"),
    ],
)
def test_everyday_numbness_and_dissociation(text: str, preset: str) -> None:
    assert analyse_text(text).primary == preset


@pytest.mark.parametrize(
    ("text", "not_family"),
    [
        ("I wonder what time the shop closes", "awe"),
        ("my grandpa's hands shake when he pours the tea", "fear"),
        ("no wonder the bus was late", "awe"),
    ],
)
def test_figures_of_speech_do_not_express_their_feeling_words(text: str, not_family: str) -> None:
    assert _family(analyse_text(text)) != not_family


def test_ecstatic_scene_with_emphasis_reads_as_euphoria() -> None:
    assert analyse_text("WE WON!!! the crowd went wild").primary == "euphoria"
    assert analyse_text("front row at the festival, hands in the air").primary == "euphoria"
    assert analyse_text("I AM HAPPY!!!").primary == "joy"  # emphasis alone stays joy


@pytest.mark.parametrize(
    "text", ["had to put our dog down today", "my cat died this morning", "lost my dog last week"]
)
def test_pet_loss_is_grief(text: str) -> None:
    assert analyse_text(text).primary == "grief"


def test_track_requests_read_the_scene_not_the_use() -> None:
    assert _family(analyse_text("music for the detective walking into a dark warehouse")) == (
        "tension"
    )
    assert analyse_text("background music for a presentation at work").primary == "neutral"
    assert _family(analyse_text("something gentle for falling asleep after a long day")) == "peace"


def test_long_text_is_read_not_refused_and_not_intense_for_being_long() -> None:
    day = (
        "Woke up late again. The kitchen was cold and the kettle took forever. "
        "I answered emails until noon and ate lunch at my desk. "
    )
    ending = "Tonight I finally cried for her, properly, for the first time since the funeral."
    text = day * 30 + ending
    assert 2_112 < len(text) <= MAX_TEXT_CHARS
    Intent(emotional_intent=text)  # accepted by the contract
    reading = analyse_text(text)
    assert PRESETS[reading.primary].family == "sadness"
    short = analyse_text(ending)
    assert reading.intensity <= short.intensity + 0.1
    with pytest.raises(ValidationError):
        Intent(emotional_intent="x" * (MAX_TEXT_CHARS + 1))


def test_in_a_long_text_the_later_sentences_weigh_more() -> None:
    first, last = "At first I felt sad about it.", "In the end I felt happy about it."
    filler = "We walked back along the road and talked about the weekend. " * 16
    # The lexicon's weighting by position (the trained reader reads a text as a bag of words).
    assert analyse_text(first, reader=None).intensity == pytest.approx(
        analyse_text(last, reader=None).intensity, abs=0.1
    )
    forward = analyse_text(f"{first} {filler}{last}", reader=None)
    backward = analyse_text(f"{last} {filler}{first}", reader=None)
    assert PRESETS[forward.primary].family == "joy"
    assert PRESETS[backward.primary].family == "sadness"
