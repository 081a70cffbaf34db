//! The OpenFlow classifier: priority + wildcard matching over OpenFlow fields.
//!
//! Vocabulary: [`FlowFields`] holds one value for every OpenFlow field, at a fixed offset
//! (one slot per [`Field`], NXM aliases folded onto their OXM field). A [`FlowMatch`] is a
//! value and a mask in that layout. A [`Classifier`] is a tuple-space search: one subtable
//! per distinct mask, each a hash map from masked value to the rules (highest priority
//! first). [`Classifier::lookup`] probes subtables in order of their highest priority and
//! stops once no remaining subtable can beat the best hit. Alongside the answer it returns
//! the bits the answer depended on — the megaflow mask xlate needs — and keeps them few:
//! each subtable is probed in stages (metadata, L2, L3, L4; a stage whose masked value no
//! rule has ends the probe at the cost of the stages so far), and before the L3 stage
//! prefix tries on the IP addresses (`ofproto/trie.rs`) rule a subtable out at the cost of
//! only the leading address bits that proved it cannot match.
//!
//! Storage is compact, because a table may hold hundreds of thousands of rules: a
//! subtable keys its rules by a *packed key* (only the bytes its mask covers, ordered stage
//! by stage so every stage's key is a prefix of the full one; a 5-tuple is 15 bytes, kept
//! inline), its stage indexes hold only 64-bit hashes of those prefixes, and a stored rule
//! keeps its match as a [`MiniMatch`] (the runs of masked bytes) rather than a full
//! [`FlowMatch`]. Per subtable, a priority count gives the highest priority after a
//! removal without a scan.
//!
//! Invariants: a `FlowMatch` value has no bits outside its mask; a (match, priority) pair
//! is in a classifier at most once.
//!
//! Known simplification: `xreg` fields have their own slots rather than aliasing the
//! 32-bit registers.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

use super::trie::{PrefixLens, PrefixTrie};
use crate::ofp::oxm::{Field, FIELDS};
use crate::ofp::port;
use crate::ofp::{Match, OxmMatch};

const N_FIELDS: usize = FIELDS.len();

const fn layout() -> ([u16; N_FIELDS], usize) {
    let mut off = [0u16; N_FIELDS];
    let mut acc = 0usize;
    let mut i = 0;
    while i < N_FIELDS {
        off[i] = acc as u16;
        acc += FIELDS[i].len as usize;
        i += 1;
    }
    (off, acc)
}

const LAYOUT: ([u16; N_FIELDS], usize) = layout();
/// Bytes in a [`FlowFields`].
pub const FLOW_LEN: usize = LAYOUT.1;

/// One value for every OpenFlow field, each at its own offset (big-endian, as on the wire).
/// The VLAN slot holds the 802.1Q TCI (PCP, CFI = "VLAN present", VID).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct FlowFields {
    bytes: [u8; FLOW_LEN],
}

impl Default for FlowFields {
    fn default() -> Self {
        FlowFields {
            bytes: [0; FLOW_LEN],
        }
    }
}

impl std::fmt::Debug for FlowFields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut m = f.debug_map();
        for info in FIELDS {
            let v = self.get(info.field);
            if v.iter().any(|&b| b != 0) {
                m.entry(&info.name, &v);
            }
        }
        m.finish()
    }
}

fn range(field: Field) -> std::ops::Range<usize> {
    let i = field as usize;
    let o = usize::from(LAYOUT.0[i]);
    o..o + usize::from(FIELDS[i].len)
}

impl FlowFields {
    pub fn get(&self, field: Field) -> &[u8] {
        &self.bytes[range(field)]
    }

    pub fn get_u64(&self, field: Field) -> u64 {
        self.get(field)
            .iter()
            .fold(0u64, |a, &b| (a << 8) | u64::from(b))
    }

    /// Sets `field` from `v` (right-aligned: a shorter `v` fills the low bytes).
    pub fn set(&mut self, field: Field, v: &[u8]) {
        let r = range(field);
        let n = r.len().min(v.len());
        let dst = &mut self.bytes[r.clone()];
        dst.fill(0);
        dst[r.len() - n..].copy_from_slice(&v[v.len() - n..]);
    }

    pub fn set_u64(&mut self, field: Field, v: u64) {
        self.set(field, &v.to_be_bytes());
    }

    fn or_assign(&mut self, other: &FlowFields) {
        for (o, m) in self.bytes.iter_mut().zip(other.bytes.iter()) {
            *o |= m;
        }
    }

    fn is_zero(&self) -> bool {
        self.bytes.iter().all(|&b| b == 0)
    }

    /// `self |= add & !except`, bit by bit over every field (megaflow wildcard
    /// accumulation: bits examined, minus bits the pipeline had overwritten).
    pub fn or_except(&mut self, add: &FlowFields, except: &FlowFields) {
        for ((o, a), x) in self
            .bytes
            .iter_mut()
            .zip(add.bytes.iter())
            .zip(except.bytes.iter())
        {
            *o |= a & !x;
        }
    }
}

/// A word-at-a-time hasher for [`FlowFields`] keys: a lookup hashes the whole field array
/// once per probed stage, and SipHash over several hundred bytes would dominate the
/// lookup. Keys are inserted only from flow_mods, so a fixed seed gives packets no way to
/// build collisions.
#[derive(Default)]
pub struct WordHasher(u64);

