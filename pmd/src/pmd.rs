//! The PMD poll loop.
//!
//! One PMD runs on one worker lcore and owns its rx queues, its tx handles,
//! its output buffers and its [`FastPath`] (flow table, EMC, classifier).
//! Each iteration: apply what the command ring holds (flow changes take
//! effect between bursts, never inside one), receive a burst from every rx
//! queue and run it through the pipeline, then flush every output buffer
//! that holds packets: output is buffered per port and sent once per
//! iteration, so a burst leaves as a burst. Upcalls go to the upcall ring in
//! packet order as they happen.
//!
//! Ports come and go at run time through the command ring
//! ([`CommandOp::AddPort`], [`CommandOp::DelPort`]): the per-port tables
//! (tx handles, output buffers) grow when a port with a higher number
//! arrives, which allocates on the command path, never on the packet path.
//! A deleted port's buffered packets are sent before its handles are
//! dropped, so the control side may stop the device once the PMD replied.
//!
//! Nothing here blocks, locks against the control lcore or allocates per
//! packet: rings refuse when full (the packet is dropped and counted),
//! upcall boxes come from a pool the control side refills, and the clock is
//! the TSC. The loop ends when the shared stop flag is set; then it flushes
//! and frees everything it holds, so every mbuf is back in its pool when
//! `run` returns.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::command::{
    Command, CommandOp, PmdChannels, Reply, ReplyBody, Upcall, UpcallType, UPCALL_RING_SIZE,
};
use crate::fastpath::{DatapathSink, FastPath, UpcallKind};
use crate::flow::{DpifError, PutFlags};
use crate::hold::{hold_ufid, Holds};
use crate::key::FlowKey;
use crate::lcore::{tsc, tsc_hz};
use crate::mbuf::{Mbuf, MbufBatch};
use crate::port::RxQueue;
use crate::stats::PmdStats;
use crate::txq::PmdTxQueue;

/// Datapath port numbers index the per-port tables; 0 is unused (OpenFlow
/// and datapath port numbers start at 1).
pub type PortNo = u32;

/// Entries in the per-port counter tables ([`PmdStats::ports`]) the switch
/// creates: datapath ports are 1 to `PORT_SLOTS - 1`.
pub const PORT_SLOTS: usize = 256;

/// Commands applied per iteration at most, so a flood of flow changes
/// cannot starve the rx queues.
const COMMANDS_PER_ITERATION: usize = 32;

/// Flows per dump reply.
pub const DUMP_CHUNK: usize = 256;

/// Everything one PMD lcore owns.
pub struct Pmd {
    pub id: usize,
    /// (datapath port, queue) pairs this PMD polls.
    pub rxqs: Vec<(PortNo, RxQueue)>,
    /// Indexed by datapath port number.
    pub txqs: Vec<Option<PmdTxQueue>>,
    /// Flows, EMC and classifier.
    pub fastpath: FastPath<Mbuf>,
    /// Rings to and from the control lcore.
    pub channels: Arc<PmdChannels>,
    pub stats: Arc<PmdStats>,
    pub stop: Arc<AtomicBool>,
}

/// The clock flows are stamped with: milliseconds of TSC. Any lcore may
/// read it, so the control side computes `used:` ages on the same clock.
#[inline]
pub fn now_ms() -> u64 {
    let hz = tsc_hz().max(1000);
    tsc() / (hz / 1000)
}

impl Pmd {
    /// Polls until the stop flag is set. Returns 0.
    pub fn run(self) -> i32 {
        let Pmd {
            id,
            mut rxqs,
            mut txqs,
            mut fastpath,
            channels,
            stats,
            stop,
        } = self;
        let n_ports = txqs.len();
        let mut out: Vec<MbufBatch> = (0..n_ports).map(|_| MbufBatch::new()).collect();
        let mut spare: Vec<Box<Upcall>> = (0..UPCALL_RING_SIZE as usize)
            .map(|_| Upcall::spare(id))
            .collect();
        let mut rx = MbufBatch::new();
        let mut upcall_seq = 0u64;
        let mut holds: Holds<Mbuf> = Holds::default();
        let ms_div = (tsc_hz() / 1000).max(1);
        let mut last = tsc();
        publish_table_size(&fastpath, &stats);
        while !stop.load(Ordering::Relaxed) {
            fastpath.set_now_ms(last / ms_div);
            let upcalls_before = upcall_seq;
            let mut sink = PmdSink {
                id,
                out: &mut out,
                txqs: &mut txqs,
                stats: &stats,
                spare: &mut spare,
                channels: &channels,
                upcall_seq: &mut upcall_seq,
                holds: &mut holds,
            };
            let mut busy =
                apply_commands(id, &mut fastpath, &mut rxqs, &channels, &stats, &mut sink);
            for (port, q) in rxqs.iter_mut() {
                let n = q.rx_burst(&mut rx);
                if n == 0 {
                    continue;
                }
                busy = true;
                let start = tsc();
                let bytes: u64 = rx.as_slice().iter().map(|m| u64::from(m.pkt_len())).sum();
                fastpath.process(*port, rx.drain(), &stats, &mut sink);
                stats.count_rx_burst(*port as usize, n, bytes, tsc() - start);
            }
            sink.flush_all();
            if upcall_seq != upcalls_before {
                channels.doorbell.ring();
            }
            let now = tsc();
            stats.count_iteration(busy, now - last);
            last = now;
        }
        let mut sink = PmdSink {
            id,
            out: &mut out,
            txqs: &mut txqs,
            stats: &stats,
            spare: &mut spare,
            channels: &channels,
            upcall_seq: &mut upcall_seq,
            holds: &mut holds,
        };
        sink.flush_all();
        0
    }
}

