//! Endpoints: a process's membership of a bus, through its connection to the master.

use std::collections::{HashMap, HashSet, VecDeque};
use std::io::IoSlice;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use nix::sys::socket::{self, sockopt, AddressFamily, SockFlag, SockType, UnixAddr};
use nix::sys::time::TimeVal;
use parking_lot::MutexGuard;

use crate::addr::{BusAddr, Target, UniqueId, WellKnownName};
use crate::bloom::Bloom;
use crate::channel::{recv_frame, send_frame, wait_readable, Channel, RecvBuf};
use crate::error::{Error, Result};
use crate::frame::{Frame, FrameKind, Header, HEADER_LEN, MAX_FRAME_BYTES};
use crate::mailroom::{Mailroom, Room};
use crate::master::own_credentials;
use crate::proto::{
    Fields, MasterStatus, MatchRule, NameOutcome, NameOwnerChanged, NoticeKind, Op, PeerInfo,
    PeerStatus, QueueMode, ReleaseOutcome, Signal, Watch,
};
use crate::sys::{self, Credentials};
use crate::wire::{Reader, Writer};

/// Events an endpoint keeps until it reads them; past it the oldest is dropped.
pub const MAX_PENDING_EVENTS: usize = 1024;

/// Something the master told this endpoint without being asked.
#[derive(Debug)]
pub enum Event {
    /// A watched name changed owner.
    NameOwnerChanged(NameOwnerChanged),
    /// A watched peer left the bus (closed its connection or died).
    PeerGone(UniqueId),
    /// A peer joined the bus, with its kernel-verified identity (told to those that watch
    /// everything, [`Watch::All`]).
    PeerJoined(PeerInfo),
    /// Another endpoint opened a channel to this one.
    Incoming {
        /// This end of the new channel.
        channel: Channel,
        /// Who opened it, as the kernel identified them to the master.
        peer: PeerInfo,
        /// The name they asked for, if they connected by name.
        name: Option<WellKnownName>,
    },
    /// A multicast signal matched one of this endpoint's rules.
    Signal(Signal),
}

/// How long an endpoint waits for the master: to take its connection, to answer `Hello`, or
/// to answer a request. The master answers at once or not at all (it is stopped, or wedged),
/// so an endpoint fails with [`Error::TimedOut`] rather than waiting for ever.
pub const MASTER_TIMEOUT: Duration = Duration::from_secs(10);

/// A joined endpoint of a bus.
///
/// All methods take `&self`: one thread may wait for events while others make requests. Whichever
/// thread reads the master connection files what it reads for the others.
///
/// ```
/// use afbus_transport::{AllowAll, BusMaster, BusSocket, NameOutcome, QueueMode, Target};
/// let dir = tempfile::tempdir().unwrap();
/// let master = BusMaster::bind(dir.path().join("bus"), AllowAll).unwrap().spawn().unwrap();
/// let server = BusSocket::connect(master.path()).unwrap();
/// let name = "org.example.Echo".parse().unwrap();
/// assert_eq!(server.request_name(&name, QueueMode::Queue).unwrap(), NameOutcome::PrimaryOwner);
/// let client = BusSocket::connect(master.path()).unwrap();
/// let (channel, peer) = client.connect_to(&Target::Name(name)).unwrap();
/// assert_eq!(peer.id, server.id());
/// # drop(channel);
/// ```
pub struct BusSocket {
    sock: OwnedFd,
    bus: PathBuf,
    info: PeerInfo,
    next_txn: AtomicU64,
    /// Replies and events, filed by whichever thread reads (see [`crate::mailroom`]).
    state: Mailroom<State>,
}

#[derive(Default)]
struct State {
    /// The master hung up.
    gone: bool,
    replies: HashMap<u64, Frame>,
    /// Requests whose waiter gave up: their replies are dropped when they come.
    abandoned: HashSet<u64>,
    events: VecDeque<Event>,
    recv_buf: Option<RecvBuf>,
}

impl BusSocket {
    /// Connects to the bus at `path` and joins it.
    pub fn connect(path: impl AsRef<Path>) -> Result<BusSocket> {
        BusSocket::connect_claiming(path, own_credentials())
    }

