//! The one place where the datapath's [`FlowKey`]/[`FlowMask`] and ofproto's OpenFlow
//! [`FlowFields`] meet.
//!
//! Vocabulary: a *packet field* is an OpenFlow field whose value comes from the packet
//! headers (it has a home in the `FlowKey`); a *pipeline field* (in_port as an OpenFlow
//! number, metadata, registers, tunnel id, …) lives only during translation and never
//! reaches a datapath mask. OpenFlow's VLAN slot holds the outer 802.1Q TCI with the CFI bit
//! meaning "a tag is present"; the key holds the tag raw, with a TPID that is 0 when there is
//! no tag.
//!
//! Invariant: `wc_to_mask` is a superset mapping: every OpenFlow bit a lookup examined pins
//! at least the key bits it was computed from, plus the prerequisites that make the mask a
//! valid ODP mask (eth_type under any L3 bit, ip_proto under any L4 bit).

use pmd::key::{FieldId as K, FlowKey, FlowMask};

use crate::ofp::oxm::Field;
use crate::ofproto::{ofp_port_of, FlowFields};

pub const ETH_TYPE_IP: u16 = 0x0800;
pub const ETH_TYPE_IPV6: u16 = 0x86dd;
pub const ETH_TYPE_ARP: u16 = 0x0806;
pub const ETH_TYPE_RARP: u16 = 0x8035;
pub const ETH_TYPE_MPLS: u16 = 0x8847;
pub const ETH_TYPE_MPLS_MCAST: u16 = 0x8848;
pub const ETH_TYPE_VLAN: u16 = 0x8100;
/// OpenFlow's "a VLAN tag is present" bit in the VLAN slot.
pub const VLAN_PRESENT: u16 = 0x1000;

/// True for fields that exist only in the pipeline, never in a datapath key.
pub fn is_pipeline_field(f: Field) -> bool {
    use Field as F;
    matches!(
        f,
        F::InPort
            | F::InPhyPort
            | F::Metadata
            | F::TunnelId
            | F::ActsetOutput
            | F::PacketType
            | F::NxTunSrc
            | F::NxTunDst
            | F::ConjId
            | F::CtState
            | F::CtZone
            | F::CtMark
    ) || (F::Reg0 <= f && f <= F::Reg15)
        || (F::Xreg0 <= f && f <= F::Xreg7)
}

pub fn is_ip(eth_type: u16) -> bool {
    eth_type == ETH_TYPE_IP || eth_type == ETH_TYPE_IPV6
}

pub fn is_mpls(eth_type: u16) -> bool {
    eth_type == ETH_TYPE_MPLS || eth_type == ETH_TYPE_MPLS_MCAST
}

fn u16b(v: u16) -> [u8; 2] {
    v.to_be_bytes()
}

