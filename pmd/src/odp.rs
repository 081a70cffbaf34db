//! The ODP text syntax of datapath flows, as `ovs-appctl dpctl/add-flow`
//! reads it and `dpctl/dump-flows` prints it, parsed and printed both ways.
//!
//! A flow line looks like
//! `ufid:UUID, recirc_id(0),in_port(1),eth(src=…,dst=…),eth_type(0x0800),
//! ipv4(src=…,dst=10.0.0.0/255.0.0.0,proto=17,frag=no),udp(dst=53),
//! packets:10, bytes:600, used:0.500s, actions:2`. The key is a list of
//! *attributes* `name(…)`; inside an attribute, `field=value[/mask]`.
//! Meaning of the text, in [`FlowKey`]/[`FlowMask`] terms:
//! - an omitted attribute or field is wildcarded (mask 0); a field given
//!   without `/mask` is exact; `/mask` sets exactly those mask bits;
//! - VLANs nest as in ODP: `eth_type(0x8100),vlan(vid=10,pcp=0),encap(…)`,
//!   where the outer `eth_type` is the tag's TPID and the innermost
//!   `eth_type` inside the `encap` is the key's `eth_type`. An `eth_type`
//!   with no `vlan` beside it also matches "no (further) tag" exactly;
//! - `skb_mark` is the key's `pkt_mark`; ICMP type/code are `tp_src/tp_dst`.
//!
//! Prerequisites are enforced on parse, as the datapath does for masks:
//! `ipv4(…)` needs `eth_type(0x0800)` beside it, `tcp(…)` needs an IP
//! attribute with `proto=6`, `nd(…)` needs `icmpv6(type=135|136)`, and so
//! on. That keeps printing unambiguous: which L3/L4 attribute name to
//! print follows from the exact `eth_type` and `proto` values.
//!
//! Printing follows `dpctl/dump-flows`: attributes in ODP order
//! (skb_mark, recirc_id, dp_hash, in_port, eth, eth_type/vlan/encap, L3,
//! L4, tcp_flags, nd), only fields with a non-zero mask, `value/mask` when
//! the mask is partial, decimal ports and numbers, `0x` for tos, marks and
//! labels, `used:` as seconds ago with three decimals or `never`.
//!
//! Who calls it: the control side only (dpctl commands, `--flows` files,
//! tests); never the PMD. Errors ([`OdpError`]) are one sentence naming the
//! offending token; no input panics.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::actions::{DpAction, SetField};
use crate::flow::{DpFlow, FlowStats};
use crate::key::{FieldId, FieldValue, FlowKey, FlowMask, Frag};
use crate::parse::{ethertype, ipproto};

/// A parse error: one sentence that names the offending token.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
#[error("{0}")]
pub struct OdpError(String);

impl OdpError {
    fn new(msg: impl Into<String>) -> OdpError {
        OdpError(msg.into())
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.0
    }
}

type Result<T> = std::result::Result<T, OdpError>;

/// Deepest `encap(…)`/`clone(…)` nesting accepted, so hostile input cannot
/// recurse without bound.
const MAX_DEPTH: usize = 8;

// ---------------------------------------------------------------------------
// Lexing: top-level items of a comma-separated list with balanced parens.
// ---------------------------------------------------------------------------

/// Splits `s` at commas that are not inside parentheses, trimming each
/// piece. An empty input gives no items.
fn split_top(s: &str) -> Result<Vec<&str>> {
    let mut items = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth = depth
                    .checked_sub(1)
                    .ok_or_else(|| OdpError::new(format!("unbalanced `)` in `{}`", s.trim())))?;
            }
            ',' if depth == 0 => {
                items.push(s[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err(OdpError::new(format!("missing `)` in `{}`", s.trim())));
    }
    let last = s[start..].trim();
    if !last.is_empty() || !items.is_empty() {
        items.push(last);
    }
    if let Some(empty) = items.iter().position(|i| i.is_empty()) {
        let near = items.get(empty.saturating_sub(1)).copied().unwrap_or("");
        return Err(OdpError::new(format!(
            "empty item after `{near}` in `{}`",
            s.trim()
        )));
    }
    Ok(items)
}

/// Splits `name(body)` into its name and body. Returns `None` for items
/// without parentheses.
fn call(item: &str) -> Result<Option<(&str, &str)>> {
    let Some(open) = item.find('(') else {
        return Ok(None);
    };
    if !item.ends_with(')') {
        return Err(OdpError::new(format!(
            "unexpected text after `)` in `{item}`"
        )));
    }
    Ok(Some((item[..open].trim(), &item[open + 1..item.len() - 1])))
}

/// Splits `name=value` (value may contain `/mask`).
fn assignment(item: &str) -> Result<(&str, &str)> {
    item.split_once('=')
        .map(|(n, v)| (n.trim(), v.trim()))
        .ok_or_else(|| OdpError::new(format!("expected `name=value`, found `{item}`")))
}

// ---------------------------------------------------------------------------
// Values.
// ---------------------------------------------------------------------------

/// How a field's value is written.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    /// Decimal value, `/0x…` mask.
    Dec,
    /// `0x…` value (plain `0` for zero), `/0x…` mask.
    Hex,
    /// Four-digit `0x…` value and mask (ethertypes).
    EthType,
    /// `aa:bb:cc:dd:ee:ff`.
    Mac,
    /// Dotted quad; the mask may be dotted or a prefix length.
    Ipv4,
    /// IPv6 text; the mask may be an address or a prefix length.
    Ipv6,
    /// `no` / `first` / `later`.
    Frag,
}

fn all_ones(width: u32) -> u128 {
    if width >= 128 {
        u128::MAX
    } else {
        (1u128 << width) - 1
    }
}

fn parse_int(s: &str, what: &str) -> Result<u128> {
    let s = s.trim();
    let parsed = if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u128::from_str_radix(hex, 16)
    } else {
        s.parse::<u128>()
    };
    parsed.map_err(|_| OdpError::new(format!("`{s}` is not a valid number for {what}")))
}

fn parse_mac(s: &str, what: &str) -> Result<u128> {
    let bad = || OdpError::new(format!("`{s}` is not a valid Ethernet address for {what}"));
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() != 6 {
        return Err(bad());
    }
    let mut v = 0u128;
    for p in parts {
        if p.is_empty() || p.len() > 2 {
            return Err(bad());
        }
        v = (v << 8) | u128::from(u8::from_str_radix(p, 16).map_err(|_| bad())?);
    }
    Ok(v)
}

