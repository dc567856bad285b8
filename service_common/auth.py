"""API keys on the HTTP services: the bearer check, where they may listen, the OpenAPI note.

With ``KMIDI_API_KEYS_FILE`` set, every request to the ingress and the results service
needs ``Authorization: Bearer kmidi_<id>_<secret>`` except the probes, the metrics, the
API documents and the studio page's own files (:data:`OPEN_PATHS`). The check is a pure
ASGI middleware, not a route dependency, so a route added later is protected without
anyone remembering to, and an unknown path answers 401 rather than telling a stranger
which paths exist. It sits inside the request-ID layer (its 401 carries the ID, in the
``ErrorBody`` shape, and is counted and logged like any answer) and inside CORS (a browser
preflight carries no credentials and must still be answered).

The key file and its format: :mod:`schemas.api_keys`. A request that passed the check
carries the key's public id in ``request.scope["state"]["api_key_id"]``
(:func:`api_key_id_of`): the ingress counts rate limits per key and writes the id on the
Kafka records it publishes; the results service shows a request only to the key that
submitted it.

Without a keys file a service is anonymous, and then it may listen on the loopback
interface only unless ``KMIDI_ALLOW_ANONYMOUS=true`` says otherwise (:func:`bind_host`).
"""

from __future__ import annotations

import ipaddress
import logging
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from fastapi import FastAPI, Request
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from schemas.api_keys import ApiKey, KeysFile, KeysFileError
from service_common.http import error_response
from service_common.logging import request_id_var

log = logging.getLogger("kmidi.auth")

