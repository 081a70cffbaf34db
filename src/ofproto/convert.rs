//! Match conversion between the OpenFlow 1.0 fixed match and OXM, for replies and events
//! sent on a connection whose version differs from the request that created a rule.

use crate::ofp::match10::{self, Match10, OFP_VLAN_NONE};
use crate::ofp::oxm::Field;
use crate::ofp::{port, Match, OxmMatch};

/// `m` in the form `version` carries; `None` when OpenFlow 1.0 cannot express it.
pub fn match_for(m: &Match, version: crate::ofp::Version) -> Option<Match> {
    let v10 = version == crate::ofp::Version::V1_0;
    match (m, v10) {
        (Match::Of10(_), true) | (Match::Oxm(_), false) => Some(m.clone()),
        (Match::Of10(x), false) => Some(Match::Oxm(x.to_oxm())),
        (Match::Oxm(x), true) => oxm_to_match10(x).map(Match::Of10),
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
    use crate::ofp::Version;

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
