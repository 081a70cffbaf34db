//! Datapath actions and the executor that applies them to a packet.
//!
//! A datapath flow carries a list of [`DpAction`]s; an empty list means drop.
//! [`execute`] runs a list over one packet on the PMD thread, after the EMC or
//! dpcls lookup (or for an `execute` request from the control side). It
//! edits the packet in place through [`PacketBuf`] (a DPDK mbuf in the
//! product, [`VecPacket`] in tests) and hands the packet to an
//! [`ActionSink`], which owns what happens next (tx buffering, the upcall
//! ring, recirculation, freeing).
//!
//! Ownership rule: every packet instance goes to exactly one sink call.
//! An output-like action (`Output`, `Userspace`, `Recirc`) that is the last
//! action of its list consumes the packet; anywhere else it gets a clone
//! (`try_clone`; if that fails the action is skipped). A list that ends
//! without consuming the packet hands it to `drop`. `Clone(list)` runs
//! `list` on a copy of the packet and key, so its edits do not leak out; as
//! the last action it runs on the packet itself.
//!
//! Set actions rewrite header bytes and keep checksums right incrementally
//! (RFC 1624): the IPv4 header checksum, the TCP/UDP/ICMPv6 checksum with
//! the pseudo-header for address changes (a zero UDP checksum means "none"
//! and stays zero), and the SCTP CRC32c (recomputed, preserving an already
//! wrong CRC as wrong). They also update the key, so later actions and the
//! key handed to `userspace`/`recirc` see the new values. An action whose
//! header the packet lacks (e.g. a TCP port on a UDP packet, an IPv4 field
//! on a later fragment's missing L4, a push without headroom) leaves packet
//! and key unchanged. Push/pop actions change the layout; the executor then
//! re-parses the packet into the key (keeping metadata: in_port, recirc_id,
//! dp_hash, pkt_mark). No allocation happens per packet except `try_clone`.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::key::FlowKey;
use crate::parse::{self, ethertype, ipproto, ParseInfo};

/// A packet buffer the executor can edit: contiguous data with headroom.
pub trait PacketBuf: Sized {
    /// The packet bytes.
    fn data(&self) -> &[u8];
    /// The packet bytes, writable.
    fn data_mut(&mut self) -> &mut [u8];
    /// Grows the packet by `n` bytes at the front (taking headroom); the new
    /// bytes are unspecified. False, with the packet unchanged, if there is
    /// not enough headroom.
    fn prepend(&mut self, n: usize) -> bool;
    /// Removes `n` bytes from the front. False, with the packet unchanged,
    /// if the packet is shorter than `n`.
    fn adj(&mut self, n: usize) -> bool;
    /// A deep copy, or `None` if no buffer is available.
    fn try_clone(&self) -> Option<Self>;
}

/// Where the executor hands packets. Each packet instance goes to exactly
/// one of these calls.
pub trait ActionSink<P> {
    /// Transmit on datapath port `port`.
    fn output(&mut self, port: u32, pkt: P);
    /// Send to the control side as an action upcall.
    fn userspace(&mut self, cookie: u64, userdata: &[u8], pkt: P, key: &FlowKey);
    /// Re-inject for another lookup with `recirc_id` (the key still holds
    /// the old recirc id; the receiver sets the new one).
    fn recirc(&mut self, recirc_id: u32, pkt: P, key: &FlowKey);
    /// The packet's actions are done without consuming it: free it.
    fn drop(&mut self, pkt: P);
}

/// A header field value for `Set` / `SetMasked`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SetField {
    /// Ethernet source address.
    EthSrc([u8; 6]),
    /// Ethernet destination address.
    EthDst([u8; 6]),
    /// TCI of the outer VLAN tag (no-op on untagged packets).
    VlanTci(u16),
    /// IPv4 source address.
    Ipv4Src(Ipv4Addr),
    /// IPv4 destination address.
    Ipv4Dst(Ipv4Addr),
    /// IPv4 TOS byte (DSCP and ECN).
    Ipv4Tos(u8),
    /// IPv4 TTL.
    Ipv4Ttl(u8),
    /// IPv6 source address.
    Ipv6Src(Ipv6Addr),
    /// IPv6 destination address.
    Ipv6Dst(Ipv6Addr),
    /// IPv6 traffic class.
    Ipv6Tc(u8),
    /// IPv6 hop limit.
    Ipv6Hlimit(u8),
    /// TCP source port.
    TcpSrc(u16),
    /// TCP destination port.
    TcpDst(u16),
    /// UDP source port.
    UdpSrc(u16),
    /// UDP destination port.
    UdpDst(u16),
    /// SCTP source port.
    SctpSrc(u16),
    /// SCTP destination port.
    SctpDst(u16),
}

impl SetField {
    /// True if `self` and `other` name the same field.
    pub fn same_field(&self, other: &SetField) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other)
    }
}

/// One datapath action.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum DpAction {
    /// Transmit on a datapath port.
    Output(u32),
    /// Send to the control side with an opaque cookie and optional bytes.
    Userspace {
        /// Identifies the reason for the upcall to the control side.
        cookie: u64,
        /// Extra opaque bytes for the control side (empty if none).
        userdata: Vec<u8>,
    },
    /// Write a field.
    Set(SetField),
    /// Write the bits of a field selected by `mask`. Build with
    /// [`DpAction::set_masked`] so both name the same field; a mismatched
    /// pair does nothing.
    SetMasked {
        /// The new bits.
        value: SetField,
        /// Which bits to write.
        mask: SetField,
    },
    /// Push a VLAN tag as the new outer tag.
    PushVlan {
        /// The tag's TPID (0x8100 or 0x88a8).
        tpid: u16,
        /// The tag's TCI.
        tci: u16,
    },
    /// Remove the outer VLAN tag.
    PopVlan,
    /// Push an MPLS label stack entry, setting the innermost ethertype.
    PushMpls {
        /// The whole label stack entry (label, TC, BOS, TTL).
        lse: u32,
        /// The new ethertype (0x8847 or 0x8848).
        ethertype: u16,
    },
    /// Pop the top MPLS label stack entry; the ethertype becomes `ethertype`.
    PopMpls {
        /// The ethertype of what is below the popped entry.
        ethertype: u16,
    },
    /// Look the packet up again with this recirculation id.
    Recirc(u32),
    /// Run the nested actions on a copy of the packet.
    Clone(Vec<DpAction>),
}

/// Errors building actions.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ActionError {
    /// `SetMasked` value and mask name different fields.
    #[error("masked set: value {value:?} and mask {mask:?} are different fields")]
    FieldMismatch {
        /// The value given.
        value: SetField,
        /// The mask given.
        mask: SetField,
    },
}

impl DpAction {
    /// A masked set, checking that value and mask name the same field.
    pub fn set_masked(value: SetField, mask: SetField) -> Result<DpAction, ActionError> {
        if value.same_field(&mask) {
            Ok(DpAction::SetMasked { value, mask })
        } else {
            Err(ActionError::FieldMismatch { value, mask })
        }
    }
}

