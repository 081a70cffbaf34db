//! Helpers for the end-to-end tests (tests/e2e_*.rs): an os-ken virtualenv built on demand,
//! os-ken's own `simple_switch_13` app fetched from an older os-ken release, os-ken apps started
//! by our launcher, network namespaces and veths that vanish with their guards, and small
//! wrappers around `ip`, `ovs-appctl` and `ovs-ofctl`.
//!
//! Everything the tests start is a child killed by PID on drop; every namespace is deleted on
//! drop, which also destroys the veth ends inside it (and so the whole pair).

#![allow(dead_code)]

use std::net::TcpListener;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The os-ken release the tests are written against.
pub const OSKEN_VERSION: &str = "4.2.2";

/// Where the Python helpers live.
pub fn py_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e")
}

/// The cargo target directory (`…/target`), from the binary cargo built for us.
fn target_dir() -> PathBuf {
    let bin = super::common::binary();
    // target/<profile>/ferrovs
    bin.parent()
        .and_then(Path::parent)
        .expect("ferrovs binary sits in target/<profile>/")
        .to_path_buf()
}

fn run_ok(cmd: &mut Command, what: &str) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs `cmd ARGS…`, panicking with its output unless it succeeds; returns stdout.
pub fn sh(cmd: &str, args: &[&str]) -> String {
    let out = run_ok(
        Command::new(cmd).args(args),
        &format!("{cmd} {}", args.join(" ")),
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The Python of a virtualenv holding os-ken, created under the target directory if missing.
/// Serialised with a lock file: several test binaries may get here at once. Fails (never
/// skips) when the venv cannot be built, e.g. because PyPI is unreachable.
pub fn osken_python() -> PathBuf {
    let venv = target_dir().join("osken-venv");
    let python = venv.join("bin/python");
    let lock_path = target_dir().join("osken-venv.lock");
    let lock = std::fs::File::create(&lock_path).expect("create venv lock file");
    // SAFETY: flock(2) on a descriptor we own for the whole critical section.
    let rc = unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) };
    assert_eq!(rc, 0, "flock {}", lock_path.display());
    let check = format!(
        "import importlib.metadata as m, os_ken.base.app_manager; \
         assert m.version('os-ken') == '{OSKEN_VERSION}', m.version('os-ken')"
    );
    let ready = python.exists()
        && Command::new(&python)
            .args(["-c", &check])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
    if !ready {
        run_ok(
            Command::new("python3").args(["-m", "venv"]).arg(&venv),
            "python3 -m venv (is python3-venv installed?)",
        );
        let spec = format!("os-ken=={OSKEN_VERSION}");
        run_ok(
            Command::new(&python).args([
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "-q",
                &spec,
            ]),
            &format!(
                "pip install {spec} into {} (PyPI must be reachable for the e2e tests)",
                venv.display()
            ),
        );
        run_ok(
            Command::new(&python).args(["-c", &check]),
            "importing the freshly installed os-ken",
        );
    }
    drop(lock);
    python
}

/// The os-ken release whose wheel still bundles the sample apps (4.x dropped `os_ken/app/`).
pub const OSKEN_APPS_VERSION: &str = "1.4.1";

/// The sha256 of `os_ken/app/simple_switch_13.py` as os-ken 1.4.1's wheel ships it. A change
/// upstream (a re-uploaded wheel, a different file) fails the test instead of silently testing
/// another controller.
pub const SIMPLE_SWITCH_13_SHA256: &str =
    "8a52d7f10181b6f8f752a9a8ddac085230e3c4d701ac445611b684a16695acfe";

/// Extracts one member of a wheel (a zip) byte for byte and prints its sha256. Run by the
/// venv's Python: argv = wheel, member, destination. The file is renamed into place, so a
/// controller still reading an earlier copy never sees it half-written.
const EXTRACT_PY: &str = "import hashlib, os, sys, zipfile\n\
    data = zipfile.ZipFile(sys.argv[1]).read(sys.argv[2])\n\
    tmp = sys.argv[3] + '.tmp'\n\
    open(tmp, 'wb').write(data)\n\
    os.replace(tmp, sys.argv[3])\n\
    print(hashlib.sha256(data).hexdigest())\n";

