//! OpenFlow actions (1.0 and 1.1+ encodings) and the Nicira extension actions.
//!
//! Vocabulary: every action starts with a 4-byte header (type, length); the length covers the
//! whole action and is a multiple of 8. Experimenter (vendor) actions add a 32-bit vendor id,
//! and Nicira ones (`NXAST_*`, vendor `0x2320`) a 16-bit subtype after it.
//!
//! [`Action`] is one enum for both versions. Variants that exist in only one version's
//! encoding (the OpenFlow 1.0 `SET_DL_SRC` family; the 1.1+ `SET_FIELD`, push/pop, group)
//! encode only there: [`Action::emit`] refuses the other version with `OFPBAC_BAD_TYPE`, the
//! error a switch of that version would send for it. Port numbers are held in the 32-bit
//! space of OpenFlow 1.1+ (see [`super::port`]).
//!
//! Decoding reports what Open vSwitch reports: a bad length `OFPBAC_BAD_LEN`, an unknown
//! type `OFPBAC_BAD_TYPE`, an unknown vendor `OFPBAC_BAD_VENDOR`, an unknown Nicira subtype
//! `OFPBAC_BAD_VENDOR_TYPE`, an impossible output port `OFPBAC_BAD_OUT_PORT`.

use super::error::{OfpError, NX_VENDOR_ID};
use super::oxm::{parse_header, MatchEntry};
use super::port;
use super::wire::{pad8, patch_u16, Put, Reader};
use super::Version;

/// A property of `NXAST_CONTROLLER2`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Controller2Prop {
    MaxLen(u16),
    ControllerId(u16),
    Reason(u8),
    Userdata(Vec<u8>),
    Pause,
    MeterId(u32),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Output to a port (1.1+ numbering); `max_len` bytes go to the controller.
    Output {
        port: u32,
        max_len: u16,
    },
    // OpenFlow 1.0 only.
    SetVlanVid(u16),
    SetVlanPcp(u8),
    StripVlan,
    SetDlSrc([u8; 6]),
    SetDlDst([u8; 6]),
    SetNwSrc([u8; 4]),
    SetNwDst([u8; 4]),
    SetNwTos(u8),
    SetTpSrc(u16),
    SetTpDst(u16),
    Enqueue {
        port: u32,
        queue_id: u32,
    },
    // OpenFlow 1.1+ only.
    CopyTtlOut,
    CopyTtlIn,
    SetMplsTtl(u8),
    DecMplsTtl,
    PushVlan(u16),
    PopVlan,
    PushMpls(u16),
    PopMpls(u16),
    SetQueue(u32),
    Group(u32),
    SetNwTtl(u8),
    DecNwTtl,
    SetField(MatchEntry),
    PushPbb(u16),
    PopPbb,
    // Nicira extensions (any version).
    Resubmit {
        in_port: u32,
    },
    ResubmitTable {
        in_port: u32,
        table: u8,
    },
    SetTunnel(u32),
    /// `NXAST_SET_QUEUE` (OpenFlow 1.0's way to set a queue without output).
    NxSetQueue(u32),
    PopQueue,
    /// `NXAST_OUTPUT_REG`: output to the port in bits of field `src`.
    OutputReg {
        ofs_nbits: u16,
        src: u32,
        max_len: u16,
    },
    SetTunnel64(u64),
    RegMove {
        n_bits: u16,
        src_ofs: u16,
        dst_ofs: u16,
        src: u32,
        dst: u32,
    },
    RegLoad {
        ofs_nbits: u16,
        dst: u32,
        value: u64,
    },
    /// `NXAST_REG_LOAD2`: a set-field carried as an OXM, possibly masked.
    RegLoad2(MatchEntry),
    Note(Vec<u8>),
    Exit,
    DecTtl,
    Controller {
        max_len: u16,
        controller_id: u16,
        reason: u8,
    },
    Controller2(Vec<Controller2Prop>),
    DecTtlCntIds(Vec<u16>),
}

