"""Benchmark: CPU per put of the local artifact store, one directory per request (before)
against 256 shard directories made once (after).

    .venv/bin/python bench/bench_artifact_store.py [--puts 1000] [--rounds 10]
        [--size 9000] [--dir /tmp] [--block 50] [--deleted 0]

Each round puts ``--puts`` distinct requests' files of ``--size`` random bytes (a MIDI
file is about 9 kB) with three stores, each in a fresh root under ``--dir``: the old
layout, the sharded one, and the sharded one into a root already filled with as many
other requests (untimed: its shards exist, as in a store that has been running for a
while). Their puts are interleaved ``--block`` at a time in rotating order, so that a
change in the machine's state during a round reaches every variant. CPU time is
``time.process_time`` (user and system) around the puts only.

Why the swings: ext4 without a journal (``/dev/vda`` here) has its inode allocator skip
inodes freed lately, reading the inode of every free slot it passes to find out
(``recently_deleted``, seen with ``perf record``). After many deletions nearby (another
test's temporary directories, an expiry sweep, this script's own clean-up) every file or
directory created can cost ten or more times as much CPU. ``--deleted N`` deletes N files
just before each round's puts to measure that state on purpose. A file system of its own
(a loop device: ``truncate -s 4G img; mkfs.ext4 img; mount -o loop img /mnt``, then
``--dir /mnt``) gives steady figures.

Printed: microseconds of CPU per put of each (median of the rounds, and the range) and
the median over the rounds of its ratio to the old layout in the same round. Nothing
here is a test.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from schemas.events import Artifact, ArtifactKind
from stream_processors.artifacts import LocalArtifactStore, artifact_name, check_request_id


class OldLocalArtifactStore:
    """The put of the former layout: ``<root>/<request_id>/<name>``, one mkdir per request."""

    def __init__(self, root: Path) -> None:
        self.root = root.expanduser().resolve()

    def put(
        self, request_id: str, kind: ArtifactKind, data: bytes, *, media_type: str, suffix: str
    ) -> Artifact:
        """As ``LocalArtifactStore.put`` was before the shards."""
        digest = hashlib.sha256(data).hexdigest()
        directory = self.root / check_request_id(request_id)
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / artifact_name(kind, digest, suffix)
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".tmp-", delete=False) as tmp:
            tmp.write(data)
        os.replace(tmp.name, path)
        return Artifact(
            kind=kind, media_type=media_type, size=len(data), sha256=digest, uri=path.as_uri()
        )


Store = OldLocalArtifactStore | LocalArtifactStore
VARIANTS = ("old", "new, fresh root", "new, shards made")


def _put_block(store: Store, tag: str, block: list[tuple[int, bytes]]) -> float:
    """CPU seconds of one put for each request of ``block``."""
    started = time.process_time()
    for number, data in block:
        store.put(f"{tag}-{number}", "midi", data, media_type="audio/midi", suffix=".mid")
    return time.process_time() - started


def _stores(number: int, parent: Path, payloads: list[bytes]) -> dict[str, Store]:
    """A round's stores in fresh roots; the last one filled once already (untimed)."""
    stores: dict[str, Store] = {
        "old": OldLocalArtifactStore(parent / f"{number}-old"),
        "new, fresh root": LocalArtifactStore(parent / f"{number}-new"),
        "new, shards made": LocalArtifactStore(parent / f"{number}-warm"),
    }
    _put_block(stores["new, shards made"], "fill", list(enumerate(payloads)))
    return stores


def _delete_files(directory: Path, count: int) -> None:
    """Create and delete ``count`` empty files: inodes ext4 will skip for a while."""
    directory.mkdir()
    for number in range(count):
        (directory / str(number)).touch()
    shutil.rmtree(directory)


def _round(
    number: int, payloads: list[bytes], parent: Path, args: argparse.Namespace
) -> dict[str, float]:
    """Microseconds of CPU per put of each variant, their puts interleaved by blocks."""
    block = args.block
    stores = _stores(number, parent, payloads)
    if args.deleted:
        _delete_files(parent / f"{number}-deleted", args.deleted)
    cpu = dict.fromkeys(VARIANTS, 0.0)
    numbered = list(enumerate(payloads))
    for start in range(0, len(numbered), block):
        # Rotated so that no variant always comes first after a change of the disk's state.
        order = VARIANTS[start // block % 3 :] + VARIANTS[: start // block % 3]
        for name in order:
            cpu[name] += _put_block(stores[name], f"r{number}", numbered[start : start + block])
    return {name: seconds / len(payloads) * 1e6 for name, seconds in cpu.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--puts", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--size", type=int, default=9000)
    parser.add_argument("--dir", type=Path, default=Path("/tmp"))
    parser.add_argument("--block", type=int, default=50, help="puts in a row of one variant")
    parser.add_argument(
        "--deleted", type=int, default=0, help="files deleted just before each round's puts"
    )
    args = parser.parse_args()
    payloads = [os.urandom(args.size) for _ in range(args.puts)]
    # Everything is deleted at the end: a delete between rounds would load the next one.
    parent = Path(tempfile.mkdtemp(prefix="kmidi-bench-", dir=args.dir))
    try:
        rounds = [_round(number, payloads, parent, args) for number in range(args.rounds)]
    finally:
        shutil.rmtree(parent)
    _report(rounds, args)


def _report(rounds: list[dict[str, float]], args: argparse.Namespace) -> None:
    """Each variant's median CPU per put, its range, and its median ratio to the old one."""
    medians = {name: statistics.median(r[name] for r in rounds) for name in rounds[0]}
    print(
        f"{args.puts} puts of {args.size} B per round, {args.rounds} rounds, under {args.dir}, "
        f"{args.deleted} files deleted before each round"
    )
    for name, median in medians.items():
        low, high = min(r[name] for r in rounds), max(r[name] for r in rounds)
        ratio = statistics.median(r[name] / r["old"] for r in rounds)
        print(f"{name:18} {median:7.1f} µs CPU/put ({low:.1f}-{high:.1f})  x{ratio:.2f} of old")


if __name__ == "__main__":
    main()
