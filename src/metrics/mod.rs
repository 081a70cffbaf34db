//! Prometheus metrics on HTTP `/metrics`, and the two control-socket commands that read the same
//! PMD counters: `dpif-netdev/pmd-rxq-show` and `dpif-netdev/pmd-perf-show`.
//!
//! Vocabulary: a *scrape* is one `GET /metrics`; a *family* is one metric name with its help,
//! type and samples (one per label set). Names follow Prometheus conventions: the `ferrovs_`
//! prefix, `_total` on counters, base units (bytes, seconds), and labels `port`, `pmd` (the
//! PMD's core id, as `pmd-stats-show` names it), `table` and `controller`.
//!
//! Who calls it: the control lcore's loop only. [`Metrics::poll`] serves the HTTP listener (see
//! [`http`]) and samples the PMDs' cycle counters every [`USAGE_INTERVAL`] for `pmd-rxq-show`;
//! a scrape is rendered there and then, from the same structures the switch runs on (ofproto's
//! tables, connmgr's connections, the PMDs' [`pmd::stats::PmdStats`], the ports' DPDK stats and
//! xstats, the packet pool). [`Metrics::observe_upcalls`] feeds the upcall latency histogram.
//!
//! Invariants:
//! - Reading never slows a PMD: PMD counters are per PMD, written only by their PMD with
//!   relaxed stores, and summed here on scrape; no command is sent to a PMD for a scrape.
//! - Every counter only grows while the switch runs. Per-connection OpenFlow counters start
//!   from zero with each new connection (Prometheus treats that as a counter reset).
//! - The HTTP listener is bound before any port starts, so a taken address fails the start in
//!   one sentence; `--metrics off` binds nothing, and the control-socket commands still work.

pub mod http;
pub mod pmd_show;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use pmd::mempool::Mempool;
use pmd::pmd::PortNo;
use pmd::stats::{PmdStats, RX_BURST_BOUNDS};
use prometheus::proto::{self, LabelPair, Metric, MetricFamily, MetricType};
use prometheus::{Encoder, TextEncoder};

use crate::bridge::NetdevBridge;
use crate::connmgr::{ConnKind, Connmgr};
use crate::ctl::{Commands, CtlError};
use crate::ofp::Version;
use crate::ofproto::Ofproto;

pub use http::{HttpError, MetricsServer};
use pmd_show::{PerfInput, RxqBlock, RxqLine};

/// Where the metrics listener binds unless `--metrics` says otherwise.
pub const DEFAULT_METRICS_ADDR: &str = "127.0.0.1:9477";

/// How often the PMDs' cycle counters are sampled for `pmd-rxq-show`'s usage window.
pub const USAGE_INTERVAL: Duration = Duration::from_secs(5);
/// The longest `pmd-rxq-show` window, in seconds.
pub const USAGE_WINDOW_MAX: u64 = 60;

/// Upper bounds (seconds) of the upcall handling latency histogram.
pub const UPCALL_LATENCY_BOUNDS: [f64; 15] = [
    1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2,
    1e-1,
];

/// A histogram with fixed bucket bounds, kept on the control lcore.
#[derive(Debug, Clone)]
pub struct Histogram {
    bounds: &'static [f64],
    /// Per bucket, not cumulative; one more than `bounds` for values above them all.
    counts: Vec<u64>,
    sum: f64,
}

impl Histogram {
    pub fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            counts: vec![0; bounds.len() + 1],
            sum: 0.0,
        }
    }

    /// Records `n` observations of `v`.
    pub fn observe_n(&mut self, v: f64, n: u64) {
        let i = self.bounds.partition_point(|&b| b < v);
        self.counts[i] += n;
        self.sum += v * n as f64;
    }

    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    pub fn sum(&self) -> f64 {
        self.sum
    }

    fn to_proto(&self) -> proto::Histogram {
        histogram_proto(self.bounds, &self.counts, self.sum)
    }
}

/// A Prometheus histogram from per-bucket (not cumulative) counts, the last one above every
/// bound.
fn histogram_proto(bounds: &[f64], counts: &[u64], sum: f64) -> proto::Histogram {
    let mut h = proto::Histogram::default();
    let mut cumulative = 0;
    let mut buckets = Vec::with_capacity(bounds.len());
    for (&b, &c) in bounds.iter().zip(counts) {
        cumulative += c;
        let mut bucket = proto::Bucket::default();
        bucket.set_upper_bound(b);
        bucket.set_cumulative_count(cumulative);
        buckets.push(bucket);
    }
    h.set_bucket(buckets);
    h.set_sample_count(counts.iter().sum());
    h.set_sample_sum(sum);
    h
}

/// One rx queue a PMD polls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rxq {
    pub port: PortNo,
    pub queue: u16,
}

