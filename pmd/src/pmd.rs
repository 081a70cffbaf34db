//! The PMD poll loop.
//!
//! One PMD runs on one worker lcore and owns its rx queues, its tx handles
//! and its output buffers. Each iteration receives a burst from every rx
//! queue, hands the burst to the forwarding stage, and flushes every output
//! buffer that holds packets: output is buffered per port and sent once per
//! iteration, so a burst leaves as a burst. The loop ends when the shared
//! stop flag is set; then it flushes and frees everything it still holds, so
//! every mbuf is back in its pool when `run` returns.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::lcore::tsc;
use crate::mbuf::MbufBatch;
use crate::port::RxQueue;
use crate::stats::PmdStats;
use crate::txq::PmdTxQueue;

/// Datapath port numbers index the per-port tables; 0 is unused (OpenFlow
/// and datapath port numbers start at 1).
pub type PortNo = u32;

/// What a PMD does with received packets until the datapath flows replace
/// it: a patch table from input to output port.
#[derive(Debug, Clone, Default)]
pub struct PatchTable {
    out: Vec<Option<PortNo>>,
}

impl PatchTable {
    pub fn new(n_ports: usize) -> PatchTable {
        PatchTable {
            out: vec![None; n_ports],
        }
    }

    /// Packets received on `from` leave on `to`.
    pub fn connect(&mut self, from: PortNo, to: PortNo) {
        if let Some(slot) = self.out.get_mut(from as usize) {
            *slot = Some(to);
        }
    }

    #[inline]
    fn output(&self, from: PortNo) -> Option<PortNo> {
        self.out.get(from as usize).copied().flatten()
    }
}

/// Everything one PMD lcore owns.
pub struct Pmd {
    pub id: usize,
    /// (datapath port, queue) pairs this PMD polls.
    pub rxqs: Vec<(PortNo, RxQueue)>,
    /// Indexed by datapath port number.
    pub txqs: Vec<Option<PmdTxQueue>>,
    pub patch: PatchTable,
    pub stats: Arc<PmdStats>,
    pub stop: Arc<AtomicBool>,
}

impl Pmd {
    /// Polls until the stop flag is set. Returns 0.
    pub fn run(mut self) -> i32 {
        let n_ports = self.txqs.len();
        let mut out: Vec<MbufBatch> = (0..n_ports).map(|_| MbufBatch::new()).collect();
        let mut rx = MbufBatch::new();
        let mut last = tsc();
        while !self.stop.load(Ordering::Relaxed) {
            let mut moved = 0usize;
            for (port, q) in self.rxqs.iter_mut() {
                let n = q.rx_burst(&mut rx);
                if n == 0 {
                    continue;
                }
                moved += n;
                let counters = &self.stats.ports[*port as usize];
                counters.rx_packets.add(n as u64);
                let bytes: u64 = rx.as_slice().iter().map(|m| u64::from(m.pkt_len())).sum();
                counters.rx_bytes.add(bytes);
                match self.patch.output(*port) {
                    Some(to) if (to as usize) < n_ports && self.txqs[to as usize].is_some() => {
                        for m in rx.drain() {
                            let buf = &mut out[to as usize];
                            if let Err(m) = buf.push(m) {
                                Self::flush(&mut self.txqs, &self.stats, to, buf);
                                // The buffer was just emptied (sent or freed).
                                let _ = buf.push(m);
                            }
                        }
                    }
                    _ => rx.free_all(),
                }
            }
            for (port, buf) in out.iter_mut().enumerate() {
                if !buf.is_empty() {
                    Self::flush(&mut self.txqs, &self.stats, port as PortNo, buf);
                }
            }
            let now = tsc();
            if moved > 0 {
                self.stats.busy_cycles.add(now - last);
            } else {
                self.stats.idle_cycles.add(now - last);
            }
            self.stats.iterations.add(1);
            last = now;
        }
        for (port, buf) in out.iter_mut().enumerate() {
            if !buf.is_empty() {
                Self::flush(&mut self.txqs, &self.stats, port as PortNo, buf);
            }
        }
        0
    }

    /// Sends a port's buffer; what the device refuses is counted and freed.
    #[inline]
    fn flush(txqs: &mut [Option<PmdTxQueue>], stats: &PmdStats, port: PortNo, buf: &mut MbufBatch) {
        let counters = &stats.ports[port as usize];
        let bytes: u64 = buf.as_slice().iter().map(|m| u64::from(m.pkt_len())).sum();
        let total = buf.len();
        let sent = match txqs.get_mut(port as usize) {
            Some(Some(q)) => q.send(buf),
            _ => 0,
        };
        let unsent_bytes: u64 = buf.as_slice().iter().map(|m| u64::from(m.pkt_len())).sum();
        counters.tx_packets.add(sent as u64);
        counters.tx_bytes.add(bytes - unsent_bytes);
        if sent < total {
            counters.tx_dropped.add((total - sent) as u64);
            buf.free_all();
        }
    }
}
