//! Groups (all, select, indirect, fast-failover) and meters (drop bands, kbps or pktps,
//! burst), with their counters.
//!
//! Liveness: a bucket is live when its watch port is up (config and link) or its watch group
//! has a live bucket; a bucket that watches nothing is live. Fast-failover uses the first
//! live bucket; select picks among live buckets by weight and the packet hash.
//!
//! Meters: each drop band is a token bucket (bits for kbps, milli-packets for pktps) that
//! refills at the band rate up to its burst (the rate when no burst is configured). A packet
//! that finds a band short of tokens is dropped and counted on that band.

use super::{Millis, Ofproto, RemovedReason};
use crate::dpif::Dpif;
use crate::ofp::multipart::{Bucket, MeterBand};
use crate::ofp::port::OFPP_ANY;
use crate::ofp::{Action, GroupMod, MeterMod, OfpError};

pub const OFPGT_ALL: u8 = 0;
pub const OFPGT_SELECT: u8 = 1;
pub const OFPGT_INDIRECT: u8 = 2;
pub const OFPGT_FF: u8 = 3;
pub const OFPG_MAX: u32 = 0xffff_ff00;
pub const OFPG_ALL: u32 = 0xffff_fffc;
pub const OFPG_ANY: u32 = 0xffff_ffff;

