//! The bridge: the DPDK datapath as ofproto's [`Dpif`].
//!
//! ofproto and translation know nothing about DPDK; this is where their
//! requests meet the PMDs. [`NetdevBridge`] owns the opened DPDK ports (datapath
//! ports 1…N, in the order they were configured), the control side of the
//! PMDs ([`NetdevDpif`]) and the bridge's LOCAL port, which has no device: what
//! is sent to it is dropped and counted.
//!
//! Two requests cannot be finished inside the `Dpif` call, because they need
//! translation, which reads ofproto while ofproto is busy calling us:
//! - a packet-out is queued ([`NetdevBridge::take_packet_outs`]) and the
//!   switch translates and executes it right after the request returns, before
//!   the next request on any connection is handled;
//! - "the tables changed" marks every installed megaflow suspect; the switch
//!   revalidates them (crate::upcall) before the next upcall and before any
//!   barrier reply ([`NetdevBridge::take_revalidate`]).
//!
//! Called from the control lcore only.

use std::sync::Arc;
use std::time::{Duration, Instant};

use pmd::mbuf::Mbuf;
use pmd::mempool::Mempool;
use pmd::port::Port;

use crate::dpif::netdev::NetdevDpif;
use crate::dpif::{DpPort, DpPortChange, DpPortStats, Dpif, DpifError, DP_LOCAL_PORT};
use crate::ofp::Action;

/// One DPDK port of the bridge.
pub struct BridgePort {
    pub name: String,
    pub port: Port,
    admin_up: bool,
    link_up: bool,
    mac: [u8; 6],
    speed_mbps: u32,
}

impl BridgePort {
    pub fn new(name: String, port: Port) -> BridgePort {
        let mac = port.mac().unwrap_or([0; 6]);
        let link = port.link().ok();
        BridgePort {
            name,
            port,
            admin_up: true,
            link_up: link.is_some_and(|l| l.up),
            mac,
            speed_mbps: link.map_or(0, |l| l.speed_mbps),
        }
    }

    /// Administratively up (OpenFlow `mod-port up`).
    pub fn admin_up(&self) -> bool {
        self.admin_up
    }
}

/// A packet-out waiting for translation.
pub struct PacketOut {
    pub packet: Vec<u8>,
    pub in_port: u32,
    pub actions: Vec<Action>,
}

/// ofproto's datapath: the PMDs and the DPDK ports.
pub struct NetdevBridge {
    pub netdev: NetdevDpif,
    pub ports: Vec<BridgePort>,
    pool: Arc<Mempool>,
    name: String,
    local_mac: [u8; 6],
    local_admin_up: bool,
    packet_outs: Vec<PacketOut>,
    revalidate: bool,
    changes: Vec<DpPortChange>,
    last_link_check: Instant,
}

/// How often link state is read from the devices.
const LINK_CHECK: Duration = Duration::from_secs(1);

impl NetdevBridge {
    pub fn new(
        name: &str,
        netdev: NetdevDpif,
        ports: Vec<BridgePort>,
        pool: Arc<Mempool>,
        local_mac: [u8; 6],
    ) -> Self {
        NetdevBridge {
            netdev,
            ports,
            pool,
            name: name.to_owned(),
            local_mac,
            local_admin_up: true,
            packet_outs: Vec::new(),
            revalidate: false,
            changes: Vec::new(),
            last_link_check: Instant::now(),
        }
    }

    /// The bridge's name (`br0`), which `ofproto/trace` and `fdb/show` take.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A packet from the pool holding `bytes`; None when the pool is empty
    /// or the packet is larger than an mbuf.
    pub fn alloc_packet(&self, bytes: &[u8]) -> Option<Mbuf> {
        let mut m = self.pool.alloc()?;
        let len = u16::try_from(bytes.len()).ok()?;
        m.append(len)?.copy_from_slice(bytes);
        Some(m)
    }

    /// Packet-outs queued since the last call, in order.
    pub fn take_packet_outs(&mut self) -> Vec<PacketOut> {
        std::mem::take(&mut self.packet_outs)
    }

    /// Whether the OpenFlow side changed since the last call.
    pub fn take_revalidate(&mut self) -> bool {
        std::mem::take(&mut self.revalidate)
    }

    fn port(&self, dp_port: u32) -> Option<&BridgePort> {
        (dp_port as usize)
            .checked_sub(1)
            .and_then(|i| self.ports.get(i))
    }

    fn describe(&self, dp_port: u32) -> Option<DpPort> {
        if dp_port == DP_LOCAL_PORT {
            return Some(DpPort {
                dp_port,
                name: self.name.clone(),
                hw_addr: self.local_mac,
                admin_up: self.local_admin_up,
                link_up: true,
                curr_speed: 0,
                max_speed: 0,
                curr: 0,
            });
        }
        let p = self.port(dp_port)?;
        Some(DpPort {
            dp_port,
            name: p.name.clone(),
            hw_addr: p.mac,
            admin_up: p.admin_up,
            link_up: p.link_up,
            curr_speed: p.speed_mbps.saturating_mul(1000),
            max_speed: p.speed_mbps.saturating_mul(1000),
            curr: port_features(p.speed_mbps),
        })
    }

