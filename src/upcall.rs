//! Upcall handling and revalidation on the control lcore.
//!
//! Vocabulary: a *miss* upcall is a packet no megaflow matched; an *action*
//! upcall is a packet a `userspace` action sent up (here: to the controller).
//! A *megaflow* is the datapath flow a miss turns into: the translated
//! actions under the mask of the bits the translation looked at. The handler
//! keeps one [`Megaflow`] record per megaflow it installed: the exact key of
//! the packet that made it, what it was translated to, and the PMDs that
//! hold it.
//!
//! Upcalls ([`UpcallHandler::handle`]): the PMDs' upcall rings are drained
//! in one batch. Each miss is looked up among the megaflows already made
//! (under each of their masks), so a flow is translated once however many of
//! its packets missed, in this batch or while its megaflow was on its way to
//! the PMD. A megaflow is installed only into the PMDs that missed it (put
//! again, once per drain, for each PMD a miss of it still comes from, so a
//! flow deleted by hand comes back on its next miss). Every packet is
//! executed with its flow's actions through the PMD it came from.
//! Each PMD gets one pipelined batch per drain ([`crate::dpif::netdev::NetdevDpif::call_many`]):
//! the executes, in ring order, then the puts, then the releases. A new
//! megaflow goes in *held* (pmd::hold): its packets keep coming up behind
//! the misses, and the PMD releases it (puts its real actions in) only once
//! every packet of it that went up has been taken and executed, parking the
//! flow's packets meanwhile. So no packet of a new flow is lost to the
//! install or overtaken by a later one. Each packet that missed is credited
//! to the rules, group buckets and tables it went through (the megaflow's
//! counters see the rest, held packets included) and passes the meters its
//! translation named: a flow with meters is never installed, since the
//! datapath cannot police, so every one of its packets comes up and a meter
//! that refuses one drops it. Action upcalls become packet-ins for connmgr.
//!
//! Revalidation after a change ([`UpcallHandler::revalidate_changes`]): an
//! OpenFlow change (rules, groups, meters, port config) marks every
//! megaflow suspect; a change of NORMAL's MAC learning table marks only the
//! megaflows whose translation went through NORMAL. Each suspect is
//! translated again from its exact key ([`check_megaflow`]) and
//! - *deleted* when a rule that made it is gone, when the new translation
//!   looked at bits outside the installed mask (the megaflow would cover
//!   packets the new answer does not fit) or needs meters;
//! - *fixed* (its actions replaced in place, its stats credited so far to
//!   the old rules) when the answer changed but still fits the mask;
//! - *kept* otherwise.
//!
//! The switch runs this before it handles the next upcall and before it
//! answers a barrier; the call returns only once every PMD has applied
//! every change, so a barrier reply means no packet received after it can
//! leave by a deleted or changed rule. If a PMD does not answer, every
//! megaflow is flushed instead: slower, never wrong.
//!
//! A port deleted at run time takes its megaflows with it
//! ([`UpcallHandler::forget_port`]); misses from a port ofproto no longer
//! knows (queued before the port went) are dropped, not translated.
//!
//! Periodic revalidation ([`UpcallHandler::revalidate`], once a second):
//! pulls each megaflow's counters into the OpenFlow rules that made it (so
//! `dump-flows` and idle timeouts see datapath traffic) and deletes
//! megaflows idle for longer than the idle limit (10 s).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pmd::actions::DpAction;
use pmd::command::{CommandOp, ReplyBody, Upcall, UpcallType};
use pmd::flow::{derive_ufid, DpifError as DpFlowError, FlowStats, PutFlags};
use pmd::hold::{hold_actions, hold_ufid};
use pmd::key::{FlowKey, FlowMask};

use crate::bridge::NetdevBridge;
use crate::continuation;
use crate::dpif::netdev::DpifCallError;
use crate::dpif::Dpif;
use crate::ofp::port::OFPP_NORMAL;
use crate::ofp::{Action, Instruction};
use crate::ofproto::{AsyncEvent, Millis, Ofproto, RuleId};
use crate::xlate::normal::Fdb;
use crate::xlate::{self, ControllerUserdata, TableMiss, XlateConfig, XlateCtx, XlateOutput};

/// Upcalls taken from the rings per drain: a whole ring's worth.
const BATCH: usize = pmd::command::UPCALL_RING_SIZE as usize;

/// What a translation decided, as a megaflow needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Translated {
    pub actions: Arc<[DpAction]>,
    pub mask: FlowMask,
    pub rules: Vec<RuleId>,
    /// The (group, bucket)s its packets go through, credited like the rules.
    pub groups: Vec<(u32, usize)>,
    /// The table lookups its packets stand for, credited to table stats.
    pub tables: Vec<(u8, bool)>,
    /// Meters every packet must pass, in order, before its actions run.
    pub meters: Vec<u32>,
    /// Whether a rule or bucket on the way output to NORMAL: such a
    /// megaflow depends on the MAC learning table too.
    pub normal: bool,
}

impl Translated {
    fn new<D: Dpif>(ofproto: &Ofproto<D>, out: XlateOutput) -> Translated {
        let normal = uses_normal(ofproto, &out.rules, &out.groups);
        Translated {
            actions: Arc::from(out.actions),
            mask: out.mask,
            rules: out.rules,
            groups: out.groups,
            tables: out.tables,
            meters: out.meters,
            normal,
        }
    }

    /// Whether the stats bookkeeping (who gets credited) is the same.
    fn same_credit(&self, m: &Megaflow) -> bool {
        self.rules == m.t.rules && self.groups == m.t.groups && self.tables == m.t.tables
    }
}

