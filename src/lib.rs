//! ferrovs: an OpenFlow software switch on a DPDK poll-mode datapath.
//!
//! The binary's control lcore lives here: the command line ([`cli`]), the
//! configuration file ([`config`]) and the switch's life cycle ([`switch`]):
//! EAL start, ports, PMD lcores, the status line, and a clean stop; the
//! control socket ([`ctl`]); the OpenFlow codec ([`ofp`]). The fast path
//! itself is the `pmd` crate.

pub mod cli;
pub mod config;
pub mod ctl;
pub mod dpif;
pub mod ofp;
pub mod ofproto;
pub mod switch;
pub mod xlate;
