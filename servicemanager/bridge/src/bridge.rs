//! The bridge at work: a bus client on one side, a Zenoh peer on the other.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant};

use afbus_binder::{
    on_behalf_of, Binder, Blob, CallContext, DeathRecipient, Error, ObjectId, Parcel, Runtime,
    RuntimeConfig, SpIBinder, Status, StatusCode, TransactionCode, WeakBinder,
};
use afbus_servicemanager::{Op, Policy, ServiceManager};
use afbus_transport::{BusSocket, Event, Fields, UniqueId};
use crossbeam_channel::Sender;
use parking_lot::Mutex;
use zenoh::bytes::Encoding;
use zenoh::liveliness::LivelinessToken;
use zenoh::query::{ConsolidationMode, Querier, Query, QueryTarget};
use zenoh::sample::{Locality, SampleKind};
use zenoh::Wait;

use crate::config::{Config, Import};
use crate::envelope::{Body, EnvelopeError, Failure, ObjectRef, Signal};
use crate::keys::{self, Live, Target};
use crate::pool::Pool;

/// The most threads serving peers' calls at once; past it, calls wait for one.
pub const MAX_CALL_THREADS: usize = 64;
/// The most of those threads one peer's calls may hold at once, so that a peer whose calls are
/// slow leaves threads for the others; its other calls wait their turn.
pub const MAX_CALL_THREADS_PER_PEER: usize = MAX_CALL_THREADS * 3 / 4;
/// How long, beyond the call timeout, an object given to a peer is kept for it before the
/// peer's holder token arrives (a call queued there, a reply on its way, a peer slow to
/// declare). An object no peer holds after the call timeout and this is let go.
pub const GIVEN_GRACE: Duration = Duration::from_secs(5);
/// The encoding of an error reply that carries a [`Failure`]; any other error reply is Zenoh's.
const STATUS_ENCODING: &str = "application/x-afbus-status";
/// The most peers' signals waiting to be sent on the bus; past it, new ones are dropped (as
/// the bus drops a slow reader's).
pub const SIGNALS_QUEUED: usize = 1024;
/// The most peers' calls waiting for a thread; past it a call is refused with `WOULD_BLOCK`.
pub const MAX_QUEUED_CALLS: usize = 1024;
/// The most peers' one-way calls waiting to be delivered; past it one is dropped.
pub const MAX_QUEUED_ONEWAY: usize = 1024;
/// The most bytes of peers' calls and one-way calls waiting, together; past it a call is
/// refused with `WOULD_BLOCK` and a one-way call dropped. (Zenoh refuses any message larger
/// than a bridged payload may be, `MAX_BRIDGED_BYTES` and its framing.)
pub const MAX_QUEUED_BYTES: usize = 256 * 1024 * 1024;

