//! Helpers shared by the integration tests: start the real `ferrovs` binary,
//! wait for what it prints, and stop it by PID whatever happens.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

/// A running `ferrovs`; dropped means killed (by its PID only).
pub struct Switch {
    child: Option<Child>,
    stdout: Receiver<String>,
    stderr: Receiver<String>,
    pub stdout_lines: Vec<String>,
    pub stderr_lines: Vec<String>,
}

pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_ferrovs"))
}

fn pump(stream: impl std::io::Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

impl Switch {
    /// Starts `ferrovs ARGS…`.
    pub fn start(args: &[&str]) -> Switch {
        let bin = binary();
        Switch::start_with(bin.to_str().expect("utf-8 path"), &[], args)
    }

    /// Starts `WRAPPER WRAPPER_ARGS… ARGS…` (e.g. `unshare -n ferrovs …`),
    /// where ARGS names the ferrovs binary itself.
    pub fn start_with(wrapper: &str, wrapper_args: &[&str], args: &[&str]) -> Switch {
        let mut child = Command::new(wrapper)
            .args(wrapper_args)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start ferrovs");
        let stdout = pump(child.stdout.take().expect("stdout"));
        let stderr = pump(child.stderr.take().expect("stderr"));
        Switch {
            child: Some(child),
            stdout,
            stderr,
            stdout_lines: Vec::new(),
            stderr_lines: Vec::new(),
        }
    }

    fn drain(&mut self) {
        self.stdout_lines.extend(self.stdout.try_iter());
        self.stderr_lines.extend(self.stderr.try_iter());
    }

    /// Waits until a stdout line satisfies `pred`; panics with everything
    /// printed so far after `timeout`.
    pub fn wait_stdout(&mut self, timeout: Duration, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            self.drain();
            if let Some(l) = self.stdout_lines.iter().find(|l| pred(l)) {
                return l.clone();
            }
            if Instant::now() > deadline {
                panic!(
                    "timed out; stdout: {:#?}\nstderr: {:#?}",
                    self.stdout_lines, self.stderr_lines
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until a stderr line satisfies `pred`.
    pub fn wait_stderr(&mut self, timeout: Duration, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            self.drain();
            if let Some(l) = self.stderr_lines.iter().find(|l| pred(l)) {
                return l.clone();
            }
            if Instant::now() > deadline {
                panic!(
                    "timed out; stdout: {:#?}\nstderr: {:#?}",
                    self.stdout_lines, self.stderr_lines
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The PID of the running process, for signals the test sends itself.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Sends `sig` and waits (up to 10 s) for the exit.
    pub fn signal_and_wait(&mut self, sig: i32) -> ExitStatus {
        let child = self.child.as_mut().expect("running");
        // SAFETY: kill(2) on the PID of a child we started and have not reaped.
        unsafe { libc::kill(child.id() as i32, sig) };
        self.wait(Duration::from_secs(10))
    }

    /// Waits for the process to exit on its own.
    pub fn wait(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            let child = self.child.as_mut().expect("running");
            if let Some(status) = child.try_wait().expect("try_wait") {
                self.child = None;
                // Let the pump threads finish reading.
                std::thread::sleep(Duration::from_millis(100));
                self.drain();
                return status;
            }
            if Instant::now() > deadline {
                panic!("ferrovs did not exit; stderr: {:#?}", self.stderr_lines);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Switch {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The message of a log line (`TIME|SEQ|MODULE|LEVEL|MESSAGE`, see src/vlog.rs), or the
/// whole line if it is not one.
pub fn logged(line: &str) -> &str {
    let mut fields = line.splitn(5, '|');
    match (fields.nth(2), fields.next(), fields.next()) {
        (Some(_), Some(level), Some(message))
            if ["ERR", "WARN", "INFO", "DBG"].contains(&level) =>
        {
            message
        }
        _ => line,
    }
}

/// A scratch directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("ferrovs-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("temp dir");
        TempDir(p)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Writes `frames` as a pcap with an independent writer.
pub fn write_pcap(path: &Path, frames: &[Vec<u8>]) {
    let file = std::fs::File::create(path).expect("create pcap");
    let header = pcap_file::pcap::PcapHeader {
        datalink: pcap_file::DataLink::ETHERNET,
        ..Default::default()
    };
    let mut w = pcap_file::pcap::PcapWriter::with_header(file, header).expect("pcap writer");
    for (i, f) in frames.iter().enumerate() {
        let pkt =
            pcap_file::pcap::PcapPacket::new(Duration::from_micros(i as u64), f.len() as u32, f);
        w.write_packet(&pkt).expect("write packet");
    }
}

/// Reads every frame of a pcap with an independent reader.
pub fn read_pcap(path: &Path) -> Vec<Vec<u8>> {
    let file = std::fs::File::open(path).expect("open pcap");
    let mut r = pcap_file::pcap::PcapReader::new(file).expect("pcap reader");
    let mut out = Vec::new();
    while let Some(pkt) = r.next_packet() {
        out.push(pkt.expect("pcap packet").data.into_owned());
    }
    out
}

/// A UDP/IPv4 frame built by etherparse, distinct per `i`.
pub fn udp_frame(i: u32, payload_len: usize) -> Vec<u8> {
    let builder = etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4((10u32 << 24 | i).to_be_bytes(), [172, 16, 0, 1], 64)
        .udp(1024 + (i % 60000) as u16, 5001);
    let payload: Vec<u8> = (0..payload_len).map(|k| (k as u32 ^ i) as u8).collect();
    let mut out = Vec::with_capacity(builder.size(payload.len()));
    builder.write(&mut out, &payload).expect("build frame");
    out
}
