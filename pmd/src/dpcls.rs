//! The megaflow classifier (dpcls): tuple space search over datapath flows.
//!
//! Vocabulary: a *megaflow* is a datapath flow with a mask; a *subtable*
//! holds every megaflow of one in_port that has one particular mask, as a
//! hash table from masked key to [`FlowRef`]. Looking a packet up means
//! probing, for its in_port, each subtable in turn (mask the key, hash,
//! compare) until one hits. Because datapath flows never overlap (the
//! client guarantees it), the first hit is the answer and no priorities
//! exist.
//!
//! Cost model, per packet per subtable probed: the subtable keeps the
//! indices of the words its mask touches, so masking and hashing read only
//! those words (2-4 of the 19 for typical L2/L3/L4 masks), then one slot
//! load in an open-addressing table at load factor <= 1/2, which is ~1 probe
//! on average, and a compare of the same few words kept inline in a flat
//! array (no pointer chase to the flow). Subtables are ordered by hit count
//! so the hot ones come first; the order is refreshed every
//! [`RERANK_INTERVAL`] batches, never per packet.
//!
//! Who calls it: the PMD thread that owns it, through [`crate::flow::FlowTable`],
//! which keeps it in step with the flow slab (insert on put, remove on del).
//! Lookups never allocate; inserts and removes (control commands) may.
//!
//! Invariants: every slot array has a power-of-two length with at least one
//! empty slot (load <= 1/2), so probing terminates; a (port, mask, masked
//! key) triple is present at most once; empty subtables and ports are
//! removed, so the subtable count is `n_masks`.

use crate::emc::prefetch_read;
use crate::flow::FlowRef;
use crate::key::{FlowKey, FlowMask, KEY_WORDS};

/// Most keys a single [`Dpcls::lookup_batch_subset`] call handles (one rx
/// burst); the selection is a `u32` bitmap.
pub const MAX_BATCH: usize = 32;

/// Number of batch lookups between two re-rankings of the subtables.
pub const RERANK_INTERVAL: u32 = 1024;

/// Smallest slot array of a subtable.
const MIN_SLOTS: usize = 8;

/// The classifier of one PMD: per in_port, the subtables of its megaflows.
#[derive(Default)]
pub struct Dpcls {
    /// Sorted by port number (binary search; a PMD polls few ports).
    ports: Vec<PortClassifier>,
    /// Batches since the last re-ranking.
    batches: u32,
    /// Megaflows stored, over all ports.
    len: usize,
}

struct PortClassifier {
    port: u32,
    /// Ordered by recent hit count, most hit first.
    subtables: Vec<Subtable>,
    /// The port's only megaflow when it matches every packet the port
    /// receives (see [`Dpcls::simple_match`]); refreshed on every insert
    /// and remove on the port.
    simple: Option<FlowRef>,
}

impl PortClassifier {
    /// Recomputes `simple`: one subtable holding one megaflow whose mask
    /// touches only word 0 (in_port and recirc_id) and whose recirc_id is
    /// 0, so it matches every packet received on the port (received
    /// packets have recirc_id 0). Costs a scan of that subtable's slots
    /// (few: it holds one flow), only on flow changes.
    fn refresh_simple(&mut self) {
        self.simple = match self.subtables.as_slice() {
            [s] if s.len == 1 && s.n_words == 1 && s.words[0] == 0 => s
                .slots
                .iter()
                .zip(&s.keys)
                .find_map(|(slot, &k)| slot.flow.filter(|_| k >> 32 == 0)),
            _ => None,
        };
    }
}

#[derive(Clone, Copy)]
struct Slot {
    hash: u32,
    /// `None` marks an empty slot.
    flow: Option<FlowRef>,
}

const EMPTY: Slot = Slot {
    hash: 0,
    flow: None,
};