/// Applies up to [`COMMANDS_PER_ITERATION`] commands and replies to each.
/// Returns whether there was any.
fn apply_commands(
    id: usize,
    fastpath: &mut FastPath<Mbuf>,
    rxqs: &mut Vec<(PortNo, RxQueue)>,
    channels: &PmdChannels,
    stats: &PmdStats,
    sink: &mut PmdSink<'_>,
) -> bool {
    let mut any = false;
    for _ in 0..COMMANDS_PER_ITERATION {
        let Some(cmd) = channels.commands.dequeue() else {
            break;
        };
        any = true;
        let Command { seq, op } = *cmd;
        let body = apply(op, fastpath, rxqs, stats, sink);
        // The control side never has more commands outstanding than the
        // reply ring holds; if it gave up waiting and the ring is full, the
        // reply is dropped (it was for nobody).
        let _ = channels
            .replies
            .enqueue(Box::new(Reply { seq, pmd: id, body }));
    }
    if any {
        publish_table_size(fastpath, stats);
    }
    any
}

/// Applies one operation (a batch: each of its operations, in order, before
/// any packet is received) and returns its outcome.
fn apply(
    op: CommandOp,
    fastpath: &mut FastPath<Mbuf>,
    rxqs: &mut Vec<(PortNo, RxQueue)>,
    stats: &PmdStats,
    sink: &mut PmdSink<'_>,
) -> ReplyBody {
    match op {
        CommandOp::Put {
            ufid,
            key,
            mask,
            actions,
            flags,
        } => {
            let r = fastpath
                .flows
                .put(ufid, &key, &mask, actions.clone(), flags);
            // A hold that did not go in holds nothing.
            if matches!(r, Ok(_) | Err(DpifError::Exists)) {
                sink.holds.on_put(&actions, *sink.upcall_seq);
            }
            ReplyBody::Put(r)
        }
        CommandOp::Release {
            ufid,
            key,
            mask,
            actions,
            drained,
        } => ReplyBody::Released(match sink.holds.try_release(ufid, drained) {
            Some(parked) => {
                // Parked packets first, then the flow forwards itself.
                for (in_port, pkt) in parked {
                    fastpath.execute(pkt, in_port, &actions, stats, sink);
                }
                fastpath
                    .flows
                    .put(Some(ufid), &key, &mask, actions, PutFlags::MODIFY)
                    .map(|_| true)
            }
            None => Ok(false),
        }),
        CommandOp::Del { ufid, key, mask } => {
            let r = match ufid {
                Some(u) => fastpath.flows.del_ufid(u),
                None => fastpath.flows.del(&key, &mask),
            };
            if let Ok(f) = &r {
                sink.holds.forget(f.ufid);
            }
            ReplyBody::Del(r)
        }
        CommandOp::Flush => {
            let n = fastpath.flows.len();
            fastpath.flows.flush();
            sink.holds.clear();
            ReplyBody::Flushed(n)
        }
        CommandOp::Dump { cursor, max } => {
            let mut flows = Vec::with_capacity(max.min(DUMP_CHUNK));
            let next = fastpath.flows.dump(cursor, max.min(DUMP_CHUNK), &mut flows);
            ReplyBody::Dump {
                flows,
                next,
                now_ms: fastpath.now_ms(),
            }
        }
        CommandOp::Execute {
            pkt,
            in_port,
            actions,
        } => {
            fastpath.execute(pkt, in_port, &actions, stats, sink);
            ReplyBody::Executed
        }
        CommandOp::Status => ReplyBody::Status {
            n_flows: fastpath.flows.len(),
            n_subtables: fastpath.flows.dpcls().n_subtables(),
            now_ms: fastpath.now_ms(),
        },
        CommandOp::Batch(ops) => ReplyBody::Batch(
            ops.into_iter()
                .map(|op| apply(op, fastpath, rxqs, stats, sink))
                .collect(),
        ),
        CommandOp::AddPort {
            port,
            rxqs: new,
            txq,
        } => {
            let added = sink.add_port(port, txq);
            if added {
                rxqs.extend(new.into_iter().map(|q| (port, q)));
            }
            ReplyBody::PortAdded(added)
        }
        CommandOp::DelPort { port } => {
            // Send first, then drain: a device that loops its tx back
            // to its rx (net_ring) gets back what was just sent.
            sink.del_port(port);
            for (_, mut q) in extract_port(rxqs, port) {
                stats.dropped.add(drain_rx(&mut q) as u64);
            }
            ReplyBody::PortDeleted
        }
    }
}

