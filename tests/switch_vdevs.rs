//! Every virtual poll-mode driver a user may name really loads and runs.
//!
//! net_tap and net_af_packet touch kernel interfaces, so the switch runs in
//! a private network namespace (`unshare -n`) that vanishes with it: the tap
//! is created there, and af_packet binds that namespace's loopback. DPDK
//! gets `--no-pci` from the binary itself: no PCI device is ever probed.

mod common;

use std::time::Duration;

use common::{logged, Switch, TempDir};

#[test]
fn ring_pcap_null_tap_af_packet_and_vhost_ports_start_and_stop() {
    let dir = TempDir::new("vdevs");
    let pcap = dir.path("in.pcap");
    common::write_pcap(&pcap, &[common::udp_frame(1, 20)]);
    let vhost = dir.path("vhost.sock");
    let ports = [
        "ring=net_ring0".to_string(),
        format!("pcap=net_pcap0,rx_pcap={}", pcap.display()),
        "null=net_null0,no-rx=1".to_string(),
        "tap=net_tap0,iface=fvs-tap0".to_string(),
        "afp=net_af_packet0,iface=lo".to_string(),
        format!("vhost=net_vhost0,iface={},client=0", vhost.display()),
    ];
    let binary = common::binary();
    let mut args = vec![binary.to_str().expect("utf-8 path"), "run", "--quiet"];
    for p in &ports {
        args.push("--port");
        args.push(p);
    }
    let mut sw = Switch::start_with("unshare", &["-n"], &args);
    sw.wait_stderr(Duration::from_secs(60), |l| {
        logged(l) == "running with 6 port(s) [ring, pcap, null, tap, afp, vhost] on 1 PMD lcore(s); Ctrl-C to stop"
    });
    assert!(vhost.exists(), "net_vhost created its vhost-user socket");
    let status = sw.signal_and_wait(libc::SIGTERM);
    assert!(status.success(), "{:#?}", sw.stderr_lines);
    let last = sw.stderr_lines.last().cloned().unwrap_or_default();
    assert!(
        logged(&last).starts_with("stopped; 16383 of 16383 mbufs"),
        "{last}"
    );
}
