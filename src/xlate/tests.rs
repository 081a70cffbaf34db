//! Translation against the in-memory datapath and a real ofproto, with literal keys: every
//! test checks the exact datapath actions and the exact megaflow, in dpctl syntax.

use pmd::key::{FlowKey, FlowMask};
use pmd::odp::{format_actions, format_key, parse_key};

use super::*;
use crate::dpif::memory::MemDpif;
use crate::ofp::flow::OFPFC_ADD;
use crate::ofp::syntax::parse_flow;
use crate::ofp::{Field, Message, Version};
use crate::ofproto::{ConnInfo, OfprotoConfig};

struct Bridge {
    ofproto: Ofproto<MemDpif>,
    fdb: Fdb,
    config: XlateConfig,
    now: Millis,
}

const UDP: &str = "in_port(1),eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),eth_type(0x0800),\
                   ipv4(src=10.0.0.1,dst=10.0.0.2,proto=17,tos=0,ttl=64,frag=no),udp(src=1024,dst=5001)";

fn key(text: &str) -> FlowKey {
    parse_key(text).unwrap_or_else(|e| panic!("{text}: {e}")).0
}

impl Bridge {
    /// A bridge with ports 1..=n (and LOCAL).
    fn new(n: u32) -> Bridge {
        let mut ofproto = Ofproto::new(MemDpif::new("br0"), OfprotoConfig::default(), 0);
        for i in 1..=n {
            let no = ofproto.add_port(&format!("p{i}"), "", 0).expect("port");
            assert_eq!(no, i);
        }
        ofproto.take_events();
        Bridge {
            ofproto,
            fdb: Fdb::default(),
            config: XlateConfig::default(),
            now: 1000,
        }
    }

    fn add(&mut self, flow: &str) {
        let fm =
            parse_flow(flow, Version::V1_3, OFPFC_ADD).unwrap_or_else(|e| panic!("{flow}: {e:?}"));
        let out = self
            .ofproto
            .handle(&ConnInfo::new(1, Version::V1_3), &Message::FlowMod(fm), 0);
        assert!(out.replies.is_ok(), "{flow}: {:?}", out.replies);
    }

    fn ctx(&self) -> XlateCtx<'_> {
        XlateCtx {
            pipeline: &self.ofproto,
            fdb: &self.fdb,
            config: &self.config,
            now: self.now,
            may_learn: true,
        }
    }

    fn xlate(&self, k: &str) -> XlateOutput {
        translate(&self.ctx(), &key(k), None)
    }

    /// "actions | megaflow".
    fn run(&self, k: &str) -> String {
        let out = self.xlate(k);
        format!(
            "{} | {}",
            format_actions(&out.actions),
            format_key(&key(k), &out.mask)
        )
    }

    fn learn(&mut self, out: &XlateOutput) {
        for l in &out.learned {
            self.fdb.learn(l, self.now);
        }
    }
}

#[test]
fn output_to_port_wildcards_everything_but_in_port() {
    let mut b = Bridge::new(3);
    b.add("in_port=1,actions=output:2");
    assert_eq!(
        b.run(UDP),
        "2 | recirc_id(0),in_port(1),eth_type(0x0800),ipv4(frag=no)"
    );
    let out = b.xlate(UDP);
    assert_eq!(out.rules.len(), 1);
    assert_eq!(out.drop_reason, None);
    assert!(!out.needs_userspace);
    // Output to the input port by number is skipped; IN_PORT is not.
    b.add("priority=40000,in_port=1,udp,actions=output:1,output:in_port,output:local");
    assert_eq!(
        b.run(UDP),
        "1,0 | recirc_id(0),in_port(1),eth_type(0x0800),ipv4(proto=17,frag=no)"
    );
}

#[test]
fn flood_and_all_skip_the_input_port_and_no_flood_ports() {
    let mut b = Bridge::new(4);
    b.add("in_port=2,actions=flood");
    b.add("in_port=3,actions=all");
    let arp = "in_port(2),eth(src=50:54:00:00:00:01,dst=ff:ff:ff:ff:ff:ff),eth_type(0x0806),\
               arp(sip=10.0.0.1,tip=10.0.0.2,op=1,sha=50:54:00:00:00:01,tha=00:00:00:00:00:00)";
    assert_eq!(b.run(arp), "1,3,4,0 | recirc_id(0),in_port(2)");
    let arp3 = arp.replace("in_port(2)", "in_port(3)");
    assert_eq!(b.run(&arp3), "1,2,4,0 | recirc_id(0),in_port(3)");
}

#[test]
fn table_miss_follows_the_version_policy() {
    let mut b = Bridge::new(2);
    b.add("in_port=2,actions=output:1");
    let out = b.xlate(UDP);
    assert_eq!(format_actions(&out.actions), "drop");
    assert_eq!(out.drop_reason, Some(DropReason::TableMiss { table: 0 }));
    assert_eq!(
        format_key(&key(UDP), &out.mask),
        "recirc_id(0),in_port(1),eth_type(0x0800),ipv4(frag=no)"
    );
    b.config.table_miss = TableMiss::for_version(Version::V1_0);
    let packet = [0u8; 60];
    let out = translate(&b.ctx(), &key(UDP), Some(&packet));
    assert!(out.needs_userspace);
    assert_eq!(out.drop_reason, None);
    // reason 0, table 0, controller 0, max_len 65535, cookie 0, in_port=1 as OXM.
    assert_eq!(
        format_actions(&out.actions),
        "userspace(pid=0,userdata(66727663746c0001\
         00000000ffff0000000000000000\
         8000000400000001))"
    );
    assert_eq!(out.packet_ins.len(), 1);
    let pi = &out.packet_ins[0];
    assert_eq!(pi.packet.as_deref(), Some(&packet[..]));
    let DpAction::Userspace { cookie, userdata } = &out.actions[0] else {
        panic!("not userspace");
    };
    assert_eq!(
        ControllerUserdata::decode(*cookie, userdata).as_ref(),
        Some(&pi.userdata)
    );
    assert_eq!(ControllerUserdata::decode(*cookie, &userdata[..10]), None);
    // A port with NO_PACKET_IN drops misses instead.
    let mut desc = b.ofproto.port(1).expect("port 1").desc.clone();
    desc.config |= OFPPC_NO_PACKET_IN;
    let pm = crate::ofp::PortMod {
        port_no: 1,
        hw_addr: desc.hw_addr,
        config: desc.config,
        mask: OFPPC_NO_PACKET_IN,
        advertise: 0,
    };
    let r = b
        .ofproto
        .handle(&ConnInfo::new(1, Version::V1_3), &Message::PortMod(pm), 0);
    assert!(r.replies.is_ok());
    let out = b.xlate(UDP);
    assert_eq!(format_actions(&out.actions), "drop");
    assert_eq!(out.drop_reason, Some(DropReason::TableMiss { table: 0 }));
}

