//! The datapath flow key and its mask.
//!
//! A [`FlowKey`] holds every header field and metadata field the datapath can
//! match, packed into a fixed array of `u64` words. A [`FlowMask`] has exactly
//! the same layout: a 1 bit means "this bit of the key matters", 0 means
//! "don't care". Because the layout is fixed, masking, hashing and comparing
//! are straight loops over [`KEY_WORDS`] words with no branches on field kinds;
//! that is what the EMC and the megaflow classifier (dpcls) do per packet.
//!
//! Vocabulary:
//! - *field*: one named value (e.g. `ipv4_src`) at a fixed (word, shift, width)
//!   position. Fields never straddle words, except 128-bit fields, which take
//!   two whole words (high half first).
//! - *outer / inner VLAN*: the first and second 802.1Q/802.1ad tag after the
//!   MAC addresses. A tag is present iff its TPID field is non-zero; the TCI is
//!   stored raw (PCP, DEI, VID), so a TCI of 0 is a valid tag.
//! - `eth_type` is the innermost ethertype, after any VLAN tags (0x8847/0x8848
//!   for MPLS, whose payload is not parsed further).
//! - `ip_frag` uses bit 0 = "is a fragment" and bit 1 = "is a later fragment",
//!   so no = 0, first = 1, later = 3; see [`Frag`]. A mask of 1 therefore asks
//!   only "fragment or not".
//! - ICMPv4/ICMPv6 type and code live in `tp_src` / `tp_dst`, as ODP does.
//!
//! Who uses it: the packet parser (`parse`) fills a key per received packet on
//! the PMD thread; the EMC and dpcls hash and compare keys; the action
//! executor updates the key after set actions; the control side builds keys
//! and masks from ODP text or from translation. All access goes through the
//! typed getters/setters generated below from one field table, so no other
//! code does bit arithmetic on the words.
//!
//! Invariants: bits of a word that belong to no field are always zero in keys
//! built through this API (setters mask their input), and [`FlowMask::exact`]
//! sets exactly the bits of all fields. The hot fields (in_port, Ethernet, the
//! IPv4 5-tuple) sit in words 0..5, the first cache line.

use std::net::{Ipv4Addr, Ipv6Addr};

/// Number of `u64` words in a [`FlowKey`] / [`FlowMask`].
pub const KEY_WORDS: usize = 19;

/// A datapath flow key: every matchable field, packed into fixed words.
#[repr(C, align(64))]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, Debug)]
pub struct FlowKey {
    /// The packed fields; use the typed accessors instead of touching these.
    pub words: [u64; KEY_WORDS],
}

/// A mask over a [`FlowKey`]: same layout, 1 bits are significant.
#[repr(C, align(64))]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, Debug)]
pub struct FlowMask {
    /// The packed mask bits; use the typed accessors instead of touching these.
    pub words: [u64; KEY_WORDS],
}

/// IP fragment state of a packet, as ODP spells it (`frag=no|first|later`).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum Frag {
    /// Not a fragment (or not IP).
    No,
    /// The fragment with offset 0 (it carries the L4 header).
    First,
    /// A fragment with non-zero offset (no L4 header).
    Later,
}

impl Frag {
    /// Bit 0: is a fragment. Bit 1: is a later fragment.
    pub const ANY_BIT: u8 = 1;
    /// Set only on fragments with a non-zero offset.
    pub const LATER_BIT: u8 = 2;

    /// The value stored in the key's `ip_frag` field.
    pub const fn bits(self) -> u8 {
        match self {
            Frag::No => 0,
            Frag::First => Self::ANY_BIT,
            Frag::Later => Self::ANY_BIT | Self::LATER_BIT,
        }
    }

    /// Decodes an `ip_frag` field value; `None` for the impossible "later
    /// but not a fragment" value 2.
    pub const fn from_bits(bits: u8) -> Option<Frag> {
        match bits & 3 {
            0 => Some(Frag::No),
            1 => Some(Frag::First),
            3 => Some(Frag::Later),
            _ => None,
        }
    }

    /// The ODP text spelling.
    pub const fn name(self) -> &'static str {
        match self {
            Frag::No => "no",
            Frag::First => "first",
            Frag::Later => "later",
        }
    }
}

