//! Packet-buffer pools (`rte_pktmbuf_pool_create`).
//!
//! A pool is created on the control lcore before any port starts and lives
//! until every port using it is closed. `available()` counts free mbufs,
//! including those parked in per-lcore caches, so after a clean run it equals
//! `capacity()`: that is how leaks are caught.

use std::ffi::CString;
use std::ptr::NonNull;

use thiserror::Error;

use crate::mbuf::Mbuf;

#[derive(Debug, Error)]
pub enum MempoolError {
    #[error("cannot create mempool {name} of {count} mbufs: {reason}; give DPDK more memory (hugepages, or a larger -m)")]
    Create {
        name: String,
        count: u32,
        reason: String,
    },
    #[error("mempool name {0:?} contains a NUL byte")]
    BadName(String),
}

/// An mbuf pool.
#[derive(Debug)]
pub struct Mempool {
    raw: NonNull<dpdk_sys::rte_mempool>,
    capacity: u32,
}

// SAFETY: DPDK mempools are multi-producer/multi-consumer safe; the handle is
// only a pointer to shared DPDK memory.
unsafe impl Send for Mempool {}
// SAFETY: as above, every operation on the pool is thread-safe in DPDK.
unsafe impl Sync for Mempool {}

/// Per-lcore cache size: DPDK's recommended maximum.
const CACHE_SIZE: u32 = 256;

impl Mempool {
    /// Creates a pool of `count` mbufs with the default data room (2 KiB + headroom).
    pub fn new(name: &str, count: u32) -> Result<Mempool, MempoolError> {
        let cname = CString::new(name).map_err(|_| MempoolError::BadName(name.to_owned()))?;
        let cache = CACHE_SIZE.min(count / 2);
        // SAFETY: cname is a valid C string; the EAL is initialised (a pool
        // can only be created after `Eal::init`, which owns the process).
        let raw = unsafe {
            dpdk_sys::rte_pktmbuf_pool_create(
                cname.as_ptr(),
                count,
                cache,
                0,
                dpdk_sys::RTE_MBUF_DEFAULT_BUF_SIZE as u16,
                dpdk_sys::rte_socket_id() as i32,
            )
        };
        match NonNull::new(raw) {
            Some(raw) => Ok(Mempool {
                raw,
                capacity: count,
            }),
            None => Err(MempoolError::Create {
                name: name.to_owned(),
                count,
                reason: crate::errno_string(),
            }),
        }
    }

    /// How many mbufs the pool holds in all.
    pub fn capacity(&self) -> u32 {
        self.capacity
    }

    /// How many mbufs are free (in the pool or in lcore caches).
    pub fn available(&self) -> u32 {
        // SAFETY: raw is a live pool.
        unsafe { dpdk_sys::rte_mempool_avail_count(self.raw.as_ptr()) }
    }

    /// How many mbufs are in use.
    pub fn in_use(&self) -> u32 {
        // SAFETY: raw is a live pool.
        unsafe { dpdk_sys::rte_mempool_in_use_count(self.raw.as_ptr()) }
    }

    /// Allocates one mbuf, or None when the pool is empty.
    pub fn alloc(&self) -> Option<Mbuf> {
        // SAFETY: raw is a live pktmbuf pool; the result is null or a fresh mbuf.
        let m = unsafe { dpdk_sys::rte_pktmbuf_alloc(self.raw.as_ptr()) };
        // SAFETY: a fresh mbuf from the pool is exclusively ours.
        NonNull::new(m).map(|m| unsafe { Mbuf::from_raw(m) })
    }

    /// The raw pool, for port queue setup.
    pub(crate) fn as_ptr(&self) -> *mut dpdk_sys::rte_mempool {
        self.raw.as_ptr()
    }
}

impl Drop for Mempool {
    fn drop(&mut self) {
        // SAFETY: the pool is live; ports that used it were closed before
        // their owner drops the pool (the switch closes ports first).
        unsafe { dpdk_sys::rte_mempool_free(self.raw.as_ptr()) };
    }
}