/// Parses one `value[/mask]` of `kind` and `width` bits; returns (value,
/// mask) with the mask all ones when absent.
fn parse_value(text: &str, kind: Kind, width: u32, what: &str) -> Result<(u128, u128)> {
    let full = all_ones(width);
    let (v, m) = match text.split_once('/') {
        Some((v, m)) => (v.trim(), Some(m.trim())),
        None => (text.trim(), None),
    };
    let value =
        match kind {
            Kind::Dec | Kind::Hex | Kind::EthType => parse_int(v, what)?,
            Kind::Mac => parse_mac(v, what)?,
            Kind::Ipv4 => u128::from(u32::from(v.parse::<Ipv4Addr>().map_err(|_| {
                OdpError::new(format!("`{v}` is not a valid IPv4 address for {what}"))
            })?)),
            Kind::Ipv6 => u128::from(v.parse::<Ipv6Addr>().map_err(|_| {
                OdpError::new(format!("`{v}` is not a valid IPv6 address for {what}"))
            })?),
            Kind::Frag => match v {
                "no" => u128::from(Frag::No.bits()),
                "first" => u128::from(Frag::First.bits()),
                "later" => u128::from(Frag::Later.bits()),
                _ => parse_int(v, what).map_err(|_| {
                    OdpError::new(format!(
                        "`{v}` is not a fragment type for {what} (expected no, first or later)"
                    ))
                })?,
            },
        };
    let mask = match m {
        None => full,
        Some(m) => match kind {
            Kind::Mac => parse_mac(m, what)?,
            Kind::Ipv4 | Kind::Ipv6 if !m.contains(['.', ':']) => {
                let len = parse_int(m, what)?;
                if len > u128::from(width) {
                    return Err(OdpError::new(format!(
                        "prefix length `/{m}` is too long for {what}"
                    )));
                }
                // len <= width <= 128, so the shift is in range.
                let len = len as u32;
                if len == 0 {
                    0
                } else {
                    full & !(all_ones(width - len))
                }
            }
            Kind::Ipv4 => u128::from(u32::from(m.parse::<Ipv4Addr>().map_err(|_| {
                OdpError::new(format!("`{m}` is not a valid IPv4 mask for {what}"))
            })?)),
            Kind::Ipv6 => u128::from(m.parse::<Ipv6Addr>().map_err(|_| {
                OdpError::new(format!("`{m}` is not a valid IPv6 mask for {what}"))
            })?),
            Kind::Dec | Kind::Hex | Kind::EthType | Kind::Frag => parse_int(m, what)?,
        },
    };
    if value > full {
        return Err(OdpError::new(format!(
            "value `{v}` is too large for {what} ({width} bits)"
        )));
    }
    if mask > full {
        return Err(OdpError::new(format!(
            "mask `{}` is too large for {what} ({width} bits)",
            m.unwrap_or("")
        )));
    }
    Ok((value & mask, mask))
}

fn fmt_mac(out: &mut String, v: u128) {
    let b = (v as u64).to_be_bytes();
    let _ = write!(
        out,
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        b[2], b[3], b[4], b[5], b[6], b[7]
    );
}

fn fmt_hex(out: &mut String, v: u128) {
    if v == 0 {
        out.push('0');
    } else {
        let _ = write!(out, "{v:#x}");
    }
}

