#!/usr/bin/env bash
# Installs the Debian packages the test suite drives for real: Chromium for the browser
# tests. Idempotent; needs root (or sudo) only when something is missing.
set -euo pipefail

need=()
[[ -x /usr/bin/chromium ]] || need+=(chromium)

if ((${#need[@]} == 0)); then
  echo "test dependencies present"
  exit 0
fi

run_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "install-test-deps: need root to install: ${need[*]}" >&2
    exit 1
  fi
}

echo "installing: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
run_root apt-get update -qq
run_root apt-get install -y -qq --no-install-recommends "${need[@]}"
