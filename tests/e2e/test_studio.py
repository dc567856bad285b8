"""The studio page at ``/`` in a real browser (Debian's Chromium driven by Playwright) against
the real stack (``kmidi up`` on the session's broker).

Screenshots of every page state go to ``$KMIDI_STUDIO_SCREENSHOTS`` (default: a
``studio-screenshots`` folder in pytest's temporary directory; the path is printed).
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import mido
import pytest
from aiokafka import AIOKafkaProducer  # type: ignore[import-untyped]
from axe_playwright_python.sync_playwright import Axe  # type: ignore[import-untyped]
from playwright.sync_api import (
    Browser,
    Page,
    Response,
    ViewportSize,
    sync_playwright,
)

from schemas.headers import CONTENT_TYPE, JSON_CONTENT_TYPE, REQUEST_ID
from schemas.topics import INTENTS
from tests.e2e.stack_process import RunningStack, start_stack

pytestmark = pytest.mark.e2e

CHROMIUM = os.environ.get("KMIDI_CHROMIUM", "/usr/bin/chromium")
PHONE: ViewportSize = {"width": 360, "height": 740}
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
PIECE_TIMEOUT_MS = 90_000
INTERROGATE_LIMIT = 4
"""Interrogation turns a client may send per hour, so the 429 test can reach the limit."""

# Records what #status says, so a test can check the progress it showed on the way.
STATUS_LOG_SCRIPT = """
window.statusLog = [];
document.addEventListener("DOMContentLoaded", () => {
  const node = document.getElementById("status");
  new MutationObserver(() => window.statusLog.push(node.textContent))
    .observe(node, {childList: true, characterData: true, subtree: true});
});
"""


@pytest.fixture(scope="module")
def stack(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    running = start_stack(
        tmp_path_factory.mktemp("studio-stack"),
        bootstrap=kafka_bootstrap,
        extra_env={"RATE_LIMIT_INTERROGATE": f"{INTERROGATE_LIMIT}/hour"},
    )
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"no Chromium at {CHROMIUM}: run scripts/ensure-system-deps.sh --test "
            "(apt-get install chromium) or set KMIDI_CHROMIUM",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        # The system browser: Playwright's own browser downloads are never used.
        yield playwright.chromium.launch(executable_path=CHROMIUM)


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    configured = os.environ.get("KMIDI_STUDIO_SCREENSHOTS")
    folder = Path(configured) if configured else tmp_path_factory.mktemp("studio-screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    print(f"studio screenshots: {folder}")
    return folder


class Studio:
    """One browser tab on the studio page, with what it requested and what it logged."""

    def __init__(self, page: Page, stack: RunningStack, screenshots: Path) -> None:
        self.page = page
        self.stack = stack
        self.screenshots = screenshots
        self.urls: list[str] = []
        self.problems: list[str] = []
        page.on("request", lambda request: self.urls.append(request.url))
        page.on("pageerror", lambda error: self.problems.append(str(error)))
        page.add_init_script(STATUS_LOG_SCRIPT)
        page.goto(f"{stack.api_url}/")
        page.wait_for_function("() => document.body.dataset.state === 'ready'")

    def shoot(self, name: str) -> None:
        """The whole page as a PNG. Not ``full_page=True``: with Debian's Chromium 156 the
        next click after such a screenshot missed its button; a taller viewport does not."""
        viewport = self.page.viewport_size
        assert viewport is not None
        height = int(self.page.evaluate("document.documentElement.scrollHeight"))
        self.page.set_viewport_size({"width": viewport["width"], "height": height})
        self.page.screenshot(path=self.screenshots / f"{name}.png")
        self.page.set_viewport_size(viewport)

    def wait_until_settled(self) -> str:
        """Wait for the piece to be shown or an error; the state reached."""
        self.page.wait_for_function(
            "() => ['completed', 'error'].includes(document.body.dataset.state)",
            timeout=PIECE_TIMEOUT_MS,
        )
        return str(self.page.evaluate("document.body.dataset.state"))

    def error_text(self) -> str:
        return self.page.inner_text("#error") if self.page.is_visible("#error") else ""

    def horizontal_overflow(self) -> int:
        return int(
            self.page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
        )

    def status_log(self) -> list[str]:
        return list(self.page.evaluate("window.statusLog"))

    def accessibility_violations(self) -> str:
        """axe-core's WCAG 2 A/AA and best-practice rules on the page as it is now:
        one line per broken rule (labels, contrast, landmarks, ARIA…), empty when none."""
        results = Axe().run(self.page)
        return str(results.generate_snapshot())


@pytest.fixture
def studio(browser: Browser, stack: RunningStack, screenshots: Path) -> Iterator[Studio]:
    context = browser.new_context(viewport=DESKTOP)
    try:
        studio = Studio(context.new_page(), stack, screenshots)
        yield studio
    finally:
        context.close()
    assert studio.problems == [], "script errors on the page"


def note_ons(midi: mido.MidiFile) -> list[int]:
    """Pitches of every sounding note-on, read by mido (independent of the page's reader)."""
    return [
        msg.note
        for track in midi.tracks
        for msg in track
        if msg.type == "note_on" and msg.velocity > 0
    ]


def test_a_piece_composed_on_a_phone_is_drawn_and_its_midi_downloads(
    studio: Studio, stack: RunningStack
) -> None:
    page = studio.page
    page.set_viewport_size(PHONE)
    page.fill("#emotional-intent", "we won the championship tonight!")
    page.fill("#core-desire", "to remember this night forever")
    page.click("summary")
    page.fill("#bpm", "132")
    page.select_option("#genre", "rock")
    page.fill("#length-bars", "8")
    studio.shoot("1-form-filled-phone")
    assert studio.horizontal_overflow() <= 0
    page.click("#compose")
    page.wait_for_selector("#steps li.done")
    studio.shoot("2-progress-phone")

    assert studio.wait_until_settled() == "completed", studio.error_text()
    studio.shoot("3-piece-phone")
    assert studio.horizontal_overflow() <= 0, "a phone-size screen scrolls sideways"
    assert studio.accessibility_violations() == ""
    log = studio.status_log()
    assert any(line.startswith("Accepted") for line in log), log
    assert log[-1] == "Composed.", log
    assert page.locator("#steps li.done").count() == 3

    with page.expect_download() as download_info:
        page.click("#midi-download")
    download = download_info.value
    midi_bytes = Path(download.path()).read_bytes()
    request_id = download.suggested_filename.removeprefix("kmidi-").removesuffix(".mid")
    served = httpx.get(f"{stack.results_url}/v1/results/{request_id}/midi", timeout=10)
    assert midi_bytes == served.content
    midi = mido.MidiFile(file=io.BytesIO(midi_bytes))
    pitches = note_ons(midi)
    assert len(pitches) > 20

    drawn = page.locator("#roll svg rect.note")
    assert drawn.count() == len(pitches), "one rect per note of the file"
    box = page.locator("#roll svg").bounding_box()
    assert box is not None
    assert box["width"] > 300
    assert box["height"] > 100
    voiced = [track.name for track in midi.tracks if any(m.type == "note_on" for m in track)]
    legend = page.locator("#roll-legend li").all_inner_texts()
    assert [item.split(" (")[0].strip() for item in legend] == voiced
    label = page.get_attribute("#roll svg", "aria-label") or ""
    assert f"pitches {min(pitches)} to {max(pitches)}" in label, label

    assert "132 bpm" in page.inner_text("#plan")
    assert page.locator("#explanations li").count() >= 3
    evidence = page.locator("#evidence li").all_inner_texts()
    assert any(word in "we won the championship tonight! remember" for word in evidence), evidence

    origins = {stack.api_url, stack.results_url}
    outside = [url for url in studio.urls if not url.startswith(tuple(origins))]
    assert outside == [], "the page loads nothing from elsewhere"
    milliseconds = page.get_attribute("#roll", "data-milliseconds")
    print(f"MIDI read and drawn in the browser: {milliseconds} ms")


def test_the_keyboard_alone_submits_an_intent(studio: Studio) -> None:
    page = studio.page
    page.keyboard.press("Tab")  # the skip link comes first
    assert page.evaluate("document.activeElement.className") == "skip"
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "emotional-intent"
    page.keyboard.type("a quiet morning, calm and grateful")
    for _ in range(10):
        if page.evaluate("document.activeElement.id") == "compose":
            break
        page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "compose"
    studio.shoot("4-keyboard-focus-on-compose")
    page.keyboard.press("Enter")
    assert studio.wait_until_settled() == "completed", studio.error_text()
    notes = page.locator("#roll svg rect.note").count()
    assert notes > 0
    assert "#piece=" in page.url

    page.reload()  # the address names the piece: a reload shows it again
    assert studio.wait_until_settled() == "completed", studio.error_text()
    assert page.locator("#roll svg rect.note").count() == notes


def test_a_rejected_wish_is_explained_with_the_request_id(studio: Studio) -> None:
    page = studio.page
    page.fill("#emotional-intent", "I am feeling grief")
    page.click("summary")
    page.fill("#key", "H#")
    with page.expect_response(lambda r: r.url.endswith("/v1/generate")) as answer:
        page.click("#compose")
    response: Response = answer.value
    assert response.status == 422
    body: dict[str, Any] = response.json()
    assert studio.wait_until_settled() == "error"
    studio.shoot("5-error-422")
    assert studio.accessibility_violations() == ""
    text = studio.error_text()
    assert "cannot accept" in text, text
    assert body["error"]["message"] in text, text
    assert f"Request ID: {response.headers['x-request-id']}" in text, text


def test_a_lost_connection_is_explained_with_the_request_id(studio: Studio) -> None:
    page = studio.page
    page.fill("#emotional-intent", "I am feeling grief")
    page.context.set_offline(True)  # Chromium's own network stack refuses every request
    page.click("#compose")
    assert studio.wait_until_settled() == "error"
    studio.shoot("5b-error-offline")
    text = studio.error_text()
    assert f"Could not reach kmidi at {studio.stack.api_url}" in text, text
    assert re.search(r"Request ID: [0-9a-f]{32}", text), text


async def publish_intent(bootstrap: str, request_id: str, intent: dict[str, Any]) -> None:
    """An intent written straight to Kafka, as another system would: no ingress checks it."""
    event = {"schema": "kmidi.intent.v1", "request_id": request_id, "intent": intent}
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            INTENTS,
            json.dumps(event).encode(),
            key=request_id.encode(),
            headers=[(REQUEST_ID, request_id.encode()), (CONTENT_TYPE, JSON_CONTENT_TYPE.encode())],
        )
    finally:
        await producer.stop()