/// The PMDs' cycle counters at one moment, for usage over a window.
#[derive(Debug, Clone)]
struct UsageSample {
    at: Instant,
    /// Per PMD: busy cycles, all cycles, and cycles per datapath port.
    pmds: Vec<(u64, u64, Vec<u64>)>,
}

impl UsageSample {
    fn read(at: Instant, bridge: &NetdevBridge) -> UsageSample {
        UsageSample {
            at,
            pmds: bridge
                .netdev
                .pmds()
                .iter()
                .map(|h| {
                    let s = &h.stats;
                    let busy = s.busy_cycles.get();
                    (
                        busy,
                        busy + s.idle_cycles.get(),
                        s.ports.iter().map(|p| p.rx_cycles.get()).collect(),
                    )
                })
                .collect(),
        }
    }
}

/// What a scrape reads besides the PMDs.
pub struct Sources<'a> {
    pub ofproto: &'a Ofproto<NetdevBridge>,
    pub connmgr: &'a Connmgr,
    pub pool: &'a Mempool,
    /// The pool's name, as a label.
    pub pool_name: &'a str,
}

/// The metrics state of one switch.
pub struct Metrics {
    server: Option<MetricsServer>,
    upcall_latency: Histogram,
    /// Samples every [`USAGE_INTERVAL`], oldest first, covering [`USAGE_WINDOW_MAX`].
    usage: VecDeque<UsageSample>,
    /// When the PMD counters were last cleared (or the switch started), and the upcall
    /// latency histogram's count and sum then.
    cleared: (Instant, u64, f64),
    started_unix: f64,
}

impl Metrics {
    /// Metrics served by `server` (none: `--metrics off`).
    pub fn new(server: Option<MetricsServer>) -> Metrics {
        let started_unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        Metrics {
            server,
            upcall_latency: Histogram::new(&UPCALL_LATENCY_BOUNDS),
            usage: VecDeque::new(),
            cleared: (Instant::now(), 0, 0.0),
            started_unix,
        }
    }

