//! ofproto against the in-memory datapath. Test names carry the numbers of the statements
//! they check: `s000_NN` for seeds/000-ofproto.md §4, `s002_NN` for 002-ofproto-opgroups.md
//! §20.

use super::*;
use crate::dpif::memory::{test_mac, MemDpif};
use crate::dpif::DpPortStats;
use crate::ofp::flow::{
    OFPFC_ADD, OFPFC_DELETE, OFPFC_DELETE_STRICT, OFPFC_MODIFY, OFPFC_MODIFY_STRICT,
};
use crate::ofp::multipart::{
    AggregateStats, Bucket, FlowStats, FlowStatsRequest, MeterBand, MultipartReplyBody,
    MultipartRequestBody, OFPMPF_MORE,
};
use crate::ofp::port::{OFPP_ALL, OFPP_FLOOD};
use crate::ofp::syntax::parse::parse_flow;
use crate::ofp::{
    FlowMod, GroupMod, Instruction, MatchEntry, MeterMod, MultipartRequest, PacketOut, PortMod,
};

const V10: Version = Version::V1_0;
const V13: Version = Version::V1_3;

fn switch() -> Ofproto<MemDpif> {
    switch_with(OfprotoConfig::default())
}

fn switch_with(cfg: OfprotoConfig) -> Ofproto<MemDpif> {
    let mut d = MemDpif::new("br0");
    for n in ["p1", "p2", "p3"] {
        d.port_add(n, "").unwrap();
    }
    Ofproto::new(d, cfg, 0)
}

fn conn(v: Version) -> ConnInfo {
    ConnInfo::new(1, v)
}

/// Parses ovs-ofctl flow text; flags and the cookie may be written after the actions here
/// (they are moved in front, where the syntax wants them).
fn flow(text: &str, v: Version, cmd: u8) -> FlowMod {
    let text = match text.split_once("actions=") {
        Some((head, acts)) => {
            let (flags, acts): (Vec<&str>, Vec<&str>) = acts.split(',').partition(|t| {
                ["send_flow_rem", "check_overlap", "reset_counts"].contains(t)
                    || t.starts_with("cookie=")
            });
            let mut h = head.to_string();
            for f in flags {
                h.push_str(f);
                h.push(',');
            }
            format!("{h}actions={}", acts.join(","))
        }
        None => text.to_string(),
    };
    parse_flow(&text, v, cmd).unwrap_or_else(|e| panic!("{text}: {e:?}"))
}

fn ok(o: &mut Ofproto<MemDpif>, c: &ConnInfo, m: Message, now: Millis) -> Outcome {
    let out = o.handle(c, &m, now);
    assert!(out.replies.is_ok(), "{m:?} -> {:?}", out.replies);
    out
}

fn add(o: &mut Ofproto<MemDpif>, v: Version, text: &str, now: Millis) -> Outcome {
    ok(o, &conn(v), Message::FlowMod(flow(text, v, OFPFC_ADD)), now)
}

fn fmod(o: &mut Ofproto<MemDpif>, v: Version, text: &str, cmd: u8, now: Millis) -> Outcome {
    o.handle(&conn(v), &Message::FlowMod(flow(text, v, cmd)), now)
}

fn err(out: &Outcome) -> OfpError {
    match &out.replies {
        Err(e) => *e,
        Ok(r) => panic!("expected an error, got {r:?}"),
    }
}

fn mp(body: MultipartRequestBody) -> Message {
    Message::MultipartRequest(MultipartRequest { flags: 0, body })
}

fn dump(o: &mut Ofproto<MemDpif>, v: Version, table_id: u8, now: Millis) -> Vec<FlowStats> {
    let req = FlowStatsRequest {
        table_id,
        out_port: crate::ofp::port::OFPP_ANY,
        out_group: crate::ofp::flow::OFPG_ANY,
        cookie: 0,
        cookie_mask: 0,
        match_: Match::any(v),
    };
    let out = ok(o, &conn(v), mp(MultipartRequestBody::Flow(req)), now);
    let mut all = Vec::new();
    for m in out.replies.unwrap() {
        match m {
            Message::MultipartReply(r) => match r.body {
                MultipartReplyBody::Flow(f) => all.extend(f),
                b => panic!("{b:?}"),
            },
            m => panic!("{m:?}"),
        }
    }
    all
}

fn aggregate(
    o: &mut Ofproto<MemDpif>,
    v: Version,
    cookie: u64,
    cookie_mask: u64,
) -> AggregateStats {
    let req = FlowStatsRequest {
        table_id: 0xff,
        out_port: crate::ofp::port::OFPP_ANY,
        out_group: crate::ofp::flow::OFPG_ANY,
        cookie,
        cookie_mask,
        match_: Match::any(v),
    };
    match ok(o, &conn(v), mp(MultipartRequestBody::Aggregate(req)), 0)
        .replies
        .unwrap()
        .as_slice()
    {
        [Message::MultipartReply(r)] => match &r.body {
            MultipartReplyBody::Aggregate(a) => *a,
            b => panic!("{b:?}"),
        },
        r => panic!("{r:?}"),
    }
}

fn removed(events: &[AsyncEvent]) -> Vec<&FlowRemovedEvent> {
    events
        .iter()
        .filter_map(|e| match e {
            AsyncEvent::FlowRemoved(f) => Some(f),
            _ => None,
        })
        .collect()
}

fn port_status(events: &[AsyncEvent]) -> Vec<(u8, u32, u32, u32)> {
    events
        .iter()
        .filter_map(|e| match e {
            AsyncEvent::PortStatus { reason, desc } => {
                Some((*reason, desc.port_no, desc.config, desc.state))
            }
            _ => None,
        })
        .collect()
}

fn rule_count(o: &Ofproto<MemDpif>) -> usize {
    o.rules.len()
}

fn only_rule(o: &Ofproto<MemDpif>) -> &Rule {
    assert_eq!(o.rules.len(), 1);
    o.rules.values().next().unwrap()
}

fn output(p: u32) -> Vec<Instruction> {
    vec![Instruction::ApplyActions(vec![Action::Output {
        port: p,
        max_len: 0,
    }])]
}

#[test]
fn s000_01_echo_reply_has_payload() {
    let mut o = switch();
    let out = ok(
        &mut o,
        &conn(V13),
        Message::EchoRequest(vec![1, 2, 3, 4, 5]),
        0,
    );
    assert_eq!(
        out.replies,
        Ok(vec![Message::EchoReply(vec![1, 2, 3, 4, 5])])
    );
}

#[test]
fn s000_02_s002_33_replies_sent_to_the_switch_are_rejected() {
    let mut o = switch();
    let c = conn(V13);
    assert_eq!(
        err(&o.handle(&c, &Message::BarrierReply, 0)),
        OfpError::OFPBRC_BAD_TYPE
    );
    assert_eq!(
        o.handle(&c, &Message::EchoReply(vec![]), 0).replies,
        Ok(vec![])
    );
    let pin = PacketInEvent {
        reason: 0,
        table_id: 0,
        cookie: 0,
        in_port: 1,
        metadata: OxmMatch::default(),
        max_len: None,
        packet: vec![],
        controller_id: 0,
        userdata: None,
        continuation: None,
    }
    .to_message(0);
    assert_eq!(err(&o.handle(&c, &pin, 0)), OfpError::OFPBRC_BAD_TYPE);
    let reply = Message::MultipartReply(crate::ofp::MultipartReply {
        flags: 0,
        body: MultipartReplyBody::Aggregate(AggregateStats::default()),
    });
    assert_eq!(err(&o.handle(&c, &reply, 0)), OfpError::OFPBRC_BAD_STAT);
    // A stats type we do not serve.
    let raw = mp(MultipartRequestBody::Raw {
        mtype: 0x20,
        body: vec![],
    });
    assert_eq!(err(&o.handle(&c, &raw, 0)), OfpError::OFPBRC_BAD_STAT);
}

#[test]
fn s000_03_queue_get_config_is_answered() {
    // Open vSwitch of the seed era answered BAD_TYPE; OpenFlow 1.0-1.3 define the message,
    // so the configured queues are listed (no properties), and a bad port is BAD_PORT.
    let mut o = switch();
    o.set_queues(2, vec![7]);
    let q = |port| Message::QueueGetConfigRequest { port };
    let out = ok(&mut o, &conn(V13), q(2), 0);
    let expect = vec![0, 0, 0, 7, 0, 0, 0, 2, 0, 16, 0, 0, 0, 0, 0, 0];
    assert_eq!(
        out.replies,
        Ok(vec![Message::QueueGetConfigReply {
            port: 2,
            queues: expect
        }])
    );
    let out = ok(&mut o, &conn(V10), q(2), 0);
    let expect = vec![0, 0, 0, 7, 0, 8, 0, 0];
    assert_eq!(
        out.replies,
        Ok(vec![Message::QueueGetConfigReply {
            port: 2,
            queues: expect
        }])
    );
    assert_eq!(
        err(&o.handle(&conn(V13), &q(9), 0)),
        OfpError::OFPQOFC_BAD_PORT
    );
    let Ok(r) = ok(&mut o, &conn(V13), q(crate::ofp::port::OFPP_ANY), 0).replies else {
        panic!()
    };
    print_check(&r[0], V13, &["OFPT_QUEUE_GET_CONFIG_REPLY", "queue 7"]);
}

#[test]
fn s000_04_flow_age_is_silent() {
    let mut o = switch();
    let out = o.handle(&conn(V10), &Message::Nx(NxMessage::FlowAge), 0);
    assert_eq!(out.replies, Ok(vec![]));
    assert!(out.events.is_empty());
}

