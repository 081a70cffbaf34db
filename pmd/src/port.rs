//! Ethernet ports (`rte_ethdev`).
//!
//! A [`Port`] is configured and started on the control lcore. Its queues are
//! handed out as [`RxQueue`] / [`TxQueue`] values: each is `Send` but not
//! `Clone`, so exactly one PMD lcore polls a given queue, which is what DPDK
//! requires. Statistics and link state may be read from any thread.
//!
//! Ports named on the EAL command line are probed by `rte_eal_init` and
//! found with [`Port::by_name`]; a port added at run time is probed from its
//! devargs with [`Port::probe`], and [`Port::close_and_remove`] removes its
//! device again (`rte_dev_remove`), so the same devargs can be probed later.

use std::ffi::{CStr, CString};

use thiserror::Error;

use crate::mbuf::MbufBatch;
use crate::mempool::Mempool;

#[derive(Debug, Error)]
pub enum PortError {
    #[error(
        "no DPDK port is named {0:?}; check its devargs (e.g. net_ring0, net_pcap0,rx_pcap=FILE)"
    )]
    NotFound(String),
    #[error("port {name}: {op} failed: {reason}")]
    Op {
        name: String,
        op: &'static str,
        reason: String,
    },
    #[error("DPDK cannot probe {devargs:?} ({reason}); check the driver name (net_pcap, net_ring, net_null, net_tap, …) and its arguments; DPDK's own message is in the switch's log")]
    Probe { devargs: String, reason: String },
    #[error("port {name}: it supports at most {max} {kind} queues, {asked} were asked for")]
    TooManyQueues {
        name: String,
        kind: &'static str,
        max: u16,
        asked: u16,
    },
}

/// Basic counters of a port.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PortStats {
    pub rx_packets: u64,
    pub tx_packets: u64,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    /// Packets the NIC dropped because no rx descriptor was free.
    pub rx_missed: u64,
    pub rx_errors: u64,
    pub tx_errors: u64,
    /// Packets received without an mbuf to put them in.
    pub rx_nombuf: u64,
}

/// Link state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Link {
    pub up: bool,
    pub speed_mbps: u32,
    pub full_duplex: bool,
}

/// A DPDK ethdev port.
#[derive(Debug)]
pub struct Port {
    id: u16,
    name: String,
    n_rxq: u16,
    n_txq: u16,
    started: bool,
}

const RX_DESC: u16 = 1024;
const TX_DESC: u16 = 1024;

fn check(rc: i32, name: &str, op: &'static str) -> Result<(), PortError> {
    if rc < 0 {
        let reason = crate::strerror(-rc);
        return Err(PortError::Op {
            name: name.to_owned(),
            op,
            reason,
        });
    }
    Ok(())
}

impl Port {
    /// Finds a probed port by its device name (the devargs before the first comma).
    pub fn by_name(name: &str) -> Result<Port, PortError> {
        let c = CString::new(name).map_err(|_| PortError::NotFound(name.to_owned()))?;
        let mut id = 0u16;
        // SAFETY: c is a valid C string and id a valid out-pointer.
        let rc = unsafe { dpdk_sys::rte_eth_dev_get_port_by_name(c.as_ptr(), &mut id) };
        if rc != 0 {
            return Err(PortError::NotFound(name.to_owned()));
        }
        Ok(Port {
            id,
            name: name.to_owned(),
            n_rxq: 0,
            n_txq: 0,
            started: false,
        })
    }

