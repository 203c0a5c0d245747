#!/usr/bin/env bash
# Installs what the tests and the demo need to start real ZooKeeper servers, when missing:
# Java and Debian's `zookeeper` package (jars under /usr/share/java). Does nothing when
# ZOOKEEPER_HOME or ZK_ELECTION_CLASSPATH points at another ZooKeeper. The testkit's TLS servers
# also need /usr/share/java/netty-codec.jar, from libnetty-java, which `zookeeper` depends on.
set -euo pipefail

have_zookeeper() {
  [ -n "${ZK_ELECTION_CLASSPATH:-}" ] || [ -n "${ZOOKEEPER_HOME:-}" ] || [ -f /usr/share/java/zookeeper.jar ]
}

if have_zookeeper && command -v java >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "ZooKeeper or Java is missing; run as root, or: sudo apt-get install -y zookeeper" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y zookeeper
command -v java >/dev/null 2>&1 || apt-get install -y default-jre-headless
