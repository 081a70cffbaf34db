//! Packet parsing: one pass over a frame's headers into a [`FlowKey`].
//!
//! [`parse`] walks Ethernet, up to two VLAN tags (802.1Q 0x8100, 802.1ad
//! 0x88a8), then one of: the top MPLS label stack entry, ARP, IPv4 or IPv6
//! (with hop-by-hop, routing, destination-options, authentication and
//! fragment extension headers), and then TCP, UDP, SCTP, ICMPv4 or ICMPv6
//! (with neighbor-discovery target and link-layer address options).
//!
//! Who calls it: the PMD thread, once per received packet, before the EMC
//! lookup; the action executor, to locate headers after a push/pop changed
//! the frame's layout. It allocates nothing and does not touch the key's
//! metadata fields other than `in_port`.
//!
//! Invariants, because the frame is untrusted:
//! - it never panics and never reads past `frame.len()` (every read goes
//!   through `slice::get`);
//! - a header's fields go into the key only when the whole header is in the
//!   frame (and is well formed); a truncated or malformed frame still gets the
//!   fields of every header before the bad one. So each field of a truncated
//!   frame's key is either 0 or equal to the field of the full frame's key.
//! - the IP payload ends at the smaller of the frame end and the IP length
//!   field, so Ethernet padding is never parsed as L4.
//! - frames longer than 64 KiB are parsed as their first 64 KiB (offsets in
//!   [`ParseInfo`] are `u16`, like an mbuf's data length).

use crate::key::{FlowKey, Frag, HOT_WORDS};

/// Ethertypes the parser knows.
pub mod ethertype {
    /// IPv4.
    pub const IPV4: u16 = 0x0800;
    /// ARP.
    pub const ARP: u16 = 0x0806;
    /// Reverse ARP (same packet format as ARP).
    pub const RARP: u16 = 0x8035;
    /// 802.1Q customer VLAN tag.
    pub const VLAN: u16 = 0x8100;
    /// 802.1ad service VLAN tag (QinQ outer tag).
    pub const QINQ: u16 = 0x88a8;
    /// IPv6.
    pub const IPV6: u16 = 0x86dd;
    /// MPLS unicast.
    pub const MPLS: u16 = 0x8847;
    /// MPLS multicast.
    pub const MPLS_MCAST: u16 = 0x8848;
    /// The value `eth_type` takes for an 802.2 LLC frame without SNAP: a
    /// frame whose length/type field is below 0x600 carries no ethertype.
    pub const NONE: u16 = 0x05ff;
    /// Type/length values below this are 802.3 lengths.
    pub const MIN: u16 = 0x0600;
}

/// IP protocol numbers the parser knows.
pub mod ipproto {
    /// IPv6 hop-by-hop options.
    pub const HOPOPTS: u8 = 0;
    /// ICMPv4.
    pub const ICMP: u8 = 1;
    /// TCP.
    pub const TCP: u8 = 6;
    /// UDP.
    pub const UDP: u8 = 17;
    /// IPv6 routing header.
    pub const ROUTING: u8 = 43;
    /// IPv6 fragment header.
    pub const FRAGMENT: u8 = 44;
    /// IP authentication header.
    pub const AH: u8 = 51;
    /// ICMPv6.
    pub const ICMPV6: u8 = 58;
    /// IPv6 destination options.
    pub const DSTOPTS: u8 = 60;
    /// SCTP.
    pub const SCTP: u8 = 132;
}

/// Where the headers of a parsed frame are, for the action executor. An
/// offset is `Some` only if that header was complete and went into the key.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct ParseInfo {
    /// Number of VLAN tags parsed (0..=2).
    pub n_vlans: u8,
    /// Offset of the innermost ethertype field (12 + 4 per VLAN tag), if
    /// the frame has one (not for 802.2 LLC frames or truncated tags).
    pub ethertype_ofs: Option<u16>,
    /// Offset of the top MPLS label stack entry.
    pub mpls_ofs: Option<u16>,
    /// Offset of the ARP, IPv4 or IPv6 header.
    pub l3_ofs: Option<u16>,
    /// Offset of the TCP, UDP, SCTP, ICMPv4 or ICMPv6 header.
    pub l4_ofs: Option<u16>,
    /// End of the IP payload: the smaller of the frame length and the end
    /// given by the IP length field. Meaningful when `l3_ofs` is IP.
    pub l4_end: u16,
    /// IPv6 with a routing header that has segments left: the destination
    /// field is not the final destination, so the L4 checksum's
    /// pseudo-header does not cover it.
    pub ipv6_routing_pending: bool,
}

#[inline(always)]
fn be16(f: &[u8], ofs: usize) -> Option<u16> {
    Some(u16::from_be_bytes(f.get(ofs..ofs + 2)?.try_into().ok()?))
}

#[inline(always)]
fn be32(f: &[u8], ofs: usize) -> Option<u32> {
    Some(u32::from_be_bytes(f.get(ofs..ofs + 4)?.try_into().ok()?))
}

#[inline(always)]
fn mac(f: &[u8], ofs: usize) -> Option<[u8; 6]> {
    f.get(ofs..ofs + 6)?.try_into().ok()
}

#[inline(always)]
fn addr16(f: &[u8], ofs: usize) -> Option<[u8; 16]> {
    f.get(ofs..ofs + 16)?.try_into().ok()
}

/// True for the two TPIDs the parser treats as VLAN tags.
#[inline]
pub fn is_vlan_tpid(t: u16) -> bool {
    t == ethertype::VLAN || t == ethertype::QINQ
}

/// True for the MPLS ethertypes.
#[inline]
pub fn is_mpls(t: u16) -> bool {
    t == ethertype::MPLS || t == ethertype::MPLS_MCAST
}

/// Parses `frame` into `key` (whose header fields must be zero on entry,
/// e.g. a fresh `FlowKey::default()`; metadata fields are kept) and sets
/// `in_port`. Returns where the headers are.
pub fn parse(frame: &[u8], in_port: u32, key: &mut FlowKey) -> ParseInfo {
    let mut info = ParseInfo::default();
    parse_into(frame, in_port, key, &mut info);
    info
}

