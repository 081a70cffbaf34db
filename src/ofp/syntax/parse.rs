//! Parsing the `ovs-ofctl` flow syntax into flow-mods, for a given OpenFlow version.
//!
//! A flow is `key[=value]` items separated by commas or spaces, then `actions=` and the
//! action list (which runs to the end). Actions map onto what `ovs-ofctl` would send in the
//! version: `mod_dl_dst` is `SET_DL_DST` in 1.0 and a set-field in 1.3; `enqueue` becomes
//! set-queue, output, pop-queue in 1.3; and so on. Matches are encoded in Open vSwitch's
//! field order, so the bytes equal what `ovs-ofctl` sends (tests/ofp_syntax.rs).

use std::net::{Ipv4Addr, Ipv6Addr};

use super::fields::{Bytes, FlowFields};
use crate::ofp::action::{Action, Controller2Prop};
use crate::ofp::flow::{FlowMod, Match, NO_BUFFER, OFPG_ANY};
use crate::ofp::instruction::Instruction;
use crate::ofp::match10::{self, Match10};
use crate::ofp::oxm::{Field, MatchEntry, OxmMatch};
use crate::ofp::port;
use crate::ofp::Version;

/// What went wrong parsing flow text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyntaxError {
    #[error("unknown field or keyword `{0}`")]
    UnknownKey(String),
    #[error("bad value `{value}` for `{key}`")]
    BadValue { key: String, value: String },
    #[error("unknown action `{0}`")]
    UnknownAction(String),
    #[error("`{0}` cannot be expressed in this OpenFlow version")]
    Unsupported(String),
    #[error("unbalanced parentheses in `{0}`")]
    Parens(String),
}

fn bad(key: &str, value: &str) -> SyntaxError {
    SyntaxError::BadValue {
        key: key.to_string(),
        value: value.to_string(),
    }
}

/// A parsed flow, before encoding for a version.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FlowSpec {
    pub table_id: Option<u8>,
    pub priority: Option<u16>,
    pub cookie: Option<(u64, Option<u64>)>,
    pub idle_timeout: u16,
    pub hard_timeout: u16,
    pub importance: u16,
    pub flags: u16,
    pub out_port: Option<u32>,
    pub out_group: Option<u32>,
    pub fields: FlowFields,
    /// The text after `actions=`, if any.
    pub actions: Option<String>,
}

fn parse_u64(s: &str) -> Option<u64> {
    if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u64::from_str_radix(h, 16).ok()
    } else {
        s.parse().ok()
    }
}

fn num<T: TryFrom<u64>>(key: &str, s: &str) -> Result<T, SyntaxError> {
    parse_u64(s)
        .and_then(|v| T::try_from(v).ok())
        .ok_or_else(|| bad(key, s))
}

fn mac(key: &str, s: &str) -> Result<[u8; 6], SyntaxError> {
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() != 6 {
        return Err(bad(key, s));
    }
    let mut m = [0u8; 6];
    for (i, p) in parts.iter().enumerate() {
        m[i] = u8::from_str_radix(p, 16).map_err(|_| bad(key, s))?;
    }
    Ok(m)
}

