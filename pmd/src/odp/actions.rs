//! The action half of the ODP syntax: `2,set(ipv4(ttl=63)),push_vlan(…)`
//! to and from a list of [`DpAction`]s; an empty list is `drop`.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::{
    all_ones, assignment, call, fmt_hex, fmt_value, parse_int, parse_value, split_top, Kind,
    OdpError, Result, MAX_DEPTH,
};
use crate::actions::{DpAction, SetField};
use crate::key::{FieldId, FieldValue};
use crate::parse::ethertype;

use FieldId as F;

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
