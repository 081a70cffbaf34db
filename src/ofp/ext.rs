//! Group-mod, meter-mod, controller roles, async config, bundles, and the Nicira (`NXT_*`)
//! messages.
//!
//! Experimenter messages start with a 32-bit experimenter id and a 32-bit subtype. Nicira
//! (`0x2320`) messages are typed in [`NxMessage`]; the ONF (`0x4f4e4600`) bundle messages of
//! OpenFlow 1.3 (`ovs-ofctl --bundle`) share [`BundleControl`]/[`BundleAdd`] with 1.4's
//! native ones. Unknown experimenters are `OFPBRC_BAD_VENDOR`, unknown Nicira subtypes
//! `OFPBRC_BAD_SUBTYPE`, as in Open vSwitch.

use super::action::Action;
use super::error::{OfpError, NX_VENDOR_ID, ONF_VENDOR_ID};
use super::flow::{FlowMod, Match};
use super::instruction::Instruction;
use super::multipart::{Bucket, MeterBand};
use super::oxm::OxmMatch;
use super::port;
use super::wire::{pad8, Put, Reader};
use super::Version;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMod {
    pub command: u16,
    pub group_type: u8,
    pub group_id: u32,
    pub buckets: Vec<Bucket>,
}

impl GroupMod {
    pub(crate) fn parse(version: Version, r: &mut Reader<'_>) -> Result<GroupMod, OfpError> {
        if version >= Version::V1_5 {
            // 1.5 adds bucket ids and properties; not carried by this codec.
            return Err(OfpError::OFPBRC_BAD_TYPE);
        }
        let command = r.u16()?;
        let group_type = r.u8()?;
        r.skip(1)?;
        let group_id = r.u32()?;
        let buckets = Bucket::parse_list(version, r)?;
        if command > 2 {
            return Err(OfpError::OFPGMFC_BAD_COMMAND);
        }
        if group_type > 3 {
            return Err(OfpError::OFPGMFC_BAD_TYPE);
        }
        Ok(GroupMod {
            command,
            group_type,
            group_id,
            buckets,
        })
    }

    pub(crate) fn emit(&self, version: Version, out: &mut Vec<u8>) -> Result<(), OfpError> {
        if version >= Version::V1_5 {
            return Err(OfpError::OFPBRC_BAD_TYPE);
        }
        out.put_u16(self.command);
        out.put_u8(self.group_type);
        out.put_u8(0);
        out.put_u32(self.group_id);
        Bucket::emit_list(&self.buckets, version, out)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeterMod {
    pub command: u16,
    pub flags: u16,
    pub meter_id: u32,
    pub bands: Vec<MeterBand>,
}

impl MeterMod {
    pub(crate) fn parse(r: &mut Reader<'_>) -> Result<MeterMod, OfpError> {
        let command = r.u16()?;
        let flags = r.u16()?;
        let meter_id = r.u32()?;
        let bands = MeterBand::parse_list(r)?;
        if command > 2 {
            return Err(OfpError::OFPMMFC_BAD_COMMAND);
        }
        Ok(MeterMod {
            command,
            flags,
            meter_id,
            bands,
        })
    }

    pub(crate) fn emit(&self, out: &mut Vec<u8>) {
        out.put_u16(self.command);
        out.put_u16(self.flags);
        out.put_u32(self.meter_id);
        MeterBand::emit_list(&self.bands, out);
    }
}

/// ROLE_REQUEST / ROLE_REPLY (1.2+): role 0 nochange, 1 equal, 2 master, 3 slave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoleMsg {
    pub role: u32,
    pub generation_id: u64,
}

impl RoleMsg {
    pub(crate) fn parse(r: &mut Reader<'_>) -> Result<RoleMsg, OfpError> {
        let role = r.u32()?;
        r.skip(4)?;
        Ok(RoleMsg {
            role,
            generation_id: r.u64()?,
        })
    }

