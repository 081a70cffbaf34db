//! Datapath flows (megaflows) and the per-PMD flow table.
//!
//! A *datapath flow* is a masked key, its mask, a list of datapath actions
//! (empty = drop) and hit statistics. It is identified by its *masked key and
//! mask* together; a 128-bit *ufid* names it for the control side (given by
//! the client, or derived from key and mask when absent).
//!
//! The [`FlowTable`] belongs to one PMD thread, like everything it touches:
//! no locks, no atomics. It stores flows in a slab addressed by [`FlowRef`]
//! (slot index + generation). Caches (the EMC) keep `FlowRef`s; deleting a
//! flow bumps its slot's generation, so a stale handle is detected with one
//! compare ([`FlowTable::is_live`]) and never reaches a retired flow's
//! actions. The table also owns the megaflow classifier ([`Dpcls`]) so that
//! every put/del updates both in one place and they can never disagree.
//!
//! Who calls it: the PMD loop for lookups and stat updates (hot path:
//! [`FlowTable::lookup_batch`], [`FlowTable::flow`], [`FlowTable::record_hit`]),
//! and the command handler the PMD runs between bursts for put/del/get/dump
//! /flush on behalf of the control lcore (control path, may allocate).
//!
//! Put semantics follow the dpif contract (seed 003): the new key is first
//! looked up by identity (same masked key and mask); if absent, it is looked
//! up *as if it were a packet*, and a different flow that matches it is an
//! overlap (`EEXIST` with CREATE, `EINVAL` without). `in_port` is always
//! forced to exact match, which is also what lets the classifier partition
//! by port. Invariants: the stored key is always masked by the stored mask;
//! every live flow is in the classifier exactly once and in the ufid index
//! exactly once; the number of live flows never exceeds the limit.

use std::collections::HashMap;
use std::sync::Arc;

use crate::actions::DpAction;
use crate::dpcls::Dpcls;
use crate::key::{FieldId, FlowKey, FlowMask};

/// Default maximum number of flows per PMD: the reference switch's
/// largest datapath flow limit, so the 100,000-megaflow benchmark fits.
pub const DEFAULT_FLOW_LIMIT: usize = 200_000;

/// A handle on a flow in a [`FlowTable`]: slot index plus the slot's
/// generation when the flow was created. Copy, 8 bytes; stays valid until
/// the flow is deleted, after which the table reports it as not live.
///
/// Generations are 32 bits per slot: a stale handle could only alias a new
/// flow after 2^32 delete/create cycles of the same slot while the handle
/// survived, which no cache does (EMC entries are overwritten long before).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct FlowRef {
    index: u32,
    generation: u32,
}

impl FlowRef {
    /// A handle no table ever issues (slot index `u32::MAX`, beyond any
    /// table), so it is never live: fills empty cache entries.
    pub(crate) const DANGLING: FlowRef = FlowRef {
        index: u32::MAX,
        generation: 0,
    };

    /// The slab slot this handle points at (for per-flow side arrays).
    #[inline]
    pub fn index(self) -> u32 {
        self.index
    }

    /// The slot generation this handle was issued for.
    #[inline]
    pub fn generation(self) -> u32 {
        self.generation
    }
}

/// Per-flow statistics, written only by the owning PMD.
#[derive(Clone, Copy, PartialEq, Eq, Default, Debug)]
pub struct FlowStats {
    /// Packets that hit the flow.
    pub packets: u64,
    /// Bytes of those packets (frame length as received).
    pub bytes: u64,
    /// Time of the last hit in milliseconds on the PMD's clock; 0 = never.
    pub used_ms: u64,
    /// OR of the TCP flags of the packets that hit the flow (0 for non-TCP).
    pub tcp_flags: u16,
}

impl FlowStats {
    /// Accounts a batch of `packets` packets totalling `bytes`, seen at
    /// `now_ms`, whose TCP flags OR to `tcp_flags`.
    #[inline]
    pub fn hit(&mut self, packets: u64, bytes: u64, tcp_flags: u16, now_ms: u64) {
        self.packets += packets;
        self.bytes += bytes;
        self.tcp_flags |= tcp_flags;
        self.used_ms = self.used_ms.max(now_ms);
    }
}

