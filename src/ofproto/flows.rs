//! OpenFlow tables and flow_mod: add, modify, modify-strict, delete, delete-strict; expiry
//! and eviction.
//!
//! Vocabulary: *loose* selection takes every rule whose match is at least as specific as the
//! request's; *strict* selection takes the rule with exactly the request's match and
//! priority. Both skip hidden rules and apply the cookie filter (`(rule ^ cookie) & mask ==
//! 0`); DELETE also filters by out_port / out_group.
//!
//! Invariants: every rule in `Ofproto::rules` is in exactly one table's classifier and id
//! set, and in `Ofproto::timed` exactly when it has an idle or hard timeout; rules are collected before any is changed, so a request is never half-applied.
//! Where Open vSwitch of the seed era had a quirk, the OpenFlow 1.3 behaviour wins:
//! strict requests on table 0xff act on every exact match (one per table), eviction always
//! reports the removal, and OpenFlow 1.0's cookie is never a selection filter.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};

use super::classifier::{Classifier, FlowMatch, MiniMatch};
use super::{
    AsyncEvent, ConnInfo, FlowRemovedEvent, Millis, Ofproto, RemovedReason, MAX_OPENFLOW_PRIORITY,
    OFPTT_ALL,
};
use crate::dpif::Dpif;
use crate::ofp::flow::{
    FlowMod, NO_BUFFER, OFPFC_ADD, OFPFC_DELETE, OFPFC_DELETE_STRICT, OFPFC_MODIFY,
    OFPFC_MODIFY_STRICT, OFPFF_CHECK_OVERLAP, OFPFF_EMERG_OR_RESET_COUNTS, OFPFF_SEND_FLOW_REM,
    OFPG_ANY,
};
use crate::ofp::oxm::Field;
use crate::ofp::port::OFPP_ANY;
use crate::ofp::{Action, Instruction, Match, OfpError, OxmMatch, Version};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RuleId(pub u64);

/// One OpenFlow flow entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub id: RuleId,
    pub table_id: u8,
    /// Above 65535 means hidden.
    pub priority: u32,
    /// The match as the flow_mod carried it (for replies in the same form).
    pub match_: Match,
    /// The compiled match, compact (a rule keeps only the bytes its mask covers).
    pub fmatch: MiniMatch,
    pub cookie: u64,
    pub idle_timeout: u16,
    pub hard_timeout: u16,
    pub flags: u16,
    pub importance: u16,
    pub instructions: Vec<Instruction>,
    pub created: Millis,
    /// Last add or modify: the hard timeout counts from here.
    pub modified: Millis,
    /// Last packet: the idle timeout counts from here.
    pub used: Millis,
    pub packet_count: u64,
    pub byte_count: u64,
}

impl Rule {
    pub fn is_hidden(&self) -> bool {
        self.priority > MAX_OPENFLOW_PRIORITY
    }

    /// Every action in apply- and write-actions instructions.
    pub fn actions(&self) -> impl Iterator<Item = &Action> {
        self.instructions.iter().flat_map(|i| match i {
            Instruction::ApplyActions(a) | Instruction::WriteActions(a) => a.as_slice(),
            _ => &[],
        })
    }

    /// Outputs (or enqueues) to exactly `port`; FLOOD/ALL do not count. ANY matches all.
    pub fn has_out_port(&self, port: u32) -> bool {
        port == OFPP_ANY
            || self.actions().any(|a| {
                matches!(a, Action::Output { port: p, .. } | Action::Enqueue { port: p, .. } if *p == port)
            })
    }

    pub fn has_out_group(&self, group: u32) -> bool {
        group == OFPG_ANY
            || self
                .actions()
                .any(|a| matches!(a, Action::Group(g) if *g == group))
    }

    pub fn meter(&self) -> Option<u32> {
        self.instructions.iter().find_map(|i| match i {
            Instruction::Meter(m) => Some(*m),
            _ => None,
        })
    }

