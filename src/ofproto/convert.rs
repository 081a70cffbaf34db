//! Match and action conversion between OpenFlow 1.0 and 1.1+, for replies and events
//! sent on a connection whose version differs from the request that created a rule.
//! A rule added with `mod_nw_dst` over 1.0 holds `SetNwDst`, which 1.3 cannot encode;
//! dumped over 1.3 it must read as `set_field:…->ip_dst` (and the reverse), or the
//! reply encoder would have to leave the rule out.

use crate::ofp::match10::{self, Match10, OFP_VLAN_NONE};
use crate::ofp::oxm::{Field, MatchEntry};
use crate::ofp::{port, Action, Instruction, Match, OxmMatch, Version};

/// `m` in the form `version` carries; `None` when OpenFlow 1.0 cannot express it.
pub fn match_for(m: &Match, version: crate::ofp::Version) -> Option<Match> {
    let v10 = version == crate::ofp::Version::V1_0;
    match (m, v10) {
        (Match::Of10(_), true) | (Match::Oxm(_), false) => Some(m.clone()),
        (Match::Of10(x), false) => Some(Match::Oxm(x.to_oxm())),
        (Match::Oxm(x), true) => oxm_to_match10(x).map(Match::Of10),
    }
}

/// `instructions` with every action in a form `version` can encode (see `actions_for`).
pub fn instructions_for(
    instructions: &[Instruction],
    version: Version,
    m: &Match,
) -> Vec<Instruction> {
    instructions
        .iter()
        .map(|i| match i {
            Instruction::ApplyActions(a) => Instruction::ApplyActions(actions_for(a, version, m)),
            Instruction::WriteActions(a) => Instruction::WriteActions(actions_for(a, version, m)),
            other => other.clone(),
        })
        .collect()
}

/// `actions` rewritten into the vocabulary of `version`: 1.0's fixed set-actions become
/// set-fields for 1.1+, and set-fields become 1.0 actions (or `NXAST_REG_LOAD2`, which any
/// version carries). `m` is the rule's match: it says whether `mod_tp_src` means TCP or UDP.
pub fn actions_for(actions: &[Action], version: Version, m: &Match) -> Vec<Action> {
    let mut out = Vec::with_capacity(actions.len());
    if version == Version::V1_0 {
        for (i, a) in actions.iter().enumerate() {
            match a {
                // 1.0 pushes a tag as a side effect of setting the VLAN id or PCP.
                Action::PushVlan(0x8100)
                    if matches!(
                        actions.get(i + 1),
                        Some(Action::SetField(e)) if matches!(e.field.canonical(), Field::VlanVid | Field::VlanPcp)
                    ) => {}
                Action::PopVlan => out.push(Action::StripVlan),
                Action::SetField(e) if e.mask.is_none() => out.push(set_field_to_v10(e)),
                Action::SetQueue(q) => out.push(Action::NxSetQueue(*q)),
                other => out.push(other.clone()),
            }
        }
        return out;
    }
    let proto = m
        .to_oxm()
        .entries
        .iter()
        .find(|e| e.field.canonical() == Field::IpProto)
        .map(|e| e.value_u64() as u8);
    let tp = |tcp: Field, udp: Field, sctp: Field| match proto {
        Some(17) => udp,
        Some(132) => sctp,
        _ => tcp,
    };
    for a in actions {
        let set = |f: Field, v: &[u8]| Action::SetField(MatchEntry::exact(f, v));
        match a {
            Action::SetVlanVid(v) => out.push(set(Field::VlanVid, &(v | 0x1000).to_be_bytes())),
            Action::SetVlanPcp(p) => out.push(set(Field::VlanPcp, &[*p])),
            Action::StripVlan => out.push(Action::PopVlan),
            Action::SetDlSrc(mac) => out.push(set(Field::EthSrc, mac)),
            Action::SetDlDst(mac) => out.push(set(Field::EthDst, mac)),
            Action::SetNwSrc(ip) => out.push(set(Field::Ipv4Src, ip)),
            Action::SetNwDst(ip) => out.push(set(Field::Ipv4Dst, ip)),
            Action::SetNwTos(tos) => out.push(set(Field::IpDscp, &[tos >> 2])),
            Action::SetTpSrc(p) => out.push(set(
                tp(Field::TcpSrc, Field::UdpSrc, Field::SctpSrc),
                &p.to_be_bytes(),
            )),
            Action::SetTpDst(p) => out.push(set(
                tp(Field::TcpDst, Field::UdpDst, Field::SctpDst),
                &p.to_be_bytes(),
            )),
            Action::Enqueue { port, queue_id } => {
                out.push(Action::SetQueue(*queue_id));
                out.push(Action::Output {
                    port: *port,
                    max_len: 0,
                });
            }
            other => out.push(other.clone()),
        }
    }
    out
}

