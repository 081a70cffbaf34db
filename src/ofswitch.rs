//! The OpenFlow switch on the control lcore: what joins connmgr, ofproto,
//! translation and the datapath, and the control-socket commands that look
//! at all of them (`ofproto/trace`, `fdb/show`, `fdb/flush`,
//! `bridge/dump-flows`, `memory/show`, `dpif/show`, `add-port`, `del-port`,
//! `netdev-dpdk/get-mempool-info`, the `dpctl/*` family).
//!
//! Called from the switch's main loop only; nothing here blocks longer than
//! a PMD command round trip.

use std::sync::atomic::AtomicBool;

use crate::bridge::{NetdevBridge, PACKET_POOL_NAME};
use crate::connmgr::{self, ConnKind, Connmgr};
use crate::ctl::{Commands, CtlError};
use crate::dpif::{Dpif, DpifError};
use crate::ofp::port::OFPP_NORMAL;
use crate::ofp::{Action, Instruction, OxmMatch};
use crate::ofproto::{self, Millis, Ofproto, RuleId};
use crate::upcall::UpcallHandler;
use crate::xlate::{self, TableMiss, XlateCtx};

/// The one bridge's name, as `ovs-appctl ofproto/trace br0 …` expects.
pub const BRIDGE_NAME: &str = "br0";
/// MAC learning: entries idle this long are forgotten (OVS's default).
pub const FDB_IDLE_MS: Millis = 300_000;
/// MAC learning: the table's size limit (OVS's default).
pub const FDB_MAX: usize = 8192;
/// The fail-open rule's priority: above every OpenFlow priority, so hidden.
const FAIL_OPEN_PRIORITY: u32 = 0xf0f0f0;

/// What ofproto needs to know of a connection.
pub fn ofproto_conn(info: &connmgr::ConnInfo) -> ofproto::ConnInfo {
    ofproto::ConnInfo {
        id: info.id.0,
        version: info.version,
        role: match info.role {
            connmgr::Role::Equal => ofproto::Role::Equal,
            connmgr::Role::Master => ofproto::Role::Master,
            connmgr::Role::Slave => ofproto::Role::Slave,
        },
        primary: info.kind == ConnKind::Controller,
        flow_mod_table_id: info.flow_mod_table_id,
        miss_send_len: info.miss_send_len,
        invalid_ttl_to_controller: info.invalid_ttl_to_controller,
    }
}

/// Translates and executes the packet-outs a request queued.
pub fn run_packet_outs(ofproto: &mut Ofproto<NetdevBridge>, upcalls: &UpcallHandler, now: Millis) {
    for po in ofproto.dpif_mut().take_packet_outs() {
        let mut key = pmd::key::FlowKey::default();
        pmd::parse::parse(&po.packet, 0, &mut key);
        let out = {
            let ctx = XlateCtx {
                pipeline: &*ofproto,
                fdb: &upcalls.fdb,
                config: &upcalls.config,
                now,
                may_learn: false,
            };
            xlate::translate_actions(&ctx, &key, po.in_port, &po.actions, Some(&po.packet))
        };
        let dpid = ofproto.datapath_id();
        for pi in out.packet_ins.iter().cloned() {
            let packet = pi.packet.unwrap_or_else(|| po.packet.clone());
            let ev = crate::continuation::packet_in_event(pi.userdata, po.in_port, packet, dpid);
            ofproto.send_packet_in(ev);
        }
        let actions: Vec<_> = out
            .actions
            .into_iter()
            .filter(|a| !matches!(a, pmd::actions::DpAction::Userspace { .. }))
            .collect();
        if actions.is_empty() {
            continue;
        }
        let bridge = ofproto.dpif_mut();
        let Some(m) = bridge.alloc_packet(&po.packet) else {
            continue;
        };
        // The packet leaves through PMD 0's queues; its in_port is only a
        // label there (OFPP_CONTROLLER and friends have no datapath port).
        let in_port = if po.in_port <= 0xff00 { po.in_port } else { 0 };
        let _ = bridge.netdev.execute(0, m, in_port, actions.into());
    }
}

