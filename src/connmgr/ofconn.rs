//! One OpenFlow connection (an *ofconn*): its stream, its input and output buffers, the
//! version it negotiated, its role and async configuration, its inactivity probe and its
//! counters.
//!
//! The output queue is a single byte buffer with a cap (`queue_limit`). Asynchronous messages
//! (packet-in, flow-removed, port-status, role-status) are refused once half the cap is used,
//! and counted. While the queue is past half full the connection's input is not read either,
//! which slows a peer that floods requests without reading replies instead of dropping it;
//! so each request's replies start below half and are admitted whole. Anything queued while
//! the queue is already over the cap (a probe after a huge reply the peer does not read)
//! drops the connection. A peer that stays unread-from for three probe intervals is dropped
//! by the inactivity rule, since its input is not read meanwhile.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::ofp::ext::{self, PacketIn2, Property};
use crate::ofp::oxm::{Field, MatchEntry};
use crate::ofp::{self, AsyncConfig, Message, OxmMatch, PacketIn, Version};

use super::rate::TokenBucket;
use super::stream::{ReadOutcome, Stream};
use super::{AsyncEvent, CloseReason, ConnInfo, PacketInEvent};

/// Bytes read from one connection per poll, so one fast peer cannot starve the loop.
const READ_PER_POLL: usize = 64 * 1024;
/// Requests handled per connection per poll (Open vSwitch uses the same number).
pub(crate) const MESSAGES_PER_POLL: usize = 50;
/// The largest OpenFlow message (the header's length is 16 bits).
const MAX_MESSAGE: usize = 65535;

/// `OFPCML_NO_BUFFER`: send the whole packet.
const NO_BUFFER_LEN: u16 = 0xffff;

/// Async config property types (OpenFlow 1.4 `OFPACPT_*`): even = slave, odd = master.
pub(crate) const ASYNC_PROPS: usize = 12;
const PACKET_IN: usize = 0;
const PORT_STATUS: usize = 2;
const FLOW_REMOVED: usize = 4;

/// How packet-ins are encoded for this connection (`NXT_SET_PACKET_IN_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PacketInFormat {
    Standard,
    NxPacketIn2,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Our HELLO is sent; the peer's has not arrived.
    AwaitHello,
    Open,
    /// Finish sending what is queued (an error explaining why), then close.
    Closing(CloseReason),
    Closed(CloseReason),
}

/// Counters for one connection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnStats {
    /// Messages received, by `ofp_header.type`.
    pub msgs_in: BTreeMap<u8, u64>,
    /// Messages queued for sending, by `ofp_header.type`.
    pub msgs_out: BTreeMap<u8, u64>,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// OFPT_ERROR messages sent.
    pub errors_sent: u64,
    pub packet_ins_sent: u64,
    /// Packet-ins refused by the rate limiter.
    pub packet_ins_rate_dropped: u64,
    /// Asynchronous messages refused because the output queue was past half full.
    pub async_queue_dropped: u64,
    /// Asynchronous messages that could not be encoded in this connection's version.
    pub async_unencodable: u64,
    /// Bytes waiting in the output queue (at most half of `queue_limit` plus one reply batch).
    pub queued_bytes: usize,
}

#[derive(Debug)]
pub(crate) struct Ofconn {
    pub info: ConnInfo,
    pub phase: Phase,
    stream: Stream,
    /// Received bytes; `input[consumed..]` are not yet framed.
    input: Vec<u8>,
    consumed: usize,
    output: Vec<u8>,
    written: usize,
    queue_limit: usize,
    pub last_rx: Instant,
    probes_unanswered: u32,
    last_probe: Instant,
    probe_xid: u32,
    /// Masks by `OFPACPT_*` type.
    pub async_masks: [u32; ASYNC_PROPS],
    pub packet_in_format: PacketInFormat,
    pub rate: Option<TokenBucket>,
    pub stats: ConnStats,
    /// Index of the controller slot this connection belongs to (controllers only).
    pub controller: Option<usize>,
    /// The peer closed its side; what arrived before is still handled.
    pub peer_done: bool,
}

