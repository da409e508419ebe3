//! One end of a reference channel, and the rule for reading it: whichever thread needs
//! something from the channel reads it, and files every frame where it belongs.
//!
//! - A reply goes to the mailbox of the call it answers.
//! - A nested request (the callee calling back into this process while we wait) goes to the
//!   mailbox of the call it is nested in, and that waiting thread runs it.
//! - A fresh request on an owner end is new work: the reader runs it, or queues it for the pool.
//!
//! Owner ends are also watched by the runtime's loopers through epoll (`EPOLLONESHOT`, re-armed
//! whenever a reader lets go), so nobody reads a channel twice at once and nothing waits behind
//! another call's reply.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Weak};
use std::task::Waker;
use std::time::Instant;

use afbus_transport::mailroom::{Mailroom, Room};
use afbus_transport::{Channel, Error as TransportError, Frame, FrameKind, Header};
use parking_lot::MutexGuard;

use crate::call::{
    decode_release, encode_reply, peek_homes, peek_nested_in, peek_target, FLAG_NESTED,
};
use crate::object::{LocalObject, Proxy, TransactionCode};
use crate::senders::Senders;
use crate::status::{Error, Result, Status, StatusCode};

/// A frame as read from a channel, with the objects of ours it names there pinned when it was
/// read, in channel order: a `RELEASE` read after it cannot take them away before it is served.
pub(crate) struct Incoming {
    pub frame: Frame,
    /// The object a call is for: the channel's own, or one given over it (`None`: it names
    /// none of those, which a nested call may still name by a reference's key).
    pub target: Option<Arc<LocalObject>>,
    /// The objects its `HOME` entries name, in order (`None`: not one of ours on this channel).
    pub homes: Vec<Option<Arc<LocalObject>>>,
}

/// Which end of a reference channel this is.
pub(crate) enum End {
    /// We own the object; the peer holds a reference.
    Owner(Arc<LocalObject>),
    /// We hold a reference to a remote object.
    Client(Weak<Proxy>),
}

pub(crate) struct Conn {
    /// Its key in the runtime's table and its epoll token.
    pub token: u64,
    /// The reference's key (see [`crate::intro`]): ours for an owner end, the owner's for a
    /// client end.
    pub key: u64,
    /// The process at the other end: the holder of an owner end, the owner of a client end. An
    /// owner end minted ahead names the broker until a holder claims it (see [`Conn::peer`]).
    peer: AtomicI32,
    /// An owner end minted ahead that no holder has claimed yet: charged to the broker as a
    /// spare, and not counted among the object's references (see `runtime::spares`).
    pub spare: AtomicBool,
    /// `ConnState::releases` holds some (read without the lock by senders, as a hint).
    pub releases_due: AtomicBool,
    /// The channel's registration with a tokio reactor, for calls awaited on it (declared
    /// before `chan`: it is dropped first).
    #[cfg(feature = "tokio")]
    pub poller: parking_lot::Mutex<Option<crate::tokio::Poller>>,
    pub chan: Channel,
    /// For an owner end we made the pair of: the cookie of the holder's end.
    pub holder_end: Option<u64>,
    /// A shared-memory ring was considered for this owner end (once), and whether it got one.
    pub ring_tried: AtomicBool,
    pub ring: AtomicBool,
    pub end: End,
    /// Mailboxes and the channel's reading state, filed by whichever thread reads (see
    /// [`afbus_transport::mailroom`]).
    st: Mailroom<ConnState>,
    /// The runtime's one-way accounting per sending process.
    senders: Arc<Senders>,
}

#[derive(Default)]
pub(crate) struct ConnState {
    pub dead: bool,
    mailboxes: HashMap<u64, Mailbox>,
    /// Bytes of one-way calls read from this channel and not yet run.
    pub oneway_pending: usize,
    /// Whether reading waits for one-way calls already read to run.
    pub paused: Paused,
    /// What the channel's one-shot registration in the runtime's epoll waits for.
    pub armed: Armed,
    /// Frames wait in the channel's ring that no poller will hear of: the last reader reads on
    /// or hands the channel to a looper.
    more: bool,
    /// Objects given over this channel, and the proxies that call through it.
    pub links: Links,
    /// `RELEASE`s not sent yet (count by key): they go before the next frame sent on this
    /// channel, or when the runtime's release timer fires (see `runtime::gives`).
    pub releases: HashMap<u64, u32>,
}

