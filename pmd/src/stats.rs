//! Counters that one PMD writes and anyone may read.
//!
//! Each counter has a single writer (its PMD), so an update is a relaxed load
//! and store: no locked instruction on the per-packet path. Readers (the
//! status line, metrics, `pmd-stats-show`) sum the PMDs' counters.

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
            busy_cycles: Counter::default(),
            idle_cycles: Counter::default(),
            iterations: Counter::default(),
        }
    }
}