/// A frame taken off the input.
pub(crate) enum Frame {
    None,
    Message(Vec<u8>),
    /// The length field cannot be right: there is no way to find the next message.
    Unframeable,
}

impl Ofconn {
    pub fn new(
        info: ConnInfo,
        stream: Stream,
        queue_limit: usize,
        rate: Option<TokenBucket>,
        controller: Option<usize>,
        now: Instant,
    ) -> Ofconn {
        Ofconn {
            info,
            phase: Phase::AwaitHello,
            stream,
            input: Vec::new(),
            consumed: 0,
            output: Vec::new(),
            written: 0,
            queue_limit,
            last_rx: now,
            probes_unanswered: 0,
            last_probe: now,
            probe_xid: 0,
            async_masks: [0; ASYNC_PROPS],
            packet_in_format: PacketInFormat::Standard,
            rate,
            stats: ConnStats::default(),
            controller,
            peer_done: false,
        }
    }

    pub fn is_open(&self) -> bool {
        self.phase == Phase::Open
    }

    pub fn is_closed(&self) -> bool {
        matches!(self.phase, Phase::Closed(_))
    }

    pub fn close(&mut self, reason: CloseReason) {
        if !self.is_closed() {
            self.phase = Phase::Closed(reason);
        }
    }

    /// Sends what is queued, then closes.
    pub fn close_after_flush(&mut self, reason: CloseReason) {
        if !self.is_closed() {
            self.phase = Phase::Closing(reason);
        }
    }

    /// Sends our end-of-stream (see [`Stream::shutdown_write`]).
    pub fn half_close(&mut self) {
        self.stream.shutdown_write();
    }

    /// Reads and throws away what the peer sends; true once it has closed its side (or the
    /// stream failed), so that closing ours now cannot reset the connection.
    pub fn discard_input(&mut self) -> bool {
        // One bounded read per call: a peer that keeps sending cannot hold the caller.
        let mut sink = Vec::new();
        !matches!(
            self.stream.read_into(&mut sink, READ_PER_POLL),
            Ok(ReadOutcome::Open)
        )
    }

    /// Bytes queued and not yet taken by the stream.
    pub fn queued(&self) -> usize {
        self.output.len() - self.written
    }

    fn async_room(&self) -> usize {
        self.queue_limit / 2
    }

    /// Input is read only while the peer keeps up with our output.
    pub fn reading_allowed(&self) -> bool {
        self.queued() < self.async_room()
            && !matches!(self.phase, Phase::Closing(_) | Phase::Closed(_))
    }

    /// Writes as much as the stream takes; closes on a write error.
    pub fn flush(&mut self) {
        if self.is_closed() {
            return;
        }
        let mut result = self.stream.flush_internal();
        while result.is_ok() && self.written < self.output.len() {
            match self.stream.write_from(&self.output[self.written..]) {
                Ok(0) => break,
                Ok(n) => {
                    self.written += n;
                    self.stats.bytes_out += n as u64;
                }
                Err(e) => result = Err(e),
            }
        }
        if let Err(e) = result {
            self.close(CloseReason::Io(e.kind()));
            return;
        }
        if self.written == self.output.len() {
            self.output.clear();
            self.written = 0;
        } else if self.written > self.output.len() / 2 {
            self.output.drain(..self.written);
            self.written = 0;
        }
        self.stats.queued_bytes = self.queued();
        if let Phase::Closing(reason) = self.phase {
            if self.queued() == 0 && !self.stream.has_buffered_output() {
                self.phase = Phase::Closed(reason);
            }
        }
    }