/// Writes `value[/mask]` in the style of `kind`.
fn fmt_value(out: &mut String, kind: Kind, width: u32, value: u128, mask: u128) {
    let partial = mask != all_ones(width);
    match kind {
        Kind::Dec => {
            let _ = write!(out, "{value}");
            if partial {
                let _ = write!(out, "/{mask:#x}");
            }
        }
        Kind::Hex => {
            fmt_hex(out, value);
            if partial {
                let _ = write!(out, "/{mask:#x}");
            }
        }
        Kind::EthType => {
            let _ = write!(out, "0x{value:04x}");
            if partial {
                let _ = write!(out, "/0x{mask:04x}");
            }
        }
        Kind::Mac => {
            fmt_mac(out, value);
            if partial {
                out.push('/');
                fmt_mac(out, mask);
            }
        }
        Kind::Ipv4 => {
            let _ = write!(out, "{}", Ipv4Addr::from(value as u32));
            if partial {
                let _ = write!(out, "/{}", Ipv4Addr::from(mask as u32));
            }
        }
        Kind::Ipv6 => {
            let _ = write!(out, "{}", Ipv6Addr::from(value));
            if partial {
                let _ = write!(out, "/{}", Ipv6Addr::from(mask));
            }
        }
        Kind::Frag => match Frag::from_bits(value as u8) {
            Some(f) => {
                out.push_str(f.name());
                if partial {
                    let _ = write!(out, "/{mask:#x}");
                }
            }
            None => {
                let _ = write!(out, "{value:#x}/{mask:#x}");
            }
        },
    }
}

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
struct Match {
    key: FlowKey,
    mask: FlowMask,
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

/// The tcpdump-style flag letters of `dump-flows` statistics (`S.`), or
/// `none`.
pub fn format_tcp_flags_stats(flags: u16) -> String {
    if flags == 0 {
        return "none".into();
    }
    let mut s = String::new();
    for (bit, text) in [
        (0x002, "S"),
        (0x001, "F"),
        (0x008, "P"),
        (0x004, "R"),
        (0x020, "U"),
        (0x010, "."),
        (0x040, "E"),
        (0x080, "C"),
        (0x100, "N"),
        (0x200, "[200]"),
        (0x400, "[400]"),
        (0x800, "[800]"),
    ] {
        if flags & bit != 0 {
            s.push_str(text);
        }
    }
    s
}

fn parse_tcp_flags_stats(s: &str) -> Result<u16> {
    if s == "none" {
        return Ok(0);
    }
    let mut v = 0u16;
    let mut rest = s;
    while !rest.is_empty() {
        let (bit, len) = match rest.as_bytes()[0] {
            b'S' => (0x002, 1),
            b'F' => (0x001, 1),
            b'P' => (0x008, 1),
            b'R' => (0x004, 1),
            b'U' => (0x020, 1),
            b'.' => (0x010, 1),
            b'E' => (0x040, 1),
            b'C' => (0x080, 1),
            b'N' => (0x100, 1),
            _ if rest.starts_with("[200]") => (0x200, 5),
            _ if rest.starts_with("[400]") => (0x400, 5),
            _ if rest.starts_with("[800]") => (0x800, 5),
            _ => {
                return Err(OdpError::new(format!(
                    "`{s}` is not a valid set of TCP flags in flags:"
                )))
            }
        };
        v |= bit;
        rest = &rest[len..];
    }
    Ok(v)
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

fn parse_level(m: &mut Match, items: &[&str], depth: usize) -> Result<()> {
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

// ---------------------------------------------------------------------------
// UFIDs.
// ---------------------------------------------------------------------------

/// Prints a ufid as `ufid:` plus UUID text (8-4-4-4-12 hex digits).
pub fn format_ufid(ufid: u128) -> String {
    let h = format!("{ufid:032x}");
    format!(
        "ufid:{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Parses `ufid:UUID` (the prefix is optional; dashes are optional).
pub fn parse_ufid(s: &str) -> Result<u128> {
    let text = s.trim();
    let body = text.strip_prefix("ufid:").unwrap_or(text);
    let hex: String = body.chars().filter(|&c| c != '-').collect();
    if hex.len() != 32 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(OdpError::new(format!(
            "`{text}` is not a valid ufid (expected 32 hex digits as a UUID)"
        )));
    }
    u128::from_str_radix(&hex, 16)
        .map_err(|_| OdpError::new(format!("`{text}` is not a valid ufid")))
}

// ---------------------------------------------------------------------------
// Actions.
// ---------------------------------------------------------------------------

/// Parses an action list: `drop`, or comma-separated actions such as
/// `2`, `set(ipv4(dst=10.0.0.1))`, `set(eth(src=…/ff:ff:ff:00:00:00))`,
/// `push_vlan(vid=10,pcp=0)`, `pop_vlan`,
/// `push_mpls(label=1,tc=0,ttl=64,bos=1,eth_type=0x8847)`,
/// `pop_mpls(eth_type=0x800)`, `userspace(pid=0,userdata(…))`,
/// `recirc(0x1)`, `clone(…)`. An empty string is also drop.
pub fn parse_actions(s: &str) -> Result<Vec<DpAction>> {
    let s = s.trim();
    if s == "drop" {
        return Ok(Vec::new());
    }
    parse_action_list(s, 0)
}

fn parse_action_list(s: &str, depth: usize) -> Result<Vec<DpAction>> {
    if depth > MAX_DEPTH {
        return Err(OdpError::new(format!(
            "actions nested deeper than {MAX_DEPTH} levels"
        )));
    }
    let mut out = Vec::new();
    for item in split_top(s)? {
        parse_action(item, depth, &mut out)?;
    }
    Ok(out)
}

fn parse_action(item: &str, depth: usize, out: &mut Vec<DpAction>) -> Result<()> {
    if item.starts_with(|c: char| c.is_ascii_digit()) {
        let port = parse_int(item, "output port")?;
        let port = u32::try_from(port)
            .map_err(|_| OdpError::new(format!("output port `{item}` is too large")))?;
        out.push(DpAction::Output(port));
        return Ok(());
    }
    match item {
        "pop_vlan" => {
            out.push(DpAction::PopVlan);
            return Ok(());
        }
        "drop" => {
            return Err(OdpError::new(
                "`drop` must be the only action (an empty list drops)",
            ))
        }
        _ => {}
    }
    let Some((name, body)) = call(item)? else {
        return Err(OdpError::new(format!("unknown action `{item}`")));
    };
    match name {
        "set" => parse_set(body, out)?,
        "push_vlan" => out.push(parse_push_vlan(body)?),
        "push_mpls" => out.push(parse_push_mpls(body)?),
        "pop_mpls" => {
            let (n, v) = assignment(body)?;
            if n != "eth_type" {
                return Err(OdpError::new(format!(
                    "pop_mpls({body}) expects `eth_type=…`"
                )));
            }
            let (et, _) = parse_value(v, Kind::Hex, 16, "pop_mpls eth_type")?;
            out.push(DpAction::PopMpls {
                ethertype: et as u16,
            });
        }
        "recirc" => {
            let (id, _) = parse_value(body, Kind::Hex, 32, "recirc")?;
            out.push(DpAction::Recirc(id as u32));
        }
        "userspace" => out.push(parse_userspace(body)?),
        "clone" => out.push(DpAction::Clone(parse_action_list(body, depth + 1)?)),
        _ => return Err(OdpError::new(format!("unknown action `{name}(…)`"))),
    }
    Ok(())
}

/// The settable fields of each `set(attr(…))` attribute, with their key
/// field (for width and value syntax).
fn set_subs(attr: &str) -> Option<&'static [(&'static str, FieldId, Kind)]> {
    const ETH_SET: &[(&str, FieldId, Kind)] =
        &[("src", F::EthSrc, Kind::Mac), ("dst", F::EthDst, Kind::Mac)];
    const IPV4_SET: &[(&str, FieldId, Kind)] = &[
        ("src", F::Ipv4Src, Kind::Ipv4),
        ("dst", F::Ipv4Dst, Kind::Ipv4),
        ("tos", F::IpTos, Kind::Hex),
        ("ttl", F::IpTtl, Kind::Dec),
    ];
    const IPV6_SET: &[(&str, FieldId, Kind)] = &[
        ("src", F::Ipv6Src, Kind::Ipv6),
        ("dst", F::Ipv6Dst, Kind::Ipv6),
        ("tclass", F::IpTos, Kind::Hex),
        ("hlimit", F::IpTtl, Kind::Dec),
    ];
    const PORT_SET: &[(&str, FieldId, Kind)] =
        &[("src", F::TpSrc, Kind::Dec), ("dst", F::TpDst, Kind::Dec)];
    match attr {
        "eth" => Some(ETH_SET),
        "ipv4" => Some(IPV4_SET),
        "ipv6" => Some(IPV6_SET),
        "tcp" | "udp" | "sctp" => Some(PORT_SET),
        _ => None,
    }
}

/// Builds the `SetField` for `attr.field = bits`.
fn set_field(attr: &str, field: &str, bits: u128) -> Option<SetField> {
    Some(match (attr, field) {
        ("eth", "src") => SetField::EthSrc(<[u8; 6]>::from_bits(bits)),
        ("eth", "dst") => SetField::EthDst(<[u8; 6]>::from_bits(bits)),
        ("ipv4", "src") => SetField::Ipv4Src(Ipv4Addr::from(bits as u32)),
        ("ipv4", "dst") => SetField::Ipv4Dst(Ipv4Addr::from(bits as u32)),
        ("ipv4", "tos") => SetField::Ipv4Tos(bits as u8),
        ("ipv4", "ttl") => SetField::Ipv4Ttl(bits as u8),
        ("ipv6", "src") => SetField::Ipv6Src(Ipv6Addr::from(bits)),
        ("ipv6", "dst") => SetField::Ipv6Dst(Ipv6Addr::from(bits)),
        ("ipv6", "tclass") => SetField::Ipv6Tc(bits as u8),
        ("ipv6", "hlimit") => SetField::Ipv6Hlimit(bits as u8),
        ("tcp", "src") => SetField::TcpSrc(bits as u16),
        ("tcp", "dst") => SetField::TcpDst(bits as u16),
        ("udp", "src") => SetField::UdpSrc(bits as u16),
        ("udp", "dst") => SetField::UdpDst(bits as u16),
        ("sctp", "src") => SetField::SctpSrc(bits as u16),
        ("sctp", "dst") => SetField::SctpDst(bits as u16),
        _ => return None,
    })
}

/// The text position of a `SetField`: (attribute, field, kind, width,
/// value bits).
fn set_text(f: &SetField) -> (&'static str, &'static str, Kind, u32, u128) {
    match *f {
        SetField::EthSrc(v) => ("eth", "src", Kind::Mac, 48, FieldValue::to_bits(v)),
        SetField::EthDst(v) => ("eth", "dst", Kind::Mac, 48, FieldValue::to_bits(v)),
        SetField::VlanTci(v) => ("vlan", "tci", Kind::Hex, 16, u128::from(v)),
        SetField::Ipv4Src(v) => ("ipv4", "src", Kind::Ipv4, 32, FieldValue::to_bits(v)),
        SetField::Ipv4Dst(v) => ("ipv4", "dst", Kind::Ipv4, 32, FieldValue::to_bits(v)),
        SetField::Ipv4Tos(v) => ("ipv4", "tos", Kind::Hex, 8, u128::from(v)),
        SetField::Ipv4Ttl(v) => ("ipv4", "ttl", Kind::Dec, 8, u128::from(v)),
        SetField::Ipv6Src(v) => ("ipv6", "src", Kind::Ipv6, 128, FieldValue::to_bits(v)),
        SetField::Ipv6Dst(v) => ("ipv6", "dst", Kind::Ipv6, 128, FieldValue::to_bits(v)),
        SetField::Ipv6Tc(v) => ("ipv6", "tclass", Kind::Hex, 8, u128::from(v)),
        SetField::Ipv6Hlimit(v) => ("ipv6", "hlimit", Kind::Dec, 8, u128::from(v)),
        SetField::TcpSrc(v) => ("tcp", "src", Kind::Dec, 16, u128::from(v)),
        SetField::TcpDst(v) => ("tcp", "dst", Kind::Dec, 16, u128::from(v)),
        SetField::UdpSrc(v) => ("udp", "src", Kind::Dec, 16, u128::from(v)),
        SetField::UdpDst(v) => ("udp", "dst", Kind::Dec, 16, u128::from(v)),
        SetField::SctpSrc(v) => ("sctp", "src", Kind::Dec, 16, u128::from(v)),
        SetField::SctpDst(v) => ("sctp", "dst", Kind::Dec, 16, u128::from(v)),
    }
}

/// `set(attr(f=v[/m],…))`: one action per field, in text order; a field
/// with a (non-full) mask becomes `SetMasked`.
fn parse_set(body: &str, out: &mut Vec<DpAction>) -> Result<()> {
    let Some((attr, fields)) = call(body.trim())? else {
        return Err(OdpError::new(format!(
            "set({body}) expects an attribute like `ipv4(…)`"
        )));
    };
    if attr == "vlan" {
        out.push(parse_set_vlan(fields)?);
        return Ok(());
    }
    let Some(subs) = set_subs(attr) else {
        return Err(OdpError::new(format!(
            "set({attr}(…)) is not supported (settable: eth, vlan, ipv4, ipv6, tcp, udp, sctp)"
        )));
    };
    let items = split_top(fields)?;
    if items.is_empty() {
        return Err(OdpError::new(format!("set({attr}()) sets no field")));
    }
    let mut seen = Vec::new();
    for item in items {
        let (name, value) = assignment(item)?;
        let Some(&(_, field, kind)) = subs.iter().find(|s| s.0 == name) else {
            let known: Vec<&str> = subs.iter().map(|s| s.0).collect();
            return Err(OdpError::new(format!(
                "field `{name}` of {attr}(…) cannot be set (settable: {})",
                known.join(", ")
            )));
        };
        if seen.contains(&name) {
            return Err(OdpError::new(format!(
                "field `{name}` appears twice in set({attr}(…))"
            )));
        }
        seen.push(name);
        let width = field.width();
        let (v, m) = parse_value(value, kind, width, &format!("set {attr} {name}"))?;
        // Both lookups succeed: `subs` lists exactly the settable pairs.
        let (Some(vf), Some(mf)) = (set_field(attr, name, v), set_field(attr, name, m)) else {
            return Err(OdpError::new(format!(
                "field `{name}` of {attr}(…) cannot be set"
            )));
        };
        if m == all_ones(width) {
            out.push(DpAction::Set(vf));
        } else {
            out.push(DpAction::SetMasked {
                value: vf,
                mask: mf,
            });
        }
    }
    Ok(())
}

/// `set(vlan(vid=…,pcp=…,dei=…))` writes those bits of the outer TCI.
fn parse_set_vlan(body: &str) -> Result<DpAction> {
    let (tci, mask) = parse_tci_fields(body, "set(vlan(…))")?;
    if mask == 0 {
        return Err(OdpError::new("set(vlan()) sets no field"));
    }
    Ok(if mask == 0xffff {
        DpAction::Set(SetField::VlanTci(tci))
    } else {
        DpAction::SetMasked {
            value: SetField::VlanTci(tci),
            mask: SetField::VlanTci(mask),
        }
    })
}

/// Parses `vid=…,pcp=…,dei=…[,cfi=1]` (each optionally masked) into TCI
/// value and mask bits. `cfi=1` is OVS's "tag present" and changes nothing.
fn parse_tci_fields(body: &str, what: &str) -> Result<(u16, u16)> {
    let (mut v, mut m) = (0u128, 0u128);
    let mut seen = Vec::new();
    for item in split_top(body)? {
        let (name, value) = assignment(item)?;
        if seen.contains(&name) {
            return Err(OdpError::new(format!(
                "field `{name}` appears twice in {what}"
            )));
        }
        seen.push(name);
        let (width, shift) = match name {
            "vid" => (12, 0),
            "pcp" => (3, 13),
            "dei" => (1, 12),
            "cfi" if value == "1" => continue,
            "cfi" => {
                return Err(OdpError::new(format!(
                "`cfi={value}` in {what} is not supported (only cfi=1; use dei= for the DEI bit)"
            )))
            }
            _ => {
                return Err(OdpError::new(format!(
                    "unknown field `{name}` in {what} (known: vid, pcp, dei)"
                )))
            }
        };
        let (fv, fm) = parse_value(value, Kind::Dec, width, &format!("{what} {name}"))?;
        v |= fv << shift;
        m |= fm << shift;
    }
    // At most 16 bits were assembled above.
    Ok((v as u16, m as u16))
}

/// Prints the vid/pcp/dei fields of a TCI selected by `mask`.
fn fmt_tci_fields(out: &mut String, tci: u16, mask: u16) {
    let mut parts = Vec::new();
    for (name, width, shift) in [("vid", 12, 0), ("pcp", 3, 13), ("dei", 1, 12)] {
        let fm = u128::from(mask >> shift) & all_ones(width);
        if fm == 0 {
            continue;
        }
        let mut s = format!("{name}=");
        fmt_value(
            &mut s,
            Kind::Dec,
            width,
            u128::from(tci >> shift) & all_ones(width),
            fm,
        );
        parts.push(s);
    }
    out.push_str(&parts.join(","));
}

fn parse_push_vlan(body: &str) -> Result<DpAction> {
    let mut tpid = ethertype::VLAN;
    let mut rest = Vec::new();
    for item in split_top(body)? {
        match assignment(item)? {
            ("tpid", v) => {
                let (t, _) = parse_value(v, Kind::Hex, 16, "push_vlan tpid")?;
                tpid = t as u16;
            }
            _ => rest.push(item),
        }
    }
    let (tci, mask) = parse_tci_fields(&rest.join(","), "push_vlan(…)")?;
    if mask & 0x0fff != 0x0fff {
        return Err(OdpError::new(format!(
            "push_vlan({body}) needs an exact vid=…"
        )));
    }
    // A pushed tag has every bit defined: no field may be partly masked.
    if [0xe000u16, 0x1000]
        .iter()
        .any(|&f| mask & f != 0 && mask & f != f)
    {
        return Err(OdpError::new(format!(
            "push_vlan({body}) cannot take masked fields"
        )));
    }
    Ok(DpAction::PushVlan { tpid, tci })
}

fn parse_push_mpls(body: &str) -> Result<DpAction> {
    let (mut label, mut tc, mut ttl, mut bos, mut et) = (None, None, None, None, None);
    for item in split_top(body)? {
        let (name, value) = assignment(item)?;
        let (slot, width) = match name {
            "label" => (&mut label, 20),
            "tc" => (&mut tc, 3),
            "ttl" => (&mut ttl, 8),
            "bos" => (&mut bos, 1),
            "eth_type" => (&mut et, 16),
            _ => {
                return Err(OdpError::new(format!(
                    "unknown field `{name}` in push_mpls(…) (known: label, tc, ttl, bos, eth_type)"
                )))
            }
        };
        let (v, m) = parse_value(value, Kind::Dec, width, &format!("push_mpls {name}"))?;
        if m != all_ones(width) {
            return Err(OdpError::new(format!(
                "push_mpls field `{name}` cannot be masked"
            )));
        }
        if slot.replace(v).is_some() {
            return Err(OdpError::new(format!(
                "field `{name}` appears twice in push_mpls(…)"
            )));
        }
    }
    let need = |v: Option<u128>, name: &str| {
        v.ok_or_else(|| OdpError::new(format!("push_mpls({body}) needs `{name}=…`")))
    };
    let lse = (need(label, "label")? << 12)
        | (need(tc, "tc")? << 9)
        | (need(bos, "bos")? << 8)
        | need(ttl, "ttl")?;
    let mpls_type = need(et, "eth_type")? as u16;
    if mpls_type != ethertype::MPLS && mpls_type != ethertype::MPLS_MCAST {
        return Err(OdpError::new(format!(
            "push_mpls eth_type {mpls_type:#x} is not an MPLS ethertype (0x8847 or 0x8848)"
        )));
    }
    // 20 + 3 + 1 + 8 bits: fits in 32.
    Ok(DpAction::PushMpls {
        lse: lse as u32,
        ethertype: mpls_type,
    })
}

/// `userspace(pid=N[,userdata(HEX)])`. The datapath routes upcalls by its
/// own rings, so `pid` is accepted and not kept (printed as 0). The ODP
/// userdata bytes are the action's 8-byte big-endian cookie followed by
/// its userdata; shorter userdata means cookie 0.
fn parse_userspace(body: &str) -> Result<DpAction> {
    let mut pid_seen = false;
    let mut data: Option<Vec<u8>> = None;
    for item in split_top(body)? {
        if let Some((name, inner)) = call(item)? {
            if name != "userdata" || data.is_some() {
                return Err(OdpError::new(format!(
                    "unsupported or repeated `{name}(…)` in userspace(…)"
                )));
            }
            data = Some(parse_hex_bytes(inner)?);
            continue;
        }
        match assignment(item)? {
            ("pid", v) if !pid_seen => {
                parse_value(v, Kind::Dec, 32, "userspace pid")?;
                pid_seen = true;
            }
            (name, _) => {
                return Err(OdpError::new(format!(
                    "unsupported or repeated field `{name}` in userspace(…)"
                )))
            }
        }
    }
    if !pid_seen {
        return Err(OdpError::new(format!("userspace({body}) needs `pid=…`")));
    }
    let data = data.unwrap_or_default();
    Ok(if data.len() >= 8 {
        let mut c = [0u8; 8];
        c.copy_from_slice(&data[..8]);
        DpAction::Userspace {
            cookie: u64::from_be_bytes(c),
            userdata: data[8..].to_vec(),
        }
    } else {
        DpAction::Userspace {
            cookie: 0,
            userdata: data,
        }
    })
}

fn parse_hex_bytes(s: &str) -> Result<Vec<u8>> {
    let hex: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    let hex = hex.strip_prefix("0x").unwrap_or(&hex);
    if hex.len() & 1 == 1 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(OdpError::new(format!(
            "`{s}` is not an even number of hex digits in userdata(…)"
        )));
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(&hex[i..i + 2], 16)
                .map_err(|_| OdpError::new(format!("`{s}` is not valid hex in userdata(…)")))
        })
        .collect()
}

