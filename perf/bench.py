#!/usr/bin/env python3
"""Whole-switch benchmark: ferrovs next to dpdk-testpmd on the same devices.

Every case forwards 60-byte UDP/IPv4 frames (64 on the wire) from a
net_pcap port that replays a pcap from memory forever (infinite_rx=1) to a
net_null port that drops them, with one forwarding core (lcore 1) and the
control plane on lcore 0, as ../shared/design/PERF.md describes. Each run
warms up, then counts the packets sent on the output port over a window;
each case runs --repeat times and the median is reported, with the ratio
to the peer from the same run.

Cases (PERF.md's tables; traffic from scripts/gen-traffic.py, datapath
flows from perf/gen-flows.py, which documents how each table is built):
  ferrovs-p2p-{1,1k,100k}   in_port(1), actions:2
  ferrovs-acl-{1,1k,100k}   the megaflows of the 1,000-rule ACL with prefix
                            tracking (7,563 flows in 9 masks at 100k)
  ferrovs-exact-100k        100,000 exact 5-tuple megaflows
  tp-{io,macswap}-{1,1k,100k}  dpdk-testpmd --forward-mode=io / macswap
The ferrovs rate is the change of out0's TX packets (`dpctl/show -s` over
the control socket) over the window; `dpif-netdev/pmd-stats-clear` runs at
its start and `pmd-stats-show` at its end, so EMC / megaflow / simple-match
shares, subtables per hit and cycles per packet cover exactly the window.
--cpu-time also reports the PMD thread's on-CPU time per forwarded packet
over the window (from /proc/PID/task/TID/schedstat), in ns and in cycles
at the CPU's nominal clock. Unlike pmd-stats-show's cycles per packet
(TSC time, which counts the time the PMD is preempted by other work) it
leaves out time spent descheduled, so two builds compare more fairly on a
loaded machine. (Instruction counts would be better still, but the VMs
this runs on expose no hardware counters to `perf stat`; count them with
callgrind on the criterion benches instead.) --binary runs another build
(e.g. a saved baseline).
--ovs runs ../shared/tools/ovs-peer/ovs-anchor.sh for the matching ovs-*
cases (one run each) and prints ferrovs/OVS; without it, or when OVS
cannot run, the OVS column is PERF.md's, and the output says so.

  sudo perf/bench.py                                   # everything
  sudo perf/bench.py --cases 'ferrovs-acl-*' --warmup 2 --duration 4 --repeat 1

DPDK always gets --no-pci. Hugepages are used when mounted and free
(--setup-hugepages reserves 1 GiB as root); otherwise both switches run
with --no-huge and the report says so.
"""

import argparse
import fnmatch
import json
import os
import re
import signal
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


def appctl(sock, *args):
    return subprocess.run(["taskset", "-c", "0", "ovs-appctl", "-t", str(sock), *args], check=True,
                          capture_output=True, text=True, timeout=30).stdout


def port_tx(sock, port):
    """Packets sent on datapath port `port`, from `dpctl/show -s`."""
    out = appctl(sock, "dpctl/show", "-s")
    m = re.search(rf"port {port}: .*\n\s+RX packets:\d+ bytes:\d+\n\s+TX packets:(\d+)", out)
    if not m:
        raise RuntimeError("no TX packets for port %d in dpctl/show -s:\n%s" % (port, out))
    return int(m.group(1))


def parse_pmd_stats(text):
    """The counters bench reports from `dpif-netdev/pmd-stats-show`."""
    def num(label, cast=int):
        m = re.search(rf"{label}:\s+([\d.]+)", text)
        return cast(m.group(1)) if m else None
    rx = num("packets received") or 0
    st = {"rx": rx, "emc_hits": num("emc hits"), "megaflow_hits": num("megaflow hits"),
          "simple_hits": num("simple match hits"),
          "subtables_per_hit": num("avg. subtable lookups per megaflow hit", float),
          "misses": num("miss with success upcall"),
          "cycles_per_pkt": num("avg processing cycles per packet", float)}
    for k in ("emc_hits", "megaflow_hits", "simple_hits"):
        st[k.replace("_hits", "_pct")] = 100.0 * st[k] / rx if rx and st[k] is not None else None
    return st


