//! Multipart (1.3+) and stats (1.0) requests and replies.
//!
//! The header after `ofp_header` is (type, flags) in 1.0 and (type, flags, 4 pad) in 1.1+.
//! Typed bodies: desc, flow, aggregate, table, port, queue, port-desc, group, group-desc,
//! group-features, meter, meter-config, meter-features, table-features (properties as
//! (type, value) pairs), and Nicira's NXST_FLOW/NXST_AGGREGATE for OpenFlow 1.0. Bodies
//! whose layout changed in 1.5 (and 1.4's table-desc, queue-desc, flow-monitor) are carried
//! as raw bytes of a known type, so they still round-trip exactly. An unknown type is
//! `OFPBRC_BAD_STAT`.

use super::action::Action;
use super::error::{OfpError, NX_VENDOR_ID};
use super::ext::{emit_nx_match, emit_props, parse_nx_match, parse_props, Property};
use super::flow::{actions10_as_instructions, emit_instructions, Match};
use super::instruction::Instruction;
use super::oxm::OxmMatch;
use super::port;
use super::switch::{with_len, PortDesc};
use super::wire::{put_str, read_str, Put, Reader};
use super::Version;

pub const OFPMP_DESC: u16 = 0;
pub const OFPMP_FLOW: u16 = 1;
pub const OFPMP_AGGREGATE: u16 = 2;
pub const OFPMP_TABLE: u16 = 3;
pub const OFPMP_PORT_STATS: u16 = 4;
pub const OFPMP_QUEUE: u16 = 5;
pub const OFPMP_GROUP: u16 = 6;
pub const OFPMP_GROUP_DESC: u16 = 7;
pub const OFPMP_GROUP_FEATURES: u16 = 8;
pub const OFPMP_METER: u16 = 9;
pub const OFPMP_METER_CONFIG: u16 = 10;
pub const OFPMP_METER_FEATURES: u16 = 11;
pub const OFPMP_TABLE_FEATURES: u16 = 12;
pub const OFPMP_PORT_DESC: u16 = 13;
/// Flag: more replies follow.
pub const OFPMPF_MORE: u16 = 1;

/// Vendor (experimenter) stats type.
pub const OFPST_VENDOR: u16 = 0xffff;
/// Nicira vendor stats subtypes.
pub const NXST_FLOW: u32 = 0;
pub const NXST_AGGREGATE: u32 = 1;

fn known_type(version: Version, t: u16) -> bool {
    match version {
        // OpenFlow 1.0 stats, OVS's port-desc extension to 1.0, and vendor stats.
        Version::V1_0 => matches!(t, 0..=5 | 13 | OFPST_VENDOR),
        Version::V1_3 => t <= 13,
        // 1.4 adds table-desc, queue-desc and flow-monitor; 1.5 flow-stats-based ones.
        Version::V1_4 => t <= 16,
        Version::V1_5 => t <= 19,
    }
}

/// Whether this codec types `t` in `version` (rather than carrying raw bytes).
fn typed(version: Version, t: u16) -> bool {
    match t {
        OFPMP_DESC | OFPMP_TABLE | OFPMP_PORT_DESC => true,
        OFPMP_FLOW | OFPMP_AGGREGATE | OFPMP_PORT_STATS | OFPMP_QUEUE => {
            version <= Version::V1_3 || (t != OFPMP_PORT_STATS && version == Version::V1_4)
        }
        OFPMP_GROUP_DESC | OFPMP_METER_CONFIG | OFPMP_GROUP | OFPMP_GROUP_FEATURES
        | OFPMP_METER | OFPMP_METER_FEATURES | OFPMP_TABLE_FEATURES => {
            (Version::V1_3..=Version::V1_4).contains(&version)
        }
        OFPST_VENDOR => version == Version::V1_0,
        _ => false,
    }
}

/// Flow and aggregate stats request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowStatsRequest {
    pub table_id: u8,
    pub out_port: u32,
    pub out_group: u32,
    pub cookie: u64,
    pub cookie_mask: u64,
    pub match_: Match,
}

impl FlowStatsRequest {
    fn parse(version: Version, r: &mut Reader<'_>) -> Result<Self, OfpError> {
        if version == Version::V1_0 {
            let match_ = Match::parse(version, r)?;
            let table_id = r.u8()?;
            r.skip(1)?;
            Ok(FlowStatsRequest {
                table_id,
                out_port: port::from_of10(r.u16()?),
                out_group: 0xffff_ffff,
                cookie: 0,
                cookie_mask: 0,
                match_,
            })
        } else {
            let table_id = r.u8()?;
            r.skip(3)?;
            let out_port = r.u32()?;
            let out_group = r.u32()?;
            r.skip(4)?;
            Ok(FlowStatsRequest {
                table_id,
                out_port,
                out_group,
                cookie: r.u64()?,
                cookie_mask: r.u64()?,
                match_: Match::parse(version, r)?,
            })
        }
    }

