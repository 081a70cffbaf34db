//! The OpenFlow 1.0 `ofp_match`: a fixed 40-byte structure with a wildcard bitmap.
//!
//! Layout (offsets named in `field`): wildcards, in_port, dl_src, dl_dst, dl_vlan,
//! dl_vlan_pcp, dl_type, nw_tos, nw_proto, nw_src, nw_dst, tp_src, tp_dst. `nw_src`/`nw_dst`
//! are wildcarded by a 6-bit count of low bits to ignore (32 or more ignores all).
//! [`Match10`] keeps every byte so that re-encoding is exact; [`Match10::to_oxm`] gives the
//! same match as an OXM list for code that wants one representation.

use super::error::OfpError;
use super::oxm::{Field, MatchEntry, OxmMatch};
use super::port;
use super::wire::{Put, Reader};

pub const LEN: usize = 40;

pub const OFPFW_IN_PORT: u32 = 1 << 0;
pub const OFPFW_DL_VLAN: u32 = 1 << 1;
pub const OFPFW_DL_SRC: u32 = 1 << 2;
pub const OFPFW_DL_DST: u32 = 1 << 3;
pub const OFPFW_DL_TYPE: u32 = 1 << 4;
pub const OFPFW_NW_PROTO: u32 = 1 << 5;
pub const OFPFW_TP_SRC: u32 = 1 << 6;
pub const OFPFW_TP_DST: u32 = 1 << 7;
pub const OFPFW_NW_SRC_SHIFT: u32 = 8;
pub const OFPFW_NW_DST_SHIFT: u32 = 14;
pub const OFPFW_DL_VLAN_PCP: u32 = 1 << 20;
pub const OFPFW_NW_TOS: u32 = 1 << 21;
pub const OFPFW_ALL: u32 = (1 << 22) - 1;
/// `dl_vlan` value meaning "no VLAN header".
pub const OFP_VLAN_NONE: u16 = 0xffff;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Match10 {
    pub wildcards: u32,
    pub in_port: u16,
    pub dl_src: [u8; 6],
    pub dl_dst: [u8; 6],
    pub dl_vlan: u16,
    pub dl_vlan_pcp: u8,
    pub dl_type: u16,
    pub nw_tos: u8,
    pub nw_proto: u8,
    pub nw_src: [u8; 4],
    pub nw_dst: [u8; 4],
    pub tp_src: u16,
    pub tp_dst: u16,
}

impl Default for Match10 {
    /// Matches everything.
    fn default() -> Self {
        Match10 {
            wildcards: OFPFW_ALL,
            in_port: 0,
            dl_src: [0; 6],
            dl_dst: [0; 6],
            dl_vlan: 0,
            dl_vlan_pcp: 0,
            dl_type: 0,
            nw_tos: 0,
            nw_proto: 0,
            nw_src: [0; 4],
            nw_dst: [0; 4],
            tp_src: 0,
            tp_dst: 0,
        }
    }
}

impl Match10 {
    pub fn parse(r: &mut Reader<'_>) -> Result<Match10, OfpError> {
        let wildcards = r.u32()?;
        let in_port = r.u16()?;
        let dl_src = r.array()?;
        let dl_dst = r.array()?;
        let dl_vlan = r.u16()?;
        let dl_vlan_pcp = r.u8()?;
        r.skip(1)?;
        let dl_type = r.u16()?;
        let nw_tos = r.u8()?;
        let nw_proto = r.u8()?;
        r.skip(2)?;
        Ok(Match10 {
            wildcards,
            in_port,
            dl_src,
            dl_dst,
            dl_vlan,
            dl_vlan_pcp,
            dl_type,
            nw_tos,
            nw_proto,
            nw_src: r.array()?,
            nw_dst: r.array()?,
            tp_src: r.u16()?,
            tp_dst: r.u16()?,
        })
    }

    pub fn emit(&self, out: &mut Vec<u8>) {
        out.put_u32(self.wildcards);
        out.put_u16(self.in_port);
        out.extend_from_slice(&self.dl_src);
        out.extend_from_slice(&self.dl_dst);
        out.put_u16(self.dl_vlan);
        out.put_u8(self.dl_vlan_pcp);
        out.put_u8(0);
        out.put_u16(self.dl_type);
        out.put_u8(self.nw_tos);
        out.put_u8(self.nw_proto);
        out.put_zeros(2);
        out.extend_from_slice(&self.nw_src);
        out.extend_from_slice(&self.nw_dst);
        out.put_u16(self.tp_src);
        out.put_u16(self.tp_dst);
    }

    fn wild(&self, bit: u32) -> bool {
        self.wildcards & bit != 0
    }

    /// Number of significant prefix bits of nw_src (`shift` 8) or nw_dst (`shift` 14).
    pub fn nw_prefix(&self, shift: u32) -> u32 {
        let ignored = ((self.wildcards >> shift) & 0x3f).min(32);
        32 - ignored
    }

