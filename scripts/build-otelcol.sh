#!/usr/bin/env bash
# Builds the OpenTelemetry Collector the trace tests use (OTLP receiver + debug exporter,
# tests/otelcol/) into the kmidi cache, unless it is already there, and prints its path.
#
#   scripts/build-otelcol.sh          # ~/.cache/kmidi/otelcol-<version>/kmidi-otelcol
#
# Needs Go (go.mod asks for 1.26; a Go >= 1.21 fetches that toolchain itself) and the Go
# module proxy. Every module is checked against the committed tests/otelcol/go.sum. About
# 2 minutes on 2 cores with an empty module cache (docs/operations.md#traces).
set -euo pipefail

source_dir="$(cd "$(dirname "$0")/../tests/otelcol" && pwd)"
version="$(sed -n 's/^  version: *//p' "$source_dir/builder.yaml")"
cache="${KMIDI_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kmidi}"
binary="$cache/otelcol-$version/kmidi-otelcol"

if [ ! -x "$binary" ]; then
  if ! command -v go >/dev/null 2>&1; then
    echo "kmidi: Go is needed to build the OpenTelemetry Collector for the trace tests" >&2
    exit 1
  fi
  echo "kmidi: building the OpenTelemetry Collector $version into $binary" >&2
  mkdir -p "$(dirname "$binary")"
  (cd "$source_dir" && go build -buildvcs=false -trimpath -ldflags="-s -w" -o "$binary.tmp" .)
  mv "$binary.tmp" "$binary"
fi
echo "$binary"
