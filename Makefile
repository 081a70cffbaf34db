# ferrovs: two commands do everything on a fresh Debian 12 machine.
#   make run    install what is missing, build (release), start the demo switch
#   make test   install what is missing, run every test
# Other targets: deps, build, bench, clean.

SHELL := /bin/bash
CARGO ?= cargo
# Debian packages the build, the tests and the demo need.
# prometheus: promtool and the server the metrics tests start (no daemon is left running; see
# scripts/install-deps.sh).
DEB_PACKAGES := libdpdk-dev dpdk libclang-dev pkg-config openvswitch-common python3 python3-venv shellcheck iproute2 iputils-ping ethtool prometheus
# The benchmark's peers: dpdk-testpmd (dpdk-dev).
BENCH_PACKAGES := dpdk-dev
DEMO_DIR ?= /tmp/ferrovs-demo

# A short fuzz pass over every fuzz target (the long runs are done by hand).
FUZZ_RUNS ?= 200000

.PHONY: run test deps build bench clean fuzz-smoke

deps:
	@scripts/install-deps.sh $(DEB_PACKAGES)

build: deps
	$(CARGO) build --release

# The demo uses virtual devices only; ferrovs gives DPDK --no-pci itself.
run: build
	@mkdir -p $(DEMO_DIR)
	@python3 scripts/gen-traffic.py --out $(DEMO_DIR)/traffic.pcap --flows 1000
	@echo "Demo: net_pcap port p0 replays $(DEMO_DIR)/traffic.pcap forever; p0 is patched to p1 (net_null). Ctrl-C stops."
	./target/release/ferrovs run \
		--port p0=net_pcap0,rx_pcap=$(DEMO_DIR)/traffic.pcap,infinite_rx=1 \
		--port p1=net_null0,no-rx=1 \
		--patch p0:p1

test: deps
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) test --workspace
	$(MAKE) fuzz-smoke

fuzz-smoke:
	@rustup toolchain list 2>/dev/null | grep -q '^nightly' || { \
		echo "ferrovs: the fuzz pass needs a nightly toolchain: rustup toolchain install nightly" >&2; exit 1; }
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	$(CARGO) +nightly fuzz run ofp_decode -- -runs=$(FUZZ_RUNS)
	$(CARGO) +nightly fuzz run ofp_flow_syntax -- -runs=$(FUZZ_RUNS)
	cd pmd && $(CARGO) +nightly fuzz run parse -- -runs=$(FUZZ_RUNS)

bench: build
	@scripts/install-deps.sh $(BENCH_PACKAGES)
	python3 perf/bench.py $(BENCH_ARGS)

clean:
	$(CARGO) clean
	rm -rf $(DEMO_DIR)
