//! Configuration: the TOML file and the flags that override it.
//!
//! Purpose: everything the switch needs to start is resolved here into a [`SwitchConfig`] and
//! checked before DPDK is touched, so a mistake is reported as sentences and a non-zero exit
//! instead of a half-started switch. `ferrovs check-config FILE` runs the same checks without
//! starting anything.
//!
//! Vocabulary: the *file* is the TOML configuration (`--config FILE`); a *flag* is a command
//! line option. Every file key has a flag of the same name (`pmd_cores` / `--pmd-cores`) and
//! the flag wins. A [`ConfigError`] is one mistake: file mistakes carry `FILE:LINE`, flag
//! mistakes name the flag in their sentence.
//!
//! Who calls it: `main` (for `run` and `check-config`) and the switch on SIGHUP, which resolves
//! the same flags over the re-read file and applies what can change live
//! ([`SwitchConfig::live_changes`]).
//!
//! Invariants: resolving never panics on any input and never stops at the first mistake: every
//! value is checked and every mistake collected, in file order, then flag mistakes. The shape
//! of the file (unknown keys, wrong types, line numbers) is `file.rs`'s job; what the values
//! mean is checked here, where the flags are known too.

mod file;

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};

use pmd::odp::OdpFlow;

use crate::cli::RunArgs;
use crate::connmgr::{ConnmgrConfig, ControllerTarget, FailMode, ListenTarget, TlsFiles};
use file::At;

/// One port as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortSpec {
    /// The user's name for the port (p0, uplink, …).
    pub name: String,
    /// DPDK device arguments; the device name is the part before the first comma.
    pub devargs: String,
    /// Receive queues to open (fewer if the device has fewer).
    pub rx_queues: u16,
}

impl PortSpec {
    /// The DPDK device name (`net_pcap0` for `net_pcap0,rx_pcap=x`).
    pub fn device(&self) -> &str {
        self.devargs.split(',').next().unwrap_or("")
    }

    /// Whether the device is a PCI address rather than a virtual device.
    pub fn is_pci(&self) -> bool {
        is_pci_address(self.device())
    }
}

fn is_pci_address(s: &str) -> bool {
    // [DDDD:]BB:DD.F
    let parts: Vec<&str> = s.split(':').collect();
    let (bus, devfn) = match parts.as_slice() {
        [dom, bus, devfn] if dom.len() == 4 && dom.chars().all(|c| c.is_ascii_hexdigit()) => {
            (bus, devfn)
        }
        [bus, devfn] => (bus, devfn),
        _ => return false,
    };
    let Some((dev, func)) = devfn.split_once('.') else {
        return false;
    };
    bus.len() == 2
        && dev.len() == 2
        && func.len() == 1
        && [bus, &dev, &func]
            .iter()
            .all(|p| p.chars().all(|c| c.is_ascii_hexdigit()))
}

/// An rx queue pinned to a PMD.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RxqPin {
    /// Index into [`SwitchConfig::ports`].
    pub port: usize,
    pub queue: u16,
    /// Index into [`SwitchConfig::pmd_cores`].
    pub pmd: usize,
}

/// The resolved configuration of a switch run.
#[derive(Debug, Clone)]
pub struct SwitchConfig {
    /// The bridge's name (`ovs-ofctl show NAME`, `ofproto/trace NAME …`).
    pub bridge: String,
    pub ports: Vec<PortSpec>,
    pub pmd_cores: Vec<u32>,
    /// The control lcore's core: as configured, else the lowest core this process may use
    /// that is not a PMD's (`None` only if there is none, which resolving reports).
    pub control_core: Option<u32>,
    /// Rx queues pinned to PMDs; the other queues are spread round-robin.
    pub rxq_pins: Vec<RxqPin>,
    /// Port index pairs (into `ports`): packets from `.0` go to `.1`.
    pub patches: Vec<(usize, usize)>,
    pub mbufs: u32,
    pub eal_extra: Vec<String>,
    pub quiet: bool,
    /// Datapath flows from `--flows`, each with where it came from
    /// (`FILE:LINE`) for error messages.
    pub flows: Vec<(String, OdpFlow)>,
    /// The control socket's path.
    pub ctl_path: PathBuf,
    /// Whether the user chose `ctl_path` (then failing to bind it is an
    /// error; the default only gets a warning).
    pub ctl_explicit: bool,
    /// OpenFlow connections: listeners, controllers, fail mode, TLS.
    pub connmgr: ConnmgrConfig,
    /// `--datapath-id`.
    pub datapath_id: Option<u64>,
    /// Datapath flows (megaflows) each PMD holds at most.
    pub flow_limit: usize,
    /// Where `/metrics` is served; `None` is `--metrics off`.
    pub metrics: Option<SocketAddr>,
    /// Whether the user chose `metrics` (then failing to bind it is an error).
    pub metrics_explicit: bool,
    /// Log levels in `vlog/set` syntax (`--log-level`), already checked to parse.
    pub log_level: Option<String>,
    /// `--log-file`: where the `file` log destination writes.
    pub log_file: Option<PathBuf>,
    /// The flags this was resolved from, so that SIGHUP can resolve them again over the
    /// re-read file (flags keep overriding it).
    pub args: RunArgs,
}

/// Where the control socket goes unless `--ctl` says otherwise.
pub const DEFAULT_CTL_PATH: &str = "/run/ferrovs/ferrovs.ctl";
/// The bridge's name unless `--bridge` says otherwise.
pub const DEFAULT_BRIDGE: &str = crate::ofswitch::BRIDGE_NAME;
/// Where `/metrics` is served unless `--metrics` says otherwise: loopback only.
pub const DEFAULT_METRICS: SocketAddr =
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 9477));