    /// The address the HTTP listener is bound to.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.server.as_ref().map(MetricsServer::local_addr)
    }

    /// Records each upcall's latency (seconds from its PMD queueing it to
    /// the end of the drain that handled it).
    pub fn observe_upcalls(&mut self, latencies: &[f64]) {
        for &v in latencies {
            self.upcall_latency.observe_n(v, 1);
        }
    }

    /// Samples the usage counters when due and answers HTTP clients. Returns the work done.
    pub fn poll(&mut self, now: Instant, src: &Sources<'_>) -> usize {
        let bridge = src.ofproto.dpif();
        if self
            .usage
            .back()
            .map_or(true, |s| now.duration_since(s.at) >= USAGE_INTERVAL)
        {
            self.usage.push_back(UsageSample::read(now, bridge));
            let keep = (USAGE_WINDOW_MAX / USAGE_INTERVAL.as_secs()) as usize + 1;
            while self.usage.len() > keep {
                self.usage.pop_front();
            }
        }
        let Some(mut server) = self.server.take() else {
            return 0;
        };
        let work = server.poll(now, &mut || self.render(src));
        self.server = Some(server);
        work
    }

    /// The exposition text of every metric.
    pub fn render(&self, src: &Sources<'_>) -> String {
        let mut e = Exposition::default();
        self.port_metrics(&mut e, src.ofproto.dpif());
        self.pmd_metrics(&mut e, src.ofproto.dpif());
        table_metrics(&mut e, src.ofproto);
        self.datapath_metrics(&mut e, src.ofproto.dpif());
        openflow_metrics(&mut e, src.connmgr);
        self.process_metrics(&mut e, src);
        let mut buf = Vec::new();
        // Encoding fails only for a family without samples, which `Exposition` never keeps.
        let _ = TextEncoder::new().encode(&e.families, &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }

    fn port_metrics(&self, e: &mut Exposition, bridge: &NetdevBridge) {
        let pmds = bridge.netdev.pmds();
        let mut rx_pkts = Vec::new();
        let mut tx_pkts = Vec::new();
        let mut rx_bytes = Vec::new();
        let mut tx_bytes = Vec::new();
        let mut rx_drop = Vec::new();
        let mut tx_drop = Vec::new();
        let mut rx_err = Vec::new();
        let mut tx_err = Vec::new();
        let mut xstats = Vec::new();
        for p in &bridge.ports {
            let port_no = p.dp_port as usize;
            let l = [("port", p.name.as_str())];
            // Refused by the device on send: only the PMDs see those.
            let refused: u64 = pmds
                .iter()
                .filter_map(|h| h.stats.ports.get(port_no))
                .map(|c| c.tx_dropped.get())
                .sum();
            tx_drop.push(sample(&l, refused as f64, MetricType::COUNTER));
            let Ok(s) = p.port.stats() else {
                continue;
            };
            rx_pkts.push(sample(&l, s.rx_packets as f64, MetricType::COUNTER));
            tx_pkts.push(sample(&l, s.tx_packets as f64, MetricType::COUNTER));
            rx_bytes.push(sample(&l, s.rx_bytes as f64, MetricType::COUNTER));
            tx_bytes.push(sample(&l, s.tx_bytes as f64, MetricType::COUNTER));
            rx_drop.push(sample(
                &l,
                (s.rx_missed + s.rx_nombuf) as f64,
                MetricType::COUNTER,
            ));
            rx_err.push(sample(&l, s.rx_errors as f64, MetricType::COUNTER));
            tx_err.push(sample(&l, s.tx_errors as f64, MetricType::COUNTER));
            if let Ok(xs) = p.port.xstats() {
                for (name, v) in xs {
                    xstats.push(sample(
                        &[("port", p.name.as_str()), ("name", name.as_str())],
                        v as f64,
                        MetricType::COUNTER,
                    ));
                }
            }
        }
        use MetricType::COUNTER as C;
        e.add(
            "ferrovs_port_rx_packets_total",
            "Packets received by the port's device.",
            C,
            rx_pkts,
        );
        e.add(
            "ferrovs_port_tx_packets_total",
            "Packets sent by the port's device.",
            C,
            tx_pkts,
        );
        e.add(
            "ferrovs_port_rx_bytes_total",
            "Bytes received by the port's device.",
            C,
            rx_bytes,
        );
        e.add(
            "ferrovs_port_tx_bytes_total",
            "Bytes sent by the port's device.",
            C,
            tx_bytes,
        );
        e.add(
            "ferrovs_port_rx_dropped_total",
            "Packets the device dropped on receive: no descriptor free (imissed) or no mbuf.",
            C,
            rx_drop,
        );
        e.add(
            "ferrovs_port_tx_dropped_total",
            "Packets the device refused on transmit (its queue was full).",
            C,
            tx_drop,
        );
        e.add(
            "ferrovs_port_rx_errors_total",
            "Erroneous packets received.",
            C,
            rx_err,
        );
        e.add(
            "ferrovs_port_tx_errors_total",
            "Packets the device failed to send.",
            C,
            tx_err,
        );
        e.add(
            "ferrovs_port_xstats_total",
            "The device's extended statistics (DPDK xstats), by xstat name.",
            C,
            xstats,
        );
    }

    fn pmd_metrics(&self, e: &mut Exposition, bridge: &NetdevBridge) {
        let hz = pmd::lcore::tsc_hz().max(1) as f64;
        let mut fams: Vec<(&str, &str, MetricType, Vec<Metric>)> = vec![
            (
                "ferrovs_pmd_emc_hits_total",
                "Packets that hit the exact-match cache.",
                MetricType::COUNTER,
                vec![],
            ),
            (
                "ferrovs_pmd_megaflow_hits_total",
                "Packets that missed the EMC and hit a megaflow (simple-match hits included).",
                MetricType::COUNTER,
                vec![],
            ),
            (
                "ferrovs_pmd_simple_match_hits_total",
                "Megaflow hits taken by the simple-match path (in_port-only flows).",
                MetricType::COUNTER,
                vec![],
            ),
            (
                "ferrovs_pmd_misses_total",
                "Packets that matched no megaflow (upcalled or lost).",
                MetricType::COUNTER,
                vec![],
            ),
            (
                "ferrovs_pmd_lost_upcalls_total",
                "Upcalls dropped because the upcall ring or pool was full.",
                MetricType::COUNTER,
                vec![],
            ),
            (
                "ferrovs_pmd_action_upcalls_total",
                "Packets sent up by a userspace action (packet-ins).",
                MetricType::COUNTER,
                vec![],
            ),
            (
                "ferrovs_pmd_subtables_probed_total",
                "Classifier subtables probed, summed over megaflow hits.",
                MetricType::COUNTER,
                vec![],
            ),
            (
                "ferrovs_pmd_recirculations_total",
                "Extra datapath passes of recirculated packets.",
                MetricType::COUNTER,
                vec![],
            ),
            (
                "ferrovs_pmd_dropped_packets_total",
                "Packets the datapath dropped (drop actions, unusable output ports).",
                MetricType::COUNTER,
                vec![],
            ),
            (
                "ferrovs_pmd_busy_seconds_total",
                "Time the PMD spent in iterations that did work.",
                MetricType::COUNTER,
                vec![],
            ),
            (
                "ferrovs_pmd_idle_seconds_total",
                "Time the PMD spent in iterations that found nothing.",
                MetricType::COUNTER,
                vec![],
            ),
            (
                "ferrovs_pmd_iterations_total",
                "Poll loop iterations.",
                MetricType::COUNTER,
                vec![],
            ),
        ];
        let mut bursts = Vec::new();
        for h in bridge.netdev.pmds() {
            let core = h.core.to_string();
            let l = [("pmd", core.as_str())];
            let s = &h.stats;
            let values = [
                s.emc_hits.get() as f64,
                s.megaflow_hits.get() as f64,
                s.simple_match_hits.get() as f64,
                s.misses.get() as f64,
                (s.miss_upcalls_lost.get() + s.action_upcalls_lost.get()) as f64,
                s.action_upcalls.get() as f64,
                s.subtables_probed.get() as f64,
                s.recirculations.get() as f64,
                s.dropped.get() as f64,
                s.busy_cycles.get() as f64 / hz,
                s.idle_cycles.get() as f64 / hz,
                s.iterations.get() as f64,
            ];
            for (f, v) in fams.iter_mut().zip(values) {
                f.3.push(sample(&l, v, f.2));
            }
            bursts.push(burst_histogram(&l, s));
        }
        for (name, help, ty, metrics) in fams {
            e.add(name, help, ty, metrics);
        }
        e.add(
            "ferrovs_pmd_rx_burst_packets",
            "Packets per non-empty rx burst.",
            MetricType::HISTOGRAM,
            bursts,
        );
    }

    fn datapath_metrics(&self, e: &mut Exposition, bridge: &NetdevBridge) {
        // Every PMD holds its own copy of every megaflow: the distinct count is the largest.
        let pmds = bridge.netdev.pmds();
        let flows = pmds.iter().map(|h| h.stats.flows.get()).max().unwrap_or(0);
        let masks = pmds.iter().map(|h| h.stats.masks.get()).max().unwrap_or(0);
        e.add(
            "ferrovs_datapath_megaflows",
            "Megaflows installed in the datapath.",
            MetricType::GAUGE,
            vec![sample(&[], flows as f64, MetricType::GAUGE)],
        );
        e.add(
            "ferrovs_datapath_masks",
            "Distinct megaflow masks (classifier subtables) in the datapath.",
            MetricType::GAUGE,
            vec![sample(&[], masks as f64, MetricType::GAUGE)],
        );
        let mut m = Metric::default();
        m.set_histogram(self.upcall_latency.to_proto());
        e.add(
            "ferrovs_upcall_latency_seconds",
            "Time the upcall handler spent per upcall (translation, megaflow install, execution), averaged over its batch.",
            MetricType::HISTOGRAM,
            vec![m],
        );
    }

    fn process_metrics(&self, e: &mut Exposition, src: &Sources<'_>) {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let kib = |key: &str| -> Option<f64> {
            let line = status.lines().find(|l| l.starts_with(key))?;
            let v: f64 = line[key.len()..]
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .ok()?;
            Some(v * 1024.0)
        };
        use MetricType::GAUGE as G;
        if let Some(rss) = kib("VmRSS:") {
            e.add(
                "ferrovs_process_resident_memory_bytes",
                "Resident memory of the ferrovs process (hugepages of the packet pool excluded).",
                G,
                vec![sample(&[], rss, G)],
            );
        }
        if let Some(vm) = kib("VmSize:") {
            e.add(
                "ferrovs_process_virtual_memory_bytes",
                "Virtual memory of the ferrovs process.",
                G,
                vec![sample(&[], vm, G)],
            );
        }
        e.add(
            "ferrovs_process_start_time_seconds",
            "When the switch started, in seconds since the Unix epoch.",
            G,
            vec![sample(&[], self.started_unix, G)],
        );
        let l = [("pool", src.pool_name)];
        // One read of the free count, so in use + free is the pool's size
        // even while packets move.
        let free = src.pool.available();
        let in_use = src.pool.capacity().saturating_sub(free);
        e.add(
            "ferrovs_mempool_in_use_mbufs",
            "Mbufs of the packet pool in use (in queues, rings and buffers).",
            G,
            vec![sample(&l, f64::from(in_use), G)],
        );
        e.add(
            "ferrovs_mempool_free_mbufs",
            "Mbufs of the packet pool free for receive.",
            G,
            vec![sample(&l, f64::from(free), G)],
        );
        let version = env!("CARGO_PKG_VERSION");
        let dpdk = env!("FERROVS_DPDK_BUILD_VERSION");
        e.add(
            "ferrovs_build_info",
            "Always 1; the labels say which ferrovs and DPDK were built.",
            G,
            vec![sample(&[("version", version), ("dpdk", dpdk)], 1.0, G)],
        );
    }

    /// Answers the commands [`register_commands`] registers; `None` for every other command.
    /// `dpif-netdev/pmd-stats-clear` is noted (the perf report counts from it) and left to its
    /// handler.
    pub fn command(
        &mut self,
        bridge: &NetdevBridge,
        name: &str,
        args: &[String],
    ) -> Option<Result<String, String>> {
        match name {
            "dpif-netdev/pmd-rxq-show" => Some(self.rxq_show(bridge, args)),
            "dpif-netdev/pmd-perf-show" => Some(self.perf_show(bridge, args)),
            "dpif-netdev/pmd-stats-clear" => {
                self.cleared = (
                    Instant::now(),
                    self.upcall_latency.count(),
                    self.upcall_latency.sum(),
                );
                None
            }
            _ => None,
        }
    }

    fn rxq_show(&self, bridge: &NetdevBridge, args: &[String]) -> Result<String, String> {
        let name = "dpif-netdev/pmd-rxq-show";
        let opts = parse_pmd_options(name, args, true)?;
        let secs = opts.secs.unwrap_or(USAGE_WINDOW_MAX);
        let now = Instant::now();
        let current = UsageSample::read(now, bridge);
        // The newest sample at least `secs` old; else the oldest there is.
        let window = Duration::from_secs(secs);
        let base = self
            .usage
            .iter()
            .rev()
            .find(|s| now.duration_since(s.at) >= window)
            .or_else(|| self.usage.front());
        let mut blocks = Vec::new();
        for (i, h) in bridge.netdev.pmds().iter().enumerate() {
            if opts.core.is_some_and(|c| c != h.core) {
                continue;
            }
            let (busy_now, total_now, ports_now) = &current.pmds[i];
            let (busy_then, total_then, ports_then) = base
                .and_then(|b| b.pmds.get(i))
                .map_or((0, 0, &[][..]), |(b, t, p)| (*b, *t, p.as_slice()));
            let total = total_now.saturating_sub(total_then);
            let busy = busy_now.saturating_sub(busy_then);
            let mut rxqs = Vec::new();
            let mut proc_sum = 0;
            // The bridge's placement, which add-port and del-port change.
            let mut rxq_list: Vec<Rxq> = bridge
                .rx_queues_of(i)
                .into_iter()
                .map(|(port, queue)| Rxq { port, queue })
                .collect();
            rxq_list.sort_by(|a, b| {
                let na = port_name(bridge, a.port);
                let nb = port_name(bridge, b.port);
                na.cmp(nb).then(a.queue.cmp(&b.queue))
            });
            for q in rxq_list {
                let p = q.port as usize;
                let now_c = ports_now.get(p).copied().unwrap_or(0);
                let cycles = now_c.saturating_sub(ports_then.get(p).copied().unwrap_or(0));
                proc_sum += cycles;
                rxqs.push(RxqLine {
                    port: port_name(bridge, q.port).to_string(),
                    queue: q.queue,
                    usage: (total > 0).then(|| cycles * 100 / total),
                });
            }
            blocks.push(RxqBlock {
                numa: h.numa,
                core: h.core,
                rxqs,
                overhead: (total > 0).then(|| busy.saturating_sub(proc_sum) * 100 / total),
            });
        }
        Ok(pmd_show::format_rxq_show(secs, &blocks))
    }

    fn perf_show(&self, bridge: &NetdevBridge, args: &[String]) -> Result<String, String> {
        let opts = parse_pmd_options("dpif-netdev/pmd-perf-show", args, false)?;
        let (since, count0, sum0) = self.cleared;
        let n = self.upcall_latency.count().saturating_sub(count0);
        let us_per_upcall = if n == 0 {
            0.0
        } else {
            (self.upcall_latency.sum() - sum0).max(0.0) / n as f64 * 1e6
        };
        let unix_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let time = pmd_show::clock_of(unix_ms);
        let duration = since.elapsed().as_secs_f64();
        let tsc_hz = pmd::lcore::tsc_hz();
        let mut out = String::new();
        for (i, h) in bridge.netdev.pmds().iter().enumerate() {
            if opts.core.is_some_and(|c| c != h.core) {
                continue;
            }
            pmd_show::format_perf(
                &mut out,
                &PerfInput {
                    numa: h.numa,
                    core: h.core,
                    stats: bridge.netdev.pmd_stats(i),
                    duration,
                    tsc_hz,
                    us_per_upcall,
                    time: time.clone(),
                },
            );
        }
        Ok(out)
    }
}

