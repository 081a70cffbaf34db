//! connmgr: the switch's OpenFlow connections, to controllers and from tools.
//!
//! Purpose: everything about an OpenFlow connection that is not about the switch's tables.
//! Controllers (`tcp:`/`ssl:`) are connected actively and reconnected with exponential backoff;
//! service listeners (`ptcp:`/`pssl:`/`punix:`) accept tools such as `ovs-ofctl`. For each
//! connection connmgr negotiates the version, answers echo and probes a quiet peer, keeps the
//! controller role (equal/master/slave, with the generation id), the async configuration and
//! the packet-in format, rejects writes from slaves, and sends decode errors. Everything else
//! is handed to the caller's handler, whose replies connmgr encodes in the connection's
//! version. Asynchronous events go out through [`Connmgr::send_async`], filtered per
//! connection by role, async config, `miss_send_len` and the packet-in rate limit.
//!
//! Vocabulary: an *ofconn* is one OpenFlow connection. A *controller* connection is one the
//! switch opened (Open vSwitch's "primary"); a *service* connection is one a listener accepted.
//! *Fail-open*: in standalone fail mode, when no controller has been connected for three probe
//! intervals, the switch should behave as a learning switch; connmgr decides
//! ([`Connmgr::fail_open`]) and the switch acts.
//!
//! Who calls it: the control lcore's loop calls [`Connmgr::poll`] every iteration and
//! [`Connmgr::send_async`] when ofproto has something to tell controllers; it changes
//! controllers and fail mode at run time with [`Connmgr::set_controllers`] and
//! [`Connmgr::set_fail_mode`], and ends every connection cleanly with [`Connmgr::shutdown`]
//! (the only call that waits, up to its deadline) when the switch stops. Otherwise nothing blocks:
//! sockets are non-blocking, connects are asynchronous, TLS is driven by hand, and each poll
//! does a bounded amount of work per connection.
//!
//! Invariants:
//! - No peer input panics or blocks: bad messages get the OpenFlow error Open vSwitch sends;
//!   input that cannot be framed closes only that connection.
//! - Memory per connection is bounded: input holds at most two maximal messages; output at
//!   most half of `queue_limit` plus the replies to one request. Async messages are dropped
//!   (and counted) first; a peer that does not read is no longer read from, and is
//!   disconnected when its queue passes `queue_limit` or after three probe intervals.
//! - The handler sees only messages from connections that finished version negotiation, and
//!   never a write (flow-mod, packet-out, port-mod, group-mod, meter-mod, table-mod, bundle,
//!   resume) from a slave.
//! - At most one connection is master; a generation id older than the newest seen is refused.

mod ofconn;
mod rate;
mod stream;
mod target;

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::ofp::ext::NxMessage;
use crate::ofp::hello::{self, Hello};
use crate::ofp::{self, ErrorMsg, Header, Message, OfpError, RoleMsg, Version};

pub use ofconn::ConnStats;
use ofconn::{Frame, Ofconn, PacketInFormat, Phase, MESSAGES_PER_POLL};
pub use rate::RateLimit;
use rate::TokenBucket;
pub use stream::TlsFiles;
use stream::{Accepted, Connecting, Listener, Stream, TlsConfigs};
pub use target::{ControllerTarget, ListenTarget, TargetError, OFP_PORT};

/// What the switch does without a controller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailMode {
    /// Keep the flows, send table misses nowhere.
    #[default]
    Secure,
    /// After three probe intervals without a controller, act as a learning switch.
    Standalone,
}

impl std::str::FromStr for FailMode {
    type Err = String;

    fn from_str(s: &str) -> Result<FailMode, String> {
        match s {
            "secure" => Ok(FailMode::Secure),
            "standalone" => Ok(FailMode::Standalone),
            _ => Err(format!(
                "{s:?}: fail mode must be \"secure\" or \"standalone\""
            )),
        }
    }
}

/// Everything connmgr needs, filled by the binary from flags or the config file.
#[derive(Debug, Clone)]
pub struct ConnmgrConfig {
    pub datapath_id: u64,
    pub controllers: Vec<ControllerTarget>,
    pub listeners: Vec<ListenTarget>,
    pub fail_mode: FailMode,
    /// Versions offered in our HELLO.
    pub versions: Vec<Version>,
    /// Inactivity probe interval (Open vSwitch's default is 5 s).
    pub probe_interval: Duration,
    /// Reconnect backoff: first delay, doubled after each failure up to `backoff_max`.
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// Required when any target is `ssl:` or `pssl:`.
    pub tls: Option<TlsFiles>,
    /// Packet-in limit per connection; `None` sends every packet-in.
    pub packet_in_limit: Option<RateLimit>,
    /// Output queue cap per connection, in bytes.
    pub queue_limit: usize,
}

