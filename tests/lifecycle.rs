//! The switch's life cycle, on the real binary: SIGTERM with traffic flowing and a controller
//! connected, SIGHUP re-reading the config file, and `set-controller` on the control socket.
//! The binary gives DPDK `--no-pci` itself, so only the virtual devices named here are probed.
//!
//! The controller is a plain TCP socket driven by hand with literal OpenFlow 1.3 bytes, so
//! what it checks (message framing) does not depend on our own codec.

mod common;

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::{logged, read_pcap, udp_frame, write_pcap, Switch, TempDir};

/// OFPT_HELLO, OpenFlow 1.3.
const HELLO: [u8; 8] = [4, 0, 0, 8, 0, 0, 0, 1];

/// OFPT_FLOW_MOD (1.3): add, table 0, priority 0, match all,
/// apply_actions(output:CONTROLLER, max_len NO_BUFFER): every table miss becomes a packet-in.
fn table_miss_to_controller() -> Vec<u8> {
    let mut m = vec![4, 14, 0, 80, 0, 0, 0, 2];
    m.extend([0; 16]); // cookie, cookie_mask
    m.extend([0, 0]); // table 0, OFPFC_ADD
    m.extend([0, 0, 0, 0, 0, 0]); // idle, hard timeout, priority 0
    m.extend([0xff; 12]); // buffer_id, out_port, out_group: none
    m.extend([0, 0, 0, 0]); // flags, pad
    m.extend([0, 1, 0, 4, 0, 0, 0, 0]); // OXM match, empty, padded to 8
    m.extend([0, 4, 0, 24, 0, 0, 0, 0]); // OFPIT_APPLY_ACTIONS, 24 bytes
    m.extend([
        0, 0, 0, 16, 0xff, 0xff, 0xff, 0xfd, 0xff, 0xff, 0, 0, 0, 0, 0, 0,
    ]);
    assert_eq!(m.len(), 80);
    m
}

/// What a fake controller saw on one connection.
struct Seen {
    bytes: Vec<u8>,
    /// The switch closed the connection (EOF) rather than the read timing out.
    eof: bool,
}

/// A fake controller: accepts one connection, says HELLO (and sends `extra`), answers echo
/// requests, counts packet-ins, and keeps every byte until the switch closes.
struct Controller {
    port: u16,
    packet_ins: Arc<AtomicUsize>,
    /// Messages seen so far, of any type.
    messages: Arc<AtomicUsize>,
    thread: Option<JoinHandle<Option<Seen>>>,
}

impl Controller {
    fn start(extra: Vec<u8>) -> Controller {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let packet_ins = Arc::new(AtomicUsize::new(0));
        let messages = Arc::new(AtomicUsize::new(0));
        let (pi, msgs) = (packet_ins.clone(), messages.clone());
        let thread = std::thread::spawn(move || {
            listener.set_nonblocking(true).ok()?;
            let deadline = Instant::now() + Duration::from_secs(30);
            let mut sock = loop {
                match listener.accept() {
                    Ok((s, _)) => break s,
                    Err(_) if Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(10))
                    }
                    Err(_) => return None,
                }
            };
            sock.set_nonblocking(false).ok()?;
            sock.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
            sock.write_all(&HELLO).ok()?;
            sock.write_all(&extra).ok()?;
            Some(serve(&mut sock, &pi, &msgs))
        });
        Controller {
            port,
            packet_ins,
            messages,
            thread: Some(thread),
        }
    }

    fn target(&self) -> String {
        format!("tcp:127.0.0.1:{}", self.port)
    }

    fn wait_messages(&self, n: usize, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while self.messages.load(Ordering::Relaxed) < n {
            assert!(
                Instant::now() < deadline,
                "controller saw no OpenFlow message"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn finish(mut self) -> Seen {
        self.thread
            .take()
            .expect("joined once")
            .join()
            .expect("controller thread")
            .expect("the switch connected")
    }
}

fn serve(sock: &mut TcpStream, packet_ins: &AtomicUsize, messages: &AtomicUsize) -> Seen {
    let mut bytes = Vec::new();
    let mut framed = 0;
    let mut buf = [0u8; 65536];
    loop {
        let n = match sock.read(&mut buf) {
            Ok(0) => return Seen { bytes, eof: true },
            Ok(n) => n,
            Err(_) => return Seen { bytes, eof: false },
        };
        bytes.extend_from_slice(&buf[..n]);
        // Walk the whole messages that arrived; answer echo requests.
        while bytes.len() >= framed + 8 {
            let len = usize::from(u16::from_be_bytes([bytes[framed + 2], bytes[framed + 3]]));
            if len < 8 || bytes.len() < framed + len {
                break;
            }
            let msg = &bytes[framed..framed + len];
            match msg[1] {
                2 => {
                    let mut reply = msg.to_vec();
                    reply[1] = 3;
                    let _ = sock.write_all(&reply);
                }
                10 => {
                    packet_ins.fetch_add(1, Ordering::Relaxed);
                }
                _ => {}
            }
            messages.fetch_add(1, Ordering::Relaxed);
            framed += len;
        }
    }
}

/// Splits a byte stream into OpenFlow messages; None if it does not end on a message boundary
/// or a length field is impossible.
fn whole_messages(bytes: &[u8]) -> Option<Vec<&[u8]>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let rest = &bytes[at..];
        if rest.len() < 8 {
            return None;
        }
        let len = usize::from(u16::from_be_bytes([rest[2], rest[3]]));
        if len < 8 || rest.len() < len {
            return None;
        }
        out.push(&rest[..len]);
        at += len;
    }
    Some(out)
}

