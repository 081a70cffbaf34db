//! OpenFlow end to end: the real `ferrovs` binary on virtual ports, driven by
//! `ovs-ofctl` (a client we did not write) in OpenFlow 1.0 and 1.3. Flow-table
//! edits, stats, groups, meters, port-mod, packet-out, bundles, async messages
//! seen by `ovs-ofctl monitor`, and traffic through OpenFlow rules checked
//! byte for byte with an independent pcap reader and packet builder. The
//! binary gives DPDK `--no-pci` itself; only virtual devices are named here.
//!
//! Traffic enters through `net_ring0`, which loops back what is sent to it:
//! a `packet-out … actions=output:1` comes back in on port 1 after the rules
//! are installed (a `net_pcap` rx file would be read before any rule exists).
//! Each test runs its own switch, in its own temp dir, on a free TCP port.

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{logged, read_pcap, Switch, TempDir};
use etherparse::PacketBuilder;

const V10: &str = "OpenFlow10";
const V13: &str = "OpenFlow13";

/// A switch with an OpenFlow TCP listener on a free loopback port.
struct OfSwitch {
    sw: Switch,
    dir: TempDir,
    target: String,
}

/// A loopback TCP port nobody listens on right now.
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local addr").port()
}

impl OfSwitch {
    /// Starts `ferrovs run` with `ports` (NAME=DEVARGS; `{dir}` is replaced
    /// by the test's temp dir) and waits for the listener.
    fn start(tag: &str, ports: &[&str]) -> OfSwitch {
        let dir = TempDir::new(&format!("ofctl-{tag}"));
        let port = free_port();
        let ctl = dir.path("ctl");
        let listen = format!("ptcp:{port}");
        let ports: Vec<String> = ports
            .iter()
            .map(|p| p.replace("{dir}", dir.0.to_str().unwrap()))
            .collect();
        let mut args: Vec<&str> = vec!["run"];
        for p in &ports {
            args.extend(["--port", p]);
        }
        args.extend([
            "--ctl",
            ctl.to_str().unwrap(),
            "--listen",
            &listen,
            "--datapath-id",
            "abc",
            "--quiet",
        ]);
        let mut sw = Switch::start(&args);
        sw.wait_stderr(Duration::from_secs(20), |l| {
            logged(l).starts_with("OpenFlow listener ptcp:")
        });
        OfSwitch {
            sw,
            dir,
            target: format!("tcp:127.0.0.1:{port}"),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path(name)
    }

    /// `ovs-ofctl -O VERSION CMD TARGET ARGS…`: (success, stdout, stderr).
    fn ofctl(
        &self,
        version: &str,
        opts: &[&str],
        cmd: &str,
        args: &[&str],
    ) -> (bool, String, String) {
        let out = Command::new("timeout")
            .args(["10", "ovs-ofctl", "-O", version])
            .args(opts)
            .arg(cmd)
            .arg(&self.target)
            .args(args)
            .output()
            .expect("ovs-ofctl runs (package openvswitch-common)");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Runs an ovs-ofctl command that must succeed; returns its stdout.
    fn ok(&self, version: &str, cmd: &str, args: &[&str]) -> String {
        let (ok, out, err) = self.ofctl(version, &[], cmd, args);
        assert!(ok, "ovs-ofctl -O {version} {cmd} {args:?}: {err}");
        out
    }

    /// `dump-flows`, minus durations and ages (the only parts that depend on
    /// time), flows sorted (a dump's order is not defined).
    fn flows(&self, version: &str, args: &[&str]) -> String {
        let dump = sorted(&strip_times(&self.ok(version, "dump-flows", args)));
        if args.is_empty() {
            return dump;
        }
        // With a match, ovs-ofctl negotiates a flow format first: another xid.
        match dump.split_once('\n') {
            Some((_, rest)) => format!("{}{rest}", header(version)),
            None => dump,
        }
    }

    /// Starts `ovs-ofctl monitor TARGET 65534` (a service connection hears
    /// async messages only once it set a miss_send_len), printing to a file.
    fn monitor(&self, version: &str) -> (Child, PathBuf) {
        let out = self.path(&format!("monitor-{version}.txt"));
        let unixctl = format!("--unixctl={}", self.path("monitor.ctl").display());
        let file = std::fs::File::create(&out).expect("monitor output file");
        let child = Command::new("timeout")
            .args([
                "12",
                "ovs-ofctl",
                "-O",
                version,
                &unixctl,
                "monitor",
                &self.target,
                "65534",
            ])
            .stdout(file.try_clone().expect("dup"))
            .stderr(file)
            .stdin(Stdio::null())
            .spawn()
            .expect("ovs-ofctl monitor starts");
        (child, out)
    }
}

/// Removes ` duration=…s,`, ` idle_age=N,` and ` hard_age=N,` from a flow dump.
fn strip_times(dump: &str) -> String {
    dump.lines()
        .map(|l| {
            l.split(' ')
                .filter(|w| {
                    !(w.starts_with("duration=")
                        || w.starts_with("idle_age=")
                        || w.starts_with("hard_age="))
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .map(|l| l + "\n")
        .collect()
}

/// The first line, then the others sorted.
fn sorted(text: &str) -> String {
    let mut lines: Vec<&str> = text.lines().collect();
    if lines.len() > 1 {
        lines[1..].sort_unstable();
    }
    lines.iter().map(|l| format!("{l}\n")).collect()
}

/// Waits until `pred` holds for what `f` returns, for at most `secs`.
fn wait_until<T: std::fmt::Debug>(
    secs: u64,
    mut f: impl FnMut() -> T,
    pred: impl Fn(&T) -> bool,
) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let v = f();
        if pred(&v) {
            return v;
        }
        assert!(Instant::now() < deadline, "never held: {v:#?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Three net_pcap ports that only transmit (so every counter is known).
const TX_PORTS: &[&str] = &[
    "p0=net_pcap0,tx_pcap={dir}/p0.pcap",
    "p1=net_pcap1,tx_pcap={dir}/p1.pcap",
    "p2=net_pcap2,tx_pcap={dir}/p2.pcap",
];

fn header(version: &str) -> &'static str {
    if version == V10 {
        "NXST_FLOW reply (xid=0x4):\n"
    } else {
        "OFPST_FLOW reply (OF1.3) (xid=0x2):\n"
    }
}

/// What `flows()` gives for these flow lines.
fn dump_of(version: &str, lines: &[&String]) -> String {
    let body: String = lines.iter().map(|l| l.as_str()).collect();
    sorted(&format!("{}{body}", header(version)))
}

#[test]
fn add_mod_del_and_dump_flows_in_of10_and_of13() {
    let s = OfSwitch::start("flows", TX_PORTS);
    let file = s.path("flows.txt");
    std::fs::write(
        &file,
        "# three flows from a file\n\
         priority=30,cookie=0x1,udp,tp_dst=53,actions=output:3\n\
         priority=20,cookie=0x2,in_port=2,actions=output:1\n\
         priority=10,cookie=0x1,in_port=3,actions=mod_dl_src:02:00:00:00:00:09,output:2\n",
    )
    .unwrap();
    for v in [V10, V13] {
        s.ok(
            v,
            "add-flow",
            &["priority=100,in_port=1,ip,actions=mod_nw_dst:10.1.2.3,output:2"],
        );
        s.ok(
            v,
            "add-flow",
            &["priority=100,in_port=1,arp,actions=output:2,output:3"],
        );
        s.ok(v, "add-flows", &[file.to_str().unwrap()]);
        let (mod_nw_dst, mod_dl_src) = if v == V10 {
            ("mod_nw_dst:10.1.2.3", "mod_dl_src:02:00:00:00:00:09")
        } else {
            (
                "set_field:10.1.2.3->ip_dst",
                "set_field:02:00:00:00:00:09->eth_src",
            )
        };
        let line = |cookie: &str, rest: &str| {
            format!(" cookie={cookie}, table=0, n_packets=0, n_bytes=0, {rest}\n")
        };
        let ip = line(
            "0x0",
            &format!("priority=100,ip,in_port=1 actions={mod_nw_dst},output:2"),
        );
        let arp = line(
            "0x0",
            "priority=100,arp,in_port=1 actions=output:2,output:3",
        );
        let udp = line("0x1", "priority=30,udp,tp_dst=53 actions=output:3");
        let p2 = line("0x2", "priority=20,in_port=2 actions=output:1");
        let p3 = line(
            "0x1",
            &format!("priority=10,in_port=3 actions={mod_dl_src},output:2"),
        );
        assert_eq!(
            s.flows(v, &[]),
            dump_of(v, &[&ip, &arp, &udp, &p2, &p3]),
            "{v}"
        );

        let agg = s.ok(v, "dump-aggregate", &[]);
        let agg_head = if v == V10 {
            "NXST_AGGREGATE reply (xid=0x4)"
        } else {
            "OFPST_AGGREGATE reply (OF1.3) (xid=0x2)"
        };
        assert_eq!(
            agg,
            format!("{agg_head}: packet_count=0 byte_count=0 flow_count=5\n")
        );
        // ovs-ofctl negotiates a flow format first when a match is given: another xid.
        let agg = s.ok(v, "dump-aggregate", &["in_port=1"]);
        assert_eq!(
            agg.split_once("): ").map(|x| x.1),
            Some("packet_count=0 byte_count=0 flow_count=2\n")
        );

        // Non-strict modify: every flow the match covers (both in_port=1 flows).
        s.ok(v, "mod-flows", &["in_port=1,actions=output:3"]);
        // Strict modify: only the exact match and priority. OpenFlow 1.0's
        // modify carries the new cookie (none given: 0), 1.3's keeps it.
        s.ok(
            v,
            "mod-flows",
            &["--strict", "priority=20,in_port=2,actions=drop"],
        );
        // A strict modify that matches nothing adds the flow in 1.0 only.
        s.ok(
            v,
            "mod-flows",
            &["--strict", "priority=21,in_port=2,actions=output:3"],
        );
        let ip = line("0x0", "priority=100,ip,in_port=1 actions=output:3");
        let arp = line("0x0", "priority=100,arp,in_port=1 actions=output:3");
        let p2 = line(
            if v == V10 { "0x0" } else { "0x2" },
            "priority=20,in_port=2 actions=drop",
        );
        let p21 = line("0x0", "priority=21,in_port=2 actions=output:3");
        let mut now = vec![&ip, &arp, &udp, &p2, &p3];
        if v == V10 {
            now.push(&p21);
        }
        assert_eq!(s.flows(v, &[]), dump_of(v, &now), "{v}");

        // Selective dumps: by out_port, and (1.3) by cookie.
        assert_eq!(s.flows(v, &["out_port=2"]), dump_of(v, &[&p3]), "{v}");
        if v == V13 {
            assert_eq!(s.flows(v, &["cookie=0x1/-1"]), dump_of(v, &[&udp, &p3]));
        }

        // A strict delete needs the priority too: without it, nothing goes.
        s.ok(v, "del-flows", &["--strict", "in_port=2"]);
        assert_eq!(s.flows(v, &[]), dump_of(v, &now), "{v}");
        s.ok(v, "del-flows", &["--strict", "priority=20,in_port=2"]);
        now.retain(|l| *l != &p2);
        assert_eq!(s.flows(v, &[]), dump_of(v, &now), "{v}");
        // Delete by out_port: only the flow that outputs there.
        s.ok(v, "del-flows", &["out_port=2"]);
        now.retain(|l| *l != &p3);
        assert_eq!(s.flows(v, &[]), dump_of(v, &now), "{v}");
        if v == V13 {
            s.ok(v, "del-flows", &["cookie=0x1/-1"]);
            now.retain(|l| *l != &udp);
            assert_eq!(s.flows(v, &[]), dump_of(v, &now));
        }
        s.ok(v, "del-flows", &[]);
        assert_eq!(s.flows(v, &[]), header(v));
    }
}

#[test]
fn tables_ports_and_port_mod_in_of10_and_of13() {
    let s = OfSwitch::start("ports", TX_PORTS);
    s.ok(V13, "add-flow", &["table=1,priority=5,actions=drop"]);
    let t10 = s.ok(V10, "dump-tables", &[]);
    let mut lines = t10.lines();
    assert_eq!(lines.next(), Some("OFPST_TABLE reply (xid=0x2):"));
    assert_eq!(lines.next(), Some("  table 0 (\"table0\"):"));
    assert_eq!(lines.next(), Some("    active=0, lookup=0, matched=0"));
    let t13 = s.ok(V13, "dump-tables", &[]);
    assert_eq!(
        t13,
        "OFPST_TABLE reply (OF1.3) (xid=0x2):\n  \
         table 0:\n    active=0, lookup=0, matched=0\n\n  \
         table 1:\n    active=1, lookup=0, matched=0\n\n  \
         table 2:\n    active=0, lookup=0, matched=0\n\n  \
         tables 3...252: ditto\n"
    );

    for v in [V10, V13] {
        let ports = s.ok(v, "dump-ports", &[]);
        let head = if v == V10 {
            "OFPST_PORT reply (xid=0x2): 4 ports\n"
        } else {
            "OFPST_PORT reply (OF1.3) (xid=0x2): 4 ports\n"
        };
        assert!(ports.starts_with(head), "{ports}");
        // 1.3 adds each port's age on a line of its own.
        let ports: String = ports
            .lines()
            .filter(|l| !l.trim_start().starts_with("duration="))
            .map(|l| format!("{l}\n"))
            .collect();
        let mut want = head.to_string();
        for p in [" 1", " 2", " 3", "LOCAL"] {
            want += &format!(
                "  port {p}: rx pkts=0, bytes=0, drop=0, errs=0, frame=?, over=?, crc=?\n           \
                 tx pkts=0, bytes=0, drop=0, errs=0, coll=?\n"
            );
        }
        assert_eq!(ports, want, "{v}");
    }

    let desc = |v: &str| {
        // LOCAL's MAC is made per run; blank it.
        s.ok(v, "dump-ports-desc", &[])
            .lines()
            .map(|l| match l.find("LOCAL(br0): addr:") {
                Some(_) => " LOCAL(br0): addr:X".to_string(),
                None => l.to_string(),
            })
            .map(|l| l + "\n")
            .collect::<String>()
    };
    let port = |no: u32, config: &str| {
        format!(
            " {no}(p{}): addr:02:70:63:61:70:0{}\n     config:     {config}\n     state:      0\n     \
             current:    10GB-FD\n     supported:  10GB-FD\n     speed: 10000 Mbps now, 10000 Mbps max\n",
            no - 1,
            no - 1
        )
    };
    let local = " LOCAL(br0): addr:X\n     config:     0\n     state:      0\n     speed: 0 Mbps now, 0 Mbps max\n";
    for v in [V10, V13] {
        let head = if v == V10 {
            "OFPST_PORT_DESC reply (xid=0x2):\n"
        } else {
            "OFPST_PORT_DESC reply (OF1.3) (xid=0x2):\n"
        };
        assert_eq!(
            desc(v),
            format!(
                "{head}{}{}{}{local}",
                port(1, "0"),
                port(2, "0"),
                port(3, "0")
            )
        );

        let (mut mon, out) = s.monitor(v);
        wait_until(
            5,
            || std::fs::read_to_string(&out).unwrap_or_default(),
            |_| true,
        );
        // Give monitor time to send its SET_CONFIG.
        std::thread::sleep(Duration::from_millis(500));
        s.ok(v, "mod-port", &["p1", "down"]);
        assert_eq!(
            desc(v),
            format!(
                "{head}{}{}{}{local}",
                port(1, "0"),
                port(2, "PORT_DOWN"),
                port(3, "0")
            )
        );
        s.ok(v, "mod-port", &["p1", "up"]);
        assert_eq!(
            desc(v),
            format!(
                "{head}{}{}{}{local}",
                port(1, "0"),
                port(2, "0"),
                port(3, "0")
            )
        );
        let status = if v == V10 {
            "OFPT_PORT_STATUS (xid=0x0)"
        } else {
            "OFPT_PORT_STATUS (OF1.3) (xid=0x0)"
        };
        let seen = wait_until(
            5,
            || std::fs::read_to_string(&out).unwrap_or_default(),
            |t| t.matches(status).count() == 2,
        );
        // SAFETY: kill(2) on the PID of a child we started and have not reaped.
        unsafe { libc::kill(mon.id() as i32, libc::SIGTERM) };
        let _ = mon.wait();
        assert!(
            seen.contains(&format!("{status}: MOD:{}", port(2, "PORT_DOWN"))),
            "{v}: {seen}"
        );
        assert!(
            seen.contains(&format!("{status}: MOD:{}", port(2, "0"))),
            "{v}: {seen}"
        );
    }
}

#[test]
fn groups_and_meters_in_of13() {
    let s = OfSwitch::start("groups", TX_PORTS);
    s.ok(
        V13,
        "add-group",
        &["group_id=1,type=all,bucket=output:2,bucket=output:3"],
    );
    s.ok(
        V13,
        "add-group",
        &["group_id=7,type=select,bucket=weight:10,output:1,bucket=weight:20,output:2"],
    );
    s.ok(
        V13,
        "add-group",
        &["group_id=3,type=ff,bucket=watch_port:2,output:2,bucket=watch_port:3,output:3"],
    );
    s.ok(V13, "add-flow", &["priority=1,actions=group:1"]);
    assert_eq!(
        s.ok(V13, "dump-groups", &[]),
        "OFPST_GROUP_DESC reply (OF1.3) (xid=0x2):\n \
         group_id=1,type=all,bucket=actions=output:2,bucket=actions=output:3\n \
         group_id=3,type=ff,bucket=watch_port:2,actions=output:2,bucket=watch_port:3,actions=output:3\n \
         group_id=7,type=select,bucket=weight:10,actions=output:1,bucket=weight:20,actions=output:2\n"
    );
    // A group id that exists already is an error.
    let (ok, _, err) = s.ofctl(
        V13,
        &[],
        "add-group",
        &["group_id=1,type=all,bucket=output:1"],
    );
    assert!(!ok);
    assert!(err.contains("OFPGMFC_GROUP_EXISTS"), "{err}");

    s.ok(
        V13,
        "add-meter",
        &["meter=1,kbps,burst,bands=type=drop,rate=1000,burst_size=100"],
    );
    s.ok(V13, "add-meter", &["meter=2,pktps,bands=type=drop,rate=5"]);
    s.ok(
        V13,
        "add-flow",
        &["priority=2,in_port=1,actions=meter:2,output:2"],
    );
    assert_eq!(
        s.ok(V13, "dump-meters", &[]),
        "OFPST_METER_CONFIG reply (OF1.3) (xid=0x2):\n\
         meter=1 kbps burst bands=\ntype=drop rate=1000 burst_size=100\n\n\
         meter=2 pktps bands=\ntype=drop rate=5\n"
    );
    assert_eq!(
        s.flows(V13, &[]),
        "OFPST_FLOW reply (OF1.3) (xid=0x2):\n \
         cookie=0x0, table=0, n_packets=0, n_bytes=0, priority=1 actions=group:1\n \
         cookie=0x0, table=0, n_packets=0, n_bytes=0, priority=2,in_port=1 actions=meter:2,output:2\n"
    );
}

fn frame(src_ip: [u8; 4], dst_port: u16, i: u8) -> Vec<u8> {
    let b = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4(src_ip, [172, 16, 0, 1], 64)
        .udp(1000 + u16::from(i), dst_port);
    let payload: Vec<u8> = (0..22).map(|k| k ^ i).collect();
    let mut out = Vec::new();
    b.write(&mut out, &payload).unwrap();
    out
}

#[test]
fn packet_out_and_flow_removed() {
    let mut s = OfSwitch::start("pktout", TX_PORTS);
    let packet = frame([10, 0, 0, 1], 5001, 0);
    let hex: String = packet.iter().map(|b| format!("{b:02x}")).collect();
    s.ok(
        V13,
        "packet-out",
        &[&format!("in_port=controller packet={hex} actions=output:2")],
    );
    s.ok(
        V10,
        "packet-out",
        &[&format!(
            "in_port=none packet={hex} actions=mod_nw_src:10.9.9.9,output:2"
        )],
    );

    // FLOW_REMOVED with reason idle, in both versions.
    for v in [V10, V13] {
        let (mut mon, out) = s.monitor(v);
        std::thread::sleep(Duration::from_millis(500));
        s.ok(
            v,
            "add-flow",
            &["priority=200,idle_timeout=1,send_flow_rem,cookie=0x7,tcp,actions=drop"],
        );
        let seen = wait_until(
            6,
            || std::fs::read_to_string(&out).unwrap_or_default(),
            |t| t.contains("FLOW_REMOVED"),
        );
        // SAFETY: kill(2) on the PID of a child we started and have not reaped.
        unsafe { libc::kill(mon.id() as i32, libc::SIGTERM) };
        let _ = mon.wait();
        let want = if v == V10 {
            "OFPT_FLOW_REMOVED (xid=0x0): priority=200,tcp reason=idle cookie:0x7 duration"
        } else {
            "OFPT_FLOW_REMOVED (OF1.3) (xid=0x0): priority=200,tcp reason=idle table_id=0 cookie:0x7 duration"
        };
        assert!(seen.contains(want), "{v}: {seen}");
        assert!(seen.contains("s idle1 pkts0 bytes0\n"), "{v}: {seen}");
    }

    assert!(s.stop(), "clean exit");
    let got = read_pcap(&s.path("p1.pcap"));
    let mut rewritten = packet.clone();
    // Source address 10.9.9.9 with the IPv4 and UDP checksums fixed, as etherparse makes them.
    let b = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4([10, 9, 9, 9], [172, 16, 0, 1], 64)
        .udp(1000, 5001);
    rewritten.clear();
    b.write(&mut rewritten, &(0..22).collect::<Vec<u8>>())
        .unwrap();
    assert_eq!(got, vec![packet, rewritten]);
}

impl OfSwitch {
    /// SIGTERM and a clean exit (the pcap files are complete after it).
    fn stop(&mut self) -> bool {
        self.sw.signal_and_wait(libc::SIGTERM).success()
    }
}

/// What rule 1 makes of `frame(src, 5001, i)`: a new IPv4 destination and
/// source MAC, tagged VLAN 10 — built independently by etherparse.
fn rewritten(src_ip: [u8; 4], i: u8) -> Vec<u8> {
    let b = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 9], [2, 0, 0, 0, 0, 2])
        .single_vlan(10.try_into().unwrap())
        .ipv4(src_ip, [192, 168, 1, 1], 64)
        .udp(1000 + u16::from(i), 5001);
    let payload: Vec<u8> = (0..22).map(|k| k ^ i).collect();
    let mut out = Vec::new();
    b.write(&mut out, &payload).unwrap();
    out
}

/// Traffic enters p0, a `net_ring` port that loops back what is sent to it:
/// each packet-out to p0 comes back in on port 1 and takes the datapath's
/// miss path, megaflows and fast path like any received packet.
#[test]
fn traffic_through_openflow_rules() {
    for v in [V10, V13] {
        let tag = format!("traffic-{v}");
        let mut s = OfSwitch::start(
            &tag,
            &[
                "p0=net_ring0",
                "p1=net_pcap1,tx_pcap={dir}/p1.pcap",
                "p2=net_pcap2,tx_pcap={dir}/p2.pcap",
            ],
        );
        s.ok(v, "add-flow", &["priority=100,in_port=1,udp,tp_dst=5001,actions=mod_nw_dst:192.168.1.1,mod_dl_src:02:00:00:00:00:09,mod_vlan_vid:10,output:2"]);
        s.ok(
            v,
            "add-flow",
            &["priority=100,in_port=1,udp,tp_dst=5002,actions=output:3"],
        );
        s.ok(v, "add-flow", &["priority=1,in_port=1,actions=drop"]);
        // 4 × 5001 and 3 × 5002, interleaved, from two sources; 2 × 5003 dropped.
        let plan: &[(u16, [u8; 4])] = &[
            (5001, [10, 0, 0, 1]),
            (5002, [10, 0, 0, 1]),
            (5001, [10, 0, 0, 2]),
            (5003, [10, 0, 0, 1]),
            (5001, [10, 0, 0, 1]),
            (5002, [10, 0, 0, 2]),
            (5001, [10, 0, 0, 2]),
            (5002, [10, 0, 0, 1]),
            (5003, [10, 0, 0, 2]),
        ];
        let frames: Vec<Vec<u8>> = plan
            .iter()
            .enumerate()
            .map(|(i, (port, src))| frame(*src, *port, i as u8))
            .collect();
        for f in &frames {
            let hex: String = f.iter().map(|b| format!("{b:02x}")).collect();
            s.ok(
                v,
                "packet-out",
                &[&format!("in_port=none packet={hex} actions=output:1")],
            );
        }
        let count = |port: u16| plan.iter().filter(|(p, _)| *p == port).count();
        let bytes = |port: u16| -> usize {
            plan.iter()
                .zip(&frames)
                .filter(|((p, _), _)| *p == port)
                .map(|(_, f)| f.len())
                .sum()
        };
        let (n1, n2, n3) = (count(5001), count(5002), count(5003));
        // The revalidator credits megaflow counters to rules once a second.
        let dump = wait_flows(&s, v, |d| {
            d.contains(&format!("n_packets={n3},"))
                && d.contains(&format!("n_packets={n1},"))
                && d.contains(&format!("n_packets={n2},"))
        });
        let acts = if v == V10 {
            "mod_nw_dst:192.168.1.1,mod_dl_src:02:00:00:00:00:09,mod_vlan_vid:10,output:2"
        } else {
            "set_field:192.168.1.1->ip_dst,set_field:02:00:00:00:00:09->eth_src,push_vlan:0x8100,set_field:4106->vlan_vid,output:2"
        };
        assert_eq!(
            dump,
            sorted(&format!(
                "{}\
                 \x20cookie=0x0, table=0, n_packets={n1}, n_bytes={}, priority=100,udp,in_port=1,tp_dst=5001 actions={acts}\n\
                 \x20cookie=0x0, table=0, n_packets={n2}, n_bytes={}, priority=100,udp,in_port=1,tp_dst=5002 actions=output:3\n\
                 \x20cookie=0x0, table=0, n_packets={n3}, n_bytes={}, priority=1,in_port=1 actions=drop\n",
                header(v),
                bytes(5001),
                bytes(5002),
                bytes(5003)
            )),
            "{v}"
        );
        // Table stats count the same lookups: every packet matched in table 0.
        let tables = s.ok(v, "dump-tables", &[]);
        let t0 = tables.lines().nth(2).unwrap_or_default();
        assert_eq!(
            t0,
            format!("    active=3, lookup={0}, matched={0}", plan.len()),
            "{v}: {tables}"
        );
        assert!(s.stop(), "clean exit");
        let want1: Vec<Vec<u8>> = plan
            .iter()
            .enumerate()
            .filter(|(_, (p, _))| *p == 5001)
            .map(|(i, (_, src))| rewritten(*src, i as u8))
            .collect();
        let want2: Vec<Vec<u8>> = plan
            .iter()
            .zip(&frames)
            .filter(|((p, _), _)| *p == 5002)
            .map(|(_, f)| f.clone())
            .collect();
        assert_eq!(read_pcap(&s.path("p1.pcap")), want1, "{v}");
        assert_eq!(read_pcap(&s.path("p2.pcap")), want2, "{v}");
    }
}

/// `--bundle add-flows`: all flows or none, over 1.3 (ONF's extension) and 1.4.
#[test]
fn bundle_add_flows_is_all_or_nothing() {
    let s = OfSwitch::start("bundle", TX_PORTS);
    let file = s.path("bundle.txt");
    for v in [V13, "OpenFlow14"] {
        std::fs::write(
            &file,
            "priority=5,in_port=2,actions=output:1\npriority=6,in_port=3,actions=output:1\n",
        )
        .unwrap();
        let (ok, _, err) = s.ofctl(v, &["--bundle"], "add-flows", &[file.to_str().unwrap()]);
        assert!(ok, "{v}: {err}");
        // The second flow names a group that does not exist: the first must not stay.
        std::fs::write(
            &file,
            "priority=7,in_port=1,actions=output:2\npriority=8,in_port=1,actions=group:99\n",
        )
        .unwrap();
        let (ok, _, err) = s.ofctl(v, &["--bundle"], "add-flows", &[file.to_str().unwrap()]);
        assert!(!ok, "{v}: a bundle with a bad flow must fail");
        assert!(err.contains("OFPBAC_BAD_OUT_GROUP"), "{v}: {err}");
        let flows = s.flows(v, &[]);
        let want = if v == V13 {
            "OFPST_FLOW reply (OF1.3) (xid=0x2):\n cookie=0x0, table=0, n_packets=0, n_bytes=0, priority=5,in_port=2 actions=output:1\n cookie=0x0, table=0, n_packets=0, n_bytes=0, priority=6,in_port=3 actions=output:1\n"
        } else {
            "OFPST_FLOW reply (OF1.4) (xid=0x2):\n cookie=0x0, table=0, n_packets=0, n_bytes=0, priority=5,in_port=2 actions=output:1\n cookie=0x0, table=0, n_packets=0, n_bytes=0, priority=6,in_port=3 actions=output:1\n"
        };
        assert_eq!(flows, want, "{v}");
        s.ok(v, "del-flows", &[]);
    }
}

/// Group buckets and meters on traffic: each bucket of an `all` group gets
/// every packet (and counts it), and a meter passes or drops each packet
/// with its counters adding up to what was sent.
#[test]
fn groups_and_meters_count_traffic() {
    let mut s = OfSwitch::start(
        "group-traffic",
        &[
            "p0=net_ring0",
            "p1=net_pcap1,tx_pcap={dir}/p1.pcap",
            "p2=net_pcap2,tx_pcap={dir}/p2.pcap",
        ],
    );
    s.ok(
        V13,
        "add-group",
        &["group_id=1,type=all,bucket=output:2,bucket=mod_nw_src:10.9.9.9,output:3"],
    );
    s.ok(V13, "add-meter", &["meter=1,pktps,bands=type=drop,rate=1"]);
    s.ok(
        V13,
        "add-flow",
        &["priority=10,in_port=1,udp,tp_dst=5001,actions=group:1"],
    );
    s.ok(
        V13,
        "add-flow",
        &["priority=10,in_port=1,udp,tp_dst=5002,actions=meter:1,output:3"],
    );
    let grouped: Vec<Vec<u8>> = (0..3).map(|i| frame([10, 0, 0, 1], 5001, i)).collect();
    let metered: Vec<Vec<u8>> = (3..7).map(|i| frame([10, 0, 0, 1], 5002, i)).collect();
    for f in grouped.iter().chain(&metered) {
        let hex: String = f.iter().map(|b| format!("{b:02x}")).collect();
        s.ok(
            V13,
            "packet-out",
            &[&format!("in_port=none packet={hex} actions=output:1")],
        );
    }
    let glen: usize = grouped.iter().map(Vec::len).sum();
    let want = format!(
        "OFPST_GROUP reply (OF1.3) (xid=0x6):\n group_id=1,ref_count=1,packet_count=3,byte_count={glen},\
         bucket0:packet_count=3,byte_count={glen},bucket1:packet_count=3,byte_count={glen}\n"
    );
    wait_until(
        5,
        || {
            // Drop the duration field, the only part that depends on time.
            s.ok(V13, "dump-group-stats", &[])
                .split(',')
                .filter(|f| !f.starts_with("duration="))
                .collect::<Vec<_>>()
                .join(",")
        },
        |got| *got == want,
    );
    let stats = s.ok(V13, "meter-stats", &[]);
    let field = |name: &str| -> u64 {
        stats
            .split([' ', '\n'])
            .find_map(|w| w.strip_prefix(name))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {stats}"))
    };
    let mlen: u64 = metered.iter().map(|f| f.len() as u64).sum();
    assert_eq!(field("flow_count:"), 1, "{stats}");
    assert_eq!(field("packet_in_count:"), 4, "{stats}");
    assert_eq!(field("byte_in_count:"), mlen, "{stats}");
    let dropped = field("packet_count:");
    assert!(
        dropped >= 1,
        "a 1 packet/s meter drops some of 4 packets sent at once: {stats}"
    );
    assert!(s.stop());

    let mut rewritten = Vec::new();
    for (i, f) in grouped.iter().enumerate() {
        let b = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4([10, 9, 9, 9], [172, 16, 0, 1], 64)
            .udp(1000 + i as u16, 5001);
        let mut out = Vec::new();
        b.write(&mut out, &(0..22).map(|k| k ^ i as u8).collect::<Vec<u8>>())
            .unwrap();
        assert_eq!(out.len(), f.len());
        rewritten.push(out);
    }
    assert_eq!(read_pcap(&s.path("p1.pcap")), grouped);
    let p2 = read_pcap(&s.path("p2.pcap"));
    assert_eq!(p2[..3], rewritten[..]);
    // The metered packets that passed, in order.
    assert_eq!(p2.len() as u64, 3 + 4 - dropped);
    for f in &p2[3..] {
        assert!(metered.contains(f));
    }
}

/// A rule with `controller` sends its packets to `ovs-ofctl monitor` as
/// packet-ins, and forwards them too.
#[test]
fn controller_action_reaches_monitor() {
    let s = OfSwitch::start(
        "packet-in",
        &["p0=net_ring0", "p1=net_pcap1,tx_pcap={dir}/p1.pcap"],
    );
    for (i, v) in [V10, V13].into_iter().enumerate() {
        let (mut mon, out) = s.monitor(v);
        std::thread::sleep(Duration::from_millis(500));
        s.ok(
            v,
            "add-flow",
            &["priority=5,in_port=1,udp,actions=controller:64,output:2"],
        );
        let f = frame([10, 0, 0, 1], 5001, i as u8);
        let hex: String = f.iter().map(|b| format!("{b:02x}")).collect();
        s.ok(
            v,
            "packet-out",
            &[&format!("in_port=none packet={hex} actions=output:1")],
        );
        let seen = wait_until(
            5,
            || std::fs::read_to_string(&out).unwrap_or_default(),
            |t| t.contains("PACKET_IN"),
        );
        // SAFETY: kill(2) on the PID of a child we started and have not reaped.
        unsafe { libc::kill(mon.id() as i32, libc::SIGTERM) };
        let _ = mon.wait();
        let head = if v == V10 {
            "(xid=0x0)"
        } else {
            "(OF1.3) (xid=0x0)"
        };
        assert!(
            seen.contains(&format!(
                "NXT_PACKET_IN2 {head}: cookie=0x0 total_len=64 in_port=1 (via action) data_len=64 (unbuffered)\n\
                 udp,vlan_tci=0x0000,dl_src=02:00:00:00:00:01,dl_dst=02:00:00:00:00:02,nw_src=10.0.0.1,\
                 nw_dst=172.16.0.1,nw_tos=0,nw_ecn=0,nw_ttl=64,nw_frag=no,tp_src={},tp_dst=5001 udp_csum:",
                1000 + i
            )),
            "{v}: {seen}"
        );
        s.ok(v, "del-flows", &[]);
    }
}

/// `mod-port p1 down` stops output to p1 (flows and packet-outs alike) until
/// `mod-port p1 up`, as a stopped NIC would.
#[test]
fn port_down_stops_forwarding() {
    let mut s = OfSwitch::start(
        "port-down",
        &["p0=net_ring0", "p1=net_pcap1,tx_pcap={dir}/p1.pcap"],
    );
    s.ok(V13, "add-flow", &["in_port=1,actions=output:2"]);
    let send = |s: &OfSwitch, f: &[u8], port: u32| {
        let hex: String = f.iter().map(|b| format!("{b:02x}")).collect();
        s.ok(
            V13,
            "packet-out",
            &[&format!("in_port=none packet={hex} actions=output:{port}")],
        );
    };
    let (a, b, c) = (
        frame([10, 0, 0, 1], 1, 1),
        frame([10, 0, 0, 1], 2, 2),
        frame([10, 0, 0, 1], 3, 3),
    );
    send(&s, &a, 1);
    s.ok(V13, "mod-port", &["p1", "down"]);
    send(&s, &b, 1);
    send(&s, &b, 2);
    s.ok(V13, "mod-port", &["p1", "up"]);
    send(&s, &c, 1);
    wait_flows(&s, V13, |d| d.contains("n_packets=3,"));
    assert!(s.stop());
    assert_eq!(read_pcap(&s.path("p1.pcap")), vec![a, c]);
}

fn wait_flows(s: &OfSwitch, v: &str, pred: impl Fn(&str) -> bool) -> String {
    wait_until(5, || s.flows(v, &[]), |d| pred(d))
}
