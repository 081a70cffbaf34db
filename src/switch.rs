//! The switch's life cycle on the control lcore.
//!
//! `run` starts the EAL with safe arguments (`--no-pci` unless the user
//! named a PCI device; hugepages when usable, `--no-huge` with a warning
//! otherwise), binds the control socket, creates the packet pool, opens and
//! starts every port, spreads the rx queues over the PMD lcores, gives every
//! PMD the start-up flows (`--patch` and `--flows`) before it polls a single
//! packet, and launches them. The control lcore then serves the control
//! socket and `/metrics`, consumes upcalls and prints a status line once a
//! second until SIGINT, SIGTERM or `ovs-appctl exit`. SIGHUP re-reads the
//! configuration file and applies what can change live (see `live`). Ports
//! are opened by [`BridgePort::open`], the one way to open a port: here for
//! the start-up ports, whose queues go to the PMDs before they run (pinned
//! rx queues to their PMD), and in the bridge for `add-port`, whose queues
//! travel over the PMDs' command rings.
//!
//! The stop is ordered so that nothing leaks and nothing is cut in half, and
//! it takes well under 2 s: PMDs finish their burst and flush their tx
//! buffers first; then every OpenFlow connection gets its queued messages
//! (whole messages only) and a clean close, for at most
//! [`CONNMGR_SHUTDOWN`]; then ports stop and close (a `net_pcap` port writes
//! its file on close), and the pool is checked to be full again before the
//! EAL is cleaned up. A signal only sets a flag; all of this runs on the
//! control lcore, outside any signal handler.

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
use pmd::pmd::{Pmd, PortNo, PORT_SLOTS};
use pmd::port::{Port, RxQueue};
use pmd::stats::PmdStats;
use pmd::txq::PmdTxQueue;
use thiserror::Error;

use crate::bridge::{place_rx_queues, BridgePort, NetdevBridge, PACKET_POOL_NAME};
use crate::config::SwitchConfig;
use crate::connmgr::{Connmgr, ConnmgrConfig, ListenTarget};
use crate::continuation;
use crate::ctl::{CtlError, CtlServer};
use crate::dpif::netdev::{NetdevDpif, PmdHandle};
use crate::metrics::{Metrics, MetricsServer, Sources};
use crate::ofp::ext::NxMessage;
use crate::ofp::Message;
use crate::ofproto::{Ofproto, OfprotoConfig};
use crate::ofswitch::{self, FDB_IDLE_MS, FDB_MAX};
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
    #[error("{0} ports are configured; a bridge holds at most {max}", max = PORT_SLOTS - 1)]
    TooManyPorts(usize),
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
    #[error(transparent)]
    Metrics(#[from] crate::metrics::HttpError),
}

/// Asks the kernel to wake the control lcore's short sleeps (the 1 ms idle
/// poll, the 20 µs waits for PMD replies) on time: the default 50 µs timer
/// slack would otherwise add up to 50 µs to each, on every new flow's path.
fn set_fine_timer_slack() {
    // SAFETY: PR_SET_TIMERSLACK takes a plain integer and touches no memory;
    // a failure leaves the default slack, which costs only latency.
    unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong, 0, 0, 0) };
}

/// The LOCAL port's MAC: locally administered, unique per process, so two
/// switches on one host get different datapath ids by default.
fn local_mac() -> [u8; 6] {
    let pid = std::process::id().to_be_bytes();
    [0x02, 0xfe, pid[0], pid[1], pid[2], pid[3]]
}

/// The start-up ports, opened, with the queues each PMD starts with.
struct StartupPorts {
    /// Datapath ports 1, 2, … in the order configured.
    ports: Vec<BridgePort>,
    /// Per PMD: the rx queues it polls.
    rx: Vec<Vec<(PortNo, RxQueue)>>,
    /// Per PMD: its tx handle on each port, indexed by port number.
    tx: Vec<Vec<Option<PmdTxQueue>>>,
}

