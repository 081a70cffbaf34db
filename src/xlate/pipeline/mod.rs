//! The translation engine: walks tables and actions, keeps the working key, the megaflow
//! wildcards and the datapath action list, and commits rewrites lazily.
//!
//! State: `key` is the packet as the OpenFlow actions so far would leave it; `base` is the
//! packet as the datapath actions emitted so far leave it; `dirty` marks key bits changed
//! since the last commit. `wc` (OpenFlow layout) collects examined bits of the *original*
//! packet; `written` marks OpenFlow bits overwritten with constants, which later lookups
//! need not pin; `pinned` holds key bits pinned directly (VLAN stacks, fragment bits).

use pmd::key::{FieldId as K, FlowKey, FlowMask};

use super::convert::{
    fields_from_key, is_ip, is_mpls, is_pipeline_field, pin_eth_type, store_in_key, wc_to_mask,
    ETH_TYPE_IP, ETH_TYPE_IPV6, VLAN_PRESENT,
};
use super::freeze::Frozen;
use super::{
    ControllerUserdata, DropReason, XlateCtx, XlateOutput, MAX_RESUBMITS, MAX_RESUBMIT_DEPTH,
    OFPPC_NO_PACKET_IN, OFPPC_NO_RECV, OFPPC_PORT_DOWN, OFPR_NO_MATCH,
};
use crate::ofp::oxm::Field;
use crate::ofp::port::{self, OFPP_IN_PORT};
use crate::ofp::{Action, Instruction, MatchEntry, OxmMatch};
use crate::ofproto::{FlowFields, Rule};

mod actions;
mod commit;

/// Pipeline fields reported with a packet-in (besides in_port).
const PACKET_IN_METADATA: [Field; 18] = [
    Field::Metadata,
    Field::TunnelId,
    Field::Reg0,
    Field::Reg1,
    Field::Reg2,
    Field::Reg3,
    Field::Reg4,
    Field::Reg5,
    Field::Reg6,
    Field::Reg7,
    Field::Reg8,
    Field::Reg9,
    Field::Reg10,
    Field::Reg11,
    Field::Reg12,
    Field::Reg13,
    Field::Reg14,
    Field::Reg15,
];

/// Every pipeline field, computed once: `fields()` runs for each lookup.
static PIPELINE_FIELDS: std::sync::LazyLock<Vec<Field>> = std::sync::LazyLock::new(|| {
    crate::ofp::oxm::FIELDS
        .iter()
        .map(|i| i.field)
        .filter(|&f| is_pipeline_field(f))
        .collect()
});

/// How a list of actions ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::xlate) enum Flow {
    Continue,
    /// dec_ttl failed: the current list ends, the caller's continues.
    StopList,
}

pub(super) struct Xlate<'a, 'c> {
    ctx: &'a XlateCtx<'c>,
    packet: Option<&'a [u8]>,
    key: FlowKey,
    /// The key as received, for packet-in contents.
    orig: FlowKey,
    base: FlowKey,
    dirty: FlowMask,
    meta: FlowFields,
    wc: FlowFields,
    written: FlowFields,
    pinned: FlowMask,
    out: XlateOutput,
    depth: u32,
    resubmits: u32,
    table: u8,
    cookie: u64,
    action_set: Vec<Action>,
    exit: bool,
    error: Option<DropReason>,
    report: Option<Vec<String>>,
    /// A pause in progress: set by `controller(pause)`, filled while the calls unwind.
    freezing: Option<Freezing>,
    /// Inside a group bucket or the action set, where a pause cannot be frozen.
    no_freeze: u32,
}

/// What a pause keeps until translation has unwound (see [`super::freeze`]).
pub(super) struct Freezing {
    /// The packet-in's fields, taken when the pause ran.
    userdata: ControllerUserdata,
    packet: Option<Vec<u8>>,
    frozen: Frozen,
}

