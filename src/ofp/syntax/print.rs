//! Printing matches, actions, flow-mods and flow stats the way `ovs-ofctl` does.

use std::fmt::Write;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::fields::{Bytes, FieldMatch, FlowFields};
use crate::ofp::action::{Action, Controller2Prop};
use crate::ofp::flow::{FlowMod, Match};
use crate::ofp::instruction::Instruction;
use crate::ofp::multipart::FlowStats;
use crate::ofp::oxm::{Field, MatchEntry, FIELDS};
use crate::ofp::port;
use crate::ofp::Version;

/// Priority that is not printed.
pub const DEFAULT_PRIORITY: u16 = 0x8000;

fn eth(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn ipv4(v: u64) -> Ipv4Addr {
    Ipv4Addr::from(v as u32)
}

fn ipv6(b: &[u8]) -> Ipv6Addr {
    let mut a = [0u8; 16];
    a.copy_from_slice(&b[..16]);
    Ipv6Addr::from(a)
}

/// C's `%#x`: `0` for zero, `0x…` otherwise.
fn hex(v: u64) -> String {
    if v == 0 {
        "0".to_string()
    } else {
        format!("{v:#x}")
    }
}

/// The number of leading one bits if `mask` is a prefix mask.
fn prefix_len(mask: &[u8]) -> Option<u32> {
    let mut n = 0;
    let mut ended = false;
    for &b in mask {
        for i in (0..8).rev() {
            let bit = b >> i & 1 == 1;
            if bit && ended {
                return None;
            }
            if bit {
                n += 1;
            } else {
                ended = true;
            }
        }
    }
    Some(n)
}

fn fmt_hex_masked(out: &mut String, name: &str, m: &FieldMatch) {
    let _ = write!(out, "{name}={}", hex(m.value.u64()));
    if !m.mask.is_ones() {
        let _ = write!(out, "/{}", hex(m.mask.u64()));
    }
    out.push(',');
}

fn fmt_dec(out: &mut String, name: &str, m: &FieldMatch) {
    let _ = write!(out, "{name}={}", m.value.u64());
    if !m.mask.is_ones() {
        let _ = write!(out, "/{}", hex(m.mask.u64()));
    }
    out.push(',');
}

fn fmt_eth(out: &mut String, name: &str, m: &FieldMatch) {
    let _ = write!(out, "{name}={}", eth(m.value.as_slice()));
    if !m.mask.is_ones() {
        let _ = write!(out, "/{}", eth(m.mask.as_slice()));
    }
    out.push(',');
}

fn fmt_ipv4(out: &mut String, name: &str, m: &FieldMatch) {
    let _ = write!(out, "{name}={}", ipv4(m.value.u64()));
    if !m.mask.is_ones() {
        match prefix_len(m.mask.as_slice()) {
            Some(n) => {
                let _ = write!(out, "/{n}");
            }
            None => {
                let _ = write!(out, "/{}", ipv4(m.mask.u64()));
            }
        }
    }
    out.push(',');
}

fn fmt_ipv6(out: &mut String, name: &str, m: &FieldMatch) {
    let _ = write!(out, "{name}={}", ipv6(&m.value.b));
    if !m.mask.is_ones() {
        match prefix_len(m.mask.as_slice()) {
            Some(n) => {
                let _ = write!(out, "/{n}");
            }
            None => {
                let _ = write!(out, "/{}", ipv6(&m.mask.b));
            }
        }
    }
    out.push(',');
}

const CT_STATE_BITS: [&str; 8] = ["new", "est", "rel", "rpl", "inv", "trk", "snat", "dnat"];
const TCP_FLAG_BITS: [&str; 12] = [
    "fin", "syn", "rst", "psh", "ack", "urg", "ece", "cwr", "ns", "[200]", "[400]", "[800]",
];

fn fmt_flags(out: &mut String, name: &str, m: &FieldMatch, names: &[&str]) {
    let (v, mask) = (m.value.u64(), m.mask.u64());
    let _ = write!(out, "{name}=");
    for (i, n) in names.iter().enumerate() {
        if mask & (1 << i) != 0 {
            out.push(if v & (1 << i) != 0 { '+' } else { '-' });
            out.push_str(n);
        }
    }
    out.push(',');
}

/// Formats a match (with its priority) as `ovs-ofctl` does: shortcut protocol names, then
/// fields in Open vSwitch's order. Returns an empty string for match-all at the default
/// priority.
pub fn format_match(m: &Match, priority: u16) -> String {
    let f = match m {
        Match::Of10(m) => FlowFields::from_match10(m),
        Match::Oxm(m) => FlowFields::from_oxm(m),
    };
    format_fields(&f, priority)
}

pub fn format_fields(f: &FlowFields, priority: u16) -> String {
    let mut s = String::new();
    if priority != DEFAULT_PRIORITY {
        let _ = write!(s, "priority={priority},");
    }
    if let Some(m) = f.get(Field::RecircId) {
        fmt_hex_masked(&mut s, "recirc_id", m);
    }
    if let Some(m) = f.get(Field::DpHash) {
        fmt_hex_masked(&mut s, "dp_hash", m);
    }
    if let Some(m) = f.get(Field::ConjId) {
        fmt_dec(&mut s, "conj_id", m);
    }
    if let Some(m) = f.get(Field::ActsetOutput) {
        let _ = write!(s, "actset_output={},", port::name(m.value.u64() as u32));
    }
    if let Some(m) = f.get(Field::CtState) {
        fmt_flags(&mut s, "ct_state", m, &CT_STATE_BITS);
    }
    if let Some(m) = f.get(Field::CtZone) {
        fmt_dec(&mut s, "ct_zone", m);
    }
    if let Some(m) = f.get(Field::CtMark) {
        fmt_hex_masked(&mut s, "ct_mark", m);
    }
    let eth_type = f.eth_type();
    let proto = f.ip_proto();
    let mut skip_type = true;
    let mut skip_proto = false;
    match eth_type {
        Some(0x0800) | Some(0x86dd) => {
            let v6 = eth_type == Some(0x86dd);
            let name = match (proto, v6) {
                (Some(1), false) => Some("icmp"),
                (Some(2), false) => Some("igmp"),
                (Some(58), true) => Some("icmp6"),
                (Some(6), _) => Some(if v6 { "tcp6" } else { "tcp" }),
                (Some(17), _) => Some(if v6 { "udp6" } else { "udp" }),
                (Some(132), _) => Some(if v6 { "sctp6" } else { "sctp" }),
                _ => None,
            };
            match name {
                Some(n) => {
                    skip_proto = true;
                    s.push_str(n);
                }
                None => s.push_str(if v6 { "ipv6" } else { "ip" }),
            }
            s.push(',');
        }
        Some(0x0806) => s.push_str("arp,"),
        Some(0x8035) => s.push_str("rarp,"),
        Some(0x8847) => s.push_str("mpls,"),
        Some(0x8848) => s.push_str("mplsm,"),
        _ => skip_type = false,
    }
    for i in 0..16u8 {
        if let Some(m) = Field::reg(i).and_then(|r| f.get(r)) {
            fmt_hex_masked(&mut s, &format!("reg{i}"), m);
        }
    }
    if let Some(m) = f.get(Field::TunnelId) {
        fmt_hex_masked(&mut s, "tun_id", m);
    }
    if let Some(m) = f.get(Field::NxTunSrc) {
        fmt_ipv4(&mut s, "tun_src", m);
    }
    if let Some(m) = f.get(Field::NxTunDst) {
        fmt_ipv4(&mut s, "tun_dst", m);
    }
    if let Some(m) = f.get(Field::PktMark) {
        fmt_hex_masked(&mut s, "pkt_mark", m);
    }
    if let Some(m) = f.get(Field::Metadata) {
        fmt_hex_masked(&mut s, "metadata", m);
    }
    if let Some(m) = f.get(Field::InPort) {
        let _ = write!(s, "in_port={},", port::name(m.value.u64() as u32));
    }
    if let Some((tci, mask)) = f.vlan_tci {
        let vid_mask = mask & 0x0fff;
        let pcp_mask = mask & 0xe000;
        let cfi = mask & 0x1000 != 0;
        if cfi
            && tci & 0x1000 != 0
            && (vid_mask == 0 || vid_mask == 0x0fff)
            && (pcp_mask == 0 || pcp_mask == 0xe000)
            && (vid_mask != 0 || pcp_mask != 0)
        {
            if vid_mask != 0 {
                let _ = write!(s, "dl_vlan={},", tci & 0xfff);
            }
            if pcp_mask != 0 {
                let _ = write!(s, "dl_vlan_pcp={},", tci >> 13);
            }
        } else if mask == 0xffff {
            let _ = write!(s, "vlan_tci={tci:#06x},");
        } else {
            let _ = write!(s, "vlan_tci={tci:#06x}/{mask:#06x},");
        }
    }
    if let Some(m) = f.get(Field::EthSrc) {
        fmt_eth(&mut s, "dl_src", m);
    }
    if let Some(m) = f.get(Field::EthDst) {
        fmt_eth(&mut s, "dl_dst", m);
    }
    if !skip_type {
        if let Some(m) = f.get(Field::EthType) {
            let _ = write!(s, "dl_type={:#06x},", m.value.u64());
        }
    }
    let arp = matches!(eth_type, Some(0x0806) | Some(0x8035));
    if let Some(m) = f.get(Field::Ipv6Src) {
        fmt_ipv6(&mut s, "ipv6_src", m);
    }
    if let Some(m) = f.get(Field::Ipv6Dst) {
        fmt_ipv6(&mut s, "ipv6_dst", m);
    }
    if let Some(m) = f.get(Field::Ipv6Flabel) {
        fmt_hex_masked(&mut s, "ipv6_label", m);
    }
    if let Some(m) = f.get(Field::ArpSpa) {
        fmt_ipv4(&mut s, "arp_spa", m);
    }
    if let Some(m) = f.get(Field::ArpTpa) {
        fmt_ipv4(&mut s, "arp_tpa", m);
    }
    if let Some(m) = f.get(Field::Ipv4Src) {
        fmt_ipv4(&mut s, "nw_src", m);
    }
    if let Some(m) = f.get(Field::Ipv4Dst) {
        fmt_ipv4(&mut s, "nw_dst", m);
    }
    if !skip_proto {
        if let Some(m) = f.get(Field::IpProto) {
            fmt_dec(&mut s, "nw_proto", m);
        }
    }
    if let Some(m) = f.get(Field::ArpOp) {
        fmt_dec(&mut s, if arp { "arp_op" } else { "nw_proto" }, m);
    }
    if let Some(m) = f.get(Field::ArpSha) {
        fmt_eth(&mut s, "arp_sha", m);
    }
    if let Some(m) = f.get(Field::ArpTha) {
        fmt_eth(&mut s, "arp_tha", m);
    }
    if let Some(m) = f.get(Field::IpDscp) {
        let _ = write!(s, "nw_tos={},", m.value.u64());
    }
    if let Some(m) = f.get(Field::IpEcn) {
        fmt_dec(&mut s, "nw_ecn", m);
    }
    if let Some(m) = f.get(Field::NxNwTtl) {
        fmt_dec(&mut s, "nw_ttl", m);
    }
    if let Some(m) = f.get(Field::MplsLabel) {
        fmt_dec(&mut s, "mpls_label", m);
    }
    if let Some(m) = f.get(Field::MplsTc) {
        fmt_dec(&mut s, "mpls_tc", m);
    }
    if let Some(m) = f.get(Field::MplsBos) {
        fmt_dec(&mut s, "mpls_bos", m);
    }
    if let Some(m) = f.get(Field::NxIpFrag) {
        // Only the low two bits (any fragment, later fragment) mean anything.
        let name = match (m.value.u64() & 3, m.mask.u64() & 3) {
            (0, 1) => "no".to_string(),
            (1, 1) => "yes".to_string(),
            (1, 3) => "first".to_string(),
            (3, 3) => "later".to_string(),
            (0, 2) => "not_later".to_string(),
            (v, mk) => format!("{v:#x}/{mk:#x}"),
        };
        let _ = write!(s, "nw_frag={name},");
    }
    for (ty, code) in [
        (Field::Icmpv4Type, Field::Icmpv4Code),
        (Field::Icmpv6Type, Field::Icmpv6Code),
    ] {
        if let Some(m) = f.get(ty) {
            fmt_dec(&mut s, "icmp_type", m);
        }
        if let Some(m) = f.get(code) {
            fmt_dec(&mut s, "icmp_code", m);
        }
    }
    if let Some(m) = f.get(Field::Ipv6NdTarget) {
        fmt_ipv6(&mut s, "nd_target", m);
    }
    if let Some(m) = f.get(Field::Ipv6NdSll) {
        fmt_eth(&mut s, "nd_sll", m);
    }
    if let Some(m) = f.get(Field::Ipv6NdTll) {
        fmt_eth(&mut s, "nd_tll", m);
    }
    for (src, dst) in [
        (Field::TcpSrc, Field::TcpDst),
        (Field::UdpSrc, Field::UdpDst),
        (Field::SctpSrc, Field::SctpDst),
    ] {
        for (fld, name) in [(src, "tp_src"), (dst, "tp_dst")] {
            if let Some(m) = f.get(fld) {
                if m.mask.is_ones() {
                    let _ = write!(s, "{name}={},", m.value.u64());
                } else {
                    let _ = write!(s, "{name}={:#x}/{:#x},", m.value.u64(), m.mask.u64());
                }
            }
        }
    }
    if let Some(m) = f.get(Field::TcpFlags) {
        fmt_flags(&mut s, "tcp_flags", m, &TCP_FLAG_BITS);
    }
    for (fld, name) in [
        (Field::PbbIsid, "pbb_isid"),
        (Field::Ipv6Exthdr, "ipv6_exthdr"),
    ] {
        if let Some(m) = f.get(fld) {
            fmt_hex_masked(&mut s, name, m);
        }
    }
    if s.ends_with(',') {
        s.pop();
    }
    s
}

/// The OXM/NXM name of a field for `load:`/`move:` subfields, e.g. `NXM_NX_REG0`.
pub fn nxm_name(f: Field) -> String {
    let fixed = match f {
        Field::NxmInPort => "NXM_OF_IN_PORT",
        Field::NxmEthDst => "NXM_OF_ETH_DST",
        Field::NxmEthSrc => "NXM_OF_ETH_SRC",
        Field::NxmEthType => "NXM_OF_ETH_TYPE",
        Field::NxmVlanTci => "NXM_OF_VLAN_TCI",
        Field::NxmIpTos => "NXM_OF_IP_TOS",
        Field::NxmIpProto => "NXM_OF_IP_PROTO",
        Field::NxmIpSrc => "NXM_OF_IP_SRC",
        Field::NxmIpDst => "NXM_OF_IP_DST",
        Field::NxmTcpSrc => "NXM_OF_TCP_SRC",
        Field::NxmTcpDst => "NXM_OF_TCP_DST",
        Field::NxmUdpSrc => "NXM_OF_UDP_SRC",
        Field::NxmUdpDst => "NXM_OF_UDP_DST",
        Field::NxmArpSpa => "NXM_OF_ARP_SPA",
        Field::NxmArpTpa => "NXM_OF_ARP_TPA",
        Field::NxTunId => "NXM_NX_TUN_ID",
        Field::PktMark => "NXM_NX_PKT_MARK",
        Field::Metadata => "OXM_OF_METADATA",
        Field::InPort => "OXM_OF_IN_PORT",
        _ => "",
    };
    if !fixed.is_empty() {
        return fixed.to_string();
    }
    let i = f.info();
    let base = i.name.to_ascii_uppercase();
    match i.class {
        0x0001 => format!("NXM_NX_{base}"),
        0x0000 => format!("NXM_OF_{base}"),
        _ => format!("OXM_OF_{base}"),
    }
}

fn header_name(header: u32) -> String {
    match Field::from_header(header & !0x100, None) {
        Some(f) => nxm_name(f),
        None => format!("{header:#x}"),
    }
}

fn subfield(header: u32, ofs: u32, n_bits: u32) -> String {
    let width = (header & 0xff) * 8;
    let name = header_name(header);
    if ofs == 0 && n_bits == width {
        format!("{name}[]")
    } else if n_bits == 1 {
        format!("{name}[{ofs}]")
    } else {
        format!("{name}[{ofs}..{}]", ofs + n_bits - 1)
    }
}

/// A set-field value as `ovs-ofctl` prints it.
pub fn format_field_value(e: &MatchEntry) -> String {
    let v = e.value();
    let val = match e.field.canonical() {
        Field::EthSrc
        | Field::EthDst
        | Field::ArpSha
        | Field::ArpTha
        | Field::Ipv6NdSll
        | Field::Ipv6NdTll => eth(v),
        Field::Ipv4Src
        | Field::Ipv4Dst
        | Field::ArpSpa
        | Field::ArpTpa
        | Field::NxTunSrc
        | Field::NxTunDst => ipv4(e.value_u64()).to_string(),
        Field::Ipv6Src | Field::Ipv6Dst | Field::Ipv6NdTarget => ipv6(&e.value).to_string(),
        Field::Metadata
        | Field::TunnelId
        | Field::PktMark
        | Field::CtMark
        | Field::Ipv6Flabel
        | Field::Xreg0
        | Field::Xreg1
        | Field::Xreg2
        | Field::Xreg3
        | Field::Xreg4
        | Field::Xreg5
        | Field::Xreg6
        | Field::Xreg7 => hex(e.value_u64()),
        Field::InPort => port::name(e.value_u64() as u32),
        f if (Field::Reg0..=Field::Reg15).contains(&f) => hex(e.value_u64()),
        _ => e.value_u64().to_string(),
    };
    match e.mask_bytes() {
        Some(m) if !m.iter().all(|&b| b == 0xff) => {
            format!("{val}/{}", hex(Bytes::new(m).u64()))
        }
        _ => val,
    }
}

const REASONS: [&str; 6] = [
    "no_match",
    "action",
    "invalid_ttl",
    "action_set",
    "group",
    "packet_out",
];

fn controller(
    out: &mut String,
    max_len: u16,
    id: u16,
    reason: u8,
    userdata: Option<&[u8]>,
    pause: bool,
    meter: Option<u32>,
) {
    if reason == 1 && id == 0 && userdata.is_none() && !pause && meter.is_none() {
        let _ = write!(out, "CONTROLLER:{max_len}");
        return;
    }
    let mut parts = Vec::new();
    if reason != 1 {
        parts.push(format!(
            "reason={}",
            REASONS
                .get(usize::from(reason))
                .copied()
                .unwrap_or("unknown")
        ));
    }
    if max_len != u16::MAX {
        parts.push(format!("max_len={max_len}"));
    }
    if id != 0 {
        parts.push(format!("id={id}"));
    }
    if let Some(u) = userdata {
        parts.push(format!("userdata={}", dotted(u)));
    }
    if pause {
        parts.push("pause".to_string());
    }
    if let Some(m) = meter {
        parts.push(format!("meter_id={m}"));
    }
    let _ = write!(out, "controller({})", parts.join(","));
}

fn dotted(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(".")
}

fn format_action(a: &Action, out: &mut String) {
    match a {
        Action::Output { port: p, max_len } => match *p {
            port::OFPP_CONTROLLER => {
                let _ = write!(out, "CONTROLLER:{max_len}");
            }
            p if p >= port::OFPP_MAX => out.push_str(&port::name(p)),
            p => {
                let _ = write!(out, "output:{p}");
            }
        },
        Action::SetVlanVid(v) => {
            let _ = write!(out, "mod_vlan_vid:{v}");
        }
        Action::SetVlanPcp(v) => {
            let _ = write!(out, "mod_vlan_pcp:{v}");
        }
        Action::StripVlan => out.push_str("strip_vlan"),
        Action::SetDlSrc(m) => {
            let _ = write!(out, "mod_dl_src:{}", eth(m));
        }
        Action::SetDlDst(m) => {
            let _ = write!(out, "mod_dl_dst:{}", eth(m));
        }
        Action::SetNwSrc(a) => {
            let _ = write!(out, "mod_nw_src:{}", Ipv4Addr::from(*a));
        }
        Action::SetNwDst(a) => {
            let _ = write!(out, "mod_nw_dst:{}", Ipv4Addr::from(*a));
        }
        Action::SetNwTos(v) => {
            let _ = write!(out, "mod_nw_tos:{v}");
        }
        Action::SetTpSrc(v) => {
            let _ = write!(out, "mod_tp_src:{v}");
        }
        Action::SetTpDst(v) => {
            let _ = write!(out, "mod_tp_dst:{v}");
        }
        Action::Enqueue { port: p, queue_id } => {
            let _ = write!(out, "enqueue:{}:{queue_id}", port::name(*p));
        }
        Action::CopyTtlOut => out.push_str("copy_ttl_out"),
        Action::CopyTtlIn => out.push_str("copy_ttl_in"),
        Action::SetMplsTtl(v) => {
            let _ = write!(out, "set_mpls_ttl({v})");
        }
        Action::DecMplsTtl => out.push_str("dec_mpls_ttl"),
        Action::PushVlan(e) => {
            let _ = write!(out, "push_vlan:{e:#06x}");
        }
        Action::PopVlan => out.push_str("pop_vlan"),
        Action::PushMpls(e) => {
            let _ = write!(out, "push_mpls:{e:#06x}");
        }
        Action::PopMpls(e) => {
            let _ = write!(out, "pop_mpls:{e:#06x}");
        }
        Action::SetQueue(q) | Action::NxSetQueue(q) => {
            let _ = write!(out, "set_queue:{q}");
        }
        Action::PopQueue => out.push_str("pop_queue"),
        Action::Group(g) => {
            let _ = write!(out, "group:{g}");
        }
        Action::SetNwTtl(t) => {
            let _ = write!(out, "mod_nw_ttl:{t}");
        }
        Action::DecNwTtl | Action::DecTtl => out.push_str("dec_ttl"),
        Action::SetField(e) | Action::RegLoad2(e) => {
            let _ = write!(
                out,
                "set_field:{}->{}",
                format_field_value(e),
                field_name(e.field)
            );
        }
        Action::PushPbb(e) => {
            let _ = write!(out, "push_pbb:{e:#06x}");
        }
        Action::PopPbb => out.push_str("pop_pbb"),
        Action::Resubmit { in_port } => {
            let _ = write!(out, "resubmit:{}", port::name(*in_port));
        }
        Action::ResubmitTable { in_port, table } => {
            if *table == 0xff {
                let _ = write!(out, "resubmit:{}", port::name(*in_port));
            } else {
                let p = if *in_port == port::OFPP_IN_PORT {
                    String::new()
                } else {
                    port::name(*in_port)
                };
                let _ = write!(out, "resubmit({p},{table})");
            }
        }
        Action::SetTunnel(id) => {
            let _ = write!(out, "set_tunnel:{id:#x}");
        }
        Action::SetTunnel64(id) => {
            let _ = write!(out, "set_tunnel64:{id:#x}");
        }
        Action::RegMove {
            n_bits,
            src_ofs,
            dst_ofs,
            src,
            dst,
        } => {
            let _ = write!(
                out,
                "move:{}->{}",
                subfield(*src, u32::from(*src_ofs), u32::from(*n_bits)),
                subfield(*dst, u32::from(*dst_ofs), u32::from(*n_bits))
            );
        }
        Action::RegLoad {
            ofs_nbits,
            dst,
            value,
        } => {
            let ofs = u32::from(ofs_nbits >> 6);
            let n = u32::from(ofs_nbits & 0x3f) + 1;
            let _ = write!(out, "load:{}->{}", hex(*value), subfield(*dst, ofs, n));
        }
        Action::OutputReg { ofs_nbits, src, .. } => {
            let ofs = u32::from(ofs_nbits >> 6);
            let n = u32::from(ofs_nbits & 0x3f) + 1;
            let _ = write!(out, "output:{}", subfield(*src, ofs, n));
        }
        Action::Note(b) => {
            let _ = write!(out, "note:{}", dotted(b));
        }
        Action::Exit => out.push_str("exit"),
        Action::Controller {
            max_len,
            controller_id,
            reason,
        } => controller(out, *max_len, *controller_id, *reason, None, false, None),
        Action::Controller2(props) => {
            let mut max_len = u16::MAX;
            let mut id = 0;
            let mut reason = 1;
            let mut userdata = None;
            let mut pause = false;
            let mut meter = None;
            for p in props {
                match p {
                    Controller2Prop::MaxLen(v) => max_len = *v,
                    Controller2Prop::ControllerId(v) => id = *v,
                    Controller2Prop::Reason(v) => reason = *v,
                    Controller2Prop::Userdata(u) => userdata = Some(u.as_slice()),
                    Controller2Prop::Pause => pause = true,
                    Controller2Prop::MeterId(m) => meter = Some(*m),
                }
            }
            controller(out, max_len, id, reason, userdata, pause, meter);
        }
        Action::DecTtlCntIds(ids) => {
            if ids.as_slice() == [0] {
                out.push_str("dec_ttl");
            } else {
                let l: Vec<String> = ids.iter().map(u16::to_string).collect();
                let _ = write!(out, "dec_ttl({})", l.join(","));
            }
        }
    }
}

/// The name `set_field` uses for a field.
fn field_name(f: Field) -> &'static str {
    match f {
        Field::Ipv4Src | Field::NxmIpSrc => "ip_src",
        Field::Ipv4Dst | Field::NxmIpDst => "ip_dst",
        _ => FIELDS[f as usize].name,
    }
}