// OpenFlow 1.0 action types.
const OFPAT10_OUTPUT: u16 = 0;
const OFPAT10_SET_VLAN_VID: u16 = 1;
const OFPAT10_SET_VLAN_PCP: u16 = 2;
const OFPAT10_STRIP_VLAN: u16 = 3;
const OFPAT10_SET_DL_SRC: u16 = 4;
const OFPAT10_SET_DL_DST: u16 = 5;
const OFPAT10_SET_NW_SRC: u16 = 6;
const OFPAT10_SET_NW_DST: u16 = 7;
const OFPAT10_SET_NW_TOS: u16 = 8;
const OFPAT10_SET_TP_SRC: u16 = 9;
const OFPAT10_SET_TP_DST: u16 = 10;
const OFPAT10_ENQUEUE: u16 = 11;
// OpenFlow 1.1+ action types.
const OFPAT_OUTPUT: u16 = 0;
const OFPAT_COPY_TTL_OUT: u16 = 11;
const OFPAT_COPY_TTL_IN: u16 = 12;
const OFPAT_SET_MPLS_TTL: u16 = 15;
const OFPAT_DEC_MPLS_TTL: u16 = 16;
const OFPAT_PUSH_VLAN: u16 = 17;
const OFPAT_POP_VLAN: u16 = 18;
const OFPAT_PUSH_MPLS: u16 = 19;
const OFPAT_POP_MPLS: u16 = 20;
const OFPAT_SET_QUEUE: u16 = 21;
const OFPAT_GROUP: u16 = 22;
const OFPAT_SET_NW_TTL: u16 = 23;
const OFPAT_DEC_NW_TTL: u16 = 24;
const OFPAT_SET_FIELD: u16 = 25;
const OFPAT_PUSH_PBB: u16 = 26;
const OFPAT_POP_PBB: u16 = 27;
const OFPAT_EXPERIMENTER: u16 = 0xffff;
// Nicira subtypes.
const NXAST_RESUBMIT: u16 = 1;
const NXAST_SET_TUNNEL: u16 = 2;
const NXAST_SET_QUEUE: u16 = 4;
const NXAST_POP_QUEUE: u16 = 5;
const NXAST_OUTPUT_REG: u16 = 15;
const NXAST_REG_MOVE: u16 = 6;
const NXAST_REG_LOAD: u16 = 7;
const NXAST_NOTE: u16 = 8;
const NXAST_SET_TUNNEL64: u16 = 9;
const NXAST_RESUBMIT_TABLE: u16 = 14;
const NXAST_EXIT: u16 = 17;
const NXAST_DEC_TTL: u16 = 18;
const NXAST_CONTROLLER: u16 = 20;
const NXAST_DEC_TTL_CNT_IDS: u16 = 21;
const NXAST_REG_LOAD2: u16 = 33;
const NXAST_CONTROLLER2: u16 = 37;

// NXAST_CONTROLLER2 property types.
const NXAC2PT_MAX_LEN: u16 = 0;
const NXAC2PT_CONTROLLER_ID: u16 = 1;
const NXAC2PT_REASON: u16 = 2;
const NXAC2PT_USERDATA: u16 = 3;
const NXAC2PT_PAUSE: u16 = 4;
const NXAC2PT_METER_ID: u16 = 5;

const BAD_LEN: OfpError = OfpError::OFPBAC_BAD_LEN;

impl Action {
    /// Decodes a whole action list (`bytes` is exactly the list).
    pub fn parse_list(version: Version, bytes: &[u8]) -> Result<Vec<Action>, OfpError> {
        let mut r = Reader::new(bytes, BAD_LEN);
        // An action takes at least 8 bytes, so this never has to grow.
        let mut out = Vec::with_capacity(bytes.len() / 8);
        while !r.is_empty() {
            if r.remaining() < 8 {
                return Err(BAD_LEN);
            }
            let len = usize::from(u16::from_be_bytes([r.rest()[2], r.rest()[3]]));
            if len < 8 || len % 8 != 0 || len > r.remaining() {
                return Err(BAD_LEN);
            }
            let mut a = r.sub(len, BAD_LEN)?;
            out.push(Action::parse_one(version, &mut a)?);
        }
        Ok(out)
    }

