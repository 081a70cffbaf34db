//! Bundles: OpenFlow 1.4's BUNDLE_CONTROL / BUNDLE_ADD_MESSAGE, and the ONF extension that
//! carries the same messages over OpenFlow 1.3 (what `ovs-ofctl --bundle` sends).
//!
//! A connection opens a bundle, adds flow-mods and group-mods to it, closes it (optional)
//! and commits it. A commit applies every message in order, and if any fails the switch
//! is put back as it was before the commit: every rule the commit adds, removes or
//! modifies is logged ([`Undo`]) and the log is played backwards on failure (so a commit
//! costs what it changes, not the size of the tables); groups are snapshotted, and events
//! the failed attempt queued (such as flow-removed messages) are dropped. Messages that
//! reach the datapath directly (port-mods, meter-mods, packet-outs) cannot be taken back,
//! so they are refused when added (`OFPBFC_MSG_UNSUP`).
//!
//! Flow-mods are decoded, and their matches compiled, when added (errors show at once, and
//! the work overlaps with the peer still sending); the commit hands each to flow_mod by
//! value, so an added rule takes the decoded match and instructions without a copy.
//!
//! Called from [`Ofproto::handle`] only. Bundles belong to their connection and die with it.

use std::borrow::Cow;

use super::classifier::{FlowMatch, MiniMatch};
use super::{ConnInfo, Millis, Ofproto, Rule, RuleId};
use crate::dpif::Dpif;
use crate::ofp::ext::{
    OFPBCT_CLOSE_REPLY, OFPBCT_CLOSE_REQUEST, OFPBCT_COMMIT_REPLY, OFPBCT_COMMIT_REQUEST,
    OFPBCT_DISCARD_REPLY, OFPBCT_DISCARD_REQUEST, OFPBCT_OPEN_REPLY, OFPBCT_OPEN_REQUEST,
};
use crate::ofp::flow::{FlowMod, OFPFC_ADD};
use crate::ofp::{BundleAdd, BundleControl, GroupMod, Message, NxMessage, OfpError};

/// A connection may hold this many open bundles, and a bundle this many messages.
const MAX_BUNDLES: usize = 64;
const MAX_BUNDLE_MSGS: usize = 100_000;

/// One change a bundle commit made to the rules, as needed to take it back.
#[derive(Debug)]
pub(super) enum Undo {
    Inserted(RuleId),
    /// The rule as it was when removed.
    Removed(Box<Rule>),
    /// The rule as it was before a modify.
    Modified(Box<Rule>),
}

/// A message waiting in a bundle, decoded. A flow-mod's match is compiled when it is
/// added, while the peer is still sending, so the commit (which the peer waits for) only
/// inserts; the compact match moves into the rule.
#[derive(Debug)]
enum Staged {
    Flow {
        fm: FlowMod,
        /// A Nicira flow-mod (OpenFlow 1.0 semantics).
        nx: bool,
        fmatch: MiniMatch,
    },
    Group(GroupMod),
}

/// One open bundle: its flags and the messages added so far, in order.
#[derive(Debug, Default)]
pub(super) struct Bundle {
    flags: u16,
    closed: bool,
    msgs: Vec<Staged>,
}

impl<D: Dpif> Ofproto<D> {
    pub(super) fn bundle_control(
        &mut self,
        conn: &ConnInfo,
        bc: &BundleControl,
        now: Millis,
    ) -> Result<Vec<Message>, OfpError> {
        let key = (conn.id, bc.bundle_id);
        let reply = |ctype: u16| {
            Ok(vec![Message::BundleControl(BundleControl {
                bundle_id: bc.bundle_id,
                ctype,
                flags: bc.flags,
                properties: Vec::new(),
            })])
        };
        match bc.ctype {
            OFPBCT_OPEN_REQUEST => {
                if self.bundles.contains_key(&key) {
                    return Err(OfpError::OFPBFC_BUNDLE_EXIST);
                }
                if self.bundles.keys().filter(|(c, _)| *c == conn.id).count() >= MAX_BUNDLES {
                    return Err(OfpError::OFPBFC_OUT_OF_BUNDLES);
                }
                self.bundles.insert(
                    key,
                    Bundle {
                        flags: bc.flags,
                        ..Bundle::default()
                    },
                );
                reply(OFPBCT_OPEN_REPLY)
            }
            OFPBCT_CLOSE_REQUEST => {
                let b = self.bundles.get_mut(&key).ok_or(OfpError::OFPBFC_BAD_ID)?;
                if b.closed {
                    return Err(OfpError::OFPBFC_BUNDLE_CLOSED);
                }
                if b.flags != bc.flags {
                    return Err(OfpError::OFPBFC_BAD_FLAGS);
                }
                b.closed = true;
                reply(OFPBCT_CLOSE_REPLY)
            }
            OFPBCT_COMMIT_REQUEST => {
                let b = self.bundles.get(&key).ok_or(OfpError::OFPBFC_BAD_ID)?;
                if b.flags != bc.flags {
                    return Err(OfpError::OFPBFC_BAD_FLAGS);
                }
                let b = self.bundles.remove(&key).unwrap_or_default();
                self.commit(conn, b.msgs, now)?;
                reply(OFPBCT_COMMIT_REPLY)
            }
            OFPBCT_DISCARD_REQUEST => {
                self.bundles.remove(&key).ok_or(OfpError::OFPBFC_BAD_ID)?;
                reply(OFPBCT_DISCARD_REPLY)
            }
            _ => Err(OfpError::OFPBFC_BAD_TYPE),
        }
    }

