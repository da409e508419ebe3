//! The runtime: exported objects and their reference channels, proxies, the looper pool, and
//! the path of a call from a proxy to a handler and back.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use afbus_transport::{
    BusSocket, Channel, Event, Frame, FrameKind, Header, QueueMode, Target, WellKnownName,
    MAX_FDS_PER_FRAME, MAX_PAYLOAD_BYTES,
};
use nix::errno::Errno;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use nix::sys::eventfd::{EfdFlags, EventFd};
use parking_lot::Mutex;

use crate::call::{self, CallInfo, WireObject, FLAG_NESTED, FLAG_SPILLED};
use crate::conn::{Armed, Conn, ConnState, End, Incoming, Paused, Read, Woken, Work};
use crate::object::{
    dispatch, Binder, CallContext, Caller, DeathState, Kind, LocalObject, OnewayMode, OnewayQueue,
    Proxy, SpIBinder, TransactionCode,
};
use crate::parcel::Parcel;
use crate::peers::{Held, Peers};
use crate::priority::{Priority, PriorityGuard};
use crate::senders::{SenderBacklog, Senders};
use crate::status::{Error, Result, Status, StatusCode};

#[cfg(feature = "tokio")]
mod awaiting;
mod gives;
mod incoming;
mod looper;
mod outgoing;
mod refs;
mod spares;

pub(crate) use spares::Spares;
pub use spares::{MAX_SPARES_HELD, MINT_AHEAD_BATCH, MINT_AHEAD_RETRY};

/// Default most looper threads the runtime spawns (Binder's default is 15).
pub const DEFAULT_MAX_THREADS: usize = 15;

/// How long a looper that answered a call on a shared-memory channel stays on it for the next
/// call (spinning briefly, then asleep on the ring's futex) before it goes back to epoll.
pub const SHM_LINGER: Duration = Duration::from_millis(20);

/// Largest parcel (its data, without fds and objects) a call or reply carries. One that does
/// not fit a frame travels as a sealed memfd, which the receiver maps and copies out; a peer
/// sending a larger one has its call refused before anything is mapped.
pub const MAX_PARCEL_BYTES: usize = 16 * 1024 * 1024;

/// How long a client waits for the introduction of a service it connected to by name.
const INTRO_TIMEOUT: Duration = Duration::from_secs(30);

/// How long passing on a proxy waits for its owner to mint the new reference, unless
/// [`RuntimeConfig::mint_timeout`] says otherwise: an owner that does not answer (no thread
/// serves its objects, or it is hostile) fails that call rather than holding the passing thread
/// for ever. As long as a client waits for a service's introduction.
pub const MINT_TIMEOUT: Duration = INTRO_TIMEOUT;

const STOP: u64 = u64::MAX;
const WORK: u64 = u64::MAX - 1;
const RELEASES: u64 = u64::MAX - 2;

/// How long a `RELEASE` (we let go of an object given to us) may wait to travel with the next
/// frame we send its owner: in a conversation the owner hears of it with our next reply or
/// call, at no cost; otherwise it goes on its own after this, and the owner's
/// `on_refs_changed`/`on_last_ref` come that much later (Binder, too, tells an owner of a
/// released reference asynchronously).
pub const RELEASE_DELAY: Duration = Duration::from_millis(5);

