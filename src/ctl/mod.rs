//! The control socket: a Unix socket that answers `ovs-appctl -t SOCKET COMMAND ARGS...`.
//!
//! Operators already have `ovs-appctl`, and scripts already parse its output, so ferrovs speaks
//! the same protocol instead of inventing one. The protocol is JSON-RPC 1.0 over a stream: the
//! client sends `{"id":N,"method":"COMMAND","params":["ARG",...]}` (objects are concatenated, with
//! no delimiter between them) and the server answers `{"id":N,"result":"TEXT","error":null}` or
//! `{"id":N,"result":null,"error":"TEXT"}`. `ovs-appctl` prints a result on stdout and exits 0;
//! it prints an error on stderr and exits 2.
//!
//! Vocabulary:
//! - *command*: a name such as `dpif/dump-flows` plus its string arguments. [`Commands`] is the
//!   registry of known names with their usage and argument counts; it answers `list-commands`,
//!   `version`, `coverage/show` and the `vlog/*` commands itself (they concern the whole
//!   process) and rejects unknown names and wrong argument counts with the error text that Open
//!   vSwitch sends, so the switch's handler only ever sees well-formed calls.
//! - *connection*: one accepted client with its input buffer (bytes not yet framed into a request)
//!   and output buffer (reply bytes the socket has not yet taken).
//!
//! Who calls it: the control lcore's loop calls [`CtlServer::poll`] once per iteration. Nothing
//! here blocks: the listener and every connection are non-blocking, a partial request waits in
//! its buffer for the next poll, and a reply the peer is slow to read waits in the output buffer.
//!
//! Invariants:
//! - A connection has at most one reply outstanding: the next request is not read out of its
//!   buffer until the previous reply is fully written (as Open vSwitch does), so its output
//!   buffer holds at most one reply.
//! - Input is bounded: a request larger than [`MAX_REQUEST_BYTES`] closes the connection, and so
//!   do bytes that are not JSON. No peer input can panic the server.
//! - At most [`MAX_CONNECTIONS`] connections are kept; a new client displaces the oldest.
//! - Every reply to a request carries the request's `id` verbatim.
//! - Writing to a peer that went away reports `EPIPE` instead of killing the process, because the
//!   Rust runtime ignores `SIGPIPE` in every Rust `main` (ferrovs does not opt out of that).

mod commands;
pub mod inspect;
mod jsonrpc;
mod server;

use std::io;
use std::path::PathBuf;

pub use commands::{Commands, UNLIMITED_ARGS};
pub use jsonrpc::MAX_REQUEST_BYTES;
pub use server::{CtlServer, MAX_CONNECTIONS};

/// The switch's answer to a valid call of a registered command: given the command's name and
/// its arguments, `Ok(text)` becomes the reply's result and `Err(text)` its error.
pub type CommandHandler<'a> = dyn FnMut(&str, &[String]) -> Result<String, String> + 'a;

/// Why the control socket could not be set up or a command could not be registered.
#[derive(Debug, thiserror::Error)]
pub enum CtlError {
    /// The directory that should hold the socket could not be created.
    #[error("cannot create directory {path} for the control socket: {source}")]
    CreateDir { path: PathBuf, source: io::Error },
    /// Something other than a socket sits at the socket's path; it is left alone.
    #[error("{path} exists and is not a socket; refusing to replace it")]
    NotASocket { path: PathBuf },
    /// A live process accepts connections on the socket already.
    #[error("another process is already serving the control socket {path}")]
    InUse { path: PathBuf },
    /// The existing file at the socket's path could not be examined.
    #[error("cannot examine existing control socket {path}: {source}")]
    Inspect { path: PathBuf, source: io::Error },
    /// A socket left behind by a dead process could not be removed.
    #[error("cannot remove stale control socket {path}: {source}")]
    RemoveStale { path: PathBuf, source: io::Error },
    /// Creating or configuring the listening socket failed.
    #[error("cannot listen on control socket {path}: {source}")]
    Listen { path: PathBuf, source: io::Error },
    /// A command name is empty or contains whitespace, which no `ovs-appctl` call can name.
    #[error("invalid control command name {name:?}")]
    InvalidName { name: String },
    /// A command with this name is registered already.
    #[error("control command {name:?} is registered twice")]
    DuplicateCommand { name: String },
    /// The command's minimum argument count exceeds its maximum.
    #[error("control command {name:?} takes at least {min_args} but at most {max_args} arguments")]
    ArgRange {
        name: String,
        min_args: usize,
        max_args: usize,
    },
}
