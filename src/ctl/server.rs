//! The non-blocking control socket server: listener, connections and their buffers.
//!
//! [`CtlServer::poll`] does a bounded amount of work per call (a few accepts, a few requests per
//! connection) so that the control lcore's loop keeps its rhythm however busy the socket is.
//! The server owns its socket file: it replaces a stale one at bind time, refuses to take over
//! one that a live process serves, and removes its own (and only its own) when dropped.

use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

use super::commands::Commands;
use super::jsonrpc::{self, BadRequest, Frame, FrameScanner, MAX_REQUEST_BYTES};
use super::{CommandHandler, CtlError};

/// Connections accepted per poll; more wait in the kernel's backlog for the next poll.
const ACCEPTS_PER_POLL: usize = 10;
/// Requests answered per connection per poll, so one chatty client cannot starve the loop.
const REQUESTS_PER_POLL: usize = 10;
/// Open connections kept at most. A new client beyond this displaces the oldest one: clients
/// that connect and stay idle must not lock the operator's next `ovs-appctl` out.
pub const MAX_CONNECTIONS: usize = 64;
/// Bytes read from a socket per `read` call.
const READ_CHUNK: usize = 4096;

/// A control socket listening for `ovs-appctl` clients.
#[derive(Debug)]
pub struct CtlServer {
    listener: UnixListener,
    path: PathBuf,
    /// Device and inode of the socket file this server created, so that `Drop` removes it only
    /// if nobody has replaced it since.
    file_id: (u64, u64),
    connections: Vec<Connection>,
    commands: Commands,
}

impl CtlServer {
    /// Listens on the Unix socket `path`, creating its parent directory if needed.
    ///
    /// A socket file left by a process that died is replaced. If a live process accepts
    /// connections on `path`, or `path` is something other than a socket, nothing is touched
    /// and an error is returned.
    pub fn bind(path: impl AsRef<Path>) -> Result<CtlServer, CtlError> {
        let path = path.as_ref().to_path_buf();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent).map_err(|source| CtlError::CreateDir {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        remove_stale_socket(&path)?;

        let listen_error = |source| CtlError::Listen {
            path: path.clone(),
            source,
        };
        let listener = UnixListener::bind(&path).map_err(listen_error)?;
        let server_file = fs::symlink_metadata(&path).map_err(listen_error);
        // From here on a failure must not leave our fresh socket file behind.
        let configured = server_file.and_then(|meta| {
            listener.set_nonblocking(true).map_err(listen_error)?;
            Ok((meta.dev(), meta.ino()))
        });
        let file_id = match configured {
            Ok(file_id) => file_id,
            Err(e) => {
                // Best effort: the error being returned is the one worth reporting.
                let _ = fs::remove_file(&path);
                return Err(e);
            }
        };
        Ok(CtlServer {
            listener,
            path,
            file_id,
            connections: Vec::new(),
            commands: Commands::new(format!("ferrovs {}", env!("CARGO_PKG_VERSION"))),
        })
    }

    /// The socket's path, as given to [`CtlServer::bind`].
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The command registry, to register the switch's commands.
    pub fn commands_mut(&mut self) -> &mut Commands {
        &mut self.commands
    }

    /// The command registry.
    pub fn commands(&self) -> &Commands {
        &self.commands
    }

    /// How many clients are connected.
    pub fn connection_count(&self) -> usize {
        self.connections.len()
    }

    /// Accepts new clients, answers the complete requests that have arrived and sends pending
    /// replies, without blocking. `handler` is called with the name and arguments of each valid
    /// call to a registered command; `Ok` text becomes the result, `Err` text the error.
    /// Returns how many requests were answered.
    pub fn poll(&mut self, handler: &mut CommandHandler<'_>) -> usize {
        self.accept_new();
        let mut answered = 0;
        let commands = &self.commands;
        self.connections.retain_mut(|connection| {
            let (state, n) = connection.run(commands, handler);
            answered += n;
            state == ConnectionState::Open
        });
        answered
    }

    fn accept_new(&mut self) {
        for _ in 0..ACCEPTS_PER_POLL {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    // A stream that cannot be made non-blocking would stall the loop; dropping
                    // it closes it, so that client sees end of file at once.
                    if stream.set_nonblocking(true).is_err() {
                        continue;
                    }
                    if self.connections.len() >= MAX_CONNECTIONS {
                        self.connections.remove(0);
                    }
                    self.connections.push(Connection::new(stream));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // WouldBlock: nobody is waiting. Anything else (out of descriptors, a client
                // that gave up) is transient for a listener; the next poll tries again.
                Err(_) => break,
            }
        }
    }
}