/// How a runtime runs.
#[derive(Clone, Debug)]
pub struct RuntimeConfig {
    /// Most looper threads spawned on demand (the thread that calls
    /// [`Runtime::join_thread_pool`] comes on top). Zero: calls are served only by threads that
    /// join the pool, or by a thread waiting for a reply (nested calls).
    pub max_threads: usize,
    /// Run each incoming call at its caller's scheduling priority.
    pub inherit_priority: bool,
    /// The priority looper threads wait for calls at (`None`, the default: the priority they
    /// were started at). A looper woken for a call runs at the priority it waited at until it
    /// takes the caller's, so on a busy machine a real-time caller's call to a looper waiting at
    /// `SCHED_OTHER` first waits for the scheduler to run that looper behind everything else.
    /// A service that real-time callers use sets its ceiling to their priority (as Android's
    /// audio and sensor services set a minimum priority on their binder nodes): a caller at the
    /// ceiling then finds the looper running at its priority from the wake-up on, and pays no
    /// priority change; a caller below it has the looper lower itself for the call (anyone may
    /// lower it) and go back up after, two `sched_setattr` calls. Loopers take the ceiling only
    /// where the kernel lets this process raise itself to it and come back to it (root, or
    /// `RLIMIT_RTPRIO`/`RLIMIT_NICE` high enough); otherwise they log a warning and wait at
    /// their own priority.
    pub priority_ceiling: Option<Priority>,
    /// Move reference channels onto shared-memory rings when both ends agree (default on;
    /// `AFBUS_SHM=0` in the environment turns it off). See [`afbus_transport::shm`].
    pub shm: bool,
    /// How long passing on a proxy waits for its owner to mint the reference
    /// ([`MINT_TIMEOUT`] by default). A broker that hands out references to other processes'
    /// objects (the service manager) keeps it short, so that an owner that does not answer
    /// cannot hold its threads.
    pub mint_timeout: Duration,
    /// How long a reply waits for room in a caller's channel before the channel is shut down
    /// ([`REPLY_TIMEOUT`](crate::REPLY_TIMEOUT) by default).
    pub reply_timeout: Duration,
    /// Most synchronous calls of one uid (other than root and this process's own) served at
    /// once, from their start to their reply sent; past it a call fails at once with
    /// `ILLEGAL_STATE` instead of taking a thread. `None` (the default): no bound, as in
    /// Binder. A broker every user calls (the service manager) sets it, so that no uid can hold
    /// all its threads with calls that wait on something it controls.
    pub max_calls_per_uid: Option<usize>,
    /// Most objects given over channels to one peer process, and taken from it
    /// ([`MAX_GIVEN_PER_PEER`](crate::MAX_GIVEN_PER_PEER) by default): past it, the call or
    /// reply that would give one more fails with `NO_MEMORY`.
    pub max_given_per_peer: usize,
    /// Spare references this runtime keeps to each remote object it passes on to third
    /// processes, minted by the object's owner ahead of need (0, the default: each is minted
    /// while the call that passes it on waits, a round trip to the owner). A broker that hands
    /// the same objects to many processes (the service manager, [`MINT_AHEAD_BATCH`]) sets it:
    /// a pass then takes a spare at once, and the owner hears in the background whom it went
    /// to. The owner counts a spare as a reference (`on_refs_changed`) only from then on.
    pub mint_ahead: usize,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            max_threads: DEFAULT_MAX_THREADS,
            inherit_priority: true,
            priority_ceiling: None,
            shm: afbus_transport::shm::shm_default(),
            mint_timeout: MINT_TIMEOUT,
            reply_timeout: crate::reply::REPLY_TIMEOUT,
            max_calls_per_uid: None,
            max_given_per_peer: crate::peers::MAX_GIVEN_PER_PEER,
            mint_ahead: 0,
        }
    }
}

/// A binder runtime: the objects this process exports, its proxies, and its thread pool.
///
/// An explicit value, not a process-wide singleton: a process (or a test) may run several.
/// Dropping it stops its loopers.
pub struct Runtime {
    inner: Arc<RuntimeInner>,
}