fn appctl(socket: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let output = Command::new("ovs-appctl")
        .arg("--timeout=10")
        .arg("-t")
        .arg(socket)
        .args(args)
        .output()
        .expect("run ovs-appctl (package openvswitch-common)");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn kill(sw: &Switch, sig: i32) {
    let pid = sw.pid();
    // SAFETY: kill(2) on the PID of a child this test started and has not reaped.
    unsafe { libc::kill(pid as i32, sig) };
}

/// The tx count of port `name` in a status line ("p1: rx 0 (0 pps) tx 1234 (…) drop 0").
fn tx_count(line: &str, name: &str) -> Option<u64> {
    let part = line
        .split(" | ")
        .find(|p| p.starts_with(&format!("{name}: ")))?;
    let words: Vec<&str> = part.split_whitespace().collect();
    let i = words.iter().position(|w| *w == "tx")?;
    words.get(i + 1)?.parse().ok()
}

#[test]
fn sigterm_drains_and_exits_zero_within_two_seconds() {
    let dir = TempDir::new("life-term");
    let (inp, miss, out) = (
        dir.path("in.pcap"),
        dir.path("miss.pcap"),
        dir.path("out.pcap"),
    );
    let frames: Vec<Vec<u8>> = (0..64).map(|i| udp_frame(i, 18)).collect();
    write_pcap(&inp, &frames);
    // Different flows on p2, which is not patched: each misses the tables and goes to the
    // controller, so packet-ins are in flight when SIGTERM comes.
    write_pcap(
        &miss,
        &(1000..1016).map(|i| udp_frame(i, 100)).collect::<Vec<_>>(),
    );
    let controller = Controller::start(table_miss_to_controller());
    let target = controller.target();
    let p0 = format!("p0=net_pcap0,rx_pcap={},infinite_rx=1", inp.display());
    let p1 = format!("p1=net_pcap1,tx_pcap={}", out.display());
    let p2 = format!("p2=net_pcap2,rx_pcap={},infinite_rx=1", miss.display());
    let ctl = dir.path("ctl");
    let mut sw = Switch::start(&[
        "run",
        "--port",
        &p0,
        "--port",
        &p1,
        "--port",
        &p2,
        "--patch",
        "p0:p1",
        "--controller",
        &target,
        "--ctl",
        ctl.to_str().unwrap(),
    ]);
    // Forwarding, and packet-ins reaching the controller.
    sw.wait_stdout(Duration::from_secs(30), |l| {
        tx_count(l, "p1").is_some_and(|n| n > 0)
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    while controller.packet_ins.load(Ordering::Relaxed) < 10 {
        assert!(
            Instant::now() < deadline,
            "no packet-ins; stderr {:#?}",
            sw.stderr_lines
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    let sent = Instant::now();
    kill(&sw, libc::SIGTERM);
    let status = sw.wait(Duration::from_secs(10));
    let took = sent.elapsed();
    assert_eq!(status.code(), Some(0), "stderr {:#?}", sw.stderr_lines);
    assert!(took < Duration::from_secs(2), "took {took:?}");
    eprintln!("SIGTERM to exit: {took:?}");

    // The controller got whole messages only, then a clean end of stream.
    let seen = controller.finish();
    assert!(
        seen.eof,
        "the switch did not close the controller connection"
    );
    let msgs = whole_messages(&seen.bytes).expect("a message was cut in half");
    assert_eq!(msgs[0][1], 0, "the first message is the switch's HELLO");
    assert!(msgs.iter().filter(|m| m[1] == 10).count() >= 10);

    // Every packet the switch counted as sent on p1 is in the pcap, whole.
    let last = sw
        .stdout_lines
        .iter()
        .rev()
        .find_map(|l| tx_count(l, "p1"))
        .expect("a final status line");
    let got = read_pcap(&out);
    assert_eq!(
        got.len() as u64,
        last,
        "pcap frames vs. the switch's tx count"
    );
    let known: HashSet<&Vec<u8>> = frames.iter().collect();
    for (i, f) in got.iter().enumerate() {
        assert!(known.contains(f), "frame {i} is not one that was sent");
    }
    assert!(
        sw.stderr_lines
            .iter()
            .any(|l| logged(l) == "stopped; 16383 of 16383 mbufs are back in the pool"),
        "{:#?}",
        sw.stderr_lines
    );
}

#[test]
fn sighup_applies_controller_and_fail_mode_and_names_the_rest() {
    let dir = TempDir::new("life-hup");
    let cfg = dir.path("ferrovs.toml");
    let ctl = dir.path("ctl");
    let base = format!(
        "ctl = \"{}\"\nquiet = true\n\n[[port]]\nname = \"p0\"\ndevargs = \"net_null0,no-rx=1\"\n",
        ctl.display()
    );
    std::fs::write(&cfg, format!("fail_mode = \"secure\"\n{base}")).unwrap();
    let mut sw = Switch::start(&["run", "--config", cfg.to_str().unwrap()]);
    sw.wait_stderr(Duration::from_secs(30), |l| {
        logged(l).starts_with("control socket")
    });
    assert_eq!(
        appctl(&ctl, &["get-fail-mode", "br0"]),
        (Some(0), "secure\n".into(), String::new())
    );

    let controller = Controller::start(Vec::new());
    std::fs::write(
        &cfg,
        format!(
            "fail_mode = \"standalone\"\ncontroller = [\"{}\"]\nmbufs = 20000\n{base}",
            controller.target()
        ),
    )
    .unwrap();
    kill(&sw, libc::SIGHUP);
    // The new controller is connected to: our HELLO arrives.
    controller.wait_messages(1, Duration::from_secs(20));
    sw.wait_stderr(Duration::from_secs(10), |l| {
        logged(l).starts_with("SIGHUP: re-read ") && l.ends_with(": applied controller, fail_mode")
    });
    assert!(
        sw.stderr_lines
            .iter()
            .any(|l| logged(l).starts_with("SIGHUP: mbufs changed in ")
                && l.contains("only after a restart")),
        "{:#?}",
        sw.stderr_lines
    );
    assert_eq!(
        appctl(&ctl, &["get-fail-mode", "br0"]),
        (Some(0), "standalone\n".into(), String::new())
    );
    assert_eq!(
        appctl(&ctl, &["get-controller", "br0"]),
        (Some(0), format!("{}\n", controller.target()), String::new())
    );

    // A broken file changes nothing, and says why with line numbers.
    std::fs::write(
        &cfg,
        format!("fail_mode = \"sometimes\"\ncontroller = []\n{base}"),
    )
    .unwrap();
    kill(&sw, libc::SIGHUP);
    let line = format!("SIGHUP: {}:1: bad fail mode", cfg.display());
    sw.wait_stderr(Duration::from_secs(10), |l| logged(l).starts_with(&line));
    assert_eq!(
        appctl(&ctl, &["get-controller", "br0"]),
        (Some(0), format!("{}\n", controller.target()), String::new())
    );

    kill(&sw, libc::SIGTERM);
    let status = sw.wait(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0), "{:#?}", sw.stderr_lines);
    assert!(controller.finish().eof);
}

#[test]
fn set_controller_on_the_control_socket_swaps_controllers_live() {
    let dir = TempDir::new("life-setctl");
    let ctl = dir.path("ctl");
    let first = Controller::start(Vec::new());
    let mut sw = Switch::start(&[
        "run",
        "--port",
        "p0=net_null0,no-rx=1",
        "--controller",
        &first.target(),
        "--ctl",
        ctl.to_str().unwrap(),
        "--quiet",
    ]);
    first.wait_messages(1, Duration::from_secs(30));

    let second = Controller::start(Vec::new());
    assert_eq!(
        appctl(&ctl, &["set-controller", "br0", &second.target()]),
        (Some(0), String::new(), String::new())
    );
    second.wait_messages(1, Duration::from_secs(20));
    // The first controller's connection is closed cleanly: whole messages, then EOF.
    let seen = first.finish();
    assert!(seen.eof);
    assert!(whole_messages(&seen.bytes).is_some());
    assert_eq!(
        appctl(&ctl, &["get-controller", "br0"]),
        (Some(0), format!("{}\n", second.target()), String::new())
    );
    // Mistakes are refused and change nothing.
    let (code, _, err) = appctl(&ctl, &["set-controller", "br0", "tcp:nowhere"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.starts_with("set-controller: \"tcp:nowhere\""), "{err}");
    let (code, _, err) = appctl(&ctl, &["set-controller", "br9", &second.target()]);
    assert_eq!(code, Some(2));
    assert!(
        err.starts_with("set-controller: no bridge named br9"),
        "{err}"
    );

    assert_eq!(
        appctl(&ctl, &["del-controller", "br0"]),
        (Some(0), String::new(), String::new())
    );
    assert!(second.finish().eof);
    assert_eq!(
        appctl(&ctl, &["get-controller", "br0"]),
        (Some(0), String::new(), String::new())
    );
    let status = sw.signal_and_wait(libc::SIGTERM);
    assert_eq!(status.code(), Some(0), "{:#?}", sw.stderr_lines);
}