/// Why a bridge did not start.
#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    /// The policy file does not compile.
    #[error("policy: {0}")]
    Policy(#[from] afbus_servicemanager::ConfigError),
    /// Zenoh refused the configuration or could not open.
    #[error("zenoh: {0}")]
    Zenoh(String),
    /// The bus could not be joined.
    #[error("bus: {0}")]
    Bus(#[from] Error),
    /// A thread could not be started.
    #[error("spawn: {0}")]
    Spawn(#[from] std::io::Error),
}

fn zenoh_error(e: impl std::fmt::Display) -> BridgeError {
    BridgeError::Zenoh(e.to_string())
}

/// A running bridge; dropping it leaves the Zenoh session and stops serving.
pub struct Bridge {
    shared: Arc<Shared>,
    _declared: Vec<Declared>,
}

enum Declared {
    Queryable(#[allow(dead_code)] zenoh::query::Queryable<()>),
    Subscriber(#[allow(dead_code)] zenoh::pubsub::Subscriber<()>),
}

struct Shared {
    me: String,
    session: zenoh::Session,
    rt: Arc<Runtime>,
    bus: PathBuf,
    policy: Policy,
    call_timeout: Duration,
    objects_per_peer: usize,
    /// How long a gift waits for the peer's holder token: the call timeout and GIVEN_GRACE.
    grace: Duration,
    stop: AtomicBool,
    /// Exported names and the service each names now (looked up when first called).
    exports: HashMap<String, Mutex<Option<SpIBinder>>>,
    imports: Vec<Import>,
    peers: Vec<String>,
    /// Imported names whose peer holds their token now, by (peer, name).
    alive: Mutex<HashSet<(String, String)>>,
    /// Imported names shown on the bus: by (peer, name), the stand-in and its name here.
    shown: Mutex<HashMap<(String, String), Shown>>,
    given: Mutex<Given>,
    stand_ins: Mutex<StandIns>,
    /// The threads serving peers' calls (with their payloads' sizes), fair between peers.
    calls: Arc<Pool<(Query, usize)>>,
    /// Bytes of peers' calls and one-way calls waiting (see MAX_QUEUED_BYTES).
    queued_bytes: AtomicUsize,
}

/// An imported name on the bus: its stand-in, and the reference the bus was given.
struct Shown {
    remote: Arc<Remote>,
    binder: SpIBinder,
}

/// Objects of this bus given to peers.
#[derive(Default)]
struct Given {
    by_id: HashMap<(String, u64), Gift>,
    by_object: HashMap<(String, ObjectId), u64>,
    /// How many objects each peer holds.
    per_peer: HashMap<String, usize>,
    next: u64,
}

struct Gift {
    binder: SpIBinder,
    /// Whether the peer's holder token is there.
    held: bool,
    /// When the peer's holder token last came: a gift not given again since is let go as soon
    /// as the token goes.
    held_at: Option<Instant>,
    /// When it was last given.
    given_at: Instant,
    /// Held while the object lives (declared once the gift is in the table, outside its lock).
    _live: Option<LivelinessToken>,
}

/// Peers' objects stood in for on this bus.
#[derive(Default)]
struct StandIns {
    by_key: HashMap<(String, u64), (WeakBinder, Weak<Remote>)>,
    /// The peer and id behind each stand-in, by the stand-in's identity here.
    origin: HashMap<ObjectId, (String, u64)>,
}

impl Bridge {
    /// Opens the Zenoh session, joins the bus, and starts exporting and importing what
    /// `config` names.
    pub fn start(config: &Config) -> Result<Bridge, BridgeError> {
        let policy = match &config.policy {
            Some(path) => Policy::load(path, nix::unistd::geteuid().as_raw())?,
            None => Policy::owner_only(nix::unistd::geteuid().as_raw()),
        };
        let bus = afbus_servicemanager::bus_path(config.bus.clone()).path;
        let zconfig =
            zenoh::Config::from_json5(&config.zenoh_json().to_string()).map_err(zenoh_error)?;
        let session = zenoh::open(zconfig).wait().map_err(zenoh_error)?;
        // Each call out to a peer holds a looper until the peer answers.
        let rt = Arc::new(Runtime::new(RuntimeConfig {
            max_threads: MAX_CALL_THREADS,
            ..RuntimeConfig::default()
        })?);
        rt.start_thread_pool();
        let shared = Arc::new_cyclic(|me: &Weak<Shared>| Shared {
            me: config.name.clone(),
            session,
            rt,
            bus,
            policy,
            call_timeout: config.call_timeout,
            objects_per_peer: config.objects_per_peer,
            grace: config.call_timeout + GIVEN_GRACE,
            stop: AtomicBool::new(false),
            exports: config
                .exports
                .iter()
                .map(|n| (n.clone(), Mutex::new(None)))
                .collect(),
            imports: config.imports.clone(),
            peers: config.peers.clone(),
            alive: Mutex::default(),
            shown: Mutex::default(),
            given: Mutex::new(Given {
                next: random_u64(),
                ..Given::default()
            }),
            stand_ins: Mutex::default(),
            calls: {
                let me = me.clone();
                Pool::new(
                    "afbus-bridge-call",
                    MAX_CALL_THREADS,
                    MAX_CALL_THREADS_PER_PEER,
                    MAX_QUEUED_CALLS,
                    move |(query, len): (Query, usize)| {
                        if let Some(shared) = me.upgrade() {
                            shared.give_queue_room(len);
                            shared.serve_query(query);
                        }
                    },
                )
            },
            queued_bytes: AtomicUsize::new(0),
        });
        let mut declared = Vec::new();
        let weak = Arc::downgrade(&shared);
        let s = &shared.session;

        let w = weak.clone();
        declared.push(Declared::Queryable(
            s.declare_queryable(keys::all_to(&shared.me, "call"))
                .allowed_origin(Locality::Remote)
                .callback(move |query| {
                    if let Some(shared) = w.upgrade() {
                        shared.dispatch(query);
                    }
                })
                .wait()
                .map_err(zenoh_error)?,
        ));

        // Zenoh's reader never waits here: a one-way call that finds the queue full (or the
        // bytes queued at their bound) is dropped, as a local one-way call to a full receiver
        // fails with WOULD_BLOCK; the sender is a peer that outran the services it calls.
        let (oneway_tx, oneway_rx) =
            crossbeam_channel::bounded::<(String, Vec<u8>)>(MAX_QUEUED_ONEWAY);
        let w = weak.clone();
        declared.push(Declared::Subscriber(
            s.declare_subscriber(keys::all_to(&shared.me, "oneway"))
                .allowed_origin(Locality::Remote)
                .callback(move |sample| {
                    let Some(shared) = w.upgrade() else { return };
                    let len = sample.payload().len();
                    if !shared.take_queue_room(len) {
                        tracing::warn!(key = %sample.key_expr(), "one-way call dropped: queue full");
                        return;
                    }
                    let call = (
                        sample.key_expr().as_str().to_string(),
                        sample.payload().to_bytes().into_owned(),
                    );
                    if oneway_tx.try_send(call).is_err() {
                        shared.give_queue_room(len);
                        tracing::warn!(key = %sample.key_expr(), "one-way call dropped: queue full");
                    }
                })
                .wait()
                .map_err(zenoh_error)?,
        ));
        let w = weak.clone();
        spawn("afbus-bridge-oneway", move || {
            for (key, payload) in oneway_rx {
                let Some(shared) = w.upgrade() else { return };
                shared.give_queue_room(payload.len());
                shared.serve_oneway(&key, &payload);
            }
        })?;

        let w = weak.clone();
        declared.push(Declared::Subscriber(
            s.liveliness()
                .declare_subscriber(format!("afbus/{}/ref/**", shared.me))
                .history(true)
                .callback(move |sample| {
                    if let Some(shared) = w.upgrade() {
                        shared.holder_changed(
                            sample.key_expr().as_str(),
                            sample.kind() == SampleKind::Put,
                        );
                    }
                })
                .wait()
                .map_err(zenoh_error)?,
        ));

        // What each peer holds for this bridge: its exported names and the objects it gave.
        let (live_tx, live_rx) = crossbeam_channel::unbounded::<(Live, bool)>();
        for peer in &config.peers {
            let live_tx = live_tx.clone();
            declared.push(Declared::Subscriber(
                s.liveliness()
                    .declare_subscriber(keys::live_for(peer, &shared.me))
                    .history(true)
                    .callback(move |sample| {
                        if let Some(live) = keys::parse_live(sample.key_expr().as_str()) {
                            let _ = live_tx.send((live, sample.kind() == SampleKind::Put));
                        }
                    })
                    .wait()
                    .map_err(zenoh_error)?,
            ));
        }
        let w = weak.clone();
        spawn("afbus-bridge-live", move || {
            for (live, alive) in live_rx {
                let Some(shared) = w.upgrade() else { return };
                shared.live_changed(live, alive);
            }
        })?;

        declared.extend(start_signals(&shared, config)?);

        for name in config.exports.clone() {
            let w = weak.clone();
            spawn("afbus-bridge-export", move || watch_export(&w, &name))?;
        }
        let w = weak;
        spawn("afbus-bridge-sweep", move || loop {
            std::thread::sleep(GIVEN_GRACE / 5);
            let Some(shared) = w.upgrade() else { return };
            if shared.stop.load(Ordering::Relaxed) {
                return;
            }
            shared.sweep();
        })?;
        tracing::info!(
            name = %config.name,
            exports = config.exports.len(),
            imports = config.imports.len(),
            "bridge up"
        );
        Ok(Bridge {
            shared,
            _declared: declared,
        })
    }

    /// This bridge's runtime on the bus (the stand-ins for peers' objects live there).
    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.shared.rt
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        self.shared.rt.shutdown();
    }
}

/// 64 random bits from the kernel (time and pid if it cannot give them).
fn random_u64() -> u64 {
    use std::io::Read as _;
    let mut bytes = [0u8; 8];
    match std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes)) {
        Ok(()) => u64::from_le_bytes(bytes),
        Err(_) => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            (now.as_nanos() as u64) ^ (u64::from(std::process::id()) << 32)
        }
    }
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .map(drop)
}

