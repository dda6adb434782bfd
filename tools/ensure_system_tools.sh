#!/usr/bin/env bash
# Installs the Debian tools the test suite uses when they are missing: docker-compose (only to
# parse docker-compose.yaml with `docker-compose config`; no Docker engine is needed) and
# Chromium (headless screenshots of the model report, and the model-registry page's browser
# tests through Playwright). Needs root and apt; elsewhere it says what to install and the tests
# that need the tool fail with that message.
set -uo pipefail
missing=()
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
[[ ${#missing[@]} -eq 0 ]] && exit 0
if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
  echo "note: please install ${missing[*]} (Debian packages); tests that need them will fail" >&2
  exit 0
fi
echo "installing ${missing[*]} from Debian's packages"
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 ||
  { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q "${missing[@]}" >/dev/null; }
