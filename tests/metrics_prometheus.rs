//! `/metrics` of the real binary, checked by tools we did not write.
//!
//! - While a `net_pcap` port replays a pcap forever (traffic flows), a scrape passes
//!   `promtool check metrics` (Debian `prometheus`) and holds every documented family; a finite
//!   pcap port's counters hold exactly what its file had.
//! - A real Prometheus server, started here on loopback with its own temp storage, scrapes the
//!   switch; `ferrovs_port_rx_packets_total` is read back through its HTTP query API.
//! - Inside network namespaces, the test sends N frames from a host into an `af_packet` port
//!   while background traffic flows; two scrapes show the port's counters rose by exactly N.
//!
//! Every process started here is stopped by its PID (guards), also on failure. The switch gives
//! DPDK `--no-pci` itself (pmd::eal::EalArgs); its ports are virtual devices.

mod common;
mod e2e;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Switch, TempDir};
use e2e::Netns;

/// Every family the README documents (a scrape of a switch with traffic, rules and no
/// controller connection holds all of these).
const FAMILIES: &[&str] = &[
    "ferrovs_port_rx_packets_total",
    "ferrovs_port_tx_packets_total",
    "ferrovs_port_rx_bytes_total",
    "ferrovs_port_tx_bytes_total",
    "ferrovs_port_rx_dropped_total",
    "ferrovs_port_tx_dropped_total",
    "ferrovs_port_rx_errors_total",
    "ferrovs_port_tx_errors_total",
    "ferrovs_port_xstats_total",
    "ferrovs_pmd_emc_hits_total",
    "ferrovs_pmd_megaflow_hits_total",
    "ferrovs_pmd_simple_match_hits_total",
    "ferrovs_pmd_misses_total",
    "ferrovs_pmd_lost_upcalls_total",
    "ferrovs_pmd_action_upcalls_total",
    "ferrovs_pmd_subtables_probed_total",
    "ferrovs_pmd_recirculations_total",
    "ferrovs_pmd_dropped_packets_total",
    "ferrovs_pmd_busy_seconds_total",
    "ferrovs_pmd_idle_seconds_total",
    "ferrovs_pmd_iterations_total",
    "ferrovs_pmd_rx_burst_packets",
    "ferrovs_table_active_flows",
    "ferrovs_table_lookups_total",
    "ferrovs_table_matches_total",
    "ferrovs_datapath_megaflows",
    "ferrovs_datapath_masks",
    "ferrovs_upcall_latency_seconds",
    "ferrovs_openflow_controller_connected",
    "ferrovs_openflow_controller_connect_attempts_total",
    "ferrovs_process_resident_memory_bytes",
    "ferrovs_process_virtual_memory_bytes",
    "ferrovs_process_start_time_seconds",
    "ferrovs_mempool_in_use_mbufs",
    "ferrovs_mempool_free_mbufs",
    "ferrovs_build_info",
];

/// One HTTP/1.1 request; returns the status code and the body.
fn try_http(addr: SocketAddr, method: &str, target: &str) -> std::io::Result<(u16, String)> {
    let mut c = TcpStream::connect(addr)?;
    c.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        c,
        "{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    c.read_to_end(&mut raw)?;
    let text = String::from_utf8(raw).expect("utf-8 response");
    let (head, body) = text.split_once("\r\n\r\n").expect("a head and a body");
    let code = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("a status code");
    Ok((code, body.to_string()))
}

fn http(addr: SocketAddr, method: &str, target: &str) -> (u16, String) {
    try_http(addr, method, target).unwrap_or_else(|e| panic!("{method} {target} at {addr}: {e}"))
}

fn scrape(addr: SocketAddr) -> String {
    let (code, body) = http(addr, "GET", "/metrics");
    assert_eq!(code, 200, "{body}");
    body
}

/// Samples of a scrape, keyed by `name{labels}` exactly as written.
fn samples(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (k, v) = l.rsplit_once(' ')?;
            Some((k.to_string(), v.parse().ok()?))
        })
        .collect()
}

