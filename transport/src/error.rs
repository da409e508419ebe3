//! The transport's error type.

use std::io;
use std::path::PathBuf;

use crate::frame::FrameKind;
use crate::proto::MasterStatus;

/// What went wrong on a bus socket or channel.
///
/// Frame errors (`ShortFrame` .. `FdCountMismatch`) refuse one frame only: the fds that came with
/// it are already closed and the channel goes on with the next frame.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A frame shorter than the fixed header.
    #[error("frame of {len} bytes is shorter than the {min}-byte header")]
    ShortFrame {
        /// Bytes received.
        len: usize,
        /// The header's size.
        min: usize,
    },
    /// A frame longer than [`MAX_FRAME_BYTES`](crate::MAX_FRAME_BYTES).
    #[error("frame of {len} bytes exceeds the {max}-byte limit")]
    FrameTooLarge {
        /// The frame's size (as sent, or as the kernel reported it).
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The header's payload length disagrees with the bytes that arrived.
    #[error("frame header declares {declared} payload bytes but {actual} arrived")]
    BadLength {
        /// Payload length in the header.
        declared: usize,
        /// Payload bytes received.
        actual: usize,
    },
    /// A frame kind this transport does not know.
    #[error("unknown frame kind {0}")]
    UnknownKind(u16),
    /// Nonzero reserved header bits.
    #[error("reserved header field is {0:#x}, must be zero")]
    BadReserved(u16),
    /// The kernel truncated the control data (`MSG_CTRUNC`): some fds were lost.
    #[error("control data truncated ({received} fds arrived)")]
    ControlTruncated {
        /// Fds that did arrive (and were closed).
        received: usize,
        /// The frame's kind and transaction id, when its header arrived whole: a reply lost
        /// this way can still fail its call instead of leaving it waiting.
        lost: Option<(FrameKind, u64)>,
    },
    /// The header's fd count disagrees with the fds that arrived.
    #[error("frame header declares {declared} fds but {actual} arrived")]
    FdCountMismatch {
        /// Fd count in the header.
        declared: usize,
        /// Fds received.
        actual: usize,
    },
    /// More fds than [`MAX_FDS_PER_FRAME`](crate::MAX_FDS_PER_FRAME) offered for one frame.
    #[error("{count} fds exceed the limit of {max} per frame")]
    TooManyFds {
        /// Fds offered.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// The peer closed its end.
    #[error("peer hung up")]
    HungUp,
    /// A non-blocking operation could not proceed now.
    #[error("operation would block")]
    WouldBlock,
    /// A deadline passed.
    #[error("timed out")]
    TimedOut,
    /// A message body that does not decode.
    #[error("malformed {what} at byte {offset}")]
    Malformed {
        /// What was being decoded.
        what: &'static str,
        /// Byte offset in the payload.
        offset: usize,
    },
    /// The text of an address or name does not parse.
    #[error("invalid {what} {text:?}: {reason}")]
    Invalid {
        /// What kind of text.
        what: &'static str,
        /// The text.
        text: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// The bus master refused or failed a request.
    #[error("bus master refused {op}: {status} ({message})")]
    Refused {
        /// The request.
        op: &'static str,
        /// The master's status code.
        status: MasterStatus,
        /// The master's explanation.
        message: String,
    },
    /// A live bus master already listens at this path.
    #[error("a live bus already listens at {0}")]
    BusInUse(PathBuf),
    /// The bus socket could not be reached (no master there, or no permission).
    #[error("connect to bus {}: {source}", path.display())]
    Connect {
        /// The bus socket tried.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The master connection hung up: the bus is gone.
    #[error("bus master is gone")]
    BusGone,
    /// The master sent something the protocol does not allow here.
    #[error("protocol violation: {0}")]
    Protocol(&'static str),
    /// The peer broke the shared-memory ring's protocol (a bad index, length or record); the
    /// channel is shut down.
    #[error("shared-memory ring: {0}")]
    Ring(&'static str),
    /// A system call failed.
    #[error("{context}: {source}")]
    Io {
        /// What we were doing.
        context: &'static str,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

impl Error {
    /// Wraps an OS error, mapping the errnos that have their own variant.
    pub(crate) fn io(context: &'static str, source: io::Error) -> Error {
        match source.raw_os_error() {
            Some(libc::EAGAIN) => Error::WouldBlock,
            Some(libc::EPIPE | libc::ECONNRESET | libc::ENOTCONN) => Error::HungUp,
            _ => Error::Io { context, source },
        }
    }

    /// True for errors that refused one frame and left the channel usable.
    pub fn is_frame_error(&self) -> bool {
        matches!(
            self,
            Error::ShortFrame { .. }
                | Error::FrameTooLarge { .. }
                | Error::BadLength { .. }
                | Error::UnknownKind(_)
                | Error::BadReserved(_)
                | Error::ControlTruncated { .. }
                | Error::FdCountMismatch { .. }
        )
    }
}

impl From<nix::Error> for Error {
    fn from(e: nix::Error) -> Self {
        Error::io("system call", io::Error::from(e))
    }
}

/// The transport's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
