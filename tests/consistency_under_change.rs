//! Consistency under change: after a barrier reply, no packet leaves by a
//! deleted or changed rule.
//!
//! Topology: one network namespace holding two veth pairs, `t0`–`s0` and
//! `t1`–`s1`. The switch runs in it with `s0` and `s1` as `net_af_packet`
//! ports 1 and 2 (DPDK gets `--no-pci` from the binary itself). A sender
//! thread, moved into the namespace with setns(2), writes UDP frames into
//! `t0` as fast as it can, cycling over four source ports (four flows); each
//! frame carries a sequence number taken from a shared counter just before
//! it is sent. A receiver thread reads what the switch sends out of `s1` on
//! `t1`. Meanwhile `ovs-ofctl` (OpenFlow 1.3, on the switch's management
//! socket) adds, modifies and deletes rules; every version of a rule
//! rewrites `eth_src` to its own marker, and ovs-ofctl returns only after
//! the switch's barrier reply. Right after each returns, the test reads the
//! sequence counter: every frame numbered at or above it was sent after
//! that barrier reply.
//!
//! The check needs no timing: a frame sent after the reply of change `i`
//! may only show the marker of a table state `j >= i` (a later change may
//! have overtaken it while it sat in a queue), and may only arrive at all if
//! some such state forwards its flow. An old marker, or a frame of a flow
//! whose rule was deleted, fails the test.
//!
//! Frames of one flow must also arrive in the order they were sent: a
//! deleted rule's megaflows are made again by upcalls under full traffic,
//! and a new megaflow holds its packets until the ones before them are out.
//!
//! The change script exercises every revalidation outcome: modifying a rule
//! in place (megaflows fixed), a narrower higher-priority rule (megaflows
//! whose mask no longer fits are deleted), deleting rules (megaflows of the
//! deleted rule deleted) and adding them back.

mod common;
mod e2e;

use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{logged, Switch, TempDir};
use e2e::Netns;

/// Marks our frames (first 4 payload bytes).
const MAGIC: u32 = 0xfe77_c0de;
/// UDP source ports of the flows; the narrow rule matches `SRC_PORTS[1]`.
const SRC_PORTS: [u16; 4] = [1000, 1001, 1002, 1003];
const DST_PORT: u16 = 5001;
/// The source MAC frames are sent with; rules rewrite it to a marker.
const ORIG_SRC: [u8; 6] = [0x0a, 0, 0, 0, 0, 1];

/// The marker MAC of rule version `v`.
fn marker_mac(v: u16) -> [u8; 6] {
    let b = v.to_be_bytes();
    [0x02, 0xaa, 0, 0, b[0], b[1]]
}

fn marker_text(v: u16) -> String {
    marker_mac(v)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The rule version a received source MAC names; `None` for anything else.
fn marker_of(mac: &[u8]) -> Option<u16> {
    (mac[..4] == [0x02, 0xaa, 0, 0]).then(|| u16::from_be_bytes([mac[4], mac[5]]))
}

/// One rule of the model: a `priority=P,udp,in_port=1[,tp_src=S]` rule
/// that marks with `marker` and outputs to port 2.
#[derive(Clone, Debug)]
struct ModelRule {
    priority: u16,
    tp_src: Option<u16>,
    marker: u16,
}

/// What a table state does with a flow: the marker it leaves with, or
/// `None` when it is dropped (OpenFlow 1.3 table miss, no controller).
fn expect(state: &[ModelRule], src_port: u16) -> Option<u16> {
    state
        .iter()
        .filter(|r| r.tp_src.map_or(true, |p| p == src_port))
        .max_by_key(|r| r.priority)
        .map(|r| r.marker)
}

/// Moves the calling thread into namespace `name` (setns(2) is per thread).
fn enter_netns(name: &str) {
    let f = File::open(format!("/var/run/netns/{name}")).expect("open netns");
    // SAFETY: setns(2) on a descriptor we own; it changes only this thread's namespace.
    let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
    assert_eq!(rc, 0, "setns {name}: {}", std::io::Error::last_os_error());
}

/// A raw packet socket bound to `ifname` (in the calling thread's namespace).
fn packet_socket(ifname: &str) -> OwnedFd {
    let proto = (libc::ETH_P_ALL as u16).to_be();
    // SAFETY: socket(2) with constant arguments; the result is checked.
    let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, i32::from(proto)) };
    assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
    // SAFETY: fd is a fresh descriptor nobody else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let name = std::ffi::CString::new(ifname).expect("name");
    // SAFETY: a NUL-terminated name.
    let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) };
    assert!(ifindex > 0, "no interface {ifname}");
    // SAFETY: sockaddr_ll is plain old data; all-zero is a valid value.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_protocol = proto;
    sll.sll_ifindex = ifindex as i32;
    // SAFETY: sll is a valid sockaddr_ll and its size is passed with it.
    let rc = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            &sll as *const libc::sockaddr_ll as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_ll>() as u32,
        )
    };
    assert_eq!(rc, 0, "bind {ifname}: {}", std::io::Error::last_os_error());
    fd
}

