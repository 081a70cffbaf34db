//! OXM / NXM match fields: the type-length-value match of OpenFlow 1.2+ and Nicira's NXM.
//!
//! Vocabulary: an *OXM header* is 32 bits: class (16), field (7), has-mask (1), length (8).
//! Experimenter OXMs (class `0xffff`) add a 32-bit experimenter id. A [`MatchEntry`] is one
//! field with its value and optional mask; an [`OxmMatch`] is the ordered list of entries as
//! it travels on the wire (order is kept so that re-encoding gives the same bytes).
//!
//! Decoding checks what Open vSwitch checks, in the order it does, and reports the same error:
//! a short header or payload is `OFPBMC_BAD_LEN`; an unknown (class, field, length) is
//! `OFPBMC_BAD_FIELD`; value bits outside the mask are `OFPBMC_BAD_WILDCARDS`; an out-of-range
//! value is `OFPBMC_BAD_VALUE`; a partial mask on a field that cannot be masked is
//! `OFPBMC_BAD_MASK`; a field whose prerequisites (exact matches on fields earlier in the
//! list) are missing is `OFPBMC_BAD_PREREQ`; a field given twice is `OFPBMC_DUP_FIELD`.
//!
//! Entries hold their bytes inline (16 bytes for value and mask), so decoding a match
//! allocates once for the list and never per field.

use super::error::OfpError;
use super::wire::{Put, Reader};

/// OXM class of the OpenFlow basic fields.
pub const OFPXMC_OPENFLOW_BASIC: u16 = 0x8000;
/// OXM class of OVS's 64-bit packet registers (`xreg0`..`xreg7`).
pub const OFPXMC_PACKET_REGS: u16 = 0x8001;
/// NXM class 0 (`NXM_OF_*`) and 1 (`NXM_NX_*`).
pub const NXM_OF: u16 = 0x0000;
pub const NXM_NX: u16 = 0x0001;
/// Experimenter OXM class.
pub const OFPXMC_EXPERIMENTER: u16 = 0xffff;
/// The ONF experimenter id, used by OpenFlow 1.3's `tcp_flags` extension.
pub const ONF_EXPERIMENTER: u32 = 0x4f4e_4600;

/// What must already be matched exactly before a field may appear.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prereq {
    None,
    InPort,
    Vlan,
    Ip,
    Ipv4,
    Ipv6,
    Arp,
    Tcp,
    Udp,
    Sctp,
    Icmpv4,
    Icmpv6,
    NdSolicit,
    NdAdvert,
    Nd,
    Mpls,
    Pbb,
}

/// Static facts about one field.
#[derive(Debug, Clone, Copy)]
pub struct FieldInfo {
    pub field: Field,
    /// OXM/NXM class.
    pub class: u16,
    /// Field number within the class.
    pub code: u8,
    /// For experimenter OXMs, the experimenter id.
    pub experimenter: Option<u32>,
    /// Value width in bytes.
    pub len: u8,
    pub maskable: bool,
    pub prereq: Prereq,
    /// The name `ovs-ofctl` uses in set_field and NXM syntax.
    pub name: &'static str,
}

macro_rules! fields {
    ($($var:ident = ($class:expr, $code:expr, $exp:expr, $len:expr, $mask:expr, $pre:ident, $name:expr);)*) => {
        /// Every match field the codec knows.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Field {
            $($var,)*
        }

        /// The field table, indexed by `Field as usize`.
        pub const FIELDS: &[FieldInfo] = &[
            $(FieldInfo {
                field: Field::$var,
                class: $class,
                code: $code,
                experimenter: $exp,
                len: $len,
                maskable: $mask,
                prereq: Prereq::$pre,
                name: $name,
            },)*
        ];
    };
}

const B: u16 = OFPXMC_OPENFLOW_BASIC;
const M: bool = true;
const N: bool = false;

