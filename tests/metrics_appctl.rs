//! `dpif-netdev/pmd-perf-show` and `dpif-netdev/pmd-rxq-show` of the real binary, asked with
//! the real `ovs-appctl` (Debian `openvswitch-common`), on `net_pcap`/`net_null` ports.
//!
//! The numbers that do not depend on timing are checked exactly (packets, hits, upcalls); the
//! ones that do (Kpps, cycles, usage percentages) are checked for shape and bounds. The switch
//! gives DPDK `--no-pci` itself (pmd::eal::EalArgs); its ports are virtual devices.

mod common;
mod e2e;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Switch, TempDir};

/// `ovs-appctl -t CTL ARGS…`: (exit code, stdout, stderr).
fn appctl(ctl: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new("ovs-appctl")
        .arg("-t")
        .arg(ctl)
        .args(args)
        .output()
        .expect("ovs-appctl (Debian package openvswitch-common) is required");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn start(dir: &TempDir, p0: &str) -> Switch {
    let ctl = dir.path("ctl");
    let mut sw = Switch::start(&[
        "run",
        "--quiet",
        "--metrics",
        "off",
        "--ctl",
        ctl.to_str().unwrap(),
        "--pmd-cores",
        "1",
        "--port",
        p0,
        "--port",
        "p1=net_null0,no-rx=1",
        "--patch",
        "p0:p1",
    ]);
    sw.wait_stderr(Duration::from_secs(60), |l| {
        common::logged(l).starts_with("control socket")
    });
    sw
}

fn stop(mut sw: Switch, ctl: &Path) {
    e2e::appctl(ctl, &["exit"]);
    let status = sw.wait(Duration::from_secs(30));
    assert!(status.success(), "{:#?}", sw.stderr_lines);
    assert!(
        !sw.stderr_lines.iter().any(|l| l.contains("metrics on")),
        "--metrics off still served: {:#?}",
        sw.stderr_lines
    );
}

/// The first line of `pmd-stats-show`: `pmd thread numa_id N core_id 1:`.
fn pmd_header(ctl: &Path) -> String {
    let out = e2e::appctl(ctl, &["dpif-netdev/pmd-stats-show"]);
    out.lines().next().expect("a PMD").to_string()
}

/// The number right after `label` and spaces in `line` (`  Rx packets:    50  (…`).
fn count_after(line: &str, label: &str) -> u64 {
    line.strip_prefix(label)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count after {label:?} in {line:?}"))
}

#[test]
fn perf_show_counts_exactly_the_packets_of_a_pcap() {
    let dir = TempDir::new("perf-show");
    let pcap = dir.path("in.pcap");
    let frames: Vec<Vec<u8>> = (0..50).map(|i| common::udp_frame(i, 30)).collect();
    common::write_pcap(&pcap, &frames);
    let ctl = dir.path("ctl");
    let sw = start(&dir, &format!("p0=net_pcap0,rx_pcap={}", pcap.display()));
    let deadline = Instant::now() + Duration::from_secs(30);
    while !e2e::appctl(&ctl, &["dpif-netdev/pmd-stats-show"]).contains("packets received: 50\n") {
        assert!(Instant::now() < deadline, "the pcap was not received");
        std::thread::sleep(Duration::from_millis(100));
    }
    let header = pmd_header(&ctl);
    let (code, out, err) = appctl(&ctl, &["dpif-netdev/pmd-perf-show"]);
    assert_eq!((code, err.as_str()), (0, ""));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "");
    let time = lines[1].strip_prefix("Time: ").expect("Time:");
    assert_eq!(time.len(), "12:34:56.789".len(), "{time}");
    assert!(time
        .chars()
        .enumerate()
        .all(|(i, c)| if [2, 5].contains(&i) {
            c == ':'
        } else if i == 8 {
            c == '.'
        } else {
            c.is_ascii_digit()
        }));
    let dur: f64 = lines[2]
        .strip_prefix("Measurement duration: ")
        .and_then(|r| r.strip_suffix(" s"))
        .and_then(|d| d.parse().ok())
        .expect("Measurement duration: N s");
    assert!(dur > 0.0 && dur < 120.0, "{dur}");
    assert_eq!(&lines[3..6], ["", header.as_str(), ""]);
    assert!(lines[6].starts_with("  Iterations:         ") && lines[6].ends_with(" us/it)"));
    assert!(count_after(lines[6], "  Iterations:") > 0);
    let rx = lines[10];
    assert!(
        rx.starts_with("  Rx packets:                   50  (")
            && rx.ends_with(" cycles/pkt)")
            && rx.contains(" Kpps, "),
        "{rx}"
    );
    assert_eq!(
        &lines[11..18],
        [
            "  Datapath passes:              50  (1.00 passes/pkt)",
            "  - Simple Match hits:          50  (100.0 %)",
            "  - EMC hits:                    0  (  0.0 %)",
            "  - SMC hits:                    0  (  0.0 %)",
            "  - Megaflow hits:               0  (  0.0 %, 0.00 subtbl lookups/hit)",
            "  - Upcalls:                     0  (  0.0 %, 0.0 us/upcall)",
            "  - Lost upcalls:                0  (  0.0 %)",
        ]
    );
    assert!(lines[18].starts_with("  Tx packets:                   50  ("));
    assert!(lines[19].starts_with("  Tx batches:         "));
    let batches = count_after(lines[19], "  Tx batches:");
    assert!((2..=50).contains(&batches), "{}", lines[19]);
    assert_eq!(lines.len(), 20, "{out}");

    // The same block for the one PMD by its core; none for a core without a PMD.
    let (_, one, _) = appctl(&ctl, &["dpif-netdev/pmd-perf-show", "-nh", "-pmd", "1"]);
    assert!(one.contains(&format!("\n{header}\n")), "{one}");
    assert_eq!(
        appctl(&ctl, &["dpif-netdev/pmd-perf-show", "-pmd", "7"]),
        (0, String::new(), String::new())
    );
    let (code, out, err) = appctl(&ctl, &["dpif-netdev/pmd-perf-show", "-x"]);
    assert_eq!((code, out.as_str()), (2, ""));
    assert_eq!(
        err,
        format!(
            "dpif-netdev/pmd-perf-show: unknown option -x\novs-appctl: {}: server returned an error\n",
            ctl.display()
        )
    );

    // After a clear, the report starts over.
    e2e::appctl(&ctl, &["dpif-netdev/pmd-stats-clear"]);
    let (_, cleared, _) = appctl(&ctl, &["dpif-netdev/pmd-perf-show"]);
    let tail: Vec<&str> = cleared.lines().skip(10).collect();
    assert_eq!(
        tail,
        [
            "  Rx packets:                    0",
            "  Tx packets:                    0",
            ""
        ],
        "{cleared}"
    );
    stop(sw, &ctl);
}

