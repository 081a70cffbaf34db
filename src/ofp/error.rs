//! OpenFlow errors: one enum for every error Open vSwitch can send or understand.
//!
//! Vocabulary: an error has a *name* (`OFPBRC_BAD_LEN`, as in the OpenFlow specs and Open
//! vSwitch) and, per protocol version, a *wire triplet* (vendor, type, code). Standard errors
//! have vendor 0. Extension errors belong to Nicira (`0x2320`) or ONF (`0x4f4e4600`); on
//! OpenFlow 1.0 and 1.1 they travel as `NXET_VENDOR`/`NXVC_VENDOR_ERROR` followed by a
//! `nx_vendor_error` (vendor, type, code); on 1.2 and later as `OFPET_EXPERIMENTER` with the
//! extension's type in the code field and the experimenter id after it.
//!
//! The table below was generated from `ovs-ofctl print-error NAME` (Open vSwitch 3.1) for each
//! name, so the encoding per version is exactly what Open vSwitch puts on the wire. An error
//! with no encoding in a version is sent as `NXBRC_UNENCODABLE_ERROR`, as Open vSwitch does.
//!
//! Every decoder in `ofp` returns `Result<_, OfpError>`; the switch answers a failed request
//! with [`ErrorMsg::reply_to`], which carries up to 64 bytes of the request.

use super::wire::{Put, Reader};
use super::Version;

/// Nicira's vendor / experimenter id.
pub const NX_VENDOR_ID: u32 = 0x0000_2320;
/// The Open Networking Foundation's experimenter id.
pub const ONF_VENDOR_ID: u32 = 0x4f4e_4600;
/// OpenFlow 1.0/1.1 error type that announces a `nx_vendor_error`.
pub const NXET_VENDOR: u16 = 0xb0c2;
/// OpenFlow 1.2+ error type for experimenter errors.
pub const OFPET_EXPERIMENTER: u16 = 0xffff;
/// How many bytes of the offending request an error reply carries.
pub const ERROR_DATA_MAX: usize = 64;

/// One wire encoding of an error: `(vendor, type, code)`. For 1.2+ extension errors `code`
/// is unused (0) and `type` is the experimenter's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Triplet {
    pub vendor: u32,
    pub etype: u16,
    pub code: u16,
}

const fn t(vendor: u32, etype: u16, code: u16) -> Option<Triplet> {
    Some(Triplet {
        vendor,
        etype,
        code,
    })
}

macro_rules! ofp_errors {
    ($($name:ident => [$($enc:expr),*],)*) => {
        /// Every OpenFlow error Open vSwitch knows, by its OVS name.
        #[allow(non_camel_case_types)]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum OfpError {
            $($name,)*
        }

        /// Every error, in Open vSwitch's order (which decides ties when decoding).
        pub const ALL_ERRORS: &[OfpError] = &[$(OfpError::$name,)*];

        impl OfpError {
            /// The OVS name, e.g. `OFPBRC_BAD_LEN`.
            pub fn name(self) -> &'static str {
                match self {
                    $(OfpError::$name => stringify!($name),)*
                }
            }

            /// Encodings for OpenFlow 1.0 ..= 1.5 (index = wire version - 1).
            fn table(self) -> [Option<Triplet>; 6] {
                #[allow(non_snake_case)]
                const fn OF(a: u16, b: u16) -> Option<Triplet> { t(0, a, b) }
                #[allow(non_snake_case)]
                const fn NX(a: u16, b: u16) -> Option<Triplet> { t(NX_VENDOR_ID, a, b) }
                #[allow(non_snake_case)]
                const fn ONF(a: u16, b: u16) -> Option<Triplet> { t(ONF_VENDOR_ID, a, b) }
                const NO: Option<Triplet> = None;
                match self {
                    $(OfpError::$name => [$($enc),*],)*
                }
            }
        }
    };
}