impl Hasher for WordHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.0 =
                (self.0.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(0x517c_c1b7_2722_0a95);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(0x517c_c1b7_2722_0a95);
        }
    }

    fn finish(&self) -> u64 {
        // Spread the high bits down: hashbrown uses the top 7 bits and the low bits.
        let h = self.0;
        h ^ (h >> 29) ^ (h >> 47)
    }
}

type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<WordHasher>>;

/// A match: value and mask over [`FlowFields`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct FlowMatch {
    pub value: FlowFields,
    pub mask: FlowFields,
}

/// An OXM entry's value and mask, moved to where its slot in [`FlowFields`] expects them.
struct Placed {
    field: Field,
    value: [u8; 16],
    mask: [u8; 16],
    /// Bytes used in `value` and `mask`.
    len: usize,
}

impl Placed {
    fn new(field: Field, value: &[u8], mask: &[u8]) -> Placed {
        let mut p = Placed {
            field,
            value: [0; 16],
            mask: [0; 16],
            len: value.len().min(mask.len()).min(16),
        };
        p.value[..p.len].copy_from_slice(&value[..p.len]);
        p.mask[..p.len].copy_from_slice(&mask[..p.len]);
        p
    }

    fn u16(field: Field, value: u16, mask: u16) -> Placed {
        Placed::new(field, &value.to_be_bytes(), &mask.to_be_bytes())
    }
}

/// Where an OXM entry lives in [`FlowFields`], with its value and mask moved there.
fn place(field: Field, value: &[u8], mask: &[u8]) -> Placed {
    match field {
        Field::NxmInPort => {
            let p = port::from_of10(u16::from_be_bytes([value[0], value[1]]));
            Placed::new(Field::InPort, &p.to_be_bytes(), &[0xff; 4])
        }
        Field::NxmIpTos => Placed::new(Field::IpDscp, &[value[0] >> 2], &[mask[0] >> 2]),
        // OXM vlan_vid is the TCI's low 13 bits (CFI as "present" + VID).
        Field::VlanVid => {
            let v = u16::from_be_bytes([value[0], value[1]]) & 0x1fff;
            let m = u16::from_be_bytes([mask[0], mask[1]]) & 0x1fff;
            Placed::u16(Field::VlanVid, v, m)
        }
        Field::NxmVlanTci => Placed::new(Field::VlanVid, value, mask),
        Field::VlanPcp => {
            let v = u16::from(value[0] & 7) << 13;
            let m = u16::from(mask[0] & 7) << 13;
            Placed::u16(Field::VlanVid, v, m)
        }
        f => {
            let c = f.canonical();
            let target = if c.len() == f.len() { c } else { f };
            Placed::new(target, value, mask)
        }
    }
}

impl FlowMatch {
    /// Compiles an OXM match. Entries for the same slot are combined.
    pub fn from_oxm(m: &OxmMatch) -> FlowMatch {
        let mut fm = FlowMatch::default();
        for e in &m.entries {
            let len = e.field.len();
            let full = [0xffu8; 16];
            let mask = e.mask_bytes().unwrap_or(&full[..len]);
            let p = place(e.field, e.value(), mask);
            let (v, mk) = (&p.value[..p.len], &p.mask[..p.len]);
            let r = range(p.field);
            let n = r.len();
            for i in 0..n.min(mk.len()) {
                let at = r.start + n - mk.len().min(n) + i;
                fm.mask.bytes[at] |= mk[i];
                fm.value.bytes[at] = (fm.value.bytes[at] & !mk[i]) | (v[i] & mk[i]);
            }
        }
        fm
    }

    /// Compiles a flow_mod's match, whatever its wire form.
    pub fn from_match(m: &Match) -> FlowMatch {
        match m {
            Match::Oxm(o) => FlowMatch::from_oxm(o),
            Match::Of10(_) => FlowMatch::from_oxm(&m.to_oxm()),
        }
    }

    /// Does a packet with these fields match?
    pub fn matches(&self, flow: &FlowFields) -> bool {
        self.value
            .bytes
            .iter()
            .zip(flow.bytes.iter().zip(self.mask.bytes.iter()))
            .all(|(v, (f, m))| f & m == *v)
    }

    /// Is every packet `self` matches also matched by `wider`? (`wider` is at most as
    /// specific as `self`: loose flow_mod/stats selection.)
    pub fn is_within(&self, wider: &FlowMatch) -> bool {
        self.mask
            .bytes
            .iter()
            .zip(wider.mask.bytes.iter())
            .zip(self.value.bytes.iter().zip(wider.value.bytes.iter()))
            .all(|((sm, wm), (sv, wv))| sm & wm == *wm && (sv ^ wv) & wm == 0)
    }

    /// Could one packet match both?
    pub fn overlaps(&self, other: &FlowMatch) -> bool {
        self.mask
            .bytes
            .iter()
            .zip(other.mask.bytes.iter())
            .zip(self.value.bytes.iter().zip(other.value.bytes.iter()))
            .all(|((am, bm), (av, bv))| (av ^ bv) & am & bm == 0)
    }

    /// The exact value of `field` when this match pins it down completely.
    pub fn exact(&self, field: Field) -> Option<&[u8]> {
        self.mask
            .get(field)
            .iter()
            .all(|&b| b == 0xff)
            .then(|| self.value.get(field))
    }

    pub fn is_catchall(&self) -> bool {
        self.mask.is_zero()
    }
}

/// A [`FlowMatch`] in the space its mask needs: what a stored rule keeps.
///
/// Encoding: the maximal runs of bytes whose mask is non-zero, in offset order, each as
/// offset (2 bytes, big-endian), length (1 byte, at most 255; longer runs are split), the
/// run's mask bytes, then its value bytes. The encoding is canonical, so two matches are
/// equal exactly when their encodings are. A catch-all is empty and allocates nothing.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct MiniMatch(Box<[u8]>);