/// One datapath flow (megaflow).
#[derive(Clone, PartialEq, Debug)]
pub struct DpFlow {
    /// The flow's unique id, as given by the client or derived from key+mask.
    pub ufid: u128,
    /// The key, already masked by `mask`.
    pub key: FlowKey,
    /// Which key bits the flow matches on; `in_port` is always exact.
    pub mask: FlowMask,
    /// What to do with a matching packet; empty means drop. Shared so that
    /// `get`/`dump` hand out copies without cloning the list.
    pub actions: Arc<[DpAction]>,
    /// Hit statistics.
    pub stats: FlowStats,
}

/// Errors of flow-table operations, with their dpif errno.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
pub enum DpifError {
    /// A flow with the same key (or covering it) already exists (EEXIST).
    #[error("a flow with that key already exists")]
    Exists,
    /// No flow with that key exists (ENOENT).
    #[error("no flow with that key exists")]
    NotFound,
    /// The request is invalid, e.g. it overlaps a different flow (EINVAL).
    #[error("invalid flow request (the key overlaps a different flow)")]
    Invalid,
    /// The flow table is full (EFBIG).
    #[error("the flow table is full")]
    TooBig,
}

impl DpifError {
    /// The errno the dpif interface reports for this error.
    pub fn errno(self) -> i32 {
        match self {
            DpifError::Exists => libc::EEXIST,
            DpifError::NotFound => libc::ENOENT,
            DpifError::Invalid => libc::EINVAL,
            DpifError::TooBig => libc::EFBIG,
        }
    }
}

/// Flags of [`FlowTable::put`], as in `DPIF_FP_*`.
#[derive(Clone, Copy, PartialEq, Eq, Default, Debug)]
pub struct PutFlags {
    /// Create the flow if absent.
    pub create: bool,
    /// Replace the actions if the flow exists.
    pub modify: bool,
    /// With `modify`: reset the flow's statistics.
    pub zero_stats: bool,
}

impl PutFlags {
    /// Create only: an existing flow gives [`DpifError::Exists`].
    pub const CREATE: PutFlags = PutFlags {
        create: true,
        modify: false,
        zero_stats: false,
    };
    /// Modify only: a missing flow gives [`DpifError::NotFound`].
    pub const MODIFY: PutFlags = PutFlags {
        create: false,
        modify: true,
        zero_stats: false,
    };
    /// Create or modify.
    pub const CREATE_OR_MODIFY: PutFlags = PutFlags {
        create: true,
        modify: true,
        zero_stats: false,
    };

    /// The same flags with `zero_stats` set.
    pub const fn zero_stats(self) -> PutFlags {
        PutFlags {
            zero_stats: true,
            ..self
        }
    }
}

/// What a successful [`FlowTable::put`] did.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PutOutcome {
    /// The handle of the created or modified flow.
    pub flow: FlowRef,
    /// True if the flow was created, false if modified.
    pub created: bool,
    /// Zero for a create; the statistics before the change for a modify.
    pub stats: FlowStats,
}

/// Resumable position of a [`FlowTable::dump`].
#[derive(Clone, Copy, PartialEq, Eq, Default, Debug)]
pub struct DumpCursor(u32);

struct Slot {
    generation: u32,
    flow: Option<DpFlow>,
}

/// What the per-packet path reads of a slot, kept in an array of its own
/// beside `slots`: a `DpFlow` spans several cache lines (two 152-byte
/// keys), so checking a handle and finding a lone output port there costs
/// two or three cache misses per packet once flows outnumber the cache;
/// 100,000 of these take 1.2 MB instead of 45.
#[derive(Clone, Copy)]
struct Hot {
    /// Equal to the slot's generation.
    generation: u32,
    /// The slot holds a flow.
    live: bool,
    /// The output port when the actions are exactly one `Output`.
    lone_output: Option<u32>,
}

const DEAD: Hot = Hot {
    generation: 0,
    live: false,
    lone_output: None,
};

fn lone_output(actions: &[DpAction]) -> Option<u32> {
    match actions {
        [DpAction::Output(port)] => Some(*port),
        _ => None,
    }
}

/// The per-PMD table of datapath flows plus its megaflow classifier.
pub struct FlowTable {
    slots: Vec<Slot>,
    /// Parallel to `slots`.
    hot: Vec<Hot>,
    free: Vec<u32>,
    by_ufid: HashMap<u128, FlowRef>,
    cls: Dpcls,
    len: usize,
    limit: usize,
}

