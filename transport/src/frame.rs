//! Frames: one `SOCK_SEQPACKET` message is one frame (a fixed header, a payload, some fds).

use std::os::fd::OwnedFd;

use crate::error::{Error, Result};
use crate::sys::Credentials;

/// Largest frame (header included), in bytes.
///
/// 128 KiB stays below the kernel's default socket send buffer (`net.core.wmem_default`,
/// 208 KiB), so one frame always fits one `SOCK_SEQPACKET` message without tuning any sysctl.
/// Larger payloads travel as memfds.
pub const MAX_FRAME_BYTES: usize = 128 * 1024;

/// Largest payload of one frame.
pub const MAX_PAYLOAD_BYTES: usize = MAX_FRAME_BYTES - HEADER_LEN;

/// Most fds one frame carries: the kernel's `SCM_MAX_FD`, the most one `sendmsg` may pass.
pub const MAX_FDS_PER_FRAME: usize = 253;

/// Size of the fixed frame header.
pub const HEADER_LEN: usize = 24;

/// Transport flag: this frame offers the shared-memory rings (its one fd is the memfd).
pub(crate) const XFLAG_OFFER: u16 = 1;
/// Transport flag: the sender's frames after this one travel through the shared-memory ring.
pub(crate) const XFLAG_SWITCH: u16 = 2;
/// Transport flag: a doorbell, sent to wake a receiver that sleeps in `poll`; carries nothing.
pub(crate) const XFLAG_DOORBELL: u16 = 4;
/// Transport flags a receiver accepts; any other bit refuses the frame.
pub(crate) const XFLAGS_KNOWN: u16 = XFLAG_OFFER | XFLAG_SWITCH | XFLAG_DOORBELL;

/// What a frame is for; the layer above gives `code` and the payload their meaning.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum FrameKind {
    /// A request that expects one `Reply` with the same transaction id.
    Request = 1,
    /// The answer to a `Request`.
    Reply = 2,
    /// A message that gets no reply.
    OneWay = 3,
    /// An unsolicited message from the bus master.
    Notice = 4,
    /// A multicast message delivered by the bus master.
    Signal = 5,
}

impl FrameKind {
    fn from_wire(v: u16) -> Result<Self> {
        Ok(match v {
            1 => FrameKind::Request,
            2 => FrameKind::Reply,
            3 => FrameKind::OneWay,
            4 => FrameKind::Notice,
            5 => FrameKind::Signal,
            other => return Err(Error::UnknownKind(other)),
        })
    }
}

/// The fixed part of a frame.
///
/// Wire layout (little-endian, 24 bytes): kind u16, flags u16, fd count u16, transport flags u16
/// (the channel's own signalling, which a frame outside a channel must leave 0), payload length
/// u32, code u32, transaction id u64.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// The frame's kind.
    pub kind: FrameKind,
    /// Flags for the layer above.
    pub flags: u16,
    /// An operation or status code for the layer above.
    pub code: u32,
    /// Pairs a `Reply` with its `Request`.
    pub txn: u64,
}

impl Header {
    /// A header with no flags, code 0 and transaction 0.
    pub const fn new(kind: FrameKind) -> Header {
        Header {
            kind,
            flags: 0,
            code: 0,
            txn: 0,
        }
    }

    /// Sets the code.
    pub const fn with_code(mut self, code: u32) -> Header {
        self.code = code;
        self
    }

    /// Sets the transaction id.
    pub const fn with_txn(mut self, txn: u64) -> Header {
        self.txn = txn;
        self
    }

    /// Sets the flags.
    pub const fn with_flags(mut self, flags: u16) -> Header {
        self.flags = flags;
        self
    }

    pub(crate) fn encode(&self, payload_len: usize, nfds: usize) -> [u8; HEADER_LEN] {
        self.encode_x(payload_len, nfds, 0)
    }

