#!/usr/bin/env bash
# Installs the system tools kmidi needs when they are missing: Java 17+ and Maven (the
# embedded Apache Kafka broker), FluidSynth + a GM soundfont (audio output, kmidi.audio) and,
# with --test, the independent checkers the tests use: midicsv (MIDI parser), timidity (MIDI
# renderer), ffmpeg (audio decoder and loudness meter), kcat (Kafka client), promtool
# (Prometheus metrics linter), node + npm (AsyncAPI parser), chromium (the studio page's
# browser tests, driven by Playwright), Go and, built with it, the OpenTelemetry Collector
# the trace tests send spans to (scripts/build-otelcol.sh, cached in ~/.cache/kmidi) and the
# Versity S3 Gateway the S3 artifact store's tests run against (scripts/build-versitygw.sh).
# Debian/Ubuntu only; elsewhere it says what to install.
set -euo pipefail

want_test_tools=false
[ "${1:-}" = "--test" ] && want_test_tools=true

missing=()
command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || missing+=(maven)
command -v fluidsynth >/dev/null 2>&1 || missing+=(fluidsynth)
[ -e /usr/share/sounds/sf2/FluidR3_GM.sf2 ] || missing+=(fluid-soundfont-gm)
if $want_test_tools; then
  command -v midicsv >/dev/null 2>&1 || missing+=(midicsv)
  command -v timidity >/dev/null 2>&1 || missing+=(timidity)
  command -v ffprobe >/dev/null 2>&1 || missing+=(ffmpeg)
  command -v kcat >/dev/null 2>&1 || missing+=(kcat)
  # The Kafka security tests make their CA and certificates with openssl.
  command -v openssl >/dev/null 2>&1 || missing+=(openssl)
  command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
  # The AsyncAPI parser (npm @asyncapi/parser) validates the event contracts.
  command -v node >/dev/null 2>&1 || missing+=(nodejs)
  command -v npm >/dev/null 2>&1 || missing+=(npm)
  # Playwright drives Debian's browser: its own browser downloads are not used.
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  command -v go >/dev/null 2>&1 || missing+=(golang-go)
fi
build_go_test_tools() {
  if $want_test_tools; then
    "$(dirname "$0")/build-otelcol.sh" >/dev/null
    "$(dirname "$0")/build-versitygw.sh" >/dev/null
  fi
}
[ ${#missing[@]} -eq 0 ] && { build_go_test_tools; exit 0; }

echo "kmidi: installing system packages: ${missing[*]}" >&2
if ! command -v apt-get >/dev/null 2>&1; then
  echo "kmidi: please install these with your package manager: ${missing[*]}" >&2
  exit 1
fi
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo_cmd=(sudo); else
    echo "kmidi: run as root or install: apt-get install ${missing[*]}" >&2; exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
build_go_test_tools
