//! Every class of malformed input gets the exact error Open vSwitch reports for it. Each
//! expected error below was checked with `ovs-ofctl ofp-print HEX` (Open vSwitch 3.1),
//! which prints `***decode error: NAME***` for the same bytes.

use ferrovs::ofp::{decode, error_reply, OfpError, Version};

fn unhex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

fn err(hex: &str) -> OfpError {
    decode(&unhex(hex)).expect_err("must not decode")
}

/// An OpenFlow 1.3 flow-mod (ADD, table 0, priority 0x8000) up to its match.
const FM13: &str =
    "000000000000000000000000000000000000000000008000ffffffffffffffffffffffff00000000";

fn fm13(len: u16, rest: &str) -> String {
    format!("040e{len:04x}00000001{FM13}{rest}")
}

#[test]
fn truncated_header() {
    assert_eq!(err(""), OfpError::OFPBRC_BAD_LEN);
    assert_eq!(err("040e00"), OfpError::OFPBRC_BAD_LEN);
    assert_eq!(err("040e0008000000"), OfpError::OFPBRC_BAD_LEN);
}

#[test]
fn length_mismatch() {
    // Header claims 16 bytes, 8 present; and 8 claimed with 12 present.
    assert_eq!(err("0402001000000001"), OfpError::OFPBRC_BAD_LEN);
    assert_eq!(err("040200080000000100000000"), OfpError::OFPBRC_BAD_LEN);
    // FEATURES_REQUEST has no body.
    assert_eq!(err("0405000c0000000100000000"), OfpError::OFPBRC_BAD_LEN);
    // A flow-mod whose instructions are not a multiple of 8 bytes long.
    assert_eq!(
        err(&fm13(
            0x4c,
            "0001000400000000 00040014000000000000000c00000001ffff0000"
        )),
        OfpError::OFPBRC_BAD_LEN
    );
}

#[test]
fn unknown_type_version_stat_vendor_subtype() {
    assert_eq!(err("0463000800000001"), OfpError::OFPBRC_BAD_TYPE);
    // We speak 1.0, 1.3, 1.4, 1.5 only.
    assert_eq!(err("0302000800000001"), OfpError::OFPBRC_BAD_VERSION);
    assert_eq!(err("0702000800000001"), OfpError::OFPBRC_BAD_VERSION);
    assert_eq!(
        err("04120010000000010020000000000000"),
        OfpError::OFPBRC_BAD_STAT
    );
    assert_eq!(
        err("04040010000000010000123400000001"),
        OfpError::OFPBRC_BAD_VENDOR
    );
    assert_eq!(
        err("01040010000000010000232000000077"),
        OfpError::OFPBRC_BAD_SUBTYPE
    );
}

#[test]
fn bad_oxm_length() {
    // eth_type with a 3-byte payload is no field OVS knows.
    assert_eq!(
        err("040e005800000001000000000000000000000000000000000000000000008000ffffffffffffffffffffffff000000000001000b80000a03080000000000000000040018000000000000001000000001ffff000000000000"),
        OfpError::OFPBMC_BAD_FIELD
    );
    // The match ends inside eth_type's payload.
    assert_eq!(
        err("040e005800000001000000000000000000000000000000000000000000008000ffffffffffffffffffffffff000000000001000980000a02080000000000000000040018000000000000001000000001ffff000000000000"),
        OfpError::OFPBMC_BAD_LEN
    );
    // Match type 0 (OpenFlow 1.1 standard) with a 4-byte length.
    assert_eq!(
        err(&fm13(0x38, "0000000400000000")),
        OfpError::OFPBMC_BAD_LEN
    );
}

#[test]
fn duplicate_field() {
    assert_eq!(
        err(&fm13(
            0x58,
            "0001001080000a02080080000a020800 00040018000000000000001000000001ffff000000000000"
        )),
        OfpError::OFPBMC_DUP_FIELD
    );
}

