"""The materialised view: every request's status, built from the three pipeline topics.

Pure and synchronous, so it can be tested without a broker: :meth:`ResultsView.apply`
takes one Kafka record and reports what changed. The only asynchronous part is waiting:
long-polls and event streams subscribe to an ID and are woken by ``apply``.

Owners. Each entry records the API key that owns it (``kmidi-api-key-id`` header; None
for a request that came without one). The owner is the key on the record that last
changed what the view shows for the request: the intent that created it, the plan that
moved it on, the result. A record of another owner that changes the entry (a client that
reused someone else's request ID) first drops everything the earlier owner's records put
there, and a record of another owner that changes nothing fills in nothing either, so an
entry never mixes two owners' data. With API keys on, the results service shows an entry
to its owner only (``routes``).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import json
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Final, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from schemas.api_keys import is_key_id
from schemas.events import (
    Artifact,
    ArtifactError,
    ArtifactKind,
    ErrorInfo,
    GenerationResult,
    IntentSubmitted,
    PlanReady,
    RequestId,
    Seed,
)
from schemas.headers import API_KEY_ID, is_valid_request_id
from schemas.http import AudioStatus, RequestStatus
from schemas.topics import INTENTS, PLANS, RESULTS
from service_common.kafka_headers import headers_to_dict, request_id_from_headers

_RENDERED_HEADER: Final = "kmidi-rendered"
"""Set by the interrogation stage on a plan whose result it publishes at the same time
(``stream_processors.stages.generation.RENDERED_HEADER``; not imported, so the view
does not load the music engine)."""
ENTRY_OVERHEAD_BYTES: Final = 2048
"""Memory of an entry besides its payload (the entry, its affect dict, the map's slot):
about 1.7 KB measured for kmidi's results, rounded up."""
TERMINAL: Final[frozenset[str]] = frozenset({"completed", "failed"})
_STAGE_RANK: Final[dict[str, int]] = {"accepted": 0, "processing": 1, "completed": 2, "failed": 2}


class Outcome(StrEnum):
    """What applying one record did; the ``outcome`` label of the events metric."""

    APPLIED = "applied"
    """The request's visible state changed."""
    DUPLICATE = "duplicate"
    """The same stage was seen before with the same content: nothing to show."""
    STALE = "stale"
    """An earlier stage arrived after a later one; only missing details were filled in."""
    DELETED = "deleted"
    """A tombstone on the compacted results topic removed the request."""
    INVALID = "invalid"
    """Not JSON, wrong schema, bad MIDI encoding, or no key where one is needed: skipped."""
    IGNORED = "ignored"
    """A record of a topic the view does not read."""


@dataclass(slots=True)
class RequestEntry:
    """What the view knows about one request."""

    request_id: str
    status: RequestStatus
    submitted_at: datetime | None = None
    updated_at: datetime | None = None
    seed: int | None = None
    duration_seconds: float | None = None
    error: ErrorInfo | None = None
    affect: dict[str, Any] | None = None
    output_format: Literal["midi", "audio"] = "midi"
    artifacts: tuple[Artifact, ...] = ()
    """Files in the artifact store; their bytes are served from there, not held here."""
    artifact_errors: tuple[ArtifactError, ...] = ()
    # Kept as deflated JSON, not as dicts: a parsed plan costs several times its JSON size
    # in Python objects, and only ?format=json ever needs it (deflate takes ~3x off).
    plan_zlib: bytes | None = None
    # Only for a result without a MIDI artifact (revision 1.0): deflated (level 1 halves
    # kmidi's MIDI in ~30 us), inflated for each download.
    midi_zlib: bytes | None = None
    midi_sha256: str | None = None
    version: int = 0
    """Bumped on every visible change, so a stream can tell it has already sent a state."""
    owner: str | None = None
    """The id of the API key that submitted the request; None for an anonymous one."""

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def is_settled(self) -> bool:
        """Nothing more is coming: finished, and no audio still being made."""
        return self.is_terminal and self.audio_status != "pending"

    def artifact(self, kind: ArtifactKind) -> Artifact | None:
        """The artifact of ``kind``, if the request has one."""
        return next((a for a in self.artifacts if a.kind == kind), None)

    @property
    def audio_status(self) -> AudioStatus | None:
        """None for a MIDI-only request; else pending, completed or failed."""
        if self.output_format != "audio":
            return None
        if self.artifact("audio") is not None:
            return "completed"
        if self.status == "failed" or any(e.kind == "audio" for e in self.artifact_errors):
            return "failed"
        return "pending"

    @property
    def has_midi(self) -> bool:
        return self.midi_zlib is not None or self.artifact("midi") is not None

    def plan(self) -> dict[str, Any] | None:
        """The musical plan, parsed on demand."""
        if self.plan_zlib is None:
            return None
        parsed: dict[str, Any] = json.loads(zlib.decompress(self.plan_zlib))
        return parsed

    @property
    def midi(self) -> bytes | None:
        """The MIDI bytes of a result without a MIDI artifact (else: the store has them)."""
        return None if self.midi_zlib is None else zlib.decompress(self.midi_zlib)

    @property
    def payload_bytes(self) -> int:
        """Bytes of MIDI and plan held for this request (the bulk of its memory)."""
        return len(self.midi_zlib or b"") + len(self.plan_zlib or b"")

    @property
    def memory_bytes(self) -> int:
        """Estimated memory of the entry: its payload and a fixed per-entry overhead."""
        return self.payload_bytes + ENTRY_OVERHEAD_BYTES


@dataclass(frozen=True, slots=True)
class Applied:
    """The effect of one record on the view."""

    topic: str
    outcome: Outcome
    request_id: str | None = None
    previous: RequestStatus | None = None
    status: RequestStatus | None = None
    first_result: bool = False
    """This record moved the request to completed/failed for the first time."""
    submitted_at: datetime | None = None
    evicted: int = 0
    reason: str | None = None


def _encode_plan(plan: dict[str, Any] | None) -> bytes | None:
    if plan is None:
        return None
    # orjson: the plan is the largest part of every plan and result record, and
    # json.dumps of it was half the cost of applying one (docs/performance.md).
    return zlib.compress(orjson.dumps(plan), 1)


class _PlanStatus(BaseModel):
    """What the view takes from a ``PlanReady`` whose result carries the same plan.

    A plan marked ``kmidi-rendered`` is published together with its result, which holds
    the same plan document; the view skips the plan (and the intent) inside it instead of
    building Python objects for them. Other plans are read whole (``PlanReady``).
    """

    model_config = ConfigDict(extra="ignore")

    schema_: Literal["kmidi.plan.v1"] = Field(alias="schema")
    request_id: RequestId
    seed: Seed
    affect: dict[str, Any]
    submitted_at: datetime
    planned_at: datetime


@dataclass(slots=True)
class ResultsView:
    """Requests by ID, least recently used first, bounded by ``max_entries`` and ``max_bytes``.

    ``max_bytes`` bounds the estimated memory of all entries (payload plus
    ``ENTRY_OVERHEAD_BYTES`` each), so the view does not grow with the topics' history
    whatever the size of the pieces; the newest entry is always kept.
    """

    max_entries: int
    max_bytes: int | None = None
    _entries: OrderedDict[str, RequestEntry] = field(default_factory=OrderedDict)
    _waiters: dict[str, set[asyncio.Event]] = field(default_factory=dict)
    _deleted: OrderedDict[str, None] = field(default_factory=OrderedDict)
    """IDs whose result was deleted (tombstone), at most ``max_entries``: their intents and
    plans, still on their topics until retention, must not bring them back on a replay."""
    payload_bytes: int = 0
    """MIDI and plan bytes held by all entries, for the memory gauge."""

    def __post_init__(self) -> None:
        if self.max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        if self.max_bytes is not None and self.max_bytes < 1:
            raise ValueError("max_bytes must be at least 1")

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, request_id: object) -> bool:
        return request_id in self._entries

    # -- reading ---------------------------------------------------------------------------

    def get(self, request_id: str) -> RequestEntry | None:
        """The request's entry, marked as recently used."""
        entry = self._entries.get(request_id)
        if entry is not None:
            self._entries.move_to_end(request_id)
        return entry

    def peek(self, request_id: str) -> RequestEntry | None:
        """The request's entry without touching its recency."""
        return self._entries.get(request_id)

    # -- writing ---------------------------------------------------------------------------

    def apply(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: Iterable[tuple[str, bytes | None]] | None = None,
    ) -> Applied:
        """Fold one record of ``topic`` into the view and say what it changed."""
        if topic not in (INTENTS, PLANS, RESULTS):
            return Applied(topic, Outcome.IGNORED, reason="unknown_topic")
        if value is None:
            return self._apply_tombstone(topic, key)
        header_dict = headers_to_dict(headers)
        header_id = request_id_from_headers(header_dict)
        owner = header_dict.get(API_KEY_ID)
        owner = owner if is_key_id(owner) else None
        try:
            if topic == INTENTS:
                return self._apply_intent(IntentSubmitted.model_validate_json(value), owner)
            if topic == PLANS:
                if _RENDERED_HEADER in header_dict:
                    return self._apply_plan(_PlanStatus.model_validate_json(value), owner)
                return self._apply_plan(PlanReady.model_validate_json(value), owner)
            return self._apply_result(GenerationResult.model_validate_json(value), owner)
        except ValidationError as exc:
            reason = "not_json" if _is_json_error(exc) else "schema_invalid"
            return Applied(topic, Outcome.INVALID, request_id=header_id, reason=reason)
        except (binascii.Error, ValueError):
            return Applied(topic, Outcome.INVALID, request_id=header_id, reason="bad_midi_base64")

    def _apply_tombstone(self, topic: str, key: bytes | None) -> Applied:
        request_id = key.decode("utf-8", errors="replace") if key else None
        if topic != RESULTS or not is_valid_request_id(request_id):
            return Applied(topic, Outcome.INVALID, request_id=None, reason="tombstone")
        assert request_id is not None
        self._remember_deleted(request_id)
        entry = self._entries.pop(request_id, None)
        if entry is None:
            return Applied(topic, Outcome.DUPLICATE, request_id=request_id)
        self.payload_bytes -= entry.payload_bytes
        self._notify(request_id)
        return Applied(topic, Outcome.DELETED, request_id=request_id, previous=entry.status)

    def _remember_deleted(self, request_id: str) -> None:
        self._deleted[request_id] = None
        self._deleted.move_to_end(request_id)
        while len(self._deleted) > self.max_entries:
            self._deleted.popitem(last=False)

    def _apply_intent(self, event: IntentSubmitted, owner: str | None) -> Applied:
        if event.request_id in self._deleted:
            return Applied(INTENTS, Outcome.STALE, request_id=event.request_id, reason="deleted")
        entry, created = self._entry(event.request_id, "accepted", owner)
        previous = None if created else entry.status
        if entry.owner != owner:
            # Another owner's intent for a known request changes nothing shown: it fills
            # in nothing either (its seed is not this owner's).
            outcome = Outcome.DUPLICATE if entry.status == "accepted" else Outcome.STALE
            return self._unchanged(INTENTS, entry, outcome)
        if entry.submitted_at is None:
            entry.submitted_at = event.submitted_at
        if entry.seed is None:
            entry.seed = event.seed
        if created:
            entry.updated_at = event.submitted_at
            entry.output_format = event.output_format
            return self._changed(INTENTS, entry, previous)
        outcome = Outcome.DUPLICATE if entry.status == "accepted" else Outcome.STALE
        return self._unchanged(INTENTS, entry, outcome)

    def _apply_plan(self, event: PlanReady | _PlanStatus, owner: str | None) -> Applied:
        if event.request_id in self._deleted:
            return Applied(PLANS, Outcome.STALE, request_id=event.request_id, reason="deleted")
        entry, created = self._entry(event.request_id, "processing", owner)
        previous = None if created else entry.status
        if entry.owner != owner:
            if _STAGE_RANK[entry.status] >= _STAGE_RANK["processing"]:
                outcome = Outcome.DUPLICATE if entry.status == "processing" else Outcome.STALE
                return self._unchanged(PLANS, entry, outcome)
            self._give_to(entry, owner)  # it moves the request on: the plan's owner's now
        if entry.submitted_at is None:
            entry.submitted_at = event.submitted_at
        if entry.seed is None:
            entry.seed = event.seed
        # A result's plan is the one that was played; a plan event only fills a gap.
        if entry.plan_zlib is None and isinstance(event, PlanReady):
            self.payload_bytes -= entry.payload_bytes
            entry.plan_zlib = _encode_plan(event.plan)
            self.payload_bytes += entry.payload_bytes
        if entry.affect is None:
            entry.affect = event.affect
        if created or _STAGE_RANK[entry.status] < _STAGE_RANK["processing"]:
            entry.status = "processing"
            entry.updated_at = event.planned_at
            return self._changed(PLANS, entry, previous)
        outcome = Outcome.DUPLICATE if entry.status == "processing" else Outcome.STALE
        return self._unchanged(PLANS, entry, outcome)

    def _apply_result(self, event: GenerationResult, owner: str | None) -> Applied:
        midi_artifact = event.artifact("midi")
        midi = None
        if midi_artifact is None and event.midi_base64:
            midi = base64.b64decode(event.midi_base64, validate=True)
        digest = midi_artifact.sha256 if midi_artifact else _sha256(midi)
        artifacts, errors = tuple(event.artifacts), tuple(event.artifact_errors)
        self._deleted.pop(event.request_id, None)  # a result after a delete is a new one
        entry, created = self._entry(event.request_id, event.status, owner)
        previous = None if created else entry.status
        if entry.owner != owner:
            self._give_to(entry, owner)  # a result replaces the request: it is its owner's
        elif (
            not created
            and entry.is_terminal
            and (entry.status, entry.midi_sha256, entry.error, entry.artifacts)
            == (event.status, digest, event.error, artifacts)
            and entry.artifact_errors == errors
        ):
            # A replay of the same deterministic result (at-least-once delivery): keep the
            # first one's timestamps so clients and ETags see nothing move.
            return self._unchanged(RESULTS, entry, Outcome.DUPLICATE)
        # A different result for a finished request replaces it (last one wins), which is
        # what compaction keeps, so every replica and every restart converges on it.
        first = previous not in TERMINAL
        self.payload_bytes -= entry.payload_bytes
        entry.status = event.status
        entry.updated_at = event.completed_at
        entry.submitted_at = event.submitted_at or entry.submitted_at
        entry.seed = event.seed if event.seed is not None else entry.seed
        entry.duration_seconds = event.duration_seconds
        entry.error = event.error
        entry.affect = event.affect if event.affect is not None else entry.affect
        if event.plan is not None:
            entry.plan_zlib = _encode_plan(event.plan)
        entry.midi_zlib = None if midi is None else zlib.compress(midi, 1)
        entry.midi_sha256 = digest
        entry.output_format = event.output_format
        entry.artifacts, entry.artifact_errors = artifacts, errors
        self.payload_bytes += entry.payload_bytes
        return self._changed(RESULTS, entry, previous, first_result=first)

    # -- helpers ---------------------------------------------------------------------------

    def _entry(
        self, request_id: str, status: RequestStatus, owner: str | None
    ) -> tuple[RequestEntry, bool]:
        entry = self._entries.get(request_id)
        if entry is not None:
            self._entries.move_to_end(request_id)
            return entry, False
        entry = RequestEntry(request_id=request_id, status=status, owner=owner)
        self._entries[request_id] = entry
        return entry, True

    def _give_to(self, entry: RequestEntry, owner: str | None) -> None:
        """Hand ``entry`` to ``owner``, dropping all the earlier owner's records put in it
        (status aside, which the caller sets); its version keeps counting up."""
        self.payload_bytes -= entry.payload_bytes
        fresh = RequestEntry(request_id=entry.request_id, status=entry.status, owner=owner)
        for name in RequestEntry.__slots__:
            if name not in ("request_id", "status", "version"):
                setattr(entry, name, getattr(fresh, name))

    @property
    def memory_bytes(self) -> int:
        """Estimated memory of all entries (what ``max_bytes`` bounds)."""
        return self.payload_bytes + len(self._entries) * ENTRY_OVERHEAD_BYTES

    def _over_bounds(self) -> bool:
        if len(self._entries) > self.max_entries:
            return True
        return (
            self.max_bytes is not None
            and len(self._entries) > 1
            and self.memory_bytes > self.max_bytes
        )

    def _evict(self) -> int:
        evicted = 0
        while self._over_bounds():
            request_id, entry = self._entries.popitem(last=False)
            self.payload_bytes -= entry.payload_bytes
            self._notify(request_id)
            evicted += 1
        return evicted

    def _changed(
        self,
        topic: str,
        entry: RequestEntry,
        previous: RequestStatus | None,
        *,
        first_result: bool = False,
    ) -> Applied:
        entry.version += 1
        self._notify(entry.request_id)
        return Applied(
            topic,
            Outcome.APPLIED,
            request_id=entry.request_id,
            previous=previous,
            status=entry.status,
            first_result=first_result,
            submitted_at=entry.submitted_at,
            evicted=self._evict(),
        )

    def _unchanged(self, topic: str, entry: RequestEntry, outcome: Outcome) -> Applied:
        return Applied(
            topic,
            outcome,
            request_id=entry.request_id,
            previous=entry.status,
            status=entry.status,
            submitted_at=entry.submitted_at,
        )

    # -- waiting ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def subscribe(self, request_id: str) -> Iterator[asyncio.Event]:
        """An event set whenever the request changes (or appears, or goes away)."""
        event = asyncio.Event()
        self._waiters.setdefault(request_id, set()).add(event)
        try:
            yield event
        finally:
            waiters = self._waiters.get(request_id)
            if waiters is not None:
                waiters.discard(event)
                if not waiters:
                    del self._waiters[request_id]

    def waiter_count(self) -> int:
        """How many long-polls and streams are waiting right now."""
        return sum(len(waiters) for waiters in self._waiters.values())

    def _notify(self, request_id: str) -> None:
        for event in self._waiters.get(request_id, ()):
            event.set()

    async def wait_until(
        self,
        request_id: str,
        done: Callable[[RequestEntry | None], bool],
        timeout: float,
    ) -> RequestEntry | None:
        """Wait up to ``timeout`` seconds for ``done(entry)``; return the entry either way."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        with self.subscribe(request_id) as changed:
            while True:
                entry = self.peek(request_id)
                remaining = deadline - loop.time()
                if done(entry) or remaining <= 0:
                    return self.get(request_id)
                changed.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), remaining)


def _sha256(data: bytes | None) -> str | None:
    return None if data is None else hashlib.sha256(data).hexdigest()


def _is_json_error(exc: ValidationError) -> bool:
    return any(error["type"] in ("json_invalid", "json_type") for error in exc.errors())
