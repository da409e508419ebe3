//! The bus master engine: owns the bus socket, admits endpoints, arbitrates names, brokers
//! channels and fans out multicast. One thread, one epoll loop; it never blocks on a peer.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;
use std::{fs, io};

use nix::errno::Errno;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use nix::sys::eventfd::{EfdFlags, EventFd};
use nix::sys::socket::{self, AddressFamily, Backlog, SockFlag, SockType, UnixAddr};

use crate::addr::{Target, UniqueId, WellKnownName};
use crate::bloom::Bloom;
use crate::channel::{peer_credentials, recv_frame, send_frame, socketpair, RecvBuf};
use crate::error::{Error, Result};
use crate::frame::{Frame, FrameKind, Header, MAX_FRAME_BYTES};
use crate::identity::Identity;
use crate::policy::{Policy, Verdict};
use crate::proto::{
    decode_bloom, decode_name, Fields, MasterStatus, NameOutcome, NameOwnerChanged, NoticeKind, Op,
    PeerInfo, PeerStatus, QueueMode, ReleaseOutcome, Signal, Watch, SIGNAL_LOST_OFFSET,
};
use crate::sys::Credentials;
use crate::wire::{Reader, Writer};

mod admission;

use admission::{Admission, Refused};
pub use admission::{
    ACCEPT_BACKOFF, HELLO_TIMEOUT, MAX_INCOMPLETE_CONNECTIONS, MAX_INCOMPLETE_PER_UID,
};

/// Names one peer may own or wait for at once.
pub const MAX_NAMES_PER_PEER: usize = 256;
/// Match rules one peer may hold.
pub const MAX_MATCHES_PER_PEER: usize = 256;
/// Watches one peer may hold.
pub const MAX_WATCHES_PER_PEER: usize = 256;
/// Signals the master keeps for a receiver whose socket buffer is full; past this the oldest is
/// dropped and counted, so a slow receiver never stalls a sender or the bus.
pub const SIGNAL_QUEUE_LEN: usize = 64;
/// Replies and notices the master keeps for a peer whose socket buffer is full. These cannot be
/// dropped, so a peer that lets this many pile up is disconnected instead.
pub const MAX_QUEUED_FRAMES: usize = 4096;
/// Bytes of replies, notices and signals the master keeps for one peer whose socket is full
/// (dbus-broker's default per-user byte quota is 16 MiB; a quarter per connection). Past it,
/// signals are dropped oldest first; a peer whose replies and notices alone exceed it is
/// disconnected.
pub const MAX_QUEUED_BYTES_PER_PEER: usize = 4 * 1024 * 1024;
/// Bytes of replies, notices and signals the master keeps for all the peers of one uid that do
/// not read (dbus-broker's default per-user byte quota): without it a uid's many connections
/// could each hold [`MAX_QUEUED_BYTES_PER_PEER`]. Past it that uid's signals are dropped oldest
/// first, and a peer whose control frames do not fit is disconnected.
pub const MAX_QUEUED_BYTES_PER_UID: usize = 16 * 1024 * 1024;
/// Fds the master keeps for one peer that does not read (channels brokered to it): far below
/// any RLIMIT_NOFILE, so that a peer cannot exhaust the master's fd table. Past it the peer is
/// disconnected.
pub const MAX_QUEUED_FDS_PER_PEER: usize = 64;
/// Connections one uid may hold on a bus unless the policy says otherwise.
pub const MAX_CONNECTIONS_PER_UID: usize = 256;
/// Connections the master holds at once, over all uids (dbus-daemon's
/// `max_completed_connections` on the system bus is 2048). Well under the fd limit the daemon
/// runs with, so that brokering channels and activation always have fds to spare.
pub const MAX_CONNECTIONS: usize = 4096;
/// Connections accepted per wake-up, so that a flood of connects cannot starve the peers.
const ACCEPT_BATCH: usize = 64;
/// Frames read from one peer per wake-up, so one busy peer cannot starve the others.
const RECV_BATCH: usize = 32;

const LISTENER: u64 = u64::MAX;
const WAKER: u64 = u64::MAX - 1;

/// Stops a running [`BusMaster`] from another thread.
#[derive(Clone, Debug)]
pub struct Stopper(Arc<EventFd>);

impl Stopper {
    /// Asks the master's loop to return.
    pub fn stop(&self) {
        // A counter overflow (after 2^64 - 2 stops) is the only failure and changes nothing.
        let _ = self.0.write(1);
    }
}

/// The bus master of one bus.
///
/// ```
/// use afbus_transport::{AllowAll, BusMaster, BusSocket};
/// let dir = tempfile::tempdir().unwrap();
/// let master = BusMaster::bind(dir.path().join("bus"), AllowAll).unwrap().spawn().unwrap();
/// let a = BusSocket::connect(master.path()).unwrap();
/// let b = BusSocket::connect(master.path()).unwrap();
/// assert_ne!(a.id(), b.id());
/// ```
pub struct BusMaster {
    path: PathBuf,
    listener: OwnedFd,
    epoll: Epoll,
    waker: Arc<EventFd>,
    policy: Box<dyn Policy>,
    peers: HashMap<u64, Peer>,
    names: BTreeMap<WellKnownName, NameEntry>,
    next_id: u64,
    doomed: Vec<u64>,
    recv_buf: RecvBuf,
    /// An fd held in reserve: out of fds, the master frees it to accept and refuse a client,
    /// so that the client hears no instead of waiting.
    reserve: Option<OwnedFd>,
    admission: Admission,
    /// Bytes queued for the peers of each uid (the uid they connected with).
    queued_by_uid: HashMap<u32, usize>,
}

struct NameEntry {
    owner: u64,
    queue: VecDeque<u64>,
}

struct Peer {
    /// Its identity as of its last request.
    info: PeerInfo,
    /// The process that connected, as `SO_PEERCRED` named it when it was accepted.
    connected: Credentials,
    /// That process's pidfd, which says its current uid and gid (see [`crate::identity`]).
    identity: Identity,
    sock: OwnedFd,
    joined: bool,
    /// Names this peer owns or waits for.
    names: BTreeSet<WellKnownName>,
    matches: Vec<(Bloom, Fields)>,
    watches: Vec<Watch>,
    out: VecDeque<Outgoing>,
    signals: VecDeque<Outgoing>,
    /// Payload bytes in `out` and `signals`.
    queued_bytes: usize,
    lost: u64,
    want_writable: bool,
}

struct Outgoing {
    header: Header,
    payload: Vec<u8>,
    fds: Vec<OwnedFd>,
}

/// A refused request: status and explanation.
struct Refusal(MasterStatus, String);

type Handled = std::result::Result<(Vec<u8>, Vec<OwnedFd>), Refusal>;

fn refuse<T>(status: MasterStatus, message: impl Into<String>) -> std::result::Result<T, Refusal> {
    Err(Refusal(status, message.into()))
}

impl From<Error> for Refusal {
    fn from(e: Error) -> Self {
        Refusal(MasterStatus::MALFORMED, e.to_string())
    }
}

