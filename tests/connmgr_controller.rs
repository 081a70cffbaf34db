//! Active controller connections: reconnect with exponential backoff to a controller that
//! appears late or goes away, and the fail-open decision of standalone mode.

mod connmgr_common;

use std::io::Read;
use std::net::TcpListener;
use std::thread;
use std::time::{Duration, Instant};

use connmgr_common::*;
use ferrovs::connmgr::{CloseReason, ConnKind, ConnmgrConfig, ControllerTarget, FailMode};

/// A loopback port nobody listens on (for now).
fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn controller_config(port: u16) -> ConnmgrConfig {
    ConnmgrConfig {
        controllers: vec![format!("tcp:127.0.0.1:{port}").parse().unwrap()],
        backoff_min: Duration::from_millis(100),
        backoff_max: Duration::from_millis(800),
        probe_interval: Duration::from_secs(1),
        fail_mode: FailMode::Standalone,
        ..ConnmgrConfig::default()
    }
}

/// Polls once per 10 ms of test time (with a real millisecond for the kernel) until `until`,
/// returning the test times (ms from start) at which connection attempts were made.
fn run_until(h: &mut Local, start: Instant, until_ms: u64, attempts: &mut Vec<u64>) {
    while h.now < start + Duration::from_millis(until_ms) {
        let before = h.cm.controllers()[0].attempts;
        h.cm.poll(h.now, &mut switch_handler);
        if h.cm.controllers()[0].attempts > before {
            attempts.push(h.now.duration_since(start).as_millis() as u64);
        }
        thread::sleep(Duration::from_millis(1));
        h.advance(Duration::from_millis(10));
    }
}

#[test]
fn reconnects_with_backoff_to_a_late_controller_and_after_it_leaves() {
    let port = free_port();
    let mut h = Local::new(controller_config(port));
    let start = h.now;
    let mut attempts = Vec::new();
    run_until(&mut h, start, 2600, &mut attempts);
    // 1st at once, then 100, 200, 400, 800, 800 ms after each failure (each failure is seen
    // within one 10 ms step of its attempt).
    assert!(attempts.len() >= 6, "{attempts:?}");
    assert_eq!(attempts[0], 0);
    for (i, want) in [100, 200, 400, 800, 800].into_iter().enumerate() {
        let gap = attempts[i + 1] - attempts[i];
        assert!(
            (want..=want + 20).contains(&gap),
            "gap {i} is {gap} ms, want {want}: {attempts:?}"
        );
    }
    assert_eq!(h.cm.controllers()[0].backoff, Duration::from_millis(800));
    assert!(h.cm.controllers()[0].connected.is_none());
    // Standalone: no controller for 3 probe intervals (3 s) means fail-open.
    assert!(!h.cm.fail_open(start + Duration::from_millis(2990)));
    assert!(h.cm.fail_open(start + Duration::from_millis(3000)));

    // The controller appears; within one maximal backoff the switch is connected.
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    listener.set_nonblocking(true).unwrap();
    let mut ctl = None;
    let appear = h.now;
    while ctl.is_none() && h.now < appear + Duration::from_millis(900) {
        h.cm.poll(h.now, &mut switch_handler);
        if let Ok((s, _)) = listener.accept() {
            ctl = Some(s);
        }
        thread::sleep(Duration::from_millis(1));
        h.advance(Duration::from_millis(10));
    }
    let sock = ctl.expect("the switch connected");
    sock.set_nonblocking(false).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut ctl = Peer { sock };
    h.pump();
    ctl.handshake(&HELLO13);
    h.pump();
    let st = &h.cm.controllers()[0];
    assert!(st.connected.is_some());
    assert_eq!(
        st.backoff,
        Duration::from_millis(100),
        "backoff resets once connected"
    );
    assert!(
        !h.cm.fail_open(h.now),
        "a connected controller takes over again"
    );
    let (info, _) = h.cm.connections().next().unwrap();
    assert_eq!(info.kind, ConnKind::Controller);
    assert_eq!(info.miss_send_len, 128);
    assert_eq!(info.name, format!("tcp:127.0.0.1:{port}"));

    // It goes away: the switch notices, waits one backoff and tries again.
    drop(ctl);
    h.pump();
    let st = &h.cm.controllers()[0];
    assert!(st.connected.is_none());
    assert_eq!(st.last_close, Some(CloseReason::PeerClosed));
    let left = h.now;
    assert!(!h.cm.fail_open(left + Duration::from_millis(2900)));
    assert!(h.cm.fail_open(left + Duration::from_millis(3100)));
    let attempts_before = st.attempts;
    h.advance(Duration::from_millis(110));
    h.pump();
    assert_eq!(h.cm.controllers()[0].attempts, attempts_before + 1);
    // The listener is still there, so the switch is connected again (HELLO waiting).
    let (s, _) = loop {
        if let Ok(x) = listener.accept() {
            break x;
        }
        h.pump();
    };
    s.set_nonblocking(false).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut hello = [0u8; 16];
    (&s).read_exact(&mut hello).unwrap();
    assert_eq!(
        hello,
        [0x06, 0x00, 0x00, 0x10, 0, 0, 0, 0, 0x00, 0x01, 0x00, 0x08, 0, 0, 0, 0x72]
    );
}