    pub(crate) fn emit(&self, out: &mut Vec<u8>) {
        out.put_u32(self.role);
        out.put_zeros(4);
        out.put_u64(self.generation_id);
    }
}

/// Async config as (property type, mask) pairs, in wire order. Types follow OpenFlow 1.4's
/// `OFPACPT_*`: even = slave, odd = master; 0/1 packet-in, 2/3 port-status, 4/5
/// flow-removed. OpenFlow 1.3 and `NXT_SET_ASYNC_CONFIG` carry exactly those six, in the
/// order master, slave for each message kind.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AsyncConfig {
    pub props: Vec<(u16, u32)>,
}

const ASYNC13_ORDER: [u16; 6] = [1, 0, 3, 2, 5, 4];

impl AsyncConfig {
    pub fn mask(&self, ptype: u16) -> u32 {
        self.props
            .iter()
            .find(|(t, _)| *t == ptype)
            .map_or(0, |(_, m)| *m)
    }

    fn parse_fixed(r: &mut Reader<'_>) -> Result<AsyncConfig, OfpError> {
        let mut props = Vec::with_capacity(6);
        for t in ASYNC13_ORDER {
            props.push((t, r.u32()?));
        }
        if !r.is_empty() {
            return Err(OfpError::OFPBRC_BAD_LEN);
        }
        Ok(AsyncConfig { props })
    }

    fn emit_fixed(&self, out: &mut Vec<u8>) {
        for t in ASYNC13_ORDER {
            out.put_u32(self.mask(t));
        }
    }

    fn parse_props(r: &mut Reader<'_>) -> Result<AsyncConfig, OfpError> {
        let mut props = Vec::new();
        while !r.is_empty() {
            let t = r.u16().map_err(|_| OfpError::OFPBPC_BAD_LEN)?;
            let len = r.u16().map_err(|_| OfpError::OFPBPC_BAD_LEN)?;
            if len != 8 {
                return Err(OfpError::OFPBPC_BAD_LEN);
            }
            if t > 11 {
                return Err(OfpError::OFPBPC_BAD_TYPE);
            }
            props.push((t, r.u32().map_err(|_| OfpError::OFPBPC_BAD_LEN)?));
        }
        Ok(AsyncConfig { props })
    }

    fn emit_props(&self, out: &mut Vec<u8>) {
        for (t, m) in &self.props {
            out.put_u16(*t);
            out.put_u16(8);
            out.put_u32(*m);
        }
    }

    pub(crate) fn parse(version: Version, r: &mut Reader<'_>) -> Result<AsyncConfig, OfpError> {
        if version >= Version::V1_4 {
            AsyncConfig::parse_props(r)
        } else {
            AsyncConfig::parse_fixed(r)
        }
    }

    pub(crate) fn emit(&self, version: Version, out: &mut Vec<u8>) {
        if version >= Version::V1_4 {
            self.emit_props(out)
        } else {
            self.emit_fixed(out)
        }
    }
}

pub const OFPBCT_OPEN_REQUEST: u16 = 0;
pub const OFPBCT_OPEN_REPLY: u16 = 1;
pub const OFPBCT_CLOSE_REQUEST: u16 = 2;
pub const OFPBCT_CLOSE_REPLY: u16 = 3;
pub const OFPBCT_COMMIT_REQUEST: u16 = 4;
pub const OFPBCT_COMMIT_REPLY: u16 = 5;
pub const OFPBCT_DISCARD_REQUEST: u16 = 6;
pub const OFPBCT_DISCARD_REPLY: u16 = 7;
pub const OFPBF_ATOMIC: u16 = 1;
pub const OFPBF_ORDERED: u16 = 2;

/// BUNDLE_CONTROL (1.4+) or ONF's bundle control extension (1.3). Properties are raw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleControl {
    pub bundle_id: u32,
    pub ctype: u16,
    pub flags: u16,
    pub properties: Vec<u8>,
}

