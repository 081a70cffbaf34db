//! A minimal, non-blocking HTTP/1.1 responder for `GET /metrics`.
//!
//! Prometheus needs one thing from us: the exposition text in answer to `GET /metrics`. A web
//! framework would bring a runtime and threads for that; instead the control lcore's loop calls
//! [`MetricsServer::poll`] once per iteration, as it does for the control socket, and the text is
//! rendered there, where every counter and table is at hand. Nothing here blocks: the listener
//! and every connection are non-blocking, a partial request waits in its buffer, and a response
//! the peer is slow to read waits in the output buffer.
//!
//! Invariants (what a hostile or broken client cannot do):
//! - A request head larger than [`MAX_REQUEST_BYTES`] gets `431` and the connection closes.
//! - A client that has not sent a whole request head within [`REQUEST_TIMEOUT`], or does not
//!   take its response within [`WRITE_TIMEOUT`], is dropped.
//! - At most [`MAX_CONNECTIONS`] connections are kept; a new one displaces the oldest.
//! - One request per connection: the response says `Connection: close` and the server closes
//!   after writing it, so no request body or pipelined request is ever read.
//! - `GET`/`HEAD` of `/metrics` (any query string) is `200`; other paths `404`; other methods
//!   `405` with `Allow: GET, HEAD`; a head that is not HTTP/1.x `400`. No input panics.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// Largest request head accepted (request line plus headers).
pub const MAX_REQUEST_BYTES: usize = 8192;
/// How long a client may take to send its request head.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a client may take to read its response.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Open connections kept at most.
pub const MAX_CONNECTIONS: usize = 16;
/// How long a connection is kept after its response, reading and discarding what the client
/// still sends, so that closing does not reset the connection before the client read it all.
const LINGER: Duration = Duration::from_secs(1);
/// Connections accepted per poll.
const ACCEPTS_PER_POLL: usize = 8;
/// The content type of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Why the metrics listener could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("cannot listen for metrics on {addr}: {source}")]
    Bind { addr: SocketAddr, source: io::Error },
}

/// The listener and its live connections.
#[derive(Debug)]
pub struct MetricsServer {
    listener: TcpListener,
    local: SocketAddr,
    conns: Vec<Conn>,
}

#[derive(Debug)]
struct Conn {
    stream: TcpStream,
    since: Instant,
    input: Vec<u8>,
    /// The response once the request was read; `written` bytes of it are sent.
    output: Option<Vec<u8>>,
    written: usize,
    /// Since when the response is fully written and the write side shut down.
    lingering: Option<Instant>,
    done: bool,
}

/// What a request head asks for.
#[derive(Debug, PartialEq, Eq)]
enum Route {
    /// `GET /metrics`, or `HEAD /metrics` (`body: false`).
    Metrics {
        body: bool,
    },
    NotFound,
    MethodNotAllowed,
    BadRequest,
}

impl MetricsServer {
    /// Listens on `addr` (port 0 picks a free port; see [`Self::local_addr`]).
    pub fn bind(addr: SocketAddr) -> Result<MetricsServer, HttpError> {
        let err = |source| HttpError::Bind { addr, source };
        let listener = TcpListener::bind(addr).map_err(err)?;
        listener.set_nonblocking(true).map_err(err)?;
        let local = listener.local_addr().map_err(err)?;
        Ok(MetricsServer {
            listener,
            local,
            conns: Vec::new(),
        })
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Accepts, reads and answers what is ready; `render` produces the exposition text and is
    /// called once per `GET /metrics`. Returns how many events were handled (0: idle).
    pub fn poll(&mut self, now: Instant, render: &mut dyn FnMut() -> String) -> usize {
        let mut work = 0;
        for _ in 0..ACCEPTS_PER_POLL {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    work += 1;
                    if stream.set_nonblocking(true).is_err() {
                        continue;
                    }
                    let _ = stream.set_nodelay(true);
                    if self.conns.len() >= MAX_CONNECTIONS {
                        self.conns.remove(0);
                    }
                    self.conns.push(Conn {
                        stream,
                        since: now,
                        input: Vec::new(),
                        output: None,
                        written: 0,
                        lingering: None,
                        done: false,
                    });
                }
                Err(_) => break,
            }
        }
        for c in &mut self.conns {
            work += c.step(now, render);
        }
        self.conns.retain(|c| !c.done);
        work
    }
}