    fn check_links(&mut self) {
        if self.last_link_check.elapsed() < LINK_CHECK {
            return;
        }
        self.last_link_check = Instant::now();
        for i in 0..self.ports.len() {
            let Ok(link) = self.ports[i].port.link() else {
                continue;
            };
            let p = &mut self.ports[i];
            if link.up != p.link_up || link.speed_mbps != p.speed_mbps {
                p.link_up = link.up;
                p.speed_mbps = link.speed_mbps;
                if let Some(d) = self.describe(i as u32 + 1) {
                    self.changes.push(DpPortChange::Changed(d));
                }
            }
        }
    }
}

/// OpenFlow `ofp_port_features` bits for a full-duplex link of `mbps`.
fn port_features(mbps: u32) -> u32 {
    match mbps {
        10 => 1 << 1,
        100 => 1 << 3,
        1_000 => 1 << 5,
        10_000 => 1 << 6,
        40_000 => 1 << 7,
        100_000 => 1 << 8,
        1_000_000 => 1 << 9,
        0 => 0,
        _ => 1 << 10,
    }
}

impl Dpif for NetdevBridge {
    fn port_list(&self) -> Vec<DpPort> {
        (0..=self.ports.len() as u32)
            .filter_map(|p| self.describe(p))
            .collect()
    }

    fn port_add(&mut self, name: &str, _devargs: &str) -> Result<DpPort, DpifError> {
        Err(DpifError::Refused(format!(
            "port {name}: ports are given at start (--port or the config file); restart to add one"
        )))
    }

    fn port_del(&mut self, dp_port: u32) -> Result<(), DpifError> {
        Err(DpifError::Refused(format!(
            "port {dp_port}: ports are given at start; restart to remove one"
        )))
    }

    fn port_stats(&self, dp_port: u32) -> Result<DpPortStats, DpifError> {
        if dp_port == DP_LOCAL_PORT {
            return Ok(DpPortStats::default());
        }
        let p = self.port(dp_port).ok_or(DpifError::NoSuchPort(dp_port))?;
        let s = p
            .port
            .stats()
            .map_err(|e| DpifError::Refused(e.to_string()))?;
        let tx_dropped = self
            .netdev
            .pmds()
            .iter()
            .map(|h| {
                h.stats
                    .ports
                    .get(dp_port as usize)
                    .map_or(0, |c| c.tx_dropped.get())
            })
            .sum();
        Ok(DpPortStats {
            rx_packets: s.rx_packets,
            tx_packets: s.tx_packets,
            rx_bytes: s.rx_bytes,
            tx_bytes: s.tx_bytes,
            rx_dropped: s.rx_missed + s.rx_nombuf,
            tx_dropped,
            rx_errors: s.rx_errors,
            tx_errors: s.tx_errors,
        })
    }

    fn port_set_admin(&mut self, dp_port: u32, up: bool) -> Result<(), DpifError> {
        if dp_port == DP_LOCAL_PORT {
            self.local_admin_up = up;
        } else {
            let i = (dp_port as usize)
                .checked_sub(1)
                .filter(|&i| i < self.ports.len())
                .ok_or(DpifError::NoSuchPort(dp_port))?;
            self.ports[i].admin_up = up;
        }
        // Translation drops traffic from and to a port that is down, so the
        // megaflows made while it was up must go.
        self.revalidate = true;
        Ok(())
    }

    fn port_poll(&mut self) -> Vec<DpPortChange> {
        self.check_links();
        std::mem::take(&mut self.changes)
    }

    fn execute(
        &mut self,
        packet: &[u8],
        in_port: u32,
        actions: &[Action],
    ) -> Result<(), DpifError> {
        self.packet_outs.push(PacketOut {
            packet: packet.to_vec(),
            in_port,
            actions: actions.to_vec(),
        });
        Ok(())
    }

    fn revalidate(&mut self) {
        self.revalidate = true;
    }

    fn flow_flush(&mut self) {
        let _ = self.netdev.flow_flush();
    }

    fn barrier(&mut self) -> Result<(), DpifError> {
        // The switch revalidates (UpcallHandler::revalidate_changes) before
        // it hands a barrier to ofproto, so nothing is pending here. A change
        // made by this very request cannot be revalidated from inside
        // ofproto's call: drop every megaflow then, which is never wrong.
        if self.take_revalidate() {
            self.netdev
                .flow_flush()
                .map_err(|e| DpifError::Refused(e.to_string()))?;
        }
        for pmd in 0..self.netdev.pmds().len() {
            self.netdev
                .status(pmd)
                .map_err(|e| DpifError::Refused(e.to_string()))?;
        }
        Ok(())
    }
}
