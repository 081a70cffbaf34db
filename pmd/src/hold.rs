//! Holding a new flow's packets so that none overtakes an earlier one.
//!
//! The problem: a flow's first packets miss and go up the upcall ring; the
//! control side translates, executes them through the PMD and installs the
//! flow. Packets of the flow that miss after the control side drained the
//! ring, but before the flow is in, are still in the ring when the flow
//! starts forwarding later packets directly: those would overtake them.
//!
//! The cure: the control side installs a new flow *held*. Its actions are
//! one `userspace` action with [`HOLD_COOKIE`] and the flow's ufid
//! ([`hold_actions`]), so its packets keep going up, in ring order, behind
//! the misses. Every upcall carries its number on this PMD; the control side
//! tells the PMD how many it has taken (`drained`) when it asks to *release*
//! the flow, after the executes of everything it took. The PMD releases (puts
//! the real actions in) only if no packet of the flow can still be in the
//! ring: the last upcall the hold, or a miss before it, sent up is among
//! those taken ([`Holds::try_release`]). If one may still be there, the PMD
//! stops sending the flow's packets up and *parks* them here instead, so the
//! next release, once the control side has caught up, cannot fail on this
//! flow again; on release the parked packets run first, in order, with the
//! real actions. A flow is thus released within two drains however fast its
//! packets come.
//!
//! Bookkeeping is per held flow, in a map the control side's commands
//! grow (a put) and shrink (a release, delete or flush); a packet only
//! updates its flow's entry, so nothing here allocates per packet. Parking
//! is bounded ([`PARK_LIMIT`] packets over all flows); a packet that finds
//! no room is dropped and counted, as a full upcall ring would drop it.
//!
//! Who calls it: the PMD loop ([`crate::pmd`]) on puts, releases, deletes,
//! flushes and hold upcalls; the control side builds holds with
//! [`hold_actions`] and recognises hold upcalls with [`hold_ufid`].

use std::collections::HashMap;
use std::sync::Arc;

use crate::actions::DpAction;

/// The `userspace` cookie of a held flow ("frvchold").
pub const HOLD_COOKIE: u64 = 0x6672_7663_686f_6c64;

/// Packets parked at most, over all flows.
pub const PARK_LIMIT: usize = 2048;

/// The actions of a held flow: one upcall carrying the flow's ufid.
pub fn hold_actions(ufid: u128) -> Arc<[DpAction]> {
    Arc::from(vec![DpAction::Userspace {
        cookie: HOLD_COOKIE,
        userdata: ufid.to_le_bytes().to_vec(),
    }])
}

/// The ufid a `userspace` action (or its upcall) names if it is a hold.
pub fn hold_ufid(cookie: u64, userdata: &[u8]) -> Option<u128> {
    if cookie != HOLD_COOKIE {
        return None;
    }
    Some(u128::from_le_bytes(userdata.try_into().ok()?))
}

/// The ufid of `actions` if they are a hold.
pub fn held_flow(actions: &[DpAction]) -> Option<u128> {
    match actions {
        [DpAction::Userspace { cookie, userdata }] => hold_ufid(*cookie, userdata),
        _ => None,
    }
}

/// One held flow.
#[derive(Debug, Clone, Copy, Default)]
struct Held {
    /// One past the number of the last upcall that may carry a packet of
    /// the flow (a miss before the hold, or the hold's own).
    last: u64,
    /// Its packets park here instead of going up.
    parking: bool,
}

/// A PMD's held flows and their parked packets `(ufid, in_port, packet)`,
/// in arrival order.
pub struct Holds<P> {
    held: HashMap<u128, Held>,
    parked: Vec<(u128, u32, P)>,
}

impl<P> Default for Holds<P> {
    fn default() -> Self {
        Holds {
            held: HashMap::new(),
            parked: Vec::with_capacity(PARK_LIMIT),
        }
    }
}

impl<P> Holds<P> {
    /// A flow with `actions` is put while `upcall_seq` upcalls have been
    /// queued: if it is a hold, the misses among them (its own first
    /// packets may be there) must be taken before it is released.
    pub fn on_put(&mut self, actions: &[DpAction], upcall_seq: u64) {
        if let Some(u) = held_flow(actions) {
            let h = self.held.entry(u).or_default();
            h.last = h.last.max(upcall_seq);
        }
    }

    /// Whether packets of held flow `ufid` are parked here rather than sent up.
    pub fn is_parking(&self, ufid: u128) -> bool {
        self.held.get(&ufid).is_some_and(|h| h.parking)
    }

    /// Parks a packet of a parking flow; gives it back when there is no room.
    pub fn park(&mut self, ufid: u128, in_port: u32, pkt: P) -> Result<(), P> {
        if self.parked.len() >= PARK_LIMIT {
            return Err(pkt);
        }
        self.parked.push((ufid, in_port, pkt));
        Ok(())
    }

