//! ofproto: the OpenFlow switch core, independent of any datapath.
//!
//! Purpose: owns the OpenFlow tables (255, each a [`classifier::Classifier`]), the OpenFlow
//! ports, groups, meters and the switch's identity, and executes every controller request
//! that connmgr hands it. It reaches the datapath only through the [`Dpif`] trait.
//!
//! Who calls it: the control lcore, single-threaded. connmgr calls [`Ofproto::handle`] for
//! each decoded request, in arrival order per connection, and [`Ofproto::run`] periodically
//! (timeouts, port changes). Both return [`AsyncEvent`]s (flow-removed, port-status,
//! packet-in) that connmgr filters per connection role and async config and encodes in each
//! connection's version.
//!
//! Ordering and barriers: every request takes full effect inside `handle` (the design is
//! synchronous, as upstream Open vSwitch became), and every table change is announced to the
//! datapath with [`Dpif::revalidate`]. A BARRIER_REQUEST calls [`Dpif::barrier`] before it
//! answers, so the reply follows every earlier request's effects, datapath included.
//!
//! Connection-level messages are connmgr's: HELLO, echo, role requests, async config,
//! packet-in format, NXT_SET_CONTROLLER_ID. If they reach `handle` anyway they are accepted
//! silently (echo is answered). ofproto does keep one per-connection flag itself, the
//! `NXT_FLOW_MOD_TABLE_ID` extension, because only flow_mod decoding needs it; SET_CONFIG
//! reaches ofproto too, for the switch-wide fragment handling. connmgr's own `ConnInfo`,
//! `PacketInEvent` and `AsyncEvent` map one to one onto [`ConnInfo`], [`PacketInEvent`] and
//! [`AsyncEvent`] (a flow-removed becomes a message per connection version with
//! [`FlowRemovedEvent::to_message`]).
//!
//! Vocabulary: a *hidden* rule has priority above 65535 and is created only internally;
//! hidden tables are 253 and 254 (never visited by table 0xff). Times are milliseconds of a
//! monotonic clock ([`Millis`]) passed in by the caller, which keeps tests deterministic.
//!
//! No packet buffering: every buffer id we send is `OFP_NO_BUFFER`, and a request naming a
//! buffer gets `OFPBRC_BUFFER_UNKNOWN`.

mod bundle;
pub mod classifier;
mod convert;
mod flows;
mod groups;
mod stats;
#[cfg(test)]
mod tests;
mod trie;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::dpif::{DpPort, DpPortChange, Dpif, DP_LOCAL_PORT};
use crate::ofp::flow::NO_BUFFER;
use crate::ofp::multipart::Desc;
use crate::ofp::port::{OFPP_ANY, OFPP_CONTROLLER, OFPP_LOCAL, OFPP_MAX};
use crate::ofp::{
    Action, ErrorMsg, FeaturesReply, FlowRemoved, Match, Message, NxMessage, OfpError, OxmMatch,
    PacketIn, PortDesc, PortStatus, SwitchConfig, Version,
};

pub use classifier::{FlowFields, FlowMatch, MiniMatch};
pub use flows::{Rule, RuleId};
pub use groups::{Group, Meter};

/// Milliseconds of a monotonic clock.
pub type Millis = u64;

/// Tables 253 and 254 are hidden: only internal callers (in-band, fail-open) use them.
pub const HIDDEN_TABLES: [u8; 2] = [253, 254];
/// Table id meaning "all tables".
pub const OFPTT_ALL: u8 = 0xff;
/// Rules above this priority are hidden.
pub const MAX_OPENFLOW_PRIORITY: u32 = 0xffff;

pub const OFPPC_PORT_DOWN: u32 = 1 << 0;
pub const OFPPS_LINK_DOWN: u32 = 1 << 0;
pub const OFPPR_ADD: u8 = 0;
pub const OFPPR_DELETE: u8 = 1;
pub const OFPPR_MODIFY: u8 = 2;

/// A controller connection's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Equal,
    Master,
    Slave,
}

/// What ofproto needs to know about the connection a request came on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnInfo {
    pub id: u64,
    pub version: Version,
    pub role: Role,
    /// A primary (controller) connection, as opposed to a service one (`ovs-ofctl`).
    pub primary: bool,
    /// `NXT_FLOW_MOD_TABLE_ID` is on: an OpenFlow 1.0 flow_mod's command high byte is a
    /// table. ofproto also remembers the extension itself when the message reaches
    /// [`Ofproto::handle`] (until [`Ofproto::conn_closed`]); either turns it on.
    pub flow_mod_table_id: bool,
    pub miss_send_len: u16,
    /// The master packet-in mask has the invalid-TTL reason (reported by GET_CONFIG).
    pub invalid_ttl_to_controller: bool,
}

