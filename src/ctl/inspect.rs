//! The switch's inspection commands, as text in the shapes `ovs-appctl` users know:
//! `bridge/dump-flows` (every OpenFlow rule, hidden ones included), `memory/show` (object
//! counts) and `dpif/show` (the datapath's lookups and the bridge's ports).
//!
//! These only read; [`crate::ofswitch`] registers them and hands over the state they print.
//! Called on the control lcore, from the control socket's handler.

use std::fmt::Write as _;

use crate::bridge::NetdevBridge;
use crate::dpif::{Dpif, DP_LOCAL_PORT};
use crate::ofp::syntax::print::{format_instructions, format_match, DEFAULT_PRIORITY};
use crate::ofproto::{Millis, Ofproto};

/// Every rule of every table, hidden rules (such as the fail-open `NORMAL` rule) included, one
/// per line: `[table_id=T, ]duration=Ds, n_packets=N, n_bytes=N, priority=P[,MATCH],actions=A`.
/// Tables go in order; within a table, higher priorities first.
pub fn dump_flows<D: Dpif>(ofproto: &Ofproto<D>, now: Millis) -> String {
    let mut out = String::new();
    for table in 0..=u8::MAX {
        let mut rules: Vec<_> = ofproto.rules_in_table(table).collect();
        rules.sort_by_key(|r| (std::cmp::Reverse(r.priority), r.id));
        for rule in rules {
            if table != 0 {
                let _ = write!(out, "table_id={table}, ");
            }
            let _ = write!(
                out,
                "duration={}s, n_packets={}, n_bytes={}, priority={}",
                now.saturating_sub(rule.created) / 1000,
                rule.packet_count,
                rule.byte_count,
                rule.priority
            );
            // The match alone: the priority printed above may exceed OpenFlow's 16 bits.
            let fields = format_match(&rule.match_, DEFAULT_PRIORITY);
            if !fields.is_empty() {
                out.push(',');
                out.push_str(&fields);
            }
            let _ = writeln!(out, ",actions={}", format_instructions(&rule.instructions));
        }
    }
    out
}

/// Counts of the switch's objects on one line, `name:count` sorted by name.
pub fn memory(counts: &[(&str, usize)]) -> String {
    let mut counts = counts.to_vec();
    counts.sort_unstable();
    let line: Vec<String> = counts.iter().map(|(k, v)| format!("{k}:{v}")).collect();
    format!("{}\n", line.join(" "))
}

/// The datapath with its lookup counters, then the bridge and its ports as
/// `NAME OFPORT/DPPORT: (TYPE)`, sorted by name.
pub fn dpif_show(ofproto: &Ofproto<NetdevBridge>) -> String {
    let bridge = ofproto.dpif();
    let (mut hits, mut missed) = (0, 0);
    for pmd in 0..bridge.netdev.pmds().len() {
        let s = bridge.netdev.pmd_stats(pmd);
        hits += s.emc_hits + s.megaflow_hits;
        missed += s.misses;
    }
    let mut out = format!("netdev@ferrovs: hit:{hits} missed:{missed}\n");
    let _ = writeln!(out, "  {}:", bridge.name());
    let mut ports: Vec<_> = ofproto.ports().collect();
    ports.sort_by(|a, b| a.desc.name.cmp(&b.desc.name));
    for port in ports {
        let kind = if port.dp_port == DP_LOCAL_PORT {
            "internal".to_string()
        } else {
            let device = bridge
                .ports
                .iter()
                .find(|p| p.dp_port == port.dp_port)
                .map_or("?", |p| p.port.name());
            format!("dpdk: {device}")
        };
        // Reserved ports (LOCAL) in their 16-bit form, as OpenFlow 1.0 and OVS print them.
        let ofp_port = if port.desc.port_no >= 0xffff_ff00 {
            port.desc.port_no - 0xffff_0000
        } else {
            port.desc.port_no
        };
        let _ = writeln!(
            out,
            "    {} {ofp_port}/{}: ({kind})",
            port.desc.name, port.dp_port
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dpif::memory::MemDpif;
    use crate::ofp::flow::OFPFC_ADD;
    use crate::ofp::port::OFPP_NORMAL;
    use crate::ofp::syntax::parse::parse_flow;
    use crate::ofp::{Action, Instruction, Message, OxmMatch, Version};
    use crate::ofproto::{ConnInfo, OfprotoConfig};

    #[test]
    fn dump_flows_shows_hidden_rules_and_every_table() {
        let mut ofproto = Ofproto::new(MemDpif::new("br0"), OfprotoConfig::default(), 0);
        let conn = ConnInfo::new(1, Version::V1_3);
        for text in [
            "table=2,priority=5,tcp,tp_dst=80,actions=output:1",
            "priority=100,in_port=1,actions=drop",
            "actions=CONTROLLER:65535",
        ] {
            let fm = parse_flow(text, Version::V1_3, OFPFC_ADD).unwrap();
            let out = ofproto.handle(&conn, &Message::FlowMod(fm), 1_000);
            assert!(out.replies.is_ok(), "{text}");
        }
        let normal = Instruction::ApplyActions(vec![Action::Output {
            port: OFPP_NORMAL,
            max_len: 0,
        }]);
        ofproto
            .add_internal_flow(0, &OxmMatch::default(), 0xf0_f0f0, vec![normal], 2_000)
            .unwrap();
        assert_eq!(
            dump_flows(&ofproto, 12_500),
            "duration=10s, n_packets=0, n_bytes=0, priority=15790320,actions=NORMAL\n\
             duration=11s, n_packets=0, n_bytes=0, priority=32768,actions=CONTROLLER:65535\n\
             duration=11s, n_packets=0, n_bytes=0, priority=100,in_port=1,actions=drop\n\
             table_id=2, duration=11s, n_packets=0, n_bytes=0, priority=5,tcp,tp_dst=80,actions=output:1\n"
        );
    }

    #[test]
    fn memory_is_sorted_name_count_pairs() {
        assert_eq!(
            memory(&[("rules", 3), ("fdb", 0), ("ofconns", 12)]),
            "fdb:0 ofconns:12 rules:3\n"
        );
    }
}
