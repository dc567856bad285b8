"""The studio page's files (producer_api/static) and its route, without a browser."""

from __future__ import annotations

import re

import httpx

from producer_api.routes.studio import (
    STATIC_DIR,
    content_security_policy,
    output_choices,
    page_html,
)
from schemas.intent import GENRES
from stream_processors.results_service.main import create_app

SVG_NAMESPACE = "http://www.w3.org/2000/svg"
"""An XML name, never fetched: the one URL the page's files may contain."""
URL = re.compile(r"(?:[a-z][a-z0-9+.-]*:)?//[^\s'\"`)]+", re.IGNORECASE)


def test_the_page_references_nothing_outside_its_own_origin() -> None:
    files = sorted(STATIC_DIR.iterdir())
    assert {f.suffix for f in files} == {".html", ".css", ".js"}
    found = {
        f"{path.name}: {match}"
        for path in files
        for match in URL.findall(path.read_text(encoding="utf-8"))
        if match != SVG_NAMESPACE
    }
    assert found == set()


def test_the_url_pattern_would_see_an_external_reference() -> None:
    sample = '<script src="https://cdn.example/x.js"></script> url(//fonts.example/f.woff)'
    assert URL.findall(sample) == ["https://cdn.example/x.js", "//fonts.example/f.woff"]


def test_the_form_offers_the_choices_the_request_schema_accepts() -> None:
    html = page_html()
    assert "<!--" not in html, "every placeholder is filled"
    for genre in GENRES:
        assert f'<option value="{genre}">' in html
    assert '<option value="3/4">3/4</option>' in html
    assert output_choices()[0] == ("midi", "MIDI")
    for value, _ in output_choices():
        assert f'<option value="{value}">' in html


def test_the_content_security_policy_allows_the_results_origin_only() -> None:
    policy = content_security_policy("https://results.example:8443/base/")
    assert "connect-src 'self' https://results.example:8443;" in policy
    assert "script-src 'self';" in policy
    assert "default-src 'none'" in policy


async def test_the_results_service_lets_other_origins_read_but_not_delete() -> None:
    # The page's cross-origin story (docs/studio.md): CORS '*' for GET/HEAD only.
    # ASGITransport runs no lifespan: the app's Kafka consumer never starts.
    transport = httpx.ASGITransport(app=create_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://results") as client:
        answers = {
            method: await client.options(
                "/v1/results/r1",
                headers={
                    "Origin": "http://studio.example:8000",
                    "Access-Control-Request-Method": method,
                },
            )
            for method in ("GET", "DELETE")
        }
    assert answers["GET"].status_code == 200
    assert answers["GET"].headers["access-control-allow-origin"] == "*"
    assert answers["DELETE"].status_code == 400
