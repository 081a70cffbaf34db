//! Our printer against Open vSwitch's: for every flow-mod `ovs-ofctl` sent while the corpus
//! was recorded, `ovs-ofctl ofp-print` of those bytes (stored beside them) must read exactly
//! like our `format_flow_mod` of the decoded message. Because the codec round-trips these
//! bytes exactly, this is also `ofp-print` of what we emit.

use ferrovs::ofp::syntax::format_flow_mod;
use ferrovs::ofp::{decode, Message, NxMessage, Version};

mod ofp_corpus;

#[test]
fn flow_mods_print_like_ovs_ofctl() {
    let mut checked = 0;
    let mut failures = Vec::new();
    for case in ofp_corpus::load() {
        for msg in &case.msgs {
            let Ok((h, m)) = decode(&msg.bytes) else {
                continue;
            };
            let fm = match &m {
                Message::FlowMod(fm) => fm,
                Message::Nx(NxMessage::FlowMod(fm)) => fm,
                _ => continue,
            };
            let Some(first) = msg.print.first() else {
                continue;
            };
            let Some((_, theirs)) = first.split_once("): ") else {
                // Open vSwitch could not decode its own message (e.g. a set_field whose
                // prerequisite only the flow's match provides); nothing to compare.
                continue;
            };
            let version = Version::from_wire(h.version).expect("version");
            let ours = format_flow_mod(fm, version);
            checked += 1;
            if ours != theirs {
                failures.push(format!(
                    "{} {}:\n  ovs:  {theirs}\n  ours: {ours}",
                    case.name, case.version
                ));
            }
        }
    }
    assert!(checked >= 200, "only {checked} flow-mods compared");
    assert!(
        failures.is_empty(),
        "{} of {checked} differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
