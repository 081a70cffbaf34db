//! The datapath's control-socket commands, as `ovs-appctl` users know them:
//! `dpctl/add-flow`, `dpctl/mod-flow`, `dpctl/del-flow`, `dpctl/dump-flows`,
//! `dpctl/del-flows`, `dpctl/show`, `dpif-netdev/pmd-stats-show`,
//! `dpif-netdev/pmd-stats-clear` and `exit`; plus the `--flows FILE`
//! reader, which takes the same flow syntax.
//!
//! Arguments follow `ovs-dpctl`: an optional datapath name first (accepted
//! and ignored: ferrovs has one datapath), then the flow and, for add and
//! mod, the actions, e.g. `dpctl/add-flow "in_port(1),eth_type(0x0800)" 2`.
//! A single argument holding a whole `dump-flows` line (`…, actions:2`) is
//! accepted too. Options: `-s`/`--statistics` prints the flow's stats after
//! mod and del and adds port counters to `show`, `--clear` zeroes them on mod, `--may-create` lets mod create,
//! `-m`/`--more` shows ufids in dumps.
//!
//! Who calls it: the control lcore's socket handler, with the [`NetdevDpif`].
//! Every error is one sentence naming the command; no input panics, and
//! the switch goes on running.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use pmd::flow::{FlowStats, PutFlags};
use pmd::odp::{format_flow, format_stats, parse_flow, OdpFlow};

use crate::ctl::{Commands, CtlError};
use crate::dpif::netdev::NetdevDpif;

/// Registers the commands [`handle`] serves.
pub fn register(commands: &mut Commands) -> Result<(), CtlError> {
    commands.register("dpctl/add-flow", "[DP] FLOW ACTIONS", 1, 4)?;
    commands.register(
        "dpctl/mod-flow",
        "[--clear] [--may-create] [-s] [DP] FLOW ACTIONS",
        1,
        6,
    )?;
    commands.register("dpctl/del-flow", "[-s] [DP] FLOW", 1, 3)?;
    commands.register("dpctl/dump-flows", "[-m] [DP]", 0, 2)?;
    commands.register("dpctl/del-flows", "[DP]", 0, 1)?;
    commands.register("dpctl/show", "[-s] [DP]", 0, 2)?;
    commands.register("dpif-netdev/pmd-stats-show", "", 0, 0)?;
    commands.register("dpif-netdev/pmd-stats-clear", "", 0, 0)?;
    commands.register("exit", "", 0, 0)?;
    Ok(())
}

/// Answers one registered command. `stop` is set by `exit`.
pub fn handle(
    dpif: &mut NetdevDpif,
    stop: &AtomicBool,
    name: &str,
    args: &[String],
) -> Result<String, String> {
    let fail = |msg: String| format!("{name}: {msg}\n");
    let (opts, pos) = split_options(args);
    let known: &[&str] = match name {
        "dpctl/add-flow" => &[],
        "dpctl/mod-flow" => &["--clear", "--may-create", "-s", "--statistics"],
        "dpctl/del-flow" => &["-s", "--statistics"],
        "dpctl/dump-flows" => &["-m", "--more"],
        "dpctl/show" => &["-s", "--statistics"],
        _ => &[],
    };
    if let Some(bad) = opts.iter().find(|o| !known.contains(o)) {
        return Err(fail(format!("unknown option {bad}.")));
    }
    let stats_wanted = opts.iter().any(|o| *o == "-s" || *o == "--statistics");
    match name {
        "dpctl/add-flow" | "dpctl/mod-flow" => {
            let flow = flow_with_actions(&pos).map_err(fail)?;
            let flags = if name == "dpctl/add-flow" {
                PutFlags::CREATE
            } else {
                PutFlags {
                    create: opts.contains(&"--may-create"),
                    modify: true,
                    zero_stats: opts.contains(&"--clear"),
                }
            };
            let before = dpif
                .flow_put(
                    flow.ufid,
                    &flow.key,
                    &flow.mask,
                    Arc::from(flow.actions),
                    flags,
                )
                .map_err(|e| fail(format!("{e}.")))?;
            Ok(stats_line(stats_wanted, &before))
        }
        "dpctl/del-flow" => {
            let flow = flow_only(&pos).map_err(fail)?;
            // A ufid names the flow on its own; otherwise key and mask do.
            let last = dpif
                .flow_del(flow.ufid, &flow.key, &flow.mask)
                .map_err(|e| fail(format!("{e}.")))?;
            Ok(stats_line(stats_wanted, &last))
        }
        "dpctl/dump-flows" => {
            if pos.len() > 1 {
                return Err(fail(format!("unexpected argument {}.", pos[1])));
            }
            let more = opts.iter().any(|o| *o == "-m" || *o == "--more");
            let (flows, now) = dpif.flow_dump().map_err(|e| fail(format!("{e}.")))?;
            let mut out = String::new();
            for f in &flows {
                out.push_str(&format_flow(f, now, more));
                out.push('\n');
            }
            Ok(out)
        }
        "dpctl/del-flows" => {
            dpif.flow_flush().map_err(|e| fail(format!("{e}.")))?;
            Ok(String::new())
        }
        "dpctl/show" => dpif.show(stats_wanted).map_err(|e| fail(format!("{e}."))),
        "dpif-netdev/pmd-stats-show" => Ok(dpif.pmd_stats_show()),
        "dpif-netdev/pmd-stats-clear" => {
            dpif.pmd_stats_clear();
            Ok(String::new())
        }
        "exit" => {
            stop.store(true, Ordering::Relaxed);
            Ok(String::new())
        }
        _ => Err(fail("is not a datapath command.".into())),
    }
}