#[test]
fn s000_05_s002_33_primary_slave_is_refused_service_slave_is_not() {
    let mut o = switch();
    let hw = test_mac(1);
    let msgs = |v: Version| {
        vec![
            Message::FlowMod(flow("in_port=1,actions=output:2", v, OFPFC_ADD)),
            Message::PacketOut(PacketOut {
                buffer_id: NO_BUFFER,
                in_port: OFPP_CONTROLLER,
                match_: OxmMatch::default(),
                actions: vec![Action::Output {
                    port: 1,
                    max_len: 0,
                }],
                data: vec![0; 60],
            }),
            Message::PortMod(PortMod {
                port_no: 1,
                hw_addr: hw,
                config: 0,
                mask: 0,
                advertise: 0,
            }),
        ]
    };
    for (v, expect) in [
        (V10, OfpError::OFPBRC_EPERM),
        (V13, OfpError::OFPBRC_IS_SECONDARY),
    ] {
        let mut slave = conn(v);
        slave.role = Role::Slave;
        let mut all = msgs(v);
        if v == V10 {
            all.push(Message::Nx(NxMessage::FlowMod(flow(
                "in_port=1,actions=output:2",
                V10,
                OFPFC_ADD,
            ))));
        }
        for m in &all {
            assert_eq!(err(&o.handle(&slave, m, 0)), expect, "{m:?}");
        }
        assert_eq!(rule_count(&o), usize::from(v == V13));
        slave.primary = false;
        for m in &all {
            assert_eq!(o.handle(&slave, m, 0).replies, Ok(vec![]), "{m:?}");
        }
        assert_eq!(rule_count(&o), 1);
    }
}

#[test]
fn s000_09_port_add_delete_and_strict_delete_events() {
    let mut o = switch();
    let n = o.add_port("p9", "", 5).unwrap();
    assert_eq!(n, 4);
    let ev = o.take_events();
    assert_eq!(port_status(&ev), vec![(OFPPR_ADD, 4, 0, 0)]);
    o.del_port(4).unwrap();
    assert_eq!(port_status(&o.take_events()), vec![(OFPPR_DELETE, 4, 0, 0)]);
    add(
        &mut o,
        V13,
        "priority=7,in_port=1,actions=drop,send_flow_rem",
        0,
    );
    let out = fmod(
        &mut o,
        V13,
        "priority=7,in_port=1",
        OFPFC_DELETE_STRICT,
        1000,
    );
    let r = removed(&out.events);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].reason, RemovedReason::Delete);
    match r[0].to_message(V13) {
        Some(Message::FlowRemoved(f)) => assert_eq!(f.reason, 2),
        m => panic!("{m:?}"),
    }
}

#[test]
fn s000_10_get_config_reports_invalid_ttl_and_miss_send_len() {
    let mut o = switch();
    let mut c = conn(V13);
    c.invalid_ttl_to_controller = true;
    c.miss_send_len = 0xffff;
    let out = ok(&mut o, &c, Message::GetConfigRequest, 0);
    assert_eq!(
        out.replies,
        Ok(vec![Message::GetConfigReply(SwitchConfig {
            flags: 4,
            miss_send_len: 0xffff
        })])
    );
}

#[test]
fn s000_14_no_flow_removed_without_send_flow_rem() {
    let mut o = switch();
    add(&mut o, V13, "in_port=1,idle_timeout=1,actions=drop", 0);
    add(&mut o, V13, "in_port=2,actions=drop", 0);
    assert!(o.run(5000).is_empty());
    let out = fmod(&mut o, V13, "", OFPFC_DELETE, 6000);
    assert!(out.events.is_empty());
    assert_eq!(rule_count(&o), 0);
}

#[test]
fn s000_15_emergency_flag_is_table_full_for_every_command() {
    let mut o = switch();
    for cmd in [OFPFC_ADD, OFPFC_MODIFY, OFPFC_DELETE, OFPFC_DELETE_STRICT] {
        let mut fm = flow("in_port=1,actions=drop", V10, cmd);
        fm.flags |= 4;
        assert_eq!(
            err(&o.handle(&conn(V10), &Message::FlowMod(fm), 0)),
            OfpError::OFPFMFC_TABLE_FULL
        );
    }
    assert_eq!(rule_count(&o), 0);
}

#[test]
fn s000_16_unknown_command_is_bad_command() {
    let mut o = switch();
    let mut fm = flow("actions=drop", V13, OFPFC_ADD);
    fm.command = 5;
    assert_eq!(
        err(&o.handle(&conn(V13), &Message::FlowMod(fm.clone()), 0)),
        OfpError::OFPFMFC_BAD_COMMAND
    );
    // And the decoder says the same for the wire form.
    let mut bytes = Vec::new();
    fm.command = 0;
    Message::FlowMod(fm).encode(V13, 1, &mut bytes).unwrap();
    bytes[8 + 17] = 5;
    assert_eq!(
        crate::ofp::decode(&bytes),
        Err(OfpError::OFPFMFC_BAD_COMMAND)
    );
}

#[test]
fn s000_17_s002_03_flow_mod_table_id_extension() {
    let mut o = switch_with(OfprotoConfig {
        n_tables: 10,
        ..OfprotoConfig::default()
    });
    let mut c = conn(V10);
    let mut fm = flow("in_port=1,actions=drop", V10, OFPFC_ADD);
    fm.table_id = 3;
    // Without the extension a high byte is a bad command.
    assert_eq!(
        err(&o.handle(&c, &Message::FlowMod(fm.clone()), 0)),
        OfpError::OFPFMFC_BAD_COMMAND
    );
    c.flow_mod_table_id = true;
    assert_eq!(
        o.handle(&c, &Message::FlowMod(fm.clone()), 0).replies,
        Ok(vec![])
    );
    assert_eq!(only_rule(&o).table_id, 3);
    fm.table_id = 10;
    assert_eq!(
        err(&o.handle(&c, &Message::FlowMod(fm.clone()), 0)),
        OfpError::OFPBRC_BAD_TABLE_ID
    );
    // OpenFlow 1.3 names the table directly.
    let fm13 = flow("table=12,actions=drop", V13, OFPFC_ADD);
    assert_eq!(
        err(&o.handle(&conn(V13), &Message::FlowMod(fm13), 0)),
        OfpError::OFPBRC_BAD_TABLE_ID
    );
    assert_eq!(rule_count(&o), 1);
}

#[test]
fn s000_18_s002_05_identical_add_replaces_without_flow_removed() {
    // OpenFlow 1.0: the old entry goes "including its counters".
    let mut o = switch();
    add(
        &mut o,
        V10,
        "priority=5,in_port=1,actions=output:2,send_flow_rem",
        0,
    );
    let id = only_rule(&o).id;
    o.credit_rule(id, 10, 1000, 500);
    let out = add(&mut o, V10, "priority=5,in_port=1,actions=output:3", 2000);
    assert!(out.events.is_empty());
    let r = only_rule(&o);
    assert_eq!((r.packet_count, r.byte_count, r.created), (0, 0, 2000));
    assert_eq!(r.instructions, output(3));
    let st = dump(&mut o, V10, 0xff, 3500);
    assert_eq!((st[0].duration_sec, st[0].duration_nsec), (1, 500_000_000));

    // OpenFlow 1.3: counters carry over unless reset_counts; duration restarts.
    let mut o = switch();
    add(&mut o, V13, "priority=5,in_port=1,actions=output:2", 0);
    let id = only_rule(&o).id;
    o.credit_rule(id, 10, 1000, 500);
    add(&mut o, V13, "priority=5,in_port=1,actions=output:3", 2000);
    let r = only_rule(&o);
    assert_eq!((r.packet_count, r.byte_count, r.created), (10, 1000, 2000));
    add(
        &mut o,
        V13,
        "priority=5,in_port=1,actions=output:3,reset_counts",
        3000,
    );
    assert_eq!(only_rule(&o).packet_count, 0);
}

#[test]
fn s000_19_s002_04_check_overlap() {
    let mut o = switch();
    add(&mut o, V13, "priority=10,in_port=1,actions=drop", 0);
    // Overlaps (ip from port 1 would match both) at the same priority.
    let out = fmod(
        &mut o,
        V13,
        "priority=10,ip,actions=drop,check_overlap",
        OFPFC_ADD,
        0,
    );
    assert_eq!(err(&out), OfpError::OFPFMFC_OVERLAP);
    // Identical also counts.
    let out = fmod(
        &mut o,
        V13,
        "priority=10,in_port=1,actions=drop,check_overlap",
        OFPFC_ADD,
        0,
    );
    assert_eq!(err(&out), OfpError::OFPFMFC_OVERLAP);
    // A different priority, or a disjoint match, is fine.
    add(&mut o, V13, "priority=11,ip,actions=drop,check_overlap", 0);
    add(
        &mut o,
        V13,
        "priority=10,in_port=2,actions=drop,check_overlap",
        0,
    );
    // Only the target table is checked.
    add(
        &mut o,
        V13,
        "table=1,priority=10,in_port=1,actions=drop,check_overlap",
        0,
    );
    assert_eq!(rule_count(&o), 4);
}

#[test]
fn s000_20_s002_11_modify_of_nothing() {
    // OpenFlow 1.0: MODIFY and MODIFY_STRICT of nothing add, with the message's timeouts.
    let mut o = switch();
    fmod(
        &mut o,
        V10,
        "in_port=1,idle_timeout=7,hard_timeout=9,actions=output:2,send_flow_rem",
        OFPFC_MODIFY,
        0,
    );
    let r = only_rule(&o);
    assert_eq!(
        (r.idle_timeout, r.hard_timeout, r.flags & 1, r.table_id),
        (7, 9, 1, 0)
    );
    fmod(
        &mut o,
        V10,
        "priority=3,in_port=2,actions=drop",
        OFPFC_MODIFY_STRICT,
        0,
    );
    assert_eq!(rule_count(&o), 2);
    // A chooser picks the table for such an add too.
    o.set_choose_table(Some(Box::new(|_| Ok(4))));
    fmod(&mut o, V10, "in_port=3,actions=drop", OFPFC_MODIFY, 0);
    assert_eq!(o.rules.values().filter(|r| r.table_id == 4).count(), 1);
    // OpenFlow 1.3: no entry matches, nothing happens.
    let mut o = switch();
    let out = fmod(&mut o, V13, "in_port=1,actions=output:2", OFPFC_MODIFY, 0);
    assert_eq!(out.replies, Ok(vec![]));
    assert_eq!(rule_count(&o), 0);
}

