"""``GET /``: the listening studio, a page in plain HTML, CSS and JS (``producer_api/static``).

The page posts to this service's own ``/v1/generate`` and ``/v1/interrogate`` and then
follows the URLs the 202 gives back (``status_url``, its ``/events`` stream,
``result_url``) on the results service, which allows any origin to read (GET/HEAD only).
The choices the form offers (genres, meters, output formats) are read from ``schemas`` here,
so the page never lists them a second time.

The page and its files are served without an API key (a person must load the page to type
one in); with API keys on, the page is marked (``data-api-keys="on"``), shows a field for
the key and sends it with every request it makes (docs/studio.md).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from types import UnionType
from typing import Literal, Union, get_args, get_origin
from urllib.parse import urlsplit

from fastapi import APIRouter, FastAPI, Request
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


API_KEYS_OFF = 'data-api-keys="off"'
API_KEYS_ON = 'data-api-keys="on"'


@cache
def page_html(*, api_keys: bool = False) -> str:
    """index.html with the form's choices filled in from the request schemas, and marked
    for API keys when the service requires them."""
    meters = literal_values(TechnicalWishes.model_fields["time_signature"].annotation)
    html = (
        (STATIC_DIR / "index.html")
        .read_text(encoding="utf-8")
        .replace("<!--genre-options-->", _options([(g, g) for g in GENRES]))
        .replace("<!--meter-options-->", _options([(m, m) for m in meters]))
        .replace("<!--output-options-->", _options(output_choices()))
    )
    return html.replace(API_KEYS_OFF, API_KEYS_ON) if api_keys else html


def content_security_policy(results_base_url: str, *, blob_media: bool = False) -> str:
    """Scripts, styles and images from this origin only; data and media also from results.

    ``blob_media``: with API keys the page plays audio it fetched with the key, as a
    ``blob:`` URL (an ``<audio>`` element cannot send the key itself).
    """
    parts = urlsplit(results_base_url)
    results = f"{parts.scheme}://{parts.netloc}"
    blob = " blob:" if blob_media else ""
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src 'self' {results}; media-src 'self' {results}{blob}; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )


@router.get("/", response_class=HTMLResponse)
async def studio_page(request: Request, settings: SettingsDep) -> HTMLResponse:
    api_keys = getattr(request.app.state, "api_keys", None) is not None
    return HTMLResponse(
        page_html(api_keys=api_keys),
        headers={
            "Content-Security-Policy": content_security_policy(
                settings.results_base_url, blob_media=api_keys
            ),
            "Cache-Control": "no-cache",
        },
    )


def install(app: FastAPI) -> None:
    """The page at ``/`` and its scripts and styles under ``/studio/``."""
    app.include_router(router)
    app.mount(ASSETS_PATH, StaticFiles(directory=STATIC_DIR), name="studio-assets")
