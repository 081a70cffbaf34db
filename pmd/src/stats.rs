//! Counters that one PMD writes and anyone may read.
//!
//! Each counter has a single writer (its PMD), so an update is a relaxed load
//! and store: no locked instruction on the per-packet path. Readers (the
//! status line, metrics, `pmd-stats-show`) sum the PMDs' counters. Clearing
//! is done by readers keeping a baseline, never by writing here, so the PMD
//! stays the only writer.

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

/// Per port, as seen by one PMD.
#[derive(Debug, Default)]
pub struct PortCounters {
    pub rx_packets: Counter,
    pub rx_bytes: Counter,
    pub tx_packets: Counter,
    pub tx_bytes: Counter,
    /// Packets the device refused on transmit.
    pub tx_dropped: Counter,
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
        }
    }
}