/// All megaflows of one port with one mask.
struct Subtable {
    mask: FlowMask,
    /// How many key words the mask touches.
    n_words: usize,
    /// Indices of those words, ascending (first `n_words` valid). Inline
    /// arrays, not boxes: the lookup reads them with no pointer chase.
    words: [u8; KEY_WORDS],
    /// The mask's value at each of those words.
    mask_words: [u64; KEY_WORDS],
    /// Hits since the last re-ranking.
    hits: u64,
    slots: Vec<Slot>,
    /// The compact masked key of slot `i` at `keys[i * n .. (i + 1) * n]`,
    /// where `n = n_words`.
    keys: Vec<u64>,
    len: usize,
}

/// Folds one word into a running hash lane (FxHash-style: rotate, xor,
/// multiply by an odd constant). Private to the classifier: insert and
/// lookup use the same function, and it reads only the words the mask
/// touches, which is cheaper than `FlowKey::hash_masked` over all words.
#[inline(always)]
fn mix(h: u64, w: u64) -> u64 {
    (h.rotate_left(26) ^ w).wrapping_mul(0x517c_c1b7_2722_0a95)
}

/// Joins the two lanes and avalanches, so the low bits used as the slot
/// index depend on every input bit.
#[inline(always)]
fn finish(a: u64, b: u64) -> u32 {
    let mut h = a ^ b.rotate_left(32);
    h ^= h >> 32;
    h = h.wrapping_mul(0xd6e8_feb8_6659_fd93);
    h ^= h >> 32;
    h as u32
}

/// Seeds of the two hash lanes (arbitrary, distinct).
const LANE_A: u64 = 0x243f_6a88_85a3_08d3;
const LANE_B: u64 = 0x1319_8a2e_0370_7344;

impl Subtable {
    fn new(mask: &FlowMask) -> Subtable {
        let mut words = [0u8; KEY_WORDS];
        let mut mask_words = [0u64; KEY_WORDS];
        let mut n_words = 0;
        for (i, &m) in mask.words.iter().enumerate() {
            if m != 0 {
                // KEY_WORDS is far below 256.
                words[n_words] = i as u8;
                mask_words[n_words] = m;
                n_words += 1;
            }
        }
        Subtable {
            mask: *mask,
            n_words,
            words,
            mask_words,
            hits: 0,
            slots: vec![EMPTY; MIN_SLOTS],
            keys: vec![0; MIN_SLOTS * n_words],
            len: 0,
        }
    }

    /// The masked words of `key` this subtable looks at, in order.
    #[inline(always)]
    fn masked_words<'a>(&'a self, key: &'a FlowKey) -> impl Iterator<Item = u64> + 'a {
        let n = self.n_words;
        self.words[..n]
            .iter()
            .zip(&self.mask_words[..n])
            .map(move |(&w, &m)| key.words[usize::from(w)] & m)
    }

    /// Hashes the masked words of `key`: two independent lanes (even and
    /// odd words) so the multiplies overlap instead of forming one chain.
    #[inline(always)]
    fn hash(&self, key: &FlowKey) -> u32 {
        let (mut a, mut b) = (LANE_A, LANE_B);
        let mut words = self.masked_words(key);
        while let Some(x) = words.next() {
            a = mix(a, x);
            match words.next() {
                Some(y) => b = mix(b, y),
                None => break,
            }
        }
        finish(a, b)
    }

    /// True if slot `pos` holds the masked words of `key`. XOR-accumulates
    /// instead of calling `memcmp` for a handful of words.
    #[inline(always)]
    fn slot_matches(&self, pos: usize, key: &FlowKey) -> bool {
        let n = self.n_words;
        let stored = &self.keys[pos * n..pos * n + n];
        let mut diff = 0u64;
        for (s, k) in stored.iter().zip(self.masked_words(key)) {
            diff |= s ^ k;
        }
        diff == 0
    }

    /// The slot holding the masked `key` whose subtable hash is `hash`.
    #[inline(always)]
    fn find_slot(&self, hash: u32, key: &FlowKey) -> Option<usize> {
        let bucket_mask = self.slots.len() - 1;
        let mut pos = hash as usize & bucket_mask;
        loop {
            let slot = self.slots[pos];
            slot.flow?;
            if slot.hash == hash && self.slot_matches(pos, key) {
                return Some(pos);
            }
            pos = (pos + 1) & bucket_mask;
        }
    }