    /// Probes the device `devargs` describes (`rte_dev_probe`), e.g.
    /// `net_pcap3,rx_pcap=in.pcap`, and returns its port. The ethdev must
    /// be named like the device (the devargs before the first comma), as
    /// every virtual device's is; otherwise the device is removed again.
    pub fn probe(devargs: &str) -> Result<Port, PortError> {
        let probe_err = |reason: String| PortError::Probe {
            devargs: devargs.to_owned(),
            reason,
        };
        let c = CString::new(devargs).map_err(|_| probe_err("it contains a NUL byte".into()))?;
        let name = devargs.split(',').next().unwrap_or("");
        // DPDK's hotplug reports success for a device that exists already
        // (after syncing other processes), so ask first.
        if Port::by_name(name).is_ok() {
            return Err(probe_err("a device of that name exists already".into()));
        }
        // SAFETY: c is a valid C string; the EAL is initialised (a Port can
        // only be asked for after Eal::init) and probing runs on the
        // control lcore, which DPDK's hotplug requires.
        let rc = unsafe { dpdk_sys::rte_dev_probe(c.as_ptr()) };
        if rc < 0 {
            let reason = if rc == -libc::EEXIST {
                "a device of that name exists already".to_owned()
            } else {
                crate::strerror(-rc)
            };
            return Err(probe_err(reason));
        }
        Port::by_name(name).map_err(|_| {
            // Not an ethdev of that name: leave nothing probed behind.
            if let Ok(dev) = CString::new(name) {
                // SAFETY: both are valid C strings; the device was just
                // probed on the vdev bus, where every device named like
                // this lives.
                unsafe { dpdk_sys::rte_eal_hotplug_remove(c"vdev".as_ptr(), dev.as_ptr()) };
            }
            probe_err(format!("it made no ethernet port named {name}"))
        })
    }

    /// Stops and closes the port, then removes its device from its bus
    /// (`rte_dev_remove`). Only for a port whose queues nobody polls any
    /// more.
    pub fn close_and_remove(self) -> Result<(), PortError> {
        let device = self.info()?.device;
        let name = self.name.clone();
        self.close()?;
        if device.is_null() {
            return Ok(());
        }
        // SAFETY: the device belongs to its bus, not to the ethdev, so it
        // is still valid after close; nothing else removes it (the control
        // lcore is the only caller).
        let rc = unsafe { dpdk_sys::rte_dev_remove(device) };
        check(rc, &name, "dev_remove")
    }

