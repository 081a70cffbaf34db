//! The container's scripts run on their own, without a container engine. The entrypoint
//! (`docker/entrypoint.sh`): fake mount tables and meminfo files stand in for the kernel's, and
//! a stand-in `ferrovs` on PATH prints the arguments and environment it was started with, then
//! exits with a code of its own so the test sees that the entrypoint `exec`s it. The
//! HEALTHCHECK (`docker/healthcheck.sh`) runs against the real binary on a real control socket.
//! The Dockerfile is checked for what it refers to. Only the healthcheck test starts DPDK, and
//! the real binary always gives DPDK `--no-pci` unless a port names a PCI device.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

const ENTRYPOINT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docker/entrypoint.sh");
const RUNTIME_PACKAGES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docker/runtime-packages.sh");
const HEALTHCHECK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docker/healthcheck.sh");
const DOCKERFILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/Dockerfile");

const STUB: &str = r#"#!/bin/sh
printf 'ferrovs-stub:'
for arg in "$@"; do printf ' [%s]' "$arg"; done
printf '\n'
exit 7
"#;

const MOUNTS_WITH_HUGETLBFS: &str = "\
proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0
tmpfs /dev tmpfs rw,nosuid,size=65536k,mode=755 0 0
hugetlbfs /dev/hugepages hugetlbfs rw,relatime,pagesize=2M 0 0
";

/// A tmpfs where the hugetlbfs should be: the directory exists but is no hugetlbfs.
const MOUNTS_WITHOUT_HUGETLBFS: &str = "\
proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0
tmpfs /dev tmpfs rw,nosuid,size=65536k,mode=755 0 0
tmpfs /dev/hugepages tmpfs rw,relatime 0 0
";

fn meminfo(free: &str) -> String {
    format!(
        "MemTotal:       16318412 kB\n\
         HugePages_Total:    1024\n\
         HugePages_Free:     {free}\n\
         HugePages_Rsvd:        0\n\
         Hugepagesize:       2048 kB\n"
    )
}