    /// Starts loading the slot and the stored key that a probe for
    /// `hash` reads first.
    #[inline(always)]
    fn prefetch(&self, hash: u32) {
        let pos = hash as usize & (self.slots.len() - 1);
        prefetch_read(&self.slots[pos] as *const Slot as *const u8);
        prefetch_read(self.keys.as_ptr().wrapping_add(pos * self.n_words) as *const u8);
    }

    #[inline(always)]
    fn lookup(&self, key: &FlowKey) -> Option<FlowRef> {
        let pos = self.find_slot(self.hash(key), key)?;
        self.slots[pos].flow
    }

    /// Inserts or replaces; returns the replaced handle.
    fn insert(&mut self, key: &FlowKey, flow: FlowRef) -> Option<FlowRef> {
        let hash = self.hash(key);
        if let Some(pos) = self.find_slot(hash, key) {
            return self.slots[pos].flow.replace(flow);
        }
        if (self.len + 1) * 2 > self.slots.len() {
            self.resize(self.slots.len() * 2);
        }
        let mut buf = [0u64; KEY_WORDS];
        for (b, w) in buf.iter_mut().zip(self.masked_words(key)) {
            *b = w;
        }
        self.place(hash, &buf[..self.n_words], flow);
        self.len += 1;
        None
    }

    /// Puts an entry known to be absent into the first empty slot.
    fn place(&mut self, hash: u32, ck: &[u64], flow: FlowRef) {
        let n = ck.len();
        let bucket_mask = self.slots.len() - 1;
        let mut pos = hash as usize & bucket_mask;
        while self.slots[pos].flow.is_some() {
            pos = (pos + 1) & bucket_mask;
        }
        self.slots[pos] = Slot {
            hash,
            flow: Some(flow),
        };
        self.keys[pos * n..pos * n + n].copy_from_slice(ck);
    }

    fn resize(&mut self, new_len: usize) {
        let n = self.n_words;
        let old_slots = std::mem::replace(&mut self.slots, vec![EMPTY; new_len]);
        let old_keys = std::mem::replace(&mut self.keys, vec![0; new_len * n]);
        for (i, slot) in old_slots.iter().enumerate() {
            if let Some(flow) = slot.flow {
                self.place(slot.hash, &old_keys[i * n..i * n + n], flow);
            }
        }
    }

    /// Removes the entry for `key`; returns its handle. Uses backward-shift
    /// deletion so no tombstones accumulate and lookups stay ~1 probe.
    fn remove(&mut self, key: &FlowKey) -> Option<FlowRef> {
        let n = self.n_words;
        let mut hole = self.find_slot(self.hash(key), key)?;
        let removed = self.slots[hole].flow;
        let bucket_mask = self.slots.len() - 1;
        let mut next = (hole + 1) & bucket_mask;
        while self.slots[next].flow.is_some() {
            let home = self.slots[next].hash as usize & bucket_mask;
            // Move `next` into the hole unless its home lies cyclically in
            // (hole, next], where it would then become unreachable.
            let dist_home = next.wrapping_sub(home) & bucket_mask;
            let dist_hole = next.wrapping_sub(hole) & bucket_mask;
            if dist_home >= dist_hole {
                self.slots[hole] = self.slots[next];
                self.keys.copy_within(next * n..next * n + n, hole * n);
                hole = next;
            }
            next = (next + 1) & bucket_mask;
        }
        self.slots[hole] = EMPTY;
        self.len -= 1;
        removed
    }
}

impl Dpcls {
    /// An empty classifier.
    pub fn new() -> Dpcls {
        Dpcls::default()
    }

    /// Megaflows stored.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True if no megaflow is stored.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of subtables over all ports (dpif `n_masks`).
    pub fn n_subtables(&self) -> usize {
        self.ports.iter().map(|p| p.subtables.len()).sum()
    }

