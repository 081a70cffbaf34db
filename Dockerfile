# syntax=docker/dockerfile:1
#
# The ferrovs container image: the switch, the DPDK runtime libraries and poll-mode drivers it
# needs, an entrypoint that checks hugepages and the config file (it reserves and mounts
# nothing itself), and a HEALTHCHECK that asks the switch over its control socket.
#
#   docker build -t ferrovs .
#   docker run -d --name ferrovs \
#       -v /dev/hugepages:/dev/hugepages --cap-add SYS_NICE \
#       -v "$PWD/ferrovs.toml:/etc/ferrovs/ferrovs.toml:ro" \
#       -p 127.0.0.1:6653:6653 -p 127.0.0.1:9477:9477 \
#       ferrovs run --config /etc/ferrovs/ferrovs.toml \
#           --listen ptcp:6653:0.0.0.0 --metrics 0.0.0.0:9477
#
# Inside the container, 127.0.0.1 is the container's own loopback: the OpenFlow listener and
# the metrics server must bind 0.0.0.0 there to be reachable through -p, which publishes them
# on the host's loopback only. README.md ("Container") explains each option, the minimal
# capabilities versus --privileged, and Kubernetes. `.dockerignore` keeps the local target/ out
# of the build context.

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
COPY --chmod=0755 docker/healthcheck.sh /usr/local/bin/ferrovs-healthcheck
COPY docker/ferrovs.example.toml /etc/ferrovs/ferrovs.example.toml

# 6653: OpenFlow (when asked for with --listen ptcp:6653:0.0.0.0).
# 9477: Prometheus /metrics (when asked for with --metrics 0.0.0.0:9477).
EXPOSE 6653 9477

# Healthy while the switch answers `version` on its control socket (FERROVS_CTL, default
# /run/ferrovs/ferrovs.ctl). The start period covers EAL start-up with large hugepage pools.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/usr/local/bin/ferrovs-healthcheck"]

# SIGTERM (docker stop) makes ferrovs drain and exit 0 within 2 s, well inside Docker's
# 10 s grace period; SIGHUP (docker kill -s HUP) re-reads the config file.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/ferrovs-entrypoint"]
CMD ["run", "--config", "/etc/ferrovs/ferrovs.toml"]
