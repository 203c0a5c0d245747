#!/usr/bin/env bash
# Installs what the mixed Curator/zk-election tests need, when missing: Debian's Apache Curator
# 5 jars (libcurator-*-java, under /usr/share/java) and a JDK with javac (the testkit's
# CuratorContender is compiled at test time). ZooKeeper itself comes from install-zookeeper.sh,
# which this runs first. Idempotent.
set -euo pipefail
cd "$(dirname "$0")"

./install-zookeeper.sh

missing=()
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
apt-get update
apt-get install -y --no-install-recommends "${missing[@]}"
