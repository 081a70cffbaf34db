//! Logging: the `log` facade's logger for the whole process, with levels per module that
//! change at run time, one structured line per event, and rate limiting per call site.
//!
//! Vocabulary:
//! - *module*: a top-level module of ferrovs (`connmgr`, `ofproto`, `upcall`, …), found from a
//!   record's target (the `module_path!()` the `log` macros fill in). [`MODULES`] lists them;
//!   targets from outside ferrovs count as `other`.
//! - *destination*: where lines go: `console` (stderr) and `file` (only once
//!   [`set_log_file`] opened one). Each (module, destination) pair has its own [`Level`].
//! - *level*: `OFF`, `ERR`, `WARN`, `INFO`, `DBG` (as `ovs-appctl vlog/list` shows them); a
//!   record is written to a destination when its level is at or above that pair's level.
//! - *spec*: the words `vlog/set` and `--log-level` take, e.g. `dbg`, `connmgr:dbg`,
//!   `ANY:console:warn`, `upcall:file:off`.
//!
//! A line reads `2026-11-21T12:34:56.789Z|00042|connmgr|WARN|message`: UTC time to the
//! millisecond, a sequence number counting every line this process wrote, the module, the
//! level and the message. The sequence number shows where lines were suppressed or lost.
//!
//! Rate limiting: a call site that may fire once per packet or per peer message logs through
//! [`vlog_rl!`](crate::vlog_rl), which keeps a [`RateLimit`] (token bucket) in a static at that
//! site: a burst of [`BURST`] lines, then at most [`PER_MINUTE`] a minute. What the bucket
//! refuses is counted, and the next line that passes is preceded by one line saying how many
//! were suppressed, so a flood costs a bounded number of lines and still shows in the log.
//!
//! `vlog/disable-rate-limit [MODULE...]` lets every line of those modules through (to debug a
//! flood), `vlog/enable-rate-limit [MODULE...]` restores the limits.
//!
//! Who calls it: `main` installs the logger with [`init`] before anything logs; any thread may
//! log. The control socket's `vlog/*` commands call [`apply`], [`list`], [`reopen`] and
//! [`set_rate_limit`].
//!
//! Invariants:
//! - Levels live in atomics, so checking whether a record is enabled takes no lock; `log`'s
//!   global maximum level is kept equal to the most verbose level any pair has, so a disabled
//!   `debug!` costs one relaxed load.
//! - A line is formatted whole and written with one `write_all` per destination, so lines from
//!   different threads never interleave.
//! - Logging never panics and never fails its caller: a destination that cannot be written to
//!   loses the line.

use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The modules whose levels can be set, in the order `vlog/list` prints them. Every top-level
/// module of the crate is here (a unit test checks `lib.rs`); `other` takes records whose target
/// is not a ferrovs module.
pub const MODULES: &[&str] = &[
    "appctl",
    "bridge",
    "cli",
    "config",
    "connmgr",
    "continuation",
    "coverage",
    "ctl",
    "dpctl",
    "dpif",
    "live",
    "metrics",
    "ofp",
    "ofproto",
    "ofswitch",
    "switch",
    "upcall",
    "vlog",
    "xlate",
    "other",
];

/// Lines a rate-limited call site may write at once after a quiet spell.
pub const BURST: u32 = 5;
/// Lines a rate-limited call site may write per minute once its burst is spent.
pub const PER_MINUTE: u32 = 20;

/// How verbose a (module, destination) pair is; also the level of one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Off = 0,
    Err = 1,
    Warn = 2,
    Info = 3,
    Dbg = 4,
}

