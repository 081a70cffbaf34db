//! The key/mask half of the ODP syntax: attributes such as
//! `eth_type(0x0800),ipv4(dst=10.0.0.0/255.0.0.0,proto=17),udp(dst=53)`
//! to and from a [`FlowKey`] and [`FlowMask`]; see the parent module for
//! the meaning of the text.

use std::fmt::Write as _;

use super::{assignment, call, fmt_value, parse_value, split_top, Kind, OdpError, Result};
use crate::key::{FieldId, FlowKey, FlowMask};
use crate::parse::{ethertype, ipproto};

// ---------------------------------------------------------------------------
// The attribute table.
// ---------------------------------------------------------------------------

/// One `name=value` field of an attribute.
struct Sub {
    name: &'static str,
    field: FieldId,
    kind: Kind,
}

const fn sub(name: &'static str, field: FieldId, kind: Kind) -> Sub {
    Sub { name, field, kind }
}

use FieldId as F;

const ETH: &[Sub] = &[
    sub("src", F::EthSrc, Kind::Mac),
    sub("dst", F::EthDst, Kind::Mac),
];
const MPLS: &[Sub] = &[
    sub("label", F::MplsLabel, Kind::Dec),
    sub("tc", F::MplsTc, Kind::Dec),
    sub("ttl", F::MplsTtl, Kind::Dec),
    sub("bos", F::MplsBos, Kind::Dec),
];
const IPV4: &[Sub] = &[
    sub("src", F::Ipv4Src, Kind::Ipv4),
    sub("dst", F::Ipv4Dst, Kind::Ipv4),
    sub("proto", F::IpProto, Kind::Dec),
    sub("tos", F::IpTos, Kind::Hex),
    sub("ttl", F::IpTtl, Kind::Dec),
    sub("frag", F::IpFrag, Kind::Frag),
];
const IPV6: &[Sub] = &[
    sub("src", F::Ipv6Src, Kind::Ipv6),
    sub("dst", F::Ipv6Dst, Kind::Ipv6),
    sub("label", F::Ipv6Label, Kind::Hex),
    sub("proto", F::IpProto, Kind::Dec),
    sub("tclass", F::IpTos, Kind::Hex),
    sub("hlimit", F::IpTtl, Kind::Dec),
    sub("frag", F::IpFrag, Kind::Frag),
];
const PORTS: &[Sub] = &[
    sub("src", F::TpSrc, Kind::Dec),
    sub("dst", F::TpDst, Kind::Dec),
];
const ICMP: &[Sub] = &[
    sub("type", F::TpSrc, Kind::Dec),
    sub("code", F::TpDst, Kind::Dec),
];
const ARP: &[Sub] = &[
    sub("sip", F::ArpSpa, Kind::Ipv4),
    sub("tip", F::ArpTpa, Kind::Ipv4),
    sub("op", F::ArpOp, Kind::Dec),
    sub("sha", F::ArpSha, Kind::Mac),
    sub("tha", F::ArpTha, Kind::Mac),
];
const ND: &[Sub] = &[
    sub("target", F::NdTarget, Kind::Ipv6),
    sub("sll", F::NdSll, Kind::Mac),
    sub("tll", F::NdTll, Kind::Mac),
];

/// The field bits a key/mask pair under construction carries.
#[derive(Default)]
pub(super) struct Match {
    pub(super) key: FlowKey,
    pub(super) mask: FlowMask,
}

impl Match {
    fn set(&mut self, field: FieldId, value: u128, mask: u128) {
        self.key.set(field, value & mask);
        self.mask.set(field, mask);
    }

    /// The value of `field` if its mask is exact.
    fn exact(&self, field: FieldId) -> Option<u128> {
        self.mask.is_exact(field).then(|| self.key.get(field))
    }
}

/// Parses the `name=value,…` body of an attribute against `subs`.
fn parse_subs(m: &mut Match, attr: &str, body: &str, subs: &[Sub]) -> Result<()> {
    let mut seen = Vec::new();
    for item in split_top(body)? {
        let (name, value) = assignment(item)?;
        let Some(s) = subs.iter().find(|s| s.name == name) else {
            let known: Vec<&str> = subs.iter().map(|s| s.name).collect();
            return Err(OdpError::new(format!(
                "unknown field `{name}` in {attr}(…) (known: {})",
                known.join(", ")
            )));
        };
        if seen.contains(&name) {
            return Err(OdpError::new(format!(
                "field `{name}` appears twice in {attr}(…)"
            )));
        }
        seen.push(name);
        let what = format!("{attr} {name}");
        let (v, mk) = parse_value(value, s.kind, s.field.width(), &what)?;
        m.set(s.field, v, mk);
    }
    Ok(())
}

/// Prints `attr(f=v,…)` with the fields whose mask is non-zero; nothing if
/// none is.
fn fmt_subs(out: &mut Vec<String>, attr: &str, key: &FlowKey, mask: &FlowMask, subs: &[Sub]) {
    let mut body = String::new();
    for s in subs {
        let mk = mask.get(s.field);
        if mk == 0 {
            continue;
        }
        if !body.is_empty() {
            body.push(',');
        }
        let _ = write!(body, "{}=", s.name);
        fmt_value(&mut body, s.kind, s.field.width(), key.get(s.field), mk);
    }
    if !body.is_empty() {
        out.push(format!("{attr}({body})"));
    }
}