impl ConnInfo {
    /// A primary equal-role connection with defaults.
    pub fn new(id: u64, version: Version) -> ConnInfo {
        ConnInfo {
            id,
            version,
            role: Role::Equal,
            primary: true,
            flow_mod_table_id: false,
            miss_send_len: 128,
            invalid_ttl_to_controller: false,
        }
    }
}

/// Why a flow left its table. Reasons past `Delete` exist on the wire from OpenFlow 1.4;
/// earlier versions see them as `OFPRR_DELETE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemovedReason {
    IdleTimeout,
    HardTimeout,
    Delete,
    GroupDelete,
    MeterDelete,
    Eviction,
}

impl RemovedReason {
    pub fn wire(self, version: Version) -> u8 {
        let modern = version >= Version::V1_4;
        match self {
            RemovedReason::IdleTimeout => 0,
            RemovedReason::HardTimeout => 1,
            RemovedReason::Delete => 2,
            RemovedReason::GroupDelete if modern => 3,
            RemovedReason::MeterDelete if modern => 4,
            RemovedReason::Eviction if modern => 5,
            _ => 2,
        }
    }
}

/// A flow-removed notification, version-neutral.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowRemovedEvent {
    pub reason: RemovedReason,
    pub table_id: u8,
    pub priority: u16,
    pub cookie: u64,
    /// The match as the flow_mod carried it.
    pub match_: Match,
    pub duration_sec: u32,
    pub duration_nsec: u32,
    pub idle_timeout: u16,
    pub hard_timeout: u16,
    pub packet_count: u64,
    pub byte_count: u64,
}

impl FlowRemovedEvent {
    /// The FLOW_REMOVED for a connection of `version`; `None` when that version cannot
    /// express the match.
    pub fn to_message(&self, version: Version) -> Option<Message> {
        Some(Message::FlowRemoved(FlowRemoved {
            cookie: self.cookie,
            priority: self.priority,
            reason: self.reason.wire(version),
            table_id: self.table_id,
            duration_sec: self.duration_sec,
            duration_nsec: self.duration_nsec,
            idle_timeout: self.idle_timeout,
            hard_timeout: self.hard_timeout,
            packet_count: self.packet_count,
            byte_count: self.byte_count,
            match_: convert::match_for(&self.match_, version)?,
        }))
    }
}

/// A packet for the controller, filled in by translation (xlate/upcall).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketInEvent {
    /// `OFPR_*`: 0 no match, 1 action, 2 invalid TTL, 3 action set, 4 group, 5 packet-out.
    pub reason: u8,
    pub table_id: u8,
    pub cookie: u64,
    pub in_port: u32,
    /// The packet's pipeline fields other than in_port (metadata, registers, tunnel).
    pub metadata: OxmMatch,
    /// The controller action's max_len; `None` for a table miss, which uses each
    /// connection's `miss_send_len`. The same shape as connmgr's event, so the switch's glue
    /// copies fields one to one.
    pub max_len: Option<u16>,
    pub packet: Vec<u8>,
    /// Only connections with this controller id (`NXT_SET_CONTROLLER_ID`) receive it.
    pub controller_id: u16,
    /// A controller2 action's userdata (NXT_PACKET_IN2's USERDATA property).
    pub userdata: Option<Vec<u8>>,
    /// A paused pipeline's sealed continuation, per OpenFlow version: the nested
    /// properties of NXT_PACKET_IN2's CONTINUATION property.
    pub continuation: Option<crate::continuation::Sealed>,
}

impl PacketInEvent {
    /// The PACKET_IN for a connection whose `miss_send_len` is given.
    pub fn to_message(&self, miss_send_len: u16) -> Message {
        let max_len = self.max_len.unwrap_or(miss_send_len);
        let n = self.packet.len().min(usize::from(max_len));
        let mut m = OxmMatch::default();
        m.entries.push(crate::ofp::MatchEntry::from_u64(
            crate::ofp::Field::InPort,
            u64::from(self.in_port),
        ));
        m.entries.extend(self.metadata.entries.iter().copied());
        Message::PacketIn(PacketIn {
            buffer_id: NO_BUFFER,
            total_len: u16::try_from(self.packet.len()).unwrap_or(u16::MAX),
            in_port: self.in_port,
            reason: self.reason,
            table_id: self.table_id,
            cookie: self.cookie,
            match_: m,
            data: self.packet[..n].to_vec(),
        })
    }
}

