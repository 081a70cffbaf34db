//! xlate: translation of one packet's flow key through the OpenFlow tables into datapath
//! actions and a megaflow mask.
//!
//! Purpose: on a datapath miss the upcall handler calls [`translate`] with the packet's
//! [`FlowKey`]; the result is what to install (actions + mask) and what else happened
//! (packet-ins, MAC learning, rules and groups to credit). The revalidator calls it again,
//! with `may_learn` off, to check an installed megaflow against changed tables.
//! `ofproto/trace` calls [`trace`], which runs the same translation with a report.
//!
//! Vocabulary:
//! - *megaflow mask*: the bits of the key the translation depended on. Every field read by
//!   a lookup or an action is un-wildcarded in [`XlateOutput::mask`]; nothing else is, so
//!   one megaflow covers every packet that would translate the same way. Bits of a field
//!   that an action had already overwritten with a constant do not depend on the packet
//!   and are not un-wildcarded by later lookups.
//! - *commit*: header rewrites are kept in the working key and emitted as datapath `set`
//!   actions lazily, just before something that looks at the packet (output, userspace,
//!   a push/pop of MPLS). VLAN tags are committed the same way, by comparing the tag stack
//!   the datapath will have with the one translation wants.
//! - *pipeline fields*: in_port (OpenFlow number), metadata, registers, tunnel id. They
//!   live in the translation only; their mask bits never reach the datapath.
//! - *controller userspace action*: output to CONTROLLER (and dec_ttl's invalid-TTL and a
//!   table miss's packet-in) become a datapath `userspace` action whose userdata
//!   ([`ControllerUserdata`]) carries what the packet-in needs, so the megaflow can be
//!   installed and each packet reaches the controller once, with the rewrites done so far.
//!
//! Semantics kept from Open vSwitch (see seeds/001): resubmit depth limit 64 (and 4096
//! resubmits in total), goto_table not counted; a resubmit that misses is silent while a
//! top-level or goto_table miss follows the table-miss policy; `output:<in_port>` is
//! skipped but `output:IN_PORT` is not; a port with NO_PACKET_IN drops misses; NO_RECV
//! drops all input; a port that is PORT_DOWN (`ovs-ofctl mod-port … down`) is skipped as
//! an output and its input is dropped, as a stopped DPDK port would; dec_ttl at TTL ≤ 1 sends INVALID_TTL packet-ins and ends the current
//! action list; exit ends everything. A translation error (recursion too deep, too many
//! resubmits, an action the datapath cannot perform) installs a drop flow with a
//! [`DropReason`], as modern Open vSwitch does.
//!
//! Megaflow quality: ofproto's classifier reports only the bits it needed (staged lookup,
//! prefix tries on IP addresses), and translation adds only what actions read. For the acl
//! case of PERF.md this gives Open vSwitch 3.1's 7,563 megaflows in 9 masks exactly (see
//! the `acl_megaflows_…` test); a randomised test checks that every packet a megaflow
//! covers translates to the same actions.
//!
//! Who calls it: the control lcore only. Translation reads its inputs (`&`) and returns
//! side effects as values; the caller applies them (FDB learning, stats) and revalidates
//! installed megaflows when the FDB changes ([`Fdb::learn`] returns true, [`Fdb::age`]
//! removes entries), as after any table or port change.
//!
//! Not (yet) done: meters are reported, not enforced (the datapath has no meter action);
//! MPLS TTL/label and ARP/ND rewrites, copy_ttl and PBB drop the flow as unsupported;
//! queues (set_queue/enqueue) do not reach the datapath; lookups after pop_mpls see no L3
//! fields (recirculation would be needed).
//!
//! Continuations: `controller(pause)` commits the rewrites so far, emits the controller
//! `userspace` action, and then stops translation. As the nested calls unwind, each level
//! adds the rest of its actions and pending instructions to the frozen state
//! ([`freeze::Frozen`]); the action set is frozen too and not run. The frozen state rides
//! in the action's userdata, so every packet of the megaflow gets its own continuation.
//! [`resume`] runs a frozen state again on the packet the controller sent back. A pause
//! inside a group bucket or the action set cannot be frozen (the bucket is a copy of the
//! packet; the action set has no "rest") and is a plain packet-in, with no continuation.

mod convert;
pub mod freeze;
pub mod normal;
mod pipeline;
#[cfg(test)]
mod tests;
mod trace;

use pmd::actions::DpAction;
use pmd::key::{FlowKey, FlowMask};

use crate::dpif::Dpif;
use crate::ofp::{OxmMatch, Version};
use crate::ofproto::{FlowFields, Group, Millis, OfPort, Ofproto, Rule, RuleId};