/// Parses a scalar attribute body `value[/mask]` into `field`.
fn parse_scalar(m: &mut Match, attr: &str, body: &str, field: FieldId, kind: Kind) -> Result<()> {
    let (v, mk) = parse_value(body, kind, field.width(), attr)?;
    m.set(field, v, mk);
    Ok(())
}

fn fmt_scalar(
    out: &mut Vec<String>,
    attr: &str,
    key: &FlowKey,
    mask: &FlowMask,
    field: FieldId,
    kind: Kind,
) {
    let mk = mask.get(field);
    if mk == 0 {
        return;
    }
    let mut s = format!("{attr}(");
    fmt_value(&mut s, kind, field.width(), key.get(field), mk);
    s.push(')');
    out.push(s);
}

// ---------------------------------------------------------------------------
// TCP flags.
// ---------------------------------------------------------------------------

/// TCP flag names, least significant bit first.
const TCP_FLAG_NAMES: [&str; 12] = [
    "fin", "syn", "rst", "psh", "ack", "urg", "ece", "cwr", "ns", "[200]", "[400]", "[800]",
];
const TCP_FLAGS_FULL: u128 = 0xfff;

fn tcp_flag_bit(name: &str) -> Result<u128> {
    TCP_FLAG_NAMES
        .iter()
        .position(|n| *n == name)
        .map(|i| 1u128 << i)
        .ok_or_else(|| OdpError::new(format!("unknown TCP flag `{name}` in tcp_flags(…)")))
}

/// `0x…[/0x…]`, `0`, `syn|ack` (exact) or `+syn-ack` (only those bits).
fn parse_tcp_flags(body: &str) -> Result<(u128, u128)> {
    let body = body.trim();
    if body.starts_with(['+', '-']) {
        let (mut v, mut mk) = (0u128, 0u128);
        let mut rest = body;
        while let Some(sign) = rest.chars().next() {
            let after = &rest[1..];
            let end = after.find(['+', '-']).unwrap_or(after.len());
            let bit = tcp_flag_bit(&after[..end])?;
            if sign == '+' {
                v |= bit;
            } else if sign != '-' {
                return Err(OdpError::new(format!(
                    "expected `+` or `-` before `{}` in tcp_flags(…)",
                    &rest[..end + 1]
                )));
            }
            mk |= bit;
            rest = &after[end..];
        }
        return Ok((v, mk));
    }
    if body.starts_with(|c: char| c.is_ascii_digit()) {
        return parse_value(body, Kind::Hex, 12, "tcp_flags");
    }
    let mut v = 0;
    for name in body.split('|') {
        v |= tcp_flag_bit(name.trim())?;
    }
    Ok((v, TCP_FLAGS_FULL))
}

fn fmt_tcp_flags(v: u128, mk: u128) -> String {
    let mut s = String::from("tcp_flags(");
    if mk == TCP_FLAGS_FULL {
        let names: Vec<&str> = (0..12)
            .filter(|i| v & (1 << i) != 0)
            .map(|i| TCP_FLAG_NAMES[i])
            .collect();
        if names.is_empty() {
            s.push('0');
        } else {
            s.push_str(&names.join("|"));
        }
    } else {
        for (i, name) in TCP_FLAG_NAMES.iter().enumerate() {
            if mk & (1 << i) != 0 {
                s.push(if v & (1 << i) != 0 { '+' } else { '-' });
                s.push_str(name);
            }
        }
    }
    s.push(')');
    s
}

// ---------------------------------------------------------------------------
// Keys.
// ---------------------------------------------------------------------------

/// The attributes of one nesting level (top level or inside `encap`).
#[derive(Default)]
struct Level<'a> {
    eth_type: Option<&'a str>,
    vlan: Option<&'a str>,
    encap: Option<&'a str>,
    l3: Option<(&'a str, &'a str)>,
    l4: Option<(&'a str, &'a str)>,
    tcp_flags: Option<&'a str>,
    nd: Option<&'a str>,
}

fn dup(name: &str) -> OdpError {
    OdpError::new(format!("attribute `{name}(…)` appears twice"))
}

fn put<'a>(slot: &mut Option<&'a str>, name: &str, body: &'a str) -> Result<()> {
    if slot.replace(body).is_some() {
        return Err(dup(name));
    }
    Ok(())
}

fn put_named<'a>(
    slot: &mut Option<(&'a str, &'a str)>,
    name: &'a str,
    body: &'a str,
) -> Result<()> {
    if let Some((prev, _)) = slot.replace((name, body)) {
        return Err(OdpError::new(format!(
            "attributes `{prev}(…)` and `{name}(…)` cannot both appear at one level"
        )));
    }
    Ok(())
}

/// Parses a flow key with its mask, e.g.
/// `in_port(1),eth_type(0x0800),ipv4(dst=10.0.0.0/255.0.0.0,proto=17),udp(dst=53)`.
/// An empty string is the all-wildcard key.
pub fn parse_key(s: &str) -> Result<(FlowKey, FlowMask)> {
    let mut m = Match::default();
    let items = split_top(s)?;
    parse_level(&mut m, &items, 0)?;
    Ok((m.key, m.mask))
}

