//! The OpenFlow actions: outputs, rewrites, push/pop, groups, packet-ins.

use pmd::actions::{execute, ActionSink, DpAction, VecPacket};
use pmd::key::{FieldId as K, FlowKey};

use super::super::convert::{is_ip, is_mpls, ETH_TYPE_IPV6, ETH_TYPE_VLAN};
use super::super::freeze::{Frozen, FrozenSegment};
use super::super::{
    normal, ControllerUserdata, DropReason, PacketIn, MAX_RESUBMIT_DEPTH, OFPPC_NO_FLOOD,
    OFPPC_NO_FWD, OFPPC_PORT_DOWN, OFPR_ACTION, OFPR_INVALID_TTL, OFPR_NO_MATCH,
};
use super::{Flow, Freezing, Xlate, PACKET_IN_METADATA};
use crate::ofp::action::Controller2Prop;
use crate::ofp::oxm::Field;
use crate::ofp::port::{
    self, OFPP_ALL, OFPP_ANY, OFPP_CONTROLLER, OFPP_FLOOD, OFPP_IN_PORT, OFPP_LOCAL, OFPP_NORMAL,
    OFPP_TABLE,
};
use crate::ofp::{Action, Instruction, MatchEntry, OxmMatch};

impl Xlate<'_, '_> {
    pub(in crate::xlate) fn do_actions(&mut self, actions: &[Action]) -> Flow {
        for (i, a) in actions.iter().enumerate() {
            if self.stopped().is_some() {
                return Flow::Continue;
            }
            let flow = self.do_action(a);
            // A pause below (or this action): this level's rest is frozen, in the context
            // of the rule it belongs to, after the levels inside it.
            if let Some(f) = &mut self.freezing {
                f.frozen.segments.push(FrozenSegment {
                    table_id: self.table,
                    cookie: self.cookie,
                    actions: actions[i + 1..].to_vec(),
                    instructions: Vec::new(),
                });
                return Flow::Continue;
            }
            if flow == Flow::StopList {
                return Flow::StopList;
            }
        }
        Flow::Continue
    }

    /// Freezes a rule's instructions that had not run when its apply-actions paused; they
    /// belong to the segment its apply-actions just froze.
    pub(in crate::xlate) fn freeze_instructions(&mut self, instructions: &[Instruction]) {
        let pending: Vec<Instruction> = instructions
            .iter()
            .filter(|i| !matches!(i, Instruction::ApplyActions(_) | Instruction::Meter(_)))
            .cloned()
            .collect();
        if let Some(seg) = self
            .freezing
            .as_mut()
            .and_then(|f| f.frozen.segments.last_mut())
        {
            seg.instructions = pending;
        }
    }