impl Conn {
    fn step(&mut self, now: Instant, render: &mut dyn FnMut() -> String) -> usize {
        if let Some(since) = self.lingering {
            return self.linger(now, since);
        }
        let mut work = 0;
        if self.output.is_none() {
            let mut buf = [0u8; 2048];
            loop {
                match self.stream.read(&mut buf) {
                    Ok(0) => {
                        self.done = true;
                        return 1;
                    }
                    Ok(n) => {
                        work += 1;
                        self.input.extend_from_slice(&buf[..n]);
                        if self.input.len() > MAX_REQUEST_BYTES || head_end(&self.input).is_some() {
                            break;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => {
                        self.done = true;
                        return 1;
                    }
                }
            }
            let response = match head_end(&self.input) {
                Some(end) if end <= MAX_REQUEST_BYTES => {
                    Some(respond(route(&self.input[..end]), render))
                }
                _ if self.input.len() > MAX_REQUEST_BYTES => Some(simple(
                    431,
                    "Request Header Fields Too Large",
                    &[],
                    "request head too large\n",
                )),
                _ => None,
            };
            match response {
                Some(r) => {
                    // The write deadline counts from here.
                    self.since = now;
                    self.output = Some(r);
                }
                None => {
                    if now.duration_since(self.since) > REQUEST_TIMEOUT {
                        self.done = true;
                    }
                    return work;
                }
            }
        }
        if let Some(out) = &self.output {
            while self.written < out.len() {
                match self.stream.write(&out[self.written..]) {
                    Ok(0) => {
                        self.done = true;
                        return work + 1;
                    }
                    Ok(n) => {
                        work += 1;
                        self.written += n;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => {
                        self.done = true;
                        return work + 1;
                    }
                }
            }
            if self.written == out.len() {
                // Half-close so the peer sees the end of the response.
                let _ = self.stream.shutdown(Shutdown::Write);
                self.lingering = Some(now);
            } else if now.duration_since(self.since) > WRITE_TIMEOUT {
                self.done = true;
            }
        }
        work
    }
}

impl Conn {
    /// Reads and discards until the client closes, or [`LINGER`] passes.
    fn linger(&mut self, now: Instant, since: Instant) -> usize {
        let mut buf = [0u8; 2048];
        // Bounded per poll: a client that keeps sending cannot hold the loop.
        for _ in 0..16 {
            match self.stream.read(&mut buf) {
                Ok(0) => {
                    self.done = true;
                    return 1;
                }
                Ok(_) => continue,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => {
                    self.done = true;
                    return 1;
                }
            }
        }
        if now.duration_since(since) > LINGER {
            self.done = true;
            return 1;
        }
        0
    }
}

/// The length of the request head including its blank line, once it has arrived.
fn head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

/// Reads the request line of a head.
fn route(head: &[u8]) -> Route {
    let Ok(text) = std::str::from_utf8(head) else {
        return Route::BadRequest;
    };
    let line = text.split("\r\n").next().unwrap_or("");
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Route::BadRequest;
    };
    if !version.starts_with("HTTP/1.") || method.is_empty() || !target.starts_with('/') {
        return Route::BadRequest;
    }
    let path = target.split('?').next().unwrap_or("");
    match method {
        "GET" | "HEAD" if path == "/metrics" => Route::Metrics {
            body: method == "GET",
        },
        "GET" | "HEAD" => Route::NotFound,
        _ => Route::MethodNotAllowed,
    }
}

fn respond(route: Route, render: &mut dyn FnMut() -> String) -> Vec<u8> {
    match route {
        Route::Metrics { body } => {
            let text = render();
            let mut out = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: {CONTENT_TYPE}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                text.len()
            )
            .into_bytes();
            if body {
                out.extend_from_slice(text.as_bytes());
            }
            out
        }
        Route::NotFound => simple(404, "Not Found", &[], "not found: try /metrics\n"),
        Route::MethodNotAllowed => simple(
            405,
            "Method Not Allowed",
            &["Allow: GET, HEAD"],
            "only GET and HEAD are served\n",
        ),
        Route::BadRequest => simple(400, "Bad Request", &[], "bad request\n"),
    }
}

fn simple(code: u16, reason: &str, headers: &[&str], body: &str) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {code} {reason}\r\n");
    for h in headers {
        out.push_str(h);
        out.push_str("\r\n");
    }
    out.push_str(&format!(
        "Content-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    ));
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_request_lines() {
        let r = |s: &str| route(s.as_bytes());
        assert_eq!(
            r("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"),
            Route::Metrics { body: true }
        );
        assert_eq!(
            r("HEAD /metrics?x=1 HTTP/1.0\r\n\r\n"),
            Route::Metrics { body: false }
        );
        assert_eq!(r("GET / HTTP/1.1\r\n\r\n"), Route::NotFound);
        assert_eq!(r("GET /metricsx HTTP/1.1\r\n\r\n"), Route::NotFound);
        assert_eq!(r("POST /metrics HTTP/1.1\r\n\r\n"), Route::MethodNotAllowed);
        assert_eq!(r("GET /metrics\r\n\r\n"), Route::BadRequest);
        assert_eq!(r("GET /metrics HTTP/2\r\n\r\n"), Route::BadRequest);
        assert_eq!(r("GET metrics HTTP/1.1\r\n\r\n"), Route::BadRequest);
        assert_eq!(r("GET  /metrics HTTP/1.1\r\n\r\n"), Route::BadRequest);
        assert_eq!(
            route(b"\xff\xfe /metrics HTTP/1.1\r\n\r\n"),
            Route::BadRequest
        );
    }

    #[test]
    fn responses_carry_exact_heads() {
        let mut render = || "a 1\n".to_string();
        assert_eq!(
            String::from_utf8(respond(Route::Metrics { body: true }, &mut render)).unwrap(),
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n\
             Content-Length: 4\r\nConnection: close\r\n\r\na 1\n"
        );
        assert_eq!(
            String::from_utf8(respond(Route::Metrics { body: false }, &mut render)).unwrap(),
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n\
             Content-Length: 4\r\nConnection: close\r\n\r\n"
        );
        assert_eq!(
            String::from_utf8(respond(Route::MethodNotAllowed, &mut render)).unwrap(),
            "HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, HEAD\r\n\
             Content-Type: text/plain; charset=utf-8\r\nContent-Length: 29\r\n\
             Connection: close\r\n\r\nonly GET and HEAD are served\n"
        );
    }

    /// Drives a real server on loopback with raw clients.
    #[test]
    fn serves_and_refuses_over_tcp() {
        let mut server = MetricsServer::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = server.local_addr();
        let ask = |server: &mut MetricsServer, req: &[u8]| -> String {
            let mut c = TcpStream::connect(addr).unwrap();
            c.write_all(req).unwrap();
            c.set_read_timeout(Some(Duration::from_millis(10))).unwrap();
            let mut got = Vec::new();
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                server.poll(Instant::now(), &mut || "m 7\n".to_string());
                let mut buf = [0u8; 4096];
                match c.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                    Err(_) => {}
                }
                assert!(Instant::now() < deadline, "no answer");
            }
            String::from_utf8(got).unwrap()
        };
        let ok = ask(&mut server, b"GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n");
        assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
        assert!(ok.ends_with("\r\n\r\nm 7\n"), "{ok}");
        let nf = ask(&mut server, b"GET /other HTTP/1.1\r\n\r\n");
        assert!(nf.starts_with("HTTP/1.1 404 Not Found\r\n"), "{nf}");
        let na = ask(&mut server, b"DELETE /metrics HTTP/1.1\r\n\r\n");
        assert!(na.starts_with("HTTP/1.1 405 "), "{na}");
        let mut big = b"GET /metrics HTTP/1.1\r\nX: ".to_vec();
        big.resize(MAX_REQUEST_BYTES + 100, b'a');
        let tl = ask(&mut server, &big);
        assert!(tl.starts_with("HTTP/1.1 431 "), "{tl}");
        // A client that never finishes its head is dropped after the timeout.
        let _idle = TcpStream::connect(addr).unwrap();
        let t = Instant::now();
        while !server.conns.iter().any(|c| c.lingering.is_none()) {
            assert!(t.elapsed() < Duration::from_secs(2), "not accepted");
            server.poll(t, &mut String::new);
        }
        server.poll(
            Instant::now() + REQUEST_TIMEOUT + Duration::from_secs(1),
            &mut String::new,
        );
        assert!(server.conns.is_empty());
    }
}