    /// Reads what has arrived, within this poll's budget.
    pub fn fill(&mut self, now: Instant) {
        // Framed bytes are dropped here, once per poll, so framing costs linear time.
        self.input.drain(..self.consumed);
        self.consumed = 0;
        // At most two maximal messages wait in the input, however fast the peer sends.
        let room = (2 * MAX_MESSAGE)
            .saturating_sub(self.input.len())
            .min(READ_PER_POLL);
        if !self.reading_allowed() || self.peer_done || room == 0 {
            return;
        }
        let before = self.input.len();
        let r = self.stream.read_into(&mut self.input, room);
        let got = self.input.len() - before;
        if got > 0 {
            self.stats.bytes_in += got as u64;
            self.last_rx = now;
            self.probes_unanswered = 0;
        }
        match r {
            Ok(ReadOutcome::Open) => {}
            // Whatever complete messages arrived before the end are still handled this poll;
            // the connection closes when `take_frame` runs dry.
            Ok(ReadOutcome::Closed) => self.peer_done = true,
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => self.close(CloseReason::Tls),
            Err(e) => self.close(CloseReason::Io(e.kind())),
        }
    }

    /// The next complete message, if one has arrived.
    pub fn take_frame(&mut self) -> Frame {
        let pending = &self.input[self.consumed..];
        match ofp::frame_len(pending) {
            Ok(Some(len)) if pending.len() >= len => {
                let msg = pending[..len].to_vec();
                self.consumed += len;
                if let Some(&t) = msg.get(1) {
                    *self.stats.msgs_in.entry(t).or_default() += 1;
                }
                Frame::Message(msg)
            }
            Ok(_) => Frame::None,
            Err(_) => Frame::Unframeable,
        }
    }

    fn push(&mut self, bytes: &[u8]) {
        if let Some(&t) = bytes.get(1) {
            *self.stats.msgs_out.entry(t).or_default() += 1;
            if t == 1 {
                self.stats.errors_sent += 1;
            }
        }
        self.output.extend_from_slice(bytes);
        self.stats.queued_bytes = self.queued();
    }

    /// Closes the connection when its queue is already past the limit: the peer is not
    /// reading. Called before a request's replies and before a probe.
    ///
    /// Requests are only taken off the input while the queue is under half the limit, so
    /// every reply batch starts below half and is queued whole, however large (a flow dump
    /// can be megabytes): the queue holds at most half the limit plus one batch.
    pub fn check_overflow(&mut self) -> bool {
        if self.queued() > self.queue_limit {
            self.close(CloseReason::QueueOverflow);
            return false;
        }
        true
    }

    /// Queues a reply (or anything else the peer asked for); see [`Ofconn::check_overflow`].
    pub fn send_reply(&mut self, bytes: &[u8]) {
        self.push(bytes);
    }

    /// Queues an asynchronous message if there is room for it; counts it otherwise.
    pub fn send_async(&mut self, bytes: &[u8]) -> bool {
        if self.queued() + bytes.len() > self.async_room() {
            self.stats.async_queue_dropped += 1;
            return false;
        }
        self.push(bytes);
        true
    }

    /// Encodes `msg` in the connection's version and queues it as a reply.
    pub fn reply(&mut self, msg: &Message, xid: u32) -> Result<(), ofp::OfpError> {
        let mut out = Vec::new();
        msg.encode(self.info.version, xid, &mut out)?;
        self.send_reply(&out);
        Ok(())
    }

    /// Probes a quiet peer with an echo request and gives up on one that stays silent:
    /// after `interval` without input, a probe; after two probes unanswered for an interval
    /// each, the connection is dropped.
    pub fn run_probe(&mut self, now: Instant, interval: Duration) {
        let quiet = now.saturating_duration_since(self.last_rx);
        if quiet < interval {
            return;
        }
        match self.phase {
            Phase::Open | Phase::AwaitHello => {}
            // A parting message the peer does not take within an interval is abandoned.
            Phase::Closing(reason) => {
                self.close(reason);
                return;
            }
            Phase::Closed(_) => return,
        }
        if self.phase == Phase::AwaitHello {
            // No probe can be understood before versions are agreed.
            self.close(CloseReason::NoHello);
            return;
        }
        if self.probes_unanswered > 0 && now.saturating_duration_since(self.last_probe) < interval {
            return;
        }
        if self.probes_unanswered >= 2 {
            self.close(CloseReason::Inactivity);
            return;
        }
        self.probes_unanswered += 1;
        self.last_probe = now;
        self.probe_xid = self.probe_xid.wrapping_add(1);
        if !self.check_overflow() {
            return;
        }
        let mut out = Vec::new();
        if Message::EchoRequest(Vec::new())
            .encode(self.info.version, self.probe_xid, &mut out)
            .is_ok()
        {
            self.send_reply(&out);
        }
    }

