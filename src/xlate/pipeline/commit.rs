//! Lazy commit: the datapath actions that turn the packet the datapath has (`base`) into
//! the one translation wants (`key`). Field rewrites become `set` (or masked `set` when
//! only some bits changed, so bits the packet brought need not be pinned); the VLAN stack
//! is matched by popping the tags that differ and pushing the wanted ones.

use pmd::actions::{DpAction, SetField};
use pmd::key::{FieldId as K, FlowKey, FlowMask};

use super::super::convert::{is_ip, ETH_TYPE_IP, ETH_TYPE_IPV6};
use super::Xlate;

impl Xlate<'_, '_> {
    /// Emits the datapath actions that turn `base` into `key`.
    pub(in crate::xlate) fn commit(&mut self) {
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
    pub(in crate::xlate) fn commit_vlans(&mut self) {
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
}

fn masked(v: SetField, m: SetField, full: bool) -> DpAction {
    if full {
        DpAction::Set(v)
    } else {
        DpAction::SetMasked { value: v, mask: m }
    }
}