/// The OpenFlow view of a packet: every packet field, and in_port as an OpenFlow number.
/// Transport fields of IP fragments read as 0 (OpenFlow's "normal" fragment handling).
pub fn fields_from_key(key: &FlowKey) -> FlowFields {
    let mut f = FlowFields::default();
    f.set_u64(Field::InPort, u64::from(ofp_port_of(key.in_port())));
    f.set(Field::EthDst, &key.eth_dst());
    f.set(Field::EthSrc, &key.eth_src());
    let et = key.eth_type();
    f.set(Field::EthType, &u16b(et));
    if key.vlan_outer_tpid() != 0 {
        let tci = (key.vlan_outer_tci() & !VLAN_PRESENT) | VLAN_PRESENT;
        f.set(Field::VlanVid, &u16b(tci));
    }
    f.set_u64(Field::PktMark, u64::from(key.pkt_mark()));
    f.set_u64(Field::DpHash, u64::from(key.dp_hash()));
    f.set_u64(Field::RecircId, u64::from(key.recirc_id()));
    if is_ip(et) {
        f.set(Field::IpDscp, &[key.ip_tos() >> 2]);
        f.set(Field::IpEcn, &[key.ip_tos() & 3]);
        f.set(Field::IpProto, &[key.ip_proto()]);
        f.set(Field::NxNwTtl, &[key.ip_ttl()]);
        f.set(Field::NxIpFrag, &[key.ip_frag()]);
        let v4 = et == ETH_TYPE_IP;
        if v4 {
            f.set(Field::Ipv4Src, &key.ipv4_src().octets());
            f.set(Field::Ipv4Dst, &key.ipv4_dst().octets());
        } else {
            f.set(Field::Ipv6Src, &key.ipv6_src().octets());
            f.set(Field::Ipv6Dst, &key.ipv6_dst().octets());
            f.set_u64(Field::Ipv6Flabel, u64::from(key.ipv6_label()));
        }
        if key.ip_frag() & 1 == 0 {
            let (s, d) = (key.tp_src(), key.tp_dst());
            match (key.ip_proto(), v4) {
                (6, _) => {
                    f.set(Field::TcpSrc, &u16b(s));
                    f.set(Field::TcpDst, &u16b(d));
                    f.set(Field::TcpFlags, &u16b(key.tcp_flags()));
                }
                (17, _) => {
                    f.set(Field::UdpSrc, &u16b(s));
                    f.set(Field::UdpDst, &u16b(d));
                }
                (132, _) => {
                    f.set(Field::SctpSrc, &u16b(s));
                    f.set(Field::SctpDst, &u16b(d));
                }
                (1, true) => {
                    f.set(Field::Icmpv4Type, &[s as u8]);
                    f.set(Field::Icmpv4Code, &[d as u8]);
                }
                (58, false) => {
                    f.set(Field::Icmpv6Type, &[s as u8]);
                    f.set(Field::Icmpv6Code, &[d as u8]);
                    if s == 135 || s == 136 {
                        f.set(Field::Ipv6NdTarget, &key.nd_target().octets());
                        f.set(Field::Ipv6NdSll, &key.nd_sll());
                        f.set(Field::Ipv6NdTll, &key.nd_tll());
                    }
                }
                _ => {}
            }
        }
    } else if et == ETH_TYPE_ARP || et == ETH_TYPE_RARP {
        f.set(Field::ArpOp, &u16b(key.arp_op()));
        f.set(Field::ArpSpa, &key.arp_spa().octets());
        f.set(Field::ArpTpa, &key.arp_tpa().octets());
        f.set(Field::ArpSha, &key.arp_sha());
        f.set(Field::ArpTha, &key.arp_tha());
    } else if is_mpls(et) {
        f.set_u64(Field::MplsLabel, u64::from(key.mpls_label()));
        f.set(Field::MplsTc, &[key.mpls_tc()]);
        f.set(Field::MplsBos, &[key.mpls_bos()]);
    }
    f
}

fn be(v: &[u8]) -> u128 {
    v.iter().fold(0u128, |a, &b| (a << 8) | u128::from(b))
}

/// Writes an OpenFlow packet field's value (`v`, big-endian, the field's width) into the
/// key. Returns false for fields the key cannot hold (pipeline fields, fragment bits).
pub fn store_in_key(key: &mut FlowKey, f: Field, v: &[u8]) -> bool {
    let x = be(v);
    let kf = match f {
        Field::EthDst => K::EthDst,
        Field::EthSrc => K::EthSrc,
        Field::EthType => K::EthType,
        Field::VlanVid => {
            let tci = x as u16;
            if tci & VLAN_PRESENT != 0 {
                if key.vlan_outer_tpid() == 0 {
                    key.set_vlan_outer_tpid(ETH_TYPE_VLAN);
                }
                let dei = key.vlan_outer_tci() & VLAN_PRESENT;
                key.set_vlan_outer_tci((tci & !VLAN_PRESENT) | dei);
            } else {
                key.set_vlan_outer_tpid(0);
                key.set_vlan_outer_tci(0);
            }
            return true;
        }
        Field::IpDscp => {
            key.set_ip_tos(((x as u8) << 2) | (key.ip_tos() & 3));
            return true;
        }
        Field::IpEcn => {
            key.set_ip_tos((key.ip_tos() & !3) | (x as u8 & 3));
            return true;
        }
        Field::IpProto => K::IpProto,
        Field::NxNwTtl => K::IpTtl,
        Field::Ipv4Src => K::Ipv4Src,
        Field::Ipv4Dst => K::Ipv4Dst,
        Field::Ipv6Src => K::Ipv6Src,
        Field::Ipv6Dst => K::Ipv6Dst,
        Field::Ipv6Flabel => K::Ipv6Label,
        Field::TcpSrc | Field::UdpSrc | Field::SctpSrc | Field::Icmpv4Type | Field::Icmpv6Type => {
            K::TpSrc
        }
        Field::TcpDst | Field::UdpDst | Field::SctpDst | Field::Icmpv4Code | Field::Icmpv6Code => {
            K::TpDst
        }
        Field::TcpFlags => K::TcpFlags,
        Field::ArpOp => K::ArpOp,
        Field::ArpSpa => K::ArpSpa,
        Field::ArpTpa => K::ArpTpa,
        Field::ArpSha => K::ArpSha,
        Field::ArpTha => K::ArpTha,
        Field::Ipv6NdTarget => K::NdTarget,
        Field::Ipv6NdSll => K::NdSll,
        Field::Ipv6NdTll => K::NdTll,
        Field::MplsLabel => K::MplsLabel,
        Field::MplsTc => K::MplsTc,
        Field::MplsBos => K::MplsBos,
        Field::PktMark => K::PktMark,
        Field::DpHash => K::DpHash,
        Field::RecircId => K::RecircId,
        _ => return false,
    };
    key.set(kf, x);
    true
}