impl Default for ConnmgrConfig {
    fn default() -> Self {
        ConnmgrConfig {
            datapath_id: 0,
            controllers: Vec::new(),
            listeners: Vec::new(),
            fail_mode: FailMode::Secure,
            versions: Version::ALL.to_vec(),
            probe_interval: Duration::from_secs(5),
            backoff_min: Duration::from_secs(1),
            backoff_max: Duration::from_secs(8),
            tls: None,
            packet_in_limit: None,
            queue_limit: 1 << 20,
        }
    }
}

/// Why connmgr could not start.
#[derive(Debug, thiserror::Error)]
pub enum ConnmgrError {
    #[error("cannot listen on {target}: {source}")]
    Listen { target: String, source: io::Error },
    #[error("{target} needs TLS files (private key, certificate, CA certificate)")]
    TlsMissing { target: String },
    #[error("TLS setup failed with {path}: {reason}")]
    Tls { path: PathBuf, reason: String },
    #[error("no OpenFlow version configured")]
    NoVersions,
}

/// A connection's identity, stable for its lifetime and never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnKind {
    Controller,
    Service,
}

/// The controller role (OpenFlow 1.2+ and Nicira).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Role {
    #[default]
    Equal,
    Master,
    Slave,
}

impl Role {
    /// OpenFlow 1.2+ `OFPCR_ROLE_*` (0 is "no change").
    fn to_of12(self) -> u32 {
        match self {
            Role::Equal => 1,
            Role::Master => 2,
            Role::Slave => 3,
        }
    }

    fn from_of12(v: u32) -> Option<Role> {
        match v {
            1 => Some(Role::Equal),
            2 => Some(Role::Master),
            3 => Some(Role::Slave),
            _ => None,
        }
    }

    /// Nicira `NX_ROLE_*`.
    fn to_nx(self) -> u32 {
        match self {
            Role::Equal => 0,
            Role::Master => 1,
            Role::Slave => 2,
        }
    }

    fn from_nx(v: u32) -> Option<Role> {
        match v {
            0 => Some(Role::Equal),
            1 => Some(Role::Master),
            2 => Some(Role::Slave),
            _ => None,
        }
    }
}

/// What the handler knows about the connection a request came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnInfo {
    pub id: ConnId,
    pub kind: ConnKind,
    /// The controller target, or the peer's address for a service connection.
    pub name: String,
    /// The negotiated version.
    pub version: Version,
    pub role: Role,
    /// From SET_CONFIG: 128 by default for controllers, 0 for service connections.
    pub miss_send_len: u16,
    /// SET_CONFIG's `OFPC_INVALID_TTL_TO_CONTROLLER`, for GET_CONFIG replies.
    pub invalid_ttl_to_controller: bool,
    /// `NXT_FLOW_MOD_TABLE_ID`: the high byte of an OpenFlow 1.0 flow-mod command is a table.
    pub flow_mod_table_id: bool,
    /// `NXT_SET_FLOW_FORMAT`: the peer asked for NXM (`NXFF_NXM`) rather than OpenFlow 1.0
    /// matches in flow-removed and flow stats.
    pub nxm_flow_format: bool,
    /// `NXT_SET_CONTROLLER_ID`, 0 until set.
    pub controller_id: u16,
}

/// One request, as the handler sees it.
#[derive(Debug)]
pub struct Request<'a> {
    pub header: Header,
    pub message: &'a Message,
    /// The request's bytes (an error reply carries up to 64 of them).
    pub raw: &'a [u8],
}

/// The switch's part: answers a request with replies (encoded with the request's xid) or an
/// error (sent as an OFPT_ERROR carrying the request's first 64 bytes).
pub type Handler<'a> = dyn FnMut(&ConnInfo, &Request<'_>) -> Result<Vec<Message>, OfpError> + 'a;

/// Packet-ins, flow-removed and port-status, version-neutral: ofproto and translation
/// produce them, and each connection filters and encodes them for its own version.
pub use crate::ofproto::{AsyncEvent, PacketInEvent};

/// Why a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    PeerClosed,
    Io(io::ErrorKind),
    Tls,
    /// The first message was not a HELLO, or no HELLO came within a probe interval.
    NoHello,
    /// No common version; an OFPHFC_INCOMPATIBLE error was sent.
    HelloFailed,
    /// A length field below 8: the byte stream cannot be framed.
    Unframeable,
    /// Two probes went unanswered.
    Inactivity,
    /// A reply did not fit the output queue: the peer is not reading.
    QueueOverflow,
    /// The connection took longer than the backoff interval to connect.
    ConnectTimeout,
    /// Its controller target was removed from the configuration at run time.
    Unconfigured,
    /// The switch is stopping.
    Shutdown,
}

/// A connection that ended, for logs and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClosedConn {
    pub id: ConnId,
    pub kind: ConnKind,
    pub name: String,
    pub reason: CloseReason,
}

/// The state of one configured controller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControllerStatus {
    pub target: ControllerTarget,
    /// The connection, once version negotiation succeeded.
    pub connected: Option<ConnId>,
    /// Connection attempts so far.
    pub attempts: u64,
    /// The delay before the next attempt after a failure.
    pub backoff: Duration,
    pub last_close: Option<CloseReason>,
}