/// Opens every configured port (already probed by the EAL) from `pool`
/// and spreads its queues over `n_pmds` PMDs. On failure every port opened
/// so far is closed again: their queues may hold mbufs of the pool.
fn open_startup_ports(
    cfg: &SwitchConfig,
    pool: &Mempool,
    n_pmds: usize,
) -> Result<StartupPorts, SwitchError> {
    if cfg.ports.len() >= PORT_SLOTS {
        return Err(SwitchError::TooManyPorts(cfg.ports.len()));
    }
    let mut out = StartupPorts {
        ports: Vec::new(),
        rx: (0..n_pmds).map(|_| Vec::new()).collect(),
        tx: (0..n_pmds)
            .map(|_| vec![None; cfg.ports.len() + 1])
            .collect(),
    };
    for (i, spec) in cfg.ports.iter().enumerate() {
        let port_no = (i + 1) as PortNo;
        let opened = Port::by_name(spec.device())
            .map_err(|_| SwitchError::PortMissing {
                name: spec.name.clone(),
                devargs: spec.devargs.clone(),
            })
            .and_then(|port| {
                BridgePort::open(
                    &spec.name,
                    &spec.devargs,
                    port_no,
                    port,
                    pool,
                    n_pmds,
                    spec.rx_queues,
                )
                .map_err(|(e, port)| {
                    let _ = port.close();
                    SwitchError::Port(e)
                })
            });
        let mut opened = match opened {
            Ok(o) => o,
            Err(e) => {
                for p in out.ports {
                    let _ = p.port.close();
                }
                return Err(e);
            }
        };
        let pins: Vec<(usize, usize)> = cfg
            .rxq_pins
            .iter()
            .filter(|p| p.port == i)
            .map(|p| (usize::from(p.queue), p.pmd))
            .collect();
        let choices = place_rx_queues(&out.ports, &mut opened, n_pmds, &pins);
        for (rxq, pmd) in opened.rxqs.drain(..).zip(choices) {
            out.rx[pmd].push((port_no, rxq));
        }
        for (pmd, txq) in opened.txqs.drain(..).enumerate() {
            out.tx[pmd][port_no as usize] = Some(txq);
        }
        out.ports.push(opened.port);
    }
    Ok(out)
}

/// How long the OpenFlow connections get to say goodbye when the switch stops.
pub const CONNMGR_SHUTDOWN: Duration = Duration::from_millis(500);

/// Runs the switch until SIGINT/SIGTERM.
pub fn run(cfg: SwitchConfig) -> Result<(), SwitchError> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, stop.clone()).map_err(SwitchError::Signals)?;
    }
    let reload = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGHUP, reload.clone())
        .map_err(SwitchError::Signals)?;

    let control = match cfg.control_core {
        Some(c) => c,
        None => (0..)
            .find(|c| !cfg.pmd_cores.contains(c))
            .ok_or(SwitchError::NoControlCore)?,
    };
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
    let result = run_with_eal(&cfg, &stop, &reload);
    drop(eal);
    result
}

