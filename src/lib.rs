//! ferrovs: an OpenFlow software switch on a DPDK poll-mode datapath.
//!
//! The binary's control lcore lives here: the command line ([`cli`]), the
//! configuration file ([`config`]), controller connections ([`connmgr`]), the control socket ([`ctl`]) with the
//! datapath commands ([`dpctl`]), the datapath interface ([`dpif`]: the
//! trait ofproto uses and its DPDK implementation), the OpenFlow codec
//! ([`ofp`]), Prometheus metrics and the PMD reports ([`metrics`]), the
//! OpenFlow switch core ([`ofproto`]) and the switch's life
//! cycle ([`switch`]): EAL start, ports, PMD lcores, the status line, and a
//! clean stop, with live reconfiguration ([`live`]: SIGHUP, `set-controller`).
//! [`appctl`] is the control socket's client. The fast path itself is the
//! `pmd` crate.

pub mod appctl;
pub mod bridge;
pub mod cli;
pub mod config;
pub mod connmgr;
pub mod continuation;
pub mod coverage;
pub mod ctl;
pub mod dpctl;
pub mod dpif;
pub mod live;
pub mod metrics;
pub mod ofp;
pub mod ofproto;
pub mod ofswitch;
pub mod switch;
pub mod upcall;
pub mod vlog;
pub mod xlate;
