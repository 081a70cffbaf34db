//! Bundles: OpenFlow 1.4's BUNDLE_CONTROL / BUNDLE_ADD_MESSAGE, and the ONF extension that
//! carries the same messages over OpenFlow 1.3 (what `ovs-ofctl --bundle` sends).
//!
//! A connection opens a bundle, adds flow-mods and group-mods to it, closes it (optional)
//! and commits it. A commit applies every message in order, and if any fails the switch
//! is put back exactly as it was before the commit: tables, rules and groups are
//! snapshotted first and restored on failure, and events the failed attempt queued (such
//! as flow-removed messages) are dropped. Messages that reach the datapath directly
//! (port-mods, meter-mods, packet-outs) cannot be taken back, so they are refused when
//! added (`OFPBFC_MSG_UNSUP`).
//!
//! Called from [`Ofproto::handle`] only. Bundles belong to their connection and die with it.

use super::{ConnInfo, Millis, Ofproto};
use crate::dpif::Dpif;
use crate::ofp::ext::{
    OFPBCT_CLOSE_REPLY, OFPBCT_CLOSE_REQUEST, OFPBCT_COMMIT_REPLY, OFPBCT_COMMIT_REQUEST,
    OFPBCT_DISCARD_REPLY, OFPBCT_DISCARD_REQUEST, OFPBCT_OPEN_REPLY, OFPBCT_OPEN_REQUEST,
};
use crate::ofp::{BundleAdd, BundleControl, Message, NxMessage, OfpError};

/// A connection may hold this many open bundles, and a bundle this many messages.
const MAX_BUNDLES: usize = 64;
const MAX_BUNDLE_MSGS: usize = 100_000;

/// One open bundle: its flags and the messages added so far, in order.
#[derive(Debug, Default)]
pub(super) struct Bundle {
    flags: u16,
    closed: bool,
    msgs: Vec<Message>,
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
        if !matches!(
            msg,
            Message::FlowMod(_) | Message::Nx(NxMessage::FlowMod(_)) | Message::GroupMod(_)
        ) {
            return Err(OfpError::OFPBFC_MSG_UNSUP);
        }
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
        b.msgs.push(msg);
        Ok(Vec::new())
    }

    /// Applies `msgs` in order, all or none.
    fn commit(&mut self, conn: &ConnInfo, msgs: Vec<Message>, now: Millis) -> Result<(), OfpError> {
        let tables = self.tables.clone();
        let rules = self.rules.clone();
        let next_rule_id = self.next_rule_id;
        let groups = self.groups.clone();
        let n_events = self.events.len();
        for msg in &msgs {
            let r = match msg {
                Message::FlowMod(fm) => self.flow_mod(conn, fm, false, now),
                Message::Nx(NxMessage::FlowMod(fm)) => self.flow_mod(conn, fm, true, now),
                Message::GroupMod(gm) => {
                    super::reject_slave(conn).and_then(|()| self.group_mod(gm, now))
                }
                _ => Err(OfpError::OFPBFC_MSG_UNSUP),
            };
            if let Err(e) = r {
                self.tables = tables;
                self.rules = rules;
                self.next_rule_id = next_rule_id;
                self.groups = groups;
                self.events.truncate(n_events);
                self.dpif.revalidate();
                return Err(e);
            }
        }
        Ok(())
    }

    /// Drops the bundles of a connection that ended.
    pub(super) fn drop_bundles(&mut self, conn_id: u64) {
        self.bundles.retain(|(c, _), _| *c != conn_id);
    }
}