ofp_errors! {
    OFPHFC_INCOMPATIBLE => [OF(0, 0), OF(0, 0), OF(0, 0), OF(0, 0), OF(0, 0), OF(0, 0)],
    OFPHFC_EPERM => [OF(0, 1), OF(0, 1), OF(0, 1), OF(0, 1), OF(0, 1), OF(0, 1)],
    OFPBRC_BAD_VERSION => [OF(1, 0), OF(1, 0), OF(1, 0), OF(1, 0), OF(1, 0), OF(1, 0)],
    OFPBRC_BAD_TYPE => [OF(1, 1), OF(1, 1), OF(1, 1), OF(1, 1), OF(1, 1), OF(1, 1)],
    OFPBRC_BAD_STAT => [OF(1, 2), OF(1, 2), OF(1, 2), OF(1, 2), OF(1, 2), OF(1, 2)],
    OFPBRC_BAD_VENDOR => [OF(1, 3), OF(1, 3), OF(1, 3), OF(1, 3), OF(1, 3), OF(1, 3)],
    OFPBRC_BAD_SUBTYPE => [OF(1, 4), OF(1, 4), OF(1, 4), OF(1, 4), OF(1, 4), OF(1, 4)],
    OFPBRC_EPERM => [OF(1, 5), OF(1, 5), OF(1, 5), OF(1, 5), OF(1, 5), OF(1, 5)],
    OFPBRC_BAD_LEN => [OF(1, 6), OF(1, 6), OF(1, 6), OF(1, 6), OF(1, 6), OF(1, 6)],
    OFPBRC_BUFFER_EMPTY => [OF(1, 7), OF(1, 7), OF(1, 7), OF(1, 7), OF(1, 7), OF(1, 7)],
    OFPBRC_BUFFER_UNKNOWN => [OF(1, 8), OF(1, 8), OF(1, 8), OF(1, 8), OF(1, 8), OF(1, 8)],
    OFPBRC_BAD_TABLE_ID => [NX(1, 512), OF(1, 9), OF(1, 9), OF(1, 9), OF(1, 9), OF(1, 9)],
    OFPBRC_IS_SECONDARY => [OF(1, 5), OF(1, 5), OF(1, 10), OF(1, 10), OF(1, 10), OF(1, 10)],
    OFPBRC_BAD_PORT => [NX(1, 514), NX(1, 514), OF(1, 11), OF(1, 11), OF(1, 11), OF(1, 11)],
    OFPBRC_BAD_PACKET => [NO, NO, OF(1, 12), OF(1, 12), OF(1, 12), OF(1, 12)],
    OFPBRC_MULTIPART_BUFFER_OVERFLOW => [NO, NO, NO, OF(1, 13), OF(1, 13), OF(1, 13)],
    NXBRC_NXM_INVALID => [NX(1, 256), NX(1, 256), NX(2, 0), NX(2, 0), NX(2, 0), NX(2, 0)],
    NXBRC_NXM_BAD_TYPE => [NX(1, 257), NX(1, 257), NX(3, 0), NX(3, 0), NX(3, 0), NX(3, 0)],
    NXBRC_MUST_BE_ZERO => [NX(1, 515), NX(1, 515), NX(4, 0), NX(4, 0), NX(4, 0), NX(4, 0)],
    NXBRC_BAD_REASON => [NX(1, 516), NX(1, 516), NX(5, 0), NX(5, 0), NX(5, 0), NX(5, 0)],
    NXBRC_FM_BAD_EVENT => [NX(1, 520), NX(1, 520), NX(9, 0), NX(9, 0), NX(9, 0), NX(9, 0)],
    NXBRC_UNENCODABLE_ERROR => [NX(1, 521), NX(1, 521), NX(10, 0), NX(10, 0), NX(10, 0), NX(10, 0)],
    OFPBAC_BAD_TYPE => [OF(2, 0), OF(2, 0), OF(2, 0), OF(2, 0), OF(2, 0), OF(2, 0)],
    OFPBAC_BAD_LEN => [OF(2, 1), OF(2, 1), OF(2, 1), OF(2, 1), OF(2, 1), OF(2, 1)],
    OFPBAC_BAD_VENDOR => [OF(2, 2), OF(2, 2), OF(2, 2), OF(2, 2), OF(2, 2), OF(2, 2)],
    OFPBAC_BAD_VENDOR_TYPE => [OF(2, 3), OF(2, 3), OF(2, 3), OF(2, 3), OF(2, 3), OF(2, 3)],
    OFPBAC_BAD_OUT_PORT => [OF(2, 4), OF(2, 4), OF(2, 4), OF(2, 4), OF(2, 4), OF(2, 4)],
    OFPBAC_BAD_ARGUMENT => [OF(2, 5), OF(2, 5), OF(2, 5), OF(2, 5), OF(2, 5), OF(2, 5)],
    OFPBAC_EPERM => [OF(2, 6), OF(2, 6), OF(2, 6), OF(2, 6), OF(2, 6), OF(2, 6)],
    OFPBAC_TOO_MANY => [OF(2, 7), OF(2, 7), OF(2, 7), OF(2, 7), OF(2, 7), OF(2, 7)],
    OFPBAC_BAD_QUEUE => [OF(2, 8), OF(2, 8), OF(2, 8), OF(2, 8), OF(2, 8), OF(2, 8)],
    OFPBAC_BAD_OUT_GROUP => [NX(2, 9), OF(2, 9), OF(2, 9), OF(2, 9), OF(2, 9), OF(2, 9)],
    OFPBAC_MATCH_INCONSISTENT => [NX(1, 522), OF(2, 10), OF(2, 10), OF(2, 10), OF(2, 10), OF(2, 10)],
    OFPBAC_UNSUPPORTED_ORDER => [NO, OF(2, 11), OF(2, 11), OF(2, 11), OF(2, 11), OF(2, 11)],
    OFPBAC_BAD_TAG => [NO, OF(2, 12), OF(2, 12), OF(2, 12), OF(2, 12), OF(2, 12)],
    OFPBAC_BAD_SET_TYPE => [NX(1, 523), NX(1, 523), OF(2, 13), OF(2, 13), OF(2, 13), OF(2, 13)],
    OFPBAC_BAD_SET_LEN => [NX(1, 524), NX(1, 524), OF(2, 14), OF(2, 14), OF(2, 14), OF(2, 14)],
    OFPBAC_BAD_SET_ARGUMENT => [NX(1, 525), NX(1, 525), OF(2, 15), OF(2, 15), OF(2, 15), OF(2, 15)],
    OFPBAC_BAD_SET_MASK => [NO, NO, NO, ONF(4250, 0), ONF(4250, 0), OF(2, 16)],
    NXBAC_MUST_BE_ZERO => [NX(2, 256), NX(2, 256), NX(11, 0), NX(11, 0), NX(11, 0), NX(11, 0)],
    NXBAC_BAD_CONJUNCTION => [NX(2, 526), NX(2, 526), NX(15, 0), NX(15, 0), NX(15, 0), NX(15, 0)],
    OFPBIC_UNKNOWN_INST => [NO, OF(3, 0), OF(3, 0), OF(3, 0), OF(3, 0), OF(3, 0)],
    OFPBIC_UNSUP_INST => [NX(2, 257), OF(3, 1), OF(3, 1), OF(3, 1), OF(3, 1), OF(3, 1)],
    OFPBIC_BAD_TABLE_ID => [NO, OF(3, 2), OF(3, 2), OF(3, 2), OF(3, 2), OF(3, 2)],
    OFPBIC_UNSUP_METADATA => [NO, OF(3, 3), OF(3, 3), OF(3, 3), OF(3, 3), OF(3, 3)],
    OFPBIC_UNSUP_METADATA_MASK => [NO, OF(3, 4), OF(3, 4), OF(3, 4), OF(3, 4), OF(3, 4)],
    OFPBIC_BAD_EXPERIMENTER => [NO, OF(3, 5), OF(3, 5), OF(3, 5), OF(3, 5), OF(3, 5)],
    OFPBIC_BAD_EXP_TYPE => [NO, OF(3, 5), OF(3, 6), OF(3, 6), OF(3, 6), OF(3, 6)],
    OFPBIC_BAD_LEN => [NO, NO, OF(3, 7), OF(3, 7), OF(3, 7), OF(3, 7)],
    OFPBIC_EPERM => [NO, NO, OF(3, 8), OF(3, 8), OF(3, 8), OF(3, 8)],
    OFPBIC_DUP_INST => [NO, NX(3, 256), ONF(2600, 0), ONF(2600, 0), OF(3, 9), OF(3, 9)],
    OFPBMC_BAD_TYPE => [NO, OF(4, 0), OF(4, 0), OF(4, 0), OF(4, 0), OF(4, 0)],
    OFPBMC_BAD_LEN => [NO, OF(4, 1), OF(4, 1), OF(4, 1), OF(4, 1), OF(4, 1)],
    OFPBMC_BAD_TAG => [NO, OF(4, 2), OF(4, 2), OF(4, 2), OF(4, 2), OF(4, 2)],
    OFPBMC_BAD_DL_ADDR_MASK => [NO, OF(4, 3), OF(4, 3), OF(4, 3), OF(4, 3), OF(4, 3)],
    OFPBMC_BAD_NW_ADDR_MASK => [NO, OF(4, 4), OF(4, 4), OF(4, 4), OF(4, 4), OF(4, 4)],
    OFPBMC_BAD_WILDCARDS => [NX(1, 262), OF(4, 5), OF(4, 5), OF(4, 5), OF(4, 5), OF(4, 5)],
    OFPBMC_BAD_FIELD => [NX(0, 263), OF(4, 6), OF(4, 6), OF(4, 6), OF(4, 6), OF(4, 6)],
    OFPBMC_BAD_VALUE => [NX(1, 258), OF(4, 7), OF(4, 7), OF(4, 7), OF(4, 7), OF(4, 7)],
    OFPBMC_BAD_MASK => [NX(1, 259), NX(1, 259), OF(4, 8), OF(4, 8), OF(4, 8), OF(4, 8)],
    OFPBMC_BAD_PREREQ => [NX(1, 260), NX(1, 260), OF(4, 9), OF(4, 9), OF(4, 9), OF(4, 9)],
    OFPBMC_DUP_FIELD => [NX(1, 261), NX(1, 261), OF(4, 10), OF(4, 10), OF(4, 10), OF(4, 10)],
    OFPBMC_EPERM => [NO, NO, OF(4, 11), OF(4, 11), OF(4, 11), OF(4, 11)],
    OFPFMFC_UNKNOWN => [NO, OF(5, 0), OF(5, 0), OF(5, 0), OF(5, 0), OF(5, 0)],
    OFPFMFC_TABLE_FULL => [OF(3, 0), OF(5, 1), OF(5, 1), OF(5, 1), OF(5, 1), OF(5, 1)],
    OFPFMFC_BAD_TABLE_ID => [NO, OF(5, 2), OF(5, 2), OF(5, 2), OF(5, 2), OF(5, 2)],
    OFPFMFC_OVERLAP => [OF(3, 1), OF(5, 3), OF(5, 3), OF(5, 3), OF(5, 3), OF(5, 3)],
    OFPFMFC_EPERM => [OF(3, 2), OF(5, 4), OF(5, 4), OF(5, 4), OF(5, 4), OF(5, 4)],
    OFPFMFC_BAD_TIMEOUT => [NO, OF(5, 5), OF(5, 5), OF(5, 5), OF(5, 5), OF(5, 5)],
    OFPFMFC_BAD_EMERG_TIMEOUT => [OF(3, 3), NO, NO, NO, NO, NO],
    OFPFMFC_BAD_COMMAND => [OF(3, 4), OF(5, 6), OF(5, 6), OF(5, 6), OF(5, 6), OF(5, 6)],
    OFPFMFC_BAD_FLAGS => [NX(3, 258), NX(5, 258), OF(5, 7), OF(5, 7), OF(5, 7), OF(5, 7)],
    OFPFMFC_UNSUPPORTED => [OF(3, 5), NO, NO, NO, NO, NO],
    NXFMFC_HARDWARE => [NX(5, 256), NX(5, 256), NX(12, 0), NX(12, 0), NX(12, 0), NX(12, 0)],
    NXFMFC_BAD_TABLE_ID => [NX(5, 257), NX(5, 257), NX(13, 0), NX(13, 0), NX(13, 0), NX(13, 0)],
    OFPGMFC_GROUP_EXISTS => [NX(6, 0), OF(6, 0), OF(6, 0), OF(6, 0), OF(6, 0), OF(6, 0)],
    OFPGMFC_INVALID_GROUP => [NX(6, 1), OF(6, 1), OF(6, 1), OF(6, 1), OF(6, 1), OF(6, 1)],
    OFPGMFC_WEIGHT_UNSUPPORTED => [NX(6, 2), OF(6, 2), OF(6, 2), OF(6, 2), OF(6, 2), OF(6, 2)],
    OFPGMFC_OUT_OF_GROUPS => [NX(6, 3), OF(6, 3), OF(6, 3), OF(6, 3), OF(6, 3), OF(6, 3)],
    OFPGMFC_OUT_OF_BUCKETS => [NX(6, 4), OF(6, 4), OF(6, 4), OF(6, 4), OF(6, 4), OF(6, 4)],
    OFPGMFC_CHAINING_UNSUPPORTED => [NX(6, 5), OF(6, 5), OF(6, 5), OF(6, 5), OF(6, 5), OF(6, 5)],
    OFPGMFC_WATCH_UNSUPPORTED => [NX(6, 6), OF(6, 6), OF(6, 6), OF(6, 6), OF(6, 6), OF(6, 6)],
    OFPGMFC_LOOP => [NX(6, 7), OF(6, 7), OF(6, 7), OF(6, 7), OF(6, 7), OF(6, 7)],
    OFPGMFC_UNKNOWN_GROUP => [NX(6, 8), OF(6, 8), OF(6, 8), OF(6, 8), OF(6, 8), OF(6, 8)],
    OFPGMFC_CHAINED_GROUP => [NX(6, 9), NO, OF(6, 9), OF(6, 9), OF(6, 9), OF(6, 9)],
    OFPGMFC_BAD_TYPE => [NX(6, 10), NO, OF(6, 10), OF(6, 10), OF(6, 10), OF(6, 10)],
    OFPGMFC_BAD_COMMAND => [NX(6, 11), NO, OF(6, 11), OF(6, 11), OF(6, 11), OF(6, 11)],
    OFPGMFC_BAD_BUCKET => [NX(6, 12), NO, OF(6, 12), OF(6, 12), OF(6, 12), OF(6, 12)],
    OFPGMFC_BAD_WATCH => [NX(6, 13), NO, OF(6, 13), OF(6, 13), OF(6, 13), OF(6, 13)],
    OFPGMFC_EPERM => [NX(6, 14), NO, OF(6, 14), OF(6, 14), OF(6, 14), OF(6, 14)],
    OFPGMFC_UNKNOWN_BUCKET => [NX(6, 15), NO, NO, NO, NO, OF(6, 15)],
    OFPGMFC_BUCKET_EXISTS => [NX(6, 16), NO, NO, NO, NO, OF(6, 16)],
    OFPPMFC_BAD_PORT => [OF(4, 0), OF(7, 0), OF(7, 0), OF(7, 0), OF(7, 0), OF(7, 0)],
    OFPPMFC_BAD_HW_ADDR => [OF(4, 1), OF(7, 1), OF(7, 1), OF(7, 1), OF(7, 1), OF(7, 1)],
    OFPPMFC_BAD_CONFIG => [NO, OF(7, 2), OF(7, 2), OF(7, 2), OF(7, 2), OF(7, 2)],
    OFPPMFC_BAD_ADVERTISE => [NO, OF(7, 3), OF(7, 3), OF(7, 3), OF(7, 3), OF(7, 3)],
    OFPPMFC_EPERM => [NO, NO, OF(7, 4), OF(7, 4), OF(7, 4), OF(7, 4)],
    OFPTMFC_BAD_TABLE => [NO, OF(8, 0), OF(8, 0), OF(8, 0), OF(8, 0), OF(8, 0)],
    OFPTMFC_BAD_CONFIG => [NO, OF(8, 1), OF(8, 1), OF(8, 1), OF(8, 1), OF(8, 1)],
    OFPTMFC_EPERM => [NO, NO, OF(8, 2), OF(8, 2), OF(8, 2), OF(8, 2)],
    OFPQOFC_BAD_PORT => [OF(5, 0), OF(9, 0), OF(9, 0), OF(9, 0), OF(9, 0), OF(9, 0)],
    OFPQOFC_BAD_QUEUE => [OF(5, 1), OF(9, 1), OF(9, 1), OF(9, 1), OF(9, 1), OF(9, 1)],
    OFPQOFC_EPERM => [OF(5, 2), OF(9, 2), OF(9, 2), OF(9, 2), OF(9, 2), OF(9, 2)],
    NXQOFC_QUEUE_ERROR => [NO, NO, NO, NO, NX(23, 0), NX(23, 0)],
    OFPSCFC_BAD_FLAGS => [NO, OF(10, 0), OF(10, 0), OF(10, 0), OF(10, 0), OF(10, 0)],
    OFPSCFC_BAD_LEN => [NO, OF(10, 1), OF(10, 1), OF(10, 1), OF(10, 1), OF(10, 1)],
    OFPSCFC_EPERM => [NO, NO, OF(10, 2), OF(10, 2), OF(10, 2), OF(10, 2)],
    OFPRRFC_STALE => [NO, NO, OF(11, 0), OF(11, 0), OF(11, 0), OF(11, 0)],
    OFPRRFC_UNSUP => [NO, NO, OF(11, 1), OF(11, 1), OF(11, 1), OF(11, 1)],
    OFPRRFC_BAD_ROLE => [NX(1, 513), NX(1, 513), OF(11, 2), OF(11, 2), OF(11, 2), OF(11, 2)],
    OFPMMFC_UNKNOWN => [NO, NO, NO, OF(12, 0), OF(12, 0), OF(12, 0)],
    OFPMMFC_METER_EXISTS => [NO, NO, NO, OF(12, 1), OF(12, 1), OF(12, 1)],
    OFPMMFC_INVALID_METER => [NO, NO, NO, OF(12, 2), OF(12, 2), OF(12, 2)],
    OFPMMFC_UNKNOWN_METER => [NO, NO, NO, OF(12, 3), OF(12, 3), OF(12, 3)],
    OFPMMFC_BAD_COMMAND => [NO, NO, NO, OF(12, 4), OF(12, 4), OF(12, 4)],
    OFPMMFC_BAD_FLAGS => [NO, NO, NO, OF(12, 5), OF(12, 5), OF(12, 5)],
    OFPMMFC_BAD_RATE => [NO, NO, NO, OF(12, 6), OF(12, 6), OF(12, 6)],
    OFPMMFC_BAD_BURST => [NO, NO, NO, OF(12, 7), OF(12, 7), OF(12, 7)],
    OFPMMFC_BAD_BAND => [NO, NO, NO, OF(12, 8), OF(12, 8), OF(12, 8)],
    OFPMMFC_BAD_BAND_VALUE => [NO, NO, NO, OF(12, 9), OF(12, 9), OF(12, 9)],
    OFPMMFC_OUT_OF_METERS => [NO, NO, NO, OF(12, 10), OF(12, 10), OF(12, 10)],
    OFPMMFC_OUT_OF_BANDS => [NO, NO, NO, OF(12, 11), OF(12, 11), OF(12, 11)],
    OFPTFFC_BAD_TABLE => [NO, NO, NO, OF(13, 0), OF(13, 0), OF(13, 0)],
    OFPTFFC_BAD_METADATA => [NO, NO, NO, OF(13, 1), OF(13, 1), OF(13, 1)],
    OFPTFFC_EPERM => [NO, NO, NO, OF(13, 5), OF(13, 5), OF(13, 5)],
    OFPBPC_BAD_TYPE => [NX(13, 2), NX(13, 2), NX(25, 0), OF(13, 2), OF(14, 0), OF(14, 0)],
    OFPBPC_BAD_LEN => [NX(13, 3), NX(13, 3), NX(26, 0), OF(13, 3), OF(14, 1), OF(14, 1)],
    OFPBPC_BAD_VALUE => [NX(13, 4), NX(13, 4), NX(27, 0), OF(13, 4), OF(14, 2), OF(14, 2)],
    OFPBPC_TOO_MANY => [NX(14, 3), NX(14, 3), NX(28, 0), ONF(4443, 0), OF(14, 3), OF(14, 3)],
    OFPBPC_DUP_TYPE => [NX(14, 4), NX(14, 4), NX(29, 0), ONF(4444, 0), OF(14, 4), OF(14, 4)],
    OFPBPC_BAD_EXPERIMENTER => [NX(14, 5), NX(14, 5), NX(30, 0), ONF(4445, 0), OF(14, 5), OF(14, 5)],
    OFPBPC_BAD_EXP_TYPE => [NX(14, 6), NX(14, 6), NX(31, 0), ONF(4446, 0), OF(14, 6), OF(14, 6)],
    OFPBPC_BAD_EXP_VALUE => [NX(14, 7), NX(14, 7), NX(32, 0), ONF(4447, 0), OF(14, 7), OF(14, 7)],
    OFPBPC_EPERM => [NX(14, 8), NX(14, 8), NX(33, 0), ONF(4448, 0), OF(14, 8), OF(14, 8)],
    OFPACFC_INVALID => [NO, NO, NO, ONF(2370, 0), OF(15, 0), OF(15, 0)],
    OFPACFC_UNSUPPORTED => [NO, NO, NO, ONF(2371, 0), OF(15, 1), OF(15, 1)],
    OFPACFC_EPERM => [NO, NO, NO, ONF(2372, 0), OF(15, 2), OF(15, 2)],
    OFPBFC_UNKNOWN => [NO, NO, NO, ONF(2300, 0), OF(17, 0), OF(17, 0)],
    OFPBFC_EPERM => [NO, NO, NO, ONF(2301, 0), OF(17, 1), OF(17, 1)],
    OFPBFC_BAD_ID => [NO, NO, NO, ONF(2302, 0), OF(17, 2), OF(17, 2)],
    OFPBFC_BUNDLE_EXIST => [NO, NO, NO, ONF(2303, 0), OF(17, 3), OF(17, 3)],
    OFPBFC_BUNDLE_CLOSED => [NO, NO, NO, ONF(2304, 0), OF(17, 4), OF(17, 4)],
    OFPBFC_OUT_OF_BUNDLES => [NO, NO, NO, ONF(2305, 0), OF(17, 5), OF(17, 5)],
    OFPBFC_BAD_TYPE => [NO, NO, NO, ONF(2306, 0), OF(17, 6), OF(17, 6)],
    OFPBFC_BAD_FLAGS => [NO, NO, NO, ONF(2307, 0), OF(17, 7), OF(17, 7)],
    OFPBFC_MSG_BAD_LEN => [NO, NO, NO, ONF(2308, 0), OF(17, 8), OF(17, 8)],
    OFPBFC_MSG_BAD_XID => [NO, NO, NO, ONF(2309, 0), OF(17, 9), OF(17, 9)],
    OFPBFC_MSG_UNSUP => [NO, NO, NO, ONF(2310, 0), OF(17, 10), OF(17, 10)],
    OFPBFC_MSG_CONFLICT => [NO, NO, NO, ONF(2311, 0), OF(17, 11), OF(17, 11)],
    OFPBFC_MSG_TOO_MANY => [NO, NO, NO, ONF(2312, 0), OF(17, 12), OF(17, 12)],
    OFPBFC_MSG_FAILED => [NO, NO, NO, ONF(2313, 0), OF(17, 13), OF(17, 13)],
    OFPBFC_TIMEOUT => [NO, NO, NO, ONF(2314, 0), OF(17, 14), OF(17, 14)],
    OFPBFC_BUNDLE_IN_PROGRESS => [NO, NO, NO, ONF(2315, 0), OF(17, 15), OF(17, 15)],
    OFPBFC_BAD_VERSION => [NO, NO, NO, NO, NX(22, 0), NX(22, 0)],
    OFPMOFC_UNKNOWN => [NO, NO, NO, NO, OF(16, 0), OF(16, 0)],
    OFPMOFC_MONITOR_EXISTS => [NX(1, 517), NX(1, 517), NX(6, 0), NX(6, 0), OF(16, 1), OF(16, 1)],
    OFPMOFC_INVALID_MONITOR => [NO, NO, NO, NO, OF(16, 2), OF(16, 2)],
    OFPMOFC_UNKNOWN_MONITOR => [NX(1, 519), NX(1, 519), NX(8, 0), NX(8, 0), OF(16, 3), OF(16, 3)],
    OFPMOFC_BAD_COMMAND => [NO, NO, NO, NO, OF(16, 4), OF(16, 4)],
    OFPMOFC_BAD_FLAGS => [NX(1, 518), NX(1, 518), NX(7, 0), NX(7, 0), OF(16, 5), OF(16, 5)],
    OFPMOFC_BAD_TABLE_ID => [NO, NO, NO, NO, OF(16, 6), OF(16, 6)],
    OFPMOFC_BAD_OUT => [NO, NO, NO, NO, OF(16, 7), OF(16, 7)],
    NXTTMFC_BAD_COMMAND => [NX(1, 527), NX(1, 527), NX(16, 0), NX(16, 0), NX(16, 0), NX(16, 0)],
    NXTTMFC_BAD_OPT_LEN => [NX(1, 528), NX(1, 528), NX(17, 0), NX(17, 0), NX(17, 0), NX(17, 0)],
    NXTTMFC_BAD_FIELD_IDX => [NX(1, 529), NX(1, 529), NX(18, 0), NX(18, 0), NX(18, 0), NX(18, 0)],
    NXTTMFC_TABLE_FULL => [NX(1, 530), NX(1, 530), NX(19, 0), NX(19, 0), NX(19, 0), NX(19, 0)],
    NXTTMFC_ALREADY_MAPPED => [NX(1, 531), NX(1, 531), NX(20, 0), NX(20, 0), NX(20, 0), NX(20, 0)],
    NXTTMFC_DUP_ENTRY => [NX(1, 532), NX(1, 532), NX(21, 0), NX(21, 0), NX(21, 0), NX(21, 0)],
    NXR_NOT_SUPPORTED => [NX(1, 533), NX(1, 533), NX(34, 0), NX(34, 0), NX(34, 0), NX(34, 0)],
    NXR_STALE => [NX(1, 534), NX(1, 534), NX(35, 0), NX(35, 0), NX(35, 0), NX(35, 0)],
    NXST_NOT_CONFIGURED => [NX(1, 535), NX(1, 535), NX(36, 0), NX(36, 0), NX(36, 0), NX(36, 0)],
}