fn value(s: &HashMap<String, f64>, key: &str) -> f64 {
    *s.get(key)
        .unwrap_or_else(|| panic!("no sample {key}; have {:#?}", s.keys()))
}

/// `promtool check metrics` on a scrape: it must exit 0 and say nothing.
fn promtool_check(text: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus) is required");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool: {:?}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The metrics address the switch printed.
fn metrics_addr(sw: &mut Switch) -> SocketAddr {
    let line = sw.wait_stderr(Duration::from_secs(60), |l| {
        common::logged(l).starts_with("metrics on http://")
    });
    common::logged(&line)
        .trim_start_matches("metrics on http://")
        .trim_end_matches("/metrics")
        .parse()
        .unwrap_or_else(|_| panic!("address in {line:?}"))
}

/// Polls `f` until it gives `Some`, for up to `secs` seconds.
fn eventually<T>(what: &str, secs: u64, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn frames(n: u32, first: u32, payload: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| common::udp_frame(first + i, payload))
        .collect()
}

/// A process started here, killed by its PID on drop.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The value of an instant query through Prometheus's HTTP API, once it has one result.
fn prometheus_query(api: SocketAddr, query_escaped: &str) -> Option<String> {
    let (code, body) =
        try_http(api, "GET", &format!("/api/v1/query?query={query_escaped}")).ok()?;
    if code != 200 {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(&body).ok()?;
    let result = v["data"]["result"].as_array()?;
    result.first()?["value"][1].as_str().map(str::to_string)
}

#[test]
fn scrape_during_traffic_passes_promtool_and_prometheus_reads_it_back() {
    let dir = TempDir::new("metrics-prom");
    let bg = dir.path("bg.pcap");
    let burst = dir.path("burst.pcap");
    common::write_pcap(&bg, &frames(64, 0, 18));
    let burst_frames = frames(77, 1000, 40);
    common::write_pcap(&burst, &burst_frames);
    let burst_bytes: usize = burst_frames.iter().map(Vec::len).sum();
    let ctl = dir.path("ctl");
    let p0 = format!("p0=net_pcap0,rx_pcap={},infinite_rx=1", bg.display());
    let p2 = format!("p2=net_pcap1,rx_pcap={}", burst.display());
    // The test is the controller.
    let ctrl = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let target = format!("tcp:{}", ctrl.local_addr().unwrap());
    let mut sw = Switch::start(&[
        "run",
        "--controller",
        &target,
        "--quiet",
        "--ctl",
        ctl.to_str().unwrap(),
        "--metrics",
        "127.0.0.1:0",
        "--port",
        &p0,
        "--port",
        "p1=net_null0,no-rx=1",
        "--port",
        &p2,
        "--port",
        "p3=net_null1,no-rx=1",
        "--patch",
        "p0:p1",
        "--patch",
        "p2:p3",
    ]);
    let addr = metrics_addr(&mut sw);
    // A rule in table 0, added through the management socket.
    let mgmt = dir.path("br0.mgmt");
    e2e::ofctl(&mgmt, "add-flow", &["priority=5,in_port=9,actions=drop"]);

    let mut of = accept_controller_connection(&ctrl);
    let s = eventually("the controller connection to count", 30, || {
        let s = samples(&scrape(addr));
        (s.get(&format!(
            "ferrovs_openflow_controller_connected{{controller=\"{target}\"}}"
        )) == Some(&1.0))
        .then_some(s)
    });
    let msgs = |dir: &str, ty: &str| {
        format!(
            "ferrovs_openflow_messages_{dir}_total{{controller=\"{target}\",kind=\"controller\",type=\"{ty}\"}}"
        )
    };
    assert_eq!(value(&s, &msgs("received", "hello")), 1.0);
    assert_eq!(value(&s, &msgs("received", "echo_request")), 1.0);
    assert_eq!(value(&s, &msgs("sent", "hello")), 1.0);
    assert_eq!(value(&s, &msgs("sent", "echo_reply")), 1.0);
    let conn = format!("{{controller=\"{target}\",kind=\"controller\"}}");
    assert_eq!(
        value(&s, &format!("ferrovs_openflow_errors_sent_total{conn}")),
        0.0
    );
    assert_eq!(
        value(&s, &format!("ferrovs_openflow_packet_ins_sent_total{conn}")),
        0.0
    );
    assert_eq!(
        value(
            &s,
            &format!("ferrovs_openflow_packet_ins_rate_limited_total{conn}")
        ),
        0.0
    );
    // A request the switch refuses (an unknown message type) is an error sent.
    of.write_all(&[0x04, 0xfe, 0x00, 0x08, 0, 0, 0, 9]).unwrap();
    read_until_type(&mut of, 1, 9);
    eventually("the error to be counted", 30, || {
        let s = samples(&scrape(addr));
        (s.get(&format!("ferrovs_openflow_errors_sent_total{conn}")) == Some(&1.0)).then_some(())
    });

    let s = eventually("the burst pcap to be received", 30, || {
        let s = samples(&scrape(addr));
        (s.get("ferrovs_port_tx_packets_total{port=\"p3\"}") == Some(&77.0)).then_some(s)
    });
    // Traffic flows: p0 rises between two scrapes; promtool checks the later one.
    let p0_rx = "ferrovs_port_rx_packets_total{port=\"p0\"}";
    let text = eventually("p0's counter to rise", 30, || {
        let text = scrape(addr);
        (value(&samples(&text), p0_rx) > value(&s, p0_rx)).then_some(text)
    });
    promtool_check(&text);
    let s2 = samples(&text);
    for f in FAMILIES {
        assert!(
            text.contains(&format!("\n# TYPE {f} ")),
            "family {f} missing from\n{text}"
        );
    }
    // The finite port counts exactly what its file held, in and out.
    assert_eq!(
        value(&s2, "ferrovs_port_rx_packets_total{port=\"p2\"}"),
        77.0
    );
    assert_eq!(
        value(&s2, "ferrovs_port_rx_bytes_total{port=\"p2\"}"),
        burst_bytes as f64
    );
    assert_eq!(
        value(&s2, "ferrovs_port_tx_packets_total{port=\"p3\"}"),
        77.0
    );
    assert_eq!(value(&s2, "ferrovs_table_active_flows{table=\"0\"}"), 1.0);
    // Two patch flows, each matching in_port only, each in its in_port's classifier.
    assert_eq!(value(&s2, "ferrovs_datapath_megaflows"), 2.0);
    assert_eq!(value(&s2, "ferrovs_datapath_masks"), 2.0);
    assert_eq!(
        value(&s2, "ferrovs_mempool_in_use_mbufs{pool=\"ferrovs_pkts\"}")
            + value(&s2, "ferrovs_mempool_free_mbufs{pool=\"ferrovs_pkts\"}"),
        16383.0
    );
    // The burst histogram's packets are the packets the PMD received.
    let burst_sum = value(&s2, "ferrovs_pmd_rx_burst_packets_sum{pmd=\"1\"}");
    let burst_count = value(&s2, "ferrovs_pmd_rx_burst_packets_count{pmd=\"1\"}");
    assert!(
        burst_count > 0.0 && burst_sum >= burst_count && burst_sum <= 32.0 * burst_count,
        "burst histogram: sum {burst_sum}, count {burst_count}"
    );

    // Other paths and methods.
    assert_eq!(http(addr, "GET", "/").0, 404);
    assert_eq!(http(addr, "POST", "/metrics").0, 405);
    let (code, body) = http(addr, "HEAD", "/metrics");
    assert_eq!((code, body.as_str()), (200, ""));

    // A real Prometheus server scrapes the switch.
    let prom_port = e2e::free_port();
    let prom_api: SocketAddr = format!("127.0.0.1:{prom_port}").parse().unwrap();
    let cfg = dir.path("prometheus.yml");
    std::fs::write(
        &cfg,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: ferrovs\n    static_configs:\n      - targets: ['{addr}']\n"
        ),
    )
    .unwrap();
    let _prom = start_prometheus(&cfg, &dir.path("tsdb"), prom_api);
    let got = eventually("Prometheus to scrape ferrovs", 90, || {
        prometheus_query(
            prom_api,
            "ferrovs_port_rx_packets_total%7Bport%3D%22p2%22%7D",
        )
    });
    assert_eq!(got, "77");
    let up = eventually("Prometheus's up metric", 30, || {
        prometheus_query(prom_api, "up%7Bjob%3D%22ferrovs%22%7D")
    });
    assert_eq!(up, "1");
    drop(_prom);

    e2e::appctl(&ctl, &["exit"]);
    let status = sw.wait(Duration::from_secs(30));
    assert!(status.success(), "{:#?}", sw.stderr_lines);
}