#[test]
fn missing_prerequisite() {
    // tcp_dst without eth_type=0x0800 and ip_proto=6 before it.
    assert_eq!(
        err("040e005800000001000000000000000000000000000000000000000000008000ffffffffffffffffffffffff000000000001000a80001c02001600000000000000040018000000000000001000000001ffff000000000000"),
        OfpError::OFPBMC_BAD_PREREQ
    );
}

#[test]
fn other_match_errors() {
    // ipv4_src 10.0.0.1 under mask 255.0.0.0: value bits outside the mask.
    assert_eq!(
        err(&fm13(
            0x58,
            "00010010800017080a000001ff000000 00040018000000000000001000000001ffff000000000000"
        )),
        OfpError::OFPBMC_BAD_WILDCARDS
    );
    // vlan_pcp 9.
    assert_eq!(
        err("040e005800000001000000000000000000000000000000000000000000008000ffffffffffffffffffffffff000000000001000f80000c02100580000e01090000040018000000000000001000000001ffff000000000000"),
        OfpError::OFPBMC_BAD_VALUE
    );
    // A partial mask on eth_type, which cannot be masked.
    assert_eq!(
        err("040e005800000001000000000000000000000000000000000000000000008000ffffffffffffffffffffffff000000000001000c80000b0408000f000000000000040018000000000000001000000001ffff000000000000"),
        OfpError::OFPBMC_BAD_MASK
    );
}

#[test]
fn bad_action_length() {
    // A 1.3 output action must be 16 bytes, not 8.
    assert_eq!(
        err(&fm13(
            0x48,
            "0001000400000000 00040010000000000000000800000001"
        )),
        OfpError::OFPBAC_BAD_LEN
    );
    // An action longer than its instruction.
    assert_eq!(
        err(&fm13(
            0x50,
            "0001000400000000 00040018000000000000002000000001ffff000000000000"
        )),
        OfpError::OFPBAC_BAD_LEN
    );
    // OpenFlow 1.0: a 16-byte output action.
    assert_eq!(
        err("010e005800000001003fffff00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000008000ffffffffffff000000000010000100000000000000000000"),
        OfpError::OFPBAC_BAD_LEN
    );
}

#[test]
fn unknown_action() {
    assert_eq!(
        err(&fm13(
            0x48,
            "0001000400000000 00040010000000000030000800000000"
        )),
        OfpError::OFPBAC_BAD_TYPE
    );
    assert_eq!(
        err("010e005000000001003fffff00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000008000ffffffffffff00000030000800000000"),
        OfpError::OFPBAC_BAD_TYPE
    );
    assert_eq!(
        err(&fm13(
            0x50,
            "0001000400000000 0004001800000000ffff0010000012340001000000000000"
        )),
        OfpError::OFPBAC_BAD_VENDOR
    );
    assert_eq!(
        err(&fm13(
            0x50,
            "0001000400000000 0004001800000000ffff00100000232000ee000000000000"
        )),
        OfpError::OFPBAC_BAD_VENDOR_TYPE
    );
}

#[test]
fn unknown_instruction() {
    assert_eq!(
        err(&fm13(0x40, "0001000400000000 0007000800000000")),
        OfpError::OFPBIC_UNKNOWN_INST
    );
    assert_eq!(
        err(&fm13(0x40, "0001000400000000 ffff000800002320")),
        OfpError::OFPBIC_BAD_EXPERIMENTER
    );
    assert_eq!(
        err(&fm13(
            0x48,
            "0001000400000000 00010008010000000001000802000000"
        )),
        OfpError::OFPBIC_DUP_INST
    );
    assert_eq!(
        err(&fm13(
            0x48,
            "0001000400000000 00010010010000000000000000000000"
        )),
        OfpError::OFPBIC_BAD_LEN
    );
}

