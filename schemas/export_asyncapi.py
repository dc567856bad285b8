"""The AsyncAPI 3.0 document of every kmidi topic, built from the same sources as the code.

Channels come from ``schemas.topics`` (address, partitions, configs), messages from the
pydantic models in ``schemas.events`` (payloads reference the JSON Schema files that
``schemas.export`` writes to ``schemas/json/``), headers from ``schemas.headers``, keys from
the same request-ID pattern the models use. ``python -m schemas.export`` writes it to
``schemas/asyncapi/kmidi.asyncapi.json``; a unit test fails while the file is stale and
validates it with the AsyncAPI parser.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from pydantic import BaseModel

from schemas import api_keys, headers, topics
from schemas.events import (
    DEADLETTER_SCHEMA,
    EVENT_MODELS,
    IDEMPOTENCY_SCHEMA,
    INTENT_SCHEMA,
    INTERROGATION_REPLY_SCHEMA,
    INTERROGATION_SCHEMA,
    PLAN_SCHEMA,
    RESULT_SCHEMA,
)

ASYNCAPI_FILE: Final = "kmidi.asyncapi.json"
CONTRACT_VERSION: Final = "1.0.0"
"""The document's version. Topic and event names carry their major version (``.v1``)."""
KAFKA_BINDING_VERSION: Final = "0.5.0"
JSON_SCHEMA_FORMAT: Final = "application/schema+json;version=draft-07"
"""The JSON Schema format every AsyncAPI tool must read. pydantic's schemas use only
keywords that draft-07 shares with 2020-12 (``$defs`` is reached by JSON pointer)."""

TRACEPARENT_PATTERN: Final = r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$"


@dataclass(frozen=True, slots=True)
class Flow:
    """Who writes and reads a topic: the parts of kmidi whose code does, or other systems."""

    channel: str
    message: str
    key: str
    senders: tuple[str, ...]
    receivers: tuple[str, ...]


INGRESS: Final = "the ingress (producer_api)"
INTERROGATION: Final = "the worker's interrogation stage"
GENERATION: Final = "the worker's generation stage"
CONVERSATION: Final = "the worker's conversation stage"
AUDIO: Final = "the audio stage (its own worker and consumer group, kmidi-audio)"
RESULTS_SERVICE: Final = "the results service (materialised view)"
ANY_STAGE: Final = "any worker stage"
FAILED_ANYWHERE: Final = "any worker stage that fails a request (a `failed` result)"
EXTERNAL: Final = "other systems"
OPERATORS: Final = "operators inspecting or replaying them (docs/operations.md)"
IDEMPOTENCY_KEY: Final = "the API key's id and the Idempotency-Key (`<key id>:<key>`)"

FLOWS: Final[dict[str, Flow]] = {
    topics.INTENTS: Flow(
        "intents",
        INTENT_SCHEMA,
        "request_id",
        (INGRESS, EXTERNAL),
        (INTERROGATION, RESULTS_SERVICE),
    ),
    topics.PLANS: Flow(
        "plans", PLAN_SCHEMA, "request_id", (INTERROGATION,), (GENERATION, RESULTS_SERVICE)
    ),
    topics.RESULTS: Flow(
        "results",
        RESULT_SCHEMA,
        "request_id",
        (GENERATION, AUDIO, FAILED_ANYWHERE, RESULTS_SERVICE + ": tombstones on DELETE"),
        (RESULTS_SERVICE, EXTERNAL),
    ),
    topics.AUDIO_REQUESTS: Flow(
        "audioRequests",
        RESULT_SCHEMA,
        "request_id",
        (GENERATION + ", after the result itself",),
        (AUDIO,),
    ),
    topics.INTERROGATIONS: Flow(
        "interrogations", INTERROGATION_SCHEMA, "session_id", (INGRESS,), (CONVERSATION,)
    ),
    topics.INTERROGATION_REPLIES: Flow(
        "interrogationReplies",
        INTERROGATION_REPLY_SCHEMA,
        "session_id",
        (CONVERSATION,),
        (INGRESS,),
    ),
    topics.DEADLETTER: Flow(
        "deadLetters", DEADLETTER_SCHEMA, "the original message's key", (ANY_STAGE,), (OPERATORS,)
    ),
    topics.IDEMPOTENCY: Flow(
        "idempotencyClaims",
        IDEMPOTENCY_SCHEMA,
        IDEMPOTENCY_KEY,
        (INGRESS,),
        (INGRESS + ": every replica replays it (no consumer group)",),
    ),
}


def _camel(name: str) -> str:
    """``kmidi.interrogation-reply.v1`` -> ``interrogationReplyV1`` (a component key)."""
    words = name.removeprefix("kmidi.").replace("-", ".").split(".")
    return words[0] + "".join(word.capitalize() for word in words[1:])


def _config_value(name: str, value: str) -> Any:
    """Kafka topic configs as the Kafka channel binding types them."""
    if name == "cleanup.policy":
        return value.split(",")
    try:
        return int(value)
    except ValueError:
        return float(value)


