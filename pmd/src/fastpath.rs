//! The per-PMD packet pipeline: parse, EMC, megaflow classifier, actions.
//!
//! Vocabulary: a *burst* is up to [`BURST`] packets from one rx queue; a
//! *pass* is one trip of a burst through the pipeline (a recirculated packet
//! makes another pass with its new `recirc_id`). An *upcall* hands a packet
//! to the control side: a *miss* upcall when no flow matched, an *action*
//! upcall when a `userspace` action ran.
//!
//! One pass, a whole burst at a time: parse every packet into its
//! [`FlowKey`] and hash it; probe the EMC for each; send the EMC misses
//! together to the classifier ([`FlowTable::lookup_batch_subset`], which
//! walks the subtables once for the burst); insert megaflow hits into the
//! EMC with the EMC's probability; then run each packet's actions in arrival
//! order, so a port's packets (and its miss and action upcalls) stay in
//! order. Flow statistics are summed per run of consecutive packets on one
//! flow (OVS batches per flow instead, which reorders) and written once per
//! run; a run of lone-output packets to one port goes to the sink in one
//! call; PMD counters are summed in locals and written once per pass.
//!
//! The simple-match shortcut: when the receiving port's only megaflow
//! matches just in_port (port-to-port forwarding) and outputs to one port,
//! the whole burst goes there with no parse, hash or lookup; counted as
//! simple-match hits ([`PmdStats::simple_match_hits`]), apart from EMC and
//! megaflow hits, as OVS counts them.
//!
//! Who calls it: the PMD loop ([`crate::pmd`]) with mbufs, and tests and
//! benchmarks with any [`PacketBuf`]; the pipeline is generic over the
//! packet and over the [`DatapathSink`] that owns transmit buffers and the
//! upcall ring, so it runs without DPDK too.
//!
//! Invariants: every packet handed in leaves through exactly one sink call
//! (`output`, `upcall` or `drop`) before `process` returns; a flow that the
//! table no longer holds is never executed (an EMC entry on a deleted flow
//! is a miss, and the classifier no longer holds it); nothing on this path
//! allocates, locks or makes a system call: the scratch arrays and the
//! recirculation queue are sized once at creation.

use crate::actions::{execute, execute_parsed, ActionSink, DpAction, PacketBuf};
use crate::emc::Emc;
use crate::flow::{FlowRef, FlowTable};
use crate::key::FlowKey;
use crate::mbuf::BURST;
use crate::parse::{parse, parse_fresh, tcp_flags_of, ParseInfo};
use crate::stats::PmdStats;

/// Passes a packet may make: the first plus this many recirculations.
/// Deeper packets are dropped (a loop in the client's flows).
pub const MAX_RECIRC_DEPTH: u8 = 6;

/// Packets waiting for another pass; more in one burst are dropped.
const RECIRC_QUEUE: usize = 2 * BURST;

/// Why a packet goes to the control side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpcallKind<'a> {
    /// No flow matched.
    Miss,
    /// A `userspace` action ran.
    Action {
        /// The action's cookie.
        cookie: u64,
        /// The action's extra bytes.
        userdata: &'a [u8],
    },
}

