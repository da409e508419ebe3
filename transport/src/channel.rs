//! Channels: point-to-point `SOCK_SEQPACKET` connections carrying frames.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{self, sockopt, AddressFamily, SockFlag, SockType};
use parking_lot::Mutex;

use crate::error::{Error, Result};
use crate::frame::{
    Frame, Header, HEADER_LEN, MAX_FDS_PER_FRAME, MAX_FRAME_BYTES, MAX_PAYLOAD_BYTES,
};
use crate::sys::{self, Credentials};

/// A connection carrying frames with fds, one `SOCK_SEQPACKET` message per frame.
///
/// Sending and receiving take `&self`: several threads may send at once (each frame is one
/// atomic message), and `AsFd` lets a poller watch thousands of channels.
#[derive(Debug)]
pub struct Channel {
    fd: OwnedFd,
    /// Receive state, reused so that a frame costs no allocation beyond its payload.
    buf: Mutex<RecvBuf>,
}

impl Channel {
    /// Makes a connected pair of channels (a socketpair).
    pub fn pair() -> Result<(Channel, Channel)> {
        let (a, b) = socketpair()?;
        Ok((Channel::from_fd(a), Channel::from_fd(b)))
    }

    /// Wraps a connected `SOCK_SEQPACKET` socket.
    pub fn from_fd(fd: OwnedFd) -> Channel {
        Channel {
            fd,
            buf: Mutex::new(RecvBuf::new()),
        }
    }

    /// Gives the socket back.
    pub fn into_fd(self) -> OwnedFd {
        self.fd
    }

    /// Asks the kernel to attach the sender's credentials to every frame received here.
    pub fn set_pass_credentials(&self, on: bool) -> Result<()> {
        socket::setsockopt(&self.fd, sockopt::PassCred, &on)
            .map_err(|e| Error::io("setsockopt(SO_PASSCRED)", e.into()))
    }

    /// Credentials of the process that created the peer socket (`SO_PEERCRED`).
    ///
    /// For a brokered channel that is the bus master; the real peer comes with the channel.
    pub fn socket_peer_credentials(&self) -> Result<Credentials> {
        peer_credentials(self.fd.as_fd())
    }

    /// Sends one frame, blocking while the socket buffer is full.
    pub fn send(&self, header: &Header, payload: &[u8], fds: &[BorrowedFd<'_>]) -> Result<()> {
        send_frame(self.fd.as_fd(), header, payload, fds, false)
    }

    /// Sends one frame or fails with [`Error::WouldBlock`] if the socket buffer is full.
    pub fn try_send(&self, header: &Header, payload: &[u8], fds: &[BorrowedFd<'_>]) -> Result<()> {
        send_frame(self.fd.as_fd(), header, payload, fds, true)
    }

    /// Receives one frame, blocking until one arrives.
    pub fn recv(&self) -> Result<Frame> {
        self.recv_inner(false)
    }

    /// Receives one frame if one is waiting.
    pub fn try_recv(&self) -> Result<Option<Frame>> {
        match self.recv_inner(true) {
            Err(Error::WouldBlock) => Ok(None),
            other => other.map(Some),
        }
    }

    /// Receives one frame, waiting at most `timeout`.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Frame> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(frame) = self.try_recv()? {
                return Ok(frame);
            }
            wait_readable(self.fd.as_fd(), Some(deadline))?;
        }
    }

    fn recv_inner(&self, nonblocking: bool) -> Result<Frame> {
        recv_frame(self.fd.as_fd(), &mut self.buf.lock(), nonblocking)
    }
}

/// Where frames are received: the payload lands directly in a fresh `Vec` sized by the previous
/// frame, and only what does not fit spills into a reusable overflow buffer (and is copied).
#[derive(Debug)]
pub(crate) struct RecvBuf {
    overflow: Box<[u8]>,
    guess: usize,
}

/// Bounds of the payload-size guess: small enough that a mistaken guess wastes little, large
/// enough that typical payloads (up to a page or a few) arrive without a copy.
const GUESS_MIN: usize = 64;
const GUESS_MAX: usize = 16 * 1024;

impl RecvBuf {
    pub(crate) fn new() -> RecvBuf {
        RecvBuf {
            overflow: Box::default(),
            guess: GUESS_MIN,
        }
    }
}

