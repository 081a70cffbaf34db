//! Controller roles: equal/master/slave, generation ids, demotion with role-status (1.4+) or
//! silence (1.3), slave writes refused, and the Nicira role request of OpenFlow 1.0.

mod connmgr_common;

use connmgr_common::*;

fn role_request(version: u8, xid: u8, role: u32, generation: u64) -> Vec<u8> {
    let mut m = vec![version, 0x18, 0x00, 0x18, 0, 0, 0, xid];
    m.extend_from_slice(&role.to_be_bytes());
    m.extend_from_slice(&[0; 4]);
    m.extend_from_slice(&generation.to_be_bytes());
    m
}

fn role_reply(version: u8, xid: u8, role: u32, generation: u64) -> Vec<u8> {
    let mut m = role_request(version, xid, role, generation);
    m[1] = 0x19;
    m
}

fn error(version: u8, xid: u8, etype: u16, code: u16, req: &[u8]) -> Vec<u8> {
    let data = &req[..req.len().min(64)];
    let len = (12 + data.len()) as u16;
    let mut m = vec![version, 0x01];
    m.extend_from_slice(&len.to_be_bytes());
    m.extend_from_slice(&[0, 0, 0, xid]);
    m.extend_from_slice(&etype.to_be_bytes());
    m.extend_from_slice(&code.to_be_bytes());
    m.extend_from_slice(data);
    m
}

/// An OpenFlow 1.3/1.4 FLOW_MOD: add, empty match, no instructions.
fn flow_mod(version: u8, xid: u8) -> Vec<u8> {
    let mut m = vec![version, 0x0e, 0x00, 0x38, 0, 0, 0, xid];
    m.extend_from_slice(&[0; 8]); // cookie
    m.extend_from_slice(&[0; 8]); // cookie mask
    m.extend_from_slice(&[0, 0]); // table, command ADD
    m.extend_from_slice(&[0, 0, 0, 0]); // timeouts
    m.extend_from_slice(&[0x80, 0x00]); // priority
    m.extend_from_slice(&[0xff; 4]); // buffer
    m.extend_from_slice(&[0xff; 4]); // out_port
    m.extend_from_slice(&[0xff; 4]); // out_group
    m.extend_from_slice(&[0, 0, 0, 0]); // flags, importance
    m.extend_from_slice(&[0x00, 0x01, 0x00, 0x04, 0, 0, 0, 0]); // empty OXM match
    m
}

fn barrier(version: u8, xid: u8) -> Vec<u8> {
    vec![version, 0x14, 0x00, 0x08, 0, 0, 0, xid]
}

fn barrier_reply(version: u8, xid: u8) -> Vec<u8> {
    vec![version, 0x15, 0x00, 0x08, 0, 0, 0, xid]
}

#[test]
fn master_election_with_generation_ids() {
    let mut h = Local::new(ptcp_config());
    let mut a = h.peer(&HELLO14);
    let mut b = h.peer(&HELLO13);

    // A becomes master with generation 5.
    let got = h.exchange(&mut a, &role_request(5, 1, 2, 5));
    assert_eq!(got, vec![role_reply(5, 1, 2, 5)]);

    // B asks with an older generation: stale (OFPET_ROLE_REQUEST_FAILED / OFPRRFC_STALE).
    let req = role_request(4, 2, 2, 4);
    assert_eq!(h.exchange(&mut b, &req), vec![error(4, 2, 11, 0, &req)]);

    // A newer generation wins; A is demoted and told so (1.4 ROLE_STATUS, reason
    // MASTER_REQUEST, the new generation id).
    assert_eq!(
        h.exchange(&mut b, &role_request(4, 3, 2, 6)),
        vec![role_reply(4, 3, 2, 6)]
    );
    let mut status = vec![0x05, 0x1e, 0x00, 0x18, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0];
    status.extend_from_slice(&6u64.to_be_bytes());
    assert_eq!(h.drain(&mut a), vec![status]);

    // The slave's writes are refused before the switch sees them (OFPBRC_IS_SLAVE = 1/10);
    // the master's go through.
    let fm = flow_mod(5, 4);
    assert_eq!(h.exchange(&mut a, &fm), vec![error(5, 4, 1, 10, &fm)]);
    let fm = flow_mod(4, 5);
    let mut both = fm.clone();
    both.extend_from_slice(&barrier(4, 6));
    assert_eq!(h.exchange(&mut b, &both), vec![barrier_reply(4, 6)]);

    // NOCHANGE reports the role and the current generation.
    assert_eq!(
        h.exchange(&mut a, &role_request(5, 7, 0, 0)),
        vec![role_reply(5, 7, 3, 6)]
    );

    // A takes over again with generation 7: B (OpenFlow 1.3) is demoted in silence.
    assert_eq!(
        h.exchange(&mut a, &role_request(5, 8, 2, 7)),
        vec![role_reply(5, 8, 2, 7)]
    );
    assert_eq!(h.drain(&mut b), Vec::<Vec<u8>>::new());
    let fm = flow_mod(4, 9);
    assert_eq!(h.exchange(&mut b, &fm), vec![error(4, 9, 1, 10, &fm)]);

    // EQUAL takes no generation check; the reply carries the current generation.
    assert_eq!(
        h.exchange(&mut b, &role_request(4, 10, 1, 0)),
        vec![role_reply(4, 10, 1, 7)]
    );
    // Generation ids compare by wrapping distance: u64::MAX is 8 behind 7, so it is stale.
    let req = role_request(4, 11, 3, u64::MAX);
    assert_eq!(h.exchange(&mut b, &req), vec![error(4, 11, 11, 0, &req)]);

    let roles: Vec<_> = h.cm.connections().map(|(i, _)| i.role).collect();
    assert!(roles.contains(&ferrovs::connmgr::Role::Master));
    assert!(roles.contains(&ferrovs::connmgr::Role::Equal));
}