/// A Rust type a field is read and written as. Conversion goes through the
/// low `width` bits of a `u128`; everything is `#[inline]` so it folds away.
pub trait FieldValue: Copy {
    /// The value as an unsigned integer (network order for addresses: the
    /// first byte on the wire is the most significant).
    fn to_bits(self) -> u128;
    /// The inverse of `to_bits`; bits above the field width are already zero.
    fn from_bits(bits: u128) -> Self;
}

macro_rules! int_field_value {
    ($($t:ty),*) => {$(
        impl FieldValue for $t {
            #[inline]
            fn to_bits(self) -> u128 {
                self as u128
            }
            #[inline]
            fn from_bits(bits: u128) -> Self {
                bits as $t
            }
        }
    )*};
}
int_field_value!(u8, u16, u32, u64, u128);

impl FieldValue for [u8; 6] {
    #[inline]
    fn to_bits(self) -> u128 {
        let mut b = [0u8; 8];
        b[2..].copy_from_slice(&self);
        u64::from_be_bytes(b) as u128
    }
    #[inline]
    fn from_bits(bits: u128) -> Self {
        let b = (bits as u64).to_be_bytes();
        [b[2], b[3], b[4], b[5], b[6], b[7]]
    }
}

impl FieldValue for Ipv4Addr {
    #[inline]
    fn to_bits(self) -> u128 {
        u32::from(self) as u128
    }
    #[inline]
    fn from_bits(bits: u128) -> Self {
        Ipv4Addr::from(bits as u32)
    }
}

impl FieldValue for Ipv6Addr {
    #[inline]
    fn to_bits(self) -> u128 {
        u128::from(self)
    }
    #[inline]
    fn from_bits(bits: u128) -> Self {
        Ipv6Addr::from(bits)
    }
}

/// Where a field lives: the `u64` word, the bit shift inside it, and its
/// width in bits. A 128-bit field occupies `word` (high half) and `word + 1`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct FieldInfo {
    /// The field's identifier.
    pub id: FieldId,
    /// The field's name, as used by the accessors (`ipv4_src`).
    pub name: &'static str,
    /// Index of the (first) word holding the field.
    pub word: usize,
    /// Bit position of the field's least significant bit in its word.
    pub shift: u32,
    /// Width in bits (1..=64, or 128).
    pub width: u32,
}

impl FieldInfo {
    /// The field's bits within its word (all ones for each word of a
    /// 128-bit field).
    pub const fn word_mask(&self) -> u64 {
        if self.width >= 64 {
            u64::MAX
        } else {
            ((1u64 << self.width) - 1) << self.shift
        }
    }

    /// How many words the field occupies (1, or 2 for 128-bit fields).
    pub const fn n_words(&self) -> usize {
        if self.width > 64 {
            2
        } else {
            1
        }
    }
}

#[inline(always)]
fn get_bits(words: &[u64; KEY_WORDS], word: usize, shift: u32, width: u32) -> u128 {
    if width == 128 {
        ((words[word] as u128) << 64) | words[word + 1] as u128
    } else if width == 64 {
        words[word] as u128
    } else {
        ((words[word] >> shift) & ((1u64 << width) - 1)) as u128
    }
}

#[inline(always)]
fn set_bits(words: &mut [u64; KEY_WORDS], word: usize, shift: u32, width: u32, v: u128) {
    if width == 128 {
        words[word] = (v >> 64) as u64;
        words[word + 1] = v as u64;
    } else if width == 64 {
        words[word] = v as u64;
    } else {
        let m = ((1u64 << width) - 1) << shift;
        words[word] = (words[word] & !m) | (((v as u64) << shift) & m);
    }
}