    fn parse_one(version: Version, r: &mut Reader<'_>) -> Result<Action, OfpError> {
        let atype = r.u16()?;
        let len = usize::from(r.u16()?);
        let fixed = |want: usize| if len == want { Ok(()) } else { Err(BAD_LEN) };
        if atype == OFPAT_EXPERIMENTER {
            return parse_vendor(len, r);
        }
        let a = if version == Version::V1_0 {
            match atype {
                OFPAT10_OUTPUT => {
                    fixed(8)?;
                    let p = r.u16()?;
                    Action::Output {
                        port: port::from_of10(p),
                        max_len: r.u16()?,
                    }
                }
                OFPAT10_SET_VLAN_VID => {
                    fixed(8)?;
                    Action::SetVlanVid(r.u16()?)
                }
                OFPAT10_SET_VLAN_PCP => {
                    fixed(8)?;
                    Action::SetVlanPcp(r.u8()?)
                }
                OFPAT10_STRIP_VLAN => {
                    fixed(8)?;
                    Action::StripVlan
                }
                OFPAT10_SET_DL_SRC => {
                    fixed(16)?;
                    Action::SetDlSrc(r.array()?)
                }
                OFPAT10_SET_DL_DST => {
                    fixed(16)?;
                    Action::SetDlDst(r.array()?)
                }
                OFPAT10_SET_NW_SRC => {
                    fixed(8)?;
                    Action::SetNwSrc(r.array()?)
                }
                OFPAT10_SET_NW_DST => {
                    fixed(8)?;
                    Action::SetNwDst(r.array()?)
                }
                OFPAT10_SET_NW_TOS => {
                    fixed(8)?;
                    Action::SetNwTos(r.u8()?)
                }
                OFPAT10_SET_TP_SRC => {
                    fixed(8)?;
                    Action::SetTpSrc(r.u16()?)
                }
                OFPAT10_SET_TP_DST => {
                    fixed(8)?;
                    Action::SetTpDst(r.u16()?)
                }
                OFPAT10_ENQUEUE => {
                    fixed(16)?;
                    let p = r.u16()?;
                    r.skip(6)?;
                    Action::Enqueue {
                        port: port::from_of10(p),
                        queue_id: r.u32()?,
                    }
                }
                _ => return Err(OfpError::OFPBAC_BAD_TYPE),
            }
        } else {
            match atype {
                OFPAT_OUTPUT => {
                    fixed(16)?;
                    let p = r.u32()?;
                    if !port::is_valid_of11(p) {
                        return Err(OfpError::OFPBAC_BAD_OUT_PORT);
                    }
                    Action::Output {
                        port: p,
                        max_len: r.u16()?,
                    }
                }
                OFPAT_COPY_TTL_OUT => {
                    fixed(8)?;
                    Action::CopyTtlOut
                }
                OFPAT_COPY_TTL_IN => {
                    fixed(8)?;
                    Action::CopyTtlIn
                }
                OFPAT_SET_MPLS_TTL => {
                    fixed(8)?;
                    Action::SetMplsTtl(r.u8()?)
                }
                OFPAT_DEC_MPLS_TTL => {
                    fixed(8)?;
                    Action::DecMplsTtl
                }
                OFPAT_PUSH_VLAN => {
                    fixed(8)?;
                    Action::PushVlan(r.u16()?)
                }
                OFPAT_POP_VLAN => {
                    fixed(8)?;
                    Action::PopVlan
                }
                OFPAT_PUSH_MPLS => {
                    fixed(8)?;
                    Action::PushMpls(r.u16()?)
                }
                OFPAT_POP_MPLS => {
                    fixed(8)?;
                    Action::PopMpls(r.u16()?)
                }
                OFPAT_SET_QUEUE => {
                    fixed(8)?;
                    Action::SetQueue(r.u32()?)
                }
                OFPAT_GROUP => {
                    fixed(8)?;
                    Action::Group(r.u32()?)
                }
                OFPAT_SET_NW_TTL => {
                    fixed(8)?;
                    Action::SetNwTtl(r.u8()?)
                }
                OFPAT_DEC_NW_TTL => {
                    fixed(8)?;
                    Action::DecNwTtl
                }
                OFPAT_SET_FIELD => Action::SetField(parse_set_field(r)?),
                OFPAT_PUSH_PBB => {
                    fixed(8)?;
                    Action::PushPbb(r.u16()?)
                }
                OFPAT_POP_PBB => {
                    fixed(8)?;
                    Action::PopPbb
                }
                _ => return Err(OfpError::OFPBAC_BAD_TYPE),
            }
        };
        Ok(a)
    }