impl BundleControl {
    fn parse(r: &mut Reader<'_>) -> Result<BundleControl, OfpError> {
        let bundle_id = r.u32()?;
        let ctype = r.u16()?;
        let flags = r.u16()?;
        if ctype > OFPBCT_DISCARD_REPLY {
            return Err(OfpError::OFPBFC_BAD_TYPE);
        }
        Ok(BundleControl {
            bundle_id,
            ctype,
            flags,
            properties: r.take_rest().to_vec(),
        })
    }

    fn emit(&self, out: &mut Vec<u8>) {
        out.put_u32(self.bundle_id);
        out.put_u16(self.ctype);
        out.put_u16(self.flags);
        out.extend_from_slice(&self.properties);
    }
}

/// BUNDLE_ADD_MESSAGE: `message` holds the inner OpenFlow message's bytes; decode it with
/// [`super::decode`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleAdd {
    pub bundle_id: u32,
    pub flags: u16,
    pub message: Vec<u8>,
    pub properties: Vec<u8>,
}

impl BundleAdd {
    fn parse(r: &mut Reader<'_>) -> Result<BundleAdd, OfpError> {
        let bundle_id = r.u32()?;
        r.skip(2)?;
        let flags = r.u16()?;
        let rest = r.rest();
        if rest.len() < 8 {
            return Err(OfpError::OFPBFC_MSG_BAD_LEN);
        }
        let inner_len = usize::from(u16::from_be_bytes([rest[2], rest[3]]));
        if inner_len < 8 || inner_len > rest.len() {
            return Err(OfpError::OFPBFC_MSG_BAD_LEN);
        }
        let message = r.bytes(inner_len)?.to_vec();
        // Properties start at the next 8-byte boundary after the inner message.
        let pad = (pad8(inner_len) - inner_len).min(r.remaining());
        r.skip(pad)?;
        Ok(BundleAdd {
            bundle_id,
            flags,
            message,
            properties: r.take_rest().to_vec(),
        })
    }

    fn emit(&self, out: &mut Vec<u8>) {
        out.put_u32(self.bundle_id);
        out.put_u16(0);
        out.put_u16(self.flags);
        out.extend_from_slice(&self.message);
        if !self.properties.is_empty() {
            out.put_zeros(pad8(self.message.len()) - self.message.len());
            out.extend_from_slice(&self.properties);
        }
    }
}

/// A property of `NXT_PACKET_IN2` / `NXT_RESUME` (and of their nested continuation),
/// kept as (type, value); the value excludes the 4-byte property header and padding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Property {
    pub ptype: u16,
    pub value: Vec<u8>,
}

pub const NXPINT_PACKET: u16 = 0;
pub const NXPINT_FULL_LEN: u16 = 1;
pub const NXPINT_BUFFER_ID: u16 = 2;
pub const NXPINT_TABLE_ID: u16 = 3;
pub const NXPINT_COOKIE: u16 = 4;
pub const NXPINT_REASON: u16 = 5;
pub const NXPINT_METADATA: u16 = 6;
pub const NXPINT_USERDATA: u16 = 7;
pub const NXPINT_CONTINUATION: u16 = 8;

/// Properties padded to 8 bytes, as NXT_PACKET_IN2 uses them.
pub fn parse_props(r: &mut Reader<'_>) -> Result<Vec<Property>, OfpError> {
    let bad = OfpError::OFPBPC_BAD_LEN;
    let mut out = Vec::new();
    while !r.is_empty() {
        let ptype = r.u16().map_err(|_| bad)?;
        let len = usize::from(r.u16().map_err(|_| bad)?);
        if len < 4 {
            return Err(bad);
        }
        let value = r.bytes(len - 4).map_err(|_| bad)?.to_vec();
        r.skip((pad8(len) - len).min(r.remaining()))?;
        out.push(Property { ptype, value });
    }
    Ok(out)
}

