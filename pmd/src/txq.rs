//! Transmit queues as the PMD lcores see them.
//!
//! Each PMD wants its own tx queue on every port, but some devices (net_pcap,
//! net_ring) offer only one. When a port has as many tx queues as there are
//! PMDs, each PMD gets one and sends without any synchronisation. When it has
//! fewer, PMDs share queues round robin and a spin lock taken once per burst
//! guards each shared queue. Only PMD lcores ever take it; the control lcore
//! never does, so a PMD never waits on the control plane.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::mbuf::MbufBatch;
use crate::port::TxQueue;

struct Slot {
    locked: AtomicBool,
    shared: bool,
    queue: UnsafeCell<TxQueue>,
}

// SAFETY: access to `queue` is exclusive: either one PMD owns the slot
// (shared == false) or the spin lock serialises the PMDs sharing it.
unsafe impl Sync for Slot {}
// SAFETY: TxQueue is Send; the slot only adds a lock around it.
unsafe impl Send for Slot {}

/// A PMD's handle on one port's transmit queue.
#[derive(Clone)]
pub struct PmdTxQueue {
    slot: Arc<Slot>,
}

impl PmdTxQueue {
    /// Spreads a port's tx queues over `n_pmds` PMDs: handle `i` is PMD `i`'s.
    pub fn distribute(queues: Vec<TxQueue>, n_pmds: usize) -> Vec<PmdTxQueue> {
        let shared = queues.len() < n_pmds;
        let slots: Vec<Arc<Slot>> = queues
            .into_iter()
            .map(|q| {
                Arc::new(Slot {
                    locked: AtomicBool::new(false),
                    shared,
                    queue: UnsafeCell::new(q),
                })
            })
            .collect();
        if slots.is_empty() {
            return Vec::new();
        }
        (0..n_pmds)
            .map(|i| PmdTxQueue {
                slot: slots[i % slots.len()].clone(),
            })
            .collect()
    }

    /// Whether other PMDs send on the same queue.
    pub fn is_shared(&self) -> bool {
        self.slot.shared
    }

    /// Sends the batch; what the device refused stays in it.
    #[inline]
    pub fn send(&mut self, batch: &mut MbufBatch) -> usize {
        if !self.slot.shared {
            // SAFETY: an unshared slot has exactly one handle, owned by the
            // calling PMD (distribute gives each slot to one PMD when
            // queues >= PMDs), and &mut self makes the call exclusive.
            return unsafe { (*self.slot.queue.get()).tx_burst(batch) };
        }
        while self
            .slot
            .locked
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            std::hint::spin_loop();
        }
        // SAFETY: the spin lock is held, so no other PMD touches the queue.
        let sent = unsafe { (*self.slot.queue.get()).tx_burst(batch) };
        self.slot.locked.store(false, Ordering::Release);
        sent
    }
}