impl Level {
    /// The name `vlog/list` and log lines show.
    pub fn name(self) -> &'static str {
        match self {
            Level::Off => "OFF",
            Level::Err => "ERR",
            Level::Warn => "WARN",
            Level::Info => "INFO",
            Level::Dbg => "DBG",
        }
    }

    /// Parses a level name in any case; the spellings of Open vSwitch and of `log` both work.
    pub fn parse(word: &str) -> Option<Level> {
        match word.to_ascii_lowercase().as_str() {
            "off" => Some(Level::Off),
            "emer" | "err" | "error" => Some(Level::Err),
            "warn" | "warning" => Some(Level::Warn),
            "info" => Some(Level::Info),
            "dbg" | "debug" | "trace" => Some(Level::Dbg),
            _ => None,
        }
    }

    fn of(level: log::Level) -> Level {
        match level {
            log::Level::Error => Level::Err,
            log::Level::Warn => Level::Warn,
            log::Level::Info => Level::Info,
            log::Level::Debug | log::Level::Trace => Level::Dbg,
        }
    }

    fn from_u8(v: u8) -> Level {
        match v {
            0 => Level::Off,
            1 => Level::Err,
            2 => Level::Warn,
            3 => Level::Info,
            _ => Level::Dbg,
        }
    }

    fn filter(self) -> log::LevelFilter {
        match self {
            Level::Off => log::LevelFilter::Off,
            Level::Err => log::LevelFilter::Error,
            Level::Warn => log::LevelFilter::Warn,
            Level::Info => log::LevelFilter::Info,
            // `trace!` records are written at DBG too.
            Level::Dbg => log::LevelFilter::Trace,
        }
    }
}

/// Where a line can go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    Console = 0,
    File = 1,
}

const DESTINATIONS: [Destination; 2] = [Destination::Console, Destination::File];

impl Destination {
    /// The name specs and `vlog/list` use.
    pub fn name(self) -> &'static str {
        match self {
            Destination::Console => "console",
            Destination::File => "file",
        }
    }

    fn parse(word: &str) -> Option<Destination> {
        DESTINATIONS
            .into_iter()
            .find(|d| d.name().eq_ignore_ascii_case(word))
    }
}

/// Why a spec or a log file was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum VlogError {
    /// A word of a spec is no module, destination or level.
    #[error("no destination, level, or module \"{0}\"")]
    UnknownWord(String),
    /// `vlog/*-rate-limit` named a module that does not exist.
    #[error("no module named \"{0}\"")]
    UnknownModule(String),
    /// A spec names two modules, two destinations or two levels.
    #[error("cannot specify multiple {0}s")]
    Repeated(&'static str),
    /// A spec has no words at all.
    #[error("empty log specification")]
    Empty,
    /// The log file could not be opened.
    #[error("cannot open log file {path}: {reason}")]
    OpenFile { path: PathBuf, reason: String },
    /// `vlog/reopen` without a log file.
    #[error("no log file is in use (start with --log-file PATH)")]
    NoFile,
}

/// One parsed spec: `None` means every module or every destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec {
    pub module: Option<usize>,
    pub destination: Option<Destination>,
    pub level: Level,
}

impl Spec {
    /// Parses words separated by `:` or whitespace, in any order: at most one module (or
    /// `ANY`), one destination (or `ANY`) and one level. Without a level the spec means `DBG`,
    /// as `ovs-appctl vlog/set MODULE` does.
    pub fn parse(text: &str) -> Result<Spec, VlogError> {
        let mut module = None;
        let mut destination = None;
        let mut level = None;
        let mut words = 0;
        for word in text
            .split(|c: char| c == ':' || c.is_whitespace())
            .filter(|w| !w.is_empty())
        {
            words += 1;
            if word.eq_ignore_ascii_case("any") {
                continue;
            }
            if let Some(d) = Destination::parse(word) {
                if destination.replace(d).is_some() {
                    return Err(VlogError::Repeated("destination"));
                }
            } else if let Some(l) = Level::parse(word) {
                if level.replace(l).is_some() {
                    return Err(VlogError::Repeated("level"));
                }
            } else if let Some(m) = module_index(word) {
                if module.replace(m).is_some() {
                    return Err(VlogError::Repeated("module"));
                }
            } else {
                return Err(VlogError::UnknownWord(word.to_string()));
            }
        }
        if words == 0 {
            return Err(VlogError::Empty);
        }
        Ok(Spec {
            module,
            destination,
            level: level.unwrap_or(Level::Dbg),
        })
    }
}

fn module_index(name: &str) -> Option<usize> {
    MODULES.iter().position(|m| m.eq_ignore_ascii_case(name))
}

/// The module a record's target belongs to: `ferrovs::connmgr::ofconn` is `connmgr`, an
/// explicit target that names a module is that module, anything else is `other`.
fn module_of_target(target: &str) -> usize {
    let path = target.strip_prefix("ferrovs::").unwrap_or(target);
    let top = path.split("::").next().unwrap_or(path);
    module_index(top).unwrap_or(MODULES.len() - 1)
}