/// An action list, `drop` when empty.
pub fn format_actions(actions: &[Action]) -> String {
    if actions.is_empty() {
        return "drop".to_string();
    }
    let mut s = String::new();
    for (i, a) in actions.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        format_action(a, &mut s);
    }
    s
}

pub fn format_instructions(ins: &[Instruction]) -> String {
    if ins.is_empty() {
        return "drop".to_string();
    }
    let mut parts = Vec::new();
    for i in ins {
        parts.push(match i {
            Instruction::ApplyActions(a) if a.is_empty() => continue,
            Instruction::ApplyActions(a) => format_actions(a),
            Instruction::WriteActions(a) => format!("write_actions({})", format_actions(a)),
            Instruction::ClearActions => "clear_actions".to_string(),
            Instruction::GotoTable(t) => format!("goto_table:{t}"),
            Instruction::Meter(m) => format!("meter:{m}"),
            Instruction::WriteMetadata { metadata, mask } => {
                if *mask == u64::MAX {
                    format!("write_metadata:{}", hex(*metadata))
                } else {
                    format!("write_metadata:{}/{}", hex(*metadata), hex(*mask))
                }
            }
        });
    }
    if parts.is_empty() {
        return "drop".to_string();
    }
    parts.join(",")
}

fn flags_text(flags: u16, version: Version) -> Vec<&'static str> {
    let mut v = Vec::new();
    if flags & 1 != 0 {
        v.push("send_flow_rem");
    }
    if flags & 2 != 0 {
        v.push("check_overlap");
    }
    if flags & 4 != 0 {
        v.push(if version == Version::V1_0 {
            "emerg"
        } else {
            "reset_counts"
        });
    }
    if flags & 8 != 0 {
        v.push("no_packet_counts");
    }
    if flags & 16 != 0 {
        v.push("no_byte_counts");
    }
    v
}

