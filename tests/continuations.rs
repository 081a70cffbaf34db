//! Continuations end to end: the real `ferrovs` binary on virtual ports, paused by
//! `controller(pause)` and resumed by `ovs-ofctl monitor … resume` (a client we did not
//! write) and by a raw OpenFlow 1.3 client that sends good and bad `NXT_RESUME`s. Output
//! is checked byte for byte with an independent pcap reader and packet builder; error
//! replies are named by `ovs-ofctl ofp-print`. The binary gives DPDK `--no-pci` itself;
//! only virtual devices are named here.
//!
//! Traffic enters through `net_ring0` (port 1), which loops back what a packet-out sends
//! to it, so packets arrive after the rules are in place. Numbered statements (§N) are
//! those of seeds/004-closures.md §6.

mod common;
mod connmgr_common;
mod e2e;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{logged, read_pcap, Switch, TempDir};
use etherparse::PacketBuilder;
use ferrovs::ofp::ext::{emit_props, parse_props, Property};
use ferrovs::ofp::wire::Reader;
use ferrovs::ofp::OfpError;

const V13: &str = "OpenFlow13";
const OF13: u8 = 4;
const NX: u32 = 0x2320;
const NXT_RESUME: u32 = 28;
const NXT_PACKET_IN2: u32 = 30;
const NXPINT_PACKET: u16 = 0;
const NXPINT_METADATA: u16 = 6;
const NXPINT_CONTINUATION: u16 = 8;

/// A loopback TCP port nobody listens on right now.
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local addr").port()
}

/// A switch with an OpenFlow TCP listener and a control socket.
struct ContSwitch {
    sw: Switch,
    dir: TempDir,
    port: u16,
}

impl ContSwitch {
    /// `ports` are NAME=DEVARGS with `{dir}` for the test's temp dir.
    fn start(tag: &str, dpid: &str, ports: &[&str]) -> ContSwitch {
        ContSwitch::start_with(tag, dpid, ports, &[])
    }