/// [`parse`], writing the layout into `info` (reset first). The PMD parses
/// straight into its per-burst array this way: a returned `ParseInfo` is
/// built with narrow stores and then copied wide, which stalls store
/// forwarding once per packet.
#[inline]
pub fn parse_into(frame: &[u8], in_port: u32, key: &mut FlowKey, info: &mut ParseInfo) {
    let frame = &frame[..frame.len().min(u16::MAX as usize)];
    key.set_in_port(in_port);
    *info = ParseInfo::default();
    parse_l2(frame, key, info);
}

/// Parses a frame fresh from a port into a key that holds nothing else:
/// every word of `key` is overwritten (metadata zero, `in_port` set), as
/// is `info`. Equal to `*key = FlowKey::default()` then [`parse_into`].
///
/// Cost: the common frame, untagged Ethernet + IPv4 without options or
/// fragmentation + UDP or TCP, takes [`parse_ipv4_l4_fast`]: one length
/// check, about ten loads and the key written as five whole words plus
/// zeros (vector stores), against a field-by-field walk with a bounds
/// check and a read-modify-write of a key word per field. Every other
/// frame zeroes the key and takes the general walk.
///
/// Returns true when the fast case took the frame, so the key's tail
/// (words from [`crate::key::HOT_WORDS`] on) is known to be zero: the
/// caller may then use [`FlowKey::hash_zero_tail`] and a tail map of 0
/// without scanning. False says nothing about the tail.
#[inline]
pub fn parse_fresh(frame: &[u8], in_port: u32, key: &mut FlowKey, info: &mut ParseInfo) -> bool {
    if parse_ipv4_l4_fast(frame, in_port, key, info) {
        return true;
    }
    *key = FlowKey::default();
    parse_into(frame, in_port, key, info);
    false
}

/// The fast case of [`parse_fresh`]; returns false, touching nothing,
/// when the frame is not that case. It must produce exactly what the
/// general walk produces (a test compares them).
#[inline(always)]
fn parse_ipv4_l4_fast(frame: &[u8], in_port: u32, key: &mut FlowKey, info: &mut ParseInfo) -> bool {
    const L3: usize = 14;
    const L4: usize = L3 + 20;
    // Ethernet, a 20-byte IPv4 header and a UDP header: the one length
    // check; TCP checks its further 12 bytes below.
    let Some(h) = frame.get(..L4 + 8) else {
        return false;
    };
    let be64 = |ofs: usize| u64::from_be_bytes(h[ofs..ofs + 8].try_into().unwrap_or_default());
    let b = |ofs: usize| u64::from(h[ofs]);
    // Ethertype 0x0800, version 4 with IHL 5, not a fragment (MF and
    // offset zero; DF may be set), UDP or TCP.
    let proto = h[L3 + 9];
    if h[12..16] != [0x08, 0x00, 0x45, h[15]]
        || u16::from_be_bytes([h[L3 + 6], h[L3 + 7]]) & 0x3fff != 0
        || (proto != ipproto::UDP && proto != ipproto::TCP)
    {
        return false;
    }
    let len = frame.len().min(u16::MAX as usize);
    let total = usize::from(u16::from_be_bytes([h[L3 + 2], h[L3 + 3]]));
    // The IP payload ends at the smaller of the frame and the IP length.
    let end = len.min(L3 + total);
    let mut tcp_flags = 0;
    if proto == ipproto::UDP {
        if end < L4 + 8 {
            return false;
        }
    } else {
        let Some(&[off_flags_hi, flags_lo]) = frame.get(L4 + 12..L4 + 14) else {
            return false;
        };
        let doff = usize::from(off_flags_hi >> 4) * 4;
        if doff < 20 || end < L4 + doff {
            return false;
        }
        tcp_flags = (u64::from(off_flags_hi) << 8 | u64::from(flags_lo)) & 0x0fff;
    }
    // The words of key.rs's layout: in_port | recirc_id 0; eth_dst |
    // eth_type; eth_src | ip_proto | frag no; ipv4 src | dst; tp_src |
    // tp_dst | tcp_flags | tos | ttl. Addresses are big-endian numbers.
    // Written in place, not built in a local and copied: the copy was
    // a zeroing and a 152-byte move per packet.
    let addrs = be64(L3 + 12);
    let ports = be64(L4) >> 32;
    let words = &mut key.words;
    words[0] = u64::from(in_port);
    words[1] = (be64(0) >> 16) | 0x0800 << 48;
    words[2] = (be64(6) >> 16) | b(L3 + 9) << 48;
    words[3] = (addrs >> 32) | (addrs & 0xffff_ffff) << 32;
    words[4] = (ports >> 16)
        | (ports & 0xffff) << 16
        | tcp_flags << 32
        | b(L3 + 1) << 48
        | b(L3 + 8) << 56;
    words[HOT_WORDS..].fill(0);
    *info = ParseInfo {
        n_vlans: 0,
        ethertype_ofs: Some(12),
        mpls_ofs: None,
        l3_ofs: Some(L3 as u16),
        l4_ofs: Some(L4 as u16),
        // `end` <= u16::MAX: `len` is capped there.
        l4_end: end as u16,
        ipv6_routing_pending: false,
    };
    true
}

/// The TCP flags [`parse`] would put in `frame`'s key, for a flow hit that
/// needs nothing else (the PMD's simple-match path keeps flow `tcp_flags`
/// stats without building a key). Untagged IPv4 that is not TCP, and any
/// ethertype that can carry no TCP, cost one or two loads; anything else
/// (TCP, VLAN tags, IPv6) takes the full parse.
#[inline]
pub fn tcp_flags_of(frame: &[u8]) -> u16 {
    match be16(frame, 12) {
        // Too short for an ethertype: no L3 at all.
        None => 0,
        // IPv4: byte 23 is the protocol; absent means no IPv4 header.
        Some(ethertype::IPV4) if frame.get(23).is_none_or(|&p| p != ipproto::TCP) => 0,
        Some(t) if t != ethertype::IPV4 && t != ethertype::IPV6 && !is_vlan_tpid(t) => 0,
        Some(_) => {
            let mut key = FlowKey::default();
            parse(frame, 0, &mut key);
            key.tcp_flags()
        }
    }
}