/// Defines the field table once and generates from it: [`FieldId`],
/// [`FIELDS`], and typed `name()` / `set_name()` accessors on both
/// [`FlowKey`] and [`FlowMask`].
macro_rules! flow_fields {
    ($( $(#[$doc:meta])* $name:ident, $set:ident, $variant:ident : $ty:ty = ($word:expr, $shift:expr, $width:expr); )*) => {
        /// Identifies one field of the key layout.
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
        pub enum FieldId {
            $( $(#[$doc])* $variant, )*
        }

        /// Every field, in layout order; index with `FieldId as usize`.
        pub const FIELDS: &[FieldInfo] = &[
            $( FieldInfo {
                id: FieldId::$variant,
                name: stringify!($name),
                word: $word,
                shift: $shift,
                width: $width,
            }, )*
        ];

        macro_rules! accessors {
            () => {
                $(
                    $(#[$doc])*
                    #[inline]
                    pub fn $name(&self) -> $ty {
                        <$ty as FieldValue>::from_bits(get_bits(&self.words, $word, $shift, $width))
                    }

                    #[doc = concat!("Sets `", stringify!($name), "`.")]
                    #[inline]
                    pub fn $set(&mut self, v: $ty) {
                        set_bits(&mut self.words, $word, $shift, $width, <$ty as FieldValue>::to_bits(v));
                    }
                )*
            };
        }

        impl FlowKey {
            accessors!();
        }

        impl FlowMask {
            accessors!();
        }
    };
}

flow_fields! {
    /// Datapath port the packet arrived on.
    in_port, set_in_port, InPort: u32 = (0, 0, 32);
    /// Recirculation id (0 for packets fresh from a port).
    recirc_id, set_recirc_id, RecircId: u32 = (0, 32, 32);
    /// Ethernet destination.
    eth_dst, set_eth_dst, EthDst: [u8; 6] = (1, 0, 48);
    /// Innermost ethertype (after VLAN tags).
    eth_type, set_eth_type, EthType: u16 = (1, 48, 16);
    /// Ethernet source.
    eth_src, set_eth_src, EthSrc: [u8; 6] = (2, 0, 48);
    /// IP protocol / IPv6 next header of the upper layer.
    ip_proto, set_ip_proto, IpProto: u8 = (2, 48, 8);
    /// Fragment bits, see [`Frag`].
    ip_frag, set_ip_frag, IpFrag: u8 = (2, 56, 2);
    /// IPv4 source.
    ipv4_src, set_ipv4_src, Ipv4Src: Ipv4Addr = (3, 0, 32);
    /// IPv4 destination.
    ipv4_dst, set_ipv4_dst, Ipv4Dst: Ipv4Addr = (3, 32, 32);
    /// TCP/UDP/SCTP source port, or ICMP type.
    tp_src, set_tp_src, TpSrc: u16 = (4, 0, 16);
    /// TCP/UDP/SCTP destination port, or ICMP code.
    tp_dst, set_tp_dst, TpDst: u16 = (4, 16, 16);
    /// TCP flags (the 12 bits below the data offset).
    tcp_flags, set_tcp_flags, TcpFlags: u16 = (4, 32, 12);
    /// IPv4 TOS / IPv6 traffic class (DSCP and ECN).
    ip_tos, set_ip_tos, IpTos: u8 = (4, 48, 8);
    /// IPv4 TTL / IPv6 hop limit.
    ip_ttl, set_ip_ttl, IpTtl: u8 = (4, 56, 8);
    /// TPID of the outer VLAN tag; 0 when untagged.
    vlan_outer_tpid, set_vlan_outer_tpid, VlanOuterTpid: u16 = (5, 0, 16);
    /// TCI (PCP, DEI, VID) of the outer VLAN tag.
    vlan_outer_tci, set_vlan_outer_tci, VlanOuterTci: u16 = (5, 16, 16);
    /// TPID of the inner VLAN tag; 0 when at most one tag.
    vlan_inner_tpid, set_vlan_inner_tpid, VlanInnerTpid: u16 = (5, 32, 16);
    /// TCI of the inner VLAN tag.
    vlan_inner_tci, set_vlan_inner_tci, VlanInnerTci: u16 = (5, 48, 16);
    /// IPv6 source.
    ipv6_src, set_ipv6_src, Ipv6Src: Ipv6Addr = (6, 0, 128);
    /// IPv6 destination.
    ipv6_dst, set_ipv6_dst, Ipv6Dst: Ipv6Addr = (8, 0, 128);
    /// IPv6 flow label (20 bits).
    ipv6_label, set_ipv6_label, Ipv6Label: u32 = (10, 0, 20);
    /// Top MPLS label stack entry: label.
    mpls_label, set_mpls_label, MplsLabel: u32 = (10, 32, 20);
    /// Top MPLS label stack entry: traffic class.
    mpls_tc, set_mpls_tc, MplsTc: u8 = (10, 52, 3);
    /// Top MPLS label stack entry: bottom of stack.
    mpls_bos, set_mpls_bos, MplsBos: u8 = (10, 55, 1);
    /// Top MPLS label stack entry: TTL.
    mpls_ttl, set_mpls_ttl, MplsTtl: u8 = (10, 56, 8);
    /// Datapath hash (computed by a hash action before recirculation).
    dp_hash, set_dp_hash, DpHash: u32 = (11, 0, 32);
    /// Packet mark (skb_mark) metadata.
    pkt_mark, set_pkt_mark, PktMark: u32 = (11, 32, 32);
    /// ARP sender protocol address.
    arp_spa, set_arp_spa, ArpSpa: Ipv4Addr = (12, 0, 32);
    /// ARP target protocol address.
    arp_tpa, set_arp_tpa, ArpTpa: Ipv4Addr = (12, 32, 32);
    /// ARP sender hardware address.
    arp_sha, set_arp_sha, ArpSha: [u8; 6] = (13, 0, 48);
    /// ARP opcode (only the low 8 bits are matchable in ODP, all 16 kept).
    arp_op, set_arp_op, ArpOp: u16 = (13, 48, 16);
    /// ARP target hardware address.
    arp_tha, set_arp_tha, ArpTha: [u8; 6] = (14, 0, 48);
    /// IPv6 neighbor discovery target address.
    nd_target, set_nd_target, NdTarget: Ipv6Addr = (15, 0, 128);
    /// ND source link-layer address option.
    nd_sll, set_nd_sll, NdSll: [u8; 6] = (17, 0, 48);
    /// ND target link-layer address option.
    nd_tll, set_nd_tll, NdTll: [u8; 6] = (18, 0, 48);
}

impl FieldId {
    /// The field's layout entry.
    pub fn info(self) -> &'static FieldInfo {
        &FIELDS[self as usize]
    }

    /// Every field, in layout order.
    pub fn all() -> impl Iterator<Item = FieldId> {
        FIELDS.iter().map(|f| f.id)
    }

    /// The field's name (`ipv4_src`).
    pub fn name(self) -> &'static str {
        self.info().name
    }

    /// The field's width in bits.
    pub fn width(self) -> u32 {
        self.info().width
    }

    /// Looks a field up by name.
    pub fn from_name(name: &str) -> Option<FieldId> {
        FIELDS.iter().find(|f| f.name == name).map(|f| f.id)
    }
}

/// The union of all field bits: what [`FlowMask::exact`] returns.
const fn all_field_bits() -> [u64; KEY_WORDS] {
    let mut w = [0u64; KEY_WORDS];
    let mut i = 0;
    while i < FIELDS.len() {
        let f = &FIELDS[i];
        let m = f.word_mask();
        w[f.word] |= m;
        if f.n_words() == 2 {
            w[f.word + 1] |= m;
        }
        i += 1;
    }
    w
}

const EXACT_WORDS: [u64; KEY_WORDS] = all_field_bits();

/// Multiplier of the word hash (the 64-bit golden ratio, odd).
const HASH_MUL: u64 = 0x9e37_79b9_7f4a_7c15;

/// One step of the word hash: fold a word into the running state.
#[inline(always)]
fn hash_step(h: u64, w: u64) -> u64 {
    (h.rotate_left(23) ^ w).wrapping_mul(HASH_MUL)
}

/// Final avalanche so that every input bit reaches the returned 32 bits.
#[inline(always)]
fn hash_finish(mut h: u64) -> u32 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 33;
    h as u32
}

/// Words that are non-zero in nearly every key: in_port, Ethernet and the
/// IPv4 5-tuple (see the layout above). The rest is the key's *tail*.
pub const HOT_WORDS: usize = 5;

/// Number of tail words (`KEY_WORDS - HOT_WORDS`); a tail map has this
/// many bits.
pub const TAIL_WORDS: usize = KEY_WORDS - HOT_WORDS;

/// The four-lane word hash over `word(0..KEY_WORDS)`.
///
/// Cost: the words past [`HOT_WORDS`] (VLAN, IPv6, MPLS, ARP, ND,
/// metadata) are all zero for an untagged IPv4 packet, so they are first
/// OR-ed together (plain loads, no multiply) and folded in only when one
/// is non-zero: 5 multiplies instead of 19 for the common key. Whether the
/// tail is folded depends only on the key, so equal keys hash equally.
#[inline(always)]
fn hash_words(word: impl Fn(usize) -> u64) -> u32 {
    let mut lanes = [1u64, 2, 3, 4];
    for (l, lane) in lanes.iter_mut().enumerate() {
        *lane = hash_step(*lane, word(l));
    }
    lanes[0] = hash_step(lanes[0], word(4));
    let tail = (HOT_WORDS..KEY_WORDS).fold(0, |acc, i| acc | word(i));
    if tail != 0 {
        for i in HOT_WORDS..KEY_WORDS {
            lanes[i % 4] = hash_step(lanes[i % 4], word(i));
        }
    }
    let h = hash_step(hash_step(hash_step(lanes[0], lanes[1]), lanes[2]), lanes[3]);
    hash_finish(h)
}

impl FlowKey {
    /// The key with only the bits set in `mask` kept.
    #[inline]
    pub fn masked(&self, mask: &FlowMask) -> FlowKey {
        let mut out = FlowKey::default();
        for i in 0..KEY_WORDS {
            out.words[i] = self.words[i] & mask.words[i];
        }
        out
    }

    /// A 32-bit hash of the whole key (EMC hash). One multiply per word,
    /// in four independent lanes: a single chain would cost the multiply's
    /// latency once per word, four lanes let the CPU overlap them; the
    /// all-zero tail of an IPv4 key costs no multiply (see `hash_words`).
    #[inline]
    pub fn hash(&self) -> u32 {
        hash_words(|i| self.words[i])
    }

    /// [`FlowKey::hash`] of a key whose tail is all zero (the caller knows
    /// it, e.g. from the parser's fast path): the five hot words only, with
    /// no tail scan. Equal to `self.hash()` whenever `self.tail_map() == 0`.
    #[inline]
    pub fn hash_zero_tail(&self) -> u32 {
        hash_words(|i| if i < HOT_WORDS { self.words[i] } else { 0 })
    }

    /// Bit `j` set iff tail word `HOT_WORDS + j` is non-zero. 0 for an
    /// untagged IPv4 key; the EMC stores only the words this names.
    #[inline]
    pub fn tail_map(&self) -> u16 {
        let mut map = 0u16;
        for j in 0..TAIL_WORDS {
            map |= u16::from(self.words[HOT_WORDS + j] != 0) << j;
        }
        map
    }

    /// The hash of `self.masked(mask)`, without building the masked key.
    /// Equal to `self.masked(mask).hash()` by construction.
    #[inline]
    pub fn hash_masked(&self, mask: &FlowMask) -> u32 {
        hash_words(|i| self.words[i] & mask.words[i])
    }

    /// Reads any field as an integer (see [`FieldValue::to_bits`]).
    #[inline]
    pub fn get(&self, field: FieldId) -> u128 {
        let f = field.info();
        get_bits(&self.words, f.word, f.shift, f.width)
    }

    /// Writes any field from an integer; bits above the width are dropped.
    #[inline]
    pub fn set(&mut self, field: FieldId, v: u128) {
        let f = field.info();
        set_bits(&mut self.words, f.word, f.shift, f.width, v);
    }

    /// The fragment state, or `None` for the invalid value 2.
    pub fn frag(&self) -> Option<Frag> {
        Frag::from_bits(self.ip_frag())
    }

    /// Stores the fragment state.
    pub fn set_frag(&mut self, frag: Frag) {
        self.set_ip_frag(frag.bits());
    }
}

impl FlowMask {
    /// A mask that makes every field significant (exact match). Bits that
    /// belong to no field stay 0.
    pub const fn exact() -> FlowMask {
        FlowMask { words: EXACT_WORDS }
    }

    /// True if no bit is significant (matches every key).
    pub fn is_catchall(&self) -> bool {
        self.words.iter().all(|&w| w == 0)
    }

    /// Reads any field's mask bits as an integer.
    #[inline]
    pub fn get(&self, field: FieldId) -> u128 {
        let f = field.info();
        get_bits(&self.words, f.word, f.shift, f.width)
    }

    /// Writes any field's mask bits; bits above the width are dropped.
    #[inline]
    pub fn set(&mut self, field: FieldId, v: u128) {
        let f = field.info();
        set_bits(&mut self.words, f.word, f.shift, f.width, v);
    }

    /// Makes every bit of `field` significant.
    #[inline]
    pub fn set_exact(&mut self, field: FieldId) {
        self.set(field, u128::MAX);
    }

    /// True if every bit of `field` is significant.
    pub fn is_exact(&self, field: FieldId) -> bool {
        let f = field.info();
        let all = if f.width == 128 {
            u128::MAX
        } else {
            (1u128 << f.width) - 1
        };
        self.get(field) == all
    }

    /// Bitwise AND of two masks: the bits significant to both.
    pub fn and(&self, other: &FlowMask) -> FlowMask {
        let mut out = *self;
        for i in 0..KEY_WORDS {
            out.words[i] &= other.words[i];
        }
        out
    }

    /// Bitwise OR of two masks: the bits significant to either.
    pub fn or(&self, other: &FlowMask) -> FlowMask {
        let mut out = *self;
        for i in 0..KEY_WORDS {
            out.words[i] |= other.words[i];
        }
        out
    }
}

/// True if `a` and `b` agree on every bit set in `mask`.
#[inline]
pub fn masked_eq(a: &FlowKey, b: &FlowKey, mask: &FlowMask) -> bool {
    let mut diff = 0u64;
    for i in 0..KEY_WORDS {
        diff |= (a.words[i] ^ b.words[i]) & mask.words[i];
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_sound() {
        assert_eq!(std::mem::size_of::<FlowKey>(), 192);
        assert_eq!(std::mem::align_of::<FlowKey>(), 64);
        // Fields lie inside the array and never overlap.
        let mut seen = [0u64; KEY_WORDS];
        for (i, f) in FIELDS.iter().enumerate() {
            assert_eq!(f.id as usize, i, "{} out of order", f.name);
            assert!(f.width == 128 || (1..=64).contains(&f.width), "{}", f.name);
            assert!(f.width == 128 || f.shift + f.width <= 64, "{}", f.name);
            assert!(f.word + f.n_words() <= KEY_WORDS, "{}", f.name);
            for seen_word in &mut seen[f.word..f.word + f.n_words()] {
                assert_eq!(*seen_word & f.word_mask(), 0, "{} overlaps", f.name);
                *seen_word |= f.word_mask();
            }
        }
        assert_eq!(seen, FlowMask::exact().words);
        // Hot fields in the first cache line (8 words).
        for id in [
            FieldId::InPort,
            FieldId::EthSrc,
            FieldId::EthDst,
            FieldId::EthType,
            FieldId::Ipv4Src,
            FieldId::Ipv4Dst,
            FieldId::IpProto,
            FieldId::TpSrc,
            FieldId::TpDst,
        ] {
            assert!(id.info().word < 8);
        }
    }

    #[test]
    fn typed_accessors_round_trip_and_isolate() {
        let mut k = FlowKey::default();
        k.set_in_port(0xdead_beef);
        k.set_recirc_id(7);
        k.set_eth_dst([1, 2, 3, 4, 5, 6]);
        k.set_eth_type(0x0800);
        k.set_ip_frag(3);
        k.set_tcp_flags(0xffff); // truncated to 12 bits
        k.set_ipv6_src("2001:db8::1".parse().unwrap());
        k.set_mpls_bos(1);
        k.set_mpls_ttl(64);
        assert_eq!(k.in_port(), 0xdead_beef);
        assert_eq!(k.recirc_id(), 7);
        assert_eq!(k.eth_dst(), [1, 2, 3, 4, 5, 6]);
        assert_eq!(k.eth_type(), 0x0800);
        assert_eq!(k.frag(), Some(Frag::Later));
        assert_eq!(k.tcp_flags(), 0xfff);
        assert_eq!(k.ipv6_src(), "2001:db8::1".parse::<Ipv6Addr>().unwrap());
        assert_eq!(k.mpls_bos(), 1);
        assert_eq!(k.mpls_ttl(), 64);
        assert_eq!(k.words[0], 0x0000_0007_dead_beef);
        assert_eq!(k.words[1], 0x0800_0102_0304_0506);
        assert_eq!(k.words[6], 0x2001_0db8_0000_0000);
        assert_eq!(k.words[7], 1);
        assert_eq!(k.words[4], 0x0fff_u64 << 32);
        // Overwriting one field leaves its neighbours.
        k.set_eth_type(0x86dd);
        assert_eq!(k.eth_dst(), [1, 2, 3, 4, 5, 6]);
        assert_eq!(k.get(FieldId::EthType), 0x86dd);
        k.set(FieldId::RecircId, 0x1_0000_0009);
        assert_eq!(k.recirc_id(), 9);
        assert_eq!(k.in_port(), 0xdead_beef);
    }

    #[test]
    fn mask_accessors() {
        let mut m = FlowMask::default();
        assert!(m.is_catchall());
        m.set_ipv4_dst(Ipv4Addr::new(255, 255, 255, 0));
        m.set_exact(FieldId::InPort);
        assert_eq!(m.words[3], 0xffff_ff00_u64 << 32);
        assert_eq!(m.words[0], 0xffff_ffff);
        assert!(m.is_exact(FieldId::InPort));
        assert!(!m.is_exact(FieldId::Ipv4Dst));
        m.set_exact(FieldId::NdTarget);
        assert!(m.is_exact(FieldId::NdTarget));
        assert_eq!(FieldId::from_name("nd_target"), Some(FieldId::NdTarget));
        assert_eq!(FieldId::NdTarget.width(), 128);
        assert_eq!(FieldId::all().count(), FIELDS.len());
    }

    #[test]
    fn masking_hash_and_compare() {
        let mut a = FlowKey::default();
        a.set_in_port(1);
        a.set_ipv4_dst(Ipv4Addr::new(10, 0, 0, 1));
        let mut b = a;
        b.set_ipv4_dst(Ipv4Addr::new(10, 0, 0, 2));
        let mut m = FlowMask::default();
        m.set_exact(FieldId::InPort);
        m.set_ipv4_dst(Ipv4Addr::new(255, 255, 255, 0));
        assert!(masked_eq(&a, &b, &m));
        assert!(!masked_eq(&a, &b, &FlowMask::exact()));
        assert_eq!(a.hash_masked(&m), b.hash_masked(&m));
        assert_eq!(a.hash_masked(&m), a.masked(&m).hash());
        assert_ne!(a.hash(), b.hash());
        assert_eq!(a.masked(&m).ipv4_dst(), Ipv4Addr::new(10, 0, 0, 0));
        assert_eq!(a.masked(&FlowMask::exact()), a);
    }

    #[test]
    fn tail_map_and_zero_tail_hash() {
        let mut k = FlowKey::default();
        k.set_in_port(3);
        k.set_ipv4_dst(Ipv4Addr::new(10, 0, 0, 1));
        k.set_tp_dst(80);
        assert_eq!(k.tail_map(), 0);
        assert_eq!(k.hash_zero_tail(), k.hash());
        k.set_vlan_outer_tci(5); // word 5: tail bit 0
        k.set_nd_tll([0, 0, 0, 0, 0, 1]); // word 18: tail bit 13
        assert_eq!(k.tail_map(), 1 | 1 << 13);
        assert_ne!(k.hash_zero_tail(), k.hash());
    }

    #[test]
    fn hash_spreads_single_bit_changes() {
        // Every one-bit change of a key must change the 32-bit hash.
        let base = FlowKey::default();
        let h0 = base.hash();
        for w in 0..KEY_WORDS {
            for b in 0..64 {
                let mut k = base;
                k.words[w] ^= 1 << b;
                assert_ne!(k.hash(), h0, "word {w} bit {b}");
            }
        }
    }

    #[test]
    fn frag_encoding() {
        for f in [Frag::No, Frag::First, Frag::Later] {
            assert_eq!(Frag::from_bits(f.bits()), Some(f));
        }
        assert_eq!(Frag::from_bits(2), None);
        assert_eq!(Frag::Later.name(), "later");
    }
}