impl<'a, 'c> Xlate<'a, 'c> {
    pub(super) fn new(
        ctx: &'a XlateCtx<'c>,
        key: &FlowKey,
        packet: Option<&'a [u8]>,
        report: bool,
    ) -> Xlate<'a, 'c> {
        let mut meta = FlowFields::default();
        meta.set_u64(
            Field::InPort,
            u64::from(crate::ofproto::ofp_port_of(key.in_port())),
        );
        let mut pinned = FlowMask::default();
        // The datapath classifies per port and per recirculation; both are always exact.
        pinned.set_exact(K::InPort);
        pinned.set_exact(K::RecircId);
        if is_ip(key.eth_type()) {
            // Fragments translate differently (no L4 ports), so the fragment bits always
            // matter for IP, as in Open vSwitch.
            pin_eth_type(&mut pinned);
            pinned.set_exact(K::IpFrag);
        }
        Xlate {
            ctx,
            packet,
            key: *key,
            orig: *key,
            base: *key,
            dirty: FlowMask::default(),
            meta,
            wc: FlowFields::default(),
            written: FlowFields::default(),
            pinned,
            out: XlateOutput {
                actions: Vec::new(),
                mask: FlowMask::default(),
                packet_ins: Vec::new(),
                learned: Vec::new(),
                rules: Vec::new(),
                groups: Vec::new(),
                meters: Vec::new(),
                tables: Vec::new(),
                needs_userspace: false,
                drop_reason: None,
            },
            depth: 0,
            resubmits: 0,
            table: 0,
            cookie: 0,
            action_set: Vec::new(),
            exit: false,
            error: None,
            report: report.then(Vec::new),
            freezing: None,
            no_freeze: 0,
        }
    }

    /// Reports the rule a lookup found: its table, match and cookie, then its instructions.
    fn describe_rule(&mut self, rule: &Rule) {
        if self.report.is_none() {
            return;
        }
        // The priority follows the match in full (hidden rules exceed 16 bits), so the match
        // itself is printed as if it had the default one, which adds nothing.
        let m = crate::ofp::syntax::format_match(
            &rule.match_,
            crate::ofp::syntax::print::DEFAULT_PRIORITY,
        );
        let acts = crate::ofp::syntax::format_instructions(&rule.instructions);
        let line = format!(
            "{}{}. {}, priority {}, cookie {:#x}: {acts}",
            " ".repeat(self.depth as usize * 8),
            rule.table_id,
            if m.is_empty() { "(catch-all)" } else { &m },
            rule.priority,
            rule.cookie
        );
        if let Some(r) = &mut self.report {
            r.push(line);
        }
    }

    pub(super) fn note(&mut self, text: impl FnOnce() -> String) {
        let indent = self.depth as usize * 8 + 4;
        if let Some(r) = &mut self.report {
            r.push(format!("{:indent$}{}", "", text()));
        }
    }

    /// Makes the pipeline see OpenFlow port `in_port` (packet-out: may be CONTROLLER or
    /// ANY, which have no datapath port).
    pub(super) fn set_in_port(&mut self, in_port: u32) {
        self.meta.set_u64(Field::InPort, u64::from(in_port));
    }

    /// Runs an explicit action list (packet-out) instead of the tables; same output as
    /// [`Xlate::run`].
    pub(super) fn run_actions(mut self, actions: &[Action]) -> (XlateOutput, Vec<String>, FlowKey) {
        self.do_actions(actions);
        self.finish()
    }

    /// Runs the whole pipeline; returns the output and the report lines (empty unless
    /// asked for).
    pub(super) fn run(mut self) -> (XlateOutput, Vec<String>, FlowKey) {
        let in_port = self.in_port();
        let no_recv = self
            .ctx
            .pipeline
            .port(in_port)
            .is_some_and(|p| p.desc.config & (OFPPC_NO_RECV | OFPPC_PORT_DOWN) != 0);
        // The fragment bits are always in the megaflow of an IP packet (see `new`).
        let fragment = is_ip(self.key.eth_type()) && self.key.ip_frag() & 1 != 0;
        if no_recv {
            self.note(|| "input port has no_recv or is down: dropping".into());
            self.error = Some(DropReason::NoReceive);
        } else if fragment && self.ctx.config.drop_fragments {
            self.note(|| "IP fragment, fragment handling is drop".into());
            self.error = Some(DropReason::Fragment);
        } else {
            self.run_table(0, true);
            if self.stopped().is_none() {
                self.run_action_set();
            }
        }
        self.finish()
    }