/// Runs `actions` on `pkt`, whose current key is `key`; see the module
/// comment for the ownership rule. `key` ends as the key of the packet after
/// the top-level actions (nested `Clone` lists edit copies).
pub fn execute<P: PacketBuf, S: ActionSink<P>>(
    actions: &[DpAction],
    pkt: P,
    key: &mut FlowKey,
    sink: &mut S,
) {
    let mut info = None;
    run(actions, pkt, key, &mut info, sink);
}

/// Like [`execute`], for a packet whose layout the caller already has:
/// `info` must be what [`parse::parse`] returned for the packet's current
/// bytes (the PMD has it from the lookup). Saves the executor's own parse
/// when the actions edit headers.
pub fn execute_parsed<P: PacketBuf, S: ActionSink<P>>(
    actions: &[DpAction],
    pkt: P,
    key: &mut FlowKey,
    info: ParseInfo,
    sink: &mut S,
) {
    run(actions, pkt, key, &mut Some(info), sink);
}

fn run<P: PacketBuf, S: ActionSink<P>>(
    actions: &[DpAction],
    mut pkt: P,
    key: &mut FlowKey,
    info: &mut Option<ParseInfo>,
    sink: &mut S,
) {
    for (i, action) in actions.iter().enumerate() {
        let last = i + 1 == actions.len();
        match action {
            DpAction::Output(port) => {
                if last {
                    return sink.output(*port, pkt);
                }
                if let Some(copy) = pkt.try_clone() {
                    sink.output(*port, copy);
                }
            }
            DpAction::Userspace { cookie, userdata } => {
                if last {
                    return sink.userspace(*cookie, userdata, pkt, key);
                }
                if let Some(copy) = pkt.try_clone() {
                    sink.userspace(*cookie, userdata, copy, key);
                }
            }
            DpAction::Recirc(id) => {
                if last {
                    return sink.recirc(*id, pkt, key);
                }
                if let Some(copy) = pkt.try_clone() {
                    sink.recirc(*id, copy, key);
                }
            }
            DpAction::Clone(nested) => {
                if last {
                    return run(nested, pkt, key, info, sink);
                }
                if let Some(copy) = pkt.try_clone() {
                    let mut copy_key = *key;
                    let mut copy_info = *info;
                    run(nested, copy, &mut copy_key, &mut copy_info, sink);
                }
            }
            DpAction::Set(value) => {
                let layout = layout(&pkt, key, info);
                set_field(pkt.data_mut(), key, &layout, value, None);
            }
            DpAction::SetMasked { value, mask } => {
                if value.same_field(mask) {
                    let layout = layout(&pkt, key, info);
                    set_field(pkt.data_mut(), key, &layout, value, Some(mask));
                }
            }
            DpAction::PushVlan { tpid, tci } => {
                if push_vlan(&mut pkt, *tpid, *tci) {
                    reparse(&pkt, key, info);
                }
            }
            DpAction::PopVlan => {
                if pop_vlan(&mut pkt) {
                    reparse(&pkt, key, info);
                }
            }
            DpAction::PushMpls { lse, ethertype } => {
                let layout = layout(&pkt, key, info);
                if push_mpls(&mut pkt, &layout, *lse, *ethertype) {
                    reparse(&pkt, key, info);
                }
            }
            DpAction::PopMpls { ethertype } => {
                let layout = layout(&pkt, key, info);
                if pop_mpls(&mut pkt, &layout, *ethertype) {
                    reparse(&pkt, key, info);
                }
            }
        }
    }
    sink.drop(pkt);
}

/// The header offsets of `pkt`, computed on first need (a parse into a
/// scratch key; the real key may already hold set values and metadata).
fn layout<P: PacketBuf>(pkt: &P, key: &FlowKey, info: &mut Option<ParseInfo>) -> ParseInfo {
    *info.get_or_insert_with(|| {
        let mut scratch = FlowKey::default();
        parse::parse(pkt.data(), key.in_port(), &mut scratch)
    })
}

/// After a push/pop: the key's header fields are those of the new frame,
/// its metadata stays.
fn reparse<P: PacketBuf>(pkt: &P, key: &mut FlowKey, info: &mut Option<ParseInfo>) {
    let mut fresh = FlowKey::default();
    fresh.set_recirc_id(key.recirc_id());
    fresh.set_dp_hash(key.dp_hash());
    fresh.set_pkt_mark(key.pkt_mark());
    *info = Some(parse::parse(pkt.data(), key.in_port(), &mut fresh));
    *key = fresh;
}

fn push_vlan<P: PacketBuf>(pkt: &mut P, tpid: u16, tci: u16) -> bool {
    if pkt.data().len() < 12 || !pkt.prepend(4) {
        return false;
    }
    let d = pkt.data_mut();
    d.copy_within(4..16, 0);
    d[12..14].copy_from_slice(&tpid.to_be_bytes());
    d[14..16].copy_from_slice(&tci.to_be_bytes());
    true
}

fn pop_vlan<P: PacketBuf>(pkt: &mut P) -> bool {
    let d = pkt.data_mut();
    match rd16(d, 12) {
        Some(t) if parse::is_vlan_tpid(t) && d.len() >= 16 => {
            d.copy_within(0..12, 4);
            pkt.adj(4)
        }
        _ => false,
    }
}

fn push_mpls<P: PacketBuf>(pkt: &mut P, layout: &ParseInfo, lse: u32, ethertype: u16) -> bool {
    let Some(et) = layout.ethertype_ofs.map(usize::from) else {
        return false;
    };
    if !pkt.prepend(4) {
        return false;
    }
    let d = pkt.data_mut();
    d.copy_within(4..et + 6, 0);
    d[et..et + 2].copy_from_slice(&ethertype.to_be_bytes());
    d[et + 2..et + 6].copy_from_slice(&lse.to_be_bytes());
    true
}

fn pop_mpls<P: PacketBuf>(pkt: &mut P, layout: &ParseInfo, ethertype: u16) -> bool {
    let (Some(et), Some(_)) = (layout.ethertype_ofs.map(usize::from), layout.mpls_ofs) else {
        return false;
    };
    let d = pkt.data_mut();
    d[et..et + 2].copy_from_slice(&ethertype.to_be_bytes());
    d.copy_within(0..et + 2, 4);
    pkt.adj(4)
}

#[inline]
fn rd16(d: &[u8], ofs: usize) -> Option<u16> {
    Some(u16::from_be_bytes(d.get(ofs..ofs + 2)?.try_into().ok()?))
}

#[inline]
fn wr16(d: &mut [u8], ofs: usize, v: u16) -> Option<()> {
    d.get_mut(ofs..ofs + 2)?.copy_from_slice(&v.to_be_bytes());
    Some(())
}

/// Masked write: the bits of `mask` come from `value`, the rest from `old`.
#[inline]
fn merge<T>(old: T, value: T, mask: Option<T>) -> T
where
    T: Copy
        + std::ops::BitAnd<Output = T>
        + std::ops::BitOr<Output = T>
        + std::ops::Not<Output = T>,
{
    match mask {
        Some(m) => (old & !m) | (value & m),
        None => value,
    }
}

fn merge_mac(old: [u8; 6], value: [u8; 6], mask: Option<[u8; 6]>) -> [u8; 6] {
    let m = mask.unwrap_or([0xff; 6]);
    std::array::from_fn(|i| (old[i] & !m[i]) | (value[i] & m[i]))
}