fields! {
    InPort = (B, 0, None, 4, N, None, "in_port");
    InPhyPort = (B, 1, None, 4, N, InPort, "in_phy_port");
    Metadata = (B, 2, None, 8, M, None, "metadata");
    EthDst = (B, 3, None, 6, M, None, "eth_dst");
    EthSrc = (B, 4, None, 6, M, None, "eth_src");
    EthType = (B, 5, None, 2, N, None, "eth_type");
    VlanVid = (B, 6, None, 2, M, None, "vlan_vid");
    VlanPcp = (B, 7, None, 1, N, Vlan, "vlan_pcp");
    IpDscp = (B, 8, None, 1, N, Ip, "ip_dscp");
    IpEcn = (B, 9, None, 1, N, Ip, "nw_ecn");
    IpProto = (B, 10, None, 1, N, Ip, "nw_proto");
    Ipv4Src = (B, 11, None, 4, M, Ipv4, "ip_src");
    Ipv4Dst = (B, 12, None, 4, M, Ipv4, "ip_dst");
    TcpSrc = (B, 13, None, 2, M, Tcp, "tcp_src");
    TcpDst = (B, 14, None, 2, M, Tcp, "tcp_dst");
    UdpSrc = (B, 15, None, 2, M, Udp, "udp_src");
    UdpDst = (B, 16, None, 2, M, Udp, "udp_dst");
    SctpSrc = (B, 17, None, 2, M, Sctp, "sctp_src");
    SctpDst = (B, 18, None, 2, M, Sctp, "sctp_dst");
    Icmpv4Type = (B, 19, None, 1, N, Icmpv4, "icmp_type");
    Icmpv4Code = (B, 20, None, 1, N, Icmpv4, "icmp_code");
    ArpOp = (B, 21, None, 2, N, Arp, "arp_op");
    ArpSpa = (B, 22, None, 4, M, Arp, "arp_spa");
    ArpTpa = (B, 23, None, 4, M, Arp, "arp_tpa");
    ArpSha = (B, 24, None, 6, M, Arp, "arp_sha");
    ArpTha = (B, 25, None, 6, M, Arp, "arp_tha");
    Ipv6Src = (B, 26, None, 16, M, Ipv6, "ipv6_src");
    Ipv6Dst = (B, 27, None, 16, M, Ipv6, "ipv6_dst");
    Ipv6Flabel = (B, 28, None, 4, M, Ipv6, "ipv6_label");
    Icmpv6Type = (B, 29, None, 1, N, Icmpv6, "icmpv6_type");
    Icmpv6Code = (B, 30, None, 1, N, Icmpv6, "icmpv6_code");
    Ipv6NdTarget = (B, 31, None, 16, M, Nd, "nd_target");
    Ipv6NdSll = (B, 32, None, 6, M, NdSolicit, "nd_sll");
    Ipv6NdTll = (B, 33, None, 6, M, NdAdvert, "nd_tll");
    MplsLabel = (B, 34, None, 4, N, Mpls, "mpls_label");
    MplsTc = (B, 35, None, 1, N, Mpls, "mpls_tc");
    MplsBos = (B, 36, None, 1, N, Mpls, "mpls_bos");
    PbbIsid = (B, 37, None, 3, M, Pbb, "pbb_isid");
    TunnelId = (B, 38, None, 8, M, None, "tun_id");
    Ipv6Exthdr = (B, 39, None, 2, M, Ipv6, "ipv6_exthdr");
    PbbUca = (B, 40, None, 1, N, Pbb, "pbb_uca");
    TcpFlags = (B, 42, None, 2, M, Tcp, "tcp_flags");
    ActsetOutput = (B, 43, None, 4, N, None, "actset_output");
    PacketType = (B, 44, None, 4, N, None, "packet_type");
    OnfTcpFlags = (OFPXMC_EXPERIMENTER, 42, Some(ONF_EXPERIMENTER), 2, M, Tcp, "tcp_flags");
    Reg0 = (NXM_NX, 0, None, 4, M, None, "reg0");
    Reg1 = (NXM_NX, 1, None, 4, M, None, "reg1");
    Reg2 = (NXM_NX, 2, None, 4, M, None, "reg2");
    Reg3 = (NXM_NX, 3, None, 4, M, None, "reg3");
    Reg4 = (NXM_NX, 4, None, 4, M, None, "reg4");
    Reg5 = (NXM_NX, 5, None, 4, M, None, "reg5");
    Reg6 = (NXM_NX, 6, None, 4, M, None, "reg6");
    Reg7 = (NXM_NX, 7, None, 4, M, None, "reg7");
    Reg8 = (NXM_NX, 8, None, 4, M, None, "reg8");
    Reg9 = (NXM_NX, 9, None, 4, M, None, "reg9");
    Reg10 = (NXM_NX, 10, None, 4, M, None, "reg10");
    Reg11 = (NXM_NX, 11, None, 4, M, None, "reg11");
    Reg12 = (NXM_NX, 12, None, 4, M, None, "reg12");
    Reg13 = (NXM_NX, 13, None, 4, M, None, "reg13");
    Reg14 = (NXM_NX, 14, None, 4, M, None, "reg14");
    Reg15 = (NXM_NX, 15, None, 4, M, None, "reg15");
    NxTunId = (NXM_NX, 16, None, 8, M, None, "tun_id");
    NxIpFrag = (NXM_NX, 26, None, 1, M, Ip, "ip_frag");
    NxNwTtl = (NXM_NX, 29, None, 1, N, Ip, "nw_ttl");
    NxTunSrc = (NXM_NX, 31, None, 4, M, None, "tun_src");
    NxTunDst = (NXM_NX, 32, None, 4, M, None, "tun_dst");
    PktMark = (NXM_NX, 33, None, 4, M, None, "pkt_mark");
    NxTcpFlags = (NXM_NX, 34, None, 2, M, Tcp, "tcp_flags");
    DpHash = (NXM_NX, 35, None, 4, M, None, "dp_hash");
    RecircId = (NXM_NX, 36, None, 4, N, None, "recirc_id");
    ConjId = (NXM_NX, 37, None, 4, N, None, "conj_id");
    CtState = (NXM_NX, 105, None, 4, M, None, "ct_state");
    CtZone = (NXM_NX, 106, None, 2, N, None, "ct_zone");
    CtMark = (NXM_NX, 107, None, 4, M, None, "ct_mark");
    NxmInPort = (NXM_OF, 0, None, 2, N, None, "in_port");
    NxmEthDst = (NXM_OF, 1, None, 6, M, None, "eth_dst");
    NxmEthSrc = (NXM_OF, 2, None, 6, M, None, "eth_src");
    NxmEthType = (NXM_OF, 3, None, 2, N, None, "eth_type");
    NxmVlanTci = (NXM_OF, 4, None, 2, M, None, "vlan_tci");
    NxmIpTos = (NXM_OF, 5, None, 1, N, Ip, "nw_tos");
    NxmIpProto = (NXM_OF, 6, None, 1, N, Ip, "nw_proto");
    NxmIpSrc = (NXM_OF, 7, None, 4, M, Ipv4, "ip_src");
    NxmIpDst = (NXM_OF, 8, None, 4, M, Ipv4, "ip_dst");
    NxmTcpSrc = (NXM_OF, 9, None, 2, M, Tcp, "tcp_src");
    NxmTcpDst = (NXM_OF, 10, None, 2, M, Tcp, "tcp_dst");
    NxmUdpSrc = (NXM_OF, 11, None, 2, M, Udp, "udp_src");
    NxmUdpDst = (NXM_OF, 12, None, 2, M, Udp, "udp_dst");
    NxmIcmpType = (NXM_OF, 13, None, 1, N, Icmpv4, "icmp_type");
    NxmIcmpCode = (NXM_OF, 14, None, 1, N, Icmpv4, "icmp_code");
    NxmArpOp = (NXM_OF, 15, None, 2, N, Arp, "arp_op");
    NxmArpSpa = (NXM_OF, 16, None, 4, M, Arp, "arp_spa");
    NxmArpTpa = (NXM_OF, 17, None, 4, M, Arp, "arp_tpa");
    NxArpSha = (NXM_NX, 17, None, 6, M, Arp, "arp_sha");
    NxArpTha = (NXM_NX, 18, None, 6, M, Arp, "arp_tha");
    NxIpv6Src = (NXM_NX, 19, None, 16, M, Ipv6, "ipv6_src");
    NxIpv6Dst = (NXM_NX, 20, None, 16, M, Ipv6, "ipv6_dst");
    NxIcmpv6Type = (NXM_NX, 21, None, 1, N, Icmpv6, "icmpv6_type");
    NxIcmpv6Code = (NXM_NX, 22, None, 1, N, Icmpv6, "icmpv6_code");
    NxNdTarget = (NXM_NX, 23, None, 16, M, Nd, "nd_target");
    NxNdSll = (NXM_NX, 24, None, 6, M, NdSolicit, "nd_sll");
    NxNdTll = (NXM_NX, 25, None, 6, M, NdAdvert, "nd_tll");
    NxIpv6Label = (NXM_NX, 27, None, 4, M, Ipv6, "ipv6_label");
    NxIpEcn = (NXM_NX, 28, None, 1, N, Ip, "nw_ecn");
    Xreg0 = (OFPXMC_PACKET_REGS, 0, None, 8, M, None, "xreg0");
    Xreg1 = (OFPXMC_PACKET_REGS, 1, None, 8, M, None, "xreg1");
    Xreg2 = (OFPXMC_PACKET_REGS, 2, None, 8, M, None, "xreg2");
    Xreg3 = (OFPXMC_PACKET_REGS, 3, None, 8, M, None, "xreg3");
    Xreg4 = (OFPXMC_PACKET_REGS, 4, None, 8, M, None, "xreg4");
    Xreg5 = (OFPXMC_PACKET_REGS, 5, None, 8, M, None, "xreg5");
    Xreg6 = (OFPXMC_PACKET_REGS, 6, None, 8, M, None, "xreg6");
    Xreg7 = (OFPXMC_PACKET_REGS, 7, None, 8, M, None, "xreg7");
}

