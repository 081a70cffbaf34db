//! Live reconfiguration: what the running switch changes without a restart.
//!
//! Purpose: two ways to change a running switch, both applied between two iterations of the
//! control lcore's loop, so nothing else is stopped or restarted:
//! - control-socket commands in `ovs-vsctl`'s words: `set-controller BRIDGE TARGET…`,
//!   `del-controller`, `get-controller`, `set-fail-mode BRIDGE secure|standalone`,
//!   `del-fail-mode`, `get-fail-mode`;
//! - SIGHUP, which re-reads the `--config` file (the flags still override it) and applies the
//!   keys that can change live ([`LIVE_KEYS`]); every other changed key is named in the log
//!   as needing a restart, and keeps its old value until then. A file with mistakes changes
//!   nothing: its mistakes are logged and the switch runs on as it was.
//!
//! Vocabulary: the *running* configuration is the [`SwitchConfig`] the switch started with,
//! updated by every live change, so that the next SIGHUP compares the file against what is
//! really in effect (a controller set with `set-controller` is replaced by the file's on the
//! next SIGHUP: the file is the truth when it is re-read).
//!
//! Who calls it: the switch's main loop (control lcore) only. Controller changes keep the
//! connections to targets that stay (see `Connmgr::set_controllers`).

use std::time::Instant;

use crate::config::SwitchConfig;
use crate::connmgr::{Connmgr, ControllerTarget, FailMode};
use crate::ctl::{Commands, CtlError, UNLIMITED_ARGS};

/// The configuration keys SIGHUP applies to a running switch.
pub const LIVE_KEYS: &[&str] = &["controller", "fail_mode", "log_level"];

/// The commands: name, usage, least and most arguments.
const COMMANDS: &[(&str, &str, usize, usize)] = &[
    ("set-controller", "BRIDGE TARGET...", 2, UNLIMITED_ARGS),
    ("del-controller", "BRIDGE", 1, 1),
    ("get-controller", "BRIDGE", 1, 1),
    ("set-fail-mode", "BRIDGE secure|standalone", 2, 2),
    ("del-fail-mode", "BRIDGE", 1, 1),
    ("get-fail-mode", "BRIDGE", 1, 1),
];

/// Registers the live-change commands on the control socket.
pub fn register_commands(commands: &mut Commands) -> Result<(), CtlError> {
    for &(name, usage, min, max) in COMMANDS {
        commands.register(name, usage, min, max)?;
    }
    Ok(())
}

/// An error for a bad argument of `name`: the reason, then the command's usage (as the
/// other control commands answer).
fn usage_error(name: &str, reason: impl std::fmt::Display) -> String {
    let usage = COMMANDS.iter().find(|c| c.0 == name).map_or("", |c| c.1);
    format!("{name}: {reason}\nusage: {name} {usage}\n")
}

/// Answers one of this module's commands; `None` for any other command.
pub fn command(
    running: &mut SwitchConfig,
    connmgr: &mut Connmgr,
    name: &str,
    args: &[String],
    now: Instant,
) -> Option<Result<String, String>> {
    if !COMMANDS.iter().any(|c| c.0 == name) {
        return None;
    }
    // Registration guarantees the argument counts.
    let bridge = args.first().map_or("", String::as_str);
    if bridge != running.bridge {
        return Some(Err(usage_error(
            name,
            format_args!(
                "no bridge named {bridge} (this switch has {})",
                running.bridge
            ),
        )));
    }
    Some(match name {
        "set-controller" | "del-controller" => {
            let mut targets = Vec::new();
            for t in args.get(1..).unwrap_or_default() {
                match t.parse::<ControllerTarget>() {
                    Ok(c) if !targets.contains(&c) => targets.push(c),
                    Ok(_) => {}
                    Err(e) => return Some(Err(usage_error(name, e))),
                }
            }
            set_controllers(running, connmgr, targets, now)
                .map(|()| String::new())
                .map_err(|e| format!("{name}: {e}\n"))
        }
        "get-controller" => Ok(running
            .connmgr
            .controllers
            .iter()
            .map(|c| format!("{c}\n"))
            .collect()),
        "set-fail-mode" | "del-fail-mode" => {
            let mode = match args.get(1) {
                Some(m) => match m.parse::<FailMode>() {
                    Ok(mode) => mode,
                    Err(e) => return Some(Err(usage_error(name, e))),
                },
                None => FailMode::Secure,
            };
            set_fail_mode(running, connmgr, mode);
            Ok(String::new())
        }
        _ => Ok(match running.connmgr.fail_mode {
            FailMode::Secure => "secure\n".to_owned(),
            FailMode::Standalone => "standalone\n".to_owned(),
        }),
    })
}