    /// The async config defaults for the negotiated version.
    pub fn reset_async_config(&mut self) {
        let v = self.info.version;
        let mut m = [0u32; ASYNC_PROPS];
        // Packet-in: table miss and explicit output for masters; 1.4 splits "action" into
        // action-set, group and packet-out, which are on too. Invalid-TTL is off.
        m[PACKET_IN + 1] = if v >= Version::V1_4 { 0b11_1011 } else { 0b11 };
        // Port-status: add, delete, modify, for everyone.
        m[PORT_STATUS] = 0b111;
        m[PORT_STATUS + 1] = 0b111;
        // Flow-removed: every reason the version has, for masters.
        m[FLOW_REMOVED + 1] = match v {
            Version::V1_0 => 0b111,
            Version::V1_3 => 0b1111,
            _ => 0b11_1111,
        };
        self.async_masks = m;
    }

    /// Applies an async config message. `full` replaces all six classic masks (OpenFlow 1.3
    /// SET_ASYNC and NXT_SET_ASYNC_CONFIG); otherwise only the properties present change.
    pub fn apply_async_config(&mut self, cfg: &AsyncConfig, full: bool) {
        if full {
            for t in 0..6 {
                self.async_masks[t] = 0;
            }
        }
        for &(t, mask) in &cfg.props {
            if let Some(slot) = self.async_masks.get_mut(usize::from(t)) {
                *slot = mask;
            }
        }
    }

    pub fn async_config(&self) -> AsyncConfig {
        let n = if self.info.version >= Version::V1_4 {
            ASYNC_PROPS
        } else {
            6
        };
        AsyncConfig {
            props: (0..n).map(|t| (t as u16, self.async_masks[t])).collect(),
        }
    }

    /// Whether this connection wants an async message of class `class` (0 packet-in,
    /// 2 port-status, 4 flow-removed) with `reason`.
    pub fn wants(&self, class: usize, reason: u8) -> bool {
        if self.phase != Phase::Open {
            return false;
        }
        if self.info.kind == super::ConnKind::Service && self.info.miss_send_len == 0 {
            return false;
        }
        let t = if self.info.role == super::Role::Slave {
            class
        } else {
            class + 1
        };
        reason < 32 && self.async_masks[t] & (1 << reason) != 0
    }

    /// Filters, rate-limits, encodes and queues one async event. Returns whether it was queued.
    pub fn offer(&mut self, event: &AsyncEvent, now: Instant) -> bool {
        let v = self.info.version;
        let (class, reason) = match event {
            AsyncEvent::PacketIn(p) => (PACKET_IN, wire_packet_in_reason(v, p.reason)),
            AsyncEvent::PortStatus { reason, .. } => (PORT_STATUS, *reason),
            AsyncEvent::FlowRemoved(f) => (FLOW_REMOVED, f.reason.wire(v)),
        };
        if !self.wants(class, reason) {
            return false;
        }
        // A packet-in goes only to connections with the controller id its action named.
        if matches!(event, AsyncEvent::PacketIn(p) if p.controller_id != self.info.controller_id) {
            return false;
        }
        if let AsyncEvent::PacketIn(_) = event {
            if let Some(bucket) = &mut self.rate {
                if !bucket.take(now) {
                    self.stats.packet_ins_rate_dropped += 1;
                    return false;
                }
            }
        }
        let msg = match event {
            AsyncEvent::PacketIn(p) => self.packet_in_message(p, reason),
            AsyncEvent::PortStatus { reason, desc } => Message::PortStatus(ofp::PortStatus {
                reason: *reason,
                desc: desc.clone(),
            }),
            // A 1.0 connection cannot carry every OXM match: counted, not sent.
            AsyncEvent::FlowRemoved(f) => match f.to_message(v) {
                Some(m) => m,
                None => {
                    self.stats.async_unencodable += 1;
                    return false;
                }
            },
        };
        let mut out = Vec::new();
        if msg.encode(v, 0, &mut out).is_err() {
            self.stats.async_unencodable += 1;
            return false;
        }
        let queued = self.send_async(&out);
        if queued && matches!(event, AsyncEvent::PacketIn(_)) {
            self.stats.packet_ins_sent += 1;
        }
        queued
    }

