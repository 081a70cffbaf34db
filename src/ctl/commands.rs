//! The registry of control commands: names, usage text and argument counts.
//!
//! The switch registers each command it serves once at start-up, then hands the server one
//! handler closure that matches on the name. Before the handler runs, [`Commands::dispatch`]
//! rejects unknown names, wrong argument counts and non-string arguments with the same error
//! text Open vSwitch sends (scripts written against `ovs-appctl` match on it), and answers the
//! built-ins itself: `list-commands`, `version`, and the process-wide `coverage/show`,
//! `vlog/list`, `vlog/set` and `vlog/reopen`, which every control socket serves alike.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{CommandHandler, CtlError};

/// `max_args` for a command that takes any number of arguments.
pub const UNLIMITED_ARGS: usize = usize::MAX;

/// The control commands a server knows, sorted by name (the order `list-commands` prints).
#[derive(Debug)]
pub struct Commands {
    specs: BTreeMap<String, CommandSpec>,
    version: String,
}

#[derive(Debug)]
struct CommandSpec {
    usage: String,
    min_args: usize,
    max_args: usize,
    builtin: Option<Builtin>,
}

/// Commands the registry answers without the switch's handler.
#[derive(Debug, Clone, Copy)]
enum Builtin {
    ListCommands,
    Version,
    CoverageShow,
    VlogList,
    VlogSet,
    VlogReopen,
    VlogRateLimit { enabled: bool },
}

/// The built-ins: name, usage, argument counts.
const BUILTINS: &[(&str, &str, usize, usize, Builtin)] = &[
    ("coverage/show", "", 0, 0, Builtin::CoverageShow),
    ("list-commands", "", 0, 0, Builtin::ListCommands),
    ("version", "", 0, 0, Builtin::Version),
    ("vlog/list", "", 0, 0, Builtin::VlogList),
    (
        "vlog/set",
        "{MODULE|ANY}[:{console|file|ANY}][:LEVEL]...",
        0,
        UNLIMITED_ARGS,
        Builtin::VlogSet,
    ),
    ("vlog/reopen", "", 0, 0, Builtin::VlogReopen),
    (
        "vlog/disable-rate-limit",
        "[MODULE]...",
        0,
        UNLIMITED_ARGS,
        Builtin::VlogRateLimit { enabled: false },
    ),
    (
        "vlog/enable-rate-limit",
        "[MODULE]...",
        0,
        UNLIMITED_ARGS,
        Builtin::VlogRateLimit { enabled: true },
    ),
];

impl Commands {
    /// A registry holding only the built-ins; `version` answers with `version_text`.
    pub fn new(version_text: impl Into<String>) -> Self {
        let mut specs = BTreeMap::new();
        for &(name, usage, min_args, max_args, builtin) in BUILTINS {
            specs.insert(
                name.to_string(),
                CommandSpec {
                    usage: usage.to_string(),
                    min_args,
                    max_args,
                    builtin: Some(builtin),
                },
            );
        }
        Commands {
            specs,
            version: version_text.into(),
        }
    }

    /// Makes `name` a valid command taking `min_args..=max_args` arguments
    /// ([`UNLIMITED_ARGS`] for no upper bound); `usage` describes them, e.g. `"[DP] FLOW"`.
    pub fn register(
        &mut self,
        name: &str,
        usage: &str,
        min_args: usize,
        max_args: usize,
    ) -> Result<(), CtlError> {
        if name.is_empty() || name.chars().any(char::is_whitespace) {
            return Err(CtlError::InvalidName {
                name: name.to_string(),
            });
        }
        if min_args > max_args {
            return Err(CtlError::ArgRange {
                name: name.to_string(),
                min_args,
                max_args,
            });
        }
        if self.specs.contains_key(name) {
            return Err(CtlError::DuplicateCommand {
                name: name.to_string(),
            });
        }
        self.specs.insert(
            name.to_string(),
            CommandSpec {
                usage: usage.to_string(),
                min_args,
                max_args,
                builtin: None,
            },
        );
        Ok(())
    }

    /// Changes the text `version` answers with.
    pub fn set_version(&mut self, version_text: impl Into<String>) {
        self.version = version_text.into();
    }

    /// The `list-commands` text: a header, then one line per command with its usage.
    pub fn list(&self) -> String {
        let mut text = String::from("The available commands are:\n");
        for (name, spec) in &self.specs {
            text.push_str(&format!("  {name:<23} {}\n", spec.usage));
        }
        text
    }

