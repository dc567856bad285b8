#!/usr/bin/env bash
# Builds the Versity S3 Gateway, the real S3-compatible server the S3 artifact store's tests
# run against, into the kmidi cache unless it is already there, and prints its path.
#
#   scripts/build-versitygw.sh        # ~/.cache/kmidi/versitygw-<version>/versitygw
#
# Needs Go (>= 1.21 fetches the toolchain versitygw's go.mod asks for) and the Go module
# proxy; `go install` checks every module against the Go checksum database. About 2 minutes
# on 2 cores with an empty module cache (docs/audio.md#s3-compatible-store).
set -euo pipefail

version="v1.8.0"
cache="${KMIDI_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kmidi}"
binary="$cache/versitygw-$version/versitygw"

if [ ! -x "$binary" ]; then
  if ! command -v go >/dev/null 2>&1; then
    echo "kmidi: Go is needed to build the Versity S3 Gateway for the S3 store's tests" >&2
    exit 1
  fi
  echo "kmidi: building the Versity S3 Gateway $version into $binary" >&2
  mkdir -p "$(dirname "$binary")"
  GOBIN="$(dirname "$binary")" go install -trimpath -ldflags="-s -w" \
    "github.com/versity/versitygw/cmd/versitygw@$version"
fi
echo "$binary"