/// Where the pipeline sends packets: transmit buffers, the upcall ring, or
/// the free list.
pub trait DatapathSink<P> {
    /// Queue the packet for transmission on datapath port `port`.
    fn output(&mut self, port: u32, pkt: P);
    /// Queue every packet of `pkts`, in order, on port `port`; the same as
    /// calling [`DatapathSink::output`] on each, which a sink may do with
    /// fewer checks.
    #[inline]
    fn output_many<I: Iterator<Item = P>>(&mut self, port: u32, pkts: I) {
        for pkt in pkts {
            self.output(port, pkt);
        }
    }
    /// Queue an upcall; give the packet back if there is no room, and the
    /// pipeline counts it lost and drops it. Must not block.
    fn upcall(&mut self, kind: UpcallKind<'_>, pkt: P, key: &FlowKey) -> Result<(), P>;
    /// Free the packet.
    fn drop(&mut self, pkt: P);
}

/// One PMD's flow table, EMC and scratch space.
pub struct FastPath<P> {
    /// The datapath flows and their classifier.
    pub flows: FlowTable,
    /// The exact-match cache.
    pub emc: Emc,
    now_ms: u64,
    scratch: Box<Scratch>,
    batch: Vec<P>,
    recirc: Vec<(P, FlowKey, u8)>,
    next_recirc: Vec<(P, FlowKey, u8)>,
}

/// Per-burst arrays, boxed once (about 8 KiB).
struct Scratch {
    keys: [FlowKey; BURST],
    hashes: [u32; BURST],
    /// `keys[i].tail_map()`, known without a scan for fast-parsed packets.
    tails: [u16; BURST],
    /// Frame lengths, read once when the packet is parsed.
    lens: [usize; BURST],
    /// Header layouts from the parse, valid where `parsed` has the bit.
    infos: [ParseInfo; BURST],
    /// Bit `i`: `infos[i]` describes packet `i` (not so after recirculation).
    parsed: u32,
    depth: [u8; BURST],
    found: [Option<FlowRef>; BURST],
    /// Packet `i`'s output port when its flow's actions are a lone output.
    lone: [Option<u32>; BURST],
}

/// Counters of one pass, written to [`PmdStats`] once.
#[derive(Default)]
struct PassCounts {
    emc_hits: u64,
    megaflow_hits: u64,
    probes: u64,
    misses: u64,
    miss_lost: u64,
    action_upcalls: u64,
    action_lost: u64,
    dropped: u64,
}

impl<P: PacketBuf> FastPath<P> {
    /// An empty pipeline: `flows` (usually empty) and `emc`.
    pub fn new(flows: FlowTable, emc: Emc) -> FastPath<P> {
        FastPath {
            flows,
            emc,
            now_ms: 0,
            scratch: Box::new(Scratch {
                keys: [FlowKey::default(); BURST],
                hashes: [0; BURST],
                tails: [0; BURST],
                lens: [0; BURST],
                infos: [ParseInfo::default(); BURST],
                parsed: 0,
                depth: [0; BURST],
                found: [None; BURST],
                lone: [None; BURST],
            }),
            batch: Vec::with_capacity(BURST),
            recirc: Vec::with_capacity(RECIRC_QUEUE),
            next_recirc: Vec::with_capacity(RECIRC_QUEUE),
        }
    }

    /// Sets the clock that stamps flows' `used` time (milliseconds on the
    /// caller's clock; the PMD loop sets it once per iteration).
    #[inline]
    pub fn set_now_ms(&mut self, now_ms: u64) {
        self.now_ms = now_ms;
    }

    /// The clock last set.
    pub fn now_ms(&self) -> u64 {
        self.now_ms
    }

    /// Runs packets received on `in_port` through the pipeline (in chunks
    /// of [`BURST`]), then their recirculations.
    pub fn process<I, S>(&mut self, in_port: u32, pkts: I, stats: &PmdStats, sink: &mut S)
    where
        I: IntoIterator<Item = P>,
        S: DatapathSink<P>,
    {
        let mut pkts = pkts.into_iter();
        loop {
            self.batch.extend(pkts.by_ref().take(BURST));
            if self.batch.is_empty() {
                break;
            }
            if self.simple_pass(in_port, stats, sink) {
                continue;
            }
            let n = self.batch.len();
            let sc = &mut *self.scratch;
            for (i, pkt) in self.batch.iter().enumerate() {
                let data = pkt.data();
                sc.lens[i] = data.len();
                let key = &mut sc.keys[i];
                // The fast parse leaves the tail zero: no scan for the map.
                sc.tails[i] = if parse_fresh(data, in_port, key, &mut sc.infos[i]) {
                    0
                } else {
                    key.tail_map()
                };
                sc.depth[i] = 0;
            }
            // Hashes in a loop of their own: each is a chain of dependent
            // multiplies, and with no call in between the CPU overlaps the
            // chains of different packets. A zero tail is not read.
            for i in 0..n {
                let key = &sc.keys[i];
                sc.hashes[i] = if sc.tails[i] == 0 {
                    key.hash_zero_tail()
                } else {
                    key.hash()
                };
            }
            sc.parsed = if n == BURST { u32::MAX } else { (1 << n) - 1 };
            self.pass(n, stats, sink);
            self.drain_recirculations(stats, sink);
        }
    }

    /// The simple-match path: when `in_port`'s only megaflow matches every
    /// packet of the port and its actions are a lone output, sends the
    /// whole of `self.batch` there with no parse, hash or lookup, and
    /// returns true. Per packet that is the length and TCP-flags read the
    /// flow's statistics need (one or two loads for non-TCP IPv4) and the
    /// push onto the output buffer; the flow is found once per burst
    /// (a binary search over the PMD's ports). Counted as simple-match
    /// hits only, with no subtable probed.
    fn simple_pass<S: DatapathSink<P>>(
        &mut self,
        in_port: u32,
        stats: &PmdStats,
        sink: &mut S,
    ) -> bool {
        let Some(r) = self.flows.simple_match(in_port) else {
            return false;
        };
        let port = match self.flows.flow(r).map(|f| &*f.actions) {
            Some(&[DpAction::Output(port)]) => port,
            _ => return false,
        };
        let n = self.batch.len() as u64;
        let (mut bytes, mut flags) = (0u64, 0u16);
        for pkt in self.batch.drain(..) {
            let data = pkt.data();
            bytes += data.len() as u64;
            flags |= tcp_flags_of(data);
            sink.output(port, pkt);
        }
        self.flows.record_hit(r, n, bytes, flags, self.now_ms);
        // Counted apart from megaflow hits, as OVS's pmd-stats-show does.
        stats.simple_match_hits.add(n);
        true
    }

    /// Runs `actions` on one packet whose key is taken from its bytes and
    /// `in_port` (dpif `execute`). Flow tables and counters are untouched
    /// except for upcalls and drops; a `recirc` action makes a normal pass.
    pub fn execute<S: DatapathSink<P>>(
        &mut self,
        pkt: P,
        in_port: u32,
        actions: &[DpAction],
        stats: &PmdStats,
        sink: &mut S,
    ) {
        let mut key = FlowKey::default();
        let info = parse(pkt.data(), in_port, &mut key);
        let mut counts = PassCounts::default();
        let mut exec = ExecSink {
            out: sink,
            recirc: &mut self.recirc,
            depth: 0,
            counts: &mut counts,
        };
        execute_parsed(actions, pkt, &mut key, info, &mut exec);
        counts.write(stats);
        self.drain_recirculations(stats, sink);
    }