/// What a channel's one-shot registration in the runtime's epoll waits for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Armed {
    /// Nothing: its event fired (or arming it failed) and it was not armed again.
    #[default]
    Spent,
    /// The hang-up only: an end that serves nothing is read by the threads waiting on it.
    HangUp,
    /// What comes (`EPOLLIN`) and the hang-up: an end that serves objects.
    In,
}

/// Whether a channel's reading waits for one-way calls already read from it to run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Paused {
    /// Read as frames come.
    #[default]
    No,
    /// Until this channel's one-way backlog drains below half of
    /// [`MAX_PENDING_ONEWAY_BYTES`].
    Backlog,
    /// Until that, and until this sending process's backlog drains too (see [`Senders`]).
    Sender(i32),
}

/// What a channel carries besides its own object: objects either side gives the other over it
/// (see [`crate::runtime`]'s `gives`), each named on it by a random key.
#[derive(Default)]
pub(crate) struct Links {
    /// Our objects given over this channel, by key, with the gives not yet released.
    pub given: HashMap<u64, (Arc<LocalObject>, u32)>,
    /// The key each given object has here, by its number: giving it again reuses the key.
    pub key_of: HashMap<u64, u64>,
    /// Our proxies that call through this channel: its own object's (a client end), and those
    /// of the objects given to us over it.
    pub proxies: Vec<Weak<Proxy>>,
    /// An owner end whose holder let go of the channel's own object while keeping the channel
    /// for objects given over it.
    pub own_released: bool,
}

impl ConnState {
    /// Whether a task in async code waits for a reply on this channel. It reads whatever
    /// comes when the socket is readable (handing fresh calls on to the loopers), so the
    /// loopers' epoll need not wake for it meanwhile: with both, each reply would wake a
    /// looper too, and often be read by it.
    pub(crate) fn awaited(&self) -> bool {
        self.mailboxes.values().any(|mb| mb.awaited)
    }
}

impl Links {
    /// The object given over this channel under `key`, or the channel's own for key 0.
    pub(crate) fn object(&self, end: &End, key: u64) -> Option<Arc<LocalObject>> {
        match (key, end) {
            (0, End::Owner(obj)) if !self.own_released => Some(obj.clone()),
            (0, _) => None,
            (key, _) => self.given.get(&key).map(|(obj, _)| obj.clone()),
        }
    }

    /// Our object that a `HOME` entry's key names on this channel (`own_key`: the channel's
    /// key, which names its own object on an owner end).
    pub(crate) fn home(&self, end: &End, own_key: u64, key: u64) -> Option<Arc<LocalObject>> {
        match key == own_key {
            true => self.object(end, 0),
            false => None,
        }
        .or_else(|| self.object(end, key))
    }

    /// Whether this end serves calls: an owner end, or any end with objects given over it.
    pub(crate) fn serves(&self, end: &End) -> bool {
        matches!(end, End::Owner(_)) || !self.given.is_empty()
    }
}

#[derive(Default)]
struct Mailbox {
    reply: Option<Incoming>,
    nested: VecDeque<Incoming>,
    /// The reply came but its fds could not be received (out of file descriptors).
    lost: bool,
    /// The task waiting for this reply, for a waiter in async code (see [`Conn::try_reply`]),
    /// and what it waits for.
    waker: Option<(Waker, Awaiting)>,
    /// Its waiter is a task in async code.
    awaited: bool,
}

/// What a task in async code waits for, besides something filed in its own mailbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(not(feature = "tokio"), allow(dead_code))] // tasks wait only with the feature
enum Awaiting {
    /// Another thread reads the channel (or reading is paused): the task reads once it lets go.
    Reader,
    /// The socket to be readable (its reactor wakes it): another reader's finding nothing is
    /// no news to it.
    Readable,
}

