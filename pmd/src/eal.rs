//! The DPDK Environment Abstraction Layer: initialised once per process.
//!
//! `Eal::init` takes the complete EAL argument list. DPDK cannot be
//! initialised twice in one process (not even after `rte_eal_cleanup`), so a
//! second call returns [`EalError::AlreadyInitialized`] instead of letting
//! DPDK abort. [`EalArgs`] builds the argument lists every ferrovs command,
//! test and benchmark uses: `--no-pci` unless the user names PCI devices,
//! hugepages when they are mounted and free, `--no-huge` otherwise.

use std::ffi::{c_char, CString};
use std::sync::atomic::{AtomicBool, Ordering};

use thiserror::Error;

static INITIALIZED: AtomicBool = AtomicBool::new(false);

/// Errors from EAL initialisation.
#[derive(Debug, Error)]
pub enum EalError {
    #[error("DPDK's EAL is already initialised in this process; it can be initialised only once")]
    AlreadyInitialized,
    #[error("an EAL argument contains a NUL byte: {0:?}")]
    BadArgument(String),
    #[error("DPDK's EAL failed to initialise ({0}); check the port devargs and EAL arguments (the EAL messages above name the one it rejected)")]
    InitFailed(String),
}

/// A live EAL. Dropping it runs `rte_eal_cleanup`; DPDK still cannot be
/// initialised again afterwards.
#[derive(Debug)]
pub struct Eal {
    /// DPDK's per-prefix runtime directory, removed at cleanup.
    runtime_dir: String,
}

impl Eal {
    /// Initialises DPDK with `args` (the first one is the program name).
    pub fn init<S: AsRef<str>>(args: &[S]) -> Result<Eal, EalError> {
        if INITIALIZED.swap(true, Ordering::SeqCst) {
            return Err(EalError::AlreadyInitialized);
        }
        let owned: Vec<CString> = args
            .iter()
            .map(|a| {
                CString::new(a.as_ref()).map_err(|_| EalError::BadArgument(a.as_ref().to_owned()))
            })
            .collect::<Result<_, _>>()?;
        // rte_eal_init may permute argv, so it gets its own array of pointers;
        // the strings stay alive in `owned` and DPDK keeps copies of what it needs.
        let mut argv: Vec<*mut c_char> = owned.iter().map(|s| s.as_ptr() as *mut c_char).collect();
        let argc = argv.len() as i32;
        // SAFETY: argv holds argc valid NUL-terminated strings that outlive the
        // call; INITIALIZED guarantees this runs at most once per process.
        let rc = unsafe { dpdk_sys::rte_eal_init(argc, argv.as_mut_ptr()) };
        if rc < 0 {
            return Err(EalError::InitFailed(crate::errno_string()));
        }
        // SAFETY: the EAL is initialised; the result is a static C string.
        let dir = unsafe { std::ffi::CStr::from_ptr(dpdk_sys::rte_eal_get_runtime_dir()) };
        Ok(Eal {
            runtime_dir: dir.to_string_lossy().into_owned(),
        })
    }

    /// The DPDK version string, e.g. "DPDK 22.11.11".
    pub fn version() -> String {
        // SAFETY: returns a pointer to a static NUL-terminated string.
        let p = unsafe { dpdk_sys::ferrovs_rte_version() };
        // SAFETY: p is a valid static C string.
        unsafe { std::ffi::CStr::from_ptr(p) }
            .to_string_lossy()
            .into_owned()
    }
}

impl Drop for Eal {
    fn drop(&mut self) {
        // SAFETY: the EAL was initialised by `init`; every lcore has been
        // joined by the owners of the launch handles before the Eal drops.
        unsafe { dpdk_sys::rte_eal_cleanup() };
        // DPDK leaves its (by now unused) runtime directory behind; remove
        // it so runs with unique prefixes leave nothing in /var/run/dpdk.
        if self.runtime_dir.contains("/dpdk/") {
            let _ = std::fs::remove_dir_all(&self.runtime_dir);
        }
    }
}

