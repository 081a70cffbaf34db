#!/usr/bin/env bash
# Installs the Debian packages ferrovs needs, if any are missing.
# As root it runs apt-get; otherwise it prints the exact command to run.
set -euo pipefail

missing=()
for pkg in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$pkg")
    fi
done

status=0
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "ferrovs: these Debian packages are missing: ${missing[*]}" >&2
        echo "Install them as root, then run make again:" >&2
        echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
        status=1
    else
        echo "ferrovs: installing ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
fi

if ! command -v cargo >/dev/null 2>&1; then
    echo "ferrovs: cargo is not installed; install Rust with rustup (https://rustup.rs), then run make again." >&2
    status=1
fi
exit $status
