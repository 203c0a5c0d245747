#!/usr/bin/env bash
# Installs what the status-page test (tests/cli_status_page.rs) needs, when missing: Debian's
# headless-capable Chromium. The test drives it over the DevTools protocol on a pipe; it never
# reaches beyond 127.0.0.1. Idempotent.
set -euo pipefail

if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "missing: chromium; run as root, or: sudo apt-get install -y chromium" >&2
  exit 1
fi
apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium
