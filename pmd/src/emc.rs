//! The exact-match cache (EMC): the first lookup a packet gets.
//!
//! Vocabulary: an *entry* maps one full packet key (no mask) to the
//! [`FlowRef`] of the megaflow that matched it. The cache is a power-of-two
//! array; a key may live at two positions, derived from the low and the
//! high bits of its 32-bit hash (`FlowKey::hash`, which the PMD computes
//! once per packet).
//!
//! An entry is two cache lines and stores the key compactly: the five hot
//! words (in_port, Ethernet, the IPv4 5-tuple) at fixed places, and of the
//! fourteen tail words (VLAN, IPv6, MPLS, ARP, ND, metadata) only the
//! non-zero ones, packed, named by the key's *tail map*
//! ([`FlowKey::tail_map`]). The first line holds the hash, the tail map, the
//! flow and the hot words, so a hit on an untagged IPv4 key (tail map 0)
//! reads one line and compares five words, not nineteen; the caller passes
//! the packet's tail map, which the parser's fast path knows to be 0 with
//! no scan. A key with more non-zero tail words than an entry holds
//! ([`MAX_TAIL`]; no real packet comes near) is never cached: the
//! classifier answers it every time, which is slower but the same answer.
//!
//! Insertion after a megaflow hit is *probabilistic* (1 in
//! [`DEFAULT_INSERT_INV_PROB`] by default, from a deterministic xorshift
//! generator): with many more flows than entries, inserting every miss would
//! evict entries before they are ever hit again (thrashing), while a flow
//! that is really hot still gets in after ~100 packets. The first packet of
//! a new megaflow (the one that caused the upcall) is inserted
//! unconditionally with [`Emc::insert`].
//!
//! Who calls it: only the PMD thread that owns it. The cache is never told
//! about flow changes: a hit on a handle the [`FlowTable`] no longer reports
//! live (the flow was deleted or flushed) counts as a miss, and the entry is
//! cleared on the spot, so a retired flow's actions can never run. A modify
//! keeps the handle, so it needs no invalidation either.
//!
//! Invariants: an entry without the [`OCCUPIED`] bit is empty and never
//! matches; an occupied entry's tail map has at most [`MAX_TAIL`] bits and
//! its `tail` holds those words in ascending order (the rest zero); the
//! entry array length is a power of two >= 2.

use crate::flow::{FlowRef, FlowTable};
use crate::key::{FlowKey, HOT_WORDS};

/// Asks the CPU to start loading the cache line holding `p` (a hint: it
/// never faults, whatever the address). A no-op off x86-64.
#[inline(always)]
pub(crate) fn prefetch_read(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: prefetch is a hint that never faults and has no effect on
    // program state, even for an invalid address; SSE is baseline on x86-64.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(p as *const i8);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Default number of entries.
pub const DEFAULT_ENTRIES: usize = 8192;

/// Default inverse insertion probability: insert 1 in this many times.
pub const DEFAULT_INSERT_INV_PROB: u32 = 100;

/// Most non-zero tail words a cached key may have: what fills the
/// entry's two cache lines after the header and the hot words.
pub const MAX_TAIL: usize = 9;

/// `Entry::meta` bit: the entry holds a key. The low bits are its tail map.
const OCCUPIED: u16 = 1 << 15;

/// One cache entry: 16 bytes of header, the hot words, then the packed
/// non-zero tail words; 128 bytes, aligned so it spans exactly two lines.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Entry {
    hash: u32,
    /// [`OCCUPIED`] | the key's tail map; 0 = empty.
    meta: u16,
    /// Meaningful only when occupied.
    flow: FlowRef,
    hot: [u64; HOT_WORDS],
    tail: [u64; MAX_TAIL],
}

const EMPTY: Entry = Entry {
    hash: 0,
    meta: 0,
    flow: FlowRef::DANGLING,
    hot: [0; HOT_WORDS],
    tail: [0; MAX_TAIL],
};

