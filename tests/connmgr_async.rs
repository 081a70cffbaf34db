//! Asynchronous messages: who gets packet-in, port-status and flow-removed, per role, async
//! config and miss_send_len; packet-in truncation, format and rate limit. Encodings are
//! checked with `ovs-ofctl ofp-print`.

mod connmgr_common;

use std::time::Duration;

use connmgr_common::*;
use ferrovs::connmgr::{AsyncEvent, ConnmgrConfig, PacketInEvent, RateLimit};
use ferrovs::ofp::flow::Match;
use ferrovs::ofp::oxm::{Field, MatchEntry};
use ferrovs::ofp::OxmMatch;
use ferrovs::ofproto::{FlowRemovedEvent, RemovedReason};

fn packet() -> Vec<u8> {
    // Ethernet broadcast, ARP ethertype, 46 bytes of zero payload: 60 bytes.
    let mut p = vec![0xff; 6];
    p.extend_from_slice(&[0x02, 0, 0, 0, 0, 1, 0x08, 0x06]);
    p.resize(60, 0);
    p
}

fn pin(reason: u8, max_len: Option<u16>) -> AsyncEvent {
    AsyncEvent::PacketIn(PacketInEvent {
        reason,
        table_id: 3,
        cookie: 0x1234,
        in_port: 1,
        metadata: OxmMatch::default(),
        max_len,
        packet: packet(),
        controller_id: 0,
        userdata: None,
        continuation: None,
    })
}

fn port_status(reason: u8) -> AsyncEvent {
    AsyncEvent::PortStatus {
        reason,
        desc: local_port(),
    }
}

fn flow_removed(reason: u8) -> AsyncEvent {
    let reason = match reason {
        0 => RemovedReason::IdleTimeout,
        1 => RemovedReason::HardTimeout,
        _ => RemovedReason::Delete,
    };
    AsyncEvent::FlowRemoved(FlowRemovedEvent {
        reason,
        table_id: 0,
        priority: 100,
        cookie: 0,
        match_: Match::Oxm(OxmMatch {
            entries: vec![MatchEntry::from_u64(Field::InPort, 1)],
        }),
        duration_sec: 1,
        duration_nsec: 0,
        idle_timeout: 0,
        hard_timeout: 0,
        packet_count: 0,
        byte_count: 0,
    })
}

/// SET_CONFIG with miss_send_len = `len`.
fn set_config(version: u8, len: u16) -> Vec<u8> {
    let mut m = vec![version, 0x09, 0x00, 0x0c, 0, 0, 0, 0x31, 0, 0];
    m.extend_from_slice(&len.to_be_bytes());
    m
}

fn ofp_print(msg: &[u8]) -> String {
    let (ok, out, err) = ofctl(&["ofp-print", &hex(msg)]);
    assert!(ok, "{err}");
    out
}

/// (type, reason) of each message; reason is at byte 8 (packet-in 1.0 at 14, 1.3 at 14).
fn kinds(msgs: &[Vec<u8>]) -> Vec<(u8, u8)> {
    msgs.iter()
        .map(|m| {
            let reason = match m[1] {
                10 if m[0] == 1 => m[14],
                10 => m[14],
                11 if m[0] == 1 => m[8 + 40 + 10],
                11 => m[18],
                _ => m[8],
            };
            (m[1], reason)
        })
        .collect()
}

#[test]
fn service_connection_gets_nothing_until_miss_send_len() {
    let mut h = Local::new(ptcp_config());
    let mut p = h.peer(&HELLO13);
    assert_eq!(h.send_async(&pin(0, None)), 0);
    assert_eq!(h.send_async(&port_status(0)), 0);
    assert!(h.drain(&mut p).is_empty());

    assert!(h.exchange(&mut p, &set_config(4, 32)).is_empty());
    assert_eq!(h.send_async(&pin(0, None)), 1);
    let got = h.drain(&mut p);
    assert_eq!(got.len(), 1);
    // A table miss is cut to miss_send_len (32 of 60 bytes).
    assert_eq!(
        ofp_print(&got[0]),
        "OFPT_PACKET_IN (OF1.3) (xid=0x0): table_id=3 cookie=0x1234 total_len=32 in_port=1 (via no_match) data_len=32 (unbuffered)\n\
         arp,vlan_tci=0x0000,dl_src=02:00:00:00:00:01,dl_dst=ff:ff:ff:ff:ff:ff,arp_spa=0.0.0.0,arp_tpa=0.0.0.0,arp_op=0,arp_sha=00:00:00:00:00:00,arp_tha=00:00:00:00:00:00\n"
    );
    // An explicit controller action's max_len wins; 0xffff sends it whole.
    h.send_async(&pin(1, Some(0xffff)));
    let got = h.drain(&mut p);
    assert!(
        ofp_print(&got[0]).contains("(via action) data_len=60 (unbuffered)"),
        "{}",
        ofp_print(&got[0])
    );
}

