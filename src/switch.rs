//! The switch's life cycle on the control lcore.
//!
//! `run` starts the EAL with safe arguments (`--no-pci` unless the user
//! named a PCI device; hugepages when usable, `--no-huge` with a warning
//! otherwise), creates the packet pool, opens and starts every port, spreads
//! the rx queues over the PMD lcores, and launches them. The control lcore
//! then prints a status line once a second until SIGINT or SIGTERM. The stop
//! is ordered so that nothing leaks: PMDs finish and flush first, then ports
//! stop and close (a `net_pcap` port writes its file on close), and the pool
//! is checked to be full again before the EAL is cleaned up.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pmd::eal::{Eal, EalArgs, MemoryMode};
use pmd::lcore;
use pmd::mempool::Mempool;
use pmd::pmd::{PatchTable, Pmd, PortNo};
use pmd::port::Port;
use pmd::stats::PmdStats;
use pmd::txq::PmdTxQueue;
use thiserror::Error;

use crate::config::SwitchConfig;

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
        eprintln!(
            "ferrovs: warning: no free hugepages are mounted, running with --no-huge ({} MB of ordinary memory); reserve hugepages for full speed",
            eal_args.no_huge_mb
        );
    }
    let eal = Eal::init(&eal_args.build())?;
    let result = run_with_eal(&cfg, &stop);
    drop(eal);
    result
}

fn run_with_eal(cfg: &SwitchConfig, stop: &Arc<AtomicBool>) -> Result<(), SwitchError> {
    let pool = Mempool::new("ferrovs_pkts", cfg.mbufs)?;
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
        port.configure(n_rxq, n_txq, &pool)?;
        port.start()?;
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

    let mut patch = PatchTable::new(n_slots);
    for &(from, to) in &cfg.patches {
        patch.connect((from + 1) as PortNo, (to + 1) as PortNo);
    }

    let workers = lcore::workers();
    let mut handles = Vec::new();
    let mut all_stats = Vec::new();
    for (id, (rxqs, txqs)) in rx_assign.into_iter().zip(tx_assign).enumerate() {
        let stats = Arc::new(PmdStats::new(n_slots));
        all_stats.push(stats.clone());
        let pmd = Pmd {
            id,
            rxqs,
            txqs,
            patch: patch.clone(),
            stats,
            stop: stop.clone(),
        };
        handles.push(lcore::launch(workers[id], move || pmd.run())?);
    }
    let names: Vec<&str> = ports.iter().map(|p| p.name.as_str()).collect();
    eprintln!(
        "ferrovs: running with {} port(s) [{}] on {} PMD lcore(s); Ctrl-C to stop",
        ports.len(),
        names.join(", "),
        n_pmds
    );

    let mut status = StatusLine::new(&names, !cfg.quiet);
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(50));
        status.tick(&all_stats, &ports, false);
    }
    for h in handles {
        h.join();
    }
    status.tick(&all_stats, &ports, true);
    for p in ports {
        p.port.close()?;
    }
    let (free, total) = (pool.available(), pool.capacity());
    eprintln!("ferrovs: stopped; {free} of {total} mbufs are back in the pool");
    if free != total {
        eprintln!(
            "ferrovs: warning: {} mbufs were not returned to the pool",
            total - free
        );
    }
    Ok(())
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

    fn tick(&mut self, stats: &[Arc<PmdStats>], ports: &[OpenPort], last: bool) {
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
