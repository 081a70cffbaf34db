//! The control socket driven by the real `ovs-appctl` (Debian `openvswitch-common`), plus raw
//! clients that misbehave. Most tests run the server's poll loop on a thread, as it would on the
//! control lcore; each binds its own socket in its own directory. The `switch_*` and `log_*`
//! tests start the real `ferrovs` binary on `net_ring` virtual devices (the binary gives DPDK
//! `--no-pci` itself) and check every switch command through `ovs-appctl`.

mod common;

use std::fs;
use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use ferrovs::ctl::{CtlError, CtlServer, MAX_CONNECTIONS, MAX_REQUEST_BYTES};

/// A fresh directory for one test's socket, removed at the end.
struct TestDir(PathBuf);

impl TestDir {
    fn new(name: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "ferrovs-ctl-{}-{}-{name}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&dir);
        TestDir(dir)
    }

    fn socket(&self) -> PathBuf {
        self.0.join("run/ferrovs.ctl")
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A server polled on its own thread until the guard is dropped.
struct Running {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<CtlServer>>,
}

impl Running {
    /// Binds `path`, registers the test commands, and starts polling.
    fn start(path: &Path) -> Self {
        let mut server = CtlServer::bind(path).expect("bind control socket");
        let commands = server.commands_mut();
        commands.register("test/echo", "ARG...", 1, 3).unwrap();
        commands.register("test/fail", "", 0, 0).unwrap();
        commands.register("test/quiet", "", 0, 0).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let thread_stop = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut handler = |name: &str, args: &[String]| -> Result<String, String> {
                match name {
                    "test/echo" => Ok(format!("{} args: [{}]", args.len(), args.join("] ["))),
                    "test/fail" => Err("it failed on purpose".to_string()),
                    "test/quiet" => Ok(String::new()),
                    other => Err(format!("no handler for {other}")),
                }
            };
            while !thread_stop.load(Ordering::Relaxed) {
                if server.poll(&mut handler) == 0 {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
            server
        });
        Running {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops polling and hands the server back (to inspect or drop it).
    fn stop(mut self) -> CtlServer {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .take()
            .expect("thread present until stopped")
            .join()
            .expect("poll thread panicked")
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

struct Outcome {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn appctl(socket: &Path, args: &[&str]) -> Outcome {
    let output = Command::new("ovs-appctl")
        .arg("--timeout=10")
        .arg("-t")
        .arg(socket)
        .args(args)
        .output()
        .expect("run ovs-appctl (package openvswitch-common)");
    Outcome {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// The stderr `ovs-appctl` prints for an error reply with text `error`.
fn appctl_error(socket: &Path, error: &str) -> String {
    format!(
        "{error}ovs-appctl: {}: server returned an error\n",
        socket.display()
    )
}

fn assert_ok(outcome: Outcome, stdout: &str) {
    assert_eq!(
        (
            outcome.code,
            outcome.stdout.as_str(),
            outcome.stderr.as_str()
        ),
        (Some(0), stdout, "")
    );
}

fn assert_error(socket: &Path, outcome: Outcome, error: &str) {
    assert_eq!(
        (outcome.code, outcome.stdout.as_str(), outcome.stderr),
        (Some(2), "", appctl_error(socket, error))
    );
}

/// Reads from a raw client until the server closes the connection; returns what came.
fn read_to_close(stream: &mut UnixStream) -> Vec<u8> {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut received = Vec::new();
    stream
        .read_to_end(&mut received)
        .expect("server closes the connection");
    received
}

/// Reads one JSON reply from a raw client; `pending` keeps bytes of later replies.
fn read_reply(stream: &mut UnixStream, pending: &mut Vec<u8>) -> serde_json::Value {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut chunk = [0u8; 4096];
    loop {
        let mut values = serde_json::Deserializer::from_slice(pending).into_iter();
        if let Some(Ok(value)) = values.next() {
            let used = values.byte_offset();
            pending.drain(..used);
            return value;
        }
        let n = stream.read(&mut chunk).expect("reply before timeout");
        assert!(n > 0, "server closed the connection instead of replying");
        pending.extend_from_slice(&chunk[..n]);
    }
}

#[test]
fn version_and_list_commands() {
    let dir = TestDir::new("builtins");
    let socket = dir.socket();
    let _server = Running::start(&socket);
    assert_ok(
        appctl(&socket, &["version"]),
        &format!("ferrovs {}\n", env!("CARGO_PKG_VERSION")),
    );
    assert_ok(
        appctl(&socket, &["list-commands"]),
        "The available commands are:\n\
         \x20 coverage/show           \n\
         \x20 list-commands           \n\
         \x20 test/echo               ARG...\n\
         \x20 test/fail               \n\
         \x20 test/quiet              \n\
         \x20 version                 \n\
         \x20 vlog/disable-rate-limit [MODULE]...\n\
         \x20 vlog/enable-rate-limit  [MODULE]...\n\
         \x20 vlog/list               \n\
         \x20 vlog/reopen             \n\
         \x20 vlog/set                {MODULE|ANY}[:{console|file|ANY}][:LEVEL]...\n",
    );
}

#[test]
fn registered_command_gets_its_arguments() {
    let dir = TestDir::new("echo");
    let socket = dir.socket();
    let _server = Running::start(&socket);
    assert_ok(
        appctl(&socket, &["test/echo", "a b", "", "{\"id\":1}"]),
        "3 args: [a b] [] [{\"id\":1}]\n",
    );
    assert_ok(appctl(&socket, &["test/echo", "x"]), "1 args: [x]\n");
    assert_ok(appctl(&socket, &["test/quiet"]), "");
}

#[test]
fn handler_error_is_an_appctl_error() {
    let dir = TestDir::new("fail");
    let socket = dir.socket();
    let _server = Running::start(&socket);
    assert_error(
        &socket,
        appctl(&socket, &["test/fail"]),
        "it failed on purpose\n",
    );
}

#[test]
fn unknown_command_and_wrong_argument_counts() {
    let dir = TestDir::new("errors");
    let socket = dir.socket();
    let _server = Running::start(&socket);
    assert_error(
        &socket,
        appctl(&socket, &["no/such-command", "x"]),
        "\"no/such-command\" is not a valid command (use \"list-commands\" to see a list of \
         valid commands)\n",
    );
    assert_error(
        &socket,
        appctl(&socket, &["test/echo"]),
        "\"test/echo\" command requires at least 1 arguments\nusage: test/echo ARG...\n",
    );
    assert_error(
        &socket,
        appctl(&socket, &["test/echo", "1", "2", "3", "4"]),
        "\"test/echo\" command takes at most 3 arguments\nusage: test/echo ARG...\n",
    );
    assert_error(
        &socket,
        appctl(&socket, &["version", "extra"]),
        "\"version\" command takes at most 0 arguments\nusage: version\n",
    );
}

#[test]
fn garbage_client_is_dropped_and_does_not_disturb_others() {
    let dir = TestDir::new("garbage");
    let socket = dir.socket();
    let running = Running::start(&socket);

    let mut garbage = UnixStream::connect(&socket).unwrap();
    garbage.write_all(b"\x00\xff\xfegarbage{{{\n").unwrap();
    assert_eq!(read_to_close(&mut garbage), b"");

    // Valid JSON that is not a request (no id) is not answered either.
    let mut stray = UnixStream::connect(&socket).unwrap();
    stray.write_all(br#"[1,2,3]"#).unwrap();
    assert_eq!(read_to_close(&mut stray), b"");

    // A silent client and a half-sent request stay connected while others are served.
    let silent = UnixStream::connect(&socket).unwrap();
    let mut partial = UnixStream::connect(&socket).unwrap();
    partial.write_all(br#"{"id":41,"method":"test/e"#).unwrap();
    assert_ok(
        appctl(&socket, &["test/echo", "after"]),
        "1 args: [after]\n",
    );
    partial.write_all(br#"cho","params":["late"]}"#).unwrap();
    assert_eq!(
        read_reply(&mut partial, &mut Vec::new()),
        serde_json::json!({"id": 41, "result": "1 args: [late]\n", "error": null})
    );

    // Once every client has gone, polling forgets their connections (the
    // kernel may take a moment to report the hang-ups on a loaded machine).
    drop((silent, partial));
    let mut server = running.stop();
    for _ in 0..100 {
        server.poll(&mut |_, _| Err("no calls expected".to_string()));
        if server.connection_count() == 0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(server.connection_count(), 0);
}

#[test]
fn raw_clients_get_replies_with_their_ids() {
    let dir = TestDir::new("raw");
    let socket = dir.socket();
    let _server = Running::start(&socket);
    let mut client = UnixStream::connect(&socket).unwrap();
    let mut pending = Vec::new();

    // Two pipelined requests, sent a byte at a time: each is answered, in order.
    let requests = br#"{"id":"a","method":"test/echo","params":["1"]} {"id":[2],"method":"version","params":[]}"#;
    for byte in requests {
        client.write_all(&[*byte]).unwrap();
    }
    assert_eq!(
        read_reply(&mut client, &mut pending),
        serde_json::json!({"id": "a", "result": "1 args: [1]\n", "error": null})
    );
    assert_eq!(
        read_reply(&mut client, &mut pending),
        serde_json::json!({
            "id": [2],
            "result": format!("ferrovs {}\n", env!("CARGO_PKG_VERSION")),
            "error": null
        })
    );

    client
        .write_all(br#"{"id":7,"method":"test/echo","params":["x",1]}"#)
        .unwrap();
    assert_eq!(
        read_reply(&mut client, &mut pending),
        serde_json::json!({
            "id": 7,
            "result": null,
            "error": "\"test/echo\" command has non-string argument\n"
        })
    );

    client.write_all(br#"{"id":8,"params":[]}"#).unwrap();
    assert_eq!(
        read_reply(&mut client, &mut pending),
        serde_json::json!({"id": 8, "result": null, "error": "request has no method\n"})
    );

    // A request whose sender stops sending right after it is still answered, then closed.
    client
        .write_all(br#"{"id":9,"method":"test/quiet","params":[]}"#)
        .unwrap();
    client.shutdown(std::net::Shutdown::Write).unwrap();
    assert_eq!(pending, b"");
    assert_eq!(
        read_to_close(&mut client),
        br#"{"error":null,"id":9,"result":""}"#
    );
}

#[test]
fn oversized_request_closes_the_connection() {
    let dir = TestDir::new("oversized");
    let socket = dir.socket();
    let _server = Running::start(&socket);
    let mut client = UnixStream::connect(&socket).unwrap();
    let mut request = br#"{"id":1,"method":"test/echo","params":[""#.to_vec();
    request.resize(MAX_REQUEST_BYTES + 1, b'x');
    // The server may close before taking every byte; only the close matters.
    let _ = client.write_all(&request);
    assert_eq!(read_to_close(&mut client), b"");
    assert_ok(appctl(&socket, &["test/echo", "y"]), "1 args: [y]\n");

    // Exactly at the limit is still served.
    let mut client = UnixStream::connect(&socket).unwrap();
    let head = br#"{"id":1,"method":"test/echo","params":[""#;
    let tail = br#""]}"#;
    let mut request = head.to_vec();
    request.resize(MAX_REQUEST_BYTES - tail.len(), b'x');
    request.extend_from_slice(tail);
    client.write_all(&request).unwrap();
    let reply = read_reply(&mut client, &mut Vec::new());
    let arg_len = MAX_REQUEST_BYTES - head.len() - tail.len();
    assert_eq!(
        reply["result"],
        serde_json::json!(format!("1 args: [{}]\n", "x".repeat(arg_len)))
    );
}

#[test]
fn concurrent_appctl_calls_are_all_answered() {
    let dir = TestDir::new("concurrent");
    let socket = dir.socket();
    let _server = Running::start(&socket);
    let children: Vec<_> = (0..20)
        .map(|i| {
            Command::new("ovs-appctl")
                .arg("--timeout=10")
                .arg("-t")
                .arg(&socket)
                .args(["test/echo", &i.to_string()])
                .stdout(std::process::Stdio::piped())
                .spawn()
                .expect("run ovs-appctl")
        })
        .collect();
    for (i, child) in children.into_iter().enumerate() {
        let output = child.wait_with_output().unwrap();
        assert_eq!(
            (
                output.status.code(),
                String::from_utf8_lossy(&output.stdout)
            ),
            (Some(0), format!("1 args: [{i}]\n").into())
        );
    }
}

#[test]
fn idle_clients_cannot_lock_out_the_operator() {
    let dir = TestDir::new("idle");
    let socket = dir.socket();
    let _server = Running::start(&socket);
    let mut idle: Vec<UnixStream> = (0..MAX_CONNECTIONS)
        .map(|_| UnixStream::connect(&socket).unwrap())
        .collect();
    assert_ok(
        appctl(&socket, &["test/echo", "served"]),
        "1 args: [served]\n",
    );
    // Making room for ovs-appctl displaced the oldest idle client.
    assert_eq!(read_to_close(&mut idle[0]), b"");
    let mut newest = idle.pop().unwrap();
    newest
        .write_all(br#"{"id":1,"method":"version","params":[]}"#)
        .unwrap();
    assert_eq!(
        read_reply(&mut newest, &mut Vec::new())["id"],
        serde_json::json!(1)
    );
}

#[test]
fn bind_creates_the_directory_and_drop_removes_the_socket() {
    let dir = TestDir::new("lifecycle");
    let socket = dir.socket();
    let server = CtlServer::bind(&socket).unwrap();
    assert_eq!(server.path(), socket.as_path());
    assert!(socket.exists());
    drop(server);
    assert!(!socket.exists());
    assert!(socket.parent().unwrap().is_dir());
}

#[test]
fn bind_refuses_a_live_socket_and_replaces_a_stale_one() {
    let dir = TestDir::new("takeover");
    let socket = dir.socket();
    let first = Running::start(&socket);
    match CtlServer::bind(&socket) {
        Err(CtlError::InUse { path }) => assert_eq!(path, socket),
        other => panic!("expected InUse, got {other:?}"),
    }
    // The refused bind left the live server's socket alone.
    assert_ok(
        appctl(&socket, &["test/echo", "still"]),
        "1 args: [still]\n",
    );
    drop(first);

    // A socket file whose owner is gone (std's listener does not unlink on drop).
    drop(UnixListener::bind(&socket).unwrap());
    assert!(socket.exists());
    let _second = Running::start(&socket);
    assert_ok(appctl(&socket, &["test/echo", "new"]), "1 args: [new]\n");
}

#[test]
fn bind_leaves_a_non_socket_alone() {
    let dir = TestDir::new("regular");
    let socket = dir.socket();
    fs::create_dir_all(socket.parent().unwrap()).unwrap();
    fs::write(&socket, b"precious").unwrap();
    match CtlServer::bind(&socket) {
        Err(CtlError::NotASocket { path }) => assert_eq!(path, socket),
        other => panic!("expected NotASocket, got {other:?}"),
    }
    assert_eq!(fs::read(&socket).unwrap(), b"precious");
}

#[test]
fn drop_leaves_a_replacement_socket_alone() {
    let dir = TestDir::new("replaced");
    let socket = dir.socket();
    let old = CtlServer::bind(&socket).unwrap();
    fs::remove_file(&socket).unwrap();
    let new = CtlServer::bind(&socket).unwrap();
    drop(old);
    assert!(
        socket.exists(),
        "old server removed the new server's socket"
    );
    drop(new);
    assert!(!socket.exists());
}

/// A `ferrovs run` on two `net_ring` ports (no traffic, so every counter is exact) in standalone
/// fail mode without controllers (so the hidden fail-open rule is installed at once).
struct RunningSwitch {
    sw: common::Switch,
    dir: common::TempDir,
    socket: PathBuf,
}

impl RunningSwitch {
    fn start(tag: &str, extra: &[&str]) -> RunningSwitch {
        let dir = common::TempDir::new(tag);
        let socket = dir.path("ctl");
        let mut args = vec![
            "run",
            "--port",
            "p0=net_ring0",
            "--port",
            "p1=net_ring1",
            "--fail-mode",
            "standalone",
            "--quiet",
            "--ctl",
        ];
        let socket_arg = socket.to_str().expect("utf-8 path").to_string();
        args.push(&socket_arg);
        args.extend_from_slice(extra);
        let mut sw = common::Switch::start(&args);
        sw.wait_stderr(Duration::from_secs(60), |l| {
            common::logged(l) == "no controller: standalone fail mode, acting as a learning switch"
        });
        RunningSwitch { sw, dir, socket }
    }

    fn appctl(&self, args: &[&str]) -> Outcome {
        appctl(&self.socket, args)
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.appctl(args);
        assert_eq!((out.code, out.stderr.as_str()), (Some(0), ""), "{args:?}");
        out.stdout
    }

    /// Waits until `args` prints `want` (for counts that settle a poll later).
    fn wait_for(&self, args: &[&str], want: &str) {
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        loop {
            let got = self.ok(args);
            if got == want {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{args:?} printed {got:?}, not {want:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn mgmt(&self) -> PathBuf {
        self.dir.path("br0.mgmt")
    }

    /// Waits until at least `n` log lines satisfy `pred`, then a moment more for stragglers;
    /// returns how many do.
    fn wait_log_count(
        &mut self,
        n: usize,
        pred: impl Fn(&(String, String, String)) -> bool,
    ) -> usize {
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        while self.log_lines().iter().filter(|l| pred(l)).count() < n {
            assert!(
                std::time::Instant::now() < deadline,
                "fewer than {n} such log lines"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(300));
        self.log_lines().iter().filter(|l| pred(l)).count()
    }

    /// Log lines printed so far, as (module, level, message).
    fn log_lines(&mut self) -> Vec<(String, String, String)> {
        // A `wait_stderr` that is satisfied at once just collects what arrived.
        self.sw.wait_stderr(Duration::from_secs(1), |_| true);
        self.sw
            .stderr_lines
            .iter()
            .filter_map(|l| {
                let f: Vec<&str> = l.splitn(5, '|').collect();
                (f.len() == 5).then(|| (f[2].to_string(), f[3].to_string(), f[4].to_string()))
            })
            .collect()
    }
}

fn ofctl(args: &[&str]) {
    let out = Command::new("ovs-ofctl")
        .args(args)
        .output()
        .expect("run ovs-ofctl (package openvswitch-common)");
    assert!(
        out.status.success(),
        "ovs-ofctl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Replaces the number after `duration=` (which depends on timing) with `D`.
fn without_durations(text: &str) -> String {
    text.lines()
        .map(|l| match l.split_once("duration=") {
            Some((head, tail)) => {
                let rest = tail.trim_start_matches(|c: char| c.is_ascii_digit());
                format!("{head}duration=D{rest}\n")
            }
            None => format!("{l}\n"),
        })
        .collect()
}

#[test]
fn switch_commands_through_appctl() {
    let mut s = RunningSwitch::start("ctl-switch", &["--log-level", "info,upcall:warn"]);

    let list = s.ok(&["list-commands"]);
    assert!(list.starts_with("The available commands are:\n"), "{list}");
    for line in [
        "  bridge/dump-flows       BRIDGE",
        "  coverage/show           ",
        "  dpif/show               ",
        "  fdb/flush               [BRIDGE]",
        "  fdb/show                BRIDGE",
        "  list-commands           ",
        "  memory/show             ",
        "  ofproto/trace           BRIDGE FLOW",
        "  vlog/disable-rate-limit [MODULE]...",
        "  vlog/enable-rate-limit  [MODULE]...",
        "  vlog/list               ",
        "  vlog/reopen             ",
        "  vlog/set                {MODULE|ANY}[:{console|file|ANY}][:LEVEL]...",
    ] {
        assert!(list.lines().any(|l| l == line), "no {line:?} in\n{list}");
    }

    // The hidden fail-open rule shows with its priority above OpenFlow's range, before a rule
    // a controller would see.
    let mgmt = format!("unix:{}", s.mgmt().display());
    ofctl(&[
        "-O",
        "OpenFlow13",
        "add-flow",
        &mgmt,
        "table=3,priority=7,ip,nw_dst=10.0.0.1,actions=output:2",
    ]);
    assert_eq!(
        without_durations(&s.ok(&["bridge/dump-flows", "br0"])),
        "duration=Ds, n_packets=0, n_bytes=0, priority=15790320,actions=NORMAL\n\
         table_id=3, duration=Ds, n_packets=0, n_bytes=0, priority=7,ip,nw_dst=10.0.0.1,actions=output:2\n"
    );
    // ovs-ofctl has gone: no OpenFlow connection is left.
    s.wait_for(
        &["memory/show"],
        "fdb:0 megaflows:0 ofconns:0 pmds:1 ports:3 rules:2\n",
    );
    assert_eq!(
        s.ok(&["dpif/show"]),
        "netdev@ferrovs: hit:0 missed:0\n\
         \x20 br0:\n\
         \x20   br0 65534/0: (internal)\n\
         \x20   p0 1/1: (dpdk: net_ring0)\n\
         \x20   p1 2/2: (dpdk: net_ring1)\n"
    );

    // The commands that existed before: a trace through the hidden rule, the (empty) MAC
    // learning table, its flush, the upcall counters.
    let trace = s.ok(&["ofproto/trace", "br0", "in_port=1,ip,nw_dst=10.0.0.1"]);
    assert!(
        trace
            .lines()
            .any(|l| l == "0. (catch-all), priority 15790320, cookie 0x0: NORMAL")
            && trace.ends_with("\nDatapath actions: 2,0\n"),
        "{trace}"
    );
    assert_eq!(
        s.ok(&["fdb/show", "br0"]),
        " port  VLAN  MAC                Age\n"
    );
    assert_eq!(s.ok(&["fdb/flush"]), "table successfully flushed\n");
    assert_eq!(s.ok(&["fdb/flush", "br0"]), "table successfully flushed\n");
    let upcalls = s.ok(&["upcall/show"]);
    let lines: Vec<&str> = upcalls.lines().collect();
    assert_eq!(
        lines[..4],
        [
            "br0:",
            "  flows: 0 (installed 0, failed 0, expired 0)",
            "  misses: 0 translated: 0 executed: 0 held: 0",
            "  packet-ins: 0",
        ],
        "{upcalls}"
    );
    assert!(
        lines[4].starts_with("  revalidations: ")
            && lines[4].ends_with(" (fixed 0, deleted 0, flushed all 0)"),
        "{upcalls}"
    );
    assert_eq!(s.ok(&["dpif-netdev/pmd-stats-clear"]), "");

    // The one flow_mod shows in the 5-second rate once a sample has been taken, and in the
    // minute's and the hour's averages (1/60 and 1/3600 a second).
    let flow_mod_line =
        "ofproto_flow_mod             0.2/sec     0.017/sec        0.0003/sec   total: 1";
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let coverage = s.ok(&["coverage/show"]);
        assert!(
            coverage.starts_with(
                "Event coverage, avg rate over last: 5 seconds, last minute, last hour:\n"
            ),
            "{coverage}"
        );
        if coverage.lines().any(|l| l == flow_mod_line) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{coverage}");
        std::thread::sleep(Duration::from_millis(200));
    }

    // Levels: from --log-level, then changed at run time.
    s.ok(&["vlog/set", "ANY:file:off", "connmgr:console:dbg"]);
    // One argument is one spec, whose words may also be separated by spaces.
    s.ok(&["vlog/set", "xlate err"]);
    let want_level = |module: &str| match module {
        "connmgr" => ("DBG", "OFF"),
        "upcall" => ("WARN", "OFF"),
        "xlate" => ("ERR", "ERR"),
        _ => ("INFO", "OFF"),
    };
    let mut want =
        String::from("                 console    file\n                 -------    ------\n");
    for module in [
        "appctl",
        "bridge",
        "cli",
        "config",
        "connmgr",
        "continuation",
        "coverage",
        "ctl",
        "dpctl",
        "dpif",
        "live",
        "metrics",
        "ofp",
        "ofproto",
        "ofswitch",
        "switch",
        "upcall",
        "vlog",
        "xlate",
        "other",
    ] {
        let (console, file) = want_level(module);
        want.push_str(&format!("{module:<16} {console:>6}     {file:>6}\n"));
    }
    assert_eq!(s.ok(&["vlog/list"]), want);

    // Bad arguments: the reason and the usage.
    let socket = s.socket.clone();
    assert_error(
        &socket,
        s.appctl(&["vlog/set", "connmgr:loud"]),
        "no destination, level, or module \"loud\"\n\
         usage: vlog/set {MODULE|ANY}[:{console|file|ANY}][:LEVEL]...\n",
    );
    assert_error(
        &socket,
        s.appctl(&["vlog/set", "info:dbg"]),
        "cannot specify multiple levels\n\
         usage: vlog/set {MODULE|ANY}[:{console|file|ANY}][:LEVEL]...\n",
    );
    // Nothing of a refused call was applied, not even its good specs.
    s.appctl(&["vlog/set", "switch:off", "nope"]);
    assert!(s
        .ok(&["vlog/list"])
        .contains("\nswitch             INFO        OFF\n"));
    assert_error(
        &socket,
        s.appctl(&["bridge/dump-flows", "br1"]),
        "bridge/dump-flows: no bridge named br1 (this switch has br0)\n\
         usage: bridge/dump-flows BRIDGE\n",
    );
    assert_error(
        &socket,
        s.appctl(&["bridge/dump-flows"]),
        "\"bridge/dump-flows\" command requires at least 1 arguments\n\
         usage: bridge/dump-flows BRIDGE\n",
    );
    assert_error(
        &socket,
        s.appctl(&["fdb/show", "br1"]),
        "fdb/show: no bridge named br1 (this switch has br0)\nusage: fdb/show BRIDGE\n",
    );
    assert_error(
        &socket,
        s.appctl(&["fdb/flush", "br1"]),
        "fdb/flush: no bridge named br1 (this switch has br0)\nusage: fdb/flush [BRIDGE]\n",
    );
    assert_error(
        &socket,
        s.appctl(&["memory/show", "x"]),
        "\"memory/show\" command takes at most 0 arguments\nusage: memory/show\n",
    );
    assert_error(
        &socket,
        s.appctl(&["dpif/shw"]),
        "\"dpif/shw\" is not a valid command (use \"list-commands\" to see a list of valid \
         commands)\n",
    );
    let trace = s.appctl(&["ofproto/trace", "br0", "in_port=1,bogus=7"]);
    assert_eq!((trace.code, trace.stdout.as_str()), (Some(2), ""));
    assert!(
        trace.stderr.starts_with("ofproto/trace: ")
            && trace
                .stderr
                .contains("\nusage: ofproto/trace BRIDGE FLOW\novs-appctl: "),
        "{}",
        trace.stderr
    );
    assert_error(
        &socket,
        s.appctl(&["vlog/reopen"]),
        "no log file is in use (start with --log-file PATH)\n",
    );

    // The log: one structured line per event, on stderr.
    assert!(s.log_lines().contains(&(
        "switch".to_string(),
        "INFO".to_string(),
        "running with 2 port(s) [p0, p1] on 1 PMD lcore(s); Ctrl-C to stop".to_string()
    )));
    let first =
        s.sw.stderr_lines
            .iter()
            .find(|l| l.contains("|switch|INFO|running with "))
            .cloned()
            .unwrap_or_default();
    let fields: Vec<&str> = first.splitn(5, '|').collect();
    assert_eq!(fields.len(), 5, "{first}");
    let time = fields[0].as_bytes();
    assert!(
        time.len() == 24
            && time[4] == b'-'
            && time[10] == b'T'
            && time[19] == b'.'
            && time[23] == b'Z'
            && fields[1].len() == 5
            && fields[1].bytes().all(|b| b.is_ascii_digit()),
        "{first}"
    );
    // No spec at all: everything at DBG.
    assert!(s.ok(&["vlog/set"]).is_empty());
    let table = s.ok(&["vlog/list"]);
    assert_eq!(
        table
            .lines()
            .skip(2)
            .filter(|l| l.ends_with("  DBG        DBG"))
            .count(),
        20,
        "{table}"
    );

    assert!(s.ok(&["exit"]).is_empty());
    let status = s.sw.wait(Duration::from_secs(10));
    assert!(status.success(), "{:#?}", s.sw.stderr_lines);
}

/// An OpenFlow 1.3 message header: version, type, length, xid.
fn of13(msg_type: u8, xid: u32) -> [u8; 8] {
    let x = xid.to_be_bytes();
    [4, msg_type, 0, 8, x[0], x[1], x[2], x[3]]
}

/// Reads OpenFlow messages until the echo reply with `xid`; returns how many errors came.
fn count_errors_until_echo(stream: &mut UnixStream, xid: u32) -> usize {
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut errors = 0;
    loop {
        let mut header = [0u8; 8];
        stream.read_exact(&mut header).expect("a reply");
        let len = usize::from(u16::from_be_bytes([header[2], header[3]]));
        let mut body = vec![0u8; len.saturating_sub(8)];
        stream.read_exact(&mut body).expect("a whole reply");
        match header[1] {
            1 => errors += 1,
            3 if header[4..8] == xid.to_be_bytes() => return errors,
            _ => {}
        }
    }
}

#[test]
fn log_flood_is_rate_limited_and_levels_apply_at_run_time() {
    let log_file_dir = common::TempDir::new("ctl-flood-log");
    let log_file = log_file_dir.path("ferrovs.log");
    let mut s = RunningSwitch::start(
        "ctl-flood",
        &["--log-file", log_file.to_str().expect("utf-8 path")],
    );
    let mut peer = UnixStream::connect(s.mgmt()).expect("connect to br0.mgmt");
    peer.write_all(&of13(0, 1)).unwrap();

    // 500 messages of an unknown type: each is answered with an error and would log a warning.
    const FLOOD: usize = 500;
    let mut burst = Vec::new();
    for i in 0..FLOOD {
        burst.extend_from_slice(&of13(0xc8, 100 + i as u32));
    }
    burst.extend_from_slice(&of13(2, 0xeeee));
    peer.write_all(&burst).unwrap();
    assert_eq!(count_errors_until_echo(&mut peer, 0xeeee), FLOOD);

    let warning = |l: &(String, String, String)| {
        l.0 == "connmgr" && l.1 == "WARN" && l.2.contains("answered with error OFPBRC_BAD_TYPE")
    };
    let first_wave = s.wait_log_count(5, warning);
    // The burst passes (and at most one more if a token refilled meanwhile), the rest do not.
    assert!((5..=6).contains(&first_wave), "{first_wave} warnings");
    assert!(s
        .ok(&["coverage/show"])
        .lines()
        .any(|l| l.starts_with("ofconn_error_reply ") && l.ends_with("total: 500")));

    // Once a token has refilled (20 a minute: one every 3 s), the next warning says how many
    // were suppressed.
    std::thread::sleep(Duration::from_millis(3100));
    peer.write_all(&of13(0xc8, 7)).unwrap();
    peer.write_all(&of13(2, 0xeeef)).unwrap();
    assert_eq!(count_errors_until_echo(&mut peer, 0xeeef), 1);
    s.sw.wait_stderr(Duration::from_secs(5), |l| l.contains("(xid 0x7)"));
    let lines = s.log_lines();
    let at = lines
        .iter()
        .position(|l| l.2.contains("(xid 0x7)"))
        .expect("the warning after the pause");
    let suppressed_count = |l: &(String, String, String)| -> Option<usize> {
        if (l.0.as_str(), l.1.as_str()) != ("connmgr", "WARN") {
            return None;
        }
        l.2.strip_suffix(" s (rate limit); the next one is like them")
            .and_then(|t| t.split(" messages suppressed in the last ").next())
            .and_then(|n| n.parse().ok())
    };
    assert!(
        suppressed_count(&lines[at - 1]).is_some(),
        "not a suppression line: {:?}",
        lines[at - 1]
    );
    // Every message was either logged or counted as suppressed (if a token came back during
    // the flood, a suppression line came before the sixth warning too).
    let suppressed: usize = lines.iter().filter_map(suppressed_count).sum();
    assert_eq!(first_wave + suppressed, FLOOD);
    let suppressed_total = format!("total: {suppressed}");
    assert!(s
        .ok(&["coverage/show"])
        .lines()
        .any(|l| l.starts_with("vlog_suppressed ") && l.ends_with(&suppressed_total)));

    // The file holds the same lines as the console.
    let file_text = fs::read_to_string(&log_file).expect("log file");
    let console: Vec<&String> =
        s.sw.stderr_lines
            .iter()
            .filter(|l| l.contains('|'))
            .collect();
    let file_lines: Vec<&str> = file_text.lines().collect();
    assert_eq!(file_lines, console);

    // Without connmgr's rate limits, every bad message is logged; with them back, the bucket
    // (emptied by the message of xid 7) lets at most one more through.
    let before = s.log_lines().into_iter().filter(warning).count();
    s.ok(&["vlog/disable-rate-limit", "connmgr"]);
    let mut ten = Vec::new();
    for i in 0..10 {
        ten.extend_from_slice(&of13(0xc8, 0x100 + i));
    }
    ten.extend_from_slice(&of13(2, 0xeef1));
    peer.write_all(&ten).unwrap();
    assert_eq!(count_errors_until_echo(&mut peer, 0xeef1), 10);
    assert_eq!(s.wait_log_count(before + 10, warning), before + 10);
    s.ok(&["vlog/enable-rate-limit"]);
    let mut ten = Vec::new();
    for i in 0..10 {
        ten.extend_from_slice(&of13(0xc8, 0x200 + i));
    }
    ten.extend_from_slice(&of13(2, 0xeef2));
    peer.write_all(&ten).unwrap();
    assert_eq!(count_errors_until_echo(&mut peer, 0xeef2), 10);
    // The bucket was empty after the message of xid 7: at most one token has come back since,
    // unless this machine took more than 6 s for the last few steps.
    let after = s.wait_log_count(before + 10, warning);
    assert!(
        (before + 10..=before + 11).contains(&after),
        "{after} vs {before}"
    );
    assert_error(
        &s.socket.clone(),
        s.appctl(&["vlog/disable-rate-limit", "connmgr", "nope"]),
        "no module named \"nope\"\nusage: vlog/disable-rate-limit [MODULE]...\n",
    );

    // Turned off at run time, connmgr logs nothing for the next bad message; the console
    // still logs the other modules.
    s.ok(&["vlog/set", "connmgr:off"]);
    std::thread::sleep(Duration::from_millis(3100));
    peer.write_all(&of13(0xc8, 8)).unwrap();
    peer.write_all(&of13(2, 0xeef0)).unwrap();
    assert_eq!(count_errors_until_echo(&mut peer, 0xeef0), 1);

    // After a log rotation, vlog/reopen starts a new file: the stop lands there.
    let rotated = log_file_dir.path("ferrovs.log.1");
    fs::rename(&log_file, &rotated).unwrap();
    assert!(s.ok(&["vlog/reopen"]).is_empty());
    drop(peer);
    let status = s.sw.signal_and_wait(libc::SIGTERM);
    assert!(status.success(), "{:#?}", s.sw.stderr_lines);
    assert!(!s.sw.stderr_lines.iter().any(|l| l.contains("(xid 0x8)")));
    let new_file = fs::read_to_string(&log_file).expect("reopened log file");
    assert_eq!(new_file.lines().count(), 1, "{new_file}");
    assert!(
        new_file.contains("|switch|INFO|stopped; 16383 of 16383 mbufs are back in the pool"),
        "{new_file}"
    );
    assert!(fs::read_to_string(&rotated)
        .unwrap()
        .contains("|switch|INFO|running with "));
}