    /// Why the pipeline must not go on, if it must not: an error, `exit`, or a pause.
    fn stopped(&self) -> Option<&'static str> {
        if self.error.is_some() {
            Some("error")
        } else if self.exit {
            Some("exit")
        } else if self.freezing.is_some() {
            Some("pause")
        } else {
            None
        }
    }

    /// Sets the pipeline fields an `NXT_RESUME`'s metadata carries.
    pub(super) fn apply_metadata(&mut self, metadata: &OxmMatch) {
        for e in &metadata.entries {
            let (field, value) = match e.field {
                Field::NxmInPort => {
                    let p = port::from_of10(u16::from_be_bytes([e.value()[0], e.value()[1]]));
                    (Field::InPort, p.to_be_bytes().to_vec())
                }
                f => (f.canonical(), e.value()[..f.len()].to_vec()),
            };
            if !is_pipeline_field(field) || field.len() != value.len() {
                continue;
            }
            let mask = match e.mask_bytes() {
                Some(m) if e.field != Field::NxmInPort => m[..field.len()].to_vec(),
                _ => vec![0xff; field.len()],
            };
            let cur = self.meta.get(field).to_vec();
            let new: Vec<u8> = cur
                .iter()
                .zip(value.iter().zip(&mask))
                .map(|(c, (v, m))| (c & !m) | (v & m))
                .collect();
            self.meta.set(field, &new);
        }
    }

    /// Runs a frozen pipeline (see [`super::resume`]).
    pub(super) fn run_frozen(mut self, frozen: &Frozen) -> (XlateOutput, Vec<String>, FlowKey) {
        self.action_set = frozen.action_set.clone();
        for (i, seg) in frozen.segments.iter().enumerate() {
            if self.stopped().is_some() {
                break;
            }
            self.table = seg.table_id;
            self.cookie = seg.cookie;
            self.do_actions(&seg.actions);
            let goto = if self.freezing.is_some() {
                self.freeze_instructions(&seg.instructions);
                None
            } else if self.stopped().is_some() {
                None
            } else {
                self.run_tail(&seg.instructions)
            };
            if let Some(next) = goto.filter(|&t| t > seg.table_id) {
                self.run_table(next, true);
            }
            // Paused again: what was still frozen comes after what this pause froze.
            if let Some(f) = &mut self.freezing {
                f.frozen
                    .segments
                    .extend(frozen.segments[i + 1..].iter().cloned());
                break;
            }
        }
        if self.stopped().is_none() {
            self.run_action_set();
        }
        self.finish()
    }

    fn finish(mut self) -> (XlateOutput, Vec<String>, FlowKey) {
        if let Some(f) = self.freezing.take() {
            self.emit_pause(f);
        }
        self.out.mask = wc_to_mask(&self.wc, &self.orig).or(&self.pinned);
        if let Some(e) = self.error.take() {
            self.out.actions.clear();
            self.out.packet_ins.clear();
            self.out.needs_userspace = false;
            self.out.drop_reason = Some(e);
        } else if self.out.actions.is_empty() && self.out.drop_reason.is_none() {
            self.out.drop_reason = Some(DropReason::NoOutput);
        }
        if !self.ctx.may_learn {
            self.out.learned.clear();
        }
        (self.out, self.report.unwrap_or_default(), self.key)
    }

    // ----- reading and writing fields -------------------------------------------------

    pub(super) fn in_port(&self) -> u32 {
        self.meta.get_u64(Field::InPort) as u32
    }

    /// The OpenFlow view of the current packet and pipeline fields.
    pub(super) fn fields(&self) -> FlowFields {
        let mut f = fields_from_key(&self.key);
        for &field in PIPELINE_FIELDS.iter() {
            f.set(field, self.meta.get(field));
        }
        f
    }

    /// Adds examined bits of the original packet (those not overwritten since).
    pub(super) fn examine(&mut self, wc: &FlowFields) {
        self.wc.or_except(wc, &self.written);
    }

    /// Marks all of `field` examined.
    pub(super) fn examine_field(&mut self, field: Field) {
        let mut wc = FlowFields::default();
        wc.set(field, &vec![0xff; field.len()]);
        self.examine(&wc);
    }

    pub(super) fn pin_vlans(&mut self) {
        for f in [
            K::VlanOuterTpid,
            K::VlanOuterTci,
            K::VlanInnerTpid,
            K::VlanInnerTci,
        ] {
            self.pinned.set_exact(f);
        }
        self.examine_field(Field::VlanVid);
    }

    /// Writes `value` under `mask` into OpenFlow field `field` (already canonical, in its
    /// slot layout). Packet fields go to the key and are marked for commit.
    fn write_slot(&mut self, field: Field, value: &[u8], mask: &[u8]) {
        let cur = self.fields();
        let new: Vec<u8> = cur
            .get(field)
            .iter()
            .zip(value.iter().zip(mask))
            .map(|(c, (v, m))| (c & !m) | (v & m))
            .collect();
        let mut w: Vec<u8> = self.written.get(field).to_vec();
        for (x, m) in w.iter_mut().zip(mask) {
            *x |= m;
        }
        self.written.set(field, &w);
        if is_pipeline_field(field) {
            self.meta.set(field, &new);
            return;
        }
        store_in_key(&mut self.key, field, &new);
        // Every written bit is committed, changed or not: a write of the value the packet
        // already has must still reach the datapath, because the megaflow does not pin it.
        let mut slot_mask = FlowFields::default();
        slot_mask.set(field, mask);
        self.dirty = self.dirty.or(&wc_to_mask(&slot_mask, &self.key));
        if field == Field::VlanVid {
            // VLAN changes commit by comparing tag stacks, which needs the original tags.
            self.pin_vlans();
        }
    }

    /// Checks a field's prerequisites against the current packet, pinning what it read.
    fn prereq_ok(&mut self, field: Field) -> bool {
        use crate::ofp::oxm::Prereq as P;
        let f = self.fields();
        let et = f.get_u64(Field::EthType) as u16;
        let proto = f.get_u64(Field::IpProto) as u8;
        let need_et = |s: &mut Self| s.examine_field(Field::EthType);
        let need_proto = |s: &mut Self| {
            s.examine_field(Field::EthType);
            s.examine_field(Field::IpProto);
        };
        match field.info().prereq {
            P::None | P::InPort => true,
            P::Vlan => {
                self.examine_field(Field::VlanVid);
                f.get_u64(Field::VlanVid) as u16 & VLAN_PRESENT != 0
            }
            P::Ip => {
                need_et(self);
                is_ip(et)
            }
            P::Ipv4 => {
                need_et(self);
                et == ETH_TYPE_IP
            }
            P::Ipv6 => {
                need_et(self);
                et == ETH_TYPE_IPV6
            }
            P::Arp => {
                need_et(self);
                et == 0x0806 || et == 0x8035
            }
            P::Mpls => {
                need_et(self);
                is_mpls(et)
            }
            P::Tcp => {
                need_proto(self);
                is_ip(et) && proto == 6
            }
            P::Udp => {
                need_proto(self);
                is_ip(et) && proto == 17
            }
            P::Sctp => {
                need_proto(self);
                is_ip(et) && proto == 132
            }
            P::Icmpv4 => {
                need_proto(self);
                et == ETH_TYPE_IP && proto == 1
            }
            P::Icmpv6 | P::Nd | P::NdSolicit | P::NdAdvert => {
                need_proto(self);
                et == ETH_TYPE_IPV6 && proto == 58
            }
            P::Pbb => false,
        }
    }

    /// A set-field / reg_load2 / masked write of an OXM entry.
    fn set_field(&mut self, e: &MatchEntry) {
        let full = [0xffu8; 16];
        let len = e.field.len();
        let value = &e.value()[..len];
        let mask = e.mask_bytes().unwrap_or(&full[..len]);
        let (slot, v, m): (Field, Vec<u8>, Vec<u8>) = match e.field {
            Field::VlanVid => {
                // OXM vlan_vid: VID plus "present"; sets the VID of an existing tag.
                let v = u16::from_be_bytes([value[0], value[1]]) & 0x0fff;
                let m = u16::from_be_bytes([mask[0], mask[1]]) & 0x0fff;
                (
                    Field::VlanVid,
                    v.to_be_bytes().to_vec(),
                    m.to_be_bytes().to_vec(),
                )
            }
            Field::NxmVlanTci => (Field::VlanVid, value.to_vec(), mask.to_vec()),
            Field::VlanPcp => {
                let v = u16::from(value[0] & 7) << 13;
                let m = u16::from(mask[0] & 7) << 13;
                (
                    Field::VlanVid,
                    v.to_be_bytes().to_vec(),
                    m.to_be_bytes().to_vec(),
                )
            }
            Field::NxmIpTos => (Field::IpDscp, vec![value[0] >> 2], vec![mask[0] >> 2]),
            Field::NxmInPort => {
                let p = port::from_of10(u16::from_be_bytes([value[0], value[1]]));
                (Field::InPort, p.to_be_bytes().to_vec(), vec![0xff; 4])
            }
            f => (f.canonical(), value.to_vec(), mask.to_vec()),
        };
        if e.field != Field::NxmVlanTci && !self.prereq_ok(e.field) {
            self.note(|| {
                format!(
                    "set_field {}: prerequisites not met, skipped",
                    e.field.info().name
                )
            });
            return;
        }
        if slot == Field::VlanVid && e.field != Field::NxmVlanTci {
            // OXM vlan_vid/vlan_pcp change an existing tag; they never create one, so
            // whether there is a tag matters.
            let mut wc = FlowFields::default();
            wc.set_u64(Field::VlanVid, u64::from(VLAN_PRESENT));
            self.examine(&wc);
            if self.key.vlan_outer_tpid() == 0 {
                return;
            }
        }
        match slot {
            Field::NxIpFrag
            | Field::ArpOp
            | Field::ArpSpa
            | Field::ArpTpa
            | Field::ArpSha
            | Field::ArpTha
            | Field::MplsLabel
            | Field::MplsTc
            | Field::MplsBos
            | Field::Ipv6Flabel
            | Field::Icmpv4Type
            | Field::Icmpv4Code
            | Field::Icmpv6Type
            | Field::Icmpv6Code
            | Field::Ipv6NdTarget
            | Field::Ipv6NdSll
            | Field::Ipv6NdTll
            | Field::TcpFlags
            | Field::IpProto
            | Field::EthType
            | Field::PktMark
            | Field::DpHash
            | Field::RecircId => {
                self.unsupported(slot.info().name);
                return;
            }
            _ => {}
        }
        self.write_slot(slot, &v, &m);
    }

    fn unsupported(&mut self, what: &'static str) {
        self.note(|| format!("unsupported by the datapath: {what}"));
        if self.error.is_none() {
            self.error = Some(DropReason::Unsupported(what));
        }
    }

    /// Reads bits `ofs..ofs+n` of `field`, pinning them when they come from the packet.
    /// Reads bits `ofs..ofs+n` of `field`, pinning them when they come from the packet.
    /// Out-of-range bit spans read as 0 (flow_mod validation should have refused them).
    fn read_bits(&mut self, field: Field, ofs: u32, n: u32) -> u128 {
        if field == Field::NxmInPort {
            let p = u128::from(port::to_of10(self.in_port()).unwrap_or(0));
            return if ofs + n <= 16 {
                (p >> ofs) & bit_mask(n)
            } else {
                0
            };
        }
        let field = field.canonical();
        let f = self.fields();
        let bytes = f.get(field);
        let width = bytes.len() as u32 * 8;
        if n == 0 || ofs + n > width.min(128) {
            return 0;
        }
        let v = bytes.iter().fold(0u128, |a, &b| (a << 8) | u128::from(b));
        let m = bit_mask(n) << ofs;
        if !is_pipeline_field(field) {
            let mut wc = FlowFields::default();
            wc.set(field, &to_bytes(m, bytes.len()));
            self.examine(&wc);
        }
        (v >> ofs) & bit_mask(n)
    }

    /// Writes `value` into bits `ofs..ofs+n` of `field`; out-of-range spans do nothing.
    fn write_bits(&mut self, field: Field, ofs: u32, n: u32, value: u128) {
        if field == Field::NxmInPort {
            if ofs + n <= 16 && n > 0 {
                let old = port::to_of10(self.in_port()).map_or(0, u128::from);
                let m = bit_mask(n) << ofs;
                let new = ((old & !m) | ((value << ofs) & m)) as u16;
                let p = port::from_of10(new);
                self.write_slot(Field::InPort, &p.to_be_bytes(), &[0xff; 4]);
            }
            return;
        }
        let slot = field.canonical();
        let len = slot.len();
        if n == 0 || ofs + n > (len as u32 * 8).min(128) {
            return;
        }
        if !self.prereq_ok(field) {
            return;
        }
        let m = bit_mask(n) << ofs;
        self.write_slot(slot, &to_bytes((value << ofs) & m, len), &to_bytes(m, len));
    }

    // ----- tables ---------------------------------------------------------------------

    /// Looks up `table` and runs the rule found; goto_table continues in a loop.
    /// `top` is a top-level or goto lookup (a miss follows the table-miss policy); a
    /// resubmit's miss is silent.
    fn run_table(&mut self, mut table: u8, top: bool) {
        let mut miss_policy = top;
        loop {
            if self.stopped().is_some() {
                return;
            }
            let flow = self.fields();
            let (rule, wc) = self.ctx.pipeline.lookup(table, &flow);
            self.examine(&wc);
            self.out.tables.push((table, rule.is_some()));
            let Some(rule) = rule else {
                self.note(|| format!("{table}. No match."));
                if miss_policy {
                    self.table_miss(table);
                }
                return;
            };
            self.describe_rule(rule);
            self.out.rules.push(rule.id);
            let (saved_table, saved_cookie) = (self.table, self.cookie);
            self.table = table;
            self.cookie = rule.cookie;
            let goto = self.run_instructions(rule);
            self.table = saved_table;
            self.cookie = saved_cookie;
            match goto {
                Some(next) if next > table => {
                    table = next;
                    miss_policy = true;
                }
                _ => return,
            }
        }
    }

    fn table_miss(&mut self, table: u8) {
        let in_port = self.in_port();
        let no_packet_in = self
            .ctx
            .pipeline
            .port(in_port)
            .is_some_and(|p| p.desc.config & OFPPC_NO_PACKET_IN != 0);
        match self.ctx.config.table_miss {
            super::TableMiss::Controller if !no_packet_in => {
                self.note(|| "No match: the packet goes to the controller (table miss).".into());
                let (t, c) = (self.table, self.cookie);
                self.table = table;
                self.cookie = 0;
                self.controller(OFPR_NO_MATCH, u16::MAX, 0);
                self.table = t;
                self.cookie = c;
            }
            _ => {
                self.note(|| "No match: drop.".into());
                if self.out.drop_reason.is_none() {
                    self.out.drop_reason = Some(DropReason::TableMiss { table });
                }
            }
        }
    }

    /// Runs a rule's instructions in OpenFlow's order; returns the goto target.
    fn run_instructions(&mut self, rule: &Rule) -> Option<u8> {
        let find =
            |pred: fn(&Instruction) -> bool| rule.instructions.iter().filter(move |i| pred(i));
        for i in find(|i| matches!(i, Instruction::Meter(_))) {
            if let Instruction::Meter(id) = i {
                if !self.ctx.pipeline.meter_exists(*id) {
                    self.note(|| format!("meter:{id} does not exist: drop"));
                    return None;
                }
                self.out.meters.push(*id);
            }
        }
        for i in find(|i| matches!(i, Instruction::ApplyActions(_))) {
            if let Instruction::ApplyActions(acts) = i {
                self.do_actions(acts);
            }
        }
        if self.freezing.is_some() {
            self.freeze_instructions(&rule.instructions);
            return None;
        }
        if self.stopped().is_some() {
            return None;
        }
        self.run_tail(&rule.instructions)
    }

    /// Runs the instructions that follow apply-actions (clear/write actions, then
    /// write_metadata); returns the goto target.
    fn run_tail(&mut self, instructions: &[Instruction]) -> Option<u8> {
        for i in instructions {
            match i {
                Instruction::ClearActions => self.action_set.clear(),
                Instruction::WriteActions(acts) => {
                    for a in acts {
                        write_action(&mut self.action_set, a);
                    }
                }
                _ => {}
            }
        }
        for i in instructions {
            if let Instruction::WriteMetadata { metadata, mask } = i {
                self.write_slot(
                    Field::Metadata,
                    &metadata.to_be_bytes(),
                    &mask.to_be_bytes(),
                );
            }
        }
        instructions.iter().find_map(|i| match i {
            Instruction::GotoTable(t) => Some(*t),
            _ => None,
        })
    }

    /// Executes the action set at the end of the pipeline, in OpenFlow's order; a group
    /// replaces the output.
    fn run_action_set(&mut self) {
        let mut set = std::mem::take(&mut self.action_set);
        if set.is_empty() {
            return;
        }
        set.sort_by_key(action_set_rank);
        if set.iter().any(|a| matches!(a, Action::Group(_))) {
            set.retain(|a| !matches!(a, Action::Output { .. }));
        }
        self.note(|| "Action set:".into());
        self.no_freeze += 1;
        self.do_actions(&set);
        self.no_freeze -= 1;
    }

    /// Enters one nested lookup (resubmit, output to TABLE) if the limits allow; the
    /// caller decrements `depth` when it returns.
    fn enter_nested(&mut self) -> bool {
        if self.depth >= MAX_RESUBMIT_DEPTH {
            self.note(|| "recursion too deep".into());
            self.error = Some(DropReason::RecursionTooDeep);
            return false;
        }
        self.resubmits += 1;
        if self.resubmits > MAX_RESUBMITS {
            self.note(|| "too many resubmits".into());
            self.error = Some(DropReason::TooManyResubmits);
            return false;
        }
        self.depth += 1;
        true
    }

    fn resubmit(&mut self, in_port: u32, table: u8) {
        if !self.enter_nested() {
            return;
        }
        self.depth -= 1;
        let table = if table == 255 { self.table } else { table };
        let cur = self.in_port();
        let port = if in_port == OFPP_IN_PORT {
            cur
        } else {
            in_port
        };
        self.note(|| {
            let p = if in_port == OFPP_IN_PORT {
                String::new()
            } else {
                port::name(port)
            };
            format!("resubmit({p},{table})")
        });
        // The lookup sees the given in_port; the actions see the real one again, so
        // IN_PORT and NORMAL still mean the ingress port.
        self.meta.set_u64(Field::InPort, u64::from(port));
        let flow = self.fields();
        self.meta.set_u64(Field::InPort, u64::from(cur));
        let (rule, wc) = self.ctx.pipeline.lookup(table, &flow);
        self.examine(&wc);
        self.out.tables.push((table, rule.is_some()));
        self.depth += 1;
        match rule {
            None => self.note(|| format!("{table}. No match.")),
            Some(rule) => {
                self.describe_rule(rule);
                self.out.rules.push(rule.id);
                let (t, c) = (self.table, self.cookie);
                self.table = table;
                self.cookie = rule.cookie;
                if let Some(next) = self.run_instructions(rule) {
                    if next > table {
                        self.run_table(next, true);
                    }
                }
                self.table = t;
                self.cookie = c;
            }
        }
        self.depth -= 1;
    }

    // ----- accessors for NORMAL and trace ----------------------------------------------

    pub(super) fn ctx(&self) -> &'a XlateCtx<'c> {
        self.ctx
    }

    pub(super) fn key(&self) -> &FlowKey {
        &self.key
    }

    pub(super) fn key_mut(&mut self) -> &mut FlowKey {
        &mut self.key
    }

    pub(super) fn learned(&mut self) -> &mut Vec<super::FdbLearn> {
        &mut self.out.learned
    }
}