fn parse_l2(f: &[u8], key: &mut FlowKey, info: &mut ParseInfo) {
    let Some(dst) = mac(f, 0) else { return };
    key.set_eth_dst(dst);
    let Some(src) = mac(f, 6) else { return };
    key.set_eth_src(src);

    let mut ofs = 12;
    let Some(mut ty) = be16(f, ofs) else { return };
    for tag in 0..2 {
        if !is_vlan_tpid(ty) {
            break;
        }
        let Some(tci) = be16(f, ofs + 2) else { return };
        if tag == 0 {
            key.set_vlan_outer_tpid(ty);
            key.set_vlan_outer_tci(tci);
        } else {
            key.set_vlan_inner_tpid(ty);
            key.set_vlan_inner_tci(tci);
        }
        info.n_vlans += 1;
        ofs += 4;
        let Some(next) = be16(f, ofs) else { return };
        ty = next;
    }

    if ty < ethertype::MIN {
        // 802.3 length field: only LLC+SNAP with a zero OUI carries an
        // ethertype (8 bytes of LLC/SNAP after the length).
        let snap = f.get(ofs + 2..ofs + 10);
        match snap {
            Some([0xaa, 0xaa, 0x03, 0, 0, 0, hi, lo]) => {
                ty = u16::from_be_bytes([*hi, *lo]);
                ofs += 8;
            }
            Some(_) => {
                key.set_eth_type(ethertype::NONE);
                return;
            }
            None => return,
        }
    }
    key.set_eth_type(ty);
    info.ethertype_ofs = Some(ofs as u16);
    let l3 = ofs + 2;

    match ty {
        ethertype::IPV4 => parse_ipv4(f, l3, key, info),
        ethertype::IPV6 => parse_ipv6(f, l3, key, info),
        ethertype::ARP | ethertype::RARP => parse_arp(f, l3, key, info),
        t if is_mpls(t) => {
            if let Some(lse) = be32(f, l3) {
                key.set_mpls_label(lse >> 12);
                key.set_mpls_tc(((lse >> 9) & 7) as u8);
                key.set_mpls_bos(((lse >> 8) & 1) as u8);
                key.set_mpls_ttl(lse as u8);
                info.mpls_ofs = Some(l3 as u16);
            }
        }
        _ => {}
    }
}

fn parse_arp(f: &[u8], l3: usize, key: &mut FlowKey, info: &mut ParseInfo) {
    // Only Ethernet/IPv4 ARP (htype 1, ptype 0x0800, hlen 6, plen 4) has
    // the fields the key holds.
    let Some(h) = f.get(l3..l3 + 28) else { return };
    if h[0..6] != [0, 1, 0x08, 0x00, 6, 4] {
        return;
    }
    key.set_arp_op(u16::from_be_bytes([h[6], h[7]]));
    key.set_arp_sha([h[8], h[9], h[10], h[11], h[12], h[13]]);
    key.set_arp_spa([h[14], h[15], h[16], h[17]].into());
    key.set_arp_tha([h[18], h[19], h[20], h[21], h[22], h[23]]);
    key.set_arp_tpa([h[24], h[25], h[26], h[27]].into());
    info.l3_ofs = Some(l3 as u16);
}