/// Accepts the switch's controller connection, exchanges HELLOs (OpenFlow 1.3) and one echo.
fn accept_controller_connection(listener: &std::net::TcpListener) -> TcpStream {
    listener.set_nonblocking(true).unwrap();
    let mut conn = eventually("the switch to connect", 60, || {
        listener.accept().ok().map(|(c, _)| c)
    });
    conn.set_nonblocking(false).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    conn.write_all(&[0x04, 0x00, 0x00, 0x08, 0, 0, 0, 1])
        .unwrap();
    read_until_type(&mut conn, 0, u32::MAX);
    conn.write_all(&[0x04, 0x02, 0x00, 0x08, 0, 0, 0, 7])
        .unwrap();
    read_until_type(&mut conn, 3, 7);
    conn
}

/// Reads OpenFlow messages until one of type `ty` (with xid `xid`, unless `u32::MAX`).
fn read_until_type(conn: &mut TcpStream, ty: u8, xid: u32) {
    loop {
        let mut head = [0u8; 8];
        conn.read_exact(&mut head).expect("an OpenFlow header");
        let len = usize::from(u16::from_be_bytes([head[2], head[3]]));
        let mut body = vec![0u8; len.saturating_sub(8)];
        conn.read_exact(&mut body).expect("an OpenFlow body");
        let got_xid = u32::from_be_bytes([head[4], head[5], head[6], head[7]]);
        if head[1] == ty && (xid == u32::MAX || got_xid == xid) {
            return;
        }
    }
}

