//! The bridge: the DPDK datapath as ofproto's [`Dpif`].
//!
//! ofproto and translation know nothing about DPDK; this is where their
//! requests meet the PMDs. [`NetdevBridge`] owns the opened DPDK ports, the
//! control side of the PMDs ([`NetdevDpif`]) and the bridge's LOCAL port,
//! which has no device: what is sent to it is dropped and counted.
//!
//! Ports: the ports given at start-up are datapath ports 1…N in the order
//! they were configured; the switch opens them with [`BridgePort::open`]
//! before the PMDs run and gives the queues to the PMDs directly. A port
//! added at run time ([`Dpif::port_add`], from `ovs-appctl add-port`) is
//! probed from its devargs, opened the same way from the same mempool, and
//! its queues travel to the running PMDs over their command rings: its rx
//! queue to the PMD polling the fewest queues, a tx handle to every PMD. It
//! takes the next free port number after the last one given out, so a
//! deleted port's number is not handed to a newcomer at once (OpenFlow rules
//! that output to the old port keep outputting nothing, as in Open vSwitch).
//! Deleting a port ([`Dpif::port_del`]) first has every PMD confirm over its
//! ring that it stopped polling and sending on it, and only then stops,
//! closes and removes the device; the other ports never stop.
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

use pmd::command::{CommandOp, ReplyBody};
use pmd::mbuf::Mbuf;
use pmd::mempool::Mempool;
use pmd::port::{Port, PortError, RxQueue};
use pmd::txq::PmdTxQueue;

use crate::config::PortSpec;
use crate::dpif::netdev::NetdevDpif;
use crate::dpif::{DpPort, DpPortChange, DpPortStats, Dpif, DpifError, DP_LOCAL_PORT};
use crate::ofp::Action;

/// One DPDK port of the bridge.
pub struct BridgePort {
    pub name: String,
    /// The DPDK devargs it was opened with.
    pub devargs: String,
    /// Its datapath (and OpenFlow) port number.
    pub dp_port: u32,
    pub port: Port,
    /// The PMD polling each of its rx queues.
    rx_pmds: Vec<usize>,
    admin_up: bool,
    link_up: bool,
    mac: [u8; 6],
    speed_mbps: u32,
}

/// A port [`BridgePort::open`] configured and started, with the queues the
/// PMDs are to get: `txqs[i]` is PMD `i`'s.
pub struct OpenedPort {
    pub port: BridgePort,
    pub rxqs: Vec<RxQueue>,
    pub txqs: Vec<PmdTxQueue>,
}

impl BridgePort {
    /// Configures `port` with `rx_queues` rx queues (at least one; fewer if
    /// the device has fewer; filled from `pool`) and a tx queue per PMD
    /// (fewer if the device has fewer; then PMDs share them), and starts it.
    /// On failure the port is handed back unclosed, with the error: a port
    /// probed at run time must also be removed.
    pub fn open(
        name: &str,
        devargs: &str,
        dp_port: u32,
        mut port: Port,
        pool: &Mempool,
        n_pmds: usize,
        rx_queues: u16,
    ) -> Result<OpenedPort, (PortError, Port)> {
        let (max_rx, max_tx) = match port.max_queues() {
            Ok(m) => m,
            Err(e) => return Err((e, port)),
        };
        let n_rxq = max_rx.min(rx_queues.max(1));
        let n_txq = max_tx.min(u16::try_from(n_pmds).unwrap_or(u16::MAX));
        if let Err(e) = port
            .configure(n_rxq, n_txq, pool)
            .and_then(|()| port.start())
        {
            return Err((e, port));
        }
        let (rxqs, txqs) = port.queues();
        let mac = port.mac().unwrap_or([0; 6]);
        let link = port.link().ok();
        Ok(OpenedPort {
            port: BridgePort {
                name: name.to_owned(),
                devargs: devargs.to_owned(),
                dp_port,
                port,
                rx_pmds: Vec::new(),
                admin_up: true,
                link_up: link.is_some_and(|l| l.up),
                mac,
                speed_mbps: link.map_or(0, |l| l.speed_mbps),
            },
            rxqs,
            txqs: PmdTxQueue::distribute(txqs, n_pmds),
        })
    }

    /// Administratively up (OpenFlow `mod-port up`).
    pub fn admin_up(&self) -> bool {
        self.admin_up
    }