    /// The masks of `port`'s subtables in probe order (for diagnostics and
    /// tests of the ranking).
    pub fn subtable_masks(&self, port: u32) -> Vec<FlowMask> {
        self.port(port)
            .map(|p| p.subtables.iter().map(|s| s.mask).collect())
            .unwrap_or_default()
    }

    fn port(&self, port: u32) -> Option<&PortClassifier> {
        let i = self.ports.binary_search_by_key(&port, |p| p.port).ok()?;
        Some(&self.ports[i])
    }

    /// Adds megaflow `(key & mask, mask)` on port `key.in_port()` (the
    /// mask must make in_port exact; [`crate::flow::FlowTable`] ensures
    /// it). Replaces and returns an existing handle for the same triple.
    pub fn insert(&mut self, key: &FlowKey, mask: &FlowMask, flow: FlowRef) -> Option<FlowRef> {
        let port = key.in_port() & mask.in_port();
        let pi = match self.ports.binary_search_by_key(&port, |p| p.port) {
            Ok(i) => i,
            Err(i) => {
                self.ports.insert(
                    i,
                    PortClassifier {
                        port,
                        subtables: Vec::new(),
                        simple: None,
                    },
                );
                i
            }
        };
        let subtables = &mut self.ports[pi].subtables;
        let si = match subtables.iter().position(|s| s.mask == *mask) {
            Some(i) => i,
            None => {
                // New masks go last: they have no hits yet.
                subtables.push(Subtable::new(mask));
                subtables.len() - 1
            }
        };
        let old = subtables[si].insert(key, flow);
        if old.is_none() {
            self.len += 1;
        }
        self.ports[pi].refresh_simple();
        old
    }

    /// Removes megaflow `(key & mask, mask)`; returns its handle.
    pub fn remove(&mut self, key: &FlowKey, mask: &FlowMask) -> Option<FlowRef> {
        let port = key.in_port() & mask.in_port();
        let pi = self.ports.binary_search_by_key(&port, |p| p.port).ok()?;
        let subtables = &mut self.ports[pi].subtables;
        let si = subtables.iter().position(|s| s.mask == *mask)?;
        let old = subtables[si].remove(key)?;
        self.len -= 1;
        if subtables[si].len == 0 {
            subtables.remove(si);
            if subtables.is_empty() {
                self.ports.remove(pi);
                return Some(old);
            }
        }
        self.ports[pi].refresh_simple();
        Some(old)
    }

    /// The megaflow whose mask equals `mask` and whose masked key equals
    /// `key & mask` (identity lookup, not packet lookup).
    pub fn find_exact(&self, key: &FlowKey, mask: &FlowMask) -> Option<FlowRef> {
        let port = key.in_port() & mask.in_port();
        let p = self.port(port)?;
        p.subtables.iter().find(|s| s.mask == *mask)?.lookup(key)
    }

    /// The megaflow that every packet received on `port` hits, if the port
    /// has exactly one megaflow and it matches only `in_port` (and
    /// `recirc_id(0)`): the port-to-port case, where the PMD can skip
    /// parsing and lookup for the whole burst. Only for packets fresh from
    /// the port (recirculated ones carry another recirc_id).
    #[inline]
    pub fn simple_match(&self, port: u32) -> Option<FlowRef> {
        self.port(port)?.simple
    }

    /// Packet lookup of one key; no statistics are updated.
    pub fn lookup_one(&self, key: &FlowKey) -> Option<FlowRef> {
        let p = self.port(key.in_port())?;
        p.subtables.iter().find_map(|s| s.lookup(key))
    }

    /// Removes every megaflow.
    pub fn clear(&mut self) {
        self.ports.clear();
        self.len = 0;
    }

