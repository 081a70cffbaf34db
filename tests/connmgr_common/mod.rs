//! Shared pieces of the connmgr tests: a small switch handler, a connmgr polled on its own
//! thread, and a raw OpenFlow peer over TCP that the tests drive byte by byte.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use ferrovs::connmgr::{
    AsyncEvent, ClosedConn, ConnInfo, ConnStats, Connmgr, ConnmgrConfig, ControllerStatus,
    ListenTarget, Request,
};
use ferrovs::ofp::flow::Match;
use ferrovs::ofp::instruction::Instruction;
use ferrovs::ofp::multipart::{Desc, FlowStats, MultipartReplyBody, MultipartRequestBody};
use ferrovs::ofp::oxm::{Field, MatchEntry};
use ferrovs::ofp::{
    Action, FeaturesReply, Message, MultipartReply, OfpError, OxmMatch, PortDesc, SwitchConfig,
};

pub const DPID: u64 = 0xabc;

pub fn local_port() -> PortDesc {
    PortDesc {
        port_no: ferrovs::ofp::port::OFPP_LOCAL,
        hw_addr: [0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff],
        name: "br0".into(),
        ..PortDesc::default()
    }
}

/// Answers what `ovs-ofctl show` and `dump-flows` ask, with one fixed flow.
pub fn switch_handler(info: &ConnInfo, req: &Request<'_>) -> Result<Vec<Message>, OfpError> {
    Ok(match req.message {
        Message::FeaturesRequest => vec![Message::FeaturesReply(FeaturesReply {
            datapath_id: DPID,
            n_buffers: 0,
            n_tables: 254,
            auxiliary_id: 0,
            capabilities: 0x4f,
            actions: 0,
            ports: vec![local_port()],
        })],
        Message::GetConfigRequest => vec![Message::GetConfigReply(SwitchConfig {
            flags: if info.invalid_ttl_to_controller { 4 } else { 0 },
            miss_send_len: info.miss_send_len,
        })],
        Message::SetConfig(_) | Message::FlowMod(_) | Message::PacketOut(_) => vec![],
        Message::BarrierRequest => vec![Message::BarrierReply],
        Message::MultipartRequest(m) => {
            let body = match &m.body {
                MultipartRequestBody::PortDesc { .. } => {
                    MultipartReplyBody::PortDesc(vec![local_port()])
                }
                MultipartRequestBody::Desc => MultipartReplyBody::Desc(Desc {
                    mfr_desc: "ferrovs".into(),
                    ..Desc::default()
                }),
                MultipartRequestBody::Flow(_) => MultipartReplyBody::Flow(vec![FlowStats {
                    table_id: 0,
                    duration_sec: 1,
                    duration_nsec: 500_000_000,
                    priority: 100,
                    idle_timeout: 0,
                    hard_timeout: 0,
                    flags: 0,
                    importance: 0,
                    cookie: 0,
                    packet_count: 3,
                    byte_count: 180,
                    match_: Match::Oxm(OxmMatch {
                        entries: vec![MatchEntry::from_u64(Field::InPort, 1)],
                    }),
                    instructions: vec![Instruction::ApplyActions(vec![Action::Output {
                        port: 2,
                        max_len: 0,
                    }])],
                }]),
                _ => return Err(OfpError::OFPBRC_BAD_STAT),
            };
            vec![Message::MultipartReply(MultipartReply { flags: 0, body })]
        }
        _ => return Err(OfpError::OFPBRC_BAD_TYPE),
    })
}

/// What the polling thread publishes after every poll.
#[derive(Debug, Default, Clone)]
pub struct Snapshot {
    pub conns: Vec<(ConnInfo, ConnStats)>,
    pub controllers: Vec<ControllerStatus>,
    pub closed: Vec<ClosedConn>,
    pub fail_open: bool,
}