/// How the process gets its memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemoryMode {
    /// Hugepages are mounted and free: `--in-memory`.
    Hugepages,
    /// No usable hugepages: `--no-huge -m MB`.
    NoHuge,
}

/// Builder for a safe EAL argument list.
#[derive(Debug, Clone)]
pub struct EalArgs {
    /// Cores, main lcore first (`-l`).
    pub cores: Vec<u32>,
    /// Virtual devices (`--vdev`).
    pub vdevs: Vec<String>,
    /// PCI devices the user named explicitly (`-a`). Empty means `--no-pci`.
    pub pci: Vec<String>,
    /// A unique prefix for DPDK's runtime files.
    pub file_prefix: String,
    /// Memory to reserve without hugepages, in MB.
    pub no_huge_mb: u32,
    /// Force a memory mode instead of detecting it.
    pub memory: Option<MemoryMode>,
    /// Extra arguments, appended last.
    pub extra: Vec<String>,
}

impl EalArgs {
    pub fn new(cores: Vec<u32>) -> EalArgs {
        EalArgs {
            cores,
            vdevs: Vec::new(),
            pci: Vec::new(),
            file_prefix: format!("ferrovs-{}", std::process::id()),
            no_huge_mb: 512,
            memory: None,
            extra: Vec::new(),
        }
    }

    /// The memory mode these arguments will use.
    pub fn memory_mode(&self) -> MemoryMode {
        self.memory.unwrap_or_else(detect_hugepages)
    }

    /// The complete argument list, program name first.
    pub fn build(&self) -> Vec<String> {
        let mut args = vec!["ferrovs".to_owned()];
        let cores: Vec<String> = self.cores.iter().map(u32::to_string).collect();
        args.push("-l".into());
        args.push(cores.join(","));
        if self.pci.is_empty() {
            // Never let DPDK probe PCI unless the user asked for a device.
            args.push("--no-pci".into());
        } else {
            for dev in &self.pci {
                args.push("-a".into());
                args.push(dev.clone());
            }
        }
        args.push(format!("--file-prefix={}", self.file_prefix));
        args.push("--no-telemetry".into());
        match self.memory_mode() {
            MemoryMode::Hugepages => args.push("--in-memory".into()),
            MemoryMode::NoHuge => {
                args.push("--no-huge".into());
                args.push("-m".into());
                args.push(self.no_huge_mb.to_string());
            }
        }
        for vdev in &self.vdevs {
            args.push(format!("--vdev={vdev}"));
        }
        args.extend(self.extra.iter().cloned());
        args
    }
}

/// Hugepages are usable when a hugetlbfs is mounted and some pages are free.
pub fn detect_hugepages() -> MemoryMode {
    let mounted = std::fs::read_to_string("/proc/mounts")
        .map(|m| {
            m.lines()
                .any(|l| l.split_whitespace().nth(2) == Some("hugetlbfs"))
        })
        .unwrap_or(false);
    let free = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("HugePages_Free:"))
                .and_then(|v| v.trim().parse::<u64>().ok())
        })
        .unwrap_or(0);
    if mounted && free > 0 {
        MemoryMode::Hugepages
    } else {
        MemoryMode::NoHuge
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args_never_probe_pci_unless_asked() {
        let mut a = EalArgs::new(vec![0, 1]);
        a.memory = Some(MemoryMode::NoHuge);
        a.file_prefix = "t".into();
        a.vdevs.push("net_null0".into());
        assert_eq!(
            a.build(),
            [
                "ferrovs",
                "-l",
                "0,1",
                "--no-pci",
                "--file-prefix=t",
                "--no-telemetry",
                "--no-huge",
                "-m",
                "512",
                "--vdev=net_null0"
            ]
        );
        a.pci.push("0000:01:00.0".into());
        a.memory = Some(MemoryMode::Hugepages);
        let built = a.build();
        assert!(!built.contains(&"--no-pci".to_owned()));
        assert!(built.windows(2).any(|w| w == ["-a", "0000:01:00.0"]));
        assert!(built.contains(&"--in-memory".to_owned()));
    }
}