    /// The DPDK device name (the devargs before the first comma).
    fn device(&self) -> &str {
        self.devargs.split(',').next().unwrap_or("")
    }
}

/// Gives each rx queue of `opened` a PMD: a queue pinned in `pins`
/// (queue, PMD) gets its PMD; each other one the PMD polling the fewest
/// queues among `placed`, the pinned ones and the queues chosen before it,
/// the lowest-numbered among equals. Records the choices in the port and
/// returns them, in queue order.
pub fn place_rx_queues(
    placed: &[BridgePort],
    opened: &mut OpenedPort,
    n_pmds: usize,
    pins: &[(usize, usize)],
) -> Vec<usize> {
    let taken: Vec<usize> = placed.iter().flat_map(|p| p.rx_pmds.clone()).collect();
    let choices = spread_pinned(taken, opened.rxqs.len(), n_pmds, pins);
    opened.port.rx_pmds = choices.clone();
    choices
}

/// PMDs for `n` queues: pinned ones (`pins`: queue, PMD) to their PMD, the
/// others as [`spread`] places them after the pinned ones.
fn spread_pinned(
    mut taken: Vec<usize>,
    n: usize,
    n_pmds: usize,
    pins: &[(usize, usize)],
) -> Vec<usize> {
    let pinned = |q: usize| {
        pins.iter()
            .find(|&&(pq, pmd)| pq == q && pmd < n_pmds)
            .map(|&(_, pmd)| pmd)
    };
    taken.extend((0..n).filter_map(pinned));
    let free = (0..n).filter(|&q| pinned(q).is_none()).count();
    let mut spread_out = spread(&taken, free, n_pmds).into_iter();
    (0..n)
        .map(|q| pinned(q).or_else(|| spread_out.next()).unwrap_or(0))
        .collect()
}

/// PMDs for `n` more queues, one at a time to the PMD with the fewest
/// (counting `taken`, one entry per queue placed before), the
/// lowest-numbered among equals.
fn spread(taken: &[usize], n: usize, n_pmds: usize) -> Vec<usize> {
    let mut load = vec![0usize; n_pmds.max(1)];
    for &pmd in taken {
        if let Some(l) = load.get_mut(pmd) {
            *l += 1;
        }
    }
    (0..n)
        .map(|_| {
            let pmd = (0..load.len()).min_by_key(|&i| (load[i], i)).unwrap_or(0);
            load[pmd] += 1;
            pmd
        })
        .collect()
}

/// The first port number from `start` up to `limit - 1`, then from 1 up,
/// for which `used` is false.
fn next_free(start: u32, limit: u32, used: impl Fn(u32) -> bool) -> Option<u32> {
    if limit < 2 {
        return None;
    }
    let start = start.clamp(1, limit - 1);
    (start..limit).chain(1..start).find(|&n| !used(n))
}

/// Why [`NetdevBridge::attach`] failed: the first PMD that did not take
/// the port, and, if some PMD did not confirm letting go of it again, why.
struct AttachError {
    err: String,
    undo: Option<String>,
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
    /// Sorted by datapath port number.
    pub ports: Vec<BridgePort>,
    pool: Arc<Mempool>,
    name: String,
    local_mac: [u8; 6],
    local_admin_up: bool,
    /// Whether DPDK runs with PCI enabled (a PCI port was configured at
    /// start); otherwise it runs with `--no-pci` and PCI devargs are refused.
    pci: bool,
    /// Where the search for a free port number starts.
    next_port: u32,
    packet_outs: Vec<PacketOut>,
    revalidate: bool,
    changes: Vec<DpPortChange>,
    last_link_check: Instant,
}

/// The packet pool every port receives into (one per switch): DPDK's name
/// for it, and the metrics' `pool` label.
pub const PACKET_POOL_NAME: &str = "ferrovs_pkts";

/// How often link state is read from the devices.
const LINK_CHECK: Duration = Duration::from_secs(1);

/// How long a PMD may take to take a port or let go of one: longer than a
/// flow operation, since a PMD may be in a long burst; still bounded, so a
/// stuck PMD makes the command fail instead of hanging the control lcore.
const PORT_COMMAND_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a port name is unusable, or `None`. Names are what users type in
/// `ovs-appctl` and `ovs-ofctl`, so they keep to letters, digits, `_-.`,
/// as the configuration's port names do.
pub fn bad_port_name(name: &str) -> Option<String> {
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
    (!ok).then(|| format!("bad port name {name:?}: use letters, digits, '_', '-' and '.'"))
}