/// os-ken's bundled `simple_switch_13.py`, unmodified, taken from the os-ken 1.4.1 wheel that
/// the venv's pip downloads (no dependencies, nothing installed) into the target directory.
/// The wheel and the extracted file are cached there; a lock file serialises test binaries
/// as [`osken_python`] does. The extracted bytes must hash to [`SIMPLE_SWITCH_13_SHA256`],
/// checked on every call, cached or not. Fails (never skips) when PyPI is unreachable.
pub fn osken_simple_switch_13() -> PathBuf {
    let python = osken_python();
    let dir = target_dir().join(format!("osken-{OSKEN_APPS_VERSION}-apps"));
    let app = dir.join("simple_switch_13.py");
    let lock_path = target_dir().join("osken-apps.lock");
    let lock = std::fs::File::create(&lock_path).expect("create apps lock file");
    // SAFETY: flock(2) on a descriptor we own for the whole critical section.
    let rc = unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) };
    assert_eq!(rc, 0, "flock {}", lock_path.display());
    let wheel = dir.join(format!("os_ken-{OSKEN_APPS_VERSION}-py3-none-any.whl"));
    if !wheel.exists() {
        let spec = format!("os-ken=={OSKEN_APPS_VERSION}");
        run_ok(
            Command::new(&python)
                .args([
                    "-m",
                    "pip",
                    "download",
                    "--disable-pip-version-check",
                    "-q",
                    "--no-deps",
                    "--only-binary",
                    ":all:",
                    "-d",
                ])
                .arg(&dir)
                .arg(&spec),
            &format!("pip download {spec} (PyPI must be reachable for the e2e tests)"),
        );
        assert!(wheel.exists(), "pip download left no {}", wheel.display());
    }
    // Extracted afresh every time: whatever sits in the cache, the bytes run are the wheel's.
    let out = run_ok(
        Command::new(&python)
            .args(["-c", EXTRACT_PY])
            .arg(&wheel)
            .arg("os_ken/app/simple_switch_13.py")
            .arg(&app),
        "extracting os_ken/app/simple_switch_13.py from the wheel",
    );
    drop(lock);
    let sha = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert_eq!(
        sha,
        SIMPLE_SWITCH_13_SHA256,
        "os_ken/app/simple_switch_13.py in {} is not the file this test was written for",
        wheel.display()
    );
    app
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

/// A network namespace; deleted on drop, with every interface in it.
pub struct Netns {
    pub name: String,
}

impl Netns {
    /// Creates `fvs-e2e-<tag>-<pid>` with its loopback up and IPv6 off (no router
    /// solicitations or DAD probes to muddy the learned tables).
    pub fn new(tag: &str) -> Netns {
        let name = format!("fvs-e2e-{tag}-{}", std::process::id());
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        sh("ip", &["netns", "add", &name]);
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"]);
        ns.exec(&["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"]);
        ns.exec(&["sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"]);
        ns
    }

    /// `ip -n NS ARGS…`, which must succeed.
    pub fn ip(&self, args: &[&str]) -> String {
        let mut a = vec!["-n", &self.name];
        a.extend_from_slice(args);
        sh("ip", &a)
    }

    /// `ip netns exec NS ARGS…`, which must succeed.
    pub fn exec(&self, args: &[&str]) -> String {
        let mut a = vec!["netns", "exec", &self.name];
        a.extend_from_slice(args);
        sh("ip", &a)
    }

    /// `ip netns exec NS ARGS…`, whatever its outcome.
    pub fn try_exec(&self, args: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &self.name])
            .args(args)
            .output()
            .expect("start ip netns exec")
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

/// A host: a namespace with one veth end `eth0`-like `host_if` addressed `addr/24` and MAC
/// `mac`, whose peer `sw_if` sits (up) in the switch's namespace.
pub fn attach_host(sw: &Netns, host: &Netns, sw_if: &str, host_if: &str, mac: &str, addr: &str) {
    sw.ip(&[
        "link", "add", sw_if, "type", "veth", "peer", "name", host_if, "netns", &host.name,
    ]);
    sw.ip(&["link", "set", sw_if, "up"]);
    host.ip(&["link", "set", host_if, "address", mac]);
    // The switch's af_packet ports take frames as the kernel hands them over: with checksum
    // offload on, a veth passes TCP/UDP with the checksum left for hardware that does not
    // exist (and TSO super-frames), which the receiving host drops. Real NICs fill it in.
    host.exec(&["ethtool", "-K", host_if, "tx", "off"]);
    host.ip(&["addr", "add", &format!("{addr}/24"), "dev", host_if]);
    host.ip(&["link", "set", host_if, "up"]);
}

/// `ovs-appctl -t SOCK ARGS…`, which must succeed.
pub fn appctl(ctl: &Path, args: &[&str]) -> String {
    let mut a = vec!["-t", ctl.to_str().expect("utf-8 path")];
    a.extend_from_slice(args);
    sh("ovs-appctl", &a)
}

/// `ovs-ofctl -O OpenFlow13 CMD unix:MGMT ARGS…`, which must succeed.
pub fn ofctl(mgmt: &Path, cmd: &str, args: &[&str]) -> String {
    let target = format!("unix:{}", mgmt.display());
    let mut a = vec!["-O", "OpenFlow13", cmd, &target];
    a.extend_from_slice(args);
    sh("ovs-ofctl", &a)
}