#[test]
fn s000_21_22_s002_10_12_modify_keeps_counters_and_resets_hard_age() {
    let mut o = switch();
    add(
        &mut o,
        V10,
        "in_port=1,idle_timeout=500,hard_timeout=60,actions=output:2,send_flow_rem,cookie=0x1",
        0,
    );
    add(&mut o, V10, "in_port=2,actions=output:2", 0);
    let ids: Vec<RuleId> = o.rules.keys().copied().collect();
    for id in &ids {
        o.credit_rule(*id, 3, 300, 100);
    }
    // Loose modify of everything: new actions and (1.0) new cookie; counters, creation,
    // timeouts and flags stay.
    let out = fmod(
        &mut o,
        V10,
        "actions=output:3,cookie=0x2",
        OFPFC_MODIFY,
        5000,
    );
    assert_eq!(out.replies, Ok(vec![]));
    for r in o.rules.values() {
        assert_eq!(r.instructions, output(3));
        assert_eq!(
            (
                r.cookie,
                r.packet_count,
                r.byte_count,
                r.created,
                r.modified
            ),
            (2, 3, 300, 0, 5000)
        );
    }
    let r = o.rules.values().find(|r| r.idle_timeout == 500).unwrap();
    assert_eq!((r.hard_timeout, r.flags), (60, 1));
    // Identical actions: still no error, hard age restarts, counters stay.
    let out = fmod(
        &mut o,
        V10,
        "in_port=1,actions=output:3,cookie=0x2",
        OFPFC_MODIFY_STRICT,
        9000,
    );
    assert_eq!(out.replies, Ok(vec![]));
    let r = o.rules.values().find(|r| r.idle_timeout == 500).unwrap();
    assert_eq!((r.modified, r.packet_count), (9000, 3));
    // The hard timeout now counts from the modification.
    assert!(o.run(64_000).is_empty());
    assert_eq!(rule_count(&o), 2);
    let ev = o.run(69_000);
    assert_eq!(removed(&ev)[0].reason, RemovedReason::HardTimeout);
    // OpenFlow 1.3 MODIFY keeps the cookie and honours reset_counts.
    let mut o = switch();
    add(&mut o, V13, "in_port=1,actions=output:2,cookie=0x5", 0);
    let id = only_rule(&o).id;
    o.credit_rule(id, 1, 64, 0);
    fmod(
        &mut o,
        V13,
        "in_port=1,actions=output:3,cookie=0x9",
        OFPFC_MODIFY,
        10,
    );
    assert_eq!((only_rule(&o).cookie, only_rule(&o).packet_count), (5, 1));
    fmod(
        &mut o,
        V13,
        "in_port=1,actions=output:3,reset_counts",
        OFPFC_MODIFY,
        10,
    );
    assert_eq!(only_rule(&o).packet_count, 0);
}

#[test]
fn s000_23_s002_14_delete_by_out_port_and_out_group() {
    let mut o = switch();
    o.handle(
        &conn(V13),
        &group_add(
            7,
            0,
            vec![bucket(
                0,
                vec![Action::Output {
                    port: 1,
                    max_len: 0,
                }],
            )],
        ),
        0,
    );
    add(&mut o, V13, "in_port=1,actions=output:2", 0);
    add(&mut o, V13, "in_port=2,actions=enqueue:2:1", 0);
    add(&mut o, V13, "in_port=3,actions=flood", 0);
    add(&mut o, V13, "tcp,actions=all", 0);
    add(&mut o, V13, "udp,actions=group:7", 0);
    add(&mut o, V13, "arp,actions=output:3", 0);
    let mut fm = flow("", V13, OFPFC_DELETE);
    fm.out_port = 2;
    ok(&mut o, &conn(V13), Message::FlowMod(fm), 0);
    assert_eq!(rule_count(&o), 4);
    let mut fm = flow("", V13, OFPFC_DELETE);
    fm.out_port = OFPP_FLOOD;
    ok(&mut o, &conn(V13), Message::FlowMod(fm), 0);
    // FLOOD as out_port matches no output action of ours ("flood" is not output:P).
    assert_eq!(rule_count(&o), 3);
    let mut fm = flow("", V13, OFPFC_DELETE);
    fm.out_group = 7;
    ok(&mut o, &conn(V13), Message::FlowMod(fm), 0);
    assert_eq!(rule_count(&o), 2);
    fmod(&mut o, V13, "", OFPFC_DELETE, 0);
    assert_eq!(rule_count(&o), 0);
}

#[test]
fn s000_24_delete_strict_needs_exact_match_and_priority() {
    let mut o = switch();
    add(&mut o, V13, "priority=5,ip,actions=drop", 0);
    add(&mut o, V13, "priority=5,ip,nw_src=10.0.0.1,actions=drop", 0);
    fmod(&mut o, V13, "priority=6,ip", OFPFC_DELETE_STRICT, 0);
    fmod(
        &mut o,
        V13,
        "priority=5,ip,nw_src=10.0.0.0/8",
        OFPFC_DELETE_STRICT,
        0,
    );
    assert_eq!(rule_count(&o), 2);
    fmod(&mut o, V13, "priority=5,ip", OFPFC_DELETE_STRICT, 0);
    assert_eq!(rule_count(&o), 1);
    assert!(only_rule(&o)
        .fmatch
        .exact(crate::ofp::Field::Ipv4Src)
        .is_some());
}

#[test]
fn s000_25_s002_15_delete_reports_the_flow_before_it_goes() {
    let mut o = switch();
    add(&mut o, V13, "table=2,priority=9,in_port=1,idle_timeout=30,hard_timeout=40,cookie=0xab,actions=drop,send_flow_rem", 1000);
    let id = only_rule(&o).id;
    o.credit_rule(id, 4, 256, 1200);
    let out = fmod(&mut o, V13, "table=2,in_port=1", OFPFC_DELETE, 3250);
    let r = removed(&out.events);
    assert_eq!(r.len(), 1);
    let expect = FlowRemovedEvent {
        reason: RemovedReason::Delete,
        table_id: 2,
        priority: 9,
        cookie: 0xab,
        match_: Match::Oxm(OxmMatch {
            entries: vec![MatchEntry::from_u64(crate::ofp::Field::InPort, 1)],
        }),
        duration_sec: 2,
        duration_nsec: 250_000_000,
        idle_timeout: 30,
        hard_timeout: 40,
        packet_count: 4,
        byte_count: 256,
    };
    assert_eq!(r[0], &expect);
    assert_eq!(rule_count(&o), 0);
    // On a 1.0 connection the same event is a 1.0 FLOW_REMOVED with a 1.0 match.
    match expect.to_message(V10) {
        Some(Message::FlowRemoved(f)) => {
            assert!(
                matches!(f.match_, Match::Of10(m) if m.in_port == 1 && m.wildcards == crate::ofp::match10::OFPFW_ALL & !1)
            );
        }
        m => panic!("{m:?}"),
    }
}

#[test]
fn s000_26_delete_of_nothing_is_quiet() {
    let mut o = switch();
    add(&mut o, V13, "in_port=1,actions=drop,send_flow_rem", 0);
    for cmd in [OFPFC_DELETE, OFPFC_DELETE_STRICT] {
        let out = fmod(&mut o, V13, "in_port=2", cmd, 0);
        assert_eq!(out.replies, Ok(vec![]));
        assert!(out.events.is_empty());
    }
    assert_eq!(rule_count(&o), 1);
}

#[test]
fn s000_27_cookie_filters() {
    let mut o = switch();
    add(&mut o, V13, "in_port=1,cookie=0x10,actions=drop", 0);
    add(&mut o, V13, "in_port=2,cookie=0x11,actions=drop", 0);
    add(&mut o, V13, "in_port=3,cookie=0x20,actions=drop", 0);
    assert_eq!(aggregate(&mut o, V13, 0x10, 0xf0).flow_count, 2);
    fmod(
        &mut o,
        V13,
        "cookie=0x11/0xff,actions=output:1",
        OFPFC_MODIFY,
        0,
    );
    assert_eq!(
        o.rules
            .values()
            .filter(|r| r.instructions == output(1))
            .count(),
        1
    );
    fmod(&mut o, V13, "cookie=0x10/0xf0", OFPFC_DELETE, 0);
    assert_eq!(rule_count(&o), 1);
    assert_eq!(only_rule(&o).cookie, 0x20);
    // OpenFlow 1.0: the cookie does not select.
    fmod(&mut o, V10, "cookie=0x99", OFPFC_DELETE, 0);
    assert_eq!(rule_count(&o), 0);
}

#[test]
fn s000_29_exact_of10_match_gets_top_priority() {
    let mut o = switch();
    let text = "priority=3,in_port=1,dl_src=00:00:00:00:00:01,dl_dst=00:00:00:00:00:02,dl_vlan=5,dl_vlan_pcp=0,\
                tcp,nw_tos=0,nw_src=1.1.1.1,nw_dst=2.2.2.2,tp_src=1,tp_dst=2,actions=drop";
    let fm = flow(text, V10, OFPFC_ADD);
    assert!(matches!(&fm.match_, Match::Of10(m) if m.wildcards == 0));
    ok(&mut o, &conn(V10), Message::FlowMod(fm), 0);
    assert_eq!(only_rule(&o).priority, 0xffff);
    add(&mut o, V10, "priority=3,in_port=2,actions=drop", 0);
    assert_eq!(o.rules.values().filter(|r| r.priority == 3).count(), 1);
}

#[test]
fn s000_30_s002_16_hidden_rules_are_untouchable() {
    let mut o = switch();
    let hidden = o
        .add_internal_flow(0, &OxmMatch::default(), 0x10000, output(OFPP_LOCAL), 0)
        .unwrap();
    add(&mut o, V13, "actions=drop", 0);
    assert_eq!(dump(&mut o, V13, 0xff, 0).len(), 1);
    assert_eq!(aggregate(&mut o, V13, 0, 0).flow_count, 1);
    fmod(&mut o, V13, "actions=output:2", OFPFC_MODIFY, 0);
    fmod(&mut o, V13, "", OFPFC_DELETE, 0);
    assert_eq!(rule_count(&o), 1);
    assert_eq!(o.rule(hidden).unwrap().instructions, output(OFPP_LOCAL));
    // The hidden rule still wins a lookup.
    assert_eq!(
        o.lookup(0, &FlowFields::default()).0.map(|r| r.id),
        Some(hidden)
    );
}

#[test]
fn s000_31_flow_limit_without_eviction() {
    let mut o = switch();
    o.configure_table(0, None, 2, None, 0);
    add(&mut o, V13, "in_port=1,actions=drop", 0);
    add(&mut o, V13, "in_port=2,actions=drop", 0);
    let out = fmod(&mut o, V13, "in_port=3,actions=drop", OFPFC_ADD, 0);
    assert_eq!(err(&out), OfpError::OFPFMFC_TABLE_FULL);
    assert_eq!(rule_count(&o), 2);
    // Replacing still works in a full table.
    add(&mut o, V13, "in_port=2,actions=output:1", 0);
    assert_eq!(rule_count(&o), 2);
}

