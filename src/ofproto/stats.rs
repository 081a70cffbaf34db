//! Statistics (multipart) requests: desc, flow, aggregate, table, table-features, port,
//! port-desc, queue, group, group-desc, group-features, meter, meter-config, meter-features,
//! and the Nicira flow/aggregate forms OpenFlow 1.0 tools use.
//!
//! Replies longer than one message are split so that no message exceeds 64 KiB; every part
//! but the last carries `OFPMPF_REPLY_MORE`. Types the codec keeps as raw bytes (group,
//! meter and feature replies) are encoded here in their OpenFlow 1.3 layout.

use super::flows::Selector;
use super::groups::{OFPG_ALL, OFPM_ALL};
use super::{convert, Millis, Ofproto, OFPTT_ALL};
use crate::dpif::Dpif;
use crate::ofp::ext::Property;
use crate::ofp::multipart::{
    AggregateStats, FlowStats, FlowStatsRequest, GroupDesc, GroupFeatures, GroupStats, MeterConfig,
    MeterFeatures, MeterStats, MultipartReplyBody, MultipartRequestBody, NxFlowStats, PortStats,
    QueueStats, TableFeatures, TableStats, OFPMPF_MORE,
};
use crate::ofp::port::{OFPP_ALL, OFPP_ANY, OFPP_MAX};
use crate::ofp::wire::Put;
use crate::ofp::{
    Instruction, Match, Message, MultipartReply, MultipartRequest, OfpError, Version,
};

/// The largest OpenFlow message.
const MAX_MSG: usize = 0xffff;
const OFPQ_ALL: u32 = 0xffff_ffff;