pub fn emit_props(props: &[Property], out: &mut Vec<u8>) {
    for p in props {
        let start = out.len();
        out.put_u16(p.ptype);
        out.put_u16((4 + p.value.len()) as u16);
        out.extend_from_slice(&p.value);
        out.pad_to_8(start);
    }
}

/// NXT_PACKET_IN2 and NXT_RESUME share this property list.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PacketIn2 {
    pub props: Vec<Property>,
}

/// Continuation property types (nested inside `NXPINT_CONTINUATION`).
pub const NXCPT_BRIDGE: u16 = 0x8000;
pub const NXCPT_STACK: u16 = 0x8001;
pub const NXCPT_MIRRORS: u16 = 0x8002;
pub const NXCPT_CONNTRACKED: u16 = 0x8003;
pub const NXCPT_TABLE_ID: u16 = 0x8004;
pub const NXCPT_COOKIE: u16 = 0x8005;
pub const NXCPT_ACTIONS: u16 = 0x8006;
pub const NXCPT_ACTION_SET: u16 = 0x8007;
pub const NXCPT_ODP_PORT: u16 = 0x8008;

/// A property holding an 8-bit value, as Open vSwitch writes one (length 5, padded).
pub fn prop_u8(ptype: u16, v: u8) -> Property {
    Property {
        ptype,
        value: vec![v],
    }
}

/// A property holding a 32-bit value.
pub fn prop_u32(ptype: u16, v: u32) -> Property {
    Property {
        ptype,
        value: v.to_be_bytes().to_vec(),
    }
}

/// A property holding a 64-bit value, which Open vSwitch aligns with 4 pad bytes first.
pub fn prop_u64(ptype: u16, v: u64) -> Property {
    let mut value = vec![0; 4];
    value.extend_from_slice(&v.to_be_bytes());
    Property { ptype, value }
}

/// A property holding nested properties, which start 8-aligned (after 4 pad bytes).
pub fn prop_nested(ptype: u16, inner: &[Property]) -> Property {
    let mut value = vec![0; 4];
    emit_props(inner, &mut value);
    Property { ptype, value }
}

impl PacketIn2 {
    /// A packet-in as Open vSwitch sends it: packet, full length, table, cookie, reason,
    /// metadata (OXM entries), optional userdata, and for a paused pipeline the
    /// continuation (nested `NXCPT_*` properties, opaque to the controller).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        packet: &[u8],
        total_len: u32,
        table_id: u8,
        cookie: u64,
        reason: u8,
        metadata: &OxmMatch,
        userdata: Option<&[u8]>,
        continuation: Option<&[Property]>,
    ) -> PacketIn2 {
        let mut props = vec![
            Property {
                ptype: NXPINT_PACKET,
                value: packet.to_vec(),
            },
            prop_u32(NXPINT_FULL_LEN, total_len),
            prop_u8(NXPINT_TABLE_ID, table_id),
            prop_u64(NXPINT_COOKIE, cookie),
            prop_u8(NXPINT_REASON, reason),
        ];
        let mut md = Vec::new();
        metadata.emit_entries(&mut md);
        props.push(Property {
            ptype: NXPINT_METADATA,
            value: md,
        });
        if let Some(u) = userdata {
            props.push(Property {
                ptype: NXPINT_USERDATA,
                value: u.to_vec(),
            });
        }
        if let Some(c) = continuation {
            props.push(prop_nested(NXPINT_CONTINUATION, c));
        }
        PacketIn2 { props }
    }

    /// The continuation's nested properties (after the 4 bytes that align them).
    pub fn continuation_props(&self) -> Result<Option<Vec<Property>>, OfpError> {
        match self.continuation() {
            None => Ok(None),
            Some(v) => {
                let inner = v.get(4..).ok_or(OfpError::OFPBPC_BAD_LEN)?;
                parse_props(&mut Reader::new(inner, OfpError::OFPBPC_BAD_LEN)).map(Some)
            }
        }
    }

    fn prop(&self, t: u16) -> Option<&[u8]> {
        self.props
            .iter()
            .find(|p| p.ptype == t)
            .map(|p| p.value.as_slice())
    }

    pub fn packet(&self) -> Option<&[u8]> {
        self.prop(NXPINT_PACKET)
    }

    pub fn reason(&self) -> Option<u8> {
        self.prop(NXPINT_REASON).and_then(|v| v.first().copied())
    }

    pub fn table_id(&self) -> Option<u8> {
        self.prop(NXPINT_TABLE_ID).and_then(|v| v.first().copied())
    }

    /// The cookie (a 64-bit value that Open vSwitch puts after 4 pad bytes).
    pub fn cookie(&self) -> Option<u64> {
        self.prop(NXPINT_COOKIE)
            .and_then(|v| v.get(4..12))
            .and_then(|v| v.try_into().ok())
            .map(u64::from_be_bytes)
    }

    pub fn userdata(&self) -> Option<&[u8]> {
        self.prop(NXPINT_USERDATA)
    }

    /// The opaque continuation (present when the packet was paused).
    pub fn continuation(&self) -> Option<&[u8]> {
        self.prop(NXPINT_CONTINUATION)
    }

    /// The packet metadata (NXM/OXM entries).
    pub fn metadata(&self) -> Result<Option<OxmMatch>, OfpError> {
        match self.prop(NXPINT_METADATA) {
            None => Ok(None),
            Some(b) => {
                let mut r = Reader::new(b, OfpError::OFPBMC_BAD_LEN);
                OxmMatch::parse_entries(&mut r).map(Some)
            }
        }
    }
}

