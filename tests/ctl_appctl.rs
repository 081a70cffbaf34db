//! The control socket driven by the real `ovs-appctl` (Debian `openvswitch-common`), plus raw
//! clients that misbehave. The server's poll loop runs on a thread, as it would on the control
//! lcore; each test binds its own socket in its own directory.

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
         \x20 list-commands           \n\
         \x20 test/echo               ARG...\n\
         \x20 test/fail               \n\
         \x20 test/quiet              \n\
         \x20 version                 \n",
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