impl<D: Dpif> Ofproto<D> {
    pub(crate) fn multipart(
        &mut self,
        conn: &super::ConnInfo,
        req: &MultipartRequest,
        now: Millis,
    ) -> Result<Vec<Message>, OfpError> {
        let v = conn.version;
        match &req.body {
            MultipartRequestBody::Desc => {
                Ok(one(MultipartReplyBody::Desc(self.config.desc.clone())))
            }
            MultipartRequestBody::Flow(r) => {
                let items = self.flow_stats(r, v, now)?;
                Ok(split(v, items, MultipartReplyBody::Flow))
            }
            MultipartRequestBody::Aggregate(r) => {
                let a = self.aggregate(&self.selector(r, v)?);
                Ok(one(MultipartReplyBody::Aggregate(a)))
            }
            MultipartRequestBody::NxFlow {
                aggregate,
                out_port,
                table_id,
                match_,
            } => {
                let r = FlowStatsRequest {
                    table_id: *table_id,
                    out_port: *out_port,
                    out_group: OFPG_ANY_,
                    cookie: 0,
                    cookie_mask: 0,
                    match_: Match::Oxm(match_.clone()),
                };
                let sel = self.selector(&r, v)?;
                if *aggregate {
                    return Ok(one(MultipartReplyBody::NxAggregate(self.aggregate(&sel))));
                }
                let items: Vec<NxFlowStats> = self
                    .collect(&sel)
                    .iter()
                    .filter_map(|id| self.rules.get(id))
                    .map(|r| {
                        let ((duration_sec, duration_nsec), idle_age, hard_age) =
                            Self::rule_ages(r, now);
                        NxFlowStats {
                            table_id: r.table_id,
                            duration_sec,
                            duration_nsec,
                            priority: r.priority as u16,
                            idle_timeout: r.idle_timeout,
                            hard_timeout: r.hard_timeout,
                            idle_age,
                            hard_age,
                            cookie: r.cookie,
                            packet_count: r.packet_count,
                            byte_count: r.byte_count,
                            match_: r.match_.to_oxm(),
                            actions: convert::actions_for(
                                &r.actions().cloned().collect::<Vec<_>>(),
                                v,
                                &r.match_,
                            ),
                        }
                    })
                    .collect();
                Ok(split(v, items, MultipartReplyBody::NxFlow))
            }
            MultipartRequestBody::Table => {
                let items: Vec<TableStats> = self
                    .visible_tables()
                    .into_iter()
                    .map(|id| {
                        let t = &self.tables[usize::from(id)];
                        TableStats {
                            table_id: id,
                            name: t.name(),
                            wildcards: crate::ofp::match10::OFPFW_ALL,
                            max_entries: t.max_flows.min(1_000_000),
                            active_count: t.cls.len() as u32,
                            lookup_count: t.lookup_count,
                            matched_count: t.matched_count,
                        }
                    })
                    .collect();
                Ok(split(v, items, MultipartReplyBody::Table))
            }
            MultipartRequestBody::Port { port_no } => {
                let items: Vec<PortStats> =
                    self.ports
                        .values()
                        .filter(|p| *port_no == OFPP_ANY || p.desc.port_no == *port_no)
                        .map(|p| {
                            let s = self.dpif.port_stats(p.dp_port).unwrap_or(
                                crate::dpif::DpPortStats {
                                    rx_packets: u64::MAX,
                                    tx_packets: u64::MAX,
                                    rx_bytes: u64::MAX,
                                    tx_bytes: u64::MAX,
                                    rx_dropped: u64::MAX,
                                    tx_dropped: u64::MAX,
                                    rx_errors: u64::MAX,
                                    tx_errors: u64::MAX,
                                },
                            );
                            let (duration_sec, duration_nsec) = since(p.created, now);
                            PortStats {
                                port_no: p.desc.port_no,
                                rx_packets: s.rx_packets,
                                tx_packets: s.tx_packets,
                                rx_bytes: s.rx_bytes,
                                tx_bytes: s.tx_bytes,
                                rx_dropped: s.rx_dropped,
                                tx_dropped: s.tx_dropped,
                                rx_errors: s.rx_errors,
                                tx_errors: s.tx_errors,
                                // Not measured by the datapath: "unavailable".
                                rx_frame_err: u64::MAX,
                                rx_over_err: u64::MAX,
                                rx_crc_err: u64::MAX,
                                collisions: u64::MAX,
                                duration_sec,
                                duration_nsec,
                            }
                        })
                        .collect();
                Ok(split(v, items, MultipartReplyBody::Port))
            }
            MultipartRequestBody::Queue { port_no, queue_id } => {
                let all = *port_no == OFPP_ALL || *port_no == OFPP_ANY;
                if !all && *port_no >= OFPP_MAX {
                    return Err(OfpError::OFPQOFC_BAD_PORT);
                }
                let mut items = Vec::new();
                for p in self
                    .ports
                    .values()
                    .filter(|p| all || p.desc.port_no == *port_no)
                {
                    for q in p
                        .queues
                        .iter()
                        .filter(|q| *queue_id == OFPQ_ALL || *q == queue_id)
                    {
                        let (duration_sec, duration_nsec) = since(p.created, now);
                        items.push(QueueStats {
                            port_no: p.desc.port_no,
                            queue_id: *q,
                            tx_bytes: 0,
                            tx_packets: 0,
                            tx_errors: 0,
                            duration_sec,
                            duration_nsec,
                        });
                    }
                }
                Ok(split(v, items, MultipartReplyBody::Queue))
            }
            MultipartRequestBody::PortDesc { port_no } => {
                let items = self
                    .ports
                    .values()
                    .filter(|p| *port_no == OFPP_ANY || p.desc.port_no == *port_no)
                    .map(|p| p.desc.clone())
                    .collect();
                Ok(split(v, items, MultipartReplyBody::PortDesc))
            }
            MultipartRequestBody::GroupDesc => {
                let items = self
                    .groups
                    .iter()
                    .map(|(id, g)| GroupDesc {
                        group_type: g.group_type,
                        group_id: *id,
                        buckets: g.buckets.clone(),
                    })
                    .collect();
                Ok(split(v, items, MultipartReplyBody::GroupDesc))
            }
            MultipartRequestBody::MeterConfig { meter_id } => {
                if *meter_id != OFPM_ALL && !self.meters.contains_key(meter_id) {
                    return Err(OfpError::OFPMMFC_UNKNOWN_METER);
                }
                let items = self
                    .meters
                    .iter()
                    .filter(|(id, _)| *meter_id == OFPM_ALL || *id == meter_id)
                    .map(|(id, m)| MeterConfig {
                        flags: m.flags,
                        meter_id: *id,
                        bands: m.bands.iter().map(|b| b.band).collect(),
                    })
                    .collect();
                Ok(split(v, items, MultipartReplyBody::MeterConfig))
            }
            MultipartRequestBody::Group { group_id } => {
                let items = self
                    .groups
                    .iter()
                    .filter(|(id, _)| *group_id == OFPG_ALL || *id == group_id)
                    .map(|(id, g)| {
                        let (duration_sec, duration_nsec) = since(g.created, now);
                        GroupStats {
                            group_id: *id,
                            ref_count: self.group_ref_count(*id),
                            packet_count: g.packet_count,
                            byte_count: g.byte_count,
                            duration_sec,
                            duration_nsec,
                            buckets: g.bucket_counts.clone(),
                        }
                    })
                    .collect();
                Ok(split(v, items, MultipartReplyBody::Group))
            }
            MultipartRequestBody::GroupFeatures => {
                Ok(one(MultipartReplyBody::GroupFeatures(GroupFeatures {
                    types: 0xf, // all, select, indirect, fast-failover
                    // Select weight and liveness, chaining, chaining checks.
                    capabilities: 0x1 | 0x2 | 0x4 | 0x8,
                    max_groups: [super::groups::OFPG_MAX; 4],
                    actions: [0xffff_ffff; 4],
                })))
            }
            MultipartRequestBody::Meter { meter_id } => {
                let items = self
                    .meters
                    .iter()
                    .filter(|(id, _)| *meter_id == OFPM_ALL || *id == meter_id)
                    .map(|(id, m)| {
                        let (duration_sec, duration_nsec) = since(m.created, now);
                        MeterStats {
                            meter_id: *id,
                            flow_count: self.meter_flow_count(*id),
                            packet_in_count: m.packet_in_count,
                            byte_in_count: m.byte_in_count,
                            duration_sec,
                            duration_nsec,
                            bands: m
                                .bands
                                .iter()
                                .map(|b| (b.packet_count, b.byte_count))
                                .collect(),
                        }
                    })
                    .collect();
                Ok(split(v, items, MultipartReplyBody::Meter))
            }
            MultipartRequestBody::MeterFeatures => {
                use super::groups::{
                    MAX_BANDS, MAX_METERS, OFPMBT_DROP, OFPMF_BURST, OFPMF_KBPS, OFPMF_PKTPS,
                    OFPMF_STATS,
                };
                Ok(one(MultipartReplyBody::MeterFeatures(MeterFeatures {
                    max_meter: MAX_METERS,
                    band_types: 1 << OFPMBT_DROP,
                    capabilities: u32::from(OFPMF_KBPS | OFPMF_PKTPS | OFPMF_BURST | OFPMF_STATS),
                    max_bands: MAX_BANDS,
                    max_color: 0,
                })))
            }
            MultipartRequestBody::TableFeatures(set) => {
                if !set.is_empty() {
                    // Reconfiguring the pipeline is not supported.
                    return Err(OfpError::OFPTFFC_EPERM);
                }
                let items = self
                    .visible_tables()
                    .into_iter()
                    .map(|id| self.table_features(id))
                    .collect();
                Ok(split(v, items, MultipartReplyBody::TableFeatures))
            }
            _ => Err(OfpError::OFPBRC_BAD_STAT),
        }
    }

