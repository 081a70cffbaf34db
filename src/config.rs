//! Configuration: the TOML file and the flags that override it.
//!
//! Everything the switch needs to start is resolved here into a
//! [`SwitchConfig`], checked before DPDK is touched, so a mistake gets one
//! sentence and a non-zero exit instead of a half-started switch.

use std::path::{Path, PathBuf};

use pmd::odp::OdpFlow;

use serde::Deserialize;

use crate::cli::RunArgs;
use crate::connmgr::{ConnmgrConfig, ListenTarget, TlsFiles};

/// One port as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortSpec {
    /// The user's name for the port (p0, uplink, …).
    pub name: String,
    /// DPDK device arguments; the device name is the part before the first comma.
    pub devargs: String,
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

/// The resolved configuration of a switch run.
#[derive(Debug, Clone)]
pub struct SwitchConfig {
    pub ports: Vec<PortSpec>,
    pub pmd_cores: Vec<u32>,
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
    /// Where `/metrics` is served; `None` for `--metrics off`.
    pub metrics: Option<std::net::SocketAddr>,
    /// Whether the user chose `metrics` (then failing to bind it is an error).
    pub metrics_explicit: bool,
    /// Log levels (`--log-level`), already checked to parse.
    pub log_level: Option<String>,
    /// `--log-file`: where the `file` log destination writes.
    pub log_file: Option<PathBuf>,
}

/// Where the control socket goes unless `--ctl` says otherwise.
pub const DEFAULT_CTL_PATH: &str = "/run/ferrovs/ferrovs.ctl";

/// The config file's shape.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    pmd_cores: Option<String>,
    mbufs: Option<u32>,
    eal: Option<String>,
    #[serde(default)]
    listen: Vec<String>,
    #[serde(default)]
    controller: Vec<String>,
    fail_mode: Option<String>,
    datapath_id: Option<String>,
    ssl_private_key: Option<PathBuf>,
    ssl_certificate: Option<PathBuf>,
    ssl_ca_cert: Option<PathBuf>,
    #[serde(default)]
    port: Vec<FilePort>,
    #[serde(default)]
    patch: Vec<String>,
    metrics: Option<String>,
    /// Log levels in `vlog/set` syntax, comma-separated (see src/vlog.rs).
    log_level: Option<String>,
    log_file: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FilePort {
    name: String,
    devargs: String,
}

const DEFAULT_MBUFS: u32 = 16383;

fn read_file(path: &Path) -> Result<FileConfig, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| {
        let msg = e.message().to_owned();
        match e.span() {
            Some(span) => {
                let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
                format!("{}:{line}: {msg}", path.display())
            }
            None => format!("{}: {msg}", path.display()),
        }
    })
}

