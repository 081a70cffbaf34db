//! `ferrovs appctl`: a client for the control socket, for places without `ovs-appctl`.
//!
//! Purpose: the container image has no Open vSwitch tools, yet its HEALTHCHECK must ask the
//! running switch whether it answers. This sends one JSON-RPC request, the way `ovs-appctl`
//! does (see `ctl`), and returns the result or the error text the switch sent.
//!
//! Who calls it: `main`, for `ferrovs appctl`, in a process of its own. It blocks, with a
//! timeout on every read and write, and never panics on what the socket sends.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// The most reply bytes accepted: far more than any command prints.
const MAX_REPLY: usize = 16 << 20;

/// Why no answer came back.
#[derive(Debug, thiserror::Error)]
pub enum AppctlError {
    #[error("cannot connect to {path}: {source} (is ferrovs running with --ctl {path}?)")]
    Connect {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: no answer within {secs} s")]
    Timeout { path: PathBuf, secs: u64 },
    #[error("{path}: the reply is not JSON-RPC: {reason}")]
    BadReply { path: PathBuf, reason: String },
}

/// Calls `method` with `params` on the control socket at `socket`. The outer `Result` says
/// whether an answer came; the inner one is the switch's result or error text.
pub fn call(
    socket: &Path,
    method: &str,
    params: &[String],
    timeout: Duration,
) -> Result<Result<String, String>, AppctlError> {
    let io = |source| AppctlError::Io {
        path: socket.to_path_buf(),
        source,
    };
    let deadline = Instant::now() + timeout;
    let mut stream = UnixStream::connect(socket).map_err(|source| AppctlError::Connect {
        path: socket.to_path_buf(),
        source,
    })?;
    stream.set_write_timeout(Some(timeout)).map_err(io)?;
    let request = json!({"id": 0, "method": method, "params": params});
    stream
        .write_all(request.to_string().as_bytes())
        .map_err(io)?;
    let mut reply = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(AppctlError::Timeout {
                path: socket.to_path_buf(),
                secs: timeout.as_secs(),
            });
        }
        stream.set_read_timeout(Some(left)).map_err(io)?;
        let n = match stream.read(&mut chunk) {
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue
            }
            Err(e) => return Err(io(e)),
        };
        reply.extend_from_slice(&chunk[..n]);
        match serde_json::from_slice::<Value>(&reply) {
            Ok(v) => return interpret(socket, &v),
            Err(e) if e.is_eof() && n > 0 && reply.len() < MAX_REPLY => continue,
            Err(e) => {
                return Err(AppctlError::BadReply {
                    path: socket.to_path_buf(),
                    reason: if n == 0 {
                        "the switch closed the connection".into()
                    } else {
                        e.to_string()
                    },
                })
            }
        }
    }
}

fn interpret(socket: &Path, v: &Value) -> Result<Result<String, String>, AppctlError> {
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    match (v.get("result"), v.get("error")) {
        (_, Some(e)) if !e.is_null() => Ok(Err(text(e))),
        (Some(r), _) if !r.is_null() => Ok(Ok(text(r))),
        _ => Err(AppctlError::BadReply {
            path: socket.to_path_buf(),
            reason: "neither a result nor an error".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_read_whole_and_interpreted() {
        let dir = std::env::temp_dir().join(format!("ferrovs-appctl-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s");
        let _ = std::fs::remove_file(&path);
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let server = std::thread::spawn(move || {
            let answers: [&[u8]; 3] = [
                br#"{"id":0,"result":"ferrovs 0.1.0\n","error":null}"#,
                br#"{"id":0,"result":null,"error":"no such command\n"}"#,
                b"not json",
            ];
            for answer in answers {
                let (mut s, _) = listener.accept().unwrap();
                let mut buf = [0u8; 256];
                let n = s.read(&mut buf).unwrap();
                let req: Value = serde_json::from_slice(&buf[..n]).unwrap();
                assert_eq!(req["method"], "version");
                // Sent in two pieces: the client must wait for the whole value.
                let (a, b) = answer.split_at(answer.len() / 2);
                s.write_all(a).unwrap();
                std::thread::sleep(Duration::from_millis(20));
                // The client gives up on "not json" after the first piece.
                let _ = s.write_all(b);
            }
        });
        let t = Duration::from_secs(5);
        assert_eq!(
            call(&path, "version", &[], t).unwrap(),
            Ok("ferrovs 0.1.0\n".into())
        );
        assert_eq!(
            call(&path, "version", &[], t).unwrap(),
            Err("no such command\n".into())
        );
        assert!(matches!(
            call(&path, "version", &[], t),
            Err(AppctlError::BadReply { .. })
        ));
        server.join().unwrap();
        assert!(matches!(
            call(&dir.join("nothing"), "version", &[], t),
            Err(AppctlError::Connect { .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
