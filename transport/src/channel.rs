//! Channels: point-to-point `SOCK_SEQPACKET` connections carrying frames.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{self, sockopt, AddressFamily, SockFlag, SockType};
use parking_lot::{Mutex, MutexGuard};

use crate::error::{Error, Result};
use crate::frame::{
    Frame, FrameKind, Header, HEADER_LEN, MAX_FDS_PER_FRAME, MAX_FRAME_BYTES, MAX_PAYLOAD_BYTES,
    XFLAG_DOORBELL, XFLAG_OFFER, XFLAG_SWITCH,
};
use crate::identity::Identity;
use crate::shm::{self, Link, Record, SHM_MAX_RECORD, SHM_MAX_STASHED_FRAMES, SHM_PARK_SLICE};
use crate::sys::{self, Credentials};

/// A connection carrying frames with fds, one `SOCK_SEQPACKET` message per frame, or, once both
/// ends agreed, through shared-memory rings (see [`shm`](crate::shm)) with the socket kept for
/// fds, credentials and the hang-up.
///
/// Sending and receiving take `&self`: several threads may send at once (each frame is one
/// atomic message), and `AsFd` lets a poller watch thousands of channels.
#[derive(Debug)]
pub struct Channel {
    fd: OwnedFd,
    /// Receive state, reused so that a frame costs no allocation beyond its payload.
    rx: Mutex<Rx>,
    /// The shared-memory rings, once offered (by us) or accepted (from the peer).
    shm: OnceLock<Shm>,
    /// Resolves senders into their current credentials.
    identity: Identity,
    /// Whether an offer from the peer is accepted.
    accept_shm: AtomicBool,
    /// Held while making an offer, so that two threads never offer two memfds.
    offering: Mutex<()>,
}

#[derive(Debug)]
struct Shm {
    link: Link,
    tx: Mutex<Tx>,
    /// The peer broke the ring protocol: the channel is shut down.
    broken: AtomicBool,
    /// [`sys::fork_generation`] when the rings were mapped: a forked child has no mapping
    /// (see [`shm`]), and for it the channel is dead.
    mapped_in: u64,
    /// Mirrors of the reader's `Rx::ring` and `Rx::tail`, for [`Channel::park_poll`], which
    /// must not wait for a reader.
    rx_ring: AtomicBool,
    rx_tail: AtomicU64,
    /// Our frames go through the ring (`Tx::mode` is `Ring`), for [`Channel::is_shm`], which a
    /// looper asks after every call and which must not take the sender's lock.
    tx_ring: AtomicBool,
    /// A poller saw the socket readable or hung up while a reader held the channel.
    kicked: AtomicBool,
}

#[derive(Debug)]
struct Tx {
    /// Our private copy of our ring's head: what the peer writes there is never trusted.
    head: u64,
    mode: TxMode,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TxMode {
    /// Frames go on the socket.
    Socket,
    /// The next frame goes on the socket flagged `XFLAG_SWITCH`, the ones after in the ring.
    SwitchNext,
    /// Frames go in the ring (or on the socket behind a marker).
    Ring,
}

#[derive(Debug)]
struct Rx {
    buf: RecvBuf,
    /// The peer switched: its frames come from the ring.
    ring: bool,
    /// Our private copy of the ring's tail.
    tail: u64,
    /// Socket frames read ahead of their ring markers.
    stash: VecDeque<Frame>,
    /// The peer's credentials as the kernel gave them with its switch: ring frames carry them.
    peer_creds: Option<Credentials>,
}

/// How a receive waits.
#[derive(Clone, Copy)]
enum Wait {
    NonBlocking,
    Until(Option<Instant>),
}

impl Channel {
    /// Makes a connected pair of channels (a socketpair).
    pub fn pair() -> Result<(Channel, Channel)> {
        let (a, b) = socketpair()?;
        Ok((Channel::from_fd(a), Channel::from_fd(b)))
    }