#[test]
fn bad_role_value_is_refused() {
    let mut h = Local::new(ptcp_config());
    let mut a = h.peer(&HELLO13);
    let req = role_request(4, 1, 4, 0);
    assert_eq!(h.exchange(&mut a, &req), vec![error(4, 1, 11, 2, &req)]);
}

fn nx_role(xid: u8, subtype: u8, role: u8) -> Vec<u8> {
    vec![
        0x01, 0x04, 0x00, 0x14, 0, 0, 0, xid, 0, 0, 0x23, 0x20, 0, 0, 0, subtype, 0, 0, 0, role,
    ]
}

#[test]
fn nicira_roles_on_openflow_10() {
    let mut h = Local::new(ptcp_config());
    let mut a = h.peer(&HELLO10);
    let mut b = h.peer(&HELLO10);
    assert_eq!(
        h.exchange(&mut a, &nx_role(1, 10, 1)),
        vec![nx_role(1, 11, 1)]
    );
    assert_eq!(
        h.exchange(&mut b, &nx_role(2, 10, 1)),
        vec![nx_role(2, 11, 1)]
    );
    // A was demoted: its flow-mod gets OFPBRC_EPERM (1.0's encoding of IS_SLAVE).
    let mut fm = vec![0x01, 0x0e, 0x00, 0x48, 0, 0, 0, 3];
    fm.extend_from_slice(&[0, 0x3f, 0xff, 0xff]); // wildcards: all
    fm.resize(0x48, 0);
    let got = h.exchange(&mut a, &fm);
    assert_eq!(got, vec![error(1, 3, 1, 5, &fm)]);
    // An unknown role: NXBRC_BAD_ROLE, carried as a Nicira vendor error in 1.0.
    let req = nx_role(4, 10, 3);
    let mut want = vec![
        0x01, 0x01, 0x00, 0x28, 0, 0, 0, 4, 0xb0, 0xc2, 0, 0, 0, 0, 0x23, 0x20, 0x00, 0x01, 0x02,
        0x01,
    ];
    want.extend_from_slice(&req);
    assert_eq!(h.exchange(&mut a, &req), vec![want]);
}

/// Answers that the switch finishes later go to the right connection with `send_to`.
#[test]
fn send_to_a_connection_later() {
    let mut h = Local::new(ptcp_config());
    let mut a = h.peer(&HELLO13);
    let mut b = h.peer(&HELLO14);
    let ids: Vec<_> = h.cm.connections().map(|(i, _)| (i.id, i.version)).collect();
    let (b_id, _) = ids
        .iter()
        .find(|(_, v)| *v == ferrovs::ofp::Version::V1_4)
        .unwrap();
    assert!(h
        .cm
        .send_to(*b_id, 77, &ferrovs::ofp::Message::BarrierReply));
    assert_eq!(h.drain(&mut b), vec![barrier_reply(5, 77)]);
    assert!(h.drain(&mut a).is_empty());
    assert!(!h.cm.send_to(
        ferrovs::connmgr::ConnId(999),
        1,
        &ferrovs::ofp::Message::BarrierReply
    ));
}
