//! Upcall handling and revalidation on the control lcore.
//!
//! Vocabulary: a *miss* upcall is a packet no megaflow matched; an *action*
//! upcall is a packet a `userspace` action sent up (here: to the controller).
//! A *megaflow* is the datapath flow a miss turns into: the translated
//! actions under the mask of the bits the translation looked at.
//!
//! [`UpcallHandler::handle`] drains the PMDs' upcall rings in batches. Each
//! distinct flow of a batch is translated once; its megaflow is installed
//! and every packet of the batch that missed with that flow is executed with
//! the new actions through the PMD it came from. Each such packet is
//! credited to the rules and group buckets it went through here (the
//! megaflow's counters only see later packets), and passes the meters the
//! translation named: a flow with meters is never installed, since the
//! datapath cannot police, so every one of its packets comes up and a meter
//! that refuses one drops it. Action upcalls become packet-ins for connmgr.
//!
//! [`UpcallHandler::revalidate`] runs once a second: it pulls each megaflow's
//! counters into the OpenFlow rules that made it (so `dump-flows` and idle
//! timeouts see datapath traffic) and deletes megaflows idle for longer than
//! the idle limit. After an OpenFlow change, [`UpcallHandler::invalidate`]
//! credits what the megaflows counted and then drops them all, so none
//! outlives the rules it came from; the next packet of each flow is
//! translated against the tables as they are. A change of NORMAL's MAC
//! learning table (a MAC learned, moved, revived or aged out) invalidates
//! the same way, or a megaflow that flooded to a then-unknown MAC would keep
//! flooding after the MAC is learned.
//!
//! A port deleted at run time takes its megaflows with it
//! ([`UpcallHandler::forget_port`]); misses from a port ofproto no longer
//! knows (queued before the port went) are dropped, not translated.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pmd::actions::DpAction;
use pmd::command::{Upcall, UpcallType};
use pmd::flow::{derive_ufid, DpifError as DpFlowError, PutFlags};
use pmd::key::FlowKey;

use crate::bridge::NetdevBridge;
use crate::continuation;
use crate::dpif::netdev::DpifCallError;
use crate::ofproto::{AsyncEvent, Millis, Ofproto, RuleId};
use crate::xlate::normal::Fdb;
use crate::xlate::{self, ControllerUserdata, XlateConfig, XlateCtx};

/// Upcalls taken from the rings per call.
const BATCH: usize = 256;

/// What the handler remembers of an installed megaflow.
struct Megaflow {
    rules: Vec<RuleId>,
    /// The (group, bucket)s its packets go through, credited like the rules.
    groups: Vec<(u32, usize)>,
    /// The table lookups its packets stand for, credited to table stats.
    tables: Vec<(u8, bool)>,
    packets: u64,
    bytes: u64,
}

/// One translation, shared by every packet of a batch with the same key.
struct Translated {
    actions: Arc<[DpAction]>,
    rules: Vec<RuleId>,
    groups: Vec<(u32, usize)>,
    tables: Vec<(u8, bool)>,
    /// Meters every packet must pass, in order, before its actions run.
    meters: Vec<u32>,
}

/// Counters, for `upcall/show`-like reporting and tests.
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
    pub invalidations: u64,
}

/// The control lcore's upcall handler and revalidator.
pub struct UpcallHandler {
    pub fdb: Fdb,
    pub config: XlateConfig,
    /// Megaflows idle this long are deleted.
    pub idle_limit: Duration,
    megaflows: HashMap<u128, Megaflow>,
    // Boxes travel through the rings and are recycled; they stay boxed.
    #[allow(clippy::vec_box)]
    batch: Vec<Box<Upcall>>,
    last_revalidate: Instant,
    pub stats: UpcallStats,
}

/// Whether `actions` output to `dp_port`, at any depth.
fn sends_to(actions: &[DpAction], dp_port: u32) -> bool {
    actions.iter().any(|a| match a {
        DpAction::Output(p) => *p == dp_port,
        DpAction::Clone(inner) => sends_to(inner, dp_port),
        _ => false,
    })
}

