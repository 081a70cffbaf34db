//! The text of `dpif-netdev/pmd-rxq-show` and `dpif-netdev/pmd-perf-show`, shaped like Open
//! vSwitch's so that operators' eyes and scripts (e.g. a regex over `Rx packets: N (K Kpps, C
//! cycles/pkt)`) carry over.
//!
//! Only formatting lives here, over plain numbers, so every line can be tested exactly; the
//! numbers come from [`super::Metrics`], which reads the PMDs' counters.
//!
//! Vocabulary: an *rxq* is one receive queue of one port, polled by one PMD. Its *usage* is the
//! share of the PMD's cycles spent processing packets from it over a window; the PMD's
//! *overhead* is the rest of its busy cycles (output, flow commands, bookkeeping).

use std::fmt::Write as _;

use crate::dpif::netdev::StatsSnapshot;

/// One rxq line of `pmd-rxq-show`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RxqLine {
    pub port: String,
    pub queue: u16,
    /// Percent of the PMD's cycles, `None` when the window saw no cycles at all.
    pub usage: Option<u64>,
}

/// One PMD's block of `pmd-rxq-show`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RxqBlock {
    pub numa: u32,
    pub core: u32,
    pub rxqs: Vec<RxqLine>,
    /// Percent of the PMD's cycles that were busy but not spent on an rxq's packets.
    pub overhead: Option<u64>,
}

/// `pmd-rxq-show` over a window of `secs` seconds.
pub fn format_rxq_show(secs: u64, blocks: &[RxqBlock]) -> String {
    let mut out = format!("Displaying last {secs} seconds pmd usage %\n");
    for b in blocks {
        let _ = writeln!(out, "pmd thread numa_id {} core_id {}:", b.numa, b.core);
        out.push_str("  isolated : false\n");
        for q in &b.rxqs {
            let _ = write!(
                out,
                "  port: {:<16}  queue-id: {:>2} (enabled)   pmd usage: ",
                q.port, q.queue
            );
            match q.usage {
                Some(u) => {
                    let _ = writeln!(out, "{u:>2} %");
                }
                None => out.push_str("NOT AVAIL\n"),
            }
        }
        if !b.rxqs.is_empty() {
            match b.overhead {
                Some(o) => {
                    let _ = writeln!(out, "  overhead: {o:>2} %");
                }
                None => out.push_str("  overhead: NOT AVAIL\n"),
            }
        }
    }
    out
}

/// What one PMD's `pmd-perf-show` block is made of.
#[derive(Debug, Clone)]
pub struct PerfInput {
    pub numa: u32,
    pub core: u32,
    /// The PMD's counters since the last `pmd-stats-clear` (or start).
    pub stats: StatsSnapshot,
    /// Seconds since then.
    pub duration: f64,
    pub tsc_hz: u64,
    /// Average upcall handling time since then, in microseconds (the control lcore handles
    /// every PMD's upcalls, so this figure is the same for all PMDs).
    pub us_per_upcall: f64,
    /// The wall-clock time of the report, `HH:MM:SS.mmm` (UTC).
    pub time: String,
}

fn pct(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        100.0 * a as f64 / b as f64
    }
}

