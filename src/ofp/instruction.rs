//! OpenFlow 1.1+ instructions: goto-table, write-metadata, write/apply/clear actions, meter.
//!
//! Each instruction is (type, length, body) with the length a multiple of 8. Decoding follows
//! Open vSwitch: a known type with the wrong length is `OFPBIC_BAD_LEN`, an unknown type
//! `OFPBIC_UNKNOWN_INST`, an experimenter instruction `OFPBIC_BAD_EXPERIMENTER`, the same
//! type twice `OFPBIC_DUP_INST`, and a goto-table that does not go forward from the flow's
//! table `OFPBIC_BAD_TABLE_ID` (checked by [`check_goto`], which needs the flow's table).

use super::action::Action;
use super::error::OfpError;
use super::wire::{patch_u16, Put, Reader};
use super::Version;

const OFPIT_GOTO_TABLE: u16 = 1;
const OFPIT_WRITE_METADATA: u16 = 2;
const OFPIT_WRITE_ACTIONS: u16 = 3;
const OFPIT_APPLY_ACTIONS: u16 = 4;
const OFPIT_CLEAR_ACTIONS: u16 = 5;
const OFPIT_METER: u16 = 6;
const OFPIT_EXPERIMENTER: u16 = 0xffff;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Instruction {
    GotoTable(u8),
    WriteMetadata { metadata: u64, mask: u64 },
    WriteActions(Vec<Action>),
    ApplyActions(Vec<Action>),
    ClearActions,
    Meter(u32),
}

impl Instruction {
    fn wire_type(&self) -> u16 {
        match self {
            Instruction::GotoTable(_) => OFPIT_GOTO_TABLE,
            Instruction::WriteMetadata { .. } => OFPIT_WRITE_METADATA,
            Instruction::WriteActions(_) => OFPIT_WRITE_ACTIONS,
            Instruction::ApplyActions(_) => OFPIT_APPLY_ACTIONS,
            Instruction::ClearActions => OFPIT_CLEAR_ACTIONS,
            Instruction::Meter(_) => OFPIT_METER,
        }
    }

    /// Decodes an instruction list that fills `bytes`.
    pub fn parse_list(version: Version, bytes: &[u8]) -> Result<Vec<Instruction>, OfpError> {
        let bad = OfpError::OFPBIC_BAD_LEN;
        let mut r = Reader::new(bytes, bad);
        // At most one of each of the six types (duplicates are an error).
        let mut out: Vec<Instruction> = Vec::with_capacity((bytes.len() / 8).min(6));
        let mut seen = 0u32;
        while !r.is_empty() {
            if r.remaining() < 8 {
                return Err(bad);
            }
            let itype = u16::from_be_bytes([r.rest()[0], r.rest()[1]]);
            let len = usize::from(u16::from_be_bytes([r.rest()[2], r.rest()[3]]));
            if len < 8 || len % 8 != 0 || len > r.remaining() {
                return Err(bad);
            }
            let mut i = r.sub(len, bad)?;
            i.skip(4)?;
            let fixed = |want: usize| if len == want { Ok(()) } else { Err(bad) };
            let inst = match itype {
                OFPIT_GOTO_TABLE => {
                    fixed(8)?;
                    Instruction::GotoTable(i.u8()?)
                }
                OFPIT_WRITE_METADATA => {
                    fixed(24)?;
                    i.skip(4)?;
                    Instruction::WriteMetadata {
                        metadata: i.u64()?,
                        mask: i.u64()?,
                    }
                }
                OFPIT_WRITE_ACTIONS | OFPIT_APPLY_ACTIONS => {
                    i.skip(4)?;
                    let actions = Action::parse_list(version, i.take_rest())?;
                    if itype == OFPIT_WRITE_ACTIONS {
                        Instruction::WriteActions(actions)
                    } else {
                        Instruction::ApplyActions(actions)
                    }
                }
                OFPIT_CLEAR_ACTIONS => {
                    fixed(8)?;
                    Instruction::ClearActions
                }
                OFPIT_METER => {
                    fixed(8)?;
                    Instruction::Meter(i.u32()?)
                }
                OFPIT_EXPERIMENTER => return Err(OfpError::OFPBIC_BAD_EXPERIMENTER),
                _ => return Err(OfpError::OFPBIC_UNKNOWN_INST),
            };
            let bit = 1u32 << itype;
            if seen & bit != 0 {
                return Err(OfpError::OFPBIC_DUP_INST);
            }
            seen |= bit;
            out.push(inst);
        }
        Ok(out)
    }

    pub fn emit(&self, version: Version, out: &mut Vec<u8>) -> Result<(), OfpError> {
        let start = out.len();
        out.put_u16(self.wire_type());
        out.put_u16(0);
        match self {
            Instruction::GotoTable(t) => {
                out.put_u8(*t);
                out.put_zeros(3);
            }
            Instruction::WriteMetadata { metadata, mask } => {
                out.put_zeros(4);
                out.put_u64(*metadata);
                out.put_u64(*mask);
            }
            Instruction::WriteActions(a) | Instruction::ApplyActions(a) => {
                out.put_zeros(4);
                Action::emit_list(a, version, out)?;
            }
            Instruction::ClearActions => out.put_zeros(4),
            Instruction::Meter(m) => out.put_u32(*m),
        }
        let len = out.len() - start;
        patch_u16(out, start + 2, len);
        Ok(())
    }

    pub fn emit_list(
        list: &[Instruction],
        version: Version,
        out: &mut Vec<u8>,
    ) -> Result<(), OfpError> {
        for i in list {
            i.emit(version, out)?;
        }
        Ok(())
    }
}

/// Checks that every goto-table in `list` moves forward from `table_id`.
pub fn check_goto(list: &[Instruction], table_id: u8) -> Result<(), OfpError> {
    for i in list {
        if let Instruction::GotoTable(t) = i {
            if table_id != 0xff && *t <= table_id {
                return Err(OfpError::OFPBIC_BAD_TABLE_ID);
            }
        }
    }
    Ok(())
}