    /// When the rule expires, and why, if it has a timeout.
    fn expiry(&self) -> Option<(Millis, RemovedReason)> {
        let hard = (self.hard_timeout > 0).then(|| {
            (
                self.modified + u64::from(self.hard_timeout) * 1000,
                RemovedReason::HardTimeout,
            )
        });
        let idle = (self.idle_timeout > 0).then(|| {
            (
                self.used + u64::from(self.idle_timeout) * 1000,
                RemovedReason::IdleTimeout,
            )
        });
        match (hard, idle) {
            (Some(h), Some(i)) => Some(if h.0 <= i.0 { h } else { i }),
            (h, i) => h.or(i),
        }
    }

    fn duration(&self, now: Millis) -> (u32, u32) {
        let ms = now.saturating_sub(self.created);
        ((ms / 1000) as u32, ((ms % 1000) * 1_000_000) as u32)
    }
}

/// One OpenFlow table.
#[derive(Clone)]
pub struct Table {
    pub id: u8,
    /// Tables past the configured count do not exist (requests naming them fail).
    pub exists: bool,
    pub hidden: bool,
    pub name: Option<String>,
    pub max_flows: u32,
    /// Eviction on (with these fields grouping rules for fairness) or off (reject when full).
    pub eviction: Option<Vec<Field>>,
    pub cls: Classifier<RuleId>,
    pub ids: BTreeSet<RuleId>,
    pub lookup_count: u64,
    pub matched_count: u64,
}

impl Table {
    pub fn new(id: u8, exists: bool, hidden: bool) -> Table {
        Table {
            id,
            exists,
            hidden,
            name: None,
            // Unlimited by default (Open vSwitch of the seed era started at 0).
            max_flows: u32::MAX,
            eviction: None,
            cls: Classifier::default(),
            ids: BTreeSet::new(),
            lookup_count: 0,
            matched_count: 0,
        }
    }

    pub fn name(&self) -> String {
        match &self.name {
            Some(n) if !n.is_empty() => n.chars().take(31).collect(),
            _ => format!("table{}", self.id),
        }
    }
}

/// A flow_mod after the version-specific rules are applied.
struct Request<'a> {
    /// Owned when it came from a bundle: its match and instructions move into the rule.
    fm: Cow<'a, FlowMod>,
    table_id: u8,
    priority: u32,
    fmatch: FlowMatch,
    /// `fmatch` compact, when the caller had it already.
    mini: Option<MiniMatch>,
    cookie_mask: u64,
    /// OpenFlow 1.0 semantics: MODIFY of nothing adds, MODIFY sets the cookie, a replaced
    /// rule's counters restart.
    v10: bool,
    reset_counts: bool,
}

/// Which rules a request selects.
pub(crate) struct Selector {
    pub table_id: u8,
    pub fmatch: FlowMatch,
    pub priority: Option<u32>,
    pub cookie: u64,
    pub cookie_mask: u64,
    pub out_port: u32,
    pub out_group: u32,
}

impl<D: Dpif> Ofproto<D> {
    pub(crate) fn flow_mod(
        &mut self,
        conn: &ConnInfo,
        fm: &FlowMod,
        nx: bool,
        now: Millis,
    ) -> Result<(), OfpError> {
        self.flow_mod_compiled(conn, Cow::Borrowed(fm), nx, None, now)
    }