/// Something every connection may need to hear about; connmgr decides who does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AsyncEvent {
    /// Sent only for rules that asked for it (`OFPFF_SEND_FLOW_REM`) and are not hidden.
    FlowRemoved(FlowRemovedEvent),
    PortStatus {
        reason: u8,
        desc: PortDesc,
    },
    PacketIn(PacketInEvent),
}

impl AsyncEvent {
    /// The message for a connection of `version`, or `None` when it cannot be expressed.
    pub fn to_message(&self, version: Version, miss_send_len: u16) -> Option<Message> {
        match self {
            AsyncEvent::FlowRemoved(f) => f.to_message(version),
            AsyncEvent::PortStatus { reason, desc } => Some(Message::PortStatus(PortStatus {
                reason: *reason,
                desc: desc.clone(),
            })),
            AsyncEvent::PacketIn(p) => Some(p.to_message(miss_send_len)),
        }
    }
}

/// The result of one request: replies (all with the request's xid, in order) or one error,
/// plus async events to broadcast.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub replies: Result<Vec<Message>, OfpError>,
    pub events: Vec<AsyncEvent>,
}

impl Outcome {
    /// The messages to send on the requesting connection; an error carries up to 64 bytes
    /// of `request` (its raw bytes).
    pub fn messages(&self, request: &[u8]) -> Vec<Message> {
        match &self.replies {
            Ok(v) => v.clone(),
            Err(e) => vec![Message::Error(ErrorMsg::reply_to(*e, request))],
        }
    }
}

/// Switch-wide settings.
#[derive(Debug, Clone)]
pub struct OfprotoConfig {
    /// Overrides the datapath id derived from the LOCAL port's MAC.
    pub datapath_id: Option<u64>,
    pub desc: Desc,
    /// Visible tables `0..n_tables` (at most 253); hidden tables 253/254 always exist.
    pub n_tables: u8,
}

impl Default for OfprotoConfig {
    fn default() -> Self {
        OfprotoConfig {
            datapath_id: None,
            desc: Desc {
                mfr_desc: "ferrovs".into(),
                hw_desc: "ferrovs".into(),
                sw_desc: env!("CARGO_PKG_VERSION").into(),
                serial_num: "None".into(),
                dp_desc: "None".into(),
            },
            n_tables: 253,
        }
    }
}

/// One OpenFlow port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfPort {
    pub desc: PortDesc,
    pub dp_port: u32,
    pub created: Millis,
    /// Configured queue ids (queue stats report these).
    pub queues: Vec<u32>,
}

impl OfPort {
    /// Usable for forwarding and fast-failover liveness.
    pub fn is_live(&self) -> bool {
        self.desc.config & OFPPC_PORT_DOWN == 0 && self.desc.state & OFPPS_LINK_DOWN == 0
    }
}

/// Chooses a table for an ADD to table 0xff (OpenFlow 1.0 without the table-id extension).
pub type ChooseTable = Box<dyn Fn(&FlowMatch) -> Result<u8, OfpError>>;

pub struct Ofproto<D: Dpif> {
    dpif: D,
    config: OfprotoConfig,
    tables: Vec<flows::Table>,
    rules: HashMap<RuleId, Rule>,
    /// The rules with an idle or hard timeout: all that expiry has to look at.
    timed: BTreeSet<RuleId>,
    next_rule_id: u64,
    ports: BTreeMap<u32, OfPort>,
    groups: BTreeMap<u32, Group>,
    meters: BTreeMap<u32, Meter>,
    frag_handling: u16,
    choose_table: Option<ChooseTable>,
    events: Vec<AsyncEvent>,
    /// Connections that turned on `NXT_FLOW_MOD_TABLE_ID`.
    table_id_ext: BTreeSet<u64>,
    /// Open bundles by (connection, bundle id).
    bundles: BTreeMap<(u64, u32), bundle::Bundle>,
    /// While a bundle commits: every rule change so far, to undo them if one fails.
    undo: Option<Vec<bundle::Undo>>,
}