#[test]
fn s000_32_eviction_takes_the_soonest_expiry_of_the_largest_group() {
    let mut o = switch();
    o.configure_table(0, None, 4, Some(vec![crate::ofp::Field::InPort]), 0);
    // Group in_port=1 has three rules, in_port=2 one.
    add(
        &mut o,
        V13,
        "in_port=1,tcp,hard_timeout=100,actions=drop,send_flow_rem",
        0,
    );
    add(
        &mut o,
        V13,
        "in_port=1,udp,hard_timeout=50,actions=drop,send_flow_rem",
        0,
    );
    add(&mut o, V13, "in_port=1,arp,actions=drop", 0);
    add(&mut o, V13, "in_port=2,hard_timeout=10,actions=drop", 0);
    let out = add(&mut o, V13, "in_port=3,actions=drop", 0);
    let r = removed(&out.events);
    assert_eq!(r.len(), 1);
    assert_eq!(
        (r[0].reason, r[0].hard_timeout),
        (RemovedReason::Eviction, 50)
    );
    // Evicted on an OpenFlow 1.3 connection reads as DELETE, on 1.4 as EVICTION.
    assert_eq!(RemovedReason::Eviction.wire(V13), 2);
    assert_eq!(RemovedReason::Eviction.wire(Version::V1_4), 5);
    assert_eq!(rule_count(&o), 4);
    // Permanent rules only: the table is full.
    let mut o = switch();
    o.configure_table(0, None, 1, Some(vec![]), 0);
    add(&mut o, V13, "in_port=1,actions=drop", 0);
    assert_eq!(
        err(&fmod(&mut o, V13, "in_port=2,actions=drop", OFPFC_ADD, 0)),
        OfpError::OFPFMFC_TABLE_FULL
    );
}

#[test]
fn s000_33_lowering_the_limit_shrinks_the_table() {
    let mut o = switch();
    for p in 1..=5 {
        add(
            &mut o,
            V13,
            &format!(
                "in_port={p},idle_timeout={},actions=drop,send_flow_rem",
                10 * p
            ),
            0,
        );
    }
    o.configure_table(0, Some("small".into()), 2, Some(vec![]), 0);
    assert_eq!(rule_count(&o), 2);
    let ev = o.take_events();
    let gone: Vec<u16> = removed(&ev).iter().map(|r| r.idle_timeout).collect();
    assert_eq!(gone, vec![10, 20, 30]);
}

#[test]
fn s000_34_flush_removes_visible_rules_only() {
    let mut o = switch();
    add(&mut o, V13, "actions=drop", 0);
    add(&mut o, V13, "table=5,actions=drop", 0);
    o.add_internal_flow(254, &OxmMatch::default(), 0, vec![], 0)
        .unwrap();
    assert_eq!(o.rules_in_table(5).count(), 1);
    o.flush_flows(0);
    assert_eq!(rule_count(&o), 1);
    assert_eq!(o.rules_in_table(5).count(), 0);
    assert_eq!(only_rule(&o).table_id, 254);
    assert_eq!(o.dpif().flushes, 1);
}

#[test]
fn s000_35_36_s002_17_18_barrier_follows_errors_and_datapath() {
    let mut o = switch();
    let a = conn(V13);
    let b = ConnInfo::new(2, V13);
    // Errors and effects come in request order, before the barrier's reply.
    let m1 = Message::FlowMod(flow("in_port=1,actions=drop,check_overlap", V13, OFPFC_ADD));
    assert_eq!(o.handle(&a, &m1, 0).replies, Ok(vec![]));
    assert_eq!(err(&o.handle(&a, &m1, 0)), OfpError::OFPFMFC_OVERLAP);
    assert_eq!(o.dpif().revalidations, 1);
    assert_eq!(o.dpif().obeyed_revalidations, 0);
    // Another connection's barrier is not held up by anything of A's.
    assert_eq!(
        o.handle(&b, &Message::BarrierRequest, 0).replies,
        Ok(vec![Message::BarrierReply])
    );
    assert_eq!(o.dpif().obeyed_revalidations, 1);
    add(&mut o, V13, "in_port=2,actions=drop", 0);
    assert_eq!(
        o.handle(&a, &Message::BarrierRequest, 0).replies,
        Ok(vec![Message::BarrierReply])
    );
    assert_eq!(o.dpif().obeyed_revalidations, 2);
    assert_eq!(dump(&mut o, V13, 0xff, 0).len(), 2);
}

#[test]
fn s000_39_s002_23_a_named_buffer_is_unknown() {
    let mut o = switch();
    for cmd in [OFPFC_ADD, OFPFC_MODIFY, OFPFC_MODIFY_STRICT] {
        let mut fm = flow("in_port=1,actions=drop", V10, cmd);
        fm.buffer_id = 0x101;
        assert_eq!(
            err(&o.handle(&conn(V10), &Message::FlowMod(fm), 0)),
            OfpError::OFPBRC_BUFFER_UNKNOWN
        );
    }
    assert_eq!(rule_count(&o), 0);
    // Deletes ignore the buffer id.
    add(&mut o, V10, "in_port=1,actions=drop", 0);
    let mut fm = flow("in_port=1", V10, OFPFC_DELETE);
    fm.buffer_id = 0x101;
    assert_eq!(
        o.handle(&conn(V10), &Message::FlowMod(fm), 0).replies,
        Ok(vec![])
    );
    assert_eq!(rule_count(&o), 0);
    let po = Message::PacketOut(PacketOut {
        buffer_id: 3,
        in_port: 1,
        match_: OxmMatch::default(),
        actions: vec![],
        data: vec![],
    });
    assert_eq!(
        err(&o.handle(&conn(V13), &po, 0)),
        OfpError::OFPBRC_BUFFER_UNKNOWN
    );
}

fn bucket(weight: u16, actions: Vec<Action>) -> Bucket {
    Bucket {
        weight,
        watch_port: crate::ofp::port::OFPP_ANY,
        watch_group: groups::OFPG_ANY,
        actions,
    }
}

fn group_add(id: u32, group_type: u8, buckets: Vec<Bucket>) -> Message {
    Message::GroupMod(GroupMod {
        command: 0,
        group_type,
        group_id: id,
        buckets,
    })
}

fn single(out: &Outcome) -> &MultipartReplyBody {
    match out.replies.as_ref().map(Vec::as_slice) {
        Ok([Message::MultipartReply(r)]) => {
            assert_eq!(r.flags, 0);
            &r.body
        }
        r => panic!("{r:?}"),
    }
}

/// The body of the only reply, as OpenFlow 1.3 bytes (after the 16-byte multipart header).
fn body_bytes(out: &Outcome) -> Vec<u8> {
    let m = Message::MultipartReply(crate::ofp::MultipartReply {
        flags: 0,
        body: single(out).clone(),
    });
    let mut b = Vec::new();
    m.encode(V13, 0, &mut b).unwrap();
    b.split_off(16)
}

#[test]
fn s000_43_table_stats() {
    let mut o = switch();
    o.configure_table(1, Some("acl".into()), 500, None, 0);
    add(&mut o, V10, "in_port=1,actions=drop", 0);
    add(&mut o, V13, "table=1,in_port=1,actions=drop", 0);
    o.credit_table(1, 10, 4);
    for v in [V10, V13] {
        let out = ok(&mut o, &conn(v), mp(MultipartRequestBody::Table), 0);
        let MultipartReplyBody::Table(t) = single(&out) else {
            panic!()
        };
        assert_eq!(t.len(), 253);
        assert_eq!(t.len(), usize::from(o.n_tables()));
        assert_eq!(
            (
                t[0].name.as_str(),
                t[0].max_entries,
                t[0].active_count,
                t[0].wildcards
            ),
            ("table0", 1_000_000, 1, 0x3f_ffff)
        );
        assert_eq!(
            (t[1].name.as_str(), t[1].max_entries, t[1].active_count),
            ("acl", 500, 1)
        );
        assert_eq!(t[252].table_id, 252);
    }
}

#[test]
fn s000_44_features() {
    let mut o = switch();
    for (v, caps) in [(V10, 0xc7), (V13, 0x4f)] {
        let out = ok(&mut o, &conn(v), Message::FeaturesRequest, 0);
        let Ok([Message::FeaturesReply(f)]) = out.replies.as_deref() else {
            panic!()
        };
        assert_eq!(f.capabilities, caps);
        // No packet buffering.
        assert_eq!(f.n_buffers, 0);
        assert_eq!(f.n_tables, 253);
        assert_eq!(f.datapath_id, 0x0000_0200_0000_0000);
        if v == V10 {
            let ports: Vec<u32> = f.ports.iter().map(|p| p.port_no).collect();
            assert_eq!(ports, vec![1, 2, 3, OFPP_LOCAL]);
        }
    }
    let o = switch_with(OfprotoConfig {
        datapath_id: Some(0x1234),
        ..OfprotoConfig::default()
    });
    assert_eq!(o.datapath_id(), 0x1234);
}

