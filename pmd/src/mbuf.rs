//! Owned packet buffers.
//!
//! `Mbuf` owns one `rte_mbuf` and frees it on drop. It is a transparent
//! pointer, so an array of `Mbuf` has the layout of the `rte_mbuf *` arrays
//! that rx/tx bursts take. Only the first segment's data is exposed: ferrovs
//! configures single-segment pools, and a chained mbuf is seen by its head.
//! [`MbufBatch`] is a burst-sized array that is freed in bulk.

use std::mem::MaybeUninit;
use std::ptr::NonNull;

/// One packet buffer.
#[repr(transparent)]
#[derive(Debug)]
pub struct Mbuf(NonNull<dpdk_sys::rte_mbuf>);

// SAFETY: an mbuf is exclusively owned by whoever holds this handle; DPDK
// allows freeing it from any lcore or thread.
unsafe impl Send for Mbuf {}

impl Mbuf {
    /// Takes ownership of a raw mbuf.
    ///
    /// # Safety
    /// `raw` must be a valid mbuf that nothing else owns or frees.
    pub unsafe fn from_raw(raw: NonNull<dpdk_sys::rte_mbuf>) -> Mbuf {
        Mbuf(raw)
    }

    /// Gives up ownership, returning the raw pointer.
    pub fn into_raw(self) -> NonNull<dpdk_sys::rte_mbuf> {
        let raw = self.0;
        std::mem::forget(self);
        raw
    }

    fn raw(&self) -> &dpdk_sys::rte_mbuf {
        // SAFETY: self owns a valid mbuf for its whole life.
        unsafe { self.0.as_ref() }
    }

    /// The packet bytes in the first segment.
    #[inline]
    pub fn data(&self) -> &[u8] {
        let m = self.raw();
        // SAFETY: buf_addr + data_off is the start of data_len initialised
        // bytes inside the mbuf's buffer, owned by self.
        unsafe {
            std::slice::from_raw_parts(
                (m.buf_addr as *const u8).add(m.data_off as usize),
                m.data_len as usize,
            )
        }
    }

    /// The packet bytes, writable.
    #[inline]
    pub fn data_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in data(); &mut self makes the access exclusive.
        unsafe {
            let m = self.0.as_mut();
            std::slice::from_raw_parts_mut(
                (m.buf_addr as *mut u8).add(m.data_off as usize),
                m.data_len as usize,
            )
        }
    }

    /// Length of the whole packet (all segments).
    #[inline]
    pub fn pkt_len(&self) -> u32 {
        self.raw().pkt_len
    }

    /// The DPDK port that received it.
    #[inline]
    pub fn port(&self) -> u16 {
        self.raw().port
    }

    /// Grows the packet at the front by `n` bytes, returning them; None when
    /// the headroom is too small.
    pub fn prepend(&mut self, n: u16) -> Option<&mut [u8]> {
        // SAFETY: the mbuf is valid and exclusively ours.
        let p = unsafe { dpdk_sys::rte_pktmbuf_prepend(self.0.as_ptr(), n) };
        if p.is_null() {
            return None;
        }
        // SAFETY: DPDK returned the start of n bytes now inside the data.
        Some(unsafe { std::slice::from_raw_parts_mut(p as *mut u8, n as usize) })
    }

    /// Grows the packet at the end by `n` bytes, returning them; None when
    /// the tailroom is too small.
    pub fn append(&mut self, n: u16) -> Option<&mut [u8]> {
        // SAFETY: the mbuf is valid and exclusively ours.
        let p = unsafe { dpdk_sys::rte_pktmbuf_append(self.0.as_ptr(), n) };
        if p.is_null() {
            return None;
        }
        // SAFETY: DPDK returned the start of n bytes now inside the data.
        Some(unsafe { std::slice::from_raw_parts_mut(p as *mut u8, n as usize) })
    }

    /// Removes `n` bytes from the front; false if the packet is shorter.
    pub fn adj(&mut self, n: u16) -> bool {
        // SAFETY: the mbuf is valid and exclusively ours.
        !unsafe { dpdk_sys::rte_pktmbuf_adj(self.0.as_ptr(), n) }.is_null()
    }

    /// Removes `n` bytes from the end; false if the packet is shorter.
    pub fn trim(&mut self, n: u16) -> bool {
        // SAFETY: the mbuf is valid and exclusively ours.
        unsafe { dpdk_sys::rte_pktmbuf_trim(self.0.as_ptr(), n) == 0 }
    }

    /// A deep copy in a new mbuf from the same pool.
    pub fn try_clone(&self) -> Option<Mbuf> {
        let m = self.raw();
        // SAFETY: the source mbuf and its pool are valid; copy returns null
        // or a fresh mbuf that we then own.
        let c = unsafe { dpdk_sys::rte_pktmbuf_copy(self.0.as_ptr(), m.pool, 0, u32::MAX) };
        // SAFETY: a fresh mbuf is exclusively ours.
        NonNull::new(c).map(|c| unsafe { Mbuf::from_raw(c) })
    }
}

