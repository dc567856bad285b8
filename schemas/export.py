"""Write the event contracts for other systems: the JSON Schema of every event to
``schemas/json/`` and the AsyncAPI document of every topic to ``schemas/asyncapi/``.

Run ``python -m schemas.export`` (``make schemas``) after changing a model or a topic; tests
fail while the files are stale.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from schemas.events import EVENT_MODELS
from schemas.export_asyncapi import ASYNCAPI_FILE, render_asyncapi

JSON_DIR = Path(__file__).with_name("json")
ASYNCAPI_DIR = Path(__file__).with_name("asyncapi")


def render_schemas() -> dict[str, str]:
    """File name → JSON Schema text (validation mode: what a producer may send)."""
    files: dict[str, str] = {}
    for name, model in EVENT_MODELS.items():
        schema = model.model_json_schema(by_alias=True, mode="validation")
        schema["$id"] = f"https://kmidi.dev/schemas/{name}.json"
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        files[f"{name}.json"] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    return files


def main() -> int:
    JSON_DIR.mkdir(exist_ok=True)
    for file_name, text in render_schemas().items():
        (JSON_DIR / file_name).write_text(text, encoding="utf-8")
        print(JSON_DIR / file_name)
    ASYNCAPI_DIR.mkdir(exist_ok=True)
    (ASYNCAPI_DIR / ASYNCAPI_FILE).write_text(render_asyncapi(), encoding="utf-8")
    print(ASYNCAPI_DIR / ASYNCAPI_FILE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