    pub(in crate::xlate) fn do_action(&mut self, a: &Action) -> Flow {
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
                let (mut userdata, mut pause) = (None, false);
                for p in props {
                    match p {
                        Controller2Prop::MaxLen(m) => max_len = *m,
                        Controller2Prop::ControllerId(c) => id = *c,
                        Controller2Prop::Reason(r) => reason = *r,
                        Controller2Prop::Userdata(u) => userdata = Some(u.clone()),
                        Controller2Prop::Pause => pause = true,
                        Controller2Prop::MeterId(_) => {}
                    }
                }
                if pause && self.no_freeze == 0 {
                    self.pause(reason, max_len, id, userdata);
                } else {
                    self.controller_with(reason, max_len, id, userdata);
                }
            }
        }
        Flow::Continue
    }

    pub(in crate::xlate) fn dec_ttl(&mut self, ids: &[u16]) -> Flow {
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

    pub(in crate::xlate) fn push_mpls(&mut self, ethertype: u16) {
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

    pub(in crate::xlate) fn pop_mpls(&mut self, ethertype: u16) {
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

    pub(in crate::xlate) fn controller(&mut self, reason: u8, max_len: u16, controller_id: u16) {
        self.controller_with(reason, max_len, controller_id, None);
    }

    /// The packet-in's fields for the current state, after committing the rewrites so far.
    fn controller_userdata(
        &mut self,
        reason: u8,
        max_len: u16,
        controller_id: u16,
        userdata: Option<Vec<u8>>,
    ) -> ControllerUserdata {
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
            userdata,
            continuation: None,
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
        userdata
    }

    fn controller_with(
        &mut self,
        reason: u8,
        max_len: u16,
        controller_id: u16,
        userdata: Option<Vec<u8>>,
    ) {
        let userdata = self.controller_userdata(reason, max_len, controller_id, userdata);
        let packet = self.packet.map(|p| self.packet_so_far(p));
        self.emit_controller(userdata, packet);
    }

    fn emit_controller(&mut self, userdata: ControllerUserdata, packet: Option<Vec<u8>>) {
        self.emit(DpAction::Userspace {
            cookie: userdata.cookie(),
            userdata: userdata.encode(),
        });
        self.out.needs_userspace = true;
        self.out.packet_ins.push(PacketIn { userdata, packet });
    }

    /// `controller(pause)`: the packet-in is taken now, with the rewrites so far; the
    /// levels above freeze their rest as they unwind, and [`Xlate::emit_pause`] sends it.
    fn pause(&mut self, reason: u8, max_len: u16, controller_id: u16, userdata: Option<Vec<u8>>) {
        let userdata = self.controller_userdata(reason, max_len, controller_id, userdata);
        let packet = self.packet.map(|p| self.packet_so_far(p));
        self.note(|| "pause: the rest of the pipeline is frozen".into());
        self.freezing = Some(Freezing {
            userdata,
            packet,
            frozen: Frozen::default(),
        });
    }

    /// Emits the controller action of a pause once every level has frozen its rest. Nothing
    /// ran after the pause, so the action lands where the pause was.
    pub(in crate::xlate) fn emit_pause(&mut self, f: Freezing) {
        let Freezing {
            mut userdata,
            packet,
            mut frozen,
        } = f;
        frozen.action_set = std::mem::take(&mut self.action_set);
        match frozen.encode() {
            Ok(bytes) => {
                userdata.continuation = Some(bytes);
                self.emit_controller(userdata, packet);
            }
            Err(_) => self.unsupported("pause with actions that cannot be encoded"),
        }
    }

    /// `packet` after the datapath actions emitted so far.
    pub(in crate::xlate) fn packet_so_far(&self, packet: &[u8]) -> Vec<u8> {
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

    pub(in crate::xlate) fn group(&mut self, id: u32) {
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
        self.no_freeze += 1;
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
        self.no_freeze -= 1;
        self.depth -= 1;
    }

    /// The select-group hash over L2-L4 addresses; every field it reads is pinned.
    pub(in crate::xlate) fn select_hash(&mut self) -> u32 {
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
            // Every hashed field matters, zero or not; those this packet lacks (an IPv6
            // address of an IPv4 packet) leave the mask again in `wc_to_mask`.
            self.examine_field(fld);
            for &b in f.get(fld) {
                h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
            }
        }
        h
    }

    // ----- outputs ------------------------------------------------------------------------

    pub(in crate::xlate) fn output(&mut self, port: u32, max_len: u16) {
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
    pub(in crate::xlate) fn output_port(&mut self, port: u32, allow_in_port: bool) {
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
        if p.desc.config & OFPPC_PORT_DOWN != 0 {
            self.note(|| format!("output to port {port}, which is down: skipped"));
            return;
        }
        let dp = p.dp_port;
        self.commit();
        self.note(|| format!("output:{}", port::name(port)));
        self.emit(DpAction::Output(dp));
    }

    pub(in crate::xlate) fn emit(&mut self, a: DpAction) {
        self.out.actions.push(a);
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

fn ofs_nbits_split(ofs_nbits: u16) -> (u32, u32) {
    (u32::from(ofs_nbits >> 6), u32::from(ofs_nbits & 0x3f) + 1)
}
