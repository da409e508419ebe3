//! Objects: the [`Binder`] trait a service implements, and [`SpIBinder`], a reference to a local
//! object or a proxy to a remote one, called the same way.

use std::collections::VecDeque;
use std::fmt;
use std::os::fd::BorrowedFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use afbus_transport::Credentials;
use parking_lot::Mutex;

use crate::conn::Conn;
use crate::parcel::Parcel;
use crate::priority::Priority;
use crate::runtime::RuntimeInner;
use crate::status::{Error, Result, Status, StatusCode};

/// A transaction code. An open newtype: codes a service does not know are answered with
/// [`StatusCode::UNKNOWN_TRANSACTION`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TransactionCode(pub u32);

const fn pack(c: [u8; 4]) -> u32 {
    u32::from_be_bytes(c)
}

impl TransactionCode {
    /// The first code available to interfaces.
    pub const FIRST_CALL: TransactionCode = TransactionCode(1);
    /// The last code available to interfaces.
    pub const LAST_CALL: TransactionCode = TransactionCode(0x00ff_ffff);
    /// Answered by the runtime: is the object alive?
    pub const PING: TransactionCode = TransactionCode(pack(*b"_PNG"));
    /// Answered by the runtime: the object's interface descriptor.
    pub const INTERFACE: TransactionCode = TransactionCode(pack(*b"_NTF"));
    /// Answered by the runtime: mint a new reference for a third process.
    pub(crate) const MINT: TransactionCode = TransactionCode(pack(*b"_MNT"));
    /// Answered by the runtime: mint spare references for the caller to hand on, and charge the
    /// ones it handed on to their holders (see `runtime::spares`).
    pub(crate) const MINT_AHEAD: TransactionCode = TransactionCode(pack(*b"_MNA"));
    /// Answered by the runtime: the object's [`Binder::dump`] into the fd the call carries,
    /// then the arguments (an `i32` count and that many strings, at most [`MAX_DUMP_ARGS`]).
    pub const DUMP: TransactionCode = TransactionCode(pack(*b"_DMP"));
    /// One-way, handled by the runtime: the sender lets go of objects given to it over this
    /// channel (see [`crate::call`] for its payload).
    pub(crate) const RELEASE: TransactionCode = TransactionCode(pack(*b"_RLS"));

    /// True for the codes the runtime answers itself.
    pub(crate) fn is_builtin(self) -> bool {
        self.0 > Self::LAST_CALL.0
    }
}

/// Who is calling and how, as the handler of a transaction sees it.
#[derive(Clone, Debug)]
pub struct CallContext {
    pub(crate) caller: Caller,
    /// The caller's scheduling priority at the time of the call.
    pub priority: Priority,
    /// Whether this thread runs at `priority` for the call: the kernel may refuse the change,
    /// and a caller that is neither root nor of this process's uid may lower the priority but
    /// not raise it (the priority is the caller's claim, not the kernel's word).
    pub priority_applied: bool,
    /// Whether the caller gets no reply.
    pub oneway: bool,
    /// Whom the caller says it calls for (see [`on_behalf_of`]).
    pub(crate) acting_for: Option<Arc<str>>,
}

impl CallContext {
    /// The caller: its process as the kernel named it on the call, with that process's
    /// effective uid and gid as of now (read through a pidfd on first use, one `ioctl`, so a
    /// handler that never asks pays nothing). A process whose identity the kernel cannot give
    /// (it has gone, say) is pid 0, uid and gid `u32::MAX`: nobody a policy allows.
    pub fn caller(&self) -> Credentials {
        self.caller.get()
    }

    /// Whom the caller says it makes this call for, if anyone: a bridge (`afbus-bridge`)
    /// names the remote principal, the authenticated peer machine, a call came from. It is the
    /// calling process's word, worth what [`caller`](Self::caller) is: the kernel's identity
    /// of that process, which stays the bridge's. Give it weight only when `caller()` is a uid
    /// trusted to speak for others (the bridge's), as a policy does.
    pub fn acting_for(&self) -> Option<&str> {
        self.acting_for.as_deref()
    }
}