def test_a_failed_generation_named_in_the_address_is_explained(
    studio: Studio, stack: RunningStack
) -> None:
    request_id = f"studio-failed-{uuid.uuid4().hex[:10]}"
    intent = {"emotional_intent": "I am feeling grief", "technical": {"key": "H#"}}
    # In a thread of its own: Playwright's sync API keeps an event loop running in this one.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, publish_intent(stack.bootstrap, request_id, intent)).result()
    status_url = f"{stack.results_url}/v1/results/{request_id}"
    studio.page.goto(f"{stack.api_url}/#piece={quote(status_url, safe='')}")
    assert studio.wait_until_settled() == "error"
    studio.shoot("5c-error-failed-generation")
    text = studio.error_text()
    assert "The piece could not be made" in text, text
    assert "H#" in text, text
    assert f"Request ID: {request_id}" in text, text


def test_talking_it_through_composes_the_piece(studio: Studio) -> None:
    page = studio.page
    page.fill("#talk-message", "I lost my dad last spring")
    page.click("#talk-send")
    page.wait_for_selector("#conversation li.kmidi")
    studio.shoot("6-conversation-question")
    question = page.inner_text("#conversation li.kmidi")
    assert question.startswith("kmidi: ")
    assert len(question) > len("kmidi: ")
    for answer in ("I just want to feel him near, slow piano", "compose it"):
        page.fill("#talk-message", answer)
        page.click("#talk-compose")
        page.wait_for_function(
            "() => !document.getElementById('status').textContent.startsWith('kmidi is thinking')"
        )
        if page.evaluate("document.body.dataset.state") != "ready":
            break
    assert studio.wait_until_settled() == "completed", studio.error_text()
    studio.shoot("7-conversation-piece")
    assert studio.accessibility_violations() == ""
    assert page.locator("#roll svg rect.note").count() > 0
    assert "grief" in page.inner_text("#reading")


