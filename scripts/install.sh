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
# An upgrade changes nothing until the new version is built, its unit verified, and it
# accepts the existing configuration (`config check` as the gatehouse account); then the
# database is backed up (online) to /var/lib/gatehouse/backups/pre-upgrade-<UTC time>.db
# (the last 5 are kept), the program swapped and the service started again. If it does
# not start, the previous version is put back and started, and the script says how to
# restore the backup should the new version have migrated the database.
#
# Run through sudo, the checkout is built (npm ci, tsc) and the production dependencies
# installed as the sudo user, not as root; only the copy into place runs as root.
#
# GATEHOUSE_INSTALL_MODULES=copy (for tests) reuses this checkout's node_modules, pruned to
# production, instead of `npm ci --omit=dev`, which compiles better-sqlite3 (about a minute).
# GATEHOUSE_INSTALL_TEST_FAIL_START=1 (tests, with DESTDIR only) makes the start after the
# swap fail, to exercise the roll-back.
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
BACKUP_DIR=$STATE_DIR/backups
KEEP_BACKUPS=5
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
fail_start=0
[[ $live -eq 0 && ${GATEHOUSE_INSTALL_TEST_FAIL_START:-} == 1 ]] && fail_start=1

# Program files are world-readable and root-owned: the service can read but never change
# its own code. Configuration and data get their own modes below.
umask 022