#[test]
fn controller_output_carries_rewrites_and_metadata() {
    let mut b = Bridge::new(2);
    b.add("cookie=0x77,in_port=1,actions=set_field:10.9.9.9->ip_dst,load:5->NXM_NX_REG1[],controller:100,output:2");
    let out = b.xlate(UDP);
    assert_eq!(
        format_actions(&out.actions),
        "set(ipv4(dst=10.9.9.9)),userspace(pid=0,userdata(66727663746c0001\
         0100000000640000000000000077\
         80000004000000010001020400000005)),2"
    );
    let pi = &out.packet_ins[0].userdata;
    assert_eq!(
        (pi.reason, pi.table_id, pi.max_len, pi.cookie),
        (1, 0, 100, 0x77)
    );
    assert_eq!(pi.metadata.entries.len(), 2);
}

#[test]
fn rewrites_commit_lazily_and_written_bits_are_not_pinned() {
    let mut b = Bridge::new(3);
    b.add("table=0,in_port=1,udp,actions=set_field:10.0.0.9->ip_dst,set_field:53->udp_dst,resubmit(,1)");
    b.add("table=1,ip,nw_dst=10.0.0.9,actions=output:2");
    b.add("table=1,priority=0,actions=output:3");
    // The lookup in table 1 read ip_dst, but only after the rewrite: the original ip_dst
    // is not part of the megaflow.
    assert_eq!(
        b.run(UDP),
        "set(ipv4(dst=10.0.0.9)),set(udp(dst=53)),2 | \
         recirc_id(0),in_port(1),eth_type(0x0800),ipv4(proto=17,frag=no)"
    );
}

#[test]
fn goto_table_write_actions_and_the_action_set() {
    let mut b = Bridge::new(3);
    b.add("table=0,in_port=1,actions=write_actions(output:3),write_metadata:0x5/0xff,goto_table:1");
    b.add("table=1,metadata=0x5/0xff,udp,actions=write_actions(set_field:00:00:00:00:00:aa->eth_dst,output:2)");
    assert_eq!(
        b.run(UDP),
        "set(eth(dst=00:00:00:00:00:aa)),2 | \
         recirc_id(0),in_port(1),eth_type(0x0800),ipv4(proto=17,frag=no)"
    );
    // clear_actions empties the set: nothing is output.
    b.add("table=1,priority=40000,udp,tp_dst=5001,actions=clear_actions");
    let out = b.xlate(UDP);
    assert_eq!(format_actions(&out.actions), "drop");
    assert_eq!(out.drop_reason, Some(DropReason::NoOutput));
    assert_eq!(out.rules.len(), 2);
}

#[test]
fn resubmit_miss_is_silent_and_the_depth_is_limited() {
    let mut b = Bridge::new(2);
    b.config.table_miss = TableMiss::Controller;
    b.add("table=0,in_port=1,actions=resubmit(,5),output:2");
    assert_eq!(
        b.run(UDP),
        "2 | recirc_id(0),in_port(1),eth_type(0x0800),ipv4(frag=no)"
    );
    // A loop: table 1 resubmits to itself forever.
    b.add("table=0,priority=40000,in_port=1,actions=resubmit(,1)");
    b.add("table=1,actions=output:2,resubmit(,1)");
    let out = b.xlate(UDP);
    assert_eq!(format_actions(&out.actions), "drop");
    assert_eq!(out.drop_reason, Some(DropReason::RecursionTooDeep));
    assert_eq!(out.rules.len(), 1 + MAX_RESUBMIT_DEPTH as usize);
    // resubmit with an in_port: the lookup sees it, IN_PORT still means the real one.
    let mut b = Bridge::new(3);
    b.add("table=0,in_port=1,actions=resubmit(3,1)");
    b.add("table=1,in_port=3,actions=output:in_port,output:2");
    assert_eq!(
        b.run(UDP),
        "1,2 | recirc_id(0),in_port(1),eth_type(0x0800),ipv4(frag=no)"
    );
}

#[test]
fn vlan_push_pop_and_set() {
    let mut b = Bridge::new(3);
    b.add("in_port=1,actions=push_vlan:0x8100,set_field:4106->vlan_vid,output:2,pop_vlan,output:3");
    assert_eq!(
        b.run(UDP),
        "push_vlan(vid=10,pcp=0),2,pop_vlan,3 | \
         recirc_id(0),in_port(1),eth_type(0x0800),ipv4(frag=no)"
    );
    let tagged = "in_port(1),eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),eth_type(0x8100),\
                  vlan(vid=20,pcp=3),encap(eth_type(0x0800),\
                  ipv4(src=10.0.0.1,dst=10.0.0.2,proto=17,tos=0,ttl=64,frag=no),udp(src=1,dst=2))";
    assert_eq!(
        b.run(tagged),
        "push_vlan(vid=10,pcp=3),2,pop_vlan,3 | \
         recirc_id(0),in_port(1),eth_type(0x8100),vlan(vid=20,pcp=3),encap(eth_type(0x0800),ipv4(frag=no))"
    );
}

#[test]
fn dec_ttl_rewrites_or_sends_invalid_ttl() {
    let mut b = Bridge::new(2);
    b.add("in_port=1,actions=dec_ttl,output:2");
    assert_eq!(
        b.run(UDP),
        "set(ipv4(ttl=63)),2 | recirc_id(0),in_port(1),eth_type(0x0800),ipv4(ttl=64,frag=no)"
    );
    let ttl1 = UDP.replace("ttl=64", "ttl=1");
    let out = b.xlate(&ttl1);
    assert_eq!(out.packet_ins.len(), 1);
    assert_eq!(out.packet_ins[0].userdata.reason, OFPR_INVALID_TTL);
    // The rest of the rule's actions are skipped.
    assert!(!out.actions.contains(&DpAction::Output(2)));
}