impl std::fmt::Debug for MiniMatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.expand().fmt(f)
    }
}

impl MiniMatch {
    pub fn new(m: &FlowMatch) -> MiniMatch {
        let mask = &m.mask.bytes;
        let mut out = Vec::with_capacity(64);
        let mut i = 0;
        while i < FLOW_LEN {
            // Most of the mask is zero: skip it a word at a time.
            if let Some(w) = mask.get(i..i + 8) {
                if w.iter().all(|&b| b == 0) {
                    i += 8;
                    continue;
                }
            }
            if mask[i] == 0 {
                i += 1;
                continue;
            }
            let start = i;
            while i < FLOW_LEN && mask[i] != 0 && i - start < 255 {
                i += 1;
            }
            out.extend_from_slice(&(start as u16).to_be_bytes());
            out.push((i - start) as u8);
            out.extend_from_slice(&mask[start..i]);
            out.extend_from_slice(&m.value.bytes[start..i]);
        }
        MiniMatch(out.into_boxed_slice())
    }

    /// The runs: (offset, mask bytes, value bytes).
    fn runs(&self) -> impl Iterator<Item = (usize, &[u8], &[u8])> {
        let mut rest = &self.0[..];
        std::iter::from_fn(move || {
            let (head, tail) = rest.split_first_chunk::<3>()?;
            let off = usize::from(u16::from_be_bytes([head[0], head[1]]));
            let len = usize::from(head[2]);
            let (mask, tail) = tail.split_at_checked(len)?;
            let (value, tail) = tail.split_at_checked(len)?;
            rest = tail;
            Some((off, mask, value))
        })
    }

    pub fn expand(&self) -> FlowMatch {
        let mut m = FlowMatch::default();
        for (off, mask, value) in self.runs() {
            m.mask.bytes[off..off + mask.len()].copy_from_slice(mask);
            m.value.bytes[off..off + value.len()].copy_from_slice(value);
        }
        m
    }

    pub fn is_catchall(&self) -> bool {
        self.0.is_empty()
    }

    /// The exact value of `field` when this match pins it down completely.
    pub fn exact(&self, field: Field) -> Option<&[u8]> {
        let r = range(field);
        // A field fully masked lies inside one run (runs are maximal, and split only
        // every 255 bytes, which no field straddles: fields are at most 16 bytes, and a
        // split there would be caught by the containment test below).
        self.runs().find_map(|(off, mask, value)| {
            let end = off + mask.len();
            (off <= r.start && r.end <= end)
                .then(|| {
                    let at = r.start - off..r.end - off;
                    mask[at.clone()]
                        .iter()
                        .all(|&b| b == 0xff)
                        .then(|| &value[at])
                })
                .flatten()
        })
    }

    /// Is every packet `self` matches also matched by `wider`?
    pub fn is_within(&self, wider: &FlowMatch) -> bool {
        let (wm, wv) = (&wider.mask.bytes, &wider.value.bytes);
        let mut pos = 0;
        for (off, mask, value) in self.runs() {
            // Where `self` is wildcarded, `wider` must be too.
            if wm[pos..off].iter().any(|&b| b != 0) {
                return false;
            }
            for (i, (&sm, &sv)) in mask.iter().zip(value).enumerate() {
                let w = wm[off + i];
                if sm & w != w || (sv ^ wv[off + i]) & w != 0 {
                    return false;
                }
            }
            pos = off + mask.len();
        }
        wm[pos..].iter().all(|&b| b == 0)
    }
}

/// A subtable key: the masked bytes of a value at the subtable's key offsets. Most keys
/// are short (a 5-tuple is 15 bytes) and live inline, without an allocation of their own.
/// Hashes and compares as the byte slice, so maps keyed by it are searched with `&[u8]`.
#[derive(Clone)]
enum Key {
    Inline { len: u8, bytes: [u8; KEY_INLINE] },
    Heap(Box<[u8]>),
}

const KEY_INLINE: usize = 30;

impl Key {
    fn new(b: &[u8]) -> Key {
        if b.len() <= KEY_INLINE {
            let mut bytes = [0u8; KEY_INLINE];
            bytes[..b.len()].copy_from_slice(b);
            Key::Inline {
                len: b.len() as u8,
                bytes,
            }
        } else {
            Key::Heap(b.into())
        }
    }

    fn as_slice(&self) -> &[u8] {
        match self {
            Key::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Key::Heap(b) => b,
        }
    }
}

impl std::borrow::Borrow<[u8]> for Key {
    fn borrow(&self) -> &[u8] {
        self.as_slice()
    }
}

impl std::hash::Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_slice().hash(state);
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for Key {}

/// The rules that share one masked value in a subtable, highest priority first. Almost
/// always exactly one, which needs no allocation of its own.
#[derive(Clone)]
enum Slot<R> {
    One((u32, R)),
    /// Two or more, sorted by priority, highest first.
    Many(Vec<(u32, R)>),
}

impl<R: Copy> Slot<R> {
    fn as_slice(&self) -> &[(u32, R)] {
        match self {
            Slot::One(e) => std::slice::from_ref(e),
            Slot::Many(v) => v,
        }
    }

    fn first(&self) -> Option<(u32, R)> {
        self.as_slice().first().copied()
    }