impl OfpError {
    /// The wire triplet in `version`, or `None` when this error does not exist there.
    pub fn triplet(self, version: Version) -> Option<Triplet> {
        self.table()[usize::from(version.wire() - 1)]
    }

    /// Parses an OVS error name (`OFPBRC_BAD_LEN`; an `OFPERR_` prefix is accepted).
    pub fn from_name(name: &str) -> Option<OfpError> {
        let name = name.strip_prefix("OFPERR_").unwrap_or(name);
        ALL_ERRORS.iter().copied().find(|e| e.name() == name)
    }

    /// Finds the error that `triplet` means in `version`; the first in table order wins.
    pub fn from_triplet(version: Version, triplet: Triplet) -> Option<OfpError> {
        ALL_ERRORS
            .iter()
            .copied()
            .find(|e| e.triplet(version) == Some(triplet))
    }
}

impl std::fmt::Display for OfpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::error::Error for OfpError {}

/// What an OFPT_ERROR message says: a known error or a triplet we have no name for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    Known(OfpError),
    Unknown(Triplet),
}

/// An OFPT_ERROR message. `data` is usually the start of the request that failed (for
/// HELLO_FAILED, an ASCII explanation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorMsg {
    pub kind: ErrorKind,
    pub data: Vec<u8>,
}