/// Whether any of `rules` or of the group buckets outputs to NORMAL.
fn uses_normal<D: Dpif>(ofproto: &Ofproto<D>, rules: &[RuleId], groups: &[(u32, usize)]) -> bool {
    let normal = |actions: &[Action]| {
        actions
            .iter()
            .any(|a| matches!(a, Action::Output { port, .. } if *port == OFPP_NORMAL))
    };
    let in_rules = rules.iter().filter_map(|&r| ofproto.rule(r)).any(|r| {
        r.instructions.iter().any(|i| match i {
            Instruction::ApplyActions(a) | Instruction::WriteActions(a) => normal(a),
            _ => false,
        })
    });
    in_rules
        || groups
            .iter()
            .filter_map(|&(g, b)| ofproto.group(g)?.buckets.get(b))
            .any(|b| normal(&b.actions))
}

/// Whether `actions` output to `dp_port`, at any depth.
fn sends_to(actions: &[DpAction], dp_port: u32) -> bool {
    actions.iter().any(|a| match a {
        DpAction::Output(p) => *p == dp_port,
        DpAction::Clone(inner) => sends_to(inner, dp_port),
        _ => false,
    })
}

/// What the handler remembers of an installed megaflow.
#[derive(Debug, Clone)]
pub struct Megaflow {
    /// The exact key of the packet that made it (translated again on
    /// revalidation, as that packet would be).
    pub key: FlowKey,
    /// What it was translated to; `t.mask` is the installed mask.
    pub t: Translated,
    /// Bit `i`: installed on PMD `i`.
    pub pmds: u64,
    /// Bit `i`: on PMD `i` it still holds its packets (sends them up)
    /// until released.
    pub held: u64,
    /// Datapath counters (summed over PMDs) already credited to the rules.
    pub packets: u64,
    pub bytes: u64,
}

impl Megaflow {
    pub fn new(key: FlowKey, t: Translated) -> Megaflow {
        Megaflow {
            key,
            t,
            pmds: 0,
            held: 0,
            packets: 0,
            bytes: 0,
        }
    }

    /// The datapath's id of the megaflow.
    pub fn ufid(&self) -> u128 {
        derive_ufid(&self.key.masked(&self.t.mask), &self.t.mask)
    }

    fn pmd_list(&self) -> impl Iterator<Item = usize> + '_ {
        (0..64).filter(move |i| self.pmds & (1u64 << i) != 0)
    }
}

/// What revalidation does with one megaflow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Keep,
    /// Replace its actions (and who its packets are credited to).
    Fix(Box<Translated>),
    Delete,
}

/// Which megaflows a change makes suspect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// OpenFlow changed: every megaflow.
    All,
    /// Only MAC learning changed: the megaflows that went through NORMAL.
    Normal,
}

impl Scope {
    fn covers(self, m: &Megaflow) -> bool {
        self == Scope::All || m.t.normal
    }

    fn widen(a: Option<Scope>, b: Scope) -> Scope {
        match (a, b) {
            (Some(Scope::All), _) | (_, Scope::All) => Scope::All,
            _ => Scope::Normal,
        }
    }
}

/// Whether every bit of `inner` is in `outer`.
fn mask_within(inner: &FlowMask, outer: &FlowMask) -> bool {
    inner
        .words
        .iter()
        .zip(outer.words.iter())
        .all(|(i, o)| i & !o == 0)
}

/// Translates megaflow `m` again against the tables and FDB as they are now
/// and decides its fate (see the module comment).
pub fn check_megaflow<D: Dpif>(
    ofproto: &Ofproto<D>,
    fdb: &Fdb,
    config: &XlateConfig,
    now: Millis,
    m: &Megaflow,
) -> Verdict {
    if m.t.rules.iter().any(|&r| ofproto.rule(r).is_none()) {
        return Verdict::Delete;
    }
    let out = {
        let ctx = XlateCtx {
            pipeline: ofproto,
            fdb,
            config,
            now,
            may_learn: false,
        };
        xlate::translate(&ctx, &m.key, None)
    };
    let t = Translated::new(ofproto, out);
    if !t.meters.is_empty() || !mask_within(&t.mask, &m.t.mask) {
        return Verdict::Delete;
    }
    if t.actions == m.t.actions && t.same_credit(m) && t.normal == m.t.normal {
        return Verdict::Keep;
    }
    // The megaflow keeps the mask it was installed with: the new answer
    // depends on fewer bits, so it fits every packet the megaflow covers.
    Verdict::Fix(Box::new(Translated {
        mask: m.t.mask,
        ..t
    }))
}

/// The verdicts for every megaflow of `scope` that is not kept.
pub fn plan<D: Dpif>(
    ofproto: &Ofproto<D>,
    fdb: &Fdb,
    config: &XlateConfig,
    now: Millis,
    megaflows: &HashMap<u128, Megaflow>,
    scope: Scope,
) -> Vec<(u128, Verdict)> {
    megaflows
        .iter()
        .filter(|(_, m)| scope.covers(m))
        .filter_map(
            |(&ufid, m)| match check_megaflow(ofproto, fdb, config, now, m) {
                Verdict::Keep => None,
                v => Some((ufid, v)),
            },
        )
        .collect()
}

