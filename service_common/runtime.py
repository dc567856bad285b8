"""Process-level tuning shared by the services."""

from __future__ import annotations

import gc
import os


def freeze_startup_objects() -> None:
    """Move every object alive after start-up out of the garbage collector's sight.

    The services import the music engine's lexicons and catalogues: over 100,000 container
    objects that live as long as the process. Each full collection walked all of them
    (about 50 ms on the reference machine) and the younger generations paid for them too;
    ``gc.freeze`` (made for long-lived servers) puts them in a permanent generation. Objects
    created afterwards are collected as usual.
    """
    if os.environ.get("KMIDI_GC_FREEZE", "1") == "0":
        return
    gc.collect()
    gc.freeze()