impl ErrorMsg {
    /// The error reply to `request` (its raw bytes), carrying at most 64 of them.
    pub fn reply_to(error: OfpError, request: &[u8]) -> ErrorMsg {
        let n = request.len().min(ERROR_DATA_MAX);
        ErrorMsg {
            kind: ErrorKind::Known(error),
            data: request[..n].to_vec(),
        }
    }

    pub(crate) fn parse(version: Version, r: &mut Reader<'_>) -> Result<ErrorMsg, OfpError> {
        let etype = r.u16()?;
        let code = r.u16()?;
        // An extension error names its vendor next; vendor 0 would make it look standard,
        // so such a message is kept as the plain (type, code) it is on the wire.
        let vendor = r
            .rest()
            .get(..4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
        let extension = vendor.is_some_and(|v| v != 0);
        let triplet = if extension && etype == NXET_VENDOR && code == 0 && version.wire() <= 2 {
            Triplet {
                vendor: r.u32()?,
                etype: r.u16()?,
                code: r.u16()?,
            }
        } else if extension && etype == OFPET_EXPERIMENTER && version.wire() >= 3 {
            Triplet {
                vendor: r.u32()?,
                etype: code,
                code: 0,
            }
        } else {
            Triplet {
                vendor: 0,
                etype,
                code,
            }
        };
        let kind = match OfpError::from_triplet(version, triplet) {
            Some(e) => ErrorKind::Known(e),
            None => ErrorKind::Unknown(triplet),
        };
        Ok(ErrorMsg {
            kind,
            data: r.take_rest().to_vec(),
        })
    }

    /// The triplet this message carries in `version`, after Open vSwitch's substitution of
    /// `NXBRC_UNENCODABLE_ERROR` for errors that `version` cannot express.
    pub fn wire_triplet(&self, version: Version) -> Triplet {
        match &self.kind {
            ErrorKind::Unknown(t) => *t,
            ErrorKind::Known(e) => e
                .triplet(version)
                .or_else(|| OfpError::NXBRC_UNENCODABLE_ERROR.triplet(version))
                .unwrap_or(Triplet {
                    vendor: 0,
                    etype: 1,
                    code: 0,
                }),
        }
    }

    pub(crate) fn emit(&self, version: Version, out: &mut Vec<u8>) {
        let t = self.wire_triplet(version);
        if t.vendor == 0 {
            out.put_u16(t.etype);
            out.put_u16(t.code);
        } else if version.wire() <= 2 {
            out.put_u16(NXET_VENDOR);
            out.put_u16(0);
            out.put_u32(t.vendor);
            out.put_u16(t.etype);
            out.put_u16(t.code);
        } else {
            out.put_u16(OFPET_EXPERIMENTER);
            out.put_u16(t.etype);
            out.put_u32(t.vendor);
        }
        out.extend_from_slice(&self.data);
    }
}

impl std::fmt::Display for ErrorMsg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.kind {
            ErrorKind::Known(e) => write!(f, "{e}"),
            ErrorKind::Unknown(t) => write!(
                f,
                "vendor {:#x}, type {}, code {}",
                t.vendor, t.etype, t.code
            ),
        }
    }
}