/// Counters, for `upcall/show` and tests.
#[derive(Debug, Default, Clone, Copy)]
pub struct UpcallStats {
    pub misses: u64,
    pub translations: u64,
    pub installed: u64,
    pub install_failed: u64,
    pub executed: u64,
    pub packet_ins: u64,
    /// Packets a meter refused.
    pub metered_drops: u64,
    pub expired: u64,
    /// Revalidation passes after a change.
    pub invalidations: u64,
    /// Packets of held megaflows handled here (not counted in `misses`).
    pub held: u64,
    /// Megaflows revalidation fixed in place.
    pub fixed: u64,
    /// Megaflows revalidation deleted.
    pub revalidated_away: u64,
    /// Times a PMD did not answer and every megaflow was flushed instead.
    pub flushes: u64,
}

/// One PMD's share of a drain: executes first, then puts.
#[derive(Default)]
struct PmdBatch {
    executes: Vec<CommandOp>,
    /// (ufid, put) of megaflows new to this PMD, held.
    puts: Vec<(u128, CommandOp)>,
    /// (ufid, release) of held megaflows.
    releases: Vec<(u128, CommandOp)>,
}

/// The control lcore's upcall handler and revalidator.
pub struct UpcallHandler {
    pub fdb: Fdb,
    pub config: XlateConfig,
    /// Megaflows idle this long are deleted.
    pub idle_limit: Duration,
    megaflows: HashMap<u128, Megaflow>,
    /// The distinct masks of `megaflows`, with how many use each: a miss is
    /// looked up under each.
    masks: Vec<(FlowMask, usize)>,
    /// Changes not yet revalidated.
    dirty: Option<Scope>,
    /// Megaflows held on some PMD.
    holding: HashSet<u128>,
    /// The table-miss policy the megaflows were made under (it follows the
    /// controller's OpenFlow version, which may change).
    made_with: TableMiss,
    // Boxes travel through the rings and are recycled; they stay boxed.
    #[allow(clippy::vec_box)]
    batch: Vec<Box<Upcall>>,
    /// When each upcall of the last drain was queued by its PMD (TSC).
    queued_tscs: Vec<u64>,
    /// Seconds from queueing to the end of its drain, per upcall of the
    /// last drain: the upcall latency histogram's samples.
    latencies: Vec<f64>,
    last_revalidate: Instant,
    pub stats: UpcallStats,
}

/// The OpenFlow port number of a datapath port.
fn of_port(dp_port: u32) -> u32 {
    crate::ofproto::ofp_port_of(dp_port)
}

/// Credits `packets`/`bytes` of megaflow translation `t` to its rules,
/// group buckets and tables.
fn credit<D: Dpif>(
    ofproto: &mut Ofproto<D>,
    t: &Translated,
    packets: u64,
    bytes: u64,
    now: Millis,
) {
    if packets == 0 {
        return;
    }
    for &r in &t.rules {
        ofproto.credit_rule(r, packets, bytes, now);
    }
    ofproto.credit_groups(&t.groups, packets, bytes);
    for &(table, matched) in &t.tables {
        ofproto.credit_table(table, packets, if matched { packets } else { 0 });
    }
}

impl UpcallHandler {
    pub fn new(fdb: Fdb, config: XlateConfig) -> UpcallHandler {
        UpcallHandler {
            made_with: config.table_miss,
            fdb,
            config,
            idle_limit: Duration::from_secs(10),
            megaflows: HashMap::new(),
            masks: Vec::new(),
            dirty: None,
            holding: HashSet::new(),
            batch: Vec::with_capacity(BATCH),
            queued_tscs: Vec::with_capacity(BATCH),
            latencies: Vec::with_capacity(BATCH),
            last_revalidate: Instant::now(),
            stats: UpcallStats::default(),
        }
    }

    fn insert_megaflow(&mut self, ufid: u128, m: Megaflow) {
        match self.masks.iter_mut().find(|(mask, _)| *mask == m.t.mask) {
            Some((_, n)) => *n += 1,
            None => self.masks.push((m.t.mask, 1)),
        }
        if let Some(old) = self.megaflows.insert(ufid, m) {
            self.release_mask(&old.t.mask);
        }
    }

    fn remove_megaflow(&mut self, ufid: u128) -> Option<Megaflow> {
        self.holding.remove(&ufid);
        let m = self.megaflows.remove(&ufid)?;
        self.release_mask(&m.t.mask);
        Some(m)
    }

    fn release_mask(&mut self, mask: &FlowMask) {
        if let Some(i) = self.masks.iter().position(|(m, _)| m == mask) {
            self.masks[i].1 -= 1;
            if self.masks[i].1 == 0 {
                self.masks.swap_remove(i);
            }
        }
    }

    /// The megaflow (installed or on its way) that covers `key`.
    fn lookup(&self, key: &FlowKey) -> Option<u128> {
        self.masks.iter().find_map(|(mask, _)| {
            let ufid = derive_ufid(&key.masked(mask), mask);
            let m = self.megaflows.get(&ufid)?;
            (m.t.mask == *mask && m.key.masked(mask) == key.masked(mask)).then_some(ufid)
        })
    }

    /// A new table-miss policy makes every megaflow suspect.
    fn note_config(&mut self) {
        if self.config.table_miss != self.made_with {
            self.made_with = self.config.table_miss;
            self.mark(Scope::All);
        }
    }

