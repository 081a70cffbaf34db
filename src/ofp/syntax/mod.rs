//! The `ovs-ofctl` text syntax for flows, matches and actions: parsing and printing.
//!
//! Vocabulary: a *flow* in text is `key=value` pairs and protocol shortcuts (`ip`, `tcp`,
//! …) followed by `actions=…`. Printing follows Open vSwitch's canonical order and spelling
//! (what `ovs-ofctl ofp-print` and `dump-flows` show), not the order of the wire or of the
//! input; tests compare our output with `ovs-ofctl`'s over the recorded corpus.
//!
//! Both directions go through [`fields::FlowFields`], a match keyed by field meaning
//! (OpenFlow 1.0 match, OXM and NXM entries all map onto it), so that a 1.0 and a 1.3 flow
//! print the same way and the parser can encode for either version.

pub mod fields;
pub mod group_meter;
pub mod parse;
pub mod print;

pub use group_meter::{format_group_mod, format_meter_mod, parse_group, parse_meter};
pub use parse::{
    parse_actions, parse_flow, parse_flow_message, parse_packet_out, parse_port_mod, parse_spec,
    parse_stats_request, FlowSpec, SyntaxError,
};
pub use print::{
    format_actions, format_flow_mod, format_flow_stats, format_instructions, format_match,
    format_nx_flow_stats,
};