impl NetdevBridge {
    /// A bridge over running PMDs and the ports opened at start-up
    /// (`ports`, sorted by number). `pci` says whether DPDK was started
    /// with PCI enabled.
    pub fn new(
        name: &str,
        netdev: NetdevDpif,
        ports: Vec<BridgePort>,
        pool: Arc<Mempool>,
        local_mac: [u8; 6],
        pci: bool,
    ) -> Self {
        let next_port = ports.iter().map(|p| p.dp_port + 1).max().unwrap_or(1);
        NetdevBridge {
            netdev,
            ports,
            pool,
            name: name.to_owned(),
            local_mac,
            local_admin_up: true,
            pci,
            next_port,
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

    /// The rx queues PMD `pmd` polls, as (datapath port, queue id), in port
    /// order (`pmd-rxq-show`).
    pub fn rx_queues_of(&self, pmd: usize) -> Vec<(u32, u16)> {
        let mut out = Vec::new();
        for p in &self.ports {
            for (q, &owner) in p.rx_pmds.iter().enumerate() {
                if owner == pmd {
                    out.push((p.dp_port, u16::try_from(q).unwrap_or(u16::MAX)));
                }
            }
        }
        out
    }

    /// The packet pool every port receives into: (in use, capacity).
    pub fn pool_usage(&self) -> (u32, u32) {
        (self.pool.in_use(), self.pool.capacity())
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
        self.ports.iter().find(|p| p.dp_port == dp_port)
    }

    /// The PMDs' per-port tables hold ports `1..limit`.
    fn port_limit(&self) -> u32 {
        let slots = self
            .netdev
            .pmds()
            .iter()
            .map(|h| h.stats.ports.len())
            .min()
            .unwrap_or(0);
        u32::try_from(slots).unwrap_or(u32::MAX)
    }

    /// The next free port number from `next_port` on, wrapping around to 1.
    fn free_port_no(&self) -> Option<u32> {
        next_free(self.next_port, self.port_limit(), |n| {
            self.port(n).is_some()
        })
    }

    /// Checks what `add-port` was given before DPDK is touched.
    fn check_new_port(&self, name: &str, devargs: &str) -> Result<(), DpifError> {
        if let Some(why) = bad_port_name(name) {
            return Err(DpifError::Refused(why));
        }
        if name == self.name || self.ports.iter().any(|p| p.name == name) {
            return Err(DpifError::PortExists(name.to_owned()));
        }
        let spec = PortSpec {
            name: name.to_owned(),
            devargs: devargs.to_owned(),
            rx_queues: 1,
        };
        let dev = spec.device();
        if dev.is_empty() {
            return Err(DpifError::Refused(format!(
                "port {name}: empty devargs; give a DPDK device such as net_pcap3,rx_pcap=FILE"
            )));
        }
        if spec.is_pci() && !self.pci {
            return Err(DpifError::Refused(format!(
                "port {name}: {dev} is a PCI device, and this switch runs DPDK with --no-pci (no PCI port was configured at start); name PCI ports in the configuration and restart"
            )));
        }
        if !spec.is_pci() && !dev.starts_with("net_") && !dev.starts_with("eth_") {
            return Err(DpifError::Refused(format!(
                "port {name}: {dev:?} is neither a DPDK virtual device (net_ring3, net_pcap3, net_null3, net_tap3, …) nor a PCI address"
            )));
        }
        if let Some(other) = self.ports.iter().find(|p| p.device() == dev) {
            return Err(DpifError::Refused(format!(
                "port {name}: device {dev} is already port {}; give the new port a device name of its own (e.g. {}9)",
                other.name,
                dev.trim_end_matches(|c: char| c.is_ascii_digit())
            )));
        }
        Ok(())
    }

    /// Sends `op(pmd)` to every PMD and waits for each to answer; returns
    /// the first failure.
    fn port_command(&mut self, mut op: impl FnMut(usize) -> CommandOp) -> Option<String> {
        let saved = self.netdev.timeout();
        self.netdev.set_timeout(PORT_COMMAND_TIMEOUT);
        let mut err = None;
        for pmd in 0..self.netdev.pmds().len() {
            let failed = match self.netdev.call(pmd, op(pmd)) {
                Ok(ReplyBody::PortAdded(true) | ReplyBody::PortDeleted) => continue,
                Ok(ReplyBody::PortAdded(false)) => "its port tables are full".to_owned(),
                Ok(_) => "it answered another command".to_owned(),
                Err(e) => e.to_string(),
            };
            err.get_or_insert(format!("PMD {pmd}: {failed}"));
        }
        self.netdev.set_timeout(saved);
        err
    }

    /// Hands an opened port's queues to the running PMDs: its rx queues to
    /// the PMDs [`place_rx_queues`] picks, a tx handle to every PMD. On
    /// failure every PMD is told to let go of the port again; the error
    /// says whether each confirmed it (only then may the device be closed).
    fn attach(&mut self, opened: &mut OpenedPort) -> Result<(), AttachError> {
        let n_pmds = self.netdev.pmds().len();
        let dp_port = opened.port.dp_port;
        let choices = place_rx_queues(&self.ports, opened, n_pmds, &[]);
        let mut rx_for: Vec<Vec<RxQueue>> = (0..n_pmds).map(|_| Vec::new()).collect();
        for (q, pmd) in opened.rxqs.drain(..).zip(choices) {
            rx_for[pmd].push(q);
        }
        let mut tx_for: Vec<Option<PmdTxQueue>> = opened.txqs.drain(..).map(Some).collect();
        tx_for.resize_with(n_pmds, || None);
        let Some(err) = self.port_command(|pmd| CommandOp::AddPort {
            port: dp_port,
            rxqs: std::mem::take(&mut rx_for[pmd]),
            txq: tx_for[pmd].take(),
        }) else {
            return Ok(());
        };
        // Every PMD, not only those that said no: one that timed out may
        // still take the port later, and deleting a port it lacks is a no-op.
        let undo = self.port_command(|_| CommandOp::DelPort { port: dp_port });
        Err(AttachError { err, undo })
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
                let dp_port = p.dp_port;
                if let Some(d) = self.describe(dp_port) {
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
        std::iter::once(DP_LOCAL_PORT)
            .chain(self.ports.iter().map(|p| p.dp_port))
            .filter_map(|p| self.describe(p))
            .collect()
    }

    /// Probes `devargs`, opens the port from the bridge's mempool, gives
    /// its queues to the PMDs and returns it with its new number. On any
    /// failure nothing is left behind: no PMD holds the port and the device
    /// is removed.
    fn port_add(&mut self, name: &str, devargs: &str) -> Result<DpPort, DpifError> {
        self.check_new_port(name, devargs)?;
        let dp_port = self.free_port_no().ok_or_else(|| {
            DpifError::Refused(format!(
                "port {name}: the bridge holds the most ports it can ({}); delete one first",
                self.port_limit().saturating_sub(1)
            ))
        })?;
        let port =
            Port::probe(devargs).map_err(|e| DpifError::Refused(format!("port {name}: {e}")))?;
        let n_pmds = self.netdev.pmds().len();
        let mut opened = match BridgePort::open(name, devargs, dp_port, port, &self.pool, n_pmds, 1)
        {
            Ok(o) => o,
            Err((e, port)) => {
                // Its queues may hold mbufs: close before reporting.
                let _ = port.close_and_remove();
                return Err(DpifError::Refused(format!("port {name}: {e}")));
            }
        };
        if let Err(AttachError { err, undo }) = self.attach(&mut opened) {
            let Some(undo) = undo else {
                let _ = opened.port.port.close_and_remove();
                return Err(DpifError::Refused(format!(
                    "port {name}: the PMDs did not take the port ({err}); it was not added, try again"
                )));
            };
            // A PMD may still poll it: closing the device under it would
            // crash the switch, so the device stays open, unused.
            std::mem::forget(opened.port);
            return Err(DpifError::Refused(format!(
                "port {name}: the PMDs did not take the port ({err}), and a PMD did not confirm letting go of it ({undo}); its device {} stays open until the switch restarts",
                devargs.split(',').next().unwrap_or("")
            )));
        }
        self.next_port = dp_port + 1;
        self.netdev.port_added(dp_port, name);
        let at = self.ports.partition_point(|p| p.dp_port < dp_port);
        self.ports.insert(at, opened.port);
        log::info!("port {name} ({devargs}) added as port {dp_port}");
        self.describe(dp_port).ok_or(DpifError::NoSuchPort(dp_port))
    }

    /// Has every PMD stop polling and sending on the port (each confirms
    /// over its ring), then stops, closes and removes its device.
    fn port_del(&mut self, dp_port: u32) -> Result<(), DpifError> {
        if dp_port == DP_LOCAL_PORT {
            return Err(DpifError::Refused(format!(
                "{} is the bridge's LOCAL port, which cannot be deleted",
                self.name
            )));
        }
        let i = self
            .ports
            .iter()
            .position(|p| p.dp_port == dp_port)
            .ok_or(DpifError::NoSuchPort(dp_port))?;
        if let Some(err) = self.port_command(|_| CommandOp::DelPort { port: dp_port }) {
            return Err(DpifError::Refused(format!(
                "port {}: a PMD did not confirm that it let go of the port ({err}); the port stays, try again",
                self.ports[i].name
            )));
        }
        let p = self.ports.remove(i);
        self.netdev.port_removed(dp_port);
        log::info!("port {} (port {dp_port}) deleted", p.name);
        if let Err(e) = p.port.close_and_remove() {
            // The PMDs no longer use it and the bridge forgot it: the
            // deletion stands; what DPDK said goes to the log.
            log::warn!("port {}: {e}", p.name);
        }
        Ok(())
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
            let p = self
                .ports
                .iter_mut()
                .find(|p| p.dp_port == dp_port)
                .ok_or(DpifError::NoSuchPort(dp_port))?;
            p.admin_up = up;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rx_queues_go_to_the_least_loaded_pmd() {
        // Start-up: one queue per port spreads round robin.
        assert_eq!(spread(&[], 1, 2), [0]);
        assert_eq!(spread(&[0], 1, 2), [1]);
        assert_eq!(spread(&[0, 1], 1, 2), [0]);
        // A port added after PMD 0 lost its queues goes to PMD 0.
        assert_eq!(spread(&[1, 1, 0], 1, 2), [0]);
        assert_eq!(spread(&[1], 3, 3), [0, 2, 0]);
        assert_eq!(spread(&[], 2, 1), [0, 0]);
        // A queue placed on a PMD that does not exist counts for nobody.
        assert_eq!(spread(&[7], 1, 1), [0]);
    }

    #[test]
    fn pinned_rx_queues_go_to_their_pmd_and_count_for_the_rest() {
        // Queue 1 pinned to PMD 0: queue 0 then goes to the less loaded PMD 1.
        assert_eq!(spread_pinned(vec![], 2, 2, &[(1, 0)]), [1, 0]);
        // Pins to a PMD that does not exist are ignored.
        assert_eq!(spread_pinned(vec![], 2, 2, &[(0, 5)]), [0, 1]);
        // Everything pinned, whatever the load.
        assert_eq!(spread_pinned(vec![1, 1], 2, 2, &[(0, 1), (1, 1)]), [1, 1]);
        assert_eq!(spread_pinned(vec![0], 3, 3, &[]), spread(&[0], 3, 3));
    }

    #[test]
    fn port_numbers_are_not_reused_at_once() {
        let used = |taken: &'static [u32]| move |n: u32| taken.contains(&n);
        assert_eq!(next_free(3, 256, used(&[1, 2])), Some(3));
        // Port 3 was deleted, 4 is the next after the last one given out.
        assert_eq!(next_free(4, 256, used(&[1, 2])), Some(4));
        assert_eq!(next_free(4, 256, used(&[1, 2, 4, 5])), Some(6));
        // At the end of the range the search wraps to the lowest free.
        assert_eq!(next_free(256, 256, used(&[1, 2, 255])), Some(3));
        assert_eq!(next_free(255, 256, used(&[255])), Some(1));
        assert_eq!(next_free(2, 4, used(&[1, 2, 3])), None);
        assert_eq!(next_free(1, 1, used(&[])), None);
    }

    #[test]
    fn port_names_users_can_type() {
        for ok in ["p3", "uplink-0", "vm_1.eth0", "a-rather-long-port-name"] {
            assert_eq!(bad_port_name(ok), None, "{ok}");
        }
        for bad in ["", "p 3", "p3/x", "p3,x", "é"] {
            assert_eq!(
                bad_port_name(bad),
                Some(format!(
                    "bad port name {bad:?}: use letters, digits, '_', '-' and '.'"
                )),
                "{bad}"
            );
        }
    }
}