/// The OpenFlow port number of a datapath port.
pub fn ofp_port_of(dp_port: u32) -> u32 {
    if dp_port == DP_LOCAL_PORT {
        OFPP_LOCAL
    } else {
        dp_port
    }
}

impl<D: Dpif> Ofproto<D> {
    /// A switch over `dpif`, adopting the ports it already has (no PORT_STATUS for them).
    pub fn new(dpif: D, config: OfprotoConfig, now: Millis) -> Ofproto<D> {
        let n_visible = config.n_tables.min(253);
        let tables = (0..=254u8)
            .map(|id| {
                flows::Table::new(
                    id,
                    id < n_visible || HIDDEN_TABLES.contains(&id),
                    HIDDEN_TABLES.contains(&id),
                )
            })
            .collect();
        let mut o = Ofproto {
            dpif,
            config: OfprotoConfig {
                n_tables: n_visible,
                ..config
            },
            tables,
            rules: HashMap::new(),
            timed: BTreeSet::new(),
            next_rule_id: 1,
            ports: BTreeMap::new(),
            groups: BTreeMap::new(),
            meters: BTreeMap::new(),
            frag_handling: 0,
            choose_table: None,
            events: Vec::new(),
            table_id_ext: BTreeSet::new(),
            bundles: BTreeMap::new(),
            undo: None,
        };
        for p in o.dpif.port_list() {
            let port = o.make_port(&p, None, now);
            o.ports.insert(port.desc.port_no, port);
        }
        o
    }

    pub fn dpif(&self) -> &D {
        &self.dpif
    }

    pub fn dpif_mut(&mut self) -> &mut D {
        &mut self.dpif
    }

    /// Ends the switch, giving the datapath back (to close its ports).
    pub fn into_dpif(self) -> D {
        self.dpif
    }

    /// Installs the provider's table chooser for ADDs to table 0xff (default: table 0).
    pub fn set_choose_table(&mut self, f: Option<ChooseTable>) {
        self.choose_table = f;
    }

    /// Visible table count, as FEATURES_REPLY reports it.
    pub fn n_tables(&self) -> u8 {
        self.config.n_tables
    }

    pub fn datapath_id(&self) -> u64 {
        self.config.datapath_id.unwrap_or_else(|| {
            self.ports.get(&OFPP_LOCAL).map_or(0, |p| {
                p.desc
                    .hw_addr
                    .iter()
                    .fold(0u64, |a, &b| (a << 8) | u64::from(b))
            })
        })
    }

    pub fn port(&self, port_no: u32) -> Option<&OfPort> {
        self.ports.get(&port_no)
    }

    pub fn ports(&self) -> impl Iterator<Item = &OfPort> {
        self.ports.values()
    }

    /// Events produced outside `handle`/`run` (port add/delete, packet-ins), for connmgr.
    pub fn take_events(&mut self) -> Vec<AsyncEvent> {
        std::mem::take(&mut self.events)
    }

    /// Queues a packet-in built by translation; it leaves with the next events.
    pub fn send_packet_in(&mut self, ev: PacketInEvent) {
        self.events.push(AsyncEvent::PacketIn(ev));
    }

    /// Forgets what ofproto kept about a connection that ended.
    pub fn conn_closed(&mut self, conn_id: u64) {
        self.table_id_ext.remove(&conn_id);
        self.drop_bundles(conn_id);
    }

    /// Executes one request from `conn`.
    pub fn handle(&mut self, conn: &ConnInfo, msg: &Message, now: Millis) -> Outcome {
        let replies = self.dispatch(conn, msg, now);
        Outcome {
            replies,
            events: self.take_events(),
        }
    }