    /// One pass over `self.batch[..n]`, whose keys, hashes, layouts and
    /// depths are in the scratch arrays.
    fn pass<S: DatapathSink<P>>(&mut self, n: usize, stats: &PmdStats, sink: &mut S) {
        let Self {
            flows,
            emc,
            now_ms,
            scratch,
            batch,
            recirc,
            ..
        } = self;
        let sc = &mut **scratch;
        let mut counts = PassCounts::default();

        // EMC first; the misses go to the classifier together. The
        // entries are prefetched for the whole burst first (a few
        // instructions per packet) so that, with many flows, their cache
        // misses overlap.
        for &h in &sc.hashes[..n] {
            emc.prefetch(h);
        }
        let mut emc_miss = 0u32;
        for i in 0..n {
            sc.found[i] = emc.lookup_with_tail(&sc.keys[i], sc.hashes[i], sc.tails[i], flows);
            if sc.found[i].is_some() {
                counts.emc_hits += 1;
            } else {
                emc_miss |= 1 << i;
            }
        }
        if emc_miss != 0 {
            counts.probes +=
                u64::from(flows.lookup_batch_subset(&sc.keys[..n], emc_miss, &mut sc.found[..n]));
            let mut bits = emc_miss;
            while bits != 0 {
                let i = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                if let Some(r) = sc.found[i] {
                    counts.megaflow_hits += 1;
                    emc.maybe_insert(&sc.keys[i], sc.hashes[i], r);
                }
            }
        }

        // Stats per run of consecutive packets on one flow (a burst from
        // one flow is one run): one write per run, no search. The flow's
        // lone output port, from the flow table's compact array, is looked
        // up once per run too. With many flows each run's stats are a cache
        // miss: start them all first.
        let mut prev = None;
        for &r in sc.found[..n].iter().flatten() {
            if prev != Some(r) {
                flows.prefetch_stats(r);
                prev = Some(r);
            }
        }
        let mut run: Option<FlowRef> = None;
        let (mut run_packets, mut run_bytes, mut run_flags) = (0u64, 0u64, 0u16);
        let mut run_port = None;
        for i in 0..n {
            let found = sc.found[i];
            if found != run {
                if let Some(r) = run {
                    flows.record_hit(r, run_packets, run_bytes, run_flags, *now_ms);
                }
                run = found;
                (run_packets, run_bytes, run_flags) = (0, 0, 0);
                run_port = found.and_then(|r| flows.lone_output(r));
            }
            run_packets += 1;
            run_bytes += sc.lens[i] as u64;
            run_flags |= sc.keys[i].tcp_flags();
            sc.lone[i] = run_port;
        }
        if let Some(r) = run {
            flows.record_hit(r, run_packets, run_bytes, run_flags, *now_ms);
        }

        // Actions, in arrival order. The common case, a lone output, skips
        // the executor, and consecutive packets to one port go to the sink
        // together (one port check for the lot).
        let mut pkts = batch.drain(..n);
        let mut i = 0;
        while i < n {
            if let Some(port) = sc.lone[i] {
                let mut end = i + 1;
                while end < n && sc.lone[end] == Some(port) {
                    end += 1;
                }
                sink.output_many(port, pkts.by_ref().take(end - i));
                i = end;
                continue;
            }
            let Some(pkt) = pkts.next() else { break };
            let key = &mut sc.keys[i];
            match sc.found[i].and_then(|r| flows.flow(r)) {
                None => {
                    counts.misses += 1;
                    if let Err(pkt) = sink.upcall(UpcallKind::Miss, pkt, key) {
                        counts.miss_lost += 1;
                        sink.drop(pkt);
                    }
                }
                Some(flow) => {
                    let mut exec = ExecSink {
                        out: sink,
                        recirc,
                        depth: sc.depth[i],
                        counts: &mut counts,
                    };
                    if sc.parsed & (1 << i) != 0 {
                        execute_parsed(&flow.actions, pkt, key, sc.infos[i], &mut exec);
                    } else {
                        execute(&flow.actions, pkt, key, &mut exec);
                    }
                }
            }
            i += 1;
        }
        counts.write(stats);
    }

    /// Makes further passes while recirculated packets are queued.
    fn drain_recirculations<S: DatapathSink<P>>(&mut self, stats: &PmdStats, sink: &mut S) {
        while !self.recirc.is_empty() {
            std::mem::swap(&mut self.recirc, &mut self.next_recirc);
            let mut passes = 0u64;
            while !self.next_recirc.is_empty() {
                let take = self.next_recirc.len().min(BURST);
                for (i, (pkt, key, depth)) in self.next_recirc.drain(..take).enumerate() {
                    self.scratch.keys[i] = key;
                    self.scratch.hashes[i] = key.hash();
                    self.scratch.tails[i] = key.tail_map();
                    self.scratch.lens[i] = pkt.data().len();
                    self.scratch.depth[i] = depth;
                    self.batch.push(pkt);
                }
                self.scratch.parsed = 0;
                passes += take as u64;
                self.pass(take, stats, sink);
            }
            stats.recirculations.add(passes);
        }
    }
}

impl PassCounts {
    fn write(&self, stats: &PmdStats) {
        stats.emc_hits.add(self.emc_hits);
        stats.megaflow_hits.add(self.megaflow_hits);
        stats.subtables_probed.add(self.probes);
        stats.misses.add(self.misses);
        stats.miss_upcalls_lost.add(self.miss_lost);
        stats.action_upcalls.add(self.action_upcalls);
        stats.action_upcalls_lost.add(self.action_lost);
        stats.dropped.add(self.dropped);
    }
}

/// Adapts a [`DatapathSink`] to the executor: queues recirculations for
/// the next pass and counts upcalls and drops.
struct ExecSink<'a, P, S> {
    out: &'a mut S,
    recirc: &'a mut Vec<(P, FlowKey, u8)>,
    depth: u8,
    counts: &'a mut PassCounts,
}