impl Entry {
    /// True if the entry holds `key`, whose hash is `hash` and whose
    /// `OCCUPIED | tail map` is `meta`. XOR-accumulates, one branch for the
    /// hot words; the tail is visited only for keys that have one.
    #[inline(always)]
    fn holds(&self, key: &FlowKey, hash: u32, meta: u16) -> bool {
        if self.hash != hash || self.meta != meta {
            return false;
        }
        let mut diff = 0u64;
        for i in 0..HOT_WORDS {
            diff |= self.hot[i] ^ key.words[i];
        }
        let mut bits = meta & !OCCUPIED;
        if bits != 0 {
            for &stored in &self.tail {
                if bits == 0 {
                    break;
                }
                let j = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                diff |= stored ^ key.words[HOT_WORDS + j];
            }
            // Only a key with more tail words than an entry holds gets
            // here with bits left, and no entry stores such a key.
            diff |= u64::from(bits);
        }
        diff == 0
    }

    /// The entry for `key -> flow`, or `None` if the key's tail does not
    /// fit.
    fn new(key: &FlowKey, hash: u32, tail_map: u16, flow: FlowRef) -> Option<Entry> {
        if tail_map.count_ones() as usize > MAX_TAIL {
            return None;
        }
        let mut e = Entry {
            hash,
            meta: OCCUPIED | tail_map,
            flow,
            hot: [0; HOT_WORDS],
            tail: [0; MAX_TAIL],
        };
        e.hot.copy_from_slice(&key.words[..HOT_WORDS]);
        let mut bits = tail_map;
        for stored in &mut e.tail {
            if bits == 0 {
                break;
            }
            let j = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            *stored = key.words[HOT_WORDS + j];
        }
        Some(e)
    }
}

/// A per-PMD exact-match cache.
pub struct Emc {
    entries: Box<[Entry]>,
    /// `entries.len() - 1`.
    index_mask: u32,
    /// Insert when the next random `u32` is <= this (u32::MAX = always).
    insert_threshold: u32,
    rng: u32,
}

impl Default for Emc {
    fn default() -> Self {
        Emc::new(DEFAULT_ENTRIES, DEFAULT_INSERT_INV_PROB)
    }
}

impl Emc {
    /// A cache with `entries` entries (rounded up to a power of two, at
    /// least 2) that [`Emc::maybe_insert`]s 1 in `insert_inv_prob` times
    /// (0 and 1 both mean always).
    pub fn new(entries: usize, insert_inv_prob: u32) -> Emc {
        let n = entries.max(2).next_power_of_two();
        let mut emc = Emc {
            entries: vec![EMPTY; n].into_boxed_slice(),
            // The entry count of a cache is far below 2^32.
            index_mask: (n - 1) as u32,
            insert_threshold: u32::MAX,
            rng: 0x9e37_79b9,
        };
        emc.set_insert_inv_prob(insert_inv_prob);
        emc
    }

    /// Number of entries.
    pub fn capacity(&self) -> usize {
        self.entries.len()
    }

    /// Changes the insertion probability to 1 in `inv_prob` (0 or 1 =
    /// always).
    pub fn set_insert_inv_prob(&mut self, inv_prob: u32) {
        self.insert_threshold = if inv_prob <= 1 {
            u32::MAX
        } else {
            u32::MAX / inv_prob
        };
    }

    /// Seeds the insertion generator (tests, or per-PMD variety).
    pub fn seed(&mut self, seed: u32) {
        // xorshift32 must not start at 0.
        self.rng = if seed == 0 { 0x9e37_79b9 } else { seed };
    }

    #[inline(always)]
    fn positions(&self, hash: u32) -> [usize; 2] {
        [
            (hash & self.index_mask) as usize,
            (hash.rotate_right(16) & self.index_mask) as usize,
        ]
    }

    /// Starts loading the two entries `hash` may live at, so that a later
    /// lookup of the same hash finds them in cache. The PMD issues this
    /// for a whole burst before looking any packet up, so the misses of a
    /// cache much larger than L1/L2 overlap instead of queueing one after
    /// another. Only each entry's first line: it decides a hit for every
    /// key without a tail.
    #[inline(always)]
    pub fn prefetch(&self, hash: u32) {
        for pos in self.positions(hash) {
            prefetch_read(self.entries.as_ptr().wrapping_add(pos) as *const u8);
        }
    }

