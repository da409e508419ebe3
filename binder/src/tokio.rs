//! Async proxies and services on tokio (the `tokio` feature): the same objects, calls and wire
//! as the blocking API, awaited instead of waited for.
//!
//! - [`SpIBinder::transact_async`] sends a call and awaits its reply on the tokio reactor: the
//!   channel's socket is registered with it (once per channel, as a duplicate fd), and on
//!   shared memory the callee rings that socket for the reply. No worker thread blocks while
//!   the call is out. Dropping the future gives the call up: the reply is discarded when it
//!   comes, and calls the callee nests in it are still answered (by a looper).
//! - [`Server`] runs an async implementation (an `IFooAsyncServer` that `afbus-idl` generates
//!   with `Builder::async_api`) behind the blocking trait: each call's future runs to completion
//!   on the looper thread that read the call, through the runtime handle it was made with. The
//!   looper is afbus's thread, so the call runs at the caller's priority, nested calls reach
//!   it, and one-way calls to an object run one at a time, in order. A handler that spawns
//!   tasks of its own runs those at the priority of the tokio workers.
//! - [`SpIBinder::died`] and [`RefsWatch`]: death notices and reference counts as futures.
//!
//! ```no_run
//! # async fn demo(service: afbus_binder::SpIBinder) -> afbus_binder::Result<()> {
//! use afbus_binder::{Parcel, TransactionCode};
//! let mut data = Parcel::new();
//! data.write_str("hello");
//! let mut reply = service.transact_async(TransactionCode(1), data).await?;
//! println!("{}", reply.read_string()?);
//! # Ok(()) }
//! ```

use std::future::Future;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::sync::Arc;

use ::tokio::io::unix::AsyncFd;
use ::tokio::runtime::{Handle, RuntimeFlavor};
use ::tokio::sync::watch;

use crate::conn::Conn;
use crate::object::{Binder, CallContext, DeathRecipient, SpIBinder, TransactionCode};
use crate::parcel::Parcel;
use crate::status::{Error, Result, Status, StatusCode};

/// A duplicate of a channel's socket, registered with a tokio reactor (its own fd, so that the
/// registration never outlives what it names).
pub(crate) struct Registered(OwnedFd);

impl From<OwnedFd> for Registered {
    fn from(fd: OwnedFd) -> Registered {
        Registered(fd)
    }
}