fn port_name(bridge: &NetdevBridge, port: PortNo) -> &str {
    bridge
        .ports
        .iter()
        .find(|p| p.dp_port == port)
        .map_or("?", |p| p.name.as_str())
}

/// The options of the two PMD commands.
#[derive(Debug, Default, PartialEq, Eq)]
struct PmdOptions {
    /// `-pmd CORE`: only this PMD.
    core: Option<u32>,
    /// `-secs N` (rxq-show): the window, rounded up to the sampling interval.
    secs: Option<u64>,
}

/// Parses `[-pmd CORE] [-secs N] [-nh] [DP]`: `-secs` only when `secs_ok`; `-nh` (no
/// histograms) is accepted by perf-show, which prints none anyway; a datapath name is accepted
/// and ignored, as ferrovs has one datapath.
fn parse_pmd_options(name: &str, args: &[String], secs_ok: bool) -> Result<PmdOptions, String> {
    let mut opts = PmdOptions::default();
    let mut dp_seen = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-pmd" => {
                let v = it.next().ok_or(format!("{name}: -pmd needs a core id\n"))?;
                opts.core = Some(
                    v.parse()
                        .map_err(|_| format!("{name}: invalid core id {v:?}\n"))?,
                );
            }
            "-secs" if secs_ok => {
                let v = it.next().ok_or(format!("{name}: -secs needs a number\n"))?;
                let n: u64 = v
                    .parse()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or(format!("{name}: invalid number of seconds {v:?}\n"))?;
                let step = USAGE_INTERVAL.as_secs();
                opts.secs = Some(n.div_ceil(step).saturating_mul(step).min(USAGE_WINDOW_MAX));
            }
            "-nh" if !secs_ok => {}
            o if o.starts_with('-') => return Err(format!("{name}: unknown option {o}\n")),
            _ if !dp_seen => dp_seen = true,
            extra => return Err(format!("{name}: unexpected argument {extra}\n")),
        }
    }
    Ok(opts)
}