impl Default for FlowTable {
    fn default() -> Self {
        FlowTable::new(DEFAULT_FLOW_LIMIT)
    }
}

impl FlowTable {
    /// An empty table holding at most `limit` flows.
    pub fn new(limit: usize) -> FlowTable {
        FlowTable {
            slots: Vec::new(),
            hot: Vec::new(),
            free: Vec::new(),
            by_ufid: HashMap::new(),
            cls: Dpcls::new(),
            len: 0,
            limit,
        }
    }

    /// Number of live flows (`n_flows`).
    pub fn len(&self) -> usize {
        self.len
    }

    /// True if there are no flows.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The flow limit.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// The megaflow classifier (read-only: subtable count and ranking).
    pub fn dpcls(&self) -> &Dpcls {
        &self.cls
    }

    /// True if `r` still names a live flow (not deleted or flushed since
    /// the handle was issued). One bounds check and one compare.
    #[inline]
    pub fn is_live(&self, r: FlowRef) -> bool {
        match self.hot.get(r.index as usize) {
            Some(h) => h.generation == r.generation && h.live,
            None => false,
        }
    }

    /// For a live `r` whose actions are exactly one output, that port;
    /// `None` for any other flow or a retired handle. Reads only the
    /// compact per-slot array (see `Hot`), so the PMD's common case never
    /// touches the flow itself.
    #[inline]
    pub fn lone_output(&self, r: FlowRef) -> Option<u32> {
        match self.hot.get(r.index as usize) {
            Some(h) if h.generation == r.generation && h.live => h.lone_output,
            _ => None,
        }
    }

    /// Starts loading the statistics of the flow behind `r` (a hint; see
    /// [`FlowTable::record_hit`]), so a burst's hits on many flows overlap
    /// their cache misses.
    #[inline(always)]
    pub fn prefetch_stats(&self, r: FlowRef) {
        let i = (r.index as usize).min(self.slots.len().saturating_sub(1));
        if let Some(slot) = self.slots.get(i) {
            // Where the stats sit when the slot holds a flow; only an
            // address is formed, nothing is read.
            let base = slot as *const Slot as *const u8;
            let ofs = std::mem::offset_of!(Slot, flow) + std::mem::offset_of!(DpFlow, stats);
            crate::emc::prefetch_read(base.wrapping_add(ofs));
        }
    }

    /// The flow behind `r`, or `None` if it was retired.
    #[inline]
    pub fn flow(&self, r: FlowRef) -> Option<&DpFlow> {
        match self.slots.get(r.index as usize) {
            Some(s) if s.generation == r.generation => s.flow.as_ref(),
            _ => None,
        }
    }

    /// Accounts hits on `r` (see [`FlowStats::hit`]); a retired handle is
    /// ignored and reported as `false`.
    #[inline]
    pub fn record_hit(
        &mut self,
        r: FlowRef,
        packets: u64,
        bytes: u64,
        tcp_flags: u16,
        now_ms: u64,
    ) -> bool {
        match self.slots.get_mut(r.index as usize) {
            Some(Slot {
                generation,
                flow: Some(f),
            }) if *generation == r.generation => {
                f.stats.hit(packets, bytes, tcp_flags, now_ms);
                true
            }
            _ => false,
        }
    }

    /// Megaflow lookup of a burst; see [`Dpcls::lookup_batch`].
    #[inline]
    pub fn lookup_batch(&mut self, keys: &[FlowKey], out: &mut [Option<FlowRef>]) -> u32 {
        self.cls.lookup_batch(keys, out)
    }

    /// Megaflow lookup of the keys selected by bit `i` of `select`; see
    /// [`Dpcls::lookup_batch_subset`].
    #[inline]
    pub fn lookup_batch_subset(
        &mut self,
        keys: &[FlowKey],
        select: u32,
        out: &mut [Option<FlowRef>],
    ) -> u32 {
        self.cls.lookup_batch_subset(keys, select, out)
    }

    /// The flow every packet received on `port` hits, when the port's only
    /// flow matches just in_port; see [`Dpcls::simple_match`].
    #[inline]
    pub fn simple_match(&self, port: u32) -> Option<FlowRef> {
        self.cls.simple_match(port)
    }