    /// Handles queued upcalls; returns how many, and the packet-ins to send.
    pub fn handle(
        &mut self,
        ofproto: &mut Ofproto<NetdevBridge>,
        now: Millis,
    ) -> (usize, Vec<AsyncEvent>) {
        // Nothing is translated while a megaflow is stale.
        self.note_config();
        self.revalidate_changes(ofproto, now);
        let mut events = Vec::new();
        self.batch.clear();
        self.latencies.clear();
        let n = ofproto
            .dpif_mut()
            .netdev
            .take_upcalls(&mut self.batch, BATCH);
        if n == 0 && self.holding.is_empty() {
            return (0, events);
        }
        let n_pmds = ofproto.dpif().netdev.pmds().len();
        let mut per_pmd: Vec<PmdBatch> = (0..n_pmds).map(|_| PmdBatch::default()).collect();
        // Flows with meters are never installed: one translation per exact
        // key per drain.
        let mut metered: HashMap<FlowKey, Arc<Translated>> = HashMap::new();
        // (megaflow, PMD) pairs with a put in this drain's batches.
        let mut queued: HashSet<(u128, usize)> = HashSet::new();
        let mut batch = std::mem::take(&mut self.batch);
        self.queued_tscs.clear();
        self.queued_tscs
            .extend(batch.iter().map(|up| up.queued_tsc));
        for mut up in batch.drain(..) {
            let Some(pkt) = up.pkt.take() else {
                ofproto.dpif_mut().netdev.recycle(up);
                continue;
            };
            // A packet of a held flow: the datapath counted it already.
            let held_hit = hold_ufid(up.cookie, &up.userdata).is_some();
            if up.kind == UpcallType::Action && !held_hit {
                if let Some(ud) = ControllerUserdata::decode(up.cookie, &up.userdata) {
                    self.stats.packet_ins += 1;
                    events.push(AsyncEvent::PacketIn(continuation::packet_in_event(
                        ud,
                        of_port(up.in_port),
                        pkt.data().to_vec(),
                        ofproto.datapath_id(),
                    )));
                }
                drop(pkt);
                ofproto.dpif_mut().netdev.recycle(up);
                continue;
            }
            if up.in_port != 0 && ofproto.port(of_port(up.in_port)).is_none() {
                // Received just before its port was deleted: a megaflow for
                // it would outlive the port.
                drop(pkt);
                ofproto.dpif_mut().netdev.recycle(up);
                continue;
            }
            if held_hit {
                self.stats.held += 1;
            } else {
                self.stats.misses += 1;
            }
            let len = pkt.data().len() as u64;
            let charge = if held_hit { 0 } else { 1 };
            let pmd = up.pmd;
            if pmd >= n_pmds {
                ofproto.dpif_mut().netdev.recycle(up);
                continue;
            }
            let actions = if let Some(ufid) = self.lookup(&up.key) {
                // Translated already (this drain or an earlier one).
                let Some(m) = self.megaflows.get_mut(&ufid) else {
                    ofproto.dpif_mut().netdev.recycle(up);
                    continue;
                };
                // A miss (not a held packet) after the megaflow was made:
                // put it again, held, once per drain. Either its put is
                // still on the way, and the PMD answers "exists", or the
                // flow went behind our back (dpctl/del-flow) and comes back.
                if !held_hit && queued.insert((ufid, pmd)) {
                    m.pmds |= 1 << pmd;
                    m.held |= 1 << pmd;
                    self.holding.insert(ufid);
                    per_pmd[pmd].puts.push((ufid, hold_put(ufid, m)));
                }
                credit(ofproto, &m.t, charge, charge * len, now);
                m.t.actions.clone()
            } else if let Some(t) = metered.get(&up.key).cloned() {
                credit(ofproto, &t, charge, charge * len, now);
                if !self.meters_admit(ofproto, &t, len, now) {
                    ofproto.dpif_mut().netdev.recycle(up);
                    continue;
                }
                t.actions.clone()
            } else {
                let t = self.translate(ofproto, &up.key, pkt.data(), now);
                credit(ofproto, &t, charge, charge * len, now);
                if t.meters.is_empty() {
                    let actions = t.actions.clone();
                    let mut m = Megaflow::new(up.key, t);
                    m.pmds = 1 << pmd;
                    m.held = 1 << pmd;
                    let ufid = m.ufid();
                    queued.insert((ufid, pmd));
                    per_pmd[pmd].puts.push((ufid, hold_put(ufid, &m)));
                    self.holding.insert(ufid);
                    self.insert_megaflow(ufid, m);
                    actions
                } else {
                    let t = Arc::new(t);
                    metered.insert(up.key, t.clone());
                    if !self.meters_admit(ofproto, &t, len, now) {
                        ofproto.dpif_mut().netdev.recycle(up);
                        continue;
                    }
                    t.actions.clone()
                }
            };
            per_pmd[pmd].executes.push(CommandOp::Execute {
                pkt,
                in_port: up.in_port,
                actions,
            });
            ofproto.dpif_mut().netdev.recycle(up);
        }
        self.batch = batch;
        // Every held megaflow asks to be released, after this drain's
        // executes: the PMD agrees once none of its packets can still be on
        // the way up.
        for &ufid in &self.holding {
            let Some(m) = self.megaflows.get(&ufid) else {
                continue;
            };
            for pmd in m
                .pmd_list()
                .filter(|&p| p < n_pmds && m.held & (1 << p) != 0)
            {
                let op = CommandOp::Release {
                    ufid,
                    key: m.key.masked(&m.t.mask),
                    mask: m.t.mask,
                    actions: m.t.actions.clone(),
                    drained: ofproto.dpif().netdev.drained(pmd),
                };
                per_pmd[pmd].releases.push((ufid, op));
            }
        }
        self.send_batches(ofproto, per_pmd);
        // Every upcall of the drain is now installed, executed or answered.
        let done = pmd::lcore::tsc();
        let hz = pmd::lcore::tsc_hz().max(1) as f64;
        self.latencies.extend(
            self.queued_tscs
                .iter()
                .map(|&q| done.saturating_sub(q) as f64 / hz),
        );
        // MAC learning during this drain may have changed where NORMAL sends
        // traffic: fix those megaflows now, before anything else runs.
        self.revalidate_changes(ofproto, now);
        (n, events)
    }