fn start_prometheus(cfg: &Path, storage: &Path, listen: SocketAddr) -> Guard {
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!("--storage.tsdb.path={}", storage.display()))
        .arg(format!("--web.listen-address={listen}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus (Debian package prometheus) is required");
    Guard(child)
}

#[test]
fn explicit_metrics_address_in_use_is_one_sentence() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let mut sw = Switch::start(&[
        "run",
        "--quiet",
        "--port",
        "p0=net_null0",
        "--metrics",
        &addr,
    ]);
    let status = sw.wait(Duration::from_secs(60));
    assert_eq!(status.code(), Some(1));
    let last = sw.stderr_lines.last().cloned().unwrap_or_default();
    assert!(
        last.starts_with(&format!(
            "ferrovs: error: cannot listen for metrics on {addr}: "
        )),
        "{:#?}",
        sw.stderr_lines
    );
}

/// Runs `f` on a thread that entered namespace `ns`, where the switch's loopback is.
fn in_netns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let path = format!("/var/run/netns/{ns}");
    std::thread::spawn(move || {
        use std::os::fd::AsRawFd;
        let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        // SAFETY: setns(2) with an open namespace file; it changes only this thread's
        // network namespace, and the thread ends when `f` returns.
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns {path}: {}", std::io::Error::last_os_error());
        f()
    })
    .join()
    .expect("netns thread")
}

