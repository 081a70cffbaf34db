//! The ferrovs fast path.
//!
//! This crate owns everything a PMD lcore touches: safe wrappers over DPDK's
//! EAL, mempools, mbufs, ports and rings; packet parsing into a `FlowKey`; the
//! exact-match cache and the megaflow classifier; datapath flows and their
//! actions; and the poll loop. It knows nothing about OpenFlow.

pub mod actions;
pub mod dpcls;
pub mod emc;
pub mod flow;
pub mod key;
pub mod odp;
pub mod parse;