/// Prints an action list the way `dump-flows` does after `actions:`;
/// an empty list is `drop`.
pub fn format_actions(actions: &[DpAction]) -> String {
    if actions.is_empty() {
        return "drop".into();
    }
    let mut out = String::new();
    fmt_action_list(&mut out, actions);
    out
}

fn fmt_action_list(out: &mut String, actions: &[DpAction]) {
    let mut i = 0;
    while i < actions.len() {
        if i > 0 {
            out.push(',');
        }
        i += fmt_action(out, &actions[i..]);
    }
}

/// Prints the first action of `rest` (merging a run of sets on the same
/// attribute into one `set(attr(…))`); returns how many it consumed.
fn fmt_action(out: &mut String, rest: &[DpAction]) -> usize {
    match &rest[0] {
        DpAction::Output(p) => {
            let _ = write!(out, "{p}");
        }
        DpAction::Set(_) | DpAction::SetMasked { .. } => return fmt_set_run(out, rest),
        DpAction::PushVlan { tpid, tci } => {
            out.push_str("push_vlan(");
            if *tpid != ethertype::VLAN {
                let _ = write!(out, "tpid={tpid:#x},");
            }
            // vid and pcp always; dei only when set (it is rarely used).
            let mask = if tci & 0x1000 != 0 { 0xffff } else { 0xefff };
            fmt_tci_fields(out, *tci, mask);
            out.push(')');
        }
        DpAction::PopVlan => out.push_str("pop_vlan"),
        DpAction::PushMpls { lse, ethertype } => {
            let _ = write!(
                out,
                "push_mpls(label={},tc={},ttl={},bos={},eth_type={ethertype:#x})",
                lse >> 12,
                (lse >> 9) & 7,
                lse & 0xff,
                (lse >> 8) & 1
            );
        }
        DpAction::PopMpls { ethertype } => {
            let _ = write!(out, "pop_mpls(eth_type={ethertype:#x})");
        }
        DpAction::Userspace { cookie, userdata } => {
            out.push_str("userspace(pid=0");
            if *cookie != 0 || !userdata.is_empty() {
                out.push_str(",userdata(");
                if *cookie != 0 || userdata.len() >= 8 {
                    for b in cookie.to_be_bytes() {
                        let _ = write!(out, "{b:02x}");
                    }
                }
                for b in userdata {
                    let _ = write!(out, "{b:02x}");
                }
                out.push(')');
            }
            out.push(')');
        }
        DpAction::Recirc(id) => {
            out.push_str("recirc(");
            fmt_hex(out, u128::from(*id));
            out.push(')');
        }
        DpAction::Clone(nested) => {
            out.push_str("clone(");
            fmt_action_list(out, nested);
            out.push(')');
        }
    }
    1
}