/// The frame of flow `src_port`, with room for the sequence number at
/// offset 46 and the UDP checksum cleared (so patching the payload keeps it
/// valid).
fn template(src_port: u16) -> Vec<u8> {
    let builder = etherparse::PacketBuilder::ethernet2(ORIG_SRC, [0x02, 0, 0, 0, 0, 2])
        .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
        .udp(src_port, DST_PORT);
    let mut payload = MAGIC.to_be_bytes().to_vec();
    payload.extend_from_slice(&[0; 8]);
    let mut out = Vec::with_capacity(builder.size(payload.len()));
    builder.write(&mut out, &payload).expect("build frame");
    out[40] = 0;
    out[41] = 0;
    out
}

/// A received frame of ours: (sequence, source port, marker or None).
fn parse(frame: &[u8]) -> Option<(u64, u16, Option<u16>)> {
    if frame.len() < 54 || frame[12..14] != [0x08, 0x00] || frame[23] != 17 {
        return None;
    }
    if u16::from_be_bytes([frame[36], frame[37]]) != DST_PORT
        || u32::from_be_bytes([frame[42], frame[43], frame[44], frame[45]]) != MAGIC
    {
        return None;
    }
    let seq = u64::from_be_bytes(frame[46..54].try_into().ok()?);
    let src_port = u16::from_be_bytes([frame[34], frame[35]]);
    let marker = if frame[6..12] == ORIG_SRC {
        None
    } else {
        Some(marker_of(&frame[6..12])?)
    };
    Some((seq, src_port, marker))
}

/// Sets the stop flag when dropped, so a panicking test stops its threads.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

fn ofctl(mgmt: &Path, args: &[&str]) {
    let target = format!("unix:{}", mgmt.display());
    let mut a = vec!["-O", "OpenFlow13"];
    let (cmd, rest) = args.split_first().expect("a command");
    let strict = *cmd == "mod-flows" || *cmd == "del-flows";
    if strict {
        a.push("--strict");
    }
    a.push(cmd);
    a.push(&target);
    a.extend_from_slice(rest);
    e2e::sh("ovs-ofctl", &a);
}

fn rule_text(r: &ModelRule) -> String {
    let m = match r.tp_src {
        Some(p) => format!("priority={},udp,in_port=1,tp_src={p}", r.priority),
        None => format!("priority={},udp,in_port=1", r.priority),
    };
    format!(
        "{m},actions=set_field:{}->eth_src,output:2",
        marker_text(r.marker)
    )
}

fn match_text(priority: u16, tp_src: Option<u16>) -> String {
    match tp_src {
        Some(p) => format!("priority={priority},udp,in_port=1,tp_src={p}"),
        None => format!("priority={priority},udp,in_port=1"),
    }
}

