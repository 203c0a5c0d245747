#!/usr/bin/env bash
# Installs the peers the `peers` benchmark compares zk-election with, when missing:
#   - etcd (server and etcdctl, Debian's etcd-server and etcd-client), for `etcdctl elect`;
#   - Apache Curator (Debian's libcurator-*-java 5.x jars under /usr/share/java), for a LeaderLatch;
#   - a JDK with javac, to compile the Curator contender at bench time.
# ZooKeeper itself comes from scripts/install-zookeeper.sh, which this runs first.
# Idempotent: installs only what is missing. Never leaves an etcd running as a system service:
# the benchmark starts its own on free loopback ports, with its data on tmpfs.
set -euo pipefail
cd "$(dirname "$0")"

./install-zookeeper.sh

missing=()
command -v etcd >/dev/null 2>&1 || missing+=(etcd-server)
command -v etcdctl >/dev/null 2>&1 || missing+=(etcd-client)
for jar in curator-recipes curator-framework curator-client; do
  [ -f "/usr/share/java/$jar.jar" ] || missing+=("lib$jar-java")
done
command -v javac >/dev/null 2>&1 || missing+=(default-jdk-headless)

if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "missing: ${missing[*]}; run as root, or: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi

# Debian's etcd-server starts an etcd on port 2379 when installed, where an init system runs.
# policy-rc.d (exit 101: "action forbidden") keeps invoke-rc.d from starting any service for the
# duration of this install; an existing policy is put back afterwards.
policy=/usr/sbin/policy-rc.d
saved=""
if [ -e "$policy" ]; then
  saved="$(mktemp)"
  cp -p "$policy" "$saved"
fi
restore_policy() {
  if [ -n "$saved" ]; then mv "$saved" "$policy"; else rm -f "$policy"; fi
}
trap restore_policy EXIT
printf '#!/bin/sh\nexit 101\n' >"$policy"
chmod 755 "$policy"

export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends "${missing[@]}"

# Should a service have been started all the same (an init system that ignores policy-rc.d),
# stop it: the benchmark's etcd must be the only one, and must not share a data directory.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet etcd 2>/dev/null; then
  systemctl stop etcd || true
  systemctl disable etcd || true
fi