impl Field {
    pub fn info(self) -> &'static FieldInfo {
        &FIELDS[self as usize]
    }

    /// Value width in bytes. (Never zero, so there is no `is_empty`.)
    #[allow(clippy::len_without_is_empty)]
    pub fn len(self) -> usize {
        usize::from(self.info().len)
    }

    /// The 32-bit OXM header of this field (length = value width, or twice it when masked).
    pub fn header(self, masked: bool) -> u32 {
        let i = self.info();
        let exp_len = if i.experimenter.is_some() { 4 } else { 0 };
        let len = exp_len + u32::from(i.len) * if masked { 2 } else { 1 };
        (u32::from(i.class) << 16) | (u32::from(i.code) << 9) | (u32::from(masked) << 8) | len
    }

    /// Finds the field for an exact (unmasked) OXM header and experimenter id.
    pub fn from_header(header: u32, experimenter: Option<u32>) -> Option<Field> {
        let class = (header >> 16) as u16;
        let code = ((header >> 9) & 0x7f) as u8;
        let len = (header & 0xff) as u8;
        let is = |f: &FieldInfo| {
            f.class == class && f.code == code && f.len == len && f.experimenter == experimenter
        };
        // Fast path for the common classes: the table lists OpenFlow basic fields by code
        // (41 is unassigned) and the registers by number, so one probe usually finds it.
        let guess = match class {
            OFPXMC_OPENFLOW_BASIC if code <= 40 => Some(usize::from(code)),
            OFPXMC_OPENFLOW_BASIC if (42..=44).contains(&code) => Some(usize::from(code) - 1),
            NXM_NX if code < 16 => Some(Field::Reg0 as usize + usize::from(code)),
            _ => None,
        };
        if let Some(f) = guess.and_then(|i| FIELDS.get(i)).filter(|f| is(f)) {
            return Some(f.field);
        }
        FIELDS.iter().find(|f| is(f)).map(|f| f.field)
    }

    /// The OXM field that an NXM field shares its meaning (and storage in a flow) with;
    /// `self` for every other field. Prerequisite and duplicate checks compare these, so
    /// NXM_OF_ETH_TYPE satisfies an IPv4 prerequisite and cannot follow OXM eth_type.
    pub fn canonical(self) -> Field {
        match self {
            Field::NxmInPort => Field::InPort,
            Field::NxmEthDst => Field::EthDst,
            Field::NxmEthSrc => Field::EthSrc,
            Field::NxmEthType => Field::EthType,
            // The TCI's CFI bit sits where OXM's "VID present" bit does.
            Field::NxmVlanTci => Field::VlanVid,
            Field::NxmIpTos => Field::IpDscp,
            Field::NxmIpProto => Field::IpProto,
            Field::NxmIpSrc => Field::Ipv4Src,
            Field::NxmIpDst => Field::Ipv4Dst,
            Field::NxmTcpSrc => Field::TcpSrc,
            Field::NxmTcpDst => Field::TcpDst,
            Field::NxmUdpSrc => Field::UdpSrc,
            Field::NxmUdpDst => Field::UdpDst,
            Field::NxmIcmpType => Field::Icmpv4Type,
            Field::NxmIcmpCode => Field::Icmpv4Code,
            Field::NxmArpOp => Field::ArpOp,
            Field::NxmArpSpa => Field::ArpSpa,
            Field::NxmArpTpa => Field::ArpTpa,
            Field::NxArpSha => Field::ArpSha,
            Field::NxArpTha => Field::ArpTha,
            Field::NxIpv6Src => Field::Ipv6Src,
            Field::NxIpv6Dst => Field::Ipv6Dst,
            Field::NxIcmpv6Type => Field::Icmpv6Type,
            Field::NxIcmpv6Code => Field::Icmpv6Code,
            Field::NxNdTarget => Field::Ipv6NdTarget,
            Field::NxNdSll => Field::Ipv6NdSll,
            Field::NxNdTll => Field::Ipv6NdTll,
            Field::NxIpv6Label => Field::Ipv6Flabel,
            Field::NxIpEcn => Field::IpEcn,
            Field::NxTunId => Field::TunnelId,
            Field::NxTcpFlags | Field::OnfTcpFlags => Field::TcpFlags,
            f => f,
        }
    }

    /// The register number of `reg0`..`reg15`.
    pub fn reg(n: u8) -> Option<Field> {
        (n < 16).then(|| FIELDS[Field::Reg0 as usize + usize::from(n)].field)
    }

    /// The packet register number of `xreg0`..`xreg7`.
    pub fn xreg(n: u8) -> Option<Field> {
        (n < 8).then(|| FIELDS[Field::Xreg0 as usize + usize::from(n)].field)
    }
}