    fn selector(&self, r: &FlowStatsRequest, v: Version) -> Result<Selector, OfpError> {
        if r.table_id != OFPTT_ALL && !self.table_exists(r.table_id) {
            return Err(OfpError::OFPBRC_BAD_TABLE_ID);
        }
        Ok(Selector {
            table_id: r.table_id,
            fmatch: super::FlowMatch::from_oxm(&r.match_.to_oxm()),
            priority: None,
            cookie: r.cookie,
            cookie_mask: if v == Version::V1_0 { 0 } else { r.cookie_mask },
            out_port: r.out_port,
            out_group: if v == Version::V1_0 {
                OFPG_ANY_
            } else {
                r.out_group
            },
        })
    }

    fn flow_stats(
        &self,
        r: &FlowStatsRequest,
        v: Version,
        now: Millis,
    ) -> Result<Vec<FlowStats>, OfpError> {
        let sel = self.selector(r, v)?;
        Ok(self
            .collect(&sel)
            .iter()
            .filter_map(|id| self.rules.get(id))
            .filter_map(|r| {
                let ((duration_sec, duration_nsec), _, _) = Self::rule_ages(r, now);
                let instructions = if v == Version::V1_0 {
                    // 1.0 carries one action list.
                    let acts: Vec<_> = r.actions().cloned().collect();
                    if acts.is_empty() {
                        Vec::new()
                    } else {
                        vec![Instruction::ApplyActions(convert::actions_for(
                            &acts, v, &r.match_,
                        ))]
                    }
                } else {
                    convert::instructions_for(&r.instructions, v, &r.match_)
                };
                Some(FlowStats {
                    table_id: r.table_id,
                    duration_sec,
                    duration_nsec,
                    priority: r.priority as u16,
                    idle_timeout: r.idle_timeout,
                    hard_timeout: r.hard_timeout,
                    flags: r.flags,
                    importance: r.importance,
                    cookie: r.cookie,
                    packet_count: r.packet_count,
                    byte_count: r.byte_count,
                    match_: convert::match_for(&r.match_, v)?,
                    instructions,
                })
            })
            .collect())
    }

