//! The datapath in the real binary: flows from `--flows` and from the
//! control socket, traffic from `net_pcap`, exact packets out, and counters
//! read with the real `ovs-appctl`. The binary gives DPDK `--no-pci` itself
//! (pmd::eal::EalArgs), so only the virtual devices named here are used.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{logged, read_pcap, write_pcap, Switch, TempDir};
use etherparse::PacketBuilder;

const SRC: [u8; 6] = [2, 0, 0, 0, 0, 1];
const DST: [u8; 6] = [2, 0, 0, 0, 0, 2];

/// `ovs-appctl -t SOCKET ARGS…`: (exit code, stdout, stderr).
fn appctl(socket: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new("ovs-appctl")
        .arg("-t")
        .arg(socket)
        .args(args)
        .output()
        .expect("run ovs-appctl (package openvswitch-common)");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn appctl_ok(socket: &Path, args: &[&str]) -> String {
    let (code, out, err) = appctl(socket, args);
    assert_eq!(code, 0, "{args:?}: {err}");
    out
}

/// Waits until the control socket answers.
fn wait_ctl(socket: &Path) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while appctl(socket, &["version"]).0 != 0 {
        assert!(Instant::now() < deadline, "control socket never answered");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A `pmd-stats-show` line's value, summed over PMDs.
fn stat(show: &str, name: &str) -> u64 {
    show.lines()
        .filter_map(|l| l.trim().strip_prefix(name)?.strip_prefix(": "))
        .map(|v| v.split(' ').next().unwrap_or("").parse::<u64>().unwrap())
        .sum()
}

fn wait_stat(socket: &Path, name: &str, pred: impl Fn(u64) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let show = appctl_ok(socket, &["dpif-netdev/pmd-stats-show"]);
        if pred(stat(&show, name)) {
            return show;
        }
        assert!(Instant::now() < deadline, "{name} never matched: {show}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn payload(i: u32) -> Vec<u8> {
    (0..20u32).map(|k| (k * 7 + i) as u8).collect()
}

fn udp(i: u32, dst_port: u16) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(SRC, DST)
        .ipv4([10, 0, 0, i as u8], [172, 16, 0, 1], 64)
        .udp(1000 + i as u16, dst_port);
    let mut out = Vec::new();
    b.write(&mut out, &payload(i)).unwrap();
    out
}

/// What flow 1 must make of `udp(i, 5001)`: a VLAN 10 tag and a new
/// IPv4 destination, with checksums as an independent builder computes them.
fn udp_rewritten(i: u32) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(SRC, DST)
        .single_vlan(10.try_into().unwrap())
        .ipv4([10, 0, 0, i as u8], [192, 168, 0, 1], 64)
        .udp(1000 + i as u16, 5001);
    let mut out = Vec::new();
    b.write(&mut out, &payload(i)).unwrap();
    out
}

fn tcp(i: u32) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(SRC, DST)
        .ipv4([10, 0, 0, i as u8], [172, 16, 0, 2], 64)
        .tcp(2000 + i as u16, 80, 1, 1000)
        .syn();
    let mut out = Vec::new();
    b.write(&mut out, &payload(i)).unwrap();
    out
}

const FLOWS: &str = "\
# UDP to 5001: rewrite the destination, tag VLAN 10, out p1.
in_port(1),eth_type(0x0800),ipv4(proto=17,frag=no),udp(dst=5001), actions:set(ipv4(dst=192.168.0.1)),push_vlan(vid=10,pcp=0),2
in_port(1),eth_type(0x0800),ipv4(proto=17,frag=no),udp(dst=5002), actions:3
in_port(1),eth_type(0x0800),ipv4(proto=17,frag=no),udp(dst=5003), actions:drop   # dropped
in_port(1),eth_type(0x0800),ipv4(proto=6,frag=no), actions:2,3
";

