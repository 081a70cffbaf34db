//! Any text into the flow-syntax parser, for every version: no panics; what parses must
//! print and encode without panicking.
#![no_main]

use ferrovs::ofp::syntax::{format_flow_mod, parse_flow};
use ferrovs::ofp::{Message, Version};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for version in Version::ALL {
        for command in [0, 3] {
            if let Ok(fm) = parse_flow(text, version, command) {
                let _ = format_flow_mod(&fm, version);
                let mut out = Vec::new();
                let _ = Message::FlowMod(fm).encode(version, 1, &mut out);
            }
        }
    }
});