def pmd_thread(pid):
    """The thread id of ferrovs' PMD: DPDK names worker lcore threads
    `rte-worker-N`; with several, the one that has run the most."""
    best, best_t = None, -1
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            if not (task / "comm").read_text().startswith("rte-worker"):
                continue
            t = int((task / "schedstat").read_text().split()[0])
        except (OSError, IndexError, ValueError):
            continue
        if t > best_t:
            best, best_t = int(task.name), t
    return best


def on_cpu_ns(pid, tid):
    """Nanoseconds thread `tid` of `pid` has run on a CPU so far."""
    return int(Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()[0])


def cpu_mhz():
    """The CPU's nominal clock in MHz (the first `cpu MHz` line)."""
    for line in open("/proc/cpuinfo"):
        if line.startswith("cpu MHz"):
            return float(line.split(":")[1])
    return None


def run_ferrovs(pcap, flows_file, warmup, duration, work, cpu_time=False):
    """Returns (Mpps sent on out0 over the window, PMD counters of the window).
    ferrovs picks hugepages or --no-huge by itself, as testpmd is told to."""
    sock = Path(work) / f"ctl-{os.getpid()}.sock"
    cmd = [str(FERROVS), "run", "--pmd-cores", "1", "--mbufs", str(MBUFS),
           "--port", f"in0=net_pcap0,rx_pcap={pcap},infinite_rx=1",
           "--port", "out0=net_null0,no-rx=1", "--flows", str(flows_file), "--ctl", str(sock)]
    proc = subprocess.Popen(["taskset", "-c", "0,1"] + cmd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120  # 100k flows take a while to load
        while not sock.exists():
            if proc.poll() is not None:
                raise RuntimeError("ferrovs exited: " + proc.stderr.read()[-2000:])
            if time.monotonic() > deadline:
                raise RuntimeError("ferrovs did not open its control socket")
            time.sleep(0.2)
        time.sleep(warmup)
        appctl(sock, "dpif-netdev/pmd-stats-clear")
        tid = pmd_thread(proc.pid) if cpu_time else None
        cpu1 = on_cpu_ns(proc.pid, tid) if tid is not None else None
        t1, tx1 = time.monotonic(), port_tx(sock, 2)
        time.sleep(duration)
        t2, tx2 = time.monotonic(), port_tx(sock, 2)
        cpu2 = on_cpu_ns(proc.pid, tid) if tid is not None else None
        st = parse_pmd_stats(appctl(sock, "dpif-netdev/pmd-stats-show"))
        show = appctl(sock, "dpctl/show")
        m = re.search(r"flows: (\d+)", show)
        st["dp_flows"] = int(m.group(1)) if m else None
        m = re.search(r"masks: hit:\d+ total:(\d+)", show)
        st["masks"] = int(m.group(1)) if m else None
        if tid is not None and tx2 > tx1:
            st["cpu_ns_per_pkt"] = (cpu2 - cpu1) / (tx2 - tx1)
            mhz = cpu_mhz()
            st["cpu_cycles_per_pkt"] = st["cpu_ns_per_pkt"] * mhz / 1000 if mhz else None
            st["cpu_share"] = (cpu2 - cpu1) / 1e9 / (t2 - t1)
        return (tx2 - tx1) / (t2 - t1) / 1e6, st
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
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


LABEL = {1: "1", 1000: "1k", 100000: "100k"}
TABLES = ("p2p", "acl", "exact")

# OVS 3.1 figures from ../shared/design/PERF.md, used when --ovs is not given
# or OVS cannot run (same machine kind, median of 6).
PERF_MD = {"ovs-p2p-1": 24.6, "ovs-p2p-1k": 23.7, "ovs-p2p-100k": 19.0,
           "ovs-acl-1": 21.1, "ovs-acl-1k": 17.4, "ovs-acl-100k": 5.2, "ovs-exact-100k": 3.9,
           "tp-io-1": 75.3, "tp-io-1k": 65.5, "tp-io-100k": 42.2,
           "tp-macswap-1": 67.9, "tp-macswap-1k": 61.0, "tp-macswap-100k": 47.8}


def all_cases(flows_list):
    """Case names in run order: ferrovs tables, then testpmd modes."""
    cases = []
    for table in TABLES:
        for n in flows_list:
            if table == "exact" and n != 100000:
                continue  # one megaflow per flow is only the 100k case's point
            cases.append((f"ferrovs-{table}-{LABEL.get(n, n)}", n))
    for mode in ("io", "macswap"):
        for n in flows_list:
            cases.append((f"tp-{mode}-{LABEL.get(n, n)}", n))
    return cases


def run_ovs_anchor(cases, warmup, duration, out_dir):
    """Runs the OVS peer harness for the matching ovs-* cases; returns
    {case: mpps} or None when it cannot run."""
    anchor = ROOT.parent / "shared" / "tools" / "ovs-peer" / "ovs-anchor.sh"
    if not anchor.exists() or not Path("/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk").exists():
        log("OVS peer unavailable (harness or openvswitch-switch-dpdk missing)")
        return None
    names = [c.replace("ferrovs-", "ovs-") for c, _ in cases if c.startswith("ferrovs-")]
    if not names:
        return {}
    log(f"[ovs] running {anchor} --cases {','.join(names)}")
    r = subprocess.run(["bash", str(anchor), "--cases", ",".join(names), "--warmup", str(warmup),
                        "--duration", str(duration), "--out", str(out_dir)], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    (Path(out_dir) / "anchor.log").write_text(r.stdout)
    try:
        sums = json.loads((Path(out_dir) / "summary.json").read_text())
    except (OSError, ValueError):
        log("OVS peer failed; see " + str(Path(out_dir) / "anchor.log"))
        return None
    return {s["case"]: s for s in sums if s.get("mpps") is not None}


def fmt(v, spec="{:.2f}"):
    return "-" if v is None else spec.format(v)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--flows", default="1,1000,100000", help="comma-separated flow counts")
    ap.add_argument("--cases", default="*", help="comma-separated globs over case names "
                    "(ferrovs-{p2p,acl}-{1,1k,100k}, ferrovs-exact-100k, tp-{io,macswap}-{1,1k,100k})")
    ap.add_argument("--warmup", type=float, default=5)
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--ovs", action="store_true", help="also run the OVS peer (ovs-anchor.sh) on the same cases, "
                    "once each")
    ap.add_argument("--interleave", action="store_true", help="with --ovs, run each OVS case right after "
                    "the matching ferrovs case (fairer on a machine whose load drifts; OVS restarts per case)")
    ap.add_argument("--ovs-out", help="directory for the OVS peer's raw output (default: a temporary one)")
    ap.add_argument("--setup-hugepages", action="store_true", help="reserve 1 GiB of 2 MB hugepages (root)")
    ap.add_argument("--json", help="also write the results to this file")
    ap.add_argument("--cpu-time", action="store_true", help="report the PMD thread's on-CPU time per "
                    "packet over the window (ns, and cycles at the nominal clock), and its CPU share")
    ap.add_argument("--binary", help="the ferrovs binary to run (default: target/release/ferrovs)")
    args = ap.parse_args()
    global FERROVS
    if args.binary:
        FERROVS = Path(args.binary).resolve()

    if os.geteuid() != 0:
        sys.exit("perf/bench.py: DPDK needs root; run it with sudo")
    if not FERROVS.exists():
        sys.exit("perf/bench.py: build first: cargo build --release")
    if args.setup_hugepages and not hugepages_free():
        setup_hugepages()
    huge = hugepages_free()
    if not huge:
        log("warning: no free hugepages; both switches run with --no-huge (use --setup-hugepages)")

    globs = args.cases.split(",")
    cases = [(c, n) for c, n in all_cases([int(f) for f in args.flows.split(",")])
             if any(fnmatch.fnmatch(c, g) for g in globs)]
    results = {}
    ovs_interleaved = {}
    with tempfile.TemporaryDirectory(prefix="ferrovs-bench-") as work:
        ovs_root = args.ovs_out or os.path.join(work, "ovs")
        for case, n in cases:
            pcap = pcap_for(n, work)
            if case.startswith("ferrovs-"):
                table = case.split("-")[1]
                flows_file = Path(work) / f"{table}-{n}.flows"
                if not flows_file.exists():
                    with open(flows_file, "w") as f:
                        subprocess.run([sys.executable, str(ROOT / "perf" / "gen-flows.py"), table,
                                        "--flows", str(n)], stdout=f, check=True)
                fn = lambda: run_ferrovs(pcap, flows_file, args.warmup, args.duration, work,  # noqa: E731
                                         args.cpu_time)
            else:
                mode = case.split("-")[1]
                fn = lambda: (run_testpmd(pcap, mode, args.warmup, args.duration, huge), {})  # noqa: E731
            runs = []
            for r in range(args.repeat):
                mpps, st = fn()
                runs.append({"mpps": mpps, **st})
                log(f"[{case}] run {r + 1}/{args.repeat}: {mpps:.2f} Mpps "
                    + " ".join(f"{k}={fmt(v)}" for k, v in st.items() if k.endswith(("pct", "per_hit", "pkt", "share"))))
            med = sorted(runs, key=lambda x: x["mpps"])[len(runs) // 2]
            results[case] = {"flows": n, "median": med, "runs": runs}
            if args.ovs and args.interleave and case.startswith("ferrovs-"):
                got = run_ovs_anchor([(case, n)], args.warmup, args.duration, os.path.join(ovs_root, case))
                if got:
                    ovs_interleaved.update(got)
                    log(f"[{case.replace('ferrovs-', 'ovs-')}] {next(iter(got.values()))['mpps']:.2f} Mpps")
        ovs, ovs_src = None, "PERF.md (2026-11-21, median of 6; not this run)"
        if args.ovs and args.interleave:
            if ovs_interleaved:
                ovs = ovs_interleaved
                ovs_src = "this run, each case right after ferrovs' (ovs-anchor.sh, one run per case)"
        elif args.ovs:
            ovs = run_ovs_anchor(cases, args.warmup, args.duration, ovs_root)
            if ovs is not None:
                ovs_src = "this run (ovs-anchor.sh, one run per case)"
        if ovs is None:
            ovs = {k: {"mpps": v} for k, v in PERF_MD.items() if k.startswith("ovs-")}
            if args.ovs:
                log("OVS could not run here; using PERF.md's figures")

    print(f"\nMpps forwarded, ferrovs and testpmd median of {args.repeat} "
          f"({'hugepages' if huge else '--no-huge'}), {args.warmup:g} s warm-up, {args.duration:g} s window, "
          f"one PMD core. OVS: {ovs_src}.\n")
    print("| case | ferrovs | OVS | ferrovs/OVS | target | testpmd macswap | ferrovs/macswap "
          "| EMC % | megaflow % | simple % | subtables/hit | cycles/pkt | dp flows | masks |"
          + (" on-CPU ns/pkt | on-CPU cycles/pkt | PMD CPU share |" if args.cpu_time else ""))
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
          + ("---:|---:|---:|" if args.cpu_time else ""))
    for case, r in results.items():
        if not case.startswith("ferrovs-"):
            continue
        m = r["median"]
        label = case.split("-", 2)[2]
        o = ovs.get(case.replace("ferrovs-", "ovs-"), {}).get("mpps")
        tp = results.get(f"tp-macswap-{label}", {}).get("median", {}).get("mpps")
        target = 2.0 if label == "100k" else 1.5
        print(f"| {case} | {m['mpps']:.2f} | {fmt(o)} | {fmt(m['mpps'] / o if o else None)} | {target:.1f}x "
              f"| {fmt(tp)} | {fmt(m['mpps'] / tp if tp else None)} | {fmt(m.get('emc_pct'), '{:.1f}')} "
              f"| {fmt(m.get('megaflow_pct'), '{:.1f}')} | {fmt(m.get('simple_pct'), '{:.1f}')} "
              f"| {fmt(m.get('subtables_per_hit'))} | {fmt(m.get('cycles_per_pkt'), '{:.0f}')} "
              f"| {fmt(m.get('dp_flows'), '{}')} | {fmt(m.get('masks'), '{}')} |"
              + (f" {fmt(m.get('cpu_ns_per_pkt'), '{:.1f}')} | {fmt(m.get('cpu_cycles_per_pkt'), '{:.0f}')} "
                 f"| {fmt(m.get('cpu_share'))} |" if args.cpu_time else ""))
    tp_cases = [c for c in results if c.startswith("tp-")]
    if tp_cases:
        print("\n| testpmd case | Mpps | PERF.md |")
        print("|---|---:|---:|")
        for c in tp_cases:
            print(f"| {c} | {results[c]['median']['mpps']:.2f} | {fmt(PERF_MD.get(c))} |")
    if args.json:
        Path(args.json).write_text(json.dumps({"results": results, "ovs": ovs, "ovs_source": ovs_src}, indent=2))


if __name__ == "__main__":
    main()