    fn aggregate(&self, sel: &Selector) -> AggregateStats {
        let mut a = AggregateStats::default();
        for r in self.collect(sel).iter().filter_map(|id| self.rules.get(id)) {
            // An unknown counter (all-ones) makes the total unknown.
            a.packet_count = if r.packet_count == u64::MAX {
                u64::MAX
            } else {
                a.packet_count.saturating_add(r.packet_count)
            };
            a.byte_count = if r.byte_count == u64::MAX {
                u64::MAX
            } else {
                a.byte_count.saturating_add(r.byte_count)
            };
            a.flow_count += 1;
        }
        a
    }

    /// One `ofp_table_features`. Every property type of OpenFlow 1.3 is present (each
    /// with its table-miss twin), as the spec asks and `ovs-ofctl` requires.
    fn table_features(&self, id: u8) -> TableFeatures {
        let t = &self.tables[usize::from(id)];
        // Instruction ids: goto-table (not from the last table), write-metadata,
        // write/apply/clear-actions, meter.
        let mut ins = Vec::new();
        for it in [1u16, 2, 3, 4, 5, 6] {
            if it == 1 && id + 1 >= self.config.n_tables {
                continue;
            }
            ins.put_u16(it);
            ins.put_u16(4);
        }
        let next: Vec<u8> = (id.saturating_add(1)..self.config.n_tables).collect();
        // Action ids of OpenFlow 1.3: output, TTL copies, MPLS/VLAN/PBB push-pop, queue,
        // group, TTLs, set-field.
        let mut acts = Vec::new();
        for at in [
            0u16, 11, 12, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27,
        ] {
            acts.put_u16(at);
            acts.put_u16(4);
        }
        // OpenFlow 1.3 knows basic fields 0..=39 (up to ipv6_exthdr).
        let basic13 = |f: &&crate::ofp::oxm::FieldInfo| {
            f.class == crate::ofp::oxm::OFPXMC_OPENFLOW_BASIC && f.code <= 39
        };
        let mut matchable = Vec::new();
        let mut plain = Vec::new();
        for f in crate::ofp::oxm::FIELDS.iter().filter(basic13) {
            matchable.put_u32(f.field.header(f.maskable));
            plain.put_u32(f.field.header(false));
        }
        let properties = [
            (0u16, &ins),
            (1, &ins),
            (2, &next),
            (3, &next),
            (4, &acts),
            (5, &acts),
            (6, &acts),
            (7, &acts),
            (8, &matchable),
            (10, &plain),
            (12, &plain),
            (13, &plain),
            (14, &plain),
            (15, &plain),
        ]
        .into_iter()
        .map(|(ptype, value)| Property {
            ptype,
            value: value.clone(),
        })
        .collect();
        TableFeatures {
            table_id: id,
            name: t.name(),
            metadata_match: u64::MAX,
            metadata_write: u64::MAX,
            config: 0,
            max_entries: t.max_flows.min(1_000_000),
            properties,
        }
    }

