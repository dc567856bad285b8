"""Form: how a piece divides into phrases, which phrases share material, how each ends.

A phrase's ``label`` names its material: phrases with the same letter share harmony and
melody ("A" and "A'" are the same material; the prime marks a return with its own
ending). Every phrase ends on a planned cadence, the last one on the piece's final
cadence, so every length from 1 bar up ends where the plan says it does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

FORMS: Final[dict[str, tuple[str, ...]]] = {
    "song": ("A", "A'", "B", "B'"),
    "aaba": ("A", "A'", "B", "A''"),
    "through": ("A", "B", "C", "D", "E", "F", "G", "H"),
}
"""Label cycles per form: verse/chorus, 32-bar song form, through-composed."""

CADENCES: Final[tuple[str, ...]] = ("authentic", "half", "deceptive", "open")
"""authentic ends home (V–I or the mode's own cadence chord, then I); half ends on V;
deceptive goes V–vi (or another stable chord that is not home); open leaves a
suspended or added-note chord hanging."""

PHRASE_BARS: Final = 4

INTRO: Final = "intro"
"""Label of the opening phrase where the band sets up the groove before the melody."""


@dataclass(frozen=True, slots=True)
class Phrase:
    """Bars [start_bar, end_bar) with their material and the cadence that ends them."""

    start_bar: int
    end_bar: int
    label: str
    cadence: str

    @property
    def material(self) -> str:
        """The letter without primes: phrases with the same material share their music."""
        return self.label.rstrip("'")

    @property
    def bars(self) -> int:
        return self.end_bar - self.start_bar


def phrase_spans(bars: int) -> list[tuple[int, int]]:
    """Phrase boundaries: 4-bar phrases, the remainder joined to the last (9 → 4 + 5);
    shorter pieces are one phrase (1–4 bars) or two (5–7 bars)."""
    if bars <= PHRASE_BARS:
        return [(0, bars)]
    if bars < 2 * PHRASE_BARS:
        half = (bars + 1) // 2
        return [(0, half), (half, bars)]
    cuts = list(range(0, bars - bars % PHRASE_BARS, PHRASE_BARS))
    return [(a, b) for a, b in zip(cuts, [*cuts[1:], bars], strict=True)]


def _labels(form: str, count: int) -> list[str]:
    """Labels for ``count`` phrases; a through-composed piece ends with its opening idea."""
    cycle = FORMS[form]
    labels = [cycle[i % len(cycle)] for i in range(count)]
    if form == "through" and count >= 3:
        labels[-1] = "A'"
    return labels


def _cadence(label: str, index: int, count: int, final: str) -> str:
    """A first statement asks (half cadence), its return answers (authentic)."""
    if index == count - 1:
        return final
    if label.endswith("'"):
        return "authentic"
    return "half" if index % 2 == 0 else "authentic"


def intro_bars(bars: int) -> int:
    """Bars of instrumental intro: none under 12 bars, 2 under 24, else a 4-bar phrase."""
    if bars < 12:
        return 0
    return 2 if bars < 24 else PHRASE_BARS


def plan_form(
    bars: int, form: str, *, final: str = "authentic", intro: int = 0
) -> tuple[Phrase, ...]:
    """The phrases of a ``bars``-long piece in ``form``, the last ending on ``final``;
    with ``intro`` bars, an intro phrase comes first and ends on a half cadence."""
    if form not in FORMS:
        raise ValueError(f"unknown form {form!r}; known: {', '.join(FORMS)}")
    if final not in CADENCES:
        raise ValueError(f"unknown cadence {final!r}; known: {', '.join(CADENCES)}")
    if not 0 <= intro < bars:
        raise ValueError(f"an intro of {intro} bars does not fit {bars} bars")
    spans = phrase_spans(bars - intro)
    labels = _labels(form, len(spans))
    body = tuple(
        Phrase(intro + start, intro + end, label, _cadence(label, i, len(spans), final))
        for i, ((start, end), label) in enumerate(zip(spans, labels, strict=True))
    )
    return (Phrase(0, intro, INTRO, "half"), *body) if intro else body


__all__ = [
    "CADENCES",
    "FORMS",
    "INTRO",
    "PHRASE_BARS",
    "Phrase",
    "intro_bars",
    "phrase_spans",
    "plan_form",
]