/// Splits `a,b(c,d),e` at top-level commas.
fn split_top(s: &str) -> Result<Vec<&str>, SyntaxError> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth < 0 {
                    return Err(SyntaxError::Parens(s.to_string()));
                }
            }
            ',' if depth == 0 => {
                out.push(s[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err(SyntaxError::Parens(s.to_string()));
    }
    let last = s[start..].trim();
    if !last.is_empty() {
        out.push(last);
    }
    Ok(out)
}

fn set_masked(f: &mut FlowFields, field: Field, key: &str, s: &str) -> Result<(), SyntaxError> {
    let n = field.len();
    let (v, m) = match s.split_once('/') {
        Some((v, m)) => (v, Some(m)),
        None => (s, None),
    };
    let value = parse_u64(v).ok_or_else(|| bad(key, s))?;
    let mask = match m {
        Some(m) => parse_u64(m).ok_or_else(|| bad(key, s))?,
        None => u64::MAX,
    };
    let mask = if n < 8 {
        mask & ((1u64 << (8 * n)) - 1)
    } else {
        mask
    };
    f.set(
        field,
        Bytes::from_u64(value & mask, n),
        Bytes::from_u64(mask, n),
    );
    Ok(())
}

fn set_ipv4(f: &mut FlowFields, field: Field, key: &str, s: &str) -> Result<(), SyntaxError> {
    let (a, m) = match s.split_once('/') {
        Some((a, m)) => (a, Some(m)),
        None => (s, None),
    };
    let addr: Ipv4Addr = a.parse().map_err(|_| bad(key, s))?;
    let mask = match m {
        None => u32::MAX,
        Some(m) => match m.parse::<u32>() {
            Ok(0) => 0,
            Ok(n) if n <= 32 => u32::MAX << (32 - n),
            _ => u32::from(m.parse::<Ipv4Addr>().map_err(|_| bad(key, s))?),
        },
    };
    if mask == 0 {
        return Ok(());
    }
    f.set(
        field,
        Bytes::from_u64(u64::from(u32::from(addr) & mask), 4),
        Bytes::from_u64(u64::from(mask), 4),
    );
    Ok(())
}

fn set_ipv6(f: &mut FlowFields, field: Field, key: &str, s: &str) -> Result<(), SyntaxError> {
    let (a, m) = match s.split_once('/') {
        Some((a, m)) => (a, Some(m)),
        None => (s, None),
    };
    let addr: Ipv6Addr = a.parse().map_err(|_| bad(key, s))?;
    let mask: u128 = match m {
        None => u128::MAX,
        Some(m) => match m.parse::<u32>() {
            Ok(0) => 0,
            Ok(n) if n <= 128 => u128::MAX << (128 - n),
            _ => u128::from(m.parse::<Ipv6Addr>().map_err(|_| bad(key, s))?),
        },
    };
    let v = u128::from(addr) & mask;
    f.set(
        field,
        Bytes::new(&v.to_be_bytes()),
        Bytes::new(&mask.to_be_bytes()),
    );
    Ok(())
}

fn set_mac(f: &mut FlowFields, field: Field, key: &str, s: &str) -> Result<(), SyntaxError> {
    let (a, m) = match s.split_once('/') {
        Some((a, m)) => (mac(key, a)?, mac(key, m)?),
        None => (mac(key, s)?, [0xff; 6]),
    };
    let v: Vec<u8> = a.iter().zip(m).map(|(x, y)| x & y).collect();
    f.set(field, Bytes::new(&v), Bytes::new(&m));
    Ok(())
}

fn set_flags(
    f: &mut FlowFields,
    field: Field,
    key: &str,
    s: &str,
    names: &[&str],
) -> Result<(), SyntaxError> {
    if !s.starts_with('+') && !s.starts_with('-') {
        return set_masked(f, field, key, s);
    }
    let (mut v, mut m) = (0u64, 0u64);
    let mut rest = s;
    while !rest.is_empty() {
        let sign = rest.as_bytes()[0];
        rest = &rest[1..];
        let end = rest.find(['+', '-']).unwrap_or(rest.len());
        let name = &rest[..end];
        rest = &rest[end..];
        let bit = names
            .iter()
            .position(|n| *n == name)
            .ok_or_else(|| bad(key, s))?;
        m |= 1 << bit;
        if sign == b'+' {
            v |= 1 << bit;
        }
    }
    let n = field.len();
    f.set(field, Bytes::from_u64(v, n), Bytes::from_u64(m, n));
    Ok(())
}

fn shortcut(f: &mut FlowFields, eth: u16, proto: Option<u8>) {
    f.set_u64(Field::EthType, u64::from(eth));
    if let Some(p) = proto {
        f.set_u64(Field::IpProto, u64::from(p));
    }
}

const CT_STATE: [&str; 8] = ["new", "est", "rel", "rpl", "inv", "trk", "snat", "dnat"];
const TCP_FLAGS: [&str; 9] = ["fin", "syn", "rst", "psh", "ack", "urg", "ece", "cwr", "ns"];

/// Parses flow text (`ovs-ofctl add-flow` syntax) into a [`FlowSpec`].
pub fn parse_spec(text: &str) -> Result<FlowSpec, SyntaxError> {
    let mut spec = FlowSpec::default();
    let (head, actions) = match text.find("actions=") {
        Some(i) => (&text[..i], Some(text[i + 8..].trim().to_string())),
        None => (text, None),
    };
    spec.actions = actions;
    // Port-dependent fields wait until the protocol is known: `tp_dst=80,tcp` is legal.
    let mut deferred: Vec<(String, String)> = Vec::new();
    for item in head
        .split([',', ' ', '\t'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let (key, value) = match item.split_once('=') {
            Some((k, v)) => (k.trim(), v.trim()),
            None => (item, ""),
        };
        let f = &mut spec.fields;
        match key {
            "ip" => shortcut(f, 0x0800, None),
            "ipv6" => shortcut(f, 0x86dd, None),
            "icmp" => shortcut(f, 0x0800, Some(1)),
            "igmp" => shortcut(f, 0x0800, Some(2)),
            "tcp" => shortcut(f, 0x0800, Some(6)),
            "udp" => shortcut(f, 0x0800, Some(17)),
            "sctp" => shortcut(f, 0x0800, Some(132)),
            "icmp6" => shortcut(f, 0x86dd, Some(58)),
            "tcp6" => shortcut(f, 0x86dd, Some(6)),
            "udp6" => shortcut(f, 0x86dd, Some(17)),
            "sctp6" => shortcut(f, 0x86dd, Some(132)),
            "arp" => shortcut(f, 0x0806, None),
            "rarp" => shortcut(f, 0x8035, None),
            "mpls" => shortcut(f, 0x8847, None),
            "mplsm" => shortcut(f, 0x8848, None),
            "table" => spec.table_id = Some(num(key, value)?),
            "priority" => spec.priority = Some(num(key, value)?),
            "cookie" => {
                let (v, m) = match value.split_once('/') {
                    Some((v, m)) => {
                        let m = if m == "-1" { u64::MAX } else { num(key, m)? };
                        (num(key, v)?, Some(m))
                    }
                    None => (num(key, value)?, None),
                };
                spec.cookie = Some((v, m));
            }
            "idle_timeout" => spec.idle_timeout = num(key, value)?,
            "hard_timeout" => spec.hard_timeout = num(key, value)?,
            "importance" => spec.importance = num(key, value)?,
            "send_flow_rem" => spec.flags |= 1,
            "check_overlap" => spec.flags |= 2,
            "reset_counts" => spec.flags |= 4,
            "no_packet_counts" => spec.flags |= 8,
            "no_byte_counts" => spec.flags |= 16,
            "out_port" => spec.out_port = Some(port::parse(value).ok_or_else(|| bad(key, value))?),
            "out_group" => spec.out_group = Some(num(key, value)?),
            "in_port" => {
                let p = port::parse(value).ok_or_else(|| bad(key, value))?;
                f.set_u64(Field::InPort, u64::from(p));
            }
            "dl_src" | "eth_src" => set_mac(f, Field::EthSrc, key, value)?,
            "dl_dst" | "eth_dst" => set_mac(f, Field::EthDst, key, value)?,
            "dl_type" | "eth_type" => set_masked(f, Field::EthType, key, value)?,
            "dl_vlan" => {
                let v: u16 = num(key, value)?;
                if v == 0xffff {
                    f.vlan_tci = Some((0, 0xffff));
                } else {
                    let (t, m) = f.vlan_tci.unwrap_or((0, 0));
                    f.vlan_tci = Some(((t & 0xe000) | 0x1000 | (v & 0xfff), m | 0x1fff));
                }
            }
            "dl_vlan_pcp" => {
                let p: u16 = num(key, value)?;
                let (t, m) = f.vlan_tci.unwrap_or((0, 0));
                f.vlan_tci = Some(((t & 0x0fff) | 0x1000 | (p << 13), m | 0xf000));
            }
            "vlan_tci" => {
                let (v, m) = match value.split_once('/') {
                    Some((v, m)) => (num::<u16>(key, v)?, num::<u16>(key, m)?),
                    None => (num::<u16>(key, value)?, 0xffff),
                };
                f.vlan_tci = Some((v & m, m));
            }
            "nw_src" | "ip_src" => deferred.push(("nw_src".into(), value.into())),
            "nw_dst" | "ip_dst" => deferred.push(("nw_dst".into(), value.into())),
            "nw_proto" | "ip_proto" => deferred.push(("nw_proto".into(), value.into())),
            "nw_tos" => {
                let v: u8 = num(key, value)?;
                f.set(Field::IpDscp, Bytes::new(&[v & 0xfc]), Bytes::new(&[0xfc]));
            }
            "ip_dscp" => {
                let v: u8 = num(key, value)?;
                f.set(Field::IpDscp, Bytes::new(&[v << 2]), Bytes::new(&[0xfc]));
            }
            "nw_ecn" | "ip_ecn" => set_masked(f, Field::IpEcn, key, value)?,
            "nw_ttl" => set_masked(f, Field::NxNwTtl, key, value)?,
            "nw_frag" | "ip_frag" => {
                let (v, m) = match value {
                    "no" => (0, 1),
                    "yes" => (1, 1),
                    "first" => (1, 3),
                    "later" => (3, 3),
                    "not_later" => (0, 2),
                    _ => return Err(bad(key, value)),
                };
                f.set(Field::NxIpFrag, Bytes::new(&[v]), Bytes::new(&[m]));
            }
            "tp_src" | "tp_dst" | "tcp_src" | "tcp_dst" | "udp_src" | "udp_dst" | "sctp_src"
            | "sctp_dst" | "icmp_type" | "icmp_code" | "icmpv6_type" | "icmpv6_code" | "arp_op"
            | "arp_spa" | "arp_tpa" | "nd_target" | "nd_sll" | "nd_tll" => {
                deferred.push((key.into(), value.into()))
            }
            "arp_sha" => set_mac(f, Field::ArpSha, key, value)?,
            "arp_tha" => set_mac(f, Field::ArpTha, key, value)?,
            "ipv6_src" => set_ipv6(f, Field::Ipv6Src, key, value)?,
            "ipv6_dst" => set_ipv6(f, Field::Ipv6Dst, key, value)?,
            "ipv6_label" => set_masked(f, Field::Ipv6Flabel, key, value)?,
            "mpls_label" => set_masked(f, Field::MplsLabel, key, value)?,
            "mpls_tc" => set_masked(f, Field::MplsTc, key, value)?,
            "mpls_bos" => set_masked(f, Field::MplsBos, key, value)?,
            "metadata" => set_masked(f, Field::Metadata, key, value)?,
            "tun_id" | "tunnel_id" => set_masked(f, Field::TunnelId, key, value)?,
            "tun_src" => set_ipv4(f, Field::NxTunSrc, key, value)?,
            "tun_dst" => set_ipv4(f, Field::NxTunDst, key, value)?,
            "pkt_mark" => set_masked(f, Field::PktMark, key, value)?,
            "conj_id" => set_masked(f, Field::ConjId, key, value)?,
            "recirc_id" => set_masked(f, Field::RecircId, key, value)?,
            "dp_hash" => set_masked(f, Field::DpHash, key, value)?,
            "ct_state" => set_flags(f, Field::CtState, key, value, &CT_STATE)?,
            "ct_zone" => set_masked(f, Field::CtZone, key, value)?,
            "ct_mark" => set_masked(f, Field::CtMark, key, value)?,
            "tcp_flags" => deferred.push((key.into(), value.into())),
            k if k.starts_with("reg") => {
                let n: u8 = k[3..]
                    .parse()
                    .map_err(|_| SyntaxError::UnknownKey(k.into()))?;
                let r = Field::reg(n).ok_or_else(|| SyntaxError::UnknownKey(k.into()))?;
                set_masked(f, r, key, value)?;
            }
            k if k.starts_with("xreg") => {
                let n: u8 = k[4..]
                    .parse()
                    .map_err(|_| SyntaxError::UnknownKey(k.into()))?;
                if n >= 8 {
                    return Err(SyntaxError::UnknownKey(k.into()));
                }
                let mut tmp = FlowFields::default();
                set_masked(&mut tmp, Field::Metadata, key, value)?;
                if let Some(m) = tmp.get(Field::Metadata) {
                    let (v, mk) = (m.value.u64(), m.mask.u64());
                    for (i, shift) in [(2 * n, 32), (2 * n + 1, 0)] {
                        if let Some(r) = Field::reg(i) {
                            f.set(
                                r,
                                Bytes::from_u64((v >> shift) & 0xffff_ffff, 4),
                                Bytes::from_u64((mk >> shift) & 0xffff_ffff, 4),
                            );
                        }
                    }
                }
            }
            k => return Err(SyntaxError::UnknownKey(k.to_string())),
        }
    }
    let f = &mut spec.fields;
    let arp = matches!(f.eth_type(), Some(0x0806) | Some(0x8035));
    let v6 = f.eth_type() == Some(0x86dd);
    for (key, value) in &deferred {
        let (key, value) = (key.as_str(), value.as_str());
        let proto = f.ip_proto();
        match key {
            "nw_src" => set_ipv4(
                f,
                if arp { Field::ArpSpa } else { Field::Ipv4Src },
                key,
                value,
            )?,
            "nw_dst" => set_ipv4(
                f,
                if arp { Field::ArpTpa } else { Field::Ipv4Dst },
                key,
                value,
            )?,
            "arp_spa" => set_ipv4(f, Field::ArpSpa, key, value)?,
            "arp_tpa" => set_ipv4(f, Field::ArpTpa, key, value)?,
            "nw_proto" if arp => set_masked(f, Field::ArpOp, key, value)?,
            "nw_proto" => set_masked(f, Field::IpProto, key, value)?,
            "arp_op" => set_masked(f, Field::ArpOp, key, value)?,
            "nd_target" => set_ipv6(f, Field::Ipv6NdTarget, key, value)?,
            "nd_sll" => set_mac(f, Field::Ipv6NdSll, key, value)?,
            "nd_tll" => set_mac(f, Field::Ipv6NdTll, key, value)?,
            "icmp_type" | "icmpv6_type" => {
                let fl = if v6 || key == "icmpv6_type" {
                    Field::Icmpv6Type
                } else {
                    Field::Icmpv4Type
                };
                set_masked(f, fl, key, value)?
            }
            "icmp_code" | "icmpv6_code" => {
                let fl = if v6 || key == "icmpv6_code" {
                    Field::Icmpv6Code
                } else {
                    Field::Icmpv4Code
                };
                set_masked(f, fl, key, value)?
            }
            "tcp_flags" => set_flags(f, Field::TcpFlags, key, value, &TCP_FLAGS)?,
            _ => {
                let src = key.ends_with("_src");
                let fl = match (key, proto) {
                    ("tcp_src" | "tcp_dst", _) | (_, Some(6)) => {
                        if src {
                            Field::TcpSrc
                        } else {
                            Field::TcpDst
                        }
                    }
                    ("udp_src" | "udp_dst", _) | (_, Some(17)) => {
                        if src {
                            Field::UdpSrc
                        } else {
                            Field::UdpDst
                        }
                    }
                    ("sctp_src" | "sctp_dst", _) | (_, Some(132)) => {
                        if src {
                            Field::SctpSrc
                        } else {
                            Field::SctpDst
                        }
                    }
                    (_, Some(1)) => {
                        if src {
                            Field::Icmpv4Type
                        } else {
                            Field::Icmpv4Code
                        }
                    }
                    (_, Some(58)) => {
                        if src {
                            Field::Icmpv6Type
                        } else {
                            Field::Icmpv6Code
                        }
                    }
                    _ => {
                        return Err(SyntaxError::Unsupported(format!(
                            "{key} without a protocol"
                        )))
                    }
                };
                set_masked(f, fl, key, value)?
            }
        }
    }
    Ok(spec)
}

/// OVS's order of match fields on the wire (nx_put_raw), by canonical field.
const OXM_ORDER: &[Field] = &[
    Field::InPort,
    Field::EthSrc,
    Field::EthDst,
    Field::EthType,
    Field::VlanVid,
    Field::MplsLabel,
    Field::MplsTc,
    Field::MplsBos,
    Field::Ipv4Src,
    Field::Ipv4Dst,
    Field::Ipv6Src,
    Field::Ipv6Dst,
    Field::Ipv6Flabel,
    Field::NxIpFrag,
    Field::IpDscp,
    Field::IpEcn,
    Field::NxNwTtl,
    Field::IpProto,
    Field::TcpSrc,
    Field::TcpDst,
    Field::TcpFlags,
    Field::UdpSrc,
    Field::UdpDst,
    Field::SctpSrc,
    Field::SctpDst,
    Field::Icmpv4Type,
    Field::Icmpv4Code,
    Field::Icmpv6Type,
    Field::Icmpv6Code,
    Field::Ipv6NdTarget,
    Field::Ipv6NdSll,
    Field::Ipv6NdTll,
    Field::ArpOp,
    Field::ArpSpa,
    Field::ArpTpa,
    Field::ArpSha,
    Field::ArpTha,
    Field::TunnelId,
    Field::NxTunSrc,
    Field::NxTunDst,
];

const LATE_ORDER: &[Field] = &[
    Field::PktMark,
    Field::CtState,
    Field::CtZone,
    Field::CtMark,
    Field::ConjId,
    Field::RecircId,
    Field::DpHash,
    Field::Metadata,
];

fn entry(field: Field, m: &super::fields::FieldMatch) -> MatchEntry {
    if m.mask.is_ones() {
        MatchEntry::exact(field, m.value.as_slice())
    } else {
        MatchEntry::masked(field, m.value.as_slice(), m.mask.as_slice())
    }
}

/// Encodes fields as OXM entries the way Open vSwitch orders and spells them.
pub fn fields_to_oxm(f: &FlowFields) -> OxmMatch {
    let mut out = OxmMatch::default();
    let mut push = |e: MatchEntry| out.entries.push(e);
    for &fl in OXM_ORDER {
        if fl == Field::VlanVid {
            if let Some((tci, mask)) = f.vlan_tci {
                let vid = tci & 0x1fff;
                let vmask = mask & 0x1fff;
                if vmask == 0x1fff {
                    push(MatchEntry::from_u64(Field::VlanVid, u64::from(vid)));
                } else if vmask != 0 {
                    push(MatchEntry::masked(
                        Field::VlanVid,
                        &vid.to_be_bytes(),
                        &vmask.to_be_bytes(),
                    ));
                }
                if vid != 0 && mask & 0xe000 != 0 {
                    push(MatchEntry::from_u64(Field::VlanPcp, u64::from(tci >> 13)));
                }
            }
            continue;
        }
        let Some(m) = f.get(fl) else { continue };
        match fl {
            Field::IpDscp => push(MatchEntry::from_u64(Field::IpDscp, m.value.u64() >> 2)),
            // Both fragment bits matched is an exact match of the (2-bit) field.
            Field::NxIpFrag if m.mask.u64() & 3 == 3 => {
                push(MatchEntry::from_u64(Field::NxIpFrag, m.value.u64() & 3))
            }
            Field::TcpFlags => {
                // OpenFlow 1.3 has no standard tcp_flags: OVS uses ONF's experimenter OXM.
                push(entry(Field::OnfTcpFlags, m))
            }
            _ => push(entry(fl, m)),
        }
    }
    for i in 0..16 {
        if let Some(r) = Field::reg(i) {
            if let Some(m) = f.get(r) {
                push(entry(r, m));
            }
        }
    }
    for &fl in LATE_ORDER {
        if let Some(m) = f.get(fl) {
            push(entry(fl, m));
        }
    }
    out
}

/// Encodes fields as an OpenFlow 1.0 match, or says why that is impossible.
pub fn fields_to_match10(f: &FlowFields) -> Result<Match10, SyntaxError> {
    let mut m = Match10 {
        wildcards: 0,
        ..Match10::default()
    };
    let mut wild = match10::OFPFW_IN_PORT
        | match10::OFPFW_DL_VLAN
        | match10::OFPFW_DL_SRC
        | match10::OFPFW_DL_DST
        | match10::OFPFW_DL_TYPE
        | match10::OFPFW_NW_PROTO
        | match10::OFPFW_TP_SRC
        | match10::OFPFW_TP_DST
        | match10::OFPFW_DL_VLAN_PCP
        | match10::OFPFW_NW_TOS;
    let mut nw_src_bits = 32;
    let mut nw_dst_bits = 32;
    for (fl, fm) in &f.fields {
        let exact = fm.mask.is_ones();
        let v = fm.value.u64();
        let need_exact = |name: &str| {
            if exact {
                Ok(())
            } else {
                Err(SyntaxError::Unsupported(format!(
                    "masked {name} in OpenFlow 1.0"
                )))
            }
        };
        match fl {
            Field::InPort => {
                m.in_port = port::to_of10(v as u32)
                    .ok_or_else(|| SyntaxError::Unsupported("in_port".into()))?;
                wild &= !match10::OFPFW_IN_PORT;
            }
            Field::EthSrc => {
                need_exact("dl_src")?;
                m.dl_src.copy_from_slice(fm.value.as_slice());
                wild &= !match10::OFPFW_DL_SRC;
            }
            Field::EthDst => {
                need_exact("dl_dst")?;
                m.dl_dst.copy_from_slice(fm.value.as_slice());
                wild &= !match10::OFPFW_DL_DST;
            }
            Field::EthType => {
                need_exact("dl_type")?;
                m.dl_type = v as u16;
                wild &= !match10::OFPFW_DL_TYPE;
            }
            Field::IpProto | Field::ArpOp => {
                need_exact("nw_proto")?;
                m.nw_proto = v as u8;
                wild &= !match10::OFPFW_NW_PROTO;
            }
            Field::IpDscp => {
                m.nw_tos = v as u8;
                wild &= !match10::OFPFW_NW_TOS;
            }
            Field::Ipv4Src | Field::ArpSpa | Field::Ipv4Dst | Field::ArpTpa => {
                let mask = fm.mask.u64() as u32;
                if mask.leading_ones() + mask.trailing_zeros() != 32 {
                    return Err(SyntaxError::Unsupported(
                        "non-CIDR nw mask in OpenFlow 1.0".into(),
                    ));
                }
                let addr = (v as u32).to_be_bytes();
                if matches!(fl, Field::Ipv4Src | Field::ArpSpa) {
                    m.nw_src = addr;
                    nw_src_bits = 32 - mask.leading_ones();
                } else {
                    m.nw_dst = addr;
                    nw_dst_bits = 32 - mask.leading_ones();
                }
            }
            Field::TcpSrc | Field::UdpSrc | Field::SctpSrc | Field::Icmpv4Type => {
                need_exact("tp_src")?;
                m.tp_src = v as u16;
                wild &= !match10::OFPFW_TP_SRC;
            }
            Field::TcpDst | Field::UdpDst | Field::SctpDst | Field::Icmpv4Code => {
                need_exact("tp_dst")?;
                m.tp_dst = v as u16;
                wild &= !match10::OFPFW_TP_DST;
            }
            other => {
                return Err(SyntaxError::Unsupported(format!(
                    "{} in OpenFlow 1.0",
                    other.info().name
                )))
            }
        }
    }
    if let Some((tci, mask)) = f.vlan_tci {
        if mask & 0x1000 != 0 && tci & 0x1000 == 0 {
            m.dl_vlan = match10::OFP_VLAN_NONE;
            wild &= !match10::OFPFW_DL_VLAN;
            wild &= !match10::OFPFW_DL_VLAN_PCP;
        } else {
            if mask & 0x0fff != 0 {
                m.dl_vlan = tci & 0xfff;
                wild &= !match10::OFPFW_DL_VLAN;
            }
            if mask & 0xe000 != 0 {
                m.dl_vlan_pcp = (tci >> 13) as u8;
                wild &= !match10::OFPFW_DL_VLAN_PCP;
            }
        }
    }
    m.wildcards = wild
        | (nw_src_bits << match10::OFPFW_NW_SRC_SHIFT)
        | (nw_dst_bits << match10::OFPFW_NW_DST_SHIFT);
    Ok(m)
}

/// Whether the match requires a VLAN header (so `mod_vlan_vid` need not push one).
fn has_vlan(f: &FlowFields) -> bool {
    f.vlan_tci.is_some_and(|(t, m)| t & m & 0x1000 != 0)
}

fn subfield(s: &str) -> Result<(u32, u16, u16), SyntaxError> {
    // NAME[] / NAME[a] / NAME[a..b]
    let (name, bits) = s
        .split_once('[')
        .ok_or_else(|| SyntaxError::UnknownAction(s.to_string()))?;
    let bits = bits
        .strip_suffix(']')
        .ok_or_else(|| SyntaxError::UnknownAction(s.to_string()))?;
    let field = crate::ofp::oxm::FIELDS
        .iter()
        .map(|i| i.field)
        .find(|f| super::print::nxm_name(*f) == name)
        .or_else(|| field_by_name(&name.to_ascii_lowercase()))
        .ok_or_else(|| SyntaxError::UnknownAction(s.to_string()))?;
    let width = (field.len() * 8) as u16;
    let (ofs, n) = if bits.is_empty() {
        (0, width)
    } else if let Some((a, b)) = bits.split_once("..") {
        let a: u16 = a.parse().map_err(|_| bad("subfield", s))?;
        let b: u16 = b.parse().map_err(|_| bad("subfield", s))?;
        (a, b.saturating_sub(a) + 1)
    } else {
        let a: u16 = bits.parse().map_err(|_| bad("subfield", s))?;
        (a, 1)
    };
    Ok((field.header(false), ofs, n))
}

/// Set-field names as `ovs-ofctl` accepts them.
fn field_by_name(name: &str) -> Option<Field> {
    Some(match name {
        "eth_src" | "dl_src" => Field::EthSrc,
        "eth_dst" | "dl_dst" => Field::EthDst,
        "ip_src" | "nw_src" | "ipv4_src" => Field::Ipv4Src,
        "ip_dst" | "nw_dst" | "ipv4_dst" => Field::Ipv4Dst,
        "tun_id" | "tunnel_id" => Field::TunnelId,
        "vlan_vid" => Field::VlanVid,
        "vlan_pcp" => Field::VlanPcp,
        "ip_dscp" => Field::IpDscp,
        "mpls_label" => Field::MplsLabel,
        "metadata" => Field::Metadata,
        "pkt_mark" => Field::PktMark,
        _ => {
            return crate::ofp::oxm::FIELDS
                .iter()
                .find(|i| i.name == name && i.class == crate::ofp::oxm::OFPXMC_OPENFLOW_BASIC)
                .or_else(|| crate::ofp::oxm::FIELDS.iter().find(|i| i.name == name))
                .map(|i| i.field)
        }
    })
}

fn field_value(field: Field, s: &str) -> Result<MatchEntry, SyntaxError> {
    let mut tmp = FlowFields::default();
    match field.len() {
        6 => set_mac(&mut tmp, field, "set_field", s)?,
        16 => set_ipv6(&mut tmp, field, "set_field", s)?,
        4 if s.contains('.') => set_ipv4(&mut tmp, field, "set_field", s)?,
        _ => set_masked(&mut tmp, field, "set_field", s)?,
    }
    let m = tmp.get(field).ok_or_else(|| bad("set_field", s))?;
    Ok(entry(field, m))
}

/// Parses an action list (the text after `actions=`) into instructions for `version`.
/// `fields` is the flow's match, which decides some encodings (as in `ovs-ofctl`).
pub fn parse_actions(
    text: &str,
    version: Version,
    fields: &FlowFields,
) -> Result<Vec<Instruction>, SyntaxError> {
    let v10 = version == Version::V1_0;
    let mut apply: Vec<Action> = Vec::new();
    let mut meter = None;
    let mut clear = false;
    let mut write: Option<Vec<Action>> = None;
    let mut write_md = None;
    let mut goto = None;
    for item in split_top(text)? {
        let (name, arg) = match item.find([':', '(']) {
            Some(i) if item.as_bytes()[i] == b':' => (&item[..i], &item[i + 1..]),
            Some(i) => (
                &item[..i],
                item[i..].trim_start_matches('(').trim_end_matches(')'),
            ),
            None => (item, ""),
        };
        let paren = item.contains('(');
        match name {
            "drop" => {}
            "meter" if !v10 => meter = Some(num(name, arg)?),
            "clear_actions" if !v10 => clear = true,
            "write_actions" if !v10 => {
                let inner = parse_actions(arg, version, fields)?;
                let acts = inner
                    .into_iter()
                    .flat_map(|i| match i {
                        Instruction::ApplyActions(a) => a,
                        _ => Vec::new(),
                    })
                    .collect();
                write = Some(acts);
            }
            "write_metadata" if !v10 => {
                let (v, m) = match arg.split_once('/') {
                    Some((v, m)) => (num(name, v)?, num(name, m)?),
                    None => (num(name, arg)?, u64::MAX),
                };
                write_md = Some((v, m));
            }
            "goto_table" if !v10 => goto = Some(num(name, arg)?),
            _ => parse_action(name, arg, paren, item, version, fields, &mut apply)?,
        }
    }
    let mut out = Vec::new();
    if let Some(m) = meter {
        out.push(Instruction::Meter(m));
    }
    if !apply.is_empty() {
        out.push(Instruction::ApplyActions(apply));
    }
    if clear {
        out.push(Instruction::ClearActions);
    }
    if let Some(w) = write {
        out.push(Instruction::WriteActions(w));
    }
    if let Some((metadata, mask)) = write_md {
        out.push(Instruction::WriteMetadata { metadata, mask });
    }
    if let Some(t) = goto {
        out.push(Instruction::GotoTable(t));
    }
    Ok(out)
}

fn parse_action(
    name: &str,
    arg: &str,
    paren: bool,
    item: &str,
    version: Version,
    fields: &FlowFields,
    out: &mut Vec<Action>,
) -> Result<(), SyntaxError> {
    let v10 = version == Version::V1_0;
    let set_field = |out: &mut Vec<Action>, f: Field, v: &[u8]| {
        out.push(Action::SetField(MatchEntry::exact(f, v)));
    };
    let reserved = port::NAMES
        .iter()
        .find(|(_, n)| n.eq_ignore_ascii_case(name));
    if let Some((p, _)) =
        reserved.filter(|_| arg.is_empty() || name.eq_ignore_ascii_case("controller") && !paren)
    {
        let max_len = if *p == port::OFPP_CONTROLLER && !arg.is_empty() {
            num(name, arg)?
        } else if *p == port::OFPP_CONTROLLER {
            u16::MAX
        } else {
            0
        };
        out.push(Action::Output { port: *p, max_len });
        return Ok(());
    }
    match name {
        "output" => {
            if arg.contains('[') {
                let (src, ofs, n) = subfield(arg)?;
                out.push(Action::OutputReg {
                    ofs_nbits: (ofs << 6) | (n - 1),
                    src,
                    max_len: u16::MAX,
                });
            } else {
                let p = port::parse(arg).ok_or_else(|| bad(name, arg))?;
                let max_len = if p == port::OFPP_CONTROLLER {
                    u16::MAX
                } else {
                    0
                };
                out.push(Action::Output { port: p, max_len });
            }
        }
        n if n.parse::<u32>().is_ok() && arg.is_empty() => out.push(Action::Output {
            port: num(n, n)?,
            max_len: 0,
        }),
        "enqueue" => {
            let (p, q) = arg.split_once(':').ok_or_else(|| bad(name, arg))?;
            let p = port::parse(p).ok_or_else(|| bad(name, arg))?;
            let q: u32 = num(name, q)?;
            if v10 {
                out.push(Action::Enqueue {
                    port: p,
                    queue_id: q,
                });
            } else {
                out.push(Action::SetQueue(q));
                out.push(Action::Output {
                    port: p,
                    max_len: u16::MAX,
                });
                out.push(Action::PopQueue);
            }
        }
        "set_queue" => {
            let q = num(name, arg)?;
            out.push(if v10 {
                Action::NxSetQueue(q)
            } else {
                Action::SetQueue(q)
            });
        }
        "pop_queue" => out.push(Action::PopQueue),
        "mod_vlan_vid" => {
            let vid: u16 = num(name, arg)?;
            if v10 {
                out.push(Action::SetVlanVid(vid));
            } else {
                if !has_vlan(fields) {
                    out.push(Action::PushVlan(0x8100));
                }
                set_field(out, Field::VlanVid, &(vid | 0x1000).to_be_bytes());
            }
        }
        "mod_vlan_pcp" => {
            let pcp: u8 = num(name, arg)?;
            if v10 {
                out.push(Action::SetVlanPcp(pcp));
            } else {
                if !has_vlan(fields) {
                    out.push(Action::PushVlan(0x8100));
                }
                set_field(out, Field::VlanPcp, &[pcp]);
            }
        }
        "strip_vlan" | "pop_vlan" => out.push(if v10 {
            Action::StripVlan
        } else {
            Action::PopVlan
        }),
        "push_vlan" if !v10 => out.push(Action::PushVlan(num(name, arg)?)),
        "mod_dl_src" | "mod_dl_dst" => {
            let m = mac(name, arg)?;
            let src = name == "mod_dl_src";
            out.push(match (v10, src) {
                (true, true) => Action::SetDlSrc(m),
                (true, false) => Action::SetDlDst(m),
                (false, s) => Action::SetField(MatchEntry::exact(
                    if s { Field::EthSrc } else { Field::EthDst },
                    &m,
                )),
            });
        }
        "mod_nw_src" | "mod_nw_dst" => {
            let a: Ipv4Addr = arg.parse().map_err(|_| bad(name, arg))?;
            let src = name == "mod_nw_src";
            out.push(match (v10, src) {
                (true, true) => Action::SetNwSrc(a.octets()),
                (true, false) => Action::SetNwDst(a.octets()),
                (false, s) => Action::SetField(MatchEntry::exact(
                    if s { Field::Ipv4Src } else { Field::Ipv4Dst },
                    &a.octets(),
                )),
            });
        }
        "mod_nw_tos" => {
            let tos: u8 = num(name, arg)?;
            out.push(if v10 {
                Action::SetNwTos(tos)
            } else {
                Action::SetField(MatchEntry::exact(Field::IpDscp, &[tos >> 2]))
            });
        }
        "mod_tp_src" | "mod_tp_dst" => {
            let p: u16 = num(name, arg)?;
            let src = name == "mod_tp_src";
            if v10 {
                out.push(if src {
                    Action::SetTpSrc(p)
                } else {
                    Action::SetTpDst(p)
                });
            } else {
                let f = match (fields.ip_proto(), src) {
                    (Some(17), true) => Field::UdpSrc,
                    (Some(17), false) => Field::UdpDst,
                    (Some(132), true) => Field::SctpSrc,
                    (Some(132), false) => Field::SctpDst,
                    (_, true) => Field::TcpSrc,
                    (_, false) => Field::TcpDst,
                };
                set_field(out, f, &p.to_be_bytes());
            }
        }
        "mod_nw_ttl" | "set_nw_ttl" if !v10 => out.push(Action::SetNwTtl(num(name, arg)?)),
        "set_mpls_ttl" if !v10 => out.push(Action::SetMplsTtl(num(name, arg)?)),
        "dec_mpls_ttl" if !v10 => out.push(Action::DecMplsTtl),
        "push_mpls" if !v10 => out.push(Action::PushMpls(num(name, arg)?)),
        "pop_mpls" if !v10 => out.push(Action::PopMpls(num(name, arg)?)),
        "group" if !v10 => out.push(Action::Group(num(name, arg)?)),
        "dec_ttl" => {
            if paren {
                let ids: Result<Vec<u16>, _> =
                    arg.split(',').map(|x| num(name, x.trim())).collect();
                out.push(Action::DecTtlCntIds(ids?));
            } else if v10 {
                out.push(Action::DecTtl);
            } else {
                out.push(Action::DecNwTtl);
            }
        }
        "set_tunnel" | "set_tunnel64" => {
            let id: u64 = num(name, arg)?;
            if !v10 {
                out.push(Action::SetField(MatchEntry::from_u64(Field::TunnelId, id)));
            } else if name == "set_tunnel64" || id > u64::from(u32::MAX) {
                out.push(Action::SetTunnel64(id));
            } else {
                out.push(Action::SetTunnel(id as u32));
            }
        }
        "resubmit" => {
            if paren {
                let (p, t) = arg.split_once(',').unwrap_or((arg, ""));
                let in_port = if p.is_empty() {
                    port::OFPP_IN_PORT
                } else {
                    port::parse(p).ok_or_else(|| bad(name, arg))?
                };
                let table = if t.is_empty() { 0xff } else { num(name, t)? };
                out.push(Action::ResubmitTable { in_port, table });
            } else {
                // Open vSwitch sends even the plain form as resubmit-with-table (table 255).
                out.push(Action::ResubmitTable {
                    in_port: port::parse(arg).ok_or_else(|| bad(name, arg))?,
                    table: 0xff,
                });
            }
        }
        "load" => {
            let (v, dst) = arg.split_once("->").ok_or_else(|| bad(name, arg))?;
            let (dst, ofs, n) = subfield(dst)?;
            out.push(Action::RegLoad {
                ofs_nbits: (ofs << 6) | (n - 1),
                dst,
                value: num(name, v)?,
            });
        }
        "move" => {
            let (src, dst) = arg.split_once("->").ok_or_else(|| bad(name, arg))?;
            let (src, src_ofs, n) = subfield(src)?;
            let (dst, dst_ofs, _) = subfield(dst)?;
            out.push(Action::RegMove {
                n_bits: n,
                src_ofs,
                dst_ofs,
                src,
                dst,
            });
        }
        "set_field" | "load_field" => {
            let (v, f) = arg.rsplit_once("->").ok_or_else(|| bad(name, arg))?;
            let field = field_by_name(f).ok_or_else(|| bad(name, f))?;
            let e = field_value(field, v)?;
            if e.mask.is_some() {
                // A masked set-field is a register load of the masked bits (contiguous).
                let mask = e.mask_u64().unwrap_or(0);
                if mask == 0 {
                    return Err(bad(name, arg));
                }
                let ofs = mask.trailing_zeros() as u16;
                let n = (64 - mask.leading_zeros()) as u16 - ofs;
                out.push(Action::RegLoad {
                    ofs_nbits: (ofs << 6) | (n - 1),
                    dst: field.header(false),
                    value: e.value_u64() >> ofs,
                });
            } else if v10 {
                return Err(SyntaxError::Unsupported("set_field in OpenFlow 1.0".into()));
            } else {
                out.push(Action::SetField(e));
            }
        }
        "note" => {
            let mut bytes: Vec<u8> = Vec::new();
            for h in arg.split('.').filter(|h| !h.is_empty()) {
                bytes.push(u8::from_str_radix(h, 16).map_err(|_| bad(name, arg))?);
            }
            // The note action pads its body (after the 10-byte header) to 8-byte alignment.
            let total = 10 + bytes.len();
            bytes.resize(
                bytes.len() + (crate::ofp::wire::pad8(total.max(16)) - total),
                0,
            );
            out.push(Action::Note(bytes));
        }
        "exit" => out.push(Action::Exit),
        "controller" => {
            let mut max_len = u16::MAX;
            let mut id = 0u16;
            let mut reason = 1u8;
            let mut userdata = None;
            let mut pause = false;
            let mut meter = None;
            for kv in arg.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                match k {
                    "max_len" => max_len = num(k, v)?,
                    "id" => id = num(k, v)?,
                    "reason" => {
                        reason = match v {
                            "no_match" => 0,
                            "action" => 1,
                            "invalid_ttl" => 2,
                            "action_set" => 3,
                            "group" => 4,
                            "packet_out" => 5,
                            _ => return Err(bad(k, v)),
                        }
                    }
                    "userdata" => {
                        let b: Result<Vec<u8>, _> = v
                            .split('.')
                            .map(|h| u8::from_str_radix(h, 16).map_err(|_| bad(k, v)))
                            .collect();
                        userdata = Some(b?);
                    }
                    "pause" => pause = true,
                    "meter_id" => meter = Some(num(k, v)?),
                    _ => return Err(bad(name, kv)),
                }
            }
            if userdata.is_none() && !pause && meter.is_none() {
                if reason == 1 && id == 0 {
                    out.push(Action::Output {
                        port: port::OFPP_CONTROLLER,
                        max_len,
                    });
                } else {
                    out.push(Action::Controller {
                        max_len,
                        controller_id: id,
                        reason,
                    });
                }
            } else {
                let mut props = Vec::new();
                if max_len != u16::MAX {
                    props.push(Controller2Prop::MaxLen(max_len));
                }
                if id != 0 {
                    props.push(Controller2Prop::ControllerId(id));
                }
                if reason != 1 {
                    props.push(Controller2Prop::Reason(reason));
                }
                if let Some(u) = userdata {
                    props.push(Controller2Prop::Userdata(u));
                }
                if pause {
                    props.push(Controller2Prop::Pause);
                }
                if let Some(m) = meter {
                    props.push(Controller2Prop::MeterId(m));
                }
                out.push(Action::Controller2(props));
            }
        }
        _ => return Err(SyntaxError::UnknownAction(item.to_string())),
    }
    Ok(())
}

/// Parses flow text into a flow-mod for `version` with `command` (OFPFC_*), as
/// `ovs-ofctl add-flow`/`mod-flows`/`del-flows` would build it.
pub fn parse_flow(text: &str, version: Version, command: u8) -> Result<FlowMod, SyntaxError> {
    let spec = parse_spec(text)?;
    let instructions = match &spec.actions {
        Some(a) => parse_actions(a, version, &spec.fields)?,
        None => Vec::new(),
    };
    let delete = command >= 3;
    let match_ = if version == Version::V1_0 {
        Match::Of10(fields_to_match10(&spec.fields)?)
    } else {
        Match::Oxm(fields_to_oxm(&spec.fields))
    };
    let default_table = if delete && version != Version::V1_0 {
        0xff
    } else {
        0
    };
    let (cookie, cookie_mask) = match spec.cookie {
        Some((c, Some(m))) => (c, m),
        Some((c, None)) => (c, 0),
        None => (0, 0),
    };
    Ok(FlowMod {
        cookie,
        cookie_mask: if version == Version::V1_0 {
            0
        } else {
            cookie_mask
        },
        table_id: spec.table_id.unwrap_or(default_table),
        command,
        idle_timeout: spec.idle_timeout,
        hard_timeout: spec.hard_timeout,
        priority: spec.priority.unwrap_or(0x8000),
        buffer_id: NO_BUFFER,
        out_port: spec.out_port.unwrap_or(port::OFPP_ANY),
        out_group: spec.out_group.unwrap_or(OFPG_ANY),
        flags: spec.flags,
        importance: spec.importance,
        match_,
        instructions,
    })
}

/// NXM field for each canonical field, for `NXT_FLOW_MOD` (fields without an NXM form keep
/// their OXM header, as Open vSwitch does).
fn nxm_field(f: Field) -> Field {
    match f {
        Field::InPort => Field::NxmInPort,
        Field::EthSrc => Field::NxmEthSrc,
        Field::EthDst => Field::NxmEthDst,
        Field::EthType => Field::NxmEthType,
        Field::Ipv4Src => Field::NxmIpSrc,
        Field::Ipv4Dst => Field::NxmIpDst,
        Field::Ipv6Src => Field::NxIpv6Src,
        Field::Ipv6Dst => Field::NxIpv6Dst,
        Field::Ipv6Flabel => Field::NxIpv6Label,
        Field::IpDscp => Field::NxmIpTos,
        Field::IpEcn => Field::NxIpEcn,
        Field::IpProto => Field::NxmIpProto,
        Field::TcpSrc => Field::NxmTcpSrc,
        Field::TcpDst => Field::NxmTcpDst,
        Field::TcpFlags => Field::NxTcpFlags,
        Field::UdpSrc => Field::NxmUdpSrc,
        Field::UdpDst => Field::NxmUdpDst,
        Field::Icmpv4Type => Field::NxmIcmpType,
        Field::Icmpv4Code => Field::NxmIcmpCode,
        Field::Icmpv6Type => Field::NxIcmpv6Type,
        Field::Icmpv6Code => Field::NxIcmpv6Code,
        Field::Ipv6NdTarget => Field::NxNdTarget,
        Field::Ipv6NdSll => Field::NxNdSll,
        Field::Ipv6NdTll => Field::NxNdTll,
        Field::ArpOp => Field::NxmArpOp,
        Field::ArpSpa => Field::NxmArpSpa,
        Field::ArpTpa => Field::NxmArpTpa,
        Field::ArpSha => Field::NxArpSha,
        Field::ArpTha => Field::NxArpTha,
        Field::TunnelId => Field::NxTunId,
        f => f,
    }
}

/// Encodes fields as NXM entries (Open vSwitch's order, NXM spellings).
pub fn fields_to_nxm(f: &FlowFields) -> OxmMatch {
    let oxm = fields_to_oxm(f);
    let mut out = OxmMatch::default();
    for e in oxm.entries {
        let nf = nxm_field(e.field.canonical());
        let entry = match e.field {
            // NXM carries the VLAN TCI, in_port in 16 bits, and the TOS byte.
            Field::VlanVid | Field::VlanPcp => continue,
            Field::InPort => MatchEntry::from_u64(
                Field::NxmInPort,
                u64::from(port::to_of10(e.value_u64() as u32).unwrap_or(0xffff)),
            ),
            Field::IpDscp => MatchEntry::from_u64(Field::NxmIpTos, e.value_u64() << 2),
            Field::EthType if f.vlan_tci.is_some() => {
                out.entries.push(MatchEntry { field: nf, ..e });
                if let Some((tci, mask)) = f.vlan_tci {
                    out.entries.push(if mask == 0xffff {
                        MatchEntry::from_u64(Field::NxmVlanTci, u64::from(tci))
                    } else {
                        MatchEntry::masked(
                            Field::NxmVlanTci,
                            &tci.to_be_bytes(),
                            &mask.to_be_bytes(),
                        )
                    });
                }
                continue;
            }
            _ => MatchEntry { field: nf, ..e },
        };
        out.entries.push(entry);
    }
    if f.vlan_tci.is_some() && f.get(Field::EthType).is_none() {
        if let Some((tci, mask)) = f.vlan_tci {
            let pos = out
                .entries
                .iter()
                .position(|e| {
                    !matches!(
                        e.field,
                        Field::NxmInPort | Field::NxmEthSrc | Field::NxmEthDst
                    )
                })
                .unwrap_or(out.entries.len());
            let e = if mask == 0xffff {
                MatchEntry::from_u64(Field::NxmVlanTci, u64::from(tci))
            } else {
                MatchEntry::masked(Field::NxmVlanTci, &tci.to_be_bytes(), &mask.to_be_bytes())
            };
            out.entries.insert(pos, e);
        }
    }
    out
}

/// Like [`parse_flow`], but as the message `ovs-ofctl` sends: in OpenFlow 1.0 a flow whose
/// match the 1.0 `ofp_match` cannot express becomes a Nicira `NXT_FLOW_MOD`.
pub fn parse_flow_message(
    text: &str,
    version: Version,
    command: u8,
) -> Result<crate::ofp::Message, SyntaxError> {
    use crate::ofp::{Message, NxMessage};
    match parse_flow(text, version, command) {
        Ok(fm) => Ok(Message::FlowMod(fm)),
        Err(SyntaxError::Unsupported(_)) if version == Version::V1_0 => {
            let spec = parse_spec(text)?;
            let instructions = match &spec.actions {
                Some(a) => parse_actions(a, version, &spec.fields)?,
                None => Vec::new(),
            };
            let (cookie, _) = spec.cookie.unwrap_or((0, None));
            Ok(Message::Nx(NxMessage::FlowMod(FlowMod {
                cookie,
                cookie_mask: 0,
                table_id: spec.table_id.unwrap_or(0),
                command,
                idle_timeout: spec.idle_timeout,
                hard_timeout: spec.hard_timeout,
                priority: spec.priority.unwrap_or(0x8000),
                buffer_id: NO_BUFFER,
                out_port: spec.out_port.unwrap_or(port::OFPP_ANY),
                out_group: OFPG_ANY,
                flags: spec.flags,
                importance: 0,
                match_: Match::Oxm(fields_to_nxm(&spec.fields)),
                instructions,
            })))
        }
        Err(e) => Err(e),
    }
}

/// The flow (or aggregate) stats request `ovs-ofctl dump-flows`/`dump-aggregate` sends for
/// `text`: `NXST_FLOW`/`NXST_AGGREGATE` with an NXM match in OpenFlow 1.0, the standard
/// multipart request with an OXM match from 1.3 on.
pub fn parse_stats_request(
    text: &str,
    version: Version,
    aggregate: bool,
) -> Result<crate::ofp::Message, SyntaxError> {
    use crate::ofp::multipart::{FlowStatsRequest, MultipartRequest, MultipartRequestBody};
    let spec = parse_spec(text)?;
    let table_id = spec.table_id.unwrap_or(0xff);
    let out_port = spec.out_port.unwrap_or(port::OFPP_ANY);
    let body = if version == Version::V1_0 {
        MultipartRequestBody::NxFlow {
            aggregate,
            out_port,
            table_id,
            match_: fields_to_nxm(&spec.fields),
        }
    } else {
        let (cookie, cookie_mask) = match spec.cookie {
            Some((c, m)) => (c, m.unwrap_or(0)),
            None => (0, 0),
        };
        let req = FlowStatsRequest {
            table_id,
            out_port,
            out_group: spec.out_group.unwrap_or(OFPG_ANY),
            cookie,
            cookie_mask,
            match_: Match::Oxm(fields_to_oxm(&spec.fields)),
        };
        if aggregate {
            MultipartRequestBody::Aggregate(req)
        } else {
            MultipartRequestBody::Flow(req)
        }
    };
    Ok(crate::ofp::Message::MultipartRequest(MultipartRequest {
        flags: 0,
        body,
    }))
}

/// `ovs-ofctl packet-out SWITCH IN_PORT ACTIONS PACKET`: the packet-out it sends.
pub fn parse_packet_out(
    in_port: &str,
    actions: &str,
    packet_hex: &str,
    version: Version,
) -> Result<crate::ofp::PacketOut, SyntaxError> {
    let in_port = port::parse(in_port).ok_or_else(|| bad("in_port", in_port))?;
    let mut acts = Vec::new();
    for i in parse_actions(actions, version, &FlowFields::default())? {
        match i {
            Instruction::ApplyActions(a) => acts.extend(a),
            _ => {
                return Err(SyntaxError::Unsupported(
                    "instructions in packet-out".into(),
                ))
            }
        }
    }
    let hex: String = packet_hex
        .chars()
        .filter(|c| c.is_ascii_hexdigit())
        .collect();
    let data = (0..hex.len() / 2)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16))
        .collect::<Result<Vec<u8>, _>>()
        .map_err(|_| bad("packet", packet_hex))?;
    let mut match_ = OxmMatch::default();
    if version >= Version::V1_5 {
        match_
            .entries
            .push(MatchEntry::from_u64(Field::InPort, u64::from(in_port)));
    }
    Ok(crate::ofp::PacketOut {
        buffer_id: NO_BUFFER,
        in_port: if version >= Version::V1_5 { 0 } else { in_port },
        match_,
        actions: acts,
        data,
    })
}

