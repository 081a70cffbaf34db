//! Peers that misbehave: garbage, wrong versions, unframeable bytes, silence, and a peer that
//! stops reading. Each gets the error Open vSwitch would send (exact bytes) or a clean
//! disconnect, and the other connections keep working.

mod connmgr_common;

use std::io::Write;
use std::time::Duration;

use connmgr_common::*;
use ferrovs::connmgr::{AsyncEvent, CloseReason, ConnmgrConfig, PacketInEvent};
use ferrovs::ofp::OxmMatch;

/// An echo round trip proves a connection still works.
fn assert_alive(h: &mut Local, p: &mut Peer) {
    let got = h.exchange(p, &[0x04, 0x02, 0x00, 0x0a, 0, 0, 0, 0x77, 0xbe, 0xef]);
    assert_eq!(
        got,
        vec![vec![0x04, 0x03, 0x00, 0x0a, 0, 0, 0, 0x77, 0xbe, 0xef]]
    );
}

#[test]
fn unknown_type_gets_bad_type() {
    let mut h = Local::new(ptcp_config());
    let mut p = h.peer(&HELLO13);
    let req = [0x04, 0x63, 0x00, 0x08, 0, 0, 0, 7];
    let got = h.exchange(&mut p, &req);
    // OFPET_BAD_REQUEST / OFPBRC_BAD_TYPE with the request as data.
    let mut want = vec![0x04, 0x01, 0x00, 0x14, 0, 0, 0, 7, 0x00, 0x01, 0x00, 0x01];
    want.extend_from_slice(&req);
    assert_eq!(got, vec![want]);
    assert_alive(&mut h, &mut p);
}

#[test]
fn other_version_after_negotiation_gets_bad_version() {
    let mut h = Local::new(ptcp_config());
    let mut p = h.peer(&HELLO13);
    let req = [0x01, 0x05, 0x00, 0x08, 0, 0, 0, 9];
    let got = h.exchange(&mut p, &req);
    let mut want = vec![0x04, 0x01, 0x00, 0x14, 0, 0, 0, 9, 0x00, 0x01, 0x00, 0x00];
    want.extend_from_slice(&req);
    assert_eq!(got, vec![want]);
    assert_alive(&mut h, &mut p);
}

#[test]
fn bad_length_gets_bad_len_with_64_bytes_of_data() {
    let mut h = Local::new(ptcp_config());
    let mut p = h.peer(&HELLO13);
    // FEATURES_REQUEST must be empty; this one carries 72 bytes.
    let mut req = vec![0x04, 0x05, 0x00, 0x50, 0, 0, 0, 3];
    req.resize(80, 0x5a);
    let got = h.exchange(&mut p, &req);
    let mut want = vec![0x04, 0x01, 0x00, 0x4c, 0, 0, 0, 3, 0x00, 0x01, 0x00, 0x06];
    want.extend_from_slice(&req[..64]);
    assert_eq!(got, vec![want]);
}

#[test]
fn unknown_experimenter_gets_bad_vendor() {
    let mut h = Local::new(ptcp_config());
    let mut p = h.peer(&HELLO13);
    let req = [
        0x04, 0x04, 0x00, 0x10, 0, 0, 0, 4, 0x00, 0x00, 0x12, 0x34, 0, 0, 0, 1,
    ];
    let got = h.exchange(&mut p, &req);
    let mut want = vec![0x04, 0x01, 0x00, 0x1c, 0, 0, 0, 4, 0x00, 0x01, 0x00, 0x03];
    want.extend_from_slice(&req);
    assert_eq!(got, vec![want]);
}

#[test]
fn replies_sent_to_the_switch_get_bad_type() {
    let mut h = Local::new(ptcp_config());
    let mut p = h.peer(&HELLO13);
    // A BARRIER_REPLY (type 21) is for controllers to receive, not the switch.
    let req = [0x04, 0x15, 0x00, 0x08, 0, 0, 0, 5];
    let got = h.exchange(&mut p, &req);
    let mut want = vec![0x04, 0x01, 0x00, 0x14, 0, 0, 0, 5, 0x00, 0x01, 0x00, 0x01];
    want.extend_from_slice(&req);
    assert_eq!(got, vec![want]);
}