/// Starts relaying signals: the bus's signals with an exported `member` to each peer the
/// policy lets receive it, and peers' imported signals onto the bus if the policy lets the
/// peer send them.
fn start_signals(shared: &Arc<Shared>, config: &Config) -> Result<Vec<Declared>, BridgeError> {
    let mut declared = Vec::new();
    if config.export_signals.is_empty() && config.import_signals.is_empty() {
        return Ok(declared);
    }
    let sender = Arc::new(BusSocket::connect(&shared.bus).map_err(Error::from)?);
    if !config.export_signals.is_empty() {
        let listener = BusSocket::connect(&shared.bus).map_err(Error::from)?;
        for member in &config.export_signals {
            listener
                .add_match(&Fields::new().with("member", member.as_str()))
                .map_err(Error::from)?;
        }
        let w = Arc::downgrade(shared);
        let peers = config.peers.clone();
        let ours = sender.id();
        spawn("afbus-bridge-signals-out", move || {
            relay_out(&w, &listener, ours, &peers)
        })?;
    }
    let (tx, rx) = crossbeam_channel::bounded::<Signal>(SIGNALS_QUEUED);
    for (from, member) in &config.import_signals {
        if !shared.policy.allows_remote(Op::Send, from, member) {
            tracing::warn!(%from, %member, "the policy does not let the peer send these signals");
            continue;
        }
        let tx = tx.clone();
        let wanted = member.clone();
        declared.push(Declared::Subscriber(
            shared
                .session
                .declare_subscriber(keys::signal(from, &shared.me, member))
                .allowed_origin(Locality::Remote)
                .callback(move |sample| {
                    let Ok(signal) = Signal::decode(&sample.payload().to_bytes()) else {
                        return;
                    };
                    // Only the member the key names, once: the peer chooses nothing else here.
                    if signal.only_member() == Some(wanted.as_str()) {
                        // Full: dropped, as the bus drops a slow reader's oldest signals.
                        let _ = tx.try_send(signal);
                    }
                })
                .wait()
                .map_err(zenoh_error)?,
        ));
    }
    spawn("afbus-bridge-signals-in", move || {
        for signal in rx {
            let fields = signal
                .fields
                .iter()
                .fold(Fields::new(), |f, (k, v)| f.with(k.as_str(), v.as_str()));
            if let Err(e) = sender.send_signal(&fields, &signal.body) {
                tracing::warn!(error = %e, "cannot send a peer's signal on the bus");
            }
        }
    })?;
    Ok(declared)
}

/// Sends the bus's signals that `listener` matches to each peer the policy lets receive them;
/// not those `ours` (the bridge's own sender) put on the bus.
fn relay_out(shared: &Weak<Shared>, listener: &BusSocket, ours: UniqueId, peers: &[String]) {
    loop {
        let event = listener.recv_event(Some(Duration::from_millis(500)));
        let Some(s) = shared.upgrade() else { return };
        if s.stop.load(Ordering::Relaxed) {
            return;
        }
        let signal = match event {
            Ok(Event::Signal(signal)) if signal.sender != ours => signal,
            Ok(_) | Err(afbus_transport::Error::TimedOut) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "signals are no longer relayed");
                return;
            }
        };
        let mut members = signal.fields.iter().filter(|(k, _)| *k == "member");
        let (Some((_, member)), None) = (members.next(), members.next()) else {
            continue; // no member, or two: which the bus matched is not one policy answer
        };
        let bridged = Signal {
            fields: signal
                .fields
                .iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            body: signal.body.clone(),
        };
        let Ok(payload) = bridged.encode() else {
            continue;
        };
        for peer in peers {
            if s.policy.allows_remote(Op::Receive, peer, member) {
                let key = keys::signal(&s.me, peer, member);
                if let Err(e) = s
                    .session
                    .put(key, payload.clone())
                    .allowed_destination(Locality::Remote)
                    .wait()
                {
                    tracing::debug!(%peer, error = %e, "signal not sent");
                }
            }
        }
    }
}