    pub fn id(&self) -> u16 {
        self.id
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The most rx and tx queues the device supports.
    pub fn max_queues(&self) -> Result<(u16, u16), PortError> {
        let info = self.info()?;
        Ok((info.max_rx_queues, info.max_tx_queues))
    }

    fn info(&self) -> Result<dpdk_sys::rte_eth_dev_info, PortError> {
        let mut info = dpdk_sys::rte_eth_dev_info::default();
        // SAFETY: id is a valid port and info a valid out-pointer.
        let rc = unsafe { dpdk_sys::rte_eth_dev_info_get(self.id, &mut info) };
        check(rc, &self.name, "dev_info_get")?;
        Ok(info)
    }

    /// Configures `n_rxq` rx queues (filled from `pool`) and `n_txq` tx queues.
    pub fn configure(&mut self, n_rxq: u16, n_txq: u16, pool: &Mempool) -> Result<(), PortError> {
        let info = self.info()?;
        if n_rxq > info.max_rx_queues {
            return Err(PortError::TooManyQueues {
                name: self.name.clone(),
                kind: "rx",
                max: info.max_rx_queues,
                asked: n_rxq,
            });
        }
        if n_txq > info.max_tx_queues {
            return Err(PortError::TooManyQueues {
                name: self.name.clone(),
                kind: "tx",
                max: info.max_tx_queues,
                asked: n_txq,
            });
        }
        let conf = dpdk_sys::rte_eth_conf::default();
        // SAFETY: id is valid, conf is a valid zeroed configuration.
        let rc = unsafe { dpdk_sys::rte_eth_dev_configure(self.id, n_rxq, n_txq, &conf) };
        check(rc, &self.name, "configure")?;
        // SAFETY: id is valid and configured.
        let socket = unsafe { dpdk_sys::rte_eth_dev_socket_id(self.id) };
        let socket = if socket < 0 { 0 } else { socket as u32 };
        for q in 0..n_rxq {
            // SAFETY: the port is configured; pool outlives the port (the
            // switch closes ports before dropping the pool).
            let rc = unsafe {
                dpdk_sys::rte_eth_rx_queue_setup(
                    self.id,
                    q,
                    RX_DESC,
                    socket,
                    std::ptr::null(),
                    pool.as_ptr(),
                )
            };
            check(rc, &self.name, "rx_queue_setup")?;
        }
        for q in 0..n_txq {
            // SAFETY: the port is configured.
            let rc = unsafe {
                dpdk_sys::rte_eth_tx_queue_setup(self.id, q, TX_DESC, socket, std::ptr::null())
            };
            check(rc, &self.name, "tx_queue_setup")?;
        }
        self.n_rxq = n_rxq;
        self.n_txq = n_txq;
        Ok(())
    }

    pub fn start(&mut self) -> Result<(), PortError> {
        // SAFETY: id is a valid, configured port.
        let rc = unsafe { dpdk_sys::rte_eth_dev_start(self.id) };
        check(rc, &self.name, "start")?;
        self.started = true;
        Ok(())
    }

    pub fn stop(&mut self) -> Result<(), PortError> {
        if !self.started {
            return Ok(());
        }
        self.started = false;
        // SAFETY: id is a valid started port; its queues are no longer polled
        // (the PMDs were joined first).
        let rc = unsafe { dpdk_sys::rte_eth_dev_stop(self.id) };
        check(rc, &self.name, "stop")
    }

    /// Stops and closes the port (a `net_pcap` port flushes its file here).
    pub fn close(mut self) -> Result<(), PortError> {
        self.stop()?;
        // SAFETY: id is a valid stopped port; self is consumed.
        let rc = unsafe { dpdk_sys::rte_eth_dev_close(self.id) };
        check(rc, &self.name, "close")
    }

    /// The queue pair handles. Call once; each handle goes to one lcore.
    pub fn queues(&self) -> (Vec<RxQueue>, Vec<TxQueue>) {
        let rx = (0..self.n_rxq)
            .map(|q| RxQueue {
                port: self.id,
                queue: q,
            })
            .collect();
        let tx = (0..self.n_txq)
            .map(|q| TxQueue {
                port: self.id,
                queue: q,
            })
            .collect();
        (rx, tx)
    }

    pub fn mac(&self) -> Result<[u8; 6], PortError> {
        let mut addr = dpdk_sys::rte_ether_addr::default();
        // SAFETY: id valid, addr a valid out-pointer.
        let rc = unsafe { dpdk_sys::rte_eth_macaddr_get(self.id, &mut addr) };
        check(rc, &self.name, "macaddr_get")?;
        Ok(addr.addr_bytes)
    }

    pub fn mtu(&self) -> Result<u16, PortError> {
        let mut mtu = 0u16;
        // SAFETY: id valid, mtu a valid out-pointer.
        let rc = unsafe { dpdk_sys::rte_eth_dev_get_mtu(self.id, &mut mtu) };
        check(rc, &self.name, "get_mtu")?;
        Ok(mtu)
    }

    pub fn set_mtu(&self, mtu: u16) -> Result<(), PortError> {
        // SAFETY: id valid.
        let rc = unsafe { dpdk_sys::rte_eth_dev_set_mtu(self.id, mtu) };
        check(rc, &self.name, "set_mtu")
    }

    pub fn link(&self) -> Result<Link, PortError> {
        let mut link = dpdk_sys::rte_eth_link::default();
        // SAFETY: id valid, link a valid out-pointer.
        let rc = unsafe { dpdk_sys::rte_eth_link_get_nowait(self.id, &mut link) };
        check(rc, &self.name, "link_get")?;
        Ok(Link {
            up: link.link_status() != 0,
            speed_mbps: link.link_speed,
            full_duplex: link.link_duplex() != 0,
        })
    }

    pub fn stats(&self) -> Result<PortStats, PortError> {
        let mut s = dpdk_sys::rte_eth_stats::default();
        // SAFETY: id valid, s a valid out-pointer.
        let rc = unsafe { dpdk_sys::rte_eth_stats_get(self.id, &mut s) };
        check(rc, &self.name, "stats_get")?;
        Ok(PortStats {
            rx_packets: s.ipackets,
            tx_packets: s.opackets,
            rx_bytes: s.ibytes,
            tx_bytes: s.obytes,
            rx_missed: s.imissed,
            rx_errors: s.ierrors,
            tx_errors: s.oerrors,
            rx_nombuf: s.rx_nombuf,
        })
    }

    pub fn reset_stats(&self) -> Result<(), PortError> {
        // SAFETY: id valid.
        let rc = unsafe { dpdk_sys::rte_eth_stats_reset(self.id) };
        check(rc, &self.name, "stats_reset")
    }

    /// Every extended statistic, by name.
    pub fn xstats(&self) -> Result<Vec<(String, u64)>, PortError> {
        // SAFETY: a null array asks for the count.
        let n = unsafe { dpdk_sys::rte_eth_xstats_get_names(self.id, std::ptr::null_mut(), 0) };
        check(n, &self.name, "xstats_get_names")?;
        let n = n as usize;
        let mut names = vec![dpdk_sys::rte_eth_xstat_name { name: [0; 64] }; n];
        let mut values = vec![dpdk_sys::rte_eth_xstat::default(); n];
        // SAFETY: both arrays hold n elements.
        let got =
            unsafe { dpdk_sys::rte_eth_xstats_get_names(self.id, names.as_mut_ptr(), n as u32) };
        check(got, &self.name, "xstats_get_names")?;
        // SAFETY: both arrays hold n elements.
        let got2 = unsafe { dpdk_sys::rte_eth_xstats_get(self.id, values.as_mut_ptr(), n as u32) };
        check(got2, &self.name, "xstats_get")?;
        let count = (got as usize).min(got2 as usize).min(n);
        Ok(values[..count]
            .iter()
            .filter_map(|v| {
                let name = names.get(v.id as usize)?;
                // SAFETY: DPDK NUL-terminates names within the 64-byte array.
                let s = unsafe { CStr::from_ptr(name.name.as_ptr()) };
                Some((s.to_string_lossy().into_owned(), v.value))
            })
            .collect())
    }
}

impl Drop for Port {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// One rx queue of one port, polled by exactly one lcore.
#[derive(Debug)]
pub struct RxQueue {
    port: u16,
    queue: u16,
}

/// One tx queue of one port, used by exactly one lcore.
#[derive(Debug)]
pub struct TxQueue {
    port: u16,
    queue: u16,
}

impl RxQueue {
    pub fn port_id(&self) -> u16 {
        self.port
    }

