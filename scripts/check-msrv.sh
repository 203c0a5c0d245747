#!/usr/bin/env bash
# The MSRV check this machine can run (no other toolchain can be installed here): the
# `rust-version` in Cargo.toml must be at least the highest `rust-version` declared by any
# locked dependency a user builds — normal and build dependencies, every feature, on Linux,
# macOS and Windows (cargo tree evaluates each target's cfgs, so a dependency only a `cfg(loom)`
# test build pulls in does not count). Dev-dependencies are ours alone and do not count.
set -euo pipefail
cd "$(dirname "$0")/.."

targets="x86_64-unknown-linux-gnu aarch64-apple-darwin x86_64-pc-windows-msvc"
built=$(for target in $targets; do
  cargo tree --locked --all-features --target "$target" -e normal,build --prefix none --format '{p}'
done | sed 's/ (.*//' | sort -u)

cargo metadata --format-version 1 --locked --all-features | BUILT="$built" python3 -c '
import json, os, sys

def version(text):
    parts = [int(p) for p in text.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))

built = {tuple(line.split(" v", 1)) for line in os.environ["BUILT"].splitlines() if " v" in line}
metadata = json.load(sys.stdin)
ours = next(p for p in metadata["packages"] if p["id"] in metadata["workspace_members"])
stated = ours.get("rust_version")
if not stated:
    sys.exit("Cargo.toml states no rust-version")
needs = [(version(p["rust_version"]), p["name"], p["version"], p["rust_version"])
         for p in metadata["packages"]
         if p.get("rust_version") and (p["name"], p["version"]) in built and p["id"] != ours["id"]]
highest = max(needs)
if highest[0] > version(stated):
    sys.exit(f"rust-version {stated} is below {highest[3]}, which {highest[1]} {highest[2]} needs")
print(f"rust-version {stated} covers all {len(built)} packages built (highest: {highest[1]} {highest[2]} needs {highest[3]})")
'
