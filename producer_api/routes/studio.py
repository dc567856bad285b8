"""``GET /``: the listening studio, a page in plain HTML, CSS and JS (``producer_api/static``).

The page posts to this service's own ``/v1/generate`` and ``/v1/interrogate`` and then
follows the URLs the 202 gives back (``status_url``, its ``/events`` stream,
``result_url``) on the results service, which allows any origin to read (GET/HEAD only).
The choices the form offers (genres, meters, output formats) are read from ``schemas`` here,
so the page never lists them a second time.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from types import UnionType
from typing import Literal, Union, get_args, get_origin
from urllib.parse import urlsplit

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from producer_api.deps import SettingsDep
from schemas.http import GenerateRequest
from schemas.intent import GENRES, TechnicalWishes

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
ASSETS_PATH = "/studio"

router = APIRouter(include_in_schema=False)


def literal_values(annotation: object) -> list[str]:
    """The strings of a ``Literal`` type, also inside ``X | None``."""
    origin = get_origin(annotation)
    if origin is Literal:
        return [str(value) for value in get_args(annotation)]
    if origin in (Union, UnionType):
        return [value for arg in get_args(annotation) for value in literal_values(arg)]
    return []


def _options(choices: list[tuple[str, str]]) -> str:
    return "".join(f'<option value="{value}">{label}</option>' for value, label in choices)


def output_choices() -> list[tuple[str, str]]:
    """``midi``, then ``audio:<format>`` for every audio format the request model accepts."""
    fields = GenerateRequest.model_fields
    formats = literal_values(fields["output_format"].annotation)
    audio = literal_values(fields["audio_format"].annotation) if "audio_format" in fields else []
    choices = [("midi", "MIDI")] if "midi" in formats else []
    if "audio" in formats:
        choices += [(f"audio:{fmt}", f"MIDI and audio (.{fmt})") for fmt in audio or ["ogg"]]
    return choices


@cache
def page_html() -> str:
    """index.html with the form's choices filled in from the request schemas."""
    meters = literal_values(TechnicalWishes.model_fields["time_signature"].annotation)
    return (
        (STATIC_DIR / "index.html")
        .read_text(encoding="utf-8")
        .replace("<!--genre-options-->", _options([(g, g) for g in GENRES]))
        .replace("<!--meter-options-->", _options([(m, m) for m in meters]))
        .replace("<!--output-options-->", _options(output_choices()))
    )


def content_security_policy(results_base_url: str) -> str:
    """Scripts, styles and images from this origin only; data and media also from results."""
    parts = urlsplit(results_base_url)
    results = f"{parts.scheme}://{parts.netloc}"
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src 'self' {results}; media-src 'self' {results}; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )


@router.get("/", response_class=HTMLResponse)
async def studio_page(settings: SettingsDep) -> HTMLResponse:
    return HTMLResponse(
        page_html(),
        headers={
            "Content-Security-Policy": content_security_policy(settings.results_base_url),
            "Cache-Control": "no-cache",
        },
    )


def install(app: FastAPI) -> None:
    """The page at ``/`` and its scripts and styles under ``/studio/``."""
    app.include_router(router)
    app.mount(ASSETS_PATH, StaticFiles(directory=STATIC_DIR), name="studio-assets")