#[test]
fn s000_45_s002_30_port_and_queue_stats() {
    let mut o = switch();
    o.dpif_mut().set_stats(
        2,
        DpPortStats {
            rx_packets: 5,
            tx_packets: 6,
            rx_bytes: 500,
            tx_bytes: 600,
            ..DpPortStats::default()
        },
    );
    let out = ok(
        &mut o,
        &conn(V13),
        mp(MultipartRequestBody::Port { port_no: 2 }),
        1500,
    );
    let MultipartReplyBody::Port(p) = single(&out) else {
        panic!()
    };
    assert_eq!(
        (
            p.len(),
            p[0].port_no,
            p[0].rx_packets,
            p[0].tx_bytes,
            p[0].collisions
        ),
        (1, 2, 5, 600, u64::MAX)
    );
    assert_eq!((p[0].duration_sec, p[0].duration_nsec), (1, 500_000_000));
    let out = ok(
        &mut o,
        &conn(V13),
        mp(MultipartRequestBody::Port { port_no: 77 }),
        0,
    );
    assert_eq!(single(&out), &MultipartReplyBody::Port(vec![]));
    let out = ok(
        &mut o,
        &conn(V13),
        mp(MultipartRequestBody::Port {
            port_no: crate::ofp::port::OFPP_ANY,
        }),
        0,
    );
    let MultipartReplyBody::Port(p) = single(&out) else {
        panic!()
    };
    assert_eq!(p.len(), 4);
    // Queues.
    let q = |port_no, queue_id| mp(MultipartRequestBody::Queue { port_no, queue_id });
    assert_eq!(
        err(&o.handle(&conn(V13), &q(0xffff_ff00, 0xffff_ffff), 0)),
        OfpError::OFPQOFC_BAD_PORT
    );
    let out = ok(&mut o, &conn(V13), q(1, 0xffff_ffff), 0);
    assert_eq!(single(&out), &MultipartReplyBody::Queue(vec![]));
    o.set_queues(1, vec![0, 1]);
    let out = ok(&mut o, &conn(V13), q(OFPP_ALL, 1), 0);
    let MultipartReplyBody::Queue(qs) = single(&out) else {
        panic!()
    };
    assert_eq!(
        qs.iter()
            .map(|q| (q.port_no, q.queue_id))
            .collect::<Vec<_>>(),
        vec![(1, 1)]
    );
}

#[test]
fn s000_46_flow_stats_and_hidden_tables() {
    let mut o = switch();
    add(&mut o, V13, "table=0,actions=drop", 0);
    o.add_internal_flow(254, &OxmMatch::default(), 5, vec![], 0)
        .unwrap();
    assert_eq!(dump(&mut o, V13, 0xff, 0).len(), 1);
    let hidden = dump(&mut o, V13, 254, 0);
    assert_eq!((hidden.len(), hidden[0].table_id), (1, 254));
}

#[test]
fn s000_47_s002_28_aggregate_with_unknown_counters() {
    let mut o = switch();
    add(&mut o, V13, "in_port=1,actions=drop", 0);
    add(&mut o, V13, "in_port=2,actions=drop", 0);
    let ids: Vec<RuleId> = o.rules.keys().copied().collect();
    o.credit_rule(ids[0], 2, 100, 0);
    o.credit_rule(ids[1], 3, 50, 0);
    assert_eq!(
        aggregate(&mut o, V13, 0, 0),
        AggregateStats {
            packet_count: 5,
            byte_count: 150,
            flow_count: 2
        }
    );
    o.rules.get_mut(&ids[1]).unwrap().packet_count = u64::MAX;
    assert_eq!(
        aggregate(&mut o, V13, 0, 0),
        AggregateStats {
            packet_count: u64::MAX,
            byte_count: 150,
            flow_count: 2
        }
    );
}

#[test]
fn s000_48_49_port_mod() {
    let mut o = switch();
    let pm = |port_no, hw_addr, config, mask| {
        Message::PortMod(PortMod {
            port_no,
            hw_addr,
            config,
            mask,
            advertise: 0,
        })
    };
    assert_eq!(
        err(&o.handle(&conn(V13), &pm(9, test_mac(9), 0, 0), 0)),
        OfpError::OFPPMFC_BAD_PORT
    );
    assert_eq!(
        err(&o.handle(&conn(V13), &pm(1, test_mac(2), 0, 0), 0)),
        OfpError::OFPPMFC_BAD_HW_ADDR
    );
    // NO_FLOOD (bit 4 in 1.3): config changes and every controller hears of it at once.
    let out = ok(&mut o, &conn(V13), pm(1, test_mac(1), 0x20, 0x20), 0);
    assert_eq!(out.replies, Ok(vec![]));
    assert_eq!(port_status(&out.events), vec![(OFPPR_MODIFY, 1, 0x20, 0)]);
    // Same config again: nothing to say.
    assert!(ok(&mut o, &conn(V13), pm(1, test_mac(1), 0x20, 0x20), 0)
        .events
        .is_empty());
    // PORT_DOWN takes the device down; the link drop is noticed by the next run.
    let out = ok(&mut o, &conn(V13), pm(1, test_mac(1), 0x21, 0x1), 0);
    assert_eq!(port_status(&out.events), vec![(OFPPR_MODIFY, 1, 0x21, 0)]);
    assert!(!o.dpif().port(1).unwrap().admin_up);
    assert_eq!(
        port_status(&o.run(1)),
        vec![(OFPPR_MODIFY, 1, 0x21, OFPPS_LINK_DOWN)]
    );
    assert!(o.run(2).is_empty());
}

#[test]
fn s000_50_port_status_on_link_change_unplug_and_rename() {
    let mut o = switch();
    o.dpif_mut().set_link(2, false);
    assert_eq!(
        port_status(&o.run(0)),
        vec![(OFPPR_MODIFY, 2, 0, OFPPS_LINK_DOWN)]
    );
    o.dpif_mut().unplug(3);
    assert_eq!(port_status(&o.run(0)), vec![(OFPPR_DELETE, 3, 0, 0)]);
    assert!(o.port(3).is_none());
    // A datapath port that shows up under a new name is a new OpenFlow port.
    o.dpif_mut().rename(2, "renamed");
    let ev = o.run(0);
    let codes: Vec<(u8, u32)> = port_status(&ev).iter().map(|e| (e.0, e.1)).collect();
    assert_eq!(codes, vec![(OFPPR_DELETE, 2), (OFPPR_ADD, 2)]);
    assert_eq!(o.port(2).unwrap().desc.name, "renamed");
}

#[test]
fn s000_51_set_config() {
    let mut o = switch();
    let set = |flags| {
        Message::SetConfig(SwitchConfig {
            flags,
            miss_send_len: 0,
        })
    };
    let mut slave = conn(V13);
    slave.role = Role::Slave;
    ok(&mut o, &slave, set(1), 0);
    assert_eq!(o.frag_handling, 0);
    ok(&mut o, &conn(V13), set(1), 0);
    assert_eq!(o.frag_handling, 1);
    // Reassembly is not supported: ignored, no error.
    assert_eq!(ok(&mut o, &conn(V13), set(2), 0).replies, Ok(vec![]));
    let out = ok(&mut o, &conn(V13), Message::GetConfigRequest, 0);
    assert_eq!(
        out.replies,
        Ok(vec![Message::GetConfigReply(SwitchConfig {
            flags: 1,
            miss_send_len: 128
        })])
    );
}

#[test]
fn s000_52_s002_29_nx_flow_stats_ages_and_table_ids() {
    let mut o = switch();
    let mut c = conn(V10);
    c.flow_mod_table_id = true;
    let mut fm = flow("in_port=1,actions=output:2", V10, OFPFC_ADD);
    fm.table_id = 3;
    ok(&mut o, &c, Message::FlowMod(fm), 0);
    let id = only_rule(&o).id;
    o.credit_rule(id, 1, 60, 1000);
    let req = mp(MultipartRequestBody::NxFlow {
        aggregate: false,
        out_port: crate::ofp::port::OFPP_ANY,
        table_id: 0xff,
        match_: OxmMatch::default(),
    });
    let now = 70_000_123 + 1000;
    let out = ok(&mut o, &c, req, now);
    let MultipartReplyBody::NxFlow(f) = single(&out) else {
        panic!()
    };
    assert_eq!(f[0].table_id, 3);
    assert_eq!(
        (f[0].duration_sec, f[0].duration_nsec),
        (70_001, 123_000_000)
    );
    assert_eq!((f[0].idle_age, f[0].hard_age), (65535, 65535));
    // Recent ages are sent plus one, as ovs-ofctl expects (it prints idle_age=2 for 3):
    // used at 1 s, added at 0 s, asked at 3.5 s.
    let req = mp(MultipartRequestBody::NxFlow {
        aggregate: false,
        out_port: crate::ofp::port::OFPP_ANY,
        table_id: 0xff,
        match_: OxmMatch::default(),
    });
    let out = ok(&mut o, &c, req, 3_500);
    let MultipartReplyBody::NxFlow(f) = single(&out) else {
        panic!()
    };
    assert_eq!((f[0].idle_age, f[0].hard_age), (3, 4));
    // The OpenFlow 1.0 dump reports the real table too.
    assert_eq!(dump(&mut o, V10, 0xff, 0)[0].table_id, 3);
}

#[test]
fn s002_01_02_choose_table() {
    let mut o = switch();
    add(&mut o, V10, "in_port=1,actions=drop", 0);
    assert_eq!(only_rule(&o).table_id, 0);
    o.set_choose_table(Some(Box::new(|m: &FlowMatch| {
        if m.exact(crate::ofp::Field::InPort).is_some() {
            Ok(7)
        } else {
            Err(OfpError::OFPFMFC_UNSUPPORTED)
        }
    })));
    add(&mut o, V10, "in_port=2,actions=drop", 0);
    assert_eq!(o.rules.values().filter(|r| r.table_id == 7).count(), 1);
    assert_eq!(
        err(&fmod(&mut o, V10, "ip,actions=drop", OFPFC_ADD, 0)),
        OfpError::OFPFMFC_UNSUPPORTED
    );
    assert_eq!(rule_count(&o), 2);
}

#[test]
fn s002_13_strict_on_all_tables_acts_on_each_exact_match() {
    let mut o = switch();
    add(&mut o, V13, "table=0,priority=4,in_port=1,actions=drop", 0);
    add(&mut o, V13, "table=1,priority=4,in_port=1,actions=drop", 0);
    add(&mut o, V13, "table=1,priority=5,in_port=1,actions=drop", 0);
    fmod(
        &mut o,
        V13,
        "table=255,priority=4,in_port=1,actions=output:1",
        OFPFC_MODIFY_STRICT,
        0,
    );
    assert_eq!(
        o.rules
            .values()
            .filter(|r| r.instructions == output(1))
            .count(),
        2
    );
    fmod(
        &mut o,
        V13,
        "table=255,priority=4,in_port=1",
        OFPFC_DELETE_STRICT,
        0,
    );
    assert_eq!(rule_count(&o), 1);
    assert_eq!(only_rule(&o).priority, 5);
}