/// Two contexts are equal when they describe the same caller and call.
impl PartialEq for CallContext {
    fn eq(&self, other: &Self) -> bool {
        (
            self.caller(),
            self.priority,
            self.priority_applied,
            self.oneway,
            self.acting_for(),
        ) == (
            other.caller(),
            other.priority,
            other.priority_applied,
            other.oneway,
            other.acting_for(),
        )
    }
}

impl Eq for CallContext {}

/// Nobody: the identity of a caller the kernel cannot name.
const UNKNOWN_CALLER: Credentials = Credentials {
    pid: 0,
    uid: u32::MAX,
    gid: u32::MAX,
};

/// A caller's identity, resolved when first asked for.
#[derive(Clone)]
pub(crate) struct Caller {
    /// What the kernel stamped on the frame.
    sent: Option<Credentials>,
    /// The channel it came on, whose pidfd of the sender says its identity now. Weak: a
    /// context kept after its call must not keep the channel open.
    channel: Weak<Conn>,
    resolved: OnceLock<Credentials>,
}

impl Caller {
    /// The sender of a frame received on `conn`.
    pub(crate) fn of_frame(conn: &Arc<Conn>, sent: Option<Credentials>) -> Caller {
        Caller {
            sent,
            channel: Arc::downgrade(conn),
            resolved: OnceLock::new(),
        }
    }

    /// A caller known already (this process, for a local call).
    pub(crate) fn known(creds: Credentials) -> Caller {
        Caller {
            sent: Some(creds),
            channel: Weak::new(),
            resolved: OnceLock::from(creds),
        }
    }

    /// The pid the kernel stamped on the frame (0: none).
    pub(crate) fn sent_pid(&self) -> i32 {
        self.sent.map_or(0, |c| c.pid)
    }

    pub(crate) fn get(&self) -> Credentials {
        *self.resolved.get_or_init(|| {
            let now = match self.channel.upgrade() {
                Some(conn) => conn.chan.sender(self.sent),
                None => self.sent,
            };
            now.unwrap_or(UNKNOWN_CALLER)
        })
    }
}

impl fmt::Debug for Caller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.get().fmt(f)
    }
}

/// A local object: what a service implements.
pub trait Binder: Send + Sync + 'static {
    /// The interface descriptor, such as `"org.example.IEcho"`.
    fn descriptor(&self) -> &str;

    /// Handles one transaction: read the arguments from `data`, write results into `reply`.
    ///
    /// An `Err` travels back to the caller (a service-specific error, an exception, or a
    /// transaction status such as [`StatusCode::UNKNOWN_TRANSACTION`]).
    fn on_transact(
        &self,
        code: TransactionCode,
        data: &mut Parcel,
        reply: &mut Parcel,
        ctx: &CallContext,
    ) -> Result<(), Status>;

    /// Writes the object's state for a person reading it (Android's `dump`; `afbus dump NAME
    /// [ARGS]...` calls it): `args` are the caller's words. The default has nothing to say
    /// (`UNKNOWN_TRANSACTION`). [`calling_context`] says who asks.
    fn dump(&self, _out: &mut dyn std::io::Write, _args: &[String]) -> Result<(), Status> {
        Err(StatusCode::UNKNOWN_TRANSACTION.into())
    }

    /// Called when the last remote reference to this object is gone (dropped, or its holder
    /// died). The runtime then drops its own hold on the object.
    fn on_last_ref(&self) {}

    /// Called whenever the number of remote references changes, with the new number: each
    /// reference channel to the object counts one, and so does each channel it is given over
    /// (however many times it was passed there).
    fn on_refs_changed(&self, _count: usize) {}
}

/// The longest principal a call may name (see [`on_behalf_of`]), in bytes.
pub const MAX_PRINCIPAL_LEN: usize = 255;

