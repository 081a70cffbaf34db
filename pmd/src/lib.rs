//! The ferrovs fast path.
//!
//! This crate owns everything a PMD lcore touches: safe wrappers over DPDK's
//! EAL ([`eal`]), mempools ([`mempool`]), mbufs ([`mbuf`]), ports ([`port`]),
//! rings ([`ring`]) and lcores ([`lcore`]); packet parsing into a `FlowKey`;
//! the exact-match cache and the megaflow classifier; datapath flows and their
//! actions; and the poll loop. It knows nothing about OpenFlow.
//!
//! All `unsafe` code of the fast path lives in the DPDK wrapper modules, each
//! block with a `// SAFETY:` argument.
#![deny(unsafe_op_in_unsafe_fn)]

pub mod actions;
pub mod command;
pub mod dpcls;
pub mod eal;
pub mod emc;
pub mod fastpath;
pub mod flow;
pub mod hold;
pub mod key;
pub mod lcore;
pub mod mbuf;
pub mod mempool;
pub mod odp;
pub mod parse;
pub mod pmd;
pub mod port;
pub mod ring;
pub mod stats;
pub mod txq;

/// The message for the calling thread's `rte_errno`.
pub(crate) fn errno_string() -> String {
    // SAFETY: reads a thread-local integer.
    let e = unsafe { dpdk_sys::ferrovs_rte_errno() };
    strerror(e)
}

/// The message DPDK gives for an error number (DPDK's own or libc's).
pub(crate) fn strerror(e: i32) -> String {
    // SAFETY: rte_strerror returns a valid C string for any value.
    let p = unsafe { dpdk_sys::rte_strerror(e) };
    // SAFETY: p is a valid NUL-terminated string.
    unsafe { std::ffi::CStr::from_ptr(p) }
        .to_string_lossy()
        .into_owned()
}