#[test]
fn secure_mode_never_fails_open() {
    let mut h = Local::new(ConnmgrConfig {
        fail_mode: FailMode::Secure,
        ..controller_config(free_port())
    });
    h.pump();
    assert!(!h.cm.fail_open(h.now + Duration::from_secs(3600)));
}

#[test]
fn standalone_without_controllers_is_fail_open() {
    let h = Local::new(ConnmgrConfig {
        fail_mode: FailMode::Standalone,
        ..ptcp_config()
    });
    assert!(h.cm.fail_open(h.now));
}

#[test]
fn controller_silent_after_hello_is_dropped_and_retried() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut h = Local::new(controller_config(port));
    h.pump();
    let (s, _) = listener.accept().unwrap();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut ctl = Peer { sock: s };
    ctl.handshake(&HELLO13);
    h.pump();
    assert!(h.cm.controllers()[0].connected.is_some());
    // Probe interval 1 s: two echo requests, then the connection is dropped at 3 s.
    for _ in 0..31 {
        h.advance(Duration::from_millis(100));
        h.pump();
    }
    let st = &h.cm.controllers()[0];
    assert!(st.connected.is_none());
    assert_eq!(st.last_close, Some(CloseReason::Inactivity));
    let mut probes = 0;
    while let Some(m) = ctl.recv() {
        assert_eq!(m[1], 2);
        probes += 1;
    }
    assert_eq!(probes, 2);
}

/// Accepts the switch's connection on `listener` (polling connmgr meanwhile) and completes the
/// OpenFlow 1.3 handshake.
fn accept_controller(h: &mut Local, listener: &TcpListener) -> Peer {
    listener.set_nonblocking(true).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let sock = loop {
        if let Ok((s, _)) = listener.accept() {
            break s;
        }
        assert!(Instant::now() < deadline, "the switch did not connect");
        h.pump();
    };
    sock.set_nonblocking(false).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut peer = Peer { sock };
    peer.handshake(&HELLO13);
    h.pump();
    peer
}

#[test]
fn set_controllers_keeps_staying_connections_and_closes_removed_ones() {
    let (la, lb) = (
        TcpListener::bind("127.0.0.1:0").unwrap(),
        TcpListener::bind("127.0.0.1:0").unwrap(),
    );
    let target = |l: &TcpListener| -> ControllerTarget {
        format!("tcp:{}", l.local_addr().unwrap()).parse().unwrap()
    };
    let (ta, tb) = (target(&la), target(&lb));
    let mut h = Local::new(ConnmgrConfig {
        controllers: vec![ta.clone()],
        ..controller_config(free_port())
    });
    let mut a = accept_controller(&mut h, &la);
    let id_a = h.cm.controllers()[0].connected.expect("a is connected");

    // Adding b keeps a's connection (same id), and connects b.
    h.cm.set_controllers(&[ta.clone(), tb.clone()], h.now)
        .unwrap();
    assert_eq!(h.cm.config().controllers, [ta.clone(), tb.clone()]);
    let mut b = accept_controller(&mut h, &lb);
    let st = h.cm.controllers();
    assert_eq!(st[0].connected, Some(id_a));
    let id_b = st[1].connected.expect("b is connected");

    // Removing a closes its connection cleanly; b's stays.
    h.cm.set_controllers(std::slice::from_ref(&tb), h.now)
        .unwrap();
    h.pump();
    assert!(a.closed(), "a's connection was not closed");
    let closed = h.cm.take_closed();
    assert_eq!(closed.len(), 1);
    assert_eq!(
        (closed[0].id, closed[0].reason),
        (id_a, CloseReason::Unconfigured)
    );
    assert_eq!(h.cm.controllers().len(), 1);
    assert_eq!(h.cm.controllers()[0].connected, Some(id_b));
    assert_eq!(h.cm.controllers()[0].attempts, 1, "b was not reconnected");

    // An ssl: target without TLS files changes nothing.
    let ssl: ControllerTarget = "ssl:127.0.0.1:1".parse().unwrap();
    assert!(h.cm.set_controllers(&[ssl], h.now).is_err());
    assert_eq!(h.cm.config().controllers, [tb]);

    // Shutdown: b gets an end of stream, nothing is left unsent.
    assert_eq!(h.cm.shutdown(Instant::now() + Duration::from_secs(1)), 0);
    assert!(b.closed());
    assert_eq!(h.cm.connections().count(), 0);
}