    /// Adds (`priority`, `id`) after every entry of equal or higher priority.
    fn insert(&mut self, priority: u32, id: R) {
        let mut v = match self {
            Slot::One(e) => vec![*e],
            Slot::Many(v) => std::mem::take(v),
        };
        let at = v.iter().position(|(p, _)| *p < priority).unwrap_or(v.len());
        v.insert(at, (priority, id));
        *self = Slot::Many(v);
    }

    /// Removes the entry of `priority`: its id, and whether the slot is now empty.
    fn remove(&mut self, priority: u32) -> Option<(R, bool)> {
        match self {
            Slot::One((p, r)) => (*p == priority).then_some((*r, true)),
            Slot::Many(v) => {
                let at = v.iter().position(|(p, _)| *p == priority)?;
                let (_, id) = v.remove(at);
                if let [only] = v[..] {
                    *self = Slot::One(only);
                }
                Some((id, false))
            }
        }
    }
}

#[derive(Clone)]
struct Subtable<R> {
    mask: FlowFields,
    /// The key offsets: every byte where `mask` is non-zero, stage by stage (metadata,
    /// L2, L3, L4), so that each stage's key is a prefix of the full key.
    offs: Box<[u16]>,
    /// Packed masked value → its rules.
    rules: FastMap<Key, Slot<R>>,
    /// How many rules have each priority (for `max_priority` after a removal).
    prios: BTreeMap<u32, u32>,
    max_priority: u32,
    count: usize,
    /// Staged lookup: cumulative masks (metadata, then + L2, then + L3), each with the
    /// hashes of the rules' keys up to that stage and how many rules have each. A packet
    /// whose hash is missing at some stage cannot match, and the megaflow needs only that
    /// stage's bits. A hash collision only makes the probe go on to the next stage (more
    /// bits, never a wrong answer). The full mask is the last stage and is not listed.
    stages: Vec<Stage>,
    /// Per tracked prefix field ([`TRIE_FIELDS`]): the subtable's prefix length on it,
    /// when its mask there is a non-empty prefix.
    plens: [Option<u32>; TRIE_FIELDS.len()],
    /// The stage before which the prefix check runs (the first stage that has L3 bits);
    /// `stages.len()` means "before the final hash lookup".
    trie_stage: usize,
}

#[derive(Clone)]
struct Stage {
    mask: FlowFields,
    /// Key bytes up to and including this stage.
    len: usize,
    values: FastMap<u64, u32>,
}

fn hash_bytes(b: &[u8]) -> u64 {
    let mut h = WordHasher::default();
    h.write(b);
    h.finish()
}

/// The fields with prefix tracking, with their width in bits and the field that must be
/// pinned for their value to mean anything (their prerequisite).
const TRIE_FIELDS: [(Field, u32); 4] = [
    (Field::Ipv4Dst, 32),
    (Field::Ipv4Src, 32),
    (Field::Ipv6Dst, 128),
    (Field::Ipv6Src, 128),
];

/// Lookup stage of a field: 0 metadata, 1 L2, 2 L3, 3 L4.
fn stage_of(field: Field) -> usize {
    use Field as F;
    match field {
        F::EthDst | F::EthSrc | F::EthType | F::VlanVid | F::VlanPcp | F::PbbIsid | F::PbbUca => 1,
        F::IpDscp
        | F::IpEcn
        | F::IpProto
        | F::Ipv4Src
        | F::Ipv4Dst
        | F::ArpOp
        | F::ArpSpa
        | F::ArpTpa
        | F::ArpSha
        | F::ArpTha
        | F::Ipv6Src
        | F::Ipv6Dst
        | F::Ipv6Flabel
        | F::MplsLabel
        | F::MplsTc
        | F::MplsBos
        | F::Ipv6Exthdr
        | F::NxIpFrag
        | F::NxNwTtl => 2,
        F::TcpSrc
        | F::TcpDst
        | F::UdpSrc
        | F::UdpDst
        | F::SctpSrc
        | F::SctpDst
        | F::Icmpv4Type
        | F::Icmpv4Code
        | F::Icmpv6Type
        | F::Icmpv6Code
        | F::Ipv6NdTarget
        | F::Ipv6NdSll
        | F::Ipv6NdTll
        | F::TcpFlags
        | F::OnfTcpFlags
        | F::NxTcpFlags => 3,
        _ => 0,
    }
}

/// The leading-ones length of `mask`, when it is a non-empty prefix mask.
fn prefix_len(mask: &[u8]) -> Option<u32> {
    let mut n = 0u32;
    let mut ended = false;
    for &b in mask {
        if ended {
            if b != 0 {
                return None;
            }
            continue;
        }
        n += b.leading_ones();
        if b != 0xff {
            if b.leading_ones() + b.trailing_zeros() != 8 {
                return None;
            }
            ended = true;
        }
    }
    (n > 0).then_some(n)
}

/// A mask of the first `bits` bits of a `len`-byte field.
fn prefix_mask(len: usize, bits: u32) -> Vec<u8> {
    (0..len)
        .map(|i| {
            let have = bits.saturating_sub(8 * i as u32).min(8);
            if have == 0 {
                0
            } else {
                0xffu8 << (8 - have)
            }
        })
        .collect()
}

