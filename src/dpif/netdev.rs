//! The control side of the datapath: the one interface between the
//! control lcore and the PMDs.
//!
//! Vocabulary follows dpif (seed 003): flow put / del / flush / dump,
//! execute, upcalls, and the PMD statistics. A [`NetdevDpif`] holds a handle on
//! every PMD: its command, reply, upcall and recycle rings and its
//! counters. Every flow operation is *broadcast*: each PMD gets the same
//! command and owns its own copy of every flow, so a flow applies whichever
//! PMD polls the flow's in_port. `flow_dump` merges the PMDs' copies of a
//! flow (same ufid) into one line, summing packets and bytes, taking the
//! latest `used` and OR-ing the TCP flags; results of put and del are the
//! same sums.
//!
//! Who calls it: the control lcore only (the switch's main loop, the
//! upcall handler, the control socket's handler). A call sends a command and
//! waits, with a timeout, for the PMD's reply, which the PMD sends once the
//! change is in effect for its next packet; so when a call returns, every
//! PMD obeys it (a barrier). [`NetdevDpif::call_many`] pipelines many
//! commands to one PMD in one round trip (the upcall handler's batches).
//! Replies to calls that timed out are recognised by their sequence number
//! and discarded.
//!
//! Upcalls: the upcall handler (crate::upcall) takes them with
//! [`NetdevDpif::take_upcalls`], which also remembers how many of each PMD's
//! numbered upcalls were taken ([`NetdevDpif::drained`]); after a flush,
//! [`NetdevDpif::handle_upcalls`] frees whatever was still queued.

use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pmd::actions::DpAction;
use pmd::command::{Command, CommandOp, PmdChannels, ReplyBody, Upcall, UpcallType};
use pmd::flow::{DpFlow, DpifError, DumpCursor, FlowStats, PutFlags};
use pmd::key::{FlowKey, FlowMask};
use pmd::mbuf::Mbuf;
use pmd::pmd::DUMP_CHUNK;
use pmd::stats::PmdStats;
use thiserror::Error;

/// How many times a wait for a PMD's reply checks again (about 30 ns
/// each) before it sleeps 20 µs between checks. A PMD answers within one
/// poll iteration, a few microseconds, and every new flow's first packet
/// waits for several such replies: spinning ~60 µs keeps those waits short,
/// while a PMD that is really stuck still costs the control lcore little.
const SPINS_BEFORE_SLEEP: u32 = 2000;

/// How long a call waits for a PMD by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// Commands [`NetdevDpif::call_many`] keeps in flight to one PMD: well under
/// the command and reply rings' room, so neither ever refuses.
pub const PIPELINE_DEPTH: usize = 128;

/// Operations per [`CommandOp::Batch`]: enough to make a drain one round
/// trip, few enough that applying one batch keeps a PMD from its rx queues
/// for only tens of microseconds.
pub const BATCH_OPS: usize = 256;

