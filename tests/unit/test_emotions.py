"""The emotion taxonomy: data validity, lookup, modifiers and the catalogue."""

from __future__ import annotations

import json
from dataclasses import fields
from importlib import resources
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kmidi.emotions import (
    FAMILIES,
    MODES,
    MODIFIERS,
    NEUTRAL,
    PRESETS,
    EmotionPreset,
    TaxonomyError,
    apply_modifiers,
    catalogue,
    get_preset,
    load_taxonomy,
    validate_preset,
)
from kmidi.theory import RULE_BREAKS

REQUIRED = [
    "grief",
    "anxiety",
    "nostalgia",
    "anger",
    "calm",
    "tension_building",
    "joy",
    "euphoria",
    "tenderness",
    "love",
    "awe",
    "wonder",
    "hope",
    "defiance",
    "fear",
    "loneliness",
    "dissociation",
    "numbness",
]


def _raw() -> dict[str, Any]:
    text = resources.files("kmidi").joinpath("data/emotions.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def test_required_presets_and_modifiers_exist() -> None:
    assert set(REQUIRED) <= set(PRESETS)
    assert {"suppressed", "cathartic_release", "dissociation", "intrusion"} <= set(MODIFIERS)
    assert NEUTRAL.name == "neutral"
    assert "neutral" in FAMILIES


def test_every_preset_is_valid_and_complete() -> None:
    names = {f.name for f in fields(EmotionPreset)}
    for raw in _raw()["presets"]:
        # Every parameter is written out; rule breaks only where the emotion asks for one.
        assert set(raw) - {"rule_breaks"} == names - {"rule_breaks"}, raw["name"]
    for preset in PRESETS.values():
        validate_preset(preset)
        assert set(preset.mode_weights) <= set(MODES)


def test_original_six_keep_their_documented_ranges() -> None:
    grief = PRESETS["grief"]
    assert (grief.tempo_min, grief.tempo_max, grief.tempo_suggested) == (60, 82, 72)
    assert grief.mode_weights == {"aeolian": 0.4, "dorian": 0.4, "ionian": 0.2}
    assert (grief.register_low, grief.register_high) == (48, 72)
    assert (grief.dynamics_floor, grief.dynamics_ceiling) == (0.2, 0.6)
    anxiety = PRESETS["anxiety"]
    assert (anxiety.tempo_min, anxiety.tempo_max, anxiety.tempo_suggested) == (100, 140, 120)
    assert anxiety.dissonance == 0.6
    assert anxiety.timing_feel == "ahead"
    assert set(anxiety.mode_weights) == {"aeolian", "phrygian", "dorian"}
    assert PRESETS["nostalgia"].tempo_suggested == 78
    assert PRESETS["anger"].dynamics_floor == 0.6
    assert PRESETS["anger"].dynamics_ceiling == 1.0
    assert PRESETS["calm"].mode_weights["ionian"] == 0.5
    tension = PRESETS["tension_building"]
    assert (tension.dynamics_floor, tension.dynamics_ceiling) == (0.3, 0.9)
    assert tension.dynamics_variance >= 0.7


def test_presets_follow_expression_cue_studies() -> None:
    """Juslin & Laukka: sad slower/softer/lower than happy; anger loud and dissonant."""
    grief, joy, anger, tender, fear = (
        PRESETS[n] for n in ("grief", "joy", "anger", "tenderness", "fear")
    )
    assert grief.tempo_suggested < joy.tempo_suggested
    assert grief.dynamics_ceiling < joy.dynamics_ceiling
    assert grief.register_centre < joy.register_centre
    assert grief.legato > joy.legato
    assert joy.mode_weights.get("ionian", 0) > 0.5 > grief.mode_weights.get("ionian", 0)
    assert anger.dissonance > joy.dissonance
    assert anger.dynamics_floor > joy.dynamics_floor
    assert tender.tempo_suggested < joy.tempo_suggested
    assert tender.legato >= 0.85
    assert fear.dynamics_variance > joy.dynamics_variance
    assert fear.register_high - fear.register_low > joy.register_high - joy.register_low
    for p in PRESETS.values():
        if p.family == "joy":
            assert p.valence > 0
        if p.family in ("sadness", "fear"):
            assert p.valence < 0


def test_get_preset_returns_a_private_copy_and_lists_names_on_error() -> None:
    grief = get_preset("grief")
    grief.mode_weights["locrian"] = 1.0
    assert "locrian" not in PRESETS["grief"].mode_weights
    with pytest.raises(KeyError, match="calm"):
        get_preset("happyness")


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda p: p["mode_weights"].update(ionian=0.9), "sum"),
        (lambda p: p.update(tempo_min=100.0), "tempo_min"),
        (lambda p: p.update(register_centre=200), "register_centre"),
        (lambda p: p.update(dynamics_floor=0.9), "dynamics_floor"),
        (lambda p: p.update(legato=1.5), "legato"),
        (lambda p: p.update(timing_feel="late"), "timing_feel"),
        (lambda p: p["mode_weights"].update(blues=0.0), "unknown mode"),
        (lambda p: p.pop("space"), "missing"),
        (lambda p: p.update(colour="blue"), "unknown"),
        (lambda p: p.update(valence="sad"), "number"),
        # A diminished tonic chord cannot be home: no preset may draw locrian.
        (lambda p: p["mode_weights"].update(locrian=0.0), "cannot be a home key"),
    ],
)
def test_bad_data_fails_loudly(mutate: Any, message: str) -> None:
    data = _raw()
    mutate(data["presets"][0])
    with pytest.raises(TaxonomyError, match=message):
        load_taxonomy(json.dumps(data))