#[test]
fn no_common_version_gets_hello_failed_and_disconnect() {
    let mut h = Local::new(ptcp_config());
    let mut p = Peer::connect(h.port());
    h.pump();
    let ours = p.recv().unwrap();
    // Our HELLO: version 1.5 header, bitmap of 1.0, 1.3, 1.4, 1.5.
    assert_eq!(
        ours,
        vec![0x06, 0x00, 0x00, 0x10, 0, 0, 0, 0, 0x00, 0x01, 0x00, 0x08, 0, 0, 0, 0x72]
    );
    // A peer that speaks only OpenFlow 1.1.
    p.send(&[
        0x02, 0x00, 0x00, 0x10, 0, 0, 0, 1, 0x00, 0x01, 0x00, 0x08, 0, 0, 0, 0x04,
    ]);
    h.pump();
    let err = p.recv().expect("an error before the close");
    // OFPET_HELLO_FAILED / OFPHFC_INCOMPATIBLE, in OpenFlow 1.0 framing, with text.
    assert_eq!(
        &err[..12],
        &[0x01, 0x01, err[2], err[3], 0, 0, 0, 1, 0x00, 0x00, 0x00, 0x00]
    );
    assert!(String::from_utf8_lossy(&err[12..]).contains("OF1.0, OF1.3, OF1.4, OF1.5"));
    assert!(p.closed());
    h.pump();
    let closed = h.cm.take_closed();
    assert_eq!(closed.len(), 1);
    assert_eq!(closed[0].reason, CloseReason::HelloFailed);
}

#[test]
fn message_before_hello_disconnects() {
    let mut h = Local::new(ptcp_config());
    let mut p = Peer::connect(h.port());
    h.pump();
    p.recv().unwrap();
    p.send(&[0x04, 0x02, 0x00, 0x08, 0, 0, 0, 1]);
    h.pump();
    assert!(p.closed());
    assert_eq!(h.cm.take_closed()[0].reason, CloseReason::NoHello);
}

#[test]
fn unframeable_input_disconnects_only_that_peer() {
    let mut h = Local::new(ptcp_config());
    let mut good = h.peer(&HELLO13);
    let mut bad = h.peer(&HELLO13);
    // A length of 4 cannot be an OpenFlow message: nothing after it can be framed.
    bad.send(&[0x04, 0x02, 0x00, 0x04, 0, 0, 0, 1, 0xff, 0xff]);
    h.pump();
    assert!(bad.closed());
    assert_eq!(h.cm.take_closed()[0].reason, CloseReason::Unframeable);
    assert_alive(&mut h, &mut good);
}

#[test]
fn random_garbage_never_panics_and_others_keep_working() {
    let mut h = Local::new(ptcp_config());
    let mut good = h.peer(&HELLO13);
    // Deterministic pseudo-random bytes after a valid handshake, many times over.
    let mut x: u32 = 0x1234_5678;
    for round in 0..30 {
        let mut bad = h.peer(&HELLO13);
        let mut junk = Vec::new();
        for _ in 0..(200 + round * 37) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            junk.push(x as u8);
        }
        // Keep the first header plausible so the garbage reaches the decoders.
        junk[0] = 0x04;
        junk[2] = 0;
        junk[3] = 64;
        let _ = bad.sock.write_all(&junk);
        h.pump();
    }
    assert_alive(&mut h, &mut good);
}

#[test]
fn silent_peer_gets_two_probes_then_is_dropped() {
    let mut h = Local::new(ConnmgrConfig {
        probe_interval: Duration::from_secs(5),
        ..ptcp_config()
    });
    let mut silent = h.peer(&HELLO13);
    let mut chatty = h.peer(&HELLO13);
    let step = Duration::from_millis(500);
    let mut probes = 0;
    for _ in 0..40 {
        h.advance(step);
        h.pump();
        // The chatty peer talks every step; the silent one only ever reads.
        assert_alive(&mut h, &mut chatty);
        for m in h.drain(&mut silent) {
            assert_eq!(m[..4], [0x04, 0x02, 0x00, 0x08], "an echo request probe");
            probes += 1;
        }
        if !h.cm.take_closed().is_empty() {
            break;
        }
    }
    assert_eq!(probes, 2);
    // Dropped after 15 s: 5 s idle, then two probes 5 s apart, each unanswered.
    assert!(silent.closed());
    assert_eq!(h.cm.connections().count(), 1);
}

