//! A flow match keyed by field meaning, as Open vSwitch holds it internally.
//!
//! Each matched field has a value and a mask of the field's width (all ones when exact).
//! VLAN matching is kept as an 802.1Q TCI (`vlan_tci`, with the CFI bit meaning "a VLAN
//! header is present"), which is how both OpenFlow 1.0's `dl_vlan`/`dl_vlan_pcp` and OXM's
//! `vlan_vid`/`vlan_pcp` are printed.

use crate::ofp::match10::{self, Match10};
use crate::ofp::oxm::{Field, MatchEntry, OxmMatch};
use crate::ofp::port;

/// A field value or mask: up to 16 bytes, big-endian, `len` significant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bytes {
    pub len: u8,
    pub b: [u8; 16],
}

impl Bytes {
    pub fn new(v: &[u8]) -> Bytes {
        let mut b = [0u8; 16];
        let n = v.len().min(16);
        b[..n].copy_from_slice(&v[..n]);
        Bytes { len: n as u8, b }
    }

    pub fn from_u64(v: u64, len: usize) -> Bytes {
        let all = v.to_be_bytes();
        let len = len.min(8);
        Bytes::new(&all[8 - len..])
    }

    pub fn ones(len: usize) -> Bytes {
        Bytes::new(&[0xff; 16][..len.min(16)])
    }

    pub fn as_slice(&self) -> &[u8] {
        &self.b[..usize::from(self.len)]
    }

    pub fn u64(&self) -> u64 {
        self.as_slice()
            .iter()
            .fold(0, |a, &x| (a << 8) | u64::from(x))
    }

    pub fn is_ones(&self) -> bool {
        self.as_slice().iter().all(|&x| x == 0xff)
    }

    pub fn is_zero(&self) -> bool {
        self.as_slice().iter().all(|&x| x == 0)
    }
}

/// One matched field: value and mask (all ones when exact).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldMatch {
    pub value: Bytes,
    pub mask: Bytes,
}

/// A match keyed by canonical field. `vlan_tci` replaces `VlanVid`/`VlanPcp`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FlowFields {
    pub fields: Vec<(Field, FieldMatch)>,
    pub vlan_tci: Option<(u16, u16)>,
}

impl FlowFields {
    pub fn get(&self, f: Field) -> Option<&FieldMatch> {
        self.fields.iter().find(|(g, _)| *g == f).map(|(_, m)| m)
    }

    pub fn exact_u64(&self, f: Field) -> Option<u64> {
        self.get(f)
            .filter(|m| m.mask.is_ones())
            .map(|m| m.value.u64())
    }

    pub fn set(&mut self, f: Field, value: Bytes, mask: Bytes) {
        let m = FieldMatch { value, mask };
        if let Some(slot) = self.fields.iter_mut().find(|(g, _)| *g == f) {
            slot.1 = m;
        } else {
            self.fields.push((f, m));
        }
    }

    pub fn set_u64(&mut self, f: Field, v: u64) {
        let n = f.len();
        self.set(f, Bytes::from_u64(v, n), Bytes::ones(n));
    }

    pub fn remove(&mut self, f: Field) {
        self.fields.retain(|(g, _)| *g != f);
    }

    pub fn eth_type(&self) -> Option<u16> {
        self.exact_u64(Field::EthType).map(|v| v as u16)
    }

    pub fn ip_proto(&self) -> Option<u8> {
        self.exact_u64(Field::IpProto).map(|v| v as u8)
    }

    fn or_vlan(&mut self, value: u16, mask: u16) {
        let (v, m) = self.vlan_tci.unwrap_or((0, 0));
        self.vlan_tci = Some((v | (value & mask), m | mask));
    }

    /// From OXM/NXM entries.
    pub fn from_oxm(m: &OxmMatch) -> FlowFields {
        let mut f = FlowFields::default();
        for e in &m.entries {
            f.add_entry(e);
        }
        f
    }