/// Levels per module and destination: console and file start at INFO.
static LEVELS: [[AtomicU8; 2]; MODULES.len()] = [const {
    [
        AtomicU8::new(Level::Info as u8),
        AtomicU8::new(Level::Info as u8),
    ]
}; MODULES.len()];
/// Lines written so far; the next line's sequence number is this plus one.
static SEQUENCE: AtomicU64 = AtomicU64::new(0);
/// Modules whose rate limits are disabled (`vlog/disable-rate-limit`).
static RATE_LIMIT_OFF: [AtomicBool; MODULES.len()] =
    [const { AtomicBool::new(false) }; MODULES.len()];
/// The open log file, if any.
static LOG_FILE: Mutex<Option<LogFile>> = Mutex::new(None);

struct LogFile {
    path: PathBuf,
    file: File,
}

fn level_of(module: usize, destination: Destination) -> Level {
    Level::from_u8(LEVELS[module][destination as usize].load(Ordering::Relaxed))
}

fn file_open() -> bool {
    LOG_FILE.lock().map(|f| f.is_some()).unwrap_or(false)
}

/// Applies a spec: sets the level of every (module, destination) pair it covers.
pub fn apply(spec: &Spec) {
    for (module, levels) in LEVELS.iter().enumerate() {
        if spec.module.is_some_and(|m| m != module) {
            continue;
        }
        for destination in DESTINATIONS {
            if spec.destination.map_or(true, |d| d == destination) {
                levels[destination as usize].store(spec.level as u8, Ordering::Relaxed);
            }
        }
    }
    update_max_level();
}

/// Parses and applies specs separated by commas (`--log-level`, the `log_level` key), or
/// nothing if any of them is bad.
pub fn set_from_spec(text: &str) -> Result<(), VlogError> {
    let specs = parse_specs(text)?;
    for spec in &specs {
        apply(spec);
    }
    Ok(())
}

/// Parses comma-separated specs without applying them (to check a configuration).
pub fn parse_specs(text: &str) -> Result<Vec<Spec>, VlogError> {
    text.split(',').map(Spec::parse).collect()
}

/// Turns the rate limits of the named modules (every module when `modules` is empty) on or
/// off, as `vlog/enable-rate-limit` and `vlog/disable-rate-limit` do; nothing changes if a name
/// is unknown.
pub fn set_rate_limit(modules: &[String], enabled: bool) -> Result<(), VlogError> {
    let indices = modules
        .iter()
        .map(|m| module_index(m).ok_or_else(|| VlogError::UnknownModule(m.clone())))
        .collect::<Result<Vec<_>, _>>()?;
    for (i, off) in RATE_LIMIT_OFF.iter().enumerate() {
        if indices.is_empty() || indices.contains(&i) {
            off.store(!enabled, Ordering::Relaxed);
        }
    }
    Ok(())
}

/// Keeps `log`'s global filter at the most verbose level any destination in use has.
fn update_max_level() {
    let with_file = file_open();
    let max = LEVELS
        .iter()
        .flat_map(|levels| {
            let console = Level::from_u8(levels[0].load(Ordering::Relaxed));
            let file = Level::from_u8(levels[1].load(Ordering::Relaxed));
            [console, if with_file { file } else { Level::Off }]
        })
        .max()
        .unwrap_or(Level::Off);
    log::set_max_level(max.filter());
}

/// The `vlog/list` table: one row per module, one column per destination.
pub fn list() -> String {
    let mut out = String::from("                 console    file\n");
    out.push_str("                 -------    ------\n");
    for (module, name) in MODULES.iter().enumerate() {
        let _ = writeln!(
            out,
            "{name:<16} {:>6}     {:>6}",
            level_of(module, Destination::Console).name(),
            level_of(module, Destination::File).name()
        );
    }
    out
}

/// Opens (appends to) the log file and makes it the `file` destination.
pub fn set_log_file(path: &Path) -> Result<(), VlogError> {
    let file = open_append(path)?;
    if let Ok(mut slot) = LOG_FILE.lock() {
        *slot = Some(LogFile {
            path: path.to_path_buf(),
            file,
        });
    }
    update_max_level();
    Ok(())
}