/// Registers `dpif-netdev/pmd-rxq-show` and `dpif-netdev/pmd-perf-show`.
pub fn register_commands(commands: &mut Commands) -> Result<(), CtlError> {
    commands.register(
        "dpif-netdev/pmd-rxq-show",
        "[-pmd core] [-secs secs] [dp]",
        0,
        5,
    )?;
    commands.register("dpif-netdev/pmd-perf-show", "[-nh] [-pmd core] [dp]", 0, 4)?;
    Ok(())
}

/// Families being collected for one scrape.
#[derive(Default)]
struct Exposition {
    families: Vec<MetricFamily>,
}

impl Exposition {
    /// Adds a family; one without samples is left out (the text format has no empty family).
    fn add(&mut self, name: &str, help: &str, ty: MetricType, metrics: Vec<Metric>) {
        if metrics.is_empty() {
            return;
        }
        let mut f = MetricFamily::default();
        f.set_name(name.to_string());
        f.set_help(help.to_string());
        f.set_field_type(ty);
        f.set_metric(metrics);
        self.families.push(f);
    }
}

fn labels(pairs: &[(&str, &str)]) -> Vec<LabelPair> {
    pairs
        .iter()
        .map(|(k, v)| {
            let mut l = LabelPair::default();
            l.set_name(k.to_string());
            l.set_value(v.to_string());
            l
        })
        .collect()
}