impl<P: PacketBuf, S: DatapathSink<P>> ActionSink<P> for ExecSink<'_, P, S> {
    #[inline]
    fn output(&mut self, port: u32, pkt: P) {
        self.out.output(port, pkt);
    }

    fn userspace(&mut self, cookie: u64, userdata: &[u8], pkt: P, key: &FlowKey) {
        self.counts.action_upcalls += 1;
        if let Err(pkt) = self
            .out
            .upcall(UpcallKind::Action { cookie, userdata }, pkt, key)
        {
            self.counts.action_lost += 1;
            self.out.drop(pkt);
        }
    }

    fn recirc(&mut self, recirc_id: u32, pkt: P, key: &FlowKey) {
        if self.depth >= MAX_RECIRC_DEPTH || self.recirc.len() == self.recirc.capacity() {
            self.counts.dropped += 1;
            return self.out.drop(pkt);
        }
        let mut key = *key;
        key.set_recirc_id(recirc_id);
        self.recirc.push((pkt, key, self.depth + 1));
    }

    #[inline]
    fn drop(&mut self, pkt: P) {
        self.counts.dropped += 1;
        self.out.drop(pkt);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::VecPacket;
    use crate::flow::PutFlags;
    use crate::odp::parse_flow;
    use std::sync::Arc;

    #[derive(Default)]
    struct Out {
        sent: Vec<(u32, Vec<u8>)>,
        upcalls: Vec<(bool, u64, Vec<u8>, u32)>,
        dropped: usize,
        refuse_upcalls: bool,
    }

    impl DatapathSink<VecPacket> for Out {
        fn output(&mut self, port: u32, pkt: VecPacket) {
            self.sent.push((port, pkt.data().to_vec()));
        }
        fn upcall(
            &mut self,
            kind: UpcallKind<'_>,
            pkt: VecPacket,
            key: &FlowKey,
        ) -> Result<(), VecPacket> {
            if self.refuse_upcalls {
                return Err(pkt);
            }
            let (miss, cookie) = match kind {
                UpcallKind::Miss => (true, 0),
                UpcallKind::Action { cookie, .. } => (false, cookie),
            };
            self.upcalls
                .push((miss, cookie, pkt.data().to_vec(), key.recirc_id()));
            Ok(())
        }
        fn drop(&mut self, _pkt: VecPacket) {
            self.dropped += 1;
        }
    }

    fn frame(src_port: u16) -> Vec<u8> {
        let b = etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .udp(src_port, 53);
        let mut out = Vec::new();
        b.write(&mut out, &[1, 2, 3, 4]).unwrap();
        out
    }

    fn put(fp: &mut FastPath<VecPacket>, line: &str) -> FlowRef {
        let f = parse_flow(line).unwrap();
        fp.flows
            .put(
                f.ufid,
                &f.key,
                &f.mask,
                Arc::from(f.actions),
                PutFlags::CREATE,
            )
            .unwrap()
            .flow
    }

    fn fastpath() -> FastPath<VecPacket> {
        let mut emc = Emc::new(1024, 1);
        emc.seed(1);
        FastPath::new(FlowTable::default(), emc)
    }

    #[test]
    fn hits_output_misses_upcall_and_stats_add_up() {
        let mut fp = fastpath();
        fp.set_now_ms(5);
        let r = put(
            &mut fp,
            "in_port(1),eth_type(0x0800),ipv4(proto=17),udp(src=1000), actions:2",
        );
        let stats = PmdStats::new(4);
        let mut out = Out::default();
        let pkts = [frame(1000), frame(1001), frame(1000)];
        fp.process(1, pkts.iter().map(|f| VecPacket::new(f)), &stats, &mut out);
        assert_eq!(out.sent, [(2, pkts[0].clone()), (2, pkts[2].clone())]);
        assert_eq!(out.upcalls, [(true, 0, pkts[1].clone(), 0)]);
        let f = fp.flows.flow(r).unwrap();
        assert_eq!(f.stats.packets, 2);
        assert_eq!(f.stats.bytes, 2 * pkts[0].len() as u64);
        assert_eq!(f.stats.used_ms, 5);
        assert_eq!(stats.megaflow_hits.get(), 2);
        assert_eq!(stats.subtables_probed.get(), 2);
        assert_eq!(stats.misses.get(), 1);
        // The EMC inserts every hit at probability 1: the next burst hits it.
        fp.process(1, [VecPacket::new(&pkts[0])], &stats, &mut out);
        assert_eq!(stats.emc_hits.get(), 1);
        assert_eq!(fp.flows.flow(r).unwrap().stats.packets, 3);
    }

    #[test]
    fn deleted_flow_in_the_emc_is_a_miss() {
        let mut fp = fastpath();
        // Not in_port alone, which would take the simple-match path.
        let r = put(&mut fp, "in_port(1),eth_type(0x0800), actions:2");
        let stats = PmdStats::new(4);
        let mut out = Out::default();
        let f = frame(7);
        fp.process(1, [VecPacket::new(&f)], &stats, &mut out);
        fp.process(1, [VecPacket::new(&f)], &stats, &mut out);
        assert_eq!(stats.emc_hits.get(), 1);
        fp.flows.remove(r).unwrap();
        fp.process(1, [VecPacket::new(&f)], &stats, &mut out);
        assert_eq!(out.sent.len(), 2);
        assert_eq!(out.upcalls.len(), 1);
        assert_eq!(stats.emc_hits.get(), 1);
        assert_eq!(stats.misses.get(), 1);
    }

    #[test]
    fn lost_upcalls_are_counted_and_dropped() {
        let mut fp = fastpath();
        let stats = PmdStats::new(4);
        let mut out = Out {
            refuse_upcalls: true,
            ..Out::default()
        };
        fp.process(1, [VecPacket::new(&frame(1))], &stats, &mut out);
        assert_eq!(
            (
                stats.misses.get(),
                stats.miss_upcalls_lost.get(),
                out.dropped
            ),
            (1, 1, 1)
        );
    }

    #[test]
    fn recirculation_makes_another_pass_with_the_new_id() {
        let mut fp = fastpath();
        put(&mut fp, "recirc_id(0),in_port(1), actions:recirc(0x7)");
        put(
            &mut fp,
            "recirc_id(0x7),in_port(1), actions:userspace(pid=0,userdata(0102030405060708)),3",
        );
        let stats = PmdStats::new(4);
        let mut out = Out::default();
        let f = frame(9);
        fp.process(1, [VecPacket::new(&f)], &stats, &mut out);
        assert_eq!(out.sent, [(3, f.clone())]);
        assert_eq!(out.upcalls.len(), 1);
        assert!(!out.upcalls[0].0);
        assert_eq!(out.upcalls[0].1, 0x0102_0304_0506_0708);
        assert_eq!(out.upcalls[0].3, 7);
        assert_eq!(stats.recirculations.get(), 1);
        assert_eq!(stats.action_upcalls.get(), 1);
    }

    #[test]
    fn recirculation_loops_stop_at_the_depth_limit() {
        let mut fp = fastpath();
        put(&mut fp, "recirc_id(0),in_port(1), actions:recirc(0)");
        let stats = PmdStats::new(4);
        let mut out = Out::default();
        fp.process(1, [VecPacket::new(&frame(9))], &stats, &mut out);
        assert_eq!(stats.recirculations.get(), u64::from(MAX_RECIRC_DEPTH));
        assert_eq!((out.dropped, stats.dropped.get()), (1, 1));
    }

    fn tcp_frame(flags: u8) -> Vec<u8> {
        let b = etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .tcp(1, 2, 0, 1024);
        let mut out = Vec::new();
        b.write(&mut out, &[]).unwrap();
        out[14 + 20 + 13] = flags;
        out
    }

    #[test]
    fn simple_match_forwards_bursts_without_lookup() {
        let mut fp = fastpath();
        fp.set_now_ms(9);
        let r = put(&mut fp, "in_port(1), actions:2");
        let stats = PmdStats::new(4);
        let mut out = Out::default();
        let pkts = [frame(1), tcp_frame(0x12), frame(2), tcp_frame(0x01)];
        fp.process(1, pkts.iter().map(|f| VecPacket::new(f)), &stats, &mut out);
        let want: Vec<_> = pkts.iter().map(|p| (2, p.clone())).collect();
        assert_eq!(out.sent, want);
        let f = fp.flows.flow(r).unwrap();
        assert_eq!(
            (
                f.stats.packets,
                f.stats.bytes,
                f.stats.tcp_flags,
                f.stats.used_ms
            ),
            (4, pkts.iter().map(|p| p.len() as u64).sum(), 0x13, 9)
        );
        assert_eq!(
            (
                stats.megaflow_hits.get(),
                stats.simple_match_hits.get(),
                stats.subtables_probed.get(),
                stats.emc_hits.get()
            ),
            (0, 4, 0, 0)
        );
    }

    #[test]
    fn simple_match_only_for_a_lone_in_port_flow() {
        let mut fp = fastpath();
        put(&mut fp, "in_port(1), actions:2");
        // Port 3's flows match more than in_port: no simple match there.
        let a = put(
            &mut fp,
            "in_port(3),eth_type(0x0800),ipv4(proto=17),udp(src=7), actions:4",
        );
        let b = put(&mut fp, "in_port(3),eth_type(0x0806), actions:4");
        assert!(fp.flows.simple_match(1).is_some());
        assert_eq!(fp.flows.simple_match(3), None);
        let stats = PmdStats::new(8);
        let mut out = Out::default();
        fp.process(3, [VecPacket::new(&frame(7))], &stats, &mut out);
        assert_eq!(out.sent, [(4, frame(7))]);
        assert_eq!(stats.simple_match_hits.get(), 0);
        // Once they are gone an in_port-only flow is simple; after it is
        // removed, nothing is.
        fp.flows.remove(a).unwrap();
        fp.flows.remove(b).unwrap();
        let r = put(&mut fp, "in_port(3), actions:2");
        assert_eq!(fp.flows.simple_match(3), Some(r));
        fp.flows.remove(r).unwrap();
        assert_eq!(fp.flows.simple_match(3), None);
        // A flow on another recirc_id never matches received packets.
        let mut fp = fastpath();
        put(&mut fp, "recirc_id(1),in_port(1), actions:2");
        assert_eq!(fp.flows.simple_match(1), None);
    }

    #[test]
    fn simple_match_with_other_actions_takes_the_full_path() {
        let mut fp = fastpath();
        put(&mut fp, "in_port(1), actions:2,3");
        let stats = PmdStats::new(4);
        let mut out = Out::default();
        fp.process(1, [VecPacket::new(&frame(1))], &stats, &mut out);
        assert_eq!(out.sent, [(2, frame(1)), (3, frame(1))]);
        assert_eq!(
            (stats.simple_match_hits.get(), stats.megaflow_hits.get()),
            (0, 1)
        );
    }

    #[test]
    fn modified_actions_take_effect_on_the_lone_output_path() {
        let mut fp = fastpath();
        let line = "in_port(1),eth_type(0x0800), actions:";
        put(&mut fp, &format!("{line}2"));
        let stats = PmdStats::new(8);
        let mut out = Out::default();
        let f = frame(1);
        let modify = |fp: &mut FastPath<VecPacket>, actions: &str| {
            let p = parse_flow(&format!("{line}{actions}")).unwrap();
            let key = p.key;
            let mask = p.mask;
            fp.flows
                .put(None, &key, &mask, Arc::from(p.actions), PutFlags::MODIFY)
                .unwrap();
        };
        fp.process(1, [VecPacket::new(&f)], &stats, &mut out);
        modify(&mut fp, "3,4");
        fp.process(1, [VecPacket::new(&f)], &stats, &mut out);
        modify(&mut fp, "5");
        fp.process(1, [VecPacket::new(&f)], &stats, &mut out);
        let ports: Vec<u32> = out.sent.iter().map(|(p, _)| *p).collect();
        assert_eq!(ports, [2, 3, 4, 5]);
    }

    #[test]
    fn classifier_partitions_by_in_port() {
        let mut fp = fastpath();
        put(&mut fp, "in_port(2), actions:1");
        let stats = PmdStats::new(4);
        let mut out = Out::default();
        fp.process(1, [VecPacket::new(&frame(1))], &stats, &mut out);
        assert!(out.sent.is_empty());
        assert_eq!(stats.misses.get(), 1);
    }
}
