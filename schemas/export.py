"""Write the JSON Schema of every event to ``schemas/json/`` for other systems.

Run ``python -m schemas.export`` after changing a model; a test fails while the files are stale.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from schemas.events import EVENT_MODELS

JSON_DIR = Path(__file__).with_name("json")


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
    return 0


if __name__ == "__main__":
    sys.exit(main())
