//! An in-memory datapath for tests: ports in a map, every call recorded.
//!
//! It does not forward packets: `execute` records (packet, in_port, actions) so a test can
//! check what ofproto asked for. Port changes made through the test helpers show up in the
//! next [`Dpif::port_poll`], as a real datapath would report them.

use std::collections::BTreeMap;

use super::{DpPort, DpPortChange, DpPortStats, Dpif, DpifError, DP_LOCAL_PORT};
use crate::ofp::Action;

/// One recorded `execute` call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Executed {
    pub packet: Vec<u8>,
    pub in_port: u32,
    pub actions: Vec<Action>,
}

#[derive(Debug, Default)]
pub struct MemDpif {
    ports: BTreeMap<u32, DpPort>,
    stats: BTreeMap<u32, DpPortStats>,
    pending: Vec<DpPortChange>,
    pub executed: Vec<Executed>,
    /// How many `revalidate` calls happened, and how many of them a `barrier` has covered.
    pub revalidations: u64,
    pub obeyed_revalidations: u64,
    pub flushes: u64,
    /// When set, `execute` fails with this reason.
    pub fail_execute: Option<String>,
}

/// A MAC derived from the port number, so tests know it.
pub fn test_mac(dp_port: u32) -> [u8; 6] {
    let b = dp_port.to_be_bytes();
    [0x02, 0x00, b[0], b[1], b[2], b[3]]
}

impl MemDpif {
    /// A datapath with only the LOCAL port, named `bridge`.
    pub fn new(bridge: &str) -> MemDpif {
        let mut d = MemDpif::default();
        d.ports
            .insert(DP_LOCAL_PORT, Self::make_port(DP_LOCAL_PORT, bridge));
        d
    }

    fn make_port(dp_port: u32, name: &str) -> DpPort {
        DpPort {
            dp_port,
            name: name.to_string(),
            hw_addr: test_mac(dp_port),
            admin_up: true,
            link_up: true,
            curr_speed: 10_000_000,
            max_speed: 10_000_000,
            curr: 1 << 6, // OFPPF_10GB_FD
        }
    }

    /// Sets a port's carrier, as a cable pull would; reported at the next poll.
    pub fn set_link(&mut self, dp_port: u32, up: bool) {
        if let Some(p) = self.ports.get_mut(&dp_port) {
            p.link_up = up;
            self.pending.push(DpPortChange::Changed(p.clone()));
        }
    }

    /// Renames a port, as a device swapped behind one datapath number would appear.
    pub fn rename(&mut self, dp_port: u32, name: &str) {
        if let Some(p) = self.ports.get_mut(&dp_port) {
            p.name = name.to_string();
            self.pending.push(DpPortChange::Changed(p.clone()));
        }
    }

    /// Removes a port behind ofproto's back (hot-unplug); reported at the next poll.
    pub fn unplug(&mut self, dp_port: u32) {
        if self.ports.remove(&dp_port).is_some() {
            self.pending.push(DpPortChange::Removed(dp_port));
        }
    }

    pub fn set_stats(&mut self, dp_port: u32, s: DpPortStats) {
        self.stats.insert(dp_port, s);
    }

    pub fn port(&self, dp_port: u32) -> Option<&DpPort> {
        self.ports.get(&dp_port)
    }
}

impl Dpif for MemDpif {
    fn port_list(&self) -> Vec<DpPort> {
        self.ports.values().cloned().collect()
    }

    fn port_add(&mut self, name: &str, _devargs: &str) -> Result<DpPort, DpifError> {
        if self.ports.values().any(|p| p.name == name) {
            return Err(DpifError::PortExists(name.to_string()));
        }
        let n = (1..)
            .find(|n| !self.ports.contains_key(n))
            .unwrap_or(u32::MAX);
        let p = Self::make_port(n, name);
        self.ports.insert(n, p.clone());
        Ok(p)
    }

    fn port_del(&mut self, dp_port: u32) -> Result<(), DpifError> {
        self.ports
            .remove(&dp_port)
            .map(|_| ())
            .ok_or(DpifError::NoSuchPort(dp_port))
    }

    fn port_stats(&self, dp_port: u32) -> Result<DpPortStats, DpifError> {
        if !self.ports.contains_key(&dp_port) {
            return Err(DpifError::NoSuchPort(dp_port));
        }
        Ok(self.stats.get(&dp_port).copied().unwrap_or_default())
    }

    fn port_set_admin(&mut self, dp_port: u32, up: bool) -> Result<(), DpifError> {
        let p = self
            .ports
            .get_mut(&dp_port)
            .ok_or(DpifError::NoSuchPort(dp_port))?;
        if p.admin_up != up {
            p.admin_up = up;
            // A device that is down has no carrier either.
            p.link_up = up;
            self.pending.push(DpPortChange::Changed(p.clone()));
        }
        Ok(())
    }

    fn port_poll(&mut self) -> Vec<DpPortChange> {
        std::mem::take(&mut self.pending)
    }

    fn execute(
        &mut self,
        packet: &[u8],
        in_port: u32,
        actions: &[Action],
    ) -> Result<(), DpifError> {
        if let Some(r) = &self.fail_execute {
            return Err(DpifError::Refused(r.clone()));
        }
        self.executed.push(Executed {
            packet: packet.to_vec(),
            in_port,
            actions: actions.to_vec(),
        });
        Ok(())
    }

    fn revalidate(&mut self) {
        self.revalidations += 1;
    }

    fn flow_flush(&mut self) {
        self.flushes += 1;
    }

    fn barrier(&mut self) -> Result<(), DpifError> {
        self.obeyed_revalidations = self.revalidations;
        Ok(())
    }
}