impl<R: Copy> Subtable<R> {
    fn new(mask: &FlowFields) -> Subtable<R> {
        let mut by_stage = [
            FlowFields::default(),
            FlowFields::default(),
            FlowFields::default(),
            FlowFields::default(),
        ];
        let mut offs_by_stage: [Vec<u16>; 4] = Default::default();
        for info in FIELDS {
            let r = range(info.field);
            let s = stage_of(info.field);
            by_stage[s].bytes[r.clone()].copy_from_slice(&mask.bytes[r.clone()]);
            offs_by_stage[s].extend(r.filter(|&i| mask.bytes[i] != 0).map(|i| i as u16));
        }
        let mut stages = Vec::new();
        let mut cum = FlowFields::default();
        let mut len = 0;
        let mut trie_stage = None;
        for (s, part) in by_stage.iter().enumerate() {
            if part.is_zero() {
                continue;
            }
            if s >= 2 && trie_stage.is_none() {
                trie_stage = Some(stages.len());
            }
            cum.or_assign(part);
            len += offs_by_stage[s].len();
            stages.push(Stage {
                mask: cum.clone(),
                len,
                values: FastMap::default(),
            });
        }
        // The last cumulative stage is the whole mask: the rules map itself checks it.
        stages.pop();
        let plens = TRIE_FIELDS.map(|(f, _)| prefix_len(mask.get(f)));
        Subtable {
            mask: mask.clone(),
            offs: offs_by_stage.concat().into_boxed_slice(),
            rules: FastMap::default(),
            prios: BTreeMap::new(),
            max_priority: 0,
            count: 0,
            trie_stage: trie_stage.unwrap_or(stages.len()),
            stages,
            plens,
        }
    }

    /// Packs `flow & mask` at key offsets `from..to` into `key`.
    fn pack(&self, flow: &FlowFields, key: &mut [u8], from: usize, to: usize) {
        for (k, &o) in key[from..to].iter_mut().zip(&self.offs[from..to]) {
            let o = usize::from(o);
            *k = flow.bytes[o] & self.mask.bytes[o];
        }
    }

    fn add_priority(&mut self, priority: u32) {
        *self.prios.entry(priority).or_insert(0) += 1;
        self.max_priority = self.max_priority.max(priority);
    }

    fn drop_priority(&mut self, priority: u32) {
        if let Some(n) = self.prios.get_mut(&priority) {
            *n -= 1;
            if *n == 0 {
                self.prios.remove(&priority);
            }
        }
        self.max_priority = self.prios.keys().next_back().copied().unwrap_or(0);
    }
}

/// A priority classifier over rules identified by `R`.
#[derive(Clone)]
pub struct Classifier<R> {
    subtables: Vec<Subtable<R>>,
    count: usize,
    tries: [PrefixTrie; TRIE_FIELDS.len()],
}

impl<R> Default for Classifier<R> {
    fn default() -> Self {
        Classifier {
            subtables: Vec::new(),
            count: 0,
            tries: TRIE_FIELDS.map(|(_, w)| PrefixTrie::new(w)),
        }
    }
}

impl<R: Copy + PartialEq> Classifier<R> {
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Inserts `id` for (`m`, `priority`). The caller guarantees the pair is new.
    pub fn insert(&mut self, m: &FlowMatch, priority: u32, id: R) {
        let idx = match self.subtables.iter().position(|s| s.mask == m.mask) {
            Some(i) => i,
            None => {
                self.subtables.push(Subtable::new(&m.mask));
                self.subtables.len() - 1
            }
        };
        let st = &mut self.subtables[idx];
        let mut key = [0u8; FLOW_LEN];
        let n = st.offs.len();
        st.pack(&m.value, &mut key, 0, n);
        for stage in &mut st.stages {
            *stage
                .values
                .entry(hash_bytes(&key[..stage.len]))
                .or_insert(0) += 1;
        }
        for (t, plen) in st.plens.iter().enumerate() {
            if let Some(p) = plen {
                self.tries[t].insert(m.value.get(TRIE_FIELDS[t].0), *p);
            }
        }
        match st.rules.get_mut(&key[..n]) {
            Some(slot) => slot.insert(priority, id),
            None => {
                st.rules
                    .insert(Key::new(&key[..n]), Slot::One((priority, id)));
            }
        }
        st.count += 1;
        let old_max = st.max_priority;
        st.add_priority(priority);
        self.count += 1;
        if st.max_priority != old_max || st.count == 1 {
            self.sort();
        }
    }

    /// Removes the rule for (`m`, `priority`); returns its id.
    pub fn remove(&mut self, m: &FlowMatch, priority: u32) -> Option<R> {
        let idx = self.subtables.iter().position(|s| s.mask == m.mask)?;
        let st = &mut self.subtables[idx];
        let mut key = [0u8; FLOW_LEN];
        let n = st.offs.len();
        st.pack(&m.value, &mut key, 0, n);
        let slot = st.rules.get_mut(&key[..n])?;
        let (id, empty) = slot.remove(priority)?;
        if empty {
            st.rules.remove(&key[..n]);
        }
        for stage in &mut st.stages {
            let h = hash_bytes(&key[..stage.len]);
            if let Some(c) = stage.values.get_mut(&h) {
                *c -= 1;
                if *c == 0 {
                    stage.values.remove(&h);
                }
            }
        }
        for (t, plen) in st.plens.iter().enumerate() {
            if let Some(p) = plen {
                self.tries[t].remove(m.value.get(TRIE_FIELDS[t].0), *p);
            }
        }
        st.count -= 1;
        self.count -= 1;
        if st.count == 0 {
            self.subtables.remove(idx);
        } else {
            let old_max = st.max_priority;
            st.drop_priority(priority);
            if st.max_priority != old_max {
                self.sort();
            }
        }
        Some(id)
    }

    fn sort(&mut self) {
        self.subtables
            .sort_by_key(|s| std::cmp::Reverse(s.max_priority));
    }

