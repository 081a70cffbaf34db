//! The translation engine: walks tables and actions, keeps the working key, the megaflow
//! wildcards and the datapath action list, and commits rewrites lazily.
//!
//! State: `key` is the packet as the OpenFlow actions so far would leave it; `base` is the
//! packet as the datapath actions emitted so far leave it; `dirty` marks key bits changed
//! since the last commit. `wc` (OpenFlow layout) collects examined bits of the *original*
//! packet; `written` marks OpenFlow bits overwritten with constants, which later lookups
//! need not pin; `pinned` holds key bits pinned directly (VLAN stacks, fragment bits).

use pmd::actions::{execute, ActionSink, DpAction, SetField, VecPacket};
use pmd::key::{FieldId as K, FlowKey, FlowMask};

use super::convert::{
    fields_from_key, is_ip, is_mpls, is_pipeline_field, pin_eth_type, store_in_key, wc_to_mask,
    ETH_TYPE_IP, ETH_TYPE_IPV6, ETH_TYPE_VLAN, VLAN_PRESENT,
};
use super::{
    normal, ControllerUserdata, DropReason, PacketIn, XlateCtx, XlateOutput, MAX_RESUBMITS,
    MAX_RESUBMIT_DEPTH, OFPPC_NO_FLOOD, OFPPC_NO_FWD, OFPPC_NO_PACKET_IN, OFPPC_NO_RECV,
    OFPR_ACTION, OFPR_INVALID_TTL, OFPR_NO_MATCH, USERSPACE_CONTROLLER,
};
use crate::ofp::action::Controller2Prop;
use crate::ofp::oxm::Field;
use crate::ofp::port::{
    self, OFPP_ALL, OFPP_ANY, OFPP_CONTROLLER, OFPP_FLOOD, OFPP_IN_PORT, OFPP_LOCAL, OFPP_NORMAL,
    OFPP_TABLE,
};
use crate::ofp::{Action, Instruction, MatchEntry, OxmMatch};
use crate::ofproto::{FlowFields, Rule};

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
enum Flow {
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
        }
    }

    /// Reports the rule a lookup found: its table, match and cookie, then its instructions.
    fn describe_rule(&mut self, rule: &Rule) {
        if self.report.is_none() {
            return;
        }
        let m = crate::ofp::syntax::format_match(&rule.match_, rule.priority.min(0xffff) as u16);
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
            .is_some_and(|p| p.desc.config & OFPPC_NO_RECV != 0);
        if no_recv {
            self.note(|| "input port has no_recv: dropping".into());
            self.error = Some(DropReason::NoReceive);
        } else {
            self.run_table(0, true);
            if self.error.is_none() && !self.exit {
                self.run_action_set();
            }
        }
        self.finish()
    }

    fn finish(mut self) -> (XlateOutput, Vec<String>, FlowKey) {
        self.out.mask = wc_to_mask(&self.wc).or(&self.pinned);
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
        for info in crate::ofp::oxm::FIELDS {
            let f = info.field;
            let w = wc.get(f);
            if w.iter().all(|&b| b == 0) {
                continue;
            }
            let mut bits = [0u8; 16];
            let n = w.len().min(16);
            for (i, b) in bits[..n].iter_mut().enumerate() {
                *b = (w[i] & !self.written.get(f)[i]) | self.wc.get(f)[i];
            }
            self.wc.set(f, &bits[..n]);
        }
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
        let before = self.key;
        store_in_key(&mut self.key, field, &new);
        for i in 0..self.key.words.len() {
            self.dirty.words[i] |= before.words[i] ^ self.key.words[i];
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
            if self.exit || self.error.is_some() {
                return;
            }
            let flow = self.fields();
            let (rule, wc) = self.ctx.pipeline.lookup(table, &flow);
            self.examine(&wc);
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
        if self.exit || self.error.is_some() {
            return None;
        }
        for i in &rule.instructions {
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
        for i in &rule.instructions {
            if let Instruction::WriteMetadata { metadata, mask } = i {
                self.write_slot(
                    Field::Metadata,
                    &metadata.to_be_bytes(),
                    &mask.to_be_bytes(),
                );
            }
        }
        rule.instructions.iter().find_map(|i| match i {
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
        self.do_actions(&set);
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

    // ----- actions ----------------------------------------------------------------------

    fn do_actions(&mut self, actions: &[Action]) -> Flow {
        for a in actions {
            if self.exit || self.error.is_some() {
                return Flow::Continue;
            }
            if self.do_action(a) == Flow::StopList {
                return Flow::StopList;
            }
        }
        Flow::Continue
    }

    fn do_action(&mut self, a: &Action) -> Flow {
        match a {
            Action::Output { port, max_len } => self.output(*port, *max_len),
            Action::Enqueue { port, .. } => self.output(*port, 0),
            Action::OutputReg {
                ofs_nbits,
                src,
                max_len,
            } => {
                if let Some(f) = Field::from_header(*src, None) {
                    let (ofs, n) = ofs_nbits_split(*ofs_nbits);
                    let p = self.read_bits(f, ofs, n);
                    if p <= 0xffff {
                        self.output(port::from_of10(p as u16), *max_len);
                    }
                }
            }
            Action::SetVlanVid(vid) => {
                self.pin_vlans();
                if self.key.vlan_outer_tpid() == 0 {
                    self.key.set_vlan_outer_tpid(ETH_TYPE_VLAN);
                    self.key.set_vlan_outer_tci(vid & 0xfff);
                } else {
                    let tci = (self.key.vlan_outer_tci() & !0xfff) | (vid & 0xfff);
                    self.key.set_vlan_outer_tci(tci);
                }
            }
            Action::SetVlanPcp(pcp) => {
                self.pin_vlans();
                if self.key.vlan_outer_tpid() == 0 {
                    self.key.set_vlan_outer_tpid(ETH_TYPE_VLAN);
                    self.key.set_vlan_outer_tci(u16::from(pcp & 7) << 13);
                } else {
                    let tci = (self.key.vlan_outer_tci() & 0x1fff) | (u16::from(pcp & 7) << 13);
                    self.key.set_vlan_outer_tci(tci);
                }
            }
            Action::StripVlan | Action::PopVlan => {
                self.pin_vlans();
                self.key.set_vlan_outer_tpid(self.key.vlan_inner_tpid());
                self.key.set_vlan_outer_tci(self.key.vlan_inner_tci());
                self.key.set_vlan_inner_tpid(0);
                self.key.set_vlan_inner_tci(0);
            }
            Action::PushVlan(tpid) => {
                self.pin_vlans();
                if self.key.vlan_inner_tpid() != 0 {
                    self.unsupported("push_vlan onto two tags");
                } else {
                    let tci = self.key.vlan_outer_tci();
                    self.key.set_vlan_inner_tpid(self.key.vlan_outer_tpid());
                    self.key.set_vlan_inner_tci(tci);
                    self.key.set_vlan_outer_tpid(*tpid);
                    self.key
                        .set_vlan_outer_tci(if self.key.vlan_inner_tpid() != 0 {
                            tci
                        } else {
                            0
                        });
                }
            }
            Action::SetDlSrc(mac) => self.write_slot(Field::EthSrc, mac, &[0xff; 6]),
            Action::SetDlDst(mac) => self.write_slot(Field::EthDst, mac, &[0xff; 6]),
            Action::SetNwSrc(a) => {
                if self.prereq_ok(Field::Ipv4Src) {
                    self.write_slot(Field::Ipv4Src, a, &[0xff; 4]);
                }
            }
            Action::SetNwDst(a) => {
                if self.prereq_ok(Field::Ipv4Dst) {
                    self.write_slot(Field::Ipv4Dst, a, &[0xff; 4]);
                }
            }
            Action::SetNwTos(tos) => {
                if self.prereq_ok(Field::Ipv4Src) {
                    self.write_slot(Field::IpDscp, &[tos >> 2], &[0x3f]);
                }
            }
            Action::SetTpSrc(p) | Action::SetTpDst(p) => {
                let src = matches!(a, Action::SetTpSrc(_));
                let f = self.fields();
                self.examine_field(Field::EthType);
                self.examine_field(Field::IpProto);
                let field = match (
                    is_ip(f.get_u64(Field::EthType) as u16),
                    f.get_u64(Field::IpProto),
                ) {
                    (true, 6) => Some(if src { Field::TcpSrc } else { Field::TcpDst }),
                    (true, 17) => Some(if src { Field::UdpSrc } else { Field::UdpDst }),
                    (true, 132) => Some(if src { Field::SctpSrc } else { Field::SctpDst }),
                    _ => None,
                };
                if let Some(field) = field {
                    self.write_slot(field, &p.to_be_bytes(), &[0xff; 2]);
                }
            }
            Action::SetField(e) | Action::RegLoad2(e) => self.set_field(e),
            Action::RegLoad {
                ofs_nbits,
                dst,
                value,
            } => {
                if let Some(f) = Field::from_header(*dst, None) {
                    let (ofs, n) = ofs_nbits_split(*ofs_nbits);
                    self.write_bits(f, ofs, n, u128::from(*value));
                }
            }
            Action::RegMove {
                n_bits,
                src_ofs,
                dst_ofs,
                src,
                dst,
            } => {
                if let (Some(s), Some(d)) = (
                    Field::from_header(*src, None),
                    Field::from_header(*dst, None),
                ) {
                    let n = u32::from(*n_bits);
                    let v = self.read_bits(s.canonical(), u32::from(*src_ofs), n);
                    self.write_bits(d, u32::from(*dst_ofs), n, v);
                }
            }
            Action::SetTunnel(id) => {
                self.write_slot(Field::TunnelId, &u64::from(*id).to_be_bytes(), &[0xff; 8])
            }
            Action::SetTunnel64(id) => {
                self.write_slot(Field::TunnelId, &id.to_be_bytes(), &[0xff; 8])
            }
            Action::SetNwTtl(ttl) => {
                if self.prereq_ok(Field::NxNwTtl) {
                    self.write_slot(Field::NxNwTtl, &[*ttl], &[0xff]);
                }
            }
            Action::DecNwTtl | Action::DecTtl => return self.dec_ttl(&[0]),
            Action::DecTtlCntIds(ids) => return self.dec_ttl(ids),
            Action::PushMpls(ethertype) => self.push_mpls(*ethertype),
            Action::PopMpls(ethertype) => self.pop_mpls(*ethertype),
            Action::DecMplsTtl | Action::SetMplsTtl(_) => {
                self.examine_field(Field::EthType);
                if !is_mpls(self.key.eth_type()) {
                    // Not an MPLS packet: set_mpls_ttl ends the list, dec_mpls_ttl does nothing.
                    return if matches!(a, Action::SetMplsTtl(_)) {
                        Flow::StopList
                    } else {
                        Flow::Continue
                    };
                }
                self.pinned.set_exact(K::MplsTtl);
                if matches!(a, Action::DecMplsTtl) && self.key.mpls_ttl() <= 1 {
                    self.controller(OFPR_INVALID_TTL, u16::MAX, 0);
                    return Flow::StopList;
                }
                self.unsupported("mpls ttl rewrite");
            }
            Action::CopyTtlOut | Action::CopyTtlIn => self.unsupported("copy_ttl"),
            Action::PushPbb(_) | Action::PopPbb => self.unsupported("pbb"),
            // No queues in the datapath key: priority-only actions change nothing.
            Action::SetQueue(_) | Action::NxSetQueue(_) | Action::PopQueue => {}
            Action::Group(id) => self.group(*id),
            Action::Resubmit { in_port } => self.resubmit(*in_port, 255),
            Action::ResubmitTable { in_port, table } => self.resubmit(*in_port, *table),
            Action::Note(_) => {}
            Action::Exit => {
                self.note(|| "exit".into());
                self.exit = true;
            }
            Action::Controller {
                max_len,
                controller_id,
                reason,
            } => self.controller(*reason, *max_len, *controller_id),
            Action::Controller2(props) => {
                let (mut max_len, mut id, mut reason) = (u16::MAX, 0, OFPR_ACTION);
                for p in props {
                    match p {
                        Controller2Prop::MaxLen(m) => max_len = *m,
                        Controller2Prop::ControllerId(c) => id = *c,
                        Controller2Prop::Reason(r) => reason = *r,
                        _ => {}
                    }
                }
                self.controller(reason, max_len, id);
            }
        }
        Flow::Continue
    }

    fn dec_ttl(&mut self, ids: &[u16]) -> Flow {
        self.examine_field(Field::EthType);
        if !is_ip(self.key.eth_type()) {
            return Flow::Continue;
        }
        self.examine_field(Field::NxNwTtl);
        let ttl = self.key.ip_ttl();
        if ttl <= 1 {
            self.note(|| "dec_ttl: TTL exceeded".into());
            for &id in ids {
                self.controller(OFPR_INVALID_TTL, u16::MAX, id);
            }
            return Flow::StopList;
        }
        self.key.set_ip_ttl(ttl - 1);
        self.dirty.set_exact(K::IpTtl);
        Flow::Continue
    }

    fn push_mpls(&mut self, ethertype: u16) {
        self.examine_field(Field::EthType);
        self.commit();
        let et = self.key.eth_type();
        let lse = if is_mpls(et) {
            self.pinned.set_exact(K::MplsLabel);
            self.pinned.set_exact(K::MplsTc);
            self.pinned.set_exact(K::MplsTtl);
            (self.key.mpls_label() << 12)
                | (u32::from(self.key.mpls_tc()) << 9)
                | u32::from(self.key.mpls_ttl())
        } else {
            let (label, tc, ttl) = if is_ip(et) {
                self.examine_field(Field::IpDscp);
                self.examine_field(Field::NxNwTtl);
                let ttl = match self.key.ip_ttl() {
                    0 => 64,
                    t => t,
                };
                let label = if et == ETH_TYPE_IPV6 { 2 } else { 0 };
                (label, u32::from(self.key.ip_tos() >> 2) & 7, ttl)
            } else {
                (0, 0, 64)
            };
            (label << 12) | (tc << 9) | (1 << 8) | u32::from(ttl)
        };
        self.emit(DpAction::PushMpls { lse, ethertype });
        for k in [&mut self.key, &mut self.base] {
            clear_l3(k);
            k.set_eth_type(ethertype);
            k.set_mpls_label(lse >> 12);
            k.set_mpls_tc(((lse >> 9) & 7) as u8);
            k.set_mpls_bos(((lse >> 8) & 1) as u8);
            k.set_mpls_ttl(lse as u8);
        }
    }

    fn pop_mpls(&mut self, ethertype: u16) {
        self.examine_field(Field::EthType);
        if !is_mpls(self.key.eth_type()) {
            return;
        }
        self.commit();
        self.emit(DpAction::PopMpls { ethertype });
        for k in [&mut self.key, &mut self.base] {
            clear_l3(k);
            k.set_eth_type(ethertype);
        }
    }

    fn controller(&mut self, reason: u8, max_len: u16, controller_id: u16) {
        self.commit();
        let mut metadata = OxmMatch::default();
        metadata.entries.push(MatchEntry::from_u64(
            Field::InPort,
            u64::from(self.in_port()),
        ));
        for f in PACKET_IN_METADATA {
            let v = self.meta.get(f);
            if v.iter().any(|&b| b != 0) {
                metadata.entries.push(MatchEntry::exact(f, v));
            }
        }
        let userdata = ControllerUserdata {
            reason,
            table_id: self.table,
            controller_id,
            max_len,
            cookie: self.cookie,
            metadata,
        };
        self.note(|| {
            format!(
                "controller(reason={},max_len={max_len},id={controller_id})",
                match reason {
                    OFPR_NO_MATCH => "no_match",
                    OFPR_ACTION => "action",
                    OFPR_INVALID_TTL => "invalid_ttl",
                    _ => "other",
                }
            )
        });
        let packet = self.packet.map(|p| self.packet_so_far(p));
        self.emit(DpAction::Userspace {
            cookie: USERSPACE_CONTROLLER,
            userdata: userdata.encode(),
        });
        self.out.needs_userspace = true;
        self.out.packet_ins.push(PacketIn { userdata, packet });
    }

    /// `packet` after the datapath actions emitted so far.
    fn packet_so_far(&self, packet: &[u8]) -> Vec<u8> {
        struct Capture(Option<Vec<u8>>);
        impl ActionSink<VecPacket> for Capture {
            fn output(&mut self, _: u32, _: VecPacket) {}
            fn userspace(&mut self, _: u64, _: &[u8], pkt: VecPacket, _: &FlowKey) {
                use pmd::actions::PacketBuf;
                self.0 = Some(pkt.data().to_vec());
            }
            fn recirc(&mut self, _: u32, _: VecPacket, _: &FlowKey) {}
            fn drop(&mut self, _: VecPacket) {}
        }
        let mut acts = self.out.actions.clone();
        acts.push(DpAction::Userspace {
            cookie: 0,
            userdata: Vec::new(),
        });
        let mut sink = Capture(None);
        let mut key = self.orig;
        execute(&acts, VecPacket::new(packet), &mut key, &mut sink);
        sink.0.unwrap_or_else(|| packet.to_vec())
    }

    fn group(&mut self, id: u32) {
        let Some(g) = self.ctx.pipeline.group(id) else {
            self.note(|| format!("group:{id} does not exist"));
            return;
        };
        if self.depth >= MAX_RESUBMIT_DEPTH {
            self.error = Some(DropReason::RecursionTooDeep);
            return;
        }
        let hash = if g.group_type == 1 {
            self.select_hash()
        } else {
            0
        };
        let buckets = self.ctx.pipeline.group_buckets(id, hash);
        self.note(|| format!("group:{id} buckets {buckets:?}"));
        self.depth += 1;
        for b in buckets {
            let Some(bucket) = g.buckets.get(b) else {
                continue;
            };
            self.out.groups.push((id, b));
            // Each bucket works on its own copy of the packet.
            let saved = (
                self.key,
                self.meta.clone(),
                self.dirty,
                self.base,
                self.written.clone(),
            );
            // The bucket's actions stay after the outer ones while it runs, so a
            // packet-in inside it sees every rewrite before it.
            let start = self.out.actions.len();
            self.do_actions(&bucket.actions);
            let nested = self.out.actions.split_off(start);
            let rewrites = nested
                .iter()
                .any(|a| !matches!(a, DpAction::Output(_) | DpAction::Userspace { .. }));
            if rewrites {
                self.out.actions.push(DpAction::Clone(nested));
            } else {
                self.out.actions.extend(nested);
            }
            (self.key, self.meta, self.dirty, self.base, self.written) = saved;
        }
        self.depth -= 1;
    }

    /// The select-group hash over L2-L4 addresses; every field it reads is pinned.
    fn select_hash(&mut self) -> u32 {
        let fields = [
            Field::EthSrc,
            Field::EthDst,
            Field::EthType,
            Field::IpProto,
            Field::Ipv4Src,
            Field::Ipv4Dst,
            Field::Ipv6Src,
            Field::Ipv6Dst,
            Field::TcpSrc,
            Field::TcpDst,
            Field::UdpSrc,
            Field::UdpDst,
            Field::SctpSrc,
            Field::SctpDst,
        ];
        let f = self.fields();
        let mut h: u32 = 0x811c_9dc5;
        for fld in fields {
            if f.get(fld).iter().any(|&b| b != 0) || fld == Field::EthType {
                self.examine_field(fld);
            }
            for &b in f.get(fld) {
                h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
            }
        }
        h
    }

    // ----- outputs ------------------------------------------------------------------------

    fn output(&mut self, port: u32, max_len: u16) {
        let in_port = self.in_port();
        match port {
            OFPP_IN_PORT => self.output_port(in_port, true),
            // Counted like a resubmit: a rule that outputs to TABLE must not loop forever.
            OFPP_TABLE => {
                if self.enter_nested() {
                    self.run_table(0, true);
                    self.depth -= 1;
                }
            }
            OFPP_NORMAL => normal::xlate_normal(self),
            OFPP_FLOOD | OFPP_ALL => {
                let flood = port == OFPP_FLOOD;
                let targets: Vec<u32> = self
                    .ctx
                    .pipeline
                    .ports()
                    .into_iter()
                    .filter(|p| p.desc.port_no != in_port)
                    .filter(|p| !flood || p.desc.config & OFPPC_NO_FLOOD == 0)
                    .map(|p| p.desc.port_no)
                    .collect();
                for p in targets {
                    self.output_port(p, false);
                }
            }
            OFPP_CONTROLLER => self.controller(OFPR_ACTION, max_len, 0),
            OFPP_ANY => {}
            OFPP_LOCAL => self.output_port(OFPP_LOCAL, false),
            p if p == in_port => {
                self.note(|| format!("skipping output to input port {p}"));
            }
            p => self.output_port(p, false),
        }
    }

    /// Outputs to a real port (or LOCAL); `allow_in_port` for IN_PORT.
    pub(super) fn output_port(&mut self, port: u32, allow_in_port: bool) {
        if !allow_in_port && port == self.in_port() {
            return;
        }
        let Some(p) = self.ctx.pipeline.port(port) else {
            self.note(|| format!("output to nonexistent port {port}: skipped"));
            return;
        };
        if p.desc.config & OFPPC_NO_FWD != 0 {
            self.note(|| format!("output to port {port} with no_fwd: skipped"));
            return;
        }
        let dp = p.dp_port;
        self.commit();
        self.note(|| format!("output:{}", port::name(port)));
        self.emit(DpAction::Output(dp));
    }

    fn emit(&mut self, a: DpAction) {
        self.out.actions.push(a);
    }

    // ----- commit -------------------------------------------------------------------------

    /// Emits the datapath actions that turn `base` into `key`.
    pub(super) fn commit(&mut self) {
        self.commit_vlans();
        let d = self.dirty;
        self.dirty = FlowMask::default();
        let k = self.key;
        let changed = |f: K| d.get(f) != 0;
        let mut sets = Vec::new();
        if changed(K::EthSrc) {
            sets.push(SetField::EthSrc(k.eth_src()));
        }
        if changed(K::EthDst) {
            sets.push(SetField::EthDst(k.eth_dst()));
        }
        let et = k.eth_type();
        if et == ETH_TYPE_IP {
            if changed(K::Ipv4Src) {
                sets.push(SetField::Ipv4Src(k.ipv4_src()));
            }
            if changed(K::Ipv4Dst) {
                sets.push(SetField::Ipv4Dst(k.ipv4_dst()));
            }
        } else if et == ETH_TYPE_IPV6 {
            if changed(K::Ipv6Src) {
                sets.push(SetField::Ipv6Src(k.ipv6_src()));
            }
            if changed(K::Ipv6Dst) {
                sets.push(SetField::Ipv6Dst(k.ipv6_dst()));
            }
        }
        for s in sets {
            self.emit(DpAction::Set(s));
        }
        if is_ip(et) {
            let v4 = et == ETH_TYPE_IP;
            if changed(K::IpTos) {
                let m = d.ip_tos();
                let (v, mk) = if v4 {
                    (SetField::Ipv4Tos(k.ip_tos()), SetField::Ipv4Tos(m))
                } else {
                    (SetField::Ipv6Tc(k.ip_tos()), SetField::Ipv6Tc(m))
                };
                self.emit(masked(v, mk, m == 0xff));
            }
            if changed(K::IpTtl) {
                self.emit(DpAction::Set(if v4 {
                    SetField::Ipv4Ttl(k.ip_ttl())
                } else {
                    SetField::Ipv6Hlimit(k.ip_ttl())
                }));
            }
            let proto = k.ip_proto();
            for (f, src) in [(K::TpSrc, true), (K::TpDst, false)] {
                if !changed(f) {
                    continue;
                }
                let v = if src { k.tp_src() } else { k.tp_dst() };
                let s = match (proto, src) {
                    (6, true) => SetField::TcpSrc(v),
                    (6, false) => SetField::TcpDst(v),
                    (17, true) => SetField::UdpSrc(v),
                    (17, false) => SetField::UdpDst(v),
                    (132, true) => SetField::SctpSrc(v),
                    _ => SetField::SctpDst(v),
                };
                self.emit(DpAction::Set(s));
            }
        }
        self.base = self.key;
    }

    /// Pops and pushes so the datapath's VLAN stack becomes the key's.
    fn commit_vlans(&mut self) {
        let tags = |k: &FlowKey| {
            let mut v = Vec::new();
            if k.vlan_outer_tpid() != 0 {
                v.push((k.vlan_outer_tpid(), k.vlan_outer_tci()));
                if k.vlan_inner_tpid() != 0 {
                    v.push((k.vlan_inner_tpid(), k.vlan_inner_tci()));
                }
            }
            v
        };
        let (b, k) = (tags(&self.base), tags(&self.key));
        if b == k {
            return;
        }
        if b.len() == k.len() && b[1..] == k[1..] && b[0].0 == k[0].0 {
            self.emit(DpAction::Set(SetField::VlanTci(k[0].1)));
        } else {
            let mut common = 0;
            while common < b.len().min(k.len())
                && b[b.len() - 1 - common] == k[k.len() - 1 - common]
            {
                common += 1;
            }
            for _ in 0..b.len() - common {
                self.emit(DpAction::PopVlan);
            }
            for &(tpid, tci) in k[..k.len() - common].iter().rev() {
                self.emit(DpAction::PushVlan { tpid, tci });
            }
        }
        for f in [
            K::VlanOuterTpid,
            K::VlanOuterTci,
            K::VlanInnerTpid,
            K::VlanInnerTci,
        ] {
            self.base.set(f, self.key.get(f));
        }
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

fn masked(v: SetField, m: SetField, full: bool) -> DpAction {
    if full {
        DpAction::Set(v)
    } else {
        DpAction::SetMasked { value: v, mask: m }
    }
}

fn clear_l3(k: &mut FlowKey) {
    for f in [
        K::IpProto,
        K::IpFrag,
        K::Ipv4Src,
        K::Ipv4Dst,
        K::TpSrc,
        K::TpDst,
        K::TcpFlags,
        K::IpTos,
        K::IpTtl,
        K::Ipv6Src,
        K::Ipv6Dst,
        K::Ipv6Label,
        K::ArpSpa,
        K::ArpTpa,
        K::ArpSha,
        K::ArpOp,
        K::ArpTha,
        K::NdTarget,
        K::NdSll,
        K::NdTll,
        K::MplsLabel,
        K::MplsTc,
        K::MplsBos,
        K::MplsTtl,
    ] {
        k.set(f, 0);
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

fn ofs_nbits_split(ofs_nbits: u16) -> (u32, u32) {
    (u32::from(ofs_nbits >> 6), u32::from(ofs_nbits & 0x3f) + 1)
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
