//! Round trips over bytes recorded from `ovs-ofctl` (tests/data/ofp/corpus.txt, made by
//! scripts/ofp-corpus.py): every message must decode, and encoding the decoded value for
//! the same version and xid must give back exactly the recorded bytes.

use ferrovs::ofp::{decode, Message, Version};

mod ofp_corpus;
use ofp_corpus::{load, Case};

fn round_trip(case: &Case, bytes: &[u8]) -> Result<Message, String> {
    let (h, m) = decode(bytes).map_err(|e| format!("{}: decode failed: {e}", case.name))?;
    let version = Version::from_wire(h.version).ok_or("version")?;
    let mut out = Vec::new();
    m.encode(version, h.xid, &mut out)
        .map_err(|e| format!("{}: encode failed: {e}", case.name))?;
    if out != bytes {
        return Err(format!(
            "{} {}: round trip differs\n  in:  {}\n  out: {}",
            case.name,
            case.version,
            hex(bytes),
            hex(&out)
        ));
    }
    Ok(m)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn every_recorded_message_round_trips() {
    let cases = load();
    let mut failures = Vec::new();
    let mut n = 0;
    for case in &cases {
        for msg in &case.msgs {
            n += 1;
            // A few messages ovs-ofctl sends are ones Open vSwitch itself refuses to decode;
            // we must refuse them with the same error.
            let ovs_error = msg.print.first().and_then(|p| {
                let at = p.find("***decode error: ")?;
                p[at..]
                    .strip_prefix("***decode error: ")?
                    .strip_suffix("***")
            });
            if let Some(name) = ovs_error {
                let ours = decode(&msg.bytes).err().map(|e| e.name());
                if ours != Some(name) {
                    failures.push(format!("{}: OVS says {name}, we say {ours:?}", case.name));
                }
                continue;
            }
            if let Err(e) = round_trip(case, &msg.bytes) {
                failures.push(e);
            }
        }
    }
    assert!(n >= 600, "corpus too small: {n} messages");
    assert!(
        failures.is_empty(),
        "{} of {n} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn corpus_covers_every_message_kind() {
    let mut kinds = std::collections::BTreeSet::new();
    for case in load() {
        for msg in &case.msgs {
            if let Ok((_, m)) = decode(&msg.bytes) {
                let k = format!("{m:?}");
                let mut parts = k.split(['(', ' ', '{']);
                let outer = parts.next().unwrap_or("").to_string();
                if outer == "Nx" {
                    kinds.insert(format!("Nx({}", parts.next().unwrap_or("")));
                }
                kinds.insert(outer);
            }
        }
    }
    for want in [
        "Hello",
        "EchoRequest",
        "FeaturesRequest",
        "GetConfigRequest",
        "SetConfig",
        "PacketOut",
        "FlowMod",
        "GroupMod",
        "PortMod",
        "TableMod",
        "MultipartRequest",
        "BarrierRequest",
        "MeterMod",
        "BundleControl",
        "BundleAdd",
        "Nx(Resume",
        "Nx(FlowMod",
        "Nx(SetPacketInFormat",
        "Nx(FlowModTableId",
    ] {
        assert!(kinds.contains(want), "no {want} in corpus: {kinds:?}");
    }
}

/// Version negotiation with the HELLOs `ovs-ofctl -O VERSION` really sends: we must settle on
/// the version it was told to use.
#[test]
fn negotiation_with_ovs_ofctl_hellos() {
    use ferrovs::ofp::hello::negotiate;
    let mut n = 0;
    for case in load() {
        let want = match case.version.as_str() {
            "OpenFlow10" => Version::V1_0,
            "OpenFlow13" => Version::V1_3,
            "OpenFlow14" => Version::V1_4,
            _ => Version::V1_5,
        };
        for msg in &case.msgs {
            if let Ok((h, Message::Hello(hello))) = decode(&msg.bytes) {
                assert_eq!(
                    negotiate(&Version::ALL, h.version, &hello),
                    Ok(want),
                    "{}",
                    case.name
                );
                // A switch that speaks only other versions must fail with HELLO_FAILED.
                let others: Vec<Version> =
                    Version::ALL.into_iter().filter(|v| *v != want).collect();
                assert_eq!(
                    negotiate(&others, h.version, &hello),
                    Err(ferrovs::ofp::OfpError::OFPHFC_INCOMPATIBLE),
                    "{}",
                    case.name
                );
                n += 1;
            }
        }
    }
    assert!(n >= 300, "only {n} hellos");
}