/// Reopens the log file by name (after a log rotation moved the old one away).
pub fn reopen() -> Result<(), VlogError> {
    let mut slot = LOG_FILE.lock().map_err(|_| VlogError::NoFile)?;
    let log = slot.as_mut().ok_or(VlogError::NoFile)?;
    log.file = open_append(&log.path)?;
    Ok(())
}

fn open_append(path: &Path) -> Result<File, VlogError> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| VlogError::OpenFile {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })
}

/// Applies the start-up configuration: opens `file` (if any), then sets `levels` (if any).
pub fn configure(levels: Option<&str>, file: Option<&Path>) -> Result<(), VlogError> {
    if let Some(path) = file {
        set_log_file(path)?;
    }
    levels.map_or(Ok(()), set_from_spec)
}

/// The process's logger.
struct Vlog;

static LOGGER: Vlog = Vlog;

/// Installs the logger (once; later calls change nothing) with every level at INFO.
pub fn init() {
    if log::set_logger(&LOGGER).is_ok() {
        update_max_level();
    }
}

impl log::Log for Vlog {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        let module = module_of_target(metadata.target());
        let level = Level::of(metadata.level());
        level <= level_of(module, Destination::Console)
            || (level <= level_of(module, Destination::File) && file_open())
    }

    fn log(&self, record: &log::Record) {
        let module = module_of_target(record.target());
        let level = Level::of(record.level());
        let to_console = level <= level_of(module, Destination::Console);
        let to_file = level <= level_of(module, Destination::File);
        if !to_console && !to_file {
            return;
        }
        let mut file = LOG_FILE.lock().ok();
        let file = file.as_mut().and_then(|f| f.as_mut()).filter(|_| to_file);
        if !to_console && file.is_none() {
            return;
        }
        let seq = SEQUENCE.fetch_add(1, Ordering::Relaxed) + 1;
        let line = format_line(
            SystemTime::now(),
            seq,
            MODULES[module],
            level,
            record.args(),
        );
        if to_console {
            // A closed stderr loses the line; there is nowhere to report that.
            let _ = std::io::stderr().lock().write_all(line.as_bytes());
        }
        if let Some(log) = file {
            let _ = log.file.write_all(line.as_bytes());
        }
    }

    fn flush(&self) {
        let _ = std::io::stderr().flush();
        if let Ok(mut slot) = LOG_FILE.lock() {
            if let Some(log) = slot.as_mut() {
                let _ = log.file.flush();
            }
        }
    }
}