pub(super) fn parse_level(m: &mut Match, items: &[&str], depth: usize) -> Result<()> {
    let mut lv = Level::default();
    let mut meta_seen: Vec<&str> = Vec::new();
    for &item in items {
        let Some((name, body)) = call(item)? else {
            return Err(OdpError::new(format!(
                "expected an attribute like `name(…)`, found `{item}`"
            )));
        };
        match name {
            "in_port" | "recirc_id" | "skb_mark" | "dp_hash" | "packet_type" | "eth" => {
                if depth > 0 {
                    return Err(OdpError::new(format!(
                        "attribute `{name}(…)` is not allowed inside encap(…)"
                    )));
                }
                if meta_seen.contains(&name) {
                    return Err(dup(name));
                }
                meta_seen.push(name);
                match name {
                    "in_port" => parse_scalar(m, name, body, F::InPort, Kind::Dec)?,
                    "recirc_id" => parse_scalar(m, name, body, F::RecircId, Kind::Hex)?,
                    "skb_mark" => parse_scalar(m, name, body, F::PktMark, Kind::Hex)?,
                    "dp_hash" => parse_scalar(m, name, body, F::DpHash, Kind::Hex)?,
                    "eth" => parse_subs(m, name, body, ETH)?,
                    // Only Ethernet packets exist here; accept the one
                    // value `dump-flows` of OVS prints.
                    _ => {
                        let b: String = body.chars().filter(|c| !c.is_whitespace()).collect();
                        if b != "ns=0,id=0" {
                            return Err(OdpError::new(format!(
                                "packet_type({body}) is not supported (only ns=0,id=0, Ethernet)"
                            )));
                        }
                    }
                }
            }
            "eth_type" => put(&mut lv.eth_type, name, body)?,
            "vlan" => put(&mut lv.vlan, name, body)?,
            "encap" => put(&mut lv.encap, name, body)?,
            "ipv4" | "ipv6" | "arp" | "mpls" => put_named(&mut lv.l3, name, body)?,
            "tcp" | "udp" | "sctp" | "icmp" | "icmpv6" => put_named(&mut lv.l4, name, body)?,
            "tcp_flags" => put(&mut lv.tcp_flags, name, body)?,
            "nd" => put(&mut lv.nd, name, body)?,
            _ => {
                return Err(OdpError::new(format!(
                    "unknown or unsupported key attribute `{name}(…)`"
                )))
            }
        }
    }

    let (tpid, tci) = if depth == 0 {
        (F::VlanOuterTpid, F::VlanOuterTci)
    } else {
        (F::VlanInnerTpid, F::VlanInnerTci)
    };
    if let Some(vlan) = lv.vlan {
        if depth >= 2 {
            return Err(OdpError::new(
                "more than two nested vlan(…) tags are not supported",
            ));
        }
        let et = lv.eth_type.ok_or_else(|| {
            OdpError::new(format!(
                "vlan({vlan}) needs an eth_type(…) with the tag's TPID before it"
            ))
        })?;
        let (v, mk) = parse_value(et, Kind::EthType, 16, "eth_type")?;
        if mk != 0xffff || v == 0 {
            return Err(OdpError::new(format!(
                "eth_type({et}) before vlan(…) must be an exact, non-zero TPID"
            )));
        }
        m.set(tpid, v, mk);
        parse_vlan(m, vlan, tci)?;
        if let Some((name, _)) = lv.l3.or(lv.l4) {
            return Err(OdpError::new(format!(
                "{name}(…) must be inside encap(…) after vlan(…)"
            )));
        }
        if lv.tcp_flags.is_some() || lv.nd.is_some() {
            return Err(OdpError::new(
                "L4 attributes must be inside encap(…) after vlan(…)",
            ));
        }
        if let Some(encap) = lv.encap {
            parse_level(m, &split_top(encap)?, depth + 1)?;
        }
        return Ok(());
    }
    if let Some(encap) = lv.encap {
        return Err(OdpError::new(format!(
            "encap({encap}) without a vlan(…) beside it"
        )));
    }
    if let Some(et) = lv.eth_type {
        parse_scalar(m, "eth_type", et, F::EthType, Kind::EthType)?;
        // No vlan() at this level: the packet has no (further) tag. The key
        // has no room for a third tag, so below two tags nothing is pinned.
        if depth < 2 {
            m.set(tpid, 0, 0xffff);
        }
    }
    let eth_type = m.exact(F::EthType).map(|v| v as u16);
    if let Some((name, body)) = lv.l3 {
        let (want, subs): (&[u16], &[Sub]) = match name {
            "ipv4" => (&[ethertype::IPV4], IPV4),
            "ipv6" => (&[ethertype::IPV6], IPV6),
            "arp" => (&[ethertype::ARP, ethertype::RARP], ARP),
            _ => (&[ethertype::MPLS, ethertype::MPLS_MCAST], MPLS),
        };
        if !eth_type.is_some_and(|e| want.contains(&e)) {
            return Err(OdpError::new(format!(
                "{name}({body}) needs eth_type(0x{:04x}) beside it",
                want[0]
            )));
        }
        parse_subs(m, name, body, subs)?;
    }
    let l3 = lv.l3.map(|(n, _)| n);
    let proto = m.exact(F::IpProto).map(|v| v as u8);
    if let Some((name, body)) = lv.l4 {
        let (ips, want, subs): (&[&str], u8, &[Sub]) = match name {
            "tcp" => (&["ipv4", "ipv6"], ipproto::TCP, PORTS),
            "udp" => (&["ipv4", "ipv6"], ipproto::UDP, PORTS),
            "sctp" => (&["ipv4", "ipv6"], ipproto::SCTP, PORTS),
            "icmp" => (&["ipv4"], ipproto::ICMP, ICMP),
            _ => (&["ipv6"], ipproto::ICMPV6, ICMP),
        };
        if !(l3.is_some_and(|n| ips.contains(&n)) && proto == Some(want)) {
            return Err(OdpError::new(format!(
                "{name}({body}) needs {}(proto={want}) beside it",
                ips.join("(…) or ")
            )));
        }
        parse_subs(m, name, body, subs)?;
    }
    if let Some(body) = lv.tcp_flags {
        if lv.l4.map(|(n, _)| n) != Some("tcp") && !(l3.is_some() && proto == Some(ipproto::TCP)) {
            return Err(OdpError::new(format!(
                "tcp_flags({body}) needs an IP attribute with proto=6 beside it"
            )));
        }
        let (v, mk) = parse_tcp_flags(body)?;
        m.set(F::TcpFlags, v, mk);
    }
    if let Some(body) = lv.nd {
        let icmp_type = m.exact(F::TpSrc);
        if lv.l4.map(|(n, _)| n) != Some("icmpv6") || !matches!(icmp_type, Some(135 | 136)) {
            return Err(OdpError::new(format!(
                "nd({body}) needs icmpv6(type=135) or icmpv6(type=136) beside it"
            )));
        }
        parse_subs(m, "nd", body, ND)?;
    }
    Ok(())
}