/// A flow-mod as `ovs-ofctl ofp-print` shows it after the message header, e.g.
/// `ADD table:1 priority=100,tcp,tp_dst=80 cookie:0x5 idle:10 actions=output:2`.
pub fn format_flow_mod(fm: &FlowMod, version: Version) -> String {
    let mut s = String::new();
    s.push_str(match fm.command {
        0 => "ADD",
        1 => "MOD",
        2 => "MOD_STRICT",
        3 => "DEL",
        4 => "DEL_STRICT",
        _ => "cmd:?",
    });
    s.push(' ');
    if fm.table_id != 0 {
        let _ = write!(s, "table:{} ", fm.table_id);
    }
    let m = format_match(&fm.match_, fm.priority);
    if !m.is_empty() {
        s.push_str(&m);
        s.push(' ');
    }
    let add = fm.command == 0;
    if version == Version::V1_0 || add {
        // All-ones means "leave the cookie alone".
        if fm.cookie != 0 && fm.cookie != u64::MAX {
            let _ = write!(s, "cookie:{:#x} ", fm.cookie);
        }
    } else if fm.cookie_mask != 0 {
        let _ = write!(s, "cookie:{:#x}/{:#x} ", fm.cookie, fm.cookie_mask);
    }
    if fm.idle_timeout != 0 {
        let _ = write!(s, "idle:{} ", fm.idle_timeout);
    }
    if fm.hard_timeout != 0 {
        let _ = write!(s, "hard:{} ", fm.hard_timeout);
    }
    if fm.importance != 0 && version >= Version::V1_4 {
        let _ = write!(s, "importance:{} ", fm.importance);
    }
    if fm.buffer_id != u32::MAX {
        let _ = write!(s, "buf:{:#x} ", fm.buffer_id);
    }
    if fm.out_port != port::OFPP_ANY {
        let _ = write!(s, "out_port:{} ", port::name(fm.out_port));
    }
    if fm.out_group != u32::MAX && version != Version::V1_0 && !add {
        let _ = write!(s, "out_group:{} ", fm.out_group);
    }
    for f in flags_text(fm.flags, version) {
        s.push_str(f);
        s.push(' ');
    }
    s.push_str("actions=");
    s.push_str(&format_instructions(&fm.instructions));
    s
}

