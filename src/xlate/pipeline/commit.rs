//! Lazy commit: the datapath actions that turn the packet the datapath has (`base`) into
//! the one translation wants (`key`). Field rewrites become `set` (or masked `set` when
//! only some bits changed, so bits the packet brought need not be pinned); the VLAN stack
//! is matched by popping the tags that differ and pushing the wanted ones.

use pmd::actions::{DpAction, SetField};
use pmd::key::{FieldId as K, FieldValue, FlowKey, FlowMask};

use super::super::convert::{is_ip, ETH_TYPE_IP, ETH_TYPE_IPV6};
use super::Xlate;

impl Xlate<'_, '_> {
    /// Emits the datapath actions that turn `base` into `key`.
    pub(in crate::xlate) fn commit(&mut self) {
        self.commit_vlans();
        let d = self.dirty;
        self.dirty = FlowMask::default();
        self.commit_field(&d, K::EthSrc, |v| {
            SetField::EthSrc(FieldValue::from_bits(v))
        });
        self.commit_field(&d, K::EthDst, |v| {
            SetField::EthDst(FieldValue::from_bits(v))
        });
        let et = self.key.eth_type();
        if et == ETH_TYPE_IP {
            self.commit_field(&d, K::Ipv4Src, |v| {
                SetField::Ipv4Src(FieldValue::from_bits(v))
            });
            self.commit_field(&d, K::Ipv4Dst, |v| {
                SetField::Ipv4Dst(FieldValue::from_bits(v))
            });
            self.commit_field(&d, K::IpTos, |v| SetField::Ipv4Tos(v as u8));
            self.commit_field(&d, K::IpTtl, |v| SetField::Ipv4Ttl(v as u8));
        } else if et == ETH_TYPE_IPV6 {
            self.commit_field(&d, K::Ipv6Src, |v| {
                SetField::Ipv6Src(FieldValue::from_bits(v))
            });
            self.commit_field(&d, K::Ipv6Dst, |v| {
                SetField::Ipv6Dst(FieldValue::from_bits(v))
            });
            self.commit_field(&d, K::IpTos, |v| SetField::Ipv6Tc(v as u8));
            self.commit_field(&d, K::IpTtl, |v| SetField::Ipv6Hlimit(v as u8));
        }
        if is_ip(et) {
            let proto = self.key.ip_proto();
            let port = move |src: bool, v: u16| match (proto, src) {
                (6, true) => SetField::TcpSrc(v),
                (6, false) => SetField::TcpDst(v),
                (17, true) => SetField::UdpSrc(v),
                (17, false) => SetField::UdpDst(v),
                (_, true) => SetField::SctpSrc(v),
                (_, false) => SetField::SctpDst(v),
            };
            self.commit_field(&d, K::TpSrc, |v| port(true, v as u16));
            self.commit_field(&d, K::TpDst, |v| port(false, v as u16));
        }
        self.base = self.key;
    }

    /// Emits a `set` of field `f` when `dirty` has bits of it: whole when every bit was
    /// written, masked otherwise (the other bits are the packet's own and stay as they are).
    fn commit_field(&mut self, dirty: &FlowMask, f: K, make: impl Fn(u128) -> SetField) {
        let bits = dirty.get(f);
        if bits == 0 {
            return;
        }
        let v = self.key.get(f);
        self.emit(if dirty.is_exact(f) {
            DpAction::Set(make(v))
        } else {
            DpAction::SetMasked {
                value: make(v & bits),
                mask: make(bits),
            }
        });
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
