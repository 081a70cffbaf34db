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
        # Packages such as prometheus start a daemon from their postinst. We only want the
        # binaries: a policy-rc.d that denies every start (exit 101) stops invoke-rc.d and
        # deb-systemd-invoke from starting anything. One the admin installed is left alone.
        policy=/usr/sbin/policy-rc.d
        made_policy=0
        if [ ! -e "$policy" ]; then
            printf '#!/bin/sh\n# Written by ferrovs scripts/install-deps.sh during apt-get install.\nexit 101\n' >"$policy"
            chmod 755 "$policy"
            made_policy=1
        fi
        prom_before=" $(pidof prometheus || true) "
        apt-get update -qq
        # Recommends would pull in more daemons (prometheus-node-exporter).
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || status=$?
        if [ "$made_policy" -eq 1 ]; then
            rm -f "$policy"
        fi
        # If a Prometheus daemon started anyway (an admin's policy-rc.d allowed it), stop the
        # ones this install started, by PID; any that ran before are not ours.
        for pid in $(pidof prometheus || true); do
            case "$prom_before" in
                *" $pid "*) ;;
                *)
                    echo "ferrovs: stopping the Prometheus daemon (pid $pid) that installing prometheus started" >&2
                    kill "$pid" 2>/dev/null || true
                    ;;
            esac
        done
    fi
fi

if ! command -v cargo >/dev/null 2>&1; then
    echo "ferrovs: cargo is not installed; install Rust with rustup (https://rustup.rs), then run make again." >&2
    status=1
fi
exit $status
