//! Flow messages: FLOW_MOD and FLOW_REMOVED, and the version-neutral [`Match`].
//!
//! OpenFlow 1.0 carries a fixed `ofp_match` and a plain action list; 1.1+ carries an OXM
//! match and instructions. [`FlowMod`] holds both forms: a 1.0 action list is an
//! `ApplyActions` instruction (absent when the list is empty), and the 1.0 `command` field's
//! high byte (Open vSwitch's flow_mod_table_id extension) lands in `table_id`; whether that
//! byte means a table is the connection's business (`NXT_FLOW_MOD_TABLE_ID`).

use super::action::Action;
use super::error::OfpError;
use super::instruction::{check_goto, Instruction};
use super::match10::Match10;
use super::oxm::OxmMatch;
use super::port;
use super::wire::{Put, Reader};
use super::Version;

pub const OFPFC_ADD: u8 = 0;
pub const OFPFC_MODIFY: u8 = 1;
pub const OFPFC_MODIFY_STRICT: u8 = 2;
pub const OFPFC_DELETE: u8 = 3;
pub const OFPFC_DELETE_STRICT: u8 = 4;

pub const OFPFF_SEND_FLOW_REM: u16 = 1 << 0;
pub const OFPFF_CHECK_OVERLAP: u16 = 1 << 1;
/// 1.0: emergency flow; 1.1+: reset counts.
pub const OFPFF_EMERG_OR_RESET_COUNTS: u16 = 1 << 2;
pub const OFPFF_NO_PKT_COUNTS: u16 = 1 << 3;
pub const OFPFF_NO_BYT_COUNTS: u16 = 1 << 4;

/// `buffer_id` meaning "no buffered packet".
pub const NO_BUFFER: u32 = 0xffff_ffff;
/// Group id meaning "any group".
pub const OFPG_ANY: u32 = 0xffff_ffff;

/// A flow match in the form its version carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Match {
    Of10(Match10),
    Oxm(OxmMatch),
}

impl Match {
    /// The match as OXM entries, whatever its wire form.
    pub fn to_oxm(&self) -> OxmMatch {
        match self {
            Match::Of10(m) => m.to_oxm(),
            Match::Oxm(m) => m.clone(),
        }
    }

    pub(crate) fn parse(version: Version, r: &mut Reader<'_>) -> Result<Match, OfpError> {
        if version == Version::V1_0 {
            Ok(Match::Of10(Match10::parse(r)?))
        } else {
            Ok(Match::Oxm(OxmMatch::parse_ofp12(r)?))
        }
    }

    pub(crate) fn emit(&self, version: Version, out: &mut Vec<u8>) -> Result<(), OfpError> {
        match (self, version) {
            (Match::Of10(m), Version::V1_0) => m.emit(out),
            (Match::Oxm(m), v) if v != Version::V1_0 => m.emit_ofp12(out),
            _ => return Err(OfpError::OFPBMC_BAD_TYPE),
        }
        Ok(())
    }

    /// The empty (match-everything) match for `version`.
    pub fn any(version: Version) -> Match {
        if version == Version::V1_0 {
            Match::Of10(Match10::default())
        } else {
            Match::Oxm(OxmMatch::default())
        }
    }
}

/// Reads a 1.0 action list as instructions.
pub(crate) fn actions10_as_instructions(bytes: &[u8]) -> Result<Vec<Instruction>, OfpError> {
    let actions = Action::parse_list(Version::V1_0, bytes)?;
    Ok(if actions.is_empty() {
        Vec::new()
    } else {
        vec![Instruction::ApplyActions(actions)]
    })
}

/// Writes instructions as a 1.0 action list: only a single apply-actions can be expressed.
pub(crate) fn emit_instructions10(ins: &[Instruction], out: &mut Vec<u8>) -> Result<(), OfpError> {
    match ins {
        [] => Ok(()),
        [Instruction::ApplyActions(a)] => Action::emit_list(a, Version::V1_0, out),
        _ => Err(OfpError::OFPBIC_UNSUP_INST),
    }
}