    fn dispatch(
        &mut self,
        conn: &ConnInfo,
        msg: &Message,
        now: Millis,
    ) -> Result<Vec<Message>, OfpError> {
        match msg {
            Message::EchoRequest(d) => Ok(vec![Message::EchoReply(d.clone())]),
            // An error is never answered with an error: two switches would loop.
            Message::EchoReply(_) | Message::Hello(_) | Message::Error(_) => Ok(vec![]),
            Message::FeaturesRequest => {
                Ok(vec![Message::FeaturesReply(self.features(conn.version))])
            }
            Message::GetConfigRequest => {
                let ttl = if conn.invalid_ttl_to_controller { 4 } else { 0 };
                Ok(vec![Message::GetConfigReply(SwitchConfig {
                    flags: self.frag_handling | ttl,
                    miss_send_len: conn.miss_send_len,
                })])
            }
            Message::SetConfig(c) => {
                if !(conn.primary && conn.role == Role::Slave) {
                    // NORMAL (0) and DROP (1) are supported; anything else is ignored, as
                    // Open vSwitch does.
                    let mode = c.flags & 3;
                    if mode <= 1 {
                        self.frag_handling = mode;
                    }
                }
                Ok(vec![])
            }
            Message::FlowMod(fm) => {
                self.flow_mod(conn, fm, false, now)?;
                Ok(vec![])
            }
            Message::Nx(NxMessage::FlowMod(fm)) => {
                self.flow_mod(conn, fm, true, now)?;
                Ok(vec![])
            }
            Message::Nx(NxMessage::FlowModTableId(on)) => {
                if *on {
                    self.table_id_ext.insert(conn.id);
                } else {
                    self.table_id_ext.remove(&conn.id);
                }
                Ok(vec![])
            }
            Message::GroupMod(gm) => {
                reject_slave(conn)?;
                self.group_mod(gm, now)?;
                Ok(vec![])
            }
            Message::MeterMod(mm) => {
                reject_slave(conn)?;
                self.meter_mod(mm, now)?;
                Ok(vec![])
            }
            Message::PortMod(pm) => {
                reject_slave(conn)?;
                self.port_mod(pm)?;
                Ok(vec![])
            }
            Message::TableMod(tm) => {
                reject_slave(conn)?;
                if tm.table_id != OFPTT_ALL && !self.table_exists(tm.table_id) {
                    return Err(OfpError::OFPTMFC_BAD_TABLE);
                }
                Ok(vec![])
            }
            Message::PacketOut(po) => {
                reject_slave(conn)?;
                self.packet_out(conn, po)?;
                Ok(vec![])
            }
            Message::BarrierRequest => {
                self.dpif.barrier().map_err(|_| OfpError::OFPBRC_EPERM)?;
                Ok(vec![Message::BarrierReply])
            }
            Message::MultipartRequest(req) => self.multipart(conn, req, now),
            Message::BundleControl(bc) => {
                reject_slave(conn)?;
                self.bundle_control(conn, bc, now)
            }
            Message::BundleAdd(ba) => {
                reject_slave(conn)?;
                self.bundle_add(conn, ba)
            }
            Message::QueueGetConfigRequest { port } => self.queue_get_config(conn.version, *port),
            Message::MultipartReply(_) => Err(OfpError::OFPBRC_BAD_STAT),
            Message::RoleRequest(_) | Message::GetAsyncRequest | Message::SetAsync(_) => Ok(vec![]),
            Message::Nx(
                NxMessage::RoleRequest(_)
                | NxMessage::SetFlowFormat(_)
                | NxMessage::SetPacketInFormat(_)
                | NxMessage::FlowAge
                | NxMessage::SetAsyncConfig(_)
                | NxMessage::SetController(_)
                | NxMessage::SetAsyncConfig2(_),
            ) => Ok(vec![]),
            Message::Nx(_) => Err(OfpError::OFPBRC_BAD_SUBTYPE),
            _ => Err(OfpError::OFPBRC_BAD_TYPE),
        }
    }

    fn features(&self, version: Version) -> FeaturesReply {
        let v10 = version == Version::V1_0;
        FeaturesReply {
            datapath_id: self.datapath_id(),
            n_buffers: 0,
            n_tables: self.config.n_tables,
            auxiliary_id: 0,
            // FLOW|TABLE|PORT|QUEUE stats, plus ARP_MATCH_IP (1.0) or GROUP_STATS (1.1+).
            capabilities: if v10 { 0xc7 } else { 0x4f },
            actions: if v10 { 0xfff } else { 0 },
            ports: if v10 {
                self.ports.values().map(|p| p.desc.clone()).collect()
            } else {
                Vec::new()
            },
        }
    }