/// Removes `port`'s rx queues from `rxqs` and returns them.
fn extract_port(rxqs: &mut Vec<(PortNo, RxQueue)>, port: PortNo) -> Vec<(PortNo, RxQueue)> {
    let (gone, kept) = std::mem::take(rxqs)
        .into_iter()
        .partition(|(p, _)| *p == port);
    *rxqs = kept;
    gone
}

/// Bursts taken from a deleted port's rx queue at most (a source that
/// never runs dry, such as `net_pcap` with `infinite_rx`, must not hold the
/// PMD).
const DRAIN_BURSTS: usize = 64;

/// Frees what waits on a deleted port's rx queue. A NIC frees its rx
/// descriptors' mbufs when the queue is released, but a software device
/// (`net_ring`) may keep what is queued in its ring, and those mbufs would
/// never return to the pool. Returns how many packets were dropped.
fn drain_rx(q: &mut RxQueue) -> usize {
    let mut batch = MbufBatch::new();
    let mut n = 0;
    for _ in 0..DRAIN_BURSTS {
        let got = q.rx_burst(&mut batch);
        if got == 0 {
            break;
        }
        n += got;
        batch.free_all();
    }
    n
}

/// Publishes the flow and mask counts for metrics: they change only by
/// commands, so readers never have to ask the PMD.
fn publish_table_size(fastpath: &FastPath<Mbuf>, stats: &PmdStats) {
    stats.flows.set(fastpath.flows.len() as u64);
    stats.masks.set(fastpath.flows.dpcls().n_subtables() as u64);
}

/// The PMD's [`DatapathSink`]: per-port output buffers and the upcall ring.
struct PmdSink<'a> {
    id: usize,
    /// Indexed by datapath port number, as `txqs`; both grow together.
    out: &'a mut Vec<MbufBatch>,
    txqs: &'a mut Vec<Option<PmdTxQueue>>,
    stats: &'a PmdStats,
    /// Boxes, not values: each one travels through the upcall ring as is.
    #[allow(clippy::vec_box)]
    spare: &'a mut Vec<Box<Upcall>>,
    channels: &'a PmdChannels,
    /// Upcalls queued so far: the next one's number.
    upcall_seq: &'a mut u64,
    /// Held flows (see [`crate::hold`]).
    holds: &'a mut Holds<Mbuf>,
}

