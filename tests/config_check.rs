//! `ferrovs check-config FILE` on the real binary: every mistake is reported with its line,
//! the exit code is 1, and no input makes it panic. Nothing here starts DPDK with a device:
//! `run` refuses a broken file before the EAL starts, and the binary gives DPDK `--no-pci`
//! itself (pmd::eal::EalArgs) whenever it does start it.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::process::Command;

use common::{binary, TempDir};

struct Outcome {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn check_config(path: &Path) -> Outcome {
    let out = Command::new(binary())
        .arg("check-config")
        .arg(path)
        .output()
        .expect("run ferrovs");
    Outcome {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// One mistake per marked line; the comment says which kind.
const BROKEN: &str = r#"# every kind of mistake, one per line
bridge = "br0"
datapath_id = "xyz"
pmd_cores = "1,500"
control_core = 1
mbufs = "lots"
fail_mode = "open"
controller = ["tcp:10.0.0.1:99999"]
listen = ["ptcp:6653:not-an-ip"]
flow_limit = 0
metrics = "localhost"
log_level = "loud"
log_file = "/nonexistent/ferrovs.log"
ssl_private_key = "/nonexistent/key.pem"
ssl_certificate = "/nonexistent/cert.pem"
ssl_ca_cert = "/nonexistent/ca.pem"
pmd_threads = 2
patch = ["p0:p9"]

[[port]]
name = "p0"
devargs = "net_ring0,,rx=1"
rx_queues = 0

[[port]]
name = "p0"
devargs = "net_ring1"

[[rxq]]
port = "p7"
queue = 0
pmd = 1

[[rxq]]
port = "p0"
queue = 0
pmd = 3
"#;

#[test]
fn every_mistake_is_reported_with_its_line() {
    let dir = TempDir::new("check-broken");
    let path = dir.path("broken.toml");
    std::fs::write(&path, BROKEN).unwrap();
    let out = check_config(&path);
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert_eq!(out.stdout, "");
    let prefix = format!("ferrovs: error: {}:", path.display());
    // (line, what the sentence starts with)
    let want: &[(usize, &str)] = &[
        (3, "bad datapath id \"xyz\": use up to 16 hex digits"),
        (
            4,
            "pmd_cores: core 500 is out of range: ferrovs may use cores 0-",
        ),
        (5, "control_core 1 is also in pmd_cores"),
        (6, "mbufs: expected an integer, found a string"),
        (7, "bad fail mode \"open\": use secure or standalone"),
        (8, "bad controller \"tcp:10.0.0.1:99999\": "),
        (9, "bad listener \"ptcp:6653:not-an-ip\": "),
        (10, "flow_limit = 0: a PMD must be allowed at least 1 flow"),
        (11, "bad metrics address \"localhost\": use IP:PORT"),
        (
            12,
            "bad log level \"loud\": no destination, level, or module \"loud\"",
        ),
        (13, "log_file: directory /nonexistent does not exist"),
        (14, "ssl_private_key: cannot read /nonexistent/key.pem: "),
        (15, "ssl_certificate: cannot read /nonexistent/cert.pem: "),
        (16, "ssl_ca_cert: cannot read /nonexistent/ca.pem: "),
        (17, "unknown key \"pmd_threads\"; known keys: bridge, "),
        (
            18,
            "patch \"p0:p9\" names port \"p9\", which is not configured",
        ),
        (
            22,
            "port p0: bad devargs option \"\" in \"net_ring0,,rx=1\"",
        ),
        (23, "port p0: rx_queues = 0 is out of range: use 1 to 64"),
        (26, "port p0 is configured twice"),
        (30, "rxq: no port is named \"p7\""),
        (35, "rxq: core 3 runs no PMD (pmd_cores are 1)"),
    ];
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), want.len(), "{}", out.stderr);
    for (got, (line, start)) in lines.iter().zip(want) {
        let expected = format!("{prefix}{line}: {start}");
        assert!(
            got.starts_with(&expected),
            "got      {got:?}\nexpected {expected:?}…"
        );
    }
}

#[test]
fn a_syntax_error_is_one_line_numbered_sentence() {
    let dir = TempDir::new("check-syntax");
    let path = dir.path("syntax.toml");
    std::fs::write(
        &path,
        "pmd_cores = \"1\"\n\n[[port]]\nname = \"p0\ndevargs = \"net_ring0\"\n",
    )
    .unwrap();
    let out = check_config(&path);
    assert_eq!(out.code, Some(1));
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{}", out.stderr);
    assert!(
        lines[0].starts_with(&format!(
            "ferrovs: error: {}:4: TOML syntax: ",
            path.display()
        )),
        "{}",
        out.stderr
    );
}

#[test]
fn a_missing_file_and_a_good_file() {
    let dir = TempDir::new("check-files");
    let missing = dir.path("missing.toml");
    let out = check_config(&missing);
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr.starts_with(&format!(
            "ferrovs: error: cannot read {}: ",
            missing.display()
        )),
        "{}",
        out.stderr
    );

    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("docker/ferrovs.example.toml");
    let out = check_config(&example);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(
        out.stdout,
        format!(
            "{}: OK (2 port(s), 1 PMD core(s), 1 controller(s))\n",
            example.display()
        )
    );
    assert_eq!(out.stderr, "");
}

#[test]
fn run_refuses_a_broken_file_before_starting_anything() {
    let dir = TempDir::new("check-run");
    let path = dir.path("broken.toml");
    std::fs::write(&path, BROKEN).unwrap();
    let out = Command::new(binary())
        .args(["run", "--config"])
        .arg(&path)
        .output()
        .expect("run ferrovs");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The same 21 sentences, and no sign that DPDK was started.
    assert_eq!(stderr.lines().count(), 21, "{stderr}");
    assert!(stderr.lines().all(|l| l.starts_with("ferrovs: error: ")));
}

/// Every truncation and many one-byte edits of a valid file: `check_file` returns Ok or
/// line-numbered errors, and never panics.
#[test]
fn mangled_files_never_panic() {
    let dir = TempDir::new("check-mangle");
    let path = dir.path("m.toml");
    let good =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("docker/ferrovs.example.toml"))
            .unwrap();
    let n_lines = good.iter().filter(|&&b| b == b'\n').count() + 1;
    let mut variants: Vec<Vec<u8>> = (0..good.len()).map(|i| good[..i].to_vec()).collect();
    for i in (0..good.len()).step_by(4) {
        for b in [b'"', b'[', b'=', b'\n', b'0', b'x', 0xff] {
            let mut v = good.clone();
            v[i] = b;
            variants.push(v);
        }
    }
    let mut errors_seen = 0;
    for v in &variants {
        std::fs::write(&path, v).unwrap();
        let result = catch_unwind(AssertUnwindSafe(|| ferrovs::config::check_file(&path)));
        let result = match result {
            Ok(r) => r,
            Err(_) => panic!("check_file panicked on {:?}", String::from_utf8_lossy(v)),
        };
        if let Err(errors) = result {
            errors_seen += 1;
            assert!(!errors.0.is_empty());
            for e in &errors.0 {
                assert!(!e.message.contains('\n'), "{e}");
                if let Some((_, line)) = &e.at {
                    assert!((1..=n_lines).contains(line), "{e}");
                }
            }
        }
    }
    // Many edits land in comments and are harmless, but a good share break the file: the
    // test is not vacuous.
    assert!(
        errors_seen > variants.len() / 4,
        "{errors_seen} of {}",
        variants.len()
    );
}