/// `ovs-ofctl mod-port SWITCH PORT ACTION`: the port-mod it sends for the port `port_no`
/// whose hardware address is `hw_addr` (ovs-ofctl reads it from the switch first).
/// Config bits that `version` lacks (1.0's flood and STP bits in 1.1+) change nothing.
pub fn parse_port_mod(
    port_no: u32,
    hw_addr: [u8; 6],
    action: &str,
    version: Version,
) -> Result<crate::ofp::PortMod, SyntaxError> {
    const PORT_DOWN: u32 = 1 << 0;
    const NO_STP: u32 = 1 << 1;
    const NO_RECV: u32 = 1 << 2;
    const NO_RECV_STP: u32 = 1 << 3;
    const NO_FLOOD: u32 = 1 << 4;
    const NO_FWD: u32 = 1 << 5;
    const NO_PACKET_IN: u32 = 1 << 6;
    let (bit, set, only10) = match action {
        "up" => (PORT_DOWN, false, false),
        "down" => (PORT_DOWN, true, false),
        "stp" => (NO_STP, false, true),
        "no-stp" => (NO_STP, true, true),
        "receive" => (NO_RECV, false, false),
        "no-receive" => (NO_RECV, true, false),
        "receive-stp" => (NO_RECV_STP, false, true),
        "no-receive-stp" => (NO_RECV_STP, true, true),
        "flood" => (NO_FLOOD, false, true),
        "no-flood" => (NO_FLOOD, true, true),
        "forward" => (NO_FWD, false, false),
        "no-forward" => (NO_FWD, true, false),
        "packet-in" => (NO_PACKET_IN, false, false),
        "no-packet-in" => (NO_PACKET_IN, true, false),
        _ => return Err(SyntaxError::UnknownKey(action.to_string())),
    };
    let mask = if only10 && version != Version::V1_0 {
        0
    } else {
        bit
    };
    Ok(crate::ofp::PortMod {
        port_no,
        hw_addr,
        config: if set { mask } else { 0 },
        mask,
        advertise: 0,
    })
}
