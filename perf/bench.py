#!/usr/bin/env python3
"""Whole-switch benchmark: ferrovs next to dpdk-testpmd on the same devices.

Every case forwards 60-byte UDP/IPv4 frames (64 on the wire) from a
net_pcap port that replays a pcap from memory forever (infinite_rx=1) to a
net_null port that drops them, with one forwarding core (lcore 1) and the
control plane on lcore 0, as ../shared/design/PERF.md describes. Each run
warms up, then counts the packets sent on the output port over a window;
each case runs --repeat times and the median is reported, with the ratio
to the peer from the same run.

  ferrovs patch   ferrovs run --patch in0:out0 (port-to-port, no lookup)
  testpmd io      dpdk-testpmd --forward-mode=io (rx then tx, no packet access)

DPDK always gets --no-pci. Hugepages are used when mounted and free
(--setup-hugepages reserves 1 GiB as root); otherwise both switches run
with --no-huge and the report says so.
"""

import argparse
import json
import os
import re
import selectors
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FERROVS = ROOT / "target" / "release" / "ferrovs"
MBUFS = 262143


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def hugepages_free():
    try:
        mounted = any(l.split()[2] == "hugetlbfs" for l in open("/proc/mounts"))
        free = next(int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("HugePages_Free:"))
        return mounted and free >= 512
    except (OSError, StopIteration, IndexError):
        return False


def setup_hugepages():
    Path("/proc/sys/vm/nr_hugepages").write_text("1024\n")
    os.makedirs("/dev/hugepages", exist_ok=True)
    if not any(l.split()[2] == "hugetlbfs" for l in open("/proc/mounts")):
        subprocess.run(["mount", "-t", "hugetlbfs", "nodev", "/dev/hugepages"], check=True)


def pcap_for(flows, workdir):
    path = Path(workdir) / f"flows-{flows}.pcap"
    if not path.exists():
        subprocess.run([sys.executable, str(ROOT / "scripts" / "gen-traffic.py"), "--out", str(path),
                        "--flows", str(flows)], check=True)
    return path


def run_ferrovs_patch(pcap, warmup, duration):
    """Returns Mpps sent on out0 over the window, from ferrovs' own counters.
    ferrovs picks hugepages or --no-huge by itself, as testpmd is told to."""
    cmd = [str(FERROVS), "run", "--pmd-cores", "1", "--mbufs", str(MBUFS),
           "--port", f"in0=net_pcap0,rx_pcap={pcap},infinite_rx=1",
           "--port", "out0=net_null0,no-rx=1", "--patch", "in0:out0"]
    proc = subprocess.Popen(["taskset", "-c", "0,1"] + cmd, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, bufsize=1)
    pattern = re.compile(r"out0: rx \d+ \([^)]*\) tx (\d+) ")
    samples = []
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    start = time.monotonic()
    try:
        while time.monotonic() - start < warmup + duration + 30:
            if not sel.select(timeout=1):
                if proc.poll() is not None:
                    break
                continue
            line = proc.stdout.readline()
            if not line:
                break
            m = pattern.search(line)
            if m:
                samples.append((time.monotonic(), int(m.group(1))))
            elapsed = time.monotonic() - start
            if elapsed >= warmup and len(samples) >= 2:
                first = next((s for s in samples if s[0] - start >= warmup), None)
                if first and samples[-1][0] - first[0] >= duration:
                    return (samples[-1][1] - first[1]) / (samples[-1][0] - first[0]) / 1e6
        raise RuntimeError("ferrovs printed no usable status lines")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run_testpmd(pcap, mode, warmup, duration, huge):
    """Returns testpmd's Tx-pps of port 1 over the window, in Mpps."""
    prefix = f"ferrovs-bench-tp-{os.getpid()}"
    mem = ["--in-memory"] if huge else ["--no-huge", "-m", str(MBUFS * 4608 // (1 << 20) + 256)]
    cmd = ["taskset", "-c", "0,1", "dpdk-testpmd", "-l", "0,1", "-n", "1", "--no-pci", "--no-telemetry",
           f"--file-prefix={prefix}", *mem,
           f"--vdev=net_pcap0,rx_pcap={pcap},infinite_rx=1", "--vdev=net_null0,no-rx=1",
           "--", "-i", f"--forward-mode={mode}", "--nb-cores=1", f"--total-num-mbufs={MBUFS + 1}"]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    try:
        def send(c):
            proc.stdin.write(c + "\n")
            proc.stdin.flush()
        time.sleep(3)
        send("start")
        time.sleep(warmup)
        send("show port stats all")
        time.sleep(duration)
        send("show port stats all")
        send("stop")
        send("quit")
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        run_dir = Path("/var/run/dpdk") / prefix
        if run_dir.is_dir():
            subprocess.run(["rm", "-rf", str(run_dir)], check=False)
    # The last "Tx-pps" of port 1 covers exactly the window.
    blocks = out.split("NIC statistics for port 1")
    m = re.search(r"Tx-pps:\s+(\d+)", blocks[-1]) if len(blocks) > 1 else None
    if not m:
        raise RuntimeError("testpmd printed no Tx-pps for port 1:\n" + out[-2000:])
    return int(m.group(1)) / 1e6


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--flows", default="1,1000,100000", help="comma-separated flow counts")
    ap.add_argument("--warmup", type=float, default=5)
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--setup-hugepages", action="store_true", help="reserve 1 GiB of 2 MB hugepages (root)")
    ap.add_argument("--json", help="also write the results to this file")
    args = ap.parse_args()

    if os.geteuid() != 0:
        sys.exit("perf/bench.py: DPDK needs root; run it with sudo")
    if not FERROVS.exists():
        sys.exit("perf/bench.py: build first: cargo build --release")
    if args.setup_hugepages and not hugepages_free():
        setup_hugepages()
    huge = hugepages_free()
    if not huge:
        log("warning: no free hugepages; both switches run with --no-huge (use --setup-hugepages)")

    results = {}
    with tempfile.TemporaryDirectory(prefix="ferrovs-bench-") as work:
        for flows in [int(f) for f in args.flows.split(",")]:
            pcap = pcap_for(flows, work)
            for name, fn in (("ferrovs patch", lambda: run_ferrovs_patch(pcap, args.warmup, args.duration)),
                             ("testpmd io", lambda: run_testpmd(pcap, "io", args.warmup, args.duration, huge))):
                runs = []
                for r in range(args.repeat):
                    log(f"[{name}, {flows} flows] run {r + 1}/{args.repeat} ...")
                    runs.append(fn())
                    log(f"[{name}, {flows} flows] run {r + 1}: {runs[-1]:.2f} Mpps")
                results.setdefault(name, {})[flows] = {"median": statistics.median(runs), "runs": runs}

    flows_list = sorted({f for r in results.values() for f in r})
    print(f"\nMpps forwarded, median of {args.repeat} ({'hugepages' if huge else '--no-huge'}), "
          f"{args.warmup:g} s warm-up, {args.duration:g} s window, one PMD core\n")
    print("| case | " + " | ".join(f"{f} flows" for f in flows_list) + " |")
    print("|---|" + "---:|" * len(flows_list))
    for name, r in results.items():
        print(f"| {name} | " + " | ".join(f"{r[f]['median']:.2f}" for f in flows_list) + " |")
    ratio = [results["ferrovs patch"][f]["median"] / results["testpmd io"][f]["median"] for f in flows_list]
    print("| ratio ferrovs / testpmd io | " + " | ".join(f"{x:.2f}" for x in ratio) + " |")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
