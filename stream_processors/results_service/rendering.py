"""Notes for ``?format=json``: re-rendered from the stored plan, not carried in events.

Rendering is deterministic, so the plan alone reproduces the piece; keeping note lists
out of the results topic keeps every result small. kmidi's renderer is looked up at call
time so this service runs (and answers 501 for notes) in builds that do not ship it.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Mapping
from typing import Any


class RendererUnavailableError(RuntimeError):
    """kmidi's renderer (``render_midi`` and ``Plan.from_dict``) is not importable."""


def _load() -> tuple[Callable[[Any], Any], Callable[[dict[str, Any]], Any]]:
    try:
        plan_module = importlib.import_module("kmidi.plan")
        from_dict = plan_module.Plan.from_dict
    except (ImportError, AttributeError) as exc:
        raise RendererUnavailableError("kmidi.plan.Plan.from_dict is not available") from exc
    for module_name in ("kmidi.render", "kmidi"):
        try:
            render = getattr(importlib.import_module(module_name), "render_midi", None)
        except ImportError:
            continue
        if callable(render):
            return render, from_dict
    raise RendererUnavailableError("kmidi.render_midi is not available in this build")


def renderer_available() -> bool:
    """Whether ``?format=json`` can list notes."""
    try:
        _load()
    except RendererUnavailableError:
        return False
    return True


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if hasattr(value, "_asdict"):
        return _plain(value._asdict())
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def render_notes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """Every note of the piece the plan describes, as JSON objects."""
    render, from_dict = _load()
    piece = render(from_dict(plan))
    notes = _plain(getattr(piece, "notes", None))
    if not isinstance(notes, list):
        raise RendererUnavailableError("kmidi's rendered piece carries no note list")
    return [note if isinstance(note, dict) else {"value": note} for note in notes]