#[test]
fn bad_table_id() {
    // In table 5: goto_table 3 and goto_table 5 do not go forward.
    let in_table5 = |goto: &str| {
        let fixed = "00000000000000000000000000000000\
                     0500000000008000ffffffffffffffffffffffff00000000";
        format!("040e004000000001{fixed}0001000400000000 00010008{goto}000000")
    };

    assert_eq!(err(&in_table5("03")), OfpError::OFPBIC_BAD_TABLE_ID);
    assert_eq!(err(&in_table5("05")), OfpError::OFPBIC_BAD_TABLE_ID);
    // ADD into table 255 ("all tables").
    assert_eq!(
        err("040e00380000000100000000000000000000000000000000ff00000000008000ffffffffffffffffffffffff000000000001000400000000"),
        OfpError::OFPFMFC_BAD_TABLE_ID
    );
}

#[test]
fn bad_role() {
    assert_eq!(
        err("041800180000000100000007000000000000000000000000"),
        OfpError::OFPRRFC_BAD_ROLE
    );
}

/// Error replies encode per version as Open vSwitch does (checked with
/// `ovs-ofctl encode-error-reply`).
#[test]
fn error_encoding_per_version() {
    let req13 = unhex("040e00100000000100000000000000000");
    let req13 = &req13[..16];
    let mut out = Vec::new();
    error_reply(req13, OfpError::NXBRC_NXM_INVALID, Version::V1_3, &mut out).unwrap();
    assert_eq!(
        out,
        unhex("0401002000000001ffff000200002320 040e001000000001 0000000000000000")
    );
    let req10 = unhex("010e001000000001 0000000000000000");
    out.clear();
    error_reply(&req10, OfpError::OFPBMC_BAD_PREREQ, Version::V1_0, &mut out).unwrap();
    assert_eq!(
        out,
        unhex("0101002400000001b0c20000000023200001010401 0e00100000000100000000 00000000")
    );
    // Round trip: the decoded error names the same error.
    let (_, m) = decode(&out).unwrap();
    match m {
        ferrovs::ofp::Message::Error(e) => {
            assert_eq!(
                e.kind,
                ferrovs::ofp::ErrorKind::Known(OfpError::OFPBMC_BAD_PREREQ)
            )
        }
        other => panic!("not an error: {other:?}"),
    }
    // An error with no OpenFlow 1.0 encoding goes out as NXBRC_UNENCODABLE_ERROR.
    out.clear();
    error_reply(&req10, OfpError::OFPMMFC_BAD_RATE, Version::V1_0, &mut out).unwrap();
    assert_eq!(&out[8..20], &unhex("b0c2000000002320 0001 0209")[..]);
}

/// Actions that need fields the match does not provide (checked with `ovs-ofctl ofp-print`:
/// `***decode error: OFPBAC_MATCH_INCONSISTENT***`).
#[test]
fn actions_inconsistent_with_match() {
    // set_field:80->tcp_dst with no match, and with only `ip`.
    assert_eq!(
        err("040e005000000001000000000000000000000000000000000000000000008000ffffffffffffffffffffffff00000000000100040000000000040018000000000019001080001c020050000000000000"),
        OfpError::OFPBAC_MATCH_INCONSISTENT
    );
    assert_eq!(
        err("040e005800000001000000000000000000000000000000000000000000008000ffffffffffffffffffffffff000000000001000a80000a02080000000000000000040018000000000019001080001c020050000000000000"),
        OfpError::OFPBAC_MATCH_INCONSISTENT
    );
    // dec_ttl without ip; pop_vlan without a VLAN.
    assert_eq!(
        err("040e004800000001000000000000000000000000000000000000000000008000ffffffffffffffffffffffff00000000000100040000000000040010000000000018000800000000"),
        OfpError::OFPBAC_MATCH_INCONSISTENT
    );
    assert_eq!(
        err("040e004800000001000000000000000000000000000000000000000000008000ffffffffffffffffffffffff00000000000100040000000000040010000000000012000800000000"),
        OfpError::OFPBAC_MATCH_INCONSISTENT
    );
    // With `tcp` the same set_field is fine.
    assert!(decode(&unhex("040e005800000001000000000000000000000000000000000000000000008000ffffffffffffffffffffffff000000000001000f80000a02080080001401060000040018000000000019001080001c020050000000000000")).is_ok());
}
