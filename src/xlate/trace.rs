//! `ofproto/trace`: one translation, told step by step for a person.
//!
//! The report lists each table visited with the rule that matched (or "No match"), the
//! actions as they run (indented per resubmit level), then the final flow, the megaflow
//! and the datapath actions. The megaflow printed is exactly the mask [`super::translate`]
//! returns for the same key, so what the trace shows is what the datapath installs.
//! Tracing never changes state: learning is reported ("would learn"), not applied.

use pmd::key::{FieldId, FlowKey, FlowMask};
use pmd::odp::{format_actions, format_key};

use super::pipeline::Xlate;
use super::XlateCtx;

/// Traces `key` (and `packet`, for packet-in contents) through the pipeline.
pub fn trace(ctx: &XlateCtx<'_>, key: &FlowKey, packet: Option<&[u8]>) -> String {
    let (out, lines, final_key) = Xlate::new(ctx, key, packet, true).run();
    let mut s = String::new();
    s.push_str(&format!("Flow: {}\n\n", format_key(key, &readable(key))));
    for l in &lines {
        s.push_str(l);
        s.push('\n');
    }
    s.push('\n');
    if final_key == *key {
        s.push_str("Final flow: unchanged\n");
    } else {
        s.push_str(&format!(
            "Final flow: {}\n",
            format_key(&final_key, &readable(&final_key))
        ));
    }
    s.push_str(&format!("Megaflow: {}\n", format_key(key, &out.mask)));
    s.push_str(&format!(
        "Datapath actions: {}\n",
        format_actions(&out.actions)
    ));
    if let Some(r) = &out.drop_reason {
        s.push_str(&format!("Drop reason: {r}\n"));
    }
    for l in &out.learned {
        s.push_str(&format!(
            "Would learn: {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x} on VLAN {} at port {}\n",
            l.mac[0], l.mac[1], l.mac[2], l.mac[3], l.mac[4], l.mac[5], l.vlan, l.port
        ));
    }
    if out.needs_userspace {
        s.push_str("This flow is handled by the userspace slow path because it sends packets to the controller.\n");
    }
    s
}

/// An exact mask that leaves out metadata the packet does not use (mark, hash).
fn readable(key: &FlowKey) -> FlowMask {
    let mut m = FlowMask::exact();
    for f in [FieldId::PktMark, FieldId::DpHash] {
        if key.get(f) == 0 {
            m.set(f, 0);
        }
    }
    m
}