    /// Megaflow lookup of one key (control path, tests).
    pub fn lookup(&self, key: &FlowKey) -> Option<FlowRef> {
        self.cls.lookup_one(key)
    }

    /// Creates or modifies the flow `(key & mask, mask)` per `flags`
    /// (dpif `flow_put`). `in_port` is forced exact in the mask. `ufid`
    /// names the flow; `None` derives one from key and mask. On modify the
    /// mask and ufid are kept, the actions replaced.
    pub fn put(
        &mut self,
        ufid: Option<u128>,
        key: &FlowKey,
        mask: &FlowMask,
        actions: Arc<[DpAction]>,
        flags: PutFlags,
    ) -> Result<PutOutcome, DpifError> {
        let mask = normalize_mask(mask);
        let key = key.masked(&mask);
        if let Some(r) = self.cls.find_exact(&key, &mask) {
            if !flags.modify {
                return Err(DpifError::Exists);
            }
            let out = lone_output(&actions);
            let flow = self.flow_mut(r).ok_or(DpifError::NotFound)?;
            let before = flow.stats;
            flow.actions = actions;
            if flags.zero_stats {
                flow.stats = FlowStats::default();
            }
            self.hot[r.index as usize].lone_output = out;
            return Ok(PutOutcome {
                flow: r,
                created: false,
                stats: before,
            });
        }
        if self.cls.lookup_one(&key).is_some() {
            return Err(if flags.create {
                DpifError::Exists
            } else {
                DpifError::Invalid
            });
        }
        if !flags.create {
            return Err(DpifError::NotFound);
        }
        if self.len >= self.limit {
            return Err(DpifError::TooBig);
        }
        let ufid = ufid.unwrap_or_else(|| derive_ufid(&key, &mask));
        if self.by_ufid.contains_key(&ufid) {
            return Err(DpifError::Exists);
        }
        let r = self.alloc(DpFlow {
            ufid,
            key,
            mask,
            actions,
            stats: FlowStats::default(),
        });
        self.cls.insert(&key, &mask, r);
        self.by_ufid.insert(ufid, r);
        Ok(PutOutcome {
            flow: r,
            created: true,
            stats: FlowStats::default(),
        })
    }

    /// The flow whose masked key and mask equal `key & mask` and `mask`
    /// (with `in_port` forced exact), as dpif `flow_get` identifies it.
    pub fn find(&self, key: &FlowKey, mask: &FlowMask) -> Option<FlowRef> {
        let mask = normalize_mask(mask);
        self.cls.find_exact(&key.masked(&mask), &mask)
    }

    /// The flow named `ufid`.
    pub fn find_ufid(&self, ufid: u128) -> Option<FlowRef> {
        self.by_ufid.get(&ufid).copied()
    }

    /// A copy of the flow identified by key and mask (dpif `flow_get`).
    pub fn get(&self, key: &FlowKey, mask: &FlowMask) -> Result<DpFlow, DpifError> {
        self.find(key, mask)
            .and_then(|r| self.flow(r))
            .cloned()
            .ok_or(DpifError::NotFound)
    }

    /// A copy of the flow named `ufid`.
    pub fn get_ufid(&self, ufid: u128) -> Result<DpFlow, DpifError> {
        self.find_ufid(ufid)
            .and_then(|r| self.flow(r))
            .cloned()
            .ok_or(DpifError::NotFound)
    }

    /// Deletes the flow identified by key and mask; returns it with its
    /// final statistics (dpif `flow_del`).
    pub fn del(&mut self, key: &FlowKey, mask: &FlowMask) -> Result<DpFlow, DpifError> {
        let r = self.find(key, mask).ok_or(DpifError::NotFound)?;
        self.remove(r)
    }

    /// Deletes the flow named `ufid`.
    pub fn del_ufid(&mut self, ufid: u128) -> Result<DpFlow, DpifError> {
        let r = self.find_ufid(ufid).ok_or(DpifError::NotFound)?;
        self.remove(r)
    }