fn parse_ipv4(f: &[u8], l3: usize, key: &mut FlowKey, info: &mut ParseInfo) {
    let Some(h) = f.get(l3..l3 + 20) else { return };
    let ihl = usize::from(h[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([h[2], h[3]]));
    if h[0] >> 4 != 4 || ihl < 20 || total < ihl || f.len() < l3 + ihl {
        return;
    }
    key.set_ipv4_src([h[12], h[13], h[14], h[15]].into());
    key.set_ipv4_dst([h[16], h[17], h[18], h[19]].into());
    key.set_ip_tos(h[1]);
    key.set_ip_ttl(h[8]);
    let proto = h[9];
    key.set_ip_proto(proto);
    let frag_field = u16::from_be_bytes([h[6], h[7]]);
    let more_fragments = frag_field & 0x2000 != 0;
    let offset = frag_field & 0x1fff;
    let frag = if offset != 0 {
        Frag::Later
    } else if more_fragments {
        Frag::First
    } else {
        Frag::No
    };
    key.set_frag(frag);
    info.l3_ofs = Some(l3 as u16);
    let end = f.len().min(l3 + total);
    info.l4_end = end as u16;
    if frag != Frag::Later {
        parse_l4(&f[..end], l3 + ihl, proto, key, info);
    }
}

fn parse_ipv6(f: &[u8], l3: usize, key: &mut FlowKey, info: &mut ParseInfo) {
    let Some(h) = f.get(l3..l3 + 40) else { return };
    if h[0] >> 4 != 6 {
        return;
    }
    let word0 = u32::from_be_bytes([h[0], h[1], h[2], h[3]]);
    key.set_ip_tos((word0 >> 20) as u8);
    key.set_ipv6_label(word0 & 0x000f_ffff);
    key.set_ip_ttl(h[7]);
    let mut src = [0u8; 16];
    src.copy_from_slice(&h[8..24]);
    key.set_ipv6_src(src.into());
    let mut dst = [0u8; 16];
    dst.copy_from_slice(&h[24..40]);
    key.set_ipv6_dst(dst.into());
    info.l3_ofs = Some(l3 as u16);
    // A payload length of 0 means a jumbogram (or garbage): use the frame.
    let plen = usize::from(u16::from_be_bytes([h[4], h[5]]));
    let end = if plen == 0 {
        f.len()
    } else {
        f.len().min(l3 + 40 + plen)
    };
    info.l4_end = end as u16;
    let f = &f[..end];

    // Walk the extension headers. Each is at least 8 bytes, so the loop
    // ends within the frame. If one is truncated, ip_proto stays unset: the
    // upper-layer protocol is unknown.
    let mut next = h[6];
    let mut ofs = l3 + 40;
    let mut frag = Frag::No;
    loop {
        match next {
            ipproto::HOPOPTS | ipproto::ROUTING | ipproto::DSTOPTS => {
                let Some(e) = f.get(ofs..ofs + 8) else { return };
                if next == ipproto::ROUTING && e[3] != 0 {
                    info.ipv6_routing_pending = true;
                }
                next = e[0];
                ofs += (usize::from(e[1]) + 1) * 8;
            }
            ipproto::AH => {
                let Some(e) = f.get(ofs..ofs + 8) else { return };
                next = e[0];
                ofs += (usize::from(e[1]) + 2) * 4;
            }
            ipproto::FRAGMENT => {
                let Some(e) = f.get(ofs..ofs + 8) else { return };
                next = e[0];
                ofs += 8;
                let off_m = u16::from_be_bytes([e[2], e[3]]);
                if off_m & 0xfff8 != 0 {
                    frag = Frag::Later;
                    break;
                }
                // Offset 0: the first fragment, also when the M flag is
                // clear (an "atomic" fragment is still fragment-tagged).
                frag = Frag::First;
            }
            _ => break,
        }
        if ofs > f.len() {
            // The extension header claims more bytes than there are.
            return;
        }
    }
    key.set_ip_proto(next);
    key.set_frag(frag);
    if frag != Frag::Later {
        parse_l4(f, ofs, next, key, info);
    }
}

/// Parses the transport header at `l4` in `f` (already cut at the IP
/// payload end).
fn parse_l4(f: &[u8], l4: usize, proto: u8, key: &mut FlowKey, info: &mut ParseInfo) {
    match proto {
        ipproto::TCP => {
            let Some(h) = f.get(l4..l4 + 20) else { return };
            let doff = usize::from(h[12] >> 4) * 4;
            if doff < 20 || f.len() < l4 + doff {
                return;
            }
            key.set_tp_src(u16::from_be_bytes([h[0], h[1]]));
            key.set_tp_dst(u16::from_be_bytes([h[2], h[3]]));
            key.set_tcp_flags(u16::from_be_bytes([h[12], h[13]]) & 0x0fff);
        }
        ipproto::UDP => {
            let Some(h) = f.get(l4..l4 + 8) else { return };
            key.set_tp_src(u16::from_be_bytes([h[0], h[1]]));
            key.set_tp_dst(u16::from_be_bytes([h[2], h[3]]));
        }
        ipproto::SCTP => {
            let Some(h) = f.get(l4..l4 + 12) else { return };
            key.set_tp_src(u16::from_be_bytes([h[0], h[1]]));
            key.set_tp_dst(u16::from_be_bytes([h[2], h[3]]));
        }
        ipproto::ICMP => {
            let Some(h) = f.get(l4..l4 + 8) else { return };
            key.set_tp_src(h[0].into());
            key.set_tp_dst(h[1].into());
        }
        ipproto::ICMPV6 => {
            let Some(h) = f.get(l4..l4 + 4) else { return };
            key.set_tp_src(h[0].into());
            key.set_tp_dst(h[1].into());
            parse_nd(f, l4, h[0], h[1], key);
        }
        _ => return,
    }
    info.l4_ofs = Some(l4 as u16);
}

/// ICMPv6 types carrying a neighbor-discovery target.
const ND_NEIGHBOR_SOLICIT: u8 = 135;
const ND_NEIGHBOR_ADVERT: u8 = 136;
/// ND option types for the source and target link-layer addresses.
const ND_OPT_SLL: u8 = 1;
const ND_OPT_TLL: u8 = 2;

/// Neighbor solicitation / advertisement: the target address, then
/// options of (type, length in 8-byte units, data). A malformed option list
/// (zero length, option past the end, a repeated address option) makes the
/// whole ND part invalid, so none of target/SLL/TLL is set.
fn parse_nd(f: &[u8], l4: usize, ty: u8, code: u8, key: &mut FlowKey) {
    if code != 0 || (ty != ND_NEIGHBOR_SOLICIT && ty != ND_NEIGHBOR_ADVERT) {
        return;
    }
    let Some(target) = addr16(f, l4 + 8) else {
        return;
    };
    let mut sll = None;
    let mut tll = None;
    let mut ofs = l4 + 24;
    while let Some(opt) = f.get(ofs..ofs + 8) {
        let len = usize::from(opt[1]) * 8;
        if len == 0 || ofs + len > f.len() {
            return;
        }
        let addr = [opt[2], opt[3], opt[4], opt[5], opt[6], opt[7]];
        let slot = match opt[0] {
            ND_OPT_SLL if len == 8 && ty == ND_NEIGHBOR_SOLICIT => Some(&mut sll),
            ND_OPT_TLL if len == 8 && ty == ND_NEIGHBOR_ADVERT => Some(&mut tll),
            _ => None,
        };
        if let Some(slot) = slot {
            if slot.replace(addr).is_some() {
                return;
            }
        }
        ofs += len;
    }
    key.set_nd_target(target.into());
    if let Some(a) = sll {
        key.set_nd_sll(a);
    }
    if let Some(a) = tll {
        key.set_nd_tll(a);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::{FieldId, FlowMask, KEY_WORDS};
    use etherparse::{
        IpHeaders, IpNumber, Ipv4Header, Ipv6Extensions, Ipv6FragmentHeader, Ipv6Header,
        Ipv6RawExtHeader, Ipv6RoutingExtensions, PacketBuilder, SingleVlanHeader, VlanHeader,
    };
    use std::net::{Ipv4Addr, Ipv6Addr};

    const SRC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
    const DST: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];

    fn parse_new(frame: &[u8]) -> (FlowKey, ParseInfo) {
        let mut k = FlowKey::default();
        let info = parse(frame, 7, &mut k);
        (k, info)
    }

    /// Parses every prefix of `frame`: no panic; every field is either 0
    /// or equal to the full frame's; and each (end offset, fields) group is
    /// fully present once the prefix reaches that offset.
    fn check_truncations(frame: &[u8], groups: &[(usize, &[FieldId])]) {
        let (full, _) = parse_new(frame);
        for n in 0..frame.len() {
            let (k, _) = parse_new(&frame[..n]);
            assert_eq!(k.in_port(), 7);
            for id in FieldId::all() {
                let v = k.get(id);
                assert!(
                    v == 0 || v == full.get(id),
                    "prefix {n}: {} = {v:#x}, full {:#x}",
                    id.name(),
                    full.get(id)
                );
            }
            for (end, ids) in groups {
                if n >= *end {
                    for &id in *ids {
                        assert_eq!(k.get(id), full.get(id), "prefix {n}: {}", id.name());
                    }
                }
            }
        }
    }

    fn tcp_v4_frame() -> Vec<u8> {
        let b = PacketBuilder::ethernet2(SRC, DST)
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .tcp(1234, 80, 1000, 4096)
            .syn()
            .ack(5);
        let mut out = Vec::new();
        b.write(&mut out, b"hello").unwrap();
        out
    }

    #[test]
    fn ethernet_ipv4_tcp() {
        let f = tcp_v4_frame();
        let (k, info) = parse_new(&f);
        assert_eq!(k.eth_src(), SRC);
        assert_eq!(k.eth_dst(), DST);
        assert_eq!(k.eth_type(), 0x0800);
        assert_eq!(k.ipv4_src(), Ipv4Addr::new(10, 0, 0, 1));
        assert_eq!(k.ipv4_dst(), Ipv4Addr::new(10, 0, 0, 2));
        assert_eq!(k.ip_proto(), 6);
        assert_eq!(k.ip_ttl(), 64);
        assert_eq!(k.ip_tos(), 0);
        assert_eq!(k.frag(), Some(Frag::No));
        assert_eq!(k.tp_src(), 1234);
        assert_eq!(k.tp_dst(), 80);
        assert_eq!(k.tcp_flags(), 0x012); // SYN|ACK
        assert_eq!(k.vlan_outer_tpid(), 0);
        assert_eq!(
            info,
            ParseInfo {
                n_vlans: 0,
                ethertype_ofs: Some(12),
                mpls_ofs: None,
                l3_ofs: Some(14),
                l4_ofs: Some(34),
                l4_end: f.len() as u16,
                ipv6_routing_pending: false,
            }
        );
        check_truncations(
            &f,
            &[
                (12, &[FieldId::EthSrc, FieldId::EthDst]),
                (34, &[FieldId::Ipv4Src, FieldId::IpProto, FieldId::IpTtl]),
                (54, &[FieldId::TpSrc, FieldId::TcpFlags]),
            ],
        );
    }

    /// Frames around the fast path's edges: every one must parse exactly
    /// as the general walk does, whichever path takes it.
    #[test]
    fn parse_fresh_agrees_with_parse() {
        let udp = {
            let b = PacketBuilder::ethernet2(SRC, DST)
                .ipv4([10, 1, 2, 3], [172, 16, 0, 1], 64)
                .udp(1024, 5001);
            let mut out = Vec::new();
            b.write(&mut out, &[0; 18]).unwrap();
            out
        };
        let mut frames = vec![
            udp.clone(),
            tcp_v4_frame(),
            sctp_frame(),
            ipv6_ext_frame(0, false),
        ];
        for cut in [0, 13, 33, 41, 42, 45, 53, 54] {
            frames.push(udp[..cut.min(udp.len())].to_vec());
            frames.push(tcp_v4_frame()[..cut].to_vec());
        }
        let mut edit = |f: &Vec<u8>, ofs: usize, v: &[u8]| {
            let mut f = f.clone();
            f[ofs..ofs + v.len()].copy_from_slice(v);
            frames.push(f);
        };
        edit(&udp, 14, &[0x46]); // IHL 6: options
        edit(&udp, 14, &[0x55]); // version 5
        edit(&udp, 16, &[0, 27]); // IP length shorter than IP + UDP
        edit(&udp, 16, &[0, 28]); // IP length ends right after UDP
        edit(&udp, 16, &[0xff, 0xff]); // IP length past the frame
        edit(&udp, 20, &[0x40, 0]); // DF
        edit(&udp, 20, &[0x20, 0]); // MF
        edit(&udp, 20, &[0, 1]); // later fragment
        edit(&udp, 15, &[0xfc]); // TOS
        edit(&udp, 23, &[ipproto::ICMP]);
        edit(&udp, 12, &[0x81, 0x00]); // a VLAN tag, then garbage
        let tcp = tcp_v4_frame();
        // The two common frames do take the fast path.
        let (mut k, mut i) = (FlowKey::default(), ParseInfo::default());
        assert!(parse_ipv4_l4_fast(&udp, 7, &mut k, &mut i));
        assert!(parse_ipv4_l4_fast(&tcp, 7, &mut k, &mut i));
        edit(&tcp, 46, &[0x40]); // TCP data offset 16: malformed
        edit(&tcp, 46, &[0xf0]); // data offset 60: past the frame
        edit(&tcp, 46, &[0x5f, 0xff]); // every flag bit and reserved bits
        for f in &frames {
            let mut fresh = FlowKey {
                words: [u64::MAX; KEY_WORDS],
            };
            let mut info = ParseInfo {
                n_vlans: 9,
                ..ParseInfo::default()
            };
            let fast = parse_fresh(f, 7, &mut fresh, &mut info);
            let mut want = FlowKey::default();
            let want_info = parse(f, 7, &mut want);
            if fast {
                assert_eq!(want.tail_map(), 0, "{f:02x?}");
            }
            assert_eq!((fresh, info), (want, want_info), "{f:02x?}");
        }
    }

    #[test]
    fn tcp_flags_of_agrees_with_parse() {
        let mut frames = vec![tcp_v4_frame(), ipv6_ext_frame(0, false), sctp_frame()];
        frames.extend([Vec::new(), vec![0; 13], vec![0x08, 0x00, 0x45]]);
        let mut udp = tcp_v4_frame();
        udp[23] = ipproto::UDP;
        frames.push(udp);
        // A truncated TCP/IPv4 frame and an ARP one.
        frames.push(tcp_v4_frame()[..30].to_vec());
        let mut arp = tcp_v4_frame();
        arp[12..14].copy_from_slice(&ethertype::ARP.to_be_bytes());
        frames.push(arp);
        for f in &frames {
            assert_eq!(tcp_flags_of(f), parse_new(f).0.tcp_flags(), "{f:02x?}");
        }
        assert_ne!(tcp_flags_of(&tcp_v4_frame()), 0);
    }

    #[test]
    fn ethernet_padding_is_not_l4() {
        // A UDP datagram claiming 8 bytes in IPv4 but followed by padding:
        // the padding stays outside the IP payload.
        let mut f = Vec::new();
        PacketBuilder::ethernet2(SRC, DST)
            .ipv4([1, 1, 1, 1], [2, 2, 2, 2], 1)
            .udp(53, 53)
            .write(&mut f, &[])
            .unwrap();
        f.extend_from_slice(&[0u8; 18]);
        let (k, info) = parse_new(&f);
        assert_eq!(info.l4_end, 14 + 28);
        assert_eq!(k.tp_dst(), 53);
    }

    #[test]
    fn double_vlan_udp_ipv6() {
        let mut f = Vec::new();
        PacketBuilder::ethernet2(SRC, DST)
            .double_vlan(
                etherparse::VlanId::try_new(100).unwrap(),
                etherparse::VlanId::try_new(200).unwrap(),
            )
            .ipv6(
                Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1).octets(),
                Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2).octets(),
                33,
            )
            .udp(4000, 4001)
            .write(&mut f, b"payload")
            .unwrap();
        let (k, info) = parse_new(&f);
        assert_eq!(k.vlan_outer_tpid(), 0x88a8);
        assert_eq!(k.vlan_outer_tci(), 100);
        assert_eq!(k.vlan_inner_tpid(), 0x8100);
        assert_eq!(k.vlan_inner_tci(), 200);
        assert_eq!(k.eth_type(), 0x86dd);
        assert_eq!(k.ipv6_src(), Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1));
        assert_eq!(k.ipv6_dst(), Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2));
        assert_eq!(k.ip_ttl(), 33);
        assert_eq!(k.ip_proto(), 17);
        assert_eq!(k.tp_src(), 4000);
        assert_eq!(k.tp_dst(), 4001);
        assert_eq!(info.n_vlans, 2);
        assert_eq!(info.ethertype_ofs, Some(20));
        assert_eq!(info.l3_ofs, Some(22));
        assert_eq!(info.l4_ofs, Some(62));
        check_truncations(
            &f,
            &[
                (16, &[FieldId::VlanOuterTci]),
                (20, &[FieldId::VlanInnerTci]),
                (62, &[FieldId::Ipv6Src, FieldId::Ipv6Dst, FieldId::IpProto]),
                (70, &[FieldId::TpSrc, FieldId::TpDst]),
            ],
        );
    }

    #[test]
    fn vlan_pcp_and_ipv6_tc_label() {
        let mut ip6 = Ipv6Header {
            traffic_class: 0xb8,
            flow_label: etherparse::Ipv6FlowLabel::try_new(0xabcde).unwrap(),
            hop_limit: 255,
            source: [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
            destination: [0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
            ..Default::default()
        };
        ip6.next_header = IpNumber::UDP;
        let mut f = Vec::new();
        PacketBuilder::ethernet2(SRC, DST)
            .vlan(VlanHeader::Single(SingleVlanHeader {
                pcp: etherparse::VlanPcp::try_new(5).unwrap(),
                drop_eligible_indicator: true,
                vlan_id: etherparse::VlanId::try_new(0xabc).unwrap(),
                ether_type: etherparse::EtherType::IPV6,
            }))
            .ip(IpHeaders::Ipv6(ip6, Default::default()))
            .udp(1, 2)
            .write(&mut f, &[])
            .unwrap();
        let (k, _) = parse_new(&f);
        assert_eq!(k.vlan_outer_tpid(), 0x8100);
        assert_eq!(k.vlan_outer_tci(), 0xbabc); // pcp 5, dei 1, vid 0xabc
        assert_eq!(k.vlan_inner_tpid(), 0);
        assert_eq!(k.ip_tos(), 0xb8);
        assert_eq!(k.ipv6_label(), 0xabcde);
        assert_eq!(k.ip_ttl(), 255);
    }

    #[test]
    fn arp() {
        let mut f = Vec::new();
        etherparse::Ethernet2Header {
            source: SRC,
            destination: [0xff; 6],
            ether_type: etherparse::EtherType::ARP,
        }
        .write(&mut f)
        .unwrap();
        // etherparse 0.16 has no ARP type: the 28 bytes literally.
        f.extend_from_slice(&[0, 1, 0x08, 0x00, 6, 4, 0, 1]);
        f.extend_from_slice(&SRC);
        f.extend_from_slice(&[192, 168, 1, 1, 0, 0, 0, 0, 0, 0, 192, 168, 1, 2]);
        let (k, info) = parse_new(&f);
        assert_eq!(k.eth_type(), 0x0806);
        assert_eq!(k.arp_op(), 1);
        assert_eq!(k.arp_sha(), SRC);
        assert_eq!(k.arp_spa(), Ipv4Addr::new(192, 168, 1, 1));
        assert_eq!(k.arp_tha(), [0; 6]);
        assert_eq!(k.arp_tpa(), Ipv4Addr::new(192, 168, 1, 2));
        assert_eq!(info.l3_ofs, Some(14));
        assert_eq!(info.l4_ofs, None);
        check_truncations(&f, &[(42, &[FieldId::ArpOp, FieldId::ArpTpa])]);
    }

    #[test]
    fn ipv4_options_and_fragments() {
        let mut ip = Ipv4Header::new(0, 9, IpNumber::UDP, [1, 2, 3, 4], [5, 6, 7, 8]).unwrap();
        ip.options = [1u8, 1, 1, 0][..].try_into().unwrap(); // NOP NOP NOP EOL
        ip.dscp = etherparse::Ipv4Dscp::try_new(46).unwrap();
        ip.ecn = etherparse::Ipv4Ecn::ONE;
        ip.more_fragments = true;
        let mut f = Vec::new();
        PacketBuilder::ethernet2(SRC, DST)
            .ip(IpHeaders::Ipv4(ip.clone(), Default::default()))
            .udp(7, 8)
            .write(&mut f, b"abc")
            .unwrap();
        let (k, info) = parse_new(&f);
        assert_eq!(k.frag(), Some(Frag::First));
        assert_eq!(k.ip_tos(), (46 << 2) | 1);
        assert_eq!(k.ip_ttl(), 9);
        assert_eq!(info.l4_ofs, Some(38));
        assert_eq!(k.tp_src(), 7);
        assert_eq!(k.tp_dst(), 8);
        check_truncations(&f, &[(38, &[FieldId::Ipv4Dst]), (46, &[FieldId::TpSrc])]);

        // A later fragment: no L4 fields even though the bytes look like UDP.
        ip.more_fragments = false;
        ip.fragment_offset = etherparse::IpFragOffset::try_new(100).unwrap();
        let mut f = Vec::new();
        PacketBuilder::ethernet2(SRC, DST)
            .ip(IpHeaders::Ipv4(ip, Default::default()))
            .udp(7, 8)
            .write(&mut f, b"abc")
            .unwrap();
        let (k, info) = parse_new(&f);
        assert_eq!(k.frag(), Some(Frag::Later));
        assert_eq!(k.ip_proto(), 17);
        assert_eq!(k.tp_src(), 0);
        assert_eq!(info.l4_ofs, None);
    }

    #[test]
    fn ipv4_malformed_header_stops_at_l2() {
        let mut f = tcp_v4_frame();
        f[14] = 0x44; // IHL 4 < 5
        let (k, info) = parse_new(&f);
        assert_eq!(k.eth_type(), 0x0800);
        assert_eq!(k.ipv4_src(), Ipv4Addr::UNSPECIFIED);
        assert_eq!(info.l3_ofs, None);
        let mut f = tcp_v4_frame();
        f[14] = 0x4f; // IHL 15: 60 bytes, more than the IP total length
        let (k, _) = parse_new(&f);
        assert_eq!(k.ip_proto(), 0);
    }

    fn ipv6_ext_frame(frag_offset: u16, more: bool) -> Vec<u8> {
        let mut ip6 = Ipv6Header {
            hop_limit: 64,
            source: Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1).octets(),
            destination: Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2).octets(),
            ..Default::default()
        };
        ip6.next_header = IpNumber::IPV6_HEADER_HOP_BY_HOP;
        let ext = Ipv6Extensions {
            hop_by_hop_options: Some(
                Ipv6RawExtHeader::new_raw(IpNumber::IPV6_DESTINATION_OPTIONS, &[1, 4, 0, 0, 0, 0])
                    .unwrap(),
            ),
            destination_options: Some(
                Ipv6RawExtHeader::new_raw(IpNumber::IPV6_ROUTE_HEADER, &[1, 4, 0, 0, 0, 0])
                    .unwrap(),
            ),
            routing: Some(Ipv6RoutingExtensions {
                routing: Ipv6RawExtHeader::new_raw(
                    IpNumber::IPV6_FRAGMENTATION_HEADER,
                    &[0, 0, 0, 0, 0, 0],
                )
                .unwrap(),
                final_destination_options: None,
            }),
            fragment: Some(Ipv6FragmentHeader::new(
                IpNumber::TCP,
                etherparse::IpFragOffset::try_new(frag_offset).unwrap(),
                more,
                0x1234,
            )),
            auth: None,
        };
        let mut f = Vec::new();
        PacketBuilder::ethernet2(SRC, DST)
            .ip(IpHeaders::Ipv6(ip6, ext))
            .tcp(22, 2222, 0, 100)
            .fin()
            .write(&mut f, &[])
            .unwrap();
        // etherparse 0.16 puts the M flag at 0x80 of the fragment header's
        // fourth byte and misplaces the offset bits; RFC 8200 has offset in
        // the top 13 bits and M in the lowest bit. Write that field here.
        let off_m = (frag_offset << 3) | u16::from(more);
        f[78 + 2..78 + 4].copy_from_slice(&off_m.to_be_bytes());
        f
    }

    #[test]
    fn ipv6_extension_headers() {
        let f = ipv6_ext_frame(0, true);
        let (k, info) = parse_new(&f);
        assert_eq!(k.ip_proto(), 6);
        assert_eq!(k.frag(), Some(Frag::First));
        assert_eq!(k.tp_src(), 22);
        assert_eq!(k.tp_dst(), 2222);
        assert_eq!(k.tcp_flags(), 0x001);
        // 14 + 40 + hop-by-hop 8 + dest 8 + routing 8 + fragment 8.
        assert_eq!(info.l4_ofs, Some(86));
        check_truncations(
            &f,
            &[
                (54, &[FieldId::Ipv6Src]),
                (86, &[FieldId::IpProto]),
                (106, &[FieldId::TpDst]),
            ],
        );

        let (k, info) = parse_new(&ipv6_ext_frame(8, false));
        assert_eq!(k.frag(), Some(Frag::Later));
        assert_eq!(k.ip_proto(), 6);
        assert_eq!(k.tp_src(), 0);
        assert_eq!(info.l4_ofs, None);
        check_truncations(&ipv6_ext_frame(8, false), &[(86, &[FieldId::IpFrag])]);
    }

    #[test]
    fn ipv6_ext_header_past_end_is_unknown_proto() {
        let mut f = ipv6_ext_frame(0, true);
        f[54 + 1] = 200; // hop-by-hop claims 201 * 8 bytes
        let (k, info) = parse_new(&f);
        assert_eq!(k.ip_proto(), 0);
        assert_eq!(k.ipv6_dst(), Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2));
        assert_eq!(info.l4_ofs, None);
    }

    fn sctp_frame() -> Vec<u8> {
        // etherparse has no SCTP builder: a raw IPv4 payload with protocol
        // 132 and a 12-byte common header plus one 4-byte chunk.
        let mut payload = vec![0x0b, 0xb8, 0x0b, 0xb9, 0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0];
        payload.extend_from_slice(&[1, 0, 0, 4]);
        let mut f = Vec::new();
        let ip = Ipv4Header::new(
            payload.len() as u16,
            64,
            IpNumber::SCTP,
            [10, 1, 1, 1],
            [10, 1, 1, 2],
        )
        .unwrap();
        etherparse::Ethernet2Header {
            source: SRC,
            destination: DST,
            ether_type: etherparse::EtherType::IPV4,
        }
        .write(&mut f)
        .unwrap();
        ip.write(&mut f).unwrap();
        f.extend_from_slice(&payload);
        f
    }

    #[test]
    fn sctp() {
        let f = sctp_frame();
        let (k, info) = parse_new(&f);
        assert_eq!(k.ip_proto(), 132);
        assert_eq!(k.tp_src(), 3000);
        assert_eq!(k.tp_dst(), 3001);
        assert_eq!(info.l4_ofs, Some(34));
        check_truncations(&f, &[(46, &[FieldId::TpSrc, FieldId::TpDst])]);
    }

    #[test]
    fn icmpv4() {
        let mut f = Vec::new();
        PacketBuilder::ethernet2(SRC, DST)
            .ipv4([1, 1, 1, 1], [2, 2, 2, 2], 64)
            .icmpv4_echo_request(1, 2)
            .write(&mut f, b"ping")
            .unwrap();
        let (k, _) = parse_new(&f);
        assert_eq!(k.ip_proto(), 1);
        assert_eq!(k.tp_src(), 8);
        assert_eq!(k.tp_dst(), 0);
        check_truncations(&f, &[(42, &[FieldId::TpSrc])]);
    }

    fn nd_frame(ty: u8, options: &[u8]) -> Vec<u8> {
        let target = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0x99).octets();
        let mut payload = target.to_vec();
        payload.extend_from_slice(options);
        let mut f = Vec::new();
        PacketBuilder::ethernet2(SRC, DST)
            .ipv6(
                Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1).octets(),
                Ipv6Addr::new(0xff02, 0, 0, 0, 0, 1, 0xff00, 0x99).octets(),
                255,
            )
            .icmpv6_raw(ty, 0, [0; 4])
            .write(&mut f, &payload)
            .unwrap();
        f
    }

    #[test]
    fn icmpv6_neighbor_discovery() {
        let sll = [1u8, 1, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff];
        let f = nd_frame(135, &sll);
        let (k, info) = parse_new(&f);
        assert_eq!(k.ip_proto(), 58);
        assert_eq!(k.tp_src(), 135);
        assert_eq!(k.tp_dst(), 0);
        assert_eq!(k.nd_target(), Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0x99));
        assert_eq!(k.nd_sll(), [0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff]);
        assert_eq!(k.nd_tll(), [0; 6]);
        assert_eq!(info.l4_ofs, Some(54));
        // A prefix shorter than the IPv6 payload length still has ND fields
        // only if the whole option list is there.
        check_truncations(&f, &[(58, &[FieldId::TpSrc]), (86, &[FieldId::NdSll])]);

        let tll = [2u8, 1, 1, 2, 3, 4, 5, 6];
        let (k, _) = parse_new(&nd_frame(136, &tll));
        assert_eq!(k.nd_tll(), [1, 2, 3, 4, 5, 6]);
        assert_eq!(k.nd_sll(), [0; 6]);

        // Zero-length option: the ND part is invalid.
        let (k, _) = parse_new(&nd_frame(135, &[1u8, 0, 0, 0, 0, 0, 0, 0]));
        assert_eq!(k.nd_target(), Ipv6Addr::UNSPECIFIED);
        assert_eq!(k.tp_src(), 135);
        // Repeated SLL: invalid.
        let mut two = sll.to_vec();
        two.extend_from_slice(&sll);
        let (k, _) = parse_new(&nd_frame(135, &two));
        assert_eq!(k.nd_target(), Ipv6Addr::UNSPECIFIED);
    }

    #[test]
    fn icmpv6_echo() {
        let mut f = Vec::new();
        PacketBuilder::ethernet2(SRC, DST)
            .ipv6([1; 16], [2; 16], 5)
            .icmpv6_echo_request(9, 9)
            .write(&mut f, &[])
            .unwrap();
        let (k, _) = parse_new(&f);
        assert_eq!(k.tp_src(), 128);
        assert_eq!(k.nd_target(), Ipv6Addr::UNSPECIFIED);
        check_truncations(&f, &[(54, &[FieldId::Ipv6Dst]), (58, &[FieldId::TpSrc])]);
    }

    #[test]
    fn mpls() {
        // Ethernet, 802.1Q tag, MPLS LSE label 0x12345 tc 5 bos 1 ttl 63.
        let mut f = vec![];
        f.extend_from_slice(&DST);
        f.extend_from_slice(&SRC);
        f.extend_from_slice(&[0x81, 0x00, 0x00, 0x0a, 0x88, 0x47]);
        f.extend_from_slice(&[0x12, 0x34, 0x5b, 0x3f]);
        f.extend_from_slice(&[0x45, 0, 0, 20]);
        let (k, info) = parse_new(&f);
        assert_eq!(k.eth_type(), 0x8847);
        assert_eq!(k.vlan_outer_tci(), 10);
        assert_eq!(k.mpls_label(), 0x12345);
        assert_eq!(k.mpls_tc(), 5);
        assert_eq!(k.mpls_bos(), 1);
        assert_eq!(k.mpls_ttl(), 63);
        assert_eq!(k.ip_proto(), 0);
        assert_eq!(info.mpls_ofs, Some(18));
        assert_eq!(info.l3_ofs, None);
        check_truncations(&f, &[(22, &[FieldId::MplsLabel, FieldId::MplsTtl])]);
    }

    #[test]
    fn llc_and_snap() {
        let mut f = vec![];
        f.extend_from_slice(&DST);
        f.extend_from_slice(&SRC);
        f.extend_from_slice(&[0x00, 0x26, 0x42, 0x42, 0x03, 0, 0, 0, 0, 0]);
        let (k, info) = parse_new(&f);
        assert_eq!(k.eth_type(), ethertype::NONE);
        assert_eq!(info.ethertype_ofs, None);

        // SNAP with a zero OUI carries IPv4.
        let ip = tcp_v4_frame();
        let mut f = vec![];
        f.extend_from_slice(&ip[..12]);
        f.extend_from_slice(&[0x00, 0x40, 0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00]);
        f.extend_from_slice(&ip[14..]);
        let (k, info) = parse_new(&f);
        assert_eq!(k.eth_type(), 0x0800);
        assert_eq!(info.ethertype_ofs, Some(20));
        assert_eq!(k.tp_dst(), 80);
        check_truncations(&f, &[(22, &[FieldId::EthType]), (62, &[FieldId::TpDst])]);
    }

    #[test]
    fn metadata_survives_parse() {
        let mut k = FlowKey::default();
        k.set_recirc_id(5);
        k.set_pkt_mark(9);
        parse(&tcp_v4_frame(), 3, &mut k);
        assert_eq!(k.recirc_id(), 5);
        assert_eq!(k.pkt_mark(), 9);
        assert_eq!(k.in_port(), 3);
        let mut exact = FlowMask::default();
        exact.set_exact(FieldId::TpDst);
        assert_eq!(k.masked(&exact).tp_dst(), 80);
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let (_, info) = parse_new(&bytes);
            for o in [info.l3_ofs, info.l4_ofs, info.mpls_ofs, info.ethertype_ofs].into_iter().flatten() {
                proptest::prop_assert!(usize::from(o) <= bytes.len());
            }
        }

        #[test]
        fn mutated_frames_never_panic(pos in 0usize..106, val in proptest::num::u8::ANY, cut in 0usize..107) {
            let mut f = ipv6_ext_frame(0, true);
            f[pos] = val;
            f.truncate(cut);
            parse_new(&f);
        }
    }
}