pub const NXT_ROLE_REQUEST: u32 = 10;
pub const NXT_ROLE_REPLY: u32 = 11;
pub const NXT_SET_FLOW_FORMAT: u32 = 12;
pub const NXT_FLOW_MOD: u32 = 13;
pub const NXT_FLOW_MOD_TABLE_ID: u32 = 15;
pub const NXT_PACKET_IN: u32 = 17;
pub const NXT_SET_PACKET_IN_FORMAT: u32 = 16;
pub const NXT_FLOW_AGE: u32 = 18;
pub const NXT_SET_ASYNC_CONFIG: u32 = 19;
pub const NXT_SET_CONTROLLER_ID: u32 = 20;
pub const NXT_SET_ASYNC_CONFIG2: u32 = 27;
pub const NXT_RESUME: u32 = 28;
pub const NXT_PACKET_IN2: u32 = 30;
const ONFT_BUNDLE_CONTROL: u32 = 2300;
const ONFT_BUNDLE_ADD_MESSAGE: u32 = 2301;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NxMessage {
    /// Role: 0 other (equal), 1 master, 2 slave.
    RoleRequest(u32),
    RoleReply(u32),
    SetFlowFormat(u32),
    /// `NXT_FLOW_MOD`: a flow-mod with an NXM match (`match_` is `Match::Oxm`), as
    /// `ovs-ofctl` sends when an OpenFlow 1.0 match cannot express the flow.
    FlowMod(FlowMod),
    FlowModTableId(bool),
    SetPacketInFormat(u32),
    FlowAge,
    SetAsyncConfig(AsyncConfig),
    SetController(u16),
    SetAsyncConfig2(AsyncConfig),
    PacketIn2(PacketIn2),
    Resume(PacketIn2),
    /// `NXT_PACKET_IN`: the packet-in of controllers that chose the NXM packet-in format
    /// (`NXPIF_NXM`); `match_` is the packet's metadata as NXM entries.
    PacketIn(NxPacketIn),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NxPacketIn {
    pub buffer_id: u32,
    pub total_len: u16,
    pub reason: u8,
    pub table_id: u8,
    pub cookie: u64,
    pub match_: OxmMatch,
    pub data: Vec<u8>,
}

impl NxPacketIn {
    fn parse(r: &mut Reader<'_>) -> Result<NxPacketIn, OfpError> {
        let buffer_id = r.u32()?;
        let total_len = r.u16()?;
        let reason = r.u8()?;
        let table_id = r.u8()?;
        let cookie = r.u64()?;
        let match_len = usize::from(r.u16()?);
        r.skip(6)?;
        let match_ = parse_nx_match(r, match_len)?;
        r.skip(2)?;
        Ok(NxPacketIn {
            buffer_id,
            total_len,
            reason,
            table_id,
            cookie,
            match_,
            data: r.take_rest().to_vec(),
        })
    }

    fn emit(&self, out: &mut Vec<u8>) {
        out.put_u32(self.buffer_id);
        out.put_u16(self.total_len);
        out.put_u8(self.reason);
        out.put_u8(self.table_id);
        out.put_u64(self.cookie);
        let len_at = out.len();
        out.put_u16(0);
        out.put_zeros(6);
        let n = emit_nx_match(&self.match_, out);
        out[len_at..len_at + 2].copy_from_slice(&n.to_be_bytes());
        out.put_zeros(2);
        out.extend_from_slice(&self.data);
    }
}

impl NxMessage {
    pub fn subtype(&self) -> u32 {
        match self {
            NxMessage::RoleRequest(_) => NXT_ROLE_REQUEST,
            NxMessage::RoleReply(_) => NXT_ROLE_REPLY,
            NxMessage::SetFlowFormat(_) => NXT_SET_FLOW_FORMAT,
            NxMessage::FlowMod(_) => NXT_FLOW_MOD,
            NxMessage::FlowModTableId(_) => NXT_FLOW_MOD_TABLE_ID,
            NxMessage::SetPacketInFormat(_) => NXT_SET_PACKET_IN_FORMAT,
            NxMessage::FlowAge => NXT_FLOW_AGE,
            NxMessage::SetAsyncConfig(_) => NXT_SET_ASYNC_CONFIG,
            NxMessage::SetController(_) => NXT_SET_CONTROLLER_ID,
            NxMessage::SetAsyncConfig2(_) => NXT_SET_ASYNC_CONFIG2,
            NxMessage::PacketIn2(_) => NXT_PACKET_IN2,
            NxMessage::Resume(_) => NXT_RESUME,
            NxMessage::PacketIn(_) => NXT_PACKET_IN,
        }
    }

    fn parse(version: Version, subtype: u32, r: &mut Reader<'_>) -> Result<NxMessage, OfpError> {
        let exact = |r: &Reader<'_>, n: usize| {
            if r.remaining() == n {
                Ok(())
            } else {
                Err(OfpError::OFPBRC_BAD_LEN)
            }
        };
        Ok(match subtype {
            NXT_ROLE_REQUEST | NXT_ROLE_REPLY => {
                exact(r, 4)?;
                let role = r.u32()?;
                if subtype == NXT_ROLE_REQUEST {
                    if role > 2 {
                        return Err(OfpError::OFPRRFC_BAD_ROLE);
                    }
                    NxMessage::RoleRequest(role)
                } else {
                    NxMessage::RoleReply(role)
                }
            }
            NXT_SET_FLOW_FORMAT => {
                exact(r, 4)?;
                NxMessage::SetFlowFormat(r.u32()?)
            }
            NXT_FLOW_MOD => NxMessage::FlowMod(parse_nx_flow_mod(version, r)?),
            NXT_FLOW_MOD_TABLE_ID => {
                exact(r, 8)?;
                NxMessage::FlowModTableId(r.u8()? != 0)
            }
            NXT_SET_PACKET_IN_FORMAT => {
                exact(r, 4)?;
                NxMessage::SetPacketInFormat(r.u32()?)
            }
            NXT_FLOW_AGE => {
                exact(r, 0)?;
                NxMessage::FlowAge
            }
            NXT_SET_ASYNC_CONFIG => {
                exact(r, 24)?;
                NxMessage::SetAsyncConfig(AsyncConfig::parse_fixed(r)?)
            }
            NXT_SET_CONTROLLER_ID => {
                exact(r, 8)?;
                r.skip(6)?;
                NxMessage::SetController(r.u16()?)
            }
            NXT_SET_ASYNC_CONFIG2 => NxMessage::SetAsyncConfig2(AsyncConfig::parse_props(r)?),
            NXT_PACKET_IN2 => NxMessage::PacketIn2(PacketIn2 {
                props: parse_props(r)?,
            }),
            NXT_PACKET_IN => NxMessage::PacketIn(NxPacketIn::parse(r)?),
            NXT_RESUME => NxMessage::Resume(PacketIn2 {
                props: parse_props(r)?,
            }),
            _ => return Err(OfpError::OFPBRC_BAD_SUBTYPE),
        })
    }

    fn emit(&self, version: Version, out: &mut Vec<u8>) -> Result<(), OfpError> {
        match self {
            NxMessage::FlowMod(f) => emit_nx_flow_mod(version, f, out)?,
            NxMessage::RoleRequest(v)
            | NxMessage::RoleReply(v)
            | NxMessage::SetFlowFormat(v)
            | NxMessage::SetPacketInFormat(v) => out.put_u32(*v),
            NxMessage::FlowModTableId(set) => {
                out.put_u8(u8::from(*set));
                out.put_zeros(7);
            }
            NxMessage::FlowAge => {}
            NxMessage::SetAsyncConfig(a) => a.emit_fixed(out),
            NxMessage::SetController(id) => {
                out.put_zeros(6);
                out.put_u16(*id);
            }
            NxMessage::SetAsyncConfig2(a) => a.emit_props(out),
            NxMessage::PacketIn2(p) | NxMessage::Resume(p) => emit_props(&p.props, out),
            NxMessage::PacketIn(p) => p.emit(out),
        }
        Ok(())
    }
}