    /// [`Self::flow_mod`], for a flow_mod the caller may give away (a bundle's: an added
    /// rule then takes its match and instructions without copying them) and whose match
    /// it may have compiled already (`compiled`, from `fm`'s match).
    pub(crate) fn flow_mod_compiled(
        &mut self,
        conn: &ConnInfo,
        fm: Cow<'_, FlowMod>,
        nx: bool,
        compiled: Option<MiniMatch>,
        now: Millis,
    ) -> Result<(), OfpError> {
        super::reject_slave(conn)?;
        crate::coverage::OFPROTO_FLOW_MOD.inc();
        let v10 = nx || conn.version == Version::V1_0;
        let table_id_ext = conn.flow_mod_table_id || self.table_id_ext.contains(&conn.id);
        let table_id = if !v10 || table_id_ext {
            fm.table_id
        } else if fm.table_id != 0 {
            // A table in the command's high byte without the extension.
            return Err(OfpError::OFPFMFC_BAD_COMMAND);
        } else {
            OFPTT_ALL
        };
        if v10 && fm.flags & OFPFF_EMERG_OR_RESET_COUNTS != 0 {
            // Emergency flows are not supported.
            return Err(OfpError::OFPFMFC_TABLE_FULL);
        }
        if table_id != OFPTT_ALL && !self.table_exists(table_id) {
            return Err(OfpError::OFPBRC_BAD_TABLE_ID);
        }
        let priority = match &fm.match_ {
            // An exact OpenFlow 1.0 match has the highest priority.
            Match::Of10(m) if m.wildcards & crate::ofp::match10::OFPFW_ALL == 0 => 0xffff,
            _ => u32::from(fm.priority),
        };
        let command = fm.command;
        let req = Request {
            table_id,
            priority,
            fmatch: compiled
                .as_ref()
                .map_or_else(|| FlowMatch::from_match(&fm.match_), MiniMatch::expand),
            mini: compiled,
            cookie_mask: if v10 { 0 } else { fm.cookie_mask },
            v10,
            reset_counts: !v10 && fm.flags & OFPFF_EMERG_OR_RESET_COUNTS != 0,
            fm,
        };
        let fm = &*req.fm;
        match command {
            OFPFC_ADD | OFPFC_MODIFY | OFPFC_MODIFY_STRICT => {
                if fm.buffer_id != NO_BUFFER {
                    return Err(OfpError::OFPBRC_BUFFER_UNKNOWN);
                }
                self.check_instructions(&fm.instructions)?;
                if command == OFPFC_ADD {
                    self.add_flow(req, now)
                } else {
                    self.modify_flows(req, command == OFPFC_MODIFY_STRICT, now)
                }
            }
            OFPFC_DELETE | OFPFC_DELETE_STRICT => {
                let sel = Selector {
                    table_id,
                    fmatch: req.fmatch.clone(),
                    priority: (command == OFPFC_DELETE_STRICT).then_some(priority),
                    cookie: fm.cookie,
                    cookie_mask: req.cookie_mask,
                    out_port: fm.out_port,
                    out_group: if v10 { OFPG_ANY } else { fm.out_group },
                };
                let ids = self.collect(&sel);
                self.delete_rules(&ids, RemovedReason::Delete, now);
                Ok(())
            }
            _ => Err(OfpError::OFPFMFC_BAD_COMMAND),
        }
    }