/// OpenFlow 1.0 sends table misses to the controller; 1.3 drops them unless
/// a table-miss rule says otherwise. The first controller's version decides.
pub fn table_miss_follows_controller(connmgr: &Connmgr, upcalls: &mut UpcallHandler) {
    let version = connmgr
        .connections()
        .find(|(c, _)| c.kind == ConnKind::Controller)
        .map(|(c, _)| c.version);
    upcalls.config.table_miss = match version {
        Some(v) => TableMiss::for_version(v),
        None => TableMiss::Drop,
    };
}

/// Adds or removes the hidden fail-open rule (`actions=NORMAL` in table 0).
pub fn set_fail_open(
    ofproto: &mut Ofproto<NetdevBridge>,
    open: bool,
    now: Millis,
    rule: &mut Option<RuleId>,
) {
    if open {
        let normal = Instruction::ApplyActions(vec![Action::Output {
            port: OFPP_NORMAL,
            max_len: 0,
        }]);
        *rule = ofproto.add_internal_flow(
            0,
            &OxmMatch::default(),
            FAIL_OPEN_PRIORITY,
            vec![normal],
            now,
        );
        log::info!("no controller: standalone fail mode, acting as a learning switch");
    } else if let Some(id) = rule.take() {
        ofproto.remove_internal_flow(id);
        log::info!("a controller is connected: leaving fail-open mode");
    }
    ofproto.dpif_mut().revalidate();
}

/// The commands [`command`] answers itself: name, usage, fewest and most arguments.
const COMMANDS: &[(&str, &str, usize, usize)] = &[
    ("ofproto/trace", "BRIDGE FLOW", 2, 2),
    ("fdb/show", "BRIDGE", 1, 1),
    ("fdb/flush", "[BRIDGE]", 0, 1),
    ("upcall/show", "", 0, 0),
    ("bridge/dump-flows", "BRIDGE", 1, 1),
    ("memory/show", "", 0, 0),
    ("dpif/show", "", 0, 0),
    ("add-port", "NAME DEVARGS", 2, 2),
    ("del-port", "NAME", 1, 1),
    ("netdev-dpdk/get-mempool-info", "", 0, 0),
    ("continuation/show", "", 0, 0),
];

/// Registers the bridge's commands on the control socket.
pub fn register_commands(commands: &mut Commands) -> Result<(), CtlError> {
    crate::dpctl::register(commands)?;
    for &(name, usage, min_args, max_args) in COMMANDS {
        commands.register(name, usage, min_args, max_args)?;
    }
    Ok(())
}

/// An error for a bad argument of `name`: the reason, then the command's usage.
fn usage_error(name: &str, reason: impl std::fmt::Display) -> String {
    let usage = COMMANDS.iter().find(|c| c.0 == name).map_or("", |c| c.1);
    format!("{name}: {reason}\nusage: {name} {usage}\n")
}