thread_local! {
    /// Whom this thread's calls are made for (see [`on_behalf_of`]).
    static ACTING_FOR: std::cell::RefCell<Option<Arc<str>>> = const { std::cell::RefCell::new(None) };
}

/// Runs `f` with every call this thread makes in it naming `principal` as whom it is made
/// for: the callee reads it with [`CallContext::acting_for`], beside the kernel's identity of
/// this process. For a bridge, which calls local services for authenticated remote peers.
/// Calls fail with `BAD_VALUE` if `principal` is longer than [`MAX_PRINCIPAL_LEN`] bytes.
pub fn on_behalf_of<T>(principal: &str, f: impl FnOnce() -> T) -> T {
    struct Restore(Option<Arc<str>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            ACTING_FOR.with(|a| *a.borrow_mut() = self.0.take());
        }
    }
    let _restore = Restore(ACTING_FOR.with(|a| a.replace(Some(principal.into()))));
    f()
}

/// Whom this thread's calls are made for now.
pub(crate) fn acting_for() -> Option<Arc<str>> {
    ACTING_FOR.with(|a| a.borrow().clone())
}

thread_local! {
    /// The calls this thread is serving, innermost last.
    static CALLERS: std::cell::RefCell<Vec<CallContext>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Who is calling the transaction this thread is serving, if it is serving one: for code below
/// `on_transact` that has no `CallContext` at hand, such as the methods of an IDL-generated
/// trait (Binder's `getCallingUid`).
pub fn calling_context() -> Option<CallContext> {
    CALLERS.with(|c| c.borrow().last().cloned())
}

/// Answers the codes every object answers the same way, for local and remote callers alike
/// (`PING`, `INTERFACE`, `DUMP`); `None` for any other code.
pub(crate) fn builtin(
    binder: &dyn Binder,
    code: TransactionCode,
    data: &mut Parcel,
    reply: &mut Parcel,
    ctx: &CallContext,
) -> Option<Result<(), Status>> {
    match code {
        TransactionCode::PING => Some(Ok(())),
        TransactionCode::INTERFACE => {
            reply.write_str(binder.descriptor());
            Some(Ok(()))
        }
        TransactionCode::DUMP => Some(dispatch_dump(binder, data, ctx)),
        _ => None,
    }
}

/// Most arguments a [`TransactionCode::DUMP`] call may carry.
pub const MAX_DUMP_ARGS: usize = 64;

/// Runs `dump` with `ctx` as the [`calling_context`]: the fd and arguments read from `data`.
pub(crate) fn dispatch_dump(
    binder: &dyn Binder,
    data: &mut Parcel,
    ctx: &CallContext,
) -> Result<(), Status> {
    let mut out = std::fs::File::from(data.take_fd()?);
    let n = usize::try_from(data.read_i32()?).unwrap_or(usize::MAX);
    if n > MAX_DUMP_ARGS {
        return Err(Status::new_exception(
            crate::status::ExceptionCode::ILLEGAL_ARGUMENT,
            format!("a dump takes at most {MAX_DUMP_ARGS} arguments"),
        ));
    }
    let args = (0..n)
        .map(|_| data.read_string())
        .collect::<std::result::Result<Vec<_>, _>>()?;
    CALLERS.with(|c| c.borrow_mut().push(ctx.clone()));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        binder.dump(&mut out, &args)
    }))
    .unwrap_or_else(|_| {
        Err(Status::new_exception(
            crate::status::ExceptionCode::ILLEGAL_STATE,
            "the dump panicked",
        ))
    });
    CALLERS.with(|c| c.borrow_mut().pop());
    result
}