pub const OFPM_MAX: u32 = 0xffff_0000;
pub const OFPM_ALL: u32 = 0xffff_ffff;
pub const OFPMF_KBPS: u16 = 1;
pub const OFPMF_PKTPS: u16 = 2;
pub const OFPMF_BURST: u16 = 4;
pub const OFPMF_STATS: u16 = 8;
pub const OFPMBT_DROP: u16 = 1;
pub const MAX_METERS: u32 = 65536;
pub const MAX_BANDS: u8 = 8;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub group_type: u8,
    pub buckets: Vec<Bucket>,
    pub created: Millis,
    pub packet_count: u64,
    pub byte_count: u64,
    /// (packets, bytes) per bucket.
    pub bucket_counts: Vec<(u64, u64)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BandState {
    pub band: MeterBand,
    tokens: u64,
    pub packet_count: u64,
    pub byte_count: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meter {
    pub flags: u16,
    pub bands: Vec<BandState>,
    pub created: Millis,
    last_refill: Millis,
    pub packet_in_count: u64,
    pub byte_in_count: u64,
}

impl Meter {
    fn new(flags: u16, bands: &[MeterBand], now: Millis) -> Meter {
        let mut m = Meter {
            flags,
            bands: Vec::new(),
            created: now,
            last_refill: now,
            packet_in_count: 0,
            byte_in_count: 0,
        };
        m.set_bands(bands);
        m
    }

    fn set_bands(&mut self, bands: &[MeterBand]) {
        self.bands = bands
            .iter()
            .map(|b| {
                let mut s = BandState {
                    band: *b,
                    tokens: 0,
                    packet_count: 0,
                    byte_count: 0,
                };
                s.tokens = self.capacity(&s.band);
                s
            })
            .collect();
    }

    fn capacity(&self, b: &MeterBand) -> u64 {
        let burst = if self.flags & OFPMF_BURST != 0 && b.burst_size != 0 {
            b.burst_size
        } else {
            b.rate
        };
        u64::from(burst) * 1000
    }

    /// Meters one packet of `len` bytes at `now`; false means a band dropped it.
    pub fn admit(&mut self, len: usize, now: Millis) -> bool {
        let elapsed = now.saturating_sub(self.last_refill);
        self.last_refill = now;
        self.packet_in_count += 1;
        self.byte_in_count += len as u64;
        let kbps = self.flags & OFPMF_KBPS != 0;
        let cost = if kbps { len as u64 * 8 } else { 1000 };
        let caps: Vec<u64> = self.bands.iter().map(|b| self.capacity(&b.band)).collect();
        let mut drop_at: Option<(u32, usize)> = None;
        for (i, b) in self.bands.iter_mut().enumerate() {
            // kbit/s is bit/ms and pkt/s is milli-packet/ms.
            b.tokens = b
                .tokens
                .saturating_add(elapsed.saturating_mul(u64::from(b.band.rate)))
                .min(caps[i]);
            // The exceeded band with the highest rate applies.
            if b.tokens < cost && drop_at.map_or(true, |(rate, _)| rate < b.band.rate) {
                drop_at = Some((b.band.rate, i));
            }
        }
        match drop_at {
            Some((_, i)) => {
                let b = &mut self.bands[i];
                b.packet_count += 1;
                b.byte_count += len as u64;
                false
            }
            None => {
                for b in &mut self.bands {
                    b.tokens -= cost;
                }
                true
            }
        }
    }
}

impl<D: Dpif> Ofproto<D> {
    pub fn group(&self, id: u32) -> Option<&Group> {
        self.groups.get(&id)
    }

    pub fn meter(&self, id: u32) -> Option<&Meter> {
        self.meters.get(&id)
    }

    pub(crate) fn group_mod(&mut self, gm: &GroupMod, now: Millis) -> Result<(), OfpError> {
        const ADD: u16 = 0;
        const MODIFY: u16 = 1;
        match gm.command {
            ADD | MODIFY => {
                if gm.group_id > OFPG_MAX {
                    return Err(OfpError::OFPGMFC_INVALID_GROUP);
                }
                self.check_buckets(gm)?;
                let exists = self.groups.contains_key(&gm.group_id);
                if gm.command == ADD && exists {
                    return Err(OfpError::OFPGMFC_GROUP_EXISTS);
                }
                if gm.command == MODIFY && !exists {
                    return Err(OfpError::OFPGMFC_UNKNOWN_GROUP);
                }
                if gm.command == MODIFY && self.chains_to(gm.group_id, &gm.buckets) {
                    return Err(OfpError::OFPGMFC_LOOP);
                }
                let (created, packets, bytes) = self
                    .groups
                    .get(&gm.group_id)
                    .map_or((now, 0, 0), |g| (g.created, g.packet_count, g.byte_count));
                self.groups.insert(
                    gm.group_id,
                    Group {
                        group_type: gm.group_type,
                        buckets: gm.buckets.clone(),
                        created,
                        packet_count: packets,
                        byte_count: bytes,
                        bucket_counts: vec![(0, 0); gm.buckets.len()],
                    },
                );
            }
            _ => {
                let ids: Vec<u32> = if gm.group_id == OFPG_ALL {
                    self.groups.keys().copied().collect()
                } else if gm.group_id > OFPG_MAX {
                    return Err(OfpError::OFPGMFC_INVALID_GROUP);
                } else {
                    vec![gm.group_id]
                };
                if gm.group_id != OFPG_ALL {
                    let referenced = self.groups.iter().any(|(id, g)| {
                        *id != gm.group_id
                            && g.buckets.iter().any(|b| {
                                b.watch_group == gm.group_id
                                    || b.actions
                                        .iter()
                                        .any(|a| matches!(a, Action::Group(x) if *x == gm.group_id))
                            })
                    });
                    if referenced {
                        return Err(OfpError::OFPGMFC_CHAINED_GROUP);
                    }
                }
                for id in ids {
                    if self.groups.remove(&id).is_some() {
                        // Flows that forward to a deleted group go with it.
                        let rules: Vec<_> = self
                            .rules
                            .values()
                            .filter(|r| r.has_out_group(id))
                            .map(|r| r.id)
                            .collect();
                        self.delete_rules(&rules, RemovedReason::GroupDelete, now);
                    }
                }
            }
        }
        self.dpif.revalidate();
        Ok(())
    }

    fn check_buckets(&self, gm: &GroupMod) -> Result<(), OfpError> {
        if gm.group_type == OFPGT_INDIRECT && gm.buckets.len() != 1 {
            return Err(OfpError::OFPGMFC_INVALID_GROUP);
        }
        for b in &gm.buckets {
            if gm.group_type != OFPGT_SELECT && b.weight != 0 {
                return Err(OfpError::OFPGMFC_INVALID_GROUP);
            }
            if gm.group_type == OFPGT_FF && b.watch_port == OFPP_ANY && b.watch_group == OFPG_ANY {
                return Err(OfpError::OFPGMFC_BAD_WATCH);
            }
            if b.watch_group != OFPG_ANY && !self.groups.contains_key(&b.watch_group) {
                return Err(OfpError::OFPGMFC_BAD_WATCH);
            }
            for a in &b.actions {
                if let Action::Group(g) = a {
                    if *g == gm.group_id {
                        return Err(OfpError::OFPGMFC_LOOP);
                    }
                    if !self.groups.contains_key(g) {
                        return Err(OfpError::OFPGMFC_CHAINING_UNSUPPORTED);
                    }
                }
            }
        }
        Ok(())
    }

    /// Would buckets of group `id` reach `id` again through chained groups?
    fn chains_to(&self, id: u32, buckets: &[Bucket]) -> bool {
        let mut stack: Vec<u32> = buckets
            .iter()
            .flat_map(|b| b.actions.iter())
            .filter_map(|a| {
                if let Action::Group(g) = a {
                    Some(*g)
                } else {
                    None
                }
            })
            .collect();
        let mut seen = std::collections::BTreeSet::new();
        while let Some(g) = stack.pop() {
            if g == id {
                return true;
            }
            if !seen.insert(g) {
                continue;
            }
            if let Some(grp) = self.groups.get(&g) {
                stack.extend(
                    grp.buckets
                        .iter()
                        .flat_map(|b| b.actions.iter())
                        .filter_map(|a| {
                            if let Action::Group(x) = a {
                                Some(*x)
                            } else {
                                None
                            }
                        }),
                );
            }
        }
        false
    }

    fn bucket_live(&self, b: &Bucket, depth: u8) -> bool {
        let port_ok = b.watch_port == OFPP_ANY || self.port_live(b.watch_port);
        let group_ok =
            b.watch_group == OFPG_ANY || (depth < 8 && self.group_live(b.watch_group, depth + 1));
        port_ok && group_ok
    }

    fn group_live(&self, id: u32, depth: u8) -> bool {
        self.groups
            .get(&id)
            .is_some_and(|g| g.buckets.iter().any(|b| self.bucket_live(b, depth)))
    }

    /// Which buckets a packet with `hash` goes through: every bucket for ALL, the only one
    /// for INDIRECT, the first live one for FAST_FAILOVER, a weighted live one for SELECT.
    pub fn group_buckets(&self, id: u32, hash: u32) -> Vec<usize> {
        let Some(g) = self.groups.get(&id) else {
            return Vec::new();
        };
        match g.group_type {
            OFPGT_ALL => (0..g.buckets.len()).collect(),
            OFPGT_INDIRECT => vec![0],
            OFPGT_FF => g
                .buckets
                .iter()
                .position(|b| self.bucket_live(b, 0))
                .into_iter()
                .collect(),
            _ => {
                let live: Vec<(usize, u32)> = g
                    .buckets
                    .iter()
                    .enumerate()
                    .filter(|(_, b)| b.weight > 0 && self.bucket_live(b, 0))
                    .map(|(i, b)| (i, u32::from(b.weight)))
                    .collect();
                let total: u32 = live.iter().map(|l| l.1).sum();
                if total == 0 {
                    return Vec::new();
                }
                let mut pick = hash % total;
                for (i, w) in live {
                    if pick < w {
                        return vec![i];
                    }
                    pick -= w;
                }
                Vec::new()
            }
        }
    }

    /// Credits `packets` that made the group `visits` of one translation: every
    /// (group, bucket) passed, in order. An `all` group lists each of its buckets, but
    /// its own counters take each packet once: a visit is a run of increasing buckets of
    /// one group.
    pub fn credit_groups(&mut self, visits: &[(u32, usize)], packets: u64, bytes: u64) {
        let mut prev: Option<(u32, usize)> = None;
        for &(id, bucket) in visits {
            let same_visit = prev.is_some_and(|(g, b)| g == id && b < bucket);
            prev = Some((id, bucket));
            if let Some(g) = self.groups.get_mut(&id) {
                if !same_visit {
                    g.packet_count += packets;
                    g.byte_count += bytes;
                }
                if let Some(c) = g.bucket_counts.get_mut(bucket) {
                    c.0 += packets;
                    c.1 += bytes;
                }
            }
        }
    }

    /// Flows whose actions forward to group `id`.
    pub fn group_ref_count(&self, id: u32) -> u32 {
        self.rules
            .values()
            .filter(|r| !r.is_hidden() && r.has_out_group(id))
            .count() as u32
    }

    pub fn meter_flow_count(&self, id: u32) -> u32 {
        self.rules
            .values()
            .filter(|r| r.meter() == Some(id))
            .count() as u32
    }

    /// Meters one packet through meter `id`; false means drop. Unknown meters pass.
    pub fn meter_admit(&mut self, id: u32, len: usize, now: Millis) -> bool {
        self.meters.get_mut(&id).map_or(true, |m| m.admit(len, now))
    }

    pub(crate) fn meter_mod(&mut self, mm: &MeterMod, now: Millis) -> Result<(), OfpError> {
        const ADD: u16 = 0;
        const MODIFY: u16 = 1;
        match mm.command {
            ADD | MODIFY => {
                if mm.meter_id == 0 || mm.meter_id > OFPM_MAX {
                    return Err(OfpError::OFPMMFC_INVALID_METER);
                }
                let rate_flags = mm.flags & (OFPMF_KBPS | OFPMF_PKTPS);
                if mm.flags & !(OFPMF_KBPS | OFPMF_PKTPS | OFPMF_BURST | OFPMF_STATS) != 0
                    || rate_flags == 0
                    || rate_flags == (OFPMF_KBPS | OFPMF_PKTPS)
                {
                    return Err(OfpError::OFPMMFC_BAD_FLAGS);
                }
                if mm.bands.len() > usize::from(MAX_BANDS) {
                    return Err(OfpError::OFPMMFC_OUT_OF_BANDS);
                }
                for b in &mm.bands {
                    if b.band_type != OFPMBT_DROP {
                        return Err(OfpError::OFPMMFC_BAD_BAND);
                    }
                    if b.rate == 0 {
                        return Err(OfpError::OFPMMFC_BAD_RATE);
                    }
                    if b.burst_size != 0 && mm.flags & OFPMF_BURST == 0 {
                        return Err(OfpError::OFPMMFC_BAD_BURST);
                    }
                }
                match (mm.command, self.meters.get_mut(&mm.meter_id)) {
                    (ADD, Some(_)) => return Err(OfpError::OFPMMFC_METER_EXISTS),
                    (ADD, None) => {
                        if self.meters.len() as u32 >= MAX_METERS {
                            return Err(OfpError::OFPMMFC_OUT_OF_METERS);
                        }
                        self.meters
                            .insert(mm.meter_id, Meter::new(mm.flags, &mm.bands, now));
                    }
                    (_, None) => return Err(OfpError::OFPMMFC_UNKNOWN_METER),
                    (_, Some(m)) => {
                        m.flags = mm.flags;
                        m.set_bands(&mm.bands);
                    }
                }
            }
            _ => {
                let ids: Vec<u32> = if mm.meter_id == OFPM_ALL {
                    self.meters.keys().copied().collect()
                } else {
                    vec![mm.meter_id]
                };
                for id in ids {
                    if self.meters.remove(&id).is_some() {
                        let rules: Vec<_> = self
                            .rules
                            .values()
                            .filter(|r| r.meter() == Some(id))
                            .map(|r| r.id)
                            .collect();
                        self.delete_rules(&rules, RemovedReason::MeterDelete, now);
                    }
                }
            }
        }
        self.dpif.revalidate();
        Ok(())
    }
}
