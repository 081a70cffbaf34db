//! Checking a flow's actions against its match, as Open vSwitch does when it decodes a
//! flow-mod.
//!
//! Actions that read or write packet fields need those fields to exist: setting `tcp_dst`
//! needs a TCP match, `dec_ttl` an IP one, `pop_vlan` a VLAN one. The check walks the
//! action lists with a working copy of the match that the actions update (`push_vlan`
//! makes a VLAN present, `push_mpls`/`pop_mpls` change the Ethernet type). A set-field or
//! register load/move whose field's prerequisites fail is `OFPBAC_MATCH_INCONSISTENT` in
//! every version; the other mismatches are errors only from OpenFlow 1.1 on (OpenFlow 1.0
//! actions carry their own meaning, e.g. `mod_vlan_vid` pushes a tag when needed).

use super::action::Action;
use super::error::OfpError;
use super::instruction::Instruction;
use super::oxm::{Facts, Field, OxmMatch, Prereq};
use super::Version;

const INCONSISTENT: OfpError = OfpError::OFPBAC_MATCH_INCONSISTENT;

/// The flow as the actions so far leave it. Plain data: checking allocates nothing.
struct Flow {
    f: Facts,
    strict: bool,
}

impl Flow {
    fn ok(&self, p: Prereq) -> bool {
        self.f.satisfy(p)
    }

    /// A mismatch that only OpenFlow 1.1+ treats as an error.
    fn soft(&self, cond: bool) -> Result<(), OfpError> {
        if !cond && self.strict {
            Err(INCONSISTENT)
        } else {
            Ok(())
        }
    }

    fn hard(&self, field: Field) -> Result<(), OfpError> {
        if self.ok(field.info().prereq) {
            Ok(())
        } else {
            Err(INCONSISTENT)
        }
    }

    fn has_vlan(&self) -> bool {
        self.f.vlan
    }

    fn set_eth_type(&mut self, t: u64) {
        self.f.eth_type = Some(t);
        self.f.ip_proto = None;
        self.f.icmpv6_type = None;
    }

    fn check(&mut self, a: &Action) -> Result<(), OfpError> {
        match a {
            Action::SetField(e) | Action::RegLoad2(e) => {
                self.hard(e.field)?;
                if matches!(e.field, Field::VlanVid | Field::VlanPcp) && !self.has_vlan() {
                    return Err(INCONSISTENT);
                }
                if e.field.canonical() == Field::EthType {
                    self.set_eth_type(e.value_u64());
                }
            }
            Action::RegLoad { dst, .. } => self.check_header(*dst)?,
            Action::RegMove { src, dst, .. } => {
                self.check_header(*src)?;
                self.check_header(*dst)?;
            }
            Action::OutputReg { src, .. } => self.check_header(*src)?,
            Action::StripVlan | Action::PopVlan => {
                self.soft(self.has_vlan())?;
                self.f.vlan = false;
            }
            Action::PushVlan(_) => self.f.vlan = true,
            Action::SetNwSrc(_)
            | Action::SetNwDst(_)
            | Action::SetNwTos(_)
            | Action::SetNwTtl(_)
            | Action::DecNwTtl
            | Action::DecTtl
            | Action::DecTtlCntIds(_)
            | Action::CopyTtlIn
            | Action::CopyTtlOut => self.soft(self.ok(Prereq::Ip))?,
            Action::SetTpSrc(_) | Action::SetTpDst(_) => {
                self.soft(self.ok(Prereq::Tcp) || self.ok(Prereq::Udp) || self.ok(Prereq::Sctp))?
            }
            Action::SetMplsTtl(_) | Action::DecMplsTtl => self.soft(self.ok(Prereq::Mpls))?,
            Action::PushMpls(t) => self.set_eth_type(u64::from(*t)),
            Action::PopMpls(t) => {
                self.soft(self.ok(Prereq::Mpls))?;
                self.set_eth_type(u64::from(*t));
            }
            _ => {}
        }
        Ok(())
    }

    fn check_header(&self, header: u32) -> Result<(), OfpError> {
        match Field::from_header(header & !0x100, None) {
            Some(f) => self.hard(f),
            None => Err(OfpError::OFPBAC_BAD_SET_TYPE),
        }
    }
}

fn is_pause(a: &Action) -> bool {
    matches!(a, Action::Controller2(props)
        if props.iter().any(|p| matches!(p, super::action::Controller2Prop::Pause)))
}

/// Checks `instructions` against the flow's `match_` for a message of `version`.
pub fn check(
    version: Version,
    instructions: &[Instruction],
    match_: &OxmMatch,
) -> Result<(), OfpError> {
    let facts = match_.facts();
    for i in instructions {
        // A pause freezes "the rest of the pipeline"; the action set has no rest, so Open
        // vSwitch keeps controller actions out of it, as here a pausing one.
        if let Instruction::WriteActions(list) = i {
            if list.iter().any(is_pause) {
                return Err(OfpError::OFPBAC_UNSUPPORTED_ORDER);
            }
        }
        if let Instruction::ApplyActions(list) | Instruction::WriteActions(list) = i {
            // Write-actions run later, from the flow as matched; check each list on its own.
            let mut flow = Flow {
                f: facts,
                strict: version != Version::V1_0,
            };
            for a in list {
                flow.check(a)?;
            }
        }
    }
    Ok(())
}
