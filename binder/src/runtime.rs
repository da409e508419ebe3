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
use crate::conn::{Conn, ConnState, End, Incoming, Read, Work};
use crate::object::{
    dispatch, Binder, CallContext, Caller, DeathState, Kind, LocalObject, OnewayMode, OnewayQueue,
    Proxy, SpIBinder, TransactionCode,
};
use crate::parcel::Parcel;
use crate::peers::{Held, Peers};
use crate::priority::{Priority, PriorityGuard};
use crate::senders::{SenderBacklog, Senders};
use crate::status::{Error, Result, Status, StatusCode};

mod gives;

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
    conns: Mutex<HashMap<u64, Arc<Conn>>>,
    /// How many live references each exported object has, by its number.
    refs: Mutex<HashMap<u64, usize>>,
    /// Our objects by the key of each live reference to them (see [`crate::intro`]): what a
    /// peer may name in a call nested in one of ours, and how a reference coming home is known.
    keys: Mutex<HashMap<u64, Arc<LocalObject>>>,
    /// The holder's end of each reference we minted, by its socket's cookie, with the
    /// reference's key: a holder that passes it back to us passes that very socket (see
    /// [`RuntimeInner::mint_all`]), which the kernel names (`SO_COOKIE`, never reused) and
    /// nobody can forge.
    homes: Mutex<HashMap<u64, u64>>,
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
            conns: Mutex::new(HashMap::new()),
            refs: Mutex::new(HashMap::new()),
            keys: Mutex::new(HashMap::new()),
            homes: Mutex::new(HashMap::new()),
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
    /// Stops every looper (including a thread in [`join_thread_pool`](Self::join_thread_pool))
    /// once it finishes what it is doing.
    pub fn shutdown(&self) {
        self.inner.stopping.store(true, Ordering::SeqCst);
        let _ = self.inner.stop.write(1);
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
                let _ = rt.serve_channel(&obj, channel, peer.creds.pid, None);
            }
        }
    }
}

impl RuntimeInner {
    fn arc(&self) -> Arc<RuntimeInner> {
        self.me
            .upgrade()
            .expect("the runtime is alive while it runs")
    }

    /// Makes `channel` a new reference to `obj` for process `holder`: introduces the object on
    /// it (a fresh key), counts the reference and watches the channel for calls. `holder_end`:
    /// the cookie of the other end, when we made the pair.
    fn serve_channel(
        &self,
        obj: &Arc<LocalObject>,
        channel: Channel,
        holder: i32,
        holder_end: Option<u64>,
    ) -> Result<()> {
        channel.set_pass_credentials(true)?;
        let key = crate::intro::new_key()?;
        crate::intro::send(&channel, obj.runtime_id, obj.number, key)?;
        self.peers.charge(holder, Held::Exported)?;
        // From here on, `conn_died` gives back everything taken for this reference.
        let token = self.next_token.fetch_add(1, Ordering::Relaxed);
        let mut conn = Conn::new(
            token,
            key,
            holder,
            channel,
            End::Owner(obj.clone()),
            self.senders.clone(),
        );
        conn.holder_end = holder_end;
        let conn = Arc::new(conn);
        self.keys.lock().insert(key, obj.clone());
        if let Some(end) = holder_end {
            self.homes.lock().insert(end, key);
        }
        self.add_ref(obj);
        self.conns.lock().insert(token, conn.clone());
        let ev = EpollEvent::new(EpollFlags::EPOLLIN | EpollFlags::EPOLLONESHOT, token);
        if let Err(e) = self.epoll.add(conn.chan.as_fd(), ev) {
            self.conn_died(&conn);
            return Err(os("epoll_ctl")(e));
        }
        Ok(())
    }

    /// Mints a new reference channel to a local object of this runtime, for process `to`.
    fn export(&self, obj: &Arc<LocalObject>, to: i32) -> Result<OwnedFd> {
        self.reap_without_loopers();
        let (mine, theirs) = Channel::pair()?;
        let theirs = theirs.into_fd();
        let end = socket_id(&theirs)?;
        self.serve_channel(obj, mine, to, Some(end))?;
        Ok(theirs)
    }

    /// The local object a received socket stands for, if it is the holder's end of a reference
    /// we minted, come home.
    fn home(&self, fd: &OwnedFd) -> Option<Arc<LocalObject>> {
        if self.homes.lock().is_empty() {
            // Nothing minted by us is out: no need to ask the kernel whose socket this is.
            return None;
        }
        let end = socket_id(fd).ok()?;
        let key = *self.homes.lock().get(&end)?;
        self.keys.lock().get(&key).cloned()
    }