#[test]
fn groups_run_each_bucket_on_its_own_copy() {
    use crate::ofp::multipart::Bucket;
    use crate::ofp::{Action, GroupMod, MatchEntry};
    let mut b = Bridge::new(3);
    let bucket = |actions| Bucket {
        weight: 0,
        watch_port: crate::ofp::port::OFPP_ANY,
        watch_group: 0xffff_ffff,
        actions,
    };
    let gm = GroupMod {
        command: 0,
        group_type: 0,
        group_id: 1,
        buckets: vec![
            bucket(vec![
                Action::SetField(MatchEntry::exact(Field::Ipv4Dst, &[10, 1, 1, 1])),
                Action::Output {
                    port: 2,
                    max_len: 0,
                },
            ]),
            bucket(vec![Action::Output {
                port: 3,
                max_len: 0,
            }]),
        ],
    };
    let r = b
        .ofproto
        .handle(&ConnInfo::new(1, Version::V1_3), &Message::GroupMod(gm), 0);
    assert!(r.replies.is_ok(), "{:?}", r.replies);
    b.add("in_port=1,actions=group:1");
    assert_eq!(
        b.run(UDP),
        "clone(set(ipv4(dst=10.1.1.1)),2),3 | recirc_id(0),in_port(1),eth_type(0x0800),ipv4(frag=no)"
    );
    assert_eq!(b.xlate(UDP).groups, vec![(1, 0), (1, 1)]);
}

/// The acl case of PERF.md: 1,000 exact 5-tuple UDP rules for flows 0, 100, …, 99900 and a
/// priority-0 output, with the 100k-flow traffic. Open vSwitch 3.1 installs 7,563
/// megaflows in 9 masks; prefix tracking on ip_src gives exactly the same.
#[test]
fn acl_megaflows_are_no_more_than_open_vswitch_installs() {
    use std::collections::HashSet;
    use std::net::Ipv4Addr;
    let flow_key = |i: u32| {
        let mut k = FlowKey::default();
        k.set_in_port(1);
        k.set_eth_src([0x50, 0x54, 0, 0, 0, 1]);
        k.set_eth_dst([0x50, 0x54, 0, 0, 0, 2]);
        k.set_eth_type(0x0800);
        k.set_ipv4_src(Ipv4Addr::from(0x0a00_0000 + i));
        k.set_ipv4_dst(Ipv4Addr::new(172, 16, 0, 1));
        k.set_ip_proto(17);
        k.set_ip_ttl(64);
        k.set_tp_src((1024 + i % 60000) as u16);
        k.set_tp_dst(5001);
        k
    };
    let mut b = Bridge::new(3);
    for i in (0..100_000u32).step_by(100) {
        let src = Ipv4Addr::from(0x0a00_0000 + i);
        b.add(&format!(
            "priority=100,udp,nw_src={src},nw_dst=172.16.0.1,tp_src={},tp_dst=5001,actions=output:3",
            1024 + i % 60000
        ));
    }
    b.add("priority=0,actions=output:2");
    let ctx = b.ctx();
    let mut flows = HashSet::new();
    let mut masks = HashSet::new();
    let mut to_rule = 0;
    let keys: Vec<FlowKey> = (0..100_000u32).map(flow_key).collect();
    let started = std::time::Instant::now();
    let outs: Vec<XlateOutput> = keys.iter().map(|k| translate(&ctx, k, None)).collect();
    let elapsed = started.elapsed();
    for (i, (k, out)) in keys.iter().zip(outs).enumerate() {
        if out.actions == [DpAction::Output(3)] {
            to_rule += 1;
        } else {
            assert_eq!(out.actions, [DpAction::Output(2)], "flow {i}");
        }
        flows.insert((k.masked(&out.mask), out.mask));
        masks.insert(out.mask);
    }
    // Informational (the number is meaningful only in a release build).
    eprintln!(
        "acl: 100k translations in {:?} ({} megaflows, {} masks)",
        elapsed,
        flows.len(),
        masks.len()
    );
    assert_eq!(to_rule, 1000);
    assert_eq!((flows.len(), masks.len()), (7563, 9));
    // One megaflow that misses the rules: 10.0.0.5 leaves the
    // nearest rule address (10.0.0.0) at bit 29, so 30 bits of ip_src are enough.
    let out = translate(&ctx, &flow_key(5), None);
    assert_eq!(
        format_key(&flow_key(5), &out.mask),
        "recirc_id(0),in_port(1),eth_type(0x0800),ipv4(src=10.0.0.4/255.255.255.252,frag=no)"
    );
}

const A: &str = "50:54:00:00:00:01";
const B: &str = "50:54:00:00:00:02";

fn eth_key(in_port: u32, src: &str, dst: &str, vlan: Option<u16>) -> String {
    let l3 = "eth_type(0x0800),ipv4(src=10.0.0.1,dst=10.0.0.2,proto=17,tos=0,ttl=64,frag=no),udp(src=1,dst=2)";
    match vlan {
        None => format!("in_port({in_port}),eth(src={src},dst={dst}),{l3}"),
        Some(v) => format!(
            "in_port({in_port}),eth(src={src},dst={dst}),eth_type(0x8100),vlan(vid={v},pcp=0),encap({l3})"
        ),
    }
}

#[test]
fn normal_floods_learns_and_never_hairpins() {
    let mut b = Bridge::new(3);
    b.add("actions=NORMAL");
    let a_to_b = eth_key(1, A, B, None);
    let out = b.xlate(&a_to_b);
    assert_eq!(
        b.run(&a_to_b),
        "2,3,0 | recirc_id(0),in_port(1),eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),\
         eth_type(0x0800),ipv4(frag=no)"
    );
    assert_eq!(
        out.learned,
        vec![FdbLearn {
            mac: [0x50, 0x54, 0, 0, 0, 1],
            vlan: 0,
            port: 1
        }]
    );
    b.learn(&out);
    let b_to_a = eth_key(2, B, A, None);
    let out = b.xlate(&b_to_a);
    assert_eq!(format_actions(&out.actions), "1");
    b.learn(&out);
    assert_eq!(format_actions(&b.xlate(&a_to_b).actions), "2");
    // A destination learned on the input port is dropped, not sent back.
    let b_to_b = eth_key(2, A, B, None);
    let out = b.xlate(&b_to_b);
    assert_eq!(format_actions(&out.actions), "drop");
    assert_eq!(out.drop_reason, Some(DropReason::NoOutput));
    assert_eq!(
        b.fdb.show(b.now + 2000),
        " port  VLAN  MAC                Age\n\
         \x20   1     0  50:54:00:00:00:01    2\n\
         \x20   2     0  50:54:00:00:00:02    2\n"
    );
    // Reserved multicast is not forwarded.
    let bpdu = eth_key(1, A, "01:80:c2:00:00:00", None);
    assert_eq!(format_actions(&b.xlate(&bpdu).actions), "drop");
    // Without may_learn (revalidation), nothing is reported.
    let ctx = XlateCtx {
        may_learn: false,
        ..b.ctx()
    };
    assert!(translate(&ctx, &key(&a_to_b), None).learned.is_empty());
}