impl PmdSink<'_> {
    /// Sends a port's buffer; what the device refuses is counted and freed.
    #[inline]
    fn flush(&mut self, port: usize) {
        let buf = &mut self.out[port];
        let counters = &self.stats.ports[port];
        let bytes: u64 = buf.as_slice().iter().map(|m| u64::from(m.pkt_len())).sum();
        let total = buf.len();
        let sent = match self.txqs.get_mut(port) {
            Some(Some(q)) => q.send(buf),
            _ => 0,
        };
        let unsent_bytes: u64 = buf.as_slice().iter().map(|m| u64::from(m.pkt_len())).sum();
        counters.tx_packets.add(sent as u64);
        counters.tx_bytes.add(bytes - unsent_bytes);
        self.stats.tx_batches.add(1);
        self.stats.tx_batch_packets.add(total as u64);
        if sent < total {
            counters.tx_dropped.add((total - sent) as u64);
            buf.free_all();
        }
    }

    /// Makes `port` sendable through `txq` and zeroes its counters (a port
    /// number may have been used by a deleted port). False when `port` has
    /// no counters.
    fn add_port(&mut self, port: PortNo, txq: Option<PmdTxQueue>) -> bool {
        let p = port as usize;
        let Some(counters) = self.stats.ports.get(p) else {
            return false;
        };
        // This PMD is the counters' only writer, so adding the complement
        // sets each to zero without a second writer.
        for c in [
            &counters.rx_packets,
            &counters.rx_bytes,
            &counters.tx_packets,
            &counters.tx_bytes,
            &counters.tx_dropped,
        ] {
            c.add(c.get().wrapping_neg());
        }
        if self.txqs.len() <= p {
            self.txqs.resize_with(p + 1, || None);
            self.out.resize_with(p + 1, MbufBatch::new);
        }
        self.txqs[p] = txq;
        true
    }

    /// Sends what is buffered for `port` and forgets its tx handle.
    fn del_port(&mut self, port: PortNo) {
        let p = port as usize;
        if p < self.out.len() && !self.out[p].is_empty() {
            self.flush(p);
        }
        if let Some(q) = self.txqs.get_mut(p) {
            *q = None;
        }
    }

    fn flush_all(&mut self) {
        for port in 0..self.out.len() {
            if !self.out[port].is_empty() {
                self.flush(port);
            }
        }
    }

    /// An upcall box: from the spare pool, else one the control side gave
    /// back.
    #[inline]
    fn take_box(&mut self) -> Option<Box<Upcall>> {
        self.spare.pop().or_else(|| self.channels.recycle.dequeue())
    }
}

impl DatapathSink<Mbuf> for PmdSink<'_> {
    #[inline]
    fn output(&mut self, port: u32, pkt: Mbuf) {
        let p = port as usize;
        if p >= self.out.len() || self.txqs[p].is_none() {
            // No such port, or one this PMD cannot send on.
            self.stats.dropped.add(1);
            return drop(pkt);
        }
        if let Err(pkt) = self.out[p].push(pkt) {
            self.flush(p);
            // The buffer was just emptied (sent or freed).
            let _ = self.out[p].push(pkt);
        }
    }

    /// The port is checked once for the run; per packet only the
    /// buffer's room is.
    #[inline]
    fn output_many<I: Iterator<Item = Mbuf>>(&mut self, port: u32, pkts: I) {
        let p = port as usize;
        let Some(buf) = self
            .out
            .get_mut(p)
            .filter(|_| matches!(self.txqs.get(p), Some(Some(_))))
        else {
            // No such port, or one this PMD cannot send on.
            let mut n = 0;
            for pkt in pkts {
                n += 1;
                drop(pkt);
            }
            return self.stats.dropped.add(n);
        };
        let mut buf = buf;
        for pkt in pkts {
            if let Err(pkt) = buf.push(pkt) {
                self.flush(p);
                buf = &mut self.out[p];
                // The buffer was just emptied (sent or freed).
                let _ = buf.push(pkt);
            }
        }
    }

    fn upcall(&mut self, kind: UpcallKind<'_>, pkt: Mbuf, key: &FlowKey) -> Result<(), Mbuf> {
        // A packet of a held flow that parks stays here (see crate::hold).
        let held = match kind {
            UpcallKind::Action { cookie, userdata } => hold_ufid(cookie, userdata),
            UpcallKind::Miss => None,
        };
        if let Some(u) = held.filter(|&u| self.holds.is_parking(u)) {
            return self.holds.park(u, key.in_port(), pkt);
        }
        let Some(mut up) = self.take_box() else {
            return Err(pkt);
        };
        match kind {
            UpcallKind::Miss => {
                up.kind = UpcallType::Miss;
                up.cookie = 0;
                up.userdata.clear();
            }
            UpcallKind::Action { cookie, userdata } => {
                up.kind = UpcallType::Action;
                up.cookie = cookie;
                up.userdata.clear();
                up.userdata.extend_from_slice(userdata);
            }
        }
        up.key = *key;
        up.in_port = key.in_port();
        up.pmd = self.id;
        up.pkt = Some(pkt);
        up.queued_tsc = crate::lcore::tsc();
        let seq = *self.upcall_seq;
        up.seq = seq;
        match self.channels.upcalls.enqueue(up) {
            Ok(()) => {
                *self.upcall_seq = seq + 1;
                if let Some(u) = held {
                    self.holds.sent(u, seq);
                }
                Ok(())
            }
            Err(mut up) => {
                let pkt = up.pkt.take();
                self.spare.push(up);
                match pkt {
                    Some(pkt) => Err(pkt),
                    None => unreachable!("the packet was put in the box just above"),
                }
            }
        }
    }

    #[inline]
    fn drop(&mut self, pkt: Mbuf) {
        drop(pkt);
    }
}
