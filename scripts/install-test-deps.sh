#!/usr/bin/env bash
# Installs the Debian packages the test suite drives for real: Chromium (and an emoji font)
# for the browser tests, nginx and Caddy for the reverse-proxy tests, openssl for their test certificate,
# systemd and python3 for the service unit and install tests.
# Idempotent; needs root (or sudo) only when something is missing.
set -euo pipefail

need=()
[[ -x /usr/bin/chromium ]] || need+=(chromium)
command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || need+=(nginx)
command -v caddy >/dev/null || need+=(caddy)
command -v openssl >/dev/null || need+=(openssl)
# An emoji font, so the screenshots show portal.services icons instead of empty boxes.
[[ -e /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ]] || need+=(fonts-noto-color-emoji)
# systemd: systemd-analyze (unit checks), systemd-notify, -sysusers, -tmpfiles (install tests);
# python3: the stand-in NOTIFY_SOCKET receiver in the readiness test.
command -v systemd-analyze >/dev/null || need+=(systemd)
command -v python3 >/dev/null || need+=(python3)

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
# policy-rc.d 101: the packages must not start their own nginx/caddy services; the tests
# start their own instances on free loopback ports.
policy=/usr/sbin/policy-rc.d
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' | run_root tee "$policy" >/dev/null
  run_root chmod +x "$policy"
  trap 'run_root rm -f "$policy"' EXIT
fi
run_root apt-get install -y -qq --no-install-recommends "${need[@]}"
