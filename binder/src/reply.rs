//! Sending a reply to a caller that may not be reading its channel.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::time::{Duration, Instant};

use afbus_transport::{Channel, Error as TransportError, Header};
use nix::sys::socket::{self, Shutdown};

/// How long a reply may wait for room in its caller's channel, unless
/// [`RuntimeConfig::reply_timeout`](crate::RuntimeConfig::reply_timeout) says otherwise. A caller's waiting thread reads
/// the channel, so a channel full of unread replies for this long belongs to a caller that has
/// stopped reading (stopped, or hostile: one that sends calls and never reads the replies would
/// otherwise hold every thread of the pool in a blocked send).
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// Sends a reply. If the channel stays full until `deadline`, shuts it down: the caller's
/// calls on it fail with `DEAD_OBJECT`, and this side drops it as it does any hung-up channel.
/// A caller that is gone gets nothing; its hang-up is handled elsewhere.
pub(crate) fn send_reply(
    chan: &Channel,
    header: &Header,
    payload: &[u8],
    fds: &[BorrowedFd<'_>],
    deadline: Instant,
) {
    // Room in the socket buffer or in the shared-memory ring, whichever the channel uses.
    if let Err(TransportError::TimedOut) = chan.send_until(header, payload, fds, Some(deadline)) {
        let _ = socket::shutdown(chan.as_fd().as_raw_fd(), Shutdown::Both);
    }
}