#[derive(Debug)]
enum SlotState {
    Idle { next_attempt: Instant },
    Connecting { connect: Connecting, since: Instant },
    Attached(ConnId),
}

#[derive(Debug)]
struct ControllerSlot {
    target: ControllerTarget,
    state: SlotState,
    backoff: Duration,
    attempts: u64,
    last_close: Option<CloseReason>,
}

const CLOSED_LOG_MAX: usize = 64;
const ACCEPTS_PER_POLL: usize = 10;
/// `OFPCR_*` reason for a role-status sent to a demoted master.
const OFPCRR_MASTER_REQUEST: u8 = 0;
/// `OFPT_ROLE_STATUS` (1.4+): not in the codec's message set, written here.
const OFPT_ROLE_STATUS: u8 = 30;
/// OpenFlow's default `miss_send_len` for controllers.
const DEFAULT_MISS_SEND_LEN: u16 = 128;
/// `OFPC_INVALID_TTL_TO_CONTROLLER` in SET_CONFIG flags.
const OFPC_INVALID_TTL_TO_CONTROLLER: u16 = 4;
/// `NXT_SET_FLOW_FORMAT` values.
const NXFF_OPENFLOW10: u32 = 0;
const NXFF_NXM: u32 = 2;
/// `OFPR_INVALID_TTL` bit in the packet-in masks.
const INVALID_TTL_BIT: u32 = 1 << 2;

/// The connection manager of one bridge.
#[derive(Debug)]
pub struct Connmgr {
    config: ConnmgrConfig,
    tls: Option<TlsConfigs>,
    listeners: Vec<(ListenTarget, Listener)>,
    slots: Vec<ControllerSlot>,
    conns: Vec<Ofconn>,
    next_id: u64,
    /// The newest master election generation id, once one was given.
    generation_id: Option<u64>,
    /// When a controller connection was last seen open (start-up counts as one).
    last_controller: Instant,
    closed: VecDeque<ClosedConn>,
    hello: Vec<u8>,
}

impl Connmgr {
    /// Binds the listeners and loads TLS files. Controllers are connected from the first poll.
    pub fn new(config: ConnmgrConfig) -> Result<Connmgr, ConnmgrError> {
        let max = *config
            .versions
            .iter()
            .max()
            .ok_or(ConnmgrError::NoVersions)?;
        let needs_tls = config
            .controllers
            .iter()
            .find(|c| matches!(c, ControllerTarget::Ssl(_)))
            .map(|c| c.to_string())
            .or_else(|| {
                config
                    .listeners
                    .iter()
                    .find(|l| matches!(l, ListenTarget::Ssl(_)))
                    .map(|l| l.to_string())
            });
        let tls = match (&config.tls, needs_tls) {
            (Some(files), Some(_)) => Some(TlsConfigs::load(files)?),
            (None, Some(target)) => return Err(ConnmgrError::TlsMissing { target }),
            (_, None) => None,
        };
        let mut listeners = Vec::new();
        for target in &config.listeners {
            let l = match target {
                ListenTarget::Tcp(a) => Listener::bind_tcp(*a, false),
                ListenTarget::Ssl(a) => Listener::bind_tcp(*a, true),
                ListenTarget::Unix(p) => Listener::bind_unix(p),
            }
            .map_err(|source| ConnmgrError::Listen {
                target: target.to_string(),
                source,
            })?;
            listeners.push((target.clone(), l));
        }
        let now = Instant::now();
        let slots = config
            .controllers
            .iter()
            .map(|t| ControllerSlot {
                target: t.clone(),
                state: SlotState::Idle { next_attempt: now },
                backoff: config.backoff_min,
                attempts: 0,
                last_close: None,
            })
            .collect();
        let mut hello = Vec::new();
        // A HELLO always encodes.
        let _ = Message::Hello(Hello::for_versions(&config.versions)).encode(max, 0, &mut hello);
        Ok(Connmgr {
            config,
            tls,
            listeners,
            slots,
            conns: Vec::new(),
            next_id: 1,
            generation_id: None,
            last_controller: now,
            closed: VecDeque::new(),
            hello,
        })
    }

    pub fn config(&self) -> &ConnmgrConfig {
        &self.config
    }

    /// The listeners with the addresses they are bound to (useful with port 0).
    pub fn listen_addrs(&self) -> Vec<(ListenTarget, Option<SocketAddr>)> {
        self.listeners
            .iter()
            .map(|(t, l)| (t.clone(), l.local_addr()))
            .collect()
    }

    /// Connections that finished version negotiation, with their counters.
    pub fn connections(&self) -> impl Iterator<Item = (&ConnInfo, &ConnStats)> {
        self.conns
            .iter()
            .filter(|c| c.is_open())
            .map(|c| (&c.info, &c.stats))
    }

    pub fn controllers(&self) -> Vec<ControllerStatus> {
        self.slots
            .iter()
            .map(|s| ControllerStatus {
                target: s.target.clone(),
                connected: match s.state {
                    SlotState::Attached(id) => self
                        .conns
                        .iter()
                        .find(|c| c.info.id == id && c.is_open())
                        .map(|c| c.info.id),
                    _ => None,
                },
                attempts: s.attempts,
                backoff: s.backoff,
                last_close: s.last_close,
            })
            .collect()
    }

