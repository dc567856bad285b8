"""The AsyncAPI document of kmidi's topics is current, complete and valid.

Valid means: the official AsyncAPI parser (npm ``@asyncapi/parser``, pinned by
``schemas/asyncapi/validator/package-lock.json``) parses it with no error or warning,
resolving the payload schemas it references in ``schemas/json/``. The parser runs in
Node.js; the test installs it once with ``npm ci`` into the kmidi cache
(``~/.cache/kmidi/asyncapi-parser-<lock hash>``, about 10 s), and runs offline after
that. Without ``node`` and ``npm`` it fails with an install hint: it never skips.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from kmidi.cli.broker import cache_dir
from schemas.events import EVENT_MODELS
from schemas.export import ASYNCAPI_DIR
from schemas.export_asyncapi import (
    ASYNCAPI_FILE,
    FLOWS,
    IDEMPOTENCY_KEY,
    build_document,
    render_asyncapi,
)
from schemas.headers import API_KEY_ID, CONTENT_TYPE, REQUEST_ID, REQUEST_ID_PATTERN, TRACEPARENT
from schemas.topics import TOPICS

DOCUMENT = ASYNCAPI_DIR / ASYNCAPI_FILE
VALIDATOR = ASYNCAPI_DIR / "validator"
INSTALL_HINT = (
    "the AsyncAPI parser runs in Node.js: install node and npm "
    "(Debian: apt-get install nodejs npm), then rerun; the test installs @asyncapi/parser "
    "itself with `npm ci` into the kmidi cache (network needed once)."
)


def test_committed_document_is_current() -> None:
    assert DOCUMENT.read_text(encoding="utf-8") == render_asyncapi(), (
        f"{DOCUMENT.relative_to(ASYNCAPI_DIR.parents[1])} is stale: run `make schemas` "
        "(python -m schemas.export) and commit the result"
    )


def test_every_topic_is_a_channel_with_its_configuration() -> None:
    document = build_document()
    channels = {channel["address"]: channel for channel in document["channels"].values()}
    assert set(channels) == {spec.name for spec in TOPICS}
    for spec in TOPICS:
        kafka = channels[spec.name]["bindings"]["kafka"]
        assert kafka["topic"] == spec.name
        assert kafka["partitions"] == spec.partitions
        assert kafka["replicas"] == spec.replication_factor
        configuration = kafka["topicConfiguration"]
        for name, value in spec.configs.items():
            given = configuration[name]
            text = ",".join(given) if isinstance(given, list) else str(given)
            assert text == value, (spec.name, name)


def test_every_operation_names_a_channel_and_both_directions_exist() -> None:
    document = build_document()
    for channel_id in document["channels"]:
        actions = {
            operation["action"]
            for operation in document["operations"].values()
            if operation["channel"]["$ref"] == f"#/channels/{channel_id}"
        }
        assert actions == {"send", "receive"}, channel_id
    assert {flow.channel for flow in FLOWS.values()} == set(document["channels"])


# -- the AsyncAPI parser -----------------------------------------------------------------


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"`{name}` not found: {INSTALL_HINT}")
    return found


@pytest.fixture(scope="module")
def parser_modules() -> Path:
    """node_modules with the locked @asyncapi/parser, installed once per lock file."""
    lock = (VALIDATOR / "package-lock.json").read_bytes()
    target = cache_dir() / f"asyncapi-parser-{hashlib.sha256(lock).hexdigest()[:12]}"
    modules = target / "node_modules"
    if (modules / "@asyncapi" / "parser" / "package.json").exists():
        return modules
    npm = _tool("npm")
    _tool("node")
    target.parent.mkdir(parents=True, exist_ok=True)
    # Install beside the target and rename, so a concurrent run never sees half a tree.
    staging = Path(tempfile.mkdtemp(prefix=".asyncapi-parser-", dir=target.parent))
    try:
        for name in ("package.json", "package-lock.json"):
            shutil.copy2(VALIDATOR / name, staging / name)
        result = subprocess.run(
            [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=staging,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
            env={**os.environ, "npm_config_update_notifier": "false"},
        )
        if result.returncode != 0:
            pytest.fail(f"npm ci of @asyncapi/parser failed:\n{result.stderr}\n{INSTALL_HINT}")
        try:
            staging.rename(target)
        except OSError:  # another run installed it first
            if not modules.exists():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return modules


def parse(modules: Path, *documents: Path) -> list[dict[str, Any]]:
    """The parser's report on each document (one Node.js process for all: ~2 s to start)."""
    node = _tool("node")
    result = subprocess.run(
        [node, str(VALIDATOR / "validate.cjs"), str(modules), *map(str, documents)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"the AsyncAPI parser crashed:\n{result.stderr}"
    reports = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert len(reports) == len(documents)
    return reports


def problems(report: dict[str, Any]) -> list[str]:
    """Errors (0) and warnings (1); information (2) and hints (3) are not problems."""
    return [
        f"{d['code']} at {d['path']}: {d['message']}"
        for d in report["diagnostics"]
        if d["severity"] <= 1
    ]


def aliased_fields(model: type[BaseModel]) -> list[str]:
    return sorted(field.alias or name for name, field in model.model_fields.items())


def dangling_payload(document: dict[str, Any]) -> None:
    message = document["components"]["messages"]["intentV1"]
    message["payload"]["schema"]["$ref"] = "../json/kmidi.nothing.v1.json"


def bad_binding(document: dict[str, Any]) -> None:
    document["channels"]["results"]["bindings"]["kafka"]["partitions"] = "six"


def missing_channel(document: dict[str, Any]) -> None:
    document["operations"]["sendPlans"]["channel"]["$ref"] = "#/channels/nowhere"


BREAKAGES = (dangling_payload, bad_binding, missing_channel)


def _broken_copy(directory: Path, break_it: Callable[[dict[str, Any]], None]) -> Path:
    """A copy of the document beside copies of the JSON Schemas, changed by ``break_it``."""
    shutil.copytree(ASYNCAPI_DIR.parent / "json", directory / "json")
    (directory / "asyncapi").mkdir()
    document = build_document()
    break_it(document)
    path = directory / "asyncapi" / ASYNCAPI_FILE
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def reports(
    parser_modules: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, dict[str, Any]]:
    """The parser's report on the committed document and on each broken copy of it."""
    documents = {"committed": DOCUMENT}
    for break_it in BREAKAGES:
        documents[break_it.__name__] = _broken_copy(
            tmp_path_factory.mktemp(break_it.__name__), break_it
        )
    return dict(zip(documents, parse(parser_modules, *documents.values()), strict=True))


def test_the_asyncapi_parser_accepts_the_document(reports: dict[str, dict[str, Any]]) -> None:
    report = reports["committed"]
    assert not problems(report), "\n".join(problems(report))
    assert report["channels"] is not None
    addresses = {channel["address"] for channel in report["channels"].values()}
    assert addresses == {spec.name for spec in TOPICS}
    for flow in FLOWS.values():
        channel = report["channels"][flow.channel]
        (message,) = channel["messages"].values()
        # What the parser resolved from schemas/json is what the pydantic model declares.
        model = EVENT_MODELS[flow.message]
        assert message["name"] == flow.message
        assert message["schemaConst"] == flow.message
        assert message["payloadProperties"] == aliased_fields(model)
        assert message["headerNames"] == sorted({REQUEST_ID, TRACEPARENT, CONTENT_TYPE, API_KEY_ID})
        assert message["contentType"] == "application/json"
        if flow.key == IDEMPOTENCY_KEY:  # an API key id and a client's key: no ID pattern
            assert message["keyPattern"] is None
        elif flow.key != "the original message's key":
            assert message["keyPattern"] == REQUEST_ID_PATTERN.pattern
        assert len(channel["operations"]) == 2


@pytest.mark.parametrize("breakage", [b.__name__ for b in BREAKAGES])
def test_the_parser_rejects_broken_documents(
    reports: dict[str, dict[str, Any]], breakage: str
) -> None:
    # The same check fails when it should: a dangling payload reference, a Kafka binding
    # with a wrong type, an operation on a channel that does not exist.
    assert problems(reports[breakage]), f"{breakage} was accepted"
