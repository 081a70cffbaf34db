//! Any bytes into the OpenFlow decoder: it must never panic; whatever it accepts must
//! re-encode, and decoding and encoding our own output again must change nothing. (Our
//! first output may differ from the input where the input was not canonical: nonzero pad
//! bytes, names that are not UTF-8.)
#![no_main]

use ferrovs::ofp::{decode, Version};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok((header, msg)) = decode(data) else {
        return;
    };
    let Some(version) = Version::from_wire(header.version) else {
        return;
    };
    let mut out = Vec::new();
    if msg.encode(version, header.xid, &mut out).is_ok() {
        let (_, again) = decode(&out).expect("our own encoding decodes");
        let mut out2 = Vec::new();
        again
            .encode(version, header.xid, &mut out2)
            .expect("a decoded message re-encodes");
        assert_eq!(out, out2, "encode(decode(ours)) changed our encoding");
    }
});