impl AsFd for Channel {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Sends one frame on `sock`.
pub(crate) fn send_frame(
    sock: BorrowedFd<'_>,
    header: &Header,
    payload: &[u8],
    fds: &[BorrowedFd<'_>],
    nonblocking: bool,
) -> Result<()> {
    check_outgoing(payload.len(), fds.len())?;
    let hdr = header.encode(payload.len(), fds.len());
    let iov = [IoSlice::new(&hdr), IoSlice::new(payload)];
    sys::send_msg(sock, &iov, fds, None, nonblocking).map_err(|e| Error::io("sendmsg", e))?;
    Ok(())
}

/// Receives and checks one frame from `sock`.
pub(crate) fn recv_frame(
    sock: BorrowedFd<'_>,
    buf: &mut RecvBuf,
    nonblocking: bool,
) -> Result<Frame> {
    if buf.overflow.is_empty() {
        buf.overflow = vec![0u8; MAX_PAYLOAD_BYTES].into_boxed_slice();
    }
    let guess = buf.guess;
    let mut hdr = [0u8; HEADER_LEN];
    let mut payload = vec![0u8; guess];
    let mut iov = [
        IoSliceMut::new(&mut hdr),
        IoSliceMut::new(&mut payload),
        IoSliceMut::new(&mut buf.overflow[..MAX_PAYLOAD_BYTES - guess]),
    ];
    let got = sys::recv_msg(sock, &mut iov, nonblocking).map_err(|e| Error::io("recvmsg", e))?;
    // From here on, returning early drops `got.fds`: a refused frame's fds are closed.
    if got.full_len == 0 && got.fds.is_empty() {
        // End of stream, unless a hostile peer sent an empty datagram while still connected.
        return Err(if hung_up(sock) {
            Error::HungUp
        } else {
            Error::ShortFrame {
                len: 0,
                min: HEADER_LEN,
            }
        });
    }
    if got.ctrl_truncated {
        // Typically out of fds: the kernel dropped what it could not install.
        let lost = (got.len >= HEADER_LEN && !got.data_truncated)
            .then(|| Header::peek(&hdr))
            .flatten();
        return Err(Error::ControlTruncated {
            received: got.fds.len(),
            lost,
        });
    }
    if got.data_truncated || got.full_len > MAX_FRAME_BYTES {
        return Err(Error::FrameTooLarge {
            len: got.full_len,
            max: MAX_FRAME_BYTES,
        });
    }
    if got.len < HEADER_LEN {
        return Err(Error::ShortFrame {
            len: got.len,
            min: HEADER_LEN,
        });
    }
    let payload_len = got.len - HEADER_LEN;
    let header = Header::decode(&hdr, payload_len, got.fds.len())?;
    if payload_len <= guess {
        payload.truncate(payload_len);
        if payload_len < guess / 4 {
            payload.shrink_to_fit();
        }
    } else {
        payload.extend_from_slice(&buf.overflow[..payload_len - guess]);
    }
    buf.guess = payload_len.clamp(GUESS_MIN, GUESS_MAX);
    Ok(Frame {
        header,
        payload,
        fds: got.fds,
        creds: got.creds,
    })
}

/// Checks an outgoing frame against the limits before any byte is sent.
pub(crate) fn check_outgoing(payload_len: usize, nfds: usize) -> Result<()> {
    if payload_len > MAX_PAYLOAD_BYTES {
        return Err(Error::FrameTooLarge {
            len: payload_len + HEADER_LEN,
            max: MAX_FRAME_BYTES,
        });
    }
    if nfds > MAX_FDS_PER_FRAME {
        return Err(Error::TooManyFds {
            count: nfds,
            max: MAX_FDS_PER_FRAME,
        });
    }
    Ok(())
}

/// A close-on-exec `SOCK_SEQPACKET` socketpair.
pub(crate) fn socketpair() -> Result<(OwnedFd, OwnedFd)> {
    socket::socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|e| Error::io("socketpair", e.into()))
}

/// `SO_PEERCRED` of a connected socket.
pub(crate) fn peer_credentials(fd: BorrowedFd<'_>) -> Result<Credentials> {
    let c = socket::getsockopt(&fd, sockopt::PeerCredentials)
        .map_err(|e| Error::io("getsockopt(SO_PEERCRED)", e.into()))?;
    Ok(Credentials {
        pid: c.pid(),
        uid: c.uid(),
        gid: c.gid(),
    })
}

/// True when the peer of `fd` has closed its end.
fn hung_up(fd: BorrowedFd<'_>) -> bool {
    let mut pfd = [PollFd::new(fd, PollFlags::empty())];
    match nix::poll::poll(&mut pfd, PollTimeout::ZERO) {
        Ok(_) => pfd[0]
            .revents()
            .is_some_and(|r| r.contains(PollFlags::POLLHUP)),
        Err(_) => true,
    }
}

/// Waits until `fd` is readable (or hung up), or fails with `TimedOut` at `deadline`.
pub(crate) fn wait_readable(fd: BorrowedFd<'_>, deadline: Option<Instant>) -> Result<()> {
    loop {
        let timeout = match deadline {
            None => PollTimeout::NONE,
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(Error::TimedOut);
                }
                // Round up so that we never wake just before the deadline and spin.
                let ms = left.as_micros().div_ceil(1000);
                PollTimeout::try_from(ms.min(i32::MAX as u128) as u32).unwrap_or(PollTimeout::MAX)
            }
        };
        let mut pfd = [PollFd::new(fd, PollFlags::POLLIN)];
        match nix::poll::poll(&mut pfd, timeout) {
            Ok(0) => continue,
            Ok(_) => return Ok(()),
            Err(nix::Error::EINTR) => continue,
            Err(e) => return Err(Error::io("poll", e.into())),
        }
    }
}