/// One line of `ovs-ofctl dump-flows` output for a flow stats entry.
pub fn format_flow_stats(fs: &FlowStats, version: Version) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        " cookie={:#x}, duration={}.{:03}s, table={}, n_packets={}, n_bytes={}, ",
        fs.cookie,
        fs.duration_sec,
        fs.duration_nsec / 1_000_000,
        fs.table_id,
        fs.packet_count,
        fs.byte_count
    );
    if fs.idle_timeout != 0 {
        let _ = write!(s, "idle_timeout={}, ", fs.idle_timeout);
    }
    if fs.hard_timeout != 0 {
        let _ = write!(s, "hard_timeout={}, ", fs.hard_timeout);
    }
    for f in flags_text(fs.flags, version) {
        let _ = write!(s, "{f}, ");
    }
    if fs.importance != 0 {
        let _ = write!(s, "importance={}, ", fs.importance);
    }
    s.push_str(&format_match(&fs.match_, fs.priority));
    if !s.ends_with(' ') {
        s.push(' ');
    }
    s.push_str("actions=");
    s.push_str(&format_instructions(&fs.instructions));
    s
}

/// One `ovs-ofctl dump-flows` line for an OpenFlow 1.0 `NXST_FLOW` entry (which adds the
/// flow's idle and hard ages).
pub fn format_nx_flow_stats(fs: &crate::ofp::multipart::NxFlowStats) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        " cookie={:#x}, duration={}.{:03}s, table={}, n_packets={}, n_bytes={}, ",
        fs.cookie,
        fs.duration_sec,
        fs.duration_nsec / 1_000_000,
        fs.table_id,
        fs.packet_count,
        fs.byte_count
    );
    if fs.idle_timeout != 0 {
        let _ = write!(s, "idle_timeout={}, ", fs.idle_timeout);
    }
    if fs.hard_timeout != 0 {
        let _ = write!(s, "hard_timeout={}, ", fs.hard_timeout);
    }
    // Ages are sent plus one, so that zero means "unknown".
    if fs.idle_age > 0 {
        let _ = write!(s, "idle_age={}, ", fs.idle_age - 1);
    }
    if fs.hard_age > 0 && u32::from(fs.hard_age - 1) != fs.duration_sec {
        let _ = write!(s, "hard_age={}, ", fs.hard_age - 1);
    }
    s.push_str(&format_match(&Match::Oxm(fs.match_.clone()), fs.priority));
    if !s.ends_with(' ') {
        s.push(' ');
    }
    s.push_str("actions=");
    s.push_str(&format_actions(&fs.actions));
    s
}