/// One match entry: a field, its value, and its mask when partially wildcarded. Only the
/// first `field.len()` bytes of `value` and `mask` are meaningful; the rest stay zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MatchEntry {
    pub field: Field,
    pub value: [u8; 16],
    pub mask: Option<[u8; 16]>,
}

impl MatchEntry {
    /// An exact match on `field` with value `v` (big-endian bytes, `field.len()` of them).
    pub fn exact(field: Field, v: &[u8]) -> MatchEntry {
        let mut value = [0u8; 16];
        let n = v.len().min(field.len());
        value[..n].copy_from_slice(&v[..n]);
        MatchEntry {
            field,
            value,
            mask: None,
        }
    }

    pub fn masked(field: Field, v: &[u8], m: &[u8]) -> MatchEntry {
        let mut e = MatchEntry::exact(field, v);
        let mut mask = [0u8; 16];
        let n = m.len().min(field.len());
        mask[..n].copy_from_slice(&m[..n]);
        e.mask = Some(mask);
        e
    }

    /// An exact match from an integer (the low `field.len()` bytes of `v`).
    pub fn from_u64(field: Field, v: u64) -> MatchEntry {
        let b = v.to_be_bytes();
        let n = field.len().min(8);
        MatchEntry::exact(field, &b[8 - n..])
    }

