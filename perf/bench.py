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
OpenFlow-driven cases (no hand-written datapath flows: ferrovs starts with an
empty datapath, the table is loaded with `ovs-ofctl --bundle add-flows` over
its management socket, and every megaflow comes from upcalls; compared with
the ovs-* case of the same table):
  ferrovs-of-p2p-N          in_port=1,actions=output:2
  ferrovs-of-normal-N       actions=NORMAL (OVS adds a static FDB entry for
                            the destination; ferrovs has no fdb/add, so its
                            NORMAL floods to out0 and LOCAL: see the report)
  ferrovs-of-acl-N          the anchor's 1,000-rule ACL (gen_pcap.py --acl)
  ferrovs-of-exact-100k     the same ACL with nw_src masked 0.255.255.255:
                            not a prefix, so prefix tracking cannot help and
                            every flow needs its own megaflow (OVS gets there
                            with prefixes=none, which ferrovs does not have)
  ferrovs-setup-100k        flow setups per second: per round, del-flows
                            (every megaflow goes), then the exact table is
                            added back and the 100k-flow pcap's first pass is
                            timed until 100,000 flows were translated;
                            compared with ovs-setup-100k
  firstpkt                  first-packet latency p50/p99 of new flows, and of
                            a known flow's packets, through ferrovs and, with
                            --ovs, through OVS-DPDK on the same net_af_packet
                            ports: two veth pairs in a network namespace the
                            script creates and deletes, new flows sent one by
                            one from Python raw sockets with their send time
                            in the payload. Python's own timing (tens of us)
                            is in both figures; compare the two switches.
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
  sudo perf/bench.py --cases 'ferrovs-of-*,ferrovs-setup-100k,firstpkt' --ovs

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


OFCTL = ["taskset", "-c", "0", "ovs-ofctl", "-O", "OpenFlow13", "--timeout=60"]


def ofctl(mgmt, *args):
    """`ovs-ofctl -O OpenFlow13 ARGS` against ferrovs' management socket; a
    flow_mod command returns only after the switch's barrier reply."""
    cmd = list(OFCTL)
    target = f"unix:{mgmt}"
    # Options first, then the command, the target and its arguments.
    opts = [a for a in args if a.startswith("--")]
    rest = [a for a in args if not a.startswith("--")]
    return subprocess.run(cmd + opts + [rest[0], target] + rest[1:], check=True, capture_output=True,
                          text=True, timeout=120).stdout


