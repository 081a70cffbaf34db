//! Generates the DPDK bindings at build time.
//!
//! DPDK comes from Debian's `libdpdk-dev` and is found with pkg-config. Its
//! cflags (`-include rte_config.h -march=corei7` and the include paths) go to
//! both bindgen and `cc`, so the bindings and the compiled wrappers agree on
//! every struct layout. bindgen's `wrap_static_fns` emits a C file with an
//! exported wrapper for each `static inline` function (rx/tx burst, mbuf
//! alloc/free, ring enqueue/dequeue, lcore id, TSC); `cc` compiles it with the
//! small hand-written `shim.c`.

use std::env;
use std::path::PathBuf;
use std::process::exit;

fn fail(sentence: &str) -> ! {
    // cargo prints this as the build's error: one clear sentence is what a
    // user needs.
    println!("cargo::error={sentence}");
    exit(1);
}

fn main() {
    println!("cargo:rerun-if-changed=wrapper.h");
    println!("cargo:rerun-if-changed=shim.h");
    println!("cargo:rerun-if-changed=shim.c");

    let dpdk = match pkg_config::Config::new()
        .atleast_version("22.11")
        .cargo_metadata(false)
        .probe("libdpdk")
    {
        Ok(lib) => lib,
        Err(_) => fail(
            "DPDK 22.11 was not found by pkg-config; install it with `apt-get install libdpdk-dev pkg-config`.",
        ),
    };

    if std::panic::catch_unwind(clang_sys_loaded).is_err() {
        fail("libclang was not found, and bindgen needs it; install it with `apt-get install libclang-dev`.");
    }

    let cflags = pkg_config_cflags();
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let static_fns = out.join("static_fns");

    let bindings = bindgen::Builder::default()
        .header(manifest.join("wrapper.h").to_string_lossy())
        .clang_args(&cflags)
        .clang_arg(format!("-I{}", manifest.display()))
        .allowlist_function("rte_.*")
        .allowlist_function("ferrovs_.*")
        .allowlist_type("rte_.*")
        .allowlist_var("RTE_.*")
        .allowlist_var("RING_F_.*")
        // A packed struct holding an aligned one, and a type without Debug:
        // both break the generated Rust unless kept opaque.
        .opaque_type("rte_l2tpv2_combined_msg_hdr")
        .opaque_type("rte_gtp_psc_generic_hdr")
        .opaque_type("rte_arp_hdr")
        .opaque_type("rte_arp_ipv4")
        .wrap_static_fns(true)
        .wrap_static_fns_path(&static_fns)
        .derive_default(true)
        .layout_tests(false)
        .generate_comments(false)
        .prepend_enum_name(false)
        .generate()
        .unwrap_or_else(|e| {
            fail(&format!("bindgen could not read the DPDK headers ({e}); check that libdpdk-dev 22.11 is installed."))
        });
    bindings
        .write_to_file(out.join("bindings.rs"))
        .unwrap_or_else(|e| fail(&format!("cannot write the bindings: {e}")));

    let mut build = cc::Build::new();
    build
        .file(static_fns.with_extension("c"))
        .file(manifest.join("shim.c"))
        .include(&manifest)
        .opt_level(3)
        .warnings(false);
    for flag in &cflags {
        build.flag(flag);
    }
    build.compile("dpdk_shim");

    // Link the DPDK libraries. The poll-mode drivers are not linked: EAL loads
    // them as plugins from its driver directory at init.
    for path in &dpdk.link_paths {
        println!("cargo:rustc-link-search=native={}", path.display());
    }
    for lib in &dpdk.libs {
        println!("cargo:rustc-link-lib={lib}");
    }
}

/// Loads libclang the way bindgen will, so that a missing library turns into
/// one readable sentence instead of a panic deep inside bindgen.
fn clang_sys_loaded() {
    let _ = bindgen::clang_version();
}

fn pkg_config_cflags() -> Vec<String> {
    let output = std::process::Command::new("pkg-config")
        .args(["--cflags", "libdpdk"])
        .output()
        .unwrap_or_else(|e| {
            fail(&format!(
                "cannot run pkg-config ({e}); install it with `apt-get install pkg-config`."
            ))
        });
    if !output.status.success() {
        fail("`pkg-config --cflags libdpdk` failed; install DPDK with `apt-get install libdpdk-dev`.");
    }
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    // `-include rte_config.h` is two words that must stay together.
    text.split_whitespace().map(str::to_owned).collect()
}
