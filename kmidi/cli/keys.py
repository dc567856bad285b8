"""``kmidi keys create|list|revoke``: the API keys of the ingress and the results service.

The keys file is ``$KMIDI_API_KEYS_FILE`` (or ``--file``), the one the services read
(format and hashing: ``schemas.api_keys``). ``create`` prints the new key once, alone on
stdout so that ``KEY=$(kmidi keys create studio)`` works, and stores only its hash. A
running service sees a revocation with its next request; nothing needs restarting.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from schemas.api_keys import KeysFileError, create_key, read_keys, revoke_key

FILE_VARIABLE = "KMIDI_API_KEYS_FILE"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keys = subparsers.add_parser(
        "keys", help=f"API keys of the HTTP services (the file ${FILE_VARIABLE})"
    )
    actions = keys.add_subparsers(dest="action", required=True, metavar="ACTION")
    file_help = f"the keys file (default: ${FILE_VARIABLE})"

    create = actions.add_parser("create", help="make a key; it is printed once, only its hash kept")
    create.add_argument("name", help="what the key is for, e.g. studio or billing-service")
    create.add_argument("--file", type=Path, default=None, help=file_help)
    create.set_defaults(handler=_create)

    listing = actions.add_parser("list", help="the keys: id, name, created, active or revoked")
    listing.add_argument("--file", type=Path, default=None, help=file_help)
    listing.set_defaults(handler=_list)

    revoke = actions.add_parser(
        "revoke", help="revoke a key by its id; running services refuse it at once"
    )
    revoke.add_argument("id", help="the key's id (`kmidi keys list`)")
    revoke.add_argument("--file", type=Path, default=None, help=file_help)
    revoke.set_defaults(handler=_revoke)


def _keys_file(args: argparse.Namespace) -> Path | None:
    if args.file is not None:
        return Path(args.file)
    value = os.environ.get(FILE_VARIABLE, "").strip()
    if value:
        return Path(value)
    print(
        f"kmidi: no keys file: set {FILE_VARIABLE} (the file the services read) or pass --file",
        file=sys.stderr,
    )
    return None


def _create(args: argparse.Namespace) -> int:
    path = _keys_file(args)
    if path is None:
        return 2
    try:
        key, record = create_key(path, args.name)
    except (KeysFileError, OSError) as exc:
        print(f"kmidi: {exc}", file=sys.stderr)
        return 1
    print(key, flush=True)
    print(
        f"kmidi: key {record.id} ({record.name}) added to {path}. It is shown this once: "
        "only its hash is kept. Send it as Authorization: Bearer <key>.",
        file=sys.stderr,
    )
    return 0


def _list(args: argparse.Namespace) -> int:
    path = _keys_file(args)
    if path is None:
        return 2
    try:
        keys = read_keys(path)
    except KeysFileError as exc:
        print(f"kmidi: {exc}", file=sys.stderr)
        return 1
    if not keys:
        print(f"no keys in {path}")
        return 0
    rows = [("ID", "NAME", "CREATED", "STATUS")]
    for record in keys.values():
        status = f"revoked {record.revoked_at or ''}".strip() if record.revoked else "active"
        rows.append((record.id, record.name, record.created_at, status))
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)]
        print("  ".join([*cells, row[3]]))
    return 0


def _revoke(args: argparse.Namespace) -> int:
    path = _keys_file(args)
    if path is None:
        return 2
    try:
        record, changed = revoke_key(path, args.id)
    except (KeysFileError, OSError) as exc:
        print(f"kmidi: {exc}", file=sys.stderr)
        return 1
    if changed:
        print(f"revoked key {record.id} ({record.name}); services refuse it from now on")
    else:
        print(f"key {record.id} ({record.name}) was already revoked ({record.revoked_at})")
    return 0