    /// Replaces the controller targets at run time. A target that stays keeps its connection
    /// (and its role, async config and backoff); a removed one is closed after what is queued
    /// for it is sent; a new one is connected from the next poll. Listeners and service
    /// connections are untouched. Refused, with nothing changed, when a new `ssl:` target
    /// has no TLS files to use.
    pub fn set_controllers(
        &mut self,
        targets: &[ControllerTarget],
        now: Instant,
    ) -> Result<(), ConnmgrError> {
        if self.tls.is_none() {
            if let Some(t) = targets
                .iter()
                .find(|t| matches!(t, ControllerTarget::Ssl(_)))
            {
                let files = self
                    .config
                    .tls
                    .as_ref()
                    .ok_or_else(|| ConnmgrError::TlsMissing {
                        target: t.to_string(),
                    })?;
                self.tls = Some(TlsConfigs::load(files)?);
            }
        }
        if self.slots.is_empty() && !targets.is_empty() {
            // A controller that was never configured has not been "missing" until now:
            // fail-open starts counting from here.
            self.last_controller = now;
        }
        let mut old: Vec<Option<ControllerSlot>> = std::mem::take(&mut self.slots)
            .into_iter()
            .map(Some)
            .collect();
        // Old slot index -> new slot index, for the connections that stay.
        let mut moved: Vec<Option<usize>> = vec![None; old.len()];
        for t in targets {
            if self.slots.iter().any(|s| s.target == *t) {
                continue;
            }
            let kept = old
                .iter()
                .position(|s| s.as_ref().is_some_and(|s| s.target == *t));
            let slot = match kept.and_then(|j| old[j].take().map(|s| (j, s))) {
                Some((j, slot)) => {
                    moved[j] = Some(self.slots.len());
                    slot
                }
                None => ControllerSlot {
                    target: t.clone(),
                    state: SlotState::Idle { next_attempt: now },
                    backoff: self.config.backoff_min,
                    attempts: 0,
                    last_close: None,
                },
            };
            self.slots.push(slot);
        }
        for c in &mut self.conns {
            if let Some(j) = c.controller {
                c.controller = moved.get(j).copied().flatten();
                if c.controller.is_none() {
                    c.close_after_flush(CloseReason::Unconfigured);
                }
            }
        }
        self.config.controllers = self.slots.iter().map(|s| s.target.clone()).collect();
        Ok(())
    }

    /// Changes the fail mode at run time; [`Connmgr::fail_open`] answers by it from now on.
    pub fn set_fail_mode(&mut self, mode: FailMode) {
        self.config.fail_mode = mode;
    }

