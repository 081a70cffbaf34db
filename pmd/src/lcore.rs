//! Launching work on DPDK worker lcores and joining it.
//!
//! The control lcore (the main thread) launches one closure per PMD lcore
//! with [`launch`] and later [`LcoreHandle::join`]s it. A closure returns an
//! exit code; a panic on a worker would abort the process (the release
//! profile uses `panic = "abort"`).

use thiserror::Error;

#[derive(Debug, Error)]
pub enum LcoreError {
    #[error("lcore {0} is not a worker lcore of this EAL (check -l / --pmd-cores)")]
    NotWorker(u32),
    #[error("lcore {lcore} cannot launch work: {reason}")]
    Launch { lcore: u32, reason: String },
}

/// A closure running on a worker lcore.
#[derive(Debug)]
#[must_use = "a launched lcore must be joined"]
pub struct LcoreHandle {
    lcore: u32,
    joined: bool,
}

type Job = Box<dyn FnOnce() -> i32 + Send + 'static>;

unsafe extern "C" fn trampoline(arg: *mut std::ffi::c_void) -> i32 {
    // SAFETY: arg is the Box<Job> leaked by `launch`, taken exactly once here.
    let job: Box<Job> = unsafe { Box::from_raw(arg as *mut Job) };
    job()
}

/// The worker lcores of this EAL, in order.
pub fn workers() -> Vec<u32> {
    let mut out = Vec::new();
    // SAFETY: iterating lcores is read-only EAL state.
    let mut id = unsafe { dpdk_sys::rte_get_next_lcore(u32::MAX, 1, 0) };
    while id < dpdk_sys::RTE_MAX_LCORE {
        out.push(id);
        // SAFETY: as above.
        id = unsafe { dpdk_sys::rte_get_next_lcore(id, 1, 0) };
    }
    out
}

/// The id of the calling lcore (`u32::MAX` on a non-EAL thread).
#[inline]
pub fn current() -> u32 {
    // SAFETY: reads a thread-local.
    unsafe { dpdk_sys::rte_lcore_id() }
}

/// The TSC now.
#[inline]
pub fn tsc() -> u64 {
    // SAFETY: reads the CPU's time-stamp counter.
    unsafe { dpdk_sys::rte_rdtsc() }
}

/// TSC ticks per second.
pub fn tsc_hz() -> u64 {
    // SAFETY: reads a value the EAL calibrated at init.
    unsafe { dpdk_sys::rte_get_tsc_hz() }
}

/// Runs `job` on worker `lcore`.
pub fn launch<F>(lcore: u32, job: F) -> Result<LcoreHandle, LcoreError>
where
    F: FnOnce() -> i32 + Send + 'static,
{
    if !workers().contains(&lcore) {
        return Err(LcoreError::NotWorker(lcore));
    }
    let boxed: Box<Job> = Box::new(Box::new(job));
    let arg = Box::into_raw(boxed) as *mut std::ffi::c_void;
    // SAFETY: trampoline takes ownership of arg; lcore is an idle worker.
    let rc = unsafe { dpdk_sys::rte_eal_remote_launch(Some(trampoline), arg, lcore) };
    if rc != 0 {
        // SAFETY: the launch failed, so the job was never taken: free it.
        drop(unsafe { Box::from_raw(arg as *mut Job) });
        return Err(LcoreError::Launch {
            lcore,
            reason: crate::strerror(-rc),
        });
    }
    Ok(LcoreHandle {
        lcore,
        joined: false,
    })
}

impl LcoreHandle {
    pub fn lcore(&self) -> u32 {
        self.lcore
    }

    /// Waits for the job to finish and returns its exit code.
    pub fn join(mut self) -> i32 {
        self.joined = true;
        // SAFETY: the lcore runs a job we launched.
        unsafe { dpdk_sys::rte_eal_wait_lcore(self.lcore) }
    }
}

impl Drop for LcoreHandle {
    fn drop(&mut self) {
        if !self.joined {
            // SAFETY: as in join; an unjoined worker would outlive its data.
            unsafe { dpdk_sys::rte_eal_wait_lcore(self.lcore) };
        }
    }
}