/// One log line, newline included.
fn format_line(
    when: SystemTime,
    seq: u64,
    module: &str,
    level: Level,
    message: &std::fmt::Arguments,
) -> String {
    let mut line = format_time(when);
    let _ = writeln!(line, "|{seq:05}|{module}|{}|{message}", level.name());
    line
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` in UTC.
fn format_time(when: SystemTime) -> String {
    let since = when.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    let secs = since.as_secs();
    let (year, month, day) = civil_date(secs / 86_400);
    let day_secs = secs % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        day_secs / 3600,
        day_secs / 60 % 60,
        day_secs % 60,
        since.subsec_millis()
    )
}

/// The Gregorian (year, month, day) of a count of days since 1970-01-01, counting in 400-year
/// eras of 146,097 days, each starting on a March 1st so that leap days fall at an era's end.
fn civil_date(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468; // days since 0000-03-01
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// A token bucket for one call site: `burst` lines at once, then `per_minute` a minute.
///
/// Time is kept as credit in milliseconds: a line costs `60_000 / per_minute` ms of credit,
/// credit grows with elapsed time and is capped at `burst` lines' worth.
#[derive(Debug)]
pub struct RateLimit {
    burst: u32,
    per_minute: u32,
    bucket: Mutex<Bucket>,
}

#[derive(Debug)]
struct Bucket {
    /// When credit was last added; `None` until the first line, when the bucket is full.
    last: Option<Instant>,
    credit_ms: u64,
    /// Lines refused since the last one that passed, and when the first of them was.
    suppressed: u64,
    first_suppressed: Option<Instant>,
}

/// A rate limit's verdict on one line.
#[derive(Debug, PartialEq, Eq)]
pub enum Admit {
    /// Write the line; first say that `suppressed` lines were dropped over `secs` seconds.
    Pass { suppressed: u64, secs: u64 },
    /// Drop the line (it has been counted).
    Drop,
}

impl RateLimit {
    /// A bucket for `burst` lines at once and `per_minute` lines a minute after that.
    pub const fn new(burst: u32, per_minute: u32) -> RateLimit {
        RateLimit {
            burst,
            per_minute,
            bucket: Mutex::new(Bucket {
                last: None,
                credit_ms: 0,
                suppressed: 0,
                first_suppressed: None,
            }),
        }
    }

    /// Decides on a line logged now from `target` (a module path); a refused line counts as
    /// `vlog_suppressed`. Every line passes while the module's rate limits are disabled.
    pub fn admit(&self, target: &str) -> Admit {
        if RATE_LIMIT_OFF[module_of_target(target)].load(Ordering::Relaxed) {
            return Admit::Pass {
                suppressed: 0,
                secs: 0,
            };
        }
        let verdict = self.admit_at(Instant::now());
        if verdict == Admit::Drop {
            crate::coverage::VLOG_SUPPRESSED.inc();
        }
        verdict
    }

    /// Decides on a line logged at `now` (never earlier than a previous call's `now`).
    pub fn admit_at(&self, now: Instant) -> Admit {
        let cost = 60_000 / u64::from(self.per_minute.max(1));
        let cap = cost * u64::from(self.burst.max(1));
        // A poisoned bucket only means another thread panicked mid-update; its numbers are
        // still numbers.
        let mut b = self.bucket.lock().unwrap_or_else(|e| e.into_inner());
        let earned = match b.last {
            None => cap,
            Some(last) => now.saturating_duration_since(last).as_millis() as u64,
        };
        b.credit_ms = b.credit_ms.saturating_add(earned).min(cap);
        b.last = Some(now);
        if b.credit_ms < cost {
            b.suppressed += 1;
            b.first_suppressed.get_or_insert(now);
            return Admit::Drop;
        }
        b.credit_ms -= cost;
        let secs = b
            .first_suppressed
            .take()
            .map_or(0, |first| now.saturating_duration_since(first).as_secs());
        Admit::Pass {
            suppressed: std::mem::take(&mut b.suppressed),
            secs,
        }
    }
}

/// Logs at `level` through a rate limit kept at this call site ([`BURST`] lines at once, then
/// [`PER_MINUTE`] a minute), for events a peer or a packet can repeat at will.
///
/// ```ignore
/// vlog_rl!(log::Level::Warn, "{peer}: bad message: {err}");
/// ```
#[macro_export]
macro_rules! vlog_rl {
    ($level:expr, $($arg:tt)+) => {{
        static LIMIT: $crate::vlog::RateLimit =
            $crate::vlog::RateLimit::new($crate::vlog::BURST, $crate::vlog::PER_MINUTE);
        let level: ::log::Level = $level;
        // A disabled level spends no credit, as if the line did not exist.
        if ::log::log_enabled!(level) {
            if let $crate::vlog::Admit::Pass { suppressed, secs } = LIMIT.admit(::std::module_path!()) {
                if suppressed > 0 {
                    ::log::log!(
                        level,
                        "{} messages suppressed in the last {} s (rate limit); the next one is like them",
                        suppressed,
                        secs
                    );
                }
                ::log::log!(level, $($arg)+);
            }
        }
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_top_level_module_has_a_level() {
        let lib = include_str!("lib.rs");
        for line in lib.lines() {
            if let Some(name) = line
                .strip_prefix("pub mod ")
                .or_else(|| line.strip_prefix("mod "))
            {
                let name = name.trim_end_matches(';');
                assert!(MODULES.contains(&name), "{name} is missing from MODULES");
            }
        }
    }

    #[test]
    fn targets_map_to_top_level_modules() {
        let idx = |n: &str| MODULES.iter().position(|m| *m == n).unwrap();
        assert_eq!(module_of_target("ferrovs::connmgr::ofconn"), idx("connmgr"));
        assert_eq!(module_of_target("ferrovs::switch"), idx("switch"));
        assert_eq!(module_of_target("upcall"), idx("upcall"));
        assert_eq!(module_of_target("rustls::client"), idx("other"));
        assert_eq!(module_of_target("ferrovs"), idx("other"));
    }

    #[test]
    fn specs_parse_in_any_order() {
        let connmgr = module_index("connmgr");
        assert_eq!(
            Spec::parse("connmgr:console:warn"),
            Ok(Spec {
                module: connmgr,
                destination: Some(Destination::Console),
                level: Level::Warn
            })
        );
        assert_eq!(
            Spec::parse("WARN connmgr"),
            Ok(Spec {
                module: connmgr,
                destination: None,
                level: Level::Warn
            })
        );
        assert_eq!(
            Spec::parse("ANY:file:off"),
            Ok(Spec {
                module: None,
                destination: Some(Destination::File),
                level: Level::Off
            })
        );
        // Without a level, the module is set to debug.
        assert_eq!(Spec::parse("upcall").map(|s| s.level), Ok(Level::Dbg));
        assert_eq!(
            Spec::parse("connmgr:bogus"),
            Err(VlogError::UnknownWord("bogus".into()))
        );
        assert_eq!(Spec::parse("info:dbg"), Err(VlogError::Repeated("level")));
        assert_eq!(
            Spec::parse("console:file"),
            Err(VlogError::Repeated("destination"))
        );
        assert_eq!(
            Spec::parse("upcall:xlate"),
            Err(VlogError::Repeated("module"))
        );
        assert_eq!(Spec::parse(" : "), Err(VlogError::Empty));
        assert_eq!(
            VlogError::UnknownWord("syslog".into()).to_string(),
            "no destination, level, or module \"syslog\""
        );
        assert!(parse_specs("info,connmgr:dbg").is_ok());
        assert_eq!(
            parse_specs("info,,dbg"),
            Err(VlogError::Empty),
            "an empty item between commas is an error"
        );
    }

    #[test]
    fn lines_have_time_sequence_module_level_message() {
        let when = UNIX_EPOCH + Duration::from_millis(1_795_696_496_789);
        assert_eq!(
            format_line(when, 42, "connmgr", Level::Warn, &format_args!("x {}", 1)),
            "2026-11-26T12:34:56.789Z|00042|connmgr|WARN|x 1\n"
        );
        assert_eq!(format_time(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        // Leap days, and the turn of a century that is a leap year.
        assert_eq!(civil_date(11_016), (2000, 2, 29));
        assert_eq!(civil_date(11_017), (2000, 3, 1));
        assert_eq!(civil_date(19_782), (2024, 2, 29));
        assert_eq!(civil_date(19_357), (2022, 12, 31));
    }

    #[test]
    fn rate_limit_allows_a_burst_then_a_trickle_and_counts_the_rest() {
        let limit = RateLimit::new(3, 60); // one line a second after the burst
        let t0 = Instant::now();
        let pass = |suppressed, secs| Admit::Pass { suppressed, secs };
        for _ in 0..3 {
            assert_eq!(limit.admit_at(t0), pass(0, 0));
        }
        for _ in 0..100 {
            assert_eq!(limit.admit_at(t0), Admit::Drop);
        }
        assert_eq!(limit.admit_at(t0 + Duration::from_millis(999)), Admit::Drop);
        assert_eq!(
            limit.admit_at(t0 + Duration::from_millis(1000)),
            pass(101, 1)
        );
        assert_eq!(
            limit.admit_at(t0 + Duration::from_millis(1500)),
            Admit::Drop
        );
        // A long quiet spell refills the burst, and no more.
        let later = t0 + Duration::from_secs(3600);
        assert_eq!(limit.admit_at(later), pass(1, 3598));
        assert_eq!(limit.admit_at(later), pass(0, 0));
        assert_eq!(limit.admit_at(later), pass(0, 0));
        assert_eq!(limit.admit_at(later), Admit::Drop);
    }

    #[test]
    fn rate_limit_switch_refuses_unknown_modules() {
        assert_eq!(
            set_rate_limit(&["connmgr".into(), "nope".into()], false),
            Err(VlogError::UnknownModule("nope".into()))
        );
        // Nothing changed, the known name included.
        assert!(!RATE_LIMIT_OFF[module_index("connmgr").unwrap()].load(Ordering::Relaxed));
    }

    #[test]
    fn list_shows_both_destinations() {
        let text = list();
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("                 console    file"));
        assert_eq!(lines.next(), Some("                 -------    ------"));
        assert_eq!(lines.count(), MODULES.len());
    }
}