/// Runs `on_transact` with `ctx` as the [`calling_context`].
pub(crate) fn dispatch(
    binder: &dyn Binder,
    code: TransactionCode,
    data: &mut Parcel,
    reply: &mut Parcel,
    ctx: &CallContext,
) -> Result<(), Status> {
    CALLERS.with(|c| c.borrow_mut().push(ctx.clone()));
    // A handler that panics fails its call instead of taking down the thread (and with it an
    // object's one-way queue or a pool slot).
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        binder.on_transact(code, data, reply, ctx)
    }))
    .unwrap_or_else(|_| {
        Err(Status::new_exception(
            crate::status::ExceptionCode::ILLEGAL_STATE,
            "the handler panicked",
        ))
    });
    CALLERS.with(|c| c.borrow_mut().pop());
    result
}

/// The proxy type `afbus-idl` generates for an AIDL interface (`IFooProxy`): what a typed
/// lookup returns (`ServiceManager::get_interface::<IFooProxy>(name)`).
pub trait Interface: Sized {
    /// The interface descriptor, such as `"org.example.IFoo"`.
    const DESCRIPTOR: &'static str;

    /// Wraps `binder` after asking the object for its descriptor: an object of another
    /// interface is an `ILLEGAL_ARGUMENT` exception naming both.
    fn from_binder_checked(binder: SpIBinder) -> std::result::Result<Self, Status>;
}

/// Who an object is: its owner's runtime id, its number there, and the owner's pid (as the
/// kernel reported it). Two references to one object have the same id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ObjectId {
    /// The owner's runtime id.
    pub runtime: u64,
    /// The object's number in that runtime.
    pub number: u64,
    /// The owner's pid.
    pub pid: i32,
}

/// Told when a remote object's process dies (or its last channel hangs up).
pub trait DeathRecipient: Send + Sync {
    /// The object is dead. Called once.
    fn binder_died(&self);
}

impl<F: Fn() + Send + Sync> DeathRecipient for F {
    fn binder_died(&self) {
        self()
    }
}

/// A reference to an object, local or remote. Cloning it is cheap; the last clone of a proxy
/// lets its reference go (closing its channel, or releasing what was given over one), which the
/// owner sees as one reference fewer.
#[derive(Clone)]
pub struct SpIBinder(pub(crate) Kind);

#[derive(Clone)]
pub(crate) enum Kind {
    Local(Arc<LocalObject>),
    Remote(Arc<Proxy>),
}

/// A reference that does not keep its object alive: [`upgrade`](Self::upgrade) gives the
/// object back while some [`SpIBinder`] (or, for a local object, a remote holder) keeps it.
/// What a table of objects keyed by something else holds, so that the same object comes back
/// as the same [`SpIBinder`] (Binder's `wp<IBinder>`).
#[derive(Clone)]
pub struct WeakBinder(WeakKind);

#[derive(Clone)]
enum WeakKind {
    Local(Weak<LocalObject>),
    Remote(Weak<Proxy>),
}

impl WeakBinder {
    /// The object, if it is still held.
    pub fn upgrade(&self) -> Option<SpIBinder> {
        match &self.0 {
            WeakKind::Local(w) => w.upgrade().map(|o| SpIBinder(Kind::Local(o))),
            WeakKind::Remote(w) => w.upgrade().map(|p| SpIBinder(Kind::Remote(p))),
        }
    }
}

impl fmt::Debug for WeakBinder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.upgrade() {
            Some(b) => write!(f, "WeakBinder({:?})", b.object_id()),
            None => f.write_str("WeakBinder(gone)"),
        }
    }
}

/// An object of this process, as the runtime tracks it.
pub(crate) struct LocalObject {
    pub runtime: Weak<RuntimeInner>,
    pub runtime_id: u64,
    pub number: u64,
    pub binder: Arc<dyn Binder>,
    pub oneway: Mutex<OnewayQueue>,
    pub refs: Mutex<RefCounts>,
}

/// An object's count of live remote references, and the changes not yet told to it.
#[derive(Default)]
pub(crate) struct RefCounts {
    count: usize,
    untold: VecDeque<usize>,
    telling: bool,
}

