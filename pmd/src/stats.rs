//! Counters that one PMD writes and anyone may read.
//!
//! Each counter has a single writer (its PMD), so an update is a relaxed load
//! and store: no locked instruction on the per-packet path. Readers (the
//! status line, Prometheus metrics, `pmd-stats-show`, `pmd-perf-show`,
//! `pmd-rxq-show`) sum the PMDs' counters when they look; a reader never
//! makes a PMD wait. Clearing is done by readers keeping a baseline, never
//! by writing here, so the PMD stays the only writer.
//!
//! The PMD counts per rx burst and per iteration, not per packet: a burst
//! costs a handful of relaxed stores (packets, bytes, one histogram bucket,
//! the cycles spent on it), whatever its size.

use std::sync::atomic::{AtomicU64, Ordering};

/// A counter with one writer.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds `n`. Only the owning PMD may call this.
    #[inline]
    pub fn add(&self, n: u64) {
        let v = self.0.load(Ordering::Relaxed);
        self.0.store(v.wrapping_add(n), Ordering::Relaxed);
    }

    #[inline]
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A value with one writer that goes up and down (a flow count).
#[derive(Debug, Default)]
pub struct Gauge(AtomicU64);

impl Gauge {
    /// Sets the value. Only the owning PMD may call this.
    #[inline]
    pub fn set(&self, v: u64) {
        self.0.store(v, Ordering::Relaxed);
    }

    #[inline]
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Upper bounds of the rx burst size histogram's buckets: a burst of `n`
/// packets lands in the first bucket whose bound is at least `n`; bursts
/// larger than the last bound (a device may return more than 32) land in
/// one more bucket after them.
pub const RX_BURST_BOUNDS: [u64; 6] = [1, 2, 4, 8, 16, 32];

/// The bucket of a non-empty burst of `n` packets: powers of two, so the
/// index is the bit length of `n - 1`, capped at the overflow bucket.
#[inline]
pub fn rx_burst_bucket(n: usize) -> usize {
    let bits = (usize::BITS - n.saturating_sub(1).leading_zeros()) as usize;
    bits.min(RX_BURST_BOUNDS.len())
}

/// Per port, as seen by one PMD.
#[derive(Debug, Default)]
pub struct PortCounters {
    pub rx_packets: Counter,
    pub rx_bytes: Counter,
    pub tx_packets: Counter,
    pub tx_bytes: Counter,
    /// Packets the device refused on transmit.
    pub tx_dropped: Counter,
    /// TSC cycles this PMD spent processing bursts received on this port
    /// (`pmd-rxq-show`'s per-queue usage).
    pub rx_cycles: Counter,
}

/// One PMD's counters.
#[derive(Debug)]
pub struct PmdStats {
    pub ports: Vec<PortCounters>,
    /// Packets that hit the exact-match cache.
    pub emc_hits: Counter,
    /// Packets that missed the EMC and hit the megaflow classifier.
    pub megaflow_hits: Counter,
    /// Of `megaflow_hits`, those taken by the simple-match path: a port
    /// whose only megaflow matches just in_port has its bursts forwarded
    /// with no parse and no lookup (and no subtable probed).
    pub simple_match_hits: Counter,
    /// Subtables probed, summed over the megaflow hits (`n_mask_hit`).
    pub subtables_probed: Counter,
    /// Packets that matched no flow (`n_missed`), whether or not their
    /// upcall could be queued.
    pub misses: Counter,
    /// Misses dropped because the upcall ring or upcall pool was full.
    pub miss_upcalls_lost: Counter,
    /// Action (`userspace`) upcalls queued.
    pub action_upcalls: Counter,
    /// Action upcalls dropped because the ring or pool was full.
    pub action_upcalls_lost: Counter,
    /// Lookups of recirculated packets (each one a further datapath pass).
    pub recirculations: Counter,
    /// Packets dropped by the datapath: empty actions, output to a port
    /// this PMD cannot send on, recirculation too deep.
    pub dropped: Counter,
    /// Output bursts handed to a device, and the packets in them.
    pub tx_batches: Counter,
    pub tx_batch_packets: Counter,
    /// TSC cycles spent in iterations that moved packets.
    pub busy_cycles: Counter,
    /// TSC cycles spent in iterations that found nothing.
    pub idle_cycles: Counter,
    pub iterations: Counter,
    /// Of `iterations`, those that moved packets or applied commands.
    pub busy_iterations: Counter,
    /// Non-empty rx bursts by size: bucket `i` counts bursts of at most
    /// `RX_BURST_BOUNDS[i]` packets and more than the bound before (not
    /// cumulative); the last one counts bursts above every bound.
    pub rx_bursts: [Counter; RX_BURST_BOUNDS.len() + 1],
    /// Datapath flows in this PMD's table, as of its last flow command.
    pub flows: Gauge,
    /// Megaflow masks (classifier subtables) in this PMD's table.
    pub masks: Gauge,
}

impl PmdStats {
    /// Counters for datapath ports `0..n_ports` (index = datapath port number).
    pub fn new(n_ports: usize) -> PmdStats {
        PmdStats {
            ports: (0..n_ports).map(|_| PortCounters::default()).collect(),
            emc_hits: Counter::default(),
            megaflow_hits: Counter::default(),
            simple_match_hits: Counter::default(),
            subtables_probed: Counter::default(),
            misses: Counter::default(),
            miss_upcalls_lost: Counter::default(),
            action_upcalls: Counter::default(),
            action_upcalls_lost: Counter::default(),
            recirculations: Counter::default(),
            dropped: Counter::default(),
            tx_batches: Counter::default(),
            tx_batch_packets: Counter::default(),
            busy_cycles: Counter::default(),
            idle_cycles: Counter::default(),
            iterations: Counter::default(),
            busy_iterations: Counter::default(),
            rx_bursts: Default::default(),
            flows: Gauge::default(),
            masks: Gauge::default(),
        }
    }