/// Prints consecutive `Set`/`SetMasked` actions on one attribute, each
/// field at most once, as one `set(attr(f=v[/m],…))`.
fn fmt_set_run(out: &mut String, rest: &[DpAction]) -> usize {
    let mut attr_name = "";
    let mut fields: Vec<&str> = Vec::new();
    let mut body = String::new();
    let mut n = 0;
    for a in rest {
        let (value, mask) = match a {
            DpAction::Set(v) => (v, None),
            DpAction::SetMasked { value, mask } if value.same_field(mask) => (value, Some(mask)),
            _ => break,
        };
        let (attr, field, kind, width, v) = set_text(value);
        if n > 0 && (attr != attr_name || attr == "vlan" || fields.contains(&field)) {
            break;
        }
        attr_name = attr;
        fields.push(field);
        if !body.is_empty() {
            body.push(',');
        }
        let m = mask.map_or(all_ones(width), |m| set_text(m).4);
        if attr == "vlan" {
            fmt_tci_fields(&mut body, v as u16, m as u16);
        } else {
            let _ = write!(body, "{field}=");
            fmt_value(&mut body, kind, width, v & m, m);
        }
        n += 1;
    }
    if n == 0 {
        // A SetMasked whose value and mask disagree does nothing when run;
        // print it as a no-op set of nothing rather than inventing a value.
        out.push_str("set()");
        return 1;
    }
    let _ = write!(out, "set({attr_name}({body}))");
    n
}