#[test]
fn normal_access_and_trunk_vlans() {
    let mut b = Bridge::new(3);
    b.add("actions=NORMAL");
    b.config.normal.vlans.insert(1, VlanMode::Access(10));
    b.config
        .normal
        .vlans
        .insert(2, VlanMode::Trunk(Some(vec![10, 20])));
    b.config.normal.vlans.insert(3, VlanMode::Access(20));
    // Untagged on access port 1 is VLAN 10: tagged to the trunks, not to VLAN 20's port.
    let out = b.xlate(&eth_key(1, A, B, None));
    assert_eq!(format_actions(&out.actions), "push_vlan(vid=10,pcp=0),2,0");
    assert_eq!(out.learned[0].vlan, 10);
    // Tagged traffic on an access port is dropped.
    assert_eq!(
        format_actions(&b.xlate(&eth_key(1, A, B, Some(10))).actions),
        "drop"
    );
    // VLAN 20 from the trunk: untagged to access port 3, tagged to LOCAL (a full trunk).
    assert_eq!(
        b.run(&eth_key(2, A, B, Some(20))),
        "pop_vlan,3,push_vlan(vid=20,pcp=0),0 | recirc_id(0),in_port(2),\
         eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),eth_type(0x8100),vlan(vid=20,pcp=0),\
         encap(eth_type(0x0800),ipv4(frag=no))"
    );
    // A VLAN the trunk does not carry.
    assert_eq!(
        format_actions(&b.xlate(&eth_key(2, A, B, Some(30))).actions),
        "drop"
    );
    // Learning is per VLAN.
    let out = b.xlate(&eth_key(3, B, A, None));
    b.learn(&out);
    assert_eq!(
        format_actions(&b.xlate(&eth_key(2, A, B, Some(20))).actions),
        "pop_vlan,3"
    );
    assert_eq!(
        format_actions(&b.xlate(&eth_key(2, A, B, Some(10))).actions),
        "pop_vlan,1,push_vlan(vid=10,pcp=0),0"
    );
}

#[test]
fn trace_tells_tables_rules_actions_and_megaflow() {
    let mut b = Bridge::new(2);
    b.add("table=0,in_port=1,actions=resubmit(,1),output:2");
    b.add("table=1,cookie=0x5,priority=7,udp,actions=dec_ttl");
    let t = trace(&b.ctx(), &key(UDP), None);
    assert_eq!(
        t,
        "Flow: recirc_id(0),in_port(1),eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),\
         eth_type(0x0800),ipv4(src=10.0.0.1,dst=10.0.0.2,proto=17,tos=0,ttl=64,frag=no),\
         udp(src=1024,dst=5001)\n\
         \n\
         0. in_port=1, priority 32768, cookie 0x0: resubmit(,1),output:2\n\
         \x20   resubmit(,1)\n\
         \x20       1. udp, priority 7, cookie 0x5: dec_ttl\n\
         \x20   output:2\n\
         \n\
         Final flow: recirc_id(0),in_port(1),eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),\
         eth_type(0x0800),ipv4(src=10.0.0.1,dst=10.0.0.2,proto=17,tos=0,ttl=63,frag=no),\
         udp(src=1024,dst=5001)\n\
         Megaflow: recirc_id(0),in_port(1),eth_type(0x0800),ipv4(proto=17,ttl=64,frag=no)\n\
         Datapath actions: set(ipv4(ttl=63)),2\n"
    );
    // The megaflow trace prints is the one translation installs.
    let out = b.xlate(UDP);
    assert!(t.contains(&format!("Megaflow: {}\n", format_key(&key(UDP), &out.mask))));
    // A miss and NORMAL learning are told too.
    let mut b = Bridge::new(2);
    b.add("in_port=2,actions=NORMAL");
    let t = trace(&b.ctx(), &key(&eth_key(2, B, A, None)), None);
    assert!(
        t.ends_with(
            "NORMAL: flooding VLAN 0\n    output:1\n    output:LOCAL\n\nFinal flow: unchanged\n\
         Megaflow: recirc_id(0),in_port(2),eth(src=50:54:00:00:00:02,dst=50:54:00:00:00:01),\
         eth_type(0x0800),ipv4(frag=no)\n\
         Datapath actions: 1,0\n\
         Would learn: 50:54:00:00:00:02 on VLAN 0 at port 2\n"
        ),
        "{t}"
    );
    let t = trace(&b.ctx(), &key(UDP), None);
    assert!(
        t.ends_with("Datapath actions: drop\nDrop reason: no match in table 0\n"),
        "{t}"
    );
}

fn udp_packet(ttl: u8) -> Vec<u8> {
    let mut v = Vec::new();
    etherparse::PacketBuilder::ethernet2([0x50, 0x54, 0, 0, 0, 1], [0x50, 0x54, 0, 0, 0, 2])
        .ipv4([10, 0, 0, 1], [10, 0, 0, 2], ttl)
        .udp(1024, 5001)
        .write(&mut v, b"hello")
        .expect("build packet");
    v
}

#[test]
fn packet_in_data_carries_the_rewrites_before_it() {
    let mut b = Bridge::new(2);
    b.add("in_port=1,udp,actions=set_field:10.9.9.9->ip_dst,dec_ttl,controller:64,output:2");
    let pkt = udp_packet(64);
    let mut k = FlowKey::default();
    pmd::parse::parse(&pkt, 1, &mut k);
    let out = translate(&b.ctx(), &k, Some(&pkt));
    assert_eq!(out.packet_ins.len(), 1);
    let data = out.packet_ins[0].packet.clone().expect("packet");
    let p = etherparse::SlicedPacket::from_ethernet(&data).expect("parses");
    let Some(etherparse::NetSlice::Ipv4(ip)) = p.net else {
        panic!("not IPv4");
    };
    assert_eq!(ip.header().destination(), [10, 9, 9, 9]);
    assert_eq!(ip.header().ttl(), 63);
    let h = ip.header().to_header();
    assert_eq!(h.header_checksum, h.calc_header_checksum());
    assert_eq!(
        format_actions(&out.actions)[..40].to_string(),
        "set(ipv4(dst=10.9.9.9,ttl=63)),userspace"
    );
}

#[test]
fn staged_lookup_stops_at_the_first_stage_that_misses() {
    let mut b = Bridge::new(3);
    b.add("priority=100,tcp,tp_dst=80,actions=output:3");
    b.add("priority=50,ip,nw_dst=10.0.0.0/8,actions=output:2");
    b.add("priority=0,actions=drop");
    // UDP never reaches the TCP rule's L4 stage: ip_proto decides, udp(dst) stays wild;
    // ip_dst matched the /8 and its 8 bits are all that the second rule needs.
    assert_eq!(
        b.run(UDP),
        "2 | recirc_id(0),in_port(1),eth_type(0x0800),ipv4(dst=10.0.0.0/255.0.0.0,proto=17,frag=no)"
    );
    // 11.x misses the /8: the trie needs only the bits up to where 11 leaves 10.
    let other = UDP.replace("dst=10.0.0.2", "dst=11.0.0.2");
    assert_eq!(
        b.run(&other),
        "drop | recirc_id(0),in_port(1),eth_type(0x0800),ipv4(dst=11.0.0.0/255.0.0.0,proto=17,frag=no)"
    );
}