pub use convert::{fields_from_key, is_pipeline_field, store_in_key, wc_to_mask};
pub use normal::{Fdb, FdbLearn, NormalConfig, VlanMode};
pub use trace::{parse_trace_flow, trace, TraceFlowError};

/// OpenFlow port config bits translation honours.
/// Administratively down: like a stopped NIC, the port neither sends nor receives.
pub const OFPPC_PORT_DOWN: u32 = 1 << 0;
pub const OFPPC_NO_RECV: u32 = 1 << 2;
pub const OFPPC_NO_FLOOD: u32 = 1 << 4;
pub const OFPPC_NO_FWD: u32 = 1 << 5;
pub const OFPPC_NO_PACKET_IN: u32 = 1 << 6;

/// Packet-in reasons.
pub const OFPR_NO_MATCH: u8 = 0;
pub const OFPR_ACTION: u8 = 1;
pub const OFPR_INVALID_TTL: u8 = 2;

/// Nested resubmits (and group chains) allowed before translation gives up.
pub const MAX_RESUBMIT_DEPTH: u32 = 64;
/// Resubmits allowed in one translation, so that fan-out cannot grow exponentially.
pub const MAX_RESUBMITS: u32 = 4096;

/// What the translation reads: the OpenFlow tables, ports and groups. [`Ofproto`]
/// implements it; tests may use any other.
pub trait Pipeline {
    /// The winning rule of `table` for `flow` and the bits the answer depended on.
    fn lookup(&self, table: u8, flow: &FlowFields) -> (Option<&Rule>, FlowFields);
    fn port(&self, port_no: u32) -> Option<&OfPort>;
    /// Every port, in port-number order.
    fn ports(&self) -> Vec<&OfPort>;
    fn group(&self, id: u32) -> Option<&Group>;
    /// The buckets a packet with `hash` takes through group `id`.
    fn group_buckets(&self, id: u32, hash: u32) -> Vec<usize>;
    fn meter_exists(&self, id: u32) -> bool;
}

impl<D: Dpif> Pipeline for Ofproto<D> {
    fn lookup(&self, table: u8, flow: &FlowFields) -> (Option<&Rule>, FlowFields) {
        Ofproto::lookup(self, table, flow)
    }
    fn port(&self, port_no: u32) -> Option<&OfPort> {
        Ofproto::port(self, port_no)
    }
    fn ports(&self) -> Vec<&OfPort> {
        Ofproto::ports(self).collect()
    }
    fn group(&self, id: u32) -> Option<&Group> {
        Ofproto::group(self, id)
    }
    fn group_buckets(&self, id: u32, hash: u32) -> Vec<usize> {
        Ofproto::group_buckets(self, id, hash)
    }
    fn meter_exists(&self, id: u32) -> bool {
        Ofproto::meter(self, id).is_some()
    }
}

/// What a packet that matches no rule (and no table-miss flow) gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableMiss {
    /// OpenFlow 1.0: a packet-in with reason NO_MATCH.
    Controller,
    /// OpenFlow 1.3+: dropped unless the table has a table-miss flow.
    Drop,
}

impl TableMiss {
    /// The default of the OpenFlow version the controller negotiated.
    pub fn for_version(v: Version) -> TableMiss {
        if v < Version::V1_3 {
            TableMiss::Controller
        } else {
            TableMiss::Drop
        }
    }
}

/// Bridge settings translation needs.
#[derive(Debug, Clone)]
pub struct XlateConfig {
    pub table_miss: TableMiss,
    pub normal: NormalConfig,
    /// OpenFlow's `OFPC_FRAG_DROP` (SET_CONFIG): IP fragments are dropped before any
    /// lookup. Off means "normal": fragments are looked up with transport ports 0.
    pub drop_fragments: bool,
}

impl Default for XlateConfig {
    fn default() -> Self {
        XlateConfig {
            table_miss: TableMiss::Drop,
            normal: NormalConfig::default(),
            drop_fragments: false,
        }
    }
}

/// Everything one translation reads.
pub struct XlateCtx<'a> {
    pub pipeline: &'a dyn Pipeline,
    pub fdb: &'a Fdb,
    pub config: &'a XlateConfig,
    pub now: Millis,
    /// Side effects (MAC learning) are reported; off for revalidation.
    pub may_learn: bool,
}

/// Why a translation produced no datapath actions on purpose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DropReason {
    /// No rule matched and the table-miss policy (or the port's NO_PACKET_IN) drops.
    TableMiss { table: u8 },
    /// The input port has NO_RECV.
    NoReceive,
    /// An IP fragment, with fragment handling set to drop.
    Fragment,
    /// Resubmits (or group chains) nested deeper than [`MAX_RESUBMIT_DEPTH`].
    RecursionTooDeep,
    /// More than [`MAX_RESUBMITS`] resubmits in one translation.
    TooManyResubmits,
    /// An action the datapath cannot perform (named); the whole flow drops rather than
    /// forward a packet that was not rewritten as asked.
    Unsupported(&'static str),
    /// The pipeline ran and chose no output.
    NoOutput,
}