/// Shows `import` on the bus, trying again (backing off to 10 s) while its peer holds its
/// token: a peer busy or slow when the token came does not hide the name for good.
fn show_while_alive(bridge: &Weak<Shared>, import: &Import) {
    let key = (import.from.clone(), import.name.clone());
    let mut wait = Duration::from_millis(200);
    loop {
        let Some(b) = bridge.upgrade() else { return };
        if b.stop.load(Ordering::Relaxed) || !b.alive.lock().contains(&key) || b.show(import) {
            return;
        }
        drop(b);
        std::thread::sleep(wait);
        wait = (wait * 2).min(Duration::from_secs(10));
    }
}

/// Keeps the exported `name`'s liveliness token up while the service is on the bus.
fn watch_export(shared: &Weak<Shared>, name: &str) {
    struct Died(Sender<()>);
    impl DeathRecipient for Died {
        fn binder_died(&self) {
            let _ = self.0.send(());
        }
    }
    let mut sm: Option<ServiceManager> = None;
    loop {
        let Some(s) = shared.upgrade() else { return };
        if s.stop.load(Ordering::Relaxed) {
            return;
        }
        if sm
            .as_ref()
            .is_none_or(|m| !m.proxy().as_binder().is_alive())
        {
            sm = ServiceManager::connect(&s.rt, &s.bus).ok();
        }
        let found = sm
            .as_ref()
            .map(|m| m.wait_for_service(name, Duration::from_secs(1)));
        let service = match found {
            Some(Ok(service)) => service,
            Some(Err(_)) => continue,
            None => {
                drop(s);
                std::thread::sleep(Duration::from_millis(500));
                continue;
            }
        };
        let (tx, rx) = crossbeam_channel::bounded(1);
        let recipient: Arc<dyn DeathRecipient> = Arc::new(Died(tx));
        if service.link_to_death(recipient.clone()).is_err() {
            continue;
        }
        if let Some(slot) = s.exports.get(name) {
            *slot.lock() = Some(service.clone());
        }
        // A token for each peer the policy lets find the name: the others do not learn of it.
        let mut tokens = Vec::new();
        for peer in s
            .peers
            .iter()
            .filter(|p| s.policy.allows_remote(Op::Find, p, name))
        {
            match s
                .session
                .liveliness()
                .declare_token(keys::live_service(&s.me, peer, name))
                .wait()
            {
                Ok(token) => tokens.push(token),
                Err(e) => tracing::warn!(%name, %peer, error = %e, "cannot declare the export"),
            }
        }
        drop(s);
        loop {
            match rx.recv_timeout(Duration::from_millis(500)) {
                Ok(()) => break,
                Err(_) => {
                    let stop = shared
                        .upgrade()
                        .is_none_or(|s| s.stop.load(Ordering::Relaxed));
                    if stop {
                        return;
                    }
                }
            }
        }
        tracing::info!(%name, "exported service gone");
        drop(tokens);
    }
}

impl Shared {
    /// Hands a peer's call to a worker thread: it may block on the bus, and Zenoh's threads
    /// must not.
    fn dispatch(self: &Arc<Self>, query: Query) {
        let len = query.payload().map_or(0, |p| p.len());
        // The pool's turns are per peer: the key's peer chunk (vouched for by the access
        // control); a key that names none is refused by the worker.
        let peer = keys::parse_call(&self.me, query.key_expr().as_str())
            .map(|(peer, _)| peer)
            .unwrap_or_default();
        let queued = if self.take_queue_room(len) {
            self.calls
                .push(&peer, (query, len))
                .map_err(|(query, len)| {
                    self.give_queue_room(len);
                    query
                })
        } else {
            Err(query)
        };
        if let Err(query) = queued {
            // Refused at once, from Zenoh's thread (a reply does not block): the peer learns
            // this bridge is saturated rather than waiting for its timeout.
            let refused = Failure::code(
                StatusCode::WOULD_BLOCK,
                format!(
                    "the bridge's queue is full ({MAX_QUEUED_CALLS} calls or \
                     {MAX_QUEUED_BYTES} bytes)"
                ),
            );
            let _ = query
                .reply_err(refused.encode())
                .encoding(Encoding::from(STATUS_ENCODING))
                .wait();
        }
    }