    /// Encodes one action for `version`.
    pub fn emit(&self, version: Version, out: &mut Vec<u8>) -> Result<(), OfpError> {
        let v10 = version == Version::V1_0;
        let start = out.len();
        let simple = |out: &mut Vec<u8>, t: u16| {
            out.put_u16(t);
            out.put_u16(8);
        };
        match self {
            Action::Output { port: p, max_len } => {
                if v10 {
                    simple(out, OFPAT10_OUTPUT);
                    out.put_u16(port::to_of10(*p).ok_or(OfpError::OFPBAC_BAD_OUT_PORT)?);
                    out.put_u16(*max_len);
                } else {
                    out.put_u16(OFPAT_OUTPUT);
                    out.put_u16(16);
                    out.put_u32(*p);
                    out.put_u16(*max_len);
                    out.put_zeros(6);
                }
            }
            Action::SetVlanVid(v) if v10 => {
                simple(out, OFPAT10_SET_VLAN_VID);
                out.put_u16(*v);
                out.put_zeros(2);
            }
            Action::SetVlanPcp(v) if v10 => {
                simple(out, OFPAT10_SET_VLAN_PCP);
                out.put_u8(*v);
                out.put_zeros(3);
            }
            Action::StripVlan if v10 => {
                simple(out, OFPAT10_STRIP_VLAN);
                out.put_zeros(4);
            }
            Action::SetDlSrc(m) | Action::SetDlDst(m) if v10 => {
                let t = if matches!(self, Action::SetDlSrc(_)) {
                    OFPAT10_SET_DL_SRC
                } else {
                    OFPAT10_SET_DL_DST
                };
                out.put_u16(t);
                out.put_u16(16);
                out.extend_from_slice(m);
                out.put_zeros(6);
            }
            Action::SetNwSrc(a) | Action::SetNwDst(a) if v10 => {
                let t = if matches!(self, Action::SetNwSrc(_)) {
                    OFPAT10_SET_NW_SRC
                } else {
                    OFPAT10_SET_NW_DST
                };
                simple(out, t);
                out.extend_from_slice(a);
            }
            Action::SetNwTos(v) if v10 => {
                simple(out, OFPAT10_SET_NW_TOS);
                out.put_u8(*v);
                out.put_zeros(3);
            }
            Action::SetTpSrc(v) | Action::SetTpDst(v) if v10 => {
                let t = if matches!(self, Action::SetTpSrc(_)) {
                    OFPAT10_SET_TP_SRC
                } else {
                    OFPAT10_SET_TP_DST
                };
                simple(out, t);
                out.put_u16(*v);
                out.put_zeros(2);
            }
            Action::Enqueue { port: p, queue_id } if v10 => {
                out.put_u16(OFPAT10_ENQUEUE);
                out.put_u16(16);
                out.put_u16(port::to_of10(*p).ok_or(OfpError::OFPBAC_BAD_OUT_PORT)?);
                out.put_zeros(6);
                out.put_u32(*queue_id);
            }
            Action::CopyTtlOut if !v10 => {
                simple(out, OFPAT_COPY_TTL_OUT);
                out.put_zeros(4);
            }
            Action::CopyTtlIn if !v10 => {
                simple(out, OFPAT_COPY_TTL_IN);
                out.put_zeros(4);
            }
            Action::SetMplsTtl(v) if !v10 => {
                simple(out, OFPAT_SET_MPLS_TTL);
                out.put_u8(*v);
                out.put_zeros(3);
            }
            Action::DecMplsTtl if !v10 => {
                simple(out, OFPAT_DEC_MPLS_TTL);
                out.put_zeros(4);
            }
            Action::PushVlan(e) | Action::PushMpls(e) | Action::PopMpls(e) | Action::PushPbb(e)
                if !v10 =>
            {
                let t = match self {
                    Action::PushVlan(_) => OFPAT_PUSH_VLAN,
                    Action::PushMpls(_) => OFPAT_PUSH_MPLS,
                    Action::PopMpls(_) => OFPAT_POP_MPLS,
                    _ => OFPAT_PUSH_PBB,
                };
                simple(out, t);
                out.put_u16(*e);
                out.put_zeros(2);
            }
            Action::PopVlan | Action::PopPbb | Action::DecNwTtl if !v10 => {
                let t = match self {
                    Action::PopVlan => OFPAT_POP_VLAN,
                    Action::PopPbb => OFPAT_POP_PBB,
                    _ => OFPAT_DEC_NW_TTL,
                };
                simple(out, t);
                out.put_zeros(4);
            }
            Action::SetQueue(v) | Action::Group(v) if !v10 => {
                let t = if matches!(self, Action::SetQueue(_)) {
                    OFPAT_SET_QUEUE
                } else {
                    OFPAT_GROUP
                };
                simple(out, t);
                out.put_u32(*v);
            }
            Action::SetNwTtl(v) if !v10 => {
                simple(out, OFPAT_SET_NW_TTL);
                out.put_u8(*v);
                out.put_zeros(3);
            }
            Action::SetField(e) if !v10 => {
                out.put_u16(OFPAT_SET_FIELD);
                out.put_u16(0);
                e.emit(out);
                out.pad_to_8(start);
                let len = out.len() - start;
                patch_u16(out, start + 2, len);
            }
            Action::Resubmit { in_port } => {
                nx_header(out, NXAST_RESUBMIT);
                out.put_u16(port::to_of10(*in_port).ok_or(OfpError::OFPBAC_BAD_OUT_PORT)?);
                out.put_zeros(4);
            }
            Action::ResubmitTable { in_port, table } => {
                nx_header(out, NXAST_RESUBMIT_TABLE);
                out.put_u16(port::to_of10(*in_port).ok_or(OfpError::OFPBAC_BAD_OUT_PORT)?);
                out.put_u8(*table);
                out.put_zeros(3);
            }
            Action::SetTunnel(id) => {
                nx_header(out, NXAST_SET_TUNNEL);
                out.put_zeros(2);
                out.put_u32(*id);
            }
            Action::NxSetQueue(q) => {
                nx_header(out, NXAST_SET_QUEUE);
                out.put_zeros(2);
                out.put_u32(*q);
            }
            Action::PopQueue => {
                nx_header(out, NXAST_POP_QUEUE);
                out.put_zeros(6);
            }
            Action::OutputReg {
                ofs_nbits,
                src,
                max_len,
            } => {
                nx_header(out, NXAST_OUTPUT_REG);
                out.put_u16(*ofs_nbits);
                out.put_u32(*src);
                out.put_u16(*max_len);
                out.put_zeros(6);
            }
            Action::SetTunnel64(id) => {
                nx_header(out, NXAST_SET_TUNNEL64);
                out.put_zeros(6);
                out.put_u64(*id);
            }
            Action::RegMove {
                n_bits,
                src_ofs,
                dst_ofs,
                src,
                dst,
            } => {
                nx_header(out, NXAST_REG_MOVE);
                out.put_u16(*n_bits);
                out.put_u16(*src_ofs);
                out.put_u16(*dst_ofs);
                out.put_u32(*src);
                out.put_u32(*dst);
            }
            Action::RegLoad {
                ofs_nbits,
                dst,
                value,
            } => {
                nx_header(out, NXAST_REG_LOAD);
                out.put_u16(*ofs_nbits);
                out.put_u32(*dst);
                out.put_u64(*value);
            }
            Action::RegLoad2(e) => {
                nx_header(out, NXAST_REG_LOAD2);
                e.emit(out);
            }
            Action::Note(bytes) => {
                nx_header(out, NXAST_NOTE);
                out.extend_from_slice(bytes);
            }
            Action::Exit | Action::DecTtl => {
                let st = if matches!(self, Action::Exit) {
                    NXAST_EXIT
                } else {
                    NXAST_DEC_TTL
                };
                nx_header(out, st);
                out.put_zeros(6);
            }
            Action::Controller {
                max_len,
                controller_id,
                reason,
            } => {
                nx_header(out, NXAST_CONTROLLER);
                out.put_u16(*max_len);
                out.put_u16(*controller_id);
                out.put_u8(*reason);
                out.put_u8(0);
            }
            Action::Controller2(props) => {
                nx_header(out, NXAST_CONTROLLER2);
                out.put_zeros(6);
                for p in props {
                    emit_controller2_prop(p, out);
                }
            }
            Action::DecTtlCntIds(ids) => {
                nx_header(out, NXAST_DEC_TTL_CNT_IDS);
                out.put_u16(ids.len() as u16);
                out.put_zeros(4);
                for id in ids {
                    out.put_u16(*id);
                }
            }
            _ => return Err(OfpError::OFPBAC_BAD_TYPE),
        }
        out.pad_to_8(start);
        let len = out.len() - start;
        patch_u16(out, start + 2, len);
        Ok(())
    }