    fn check_instructions(&self, ins: &[Instruction]) -> Result<(), OfpError> {
        for i in ins {
            match i {
                Instruction::ApplyActions(a) | Instruction::WriteActions(a) => {
                    self.check_actions(a)?
                }
                Instruction::Meter(m) if !self.meters.contains_key(m) => {
                    return Err(OfpError::OFPMMFC_UNKNOWN_METER)
                }
                Instruction::GotoTable(t) if !self.table_exists(*t) => {
                    return Err(OfpError::OFPBIC_BAD_TABLE_ID)
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn add_flow(&mut self, req: Request<'_>, now: Millis) -> Result<(), OfpError> {
        let table_id = if req.table_id == OFPTT_ALL {
            let t = match &self.choose_table {
                Some(f) => f(&req.fmatch)?,
                None => 0,
            };
            if !self.table_exists(t) {
                return Err(OfpError::OFPBRC_BAD_TABLE_ID);
            }
            t
        } else {
            req.table_id
        };
        let t = usize::from(table_id);
        if req.fm.flags & OFPFF_CHECK_OVERLAP != 0
            && self.tables[t].cls.overlaps(&req.fmatch, req.priority)
        {
            return Err(OfpError::OFPFMFC_OVERLAP);
        }
        let victim = self.tables[t].cls.find_exact(&req.fmatch, req.priority);
        if victim.is_none()
            && self.tables[t].cls.len() as u64 >= u64::from(self.tables[t].max_flows)
        {
            let evict = self
                .choose_rule_to_evict(table_id)
                .ok_or(OfpError::OFPFMFC_TABLE_FULL)?;
            self.delete_rules(&[evict], RemovedReason::Eviction, now);
        }
        let fm = &*req.fm;
        let (cookie, idle_timeout, hard_timeout, flags, importance) = (
            fm.cookie,
            fm.idle_timeout,
            fm.hard_timeout,
            fm.flags,
            fm.importance,
        );
        let (match_, instructions) = match req.fm {
            Cow::Owned(fm) => (fm.match_, fm.instructions),
            Cow::Borrowed(fm) => (fm.match_.clone(), fm.instructions.clone()),
        };
        let mut rule = Rule {
            id: RuleId(self.next_rule_id),
            table_id,
            priority: req.priority,
            match_,
            fmatch: req.mini.unwrap_or_else(|| MiniMatch::new(&req.fmatch)),
            cookie,
            idle_timeout,
            hard_timeout,
            flags,
            importance,
            instructions,
            created: now,
            modified: now,
            used: now,
            packet_count: 0,
            byte_count: 0,
        };
        self.next_rule_id += 1;
        if let Some(old) = victim {
            // Replaced without a flow-removed. OpenFlow 1.1+ keeps the counters unless
            // RESET_COUNTS; 1.0 removes the old entry "including its counters".
            if let Some(o) = self.remove_rule(old) {
                if !req.v10 && !req.reset_counts {
                    rule.packet_count = o.packet_count;
                    rule.byte_count = o.byte_count;
                }
            }
        }
        self.insert_rule(rule, &req.fmatch);
        self.dpif.revalidate();
        Ok(())
    }

    fn modify_flows(
        &mut self,
        req: Request<'_>,
        strict: bool,
        now: Millis,
    ) -> Result<(), OfpError> {
        let sel = Selector {
            table_id: req.table_id,
            fmatch: req.fmatch.clone(),
            priority: strict.then_some(req.priority),
            cookie: req.fm.cookie,
            cookie_mask: req.cookie_mask,
            out_port: OFPP_ANY,
            out_group: OFPG_ANY,
        };
        let ids = self.collect(&sel);
        if ids.is_empty() {
            // OpenFlow 1.0 adds; 1.1+ leaves the table alone.
            return if req.v10 {
                self.add_flow(req, now)
            } else {
                Ok(())
            };
        }
        for id in ids {
            if let Some(r) = self.rules.get_mut(&id) {
                if let Some(log) = &mut self.undo {
                    log.push(super::bundle::Undo::Modified(Box::new(r.clone())));
                }
                r.instructions = req.fm.instructions.clone();
                r.modified = now;
                if req.v10 {
                    r.cookie = req.fm.cookie;
                }
                if req.reset_counts {
                    r.packet_count = 0;
                    r.byte_count = 0;
                }
            }
        }
        self.dpif.revalidate();
        Ok(())
    }

    /// The ids a selector picks, table by table in insertion order.
    pub(crate) fn collect(&self, sel: &Selector) -> Vec<RuleId> {
        let tables = if sel.table_id == OFPTT_ALL {
            self.visible_tables()
        } else if self.table_exists(sel.table_id) {
            vec![sel.table_id]
        } else {
            Vec::new()
        };
        let strict = sel.priority.map(|_| MiniMatch::new(&sel.fmatch));
        let mut out = Vec::new();
        for t in tables {
            for id in self.table_rules(t) {
                let Some(r) = self.rules.get(id) else {
                    continue;
                };
                let selected = match (sel.priority, &strict) {
                    (Some(p), Some(m)) => r.priority == p && r.fmatch == *m,
                    _ => r.fmatch.is_within(&sel.fmatch),
                };
                if selected
                    && !r.is_hidden()
                    && (r.cookie ^ sel.cookie) & sel.cookie_mask == 0
                    && r.has_out_port(sel.out_port)
                    && r.has_out_group(sel.out_group)
                {
                    out.push(*id);
                }
            }
        }
        out
    }

    /// Adds `rule`, whose compiled match in full is `fmatch`.
    pub(super) fn insert_rule(&mut self, rule: Rule, fmatch: &FlowMatch) {
        if let Some(log) = &mut self.undo {
            log.push(super::bundle::Undo::Inserted(rule.id));
        }
        let t = &mut self.tables[usize::from(rule.table_id)];
        t.cls.insert(fmatch, rule.priority, rule.id);
        t.ids.insert(rule.id);
        if rule.expiry().is_some() {
            self.timed.insert(rule.id);
        }
        self.rules.insert(rule.id, rule);
    }

    pub(super) fn remove_rule(&mut self, id: RuleId) -> Option<Rule> {
        let rule = self.rules.remove(&id)?;
        let t = &mut self.tables[usize::from(rule.table_id)];
        t.cls.remove(&rule.fmatch.expand(), rule.priority);
        t.ids.remove(&id);
        self.timed.remove(&id);
        if let Some(log) = &mut self.undo {
            log.push(super::bundle::Undo::Removed(Box::new(rule.clone())));
        }
        Some(rule)
    }

    /// Removes rules, announcing each that asked for it (before it disappears).
    pub(crate) fn delete_rules(&mut self, ids: &[RuleId], reason: RemovedReason, now: Millis) {
        for id in ids {
            if let Some(r) = self.rules.get(id) {
                if r.flags & OFPFF_SEND_FLOW_REM != 0 && !r.is_hidden() {
                    let (duration_sec, duration_nsec) = r.duration(now);
                    self.events.push(AsyncEvent::FlowRemoved(FlowRemovedEvent {
                        reason,
                        table_id: r.table_id,
                        priority: r.priority as u16,
                        cookie: r.cookie,
                        match_: r.match_.clone(),
                        duration_sec,
                        duration_nsec,
                        idle_timeout: r.idle_timeout,
                        hard_timeout: r.hard_timeout,
                        packet_count: r.packet_count,
                        byte_count: r.byte_count,
                    }));
                }
            }
            self.remove_rule(*id);
        }
        if !ids.is_empty() {
            self.dpif.revalidate();
        }
    }

    /// With eviction on: from the largest eviction group, the rule that expires soonest.
    /// Rules without timeouts are never evicted.
    fn choose_rule_to_evict(&self, table: u8) -> Option<RuleId> {
        let fields = self.tables[usize::from(table)].eviction.as_ref()?;
        let mut groups: HashMap<Vec<u8>, Vec<&Rule>> = HashMap::new();
        for id in self.table_rules(table) {
            let Some(r) = self.rules.get(id) else {
                continue;
            };
            let key: Vec<u8> = fields
                .iter()
                .flat_map(|f| r.fmatch.exact(*f).map(<[u8]>::to_vec).unwrap_or_default())
                .collect();
            groups.entry(key).or_default().push(r);
        }
        let mut groups: Vec<(Vec<u8>, Vec<&Rule>)> = groups.into_iter().collect();
        // Largest group first; ties broken by key so the choice is deterministic.
        groups.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(&b.0)));
        groups.iter().find_map(|(_, rules)| {
            rules
                .iter()
                .filter(|r| !r.is_hidden())
                .filter_map(|r| r.expiry().map(|(at, _)| (at, r.importance, r.id)))
                .min()
                .map(|e| e.2)
        })
    }

    /// Sets a table's name, flow limit and eviction; shrinks it now if it is over the limit
    /// and eviction is on. Hidden or missing tables are left alone.
    pub fn configure_table(
        &mut self,
        table: u8,
        name: Option<String>,
        max_flows: u32,
        eviction: Option<Vec<Field>>,
        now: Millis,
    ) {
        let Some(t) = self.tables.get_mut(usize::from(table)) else {
            return;
        };
        if !t.exists {
            return;
        }
        t.name = name;
        t.max_flows = max_flows;
        t.eviction = eviction;
        while self.tables[usize::from(table)].cls.len() as u64 > u64::from(max_flows) {
            match self.choose_rule_to_evict(table) {
                Some(id) => self.delete_rules(&[id], RemovedReason::Eviction, now),
                None => break,
            }
        }
    }

    /// Removes rules whose hard or idle timeout has passed, announcing each.
    pub(crate) fn expire(&mut self, now: Millis) {
        // Only rules with a timeout are looked at: a table of permanent rules costs nothing.
        let mut expired: Vec<(RuleId, RemovedReason)> = self
            .timed
            .iter()
            .filter_map(|id| self.rules.get(id))
            .filter_map(|r| {
                r.expiry()
                    .filter(|(at, _)| *at <= now)
                    .map(|(_, why)| (r.id, why))
            })
            .collect();
        expired.sort_by_key(|e| e.0);
        for (id, why) in expired {
            self.delete_rules(&[id], why, now);
        }
    }

    /// Deletes every rule of every visible table (fail-mode changes, resets), announcing
    /// those that asked for flow-removed, and drops the datapath's flows.
    pub fn flush_flows(&mut self, now: Millis) {
        let ids: Vec<RuleId> = self
            .visible_tables()
            .into_iter()
            .flat_map(|t| self.table_rules(t).iter().copied().collect::<Vec<_>>())
            .collect();
        self.delete_rules(&ids, RemovedReason::Delete, now);
        self.dpif.flow_flush();
    }

    /// Removes an internal rule added by [`Self::add_internal_flow`].
    pub fn remove_internal_flow(&mut self, id: RuleId) -> bool {
        self.remove_rule(id).is_some()
    }

    /// Adds (or replaces) an internal rule, e.g. in-band or fail-open; priority may exceed
    /// 65535 to hide it from OpenFlow.
    pub fn add_internal_flow(
        &mut self,
        table: u8,
        m: &OxmMatch,
        priority: u32,
        instructions: Vec<Instruction>,
        now: Millis,
    ) -> Option<RuleId> {
        if !self.table_exists(table) {
            return None;
        }
        let fmatch = FlowMatch::from_oxm(m);
        if let Some(old) = self.tables[usize::from(table)]
            .cls
            .find_exact(&fmatch, priority)
        {
            if self
                .rules
                .get(&old)
                .is_some_and(|r| r.instructions == instructions)
            {
                return Some(old);
            }
            self.remove_rule(old);
        }
        let id = RuleId(self.next_rule_id);
        self.next_rule_id += 1;
        self.insert_rule(
            Rule {
                id,
                table_id: table,
                priority,
                match_: Match::Oxm(m.clone()),
                fmatch: MiniMatch::new(&fmatch),
                cookie: 0,
                idle_timeout: 0,
                hard_timeout: 0,
                flags: 0,
                importance: 0,
                instructions,
                created: now,
                modified: now,
                used: now,
                packet_count: 0,
                byte_count: 0,
            },
            &fmatch,
        );
        self.dpif.revalidate();
        Some(id)
    }

    /// Every rule of `table` (hidden ones included), in insertion order.
    pub fn rules_in_table(&self, table: u8) -> impl Iterator<Item = &Rule> {
        let ids = self.tables.get(usize::from(table)).map(|t| &t.ids);
        ids.into_iter()
            .flatten()
            .filter_map(|id| self.rules.get(id))
    }

    pub fn rule(&self, id: RuleId) -> Option<&Rule> {
        self.rules.get(&id)
    }

    /// Credits packets to a rule (from datapath flow stats) and moves its `used` time on.
    pub fn credit_rule(&mut self, id: RuleId, packets: u64, bytes: u64, used: Millis) {
        if let Some(r) = self.rules.get_mut(&id) {
            r.packet_count = r.packet_count.saturating_add(packets);
            r.byte_count = r.byte_count.saturating_add(bytes);
            r.used = r.used.max(used);
        }
    }

    /// The flow stats entry fields shared by OpenFlow and Nicira replies.
    pub(crate) fn rule_ages(r: &Rule, now: Millis) -> ((u32, u32), u16, u16) {
        // Nicira flow stats carry each age plus one (zero means "unknown"), capped at 65535.
        let age = |t: Millis| (now.saturating_sub(t) / 1000).min(65534) as u16 + 1;
        (r.duration(now), age(r.used), age(r.modified))
    }
}