    /// Counts `len` more bytes queued for threads, if they fit under MAX_QUEUED_BYTES.
    fn take_queue_room(&self, len: usize) -> bool {
        self.queued_bytes
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |q| {
                q.checked_add(len).filter(|&t| t <= MAX_QUEUED_BYTES)
            })
            .is_ok()
    }

    fn give_queue_room(&self, len: usize) {
        self.queued_bytes.fetch_sub(len, Ordering::AcqRel);
    }

    fn serve_query(self: &Arc<Self>, query: Query) {
        tracing::debug!(key = %query.key_expr(), "serving");
        let outcome = match keys::parse_call(&self.me, query.key_expr().as_str()) {
            Some((peer, target)) => {
                let payload = query
                    .payload()
                    .map(|p| p.to_bytes().into_owned())
                    .unwrap_or_default();
                self.serve_call(&peer, &target, &payload)
            }
            None => Err(Failure::code(StatusCode::BAD_VALUE, "not a call key").0),
        };
        let sent = match outcome {
            Ok(bytes) => query
                .reply(query.key_expr().clone(), bytes)
                .express(true)
                .wait(),
            Err(status) => query
                .reply_err(Failure(status).encode())
                .encoding(Encoding::from(STATUS_ENCODING))
                .wait(),
        };
        tracing::debug!(key = %query.key_expr(), ok = sent.is_ok(), "served");
        if let Err(e) = sent {
            tracing::warn!(error = %e, "reply not sent");
        }
    }

    /// Serves `peer`'s call to `target`: the reply's payload, or why not.
    fn serve_call(
        self: &Arc<Self>,
        peer: &str,
        target: &Target,
        payload: &[u8],
    ) -> Result<Vec<u8>, Status> {
        let binder = match target {
            Target::Find(name) => {
                self.check(Op::Find, peer, name)?;
                let service = self.export(name)?;
                return Ok(service.descriptor()?.into_bytes());
            }
            target => self.target(peer, target)?,
        };
        let (code, body) = Body::decode_call(payload)?;
        let data = self.incoming(peer, body)?;
        // The service sees this bridge as its caller, acting for the peer.
        tracing::debug!(%peer, ?target, "calling");
        let reply = on_behalf_of(peer, || binder.transact(code, data))?;
        tracing::debug!(%peer, ?target, "called");
        Ok(self.outgoing(peer, reply)?.encode_reply()?)
    }

    fn serve_oneway(self: &Arc<Self>, key: &str, payload: &[u8]) {
        let Some((peer, target)) = keys::parse_call(&self.me, key) else {
            return;
        };
        let sent = (|| -> Result<(), Status> {
            let binder = self.target(&peer, &target)?;
            let (code, body) = Body::decode_call(payload)?;
            let data = self.incoming(&peer, body)?;
            on_behalf_of(&peer, || binder.transact_oneway(code, data))?;
            Ok(())
        })();
        if let Err(status) = sent {
            // The remote sender was told nothing (its put went): say so here.
            tracing::warn!(%peer, ?target, %status, "a peer's one-way call was not delivered");
        }
    }

    /// The object `peer` calls as `target`, if `peer` may.
    fn target(&self, peer: &str, target: &Target) -> Result<SpIBinder, Status> {
        match target {
            Target::Service(name) => {
                self.check(Op::Find, peer, name)?;
                self.check(Op::Call, peer, name)?;
                self.export(name)
            }
            Target::Object(id) => self
                .given
                .lock()
                .by_id
                .get(&(peer.to_string(), *id))
                .map(|g| g.binder.clone())
                .ok_or_else(|| {
                    Failure::code(
                        StatusCode::DEAD_OBJECT,
                        format!("no object {id:x} is held for {peer}"),
                    )
                    .0
                }),
            Target::Find(_) => Err(StatusCode::BAD_VALUE.into()),
        }
    }

    fn check(&self, op: Op, peer: &str, name: &str) -> Result<(), Status> {
        if self.exports.contains_key(name) && self.policy.allows_remote(op, peer, name) {
            return Ok(());
        }
        // An unexported name and a refused one look the same to the peer.
        let code = match op {
            Op::Find => StatusCode::NAME_NOT_FOUND,
            _ => StatusCode::PERMISSION_DENIED,
        };
        Err(Failure::code(code, format!("{peer} may not {op} {name}")).0)
    }

    /// The service an exported name names now.
    fn export(&self, name: &str) -> Result<SpIBinder, Status> {
        let slot = self.exports.get(name).ok_or(StatusCode::NAME_NOT_FOUND)?;
        let mut slot = slot.lock();
        if let Some(service) = slot.as_ref().filter(|s| s.is_alive()) {
            return Ok(service.clone());
        }
        // A look-up that does not wait: the caller holds the name's object, and an object
        // that is gone is dead, not late.
        let sm = ServiceManager::connect(&self.rt, &self.bus)?;
        let service = sm.check_service(name)?.ok_or_else(|| {
            Failure::code(
                StatusCode::DEAD_OBJECT,
                format!("{name} is not on the bus now"),
            )
            .0
        })?;
        *slot = Some(service.clone());
        Ok(service)
    }

    /// A parcel going to `peer`: its objects given to `peer`, its blobs copied; any other fd
    /// is refused.
    fn outgoing(self: &Arc<Self>, peer: &str, parcel: Parcel) -> Result<Body, Status> {
        let (data, fds, objects) = parcel.into_parts_with_objects()?;
        let blobs = fds
            .into_iter()
            .enumerate()
            .map(|(index, fd)| match Blob::open(fd) {
                Ok(blob) => Ok(blob.to_vec()),
                Err(_) => Err(Status::from(Error::new(
                    StatusCode::FDS_NOT_ALLOWED,
                    format!(
                        "fd {index} of the parcel cannot cross to {peer}: only sealed \
                         blobs are copied across machines"
                    ),
                ))),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut body = Body {
            data,
            objects: Vec::new(),
            blobs,
        };
        // Sizes first: a parcel too large to cross gives the peer nothing.
        body.check()?;
        if objects.len() > crate::envelope::MAX_BRIDGED_OBJECTS {
            return Err(EnvelopeError::TooLarge {
                what: "objects",
                len: objects.len(),
                max: crate::envelope::MAX_BRIDGED_OBJECTS,
            }
            .into());
        }
        body.objects = objects
            .iter()
            .map(|b| self.give(peer, b))
            .collect::<Result<Vec<_>, _>>()?;
        body.check()?;
        Ok(body)
    }

    /// A parcel from `peer`, its objects resolved.
    fn incoming(self: &Arc<Self>, peer: &str, body: Body) -> Result<Parcel, Status> {
        let fds = body
            .blobs
            .iter()
            .map(|b| Blob::seal(b))
            .collect::<Result<Vec<_>, _>>()?;
        let objects = body
            .objects
            .into_iter()
            .map(|o| match o {
                ObjectRef::Given { id, descriptor } => self.stand_in(peer, id, descriptor),
                ObjectRef::Home { id } => self
                    .given
                    .lock()
                    .by_id
                    .get(&(peer.to_string(), id))
                    .map(|g| g.binder.clone())
                    .ok_or_else(|| {
                        Failure::code(
                            StatusCode::BAD_VALUE,
                            format!("object {id:x} was never given to {peer}"),
                        )
                        .0
                    }),
            })
            .collect::<Result<Vec<_>, Status>>()?;
        Ok(Parcel::from_parts_with_objects(body.data, fds, objects))
    }

    /// `binder` as `peer` will know it: one of its own objects coming home, or one of ours
    /// (or a third bridge's, through us) given to it.
    fn give(self: &Arc<Self>, peer: &str, binder: &SpIBinder) -> Result<ObjectRef, Status> {
        let object = binder.object_id();
        if let Some((owner, id)) = self.stand_ins.lock().origin.get(&object) {
            if owner == peer {
                return Ok(ObjectRef::Home { id: *id });
            }
        }
        let descriptor = self.descriptor_of(binder)?;
        let mut given = self.given.lock();
        let key = (peer.to_string(), object);
        if let Some(&id) = given.by_object.get(&key) {
            if let Some(gift) = given.by_id.get_mut(&(peer.to_string(), id)) {
                gift.given_at = Instant::now();
                return Ok(ObjectRef::Given { id, descriptor });
            }
        }
        let held = given.per_peer.get(peer).copied().unwrap_or(0);
        if held >= self.objects_per_peer {
            return Err(Failure::code(
                StatusCode::NO_MEMORY,
                format!(
                    "{peer} holds {} of this bus's objects already",
                    self.objects_per_peer
                ),
            )
            .0);
        }
        // Ids start at a random number each run: a restarted bridge does not give a new
        // object an id a peer's stand-in still has for an old one.
        given.next = given.next.wrapping_add(1);
        let id = given.next;
        given.by_object.insert(key, id);
        *given.per_peer.entry(peer.to_string()).or_default() += 1;
        given.by_id.insert(
            (peer.to_string(), id),
            Gift {
                binder: binder.clone(),
                held: false,
                held_at: None,
                given_at: Instant::now(),
                _live: None,
            },
        );
        drop(given);
        // A proxy's death takes the gift back, and so its token: the peer's stand-in dies.
        if !binder.is_local() {
            let recipient: Arc<dyn DeathRecipient> = Arc::new(GiftDied {
                bridge: Arc::downgrade(self),
                object,
            });
            let _ = binder.link_to_death(recipient);
        }
        let live = self
            .session
            .liveliness()
            .declare_token(keys::live_object(&self.me, peer, id))
            .wait()
            .map_err(zenoh_status)?;
        if let Some(gift) = self.given.lock().by_id.get_mut(&(peer.to_string(), id)) {
            gift._live = Some(live);
        }
        Ok(ObjectRef::Given { id, descriptor })
    }

    /// The interface of an object about to be given. A remote object is asked within the call
    /// timeout: a peer's call never waits longer than that on a thread of this bridge's pool.
    fn descriptor_of(&self, binder: &SpIBinder) -> Result<String, Status> {
        if binder.is_local() {
            return Ok(binder.descriptor()?);
        }
        let mut reply = binder.transact_timeout(
            TransactionCode::INTERFACE,
            Parcel::new(),
            self.call_timeout,
        )?;
        Ok(reply.read_string()?)
    }

    /// Takes back every gift of `object` (it died, or what it stands for did): their tokens
    /// go, and the peers' stand-ins die.
    fn forget_object(&self, object: ObjectId) {
        let gone: Vec<Gift> = {
            let mut given = self.given.lock();
            let keys: Vec<_> = given
                .by_id
                .iter()
                .filter(|(_, g)| g.binder.object_id() == object)
                .map(|(k, _)| k.clone())
                .collect();
            keys.iter().filter_map(|k| forget(&mut given, k)).collect()
        };
        drop(gone);
    }

    /// The stand-in for `key` already here, unless it is dead.
    fn live_stand_in(&self, key: &(String, u64)) -> Option<SpIBinder> {
        let stand_ins = self.stand_ins.lock();
        let (binder, remote) = stand_ins.by_key.get(key)?;
        let remote = remote.upgrade()?;
        if remote.dead.load(Ordering::Acquire) {
            return None;
        }
        binder.upgrade()
    }

    /// The stand-in on this bus for object `id` of `owner`: the one already there, or a new
    /// one, for which this bridge tells `owner` it holds the object.
    fn stand_in(
        self: &Arc<Self>,
        owner: &str,
        id: u64,
        descriptor: String,
    ) -> Result<SpIBinder, Status> {
        let key = (owner.to_string(), id);
        if let Some(binder) = self.live_stand_in(&key) {
            return Ok(binder);
        }
        let holder = self
            .session
            .liveliness()
            .declare_token(keys::holder(owner, &self.me, id))
            .wait()
            .ok();
        let remote = Arc::new(Remote {
            bridge: Arc::downgrade(self),
            owner: owner.to_string(),
            querier: self.querier(keys::call(owner, &self.me, &Target::Object(id)))?,
            oneway_key: keys::oneway(owner, &self.me, &Target::Object(id)),
            descriptor,
            dead: AtomicBool::new(false),
            stood_for: OnceLock::new(),
            _holder: holder,
        });
        let mut stand_ins = self.stand_ins.lock();
        // Another call may have brought the same object meanwhile: one stand-in per object.
        if let Some(binder) = stand_ins
            .by_key
            .get(&key)
            .and_then(|(b, r)| Some((b.upgrade()?, r.upgrade()?)))
            .filter(|(_, r)| !r.dead.load(Ordering::Acquire))
            .map(|(b, _)| b)
        {
            return Ok(binder);
        }
        let binder = self.rt.local_arc(remote.clone());
        let object = binder.object_id();
        let _ = remote.stood_for.set((object, key.clone()));
        stand_ins.origin.insert(object, key.clone());
        stand_ins
            .by_key
            .insert(key, (binder.downgrade(), Arc::downgrade(&remote)));
        Ok(binder)
    }

    fn holder_changed(&self, key: &str, held: bool) {
        let Some((peer, id)) = keys::parse_holder(&self.me, key) else {
            return;
        };
        // Only marked here, on Zenoh's thread: the sweep lets go (and undeclares) off it.
        if let Some(gift) = self.given.lock().by_id.get_mut(&(peer, id)) {
            gift.held = held;
            if held {
                gift.held_at = Some(Instant::now());
            }
        }
    }

    /// Lets go of objects given to peers that no longer hold them.
    fn sweep(&self) {
        let gone: Vec<Gift> = {
            let mut given = self.given.lock();
            let keys: Vec<_> = given
                .by_id
                .iter()
                .filter(|(_, g)| {
                    // Let go: the peer's token came after the last give and went, or none came
                    // within the grace.
                    let released = g.held_at.is_some_and(|h| g.given_at <= h);
                    !g.held && (released || g.given_at.elapsed() >= self.grace)
                })
                .map(|(k, _)| k.clone())
                .collect();
            keys.iter().filter_map(|k| forget(&mut given, k)).collect()
        };
        drop(gone);
    }

    fn live_changed(self: &Arc<Self>, live: Live, alive: bool) {
        match live {
            Live::Service { owner, peer, name } if peer == self.me => {
                let imports: Vec<Import> = self
                    .imports
                    .iter()
                    .filter(|i| i.from == owner && i.name == name)
                    .cloned()
                    .collect();
                for import in imports {
                    let key = (import.from.clone(), import.name.clone());
                    if alive {
                        // Off this thread, which must keep up with deaths: the look-up is a
                        // call to the peer, and is tried again while the name lives there.
                        if self.alive.lock().insert(key) {
                            let bridge = Arc::downgrade(self);
                            let spawned = spawn("afbus-bridge-show", move || {
                                show_while_alive(&bridge, &import)
                            });
                            if let Err(e) = spawned {
                                tracing::warn!(error = %e, "cannot look an import up");
                            }
                        }
                    } else {
                        self.alive.lock().remove(&key);
                        self.hide(&import);
                    }
                }
            }
            Live::Object { owner, peer, id } if peer == self.me && !alive => {
                let stand_in = self
                    .stand_ins
                    .lock()
                    .by_key
                    .get(&(owner, id))
                    .and_then(|(b, r)| Some((b.upgrade()?, r.upgrade()?)));
                if let Some((binder, remote)) = stand_in {
                    remote.dead.store(true, Ordering::Release);
                    // Its holders here hear of its death as from a process that died, and so
                    // do peers it was given on to.
                    self.rt.revoke(&binder);
                    self.forget_object(binder.object_id());
                }
            }
            Live::Service { .. } | Live::Object { .. } => {}
        }
    }

    /// Shows an imported name on the bus, once its owner lets this bridge find it.
    /// Shows an imported name on the bus; false if the peer's look-up failed.
    fn show(self: &Arc<Self>, import: &Import) -> bool {
        let find = Target::Find(import.name.clone());
        let found = self
            .querier(keys::call(&import.from, &self.me, &find))
            .and_then(|q| self.query(&q, Vec::new()));
        let service = Target::Service(import.name.clone());
        let found = found.and_then(|bytes| {
            let querier = self.querier(keys::call(&import.from, &self.me, &service))?;
            Ok((bytes, querier))
        });
        let (descriptor, querier) = match found {
            Ok((bytes, querier)) => (String::from_utf8_lossy(&bytes).into_owned(), querier),
            Err(status) => {
                tracing::warn!(from = %import.from, name = %import.name, %status, "import refused");
                return false;
            }
        };
        let remote = Arc::new(Remote {
            bridge: Arc::downgrade(self),
            owner: import.from.clone(),
            querier,
            oneway_key: keys::oneway(&import.from, &self.me, &service),
            descriptor,
            dead: AtomicBool::new(false),
            stood_for: OnceLock::new(),
            _holder: None,
        });
        let binder = self.rt.local_arc(remote.clone());
        let added = ServiceManager::connect(&self.rt, &self.bus)
            .and_then(|sm| sm.add_service(&import.local_name, &binder));
        match added {
            Ok(()) => {
                tracing::info!(from = %import.from, name = %import.name, local = %import.local_name, "imported");
                let key = (import.from.clone(), import.name.clone());
                if let Some(old) = self
                    .shown
                    .lock()
                    .insert(key.clone(), Shown { remote, binder })
                {
                    old.remote.dead.store(true, Ordering::Release);
                }
                // Gone while it was being looked up: take it off again.
                if !self.alive.lock().contains(&key) {
                    self.hide(import);
                }
                true
            }
            Err(e) => {
                tracing::warn!(local = %import.local_name, error = %e, "cannot show the import");
                false
            }
        }
    }

    fn hide(&self, import: &Import) {
        let key = (import.from.clone(), import.name.clone());
        let Some(Shown { remote, binder }) = self.shown.lock().remove(&key) else {
            return;
        };
        remote.dead.store(true, Ordering::Release);
        // Its holders here (the service manager among them) hear of its death, and so do peers
        // it was given on to.
        self.rt.revoke(&binder);
        self.forget_object(binder.object_id());
        if let Ok(sm) = ServiceManager::connect(&self.rt, &self.bus) {
            let _ = sm.try_unregister_service(&import.local_name, &binder);
        }
        tracing::info!(from = %import.from, name = %import.name, "import gone");
    }

    /// What calls a peer's `key` with: one querier per stand-in, declared once.
    fn querier(&self, key: String) -> Result<Querier<'static>, Status> {
        self.session
            .declare_querier(key)
            .target(QueryTarget::BestMatching)
            .consolidation(ConsolidationMode::None)
            .allowed_destination(Locality::Remote)
            .timeout(self.call_timeout)
            .express(true)
            .wait()
            .map_err(zenoh_status)
    }

    /// A call to a peer: the reply's payload, or the status the caller gets.
    fn query(&self, querier: &Querier<'_>, payload: Vec<u8>) -> Result<Vec<u8>, Status> {
        let replies = querier
            .get()
            .payload(payload)
            .wait()
            .map_err(zenoh_status)?;
        let Ok(reply) = replies.recv() else {
            return Err(Failure::code(
                StatusCode::DEAD_OBJECT,
                "no reply: the peer or its service is gone",
            )
            .0);
        };
        match reply.result() {
            Ok(sample) => Ok(sample.payload().to_bytes().into_owned()),
            Err(e) if e.encoding().to_string() == STATUS_ENCODING => {
                Err(Failure::decode(&e.payload().to_bytes())?.0)
            }
            // Zenoh's own: the deadline passed ("Timeout"), or something it could not do.
            Err(e) => {
                let what = e.payload().try_to_string().unwrap_or_default().into_owned();
                let code = if what == "Timeout" {
                    StatusCode::TIMED_OUT
                } else {
                    StatusCode::FAILED_TRANSACTION
                };
                Err(Failure::code(
                    code,
                    format!(
                        "{what} (after {} ms at most)",
                        self.call_timeout.as_millis()
                    ),
                )
                .0)
            }
        }
    }
}