#[test]
fn no_packet_leaves_by_a_deleted_or_changed_rule_after_the_barrier() {
    let dir = TempDir::new("consistency");
    let ctl = dir.path("ferrovs.ctl");
    let mgmt = dir.path("br0.mgmt");
    let ns = Netns::new("cons");
    for (s, t) in [("s0", "t0"), ("s1", "t1")] {
        ns.ip(&["link", "add", s, "type", "veth", "peer", "name", t]);
        ns.ip(&["link", "set", s, "up"]);
        ns.ip(&["link", "set", t, "up"]);
    }
    let bin = common::binary();
    let mut switch = Switch::start_with(
        "ip",
        &[],
        &[
            "netns",
            "exec",
            &ns.name,
            bin.to_str().expect("utf-8 path"),
            "run",
            "--quiet",
            "--ctl",
            ctl.to_str().expect("utf-8 path"),
            "--port",
            "p0=net_af_packet0,iface=s0",
            "--port",
            "p1=net_af_packet1,iface=s1",
        ],
    );
    switch.wait_stderr(Duration::from_secs(60), |l| {
        logged(l).starts_with("running with 2 port(s)")
    });

    // State 0, in place before the first frame is sent.
    let mut version: u16 = 1;
    let mut state = vec![ModelRule {
        priority: 100,
        tp_src: None,
        marker: version,
    }];
    ofctl(&mgmt, &["add-flow", &rule_text(&state[0])]);
    // (first sequence number sent after the barrier reply, table state)
    let mut timeline: Vec<(u64, Vec<ModelRule>)> = vec![(0, state.clone())];

    let stop = Arc::new(AtomicBool::new(false));
    let _guard = StopOnDrop(stop.clone());
    let next_seq = Arc::new(AtomicU64::new(0));
    let received = Arc::new(Mutex::new(Vec::<(u64, u16, Option<u16>)>::new()));

    let receiver = {
        let (stop, received, name) = (stop.clone(), received.clone(), ns.name.clone());
        std::thread::spawn(move || {
            enter_netns(&name);
            let sock = packet_socket("t1");
            let tv = libc::timeval {
                tv_sec: 0,
                tv_usec: 100_000,
            };
            // SAFETY: a timeval option of the right size on our socket.
            unsafe {
                libc::setsockopt(
                    sock.as_raw_fd(),
                    libc::SOL_SOCKET,
                    libc::SO_RCVTIMEO,
                    &tv as *const libc::timeval as *const libc::c_void,
                    std::mem::size_of::<libc::timeval>() as u32,
                );
                let size: libc::c_int = 16 << 20;
                libc::setsockopt(
                    sock.as_raw_fd(),
                    libc::SOL_SOCKET,
                    libc::SO_RCVBUFFORCE,
                    &size as *const libc::c_int as *const libc::c_void,
                    std::mem::size_of::<libc::c_int>() as u32,
                );
            }
            let mut buf = [0u8; 2048];
            let mut local = Vec::new();
            // Keep reading a little after the stop flag: frames in flight.
            let mut idle_after_stop = 0;
            while idle_after_stop < 3 {
                // SAFETY: recv(2) into a buffer we own, bounded by its length.
                let n = unsafe {
                    libc::recv(
                        sock.as_raw_fd(),
                        buf.as_mut_ptr() as *mut libc::c_void,
                        buf.len(),
                        0,
                    )
                };
                if n <= 0 {
                    if stop.load(Ordering::SeqCst) {
                        idle_after_stop += 1;
                    }
                    continue;
                }
                if let Some(p) = parse(&buf[..n as usize]) {
                    local.push(p);
                }
            }
            received.lock().expect("lock").extend(local);
        })
    };
    let sender = {
        let (stop, next_seq, name) = (stop.clone(), next_seq.clone(), ns.name.clone());
        std::thread::spawn(move || {
            enter_netns(&name);
            let sock = packet_socket("t0");
            let mut frames: Vec<Vec<u8>> = SRC_PORTS.iter().map(|&p| template(p)).collect();
            let mut sent = 0u64;
            while !stop.load(Ordering::SeqCst) {
                let seq = next_seq.fetch_add(1, Ordering::SeqCst);
                let f = &mut frames[(seq % SRC_PORTS.len() as u64) as usize];
                f[46..54].copy_from_slice(&seq.to_be_bytes());
                // SAFETY: send(2) of a buffer we own on a bound packet socket.
                let n = unsafe {
                    libc::send(
                        sock.as_raw_fd(),
                        f.as_ptr() as *const libc::c_void,
                        f.len(),
                        0,
                    )
                };
                if n > 0 {
                    sent += 1;
                }
            }
            sent
        })
    };

    // Let the megaflows of state 0 form.
    std::thread::sleep(Duration::from_millis(300));
    let narrow = SRC_PORTS[1];
    for _round in 0..6 {
        let steps: [&str; 6] = [
            "mod-main",
            "add-narrow",
            "mod-main",
            "del-narrow",
            "del-main",
            "add-main",
        ];
        for step in steps {
            version += 1;
            match step {
                "mod-main" | "add-main" => {
                    let r = ModelRule {
                        priority: 100,
                        tp_src: None,
                        marker: version,
                    };
                    let cmd = if step == "mod-main" {
                        "mod-flows"
                    } else {
                        "add-flow"
                    };
                    ofctl(&mgmt, &[cmd, &rule_text(&r)]);
                    state.retain(|x| x.priority != 100);
                    state.push(r);
                }
                "add-narrow" => {
                    let r = ModelRule {
                        priority: 200,
                        tp_src: Some(narrow),
                        marker: version,
                    };
                    ofctl(&mgmt, &["add-flow", &rule_text(&r)]);
                    state.push(r);
                }
                "del-narrow" => {
                    ofctl(&mgmt, &["del-flows", &match_text(200, Some(narrow))]);
                    state.retain(|x| x.priority != 200);
                }
                _ => {
                    ofctl(&mgmt, &["del-flows", &match_text(100, None)]);
                    state.retain(|x| x.priority != 100);
                }
            }
            // ovs-ofctl returned, so the barrier reply came: frames numbered
            // from here on were sent after it.
            timeline.push((next_seq.load(Ordering::SeqCst), state.clone()));
            std::thread::sleep(Duration::from_millis(40));
        }
    }
    stop.store(true, Ordering::SeqCst);
    let sent = sender.join().expect("sender");
    receiver.join().expect("receiver");
    let received = received.lock().expect("lock").clone();

    // The check: a frame sent under state i shows a state j >= i.
    let mut violations = Vec::new();
    let mut exact = vec![0u64; timeline.len()];
    for &(seq, src_port, marker) in &received {
        let i = timeline.partition_point(|(start, _)| *start <= seq) - 1;
        let allowed: Vec<Option<u16>> = timeline[i..]
            .iter()
            .map(|(_, st)| expect(st, src_port))
            .collect();
        if marker.is_none() || !allowed.contains(&marker) {
            violations.push((seq, src_port, marker, i, allowed));
        } else if allowed[0] == marker {
            exact[i] += 1;
        }
    }
    eprintln!(
        "consistency: {sent} frames sent, {} received, {} states, frames showing exactly the \
         state they were sent under: {exact:?}",
        received.len(),
        timeline.len()
    );
    assert!(
        violations.is_empty(),
        "{} of {} frames broke a barrier (seq, src port, marker, state, allowed): {:?}",
        violations.len(),
        received.len(),
        &violations[..violations.len().min(20)]
    );
    // No frame overtakes an earlier one of its flow, not even while the
    // flow's megaflow is being made again after a delete (held flows).
    let mut last_seq: std::collections::HashMap<u16, u64> = std::collections::HashMap::new();
    let reordered: Vec<(u16, u64, u64)> = received
        .iter()
        .filter_map(|&(seq, src_port, _)| {
            let before = last_seq.insert(src_port, seq)?;
            (seq < before).then_some((src_port, before, seq))
        })
        .collect();
    assert!(
        reordered.is_empty(),
        "{} frames arrived after a later one of their flow (src port, earlier seq, this seq): {:?}",
        reordered.len(),
        &reordered[..reordered.len().min(20)]
    );
    // The test has teeth only if traffic flowed under most states.
    let forwarding_states: Vec<usize> = (0..timeline.len())
        .filter(|&i| {
            SRC_PORTS
                .iter()
                .any(|&p| expect(&timeline[i].1, p).is_some())
        })
        .collect();
    let covered = forwarding_states.iter().filter(|&&i| exact[i] > 0).count();
    assert!(
        covered * 4 >= forwarding_states.len() * 3,
        "only {covered} of {} forwarding states saw a frame ({} sent, {} received)",
        forwarding_states.len(),
        sent,
        received.len()
    );
    // Revalidation did the work, not a flush: megaflows of changed rules
    // were fixed in place, those of deleted rules were deleted, and no PMD
    // ever failed to answer.
    let show = e2e::appctl(&ctl, &["upcall/show"]);
    let reval = show
        .lines()
        .find_map(|l| l.trim().strip_prefix("revalidations: "))
        .unwrap_or_else(|| panic!("no revalidations line: {show}"));
    let count = |label: &str| -> u64 {
        let at = reval
            .find(label)
            .unwrap_or_else(|| panic!("{label}: {show}"))
            + label.len();
        reval[at..]
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{label}: {show}"))
    };
    assert!(count("fixed ") > 0 && count("deleted ") > 0, "{show}");
    assert_eq!(count("flushed all "), 0, "{show}");
    let status = switch.signal_and_wait(libc::SIGTERM);
    assert!(status.success(), "{:#?}", switch.stderr_lines);
}