#[test]
fn flows_file_forwards_exact_packets_and_counts_them() {
    let dir = TempDir::new("dp-pcap");
    let (inp, out1, out2) = (
        dir.path("in.pcap"),
        dir.path("out1.pcap"),
        dir.path("out2.pcap"),
    );
    let flows = dir.path("flows.txt");
    std::fs::write(&flows, FLOWS).unwrap();
    // 10 × 5001, 7 × 5002, 5 × 5003, 3 × TCP, 2 × no flow, interleaved.
    let kinds: Vec<u32> = vec![
        1, 2, 1, 3, 1, 2, 4, 1, 5, 2, 1, 3, 1, 2, 4, 1, 3, 2, 1, 5, 1, 3, 2, 4, 1, 2, 3,
    ];
    let frames: Vec<Vec<u8>> = kinds
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let i = i as u32;
            match k {
                1 => udp(i, 5001),
                2 => udp(i, 5002),
                3 => udp(i, 5003),
                4 => tcp(i),
                _ => udp(i, 9999),
            }
        })
        .collect();
    let count = |k| kinds.iter().filter(|&&x| x == k).count() as u64;
    let bytes = |k| {
        frames
            .iter()
            .zip(&kinds)
            .filter(|(_, &x)| x == k)
            .map(|(f, _)| f.len() as u64)
            .sum::<u64>()
    };
    assert_eq!(
        [count(1), count(2), count(3), count(4), count(5)],
        [10, 7, 5, 3, 2]
    );
    write_pcap(&inp, &frames);

    let socket = dir.path("ctl");
    let p0 = format!("p0=net_pcap0,rx_pcap={}", inp.display());
    let p1 = format!("p1=net_pcap1,tx_pcap={}", out1.display());
    let p2 = format!("p2=net_pcap2,tx_pcap={}", out2.display());
    let mut sw = Switch::start(&[
        "run",
        "--port",
        &p0,
        "--port",
        &p1,
        "--port",
        &p2,
        "--flows",
        flows.to_str().unwrap(),
        "--ctl",
        socket.to_str().unwrap(),
        "--quiet",
    ]);
    wait_ctl(&socket);
    let show = wait_stat(&socket, "packets received", |n| n == 27);
    assert_eq!(stat(&show, "emc hits") + stat(&show, "megaflow hits"), 25);
    assert_eq!(stat(&show, "miss with success upcall"), 2);
    assert_eq!(stat(&show, "miss with failed upcall"), 0);
    assert_eq!(stat(&show, "packet recirculations"), 0);

    let dump = appctl_ok(&socket, &["dpctl/dump-flows"]);
    let lines: Vec<&str> = dump.lines().collect();
    // The two packets that matched no flow were translated against the
    // empty OpenFlow table: one drop megaflow covers both.
    assert_eq!(lines.len(), 5, "{dump}");
    assert_eq!(
        lines[4],
        "recirc_id(0),in_port(1),eth_type(0x0800),ipv4(frag=no), packets:0, bytes:0, used:never, actions:drop"
    );
    let find = |needle: &str| {
        *lines
            .iter()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no {needle} in {dump}"))
    };
    let expect = |needle: &str, k: &[u32]| {
        let (n, b): (u64, u64) = k
            .iter()
            .map(|&k| (count(k), bytes(k)))
            .fold((0, 0), |a, x| (a.0 + x.0, a.1 + x.1));
        let line = find(needle);
        assert!(
            line.contains(&format!(", packets:{n}, bytes:{b}, used:")),
            "{line}"
        );
    };
    expect("udp(dst=5001)", &[1]);
    expect("udp(dst=5002)", &[2]);
    expect("udp(dst=5003)", &[3]);
    expect("ipv4(proto=6,frag=no)", &[4]);
    assert!(find("udp(dst=5001)")
        .ends_with("actions:set(ipv4(dst=192.168.0.1)),push_vlan(vid=10,pcp=0),2"));
    assert!(find("udp(dst=5003)").ends_with("actions:drop"));
    assert!(find("proto=6").contains("flags:S"), "{}", find("proto=6"));

    // Per-port counters: everything in on p0; p1 gets the 5001 and TCP
    // packets (VLAN tag added: 4 more bytes each), p2 the 5002 and TCP ones.
    let show = appctl_ok(&socket, &["dpctl/show", "-s"]);
    let tagged: u64 = bytes(1) + 4 * count(1);
    // Three masks: UDP by destination port, TCP, and the translated drop
    // megaflow. How many probes the megaflow hits took depends on the EMC's
    // sampling; only its shape is fixed.
    let masks = show.lines().nth(3).unwrap_or("").to_string();
    assert!(
        masks.starts_with("  masks: hit:") && masks.contains(" total:3 hit/pkt:"),
        "{show}"
    );
    assert_eq!(
        show,
        format!(
            "netdev@ferrovs:\n\
             \x20 lookups: hit:25 missed:2 lost:0\n\
             \x20 flows: 5\n\
             {masks}\n\
             \x20 port 1: p0\n\
             \x20   RX packets:27 bytes:{all}\n\
             \x20   TX packets:0 bytes:0 dropped:0\n\
             \x20 port 2: p1\n\
             \x20   RX packets:0 bytes:0\n\
             \x20   TX packets:13 bytes:{p1} dropped:0\n\
             \x20 port 3: p2\n\
             \x20   RX packets:0 bytes:0\n\
             \x20   TX packets:10 bytes:{p2} dropped:0\n",
            all = frames.iter().map(|f| f.len() as u64).sum::<u64>(),
            p1 = tagged + bytes(4),
            p2 = bytes(2) + bytes(4),
        )
    );

    let status = sw.signal_and_wait(libc::SIGTERM);
    assert!(status.success(), "{:#?}", sw.stderr_lines);
    assert!(
        sw.stderr_lines
            .iter()
            .any(|l| logged(l) == "stopped; 16383 of 16383 mbufs are back in the pool"),
        "{:#?}",
        sw.stderr_lines
    );

    let mut want1 = Vec::new();
    let mut want2 = Vec::new();
    for (i, (f, k)) in frames.iter().zip(&kinds).enumerate() {
        match k {
            1 => want1.push(udp_rewritten(i as u32)),
            2 => want2.push(f.clone()),
            4 => {
                want1.push(f.clone());
                want2.push(f.clone());
            }
            _ => {}
        }
    }
    let got1 = read_pcap(&out1);
    let got2 = read_pcap(&out2);
    assert_eq!(got1.len(), want1.len());
    for (i, (g, w)) in got1.iter().zip(&want1).enumerate() {
        assert_eq!(g, w, "p1 packet {i}");
    }
    assert_eq!(got2, want2);
}