const DEFAULT_MBUFS: u32 = 16383;
/// DPDK's RTE_MAX_LCORE in the distributions' builds.
const MAX_LCORE: u32 = 128;
/// Rx queues one port may ask for.
const MAX_RX_QUEUES: i64 = 64;

/// One mistake in the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file and line, for a mistake in the file.
    pub at: Option<(PathBuf, usize)>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.at {
            Some((path, line)) => write!(f, "{}:{line}: {}", path.display(), self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// Every mistake found, in file order, then the flags'; never empty.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigErrors {
    fn one(message: String) -> ConfigErrors {
        ConfigErrors(vec![ConfigError { at: None, message }])
    }

    /// One sentence per mistake, for printing one per line.
    pub fn sentences(&self) -> Vec<String> {
        self.0.iter().map(ToString::to_string).collect()
    }
}

/// Collects mistakes while resolving; `line` is `Some` for a value from the file.
struct Mistakes<'a> {
    path: Option<&'a Path>,
    list: Vec<ConfigError>,
}

impl Mistakes<'_> {
    fn at(&mut self, line: Option<usize>, message: String) {
        let at = match (self.path, line) {
            (Some(p), Some(l)) => Some((p.to_path_buf(), l)),
            _ => None,
        };
        self.list.push(ConfigError { at, message });
    }
}

/// A value chosen from a flag (no line) or the file (its line).
type Chosen<T> = Option<(T, Option<usize>)>;

fn choose<T: Clone>(flag: &Option<T>, file: Option<At<T>>) -> Chosen<T> {
    match (flag, file) {
        (Some(v), _) => Some((v.clone(), None)),
        (None, Some(At { value, line })) => Some((value, Some(line))),
        (None, None) => None,
    }
}

/// A list from the flags if any were given, else from the file.
fn choose_list(flags: &[String], file: Vec<At<String>>) -> Vec<(String, Option<usize>)> {
    if flags.is_empty() {
        file.into_iter().map(|a| (a.value, Some(a.line))).collect()
    } else {
        flags.iter().map(|f| (f.clone(), None)).collect()
    }
}

/// `ferrovs check-config FILE`: every mistake, or the sentence printed on success.
pub fn check_file(path: &Path) -> Result<String, ConfigErrors> {
    let args = RunArgs {
        config: Some(path.to_path_buf()),
        ..RunArgs::default()
    };
    let cfg = SwitchConfig::from_run_args(&args)?;
    Ok(format!(
        "{}: OK ({} port(s), {} PMD core(s), {} controller(s))",
        path.display(),
        cfg.ports.len(),
        cfg.pmd_cores.len(),
        cfg.connmgr.controllers.len()
    ))
}

/// Parses a core list: "1", "1-3", "1,3,5-6".
pub fn parse_core_list(s: &str) -> Result<Vec<u32>, String> {
    let mut cores = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let bad = || format!("bad core list {s:?}: use numbers and ranges like 1 or 1-3 or 1,3");
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u32, u32) = (
                    a.trim().parse().map_err(|_| bad())?,
                    b.trim().parse().map_err(|_| bad())?,
                );
                if a > b || b - a > MAX_LCORE {
                    return Err(bad());
                }
                cores.extend(a..=b);
            }
            None => cores.push(part.parse().map_err(|_| bad())?),
        }
    }
    if cores.is_empty() {
        return Err(format!("bad core list {s:?}: it names no core"));
    }
    cores.sort_unstable();
    cores.dedup();
    Ok(cores)
}

fn parse_port_flag(s: &str) -> Result<(String, String), String> {
    let (name, devargs) = s
        .split_once('=')
        .ok_or_else(|| format!("bad --port {s:?}: use NAME=DEVARGS, e.g. p0=net_ring0"))?;
    Ok((name.to_owned(), devargs.to_owned()))
}

/// What is wrong with a port's devargs, if anything.
fn check_devargs(devargs: &str) -> Result<(), String> {
    let mut parts = devargs.split(',');
    let dev = parts.next().unwrap_or("");
    if dev.is_empty() {
        return Err(format!("devargs {devargs:?} name no device"));
    }
    if !is_pci_address(dev) && !dev.starts_with("net_") && !dev.starts_with("eth_") {
        return Err(format!(
            "{dev:?} is neither a DPDK virtual device (net_ring0, net_pcap0, net_null0, net_tap0, net_af_packet0, net_vhost0, …) nor a PCI address (0000:01:00.0)"
        ));
    }
    for opt in parts {
        let key = opt.split_once('=').map_or(opt, |(k, _)| k);
        if key.is_empty()
            || !key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-".contains(c))
        {
            return Err(format!(
                "bad devargs option {opt:?} in {devargs:?}: use KEY=VALUE, separated by commas"
            ));
        }
    }
    Ok(())
}

fn check_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 15
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
}