    /// Deletes the flow behind `r` (e.g. idle expiry); every handle on it,
    /// including EMC entries, stops being live.
    pub fn remove(&mut self, r: FlowRef) -> Result<DpFlow, DpifError> {
        let slot = match self.slots.get_mut(r.index as usize) {
            Some(s) if s.generation == r.generation && s.flow.is_some() => s,
            _ => return Err(DpifError::NotFound),
        };
        let flow = slot.flow.take().ok_or(DpifError::NotFound)?;
        slot.generation = slot.generation.wrapping_add(1);
        self.hot[r.index as usize] = Hot {
            generation: slot.generation,
            ..DEAD
        };
        self.free.push(r.index);
        self.len -= 1;
        self.cls.remove(&flow.key, &flow.mask);
        self.by_ufid.remove(&flow.ufid);
        Ok(flow)
    }

    /// Deletes every flow (dpif `flow_flush`). All handles become stale.
    pub fn flush(&mut self) {
        for (i, slot) in self.slots.iter_mut().enumerate() {
            if slot.flow.take().is_some() {
                slot.generation = slot.generation.wrapping_add(1);
                self.hot[i] = Hot {
                    generation: slot.generation,
                    ..DEAD
                };
                // `i` fits: slots never exceed u32::MAX entries (see alloc).
                self.free.push(i as u32);
            }
        }
        self.len = 0;
        self.by_ufid.clear();
        self.cls.clear();
    }

    /// Every live flow with its handle, in slot order.
    pub fn iter(&self) -> impl Iterator<Item = (FlowRef, &DpFlow)> {
        self.slots.iter().enumerate().filter_map(|(i, s)| {
            s.flow.as_ref().map(|f| {
                (
                    FlowRef {
                        index: i as u32,
                        generation: s.generation,
                    },
                    f,
                )
            })
        })
    }

    /// Copies up to `max` flows starting at `cursor` into `out` (dpif
    /// `flow_dump_next` in chunks, so the PMD answers one command at a time).
    /// Returns the cursor to continue from, or `None` when the dump is done.
    /// Flows added or deleted between chunks may or may not appear; a flow
    /// present for the whole dump appears exactly once.
    pub fn dump(
        &self,
        cursor: DumpCursor,
        max: usize,
        out: &mut Vec<DpFlow>,
    ) -> Option<DumpCursor> {
        let mut i = cursor.0 as usize;
        let mut taken = 0;
        while i < self.slots.len() {
            if taken == max {
                return Some(DumpCursor(i as u32));
            }
            if let Some(f) = &self.slots[i].flow {
                out.push(f.clone());
                taken += 1;
            }
            i += 1;
        }
        None
    }

    fn flow_mut(&mut self, r: FlowRef) -> Option<&mut DpFlow> {
        match self.slots.get_mut(r.index as usize) {
            Some(s) if s.generation == r.generation => s.flow.as_mut(),
            _ => None,
        }
    }

    fn alloc(&mut self, flow: DpFlow) -> FlowRef {
        self.len += 1;
        let out = lone_output(&flow.actions);
        if let Some(index) = self.free.pop() {
            let slot = &mut self.slots[index as usize];
            slot.flow = Some(flow);
            self.hot[index as usize] = Hot {
                generation: slot.generation,
                live: true,
                lone_output: out,
            };
            return FlowRef {
                index,
                generation: slot.generation,
            };
        }
        // The limit is a usize chosen by the operator; slots stay below
        // u32::MAX because a FlowRef index is 32 bits.
        let index = self.slots.len() as u32;
        self.slots.push(Slot {
            generation: 0,
            flow: Some(flow),
        });
        self.hot.push(Hot {
            generation: 0,
            live: true,
            lone_output: out,
        });
        FlowRef {
            index,
            generation: 0,
        }
    }
}

/// The mask a flow is actually installed with: `in_port` exact (the
/// classifier partitions by port, and dpif forces it too).
fn normalize_mask(mask: &FlowMask) -> FlowMask {
    let mut m = *mask;
    m.set_exact(FieldId::InPort);
    m
}

