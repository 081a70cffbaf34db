//! Live traffic through ferrovs between network namespaces.
//!
//! Topology: the switch (and, when there is one, the os-ken controller) runs inside its own
//! namespace `S`; each host is a namespace with one veth end (fixed MAC, 10.77.0.x/24) whose peer
//! sits in `S` and is a `net_af_packet` port of the switch. No test interface ever appears in the
//! root namespace, and dropping the namespace guards removes every veth. The switch gives DPDK
//! `--no-pci` itself (pmd::eal::EalArgs): only the `net_af_packet` ports named here are used.
//!
//! - With the os-ken learning switch (tests/e2e/learning_switch.py) as controller, hosts ping
//!   each other both ways; the datapath then holds megaflows for both directions and the
//!   OpenFlow table holds the rules the controller learned, with traffic counted on them.
//! - With no controller and `--fail-mode standalone`, the NORMAL learning switch runs from the
//!   start: three hosts ping every pair and the MAC table lists all three.

mod common;
mod e2e;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{logged, Switch, TempDir};
use e2e::Netns;

const MACS: [&str; 3] = [
    "02:77:00:00:00:0a",
    "02:77:00:00:00:0b",
    "02:77:00:00:00:0c",
];
const ADDRS: [&str; 3] = ["10.77.0.1", "10.77.0.2", "10.77.0.3"];

/// `ping` must exist: the tests fail rather than skip without it.
fn require_ping() {
    let found = std::process::Command::new("ping")
        .arg("-V")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(found, "`ping` (Debian package iputils-ping) is required");
}