    /// The flow cached for `key` (whose `FlowKey::hash` is `hash`), if it
    /// is still live in `flows`. An entry naming a retired flow is a miss
    /// and is cleared. Scans the key's tail; the PMD, which knows the tail
    /// map already, calls [`Emc::lookup_with_tail`].
    #[inline]
    pub fn lookup(&mut self, key: &FlowKey, hash: u32, flows: &FlowTable) -> Option<FlowRef> {
        self.lookup_with_tail(key, hash, key.tail_map(), flows)
    }

    /// [`Emc::lookup`] for a key whose [`FlowKey::tail_map`] is `tail_map`.
    /// Always inlined: a call costs more than the lookup's own work.
    #[inline(always)]
    pub fn lookup_with_tail(
        &mut self,
        key: &FlowKey,
        hash: u32,
        tail_map: u16,
        flows: &FlowTable,
    ) -> Option<FlowRef> {
        let meta = OCCUPIED | tail_map;
        for pos in self.positions(hash) {
            let e = &mut self.entries[pos];
            if e.holds(key, hash, meta) {
                if flows.is_live(e.flow) {
                    return Some(e.flow);
                }
                e.meta = 0;
                return None;
            }
        }
        None
    }

    /// Caches `key -> flow` unconditionally (unless the key's tail does
    /// not fit an entry, see [`MAX_TAIL`]). An entry for the same key is
    /// updated in place; otherwise an empty position is used, or one of the
    /// two is overwritten (chosen by a hash bit, so stable per key).
    pub fn insert(&mut self, key: &FlowKey, hash: u32, flow: FlowRef) {
        let tail_map = key.tail_map();
        let Some(new) = Entry::new(key, hash, tail_map, flow) else {
            return;
        };
        let [a, b] = self.positions(hash);
        let mut victim = None;
        for pos in [a, b] {
            let e = &self.entries[pos];
            if e.holds(key, hash, new.meta) {
                victim = Some(pos);
                break;
            }
            if e.meta == 0 && victim.is_none() {
                victim = Some(pos);
            }
        }
        let pos = victim.unwrap_or(if hash & (1 << 31) == 0 { a } else { b });
        self.entries[pos] = new;
    }

    /// Caches `key -> flow` with the configured probability (after a
    /// megaflow hit). Returns whether it inserted.
    #[inline]
    pub fn maybe_insert(&mut self, key: &FlowKey, hash: u32, flow: FlowRef) -> bool {
        if self.insert_threshold != u32::MAX {
            // xorshift32: 3 shifts and xors, plenty for a sampling decision.
            let mut x = self.rng;
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            self.rng = x;
            if x > self.insert_threshold {
                return false;
            }
        }
        self.insert(key, hash, flow);
        true
    }

    /// Empties the cache.
    pub fn clear(&mut self) {
        self.entries.fill(EMPTY);
    }