def test_bad_documents_fail_loudly() -> None:
    data = _raw()
    data["presets"].append(dict(data["presets"][0]))
    with pytest.raises(TaxonomyError, match="duplicate"):
        load_taxonomy(json.dumps(data))
    with pytest.raises(TaxonomyError):
        load_taxonomy("{not json")
    with pytest.raises(TaxonomyError, match="neutral"):
        load_taxonomy(
            json.dumps({"presets": [p for p in _raw()["presets"] if p["name"] != "neutral"]})
        )
    bad_mod = _raw()
    bad_mod["modifiers"][0]["tempo_scale"] = -1
    with pytest.raises(TaxonomyError, match="tempo_scale"):
        load_taxonomy(json.dumps(bad_mod))
    bad_flag = _raw()
    bad_flag["modifiers"][0]["keeps_major_home"] = 1
    with pytest.raises(TaxonomyError, match="keeps_major_home"):
        load_taxonomy(json.dumps(bad_flag))


def test_intensity_half_is_identity() -> None:
    for preset in PRESETS.values():
        assert apply_modifiers(preset, [], 0.5) == preset


def test_intensity_shapes_tempo_and_dynamics_within_ranges() -> None:
    anger, grief = PRESETS["anger"], PRESETS["grief"]
    hot, mild = apply_modifiers(anger, [], 1.0), apply_modifiers(anger, [], 0.0)
    assert hot.tempo_suggested > anger.tempo_suggested > mild.tempo_suggested
    assert hot.dynamics_floor > mild.dynamics_floor
    assert hot.dynamics_ceiling >= mild.dynamics_ceiling
    deep = apply_modifiers(grief, [], 1.0)
    assert deep.tempo_suggested < grief.tempo_suggested  # intense grief drags
    for p in (hot, mild, deep):
        assert p.tempo_min <= p.tempo_suggested <= p.tempo_max


def test_modifiers_change_parameters_predictably() -> None:
    grief = PRESETS["grief"]
    suppressed = apply_modifiers(grief, ["suppressed"], 0.5)
    assert suppressed.dynamics_ceiling < grief.dynamics_ceiling
    assert suppressed.space > grief.space
    assert suppressed.note_density < grief.note_density
    released = apply_modifiers(grief, ["cathartic_release"], 0.5)
    assert released.dynamics_ceiling > grief.dynamics_ceiling
    assert released.dynamics_variance > grief.dynamics_variance
    far = apply_modifiers(grief, ["dissociation"], 0.5)
    assert far.register_centre > grief.register_centre
    assert far.space > grief.space
    assert far.register_high - far.register_low == grief.register_high - grief.register_low
    intruded = apply_modifiers(grief, ["intrusion"], 0.5)
    assert intruded.dissonance > grief.dissonance
    assert intruded.dynamics_variance > grief.dynamics_variance
    assert apply_modifiers(grief, ["suppressed", "suppressed"], 0.5) == suppressed
    assert "suppressed" in suppressed.description
    with pytest.raises(KeyError, match="suppressed"):
        apply_modifiers(grief, ["sarcastic"], 0.5)


@given(
    name=st.sampled_from(sorted(PRESETS)),
    mods=st.lists(st.sampled_from(sorted(MODIFIERS)), max_size=7),
    intensity=st.floats(allow_nan=True, allow_infinity=True),
)
def test_apply_modifiers_always_yields_a_valid_preset(
    name: str, mods: list[str], intensity: float
) -> None:
    result = apply_modifiers(PRESETS[name], mods, intensity)
    validate_preset(result)
    assert result.name == name


def test_catalogue_lists_presets_and_modifiers_as_json() -> None:
    entries = catalogue()
    json.dumps(entries)
    presets = [e for e in entries if e["kind"] == "preset"]
    modifiers = [e for e in entries if e["kind"] == "modifier"]
    assert {e["name"] for e in presets} == set(PRESETS)
    assert {e["name"] for e in modifiers} == set(MODIFIERS)
    for entry in presets:
        for key in ("name", "family", "description", "valence", "arousal", "tempo_suggested"):
            assert key in entry


def test_rule_break_cues_are_data_and_name_known_rule_breaks() -> None:
    cues = [c for p in PRESETS.values() for c in p.rule_breaks]
    cues += [c for m in MODIFIERS.values() for c in m.rule_breaks]
    assert {c.name for c in cues} <= set(RULE_BREAKS)
    assert {c.name for c in PRESETS["grief"].rule_breaks} == {
        "avoid_tonic_resolution",
        "tempo_drift",
    }
    bad = _raw()
    bad["presets"][0]["rule_breaks"] = [{"name": "tempo_drift"}]
    with pytest.raises(TaxonomyError, match="needs name, reason"):
        load_taxonomy(json.dumps(bad))
