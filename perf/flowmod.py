#!/usr/bin/env python3
"""flowmod.py - OpenFlow flow_mod install rate: ferrovs versus Open vSwitch 3.1.

What it measures (the benchmark of the "ofproto and connmgr" issue): the wall
time of

    ovs-ofctl -O OpenFlow13 --bundle add-flows TARGET FILE

for FILE = 100,000 distinct OpenFlow 1.3 flows, against

* ferrovs (target/release/ferrovs, two net_null ports — virtual devices only;
  the binary gives DPDK --no-pci itself (pmd::eal::EalArgs) — OpenFlow on
  ptcp:127.0.0.1; and, as a second row, through its unix:DIR/br0.mgmt
  socket, the same transport OVS is measured on), and
* Open vSwitch 3.1 (plain /usr/sbin/ovs-vswitchd, netdev/userspace datapath,
  no DPDK), reached through its bridge management socket unix:DIR/br0.mgmt.
  ovs-vswitchd runs in a private network namespace (`unshare -n`), so the
  bridge's tap device never appears on the host.

Each switch is started fresh for every repetition. Before timing, the flow
table is emptied (`del-flows`, which also removes OVS's default NORMAL flow),
so both start from zero rules. After the install, `dump-aggregate` must report
flow_count equal to the number of flows. Memory per rule is the growth of the
switch process's VmRSS (from /proc/PID/status) across the install, divided by
the number of flows. Switch CPU is the user + system time the switch's threads
used across the install (for ferrovs, without its PMD thread, which polls its
ports all the time whatever the control plane does): on a loaded machine it is
the steadier measure of the work each switch does, while wall time depends on
what else runs. The ratio is also given per repetition (each ferrovs run against
the OVS run next to it in time), so its spread shows.

Needs root (DPDK hugepages for ferrovs, ovsdb/ovs-vswitchd, unshare). Build
ferrovs first with `cargo build --release`; this script builds nothing.
Processes are stopped only by the PIDs this script started (ferrovs) or read
from the pidfiles in its own private directory (OVS). Everything listens on
127.0.0.1 or unix sockets.

Usage: sudo python3 perf/flowmod.py [--flows N] [--reps N] [--ferrovs PATH]
"""

import argparse
import os
import platform
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

OFCTL = ["ovs-ofctl", "-O", "OpenFlow13"]
OVS_SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema"
OVS_VSWITCHD = "/usr/sbin/ovs-vswitchd"


def log(msg):
    print(f"[flowmod] {msg}", file=sys.stderr, flush=True)


def gen_flows(path, n):
    """Write n distinct flows; nw_src encodes the index, so no two collide."""
    with open(path, "w") as f:
        for i in range(n):
            a, b, c = (i >> 16) & 255, (i >> 8) & 255, i & 255
            f.write(
                f"priority=100,udp,nw_src=10.{a}.{b}.{c},nw_dst=172.16.0.1,"
                f"tp_src={1024 + i % 60000},tp_dst=5001,actions=output:2\n"
            )


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for PID {pid}")