/// One counter or gauge sample.
fn sample(pairs: &[(&str, &str)], v: f64, ty: MetricType) -> Metric {
    let mut m = Metric::default();
    m.set_label(labels(pairs));
    if ty == MetricType::COUNTER {
        let mut c = proto::Counter::default();
        c.set_value(v);
        m.set_counter(c);
    } else {
        let mut g = proto::Gauge::default();
        g.set_value(v);
        m.set_gauge(g);
    }
    m
}

/// A PMD's rx burst size histogram; its sum is the packets received in those bursts.
fn burst_histogram(pairs: &[(&str, &str)], s: &PmdStats) -> Metric {
    let bounds: Vec<f64> = RX_BURST_BOUNDS.iter().map(|&b| b as f64).collect();
    // Packets first, bursts second: the PMD counts in the other order (see
    // `PmdStats::count_rx_burst`), so the sum never runs ahead of the count
    // while traffic flows.
    let sum: u64 = s.ports.iter().map(|p| p.rx_packets.get()).sum();
    std::sync::atomic::fence(std::sync::atomic::Ordering::Acquire);
    let counts: Vec<u64> = s.rx_bursts.iter().map(|c| c.get()).collect();
    let mut m = Metric::default();
    m.set_label(labels(pairs));
    m.set_histogram(histogram_proto(&bounds, &counts, sum as f64));
    m
}

