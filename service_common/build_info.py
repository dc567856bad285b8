"""``kmidi_build_info``: which build a process runs, as Prometheus' ``*_build_info`` idiom.

A gauge fixed at 1 whose labels carry the version (the installed distribution's, as
``kmidi --version`` prints), the git revision (``KMIDI_REVISION``, which the image sets
from its build argument; ``unknown`` elsewhere) and the Python version. A gauge rather than
prometheus-client's ``Info``: ``Info`` does not work in multiprocess mode, which the
ingress uses with ``API_WORKERS`` > 1.
"""

from __future__ import annotations

import os
import platform
from functools import cache
from importlib import metadata

from prometheus_client import Gauge

UNKNOWN = "unknown"


def build_labels() -> dict[str, str]:
    """version, revision and python of this process."""
    try:
        version = metadata.version("kmidi")
    except metadata.PackageNotFoundError:
        version = UNKNOWN
    return {
        "version": version,
        "revision": os.environ.get("KMIDI_REVISION") or UNKNOWN,
        "python": platform.python_version(),
    }


@cache
def build_info_gauge() -> Gauge:
    """Register ``kmidi_build_info`` once per process and set it; every service calls this."""
    labels = build_labels()
    gauge = Gauge(
        "kmidi_build_info",
        "1, labelled with the running kmidi version, git revision and Python version.",
        list(labels),
        multiprocess_mode="max",
    )
    gauge.labels(**labels).set(1)
    return gauge
