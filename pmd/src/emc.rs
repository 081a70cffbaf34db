//! The exact-match cache (EMC): the first lookup a packet gets.
//!
//! Vocabulary: an *entry* maps one full packet key (all [`KEY_WORDS`] words,
//! no mask) to the [`FlowRef`] of the megaflow that matched it. The cache is
//! a power-of-two array; a key may live at two positions, derived from the
//! low and the high bits of its 32-bit hash (`FlowKey::hash`, which the
//! PMD computes once per packet), so a hit costs the hash compare plus one
//! full-key compare (19 words) in at most two entries.
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
//! Invariants: an entry with `flow == None` is empty and never matches; the
//! entry array length is a power of two >= 2.

use crate::flow::{FlowRef, FlowTable};
use crate::key::{FlowKey, KEY_WORDS};

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

/// One cache entry. The key is kept as bare words rather than a
/// `FlowKey` (64-byte aligned) so an entry is 168 bytes, not 256: the
/// cache is 1.3 MiB at the default size and the hash check and the first
/// key words share a cache line.
#[derive(Clone, Copy)]
struct Entry {
    hash: u32,
    flow: Option<FlowRef>,
    key: [u64; KEY_WORDS],
}

const EMPTY: Entry = Entry {
    hash: 0,
    flow: None,
    key: [0; KEY_WORDS],
};

/// Full-key equality without a `memcmp` call: XOR-accumulate, one branch.
#[inline(always)]
fn same_key(a: &[u64; KEY_WORDS], b: &[u64; KEY_WORDS]) -> bool {
    let mut diff = 0u64;
    for i in 0..KEY_WORDS {
        diff |= a[i] ^ b[i];
    }
    diff == 0
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
    /// [`Emc::lookup`] of the same hash finds them in cache. The PMD issues
    /// this for a whole burst before looking any packet up, so the misses
    /// of a cache much larger than L1/L2 overlap instead of queueing one
    /// after another. An entry spans three or four cache lines; touching
    /// its first and third brings the rest with the adjacent-line fetch.
    #[inline(always)]
    pub fn prefetch(&self, hash: u32) {
        for pos in self.positions(hash) {
            let e = &self.entries[pos] as *const Entry as *const u8;
            prefetch_read(e);
            prefetch_read(e.wrapping_add(128));
        }
    }

    /// The flow cached for `key` (whose `FlowKey::hash` is `hash`), if it
    /// is still live in `flows`. An entry naming a retired flow is a miss
    /// and is cleared.
    #[inline]
    pub fn lookup(&mut self, key: &FlowKey, hash: u32, flows: &FlowTable) -> Option<FlowRef> {
        for pos in self.positions(hash) {
            let e = &mut self.entries[pos];
            if let Some(flow) = e.flow {
                if e.hash == hash && same_key(&e.key, &key.words) {
                    if flows.is_live(flow) {
                        return Some(flow);
                    }
                    e.flow = None;
                    return None;
                }
            }
        }
        None
    }

    /// Caches `key -> flow` unconditionally. An entry for the same key is
    /// updated in place; otherwise an empty position is used, or one of the
    /// two is overwritten (chosen by a hash bit, so stable per key).
    pub fn insert(&mut self, key: &FlowKey, hash: u32, flow: FlowRef) {
        let [a, b] = self.positions(hash);
        let mut victim = None;
        for pos in [a, b] {
            let e = &self.entries[pos];
            match e.flow {
                Some(_) if e.hash == hash && same_key(&e.key, &key.words) => {
                    victim = Some(pos);
                    break;
                }
                None if victim.is_none() => victim = Some(pos),
                _ => {}
            }
        }
        let pos = victim.unwrap_or(if hash & (1 << 31) == 0 { a } else { b });
        self.entries[pos] = Entry {
            hash,
            flow: Some(flow),
            key: key.words,
        };
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
        self.entries.iter().filter(|e| e.flow.is_some()).count()
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