impl Drop for Mbuf {
    fn drop(&mut self) {
        // SAFETY: self owns the mbuf; it is freed exactly once here.
        unsafe { dpdk_sys::rte_pktmbuf_free(self.0.as_ptr()) };
    }
}

/// The largest burst ferrovs moves at once.
pub const BURST: usize = 32;

/// Up to [`BURST`] mbufs, laid out as an `rte_mbuf *` array for bursts.
/// Whatever is still inside when it drops is freed in bulk.
pub struct MbufBatch {
    mbufs: [MaybeUninit<Mbuf>; BURST],
    len: usize,
}

impl Default for MbufBatch {
    fn default() -> Self {
        MbufBatch {
            mbufs: [const { MaybeUninit::uninit() }; BURST],
            len: 0,
        }
    }
}

impl MbufBatch {
    pub fn new() -> MbufBatch {
        MbufBatch::default()
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[inline]
    pub fn is_full(&self) -> bool {
        self.len == BURST
    }

    /// Adds a packet; gives it back when the batch is full.
    #[inline]
    pub fn push(&mut self, m: Mbuf) -> Result<(), Mbuf> {
        if self.len == BURST {
            return Err(m);
        }
        self.mbufs[self.len].write(m);
        self.len += 1;
        Ok(())
    }

    /// The packets in the batch.
    #[inline]
    pub fn as_slice(&self) -> &[Mbuf] {
        // SAFETY: the first len slots are initialised.
        unsafe { std::slice::from_raw_parts(self.mbufs.as_ptr() as *const Mbuf, self.len) }
    }

    /// The packets in the batch, writable.
    #[inline]
    pub fn as_mut_slice(&mut self) -> &mut [Mbuf] {
        // SAFETY: the first len slots are initialised.
        unsafe { std::slice::from_raw_parts_mut(self.mbufs.as_mut_ptr() as *mut Mbuf, self.len) }
    }

    /// Moves every packet out, in order.
    pub fn drain(&mut self) -> impl Iterator<Item = Mbuf> + '_ {
        let n = std::mem::take(&mut self.len);
        // SAFETY: slots 0..n were initialised and are read exactly once; len
        // is already 0, so the batch no longer considers them its own.
        (0..n).map(move |i| unsafe { self.mbufs[i].assume_init_read() })
    }

    /// Raw array for rx bursts: the caller fills up to `BURST - len` slots
    /// and then calls `set_len`.
    #[inline]
    pub(crate) fn spare_ptr(&mut self) -> (*mut *mut dpdk_sys::rte_mbuf, usize) {
        // SAFETY: len <= BURST, so the pointer stays within the array.
        let p = unsafe { self.mbufs.as_mut_ptr().add(self.len) } as *mut *mut dpdk_sys::rte_mbuf;
        (p, BURST - self.len)
    }

    /// # Safety
    /// Slots `len..new_len` must have been filled with owned mbufs.
    #[inline]
    pub(crate) unsafe fn set_len(&mut self, new_len: usize) {
        debug_assert!(new_len <= BURST);
        self.len = new_len;
    }

    /// The raw packets, for tx bursts.
    #[inline]
    pub(crate) fn raw_ptr(&mut self) -> *mut *mut dpdk_sys::rte_mbuf {
        self.mbufs.as_mut_ptr() as *mut *mut dpdk_sys::rte_mbuf
    }

    /// Forgets the first `n` packets (a tx burst took them) and moves the
    /// rest to the front.
    ///
    /// # Safety
    /// The first `n` mbufs must now be owned by someone else.
    #[inline]
    pub(crate) unsafe fn consume_front(&mut self, n: usize) {
        debug_assert!(n <= self.len);
        // SAFETY: slots n..len are initialised; copy moves them to the front.
        unsafe {
            std::ptr::copy(
                self.mbufs.as_ptr().add(n),
                self.mbufs.as_mut_ptr(),
                self.len - n,
            );
        }
        self.len -= n;
    }

    /// Frees every packet in the batch with one bulk call.
    pub fn free_all(&mut self) {
        if self.len == 0 {
            return;
        }
        let n = self.len as u32;
        self.len = 0;
        // SAFETY: the first n slots held owned mbufs, now given to DPDK.
        unsafe {
            dpdk_sys::rte_pktmbuf_free_bulk(
                self.mbufs.as_mut_ptr() as *mut *mut dpdk_sys::rte_mbuf,
                n,
            )
        };
    }
}

impl Drop for MbufBatch {
    fn drop(&mut self) {
        self.free_all();
    }
}