    /// Checks a request against the registry and answers it: built-ins here, registered
    /// commands through `handler` with their arguments as strings.
    pub(crate) fn dispatch(
        &self,
        method: &str,
        params: &[Value],
        handler: &mut CommandHandler<'_>,
    ) -> Result<String, String> {
        let Some(spec) = self.specs.get(method) else {
            return Err(format!(
                "\"{method}\" is not a valid command (use \"list-commands\" to see a list of \
                 valid commands)"
            ));
        };
        if params.len() < spec.min_args {
            return Err(format!(
                "\"{method}\" command requires at least {} arguments\n{}",
                spec.min_args,
                usage_line(method, spec)
            ));
        }
        if params.len() > spec.max_args {
            return Err(format!(
                "\"{method}\" command takes at most {} arguments\n{}",
                spec.max_args,
                usage_line(method, spec)
            ));
        }
        let mut args = Vec::with_capacity(params.len());
        for param in params {
            match param {
                Value::String(arg) => args.push(arg.clone()),
                _ => return Err(format!("\"{method}\" command has non-string argument")),
            }
        }
        match spec.builtin {
            Some(Builtin::ListCommands) => Ok(self.list()),
            Some(Builtin::Version) => Ok(self.version.clone()),
            Some(Builtin::CoverageShow) => Ok(crate::coverage::show()),
            Some(Builtin::VlogList) => Ok(crate::vlog::list()),
            Some(Builtin::VlogSet) => {
                // Every spec is checked before any is applied. No spec means everything at
                // DBG, as in Open vSwitch.
                let parsed: Result<Vec<_>, _> = if args.is_empty() {
                    crate::vlog::Spec::parse("ANY:dbg").map(|s| vec![s])
                } else {
                    args.iter().map(|a| crate::vlog::Spec::parse(a)).collect()
                };
                let parsed = parsed.map_err(|e| format!("{e}\n{}\n", usage_line(method, spec)))?;
                for s in &parsed {
                    crate::vlog::apply(s);
                }
                Ok(String::new())
            }
            Some(Builtin::VlogRateLimit { enabled }) => crate::vlog::set_rate_limit(&args, enabled)
                .map(|()| String::new())
                .map_err(|e| format!("{e}\n{}\n", usage_line(method, spec))),
            Some(Builtin::VlogReopen) => crate::vlog::reopen()
                .map(|()| String::new())
                .map_err(|e| format!("{e}\n")),
            None => handler(method, &args),
        }
    }
}

fn usage_line(method: &str, spec: &CommandSpec) -> String {
    if spec.usage.is_empty() {
        format!("usage: {method}")
    } else {
        format!("usage: {method} {}", spec.usage)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn strings(args: &[&str]) -> Vec<Value> {
        args.iter().map(|a| json!(a)).collect()
    }

    fn echo(name: &str, args: &[String]) -> Result<String, String> {
        Ok(format!("{name}:{}", args.join("|")))
    }

    #[test]
    fn lists_builtins_and_registered_commands_sorted() {
        let mut commands = Commands::new("ferrovs 9.9");
        commands.register("dpif/dump-flows", "[DP]", 0, 1).unwrap();
        commands
            .register("a-very-long-command-name-indeed", "X", 1, 1)
            .unwrap();
        assert_eq!(
            commands.list(),
            "The available commands are:\n\
             \x20 a-very-long-command-name-indeed X\n\
             \x20 coverage/show           \n\
             \x20 dpif/dump-flows         [DP]\n\
             \x20 list-commands           \n\
             \x20 version                 \n\
             \x20 vlog/disable-rate-limit [MODULE]...\n\
             \x20 vlog/enable-rate-limit  [MODULE]...\n\
             \x20 vlog/list               \n\
             \x20 vlog/reopen             \n\
             \x20 vlog/set                {MODULE|ANY}[:{console|file|ANY}][:LEVEL]...\n"
        );
    }

    #[test]
    fn answers_builtins_without_the_handler() {
        let commands = Commands::new("ferrovs 9.9");
        let mut handler = |_: &str, _: &[String]| -> Result<String, String> {
            panic!("built-ins must not reach the handler")
        };
        assert_eq!(
            commands.dispatch("version", &[], &mut handler),
            Ok("ferrovs 9.9".to_string())
        );
        assert_eq!(
            commands.dispatch("list-commands", &[], &mut handler),
            Ok(commands.list())
        );
        assert_eq!(
            commands.dispatch("version", &strings(&["x"]), &mut handler),
            Err("\"version\" command takes at most 0 arguments\nusage: version".to_string())
        );
    }

    #[test]
    fn rejects_unknown_commands_and_bad_arguments() {
        let mut commands = Commands::new("v");
        commands.register("t/echo", "ARG...", 1, 2).unwrap();
        let mut handler = echo;
        assert_eq!(
            commands.dispatch("nope", &[], &mut handler),
            Err(
                "\"nope\" is not a valid command (use \"list-commands\" to see a list of \
                 valid commands)"
                    .to_string()
            )
        );
        assert_eq!(
            commands.dispatch("t/echo", &[], &mut handler),
            Err("\"t/echo\" command requires at least 1 arguments\nusage: t/echo ARG...".into())
        );
        assert_eq!(
            commands.dispatch("t/echo", &strings(&["a", "b", "c"]), &mut handler),
            Err("\"t/echo\" command takes at most 2 arguments\nusage: t/echo ARG...".into())
        );
        assert_eq!(
            commands.dispatch("t/echo", &[json!("a"), json!(1)], &mut handler),
            Err("\"t/echo\" command has non-string argument".into())
        );
        assert_eq!(
            commands.dispatch("t/echo", &strings(&["a b", ""]), &mut handler),
            Ok("t/echo:a b|".into())
        );
    }

    #[test]
    fn refuses_bad_registrations() {
        let mut commands = Commands::new("v");
        assert!(matches!(
            commands.register("version", "", 0, 0),
            Err(CtlError::DuplicateCommand { name }) if name == "version"
        ));
        assert!(matches!(
            commands.register("", "", 0, 0),
            Err(CtlError::InvalidName { .. })
        ));
        assert!(matches!(
            commands.register("a b", "", 0, 0),
            Err(CtlError::InvalidName { .. })
        ));
        assert!(matches!(
            commands.register("x", "", 2, 1),
            Err(CtlError::ArgRange {
                min_args: 2,
                max_args: 1,
                ..
            })
        ));
        commands.register("x", "", 0, UNLIMITED_ARGS).unwrap();
        let many = strings(&["a"; 300]);
        assert_eq!(
            commands.dispatch("x", &many, &mut echo).map(|s| s.len()),
            Ok("x:".len() + 300 * 2 - 1)
        );
    }
}
