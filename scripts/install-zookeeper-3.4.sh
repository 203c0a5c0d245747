#!/usr/bin/env bash
# Unpacks, when missing, a ZooKeeper 3.4 server beside the current one, for the tests of what
# an older server lacks (tests/old_server.rs: no persistent watches, no container nodes): the
# jar of Debian 11's libzookeeper-java 3.4.13, checked against its SHA-256, laid out as a
# ZOOKEEPER_HOME at /opt/zk-election/zookeeper-3.4 with Debian's slf4j and log4j 1.2 beside it.
# Nothing is installed as a package, so the system's ZooKeeper stays as it is. Idempotent.
set -euo pipefail

HOME_DIR=/opt/zk-election/zookeeper-3.4
VERSION=3.4.13-6+deb11u1
DEB="libzookeeper-java_${VERSION}_all.deb"
URL="http://deb.debian.org/debian/pool/main/z/zookeeper/${DEB}"
SHA256=9c4ab50e6d8fef7cd21b4d0a68d1bca1aea93e59022c806f1857504565e4b79d

if [ -f "$HOME_DIR/zookeeper-3.4.13.jar" ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "missing: ZooKeeper 3.4 at $HOME_DIR; run this script as root" >&2
  exit 1
fi
missing=()
command -v curl >/dev/null 2>&1 || missing+=(curl)
[ -f /usr/share/java/log4j-1.2.jar ] || missing+=(liblog4j1.2-java)
[ -f /usr/share/java/slf4j-simple.jar ] || missing+=(libslf4j-java)
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
curl -fsS --retry 3 -o "$work/$DEB" "$URL"
echo "$SHA256  $work/$DEB" | sha256sum -c --quiet -
dpkg-deb -x "$work/$DEB" "$work/x"
mkdir -p "$HOME_DIR/lib"
cp "$work/x/usr/share/java/zookeeper-3.4.13.jar" "$HOME_DIR/"
for jar in slf4j-api slf4j-simple log4j-1.2; do
  ln -sf "/usr/share/java/$jar.jar" "$HOME_DIR/lib/$jar.jar"
done
echo "ZooKeeper 3.4.13 at $HOME_DIR"