/// The cores this process may run on (its CPU affinity: in a container or a Kubernetes pod,
/// the cpuset it was given). DPDK refuses lcores outside it.
fn usable_cores() -> Vec<u32> {
    // SAFETY: an all-zero cpu_set_t is a valid empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: the size passed is the set's own, so the kernel writes only inside it.
    let rc = unsafe { libc::sched_getaffinity(0, std::mem::size_of_val(&set), &mut set) };
    if rc != 0 {
        // Unknown: let DPDK be the judge.
        return (0..MAX_LCORE).collect();
    }
    (0..MAX_LCORE)
        // SAFETY: CPU_ISSET reads one bit of the set; every core below MAX_LCORE (128) is
        // inside a cpu_set_t (1024 bits).
        .filter(|&c| unsafe { libc::CPU_ISSET(c as usize, &set) })
        .collect()
}

/// "0-3,6" for a sorted core list.
fn show_cores(cores: &[u32]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < cores.len() {
        let mut j = i;
        while j + 1 < cores.len() && cores[j + 1] == cores[j] + 1 {
            j += 1;
        }
        out.push(if i == j {
            cores[i].to_string()
        } else {
            format!("{}-{}", cores[i], cores[j])
        });
        i = j + 1;
    }
    out.join(",")
}

fn parse_metrics(s: &str) -> Result<Option<SocketAddr>, String> {
    if s == "off" {
        return Ok(None);
    }
    s.parse()
        .map(Some)
        .map_err(|_| format!("bad metrics address {s:?}: use IP:PORT (e.g. 127.0.0.1:9477) or off"))
}

fn parse_datapath_id(s: &str) -> Result<u64, String> {
    let hex = s.strip_prefix("0x").unwrap_or(s);
    if hex.is_empty() || hex.len() > 16 {
        return Err(format!("bad datapath id {s:?}: use up to 16 hex digits"));
    }
    u64::from_str_radix(hex, 16)
        .map_err(|_| format!("bad datapath id {s:?}: use up to 16 hex digits"))
}

/// The management listener `ovs-ofctl BRIDGE` finds beside the control socket.
pub fn mgmt_socket_path(ctl_path: &Path, bridge: &str) -> PathBuf {
    ctl_path.with_file_name(format!("{bridge}.mgmt"))
}

/// A port while resolving: the spec and the lines its parts came from.
struct PortAt {
    spec: PortSpec,
    name_line: Option<usize>,
    devargs_line: Option<usize>,
}

/// A path from the file is relative to the file's directory; a flag's is relative to the
/// working directory.
fn file_path(config: Option<&Path>, value: String, line: Option<usize>) -> PathBuf {
    let p = PathBuf::from(value);
    match (line, config.and_then(Path::parent)) {
        (Some(_), Some(dir)) if p.is_relative() => dir.join(p),
        _ => p,
    }
}

impl SwitchConfig {
    /// Reads `--config` (if given) and applies the flags over it; every mistake is reported.
    pub fn from_run_args(args: &RunArgs) -> Result<SwitchConfig, ConfigErrors> {
        let mut m = Mistakes {
            path: args.config.as_deref(),
            list: Vec::new(),
        };
        let file = match &args.config {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    ConfigErrors::one(format!("cannot read {}: {e}", path.display()))
                })?;
                let (file, errors) = file::parse(&text);
                for e in errors {
                    m.at(Some(e.line), e.message);
                }
                file
            }
            None => file::FileConfig::default(),
        };
        let cfg = resolve(file, args, &mut m);
        let mut list = m.list;
        if list.is_empty() {
            return Ok(cfg);
        }
        // File mistakes in line order, flag mistakes after them; the sort is stable, so two
        // mistakes on one line keep the order they were found in.
        list.sort_by_key(|e| e.at.as_ref().map_or(usize::MAX, |(_, l)| *l));
        Err(ConfigErrors(list))
    }

    /// What differs from `old` in a re-read configuration, split into what the running
    /// switch applies now and what needs a restart (each a key name).
    pub fn live_changes(&self, old: &SwitchConfig) -> LiveChanges {
        let mut live = Vec::new();
        let mut restart = Vec::new();
        let mut check = |changed: bool, key: &'static str, is_live: bool| {
            if changed {
                if is_live {
                    live.push(key);
                } else {
                    restart.push(key);
                }
            }
        };
        let (a, b) = (&self.connmgr, &old.connmgr);
        check(a.controllers != b.controllers, "controller", true);
        check(a.fail_mode != b.fail_mode, "fail_mode", true);
        check(self.log_level != old.log_level, "log_level", true);
        check(self.log_file != old.log_file, "log_file", false);
        check(self.bridge != old.bridge, "bridge", false);
        check(self.ports != old.ports, "port", false);
        check(self.pmd_cores != old.pmd_cores, "pmd_cores", false);
        check(self.control_core != old.control_core, "control_core", false);
        check(self.rxq_pins != old.rxq_pins, "rxq", false);
        check(self.patches != old.patches, "patch", false);
        check(self.mbufs != old.mbufs, "mbufs", false);
        check(self.eal_extra != old.eal_extra, "eal", false);
        check(self.ctl_path != old.ctl_path, "ctl", false);
        check(a.listeners != b.listeners, "listen", false);
        check(a.tls != b.tls, "ssl_*", false);
        check(self.datapath_id != old.datapath_id, "datapath_id", false);
        check(self.flow_limit != old.flow_limit, "flow_limit", false);
        check(self.metrics != old.metrics, "metrics", false);
        let flows = |c: &SwitchConfig| c.flows.iter().map(|(o, _)| o.clone()).collect::<Vec<_>>();
        check(flows(self) != flows(old), "flows", false);
        LiveChanges { live, restart }
    }
}

/// The result of [`SwitchConfig::live_changes`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LiveChanges {
    /// Keys whose new values the running switch applies.
    pub live: Vec<&'static str>,
    /// Keys that changed but keep their old values until a restart.
    pub restart: Vec<&'static str>,
}