#[test]
fn packet_out_actions_and_register_moves() {
    let mut b = Bridge::new(3);
    let out = translate_actions(
        &b.ctx(),
        &key(UDP),
        crate::ofp::port::OFPP_CONTROLLER,
        &[crate::ofp::Action::Output {
            port: crate::ofp::port::OFPP_FLOOD,
            max_len: 0,
        }],
        None,
    );
    assert_eq!(format_actions(&out.actions), "1,2,3,0");
    // move ip_src[24..31] into reg0, output to the port in reg0[0..15]: pins only those
    // 8 bits of ip_src. Out-of-range moves are ignored, never a panic.
    b.add("in_port=1,ip,actions=move:NXM_OF_IP_SRC[24..31]->NXM_NX_REG0[0..7],output:NXM_NX_REG0[0..15]");
    let k = UDP.replace("src=10.0.0.1", "src=2.0.0.1");
    assert_eq!(
        b.run(&k),
        "2 | recirc_id(0),in_port(1),eth_type(0x0800),ipv4(src=2.0.0.0/255.0.0.0,frag=no)"
    );
    let bad = translate_actions(
        &b.ctx(),
        &key(UDP),
        1,
        &[
            crate::ofp::Action::RegMove {
                n_bits: 600,
                src_ofs: 1000,
                dst_ofs: 900,
                src: Field::Ipv4Src.header(false),
                dst: Field::Reg0.header(false),
            },
            crate::ofp::Action::RegLoad {
                ofs_nbits: (1000 << 6) | 63,
                dst: Field::EthDst.header(false),
                value: 1,
            },
            crate::ofp::Action::Output {
                port: 2,
                max_len: 0,
            },
        ],
        None,
    );
    assert_eq!(format_actions(&bad.actions), "2");
}

#[test]
fn loops_and_fan_out_end_in_a_drop_with_a_reason() {
    let mut b = Bridge::new(2);
    b.add("in_port=1,actions=output:2,output:table");
    let out = b.xlate(UDP);
    assert_eq!(format_actions(&out.actions), "drop");
    assert_eq!(out.drop_reason, Some(DropReason::RecursionTooDeep));
    // 2^13 resubmits, each well within the depth limit.
    let mut b = Bridge::new(2);
    b.add("table=0,in_port=1,actions=resubmit(,1)");
    for t in 1..=13 {
        b.add(&format!(
            "table={t},actions=resubmit(,{n}),resubmit(,{n})",
            n = t + 1
        ));
    }
    b.add("table=14,actions=output:2");
    let out = b.xlate(UDP);
    assert_eq!(out.drop_reason, Some(DropReason::TooManyResubmits));
    assert!(out.actions.is_empty());
    assert_eq!(
        DropReason::TooManyResubmits.to_string(),
        "too many resubmits (more than 4096)"
    );
}

#[test]
fn no_recv_ports_and_meters() {
    let mut b = Bridge::new(2);
    let mm = crate::ofp::MeterMod {
        command: 0,
        flags: 2,
        meter_id: 1,
        bands: vec![crate::ofp::multipart::MeterBand {
            band_type: 1,
            rate: 10,
            burst_size: 0,
            extra: 0,
        }],
    };
    let r = b
        .ofproto
        .handle(&ConnInfo::new(1, Version::V1_3), &Message::MeterMod(mm), 0);
    assert!(r.replies.is_ok(), "{:?}", r.replies);
    b.add("in_port=1,actions=meter:1,output:2");
    // The datapath has no meter action: the meter is reported for the caller.
    let out = b.xlate(UDP);
    assert_eq!(format_actions(&out.actions), "2");
    assert_eq!(out.meters, vec![1]);
    let desc = b.ofproto.port(1).expect("port 1").desc.clone();
    let pm = crate::ofp::PortMod {
        port_no: 1,
        hw_addr: desc.hw_addr,
        config: OFPPC_NO_RECV,
        mask: OFPPC_NO_RECV,
        advertise: 0,
    };
    let r = b
        .ofproto
        .handle(&ConnInfo::new(1, Version::V1_3), &Message::PortMod(pm), 0);
    assert!(r.replies.is_ok());
    let out = b.xlate(UDP);
    assert_eq!(out.drop_reason, Some(DropReason::NoReceive));
    assert_eq!(
        format_key(&key(UDP), &out.mask),
        "recirc_id(0),in_port(1),eth_type(0x0800),ipv4(frag=no)"
    );
}

#[test]
fn mpls_push_and_pop() {
    let mut b = Bridge::new(2);
    b.add("in_port=1,ip,actions=push_mpls:0x8847,output:2");
    // The new label stack entry takes TC from the DSCP and TTL from the IP TTL, so both
    // are part of the megaflow.
    let k = UDP.replace("tos=0", "tos=0x14");
    assert_eq!(
        b.run(&k),
        "push_mpls(label=0,tc=5,ttl=64,bos=1,eth_type=0x8847),2 | \
         recirc_id(0),in_port(1),eth_type(0x0800),ipv4(tos=0x14/0xfc,ttl=64,frag=no)"
    );
    let mpls = "in_port(1),eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),eth_type(0x8847),\
                mpls(label=100,tc=0,ttl=64,bos=1)";
    let mut b = Bridge::new(2);
    b.add("in_port=1,mpls,mpls_label=100,actions=pop_mpls:0x0800,output:2");
    assert_eq!(
        b.run(mpls),
        "pop_mpls(eth_type=0x800),2 | recirc_id(0),in_port(1),eth_type(0x8847),mpls(label=100)"
    );
    // The datapath cannot rewrite an MPLS TTL: the flow drops with the reason.
    let mut b = Bridge::new(2);
    b.add("in_port=1,mpls,actions=dec_mpls_ttl,output:2");
    let out = b.xlate(mpls);
    assert_eq!(
        out.drop_reason,
        Some(DropReason::Unsupported("mpls ttl rewrite"))
    );
    assert_eq!(format_actions(&out.actions), "drop");
}