/// `ferrovs check-config FILE`.
pub fn check_file(path: &Path) -> Result<(), String> {
    let file = read_file(path)?;
    let args = RunArgs {
        config: None,
        ..RunArgs::default()
    };
    SwitchConfig::resolve(file, &args)?;
    println!("{}: OK", path.display());
    Ok(())
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
                if a > b {
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

fn parse_port_flag(s: &str) -> Result<PortSpec, String> {
    let (name, devargs) = s
        .split_once('=')
        .ok_or_else(|| format!("bad --port {s:?}: use NAME=DEVARGS, e.g. p0=net_ring0"))?;
    Ok(PortSpec {
        name: name.to_owned(),
        devargs: devargs.to_owned(),
    })
}

impl SwitchConfig {
    /// Reads `--config` (if given) and applies the flags over it.
    pub fn from_run_args(args: &RunArgs) -> Result<SwitchConfig, String> {
        let file = match &args.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        SwitchConfig::resolve(file, args)
    }

    fn resolve(file: FileConfig, args: &RunArgs) -> Result<SwitchConfig, String> {
        let file_of = FileOpenflow {
            listen: file.listen,
            controller: file.controller,
            fail_mode: file.fail_mode,
            ssl_private_key: file.ssl_private_key,
            ssl_certificate: file.ssl_certificate,
            ssl_ca_cert: file.ssl_ca_cert,
        };
        let datapath_id = match args.datapath_id.as_ref().or(file.datapath_id.as_ref()) {
            Some(s) => Some(parse_datapath_id(s)?),
            None => None,
        };
        let mut ports: Vec<PortSpec> = file
            .port
            .into_iter()
            .map(|p| PortSpec {
                name: p.name,
                devargs: p.devargs,
            })
            .collect();
        let from_file = ports.len();
        for flag in &args.ports {
            let spec = parse_port_flag(flag)?;
            // A flag naming a port from the file replaces its devargs; two
            // flags naming one port are a mistake, caught below.
            match ports[..from_file].iter_mut().find(|p| p.name == spec.name) {
                Some(p) => p.devargs = spec.devargs,
                None => ports.push(spec),
            }
        }
        for (i, p) in ports.iter().enumerate() {
            if p.name.is_empty()
                || !p
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
            {
                return Err(format!(
                    "bad port name {:?}: use letters, digits, '_', '-' and '.'",
                    p.name
                ));
            }
            if ports[..i].iter().any(|q| q.name == p.name) {
                return Err(format!("port {} is configured twice", p.name));
            }
            let dev = p.device();
            if dev.is_empty() {
                return Err(format!("port {}: empty devargs", p.name));
            }
            if !p.is_pci() && !dev.starts_with("net_") && !dev.starts_with("eth_") {
                return Err(format!(
                    "port {}: {dev:?} is neither a DPDK virtual device (net_ring0, net_pcap0, net_null0, net_tap0, net_af_packet0, net_vhost0, …) nor a PCI address (0000:01:00.0)",
                    p.name
                ));
            }
            if ports[..i].iter().any(|q| q.device() == dev) {
                return Err(format!(
                    "port {}: device {dev} is already used by another port",
                    p.name
                ));
            }
        }
        let cores_text = args
            .pmd_cores
            .clone()
            .or(file.pmd_cores)
            .unwrap_or_else(|| "1".into());
        let pmd_cores = parse_core_list(&cores_text)?;
        if pmd_cores.len() >= 128 {
            return Err("too many PMD cores".into());
        }
        let mut patches = Vec::new();
        for p in file.patch.iter().chain(args.patches.iter()) {
            let (a, b) = p
                .split_once(':')
                .ok_or_else(|| format!("bad patch {p:?}: use A:B with two port names"))?;
            let find = |n: &str| {
                ports
                    .iter()
                    .position(|q| q.name == n)
                    .ok_or_else(|| format!("patch {p:?} names port {n:?}, which is not configured"))
            };
            let (a, b) = (find(a)?, find(b)?);
            if patches.iter().any(|&(from, _)| from == a) {
                return Err(format!(
                    "patch {p:?}: port {} is already patched",
                    ports[a].name
                ));
            }
            patches.push((a, b));
        }
        let mbufs = args.mbufs.or(file.mbufs).unwrap_or(DEFAULT_MBUFS);
        if mbufs < 1023 {
            return Err(format!("mbufs = {mbufs} is too small: use at least 1023"));
        }
        let eal_text = args.eal.clone().or(file.eal).unwrap_or_default();
        let eal_extra = eal_text.split_whitespace().map(str::to_owned).collect();
        let flows = match &args.flows {
            Some(path) => crate::dpctl::read_flows_file(path)?
                .into_iter()
                .map(|(line, f)| (format!("{}:{line}", path.display()), f))
                .collect(),
            None => Vec::new(),
        };
        let metrics_text = args.metrics.clone().or(file.metrics);
        let metrics = parse_metrics_addr(
            metrics_text
                .as_deref()
                .unwrap_or(crate::metrics::DEFAULT_METRICS_ADDR),
        )?;
        let ctl_path = args
            .ctl
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_CTL_PATH));
        let log_level = args.log_level.clone().or(file.log_level);
        if let Some(spec) = &log_level {
            crate::vlog::parse_specs(spec).map_err(|e| format!("log level {spec:?}: {e}"))?;
        }
        Ok(SwitchConfig {
            log_level,
            log_file: args.log_file.clone().or(file.log_file),
            ports,
            pmd_cores,
            patches,
            mbufs,
            eal_extra,
            quiet: args.quiet,
            flows,
            connmgr: resolve_connmgr(&file_of, args, &ctl_path)?,
            datapath_id,
            ctl_path,
            ctl_explicit: args.ctl.is_some(),
            metrics,
            metrics_explicit: metrics_text.is_some(),
        })
    }
}

/// The OpenFlow part of the file, kept apart from what `resolve` consumes.
struct FileOpenflow {
    listen: Vec<String>,
    controller: Vec<String>,
    fail_mode: Option<String>,
    ssl_private_key: Option<PathBuf>,
    ssl_certificate: Option<PathBuf>,
    ssl_ca_cert: Option<PathBuf>,
}

/// `--metrics`: `off`, or the IP:PORT to serve `/metrics` on.
fn parse_metrics_addr(s: &str) -> Result<Option<std::net::SocketAddr>, String> {
    if s == "off" {
        return Ok(None);
    }
    s.parse()
        .map(Some)
        .map_err(|_| format!("bad metrics address {s:?}: use IP:PORT (e.g. 127.0.0.1:9477) or off"))
}

/// The management listener `ovs-ofctl` finds beside the control socket.
pub fn mgmt_socket_path(ctl_path: &Path) -> PathBuf {
    ctl_path.with_file_name("br0.mgmt")
}