    fn add_entry(&mut self, e: &MatchEntry) {
        let n = e.field.len();
        let value = Bytes::new(e.value());
        let mask = e.mask_bytes().map_or_else(|| Bytes::ones(n), Bytes::new);
        match e.field.canonical() {
            Field::VlanVid if e.field == Field::NxmVlanTci => {
                self.or_vlan(value.u64() as u16, mask.u64() as u16)
            }
            Field::VlanVid => {
                // OXM VID with the "present" bit, which lands on the TCI's CFI bit.
                let v = value.u64() as u16 & 0x1fff;
                let m = mask.u64() as u16 & 0x1fff;
                self.or_vlan(v, m);
            }
            Field::VlanPcp => {
                self.or_vlan(((value.u64() as u16) << 13) | 0x1000, 0xe000 | 0x1000);
            }
            Field::IpDscp if e.field == Field::IpDscp => {
                // OXM ip_dscp is the 6-bit DSCP; OVS keeps the TOS byte.
                self.set(
                    Field::IpDscp,
                    Bytes::from_u64(value.u64() << 2, 1),
                    Bytes::new(&[0xfc]),
                );
            }
            Field::IpDscp => self.set(Field::IpDscp, value, Bytes::new(&[0xfc])),
            Field::InPort => {
                // NXM in_port is 16-bit; keep every port in the 32-bit space.
                let p = if e.field == Field::NxmInPort {
                    port::from_of10(value.u64() as u16)
                } else {
                    value.u64() as u32
                };
                self.set_u64(Field::InPort, u64::from(p));
            }
            Field::Xreg0
            | Field::Xreg1
            | Field::Xreg2
            | Field::Xreg3
            | Field::Xreg4
            | Field::Xreg5
            | Field::Xreg6
            | Field::Xreg7 => {
                // A 64-bit register is two 32-bit ones: high half first.
                let x = e.field as usize - Field::Xreg0 as usize;
                let (v, m) = (value.u64(), mask.u64());
                for (i, shift) in [(2 * x, 32), (2 * x + 1, 0)] {
                    if let Some(r) = Field::reg(i as u8) {
                        let rm = (m >> shift) as u32;
                        if rm != 0 {
                            self.set(
                                r,
                                Bytes::from_u64((v >> shift) & 0xffff_ffff, 4),
                                Bytes::from_u64(u64::from(rm), 4),
                            );
                        }
                    }
                }
            }
            c => self.set(c, value, mask),
        }
    }

    /// From an OpenFlow 1.0 match, as Open vSwitch reads one.
    pub fn from_match10(m: &Match10) -> FlowFields {
        let mut f = FlowFields::default();
        let w = |bit: u32| m.wildcards & bit != 0;
        if !w(match10::OFPFW_IN_PORT) {
            f.set_u64(Field::InPort, u64::from(port::from_of10(m.in_port)));
        }
        if !w(match10::OFPFW_DL_SRC) {
            f.set(Field::EthSrc, Bytes::new(&m.dl_src), Bytes::ones(6));
        }
        if !w(match10::OFPFW_DL_DST) {
            f.set(Field::EthDst, Bytes::new(&m.dl_dst), Bytes::ones(6));
        }
        if !w(match10::OFPFW_DL_VLAN) {
            if m.dl_vlan == match10::OFP_VLAN_NONE {
                f.vlan_tci = Some((0, 0xffff));
            } else {
                f.or_vlan((m.dl_vlan & 0xfff) | 0x1000, 0x1fff);
                if !w(match10::OFPFW_DL_VLAN_PCP) {
                    f.or_vlan(u16::from(m.dl_vlan_pcp) << 13, 0xe000);
                }
            }
        } else if !w(match10::OFPFW_DL_VLAN_PCP) {
            f.or_vlan((u16::from(m.dl_vlan_pcp) << 13) | 0x1000, 0xf000);
        }
        if !w(match10::OFPFW_DL_TYPE) {
            f.set_u64(Field::EthType, u64::from(m.dl_type));
        }
        let ip = m.dl_type == 0x0800 && !w(match10::OFPFW_DL_TYPE);
        let arp = m.dl_type == 0x0806 && !w(match10::OFPFW_DL_TYPE);
        if ip || arp {
            for (shift, addr, ipf, arpf) in [
                (
                    match10::OFPFW_NW_SRC_SHIFT,
                    m.nw_src,
                    Field::Ipv4Src,
                    Field::ArpSpa,
                ),
                (
                    match10::OFPFW_NW_DST_SHIFT,
                    m.nw_dst,
                    Field::Ipv4Dst,
                    Field::ArpTpa,
                ),
            ] {
                let bits = m.nw_prefix(shift);
                if bits > 0 {
                    let mask = u32::MAX << (32 - bits);
                    let v = u32::from_be_bytes(addr) & mask;
                    f.set(
                        if ip { ipf } else { arpf },
                        Bytes::from_u64(u64::from(v), 4),
                        Bytes::from_u64(u64::from(mask), 4),
                    );
                }
            }
            if !w(match10::OFPFW_NW_PROTO) {
                if ip {
                    f.set_u64(Field::IpProto, u64::from(m.nw_proto));
                } else {
                    f.set_u64(Field::ArpOp, u64::from(m.nw_proto));
                }
            }
        }
        if ip {
            if !w(match10::OFPFW_NW_TOS) {
                f.set(
                    Field::IpDscp,
                    Bytes::new(&[m.nw_tos & 0xfc]),
                    Bytes::new(&[0xfc]),
                );
            }
            if !w(match10::OFPFW_NW_PROTO) {
                let (src, dst) = match m.nw_proto {
                    1 => (Field::Icmpv4Type, Field::Icmpv4Code),
                    6 => (Field::TcpSrc, Field::TcpDst),
                    17 => (Field::UdpSrc, Field::UdpDst),
                    132 => (Field::SctpSrc, Field::SctpDst),
                    _ => return f,
                };
                let n = src.len();
                if !w(match10::OFPFW_TP_SRC) {
                    f.set(src, Bytes::from_u64(u64::from(m.tp_src), n), Bytes::ones(n));
                }
                if !w(match10::OFPFW_TP_DST) {
                    f.set(dst, Bytes::from_u64(u64::from(m.tp_dst), n), Bytes::ones(n));
                }
            }
        }
        f
    }
}