    /// Joins while claiming `claimed` in `Hello` (sent both in the body and as
    /// `SCM_CREDENTIALS`). The master ignores the claim and uses the kernel's `SO_PEERCRED`;
    /// this exists to test exactly that. Unprivileged callers can only claim their own identity.
    #[doc(hidden)]
    pub fn connect_claiming(path: impl AsRef<Path>, claimed: Credentials) -> Result<BusSocket> {
        let path = path.as_ref();
        let sock = socket::socket(
            AddressFamily::Unix,
            SockType::SeqPacket,
            SockFlag::SOCK_CLOEXEC,
            None,
        )
        .map_err(|e| Error::io("socket", e.into()))?;
        let addr = UnixAddr::new(path).map_err(|e| Error::io("bus path", e.into()))?;
        // A blocking connect waits for room in the master's listen queue for as long as the
        // send timeout says; sends to a master that reads nothing give up as late.
        let timeout = TimeVal::new(MASTER_TIMEOUT.as_secs() as i64, 0);
        socket::setsockopt(&sock, sockopt::SendTimeout, &timeout)
            .map_err(|e| Error::io("setsockopt(SO_SNDTIMEO)", e.into()))?;
        let deadline = Instant::now() + MASTER_TIMEOUT;
        socket::connect(sock.as_raw_fd(), &addr).map_err(|e| match e {
            nix::errno::Errno::EAGAIN => Error::TimedOut,
            e => Error::Connect {
                path: path.to_owned(),
                source: e.into(),
            },
        })?;
        let mut w = Writer::default();
        w.i32(claimed.pid).u32(claimed.uid).u32(claimed.gid);
        let body = w.finish();
        let header = Header::new(FrameKind::Request).with_code(Op::Hello as u32);
        let hdr = header.encode(body.len(), 0);
        let iov = [IoSlice::new(&hdr), IoSlice::new(&body)];
        match sys::send_msg(sock.as_fd(), &iov, &[], Some(claimed), false) {
            // Only a privileged process may put other credentials in SCM_CREDENTIALS; the claim
            // in the body is enough to show that the master does not believe it.
            Err(e) if e.raw_os_error() == Some(libc::EPERM) => {
                sys::send_msg(sock.as_fd(), &iov, &[], None, false)
            }
            other => other,
        }
        .map_err(|e| Error::io("send hello", e))?;
        let mut recv_buf = RecvBuf::new();
        let reply = loop {
            match recv_frame(sock.as_fd(), &mut recv_buf, true) {
                Err(Error::WouldBlock) => wait_readable(sock.as_fd(), Some(deadline))?,
                other => break other.map_err(gone_if_hung_up)?,
            }
        };
        if reply.header.kind != FrameKind::Reply || reply.header.txn != 0 {
            return Err(Error::Protocol("expected the reply to hello"));
        }
        check_status(Op::Hello, &reply)?;
        let mut r = Reader::new(&reply.payload);
        let info = PeerInfo::decode(&mut r)?;
        let state = State {
            recv_buf: Some(recv_buf),
            ..State::default()
        };
        Ok(BusSocket {
            sock,
            bus: path.to_owned(),
            info,
            next_txn: AtomicU64::new(1),
            state: Mailroom::new(state),
        })
    }

    /// This endpoint's unique address.
    pub fn id(&self) -> UniqueId {
        self.info.id
    }

    /// This endpoint's identity as the master recorded it.
    pub fn info(&self) -> PeerInfo {
        self.info
    }

    /// This endpoint's full address.
    pub fn addr(&self) -> BusAddr {
        BusAddr {
            bus: self.bus.clone(),
            target: Target::Unique(self.info.id),
        }
    }

    /// The bus's socket path.
    pub fn bus_path(&self) -> &Path {
        &self.bus
    }

    /// Asks for ownership of `name`.
    pub fn request_name(&self, name: &WellKnownName, mode: QueueMode) -> Result<NameOutcome> {
        let mut w = Writer::default();
        w.str(name.as_str()).u8(mode.to_wire());
        let reply = self.call(Op::RequestName, w.finish())?;
        NameOutcome::from_wire(one_byte(&reply)?)
    }

    /// Gives up `name` (or leaves its queue).
    pub fn release_name(&self, name: &WellKnownName) -> Result<ReleaseOutcome> {
        let mut w = Writer::default();
        w.str(name.as_str());
        let reply = self.call(Op::ReleaseName, w.finish())?;
        ReleaseOutcome::from_wire(one_byte(&reply)?)
    }