    /// The same, with more `ferrovs run` arguments.
    fn start_with(tag: &str, dpid: &str, ports: &[&str], extra: &[&str]) -> ContSwitch {
        let dir = TempDir::new(&format!("cont-{tag}"));
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
            dpid,
            "--quiet",
        ]);
        args.extend(extra);
        let mut sw = Switch::start(&args);
        sw.wait_stderr(Duration::from_secs(20), |l| {
            logged(l).starts_with("OpenFlow listener ptcp:")
        });
        ContSwitch { sw, dir, port }
    }

    fn target(&self) -> String {
        format!("tcp:127.0.0.1:{}", self.port)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path(name)
    }

    /// `ovs-ofctl -O OpenFlow13 CMD TARGET ARGS…`, which must succeed; its stdout.
    fn ofctl(&self, cmd: &str, args: &[&str]) -> String {
        let out = Command::new("timeout")
            .args(["10", "ovs-ofctl", "-O", V13, cmd, &self.target()])
            .args(args)
            .output()
            .expect("ovs-ofctl runs (package openvswitch-common)");
        assert!(
            out.status.success(),
            "ovs-ofctl {cmd} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn add_flow(&self, flow: &str) {
        self.ofctl("add-flow", &[flow]);
    }

    /// Sends `frame` out of port 1, a loopback ring: it comes back in on port 1.
    fn inject(&self, frame: &[u8]) {
        let hex: String = frame.iter().map(|b| format!("{b:02x}")).collect();
        self.ofctl(
            "packet-out",
            &[&format!("in_port=none packet={hex} actions=output:1")],
        );
    }

    fn appctl(&self, args: &[&str]) -> String {
        let out = Command::new("timeout")
            .args(["10", "ovs-appctl", "-t"])
            .arg(self.path("ctl"))
            .args(args)
            .output()
            .expect("ovs-appctl runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn counters(&self) -> String {
        self.appctl(&["continuation/show"])
    }

    /// Packets sent by OpenFlow port `port`, from `dump-ports`.
    fn tx_packets(&self, port: u32) -> u64 {
        let dump = self.ofctl("dump-ports", &[&port.to_string()]);
        let tx = dump
            .lines()
            .find_map(|l| l.trim().strip_prefix("tx pkts="))
            .unwrap_or_else(|| panic!("no tx line: {dump}"));
        tx.split(',')
            .next()
            .unwrap_or("")
            .parse()
            .expect("tx count")
    }

    /// SIGTERM and a clean exit (the pcap files are complete after it).
    fn stop(&mut self) {
        assert!(
            self.sw.signal_and_wait(libc::SIGTERM).success(),
            "clean exit"
        );
    }
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

/// A UDP frame built by etherparse: `src_mac`'s last byte, destination IP, per-`i` ports.
fn frame(src_mac_last: u8, dst_ip: [u8; 4], dst_port: u16, i: u8) -> Vec<u8> {
    frame_to(src_mac_last, 2, dst_ip, dst_port, i)
}

/// The same with the destination MAC's last byte too.
fn frame_to(src_mac_last: u8, dst_mac_last: u8, dst_ip: [u8; 4], dst_port: u16, i: u8) -> Vec<u8> {
    let b = PacketBuilder::ethernet2([2, 0, 0, 0, 0, src_mac_last], [2, 0, 0, 0, 0, dst_mac_last])
        .ipv4([10, 0, 0, 1], dst_ip, 64)
        .udp(1000 + u16::from(i), dst_port);
    let payload: Vec<u8> = (0..22).map(|k| k ^ i).collect();
    let mut out = Vec::new();
    b.write(&mut out, &payload).expect("build frame");
    out
}

/// `ovs-ofctl ofp-print` of a message: the independent name of an error.
fn ofp_print(msg: &[u8]) -> String {
    let hex: String = msg.iter().map(|b| format!("{b:02x}")).collect();
    let out = Command::new("ovs-ofctl")
        .args(["ofp-print", &hex])
        .output()
        .expect("ovs-ofctl runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A raw OpenFlow 1.3 controller on a service connection.
struct Client {
    s: TcpStream,
    xid: u32,
}

impl Client {
    /// Connects, negotiates 1.3, asks for NXT_PACKET_IN2 (when `packet_in2`) and for
    /// whole packets (a service connection gets no packet-in with miss_send_len 0).
    fn connect(sw: &ContSwitch, packet_in2: bool) -> Client {
        Client::connect_with(sw, packet_in2, Some(0xffff))
    }

    /// The same; `miss_send_len` `None` leaves a service connection's default, 0.
    fn connect_with(sw: &ContSwitch, packet_in2: bool, miss_send_len: Option<u16>) -> Client {
        let s = TcpStream::connect(("127.0.0.1", sw.port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        let mut c = Client { s, xid: 100 };
        c.send(&[OF13, 0, 0, 8, 0, 0, 0, 1]);
        let hello = c.recv(Duration::from_secs(5)).expect("hello");
        assert_eq!(hello[1], 0, "HELLO first");
        if packet_in2 {
            c.nx(16, &2u32.to_be_bytes());
        }
        if let Some(n) = miss_send_len {
            let [hi, lo] = n.to_be_bytes();
            c.msg(9, &[0, 0, hi, lo]);
        }
        c.barrier();
        c
    }

    fn send(&mut self, m: &[u8]) {
        self.s.write_all(m).expect("send");
    }

    /// Sends a message of `mtype` with `body`; returns its xid.
    fn msg(&mut self, mtype: u8, body: &[u8]) -> u32 {
        self.xid += 1;
        let len = (8 + body.len()) as u16;
        let mut m = vec![OF13, mtype];
        m.extend_from_slice(&len.to_be_bytes());
        m.extend_from_slice(&self.xid.to_be_bytes());
        m.extend_from_slice(body);
        self.send(&m);
        self.xid
    }

    /// A Nicira message of `subtype`.
    fn nx(&mut self, subtype: u32, body: &[u8]) -> u32 {
        let mut b = NX.to_be_bytes().to_vec();
        b.extend_from_slice(&subtype.to_be_bytes());
        b.extend_from_slice(body);
        self.msg(4, &b)
    }

    fn set_controller_id(&mut self, id: u16) {
        let mut b = vec![0u8; 6];
        b.extend_from_slice(&id.to_be_bytes());
        self.nx(20, &b);
        self.barrier();
    }

    /// The next message, answering echo requests on the way; `None` after `timeout`.
    fn recv(&mut self, timeout: Duration) -> Option<Vec<u8>> {
        let deadline = Instant::now() + timeout;
        loop {
            let mut h = [0u8; 8];
            match self.s.read_exact(&mut h) {
                Ok(()) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    if Instant::now() > deadline {
                        return None;
                    }
                    continue;
                }
                Err(e) => panic!("read: {e}"),
            }
            let len = usize::from(u16::from_be_bytes([h[2], h[3]]));
            let mut m = h.to_vec();
            m.resize(len, 0);
            self.s
                .set_read_timeout(Some(Duration::from_secs(5)))
                .expect("timeout");
            self.s.read_exact(&mut m[8..]).expect("message body");
            self.s
                .set_read_timeout(Some(Duration::from_millis(200)))
                .expect("timeout");
            if m[1] == 2 {
                let mut reply = m.clone();
                reply[1] = 3;
                self.send(&reply);
                continue;
            }
            return Some(m);
        }
    }

    /// Sends a barrier and returns what came before its reply.
    fn barrier(&mut self) -> Vec<Vec<u8>> {
        let xid = self.msg(20, &[]);
        let mut before = Vec::new();
        loop {
            let m = self.recv(Duration::from_secs(5)).expect("barrier reply");
            if m[1] == 21 && m[4..8] == xid.to_be_bytes() {
                return before;
            }
            before.push(m);
        }
    }

    /// The next NXT_PACKET_IN2's properties, within `timeout`.
    fn packet_in2(&mut self, timeout: Duration) -> Option<Vec<Property>> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            let Some(m) = self.recv(deadline.saturating_duration_since(Instant::now())) else {
                break;
            };
            if m[1] == 4
                && m[8..12] == NX.to_be_bytes()
                && m[12..16] == NXT_PACKET_IN2.to_be_bytes()
            {
                let props = parse_props(&mut Reader::new(&m[16..], OfpError::OFPBPC_BAD_LEN))
                    .expect("packet-in2 properties");
                return Some(props);
            }
        }
        None
    }

    /// Sends NXT_RESUME with `props` (or raw `body`) and returns the error it got, as
    /// `ovs-ofctl ofp-print` names it, or "" when the barrier after it came back first.
    fn resume_body(&mut self, body: &[u8]) -> String {
        self.nx(NXT_RESUME, body);
        match self.barrier().as_slice() {
            [] => String::new(),
            [m] if m[1] == 1 => ofp_print(m),
            other => panic!("unexpected answer to NXT_RESUME: {other:?}"),
        }
    }

    fn resume(&mut self, props: &[Property]) -> String {
        let mut body = Vec::new();
        emit_props(props, &mut body);
        self.resume_body(&body)
    }
}

fn prop(props: &[Property], t: u16) -> &Property {
    props
        .iter()
        .find(|p| p.ptype == t)
        .unwrap_or_else(|| panic!("no property {t}"))
}

/// The packet-in's properties as a controller that changed nothing sends them back.
fn resume_of(pin: &[Property]) -> Vec<Property> {
    pin.to_vec()
}

/// Asserts that `printed` (ofp-print of an OFPT_ERROR) names `name`.
fn assert_error(printed: &str, name: &str) {
    assert!(
        printed.starts_with("OFPT_ERROR") && printed.contains(&format!("{name}\n")),
        "want {name}: {printed}"
    );
}

/// Acceptance: `ovs-ofctl monitor … resume` resumes every continuation. The pause sits
/// in a table reached by resubmit, with an output already in the action set; the packet
/// leaves port 2 once, with the rewrite made before the pause (eth_src) and the one after
/// it (ip_dst). §17, §24, §26.
#[test]
fn ofctl_monitor_resumes_a_pause_in_a_resubmitted_table() {
    // `ovs-ofctl monitor TARGET resume` as a user types it (OpenFlow 1.0), then in 1.3.
    for (tag, opts, head) in [
        ("ofctl10", &[][..], "NXT_PACKET_IN2 (xid=0x0)"),
        (
            "ofctl13",
            &["-O", V13][..],
            "NXT_PACKET_IN2 (OF1.3) (xid=0x0)",
        ),
    ] {
        monitor_resumes(tag, opts, head);
    }
}

fn monitor_resumes(tag: &str, opts: &[&str], head: &str) {
    let mut s = ContSwitch::start(
        tag,
        "abc",
        &["p0=net_ring0", "p1=net_pcap1,tx_pcap={dir}/p1.pcap"],
    );
    s.add_flow("table=0,in_port=1,udp,actions=write_actions(output:2),goto_table:1");
    s.add_flow("table=1,actions=mod_dl_src:02:00:00:00:00:aa,resubmit(,2)");
    s.add_flow("table=2,ip,cookie=0x42,actions=controller(pause),mod_nw_dst:10.0.0.99");
    let out = s.path("monitor.txt");
    let file = std::fs::File::create(&out).expect("monitor output");
    let unixctl = format!("--unixctl={}", s.path("monitor.ctl").display());
    let mut mon: Child = Command::new("timeout")
        .args(["20", "ovs-ofctl"])
        .args(opts)
        .args([&unixctl, "monitor"])
        .arg(s.target())
        .arg("resume")
        .stdout(file.try_clone().expect("dup"))
        .stderr(file)
        .stdin(Stdio::null())
        .spawn()
        .expect("ovs-ofctl monitor starts");
    // Time for the monitor to connect and set its packet-in format and miss_send_len.
    std::thread::sleep(Duration::from_millis(1000));
    // Two packets of two flows: the second flow's packets hit its megaflow and still each
    // make their own continuation (§26).
    let sent = [
        frame(1, [10, 0, 0, 2], 5001, 1),
        frame(1, [10, 0, 0, 3], 5001, 2),
        frame(1, [10, 0, 0, 3], 5001, 3),
    ];
    for f in &sent {
        s.inject(f);
    }
    wait_until(10, || s.counters(), |c| c.contains(" resumed 3 "));
    // Each rule counts each packet once: before the pause on the way up, none on resume.
    let flows = wait_until(
        5,
        || s.ofctl("dump-flows", &[]),
        |d| d.matches("n_packets=3,").count() == 3,
    );
    assert!(flows.contains("cookie=0x42"), "{flows}");
    // SAFETY: kill(2) on the PID of a child we started and have not reaped.
    unsafe { libc::kill(mon.id() as i32, libc::SIGTERM) };
    let _ = mon.wait();
    let text = std::fs::read_to_string(&out).unwrap_or_default();
    assert_eq!(text.matches("send: NXT_RESUME").count(), 3, "{text}");
    // The continuation's packet already has the rewrite made before the pause (§24).
    assert!(
        text.contains(&format!(
            "{head}: table_id=2 cookie=0x42 total_len=64 in_port=1 (via action) data_len=64 (unbuffered)\n"
        )) && text.contains("dl_src=02:00:00:00:00:aa,dl_dst=02:00:00:00:00:02,nw_src=10.0.0.1,nw_dst=10.0.0.2,"),
        "{text}"
    );
    // Open vSwitch decodes the frozen state in the connection's version.
    assert!(
        text.contains(
            " continuation.actions=unroll_xlate(table=2, cookie=66),set_field:10.0.0.99->ip_dst\n \
             continuation.action_set=output:2\n"
        ),
        "{text}"
    );
    assert_eq!(
        s.counters(),
        "continuations: paused 3 unsent 0 resumed 3 rejected 0\n"
    );
    s.stop();
    let want: Vec<Vec<u8>> = sent
        .iter()
        .enumerate()
        .map(|(i, _)| frame(0xaa, [10, 0, 0, 99], 5001, i as u8 + 1))
        .collect();
    assert_eq!(read_pcap(&s.path("p1.pcap")), want);
}

/// The continuation's properties of a packet-in: (the continuation's value, its index).
fn continuation_of(pin: &[Property]) -> (Vec<u8>, usize) {
    let i = pin
        .iter()
        .position(|p| p.ptype == NXPINT_CONTINUATION)
        .expect("a continuation");
    (pin[i].value.clone(), i)
}

/// Acceptance: bad NXT_RESUMEs get the exact error and run nothing; a good one runs
/// exactly once; continuations from another switch or from before a restart are stale.
/// §4, §6, §7, §11, §13, §18.
#[test]
fn raw_controller_resumes_and_bad_resumes_are_refused() {
    let ports = [
        "p0=net_ring0",
        "p1=net_pcap1,tx_pcap={dir}/p1.pcap",
        "p2=net_pcap2,tx_pcap={dir}/p2.pcap",
    ];
    let flow = "priority=10,in_port=1,udp,actions=output:2,controller(pause),output:3";
    let mut a = ContSwitch::start("raw-a", "abc", &ports);
    let b = ContSwitch::start("raw-b", "abd", &["p0=net_ring1"]);
    a.add_flow(flow);
    b.add_flow(flow);
    let mut c = Client::connect(&a, true);
    let f = frame(1, [10, 0, 0, 2], 5001, 7);
    a.inject(&f);
    let pin = c
        .packet_in2(Duration::from_secs(5))
        .expect("NXT_PACKET_IN2");
    assert_eq!(prop(&pin, NXPINT_PACKET).value, f);
    // §18: the output before the pause happened; the one after it waits for NXT_RESUME.
    wait_until(5, || a.tx_packets(2), |&n| n == 1);
    assert_eq!(a.tx_packets(3), 0);
    let (cont, ci) = continuation_of(&pin);

    // A changed private property (a byte of the frozen actions): stale.
    let mut bad = resume_of(&pin);
    let n = bad[ci].value.len();
    // The last byte of output:3's port, just before the MAC property (40 bytes).
    bad[ci].value[n - 49] ^= 0x01;
    assert_error(&c.resume(&bad), "NXR_STALE");
    // A truncated property: the continuation claims 8 more bytes than the message has.
    let mut body = Vec::new();
    emit_props(&resume_of(&pin), &mut body);
    body.truncate(body.len() - 8);
    assert_error(&c.resume_body(&body), "OFPBPC_BAD_LEN");
    // An unknown property type.
    let mut bad = resume_of(&pin);
    bad.push(Property {
        ptype: 0x42,
        value: vec![1, 2, 3, 4],
    });
    assert_error(&c.resume(&bad), "OFPBPC_BAD_TYPE");
    // No packet.
    let bad: Vec<Property> = resume_of(&pin)
        .into_iter()
        .filter(|p| p.ptype != NXPINT_PACKET)
        .collect();
    assert_error(&c.resume(&bad), "OFPBRC_BAD_LEN");
    // §4: a body that is not a multiple of 8 bytes.
    let mut body = Vec::new();
    emit_props(&resume_of(&pin), &mut body);
    body.extend_from_slice(&[0, 0x42, 0, 4]);
    assert_error(&c.resume_body(&body), "OFPBRC_BAD_LEN");
    // §11: a packet-in sent to the switch.
    c.nx(NXT_PACKET_IN2, &body[..body.len() - 4]);
    let answer = c.barrier();
    assert_eq!(answer.len(), 1);
    assert_error(&ofp_print(&answer[0]), "OFPBRC_BAD_TYPE");
    // A continuation of another switch (another datapath id, another secret): §13.
    let mut cb = Client::connect(&b, true);
    assert_error(&cb.resume(&resume_of(&pin)), "NXR_STALE");
    assert_eq!(
        b.counters(),
        "continuations: paused 0 unsent 0 resumed 0 rejected 1\n"
    );
    // Nothing ran for any of them.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(a.tx_packets(3), 0);

    // The real one: no reply, and the packet leaves port 3 exactly once.
    assert_eq!(c.resume(&resume_of(&pin)), "");
    wait_until(5, || a.tx_packets(3), |&n| n == 1);
    assert_eq!(
        a.counters(),
        "continuations: paused 1 unsent 0 resumed 1 rejected 4\n"
    );
    a.stop();
    assert_eq!(read_pcap(&a.path("p1.pcap")), std::slice::from_ref(&f));
    assert_eq!(read_pcap(&a.path("p2.pcap")), std::slice::from_ref(&f));

    // The same switch restarted (same datapath id, same flows): the old continuation is
    // stale, and nothing leaves.
    let mut a2 = ContSwitch::start("raw-a2", "abc", &ports);
    a2.add_flow(flow);
    let mut c2 = Client::connect(&a2, true);
    let mut again = resume_of(&pin);
    again[ci].value = cont;
    assert_error(&c2.resume(&again), "NXR_STALE");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(a2.tx_packets(3), 0);
    a2.stop();
    assert_eq!(read_pcap(&a2.path("p2.pcap")), Vec::<Vec<u8>>::new());
}

/// Who gets a continuation (§19, §20), what a resume changes (§23), pause as the last
/// action (§21) and tracing (§28).
#[test]
fn continuations_go_to_subscribed_controllers_only() {
    let mut s = ContSwitch::start(
        "who",
        "abc",
        &[
            "p0=net_ring0",
            "p1=net_pcap1,tx_pcap={dir}/p1.pcap",
            "p2=net_pcap2,tx_pcap={dir}/p2.pcap",
            "p3=net_pcap3,tx_pcap={dir}/p3.pcap",
        ],
    );
    s.add_flow("priority=10,in_port=1,udp,tp_dst=5001,actions=output:2,controller(id=5,pause),output:NXM_NX_REG0[0..15]");
    s.add_flow("priority=10,in_port=1,udp,tp_dst=5002,actions=output:2,controller(pause)");
    // No controller: the packet stops at the pause, counted.
    s.inject(&frame(1, [10, 0, 0, 2], 5001, 1));
    wait_until(5, || s.counters(), |c| c.contains(" unsent 1 "));
    // A controller with id 0 and one in the standard packet-in format are not asked.
    let mut c0 = Client::connect(&s, true);
    s.inject(&frame(1, [10, 0, 0, 2], 5001, 2));
    wait_until(5, || s.counters(), |c| c.contains(" unsent 2 "));
    assert!(c0.packet_in2(Duration::from_millis(500)).is_none());
    // Id 5 in NXT_PACKET_IN2 gets it; id 5 in the standard format gets a plain packet-in,
    // with nothing to resume, as Open vSwitch sends it.
    let mut c5 = Client::connect(&s, true);
    c5.set_controller_id(5);
    let mut std5 = Client::connect(&s, false);
    std5.set_controller_id(5);
    // A service connection that never set a miss_send_len hears no packet-ins at all.
    let mut quiet5 = Client::connect_with(&s, true, None);
    quiet5.set_controller_id(5);
    let f3 = frame(1, [10, 0, 0, 2], 5001, 3);
    s.inject(&f3);
    let pin = c5
        .packet_in2(Duration::from_secs(5))
        .expect("NXT_PACKET_IN2");
    let plain = std5.recv(Duration::from_secs(5)).expect("OFPT_PACKET_IN");
    assert_eq!(plain[1], 10, "OFPT_PACKET_IN");
    assert!(c0.packet_in2(Duration::from_millis(300)).is_none());
    assert!(quiet5.packet_in2(Duration::from_millis(300)).is_none());
    // §23: the controller writes reg0 = 4 into the metadata: the packet leaves port 4.
    let mut back = resume_of(&pin);
    let md = back
        .iter_mut()
        .find(|p| p.ptype == NXPINT_METADATA)
        .expect("metadata");
    // in_port=1 (OXM in_port, 8 bytes), then reg0 = 4 (NXM_NX_REG0, 8 bytes).
    assert_eq!(md.value, [0x80, 0, 0, 4, 0, 0, 0, 1]);
    md.value
        .extend_from_slice(&[0x00, 0x01, 0x00, 0x04, 0, 0, 0, 4]);
    assert_eq!(c5.resume(&back), "");
    wait_until(5, || s.tx_packets(4), |&n| n == 1);
    assert_eq!(s.tx_packets(3), 0);

    // §21: pause as the last action resumes to nothing, and no second packet-in.
    let f4 = frame(1, [10, 0, 0, 2], 5002, 4);
    s.inject(&f4);
    let pin = c0
        .packet_in2(Duration::from_secs(5))
        .expect("NXT_PACKET_IN2");
    assert_eq!(c0.resume(&resume_of(&pin)), "");
    assert!(c0.packet_in2(Duration::from_millis(700)).is_none());
    wait_until(5, || s.counters(), |c| c.contains(" resumed 2 "));
    // §28: tracing a pausing flow sends nothing.
    let before = s.counters();
    let trace = s.appctl(&["ofproto/trace", "br0", "in_port=1,udp,tp_dst=5002"]);
    assert!(trace.contains("pause"), "{trace}");
    assert!(c0.packet_in2(Duration::from_millis(300)).is_none());
    assert_eq!(s.counters(), before);
    assert_eq!(
        before,
        "continuations: paused 4 unsent 2 resumed 2 rejected 0\n"
    );
    s.stop();
    let all: Vec<Vec<u8>> = (1..=4)
        .map(|i| frame(1, [10, 0, 0, 2], if i == 4 { 5002 } else { 5001 }, i))
        .collect();
    assert_eq!(read_pcap(&s.path("p1.pcap")), all);
    assert_eq!(read_pcap(&s.path("p2.pcap")), Vec::<Vec<u8>>::new());
    assert_eq!(read_pcap(&s.path("p3.pcap")), [f3]);
}

/// Acceptance: an os-ken app (tests/e2e/continuation_app.py) receives the NXT_PACKET_IN2
/// of a pause in a resubmitted table, rewrites the packet's IPv4 destination (a public
/// property) and sends NXT_RESUME; the rewritten packet leaves by the actions after the
/// pause, which rewrite eth_dst and output it. The rewrite before the pause (eth_src) is
/// in the packet the app saw (§24) and in what leaves.
#[test]
fn osken_app_rewrites_the_packet_and_resumes() {
    let python = e2e::osken_python();
    let dir = TempDir::new("cont-osken");
    let report = dir.path("report.json");
    let port = e2e::free_port().to_string();
    let launcher = e2e::py_dir().join("osken_run.py");
    let app = e2e::py_dir().join("continuation_app.py");
    let mut osken = Switch::start_with(
        python.to_str().expect("utf-8 path"),
        &[],
        &[
            launcher.to_str().expect("utf-8 path"),
            &port,
            app.to_str().expect("utf-8 path"),
            report.to_str().expect("utf-8 path"),
        ],
    );
    osken.wait_stdout(Duration::from_secs(30), |l| l == "osken: listening");
    let controller = format!("tcp:127.0.0.1:{port}");
    let mut s = ContSwitch::start_with(
        "osken-sw",
        "abc",
        &["p0=net_ring0", "p1=net_pcap1,tx_pcap={dir}/p1.pcap"],
        &["--controller", &controller],
    );
    let read = || -> serde_json::Value {
        std::fs::read_to_string(&report)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(serde_json::Value::Null)
    };
    wait_until(30, read, |v| v["ready"] == true);
    s.add_flow("table=0,in_port=1,udp,actions=mod_dl_src:02:00:00:00:00:bb,resubmit(,1)");
    s.add_flow(
        "table=1,ip,cookie=0x5,actions=controller(pause),mod_dl_dst:02:00:00:00:00:cc,output:2",
    );
    s.inject(&frame(1, [10, 0, 0, 2], 5001, 1));
    wait_until(10, || s.counters(), |c| c.contains(" resumed 1 "));
    let v = read();
    assert_eq!(
        v["packet_ins"],
        serde_json::json!([{
            "eth_src": "02:00:00:00:00:bb",
            "ip_dst": "10.0.0.2",
            "table_id": 1,
            "cookie": 5,
            "reason": 1,
            "continuation": true
        }]),
        "{v}"
    );
    assert_eq!(v["errors"], serde_json::json!([]), "{v}");
    s.stop();
    assert_eq!(
        read_pcap(&s.path("p1.pcap")),
        [frame_to(0xbb, 0xcc, [10, 0, 0, 77], 5001, 1)]
    );
}

/// The async config gates continuations like any packet-in with reason "action": by
/// default a master or equal gets them and a slave does not; NXT_SET_ASYNC_CONFIG2 turns
/// either on or off (§20). A slave may not resume (ferrovs refuses writes from slaves,
/// NXT_RESUME included, where Open vSwitch does not check).
#[test]
fn async_config_gates_continuations() {
    let mut s = ContSwitch::start(
        "async",
        "abc",
        &["p0=net_ring0", "p1=net_pcap1,tx_pcap={dir}/p1.pcap"],
    );
    s.add_flow("in_port=1,udp,actions=controller(pause),output:2");
    let mut eq = Client::connect(&s, true);
    let mut sl = Client::connect(&s, true);
    sl.nx(10, &2u32.to_be_bytes());
    assert_eq!(sl.barrier().len(), 1, "NXT_ROLE_REPLY");
    let f1 = frame(1, [10, 0, 0, 2], 5001, 1);
    s.inject(&f1);
    let pin1 = eq
        .packet_in2(Duration::from_secs(5))
        .expect("equal gets it");
    assert!(sl.packet_in2(Duration::from_millis(500)).is_none());
    // NXT_SET_ASYNC_CONFIG2: the equal connection keeps only NO_MATCH in its master
    // packet-in mask (property 1); the slave turns ACTION on (property 0).
    let async2 = |t: u16, mask: u32| {
        let mut b = t.to_be_bytes().to_vec();
        b.extend_from_slice(&8u16.to_be_bytes());
        b.extend_from_slice(&mask.to_be_bytes());
        b
    };
    eq.nx(27, &async2(1, 0b01));
    assert!(eq.barrier().is_empty());
    sl.nx(27, &async2(0, 0b10));
    assert!(sl.barrier().is_empty());
    let f2 = frame(1, [10, 0, 0, 2], 5001, 2);
    s.inject(&f2);
    let pin2 = sl
        .packet_in2(Duration::from_secs(5))
        .expect("slave gets it");
    assert!(eq.packet_in2(Duration::from_millis(500)).is_none());
    assert_error(&sl.resume(&resume_of(&pin2)), "OFPBRC_IS_SECONDARY");
    assert_eq!(eq.resume(&resume_of(&pin2)), "");
    assert_eq!(eq.resume(&resume_of(&pin1)), "");
    wait_until(5, || s.counters(), |c| c.contains(" resumed 2 "));
    s.stop();
    assert_eq!(read_pcap(&s.path("p1.pcap")), [f2, f1]);
}

/// §25: continuations are packet-ins to the rate limiter: they share one token bucket
/// with the other packet-ins of the connection (connmgr driven directly, on a test clock).
#[test]
fn continuations_share_the_packet_in_rate_limit() {
    use connmgr_common::{ptcp_config, Local, HELLO13};
    use ferrovs::connmgr::{AsyncEvent, ConnmgrConfig, PacketInEvent, RateLimit};
    let mut h = Local::new(ConnmgrConfig {
        packet_in_limit: Some(RateLimit { rate: 10, burst: 5 }),
        ..ptcp_config()
    });
    let mut p = h.peer(&HELLO13);
    // SET_CONFIG miss_send_len 0xffff, then NXT_SET_PACKET_IN_FORMAT NXT_PACKET_IN2.
    h.exchange(&mut p, &[4, 9, 0, 12, 0, 0, 0, 1, 0, 0, 0xff, 0xff]);
    h.exchange(
        &mut p,
        &[
            4, 4, 0, 20, 0, 0, 0, 2, 0, 0, 0x23, 0x20, 0, 0, 0, 16, 0, 0, 0, 2,
        ],
    );
    let pin = |continuation: Option<ferrovs::continuation::Sealed>| {
        AsyncEvent::PacketIn(PacketInEvent {
            reason: 1,
            table_id: 0,
            cookie: 0,
            in_port: 1,
            metadata: ferrovs::ofp::OxmMatch::default(),
            max_len: Some(0xffff),
            packet: frame(1, [10, 0, 0, 2], 5001, 1),
            controller_id: 0,
            userdata: None,
            continuation,
        })
    };
    let paused = pin(Some(ferrovs::continuation::Sealed::same_for_all(vec![
        0x80, 0x06, 0, 8, 4, 0, 0, 0,
    ])));
    let sent: usize = (0..20).map(|_| h.send_async(&paused)).sum();
    assert_eq!(sent, 5, "the burst");
    assert_eq!(h.send_async(&pin(None)), 0, "the same bucket");
    let got = h.drain(&mut p);
    assert_eq!(got.len(), 5);
    for m in &got {
        assert_eq!(m[12..16], NXT_PACKET_IN2.to_be_bytes());
        let props =
            parse_props(&mut Reader::new(&m[16..], OfpError::OFPBPC_BAD_LEN)).expect("properties");
        // The continuation as given, after the 4 bytes that align nested properties.
        assert_eq!(
            prop(&props, NXPINT_CONTINUATION).value,
            [0, 0, 0, 0, 0x80, 0x06, 0, 8, 4, 0, 0, 0]
        );
    }
    // 10 per second: 300 ms later, 3 more of either kind.
    h.advance(Duration::from_millis(300));
    let sent: usize = (0..20).map(|_| h.send_async(&paused)).sum();
    assert_eq!(sent, 3);
}
