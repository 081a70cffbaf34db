//! Any text into the flow, group and meter syntax parsers, for every version: no panics;
//! what parses must print and encode without panicking.
#![no_main]

use ferrovs::ofp::syntax::{
    format_flow_mod, format_group_mod, format_meter_mod, parse_flow_message, parse_group,
    parse_meter, parse_stats_request,
};
use ferrovs::ofp::{Message, Version};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for version in Version::ALL {
        for command in [0, 3] {
            if let Ok(msg) = parse_flow_message(text, version, command) {
                if let Message::FlowMod(fm) = &msg {
                    let _ = format_flow_mod(fm, version);
                }
                let mut out = Vec::new();
                let _ = msg.encode(version, 1, &mut out);
            }
        }
        if let Ok(m) = parse_stats_request(text, version, false) {
            let _ = m.encode(version, 1, &mut Vec::new());
        }
        if let Ok(g) = parse_group(text, 0, version) {
            let _ = format_group_mod(&g);
            let _ = Message::GroupMod(g).encode(version, 1, &mut Vec::new());
        }
    }
    if let Ok(m) = parse_meter(text, 0) {
        let _ = format_meter_mod(&m);
        let _ = Message::MeterMod(m).encode(Version::V1_3, 1, &mut Vec::new());
    }
});