fn resolve_connmgr(
    file: &FileOpenflow,
    args: &RunArgs,
    ctl_path: &Path,
) -> Result<ConnmgrConfig, String> {
    let mut cfg = ConnmgrConfig::default();
    let listen = if args.listen.is_empty() {
        &file.listen
    } else {
        &args.listen
    };
    cfg.listeners
        .push(ListenTarget::Unix(mgmt_socket_path(ctl_path)));
    for t in listen {
        cfg.listeners
            .push(t.parse().map_err(|e| format!("bad listener {t:?}: {e}"))?);
    }
    let controllers = if args.controllers.is_empty() {
        &file.controller
    } else {
        &args.controllers
    };
    for t in controllers {
        cfg.controllers.push(
            t.parse()
                .map_err(|e| format!("bad controller {t:?}: {e}"))?,
        );
    }
    if let Some(mode) = args.fail_mode.as_ref().or(file.fail_mode.as_ref()) {
        cfg.fail_mode = mode
            .parse()
            .map_err(|_| format!("bad fail mode {mode:?}: use secure or standalone"))?;
    }
    let key = args
        .ssl_private_key
        .clone()
        .or(file.ssl_private_key.clone());
    let cert = args
        .ssl_certificate
        .clone()
        .or(file.ssl_certificate.clone());
    let ca = args.ssl_ca_cert.clone().or(file.ssl_ca_cert.clone());
    match (key, cert, ca) {
        (Some(private_key), Some(certificate), Some(ca_cert)) => {
            cfg.tls = Some(TlsFiles {
                private_key,
                certificate,
                ca_cert,
            })
        }
        (None, None, None) => {}
        _ => {
            return Err(
                "TLS needs all three of --ssl-private-key, --ssl-certificate and --ssl-ca-cert"
                    .into(),
            )
        }
    }
    Ok(cfg)
}

fn parse_datapath_id(s: &str) -> Result<u64, String> {
    let hex = s.trim_start_matches("0x");
    if hex.is_empty() || hex.len() > 16 {
        return Err(format!("bad datapath id {s:?}: use up to 16 hex digits"));
    }
    u64::from_str_radix(hex, 16)
        .map_err(|_| format!("bad datapath id {s:?}: use up to 16 hex digits"))
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

    #[test]
    fn core_lists() {
        assert_eq!(parse_core_list("1").unwrap(), [1]);
        assert_eq!(parse_core_list("1-3,5").unwrap(), [1, 2, 3, 5]);
        assert!(parse_core_list("3-1").is_err());
        assert!(parse_core_list("x").is_err());
        assert!(parse_core_list("").is_err());
    }

    #[test]
    fn metrics_address() {
        let cfg = SwitchConfig::from_run_args(&args(&[], &[])).unwrap();
        assert_eq!(cfg.metrics, Some("127.0.0.1:9477".parse().unwrap()));
        assert!(!cfg.metrics_explicit);
        let with = |m: &str| {
            SwitchConfig::from_run_args(&RunArgs {
                metrics: Some(m.into()),
                ..RunArgs::default()
            })
        };
        let cfg = with("off").unwrap();
        assert_eq!((cfg.metrics, cfg.metrics_explicit), (None, true));
        let file: FileConfig = toml::from_str("metrics = \"127.0.0.1:9100\"\n").unwrap();
        let cfg = SwitchConfig::resolve(file, &RunArgs::default()).unwrap();
        assert_eq!(cfg.metrics, Some("127.0.0.1:9100".parse().unwrap()));
        assert!(cfg.metrics_explicit);
        // The flag wins over the file.
        let file: FileConfig = toml::from_str("metrics = \"127.0.0.1:9100\"\n").unwrap();
        let args = RunArgs {
            metrics: Some("off".into()),
            ..RunArgs::default()
        };
        assert_eq!(SwitchConfig::resolve(file, &args).unwrap().metrics, None);
        assert_eq!(
            with("[::1]:9100").unwrap().metrics,
            Some("[::1]:9100".parse().unwrap())
        );
        assert_eq!(
            with("9477").unwrap_err(),
            "bad metrics address \"9477\": use IP:PORT (e.g. 127.0.0.1:9477) or off"
        );
    }

    #[test]
    fn pci_addresses() {
        assert!(is_pci_address("0000:00:03.0"));
        assert!(is_pci_address("03:00.1"));
        assert!(!is_pci_address("net_ring0"));
        assert!(!is_pci_address("0000:00:03"));
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
    }

    #[test]
    fn mistakes_are_one_sentence() {
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
            assert!(err.contains(needle), "{err}");
            assert!(!err.contains('\n'), "{err}");
        }
    }

    #[test]
    fn flows_file_and_ctl_path() {
        let dir = std::env::temp_dir().join(format!("ferrovs-flows-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("flows.txt");
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
        a.ctl = Some(dir.join("ctl"));
        std::fs::write(&path, "in_port(1), actions:2\nin_port(1), actions:frob\n").unwrap();
        let err = SwitchConfig::from_run_args(&a).unwrap_err();
        assert!(err.starts_with(&format!("{}:2: ", path.display())), "{err}");
        assert!(!err.contains('\n'), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn file_errors_name_the_line() {
        let dir = std::env::temp_dir().join(format!("ferrovs-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bad.toml");
        std::fs::write(
            &path,
            "pmd_cores = \"1\"\n\n[[port]]\nname = \"p0\"\ndevargz = \"net_ring0\"\n",
        )
        .unwrap();
        let err = check_file(&path).unwrap_err();
        assert!(err.contains("bad.toml:5:"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