/// Reads an NXM match of `match_len` bytes plus its padding to 8.
pub(crate) fn parse_nx_match(r: &mut Reader<'_>, match_len: usize) -> Result<OxmMatch, OfpError> {
    let mut m = r
        .sub(match_len, OfpError::OFPBMC_BAD_LEN)
        .map_err(|_| OfpError::OFPBRC_BAD_LEN)?;
    r.skip(pad8(match_len) - match_len)
        .map_err(|_| OfpError::OFPBRC_BAD_LEN)?;
    OxmMatch::parse_entries(&mut m)
}

/// Writes an NXM match's entries and padding; returns `match_len`.
pub(crate) fn emit_nx_match(m: &OxmMatch, out: &mut Vec<u8>) -> u16 {
    let start = out.len();
    m.emit_entries(out);
    let len = out.len() - start;
    out.pad_to_8(start);
    len as u16
}

fn parse_nx_flow_mod(version: Version, r: &mut Reader<'_>) -> Result<FlowMod, OfpError> {
    let cookie = r.u64()?;
    let raw_cmd = r.u16()?;
    let idle_timeout = r.u16()?;
    let hard_timeout = r.u16()?;
    let priority = r.u16()?;
    let buffer_id = r.u32()?;
    let out_port = port::from_of10(r.u16()?);
    let flags = r.u16()?;
    let match_len = usize::from(r.u16()?);
    r.skip(6)?;
    let m = parse_nx_match(r, match_len)?;
    let actions = Action::parse_list(version, r.take_rest())?;
    let instructions = if actions.is_empty() {
        Vec::new()
    } else {
        vec![Instruction::ApplyActions(actions)]
    };
    if (raw_cmd & 0xff) > 4 {
        return Err(OfpError::OFPFMFC_BAD_COMMAND);
    }
    super::consistency::check(version, &instructions, &m)?;
    Ok(FlowMod {
        cookie,
        cookie_mask: 0,
        table_id: (raw_cmd >> 8) as u8,
        command: (raw_cmd & 0xff) as u8,
        idle_timeout,
        hard_timeout,
        priority,
        buffer_id,
        out_port,
        out_group: 0xffff_ffff,
        flags,
        importance: 0,
        match_: Match::Oxm(m),
        instructions,
    })
}