pub(crate) struct RuntimeInner {
    id: u64,
    me: Weak<RuntimeInner>,
    config: RuntimeConfig,
    epoll: Epoll,
    stop: EventFd,
    stopping: AtomicBool,
    work_fd: EventFd,
    work: Mutex<VecDeque<(Arc<Conn>, Work)>>,
    /// Fires [`RELEASE_DELAY`] after a release was put off, for the channels in
    /// `releases_due` (see `gives`).
    release_timer: nix::sys::timerfd::TimerFd,
    release_timer_armed: AtomicBool,
    releases_due: Mutex<Vec<Weak<Conn>>>,
    /// Channels whose loopers' watch a task awaiting a reply took over (see `awaiting`).
    #[cfg(feature = "tokio")]
    quiet: Mutex<Vec<Weak<Conn>>>,
    conns: Mutex<HashMap<u64, Arc<Conn>>>,
    /// How many live references each exported object has, by its number.
    /// Our objects by the key of each live reference to them (see [`crate::intro`]): what a
    /// peer may name in a call nested in one of ours, and how a reference coming home is known.
    keys: Mutex<HashMap<u64, Arc<LocalObject>>>,
    /// The holder's end of each reference we minted, by its socket's cookie, with the
    /// reference's key: a holder that passes it back to us passes that very socket (see
    /// [`RuntimeInner::mint_all`]), which the kernel names (`SO_COOKIE`, never reused) and
    /// nobody can forge.
    homes: Mutex<HashMap<u64, u64>>,
    /// Owner ends minted ahead and not claimed yet, by the holder end's cookie (see
    /// [`spares`]).
    spares: Mutex<HashMap<u64, Arc<Conn>>>,
    /// The thread that mints references ahead for this runtime to pass on.
    minter: spares::Minter,
    /// Spare references this runtime holds, in all (see [`MAX_SPARES_HELD`]).
    spares_held: Arc<AtomicUsize>,
    /// Proxies by the object's identity and the kernel's pid for the process that owns it.
    proxies: Mutex<HashMap<(u64, u64, i32), Weak<Proxy>>>,
    published: Mutex<HashMap<WellKnownName, SpIBinder>>,
    /// One-way backlog per sending process.
    senders: Arc<Senders>,
    /// References and rings per peer process.
    peers: Peers,
    /// Synchronous calls being served per caller uid (kept only with `max_calls_per_uid`).
    calls_by_uid: Arc<Mutex<HashMap<u32, usize>>>,
    acceptor_started: AtomicBool,
    /// Loopers spawned so far.
    spawned: Mutex<usize>,
    /// Whether a looper has warned that it could not take the priority ceiling.
    ceiling_warned: AtomicBool,
    /// Loopers waiting in `epoll_wait`.
    idle: AtomicUsize,
    /// Loopers running (spawned, or threads in `join_thread_pool`).
    loopers: AtomicUsize,
    next_token: AtomicU64,
    next_number: AtomicU64,
    next_txn: AtomicU64,
}

/// How a call reached the thread serving it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Route {
    /// Read from a channel as a new call.
    Fresh,
    /// Filed for a thread waiting on its own call: the peer is calling back.
    Nested,
}

/// The call a thread is serving, so that its outgoing calls to the caller's process go back
/// over the caller's channel and reach the caller's waiting thread.
struct CurrentCall {
    runtime: u64,
    conn: Arc<Conn>,
    txn: u64,
    caller: u64,
    /// The caller's pid as the kernel attached it to the call.
    caller_pid: i32,
}

thread_local! {
    static CURRENT: RefCell<Vec<CurrentCall>> = const { RefCell::new(Vec::new()) };
}