    /// Wraps a connected `SOCK_SEQPACKET` socket.
    ///
    /// It accepts a shared-memory offer unless `AFBUS_SHM=0` (see [`set_shm`](Self::set_shm)).
    pub fn from_fd(fd: OwnedFd) -> Channel {
        Channel {
            fd,
            rx: Mutex::new(Rx {
                buf: RecvBuf::new(),
                ring: false,
                tail: 0,
                stash: VecDeque::new(),
                peer_creds: None,
            }),
            shm: OnceLock::new(),
            identity: Identity::default(),
            accept_shm: AtomicBool::new(shm::shm_default()),
            offering: Mutex::new(()),
        }
    }

    /// Gives the socket back.
    pub fn into_fd(self) -> OwnedFd {
        self.fd
    }

    /// The sender of a frame received here as of now: the process the kernel stamped on it
    /// (`frame.creds`), with its current effective uid and gid (resolved through a pidfd, never
    /// adding privilege to the stamp).
    /// Costs one `ioctl`; call it for frames whose sender matters.
    pub fn sender(&self, creds: Option<Credentials>) -> Option<Credentials> {
        creds.map(|c| self.identity.current(c))
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

    /// Whether to accept the peer's offer of shared-memory rings (set before the first receive).
    pub fn set_shm(&self, accept: bool) {
        self.accept_shm.store(accept, Ordering::Relaxed);
    }

    /// Offers the peer shared-memory rings: a sealed memfd sent on the socket (once; later
    /// calls do nothing). Frames move to the rings once the peer accepted: its first frame after
    /// taking the offer says so. The offer may come at any point in the channel's life.
    pub fn offer_shm(&self) -> Result<()> {
        if self.shm.get().is_some() {
            return Ok(());
        }
        let _offering = self.offering.lock();
        if self.shm.get().is_some() {
            return Ok(());
        }
        let (link, memfd) = Link::create()?;
        // The rings are ours before the peer can hear of them: another thread of ours may send
        // a call right behind the offer, and the peer's answer may already say it switched.
        let _ = self.shm.set(Shm::new(link, TxMode::Socket));
        let offer = Header::new(FrameKind::OneWay).encode_x(0, 1, XFLAG_OFFER);
        sys::send_msg(
            self.fd.as_fd(),
            &[IoSlice::new(&offer)],
            &[memfd.as_fd()],
            None,
            false,
        )
        .map_err(|e| Error::io("sendmsg", e))?;
        Ok(())
    }

    /// True once frames travel through shared memory in both directions.
    pub fn is_shm(&self) -> bool {
        self.shm
            .get()
            .is_some_and(|s| s.rx_ring.load(Ordering::Relaxed) && s.tx_ring.load(Ordering::Relaxed))
    }

    /// Sends one frame, blocking while the socket buffer (or ring) is full.
    pub fn send(&self, header: &Header, payload: &[u8], fds: &[BorrowedFd<'_>]) -> Result<()> {
        self.send_inner(header, payload, fds, Wait::Until(None))
    }

    /// Sends one frame or fails with [`Error::WouldBlock`] if the socket buffer (or ring) is
    /// full.
    pub fn try_send(&self, header: &Header, payload: &[u8], fds: &[BorrowedFd<'_>]) -> Result<()> {
        self.send_inner(header, payload, fds, Wait::NonBlocking)
    }

    /// Sends one frame, waiting for room until `deadline` at most ([`Error::TimedOut`]).
    pub fn send_until(
        &self,
        header: &Header,
        payload: &[u8],
        fds: &[BorrowedFd<'_>],
        deadline: Option<Instant>,
    ) -> Result<()> {
        self.send_inner(header, payload, fds, Wait::Until(deadline))
    }

    /// Receives one frame, blocking until one arrives.
    pub fn recv(&self) -> Result<Frame> {
        self.recv_inner(Wait::Until(None))
    }

    /// Receives one frame if one is waiting.
    pub fn try_recv(&self) -> Result<Option<Frame>> {
        match self.recv_inner(Wait::NonBlocking) {
            Err(Error::WouldBlock) => Ok(None),
            other => other.map(Some),
        }
    }

    /// Receives one frame, waiting at most `timeout`.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Frame> {
        self.recv_inner(Wait::Until(Some(Instant::now() + timeout)))
    }

    /// Receives one frame, waiting until `deadline` (or for ever).
    pub fn recv_until(&self, deadline: Option<Instant>) -> Result<Frame> {
        self.recv_inner(Wait::Until(deadline))
    }

    /// A thread is about to read this channel (it sent a call and will wait for the reply):
    /// the peer need not ring the socket doorbell for what it sends meanwhile.
    pub fn will_read(&self) {
        if let Some(shm) = self.shm.get().filter(|s| s.usable()) {
            shm.link.rx().will_read();
        }
    }

    /// Whether [`spin_for_ring`](Self::spin_for_ring) would spin now: the ring is in use and the
    /// peer last ran on another CPU.
    pub fn would_spin(&self) -> bool {
        match self.shm.get().filter(|s| s.usable()) {
            Some(shm) if shm.rx_ring.load(Ordering::Acquire) => {
                shm.link.rx().would_spin(shm::shm_spin())
            }
            _ => false,
        }
    }

    /// Spins for [`shm_spin`](crate::shm::shm_spin) at most while the ring is empty, if the
    /// peer last ran on another CPU (as a blocked reader does before it sleeps); true if
    /// something came. For a reader that would otherwise wait for the socket doorbell.
    pub fn spin_for_ring(&self) -> bool {
        match self.shm.get().filter(|s| s.usable()) {
            Some(shm) if shm.rx_ring.load(Ordering::Acquire) => {
                let tail = shm.rx_tail.load(Ordering::Acquire);
                shm.link.rx().spin(tail, shm::shm_spin())
            }
            _ => false,
        }
    }

    /// Nobody reads this channel until a poller sees its socket readable: from now on the peer
    /// rings the socket doorbell when it writes to the ring. True if frames already wait in the
    /// ring (the poller will not hear of them: someone must read).
    pub fn park_poll(&self) -> bool {
        match self.shm.get().filter(|s| s.usable()) {
            Some(shm) if shm.rx_ring.load(Ordering::Acquire) => {
                let tail = shm.rx_tail.load(Ordering::Acquire);
                shm.link.rx().park_poll(tail)
            }
            _ => false,
        }
    }

    /// True once the peer's end is closed, as the kernel sees it now (one `poll`), whether or
    /// not a reader has noticed yet.
    pub fn peer_hung_up(&self) -> bool {
        hung_up(self.fd.as_fd())
    }

    /// Hangs the channel up for both ends without closing the fd: the peer sees it hung up
    /// (`POLLHUP`, then end of stream) as if this process had exited, and so do this end's
    /// pollers and readers. For an owner taking an object away from its holders.
    pub fn hang_up(&self) {
        // Fails only for an fd that is not a connected socket, which a channel's never is.
        let _ = socket::shutdown(self.fd.as_raw_fd(), socket::Shutdown::Both);
        self.kick();
    }

    /// Wakes a thread of ours sleeping on this channel's ring, so that it looks at the socket
    /// (a poller saw it readable or hung up while that thread held the channel).
    pub fn kick(&self) {
        if let Some(shm) = self.shm.get().filter(|s| s.usable()) {
            shm.link.rx().kick(&shm.kicked);
        }
    }

    fn send_inner(
        &self,
        header: &Header,
        payload: &[u8],
        fds: &[BorrowedFd<'_>],
        wait: Wait,
    ) -> Result<()> {
        let sock = self.fd.as_fd();
        let Some(shm) = self.shm.get() else {
            return send_socket(sock, header, payload, fds, wait, 0);
        };
        check_outgoing(payload.len(), fds.len())?;
        if !shm.usable() {
            return Err(Error::HungUp);
        }
        let mut tx = shm.tx.lock();
        match tx.mode {
            TxMode::Socket => return send_socket(sock, header, payload, fds, wait, 0),
            TxMode::SwitchNext => {
                send_socket(sock, header, payload, fds, wait, XFLAG_SWITCH)?;
                tx.mode = TxMode::Ring;
                shm.tx_ring.store(true, Ordering::Relaxed);
                return Ok(());
            }
            TxMode::Ring => {}
        }
        let ring = shm.link.tx();
        let rec = shm::record_len(HEADER_LEN + payload.len());
        let inline = fds.is_empty() && rec <= SHM_MAX_RECORD;
        let room = if inline { rec } else { shm::record_len(0) };
        let broken = |e: Error| {
            if matches!(e, Error::Ring(_)) {
                self.break_link(shm);
            }
            e
        };
        while !ring.fits(tx.head, room).map_err(broken)? {
            let slice = match wait {
                Wait::NonBlocking => return Err(Error::WouldBlock),
                Wait::Until(None) => SHM_PARK_SLICE,
                Wait::Until(Some(d)) => match d.saturating_duration_since(Instant::now()) {
                    left if left.is_zero() => return Err(Error::TimedOut),
                    left => left.min(SHM_PARK_SLICE),
                },
            };
            if hung_up(sock) {
                return Err(Error::HungUp);
            }
            ring.wait_room(tx.head, room, slice).map_err(broken)?;
        }
        if inline {
            let hdr = header.encode(payload.len(), 0);
            ring.push(&mut tx.head, Some(&hdr), payload);
        } else {
            send_socket(sock, header, payload, fds, wait, 0)?;
            ring.push(&mut tx.head, None, &[]);
        }
        if ring.notify() {
            // The reader sleeps in poll. A full socket buffer already wakes it: ignore that.
            let bell = Header::new(FrameKind::OneWay);
            let _ = send_frame_x(sock, &bell, &[], &[], true, XFLAG_DOORBELL);
        }
        Ok(())
    }

    fn recv_inner(&self, wait: Wait) -> Result<Frame> {
        let mut rx = self.rx.lock();
        loop {
            if !rx.ring {
                if let Some(frame) = self.recv_socket(&mut rx, wait)? {
                    return Ok(frame);
                }
                continue;
            }
            let shm = self.shm.get().expect("a ring reader has its link");
            if !shm.usable() {
                return Err(Error::HungUp);
            }
            let ring = shm.link.rx();
            let Rx { tail, .. } = &mut *rx;
            let popped = ring.pop(tail);
            shm.rx_tail.store(*tail, Ordering::Release);
            match popped {
                Ok(Some(Record::Frame(header, payload))) => {
                    return Ok(Frame {
                        header,
                        payload,
                        fds: Vec::new(),
                        creds: rx.peer_creds,
                    })
                }
                Ok(Some(Record::Socket)) => match self.marked_frame(&mut rx)? {
                    Some(frame) => return Ok(frame),
                    None => continue,
                },
                Ok(None) => {}
                Err(Error::Ring(what)) => {
                    self.break_link(shm);
                    return Err(Error::Ring(what));
                }
                Err(frame_error) => return Err(frame_error),
            }
            match wait {
                Wait::NonBlocking => {
                    self.drain_socket(&mut rx, &ring)?;
                    if !ring.park_poll(rx.tail) {
                        return Err(Error::WouldBlock);
                    }
                }
                Wait::Until(deadline) => {
                    if ring.spin(rx.tail, shm::shm_spin()) {
                        continue;
                    }
                    let mut slice = SHM_PARK_SLICE;
                    if let Some(d) = deadline {
                        let left = d.saturating_duration_since(Instant::now());
                        if left.is_zero() {
                            return Err(Error::TimedOut);
                        }
                        slice = slice.min(left);
                    }
                    let tail = rx.tail;
                    // Sleep without the lock: a sender never needs it, and a caller asking
                    // whether frames wait (`park_poll`) must not wait for us.
                    MutexGuard::unlocked(&mut rx, || ring.park(tail, slice, &shm.kicked));
                    if shm.kicked.swap(false, Ordering::SeqCst) || !ring.has_data(rx.tail) {
                        self.drain_socket(&mut rx, &ring)?;
                    }
                }
            }
        }
    }

    /// One socket read while the peer has not switched to its ring: `Ok(None)` when the frame
    /// was the channel's own signalling (or nothing came in time).
    fn recv_socket(&self, rx: &mut Rx, wait: Wait) -> Result<Option<Frame>> {
        let got = match wait {
            Wait::NonBlocking => recv_frame_x(self.fd.as_fd(), &mut rx.buf, true),
            Wait::Until(None) => recv_frame_x(self.fd.as_fd(), &mut rx.buf, false),
            Wait::Until(Some(d)) => match recv_frame_x(self.fd.as_fd(), &mut rx.buf, true) {
                Err(Error::WouldBlock) => {
                    wait_readable(self.fd.as_fd(), Some(d))?;
                    return Ok(None);
                }
                other => other,
            },
        };
        let (frame, x) = match got {
            // The frame is lost, but not the switch it announced: the peer's next frames come
            // from its ring.
            Err(e) => {
                if let Some(creds) = rx.buf.lost_switch.take() {
                    self.switch_rx(rx, creds);
                }
                return Err(e);
            }
            Ok(got) => got,
        };
        if x & XFLAG_OFFER != 0 {
            self.take_offer(frame);
            return Ok(None);
        }
        if x & XFLAG_DOORBELL != 0 {
            return Ok(None);
        }
        if x & XFLAG_SWITCH != 0 {
            self.switch_rx(rx, frame.creds);
        }
        Ok(Some(frame))
    }

    /// The peer switched to its ring (its frame flagged `XFLAG_SWITCH` came, stamped `creds`):
    /// read from there on, and switch our direction too if we have not.
    fn switch_rx(&self, rx: &mut Rx, creds: Option<Credentials>) {
        if let Some(shm) = self.shm.get() {
            rx.ring = true;
            rx.peer_creds = creds;
            shm.rx_ring.store(true, Ordering::Release);
            let mut tx = shm.tx.lock();
            if tx.mode == TxMode::Socket {
                tx.mode = TxMode::SwitchNext;
            }
        }
    }

    /// The socket frame a ring marker stands for; `None` if the peer marked nothing.
    fn marked_frame(&self, rx: &mut Rx) -> Result<Option<Frame>> {
        if let Some(frame) = rx.stash.pop_front() {
            return Ok(Some(frame));
        }
        loop {
            match recv_frame_x(self.fd.as_fd(), &mut rx.buf, true) {
                Ok((_, x)) if x & XFLAG_DOORBELL != 0 => continue,
                Ok((frame, _)) => return Ok(Some(frame)),
                Err(Error::WouldBlock) => return Ok(None),
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads what waits on the socket of a ring channel: doorbells are dropped, frames kept for
    /// their markers. A hang-up is reported only once the ring is empty: a peer that wrote and
    /// then closed has all it wrote read first.
    fn drain_socket(&self, rx: &mut Rx, ring: &shm::Ring<'_>) -> Result<()> {
        loop {
            match recv_frame_x(self.fd.as_fd(), &mut rx.buf, true) {
                Ok((_, x)) if x & (XFLAG_DOORBELL | XFLAG_OFFER) != 0 => {}
                Ok((frame, _)) => {
                    if rx.stash.len() >= SHM_MAX_STASHED_FRAMES {
                        if let Some(shm) = self.shm.get() {
                            self.break_link(shm);
                        }
                        return Err(Error::Ring("too many socket frames without a marker"));
                    }
                    rx.stash.push_back(frame);
                }
                Err(Error::WouldBlock) => return Ok(()),
                Err(Error::HungUp) if ring.has_data(rx.tail) => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    }

    /// Maps an offered memfd, if we accept offers and have no rings yet; else closes it.
    fn take_offer(&self, mut frame: Frame) {
        if !self.accept_shm.load(Ordering::Relaxed) || self.shm.get().is_some() {
            return;
        }
        let Some(memfd) = frame.fds.pop().filter(|_| frame.fds.is_empty()) else {
            return;
        };
        // A bad offer is declined: we never switch, so the peer keeps to the socket too.
        if let Ok(link) = Link::accept(memfd) {
            let _ = self.shm.set(Shm::new(link, TxMode::SwitchNext));
        }
    }

    /// The peer broke the ring protocol: stop using the rings and hang up, so that it learns.
    fn break_link(&self, shm: &Shm) {
        shm.broken.store(true, Ordering::Relaxed);
        let _ = socket::shutdown(self.fd.as_raw_fd(), socket::Shutdown::Both);
    }
}

impl Shm {
    /// False once the peer broke the protocol, and in a forked child (which has no mapping).
    fn usable(&self) -> bool {
        !self.broken.load(Ordering::Relaxed) && self.mapped_in == sys::fork_generation()
    }

    fn new(link: Link, mode: TxMode) -> Shm {
        Shm {
            link,
            tx: Mutex::new(Tx { head: 0, mode }),
            broken: AtomicBool::new(false),
            mapped_in: sys::fork_generation(),
            rx_ring: AtomicBool::new(false),
            rx_tail: AtomicU64::new(0),
            tx_ring: AtomicBool::new(false),
            kicked: AtomicBool::new(false),
        }
    }
}

/// Where frames are received: the payload lands directly in a fresh `Vec` sized by the previous
/// frame, and only what does not fit spills into the receiving thread's [`OVERFLOW`] buffer (and
/// is copied).
#[derive(Debug)]
pub(crate) struct RecvBuf {
    guess: usize,
    /// A frame flagged `XFLAG_SWITCH` was refused for its fds: the peer switched all the same,
    /// with these credentials.
    lost_switch: Option<Option<Credentials>>,
}

thread_local! {
    /// Where the part of a frame beyond its guessed size lands: one buffer of a whole frame per
    /// receiving thread, not per channel, so that holding a reference costs no buffer.
    static OVERFLOW: RefCell<Box<[u8]>> = RefCell::new(Box::default());
}

/// Bounds of the payload-size guess: small enough that a mistaken guess wastes little, large
/// enough that typical payloads (up to a page or a few) arrive without a copy.
const GUESS_MIN: usize = 64;
const GUESS_MAX: usize = 16 * 1024;

impl RecvBuf {
    pub(crate) fn new() -> RecvBuf {
        RecvBuf {
            guess: GUESS_MIN,
            lost_switch: None,
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
    send_frame_x(sock, header, payload, fds, nonblocking, 0)
}

/// Sends one frame on `sock`, waiting for room as `wait` says.
fn send_socket(
    sock: BorrowedFd<'_>,
    header: &Header,
    payload: &[u8],
    fds: &[BorrowedFd<'_>],
    wait: Wait,
    xflags: u16,
) -> Result<()> {
    match wait {
        Wait::NonBlocking => send_frame_x(sock, header, payload, fds, true, xflags),
        Wait::Until(None) => send_frame_x(sock, header, payload, fds, false, xflags),
        Wait::Until(Some(d)) => loop {
            match send_frame_x(sock, header, payload, fds, true, xflags) {
                Err(Error::WouldBlock) => wait_for(sock, PollFlags::POLLOUT, Some(d))?,
                other => return other,
            }
        },
    }
}

/// Sends one frame with transport flags on `sock`.
fn send_frame_x(
    sock: BorrowedFd<'_>,
    header: &Header,
    payload: &[u8],
    fds: &[BorrowedFd<'_>],
    nonblocking: bool,
    xflags: u16,
) -> Result<()> {
    check_outgoing(payload.len(), fds.len())?;
    let hdr = header.encode_x(payload.len(), fds.len(), xflags);
    let iov = [IoSlice::new(&hdr), IoSlice::new(payload)];
    sys::send_msg(sock, &iov, fds, None, nonblocking).map_err(|e| Error::io("sendmsg", e))?;
    Ok(())
}

/// Receives and checks one frame from `sock`; transport flags are refused.
pub(crate) fn recv_frame(
    sock: BorrowedFd<'_>,
    buf: &mut RecvBuf,
    nonblocking: bool,
) -> Result<Frame> {
    match recv_frame_x(sock, buf, nonblocking)? {
        (frame, 0) => Ok(frame),
        (_, x) => Err(Error::BadReserved(x)),
    }
}

/// Receives and checks one frame from `sock`, with its transport flags.
fn recv_frame_x(
    sock: BorrowedFd<'_>,
    buf: &mut RecvBuf,
    nonblocking: bool,
) -> Result<(Frame, u16)> {
    OVERFLOW.with_borrow_mut(|overflow| {
        if overflow.is_empty() {
            *overflow = vec![0u8; MAX_PAYLOAD_BYTES].into_boxed_slice();
        }
        recv_frame_into(sock, buf, overflow, nonblocking)
    })
}

fn recv_frame_into(
    sock: BorrowedFd<'_>,
    buf: &mut RecvBuf,
    overflow: &mut [u8],
    nonblocking: bool,
) -> Result<(Frame, u16)> {
    let guess = buf.guess;
    let mut hdr = [0u8; HEADER_LEN];
    let mut payload = vec![0u8; guess];
    let mut iov = [
        IoSliceMut::new(&mut hdr),
        IoSliceMut::new(&mut payload),
        IoSliceMut::new(&mut overflow[..MAX_PAYLOAD_BYTES - guess]),
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
        let whole = got.len >= HEADER_LEN && !got.data_truncated;
        let lost = whole.then(|| Header::peek(&hdr)).flatten();
        if whole && Header::peek_xflags(&hdr) & XFLAG_SWITCH != 0 {
            buf.lost_switch = Some(got.creds);
        }
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
    let (header, xflags) = Header::decode_x(&hdr, payload_len, got.fds.len())?;
    if payload_len <= guess {
        payload.truncate(payload_len);
        if payload_len < guess / 4 {
            payload.shrink_to_fit();
        }
    } else {
        payload.extend_from_slice(&overflow[..payload_len - guess]);
    }
    buf.guess = payload_len.clamp(GUESS_MIN, GUESS_MAX);
    let frame = Frame {
        header,
        payload,
        fds: got.fds,
        creds: got.creds,
    };
    Ok((frame, xflags))
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

/// The send buffer asked for on each end of a channel (`SO_SNDBUF`; the kernel doubles it, and
/// caps the request at `net.core.wmem_max`).
///
/// Frames a receiver has not read yet wait in the sender's buffer, charged by their kernel size
/// (about 768 bytes for a small frame, whatever its length). The default buffer holds some 280
/// small frames: less than a receiver takes in one-way calls before it stops reading a channel,
/// so a burst of small one-way calls could find the socket full whenever the receiver was not
/// scheduled yet. One MiB (2 MiB once doubled) holds about 2,700 small frames, more than a
/// receiver's whole one-way budget of them; where `wmem_max` is the common 208 KiB, about 550.
pub const CHANNEL_SEND_BUFFER: usize = 1024 * 1024;

/// A close-on-exec `SOCK_SEQPACKET` socketpair whose ends send into [`CHANNEL_SEND_BUFFER`].
pub(crate) fn socketpair() -> Result<(OwnedFd, OwnedFd)> {
    let (a, b) = socket::socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|e| Error::io("socketpair", e.into()))?;
    for end in [&a, &b] {
        socket::setsockopt(end, sockopt::SndBuf, &CHANNEL_SEND_BUFFER)
            .map_err(|e| Error::io("setsockopt(SO_SNDBUF)", e.into()))?;
    }
    Ok((a, b))
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
    wait_for(fd, PollFlags::POLLIN, deadline)
}

/// Waits until `fd` is ready for `events` (or hung up), or fails with `TimedOut` at `deadline`.
fn wait_for(fd: BorrowedFd<'_>, events: PollFlags, deadline: Option<Instant>) -> Result<()> {
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
        let mut pfd = [PollFd::new(fd, events)];
        match nix::poll::poll(&mut pfd, timeout) {
            Ok(0) => continue,
            Ok(_) => return Ok(()),
            Err(nix::Error::EINTR) => continue,
            Err(e) => return Err(Error::io("poll", e.into())),
        }
    }
}