    /// Per upcall of the last [`UpcallHandler::handle`]: seconds from the
    /// PMD queueing it to the end of the drain that handled it.
    pub fn last_latencies(&self) -> &[f64] {
        &self.latencies
    }

    /// Whether every meter of `t` admits a packet of `len` bytes; counts
    /// the drop when one refuses.
    fn meters_admit(
        &mut self,
        ofproto: &mut Ofproto<NetdevBridge>,
        t: &Translated,
        len: u64,
        now: Millis,
    ) -> bool {
        let ok = t
            .meters
            .iter()
            .all(|&m| ofproto.meter_admit(m, len as usize, now));
        if !ok {
            self.stats.metered_drops += 1;
        }
        ok
    }

    /// Sends each PMD its executes, then its puts, then its releases, in
    /// one pipelined batch, and records what happened.
    fn send_batches(&mut self, ofproto: &mut Ofproto<NetdevBridge>, per_pmd: Vec<PmdBatch>) {
        for (pmd, b) in per_pmd.into_iter().enumerate() {
            let n_exec = b.executes.len();
            let mut ops = b.executes;
            let mut ufids = Vec::with_capacity(b.puts.len() + b.releases.len());
            for (ufid, op) in b.puts.into_iter().chain(b.releases) {
                ufids.push(ufid);
                ops.push(op);
            }
            if ops.is_empty() {
                continue;
            }
            let results = ofproto.dpif_mut().netdev.call_many(pmd, ops);
            for (i, r) in results.into_iter().enumerate() {
                if i < n_exec {
                    // A PMD that is slow to answer loses the packet, as a
                    // full upcall ring would.
                    if matches!(r, Ok(ReplyBody::Executed)) {
                        self.stats.executed += 1;
                    }
                    continue;
                }
                let ufid = ufids[i - n_exec];
                match r {
                    Ok(ReplyBody::Put(Ok(_))) => self.stats.installed += 1,
                    // Already there (a put of an earlier drain, or a flow
                    // covering it): it is in place either way.
                    Ok(ReplyBody::Put(Err(DpFlowError::Exists))) => {}
                    Ok(ReplyBody::Released(Ok(true))) => self.released(ufid, pmd),
                    // Packets of it may still be on the way up: next drain.
                    Ok(ReplyBody::Released(Ok(false))) | Err(DpifCallError::Timeout { .. }) => {}
                    // Gone (deleted by hand): nothing left to release.
                    Ok(ReplyBody::Released(Err(_))) => {
                        self.released(ufid, pmd);
                        self.forget_on(ufid, pmd);
                    }
                    _ => {
                        self.stats.install_failed += 1;
                        self.released(ufid, pmd);
                        self.forget_on(ufid, pmd);
                    }
                }
            }
        }
    }

    /// Megaflow `ufid` runs its own actions on `pmd` now.
    fn released(&mut self, ufid: u128, pmd: usize) {
        if let Some(m) = self.megaflows.get_mut(&ufid) {
            m.held &= !(1u64 << pmd);
            if m.held == 0 {
                self.holding.remove(&ufid);
            }
        }
    }

    /// The megaflow is not (or no longer) on `pmd`.
    fn forget_on(&mut self, ufid: u128, pmd: usize) {
        let gone = match self.megaflows.get_mut(&ufid) {
            Some(m) => {
                m.pmds &= !(1u64 << pmd);
                m.held &= m.pmds;
                if m.held == 0 {
                    self.holding.remove(&ufid);
                }
                m.pmds == 0
            }
            None => false,
        };
        if gone {
            self.remove_megaflow(ufid);
        }
    }

    fn translate(
        &mut self,
        ofproto: &mut Ofproto<NetdevBridge>,
        key: &FlowKey,
        packet: &[u8],
        now: Millis,
    ) -> Translated {
        self.stats.translations += 1;
        let out = {
            let ctx = XlateCtx {
                pipeline: &*ofproto,
                fdb: &self.fdb,
                config: &self.config,
                now,
                may_learn: true,
            };
            xlate::translate(&ctx, key, Some(packet))
        };
        // A MAC that is new, moved or revived changes where NORMAL sends
        // traffic to it, so the megaflows through NORMAL are suspect.
        let mut fdb_changed = false;
        for l in &out.learned {
            fdb_changed |= self.fdb.learn(l, now);
        }
        if fdb_changed {
            self.mark(Scope::Normal);
        }
        Translated::new(&*ofproto, out)
    }

    fn mark(&mut self, scope: Scope) {
        self.dirty = Some(Scope::widen(self.dirty, scope));
    }

    /// The OpenFlow side changed (rules, groups, meters, ports): every
    /// megaflow must be revalidated before the next upcall or barrier.
    pub fn tables_changed(&mut self) {
        self.mark(Scope::All);
    }

    /// Whether a change waits for [`Self::revalidate_changes`].
    pub fn needs_revalidation(&self) -> bool {
        self.dirty.is_some()
    }