/// Answers a control-socket command.
pub fn command(
    ofproto: &mut Ofproto<NetdevBridge>,
    upcalls: &mut UpcallHandler,
    connmgr: &Connmgr,
    stop: &AtomicBool,
    name: &str,
    args: &[String],
    now: Millis,
) -> Result<String, String> {
    let bridge = ofproto.dpif().name().to_owned();
    let check_bridge = |b: &str| {
        if b == bridge {
            Ok(())
        } else {
            Err(usage_error(
                name,
                format_args!("no bridge named {b} (this switch has {bridge})"),
            ))
        }
    };
    let rules = |ofproto: &Ofproto<NetdevBridge>| {
        (0..=u8::MAX)
            .map(|t| ofproto.rules_in_table(t).count())
            .sum::<usize>()
    };
    match name {
        "ofproto/trace" => {
            check_bridge(&args[0])?;
            let key =
                xlate::parse_trace_flow(&args[1], |p| ofproto.port(p).map(|port| port.dp_port))
                    .map_err(|e| usage_error(name, e))?;
            let ctx = XlateCtx {
                pipeline: &*ofproto,
                fdb: &upcalls.fdb,
                config: &upcalls.config,
                now,
                may_learn: false,
            };
            Ok(xlate::trace(&ctx, &key, None))
        }
        "fdb/show" => {
            check_bridge(&args[0])?;
            Ok(upcalls.fdb.show(now))
        }
        "fdb/flush" => {
            if let Some(b) = args.first() {
                check_bridge(b)?;
            }
            upcalls.fdb.flush();
            upcalls.invalidate(ofproto, now);
            Ok("table successfully flushed\n".into())
        }
        "bridge/dump-flows" => {
            check_bridge(&args[0])?;
            Ok(crate::ctl::inspect::dump_flows(ofproto, now))
        }
        "memory/show" => Ok(crate::ctl::inspect::memory(&[
            ("fdb", upcalls.fdb.len()),
            ("megaflows", upcalls.n_megaflows()),
            ("ofconns", connmgr.connections().count()),
            ("pmds", ofproto.dpif().netdev.pmds().len()),
            ("ports", ofproto.ports().count()),
            ("rules", rules(ofproto)),
        ])),
        "dpif/show" => Ok(crate::ctl::inspect::dpif_show(ofproto)),
        "upcall/show" => {
            let s = upcalls.stats;
            Ok(format!(
                "{bridge}:\n  flows: {} (installed {}, failed {}, expired {})\n  misses: {} translated: {} executed: {} held: {}\n  packet-ins: {}\n  revalidations: {} (fixed {}, deleted {}, flushed all {})\n",
                upcalls.n_megaflows(),
                s.installed,
                s.install_failed,
                s.expired,
                s.misses,
                s.translations,
                s.executed,
                s.held,
                s.packet_ins,
                s.invalidations,
                s.fixed,
                s.revalidated_away,
                s.flushes
            ))
        }
        "add-port" => add_port(ofproto, &args[0], &args[1], now),
        "netdev-dpdk/get-mempool-info" => {
            let (in_use, total) = ofproto.dpif().pool_usage();
            Ok(format!(
                "mempool {PACKET_POOL_NAME}\n  size={total}\n  avail_count={}\n  in_use_count={in_use}\n",
                total.saturating_sub(in_use)
            ))
        }
        "del-port" => del_port(ofproto, upcalls, &args[0], now),
        "continuation/show" => Ok(crate::continuation::show()),
        _ => crate::dpctl::handle(&mut ofproto.dpif_mut().netdev, stop, name, args),
    }
}

/// `add-port NAME DEVARGS`: probes and opens the device, hands it to the
/// PMDs and announces it to controllers (PORT_STATUS ADD, sent by the main
/// loop with ofproto's other events). Returns the reply text or the error
/// sentence; anything that changes ports at run time (a configuration
/// reload, say) goes through here and [`del_port`].
pub fn add_port(
    ofproto: &mut Ofproto<NetdevBridge>,
    name: &str,
    devargs: &str,
    now: Millis,
) -> Result<String, String> {
    match ofproto.add_port(name, devargs, now) {
        Ok(no) => Ok(format!("added port {name} as port {no}\n")),
        Err(DpifError::PortExists(_)) => Err(format!(
            "add-port: a port named {name} exists already; choose another name\n"
        )),
        Err(DpifError::Refused(why)) => Err(format!("add-port: {why}\n")),
        Err(e) => Err(format!("add-port: port {name}: {e}\n")),
    }
}

/// `del-port NAME`: the PMDs let go of the port, its megaflows go, ofproto
/// forgets it (PORT_STATUS DELETE; OpenFlow rules that output to it stay and
/// output nothing), and the device is closed and removed.
pub fn del_port(
    ofproto: &mut Ofproto<NetdevBridge>,
    upcalls: &mut UpcallHandler,
    name: &str,
    now: Millis,
) -> Result<String, String> {
    let Some((no, dp_port)) = ofproto
        .ports()
        .find(|p| p.desc.name == name)
        .map(|p| (p.desc.port_no, p.dp_port))
    else {
        let mut names: Vec<&str> = ofproto
            .dpif()
            .ports
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        names.sort_unstable();
        return Err(format!(
            "del-port: no port named {name}; the ports are: {}\n",
            names.join(", ")
        ));
    };
    ofproto.del_port(no).map_err(|e| match e {
        DpifError::Refused(why) => format!("del-port: {why}\n"),
        e => format!("del-port: port {name}: {e}\n"),
    })?;
    // Now, not at the next revalidation: flows that no megaflow tracks
    // (start-up and dpctl flows) must go too, and the port's megaflows must
    // go whatever revalidation decides about the others.
    upcalls.forget_port(ofproto, dp_port, now);
    Ok(format!("deleted port {name} (port {no})\n"))
}
