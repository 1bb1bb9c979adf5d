#!/usr/bin/env bash
# Removes what scripts/install.sh installed; keeps configuration and data unless --purge.
#
#   sudo scripts/uninstall.sh           stop and disable the service, remove the program,
#                                       the unit and the `gatehouse` command; keep
#                                       /etc/gatehouse and /var/lib/gatehouse (reinstalling
#                                       picks them up again)
#   sudo scripts/uninstall.sh --purge   also delete /etc/gatehouse and /var/lib/gatehouse:
#                                       every user, session and audit entry is gone, and
#                                       the pre-upgrade backups in /var/lib/gatehouse/backups
#   DESTDIR=/tmp/root scripts/uninstall.sh [--purge]   the same inside a staged tree
#
# The gatehouse system account stays either way, as Debian packages leave theirs: a later
# account reusing its uid could otherwise inherit files it left behind (userdel gatehouse).
set -euo pipefail

DESTDIR=${DESTDIR:-}
DESTDIR=${DESTDIR%/}
APP_DIR=/opt/gatehouse
BIN=/usr/local/bin/gatehouse
UNIT=/usr/local/lib/systemd/system/gatehouse.service
SYSUSERS=/usr/local/lib/sysusers.d/gatehouse.conf
TMPFILES=/usr/local/lib/tmpfiles.d/gatehouse.conf
CONF_DIR=/etc/gatehouse
STATE_DIR=/var/lib/gatehouse

purge=0
case "${1:-}" in
  '') ;;
  --purge) purge=1 ;;
  -h | --help)
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
    exit 0
    ;;
  *)
    echo "uninstall.sh: unknown argument: $1 (try --help)" >&2
    exit 2
    ;;
esac
if [[ $# -gt 1 ]]; then
  echo "uninstall.sh: one argument at most (try --help)" >&2
  exit 2
fi
if [[ -z $DESTDIR && $(id -u) -ne 0 ]]; then
  echo "uninstall.sh: run as root (sudo $0), or set DESTDIR to act on a staged tree" >&2
  exit 1
fi

say() { echo "==> $*"; }

systemd_running=0
[[ -z $DESTDIR && -d /run/systemd/system ]] && systemd_running=1
if [[ $systemd_running -eq 1 ]] && systemctl cat gatehouse.service >/dev/null 2>&1; then
  say "stopping and disabling gatehouse.service"
  systemctl disable --now gatehouse.service
fi

say "removing the program, the unit and $BIN"
rm -rf "$DESTDIR$APP_DIR" "$DESTDIR$APP_DIR.new" "$DESTDIR$APP_DIR.old" "$DESTDIR$APP_DIR.failed"
rm -f "$DESTDIR$BIN" "$DESTDIR$UNIT" "$DESTDIR$SYSUSERS" "$DESTDIR$TMPFILES"
if [[ $systemd_running -eq 1 ]]; then systemctl daemon-reload; fi

if [[ $purge -eq 1 ]]; then
  say "purging $CONF_DIR and $STATE_DIR"
  rm -rf "$DESTDIR$CONF_DIR" "$DESTDIR$STATE_DIR"
  echo "gatehouse is removed, with its configuration and data."
else
  echo "gatehouse is removed. Kept: $CONF_DIR (configuration) and $STATE_DIR (users, sessions, audit log, pre-upgrade backups)."
  echo "Reinstalling uses them again; delete them with: sudo $0 --purge"
fi