    /// The rule with exactly this match and priority.
    pub fn find_exact(&self, m: &FlowMatch, priority: u32) -> Option<R> {
        let st = self.subtables.iter().find(|s| s.mask == m.mask)?;
        let mut key = [0u8; FLOW_LEN];
        let n = st.offs.len();
        st.pack(&m.value, &mut key, 0, n);
        st.rules
            .get(&key[..n])?
            .as_slice()
            .iter()
            .find(|(p, _)| *p == priority)
            .map(|e| e.1)
    }

    /// Is there a rule of `priority` that some packet matching `m` would also match?
    pub fn overlaps(&self, m: &FlowMatch, priority: u32) -> bool {
        self.subtables.iter().any(|st| {
            if !st.prios.contains_key(&priority) {
                return false;
            }
            // Only bytes both masks care about can tell the two apart.
            let shared: Vec<(usize, usize)> = st
                .offs
                .iter()
                .enumerate()
                .map(|(j, &o)| (j, usize::from(o)))
                .filter(|&(_, o)| m.mask.bytes[o] != 0)
                .collect();
            st.rules.iter().any(|(key, slot)| {
                let key = key.as_slice();
                slot.as_slice().iter().any(|(p, _)| *p == priority)
                    && shared.iter().all(|&(j, o)| {
                        (key[j] ^ m.value.bytes[o]) & st.mask.bytes[o] & m.mask.bytes[o] == 0
                    })
            })
        })
    }