    /// Turns a received reference channel into an object: ours again, a proxy we already have,
    /// or a new proxy on this channel. What it is comes from its owner's introduction, read here
    /// (see [`crate::intro`]); `maker` is the owner's pid as the kernel reported it (the maker
    /// of a minted channel, or the master's word for a brokered one), and `wait` how long the
    /// introduction may take (`None`: it must be there).
    fn import(&self, channel: Channel, maker: i32, wait: Option<Duration>) -> Result<SpIBinder> {
        channel.set_shm(self.config.shm);
        let intro = crate::intro::recv(&channel, maker, wait)?;
        if intro.owner == self.id && intro.pid == std::process::id() as i32 {
            // Ours, come home: the key names the reference, and so the object.
            return match self.keys.lock().get(&intro.key) {
                Some(obj) if obj.number == intro.number => Ok(SpIBinder(Kind::Local(obj.clone()))),
                _ => Err(Error::new(
                    StatusCode::BAD_VALUE,
                    "a reference to an object we do not export",
                )),
            };
        }
        let mut proxies = self.proxies.lock();
        let key = (intro.owner, intro.number, intro.pid);
        if let Some(existing) = proxies.get(&key).and_then(Weak::upgrade) {
            // One channel per remote object: closing this one drops the extra reference.
            return Ok(SpIBinder(Kind::Remote(existing)));
        }
        self.peers.charge(intro.pid, Held::Imported)?;
        let token = self.next_token.fetch_add(1, Ordering::Relaxed);
        let proxy = Arc::new_cyclic(|me| Proxy {
            runtime: self.me.clone(),
            conn: Arc::new(Conn::new(
                token,
                intro.key,
                intro.pid,
                channel,
                End::Client(me.clone()),
                self.senders.clone(),
            )),
            target: 0,
            gives: 0.into(),
            owner: intro.owner,
            number: intro.number,
            owner_pid: intro.pid,
            // Only a channel handed to us by its owner (its introduction already waiting) has
            // a holder's end the owner knows; one the bus master made does not.
            minted: wait.is_none() && intro.pid == maker,
            wait_when_full: AtomicBool::new(false),
            refusal_logged: AtomicBool::new(false),
            death: Mutex::new(DeathState::default()),
        });
        proxies.insert(key, Arc::downgrade(&proxy));
        drop(proxies);
        proxy.conn.lock().links.proxies.push(Arc::downgrade(&proxy));
        self.conns.lock().insert(token, proxy.conn.clone());
        // No events asked for: epoll still reports the hang-up, once.
        let ev = EpollEvent::new(EpollFlags::EPOLLONESHOT, token);
        self.epoll
            .add(proxy.conn.chan.as_fd(), ev)
            .map_err(os("epoll_ctl"))?;
        Ok(SpIBinder(Kind::Remote(proxy)))
    }

    pub(crate) fn forget_proxy(&self, proxy: &Proxy) {
        let key = (proxy.owner, proxy.number, proxy.owner_pid);
        let mut proxies = self.proxies.lock();
        if proxies.get(&key).is_some_and(|w| w.strong_count() == 0) {
            proxies.remove(&key);
        }
        drop(proxies);
        if proxy.target == 0 {
            self.peers.refund(proxy.owner_pid, Held::Imported);
        }
        let gives = proxy.gives.load(Ordering::Relaxed);
        self.proxy_gone(&proxy.conn, proxy.target, gives);
    }

    /// Hands a channel back to the loopers after a reader let go of it: re-armed in epoll if
    /// its one-shot event fired meanwhile. True if, on shared memory, frames already wait in
    /// an owner end's ring (the peer rings the socket doorbell only for later ones): then the
    /// reader reads on or queues [`Work::Poll`].
    /// An owner end waits for calls; a client end only for its hang-up.
    fn rearm(&self, conn: &Conn, st: &mut ConnState) -> bool {
        if st.dead {
            return false;
        }
        // An end that serves objects (an owner end, or one with objects given over it) waits
        // in epoll for what comes; any other gets frames only while a thread of ours waits on
        // it, and that thread reads them.
        let serves = st.links.serves(&conn.end);
        if serves && st.paused {
            return false;
        }
        let pending = serves && conn.chan.park_poll();
        let events = match serves {
            true => EpollFlags::EPOLLIN | EpollFlags::EPOLLONESHOT,
            false => EpollFlags::EPOLLONESHOT,
        };
        if !st.armed {
            let mut ev = EpollEvent::new(events, conn.token);
            st.armed = self.epoll.modify(conn.chan.as_fd(), &mut ev).is_ok();
        }
        pending
    }

    /// A channel hung up: fail its waiters, drop the reference it stood for, tell whoever
    /// asked. Runs once per channel.
    fn conn_died(&self, conn: &Arc<Conn>) {
        conn.mark_dead();
        if self.conns.lock().remove(&conn.token).is_none() {
            return;
        }
        let _ = self.epoll.delete(conn.chan.as_fd());
        self.release_all(conn);
        let (proxies, own_released) = {
            let mut st = conn.lock();
            (std::mem::take(&mut st.links.proxies), st.links.own_released)
        };
        for p in proxies.iter().filter_map(Weak::upgrade) {
            p.died();
        }
        match &conn.end {
            End::Owner(obj) => {
                self.keys.lock().remove(&conn.key);
                if let Some(end) = conn.holder_end {
                    self.homes.lock().remove(&end);
                }
                self.peers.refund(conn.peer, Held::Exported);
                if conn.ring.load(Ordering::Relaxed) {
                    self.peers.refund(conn.peer, Held::Ring);
                }
                if !own_released {
                    self.drop_ref(obj);
                }
            }
            End::Client(proxy) => {
                if let Some(p) = proxy.upgrade() {
                    p.died();
                }
            }
        }
    }

