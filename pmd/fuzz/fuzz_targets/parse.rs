//! Fuzz target: the packet parser on arbitrary bytes.
//!
//! `parse` must never panic or read past the frame, whatever the bytes, and
//! every offset it reports must lie inside the frame. libFuzzer runs with
//! AddressSanitizer, so an out-of-bounds read would also be caught.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pmd::key::FlowKey;
use pmd::parse::parse;

fuzz_target!(|frame: &[u8]| {
    let mut key = FlowKey::default();
    let info = parse(frame, 1, &mut key);
    for ofs in [info.ethertype_ofs, info.mpls_ofs, info.l3_ofs, info.l4_ofs]
        .into_iter()
        .flatten()
    {
        assert!(usize::from(ofs) <= frame.len());
    }
    assert!(usize::from(info.l4_end) <= frame.len());
    assert_eq!(key.in_port(), 1);
});