fn zenoh_status(e: impl std::fmt::Display) -> Status {
    Status::from(Error::new(StatusCode::FAILED_TRANSACTION, e.to_string()))
}

/// Takes a gift out of the table; the caller drops it (and so undeclares its token) once the
/// table's lock is released.
fn forget(given: &mut Given, key: &(String, u64)) -> Option<Gift> {
    let gift = given.by_id.remove(key)?;
    {
        given
            .by_object
            .remove(&(key.0.clone(), gift.binder.object_id()));
        if let Some(held) = given.per_peer.get_mut(&key.0) {
            *held -= 1;
            if *held == 0 {
                given.per_peer.remove(&key.0);
            }
        }
    }
    Some(gift)
}

/// Takes back the gifts of a proxy that died.
struct GiftDied {
    bridge: Weak<Shared>,
    object: ObjectId,
}

impl DeathRecipient for GiftDied {
    fn binder_died(&self) {
        if let Some(bridge) = self.bridge.upgrade() {
            bridge.forget_object(self.object);
        }
    }
}

/// A peer's object on this bus: calls to it become Zenoh queries (one-way calls, puts).
struct Remote {
    bridge: Weak<Shared>,
    owner: String,
    querier: Querier<'static>,
    oneway_key: String,
    descriptor: String,
    dead: AtomicBool,
    /// This stand-in's identity here, and the (owner, id) it stands for (objects only).
    stood_for: OnceLock<(ObjectId, (String, u64))>,
    _holder: Option<LivelinessToken>,
}