impl BusMaster {
    /// Creates the bus socket at `path`.
    ///
    /// A stale socket file (nobody listening) is replaced; a live bus is never taken over
    /// ([`Error::BusInUse`]).
    pub fn bind(path: impl AsRef<Path>, policy: impl Policy + 'static) -> Result<BusMaster> {
        let path = path.as_ref().to_owned();
        let listener = socket::socket(
            AddressFamily::Unix,
            SockType::SeqPacket,
            SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
            None,
        )
        .map_err(|e| Error::io("socket", e.into()))?;
        let addr = UnixAddr::new(&path).map_err(|e| Error::io("bus path", e.into()))?;
        match socket::bind(listener.as_raw_fd(), &addr) {
            Err(Errno::EADDRINUSE) => {
                if is_live(&addr) {
                    return Err(Error::BusInUse(path));
                }
                fs::remove_file(&path).map_err(|e| Error::io("remove stale bus socket", e))?;
                socket::bind(listener.as_raw_fd(), &addr)
                    .map_err(|e| Error::io("bind", e.into()))?;
            }
            other => other.map_err(|e| Error::io("bind", e.into()))?,
        }
        // Anyone may connect; the policy decides what they may do.
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o666))
            .map_err(|e| Error::io("chmod bus socket", e))?;
        socket::listen(&listener, Backlog::MAXCONN).map_err(|e| Error::io("listen", e.into()))?;
        let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?;
        let waker = EventFd::from_flags(EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)?;
        epoll.add(&listener, EpollEvent::new(EpollFlags::EPOLLIN, LISTENER))?;
        epoll.add(&waker, EpollEvent::new(EpollFlags::EPOLLIN, WAKER))?;
        Ok(BusMaster {
            path,
            listener,
            epoll,
            waker: Arc::new(waker),
            policy: Box::new(policy),
            peers: HashMap::new(),
            names: BTreeMap::new(),
            next_id: 1,
            doomed: Vec::new(),
            recv_buf: RecvBuf::new(),
            reserve: reserve_fd(),
            admission: Admission::default(),
            queued_by_uid: HashMap::new(),
        })
    }

    /// The bus socket's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A handle that stops [`run`](Self::run) from another thread.
    pub fn stopper(&self) -> Stopper {
        Stopper(self.waker.clone())
    }

    /// Runs the master on a new thread; dropping the handle stops it and removes the socket.
    pub fn spawn(mut self) -> Result<MasterHandle> {
        let stopper = self.stopper();
        let path = self.path.clone();
        let thread = std::thread::Builder::new()
            .name("afbus-master".into())
            .spawn(move || self.run())
            .map_err(|e| Error::io("spawn master thread", e))?;
        Ok(MasterHandle {
            stopper,
            path,
            thread: Some(thread),
        })
    }

    /// Serves the bus until stopped.
    pub fn run(&mut self) -> Result<()> {
        let mut events = vec![EpollEvent::empty(); 64];
        loop {
            let timeout = match self.admission.next_wakeup() {
                None => EpollTimeout::NONE,
                Some(at) => {
                    // Rounded up, so that a wake-up never comes before what it is for.
                    let left = at.saturating_duration_since(Instant::now());
                    let ms = left.as_millis().saturating_add(1).min(60_000) as u16;
                    EpollTimeout::from(ms)
                }
            };
            let n = match self.epoll.wait(&mut events, timeout) {
                Err(Errno::EINTR) => continue,
                other => other?,
            };
            for ev in &events[..n] {
                match ev.data() {
                    LISTENER => self.accept_all(),
                    WAKER => return Ok(()),
                    id => self.service(id, ev.events()),
                }
            }
            self.tick(Instant::now());
            self.reap();
        }
    }

    /// What is due by the clock: unjoined connections past [`HELLO_TIMEOUT`] are closed, and
    /// the listener is watched again after a pause.
    fn tick(&mut self, now: Instant) {
        for id in self.admission.overdue(now) {
            if self.peers.get(&id).is_some_and(|p| !p.joined) {
                self.doomed.push(id);
            }
        }
        if self.admission.resume(now) {
            let mut ev = EpollEvent::new(EpollFlags::EPOLLIN, LISTENER);
            let _ = self.epoll.modify(&self.listener, &mut ev);
        }
    }

    /// Accepts waiting connections, at most [`ACCEPT_BATCH`] at a time. Out of fds, it refuses
    /// one client with the reserve fd and stops accepting for [`ACCEPT_BACKOFF`]: `accept`
    /// fails with `EMFILE` before it looks at the queue, so retrying at once would spin.
    fn accept_all(&mut self) {
        for _ in 0..ACCEPT_BATCH {
            match socket::accept4(
                &self.listener,
                SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
            ) {
                Ok(sock) => self.admit(sock),
                Err(Errno::EAGAIN) => return,
                // The client gave up before we accepted.
                Err(Errno::ECONNABORTED | Errno::EINTR) => continue,
                Err(e) => {
                    if matches!(e, Errno::EMFILE | Errno::ENFILE) {
                        if let Some(reserve) = self.reserve.take() {
                            drop(reserve);
                            // The client is refused: it sees its connection close.
                            drop(socket::accept4(&self.listener, SockFlag::SOCK_CLOEXEC));
                            self.reserve = reserve_fd();
                        }
                    }
                    tracing::warn!("bus master cannot accept ({e}): pausing new connections");
                    self.pause_accepting();
                    return;
                }
            }
        }
    }

    fn pause_accepting(&mut self) {
        self.admission.pause(Instant::now());
        let mut ev = EpollEvent::new(EpollFlags::empty(), LISTENER);
        let _ = self.epoll.modify(&self.listener, &mut ev);
    }

    /// Takes in a new connection, or closes it: past [`MAX_CONNECTIONS`], or the bounds on
    /// unjoined connections, or when the policy refuses the uid.
    fn admit(&mut self, sock: OwnedFd) {
        let Ok(creds) = peer_credentials(sock.as_fd()) else {
            return;
        };
        if self.peers.len() >= MAX_CONNECTIONS || self.policy.join(&creds) == Verdict::Deny {
            return;
        }
        let id = self.next_id;
        if let Err(why) = self.admission.admit(creds.uid, id, Instant::now()) {
            match why {
                Refused::IncompleteForUid => tracing::debug!(
                    uid = creds.uid,
                    "refused a connection: uid holds {MAX_INCOMPLETE_PER_UID} unjoined ones"
                ),
                Refused::Incomplete => tracing::warn!(
                    uid = creds.uid,
                    "refused a connection: {MAX_INCOMPLETE_CONNECTIONS} are unjoined"
                ),
            }
            return;
        }
        self.next_id += 1;
        if self
            .epoll
            .add(&sock, EpollEvent::new(EpollFlags::EPOLLIN, id))
            .is_err()
        {
            self.admission.settled(creds.uid);
            return;
        }
        // Pins the connecting process at once (its pidfd), for its current identity later.
        let identity = Identity::default();
        identity.current(creds);
        let info = PeerInfo {
            id: UniqueId(id),
            creds,
        };
        self.peers.insert(
            id,
            Peer {
                info,
                connected: creds,
                identity,
                sock,
                joined: false,
                names: BTreeSet::new(),
                matches: Vec::new(),
                watches: Vec::new(),
                out: VecDeque::new(),
                signals: VecDeque::new(),
                queued_bytes: 0,
                lost: 0,
                want_writable: false,
            },
        );
    }

    fn service(&mut self, id: u64, events: EpollFlags) {
        if events.contains(EpollFlags::EPOLLOUT) {
            self.flush(id);
        }
        if events.intersects(EpollFlags::EPOLLIN | EpollFlags::EPOLLHUP | EpollFlags::EPOLLERR) {
            for _ in 0..RECV_BATCH {
                let Some(peer) = self.peers.get(&id) else {
                    return;
                };
                match recv_frame(peer.sock.as_fd(), &mut self.recv_buf, true) {
                    Ok(frame) => self.handle(id, frame),
                    Err(Error::WouldBlock) => break,
                    // A refused frame is dropped; the peer's other traffic goes on.
                    Err(e) if e.is_frame_error() => continue,
                    Err(_) => {
                        self.doomed.push(id);
                        break;
                    }
                }
            }
        }
    }

    fn handle(&mut self, id: u64, frame: Frame) {
        if frame.header.kind != FrameKind::Request {
            return;
        }
        // Who asks, as of now: a process that dropped privileges since it connected is judged
        // by its new uid (SO_PEERCRED still names the old one).
        if let Some(peer) = self.peers.get_mut(&id) {
            peer.info.creds = peer.identity.current(peer.connected);
        }
        let op = Op::from_wire(frame.header.code);
        let result = match op {
            None => refuse(
                MasterStatus::UNKNOWN_OP,
                format!("op {}", frame.header.code),
            ),
            Some(op) => self.dispatch(id, op, &frame.payload),
        };
        let reply = Header::new(FrameKind::Reply).with_txn(frame.header.txn);
        // A connection refused at Hello is closed once told why.
        if result.is_err() && op == Some(Op::Hello) && !self.peers[&id].joined {
            self.doomed.push(id);
        }
        let out = match result {
            Ok((payload, fds)) => Outgoing {
                header: reply,
                payload,
                fds,
            },
            Err(Refusal(status, message)) => Outgoing {
                header: reply.with_code(status.0),
                payload: message.into_bytes(),
                fds: Vec::new(),
            },
        };
        self.push(id, out);
    }

    fn dispatch(&mut self, id: u64, op: Op, body: &[u8]) -> Handled {
        let joined = self.peers[&id].joined;
        if joined == (op == Op::Hello) {
            let why = if joined {
                "already joined"
            } else {
                "say hello first"
            };
            return refuse(MasterStatus::NOT_JOINED, why);
        }
        let mut r = Reader::new(body);
        let out = match op {
            Op::Hello => self.hello(id, &mut r),
            Op::RequestName => {
                let name = decode_name(&mut r)?;
                let mode = QueueMode::from_wire(r.u8("queue mode")?)?;
                r.end("request-name")?;
                self.request_name(id, name, mode)
            }
            Op::ReleaseName => {
                let name = decode_name(&mut r)?;
                r.end("release-name")?;
                Ok(self.release_name(id, &name))
            }
            Op::Connect => {
                let target = Target::decode(&mut r)?;
                r.end("connect")?;
                return self.connect(id, target);
            }
            Op::AddMatch | Op::RemoveMatch => {
                let rule = Fields::decode(&mut r)?;
                r.end("match rule")?;
                self.change_match(id, op, rule)
            }
            Op::Watch => {
                let watch = Watch::decode(&mut r)?;
                r.end("watch")?;
                self.watch(id, watch)
            }
            Op::Signal => self.signal(id, &mut r),
            Op::NameOwner => {
                let name = decode_name(&mut r)?;
                r.end("name-owner")?;
                self.name_owner(id, &name)
            }
            Op::Peers => {
                r.end("peers")?;
                Ok(self.peers_status(id))
            }
        }?;
        Ok((out, Vec::new()))
    }

    fn hello(&mut self, id: u64, r: &mut Reader<'_>) -> std::result::Result<Vec<u8>, Refusal> {
        // The body holds what the peer claims to be; only the kernel's word counts (SO_PEERCRED's
        // process, with its current uid and gid).
        let _claimed = (
            r.i32("claimed pid")?,
            r.u32("claimed uid")?,
            r.u32("claimed gid")?,
        );
        let creds = self.peers[&id].info.creds;
        let quota = self.policy.connection_quota(&creds);
        let held = self
            .peers
            .values()
            .filter(|p| p.joined && p.info.creds.uid == creds.uid)
            .count();
        if held >= quota {
            return refuse(
                MasterStatus::LIMIT,
                format!("uid {} holds {held} connections, its quota", creds.uid),
            );
        }
        let peer = self.peers.get_mut(&id).expect("live peer");
        peer.joined = true;
        self.admission.settled(peer.connected.uid);
        let info = peer.info;
        self.notify_peer_joined(info);
        let mut w = Writer::default();
        info.encode(&mut w);
        Ok(w.finish())
    }

    fn request_name(
        &mut self,
        id: u64,
        name: WellKnownName,
        mode: QueueMode,
    ) -> std::result::Result<Vec<u8>, Refusal> {
        let peer = &self.peers[&id];
        if self.policy.own(&peer.info, &name) == Verdict::Deny {
            return refuse(
                MasterStatus::DENIED,
                format!("{} may not own {name}", peer.info.id),
            );
        }
        let outcome = match self.names.get_mut(&name) {
            Some(e) if e.owner == id => NameOutcome::AlreadyOwner,
            Some(e) if e.queue.contains(&id) => NameOutcome::Queued,
            Some(_) if mode == QueueMode::DoNotQueue => NameOutcome::Exists,
            Some(_) | None if peer.names.len() >= MAX_NAMES_PER_PEER => {
                return refuse(MasterStatus::LIMIT, "MAX_NAMES_PER_PEER reached");
            }
            Some(e) => {
                e.queue.push_back(id);
                NameOutcome::Queued
            }
            None => {
                self.names.insert(
                    name.clone(),
                    NameEntry {
                        owner: id,
                        queue: VecDeque::new(),
                    },
                );
                self.notify_owner_change(NameOwnerChanged {
                    name: name.clone(),
                    old: None,
                    new: Some(UniqueId(id)),
                });
                NameOutcome::PrimaryOwner
            }
        };
        // A name it neither owns nor waits for does not count against the peer.
        if outcome != NameOutcome::Exists {
            if let Some(peer) = self.peers.get_mut(&id) {
                peer.names.insert(name);
            }
        }
        Ok(vec![outcome.to_wire()])
    }

    fn release_name(&mut self, id: u64, name: &WellKnownName) -> Vec<u8> {
        let outcome = match self.names.get_mut(name) {
            None => ReleaseOutcome::NonExistent,
            Some(e) if e.owner == id => {
                self.pass_on(name);
                ReleaseOutcome::Released
            }
            Some(e) if e.queue.contains(&id) => {
                e.queue.retain(|&q| q != id);
                ReleaseOutcome::Released
            }
            Some(_) => ReleaseOutcome::NotOwner,
        };
        if outcome == ReleaseOutcome::Released {
            if let Some(peer) = self.peers.get_mut(&id) {
                peer.names.remove(name);
            }
        }
        vec![outcome.to_wire()]
    }

    /// Gives `name` to the next in its queue (or frees it) and tells the watchers.
    fn pass_on(&mut self, name: &WellKnownName) {
        let Some(entry) = self.names.get_mut(name) else {
            return;
        };
        let old = entry.owner;
        let new = entry.queue.pop_front();
        match new {
            Some(next) => entry.owner = next,
            None => {
                self.names.remove(name);
            }
        }
        self.notify_owner_change(NameOwnerChanged {
            name: name.clone(),
            old: Some(UniqueId(old)),
            new: new.map(UniqueId),
        });
    }

    fn connect(&mut self, id: u64, target: Target) -> Handled {
        let (target_id, via) = match &target {
            Target::Unique(u) => (u.0, None),
            Target::Name(n) => match self.names.get(n) {
                Some(e) if self.may_find(id, n) => (e.owner, Some(n)),
                _ => return refuse(MasterStatus::NO_SUCH_PEER, format!("no owner for {n}")),
            },
            Target::Master | Target::Multicast(_) => {
                return refuse(
                    MasterStatus::MALFORMED,
                    "connect needs a unique address or a name",
                )
            }
        };
        let from = self.peers[&id].info;
        let to = match self.peers.get(&target_id) {
            Some(p) if p.joined => p.info,
            _ => {
                return refuse(
                    MasterStatus::NO_SUCH_PEER,
                    format!("no peer {}", UniqueId(target_id)),
                )
            }
        };
        if self.policy.connect(&from, &to, via) == Verdict::Deny {
            return refuse(
                MasterStatus::DENIED,
                format!("{} may not connect to {}", from.id, to.id),
            );
        }
        let (mine, theirs) =
            socketpair().map_err(|e| Refusal(MasterStatus::LIMIT, e.to_string()))?;
        let mut w = Writer::default();
        from.encode(&mut w);
        w.str(via.map_or("", |n| n.as_str()));
        let notice = Header::new(FrameKind::Notice).with_code(NoticeKind::Incoming as u32);
        self.push(
            target_id,
            Outgoing {
                header: notice,
                payload: w.finish(),
                fds: vec![theirs],
            },
        );
        let mut w = Writer::default();
        to.encode(&mut w);
        Ok((w.finish(), vec![mine]))
    }

    fn change_match(
        &mut self,
        id: u64,
        op: Op,
        rule: Fields,
    ) -> std::result::Result<Vec<u8>, Refusal> {
        rule.check()?;
        let peer = self.peers.get_mut(&id).expect("live peer");
        if op == Op::RemoveMatch {
            let at = peer.matches.iter().position(|(_, r)| *r == rule);
            let Some(at) = at else {
                return refuse(MasterStatus::NOT_FOUND, "no such match rule");
            };
            peer.matches.remove(at);
            return Ok(Vec::new());
        }
        if peer.matches.len() >= MAX_MATCHES_PER_PEER {
            return refuse(MasterStatus::LIMIT, "MAX_MATCHES_PER_PEER reached");
        }
        if self.policy.multicast_subscribe(&peer.info, &rule) == Verdict::Deny {
            return refuse(MasterStatus::DENIED, "may not subscribe with this rule");
        }
        peer.matches.push((rule.bloom(), rule));
        Ok(Vec::new())
    }

    fn watch(&mut self, id: u64, watch: Watch) -> std::result::Result<Vec<u8>, Refusal> {
        match &watch {
            Watch::Peer(p) if !self.peers.get(&p.0).is_some_and(|p| p.joined) => {
                return refuse(MasterStatus::NO_SUCH_PEER, format!("no peer {p}"));
            }
            Watch::Name(n) if !self.may_find(id, n) => {
                return refuse(MasterStatus::DENIED, format!("may not watch {n}"));
            }
            _ => {}
        }
        let peer = self.peers.get_mut(&id).expect("live peer");
        if peer.watches.len() >= MAX_WATCHES_PER_PEER {
            return refuse(MasterStatus::LIMIT, "MAX_WATCHES_PER_PEER reached");
        }
        peer.watches.push(watch);
        Ok(Vec::new())
    }

    fn signal(&mut self, id: u64, r: &mut Reader<'_>) -> std::result::Result<Vec<u8>, Refusal> {
        let bloom = decode_bloom(r)?;
        let fields = Fields::decode(r)?;
        let body = r.bytes(MAX_FRAME_BYTES, "signal body")?;
        r.end("signal")?;
        let sender = self.peers[&id].info;
        if self.policy.multicast_send(&sender, &fields) == Verdict::Deny {
            return refuse(MasterStatus::DENIED, "may not send this signal");
        }
        let payload = Signal::encode(sender.id, &fields, body);
        let receivers: Vec<u64> = self
            .peers
            .values()
            .filter(|p| p.joined)
            .filter(|p| {
                p.matches
                    .iter()
                    .any(|(rb, rule)| bloom.contains(rb) && rule.matched_by(&fields))
            })
            .filter(|p| self.policy.multicast_receive(&p.info, &sender, &fields) == Verdict::Allow)
            .map(|p| p.info.id.0)
            .collect();
        for &to in &receivers {
            self.push_signal(to, payload.clone());
        }
        Ok((receivers.len() as u32).to_le_bytes().to_vec())
    }

    /// True if peer `id` may learn of `name` (a name it may not find looks absent).
    fn may_find(&self, id: u64, name: &WellKnownName) -> bool {
        self.peers
            .get(&id)
            .is_some_and(|p| self.policy.find(&p.info, name) == Verdict::Allow)
    }

    fn name_owner(&self, id: u64, name: &WellKnownName) -> std::result::Result<Vec<u8>, Refusal> {
        let entry = self.names.get(name).filter(|_| self.may_find(id, name));
        let Some(entry) = entry else {
            return refuse(MasterStatus::NO_SUCH_PEER, format!("no owner for {name}"));
        };
        let mut w = Writer::default();
        self.peers[&entry.owner].info.encode(&mut w);
        Ok(w.finish())
    }

    fn peers_status(&self, asker: u64) -> Vec<u8> {
        let mut ids: Vec<&u64> = self.peers.keys().collect();
        ids.sort();
        let mut w = Writer::default();
        let joined: Vec<&Peer> = ids
            .iter()
            .map(|id| &self.peers[id])
            .filter(|p| p.joined)
            .collect();
        w.u32(joined.len() as u32);
        for p in joined {
            let names = p
                .names
                .iter()
                .filter(|n| self.names.get(*n).is_some_and(|e| e.owner == p.info.id.0))
                .filter(|n| self.may_find(asker, n));
            PeerStatus {
                info: p.info,
                names: names.cloned().collect(),
                queued_frames: (p.out.len() + p.signals.len()) as u32,
                queued_bytes: p.queued_bytes as u64,
            }
            .encode(&mut w);
        }
        w.finish()
    }

    /// Tells the peers that watch everything that `info` joined (what `Op::Peers` tells anyone).
    fn notify_peer_joined(&mut self, info: PeerInfo) {
        let mut w = Writer::default();
        info.encode(&mut w);
        let payload = w.finish();
        let watchers: Vec<u64> = self
            .peers
            .values()
            .filter(|p| p.info.id != info.id && p.watches.contains(&Watch::All))
            .map(|p| p.info.id.0)
            .collect();
        self.notice(&watchers, NoticeKind::PeerJoined, &payload);
    }

    fn notify_owner_change(&mut self, change: NameOwnerChanged) {
        let payload = change.encode();
        let watchers: Vec<u64> = self
            .peers
            .values()
            .filter(|p| {
                p.watches.iter().any(|w| match w {
                    Watch::All => true,
                    Watch::Name(n) => *n == change.name,
                    Watch::Peer(_) => false,
                }) && self.policy.find(&p.info, &change.name) == Verdict::Allow
            })
            .map(|p| p.info.id.0)
            .collect();
        self.notice(&watchers, NoticeKind::NameOwnerChanged, &payload);
    }

    /// Queues a notice of `kind` for each of `watchers`.
    fn notice(&mut self, watchers: &[u64], kind: NoticeKind, payload: &[u8]) {
        let header = Header::new(FrameKind::Notice).with_code(kind as u32);
        for &to in watchers {
            self.push(
                to,
                Outgoing {
                    header,
                    payload: payload.to_vec(),
                    fds: Vec::new(),
                },
            );
        }
    }

    /// Removes the peers that hung up or misbehaved, telling the watchers.
    fn reap(&mut self) {
        while let Some(id) = self.doomed.pop() {
            let Some(peer) = self.peers.remove(&id) else {
                continue;
            };
            let _ = self.epoll.delete(&peer.sock);
            let uid = peer.connected.uid;
            if let Some(n) = self.queued_by_uid.get_mut(&uid) {
                *n -= peer.queued_bytes;
                if *n == 0 {
                    self.queued_by_uid.remove(&uid);
                }
            }
            if !peer.joined {
                self.admission.settled(peer.connected.uid);
            }
            for name in &peer.names {
                match self.names.get_mut(name) {
                    Some(e) if e.owner == id => self.pass_on(name),
                    Some(e) => e.queue.retain(|&q| q != id),
                    None => {}
                }
            }
            let gone = UniqueId(id);
            let mut watchers = Vec::new();
            for p in self.peers.values_mut() {
                let before = p.watches.len();
                p.watches.retain(|w| *w != Watch::Peer(gone));
                if before != p.watches.len() || p.watches.contains(&Watch::All) {
                    watchers.push(p.info.id.0);
                }
            }
            self.notice(&watchers, NoticeKind::PeerGone, &gone.0.to_le_bytes());
        }
    }

    fn push(&mut self, id: u64, out: Outgoing) {
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        let uid = peer.connected.uid;
        peer.queued_bytes += out.payload.len();
        *self.queued_by_uid.entry(uid).or_insert(0) += out.payload.len();
        peer.out.push_back(out);
        // What the socket takes now is not held: bounds apply to what stays queued.
        self.flush(id);
        let Some(peer) = self.peers.get(&id) else {
            return;
        };
        let control_bytes: usize = peer.out.iter().map(|o| o.payload.len()).sum();
        let fds: usize = peer.out.iter().map(|o| o.fds.len()).sum();
        if peer.out.len() > MAX_QUEUED_FRAMES
            || control_bytes > MAX_QUEUED_BYTES_PER_PEER
            || fds > MAX_QUEUED_FDS_PER_PEER
            || !self.make_room_for_uid(uid)
        {
            self.doomed.push(id);
        }
    }

    /// Brings what is queued for `uid`'s peers under [`MAX_QUEUED_BYTES_PER_UID`] by dropping
    /// their signals, oldest first (each receiver is told how many it lost). False if replies
    /// and notices alone exceed it.
    fn make_room_for_uid(&mut self, uid: u32) -> bool {
        let over =
            |m: &Self| m.queued_by_uid.get(&uid).copied().unwrap_or(0) > MAX_QUEUED_BYTES_PER_UID;
        if !over(self) {
            return true;
        }
        let ids: Vec<u64> = self
            .peers
            .iter()
            .filter(|(_, p)| p.connected.uid == uid && !p.signals.is_empty())
            .map(|(&id, _)| id)
            .collect();
        for id in ids {
            while over(self) {
                let Some(peer) = self.peers.get_mut(&id) else {
                    break;
                };
                let Some(dropped) = peer.signals.pop_front() else {
                    break;
                };
                peer.queued_bytes -= dropped.payload.len();
                peer.lost += 1;
                if let Some(n) = self.queued_by_uid.get_mut(&uid) {
                    *n -= dropped.payload.len();
                }
            }
        }
        !over(self)
    }

    fn push_signal(&mut self, id: u64, payload: Vec<u8>) {
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        let uid = peer.connected.uid;
        peer.queued_bytes += payload.len();
        *self.queued_by_uid.entry(uid).or_insert(0) += payload.len();
        peer.signals.push_back(Outgoing {
            header: Header::new(FrameKind::Signal),
            payload,
            fds: Vec::new(),
        });
        // What the socket takes now is not held; of the rest, the oldest go first (the new one
        // too if its uid's peers hold that much already).
        self.flush(id);
        let (Some(peer), Some(uid_bytes)) =
            (self.peers.get_mut(&id), self.queued_by_uid.get_mut(&uid))
        else {
            return;
        };
        while peer.signals.len() > SIGNAL_QUEUE_LEN
            || ((peer.queued_bytes > MAX_QUEUED_BYTES_PER_PEER
                || *uid_bytes > MAX_QUEUED_BYTES_PER_UID)
                && !peer.signals.is_empty())
        {
            let dropped = peer.signals.pop_front().expect("not empty");
            peer.queued_bytes -= dropped.payload.len();
            *uid_bytes -= dropped.payload.len();
            peer.lost += 1;
        }
    }

    /// Writes what the peer's socket takes now; arms `EPOLLOUT` for the rest.
    fn flush(&mut self, id: u64) {
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        let before = peer.queued_bytes;
        let result = peer.flush();
        if let Some(n) = self.queued_by_uid.get_mut(&peer.connected.uid) {
            *n -= before - peer.queued_bytes;
        }
        let want = !peer.out.is_empty() || !peer.signals.is_empty();
        match result {
            Err(Error::WouldBlock) | Ok(()) => {}
            Err(_) => {
                self.doomed.push(id);
                return;
            }
        }
        if want != peer.want_writable {
            peer.want_writable = want;
            let flags = if want {
                EpollFlags::EPOLLIN | EpollFlags::EPOLLOUT
            } else {
                EpollFlags::EPOLLIN
            };
            let mut ev = EpollEvent::new(flags, id);
            if self.epoll.modify(&peer.sock, &mut ev).is_err() {
                self.doomed.push(id);
            }
        }
    }
}