impl Drop for CtlServer {
    fn drop(&mut self) {
        let ours = fs::symlink_metadata(&self.path)
            .map(|meta| (meta.dev(), meta.ino()) == self.file_id)
            .unwrap_or(false);
        if ours {
            // Nothing useful can be done about a failure while shutting down.
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Clears the way for a new socket at `path`: nothing there, or a socket nobody listens on.
fn remove_stale_socket(path: &Path) -> Result<(), CtlError> {
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(CtlError::Inspect {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    if !meta.file_type().is_socket() {
        return Err(CtlError::NotASocket {
            path: path.to_path_buf(),
        });
    }
    match UnixStream::connect(path) {
        Ok(_) => Err(CtlError::InUse {
            path: path.to_path_buf(),
        }),
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
            fs::remove_file(path).map_err(|source| CtlError::RemoveStale {
                path: path.to_path_buf(),
                source,
            })
        }
        // Removed between our look and our connect: the way is clear.
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(CtlError::Inspect {
            path: path.to_path_buf(),
            source,
        }),
    }
}

#[derive(Debug, PartialEq, Eq)]
enum ConnectionState {
    Open,
    Closed,
}

/// One client: its socket and the bytes in flight each way.
#[derive(Debug)]
struct Connection {
    stream: UnixStream,
    /// Received bytes not yet consumed as requests.
    input: Vec<u8>,
    /// How far into `input` the search for the end of the next request has got.
    scanner: FrameScanner,
    /// The reply being sent; `output[written..]` is still to go.
    output: Vec<u8>,
    written: usize,
    /// The peer shut down its sending side; answer what arrived, then close.
    peer_done: bool,
}

impl Connection {
    fn new(stream: UnixStream) -> Self {
        Connection {
            stream,
            input: Vec::new(),
            scanner: FrameScanner::default(),
            output: Vec::new(),
            written: 0,
            peer_done: false,
        }
    }

    /// Moves the connection along as far as it goes without blocking. Returns whether it stays
    /// open and how many requests it answered.
    fn run(
        &mut self,
        commands: &Commands,
        handler: &mut CommandHandler<'_>,
    ) -> (ConnectionState, usize) {
        if self.flush().is_err() || self.fill().is_err() {
            return (ConnectionState::Closed, 0);
        }
        let mut answered = 0;
        while answered < REQUESTS_PER_POLL && !self.reply_pending() {
            let (value, consumed) = match self.scanner.next_frame(&self.input) {
                Ok(Frame::Message { value, consumed }) if consumed <= MAX_REQUEST_BYTES => {
                    (value, consumed)
                }
                Ok(Frame::Incomplete) if self.input.len() <= MAX_REQUEST_BYTES => {
                    let state = if self.peer_done {
                        ConnectionState::Closed
                    } else {
                        ConnectionState::Open
                    };
                    return (state, answered);
                }
                // Too big, or not JSON: there is no way to find the next request.
                Ok(_) | Err(_) => return (ConnectionState::Closed, answered),
            };
            self.input.drain(..consumed);
            crate::coverage::UNIXCTL_RECEIVED.inc();
            let reply = match jsonrpc::parse_request(value) {
                Ok(request) => {
                    let outcome = commands.dispatch(&request.method, &request.params, handler);
                    jsonrpc::encode_reply(&request.id, outcome)
                }
                Err(BadRequest::Answerable { id, reason }) => {
                    jsonrpc::encode_reply(&id, Err(reason.to_string()))
                }
                Err(BadRequest::Unanswerable) => return (ConnectionState::Closed, answered),
            };
            answered += 1;
            self.output = reply;
            self.written = 0;
            if self.flush().is_err() {
                return (ConnectionState::Closed, answered);
            }
        }
        (ConnectionState::Open, answered)
    }

    fn reply_pending(&self) -> bool {
        self.written < self.output.len()
    }

    /// Reads what the socket holds, stopping once the buffer has more than a maximal request
    /// (the framing step then either consumes it or closes the connection).
    fn fill(&mut self) -> io::Result<()> {
        let mut chunk = [0u8; READ_CHUNK];
        while !self.peer_done && self.input.len() <= MAX_REQUEST_BYTES {
            match self.stream.read(&mut chunk) {
                Ok(0) => self.peer_done = true,
                Ok(n) => self.input.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Writes as much of the pending reply as the socket takes.
    fn flush(&mut self) -> io::Result<()> {
        while self.reply_pending() {
            match self.stream.write(&self.output[self.written..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.output.clear();
        self.written = 0;
        Ok(())
    }
}
