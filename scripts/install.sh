#!/usr/bin/env bash
# Installs or upgrades gatehouse as a hardened systemd service; run as root from a checkout.
#
#   sudo scripts/install.sh            install, or upgrade (re-run: keeps config and data)
#   DESTDIR=/tmp/root scripts/install.sh   stage the same tree under /tmp/root (packaging,
#                                      tests): no service is stopped, started or reloaded
#
# Layout: the program in /opt/gatehouse (production dependencies only, native modules
# built on this machine), the unit, sysusers.d and tmpfiles.d files under /usr/local/lib,
# the `gatehouse` command in /usr/local/bin, configuration in /etc/gatehouse/config.yml,
# data in /var/lib/gatehouse.
#
# GATEHOUSE_INSTALL_MODULES=copy (for tests) reuses this checkout's node_modules, pruned to
# production, instead of `npm ci --omit=dev`, which compiles better-sqlite3 (about a minute).
set -euo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DESTDIR=${DESTDIR:-}
DESTDIR=${DESTDIR%/}
MODULES=${GATEHOUSE_INSTALL_MODULES:-npm}

APP_DIR=/opt/gatehouse
BIN=/usr/local/bin/gatehouse
UNIT=/usr/local/lib/systemd/system/gatehouse.service
SYSUSERS=/usr/local/lib/sysusers.d/gatehouse.conf
TMPFILES=/usr/local/lib/tmpfiles.d/gatehouse.conf
CONF_DIR=/etc/gatehouse
CONFIG=$CONF_DIR/config.yml
STATE_DIR=/var/lib/gatehouse
SERVICE_USER=gatehouse

die() {
  echo "install.sh: $*" >&2
  exit 1
}
say() { echo "==> $*"; }

case "${1:-}" in
  '') ;;
  -h | --help)
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
    exit 0
    ;;
  *)
    echo "install.sh: unknown argument: $1 (try --help)" >&2
    exit 2
    ;;
esac
[[ $MODULES == npm || $MODULES == copy ]] || {
  echo "install.sh: GATEHOUSE_INSTALL_MODULES must be npm or copy (got $MODULES)" >&2
  exit 2
}

is_root=0
[[ $(id -u) -eq 0 ]] && is_root=1
if [[ -z $DESTDIR && $is_root -eq 0 ]]; then die "run as root (sudo $0), or set DESTDIR to stage the files in a directory"; fi
# The real system is only touched without DESTDIR; with it, everything lands under DESTDIR.
live=0
[[ -z $DESTDIR ]] && live=1
systemd_running=0
[[ $live -eq 1 && -d /run/systemd/system ]] && systemd_running=1

# Program files are world-readable and root-owned: the service can read but never change
# its own code. Configuration and data get their own modes below.
umask 022

NODE=$(command -v node) || die "node not found; install Node.js 20.19+ or 22.12+ first"
"$NODE" -e '
  const [maj, min] = process.versions.node.split(".").map(Number);
  process.exit((maj === 20 && min >= 19) || (maj === 22 && min >= 12) || maj > 22 ? 0 : 1);
' || die "Node.js $("$NODE" --version) is too old; gatehouse needs 20.19+ or 22.12+"
command -v npm >/dev/null || die "npm not found (it comes with Node.js)"
for tool in setpriv systemd-analyze; do
  command -v "$tool" >/dev/null || die "$tool not found (packages util-linux and systemd)"
done

# 1. Build in the checkout: TypeScript needs the development dependencies.
cd "$SRC"
[[ -f package.json && -f package-lock.json && -f systemd/gatehouse.service ]] || die "$SRC is not a gatehouse checkout"
if [[ ! -x node_modules/.bin/tsc ]]; then
  say "installing build dependencies (npm ci)"
  npm ci --no-audit --no-fund
fi
say "building"
"$NODE" scripts/build-if-needed.mjs
[[ -f dist/server.js ]] || die "the build produced no dist/server.js"

# 2. Stage the new program tree next to the old one, so an upgrade swaps it in whole and no
# file of an older version stays behind.
app=$DESTDIR$APP_DIR
stage=$app.new
rm -rf "$stage"
mkdir -p "$stage/src/db" "$stage/scripts" "$stage/bin"
say "copying the program to $APP_DIR"
cp -R dist views public "$stage/"
cp -R src/db/migrations "$stage/src/db/"
cp bin/gatehouse.js "$stage/bin/"
cp scripts/build-if-needed.mjs "$stage/scripts/"
cp package.json package-lock.json README.md "$stage/"
if [[ $MODULES == copy ]]; then
  say "production dependencies: reusing this checkout's node_modules (GATEHOUSE_INSTALL_MODULES=copy)"
  cp -R node_modules "$stage/"
  (cd "$stage" && npm prune --omit=dev --offline --no-audit --no-fund --loglevel=error)
else
  say "production dependencies: npm ci --omit=dev (builds the native modules for this machine)"
  (cd "$stage" && npm ci --omit=dev --no-audit --no-fund --loglevel=error)