impl Runtime {
    /// Creates a runtime; no thread runs until [`start_thread_pool`](Self::start_thread_pool)
    /// or [`join_thread_pool`](Self::join_thread_pool).
    ///
    /// Raises the process's soft fd limit to its hard limit: every reference is an fd.
    pub fn new(config: RuntimeConfig) -> Result<Runtime> {
        crate::peers::raise_fd_limit();
        let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).map_err(os("epoll_create"))?;
        let stop = EventFd::from_flags(EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)
            .map_err(os("eventfd"))?;
        let work_fd = EventFd::from_flags(
            EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK | EfdFlags::EFD_SEMAPHORE,
        )
        .map_err(os("eventfd"))?;
        epoll
            .add(&stop, EpollEvent::new(EpollFlags::EPOLLIN, STOP))
            .map_err(os("epoll_ctl"))?;
        epoll
            .add(&work_fd, EpollEvent::new(EpollFlags::EPOLLIN, WORK))
            .map_err(os("epoll_ctl"))?;
        let release_timer = nix::sys::timerfd::TimerFd::new(
            nix::sys::timerfd::ClockId::CLOCK_MONOTONIC,
            nix::sys::timerfd::TimerFlags::TFD_NONBLOCK
                | nix::sys::timerfd::TimerFlags::TFD_CLOEXEC,
        )
        .map_err(os("timerfd_create"))?;
        // Level-triggered, as the work queue: an expiry stays reported until a looper reads it.
        epoll
            .add(
                &release_timer,
                EpollEvent::new(EpollFlags::EPOLLIN, RELEASES),
            )
            .map_err(os("epoll_ctl"))?;
        let max_given = config.max_given_per_peer;
        let inner = Arc::new_cyclic(|me| RuntimeInner {
            id: runtime_id(),
            me: me.clone(),
            config,
            epoll,
            stop,
            stopping: AtomicBool::new(false),
            work_fd,
            work: Mutex::new(VecDeque::new()),
            release_timer,
            release_timer_armed: AtomicBool::new(false),
            #[cfg(feature = "tokio")]
            quiet: Mutex::default(),
            releases_due: Mutex::new(Vec::new()),
            conns: Mutex::new(HashMap::new()),
            keys: Mutex::new(HashMap::new()),
            homes: Mutex::new(HashMap::new()),
            spares: Mutex::new(HashMap::new()),
            minter: spares::Minter::default(),
            spares_held: Arc::default(),
            proxies: Mutex::new(HashMap::new()),
            published: Mutex::new(HashMap::new()),
            senders: Arc::default(),
            peers: Peers::new(max_given),
            calls_by_uid: Arc::default(),
            acceptor_started: AtomicBool::new(false),
            spawned: Mutex::new(0),
            ceiling_warned: AtomicBool::new(false),
            idle: AtomicUsize::new(0),
            loopers: AtomicUsize::new(0),
            next_token: AtomicU64::new(1),
            next_number: AtomicU64::new(1),
            next_txn: AtomicU64::new(1),
        });
        Ok(Runtime { inner })
    }

    /// Every process with one-way calls read and not yet run here, and whether it is refused
    /// for holding more than [`MAX_ONEWAY_BYTES_PER_SENDER`](crate::MAX_ONEWAY_BYTES_PER_SENDER).
    pub fn oneway_senders(&self) -> Vec<SenderBacklog> {
        self.inner.senders.backlogs()
    }

    /// This runtime's id: half of the identity of every object it exports.
    pub fn id(&self) -> u64 {
        self.inner.id
    }

    /// Makes `binder` an object of this runtime, ready to be published or sent in a parcel.
    pub fn local(&self, binder: impl Binder) -> SpIBinder {
        self.local_arc(Arc::new(binder))
    }

    /// As [`local`](Self::local), for a shared object.
    pub fn local_arc(&self, binder: Arc<dyn Binder>) -> SpIBinder {
        SpIBinder(Kind::Local(Arc::new(LocalObject {
            runtime: Arc::downgrade(&self.inner),
            runtime_id: self.inner.id,
            number: self.inner.next_number.fetch_add(1, Ordering::Relaxed),
            binder,
            oneway: Mutex::new(OnewayQueue::default()),
            refs: Mutex::default(),
        })))
    }

    /// Starts one looper thread; more are spawned on demand, up to `max_threads`.
    pub fn start_thread_pool(&self) {
        self.inner.maybe_spawn(true);
    }

    /// Serves calls on the calling thread until the runtime is dropped.
    pub fn join_thread_pool(&self) {
        self.inner.looper();
    }

    /// Owns `name` on `bus` and serves `object` to whoever connects to it there.
    ///
    /// One bus per runtime: the first call starts a thread that accepts the bus's incoming
    /// channels.
    pub fn publish(&self, bus: &Arc<BusSocket>, name: &str, object: &SpIBinder) -> Result<()> {
        let name: WellKnownName = name.parse()?;
        if !object.is_local() {
            return Err(Error::new(
                StatusCode::INVALID_OPERATION,
                "only local objects can be published",
            ));
        }
        // Known before the name is: a client may connect the moment the name is ours.
        let published = &self.inner.published;
        let before = published.lock().insert(name.clone(), object.clone());
        let owned = match bus.request_name(&name, QueueMode::DoNotQueue) {
            Ok(
                afbus_transport::NameOutcome::PrimaryOwner
                | afbus_transport::NameOutcome::AlreadyOwner,
            ) => Ok(()),
            Ok(_) => Err(Error::new(
                StatusCode::ALREADY_EXISTS,
                format!("{name} has another owner"),
            )),
            Err(e) => Err(e.into()),
        };
        if let Err(e) = owned {
            match before {
                Some(old) => published.lock().insert(name, old),
                None => published.lock().remove(&name),
            };
            return Err(e);
        }
        if !self.inner.acceptor_started.swap(true, Ordering::SeqCst) {
            let rt = Arc::downgrade(&self.inner);
            let bus = bus.clone();
            std::thread::Builder::new()
                .name("afbus-acceptor".into())
                .spawn(move || accept_loop(rt, bus))
                .map_err(|e| Error::new(StatusCode::NO_MEMORY, format!("spawn acceptor: {e}")))?;
        }
        Ok(())
    }

    /// Connects to the object published as `name` on `bus`.
    pub fn get_service(&self, bus: &BusSocket, name: &str) -> Result<SpIBinder> {
        let name: WellKnownName = name.parse()?;
        let (channel, peer) = bus.connect_to(&Target::Name(name))?;
        // The master's word for who serves the name; the introduction must come from there.
        self.inner
            .import(channel, peer.creds.pid, Some(INTRO_TIMEOUT))
    }
}