    /// Counts one more live reference to `obj` (a channel, or a give) and says so.
    fn add_ref(&self, obj: &Arc<LocalObject>) {
        let refs = {
            let mut refs = self.refs.lock();
            let n = refs.entry(obj.number).or_insert(0);
            *n += 1;
            *n
        };
        obj.binder.on_refs_changed(refs);
    }

    /// Counts one live reference to `obj` fewer and says so; `on_last_ref` at zero.
    fn drop_ref(&self, obj: &Arc<LocalObject>) {
        let left = {
            let mut refs = self.refs.lock();
            match refs.get_mut(&obj.number) {
                Some(n) if *n <= 1 => refs.remove(&obj.number).map(|_| 0),
                Some(n) => {
                    *n -= 1;
                    Some(*n)
                }
                None => None,
            }
        };
        if let Some(left) = left {
            obj.binder.on_refs_changed(left);
            if left == 0 {
                obj.binder.on_last_ref();
            }
        }
    }

    // ---- outgoing calls ----

    /// Picks the channel for a call on `proxy`: back over the caller's channel when the object
    /// lives in the process whose call this thread is serving.
    fn route(&self, proxy: &Proxy) -> (Arc<Conn>, u64, u64) {
        CURRENT.with(|c| match c.borrow().last() {
            // The caller's runtime id is its word; its pid is the kernel's, and must agree.
            Some(cc)
                if cc.runtime == self.id
                    && cc.caller == proxy.owner
                    && cc.caller_pid == proxy.owner_pid =>
            {
                (cc.conn.clone(), proxy.key(), cc.txn)
            }
            _ => (proxy.conn.clone(), proxy.target, 0),
        })
    }

    /// Turns a parcel into a frame's payload (by `encode`), fds and flags: its objects become
    /// entries of the frame's object table (see [`crate::call`]), and data too large for a
    /// frame spills into a sealed memfd. `over`: the channel the frame goes on, when its
    /// objects are for the process at its other end (see [`gives`]).
    fn encode_parcel(
        &self,
        parcel: Parcel,
        to: Recipient,
        over: Option<&Arc<Conn>>,
        encode: impl FnOnce(Vec<u8>, usize, &[WireObject]) -> Vec<u8>,
    ) -> Result<Outgoing> {
        let (mut bytes, mut fds, objects) = parcel.into_wire()?;
        let (table, obj_fds) = self.mint_all(&objects, to, over)?;
        let parcel_fds = fds.len();
        fds.extend(obj_fds);
        let mut flags = 0;
        if !fits_frame(bytes.len() + table.len() * call::OBJECT_LEN, fds.len()) {
            if bytes.len() > MAX_PARCEL_BYTES {
                return Err(Error::new(
                    StatusCode::BAD_VALUE,
                    format!(
                        "parcel of {} bytes exceeds MAX_PARCEL_BYTES ({MAX_PARCEL_BYTES})",
                        bytes.len()
                    ),
                ));
            }
            let spilled = crate::parcel::blob::seal(&bytes)
                .map_err(|e| Error::new(StatusCode::NO_MEMORY, format!("memfd: {e}")))?;
            fds.push(spilled);
            bytes = Vec::new();
            flags = FLAG_SPILLED;
        }
        check_frame(bytes.len() + table.len() * call::OBJECT_LEN, fds.len())?;
        Ok(Outgoing {
            payload: encode(bytes, parcel_fds, &table),
            fds,
            flags,
            objects,
        })
    }

    /// Encodes a call to `to`, going on `over`.
    fn encode_call(
        &self,
        data: Parcel,
        info: &CallInfo,
        to: Recipient,
        over: &Arc<Conn>,
    ) -> Result<Outgoing> {
        self.encode_parcel(data, to, Some(over), |bytes, parcel_fds, objects| {
            call::encode_call(bytes, parcel_fds, objects, info)
        })
    }

    /// Encodes a reply to a caller, `to` (see [`Self::encode_parcel`] for `over`).
    fn encode_reply(
        &self,
        reply: std::result::Result<Parcel, Status>,
        to: Recipient,
        over: Option<&Arc<Conn>>,
    ) -> Outgoing {
        let encoded = reply.map_err(Error::Service).and_then(|parcel| {
            self.encode_parcel(parcel, to, over, |bytes, parcel_fds, objects| {
                call::encode_reply(bytes, parcel_fds, objects, None)
            })
        });
        encoded.unwrap_or_else(|e| Outgoing {
            payload: call::encode_reply(Vec::new(), 0, &[], Some(&Status::from(e))),
            fds: Vec::new(),
            flags: 0,
            objects: Vec::new(),
        })
    }

