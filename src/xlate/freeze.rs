//! Frozen pipeline state: what translation keeps when `controller(pause)` stops it, so that
//! `NXT_RESUME` can continue exactly where it stopped.
//!
//! Vocabulary: a *segment* is the rest of one level of the pipeline: the actions after the
//! one that was running (the pause itself, or the `resubmit` / `output:TABLE` that led to
//! it), then the rule's instructions that had not run yet (clear/write actions,
//! write_metadata, goto_table), with the table id and cookie of that rule. Segments are kept
//! innermost first, which is the order they run in again. The frozen *action set* runs at
//! the end of the pipeline, after the last segment. Registers, metadata and in_port travel
//! in the packet-in's public METADATA property, not here.
//!
//! Wire form: the private `NXCPT_*` properties of Open vSwitch's continuation, with the same
//! numbers and the same TABLE_ID/COOKIE delta rule (emitted before an ACTIONS property only
//! when they differ from the running value, which starts at table 0, cookie 0). Two things
//! are ours: the first of the 4 pad bytes of ACTIONS / ACTION_SET / [`CPT_INSTRUCTIONS`]
//! holds the OpenFlow version the list is encoded in (so a continuation resumes over a
//! connection of any version; lists are encoded in the carrying connection's version where
//! it can express them, set-field as NXAST_REG_LOAD2 in 1.0, so Open vSwitch's tools can
//! print them), and [`CPT_INSTRUCTIONS`] carries a segment's pending
//! instructions after its ACTIONS. Every segment emits an ACTIONS property (empty if need
//! be), so segment boundaries survive the round trip exactly.
//!
//! ferrovs has no NXAST_STACK_PUSH/POP, mirrors or conntrack, so frozen state never holds a
//! stack, mirror bitmap or "conntracked" flag and the encoder emits none; the decoder still
//! checks those properties' lengths as Open vSwitch does (STACK ≤ 16 bytes, MIRRORS 4,
//! CONNTRACKED any) and otherwise ignores them.
//!
//! Who calls it: translation (the `pipeline` module) builds a [`Frozen`] and encodes it into the
//! controller upcall's userdata; `continuation` wraps the bytes in an authenticated
//! continuation and decodes them again on resume. Decoding is strict: any malformed or
//! unknown property is an error, never a partial state.

use crate::ofp::ext::{parse_props, Property};
use crate::ofp::ext::{
    NXCPT_ACTIONS, NXCPT_ACTION_SET, NXCPT_CONNTRACKED, NXCPT_COOKIE, NXCPT_MIRRORS, NXCPT_STACK,
    NXCPT_TABLE_ID,
};
use crate::ofp::wire::Reader;
use crate::ofp::{Action, Instruction, OfpError, Version};

/// ferrovs's private property: the pending instructions of the segment whose ACTIONS
/// property comes just before it (version byte, 3 zero bytes, OpenFlow instructions).
pub const CPT_INSTRUCTIONS: u16 = 0x8100;

/// The largest stack entry Open vSwitch's decoder takes (a 128-bit subvalue).
const MAX_STACK_ENTRY: usize = 16;

/// Versions tried, in order, when encoding a frozen list: the list came from a flow-mod or
/// packet-out of one of them, so one always works.
const ENCODE_VERSIONS: [Version; 4] = [Version::V1_3, Version::V1_0, Version::V1_4, Version::V1_5];

/// The rest of one pipeline level.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FrozenSegment {
    /// The table and cookie of the rule these actions belong to (0, 0 outside any rule, as
    /// in a packet-out).
    pub table_id: u8,
    pub cookie: u64,
    /// The actions not yet run.
    pub actions: Vec<Action>,
    /// The rule's instructions after apply-actions that had not run (never ApplyActions or
    /// Meter): clear/write actions, write_metadata, goto_table.
    pub instructions: Vec<Instruction>,
}

/// Everything a paused translation needs to continue, besides the packet and its metadata.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Frozen {
    /// Innermost first.
    pub segments: Vec<FrozenSegment>,
    pub action_set: Vec<Action>,
}

/// Why frozen state could not be encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FreezeError {
    #[error("a frozen action list cannot be encoded in any OpenFlow version")]
    Unencodable,
}