    fn packet_out(&mut self, conn: &ConnInfo, po: &crate::ofp::PacketOut) -> Result<(), OfpError> {
        crate::coverage::OFPROTO_PACKET_OUT.inc();
        if po.buffer_id != NO_BUFFER {
            return Err(OfpError::OFPBRC_BUFFER_UNKNOWN);
        }
        let in_port = if conn.version >= Version::V1_5 {
            po.match_
                .get(crate::ofp::Field::InPort)
                .map_or(OFPP_CONTROLLER, |e| e.value_u64() as u32)
        } else {
            po.in_port
        };
        // The input port must be a port we have, LOCAL, CONTROLLER or "none".
        let ok = self.ports.contains_key(&in_port)
            || in_port == OFPP_CONTROLLER
            || in_port == OFPP_ANY
            || (in_port < OFPP_MAX && conn.version == Version::V1_0);
        if !ok {
            return Err(OfpError::OFPBRC_BAD_PORT);
        }
        self.check_actions(&po.actions)?;
        self.dpif
            .execute(&po.data, in_port, &po.actions)
            .map_err(|_| OfpError::OFPBRC_EPERM)
    }

    /// Actions must name groups that exist.
    fn check_actions(&self, actions: &[Action]) -> Result<(), OfpError> {
        for a in actions {
            if let Action::Group(g) = a {
                if !self.groups.contains_key(g) {
                    return Err(OfpError::OFPBAC_BAD_OUT_GROUP);
                }
            }
        }
        Ok(())
    }

    fn make_port(&self, p: &DpPort, old: Option<&OfPort>, now: Millis) -> OfPort {
        // OpenFlow-only config bits (NO_RECV, NO_FLOOD, ...) survive datapath changes.
        let kept = old.map_or(0, |o| o.desc.config & !OFPPC_PORT_DOWN);
        OfPort {
            desc: PortDesc {
                port_no: ofp_port_of(p.dp_port),
                hw_addr: p.hw_addr,
                name: p.name.clone(),
                config: kept | if p.admin_up { 0 } else { OFPPC_PORT_DOWN },
                state: if p.link_up { 0 } else { OFPPS_LINK_DOWN },
                curr: p.curr,
                advertised: old.map_or(0, |o| o.desc.advertised),
                supported: p.curr,
                peer: 0,
                curr_speed: p.curr_speed,
                max_speed: p.max_speed,
            },
            dp_port: p.dp_port,
            created: old.map_or(now, |o| o.created),
            queues: old.map_or_else(Vec::new, |o| o.queues.clone()),
        }
    }

    /// Adds a datapath port; PORT_STATUS ADD follows once the datapath created it.
    pub fn add_port(
        &mut self,
        name: &str,
        devargs: &str,
        now: Millis,
    ) -> Result<u32, crate::dpif::DpifError> {
        let p = self.dpif.port_add(name, devargs)?;
        let port = self.make_port(&p, None, now);
        let no = port.desc.port_no;
        self.events.push(AsyncEvent::PortStatus {
            reason: OFPPR_ADD,
            desc: port.desc.clone(),
        });
        self.ports.insert(no, port);
        self.dpif.revalidate();
        Ok(no)
    }

    /// Deletes a port; PORT_STATUS DELETE follows.
    pub fn del_port(&mut self, port_no: u32) -> Result<(), crate::dpif::DpifError> {
        let dp = self
            .ports
            .get(&port_no)
            .map(|p| p.dp_port)
            .ok_or(crate::dpif::DpifError::NoSuchPort(port_no))?;
        self.dpif.port_del(dp)?;
        self.forget_port(port_no);
        Ok(())
    }

    fn forget_port(&mut self, port_no: u32) {
        if let Some(p) = self.ports.remove(&port_no) {
            self.events.push(AsyncEvent::PortStatus {
                reason: OFPPR_DELETE,
                desc: p.desc,
            });
            self.dpif.revalidate();
        }
    }

    /// Sets the queues a port reports in queue stats.
    pub fn set_queues(&mut self, port_no: u32, queues: Vec<u32>) {
        if let Some(p) = self.ports.get_mut(&port_no) {
            p.queues = queues;
        }
    }