impl LocalObject {
    /// Changes the count of live remote references (`change` returns the new count, or `None`
    /// for no change) and tells the object: `on_refs_changed` for every change, in the order
    /// they were made and one at a time, then `on_last_ref` at zero. A thread that finds another
    /// telling leaves its change to that one, so a slow callback delays the news but never
    /// reorders it (a count told out of order could leave the object believing in references
    /// that are gone).
    pub(crate) fn change_refs(&self, change: impl FnOnce(usize) -> Option<usize>) {
        let mut refs = self.refs.lock();
        let Some(count) = change(refs.count) else {
            return;
        };
        refs.count = count;
        refs.untold.push_back(count);
        if refs.telling {
            return;
        }
        refs.telling = true;
        drop(refs);
        // A callback that panics leaves the telling to the next change (its queue stays).
        struct Telling<'a> {
            refs: &'a Mutex<RefCounts>,
            done: bool,
        }
        impl Drop for Telling<'_> {
            fn drop(&mut self) {
                if !self.done {
                    self.refs.lock().telling = false;
                }
            }
        }
        let mut telling = Telling {
            refs: &self.refs,
            done: false,
        };
        loop {
            // Seeing the queue empty and giving up the telling happen under one lock: a change
            // queued after this is told by whoever queued it.
            let count = {
                let mut refs = self.refs.lock();
                match refs.untold.pop_front() {
                    Some(count) => count,
                    None => {
                        refs.telling = false;
                        telling.done = true;
                        return;
                    }
                }
            };
            self.binder.on_refs_changed(count);
            if count == 0 {
                self.binder.on_last_ref();
            }
        }
    }
}

/// One-way calls to one object run in arrival order, one at a time.
#[derive(Default)]
pub(crate) struct OnewayQueue {
    pub calls: VecDeque<(Arc<Conn>, crate::conn::Incoming)>,
    pub running: bool,
}

/// A remote object, reached through one channel that every clone in this process shares:
/// its own reference channel, or a channel it was given over (see [`crate::runtime`]'s
/// `gives`).
pub(crate) struct Proxy {
    pub runtime: Weak<RuntimeInner>,
    pub conn: Arc<Conn>,
    /// 0: the channel's own object. Otherwise the key the object was given under on `conn`.
    pub target: u64,
    /// For a given object: how many times it was given to us (released when we drop it).
    pub gives: std::sync::atomic::AtomicU32,
    /// The owner's runtime id and the object's number there: the object's identity.
    pub owner: u64,
    pub number: u64,
    /// The owner's pid, as the kernel reported it.
    pub owner_pid: i32,
    /// The owner made this channel (not the bus master, for a get by name): it knows the
    /// socket by its cookie when it comes home.
    pub minted: bool,
    /// [`OnewayMode::WaitWhenFull`] was chosen for this object.
    pub wait_when_full: AtomicBool,
    /// A one-way call was refused for lack of room and that was logged.
    pub refusal_logged: AtomicBool,
    pub death: Mutex<DeathState>,
    /// References to the object minted ahead, for a runtime that passes it on
    /// ([`RuntimeConfig::mint_ahead`](crate::RuntimeConfig::mint_ahead)).
    pub spares: Mutex<crate::runtime::Spares>,
    /// The object's interface descriptor, once asked (an object's never changes).
    pub descriptor: std::sync::OnceLock<String>,
}

#[derive(Default)]
pub(crate) struct DeathState {
    pub dead: bool,
    pub recipients: Vec<Arc<dyn DeathRecipient>>,
}

impl Proxy {
    /// The key that names this object on its channel: a given object's key, or the channel's
    /// own (which a call nested in one of the owner's names it by).
    pub(crate) fn key(&self) -> u64 {
        match self.target {
            0 => self.conn.key,
            key => key,
        }
    }

    pub(crate) fn oneway_mode(&self) -> OnewayMode {
        if self.wait_when_full.load(Ordering::Relaxed) {
            OnewayMode::WaitWhenFull
        } else {
            OnewayMode::FailWhenFull
        }
    }