impl Runtime {
    /// Takes `object`, a local object of this runtime, away from the processes that hold it
    /// through a reference channel: each such channel is hung up, so its holder sees the object
    /// die (death recipients run, calls fail with `DEAD_OBJECT`), as if this process had exited.
    /// What stands in for an object that is gone elsewhere (a bridge's stand-in for a remote
    /// object) does this when it learns so. References given over a holder's channel to another
    /// object (see the `gives` module) stay until released; calls through them still reach the
    /// object. Returns how many channels were hung up.
    pub fn revoke(&self, object: &SpIBinder) -> usize {
        let SpIBinder(Kind::Local(obj)) = object else {
            return 0;
        };
        let serving: Vec<Arc<Conn>> = self
            .inner
            .conns
            .lock()
            .values()
            .filter(|c| matches!(&c.end, End::Owner(o) if Arc::ptr_eq(o, obj)))
            .cloned()
            .collect();
        for conn in &serving {
            conn.chan.hang_up();
        }
        serving.len()
    }

    /// Stops every looper (including a thread in [`join_thread_pool`](Self::join_thread_pool))
    /// once it finishes what it is doing.
    pub fn shutdown(&self) {
        self.inner.stopping.store(true, Ordering::SeqCst);
        let _ = self.inner.stop.write(1);
        self.inner.minter.wake_to_stop();
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn accept_loop(rt: Weak<RuntimeInner>, bus: Arc<BusSocket>) {
    loop {
        let Ok(event) = bus.recv_event(None) else {
            return;
        };
        let Some(rt) = rt.upgrade() else { return };
        if rt.stopping.load(Ordering::SeqCst) {
            return;
        }
        if let Event::Incoming {
            channel,
            name: Some(name),
            peer,
        } = event
        {
            let object = rt.published.lock().get(&name).cloned();
            if let Some(SpIBinder(Kind::Local(obj))) = object {
                let _ = rt.serve_channel(&obj, channel, peer.creds.pid, None, false);
            }
        }
    }
}

/// A synchronous call's place among those of its uid, given back on drop.
struct CallSlot {
    calls: Arc<Mutex<HashMap<u32, usize>>>,
    uid: u32,
}

impl Drop for CallSlot {
    fn drop(&mut self) {
        let mut calls = self.calls.lock();
        if let Some(n) = calls.get_mut(&self.uid) {
            *n -= 1;
            if *n == 0 {
                calls.remove(&self.uid);
            }
        }
    }
}

/// Where a parcel goes: a process (the kernel's pid) and, by the word of that process or of
/// the object's introduction, a runtime in it.
#[derive(Clone, Copy, Debug)]
struct Recipient {
    pid: i32,
    runtime: u64,
}

impl Recipient {
    /// The process and runtime that own `proxy`'s object.
    fn owner_of(proxy: &Proxy) -> Recipient {
        Recipient {
            pid: proxy.owner_pid,
            runtime: proxy.owner,
        }
    }
}

/// The kernel's never-reused name for a socket (`SO_COOKIE`).
fn socket_id(fd: &OwnedFd) -> Result<u64> {
    afbus_transport::socket_cookie(fd.as_fd())
        .map_err(|e| Error::new(StatusCode::UNKNOWN_ERROR, format!("SO_COOKIE: {e}")))
}

/// A frame about to be sent.
struct Outgoing {
    payload: Vec<u8>,
    fds: Vec<OwnedFd>,
    flags: u16,
    /// The parcel's objects, held until the frame is sent: a proxy going home by its key must
    /// not release that key before the frame that names it.
    objects: Vec<SpIBinder>,
}

/// True if `data_len` bytes of a parcel's data and object table fit one frame with the trailer
/// (fds travel beside the payload: [`check_frame`] bounds them).
fn fits_frame(data_len: usize) -> bool {
    // Room for the longer trailer and for the principal a call may name (`on_behalf_of`).
    data_len + call::TRAILER_ROOM + crate::object::MAX_PRINCIPAL_LEN <= MAX_PAYLOAD_BYTES
}

/// Takes a spilled parcel's data (see [`FLAG_SPILLED`]) off a received frame.
fn unspill(frame: &mut Frame) -> Result<Option<Vec<u8>>> {
    if frame.header.flags & FLAG_SPILLED == 0 {
        return Ok(None);
    }
    let memfd = frame.fds.pop().ok_or_else(|| {
        Error::new(
            StatusCode::BAD_VALUE,
            "a spilled parcel came without its memfd",
        )
    })?;
    let blob = crate::parcel::blob::map_whole(memfd, MAX_PARCEL_BYTES)?;
    Ok(Some(blob.to_vec()))
}

/// Puts spilled data back where the frame's (empty) data was.
fn with_spilled(body: &mut call::Body, spilled: Option<Vec<u8>>) -> Result<()> {
    if let Some(data) = spilled {
        if !body.data.is_empty() {
            return Err(Error::new(
                StatusCode::BAD_VALUE,
                "a spilled parcel also carried data in its frame",
            ));
        }
        body.data = data;
    }
    Ok(())
}

/// Decodes a reply frame, its spilled data restored: the body, the status, the fds.
fn decode_reply(mut frame: Frame) -> Result<(call::Body, Option<Status>, Vec<OwnedFd>)> {
    let spilled = unspill(&mut frame)?;
    let (mut body, status) = call::decode_reply(frame.payload, frame.fds.len())?;
    with_spilled(&mut body, spilled)?;
    Ok((body, status, frame.fds))
}

fn check_frame(data_len: usize, fds: usize) -> Result<()> {
    if fds > MAX_FDS_PER_FRAME {
        return Err(Error::new(
            StatusCode::FDS_NOT_ALLOWED,
            format!("{fds} fds and objects exceed {MAX_FDS_PER_FRAME}"),
        ));
    }
    if !fits_frame(data_len) {
        return Err(Error::new(
            StatusCode::BAD_VALUE,
            format!("parcel of {data_len} bytes exceeds one frame"),
        ));
    }
    Ok(())
}

fn borrow_all(fds: &[OwnedFd]) -> Vec<BorrowedFd<'_>> {
    fds.iter().map(AsFd::as_fd).collect()
}

fn dead_if_hung_up(e: afbus_transport::Error) -> Error {
    match e {
        afbus_transport::Error::HungUp => {
            Error::new(StatusCode::DEAD_OBJECT, "the remote process died")
        }
        e => Error::Transport(e),
    }
}

fn os(context: &'static str) -> impl Fn(Errno) -> Error {
    move |e| Error::new(StatusCode::UNKNOWN_ERROR, format!("{context}: {e}"))
}

/// A runtime id unlikely to repeat across processes and runtimes: pid, time and a counter.
fn runtime_id() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for v in [
        u64::from(std::process::id()),
        nanos,
        COUNTER.fetch_add(1, Ordering::Relaxed),
    ] {
        for b in v.to_le_bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h | 1
}
