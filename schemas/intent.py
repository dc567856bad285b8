"""The emotional intent a person or system states, shared by HTTP bodies and events."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, StringConstraints

MAX_TEXT_CHARS = 20_000
"""Longest free text accepted in any intent field; longer input is rejected, not cut."""

Genre = Literal[
    "ambient",
    "blues",
    "classical",
    "cinematic",
    "electronic",
    "experimental",
    "folk",
    "funk",
    "jazz",
    "pop",
    "rock",
    "soul",
]
GENRES: tuple[str, ...] = Genre.__args__  # type: ignore[attr-defined]

FreeText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=MAX_TEXT_CHARS)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class TechnicalWishes(BaseModel):
    """Optional musical wishes; every one given is honoured or rejected, never ignored."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    key: ShortText | None = Field(
        default=None,
        description='Tonic and optional mode: "F#", "Bb minor", "D dorian", "Ebm".',
        examples=["D minor"],
    )
    bpm: float | None = Field(default=None, ge=40, le=240, description="Tempo in beats per minute.")
    progression: ShortText | list[ShortText] | None = Field(
        default=None,
        description='Roman numerals or chord symbols: "i-VI-III-VII", "Am F C G", or a list.',
        examples=["i-VI-III-VII"],
    )
    genre: Genre | None = Field(default=None, description="Shapes instruments, drums and rhythm.")
    length_bars: int | None = Field(
        default=None,
        ge=1,
        le=256,
        validation_alias=AliasChoices("length_bars", "length", "bars"),
        description="Length of the piece in bars (alias: length, bars).",
    )
    time_signature: Literal["2/4", "3/4", "4/4", "5/4", "6/8", "7/8", "9/8", "12/8"] | None = None
    rule_breaks: list[ShortText] | None = Field(
        default=None,
        max_length=8,
        description="Deliberate rule-breaking to apply, e.g. avoid_tonic_resolution.",
    )


class Intent(BaseModel):
    """What the person feels, what hurt, what they long for, and how it should sound."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    emotional_intent: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TEXT_CHARS)
    ] = Field(examples=["I am feeling grief"])
    core_wound: FreeText | None = None
    core_desire: FreeText | None = None
    technical: TechnicalWishes = Field(default_factory=TechnicalWishes)