    /// Counts a non-empty rx burst from datapath port `port`: its packets,
    /// bytes, size bucket, and the cycles spent processing it.
    #[inline]
    ///
    /// The burst is counted before its packets, so a reader that takes the
    /// packets first and the bursts second never sees more packets than
    /// its bursts can hold (the burst histogram's sum against its count).
    pub fn count_rx_burst(&self, port: usize, packets: usize, bytes: u64, cycles: u64) {
        self.rx_bursts[rx_burst_bucket(packets)].add(1);
        // Orders the burst before the packets for a reader with the
        // matching acquire fence (a compiler barrier only, on x86).
        std::sync::atomic::fence(Ordering::Release);
        if let Some(c) = self.ports.get(port) {
            c.rx_packets.add(packets as u64);
            c.rx_bytes.add(bytes);
            c.rx_cycles.add(cycles);
        }
    }

    /// Counts one poll iteration that took `cycles`.
    #[inline]
    pub fn count_iteration(&self, busy: bool, cycles: u64) {
        if busy {
            self.busy_cycles.add(cycles);
            self.busy_iterations.add(1);
        } else {
            self.idle_cycles.add(cycles);
        }
        self.iterations.add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_land_in_power_of_two_buckets() {
        let got: Vec<usize> = [1, 2, 3, 4, 5, 8, 9, 16, 17, 32, 33, 512]
            .iter()
            .map(|&n| rx_burst_bucket(n))
            .collect();
        assert_eq!(got, [0, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6]);
        for (i, &bound) in RX_BURST_BOUNDS.iter().enumerate() {
            assert_eq!(rx_burst_bucket(bound as usize), i);
            assert_eq!(rx_burst_bucket(bound as usize + 1), i + 1);
        }
    }

    #[test]
    fn bursts_and_iterations_are_counted() {
        let s = PmdStats::new(3);
        s.count_rx_burst(2, 32, 32 * 64, 1000);
        s.count_rx_burst(2, 3, 180, 50);
        s.count_rx_burst(1, 1, 60, 7);
        // A port number out of range still counts the burst's size.
        s.count_rx_burst(9, 1, 60, 7);
        assert_eq!(s.ports[2].rx_packets.get(), 35);
        assert_eq!(s.ports[2].rx_bytes.get(), 32 * 64 + 180);
        assert_eq!(s.ports[2].rx_cycles.get(), 1050);
        assert_eq!(s.ports[1].rx_packets.get(), 1);
        let buckets: Vec<u64> = s.rx_bursts.iter().map(Counter::get).collect();
        assert_eq!(buckets, [2, 0, 1, 0, 0, 1, 0]);
        s.count_iteration(true, 100);
        s.count_iteration(false, 30);
        s.count_iteration(false, 20);
        assert_eq!(
            (
                s.iterations.get(),
                s.busy_iterations.get(),
                s.busy_cycles.get(),
                s.idle_cycles.get()
            ),
            (3, 1, 100, 50)
        );
    }
}