/// Encodes `f` (an action or instruction list) after a version byte and 3 zero bytes, in
/// `prefer` if it can carry the list, else in the first version that can.
fn versioned(
    prefer: Version,
    f: impl Fn(Version, &mut Vec<u8>) -> Result<(), OfpError>,
) -> Result<Vec<u8>, FreezeError> {
    for v in std::iter::once(prefer).chain(ENCODE_VERSIONS) {
        let mut out = vec![v.wire(), 0, 0, 0];
        if f(v, &mut out).is_ok() {
            return Ok(out);
        }
    }
    Err(FreezeError::Unencodable)
}

/// Encodes an action list in `v`. OpenFlow 1.0 has no set-field action; Open vSwitch writes
/// one there as NXAST_REG_LOAD2, which carries the same OXM and translates the same.
fn emit_actions(actions: &[Action], v: Version, out: &mut Vec<u8>) -> Result<(), OfpError> {
    if v != Version::V1_0 || !actions.iter().any(|a| matches!(a, Action::SetField(_))) {
        return Action::emit_list(actions, v, out);
    }
    let portable: Vec<Action> = actions
        .iter()
        .map(|a| match a {
            Action::SetField(e) => Action::RegLoad2(*e),
            a => a.clone(),
        })
        .collect();
    Action::emit_list(&portable, v, out)
}

/// The version byte of a versioned list property, and the list bytes.
fn split_versioned(value: &[u8]) -> Result<(Version, &[u8]), OfpError> {
    if value.len() < 4 {
        return Err(OfpError::OFPBPC_BAD_LEN);
    }
    let v = Version::from_wire(value[0]).ok_or(OfpError::OFPBPC_BAD_VALUE)?;
    Ok((v, &value[4..]))
}

impl Frozen {
    /// The private continuation properties for this state, with the lists in `version`
    /// where it can carry them: Open vSwitch's tools decode them in the version of the
    /// connection that carries the continuation.
    pub fn to_props(&self, version: Version) -> Result<Vec<Property>, FreezeError> {
        let mut props = Vec::new();
        let (mut table, mut cookie) = (0u8, 0u64);
        for s in &self.segments {
            if s.actions.is_empty() && s.instructions.is_empty() {
                continue;
            }
            if s.table_id != table {
                table = s.table_id;
                props.push(crate::ofp::ext::prop_u8(NXCPT_TABLE_ID, table));
            }
            if s.cookie != cookie {
                cookie = s.cookie;
                props.push(crate::ofp::ext::prop_u64(NXCPT_COOKIE, cookie));
            }
            props.push(Property {
                ptype: NXCPT_ACTIONS,
                value: versioned(version, |v, out| emit_actions(&s.actions, v, out))?,
            });
            if !s.instructions.is_empty() {
                props.push(Property {
                    ptype: CPT_INSTRUCTIONS,
                    value: versioned(version, |v, out| {
                        Instruction::emit_list(&s.instructions, v, out)
                    })?,
                });
            }
        }
        if !self.action_set.is_empty() {
            props.push(Property {
                ptype: NXCPT_ACTION_SET,
                value: versioned(version, |v, out| emit_actions(&self.action_set, v, out))?,
            });
        }
        Ok(props)
    }

    /// The private properties as bytes, lists preferably in `version`.
    pub fn encode_in(&self, version: Version) -> Result<Vec<u8>, FreezeError> {
        let mut out = Vec::new();
        crate::ofp::ext::emit_props(&self.to_props(version)?, &mut out);
        Ok(out)
    }

    /// The private properties as bytes, lists preferably in OpenFlow 1.3 (what travels in
    /// the controller upcall).
    pub fn encode(&self) -> Result<Vec<u8>, FreezeError> {
        self.encode_in(Version::V1_3)
    }

    /// Decodes [`Frozen::encode`]'s bytes.
    pub fn decode(bytes: &[u8]) -> Result<Frozen, OfpError> {
        let props = parse_props(&mut Reader::new(bytes, OfpError::OFPBPC_BAD_LEN))?;
        for p in &props {
            check_prop(p)?;
        }
        Frozen::from_props(&props)
    }