    /// QUEUE_GET_CONFIG_REQUEST: the configured queues of one port (or every port for
    /// `OFPP_ANY`), without properties.
    pub(crate) fn queue_get_config(&self, v: Version, port: u32) -> Result<Vec<Message>, OfpError> {
        let all = port == OFPP_ANY;
        if !all && !self.ports.contains_key(&port) {
            return Err(OfpError::OFPQOFC_BAD_PORT);
        }
        let mut queues = Vec::new();
        for p in self
            .ports
            .values()
            .filter(|p| all || p.desc.port_no == port)
        {
            for q in &p.queues {
                queues.put_u32(*q);
                if v == Version::V1_0 {
                    queues.put_u16(8);
                    queues.put_zeros(2);
                } else {
                    queues.put_u32(p.desc.port_no);
                    queues.put_u16(16);
                    queues.put_zeros(6);
                }
            }
        }
        Ok(vec![Message::QueueGetConfigReply { port, queues }])
    }
}

const OFPG_ANY_: u32 = crate::ofp::flow::OFPG_ANY;

fn since(t: Millis, now: Millis) -> (u32, u32) {
    let ms = now.saturating_sub(t);
    ((ms / 1000) as u32, ((ms % 1000) * 1_000_000) as u32)
}

fn one(body: MultipartReplyBody) -> Vec<Message> {
    vec![Message::MultipartReply(MultipartReply { flags: 0, body })]
}

fn encoded_len(v: Version, body: MultipartReplyBody) -> Option<usize> {
    let mut out = Vec::new();
    Message::MultipartReply(MultipartReply { flags: 0, body })
        .encode(v, 0, &mut out)
        .ok()?;
    Some(out.len())
}

/// Splits `items` into replies of at most 64 KiB each, all but the last flagged MORE.
/// Items that cannot be encoded in `v` are left out.
fn split<T: Clone>(
    v: Version,
    items: Vec<T>,
    wrap: impl Fn(Vec<T>) -> MultipartReplyBody,
) -> Vec<Message> {
    let Some(empty) = encoded_len(v, wrap(Vec::new())) else {
        return Vec::new();
    };
    let mut parts: Vec<Vec<T>> = vec![Vec::new()];
    let mut size = empty;
    for it in items {
        let Some(n) = encoded_len(v, wrap(vec![it.clone()])) else {
            continue;
        };
        let n = n - empty;
        if size + n > MAX_MSG && parts.last().is_some_and(|p| !p.is_empty()) {
            parts.push(Vec::new());
            size = empty;
        }
        size += n;
        if let Some(p) = parts.last_mut() {
            p.push(it);
        }
    }
    finish(parts.into_iter().map(wrap).collect())
}

fn finish(bodies: Vec<MultipartReplyBody>) -> Vec<Message> {
    let n = bodies.len();
    bodies
        .into_iter()
        .enumerate()
        .map(|(i, body)| {
            Message::MultipartReply(MultipartReply {
                flags: if i + 1 < n { OFPMPF_MORE } else { 0 },
                body,
            })
        })
        .collect()
}