fn bit_mask(n: u32) -> u128 {
    if n >= 128 {
        u128::MAX
    } else {
        (1u128 << n) - 1
    }
}

fn to_bytes(v: u128, len: usize) -> Vec<u8> {
    v.to_be_bytes()[16 - len.min(16)..].to_vec()
}

/// OpenFlow's action-set order: copy-ttl-in, pop, push-mpls, push-pbb, push-vlan,
/// copy-ttl-out, dec-ttl, set, qos, group, output.
fn action_set_rank(a: &Action) -> u8 {
    match a {
        Action::CopyTtlIn => 0,
        Action::PopVlan | Action::PopMpls(_) | Action::PopPbb | Action::StripVlan => 1,
        Action::PushMpls(_) => 2,
        Action::PushPbb(_) => 3,
        Action::PushVlan(_) => 4,
        Action::CopyTtlOut => 5,
        Action::DecMplsTtl | Action::DecNwTtl | Action::DecTtl | Action::DecTtlCntIds(_) => 6,
        Action::SetQueue(_) | Action::NxSetQueue(_) | Action::PopQueue => 8,
        Action::Group(_) => 9,
        Action::Output { .. } | Action::Enqueue { .. } | Action::OutputReg { .. } => 10,
        _ => 7,
    }
}

/// Adds `a` to the action set, replacing an action of the same kind (same field for
/// set-field).
fn write_action(set: &mut Vec<Action>, a: &Action) {
    let same = |b: &Action| match (a, b) {
        (Action::SetField(x), Action::SetField(y)) => x.field.canonical() == y.field.canonical(),
        _ => std::mem::discriminant(a) == std::mem::discriminant(b),
    };
    if let Some(slot) = set.iter_mut().find(|b| same(b)) {
        *slot = a.clone();
    } else {
        set.push(a.clone());
    }
}
