#!/bin/sh
# The `gatehouse` command of an installed service: runs the installed CLI as the service
# account, on the service's configuration and database.
# Installed as /usr/local/bin/gatehouse by scripts/install.sh, which fills in the paths.
set -eu

app=/opt/gatehouse
node=/usr/bin/node
user=gatehouse
group=gatehouse
config=/etc/gatehouse/config.yml
data=/var/lib/gatehouse

export GATEHOUSE_CONFIG="$config" GATEHOUSE_DATA_DIR="$data"
# Same allocator setting as the service (see gatehouse.service).
export MALLOC_MMAP_THRESHOLD_=131072

uid=$(id -u)
if [ "$uid" -eq 0 ]; then
  # Root drops to the service account before touching anything: files the command creates
  # (the database, its -wal and -shm files) must stay the service's, or it could no longer
  # open them. No capabilities survive the switch.
  exec setpriv --reuid="$user" --regid="$group" --init-groups --inh-caps=-all -- "$node" "$app/bin/gatehouse.js" "$@"
elif [ "$(id -un)" = "$user" ]; then
  exec "$node" "$app/bin/gatehouse.js" "$@"
else
  echo "gatehouse: run this as root (sudo gatehouse …) or as the $user account; the configuration and database belong to the service" >&2
  exit 2
fi
