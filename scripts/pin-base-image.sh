#!/usr/bin/env bash
# Pin the Docker base image to the digest its tag points at now, or update the pin.
#
#   scripts/pin-base-image.sh            # the tag in deploy/docker/Dockerfile's BASE_IMAGE
#   scripts/pin-base-image.sh python:3.11-slim-bookworm
#
# Resolves the tag to its multi-platform index digest (one line for amd64 and arm64) with
# `docker buildx imagetools inspect` when Docker is installed, else with the registry's HTTP
# API and curl, and rewrites `ARG BASE_IMAGE=<tag>@sha256:<digest>`. Review the diff, build,
# run `make test`, commit. Docker Hub official images only (library/...).
set -euo pipefail

dockerfile="$(dirname "$0")/../deploy/docker/Dockerfile"
current="$(sed -n 's/^ARG BASE_IMAGE=//p' "$dockerfile")"
tag_ref="${1:-${current%@*}}"
repository="${tag_ref%%:*}"
tag="${tag_ref#*:}"

if command -v docker >/dev/null && docker buildx version >/dev/null 2>&1; then
    digest="$(docker buildx imagetools inspect "$tag_ref" --format '{{json .Manifest.Digest}}' | tr -d '"')"
else
    token="$(curl -fsS "https://auth.docker.io/token?service=registry.docker.io&scope=repository:library/${repository}:pull" \
        | python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')"
    digest="$(curl -fsSI -H "Authorization: Bearer ${token}" \
        -H "Accept: application/vnd.oci.image.index.v1+json" \
        -H "Accept: application/vnd.docker.distribution.manifest.list.v2+json" \
        "https://registry-1.docker.io/v2/library/${repository}/manifests/${tag}" \
        | tr -d '\r' | sed -n 's/^docker-content-digest: *//Ip')"
fi
if [[ ! "$digest" =~ ^sha256:[0-9a-f]{64}$ ]]; then
    echo "could not resolve ${tag_ref} to a digest (got '${digest}')" >&2
    exit 1
fi
sed -i "s|^ARG BASE_IMAGE=.*|ARG BASE_IMAGE=${tag_ref}@${digest}|" "$dockerfile"
echo "BASE_IMAGE=${tag_ref}@${digest}"
