#!/bin/sh
# Container entrypoint for ferrovs.
#
# Before `ferrovs run`, it checks that the container can use hugepages: a hugetlbfs mounted at
# the hugepage directory, and free hugepages in the kernel's accounting. It reserves and mounts
# nothing itself (a container should not change the host's memory). Without usable hugepages it
# says how to run the container with them and starts ferrovs anyway: the binary sees the same
# thing and falls back to DPDK's --no-huge, which works everywhere but is slower. When `run` is
# given a --config FILE that the container cannot read, it says how to mount one. Any other
# command (check-config, appctl, --help, --version) is passed straight through.
#
# The files it reads can be overridden, so that tests can run it on fake ones:
#   FERROVS_HUGEPAGE_DIR  hugepage mount point       (default /dev/hugepages)
#   FERROVS_MOUNTS        mount table                (default /proc/mounts)
#   FERROVS_MEMINFO       kernel memory accounting   (default /proc/meminfo)
# ferrovs itself gives DPDK --no-pci unless a --port names a PCI device.
set -eu

hugepage_dir=${FERROVS_HUGEPAGE_DIR:-/dev/hugepages}
mounts=${FERROVS_MOUNTS:-/proc/mounts}
meminfo=${FERROVS_MEMINFO:-/proc/meminfo}

say() {
    printf 'ferrovs-entrypoint: %s\n' "$*" >&2
}

# Succeeds if a hugetlbfs is mounted exactly at directory $1.
is_hugetlbfs_mount() {
    [ -r "$mounts" ] &&
        awk -v dir="$1" '$2 == dir && $3 == "hugetlbfs" { found = 1 } END { exit !found }' \
            "$mounts"
}

# Prints HugePages_Free (pages of the default size), or 0 if the kernel does not report it.
free_hugepages() {
    free=
    if [ -r "$meminfo" ]; then
        free=$(awk '$1 == "HugePages_Free:" { print $2; exit }' "$meminfo")
    fi
    case $free in
    '' | *[!0-9]*) echo 0 ;;
    *) echo "$free" ;;
    esac
}

explain_no_hugepages() {
    say "$1: DPDK falls back to --no-huge (4 KiB pages: slower, more TLB misses)."
    say "To use hugepages, reserve them on the host and mount them into the container:"
    say "  on the host:  echo 1024 > /proc/sys/vm/nr_hugepages   (1024 pages of 2 MiB)"
    say "  docker run -v /dev/hugepages:/dev/hugepages --cap-add SYS_NICE IMAGE run ..."
    say "The mount is all DPDK needs for virtual devices (net_ring, net_pcap, net_null,"
    say "vhost-user): they use virtual addresses as IO addresses, so neither --privileged"
    say "nor SYS_ADMIN nor IPC_LOCK is required. SYS_NICE lets DPDK place memory on NUMA"
    say "nodes (Docker's default seccomp profile blocks mbind/set_mempolicy without it)."
    say "Physical NICs bound to vfio-pci also need --device /dev/vfio/vfio,"
    say "--device /dev/vfio/GROUP and --cap-add IPC_LOCK (VFIO pins DMA memory)."
    say "--privileged works too, but grants far more than DPDK needs."
}

# The value of --config FILE or --config=FILE among the arguments, if any.
config_arg() {
    want=
    for arg in "$@"; do
        if [ -n "$want" ]; then
            printf '%s\n' "$arg"
            return 0
        fi
        case $arg in
        --config) want=1 ;;
        --config=*)
            printf '%s\n' "${arg#--config=}"
            return 0
            ;;
        esac
    done
}

if [ "${1:-}" = run ]; then
    config=$(config_arg "$@")
    if [ -n "$config" ] && [ ! -r "$config" ]; then
        say "cannot read the configuration file $config. Mount yours, e.g."
        say "  docker run -v \"\$PWD/ferrovs.toml:$config:ro\" IMAGE"
        say "(an example with every key: /etc/ferrovs/ferrovs.example.toml in the image),"
        say "or give the settings as flags: docker run IMAGE run --port p0=DEVARGS ..."
    fi
    free=$(free_hugepages)
    if ! is_hugetlbfs_mount "$hugepage_dir"; then
        explain_no_hugepages "no hugetlbfs is mounted at $hugepage_dir"
    elif [ "$free" -eq 0 ]; then
        explain_no_hugepages "hugetlbfs is mounted at $hugepage_dir but HugePages_Free is 0 in $meminfo"
    else
        say "hugepages: $free free, hugetlbfs mounted at $hugepage_dir"
    fi
fi

exec ferrovs "$@"