    fn emit(&self, version: Version, out: &mut Vec<u8>) -> Result<(), OfpError> {
        if version == Version::V1_0 {
            self.match_.emit(version, out)?;
            out.put_u8(self.table_id);
            out.put_u8(0);
            out.put_u16(port::to_of10(self.out_port).ok_or(OfpError::OFPBRC_BAD_PORT)?);
        } else {
            out.put_u8(self.table_id);
            out.put_zeros(3);
            out.put_u32(self.out_port);
            out.put_u32(self.out_group);
            out.put_zeros(4);
            out.put_u64(self.cookie);
            out.put_u64(self.cookie_mask);
            self.match_.emit(version, out)?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MultipartRequestBody {
    Desc,
    Flow(FlowStatsRequest),
    Aggregate(FlowStatsRequest),
    Table,
    Port {
        port_no: u32,
    },
    Queue {
        port_no: u32,
        queue_id: u32,
    },
    /// `port_no` is carried from 1.5 on (earlier versions ask for all ports).
    PortDesc {
        port_no: u32,
    },
    GroupDesc,
    MeterConfig {
        meter_id: u32,
    },
    Group {
        group_id: u32,
    },
    GroupFeatures,
    Meter {
        meter_id: u32,
    },
    MeterFeatures,
    /// Empty to read the table features; a list to set them.
    TableFeatures(Vec<TableFeatures>),
    /// Nicira `NXST_FLOW` (or, with `aggregate`, `NXST_AGGREGATE`): flow stats with an NXM
    /// match, which is how `ovs-ofctl` dumps flows over OpenFlow 1.0.
    NxFlow {
        aggregate: bool,
        out_port: u32,
        table_id: u8,
        match_: OxmMatch,
    },
    /// A known type carried as raw bytes.
    Raw {
        mtype: u16,
        body: Vec<u8>,
    },
}

/// Reads the Nicira vendor stats header (vendor, subtype, 4 pad) of OpenFlow 1.0.
fn parse_nx_stats_header(r: &mut Reader<'_>) -> Result<u32, OfpError> {
    let vendor = r.u32()?;
    let subtype = r.u32()?;
    r.skip(4)?;
    if vendor != NX_VENDOR_ID {
        return Err(OfpError::OFPBRC_BAD_VENDOR);
    }
    if subtype != NXST_FLOW && subtype != NXST_AGGREGATE {
        return Err(OfpError::OFPBRC_BAD_SUBTYPE);
    }
    Ok(subtype)
}

fn emit_nx_stats_header(subtype: u32, out: &mut Vec<u8>) {
    out.put_u32(NX_VENDOR_ID);
    out.put_u32(subtype);
    out.put_zeros(4);
}

/// One flow of an `NXST_FLOW` reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NxFlowStats {
    pub table_id: u8,
    pub duration_sec: u32,
    pub duration_nsec: u32,
    pub priority: u16,
    pub idle_timeout: u16,
    pub hard_timeout: u16,
    pub idle_age: u16,
    pub hard_age: u16,
    pub cookie: u64,
    pub packet_count: u64,
    pub byte_count: u64,
    pub match_: OxmMatch,
    pub actions: Vec<Action>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultipartRequest {
    pub flags: u16,
    pub body: MultipartRequestBody,
}

fn parse_mp_header(version: Version, r: &mut Reader<'_>) -> Result<(u16, u16), OfpError> {
    let t = r.u16()?;
    let flags = r.u16()?;
    if version != Version::V1_0 {
        r.skip(4)?;
    }
    if !known_type(version, t) {
        return Err(OfpError::OFPBRC_BAD_STAT);
    }
    Ok((t, flags))
}

fn emit_mp_header(version: Version, t: u16, flags: u16, out: &mut Vec<u8>) {
    out.put_u16(t);
    out.put_u16(flags);
    if version != Version::V1_0 {
        out.put_zeros(4);
    }
}

fn expect_end(r: &Reader<'_>) -> Result<(), OfpError> {
    if r.is_empty() {
        Ok(())
    } else {
        Err(OfpError::OFPBRC_BAD_LEN)
    }
}

impl MultipartRequest {
    pub fn mtype(&self) -> u16 {
        match &self.body {
            MultipartRequestBody::Desc => OFPMP_DESC,
            MultipartRequestBody::Flow(_) => OFPMP_FLOW,
            MultipartRequestBody::Aggregate(_) => OFPMP_AGGREGATE,
            MultipartRequestBody::Table => OFPMP_TABLE,
            MultipartRequestBody::Port { .. } => OFPMP_PORT_STATS,
            MultipartRequestBody::Queue { .. } => OFPMP_QUEUE,
            MultipartRequestBody::PortDesc { .. } => OFPMP_PORT_DESC,
            MultipartRequestBody::GroupDesc => OFPMP_GROUP_DESC,
            MultipartRequestBody::MeterConfig { .. } => OFPMP_METER_CONFIG,
            MultipartRequestBody::Group { .. } => OFPMP_GROUP,
            MultipartRequestBody::GroupFeatures => OFPMP_GROUP_FEATURES,
            MultipartRequestBody::Meter { .. } => OFPMP_METER,
            MultipartRequestBody::MeterFeatures => OFPMP_METER_FEATURES,
            MultipartRequestBody::TableFeatures(_) => OFPMP_TABLE_FEATURES,
            MultipartRequestBody::NxFlow { .. } => OFPST_VENDOR,
            MultipartRequestBody::Raw { mtype, .. } => *mtype,
        }
    }

    pub(crate) fn parse(version: Version, r: &mut Reader<'_>) -> Result<Self, OfpError> {
        let (t, flags) = parse_mp_header(version, r)?;
        let v10 = version == Version::V1_0;
        let body = if !typed(version, t) {
            MultipartRequestBody::Raw {
                mtype: t,
                body: r.take_rest().to_vec(),
            }
        } else {
            let b = match t {
                OFPMP_DESC => MultipartRequestBody::Desc,
                OFPMP_FLOW => MultipartRequestBody::Flow(FlowStatsRequest::parse(version, r)?),
                OFPMP_AGGREGATE => {
                    MultipartRequestBody::Aggregate(FlowStatsRequest::parse(version, r)?)
                }
                OFPMP_TABLE => MultipartRequestBody::Table,
                OFPMP_PORT_STATS => {
                    let port_no = if v10 {
                        let p = port::from_of10(r.u16()?);
                        r.skip(6)?;
                        p
                    } else {
                        let p = r.u32()?;
                        r.skip(4)?;
                        p
                    };
                    MultipartRequestBody::Port { port_no }
                }
                OFPMP_QUEUE => {
                    let port_no = if v10 {
                        let p = port::from_of10(r.u16()?);
                        r.skip(2)?;
                        p
                    } else {
                        r.u32()?
                    };
                    MultipartRequestBody::Queue {
                        port_no,
                        queue_id: r.u32()?,
                    }
                }
                OFPMP_PORT_DESC => {
                    let port_no = if version >= Version::V1_5 {
                        let p = r.u32()?;
                        r.skip(4)?;
                        p
                    } else {
                        port::OFPP_ANY
                    };
                    MultipartRequestBody::PortDesc { port_no }
                }
                OFPMP_GROUP_DESC => MultipartRequestBody::GroupDesc,
                OFPMP_GROUP | OFPMP_METER => {
                    let id = r.u32()?;
                    r.skip(4)?;
                    if t == OFPMP_GROUP {
                        MultipartRequestBody::Group { group_id: id }
                    } else {
                        MultipartRequestBody::Meter { meter_id: id }
                    }
                }
                OFPMP_GROUP_FEATURES => MultipartRequestBody::GroupFeatures,
                OFPMP_METER_FEATURES => MultipartRequestBody::MeterFeatures,
                OFPMP_TABLE_FEATURES => {
                    MultipartRequestBody::TableFeatures(TableFeatures::parse_list(r)?)
                }
                OFPST_VENDOR => {
                    let subtype = parse_nx_stats_header(r)?;
                    let out_port = port::from_of10(r.u16()?);
                    let match_len = usize::from(r.u16()?);
                    let table_id = r.u8()?;
                    r.skip(3)?;
                    MultipartRequestBody::NxFlow {
                        aggregate: subtype == NXST_AGGREGATE,
                        out_port,
                        table_id,
                        match_: parse_nx_match(r, match_len)?,
                    }
                }
                _ => {
                    let meter_id = r.u32()?;
                    r.skip(4)?;
                    MultipartRequestBody::MeterConfig { meter_id }
                }
            };
            expect_end(r)?;
            b
        };
        Ok(MultipartRequest { flags, body })
    }

    pub(crate) fn emit(&self, version: Version, out: &mut Vec<u8>) -> Result<(), OfpError> {
        let v10 = version == Version::V1_0;
        emit_mp_header(version, self.mtype(), self.flags, out);
        match &self.body {
            MultipartRequestBody::Desc
            | MultipartRequestBody::Table
            | MultipartRequestBody::GroupDesc => {}
            MultipartRequestBody::PortDesc { port_no } => {
                if version >= Version::V1_5 {
                    out.put_u32(*port_no);
                    out.put_zeros(4);
                }
            }
            MultipartRequestBody::Flow(f) | MultipartRequestBody::Aggregate(f) => {
                f.emit(version, out)?
            }
            MultipartRequestBody::Port { port_no } => {
                if v10 {
                    out.put_u16(port::to_of10(*port_no).ok_or(OfpError::OFPBRC_BAD_PORT)?);
                    out.put_zeros(6);
                } else {
                    out.put_u32(*port_no);
                    out.put_zeros(4);
                }
            }
            MultipartRequestBody::Queue { port_no, queue_id } => {
                if v10 {
                    out.put_u16(port::to_of10(*port_no).ok_or(OfpError::OFPBRC_BAD_PORT)?);
                    out.put_zeros(2);
                } else {
                    out.put_u32(*port_no);
                }
                out.put_u32(*queue_id);
            }
            MultipartRequestBody::MeterConfig { meter_id }
            | MultipartRequestBody::Meter { meter_id }
            | MultipartRequestBody::Group { group_id: meter_id } => {
                out.put_u32(*meter_id);
                out.put_zeros(4);
            }
            MultipartRequestBody::GroupFeatures | MultipartRequestBody::MeterFeatures => {}
            MultipartRequestBody::TableFeatures(v) => TableFeatures::emit_list(v, out),
            MultipartRequestBody::NxFlow {
                aggregate,
                out_port,
                table_id,
                match_,
            } => {
                emit_nx_stats_header(
                    if *aggregate {
                        NXST_AGGREGATE
                    } else {
                        NXST_FLOW
                    },
                    out,
                );
                out.put_u16(port::to_of10(*out_port).ok_or(OfpError::OFPBRC_BAD_PORT)?);
                let len_at = out.len();
                out.put_u16(0);
                out.put_u8(*table_id);
                out.put_zeros(3);
                let n = emit_nx_match(match_, out);
                out[len_at..len_at + 2].copy_from_slice(&n.to_be_bytes());
            }
            MultipartRequestBody::Raw { body, .. } => out.extend_from_slice(body),
        }
        Ok(())
    }
}

/// Switch description strings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Desc {
    pub mfr_desc: String,
    pub hw_desc: String,
    pub sw_desc: String,
    pub serial_num: String,
    pub dp_desc: String,
}

/// One flow in a flow stats reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowStats {
    pub table_id: u8,
    pub duration_sec: u32,
    pub duration_nsec: u32,
    pub priority: u16,
    pub idle_timeout: u16,
    pub hard_timeout: u16,
    /// 1.3+ only.
    pub flags: u16,
    /// 1.4+ only.
    pub importance: u16,
    pub cookie: u64,
    pub packet_count: u64,
    pub byte_count: u64,
    pub match_: Match,
    pub instructions: Vec<Instruction>,
}

impl FlowStats {
    fn parse(version: Version, r: &mut Reader<'_>) -> Result<FlowStats, OfpError> {
        let len = usize::from(r.u16()?);
        if len < 4 {
            return Err(OfpError::OFPBRC_BAD_LEN);
        }
        let mut e = r.sub(len - 2, OfpError::OFPBRC_BAD_LEN)?;
        let table_id = e.u8()?;
        e.skip(1)?;
        if version == Version::V1_0 {
            let match_ = Match::parse(version, &mut e)?;
            let duration_sec = e.u32()?;
            let duration_nsec = e.u32()?;
            let priority = e.u16()?;
            let idle_timeout = e.u16()?;
            let hard_timeout = e.u16()?;
            e.skip(6)?;
            Ok(FlowStats {
                table_id,
                duration_sec,
                duration_nsec,
                priority,
                idle_timeout,
                hard_timeout,
                flags: 0,
                importance: 0,
                cookie: e.u64()?,
                packet_count: e.u64()?,
                byte_count: e.u64()?,
                match_,
                instructions: actions10_as_instructions(e.take_rest())?,
            })
        } else {
            let duration_sec = e.u32()?;
            let duration_nsec = e.u32()?;
            let priority = e.u16()?;
            let idle_timeout = e.u16()?;
            let hard_timeout = e.u16()?;
            let flags = e.u16()?;
            let importance = e.u16()?;
            e.skip(2)?;
            let cookie = e.u64()?;
            let packet_count = e.u64()?;
            let byte_count = e.u64()?;
            let match_ = Match::parse(version, &mut e)?;
            Ok(FlowStats {
                table_id,
                duration_sec,
                duration_nsec,
                priority,
                idle_timeout,
                hard_timeout,
                flags,
                importance: if version >= Version::V1_4 {
                    importance
                } else {
                    0
                },
                cookie,
                packet_count,
                byte_count,
                match_,
                instructions: Instruction::parse_list(version, e.take_rest())?,
            })
        }
    }