impl ErrorMsg {
    /// The `OFPET_HELLO_FAILED`/`OFPHFC_INCOMPATIBLE` error sent when version negotiation
    /// fails, carrying a human-readable explanation as its data.
    pub fn hello_failed(explanation: &str) -> ErrorMsg {
        ErrorMsg {
            kind: ErrorKind::Known(OfpError::OFPHFC_INCOMPATIBLE),
            data: explanation.as_bytes().to_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(vendor: u32, etype: u16, code: u16) -> Option<Triplet> {
        Some(Triplet {
            vendor,
            etype,
            code,
        })
    }

    /// Values from `ovs-ofctl print-error NAME` (Open vSwitch 3.1).
    #[test]
    fn triplets_per_version_match_ovs() {
        use Version::*;
        assert_eq!(OfpError::OFPBRC_BAD_LEN.triplet(V1_0), t(0, 1, 6));
        assert_eq!(
            OfpError::OFPBRC_BAD_TABLE_ID.triplet(V1_0),
            t(NX_VENDOR_ID, 1, 512)
        );
        assert_eq!(OfpError::OFPBRC_BAD_TABLE_ID.triplet(V1_3), t(0, 1, 9));
        assert_eq!(
            OfpError::NXBRC_NXM_INVALID.triplet(V1_0),
            t(NX_VENDOR_ID, 1, 256)
        );
        assert_eq!(
            OfpError::NXBRC_NXM_INVALID.triplet(V1_3),
            t(NX_VENDOR_ID, 2, 0)
        );
        assert_eq!(
            OfpError::OFPBMC_BAD_PREREQ.triplet(V1_0),
            t(NX_VENDOR_ID, 1, 260)
        );
        assert_eq!(OfpError::OFPBMC_BAD_PREREQ.triplet(V1_3), t(0, 4, 9));
        assert_eq!(
            OfpError::OFPBIC_DUP_INST.triplet(V1_3),
            t(ONF_VENDOR_ID, 2600, 0)
        );
        assert_eq!(OfpError::OFPBIC_DUP_INST.triplet(V1_4), t(0, 3, 9));
        assert_eq!(
            OfpError::OFPBFC_MSG_FAILED.triplet(V1_3),
            t(ONF_VENDOR_ID, 2313, 0)
        );
        assert_eq!(OfpError::OFPFMFC_OVERLAP.triplet(V1_0), t(0, 3, 1));
        assert_eq!(OfpError::OFPFMFC_OVERLAP.triplet(V1_3), t(0, 5, 3));
        assert_eq!(OfpError::OFPMMFC_BAD_RATE.triplet(V1_0), None);
        assert_eq!(
            OfpError::OFPRRFC_BAD_ROLE.triplet(V1_0),
            t(NX_VENDOR_ID, 1, 513)
        );
        assert_eq!(ALL_ERRORS.len(), 171);
    }

    #[test]
    fn decoding_prefers_the_first_name() {
        // (1,5) in OpenFlow 1.0 is both EPERM and IS_SECONDARY; OVS reads it as EPERM.
        let e = OfpError::from_triplet(
            Version::V1_0,
            Triplet {
                vendor: 0,
                etype: 1,
                code: 5,
            },
        );
        assert_eq!(e, Some(OfpError::OFPBRC_EPERM));
        assert_eq!(
            OfpError::from_name("OFPERR_OFPBRC_BAD_LEN"),
            Some(OfpError::OFPBRC_BAD_LEN)
        );
    }

    #[test]
    fn hello_failed_round_trip() {
        let m = ErrorMsg::hello_failed("We support versions 0x01, 0x04");
        let mut out = Vec::new();
        m.emit(Version::V1_3, &mut out);
        assert_eq!(&out[..4], &[0, 0, 0, 0]);
        let back = ErrorMsg::parse(
            Version::V1_3,
            &mut Reader::new(&out, OfpError::OFPBRC_BAD_LEN),
        )
        .unwrap();
        assert_eq!(back, m);
    }
}