/// Applies one set action. Returns `None` (packet and key unchanged) when
/// the packet lacks the header. `mask` has the same variant as `value`.
fn set_field(
    d: &mut [u8],
    key: &mut FlowKey,
    layout: &ParseInfo,
    value: &SetField,
    mask: Option<&SetField>,
) -> Option<()> {
    let eth_type = key.eth_type();
    let ipv4 = || {
        (eth_type == ethertype::IPV4)
            .then_some(())
            .and(layout.l3_ofs)
    };
    let ipv6 = || {
        (eth_type == ethertype::IPV6)
            .then_some(())
            .and(layout.l3_ofs)
    };
    // The field's mask (all ones for an unmasked set), per type.
    macro_rules! mask_of {
        ($variant:ident) => {
            match mask {
                Some(SetField::$variant(m)) => Some(*m),
                _ => None,
            }
        };
    }
    match *value {
        SetField::EthDst(v) => {
            let field = d.get_mut(0..6)?;
            let new = merge_mac(field.try_into().ok()?, v, mask_of!(EthDst));
            field.copy_from_slice(&new);
            key.set_eth_dst(new);
        }
        SetField::EthSrc(v) => {
            let field = d.get_mut(6..12)?;
            let new = merge_mac(field.try_into().ok()?, v, mask_of!(EthSrc));
            field.copy_from_slice(&new);
            key.set_eth_src(new);
        }
        SetField::VlanTci(v) => {
            if layout.n_vlans == 0 {
                return None;
            }
            let new = merge(rd16(d, 14)?, v, mask_of!(VlanTci));
            wr16(d, 14, new)?;
            key.set_vlan_outer_tci(new);
        }
        SetField::Ipv4Src(v) | SetField::Ipv4Dst(v) => {
            let l3 = usize::from(ipv4()?);
            let m = match mask {
                Some(SetField::Ipv4Src(m) | SetField::Ipv4Dst(m)) => Some(u32::from(*m)),
                _ => None,
            };
            let is_src = matches!(value, SetField::Ipv4Src(_));
            let at = l3 + if is_src { 12 } else { 16 };
            let old_bytes: [u8; 4] = d.get(at..at + 4)?.try_into().ok()?;
            let new = merge(u32::from_be_bytes(old_bytes), u32::from(v), m).to_be_bytes();
            d.get_mut(at..at + 4)?.copy_from_slice(&new);
            update_ip_csum(d, l3 + 10, &old_bytes, &new)?;
            update_l4_pseudo(d, key, layout, &old_bytes, &new);
            if is_src {
                key.set_ipv4_src(new.into());
            } else {
                key.set_ipv4_dst(new.into());
            }
        }
        SetField::Ipv4Tos(v) => {
            let l3 = usize::from(ipv4()?);
            let old = rd16(d, l3)?;
            let tos = merge(old as u8, v, mask_of!(Ipv4Tos));
            let new = (old & 0xff00) | u16::from(tos);
            wr16(d, l3, new)?;
            update_ip_csum(d, l3 + 10, &old.to_be_bytes(), &new.to_be_bytes())?;
            key.set_ip_tos(tos);
        }
        SetField::Ipv4Ttl(v) => {
            let l3 = usize::from(ipv4()?);
            let old = rd16(d, l3 + 8)?;
            let ttl = merge((old >> 8) as u8, v, mask_of!(Ipv4Ttl));
            let new = (old & 0x00ff) | (u16::from(ttl) << 8);
            wr16(d, l3 + 8, new)?;
            update_ip_csum(d, l3 + 10, &old.to_be_bytes(), &new.to_be_bytes())?;
            key.set_ip_ttl(ttl);
        }
        SetField::Ipv6Src(v) | SetField::Ipv6Dst(v) => {
            let l3 = usize::from(ipv6()?);
            let m = match mask {
                Some(SetField::Ipv6Src(m) | SetField::Ipv6Dst(m)) => Some(u128::from(*m)),
                _ => None,
            };
            let is_src = matches!(value, SetField::Ipv6Src(_));
            let at = l3 + if is_src { 8 } else { 24 };
            let old_bytes: [u8; 16] = d.get(at..at + 16)?.try_into().ok()?;
            let new = merge(u128::from_be_bytes(old_bytes), u128::from(v), m).to_be_bytes();
            d.get_mut(at..at + 16)?.copy_from_slice(&new);
            if is_src || !layout.ipv6_routing_pending {
                update_l4_pseudo(d, key, layout, &old_bytes, &new);
            }
            if is_src {
                key.set_ipv6_src(new.into());
            } else {
                key.set_ipv6_dst(new.into());
            }
        }
        SetField::Ipv6Tc(v) => {
            let l3 = usize::from(ipv6()?);
            let old = rd16(d, l3)?;
            let tc = merge((old >> 4) as u8, v, mask_of!(Ipv6Tc));
            wr16(d, l3, (old & 0xf00f) | (u16::from(tc) << 4))?;
            key.set_ip_tos(tc);
        }
        SetField::Ipv6Hlimit(v) => {
            let l3 = usize::from(ipv6()?);
            let at = d.get_mut(l3 + 7)?;
            *at = merge(*at, v, mask_of!(Ipv6Hlimit));
            key.set_ip_ttl(*at);
        }
        SetField::TcpSrc(v) => set_port(d, key, layout, ipproto::TCP, 0, v, mask_of!(TcpSrc))?,
        SetField::TcpDst(v) => set_port(d, key, layout, ipproto::TCP, 2, v, mask_of!(TcpDst))?,
        SetField::UdpSrc(v) => set_port(d, key, layout, ipproto::UDP, 0, v, mask_of!(UdpSrc))?,
        SetField::UdpDst(v) => set_port(d, key, layout, ipproto::UDP, 2, v, mask_of!(UdpDst))?,
        SetField::SctpSrc(v) => set_port(d, key, layout, ipproto::SCTP, 0, v, mask_of!(SctpSrc))?,
        SetField::SctpDst(v) => set_port(d, key, layout, ipproto::SCTP, 2, v, mask_of!(SctpDst))?,
    }
    Some(())
}