#[test]
fn silent_before_hello_is_dropped_after_one_interval() {
    let mut h = Local::new(ptcp_config());
    let mut p = Peer::connect(h.port());
    h.pump();
    p.recv().unwrap();
    h.advance(Duration::from_millis(4900));
    h.pump();
    assert!(h.cm.take_closed().is_empty());
    h.advance(Duration::from_millis(200));
    h.pump();
    assert_eq!(h.cm.take_closed()[0].reason, CloseReason::NoHello);
}

fn read_raw(p: &mut Peer, into: &mut Vec<u8>) {
    use std::io::Read;
    p.sock.set_nonblocking(true).unwrap();
    let mut chunk = [0u8; 65536];
    while let Ok(n) = p.sock.read(&mut chunk) {
        if n == 0 {
            break;
        }
        into.extend_from_slice(&chunk[..n]);
    }
    p.sock.set_nonblocking(false).unwrap();
}

fn packet_in(n: usize) -> AsyncEvent {
    AsyncEvent::PacketIn(PacketInEvent {
        reason: 0,
        table_id: 0,
        cookie: 0,
        in_port: 1,
        metadata: OxmMatch::default(),
        max_len: Some(0xffff),
        packet: vec![0xab; n],
        controller_id: 0,
        userdata: None,
        continuation: None,
    })
}

#[test]
fn peer_that_stops_reading_stays_bounded_and_others_unaffected() {
    let limit = 256 * 1024;
    let mut h = Local::new(ConnmgrConfig {
        queue_limit: limit,
        ..ptcp_config()
    });
    let mut stuck = h.peer(&HELLO13);
    // A small receive window, so the kernel does not hide the problem for megabytes.
    socket2::SockRef::from(&stuck.sock)
        .set_recv_buffer_size(4096)
        .unwrap();
    let mut reader = h.peer(&HELLO13);
    // Both ask for packet-ins (service connections get none until miss_send_len is set).
    let set_config = [0x04, 0x09, 0x00, 0x0c, 0, 0, 0, 1, 0, 0, 0xff, 0xff];
    h.exchange(&mut stuck, &set_config);
    h.exchange(&mut reader, &set_config);
    stuck
        .sock
        .set_read_timeout(Some(Duration::from_millis(1)))
        .unwrap();
    let mut received = 0;
    let mut reader_bytes = Vec::new();
    for _ in 0..1000 {
        // 4 KB packet-ins: 4 MB offered in all, far beyond the limit.
        h.send_async(&packet_in(4000));
        h.cm.poll(h.now, &mut switch_handler);
        std::thread::sleep(Duration::from_micros(200));
        h.cm.poll(h.now, &mut switch_handler);
        read_raw(&mut reader, &mut reader_bytes);
        for (_, st) in h.cm.connections() {
            assert!(
                st.queued_bytes <= limit,
                "queue {} over the limit",
                st.queued_bytes
            );
        }
    }
    h.pump();
    read_raw(&mut reader, &mut reader_bytes);
    received += split_messages(&reader_bytes).len();
    assert_eq!(received, 1000, "the reading peer got every packet-in");
    let stats: Vec<_> = h.cm.connections().map(|(i, s)| (i.id, s.clone())).collect();
    let dropped: u64 = stats.iter().map(|(_, s)| s.async_queue_dropped).sum();
    assert!(
        dropped > 0,
        "the stuck peer's packet-ins were dropped, not queued: {stats:?}"
    );
    assert_eq!(stats.len(), 2, "async overflow does not disconnect");
    assert_alive(&mut h, &mut reader);
}