impl Mailbox {
    /// Something was filed here: its task, if one waits, is to look.
    fn wake(&mut self) {
        if let Some((waker, _)) = self.waker.take() {
            waker.wake();
        }
    }
}

/// What reading one frame produced that the reader must act on.
pub(crate) enum Read {
    /// Nothing to do: filed for someone else, or a refused frame.
    Nothing,
    /// Nothing there now (a read that would have blocked).
    Empty,
    /// Another thread is reading this channel.
    Busy,
    /// A one-way call was queued for an object whose queue nobody is running: run it.
    Drain(Arc<LocalObject>),
    /// A one-way call was queued behind those a thread is running now.
    Queued,
    /// A fresh request or one-way call for an object served on this end.
    Fresh(Incoming),
    /// The peer let go of `count` gives of the object under `key` (0: the channel's own).
    Release { key: u64, count: u32 },
    /// A reply nobody waits for (its call timed out or was given up, or the peer made it up):
    /// the objects it carries must still be taken and let go, or their owners count them held.
    Orphan(Incoming),
    /// The channel hung up.
    HungUp,
}

impl Read {
    /// What a thread waiting for a reply does with what it read, if anything.
    fn woken(self) -> Option<Woken> {
        match self {
            Read::Nothing | Read::Empty | Read::Busy | Read::Queued => None,
            Read::Fresh(frame) => Some(Woken::Work(Work::Call(frame))),
            Read::Drain(obj) => Some(Woken::Work(Work::Drain(obj))),
            Read::Release { key, count } => Some(Woken::Work(Work::Release { key, count })),
            Read::Orphan(reply) => Some(Woken::Work(Work::Orphan(reply))),
            Read::HungUp => Some(Woken::HungUp),
        }
    }
}

/// Frames the last read left in the ring, which a waiting thread would have read on: before it
/// stops waiting, they go to a looper (the wait after returns the reply or the error).
fn hand_on(st: &mut ConnState) -> Option<Work> {
    std::mem::take(&mut st.more).then_some(Work::Poll)
}

/// Work a reader found that some thread must do.
pub(crate) enum Work {
    /// Serve a fresh call.
    Call(Incoming),
    /// Run an object's queued one-way calls.
    Drain(Arc<LocalObject>),
    /// Read the channel: frames wait in its ring that no poller will hear of.
    Poll,
    /// The peer let go of gives (see [`Read::Release`]).
    Release { key: u64, count: u32 },
    /// Let go of what a reply nobody waits for carries (see [`Read::Orphan`]).
    Orphan(Incoming),
    /// Serve a call nested in one of ours whose waiter cannot (a task in async code).
    #[cfg(feature = "tokio")]
    Nested(Incoming),
}

/// What a waiter in async code found ([`Conn::try_reply`]).
#[cfg(feature = "tokio")]
pub(crate) enum Found {
    /// Something to act on, as [`Conn::wait_reply`] says it.
    Woken(Woken),
    /// Nothing in the channel now: wait until its socket is readable (the ring's doorbell
    /// rings it: the channel was parked for polling).
    Empty,
    /// Another thread reads the channel, or its reading is paused: wait to be woken.
    Elsewhere,
}

/// What woke a thread waiting for its reply ([`Conn::wait_reply`]).
pub(crate) enum Woken {
    /// The reply.
    Reply(Incoming),
    /// A call of the peer's nested in ours: the waiting thread serves it, then waits on.
    Nested(Incoming),
    /// Something the waiting thread read that is not for it: a release it does at once, the
    /// rest goes to the pool.
    Work(Work),
    /// This thread saw the channel hang up: the runtime cleans up, and the next wait fails.
    HungUp,
}

/// Bytes of one-way calls the runtime reads ahead from one channel before it stops reading it;
/// the sender then fills the socket buffer and gets [`StatusCode::WOULD_BLOCK`]. Half of
/// Binder's 1 MiB transaction buffer goes to one-way calls; a quarter of that per channel.
pub const MAX_PENDING_ONEWAY_BYTES: usize = 128 * 1024;

/// How long a reader may block.
#[derive(Clone, Copy)]
pub(crate) enum Wait {
    NonBlocking,
    Until(Option<Instant>),
}