    /// Marks the proxy dead and runs each death recipient once.
    pub(crate) fn died(&self) {
        let recipients = {
            let mut d = self.death.lock();
            if d.dead {
                return;
            }
            d.dead = true;
            std::mem::take(&mut d.recipients)
        };
        for r in recipients {
            r.binder_died();
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.upgrade() {
            rt.forget_proxy(self);
        }
    }
}

impl SpIBinder {
    /// Calls the object and waits for its reply.
    pub fn transact(&self, code: TransactionCode, data: Parcel) -> Result<Parcel> {
        self.call(code, data, None)
    }

    /// Calls the object and waits at most `timeout` for its reply; a late reply is discarded.
    pub fn transact_timeout(
        &self,
        code: TransactionCode,
        data: Parcel,
        timeout: Duration,
    ) -> Result<Parcel> {
        self.call(code, data, Some(timeout))
    }

    fn call(
        &self,
        code: TransactionCode,
        mut data: Parcel,
        timeout: Option<Duration>,
    ) -> Result<Parcel> {
        match &self.0 {
            Kind::Local(obj) => {
                data.rewind();
                let mut reply = Parcel::new();
                let ctx = local_context(false);
                builtin(&*obj.binder, code, &mut data, &mut reply, &ctx)
                    .unwrap_or_else(|| dispatch(&*obj.binder, code, &mut data, &mut reply, &ctx))
                    .map_err(Error::Service)?;
                reply.rewind();
                Ok(reply)
            }
            Kind::Remote(proxy) => runtime_of(proxy)?.call(proxy, code, data, timeout),
        }
    }

    /// Sends a one-way call: returns once it is queued. When the receiver has no room, it
    /// behaves as [`set_oneway_mode`](Self::set_oneway_mode) says: by default it fails with
    /// [`StatusCode::WOULD_BLOCK`] after [`ONEWAY_ROOM_WAIT`].
    pub fn transact_oneway(&self, code: TransactionCode, data: Parcel) -> Result<()> {
        let mode = match &self.0 {
            Kind::Remote(p) => p.oneway_mode(),
            Kind::Local(_) => OnewayMode::FailWhenFull,
        };
        self.oneway(code, data, mode)
    }

    /// Chooses how one-way calls through this reference (and every other reference of this
    /// process to the same object: they share one channel) wait for room. A generated proxy
    /// reaches it through `as_binder()`.
    pub fn set_oneway_mode(&self, mode: OnewayMode) {
        if let Kind::Remote(p) = &self.0 {
            p.wait_when_full
                .store(mode == OnewayMode::WaitWhenFull, Ordering::Relaxed);
        }
    }

    /// Sends a one-way call, waiting for room when the receiver's one-way buffer is full.
    pub fn transact_oneway_blocking(&self, code: TransactionCode, data: Parcel) -> Result<()> {
        self.oneway(code, data, OnewayMode::WaitWhenFull)
    }

    fn oneway(&self, code: TransactionCode, mut data: Parcel, mode: OnewayMode) -> Result<()> {
        match &self.0 {
            Kind::Local(obj) => {
                data.rewind();
                let mut reply = Parcel::new();
                // In-process one-way calls run on the caller's thread; the result has nowhere to go.
                let _ = dispatch(
                    &*obj.binder,
                    code,
                    &mut data,
                    &mut reply,
                    &local_context(true),
                );
                Ok(())
            }
            Kind::Remote(proxy) => runtime_of(proxy)?.oneway(proxy, code, data, mode),
        }
    }

    /// Checks that the object is alive.
    pub fn ping(&self) -> Result<()> {
        self.transact(TransactionCode::PING, Parcel::new())
            .map(drop)
    }