fn per(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// Appends one PMD's `pmd-perf-show` block.
pub fn format_perf(out: &mut String, p: &PerfInput) {
    let s = &p.stats;
    let _ = write!(
        out,
        "\nTime: {}\nMeasurement duration: {:.3} s\n\npmd thread numa_id {} core_id {}:\n\n",
        p.time, p.duration, p.numa, p.core
    );
    let tot_cycles = s.busy_cycles + s.idle_cycles;
    let idle_iter = s.iterations.saturating_sub(s.busy_iterations);
    let us_per_cycle = 1e6 / p.tsc_hz.max(1) as f64;
    let used = if p.duration > 0.0 {
        100.0 * tot_cycles as f64 / (p.duration * p.tsc_hz.max(1) as f64)
    } else {
        0.0
    };
    let line = |out: &mut String, label: &str, v: u64| {
        let _ = write!(out, "  {label:<20}{v:>12}");
    };
    line(out, "Iterations:", s.iterations);
    let _ = writeln!(
        out,
        "  ({:.2} us/it)",
        per(tot_cycles, s.iterations) * us_per_cycle
    );
    line(out, "- Used TSC cycles:", tot_cycles);
    let _ = writeln!(out, "  ({used:5.1} % of total cycles)");
    line(out, "- idle iterations:", idle_iter);
    let _ = writeln!(
        out,
        "  ({:5.1} % of used cycles)",
        pct(s.idle_cycles, tot_cycles)
    );
    line(out, "- busy iterations:", s.busy_iterations);
    let _ = writeln!(
        out,
        "  ({:5.1} % of used cycles)",
        pct(s.busy_cycles, tot_cycles)
    );
    let passes = s.rx_packets + s.recirculations;
    let lost = s.miss_upcalls_lost + s.action_upcalls_lost;
    if s.rx_packets > 0 {
        let kpps = if p.duration > 0.0 {
            s.rx_packets as f64 / p.duration / 1000.0
        } else {
            0.0
        };
        line(out, "Rx packets:", s.rx_packets);
        let _ = writeln!(
            out,
            "  ({kpps:.0} Kpps, {:.0} cycles/pkt)",
            per(s.busy_cycles, s.rx_packets)
        );
        line(out, "Datapath passes:", passes);
        let _ = writeln!(out, "  ({:.2} passes/pkt)", per(passes, s.rx_packets));
        line(out, "- Simple Match hits:", s.simple_match_hits);
        let _ = writeln!(out, "  ({:5.1} %)", pct(s.simple_match_hits, passes));
        // The simple-match hits are counted among the megaflow hits; OVS lists them apart.
        let emc = s.emc_hits;
        let megaflow = s.megaflow_hits.saturating_sub(s.simple_match_hits);
        line(out, "- EMC hits:", emc);
        let _ = writeln!(out, "  ({:5.1} %)", pct(emc, passes));
        line(out, "- SMC hits:", 0);
        let _ = writeln!(out, "  ({:5.1} %)", 0.0);
        line(out, "- Megaflow hits:", megaflow);
        let _ = writeln!(
            out,
            "  ({:5.1} %, {:.2} subtbl lookups/hit)",
            pct(megaflow, passes),
            per(s.subtables_probed, megaflow)
        );
        line(out, "- Upcalls:", s.misses);
        let _ = writeln!(
            out,
            "  ({:5.1} %, {:.1} us/upcall)",
            pct(s.misses, passes),
            p.us_per_upcall
        );
        line(out, "- Lost upcalls:", lost);
        let _ = writeln!(out, "  ({:5.1} %)", pct(lost, passes));
    } else {
        line(out, "Rx packets:", 0);
        out.push('\n');
    }
    if s.tx_packets > 0 {
        let kpps = if p.duration > 0.0 {
            s.tx_packets as f64 / p.duration / 1000.0
        } else {
            0.0
        };
        line(out, "Tx packets:", s.tx_packets);
        let _ = writeln!(out, "  ({kpps:.0} Kpps)");
        line(out, "Tx batches:", s.tx_batches);
        let _ = writeln!(
            out,
            "  ({:.2} pkts/batch)",
            per(s.tx_batch_packets, s.tx_batches)
        );
    } else {
        line(out, "Tx packets:", 0);
        out.push_str("\n\n");
    }
}

/// `HH:MM:SS.mmm` of a Unix time in milliseconds (UTC).
pub fn clock_of(unix_ms: u64) -> String {
    let ms = unix_ms % 1000;
    let secs = unix_ms / 1000;
    format!(
        "{:02}:{:02}:{:02}.{ms:03}",
        (secs / 3600) % 24,
        (secs / 60) % 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rxq_show_is_shaped_like_ovs() {
        let blocks = [
            RxqBlock {
                numa: 0,
                core: 1,
                rxqs: vec![
                    RxqLine {
                        port: "p0".into(),
                        queue: 0,
                        usage: Some(45),
                    },
                    RxqLine {
                        port: "uplink-long-name".into(),
                        queue: 3,
                        usage: Some(100),
                    },
                ],
                overhead: Some(3),
            },
            RxqBlock {
                numa: 0,
                core: 2,
                rxqs: vec![RxqLine {
                    port: "p1".into(),
                    queue: 0,
                    usage: None,
                }],
                overhead: None,
            },
            RxqBlock {
                numa: 1,
                core: 3,
                rxqs: vec![],
                overhead: None,
            },
        ];
        assert_eq!(
            format_rxq_show(60, &blocks),
            "Displaying last 60 seconds pmd usage %\n\
             pmd thread numa_id 0 core_id 1:\n\
             \x20 isolated : false\n\
             \x20 port: p0                queue-id:  0 (enabled)   pmd usage: 45 %\n\
             \x20 port: uplink-long-name  queue-id:  3 (enabled)   pmd usage: 100 %\n\
             \x20 overhead:  3 %\n\
             pmd thread numa_id 0 core_id 2:\n\
             \x20 isolated : false\n\
             \x20 port: p1                queue-id:  0 (enabled)   pmd usage: NOT AVAIL\n\
             \x20 overhead: NOT AVAIL\n\
             pmd thread numa_id 1 core_id 3:\n\
             \x20 isolated : false\n"
        );
    }

    #[test]
    fn perf_show_is_shaped_like_ovs() {
        let stats = StatsSnapshot {
            rx_packets: 1_000_000,
            tx_packets: 999_000,
            recirculations: 0,
            simple_match_hits: 0,
            emc_hits: 900_000,
            megaflow_hits: 99_000,
            subtables_probed: 198_000,
            misses: 1_000,
            miss_upcalls_lost: 10,
            tx_batches: 31_250,
            tx_batch_packets: 999_000,
            busy_cycles: 300_000_000,
            idle_cycles: 700_000_000,
            iterations: 2_000_000,
            busy_iterations: 40_000,
            ..StatsSnapshot::default()
        };
        let mut out = String::new();
        format_perf(
            &mut out,
            &PerfInput {
                numa: 0,
                core: 1,
                stats,
                duration: 1.0,
                tsc_hz: 2_000_000_000,
                us_per_upcall: 12.34,
                time: "12:00:01.250".into(),
            },
        );
        assert_eq!(
            out,
            "\nTime: 12:00:01.250\nMeasurement duration: 1.000 s\n\n\
             pmd thread numa_id 0 core_id 1:\n\n\
             \x20 Iterations:              2000000  (0.25 us/it)\n\
             \x20 - Used TSC cycles:    1000000000  ( 50.0 % of total cycles)\n\
             \x20 - idle iterations:       1960000  ( 70.0 % of used cycles)\n\
             \x20 - busy iterations:         40000  ( 30.0 % of used cycles)\n\
             \x20 Rx packets:              1000000  (1000 Kpps, 300 cycles/pkt)\n\
             \x20 Datapath passes:         1000000  (1.00 passes/pkt)\n\
             \x20 - Simple Match hits:           0  (  0.0 %)\n\
             \x20 - EMC hits:               900000  ( 90.0 %)\n\
             \x20 - SMC hits:                    0  (  0.0 %)\n\
             \x20 - Megaflow hits:           99000  (  9.9 %, 2.00 subtbl lookups/hit)\n\
             \x20 - Upcalls:                  1000  (  0.1 %, 12.3 us/upcall)\n\
             \x20 - Lost upcalls:               10  (  0.0 %)\n\
             \x20 Tx packets:               999000  (999 Kpps)\n\
             \x20 Tx batches:                31250  (31.97 pkts/batch)\n"
        );
    }

    #[test]
    fn perf_show_without_traffic() {
        let mut out = String::new();
        format_perf(
            &mut out,
            &PerfInput {
                numa: 0,
                core: 2,
                stats: StatsSnapshot::default(),
                duration: 0.5,
                tsc_hz: 1_000_000_000,
                us_per_upcall: 0.0,
                time: "00:00:00.000".into(),
            },
        );
        assert_eq!(
            out,
            "\nTime: 00:00:00.000\nMeasurement duration: 0.500 s\n\n\
             pmd thread numa_id 0 core_id 2:\n\n\
             \x20 Iterations:                    0  (0.00 us/it)\n\
             \x20 - Used TSC cycles:             0  (  0.0 % of total cycles)\n\
             \x20 - idle iterations:             0  (  0.0 % of used cycles)\n\
             \x20 - busy iterations:             0  (  0.0 % of used cycles)\n\
             \x20 Rx packets:                    0\n\
             \x20 Tx packets:                    0\n\n"
        );
    }

    #[test]
    fn clock_is_utc_hours_minutes_seconds_millis() {
        assert_eq!(clock_of(0), "00:00:00.000");
        assert_eq!(clock_of(86_400_000 + 3_723_045), "01:02:03.045");
    }
}