/// Writes a transport port (`ofs` 0 = source, 2 = destination) if the
/// packet's L4 protocol is `proto`, fixing that protocol's checksum.
fn set_port(
    d: &mut [u8],
    key: &mut FlowKey,
    layout: &ParseInfo,
    proto: u8,
    ofs: usize,
    value: u16,
    mask: Option<u16>,
) -> Option<()> {
    let is_ip = matches!(key.eth_type(), ethertype::IPV4 | ethertype::IPV6);
    if !is_ip || key.ip_proto() != proto {
        return None;
    }
    let l4 = usize::from(layout.l4_ofs?);
    let old = rd16(d, l4 + ofs)?;
    let new = merge(old, value, mask);
    match proto {
        ipproto::SCTP => {
            let end = usize::from(layout.l4_end);
            let sctp = d.get_mut(l4..end)?;
            let stored = u32::from_le_bytes(sctp.get(8..12)?.try_into().ok()?);
            sctp.get_mut(8..12)?.fill(0);
            let old_crc = crc32c(sctp);
            sctp.get_mut(ofs..ofs + 2)?
                .copy_from_slice(&new.to_be_bytes());
            let new_crc = crc32c(sctp);
            // CRC32c is affine in its input: XOR-ing in the change keeps a
            // wrong stored CRC exactly as wrong as it was.
            let fixed = stored ^ old_crc ^ new_crc;
            sctp.get_mut(8..12)?.copy_from_slice(&fixed.to_le_bytes());
        }
        _ => {
            wr16(d, l4 + ofs, new)?;
            let csum_at = l4 + if proto == ipproto::TCP { 16 } else { 6 };
            update_l4_csum(d, csum_at, proto, &old.to_be_bytes(), &new.to_be_bytes());
        }
    }
    if ofs == 0 {
        key.set_tp_src(new);
    } else {
        key.set_tp_dst(new);
    }
    Some(())
}

/// Adjusts the IPv4 header checksum at `at` for a change of `old` to
/// `new` (equal even lengths, at even offsets in the header).
fn update_ip_csum(d: &mut [u8], at: usize, old: &[u8], new: &[u8]) -> Option<()> {
    let csum = rd16(d, at)?;
    wr16(d, at, csum_replace(csum, old, new))
}

/// After an IP address change: fixes the checksum of an L4 protocol whose
/// checksum covers the pseudo-header (TCP, UDP, ICMPv6).
fn update_l4_pseudo(d: &mut [u8], key: &FlowKey, layout: &ParseInfo, old: &[u8], new: &[u8]) {
    let Some(l4) = layout.l4_ofs.map(usize::from) else {
        return;
    };
    let proto = key.ip_proto();
    let at = match proto {
        ipproto::TCP => l4 + 16,
        ipproto::UDP => l4 + 6,
        ipproto::ICMPV6 if key.eth_type() == ethertype::IPV6 => l4 + 2,
        _ => return,
    };
    update_l4_csum(d, at, proto, old, new);
}

/// Adjusts an L4 checksum at `at`. A UDP checksum of 0 means "not
/// computed" and is left alone; a UDP result of 0 is sent as 0xffff.
fn update_l4_csum(d: &mut [u8], at: usize, proto: u8, old: &[u8], new: &[u8]) {
    let Some(csum) = rd16(d, at) else { return };
    if proto == ipproto::UDP && csum == 0 {
        return;
    }
    let mut fixed = csum_replace(csum, old, new);
    if proto == ipproto::UDP && fixed == 0 {
        fixed = 0xffff;
    }
    // `at` was readable, so it is writable.
    let _ = wr16(d, at, fixed);
}

/// RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), summed over the 16-bit words
/// of `old` (m) and `new` (m').
fn csum_replace(csum: u16, old: &[u8], new: &[u8]) -> u16 {
    let mut sum = u32::from(!csum);
    for (o, n) in old.chunks_exact(2).zip(new.chunks_exact(2)) {
        sum += u32::from(!u16::from_be_bytes([o[0], o[1]]));
        sum += u32::from(u16::from_be_bytes([n[0], n[1]]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// CRC32c (Castagnoli, reflected polynomial 0x82f63b78), table driven.
const CRC32C_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0x82f6_3b78
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};

/// The CRC32c of `data`, as SCTP uses it (stored little-endian).
fn crc32c(data: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in data {
        c = CRC32C_TABLE[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8);
    }
    !c
}

/// A packet in a `Vec<u8>` with headroom at the front, for tests and for
/// code paths without mbufs.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct VecPacket {
    buf: Vec<u8>,
    start: usize,
}

impl VecPacket {
    /// Headroom given by [`VecPacket::new`], as in a DPDK mbuf.
    pub const DEFAULT_HEADROOM: usize = 128;

    /// A packet holding `frame` with the default headroom.
    pub fn new(frame: &[u8]) -> VecPacket {
        VecPacket::with_headroom(frame, Self::DEFAULT_HEADROOM)
    }

    /// A packet holding `frame` with `headroom` free bytes in front.
    pub fn with_headroom(frame: &[u8], headroom: usize) -> VecPacket {
        let mut buf = vec![0u8; headroom + frame.len()];
        buf[headroom..].copy_from_slice(frame);
        VecPacket {
            buf,
            start: headroom,
        }
    }

    /// Free bytes in front of the data.
    pub fn headroom(&self) -> usize {
        self.start
    }
}

impl PacketBuf for VecPacket {
    fn data(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buf[self.start..]
    }

    fn prepend(&mut self, n: usize) -> bool {
        if n > self.start {
            return false;
        }
        self.start -= n;
        true
    }

    fn adj(&mut self, n: usize) -> bool {
        if n > self.buf.len() - self.start {
            return false;
        }
        self.start += n;
        true
    }

    fn try_clone(&self) -> Option<VecPacket> {
        Some(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{
        IpHeaders, IpNumber, Ipv4Dscp, Ipv4Ecn, Ipv4Header, Ipv6FlowLabel, Ipv6Header, NetSlice,
        PacketBuilder, SingleVlanHeader, SlicedPacket, TransportSlice, VlanHeader, VlanId, VlanPcp,
    };

    const SRC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
    const DST: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];
    const V6A: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    const V6B: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
    const V6C: [u8; 16] = [
        0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xab, 0xcd, 0xef, 0x12,
    ];

    #[derive(Debug, PartialEq)]
    enum Event {
        Output(u32, Vec<u8>),
        Userspace(u64, Vec<u8>, Vec<u8>, FlowKey),
        Recirc(u32, Vec<u8>, FlowKey),
        Drop(Vec<u8>),
    }

    #[derive(Default)]
    struct Recorder(Vec<Event>);

    impl ActionSink<VecPacket> for Recorder {
        fn output(&mut self, port: u32, pkt: VecPacket) {
            self.0.push(Event::Output(port, pkt.data().to_vec()));
        }
        fn userspace(&mut self, cookie: u64, userdata: &[u8], pkt: VecPacket, key: &FlowKey) {
            self.0.push(Event::Userspace(
                cookie,
                userdata.to_vec(),
                pkt.data().to_vec(),
                *key,
            ));
        }
        fn recirc(&mut self, id: u32, pkt: VecPacket, key: &FlowKey) {
            self.0.push(Event::Recirc(id, pkt.data().to_vec(), *key));
        }
        fn drop(&mut self, pkt: VecPacket) {
            self.0.push(Event::Drop(pkt.data().to_vec()));
        }
    }

    fn key_of(frame: &[u8]) -> FlowKey {
        let mut k = FlowKey::default();
        parse::parse(frame, 1, &mut k);
        k
    }

    fn run_on(actions: &[DpAction], pkt: VecPacket) -> (Vec<Event>, FlowKey) {
        let mut key = key_of(pkt.data());
        let mut rec = Recorder::default();
        execute(actions, pkt, &mut key, &mut rec);
        (rec.0, key)
    }

    /// Runs `actions` then `Output(9)`; returns the frame sent and the key.
    fn apply(actions: &[DpAction], frame: &[u8]) -> (Vec<u8>, FlowKey) {
        let mut all = actions.to_vec();
        all.push(DpAction::Output(9));
        let (events, key) = run_on(&all, VecPacket::new(frame));
        match &events[..] {
            [Event::Output(9, out)] => (out.clone(), key),
            other => panic!("unexpected events {other:?}"),
        }
    }

    /// Applies `actions` to `before` and checks the result is exactly
    /// `after`, that every checksum verifies with etherparse, and that the
    /// executor's key is the key of `after`.
    fn check(actions: &[DpAction], before: &[u8], after: &[u8]) {
        let (out, key) = apply(actions, before);
        assert_eq!(out, after, "frame bytes");
        verify_checksums(&out);
        assert_eq!(key, key_of(after), "key");
    }

    /// Verifies IPv4 header, TCP, UDP and ICMPv6 checksums with etherparse.
    fn verify_checksums(frame: &[u8]) {
        let p = SlicedPacket::from_ethernet(frame).unwrap();
        let (src, dst): (Vec<u8>, Vec<u8>) = match &p.net {
            Some(NetSlice::Ipv4(ip)) => {
                let h = ip.header().to_header();
                assert_eq!(h.header_checksum, h.calc_header_checksum(), "ipv4 csum");
                (h.source.to_vec(), h.destination.to_vec())
            }
            Some(NetSlice::Ipv6(ip)) => (
                ip.header().source().to_vec(),
                ip.header().destination().to_vec(),
            ),
            None => return,
        };
        match (&p.transport, src.len()) {
            (Some(TransportSlice::Tcp(t)), 4) => {
                let c = t
                    .calc_checksum_ipv4(src[..].try_into().unwrap(), dst[..].try_into().unwrap())
                    .unwrap();
                assert_eq!(t.checksum(), c, "tcp csum");
            }
            (Some(TransportSlice::Tcp(t)), 16) => {
                let c = t
                    .calc_checksum_ipv6(src[..].try_into().unwrap(), dst[..].try_into().unwrap())
                    .unwrap();
                assert_eq!(t.checksum(), c, "tcp csum");
            }
            (Some(TransportSlice::Udp(u)), 4) if u.checksum() != 0 => {
                let c = u
                    .to_header()
                    .calc_checksum_ipv4_raw(
                        src[..].try_into().unwrap(),
                        dst[..].try_into().unwrap(),
                        u.payload(),
                    )
                    .unwrap();
                assert_eq!(u.checksum(), c, "udp csum");
            }
            (Some(TransportSlice::Udp(u)), 16) if u.checksum() != 0 => {
                let c = u
                    .to_header()
                    .calc_checksum_ipv6_raw(
                        src[..].try_into().unwrap(),
                        dst[..].try_into().unwrap(),
                        u.payload(),
                    )
                    .unwrap();
                assert_eq!(u.checksum(), c, "udp csum");
            }
            (Some(TransportSlice::Icmpv6(i)), 16) => {
                assert!(
                    i.is_checksum_valid(src[..].try_into().unwrap(), dst[..].try_into().unwrap())
                );
            }
            _ => {}
        }
    }

    fn tcp4(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16) -> Vec<u8> {
        let mut f = Vec::new();
        PacketBuilder::ethernet2(SRC, DST)
            .ipv4(src, dst, 64)
            .tcp(sport, dport, 0x01020304, 8192)
            .ack(0x0a0b0c0d)
            .write(&mut f, b"some payload")
            .unwrap();
        f
    }

    fn udp4(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16) -> Vec<u8> {
        let mut f = Vec::new();
        PacketBuilder::ethernet2(SRC, DST)
            .ipv4(src, dst, 64)
            .udp(sport, dport)
            .write(&mut f, b"udp data!")
            .unwrap();
        f
    }

    fn ip4_tos_ttl(dscp: u8, ecn: u8, ttl: u8) -> Vec<u8> {
        let mut ip = Ipv4Header::new(0, ttl, IpNumber::TCP, [10, 0, 0, 1], [10, 0, 0, 2]).unwrap();
        ip.dscp = Ipv4Dscp::try_new(dscp).unwrap();
        ip.ecn = Ipv4Ecn::try_new(ecn).unwrap();
        ip.identification = 0x4242;
        let mut f = Vec::new();
        PacketBuilder::ethernet2(SRC, DST)
            .ip(IpHeaders::Ipv4(ip, Default::default()))
            .tcp(1, 2, 3, 4)
            .write(&mut f, b"x")
            .unwrap();
        f
    }

    fn ip6(src: [u8; 16], dst: [u8; 16], tc: u8, hlim: u8, l4: u8) -> Vec<u8> {
        let h = Ipv6Header {
            traffic_class: tc,
            flow_label: Ipv6FlowLabel::try_new(0x12345).unwrap(),
            hop_limit: hlim,
            source: src,
            destination: dst,
            ..Default::default()
        };
        let b = PacketBuilder::ethernet2(SRC, DST).ip(IpHeaders::Ipv6(h, Default::default()));
        let mut f = Vec::new();
        match l4 {
            ipproto::TCP => b.tcp(443, 50000, 7, 100).syn().write(&mut f, b"hi"),
            ipproto::UDP => b.udp(53, 5353).write(&mut f, b"dns?"),
            _ => b.icmpv6_echo_request(1, 2).write(&mut f, b"ping6"),
        }
        .unwrap();
        f
    }

    fn vlan_tcp(tags: &[(u16, u16)]) -> Vec<u8> {
        // Builds an untagged frame with etherparse, then for tagged frames
        // uses etherparse's VLAN headers (single, or 802.1ad+802.1Q double).
        let b = PacketBuilder::ethernet2(SRC, DST);
        let mut f = Vec::new();
        let tag = |tci: u16| SingleVlanHeader {
            pcp: VlanPcp::try_new((tci >> 13) as u8).unwrap(),
            drop_eligible_indicator: tci & 0x1000 != 0,
            vlan_id: VlanId::try_new(tci & 0xfff).unwrap(),
            ether_type: etherparse::EtherType::IPV4,
        };
        match tags {
            [] => b
                .ipv4([1, 2, 3, 4], [5, 6, 7, 8], 9)
                .tcp(1, 2, 3, 4)
                .write(&mut f, b"v"),
            [(_, tci)] => b
                .vlan(VlanHeader::Single(tag(*tci)))
                .ipv4([1, 2, 3, 4], [5, 6, 7, 8], 9)
                .tcp(1, 2, 3, 4)
                .write(&mut f, b"v"),
            [(_, outer), (_, inner)] => b
                .vlan(VlanHeader::Double(etherparse::DoubleVlanHeader {
                    outer: tag(*outer),
                    inner: tag(*inner),
                }))
                .ipv4([1, 2, 3, 4], [5, 6, 7, 8], 9)
                .tcp(1, 2, 3, 4)
                .write(&mut f, b"v"),
            _ => unreachable!(),
        }
        .unwrap();
        f
    }

    #[test]
    fn execute_parsed_uses_the_given_layout() {
        let f = tcp4([1, 1, 1, 1], [2, 2, 2, 2], 1, 2);
        let mut key = FlowKey::default();
        let info = parse::parse(&f, 1, &mut key);
        let mut rec = Recorder::default();
        let a = [DpAction::Set(SetField::TcpDst(99)), DpAction::Output(4)];
        execute_parsed(&a, VecPacket::new(&f), &mut key, info, &mut rec);
        let after = tcp4([1, 1, 1, 1], [2, 2, 2, 2], 1, 99);
        assert_eq!(rec.0, vec![Event::Output(4, after.clone())]);
        assert_eq!(key, key_of(&after));
    }

    #[test]
    fn empty_list_drops() {
        let f = tcp4([1, 1, 1, 1], [2, 2, 2, 2], 1, 2);
        let (ev, _) = run_on(&[], VecPacket::new(&f));
        assert_eq!(ev, vec![Event::Drop(f)]);
    }

    #[test]
    fn outputs_clone_until_the_last() {
        let f = tcp4([1, 1, 1, 1], [2, 2, 2, 2], 1, 2);
        let (ev, _) = run_on(
            &[DpAction::Output(1), DpAction::Output(2)],
            VecPacket::new(&f),
        );
        assert_eq!(
            ev,
            vec![Event::Output(1, f.clone()), Event::Output(2, f.clone())]
        );

        // A set after the last output: the edited packet is dropped.
        let a = [DpAction::Output(1), DpAction::Set(SetField::EthDst([9; 6]))];
        let (ev, _) = run_on(&a, VecPacket::new(&f));
        let mut edited = f.clone();
        edited[..6].copy_from_slice(&[9; 6]);
        assert_eq!(ev, vec![Event::Output(1, f), Event::Drop(edited)]);
    }

    #[test]
    fn userspace_and_recirc_see_the_current_key() {
        let f = tcp4([1, 1, 1, 1], [2, 2, 2, 2], 1, 2);
        let a = [
            DpAction::Set(SetField::TcpDst(99)),
            DpAction::Userspace {
                cookie: 0xc00c1e,
                userdata: vec![1, 2, 3],
            },
            DpAction::Recirc(5),
        ];
        let (ev, key) = run_on(&a, VecPacket::new(&f));
        let after = tcp4([1, 1, 1, 1], [2, 2, 2, 2], 1, 99);
        let want_key = key_of(&after);
        assert_eq!(key, want_key);
        assert_eq!(
            ev,
            vec![
                Event::Userspace(0xc00c1e, vec![1, 2, 3], after.clone(), want_key),
                Event::Recirc(5, after, want_key),
            ]
        );
    }

    #[test]
    fn clone_isolates_its_edits() {
        let f = tcp4([1, 1, 1, 1], [2, 2, 2, 2], 1, 2);
        let orig_key = key_of(&f);
        let a = [
            DpAction::Clone(vec![
                DpAction::Set(SetField::Ipv4Dst([3, 3, 3, 3].into())),
                DpAction::Output(2),
            ]),
            DpAction::Clone(vec![DpAction::Set(SetField::Ipv4Ttl(1))]),
            DpAction::Output(1),
        ];
        let (ev, key) = run_on(&a, VecPacket::new(&f));
        let edited = tcp4([1, 1, 1, 1], [3, 3, 3, 3], 1, 2);
        let mut ttl1 = f.clone();
        apply_ttl1(&mut ttl1);
        assert_eq!(
            ev,
            vec![
                Event::Output(2, edited),
                Event::Drop(ttl1),
                Event::Output(1, f.clone())
            ]
        );
        assert_eq!(key, orig_key);

        // As the last action, a clone works on the packet itself.
        let a = [DpAction::Clone(vec![DpAction::Set(SetField::TcpSrc(7))])];
        let (ev, key) = run_on(&a, VecPacket::new(&f));
        assert_eq!(
            ev,
            vec![Event::Drop(tcp4([1, 1, 1, 1], [2, 2, 2, 2], 7, 2))]
        );
        assert_eq!(key.tp_src(), 7);
    }

    /// The TTL-1 version of `tcp4`, built with etherparse.
    fn apply_ttl1(f: &mut Vec<u8>) {
        let mut out = Vec::new();
        PacketBuilder::ethernet2(SRC, DST)
            .ipv4([1, 1, 1, 1], [2, 2, 2, 2], 1)
            .tcp(1, 2, 0x01020304, 8192)
            .ack(0x0a0b0c0d)
            .write(&mut out, b"some payload")
            .unwrap();
        *f = out;
    }

    #[test]
    fn set_eth() {
        let f = tcp4([1, 1, 1, 1], [2, 2, 2, 2], 1, 2);
        let mut after = f.clone();
        after[6..12].copy_from_slice(&[0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff]);
        after[0..6].copy_from_slice(&[0x02, 0, 0, 0, 0x12, 0x02]);
        check(
            &[
                DpAction::Set(SetField::EthSrc([0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff])),
                DpAction::set_masked(
                    SetField::EthDst([0xff, 0xff, 0xff, 0xff, 0x12, 0xff]),
                    SetField::EthDst([0, 0, 0, 0, 0xff, 0]),
                )
                .unwrap(),
            ],
            &f,
            &after,
        );
    }

    #[test]
    fn set_ipv4_addresses_fixes_ip_and_tcp_checksums() {
        let f = tcp4([192, 168, 0, 1], [192, 168, 0, 2], 1000, 80);
        let after = tcp4([10, 20, 30, 40], [172, 16, 255, 254], 1000, 80);
        check(
            &[
                DpAction::Set(SetField::Ipv4Src([10, 20, 30, 40].into())),
                DpAction::Set(SetField::Ipv4Dst([172, 16, 255, 254].into())),
            ],
            &f,
            &after,
        );
        // Masked: only the last two bytes of the destination.
        let after = tcp4([192, 168, 0, 1], [192, 168, 7, 8], 1000, 80);
        check(
            &[DpAction::set_masked(
                SetField::Ipv4Dst([9, 9, 7, 8].into()),
                SetField::Ipv4Dst([0, 0, 255, 255].into()),
            )
            .unwrap()],
            &f,
            &after,
        );
    }

    #[test]
    fn set_ipv4_addresses_fixes_udp_checksum_and_keeps_zero() {
        let f = udp4([1, 2, 3, 4], [5, 6, 7, 8], 67, 68);
        let after = udp4([8, 7, 6, 5], [4, 3, 2, 1], 67, 68);
        let a = [
            DpAction::Set(SetField::Ipv4Src([8, 7, 6, 5].into())),
            DpAction::Set(SetField::Ipv4Dst([4, 3, 2, 1].into())),
        ];
        check(&a, &f, &after);

        // A zero UDP checksum ("none") stays zero.
        let zero = |mut v: Vec<u8>| {
            v[40..42].copy_from_slice(&[0, 0]);
            v
        };
        check(&a, &zero(f), &zero(after));
    }

    #[test]
    fn set_ipv4_tos_and_ttl() {
        let f = ip4_tos_ttl(0, 0, 64);
        check(
            &[
                DpAction::Set(SetField::Ipv4Tos(0xb8)),
                DpAction::Set(SetField::Ipv4Ttl(63)),
            ],
            &f,
            &ip4_tos_ttl(46, 0, 63),
        );
        // Masked TOS: only the ECN bits.
        check(
            &[DpAction::set_masked(SetField::Ipv4Tos(0xff), SetField::Ipv4Tos(0x03)).unwrap()],
            &f,
            &ip4_tos_ttl(0, 3, 64),
        );
    }

    #[test]
    fn set_ipv6_addresses_fixes_l4_checksums() {
        for l4 in [ipproto::TCP, ipproto::UDP, ipproto::ICMPV6] {
            let f = ip6(V6A, V6B, 0, 64, l4);
            check(
                &[
                    DpAction::Set(SetField::Ipv6Src(V6C.into())),
                    DpAction::Set(SetField::Ipv6Dst(V6A.into())),
                ],
                &f,
                &ip6(V6C, V6A, 0, 64, l4),
            );
        }
        // Masked: the low 32 bits of the destination.
        let mut want = V6B;
        want[12..].copy_from_slice(&[0xab, 0xcd, 0xef, 0x12]);
        check(
            &[DpAction::set_masked(
                SetField::Ipv6Dst(V6C.into()),
                SetField::Ipv6Dst(std::net::Ipv6Addr::from(0xffff_ffffu128)),
            )
            .unwrap()],
            &ip6(V6A, V6B, 0, 64, ipproto::TCP),
            &ip6(V6A, want, 0, 64, ipproto::TCP),
        );
    }

    #[test]
    fn set_ipv6_dst_behind_routing_header_keeps_l4_checksum() {
        // IPv6, routing header (type 0, segments left 1, one address), UDP.
        // The UDP checksum covers the final destination in the routing
        // header, so rewriting the IPv6 destination field leaves it alone.
        let mut ip = Ipv6Header {
            hop_limit: 64,
            source: V6A,
            destination: V6B,
            ..Default::default()
        };
        ip.next_header = IpNumber::IPV6_ROUTE_HEADER;
        let mut rh = vec![0u8, 1, 0, 0, 0, 0];
        rh.extend_from_slice(&V6C);
        let ext = etherparse::Ipv6Extensions {
            routing: Some(etherparse::Ipv6RoutingExtensions {
                routing: etherparse::Ipv6RawExtHeader::new_raw(IpNumber::UDP, &rh).unwrap(),
                final_destination_options: None,
            }),
            ..Default::default()
        };
        let mut f = Vec::new();
        PacketBuilder::ethernet2(SRC, DST)
            .ip(IpHeaders::Ipv6(ip, ext))
            .udp(1, 2)
            .write(&mut f, b"rh")
            .unwrap();
        let mut scratch = FlowKey::default();
        let info = parse::parse(&f, 1, &mut scratch);
        assert!(info.ipv6_routing_pending);
        let mut after = f.clone();
        after[14 + 24..14 + 40].copy_from_slice(&V6C);
        let (out, key) = apply(&[DpAction::Set(SetField::Ipv6Dst(V6C.into()))], &f);
        assert_eq!(out, after);
        assert_eq!(key, key_of(&after));
    }

    #[test]
    fn set_ipv6_tc_and_hlimit() {
        let f = ip6(V6A, V6B, 0x00, 64, ipproto::UDP);
        check(
            &[
                DpAction::Set(SetField::Ipv6Tc(0xe1)),
                DpAction::Set(SetField::Ipv6Hlimit(1)),
            ],
            &f,
            &ip6(V6A, V6B, 0xe1, 1, ipproto::UDP),
        );
        check(
            &[DpAction::set_masked(SetField::Ipv6Tc(0xff), SetField::Ipv6Tc(0xf0)).unwrap()],
            &f,
            &ip6(V6A, V6B, 0xf0, 64, ipproto::UDP),
        );
    }

    #[test]
    fn set_ports() {
        let f = tcp4([1, 1, 1, 1], [2, 2, 2, 2], 1000, 80);
        check(
            &[
                DpAction::Set(SetField::TcpSrc(4321)),
                DpAction::Set(SetField::TcpDst(8080)),
            ],
            &f,
            &tcp4([1, 1, 1, 1], [2, 2, 2, 2], 4321, 8080),
        );
        let f = udp4([1, 1, 1, 1], [2, 2, 2, 2], 1000, 80);
        check(
            &[
                DpAction::Set(SetField::UdpSrc(53)),
                DpAction::set_masked(SetField::UdpDst(0x12ff), SetField::UdpDst(0xff00)).unwrap(),
            ],
            &f,
            &udp4([1, 1, 1, 1], [2, 2, 2, 2], 53, 0x1250),
        );
        // TCP port actions do nothing to a UDP packet (bytes and key).
        check(&[DpAction::Set(SetField::TcpSrc(1))], &f, &f);
        // IPv4 actions do nothing to an IPv6 packet.
        let f6 = ip6(V6A, V6B, 0, 64, ipproto::TCP);
        check(&[DpAction::Set(SetField::Ipv4Ttl(1))], &f6, &f6);
        check(
            &[DpAction::Set(SetField::TcpDst(1))],
            &f6,
            &ip6_tcp_dport(&f6, 1),
        );
    }

    /// `f` (from `ip6(.., TCP)`) with the TCP destination port changed,
    /// checksum recomputed by etherparse.
    fn ip6_tcp_dport(f: &[u8], port: u16) -> Vec<u8> {
        let p = SlicedPacket::from_ethernet(f).unwrap();
        let Some(NetSlice::Ipv6(ip)) = &p.net else {
            panic!()
        };
        let Some(TransportSlice::Tcp(t)) = &p.transport else {
            panic!()
        };
        let mut h = t.to_header();
        h.destination_port = port;
        h.checksum = h
            .calc_checksum_ipv6(&ip.header().to_header(), t.payload())
            .unwrap();
        let mut out = f[..54].to_vec();
        h.write(&mut out).unwrap();
        out.extend_from_slice(t.payload());
        out
    }

    /// IPv4/SCTP frame with the CRC32c computed by the `crc` crate (an
    /// independent implementation), optionally corrupted by `crc_xor`.
    fn sctp4(sport: u16, dport: u16, crc_xor: u32) -> Vec<u8> {
        let mut sctp = vec![0u8; 12];
        sctp[0..2].copy_from_slice(&sport.to_be_bytes());
        sctp[2..4].copy_from_slice(&dport.to_be_bytes());
        sctp[4..8].copy_from_slice(&0xfeedf00du32.to_be_bytes());
        sctp.extend_from_slice(&[0, 0, 0, 8, 0xde, 0xad, 0xbe, 0xef]);
        let crc = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI).checksum(&sctp) ^ crc_xor;
        sctp[8..12].copy_from_slice(&crc.to_le_bytes());
        let ip = Ipv4Header::new(
            sctp.len() as u16,
            64,
            IpNumber::SCTP,
            [1, 1, 1, 1],
            [2, 2, 2, 2],
        )
        .unwrap();
        let mut f = Vec::new();
        etherparse::Ethernet2Header {
            source: SRC,
            destination: DST,
            ether_type: etherparse::EtherType::IPV4,
        }
        .write(&mut f)
        .unwrap();
        ip.write(&mut f).unwrap();
        f.extend_from_slice(&sctp);
        f
    }

    #[test]
    fn set_sctp_ports_recomputes_crc() {
        let a = [
            DpAction::Set(SetField::SctpSrc(5000)),
            DpAction::Set(SetField::SctpDst(6000)),
        ];
        check(&a, &sctp4(3868, 3868, 0), &sctp4(5000, 6000, 0));
        // A wrong CRC stays exactly as wrong.
        check(&a, &sctp4(3868, 3868, 0x55), &sctp4(5000, 6000, 0x55));
    }

    #[test]
    fn vlan_push_set_pop() {
        let plain = vlan_tcp(&[]);
        let one = vlan_tcp(&[(0x8100, 0x2064)]);
        check(
            &[DpAction::PushVlan {
                tpid: 0x8100,
                tci: 0x2064,
            }],
            &plain,
            &one,
        );
        let two = vlan_tcp(&[(0x88a8, 0xa00a), (0x8100, 0x2064)]);
        check(
            &[DpAction::PushVlan {
                tpid: 0x88a8,
                tci: 0xa00a,
            }],
            &one,
            &two,
        );
        check(&[DpAction::PopVlan], &two, &one);
        check(&[DpAction::PopVlan], &one, &plain);
        // Popping an untagged frame does nothing.
        check(&[DpAction::PopVlan], &plain, &plain);
        // Set the outer TCI's VID only.
        check(
            &[DpAction::set_masked(SetField::VlanTci(0x0123), SetField::VlanTci(0x0fff)).unwrap()],
            &one,
            &vlan_tcp(&[(0x8100, 0x2123)]),
        );
        check(&[DpAction::Set(SetField::VlanTci(5))], &plain, &plain);
    }

    #[test]
    fn push_without_headroom_does_nothing() {
        let f = vlan_tcp(&[]);
        let a = [
            DpAction::PushVlan {
                tpid: 0x8100,
                tci: 1,
            },
            DpAction::Output(3),
        ];
        let (ev, key) = run_on(&a, VecPacket::with_headroom(&f, 3));
        assert_eq!(ev, vec![Event::Output(3, f.clone())]);
        assert_eq!(key, key_of(&f));
    }

    #[test]
    fn mpls_push_pop() {
        let plain = vlan_tcp(&[]);
        let mut mpls = plain[..12].to_vec();
        mpls.extend_from_slice(&[0x88, 0x47, 0x00, 0x01, 0x41, 0x40]); // label 20, bos, ttl 64
        mpls.extend_from_slice(&plain[14..]);
        check(
            &[DpAction::PushMpls {
                lse: 0x0001_4140,
                ethertype: 0x8847,
            }],
            &plain,
            &mpls,
        );
        check(&[DpAction::PopMpls { ethertype: 0x0800 }], &mpls, &plain);
        // The key after a push is the MPLS key.
        let (_, key) = apply(
            &[DpAction::PushMpls {
                lse: 0x0001_4140,
                ethertype: 0x8847,
            }],
            &plain,
        );
        assert_eq!(
            (key.eth_type(), key.mpls_label(), key.mpls_ttl()),
            (0x8847, 20, 64)
        );
        // Behind a VLAN tag, the LSE goes after the tag.
        let one = vlan_tcp(&[(0x8100, 7)]);
        let mut tagged_mpls = one[..16].to_vec();
        tagged_mpls.extend_from_slice(&[0x88, 0x48, 0xff, 0xff, 0xf1, 0x01]);
        tagged_mpls.extend_from_slice(&one[18..]);
        check(
            &[DpAction::PushMpls {
                lse: 0xffff_f101,
                ethertype: 0x8848,
            }],
            &one,
            &tagged_mpls,
        );
        // Popping a non-MPLS frame does nothing.
        check(&[DpAction::PopMpls { ethertype: 0x0800 }], &plain, &plain);
    }

    #[test]
    fn metadata_survives_push_pop() {
        let f = vlan_tcp(&[]);
        let mut key = key_of(&f);
        key.set_recirc_id(3);
        key.set_pkt_mark(0xbeef);
        key.set_dp_hash(77);
        let mut rec = Recorder::default();
        execute(
            &[DpAction::PushVlan {
                tpid: 0x8100,
                tci: 1,
            }],
            VecPacket::new(&f),
            &mut key,
            &mut rec,
        );
        assert_eq!(
            (
                key.recirc_id(),
                key.pkt_mark(),
                key.dp_hash(),
                key.in_port()
            ),
            (3, 0xbeef, 77, 1)
        );
        assert_eq!(key.vlan_outer_tci(), 1);
    }

    #[test]
    fn masked_set_needs_one_field() {
        let err = DpAction::set_masked(SetField::TcpSrc(1), SetField::UdpSrc(1)).unwrap_err();
        assert_eq!(
            err,
            ActionError::FieldMismatch {
                value: SetField::TcpSrc(1),
                mask: SetField::UdpSrc(1)
            }
        );
        // Built by hand, a mismatched pair does nothing.
        let f = tcp4([1, 1, 1, 1], [2, 2, 2, 2], 1, 2);
        let a = DpAction::SetMasked {
            value: SetField::TcpSrc(9),
            mask: SetField::UdpSrc(0xffff),
        };
        check(&[a], &f, &f);
    }

    #[test]
    fn crc32c_matches_reference() {
        assert_eq!(crc32c(b"123456789"), 0xe306_9283);
        let reference = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI);
        let data: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        assert_eq!(crc32c(&data), reference.checksum(&data));
    }

    #[test]
    fn vec_packet_headroom() {
        let mut p = VecPacket::with_headroom(&[1, 2, 3], 2);
        assert!(!p.prepend(3));
        assert!(p.prepend(2));
        assert_eq!(p.data().len(), 5);
        assert_eq!(&p.data()[2..], &[1, 2, 3]);
        assert!(!p.adj(6));
        assert!(p.adj(4));
        assert_eq!(p.data(), &[3]);
        assert_eq!(p.headroom(), 4);
    }

    proptest::proptest! {
        #[test]
        fn any_ipv4_rewrite_keeps_checksums_valid(
            src in proptest::num::u32::ANY,
            dst in proptest::num::u32::ANY,
            sport in proptest::num::u16::ANY,
            dport in proptest::num::u16::ANY,
            udp in proptest::bool::ANY,
        ) {
            let (src, dst) = (src.to_be_bytes(), dst.to_be_bytes());
            let (before, after, a) = if udp {
                (udp4([1, 1, 1, 1], [2, 2, 2, 2], 1, 2), udp4(src, dst, sport, dport),
                 [DpAction::Set(SetField::UdpSrc(sport)), DpAction::Set(SetField::UdpDst(dport))])
            } else {
                (tcp4([1, 1, 1, 1], [2, 2, 2, 2], 1, 2), tcp4(src, dst, sport, dport),
                 [DpAction::Set(SetField::TcpSrc(sport)), DpAction::Set(SetField::TcpDst(dport))])
            };
            let mut all = vec![
                DpAction::Set(SetField::Ipv4Src(src.into())),
                DpAction::Set(SetField::Ipv4Dst(dst.into())),
            ];
            all.extend(a);
            check(&all, &before, &after);
        }
    }
}