    /// Rebuilds the state from checked private properties (see [`check_prop`]), in order.
    pub fn from_props(props: &[Property]) -> Result<Frozen, OfpError> {
        let mut f = Frozen::default();
        let (mut table, mut cookie) = (0u8, 0u64);
        for p in props {
            match p.ptype {
                NXCPT_TABLE_ID => table = p.value[0],
                NXCPT_COOKIE => cookie = u64_at4(&p.value)?,
                NXCPT_ACTIONS => {
                    let (v, list) = split_versioned(&p.value)?;
                    f.segments.push(FrozenSegment {
                        table_id: table,
                        cookie,
                        actions: Action::parse_list(v, list)?,
                        instructions: Vec::new(),
                    });
                }
                CPT_INSTRUCTIONS => {
                    let (v, list) = split_versioned(&p.value)?;
                    let seg = f.segments.last_mut().ok_or(OfpError::OFPBPC_BAD_VALUE)?;
                    if !seg.instructions.is_empty() {
                        return Err(OfpError::OFPBPC_BAD_VALUE);
                    }
                    let list = Instruction::parse_list(v, list)?;
                    // Only what can follow apply-actions: anything else was not made here.
                    if list
                        .iter()
                        .any(|i| matches!(i, Instruction::ApplyActions(_) | Instruction::Meter(_)))
                    {
                        return Err(OfpError::OFPBPC_BAD_VALUE);
                    }
                    seg.instructions = list;
                }
                NXCPT_ACTION_SET => {
                    let (v, list) = split_versioned(&p.value)?;
                    f.action_set = Action::parse_list(v, list)?;
                }
                // Checked by `check_prop`; ferrovs has nothing to restore from them.
                NXCPT_STACK | NXCPT_MIRRORS | NXCPT_CONNTRACKED => {}
                _ => return Err(OfpError::OFPBPC_BAD_TYPE),
            }
        }
        Ok(f)
    }
}

fn u64_at4(value: &[u8]) -> Result<u64, OfpError> {
    value
        .get(4..12)
        .and_then(|b| b.try_into().ok())
        .map(u64::from_be_bytes)
        .ok_or(OfpError::OFPBPC_BAD_LEN)
}

