//! Lazy services: serve while someone holds a reference, then unregister and return.

use std::sync::Arc;
use std::time::{Duration, Instant};

use afbus_binder::{Binder, CallContext, Parcel, Result, Runtime, Status, TransactionCode};
use parking_lot::{Condvar, Mutex};

use crate::client::ServiceManager;

/// How long a lazy service waits with no client before it exits (Android's default too).
pub const DEFAULT_LAZY_GRACE: Duration = Duration::from_secs(5);

/// How long, after unregistering, a lazy service waits for the service manager's own reference
/// to go; a reference still held then belongs to a client that got in just before.
const SETTLE: Duration = Duration::from_secs(1);

/// Counts a service object's remote references.
#[derive(Default)]
struct Refs {
    count: Mutex<usize>,
    changed: Condvar,
}

impl Refs {
    /// Waits until at most `max` references have been held for `quiet` without a break.
    fn wait_at_most_for(&self, max: usize, quiet: Duration) {
        let mut n = self.count.lock();
        loop {
            while *n > max {
                self.changed.wait(&mut n);
            }
            let deadline = Instant::now() + quiet;
            let mut broke = false;
            while !broke {
                if self.changed.wait_until(&mut n, deadline).timed_out() {
                    return;
                }
                broke = *n > max;
            }
        }
    }

    /// Waits up to `timeout` for the count to reach zero; true if it did.
    fn wait_zero(&self, timeout: Duration) -> bool {
        let mut n = self.count.lock();
        let deadline = Instant::now() + timeout;
        while *n > 0 {
            if self.changed.wait_until(&mut n, deadline).timed_out() {
                return *n == 0;
            }
        }
        true
    }
}

/// A service object that reports its reference count.
struct Counted {
    inner: Arc<dyn Binder>,
    refs: Arc<Refs>,
}

impl Binder for Counted {
    fn descriptor(&self) -> &str {
        self.inner.descriptor()
    }
    fn on_transact(
        &self,
        code: TransactionCode,
        data: &mut Parcel,
        reply: &mut Parcel,
        ctx: &CallContext,
    ) -> Result<(), Status> {
        self.inner.on_transact(code, data, reply, ctx)
    }
    fn on_last_ref(&self) {
        self.inner.on_last_ref();
    }
    fn on_refs_changed(&self, count: usize) {
        *self.refs.count.lock() = count;
        self.refs.changed.notify_all();
        self.inner.on_refs_changed(count);
    }
}

/// Registers `service` as `name` and serves it until no client has held a reference for
/// `grace`; then withdraws the registration and returns, so that the process can exit (the
/// daemon starts it again on the next get). `rt` must have a thread pool running.
///
/// The service manager's own reference does not count as a client. A client that gets the
/// service just before it is withdrawn keeps it registered: the service registers again.
pub fn serve_lazily(
    rt: &Runtime,
    sm: &ServiceManager,
    name: &str,
    service: impl Binder,
    grace: Duration,
) -> Result<()> {
    let refs = Arc::new(Refs::default());
    let object = rt.local(Counted {
        inner: Arc::new(service),
        refs: refs.clone(),
    });
    sm.add_service(name, &object)?;
    loop {
        // One reference is the service manager's.
        refs.wait_at_most_for(1, grace);
        if sm.try_unregister_service(name, &object)? && refs.wait_zero(SETTLE) {
            tracing::info!(name, "no clients left: exiting");
            return Ok(());
        }
        sm.add_service(name, &object)?;
    }
}