/// The OpenFlow port number of a datapath port.
fn of_port(dp_port: u32) -> u32 {
    crate::ofproto::ofp_port_of(dp_port)
}

impl UpcallHandler {
    pub fn new(fdb: Fdb, config: XlateConfig) -> UpcallHandler {
        UpcallHandler {
            fdb,
            config,
            idle_limit: Duration::from_secs(10),
            megaflows: HashMap::new(),
            batch: Vec::with_capacity(BATCH),
            last_revalidate: Instant::now(),
            stats: UpcallStats::default(),
        }
    }

    /// Handles queued upcalls; returns how many, and the packet-ins to send.
    pub fn handle(
        &mut self,
        ofproto: &mut Ofproto<NetdevBridge>,
        now: Millis,
    ) -> (usize, Vec<AsyncEvent>) {
        let mut events = Vec::new();
        self.batch.clear();
        let n = ofproto
            .dpif_mut()
            .netdev
            .take_upcalls(&mut self.batch, BATCH);
        if n == 0 {
            return (0, events);
        }
        // One translation per distinct key in the batch.
        let mut translated: HashMap<FlowKey, Arc<Translated>> = HashMap::new();
        let mut batch = std::mem::take(&mut self.batch);
        for mut up in batch.drain(..) {
            let Some(pkt) = up.pkt.take() else {
                ofproto.dpif_mut().netdev.recycle(up);
                continue;
            };
            match up.kind {
                UpcallType::Action => {
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
                }
                UpcallType::Miss
                    if up.in_port != 0 && ofproto.port(of_port(up.in_port)).is_none() =>
                {
                    // Received just before its port was deleted: a megaflow
                    // for it would outlive the port.
                    drop(pkt);
                }
                UpcallType::Miss => {
                    self.stats.misses += 1;
                    let t = match translated.get(&up.key) {
                        Some(t) => t.clone(),
                        None => {
                            let t = Arc::new(self.translate_and_install(
                                ofproto,
                                &up.key,
                                pkt.data(),
                                now,
                            ));
                            translated.insert(up.key, t.clone());
                            t
                        }
                    };
                    // Every packet that came up counts: the megaflow's own
                    // counters see only the packets that later hit it.
                    let len = pkt.data().len() as u64;
                    for &r in &t.rules {
                        ofproto.credit_rule(r, 1, len, now);
                    }
                    ofproto.credit_groups(&t.groups, 1, len);
                    for &(table, matched) in &t.tables {
                        ofproto.credit_table(table, 1, u64::from(matched));
                    }
                    // A meter that refuses the packet drops it.
                    if !t
                        .meters
                        .iter()
                        .all(|&m| ofproto.meter_admit(m, len as usize, now))
                    {
                        self.stats.metered_drops += 1;
                        drop(pkt);
                        ofproto.dpif_mut().netdev.recycle(up);
                        continue;
                    }
                    let actions = t.actions.clone();
                    // A PMD that is busy or slow to answer loses this packet,
                    // as a full upcall ring would; the megaflow is in place.
                    if ofproto
                        .dpif_mut()
                        .netdev
                        .execute(up.pmd, pkt, up.in_port, actions)
                        .is_ok()
                    {
                        self.stats.executed += 1;
                    }
                }
            }
            ofproto.dpif_mut().netdev.recycle(up);
        }
        self.batch = batch;
        (n, events)
    }