impl Conn {
    pub(crate) fn new(
        token: u64,
        key: u64,
        peer: i32,
        chan: Channel,
        end: End,
        senders: Arc<Senders>,
    ) -> Conn {
        let owner = matches!(end, End::Owner(_));
        Conn {
            token,
            key,
            peer: AtomicI32::new(peer),
            spare: AtomicBool::new(false),
            releases_due: AtomicBool::new(false),
            holder_end: None,
            ring_tried: AtomicBool::new(false),
            ring: AtomicBool::new(false),
            #[cfg(feature = "tokio")]
            poller: parking_lot::Mutex::new(None),
            chan,
            end,
            st: Mailroom::new(ConnState {
                armed: if owner { Armed::In } else { Armed::HangUp },
                ..ConnState::default()
            }),
            senders,
        }
    }

    /// The process at the other end (see the field).
    pub(crate) fn peer(&self) -> i32 {
        self.peer.load(Ordering::Relaxed)
    }

    /// Names the holder of an owner end minted ahead, once it is claimed.
    pub(crate) fn set_peer(&self, pid: i32) {
        self.peer.store(pid, Ordering::Relaxed);
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Room<ConnState>> {
        self.st.lock()
    }

    /// Opens a mailbox for a call about to be sent; `awaited`: by a task in async code (see
    /// [`ConnState::awaited`]).
    pub(crate) fn expect(&self, txn: u64, awaited: bool) -> Result<()> {
        let mut st = self.st.lock();
        if st.dead {
            return Err(Error::new(StatusCode::DEAD_OBJECT, "the channel hung up"));
        }
        let mailbox = Mailbox {
            awaited,
            ..Mailbox::default()
        };
        st.mailboxes.insert(txn, mailbox);
        Ok(())
    }

    /// Closes a mailbox; a reply that arrives later is dropped. Returns the calls nested in
    /// it that its waiter did not serve: someone must answer them.
    pub(crate) fn forget(&self, txn: u64) -> VecDeque<Incoming> {
        let mb = self.st.lock().mailboxes.remove(&txn);
        mb.map(|mb| mb.nested).unwrap_or_default()
    }

    /// Waits for the reply to `txn` or for something the waiting thread must do first, and
    /// says which (see [`Woken`]); the caller does it and waits again. Errors end the wait: the
    /// channel hung up, the deadline passed, or the reply was lost.
    pub(crate) fn wait_reply(
        self: &Arc<Self>,
        txn: u64,
        deadline: Option<Instant>,
        rearm: impl Fn(&Conn, &mut ConnState) -> bool,
    ) -> Result<Woken> {
        let mut st = self.st.lock();
        loop {
            if let Some(found) = Self::look(&mut st, txn) {
                return found;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                if let Some(work) = hand_on(&mut st) {
                    return Ok(Woken::Work(work));
                }
                st.mailboxes.remove(&txn);
                return Err(Error::new(
                    StatusCode::TIMED_OUT,
                    "no reply before the deadline",
                ));
            }
            // A channel paused for its one-way backlog is not read, by a waiter either: the
            // sender's calls stay in the socket until the backlog drains and a looper reads on.
            if !st.is_reading() && st.paused == Paused::No {
                if let Some(woken) = self
                    .read_one(&mut st, Wait::Until(deadline), &rearm)
                    .woken()
                {
                    return Ok(woken);
                }
                continue;
            }
            self.st.wait(&mut st, deadline);
        }
    }

    /// What the mailbox of `txn` holds for its waiter, if anything: the reply (after any frames
    /// the last read left in the ring, which go to a looper), a nested call, or the error that
    /// ends the wait.
    fn look(st: &mut ConnState, txn: u64) -> Option<Result<Woken>> {
        let Some(mb) = st.mailboxes.get_mut(&txn) else {
            return Some(Err(Error::new(
                StatusCode::FAILED_TRANSACTION,
                "no such pending call",
            )));
        };
        if mb.reply.is_some() {
            if let Some(work) = hand_on(st) {
                return Some(Ok(Woken::Work(work)));
            }
            let reply = st.mailboxes.remove(&txn).and_then(|mb| mb.reply)?;
            return Some(Ok(Woken::Reply(reply)));
        }
        if mb.lost {
            if let Some(work) = hand_on(st) {
                return Some(Ok(Woken::Work(work)));
            }
            st.mailboxes.remove(&txn);
            return Some(Err(Error::new(
                StatusCode::FAILED_TRANSACTION,
                "the reply's fds could not be received (out of file descriptors?)",
            )));
        }
        if let Some(nested) = mb.nested.pop_front() {
            return Some(Ok(Woken::Nested(nested)));
        }
        if st.dead {
            st.mailboxes.remove(&txn);
            return Some(Err(Error::new(
                StatusCode::DEAD_OBJECT,
                "the remote process died",
            )));
        }
        None
    }

    #[cfg(feature = "tokio")]
    /// [`wait_reply`](Self::wait_reply) for a waiter in async code, which must not block: reads
    /// what the channel holds now, and says whether to act, to wait for the socket to be
    /// readable, or to wait for `waker` to be woken (another thread reads, and files for it).
    /// `spin`: first spin as a blocked reader would (once per call: not on every wake-up).
    #[cfg(feature = "tokio")]
    pub(crate) fn try_reply(
        self: &Arc<Self>,
        txn: u64,
        waker: &Waker,
        mut spin: bool,
        rearm: impl Fn(&Conn, &mut ConnState) -> bool,
    ) -> Result<Found> {
        let mut st = self.st.lock();
        loop {
            if let Some(found) = Self::look(&mut st, txn) {
                return found.map(Found::Woken);
            }
            let awaiting = match st.is_reading() || st.paused != Paused::No {
                true => Some(Awaiting::Reader),
                false => None,
            };
            // Woken by what is filed for it or, if it waits for a reader, by the reader letting
            // go; never by its own read (it would be polled again at once, and spin).
            if let Some(mb) = st.mailboxes.get_mut(&txn) {
                mb.waker = awaiting.map(|a| (waker.clone(), a));
            }
            if awaiting.is_some() {
                return Ok(Found::Elsewhere);
            }
            // A peer on another CPU is likely to answer within the spin, as a blocked reader's
            // is: cheaper than the doorbell's round through the reactor. (Before the read: a
            // read that finds nothing parks the ring, and the peer would ring anyway.)
            if std::mem::take(&mut spin) {
                MutexGuard::unlocked(&mut st, || self.chan.spin_for_ring());
                continue;
            }
            // A read that finds nothing has parked a ring for polling: the peer rings the
            // socket for what it writes next.
            match self.read_one(&mut st, Wait::NonBlocking, &rearm) {
                Read::Empty => {
                    if let Some(mb) = st.mailboxes.get_mut(&txn) {
                        mb.waker = Some((waker.clone(), Awaiting::Readable));
                    }
                    return Ok(Found::Empty);
                }
                read => {
                    if let Some(woken) = read.woken() {
                        return Ok(Found::Woken(woken));
                    }
                }
            }
        }
    }

    /// Reads one frame as a looper woken by epoll: never blocks, and skips a channel someone
    /// else is reading (that reader re-arms it).
    pub(crate) fn poll_once(
        self: &Arc<Self>,
        rearm: impl Fn(&Conn, &mut ConnState) -> bool,
    ) -> Read {
        let mut st = self.st.lock();
        // Called for an epoll event (or queued work): the one-shot registration is spent.
        st.armed = Armed::Spent;
        if st.is_reading() {
            return Read::Busy;
        }
        if st.dead {
            // Someone saw the hang-up; the runtime's clean-up runs once whoever reports it.
            return Read::HungUp;
        }
        self.read_one(&mut st, Wait::NonBlocking, &rearm)
    }

    /// Reads one frame, waiting for it until `until`: a looper that just answered a call stays
    /// on its channel for the next one (on shared memory, a futex wake instead of epoll).
    pub(crate) fn linger(
        self: &Arc<Self>,
        until: Instant,
        rearm: impl Fn(&Conn, &mut ConnState) -> bool,
    ) -> Read {
        let mut st = self.st.lock();
        if st.is_reading() || st.paused != Paused::No {
            return Read::Busy;
        }
        if st.dead {
            return Read::HungUp;
        }
        self.read_one(&mut st, Wait::Until(Some(until)), &rearm)
    }

    /// Reads one frame with the lock released, then files it with the lock held, so that the
    /// next reader cannot overtake this frame (one-way order depends on it).
    fn read_one(
        self: &Arc<Self>,
        st: &mut MutexGuard<'_, Room<ConnState>>,
        wait: Wait,
        rearm: &impl Fn(&Conn, &mut ConnState) -> bool,
    ) -> Read {
        let got = self.st.read(st, || match wait {
            Wait::NonBlocking => self
                .chan
                .try_recv()
                .and_then(|f| f.ok_or(TransportError::WouldBlock)),
            Wait::Until(deadline) => self.chan.recv_until(deadline),
        });
        let read = match got {
            Ok(frame) => self.file(st, frame),
            // A peer that broke the shared-memory protocol is hung up on.
            Err(TransportError::HungUp | TransportError::Ring(_)) => {
                st.dead = true;
                Read::HungUp
            }
            // A frame whose fds the kernel could not hand us: its call fails instead of waiting.
            Err(TransportError::ControlTruncated {
                lost: Some((kind, txn)),
                ..
            }) => {
                self.lost_fds(st, kind, txn);
                Read::Nothing
            }
            Err(TransportError::WouldBlock) => Read::Empty,
            // A refused frame (its fds are closed), or nothing before the deadline: go on.
            Err(_) => Read::Nothing,
        };
        if !st.dead {
            st.more = rearm(self, st);
        }
        // Frames that came into the ring while this read found it empty (the ring was parked
        // for polling only after they came, so the peer rang no doorbell for them): the read
        // was not empty after all, and its caller reads on instead of waiting for a wake-up
        // that will not come.
        let read = match read {
            Read::Empty if st.more => Read::Nothing,
            read => read,
        };
        self.filed(st);
        read
    }

    fn file(self: &Arc<Self>, st: &mut ConnState, frame: Frame) -> Read {
        let nested = frame.header.flags & FLAG_NESTED != 0;
        // What the frame names on this channel, as of now.
        let pin = |st: &ConnState, frame: Frame, reply: bool| {
            let target = (!reply)
                .then(|| {
                    st.links
                        .object(&self.end, peek_target(&frame.payload).unwrap_or(0))
                })
                .flatten();
            let homes = peek_homes(&frame.payload, reply)
                .into_iter()
                .map(|key| st.links.home(&self.end, self.key, key))
                .collect();
            Incoming {
                frame,
                target,
                homes,
            }
        };
        match frame.header.kind {
            FrameKind::Reply => {
                let txn = frame.header.txn;
                let incoming = pin(st, frame, true);
                match st.mailboxes.get_mut(&txn) {
                    Some(mb) => {
                        mb.reply = Some(incoming);
                        mb.wake();
                        Read::Nothing
                    }
                    None => Read::Orphan(incoming),
                }
            }
            FrameKind::Request if nested => {
                let incoming = pin(st, frame, false);
                let into =
                    peek_nested_in(&incoming.frame.payload).and_then(|t| st.mailboxes.get_mut(&t));
                match into {
                    Some(mb) => {
                        mb.nested.push_back(incoming);
                        mb.wake();
                        Read::Nothing
                    }
                    // The call it was nested in is gone: answer it as a fresh call would be.
                    None => Read::Fresh(incoming),
                }
            }
            FrameKind::OneWay if frame.header.code == TransactionCode::RELEASE.0 => {
                match decode_release(&frame.payload) {
                    Some((key, count)) => Read::Release { key, count },
                    None => Read::Nothing,
                }
            }
            FrameKind::OneWay => {
                let incoming = pin(st, frame, false);
                // The object it is for: the channel's own, or one given over it.
                let Some(obj) = incoming.target.clone() else {
                    return Read::Nothing;
                };
                let bytes = incoming.frame.payload.len();
                st.oneway_pending += bytes;
                if st.oneway_pending >= MAX_PENDING_ONEWAY_BYTES && st.paused == Paused::No {
                    st.paused = Paused::Backlog;
                }
                let (pid, uid) = incoming
                    .frame
                    .creds
                    .map_or((0, u32::MAX), |c| (c.pid, c.uid));
                if self.senders.charge(pid, uid, bytes, self) {
                    st.paused = Paused::Sender(pid);
                }
                let mut q = obj.oneway.lock();
                q.calls.push_back((self.clone(), incoming));
                if q.running {
                    Read::Queued
                } else {
                    q.running = true;
                    Read::Drain(obj.clone())
                }
            }
            // A request for an object served here (run() finds it, or refuses the call).
            FrameKind::Request if st.links.serves(&self.end) => Read::Fresh(pin(st, frame, false)),
            // Requests on an end that serves nothing, notices, signals: not ours to serve.
            _ => Read::Nothing,
        }
    }

    /// A frame of `kind` and `txn` lost its fds: fail the call waiting for it, or answer it.
    fn lost_fds(&self, st: &mut ConnState, kind: FrameKind, txn: u64) {
        match kind {
            FrameKind::Reply => {
                if let Some(mb) = st.mailboxes.get_mut(&txn) {
                    mb.lost = true;
                    mb.wake();
                }
            }
            FrameKind::Request => {
                let failed = Status::from_raw_parts(
                    crate::status::ExceptionCode::TRANSACTION_FAILED.0,
                    StatusCode::FAILED_TRANSACTION.0,
                    "the callee could not receive the call's fds".into(),
                );
                let payload = encode_reply(Vec::new(), 0, &[], Some(&failed));
                let _ =
                    self.chan
                        .try_send(&Header::new(FrameKind::Reply).with_txn(txn), &payload, &[]);
            }
            _ => {}
        }
    }

    /// True (once) if the last reader left frames waiting in the channel's ring.
    pub(crate) fn take_more(&self) -> bool {
        std::mem::take(&mut self.st.lock().more)
    }

    /// Accounts for a one-way call of `bytes` from `pid` that has run; returns the channels
    /// whose reading should resume (this one, or every one paused for that sender).
    pub(crate) fn oneway_done(self: &Arc<Self>, bytes: usize, pid: i32) -> Vec<Arc<Conn>> {
        {
            let mut st = self.st.lock();
            st.oneway_pending = st.oneway_pending.saturating_sub(bytes);
        }
        let mut resume = self.senders.refund(pid, bytes);
        if !resume.iter().any(|c| Arc::ptr_eq(c, self)) {
            resume.push(self.clone());
        }
        resume.retain(|c| c.try_resume());
        resume
    }

    /// Unpauses reading if neither this channel's backlog nor its sender's holds it; true if
    /// it was paused and should be re-armed now.
    fn try_resume(self: &Arc<Self>) -> bool {
        let mut st = self.st.lock();
        if st.paused == Paused::No || st.oneway_pending >= MAX_PENDING_ONEWAY_BYTES / 2 {
            return false;
        }
        // Still held for its sender: be on the list its next resumption goes through (an
        // earlier one may have taken this channel off it while its own backlog held it).
        if let Paused::Sender(pid) = st.paused {
            if self.senders.hold(pid, self) {
                return false;
            }
        }
        st.paused = Paused::No;
        self.filed(&mut st);
        !st.dead && !st.is_reading()
    }

    /// Wakes the waiters that must look again: every blocked thread (something was filed, the
    /// reader let go, or the channel's state changed), and the tasks waiting for a reader to
    /// let go (a task is woken for what is filed in its own mailbox as it is filed).
    fn filed(&self, st: &mut ConnState) {
        self.st.filed();
        for mb in st.mailboxes.values_mut() {
            if matches!(mb.waker, Some((_, Awaiting::Reader))) {
                mb.wake();
            }
        }
    }

    /// Marks the channel dead (once) and wakes every waiter; true if this call did it.
    pub(crate) fn mark_dead(&self) -> bool {
        let mut st = self.st.lock();
        let first = !st.dead;
        st.dead = true;
        self.filed(&mut st);
        st.mailboxes.values_mut().for_each(Mailbox::wake);
        // A reader asleep on the channel's ring hears of it from us, not from the futex.
        self.chan.kick();
        first
    }
}