/// `vlan(vid=…,pcp=…[,cfi=1])` into the TCI field `tci`.
fn parse_vlan(m: &mut Match, body: &str, tci: FieldId) -> Result<()> {
    let (mut v, mut mk) = (0u128, 0u128);
    let mut seen = Vec::new();
    for item in split_top(body)? {
        let (name, value) = assignment(item)?;
        if seen.contains(&name) {
            return Err(OdpError::new(format!(
                "field `{name}` appears twice in vlan(…)"
            )));
        }
        seen.push(name);
        match name {
            "vid" => {
                let (fv, fm) = parse_value(value, Kind::Dec, 12, "vlan vid")?;
                v |= fv;
                mk |= fm;
            }
            "pcp" => {
                let (fv, fm) = parse_value(value, Kind::Dec, 3, "vlan pcp")?;
                v |= fv << 13;
                mk |= fm << 13;
            }
            // The tag is present by construction (its TPID is matched);
            // `cfi=1` says just that. `cfi=0` (tag absent) cannot be
            // expressed on a tag that is present.
            "cfi" if value == "1" => {}
            "cfi" => {
                return Err(OdpError::new(format!(
                    "vlan(…) field `cfi={value}` is not supported (only cfi=1)"
                )))
            }
            _ => {
                return Err(OdpError::new(format!(
                    "unknown field `{name}` in vlan(…) (known: vid, pcp, cfi)"
                )))
            }
        }
    }
    m.set(tci, v, mk);
    Ok(())
}

fn fmt_vlan(key: &FlowKey, mask: &FlowMask, tci: FieldId) -> String {
    let (v, mk) = (key.get(tci), mask.get(tci));
    let mut body = String::new();
    if mk & 0x0fff != 0 {
        fmt_value(&mut body, Kind::Dec, 12, v & 0x0fff, mk & 0x0fff);
        body.insert_str(0, "vid=");
    }
    if mk & 0xe000 != 0 {
        if !body.is_empty() {
            body.push(',');
        }
        body.push_str("pcp=");
        fmt_value(&mut body, Kind::Dec, 3, (v >> 13) & 7, (mk >> 13) & 7);
    }
    format!("vlan({body})")
}

/// Prints a key and mask the way `dpctl/dump-flows` does: only attributes
/// and fields with non-zero mask bits, in ODP order.
pub fn format_key(key: &FlowKey, mask: &FlowMask) -> String {
    let key = key.masked(mask);
    let mut out = Vec::new();
    fmt_scalar(&mut out, "skb_mark", &key, mask, F::PktMark, Kind::Hex);
    fmt_scalar(&mut out, "recirc_id", &key, mask, F::RecircId, Kind::Hex);
    fmt_scalar(&mut out, "dp_hash", &key, mask, F::DpHash, Kind::Hex);
    fmt_scalar(&mut out, "in_port", &key, mask, F::InPort, Kind::Dec);
    fmt_subs(&mut out, "eth", &key, mask, ETH);
    let mut s = out.join(",");
    let inner = fmt_level(&key, mask, 0);
    if !inner.is_empty() {
        if !s.is_empty() {
            s.push(',');
        }
        s.push_str(&inner);
    }
    s
}

