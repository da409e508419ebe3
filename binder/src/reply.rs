//! Sending a reply to a caller that may not be reading its channel.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::time::{Duration, Instant};

use afbus_transport::{Channel, Error as TransportError, Header};
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{self, Shutdown};

/// How long a reply may wait for room in its caller's channel. A caller's waiting thread reads
/// the channel, so a channel full of unread replies for this long belongs to a caller that has
/// stopped reading (stopped, or hostile: one that sends calls and never reads the replies would
/// otherwise hold every thread of the pool in a blocked send).
pub(crate) const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// Sends a reply. If the channel stays full for [`REPLY_TIMEOUT`], shuts it down: the caller's
/// calls on it fail with `DEAD_OBJECT`, and this side drops it as it does any hung-up channel.
/// A caller that is gone gets nothing; its hang-up is handled elsewhere.
pub(crate) fn send_reply(chan: &Channel, header: &Header, payload: &[u8], fds: &[BorrowedFd<'_>]) {
    let deadline = Instant::now() + REPLY_TIMEOUT;
    loop {
        match chan.try_send(header, payload, fds) {
            Err(TransportError::WouldBlock) => {}
            _ => return,
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            let _ = socket::shutdown(chan.as_fd().as_raw_fd(), Shutdown::Both);
            return;
        }
        // Round up so that the wait never ends just before the deadline and spins.
        let ms = u32::try_from(left.as_millis() + 1).unwrap_or(u32::MAX);
        let mut pfd = [PollFd::new(chan.as_fd(), PollFlags::POLLOUT)];
        // Writable, hung up (the next send says so), interrupted or timed out: look again.
        let _ = nix::poll::poll(
            &mut pfd,
            PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX),
        );
    }
}