fn or_field(mask: &mut FlowMask, f: K, bits: u128) {
    let old = mask.get(f);
    mask.set(f, old | bits);
}

/// Is OpenFlow field `f` part of packet `key` at all (its protocol is there)? An absent
/// field reads as 0 for every packet with the same ethertype and IP protocol.
fn present(key: &FlowKey, f: Field) -> bool {
    use Field as F;
    let et = key.eth_type();
    let l4 = |proto: u8| is_ip(et) && key.ip_proto() == proto && key.ip_frag() & 1 == 0;
    match f {
        F::IpDscp | F::IpEcn | F::IpProto | F::NxNwTtl | F::NxIpFrag => is_ip(et),
        F::Ipv4Src | F::Ipv4Dst => et == ETH_TYPE_IP,
        F::Ipv6Src | F::Ipv6Dst | F::Ipv6Flabel => et == ETH_TYPE_IPV6,
        F::ArpOp | F::ArpSpa | F::ArpTpa | F::ArpSha | F::ArpTha => {
            et == ETH_TYPE_ARP || et == ETH_TYPE_RARP
        }
        F::MplsLabel | F::MplsTc | F::MplsBos => is_mpls(et),
        F::TcpSrc | F::TcpDst | F::TcpFlags => l4(6),
        F::UdpSrc | F::UdpDst => l4(17),
        F::SctpSrc | F::SctpDst => l4(132),
        F::Icmpv4Type | F::Icmpv4Code => et == ETH_TYPE_IP && l4(1),
        F::Icmpv6Type | F::Icmpv6Code => et == ETH_TYPE_IPV6 && l4(58),
        _ => true,
    }
}

/// Fields that exist only under some ethertype or IP protocol, and whether they are L4.
const PROTOCOL_FIELDS: &[(Field, bool)] = &[
    (Field::IpDscp, false),
    (Field::IpEcn, false),
    (Field::IpProto, false),
    (Field::NxNwTtl, false),
    (Field::NxIpFrag, false),
    (Field::Ipv4Src, false),
    (Field::Ipv4Dst, false),
    (Field::Ipv6Src, false),
    (Field::Ipv6Dst, false),
    (Field::Ipv6Flabel, false),
    (Field::ArpOp, false),
    (Field::ArpSpa, false),
    (Field::ArpTpa, false),
    (Field::ArpSha, false),
    (Field::ArpTha, false),
    (Field::MplsLabel, false),
    (Field::MplsTc, false),
    (Field::MplsBos, false),
    (Field::TcpSrc, true),
    (Field::TcpDst, true),
    (Field::TcpFlags, true),
    (Field::UdpSrc, true),
    (Field::UdpDst, true),
    (Field::SctpSrc, true),
    (Field::SctpDst, true),
    (Field::Icmpv4Type, true),
    (Field::Icmpv4Code, true),
    (Field::Icmpv6Type, true),
    (Field::Icmpv6Code, true),
];