#[test]
fn s002_31_internal_add_of_an_identical_rule_is_a_no_op() {
    let mut o = switch();
    let a = o
        .add_internal_flow(0, &OxmMatch::default(), 0x10001, output(1), 0)
        .unwrap();
    let b = o
        .add_internal_flow(0, &OxmMatch::default(), 0x10001, output(1), 5)
        .unwrap();
    assert_eq!(a, b);
    assert_eq!(o.rule(a).unwrap().created, 0);
    let c = o
        .add_internal_flow(0, &OxmMatch::default(), 0x10001, output(2), 5)
        .unwrap();
    assert_ne!(a, c);
    assert_eq!(rule_count(&o), 1);
}

#[test]
fn s002_32_expiry_reports_the_timeout_reason() {
    let mut o = switch();
    add(
        &mut o,
        V13,
        "in_port=1,idle_timeout=10,actions=drop,send_flow_rem",
        0,
    );
    add(
        &mut o,
        V13,
        "in_port=2,hard_timeout=20,idle_timeout=15,actions=drop,send_flow_rem",
        0,
    );
    let ids: Vec<RuleId> = o.rules.keys().copied().collect();
    // Traffic keeps both idle timers going.
    for id in &ids {
        o.credit_rule(*id, 1, 64, 9_000);
    }
    assert!(o.run(18_999).is_empty());
    let ev = o.run(19_000);
    let r = removed(&ev);
    assert_eq!(
        (r.len(), r[0].reason, r[0].idle_timeout),
        (1, RemovedReason::IdleTimeout, 10)
    );
    let ev = o.run(20_000);
    let r = removed(&ev);
    assert_eq!(
        (r.len(), r[0].reason, r[0].duration_sec),
        (1, RemovedReason::HardTimeout, 20)
    );
    assert_eq!(rule_count(&o), 0);
}

#[test]
fn lookup_reports_the_megaflow_mask() {
    let mut o = switch();
    add(
        &mut o,
        V13,
        "priority=10,ip,nw_dst=10.0.0.0/8,actions=output:2",
        0,
    );
    add(&mut o, V13, "priority=1,actions=output:1", 0);
    let mut f = FlowFields::default();
    f.set_u64(crate::ofp::Field::EthType, 0x0800);
    f.set(crate::ofp::Field::Ipv4Dst, &[10, 9, 9, 9]);
    let (r, wc) = o.lookup(0, &f);
    assert_eq!(r.unwrap().instructions, output(2));
    assert_eq!(wc.get(crate::ofp::Field::Ipv4Dst), &[255, 0, 0, 0]);
    f.set(crate::ofp::Field::Ipv4Dst, &[11, 0, 0, 1]);
    let (r, wc) = o.lookup(0, &f);
    assert_eq!(r.unwrap().instructions, output(1));
    assert_eq!(wc.get(crate::ofp::Field::EthType), &[0xff, 0xff]);
    assert!(o.lookup(9, &f).0.is_none());
}

#[test]
fn packet_out_goes_through_the_datapath() {
    let mut o = switch();
    let po = |in_port, actions: Vec<Action>| {
        Message::PacketOut(PacketOut {
            buffer_id: NO_BUFFER,
            in_port,
            match_: OxmMatch::default(),
            actions,
            data: vec![0xaa; 64],
        })
    };
    let acts = vec![
        Action::SetField(MatchEntry::from_u64(crate::ofp::Field::VlanVid, 0x1005)),
        Action::Output {
            port: 2,
            max_len: 0,
        },
    ];
    ok(&mut o, &conn(V13), po(1, acts.clone()), 0);
    ok(
        &mut o,
        &conn(V13),
        po(
            OFPP_CONTROLLER,
            vec![Action::Output {
                port: OFPP_ALL,
                max_len: 0,
            }],
        ),
        0,
    );
    let ex = &o.dpif().executed;
    assert_eq!(ex.len(), 2);
    assert_eq!(
        (ex[0].in_port, &ex[0].actions, ex[0].packet.len()),
        (1, &acts, 64)
    );
    assert_eq!(ex[1].in_port, OFPP_CONTROLLER);
    assert_eq!(
        err(&o.handle(&conn(V13), &po(99, vec![]), 0)),
        OfpError::OFPBRC_BAD_PORT
    );
    assert_eq!(
        err(&o.handle(&conn(V13), &po(1, vec![Action::Group(5)]), 0)),
        OfpError::OFPBAC_BAD_OUT_GROUP
    );
    assert_eq!(o.dpif().executed.len(), 2);
}

#[test]
fn groups_of_every_type_with_liveness_and_stats() {
    let mut o = switch();
    let c = conn(V13);
    let out = |p| {
        vec![Action::Output {
            port: p,
            max_len: 0,
        }]
    };
    ok(
        &mut o,
        &c,
        group_add(
            1,
            groups::OFPGT_ALL,
            vec![bucket(0, out(1)), bucket(0, out(2))],
        ),
        0,
    );
    ok(
        &mut o,
        &c,
        group_add(2, groups::OFPGT_INDIRECT, vec![bucket(0, out(3))]),
        0,
    );
    let mut ff1 = bucket(0, out(1));
    ff1.watch_port = 1;
    let mut ff2 = bucket(0, out(2));
    ff2.watch_port = 2;
    ok(
        &mut o,
        &c,
        group_add(3, groups::OFPGT_FF, vec![ff1, ff2]),
        0,
    );
    let (mut s1, mut s2) = (bucket(1, out(1)), bucket(3, out(2)));
    s1.watch_port = 1;
    s2.watch_port = 2;
    ok(
        &mut o,
        &c,
        group_add(4, groups::OFPGT_SELECT, vec![s1, s2]),
        0,
    );
    // Errors.
    assert_eq!(
        err(&o.handle(&c, &group_add(1, 0, vec![]), 0)),
        OfpError::OFPGMFC_GROUP_EXISTS
    );
    assert_eq!(
        err(&o.handle(&c, &group_add(5, groups::OFPGT_INDIRECT, vec![]), 0)),
        OfpError::OFPGMFC_INVALID_GROUP
    );
    assert_eq!(
        err(&o.handle(
            &c,
            &group_add(5, groups::OFPGT_FF, vec![bucket(0, out(1))]),
            0
        )),
        OfpError::OFPGMFC_BAD_WATCH
    );
    assert_eq!(
        err(&o.handle(&c, &group_add(0xffff_ff01, 0, vec![]), 0)),
        OfpError::OFPGMFC_INVALID_GROUP
    );
    let modify = Message::GroupMod(GroupMod {
        command: 1,
        group_type: 0,
        group_id: 9,
        buckets: vec![],
    });
    assert_eq!(
        err(&o.handle(&c, &modify, 0)),
        OfpError::OFPGMFC_UNKNOWN_GROUP
    );
    // A chain back to itself is a loop.
    ok(
        &mut o,
        &c,
        group_add(
            6,
            groups::OFPGT_INDIRECT,
            vec![bucket(0, vec![Action::Group(2)])],
        ),
        0,
    );
    let looped = Message::GroupMod(GroupMod {
        command: 1,
        group_type: 2,
        group_id: 2,
        buckets: vec![bucket(0, vec![Action::Group(6)])],
    });
    assert_eq!(err(&o.handle(&c, &looped, 0)), OfpError::OFPGMFC_LOOP);
    // Bucket choice.
    assert_eq!(o.group_buckets(1, 0), vec![0, 1]);
    assert_eq!(o.group_buckets(2, 0), vec![0]);
    assert_eq!(o.group_buckets(3, 0), vec![0]);
    assert_eq!(
        (
            o.group_buckets(4, 0),
            o.group_buckets(4, 1),
            o.group_buckets(4, 3)
        ),
        (vec![0], vec![1], vec![1])
    );
    o.dpif_mut().set_link(1, false);
    o.run(0);
    assert!(!o.port(1).unwrap().is_live(), "{:?}", o.port(1));
    assert_eq!(o.group_buckets(3, 0), vec![1]);
    assert_eq!(o.group_buckets(4, 0), vec![1]);
    o.dpif_mut().set_link(2, false);
    o.run(0);
    assert!(o.group_buckets(3, 0).is_empty());
    // Stats: reference counts and bucket counters, in the 1.3 layout.
    add(&mut o, V13, "in_port=1,actions=group:1", 0);
    o.credit_groups(&[(1, 1)], 2, 128);
    let req = mp(MultipartRequestBody::Group { group_id: 1 });
    let body = body_bytes(&ok(&mut o, &c, req, 2500));
    let mut expect = vec![0, 72, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0];
    expect.extend_from_slice(&2u64.to_be_bytes());
    expect.extend_from_slice(&128u64.to_be_bytes());
    expect.extend_from_slice(&[0, 0, 0, 2, 0x1d, 0xcd, 0x65, 0x00]);
    expect.extend_from_slice(&[0; 16]);
    expect.extend_from_slice(&2u64.to_be_bytes());
    expect.extend_from_slice(&128u64.to_be_bytes());
    assert_eq!(body, expect);
    let out = ok(&mut o, &c, mp(MultipartRequestBody::GroupDesc), 0);
    let MultipartReplyBody::GroupDesc(d) = single(&out) else {
        panic!()
    };
    assert_eq!(
        d.iter()
            .map(|g| (g.group_id, g.group_type))
            .collect::<Vec<_>>(),
        vec![(1, 0), (2, 2), (3, 3), (4, 1), (6, 2)]
    );
    // A group another group forwards to cannot go; deleting a group takes its flows along.
    let del = |id| {
        Message::GroupMod(GroupMod {
            command: 2,
            group_type: 0,
            group_id: id,
            buckets: vec![],
        })
    };
    assert_eq!(
        err(&o.handle(&c, &del(2), 0)),
        OfpError::OFPGMFC_CHAINED_GROUP
    );
    add(&mut o, V13, "in_port=2,actions=group:1,send_flow_rem", 0);
    let out = ok(&mut o, &c, del(1), 0);
    assert_eq!(
        removed(&out.events)
            .iter()
            .map(|r| r.reason)
            .collect::<Vec<_>>(),
        vec![RemovedReason::GroupDelete]
    );
    assert_eq!(rule_count(&o), 0);
    ok(&mut o, &c, del(groups::OFPG_ALL), 0);
    assert!(o.groups.is_empty());
    // Flows naming a missing group are refused.
    assert_eq!(
        err(&fmod(&mut o, V13, "actions=group:1", OFPFC_ADD, 0)),
        OfpError::OFPBAC_BAD_OUT_GROUP
    );
}