    /// Stops every connection cleanly: whatever is queued is written (replies and async
    /// messages are queued whole, so a peer that reads everything gets whole messages only),
    /// then each side gets a TLS close_notify and a FIN, and what the peer still sends is
    /// drained until it closes too, so the kernel never resets a connection whose last bytes
    /// the peer has not read yet. Returns at `deadline` at the latest, with how many
    /// connections still had queued bytes then (a peer that stopped reading).
    pub fn shutdown(&mut self, deadline: Instant) -> usize {
        for c in &mut self.conns {
            c.close_after_flush(CloseReason::Shutdown);
        }
        // A closing connection turns closed once its queue and its TLS records are all out
        // (or on a write error).
        loop {
            for c in &mut self.conns {
                c.flush();
            }
            if self.conns.iter().all(Ofconn::is_closed) || Instant::now() >= deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        let unsent = self.conns.iter().filter(|c| !c.is_closed()).count();
        for c in &mut self.conns {
            c.half_close();
        }
        let mut done = vec![false; self.conns.len()];
        loop {
            for (c, done) in self.conns.iter_mut().zip(done.iter_mut()) {
                *done = *done || c.discard_input();
            }
            if done.iter().all(|&d| d) || Instant::now() >= deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        self.conns.clear();
        self.slots.clear();
        self.listeners.clear();
        unsent
    }

    /// Connections that ended since the last call, oldest first (at most 64 are kept).
    pub fn take_closed(&mut self) -> Vec<ClosedConn> {
        self.closed.drain(..).collect()
    }

    /// True when the switch should act as a learning switch on its own: standalone mode, and
    /// either no controller is configured or none has been connected for three probe
    /// intervals. Turns false as soon as a controller is connected again.
    pub fn fail_open(&self, now: Instant) -> bool {
        if self.config.fail_mode != FailMode::Standalone {
            return false;
        }
        if self.slots.is_empty() {
            return true;
        }
        if self
            .conns
            .iter()
            .any(|c| c.info.kind == ConnKind::Controller && c.is_open())
        {
            return false;
        }
        now.saturating_duration_since(self.last_controller) >= 3 * self.config.probe_interval
    }

    /// Does one round of connection work: connects controllers, accepts service connections,
    /// reads, answers and forwards requests, probes, writes, and drops dead connections.
    /// Returns how many messages were handled.
    pub fn poll(&mut self, now: Instant, handler: &mut Handler<'_>) -> usize {
        self.run_controllers(now);
        self.accept(now);
        let mut handled = 0;
        for i in 0..self.conns.len() {
            self.conns[i].flush();
            self.conns[i].fill(now);
            for _ in 0..MESSAGES_PER_POLL {
                let c = &mut self.conns[i];
                // Past half the queue limit, requests wait until the peer reads its replies.
                if !matches!(c.phase, Phase::AwaitHello | Phase::Open) || !c.reading_allowed() {
                    break;
                }
                match c.take_frame() {
                    Frame::None => {
                        if c.peer_done {
                            c.close_after_flush(CloseReason::PeerClosed);
                        }
                        break;
                    }
                    Frame::Unframeable => {
                        c.close(CloseReason::Unframeable);
                        break;
                    }
                    Frame::Message(raw) => {
                        handled += 1;
                        self.handle(i, &raw, handler);
                    }
                }
            }
            let c = &mut self.conns[i];
            c.run_probe(now, self.config.probe_interval);
            c.flush();
        }
        if self
            .conns
            .iter()
            .any(|c| c.info.kind == ConnKind::Controller && c.is_open())
        {
            self.last_controller = now;
        }
        self.reap(now);
        handled
    }

    /// Offers an asynchronous event to every connection; returns to how many it was queued.
    pub fn send_async(&mut self, event: &AsyncEvent, now: Instant) -> usize {
        let mut n = 0;
        for c in &mut self.conns {
            if c.offer(event, now) {
                n += 1;
            }
        }
        n
    }

    /// Sends `msg` with `xid` on connection `id` outside a handler call, for answers the
    /// switch finishes later (a postponed barrier reply, an error for a flow-mod that failed
    /// in the datapath). False if the connection is gone, or the message cannot be encoded
    /// in its version.
    pub fn send_to(&mut self, id: ConnId, xid: u32, msg: &Message) -> bool {
        let Some(c) = self
            .conns
            .iter_mut()
            .find(|c| c.info.id == id && c.is_open())
        else {
            return false;
        };
        c.reply(msg, xid).is_ok()
    }

    fn new_conn(
        &mut self,
        kind: ConnKind,
        name: String,
        stream: Stream,
        slot: Option<usize>,
        now: Instant,
    ) -> ConnId {
        let id = ConnId(self.next_id);
        self.next_id += 1;
        let version = self
            .config
            .versions
            .iter()
            .copied()
            .max()
            .unwrap_or(Version::V1_3);
        let info = ConnInfo {
            id,
            kind,
            name,
            version,
            role: Role::Equal,
            miss_send_len: if kind == ConnKind::Controller {
                DEFAULT_MISS_SEND_LEN
            } else {
                0
            },
            invalid_ttl_to_controller: false,
            flow_mod_table_id: false,
            nxm_flow_format: false,
            controller_id: 0,
        };
        let rate = self
            .config
            .packet_in_limit
            .map(|l| TokenBucket::new(l, now));
        let mut c = Ofconn::new(info, stream, self.config.queue_limit, rate, slot, now);
        c.send_reply(&self.hello);
        c.flush();
        self.conns.push(c);
        id
    }

    fn run_controllers(&mut self, now: Instant) {
        for idx in 0..self.slots.len() {
            let slot = &mut self.slots[idx];
            match &slot.state {
                SlotState::Attached(_) => {}
                SlotState::Idle { next_attempt } => {
                    if now < *next_attempt {
                        continue;
                    }
                    slot.attempts += 1;
                    let addr = match slot.target {
                        ControllerTarget::Tcp(a) | ControllerTarget::Ssl(a) => a,
                    };
                    match Connecting::start(addr) {
                        Ok(connect) => {
                            slot.state = SlotState::Connecting {
                                connect,
                                since: now,
                            }
                        }
                        Err(e) => self.slot_failed(idx, CloseReason::Io(e.kind()), now),
                    }
                }
                SlotState::Connecting { connect, since } => {
                    let timeout = slot.backoff.max(Duration::from_secs(1));
                    match connect.check() {
                        Ok(true) => self.attach(idx, now),
                        Ok(false) if now.saturating_duration_since(*since) > timeout => {
                            self.slot_failed(idx, CloseReason::ConnectTimeout, now)
                        }
                        Ok(false) => {}
                        Err(e) => self.slot_failed(idx, CloseReason::Io(e.kind()), now),
                    }
                }
            }
        }
    }

    fn attach(&mut self, idx: usize, now: Instant) {
        let slot = &mut self.slots[idx];
        let state = std::mem::replace(&mut slot.state, SlotState::Idle { next_attempt: now });
        let SlotState::Connecting { connect, .. } = state else {
            return;
        };
        let addr = connect.addr;
        let sock = connect.into_stream();
        let stream = match slot.target {
            ControllerTarget::Tcp(_) => Ok(Stream::Tcp(sock)),
            ControllerTarget::Ssl(_) => match &self.tls {
                Some(tls) => Stream::tls_client(sock, &tls.client, addr),
                None => Err(io::ErrorKind::Unsupported.into()),
            },
        };
        match stream {
            Ok(stream) => {
                let name = slot.target.to_string();
                let id = self.new_conn(ConnKind::Controller, name, stream, Some(idx), now);
                self.slots[idx].state = SlotState::Attached(id);
            }
            Err(e) => self.slot_failed(idx, CloseReason::Io(e.kind()), now),
        }
    }

    /// Schedules the next attempt one backoff from now and doubles the backoff.
    fn slot_failed(&mut self, idx: usize, reason: CloseReason, now: Instant) {
        let slot = &mut self.slots[idx];
        slot.last_close = Some(reason);
        slot.state = SlotState::Idle {
            next_attempt: now + slot.backoff,
        };
        crate::vlog_rl!(
            log::Level::Info,
            "{}: no connection ({reason:?}); next attempt in {:.1} s",
            slot.target,
            slot.backoff.as_secs_f64()
        );
        slot.backoff = (slot.backoff * 2).min(self.config.backoff_max);
    }

    fn accept(&mut self, now: Instant) {
        let mut accepted = Vec::new();
        for (target, l) in &self.listeners {
            for _ in 0..ACCEPTS_PER_POLL {
                let Some(a) = l.accept() else { break };
                let stream = match a {
                    Accepted::Unix(s) => Ok((Stream::Unix(s), target.to_string())),
                    Accepted::Tcp(s, peer) => {
                        let name = peer.to_string();
                        if l.is_tls() {
                            match &self.tls {
                                Some(tls) => Stream::tls_server(s, &tls.server).map(|s| (s, name)),
                                None => Err(io::ErrorKind::Unsupported.into()),
                            }
                        } else {
                            Ok((Stream::Tcp(s), name))
                        }
                    }
                };
                // A connection we cannot set up is dropped, which closes it for the peer.
                if let Ok(s) = stream {
                    accepted.push(s);
                }
            }
        }
        for (stream, name) in accepted {
            self.new_conn(ConnKind::Service, name, stream, None, now);
        }
    }

    fn reap(&mut self, now: Instant) {
        let mut i = 0;
        while i < self.conns.len() {
            let Phase::Closed(reason) = self.conns[i].phase else {
                i += 1;
                continue;
            };
            let c = self.conns.swap_remove(i);
            crate::vlog_rl!(
                log::Level::Info,
                "{}: connection closed ({reason:?})",
                c.info.name
            );
            if let Some(idx) = c.controller {
                self.slot_failed(idx, reason, now);
            }
            if self.closed.len() == CLOSED_LOG_MAX {
                self.closed.pop_front();
            }
            self.closed.push_back(ClosedConn {
                id: c.info.id,
                kind: c.info.kind,
                name: c.info.name.clone(),
                reason,
            });
        }
    }

    /// Handles one framed message from connection `i`.
    fn handle(&mut self, i: usize, raw: &[u8], handler: &mut Handler<'_>) {
        if self.conns[i].phase == Phase::AwaitHello {
            self.handle_hello(i, raw);
            return;
        }
        let c = &mut self.conns[i];
        if !c.check_overflow() {
            return;
        }
        crate::coverage::OFCONN_RECEIVED.inc();
        let version = c.info.version;
        let (header, msg) = match Header::parse(raw) {
            Ok(h) if h.version != version.wire() => (h, Err(OfpError::OFPBRC_BAD_VERSION)),
            Ok(h) => (h, ofp::decode(raw).map(|(_, m)| m)),
            // Framing guarantees 8 bytes; this cannot happen, but must not panic either.
            Err(_) => {
                c.close(CloseReason::Unframeable);
                return;
            }
        };
        let result = msg.and_then(|m| self.dispatch(i, header, &m, raw, handler));
        if let Err(e) = result {
            let c = &mut self.conns[i];
            crate::coverage::OFCONN_ERROR_REPLY.inc();
            crate::vlog_rl!(
                log::Level::Warn,
                "{}: message type {} (xid {:#x}) answered with error {e}",
                c.info.name,
                header.msg_type,
                header.xid
            );
            // An error is always encodable: unknown ones become NXBRC_UNENCODABLE_ERROR.
            let _ = c.reply(&Message::Error(ErrorMsg::reply_to(e, raw)), header.xid);
        }
    }

    fn handle_hello(&mut self, i: usize, raw: &[u8]) {
        let c = &mut self.conns[i];
        let decoded = match ofp::decode(raw) {
            Ok((h, Message::Hello(hello))) => (h, hello),
            // Anything before the HELLO means the peer does not speak OpenFlow as we do.
            _ => {
                c.close(CloseReason::NoHello);
                return;
            }
        };
        let (h, peer) = decoded;
        match hello::negotiate(&self.config.versions, h.version, &peer) {
            Ok(v) => {
                crate::vlog_rl!(
                    log::Level::Info,
                    "{}: connected ({})",
                    c.info.name,
                    v.name()
                );
                c.info.version = v;
                c.phase = Phase::Open;
                c.reset_async_config();
                if let Some(idx) = c.controller {
                    self.slots[idx].backoff = self.config.backoff_min;
                    self.slots[idx].last_close = None;
                }
            }
            Err(e) => {
                let ours: Vec<String> = self
                    .config
                    .versions
                    .iter()
                    .map(|v| v.name().to_string())
                    .collect();
                let text = format!(
                    "We support {}; you support no version in common (your HELLO said 0x{:02x}).",
                    ours.join(", "),
                    h.version
                );
                let lowest = self
                    .config
                    .versions
                    .iter()
                    .copied()
                    .min()
                    .unwrap_or(Version::V1_0);
                let v = Version::from_wire(h.version).unwrap_or(lowest);
                let mut out = Vec::new();
                let err = Message::Error(ErrorMsg {
                    kind: ofp::ErrorKind::Known(e),
                    data: text.into_bytes(),
                });
                if err.encode(v, h.xid, &mut out).is_ok() {
                    c.send_reply(&out);
                }
                c.close_after_flush(CloseReason::HelloFailed);
            }
        }
    }

    /// Handles what connmgr owns and hands the rest to `handler`. Replies are queued here.
    fn dispatch(
        &mut self,
        i: usize,
        header: Header,
        msg: &Message,
        raw: &[u8],
        handler: &mut Handler<'_>,
    ) -> Result<(), OfpError> {
        let xid = header.xid;
        let c = &mut self.conns[i];
        match msg {
            Message::EchoRequest(d) => return c.reply(&Message::EchoReply(d.clone()), xid),
            Message::EchoReply(_) => return Ok(()),
            // Never answer an error with an error: two switches would loop forever.
            Message::Error(_) => return Ok(()),
            Message::RoleRequest(m) => {
                let role = Role::from_of12(m.role);
                self.change_role(i, role, Some(m.generation_id))?;
                let c = &mut self.conns[i];
                let reply = RoleMsg {
                    role: c.info.role.to_of12(),
                    generation_id: self.generation_id.unwrap_or(0),
                };
                return c.reply(&Message::RoleReply(reply), xid);
            }
            Message::Nx(NxMessage::RoleRequest(r)) => {
                let role = Role::from_nx(*r).ok_or(OfpError::OFPRRFC_BAD_ROLE)?;
                self.change_role(i, Some(role), None)?;
                let c = &mut self.conns[i];
                let reply = Message::Nx(NxMessage::RoleReply(c.info.role.to_nx()));
                return c.reply(&reply, xid);
            }
            Message::GetAsyncRequest => {
                return c.reply(&Message::GetAsyncReply(c.async_config()), xid)
            }
            Message::SetAsync(cfg) => {
                let full = c.info.version < Version::V1_4;
                c.apply_async_config(cfg, full);
                sync_invalid_ttl(c);
                return Ok(());
            }
            Message::Nx(NxMessage::SetAsyncConfig(cfg)) => {
                c.apply_async_config(cfg, true);
                sync_invalid_ttl(c);
                return Ok(());
            }
            Message::Nx(NxMessage::SetAsyncConfig2(cfg)) => {
                c.apply_async_config(cfg, false);
                sync_invalid_ttl(c);
                return Ok(());
            }
            Message::Nx(NxMessage::SetPacketInFormat(f)) => {
                c.packet_in_format = match f {
                    0 => PacketInFormat::Standard,
                    2 => PacketInFormat::NxPacketIn2,
                    // NXPIF_NXT_PACKET_IN (1) is not generated; unknown formats likewise.
                    _ => return Err(OfpError::OFPBRC_EPERM),
                };
                return Ok(());
            }
            Message::Nx(NxMessage::FlowModTableId(on)) => {
                c.info.flow_mod_table_id = *on;
                return Ok(());
            }
            Message::Nx(NxMessage::SetFlowFormat(f)) => {
                c.info.nxm_flow_format = match *f {
                    NXFF_OPENFLOW10 => false,
                    NXFF_NXM => true,
                    _ => return Err(OfpError::OFPBRC_EPERM),
                };
                return Ok(());
            }
            Message::Nx(NxMessage::SetController(id)) => {
                c.info.controller_id = *id;
                return Ok(());
            }
            // Accepting it tells the peer that flow stats carry idle and hard ages.
            Message::Nx(NxMessage::FlowAge) => return Ok(()),
            Message::SetConfig(cfg) => {
                c.info.miss_send_len = cfg.miss_send_len;
                let pin_master = &mut c.async_masks[1];
                if cfg.flags & OFPC_INVALID_TTL_TO_CONTROLLER != 0 {
                    *pin_master |= INVALID_TTL_BIT;
                } else {
                    *pin_master &= !INVALID_TTL_BIT;
                }
                sync_invalid_ttl(c);
                // Fragment handling is the switch's; the handler sees the message too.
            }
            Message::Hello(_)
            | Message::FeaturesReply(_)
            | Message::GetConfigReply(_)
            | Message::PacketIn(_)
            | Message::FlowRemoved(_)
            | Message::PortStatus(_)
            | Message::MultipartReply(_)
            | Message::BarrierReply
            | Message::RoleReply(_)
            | Message::GetAsyncReply(_)
            | Message::Nx(NxMessage::RoleReply(_))
            | Message::Nx(NxMessage::PacketIn2(_)) => return Err(OfpError::OFPBRC_BAD_TYPE),
            Message::FlowMod(_)
            | Message::Nx(NxMessage::FlowMod(_))
            | Message::PacketOut(_)
            | Message::PortMod(_)
            | Message::GroupMod(_)
            | Message::TableMod(_)
            | Message::MeterMod(_)
            | Message::BundleControl(_)
            | Message::BundleAdd(_)
            | Message::Nx(NxMessage::Resume(_))
                if c.info.role == Role::Slave =>
            {
                return Err(OfpError::OFPBRC_IS_SECONDARY)
            }
            _ => {}
        }
        let c = &mut self.conns[i];
        let request = Request {
            header,
            message: msg,
            raw,
        };
        let replies = handler(&c.info, &request)?;
        for r in &replies {
            if let Err(e) = c.reply(r, xid) {
                // The switch produced something this version cannot carry: tell the peer.
                c.reply(&Message::Error(ErrorMsg::reply_to(e, raw)), xid)?;
            }
        }
        Ok(())
    }

    /// Applies a role request. `generation` is given for OpenFlow 1.2+ requests.
    fn change_role(
        &mut self,
        i: usize,
        role: Option<Role>,
        generation: Option<u64>,
    ) -> Result<(), OfpError> {
        let Some(role) = role else {
            // OFPCR_ROLE_NOCHANGE: report, change nothing.
            return Ok(());
        };
        if role != Role::Equal {
            if let Some(g) = generation {
                if let Some(cur) = self.generation_id {
                    // Generation ids wrap: compare by signed distance.
                    if (g.wrapping_sub(cur) as i64) < 0 {
                        return Err(OfpError::OFPRRFC_STALE);
                    }
                }
                self.generation_id = Some(g);
            }
        }
        if role == Role::Master && self.conns[i].info.role != Role::Master {
            let generation_id = self.generation_id.unwrap_or(u64::MAX);
            for (j, other) in self.conns.iter_mut().enumerate() {
                if j != i && other.info.role == Role::Master {
                    other.info.role = Role::Slave;
                    if other.is_open() && other.info.version >= Version::V1_4 {
                        let msg = role_status(
                            other.info.version,
                            Role::Slave,
                            OFPCRR_MASTER_REQUEST,
                            generation_id,
                        );
                        other.send_async(&msg);
                    }
                }
            }
        }
        self.conns[i].info.role = role;
        Ok(())
    }
}

fn sync_invalid_ttl(c: &mut Ofconn) {
    c.info.invalid_ttl_to_controller = c.async_masks[1] & INVALID_TTL_BIT != 0;
}

/// `OFPT_ROLE_STATUS` (OpenFlow 1.4+): role, reason, generation id.
fn role_status(v: Version, role: Role, reason: u8, generation_id: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(24);
    out.extend_from_slice(&[v.wire(), OFPT_ROLE_STATUS, 0, 24, 0, 0, 0, 0]);
    out.extend_from_slice(&role.to_of12().to_be_bytes());
    out.extend_from_slice(&[reason, 0, 0, 0]);
    out.extend_from_slice(&generation_id.to_be_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_status_bytes() {
        // OFPT_ROLE_STATUS, OpenFlow 1.4: role SLAVE (3), reason MASTER_REQUEST, generation 6.
        assert_eq!(
            role_status(Version::V1_4, Role::Slave, OFPCRR_MASTER_REQUEST, 6),
            [5, 30, 0, 24, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 6]
        );
    }

    #[test]
    fn role_numbering() {
        for r in [Role::Equal, Role::Master, Role::Slave] {
            assert_eq!(Role::from_of12(r.to_of12()), Some(r));
            assert_eq!(Role::from_nx(r.to_nx()), Some(r));
        }
        assert_eq!(Role::from_of12(0), None, "NOCHANGE is not a role");
        assert_eq!(Role::from_nx(3), None);
        assert_eq!(Role::Master.to_of12(), 2);
        assert_eq!(Role::Master.to_nx(), 1);
    }

    #[test]
    fn fail_mode_parse() {
        assert_eq!("secure".parse(), Ok(FailMode::Secure));
        assert_eq!("standalone".parse(), Ok(FailMode::Standalone));
        assert!("open".parse::<FailMode>().is_err());
    }

    #[test]
    fn no_versions_is_an_error() {
        let e = Connmgr::new(ConnmgrConfig {
            versions: vec![],
            ..ConnmgrConfig::default()
        });
        assert!(matches!(e, Err(ConnmgrError::NoVersions)));
    }
}
