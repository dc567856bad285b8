"""The studio page in a real browser against a stack that requires API keys (``kmidi up`` with
``KMIDI_API_KEYS_FILE``): the page asks for the key, keeps it for the tab, sends it with
every request it makes (the status stream, the MIDI and the audio included) and shows
another key's piece to no one. The page without keys: tests/e2e/test_studio.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from playwright.sync_api import Page

from schemas.api_keys import create_key
from tests.e2e.stack_process import RunningStack, start_stack
from tests.e2e.test_studio import PIECE_TIMEOUT_MS, Studio, browser, screenshots, studio

pytestmark = pytest.mark.e2e
__all__ = ["browser", "screenshots", "studio"]  # fixtures of test_studio, used here too


@pytest.fixture(scope="module")
def keys_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    path = tmp_path_factory.mktemp("studio-keys") / "api-keys.json"
    first, _ = create_key(path, "studio")
    second, _ = create_key(path, "someone else")
    return path, first, second


@pytest.fixture(scope="module")
def stack(
    kafka_bootstrap: str,
    tmp_path_factory: pytest.TempPathFactory,
    keys_file: tuple[Path, str, str],
) -> Iterator[RunningStack]:
    running = start_stack(
        tmp_path_factory.mktemp("studio-keys-stack"),
        bootstrap=kafka_bootstrap,
        extra_env={"KMIDI_API_KEYS_FILE": str(keys_file[0]), "RATE_LIMIT_ENABLED": "false"},
    )
    try:
        yield running
    finally:
        running.stop()


def authed(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def use_key(page: Page, key: str) -> None:
    assert page.is_visible("#api-key"), "the page asks for a key"
    page.fill("#api-key", key)


def compose_with_key(studio: Studio, key: str, text: str, *, output: str | None = None) -> None:
    """A 4-bar piece of ``text`` composed through the form, sent with ``key``."""
    page = studio.page
    use_key(page, key)
    page.fill("#emotional-intent", text)
    page.click("summary")
    page.fill("#length-bars", "4")
    if output is not None:
        page.select_option("#output", output)
    page.click("#compose")
    assert studio.wait_until_settled() == "completed", studio.error_text()


def test_without_a_key_the_page_says_it_needs_one(studio: Studio) -> None:
    page = studio.page
    assert page.is_visible("#key-section")
    page.fill("#emotional-intent", "I am feeling grief")
    with page.expect_response(lambda r: r.url.endswith("/v1/generate")) as answer:
        page.click("#compose")
    assert answer.value.status == 401
    assert studio.wait_until_settled() == "error"
    studio.shoot("k1-error-401")
    assert studio.accessibility_violations() == ""
    text = studio.error_text()
    assert "needs a valid API key" in text, text
    assert f"Request ID: {answer.value.headers['x-request-id']}" in text, text


def test_with_its_key_a_piece_is_composed_drawn_and_downloaded(
    studio: Studio, stack: RunningStack, keys_file: tuple[Path, str, str]
) -> None:
    _, key, _ = keys_file
    page = studio.page
    compose_with_key(studio, key, "a quiet morning, calm and grateful")
    studio.shoot("k2-piece-with-key")
    log = studio.status_log()
    assert any(line.startswith("Accepted") for line in log), log
    assert log[-1] == "Composed.", log
    assert page.locator("#roll svg rect.note").count() > 0

    with page.expect_download() as download_info:
        page.click("#midi-download")
    midi = Path(download_info.value.path()).read_bytes()
    request_id = download_info.value.suggested_filename.removeprefix("kmidi-").removesuffix(".mid")
    served = httpx.get(
        f"{stack.results_url}/v1/results/{request_id}/midi", headers=authed(key), timeout=10
    )
    assert served.status_code == 200
    assert midi == served.content
    # Every request the page made to the results service carried the key: none was refused.
    assert httpx.get(f"{stack.results_url}/v1/results/{request_id}").status_code == 401

    page.reload()  # the key is kept for the tab; the address still names the piece
    assert page.input_value("#api-key") == key
    assert studio.wait_until_settled() == "completed", studio.error_text()


def test_an_audio_piece_plays_with_the_key(
    studio: Studio, stack: RunningStack, keys_file: tuple[Path, str, str]
) -> None:
    _, key, _ = keys_file
    page = studio.page
    compose_with_key(studio, key, "a calm evening by the sea", output="audio:ogg")
    page.wait_for_selector("#player", timeout=PIECE_TIMEOUT_MS)
    page.wait_for_function("() => document.getElementById('player').readyState >= 1")
    studio.shoot("k3-audio-with-key")
    assert studio.accessibility_violations() == ""
    source = str(page.get_attribute("#player source", "src"))
    assert source.startswith("blob:"), "played from the bytes fetched with the key"
    assert page.evaluate("document.getElementById('player').error?.code ?? null") is None
    status_url = next(url for url in studio.urls if url.endswith("/events")).removesuffix("/events")
    status = httpx.get(status_url, headers=authed(key), timeout=10).json()
    duration = float(page.evaluate("document.getElementById('player').duration"))
    assert duration == pytest.approx(status["duration_seconds"], abs=0.1)
    with page.expect_download() as download_info:
        page.click("#audio-download")
    audio = Path(download_info.value.path()).read_bytes()
    assert audio[:4] == b"OggS"
    assert audio == httpx.get(f"{status_url}/audio", headers=authed(key), timeout=10).content


def test_talking_it_through_with_the_key(studio: Studio, keys_file: tuple[Path, str, str]) -> None:
    _, key, _ = keys_file
    page = studio.page
    use_key(page, key)
    page.fill("#talk-message", "I lost my dad last spring")
    page.click("#talk-send")
    page.wait_for_selector("#conversation li.kmidi")
    for answer in ("I just want to feel him near, slow piano", "compose it"):
        page.fill("#talk-message", answer)
        page.click("#talk-compose")
        page.wait_for_function(
            "() => !document.getElementById('status').textContent.startsWith('kmidi is thinking')"
        )
        if page.evaluate("document.body.dataset.state") != "ready":
            break
    assert studio.wait_until_settled() == "completed", studio.error_text()
    assert page.locator("#roll svg rect.note").count() > 0


def test_another_keys_piece_is_not_shown(
    studio: Studio, stack: RunningStack, keys_file: tuple[Path, str, str]
) -> None:
    _, key, other = keys_file
    answer = httpx.post(
        f"{stack.api_url}/v1/generate",
        json={"intent": {"emotional_intent": "mine alone", "technical": {"length_bars": 2}}},
        headers=authed(key),
        timeout=30,
    )
    assert answer.status_code == 202, answer.text
    status_url = answer.json()["status_url"]
    done = httpx.get(f"{status_url}?wait=60", headers=authed(key), timeout=70)
    assert done.json()["status"] == "completed"
    page = studio.page
    page.evaluate("key => sessionStorage.setItem('kmidi-api-key', key)", other)
    page.goto(f"{stack.api_url}/#piece={quote(status_url, safe='')}")
    assert studio.wait_until_settled() == "error"
    studio.shoot("k4-another-keys-piece")
    text = studio.error_text()
    assert "could not be opened" in text, text
    assert page.locator("#roll svg rect.note").count() == 0
    assert re.search(r"Request ID: ", text), text