fn meter_mod(command: u16, id: u32, flags: u16, bands: Vec<MeterBand>) -> Message {
    Message::MeterMod(MeterMod {
        command,
        flags,
        meter_id: id,
        bands,
    })
}

fn drop_band(rate: u32, burst_size: u32) -> MeterBand {
    MeterBand {
        band_type: 1,
        rate,
        burst_size,
        extra: 0,
    }
}

#[test]
fn meters_rate_limit_and_report() {
    let mut o = switch();
    let c = conn(V13);
    // 10 packets/s, burst 2.
    ok(
        &mut o,
        &c,
        meter_mod(
            0,
            1,
            groups::OFPMF_PKTPS | groups::OFPMF_BURST | groups::OFPMF_STATS,
            vec![drop_band(10, 2)],
        ),
        0,
    );
    let admitted: Vec<bool> = (0..4).map(|_| o.meter_admit(1, 100, 0)).collect();
    assert_eq!(admitted, vec![true, true, false, false]);
    // 100 ms later one more token.
    assert!(o.meter_admit(1, 100, 100));
    assert!(!o.meter_admit(1, 100, 100));
    // 8 kbit/s: 1000 bytes per second, burst defaults to the rate (8000 bits).
    ok(
        &mut o,
        &c,
        meter_mod(0, 2, groups::OFPMF_KBPS, vec![drop_band(8, 0)]),
        0,
    );
    assert!(o.meter_admit(2, 1000, 0));
    assert!(!o.meter_admit(2, 1, 0));
    assert!(o.meter_admit(2, 500, 500));
    // Errors.
    let e = |o: &mut Ofproto<MemDpif>, m| err(&o.handle(&c, &m, 0));
    assert_eq!(
        e(&mut o, meter_mod(0, 1, 1, vec![drop_band(1, 0)])),
        OfpError::OFPMMFC_METER_EXISTS
    );
    assert_eq!(
        e(&mut o, meter_mod(1, 9, 1, vec![drop_band(1, 0)])),
        OfpError::OFPMMFC_UNKNOWN_METER
    );
    assert_eq!(
        e(&mut o, meter_mod(0, 0, 1, vec![])),
        OfpError::OFPMMFC_INVALID_METER
    );
    assert_eq!(
        e(&mut o, meter_mod(0, 3, 3, vec![])),
        OfpError::OFPMMFC_BAD_FLAGS
    );
    assert_eq!(
        e(&mut o, meter_mod(0, 3, 1, vec![drop_band(0, 0)])),
        OfpError::OFPMMFC_BAD_RATE
    );
    assert_eq!(
        e(&mut o, meter_mod(0, 3, 1, vec![drop_band(5, 5)])),
        OfpError::OFPMMFC_BAD_BURST
    );
    let remark = MeterBand {
        band_type: 2,
        rate: 5,
        burst_size: 0,
        extra: 1,
    };
    assert_eq!(
        e(&mut o, meter_mod(0, 3, 1, vec![remark])),
        OfpError::OFPMMFC_BAD_BAND
    );
    assert_eq!(
        err(&fmod(&mut o, V13, "actions=meter:7,drop", OFPFC_ADD, 0)),
        OfpError::OFPMMFC_UNKNOWN_METER
    );
    // Stats in the 1.3 layout.
    add(
        &mut o,
        V13,
        "in_port=1,actions=meter:1,output:2,send_flow_rem",
        0,
    );
    let req = mp(MultipartRequestBody::Meter { meter_id: 1 });
    let body = body_bytes(&ok(&mut o, &c, req, 1000));
    let mut expect = vec![0, 0, 0, 1, 0, 56, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    expect.extend_from_slice(&6u64.to_be_bytes());
    expect.extend_from_slice(&600u64.to_be_bytes());
    expect.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0]);
    expect.extend_from_slice(&3u64.to_be_bytes());
    expect.extend_from_slice(&300u64.to_be_bytes());
    assert_eq!(body, expect);
    let out = ok(
        &mut o,
        &c,
        mp(MultipartRequestBody::MeterConfig {
            meter_id: groups::OFPM_ALL,
        }),
        0,
    );
    let MultipartReplyBody::MeterConfig(cfg) = single(&out) else {
        panic!()
    };
    assert_eq!(
        cfg.iter()
            .map(|m| (m.meter_id, m.flags, m.bands.clone()))
            .collect::<Vec<_>>(),
        vec![
            (1, 0xe, vec![drop_band(10, 2)]),
            (2, 1, vec![drop_band(8, 0)])
        ]
    );
    // Deleting a meter removes its flows.
    let out = ok(&mut o, &c, meter_mod(2, 1, 0, vec![]), 0);
    assert_eq!(removed(&out.events)[0].reason, RemovedReason::MeterDelete);
    assert_eq!(rule_count(&o), 0);
}

#[test]
fn multipart_replies_are_split_at_64k() {
    let mut o = switch();
    for i in 0..3000u32 {
        add(
            &mut o,
            V13,
            &format!(
                "ip,nw_src=10.{}.{}.1,actions=output:1,output:2",
                i / 256,
                i % 256
            ),
            0,
        );
    }
    let req = FlowStatsRequest {
        table_id: 0xff,
        out_port: crate::ofp::port::OFPP_ANY,
        out_group: crate::ofp::flow::OFPG_ANY,
        cookie: 0,
        cookie_mask: 0,
        match_: Match::any(V13),
    };
    let msgs = ok(&mut o, &conn(V13), mp(MultipartRequestBody::Flow(req)), 0)
        .replies
        .unwrap();
    assert!(msgs.len() > 1);
    let mut total = 0;
    for (i, m) in msgs.iter().enumerate() {
        let mut b = Vec::new();
        m.encode(V13, 1, &mut b).unwrap();
        assert!(b.len() <= 0xffff);
        let Message::MultipartReply(r) = m else {
            panic!()
        };
        assert_eq!(r.flags, if i + 1 < msgs.len() { OFPMPF_MORE } else { 0 });
        let MultipartReplyBody::Flow(f) = &r.body else {
            panic!()
        };
        total += f.len();
    }
    assert_eq!(total, 3000);
    // Table features for 253 tables do not fit one message either.
    let msgs = ok(
        &mut o,
        &conn(V13),
        mp(MultipartRequestBody::TableFeatures(vec![])),
        0,
    )
    .replies
    .unwrap();
    assert!(msgs.len() > 1);
    for m in &msgs {
        let mut b = Vec::new();
        m.encode(V13, 1, &mut b).unwrap();
        assert!(b.len() <= 0xffff);
    }
}

#[test]
fn desc_and_port_desc() {
    let mut o = switch();
    let out = ok(&mut o, &conn(V13), mp(MultipartRequestBody::Desc), 0);
    let MultipartReplyBody::Desc(d) = single(&out) else {
        panic!()
    };
    assert_eq!(d.mfr_desc, "ferrovs");
    let out = ok(
        &mut o,
        &conn(V13),
        mp(MultipartRequestBody::PortDesc {
            port_no: crate::ofp::port::OFPP_ANY,
        }),
        0,
    );
    let MultipartReplyBody::PortDesc(p) = single(&out) else {
        panic!()
    };
    assert_eq!(
        p.iter()
            .map(|p| (p.port_no, p.name.as_str()))
            .collect::<Vec<_>>(),
        vec![(1, "p1"), (2, "p2"), (3, "p3"), (OFPP_LOCAL, "br0")]
    );
    assert_eq!(p[0].hw_addr, test_mac(1));
}