def start_ferrovs(ports, work, flows_file=None, ns=None):
    """Starts ferrovs on `ports` (NAME=DEVARGS); returns (process, ctl socket,
    management socket) once the control socket is up."""
    sock = Path(work) / f"ctl-{os.getpid()}.sock"
    mgmt = Path(work) / "br0.mgmt"
    cmd = [str(FERROVS), "run", "--quiet", "--pmd-cores", "1", "--mbufs", str(MBUFS), "--ctl", str(sock)]
    for p in ports:
        cmd += ["--port", p]
    if flows_file:
        cmd += ["--flows", str(flows_file)]
    wrap = ["ip", "netns", "exec", ns] if ns else []
    proc = subprocess.Popen(wrap + ["taskset", "-c", "0,1"] + cmd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120  # 100k flows take a while to load
    while not (sock.exists() and mgmt.exists()):
        if proc.poll() is not None:
            raise RuntimeError("ferrovs exited: " + proc.stderr.read()[-2000:])
        if time.monotonic() > deadline:
            stop_ferrovs(proc)
            raise RuntimeError("ferrovs did not open its control sockets")
        time.sleep(0.2)
    return proc, sock, mgmt


def stop_ferrovs(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def upcall_show(sock):
    """ferrovs' `upcall/show` counters as a dict (flows, installed, translated, ...)."""
    out = appctl(sock, "upcall/show")
    return {k: int(v) for k, v in re.findall(r"([a-z_-]+):? (\d+)", out)}


def run_ferrovs(pcap, flows_file, warmup, duration, work, of_table=None, cpu_time=False):
    """Returns (Mpps sent on out0 over the window, PMD counters of the window).
    ferrovs picks hugepages or --no-huge by itself, as testpmd is told to.
    With `of_table`, ferrovs starts with no datapath flow and the OpenFlow
    table is loaded (bundle, barrier) before the warm-up."""
    ports = [f"in0=net_pcap0,rx_pcap={pcap},infinite_rx=1", "out0=net_null0,no-rx=1"]
    proc, sock, mgmt = start_ferrovs(ports, work, None if of_table else flows_file)
    try:
        if of_table:
            ofctl(mgmt, "--bundle", "add-flows", str(of_table))
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
        stop_ferrovs(proc)


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


ANCHOR_DIR = ROOT.parent / "shared" / "tools" / "ovs-peer"


def of_table_file(table, n, work):
    """The OpenFlow table of an ferrovs-of-* case, in ovs-ofctl syntax, as
    the OVS anchor installs it for the ovs-* case of the same name."""
    path = Path(work) / f"of-{table}.flows"
    if path.exists():
        return path
    if table == "p2p":
        path.write_text("in_port=1,actions=output:2\n")
    elif table == "normal":
        path.write_text("actions=NORMAL\n")
    else:
        acl = Path(work) / "of-acl-anchor.flows"
        if not acl.exists():
            subprocess.run([sys.executable, str(ANCHOR_DIR / "gen_pcap.py"), "--acl", "--out", str(acl)],
                           check=True)
        text = acl.read_text()
        if table == "exact":
            # A non-prefix mask: no prefix tracking, one megaflow per flow.
            text = re.sub(r"nw_src=([\d.]+)", r"nw_src=\1/0.255.255.255", text)
        path.write_text(text)
    return path


def run_ferrovs_setup(pcap, table_file, rounds, work):
    """Flow setups per second: per round, every rule goes (del-flows, so
    revalidation deletes every megaflow and the port's packets hit one drop
    megaflow), then the exact table is added back (bundle, barrier) and the
    first pass over the 100k-flow pcap is timed until 100,000 flows were
    translated (`upcall/show`). Returns a summary dict."""
    ports = [f"in0=net_pcap0,rx_pcap={pcap},infinite_rx=1", "out0=net_null0,no-rx=1"]
    proc, sock, mgmt = start_ferrovs(ports, work)
    res = {"rounds": []}
    try:
        for r in range(rounds):
            ofctl(mgmt, "del-flows")
            time.sleep(0.5)
            base = upcall_show(sock)
            appctl(sock, "dpif-netdev/pmd-stats-clear")
            t0 = time.monotonic()
            ofctl(mgmt, "--bundle", "add-flows", str(table_file))
            t_up = time.monotonic()
            t_done = None
            while time.monotonic() - t_up < 60:
                cur = upcall_show(sock)
                if cur.get("translated", 0) - base.get("translated", 0) >= 100000:
                    t_done = time.monotonic()
                    break
                time.sleep(0.01)
            time.sleep(1)
            cur = upcall_show(sock)
            st = parse_pmd_stats(appctl(sock, "dpif-netdev/pmd-stats-show"))
            rd = {"round": r + 1, "load_s": t_up - t0,
                  "first_pass_s": (t_done - t_up) if t_done else None,
                  "translated": cur.get("translated", 0) - base.get("translated", 0),
                  "installed": cur.get("installed", 0) - base.get("installed", 0),
                  "misses": st.get("misses"), "lost": None}
            lost = re.search(r"miss with failed upcall:\s+(\d+)",
                             appctl(sock, "dpif-netdev/pmd-stats-show"))
            rd["lost"] = int(lost.group(1)) if lost else None
            rd["flows_per_s"] = 100000 / rd["first_pass_s"] if rd["first_pass_s"] else None
            log(f"[ferrovs-setup-100k] round {r + 1}: " + " ".join(f"{k}={fmt(v)}" for k, v in rd.items()))
            res["rounds"].append(rd)
    finally:
        stop_ferrovs(proc)
    fps = sorted(x["flows_per_s"] for x in res["rounds"] if x["flows_per_s"])
    res["flows_per_s"] = fps[len(fps) // 2] if fps else None
    res["mpps"] = None
    return res


# ---- first-packet latency -------------------------------------------------

FP_MAGIC = 0xF1257B07


def firstpkt_helper(args):
    """Runs inside the namespace: sends `count` new flows one by one into
    t0 (each packet a new UDP 5-tuple), then `count` packets of one known
    flow, and prints one JSON line of latencies in microseconds (receive
    time on t1 minus send time, both CLOCK_MONOTONIC)."""
    import select
    import socket
    import struct
    ETH_P_ALL = 3
    tx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    tx.bind(("t0", 0))
    rx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    rx.bind(("t1", 0))
    rx.setblocking(False)

    def frame(i, kind, t_ns):
        src = (10 << 24) | (args.base + i)
        payload = struct.pack("!IBIQ", FP_MAGIC, kind, i, t_ns) + bytes(4)
        udp = struct.pack("!HHHH", 1024 + (i % 60000), 5001, 8 + len(payload), 0) + payload
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                         struct.pack("!I", src), bytes([172, 16, 0, 1]))
        words = struct.unpack("!10H", ip)
        c = sum(words)
        c = (c & 0xFFFF) + (c >> 16)
        c = (c & 0xFFFF) + (c >> 16)
        ip = ip[:10] + struct.pack("!H", ~c & 0xFFFF) + ip[12:]
        return bytes.fromhex("020000000002020000000001") + b"\x08\x00" + ip + udp

    lat = {0: [], 1: []}

    def drain(until_ns):
        while True:
            left = (until_ns - time.monotonic_ns()) / 1e9
            r, _, _ = select.select([rx], [], [], max(left, 0))
            if not r:
                return
            try:
                data = rx.recv(2048)
            except BlockingIOError:
                continue
            now = time.monotonic_ns()
            if len(data) < 59 or data[12:14] != b"\x08\x00" or data[23] != 17:
                continue
            magic, kind, _i, t = struct.unpack("!IBIQ", data[42:59])
            if magic == FP_MAGIC:
                lat[kind].append((now - t) / 1000)

    gap = args.gap_us * 1000
    # Kind 1: one known flow, warmed up first.
    tx.send(frame(0, 1, time.monotonic_ns()))
    drain(time.monotonic_ns() + 200_000_000)
    lat[1].clear()
    for kind in (0, 1):
        for i in range(args.count):
            idx = (i + 1) if kind == 0 else 0
            tx.send(frame(idx, kind, time.monotonic_ns()))
            drain(time.monotonic_ns() + gap)
    drain(time.monotonic_ns() + 500_000_000)
    print(json.dumps({"new": lat[0], "known": lat[1], "sent": args.count}))


def pctl(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, int(q * len(v)))] if v else None


def netns_create(name):
    subprocess.run(["ip", "netns", "del", name], capture_output=True)
    subprocess.run(["ip", "netns", "add", name], check=True)
    ns = ["ip", "-n", name]
    subprocess.run(ns + ["link", "set", "lo", "up"], check=True)
    for s_if, t_if in (("s0", "t0"), ("s1", "t1")):
        subprocess.run(ns + ["link", "add", s_if, "type", "veth", "peer", "name", t_if], check=True)
        for i in (s_if, t_if):
            subprocess.run(ns + ["link", "set", i, "up"], check=True)
    for k in ("all", "default"):
        subprocess.run(["ip", "netns", "exec", name, "sysctl", "-qw", f"net.ipv6.conf.{k}.disable_ipv6=1"],
                       check=True)


def run_firstpkt_helper(ns, count, gap_us, base):
    out = subprocess.run(["ip", "netns", "exec", ns, "taskset", "-c", "0", sys.executable, __file__,
                          "--firstpkt-helper", "--count", str(count), "--gap-us", str(gap_us),
                          "--base", str(base)], check=True, capture_output=True, text=True, timeout=600)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    return {"new_p50_us": pctl(r["new"], 0.5), "new_p99_us": pctl(r["new"], 0.99),
            "known_p50_us": pctl(r["known"], 0.5), "known_p99_us": pctl(r["known"], 0.99),
            "new_received": len(r["new"]), "known_received": len(r["known"]), "sent": r["sent"]}


def run_ferrovs_firstpkt(table_file, count, gap_us, work):
    ns = f"fvs-bench-{os.getpid()}"
    netns_create(ns)
    try:
        ports = ["in0=net_af_packet0,iface=s0", "out0=net_af_packet1,iface=s1"]
        proc, sock, mgmt = start_ferrovs(ports, work, ns=ns)
        try:
            ofctl(mgmt, "--bundle", "add-flows", str(table_file))
            return run_firstpkt_helper(ns, count, gap_us, 1)
        finally:
            stop_ferrovs(proc)
    finally:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def run_ovs_firstpkt(table_file, count, gap_us, work):
    """OVS 3.1 with DPDK on the same net_af_packet ports, in the namespace,
    started as ../shared/tools/ovs-peer/README.md describes (private
    database and sockets, --no-pci, PMD on core 1)."""
    vswitchd = os.environ.get("OVS_VSWITCHD", "/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk")
    if not Path(vswitchd).exists():
        log("OVS (openvswitch-switch-dpdk) is not installed; no OVS first-packet figures")
        return None
    ns = f"fvs-bench-ovs-{os.getpid()}"
    run = Path(tempfile.mkdtemp(prefix="ovs-firstpkt-"))
    db = f"unix:{run}/db.sock"
    vsctl = ["ovs-vsctl", f"--db={db}", "--timeout=60"]
    env = dict(os.environ, OVS_RUNDIR=str(run), OVS_LOGDIR=str(run), OVS_DBDIR=str(run))
    pids = []
    netns_create(ns)
    try:
        subprocess.run(["ovsdb-tool", "create", str(run / "conf.db"),
                        "/usr/share/openvswitch/vswitch.ovsschema"], check=True, env=env)
        subprocess.run(["ovsdb-server", str(run / "conf.db"), f"--remote=punix:{run}/db.sock",
                        f"--pidfile={run}/ovsdb-server.pid", f"--unixctl={run}/ovsdb-server.ctl",
                        f"--log-file={run}/ovsdb-server.log", "--detach", "--no-chdir", "-vconsole:off"],
                       check=True, env=env)
        pids.append((run / "ovsdb-server.pid", run / "ovsdb-server.ctl"))
        subprocess.run(vsctl + ["--no-wait", "init"], check=True, env=env)
        subprocess.run(vsctl + ["--no-wait", "set", "Open_vSwitch", ".", "other_config:dpdk-init=true",
                                f"other_config:dpdk-extra=--no-pci --no-telemetry --file-prefix=fvs-fp-{os.getpid()}",
                                "other_config:dpdk-lcore-mask=0x1", "other_config:pmd-cpu-mask=0x2",
                                "other_config:dpdk-socket-mem=512", "other_config:dpdk-socket-limit=1024"],
                       check=True, env=env)
        subprocess.run(["ip", "netns", "exec", ns, "taskset", "-c", "0", vswitchd, db,
                        f"--pidfile={run}/ovs-vswitchd.pid", f"--unixctl={run}/ovs-vswitchd.ctl",
                        f"--log-file={run}/ovs-vswitchd.log", "--detach", "--no-chdir", "-vconsole:off"],
                       check=True, env=env)
        pids.append((run / "ovs-vswitchd.pid", run / "ovs-vswitchd.ctl"))
        subprocess.run(vsctl + ["add-br", "br0", "--", "set", "bridge", "br0", "datapath_type=netdev"],
                       check=True, env=env)
        for name, dev, no in (("in0", "net_af_packet0,iface=s0", 1), ("out0", "net_af_packet1,iface=s1", 2)):
            subprocess.run(vsctl + ["add-port", "br0", name, "--", "set", "Interface", name, "type=dpdk",
                                    f"options:dpdk-devargs={dev}", f"ofport_request={no}"], check=True, env=env)
        subprocess.run(vsctl + ["--", "--id=@ft", "create", "Flow_Table", "name=exact", "prefixes=none",
                                "--", "set", "Bridge", "br0", "flow_tables:0=@ft"], check=True,
                       capture_output=True)
        mgmt = run / "br0.mgmt"
        subprocess.run(["ovs-ofctl", "-O", "OpenFlow13", "replace-flows", f"unix:{mgmt}", str(table_file)],
                       check=True, env=env)
        return run_firstpkt_helper(ns, count, gap_us, 1)
    finally:
        for pidfile, ctl in reversed(pids):
            try:
                pid = int(pidfile.read_text())
            except (OSError, ValueError):
                continue
            subprocess.run(["ovs-appctl", "-t", str(ctl), "exit", "--cleanup"], capture_output=True,
                           timeout=30, env=env)
            # Only the PID we started, and only while it is still that daemon.
            for _ in range(50):
                try:
                    comm = Path(f"/proc/{pid}/comm").read_text().strip()
                except OSError:
                    break
                if not comm.startswith("ovs"):
                    break
                time.sleep(0.1)
            else:
                os.kill(pid, signal.SIGKILL)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        subprocess.run(["rm", "-rf", str(run), f"/var/run/dpdk/fvs-fp-{os.getpid()}"], check=False)


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
    for table in ("p2p", "normal", "acl"):
        for n in flows_list:
            cases.append((f"ferrovs-of-{table}-{LABEL.get(n, n)}", n))
    if 100000 in flows_list:
        cases.append(("ferrovs-of-exact-100k", 100000))
        cases.append(("ferrovs-setup-100k", 100000))
    for mode in ("io", "macswap"):
        for n in flows_list:
            cases.append((f"tp-{mode}-{LABEL.get(n, n)}", n))
    cases.append(("firstpkt", 0))
    return cases


def ovs_name(case):
    """The ovs-anchor case a ferrovs case is compared with."""
    if case.startswith("ferrovs-of-"):
        return "ovs-" + case[len("ferrovs-of-"):]
    return case.replace("ferrovs-", "ovs-")


def run_ovs_anchor(cases, warmup, duration, out_dir):
    """Runs the OVS peer harness for the matching ovs-* cases; returns
    {case: mpps} or None when it cannot run."""
    anchor = ROOT.parent / "shared" / "tools" / "ovs-peer" / "ovs-anchor.sh"
    if not anchor.exists() or not Path("/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk").exists():
        log("OVS peer unavailable (harness or openvswitch-switch-dpdk missing)")
        return None
    names = list(dict.fromkeys(ovs_name(c) for c, _ in cases if c.startswith("ferrovs-")))
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
    return {s["case"]: s for s in sums if s.get("mpps") is not None or s.get("kind") == "setup"}


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
    ap.add_argument("--setup-rounds", type=int, default=3, help="rounds of ferrovs-setup-100k")
    ap.add_argument("--firstpkt-count", type=int, default=2000, help="new flows sent by firstpkt")
    ap.add_argument("--firstpkt-gap-us", type=int, default=1000, help="time between firstpkt packets")
    ap.add_argument("--firstpkt-helper", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--count", type=int, default=2000, help=argparse.SUPPRESS)
    ap.add_argument("--gap-us", type=int, default=1000, help=argparse.SUPPRESS)
    ap.add_argument("--base", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--cpu-time", action="store_true", help="report the PMD thread's on-CPU time per "
                    "packet over the window (ns, and cycles at the nominal clock), and its CPU share")
    ap.add_argument("--binary", help="the ferrovs binary to run (default: target/release/ferrovs)")
    args = ap.parse_args()
    if args.firstpkt_helper:
        firstpkt_helper(args)
        return
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
            if case == "firstpkt":
                r = {"ferrovs": run_ferrovs_firstpkt(of_table_file("exact", n, work), args.firstpkt_count,
                                                     args.firstpkt_gap_us, work)}
                log(f"[firstpkt] ferrovs: {r['ferrovs']}")
                if args.ovs:
                    r["ovs"] = run_ovs_firstpkt(of_table_file("acl", n, work), args.firstpkt_count,
                                                args.firstpkt_gap_us, work)
                    log(f"[firstpkt] ovs: {r['ovs']}")
                results[case] = r
                continue
            pcap = pcap_for(n, work)
            if case == "ferrovs-setup-100k":
                results[case] = run_ferrovs_setup(pcap, of_table_file("exact", n, work), args.setup_rounds,
                                                  work)
                if args.ovs and args.interleave:
                    got = run_ovs_anchor([(case, n)], args.warmup, args.duration, os.path.join(ovs_root, case))
                    ovs_interleaved.update(got or {})
                continue
            if case.startswith("ferrovs-of-"):
                of_table = of_table_file(case.split("-")[2], n, work)
                fn = lambda: run_ferrovs(pcap, None, args.warmup, args.duration, work,  # noqa: E731
                                         of_table=of_table, cpu_time=args.cpu_time)
            elif case.startswith("ferrovs-"):
                table = case.split("-")[1]
                flows_file = Path(work) / f"{table}-{n}.flows"
                if not flows_file.exists():
                    with open(flows_file, "w") as f:
                        subprocess.run([sys.executable, str(ROOT / "perf" / "gen-flows.py"), table,
                                        "--flows", str(n)], stdout=f, check=True)
                fn = lambda: run_ferrovs(pcap, flows_file, args.warmup, args.duration, work,  # noqa: E731
                                         cpu_time=args.cpu_time)
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
                    log(f"[{ovs_name(case)}] {fmt(next(iter(got.values())).get('mpps'))} Mpps")
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
        if not case.startswith("ferrovs-") or "median" not in r:
            continue
        m = r["median"]
        label = case.rsplit("-", 1)[1]
        o = ovs.get(ovs_name(case), {}).get("mpps")
        tp = results.get(f"tp-macswap-{label}", {}).get("median", {}).get("mpps")
        target = 2.0 if label == "100k" else 1.5
        print(f"| {case} | {m['mpps']:.2f} | {fmt(o)} | {fmt(m['mpps'] / o if o else None)} | {target:.1f}x "
              f"| {fmt(tp)} | {fmt(m['mpps'] / tp if tp else None)} | {fmt(m.get('emc_pct'), '{:.1f}')} "
              f"| {fmt(m.get('megaflow_pct'), '{:.1f}')} | {fmt(m.get('simple_pct'), '{:.1f}')} "
              f"| {fmt(m.get('subtables_per_hit'))} | {fmt(m.get('cycles_per_pkt'), '{:.0f}')} "
              f"| {fmt(m.get('dp_flows'), '{}')} | {fmt(m.get('masks'), '{}')} |"
              + (f" {fmt(m.get('cpu_ns_per_pkt'), '{:.1f}')} | {fmt(m.get('cpu_cycles_per_pkt'), '{:.0f}')} "
                 f"| {fmt(m.get('cpu_share'))} |" if args.cpu_time else ""))
    if "ferrovs-setup-100k" in results:
        r = results["ferrovs-setup-100k"]
        o = ovs.get("ovs-setup-100k", {})
        print("\n| flow setup (100k new flows, first pass) | ferrovs | OVS | target |")
        print("|---|---:|---:|---:|")
        print(f"| flows/s, wall clock, median of {len(r['rounds'])} | {fmt(r['flows_per_s'], '{:.0f}')} "
              f"| {fmt(o.get('first_pass_fps'), '{:.0f}')} | 1000000 |")
        print(f"| OVS upcalls/s from its PMD cycles per upcall | - | {fmt(o.get('upcalls_per_s'), '{:.0f}')} | |")
        for rd in r["rounds"]:
            print(f"| ferrovs round {rd['round']}: table load s / first pass s / translated / lost upcalls "
                  f"| {fmt(rd['load_s'])} / {fmt(rd['first_pass_s'])} / {rd['translated']} / {fmt(rd['lost'], '{}')} | | |")
    if "firstpkt" in results:
        r = results["firstpkt"]
        print("\n| first-packet latency, us (Python sender/receiver included) | new p50 | new p99 "
              "| known p50 | known p99 | new received/sent |")
        print("|---|---:|---:|---:|---:|---:|")
        for who in ("ferrovs", "ovs"):
            x = r.get(who)
            if x:
                print(f"| {who} | {fmt(x['new_p50_us'], '{:.0f}')} | {fmt(x['new_p99_us'], '{:.0f}')} "
                      f"| {fmt(x['known_p50_us'], '{:.0f}')} | {fmt(x['known_p99_us'], '{:.0f}')} "
                      f"| {x['new_received']}/{x['sent']} |")
        print("target (PERF.md): new-flow p99 <= 200 us")
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
