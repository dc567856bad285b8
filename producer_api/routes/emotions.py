"""``GET /v1/emotions`` (and ``/emotions``): the emotion presets and modifiers."""

from __future__ import annotations

from typing import cast

from fastapi import APIRouter, Request

from kmidi.emotions import catalogue
from schemas.http import EmotionsCatalogue

router = APIRouter(tags=["emotions"])


def load_catalogue() -> EmotionsCatalogue:
    """Split kmidi's catalogue into presets and modifiers (built once at start-up)."""
    entries = catalogue()
    return EmotionsCatalogue(
        emotions=[entry for entry in entries if entry.get("kind") == "preset"],
        modifiers=[entry for entry in entries if entry.get("kind") == "modifier"],
    )


@router.get(
    "/v1/emotions",
    summary="List emotion presets and modifiers",
    description="Every preset with its musical parameters, and the intensity modifiers.",
    response_model=EmotionsCatalogue,
)
@router.get(
    "/emotions",
    summary="List emotion presets and modifiers (seed service path)",
    response_model=EmotionsCatalogue,
)
async def list_emotions(request: Request) -> EmotionsCatalogue:
    return cast(EmotionsCatalogue, request.app.state.emotions)