    /// Encodes with transport flags (`XFLAG_*`), which only the channel itself sets.
    pub(crate) fn encode_x(
        &self,
        payload_len: usize,
        nfds: usize,
        xflags: u16,
    ) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[6..8].copy_from_slice(&xflags.to_le_bytes());
        b[0..2].copy_from_slice(&(self.kind as u16).to_le_bytes());
        b[2..4].copy_from_slice(&self.flags.to_le_bytes());
        b[4..6].copy_from_slice(&(nfds as u16).to_le_bytes());
        b[8..12].copy_from_slice(&(payload_len as u32).to_le_bytes());
        b[12..16].copy_from_slice(&self.code.to_le_bytes());
        b[16..24].copy_from_slice(&self.txn.to_le_bytes());
        b
    }

    /// The transport flags (`XFLAG_*`) of a header, nothing else checked.
    pub(crate) fn peek_xflags(b: &[u8; HEADER_LEN]) -> u16 {
        u16::from_le_bytes([b[6], b[7]])
    }

    /// The kind and transaction id of a header, if its kind is known (nothing else checked).
    pub(crate) fn peek(b: &[u8; HEADER_LEN]) -> Option<(FrameKind, u64)> {
        let kind = FrameKind::from_wire(u16::from_le_bytes([b[0], b[1]])).ok()?;
        let mut txn = [0u8; 8];
        txn.copy_from_slice(&b[16..24]);
        Some((kind, u64::from_le_bytes(txn)))
    }

    /// Decodes and checks a header against what arrived: `payload_len` bytes and `nfds` fds.
    pub(crate) fn decode(b: &[u8; HEADER_LEN], payload_len: usize, nfds: usize) -> Result<Header> {
        match Header::decode_x(b, payload_len, nfds)? {
            (h, 0) => Ok(h),
            (_, x) => Err(Error::BadReserved(x)),
        }
    }

    /// As [`decode`](Self::decode), also returning the transport flags (only known bits pass).
    pub(crate) fn decode_x(
        b: &[u8; HEADER_LEN],
        payload_len: usize,
        nfds: usize,
    ) -> Result<(Header, u16)> {
        let u16_at = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
        let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let kind = FrameKind::from_wire(u16_at(0))?;
        let xflags = u16_at(6);
        if xflags & !XFLAGS_KNOWN != 0 {
            return Err(Error::BadReserved(xflags));
        }
        let declared = u32_at(8) as usize;
        if declared != payload_len {
            return Err(Error::BadLength {
                declared,
                actual: payload_len,
            });
        }
        let declared_fds = usize::from(u16_at(4));
        if declared_fds != nfds {
            return Err(Error::FdCountMismatch {
                declared: declared_fds,
                actual: nfds,
            });
        }
        let mut txn = [0u8; 8];
        txn.copy_from_slice(&b[16..24]);
        let header = Header {
            kind,
            flags: u16_at(2),
            code: u32_at(12),
            txn: u64::from_le_bytes(txn),
        };
        Ok((header, xflags))
    }
}

/// A received frame.
#[derive(Debug)]
pub struct Frame {
    /// The header.
    pub header: Header,
    /// The payload.
    pub payload: Vec<u8>,
    /// Fds that came with it, in the order sent.
    pub fds: Vec<OwnedFd>,
    /// The sender's kernel-verified credentials, when the socket asked for them.
    pub creds: Option<Credentials>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip() {
        let h = Header::new(FrameKind::Reply)
            .with_code(7)
            .with_txn(u64::MAX)
            .with_flags(3);
        let b = h.encode(10, 2);
        assert_eq!(Header::decode(&b, 10, 2).unwrap(), h);
    }

    #[test]
    fn header_checks() {
        let b = Header::new(FrameKind::Request).encode(10, 1);
        assert!(matches!(
            Header::decode(&b, 9, 1),
            Err(Error::BadLength {
                declared: 10,
                actual: 9
            })
        ));
        assert!(matches!(
            Header::decode(&b, 10, 0),
            Err(Error::FdCountMismatch {
                declared: 1,
                actual: 0
            })
        ));
        let mut bad = b;
        bad[0] = 99;
        assert!(matches!(
            Header::decode(&bad, 10, 1),
            Err(Error::UnknownKind(99))
        ));
        let mut bad = b;
        bad[7] = 1;
        assert!(matches!(
            Header::decode_x(&bad, 10, 1),
            Err(Error::BadReserved(0x100))
        ));
        let mut bad = b;
        bad[6] = XFLAG_SWITCH as u8;
        assert!(matches!(
            Header::decode(&bad, 10, 1),
            Err(Error::BadReserved(2))
        ));
        assert_eq!(Header::decode_x(&bad, 10, 1).unwrap().1, XFLAG_SWITCH);
        let mut bad = b;
        bad[7] = 1;
        assert!(matches!(
            Header::decode(&bad, 10, 1),
            Err(Error::BadReserved(0x100))
        ));
    }
}