API_KEY_ID_STATE: Final = "api_key_id"
"""Key of the request scope's ``state`` holding the authenticated key's id."""
SECURITY_SCHEME: Final = "KmidiApiKey"
REALM: Final = 'Bearer realm="kmidi"'
OPEN_PATHS: Final = frozenset(
    {"/health", "/ready", "/live", "/metrics"}
    | {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
)
"""Answered without a key: probes and scrapes, and the public API documents."""
STUDIO_PATHS: Final = frozenset({"/"})
STUDIO_PREFIXES: Final = ("/studio/",)
"""The ingress's studio page and its scripts: static files, needed to type a key in."""
LOOPBACK_HOST: Final = "127.0.0.1"
ANY_HOST: Final = "0.0.0.0"
"""Where a service with keys listens by default (every interface), as before keys."""


def load_keys(path: Path | None) -> KeysFile | None:
    """The keys file a service must check requests against, or None (anonymous).

    Raises ``KeysFileError`` when the file is set but unusable: a service configured to
    require keys does not start without them.
    """
    if path is None:
        return None
    keys = KeysFile(path)
    if keys.world_readable:
        log.warning("the API keys file %s is readable by every user; chmod 600 it", path)
    return keys


def log_auth_mode(service: str, keys: KeysFile | None) -> None:
    """Say at start-up whether the service asks for keys (called from its lifespan, so
    that importing the app, as the OpenAPI export does, logs nothing)."""
    if keys is None:
        log.warning(
            "%s: no API keys (KMIDI_API_KEYS_FILE unset): anyone who reaches it can use it",
            service,
            extra={"auth": "anonymous"},
        )
        return
    try:
        active = sum(record.active for record in keys.keys().values())
    except KeysFileError as exc:
        log.error("%s: API keys file unusable: %s", service, exc)
        return
    log.info(
        "%s: API keys required (%d active in %s)",
        service,
        active,
        keys.path,
        extra={"auth": "api_keys", "active_keys": active},
    )


def api_key_id_of(request: Request) -> str | None:
    """The id of the key this request authenticated with; None when keys are off."""
    state = request.scope.get("state") or {}
    value = state.get(API_KEY_ID_STATE) if isinstance(state, dict) else None
    return value if isinstance(value, str) else None


# --------------------------------------------------------------------------- the check


@dataclass(frozen=True, slots=True)
class Denied:
    """Why a request gets no further, as the 401 says it."""

    message: str
    challenge: str


MISSING: Final = Denied(
    "this service requires an API key: send Authorization: Bearer <key> "
    "(`kmidi keys create NAME` makes one)",
    REALM,
)
MALFORMED: Final = Denied(
    "send the API key as Authorization: Bearer <key>", f'{REALM}, error="invalid_request"'
)
INVALID: Final = Denied(
    "the API key is not valid (unknown, wrong or revoked)", f'{REALM}, error="invalid_token"'
)


def authenticate(keys: KeysFile, authorization: str | None) -> ApiKey | Denied:
    """The key an ``Authorization`` header value presents, or why it is refused."""
    if authorization is None or not authorization.strip():
        return MISSING
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return MALFORMED
    record = keys.match(token)
    return INVALID if record is None else record


class BearerAuthMiddleware:
    """401 for a request without a valid key, unless its path is open; see the module."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        keys: KeysFile,
        open_paths: frozenset[str] = OPEN_PATHS,
        open_prefixes: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self.keys = keys
        self.open_paths = open_paths
        self.open_prefixes = open_prefixes
        self._last_file_error: str | None = None

    def is_open(self, path: str) -> bool:
        return path in self.open_paths or path.startswith(self.open_prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.is_open(str(scope.get("path", ""))):
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        request_id = state.get("request_id") or request_id_var.get() or uuid.uuid4().hex
        try:
            outcome = authenticate(self.keys, Headers(scope=scope).get("authorization"))
        except KeysFileError as exc:
            # Fail closed, and say it is the service's fault, not the client's key.
            if str(exc) != self._last_file_error:
                log.error("API keys unusable; refusing every request: %s", exc)
                self._last_file_error = str(exc)
            response = error_response(
                request_id,
                503,
                "auth_unavailable",
                "the service cannot check API keys right now; retry later",
                headers={"Retry-After": "5"},
            )
            await response(scope, receive, send)
            return
        self._last_file_error = None
        if isinstance(outcome, Denied):
            response = error_response(
                request_id,
                401,
                "unauthorized",
                outcome.message,
                headers={"WWW-Authenticate": outcome.challenge},
            )
            await response(scope, receive, send)
            return
        state[API_KEY_ID_STATE] = outcome.id
        await self.app(scope, receive, send)


def install_api_keys(
    app: FastAPI,
    keys: KeysFile | None,
    *,
    open_paths: frozenset[str] = OPEN_PATHS,
    open_prefixes: tuple[str, ...] = (),
) -> None:
    """Check keys on ``app`` (call before CORS and the request-ID layer are added, so they
    wrap it) and document the scheme in its OpenAPI document either way."""
    app.state.api_keys = keys
    if keys is not None:
        app.add_middleware(
            BearerAuthMiddleware, keys=keys, open_paths=open_paths, open_prefixes=open_prefixes
        )
    document_bearer_auth(app, lambda path: path in open_paths or path.startswith(open_prefixes))


# --------------------------------------------------------------------------- OpenAPI

_UNAUTHORIZED_EXAMPLES = {
    "missing": {"summary": "no key", "message": MISSING.message},
    "invalid": {"summary": "unknown, wrong or revoked key", "message": INVALID.message},
}


def _unauthorized_response() -> dict[str, Any]:
    return {
        "description": "No API key, or one that is unknown, wrong or revoked (a service "
        "with a keys file only).",
        "headers": {
            "WWW-Authenticate": {
                "description": 'Bearer realm="kmidi", with error="invalid_token" for a bad key',
                "schema": {"type": "string"},
            },
            "X-Request-ID": {
                "description": "The request ID (the client's when valid, else a new one).",
                "schema": {"type": "string"},
            },
        },
        "content": {
            "application/json": {
                "schema": {"$ref": "#/components/schemas/ErrorBody"},
                "examples": {
                    name: {
                        "summary": example["summary"],
                        "value": {
                            "request_id": "4bf92f3577b34da6a3ce929d0e0e4736",
                            "error": {"code": "unauthorized", "message": example["message"]},
                        },
                    }
                    for name, example in _UNAUTHORIZED_EXAMPLES.items()
                },
            }
        },
    }


def add_bearer_security(document: dict[str, Any], is_open: Callable[[str], bool]) -> None:
    """Declare the bearer scheme, and require it (with its 401) on every operation whose
    path is not open. The document describes a service *with* a keys file: that is how one
    listening beyond the loopback interface runs."""
    components = document.setdefault("components", {})
    components.setdefault("securitySchemes", {})[SECURITY_SCHEME] = {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "kmidi_<id>_<secret>",
        "description": "An API key from `kmidi keys create NAME`, required when the service "
        "has a keys file (KMIDI_API_KEYS_FILE). A service without one accepts anonymous "
        "requests and listens on 127.0.0.1 only, unless KMIDI_ALLOW_ANONYMOUS=true.",
    }
    assert "ErrorBody" in components.get("schemas", {}), "the 401 refers to ErrorBody"
    for path, operations in document.get("paths", {}).items():
        if is_open(path):
            continue
        for operation in operations.values():
            operation["security"] = [{SECURITY_SCHEME: []}]
            operation.setdefault("responses", {})["401"] = _unauthorized_response()


def document_bearer_auth(app: FastAPI, is_open: Callable[[str], bool]) -> None:
    """Make ``app.openapi()`` include :func:`add_bearer_security`."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            add_bearer_security(build(), is_open)
        assert app.openapi_schema is not None
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


# --------------------------------------------------------------------------- binding


class BindRefusedError(RuntimeError):
    """A service without API keys was asked to listen beyond the loopback interface."""


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or localhost."""
    value = host.strip().strip("[]").lower()
    if value == "localhost":
        return True
    try:
        return ipaddress.ip_address(value).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def bind_host(
    service: str,
    host: str | None,
    *,
    keys_file: Path | None,
    allow_anonymous: bool,
    host_variable: str,
) -> tuple[str, str]:
    """The address ``service`` listens on and the sentence to log about it.

    With a keys file: ``host`` or every interface. Without: ``host`` or the loopback
    interface; a ``host`` beyond it is refused (``BindRefusedError``) unless
    ``allow_anonymous``.
    """
    host = (host or "").strip() or None
    if keys_file is not None:
        chosen = host or ANY_HOST
        return chosen, f"{service} listens on {chosen}; API keys required ({keys_file})"
    if allow_anonymous:
        chosen = host or ANY_HOST
        return chosen, (
            f"{service} listens on {chosen} WITHOUT API keys (KMIDI_ALLOW_ANONYMOUS=true): "
            "anyone who reaches it can submit intents and read every result"
        )
    chosen = host or LOOPBACK_HOST
    if not is_loopback(chosen):
        raise BindRefusedError(
            f"{service}: refusing to listen on {chosen} without API keys: anyone who reaches "
            "it could submit intents and read every result. Set KMIDI_API_KEYS_FILE (make "
            f"keys with `kmidi keys create NAME`), or listen on 127.0.0.1 ({host_variable}), "
            "or set KMIDI_ALLOW_ANONYMOUS=true to allow anonymous access from the network "
            "on purpose."
        )
    return chosen, (
        f"{service} listens on {chosen} only: no API keys (KMIDI_API_KEYS_FILE unset), "
        "anonymous access from this machine"
    )


def listen_host_or_exit(
    service: str,
    host: str | None,
    *,
    keys_file: Path | None,
    allow_anonymous: bool,
    host_variable: str,
    logger: logging.Logger,
) -> str:
    """``bind_host`` for a service's entry point: the sentence logged (a warning when
    anonymous), or the refusal logged and printed and the process ended with status 2."""
    try:
        chosen, sentence = bind_host(
            service,
            host,
            keys_file=keys_file,
            allow_anonymous=allow_anonymous,
            host_variable=host_variable,
        )
    except BindRefusedError as exc:
        logger.critical(str(exc))
        print(exc, file=sys.stderr)
        sys.exit(2)
    logger.log(logging.WARNING if keys_file is None else logging.INFO, sentence)
    return chosen