/// A deterministic 128-bit id for a flow the client did not name:
/// two independent 64-bit hashes over masked key and mask.
pub fn derive_ufid(key: &FlowKey, mask: &FlowMask) -> u128 {
    let mut a: u64 = 0x243f_6a88_85a3_08d3;
    let mut b: u64 = 0x1319_8a2e_0370_7344;
    let words = key.words.iter().zip(mask.words.iter());
    for (i, (&k, &m)) in words.enumerate() {
        for w in [k & m, m] {
            a = (a ^ w).wrapping_mul(0x0000_0100_0000_01b3).rotate_left(29);
            b = (b.rotate_left(17) ^ w ^ i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }
    let fin = |mut h: u64| {
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    };
    ((fin(a) as u128) << 64) | fin(b) as u128
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn actions(n: usize) -> Arc<[DpAction]> {
        (0..n).map(|p| DpAction::Output(p as u32)).collect()
    }

    fn key(port: u32, dst: [u8; 4]) -> FlowKey {
        let mut k = FlowKey::default();
        k.set_in_port(port);
        k.set_eth_type(0x0800);
        k.set_ipv4_dst(Ipv4Addr::from(dst));
        k.set_tp_dst(53);
        k
    }

    fn mask(prefix: u32) -> FlowMask {
        let mut m = FlowMask::default();
        m.set_exact(FieldId::EthType);
        m.set_ipv4_dst(Ipv4Addr::from(
            u32::MAX.checked_shl(32 - prefix).unwrap_or(0),
        ));
        m
    }

    #[test]
    fn put_create_modify_semantics() {
        let mut t = FlowTable::default();
        let k = key(1, [10, 1, 2, 3]);
        let m = mask(8);

        assert_eq!(
            t.put(None, &k, &m, actions(1), PutFlags::MODIFY),
            Err(DpifError::NotFound)
        );
        let o = t.put(None, &k, &m, actions(1), PutFlags::CREATE).unwrap();
        assert!(o.created);
        assert_eq!(o.stats, FlowStats::default());
        let f = t.flow(o.flow).unwrap();
        // Stored masked, with in_port forced exact.
        assert_eq!(f.key.ipv4_dst(), Ipv4Addr::new(10, 0, 0, 0));
        assert_eq!(f.key.tp_dst(), 0);
        assert!(f.mask.is_exact(FieldId::InPort));
        assert_eq!(f.ufid, derive_ufid(&f.key, &f.mask));

        // Same identity, spelled with different wildcarded bits.
        let k2 = key(1, [10, 9, 9, 9]);
        assert_eq!(
            t.put(None, &k2, &m, actions(2), PutFlags::CREATE),
            Err(DpifError::Exists)
        );
        assert!(t.record_hit(o.flow, 3, 180, 0x12, 7));
        let o2 = t.put(None, &k2, &m, actions(2), PutFlags::MODIFY).unwrap();
        assert_eq!((o2.flow, o2.created), (o.flow, false));
        assert_eq!(
            o2.stats,
            FlowStats {
                packets: 3,
                bytes: 180,
                used_ms: 7,
                tcp_flags: 0x12
            }
        );
        assert_eq!(t.flow(o.flow).unwrap().actions, actions(2));
        assert_eq!(t.flow(o.flow).unwrap().stats.packets, 3);
        let o3 = t
            .put(
                None,
                &k,
                &m,
                actions(0),
                PutFlags::CREATE_OR_MODIFY.zero_stats(),
            )
            .unwrap();
        assert_eq!(o3.stats.packets, 3);
        assert_eq!(t.flow(o.flow).unwrap().stats, FlowStats::default());
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn put_detects_covered_keys() {
        let mut t = FlowTable::default();
        t.put(
            None,
            &key(1, [10, 0, 0, 0]),
            &mask(8),
            actions(1),
            PutFlags::CREATE,
        )
        .unwrap();
        // 10.1.0.0/16 is covered by 10.0.0.0/8: overlap.
        let k = key(1, [10, 1, 0, 0]);
        assert_eq!(
            t.put(None, &k, &mask(16), actions(1), PutFlags::CREATE),
            Err(DpifError::Exists)
        );
        assert_eq!(
            t.put(None, &k, &mask(16), actions(1), PutFlags::MODIFY),
            Err(DpifError::Invalid)
        );
        // The same prefix on another port is a different flow.
        assert!(t
            .put(
                None,
                &key(2, [10, 1, 0, 0]),
                &mask(16),
                actions(1),
                PutFlags::CREATE
            )
            .is_ok());
        // A ufid already in use is refused.
        t.put(
            Some(42),
            &key(3, [1, 0, 0, 0]),
            &mask(8),
            actions(1),
            PutFlags::CREATE,
        )
        .unwrap();
        assert_eq!(
            t.put(
                Some(42),
                &key(4, [1, 0, 0, 0]),
                &mask(8),
                actions(1),
                PutFlags::CREATE
            ),
            Err(DpifError::Exists)
        );
        assert_eq!(t.len(), 3);
        assert_eq!(DpifError::Exists.errno(), libc::EEXIST);
        assert_eq!(DpifError::NotFound.errno(), libc::ENOENT);
        assert_eq!(DpifError::Invalid.errno(), libc::EINVAL);
        assert_eq!(DpifError::TooBig.errno(), libc::EFBIG);
    }

    #[test]
    fn limit_gives_too_big() {
        let mut t = FlowTable::new(2);
        for i in 0..2u8 {
            t.put(
                None,
                &key(1, [i, 0, 0, 0]),
                &mask(8),
                actions(1),
                PutFlags::CREATE,
            )
            .unwrap();
        }
        assert_eq!(
            t.put(
                None,
                &key(1, [9, 0, 0, 0]),
                &mask(8),
                actions(1),
                PutFlags::CREATE
            ),
            Err(DpifError::TooBig)
        );
        // Modifying at the limit is still allowed.
        assert!(t
            .put(
                None,
                &key(1, [1, 0, 0, 0]),
                &mask(8),
                actions(3),
                PutFlags::MODIFY
            )
            .is_ok());
        t.del(&key(1, [0, 0, 0, 0]), &mask(8)).unwrap();
        assert!(t
            .put(
                None,
                &key(1, [9, 0, 0, 0]),
                &mask(8),
                actions(1),
                PutFlags::CREATE
            )
            .is_ok());
    }

    #[test]
    fn get_del_flush_and_stale_handles() {
        let mut t = FlowTable::default();
        let a = t
            .put(
                Some(7),
                &key(1, [10, 0, 0, 0]),
                &mask(8),
                actions(1),
                PutFlags::CREATE,
            )
            .unwrap()
            .flow;
        let b = t
            .put(
                None,
                &key(1, [11, 0, 0, 0]),
                &mask(8),
                actions(2),
                PutFlags::CREATE,
            )
            .unwrap()
            .flow;
        assert_eq!(t.get_ufid(7).unwrap().actions, actions(1));
        assert_eq!(
            t.get(&key(1, [11, 2, 3, 4]), &mask(8)).unwrap().actions,
            actions(2)
        );
        assert_eq!(
            t.get(&key(1, [11, 2, 3, 4]), &mask(16)),
            Err(DpifError::NotFound)
        );
        assert_eq!(t.lookup(&key(1, [10, 200, 0, 1])), Some(a));

        t.record_hit(a, 1, 60, 0, 5);
        let gone = t.del_ufid(7).unwrap();
        assert_eq!(gone.stats.packets, 1);
        assert!(!t.is_live(a));
        assert_eq!(t.flow(a), None);
        assert!(!t.record_hit(a, 1, 60, 0, 6));
        assert_eq!(t.del_ufid(7), Err(DpifError::NotFound));
        assert_eq!(
            t.del(&key(1, [10, 0, 0, 0]), &mask(8)),
            Err(DpifError::NotFound)
        );
        assert_eq!(t.lookup(&key(1, [10, 200, 0, 1])), None);

        t.flush();
        assert!(t.is_empty());
        assert!(!t.is_live(b));
        assert_eq!(t.dpcls().n_subtables(), 0);
        assert_eq!(t.lookup(&key(1, [11, 0, 0, 1])), None);
        assert_eq!(t.iter().count(), 0);
    }

    #[test]
    fn dump_in_chunks_sees_each_flow_once() {
        let mut t = FlowTable::default();
        for i in 0..10u8 {
            t.put(
                Some(i as u128),
                &key(1, [i, 0, 0, 0]),
                &mask(8),
                actions(1),
                PutFlags::CREATE,
            )
            .unwrap();
        }
        t.del_ufid(3).unwrap();
        let mut out = Vec::new();
        let mut cursor = Some(DumpCursor::default());
        let mut chunks = 0;
        while let Some(c) = cursor {
            cursor = t.dump(c, 4, &mut out);
            chunks += 1;
        }
        let mut ufids: Vec<u128> = out.iter().map(|f| f.ufid).collect();
        ufids.sort();
        assert_eq!(ufids, vec![0, 1, 2, 4, 5, 6, 7, 8, 9]);
        assert_eq!(chunks, 3);
    }
}