#[test]
fn deleted_flow_sends_its_next_packets_up_as_misses() {
    let dir = TempDir::new("dp-del");
    let inp = dir.path("in.pcap");
    write_pcap(&inp, &[udp(1, 5001)]);
    let socket = dir.path("ctl");
    let p0 = format!("p0=net_pcap0,rx_pcap={},infinite_rx=1", inp.display());
    let mut sw = Switch::start(&[
        "run",
        "--port",
        &p0,
        "--port",
        "p1=net_null0,no-rx=1",
        "--ctl",
        socket.to_str().unwrap(),
        "--quiet",
    ]);
    wait_ctl(&socket);
    // No flow and no OpenFlow rule: the first packet misses, is translated
    // (an empty table drops) and leaves a drop megaflow that the rest hit.
    let megaflow = "recirc_id(0),in_port(1),eth_type(0x0800),ipv4(frag=no)";
    let show = wait_stat(&socket, "emc hits", |n| n > 1000);
    let misses = stat(&show, "miss with success upcall");
    assert!(misses >= 1, "{show}");
    let dump = appctl_ok(&socket, &["dpctl/dump-flows"]);
    assert!(dump.starts_with(&format!("{megaflow}, packets:")), "{dump}");
    assert!(dump.trim_end().ends_with("actions:drop"), "{dump}");
    // Delete: the EMC still holds the flow, yet the next packet misses and
    // the upcall installs the megaflow again, with fresh counters.
    let before = stat(
        &appctl_ok(&socket, &["dpif-netdev/pmd-stats-show"]),
        "miss with success upcall",
    );
    let del = appctl_ok(&socket, &["dpctl/del-flow", "-s", megaflow]);
    assert!(del.starts_with("packets:"), "{del}");
    wait_stat(&socket, "miss with success upcall", |n| n > before);
    let upcalls = appctl_ok(&socket, &["upcall/show"]);
    assert!(upcalls.contains("(installed 2, failed 0,"), "{upcalls}");

    // `exit` stops the switch cleanly.
    assert_eq!(appctl_ok(&socket, &["exit"]), "");
    let status = sw.wait(Duration::from_secs(10));
    assert!(status.success());
}

