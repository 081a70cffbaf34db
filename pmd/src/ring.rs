//! Typed lock-free rings (`rte_ring`) between lcores.
//!
//! A `Ring<T>` carries owned values of any type that converts to and from a
//! pointer ([`RingItem`]): mbufs, or boxed messages. Rings are created single
//! producer / single consumer, which is how ferrovs uses them (one ring per
//! direction per PMD), and every operation is a burst that never blocks: a
//! full ring refuses the items and gives them back to the caller, who drops
//! and counts them.

use std::ffi::{c_void, CString};
use std::marker::PhantomData;
use std::ptr::NonNull;

use thiserror::Error;

use crate::mbuf::Mbuf;

#[derive(Debug, Error)]
pub enum RingError {
    #[error("cannot create ring {name} of {size} entries: {reason}")]
    Create {
        name: String,
        size: u32,
        reason: String,
    },
    #[error("cannot create a PMD's doorbell (eventfd): {0}")]
    Doorbell(std::io::Error),
}

/// A value that can travel through a ring as a pointer.
///
/// # Safety
/// `from_raw(into_raw(x))` must give back `x`, and `into_raw` must never
/// return null.
pub unsafe trait RingItem: Send {
    fn into_raw(self) -> *mut c_void;
    /// # Safety
    /// `p` must come from `into_raw` and be used only once.
    unsafe fn from_raw(p: *mut c_void) -> Self;
}

// SAFETY: Box::into_raw/from_raw round-trip and never give null.
unsafe impl<U: Send> RingItem for Box<U> {
    fn into_raw(self) -> *mut c_void {
        Box::into_raw(self) as *mut c_void
    }
    unsafe fn from_raw(p: *mut c_void) -> Self {
        // SAFETY: p came from Box::into_raw of the same type.
        unsafe { Box::from_raw(p as *mut U) }
    }
}

// SAFETY: an mbuf is a non-null pointer owned by the handle.
unsafe impl RingItem for Mbuf {
    fn into_raw(self) -> *mut c_void {
        Mbuf::into_raw(self).as_ptr() as *mut c_void
    }
    unsafe fn from_raw(p: *mut c_void) -> Self {
        // SAFETY: p came from Mbuf::into_raw, so it is a valid owned mbuf.
        unsafe { Mbuf::from_raw(NonNull::new_unchecked(p as *mut dpdk_sys::rte_mbuf)) }
    }
}

/// A bounded single-producer single-consumer ring of `T`.
pub struct Ring<T: RingItem> {
    raw: NonNull<dpdk_sys::rte_ring>,
    _items: PhantomData<T>,
}

// SAFETY: the ring moves owned T values between threads; T: Send.
unsafe impl<T: RingItem> Send for Ring<T> {}
// SAFETY: rte_ring with SP/SC flags is safe for one producer thread and one
// consumer thread at once; `Producer`/`Consumer` handles below enforce that
// exactly one of each exists.
unsafe impl<T: RingItem> Sync for Ring<T> {}

impl<T: RingItem> Ring<T> {
    /// Creates a ring with room for `size - 1` items (`size` a power of two).
    pub fn new(name: &str, size: u32) -> Result<Ring<T>, RingError> {
        let cname = CString::new(name).map_err(|_| RingError::Create {
            name: name.to_owned(),
            size,
            reason: "name has a NUL byte".into(),
        })?;
        let flags = dpdk_sys::RING_F_SP_ENQ | dpdk_sys::RING_F_SC_DEQ;
        // SAFETY: cname is valid; the EAL is initialised.
        let raw = unsafe {
            dpdk_sys::rte_ring_create(
                cname.as_ptr(),
                size,
                dpdk_sys::rte_socket_id() as i32,
                flags,
            )
        };
        let raw = NonNull::new(raw).ok_or_else(|| RingError::Create {
            name: name.to_owned(),
            size,
            reason: crate::errno_string(),
        })?;
        Ok(Ring {
            raw,
            _items: PhantomData,
        })
    }

    /// Enqueues what fits from `items` (taken from the front, in order);
    /// what did not fit stays in `items`. Returns how many went in.
    #[inline]
    pub fn enqueue_burst(&self, items: &mut Vec<T>) -> usize {
        let mut ptrs = [std::ptr::null_mut::<c_void>(); 64];
        let mut total = 0;
        while !items.is_empty() {
            let n = items.len().min(ptrs.len());
            for (slot, item) in ptrs.iter_mut().zip(items.drain(..n)) {
                *slot = item.into_raw();
            }
            // SAFETY: ptrs holds n valid item pointers; the SP ring has one
            // producer (the owner of this call site).
            let done = unsafe {
                dpdk_sys::rte_ring_enqueue_burst(
                    self.raw.as_ptr(),
                    ptrs.as_ptr(),
                    n as u32,
                    std::ptr::null_mut(),
                )
            } as usize;
            total += done;
            if done < n {
                // Put the refused ones back, in order, at the front.
                let refused: Vec<T> = ptrs[done..n]
                    .iter()
                    // SAFETY: these pointers came from into_raw and were not enqueued.
                    .map(|&p| unsafe { T::from_raw(p) })
                    .collect();
                items.splice(0..0, refused);
                break;
            }
        }
        total
    }

    /// Enqueues one item, or gives it back when the ring is full.
    #[inline]
    pub fn enqueue(&self, item: T) -> Result<(), T> {
        let p = item.into_raw();
        // SAFETY: p is a valid item pointer; one producer.
        let rc = unsafe { dpdk_sys::rte_ring_enqueue(self.raw.as_ptr(), p) };
        if rc == 0 {
            Ok(())
        } else {
            // SAFETY: p was not enqueued, so we still own it.
            Err(unsafe { T::from_raw(p) })
        }
    }

    /// Dequeues up to `max` items into `out`. Returns how many.
    #[inline]
    pub fn dequeue_burst(&self, out: &mut Vec<T>, max: usize) -> usize {
        let mut ptrs = [std::ptr::null_mut::<c_void>(); 64];
        let n = max.min(ptrs.len());
        // SAFETY: ptrs has room for n pointers; one consumer.
        let got = unsafe {
            dpdk_sys::rte_ring_dequeue_burst(
                self.raw.as_ptr(),
                ptrs.as_mut_ptr(),
                n as u32,
                std::ptr::null_mut(),
            )
        } as usize;
        // SAFETY: each dequeued pointer came from into_raw and is now ours.
        out.extend(ptrs[..got].iter().map(|&p| unsafe { T::from_raw(p) }));
        got
    }

    /// Dequeues one item.
    #[inline]
    pub fn dequeue(&self) -> Option<T> {
        let mut p = std::ptr::null_mut();
        // SAFETY: p is a valid out-pointer; one consumer.
        let rc = unsafe { dpdk_sys::rte_ring_dequeue(self.raw.as_ptr(), &mut p) };
        // SAFETY: a dequeued pointer came from into_raw and is now ours.
        (rc == 0).then(|| unsafe { T::from_raw(p) })
    }

    /// Items currently queued.
    pub fn len(&self) -> u32 {
        // SAFETY: raw is a live ring.
        unsafe { dpdk_sys::rte_ring_count(self.raw.as_ptr()) }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T: RingItem> Drop for Ring<T> {
    fn drop(&mut self) {
        // Items still queued are owned by the ring: drop them properly.
        while self.dequeue().is_some() {}
        // SAFETY: the ring is live and empty; nothing else uses it any more
        // (&mut self).
        unsafe { dpdk_sys::rte_ring_free(self.raw.as_ptr()) };
    }
}