// ---------------------------------------------------------------------------
// Whole flows.
// ---------------------------------------------------------------------------

/// Statistics as `dump-flows` prints them.
#[derive(Clone, Copy, PartialEq, Eq, Default, Debug)]
pub struct OdpStats {
    /// `packets:`.
    pub packets: u64,
    /// `bytes:`.
    pub bytes: u64,
    /// `used:` as milliseconds before the dump, `None` for `never`.
    pub used_ago_ms: Option<u64>,
    /// `flags:` (0 when absent).
    pub tcp_flags: u16,
}

/// One flow line, parsed.
#[derive(Clone, PartialEq, Debug, Default)]
pub struct OdpFlow {
    /// `ufid:…` if given.
    pub ufid: Option<u128>,
    /// The key (masked by `mask`).
    pub key: FlowKey,
    /// The mask: 1 bits were given in the text.
    pub mask: FlowMask,
    /// `packets:…, bytes:…, used:…[, flags:…]` if present.
    pub stats: Option<OdpStats>,
    /// The actions after `actions:`; empty = drop.
    pub actions: Vec<DpAction>,
}

/// Parses a `dump-flows`/`add-flow` line:
/// `[ufid:UUID,] KEY[, packets:N, bytes:N, used:T[, flags:F]], actions:A`.
/// The separator before `actions:` may be a comma or whitespace.
pub fn parse_flow(line: &str) -> Result<OdpFlow> {
    let line = line.trim();
    let at = find_top_level(line, "actions:")
        .ok_or_else(|| OdpError::new(format!("missing `actions:` in `{line}`")))?;
    let head = line[..at].trim_end();
    let head = head.strip_suffix(',').unwrap_or(head);
    let mut flow = OdpFlow {
        actions: parse_actions(&line[at + "actions:".len()..])?,
        ..OdpFlow::default()
    };
    let mut key_items = Vec::new();
    let mut stats = OdpStats::default();
    let mut stats_seen = Vec::new();
    for item in split_top(head)? {
        let stat = item.split_once(':').filter(|(name, _)| !name.contains('('));
        let Some((name, value)) = stat else {
            key_items.push(item);
            continue;
        };
        let value = value.trim();
        if stats_seen.contains(&name) {
            return Err(OdpError::new(format!("`{name}:` appears twice")));
        }
        stats_seen.push(name);
        let count = |what: &str| {
            value
                .parse::<u64>()
                .map_err(|_| OdpError::new(format!("`{value}` is not a valid count for {what}:")))
        };
        match name {
            "ufid" => flow.ufid = Some(parse_ufid(value)?),
            "packets" => stats.packets = count("packets")?,
            "bytes" => stats.bytes = count("bytes")?,
            "used" => stats.used_ago_ms = parse_used(value)?,
            "flags" => stats.tcp_flags = parse_tcp_flags_stats(value)?,
            // `dump-flows` of some OVS versions adds these; nothing to keep.
            "dp" | "offloaded" => {}
            _ => return Err(OdpError::new(format!("unknown item `{item}` in flow"))),
        }
    }
    if stats_seen.iter().any(|n| *n != "ufid") {
        flow.stats = Some(stats);
    }
    let mut m = Match::default();
    parse_level(&mut m, &key_items, 0)?;
    flow.key = m.key;
    flow.mask = m.mask;
    Ok(flow)
}

/// Byte offset of `needle` in `s` outside parentheses.
fn find_top_level(s: &str, needle: &str) -> Option<usize> {
    let mut depth = 0i32;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            _ if depth == 0 && s[i..].starts_with(needle) => return Some(i),
            _ => {}
        }
    }
    None
}

/// `never` or seconds such as `0.500s`.
fn parse_used(s: &str) -> Result<Option<u64>> {
    if s == "never" {
        return Ok(None);
    }
    let secs = s
        .strip_suffix('s')
        .and_then(|n| n.parse::<f64>().ok())
        .filter(|v| v.is_finite() && *v >= 0.0)
        .ok_or_else(|| {
            OdpError::new(format!(
                "`{s}` is not a valid time for used: (e.g. 0.500s or never)"
            ))
        })?;
    // Rounded to whole milliseconds, the resolution printed.
    Ok(Some((secs * 1000.0).round() as u64))
}

