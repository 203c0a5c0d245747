#!/usr/bin/env bash
# Installs, when missing, everything the test suite starts for real: ZooKeeper and Java
# (install-zookeeper.sh), Apache Curator and a JDK for the mixed Curator lines
# (install-curator.sh), Chromium for the status page's browser test (install-chromium.sh), and
# a ZooKeeper 3.4 server beside the current one for the older-server tests
# (install-zookeeper-3.4.sh).
# Idempotent; apt-get runs only for what is missing (as root).
set -euo pipefail
cd "$(dirname "$0")"

./install-zookeeper.sh
./install-curator.sh
./install-chromium.sh
./install-zookeeper-3.4.sh