fn fmt_level(key: &FlowKey, mask: &FlowMask, depth: usize) -> String {
    let (tpid, tci) = if depth == 0 {
        (F::VlanOuterTpid, F::VlanOuterTci)
    } else {
        (F::VlanInnerTpid, F::VlanInnerTci)
    };
    let mut out = Vec::new();
    if depth < 2 && mask.get(tpid) != 0 && key.get(tpid) != 0 {
        fmt_scalar(&mut out, "eth_type", key, mask, tpid, Kind::EthType);
        out.push(fmt_vlan(key, mask, tci));
        out.push(format!("encap({})", fmt_level(key, mask, depth + 1)));
        return out.join(",");
    }
    fmt_scalar(&mut out, "eth_type", key, mask, F::EthType, Kind::EthType);
    let exact = |f: FieldId| mask.is_exact(f).then(|| key.get(f));
    let eth_type = exact(F::EthType).map(|v| v as u16);
    let l3 = match eth_type {
        Some(ethertype::IPV4) => Some(("ipv4", IPV4)),
        Some(ethertype::IPV6) => Some(("ipv6", IPV6)),
        Some(ethertype::ARP | ethertype::RARP) => Some(("arp", ARP)),
        Some(ethertype::MPLS | ethertype::MPLS_MCAST) => Some(("mpls", MPLS)),
        _ => None,
    };
    let Some((l3_name, l3_subs)) = l3 else {
        return out.join(",");
    };
    fmt_subs(&mut out, l3_name, key, mask, l3_subs);
    let proto = exact(F::IpProto).map(|v| v as u8);
    let l4 = match (l3_name, proto) {
        ("ipv4" | "ipv6", Some(ipproto::TCP)) => Some(("tcp", PORTS)),
        ("ipv4" | "ipv6", Some(ipproto::UDP)) => Some(("udp", PORTS)),
        ("ipv4" | "ipv6", Some(ipproto::SCTP)) => Some(("sctp", PORTS)),
        ("ipv4", Some(ipproto::ICMP)) => Some(("icmp", ICMP)),
        ("ipv6", Some(ipproto::ICMPV6)) => Some(("icmpv6", ICMP)),
        _ => None,
    };
    if let Some((l4_name, l4_subs)) = l4 {
        fmt_subs(&mut out, l4_name, key, mask, l4_subs);
        if l4_name == "tcp" && mask.get(F::TcpFlags) != 0 {
            out.push(fmt_tcp_flags(key.get(F::TcpFlags), mask.get(F::TcpFlags)));
        }
        if l4_name == "icmpv6" && matches!(exact(F::TpSrc), Some(135 | 136)) {
            fmt_subs(&mut out, "nd", key, mask, ND);
        }
    }
    out.join(",")
}

#[cfg(test)]
mod tests {
    use super::super::all_ones;
    use super::*;
    use std::net::Ipv4Addr;