    fn packet_in_message(&self, p: &PacketInEvent, reason: u8) -> Message {
        let max_len = match p.max_len {
            Some(n) => n,
            None => self.info.miss_send_len,
        };
        let keep = if max_len == NO_BUFFER_LEN {
            p.packet.len()
        } else {
            p.packet.len().min(usize::from(max_len))
        };
        let data = p.packet[..keep].to_vec();
        // Nothing is buffered, so like Open vSwitch the standard packet-in's total_len is
        // what it carries; NXT_PACKET_IN2 tells the full length in a property.
        let total_len = u16::try_from(keep).unwrap_or(u16::MAX);
        let mut metadata = OxmMatch {
            entries: vec![MatchEntry::from_u64(Field::InPort, u64::from(p.in_port))],
        };
        metadata.entries.extend(
            p.metadata
                .entries
                .iter()
                .filter(|e| e.field.canonical() != Field::InPort)
                .cloned(),
        );
        match self.packet_in_format {
            PacketInFormat::Standard => Message::PacketIn(PacketIn {
                buffer_id: ofp::flow::NO_BUFFER,
                total_len,
                in_port: p.in_port,
                reason,
                table_id: p.table_id,
                cookie: p.cookie,
                match_: metadata,
                data,
            }),
            PacketInFormat::NxPacketIn2 => {
                let mut props = vec![Property {
                    ptype: ext::NXPINT_PACKET,
                    value: data,
                }];
                if keep < p.packet.len() {
                    props.push(Property {
                        ptype: ext::NXPINT_FULL_LEN,
                        value: (p.packet.len() as u32).to_be_bytes().to_vec(),
                    });
                }
                props.push(Property {
                    ptype: ext::NXPINT_TABLE_ID,
                    value: vec![p.table_id],
                });
                // 64-bit property values are aligned: 4 zero bytes come first.
                let mut cookie = vec![0u8; 4];
                cookie.extend_from_slice(&p.cookie.to_be_bytes());
                props.push(Property {
                    ptype: ext::NXPINT_COOKIE,
                    value: cookie,
                });
                props.push(Property {
                    ptype: ext::NXPINT_REASON,
                    value: vec![p.reason],
                });
                let mut md = Vec::new();
                metadata.emit_entries(&mut md);
                props.push(Property {
                    ptype: ext::NXPINT_METADATA,
                    value: md,
                });
                if let Some(u) = &p.userdata {
                    props.push(Property {
                        ptype: ext::NXPINT_USERDATA,
                        value: u.clone(),
                    });
                }
                // A paused pipeline: opaque to the controller, sent back in NXT_RESUME.
                // Other formats cannot carry it and get a plain packet-in, as in OVS.
                if let Some(c) = p
                    .continuation
                    .as_ref()
                    .and_then(|c| c.for_version(self.info.version))
                {
                    let mut value = vec![0u8; 4];
                    value.extend_from_slice(c);
                    props.push(Property {
                        ptype: ext::NXPINT_CONTINUATION,
                        value,
                    });
                }
                Message::Nx(ext::NxMessage::PacketIn2(PacketIn2 { props }))
            }
        }
    }
}

/// OpenFlow 1.4 split the "action" reason into action-set (3), group (4) and packet-out (5);
/// earlier versions see all of them as action (1).
fn wire_packet_in_reason(v: Version, reason: u8) -> u8 {
    if v < Version::V1_4 && (3..=5).contains(&reason) {
        1
    } else {
        reason
    }
}