fn set_controllers(
    running: &mut SwitchConfig,
    connmgr: &mut Connmgr,
    targets: Vec<ControllerTarget>,
    now: Instant,
) -> Result<(), crate::connmgr::ConnmgrError> {
    connmgr.set_controllers(&targets, now)?;
    let shown: Vec<String> = targets.iter().map(ToString::to_string).collect();
    log::info!(
        "controllers are now [{}]",
        if shown.is_empty() {
            "none".to_owned()
        } else {
            shown.join(", ")
        }
    );
    running.connmgr.controllers = targets;
    Ok(())
}

fn set_fail_mode(running: &mut SwitchConfig, connmgr: &mut Connmgr, mode: FailMode) {
    connmgr.set_fail_mode(mode);
    running.connmgr.fail_mode = mode;
    log::info!(
        "fail mode is now {}",
        match mode {
            FailMode::Secure => "secure",
            FailMode::Standalone => "standalone",
        }
    );
}

/// SIGHUP: re-reads the configuration file and applies what can change live. Everything it
/// does or refuses is logged, one line each.
pub fn reload(running: &mut SwitchConfig, connmgr: &mut Connmgr, now: Instant) {
    let Some(path) = running.args.config.clone() else {
        log::info!("SIGHUP: no --config file to re-read; nothing changed");
        return;
    };
    let new = match SwitchConfig::from_run_args(&running.args) {
        Ok(new) => new,
        Err(errors) => {
            log::warn!("SIGHUP: {} has mistakes; nothing changed:", path.display());
            for s in errors.sentences() {
                log::warn!("SIGHUP: {s}");
            }
            return;
        }
    };
    let changes = new.live_changes(running);
    if changes.live.is_empty() && changes.restart.is_empty() {
        log::info!("SIGHUP: re-read {}: nothing changed", path.display());
        return;
    }
    for key in &changes.restart {
        log::warn!(
            "SIGHUP: {key} changed in {}, but takes effect only after a restart (live: {})",
            path.display(),
            LIVE_KEYS.join(", ")
        );
    }
    for key in &changes.live {
        match *key {
            "controller" => {
                if let Err(e) =
                    set_controllers(running, connmgr, new.connmgr.controllers.clone(), now)
                {
                    log::warn!("SIGHUP: controllers not changed: {e}");
                }
            }
            "fail_mode" => set_fail_mode(running, connmgr, new.connmgr.fail_mode),
            "log_level" => {
                // Back to the default first, so that a spec removed from the file is undone.
                let spec = new.log_level.clone().unwrap_or_else(|| "info".to_owned());
                match crate::vlog::set_from_spec("info")
                    .and_then(|()| crate::vlog::set_from_spec(&spec))
                {
                    Ok(()) => {
                        running.log_level = new.log_level.clone();
                        log::info!("log levels are now {spec}");
                    }
                    Err(e) => log::warn!("SIGHUP: log levels not changed: {e}"),
                }
            }
            _ => {}
        }
    }
    log::info!(
        "SIGHUP: re-read {}: applied {}",
        path.display(),
        if changes.live.is_empty() {
            "nothing".to_owned()
        } else {
            changes.live.join(", ")
        }
    );
}