    /// Upcall number `seq` went up for held flow `ufid`.
    pub fn sent(&mut self, ufid: u128, seq: u64) {
        if let Some(h) = self.held.get_mut(&ufid) {
            h.last = h.last.max(seq + 1);
        }
    }

    /// The control side asks to release `ufid`, having taken the first
    /// `drained` upcalls. On yes, returns the flow's parked packets, in
    /// order, for the caller to run before the real actions go in. On no,
    /// the flow parks its packets from now on, so no further upcall of it
    /// can make the next request fail.
    pub fn try_release(&mut self, ufid: u128, drained: u64) -> Option<Vec<(u32, P)>> {
        if let Some(h) = self.held.get_mut(&ufid) {
            if h.last > drained {
                h.parking = true;
                return None;
            }
        }
        Some(self.take(ufid))
    }

    /// Flow `ufid` is gone: its parked packets are dropped.
    pub fn forget(&mut self, ufid: u128) {
        drop(self.take(ufid));
    }

    /// Every flow is gone.
    pub fn clear(&mut self) {
        self.held.clear();
        self.parked.clear();
    }

    /// Flows held now.
    pub fn len(&self) -> usize {
        self.held.len()
    }

    /// Whether no flow is held.
    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }

    fn take(&mut self, ufid: u128) -> Vec<(u32, P)> {
        let parking = self.held.remove(&ufid).is_some_and(|h| h.parking);
        if !parking || !self.parked.iter().any(|(u, _, _)| *u == ufid) {
            return Vec::new();
        }
        let mut mine = Vec::new();
        let mut rest = Vec::with_capacity(PARK_LIMIT);
        for (u, in_port, pkt) in self.parked.drain(..) {
            if u == ufid {
                mine.push((in_port, pkt));
            } else {
                rest.push((u, in_port, pkt));
            }
        }
        self.parked = rest;
        mine
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const X: u128 = 0x1234;
    const Y: u128 = 0x9999_0000_0000_0000_0000_0000_0000_0001;

    #[test]
    fn hold_actions_name_their_flow_and_nothing_else_is_a_hold() {
        assert_eq!(held_flow(&hold_actions(X)), Some(X));
        assert_eq!(held_flow(&[DpAction::Output(1)]), None);
        assert_eq!(hold_ufid(HOLD_COOKIE, &[1, 2, 3]), None);
        assert_eq!(hold_ufid(7, &X.to_le_bytes()), None);
    }

    #[test]
    fn a_hold_with_nothing_in_flight_is_released_at_once() {
        let mut h: Holds<&str> = Holds::default();
        h.on_put(&hold_actions(X), 5);
        h.on_put(&[DpAction::Output(1)], 9);
        assert_eq!(h.len(), 1);
        assert_eq!(h.try_release(X, 5), Some(vec![]));
        assert!(h.is_empty());
    }

    #[test]
    fn misses_before_the_put_must_be_taken_first() {
        let mut h: Holds<&str> = Holds::default();
        // Upcalls 0..=5 were queued when the hold went in; the control side
        // had taken 5 of them.
        h.on_put(&hold_actions(X), 6);
        assert_eq!(h.try_release(X, 5), None);
        assert!(h.is_parking(X));
        assert_eq!(h.try_release(X, 6), Some(vec![]));
        assert!(!h.is_parking(X));
    }

    #[test]
    fn parked_packets_come_back_in_order_on_release() {
        let mut h: Holds<&str> = Holds::default();
        h.on_put(&hold_actions(X), 0);
        h.on_put(&hold_actions(Y), 0);
        // A packet of X went up as upcall 3; the control side has taken 3.
        h.sent(X, 3);
        // Y's own packets do not hold X back.
        h.sent(Y, 7);
        assert_eq!(h.try_release(X, 3), None);
        assert_eq!(h.park(X, 1, "a"), Ok(()));
        assert_eq!(h.try_release(Y, 4), None);
        assert_eq!(h.park(Y, 2, "other"), Ok(()));
        assert_eq!(h.park(X, 1, "b"), Ok(()));
        assert_eq!(h.try_release(X, 4), Some(vec![(1, "a"), (1, "b")]));
        assert!(!h.is_parking(X));
        // Y's packet stays until Y goes.
        h.forget(Y);
        assert_eq!(h.try_release(Y, 4), Some(vec![]));
        assert!(h.is_empty());
    }

    #[test]
    fn parking_is_bounded() {
        let mut h: Holds<u32> = Holds::default();
        h.on_put(&hold_actions(X), 0);
        h.sent(X, 10);
        assert_eq!(h.try_release(X, 0), None);
        for i in 0..PARK_LIMIT as u32 {
            assert_eq!(h.park(X, 1, i), Ok(()));
        }
        assert_eq!(h.park(X, 1, 99), Err(99));
        let back = h.try_release(X, 11).expect("released");
        assert_eq!(back.len(), PARK_LIMIT);
        assert_eq!(back[0], (1, 0));
    }
}