fn stats_line(wanted: bool, s: &FlowStats) -> String {
    if wanted {
        // The clock is irrelevant for `used` of the returned stats: print
        // "never" or an age of 0.
        format!("{}\n", format_stats(s, s.used_ms))
    } else {
        String::new()
    }
}

/// Options (arguments starting with `-`) and positional arguments.
fn split_options(args: &[String]) -> (Vec<&str>, Vec<&str>) {
    let mut opts = Vec::new();
    let mut pos = Vec::new();
    for a in args {
        if a.starts_with('-') && a.len() > 1 {
            opts.push(a.as_str());
        } else {
            pos.push(a.as_str());
        }
    }
    (opts, pos)
}

/// `[DP] FLOW ACTIONS`, or one whole line with `actions:`.
fn flow_with_actions(pos: &[&str]) -> Result<OdpFlow, String> {
    let line = match pos {
        [line] if line.contains("actions:") => line.to_string(),
        [_] => return Err("needs a flow and its actions, e.g. \"in_port(1)\" 2.".into()),
        [flow, actions] | [_, flow, actions] => format!("{flow}, actions:{actions}"),
        _ => return Err("takes [DP] FLOW ACTIONS.".into()),
    };
    parse_line(&line)
}

/// `[DP] FLOW` (a key, or `ufid:…`).
fn flow_only(pos: &[&str]) -> Result<OdpFlow, String> {
    let flow = match pos {
        [flow] | [_, flow] => flow,
        _ => return Err("takes [DP] FLOW.".into()),
    };
    if flow.contains("actions:") {
        return Err("takes a flow without actions.".into());
    }
    parse_line(&format!("{flow}, actions:drop"))
}

fn parse_line(line: &str) -> Result<OdpFlow, String> {
    let flow = parse_flow(line).map_err(|e| sentence(e.message()))?;
    if flow.stats.is_some() {
        return Err("takes no statistics (packets:, bytes:, used:).".into());
    }
    Ok(flow)
}

/// Ends a message with a full stop.
fn sentence(msg: &str) -> String {
    if msg.ends_with('.') {
        msg.to_string()
    } else {
        format!("{msg}.")
    }
}

/// Reads a `--flows` file: one flow per line in dpctl syntax (`FLOW,
/// actions:ACTIONS`), `#` comments and blank lines ignored. An error names
/// the file and line.
pub fn read_flows_file(path: &Path) -> Result<Vec<(usize, OdpFlow)>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read flows file {}: {e}", path.display()))?;
    parse_flows_text(&text).map_err(|(line, msg)| format!("{}:{line}: {msg}", path.display()))
}

/// The lines of a flows file, parsed; an error gives its 1-based line.
pub fn parse_flows_text(text: &str) -> Result<Vec<(usize, OdpFlow)>, (usize, String)> {
    let mut flows = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let flow = parse_line(line).map_err(|e| (i + 1, e))?;
        flows.push((i + 1, flow));
    }
    Ok(flows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flows_text_skips_comments_and_names_bad_lines() {
        let text = "# header\n\nin_port(1), actions:2  # trailing\nin_port(2),eth(), actions:1\n";
        let flows = parse_flows_text(text).unwrap();
        assert_eq!(flows.iter().map(|(l, _)| *l).collect::<Vec<_>>(), [3, 4]);
        assert_eq!(flows[0].1.key.in_port(), 1);
        let err = parse_flows_text("in_port(1), actions:2\nin_port(1)\n").unwrap_err();
        assert_eq!(err.0, 2);
        assert!(err.1.starts_with("missing `actions:`"), "{}", err.1);
        assert!(err.1.ends_with('.'));
    }

    #[test]
    fn argument_shapes() {
        assert_eq!(
            flow_with_actions(&["in_port(1)", "2"])
                .unwrap()
                .key
                .in_port(),
            1
        );
        assert_eq!(
            flow_with_actions(&["netdev@ovs-netdev", "in_port(3)", "2"])
                .unwrap()
                .key
                .in_port(),
            3
        );
        assert!(flow_with_actions(&["in_port(1)"]).is_err());
        assert_eq!(flow_only(&["in_port(4)"]).unwrap().key.in_port(), 4);
        assert!(flow_only(&["in_port(4), actions:2"]).is_err());
    }
}