    fn emit(&self, version: Version, out: &mut Vec<u8>) -> Result<(), OfpError> {
        with_len(out, 0, |out| {
            out.put_u16(0);
            out.put_u8(self.table_id);
            out.put_u8(0);
            if version == Version::V1_0 {
                self.match_.emit(version, out)?;
                out.put_u32(self.duration_sec);
                out.put_u32(self.duration_nsec);
                out.put_u16(self.priority);
                out.put_u16(self.idle_timeout);
                out.put_u16(self.hard_timeout);
                out.put_zeros(6);
                out.put_u64(self.cookie);
                out.put_u64(self.packet_count);
                out.put_u64(self.byte_count);
            } else {
                out.put_u32(self.duration_sec);
                out.put_u32(self.duration_nsec);
                out.put_u16(self.priority);
                out.put_u16(self.idle_timeout);
                out.put_u16(self.hard_timeout);
                out.put_u16(self.flags);
                out.put_u16(if version >= Version::V1_4 {
                    self.importance
                } else {
                    0
                });
                out.put_zeros(2);
                out.put_u64(self.cookie);
                out.put_u64(self.packet_count);
                out.put_u64(self.byte_count);
                self.match_.emit(version, out)?;
            }
            emit_instructions(version, &self.instructions, out)
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AggregateStats {
    pub packet_count: u64,
    pub byte_count: u64,
    pub flow_count: u32,
}

/// Table stats. `name`, `wildcards` and `max_entries` exist only in 1.0.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TableStats {
    pub table_id: u8,
    pub name: String,
    pub wildcards: u32,
    pub max_entries: u32,
    pub active_count: u32,
    pub lookup_count: u64,
    pub matched_count: u64,
}

/// Port counters. `duration_*` exist from 1.3 on.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PortStats {
    pub port_no: u32,
    pub rx_packets: u64,
    pub tx_packets: u64,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub rx_dropped: u64,
    pub tx_dropped: u64,
    pub rx_errors: u64,
    pub tx_errors: u64,
    pub rx_frame_err: u64,
    pub rx_over_err: u64,
    pub rx_crc_err: u64,
    pub collisions: u64,
    pub duration_sec: u32,
    pub duration_nsec: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueueStats {
    pub port_no: u32,
    pub queue_id: u32,
    pub tx_bytes: u64,
    pub tx_packets: u64,
    pub tx_errors: u64,
    pub duration_sec: u32,
    pub duration_nsec: u32,
}

/// A group bucket (1.1–1.4 layout).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    pub weight: u16,
    pub watch_port: u32,
    pub watch_group: u32,
    pub actions: Vec<Action>,
}

impl Bucket {
    pub(crate) fn parse_list(
        version: Version,
        r: &mut Reader<'_>,
    ) -> Result<Vec<Bucket>, OfpError> {
        let bad = OfpError::OFPGMFC_BAD_BUCKET;
        let mut out = Vec::new();
        while !r.is_empty() {
            let len = usize::from(r.u16().map_err(|_| bad)?);
            if len < 16 || len % 8 != 0 {
                return Err(bad);
            }
            let mut b = r.sub(len - 2, bad).map_err(|_| bad)?;
            let weight = b.u16()?;
            let watch_port = b.u32()?;
            let watch_group = b.u32()?;
            b.skip(4)?;
            out.push(Bucket {
                weight,
                watch_port,
                watch_group,
                actions: Action::parse_list(version, b.take_rest())?,
            });
        }
        Ok(out)
    }

    pub(crate) fn emit_list(
        list: &[Bucket],
        version: Version,
        out: &mut Vec<u8>,
    ) -> Result<(), OfpError> {
        for b in list {
            with_len(out, 0, |out| {
                out.put_u16(0);
                out.put_u16(b.weight);
                out.put_u32(b.watch_port);
                out.put_u32(b.watch_group);
                out.put_zeros(4);
                Action::emit_list(&b.actions, version, out)
            })?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDesc {
    pub group_type: u8,
    pub group_id: u32,
    pub buckets: Vec<Bucket>,
}

/// A meter band. `band_type` 1 = drop, 2 = dscp remark (`extra` = prec_level),
/// 0xffff = experimenter (`extra` = experimenter id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MeterBand {
    pub band_type: u16,
    pub rate: u32,
    pub burst_size: u32,
    pub extra: u32,
}

impl MeterBand {
    pub(crate) fn parse_list(r: &mut Reader<'_>) -> Result<Vec<MeterBand>, OfpError> {
        let mut out = Vec::new();
        while !r.is_empty() {
            let band_type = r.u16()?;
            let len = r.u16()?;
            if len != 16 {
                return Err(OfpError::OFPMMFC_BAD_BAND);
            }
            let rate = r.u32()?;
            let burst_size = r.u32()?;
            let extra = match band_type {
                1 | 0xffff => r.u32()?,
                2 => {
                    let prec_level = r.u8()?;
                    r.skip(3)?;
                    u32::from(prec_level)
                }
                _ => return Err(OfpError::OFPMMFC_BAD_BAND),
            };
            out.push(MeterBand {
                band_type,
                rate,
                burst_size,
                extra,
            });
        }
        Ok(out)
    }

    pub(crate) fn emit_list(list: &[MeterBand], out: &mut Vec<u8>) {
        for b in list {
            out.put_u16(b.band_type);
            out.put_u16(16);
            out.put_u32(b.rate);
            out.put_u32(b.burst_size);
            if b.band_type == 2 {
                out.put_u8(b.extra as u8);
                out.put_zeros(3);
            } else {
                out.put_u32(b.extra);
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeterConfig {
    pub flags: u16,
    pub meter_id: u32,
    pub bands: Vec<MeterBand>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MultipartReplyBody {
    Desc(Desc),
    Flow(Vec<FlowStats>),
    Aggregate(AggregateStats),
    Table(Vec<TableStats>),
    Port(Vec<PortStats>),
    Queue(Vec<QueueStats>),
    PortDesc(Vec<PortDesc>),
    GroupDesc(Vec<GroupDesc>),
    MeterConfig(Vec<MeterConfig>),
    NxFlow(Vec<NxFlowStats>),
    NxAggregate(AggregateStats),
    Group(Vec<GroupStats>),
    GroupFeatures(GroupFeatures),
    Meter(Vec<MeterStats>),
    MeterFeatures(MeterFeatures),
    TableFeatures(Vec<TableFeatures>),
    Raw { mtype: u16, body: Vec<u8> },
}

/// Group counters, with per-bucket (packets, bytes).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GroupStats {
    pub group_id: u32,
    pub ref_count: u32,
    pub packet_count: u64,
    pub byte_count: u64,
    pub duration_sec: u32,
    pub duration_nsec: u32,
    pub buckets: Vec<(u64, u64)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GroupFeatures {
    pub types: u32,
    pub capabilities: u32,
    /// Per group type (all, select, indirect, fast failover).
    pub max_groups: [u32; 4],
    pub actions: [u32; 4],
}

/// Meter counters, with per-band (packets, bytes).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MeterStats {
    pub meter_id: u32,
    pub flow_count: u32,
    pub packet_in_count: u64,
    pub byte_in_count: u64,
    pub duration_sec: u32,
    pub duration_nsec: u32,
    pub bands: Vec<(u64, u64)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MeterFeatures {
    pub max_meter: u32,
    pub band_types: u32,
    pub capabilities: u32,
    pub max_bands: u8,
    pub max_color: u8,
}

/// One table's features; the properties (instructions, next tables, actions, match fields
/// …) are kept as (type, value) pairs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TableFeatures {
    pub table_id: u8,
    pub name: String,
    pub metadata_match: u64,
    pub metadata_write: u64,
    /// 1.3: config; 1.4+: capabilities.
    pub config: u32,
    pub max_entries: u32,
    pub properties: Vec<Property>,
}

impl TableFeatures {
    fn parse_list(r: &mut Reader<'_>) -> Result<Vec<TableFeatures>, OfpError> {
        let mut v = Vec::new();
        while !r.is_empty() {
            let len = usize::from(r.u16()?);
            if len < 64 {
                return Err(OfpError::OFPBRC_BAD_LEN);
            }
            let mut e = r.sub(len - 2, OfpError::OFPBRC_BAD_LEN)?;
            let table_id = e.u8()?;
            e.skip(5)?;
            let name = read_str(e.bytes(32)?);
            v.push(TableFeatures {
                table_id,
                name,
                metadata_match: e.u64()?,
                metadata_write: e.u64()?,
                config: e.u32()?,
                max_entries: e.u32()?,
                properties: parse_props(&mut e)?,
            });
        }
        Ok(v)
    }

    fn emit_list(list: &[TableFeatures], out: &mut Vec<u8>) {
        for t in list {
            let start = out.len();
            out.put_u16(0);
            out.put_u8(t.table_id);
            out.put_zeros(5);
            put_str(out, &t.name, 32);
            out.put_u64(t.metadata_match);
            out.put_u64(t.metadata_write);
            out.put_u32(t.config);
            out.put_u32(t.max_entries);
            emit_props(&t.properties, out);
            let len = out.len() - start;
            crate::ofp::wire::patch_u16(out, start, len);
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultipartReply {
    pub flags: u16,
    pub body: MultipartReplyBody,
}

impl MultipartReply {
    pub fn mtype(&self) -> u16 {
        match &self.body {
            MultipartReplyBody::Desc(_) => OFPMP_DESC,
            MultipartReplyBody::Flow(_) => OFPMP_FLOW,
            MultipartReplyBody::Aggregate(_) => OFPMP_AGGREGATE,
            MultipartReplyBody::Table(_) => OFPMP_TABLE,
            MultipartReplyBody::Port(_) => OFPMP_PORT_STATS,
            MultipartReplyBody::Queue(_) => OFPMP_QUEUE,
            MultipartReplyBody::PortDesc(_) => OFPMP_PORT_DESC,
            MultipartReplyBody::GroupDesc(_) => OFPMP_GROUP_DESC,
            MultipartReplyBody::MeterConfig(_) => OFPMP_METER_CONFIG,
            MultipartReplyBody::NxFlow(_) | MultipartReplyBody::NxAggregate(_) => OFPST_VENDOR,
            MultipartReplyBody::Group(_) => OFPMP_GROUP,
            MultipartReplyBody::GroupFeatures(_) => OFPMP_GROUP_FEATURES,
            MultipartReplyBody::Meter(_) => OFPMP_METER,
            MultipartReplyBody::MeterFeatures(_) => OFPMP_METER_FEATURES,
            MultipartReplyBody::TableFeatures(_) => OFPMP_TABLE_FEATURES,
            MultipartReplyBody::Raw { mtype, .. } => *mtype,
        }
    }

    pub(crate) fn parse(version: Version, r: &mut Reader<'_>) -> Result<Self, OfpError> {
        let (t, flags) = parse_mp_header(version, r)?;
        let v10 = version == Version::V1_0;
        if !typed(version, t) {
            return Ok(MultipartReply {
                flags,
                body: MultipartReplyBody::Raw {
                    mtype: t,
                    body: r.take_rest().to_vec(),
                },
            });
        }
        let body = match t {
            OFPMP_DESC => {
                let d = Desc {
                    mfr_desc: read_str(r.bytes(256)?),
                    hw_desc: read_str(r.bytes(256)?),
                    sw_desc: read_str(r.bytes(256)?),
                    serial_num: read_str(r.bytes(32)?),
                    dp_desc: read_str(r.bytes(256)?),
                };
                expect_end(r)?;
                MultipartReplyBody::Desc(d)
            }
            OFPMP_FLOW => {
                let mut v = Vec::new();
                while !r.is_empty() {
                    v.push(FlowStats::parse(version, r)?);
                }
                MultipartReplyBody::Flow(v)
            }
            OFPMP_AGGREGATE => {
                let a = AggregateStats {
                    packet_count: r.u64()?,
                    byte_count: r.u64()?,
                    flow_count: r.u32()?,
                };
                r.skip(4)?;
                expect_end(r)?;
                MultipartReplyBody::Aggregate(a)
            }
            OFPMP_TABLE => {
                let mut v = Vec::new();
                while !r.is_empty() {
                    let mut t = TableStats {
                        table_id: r.u8()?,
                        ..TableStats::default()
                    };
                    r.skip(3)?;
                    if v10 {
                        t.name = read_str(r.bytes(32)?);
                        t.wildcards = r.u32()?;
                        t.max_entries = r.u32()?;
                    }
                    t.active_count = r.u32()?;
                    t.lookup_count = r.u64()?;
                    t.matched_count = r.u64()?;
                    v.push(t);
                }
                MultipartReplyBody::Table(v)
            }
            OFPMP_PORT_STATS => {
                let mut v = Vec::new();
                while !r.is_empty() {
                    let mut p = PortStats::default();
                    if v10 {
                        p.port_no = port::from_of10(r.u16()?);
                        r.skip(6)?;
                    } else {
                        p.port_no = r.u32()?;
                        r.skip(4)?;
                    }
                    p.rx_packets = r.u64()?;
                    p.tx_packets = r.u64()?;
                    p.rx_bytes = r.u64()?;
                    p.tx_bytes = r.u64()?;
                    p.rx_dropped = r.u64()?;
                    p.tx_dropped = r.u64()?;
                    p.rx_errors = r.u64()?;
                    p.tx_errors = r.u64()?;
                    p.rx_frame_err = r.u64()?;
                    p.rx_over_err = r.u64()?;
                    p.rx_crc_err = r.u64()?;
                    p.collisions = r.u64()?;
                    if !v10 {
                        p.duration_sec = r.u32()?;
                        p.duration_nsec = r.u32()?;
                    }
                    v.push(p);
                }
                MultipartReplyBody::Port(v)
            }
            OFPMP_QUEUE => {
                let mut v = Vec::new();
                while !r.is_empty() {
                    let mut q = QueueStats::default();
                    if v10 {
                        q.port_no = port::from_of10(r.u16()?);
                        r.skip(2)?;
                    } else {
                        q.port_no = r.u32()?;
                    }
                    q.queue_id = r.u32()?;
                    q.tx_bytes = r.u64()?;
                    q.tx_packets = r.u64()?;
                    q.tx_errors = r.u64()?;
                    if !v10 {
                        q.duration_sec = r.u32()?;
                        q.duration_nsec = r.u32()?;
                    }
                    v.push(q);
                }
                MultipartReplyBody::Queue(v)
            }
            OFPMP_PORT_DESC => {
                let mut v = Vec::new();
                while !r.is_empty() {
                    v.push(PortDesc::parse(version, r)?);
                }
                MultipartReplyBody::PortDesc(v)
            }
            OFPMP_GROUP_DESC => {
                let mut v = Vec::new();
                while !r.is_empty() {
                    let len = usize::from(r.u16()?);
                    if len < 8 {
                        return Err(OfpError::OFPBRC_BAD_LEN);
                    }
                    let mut g = r.sub(len - 2, OfpError::OFPBRC_BAD_LEN)?;
                    let group_type = g.u8()?;
                    g.skip(1)?;
                    let group_id = g.u32()?;
                    v.push(GroupDesc {
                        group_type,
                        group_id,
                        buckets: Bucket::parse_list(version, &mut g)?,
                    });
                }
                MultipartReplyBody::GroupDesc(v)
            }
            OFPMP_GROUP => {
                let mut v = Vec::new();
                while !r.is_empty() {
                    let len = usize::from(r.u16()?);
                    if len < 40 || (len - 40) % 16 != 0 {
                        return Err(OfpError::OFPBRC_BAD_LEN);
                    }
                    let mut g = r.sub(len - 2, OfpError::OFPBRC_BAD_LEN)?;
                    g.skip(2)?;
                    let mut s = GroupStats {
                        group_id: g.u32()?,
                        ref_count: g.u32()?,
                        ..GroupStats::default()
                    };
                    g.skip(4)?;
                    s.packet_count = g.u64()?;
                    s.byte_count = g.u64()?;
                    s.duration_sec = g.u32()?;
                    s.duration_nsec = g.u32()?;
                    while !g.is_empty() {
                        s.buckets.push((g.u64()?, g.u64()?));
                    }
                    v.push(s);
                }
                MultipartReplyBody::Group(v)
            }
            OFPMP_GROUP_FEATURES => {
                let mut f = GroupFeatures {
                    types: r.u32()?,
                    capabilities: r.u32()?,
                    ..GroupFeatures::default()
                };
                for m in f.max_groups.iter_mut() {
                    *m = r.u32()?;
                }
                for a in f.actions.iter_mut() {
                    *a = r.u32()?;
                }
                expect_end(r)?;
                MultipartReplyBody::GroupFeatures(f)
            }
            OFPMP_METER => {
                let mut v = Vec::new();
                while !r.is_empty() {
                    let meter_id = r.u32()?;
                    let len = usize::from(r.u16()?);
                    if len < 40 || (len - 40) % 16 != 0 {
                        return Err(OfpError::OFPBRC_BAD_LEN);
                    }
                    let mut m = r.sub(len - 6, OfpError::OFPBRC_BAD_LEN)?;
                    m.skip(6)?;
                    let mut s = MeterStats {
                        meter_id,
                        flow_count: m.u32()?,
                        packet_in_count: m.u64()?,
                        byte_in_count: m.u64()?,
                        duration_sec: m.u32()?,
                        duration_nsec: m.u32()?,
                        bands: Vec::new(),
                    };
                    while !m.is_empty() {
                        s.bands.push((m.u64()?, m.u64()?));
                    }
                    v.push(s);
                }
                MultipartReplyBody::Meter(v)
            }
            OFPMP_METER_FEATURES => {
                let f = MeterFeatures {
                    max_meter: r.u32()?,
                    band_types: r.u32()?,
                    capabilities: r.u32()?,
                    max_bands: r.u8()?,
                    max_color: r.u8()?,
                };
                r.skip(2)?;
                expect_end(r)?;
                MultipartReplyBody::MeterFeatures(f)
            }
            OFPMP_TABLE_FEATURES => {
                MultipartReplyBody::TableFeatures(TableFeatures::parse_list(r)?)
            }
            OFPST_VENDOR => {
                if parse_nx_stats_header(r)? == NXST_AGGREGATE {
                    let a = AggregateStats {
                        packet_count: r.u64()?,
                        byte_count: r.u64()?,
                        flow_count: r.u32()?,
                    };
                    r.skip(4)?;
                    expect_end(r)?;
                    MultipartReplyBody::NxAggregate(a)
                } else {
                    let mut v = Vec::new();
                    while !r.is_empty() {
                        let len = usize::from(r.u16()?);
                        if len < 48 {
                            return Err(OfpError::OFPBRC_BAD_LEN);
                        }
                        let mut e = r.sub(len - 2, OfpError::OFPBRC_BAD_LEN)?;
                        let table_id = e.u8()?;
                        e.skip(1)?;
                        let duration_sec = e.u32()?;
                        let duration_nsec = e.u32()?;
                        let priority = e.u16()?;
                        let idle_timeout = e.u16()?;
                        let hard_timeout = e.u16()?;
                        let match_len = usize::from(e.u16()?);
                        let idle_age = e.u16()?;
                        let hard_age = e.u16()?;
                        let cookie = e.u64()?;
                        let packet_count = e.u64()?;
                        let byte_count = e.u64()?;
                        let match_ = parse_nx_match(&mut e, match_len)?;
                        v.push(NxFlowStats {
                            table_id,
                            duration_sec,
                            duration_nsec,
                            priority,
                            idle_timeout,
                            hard_timeout,
                            idle_age,
                            hard_age,
                            cookie,
                            packet_count,
                            byte_count,
                            match_,
                            actions: Action::parse_list(version, e.take_rest())?,
                        });
                    }
                    MultipartReplyBody::NxFlow(v)
                }
            }
            _ => {
                let mut v = Vec::new();
                while !r.is_empty() {
                    let len = usize::from(r.u16()?);
                    if len < 8 {
                        return Err(OfpError::OFPBRC_BAD_LEN);
                    }
                    let mut m = r.sub(len - 2, OfpError::OFPBRC_BAD_LEN)?;
                    let flags = m.u16()?;
                    let meter_id = m.u32()?;
                    v.push(MeterConfig {
                        flags,
                        meter_id,
                        bands: MeterBand::parse_list(&mut m)?,
                    });
                }
                MultipartReplyBody::MeterConfig(v)
            }
        };
        Ok(MultipartReply { flags, body })
    }

    pub(crate) fn emit(&self, version: Version, out: &mut Vec<u8>) -> Result<(), OfpError> {
        let v10 = version == Version::V1_0;
        emit_mp_header(version, self.mtype(), self.flags, out);
        match &self.body {
            MultipartReplyBody::Desc(d) => {
                put_str(out, &d.mfr_desc, 256);
                put_str(out, &d.hw_desc, 256);
                put_str(out, &d.sw_desc, 256);
                put_str(out, &d.serial_num, 32);
                put_str(out, &d.dp_desc, 256);
            }
            MultipartReplyBody::Flow(v) => {
                for f in v {
                    f.emit(version, out)?;
                }
            }
            MultipartReplyBody::Aggregate(a) => {
                out.put_u64(a.packet_count);
                out.put_u64(a.byte_count);
                out.put_u32(a.flow_count);
                out.put_zeros(4);
            }
            MultipartReplyBody::Table(v) => {
                for t in v {
                    out.put_u8(t.table_id);
                    out.put_zeros(3);
                    if v10 {
                        put_str(out, &t.name, 32);
                        out.put_u32(t.wildcards);
                        out.put_u32(t.max_entries);
                    }
                    out.put_u32(t.active_count);
                    out.put_u64(t.lookup_count);
                    out.put_u64(t.matched_count);
                }
            }
            MultipartReplyBody::Port(v) => {
                for p in v {
                    if v10 {
                        out.put_u16(port::to_of10(p.port_no).ok_or(OfpError::OFPBRC_BAD_PORT)?);
                        out.put_zeros(6);
                    } else {
                        out.put_u32(p.port_no);
                        out.put_zeros(4);
                    }
                    for c in [
                        p.rx_packets,
                        p.tx_packets,
                        p.rx_bytes,
                        p.tx_bytes,
                        p.rx_dropped,
                        p.tx_dropped,
                        p.rx_errors,
                        p.tx_errors,
                        p.rx_frame_err,
                        p.rx_over_err,
                        p.rx_crc_err,
                        p.collisions,
                    ] {
                        out.put_u64(c);
                    }
                    if !v10 {
                        out.put_u32(p.duration_sec);
                        out.put_u32(p.duration_nsec);
                    }
                }
            }
            MultipartReplyBody::Queue(v) => {
                for q in v {
                    if v10 {
                        out.put_u16(port::to_of10(q.port_no).ok_or(OfpError::OFPBRC_BAD_PORT)?);
                        out.put_zeros(2);
                    } else {
                        out.put_u32(q.port_no);
                    }
                    out.put_u32(q.queue_id);
                    out.put_u64(q.tx_bytes);
                    out.put_u64(q.tx_packets);
                    out.put_u64(q.tx_errors);
                    if !v10 {
                        out.put_u32(q.duration_sec);
                        out.put_u32(q.duration_nsec);
                    }
                }
            }
            MultipartReplyBody::PortDesc(v) => {
                for p in v {
                    p.emit(version, out)?;
                }
            }
            MultipartReplyBody::GroupDesc(v) => {
                for g in v {
                    with_len(out, 0, |out| {
                        out.put_u16(0);
                        out.put_u8(g.group_type);
                        out.put_u8(0);
                        out.put_u32(g.group_id);
                        Bucket::emit_list(&g.buckets, version, out)
                    })?;
                }
            }
            MultipartReplyBody::MeterConfig(v) => {
                for m in v {
                    with_len(out, 0, |out| {
                        out.put_u16(0);
                        out.put_u16(m.flags);
                        out.put_u32(m.meter_id);
                        MeterBand::emit_list(&m.bands, out);
                        Ok(())
                    })?;
                }
            }
            MultipartReplyBody::Group(v) => {
                for g in v {
                    with_len(out, 0, |out| {
                        out.put_u16(0);
                        out.put_zeros(2);
                        out.put_u32(g.group_id);
                        out.put_u32(g.ref_count);
                        out.put_zeros(4);
                        out.put_u64(g.packet_count);
                        out.put_u64(g.byte_count);
                        out.put_u32(g.duration_sec);
                        out.put_u32(g.duration_nsec);
                        for (p, b) in &g.buckets {
                            out.put_u64(*p);
                            out.put_u64(*b);
                        }
                        Ok(())
                    })?;
                }
            }
            MultipartReplyBody::GroupFeatures(f) => {
                out.put_u32(f.types);
                out.put_u32(f.capabilities);
                for m in f.max_groups.iter().chain(f.actions.iter()) {
                    out.put_u32(*m);
                }
            }
            MultipartReplyBody::Meter(v) => {
                for m in v {
                    out.put_u32(m.meter_id);
                    out.put_u16((40 + 16 * m.bands.len()) as u16);
                    out.put_zeros(6);
                    out.put_u32(m.flow_count);
                    out.put_u64(m.packet_in_count);
                    out.put_u64(m.byte_in_count);
                    out.put_u32(m.duration_sec);
                    out.put_u32(m.duration_nsec);
                    for (p, b) in &m.bands {
                        out.put_u64(*p);
                        out.put_u64(*b);
                    }
                }
            }
            MultipartReplyBody::MeterFeatures(f) => {
                out.put_u32(f.max_meter);
                out.put_u32(f.band_types);
                out.put_u32(f.capabilities);
                out.put_u8(f.max_bands);
                out.put_u8(f.max_color);
                out.put_zeros(2);
            }
            MultipartReplyBody::TableFeatures(v) => TableFeatures::emit_list(v, out),
            MultipartReplyBody::NxAggregate(a) => {
                emit_nx_stats_header(NXST_AGGREGATE, out);
                out.put_u64(a.packet_count);
                out.put_u64(a.byte_count);
                out.put_u32(a.flow_count);
                out.put_zeros(4);
            }
            MultipartReplyBody::NxFlow(v) => {
                emit_nx_stats_header(NXST_FLOW, out);
                for f in v {
                    with_len(out, 0, |out| {
                        out.put_u16(0);
                        out.put_u8(f.table_id);
                        out.put_u8(0);
                        out.put_u32(f.duration_sec);
                        out.put_u32(f.duration_nsec);
                        out.put_u16(f.priority);
                        out.put_u16(f.idle_timeout);
                        out.put_u16(f.hard_timeout);
                        let len_at = out.len();
                        out.put_u16(0);
                        out.put_u16(f.idle_age);
                        out.put_u16(f.hard_age);
                        out.put_u64(f.cookie);
                        out.put_u64(f.packet_count);
                        out.put_u64(f.byte_count);
                        let n = emit_nx_match(&f.match_, out);
                        out[len_at..len_at + 2].copy_from_slice(&n.to_be_bytes());
                        Action::emit_list(&f.actions, version, out)
                    })?;
                }
            }
            MultipartReplyBody::Raw { body, .. } => out.extend_from_slice(body),
        }
        Ok(())
    }
}