    pub fn value(&self) -> &[u8] {
        &self.value[..self.field.len()]
    }

    pub fn mask_bytes(&self) -> Option<&[u8]> {
        let n = self.field.len();
        self.mask.as_ref().map(|m| &m[..n])
    }

    /// The value as an integer (fields up to 8 bytes wide).
    pub fn value_u64(&self) -> u64 {
        be_u64(self.value())
    }

    pub fn mask_u64(&self) -> Option<u64> {
        self.mask_bytes().map(be_u64)
    }

    /// True when the entry matches every bit of the field (no mask, or an all-ones mask).
    pub fn is_exact(&self) -> bool {
        self.mask_bytes()
            .map_or(true, |m| m.iter().all(|&b| b == 0xff))
    }

    /// Encoded size: header (4, or 8 for experimenter) plus value and mask.
    pub fn wire_len(&self) -> usize {
        let hdr = if self.field.info().experimenter.is_some() {
            8
        } else {
            4
        };
        hdr + self.field.len() * if self.mask.is_some() { 2 } else { 1 }
    }

    pub fn emit(&self, out: &mut Vec<u8>) {
        out.put_u32(self.field.header(self.mask.is_some()));
        if let Some(exp) = self.field.info().experimenter {
            out.put_u32(exp);
        }
        out.extend_from_slice(self.value());
        if let Some(m) = self.mask_bytes() {
            out.extend_from_slice(m);
        }
    }

    /// Reads one entry's header and payload, checking what can be checked without context:
    /// length, known field, mask consistency, value range, mask shape.
    pub fn parse(r: &mut Reader<'_>) -> Result<MatchEntry, OfpError> {
        let (field, masked) = parse_header(r)?;
        let n = field.len();
        let payload = r
            .bytes(n * if masked { 2 } else { 1 })
            .map_err(|_| OfpError::OFPBMC_BAD_LEN)?;
        let e = if masked {
            MatchEntry::masked(field, &payload[..n], &payload[n..])
        } else {
            MatchEntry::exact(field, payload)
        };
        if let Some(m) = e.mask_bytes() {
            if e.value().iter().zip(m).any(|(v, m)| v & !m != 0) {
                return Err(OfpError::OFPBMC_BAD_WILDCARDS);
            }
        }
        if !value_is_valid(&e) {
            return Err(OfpError::OFPBMC_BAD_VALUE);
        }
        if let Some(m) = e.mask_bytes() {
            let all0 = m.iter().all(|&b| b == 0);
            let all1 = m.iter().all(|&b| b == 0xff);
            if !field.info().maskable && !all0 && !all1 {
                return Err(OfpError::OFPBMC_BAD_MASK);
            }
        }
        Ok(e)
    }
}