    pub fn queue_id(&self) -> u16 {
        self.queue
    }

    /// Receives into the free slots of `batch`; returns how many arrived.
    #[inline]
    pub fn rx_burst(&mut self, batch: &mut MbufBatch) -> usize {
        let (ptr, room) = batch.spare_ptr();
        // SAFETY: ptr has room for `room` mbuf pointers; this queue is polled
        // only by the lcore owning this handle.
        let n =
            unsafe { dpdk_sys::rte_eth_rx_burst(self.port, self.queue, ptr, room as u16) } as usize;
        // SAFETY: DPDK filled n slots with mbufs we now own.
        unsafe { batch.set_len(batch.len() + n) };
        n
    }
}

impl TxQueue {
    pub fn port_id(&self) -> u16 {
        self.port
    }

    pub fn queue_id(&self) -> u16 {
        self.queue
    }

    /// Sends as much of `batch` as the queue takes; what was not sent stays
    /// in the batch (at its front). Returns how many were sent.
    #[inline]
    pub fn tx_burst(&mut self, batch: &mut MbufBatch) -> usize {
        let len = batch.len();
        if len == 0 {
            return 0;
        }
        // SAFETY: the batch holds len owned mbufs; this queue is used only by
        // the lcore owning this handle.
        let sent = unsafe {
            dpdk_sys::rte_eth_tx_burst(self.port, self.queue, batch.raw_ptr(), len as u16)
        } as usize;
        // SAFETY: the driver now owns the first `sent` mbufs.
        unsafe { batch.consume_front(sent) };
        sent
    }
}