fn table_metrics(e: &mut Exposition, ofproto: &Ofproto<NetdevBridge>) {
    let (mut active, mut lookups, mut matches) = (Vec::new(), Vec::new(), Vec::new());
    for (id, n, l, m) in ofproto.table_counters() {
        // Unused tables (no rules, never looked up) are left out: 253 silent series help nobody.
        if id != 0 && n == 0 && l == 0 {
            continue;
        }
        let t = id.to_string();
        let lab = [("table", t.as_str())];
        active.push(sample(&lab, n as f64, MetricType::GAUGE));
        lookups.push(sample(&lab, l as f64, MetricType::COUNTER));
        matches.push(sample(&lab, m as f64, MetricType::COUNTER));
    }
    e.add(
        "ferrovs_table_active_flows",
        "OpenFlow rules in the table.",
        MetricType::GAUGE,
        active,
    );
    e.add(
        "ferrovs_table_lookups_total",
        "Packets looked up in the table by translation.",
        MetricType::COUNTER,
        lookups,
    );
    e.add(
        "ferrovs_table_matches_total",
        "Lookups in the table that matched a rule.",
        MetricType::COUNTER,
        matches,
    );
}

fn openflow_metrics(e: &mut Exposition, connmgr: &Connmgr) {
    use MetricType::{COUNTER as C, GAUGE as G};
    let mut connected = Vec::new();
    let mut attempts = Vec::new();
    for c in connmgr.controllers() {
        let target = c.target.to_string();
        let l = [("controller", target.as_str())];
        connected.push(sample(&l, f64::from(u8::from(c.connected.is_some())), G));
        attempts.push(sample(&l, c.attempts as f64, C));
    }
    e.add(
        "ferrovs_openflow_controller_connected",
        "1 while the configured controller's connection is up (version negotiated), else 0.",
        G,
        connected,
    );
    e.add(
        "ferrovs_openflow_controller_connect_attempts_total",
        "Connection attempts to the configured controller.",
        C,
        attempts,
    );
    let (mut rx, mut tx, mut errors, mut pins, mut pin_rate, mut pin_queue) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    for (info, stats) in connmgr.connections() {
        let kind = match info.kind {
            ConnKind::Controller => "controller",
            ConnKind::Service => "service",
        };
        let l = [("controller", info.name.as_str()), ("kind", kind)];
        for (map, out) in [(&stats.msgs_in, &mut rx), (&stats.msgs_out, &mut tx)] {
            for (&t, &n) in map {
                let ty = msg_type_name(info.version, t);
                out.push(sample(&[l[0], l[1], ("type", ty.as_str())], n as f64, C));
            }
        }
        errors.push(sample(&l, stats.errors_sent as f64, C));
        pins.push(sample(&l, stats.packet_ins_sent as f64, C));
        pin_rate.push(sample(&l, stats.packet_ins_rate_dropped as f64, C));
        pin_queue.push(sample(&l, stats.async_queue_dropped as f64, C));
    }
    e.add(
        "ferrovs_openflow_messages_received_total",
        "OpenFlow messages received on the connection, by type.",
        C,
        rx,
    );
    e.add(
        "ferrovs_openflow_messages_sent_total",
        "OpenFlow messages queued for sending on the connection, by type.",
        C,
        tx,
    );
    e.add(
        "ferrovs_openflow_errors_sent_total",
        "OFPT_ERROR messages sent on the connection.",
        C,
        errors,
    );
    e.add(
        "ferrovs_openflow_packet_ins_sent_total",
        "Packet-ins sent on the connection.",
        C,
        pins,
    );
    e.add(
        "ferrovs_openflow_packet_ins_rate_limited_total",
        "Packet-ins dropped by the connection's rate limiter.",
        C,
        pin_rate,
    );
    e.add(
        "ferrovs_openflow_async_queue_dropped_total",
        "Asynchronous messages dropped because the connection's output queue was past half full.",
        C,
        pin_queue,
    );
}