fn resolve(file: file::FileConfig, args: &RunArgs, m: &mut Mistakes<'_>) -> SwitchConfig {
    let config = args.config.clone();
    let config = config.as_deref();

    let bridge = match choose(&args.bridge, file.bridge) {
        Some((name, line)) if !check_name(&name) => {
            m.at(
                line,
                format!("bad bridge name {name:?}: use up to 15 letters, digits, '_', '-' and '.'"),
            );
            DEFAULT_BRIDGE.to_owned()
        }
        Some((name, _)) => name,
        None => DEFAULT_BRIDGE.to_owned(),
    };
    let datapath_id = match choose(&args.datapath_id, file.datapath_id) {
        Some((s, line)) => parse_datapath_id(&s).map_err(|e| m.at(line, e)).ok(),
        None => None,
    };

    let ports = resolve_ports(file.port, args, m);
    let (pmd_cores, control_core) = resolve_cores(
        choose(&args.pmd_cores, file.pmd_cores),
        choose(&args.control_core.map(i64::from), file.control_core),
        m,
    );
    let rxq_pins = resolve_rxqs(file.rxq, args, &ports, &pmd_cores, m);
    let ports: Vec<PortSpec> = ports.into_iter().map(|p| p.spec).collect();

    let mut patches = Vec::new();
    let patch_list: Vec<(String, Option<usize>)> = file
        .patch
        .into_iter()
        .map(|a| (a.value, Some(a.line)))
        .chain(args.patches.iter().map(|p| (p.clone(), None)))
        .collect();
    for (p, line) in patch_list {
        let Some((a, b)) = p.split_once(':') else {
            m.at(
                line,
                format!("bad patch {p:?}: use A:B with two port names"),
            );
            continue;
        };
        let mut find = |n: &str| {
            let i = ports.iter().position(|q| q.name == n);
            if i.is_none() {
                m.at(
                    line,
                    format!("patch {p:?} names port {n:?}, which is not configured"),
                );
            }
            i
        };
        let (Some(a), Some(b)) = (find(a), find(b)) else {
            continue;
        };
        if patches.iter().any(|&(from, _)| from == a) {
            m.at(
                line,
                format!("patch {p:?}: port {} is already patched", ports[a].name),
            );
            continue;
        }
        patches.push((a, b));
    }

    let mbufs = match choose(&args.mbufs.map(i64::from), file.mbufs) {
        Some((n, line)) => match u32::try_from(n) {
            Ok(n) if n >= 1023 => n,
            _ => {
                m.at(
                    line,
                    format!("mbufs = {n} is out of range: use 1023 to {}", u32::MAX),
                );
                DEFAULT_MBUFS
            }
        },
        None => DEFAULT_MBUFS,
    };
    let eal_extra = choose(&args.eal, file.eal)
        .map(|(s, _)| s.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default();

    let flows_path = match (&args.flows, file.flows) {
        (Some(p), _) => Some((p.clone(), None)),
        (None, Some(a)) => Some((file_path(config, a.value, Some(a.line)), Some(a.line))),
        (None, None) => None,
    };
    let flows = match flows_path {
        Some((path, line)) => match crate::dpctl::read_flows_file(&path) {
            Ok(flows) => flows
                .into_iter()
                .map(|(l, f)| (format!("{}:{l}", path.display()), f))
                .collect(),
            Err(e) => {
                m.at(line, e);
                Vec::new()
            }
        },
        None => Vec::new(),
    };
    let ctl_explicit = args.ctl.is_some() || file.ctl.is_some();
    let ctl_path = match (&args.ctl, file.ctl) {
        (Some(p), _) => p.clone(),
        (None, Some(a)) => file_path(config, a.value, Some(a.line)),
        (None, None) => PathBuf::from(DEFAULT_CTL_PATH),
    };

    let flow_limit = match choose(&args.flow_limit.map(|n| n as i64), file.flow_limit) {
        Some((n, line)) if n < 1 => {
            m.at(
                line,
                format!("flow_limit = {n}: a PMD must be allowed at least 1 flow"),
            );
            pmd::flow::DEFAULT_FLOW_LIMIT
        }
        Some((n, _)) => usize::try_from(n).unwrap_or(usize::MAX),
        None => pmd::flow::DEFAULT_FLOW_LIMIT,
    };
    let metrics_chosen = choose(&args.metrics, file.metrics);
    let metrics_explicit = metrics_chosen.is_some();
    let metrics = match metrics_chosen {
        Some((s, line)) => parse_metrics(&s).unwrap_or_else(|e| {
            m.at(line, e);
            Some(DEFAULT_METRICS)
        }),
        None => Some(DEFAULT_METRICS),
    };
    let log_level = match choose(&args.log_level, file.log_level) {
        Some((spec, line)) => match crate::vlog::parse_specs(&spec) {
            Ok(_) => Some(spec),
            Err(e) => {
                m.at(line, format!("bad log level {spec:?}: {e}"));
                None
            }
        },
        None => None,
    };
    let log_file = match (&args.log_file, file.log_file) {
        (Some(p), _) => Some((p.clone(), None)),
        (None, Some(a)) => Some((file_path(config, a.value, Some(a.line)), Some(a.line))),
        (None, None) => None,
    };
    // The file itself is created at start; its directory must exist.
    let log_file = log_file.and_then(|(path, line)| {
        match path.parent().filter(|d| !d.as_os_str().is_empty()) {
            Some(dir) if !dir.is_dir() => {
                m.at(
                    line,
                    format!("log_file: directory {} does not exist", dir.display()),
                );
                None
            }
            _ => Some(path),
        }
    });

    let mut connmgr = ConnmgrConfig::default();
    connmgr
        .listeners
        .push(ListenTarget::Unix(mgmt_socket_path(&ctl_path, &bridge)));
    let mut tls_needed_by: Option<(String, Option<usize>)> = None;
    for (t, line) in choose_list(&args.listen, file.listen) {
        match t.parse::<ListenTarget>() {
            Ok(l) => {
                if matches!(l, ListenTarget::Ssl(_)) && tls_needed_by.is_none() {
                    tls_needed_by = Some((t.clone(), line));
                }
                connmgr.listeners.push(l);
            }
            Err(e) => m.at(line, format!("bad listener {t:?}: {e}")),
        }
    }
    for (t, line) in choose_list(&args.controllers, file.controller) {
        match t.parse::<ControllerTarget>() {
            Ok(c) if connmgr.controllers.contains(&c) => {
                m.at(line, format!("controller {t:?} is configured twice"))
            }
            Ok(c) => {
                if matches!(c, ControllerTarget::Ssl(_)) && tls_needed_by.is_none() {
                    tls_needed_by = Some((t.clone(), line));
                }
                connmgr.controllers.push(c);
            }
            Err(e) => m.at(line, format!("bad controller {t:?}: {e}")),
        }
    }
    if let Some((mode, line)) = choose(&args.fail_mode, file.fail_mode) {
        match mode.parse::<FailMode>() {
            Ok(f) => connmgr.fail_mode = f,
            Err(_) => m.at(
                line,
                format!("bad fail mode {mode:?}: use secure or standalone"),
            ),
        }
    }
    connmgr.tls = resolve_tls(
        config,
        [
            (
                "ssl_private_key",
                choose(&args.ssl_private_key, file.ssl_private_key.map(at_path)),
            ),
            (
                "ssl_certificate",
                choose(&args.ssl_certificate, file.ssl_certificate.map(at_path)),
            ),
            (
                "ssl_ca_cert",
                choose(&args.ssl_ca_cert, file.ssl_ca_cert.map(at_path)),
            ),
        ],
        tls_needed_by,
        m,
    );

    SwitchConfig {
        bridge,
        ports,
        pmd_cores,
        control_core,
        rxq_pins,
        patches,
        mbufs,
        eal_extra,
        quiet: args.quiet || file.quiet.is_some_and(|q| q.value),
        flows,
        ctl_path,
        ctl_explicit,
        connmgr,
        datapath_id,
        flow_limit,
        metrics,
        metrics_explicit,
        log_level,
        log_file,
        args: args.clone(),
    }
}

fn at_path(a: At<String>) -> At<PathBuf> {
    At {
        value: PathBuf::from(a.value),
        line: a.line,
    }
}

fn resolve_ports(file: Vec<file::FilePort>, args: &RunArgs, m: &mut Mistakes<'_>) -> Vec<PortAt> {
    let mut ports = Vec::new();
    for p in file {
        let Some(name) = p.name else {
            m.at(Some(p.line), "[[port]] has no name".into());
            continue;
        };
        let Some(devargs) = p.devargs else {
            m.at(
                Some(p.line),
                format!("port {}: devargs are missing", name.value),
            );
            continue;
        };
        let rx_queues = match p.rx_queues {
            Some(At { value, line }) if !(1..=MAX_RX_QUEUES).contains(&value) => {
                m.at(
                    Some(line),
                    format!(
                        "port {}: rx_queues = {value} is out of range: use 1 to {MAX_RX_QUEUES}",
                        name.value
                    ),
                );
                1
            }
            Some(At { value, .. }) => value as u16,
            None => 1,
        };
        ports.push(PortAt {
            spec: PortSpec {
                name: name.value,
                devargs: devargs.value,
                rx_queues,
            },
            name_line: Some(name.line),
            devargs_line: Some(devargs.line),
        });
    }
    let from_file = ports.len();
    for flag in &args.ports {
        let (name, devargs) = match parse_port_flag(flag) {
            Ok(p) => p,
            Err(e) => {
                m.at(None, e);
                continue;
            }
        };
        // A flag naming a port from the file replaces its devargs; two flags naming one
        // port are a mistake, caught below.
        match ports[..from_file].iter_mut().find(|p| p.spec.name == name) {
            Some(p) => {
                p.spec.devargs = devargs;
                p.devargs_line = None;
            }
            None => ports.push(PortAt {
                spec: PortSpec {
                    name,
                    devargs,
                    rx_queues: 1,
                },
                name_line: None,
                devargs_line: None,
            }),
        }
    }
    for i in 0..ports.len() {
        let p = &ports[i];
        if !check_name(&p.spec.name) {
            m.at(
                p.name_line,
                format!(
                    "bad port name {:?}: use up to 15 letters, digits, '_', '-' and '.'",
                    p.spec.name
                ),
            );
        }
        if ports[..i].iter().any(|q| q.spec.name == p.spec.name) {
            m.at(
                p.name_line,
                format!("port {} is configured twice", p.spec.name),
            );
        }
        if let Err(e) = check_devargs(&p.spec.devargs) {
            m.at(p.devargs_line, format!("port {}: {e}", p.spec.name));
            continue;
        }
        let dev = p.spec.device();
        if ports[..i].iter().any(|q| q.spec.device() == dev) {
            m.at(
                p.devargs_line,
                format!(
                    "port {}: device {dev} is already used by another port",
                    p.spec.name
                ),
            );
        }
    }
    ports
}

fn resolve_cores(
    pmd: Chosen<String>,
    control: Chosen<i64>,
    m: &mut Mistakes<'_>,
) -> (Vec<u32>, Option<u32>) {
    let usable = usable_cores();
    let (mut pmd_cores, pmd_line) = match pmd {
        Some((text, line)) => match parse_core_list(&text) {
            Ok(cores) => (cores, line),
            Err(e) => {
                m.at(line, e);
                (vec![1], line)
            }
        },
        None => (vec![1], None),
    };
    if pmd_line.is_some() || pmd_cores != [1] {
        let missing: Vec<u32> = pmd_cores
            .iter()
            .copied()
            .filter(|c| !usable.contains(c))
            .collect();
        if !missing.is_empty() {
            m.at(
                pmd_line,
                format!(
                    "pmd_cores: core {} is out of range: ferrovs may use cores {}",
                    show_cores(&missing),
                    show_cores(&usable)
                ),
            );
            pmd_cores.retain(|c| usable.contains(c));
        }
    }
    let control_core = match control {
        Some((c, line)) => match u32::try_from(c).ok().filter(|c| usable.contains(c)) {
            Some(c) => {
                if pmd_cores.contains(&c) {
                    m.at(
                        line.or(pmd_line),
                        format!(
                            "control_core {c} is also in pmd_cores: the control lcore needs a core of its own"
                        ),
                    );
                }
                Some(c)
            }
            None => {
                m.at(
                    line,
                    format!(
                        "control_core {c} is out of range: ferrovs may use cores {}",
                        show_cores(&usable)
                    ),
                );
                None
            }
        },
        None => {
            let free = usable.iter().copied().find(|c| !pmd_cores.contains(c));
            if free.is_none() {
                m.at(
                    pmd_line,
                    "pmd_cores takes every core ferrovs may use: leave one for the control lcore"
                        .into(),
                );
            }
            free
        }
    };
    (pmd_cores, control_core)
}

fn resolve_rxqs(
    file: Vec<file::FileRxq>,
    args: &RunArgs,
    ports: &[PortAt],
    pmd_cores: &[u32],
    m: &mut Mistakes<'_>,
) -> Vec<RxqPin> {
    // (port, queue, core, line of the whole entry)
    let mut wanted: Vec<(String, i64, i64, Option<usize>)> = Vec::new();
    for r in file {
        let line = Some(r.line);
        match (r.port, r.queue, r.pmd) {
            (Some(p), Some(q), Some(c)) => wanted.push((p.value, q.value, c.value, Some(p.line))),
            _ => m.at(line, "[[rxq]] needs port, queue and pmd".into()),
        }
    }
    for flag in &args.rxqs {
        let parts: Vec<&str> = flag.split(':').collect();
        match parts.as_slice() {
            [p, q, c] => match (q.parse(), c.parse()) {
                (Ok(q), Ok(c)) => wanted.push(((*p).to_owned(), q, c, None)),
                _ => m.at(
                    None,
                    format!("bad --rxq {flag:?}: use PORT:QUEUE:CORE, e.g. p0:0:2"),
                ),
            },
            _ => m.at(
                None,
                format!("bad --rxq {flag:?}: use PORT:QUEUE:CORE, e.g. p0:0:2"),
            ),
        }
    }
    let mut pins: Vec<RxqPin> = Vec::new();
    for (name, queue, core, line) in wanted {
        let Some(port) = ports.iter().position(|p| p.spec.name == name) else {
            m.at(line, format!("rxq: no port is named {name:?}"));
            continue;
        };
        let n = ports[port].spec.rx_queues;
        let Some(queue) = u16::try_from(queue).ok().filter(|&q| q < n) else {
            m.at(
                line,
                format!("rxq: port {name} has {n} rx queue(s) (see rx_queues), so it has no queue {queue}"),
            );
            continue;
        };
        let Some(pmd) = pmd_cores.iter().position(|&c| i64::from(c) == core) else {
            let list: Vec<String> = pmd_cores.iter().map(u32::to_string).collect();
            m.at(
                line,
                format!(
                    "rxq: core {core} runs no PMD (pmd_cores are {})",
                    list.join(",")
                ),
            );
            continue;
        };
        if pins.iter().any(|p| p.port == port && p.queue == queue) {
            m.at(
                line,
                format!("rxq: queue {queue} of port {name} is assigned twice"),
            );
            continue;
        }
        pins.push(RxqPin { port, queue, pmd });
    }
    pins
}

fn resolve_tls(
    config: Option<&Path>,
    files: [(&str, Chosen<PathBuf>); 3],
    needed_by: Option<(String, Option<usize>)>,
    m: &mut Mistakes<'_>,
) -> Option<TlsFiles> {
    let mut paths = Vec::new();
    let mut ok = true;
    for (key, chosen) in &files {
        let Some((path, line)) = chosen else {
            continue;
        };
        let path = match line {
            Some(_) => file_path(config, path.to_string_lossy().into_owned(), *line),
            None => path.clone(),
        };
        if let Err(e) = std::fs::File::open(&path) {
            m.at(*line, format!("{key}: cannot read {}: {e}", path.display()));
            ok = false;
        }
        paths.push(path);
    }
    let first_line = files.iter().find_map(|(_, c)| c.as_ref().map(|(_, l)| *l));
    match (paths.len(), needed_by) {
        (0, None) => None,
        (0, Some((target, line))) => {
            m.at(line, format!("{target:?} needs TLS: set ssl_private_key, ssl_certificate and ssl_ca_cert (or --ssl-private-key, --ssl-certificate, --ssl-ca-cert)"));
            None
        }
        (3, _) if ok => {
            let mut it = paths.into_iter();
            match (it.next(), it.next(), it.next()) {
                (Some(private_key), Some(certificate), Some(ca_cert)) => Some(TlsFiles {
                    private_key,
                    certificate,
                    ca_cert,
                }),
                _ => None,
            }
        }
        (3, _) => None,
        _ => {
            m.at(
                first_line.flatten(),
                "TLS needs all three of ssl_private_key, ssl_certificate and ssl_ca_cert (--ssl-private-key, --ssl-certificate, --ssl-ca-cert)".into(),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(ports: &[&str], patches: &[&str]) -> RunArgs {
        RunArgs {
            ports: ports.iter().map(|s| s.to_string()).collect(),
            patches: patches.iter().map(|s| s.to_string()).collect(),
            ..RunArgs::default()
        }
    }

    struct Dir(PathBuf);

    impl Dir {
        fn new(tag: &str) -> Dir {
            let d = std::env::temp_dir().join(format!("ferrovs-{tag}-{}", std::process::id()));
            std::fs::create_dir_all(&d).unwrap();
            Dir(d)
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn core_lists() {
        assert_eq!(parse_core_list("1").unwrap(), [1]);
        assert_eq!(parse_core_list("1-3,5").unwrap(), [1, 2, 3, 5]);
        assert!(parse_core_list("3-1").is_err());
        assert!(parse_core_list("x").is_err());
        assert!(parse_core_list("").is_err());
        assert!(parse_core_list("0-4000000000").is_err());
    }

    #[test]
    fn metrics_address() {
        let cfg = SwitchConfig::from_run_args(&args(&[], &[])).unwrap();
        assert_eq!(cfg.metrics, Some("127.0.0.1:9477".parse().unwrap()));
        assert_eq!(
            DEFAULT_METRICS.to_string(),
            crate::metrics::DEFAULT_METRICS_ADDR
        );
        assert!(!cfg.metrics_explicit);
        let with = |m: &str, config: Option<PathBuf>| {
            SwitchConfig::from_run_args(&RunArgs {
                metrics: Some(m.into()),
                config,
                ..RunArgs::default()
            })
        };
        let cfg = with("off", None).unwrap();
        assert_eq!((cfg.metrics, cfg.metrics_explicit), (None, true));
        let dir = Dir::new("cfg-metrics");
        let path = dir.0.join("m.toml");
        std::fs::write(&path, "metrics = \"127.0.0.1:9100\"\n").unwrap();
        let cfg = SwitchConfig::from_run_args(&RunArgs {
            config: Some(path.clone()),
            ..RunArgs::default()
        })
        .unwrap();
        assert_eq!(cfg.metrics, Some("127.0.0.1:9100".parse().unwrap()));
        assert!(cfg.metrics_explicit);
        // The flag wins over the file.
        assert_eq!(with("off", Some(path)).unwrap().metrics, None);
        assert_eq!(
            with("[::1]:9100", None).unwrap().metrics,
            Some("[::1]:9100".parse().unwrap())
        );
        assert_eq!(
            with("9477", None).unwrap_err().to_string(),
            "bad metrics address \"9477\": use IP:PORT (e.g. 127.0.0.1:9477) or off"
        );
    }

    #[test]
    fn core_lists_are_shown_as_ranges() {
        assert_eq!(show_cores(&[0, 1, 2, 3, 6, 8, 9]), "0-3,6,8-9");
        assert_eq!(show_cores(&[5]), "5");
        assert_eq!(show_cores(&[]), "");
    }

    #[test]
    fn pci_addresses() {
        assert!(is_pci_address("0000:00:03.0"));
        assert!(is_pci_address("03:00.1"));
        assert!(!is_pci_address("net_ring0"));
        assert!(!is_pci_address("0000:00:03"));
    }

    #[test]
    fn devargs() {
        assert_eq!(
            check_devargs("net_pcap0,rx_pcap=a.pcap,infinite_rx=1"),
            Ok(())
        );
        assert_eq!(check_devargs("0000:01:00.0"), Ok(()));
        assert!(check_devargs("").is_err());
        assert!(check_devargs("net_ring0,,x=1").is_err());
        assert!(check_devargs("net_ring0,=1").is_err());
        assert!(check_devargs("ring0").is_err());
    }

    #[test]
    fn ports_and_patches_resolve() {
        let cfg = SwitchConfig::from_run_args(&args(
            &["p0=net_pcap0,rx_pcap=a.pcap", "p1=net_null0"],
            &["p0:p1"],
        ))
        .unwrap();
        assert_eq!(cfg.ports[0].device(), "net_pcap0");
        assert_eq!(cfg.patches, [(0, 1)]);
        assert_eq!(cfg.pmd_cores, [1]);
        assert_eq!(cfg.bridge, "br0");
        assert_eq!(cfg.metrics, Some(DEFAULT_METRICS));
        assert_eq!(cfg.flow_limit, pmd::flow::DEFAULT_FLOW_LIMIT);
    }

    #[test]
    fn flag_mistakes_are_one_sentence_each() {
        let cases: &[(&[&str], &[&str], &str)] = &[
            (&["p0"], &[], "use NAME=DEVARGS"),
            (&["p0=bogus0"], &[], "neither a DPDK virtual device"),
            (
                &["p0=net_ring0", "p0=net_ring1"],
                &[],
                "port p0 is configured twice",
            ),
            (&["p0=net_ring0", "p1=net_ring0"], &[], "already used"),
            (&["p0=net_ring0"], &["p0:p9"], "not configured"),
            (&["p0=net_ring0"], &["p0"], "use A:B"),
        ];
        for (ports, patches, needle) in cases {
            let err = SwitchConfig::from_run_args(&args(ports, patches)).unwrap_err();
            assert_eq!(err.0.len(), 1, "{err}");
            assert_eq!(err.0[0].at, None);
            assert!(err.0[0].message.contains(needle), "{err}");
            assert!(!err.0[0].message.contains('\n'), "{err}");
        }
    }

    #[test]
    fn flags_override_the_file() {
        let dir = Dir::new("cfg-override");
        let path = dir.0.join("f.toml");
        std::fs::write(
            &path,
            "controller = [\"tcp:127.0.0.1:1\"]\nfail_mode = \"standalone\"\nmetrics = \"off\"\n[[port]]\nname = \"p0\"\ndevargs = \"net_ring0\"\nrx_queues = 2\n",
        )
        .unwrap();
        let mut a = args(&["p0=net_ring5", "p1=net_null0"], &[]);
        a.config = Some(path);
        a.controllers = vec!["tcp:127.0.0.1:2".into()];
        let cfg = SwitchConfig::from_run_args(&a).unwrap();
        assert_eq!(cfg.ports[0].devargs, "net_ring5");
        assert_eq!(cfg.ports[0].rx_queues, 2);
        assert_eq!(cfg.ports[1].name, "p1");
        assert_eq!(cfg.connmgr.controllers.len(), 1);
        assert_eq!(cfg.connmgr.controllers[0].to_string(), "tcp:127.0.0.1:2");
        assert_eq!(cfg.connmgr.fail_mode, FailMode::Standalone);
        assert_eq!(cfg.metrics, None);
    }

    #[test]
    fn flows_file_and_ctl_path() {
        let dir = Dir::new("flows");
        let path = dir.0.join("flows.txt");
        std::fs::write(
            &path,
            "# two flows\nin_port(1), actions:2\n\nin_port(2), actions:1\n",
        )
        .unwrap();
        let mut a = args(&["p0=net_ring0", "p1=net_ring1"], &[]);
        a.flows = Some(path.clone());
        let cfg = SwitchConfig::from_run_args(&a).unwrap();
        let origins: Vec<&str> = cfg.flows.iter().map(|(o, _)| o.as_str()).collect();
        assert_eq!(
            origins,
            [
                format!("{}:2", path.display()),
                format!("{}:4", path.display())
            ]
        );
        assert_eq!(cfg.ctl_path, PathBuf::from(DEFAULT_CTL_PATH));
        a.ctl = Some(dir.0.join("ctl"));
        std::fs::write(&path, "in_port(1), actions:2\nin_port(1), actions:frob\n").unwrap();
        let err = SwitchConfig::from_run_args(&a).unwrap_err().to_string();
        assert!(err.starts_with(&format!("{}:2: ", path.display())), "{err}");
        assert!(!err.contains('\n'), "{err}");
    }

    #[test]
    fn every_file_mistake_is_reported_with_its_line() {
        let dir = Dir::new("cfg-all");
        let path = dir.0.join("bad.toml");
        std::fs::write(
            &path,
            concat!(
                "pmd_cores = \"1\"\n",              // 1
                "fail_mode = \"open\"\n",           // 2
                "controller = [\"tcp:nowhere\"]\n", // 3
                "flow_limit = 0\n",                 // 4
                "\n",                               // 5
                "[[port]]\n",                       // 6
                "name = \"p0\"\n",                  // 7
                "devargz = \"net_ring0\"\n",        // 8
                "[[port]]\n",                       // 9
                "name = \"p1\"\n",                  // 10
                "devargs = \"net_ring1\"\n",        // 11
                "[[port]]\n",                       // 12
                "name = \"p1\"\n",                  // 13
                "devargs = \"net_ring2\"\n",        // 14
            ),
        )
        .unwrap();
        let err = check_file(&path).unwrap_err();
        let got: Vec<(usize, String)> = err
            .0
            .iter()
            .map(|e| (e.at.as_ref().map_or(0, |(_, l)| *l), e.message.clone()))
            .collect();
        let lines: Vec<usize> = got.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, [2, 3, 4, 6, 8, 13], "{got:#?}");
        assert!(got[4].1.contains("did you mean \"devargs\""), "{got:#?}");
        assert_eq!(got[5].1, "port p1 is configured twice");
        assert!(
            err.to_string().contains("bad.toml:2: bad fail mode"),
            "{err}"
        );
    }

    #[test]
    fn live_and_restart_changes() {
        let a = SwitchConfig::from_run_args(&args(&["p0=net_ring0"], &[])).unwrap();
        let mut b = a.clone();
        b.connmgr.fail_mode = FailMode::Standalone;
        b.mbufs += 1;
        assert_eq!(
            b.live_changes(&a),
            LiveChanges {
                live: vec!["fail_mode"],
                restart: vec!["mbufs"]
            }
        );
        assert_eq!(a.live_changes(&a), LiveChanges::default());
    }
}