    pub fn emit_list(
        actions: &[Action],
        version: Version,
        out: &mut Vec<u8>,
    ) -> Result<(), OfpError> {
        for a in actions {
            a.emit(version, out)?;
        }
        Ok(())
    }
}

/// Starts a Nicira action: type, length (patched later), vendor, subtype.
fn nx_header(out: &mut Vec<u8>, subtype: u16) {
    out.put_u16(OFPAT_EXPERIMENTER);
    out.put_u16(0);
    out.put_u32(NX_VENDOR_ID);
    out.put_u16(subtype);
}

fn parse_set_field(r: &mut Reader<'_>) -> Result<MatchEntry, OfpError> {
    let (field, masked) = parse_header(r).map_err(|e| match e {
        OfpError::OFPBMC_BAD_FIELD => OfpError::OFPBAC_BAD_SET_TYPE,
        _ => OfpError::OFPBAC_BAD_SET_LEN,
    })?;
    if masked {
        return Err(OfpError::OFPBAC_BAD_SET_MASK);
    }
    let v = r
        .bytes(field.len())
        .map_err(|_| OfpError::OFPBAC_BAD_SET_LEN)?;
    if r.rest().iter().any(|&b| b != 0) {
        return Err(OfpError::OFPBAC_BAD_SET_ARGUMENT);
    }
    let e = MatchEntry::exact(field, v);
    // Setting a VLAN id means pushing one's VID: the "present" bit must be there.
    if field == crate::ofp::oxm::Field::VlanVid && e.value_u64() & 0x1000 == 0 {
        return Err(OfpError::OFPBAC_BAD_SET_ARGUMENT);
    }
    Ok(e)
}