    /// The object's interface descriptor.
    pub fn descriptor(&self) -> Result<String> {
        match &self.0 {
            Kind::Local(obj) => Ok(obj.binder.descriptor().to_owned()),
            Kind::Remote(proxy) => match proxy.descriptor.get() {
                Some(known) => Ok(known.clone()),
                None => {
                    let mut reply = self.transact(TransactionCode::INTERFACE, Parcel::new())?;
                    let descriptor = reply.read_string()?;
                    Ok(proxy.descriptor.get_or_init(|| descriptor).clone())
                }
            },
        }
    }

    /// Asks to be told when the object dies. Fails with [`StatusCode::DEAD_OBJECT`] if it
    /// already has, and [`StatusCode::INVALID_OPERATION`] for a local object.
    pub fn link_to_death(&self, recipient: Arc<dyn DeathRecipient>) -> Result<()> {
        let proxy = self.remote("link_to_death")?;
        let mut d = proxy.death.lock();
        if d.dead {
            return Err(Error::new(
                StatusCode::DEAD_OBJECT,
                "the object is already dead",
            ));
        }
        d.recipients.push(recipient);
        Ok(())
    }

    /// Withdraws a recipient given to [`link_to_death`](Self::link_to_death).
    pub fn unlink_to_death(&self, recipient: &Arc<dyn DeathRecipient>) -> Result<()> {
        let proxy = self.remote("unlink_to_death")?;
        let mut d = proxy.death.lock();
        let before = d.recipients.len();
        d.recipients.retain(|r| !Arc::ptr_eq(r, recipient));
        if d.recipients.len() == before {
            return Err(Error::new(
                StatusCode::NAME_NOT_FOUND,
                "recipient was not linked",
            ));
        }
        Ok(())
    }

    /// Has the object write its state ([`Binder::dump`]) to `out`, with `args`.
    pub fn dump(&self, out: BorrowedFd<'_>, args: &[&str]) -> Result<()> {
        let mut data = Parcel::new();
        data.write_fd(
            out.try_clone_to_owned()
                .map_err(|e| Error::new(StatusCode::NO_MEMORY, format!("dup: {e}")))?,
        );
        data.write_i32(args.len().try_into().unwrap_or(i32::MAX));
        for a in args {
            data.write_str(a);
        }
        self.transact(TransactionCode::DUMP, data).map(drop)
    }

    /// Who the object is (see [`ObjectId`]).
    pub fn object_id(&self) -> ObjectId {
        match &self.0 {
            Kind::Local(obj) => ObjectId {
                runtime: obj.runtime_id,
                number: obj.number,
                pid: std::process::id() as i32,
            },
            Kind::Remote(p) => ObjectId {
                runtime: p.owner,
                number: p.number,
                pid: p.owner_pid,
            },
        }
    }

    /// A reference to the same object that does not keep it alive.
    pub fn downgrade(&self) -> WeakBinder {
        WeakBinder(match &self.0 {
            Kind::Local(obj) => WeakKind::Local(Arc::downgrade(obj)),
            Kind::Remote(p) => WeakKind::Remote(Arc::downgrade(p)),
        })
    }

    /// A live proxy that this reference's runtime already holds to the remote object `id`
    /// names, if any: a lookup that needs no new reference.
    pub fn held_alike(&self, id: ObjectId) -> Option<SpIBinder> {
        let rt = match &self.0 {
            Kind::Local(obj) => obj.runtime.upgrade()?,
            Kind::Remote(p) => p.runtime.upgrade()?,
        };
        rt.held(id).filter(SpIBinder::is_alive)
    }

    /// False once the object is dead: its process is gone or let go of the channel the
    /// reference travels on. Asks the kernel (one `poll`) rather than waiting for a looper
    /// to notice the hang-up, so the answer holds from the moment the owner is gone; death
    /// recipients still hear of it from a looper.
    pub fn is_alive(&self) -> bool {
        match &self.0 {
            Kind::Local(_) => true,
            Kind::Remote(p) => !p.death.lock().dead && !p.conn.chan.peer_hung_up(),
        }
    }