/// Sends `frame` `n` times from `host`'s `ifname` with a raw socket, paced so that the
/// switch's af_packet ring never overflows.
fn send_frames(host: &Netns, ifname: &str, frame: &[u8], n: usize) {
    let hex: String = frame.iter().map(|b| format!("{b:02x}")).collect();
    let script = "import socket, sys, time\n\
                  s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)\n\
                  s.bind((sys.argv[1], 0))\n\
                  f = bytes.fromhex(sys.argv[2])\n\
                  n = int(sys.argv[3])\n\
                  for i in range(n):\n\
                  \x20   s.send(f)\n\
                  \x20   if i % 50 == 49:\n\
                  \x20       time.sleep(0.002)\n";
    host.exec(&["python3", "-c", script, ifname, &hex, &n.to_string()]);
}

#[test]
fn counters_rise_by_exactly_the_packets_sent_during_traffic() {
    let sw_ns = Netns::new("mx-s");
    let h0 = Netns::new("mx-h0");
    let h1 = Netns::new("mx-h1");
    e2e::attach_host(&sw_ns, &h0, "sw0", "eth0", "02:78:00:00:00:0a", "10.78.0.1");
    e2e::attach_host(&sw_ns, &h1, "sw1", "eth1", "02:78:00:00:00:0b", "10.78.0.2");
    let dir = TempDir::new("metrics-exact");
    let bg = dir.path("bg.pcap");
    common::write_pcap(&bg, &frames(64, 0, 18));
    let ctl = dir.path("ctl");
    let p2 = format!("p2=net_pcap0,rx_pcap={},infinite_rx=1", bg.display());
    let bin = common::binary();
    let mut sw = Switch::start_with(
        "ip",
        &[],
        &[
            "netns",
            "exec",
            &sw_ns.name,
            bin.to_str().unwrap(),
            "run",
            "--quiet",
            "--ctl",
            ctl.to_str().unwrap(),
            "--metrics",
            "127.0.0.1:0",
            "--port",
            "p0=net_af_packet0,iface=sw0",
            "--port",
            "p1=net_af_packet1,iface=sw1",
            "--port",
            &p2,
            "--port",
            "p3=net_null0,no-rx=1",
            "--patch",
            "p0:p1",
            "--patch",
            "p2:p3",
        ],
    );
    let addr = metrics_addr(&mut sw);
    let ns = sw_ns.name.clone();
    let scrape_ns = move || {
        let ns = ns.clone();
        samples(&in_netns(&ns, move || scrape(addr)))
    };
    let keys = [
        "ferrovs_port_rx_packets_total{port=\"p0\"}",
        "ferrovs_port_tx_packets_total{port=\"p1\"}",
        "ferrovs_port_rx_bytes_total{port=\"p0\"}",
    ];
    // Background traffic flows on p2 -> p3 the whole time.
    let bg_key = "ferrovs_port_rx_packets_total{port=\"p2\"}";
    let before = eventually("background traffic", 30, || {
        let s = scrape_ns();
        (value(&s, bg_key) > 0.0).then_some(s)
    });
    let frame = common::udp_frame(7, 100);
    let n = 1000;
    send_frames(&h0, "eth0", &frame, n);
    let after = eventually("the sent frames to be counted", 30, || {
        let s = scrape_ns();
        (value(&s, keys[1]) >= value(&before, keys[1]) + n as f64).then_some(s)
    });
    // Nothing more arrives later: the rise is exactly what was sent.
    std::thread::sleep(Duration::from_millis(500));
    let last = scrape_ns();
    assert!(value(&last, bg_key) > value(&before, bg_key));
    for s in [&after, &last] {
        assert_eq!(
            value(s, keys[0]) - value(&before, keys[0]),
            n as f64,
            "{}",
            keys[0]
        );
        assert_eq!(
            value(s, keys[1]) - value(&before, keys[1]),
            n as f64,
            "{}",
            keys[1]
        );
        assert_eq!(
            value(s, keys[2]) - value(&before, keys[2]),
            (n * frame.len()) as f64,
            "{}",
            keys[2]
        );
    }
    e2e::appctl(&ctl, &["exit"]);
    let status = sw.wait(Duration::from_secs(30));
    assert!(status.success(), "{:#?}", sw.stderr_lines);
}