    /// The highest-priority rule matching `flow`, and the bits the answer depended on.
    /// Among equal priorities the rule found first wins (OpenFlow leaves it undefined).
    ///
    /// The bits are as few as the rules allow: a subtable is probed stage by stage
    /// (metadata, L2, L3, L4) and a stage with no rule value costs only the stages so far;
    /// before the L3 stage, the prefix tries rule out subtables whose address prefix length
    /// has no rule along the packet's address, at the cost of the leading address bits the
    /// trie walk needed.
    pub fn lookup(&self, flow: &FlowFields) -> (Option<R>, FlowFields) {
        let mut wc = FlowFields::default();
        let mut best: Option<(u32, R)> = None;
        let mut key = [0u8; FLOW_LEN];
        // Each trie is walked at most once per lookup, when a subtable first needs it.
        let mut trie_answers: [Option<(PrefixLens, u32)>; TRIE_FIELDS.len()] =
            [None; TRIE_FIELDS.len()];
        'subtables: for st in &self.subtables {
            if let Some((bp, _)) = best {
                if st.max_priority <= bp {
                    break;
                }
            }
            let mut packed = 0;
            for i in 0..=st.stages.len() {
                if i == st.trie_stage {
                    for (t, plen) in st.plens.iter().enumerate() {
                        let Some(p) = *plen else { continue };
                        let (field, _) = TRIE_FIELDS[t];
                        let (lens, bits) = *trie_answers[t]
                            .get_or_insert_with(|| self.tries[t].lookup(flow.get(field)));
                        if !lens.contains(p) {
                            if i > 0 {
                                wc.or_assign(&st.stages[i - 1].mask);
                            }
                            // The first `p` bits already prove that no /p prefix
                            // matches, however deep the trie walk went for longer ones.
                            let r = range(field);
                            for (w, m) in wc.bytes[r.clone()]
                                .iter_mut()
                                .zip(prefix_mask(r.len(), bits.min(p)))
                            {
                                *w |= m;
                            }
                            // The address means something only for its ethertype.
                            wc.set(Field::EthType, &[0xff, 0xff]);
                            continue 'subtables;
                        }
                    }
                }
                if let Some(stage) = st.stages.get(i) {
                    st.pack(flow, &mut key, packed, stage.len);
                    packed = stage.len;
                    if !stage.values.contains_key(&hash_bytes(&key[..stage.len])) {
                        wc.or_assign(&stage.mask);
                        continue 'subtables;
                    }
                }
            }
            let n = st.offs.len();
            st.pack(flow, &mut key, packed, n);
            wc.or_assign(&st.mask);
            if let Some((p, id)) = st.rules.get(&key[..n]).and_then(Slot::first) {
                if best.map_or(true, |(bp, _)| p > bp) {
                    best = Some((p, id));
                }
            }
        }
        (best.map(|b| b.1), wc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ofp::MatchEntry;

    fn m(entries: Vec<MatchEntry>) -> FlowMatch {
        FlowMatch::from_oxm(&OxmMatch { entries })
    }

    #[test]
    fn lookup_prefers_priority_and_reports_examined_bits() {
        let mut c = Classifier::default();
        let ip = m(vec![
            MatchEntry::from_u64(Field::EthType, 0x0800),
            MatchEntry::masked(Field::Ipv4Src, &[10, 0, 0, 0], &[255, 0, 0, 0]),
        ]);
        let port = m(vec![MatchEntry::from_u64(Field::InPort, 1)]);
        c.insert(&ip, 200, 1u32);
        c.insert(&port, 100, 2u32);
        c.insert(&FlowMatch::default(), 0, 3u32);
        let mut f = FlowFields::default();
        f.set_u64(Field::EthType, 0x0800);
        f.set(Field::Ipv4Src, &[10, 1, 2, 3]);
        f.set_u64(Field::InPort, 1);
        let (hit, wc) = c.lookup(&f);
        assert_eq!(hit, Some(1));
        // Only the first subtable was needed: in_port was not examined.
        assert_eq!(wc.get(Field::Ipv4Src), &[255, 0, 0, 0]);
        assert_eq!(wc.get(Field::EthType), &[0xff, 0xff]);
        assert_eq!(wc.get(Field::InPort), &[0, 0, 0, 0]);
        f.set(Field::Ipv4Src, &[11, 0, 0, 1]);
        let (hit, wc) = c.lookup(&f);
        assert_eq!(hit, Some(2));
        assert_eq!(wc.get(Field::InPort), &[0xff; 4]);
        f.set_u64(Field::InPort, 2);
        assert_eq!(c.lookup(&f).0, Some(3));
        assert_eq!(c.remove(&ip, 200), Some(1));
        assert_eq!(c.remove(&ip, 200), None);
        assert_eq!(c.len(), 2);
    }

    #[test]
    fn prefix_tries_skip_subtables_for_the_bits_they_needed() {
        let mut c = Classifier::default();
        let src = |a: [u8; 4], len: u32| {
            m(vec![
                MatchEntry::from_u64(Field::EthType, 0x0800),
                MatchEntry::masked(Field::Ipv4Src, &a, &prefix_mask(4, len)),
            ])
        };
        c.insert(&src([10, 1, 2, 3], 32), 300, 1u32);
        c.insert(&src([10, 2, 0, 0], 16), 200, 2u32);
        c.insert(&FlowMatch::default(), 0, 3u32);
        let mut f = FlowFields::default();
        f.set_u64(Field::EthType, 0x0800);
        // 10.1.2.4: no /32 and no /16 along the path. The /32 subtable needs 30 bits
        // (10.1.2.3 and .4 part at bit 29), the /16 subtable only its 16.
        f.set(Field::Ipv4Src, &[10, 1, 2, 4]);
        let (hit, wc) = c.lookup(&f);
        assert_eq!(hit, Some(3));
        assert_eq!(wc.get(Field::Ipv4Src), &[255, 255, 255, 252]);
        assert_eq!(wc.get(Field::EthType), &[0xff, 0xff]);
        // 10.3.0.1 follows 10.2 until bit 15: 16 bits for both subtables.
        f.set(Field::Ipv4Src, &[10, 3, 0, 1]);
        let (hit, wc) = c.lookup(&f);
        assert_eq!(hit, Some(3));
        assert_eq!(wc.get(Field::Ipv4Src), &[255, 255, 0, 0]);
        // A /16 subtable probed alone is skipped on 16 bits, even though the walk along
        // 10.1.2.x went 30 deep for the /32 rule (which a catch-all above it hides here).
        let mut c2 = Classifier::default();
        c2.insert(&src([10, 2, 0, 0], 16), 200, 2u32);
        c2.insert(&FlowMatch::default(), 150, 3u32);
        c2.insert(&src([10, 1, 2, 3], 32), 100, 1u32);
        let mut g = FlowFields::default();
        g.set_u64(Field::EthType, 0x0800);
        g.set(Field::Ipv4Src, &[10, 1, 2, 4]);
        let (hit, wc) = c2.lookup(&g);
        assert_eq!(hit, Some(3));
        assert_eq!(wc.get(Field::Ipv4Src), &[255, 255, 0, 0]);
        // 10.128.0.1 leaves at bit 8: 9 bits.
        f.set(Field::Ipv4Src, &[10, 128, 0, 1]);
        assert_eq!(c.lookup(&f).1.get(Field::Ipv4Src), &[255, 128, 0, 0]);
        // 10.2.9.9 matches the /16 rule: the /32 subtable is skipped on the 16 bits the
        // walk needed (it ends at the /16 leaf), then the /16 subtable is probed.
        f.set(Field::Ipv4Src, &[10, 2, 9, 9]);
        let (hit, wc) = c.lookup(&f);
        assert_eq!(hit, Some(2));
        assert_eq!(wc.get(Field::Ipv4Src), &[255, 255, 0, 0]);
    }

    #[test]
    fn nxm_and_oxm_forms_compile_alike() {
        let a = m(vec![MatchEntry::from_u64(Field::NxmInPort, 0xfffe)]);
        let b = m(vec![MatchEntry::from_u64(Field::InPort, 0xffff_fffe)]);
        assert_eq!(a, b);
        let pcp = m(vec![
            MatchEntry::from_u64(Field::VlanVid, 0x1005),
            MatchEntry::from_u64(Field::VlanPcp, 3),
        ]);
        assert_eq!(pcp.value.get(Field::VlanVid), &[0x70, 0x05]);
        assert_eq!(pcp.mask.get(Field::VlanVid), &[0xff, 0xff]);
    }

    #[test]
    fn within_and_overlap() {
        let wide = m(vec![MatchEntry::from_u64(Field::EthType, 0x0800)]);
        let narrow = m(vec![
            MatchEntry::from_u64(Field::EthType, 0x0800),
            MatchEntry::exact(Field::Ipv4Src, &[1, 2, 3, 4]),
        ]);
        let other = m(vec![MatchEntry::from_u64(Field::EthType, 0x86dd)]);
        assert!(narrow.is_within(&wide));
        assert!(!wide.is_within(&narrow));
        assert!(wide.overlaps(&narrow));
        assert!(!other.overlaps(&narrow));
        let src = m(vec![MatchEntry::exact(Field::Ipv4Src, &[1, 2, 3, 4])]);
        assert!(src.overlaps(&other));
    }

    /// The compact form answers exactly what the full one does, and round-trips.
    #[test]
    fn mini_match_agrees_with_the_full_match() {
        let five = m(vec![
            MatchEntry::from_u64(Field::EthType, 0x0800),
            MatchEntry::from_u64(Field::IpProto, 17),
            MatchEntry::exact(Field::Ipv4Src, &[10, 0, 1, 2]),
            MatchEntry::masked(Field::Ipv4Dst, &[172, 16, 0, 0], &[255, 255, 0, 0]),
            MatchEntry::from_u64(Field::UdpDst, 5001),
        ]);
        let mini = MiniMatch::new(&five);
        assert_eq!(mini.expand(), five);
        // Runs: eth_type (2); ip_proto, ipv4_src and the /16 of ipv4_dst, adjacent (7);
        // udp_dst (2): 3 headers of 3 bytes, and a mask and a value byte for each of 11.
        assert_eq!(mini.0.len(), 3 * 3 + 2 * 11);
        assert_eq!(mini.exact(Field::Ipv4Src), Some(&[10, 0, 1, 2][..]));
        assert_eq!(mini.exact(Field::Ipv4Dst), None, "a /16 is not exact");
        assert_eq!(mini.exact(Field::UdpSrc), None);
        assert_eq!(mini.exact(Field::EthType), Some(&[0x08, 0x00][..]));
        let wider = [
            FlowMatch::default(),
            m(vec![MatchEntry::from_u64(Field::EthType, 0x0800)]),
            m(vec![
                MatchEntry::from_u64(Field::EthType, 0x0800),
                MatchEntry::masked(Field::Ipv4Src, &[10, 0, 0, 0], &[255, 0, 0, 0]),
            ]),
            m(vec![
                MatchEntry::from_u64(Field::EthType, 0x0800),
                MatchEntry::masked(Field::Ipv4Src, &[11, 0, 0, 0], &[255, 0, 0, 0]),
            ]),
            m(vec![MatchEntry::from_u64(Field::UdpSrc, 1)]),
            m(vec![MatchEntry::exact(Field::Ipv4Dst, &[172, 16, 0, 1])]),
            five.clone(),
        ];
        let expect = [true, true, true, false, false, false, true];
        for (w, e) in wider.iter().zip(expect) {
            assert_eq!(mini.is_within(w), e, "{w:?}");
            assert_eq!(five.is_within(w), e, "{w:?}");
        }
        let all = MiniMatch::new(&FlowMatch::default());
        assert!(all.is_catchall() && all.0.is_empty());
        assert!(!all.is_within(&wider[1]));
        assert!(all.is_within(&wider[0]));
    }

    /// Several priorities on one masked value; removal leaves the rest in order.
    #[test]
    fn one_value_many_priorities() {
        let mut c = Classifier::default();
        let a = m(vec![MatchEntry::from_u64(Field::InPort, 1)]);
        c.insert(&a, 10, 1u32);
        c.insert(&a, 30, 3u32);
        c.insert(&a, 20, 2u32);
        let mut f = FlowFields::default();
        f.set_u64(Field::InPort, 1);
        assert_eq!(c.lookup(&f).0, Some(3));
        assert_eq!(c.find_exact(&a, 20), Some(2));
        assert!(c.overlaps(&FlowMatch::default(), 10));
        assert!(!c.overlaps(&FlowMatch::default(), 11));
        assert_eq!(c.remove(&a, 30), Some(3));
        assert_eq!(c.lookup(&f).0, Some(2));
        assert_eq!(c.remove(&a, 20), Some(2));
        assert_eq!(c.lookup(&f).0, Some(1));
        assert_eq!(c.remove(&a, 20), None);
        assert_eq!(c.remove(&a, 10), Some(1));
        assert!(c.is_empty());
        assert_eq!(c.lookup(&f).0, None);
        // A key longer than the inline size (both IPv6 addresses: 32 bytes) works alike.
        let v6 = m(vec![
            MatchEntry::from_u64(Field::EthType, 0x86dd),
            MatchEntry::exact(Field::Ipv6Src, &[1; 16]),
            MatchEntry::exact(Field::Ipv6Dst, &[2; 16]),
        ]);
        c.insert(&v6, 5, 6u32);
        let mut g = FlowFields::default();
        g.set_u64(Field::EthType, 0x86dd);
        g.set(Field::Ipv6Src, &[1; 16]);
        g.set(Field::Ipv6Dst, &[2; 16]);
        assert_eq!(c.lookup(&g).0, Some(6));
        g.set(Field::Ipv6Dst, &[3; 16]);
        assert_eq!(c.lookup(&g).0, None);
        assert_eq!(c.remove(&v6, 5), Some(6));
    }

    /// The highest priority left in a subtable decides its place after a removal.
    #[test]
    fn removal_lowers_a_subtables_priority() {
        let mut c = Classifier::default();
        let port = |p: u64| m(vec![MatchEntry::from_u64(Field::InPort, p)]);
        let eth = m(vec![MatchEntry::from_u64(Field::EthType, 0x0800)]);
        c.insert(&port(1), 100, 1u32);
        c.insert(&port(2), 10, 2u32);
        c.insert(&eth, 50, 3u32);
        let mut f = FlowFields::default();
        f.set_u64(Field::InPort, 2);
        f.set_u64(Field::EthType, 0x0800);
        assert_eq!(c.lookup(&f).0, Some(3));
        c.remove(&port(1), 100);
        // in_port=2 (priority 10) must not hide eth_type (priority 50) now.
        assert_eq!(c.lookup(&f).0, Some(3));
        c.remove(&eth, 50);
        assert_eq!(c.lookup(&f).0, Some(2));
    }
}
