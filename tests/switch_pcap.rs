//! The real `ferrovs` binary forwarding between `net_pcap` ports. The binary
//! gives DPDK `--no-pci` itself, so only the devices named here are probed.

mod common;

use std::time::Duration;

use common::{logged, read_pcap, udp_frame, write_pcap, Switch, TempDir};

#[test]
fn patch_forwarding_copies_the_pcap_exactly() {
    let dir = TempDir::new("pcap-patch");
    let (inp, out) = (dir.path("in.pcap"), dir.path("out.pcap"));
    let frames: Vec<Vec<u8>> = (0..1000)
        .map(|i| udp_frame(i, (i as usize * 7) % 1200))
        .collect();
    write_pcap(&inp, &frames);

    let p0 = format!("p0=net_pcap0,rx_pcap={}", inp.display());
    let p1 = format!("p1=net_pcap1,tx_pcap={}", out.display());
    let ctl = dir.path("ctl");
    let ctl = ctl.to_str().unwrap();
    let mut sw = Switch::start(&[
        "run", "--port", &p0, "--port", &p1, "--patch", "p0:p1", "--ctl", ctl,
    ]);
    sw.wait_stdout(Duration::from_secs(30), |l| {
        l.contains("p1: rx 0 (") && l.contains("tx 1000 (")
    });
    let status = sw.signal_and_wait(libc::SIGTERM);
    assert!(
        status.success(),
        "exit status {status:?}, stderr {:#?}",
        sw.stderr_lines
    );
    assert!(
        sw.stderr_lines
            .iter()
            .any(|l| logged(l) == "stopped; 16383 of 16383 mbufs are back in the pool"),
        "{:#?}",
        sw.stderr_lines
    );

    let got = read_pcap(&out);
    assert_eq!(got.len(), frames.len());
    for (i, (g, f)) in got.iter().zip(&frames).enumerate() {
        assert_eq!(g, f, "frame {i}");
    }
}

#[test]
fn sigint_stops_cleanly_with_traffic_flowing() {
    let dir = TempDir::new("pcap-sigint");
    let inp = dir.path("in.pcap");
    write_pcap(&inp, &(0..64).map(|i| udp_frame(i, 18)).collect::<Vec<_>>());
    let p0 = format!("p0=net_pcap0,rx_pcap={},infinite_rx=1", inp.display());
    let ctl = dir.path("ctl");
    let mut sw = Switch::start(&[
        "run",
        "--ctl",
        ctl.to_str().unwrap(),
        "--port",
        &p0,
        "--port",
        "p1=net_null0,no-rx=1",
        "--patch",
        "p0:p1",
    ]);
    // Two status lines a second apart show live counters.
    sw.wait_stdout(Duration::from_secs(30), |l| {
        let p1 = l.split(" | ").nth(1).unwrap_or("");
        p1.starts_with("p1: rx 0 (0 pps) tx ")
            && !p1.contains(" tx 0 (")
            && !p1.contains("(0 pps) drop")
    });
    let status = sw.signal_and_wait(libc::SIGINT);
    assert!(status.success(), "exit status {status:?}");
    let last = sw.stderr_lines.last().cloned().unwrap_or_default();
    let last = logged(&last);
    assert!(
        last.starts_with("stopped; ") && last.ends_with("mbufs are back in the pool"),
        "{last}"
    );
    let (free, total) = last
        .trim_start_matches("stopped; ")
        .split_once(" of ")
        .map(|(a, b)| (a.to_owned(), b.split(' ').next().unwrap_or("").to_owned()))
        .unwrap_or_default();
    assert_eq!(free, total);
}

#[test]
fn bad_devargs_give_one_sentence_and_nonzero_exit() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["run", "--port", "p0=net_bogus0"],
            "ferrovs: error: DPDK's EAL failed to initialise",
        ),
        (
            &["run", "--port", "p0=net_pcap0,rx_pcap=/nonexistent/in.pcap"],
            "ferrovs: error: port p0 (net_pcap0,rx_pcap=/nonexistent/in.pcap) did not appear",
        ),
        (
            &["run", "--port", "p0=ring0"],
            "ferrovs: error: port p0: \"ring0\" is neither a DPDK virtual device",
        ),
        (
            &["run", "--port", "p0"],
            "ferrovs: error: bad --port \"p0\"",
        ),
        (
            &["run", "--port", "p0=net_ring0", "--patch", "p0:p7"],
            "ferrovs: error: patch \"p0:p7\" names port \"p7\"",
        ),
    ];
    for (args, want) in cases {
        let mut sw = Switch::start(args);
        let status = sw.wait(Duration::from_secs(30));
        assert_eq!(status.code(), Some(1), "{args:?}: {:#?}", sw.stderr_lines);
        let last = sw.stderr_lines.last().cloned().unwrap_or_default();
        assert!(last.starts_with(want), "{args:?}: last line {last:?}");
        // One sentence: a single line, ending the output.
        assert_eq!(
            sw.stderr_lines
                .iter()
                .filter(|l| l.starts_with("ferrovs: error:"))
                .count(),
            1
        );
    }
}