/// One exact set-field as the OpenFlow 1.0 action that does the same, where there is one.
fn set_field_to_v10(e: &MatchEntry) -> Action {
    let v = e.value();
    let mac = |v: &[u8]| -> [u8; 6] {
        let mut m = [0u8; 6];
        m.copy_from_slice(&v[..6]);
        m
    };
    let ip = |v: &[u8]| -> [u8; 4] {
        let mut m = [0u8; 4];
        m.copy_from_slice(&v[..4]);
        m
    };
    let n = e.value_u64();
    match e.field.canonical() {
        Field::EthSrc => Action::SetDlSrc(mac(v)),
        Field::EthDst => Action::SetDlDst(mac(v)),
        Field::Ipv4Src => Action::SetNwSrc(ip(v)),
        Field::Ipv4Dst => Action::SetNwDst(ip(v)),
        Field::VlanVid if e.field == Field::VlanVid => Action::SetVlanVid((n & 0xfff) as u16),
        Field::VlanPcp => Action::SetVlanPcp(n as u8),
        Field::IpDscp if e.field == Field::IpDscp => Action::SetNwTos((n as u8) << 2),
        Field::TcpSrc | Field::UdpSrc | Field::SctpSrc => Action::SetTpSrc(n as u16),
        Field::TcpDst | Field::UdpDst | Field::SctpDst => Action::SetTpDst(n as u16),
        _ => Action::RegLoad2(*e),
    }
}