impl Binder for Remote {
    fn descriptor(&self) -> &str {
        &self.descriptor
    }

    fn on_transact(
        &self,
        code: TransactionCode,
        data: &mut Parcel,
        reply: &mut Parcel,
        ctx: &CallContext,
    ) -> Result<(), Status> {
        let dead = || Failure::code(StatusCode::DEAD_OBJECT, format!("{} is gone", self.owner)).0;
        if self.dead.load(Ordering::Acquire) {
            return Err(dead());
        }
        let bridge = self.bridge.upgrade().ok_or_else(dead)?;
        let body = bridge.outgoing(&self.owner, std::mem::take(data))?;
        let payload = body.encode_call(code)?;
        if ctx.oneway {
            return bridge
                .session
                .put(&self.oneway_key, payload)
                .congestion_control(zenoh::qos::CongestionControl::Block)
                .allowed_destination(Locality::Remote)
                .wait()
                .map_err(zenoh_status);
        }
        let bytes = bridge.query(&self.querier, payload)?;
        *reply = bridge.incoming(&self.owner, Body::decode_reply(&bytes)?)?;
        Ok(())
    }
}

impl Drop for Remote {
    fn drop(&mut self) {
        let (Some(bridge), Some((object, key))) = (self.bridge.upgrade(), self.stood_for.get())
        else {
            return;
        };
        let mut stand_ins = bridge.stand_ins.lock();
        stand_ins.origin.remove(object);
        if stand_ins
            .by_key
            .get(key)
            .is_some_and(|(_, r)| r.strong_count() == 0)
        {
            stand_ins.by_key.remove(key);
        }
    }
}