/// Reads an OXM header (and experimenter id) and resolves it to a field.
pub fn parse_header(r: &mut Reader<'_>) -> Result<(Field, bool), OfpError> {
    let header = r.u32().map_err(|_| OfpError::OFPBMC_BAD_LEN)?;
    let class = (header >> 16) as u16;
    let experimenter = if class == OFPXMC_EXPERIMENTER {
        Some(r.u32().map_err(|_| OfpError::OFPBMC_BAD_LEN)?)
    } else {
        None
    };
    let masked = header & 0x100 != 0;
    // Experimenter OXMs count their experimenter id in the length.
    let len = match experimenter {
        Some(_) => (header & 0xff)
            .checked_sub(4)
            .ok_or(OfpError::OFPBMC_BAD_LEN)?,
        None => header & 0xff,
    };
    if masked && len % 2 != 0 {
        return Err(OfpError::OFPBMC_BAD_FIELD);
    }
    let exact_len = if masked { len / 2 } else { len };
    let exact = (header & !0x1ff) | exact_len;
    let field = Field::from_header(exact, experimenter).ok_or(OfpError::OFPBMC_BAD_FIELD)?;
    Ok((field, masked))
}

fn be_u64(b: &[u8]) -> u64 {
    b.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x))
}

/// Range checks on values, as Open vSwitch does them.
fn value_is_valid(e: &MatchEntry) -> bool {
    let v = e.value_u64();
    match e.field {
        // OF1.1+ port numbers between 0xffff and the reserved range do not exist.
        Field::InPort | Field::InPhyPort | Field::ActsetOutput => {
            !(0xffff..0xffff_ff00).contains(&v)
        }
        Field::VlanVid => v <= 0x1fff,
        Field::VlanPcp => v <= 7,
        Field::IpDscp => v < 64,
        Field::NxmIpTos => v & 3 == 0,
        Field::IpEcn | Field::NxIpEcn => v <= 3,
        Field::NxIpv6Label => v <= 0xfffff,
        Field::NxIpFrag => v <= 3,
        Field::ArpOp => v <= 0xff,
        Field::Ipv6Flabel | Field::MplsLabel => v <= 0xfffff,
        Field::MplsTc => v <= 7,
        Field::MplsBos => v <= 1,
        _ => true,
    }
}

/// The facts about a flow that prerequisites test: exact Ethernet type, IP protocol and
/// ICMPv6 type, and whether an in_port and a VLAN header are matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Facts {
    pub eth_type: Option<u64>,
    pub ip_proto: Option<u64>,
    pub icmpv6_type: Option<u64>,
    pub in_port: bool,
    pub vlan: bool,
}

impl Facts {
    pub fn satisfy(&self, p: Prereq) -> bool {
        let ipv4 = self.eth_type == Some(0x0800);
        let ipv6 = self.eth_type == Some(0x86dd);
        let ip = ipv4 || ipv6;
        let icmpv6 = ipv6 && self.ip_proto == Some(58);
        match p {
            Prereq::None => true,
            Prereq::InPort => self.in_port,
            Prereq::Vlan => self.vlan,
            Prereq::Ip => ip,
            Prereq::Ipv4 => ipv4,
            Prereq::Ipv6 => ipv6,
            Prereq::Arp => matches!(self.eth_type, Some(0x0806) | Some(0x8035)),
            Prereq::Tcp => ip && self.ip_proto == Some(6),
            Prereq::Udp => ip && self.ip_proto == Some(17),
            Prereq::Sctp => ip && self.ip_proto == Some(132),
            Prereq::Icmpv4 => ipv4 && self.ip_proto == Some(1),
            Prereq::Icmpv6 => icmpv6,
            Prereq::NdSolicit => icmpv6 && self.icmpv6_type == Some(135),
            Prereq::NdAdvert => icmpv6 && self.icmpv6_type == Some(136),
            Prereq::Nd => icmpv6 && matches!(self.icmpv6_type, Some(135) | Some(136)),
            Prereq::Mpls => matches!(self.eth_type, Some(0x8847) | Some(0x8848)),
            Prereq::Pbb => self.eth_type == Some(0x88e7),
        }
    }
}