    /// The current primary owner of `name`, if any.
    pub fn name_owner(&self, name: &WellKnownName) -> Result<Option<PeerInfo>> {
        let mut w = Writer::default();
        w.str(name.as_str());
        match self.call(Op::NameOwner, w.finish()) {
            Ok(reply) => Ok(Some(decode_peer(&reply.payload)?)),
            Err(Error::Refused {
                status: MasterStatus::NO_SUCH_PEER,
                ..
            }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every joined endpoint of the bus, with its identity, names and backlog in the master.
    pub fn peers(&self) -> Result<Vec<PeerStatus>> {
        let reply = self.call(Op::Peers, Vec::new())?;
        let mut r = Reader::new(&reply.payload);
        let count = r.u32("peer count")? as usize;
        let mut out = Vec::with_capacity(count.min(4096));
        for _ in 0..count {
            out.push(PeerStatus::decode(&mut r)?);
        }
        r.end("peers")?;
        Ok(out)
    }

    /// Opens a channel to a unique address or a name's owner; the master brokers it and tells
    /// the target who is calling (an [`Event::Incoming`] there).
    pub fn connect_to(&self, target: &Target) -> Result<(Channel, PeerInfo)> {
        let mut w = Writer::default();
        target.encode(&mut w);
        let mut reply = self.call(Op::Connect, w.finish())?;
        let peer = decode_peer(&reply.payload)?;
        match (reply.fds.pop(), reply.fds.is_empty()) {
            (Some(fd), true) => Ok((Channel::from_fd(fd), peer)),
            _ => Err(Error::Protocol("connect reply must carry exactly one fd")),
        }
    }

    /// Subscribes to signals whose fields include all of `rule`'s.
    pub fn add_match(&self, rule: &MatchRule) -> Result<()> {
        rule.check()?;
        self.call(Op::AddMatch, encode_fields(rule)).map(drop)
    }

    /// Removes a subscription added with the same rule.
    pub fn remove_match(&self, rule: &MatchRule) -> Result<()> {
        self.call(Op::RemoveMatch, encode_fields(rule)).map(drop)
    }

    /// Asks to be told about owner changes or departures.
    pub fn watch(&self, watch: &Watch) -> Result<()> {
        let mut w = Writer::default();
        watch.encode(&mut w);
        self.call(Op::Watch, w.finish()).map(drop)
    }

    /// Multicasts a signal addressed by the Bloom filter of its fields; returns how many
    /// receivers it was queued for.
    pub fn send_signal(&self, fields: &Fields, body: &[u8]) -> Result<u32> {
        self.send_signal_to(fields.bloom(), fields, body)
    }

    /// Multicasts to an explicit Bloom address. Receivers whose rule bits are all in `bloom`
    /// and whose rule fields all appear in `fields` get it.
    pub fn send_signal_to(&self, bloom: Bloom, fields: &Fields, body: &[u8]) -> Result<u32> {
        fields.check()?;
        let mut w = Writer::default();
        for c in bloom.0 {
            w.u64(c);
        }
        fields.encode(&mut w);
        w.bytes(body);
        let reply = self.call(Op::Signal, w.finish())?;
        let mut r = Reader::new(&reply.payload);
        r.u32("delivered count")
    }

    /// Waits for the next event; `None` waits for ever.
    pub fn recv_event(&self, timeout: Option<Duration>) -> Result<Event> {
        let deadline = timeout.map(|t| Instant::now() + t);
        self.wait_for(deadline, |st| st.events.pop_front())
    }

    /// The next event if one has arrived.
    pub fn try_recv_event(&self) -> Result<Option<Event>> {
        match self.wait_for(Some(Instant::now()), |st| st.events.pop_front()) {
            Err(Error::TimedOut) => Ok(None),
            other => other.map(Some),
        }
    }

    fn call(&self, op: Op, body: Vec<u8>) -> Result<Frame> {
        let txn = self.next_txn.fetch_add(1, Ordering::Relaxed);
        let header = Header::new(FrameKind::Request)
            .with_code(op as u32)
            .with_txn(txn);
        if body.len() + HEADER_LEN > MAX_FRAME_BYTES {
            return Err(Error::FrameTooLarge {
                len: body.len() + HEADER_LEN,
                max: MAX_FRAME_BYTES,
            });
        }
        send_frame(self.sock.as_fd(), &header, &body, &[], false).map_err(gone_if_hung_up)?;
        let deadline = Instant::now() + MASTER_TIMEOUT;
        let reply = self
            .wait_for(Some(deadline), |st| st.replies.remove(&txn))
            .inspect_err(|_| {
                self.state.lock().abandoned.insert(txn);
            })?;
        check_status(op, &reply)?;
        Ok(reply)
    }

    /// Waits until `take` finds what it wants in the shared state, reading the socket itself when
    /// no other thread is.
    fn wait_for<T>(
        &self,
        deadline: Option<Instant>,
        mut take: impl FnMut(&mut State) -> Option<T>,
    ) -> Result<T> {
        let mut st = self.state.lock();
        loop {
            if let Some(v) = take(&mut st) {
                return Ok(v);
            }
            if st.gone {
                return Err(Error::BusGone);
            }
            if st.is_reading() {
                if self.state.wait(&mut st, deadline) {
                    return take(&mut st).ok_or(Error::TimedOut);
                }
                continue;
            }
            let read = self.read_one(&mut st, deadline);
            self.state.filed();
            match read {
                Ok(()) => {}
                Err(Error::TimedOut) => return take(&mut st).ok_or(Error::TimedOut),
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads one frame (unlocking while blocked) and files it.
    fn read_one(
        &self,
        st: &mut MutexGuard<'_, Room<State>>,
        deadline: Option<Instant>,
    ) -> Result<()> {
        let mut recv_buf = st.recv_buf.take().expect("one reader at a time");
        let got = self.state.read(st, || loop {
            match recv_frame(self.sock.as_fd(), &mut recv_buf, true) {
                Err(Error::WouldBlock) => wait_readable(self.sock.as_fd(), deadline)?,
                other => return other,
            }
        });
        st.recv_buf = Some(recv_buf);
        match got {
            Ok(frame) => {
                file(st, frame);
                Ok(())
            }
            Err(Error::HungUp) => {
                st.gone = true;
                Err(Error::BusGone)
            }
            // A frame the master should never have sent: drop it and go on.
            Err(e) if e.is_frame_error() => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// Puts a frame from the master where its waiter will look.
fn file(st: &mut State, mut frame: Frame) {
    let event = match frame.header.kind {
        FrameKind::Reply => {
            if !st.abandoned.remove(&frame.header.txn) {
                st.replies.insert(frame.header.txn, frame);
            }
            return;
        }
        FrameKind::Signal => Signal::decode(&frame.payload).map(Event::Signal),
        FrameKind::Notice => match frame.header.code {
            c if c == NoticeKind::NameOwnerChanged as u32 => {
                NameOwnerChanged::decode(&frame.payload).map(Event::NameOwnerChanged)
            }
            c if c == NoticeKind::PeerGone as u32 => Reader::new(&frame.payload)
                .u64("gone peer")
                .map(|id| Event::PeerGone(UniqueId(id))),
            c if c == NoticeKind::PeerJoined as u32 => {
                let mut r = Reader::new(&frame.payload);
                PeerInfo::decode(&mut r)
                    .and_then(|info| r.end("joined peer").map(|()| Event::PeerJoined(info)))
            }
            c if c == NoticeKind::Incoming as u32 => {
                match (frame.fds.pop(), frame.fds.is_empty()) {
                    (Some(fd), true) => {
                        decode_incoming(&frame.payload).map(|(peer, name)| Event::Incoming {
                            channel: Channel::from_fd(fd),
                            peer,
                            name,
                        })
                    }
                    _ => Err(Error::Protocol("incoming notice must carry one fd")),
                }
            }
            _ => Err(Error::Protocol("unknown notice")),
        },
        FrameKind::Request | FrameKind::OneWay => {
            Err(Error::Protocol("the master sends no requests"))
        }
    };
    // Events that do not decode come from a broken master; there is no one to answer.
    if let Ok(e) = event {
        if st.events.len() >= MAX_PENDING_EVENTS {
            // The oldest goes (an incoming channel among them is closed: its opener sees the
            // hang-up), so an endpoint that never reads its events holds a bounded number.
            st.events.pop_front();
        }
        st.events.push_back(e);
    }
}

impl AsFd for BusSocket {
    /// The master connection, for polling; readable means an event or reply is waiting.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }
}

impl std::fmt::Debug for BusSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BusSocket")
            .field("bus", &self.bus)
            .field("id", &self.info.id)
            .finish()
    }
}

fn check_status(op: Op, reply: &Frame) -> Result<()> {
    match MasterStatus(reply.header.code) {
        MasterStatus::OK => Ok(()),
        status => Err(Error::Refused {
            op: op.name(),
            status,
            message: String::from_utf8_lossy(&reply.payload).into_owned(),
        }),
    }
}

fn gone_if_hung_up(e: Error) -> Error {
    match e {
        Error::HungUp => Error::BusGone,
        e => e,
    }
}

fn one_byte(reply: &Frame) -> Result<u8> {
    let mut r = Reader::new(&reply.payload);
    let b = r.u8("outcome")?;
    r.end("outcome")?;
    Ok(b)
}

fn decode_peer(payload: &[u8]) -> Result<PeerInfo> {
    let mut r = Reader::new(payload);
    let p = PeerInfo::decode(&mut r)?;
    r.end("peer info")?;
    Ok(p)
}

fn decode_incoming(payload: &[u8]) -> Result<(PeerInfo, Option<WellKnownName>)> {
    let mut r = Reader::new(payload);
    let peer = PeerInfo::decode(&mut r)?;
    let name = r.str(crate::addr::MAX_NAME_LEN, "incoming name")?;
    let name = if name.is_empty() {
        None
    } else {
        Some(WellKnownName::new(name)?)
    };
    r.end("incoming notice")?;
    Ok((peer, name))
}

fn encode_fields(fields: &Fields) -> Vec<u8> {
    let mut w = Writer::default();
    fields.encode(&mut w);
    w.finish()
}