    /// The same match as OXM entries, in prerequisite order. Fields whose prerequisites the
    /// match does not meet are left out, as Open vSwitch ignores them.
    pub fn to_oxm(&self) -> OxmMatch {
        let mut m = OxmMatch::default();
        let mut push = |e: MatchEntry| {
            // Entries are built in prerequisite order; a rejected one is a field OVS ignores.
            let _ = m.push_checked(e);
        };
        if !self.wild(OFPFW_IN_PORT) {
            push(MatchEntry::from_u64(
                Field::InPort,
                u64::from(port::from_of10(self.in_port)),
            ));
        }
        if !self.wild(OFPFW_DL_DST) {
            push(MatchEntry::exact(Field::EthDst, &self.dl_dst));
        }
        if !self.wild(OFPFW_DL_SRC) {
            push(MatchEntry::exact(Field::EthSrc, &self.dl_src));
        }
        if !self.wild(OFPFW_DL_TYPE) {
            push(MatchEntry::from_u64(
                Field::EthType,
                u64::from(self.dl_type),
            ));
        }
        if !self.wild(OFPFW_DL_VLAN) {
            if self.dl_vlan == OFP_VLAN_NONE {
                push(MatchEntry::from_u64(Field::VlanVid, 0));
            } else {
                push(MatchEntry::from_u64(
                    Field::VlanVid,
                    u64::from((self.dl_vlan & 0xfff) | 0x1000),
                ));
            }
        }
        if !self.wild(OFPFW_DL_VLAN_PCP) {
            if self.wild(OFPFW_DL_VLAN) {
                push(MatchEntry::masked(Field::VlanVid, &[0x10, 0], &[0x10, 0]));
            }
            push(MatchEntry::from_u64(
                Field::VlanPcp,
                u64::from(self.dl_vlan_pcp),
            ));
        }
        if !self.wild(OFPFW_NW_TOS) {
            push(MatchEntry::from_u64(
                Field::IpDscp,
                u64::from(self.nw_tos >> 2),
            ));
        }
        if !self.wild(OFPFW_NW_PROTO) {
            let f = if self.dl_type == 0x0806 {
                Field::ArpOp
            } else {
                Field::IpProto
            };
            push(MatchEntry::from_u64(f, u64::from(self.nw_proto)));
        }
        for (shift, addr, ipf, arpf) in [
            (
                OFPFW_NW_SRC_SHIFT,
                self.nw_src,
                Field::Ipv4Src,
                Field::ArpSpa,
            ),
            (
                OFPFW_NW_DST_SHIFT,
                self.nw_dst,
                Field::Ipv4Dst,
                Field::ArpTpa,
            ),
        ] {
            let bits = self.nw_prefix(shift);
            if bits > 0 {
                let f = if self.dl_type == 0x0806 { arpf } else { ipf };
                let mask = (u32::MAX << (32 - bits)).to_be_bytes();
                if bits == 32 {
                    push(MatchEntry::exact(f, &addr));
                } else {
                    push(MatchEntry::masked(f, &addr, &mask));
                }
            }
        }
        let (src, dst) = match self.nw_proto {
            17 => (Field::UdpSrc, Field::UdpDst),
            1 => (Field::Icmpv4Type, Field::Icmpv4Code),
            132 => (Field::SctpSrc, Field::SctpDst),
            _ => (Field::TcpSrc, Field::TcpDst),
        };
        if !self.wild(OFPFW_TP_SRC) {
            push(MatchEntry::from_u64(src, u64::from(self.tp_src)));
        }
        if !self.wild(OFPFW_TP_DST) {
            push(MatchEntry::from_u64(dst, u64::from(self.tp_dst)));
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_oxm_view() {
        // in_port=1, dl_type=0x0800, nw_src=10.0.0.0/8 (24 bits ignored), everything else wild.
        let wild = OFPFW_ALL & !OFPFW_IN_PORT & !OFPFW_DL_TYPE & !(0x3f << 8) | (24 << 8);
        let mut b = Vec::new();
        b.put_u32(wild);
        b.put_u16(1);
        b.put_zeros(16);
        b.put_u16(0x0800);
        b.put_zeros(4);
        b.extend_from_slice(&[10, 0, 0, 0]);
        b.put_zeros(8);
        assert_eq!(b.len(), LEN);
        let m = Match10::parse(&mut Reader::new(&b, OfpError::OFPBRC_BAD_LEN)).unwrap();
        let mut out = Vec::new();
        m.emit(&mut out);
        assert_eq!(out, b);
        let oxm = m.to_oxm();
        let fields: Vec<Field> = oxm.entries.iter().map(|e| e.field).collect();
        assert_eq!(fields, [Field::InPort, Field::EthType, Field::Ipv4Src]);
        assert_eq!(oxm.entries[2].mask_bytes(), Some(&[255u8, 0, 0, 0][..]));
    }
}