/// A match as an ordered list of entries.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OxmMatch {
    pub entries: Vec<MatchEntry>,
}

impl OxmMatch {
    /// The entry for `field` or for a field with the same meaning (see [`Field::canonical`]).
    pub fn get(&self, field: Field) -> Option<&MatchEntry> {
        let c = field.canonical();
        self.entries.iter().find(|e| e.field.canonical() == c)
    }

    /// The exact value of `field` when the match pins it down completely.
    fn exact(&self, field: Field) -> Option<u64> {
        self.get(field)
            .filter(|e| e.is_exact())
            .map(|e| e.value_u64())
    }

    fn eth_type(&self) -> Option<u64> {
        self.exact(Field::EthType)
    }

    fn ip_proto(&self) -> Option<u64> {
        self.exact(Field::IpProto)
    }

    /// True when the fields already in the match satisfy `p`. Looks only at the fields
    /// `p` depends on (this runs once per decoded field).
    pub fn prereq_ok(&self, p: Prereq) -> bool {
        let facts = match p {
            Prereq::None => return true,
            Prereq::InPort => Facts {
                in_port: self.get(Field::InPort).is_some(),
                ..Facts::default()
            },
            Prereq::Vlan => Facts {
                vlan: self.vlan_present(),
                ..Facts::default()
            },
            Prereq::Ip | Prereq::Ipv4 | Prereq::Ipv6 | Prereq::Arp | Prereq::Mpls | Prereq::Pbb => {
                Facts {
                    eth_type: self.eth_type(),
                    ..Facts::default()
                }
            }
            Prereq::Tcp | Prereq::Udp | Prereq::Sctp | Prereq::Icmpv4 | Prereq::Icmpv6 => Facts {
                eth_type: self.eth_type(),
                ip_proto: self.ip_proto(),
                ..Facts::default()
            },
            Prereq::NdSolicit | Prereq::NdAdvert | Prereq::Nd => Facts {
                eth_type: self.eth_type(),
                ip_proto: self.ip_proto(),
                icmpv6_type: self.exact(Field::Icmpv6Type),
                ..Facts::default()
            },
        };
        facts.satisfy(p)
    }

    fn vlan_present(&self) -> bool {
        self.get(Field::VlanVid).is_some_and(|e| {
            e.value_u64() & 0x1000 != 0 && e.mask_u64().map_or(true, |m| m & 0x1000 != 0)
        })
    }

    /// What the match pins down that prerequisites depend on.
    pub fn facts(&self) -> Facts {
        Facts {
            eth_type: self.eth_type(),
            ip_proto: self.ip_proto(),
            icmpv6_type: self.exact(Field::Icmpv6Type),
            in_port: self.get(Field::InPort).is_some(),
            vlan: self.vlan_present(),
        }
    }

    /// Appends `e` after checking its prerequisites and that its field is new.
    pub fn push_checked(&mut self, e: MatchEntry) -> Result<(), OfpError> {
        if !self.prereq_ok(e.field.info().prereq) {
            return Err(OfpError::OFPBMC_BAD_PREREQ);
        }
        if self.get(e.field).is_some() {
            return Err(OfpError::OFPBMC_DUP_FIELD);
        }
        self.entries.push(e);
        Ok(())
    }

    /// Parses a run of OXM entries filling all of `r`.
    pub fn parse_entries(r: &mut Reader<'_>) -> Result<OxmMatch, OfpError> {
        // An entry takes at least 5 bytes, so this never has to grow.
        let mut m = OxmMatch {
            entries: Vec::with_capacity(r.remaining() / 5),
        };
        while !r.is_empty() {
            let e = MatchEntry::parse(r)?;
            m.push_checked(e)?;
        }
        Ok(m)
    }

    pub fn entries_len(&self) -> usize {
        self.entries.iter().map(MatchEntry::wire_len).sum()
    }

    pub fn emit_entries(&self, out: &mut Vec<u8>) {
        for e in &self.entries {
            e.emit(out);
        }
    }