NODE=$(command -v node) || die "node not found; install Node.js 20.19+ or 22.12+ first"
# The unit runs this binary as the gatehouse account with ProtectHome=yes: one in a home
# directory (nvm, fnm, volta, ~/.local) or a user's runtime directory is invisible to it.
node_real=$(readlink -f "$NODE")
for path in "$NODE" "$node_real"; do
  case $path in
    /home/* | /root/* | /run/user/*)
      die "Node.js is at $NODE${node_real:+ (really $node_real)}, under /home, /root or /run/user: the service (ProtectHome=yes, running as $SERVICE_USER) could not start it. Install Node.js 20.19+ or 22.12+ system-wide (the distribution's or NodeSource's package, or an official tarball under /usr/local) and make it the first node on root's PATH, then run this again"
      ;;
  esac
done
"$NODE" -e '
  const [maj, min] = process.versions.node.split(".").map(Number);
  process.exit((maj === 20 && min >= 19) || (maj === 22 && min >= 12) || maj > 22 ? 0 : 1);
' || die "Node.js $("$NODE" --version) is too old; gatehouse needs 20.19+ or 22.12+"
NPM=$(command -v npm) || die "npm not found (it comes with Node.js)"
for tool in setpriv setsid systemd-analyze; do
  command -v "$tool" >/dev/null || die "$tool not found (packages util-linux and systemd)"
done

cd "$SRC"
[[ -f package.json && -f package-lock.json && -f systemd/gatehouse.service ]] || die "$SRC is not a gatehouse checkout"

# Who builds: through sudo, the account that called sudo, so the checkout gets no
# root-owned node_modules/ or dist/ and no development dependency's install script runs
# as root. as_builder runs a command as that account (or as is, without sudo).
as_builder=()
if [[ $is_root -eq 1 && -n ${SUDO_USER:-} && $SUDO_USER != root ]]; then
  builder=$SUDO_USER
  id -u "$builder" >/dev/null 2>&1 || die "SUDO_USER=$builder is not an account on this machine"
  builder_home=$(getent passwd "$builder" | cut -d: -f6)
  as_builder=(setpriv --reuid="$builder" --regid="${SUDO_GID:-$(id -g "$builder")}" --init-groups --inh-caps=-all
    env HOME="${builder_home:-/}" USER="$builder" LOGNAME="$builder")
  "${as_builder[@]}" test -w "$SRC" -a -w "$SRC/package.json" ||
    die "$SRC is not writable by $builder, who builds it (run through sudo, the build runs as the sudo user, not as root); give $builder the checkout (chown -R $builder $SRC) or use a checkout of $builder's"
  for dir in node_modules dist; do
    if [[ -e $dir ]] && [[ -n $(find "$dir" ! -user "$builder" -print -quit) ]]; then
      die "$SRC/$dir holds files $builder does not own (an earlier install built as root?); the build runs as $builder: sudo chown -R $builder $SRC/$dir, then run this again"
    fi
  done
  say "building as $builder (the sudo user), not as root"
elif [[ $is_root -eq 1 ]]; then
  say "building as root: not run through sudo from another account, so npm ci and tsc run as root and node_modules/ and dist/ in $SRC belong to root"
fi

# 1. Build in the checkout: TypeScript needs the development dependencies.
if [[ ! -x node_modules/.bin/tsc ]]; then
  say "installing build dependencies (npm ci)"
  "${as_builder[@]}" "$NPM" ci --no-audit --no-fund
fi
say "building"
"${as_builder[@]}" "$NODE" scripts/build-if-needed.mjs
[[ -f dist/server.js ]] || die "the build produced no dist/server.js"

# Nothing outside the staging area changes until the new version has passed every check.
# Until the swap, a failure removes what was staged; during it, the previous version is
# put back (see roll_back).
app=$DESTDIR$APP_DIR
stage=$app.new
work=$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-install.XXXXXX")
chmod 0755 "$work"
phase=prepare # prepare → swap → finished
was_active=0
had_previous=0
backup=
installed=()

roll_back() {
  set +e
  echo >&2
  if [[ $had_previous -eq 0 ]]; then
    echo "install.sh: the installation failed; removing what it put in place" >&2
  else
    echo "install.sh: the upgrade failed; putting the previous version back" >&2
  fi
  if [[ $systemd_running -eq 1 ]]; then systemctl stop gatehouse.service 2>/dev/null; fi
  if [[ -e $app.old ]]; then
    rm -rf "$app.failed"
    if [[ -e $app ]]; then mv "$app" "$app.failed"; fi
    mv "$app.old" "$app" && rm -rf "$app.failed"
  elif [[ $had_previous -eq 0 ]]; then
    rm -rf "$app" "$stage"
  fi
  local target
  for target in "${installed[@]}"; do
    if [[ -e $work/old/${target//\//_} ]]; then
      mv -f "$work/old/${target//\//_}" "$DESTDIR$target"
    else
      rm -f "$DESTDIR$target"
    fi
  done
  local restarted=0
  if [[ $systemd_running -eq 1 ]]; then
    systemctl daemon-reload
    if [[ $was_active -eq 1 ]]; then
      systemctl reset-failed gatehouse.service 2>/dev/null
      echo "install.sh: starting the previous version" >&2
      if systemctl start gatehouse.service && sleep 2 && systemctl is-active --quiet gatehouse.service; then restarted=1; fi
    fi
  fi
  if [[ $had_previous -eq 0 ]]; then
    echo "Nothing of gatehouse is installed now (the account, directories and configuration stay); see the errors above." >&2
    return
  fi
  {
    echo
    echo "The previous version of gatehouse is back in $APP_DIR."
    if [[ $was_active -eq 1 && $systemd_running -eq 1 ]]; then
      if [[ $restarted -eq 1 ]]; then echo "It is running again: sign-in works as before the upgrade."; else echo "It did NOT start either: see systemctl status gatehouse and journalctl -u gatehouse."; fi
    fi
    echo "Why the new version failed: journalctl -u gatehouse (and the output above)."
    if [[ -n $backup ]]; then
      echo "The new version may have migrated the database before it failed; the previous version"
      echo "might then refuse it. The database as it was before the upgrade is in"
      echo "  $backup"
      echo "To go back to it: systemctl stop gatehouse; gatehouse restore $backup; systemctl start gatehouse"
    fi
  } >&2
}

on_exit() {
  local rc=$?
  trap - EXIT INT TERM HUP
  if [[ $rc -ne 0 ]]; then
    case $phase in
      prepare)
        rm -rf "$stage"
        echo "install.sh: stopped before changing anything; the installed version (if any) is as it was" >&2
        ;;
      swap) roll_back ;;
    esac
  fi
  rm -rf "$work"
  exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

# 2. Stage the new program tree next to the old one, so an upgrade swaps it in whole and no
# file of an older version stays behind. Dependencies are installed (their install
# scripts run) as the builder; the tree becomes root's afterwards.
rm -rf "$stage"
mkdir -p "$(dirname "$stage")"
mkdir -p "$stage/src/db" "$stage/scripts" "$stage/bin"
say "staging the program in $APP_DIR.new"
cp -R dist views public "$stage/"
cp -R src/db/migrations "$stage/src/db/"
cp bin/gatehouse.js "$stage/bin/"
cp scripts/build-if-needed.mjs "$stage/scripts/"
cp package.json package-lock.json README.md "$stage/"
if [[ $MODULES == copy ]]; then
  say "production dependencies: reusing this checkout's node_modules (GATEHOUSE_INSTALL_MODULES=copy)"
  cp -R node_modules "$stage/"
fi
if [[ ${#as_builder[@]} -gt 0 ]]; then chown -R "$builder" "$stage"; fi
if [[ $MODULES == copy ]]; then
  (cd "$stage" && "${as_builder[@]}" "$NPM" prune --omit=dev --offline --no-audit --no-fund --loglevel=error)
else
  say "production dependencies: npm ci --omit=dev (builds the native modules for this machine)"
  (cd "$stage" && "${as_builder[@]}" "$NPM" ci --omit=dev --no-audit --no-fund --loglevel=error)
fi
# The native modules must load with this Node.js before anything is replaced.
(cd "$stage" && "${as_builder[@]}" "$NODE" -e '
  const Database = require("better-sqlite3");
  new Database(":memory:").prepare("select 1").get();
  require("argon2");
') || die "the native modules (better-sqlite3, argon2) do not load in $stage; see the error above"
if [[ $is_root -eq 1 ]]; then chown -R 0:0 "$stage"; fi

# 3. The unit, account and directory definitions and the command, rendered into the work
# directory. The repository's files name /usr/bin/node; point them at the Node.js found.
mkdir -p "$work/new" "$work/old"
render() { # mode source target
  local out=$work/new/${3//\//_}
  sed -e "s#/usr/bin/node#$NODE#g" "$2" >"$out"
  chmod "$1" "$out"
}
render 0644 systemd/gatehouse.service "$UNIT"
render 0644 systemd/gatehouse.sysusers "$SYSUSERS"
render 0644 systemd/gatehouse.tmpfiles "$TMPFILES"
render 0755 systemd/gatehouse-wrapper.sh "$BIN"
staged() { echo "$work/new/${1//\//_}"; }
# systemd-analyze wants the unit's own name; checked against this machine's units and
# binaries (a DESTDIR tree holds no OS to check against).
mkdir "$work/verify"
cp "$(staged "$UNIT")" "$work/verify/gatehouse.service"
systemd-analyze verify --man=no --generators=no "$work/verify/gatehouse.service" || die "systemd-analyze verify rejects the new gatehouse.service; nothing was changed"

# 4. The service account and the two directories, through systemd's own tools so the result
# is what boot-time systemd-sysusers/-tmpfiles would make; both only add what is missing,
# which the running version does not notice. Under DESTDIR they act on that tree (needs
# root there too, for the ownership); otherwise the commands are only shown.
if [[ $is_root -eq 1 ]]; then
  mkdir -p "$DESTDIR/etc"
  systemd-sysusers --root="${DESTDIR:-/}" "$(staged "$SYSUSERS")"
  systemd-tmpfiles --root="${DESTDIR:-/}" --create "$(staged "$TMPFILES")"
  uid=$(awk -F: -v n="$SERVICE_USER" '$1 == n { print $3 }' "$DESTDIR/etc/passwd")
  gid=$(awk -F: -v n="$SERVICE_USER" '$1 == n { print $3 }' "$DESTDIR/etc/group")
  [[ -n $uid && -n $gid ]] || die "account $SERVICE_USER missing in $DESTDIR/etc/passwd or /etc/group after systemd-sysusers"
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
  if [[ $is_root -eq 1 ]]; then chown "0:$gid" "$tmp"; fi
  mv "$tmp" "$DESTDIR$CONFIG"
fi

# The new program run as the service would run it: as the gatehouse account (on this
# machine; under DESTDIR, where that account is not one of this machine's, as the caller),
# in a clean environment holding the unit's settings and any GATEHOUSE_* a drop-in adds.
service_env=(PATH=/usr/local/bin:/usr/bin:/bin HOME="$STATE_DIR" LANG=C.UTF-8 NODE_ENV=production MALLOC_MMAP_THRESHOLD_=131072
  GATEHOUSE_CONFIG="$DESTDIR$CONFIG" GATEHOUSE_DATA_DIR="$DESTDIR$STATE_DIR")
if [[ $systemd_running -eq 1 ]] && systemctl cat gatehouse.service >/dev/null 2>&1; then
  # Only plain words (no quoting or escapes to undo); others are left out, with a note.
  for word in $(systemctl show --property=Environment --value gatehouse.service); do
    if [[ $word =~ ^GATEHOUSE_[A-Z0-9_]+=[A-Za-z0-9_.,:/@+-]*$ ]]; then
      service_env+=("$word")
    elif [[ $word == GATEHOUSE_* ]]; then
      echo "    (the unit's ${word%%=*} setting is not passed to the checks below: quoted or escaped value)"
    fi
  done
fi
as_service() { # runs a command in the service's environment, in its data directory
  local dir=$DESTDIR$STATE_DIR
  if [[ $live -eq 1 ]]; then
    (cd "$dir" && setpriv --reuid="$SERVICE_USER" --regid="$SERVICE_USER" --init-groups --inh-caps=-all -- setsid --wait env -i "${service_env[@]}" "$@" </dev/null)
  else
    (cd "$dir" && env -i "${service_env[@]}" "$@" </dev/null)
  fi
}

# 6. The new version must accept the configuration the service will start with: an
# invalid one would make it exit with status 2 at start.
say "checking $CONFIG with the new version"
if ! out=$(as_service "$NODE" "$stage/bin/gatehouse.js" config check 2>&1); then
  echo "$out" >&2
  die "the new version does not accept $CONFIG (see above): nothing was changed and the installed version (if any) keeps running. Adjust the configuration for the new version (README, section \"Configuration\"), then run this again"
fi
echo "    the configuration is valid for the new version"

# 7. An online backup of the existing database, the way back for the data should the new
# version migrate it and fail. Written by the installed version if it can (its own format,
# the one a rolled-back version restores), else by the new one.
if [[ -e $DESTDIR$STATE_DIR/gatehouse.db ]]; then
  if [[ $is_root -eq 1 ]]; then
    install -d -m 0700 -o "$uid" -g "$gid" "$DESTDIR$BACKUP_DIR"
  else
    install -d -m 0700 "$DESTDIR$BACKUP_DIR"
  fi
  name=pre-upgrade-$(date -u +%Y%m%dT%H%M%SZ)
  [[ -e $DESTDIR$BACKUP_DIR/$name.db ]] && name=$name-$$
  backup=$BACKUP_DIR/$name.db
  say "backing up the database to $backup"
  ok=0
  for tree in "$app" "$stage"; do
    [[ -f $tree/bin/gatehouse.js ]] || continue
    if out=$(as_service "$NODE" "$tree/bin/gatehouse.js" backup "$DESTDIR$backup" 2>&1); then
      ok=1
      echo "    $(head -n 1 <<<"$out")"
      break
    fi
    echo "    ${out//$'\n'/$'\n'    }" >&2
    [[ $tree == "$app" ]] && echo "    (the installed version could not write the backup; trying the new one)" >&2
  done
  [[ $ok -eq 1 ]] || die "could not back up the database (see above): nothing was changed and the installed version (if any) keeps running"
  chmod 0600 "$DESTDIR$backup"
  if [[ $is_root -eq 1 ]]; then chown "$uid:$gid" "$DESTDIR$backup"; fi
  # The newest $KEEP_BACKUPS pre-upgrade backups stay (names sort by time).
  find "$DESTDIR$BACKUP_DIR" -maxdepth 1 -type f -name 'pre-upgrade-*.db' -print | sort | head -n "-$KEEP_BACKUPS" |
    while IFS= read -r old; do rm -f -- "$old"; done
fi

# 8. The swap: stop a running service, move the old tree aside (kept until the new one runs),
# put the new tree and files in place, start again. From here a failure rolls back.
rm -rf "$app.old" "$app.failed" # left by an interrupted earlier run
[[ -e $app ]] && had_previous=1
phase=swap
if [[ $systemd_running -eq 1 ]] && systemctl is-active --quiet gatehouse.service; then
  was_active=1
  say "stopping gatehouse.service for the upgrade"
  systemctl stop gatehouse.service
fi
if [[ $had_previous -eq 1 ]]; then mv "$app" "$app.old"; fi
mv "$stage" "$app"
say "installing the unit, account and directory definitions and $BIN"
for target in "$UNIT" "$SYSUSERS" "$TMPFILES" "$BIN"; do
  mkdir -p "$(dirname "$DESTDIR$target")"
  installed+=("$target")
  if [[ -e $DESTDIR$target ]]; then cp -p "$DESTDIR$target" "$work/old/${target//\//_}"; fi
  tmp=$(mktemp "$DESTDIR$target.XXXXXX")
  cp "$(staged "$target")" "$tmp"
  chmod --reference="$(staged "$target")" "$tmp"
  mv -f "$tmp" "$DESTDIR$target"
done

start_ok=1
if [[ $systemd_running -eq 1 ]]; then
  systemctl daemon-reload
  if [[ $was_active -eq 1 ]]; then
    say "starting gatehouse.service again"
    # Type=notify: start returns once the new version is ready, or has failed. A crash just
    # after shows as not active a moment later (Restart= makes it "activating").
    if ! systemctl start gatehouse.service || ! sleep 3 || ! systemctl is-active --quiet gatehouse.service; then start_ok=0; fi
  fi
elif [[ $live -eq 1 ]]; then
  echo "    (systemd is not running here: no daemon-reload)"
fi
if [[ $fail_start -eq 1 ]]; then
  echo "    (GATEHOUSE_INSTALL_TEST_FAIL_START=1: the start counts as failed)"
  start_ok=0
fi
if [[ $start_ok -eq 0 ]]; then
  echo "install.sh: the new version of gatehouse.service did not start (systemctl status gatehouse, journalctl -u gatehouse)" >&2
  exit 1 # roll_back, from on_exit
fi
rm -rf "$app.old"
phase=finished

if [[ $live -eq 0 ]]; then
  echo
  echo "Staged under $DESTDIR. On the target system: systemctl daemon-reload, then as below."
fi
if [[ -n $backup ]]; then
  echo
  echo "The database as it was before this upgrade: $backup (the last $KEEP_BACKUPS are kept)."
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