/// A connmgr polled every millisecond on its own thread until dropped.
pub struct Switch {
    pub listen: Vec<(ListenTarget, Option<SocketAddr>)>,
    pub snapshot: Arc<Mutex<Snapshot>>,
    pub events: mpsc::Sender<AsyncEvent>,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Switch {
    pub fn start(config: ConnmgrConfig) -> Switch {
        let mut cm = Connmgr::new(config).expect("connmgr starts");
        let listen = cm.listen_addrs();
        let snapshot = Arc::new(Mutex::new(Snapshot::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (events, rx) = mpsc::channel::<AsyncEvent>();
        let (snap, stop2) = (snapshot.clone(), stop.clone());
        let thread = thread::spawn(move || {
            while !stop2.load(Ordering::Relaxed) {
                let now = Instant::now();
                cm.poll(now, &mut switch_handler);
                while let Ok(e) = rx.try_recv() {
                    cm.send_async(&e, now);
                }
                let closed = cm.take_closed();
                let mut s = snap.lock().unwrap();
                s.conns = cm
                    .connections()
                    .map(|(i, st)| (i.clone(), st.clone()))
                    .collect();
                s.controllers = cm.controllers();
                s.closed.extend(closed);
                s.fail_open = cm.fail_open(now);
                drop(s);
                thread::sleep(Duration::from_millis(1));
            }
        });
        Switch {
            listen,
            snapshot,
            events,
            stop,
            thread: Some(thread),
        }
    }

    pub fn tcp_port(&self) -> u16 {
        self.listen
            .iter()
            .find_map(|(_, a)| *a)
            .expect("a TCP listener")
            .port()
    }

    pub fn snap(&self) -> Snapshot {
        self.snapshot.lock().unwrap().clone()
    }

    /// Waits until `f` holds for a snapshot, or panics after `secs`.
    pub fn wait_for(&self, secs: u64, what: &str, f: impl Fn(&Snapshot) -> bool) -> Snapshot {
        let end = Instant::now() + Duration::from_secs(secs);
        loop {
            let s = self.snap();
            if f(&s) {
                return s;
            }
            assert!(Instant::now() < end, "timed out waiting for {what}: {s:#?}");
            thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Switch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A raw OpenFlow peer.
pub struct Peer {
    pub sock: TcpStream,
}

impl Peer {
    pub fn connect(port: u16) -> Peer {
        let sock = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        // Without this, a small request after one that gets no reply waits for a delayed ACK.
        sock.set_nodelay(true).unwrap();
        Peer { sock }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.sock.write_all(bytes).expect("send");
    }

    /// The next whole message, or `None` when the switch closed the connection.
    pub fn recv(&mut self) -> Option<Vec<u8>> {
        let mut h = [0u8; 8];
        if self.sock.read_exact(&mut h).is_err() {
            return None;
        }
        let len = usize::from(u16::from_be_bytes([h[2], h[3]]));
        let mut msg = h.to_vec();
        msg.resize(len.max(8), 0);
        self.sock.read_exact(&mut msg[8..]).ok()?;
        Some(msg)
    }

    /// The next message that is not an echo request (those are answered).
    pub fn recv_skip_echo(&mut self) -> Option<Vec<u8>> {
        loop {
            let m = self.recv()?;
            if m[1] == 2 {
                let mut r = m.clone();
                r[1] = 3;
                self.send(&r);
                continue;
            }
            return Some(m);
        }
    }

    /// True when the switch closes the connection (end of file) within the read timeout.
    pub fn closed(&mut self) -> bool {
        let mut buf = [0u8; 4096];
        loop {
            match self.sock.read(&mut buf) {
                Ok(0) => return true,
                Ok(_) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
                Err(_) => return false,
            }
        }
    }

    /// Sends an OpenFlow 1.3-only HELLO and checks the switch's HELLO.
    pub fn handshake13(&mut self) {
        let hello = self.recv().expect("switch hello");
        assert_eq!(hello[1], 0, "first message is a HELLO");
        self.send(&HELLO13);
    }

    pub fn handshake(&mut self, hello: &[u8]) {
        let h = self.recv().expect("switch hello");
        assert_eq!(h[1], 0);
        self.send(hello);
    }
}

/// HELLO offering only OpenFlow 1.3 (bitmap 0x10).
pub const HELLO13: [u8; 16] = [
    0x04, 0x00, 0x00, 0x10, 0, 0, 0, 1, 0x00, 0x01, 0x00, 0x08, 0x00, 0x00, 0x00, 0x10,
];
/// HELLO offering only OpenFlow 1.4.
pub const HELLO14: [u8; 16] = [
    0x05, 0x00, 0x00, 0x10, 0, 0, 0, 1, 0x00, 0x01, 0x00, 0x08, 0x00, 0x00, 0x00, 0x20,
];
/// OpenFlow 1.0 HELLO (no bitmap).
pub const HELLO10: [u8; 8] = [0x01, 0x00, 0x00, 0x08, 0, 0, 0, 1];

/// A config with one ptcp listener on an ephemeral loopback port.
pub fn ptcp_config() -> ConnmgrConfig {
    ConnmgrConfig {
        listeners: vec!["ptcp:0".parse().unwrap()],
        ..ConnmgrConfig::default()
    }
}

/// Runs ovs-ofctl with a timeout; returns (success, stdout, stderr).
pub fn ofctl(args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new("timeout")
        .arg("10")
        .arg("ovs-ofctl")
        .args(args)
        .output()
        .expect("ovs-ofctl runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A connmgr driven on the test's own thread, with a clock the test controls.
pub struct Local {
    pub cm: Connmgr,
    pub now: Instant,
}

impl Local {
    pub fn new(config: ConnmgrConfig) -> Local {
        Local {
            cm: Connmgr::new(config).expect("connmgr starts"),
            now: Instant::now(),
        }
    }

    pub fn port(&self) -> u16 {
        self.cm
            .listen_addrs()
            .iter()
            .find_map(|(_, a)| *a)
            .expect("a TCP listener")
            .port()
    }

    /// Polls a few times with short real pauses, so the kernel moves bytes in between.
    pub fn pump(&mut self) {
        for _ in 0..5 {
            self.cm.poll(self.now, &mut switch_handler);
            thread::sleep(Duration::from_millis(2));
        }
    }

    pub fn advance(&mut self, d: Duration) {
        self.now += d;
    }

    pub fn send_async(&mut self, e: &AsyncEvent) -> usize {
        self.cm.send_async(e, self.now)
    }

    /// Connects a raw peer that speaks `hello` and waits until connmgr has negotiated.
    pub fn peer(&mut self, hello: &[u8]) -> Peer {
        let mut p = Peer::connect(self.port());
        self.pump();
        p.handshake(hello);
        self.pump();
        p.sock
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        p
    }

    /// Sends `bytes` from `peer`, lets connmgr run, and returns everything it sent back.
    pub fn exchange(&mut self, peer: &mut Peer, bytes: &[u8]) -> Vec<Vec<u8>> {
        peer.send(bytes);
        self.pump();
        self.drain(peer)
    }

    /// Everything the peer has received so far.
    pub fn drain(&mut self, peer: &mut Peer) -> Vec<Vec<u8>> {
        self.pump();
        read_available(peer)
    }
}

/// What the peer's socket holds right now, as messages (a partial last message is lost).
pub fn read_available(peer: &mut Peer) -> Vec<Vec<u8>> {
    {
        peer.sock.set_nonblocking(true).unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 65536];
        loop {
            match peer.sock.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(_) => break,
            }
        }
        peer.sock.set_nonblocking(false).unwrap();
        split_messages(&buf)
    }
}

/// Splits a byte stream into OpenFlow messages.
pub fn split_messages(mut buf: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while buf.len() >= 8 {
        let len = usize::from(u16::from_be_bytes([buf[2], buf[3]]))
            .max(8)
            .min(buf.len());
        out.push(buf[..len].to_vec());
        buf = &buf[len..];
    }
    out
}

/// Hex for `ovs-ofctl ofp-print`.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