impl Peer {
    fn flush(&mut self) -> Result<()> {
        while let Some(out) = self.out.front() {
            send_outgoing(self.sock.as_fd(), out)?;
            self.queued_bytes -= out.payload.len();
            self.out.pop_front();
        }
        while let Some(out) = self.signals.front_mut() {
            out.payload[SIGNAL_LOST_OFFSET..SIGNAL_LOST_OFFSET + 8]
                .copy_from_slice(&self.lost.to_le_bytes());
            send_outgoing(self.sock.as_fd(), out)?;
            self.queued_bytes -= out.payload.len();
            self.lost = 0;
            self.signals.pop_front();
        }
        Ok(())
    }
}

fn send_outgoing(sock: BorrowedFd<'_>, out: &Outgoing) -> Result<()> {
    let fds: Vec<BorrowedFd<'_>> = out.fds.iter().map(|f| f.as_fd()).collect();
    send_frame(sock, &out.header, &out.payload, &fds, true)
}

impl Drop for BusMaster {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

fn reserve_fd() -> Option<OwnedFd> {
    std::fs::File::open("/dev/null").ok().map(OwnedFd::from)
}

/// True when something accepts connections at `addr`.
fn is_live(addr: &UnixAddr) -> bool {
    let Ok(probe) = socket::socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_CLOEXEC,
        None,
    ) else {
        return true;
    };
    !matches!(
        socket::connect(probe.as_raw_fd(), addr),
        Err(Errno::ECONNREFUSED | Errno::ENOENT)
    )
}

/// A bus master running on its own thread; dropping it stops the master and removes the socket.
pub struct MasterHandle {
    stopper: Stopper,
    path: PathBuf,
    thread: Option<JoinHandle<Result<()>>>,
}

impl MasterHandle {
    /// The bus socket's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stops the master and returns how its loop ended.
    pub fn stop(mut self) -> Result<()> {
        self.stop_inner()
    }

    fn stop_inner(&mut self) -> Result<()> {
        self.stopper.stop();
        match self.thread.take() {
            Some(t) => t
                .join()
                .unwrap_or_else(|_| Err(Error::io("master thread", io::Error::other("panicked")))),
            None => Ok(()),
        }
    }
}

impl Drop for MasterHandle {
    fn drop(&mut self) {
        let _ = self.stop_inner();
    }
}

impl std::fmt::Debug for MasterHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MasterHandle")
            .field("path", &self.path)
            .finish()
    }
}

/// Kernel credentials of the calling process, as a `Hello` claims them.
pub(crate) fn own_credentials() -> Credentials {
    Credentials {
        pid: nix::unistd::getpid().as_raw(),
        uid: nix::unistd::getuid().as_raw(),
        gid: nix::unistd::getgid().as_raw(),
    }
}
