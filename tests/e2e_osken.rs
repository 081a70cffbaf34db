//! ferrovs against a real os-ken controller (tests/e2e/controller_check.py): the switch
//! connects to it over TCP; the app takes the master role with a generation id, sets and reads
//! back the async configuration, installs flows, a group and a meter, waits for an idle-timeout
//! flow-removed and asks for every OpenFlow 1.3 statistics type. It writes a JSON report with
//! one verdict per step, which this test requires to be complete and all good. The switch
//! gives DPDK `--no-pci` itself (pmd::eal::EalArgs); its ports are virtual devices.

mod common;
mod e2e;

use std::time::{Duration, Instant};

use common::{Switch, TempDir};

/// Every step the app must report, in its order.
const CHECKS: [&str; 20] = [
    "role_master",
    "role_stale_refused",
    "async_config",
    "barrier",
    "flow_stats",
    "aggregate_stats",
    "flow_removed",
    "packet_out_to_controller",
    "packet_out_through_table",
    "desc",
    "table_stats",
    "port_stats",
    "port_desc",
    "queue_stats",
    "group_stats",
    "group_desc",
    "meter_stats",
    "meter_config",
    "meter_features",
    "table_features",
];

#[test]
fn osken_controller_sets_role_async_config_gets_flow_removed_and_every_stats_reply() {
    let python = e2e::osken_python();
    let dir = TempDir::new("e2e-osken");
    let report = dir.path("report.json");
    let ctl_sock = dir.path("ferrovs.ctl");
    let port = e2e::free_port().to_string();
    let launcher = e2e::py_dir().join("osken_run.py");
    let app = e2e::py_dir().join("controller_check.py");
    let mut osken = Switch::start_with(
        python.to_str().expect("utf-8 path"),
        &[],
        &[
            launcher.to_str().expect("utf-8 path"),
            &port,
            app.to_str().expect("utf-8 path"),
            report.to_str().expect("utf-8 path"),
        ],
    );
    osken.wait_stdout(Duration::from_secs(30), |l| l == "osken: listening");

    let controller = format!("tcp:127.0.0.1:{port}");
    let mut sw = Switch::start(&[
        "run",
        "--quiet",
        "--port",
        "p0=net_null0,no-rx=1",
        "--port",
        "p1=net_null1,no-rx=1",
        "--ctl",
        ctl_sock.to_str().expect("utf-8 path"),
        "--controller",
        &controller,
    ]);

    let deadline = Instant::now() + Duration::from_secs(45);
    while !report.exists() {
        assert!(
            Instant::now() < deadline,
            "no report from the os-ken app; its output: {:#?}",
            {
                osken.wait_stdout(Duration::ZERO, |_| true);
                (&osken.stdout_lines, &osken.stderr_lines, &sw.stderr_lines)
            }
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let text = std::fs::read_to_string(&report).expect("read report");
    let v: serde_json::Value = serde_json::from_str(&text).expect("report is JSON");
    assert_eq!(v["done"], true, "{text}");
    assert!(v.get("exception").is_none(), "the app raised: {text}");
    let checks = v["checks"].as_object().expect("checks object");
    let mut bad = Vec::new();
    for name in CHECKS {
        match checks.get(name) {
            Some(c) if c["ok"] == true => {}
            Some(c) => bad.push(format!("{name}: {}", c["detail"])),
            None => bad.push(format!("{name}: missing")),
        }
    }
    assert!(bad.is_empty(), "failed checks:\n{}", bad.join("\n"));
    // Exactly one error came back: the refusal of the stale generation id.
    assert_eq!(
        v["errors"].as_array().map(Vec::len),
        Some(1),
        "unexpected errors: {}",
        v["errors"]
    );
    let status = sw.signal_and_wait(libc::SIGTERM);
    assert!(status.success(), "{:#?}", sw.stderr_lines);
}