/// Checks one private property's type and length as Open vSwitch's decoder does:
/// OFPBPC_BAD_TYPE for a type this module does not know, OFPBPC_BAD_LEN for a length its
/// type does not allow.
pub fn check_prop(p: &Property) -> Result<(), OfpError> {
    let n = p.value.len();
    let ok = match p.ptype {
        NXCPT_TABLE_ID => n >= 1,
        // A 64-bit value after 4 pad bytes: 16 bytes with the header.
        NXCPT_COOKIE => n == 12,
        NXCPT_ACTIONS | NXCPT_ACTION_SET | CPT_INSTRUCTIONS => n >= 4,
        NXCPT_STACK => n <= MAX_STACK_ENTRY,
        NXCPT_MIRRORS => n == 4,
        NXCPT_CONNTRACKED => true,
        _ => return Err(OfpError::OFPBPC_BAD_TYPE),
    };
    if ok {
        Ok(())
    } else {
        Err(OfpError::OFPBPC_BAD_LEN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ofp::ext::{emit_props, prop_u8};

    fn out(port: u32) -> Action {
        Action::Output { port, max_len: 0 }
    }

    fn sample() -> Frozen {
        Frozen {
            segments: vec![
                FrozenSegment {
                    table_id: 1,
                    cookie: 0x77,
                    actions: vec![out(2)],
                    instructions: vec![Instruction::GotoTable(3)],
                },
                FrozenSegment {
                    table_id: 0,
                    cookie: 0,
                    actions: vec![out(3)],
                    instructions: vec![],
                },
            ],
            action_set: vec![out(5)],
        }
    }

    #[test]
    fn table_and_cookie_only_when_changed() {
        let props = sample().to_props(Version::V1_3).expect("encodes");
        let types: Vec<u16> = props.iter().map(|p| p.ptype).collect();
        assert_eq!(
            types,
            [
                NXCPT_TABLE_ID,
                NXCPT_COOKIE,
                NXCPT_ACTIONS,
                CPT_INSTRUCTIONS,
                NXCPT_TABLE_ID,
                NXCPT_COOKIE,
                NXCPT_ACTIONS,
                NXCPT_ACTION_SET
            ]
        );
        // The first group of an unchanged context (0, 0) has no TABLE_ID/COOKIE.
        let f = Frozen {
            segments: vec![FrozenSegment {
                actions: vec![out(4)],
                ..FrozenSegment::default()
            }],
            action_set: vec![],
        };
        let props = f.to_props(Version::V1_3).expect("encodes");
        assert_eq!(props.len(), 1);
        assert_eq!(props[0].ptype, NXCPT_ACTIONS);
        // OpenFlow 1.3 output:4 after the version byte and 3 zero bytes.
        assert_eq!(
            props[0].value,
            [4, 0, 0, 0, 0, 0, 0, 16, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0]
        );
    }

    #[test]
    fn cookie_bytes_are_aligned_like_open_vswitch() {
        let f = Frozen {
            segments: vec![FrozenSegment {
                table_id: 2,
                cookie: 0x1122,
                actions: vec![],
                instructions: vec![Instruction::ClearActions],
            }],
            action_set: vec![],
        };
        let mut bytes = Vec::new();
        emit_props(&f.to_props(Version::V1_3).expect("encodes"), &mut bytes);
        assert_eq!(
            &bytes[..24],
            [
                0x80, 0x04, 0, 5, 2, 0, 0, 0, // TABLE_ID 2, padded
                0x80, 0x05, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x11, 0x22 // COOKIE
            ]
        );
    }

    #[test]
    fn round_trip_keeps_segments_and_their_context() {
        let f = sample();
        let bytes = f.encode().expect("encodes");
        assert_eq!(Frozen::decode(&bytes), Ok(f.clone()));
        // Preferably in the version asked for: OpenFlow 1.0's output:3, then 1.3's output:5.
        let props = f.to_props(Version::V1_0).expect("encodes");
        assert_eq!(props[2].value, [1, 0, 0, 0, 0, 0, 0, 8, 0, 2, 0, 0]);
        assert_eq!(props[6].value, [1, 0, 0, 0, 0, 0, 0, 8, 0, 3, 0, 0]);
        assert_eq!(
            Frozen::decode(&f.encode_in(Version::V1_0).expect("1.0")),
            Ok(f)
        );
        // Pause as the last action: nothing frozen, nothing encoded.
        let empty = Frozen::default();
        assert_eq!(empty.encode(), Ok(Vec::new()));
        assert_eq!(Frozen::decode(&[]), Ok(empty));
    }

    #[test]
    fn strict_lengths_and_types() {
        let p = |ptype: u16, n: usize| Property {
            ptype,
            value: vec![0; n],
        };
        assert_eq!(
            check_prop(&p(NXCPT_TABLE_ID, 0)),
            Err(OfpError::OFPBPC_BAD_LEN)
        );
        assert_eq!(
            check_prop(&p(NXCPT_COOKIE, 8)),
            Err(OfpError::OFPBPC_BAD_LEN)
        );
        assert_eq!(
            check_prop(&p(NXCPT_MIRRORS, 3)),
            Err(OfpError::OFPBPC_BAD_LEN)
        );
        assert_eq!(
            check_prop(&p(NXCPT_STACK, 17)),
            Err(OfpError::OFPBPC_BAD_LEN)
        );
        assert_eq!(check_prop(&p(NXCPT_STACK, 0)), Ok(()));
        assert_eq!(
            check_prop(&p(NXCPT_ACTIONS, 3)),
            Err(OfpError::OFPBPC_BAD_LEN)
        );
        assert_eq!(
            check_prop(&p(NXCPT_ACTION_SET, 3)),
            Err(OfpError::OFPBPC_BAD_LEN)
        );
        assert_eq!(check_prop(&p(0x8042, 0)), Err(OfpError::OFPBPC_BAD_TYPE));
        // Garbage action bytes are an action error, not a partial state.
        let bad = Property {
            ptype: NXCPT_ACTIONS,
            value: vec![4, 0, 0, 0, 0xff, 0xff, 0, 8, 0, 0, 0, 1],
        };
        let mut bytes = Vec::new();
        emit_props(&[bad], &mut bytes);
        assert!(matches!(
            Frozen::decode(&bytes),
            Err(e) if e.name().starts_with("OFPBAC_")
        ));
        // Instructions with no segment before them.
        let mut bytes = Vec::new();
        emit_props(
            &[Property {
                ptype: CPT_INSTRUCTIONS,
                value: vec![4, 0, 0, 0],
            }],
            &mut bytes,
        );
        assert_eq!(Frozen::decode(&bytes), Err(OfpError::OFPBPC_BAD_VALUE));
        // An unknown version byte.
        let mut bytes = Vec::new();
        emit_props(
            &[Property {
                ptype: NXCPT_ACTIONS,
                value: vec![9, 0, 0, 0],
            }],
            &mut bytes,
        );
        assert_eq!(Frozen::decode(&bytes), Err(OfpError::OFPBPC_BAD_VALUE));
        let mut bytes = Vec::new();
        emit_props(&[prop_u8(0x8042, 1)], &mut bytes);
        assert_eq!(Frozen::decode(&bytes), Err(OfpError::OFPBPC_BAD_TYPE));
    }
}
