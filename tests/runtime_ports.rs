//! Ports added and deleted at run time through the control socket, driven
//! by the real `ovs-appctl` and `ovs-ofctl` (Debian `openvswitch-common`)
//! against the real `ferrovs` binary. DPDK runs with `--no-pci` (the binary
//! gives it) and only virtual devices are named here.
//!
//! The traffic test keeps port 1→2 traffic flowing through an OpenFlow rule
//! the whole time: port 1 is a `net_pcap` port reading a FIFO that a thread
//! of the test feeds with bursts of 32 frames, so the number of frames sent
//! is known exactly and the feed can be paused between bursts (the PMD then
//! waits for the next frame holding no mbuf, so the pool's in-use count is
//! steady and can be compared exactly). Port 2 writes a pcap file that is
//! compared frame by frame after a clean stop.
//!
//! The error test checks every refusal's exact sentence, and that ports
//! given at start-up can be deleted (with the datapath flows that mention
//! them) and their devices added again.

mod common;

use std::ffi::CString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::{logged, read_pcap, udp_frame, write_pcap, Switch, TempDir};

/// A loopback TCP port nobody listens on right now.
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local addr").port()
}

/// A switch with a control socket and an OpenFlow TCP listener.
struct RunningSwitch {
    sw: Switch,
    ctl: PathBuf,
    target: String,
}

impl RunningSwitch {
    /// `ferrovs run --port P…` in secure fail mode (no hidden NORMAL rule).
    fn start(dir: &TempDir, ports: &[String]) -> RunningSwitch {
        let port = free_port();
        let ctl = dir.path("ctl");
        let listen = format!("ptcp:{port}");
        let mut args: Vec<&str> = vec!["run"];
        for p in ports {
            args.extend(["--port", p]);
        }
        args.extend([
            "--ctl",
            ctl.to_str().expect("utf-8 path"),
            "--listen",
            &listen,
            "--fail-mode",
            "secure",
            "--quiet",
        ]);
        let mut sw = Switch::start(&args);
        sw.wait_stderr(Duration::from_secs(30), |l| {
            logged(l).starts_with("OpenFlow listener ptcp:")
        });
        RunningSwitch {
            sw,
            ctl,
            target: format!("tcp:127.0.0.1:{port}"),
        }
    }

    /// `ovs-appctl -t CTL ARGS…`: Ok(stdout) on exit 0, Err(stderr) else.
    fn appctl(&self, args: &[&str]) -> Result<String, String> {
        let out = Command::new("timeout")
            .args(["20", "ovs-appctl", "-t"])
            .arg(&self.ctl)
            .args(args)
            .output()
            .expect("ovs-appctl runs (package openvswitch-common)");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        if out.status.success() {
            Ok(stdout)
        } else {
            assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
            Err(stderr)
        }
    }

    /// `ovs-ofctl -O OpenFlow13 CMD TARGET ARGS…`, which must succeed.
    fn ofctl(&self, cmd: &str, args: &[&str]) -> String {
        let out = Command::new("timeout")
            .args(["20", "ovs-ofctl", "-O", "OpenFlow13", cmd, &self.target])
            .args(args)
            .output()
            .expect("ovs-ofctl runs (package openvswitch-common)");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "ovs-ofctl {cmd} {args:?}: {stderr}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The `N(NAME)` heads of `dump-ports-desc`, in order.
    fn port_heads(&self) -> Vec<String> {
        self.ofctl("dump-ports-desc", &[])
            .lines()
            .filter(|l| l.starts_with(' ') && !l.starts_with("  "))
            .filter_map(|l| l.trim().split(':').next().map(str::to_owned))
            .collect()
    }

    /// The pool's in-use count (`netdev-dpdk/get-mempool-info`) and the
    /// megaflows installed (`memory/show`).
    fn memory(&self) -> (u64, u64) {
        let field = |cmd: &str, name: &str| -> u64 {
            let text = self.appctl(&[cmd]).expect(cmd);
            text.split_whitespace()
                .find_map(|w| w.strip_prefix(name))
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("no {name} in {text:?}"))
        };
        (
            field("netdev-dpdk/get-mempool-info", "in_use_count="),
            field("memory/show", "megaflows:"),
        )
    }