    /// Revalidates the megaflows the changes since the last call made
    /// suspect. Returns once every PMD has applied every fix and delete.
    pub fn revalidate_changes(&mut self, ofproto: &mut Ofproto<NetdevBridge>, now: Millis) {
        self.note_config();
        let Some(scope) = self.dirty.take() else {
            return;
        };
        if self.megaflows.is_empty() {
            return;
        }
        self.stats.invalidations += 1;
        let verdicts = plan(
            &*ofproto,
            &self.fdb,
            &self.config,
            now,
            &self.megaflows,
            scope,
        );
        if verdicts.is_empty() {
            return;
        }
        let n_pmds = ofproto.dpif().netdev.pmds().len();
        let mut ops: Vec<Vec<CommandOp>> = (0..n_pmds).map(|_| Vec::new()).collect();
        let mut tags: Vec<Vec<usize>> = (0..n_pmds).map(|_| Vec::new()).collect();
        for (i, (ufid, v)) in verdicts.iter().enumerate() {
            let Some(m) = self.megaflows.get(ufid) else {
                continue;
            };
            for pmd in m.pmd_list().filter(|&p| p < n_pmds) {
                let op = match v {
                    // A held megaflow stays held: its release carries the
                    // new actions. The put still returns its counters.
                    Verdict::Fix(t) => CommandOp::Put {
                        ufid: Some(*ufid),
                        key: m.key.masked(&m.t.mask),
                        mask: m.t.mask,
                        actions: if m.held & (1 << pmd) != 0 {
                            hold_actions(*ufid)
                        } else {
                            t.actions.clone()
                        },
                        flags: PutFlags::MODIFY,
                    },
                    _ => CommandOp::Del {
                        ufid: Some(*ufid),
                        key: m.key.masked(&m.t.mask),
                        mask: m.t.mask,
                    },
                };
                ops[pmd].push(op);
                tags[pmd].push(i);
            }
        }
        // Per verdict: stats summed over its PMDs, and the PMDs that lost it.
        let mut stats = vec![FlowStats::default(); verdicts.len()];
        let mut lost: Vec<u64> = vec![0; verdicts.len()];
        let mut unanswered = false;
        for (pmd, pmd_ops) in ops.into_iter().enumerate() {
            if pmd_ops.is_empty() {
                continue;
            }
            let results = ofproto.dpif_mut().netdev.call_many(pmd, pmd_ops);
            for (r, &i) in results.into_iter().zip(&tags[pmd]) {
                let s = match r {
                    Ok(ReplyBody::Put(Ok(o))) => o.stats,
                    Ok(ReplyBody::Del(Ok(f))) => f.stats,
                    // Gone already (flushed by hand): nothing to change there.
                    Ok(ReplyBody::Put(Err(_)) | ReplyBody::Del(Err(_))) => {
                        lost[i] |= 1 << pmd;
                        continue;
                    }
                    Ok(_) | Err(_) => {
                        unanswered = true;
                        continue;
                    }
                };
                let st = &mut stats[i];
                st.packets += s.packets;
                st.bytes += s.bytes;
            }
        }
        for (i, (ufid, v)) in verdicts.into_iter().enumerate() {
            let Some(m) = self.megaflows.get_mut(&ufid) else {
                continue;
            };
            // What the megaflow counted under its old answer goes to the
            // rules of that answer.
            let dp = stats[i].packets.saturating_sub(m.packets);
            let db = stats[i].bytes.saturating_sub(m.bytes);
            credit(ofproto, &m.t, dp, db, now);
            match v {
                Verdict::Fix(t) => {
                    self.stats.fixed += 1;
                    m.t = *t;
                    m.packets = stats[i].packets;
                    m.bytes = stats[i].bytes;
                    m.pmds &= !lost[i];
                    m.held &= m.pmds;
                    if m.pmds == 0 {
                        self.remove_megaflow(ufid);
                    } else if m.held == 0 {
                        self.holding.remove(&ufid);
                    }
                }
                Verdict::Delete | Verdict::Keep => {
                    self.stats.revalidated_away += 1;
                    self.remove_megaflow(ufid);
                }
            }
        }
        if unanswered {
            // Some PMD may still hold a stale megaflow: drop them all.
            self.stats.flushes += 1;
            let _ = ofproto.dpif_mut().netdev.flow_flush();
            self.megaflows.clear();
            self.masks.clear();
            self.holding.clear();
        }
    }

    /// Once a second: pull megaflow counters into their rules and expire
    /// idle megaflows.
    pub fn revalidate(&mut self, ofproto: &mut Ofproto<NetdevBridge>, now: Millis, force: bool) {
        if !force && self.last_revalidate.elapsed() < Duration::from_secs(1) {
            return;
        }
        self.last_revalidate = Instant::now();
        let Ok((flows, dp_now)) = ofproto.dpif_mut().netdev.flow_dump() else {
            return;
        };
        let idle_ms = self.idle_limit.as_millis() as u64;
        let mut expired = Vec::new();
        let mut seen = HashSet::with_capacity(flows.len());
        for f in &flows {
            let Some(m) = self.megaflows.get_mut(&f.ufid) else {
                continue;
            };
            seen.insert(f.ufid);
            let dp = f.stats.packets.saturating_sub(m.packets);
            let db = f.stats.bytes.saturating_sub(m.bytes);
            m.packets = f.stats.packets;
            m.bytes = f.stats.bytes;
            credit(ofproto, &m.t, dp, db, now);
            let idle = if f.stats.used_ms == 0 {
                u64::MAX
            } else {
                dp_now.saturating_sub(f.stats.used_ms)
            };
            if idle >= idle_ms && dp == 0 {
                expired.push(f.ufid);
            }
        }
        // Records the datapath no longer has (flushed by hand) go too, unless
        // their puts are still on the way (none are between drains).
        let stale: Vec<u128> = self
            .megaflows
            .keys()
            .filter(|u| !seen.contains(u))
            .copied()
            .collect();
        for ufid in stale {
            self.remove_megaflow(ufid);
        }
        let n_pmds = ofproto.dpif().netdev.pmds().len();
        let mut ops: Vec<Vec<CommandOp>> = (0..n_pmds).map(|_| Vec::new()).collect();
        for ufid in expired {
            let Some(m) = self.remove_megaflow(ufid) else {
                continue;
            };
            self.stats.expired += 1;
            for pmd in m.pmd_list().filter(|&p| p < n_pmds) {
                ops[pmd].push(CommandOp::Del {
                    ufid: Some(ufid),
                    key: m.key.masked(&m.t.mask),
                    mask: m.t.mask,
                });
            }
        }
        for (pmd, pmd_ops) in ops.into_iter().enumerate() {
            if !pmd_ops.is_empty() {
                // Idle: nothing to credit, and a delete that failed left
                // nothing behind that any packet uses.
                let _ = ofproto.dpif_mut().netdev.call_many(pmd, pmd_ops);
            }
        }
    }