    /// The object table entry (and any fd) for each object of an outgoing parcel going to
    /// `to`. Over a channel to the holder (`over`), an object of ours is given over it and one
    /// of the holder's own that it reaches through this channel goes home by its key: no fd.
    /// Otherwise an object travels as a reference channel: a proxy going back to the runtime
    /// that owns it as its own channel (a duplicate of the socket, which its owner knows by its
    /// cookie), an object of ours as a new channel, and another's as one its owner mints.
    fn mint_all(
        &self,
        objects: &[SpIBinder],
        to: Recipient,
        over: Option<&Arc<Conn>>,
    ) -> Result<(Vec<WireObject>, Vec<OwnedFd>)> {
        let mut table = Vec::with_capacity(objects.len());
        let mut fds = Vec::new();
        for o in objects {
            let fd = match (&o.0, over) {
                (Kind::Remote(proxy), Some(c)) if Arc::ptr_eq(&proxy.conn, c) => {
                    table.push(WireObject::Home { key: proxy.key() });
                    continue;
                }
                (Kind::Local(obj), Some(c)) if obj.runtime_id == self.id => {
                    table.push(self.give(c, obj)?);
                    continue;
                }
                (Kind::Remote(proxy), _)
                    if proxy.minted
                        && proxy.target == 0
                        && proxy.owner_pid == to.pid
                        && proxy.owner == to.runtime =>
                {
                    proxy
                        .conn
                        .chan
                        .as_fd()
                        .try_clone_to_owned()
                        .map_err(|e| Error::new(StatusCode::NO_MEMORY, format!("dup: {e}")))?
                }
                (Kind::Local(obj), _) => match obj.runtime.upgrade() {
                    Some(rt) => rt.export(obj, to.pid)?,
                    None => {
                        return Err(Error::new(
                            StatusCode::DEAD_OBJECT,
                            "the object's runtime is gone",
                        ))
                    }
                },
                (Kind::Remote(proxy), _) => self.mint_remote(proxy, to.pid)?,
            };
            table.push(WireObject::Channel);
            fds.push(fd);
        }
        Ok((table, fds))
    }

    /// Asks a proxy's owner for a new reference for process `to`, which the owner charges to
    /// `to` if it trusts our word (we are root or of its uid), else to us.
    fn mint_remote(&self, proxy: &Proxy, to: i32) -> Result<OwnedFd> {
        let mut data = Parcel::new();
        data.write_i32(to);
        let (reply, _) = self.arc().call_frame(
            proxy,
            TransactionCode::MINT,
            data,
            Some(self.config.mint_timeout),
        )?;
        let (body, status, mut fds) = decode_reply(reply.frame)?;
        if let Some(status) = status {
            return Err(Error::Service(status));
        }
        match fds.len() {
            1 if body.parcel_fds == 0 => Ok(fds.pop().expect("one fd")),
            _ => Err(Error::new(
                StatusCode::BAD_VALUE,
                "mint reply must carry one reference",
            )),
        }
    }

    pub(crate) fn call(
        self: &Arc<Self>,
        proxy: &Proxy,
        code: TransactionCode,
        data: Parcel,
        timeout: Option<Duration>,
    ) -> Result<Parcel> {
        let (reply, conn) = self.call_frame(proxy, code, data, timeout)?;
        let (body, status, fds) = decode_reply(reply.frame)?;
        if let Some(status) = status {
            return Err(status.into());
        }
        self.to_parcel(body, fds, &conn, reply.homes)
    }