    /// Packet lookup of a whole burst: `out[i]` gets the megaflow matching
    /// `keys[i]`, or `None`. Returns the number of subtables probed summed
    /// over the keys that hit (dpif `n_mask_hit`; misses are not counted).
    /// `keys` and `out` must have the same length; any length is accepted,
    /// handled in chunks of [`MAX_BATCH`]. Never allocates.
    pub fn lookup_batch(&mut self, keys: &[FlowKey], out: &mut [Option<FlowRef>]) -> u32 {
        let n = keys.len().min(out.len());
        let mut probes = 0;
        let mut start = 0;
        while start < n {
            let end = (start + MAX_BATCH).min(n);
            let select = if end - start == MAX_BATCH {
                u32::MAX
            } else {
                (1u32 << (end - start)) - 1
            };
            probes += self.lookup_batch_subset(&keys[start..end], select, &mut out[start..end]);
            start = end;
        }
        probes
    }

    /// Like [`Dpcls::lookup_batch`], but only for the keys whose bit is set
    /// in `select` (bit `i` = `keys[i]`; e.g. the EMC misses of a burst).
    /// Entries of `out` that are not selected are left untouched. Keys
    /// beyond [`MAX_BATCH`] or beyond `out` are ignored.
    pub fn lookup_batch_subset(
        &mut self,
        keys: &[FlowKey],
        select: u32,
        out: &mut [Option<FlowRef>],
    ) -> u32 {
        let n = keys.len().min(out.len()).min(MAX_BATCH);
        let valid = if n == MAX_BATCH {
            u32::MAX
        } else {
            (1u32 << n) - 1
        };
        let mut todo = select & valid;
        let mut probes = 0u32;
        while todo != 0 {
            // Gather the selected keys sharing the first one's in_port; an
            // rx burst is normally from a single port, so this runs once.
            let port = keys[todo.trailing_zeros() as usize].in_port();
            let mut group = 0u32;
            let mut bits = todo;
            while bits != 0 {
                let i = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                if keys[i].in_port() == port {
                    group |= 1 << i;
                    out[i] = None;
                }
            }
            todo &= !group;
            let Ok(pi) = self.ports.binary_search_by_key(&port, |p| p.port) else {
                continue;
            };
            let mut hashes = [0u32; MAX_BATCH];
            for (rank, sub) in self.ports[pi].subtables.iter_mut().enumerate() {
                // Hash the group's keys and start loading their slots,
                // then probe: with a large subtable each probe is a cache
                // miss or two, and this way a burst's misses overlap.
                let mut bits = group;
                while bits != 0 {
                    let i = bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    hashes[i] = sub.hash(&keys[i]);
                    sub.prefetch(hashes[i]);
                }
                let mut bits = group;
                while bits != 0 {
                    let i = bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    let found = sub.find_slot(hashes[i], &keys[i]);
                    if let Some(flow) = found.and_then(|pos| sub.slots[pos].flow) {
                        out[i] = Some(flow);
                        group &= !(1 << i);
                        sub.hits += 1;
                        probes += rank as u32 + 1;
                    }
                }
                if group == 0 {
                    break;
                }
            }
        }
        self.batches += 1;
        if self.batches >= RERANK_INTERVAL {
            self.rerank();
        }
        probes
    }

