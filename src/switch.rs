//! The switch's life cycle on the control lcore.
//!
//! `run` starts the EAL with safe arguments (`--no-pci` unless the user
//! named a PCI device; hugepages when usable, `--no-huge` with a warning
//! otherwise), binds the control socket, creates the packet pool, opens and
//! starts every port, spreads the rx queues over the PMD lcores, gives every
//! PMD the start-up flows (`--patch` and `--flows`) before it polls a single
//! packet, and launches them. The control lcore then serves the control
//! socket, consumes upcalls and prints a status line once a second until
//! SIGINT, SIGTERM or `ovs-appctl exit`. The stop
//! is ordered so that nothing leaks: PMDs finish and flush first, then ports
//! stop and close (a `net_pcap` port writes its file on close), and the pool
//! is checked to be full again before the EAL is cleaned up.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pmd::command::PmdChannels;
use pmd::eal::{Eal, EalArgs, MemoryMode};
use pmd::emc::Emc;
use pmd::fastpath::FastPath;
use pmd::flow::{FlowTable, PutFlags};
use pmd::key::{FlowKey, FlowMask};
use pmd::lcore;
use pmd::mempool::Mempool;
use pmd::pmd::{Pmd, PortNo};
use pmd::port::Port;
use pmd::stats::PmdStats;
use pmd::txq::PmdTxQueue;
use thiserror::Error;

use crate::bridge::{BridgePort, NetdevBridge};
use crate::config::SwitchConfig;
use crate::connmgr::{Connmgr, ConnmgrConfig, ListenTarget};
use crate::continuation;
use crate::ctl::{CtlError, CtlServer};
use crate::dpif::netdev::{NetdevDpif, PmdHandle};
use crate::ofp::ext::NxMessage;
use crate::ofp::Message;
use crate::ofproto::{Ofproto, OfprotoConfig};
use crate::ofswitch::{self, BRIDGE_NAME, FDB_IDLE_MS, FDB_MAX};
use crate::upcall::UpcallHandler;
use crate::xlate::{Fdb, XlateConfig};