    fn port_mod(&mut self, pm: &crate::ofp::PortMod) -> Result<(), OfpError> {
        let port = self
            .ports
            .get(&pm.port_no)
            .ok_or(OfpError::OFPPMFC_BAD_PORT)?;
        if port.desc.hw_addr != pm.hw_addr {
            return Err(OfpError::OFPPMFC_BAD_HW_ADDR);
        }
        let dp = port.dp_port;
        let mask = pm.mask & (pm.config ^ port.desc.config);
        if mask & OFPPC_PORT_DOWN != 0 {
            self.dpif
                .port_set_admin(dp, pm.config & OFPPC_PORT_DOWN == 0)
                .map_err(|_| OfpError::OFPPMFC_EPERM)?;
        }
        let Some(port) = self.ports.get_mut(&pm.port_no) else {
            return Err(OfpError::OFPPMFC_BAD_PORT);
        };
        let old = port.desc.clone();
        port.desc.config = (port.desc.config & !mask) | (pm.config & mask);
        if pm.advertise != 0 {
            port.desc.advertised = pm.advertise;
        }
        if port.desc != old {
            // Every controller hears about a configuration change at once (Open vSwitch
            // of this era announced only PORT_DOWN, and only later).
            self.events.push(AsyncEvent::PortStatus {
                reason: OFPPR_MODIFY,
                desc: port.desc.clone(),
            });
            self.dpif.revalidate();
        }
        Ok(())
    }

    /// Periodic work: port changes from the datapath, then flow expiry. Returns the events.
    pub fn run(&mut self, now: Millis) -> Vec<AsyncEvent> {
        for change in self.dpif.port_poll() {
            match change {
                DpPortChange::Removed(dp) => self.forget_port(ofp_port_of(dp)),
                DpPortChange::Changed(p) => {
                    let no = ofp_port_of(p.dp_port);
                    match self.ports.get(&no) {
                        Some(old) if old.desc.name == p.name => {
                            let new = self.make_port(&p, Some(old), now);
                            if new.desc != old.desc {
                                self.events.push(AsyncEvent::PortStatus {
                                    reason: OFPPR_MODIFY,
                                    desc: new.desc.clone(),
                                });
                                self.ports.insert(no, new);
                                self.dpif.revalidate();
                            }
                        }
                        other => {
                            // A rename or a new port: DELETE (if any) then ADD.
                            if other.is_some() {
                                self.forget_port(no);
                            }
                            let new = self.make_port(&p, None, now);
                            self.events.push(AsyncEvent::PortStatus {
                                reason: OFPPR_ADD,
                                desc: new.desc.clone(),
                            });
                            self.ports.insert(no, new);
                            self.dpif.revalidate();
                        }
                    }
                }
            }
        }
        self.expire(now);
        self.take_events()
    }

    /// Counts lookups done by translation in `table` (table stats' lookup/matched counts).
    pub fn credit_table(&mut self, table: u8, lookups: u64, matched: u64) {
        if let Some(t) = self.tables.get_mut(usize::from(table)) {
            t.lookup_count += lookups;
            t.matched_count += matched;
        }
    }

    /// Every visible table's counters, for metrics: (table id, rules, lookups, matches).
    pub fn table_counters(&self) -> Vec<(u8, usize, u64, u64)> {
        self.tables
            .iter()
            .filter(|t| t.exists && !t.hidden)
            .map(|t| (t.id, t.cls.len(), t.lookup_count, t.matched_count))
            .collect()
    }

    /// Looks a packet up in one table: the winning rule and the bits examined.
    pub fn lookup(&self, table: u8, flow: &FlowFields) -> (Option<&Rule>, FlowFields) {
        match self.tables.get(usize::from(table)) {
            Some(t) if t.exists => {
                let (id, wc) = t.cls.lookup(flow);
                (id.and_then(|id| self.rules.get(&id)), wc)
            }
            _ => (None, FlowFields::default()),
        }
    }

    fn table_exists(&self, id: u8) -> bool {
        self.tables.get(usize::from(id)).is_some_and(|t| t.exists)
    }

    /// Visible tables, in order (what table 0xff means).
    fn visible_tables(&self) -> Vec<u8> {
        self.tables
            .iter()
            .filter(|t| t.exists && !t.hidden)
            .map(|t| t.id)
            .collect()
    }

    fn port_live(&self, port_no: u32) -> bool {
        self.ports.get(&port_no).is_some_and(OfPort::is_live)
    }

    /// Every rule id of a table, in insertion order.
    fn table_rules(&self, table: u8) -> &BTreeSet<RuleId> {
        &self.tables[usize::from(table)].ids
    }
}

fn reject_slave(conn: &ConnInfo) -> Result<(), OfpError> {
    if conn.primary && conn.role == Role::Slave {
        Err(if conn.version == Version::V1_0 {
            OfpError::OFPBRC_EPERM
        } else {
            OfpError::OFPBRC_IS_SECONDARY
        })
    } else {
        Ok(())
    }
}