#[test]
fn default_async_config() {
    let mut h = Local::new(ptcp_config());
    let mut p = h.peer(&HELLO13);
    let got = h.exchange(&mut p, &[0x04, 0x1a, 0x00, 0x08, 0, 0, 0, 2]);
    let mut want = vec![0x04, 0x1b, 0x00, 0x20, 0, 0, 0, 2];
    // packet-in master/slave, port-status master/slave, flow-removed master/slave.
    for m in [0x3u32, 0, 0x7, 0x7, 0xf, 0] {
        want.extend_from_slice(&m.to_be_bytes());
    }
    assert_eq!(got, vec![want]);
    assert_eq!(
        ofp_print(&got[0]),
        "OFPT_GET_ASYNC_REPLY (OF1.3) (xid=0x2):\n \
         primary:\n       \
         PACKET_IN: no_match action\n     \
         PORT_STATUS: add delete modify\n    \
         FLOW_REMOVED: idle hard delete group_delete\n     \
         ROLE_STATUS: (off)\n    \
         TABLE_STATUS: (off)\n  \
         REQUESTFORWARD: (off)\n\n \
         secondary:\n       \
         PACKET_IN: (off)\n     \
         PORT_STATUS: add delete modify\n    \
         FLOW_REMOVED: (off)\n     \
         ROLE_STATUS: (off)\n    \
         TABLE_STATUS: (off)\n  \
         REQUESTFORWARD: (off)\n"
    );
}

/// Open vSwitch's "asynchronous message control" test, over OpenFlow 1.3 with
/// NXT_SET_ASYNC_CONFIG: pin=[0x2,0x5], ps=[0x5,0x2], fr=[0x2,0x5] (master, slave).
#[test]
fn nicira_async_config_per_role() {
    let mut h = Local::new(ptcp_config());
    let mut p = h.peer(&HELLO13);
    h.exchange(&mut p, &set_config(4, 128));
    let mut cfg = vec![
        0x04, 0x04, 0x00, 0x28, 0, 0, 0, 3, 0, 0, 0x23, 0x20, 0, 0, 0, 19,
    ];
    for m in [0x2u32, 0x5, 0x5, 0x2, 0x2, 0x5] {
        cfg.extend_from_slice(&m.to_be_bytes());
    }
    assert!(
        h.exchange(&mut p, &cfg).is_empty(),
        "no reply to NXT_SET_ASYNC_CONFIG"
    );
    // Become slave (OpenFlow 1.3 role request, generation 1).
    let mut role = vec![0x04, 0x18, 0x00, 0x18, 0, 0, 0, 4, 0, 0, 0, 3, 0, 0, 0, 0];
    role.extend_from_slice(&1u64.to_be_bytes());
    assert_eq!(h.exchange(&mut p, &role)[0][1], 0x19);

    let offer_all = |h: &mut Local| {
        for r in 0..3 {
            h.send_async(&pin(r, None));
            h.send_async(&port_status(r));
            h.send_async(&flow_removed(r));
        }
    };
    offer_all(&mut h);
    // Slave masks 0x5, 0x2, 0x5: packet-in NO_MATCH and INVALID_TTL, port-status DELETE,
    // flow-removed IDLE and DELETE (in the order offered: reason 0, 1, 2).
    assert_eq!(
        kinds(&h.drain(&mut p)),
        vec![(10, 0), (11, 0), (12, 1), (10, 2), (11, 2)]
    );

    role[11] = 2;
    role[7] = 5;
    assert_eq!(h.exchange(&mut p, &role)[0][1], 0x19);
    offer_all(&mut h);
    // Master masks 0x2, 0x5, 0x2: packet-in ACTION, port-status ADD and MODIFY,
    // flow-removed HARD.
    assert_eq!(
        kinds(&h.drain(&mut p)),
        vec![(12, 0), (10, 1), (11, 1), (12, 2)]
    );
}

#[test]
fn slaves_get_no_packet_in_or_flow_removed_by_default() {
    let mut h = Local::new(ptcp_config());
    let mut p = h.peer(&HELLO13);
    h.exchange(&mut p, &set_config(4, 128));
    let mut role = vec![0x04, 0x18, 0x00, 0x18, 0, 0, 0, 4, 0, 0, 0, 3, 0, 0, 0, 0];
    role.extend_from_slice(&9u64.to_be_bytes());
    h.exchange(&mut p, &role);
    for r in 0..3 {
        h.send_async(&pin(r, None));
        h.send_async(&flow_removed(r));
        h.send_async(&port_status(r));
    }
    assert_eq!(kinds(&h.drain(&mut p)), vec![(12, 0), (12, 1), (12, 2)]);
}