    /// Parses `text`, checks it prints back identically, and returns it.
    fn round_trip(text: &str) -> (FlowKey, FlowMask) {
        let (k, m) = parse_key(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(format_key(&k, &m), text);
        (k, m)
    }

    fn err(text: &str) -> String {
        parse_key(text).unwrap_err().to_string()
    }

    #[test]
    fn masked_ipv4_udp_key() {
        let (k, m) = round_trip(
            "in_port(1),eth_type(0x0800),ipv4(dst=10.0.0.0/255.0.0.0,proto=17),udp(dst=53)",
        );
        assert_eq!(k.in_port(), 1);
        assert_eq!(m.in_port(), u32::MAX);
        assert_eq!(k.eth_type(), 0x0800);
        assert_eq!(m.eth_type(), 0xffff);
        // eth_type without vlan() also pins "untagged".
        assert_eq!((k.vlan_outer_tpid(), m.vlan_outer_tpid()), (0, 0xffff));
        assert_eq!(k.ipv4_dst(), Ipv4Addr::new(10, 0, 0, 0));
        assert_eq!(m.ipv4_dst(), Ipv4Addr::new(255, 0, 0, 0));
        assert_eq!(m.ipv4_src(), Ipv4Addr::UNSPECIFIED);
        assert_eq!((k.ip_proto(), m.ip_proto()), (17, 0xff));
        assert_eq!((k.tp_dst(), m.tp_dst(), m.tp_src()), (53, 0xffff, 0));
        // Exactly these mask bits and no others.
        let mut want = FlowMask::default();
        want.set_exact(F::InPort);
        want.set_exact(F::EthType);
        want.set_exact(F::VlanOuterTpid);
        want.set_ipv4_dst(Ipv4Addr::new(255, 0, 0, 0));
        want.set_exact(F::IpProto);
        want.set_exact(F::TpDst);
        assert_eq!(m, want);
    }

    #[test]
    fn exact_dump_style_key() {
        let (k, m) = round_trip(
            "recirc_id(0),in_port(1),eth(src=02:00:00:00:00:01,dst=02:00:00:00:00:02),\
             eth_type(0x0800),ipv4(src=10.0.0.1,dst=172.16.0.1,proto=17,tos=0,ttl=64,frag=no),\
             udp(src=1024,dst=5001)",
        );
        assert_eq!(k.eth_src(), [2, 0, 0, 0, 0, 1]);
        assert_eq!(k.eth_dst(), [2, 0, 0, 0, 0, 2]);
        assert_eq!(k.ip_ttl(), 64);
        assert_eq!(m.ip_frag(), 3);
        assert_eq!(m.recirc_id(), u32::MAX);
        assert_eq!((k.tp_src(), k.tp_dst()), (1024, 5001));
    }

    #[test]
    fn every_attribute_round_trips() {
        for text in [
            "skb_mark(0x1230/0xfff0),recirc_id(0x1),dp_hash(0xabc),in_port(7)",
            "in_port(1),eth(src=00:01:02:03:04:00/ff:ff:ff:ff:ff:f0,dst=10:11:12:13:14:10/ff:ff:ff:ff:ff:f0)",
            "in_port(1),eth_type(0x1230/0xfff0)",
            "in_port(1),eth_type(0x0800),ipv4(src=35.8.2.0/255.255.255.0,dst=172.16.0.0/255.255.255.0,proto=0/0xf0,tos=0x80/0xf0,ttl=128/0xf0,frag=no)",
            "in_port(1),eth_type(0x0800),ipv4(proto=6,frag=first/0x1),tcp(src=256/0xff00,dst=144/0xff)",
            "in_port(1),eth_type(0x0800),ipv4(proto=6),tcp(dst=22),tcp_flags(syn|ack)",
            "in_port(1),eth_type(0x0800),ipv4(proto=6),tcp_flags(+syn-ack)",
            "in_port(1),eth_type(0x0800),ipv4(proto=6),tcp(dst=22),tcp_flags(0)",
            "in_port(1),eth_type(0x0800),ipv4(proto=132),sctp(src=1,dst=2)",
            "in_port(1),eth_type(0x0800),ipv4(proto=1,frag=no),icmp(type=8,code=0)",
            "in_port(1),eth_type(0x86dd),ipv6(src=::1/::ff,dst=2001:db8::2,label=0x12345,proto=0/0xf0,tclass=0x70/0xf0,hlimit=128,frag=later)",
            "in_port(1),eth_type(0x86dd),ipv6(proto=17),udp(src=6630,dst=22)",
            "in_port(1),eth_type(0x86dd),ipv6(proto=58),icmpv6(type=136,code=0),nd(target=::3,sll=00:05:06:07:08:09,tll=00:0a:0b:0c:0d:0e)",
            "in_port(1),eth_type(0x86dd),ipv6(proto=58),icmpv6(type=135,code=0),nd(target=::2/::fa)",
            "in_port(1),eth_type(0x0806),arp(sip=1.2.3.0/255.255.255.250,tip=5.6.7.8,op=1,sha=00:0f:10:11:12:13,tha=00:14:15:16:17:00/ff:ff:ff:ff:ff:00)",
            "in_port(1),eth_type(0x8847),mpls(label=100,tc=3,ttl=64,bos=1)",
            "in_port(1),eth_type(0x8848),mpls(label=100/0xff,tc=6/0x6,ttl=64/0xf0,bos=1)",
            "in_port(2),eth(dst=ff:ff:ff:ff:ff:ff),eth_type(0x8100),vlan(vid=10,pcp=0),encap(eth_type(0x0800),ipv4(proto=17),udp(dst=67))",
            "in_port(2),eth_type(0x8100),vlan(vid=96/0xff0,pcp=6/0x6),encap()",
            "in_port(2),eth_type(0x88a8),vlan(vid=100),encap(eth_type(0x8100),vlan(vid=200,pcp=3),encap(eth_type(0x86dd)))",
            "in_port(2),eth_type(0x8100),vlan(vid=5),encap(eth_type(0x0806),arp(op=2))",
            "",
        ] {
            round_trip(text);
        }
    }

    #[test]
    fn vlan_fields_land_in_the_tag() {
        let (k, m) = round_trip(
            "in_port(2),eth_type(0x8100),vlan(vid=10,pcp=5),encap(eth_type(0x0800),ipv4(proto=17))",
        );
        assert_eq!((k.vlan_outer_tpid(), m.vlan_outer_tpid()), (0x8100, 0xffff));
        assert_eq!((k.vlan_outer_tci(), m.vlan_outer_tci()), (0xa00a, 0xefff));
        // Inside the encap, eth_type is the key's and the inner tag is absent.
        assert_eq!((k.eth_type(), m.eth_type()), (0x0800, 0xffff));
        assert_eq!((k.vlan_inner_tpid(), m.vlan_inner_tpid()), (0, 0xffff));
    }

    #[test]
    fn alternative_input_spellings() {
        let (k, m) = parse_key(
            "in_port(1), eth_type(0x0800), ipv4(dst=10.1.0.0/16, src=192.168.0.1/24, tos=32, proto=6), tcp(dst=0x50)",
        )
        .unwrap();
        assert_eq!(m.ipv4_dst(), Ipv4Addr::new(255, 255, 0, 0));
        assert_eq!(k.ipv4_src(), Ipv4Addr::new(192, 168, 0, 0));
        assert_eq!(k.tp_dst(), 80);
        assert_eq!(
            format_key(&k, &m),
            "in_port(1),eth_type(0x0800),ipv4(src=192.168.0.0/255.255.255.0,dst=10.1.0.0/255.255.0.0,proto=6,tos=0x20),tcp(dst=80)"
        );
        // Attribute order does not matter.
        let (k2, m2) = parse_key("tcp(dst=80),ipv4(proto=6),eth_type(0x0800),in_port(1)").unwrap();
        let (k3, m3) = parse_key("in_port(1),eth_type(0x0800),ipv4(proto=6),tcp(dst=80)").unwrap();
        assert_eq!((k2, m2), (k3, m3));
        // Symbolic and hex TCP flags agree.
        let a = parse_key("in_port(1),eth_type(0x0800),ipv4(proto=6),tcp_flags(0x012)").unwrap();
        let b = parse_key("in_port(1),eth_type(0x0800),ipv4(proto=6),tcp_flags(syn|ack)").unwrap();
        assert_eq!(a, b);
        let c =
            parse_key("in_port(1),eth_type(0x0800),ipv4(proto=6),tcp_flags(0x002/0x012)").unwrap();
        let d = parse_key("in_port(1),eth_type(0x0800),ipv4(proto=6),tcp_flags(+syn-ack)").unwrap();
        assert_eq!(c, d);
        // packet_type of Ethernet is accepted and implied.
        let e = parse_key("in_port(1),packet_type(ns=0,id=0),eth_type(0x0806)").unwrap();
        assert_eq!(format_key(&e.0, &e.1), "in_port(1),eth_type(0x0806)");
    }

    #[test]
    fn errors_name_the_bad_token() {
        assert_eq!(
            err("in_port(1),eth_type(0x0800),ipv4(dst=10.0.0.300)"),
            "`10.0.0.300` is not a valid IPv4 address for ipv4 dst"
        );
        assert_eq!(
            err("in_port(1),ipv4(proto=17)"),
            "ipv4(proto=17) needs eth_type(0x0800) beside it"
        );
        assert_eq!(
            err("in_port(1),eth_type(0x0800),ipv4(proto=6),udp(dst=53)"),
            "udp(dst=53) needs ipv4(…) or ipv6(proto=17) beside it"
        );
        assert_eq!(
            err("in_port(1),eth_type(0x0800),ipv4(proto=17),udp(dst=70000)"),
            "value `70000` is too large for udp dst (16 bits)"
        );
        assert_eq!(
            err("in_port(1),eth_type(0x0800),ipv4(prot=17)"),
            "unknown field `prot` in ipv4(…) (known: src, dst, proto, tos, ttl, frag)"
        );
        assert_eq!(
            err("in_port(1),frob(2)"),
            "unknown or unsupported key attribute `frob(…)`"
        );
        assert_eq!(
            err("in_port(1),in_port(2)"),
            "attribute `in_port(…)` appears twice"
        );
        assert_eq!(err("in_port(1"), "missing `)` in `in_port(1`");
        assert_eq!(err("in_port(1)),"), "unbalanced `)` in `in_port(1)),`");
        assert_eq!(err("in_port(x)"), "`x` is not a valid number for in_port");
        assert_eq!(
            err("in_port(1),eth(src=00:01:02:03:04)"),
            "`00:01:02:03:04` is not a valid Ethernet address for eth src"
        );
        assert_eq!(
            err("in_port(1),eth_type(0x0800),ipv4(frag=maybe)"),
            "`maybe` is not a fragment type for ipv4 frag (expected no, first or later)"
        );
        assert_eq!(
            err("in_port(1),vlan(vid=1),encap()"),
            "vlan(vid=1) needs an eth_type(…) with the tag's TPID before it"
        );
        assert_eq!(
            err("in_port(1),eth_type(0x8100),vlan(vid=1),ipv4(proto=1)"),
            "ipv4(…) must be inside encap(…) after vlan(…)"
        );
        assert_eq!(
            err("in_port(1),eth_type(0x0800),ipv4(proto=6),tcp_flags(syn|bogus)"),
            "unknown TCP flag `bogus` in tcp_flags(…)"
        );
        assert_eq!(
            err("in_port(1),,eth_type(0x0800)"),
            "empty item after `in_port(1)` in `in_port(1),,eth_type(0x0800)`"
        );
        assert_eq!(
            err("in_port(1),eth_type(0x0800),ipv4(dst=10.0.0.0/33)"),
            "prefix length `/33` is too long for ipv4 dst"
        );
        // Deep nesting is refused, not recursed into without bound.
        let deep = format!(
            "{}{}",
            "eth_type(0x8100),vlan(vid=1),encap(".repeat(40),
            ")".repeat(40)
        );
        assert!(parse_key(&deep).is_err());
    }

    /// A small deterministic generator for the round-trip property.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
            xs[(self.next() % xs.len() as u64) as usize]
        }

