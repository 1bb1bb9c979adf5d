#!/bin/sh
# The `gatehouse` command of an installed service: runs the installed CLI as the service
# account, on the service's configuration and database.
# Installed as /usr/local/bin/gatehouse by scripts/install.sh, which fills in the paths.
#
# - Root drops to the service account (setpriv, no capabilities kept); the service account
#   itself runs the CLI directly; anyone else is refused (exit 2).
# - The CLI gets a clean environment: the service's settings, the locale, the terminal and
#   the caller's name (for the audit log), nothing else. GATEHOUSE_* overrides, NODE_OPTIONS,
#   NODE_PATH and the like from the caller do not reach it.
# - It runs in the data directory. File arguments (backup FILE, restore FILE, db check FILE,
#   --config FILE) given relative to the caller's directory are made absolute first, and
#   one the service account cannot read (or, for a backup, write) is reported before
#   anything runs.
# - Without a terminal on stdin, stdout or stderr it runs in a new session (setsid), with no
#   controlling terminal to push keystrokes into (TIOCSTI). Interactive use keeps the
#   terminal, for the password prompts: see systemd/README.md.
set -eu

app=/opt/gatehouse
node=/usr/bin/node
user=gatehouse
group=gatehouse
config=/etc/gatehouse/config.yml
data=/var/lib/gatehouse

if [ "$(id -u)" -eq 0 ]; then
  as_root=1
elif [ "$(id -un)" = "$user" ]; then
  as_root=0
else
  echo "gatehouse: run this as root (sudo gatehouse …) or as the $user account; the configuration and database belong to the service" >&2
  exit 2
fi

# Runs a command as the service account. Root drops to it before touching anything: files
# the command creates (the database, its -wal and -shm files) must stay the service's, or
# it could no longer open them.
as_service() {
  if [ "$as_root" -eq 1 ]; then
    setpriv --reuid="$user" --regid="$group" --init-groups --inh-caps=-all -- "$@"
  else
    "$@"
  fi
}

refuse() {
  echo "gatehouse: $*" >&2
  exit 2
}

# $file: the argument made absolute against the caller's working directory.
absolute() {
  file=$1
  while case $file in ./?*) true ;; *) false ;; esac do file=${file#./}; done
  case $file in
    /*) ;;
    .) file=$PWD ;;
    *) file=${PWD%/}/$file ;;
  esac
}

# A file the command will read: when it exists but the service account cannot read it.
check_readable() {
  if [ -e "$1" ] && ! as_service test -r "$1"; then
    refuse "$1 is not readable by the $user account, which this command runs as (not as root). Copy it where $user can read it, e.g. install -m 0600 -o $user -g $group $1 $data/, and give that path"
  fi
}

# A backup to write: when its directory exists but the service account cannot write there.
check_writable_dir() {
  dir=$(dirname -- "$1")
  if [ -d "$dir" ] && ! as_service test -w "$dir" -a -x "$dir"; then
    refuse "the $user account, which this command runs as (not as root), cannot write to the directory $dir: write the backup into $data (e.g. gatehouse backup $data/backup-$(date +%F).db) and copy it elsewhere from there"
  fi
}

# Rewrite the arguments in place (POSIX sh has one array: "$@", rotated through once).
count=$#
positional=0
command=
subcommand=
options_done=0
config_next=0
while [ "$count" -gt 0 ]; do
  arg=$1
  shift
  count=$((count - 1))
  if [ "$config_next" -eq 1 ]; then
    config_next=0
    absolute "$arg"
    check_readable "$file"
    arg=$file
  elif [ "$options_done" -eq 0 ] && [ "$arg" = -- ]; then
    options_done=1
  elif [ "$options_done" -eq 0 ] && { [ "$arg" = -c ] || [ "$arg" = --config ]; }; then
    config_next=1
  elif [ "$options_done" -eq 0 ] && case $arg in --config=?* | -c?*) true ;; *) false ;; esac then
    case $arg in --config=*) prefix=--config= ;; *) prefix=-c ;; esac
    absolute "${arg#"$prefix"}"
    check_readable "$file"
    arg=$prefix$file
  elif [ "$options_done" -eq 0 ] && case $arg in -?*) true ;; *) false ;; esac then
    : # another option; none of backup, restore and db check takes a value
  else
    positional=$((positional + 1))
    if [ "$positional" -eq 1 ]; then
      command=$arg
    elif [ "$positional" -eq 2 ]; then
      case $command in
        backup)
          absolute "$arg"
          check_writable_dir "$file"
          arg=$file
          ;;
        restore)
          absolute "$arg"
          check_readable "$file"
          arg=$file
          ;;
        db) subcommand=$arg ;;
      esac
    elif [ "$positional" -eq 3 ] && [ "$command" = db ] && [ "$subcommand" = check ]; then
      absolute "$arg"
      check_readable "$file"
      arg=$file
    fi
  fi
  set -- "$@" "$arg"
done

# The environment, built from nothing: the service's settings (as in gatehouse.service,
# including its allocator setting), the caller's locale, terminal and time zone, and who
# called (the audit log names SUDO_USER, else USER).
caller=$(id -un)
set -- "$node" "$app/bin/gatehouse.js" "$@"
for name in LANG LC_ALL LC_CTYPE LC_MESSAGES LC_TIME TZ TERM COLORTERM NO_COLOR COLUMNS LINES SUDO_USER; do
  eval "present=\${$name+x}"
  if [ -n "$present" ]; then eval "set -- \"\$name=\${$name}\" \"\$@\""; fi
done
set -- env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$data" USER="$caller" LOGNAME="$caller" \
  GATEHOUSE_CONFIG="$config" GATEHOUSE_DATA_DIR="$data" NODE_ENV=production \
  MALLOC_MMAP_THRESHOLD_=131072 "$@"

# Not interactive: a new session, so no controlling terminal is shared with the caller.
if ! [ -t 0 ] && ! [ -t 1 ] && ! [ -t 2 ]; then
  set -- setsid --wait "$@"
fi

# The caller's directory may be closed to the service account (/root): work in the data
# directory, where relative paths inside the program point anyway.
cd "$data" 2>/dev/null || cd /

if [ "$as_root" -eq 1 ]; then
  # No capabilities survive the switch.
  exec setpriv --reuid="$user" --regid="$group" --init-groups --inh-caps=-all -- "$@"
fi
exec "$@"