#[test]
fn set_async_13_replaces_and_get_async_reports() {
    let mut h = Local::new(ptcp_config());
    let mut p = h.peer(&HELLO13);
    let mut set = vec![0x04, 0x1c, 0x00, 0x20, 0, 0, 0, 6];
    for m in [0x1u32, 0x2, 0x4, 0x0, 0x8, 0x1] {
        set.extend_from_slice(&m.to_be_bytes());
    }
    assert!(h.exchange(&mut p, &set).is_empty());
    let got = h.exchange(&mut p, &[0x04, 0x1a, 0x00, 0x08, 0, 0, 0, 7]);
    let mut want = set.clone();
    want[1] = 0x1b;
    want[7] = 7;
    assert_eq!(got, vec![want]);
}

#[test]
fn set_config_invalid_ttl_shows_in_get_config() {
    let mut h = Local::new(ptcp_config());
    let mut p = h.peer(&HELLO13);
    let mut set = set_config(4, 200);
    set[9] = 4; // OFPC_INVALID_TTL_TO_CONTROLLER
    h.exchange(&mut p, &set);
    let got = h.exchange(&mut p, &[0x04, 0x07, 0x00, 0x08, 0, 0, 0, 8]);
    assert_eq!(
        got,
        vec![vec![0x04, 0x08, 0x00, 0x0c, 0, 0, 0, 8, 0, 4, 0, 200]]
    );
    h.send_async(&pin(2, None));
    assert_eq!(kinds(&h.drain(&mut p)), vec![(10, 2)]);
}

#[test]
fn packet_in_rate_limit_with_burst() {
    let mut h = Local::new(ConnmgrConfig {
        packet_in_limit: Some(RateLimit { rate: 10, burst: 5 }),
        ..ptcp_config()
    });
    let mut p = h.peer(&HELLO13);
    h.exchange(&mut p, &set_config(4, 128));
    let sent: usize = (0..20).map(|_| h.send_async(&pin(0, None))).sum();
    assert_eq!(sent, 5);
    assert_eq!(h.drain(&mut p).len(), 5);
    // 10 per second: 300 ms later, 3 more.
    h.advance(Duration::from_millis(300));
    let sent: usize = (0..20).map(|_| h.send_async(&pin(0, None))).sum();
    assert_eq!(sent, 3);
    let (_, stats) = h.cm.connections().next().unwrap();
    assert_eq!(stats.packet_ins_sent, 8);
    assert_eq!(stats.packet_ins_rate_dropped, 32);
    // Port-status is not rate limited.
    let sent: usize = (0..20).map(|_| h.send_async(&port_status(2))).sum();
    assert_eq!(sent, 20);
}

#[test]
fn nx_packet_in2_format() {
    let mut h = Local::new(ptcp_config());
    let mut p = h.peer(&HELLO13);
    h.exchange(&mut p, &set_config(4, 0xffff));
    // NXT_SET_PACKET_IN_FORMAT: NXPIF_NXT_PACKET_IN2.
    let fmt = [
        0x04, 0x04, 0x00, 0x14, 0, 0, 0, 9, 0, 0, 0x23, 0x20, 0, 0, 0, 16, 0, 0, 0, 2,
    ];
    assert!(h.exchange(&mut p, &fmt).is_empty());
    h.send_async(&pin(0, None));
    let got = h.drain(&mut p);
    assert_eq!(got.len(), 1);
    assert_eq!(
        ofp_print(&got[0]),
        "NXT_PACKET_IN2 (OF1.3) (xid=0x0): table_id=3 cookie=0x1234 total_len=60 in_port=1 (via no_match) data_len=60 (unbuffered)\n\
         arp,vlan_tci=0x0000,dl_src=02:00:00:00:00:01,dl_dst=ff:ff:ff:ff:ff:ff,arp_spa=0.0.0.0,arp_tpa=0.0.0.0,arp_op=0,arp_sha=00:00:00:00:00:00,arp_tha=00:00:00:00:00:00\n"
    );
    // Cut to miss_send_len, the full length travels in NXPINT_FULL_LEN.
    h.exchange(&mut p, &set_config(4, 20));
    h.send_async(&pin(0, None));
    let got = h.drain(&mut p);
    let text = ofp_print(&got[0]);
    assert!(
        text.contains("total_len=60 in_port=1 (via no_match) data_len=20 (unbuffered)"),
        "{text}"
    );
    // An unknown format is refused with OFPBRC_EPERM.
    let mut bad = fmt;
    bad[19] = 7;
    let got = h.exchange(&mut p, &bad);
    assert_eq!(&got[0][8..12], &[0, 1, 0, 5]);
}