def cpu_seconds(pid):
    """CPU time (user + system) of every thread of `pid` except DPDK PMD threads
    (`rte-worker-*`), which poll their ports all the time whatever the control plane does.
    Threads that ended during the install are not counted (none do)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                if f.read().startswith("rte-worker"):
                    continue
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / tick


def pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def wait_gone(pid, seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if not pid_alive(pid):
            return True
        time.sleep(0.05)
    return not pid_alive(pid)


def stop_pid(pid, name):
    """SIGTERM, then SIGKILL, one PID only."""
    if not pid_alive(pid):
        return
    log(f"SIGTERM {name} (PID {pid})")
    os.kill(pid, signal.SIGTERM)
    if not wait_gone(pid, 10):
        log(f"SIGKILL {name} (PID {pid})")
        os.kill(pid, signal.SIGKILL)
        wait_gone(pid, 5)


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def aggregate_count(target):
    out = run(OFCTL + ["dump-aggregate", target]).stdout
    for tok in out.replace("\n", " ").split():
        if tok.startswith("flow_count="):
            return int(tok.split("=", 1)[1])
    raise RuntimeError(f"no flow_count in: {out!r}")


def measure(target, pid, flows_file, n):
    """Empty the table, then time the bundled install.

    Returns (secs, rss_growth, switch cpu, client cpu): the client is ovs-ofctl itself, whose
    CPU time (it parses every flow before sending the first) is a floor under every switch's
    wall time."""
    run(OFCTL + ["del-flows", target])
    if aggregate_count(target) != 0:
        raise RuntimeError("flow table not empty after del-flows")
    time.sleep(0.5)
    rss0 = rss_bytes(pid)
    cpu0 = cpu_seconds(pid)
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    run(OFCTL + ["--bundle", "add-flows", target, flows_file], timeout=600)
    secs = time.monotonic() - t0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = cpu_seconds(pid) - cpu0
    client = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
    count = aggregate_count(target)
    if count != n:
        raise RuntimeError(f"flow_count={count}, expected {n}")
    rss1 = rss_bytes(pid)
    return secs, rss1 - rss0, cpu, client


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listen(port, proc, seconds=60):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"ferrovs exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"ferrovs did not listen on 127.0.0.1:{port}")


def ferrovs_cmd(binary, d, port):
    return [binary, "run", "--quiet", "--ctl", f"{d}/ctl",
            "--listen", f"ptcp:{port}",
            "--port", "p0=net_null0,no-rx=1", "--port", "p1=net_null1,no-rx=1",
            "--mbufs", "4095"]


def one_ferrovs(binary, flows_file, n, unix=False):
    d = tempfile.mkdtemp(prefix="flowmod-ferrovs.")
    port = free_port()
    cmd = ferrovs_cmd(binary, d, port)
    with open(f"{d}/ferrovs.log", "w") as logf:
        proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT)
    try:
        wait_listen(port, proc)
        target = f"unix:{d}/br0.mgmt" if unix else f"tcp:127.0.0.1:{port}"
        return measure(target, proc.pid, flows_file, n)
    except Exception:
        with open(f"{d}/ferrovs.log") as f:
            log("ferrovs log tail:\n" + "".join(f.readlines()[-20:]))
        raise
    finally:
        # Our own child: wait() reaps it (a zombie would still answer kill 0).
        log(f"SIGTERM ferrovs (PID {proc.pid})")
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            log(f"SIGKILL ferrovs (PID {proc.pid})")
            proc.kill()
            proc.wait()
        shutil.rmtree(d, ignore_errors=True)


def read_pid(path):
    with open(path) as f:
        return int(f.read().strip())


def one_ovs(flows_file, n):
    d = tempfile.mkdtemp(prefix="flowmod-ovs.")
    env = dict(os.environ, OVS_RUNDIR=d, OVS_LOGDIR=d, OVS_DBDIR=d)
    db = f"--db=unix:{d}/db.sock"
    ovsdb_pid = vswitchd_pid = None
    try:
        run(["ovsdb-tool", "create", f"{d}/conf.db", OVS_SCHEMA], env=env)
        run(["ovsdb-server", f"{d}/conf.db", f"--remote=punix:{d}/db.sock",
             f"--pidfile={d}/ovsdb.pid", f"--unixctl={d}/ovsdb.ctl",
             "--detach", "--no-chdir", f"--log-file={d}/ovsdb.log",
             "-vconsole:off"], env=env)
        ovsdb_pid = read_pid(f"{d}/ovsdb.pid")
        run(["ovs-vsctl", db, "--no-wait", "init"], env=env)
        run(["unshare", "-n", OVS_VSWITCHD, f"unix:{d}/db.sock",
             f"--pidfile={d}/vswitchd.pid", f"--unixctl={d}/vswitchd.ctl",
             "--detach", "--no-chdir", f"--log-file={d}/vswitchd.log",
             "-vconsole:off"], env=env)
        vswitchd_pid = read_pid(f"{d}/vswitchd.pid")
        run(["ovs-vsctl", db, "--timeout=30", "add-br", "br0", "--",
             "set", "bridge", "br0", "datapath_type=netdev",
             "protocols=OpenFlow10,OpenFlow13"], env=env)
        target = f"unix:{d}/br0.mgmt"
        end = time.monotonic() + 30
        while not os.path.exists(f"{d}/br0.mgmt"):
            if time.monotonic() > end:
                raise RuntimeError("br0.mgmt never appeared")
            time.sleep(0.1)
        return measure(target, vswitchd_pid, flows_file, n)
    except Exception:
        for name in ("vswitchd.log", "ovsdb.log"):
            p = f"{d}/{name}"
            if os.path.exists(p):
                with open(p) as f:
                    log(f"{name} tail:\n" + "".join(f.readlines()[-15:]))
        raise
    finally:
        if vswitchd_pid:
            subprocess.run(["ovs-appctl", "--timeout=20", "-t", f"{d}/vswitchd.ctl",
                            "exit", "--cleanup"], capture_output=True, env=env)
            if not wait_gone(vswitchd_pid, 20):
                stop_pid(vswitchd_pid, "ovs-vswitchd")
        if ovsdb_pid:
            subprocess.run(["ovs-appctl", "--timeout=10", "-t", f"{d}/ovsdb.ctl", "exit"],
                           capture_output=True, env=env)
            if not wait_gone(ovsdb_pid, 10):
                stop_pid(ovsdb_pid, "ovsdb-server")
        shutil.rmtree(d, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--flows", type=int, default=100_000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--ferrovs", default="target/release/ferrovs")
    ap.add_argument("--skip-ovs", action="store_true")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("needs root (DPDK hugepages, ovs-vswitchd, unshare)")
    if not os.access(args.ferrovs, os.X_OK):
        sys.exit(f"{args.ferrovs} not found: run `cargo build --release` first")

    work = tempfile.mkdtemp(prefix="flowmod.")
    flows_file = f"{work}/flows.txt"
    gen_flows(flows_file, args.flows)
    n = args.flows

    results = {"ferrovs": [], "ferrovs (unix)": [], "OVS 3.1": []}
    errors = {}
    for rep in range(args.reps):
        log(f"rep {rep + 1}: ferrovs")
        results["ferrovs"].append(one_ferrovs(args.ferrovs, flows_file, n))
        log(f"  {results['ferrovs'][-1][0]:.3f} s")
        log(f"rep {rep + 1}: ferrovs over unix:DIR/br0.mgmt")
        results["ferrovs (unix)"].append(one_ferrovs(args.ferrovs, flows_file, n, unix=True))
        log(f"  {results['ferrovs (unix)'][-1][0]:.3f} s")
        if args.skip_ovs or "OVS 3.1" in errors:
            continue
        log(f"rep {rep + 1}: OVS")
        try:
            results["OVS 3.1"].append(one_ovs(flows_file, n))
            log(f"  {results['OVS 3.1'][-1][0]:.3f} s")
        except Exception as e:  # report, keep the ferrovs half
            errors["OVS 3.1"] = f"{type(e).__name__}: {e}"
            stderr = getattr(e, "stderr", None)
            if stderr:
                errors["OVS 3.1"] += f" / stderr: {stderr.strip()}"
            log(f"OVS failed: {errors['OVS 3.1']}")
    shutil.rmtree(work, ignore_errors=True)

    ovs_ver = run(["ovs-vswitchd", "--version"]).stdout.splitlines()[0]
    print(f"flows: {n} distinct OpenFlow 1.3 flows, e.g. "
          "`priority=100,udp,nw_src=10.0.0.1,nw_dst=172.16.0.1,tp_src=1025,"
          "tp_dst=5001,actions=output:2`; repetitions: "
          f"{args.reps}, fresh process each; {ovs_ver}; kernel {platform.release()}\n")
    print("| switch | rep | seconds | flows/s | switch CPU (s) | ovs-ofctl CPU (s) "
          "| RSS growth (MiB) | RSS growth per rule (bytes) |")
    print("|---|---|---|---|---|---|---|---|")
    med = {}
    for name, rows in results.items():
        for i, (secs, grow, cpu, client) in enumerate(rows):
            print(f"| {name} | {i + 1} | {secs:.3f} | {n / secs:,.0f} | {cpu:.2f} | "
                  f"{client:.2f} | {grow / 2**20:.1f} | {grow / n:.0f} |")
        if rows:
            med[name] = tuple(statistics.median(r[k] for r in rows) for k in range(4))
            print(f"| **{name} median** | | **{med[name][0]:.3f}** | "
                  f"**{n / med[name][0]:,.0f}** | **{med[name][2]:.2f}** | "
                  f"**{med[name][3]:.2f}** | "
                  f"{med[name][1] / 2**20:.1f} | **{med[name][1] / n:.0f}** |")
    for name in ("ferrovs", "ferrovs (unix)"):
        if name in med and "OVS 3.1" in med:
            ratio = med["OVS 3.1"][0] / med[name][0]
            print(f"\nratio {name}/OVS (flows/s, medians): **{ratio:.2f}×** (target ≥ 2×)")
            # Per repetition: each ferrovs run against the OVS run next to it in time.
            pairs = [o[0] / f[0] for f, o in zip(results[name], results["OVS 3.1"])]
            print(f"ratio {name}/OVS per repetition: "
                  + ", ".join(f"{r:.2f}×" for r in pairs)
                  + f" (min {min(pairs):.2f}×, max {max(pairs):.2f}×)")
            if med[name][2] > 0:
                print(f"switch CPU per install, OVS/{name} (medians): "
                      f"**{med['OVS 3.1'][2] / med[name][2]:.2f}×**")
    if "OVS 3.1" in med and med["OVS 3.1"][3] > 0:
        # ovs-ofctl parses the whole file before it sends a message, so no switch can finish
        # sooner than the client's own CPU time: this is the best ratio any switch could get.
        clients = [r[3] for rows in results.values() for r in rows]
        print(f"\nceiling with ovs-ofctl as the client: OVS's median wall time over ovs-ofctl's "
              f"median CPU time = **{med['OVS 3.1'][0] / statistics.median(clients):.2f}×** "
              f"(ovs-ofctl CPU per run: {min(clients):.2f}–{max(clients):.2f} s)")
    for name, err in errors.items():
        print(f"\n{name} did not run: {err}")
    print("\nCommands:\n")
    print("```")
    print("# ferrovs")
    print(" ".join(ferrovs_cmd(args.ferrovs, "DIR", "PORT")))
    print(" ".join(OFCTL) + " --bundle add-flows tcp:127.0.0.1:PORT flows.txt")
    print(" ".join(OFCTL) + " --bundle add-flows unix:DIR/br0.mgmt flows.txt   # ferrovs (unix)")
    print("# OVS (OVS_RUNDIR/OVS_LOGDIR/OVS_DBDIR=DIR)")
    print(f"unshare -n {OVS_VSWITCHD} unix:DIR/db.sock --pidfile=DIR/vswitchd.pid "
          "--unixctl=DIR/vswitchd.ctl --detach --no-chdir --log-file=DIR/vswitchd.log")
    print("ovs-vsctl --db=unix:DIR/db.sock add-br br0 -- set bridge br0 "
          "datapath_type=netdev protocols=OpenFlow10,OpenFlow13")
    print(" ".join(OFCTL) + " --bundle add-flows unix:DIR/br0.mgmt flows.txt")
    print("# both, before timing / after")
    print(" ".join(OFCTL) + " del-flows TARGET;  " + " ".join(OFCTL) + " dump-aggregate TARGET")
    print("```")


if __name__ == "__main__":
    main()