    pub(super) fn bundle_add(
        &mut self,
        conn: &ConnInfo,
        ba: &BundleAdd,
    ) -> Result<Vec<Message>, OfpError> {
        let (header, msg) = crate::ofp::decode(&ba.message)?;
        if header.version != conn.version.wire() {
            return Err(OfpError::OFPBFC_BAD_VERSION);
        }
        let staged = match msg {
            Message::FlowMod(fm) => Staged::flow(fm, false),
            Message::Nx(NxMessage::FlowMod(fm)) => Staged::flow(fm, true),
            Message::GroupMod(gm) => Staged::Group(gm),
            _ => return Err(OfpError::OFPBFC_MSG_UNSUP),
        };
        let key = (conn.id, ba.bundle_id);
        if !self.bundles.contains_key(&key)
            && self.bundles.keys().filter(|(c, _)| *c == conn.id).count() >= MAX_BUNDLES
        {
            return Err(OfpError::OFPBFC_OUT_OF_BUNDLES);
        }
        // Adding to a bundle that is not open opens it, with the message's flags.
        let b = self.bundles.entry(key).or_insert_with(|| Bundle {
            flags: ba.flags,
            ..Bundle::default()
        });
        if b.closed {
            return Err(OfpError::OFPBFC_BUNDLE_CLOSED);
        }
        if b.flags != ba.flags {
            return Err(OfpError::OFPBFC_BAD_FLAGS);
        }
        if b.msgs.len() >= MAX_BUNDLE_MSGS {
            return Err(OfpError::OFPBFC_MSG_TOO_MANY);
        }
        b.msgs.push(staged);
        Ok(Vec::new())
    }

    /// Applies `msgs` in order, all or none.
    fn commit(&mut self, conn: &ConnInfo, msgs: Vec<Staged>, now: Millis) -> Result<(), OfpError> {
        let next_rule_id = self.next_rule_id;
        let groups = msgs
            .iter()
            .any(|m| matches!(m, Staged::Group(_)))
            .then(|| self.groups.clone());
        let n_events = self.events.len();
        // Grow the rule map once for every rule the bundle may add.
        let adds = msgs
            .iter()
            .filter(|m| matches!(m, Staged::Flow { fm, .. } if fm.command == OFPFC_ADD))
            .count();
        self.rules.reserve(adds);
        self.undo = Some(Vec::new());
        let mut result = Ok(());
        for msg in msgs {
            result = match msg {
                Staged::Flow { fm, nx, fmatch } => {
                    self.flow_mod_compiled(conn, Cow::Owned(fm), nx, Some(fmatch), now)
                }
                Staged::Group(gm) => {
                    super::reject_slave(conn).and_then(|()| self.group_mod(&gm, now))
                }
            };
            if result.is_err() {
                break;
            }
        }
        let log = self.undo.take().unwrap_or_default();
        if result.is_err() {
            for change in log.into_iter().rev() {
                match change {
                    Undo::Inserted(id) => {
                        self.remove_rule(id);
                    }
                    Undo::Removed(rule) => {
                        let fmatch = rule.fmatch.expand();
                        self.insert_rule(*rule, &fmatch);
                    }
                    Undo::Modified(rule) => {
                        if let Some(r) = self.rules.get_mut(&rule.id) {
                            *r = *rule;
                        }
                    }
                }
            }
            self.next_rule_id = next_rule_id;
            if let Some(groups) = groups {
                self.groups = groups;
            }
            self.events.truncate(n_events);
            self.dpif.revalidate();
        }
        result
    }

    /// Drops the bundles of a connection that ended.
    pub(super) fn drop_bundles(&mut self, conn_id: u64) {
        self.bundles.retain(|(c, _), _| *c != conn_id);
    }
}

impl Staged {
    fn flow(fm: FlowMod, nx: bool) -> Staged {
        let fmatch = MiniMatch::new(&FlowMatch::from_match(&fm.match_));
        Staged::Flow { fm, nx, fmatch }
    }
}