fn parse_vendor(len: usize, r: &mut Reader<'_>) -> Result<Action, OfpError> {
    if len < 16 {
        return Err(BAD_LEN);
    }
    let vendor = r.u32()?;
    if vendor != NX_VENDOR_ID {
        return Err(OfpError::OFPBAC_BAD_VENDOR);
    }
    let subtype = r.u16()?;
    let fixed = |want: usize| if len == want { Ok(()) } else { Err(BAD_LEN) };
    Ok(match subtype {
        NXAST_RESUBMIT => {
            fixed(16)?;
            Action::Resubmit {
                in_port: port::from_of10(r.u16()?),
            }
        }
        NXAST_RESUBMIT_TABLE => {
            fixed(16)?;
            let in_port = port::from_of10(r.u16()?);
            let table = r.u8()?;
            if r.rest().iter().any(|&b| b != 0) {
                return Err(OfpError::NXBAC_MUST_BE_ZERO);
            }
            Action::ResubmitTable { in_port, table }
        }
        NXAST_SET_TUNNEL => {
            fixed(16)?;
            r.skip(2)?;
            Action::SetTunnel(r.u32()?)
        }
        NXAST_SET_QUEUE => {
            fixed(16)?;
            r.skip(2)?;
            Action::NxSetQueue(r.u32()?)
        }
        NXAST_POP_QUEUE => {
            fixed(16)?;
            Action::PopQueue
        }
        NXAST_OUTPUT_REG => {
            fixed(24)?;
            let ofs_nbits = r.u16()?;
            let src = r.u32()?;
            let max_len = r.u16()?;
            if r.rest().iter().any(|&b| b != 0) {
                return Err(OfpError::NXBAC_MUST_BE_ZERO);
            }
            Action::OutputReg {
                ofs_nbits,
                src,
                max_len,
            }
        }
        NXAST_SET_TUNNEL64 => {
            fixed(24)?;
            r.skip(6)?;
            Action::SetTunnel64(r.u64()?)
        }
        NXAST_REG_MOVE => {
            fixed(24)?;
            Action::RegMove {
                n_bits: r.u16()?,
                src_ofs: r.u16()?,
                dst_ofs: r.u16()?,
                src: r.u32()?,
                dst: r.u32()?,
            }
        }
        NXAST_REG_LOAD => {
            fixed(24)?;
            Action::RegLoad {
                ofs_nbits: r.u16()?,
                dst: r.u32()?,
                value: r.u64()?,
            }
        }
        NXAST_REG_LOAD2 => {
            let e = MatchEntry::parse(r).map_err(|e| match e {
                OfpError::OFPBMC_BAD_FIELD => OfpError::OFPBAC_BAD_SET_TYPE,
                OfpError::OFPBMC_BAD_VALUE => OfpError::OFPBAC_BAD_SET_ARGUMENT,
                _ => OfpError::OFPBAC_BAD_SET_LEN,
            })?;
            if r.rest().iter().any(|&b| b != 0) {
                return Err(OfpError::OFPBAC_BAD_SET_ARGUMENT);
            }
            Action::RegLoad2(e)
        }
        NXAST_NOTE => Action::Note(r.take_rest().to_vec()),
        NXAST_EXIT => {
            fixed(16)?;
            Action::Exit
        }
        NXAST_DEC_TTL => {
            fixed(16)?;
            Action::DecTtl
        }
        NXAST_CONTROLLER => {
            fixed(16)?;
            Action::Controller {
                max_len: r.u16()?,
                controller_id: r.u16()?,
                reason: r.u8()?,
            }
        }
        NXAST_CONTROLLER2 => {
            r.skip(6)?;
            let mut props = Vec::new();
            while !r.is_empty() {
                props.push(parse_controller2_prop(r)?);
            }
            Action::Controller2(props)
        }
        NXAST_DEC_TTL_CNT_IDS => {
            let n = usize::from(r.u16()?);
            r.skip(4)?;
            if pad8(16 + 2 * n) != len {
                return Err(BAD_LEN);
            }
            let mut ids = Vec::with_capacity(n);
            for _ in 0..n {
                ids.push(r.u16()?);
            }
            Action::DecTtlCntIds(ids)
        }
        _ => return Err(OfpError::OFPBAC_BAD_VENDOR_TYPE),
    })
}

