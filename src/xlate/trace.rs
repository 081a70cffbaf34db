//! `ofproto/trace`: one translation, told step by step for a person.
//!
//! The report lists each table visited with the rule that matched (or "No match"), the
//! actions as they run (indented per resubmit level), then the final flow, the megaflow
//! and the datapath actions. The megaflow printed is exactly the mask [`super::translate`]
//! returns for the same key, so what the trace shows is what the datapath installs.
//! Tracing never changes state: learning is reported ("would learn"), not applied.
//! [`parse_trace_flow`] reads the flow argument in OpenFlow or datapath syntax.

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

/// A flow `ofproto/trace` could not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TraceFlowError(String);

/// Reads the flow of `ofproto/trace`: OpenFlow syntax as `ovs-ofctl` writes matches
/// (`in_port=1,udp,nw_src=10.0.0.1,tp_dst=53`) or datapath syntax (`in_port(1),eth(…),…`).
/// Fields not given are 0 (an IPv4 packet with TTL 0 unless `nw_ttl` says otherwise).
/// `dp_port` maps an OpenFlow port number to its datapath port.
pub fn parse_trace_flow(
    text: &str,
    dp_port: impl Fn(u32) -> Option<u32>,
) -> Result<FlowKey, TraceFlowError> {
    use crate::ofp::oxm::Field;
    if text.contains('(') {
        return pmd::odp::parse_key(text)
            .map(|(k, _)| k)
            .map_err(|e| TraceFlowError(e.to_string()));
    }
    let spec = crate::ofp::syntax::parse_spec(text).map_err(|e| TraceFlowError(e.to_string()))?;
    if spec.actions.is_some() {
        return Err(TraceFlowError("a traced flow has no actions".into()));
    }
    let mut key = FlowKey::default();
    for (field, m) in &spec.fields.fields {
        let v = m.value.as_slice();
        let first = v.first().copied().unwrap_or(0);
        match field.canonical() {
            Field::InPort => {
                let p = m.value.u64() as u32;
                let dp = dp_port(p).ok_or_else(|| {
                    TraceFlowError(format!("no port {}", crate::ofp::port::name(p)))
                })?;
                key.set_in_port(dp);
            }
            // The syntax keeps DSCP where it sits in the TOS byte.
            Field::IpDscp => key.set_ip_tos((first & 0xfc) | (key.ip_tos() & 3)),
            Field::NxIpFrag => key.set_ip_frag(first & 3),
            f => {
                super::store_in_key(&mut key, f, v);
            }
        }
    }
    if let Some((tci, mask)) = spec.fields.vlan_tci {
        if tci & mask & super::convert::VLAN_PRESENT != 0 {
            key.set_vlan_outer_tpid(super::convert::ETH_TYPE_VLAN);
            key.set_vlan_outer_tci(tci & mask & !super::convert::VLAN_PRESENT);
        }
    }
    Ok(key)
}
