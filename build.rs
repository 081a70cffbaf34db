//! Build-time facts for the `ferrovs` binary: the DPDK version it was built
//! against (shown by `ferrovs --version`) comes from the
//! same pkg-config lookup as dpdk-sys, so a mismatch cannot go unnoticed.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let version = std::process::Command::new("pkg-config")
        .args(["--modversion", "libdpdk"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=FERROVS_DPDK_BUILD_VERSION={version}");
}