#[derive(Debug, Error)]
pub enum SwitchError {
    #[error(transparent)]
    Eal(#[from] pmd::eal::EalError),
    #[error(transparent)]
    Mempool(#[from] pmd::mempool::MempoolError),
    #[error(transparent)]
    Port(#[from] pmd::port::PortError),
    #[error(transparent)]
    Lcore(#[from] pmd::lcore::LcoreError),
    #[error("port {name} ({devargs}) did not appear after EAL init: DPDK could not probe it; check the devargs and the EAL messages above")]
    PortMissing { name: String, devargs: String },
    #[error("cannot install the signal handlers: {0}")]
    Signals(std::io::Error),
    #[error("no core is left for the control lcore: --pmd-cores takes every core from 0 up")]
    NoControlCore,
    #[error(transparent)]
    Ctl(#[from] CtlError),
    #[error(transparent)]
    Ring(#[from] pmd::ring::RingError),
    #[error("{origin}: {reason}")]
    Flow { origin: String, reason: String },
    #[error(transparent)]
    Connmgr(#[from] crate::connmgr::ConnmgrError),
}

/// The LOCAL port's MAC: locally administered, unique per process, so two
/// switches on one host get different datapath ids by default.
fn local_mac() -> [u8; 6] {
    let pid = std::process::id().to_be_bytes();
    [0x02, 0xfe, pid[0], pid[1], pid[2], pid[3]]
}

/// One opened port and its datapath number.
struct OpenPort {
    name: String,
    port: Port,
}

/// Runs the switch until SIGINT/SIGTERM.
pub fn run(cfg: SwitchConfig) -> Result<(), SwitchError> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, stop.clone()).map_err(SwitchError::Signals)?;
    }

    let control = (0..)
        .find(|c| !cfg.pmd_cores.contains(c))
        .ok_or(SwitchError::NoControlCore)?;
    let mut cores = vec![control];
    cores.extend(cfg.pmd_cores.iter().copied());
    let mut eal_args = EalArgs::new(cores);
    for p in &cfg.ports {
        if p.is_pci() {
            eal_args.pci.push(p.devargs.clone());
        } else {
            eal_args.vdevs.push(p.devargs.clone());
        }
    }
    // Without hugepages an mbuf (2.4 KiB) cannot straddle a 4 KiB page, so
    // each takes a page of its own; then DPDK's own needs on top.
    eal_args.no_huge_mb = (u64::from(cfg.mbufs) * 4608 / (1 << 20) + 256) as u32;
    eal_args.extra.push("--log-level=lib.eal:warning".into());
    eal_args.extra.extend(cfg.eal_extra.iter().cloned());
    if eal_args.memory_mode() == MemoryMode::NoHuge {
        log::warn!(
            "no free hugepages are mounted, running with --no-huge ({} MB of ordinary memory); reserve hugepages for full speed",
            eal_args.no_huge_mb
        );
    }
    let eal = Eal::init(&eal_args.build())?;
    let result = run_with_eal(&cfg, &stop);
    drop(eal);
    result
}

fn run_with_eal(cfg: &SwitchConfig, stop: &Arc<AtomicBool>) -> Result<(), SwitchError> {
    let mut server = match CtlServer::bind(&cfg.ctl_path) {
        Ok(s) => Some(s),
        // The default path is a convenience: another ferrovs may hold it,
        // or /run may not be writable. Say so and run without a socket.
        Err(e) if !cfg.ctl_explicit => {
            log::warn!("no control socket: {e}; choose one with --ctl PATH");
            None
        }
        Err(e) => return Err(e.into()),
    };
    if let Some(server) = server.as_mut() {
        server.commands_mut().set_version(format!(
            "ferrovs {} ({})",
            env!("CARGO_PKG_VERSION"),
            Eal::version()
        ));
        ofswitch::register_commands(server.commands_mut())?;
    }
    // Listeners are bound before any port or PMD starts, so a taken port is
    // one sentence and nothing to undo.
    let datapath_id = cfg.datapath_id.unwrap_or_else(|| {
        local_mac()
            .iter()
            .fold(0u64, |a, &b| (a << 8) | u64::from(b))
    });
    let mut connmgr_cfg = ConnmgrConfig {
        datapath_id,
        ..cfg.connmgr.clone()
    };
    if server.is_none() {
        // The management socket lives beside the control socket: when the
        // default place was unusable for one, it is for the other too.
        let mgmt = crate::config::mgmt_socket_path(&cfg.ctl_path);
        connmgr_cfg
            .listeners
            .retain(|l| !matches!(l, ListenTarget::Unix(p) if *p == mgmt));
    }
    let mut connmgr = Connmgr::new(connmgr_cfg)?;
    // Refuse bad start-up flows before any port holds mbufs; each PMD then
    // builds its own copy of the same table.
    startup_flows(cfg)?;
    let pool = Arc::new(Mempool::new("ferrovs_pkts", cfg.mbufs)?);
    let n_pmds = cfg.pmd_cores.len();
    // Datapath port numbers start at 1; index 0 stays unused.
    let n_slots = cfg.ports.len() + 1;

    let mut ports: Vec<OpenPort> = Vec::new();
    let mut rx_assign: Vec<Vec<(PortNo, pmd::port::RxQueue)>> =
        (0..n_pmds).map(|_| Vec::new()).collect();
    let mut tx_assign: Vec<Vec<Option<PmdTxQueue>>> =
        (0..n_pmds).map(|_| vec![None; n_slots]).collect();
    for (i, spec) in cfg.ports.iter().enumerate() {
        let port_no = (i + 1) as PortNo;
        let mut port = Port::by_name(spec.device()).map_err(|_| SwitchError::PortMissing {
            name: spec.name.clone(),
            devargs: spec.devargs.clone(),
        })?;
        let (max_rx, max_tx) = port.max_queues()?;
        let n_rxq = max_rx.min(1);
        let n_txq = max_tx.min(n_pmds as u16);
        if let Err(e) = port
            .configure(n_rxq, n_txq, &pool)
            .and_then(|()| port.start())
        {
            // Queues may hold mbufs of the pool: close every port before
            // the pool goes, or the EAL's cleanup frees into a dead pool.
            let _ = port.close();
            for p in ports {
                let _ = p.port.close();
            }
            return Err(e.into());
        }
        let (rxqs, txqs) = port.queues();
        for (q, rxq) in rxqs.into_iter().enumerate() {
            rx_assign[(i + q) % n_pmds].push((port_no, rxq));
        }
        for (pmd, txq) in PmdTxQueue::distribute(txqs, n_pmds).into_iter().enumerate() {
            tx_assign[pmd][port_no as usize] = Some(txq);
        }
        ports.push(OpenPort {
            name: spec.name.clone(),
            port,
        });
    }

    let workers = lcore::workers();
    let mut handles = Vec::new();
    let mut all_stats = Vec::new();
    let mut pmd_handles = Vec::new();
    for (id, (rxqs, txqs)) in rx_assign.into_iter().zip(tx_assign).enumerate() {
        let stats = Arc::new(PmdStats::new(n_slots));
        all_stats.push(stats.clone());
        let channels = PmdChannels::new(id)?;
        let mut emc = Emc::default();
        emc.seed(id as u32 + 1);
        let mut fastpath = FastPath::new(startup_flows(cfg)?, emc);
        fastpath.set_now_ms(pmd::pmd::now_ms());
        let pmd = Pmd {
            id,
            rxqs,
            txqs,
            fastpath,
            channels: channels.clone(),
            stats: stats.clone(),
            stop: stop.clone(),
        };
        handles.push(lcore::launch(workers[id], move || pmd.run())?);
        pmd_handles.push(PmdHandle {
            id,
            core: workers[id],
            numa: lcore::socket_of(workers[id]),
            channels,
            stats,
        });
    }
    let netdev = NetdevDpif::new(pmd_handles, ports.iter().map(|p| p.name.clone()).collect());
    let names: Vec<String> = ports.iter().map(|p| p.name.clone()).collect();
    log::info!(
        "running with {} port(s) [{}] on {} PMD lcore(s); Ctrl-C to stop",
        ports.len(),
        names.join(", "),
        n_pmds
    );
    let bridge_ports = ports
        .into_iter()
        .map(|p| BridgePort::new(p.name, p.port))
        .collect();
    let bridge = NetdevBridge::new(BRIDGE_NAME, netdev, bridge_ports, pool.clone(), local_mac());
    let mut ofproto = Ofproto::new(
        bridge,
        OfprotoConfig {
            datapath_id: Some(datapath_id),
            ..OfprotoConfig::default()
        },
        pmd::pmd::now_ms(),
    );
    let mut upcalls = UpcallHandler::new(Fdb::new(FDB_IDLE_MS, FDB_MAX), XlateConfig::default());

    if server.is_some() {
        log::info!(
            "control socket {} (ovs-appctl -t {} list-commands)",
            cfg.ctl_path.display(),
            cfg.ctl_path.display()
        );
    }
    for (target, addr) in connmgr.listen_addrs() {
        match addr {
            Some(a) => log::info!("OpenFlow listener {target} on {a}"),
            None => log::info!("OpenFlow listener {target}"),
        }
    }

    let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut status = StatusLine::new(&name_refs, !cfg.quiet);
    let mut fail_open = false;
    let mut fail_open_rule = None;
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        let now_ms = pmd::pmd::now_ms();
        let mut work = 0;
        let mut events = Vec::new();

        work += connmgr.poll(now, &mut |info, req| {
            if let Message::Nx(NxMessage::Resume(r)) = req.message {
                let body = req.raw.len().saturating_sub(16);
                continuation::resume(&mut ofproto, &upcalls.fdb, &upcalls.config, r, body, now_ms)?;
                return Ok(vec![]);
            }
            let conn = ofswitch::ofproto_conn(info);
            // A barrier is answered only once every PMD obeys every change
            // before it: the megaflows those changes made suspect are
            // revalidated (fixed or deleted) first.
            if matches!(req.message, Message::BarrierRequest) {
                upcalls.revalidate_changes(&mut ofproto, now_ms);
            }
            let outcome = ofproto.handle(&conn, req.message, now_ms);
            // Packet-outs leave before the next request is read. Table
            // changes are revalidated together, after this round of requests
            // or at the next barrier, whichever comes first.
            ofswitch::run_packet_outs(&mut ofproto, &upcalls, now_ms);
            if ofproto.dpif_mut().take_revalidate() {
                upcalls.tables_changed();
            }
            events.extend(outcome.events);
            outcome.replies
        });
        // No upcall is translated while a megaflow is stale.
        upcalls.revalidate_changes(&mut ofproto, now_ms);
        for closed in connmgr.take_closed() {
            ofproto.conn_closed(closed.id.0);
        }
        ofswitch::table_miss_follows_controller(&connmgr, &mut upcalls);

        // Standalone fail mode: without a controller, a hidden NORMAL rule
        // makes the bridge a learning switch until one comes back.
        let open = connmgr.fail_open(now);
        if open != fail_open {
            fail_open = open;
            ofswitch::set_fail_open(&mut ofproto, open, now_ms, &mut fail_open_rule);
            upcalls.invalidate(&mut ofproto, now_ms);
        }

        let (n, packet_ins) = upcalls.handle(&mut ofproto, now_ms);
        work += n;
        events.extend(packet_ins);
        events.extend(ofproto.run(now_ms));
        events.extend(ofproto.take_events());
        if ofproto.dpif_mut().take_revalidate() {
            upcalls.tables_changed();
        }
        upcalls.revalidate_changes(&mut ofproto, now_ms);
        upcalls.revalidate(&mut ofproto, now_ms, false);
        upcalls.age_fdb(&mut ofproto, now_ms);
        for ev in &events {
            let n = connmgr.send_async(ev, now);
            continuation::note_unsent(ev, n);
        }

        crate::coverage::run(now);
        work += server.as_mut().map_or(0, |server| {
            server.poll(&mut |name: &str, args: &[String]| {
                ofswitch::command(
                    &mut ofproto,
                    &mut upcalls,
                    &connmgr,
                    stop,
                    name,
                    args,
                    now_ms,
                )
            })
        });
        if work == 0 && events.is_empty() {
            std::thread::sleep(Duration::from_millis(1));
        }
        status.tick(&all_stats, &ofproto.dpif().ports, false);
    }
    // Answer the `exit` that may have stopped us before going away.
    if let Some(mut server) = server {
        server.poll(&mut |_: &str, _: &[String]| Err("ferrovs is stopping\n".to_string()));
    }
    for h in handles {
        h.join();
    }
    let bridge = ofproto.into_dpif();
    let NetdevBridge { netdev, ports, .. } = bridge;
    // Upcalls still queued hold mbufs: free them before counting the pool.
    drop(netdev);
    drop(connmgr);
    status.tick(&all_stats, &ports, true);
    for p in ports {
        p.port.close()?;
    }
    let (free, total) = (pool.available(), pool.capacity());
    log::info!("stopped; {free} of {total} mbufs are back in the pool");
    if free != total {
        log::warn!("{} mbufs were not returned to the pool", total - free);
    }
    Ok(())
}

/// The flows every PMD starts with: `--patch A:B` as `in_port(A),
/// actions:B` (every packet from A), then the `--flows` file.
fn startup_flows(cfg: &SwitchConfig) -> Result<FlowTable, SwitchError> {
    let mut table = FlowTable::default();
    for &(from, to) in &cfg.patches {
        let mut key = FlowKey::default();
        key.set_in_port((from + 1) as PortNo);
        let actions: Arc<[pmd::actions::DpAction]> =
            Arc::from(vec![pmd::actions::DpAction::Output((to + 1) as PortNo)]);
        table
            .put(None, &key, &FlowMask::default(), actions, PutFlags::CREATE)
            .map_err(|e| SwitchError::Flow {
                origin: format!("--patch {}:{}", cfg.ports[from].name, cfg.ports[to].name),
                reason: e.to_string(),
            })?;
    }
    for (origin, f) in &cfg.flows {
        table
            .put(
                f.ufid,
                &f.key,
                &f.mask,
                Arc::from(f.actions.clone()),
                PutFlags::CREATE,
            )
            .map_err(|e| SwitchError::Flow {
                origin: origin.clone(),
                reason: e.to_string(),
            })?;
    }
    Ok(table)
}

/// Per-port totals summed over the PMDs.
#[derive(Clone, Copy, Default)]
struct Totals {
    rx: u64,
    tx: u64,
    drops: u64,
}

/// The live status line: at most one a second.
struct StatusLine {
    names: Vec<String>,
    enabled: bool,
    tty: bool,
    last: Instant,
    prev: Vec<Totals>,
}

impl StatusLine {
    fn new(names: &[&str], enabled: bool) -> StatusLine {
        StatusLine {
            names: names.iter().map(|s| s.to_string()).collect(),
            enabled,
            tty: std::io::stdout().is_terminal(),
            last: Instant::now(),
            prev: vec![Totals::default(); names.len()],
        }
    }

    fn tick(&mut self, stats: &[Arc<PmdStats>], ports: &[BridgePort], last: bool) {
        let elapsed = self.last.elapsed();
        if !self.enabled || (!last && elapsed < Duration::from_secs(1)) {
            return;
        }
        self.last = Instant::now();
        let secs = elapsed.as_secs_f64().max(1e-3);
        let mut line = String::new();
        for (i, name) in self.names.iter().enumerate() {
            let port_no = i + 1;
            let mut t = Totals::default();
            for s in stats {
                let c = &s.ports[port_no];
                t.rx += c.rx_packets.get();
                t.tx += c.tx_packets.get();
                t.drops += c.tx_dropped.get();
            }
            // Drops the device saw (no descriptor, no mbuf) count too.
            if let Ok(dev) = ports[i].port.stats() {
                t.drops += dev.rx_missed + dev.rx_nombuf;
            }
            let p = self.prev[i];
            self.prev[i] = t;
            if !line.is_empty() {
                line.push_str(" | ");
            }
            line.push_str(&format!(
                "{name}: rx {} ({}) tx {} ({}) drop {}",
                t.rx,
                rate((t.rx - p.rx) as f64 / secs),
                t.tx,
                rate((t.tx - p.tx) as f64 / secs),
                t.drops
            ));
        }
        let mut out = std::io::stdout().lock();
        let _ = if self.tty && !last {
            write!(out, "\r\x1b[K{line}")
        } else if self.tty {
            writeln!(out, "\r\x1b[K{line}")
        } else {
            writeln!(out, "{line}")
        };
        let _ = out.flush();
    }
}

fn rate(pps: f64) -> String {
    if pps >= 1e6 {
        format!("{:.2} Mpps", pps / 1e6)
    } else if pps >= 1e3 {
        format!("{:.1} kpps", pps / 1e3)
    } else {
        format!("{pps:.0} pps")
    }
}