    /// The OpenFlow side changed: revalidate every megaflow now.
    pub fn invalidate(&mut self, ofproto: &mut Ofproto<NetdevBridge>, now: Millis) {
        self.tables_changed();
        self.revalidate_changes(ofproto, now);
    }

    /// Ages the MAC learning table; entries that went away make the
    /// megaflows through NORMAL suspect.
    pub fn age_fdb(&mut self, ofproto: &mut Ofproto<NetdevBridge>, now: Millis) {
        if self.fdb.age(now) > 0 {
            self.mark(Scope::Normal);
            self.revalidate_changes(ofproto, now);
        }
    }

    /// Datapath port `dp_port` was deleted: deletes every datapath flow that
    /// matches packets from it or sends to it (megaflows, and flows given at
    /// start-up or with `dpctl/add-flow`), crediting what the megaflows
    /// counted since the last pull. Other flows stay. Returns how many went.
    pub fn forget_port(
        &mut self,
        ofproto: &mut Ofproto<NetdevBridge>,
        dp_port: u32,
        now: Millis,
    ) -> usize {
        let Ok((flows, _)) = ofproto.dpif_mut().netdev.flow_dump() else {
            return 0;
        };
        let n_pmds = ofproto.dpif().netdev.pmds().len();
        let mut n = 0;
        for f in flows
            .iter()
            .filter(|f| f.key.in_port() == dp_port || sends_to(&f.actions, dp_port))
        {
            let Some(m) = self.remove_megaflow(f.ufid) else {
                // Not ours (start-up or dpctl): on every PMD.
                if ofproto
                    .dpif_mut()
                    .netdev
                    .flow_del(Some(f.ufid), &f.key, &f.mask)
                    .is_ok()
                {
                    n += 1;
                }
                continue;
            };
            let dp = f.stats.packets.saturating_sub(m.packets);
            let db = f.stats.bytes.saturating_sub(m.bytes);
            credit(ofproto, &m.t, dp, db, now);
            // A megaflow is only on the PMDs that missed it.
            let mut deleted = false;
            for pmd in m.pmd_list().filter(|&p| p < n_pmds) {
                let del = CommandOp::Del {
                    ufid: Some(f.ufid),
                    key: f.key,
                    mask: f.mask,
                };
                let r = ofproto.dpif_mut().netdev.call_many(pmd, vec![del]);
                deleted |= matches!(r.first(), Some(Ok(ReplyBody::Del(Ok(_)))));
            }
            if deleted {
                n += 1;
            }
        }
        n
    }

    /// Megaflows the handler installed and still tracks.
    pub fn n_megaflows(&self) -> usize {
        self.megaflows.len()
    }
}