impl std::fmt::Display for DropReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DropReason::TableMiss { table } => write!(f, "no match in table {table}"),
            DropReason::NoReceive => f.write_str("input port has no_recv"),
            DropReason::Fragment => f.write_str("IP fragment (fragment handling is drop)"),
            DropReason::RecursionTooDeep => write!(
                f,
                "recursion too deep (more than {MAX_RESUBMIT_DEPTH} nested resubmits)"
            ),
            DropReason::TooManyResubmits => {
                write!(f, "too many resubmits (more than {MAX_RESUBMITS})")
            }
            DropReason::Unsupported(what) => write!(f, "unsupported action {what}"),
            DropReason::NoOutput => f.write_str("no output action"),
        }
    }
}

/// The `userspace` cookie of a controller upcall.
pub const USERSPACE_CONTROLLER: u64 = 0x6672_7663_746c_0001;
/// The `userspace` cookie of a controller upcall that carries userdata or a continuation.
pub const USERSPACE_CONTROLLER2: u64 = 0x6672_7663_746c_0002;

/// What a controller `userspace` action carries to the upcall handler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControllerUserdata {
    pub reason: u8,
    pub table_id: u8,
    pub controller_id: u16,
    pub max_len: u16,
    /// The cookie of the rule that sent the packet (0 for a table miss).
    pub cookie: u64,
    /// Pipeline fields at the time (in_port first, then non-zero metadata/registers).
    pub metadata: OxmMatch,
    /// A controller2 action's `userdata`, for NXT_PACKET_IN2's USERDATA property.
    pub userdata: Option<Vec<u8>>,
    /// A pause's frozen pipeline as private continuation properties
    /// ([`freeze::Frozen::encode`]); present (maybe empty) exactly when the action paused.
    pub continuation: Option<Vec<u8>>,
}

impl ControllerUserdata {
    /// The `userspace` cookie: a plain packet-in, or one with userdata or a continuation.
    pub fn cookie(&self) -> u64 {
        if self.userdata.is_none() && self.continuation.is_none() {
            USERSPACE_CONTROLLER
        } else {
            USERSPACE_CONTROLLER2
        }
    }

    /// The userdata bytes: reason, table, controller id, max_len, cookie, then for a plain
    /// packet-in the metadata as OXM entries up to the end. With userdata or a continuation
    /// ([`USERSPACE_CONTROLLER2`]): a flags byte (1 userdata, 2 continuation), a zero byte,
    /// the metadata's length and entries, the userdata's length and bytes, then the
    /// continuation up to the end.
    pub fn encode(&self) -> Vec<u8> {
        let extra = self.userdata.as_ref().map_or(0, Vec::len)
            + self.continuation.as_ref().map_or(0, Vec::len);
        let mut v = Vec::with_capacity(20 + self.metadata.entries_len() + extra);
        v.push(self.reason);
        v.push(self.table_id);
        v.extend_from_slice(&self.controller_id.to_be_bytes());
        v.extend_from_slice(&self.max_len.to_be_bytes());
        v.extend_from_slice(&self.cookie.to_be_bytes());
        if self.cookie() == USERSPACE_CONTROLLER {
            self.metadata.emit_entries(&mut v);
            return v;
        }
        let flags =
            u8::from(self.userdata.is_some()) | (u8::from(self.continuation.is_some()) << 1);
        v.extend_from_slice(&[flags, 0]);
        let mut md = Vec::new();
        self.metadata.emit_entries(&mut md);
        v.extend_from_slice(&(md.len() as u16).to_be_bytes());
        v.extend_from_slice(&md);
        let ud = self.userdata.as_deref().unwrap_or_default();
        v.extend_from_slice(&(ud.len() as u16).to_be_bytes());
        v.extend_from_slice(ud);
        v.extend_from_slice(self.continuation.as_deref().unwrap_or_default());
        v
    }