#[test]
fn peer_that_floods_requests_without_reading_is_slowed_not_grown() {
    let limit = 128 * 1024;
    let mut h = Local::new(ConnmgrConfig {
        queue_limit: limit,
        ..ptcp_config()
    });
    let mut flood = h.peer(&HELLO13);
    socket2::SockRef::from(&flood.sock)
        .set_recv_buffer_size(4096)
        .unwrap();
    let mut other = h.peer(&HELLO13);
    flood.sock.set_nonblocking(true).unwrap();
    // 60 KB echo requests: each reply is as big as the request.
    let mut echo = vec![0x04, 0x02, 0xea, 0x60, 0, 0, 0, 1];
    echo.resize(60000, 7);
    let mut sent = 0usize;
    for _ in 0..600 {
        if let Ok(n) = flood.sock.write(&echo) {
            sent += n;
        }
        h.cm.poll(h.now, &mut switch_handler);
        for (_, st) in h.cm.connections() {
            assert!(st.queued_bytes <= limit);
        }
    }
    // 36 MB offered; the kernel buffers filled up and the flooder was made to wait.
    assert!(sent < 600 * 60000, "sent {sent}");
    assert_eq!(h.cm.connections().count(), 2);
    assert_alive(&mut h, &mut other);
}

/// Answers a barrier with 150 messages of 60 KB: a reply batch far beyond the queue limit,
/// like a big flow dump.
fn big_handler(
    _: &ferrovs::connmgr::ConnInfo,
    req: &ferrovs::connmgr::Request<'_>,
) -> Result<Vec<ferrovs::ofp::Message>, ferrovs::ofp::OfpError> {
    use ferrovs::ofp::Message;
    match req.message {
        Message::BarrierRequest => Ok((0..150)
            .map(|_| Message::EchoReply(vec![0x33; 60000]))
            .collect()),
        _ => Err(ferrovs::ofp::OfpError::OFPBRC_BAD_TYPE),
    }
}

#[test]
fn a_large_reply_batch_is_sent_whole_and_an_unread_one_ends_the_connection() {
    let limit = 256 * 1024;
    let mut h = Local::new(ConnmgrConfig {
        queue_limit: limit,
        ..ptcp_config()
    });
    let mut reader = h.peer(&HELLO13);
    let mut stuck = h.peer(&HELLO13);
    socket2::SockRef::from(&stuck.sock)
        .set_recv_buffer_size(4096)
        .unwrap();
    let barrier = [0x04, 0x14, 0x00, 0x08, 0, 0, 0, 1];
    reader.send(&barrier);
    // 9 MB in one batch: more than the kernel's socket buffers hide.
    stuck.send(&barrier);
    let mut bytes = Vec::new();
    for _ in 0..400 {
        h.cm.poll(h.now, &mut big_handler);
        read_raw(&mut reader, &mut bytes);
        std::thread::sleep(Duration::from_micros(500));
    }
    let msgs = split_messages(&bytes);
    assert_eq!(msgs.len(), 150, "the whole batch arrives");
    assert!(msgs
        .iter()
        .all(|m| m.len() == 60008 && m[1] == 3 && m[7] == 1));
    let queued: Vec<usize> = h.cm.connections().map(|(_, s)| s.queued_bytes).collect();
    assert_eq!(queued.len(), 2, "a big batch alone does not disconnect");
    assert!(queued.iter().any(|&q| q > limit), "{queued:?}");
    // The stuck peer's queue is over the limit; the next thing queued for it (the
    // inactivity probe) ends the connection.
    h.advance(Duration::from_secs(6));
    h.cm.poll(h.now, &mut big_handler);
    let closed = h.cm.take_closed();
    assert_eq!(closed.len(), 1);
    assert_eq!(closed[0].reason, CloseReason::QueueOverflow);
    assert_eq!(h.cm.connections().count(), 1);
}

#[test]
fn a_burst_of_small_requests_is_answered_in_order() {
    let mut h = Local::new(ptcp_config());
    let mut p = h.peer(&HELLO13);
    let mut burst = Vec::new();
    for xid in 0..3000u32 {
        burst.extend_from_slice(&[0x04, 0x02, 0x00, 0x08]);
        burst.extend_from_slice(&xid.to_be_bytes());
    }
    p.send(&burst);
    let mut bytes = Vec::new();
    for _ in 0..200 {
        h.cm.poll(h.now, &mut switch_handler);
        read_raw(&mut p, &mut bytes);
        if bytes.len() == burst.len() {
            break;
        }
    }
    let replies = split_messages(&bytes);
    assert_eq!(replies.len(), 3000);
    for (xid, r) in replies.iter().enumerate() {
        let mut want = vec![0x04, 0x03, 0x00, 0x08];
        want.extend_from_slice(&(xid as u32).to_be_bytes());
        assert_eq!(r, &want);
    }
}