impl AsRawFd for Registered {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

/// A channel's registration with the reactor of one tokio runtime (by its id).
pub(crate) type Poller = (::tokio::runtime::Id, Arc<AsyncFd<Registered>>);

/// `conn`'s registration with the current tokio runtime's reactor, made on first use there and
/// kept with the channel (a call from another runtime registers it with that one instead).
pub(crate) fn poller(conn: &Conn) -> Result<Arc<AsyncFd<Registered>>> {
    let Ok(handle) = Handle::try_current() else {
        return Err(Error::new(
            StatusCode::INVALID_OPERATION,
            "an async call outside a tokio runtime",
        ));
    };
    let mut slot = conn.poller.lock();
    match &*slot {
        Some((id, p)) if *id == handle.id() => return Ok(p.clone()),
        _ => {}
    }
    let io = |e: std::io::Error| Error::new(StatusCode::NO_MEMORY, format!("registering: {e}"));
    let fd = conn.chan.as_fd().try_clone_to_owned().map_err(io)?;
    let p = Arc::new(crate::sys::register_readable(fd).map_err(io)?);
    *slot = Some((handle.id(), p.clone()));
    Ok(p)
}

thread_local! {
    /// This thread runs blocking work for async code (tokio's blocking pool), not tasks.
    static OFF_WORKER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` as blocking work for async code: an async service called in it may block this
/// thread on its future (see [`Server::block_on`]).
pub(crate) fn off_worker<R>(f: impl FnOnce() -> R) -> R {
    OFF_WORKER.with(|w| w.set(true));
    f()
}

/// Runs `f` on tokio's blocking pool, as blocking work for async code.
async fn on_blocking_pool<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> Result<R> {
    ::tokio::task::spawn_blocking(move || off_worker(f))
        .await
        .map_err(|e| Error::new(StatusCode::UNKNOWN_ERROR, format!("a local call: {e}")))
}

impl SpIBinder {
    /// [`transact`](Self::transact) from async code: the reply is awaited without blocking a
    /// worker thread. A local object is called on tokio's blocking pool. Give up by dropping
    /// the future (e.g. under `tokio::time::timeout`): the reply is discarded when it comes.
    pub async fn transact_async(&self, code: TransactionCode, data: Parcel) -> Result<Parcel> {
        match self.remote_runtime() {
            None => {
                let me = self.clone();
                on_blocking_pool(move || me.transact(code, data)).await?
            }
            Some((rt, proxy)) => rt?.call_async(&proxy, code, data).await,
        }
    }

    /// [`transact_oneway`](Self::transact_oneway) from async code. To a remote object it is
    /// queued at once (into a receiver with no room it waits as
    /// [`set_oneway_mode`](Self::set_oneway_mode) says, on this thread); a local object runs it
    /// on tokio's blocking pool, and this resolves once it has run, so that one-way calls from
    /// one task to a local object keep their order.
    pub async fn transact_oneway_async(&self, code: TransactionCode, data: Parcel) -> Result<()> {
        match self.remote_runtime() {
            None => {
                let me = self.clone();
                on_blocking_pool(move || me.transact_oneway(code, data)).await?
            }
            Some(_) => self.transact_oneway(code, data),
        }
    }

    /// [`descriptor`](Self::descriptor) from async code (asked once per proxy, then known).
    pub async fn descriptor_async(&self) -> Result<String> {
        match self.remote_runtime() {
            None => self.descriptor(),
            Some((_, proxy)) => {
                if let Some(known) = proxy.descriptor.get() {
                    return Ok(known.clone());
                }
                let mut reply = self
                    .transact_async(TransactionCode::INTERFACE, Parcel::new())
                    .await?;
                let descriptor = reply.read_string()?;
                Ok(proxy.descriptor.get_or_init(|| descriptor).clone())
            }
        }
    }

    /// Resolves when the object dies (its process exits or the channel hangs up); at once if
    /// it is dead already. A local object never dies.
    pub async fn died(&self) {
        let (tx, mut rx) = watch::channel(false);
        let recipient: Arc<dyn DeathRecipient> = Arc::new(move || {
            let _ = tx.send(true);
        });
        if self.link_to_death(recipient.clone()).is_err() {
            // Dead already (a local object cannot be linked: it never dies).
            if self.is_local() {
                std::future::pending::<()>().await;
            }
            return;
        }
        struct Unlink<'a>(&'a SpIBinder, Arc<dyn DeathRecipient>);
        impl Drop for Unlink<'_> {
            fn drop(&mut self) {
                let _ = self.0.unlink_to_death(&self.1);
            }
        }
        let _unlink = Unlink(self, recipient);
        let _ = rx.wait_for(|dead| *dead).await;
    }
}

/// Runs an async implementation `T` behind a blocking interface: each call's future runs to
/// completion on the thread that got the call (a looper), on the tokio runtime this was made
/// in. Generated code implements the blocking trait for `Server<T>` when `T` implements the
/// async server trait (`IFooAsyncServer`); make one with `IFooProxy::new_async_local`.
///
/// Make it in a multi-threaded runtime: a current-thread runtime drives its reactor and timers
/// only while its own thread is in `Runtime::block_on`, and a handler that awaits I/O or a
/// timer on a looper would wait until then.
pub struct Server<T> {
    service: T,
    handle: Handle,
}

impl<T> Server<T> {
    /// Wraps `service`, to run on the tokio runtime of the calling thread.
    ///
    /// # Panics
    /// Outside a tokio runtime.
    pub fn new(service: T) -> Server<T> {
        Server::with_handle(service, Handle::current())
    }

    /// Wraps `service`, to run on the runtime of `handle`.
    pub fn with_handle(service: T, handle: Handle) -> Server<T> {
        Server { service, handle }
    }

    /// The implementation.
    pub fn service(&self) -> &T {
        &self.service
    }

    /// Runs `call` to completion on this thread, on the server's runtime: a looper, or a thread
    /// of tokio's blocking pool (a local call from async code). On a worker of a multi-threaded
    /// runtime (a blocking call into a local object, made from async code) the worker hands
    /// its other tasks on first; a current-thread runtime's thread cannot block on another
    /// future, and the call fails (call it with `transact_async`).
    pub fn block_on<R>(
        &self,
        call: impl Future<Output = std::result::Result<R, Status>>,
    ) -> std::result::Result<R, Status> {
        if OFF_WORKER.with(|w| w.get()) {
            return self.handle.block_on(call);
        }
        match Handle::try_current().map(|h| h.runtime_flavor()) {
            Err(_) => self.handle.block_on(call),
            Ok(RuntimeFlavor::MultiThread) => {
                ::tokio::task::block_in_place(|| self.handle.block_on(call))
            }
            Ok(_) => Err(Status::from(Error::new(
                StatusCode::INVALID_OPERATION,
                "an async service called from a current-thread runtime's own thread",
            ))),
        }
    }
}

/// Counts of an object's remote references, as they change: wrap an object with
/// [`watch_refs`] before making it local.
pub struct RefsWatch {
    rx: watch::Receiver<Refs>,
}

/// An object's remote references: how many now, and whether it ever had one.
#[derive(Clone, Copy, Debug, Default)]
struct Refs {
    count: usize,
    held: bool,
}

impl RefsWatch {
    /// The count now.
    pub fn count(&self) -> usize {
        self.rx.borrow().count
    }

    /// The next count, once it changes; `None` once the object is gone.
    pub async fn changed(&mut self) -> Option<usize> {
        self.rx.changed().await.ok()?;
        Some(self.rx.borrow_and_update().count)
    }

    /// Resolves when the last remote reference is gone, as [`Binder::on_last_ref`] says it (at
    /// once if one was held and none is now); never if the object is gone first.
    pub async fn last_ref(&mut self) {
        if self.rx.wait_for(|r| r.held && r.count == 0).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// An object whose reference counts go to a [`RefsWatch`].
pub struct Watched<B> {
    inner: B,
    counts: watch::Sender<Refs>,
}

/// Wraps `binder` so that its remote reference counts can be awaited; `on_refs_changed` and
/// `on_last_ref` still reach `binder`.
pub fn watch_refs<B: Binder>(binder: B) -> (Watched<B>, RefsWatch) {
    let (counts, rx) = watch::channel(Refs::default());
    (
        Watched {
            inner: binder,
            counts,
        },
        RefsWatch { rx },
    )
}

impl<B: Binder> Binder for Watched<B> {
    fn descriptor(&self) -> &str {
        self.inner.descriptor()
    }

    fn on_transact(
        &self,
        code: TransactionCode,
        data: &mut Parcel,
        reply: &mut Parcel,
        ctx: &CallContext,
    ) -> std::result::Result<(), Status> {
        self.inner.on_transact(code, data, reply, ctx)
    }

    fn dump(
        &self,
        out: &mut dyn std::io::Write,
        args: &[String],
    ) -> std::result::Result<(), Status> {
        self.inner.dump(out, args)
    }

    fn on_last_ref(&self) {
        self.inner.on_last_ref();
    }

    fn on_refs_changed(&self, count: usize) {
        self.counts.send_replace(Refs { count, held: true });
        self.inner.on_refs_changed(count);
    }
}
