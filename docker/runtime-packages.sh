#!/bin/sh
# Prints the Debian packages that provide the shared libraries BINARY loads, one per line,
# sorted. The Dockerfile's build stage runs it so that the runtime stage installs exactly the
# DPDK libraries the binary links against, and keeps doing so as the code starts using more of
# DPDK. A library that no package owns is an error: an image that cannot start the binary must
# not build.
#
# usage: runtime-packages.sh BINARY
set -eu

if [ "$#" -ne 1 ]; then
    echo "usage: $0 BINARY" >&2
    exit 2
fi

# dpkg knows each file by the path its package ships, but on a merged-/usr system ldd may
# report /lib/... for a file shipped as /usr/lib/... (or the reverse), and a symlink's target
# may be what the package owns. Try each spelling.
package_of() {
    for candidate in "$1" "$(readlink -f "$1")"; do
        for path in "$candidate" "/usr$candidate" "${candidate#/usr}"; do
            if owner=$(dpkg -S "$path" 2>/dev/null); then
                # "libc6:amd64: /lib/x86_64-linux-gnu/libc.so.6" -> "libc6"
                printf '%s\n' "${owner%%:*}"
                return 0
            fi
        done
    done
    echo "runtime-packages: no Debian package owns $1" >&2
    return 1
}

# Each step on its own line: a plain sh pipeline reports only its last command's failure.
linked=$(ldd "$1")
if printf '%s\n' "$linked" | grep 'not found' >&2; then
    echo "runtime-packages: $1 needs libraries that are not installed" >&2
    exit 1
fi
libraries=$(printf '%s\n' "$linked" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }')
packages=
for library in $libraries; do
    package=$(package_of "$library")
    packages="$packages$package
"
done
printf '%s' "$packages" | sort -u