#[test]
fn masks_leave_out_fields_the_packet_does_not_have() {
    let mut b = Bridge::new(3);
    b.add("priority=100,ip,nw_src=10.0.0.0/8,actions=output:3");
    b.add("priority=90,tcp,tp_src=22,actions=output:3");
    b.add("priority=0,actions=output:2");
    // ARP: the IPv4 prefix trie and the TCP subtable looked at fields ARP lacks; only the
    // ethertype tells them apart.
    let arp = "in_port(1),eth(src=50:54:00:00:00:01,dst=ff:ff:ff:ff:ff:ff),eth_type(0x0806),\
               arp(sip=10.0.0.1,tip=10.0.0.2,op=1,sha=50:54:00:00:00:01,tha=00:00:00:00:00:00)";
    assert_eq!(b.run(arp), "2 | recirc_id(0),in_port(1),eth_type(0x0806)");
    // UDP from 11/8: the TCP port is absent, the protocol is what mattered.
    let udp = UDP.replace("src=10.0.0.1", "src=11.0.0.1");
    assert_eq!(
        b.run(&udp),
        "2 | recirc_id(0),in_port(1),eth_type(0x0800),ipv4(src=11.0.0.0/255.0.0.0,proto=17,frag=no)"
    );
}

/// The megaflow invariant: any packet that agrees with a translated packet on the mask
/// bits translates to the same actions. Random packets over a table with prefixes,
/// several protocols, VLANs, rewrites, resubmits and NORMAL; the rest of each packet is
/// randomised outside the mask.
#[test]
fn every_packet_a_megaflow_covers_translates_the_same() {
    let mut b = Bridge::new(3);
    b.add("priority=300,tcp,nw_dst=192.168.1.0/24,tp_dst=80,actions=output:3");
    b.add("priority=250,ip,nw_src=10.0.0.0/8,nw_dst=192.168.0.0/16,actions=set_field:1.2.3.4->ip_dst,resubmit(,1)");
    b.add("priority=200,udp,tp_src=53,actions=dec_ttl,output:1");
    b.add("priority=180,tcp,tp_dst=1234,actions=load:0x5->NXM_OF_ETH_SRC[0..7],set_field:1.2.3.4->ip_dst,output:2");
    b.add("priority=150,in_port=2,dl_vlan=10,actions=pop_vlan,output:3");
    b.add("priority=100,ipv6,ipv6_src=2001:db8::/32,actions=output:2");
    b.add("priority=50,arp,arp_op=1,actions=flood");
    b.add("priority=0,actions=NORMAL");
    b.add("table=1,priority=10,ip,nw_dst=1.2.3.4,tcp,actions=output:2");
    b.add("table=1,priority=5,ip,nw_ttl=64,actions=output:1");
    b.add("table=1,priority=0,actions=drop");
    b.fdb.learn(
        &FdbLearn {
            mac: [0x50, 0x54, 0, 0, 0, 2],
            vlan: 0,
            port: 2,
        },
        b.now,
    );
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let ctx = b.ctx();
    for _ in 0..3000 {
        let mut k = FlowKey::default();
        let r = rnd();
        k.set_in_port(1 + (r % 3) as u32);
        k.set_eth_src([0x50, 0x54, 0, 0, 0, (r >> 8) as u8 % 4]);
        k.set_eth_dst([0x50, 0x54, 0, 0, 0, (r >> 16) as u8 % 4]);
        if r & (1 << 24) != 0 {
            k.set_vlan_outer_tpid(0x8100);
            k.set_vlan_outer_tci(if r & (1 << 25) != 0 { 10 } else { 20 });
        }
        let addr = |x: u64| -> [u8; 4] {
            match x % 4 {
                0 => [10, (x >> 8) as u8, 0, 1],
                1 => [192, 168, (x >> 16) as u8 % 3, (x >> 24) as u8],
                2 => [1, 2, 3, 4],
                _ => [(x >> 32) as u8, 7, 7, 7],
            }
        };
        match (r >> 28) % 4 {
            0 | 1 => {
                k.set_eth_type(0x0800);
                k.set_ipv4_src(addr(rnd()).into());
                k.set_ipv4_dst(addr(rnd()).into());
                k.set_ip_proto([6, 17, 1][(r >> 32) as usize % 3]);
                k.set_ip_ttl([1, 64, 128][(r >> 36) as usize % 3]);
                k.set_tp_src([53, 80, 1234][(r >> 40) as usize % 3]);
                k.set_tp_dst([53, 80, 1234][(r >> 44) as usize % 3]);
            }
            2 => {
                k.set_eth_type(0x86dd);
                let hi: u128 = if r & (1 << 48) != 0 {
                    0x2001_0db8
                } else {
                    0xfe80_0000
                };
                k.set_ipv6_src(std::net::Ipv6Addr::from(hi << 96 | u128::from(rnd())));
                k.set_ip_proto(17);
            }
            _ => {
                k.set_eth_type(0x0806);
                k.set_arp_op(1 + (r >> 50) as u16 % 2);
            }
        }
        let out = translate(&ctx, &k, None);
        for _ in 0..3 {
            let mut other = FlowKey::default();
            for w in 0..other.words.len() {
                other.words[w] = (k.words[w] & out.mask.words[w])
                    | (rnd() & !out.mask.words[w] & FlowMask::exact().words[w]);
            }
            let o = translate(&ctx, &other, None);
            assert_eq!(
                format_actions(&o.actions),
                format_actions(&out.actions),
                "\nkey   {}\nmask  {}\nother {}",
                format_key(&k, &FlowMask::exact()),
                format_key(&k, &out.mask),
                format_key(&other, &FlowMask::exact())
            );
        }
    }
}

#[test]
fn trace_reads_openflow_and_datapath_flow_syntax() {
    let dp = |p: u32| (p < 10).then_some(p);
    let k = parse_trace_flow(
        "in_port=1,dl_src=50:54:00:00:00:01,dl_dst=50:54:00:00:00:02,dl_vlan=10,udp,\
         nw_src=10.0.0.1,nw_dst=10.0.0.2,nw_ttl=64,tp_src=1024,tp_dst=5001",
        dp,
    )
    .expect("parses");
    assert_eq!(
        format_key(&k, &FlowMask::exact()),
        "skb_mark(0),recirc_id(0),dp_hash(0),in_port(1),\
         eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),eth_type(0x8100),vlan(vid=10,pcp=0),\
         encap(eth_type(0x0800),ipv4(src=10.0.0.1,dst=10.0.0.2,proto=17,tos=0,ttl=64,frag=no),\
         udp(src=1024,dst=5001))"
    );
    assert_eq!(parse_trace_flow(UDP, dp), Ok(key(UDP)));
    assert!(parse_trace_flow("in_port=99", dp).is_err());
    assert!(parse_trace_flow("in_port=1,actions=drop", dp).is_err());
    assert!(parse_trace_flow("in_port(1),bogus(2)", dp).is_err());
}

