#!/usr/bin/env bash
# Checks the example alert rules of the README (the yaml block under "#### Alert rules") with
# Prometheus's promtool: that they parse, and that they fire on the series in
# scripts/alert-rules-test.yml (a vacancy, a conflict, two leaders) and not before. Installs
# Debian's `prometheus` package for promtool when it is missing (as root).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v promtool >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing: promtool; run as root, or: sudo apt-get install -y prometheus" >&2
    exit 1
  fi
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
awk '/^#### Alert rules/ {section=1} section && /^```yaml/ {inside=1; next} inside && /^```/ {exit} inside {print}' \
  README.md > "$work/alert-rules.yml"
[ -s "$work/alert-rules.yml" ] || { echo "no yaml block under '#### Alert rules' in README.md" >&2; exit 1; }
promtool check rules "$work/alert-rules.yml"
cp scripts/alert-rules-test.yml "$work/"
(cd "$work" && promtool test rules alert-rules-test.yml)