fn run_with_eal(
    cfg: &SwitchConfig,
    stop: &Arc<AtomicBool>,
    reload: &AtomicBool,
) -> Result<(), SwitchError> {
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
        crate::live::register_commands(server.commands_mut())?;
        crate::metrics::register_commands(server.commands_mut())?;
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
        let mgmt = crate::config::mgmt_socket_path(&cfg.ctl_path, &cfg.bridge);
        connmgr_cfg
            .listeners
            .retain(|l| !matches!(l, ListenTarget::Unix(p) if *p == mgmt));
    }
    let mut connmgr = Connmgr::new(connmgr_cfg)?;
    let metrics_server = match cfg.metrics.map(MetricsServer::bind) {
        None => None,
        Some(Ok(s)) => Some(s),
        // As with the control socket, the default is a convenience: say why there is
        // no listener and run on.
        Some(Err(e)) if !cfg.metrics_explicit => {
            log::warn!(
                "no metrics listener: {e}; choose one with --metrics ADDR (or --metrics off)"
            );
            None
        }
        Some(Err(e)) => return Err(e.into()),
    };
    // Refuse bad start-up flows before any port holds mbufs; each PMD then
    // builds its own copy of the same table.
    startup_flows(cfg)?;
    let pool = Arc::new(Mempool::new(PACKET_POOL_NAME, cfg.mbufs)?);
    let n_pmds = cfg.pmd_cores.len();
    let StartupPorts {
        ports,
        rx: rx_assign,
        tx: tx_assign,
    } = open_startup_ports(cfg, &pool, n_pmds)?;

    // The PMDs stop on a flag of their own, raised only once the control
    // lcore has left its loop: until then it may wait on a PMD's reply
    // (an upcall's execute, a flow put), which a stopped PMD never sends.
    let pmd_stop = Arc::new(AtomicBool::new(false));
    let workers = lcore::workers();
    let mut handles = Vec::new();
    let mut all_stats = Vec::new();
    let mut pmd_handles = Vec::new();
    for (id, (rxqs, txqs)) in rx_assign.into_iter().zip(tx_assign).enumerate() {
        // Counters for every port number a port added later may take.
        let stats = Arc::new(PmdStats::new(PORT_SLOTS));
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
            stop: pmd_stop.clone(),
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
    let pci = cfg.ports.iter().any(|p| p.is_pci());
    let bridge = NetdevBridge::new(&cfg.bridge, netdev, ports, pool.clone(), local_mac(), pci);
    let mut ofproto = Ofproto::new(
        bridge,
        OfprotoConfig {
            datapath_id: Some(datapath_id),
            ..OfprotoConfig::default()
        },
        pmd::pmd::now_ms(),
    );
    let mut upcalls = UpcallHandler::new(Fdb::new(FDB_IDLE_MS, FDB_MAX), XlateConfig::default());
    let mut metrics = Metrics::new(metrics_server);
    if let Some(addr) = metrics.local_addr() {
        log::info!("metrics on http://{addr}/metrics");
    }

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

    let mut status = StatusLine::new(!cfg.quiet);
    let mut fail_open = false;
    let mut fail_open_rule = None;
    let mut running = cfg.clone();
    // The PMDs ring these when they queue upcalls; an idle control lcore
    // sleeps on them (1 ms at most) instead of on a plain timer, so a new
    // flow's first packet waits microseconds, not up to a millisecond.
    let mut doorbells: Vec<libc::pollfd> = ofproto
        .dpif()
        .netdev
        .pmds()
        .iter()
        .map(|p| libc::pollfd {
            fd: p.channels.doorbell.fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    set_fine_timer_slack();
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        if reload.swap(false, Ordering::Relaxed) {
            crate::live::reload(&mut running, &mut connmgr, now);
        }
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
        metrics.observe_upcalls(upcalls.last_latencies());
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
                if let Some(reply) = metrics.command(ofproto.dpif(), name, args) {
                    return reply;
                }
                if let Some(reply) =
                    crate::live::command(&mut running, &mut connmgr, name, args, now)
                {
                    return reply;
                }
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
        work += metrics.poll(
            now,
            &Sources {
                ofproto: &ofproto,
                connmgr: &connmgr,
                pool: &pool,
                pool_name: PACKET_POOL_NAME,
            },
        );
        if work == 0 && events.is_empty() {
            // SAFETY: `doorbells` is a live array of `len` pollfds; a
            // failed or interrupted poll only ends the nap early.
            unsafe { libc::poll(doorbells.as_mut_ptr(), doorbells.len() as libc::nfds_t, 1) };
            for p in ofproto.dpif().netdev.pmds() {
                p.channels.doorbell.clear();
            }
        }
        status.tick(&all_stats, &ofproto.dpif().ports, false);
    }
    // Answer the `exit` that may have stopped us before going away.
    if let Some(mut server) = server {
        server.poll(&mut |_: &str, _: &[String]| Err("ferrovs is stopping\n".to_string()));
    }
    // The PMDs finish their burst and flush their tx buffers while the
    // connections are closed.
    pmd_stop.store(true, Ordering::Relaxed);
    let unsent = connmgr.shutdown(Instant::now() + CONNMGR_SHUTDOWN);
    if unsent > 0 {
        log::warn!("{unsent} OpenFlow connection(s) stopped reading; closed with messages unsent");
    }
    drop(connmgr);
    for h in handles {
        h.join();
    }
    let bridge = ofproto.into_dpif();
    let NetdevBridge { netdev, ports, .. } = bridge;
    // Upcalls still queued hold mbufs: free them before counting the pool.
    drop(netdev);
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
    let mut table = FlowTable::new(cfg.flow_limit);
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

/// The live status line: at most one a second, one part per port the
/// bridge has at that moment (ports come and go with add-port, del-port).
struct StatusLine {
    enabled: bool,
    tty: bool,
    last: Instant,
    /// The totals at the last line, by datapath port number.
    prev: Vec<Totals>,
}

impl StatusLine {
    fn new(enabled: bool) -> StatusLine {
        StatusLine {
            enabled,
            tty: std::io::stdout().is_terminal(),
            last: Instant::now(),
            prev: vec![Totals::default(); PORT_SLOTS],
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
        for port in ports {
            let port_no = port.dp_port as usize;
            let mut t = Totals::default();
            for c in stats.iter().filter_map(|s| s.ports.get(port_no)) {
                t.rx += c.rx_packets.get();
                t.tx += c.tx_packets.get();
                t.drops += c.tx_dropped.get();
            }
            // Drops the device saw (no descriptor, no mbuf) count too.
            if let Ok(dev) = port.port.stats() {
                t.drops += dev.rx_missed + dev.rx_nombuf;
            }
            let Some(prev) = self.prev.get_mut(port_no) else {
                continue;
            };
            // A port added since the last line (its counters start at 0).
            let p = if prev.rx > t.rx || prev.tx > t.tx {
                Totals::default()
            } else {
                *prev
            };
            *prev = t;
            if !line.is_empty() {
                line.push_str(" | ");
            }
            line.push_str(&format!(
                "{}: rx {} ({}) tx {} ({}) drop {}",
                port.name,
                t.rx,
                rate((t.rx - p.rx) as f64 / secs),
                t.tx,
                rate((t.tx - p.tx) as f64 / secs),
                t.drops
            ));
        }
        if line.is_empty() {
            // Every port was deleted.
            return;
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