/// The lower-case OpenFlow name of message type `t` in `version` (numbering differs between
/// 1.0 and 1.3+ from type 14 on).
pub fn msg_type_name(version: Version, t: u8) -> String {
    const COMMON: [&str; 14] = [
        "hello",
        "error",
        "echo_request",
        "echo_reply",
        "experimenter",
        "features_request",
        "features_reply",
        "get_config_request",
        "get_config_reply",
        "set_config",
        "packet_in",
        "flow_removed",
        "port_status",
        "packet_out",
    ];
    const V10: [&str; 8] = [
        "flow_mod",
        "port_mod",
        "stats_request",
        "stats_reply",
        "barrier_request",
        "barrier_reply",
        "queue_get_config_request",
        "queue_get_config_reply",
    ];
    const V13: [&str; 21] = [
        "flow_mod",
        "group_mod",
        "port_mod",
        "table_mod",
        "multipart_request",
        "multipart_reply",
        "barrier_request",
        "barrier_reply",
        "queue_get_config_request",
        "queue_get_config_reply",
        "role_request",
        "role_reply",
        "get_async_request",
        "get_async_reply",
        "set_async",
        "meter_mod",
        "role_status",
        "table_status",
        "requestforward",
        "bundle_control",
        "bundle_add_message",
    ];
    let i = usize::from(t);
    let name = if i < COMMON.len() {
        if i == 4 && version == Version::V1_0 {
            Some("vendor")
        } else {
            Some(COMMON[i])
        }
    } else if version == Version::V1_0 {
        V10.get(i - COMMON.len()).copied()
    } else {
        V13.get(i - COMMON.len()).copied()
    };
    name.map_or_else(|| format!("type_{t}"), str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_with_inf() {
        static B: [f64; 3] = [1.0, 2.0, 4.0];
        let mut h = Histogram::new(&B);
        h.observe_n(0.5, 2);
        h.observe_n(1.0, 1);
        h.observe_n(3.0, 1);
        h.observe_n(9.0, 3);
        assert_eq!(h.count(), 7);
        assert_eq!(h.sum(), 0.5 * 2.0 + 1.0 + 3.0 + 27.0);
        let mut e = Exposition::default();
        let mut m = Metric::default();
        m.set_histogram(h.to_proto());
        e.add("x_seconds", "help", MetricType::HISTOGRAM, vec![m]);
        e.add("empty_total", "left out", MetricType::COUNTER, vec![]);
        e.add(
            "y_total",
            "a counter",
            MetricType::COUNTER,
            vec![sample(&[("port", "p\"0")], 3.0, MetricType::COUNTER)],
        );
        let mut buf = Vec::new();
        TextEncoder::new().encode(&e.families, &mut buf).unwrap();
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            "# HELP x_seconds help\n# TYPE x_seconds histogram\n\
             x_seconds_bucket{le=\"1\"} 3\nx_seconds_bucket{le=\"2\"} 3\n\
             x_seconds_bucket{le=\"4\"} 4\nx_seconds_bucket{le=\"+Inf\"} 7\n\
             x_seconds_sum 32\nx_seconds_count 7\n\
             # HELP y_total a counter\n# TYPE y_total counter\ny_total{port=\"p\\\"0\"} 3\n"
        );
    }

    #[test]
    fn message_types_follow_the_version() {
        assert_eq!(msg_type_name(Version::V1_0, 0), "hello");
        assert_eq!(msg_type_name(Version::V1_0, 4), "vendor");
        assert_eq!(msg_type_name(Version::V1_3, 4), "experimenter");
        assert_eq!(msg_type_name(Version::V1_0, 14), "flow_mod");
        assert_eq!(msg_type_name(Version::V1_0, 16), "stats_request");
        assert_eq!(msg_type_name(Version::V1_3, 16), "port_mod");
        assert_eq!(msg_type_name(Version::V1_3, 18), "multipart_request");
        assert_eq!(msg_type_name(Version::V1_0, 21), "queue_get_config_reply");
        assert_eq!(msg_type_name(Version::V1_0, 22), "type_22");
        assert_eq!(msg_type_name(Version::V1_5, 34), "bundle_add_message");
        assert_eq!(msg_type_name(Version::V1_5, 35), "type_35");
        assert_eq!(msg_type_name(Version::V1_3, 255), "type_255");
    }

    #[test]
    fn pmd_options() {
        let p = |args: &[&str], secs_ok| {
            let v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
            parse_pmd_options("x", &v, secs_ok)
        };
        assert_eq!(p(&[], true), Ok(PmdOptions::default()));
        assert_eq!(
            p(&["-pmd", "3", "-secs", "7", "netdev@ovs-netdev"], true),
            Ok(PmdOptions {
                core: Some(3),
                secs: Some(10)
            })
        );
        assert_eq!(p(&["-secs", "600"], true).unwrap().secs, Some(60));
        assert_eq!(p(&["-nh"], false), Ok(PmdOptions::default()));
        assert_eq!(p(&["-nh"], true), Err("x: unknown option -nh\n".into()));
        assert_eq!(
            p(&["-secs", "5"], false),
            Err("x: unknown option -secs\n".into())
        );
        assert_eq!(p(&["-pmd"], true), Err("x: -pmd needs a core id\n".into()));
        assert_eq!(
            p(&["-pmd", "a"], true),
            Err("x: invalid core id \"a\"\n".into())
        );
        assert_eq!(
            p(&["-secs", "0"], true),
            Err("x: invalid number of seconds \"0\"\n".into())
        );
        assert_eq!(
            p(&["dp", "dp2"], true),
            Err("x: unexpected argument dp2\n".into())
        );
    }
}