pub(crate) fn emit_instructions(
    version: Version,
    ins: &[Instruction],
    out: &mut Vec<u8>,
) -> Result<(), OfpError> {
    if version == Version::V1_0 {
        emit_instructions10(ins, out)
    } else {
        Instruction::emit_list(ins, version, out)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowMod {
    pub cookie: u64,
    /// 1.1+ only (1.0 has no cookie mask).
    pub cookie_mask: u64,
    pub table_id: u8,
    pub command: u8,
    pub idle_timeout: u16,
    pub hard_timeout: u16,
    pub priority: u16,
    pub buffer_id: u32,
    pub out_port: u32,
    /// 1.1+ only.
    pub out_group: u32,
    pub flags: u16,
    /// 1.4+ only.
    pub importance: u16,
    pub match_: Match,
    pub instructions: Vec<Instruction>,
}

impl FlowMod {
    /// An ADD of `match_` → `instructions` with the defaults `ovs-ofctl` uses.
    pub fn add(match_: Match, instructions: Vec<Instruction>) -> FlowMod {
        FlowMod {
            cookie: 0,
            cookie_mask: 0,
            table_id: 0,
            command: OFPFC_ADD,
            idle_timeout: 0,
            hard_timeout: 0,
            priority: 0x8000,
            buffer_id: NO_BUFFER,
            out_port: port::OFPP_ANY,
            out_group: OFPG_ANY,
            flags: 0,
            importance: 0,
            match_,
            instructions,
        }
    }

    pub(crate) fn parse(version: Version, r: &mut Reader<'_>) -> Result<FlowMod, OfpError> {
        if version == Version::V1_0 {
            let match_ = Match::Of10(Match10::parse(r)?);
            let cookie = r.u64()?;
            let raw_cmd = r.u16()?;
            let idle_timeout = r.u16()?;
            let hard_timeout = r.u16()?;
            let priority = r.u16()?;
            let buffer_id = r.u32()?;
            let out_port = port::from_of10(r.u16()?);
            let flags = r.u16()?;
            let instructions = actions10_as_instructions(r.take_rest())?;
            if (raw_cmd & 0xff) > u16::from(OFPFC_DELETE_STRICT) {
                return Err(OfpError::OFPFMFC_BAD_COMMAND);
            }
            super::consistency::check(version, &instructions, &match_.to_oxm())?;
            Ok(FlowMod {
                cookie,
                cookie_mask: 0,
                table_id: (raw_cmd >> 8) as u8,
                command: (raw_cmd & 0xff) as u8,
                idle_timeout,
                hard_timeout,
                priority,
                buffer_id,
                out_port,
                out_group: OFPG_ANY,
                flags,
                importance: 0,
                match_,
                instructions,
            })
        } else {
            let cookie = r.u64()?;
            let cookie_mask = r.u64()?;
            let table_id = r.u8()?;
            let command = r.u8()?;
            let idle_timeout = r.u16()?;
            let hard_timeout = r.u16()?;
            let priority = r.u16()?;
            let buffer_id = r.u32()?;
            let out_port = r.u32()?;
            let out_group = r.u32()?;
            let flags = r.u16()?;
            let importance = r.u16()?;
            let match_ = Match::Oxm(OxmMatch::parse_ofp12(r)?);
            let instructions = Instruction::parse_list(version, r.take_rest())?;
            if command > OFPFC_DELETE_STRICT {
                return Err(OfpError::OFPFMFC_BAD_COMMAND);
            }
            if command == OFPFC_ADD && table_id == 0xff {
                return Err(OfpError::OFPFMFC_BAD_TABLE_ID);
            }
            check_goto(&instructions, table_id)?;
            if let Match::Oxm(m) = &match_ {
                super::consistency::check(version, &instructions, m)?;
            }
            Ok(FlowMod {
                cookie,
                cookie_mask,
                table_id,
                command,
                idle_timeout,
                hard_timeout,
                priority,
                buffer_id,
                out_port,
                out_group,
                flags,
                importance: if version >= Version::V1_4 {
                    importance
                } else {
                    0
                },
                match_,
                instructions,
            })
        }
    }

    pub(crate) fn emit(&self, version: Version, out: &mut Vec<u8>) -> Result<(), OfpError> {
        if version == Version::V1_0 {
            self.match_.emit(version, out)?;
            out.put_u64(self.cookie);
            out.put_u16((u16::from(self.table_id) << 8) | u16::from(self.command));
            out.put_u16(self.idle_timeout);
            out.put_u16(self.hard_timeout);
            out.put_u16(self.priority);
            out.put_u32(self.buffer_id);
            out.put_u16(port::to_of10(self.out_port).ok_or(OfpError::OFPBRC_BAD_PORT)?);
            out.put_u16(self.flags);
            emit_instructions10(&self.instructions, out)
        } else {
            out.put_u64(self.cookie);
            out.put_u64(self.cookie_mask);
            out.put_u8(self.table_id);
            out.put_u8(self.command);
            out.put_u16(self.idle_timeout);
            out.put_u16(self.hard_timeout);
            out.put_u16(self.priority);
            out.put_u32(self.buffer_id);
            out.put_u32(self.out_port);
            out.put_u32(self.out_group);
            out.put_u16(self.flags);
            out.put_u16(if version >= Version::V1_4 {
                self.importance
            } else {
                0
            });
            self.match_.emit(version, out)?;
            Instruction::emit_list(&self.instructions, version, out)
        }
    }
}

/// FLOW_REMOVED.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowRemoved {
    pub cookie: u64,
    pub priority: u16,
    pub reason: u8,
    /// 1.1+ only.
    pub table_id: u8,
    pub duration_sec: u32,
    pub duration_nsec: u32,
    pub idle_timeout: u16,
    /// 1.1+ only.
    pub hard_timeout: u16,
    pub packet_count: u64,
    pub byte_count: u64,
    pub match_: Match,
}

impl FlowRemoved {
    pub(crate) fn parse(version: Version, r: &mut Reader<'_>) -> Result<FlowRemoved, OfpError> {
        if version == Version::V1_0 {
            let match_ = Match::Of10(Match10::parse(r)?);
            let cookie = r.u64()?;
            let priority = r.u16()?;
            let reason = r.u8()?;
            r.skip(1)?;
            let duration_sec = r.u32()?;
            let duration_nsec = r.u32()?;
            let idle_timeout = r.u16()?;
            r.skip(2)?;
            Ok(FlowRemoved {
                cookie,
                priority,
                reason,
                table_id: 0,
                duration_sec,
                duration_nsec,
                idle_timeout,
                hard_timeout: 0,
                packet_count: r.u64()?,
                byte_count: r.u64()?,
                match_,
            })
        } else {
            // OpenFlow 1.5 reorders this message around stats properties; not carried here.
            if version >= Version::V1_5 {
                return Err(OfpError::OFPBRC_BAD_TYPE);
            }
            Ok(FlowRemoved {
                cookie: r.u64()?,
                priority: r.u16()?,
                reason: r.u8()?,
                table_id: r.u8()?,
                duration_sec: r.u32()?,
                duration_nsec: r.u32()?,
                idle_timeout: r.u16()?,
                hard_timeout: r.u16()?,
                packet_count: r.u64()?,
                byte_count: r.u64()?,
                match_: Match::Oxm(OxmMatch::parse_ofp12(r)?),
            })
        }
    }

    pub(crate) fn emit(&self, version: Version, out: &mut Vec<u8>) -> Result<(), OfpError> {
        if version == Version::V1_0 {
            self.match_.emit(version, out)?;
            out.put_u64(self.cookie);
            out.put_u16(self.priority);
            out.put_u8(self.reason);
            out.put_u8(0);
            out.put_u32(self.duration_sec);
            out.put_u32(self.duration_nsec);
            out.put_u16(self.idle_timeout);
            out.put_zeros(2);
            out.put_u64(self.packet_count);
            out.put_u64(self.byte_count);
        } else {
            if version >= Version::V1_5 {
                return Err(OfpError::OFPBRC_BAD_TYPE);
            }
            out.put_u64(self.cookie);
            out.put_u16(self.priority);
            out.put_u8(self.reason);
            out.put_u8(self.table_id);
            out.put_u32(self.duration_sec);
            out.put_u32(self.duration_nsec);
            out.put_u16(self.idle_timeout);
            out.put_u16(self.hard_timeout);
            out.put_u64(self.packet_count);
            out.put_u64(self.byte_count);
            self.match_.emit(version, out)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ofp::oxm::Field;
    use crate::ofp::{decode, Message};

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len() / 2)
            .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
            .collect()
    }

    /// `ovs-ofctl -O OpenFlow13 add-flow … 'table=0,priority=100,ip,nw_src=10.0.0.0/8,tcp,
    /// tp_dst=80,actions=mod_dl_dst:aa:bb:cc:dd:ee:ff,output:2'`, as recorded.
    const FM13: &str = "040e008000000006000000000000000000000000000000000000000000000064\
        ffffffffffffffffffffffff000000000001002180000a020800800017080a000000ff000000\
        800014010680001c0200500000000000000000040028000000000019001080000606aabbccddeeff\
        000000000010000000020000000000000000";

    #[test]
    fn of13_flow_mod_fields() {
        let bytes = unhex(FM13);
        let (h, m) = decode(&bytes).unwrap();
        assert_eq!((h.version, h.msg_type, h.length, h.xid), (4, 14, 0x80, 6));
        let Message::FlowMod(fm) = m else {
            panic!("not a flow-mod")
        };
        assert_eq!((fm.command, fm.table_id, fm.priority), (OFPFC_ADD, 0, 100));
        assert_eq!(
            (fm.buffer_id, fm.out_port, fm.out_group),
            (NO_BUFFER, 0xffff_ffff, OFPG_ANY)
        );
        let Match::Oxm(m) = &fm.match_ else {
            panic!("not OXM")
        };
        let fields: Vec<Field> = m.entries.iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            [
                Field::EthType,
                Field::Ipv4Src,
                Field::IpProto,
                Field::TcpDst
            ]
        );
        assert_eq!(m.entries[1].mask_bytes(), Some(&[255u8, 0, 0, 0][..]));
        let Instruction::ApplyActions(a) = &fm.instructions[0] else {
            panic!("not apply")
        };
        assert_eq!(
            a[1],
            Action::Output {
                port: 2,
                max_len: 0
            }
        );
        let mut out = Vec::new();
        Message::FlowMod(fm)
            .encode(Version::V1_3, 6, &mut out)
            .unwrap();
        assert_eq!(out, bytes);
    }
}