/// `ovs-ofctl ofp-print` of `m` encoded for `v`; `None` when ovs-ofctl is not installed.
fn ofp_print(m: &Message, v: Version) -> Option<String> {
    let mut bytes = Vec::new();
    m.encode(v, 0x42, &mut bytes).unwrap();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let out = std::process::Command::new("ovs-ofctl")
        .args(["ofp-print", &hex])
        .output()
        .ok()?;
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn print_check(m: &Message, v: Version, expect: &[&str]) {
    let Some(text) = ofp_print(m, v) else {
        eprintln!("ovs-ofctl not installed: skipped");
        return;
    };
    assert!(
        !text.contains("decode error") && !text.contains("***"),
        "{text}"
    );
    for e in expect {
        assert!(text.contains(e), "missing `{e}` in:\n{text}");
    }
}

#[test]
fn group_meter_and_table_feature_replies_decode_with_ovs_ofctl() {
    let mut o = switch();
    let c = conn(V13);
    let mut b1 = bucket(
        0,
        vec![Action::Output {
            port: 1,
            max_len: 0,
        }],
    );
    b1.watch_port = 1;
    ok(&mut o, &c, group_add(5, groups::OFPGT_FF, vec![b1]), 0);
    ok(
        &mut o,
        &c,
        meter_mod(
            0,
            3,
            groups::OFPMF_KBPS | groups::OFPMF_STATS,
            vec![drop_band(1000, 0)],
        ),
        0,
    );
    add(&mut o, V13, "in_port=2,actions=meter:3,group:5", 0);
    o.credit_groups(&[(5, 0)], 7, 700);
    assert!(o.meter_admit(3, 100, 0));
    let req = mp(MultipartRequestBody::Group {
        group_id: groups::OFPG_ALL,
    });
    let out = ok(&mut o, &c, req, 2000);
    print_check(
        &out.replies.unwrap()[0],
        V13,
        &["group_id=5,duration=2s,ref_count=1,packet_count=7,byte_count=700,bucket0:packet_count=7,byte_count=700"],
    );
    let out = ok(
        &mut o,
        &c,
        mp(MultipartRequestBody::Meter {
            meter_id: groups::OFPM_ALL,
        }),
        1000,
    );
    print_check(
        &out.replies.unwrap()[0],
        V13,
        &[
            "meter:3 flow_count:1 packet_in_count:1 byte_in_count:100 duration:1s bands:",
            "0: packet_count:0 byte_count:0",
        ],
    );
    let out = ok(&mut o, &c, mp(MultipartRequestBody::MeterFeatures), 0);
    print_check(
        &out.replies.unwrap()[0],
        V13,
        &[
            "max_meter:65536 max_bands:8 max_color:0",
            "band_types: drop",
            "capabilities: kbps pktps burst stats",
        ],
    );
    let out = ok(&mut o, &c, mp(MultipartRequestBody::GroupFeatures), 0);
    print_check(&out.replies.unwrap()[0], V13, &["Group table:"]);
    o.configure_table(0, Some("classifier".into()), 100, None, 0);
    let out = ok(
        &mut o,
        &c,
        mp(MultipartRequestBody::TableFeatures(vec![])),
        0,
    );
    // ovs-ofctl prints the first table of a reply in full: send it on its own.
    let Message::MultipartReply(r) = &out.replies.unwrap()[0] else {
        panic!()
    };
    let MultipartReplyBody::TableFeatures(t) = &r.body else {
        panic!()
    };
    assert_eq!(t[0].properties.len(), 14);
    let alone = Message::MultipartReply(crate::ofp::MultipartReply {
        flags: 0,
        body: MultipartReplyBody::TableFeatures(vec![t[0].clone()]),
    });
    print_check(
        &alone,
        V13,
        &[
            "table 0 (\"classifier\"):",
            "max_entries=100",
            "next tables: 1-252",
            "instructions: meter apply_actions clear_actions write_actions write_metadata goto_table",
            "arbitrary mask: tun_id metadata eth_{src,dst} vlan_vid",
        ],
    );
}

#[test]
fn packet_in_events_honour_max_len_and_miss_send_len() {
    let mut o = switch();
    let ev = PacketInEvent {
        reason: 1,
        table_id: 2,
        cookie: 9,
        in_port: 3,
        metadata: OxmMatch::default(),
        max_len: Some(4),
        packet: vec![1, 2, 3, 4, 5, 6],
        controller_id: 0,
        userdata: None,
        continuation: None,
    };
    o.send_packet_in(ev.clone());
    let out = o.run(0);
    assert_eq!(out, vec![AsyncEvent::PacketIn(ev.clone())]);
    let Some(Message::PacketIn(p)) = out[0].to_message(V13, 128) else {
        panic!()
    };
    assert_eq!(
        (
            p.buffer_id,
            p.total_len,
            p.data.as_slice(),
            p.table_id,
            p.cookie
        ),
        (NO_BUFFER, 6, &[1u8, 2, 3, 4][..], 2, 9)
    );
    assert_eq!(
        p.match_.entries,
        vec![MatchEntry::from_u64(crate::ofp::Field::InPort, 3)]
    );
    let miss = PacketInEvent {
        reason: 0,
        max_len: None,
        ..ev
    };
    let Message::PacketIn(p) = miss.to_message(2) else {
        panic!()
    };
    assert_eq!(p.data, vec![1, 2]);
    print_check(
        &miss.to_message(0xffff),
        V13,
        &[
            "OFPT_PACKET_IN",
            "table_id=2 cookie=0x9 total_len=6 in_port=3 (via no_match) data_len=6 (unbuffered)",
        ],
    );
}

/// A bundle's flow-mods take effect only at commit, all or none; a failed commit leaves
/// the tables and the queued events as they were.
#[test]
fn bundle_commit_is_all_or_nothing() {
    use crate::ofp::ext::{OFPBCT_COMMIT_REQUEST, OFPBCT_OPEN_REQUEST, OFPBF_ATOMIC};
    use crate::ofp::{BundleAdd, BundleControl};
    let v = Version::V1_4;
    let c = conn(v);
    let mut o = switch();
    add(
        &mut o,
        v,
        "priority=1,in_port=1,actions=output:2,send_flow_rem",
        0,
    );
    let ctl = |id: u32, ctype: u16| {
        Message::BundleControl(BundleControl {
            bundle_id: id,
            ctype,
            flags: OFPBF_ATOMIC,
            properties: Vec::new(),
        })
    };
    let badd = |id: u32, text: &str, cmd: u8| {
        let mut bytes = Vec::new();
        Message::FlowMod(flow(text, v, cmd))
            .encode(v, 7, &mut bytes)
            .unwrap();
        Message::BundleAdd(BundleAdd {
            bundle_id: id,
            flags: OFPBF_ATOMIC,
            message: bytes,
            properties: Vec::new(),
        })
    };
    // Bundle 1: delete everything, add one flow, then a flow naming a missing group.
    ok(&mut o, &c, ctl(1, OFPBCT_OPEN_REQUEST), 0);
    ok(&mut o, &c, badd(1, "actions=drop", OFPFC_DELETE), 0);
    ok(
        &mut o,
        &c,
        badd(1, "priority=2,in_port=2,actions=output:1", OFPFC_ADD),
        0,
    );
    ok(
        &mut o,
        &c,
        badd(1, "priority=3,actions=group:9", OFPFC_ADD),
        0,
    );
    assert_eq!(
        dump(&mut o, v, 0xff, 0).len(),
        1,
        "nothing applied before the commit"
    );
    let out = o.handle(&c, &ctl(1, OFPBCT_COMMIT_REQUEST), 0);
    assert_eq!(err(&out), OfpError::OFPBAC_BAD_OUT_GROUP);
    assert!(
        out.events.is_empty(),
        "no flow-removed for a delete taken back"
    );
    let flows = dump(&mut o, v, 0xff, 0);
    assert_eq!(flows.len(), 1);
    assert_eq!(flows[0].priority, 1);
    // The bundle is gone after a commit, failed or not.
    assert_eq!(
        err(&o.handle(&c, &ctl(1, OFPBCT_COMMIT_REQUEST), 0)),
        OfpError::OFPBFC_BAD_ID
    );
    // Bundle 2 (opened by its first add): applies whole.
    ok(
        &mut o,
        &c,
        badd(2, "priority=2,in_port=2,actions=output:1", OFPFC_ADD),
        0,
    );
    ok(
        &mut o,
        &c,
        badd(2, "priority=1,in_port=1,actions=drop", OFPFC_DELETE_STRICT),
        0,
    );
    let out = ok(&mut o, &c, ctl(2, OFPBCT_COMMIT_REQUEST), 0);
    assert_eq!(out.events.len(), 1, "the strict delete's flow-removed");
    let flows = dump(&mut o, v, 0xff, 0);
    assert_eq!(flows.len(), 1);
    assert_eq!(flows[0].priority, 2);
}

/// A failed commit takes back modifies, replacements (with the counters the replaced rule
/// had) and timed rules, and the next commit numbers rules as if it never ran.
#[test]
fn failed_commit_undoes_modify_replace_and_timeouts() {
    use crate::ofp::ext::{OFPBCT_COMMIT_REQUEST, OFPBF_ATOMIC};
    use crate::ofp::flow::OFPFC_MODIFY;
    use crate::ofp::{BundleAdd, BundleControl};
    let v = Version::V1_4;
    let c = conn(v);
    let mut o = switch();
    add(&mut o, v, "priority=1,in_port=1,actions=output:2", 0);
    add(&mut o, v, "priority=2,in_port=2,actions=output:1", 0);
    let ids: Vec<RuleId> = o.rules_in_table(0).map(|r| r.id).collect();
    o.credit_rule(ids[1], 7, 700, 10);
    let before: Vec<Rule> = o.rules_in_table(0).cloned().collect();
    let badd = |text: &str, cmd: u8| {
        let mut bytes = Vec::new();
        Message::FlowMod(flow(text, v, cmd))
            .encode(v, 7, &mut bytes)
            .unwrap();
        Message::BundleAdd(BundleAdd {
            bundle_id: 1,
            flags: OFPBF_ATOMIC,
            message: bytes,
            properties: Vec::new(),
        })
    };
    let commit = Message::BundleControl(BundleControl {
        bundle_id: 1,
        ctype: OFPBCT_COMMIT_REQUEST,
        flags: OFPBF_ATOMIC,
        properties: Vec::new(),
    });
    ok(&mut o, &c, badd("in_port=1,actions=drop", OFPFC_MODIFY), 5);
    ok(
        &mut o,
        &c,
        badd("priority=2,in_port=2,actions=output:3", OFPFC_ADD),
        5,
    );
    ok(
        &mut o,
        &c,
        badd(
            "priority=9,idle_timeout=1,in_port=3,actions=drop",
            OFPFC_ADD,
        ),
        5,
    );
    ok(&mut o, &c, badd("priority=3,actions=group:9", OFPFC_ADD), 5);
    assert_eq!(
        err(&o.handle(&c, &commit, 5)),
        OfpError::OFPBAC_BAD_OUT_GROUP
    );
    let after: Vec<Rule> = o.rules_in_table(0).cloned().collect();
    assert_eq!(after, before);
    // The timed rule is gone for good: nothing expires later.
    assert!(o.run(60_000).is_empty());
    assert_eq!(rule_count(&o), 2);
    // The same bundle without the bad flow applies; the replaced rule keeps its counters.
    ok(
        &mut o,
        &c,
        badd("priority=2,in_port=2,actions=output:3", OFPFC_ADD),
        5,
    );
    ok(
        &mut o,
        &c,
        badd(
            "priority=9,idle_timeout=1,in_port=3,actions=drop",
            OFPFC_ADD,
        ),
        5,
    );
    ok(&mut o, &c, commit.clone(), 5);
    let rules: Vec<&Rule> = o.rules_in_table(0).collect();
    assert_eq!(rules.len(), 3);
    assert_eq!((rules[1].priority, rules[1].packet_count), (2, 7));
    assert_eq!(rules[1].instructions, output(3));
    assert_eq!(
        rules[1].id,
        RuleId(ids[1].0 + 1),
        "numbering resumed where it was"
    );
    // The idle rule expires (not used since 5 ms; 1 s idle timeout).
    o.run(2_000);
    assert_eq!(rule_count(&o), 2);
}

/// An `all` group's packet counts each packet once, its buckets each count it.
#[test]
fn all_group_counts_a_packet_once() {
    let v = Version::V1_3;
    let mut o = switch();
    let c = conn(v);
    ok(
        &mut o,
        &c,
        Message::GroupMod(
            crate::ofp::syntax::parse_group(
                "group_id=1,type=all,bucket=output:1,bucket=output:2",
                0,
                v,
            )
            .unwrap(),
        ),
        0,
    );
    // Two packets through both buckets, then one more visit after a resubmit.
    o.credit_groups(&[(1, 0), (1, 1)], 2, 200);
    o.credit_groups(&[(1, 0), (1, 1), (1, 0), (1, 1)], 1, 50);
    let g = &o.groups[&1];
    assert_eq!((g.packet_count, g.byte_count), (4, 300));
    assert_eq!(g.bucket_counts, vec![(4, 300), (4, 300)]);
}