        /// Gives `field` a random value under a mask that is absent, exact
        /// or random.
        fn field(&mut self, m: &mut Match, field: FieldId) {
            let full = all_ones(field.width());
            let raw = (u128::from(self.next()) << 64) | u128::from(self.next());
            let mask = match self.next() % 3 {
                0 => 0,
                1 => full,
                _ => raw.rotate_left(7) & full,
            };
            m.set(field, raw & full, mask);
        }
    }

    fn exact(m: &mut Match, field: FieldId, value: u128) {
        m.set(field, value, all_ones(field.width()));
    }

    /// A random key and mask that ODP text can express (prerequisites
    /// exact, tags with exact TPIDs, no DEI bits).
    fn random_match(rng: &mut Rng) -> Match {
        let mut m = Match::default();
        let port = u128::from(rng.next() as u32);
        exact(&mut m, F::InPort, port);
        for f in [F::RecircId, F::PktMark, F::DpHash, F::EthSrc, F::EthDst] {
            rng.field(&mut m, f);
        }
        let tags = rng.pick(&[0usize, 0, 1, 2]);
        let levels = [
            (F::VlanOuterTpid, F::VlanOuterTci),
            (F::VlanInnerTpid, F::VlanInnerTci),
        ];
        for (tpid, tci) in levels.into_iter().take(tags) {
            let t = rng.pick(&[0x8100u128, 0x88a8]);
            exact(&mut m, tpid, t);
            let vid_mask = rng.pick(&[0u128, 0xfff, 0x0f0]);
            let pcp_mask = rng.pick(&[0u128, 0xe000, 0x6000]);
            m.set(tci, u128::from(rng.next() as u16), vid_mask | pcp_mask);
        }
        let l3 = rng.pick(&["ipv4", "ipv6", "arp", "mpls", "other", "none"]);
        let eth_type = match l3 {
            "ipv4" => ethertype::IPV4,
            "ipv6" => ethertype::IPV6,
            "arp" => rng.pick(&[ethertype::ARP, ethertype::RARP]),
            "mpls" => rng.pick(&[ethertype::MPLS, ethertype::MPLS_MCAST]),
            _ => 0x88cc,
        };
        match l3 {
            "none" => return m,
            "other" => rng.field(&mut m, F::EthType),
            _ => exact(&mut m, F::EthType, u128::from(eth_type)),
        }
        // An eth_type printed without a vlan() beside it pins "no tag".
        if tags < 2 && m.mask.eth_type() != 0 {
            let tpid = if tags == 0 {
                F::VlanOuterTpid
            } else {
                F::VlanInnerTpid
            };
            exact(&mut m, tpid, 0);
        }
        let fields: &[FieldId] = match l3 {
            "ipv4" => &[F::Ipv4Src, F::Ipv4Dst, F::IpTos, F::IpTtl],
            "ipv6" => &[F::Ipv6Src, F::Ipv6Dst, F::Ipv6Label, F::IpTos, F::IpTtl],
            "arp" => &[F::ArpSpa, F::ArpTpa, F::ArpOp, F::ArpSha, F::ArpTha],
            "mpls" => &[F::MplsLabel, F::MplsTc, F::MplsTtl, F::MplsBos],
            _ => &[],
        };
        for &f in fields {
            rng.field(&mut m, f);
        }
        if l3 != "ipv4" && l3 != "ipv6" {
            return m;
        }
        let (fv, fm) = rng.pick(&[(0u128, 0u128), (0, 3), (1, 3), (3, 3), (0, 1), (1, 1)]);
        m.set(F::IpFrag, fv, fm);
        let icmp = if l3 == "ipv4" {
            ipproto::ICMP
        } else {
            ipproto::ICMPV6
        };
        let proto = rng.pick(&[ipproto::TCP, ipproto::UDP, ipproto::SCTP, icmp, 47]);
        if proto == 47 {
            rng.field(&mut m, F::IpProto);
            return m;
        }
        exact(&mut m, F::IpProto, u128::from(proto));
        if proto == ipproto::ICMPV6 && rng.next() & 1 == 0 {
            let nd_type = rng.pick(&[135u128, 136]);
            exact(&mut m, F::TpSrc, nd_type);
            rng.field(&mut m, F::TpDst);
            for f in [F::NdTarget, F::NdSll, F::NdTll] {
                rng.field(&mut m, f);
            }
            return m;
        }
        rng.field(&mut m, F::TpSrc);
        rng.field(&mut m, F::TpDst);
        if proto == ipproto::TCP {
            rng.field(&mut m, F::TcpFlags);
        }
        m
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

        /// Whatever the printer writes, the parser reads back bit for bit.
        #[test]
        fn printed_keys_parse_back(seed in 1u64..) {
            let mut rng = Rng(seed);
            let m = random_match(&mut rng);
            let text = format_key(&m.key, &m.mask);
            let parsed = parse_key(&text);
            proptest::prop_assert!(parsed.is_ok(), "{}: {:?}", text, parsed);
            let (k, mk) = parsed.unwrap_or_default();
            proptest::prop_assert_eq!(mk, m.mask, "{}", text);
            proptest::prop_assert_eq!(k, m.key, "{}", text);
            proptest::prop_assert_eq!(format_key(&k, &mk), text);
        }
    }
}