    fn translate_and_install(
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
        // A MAC that is new, moved or revived changes where NORMAL sends traffic to it, so
        // every megaflow that flooded (or pointed) elsewhere is stale: drop them before this
        // flow's megaflow goes in. This packet's own translation never looked its source up.
        let mut fdb_changed = false;
        for l in &out.learned {
            fdb_changed |= self.fdb.learn(l, now);
        }
        if fdb_changed {
            self.invalidate(ofproto, now);
        }
        let t = Translated {
            actions: Arc::from(out.actions),
            rules: out.rules,
            groups: out.groups,
            tables: out.tables,
            meters: out.meters,
        };
        // A flow that meters police cannot be left to the datapath, which has
        // no meter action: its packets keep coming up.
        if !t.meters.is_empty() {
            return t;
        }
        let masked = key.masked(&out.mask);
        let ufid = derive_ufid(&masked, &out.mask);
        let netdev = &mut ofproto.dpif_mut().netdev;
        match netdev.flow_put(
            Some(ufid),
            &masked,
            &out.mask,
            t.actions.clone(),
            PutFlags::CREATE,
        ) {
            Ok(_) => {
                self.stats.installed += 1;
                self.megaflows.insert(
                    ufid,
                    Megaflow {
                        rules: t.rules.clone(),
                        groups: t.groups.clone(),
                        tables: t.tables.clone(),
                        packets: 0,
                        bytes: 0,
                    },
                );
            }
            // Another packet of the flow installed it first.
            Err(DpifCallError::Flow(DpFlowError::Exists)) => {}
            Err(_) => self.stats.install_failed += 1,
        }
        t
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
        for f in &flows {
            let Some(m) = self.megaflows.get_mut(&f.ufid) else {
                continue;
            };
            let dp = f.stats.packets.saturating_sub(m.packets);
            let db = f.stats.bytes.saturating_sub(m.bytes);
            m.packets = f.stats.packets;
            m.bytes = f.stats.bytes;
            if dp > 0 {
                for &r in &m.rules {
                    ofproto.credit_rule(r, dp, db, now);
                }
                ofproto.credit_groups(&m.groups, dp, db);
                for &(table, matched) in &m.tables {
                    ofproto.credit_table(table, dp, if matched { dp } else { 0 });
                }
            }
            let idle = if f.stats.used_ms == 0 {
                u64::MAX
            } else {
                dp_now.saturating_sub(f.stats.used_ms)
            };
            if idle >= idle_ms && dp == 0 {
                expired.push((f.ufid, f.key, f.mask));
            }
        }
        for (ufid, key, mask) in expired {
            if ofproto
                .dpif_mut()
                .netdev
                .flow_del(Some(ufid), &key, &mask)
                .is_ok()
            {
                self.stats.expired += 1;
            }
            self.megaflows.remove(&ufid);
        }
    }

    /// The OpenFlow side changed: credit what the megaflows counted, then
    /// delete them all.
    pub fn invalidate(&mut self, ofproto: &mut Ofproto<NetdevBridge>, now: Millis) {
        if self.megaflows.is_empty() {
            return;
        }
        self.stats.invalidations += 1;
        self.revalidate(ofproto, now, true);
        let _ = ofproto.dpif_mut().netdev.flow_flush();
        self.megaflows.clear();
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
        let mut n = 0;
        for f in flows
            .iter()
            .filter(|f| f.key.in_port() == dp_port || sends_to(&f.actions, dp_port))
        {
            if let Some(m) = self.megaflows.remove(&f.ufid) {
                let dp = f.stats.packets.saturating_sub(m.packets);
                let db = f.stats.bytes.saturating_sub(m.bytes);
                if dp > 0 {
                    for &r in &m.rules {
                        ofproto.credit_rule(r, dp, db, now);
                    }
                    ofproto.credit_groups(&m.groups, dp, db);
                }
            }
            if ofproto
                .dpif_mut()
                .netdev
                .flow_del(Some(f.ufid), &f.key, &f.mask)
                .is_ok()
            {
                n += 1;
            }
        }
        n
    }

    /// Ages the MAC learning table; entries that went away make the megaflows that
    /// forwarded to them stale, so those go too.
    pub fn age_fdb(&mut self, ofproto: &mut Ofproto<NetdevBridge>, now: Millis) {
        if self.fdb.age(now) > 0 {
            self.invalidate(ofproto, now);
        }
    }

    /// Megaflows the handler installed and still tracks.
    pub fn n_megaflows(&self) -> usize {
        self.megaflows.len()
    }
}
