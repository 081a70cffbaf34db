//! Byte-level reading and writing for OpenFlow messages.
//!
//! Every decoder in `ofp` reads through a [`Reader`]: a cursor over a borrowed slice that never
//! panics and turns running off the end into the `OfpError` its caller chose when it made the
//! reader (a truncated match is `OFPBMC_BAD_LEN`, a truncated action `OFPBAC_BAD_LEN`, and so
//! on, as Open vSwitch reports them). Encoders append to a `Vec<u8>` through [`Put`], and
//! lengths that are only known at the end are patched in place with [`patch_u16`].
//! All integers on the wire are big-endian.

use super::error::OfpError;

/// A cursor over untrusted bytes. `err` is what every short read returns.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    err: OfpError,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8], err: OfpError) -> Self {
        Reader { buf, pos: 0, err }
    }

    /// The error this reader reports for short input.
    pub fn error(&self) -> OfpError {
        self.err
    }

    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// The bytes not read yet, without consuming them.
    pub fn rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }

    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], OfpError> {
        if self.remaining() < n {
            return Err(self.err);
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    /// Consumes everything left.
    pub fn take_rest(&mut self) -> &'a [u8] {
        let out = &self.buf[self.pos..];
        self.pos = self.buf.len();
        out
    }

    pub fn skip(&mut self, n: usize) -> Result<(), OfpError> {
        self.bytes(n).map(|_| ())
    }

    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], OfpError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.bytes(N)?);
        Ok(out)
    }

    pub fn u8(&mut self) -> Result<u8, OfpError> {
        Ok(self.array::<1>()?[0])
    }

    pub fn u16(&mut self) -> Result<u16, OfpError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    pub fn u32(&mut self) -> Result<u32, OfpError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    pub fn u64(&mut self) -> Result<u64, OfpError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    /// Splits off the next `n` bytes as a reader of their own that reports `err`.
    pub fn sub(&mut self, n: usize, err: OfpError) -> Result<Reader<'a>, OfpError> {
        Ok(Reader::new(self.bytes(n)?, err))
    }
}

/// Appending big-endian integers to an output buffer.
pub trait Put {
    fn put_u8(&mut self, v: u8);
    fn put_u16(&mut self, v: u16);
    fn put_u32(&mut self, v: u32);
    fn put_u64(&mut self, v: u64);
    fn put_zeros(&mut self, n: usize);
    /// Pads with zeros up to the next multiple of 8 counted from `start`.
    fn pad_to_8(&mut self, start: usize);
}

impl Put for Vec<u8> {
    fn put_u8(&mut self, v: u8) {
        self.push(v);
    }
    fn put_u16(&mut self, v: u16) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_u32(&mut self, v: u32) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_u64(&mut self, v: u64) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_zeros(&mut self, n: usize) {
        self.resize(self.len() + n, 0);
    }
    fn pad_to_8(&mut self, start: usize) {
        let used = self.len() - start;
        self.put_zeros(pad8(used) - used);
    }
}

/// `n` rounded up to a multiple of 8.
pub fn pad8(n: usize) -> usize {
    (n + 7) & !7
}

/// Writes a 16-bit length at `at`. Lengths beyond 65535 are a caller bug: OpenFlow cannot
/// carry them, and encoders check sizes before they get here.
pub fn patch_u16(buf: &mut [u8], at: usize, v: usize) {
    let v = u16::try_from(v).unwrap_or(u16::MAX);
    buf[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

/// A fixed-width, NUL-padded string field (port names, descriptions).
pub fn read_str(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// Writes `s` into a field of `width` bytes, truncating (at a character boundary) so that
/// a NUL always ends it.
pub fn put_str(out: &mut Vec<u8>, s: &str, width: usize) {
    let b = s.as_bytes();
    let mut n = b.len().min(width.saturating_sub(1));
    while !s.is_char_boundary(n) {
        n -= 1;
    }
    out.extend_from_slice(&b[..n]);
    out.put_zeros(width - n);
}