    fn call_frame(
        self: &Arc<Self>,
        proxy: &Proxy,
        code: TransactionCode,
        data: Parcel,
        timeout: Option<Duration>,
    ) -> Result<(Incoming, Arc<Conn>)> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let (conn, target, nested_in) = self.route(proxy);
        let info = CallInfo {
            target,
            caller_runtime: self.id,
            nested_in,
            priority: self.caller_priority(),
        };
        let Outgoing {
            payload,
            fds,
            flags,
            objects,
        } = self.encode_call(data, &info, Recipient::owner_of(proxy), &conn)?;
        let txn = self.next_txn.fetch_add(1, Ordering::Relaxed);
        let nested = if nested_in != 0 { FLAG_NESTED } else { 0 };
        let header = Header::new(FrameKind::Request)
            .with_code(code.0)
            .with_txn(txn)
            .with_flags(flags | nested);
        conn.expect(txn)?;
        conn.chan.will_read();
        if let Err(e) = conn.chan.send(&header, &payload, &borrow_all(&fds)) {
            conn.forget(txn);
            if matches!(e, afbus_transport::Error::HungUp) {
                self.conn_died(&conn);
            }
            return Err(dead_if_hung_up(e));
        }
        drop((payload, fds, objects));
        let reply = conn.wait_reply(
            txn,
            deadline,
            |nested| self.serve(&conn, nested, Route::Nested, false),
            |work| self.take_work(&conn, work),
            || self.conn_died(&conn),
            |c, st| self.rearm(c, st),
        )?;
        Ok((reply, conn))
    }

    pub(crate) fn oneway(
        self: &Arc<Self>,
        proxy: &Proxy,
        code: TransactionCode,
        data: Parcel,
        mode: OnewayMode,
    ) -> Result<()> {
        let info = CallInfo {
            target: proxy.target,
            caller_runtime: self.id,
            nested_in: 0,
            priority: self.caller_priority(),
        };
        let Outgoing {
            payload,
            fds,
            flags,
            objects: _keep,
        } = self.encode_call(data, &info, Recipient::owner_of(proxy), &proxy.conn)?;
        let header = Header::new(FrameKind::OneWay)
            .with_code(code.0)
            .with_flags(flags);
        let fds = borrow_all(&fds);
        let sent = match mode {
            OnewayMode::FailWhenFull => {
                let deadline = Instant::now() + crate::object::ONEWAY_ROOM_WAIT;
                proxy
                    .conn
                    .chan
                    .send_until(&header, &payload, &fds, Some(deadline))
            }
            OnewayMode::WaitWhenFull => proxy.conn.chan.send(&header, &payload, &fds),
        };
        sent.map_err(|e| match e {
            afbus_transport::Error::HungUp => {
                self.conn_died(&proxy.conn);
                dead_if_hung_up(e)
            }
            afbus_transport::Error::WouldBlock | afbus_transport::Error::TimedOut => {
                if !proxy.refusal_logged.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        owner_pid = proxy.owner_pid,
                        "a one-way call was refused: the receiver took no more for {:?} (it \
                         stopped reading, or holds MAX_PENDING_ONEWAY_BYTES of this channel's \
                         calls or MAX_ONEWAY_BYTES_PER_SENDER of this process's); logged once \
                         per object",
                        crate::object::ONEWAY_ROOM_WAIT
                    );
                }
                Error::new(
                    StatusCode::WOULD_BLOCK,
                    "the receiver's one-way buffer is full",
                )
            }
            e => dead_if_hung_up(e),
        })
    }

    fn caller_priority(&self) -> Priority {
        if self.config.inherit_priority {
            Priority::current().unwrap_or(Priority::DEFAULT)
        } else {
            Priority::DEFAULT
        }
    }

    /// The parcel a received body stands for, its objects made real: reference channels
    /// imported (or recognised as ours come home), objects given over `conn` as proxies that
    /// call them there, and ours come home over it by key.
    fn to_parcel(
        &self,
        body: call::Body,
        mut fds: Vec<OwnedFd>,
        conn: &Arc<Conn>,
        homes: Vec<Option<Arc<LocalObject>>>,
    ) -> Result<Parcel> {
        let mut channels = fds.split_off(body.parcel_fds).into_iter();
        let mut homes = homes.into_iter();
        let mut objects = Vec::with_capacity(body.objects.len());
        for entry in body.objects {
            let object = match entry {
                WireObject::Given { key, number, owner } => {
                    self.receive_give(conn, key, number, owner)?
                }
                // Pinned when the frame was read (see `Incoming`).
                WireObject::Home { .. } => match homes.next().flatten() {
                    Some(obj) => SpIBinder(Kind::Local(obj)),
                    None => {
                        return Err(Error::new(
                            StatusCode::BAD_VALUE,
                            "an object said to be ours that was not given over this channel",
                        ))
                    }
                },
                WireObject::Channel => {
                    let fd = channels.next().ok_or_else(|| {
                        Error::new(StatusCode::BAD_VALUE, "a channel without its fd")
                    })?;
                    match self.home(&fd) {
                        Some(obj) => SpIBinder(Kind::Local(obj)),
                        None => {
                            let channel = Channel::from_fd(fd);
                            // A minted channel was made by the object's owner: its
                            // SO_PEERCRED is the owner's.
                            let maker = channel.socket_peer_credentials().map_or(0, |c| c.pid);
                            self.import(channel, maker, None)?
                        }
                    }
                }
            };
            objects.push(object);
        }
        Ok(Parcel::from_wire(body.data, fds, objects))
    }

    // ---- incoming calls ----

    /// Serves one request or one-way call that arrived on `conn`, and replies to a request.
    /// `stay`: this thread reads the channel again right after (see [`SHM_LINGER`]).
    fn serve(self: &Arc<Self>, conn: &Arc<Conn>, incoming: Incoming, route: Route, stay: bool) {
        let frame = &incoming.frame;
        let oneway = frame.header.kind == FrameKind::OneWay;
        let txn = frame.header.txn;
        let caller = call::peek_caller(&frame.payload).unwrap_or(0);
        let caller_pid = frame.creds.map_or(0, |c| c.pid);
        let minting = frame.header.code == TransactionCode::MINT.0;
        // While a synchronous call is served (its reply included, which may mint references),
        // calls to the caller's process go back over this channel to its waiting thread. A
        // one-way caller waits for nothing: calls from its handler take the ordinary route.
        if !oneway {
            CURRENT.with(|c| {
                c.borrow_mut().push(CurrentCall {
                    runtime: self.id,
                    conn: conn.clone(),
                    txn,
                    caller,
                    caller_pid,
                })
            });
        }
        // Held until the reply is sent.
        let slot = match (oneway, route) {
            (false, Route::Fresh) => self.call_slot(conn, frame.creds),
            _ => Ok(None),
        };
        let result = match &slot {
            Ok(_) => self.run(conn, incoming, oneway, route),
            Err(status) => Err(status.clone()),
        };
        let reply = (!oneway).then(|| {
            let (result, pid) = match result {
                Ok((parcel, pid)) => (Ok(parcel), pid),
                Err(status) => (Err(status), caller_pid),
            };
            let to = Recipient {
                pid,
                runtime: caller,
            };
            // Objects in the reply are given over this channel when they are for the caller; a
            // reference minted for another process is a channel of its own.
            let over = (pid == caller_pid && !minting).then_some(conn);
            self.encode_reply(result, to, over)
        });
        if !oneway {
            CURRENT.with(|c| c.borrow_mut().pop());
        }
        if let Some(Outgoing {
            payload,
            fds,
            flags,
            objects: _keep,
        }) = reply
        {
            let header = Header::new(FrameKind::Reply)
                .with_txn(txn)
                .with_flags(flags);
            if stay {
                conn.chan.will_read();
            }
            // A channel that carries calls moves to shared memory: offered with its first reply,
            // not when it is made, so a reference only passed along never pays for a mapping.
            // At most MAX_RINGS_PER_PEER per peer process: its other channels stay on the socket.
            if self.config.shm
                && matches!(conn.end, End::Owner(_))
                && !conn.ring_tried.swap(true, Ordering::Relaxed)
                && self.peers.charge(conn.peer, Held::Ring).is_ok()
            {
                // Under the channel's lock: either `conn_died` sees the ring and gives it back,
                // or we see the channel dead and do.
                let st = conn.lock();
                if st.dead {
                    drop(st);
                    self.peers.refund(conn.peer, Held::Ring);
                } else {
                    conn.ring.store(true, Ordering::Relaxed);
                    drop(st);
                    let _ = conn.chan.offer_shm();
                }
            }
            let deadline = Instant::now() + self.config.reply_timeout;
            crate::reply::send_reply(&conn.chan, &header, &payload, &borrow_all(&fds), deadline);
        }
    }

    /// A place among the synchronous calls of the caller's uid being served, if they are
    /// bounded ([`RuntimeConfig::max_calls_per_uid`]); an error if the uid has them all.
    fn call_slot(
        &self,
        conn: &Arc<Conn>,
        sent: Option<afbus_transport::Credentials>,
    ) -> std::result::Result<Option<CallSlot>, Status> {
        let Some(max) = self.config.max_calls_per_uid else {
            return Ok(None);
        };
        let uid = conn.chan.sender(sent).map_or(u32::MAX, |c| c.uid);
        if uid == 0 || uid == nix::unistd::geteuid().as_raw() {
            return Ok(None);
        }
        let mut calls = self.calls_by_uid.lock();
        let n = calls.entry(uid).or_insert(0);
        if *n >= max {
            return Err(Status::new_exception(
                crate::status::ExceptionCode::ILLEGAL_STATE,
                format!("uid {uid} has {n} calls being served here (max_calls_per_uid); try again"),
            ));
        }
        *n += 1;
        Ok(Some(CallSlot {
            calls: self.calls_by_uid.clone(),
            uid,
        }))
    }

    fn run(
        self: &Arc<Self>,
        conn: &Arc<Conn>,
        incoming: Incoming,
        oneway: bool,
        route: Route,
    ) -> std::result::Result<(Parcel, i32), Status> {
        let Incoming {
            mut frame,
            target,
            homes,
        } = incoming;
        let code = TransactionCode(frame.header.code);
        // The process the kernel named, with its uid and gid as of now, when first asked.
        let caller = Caller::of_frame(conn, frame.creds);
        let spilled = unspill(&mut frame).map_err(Status::from)?;
        let (mut body, info) =
            call::decode_call(frame.payload, frame.fds.len()).map_err(Status::from)?;
        with_spilled(&mut body, spilled).map_err(Status::from)?;
        // The channel's own object (target 0) or one given over it, as the channel named them
        // when the call was read; in a call nested in one of ours, also any object of ours
        // named by the key of a live reference: a peer reaches only what it was given.
        let object = target.or_else(|| match (info.target, route) {
            (0, _) => None,
            (key, Route::Nested) => self.keys.lock().get(&key).cloned(),
            _ => None,
        });
        let object = object.ok_or_else(|| Status::from(StatusCode::NAME_NOT_FOUND))?;
        let mut data = self
            .to_parcel(body, frame.fds, conn, homes)
            .map_err(Status::from)?;
        // The priority is the caller's word: it may raise ours only if the caller could act as
        // this process anyway (root, or our own uid); anyone may lower it.
        let guard = self.config.inherit_priority.then(|| {
            PriorityGuard::for_call(info.priority, || {
                let uid = caller.get().uid;
                uid == 0 || uid == nix::unistd::geteuid().as_raw()
            })
        });
        let ctx = CallContext {
            caller,
            priority: info.priority,
            priority_applied: guard.as_ref().is_some_and(|g| g.applied),
            oneway,
        };
        let mut reply = Parcel::new();
        // Whom the reply's references are for: the caller, unless a MINT says otherwise.
        let mut holder = ctx.caller.sent_pid();
        let result = match code {
            TransactionCode::PING => Ok(()),
            TransactionCode::INTERFACE => {
                reply.write_str(object.binder.descriptor());
                Ok(())
            }
            TransactionCode::MINT => {
                // A reference minted for a third process is charged to it if the caller (the
                // service manager, say) may vouch for it: root, or our own uid. Anyone else
                // holds what it has minted.
                let me = nix::unistd::geteuid().as_raw();
                let trusted = matches!(ctx.caller().uid, 0) || ctx.caller().uid == me;
                if let (true, Ok(pid)) = (trusted, data.read_i32()) {
                    holder = pid;
                }
                reply.write_binder(&SpIBinder(Kind::Local(object.clone())));
                Ok(())
            }
            c if c.is_builtin() => Err(Status::from(StatusCode::UNKNOWN_TRANSACTION)),
            c => dispatch(&*object.binder, c, &mut data, &mut reply, &ctx),
        };
        drop(guard);
        result.map(|()| (reply, holder))
    }

    /// Runs an object's queued one-way calls in order until the queue is empty.
    fn drain(self: &Arc<Self>, obj: &Arc<LocalObject>) {
        loop {
            let next = {
                let mut q = obj.oneway.lock();
                let next = q.calls.pop_front();
                if next.is_none() {
                    q.running = false;
                }
                next
            };
            let Some((conn, incoming)) = next else { return };
            let bytes = incoming.frame.payload.len();
            let pid = incoming.frame.creds.map_or(0, |c| c.pid);
            self.serve(&conn, incoming, Route::Fresh, false);
            self.read_ahead(&conn);
            for c in conn.oneway_done(bytes, pid) {
                if self.rearm(&c, &mut c.lock()) {
                    self.queue_work(&c, Work::Poll);
                }
            }
        }
    }

    /// Takes what waits on a socket channel's socket while its one-way calls run: they are ours
    /// to hold (up to [`MAX_PENDING_ONEWAY_BYTES`](crate::MAX_PENDING_ONEWAY_BYTES), then
    /// reading pauses), not the sender's socket buffer's, which holds far fewer frames and would
    /// refuse the sender's next one-way call while we have room. (On a ring the sender has room
    /// for as much as we would read.)
    fn read_ahead(self: &Arc<Self>, conn: &Arc<Conn>) {
        if !conn.lock().links.serves(&conn.end) || conn.chan.is_shm() {
            return;
        }
        loop {
            match conn.linger(Instant::now(), |c, st| self.rearm(c, st)) {
                Read::Queued => {}
                Read::Release { key, count } => self.release(conn, key, count),
                Read::Drain(obj) => self.queue_work(conn, Work::Drain(obj)),
                // A synchronous call is not read ahead past: it goes to the pool and reading
                // stops, so that a peer cannot pile calls up in memory behind one-way ones.
                Read::Fresh(frame) => return self.queue_work(conn, Work::Call(frame)),
                Read::HungUp => return self.conn_died(conn),
                Read::Nothing | Read::Busy => return,
            }
        }
    }

    /// Before work that may take long: frames the last read left in the ring go to a looper.
    fn hand_on(&self, conn: &Arc<Conn>) {
        if conn.take_more() {
            self.queue_work(conn, Work::Poll);
        }
    }

    fn queue_work(&self, conn: &Arc<Conn>, work: Work) {
        self.work.lock().push_back((conn.clone(), work));
        let _ = self.work_fd.write(1);
        self.maybe_spawn(false);
    }

    fn do_work(self: &Arc<Self>, conn: &Arc<Conn>, work: Work) {
        match work {
            Work::Call(frame) => self.serve(conn, frame, Route::Fresh, false),
            Work::Drain(obj) => self.drain(&obj),
            Work::Poll => self.poll_conn(conn),
            Work::Release { key, count } => self.release(conn, key, count),
        }
    }

    /// Work a thread waiting for a reply read: a release it does at once (it is quick and
    /// must not wait behind calls), the rest goes to the pool.
    fn take_work(self: &Arc<Self>, conn: &Arc<Conn>, work: Work) {
        match work {
            Work::Release { key, count } => self.release(conn, key, count),
            work => self.queue_work(conn, work),
        }
    }

    // ---- the pool ----

    /// Spawns a looper if `first`, or if every looper is busy and the pool may grow.
    fn maybe_spawn(&self, first: bool) {
        if !first && self.idle.load(Ordering::SeqCst) > 0 {
            return;
        }
        let mut spawned = self.spawned.lock();
        if (first && *spawned > 0)
            || *spawned >= self.config.max_threads
            || self.stopping.load(Ordering::SeqCst)
        {
            return;
        }
        *spawned += 1;
        drop(spawned);
        let rt = self.arc();
        let thread = std::thread::Builder::new().name("afbus-looper".into());
        if thread.spawn(move || rt.looper()).is_err() {
            *self.spawned.lock() -= 1;
        }
    }

    fn looper(self: &Arc<Self>) {
        if let Some(ceiling) = self.config.priority_ceiling {
            let taken = crate::priority::take_ceiling(ceiling);
            if let (Err(e), false) = (taken, self.ceiling_warned.swap(true, Ordering::Relaxed)) {
                tracing::warn!(
                    ?ceiling,
                    "loopers wait at their own priority, not the ceiling: {e}"
                );
            }
        }
        self.loopers.fetch_add(1, Ordering::SeqCst);
        self.serve_epoll();
        self.loopers.fetch_sub(1, Ordering::SeqCst);
        crate::priority::leave_ceiling();
    }

    /// Without a looper nobody hears a reference's holder hang up: before minting more, a
    /// runtime with none reaps the owner ends that did (their fds and references), and re-arms
    /// whatever else the poll took.
    fn reap_without_loopers(&self) {
        if self.loopers.load(Ordering::SeqCst) > 0 {
            return;
        }
        let mut events = [EpollEvent::empty(); 64];
        let Ok(n) = self.epoll.wait(&mut events, EpollTimeout::ZERO) else {
            return;
        };
        for ev in &events[..n] {
            let Some(conn) = self.conns.lock().get(&ev.data()).cloned() else {
                continue;
            };
            // An owner end's holder is gone: the reference is dropped. (A client end keeps what
            // came before its hang-up for the thread that will read it.)
            let hung_up = ev
                .events()
                .intersects(EpollFlags::EPOLLHUP | EpollFlags::EPOLLERR);
            if hung_up && matches!(conn.end, End::Owner(_)) {
                self.conn_died(&conn);
            } else {
                let mut st = conn.lock();
                st.armed = false;
                self.rearm(&conn, &mut st);
            }
        }
    }

    fn serve_epoll(self: &Arc<Self>) {
        let mut events = [EpollEvent::empty(); 1];
        loop {
            self.idle.fetch_add(1, Ordering::SeqCst);
            let n = self.epoll.wait(&mut events, EpollTimeout::NONE);
            self.idle.fetch_sub(1, Ordering::SeqCst);
            if self.stopping.load(Ordering::SeqCst) {
                return;
            }
            match n {
                Ok(1) => {}
                Ok(_) | Err(Errno::EINTR) => continue,
                Err(_) => return,
            }
            match events[0].data() {
                STOP => return,
                WORK => {
                    if self.work_fd.read().is_err() {
                        continue;
                    }
                    let Some((conn, work)) = self.work.lock().pop_front() else {
                        continue;
                    };
                    self.maybe_spawn(false);
                    self.do_work(&conn, work);
                }
                token => {
                    let Some(conn) = self.conns.lock().get(&token).cloned() else {
                        continue;
                    };
                    self.poll_conn(&conn);
                }
            }
        }
    }

    /// Handles an epoll event on a channel: one frame for an owner end, then, on shared
    /// memory, the next calls as long as they come within [`SHM_LINGER`]; for a client end
    /// (which only reports hang-ups) everything left before the hang-up, so no reply is lost.
    fn poll_conn(self: &Arc<Self>, conn: &Arc<Conn>) {
        let owner = matches!(conn.end, End::Owner(_));
        let mut linger: Option<Instant> = None;
        loop {
            let serves = conn.lock().links.serves(&conn.end);
            let read = match linger {
                None => conn.poll_once(|c, st| self.rearm(c, st)),
                Some(until) => conn.linger(until, |c, st| self.rearm(c, st)),
            };
            match read {
                Read::HungUp => return self.conn_died(conn),
                Read::Busy => {
                    // The thread reading the channel may sleep on its ring: make it look at
                    // the socket this event was about.
                    if linger.is_none() {
                        conn.chan.kick();
                    }
                    return;
                }
                Read::Fresh(frame) => {
                    self.hand_on(conn);
                    self.maybe_spawn(false);
                    // Stay only while another looper waits in epoll for every other channel.
                    let stay = owner && self.idle.load(Ordering::SeqCst) > 0 && conn.chan.is_shm();
                    self.serve(conn, frame, Route::Fresh, stay);
                    if !stay {
                        return;
                    }
                    linger = Some(Instant::now() + SHM_LINGER);
                    continue;
                }
                Read::Drain(obj) => {
                    self.hand_on(conn);
                    self.maybe_spawn(false);
                    self.drain(&obj);
                    // The next one-way call is likely near: read it off the ring instead of
                    // making its sender ring the socket doorbell.
                    if linger.is_none()
                        && owner
                        && self.idle.load(Ordering::SeqCst) > 0
                        && conn.chan.is_shm()
                    {
                        linger = Some(Instant::now() + SHM_LINGER);
                    }
                }
                Read::Release { key, count } => self.release(conn, key, count),
                Read::Nothing | Read::Queued => {}
            }
            // Frames left in the ring: read on (nobody else hears of them).
            if serves && conn.take_more() {
                continue;
            }
            match linger {
                Some(until) if Instant::now() < until => {}
                // An end that serves was woken for what came and has read it; any other end
                // reports only its hang-up, and everything before it is read.
                _ if serves => return,
                _ => {}
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

/// True if `data_len` bytes of parcel data and `fds` fds and objects fit one frame, the trailer
/// and object entries included.
fn fits_frame(data_len: usize, fds: usize) -> bool {
    data_len + fds * 16 + 64 <= MAX_PAYLOAD_BYTES
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
    if !fits_frame(data_len, fds) {
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
