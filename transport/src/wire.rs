//! The one little-endian codec of afbus's wire formats: the bus master protocol's message
//! bodies here, and the binder layer's call trailers, object tables and introductions.
//!
//! Integers are little-endian; strings and byte strings are a u32 length then the bytes. Every
//! read checks that its bytes are there and says what it was reading, and where, if not.
//!
//! ```
//! use afbus_transport::wire::{Reader, Writer};
//! let mut w = Writer::default();
//! w.u64(7).u16(2).str("name");
//! let bytes = w.finish();
//! let mut r = Reader::new(&bytes);
//! assert_eq!(r.u64("key").unwrap(), 7);
//! assert_eq!(r.u16("count").unwrap(), 2);
//! assert_eq!(r.str(16, "name").unwrap(), "name");
//! r.end("message").unwrap();
//! assert!(r.u8("past the end").is_err());
//! ```

use crate::error::{Error, Result};

/// Appends encoded values to a buffer.
#[derive(Default)]
pub struct Writer(pub Vec<u8>);

impl Writer {
    /// Appends a byte.
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.0.push(v);
        self
    }
    /// Appends a u16.
    pub fn u16(&mut self, v: u16) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    /// Appends a u32.
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    /// Appends a u64.
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    /// Appends an i32.
    pub fn i32(&mut self, v: i32) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    /// Appends bytes as they are, with no length.
    pub fn raw(&mut self, v: &[u8]) -> &mut Self {
        self.0.extend_from_slice(v);
        self
    }
    /// Appends a u32 length, then the bytes.
    pub fn bytes(&mut self, v: &[u8]) -> &mut Self {
        self.u32(v.len() as u32);
        self.0.extend_from_slice(v);
        self
    }
    /// Appends a u32 length, then the string's bytes.
    pub fn str(&mut self, v: &str) -> &mut Self {
        self.bytes(v.as_bytes())
    }
    /// The encoded bytes.
    pub fn finish(self) -> Vec<u8> {
        self.0
    }
}

/// Reads values from a received body; every read checks the bytes are there.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// Reads `buf` from its start.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// Reads `buf` from offset `pos` (which a read past the end reports as the place).
    pub fn at(buf: &'a [u8], pos: usize) -> Self {
        Reader { buf, pos }
    }

    /// The offset of the next read.
    pub fn position(&self) -> usize {
        self.pos
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        let end = end.ok_or(Error::Malformed {
            what,
            offset: self.pos,
        })?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N]> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N, what)?);
        Ok(a)
    }

    /// Reads a byte.
    pub fn u8(&mut self, what: &'static str) -> Result<u8> {
        Ok(self.take(1, what)?[0])
    }
    /// Reads a u16.
    pub fn u16(&mut self, what: &'static str) -> Result<u16> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }
    /// Reads a u32.
    pub fn u32(&mut self, what: &'static str) -> Result<u32> {
        self.array(what).map(u32::from_le_bytes)
    }
    /// Reads a u64.
    pub fn u64(&mut self, what: &'static str) -> Result<u64> {
        self.array(what).map(u64::from_le_bytes)
    }
    /// Reads an i32.
    pub fn i32(&mut self, what: &'static str) -> Result<i32> {
        self.array(what).map(i32::from_le_bytes)
    }
    /// A byte string of at most `max` bytes.
    /// Reads `n` bytes as they are.
    pub fn raw(&mut self, n: usize, what: &'static str) -> Result<&'a [u8]> {
        self.take(n, what)
    }
    /// Reads a u32 length of at most `max`, then that many bytes.
    pub fn bytes(&mut self, max: usize, what: &'static str) -> Result<&'a [u8]> {
        let at = self.pos;
        let len = self.u32(what)? as usize;
        if len > max {
            return Err(Error::Malformed { what, offset: at });
        }
        self.take(len, what)
    }
    /// A UTF-8 string of at most `max` bytes.
    pub fn str(&mut self, max: usize, what: &'static str) -> Result<&'a str> {
        let at = self.pos;
        std::str::from_utf8(self.bytes(max, what)?)
            .map_err(|_| Error::Malformed { what, offset: at })
    }
    /// Fails unless every byte was consumed.
    pub fn end(&self, what: &'static str) -> Result<()> {
        if self.pos == self.buf.len() {
            Ok(())
        } else {
            Err(Error::Malformed {
                what,
                offset: self.pos,
            })
        }
    }
}