#[test]
fn fragments_drop_or_lose_their_ports() {
    let mut b = Bridge::new(3);
    b.add("priority=100,udp,tp_dst=5001,actions=output:3");
    b.add("priority=0,actions=output:2");
    let first = UDP.replace("frag=no", "frag=first");
    // Normal handling: a fragment is looked up with ports 0, so the port rule misses.
    assert_eq!(
        b.run(&first),
        "2 | recirc_id(0),in_port(1),eth_type(0x0800),ipv4(proto=17,frag=first)"
    );
    assert_eq!(b.run(UDP).split(" | ").next(), Some("3"));
    b.config.drop_fragments = true;
    let out = b.xlate(&first);
    assert_eq!(out.drop_reason, Some(DropReason::Fragment));
    assert_eq!(
        format_key(&key(&first), &out.mask),
        "recirc_id(0),in_port(1),eth_type(0x0800),ipv4(frag=first)"
    );
    assert_eq!(b.run(UDP).split(" | ").next(), Some("3"));
}

#[test]
fn the_action_set_runs_in_openflow_order() {
    let mut b = Bridge::new(3);
    b.add("table=0,in_port=1,actions=write_actions(output:2,set_field:4106->vlan_vid,push_vlan:0x8100),goto_table:1");
    b.add("table=1,actions=write_actions(output:3)");
    // push before set-field before output; table 1's output replaced table 0's.
    assert_eq!(
        b.run(UDP),
        "push_vlan(vid=10,pcp=0),3 | recirc_id(0),in_port(1),eth_type(0x0800),ipv4(frag=no)"
    );
}

#[test]
fn controller_userdata_decoding_never_panics() {
    let mut seed = 12345u64;
    for len in 0..200usize {
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (seed >> 56) as u8
            })
            .collect();
        let _ = ControllerUserdata::decode(USERSPACE_CONTROLLER, &bytes);
    }
    let u = ControllerUserdata {
        reason: OFPR_INVALID_TTL,
        table_id: 7,
        controller_id: 3,
        max_len: 128,
        cookie: 0xabcd,
        metadata: crate::ofp::OxmMatch::default(),
        userdata: None,
        continuation: None,
    };
    assert_eq!(
        ControllerUserdata::decode(USERSPACE_CONTROLLER, &u.encode()),
        Some(u.clone())
    );
    assert_eq!(ControllerUserdata::decode(1, &u.encode()), None);
    // With userdata and a continuation: another cookie, and both come back.
    let mut u2 = u.clone();
    u2.metadata
        .entries
        .push(crate::ofp::MatchEntry::from_u64(Field::Reg3, 9));
    u2.userdata = Some(vec![1, 2, 3]);
    u2.continuation = Some(vec![0x80, 0x06, 0, 8, 4, 0, 0, 0]);
    assert_eq!(u2.cookie(), USERSPACE_CONTROLLER2);
    let bytes = u2.encode();
    assert_eq!(
        ControllerUserdata::decode(USERSPACE_CONTROLLER2, &bytes),
        Some(u2.clone())
    );
    for n in 0..bytes.len() {
        let _ = ControllerUserdata::decode(USERSPACE_CONTROLLER2, &bytes[..n]);
    }
    // An empty continuation (pause as the last action) is still a continuation.
    u2.continuation = Some(Vec::new());
    u2.userdata = None;
    assert_eq!(
        ControllerUserdata::decode(USERSPACE_CONTROLLER2, &u2.encode()),
        Some(u2)
    );
}

#[test]
fn select_groups_pin_what_they_hash() {
    use crate::ofp::multipart::Bucket;
    use crate::ofp::{Action, GroupMod};
    let mut b = Bridge::new(3);
    let bucket = |port| Bucket {
        weight: 1,
        watch_port: crate::ofp::port::OFPP_ANY,
        watch_group: 0xffff_ffff,
        actions: vec![Action::Output { port, max_len: 0 }],
    };
    let gm = GroupMod {
        command: 0,
        group_type: 1,
        group_id: 7,
        buckets: vec![bucket(2), bucket(3)],
    };
    let r = b
        .ofproto
        .handle(&ConnInfo::new(1, Version::V1_3), &Message::GroupMod(gm), 0);
    assert!(r.replies.is_ok(), "{:?}", r.replies);
    b.add("in_port=1,actions=group:7");
    let out = b.xlate(UDP);
    assert_eq!(out.groups.len(), 1);
    assert_eq!(
        format_key(&key(UDP), &out.mask),
        "recirc_id(0),in_port(1),eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),\
         eth_type(0x0800),ipv4(src=10.0.0.1,dst=10.0.0.2,proto=17,frag=no),\
         udp(src=1024,dst=5001)"
    );
    // Different flows spread over both buckets.
    let mut seen = std::collections::BTreeSet::new();
    for p in 0..32 {
        let k = UDP.replace("src=1024", &format!("src={}", 2000 + p));
        seen.insert(format_actions(&b.xlate(&k).actions));
    }
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), vec!["2", "3"]);
}

#[test]
fn writes_reach_the_datapath_even_when_nothing_changes() {
    let mut b = Bridge::new(2);
    b.add(
        "in_port=1,ip,actions=set_field:10.0.0.2->ip_dst,load:0x5->NXM_OF_ETH_SRC[0..7],output:2",
    );
    // ip_dst already is 10.0.0.2, but the megaflow does not pin it, so the set stays; the
    // partial MAC write is a masked set that leaves the packet's other bits alone.
    assert_eq!(
        b.run(UDP),
        "set(eth(src=00:00:00:00:00:05/00:00:00:00:00:ff)),set(ipv4(dst=10.0.0.2)),2 | \
         recirc_id(0),in_port(1),eth_type(0x0800),ipv4(frag=no)"
    );
}

// ----- continuations -------------------------------------------------------------------

/// The one packet-in of `out`, which must be a pause's, and its frozen state.
fn paused(out: &XlateOutput) -> (&ControllerUserdata, freeze::Frozen) {
    assert_eq!(out.packet_ins.len(), 1, "{out:?}");
    let u = &out.packet_ins[0].userdata;
    let bytes = u.continuation.as_deref().expect("a continuation");
    (u, freeze::Frozen::decode(bytes).expect("decodes"))
}

fn meta(entries: &[(Field, u64)]) -> crate::ofp::OxmMatch {
    crate::ofp::OxmMatch {
        entries: entries
            .iter()
            .map(|&(f, v)| crate::ofp::MatchEntry::from_u64(f, v))
            .collect(),
    }
}