/// The usage percent of a `pmd-rxq-show` line of port `port`.
fn usage(out: &str, port: &str) -> u64 {
    let prefix = format!("  port: {port:<16}  queue-id:  0 (enabled)   pmd usage: ");
    let line = out
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no line for {port} in\n{out}"));
    line[prefix.len()..]
        .strip_suffix(" %")
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no usage in {line:?}"))
}

#[test]
fn rxq_show_lists_each_rxq_with_its_share_of_the_pmd() {
    let dir = TempDir::new("rxq-show");
    let pcap = dir.path("in.pcap");
    let frames: Vec<Vec<u8>> = (0..64).map(|i| common::udp_frame(i, 18)).collect();
    common::write_pcap(&pcap, &frames);
    let ctl = dir.path("ctl");
    let sw = start(
        &dir,
        &format!("p0=net_pcap0,rx_pcap={},infinite_rx=1", pcap.display()),
    );
    std::thread::sleep(Duration::from_secs(2));
    let header = pmd_header(&ctl);
    let (code, out, err) = appctl(&ctl, &["dpif-netdev/pmd-rxq-show"]);
    assert_eq!((code, err.as_str()), (0, ""));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 6, "{out}");
    assert_eq!(
        &lines[..3],
        [
            "Displaying last 60 seconds pmd usage %",
            header.as_str(),
            "  isolated : false"
        ]
    );
    assert!(lines[3].starts_with("  port: p0 "));
    assert!(lines[4].starts_with("  port: p1 "));
    let overhead: u64 = lines[5]
        .strip_prefix("  overhead: ")
        .and_then(|r| r.strip_suffix(" %"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("{}", lines[5]));
    // p0 never stops receiving, so the PMD is always busy: p0's share plus the overhead is
    // (nearly) everything; p1 receives nothing.
    let p0 = usage(&out, "p0");
    assert!(p0 >= 30, "{out}");
    assert!((90..=100).contains(&(p0 + overhead)), "{out}");
    assert_eq!(usage(&out, "p1"), 0);

    let (_, short, _) = appctl(&ctl, &["dpif-netdev/pmd-rxq-show", "-secs", "7"]);
    assert!(
        short.starts_with("Displaying last 10 seconds pmd usage %\n"),
        "{short}"
    );
    assert_eq!(
        appctl(&ctl, &["dpif-netdev/pmd-rxq-show", "-pmd", "7"]).1,
        "Displaying last 60 seconds pmd usage %\n"
    );
    let (code, _, err) = appctl(&ctl, &["dpif-netdev/pmd-rxq-show", "-secs", "x"]);
    assert_eq!(code, 2);
    assert!(
        err.starts_with("dpif-netdev/pmd-rxq-show: invalid number of seconds \"x\"\n"),
        "{err}"
    );
    let (_, list, _) = appctl(&ctl, &["list-commands"]);
    assert!(list.contains("  dpif-netdev/pmd-perf-show [-nh] [-pmd core] [dp]\n"));
    assert!(list.contains("  dpif-netdev/pmd-rxq-show [-pmd core] [-secs secs] [dp]\n"));
    stop(sw, &ctl);
}