fn parse_controller2_prop(r: &mut Reader<'_>) -> Result<Controller2Prop, OfpError> {
    let bad = OfpError::OFPBPC_BAD_LEN;
    let ptype = r.u16().map_err(|_| bad)?;
    let plen = usize::from(r.u16().map_err(|_| bad)?);
    if plen < 4 {
        return Err(bad);
    }
    let mut v = r.sub(plen - 4, bad)?;
    r.skip(pad8(plen) - plen).map_err(|_| bad)?;
    let exact = |v: &Reader<'_>, n: usize| if v.remaining() == n { Ok(()) } else { Err(bad) };
    Ok(match ptype {
        // Open vSwitch pads 8- and 16-bit property values to 4 bytes inside the length.
        NXAC2PT_MAX_LEN => {
            exact(&v, 4)?;
            Controller2Prop::MaxLen(v.u16()?)
        }
        NXAC2PT_CONTROLLER_ID => {
            exact(&v, 4)?;
            Controller2Prop::ControllerId(v.u16()?)
        }
        NXAC2PT_REASON => {
            exact(&v, 4)?;
            Controller2Prop::Reason(v.u8()?)
        }
        NXAC2PT_USERDATA => Controller2Prop::Userdata(v.take_rest().to_vec()),
        NXAC2PT_PAUSE => {
            exact(&v, 0)?;
            Controller2Prop::Pause
        }
        NXAC2PT_METER_ID => {
            exact(&v, 4)?;
            Controller2Prop::MeterId(v.u32()?)
        }
        _ => return Err(OfpError::OFPBPC_BAD_TYPE),
    })
}

fn emit_controller2_prop(p: &Controller2Prop, out: &mut Vec<u8>) {
    let start = out.len();
    let (t, body): (u16, Vec<u8>) = match p {
        Controller2Prop::MaxLen(v) => (
            NXAC2PT_MAX_LEN,
            (u32::from(*v) << 16).to_be_bytes().to_vec(),
        ),
        Controller2Prop::ControllerId(v) => (
            NXAC2PT_CONTROLLER_ID,
            (u32::from(*v) << 16).to_be_bytes().to_vec(),
        ),
        Controller2Prop::Reason(v) => (NXAC2PT_REASON, vec![*v, 0, 0, 0]),
        Controller2Prop::Userdata(d) => (NXAC2PT_USERDATA, d.clone()),
        Controller2Prop::Pause => (NXAC2PT_PAUSE, Vec::new()),
        Controller2Prop::MeterId(v) => (NXAC2PT_METER_ID, v.to_be_bytes().to_vec()),
    };
    out.put_u16(t);
    out.put_u16((4 + body.len()) as u16);
    out.extend_from_slice(&body);
    out.pad_to_8(start);
}