#[test]
fn pause_freezes_every_level_and_resume_runs_them_in_order() {
    use crate::ofp::{Action, Instruction};
    let mut b = Bridge::new(5);
    b.add("table=0,in_port=1,udp,actions=set_field:10.9.9.9->ip_dst,load:0x2a->NXM_NX_REG0[],resubmit(,1),output:3");
    b.add("table=1,cookie=0x77,actions=controller(pause),load:1->NXM_NX_REG1[],output:2,write_actions(output:4)");
    let out = b.xlate(UDP);
    // The rewrite before the pause is committed ahead of the controller action; nothing
    // after the pause reaches the datapath.
    assert_eq!(out.actions.len(), 2, "{}", format_actions(&out.actions));
    assert_eq!(format_actions(&out.actions[..1]), "set(ipv4(dst=10.9.9.9))");
    assert!(
        matches!(&out.actions[1], DpAction::Userspace { cookie, .. } if *cookie == USERSPACE_CONTROLLER2)
    );
    assert!(out.needs_userspace);
    let (u, frozen) = paused(&out);
    assert_eq!((u.reason, u.table_id, u.cookie), (OFPR_ACTION, 1, 0x77));
    assert_eq!(u.metadata, meta(&[(Field::InPort, 1), (Field::Reg0, 0x2a)]));
    let output = |port| Action::Output { port, max_len: 0 };
    assert_eq!(
        frozen,
        freeze::Frozen {
            segments: vec![
                freeze::FrozenSegment {
                    table_id: 1,
                    cookie: 0x77,
                    actions: vec![
                        Action::RegLoad {
                            ofs_nbits: 31,
                            dst: Field::Reg1.header(false),
                            value: 1
                        },
                        output(2)
                    ],
                    instructions: vec![Instruction::WriteActions(vec![output(4)])],
                },
                freeze::FrozenSegment {
                    table_id: 0,
                    cookie: 0,
                    actions: vec![output(3)],
                    instructions: vec![],
                },
            ],
            action_set: vec![],
        }
    );
    // Resumed: the inner rule's rest, the outer rule's rest, then the action set.
    let r = resume(&b.ctx(), &key(UDP), &u.metadata, &frozen, None);
    assert_eq!(format_actions(&r.actions), "2,3,4");
    assert!(r.rules.is_empty(), "no rule is looked up again");
    assert!(r.tables.is_empty());
}

#[test]
fn pause_as_the_last_action_resumes_to_nothing() {
    let mut b = Bridge::new(3);
    b.add("table=0,in_port=1,actions=output:2,controller(pause)");
    let out = b.xlate(UDP);
    assert_eq!(format_actions(&out.actions[..1]), "2");
    let (u, frozen) = paused(&out);
    assert_eq!(frozen, freeze::Frozen::default());
    let r = resume(&b.ctx(), &key(UDP), &u.metadata, &frozen, None);
    // No lookup in table 0 again, so no second pause: no loop.
    assert_eq!(format_actions(&r.actions), "drop");
    assert!(r.tables.is_empty() && r.packet_ins.is_empty());
}

#[test]
fn pending_goto_and_action_set_resume_after_the_pause() {
    let mut b = Bridge::new(5);
    b.add("table=0,in_port=1,actions=write_actions(output:5),controller(pause),goto_table:1");
    b.add("table=1,actions=output:2");
    let out = b.xlate(UDP);
    let (u, frozen) = paused(&out);
    assert_eq!(frozen.segments.len(), 1);
    // write_actions had not run when the pause came (apply-actions run first).
    assert_eq!(
        frozen.segments[0].instructions,
        [
            crate::ofp::Instruction::WriteActions(vec![crate::ofp::Action::Output {
                port: 5,
                max_len: 0
            }]),
            crate::ofp::Instruction::GotoTable(1)
        ]
    );
    let r = resume(&b.ctx(), &key(UDP), &u.metadata, &frozen, None);
    assert_eq!(format_actions(&r.actions), "2,5");
    // Only table 1's rule is credited on resume: table 0's was, before the pause.
    assert_eq!(r.tables, [(1, true)]);
    assert_eq!(r.rules.len(), 1);
}

#[test]
fn resume_sees_the_controllers_metadata_and_can_pause_again() {
    let mut b = Bridge::new(6);
    b.add("table=0,in_port=1,actions=controller(pause),resubmit(,1),output:3");
    b.add("table=1,actions=controller(id=7,pause,userdata=01.02),output:NXM_NX_REG2[0..15]");
    let out = b.xlate(UDP);
    let (u, frozen) = paused(&out);
    assert_eq!(u.controller_id, 0);
    // The controller changes reg2; the second pause carries the rest of both levels.
    let md = meta(&[(Field::InPort, 1), (Field::Reg2, 6)]);
    let r = resume(&b.ctx(), &key(UDP), &md, &frozen, None);
    let (u2, frozen2) = paused(&r);
    assert_eq!(u2.controller_id, 7);
    assert_eq!(u2.userdata.as_deref(), Some(&[1u8, 2][..]));
    assert_eq!(u2.metadata, md);
    assert_eq!(
        frozen2
            .segments
            .iter()
            .map(|s| (s.table_id, s.actions.len()))
            .collect::<Vec<_>>(),
        [(1, 1), (0, 1)]
    );
    let r2 = resume(&b.ctx(), &key(UDP), &md, &frozen2, None);
    assert_eq!(format_actions(&r2.actions), "6,3");
}

#[test]
fn pause_in_a_group_bucket_is_a_plain_packet_in() {
    use crate::ofp::multipart::Bucket;
    use crate::ofp::{Action, GroupMod};
    let mut b = Bridge::new(3);
    let gm = GroupMod {
        command: 0,
        group_type: 0,
        group_id: 1,
        buckets: vec![Bucket {
            weight: 0,
            watch_port: 0xffff_ffff,
            watch_group: 0xffff_ffff,
            actions: vec![
                Action::Controller2(vec![crate::ofp::action::Controller2Prop::Pause]),
                Action::Output {
                    port: 2,
                    max_len: 0,
                },
            ],
        }],
    };
    let r = b
        .ofproto
        .handle(&ConnInfo::new(1, Version::V1_3), &Message::GroupMod(gm), 0);
    assert!(r.replies.is_ok());
    b.add("in_port=1,actions=group:1,output:3");
    let out = b.xlate(UDP);
    assert_eq!(out.packet_ins.len(), 1);
    assert_eq!(out.packet_ins[0].userdata.continuation, None);
    assert_eq!(
        format_actions(&out.actions[1..]),
        "2,3",
        "the bucket and the rule go on"
    );
}