/// The datapath mask for OpenFlow wildcards `wc` (bits examined) of packet `key`, with
/// ODP prerequisites. Bits of fields the packet does not have (an IPv4 address of an ARP
/// packet, a TCP port of a UDP packet) are left out: with the ethertype, IP protocol and
/// fragment bits pinned instead, every packet of the megaflow reads them as 0 too, and the
/// mask stays one that ODP can print and parse back.
pub fn wc_to_mask(wc: &FlowFields, key: &FlowKey) -> FlowMask {
    let mut m = FlowMask::default();
    let mut any_absent = false;
    let mut any_absent_l4 = false;
    let mut cleaned: Option<FlowFields> = None;
    for &(f, l4) in PROTOCOL_FIELDS {
        if wc.get(f).iter().any(|&b| b != 0) && !present(key, f) {
            any_absent = true;
            any_absent_l4 |= l4;
            cleaned.get_or_insert_with(|| wc.clone()).set(f, &[]);
        }
    }
    if any_absent {
        pin_eth_type(&mut m);
        if any_absent_l4 && is_ip(key.eth_type()) {
            m.set_exact(K::IpProto);
            m.set_exact(K::IpFrag);
        }
    }
    let wc = cleaned.as_ref().unwrap_or(wc);
    let get = |f: Field| be(wc.get(f));
    let direct: &[(Field, K)] = &[
        (Field::EthDst, K::EthDst),
        (Field::EthSrc, K::EthSrc),
        (Field::IpProto, K::IpProto),
        (Field::NxNwTtl, K::IpTtl),
        (Field::NxIpFrag, K::IpFrag),
        (Field::Ipv4Src, K::Ipv4Src),
        (Field::Ipv4Dst, K::Ipv4Dst),
        (Field::Ipv6Src, K::Ipv6Src),
        (Field::Ipv6Dst, K::Ipv6Dst),
        (Field::Ipv6Flabel, K::Ipv6Label),
        (Field::TcpSrc, K::TpSrc),
        (Field::UdpSrc, K::TpSrc),
        (Field::SctpSrc, K::TpSrc),
        (Field::Icmpv4Type, K::TpSrc),
        (Field::Icmpv6Type, K::TpSrc),
        (Field::TcpDst, K::TpDst),
        (Field::UdpDst, K::TpDst),
        (Field::SctpDst, K::TpDst),
        (Field::Icmpv4Code, K::TpDst),
        (Field::Icmpv6Code, K::TpDst),
        (Field::TcpFlags, K::TcpFlags),
        (Field::ArpOp, K::ArpOp),
        (Field::ArpSpa, K::ArpSpa),
        (Field::ArpTpa, K::ArpTpa),
        (Field::ArpSha, K::ArpSha),
        (Field::ArpTha, K::ArpTha),
        (Field::Ipv6NdTarget, K::NdTarget),
        (Field::Ipv6NdSll, K::NdSll),
        (Field::Ipv6NdTll, K::NdTll),
        (Field::MplsLabel, K::MplsLabel),
        (Field::MplsTc, K::MplsTc),
        (Field::MplsBos, K::MplsBos),
        (Field::PktMark, K::PktMark),
        (Field::DpHash, K::DpHash),
        (Field::RecircId, K::RecircId),
    ];
    for &(of, k) in direct {
        let bits = get(of);
        if bits != 0 {
            or_field(&mut m, k, bits);
        }
    }
    if get(Field::InPort) != 0 {
        m.set_exact(K::InPort);
    }
    let dscp = get(Field::IpDscp) as u8;
    let ecn = get(Field::IpEcn) as u8;
    if dscp | ecn != 0 {
        or_field(&mut m, K::IpTos, u128::from((dscp << 2) | (ecn & 3)));
    }
    let vlan = get(Field::VlanVid) as u16;
    if vlan & VLAN_PRESENT != 0 {
        m.set_exact(K::VlanOuterTpid);
    }
    if vlan & !VLAN_PRESENT != 0 {
        or_field(&mut m, K::VlanOuterTci, u128::from(vlan & !VLAN_PRESENT));
    }
    if get(Field::EthType) != 0 {
        pin_eth_type(&mut m);
    }
    // Prerequisites, so the mask reads (and parses) as ODP.
    let l4 = [
        K::TpSrc,
        K::TpDst,
        K::TcpFlags,
        K::NdTarget,
        K::NdSll,
        K::NdTll,
    ];
    if l4.iter().any(|&f| m.get(f) != 0) {
        m.set_exact(K::IpProto);
    }
    let l3 = [
        K::IpProto,
        K::IpTtl,
        K::IpTos,
        K::IpFrag,
        K::Ipv4Src,
        K::Ipv4Dst,
        K::Ipv6Src,
        K::Ipv6Dst,
        K::Ipv6Label,
        K::ArpOp,
        K::ArpSpa,
        K::ArpTpa,
        K::ArpSha,
        K::ArpTha,
        K::MplsLabel,
        K::MplsTc,
        K::MplsBos,
    ];
    if l3.iter().any(|&f| m.get(f) != 0) {
        pin_eth_type(&mut m);
    }
    m
}