    /// Parses an `ofp_match` of OpenFlow 1.2+ (type OXM, length, entries, padding to 8).
    pub fn parse_ofp12(r: &mut Reader<'_>) -> Result<OxmMatch, OfpError> {
        let mtype = r.u16().map_err(|_| OfpError::OFPBMC_BAD_LEN)?;
        let len = usize::from(r.u16().map_err(|_| OfpError::OFPBMC_BAD_LEN)?);
        // Type 0 is OpenFlow 1.1's fixed 88-byte match; any other length is a length error.
        if mtype == 0 && len != 88 {
            return Err(OfpError::OFPBMC_BAD_LEN);
        }
        if mtype != 1 {
            return Err(OfpError::OFPBMC_BAD_TYPE);
        }
        if len < 4 {
            return Err(OfpError::OFPBMC_BAD_LEN);
        }
        let padded = super::wire::pad8(len);
        let mut body = r
            .sub(len - 4, OfpError::OFPBMC_BAD_LEN)
            .map_err(|_| OfpError::OFPBMC_BAD_LEN)?;
        r.skip(padded - len).map_err(|_| OfpError::OFPBMC_BAD_LEN)?;
        OxmMatch::parse_entries(&mut body)
    }

    /// Encodes as an OpenFlow 1.2+ `ofp_match`, padded to 8 bytes.
    pub fn emit_ofp12(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.put_u16(1);
        out.put_u16((4 + self.entries_len()) as u16);
        self.emit_entries(out);
        out.pad_to_8(start);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(bytes: &[u8]) -> Result<OxmMatch, OfpError> {
        OxmMatch::parse_entries(&mut Reader::new(bytes, OfpError::OFPBMC_BAD_LEN))
    }

    #[test]
    fn every_field_is_found_by_its_header() {
        for f in FIELDS {
            // `from_header` takes the payload length, without an experimenter id.
            let h = f.field.header(false) - if f.experimenter.is_some() { 4 } else { 0 };
            assert_eq!(Field::from_header(h, f.experimenter), Some(f.field));
            let mut bytes = f.field.header(false).to_be_bytes().to_vec();
            bytes.extend(f.experimenter.map(u32::to_be_bytes).unwrap_or_default());
            let mut r = Reader::new(&bytes, OfpError::OFPBMC_BAD_LEN);
            assert_eq!(parse_header(&mut r), Ok((f.field, false)));
        }
    }

    #[test]
    fn header_of_eth_type_and_masked_ipv4_src() {
        assert_eq!(Field::EthType.header(false), 0x8000_0a02);
        assert_eq!(Field::Ipv4Src.header(true), 0x8000_1708);
        assert_eq!(Field::Reg3.header(false), 0x0001_0604);
    }

    #[test]
    fn parses_ip_tcp_dst() {
        let b = [
            0x80, 0x00, 0x0a, 0x02, 0x08, 0x00, // eth_type=0x0800
            0x80, 0x00, 0x14, 0x01, 0x06, // ip_proto=6
            0x80, 0x00, 0x1c, 0x02, 0x00, 0x50, // tcp_dst=80
        ];
        let m = parse(&b).unwrap();
        assert_eq!(m.entries.len(), 3);
        assert_eq!(m.entries[2].value_u64(), 80);
        let mut out = Vec::new();
        m.emit_entries(&mut out);
        assert_eq!(out, b);
    }

    #[test]
    fn errors_match_ovs() {
        // tcp_dst without eth_type/ip_proto.
        assert_eq!(
            parse(&[0x80, 0x00, 0x1c, 0x02, 0x00, 0x50]),
            Err(OfpError::OFPBMC_BAD_PREREQ)
        );
        // eth_type twice.
        let dup = [
            0x80, 0x00, 0x0a, 0x02, 0x08, 0x00, 0x80, 0x00, 0x0a, 0x02, 0x08, 0x00,
        ];
        assert_eq!(parse(&dup), Err(OfpError::OFPBMC_DUP_FIELD));
        // eth_type with a 3-byte length is no known field.
        assert_eq!(
            parse(&[0x80, 0x00, 0x0a, 0x03, 0x08, 0x00, 0x00]),
            Err(OfpError::OFPBMC_BAD_FIELD)
        );
        // Truncated payload.
        assert_eq!(
            parse(&[0x80, 0x00, 0x0a, 0x02, 0x08]),
            Err(OfpError::OFPBMC_BAD_LEN)
        );
        // vlan_pcp out of range needs no prerequisite check first.
        assert_eq!(
            parse(&[0x80, 0x00, 0x0e, 0x01, 0x09]),
            Err(OfpError::OFPBMC_BAD_VALUE)
        );
    }
}