    /// Packets a port sent, as `ovs-ofctl dump-ports` reports them.
    fn tx_packets(&self, port: u32) -> u64 {
        let text = self.ofctl("dump-ports", &[&port.to_string()]);
        let tx = text
            .split("tx pkts=")
            .nth(1)
            .and_then(|t| t.split(',').next())
            .and_then(|n| n.parse().ok());
        tx.unwrap_or_else(|| panic!("no tx pkts in {text:?}"))
    }
}

/// Waits until `f` returns `Some`, for at most `secs`.
fn wait_for<T>(secs: u64, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Frames per write to the FIFO: one rx burst of the PMD.
const CHUNK: u64 = 32;

const RUN: u8 = 0;
const PAUSE: u8 = 1;
const FINISH: u8 = 2;

/// The thread feeding port 1's FIFO.
struct Feeder {
    state: Arc<AtomicU8>,
    paused: Arc<AtomicBool>,
    written: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

/// One pcap record (little-endian, microsecond timestamps).
fn pcap_record(out: &mut Vec<u8>, i: u64, frame: &[u8]) {
    out.extend_from_slice(&((i / 1_000_000) as u32).to_le_bytes());
    out.extend_from_slice(&((i % 1_000_000) as u32).to_le_bytes());
    out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
    out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
    out.extend_from_slice(frame);
}

/// Port 1's frame number `i`.
fn frame(i: u64) -> Vec<u8> {
    udp_frame(i as u32, 18)
}

impl Feeder {
    /// Makes the FIFO at `path` and writes the pcap header once the switch
    /// opens it; then, from the first [`Feeder::resume`], bursts of
    /// [`CHUNK`] frames every 2 ms.
    fn start(path: &Path) -> Feeder {
        let c = CString::new(path.to_str().expect("utf-8 path")).expect("no NUL");
        // SAFETY: c is a valid C string.
        let rc = unsafe { libc::mkfifo(c.as_ptr(), 0o600) };
        assert_eq!(rc, 0, "mkfifo {}", path.display());
        let state = Arc::new(AtomicU8::new(PAUSE));
        let paused = Arc::new(AtomicBool::new(false));
        let written = Arc::new(AtomicU64::new(0));
        let (s, p, w) = (state.clone(), paused.clone(), written.clone());
        let path = path.to_owned();
        let thread = std::thread::spawn(move || {
            // Blocks until the switch's pcap driver opens the FIFO.
            let Ok(mut fifo) = std::fs::OpenOptions::new().write(true).open(&path) else {
                return;
            };
            let mut header = Vec::new();
            header.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
            header.extend_from_slice(&2u16.to_le_bytes());
            header.extend_from_slice(&4u16.to_le_bytes());
            header.extend_from_slice(&[0; 8]);
            header.extend_from_slice(&65535u32.to_le_bytes());
            header.extend_from_slice(&1u32.to_le_bytes());
            if fifo.write_all(&header).is_err() {
                return;
            }
            let mut next = 0u64;
            loop {
                match s.load(Ordering::SeqCst) {
                    FINISH => break,
                    PAUSE => {
                        p.store(true, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(1));
                        continue;
                    }
                    _ => p.store(false, Ordering::SeqCst),
                }
                let mut chunk = Vec::new();
                for i in next..next + CHUNK {
                    pcap_record(&mut chunk, i, &frame(i));
                }
                if fifo.write_all(&chunk).is_err() {
                    return;
                }
                next += CHUNK;
                w.store(next, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(2));
            }
        });
        Feeder {
            state,
            paused,
            written,
            thread: Some(thread),
        }
    }

    fn written(&self) -> u64 {
        self.written.load(Ordering::SeqCst)
    }

    /// Stops writing between two bursts.
    fn pause(&self) {
        self.state.store(PAUSE, Ordering::SeqCst);
        wait_for(10, "the feeder to pause", || {
            self.paused.load(Ordering::SeqCst).then_some(())
        });
    }

    fn resume(&self) {
        self.state.store(RUN, Ordering::SeqCst);
    }

    /// Stops writing and closes the FIFO (port 1 then reads end of file).
    /// Returns how many frames were written.
    fn finish(&mut self) -> u64 {
        self.state.store(FINISH, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join().expect("feeder thread");
        }
        self.written()
    }
}

impl Drop for Feeder {
    fn drop(&mut self) {
        self.state.store(FINISH, Ordering::SeqCst);
    }
}

/// `ovs-ofctl monitor TARGET 65534`, printing to a file, stopped on drop.
struct Monitor {
    child: Child,
    out: PathBuf,
}

impl Monitor {
    fn start(dir: &TempDir, target: &str) -> Monitor {
        let out = dir.path("monitor.txt");
        let file = std::fs::File::create(&out).expect("monitor output file");
        let unixctl = format!("--unixctl={}", dir.path("monitor.ctl").display());
        let child = Command::new("ovs-ofctl")
            .args(["-O", "OpenFlow13", &unixctl, "monitor", target, "65534"])
            .stdout(file.try_clone().expect("dup"))
            .stderr(file)
            .stdin(Stdio::null())
            .spawn()
            .expect("ovs-ofctl monitor starts");
        // Let it connect and send its SET_CONFIG before anything happens.
        std::thread::sleep(Duration::from_millis(700));
        Monitor { child, out }
    }

    fn text(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The pool's in-use count with port 1's feed paused (so no frame is in
/// flight) and the switch settled (`megaflows` installed, nothing queued).
fn quiet_in_use(s: &RunningSwitch, feeder: &Feeder, megaflows: u64) -> u64 {
    // A port change makes the switch revalidate its megaflows: frames that
    // missed meanwhile go up and come back; let that finish first.
    for _ in 0..2 {
        wait_for(20, "the megaflows to settle", || {
            (s.memory().1 == megaflows).then_some(())
        });
        std::thread::sleep(Duration::from_millis(500));
    }
    feeder.pause();
    // The last burst is forwarded within microseconds; give it ample time.
    std::thread::sleep(Duration::from_millis(200));
    let in_use = s.memory().0;
    feeder.resume();
    in_use
}

#[test]
fn add_and_delete_a_port_while_port_1_to_2_traffic_flows() {
    let dir = TempDir::new("runtime-ports");
    let fifo = dir.path("p1.fifo");
    let mut feeder = Feeder::start(&fifo);
    let out2 = dir.path("p2.pcap");
    let (in3, out3) = (dir.path("in3.pcap"), dir.path("out3.pcap"));
    let frames3: Vec<Vec<u8>> = (0..10).map(|i| udp_frame(1_000_000 + i, 100)).collect();
    write_pcap(&in3, &frames3);

    let s = RunningSwitch::start(
        &dir,
        &[
            format!("p1=net_pcap1,rx_pcap={}", fifo.display()),
            format!("p2=net_pcap2,tx_pcap={}", out2.display()),
        ],
    );
    // Port 3 does not exist yet; its rule waits for it.
    s.ofctl("add-flow", &["in_port=1,actions=output:2"]);
    s.ofctl("add-flow", &["in_port=3,actions=in_port"]);
    feeder.resume();
    let monitor = Monitor::start(&dir, &s.target);
    wait_for(20, "port 2 to forward", || {
        (s.tx_packets(2) > 0).then_some(())
    });
    let before = quiet_in_use(&s, &feeder, 1);
    assert_eq!(s.port_heads(), ["1(p1)", "2(p2)", "LOCAL(br0)"]);

    let devargs = format!(
        "net_pcap3,rx_pcap={},tx_pcap={}",
        in3.display(),
        out3.display()
    );
    assert_eq!(
        s.appctl(&["add-port", "p3", &devargs]),
        Ok("added port p3 as port 3\n".to_owned())
    );
    assert_eq!(s.port_heads(), ["1(p1)", "2(p2)", "3(p3)", "LOCAL(br0)"]);
    // Port 3's frames come in, match `in_port=3` and go back out of port 3.
    wait_for(20, "port 3 to send its frames back", || {
        (s.tx_packets(3) == 10).then_some(())
    });
    assert_eq!(
        s.appctl(&["del-port", "p3"]),
        Ok("deleted port p3 (port 3)\n".to_owned())
    );
    assert_eq!(s.port_heads(), ["1(p1)", "2(p2)", "LOCAL(br0)"]);
    // The rule that output to port 3 stays (it outputs nothing now).
    let flows = s.ofctl("dump-flows", &[]);
    assert!(flows.contains("in_port=3 actions=IN_PORT"), "{flows}");
    // Closing the port wrote its file: exactly the frames it received.
    assert_eq!(read_pcap(&out3), frames3);
    let after = quiet_in_use(&s, &feeder, 1);
    assert_eq!(
        after, before,
        "mbufs in use before add-port and after del-port"
    );

    let sent = feeder.finish();
    assert!(sent > 1000, "only {sent} frames were fed");
    let deadline = Instant::now() + Duration::from_secs(30);
    while s.tx_packets(2) != sent {
        assert!(
            Instant::now() < deadline,
            "port 2 sent {} of {sent} frames; {:?} {:?}",
            s.tx_packets(2),
            s.appctl(&["dpctl/show", "-s"]),
            s.appctl(&["upcall/show"])
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let stats = s.appctl(&["dpctl/show", "-s"]).expect("dpctl/show");
    assert!(
        stats.contains(&format!(
            "  port 1: p1\n    RX packets:{sent} bytes:{}\n",
            sent * 60
        )),
        "{stats}"
    );
    assert!(
        stats.contains(&format!(
            "  port 2: p2\n    RX packets:0 bytes:0\n    TX packets:{sent} bytes:{} dropped:0\n",
            sent * 60
        )),
        "{stats}"
    );
    assert!(stats.contains("lost:0\n"), "{stats}");

    let text = monitor.text();
    let add = text.find("OFPT_PORT_STATUS").map(|i| &text[i..]);
    assert!(
        add.is_some_and(|t| t.contains("ADD: 3(p3): addr:")),
        "monitor: {text}"
    );
    let del = text.find("DEL: 3(p3): addr:");
    assert!(
        del.is_some_and(|d| d > text.find("ADD: 3(p3)").unwrap_or(usize::MAX)),
        "monitor: {text}"
    );
    drop(monitor);

    let RunningSwitch { mut sw, .. } = s;
    let status = sw.signal_and_wait(libc::SIGTERM);
    assert!(status.success(), "exit {status:?}: {:#?}", sw.stderr_lines);
    assert!(
        sw.stderr_lines
            .iter()
            .any(|l| logged(l) == "stopped; 16383 of 16383 mbufs are back in the pool"),
        "{:#?}",
        sw.stderr_lines
    );
    // Port 2 sent every frame port 1 received, each exactly once. Frames
    // that went up for translation may pass later ones, so compare sorted.
    let mut got = read_pcap(&out2);
    let mut want: Vec<Vec<u8>> = (0..sent).map(frame).collect();
    got.sort_unstable();
    want.sort_unstable();
    assert_eq!(got.len(), want.len());
    assert!(got == want, "port 2's frames differ from port 1's");
}

#[test]
fn port_errors_are_one_sentence_and_start_up_ports_can_go() {
    let dir = TempDir::new("runtime-ports-errors");
    let s = RunningSwitch::start(
        &dir,
        &["p1=net_null1,no-rx=1".into(), "p2=net_null2,no-rx=1".into()],
    );
    let missing = dir.path("missing.pcap");
    let bad_pcap = format!("net_pcap5,rx_pcap={}", missing.display());
    let cases: &[(&[&str], &str)] = &[
        (
            &["del-port", "p9"],
            "del-port: no port named p9; the ports are: p1, p2\n",
        ),
        (
            &["add-port", "p1", "net_null7"],
            "add-port: a port named p1 exists already; choose another name\n",
        ),
        (
            &["add-port", "br0", "net_null7"],
            "add-port: a port named br0 exists already; choose another name\n",
        ),
        (
            &["add-port", "p5", "net_null2"],
            "add-port: port p5: device net_null2 is already port p2; give the new port a device name of its own (e.g. net_null9)\n",
        ),
        (
            &["add-port", "p5", "0000:01:00.0"],
            "add-port: port p5: 0000:01:00.0 is a PCI device, and this switch runs DPDK with --no-pci (no PCI port was configured at start); name PCI ports in the configuration and restart\n",
        ),
        (
            &["add-port", "p5", "ring5"],
            "add-port: port p5: \"ring5\" is neither a DPDK virtual device (net_ring3, net_pcap3, net_null3, net_tap3, …) nor a PCI address\n",
        ),
        (
            &["add-port", "p 5", "net_null5"],
            "add-port: bad port name \"p 5\": use letters, digits, '_', '-' and '.'\n",
        ),
        (
            &["del-port", "br0"],
            "del-port: br0 is the bridge's LOCAL port, which cannot be deleted\n",
        ),
    ];
    for (args, want) in cases {
        let got = s.appctl(args);
        let want = format!(
            "{want}ovs-appctl: {}: server returned an error\n",
            s.ctl.display()
        );
        assert_eq!(got, Err(want), "{args:?}");
    }
    // Devargs DPDK cannot probe: DPDK's reason varies, the sentence does not.
    for devargs in ["net_bogus5", bad_pcap.as_str()] {
        let err = s.appctl(&["add-port", "p5", devargs]).expect_err(devargs);
        let head = format!("add-port: port p5: DPDK cannot probe {devargs:?} (");
        assert!(err.starts_with(&head), "{err}");
        assert!(
            err.contains("); check the driver name (net_pcap, net_ring, net_null, net_tap, …) and its arguments; DPDK's own message is in the switch's log\n"),
            "{err}"
        );
    }
    // Nothing of the failed attempts is left: the ports are as they were.
    assert_eq!(s.port_heads(), ["1(p1)", "2(p2)", "LOCAL(br0)"]);

    // Ports given at start-up go like any other, and so do the datapath
    // flows that mention them (from them or to them), and only those.
    for (flow, actions) in [
        ("in_port(1),eth_type(0x0806)", "2"),
        ("in_port(2),eth_type(0x0806)", "1"),
        ("in_port(1),eth_type(0x0800)", "1"),
    ] {
        s.appctl(&["dpctl/add-flow", flow, actions])
            .expect("dpctl/add-flow");
    }
    let flows = || -> Vec<String> {
        let dump = s.appctl(&["dpctl/dump-flows"]).expect("dpctl/dump-flows");
        let mut flows: Vec<String> = dump
            .lines()
            .map(|l| {
                let (m, _) = l.split_once(", packets:").unwrap_or((l, ""));
                let (_, a) = l.split_once(" actions:").unwrap_or((l, ""));
                format!("{m} actions:{a}")
            })
            .collect();
        flows.sort_unstable();
        flows
    };
    assert_eq!(flows().len(), 3);
    assert_eq!(
        s.appctl(&["del-port", "p2"]),
        Ok("deleted port p2 (port 2)\n".to_owned())
    );
    assert_eq!(flows(), ["in_port(1),eth_type(0x0800) actions:1"]);
    assert_eq!(s.port_heads(), ["1(p1)", "LOCAL(br0)"]);
    assert_eq!(
        s.appctl(&["del-port", "p1"]),
        Ok("deleted port p1 (port 1)\n".to_owned())
    );
    assert_eq!(flows(), Vec::<String>::new());
    assert_eq!(s.port_heads(), ["LOCAL(br0)"]);
    // Their devices were removed: the same devargs make ports again, under
    // the next free numbers.
    assert_eq!(
        s.appctl(&["add-port", "p1", "net_null1,no-rx=1"]),
        Ok("added port p1 as port 3\n".to_owned())
    );
    assert_eq!(
        s.appctl(&["add-port", "p2", "net_null2,no-rx=1"]),
        Ok("added port p2 as port 4\n".to_owned())
    );
    assert_eq!(s.port_heads(), ["3(p1)", "4(p2)", "LOCAL(br0)"]);
    let show = s.appctl(&["dpctl/show"]).expect("dpctl/show");
    assert!(show.ends_with("  port 3: p1\n  port 4: p2\n"), "{show}");

    let RunningSwitch { mut sw, .. } = s;
    let status = sw.signal_and_wait(libc::SIGTERM);
    assert!(status.success(), "exit {status:?}: {:#?}", sw.stderr_lines);
    assert!(
        sw.stderr_lines
            .iter()
            .any(|l| logged(l) == "stopped; 16383 of 16383 mbufs are back in the pool"),
        "{:#?}",
        sw.stderr_lines
    );
}