fi
# The native modules must load with this Node.js before anything is replaced.
(cd "$stage" && "$NODE" -e '
  const Database = require("better-sqlite3");
  new Database(":memory:").prepare("select 1").get();
  require("argon2");
') || die "the native modules (better-sqlite3, argon2) do not load in $stage; see the error above"
if [[ $is_root -eq 1 ]]; then chown -R 0:0 "$stage"; fi

# 3. Stop a running service for the swap (upgrade); it is started again at the end.
was_active=0
if [[ $systemd_running -eq 1 ]] && systemctl is-active --quiet gatehouse.service; then
  was_active=1
  say "stopping gatehouse.service for the upgrade"
  systemctl stop gatehouse.service
fi
if [[ -e $app ]]; then
  rm -rf "$app.old"
  mv "$app" "$app.old"
fi
mv "$stage" "$app"
rm -rf "$app.old"

# 4. Unit, account, directories and the command. The repository's files name /usr/bin/node;
# point them at the Node.js this script found.
install_file() { # mode source target [sed expression]
  mkdir -p "$(dirname "$DESTDIR$3")"
  local tmp
  tmp=$(mktemp "$DESTDIR$3.XXXXXX")
  sed -e "s#/usr/bin/node#$NODE#g" "$2" >"$tmp"
  chmod "$1" "$tmp"
  mv "$tmp" "$DESTDIR$3"
}
say "installing the unit, account and directory definitions and $BIN"
install_file 0644 systemd/gatehouse.service "$UNIT"
install_file 0644 systemd/gatehouse.sysusers "$SYSUSERS"
install_file 0644 systemd/gatehouse.tmpfiles "$TMPFILES"
install_file 0755 systemd/gatehouse-wrapper.sh "$BIN"
# Checked against this machine's units and binaries (a DESTDIR tree holds no OS to check against).
systemd-analyze verify --man=no --generators=no "$DESTDIR$UNIT" || die "systemd-analyze verify rejects $DESTDIR$UNIT"

# The service account and the two directories, through systemd's own tools so the result is
# what boot-time systemd-sysusers/-tmpfiles would make. Under DESTDIR they act on that tree
# (needs root there too, for the ownership); otherwise the commands are only shown.
if [[ $is_root -eq 1 ]]; then
  mkdir -p "$DESTDIR/etc"
  systemd-sysusers --root="${DESTDIR:-/}" "$DESTDIR$SYSUSERS"
  systemd-tmpfiles --root="${DESTDIR:-/}" --create "$DESTDIR$TMPFILES"
else
  echo "    (not root: skipped, run later on the target) systemd-sysusers $SYSUSERS; systemd-tmpfiles --create $TMPFILES"
  mkdir -p "$DESTDIR$CONF_DIR" "$DESTDIR$STATE_DIR"
  chmod 0750 "$DESTDIR$CONF_DIR"
  chmod 0700 "$DESTDIR$STATE_DIR"
fi

# 5. A default configuration, only when there is none: an existing one is the admin's.
if [[ -e $DESTDIR$CONFIG ]]; then
  say "keeping the existing $CONFIG"
else
  say "writing the default $CONFIG"
  tmp=$(mktemp "$DESTDIR$CONFIG.XXXXXX")
  cp systemd/config.yml "$tmp"
  chmod 0640 "$tmp"
  # root writes, the service's group reads: the service cannot rewrite its own settings.
  if [[ $is_root -eq 1 ]]; then
    gid=$(awk -F: -v n="$SERVICE_USER" '$1 == n { print $3 }' "$DESTDIR/etc/group")
    [[ -n $gid ]] || die "group $SERVICE_USER missing in $DESTDIR/etc/group after systemd-sysusers"
    chown "0:$gid" "$tmp"
  fi
  mv "$tmp" "$DESTDIR$CONFIG"
fi

# 6. Tell systemd, and bring an upgraded service back.
if [[ $systemd_running -eq 1 ]]; then
  systemctl daemon-reload
  if [[ $was_active -eq 1 ]]; then
    say "starting gatehouse.service again"
    systemctl start gatehouse.service
  fi
elif [[ $live -eq 1 ]]; then
  echo "    (systemd is not running here: no daemon-reload)"
fi

if [[ $live -eq 0 ]]; then
  echo
  echo "Staged under $DESTDIR. On the target system: systemctl daemon-reload, then as below."
fi
cat <<EOF

gatehouse is installed in $APP_DIR.
  configuration:  $CONFIG   (then: systemctl restart gatehouse)
  data:           $STATE_DIR   (kept by upgrades and by scripts/uninstall.sh)

  start now and at boot:  systemctl enable --now gatehouse
  status:                 systemctl status gatehouse
  logs:                   journalctl -u gatehouse -f
  hardening report:       systemd-analyze security gatehouse
  upgrade:                git pull && sudo scripts/install.sh

First run: once it is running, create the first administrator with a one-time link:
  sudo gatehouse setup-link
It points at 127.0.0.1:8480: open it on this machine, through an SSH tunnel
(ssh -L 8480:127.0.0.1:8480 this-machine), or as the same /setup?token=… path on your
reverse proxy's HTTPS address. Other commands: sudo gatehouse --help
EOF