    /// Re-orders every port's subtables by hits since the last re-ranking
    /// (most first) and restarts the counts. Called automatically every
    /// [`RERANK_INTERVAL`] batches; callable directly (e.g. from a timer).
    /// Sorts in place without allocating.
    pub fn rerank(&mut self) {
        self.batches = 0;
        for p in &mut self.ports {
            p.subtables
                .sort_unstable_by_key(|s| std::cmp::Reverse(s.hits));
            for s in &mut p.subtables {
                s.hits = 0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::{FlowTable, PutFlags};
    use crate::key::FieldId;
    use std::net::Ipv4Addr;

    fn flow_refs(n: usize) -> Vec<FlowRef> {
        // Real handles come from a FlowTable; make distinct ones there.
        let mut t = FlowTable::new(n);
        (0..n)
            .map(|i| {
                let mut k = FlowKey::default();
                k.set_in_port(1000);
                k.set_tp_src(i as u16);
                let mut m = FlowMask::default();
                m.set_exact(FieldId::TpSrc);
                t.put(None, &k, &m, Vec::new().into(), PutFlags::CREATE)
                    .map(|o| o.flow)
                    .unwrap()
            })
            .collect()
    }

    fn key(port: u32, dst: [u8; 4], sport: u16) -> FlowKey {
        let mut k = FlowKey::default();
        k.set_in_port(port);
        k.set_eth_type(0x0800);
        k.set_ip_proto(17);
        k.set_ipv4_dst(Ipv4Addr::from(dst));
        k.set_tp_src(sport);
        k
    }

    fn mask_dst(prefix: u32) -> FlowMask {
        let mut m = FlowMask::default();
        m.set_exact(FieldId::InPort);
        m.set_exact(FieldId::EthType);
        m.set_ipv4_dst(Ipv4Addr::from(
            u32::MAX.checked_shl(32 - prefix).unwrap_or(0),
        ));
        m
    }

    #[test]
    fn insert_lookup_remove_by_port_and_mask() {
        let r = flow_refs(3);
        let mut c = Dpcls::new();
        assert_eq!(
            c.insert(&key(1, [10, 0, 0, 0], 0), &mask_dst(8), r[0]),
            None
        );
        assert_eq!(
            c.insert(&key(1, [192, 168, 1, 0], 0), &mask_dst(24), r[1]),
            None
        );
        assert_eq!(
            c.insert(&key(2, [10, 0, 0, 0], 0), &mask_dst(8), r[2]),
            None
        );
        assert_eq!((c.len(), c.n_subtables()), (3, 3));

        assert_eq!(c.lookup_one(&key(1, [10, 9, 8, 7], 5)), Some(r[0]));
        assert_eq!(c.lookup_one(&key(1, [192, 168, 1, 77], 5)), Some(r[1]));
        assert_eq!(c.lookup_one(&key(1, [192, 168, 2, 77], 5)), None);
        assert_eq!(c.lookup_one(&key(2, [10, 1, 1, 1], 5)), Some(r[2]));
        assert_eq!(c.lookup_one(&key(3, [10, 1, 1, 1], 5)), None);
        assert_eq!(
            c.find_exact(&key(1, [10, 0, 0, 0], 0), &mask_dst(8)),
            Some(r[0])
        );
        assert_eq!(c.find_exact(&key(1, [10, 0, 0, 0], 0), &mask_dst(16)), None);

        assert_eq!(
            c.remove(&key(1, [10, 0, 0, 0], 0), &mask_dst(8)),
            Some(r[0])
        );
        assert_eq!(c.remove(&key(1, [10, 0, 0, 0], 0), &mask_dst(8)), None);
        assert_eq!(c.lookup_one(&key(1, [10, 9, 8, 7], 5)), None);
        assert_eq!((c.len(), c.n_subtables()), (2, 2));
    }

    #[test]
    fn grows_and_shrinks_with_many_entries() {
        let r = flow_refs(1);
        let mut c = Dpcls::new();
        let mut m = mask_dst(32);
        m.set_exact(FieldId::TpSrc);
        for i in 0..5000u16 {
            c.insert(&key(1, [10, 0, (i >> 8) as u8, i as u8], i), &m, r[0]);
        }
        assert_eq!((c.len(), c.n_subtables()), (5000, 1));
        // Remove the even ones; every odd one must still be found (this
        // exercises backward-shift deletion across probe chains).
        for i in (0..5000u16).step_by(2) {
            assert!(c
                .remove(&key(1, [10, 0, (i >> 8) as u8, i as u8], i), &m)
                .is_some());
        }
        for i in 0..5000u16 {
            let found = c.lookup_one(&key(1, [10, 0, (i >> 8) as u8, i as u8], i));
            assert_eq!(found.is_some(), i % 2 == 1, "entry {i}");
        }
        assert_eq!(c.len(), 2500);
    }

    #[test]
    fn batch_counts_probes_and_rerank_orders_by_hits() {
        let r = flow_refs(2);
        let mut c = Dpcls::new();
        c.insert(&key(1, [10, 0, 0, 0], 0), &mask_dst(8), r[0]);
        c.insert(&key(1, [192, 168, 1, 0], 0), &mask_dst(24), r[1]);
        assert_eq!(c.subtable_masks(1), vec![mask_dst(8), mask_dst(24)]);

        let keys = [
            key(1, [192, 168, 1, 1], 1),
            key(1, [192, 168, 1, 2], 2),
            key(1, [10, 0, 0, 1], 3),
            key(1, [11, 0, 0, 1], 4),
        ];
        let mut out = [None; 4];
        // /8 is probed first: the /24 hits cost 2 probes each, the /8 hit 1,
        // the miss is not counted.
        assert_eq!(c.lookup_batch(&keys, &mut out), 2 + 2 + 1);
        assert_eq!(out, [Some(r[1]), Some(r[1]), Some(r[0]), None]);

        c.rerank();
        assert_eq!(c.subtable_masks(1), vec![mask_dst(24), mask_dst(8)]);
        assert_eq!(c.lookup_batch(&keys, &mut out), 1 + 1 + 2);

        // A subset lookup leaves unselected outputs alone.
        let mut out = [Some(r[0]); 4];
        c.lookup_batch_subset(&keys, 0b0010, &mut out);
        assert_eq!(out, [Some(r[0]), Some(r[1]), Some(r[0]), Some(r[0])]);
    }

    #[test]
    fn batch_mixes_ports_and_long_inputs() {
        let r = flow_refs(2);
        let mut c = Dpcls::new();
        c.insert(&key(1, [10, 0, 0, 0], 0), &mask_dst(8), r[0]);
        c.insert(&key(2, [10, 0, 0, 0], 0), &mask_dst(8), r[1]);
        let keys: Vec<FlowKey> = (0..70).map(|i| key(i % 3, [10, 1, 2, 3], 0)).collect();
        let mut out = vec![None; 70];
        let probes = c.lookup_batch(&keys, &mut out);
        for (i, o) in out.iter().enumerate() {
            let want = match i % 3 {
                1 => Some(r[0]),
                2 => Some(r[1]),
                _ => None,
            };
            assert_eq!(*o, want, "key {i}");
        }
        assert_eq!(probes as usize, out.iter().filter(|o| o.is_some()).count());
    }

    /// The fields the property test plays with, few values each so that
    /// random packets often hit.
    fn prop_key(port: u32, dst: u8, proto: u8, tp: u16, noise: u64) -> FlowKey {
        let mut k = FlowKey::default();
        k.set_in_port(port);
        k.set_eth_type(0x0800);
        k.set_ip_proto(proto);
        k.set_ipv4_dst(Ipv4Addr::new(10, dst >> 4, dst & 15, 1));
        k.set_tp_dst(tp);
        // Bits no test mask looks at: must never influence the result.
        k.set_dp_hash(noise as u32);
        k.set_ipv4_src(Ipv4Addr::from((noise >> 32) as u32));
        k
    }

    fn prop_mask(shape: u8) -> FlowMask {
        let mut m = FlowMask::default();
        m.set_exact(FieldId::InPort);
        m.set_exact(FieldId::EthType);
        match shape % 5 {
            0 => {}
            1 => m.set_ipv4_dst(Ipv4Addr::new(255, 240, 0, 0)),
            2 => m.set_ipv4_dst(Ipv4Addr::new(255, 255, 255, 0)),
            3 => {
                m.set_ipv4_dst(Ipv4Addr::new(255, 255, 255, 0));
                m.set_exact(FieldId::IpProto);
                m.set_exact(FieldId::TpDst);
            }
            _ => {
                m.set_exact(FieldId::IpProto);
                m.set_tp_dst(0xfff0);
            }
        }
        m
    }

    type FlowSpec = (u32, u8, u8, u16, u8);
    type PacketSpec = (u32, u8, u8, u16, u64);

    fn flow_spec() -> impl proptest::strategy::Strategy<Value = FlowSpec> {
        (
            1u32..3,
            0u8..64,
            prop::sample::select(vec![6u8, 17]),
            0u16..40,
            0u8..5,
        )
    }

    fn packet_spec() -> impl proptest::strategy::Strategy<Value = PacketSpec> {
        (
            1u32..4,
            0u8..64,
            prop::sample::select(vec![6u8, 17, 1]),
            0u16..40,
            any::<u64>(),
        )
    }

    /// Linear scan with masked equality over the live flows: the reference.
    fn scan(t: &FlowTable, k: &FlowKey) -> Option<FlowRef> {
        let hits: Vec<FlowRef> = t
            .iter()
            .filter(|(_, f)| crate::key::masked_eq(k, &f.key, &f.mask))
            .map(|(r, _)| r)
            .collect();
        assert!(hits.len() <= 1, "installed flows overlap");
        hits.first().copied()
    }

    /// The PMD's lookup order: EMC, then a batched megaflow lookup of the
    /// EMC misses, inserting the megaflow hits into the EMC.
    fn pmd_lookup(t: &mut FlowTable, emc: &mut Emc, keys: &[FlowKey]) -> Vec<Option<FlowRef>> {
        let mut out = vec![None; keys.len()];
        let mut misses = 0u32;
        for (i, k) in keys.iter().enumerate() {
            out[i] = emc.lookup(k, k.hash(), t);
            if out[i].is_none() {
                misses |= 1 << i;
            }
        }
        t.lookup_batch_subset(keys, misses, &mut out);
        for (i, k) in keys.iter().enumerate() {
            if let (true, Some(r)) = (misses & (1 << i) != 0, out[i]) {
                emc.maybe_insert(k, k.hash(), r);
            }
        }
        out
    }

    use crate::emc::Emc;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]

        #[test]
        fn emc_and_dpcls_agree_with_linear_scan(
            flows in prop::collection::vec(flow_spec(), 1..40),
            packets in prop::collection::vec(packet_spec(), 1..32),
            deletes in prop::collection::vec(any::<bool>(), 40),
            readds in prop::collection::vec(flow_spec(), 0..20),
            inv_prob in prop::sample::select(vec![1u32, 2, 100]),
        ) {
            let mut t = FlowTable::default();
            // A small EMC so that entries collide and get replaced too.
            let mut emc = Emc::new(16, inv_prob);
            let add = |t: &mut FlowTable, specs: &[FlowSpec]| {
                for &(port, dst, proto, tp, shape) in specs {
                    let k = prop_key(port, dst, proto, tp, 0);
                    let m = prop_mask(shape);
                    // Keep the set non-overlapping: skip any flow that some
                    // installed flow's packets could also match.
                    let clash = t.iter().any(|(_, f)| {
                        crate::key::masked_eq(&k, &f.key, &f.mask.and(&m))
                    });
                    if !clash {
                        let r = t.put(None, &k, &m, Vec::new().into(), PutFlags::CREATE);
                        prop_assert!(r.is_ok(), "{:?}", r);
                    }
                }
                Ok(())
            };
            add(&mut t, &flows)?;
            let keys: Vec<FlowKey> = packets
                .iter()
                .map(|&(p, d, pr, tp, n)| prop_key(p, d, pr, tp, n))
                .collect();

            // Twice, so that the second round is served from the EMC.
            for _ in 0..2 {
                let got = pmd_lookup(&mut t, &mut emc, &keys);
                for (k, g) in keys.iter().zip(&got) {
                    prop_assert_eq!(*g, scan(&t, k));
                }
            }

            let live: Vec<FlowRef> = t.iter().map(|(r, _)| r).collect();
            for (r, del) in live.iter().zip(&deletes) {
                if *del {
                    prop_assert!(t.remove(*r).is_ok());
                }
            }
            // New flows may reuse the freed slots with new generations.
            add(&mut t, &readds)?;
            for _ in 0..2 {
                let got = pmd_lookup(&mut t, &mut emc, &keys);
                for (k, g) in keys.iter().zip(&got) {
                    let want = scan(&t, k);
                    prop_assert_eq!(*g, want);
                    if let Some(r) = g {
                        prop_assert!(t.is_live(*r));
                    }
                }
            }
            prop_assert_eq!(t.dpcls().len(), t.len());
        }
    }
}