fn emit_nx_flow_mod(version: Version, f: &FlowMod, out: &mut Vec<u8>) -> Result<(), OfpError> {
    let Match::Oxm(m) = &f.match_ else {
        return Err(OfpError::OFPBMC_BAD_TYPE);
    };
    out.put_u64(f.cookie);
    out.put_u16((u16::from(f.table_id) << 8) | u16::from(f.command));
    out.put_u16(f.idle_timeout);
    out.put_u16(f.hard_timeout);
    out.put_u16(f.priority);
    out.put_u32(f.buffer_id);
    out.put_u16(port::to_of10(f.out_port).ok_or(OfpError::OFPBRC_BAD_PORT)?);
    out.put_u16(f.flags);
    let len_at = out.len();
    out.put_u16(0);
    out.put_zeros(6);
    let n = emit_nx_match(m, out);
    out[len_at..len_at + 2].copy_from_slice(&n.to_be_bytes());
    // NXT_FLOW_MOD carries a plain action list whatever the version.
    match f.instructions.as_slice() {
        [] => Ok(()),
        [Instruction::ApplyActions(a)] => Action::emit_list(a, version, out),
        _ => Err(OfpError::OFPBIC_UNSUP_INST),
    }
}

/// What an experimenter message decodes to.
pub(crate) enum Experimenter {
    Nx(NxMessage),
    BundleControl(BundleControl),
    BundleAdd(BundleAdd),
}