/// Prints a flow like one line of `dpctl/dump-flows`:
/// `[ufid:…, ]KEY, packets:N, bytes:N, used:T[, flags:F], actions:A`.
/// `now_ms` is the PMD clock the flow's `used_ms` was taken on.
pub fn format_flow(flow: &DpFlow, now_ms: u64, with_ufid: bool) -> String {
    let mut s = String::new();
    if with_ufid {
        s.push_str(&format_ufid(flow.ufid));
        s.push_str(", ");
    }
    s.push_str(&format_key(&flow.key, &flow.mask));
    s.push_str(", ");
    s.push_str(&format_stats(&flow.stats, now_ms));
    s.push_str(", actions:");
    s.push_str(&format_actions(&flow.actions));
    s
}

/// `packets:N, bytes:N, used:T[, flags:F]`.
pub fn format_stats(stats: &FlowStats, now_ms: u64) -> String {
    let mut s = format!("packets:{}, bytes:{}, used:", stats.packets, stats.bytes);
    if stats.used_ms == 0 {
        s.push_str("never");
    } else {
        let ago = now_ms.saturating_sub(stats.used_ms);
        let _ = write!(s, "{}.{:03}s", ago / 1000, ago % 1000);
    }
    if stats.tcp_flags != 0 {
        s.push_str(", flags:");
        s.push_str(&format_tcp_flags_stats(stats.tcp_flags));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

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

    fn act_round_trip(text: &str) -> Vec<DpAction> {
        let a = parse_actions(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(format_actions(&a), text);
        a
    }

    #[test]
    fn actions_round_trip() {
        assert_eq!(act_round_trip("drop"), vec![]);
        assert_eq!(act_round_trip("2"), vec![DpAction::Output(2)]);
        assert_eq!(
            act_round_trip("1,2,3"),
            vec![
                DpAction::Output(1),
                DpAction::Output(2),
                DpAction::Output(3)
            ]
        );
        assert_eq!(
            act_round_trip("set(ipv4(src=10.0.0.1,ttl=63)),2"),
            vec![
                DpAction::Set(SetField::Ipv4Src(Ipv4Addr::new(10, 0, 0, 1))),
                DpAction::Set(SetField::Ipv4Ttl(63)),
                DpAction::Output(2)
            ]
        );
        assert_eq!(
            act_round_trip(
                "set(eth(src=00:01:02:03:04:05,dst=10:11:12:00:00:00/ff:ff:ff:00:00:00))"
            ),
            vec![
                DpAction::Set(SetField::EthSrc([0, 1, 2, 3, 4, 5])),
                DpAction::SetMasked {
                    value: SetField::EthDst([0x10, 0x11, 0x12, 0, 0, 0]),
                    mask: SetField::EthDst([0xff, 0xff, 0xff, 0, 0, 0]),
                }
            ]
        );
        assert_eq!(
            act_round_trip("set(ipv4(tos=0x80/0xfc))"),
            vec![DpAction::SetMasked {
                value: SetField::Ipv4Tos(0x80),
                mask: SetField::Ipv4Tos(0xfc)
            }]
        );
        assert_eq!(
            act_round_trip("set(vlan(vid=1/0x3))"),
            vec![DpAction::SetMasked {
                value: SetField::VlanTci(1),
                mask: SetField::VlanTci(3)
            }]
        );
        assert_eq!(
            act_round_trip("push_vlan(vid=10,pcp=3),2"),
            vec![
                DpAction::PushVlan {
                    tpid: 0x8100,
                    tci: 0x600a
                },
                DpAction::Output(2)
            ]
        );
        assert_eq!(
            act_round_trip("push_vlan(tpid=0x88a8,vid=13,pcp=5,dei=1)"),
            vec![DpAction::PushVlan {
                tpid: 0x88a8,
                tci: 0xb00d
            }]
        );
        assert_eq!(
            act_round_trip("pop_vlan,1"),
            vec![DpAction::PopVlan, DpAction::Output(1)]
        );
        assert_eq!(
            act_round_trip("push_mpls(label=100,tc=3,ttl=64,bos=1,eth_type=0x8847)"),
            vec![DpAction::PushMpls {
                lse: (100 << 12) | (3 << 9) | (1 << 8) | 64,
                ethertype: 0x8847
            }]
        );
        assert_eq!(
            act_round_trip("pop_mpls(eth_type=0x800)"),
            vec![DpAction::PopMpls { ethertype: 0x0800 }]
        );
        assert_eq!(act_round_trip("recirc(0x1)"), vec![DpAction::Recirc(1)]);
        assert_eq!(act_round_trip("recirc(0)"), vec![DpAction::Recirc(0)]);
        assert_eq!(
            act_round_trip("userspace(pid=0,userdata(0102030405060708090a))"),
            vec![DpAction::Userspace {
                cookie: 0x0102_0304_0506_0708,
                userdata: vec![9, 10]
            }]
        );
        assert_eq!(
            act_round_trip("userspace(pid=0,userdata(0a0b))"),
            vec![DpAction::Userspace {
                cookie: 0,
                userdata: vec![10, 11]
            }]
        );
        assert_eq!(
            act_round_trip("userspace(pid=0)"),
            vec![DpAction::Userspace {
                cookie: 0,
                userdata: vec![]
            }]
        );
        assert_eq!(
            act_round_trip("clone(clone(push_vlan(vid=12,pcp=0),2),1),3"),
            vec![
                DpAction::Clone(vec![
                    DpAction::Clone(vec![
                        DpAction::PushVlan {
                            tpid: 0x8100,
                            tci: 12
                        },
                        DpAction::Output(2)
                    ]),
                    DpAction::Output(1)
                ]),
                DpAction::Output(3)
            ]
        );
        for text in [
            "set(ipv6(src=2001:db8::1,dst=2001::/ffff::,tclass=0x70,hlimit=128))",
            "set(tcp(src=80,dst=7936/0xff00)),set(udp(dst=53)),set(sctp(src=1))",
            "set(ipv4(src=1.2.3.4)),set(ipv4(src=5.6.7.8))",
            "set(vlan(vid=3,pcp=5,dei=0))",
        ] {
            act_round_trip(text);
        }
        // A pid other than 0 is accepted (and not kept); cfi=1 is a no-op.
        assert_eq!(
            format_actions(
                &parse_actions("userspace(pid=6633),push_vlan(vid=1,pcp=0,cfi=1)").unwrap()
            ),
            "userspace(pid=0),push_vlan(vid=1,pcp=0)"
        );
        // Empty text is drop too.
        assert_eq!(parse_actions(""), Ok(vec![]));
    }

    #[test]
    fn action_errors_name_the_bad_token() {
        let e = |t: &str| parse_actions(t).unwrap_err().to_string();
        assert_eq!(e("2,frob"), "unknown action `frob`");
        assert_eq!(e("output(2)"), "unknown action `output(…)`");
        assert_eq!(
            e("1,drop"),
            "`drop` must be the only action (an empty list drops)"
        );
        assert_eq!(e("99999999999"), "output port `99999999999` is too large");
        assert_eq!(
            e("set(ipv4(proto=6))"),
            "field `proto` of ipv4(…) cannot be set (settable: src, dst, tos, ttl)"
        );
        assert_eq!(
            e("set(arp(op=1))"),
            "set(arp(…)) is not supported (settable: eth, vlan, ipv4, ipv6, tcp, udp, sctp)"
        );
        assert_eq!(
            e("push_vlan(pcp=1)"),
            "push_vlan(pcp=1) needs an exact vid=…"
        );
        assert_eq!(
            e("push_mpls(label=1,tc=0,ttl=64,bos=1)"),
            "push_mpls(label=1,tc=0,ttl=64,bos=1) needs `eth_type=…`"
        );
        assert_eq!(
            e("push_mpls(label=1,tc=0,ttl=64,bos=1,eth_type=0x800)"),
            "push_mpls eth_type 0x800 is not an MPLS ethertype (0x8847 or 0x8848)"
        );
        assert_eq!(
            e("userspace(userdata(01))"),
            "userspace(userdata(01)) needs `pid=…`"
        );
        assert_eq!(
            e("userspace(pid=1,userdata(123))"),
            "`123` is not an even number of hex digits in userdata(…)"
        );
        assert_eq!(e("recirc(zz)"), "`zz` is not a valid number for recirc");
        let deep = format!("{}1{}", "clone(".repeat(20), ")".repeat(20));
        assert_eq!(e(&deep), "actions nested deeper than 8 levels");
    }

    #[test]
    fn flow_lines() {
        let text = "recirc_id(0),in_port(1),eth(src=02:00:00:00:00:01,dst=02:00:00:00:00:02),\
                    eth_type(0x0800),ipv4(src=10.0.0.1,dst=172.16.0.1,proto=17,tos=0,ttl=64,frag=no),\
                    udp(src=1024,dst=5001), packets:10, bytes:600, used:0.5s, actions:2";
        let f = parse_flow(text).unwrap();
        assert_eq!(f.ufid, None);
        assert_eq!(
            f.stats,
            Some(OdpStats {
                packets: 10,
                bytes: 600,
                used_ago_ms: Some(500),
                tcp_flags: 0
            })
        );
        assert_eq!(f.actions, vec![DpAction::Output(2)]);
        assert_eq!(f.key.tp_dst(), 5001);

        // Printed back from a flow with the same stats, as dump-flows does.
        let flow = DpFlow {
            ufid: 0x1234_5678_9abc_def0_0fed_cba9_8765_4321,
            key: f.key,
            mask: f.mask,
            actions: f.actions.clone().into(),
            stats: FlowStats {
                packets: 10,
                bytes: 600,
                used_ms: 9_500,
                tcp_flags: 0,
            },
        };
        assert_eq!(
            format_flow(&flow, 10_000, false),
            "recirc_id(0),in_port(1),eth(src=02:00:00:00:00:01,dst=02:00:00:00:00:02),\
             eth_type(0x0800),ipv4(src=10.0.0.1,dst=172.16.0.1,proto=17,tos=0,ttl=64,frag=no),\
             udp(src=1024,dst=5001), packets:10, bytes:600, used:0.500s, actions:2"
        );
        let with_ufid = format_flow(&flow, 10_000, true);
        assert!(with_ufid.starts_with("ufid:12345678-9abc-def0-0fed-cba987654321, recirc_id(0),"));
        let again = parse_flow(&with_ufid).unwrap();
        assert_eq!(again.ufid, Some(flow.ufid));
        assert_eq!((again.key, again.mask), (f.key, f.mask));

        // add-flow form: no stats, whitespace before actions, never used.
        let g = parse_flow(
            "in_port(1),eth_type(0x0800),ipv4(dst=10.0.0.0/255.0.0.0,proto=17),udp(dst=53) actions:2",
        )
        .unwrap();
        assert_eq!(g.stats, None);
        assert_eq!(g.actions, vec![DpAction::Output(2)]);
        let never = DpFlow {
            ufid: 1,
            key: g.key,
            mask: g.mask,
            actions: Vec::new().into(),
            stats: FlowStats {
                packets: 3,
                bytes: 180,
                used_ms: 0,
                tcp_flags: 0x12,
            },
        };
        assert_eq!(
            format_flow(&never, 5, false),
            "in_port(1),eth_type(0x0800),ipv4(dst=10.0.0.0/255.0.0.0,proto=17),udp(dst=53), \
             packets:3, bytes:180, used:never, flags:S., actions:drop"
        );
        let h = parse_flow(
            "in_port(1), packets:1, bytes:2, used:never, flags:SFPRU.ECN[800], actions:drop",
        )
        .unwrap();
        assert_eq!(
            h.stats,
            Some(OdpStats {
                packets: 1,
                bytes: 2,
                used_ago_ms: None,
                tcp_flags: 0x9ff
            })
        );
        assert_eq!(format_tcp_flags_stats(0x9ff), "SFPRU.ECN[800]");
        assert_eq!(format_tcp_flags_stats(0), "none");

        let e = |t: &str| parse_flow(t).unwrap_err().to_string();
        assert_eq!(e("in_port(1)"), "missing `actions:` in `in_port(1)`");
        assert_eq!(
            e("in_port(1), packets:x, actions:1"),
            "`x` is not a valid count for packets:"
        );
        assert_eq!(
            e("in_port(1), used:soon, actions:1"),
            "`soon` is not a valid time for used: (e.g. 0.500s or never)"
        );
        assert_eq!(
            e("in_port(1), colour:blue, actions:1"),
            "unknown item `colour:blue` in flow"
        );
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

    #[test]
    fn ufid_text() {
        let u = 0x1234_5678_9abc_def0_0fed_cba9_8765_4321_u128;
        assert_eq!(format_ufid(u), "ufid:12345678-9abc-def0-0fed-cba987654321");
        assert_eq!(
            parse_ufid("ufid:12345678-9abc-def0-0fed-cba987654321"),
            Ok(u)
        );
        assert_eq!(parse_ufid("123456789abcdef00fedcba987654321"), Ok(u));
        assert_eq!(
            parse_ufid("ufid:1234").unwrap_err().to_string(),
            "`ufid:1234` is not a valid ufid (expected 32 hex digits as a UUID)"
        );
    }
}