/// The put of megaflow `m`, holding its packets until released.
fn hold_put(ufid: u128, m: &Megaflow) -> CommandOp {
    CommandOp::Put {
        ufid: Some(ufid),
        key: m.key.masked(&m.t.mask),
        mask: m.t.mask,
        actions: hold_actions(ufid),
        flags: PutFlags::CREATE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dpif::memory::MemDpif;
    use crate::ofp::flow::{OFPFC_ADD, OFPFC_DELETE_STRICT, OFPFC_MODIFY_STRICT};
    use crate::ofp::syntax::parse_flow;
    use crate::ofp::{Message, Version};
    use crate::ofproto::{ConnInfo, OfprotoConfig};
    use pmd::odp::parse_key;

    const NOW: Millis = 1000;

    fn udp(in_port: u32, src: &str, dst: &str) -> FlowKey {
        let text = format!(
            "in_port({in_port}),eth(src={src},dst={dst}),eth_type(0x0800),\
             ipv4(src=10.0.0.1,dst=10.0.0.2,proto=17,tos=0,ttl=64,frag=no),udp(src=1024,dst=5001)"
        );
        parse_key(&text).expect("key").0
    }

    struct Switch {
        ofproto: Ofproto<MemDpif>,
        fdb: Fdb,
        config: XlateConfig,
        megaflows: HashMap<u128, Megaflow>,
    }

    impl Switch {
        fn new(ports: u32) -> Switch {
            let mut ofproto = Ofproto::new(MemDpif::new("br0"), OfprotoConfig::default(), 0);
            for i in 1..=ports {
                assert_eq!(ofproto.add_port(&format!("p{i}"), "", 0).expect("port"), i);
            }
            Switch {
                ofproto,
                fdb: Fdb::default(),
                config: XlateConfig::default(),
                megaflows: HashMap::new(),
            }
        }

        fn flow_mod(&mut self, command: u8, flow: &str) {
            let fm = parse_flow(flow, Version::V1_3, command).expect("flow");
            let out =
                self.ofproto
                    .handle(&ConnInfo::new(1, Version::V1_3), &Message::FlowMod(fm), NOW);
            assert!(out.replies.is_ok(), "{flow}: {:?}", out.replies);
        }

        /// Translates `key` as a miss would (learning MACs) and records its megaflow.
        fn miss(&mut self, key: FlowKey) -> u128 {
            let out = {
                let ctx = XlateCtx {
                    pipeline: &self.ofproto,
                    fdb: &self.fdb,
                    config: &self.config,
                    now: NOW,
                    may_learn: true,
                };
                xlate::translate(&ctx, &key, None)
            };
            for l in &out.learned {
                self.fdb.learn(l, NOW);
            }
            let m = Megaflow::new(key, Translated::new(&self.ofproto, out));
            let ufid = m.ufid();
            self.megaflows.insert(ufid, m);
            ufid
        }

        fn plan(&self, scope: Scope) -> Vec<(u128, Verdict)> {
            let mut v = plan(
                &self.ofproto,
                &self.fdb,
                &self.config,
                NOW,
                &self.megaflows,
                scope,
            );
            v.sort_by_key(|(u, _)| *u);
            v
        }

        fn actions(&self, ufid: u128) -> Vec<DpAction> {
            self.megaflows[&ufid].t.actions.to_vec()
        }
    }

    const A: &str = "50:54:00:00:00:01";
    const B: &str = "50:54:00:00:00:02";

    #[test]
    fn a_changed_rule_gives_its_megaflow_new_actions() {
        let mut s = Switch::new(3);
        s.flow_mod(OFPFC_ADD, "priority=10,in_port=1,actions=output:2");
        let u = s.miss(udp(1, A, B));
        assert_eq!(s.actions(u), vec![DpAction::Output(2)]);
        assert_eq!(s.plan(Scope::All), vec![]);
        s.flow_mod(
            OFPFC_MODIFY_STRICT,
            "priority=10,in_port=1,actions=output:3",
        );
        let v = s.plan(Scope::All);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].0, u);
        let Verdict::Fix(t) = &v[0].1 else {
            panic!("expected a fix, got {:?}", v[0].1);
        };
        assert_eq!(&*t.actions, &[DpAction::Output(3)]);
        // The installed mask stays: the datapath flow is changed in place.
        assert_eq!(t.mask, s.megaflows[&u].t.mask);
        assert_eq!(t.rules, s.megaflows[&u].t.rules);
    }

    #[test]
    fn a_deleted_rules_megaflows_go_and_unaffected_ones_stay() {
        let mut s = Switch::new(3);
        s.flow_mod(OFPFC_ADD, "priority=10,in_port=1,actions=output:2");
        s.flow_mod(OFPFC_ADD, "priority=10,in_port=2,actions=output:3");
        let gone = s.miss(udp(1, A, B));
        let stays = s.miss(udp(2, A, B));
        s.flow_mod(OFPFC_DELETE_STRICT, "priority=10,in_port=1");
        assert_eq!(s.plan(Scope::All), vec![(gone, Verdict::Delete)]);
        assert_eq!(
            check_megaflow(&s.ofproto, &s.fdb, &s.config, NOW, &s.megaflows[&stays]),
            Verdict::Keep
        );
    }

    #[test]
    fn a_rule_that_looks_at_more_bits_deletes_the_megaflow() {
        let mut s = Switch::new(3);
        s.flow_mod(OFPFC_ADD, "priority=10,in_port=1,actions=output:2");
        let u = s.miss(udp(1, A, B));
        // A higher-priority rule on the UDP port: the megaflow (in_port
        // only) would cover packets of both answers.
        s.flow_mod(OFPFC_ADD, "priority=20,udp,tp_dst=80,actions=output:3");
        assert_eq!(s.plan(Scope::All), vec![(u, Verdict::Delete)]);
    }

    #[test]
    fn an_fdb_change_fixes_only_the_megaflows_through_normal() {
        let mut s = Switch::new(3);
        s.flow_mod(OFPFC_ADD, "priority=10,in_port=1,actions=NORMAL");
        s.flow_mod(OFPFC_ADD, "priority=10,in_port=3,actions=output:1");
        // A to B from port 1: B is unknown, so NORMAL floods.
        let flood = s.miss(udp(1, A, B));
        assert_eq!(
            s.actions(flood),
            vec![
                DpAction::Output(2),
                DpAction::Output(3),
                DpAction::Output(0)
            ]
        );
        assert!(s.megaflows[&flood].t.normal);
        let plain = s.miss(udp(3, B, A));
        assert!(!s.megaflows[&plain].t.normal);
        // B shows up on port 2 (learned by NORMAL through a packet from it).
        s.flow_mod(OFPFC_ADD, "priority=10,in_port=2,actions=NORMAL");
        s.miss(udp(2, B, A));
        s.megaflows.retain(|u, _| *u == flood || *u == plain);
        let v = s.plan(Scope::Normal);
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].0, flood);
        let Verdict::Fix(t) = &v[0].1 else {
            panic!("expected a fix, got {:?}", v[0].1);
        };
        assert_eq!(&*t.actions, &[DpAction::Output(2)]);
        assert!(t.normal);
    }

    #[test]
    fn masks_nest_only_when_every_bit_is_inside() {
        let mut outer = FlowMask::default();
        let mut inner = FlowMask::default();
        outer.words[0] = 0xff00;
        inner.words[0] = 0x0f00;
        assert!(mask_within(&inner, &outer));
        assert!(!mask_within(&outer, &inner));
        inner.words[1] = 1;
        assert!(!mask_within(&inner, &outer));
    }
}