def test_the_rate_limit_is_explained_with_the_request_id(
    studio: Studio, stack: RunningStack
) -> None:
    # Use up this client's interrogation turns with plain HTTP, then send one from the page.
    for _ in range(INTERROGATE_LIMIT + 1):
        turn = httpx.post(
            f"{stack.api_url}/v1/interrogate",
            json={"message": "so anxious"},
            headers={"X-Request-ID": f"limit-{uuid.uuid4().hex[:12]}"},
            timeout=30,
        )
        if turn.status_code == 429:
            break
    assert turn.status_code == 429, turn.text
    page = studio.page
    page.fill("#talk-message", "I am nervous about tomorrow")
    page.click("#talk-send")
    page.wait_for_selector("#error:not([hidden])")
    studio.shoot("8-error-429")
    text = studio.error_text()
    assert "Too many requests" in text, text
    assert re.search(r"Request ID: [0-9a-f]{32}", text), text


def test_an_audio_piece_plays_in_the_page_and_its_audio_downloads(
    studio: Studio, stack: RunningStack
) -> None:
    page = studio.page
    page.fill("#emotional-intent", "a calm evening by the sea")
    page.click("summary")
    page.fill("#length-bars", "4")
    page.select_option("#output", "audio:ogg")
    page.click("#compose")
    assert studio.wait_until_settled() == "completed", studio.error_text()
    studio.shoot("9a-midi-shown-audio-maybe-still-rendering")
    page.wait_for_selector("#player", timeout=PIECE_TIMEOUT_MS)  # once the audio stage is done
    page.wait_for_function("() => document.getElementById('player').readyState >= 1")
    studio.shoot("9-audio")
    assert studio.accessibility_violations() == ""
    duration = float(page.evaluate("document.getElementById('player').duration"))
    assert page.evaluate("document.getElementById('player').error?.code ?? null") is None
    events_url = next(url for url in studio.urls if url.endswith("/events"))
    status = httpx.get(events_url.removesuffix("/events"), timeout=10).json()
    assert status["audio_status"] == "completed", status
    assert duration == pytest.approx(status["duration_seconds"], abs=0.1)

    with page.expect_download() as download_info:
        page.click("#audio-download")
    audio = Path(download_info.value.path()).read_bytes()
    assert audio[:4] == b"OggS"
    assert audio == httpx.get(f"{events_url.removesuffix('/events')}/audio", timeout=10).content
    # Saving leaves the page in place (a plain link would have opened the audio instead).
    assert studio.page.url.startswith(f"{stack.api_url}/#piece=")
    assert page.is_visible("#player")
