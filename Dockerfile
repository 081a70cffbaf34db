# syntax=docker/dockerfile:1
#
# The ferrovs container image: the switch, the DPDK runtime libraries and poll-mode drivers it
# needs, and an entrypoint that checks for hugepages before starting it.
#
#   docker build -t ferrovs .
#   docker run --rm -v /dev/hugepages:/dev/hugepages --cap-add SYS_NICE \
#       -v "$PWD/traffic:/traffic" ferrovs run \
#       --port p0=net_pcap0,rx_pcap=/traffic/in.pcap,infinite_rx=1 \
#       --port p1=net_null0,no-rx=1 --patch p0:p1
#
# Without hugepages the entrypoint explains how to provide them and ferrovs runs with
# --no-huge. `.dockerignore` keeps the local target/ out of the build context.

# ---- build: compile ferrovs against Debian's DPDK 22.11 ----
# Debian's own rustc (1.63) is older than the workspace's rust-version; the official image
# carries a current toolchain on the same Debian release, so the DPDK packages match.
FROM rust:1-bookworm AS build

RUN apt-get update \
    && apt-get install -y --no-install-recommends libdpdk-dev libclang-dev clang pkg-config \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY . .

# The cache mounts keep downloaded crates and compiled dependencies between builds; the binary
# is copied out of the cached target directory because the cache is not part of the image.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin ferrovs \
    && mkdir -p /out \
    && cp target/release/ferrovs /out/ferrovs

# Which Debian packages provide the libraries the binary links: the runtime stage installs
# exactly those, so a new DPDK library used by the code needs no change here.
RUN sh docker/runtime-packages.sh /out/ferrovs > /out/runtime-packages \
    && cat /out/runtime-packages

# ---- runtime ----
FROM debian:bookworm-slim

# EAL loads poll-mode drivers as plugins from its driver directory, so the binary's link list
# does not name them: install the ones to support here. mempool-ring provides the default
# mempool ops and bus-vdev the virtual devices; the rest are the virtual ports the tests and
# demos use (ring, pcap, null, tap, af_packet, vhost-user, virtio) and common NFV NICs.
# Override at build time, e.g. --build-arg DPDK_PMDS="librte-mempool-ring23 ... librte-net-mlx5-23".
ARG DPDK_PMDS="\
    librte-mempool-ring23 \
    librte-bus-vdev23 \
    librte-bus-pci23 \
    librte-net-ring23 \
    librte-net-pcap23 \
    librte-net-null23 \
    librte-net-tap23 \
    librte-net-af-packet23 \
    librte-net-vhost23 \
    librte-net-virtio23 \
    librte-net-i40e23 \
    librte-net-iavf23 \
    librte-net-ixgbe23 \
    librte-net-e1000-23 \
    librte-net-vmxnet3-23"

COPY --from=build /out/runtime-packages /tmp/runtime-packages
# DPDK_PMDS is a list of package names: it is split into words on purpose.
RUN apt-get update \
    && xargs -a /tmp/runtime-packages \
        apt-get install -y --no-install-recommends $DPDK_PMDS \
    && rm -rf /var/lib/apt/lists/* /tmp/runtime-packages \
    && mkdir -p /run/ferrovs

COPY --from=build /out/ferrovs /usr/local/bin/ferrovs
COPY --chmod=0755 docker/entrypoint.sh /usr/local/bin/ferrovs-entrypoint

# 6653: OpenFlow (when asked for with --listen ptcp:6653:0.0.0.0).
# 9477: Prometheus /metrics (when asked for with --metrics 0.0.0.0:9477).
EXPOSE 6653 9477

ENTRYPOINT ["/usr/local/bin/ferrovs-entrypoint"]
CMD ["run"]
