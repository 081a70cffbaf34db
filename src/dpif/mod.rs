//! dpif: the one interface between the OpenFlow control plane and a datapath.
//!
//! Purpose: `ofproto` (and later `xlate`/`upcall`) talk to the datapath only through the
//! [`Dpif`] trait, so they know nothing about DPDK. [`netdev::NetdevDpif`] is the control
//! side of the DPDK datapath (the PMDs' rings); [`memory::MemDpif`] is an in-memory datapath
//! for tests.
//!
//! Vocabulary: a *datapath port* ([`DpPort`]) is numbered by the datapath; port 0 is the
//! bridge's internal LOCAL port (OpenFlow `OFPP_LOCAL`), every other datapath number equals
//! its OpenFlow port number. Datapath flows (megaflows) are opaque here: ofproto only says
//! "the OpenFlow tables changed" ([`Dpif::revalidate`]) and waits for the datapath to obey
//! ([`Dpif::barrier`]).
//!
//! Threading: every call comes from the control lcore; none may block on a PMD for longer
//! than one PMD iteration.

pub mod memory;
pub mod netdev;

use crate::ofp::Action;

/// The datapath number of the bridge's internal port.
pub const DP_LOCAL_PORT: u32 = 0;

/// A datapath port as the datapath sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DpPort {
    pub dp_port: u32,
    pub name: String,
    pub hw_addr: [u8; 6],
    /// Administratively up (OpenFlow's `OFPPC_PORT_DOWN` is the negation).
    pub admin_up: bool,
    /// Carrier present (OpenFlow's `OFPPS_LINK_DOWN` is the negation).
    pub link_up: bool,
    /// Current speed in kbps (0 when unknown).
    pub curr_speed: u32,
    pub max_speed: u32,
    /// OpenFlow `ofp_port_features` bits of the current link mode.
    pub curr: u32,
}

/// Counters of one datapath port. `u64::MAX` means "unavailable", as in OpenFlow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DpPortStats {
    pub rx_packets: u64,
    pub tx_packets: u64,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub rx_dropped: u64,
    pub tx_dropped: u64,
    pub rx_errors: u64,
    pub tx_errors: u64,
}

/// What the datapath noticed about a port since the last poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DpPortChange {
    /// The port appeared or one of its attributes (link, admin state, name, MAC) changed.
    Changed(DpPort),
    /// The port is gone.
    Removed(u32),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DpifError {
    #[error("no such datapath port {0}")]
    NoSuchPort(u32),
    #[error("a port named {0:?} already exists")]
    PortExists(String),
    #[error("the datapath refused the operation: {0}")]
    Refused(String),
}

/// The datapath as the control plane sees it.
pub trait Dpif {
    /// Every port the datapath has, LOCAL included.
    fn port_list(&self) -> Vec<DpPort>;
    /// Creates a port from a device description; returns it with its datapath number.
    fn port_add(&mut self, name: &str, devargs: &str) -> Result<DpPort, DpifError>;
    fn port_del(&mut self, dp_port: u32) -> Result<(), DpifError>;
    fn port_stats(&self, dp_port: u32) -> Result<DpPortStats, DpifError>;
    /// Brings a port administratively up or down.
    fn port_set_admin(&mut self, dp_port: u32, up: bool) -> Result<(), DpifError>;
    /// Port changes since the last call.
    fn port_poll(&mut self) -> Vec<DpPortChange>;
    /// Sends `packet`, received on OpenFlow port `in_port`, through OpenFlow `actions`
    /// (packet-out). The datapath side translates them.
    fn execute(&mut self, packet: &[u8], in_port: u32, actions: &[Action])
        -> Result<(), DpifError>;
    /// The OpenFlow tables (or groups, meters, port config) changed: every installed
    /// datapath flow must be checked again before it is used.
    fn revalidate(&mut self);
    /// Drops every datapath flow.
    fn flow_flush(&mut self);
    /// Returns once the datapath obeys every change announced before the call.
    fn barrier(&mut self) -> Result<(), DpifError>;
}