fn nx(xid: u8, subtype: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![
        0x04,
        0x04,
        0,
        (16 + body.len()) as u8,
        0,
        0,
        0,
        xid,
        0,
        0,
        0x23,
        0x20,
        0,
        0,
        0,
        subtype,
    ];
    m.extend_from_slice(body);
    m
}

#[test]
fn nicira_connection_settings_are_kept_per_connection() {
    let mut h = Local::new(ptcp_config());
    let mut p = h.peer(&HELLO13);
    let mut other = h.peer(&HELLO13);
    let mut msgs = nx(1, 15, &[1, 0, 0, 0, 0, 0, 0, 0]); // NXT_FLOW_MOD_TABLE_ID on
    msgs.extend(nx(2, 12, &[0, 0, 0, 2])); // NXT_SET_FLOW_FORMAT NXM
    msgs.extend(nx(3, 20, &[0, 0, 0, 0, 0, 0, 0, 7])); // NXT_SET_CONTROLLER_ID 7
    msgs.extend(nx(4, 18, &[])); // NXT_FLOW_AGE
    assert!(
        h.exchange(&mut p, &msgs).is_empty(),
        "none of these is answered"
    );
    let infos: Vec<_> = h.cm.connections().map(|(i, _)| i.clone()).collect();
    let set = infos
        .iter()
        .find(|i| i.flow_mod_table_id)
        .expect("one connection has it on");
    assert!(set.nxm_flow_format);
    assert_eq!(set.controller_id, 7);
    let unset = infos.iter().find(|i| i.id != set.id).unwrap();
    assert!(!unset.flow_mod_table_id && !unset.nxm_flow_format && unset.controller_id == 0);
    // An unknown flow format: OFPBRC_EPERM.
    let bad = nx(5, 12, &[0, 0, 0, 9]);
    assert_eq!(&h.exchange(&mut other, &bad)[0][8..12], &[0, 1, 0, 5]);
}

#[test]
fn nicira_async_config2_changes_only_the_given_properties() {
    let mut h = Local::new(ptcp_config());
    let mut p = h.peer(&HELLO13);
    // OFPACPT_PACKET_IN_SLAVE (0) = NO_MATCH only.
    let set = nx(1, 27, &[0x00, 0x00, 0x00, 0x08, 0, 0, 0, 1]);
    assert!(h.exchange(&mut p, &set).is_empty());
    let got = h.exchange(&mut p, &[0x04, 0x1a, 0x00, 0x08, 0, 0, 0, 2]);
    let mut want = vec![0x04, 0x1b, 0x00, 0x20, 0, 0, 0, 2];
    for m in [0x3u32, 0x1, 0x7, 0x7, 0xf, 0] {
        want.extend_from_slice(&m.to_be_bytes());
    }
    assert_eq!(got, vec![want]);
}

#[test]
fn get_async_in_openflow_14_lists_properties() {
    let mut h = Local::new(ptcp_config());
    let mut p = h.peer(&HELLO14);
    let got = h.exchange(&mut p, &[0x05, 0x1a, 0x00, 0x08, 0, 0, 0, 2]);
    assert_eq!(got.len(), 1);
    assert_eq!(
        ofp_print(&got[0]),
        "OFPT_GET_ASYNC_REPLY (OF1.4) (xid=0x2):\n \
         primary:\n       \
         PACKET_IN: no_match action action_set group packet_out\n     \
         PORT_STATUS: add delete modify\n    \
         FLOW_REMOVED: idle hard delete group_delete meter_delete eviction\n     \
         ROLE_STATUS: (off)\n    \
         TABLE_STATUS: (off)\n  \
         REQUESTFORWARD: (off)\n\n \
         secondary:\n       \
         PACKET_IN: (off)\n     \
         PORT_STATUS: add delete modify\n    \
         FLOW_REMOVED: (off)\n     \
         ROLE_STATUS: (off)\n    \
         TABLE_STATUS: (off)\n  \
         REQUESTFORWARD: (off)\n"
    );
    // A 1.4 SET_ASYNC changes only the properties it carries.
    let set = [
        0x05, 0x1c, 0x00, 0x10, 0, 0, 0, 3, 0x00, 0x03, 0x00, 0x08, 0, 0, 0, 0x01,
    ];
    assert!(h.exchange(&mut p, &set).is_empty());
    let got = h.exchange(&mut p, &[0x05, 0x1a, 0x00, 0x08, 0, 0, 0, 4]);
    let text = ofp_print(&got[0]);
    assert!(text.contains("     PORT_STATUS: add\n"), "{text}");
    assert!(
        text.contains("PACKET_IN: no_match action action_set group packet_out\n"),
        "{text}"
    );
}