/// Pings `to` from `from` three times; every echo must come back.
fn ping(from: &Netns, to: &str) {
    let out = from.try_exec(&["ping", "-n", "-c", "3", "-i", "0.2", "-W", "2", to]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("3 packets transmitted, 3 received"),
        "ping {to} from {}: {text}{}",
        from.name,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The switch namespace plus `n` hosts attached to it as ports p0, p1, … (veths swN/ethN).
fn topology(tag: &str, n: usize) -> (Netns, Vec<Netns>) {
    let sw = Netns::new(&format!("{tag}-s"));
    let hosts: Vec<Netns> = (0..n)
        .map(|i| {
            let h = Netns::new(&format!("{tag}-h{i}"));
            e2e::attach_host(
                &sw,
                &h,
                &format!("sw{i}"),
                &format!("eth{i}"),
                MACS[i],
                ADDRS[i],
            );
            h
        })
        .collect();
    (sw, hosts)
}

/// `ferrovs run` inside `sw` with one af_packet port per host, plus `extra` flags.
fn start_switch(sw: &Netns, n: usize, ctl: &Path, extra: &[&str]) -> Switch {
    let bin = common::binary();
    let ports: Vec<String> = (0..n)
        .map(|i| format!("p{i}=net_af_packet{i},iface=sw{i}"))
        .collect();
    let mut args = vec![
        "netns",
        "exec",
        &sw.name,
        bin.to_str().expect("utf-8 path"),
        "run",
        "--quiet",
        "--ctl",
        ctl.to_str().expect("utf-8 path"),
    ];
    for p in &ports {
        args.push("--port");
        args.push(p);
    }
    args.extend_from_slice(extra);
    let mut s = Switch::start_with("ip", &[], &args);
    s.wait_stderr(Duration::from_secs(60), |l| {
        logged(l).starts_with(&format!("running with {n} port(s)"))
    });
    s
}

/// The packets `host` received on `ifname` so far.
fn rx_packets(host: &Netns, ifname: &str) -> u64 {
    let out = host.ip(&["-s", "-j", "link", "show", ifname]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("ip -j is JSON");
    v[0]["stats64"]["rx"]["packets"]
        .as_u64()
        .unwrap_or_else(|| panic!("no rx packets in {out}"))
}

/// Stops the switch and checks it exits cleanly with every mbuf back in its pool.
fn stop(mut switch: Switch) {
    let status = switch.signal_and_wait(libc::SIGTERM);
    assert!(status.success(), "{:#?}", switch.stderr_lines);
    let last = switch.stderr_lines.last().cloned().unwrap_or_default();
    let counts: Vec<&str> = logged(&last)
        .strip_prefix("stopped; ")
        .and_then(|r| r.split(" mbufs").next())
        .map(|r| r.split(" of ").collect())
        .unwrap_or_default();
    assert!(
        counts.len() == 2 && counts[0] == counts[1],
        "mbufs leaked or no stop line: {last}"
    );
}

/// Sends `len` bytes over TCP from `client` to a sink in `server` listening on `addr`; the
/// sink must count exactly `len`.
fn tcp_transfer(client: &Netns, server: &Netns, addr: &str, len: usize) {
    let sink = format!(
        "import socket\n\
         s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
         s.bind(('{addr}', 5001)); s.listen(1); s.settimeout(10)\n\
         print('ready', flush=True)\n\
         c, _ = s.accept(); c.settimeout(10); n = 0\n\
         while True:\n\
         \x20   d = c.recv(65536)\n\
         \x20   if not d: break\n\
         \x20   n += len(d)\n\
         print('got', n, flush=True)\n"
    );
    let mut server_proc = Switch::start_with(
        "ip",
        &[],
        &["netns", "exec", &server.name, "python3", "-c", &sink],
    );
    server_proc.wait_stdout(Duration::from_secs(10), |l| l == "ready");
    let send = format!(
        "import socket\n\
         s = socket.create_connection(('{addr}', 5001), timeout=10)\n\
         s.sendall(b'x' * {len}); s.close()\n"
    );
    client.exec(&["python3", "-c", &send]);
    let want = format!("got {len}");
    server_proc.wait_stdout(Duration::from_secs(15), |l| l.starts_with("got"));
    assert!(
        server_proc.stdout_lines.contains(&want),
        "TCP sink: {:?}",
        server_proc.stdout_lines
    );
}

/// Polls `f` (up to 5 s) until it returns Some.
fn eventually<T>(what: &str, mut f: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match f() {
            Ok(v) => return v,
            Err(last) if Instant::now() > deadline => panic!("{what}; last seen:\n{last}"),
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

#[test]
fn osken_learning_switch_pings_both_ways_and_leaves_megaflows_and_counted_rules() {
    require_ping();
    let python = e2e::osken_python();
    let dir = TempDir::new("e2e-ls");
    let ctl = dir.path("ferrovs.ctl");
    let mgmt = dir.path("br0.mgmt");
    let (sw, hosts) = topology("ls", 2);

    let port = e2e::free_port().to_string();
    let launcher = e2e::py_dir().join("osken_run.py");
    let app = e2e::py_dir().join("learning_switch.py");
    let mut osken = Switch::start_with(
        "ip",
        &[],
        &[
            "netns",
            "exec",
            &sw.name,
            python.to_str().expect("utf-8 path"),
            launcher.to_str().expect("utf-8 path"),
            &port,
            app.to_str().expect("utf-8 path"),
        ],
    );
    osken.wait_stdout(Duration::from_secs(30), |l| l == "osken: listening");
    let controller = format!("tcp:127.0.0.1:{port}");
    let switch = start_switch(
        &sw,
        2,
        &ctl,
        &["--controller", &controller, "--fail-mode", "secure"],
    );
    osken.wait_stdout(Duration::from_secs(20), |l| {
        l.starts_with("learning_switch: connected dpid=")
    });

    ping(&hosts[0], ADDRS[1]);
    ping(&hosts[1], ADDRS[0]);

    // The datapath caches both directions as megaflows on the learned MAC pair.
    let dp = e2e::appctl(&ctl, &["dpctl/dump-flows"]);
    for (inp, src, dst, out) in [(1, MACS[0], MACS[1], 2), (2, MACS[1], MACS[0], 1)] {
        let key = format!("in_port({inp}),eth(src={src},dst={dst})");
        assert!(
            dp.lines()
                .any(|l| l.contains(&key) && l.ends_with(&format!("actions:{out}"))),
            "no megaflow {key} -> {out} in:\n{dp}"
        );
    }

    // The controller's rules: the table-miss and one learned rule per direction, each having
    // counted traffic once the datapath's statistics reach them.
    let learned = [
        format!(
            "priority=1,in_port=1,dl_src={},dl_dst={} actions=output:2",
            MACS[0], MACS[1]
        ),
        format!(
            "priority=1,in_port=2,dl_src={},dl_dst={} actions=output:1",
            MACS[1], MACS[0]
        ),
    ];
    eventually("learned rules with traffic in ovs-ofctl dump-flows", || {
        let flows = e2e::ofctl(&mgmt, "dump-flows", &[]);
        let rules: Vec<&str> = flows.lines().skip(1).collect();
        let ok = rules.len() == 3
            && rules
                .iter()
                .any(|r| r.ends_with("priority=0 actions=CONTROLLER:65535"))
            && learned.iter().all(|want| {
                rules
                    .iter()
                    .any(|r| r.ends_with(want.as_str()) && n_packets(r).is_some_and(|n| n >= 2))
            });
        if ok {
            Ok(())
        } else {
            Err(flows)
        }
    });

    stop(switch);
}

/// The `n_packets=N` of an `ovs-ofctl dump-flows` line.
fn n_packets(line: &str) -> Option<u64> {
    let rest = line.split("n_packets=").nth(1)?;
    rest.split(',').next()?.parse().ok()
}

#[test]
fn normal_standalone_without_controller_switches_every_pair_at_once() {
    require_ping();
    let dir = TempDir::new("e2e-normal");
    let ctl = dir.path("ferrovs.ctl");
    let (sw, hosts) = topology("nm", 3);
    let started = Instant::now();
    let mut switch = start_switch(&sw, 3, &ctl, &["--fail-mode", "standalone"]);
    switch.wait_stderr(Duration::from_secs(5), |l| {
        logged(l) == "no controller: standalone fail mode, acting as a learning switch"
    });

    // No controller is configured, so fail-open must not wait for probe intervals: the first
    // ping works right away (the 15 s wait applies only when a controller is configured).
    ping(&hosts[0], ADDRS[1]);
    assert!(
        started.elapsed() < Duration::from_secs(12),
        "first ping only after {:?}",
        started.elapsed()
    );
    for (i, h) in hosts.iter().enumerate() {
        for (j, addr) in ADDRS.iter().enumerate() {
            if i != j {
                ping(h, addr);
            }
        }
    }

    // A bulk TCP transfer (a megabyte, so full-sized segments both ways) arrives intact.
    tcp_transfer(&hosts[2], &hosts[0], ADDRS[0], 1_000_000);

    let fdb = e2e::appctl(&ctl, &["fdb/show", "br0"]);
    let mut entries: Vec<(u32, u32, String)> = fdb
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            Some((
                f.first()?.parse().ok()?,
                f.get(1)?.parse().ok()?,
                f.get(2)?.to_string(),
            ))
        })
        .collect();
    entries.sort();
    let want: Vec<(u32, u32, String)> = (0..3)
        .map(|i| (i + 1, 0, MACS[i as usize].to_string()))
        .collect();
    assert_eq!(entries, want, "fdb/show br0:\n{fdb}");

    stop(switch);
}

#[test]
fn normal_stops_flooding_a_destination_once_it_is_learned() {
    require_ping();
    let dir = TempDir::new("e2e-flood");
    let ctl = dir.path("ferrovs.ctl");
    let (sw, hosts) = topology("fl", 3);
    // Static neighbours: no ARP, so A's first echo request goes to a MAC the switch has
    // never seen and must flood; B's reply teaches B's MAC.
    hosts[0].ip(&[
        "neigh",
        "add",
        ADDRS[1],
        "lladdr",
        MACS[1],
        "dev",
        "eth0",
        "nud",
        "permanent",
    ]);
    hosts[1].ip(&[
        "neigh",
        "add",
        ADDRS[0],
        "lladdr",
        MACS[0],
        "dev",
        "eth1",
        "nud",
        "permanent",
    ]);
    let switch = start_switch(&sw, 3, &ctl, &["--fail-mode", "standalone"]);
    let before = rx_packets(&hosts[2], "eth2");
    ping(&hosts[0], ADDRS[1]);
    // C saw the first request only; the megaflow that flooded it went with the learning.
    assert_eq!(rx_packets(&hosts[2], "eth2") - before, 1);
    let dp = e2e::appctl(&ctl, &["dpctl/dump-flows"]);
    let key = format!("in_port(1),eth(src={},dst={})", MACS[0], MACS[1]);
    assert!(
        dp.lines()
            .any(|l| l.contains(&key) && l.ends_with("actions:2")),
        "no unicast megaflow {key} -> 2 in:\n{dp}"
    );
    stop(switch);
}

#[test]
fn standalone_with_an_unreachable_controller_fails_open_after_three_probe_intervals() {
    require_ping();
    let dir = TempDir::new("e2e-failopen");
    let ctl = dir.path("ferrovs.ctl");
    let (sw, hosts) = topology("fo", 2);
    // Nothing listens on this port inside the switch's namespace.
    let controller = format!("tcp:127.0.0.1:{}", e2e::free_port());
    let started = Instant::now();
    let mut switch = start_switch(
        &sw,
        2,
        &ctl,
        &["--controller", &controller, "--fail-mode", "standalone"],
    );
    // Before fail-open, a miss has nowhere to go.
    let out = hosts[0].try_exec(&["ping", "-n", "-c", "1", "-W", "1", ADDRS[1]]);
    assert!(
        !out.status.success(),
        "a ping got through before fail-open: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    switch.wait_stderr(Duration::from_secs(30), |l| {
        logged(l) == "no controller: standalone fail mode, acting as a learning switch"
    });
    let waited = started.elapsed();
    // 3 probe intervals of 5 s; the switch's own start-up is part of `waited`.
    assert!(
        waited >= Duration::from_secs(14) && waited < Duration::from_secs(25),
        "fail-open after {waited:?}"
    );
    ping(&hosts[0], ADDRS[1]);
    ping(&hosts[1], ADDRS[0]);
    stop(switch);
}
