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
//!
//! Layout: this file holds the shared lexing and value syntax, ufids and
//! whole flow lines; `odp/key.rs` the key/mask attributes; `odp/actions.rs`
//! the action list.

mod actions;
mod key;

use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::actions::DpAction;
use crate::flow::{DpFlow, FlowStats};
use crate::key::{FlowKey, FlowMask, Frag};
use key::{parse_level, Match};

pub use actions::{format_actions, parse_actions};
pub use key::{format_key, parse_key};

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
// TCP flags in statistics.
// ---------------------------------------------------------------------------

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
    use crate::actions::DpAction;

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
