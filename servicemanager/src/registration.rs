//! Keeping services registered across restarts of the bus master.
//!
//! When the service manager dies its registry goes with it, while the channels clients already
//! hold keep working (they run process to process). A [`Registration`] watches the bus
//! connection; when the bus is gone it waits for a new service manager on the same path (backing
//! off between attempts), reconnects, and adds every service again.

use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use afbus_binder::{Runtime, SpIBinder, StatusCode};
use afbus_transport::Error as TransportError;
use parking_lot::{Condvar, Mutex};

use crate::client::ServiceManager;

/// First wait before reconnecting to a bus that has gone.
pub const FIRST_BACKOFF: Duration = Duration::from_millis(10);

/// Longest wait between reconnection attempts: a restarted bus is found within this.
pub const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// How often the watcher looks whether its [`Registration`] was dropped.
const STOP_CHECK: Duration = Duration::from_millis(200);

/// Services kept registered on a bus by a watcher thread; dropping it stops the watcher (the
/// services stay registered until this process leaves the bus).
///
/// ```no_run
/// # fn main() -> afbus_binder::Result<()> {
/// use std::sync::Arc;
/// use afbus_binder::{Runtime, RuntimeConfig};
/// use afbus_servicemanager::Registration;
/// # struct Echo;
/// # impl afbus_binder::Binder for Echo {
/// #     fn descriptor(&self) -> &str { "Echo" }
/// #     fn on_transact(&self, _: afbus_binder::TransactionCode, _: &mut afbus_binder::Parcel,
/// #         _: &mut afbus_binder::Parcel, _: &afbus_binder::CallContext)
/// #         -> Result<(), afbus_binder::Status> { Ok(()) }
/// # }
/// let rt = Arc::new(Runtime::new(RuntimeConfig::default())?);
/// rt.start_thread_pool();
/// let echo = rt.local(Echo);
/// let registration = Registration::keep(&rt, "/run/afbus/bus", vec![("org.example.Echo".into(), echo)])?;
/// rt.join_thread_pool();
/// # Ok(()) }
/// ```
pub struct Registration {
    shared: Arc<Shared>,
    watcher: Option<JoinHandle<()>>,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

struct State {
    /// Times every service was registered: 1 after [`Registration::keep`].
    generation: u64,
    /// Why the last attempt to register again failed, if it did.
    last_error: Option<StatusCode>,
    stop: bool,
}

impl Registration {
    /// Registers each `(name, object)` with the service manager at `bus` now, and again each
    /// time the bus is gone and a service manager is back on the same path. Fails if the first
    /// registration does.
    pub fn keep(
        rt: &Arc<Runtime>,
        bus: impl Into<PathBuf>,
        services: Vec<(String, SpIBinder)>,
    ) -> afbus_binder::Result<Registration> {
        let bus = bus.into();
        let sm = register(rt, &bus, &services)?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                generation: 1,
                last_error: None,
                stop: false,
            }),
            changed: Condvar::new(),
        });
        let rt = rt.clone();
        let s = shared.clone();
        let watcher = std::thread::Builder::new()
            .name("afbus-registration".into())
            .spawn(move || watch(&rt, &bus, &services, sm, &s))
            .map_err(|e| {
                afbus_binder::Error::new(
                    StatusCode::NO_MEMORY,
                    format!("spawn the registration watcher: {e}"),
                )
            })?;
        Ok(Registration {
            shared,
            watcher: Some(watcher),
        })
    }

    /// How many times the services have been registered: 1, plus one per bus restart survived.
    pub fn generation(&self) -> u64 {
        self.shared.state.lock().generation
    }

    /// Waits until the services have been registered `generation` times, or `timeout` passes;
    /// true if they have.
    pub fn wait_generation(&self, generation: u64, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut st = self.shared.state.lock();
        while st.generation < generation {
            if self
                .shared
                .changed
                .wait_until(&mut st, deadline)
                .timed_out()
            {
                return st.generation >= generation;
            }
        }
        true
    }

    /// Why the latest attempt to register again failed, while it is being retried.
    pub fn last_error(&self) -> Option<StatusCode> {
        self.shared.state.lock().last_error
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.shared.state.lock().stop = true;
        if let Some(w) = self.watcher.take() {
            let _ = w.join();
        }
    }
}

/// Joins the bus and adds every service.
fn register(
    rt: &Runtime,
    bus: &PathBuf,
    services: &[(String, SpIBinder)],
) -> afbus_binder::Result<ServiceManager> {
    let sm = ServiceManager::connect(rt, bus)?;
    for (name, object) in services {
        sm.add_service(name, object)?;
    }
    Ok(sm)
}

/// Waits for the bus to go, then registers again with backoff; until stopped.
fn watch(
    rt: &Runtime,
    bus: &PathBuf,
    services: &[(String, SpIBinder)],
    mut sm: ServiceManager,
    shared: &Shared,
) {
    loop {
        // The endpoint is ours alone: its events are read here, and only its end matters.
        match sm.endpoint().recv_event(Some(STOP_CHECK)) {
            Ok(_) | Err(TransportError::TimedOut) => {
                if shared.state.lock().stop {
                    return;
                }
                continue;
            }
            Err(_) => {}
        }
        tracing::warn!(bus = %bus.display(), "the bus is gone; registering again when it is back");
        let mut backoff = FIRST_BACKOFF;
        sm = loop {
            if shared.state.lock().stop {
                return;
            }
            std::thread::sleep(backoff);
            match register(rt, bus, services) {
                Ok(sm) => break sm,
                Err(e) => {
                    shared.state.lock().last_error = Some(e.code());
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        };
        let mut st = shared.state.lock();
        st.generation += 1;
        st.last_error = None;
        shared.changed.notify_all();
        tracing::info!(bus = %bus.display(), generation = st.generation, "services registered again");
    }
}