/// Why a datapath call failed.
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum DpifCallError {
    /// The PMD refused the operation (EEXIST, ENOENT, EINVAL, EFBIG).
    #[error(transparent)]
    Flow(#[from] DpifError),
    /// The PMD did not answer in time.
    #[error("PMD {pmd} did not answer within {ms} ms")]
    Timeout { pmd: usize, ms: u128 },
    /// The PMD's command ring is full.
    #[error("PMD {pmd} has too many commands queued; try again")]
    Busy { pmd: usize },
    /// The PMD answered with the reply of another operation.
    #[error("PMD {pmd} gave a reply that does not match the command")]
    Mismatch { pmd: usize },
}

impl DpifCallError {
    /// The errno of a flow error (for callers that report numbers).
    pub fn errno(self) -> Option<i32> {
        match self {
            DpifCallError::Flow(e) => Some(e.errno()),
            _ => None,
        }
    }
}

/// The control side's handle on one PMD.
pub struct PmdHandle {
    /// PMD index (0, 1, …).
    pub id: usize,
    /// The lcore (core) it runs on.
    pub core: u32,
    /// Its NUMA socket.
    pub numa: u32,
    /// Its rings.
    pub channels: Arc<PmdChannels>,
    /// Its counters.
    pub stats: Arc<PmdStats>,
}

/// A copy of a PMD's counters (for show and clear).
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct StatsSnapshot {
    pub rx_packets: u64,
    pub tx_packets: u64,
    pub tx_dropped: u64,
    pub simple_match_hits: u64,
    pub emc_hits: u64,
    pub megaflow_hits: u64,
    pub subtables_probed: u64,
    pub misses: u64,
    pub miss_upcalls_lost: u64,
    pub action_upcalls: u64,
    pub action_upcalls_lost: u64,
    pub recirculations: u64,
    pub dropped: u64,
    pub tx_batches: u64,
    pub tx_batch_packets: u64,
    pub busy_cycles: u64,
    pub idle_cycles: u64,
    pub iterations: u64,
    pub busy_iterations: u64,
}

impl StatsSnapshot {
    /// Reads `s` now.
    pub fn read(s: &PmdStats) -> StatsSnapshot {
        StatsSnapshot {
            rx_packets: s.ports.iter().map(|p| p.rx_packets.get()).sum(),
            tx_packets: s.ports.iter().map(|p| p.tx_packets.get()).sum(),
            tx_dropped: s.ports.iter().map(|p| p.tx_dropped.get()).sum(),
            simple_match_hits: s.simple_match_hits.get(),
            emc_hits: s.emc_hits.get(),
            megaflow_hits: s.megaflow_hits.get(),
            subtables_probed: s.subtables_probed.get(),
            misses: s.misses.get(),
            miss_upcalls_lost: s.miss_upcalls_lost.get(),
            action_upcalls: s.action_upcalls.get(),
            action_upcalls_lost: s.action_upcalls_lost.get(),
            recirculations: s.recirculations.get(),
            dropped: s.dropped.get(),
            tx_batches: s.tx_batches.get(),
            tx_batch_packets: s.tx_batch_packets.get(),
            busy_cycles: s.busy_cycles.get(),
            idle_cycles: s.idle_cycles.get(),
            iterations: s.iterations.get(),
            busy_iterations: s.busy_iterations.get(),
        }
    }

    /// `self - base`, field by field (counters only grow).
    pub fn since(&self, base: &StatsSnapshot) -> StatsSnapshot {
        let d = |a: u64, b: u64| a.wrapping_sub(b);
        StatsSnapshot {
            rx_packets: d(self.rx_packets, base.rx_packets),
            tx_packets: d(self.tx_packets, base.tx_packets),
            tx_dropped: d(self.tx_dropped, base.tx_dropped),
            simple_match_hits: d(self.simple_match_hits, base.simple_match_hits),
            emc_hits: d(self.emc_hits, base.emc_hits),
            megaflow_hits: d(self.megaflow_hits, base.megaflow_hits),
            subtables_probed: d(self.subtables_probed, base.subtables_probed),
            misses: d(self.misses, base.misses),
            miss_upcalls_lost: d(self.miss_upcalls_lost, base.miss_upcalls_lost),
            action_upcalls: d(self.action_upcalls, base.action_upcalls),
            action_upcalls_lost: d(self.action_upcalls_lost, base.action_upcalls_lost),
            recirculations: d(self.recirculations, base.recirculations),
            dropped: d(self.dropped, base.dropped),
            tx_batches: d(self.tx_batches, base.tx_batches),
            tx_batch_packets: d(self.tx_batch_packets, base.tx_batch_packets),
            busy_cycles: d(self.busy_cycles, base.busy_cycles),
            idle_cycles: d(self.idle_cycles, base.idle_cycles),
            iterations: d(self.iterations, base.iterations),
            busy_iterations: d(self.busy_iterations, base.busy_iterations),
        }
    }
}

/// Counts kept by the interim upcall consumer.
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct UpcallCounts {
    /// Miss upcalls received (and freed).
    pub misses: u64,
    /// Action upcalls received (and freed).
    pub actions: u64,
}

/// The datapath as the control lcore sees it.
pub struct NetdevDpif {
    pmds: Vec<PmdHandle>,
    /// Datapath port numbers and names, sorted by number; kept by the
    /// bridge as ports come and go ([`Self::port_added`]).
    port_names: Vec<(u32, String)>,
    seq: u64,
    timeout: Duration,
    /// Per PMD: the counters at the last `pmd-stats-clear`.
    baseline: Vec<StatsSnapshot>,
    upcalls: UpcallCounts,
    /// Per PMD: one past the number of the last upcall taken from it.
    drained: Vec<u64>,
}

impl NetdevDpif {
    /// A datapath over running PMDs, with its ports' names in datapath
    /// port order (1, 2, …).
    pub fn new(pmds: Vec<PmdHandle>, port_names: Vec<String>) -> NetdevDpif {
        let baseline = vec![StatsSnapshot::default(); pmds.len()];
        NetdevDpif {
            drained: vec![0; pmds.len()],
            pmds,
            port_names: (1..).zip(port_names).collect(),
            seq: 0,
            timeout: DEFAULT_TIMEOUT,
            baseline,
            upcalls: UpcallCounts::default(),
        }
    }

    /// Names datapath port `port` in `dpctl/show` (a port added at run time).
    pub fn port_added(&mut self, port: u32, name: &str) {
        self.port_removed(port);
        let at = self.port_names.partition_point(|(p, _)| *p < port);
        self.port_names.insert(at, (port, name.to_owned()));
    }

    /// Forgets datapath port `port` (deleted at run time).
    pub fn port_removed(&mut self, port: u32) {
        self.port_names.retain(|(p, _)| *p != port);
    }

    /// How long calls wait for a PMD.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Changes how long calls wait for a PMD.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// The PMDs.
    pub fn pmds(&self) -> &[PmdHandle] {
        &self.pmds
    }

    /// Sends `op` to PMD `pmd` and waits for its reply.
    pub fn call(&mut self, pmd: usize, op: CommandOp) -> Result<ReplyBody, DpifCallError> {
        self.seq += 1;
        let seq = self.seq;
        let ch = &self.pmds[pmd].channels;
        if ch.commands.enqueue(Box::new(Command { seq, op })).is_err() {
            return Err(DpifCallError::Busy { pmd });
        }
        let deadline = Instant::now() + self.timeout;
        let mut spins = 0u32;
        loop {
            while let Some(reply) = ch.replies.dequeue() {
                if reply.seq == seq {
                    return Ok(reply.body);
                }
                // A late reply to a call that timed out: nobody wants it.
            }
            if Instant::now() >= deadline {
                return Err(DpifCallError::Timeout {
                    pmd,
                    ms: self.timeout.as_millis(),
                });
            }
            // A PMD answers within one poll iteration (microseconds): spin
            // briefly, then yield the core.
            spins += 1;
            if spins < SPINS_BEFORE_SLEEP {
                std::hint::spin_loop();
            } else {
                std::thread::sleep(Duration::from_micros(20));
            }
        }
    }

    /// Sends `ops` to PMD `pmd` and waits for every outcome: the operations
    /// travel in [`CommandOp::Batch`]es of up to [`BATCH_OPS`], each applied
    /// by the PMD in one go between two rx bursts, and the batches are
    /// pipelined, so a drain's worth of executes, puts and releases costs
    /// one round trip, not one per operation. The PMD applies them in order,
    /// so executes put before a flow's put leave before the flow takes
    /// effect. Outcomes come back in the order of `ops`; operations the PMD
    /// did not answer in time get [`DpifCallError::Timeout`].
    pub fn call_many(
        &mut self,
        pmd: usize,
        ops: Vec<CommandOp>,
    ) -> Vec<Result<ReplyBody, DpifCallError>> {
        let mut sizes = Vec::with_capacity(ops.len() / BATCH_OPS + 1);
        let mut batches = Vec::with_capacity(ops.len() / BATCH_OPS + 1);
        let mut ops = ops.into_iter().peekable();
        while ops.peek().is_some() {
            let chunk: Vec<CommandOp> = ops.by_ref().take(BATCH_OPS).collect();
            sizes.push(chunk.len());
            batches.push(CommandOp::Batch(chunk));
        }
        let mut out = Vec::with_capacity(sizes.iter().sum());
        for (r, n) in self.pipeline(pmd, batches).into_iter().zip(sizes) {
            match r {
                Ok(ReplyBody::Batch(bodies)) if bodies.len() == n => {
                    out.extend(bodies.into_iter().map(Ok));
                }
                Ok(_) => out.extend((0..n).map(|_| Err(DpifCallError::Mismatch { pmd }))),
                Err(e) => out.extend((0..n).map(|_| Err(e))),
            }
        }
        out
    }

    /// Sends `ops` to PMD `pmd` back to back, at most [`PIPELINE_DEPTH`] in
    /// flight so the reply ring (shared with nobody: one control lcore)
    /// never overflows, and waits for every reply. Results come back in the
    /// order of `ops`; a command the PMD did not answer in time gets
    /// [`DpifCallError::Timeout`].
    fn pipeline(
        &mut self,
        pmd: usize,
        ops: Vec<CommandOp>,
    ) -> Vec<Result<ReplyBody, DpifCallError>> {
        let n = ops.len();
        let mut results: Vec<Option<Result<ReplyBody, DpifCallError>>> =
            (0..n).map(|_| None).collect();
        let first = self.seq + 1;
        self.seq += n as u64;
        let ch = self.pmds[pmd].channels.clone();
        let mut queue: VecDeque<(usize, CommandOp)> = ops.into_iter().enumerate().collect();
        let (mut in_flight, mut done) = (0usize, 0usize);
        let mut deadline = Instant::now() + self.timeout;
        let mut spins = 0u32;
        while done < n {
            let mut progress = false;
            while in_flight < PIPELINE_DEPTH {
                let Some((i, op)) = queue.pop_front() else {
                    break;
                };
                let cmd = Box::new(Command {
                    seq: first + i as u64,
                    op,
                });
                if let Err(cmd) = ch.commands.enqueue(cmd) {
                    // Full: keep it first in line and wait for replies.
                    queue.push_front((i, cmd.op));
                    break;
                }
                in_flight += 1;
                progress = true;
            }
            while let Some(reply) = ch.replies.dequeue() {
                // Replies of calls that timed out earlier fall outside the range.
                let Some(i) = reply.seq.checked_sub(first).map(|i| i as usize) else {
                    continue;
                };
                if i < n && results[i].is_none() {
                    results[i] = Some(Ok(reply.body));
                    in_flight -= 1;
                    done += 1;
                    progress = true;
                }
            }
            if progress {
                deadline = Instant::now() + self.timeout;
                spins = 0;
                continue;
            }
            if Instant::now() >= deadline {
                break;
            }
            spins += 1;
            if spins < SPINS_BEFORE_SLEEP {
                std::hint::spin_loop();
            } else {
                std::thread::sleep(Duration::from_micros(20));
            }
        }
        let ms = self.timeout.as_millis();
        results
            .into_iter()
            .map(|r| r.unwrap_or(Err(DpifCallError::Timeout { pmd, ms })))
            .collect()
    }

    /// dpif `flow_put` on every PMD. Returns the stats before the change
    /// summed over the PMDs (zero for a create).
    pub fn flow_put(
        &mut self,
        ufid: Option<u128>,
        key: &FlowKey,
        mask: &FlowMask,
        actions: Arc<[DpAction]>,
        flags: PutFlags,
    ) -> Result<FlowStats, DpifCallError> {
        self.broadcast_flow_op(
            || CommandOp::Put {
                ufid,
                key: *key,
                mask: *mask,
                actions: actions.clone(),
                flags,
            },
            |body| match body {
                ReplyBody::Put(r) => Some(r.map(|o| o.stats)),
                _ => None,
            },
        )
    }

    /// dpif `flow_del` on every PMD (by ufid when given). Returns the final
    /// stats summed over the PMDs.
    pub fn flow_del(
        &mut self,
        ufid: Option<u128>,
        key: &FlowKey,
        mask: &FlowMask,
    ) -> Result<FlowStats, DpifCallError> {
        self.broadcast_flow_op(
            || CommandOp::Del {
                ufid,
                key: *key,
                mask: *mask,
            },
            |body| match body {
                ReplyBody::Del(r) => Some(r.map(|f| f.stats)),
                _ => None,
            },
        )
    }

    /// Sends the command `make` builds to every PMD and sums the flow stats
    /// each reply carries (`stats_of` reads them; `None` is a reply to some
    /// other command). Every PMD gets the command even after one fails; the
    /// first error is returned.
    fn broadcast_flow_op(
        &mut self,
        mut make: impl FnMut() -> CommandOp,
        stats_of: impl Fn(ReplyBody) -> Option<Result<FlowStats, DpifError>>,
    ) -> Result<FlowStats, DpifCallError> {
        let mut total = FlowStats::default();
        let mut first_err = None;
        for pmd in 0..self.pmds.len() {
            let err = match self.call(pmd, make()).map(&stats_of) {
                Ok(Some(Ok(stats))) => {
                    add_stats(&mut total, &stats);
                    continue;
                }
                Ok(Some(Err(e))) => DpifCallError::Flow(e),
                Ok(None) => DpifCallError::Mismatch { pmd },
                Err(e) => e,
            };
            first_err.get_or_insert(err);
        }
        first_err.map_or(Ok(total), Err)
    }

    /// dpif `flow_flush`: deletes every flow on every PMD. Returns the
    /// number of flows (distinct over PMDs: the largest count). Upcalls
    /// already queued stay queued: they are translated against the tables
    /// as they are when handled, so a flush (every OpenFlow change makes
    /// one) loses no packet.
    pub fn flow_flush(&mut self) -> Result<usize, DpifCallError> {
        let mut n = 0;
        for pmd in 0..self.pmds.len() {
            match self.call(pmd, CommandOp::Flush)? {
                ReplyBody::Flushed(k) => n = n.max(k),
                _ => return Err(DpifCallError::Mismatch { pmd }),
            }
        }
        Ok(n)
    }

    /// Every flow, merged over the PMDs by ufid, in the order first seen;
    /// with the clock to print `used:` ages against.
    pub fn flow_dump(&mut self) -> Result<(Vec<DpFlow>, u64), DpifCallError> {
        let mut flows: Vec<DpFlow> = Vec::new();
        let mut index: HashMap<u128, usize> = HashMap::new();
        let mut now = 0;
        for pmd in 0..self.pmds.len() {
            let mut cursor = DumpCursor::default();
            loop {
                let op = CommandOp::Dump {
                    cursor,
                    max: DUMP_CHUNK,
                };
                let ReplyBody::Dump {
                    flows: chunk,
                    next,
                    now_ms,
                } = self.call(pmd, op)?
                else {
                    return Err(DpifCallError::Mismatch { pmd });
                };
                now = now.max(now_ms);
                for f in chunk {
                    match index.get(&f.ufid) {
                        Some(&i) => add_stats(&mut flows[i].stats, &f.stats),
                        None => {
                            index.insert(f.ufid, flows.len());
                            flows.push(f);
                        }
                    }
                }
                match next {
                    Some(c) => cursor = c,
                    None => break,
                }
            }
        }
        Ok((flows, now))
    }

    /// dpif `execute` on PMD `pmd`: its outputs leave through that PMD's
    /// transmit queues.
    pub fn execute(
        &mut self,
        pmd: usize,
        pkt: Mbuf,
        in_port: u32,
        actions: Arc<[DpAction]>,
    ) -> Result<(), DpifCallError> {
        match self.call(
            pmd,
            CommandOp::Execute {
                pkt,
                in_port,
                actions,
            },
        )? {
            ReplyBody::Executed => Ok(()),
            _ => Err(DpifCallError::Mismatch { pmd }),
        }
    }

    /// Flows and subtables on PMD `pmd`; waits until it applied every
    /// earlier command.
    pub fn status(&mut self, pmd: usize) -> Result<(usize, usize), DpifCallError> {
        match self.call(pmd, CommandOp::Status)? {
            ReplyBody::Status {
                n_flows,
                n_subtables,
                ..
            } => Ok((n_flows, n_subtables)),
            _ => Err(DpifCallError::Mismatch { pmd }),
        }
    }

    /// Takes up to `max` queued upcalls from every PMD, in each PMD's order,
    /// for the upcall handler; each box goes back with [`Self::recycle`].
    pub fn take_upcalls(&mut self, out: &mut Vec<Box<Upcall>>, max: usize) -> usize {
        let start = out.len();
        for h in &self.pmds {
            while out.len() - start < max {
                let room = (max - (out.len() - start)).min(64);
                if h.channels.upcalls.dequeue_burst(out, room) == 0 {
                    break;
                }
            }
        }
        for up in &out[start..] {
            if let Some(d) = self.drained.get_mut(up.pmd) {
                *d = (*d).max(up.seq + 1);
            }
            match up.kind {
                UpcallType::Miss => self.upcalls.misses += 1,
                UpcallType::Action => self.upcalls.actions += 1,
            }
        }
        out.len() - start
    }

    /// How many of PMD `pmd`'s upcalls have been taken (the number of the
    /// next one expected), for [`CommandOp::Release`].
    pub fn drained(&self, pmd: usize) -> u64 {
        self.drained.get(pmd).copied().unwrap_or(0)
    }

    /// Hands an upcall box (its packet already taken or freed) back to its PMD.
    pub fn recycle(&mut self, mut up: Box<Upcall>) {
        up.pkt = None;
        if let Some(h) = self.pmds.get(up.pmd) {
            // The recycle ring has room for every box the PMD owns.
            let _ = h.channels.recycle.enqueue(up);
        }
    }

    /// The interim upcall consumer: takes every queued upcall, counts it,
    /// frees its packet and gives the box back to its PMD. Returns how many.
    pub fn handle_upcalls(&mut self) -> usize {
        let mut n = 0;
        let mut batch = Vec::with_capacity(64);
        for h in &self.pmds {
            loop {
                batch.clear();
                if h.channels.upcalls.dequeue_burst(&mut batch, 64) == 0 {
                    break;
                }
                n += batch.len();
                for mut up in batch.drain(..) {
                    if let Some(d) = self.drained.get_mut(up.pmd) {
                        *d = (*d).max(up.seq + 1);
                    }
                    match up.kind {
                        UpcallType::Miss => self.upcalls.misses += 1,
                        UpcallType::Action => self.upcalls.actions += 1,
                    }
                    up.pkt = None;
                    // The recycle ring has room for every box the PMD
                    // owns; if not, the box is simply freed here.
                    let _ = h.channels.recycle.enqueue(up);
                }
            }
        }
        n
    }

    /// What the upcall consumer has seen.
    pub fn upcall_counts(&self) -> UpcallCounts {
        self.upcalls
    }

    /// A PMD's counters since the last clear.
    pub fn pmd_stats(&self, pmd: usize) -> StatsSnapshot {
        StatsSnapshot::read(&self.pmds[pmd].stats).since(&self.baseline[pmd])
    }

    /// `dpif-netdev/pmd-stats-clear`: later shows count from now.
    pub fn pmd_stats_clear(&mut self) {
        for (b, h) in self.baseline.iter_mut().zip(&self.pmds) {
            *b = StatsSnapshot::read(&h.stats);
        }
    }

    /// `dpctl/show [-s]`: lookups, flows and masks over all PMDs, the
    /// ports, and with `stats` each port's packet counters (as the PMDs
    /// count them: received, sent, and refused by the device on send).
    pub fn show(&mut self, stats: bool) -> Result<String, DpifCallError> {
        let (mut n_flows, mut n_masks) = (0, 0);
        for pmd in 0..self.pmds.len() {
            let (f, m) = self.status(pmd)?;
            n_flows = n_flows.max(f);
            n_masks = n_masks.max(m);
        }
        let mut t = StatsSnapshot::default();
        for h in &self.pmds {
            let s = StatsSnapshot::read(&h.stats);
            t.emc_hits += s.emc_hits;
            t.megaflow_hits += s.megaflow_hits;
            t.subtables_probed += s.subtables_probed;
            t.misses += s.misses;
            t.miss_upcalls_lost += s.miss_upcalls_lost;
        }
        let hits = t.emc_hits + t.megaflow_hits;
        let mut out = String::from("netdev@ferrovs:\n");
        let _ = writeln!(
            out,
            "  lookups: hit:{hits} missed:{} lost:{}",
            t.misses, t.miss_upcalls_lost
        );
        let _ = writeln!(out, "  flows: {n_flows}");
        let _ = writeln!(
            out,
            "  masks: hit:{} total:{n_masks} hit/pkt:{:.2}",
            t.subtables_probed,
            ratio(t.subtables_probed, hits + t.misses)
        );
        for (port, name) in &self.port_names {
            let port = *port as usize;
            let _ = writeln!(out, "  port {port}: {name}");
            if !stats {
                continue;
            }
            let (mut rx, mut rx_bytes, mut tx, mut tx_bytes, mut tx_dropped) = (0, 0, 0, 0, 0);
            for h in &self.pmds {
                if let Some(c) = h.stats.ports.get(port) {
                    rx += c.rx_packets.get();
                    rx_bytes += c.rx_bytes.get();
                    tx += c.tx_packets.get();
                    tx_bytes += c.tx_bytes.get();
                    tx_dropped += c.tx_dropped.get();
                }
            }
            let _ = writeln!(out, "    RX packets:{rx} bytes:{rx_bytes}");
            let _ = writeln!(
                out,
                "    TX packets:{tx} bytes:{tx_bytes} dropped:{tx_dropped}"
            );
        }
        Ok(out)
    }

    /// `dpif-netdev/pmd-stats-show`, shaped like Open vSwitch's.
    pub fn pmd_stats_show(&self) -> String {
        let mut out = String::new();
        for (i, h) in self.pmds.iter().enumerate() {
            format_pmd_stats(&mut out, h.numa, h.core, &self.pmd_stats(i));
        }
        out
    }
}

fn add_stats(total: &mut FlowStats, s: &FlowStats) {
    total.packets += s.packets;
    total.bytes += s.bytes;
    total.tcp_flags |= s.tcp_flags;
    total.used_ms = total.used_ms.max(s.used_ms);
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// One PMD's block of `pmd-stats-show`.
pub fn format_pmd_stats(out: &mut String, numa: u32, core: u32, s: &StatsSnapshot) {
    let passes = s.rx_packets + s.recirculations;
    let total_cycles = s.busy_cycles + s.idle_cycles;
    let pct = |c: u64| 100.0 * ratio(c, total_cycles);
    let _ = writeln!(out, "pmd thread numa_id {numa} core_id {core}:");
    let _ = writeln!(out, "  packets received: {}", s.rx_packets);
    let _ = writeln!(out, "  packet recirculations: {}", s.recirculations);
    let _ = writeln!(
        out,
        "  avg. datapath passes per packet: {:.2}",
        ratio(passes, s.rx_packets)
    );
    let _ = writeln!(out, "  simple match hits: {}", s.simple_match_hits);
    let _ = writeln!(out, "  emc hits: {}", s.emc_hits);
    let _ = writeln!(out, "  smc hits: 0");
    let _ = writeln!(out, "  megaflow hits: {}", s.megaflow_hits);
    let _ = writeln!(
        out,
        "  avg. subtable lookups per megaflow hit: {:.2}",
        ratio(s.subtables_probed, s.megaflow_hits)
    );
    let _ = writeln!(
        out,
        "  miss with success upcall: {}",
        s.misses - s.miss_upcalls_lost.min(s.misses)
    );
    let _ = writeln!(out, "  miss with failed upcall: {}", s.miss_upcalls_lost);
    let _ = writeln!(
        out,
        "  avg. packets per output batch: {:.2}",
        ratio(s.tx_batch_packets, s.tx_batches)
    );
    let _ = writeln!(
        out,
        "  idle cycles: {} ({:.2}%)",
        s.idle_cycles,
        pct(s.idle_cycles)
    );
    let _ = writeln!(
        out,
        "  processing cycles: {} ({:.2}%)",
        s.busy_cycles,
        pct(s.busy_cycles)
    );
    let _ = writeln!(
        out,
        "  avg cycles per packet: {:.2} ({}/{})",
        ratio(total_cycles, passes),
        total_cycles,
        passes
    );
    let _ = writeln!(
        out,
        "  avg processing cycles per packet: {:.2} ({}/{})",
        ratio(s.busy_cycles, passes),
        s.busy_cycles,
        passes
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_block_is_shaped_like_ovs() {
        let s = StatsSnapshot {
            rx_packets: 100,
            recirculations: 20,
            simple_match_hits: 5,
            emc_hits: 70,
            megaflow_hits: 40,
            subtables_probed: 60,
            misses: 10,
            miss_upcalls_lost: 2,
            tx_batches: 4,
            tx_batch_packets: 90,
            busy_cycles: 3000,
            idle_cycles: 1000,
            ..StatsSnapshot::default()
        };
        let mut out = String::new();
        format_pmd_stats(&mut out, 0, 1, &s);
        assert_eq!(
            out,
            "pmd thread numa_id 0 core_id 1:\n\
             \x20 packets received: 100\n\
             \x20 packet recirculations: 20\n\
             \x20 avg. datapath passes per packet: 1.20\n\
             \x20 simple match hits: 5\n\
             \x20 emc hits: 70\n\
             \x20 smc hits: 0\n\
             \x20 megaflow hits: 40\n\
             \x20 avg. subtable lookups per megaflow hit: 1.50\n\
             \x20 miss with success upcall: 8\n\
             \x20 miss with failed upcall: 2\n\
             \x20 avg. packets per output batch: 22.50\n\
             \x20 idle cycles: 1000 (25.00%)\n\
             \x20 processing cycles: 3000 (75.00%)\n\
             \x20 avg cycles per packet: 33.33 (4000/120)\n\
             \x20 avg processing cycles per packet: 25.00 (3000/120)\n"
        );
    }
}