#[test]
fn bad_input_gets_one_sentence_and_the_switch_keeps_running() {
    let dir = TempDir::new("dp-err");
    let socket = dir.path("ctl");
    let mut sw = Switch::start(&[
        "run",
        "--port",
        "p0=net_null0,no-rx=1",
        "--ctl",
        socket.to_str().unwrap(),
        "--quiet",
    ]);
    wait_ctl(&socket);
    let err = |args: &[&str], text: &str| {
        let (code, out, err) = appctl(&socket, args);
        assert_eq!(code, 2, "{args:?}: {out}");
        assert_eq!(
            err,
            format!(
                "{text}\novs-appctl: {}: server returned an error\n",
                socket.display()
            ),
            "{args:?}"
        );
    };
    err(
        &["dpctl/add-flow", "in_port(1),bogus(1)", "2"],
        "dpctl/add-flow: unknown or unsupported key attribute `bogus(…)`.",
    );
    appctl_ok(&socket, &["dpctl/add-flow", "in_port(1)", "drop"]);
    err(
        &["dpctl/add-flow", "in_port(1)", "drop"],
        "dpctl/add-flow: a flow with that key already exists.",
    );
    err(
        &["dpctl/del-flow", "in_port(2)"],
        "dpctl/del-flow: no flow with that key exists.",
    );
    err(
        &["dpctl/mod-flow", "in_port(2)", "1"],
        "dpctl/mod-flow: no flow with that key exists.",
    );
    err(
        &["dpctl/add-flow", "in_port(1)"],
        "dpctl/add-flow: needs a flow and its actions, e.g. \"in_port(1)\" 2.",
    );
    err(
        &["dpctl/dump-flows", "--bogus"],
        "dpctl/dump-flows: unknown option --bogus.",
    );
    // Modify keeps the flow and may zero its stats; the switch still answers.
    appctl_ok(&socket, &["dpctl/mod-flow", "--clear", "in_port(1)", "2"]);
    assert_eq!(
        appctl_ok(&socket, &["dpctl/dump-flows"]),
        "in_port(1), packets:0, bytes:0, used:never, actions:2\n"
    );
    appctl_ok(&socket, &["dpctl/del-flows"]);
    assert_eq!(appctl_ok(&socket, &["dpctl/dump-flows"]), "");
    let version = appctl_ok(&socket, &["version"]);
    assert!(
        version.starts_with(&format!(
            "ferrovs {} (DPDK 22.11",
            env!("CARGO_PKG_VERSION")
        )),
        "{version}"
    );
    let status = sw.signal_and_wait(libc::SIGTERM);
    assert!(status.success());
}

#[test]
fn overlapping_startup_flows_are_refused_with_their_line() {
    let dir = TempDir::new("dp-overlap");
    let flows = dir.path("flows.txt");
    std::fs::write(
        &flows,
        "in_port(1),eth_type(0x0800), actions:2\n# again, wider\nin_port(1),eth_type(0x0800), actions:drop\n",
    )
    .unwrap();
    let socket = dir.path("ctl");
    let mut sw = Switch::start(&[
        "run",
        "--port",
        "p0=net_null0,no-rx=1",
        "--flows",
        flows.to_str().unwrap(),
        "--ctl",
        socket.to_str().unwrap(),
        "--quiet",
    ]);
    let status = sw.wait(Duration::from_secs(30));
    assert_eq!(status.code(), Some(1), "{:#?}", sw.stderr_lines);
    assert_eq!(
        sw.stderr_lines.last().cloned().unwrap_or_default(),
        format!(
            "ferrovs: error: {}:3: a flow with that key already exists",
            flows.display()
        )
    );
}

#[test]
fn a_control_socket_in_use_is_an_error_only_when_asked_for() {
    let dir = TempDir::new("dp-ctl-busy");
    let socket = dir.path("ctl");
    let args = |ctl: &str| {
        vec![
            "run".to_string(),
            "--port".into(),
            "p0=net_null0,no-rx=1".into(),
            "--ctl".into(),
            ctl.to_string(),
            "--quiet".into(),
        ]
    };
    let first_args = args(socket.to_str().unwrap());
    let first: Vec<&str> = first_args.iter().map(String::as_str).collect();
    let mut sw = Switch::start(&first);
    wait_ctl(&socket);
    let mut second = Switch::start(&first);
    let status = second.wait(Duration::from_secs(30));
    assert_eq!(status.code(), Some(1));
    assert_eq!(
        second.stderr_lines.last().cloned().unwrap_or_default(),
        format!(
            "ferrovs: error: another process is already serving the control socket {}",
            socket.display()
        )
    );
    // The first one is unharmed.
    appctl_ok(&socket, &["dpif-netdev/pmd-stats-show"]);
    assert!(sw.signal_and_wait(libc::SIGTERM).success());
}