    /// True for a remote object whose channel runs on shared-memory rings (both directions
    /// switched: after the first call on a new reference).
    pub fn uses_shared_memory(&self) -> bool {
        match &self.0 {
            Kind::Local(_) => false,
            Kind::Remote(p) => p.conn.chan.is_shm(),
        }
    }

    /// True for an object of this process.
    pub fn is_local(&self) -> bool {
        matches!(self.0, Kind::Local(_))
    }

    /// The local object behind this reference, if it is one.
    pub fn as_local(&self) -> Option<Arc<dyn Binder>> {
        match &self.0 {
            Kind::Local(obj) => Some(obj.binder.clone()),
            Kind::Remote(_) => None,
        }
    }

    fn remote(&self, what: &'static str) -> Result<&Arc<Proxy>> {
        match &self.0 {
            Kind::Remote(p) => Ok(p),
            Kind::Local(_) => Err(Error::new(StatusCode::INVALID_OPERATION, what)),
        }
    }
}

/// How [`SpIBinder::transact_oneway`] (and so a generated proxy's `oneway` methods) behaves
/// when the receiver has no room for the call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OnewayMode {
    /// Fail with [`StatusCode::WOULD_BLOCK`] if there is still no room after
    /// [`ONEWAY_ROOM_WAIT`] (Binder's behaviour, less the brief wait: a receiver that is alive
    /// but not yet scheduled makes room at once).
    #[default]
    FailWhenFull,
    /// Wait for room as long as it takes.
    WaitWhenFull,
}

/// How long a one-way call waits for room before it fails ([`OnewayMode::FailWhenFull`]).
/// The socket buffer between two processes holds a few hundred small frames; a sender that
/// outruns a receiver which has not been scheduled yet (on the same CPU, say) meets a full
/// buffer although the receiver has room for its calls, and makes that room as soon as it runs.
pub const ONEWAY_ROOM_WAIT: Duration = Duration::from_millis(10);

impl SpIBinder {
    /// For a remote object: its runtime (if alive) and proxy.
    #[cfg(feature = "tokio")]
    pub(crate) fn remote_runtime(&self) -> Option<(Result<Arc<RuntimeInner>>, Arc<Proxy>)> {
        match &self.0 {
            Kind::Local(_) => None,
            Kind::Remote(p) => Some((runtime_of(p), p.clone())),
        }
    }
}

fn runtime_of(proxy: &Proxy) -> Result<Arc<RuntimeInner>> {
    proxy
        .runtime
        .upgrade()
        .ok_or_else(|| Error::new(StatusCode::DEAD_OBJECT, "the runtime is gone"))
}

fn local_context(oneway: bool) -> CallContext {
    let caller = Credentials {
        pid: nix::unistd::getpid().as_raw(),
        uid: nix::unistd::geteuid().as_raw(),
        gid: nix::unistd::getegid().as_raw(),
    };
    let priority = Priority::current().unwrap_or(Priority::DEFAULT);
    CallContext {
        caller: Caller::known(caller),
        priority,
        priority_applied: true,
        oneway,
        acting_for: acting_for(),
    }
}

/// Two references are equal when they name the same object.
impl PartialEq for SpIBinder {
    fn eq(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            (Kind::Local(a), Kind::Local(b)) => Arc::ptr_eq(a, b),
            (Kind::Remote(a), Kind::Remote(b)) => {
                (a.owner, a.number, a.owner_pid) == (b.owner, b.number, b.owner_pid)
            }
            _ => false,
        }
    }
}

impl Eq for SpIBinder {}

impl fmt::Debug for SpIBinder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Kind::Local(o) => write!(
                f,
                "SpIBinder(local #{} {:?})",
                o.number,
                o.binder.descriptor()
            ),
            Kind::Remote(p) => write!(f, "SpIBinder(remote {:x}#{})", p.owner, p.number),
        }
    }
}
