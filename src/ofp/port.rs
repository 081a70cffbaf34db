//! OpenFlow port numbers across versions.
//!
//! OpenFlow 1.0 numbers ports in 16 bits with reserved ports at `0xff00..=0xffff`; 1.1+ uses
//! 32 bits with reserved ports at `0xffffff00..`. The codec holds every port in the 32-bit
//! space and maps 1.0's reserved range onto 1.1+'s (`0xfff8` IN_PORT ↔ `0xfffffff8`), the
//! mapping Open vSwitch uses, so a round trip through either version is exact.

pub const OFPP_MAX: u32 = 0xffff_ff00;
pub const OFPP_IN_PORT: u32 = 0xffff_fff8;
pub const OFPP_TABLE: u32 = 0xffff_fff9;
pub const OFPP_NORMAL: u32 = 0xffff_fffa;
pub const OFPP_FLOOD: u32 = 0xffff_fffb;
pub const OFPP_ALL: u32 = 0xffff_fffc;
pub const OFPP_CONTROLLER: u32 = 0xffff_fffd;
pub const OFPP_LOCAL: u32 = 0xffff_fffe;
pub const OFPP_ANY: u32 = 0xffff_ffff;
/// OpenFlow 1.0's `OFPP_NONE`, the same as 1.1+'s `OFPP_ANY`.
pub const OFPP_NONE: u32 = OFPP_ANY;

/// Reserved ports by name, as `ovs-ofctl` spells them.
pub const NAMES: &[(u32, &str)] = &[
    (OFPP_IN_PORT, "IN_PORT"),
    (OFPP_TABLE, "TABLE"),
    (OFPP_NORMAL, "NORMAL"),
    (OFPP_FLOOD, "FLOOD"),
    (OFPP_ALL, "ALL"),
    (OFPP_CONTROLLER, "CONTROLLER"),
    (OFPP_LOCAL, "LOCAL"),
    (OFPP_ANY, "ANY"),
];

/// A 1.0 port number in the 32-bit space.
pub fn from_of10(p: u16) -> u32 {
    if p >= 0xff00 {
        u32::from(p) + 0xffff_0000
    } else {
        u32::from(p)
    }
}

/// The 1.0 form of a port, if it has one.
pub fn to_of10(p: u32) -> Option<u16> {
    if p >= OFPP_MAX {
        Some((p - 0xffff_0000) as u16)
    } else {
        u16::try_from(p).ok().filter(|&v| v < 0xff00)
    }
}

/// True for 1.1+ port numbers Open vSwitch can represent (below 0xffff, or reserved).
pub fn is_valid_of11(p: u32) -> bool {
    !(0xffff..OFPP_MAX).contains(&p)
}

/// The `ovs-ofctl` spelling of a port.
pub fn name(p: u32) -> String {
    NAMES
        .iter()
        .find(|(n, _)| *n == p)
        .map(|(_, s)| (*s).to_string())
        .unwrap_or_else(|| p.to_string())
}

/// Parses a port as `ovs-ofctl` accepts it: a number or a reserved name.
pub fn parse(s: &str) -> Option<u32> {
    if let Some((n, _)) = NAMES.iter().find(|(_, name)| name.eq_ignore_ascii_case(s)) {
        return Some(*n);
    }
    if s.eq_ignore_ascii_case("none") {
        return Some(OFPP_NONE);
    }
    let v: u32 = s.parse().ok()?;
    // Numbers in 1.0's reserved range mean the reserved port.
    if (0xff00..=0xffff).contains(&v) {
        return Some(from_of10(v as u16));
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_ports_map_between_versions() {
        assert_eq!(from_of10(0xfffd), OFPP_CONTROLLER);
        assert_eq!(to_of10(OFPP_CONTROLLER), Some(0xfffd));
        assert_eq!(to_of10(0x1_0000), None);
        assert_eq!(from_of10(7), 7);
        assert_eq!(parse("LOCAL"), Some(OFPP_LOCAL));
        assert_eq!(parse("65534"), Some(OFPP_LOCAL));
    }
}