/// eth_type is the innermost ethertype, so pinning it also pins "no further tag" as ODP
/// reads it.
pub fn pin_eth_type(m: &mut FlowMask) {
    m.set_exact(K::EthType);
    m.set_exact(K::VlanOuterTpid);
}

#[cfg(test)]
mod tests {
    use super::*;
    use pmd::odp::{format_key, parse_key};

    fn key(text: &str) -> FlowKey {
        parse_key(text).unwrap_or_else(|e| panic!("{text}: {e}")).0
    }

    #[test]
    fn packet_fields_round_trip_through_the_key() {
        let k = key(
            "in_port(3),eth(src=02:00:00:00:00:01,dst=02:00:00:00:00:02),eth_type(0x8100),\
             vlan(vid=10,pcp=5),encap(eth_type(0x0800),\
             ipv4(src=10.0.0.1,dst=10.0.0.2,proto=6,tos=0xb9,ttl=64,frag=no),tcp(src=80,dst=1234))",
        );
        let f = fields_from_key(&k);
        assert_eq!(f.get_u64(Field::InPort), 3);
        assert_eq!(f.get_u64(Field::VlanVid), 0xb00a);
        assert_eq!(f.get_u64(Field::IpDscp), 0xb9 >> 2);
        assert_eq!(f.get_u64(Field::IpEcn), 1);
        assert_eq!(f.get_u64(Field::TcpSrc), 80);
        assert_eq!(f.get_u64(Field::UdpSrc), 0);
        let mut k2 = k;
        for (fld, v) in [
            (Field::TcpDst, &[0x01, 0xbb][..]),
            (Field::IpDscp, &[0x0a]),
            (Field::VlanVid, &[0x10, 0x14]),
            (Field::Ipv4Dst, &[192, 168, 0, 1]),
        ] {
            assert!(store_in_key(&mut k2, fld, v));
        }
        assert!(!store_in_key(&mut k2, Field::Reg0, &[0, 0, 0, 1]));
        assert_eq!(
            format_key(&k2, &FlowMask::exact()),
            "skb_mark(0),recirc_id(0),dp_hash(0),in_port(3),\
             eth(src=02:00:00:00:00:01,dst=02:00:00:00:00:02),eth_type(0x8100),\
             vlan(vid=20,pcp=0),encap(eth_type(0x0800),\
             ipv4(src=10.0.0.1,dst=192.168.0.1,proto=6,tos=0x29,ttl=64,frag=no),\
             tcp(src=80,dst=443),tcp_flags(0))"
        );
    }

    #[test]
    fn wildcards_map_to_key_bits_with_prerequisites() {
        let mut wc = FlowFields::default();
        wc.set(Field::UdpDst, &[0xff, 0xff]);
        wc.set(Field::Ipv4Src, &[255, 255, 0, 0]);
        wc.set(Field::Reg3, &[0xff; 4]);
        wc.set(Field::InPort, &[0xff; 4]);
        let k = key(
            "in_port(1),eth_type(0x0800),ipv4(src=10.1.2.3,dst=1.1.1.1,proto=17),udp(src=9,dst=53)",
        );
        let m = wc_to_mask(&wc, &k);
        assert_eq!(
            format_key(&k, &m),
            "in_port(1),eth_type(0x0800),ipv4(src=10.1.0.0/255.255.0.0,proto=17),udp(dst=53)"
        );
        let mut wc = FlowFields::default();
        wc.set(Field::VlanVid, &[0x1f, 0xff]);
        let m = wc_to_mask(&wc, &k);
        assert!(m.is_exact(K::VlanOuterTpid));
        assert_eq!(m.vlan_outer_tci(), 0x0fff);
    }
}
