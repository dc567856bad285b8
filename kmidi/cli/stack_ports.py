"""The ports `kmidi up` gives its services, checked before any of them starts.

Each worker takes ``WORKER_METRICS_PORT + n`` and ``FAUST_WEB_PORT + n``, and the audio
worker the next of each, so two settings close together collide (9100 and 9101 with two
workers), and a port another program holds makes one service exit at start-up with only
"exited with code 1" to show for it. Checking first gives the reason and the setting to
change.
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

HOST_OF: Final[Mapping[str, tuple[str, str]]] = {
    "API_PORT": ("API_HOST", "127.0.0.1"),
    "RESULTS_PORT": ("RESULTS_HOST", "127.0.0.1"),
    "WORKER_METRICS_PORT": ("WORKER_METRICS_HOST", "0.0.0.0"),
    "FAUST_WEB_PORT": ("FAUST_WEB_HOST", "127.0.0.1"),
}
"""Each port setting, the setting of the address it is bound on and that one's default
(the services' own defaults)."""


@dataclass(frozen=True, slots=True)
class PortClaim:
    """One port a service will listen on, and the setting it comes from."""

    service: str
    variable: str
    host: str
    port: int

    def describe(self) -> str:
        return f"{self.service}'s {self.variable} {self.port}"


def claims_of(service: str, env: Mapping[str, str], variables: Iterable[str]) -> list[PortClaim]:
    """The ports ``service`` binds with ``env``; a port of 0 binds nothing (turned off)."""
    claims = []
    for variable in variables:
        port = int(env[variable])
        if port:
            host_variable, default_host = HOST_OF[variable]
            claims.append(PortClaim(service, variable, env.get(host_variable, default_host), port))
    return claims


def port_problem(claims: Iterable[PortClaim]) -> str | None:
    """Why the services cannot all listen as planned, or None when they can."""
    taken: dict[int, PortClaim] = {}
    for claim in claims:
        other = taken.setdefault(claim.port, claim)
        if other is not claim:
            return (
                f"{claim.describe()} is also {other.describe()}: each worker takes the next "
                "port after the one before it, and the audio worker the next after the last "
                f"worker; move {claim.variable} or {other.variable} apart"
            )
        if not _can_listen(claim.host, claim.port):
            return (
                f"port {claim.port} ({claim.describe()}) is already in use on {claim.host}: "
                f"stop what is listening there or set {claim.variable} to another port"
            )
    return None


def _can_listen(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As the servers bind: a port left in TIME_WAIT by an earlier run is free to them.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:  # another failure (an IPv6 host…) is the service's to report
            return exc.errno != errno.EADDRINUSE
    return True