def _channel(spec: topics.TopicSpec, flow: Flow, message_id: str) -> dict[str, Any]:
    configuration = {name: _config_value(name, value) for name, value in spec.configs.items()}
    configuration.setdefault("cleanup.policy", ["delete"])
    return {
        "address": spec.name,
        "title": spec.name,
        "description": f"{spec.description} Key: {flow.key}.",
        "messages": {message_id: {"$ref": f"#/components/messages/{message_id}"}},
        "bindings": {
            "kafka": {
                "topic": spec.name,
                "partitions": spec.partitions,
                "replicas": spec.replication_factor,
                "topicConfiguration": dict(sorted(configuration.items())),
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }


def _message(name: str, model: type[BaseModel], flow: Flow) -> dict[str, Any]:
    doc = (model.__doc__ or name).strip()
    key: dict[str, Any]
    if flow.channel == "deadLetters":
        key = {
            "type": ["string", "null"],
            "description": "The key of the message that could not be processed.",
        }
    elif flow.key == IDEMPOTENCY_KEY:
        key = {
            "type": "string",
            "minLength": 1,
            "description": f"{flow.key}: it keeps every record of one key on one partition.",
        }
    else:
        key = {
            "type": "string",
            "pattern": headers.REQUEST_ID_PATTERN.pattern,
            "description": f"The event's {flow.key}: it keeps one "
            f"{'request' if flow.key == 'request_id' else 'conversation'} on one partition.",
        }
    return {
        "name": name,
        "title": model.__name__,
        "summary": doc.splitlines()[0],
        "contentType": headers.JSON_CONTENT_TYPE,
        "headers": {"$ref": "#/components/schemas/kafkaHeaders"},
        "correlationId": {"$ref": "#/components/correlationIds/requestId"},
        "payload": {
            "schemaFormat": JSON_SCHEMA_FORMAT,
            "schema": {"$ref": f"../json/{name}.json"},
        },
        "bindings": {"kafka": {"key": key, "bindingVersion": KAFKA_BINDING_VERSION}},
    }


def _operations(flow: Flow, channel_id: str, message_id: str) -> dict[str, Any]:
    operations: dict[str, Any] = {}
    for action, parties in (("send", flow.senders), ("receive", flow.receivers)):
        operations[f"{action}{channel_id[0].upper()}{channel_id[1:]}"] = {
            "action": action,
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "summary": f"{'Written' if action == 'send' else 'Read'} by {', '.join(parties)}.",
            "messages": [{"$ref": f"#/channels/{channel_id}/messages/{message_id}"}],
        }
    return operations


def kafka_headers_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "description": "Kafka record headers, UTF-8 values. kmidi sets the first three on every "
        "message it writes; other producers should.",
        "properties": {
            headers.REQUEST_ID: {
                "type": "string",
                "pattern": headers.REQUEST_ID_PATTERN.pattern,
                "description": "The request ID (the key, for request-keyed topics).",
            },
            headers.TRACEPARENT: {
                "type": "string",
                "pattern": TRACEPARENT_PATTERN,
                "description": "W3C trace context; a new trace is started when it is absent.",
            },
            headers.CONTENT_TYPE: {"type": "string", "const": headers.JSON_CONTENT_TYPE},
            headers.API_KEY_ID: {
                "type": "string",
                "pattern": api_keys.KEY_ID_PATTERN.pattern,
                "description": "Optional: the public id of the API key that submitted the "
                "request (set by the ingress when it requires API keys, carried by the worker "
                "onto every record it writes for the request). The results service shows a "
                "request to that key only; a request without it, to no key.",
            },
        },
    }


def build_document() -> dict[str, Any]:
    """The AsyncAPI 3.0 document as a JSON-ready dict (deterministic: no timestamps)."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    specs = {spec.name: spec for spec in topics.TOPICS}
    if set(specs) != set(FLOWS):
        raise RuntimeError(f"topics without a flow: {sorted(set(specs) ^ set(FLOWS))}")
    for topic_name, spec in specs.items():
        flow = FLOWS[topic_name]
        message_id = _camel(flow.message)
        channels[flow.channel] = _channel(spec, flow, message_id)
        messages[message_id] = _message(flow.message, EVENT_MODELS[flow.message], flow)
        operations.update(_operations(flow, flow.channel, message_id))
    return {
        "asyncapi": "3.0.0",
        "id": "urn:kmidi:events",
        "info": {
            "title": "kmidi events",
            "version": CONTRACT_VERSION,
            "description": "The Kafka topics of kmidi: intents in, plans, results out, the "
            "refinement conversation and dead letters. Values are UTF-8 JSON; every value "
            "carries `schema` (its name and version) and `request_id`. Delivery is at "
            "least once: deduplicate results by key. Operations are described from kmidi's "
            "side; each says which part of kmidi (or which other system) sends or receives.",
            "license": {"name": "MIT"},
        },
        "defaultContentType": headers.JSON_CONTENT_TYPE,
        "servers": {
            "local": {
                "host": "127.0.0.1:9092",
                "protocol": "kafka",
                "protocolVersion": "3.9.2",
                "description": "The embedded broker of `kmidi up` (KAFKA_BOOTSTRAP_SERVERS "
                "points everything elsewhere).",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": messages,
            "schemas": {"kafkaHeaders": kafka_headers_schema()},
            "correlationIds": {
                "requestId": {
                    "description": "Every message of one request carries its request ID.",
                    "location": f"$message.header#/{headers.REQUEST_ID}",
                }
            },
        },
    }


def render_asyncapi() -> str:
    return json.dumps(build_document(), indent=2, ensure_ascii=False) + "\n"