    /// Decodes a controller upcall's cookie and userdata; `None` when it is not one or is
    /// malformed (the datapath hands back what we gave it, but never trust it to).
    pub fn decode(cookie: u64, userdata: &[u8]) -> Option<ControllerUserdata> {
        if !matches!(cookie, USERSPACE_CONTROLLER | USERSPACE_CONTROLLER2) || userdata.len() < 14 {
            return None;
        }
        let mut u = ControllerUserdata {
            reason: userdata[0],
            table_id: userdata[1],
            controller_id: u16::from_be_bytes([userdata[2], userdata[3]]),
            max_len: u16::from_be_bytes([userdata[4], userdata[5]]),
            cookie: u64::from_be_bytes(userdata[6..14].try_into().ok()?),
            metadata: OxmMatch::default(),
            userdata: None,
            continuation: None,
        };
        let bad = crate::ofp::OfpError::OFPBMC_BAD_LEN;
        let mut r = crate::ofp::wire::Reader::new(&userdata[14..], bad);
        if cookie == USERSPACE_CONTROLLER {
            u.metadata = OxmMatch::parse_entries(&mut r).ok()?;
            return Some(u);
        }
        let flags = r.u8().ok()?;
        r.skip(1).ok()?;
        let md_len = usize::from(r.u16().ok()?);
        u.metadata = OxmMatch::parse_entries(&mut r.sub(md_len, bad).ok()?).ok()?;
        let ud_len = usize::from(r.u16().ok()?);
        let ud = r.bytes(ud_len).ok()?;
        if flags & 1 != 0 {
            u.userdata = Some(ud.to_vec());
        }
        if flags & 2 != 0 {
            u.continuation = Some(r.take_rest().to_vec());
        }
        Some(u)
    }
}

/// One packet-in the translation asked for (also encoded in `actions` as a controller
/// `userspace` action; see [`XlateOutput::packet_ins`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketIn {
    pub userdata: ControllerUserdata,
    /// The packet as the actions before the packet-in left it, when a packet was given.
    pub packet: Option<Vec<u8>>,
}

/// The result of one translation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XlateOutput {
    /// Datapath actions; empty means drop.
    pub actions: Vec<DpAction>,
    /// The megaflow mask: what `actions` (and every side effect) depended on.
    pub mask: FlowMask,
    /// Packet-ins, in the order of their `userspace` actions in `actions`. A caller that
    /// executes `actions` gets them again as action upcalls and must send only those; a
    /// caller that does not (trace, a slow path) may send these.
    pub packet_ins: Vec<PacketIn>,
    /// MAC learning for the caller to apply to the FDB (empty unless `may_learn`).
    pub learned: Vec<FdbLearn>,
    /// Every rule the packet went through, in order, for stats (a rule twice if visited
    /// twice).
    pub rules: Vec<RuleId>,
    /// Every (group, bucket) the packet went through.
    pub groups: Vec<(u32, usize)>,
    /// Meters the packet passed; the datapath has no meter action, so a caller that
    /// honours meters must handle such flows packet by packet.
    pub meters: Vec<u32>,
    /// Every table lookup, in order, and whether a rule matched (table stats).
    pub tables: Vec<(u8, bool)>,
    /// The flow needs the control side for each packet (controller `userspace` actions).
    pub needs_userspace: bool,
    pub drop_reason: Option<DropReason>,
}

/// Translates `key` through the pipeline. `packet`, when given, fills packet-in data.
pub fn translate(ctx: &XlateCtx<'_>, key: &FlowKey, packet: Option<&[u8]>) -> XlateOutput {
    crate::coverage::XLATE_ACTIONS.inc();
    pipeline::Xlate::new(ctx, key, packet, false).run().0
}

/// Translates an explicit OpenFlow action list (packet-out) for a packet received on
/// OpenFlow port `in_port` (any port number, CONTROLLER and ANY included). Nothing is
/// installed for a packet-out, so the mask only documents what was read.
pub fn translate_actions(
    ctx: &XlateCtx<'_>,
    key: &FlowKey,
    in_port: u32,
    actions: &[crate::ofp::Action],
    packet: Option<&[u8]>,
) -> XlateOutput {
    let mut x = pipeline::Xlate::new(ctx, key, packet, false);
    x.set_in_port(in_port);
    x.run_actions(actions).0
}

/// Continues a paused translation ([`freeze::Frozen`]) on the packet an `NXT_RESUME` sent
/// back: `key` is parsed from that packet, `metadata` holds its pipeline fields (in_port,
/// metadata, registers, tunnel id; other fields are ignored). The frozen segments run
/// innermost first, then the action set; no table is looked up again unless a segment
/// asks for it, so a pause that was the last action resumes to nothing. `packet` fills
/// packet-ins, as in [`translate`].
pub fn resume(
    ctx: &XlateCtx<'_>,
    key: &FlowKey,
    metadata: &OxmMatch,
    frozen: &freeze::Frozen,
    packet: Option<&[u8]>,
) -> XlateOutput {
    let mut x = pipeline::Xlate::new(ctx, key, packet, false);
    x.apply_metadata(metadata);
    x.run_frozen(frozen).0
}