pub(crate) fn parse_experimenter(
    version: Version,
    r: &mut Reader<'_>,
) -> Result<Experimenter, OfpError> {
    let vendor = r.u32()?;
    let subtype = r.u32()?;
    match vendor {
        NX_VENDOR_ID => Ok(Experimenter::Nx(NxMessage::parse(version, subtype, r)?)),
        ONF_VENDOR_ID if version == Version::V1_3 => match subtype {
            ONFT_BUNDLE_CONTROL => Ok(Experimenter::BundleControl(BundleControl::parse(r)?)),
            ONFT_BUNDLE_ADD_MESSAGE => Ok(Experimenter::BundleAdd(BundleAdd::parse(r)?)),
            _ => Err(OfpError::OFPBRC_BAD_SUBTYPE),
        },
        _ => Err(OfpError::OFPBRC_BAD_VENDOR),
    }
}

pub(crate) fn emit_nx(version: Version, m: &NxMessage, out: &mut Vec<u8>) -> Result<(), OfpError> {
    out.put_u32(NX_VENDOR_ID);
    out.put_u32(m.subtype());
    m.emit(version, out)
}

pub(crate) fn parse_bundle_control(r: &mut Reader<'_>) -> Result<BundleControl, OfpError> {
    BundleControl::parse(r)
}

pub(crate) fn parse_bundle_add(r: &mut Reader<'_>) -> Result<BundleAdd, OfpError> {
    BundleAdd::parse(r)
}

/// Writes a bundle message: natively in 1.4+, as the ONF experimenter message in 1.3.
pub(crate) fn emit_bundle_control(version: Version, b: &BundleControl, out: &mut Vec<u8>) {
    if version == Version::V1_3 {
        out.put_u32(ONF_VENDOR_ID);
        out.put_u32(ONFT_BUNDLE_CONTROL);
    }
    b.emit(out);
}

pub(crate) fn emit_bundle_add(version: Version, b: &BundleAdd, out: &mut Vec<u8>) {
    if version == Version::V1_3 {
        out.put_u32(ONF_VENDOR_ID);
        out.put_u32(ONFT_BUNDLE_ADD_MESSAGE);
    }
    b.emit(out);
}