    /// Number of occupied entries (diagnostics; walks the whole cache).
    pub fn occupancy(&self) -> usize {
        self.entries.iter().filter(|e| e.meta != 0).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::PutFlags;
    use crate::key::{FieldId, FlowMask};

    fn key(port: u32, sport: u16) -> FlowKey {
        let mut k = FlowKey::default();
        k.set_in_port(port);
        k.set_eth_type(0x0800);
        k.set_tp_src(sport);
        k
    }

    fn table_with_flow() -> (FlowTable, FlowRef) {
        let mut t = FlowTable::default();
        let mut m = FlowMask::default();
        m.set_exact(FieldId::EthType);
        let r = t
            .put(None, &key(1, 0), &m, Vec::new().into(), PutFlags::CREATE)
            .unwrap()
            .flow;
        (t, r)
    }

    #[test]
    fn hit_miss_and_update() {
        let (t, r) = table_with_flow();
        let mut emc = Emc::new(16, 1);
        let k = key(1, 80);
        assert_eq!(emc.lookup(&k, k.hash(), &t), None);
        emc.insert(&k, k.hash(), r);
        assert_eq!(emc.lookup(&k, k.hash(), &t), Some(r));
        // Same hash, different key: the full compare rejects it.
        assert_eq!(emc.lookup(&key(1, 81), k.hash(), &t), None);
        emc.insert(&k, k.hash(), r);
        assert_eq!(emc.occupancy(), 1);
        emc.clear();
        assert_eq!(emc.lookup(&k, k.hash(), &t), None);
    }

    #[test]
    fn retired_flow_misses_and_is_evicted() {
        let (mut t, r) = table_with_flow();
        let mut emc = Emc::new(16, 1);
        let k = key(1, 80);
        emc.insert(&k, k.hash(), r);
        t.remove(r).unwrap();
        // A new flow may reuse the slot; the old handle must still miss.
        let mut m = FlowMask::default();
        m.set_exact(FieldId::EthType);
        let r2 = t
            .put(None, &key(1, 0), &m, Vec::new().into(), PutFlags::CREATE)
            .unwrap()
            .flow;
        assert_eq!(r2.index(), r.index());
        assert_ne!(r2, r);
        assert_eq!(emc.lookup(&k, k.hash(), &t), None);
        assert_eq!(emc.occupancy(), 0);
    }

    #[test]
    fn two_positions_then_replacement() {
        let (t, r) = table_with_flow();
        let mut emc = Emc::new(2, 1);
        // With 2 entries, any three distinct keys must leave the cache full
        // and the latest key present.
        let ks = [key(1, 1), key(1, 2), key(1, 3)];
        for k in &ks {
            emc.insert(k, k.hash(), r);
            assert_eq!(emc.lookup(k, k.hash(), &t), Some(r));
        }
        assert!(emc.occupancy() >= 1);
    }

    #[test]
    fn entry_is_two_cache_lines() {
        assert_eq!(std::mem::size_of::<Entry>(), 128);
        assert_eq!(std::mem::align_of::<Entry>(), 64);
        // Everything an IPv4 hit reads is in the first line.
        assert!(std::mem::offset_of!(Entry, hot) + 8 * HOT_WORDS <= 64);
    }

    #[test]
    fn tail_words_are_compared() {
        let (t, r) = table_with_flow();
        let mut emc = Emc::new(16, 1);
        let mut k = key(1, 80);
        k.set_vlan_outer_tpid(0x8100);
        k.set_ipv6_dst("2001:db8::1".parse().unwrap());
        k.set_nd_tll([0, 0, 0, 0, 0, 9]);
        emc.insert(&k, k.hash(), r);
        assert_eq!(emc.lookup(&k, k.hash(), &t), Some(r));
        // Same hash given, one tail word different: a miss.
        let mut other = k;
        other.set_nd_tll([0, 0, 0, 0, 0, 8]);
        assert_eq!(emc.lookup(&other, k.hash(), &t), None);
        // A tail word zero in the probe but not in the entry: a miss.
        let mut fewer = k;
        fewer.set_vlan_outer_tpid(0);
        assert_eq!(emc.lookup(&fewer, k.hash(), &t), None);
        // The same hot words with no tail at all: a miss.
        let mut none = k;
        none.words[HOT_WORDS..].fill(0);
        assert_eq!(emc.lookup(&none, k.hash(), &t), None);
    }

    #[test]
    fn keys_with_too_long_a_tail_are_not_cached() {
        let (t, r) = table_with_flow();
        let mut emc = Emc::new(16, 1);
        let mut k = key(1, 80);
        for w in &mut k.words[HOT_WORDS..HOT_WORDS + MAX_TAIL + 1] {
            *w = 1;
        }
        emc.insert(&k, k.hash(), r);
        assert_eq!(emc.occupancy(), 0);
        assert_eq!(emc.lookup(&k, k.hash(), &t), None);
        // One word fewer fits.
        k.words[HOT_WORDS + MAX_TAIL] = 0;
        emc.insert(&k, k.hash(), r);
        assert_eq!(emc.lookup(&k, k.hash(), &t), Some(r));
    }

    #[test]
    fn probabilistic_insertion_rate() {
        let (_t, r) = table_with_flow();
        let mut emc = Emc::new(8192, 100);
        emc.seed(12345);
        let inserted = (0..100_000u32)
            .filter(|&i| {
                let k = key(1, i as u16);
                emc.maybe_insert(&k, k.hash(), r)
            })
            .count();
        // Expect 1,000; allow the sampling noise of a fixed seed.
        assert!((800..1200).contains(&inserted), "{inserted}");
        let mut always = Emc::new(8, 1);
        assert!(always.maybe_insert(&key(1, 1), key(1, 1).hash(), r));
    }
}
