"""The committed OpenAPI documents of both HTTP services are current and valid.

``schemas/openapi/ingress.openapi.json`` and ``results.openapi.json`` are what FastAPI's
``app.openapi()`` returns for ``producer_api.main:app`` and
``stream_processors.results_service.main:app``; each is generated in a child process of
its own (the apps configure logging and register metrics when imported) with an empty
environment, so local settings cannot leak into them. Regenerate after changing a route:

    .venv/bin/python -m tests.unit.test_openapi

The documents are validated by ``openapi-spec-validator`` (OpenAPI 3.1 meta-schema plus
its semantic checks: unique operation IDs, path parameters declared, references resolve).
This module lives in the tests, not in ``schemas``, because ``schemas`` never imports
the services.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import OpenAPIV31SpecValidator

from tests.python_child import child_output

ROOT = Path(__file__).resolve().parents[2]
OPENAPI_DIR = ROOT / "schemas" / "openapi"
APPS: dict[str, str] = {
    "ingress": "producer_api.main",
    "results": "stream_processors.results_service.main",
}

_DUMP = (
    "import importlib, json, sys, warnings\n"
    "warnings.simplefilter('ignore')\n"  # FastAPI warns about what the validator reports
    "app = importlib.import_module(sys.argv[1]).app\n"
    "print(json.dumps(app.openapi(), indent=2, sort_keys=True, ensure_ascii=False))\n"
)


def document_path(service: str) -> Path:
    return OPENAPI_DIR / f"{service}.openapi.json"


def render_openapi(service: str) -> str:
    """The OpenAPI document ``service``'s app builds, as committed (JSON text)."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(Path.home()),
        # FastAPI names a route's operation after one method picked from a set, so with
        # the results service's GET+HEAD route the name changes with string hashing.
        "PYTHONHASHSEED": "0",
    }
    return child_output(_DUMP, APPS[service], env=env, what=f"building {service}'s OpenAPI")


@pytest.fixture(scope="module")
def rendered() -> dict[str, str]:
    return {service: render_openapi(service) for service in APPS}


@pytest.mark.parametrize("service", list(APPS))
def test_committed_document_is_current(rendered: dict[str, str], service: str) -> None:
    committed = document_path(service).read_text(encoding="utf-8")
    assert committed == rendered[service], (
        f"schemas/openapi/{service}.openapi.json is stale: run "
        "`.venv/bin/python -m tests.unit.test_openapi` and commit the result"
    )


def validation_errors(document: dict[str, Any]) -> list[str]:
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in OpenAPIV31SpecValidator(document).iter_errors()
    ]


def load(service: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(document_path(service).read_text(encoding="utf-8"))
    return document


def test_ingress_document_is_valid_openapi() -> None:
    assert not validation_errors(load("ingress"))


def test_results_document_is_valid_openapi() -> None:
    assert not validation_errors(load("results"))


def test_results_document_fails_only_on_the_known_duplicate_operation_id() -> None:
    # Until the route is split, the one known problem must stay the only one.
    errors = validation_errors(load("results"))
    assert all("is not unique" in error for error in errors), errors


def test_the_validator_rejects_broken_documents() -> None:
    document = load("ingress")
    path, operations = next(iter(document["paths"].items()))
    method, operation = next(iter(operations.items()))
    broken = json.loads(json.dumps(document))
    broken["paths"]["/copy"] = {method: dict(operation)}  # same operationId twice
    assert any("is not unique" in error for error in validation_errors(broken)), path
    broken = json.loads(json.dumps(document))
    del broken["info"]
    assert validation_errors(broken)


def test_documents_describe_the_documented_routes() -> None:
    ingress, results = load("ingress"), load("results")
    assert "post" in ingress["paths"]["/v1/generate"]
    assert "202" in ingress["paths"]["/v1/generate"]["post"]["responses"]
    assert {"get", "head"} <= set(results["paths"]["/v1/results/{request_id}/midi"])
    assert "get" in results["paths"]["/v1/results/{request_id}"]
    for document in (ingress, results):
        assert document["openapi"].startswith("3.1.")
        assert {"/live", "/ready", "/metrics"} <= set(document["paths"])


def main() -> int:
    OPENAPI_DIR.mkdir(exist_ok=True)
    for service in APPS:
        document_path(service).write_text(render_openapi(service), encoding="utf-8")
        print(document_path(service))
    return 0


if __name__ == "__main__":
    sys.exit(main())