/// The advice printed when hugepages cannot be used, after the line that says why.
const ADVICE: &str = "\
ferrovs-entrypoint: To use hugepages, reserve them on the host and mount them into the container:
ferrovs-entrypoint:   on the host:  echo 1024 > /proc/sys/vm/nr_hugepages   (1024 pages of 2 MiB)
ferrovs-entrypoint:   docker run -v /dev/hugepages:/dev/hugepages --cap-add SYS_NICE IMAGE run ...
ferrovs-entrypoint: The mount is all DPDK needs for virtual devices (net_ring, net_pcap, net_null,
ferrovs-entrypoint: vhost-user): they use virtual addresses as IO addresses, so neither --privileged
ferrovs-entrypoint: nor SYS_ADMIN nor IPC_LOCK is required. SYS_NICE lets DPDK place memory on NUMA
ferrovs-entrypoint: nodes (Docker's default seccomp profile blocks mbind/set_mempolicy without it).
ferrovs-entrypoint: Physical NICs bound to vfio-pci also need --device /dev/vfio/vfio,
ferrovs-entrypoint: --device /dev/vfio/GROUP and --cap-add IPC_LOCK (VFIO pins DMA memory).
ferrovs-entrypoint: --privileged works too, but grants far more than DPDK needs.
";

/// A scratch directory with the stub on a PATH of its own and fake kernel files.
struct Scene {
    dir: PathBuf,
}

impl Scene {
    fn new(mounts: &str, meminfo: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "ferrovs-entrypoint-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("bin")).unwrap();
        let stub = dir.join("bin/ferrovs");
        fs::write(&stub, STUB).unwrap();
        fs::set_permissions(&stub, fs::Permissions::from_mode(0o755)).unwrap();
        fs::write(dir.join("mounts"), mounts).unwrap();
        fs::write(dir.join("meminfo"), meminfo).unwrap();
        Scene { dir }
    }

    fn meminfo_path(&self) -> PathBuf {
        self.dir.join("meminfo")
    }

    /// Runs the entrypoint with `args`, a clean environment plus `env`, and the stub first on
    /// PATH (or no stub at all if `with_stub` is false).
    fn run(&self, args: &[&str], env: &[(&str, &str)], with_stub: bool) -> Outcome {
        let path = if with_stub {
            format!("{}:/usr/bin:/bin", self.dir.join("bin").display())
        } else {
            "/usr/bin:/bin".to_string()
        };
        let output = Command::new("/bin/sh")
            .arg(ENTRYPOINT)
            .args(args)
            .env_clear()
            .env("PATH", path)
            .env("FERROVS_MOUNTS", self.dir.join("mounts"))
            .env("FERROVS_MEMINFO", self.meminfo_path())
            .envs(env.iter().copied())
            .output()
            .expect("run /bin/sh");
        Outcome {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

impl Drop for Scene {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

#[derive(Debug, PartialEq)]
struct Outcome {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn outcome(code: i32, stdout: &str, stderr: &str) -> Outcome {
    Outcome {
        code: Some(code),
        stdout: stdout.to_string(),
        stderr: stderr.to_string(),
    }
}

#[test]
fn hugepages_present_starts_ferrovs_with_hugepages() {
    let scene = Scene::new(MOUNTS_WITH_HUGETLBFS, &meminfo("512"));
    assert_eq!(
        scene.run(
            &["run", "--port", "p0=net_null0", "--eal", "-l 0"],
            &[],
            true
        ),
        outcome(
            7,
            "ferrovs-stub: [run] [--port] [p0=net_null0] [--eal] [-l 0]\n",
            "ferrovs-entrypoint: hugepages: 512 free, hugetlbfs mounted at /dev/hugepages\n",
        )
    );
}

#[test]
fn no_hugetlbfs_mount_explains_and_falls_back() {
    let scene = Scene::new(MOUNTS_WITHOUT_HUGETLBFS, &meminfo("512"));
    assert_eq!(
        scene.run(&["run"], &[], true),
        outcome(
            7,
            "ferrovs-stub: [run]\n",
            &format!(
                "ferrovs-entrypoint: no hugetlbfs is mounted at /dev/hugepages: DPDK falls back \
                 to --no-huge (4 KiB pages: slower, more TLB misses).\n{ADVICE}"
            ),
        )
    );
}

#[test]
fn mount_with_no_free_pages_explains_and_falls_back() {
    let scene = Scene::new(MOUNTS_WITH_HUGETLBFS, &meminfo("0"));
    let meminfo = scene.meminfo_path();
    assert_eq!(
        scene.run(&["run", "--ctl", "/run/x.ctl"], &[], true),
        outcome(
            7,
            "ferrovs-stub: [run] [--ctl] [/run/x.ctl]\n",
            &format!(
                "ferrovs-entrypoint: hugetlbfs is mounted at /dev/hugepages but HugePages_Free \
                 is 0 in {}: DPDK falls back to --no-huge (4 KiB pages: slower, more TLB \
                 misses).\n{ADVICE}",
                meminfo.display()
            ),
        )
    );
}

#[test]
fn missing_or_garbled_meminfo_counts_as_no_free_pages() {
    for meminfo in ["MemTotal: 1 kB\n", "HugePages_Free: lots\n", ""] {
        let scene = Scene::new(MOUNTS_WITH_HUGETLBFS, meminfo);
        let result = scene.run(&["run"], &[], true);
        assert_eq!(
            (result.code, result.stdout.as_str()),
            (Some(7), "ferrovs-stub: [run]\n"),
            "{meminfo:?}"
        );
        assert!(
            result.stderr.starts_with(&format!(
                "ferrovs-entrypoint: hugetlbfs is mounted at /dev/hugepages but HugePages_Free \
                 is 0 in {}:",
                scene.meminfo_path().display()
            )),
            "{}",
            result.stderr
        );
    }
}

#[test]
fn hugepage_dir_is_overridable() {
    let mounts = "nodev /mnt/huge-1G hugetlbfs rw,relatime,pagesize=1024M 0 0\n";
    let scene = Scene::new(mounts, &meminfo("2"));
    assert_eq!(
        scene.run(&["run"], &[("FERROVS_HUGEPAGE_DIR", "/mnt/huge-1G")], true),
        outcome(
            7,
            "ferrovs-stub: [run]\n",
            "ferrovs-entrypoint: hugepages: 2 free, hugetlbfs mounted at /mnt/huge-1G\n",
        )
    );
    // The default directory is not where this mount is.
    let result = scene.run(&["run"], &[], true);
    assert!(result
        .stderr
        .starts_with("ferrovs-entrypoint: no hugetlbfs is mounted at /dev/hugepages:"));
}

#[test]
fn other_commands_pass_straight_through() {
    let scene = Scene::new(MOUNTS_WITHOUT_HUGETLBFS, &meminfo("0"));
    assert_eq!(
        scene.run(&["check-config", "/etc/ferrovs.toml"], &[], true),
        outcome(7, "ferrovs-stub: [check-config] [/etc/ferrovs.toml]\n", "",)
    );
    assert_eq!(scene.run(&[], &[], true), outcome(7, "ferrovs-stub:\n", ""));
}

#[test]
fn missing_binary_fails_like_a_missing_command() {
    let scene = Scene::new(MOUNTS_WITH_HUGETLBFS, &meminfo("8"));
    let result = scene.run(&["--version"], &[], false);
    assert_eq!((result.code, result.stdout.as_str()), (Some(127), ""));
    assert!(result.stderr.contains("ferrovs"), "{}", result.stderr);
}

/// shellcheck is a lint, not part of the product: the test runs it where it is installed
/// (`apt-get install shellcheck`) and says so where it is not.
#[test]
fn scripts_pass_shellcheck() {
    let Ok(output) = Command::new("shellcheck")
        .args(["--shell=sh", ENTRYPOINT, RUNTIME_PACKAGES, HEALTHCHECK])
        .output()
    else {
        eprintln!("shellcheck is not installed; skipping the lint");
        return;
    };
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
}

#[test]
fn scripts_are_executable() {
    for script in [ENTRYPOINT, RUNTIME_PACKAGES, HEALTHCHECK] {
        let mode = fs::metadata(Path::new(script))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o111, 0o111, "{script} is not executable");
    }
}

/// The build stage's package lookup, on a binary whose libraries are known: Debian's dash
/// links only the C library.
#[test]
fn runtime_packages_maps_libraries_to_debian_packages() {
    if !Path::new("/usr/bin/dpkg").exists() || !Path::new("/bin/dash").exists() {
        eprintln!("not a Debian system with dash; skipping");
        return;
    }
    let output = Command::new("/bin/sh")
        .args([RUNTIME_PACKAGES, "/bin/dash"])
        .output()
        .unwrap();
    assert_eq!(
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout)
        ),
        (Some(0), "libc6\n".into())
    );
    let missing = Command::new("/bin/sh")
        .args([RUNTIME_PACKAGES, "/nonexistent"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(1));
}

#[test]
fn an_unreadable_config_file_is_explained() {
    let scene = Scene::new(MOUNTS_WITH_HUGETLBFS, &meminfo("8"));
    for args in [
        &["run", "--config", "/nonexistent/ferrovs.toml"][..],
        &["run", "--config=/nonexistent/ferrovs.toml"][..],
    ] {
        let result = scene.run(args, &[], true);
        assert_eq!(
            result.code,
            Some(7),
            "ferrovs still runs and says why itself"
        );
        assert!(
            result.stderr.starts_with(
                "ferrovs-entrypoint: cannot read the configuration file /nonexistent/ferrovs.toml. Mount yours, e.g.\n\
                 ferrovs-entrypoint:   docker run -v \"$PWD/ferrovs.toml:/nonexistent/ferrovs.toml:ro\" IMAGE\n"
            ),
            "{}",
            result.stderr
        );
    }
    // A readable file needs no explanation.
    let config = scene.dir.join("ferrovs.toml");
    fs::write(&config, "").unwrap();
    let result = scene.run(&["run", "--config", config.to_str().unwrap()], &[], true);
    assert_eq!(
        result.stderr,
        "ferrovs-entrypoint: hugepages: 8 free, hugetlbfs mounted at /dev/hugepages\n"
    );
}

/// Runs the HEALTHCHECK script with the real binary first on PATH.
fn healthcheck(ctl: &Path) -> Outcome {
    let bin_dir = common::binary().parent().unwrap().to_path_buf();
    let output = Command::new("/bin/sh")
        .arg(HEALTHCHECK)
        .env_clear()
        .env("PATH", format!("{}:/usr/bin:/bin", bin_dir.display()))
        .env("FERROVS_CTL", ctl)
        .output()
        .expect("run /bin/sh");
    Outcome {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

#[test]
fn healthcheck_asks_the_switch_over_its_control_socket() {
    let dir = common::TempDir::new("healthcheck");
    let ctl = dir.path("ferrovs.ctl");
    // Nothing there yet.
    assert_eq!(
        healthcheck(&ctl),
        outcome(
            1,
            &format!(
                "unhealthy: no control socket at {} (still starting, or ferrovs runs with another --ctl: set FERROVS_CTL)\n",
                ctl.display()
            ),
            ""
        )
    );
    // A socket file nobody serves (left by a dead switch).
    drop(std::os::unix::net::UnixListener::bind(&ctl).unwrap());
    let stale = healthcheck(&ctl);
    assert_eq!(stale.code, Some(1));
    assert!(
        stale.stdout.starts_with(&format!(
            "unhealthy: {} does not answer: ferrovs: error: cannot connect to {}",
            ctl.display(),
            ctl.display()
        )),
        "{}",
        stale.stdout
    );
    fs::remove_file(&ctl).unwrap();

    let mut sw = common::Switch::start(&[
        "run",
        "--port",
        "p0=net_null0,no-rx=1",
        "--ctl",
        ctl.to_str().unwrap(),
        "--quiet",
    ]);
    sw.wait_stderr(std::time::Duration::from_secs(30), |l| {
        common::logged(l).starts_with("control socket")
    });
    let healthy = healthcheck(&ctl);
    assert_eq!((healthy.code, healthy.stderr.as_str()), (Some(0), ""));
    assert!(
        healthy
            .stdout
            .starts_with(&format!("healthy: ferrovs {} (", env!("CARGO_PKG_VERSION"))),
        "{}",
        healthy.stdout
    );
    let status = sw.signal_and_wait(libc::SIGTERM);
    assert_eq!(status.code(), Some(0));
}

/// What the Dockerfile refers to exists: the files it copies, the HEALTHCHECK command, and
/// every flag of the documented `docker run` line.
#[test]
fn dockerfile_refers_to_what_exists() {
    let text = fs::read_to_string(DOCKERFILE).unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut destinations = Vec::new();
    for line in text
        .lines()
        .filter(|l| l.starts_with("COPY ") && !l.contains("--from"))
    {
        let words: Vec<&str> = line
            .split_whitespace()
            .filter(|w| !w.starts_with("--"))
            .collect();
        let (src, dst) = (words[1], words[2]);
        if src != "." {
            assert!(root.join(src).exists(), "COPY {src}: no such file");
        }
        destinations.push(dst.to_owned());
    }
    let health = text
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("CMD [\"")
                .filter(|c| c.contains("health"))
        })
        .expect("a HEALTHCHECK CMD");
    let health = health.split('"').next().unwrap();
    assert!(
        destinations.iter().any(|d| d == health),
        "{health} is not copied into the image"
    );
    assert!(text.contains("HEALTHCHECK --interval="));

    // The documented run line: the lines of the header comment from `docker run` on.
    let header: Vec<&str> = text
        .lines()
        .take_while(|l| l.starts_with('#'))
        .skip_while(|l| !l.contains("docker run"))
        .take_while(|l| l.trim_end().ends_with('\\') || l.contains("ferrovs run"))
        .collect();
    let run_flags: Vec<&str> = header
        .iter()
        .skip_while(|l| !l.contains("ferrovs run"))
        .flat_map(|l| l.split_whitespace())
        .filter(|w| w.starts_with("--"))
        .collect();
    assert!(run_flags.contains(&"--config"), "{header:#?}");
    let help = Command::new(common::binary())
        .args(["run", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    for flag in run_flags {
        assert!(help.contains(flag), "ferrovs run has no {flag}");
    }
}