/// The OpenFlow 1.0 match for an OXM match made only of fields 1.0 has.
pub fn oxm_to_match10(m: &OxmMatch) -> Option<Match10> {
    let mut r = Match10::default();
    let mut w = match10::OFPFW_ALL;
    for e in &m.entries {
        let v = e.value_u64();
        let exact = e.is_exact();
        match e.field.canonical() {
            Field::InPort if exact => {
                r.in_port = port::to_of10(v as u32)?;
                w &= !match10::OFPFW_IN_PORT;
            }
            Field::EthSrc if exact => {
                r.dl_src.copy_from_slice(e.value());
                w &= !match10::OFPFW_DL_SRC;
            }
            Field::EthDst if exact => {
                r.dl_dst.copy_from_slice(e.value());
                w &= !match10::OFPFW_DL_DST;
            }
            Field::EthType => {
                r.dl_type = v as u16;
                w &= !match10::OFPFW_DL_TYPE;
            }
            Field::VlanVid if exact && e.field == Field::VlanVid => {
                r.dl_vlan = if v & 0x1000 == 0 {
                    OFP_VLAN_NONE
                } else {
                    (v & 0xfff) as u16
                };
                w &= !match10::OFPFW_DL_VLAN;
            }
            // "Some VLAN" is how 1.0 conversion encodes a PCP match without a VID.
            Field::VlanVid if e.mask_u64() == Some(0x1000) && v == 0x1000 => {}
            Field::VlanPcp => {
                r.dl_vlan_pcp = v as u8;
                w &= !match10::OFPFW_DL_VLAN_PCP;
            }
            Field::IpDscp => {
                r.nw_tos = (v as u8) << 2;
                w &= !match10::OFPFW_NW_TOS;
            }
            Field::IpProto | Field::ArpOp => {
                r.nw_proto = v as u8;
                w &= !match10::OFPFW_NW_PROTO;
            }
            f @ (Field::Ipv4Src | Field::Ipv4Dst | Field::ArpSpa | Field::ArpTpa) => {
                let mask = e.mask_u64().unwrap_or(0xffff_ffff) as u32;
                if mask.count_ones() != mask.leading_ones() {
                    return None;
                }
                let ignored = 32 - mask.count_ones();
                let addr: [u8; 4] = e.value().try_into().ok()?;
                let shift = if matches!(f, Field::Ipv4Src | Field::ArpSpa) {
                    r.nw_src = addr;
                    match10::OFPFW_NW_SRC_SHIFT
                } else {
                    r.nw_dst = addr;
                    match10::OFPFW_NW_DST_SHIFT
                };
                w = (w & !(0x3f << shift)) | (ignored << shift);
            }
            Field::TcpSrc | Field::UdpSrc | Field::SctpSrc | Field::Icmpv4Type if exact => {
                r.tp_src = v as u16;
                w &= !match10::OFPFW_TP_SRC;
            }
            Field::TcpDst | Field::UdpDst | Field::SctpDst | Field::Icmpv4Code if exact => {
                r.tp_dst = v as u16;
                w &= !match10::OFPFW_TP_DST;
            }
            _ => return None,
        }
    }
    r.wildcards = w;
    Some(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ofp::syntax::parse::parse_flow;

    /// A rule's actions as parsed in `from`, rewritten for `to`, must be what `to`'s own
    /// parser makes of `expect`.
    #[test]
    fn set_actions_cross_between_versions() {
        let actions = |text: &str, v: Version| {
            let f = parse_flow(text, v, 0).unwrap();
            let acts: Vec<Action> = f
                .instructions
                .iter()
                .flat_map(|i| match i {
                    Instruction::ApplyActions(a) => a.clone(),
                    _ => Vec::new(),
                })
                .collect();
            (acts, f.match_)
        };
        for (text, expect) in [
            (
                "udp,actions=mod_tp_src:5,mod_nw_tos:8,strip_vlan,mod_dl_dst:00:00:00:00:00:02,output:3",
                "udp,actions=set_field:5->udp_src,set_field:2->ip_dscp,pop_vlan,set_field:00:00:00:00:00:02->eth_dst,output:3",
            ),
            (
                "ip,actions=mod_nw_src:1.2.3.4,mod_vlan_pcp:3,mod_vlan_vid:7,mod_tp_dst:9",
                "ip,actions=set_field:1.2.3.4->ip_src,set_field:3->vlan_pcp,set_field:4103->vlan_vid,set_field:9->tcp_dst",
            ),
        ] {
            let (a10, m) = actions(text, Version::V1_0);
            let (a13, _) = actions(expect, Version::V1_3);
            assert_eq!(actions_for(&a10, Version::V1_3, &m), a13, "{text}");
            assert_eq!(actions_for(&a13, Version::V1_0, &m), a10, "{expect}");
        }
    }

    #[test]
    fn of10_matches_survive_the_trip_through_oxm() {
        for text in [
            "in_port=1,dl_vlan=5,dl_vlan_pcp=3,tcp,nw_src=10.0.0.0/8,nw_dst=1.2.3.4,tp_dst=80,actions=drop",
            "arp,nw_src=1.1.1.1,dl_src=00:01:02:03:04:05,actions=drop",
            "dl_vlan=0xffff,udp,nw_tos=8,tp_src=53,actions=drop",
            "actions=drop",
        ] {
            let Match::Of10(m10) = parse_flow(text, Version::V1_0, 0).unwrap().match_ else { panic!() };
            let back = oxm_to_match10(&m10.to_oxm()).unwrap();
            assert_eq!(back.to_oxm(), m10.to_oxm(), "{text}");
        }
    }

    #[test]
    fn oxm_only_matches_have_no_of10_form() {
        let Match::Oxm(m) = parse_flow("ipv6,ipv6_src=::1,actions=drop", Version::V1_3, 0)
            .unwrap()
            .match_
        else {
            panic!()
        };
        assert_eq!(match_for(&Match::Oxm(m.clone()), Version::V1_0), None);
        assert_eq!(
            match_for(&Match::Oxm(m.clone()), Version::V1_3),
            Some(Match::Oxm(m))
        );
    }
}
