//! The client side of IServiceManager.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use afbus_binder::{Error, Interface, ObjectId, Result, Runtime, SpIBinder, StatusCode};
use afbus_transport::BusSocket;
use parking_lot::Mutex;

use crate::protocol::{
    IServiceCallbackProxy, IServiceManager, IServiceManagerProxy, ServiceDebugInfo,
    MAX_GET_WAIT_MS, SERVICE_MANAGER_NAME,
};

/// How long [`ServiceManager::get_service`] waits for a name to be registered (Android's
/// `getService` waits about as long).
pub const DEFAULT_GET_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a get may ask the service manager to wait, in its terms.
fn wait_ms(timeout: Duration) -> i64 {
    timeout.as_millis().min(MAX_GET_WAIT_MS as u128) as i64
}

/// A connection to a bus's service manager: the generated IServiceManager proxy, with waits and
/// errors shaped for Rust callers.
///
/// ```
/// use afbus_binder::{Runtime, RuntimeConfig};
/// use afbus_servicemanager::{PrivateBus, ServiceManager};
/// let bus = PrivateBus::start().unwrap();
/// let rt = Runtime::new(RuntimeConfig::default()).unwrap();
/// let sm = ServiceManager::connect(&rt, bus.path()).unwrap();
/// assert!(sm.list_services().unwrap().is_empty());
/// ```
pub struct ServiceManager {
    endpoint: Arc<BusSocket>,
    sm: IServiceManagerProxy,
    /// Who each name this client got last was (at most [`REMEMBERED_NAMES`]): a get first asks
    /// the service manager who a name is now only if this process may hold that object already.
    got: Mutex<HashMap<String, ObjectId>>,
}

/// Names a [`ServiceManager`] remembers the objects of; past it, it forgets them all (a get of
/// a forgotten name still returns the proxy held, by one more round trip).
const REMEMBERED_NAMES: usize = 256;

impl ServiceManager {
    /// Joins the bus at `bus` and reaches its service manager through `rt`.
    pub fn connect(rt: &Runtime, bus: impl AsRef<Path>) -> Result<ServiceManager> {
        ServiceManager::with_endpoint(rt, Arc::new(BusSocket::connect(bus)?))
    }

    /// Reaches the service manager through `rt` over an endpoint already joined to its bus, so
    /// that several runtimes of a process can share one bus connection.
    pub fn with_endpoint(rt: &Runtime, endpoint: Arc<BusSocket>) -> Result<ServiceManager> {
        let sm =
            IServiceManagerProxy::from_binder(rt.get_service(&endpoint, SERVICE_MANAGER_NAME)?);
        Ok(ServiceManager {
            endpoint,
            sm,
            got: Mutex::default(),
        })
    }

    /// This process's endpoint on the bus.
    pub fn endpoint(&self) -> &Arc<BusSocket> {
        &self.endpoint
    }

    /// The IServiceManager proxy itself.
    pub fn proxy(&self) -> &IServiceManagerProxy {
        &self.sm
    }

    /// Registers `service` as `name`. The calling process must serve calls (a thread pool). A
    /// name registered to another live object is refused with `ILLEGAL_STATE`: a second
    /// registration never silently replaces the first (see
    /// [`replace_service`](Self::replace_service)).
    pub fn add_service(&self, name: &str, service: &SpIBinder) -> Result<()> {
        Ok(self.sm.add_service(name, service)?)
    }

    /// Registers `service` as `name`, replacing the registration there if the caller may (its
    /// own uid's; anyone's for root and the bus owner). The name's watchers are told.
    pub fn replace_service(&self, name: &str, service: &SpIBinder) -> Result<()> {
        Ok(self.sm.replace_service(name, service)?)
    }

    /// The service registered as `name`, waiting up to [`DEFAULT_GET_TIMEOUT`] for it.
    pub fn get_service(&self, name: &str) -> Result<SpIBinder> {
        self.wait_for_service(name, DEFAULT_GET_TIMEOUT)
    }

    /// The service registered as `name`, waiting up to `timeout`; `NAME_NOT_FOUND` after it.
    ///
    /// A service this process got by this name and still holds is returned without a new
    /// reference: the service manager says who the object registered as `name` is now, and if
    /// it is the one held, nothing is asked of the service's process. Any other get is one
    /// round trip to the service manager, which hands over a reference minted ahead.
    pub fn wait_for_service(&self, name: &str, timeout: Duration) -> Result<SpIBinder> {
        if self.may_hold(name) {
            if let Some(held) = self.held(self.sm.identify_service(name).ok()) {
                return Ok(held);
            }
        }
        let found = self.sm.get_service(name, wait_ms(timeout))?;
        self.remember(name, found)
    }

    /// Whether this process got `name` before and holds a live proxy to what it was then.
    fn may_hold(&self, name: &str) -> bool {
        let last = self.got.lock().get(name).copied();
        last.is_some_and(|last| self.sm.as_binder().held_alike(last).is_some())
    }

    /// The proxy this process holds to the object `identified` (what `identifyService` said of
    /// a name), if it holds one. A service manager that does not know `identifyService` (an
    /// older daemon) is no error.
    fn held(&self, identified: Option<Vec<i64>>) -> Option<SpIBinder> {
        let [runtime, number, pid] = identified?[..] else {
            return None;
        };
        let id = ObjectId {
            runtime: runtime as u64,
            number: number as u64,
            pid: i32::try_from(pid).ok()?,
        };
        self.sm.as_binder().held_alike(id)
    }

    /// The answer to a get of `name`, remembered for the next get.
    fn remember(&self, name: &str, found: Option<SpIBinder>) -> Result<SpIBinder> {
        let found = found.ok_or_else(|| {
            Error::new(StatusCode::NAME_NOT_FOUND, format!("no service {name:?}"))
        })?;
        let mut got = self.got.lock();
        if got.len() >= REMEMBERED_NAMES && !got.contains_key(name) {
            got.clear();
        }
        got.insert(name.to_owned(), found.object_id());
        Ok(found)
    }

    /// The service registered as `name` as its interface's proxy (`IFooProxy`, generated by
    /// `afbus-idl`), waiting up to [`DEFAULT_GET_TIMEOUT`] for it; a service of another
    /// interface is an `ILLEGAL_ARGUMENT` exception naming both.
    pub fn get_interface<P: Interface>(&self, name: &str) -> Result<P> {
        self.wait_for_interface(name, DEFAULT_GET_TIMEOUT)
    }

    /// [`get_interface`](Self::get_interface), waiting up to `timeout`.
    pub fn wait_for_interface<P: Interface>(&self, name: &str, timeout: Duration) -> Result<P> {
        Ok(P::from_binder_checked(
            self.wait_for_service(name, timeout)?,
        )?)
    }

    /// The service registered as `name`, if it is registered now.
    pub fn check_service(&self, name: &str) -> Result<Option<SpIBinder>> {
        Ok(self.sm.check_service(name)?)
    }

    /// The names declared in the daemon's services directory (started on a get) that this
    /// caller may find, sorted: registered now or not.
    pub fn list_declared(&self) -> Result<Vec<String>> {
        Ok(self.sm.list_declared()?)
    }

    /// The registered names this caller may find, sorted.
    pub fn list_services(&self) -> Result<Vec<String>> {
        Ok(self.sm.list_services()?)
    }

    /// Asks for `callback` to be told of registrations of `name`, including the current one.
    pub fn register_for_notifications(
        &self,
        name: &str,
        callback: &IServiceCallbackProxy,
    ) -> Result<()> {
        Ok(self.sm.register_for_notifications(name, callback)?)
    }

    /// Asks for `callback` to hear of every registration and removal from now on, of the
    /// names this process may find and call (what `afbus monitor` prints).
    pub fn register_for_all_notifications(&self, callback: &IServiceCallbackProxy) -> Result<()> {
        Ok(self.sm.register_for_all_notifications(callback)?)
    }

    /// Withdraws a [`register_for_all_notifications`](Self::register_for_all_notifications).
    pub fn unregister_for_all_notifications(&self, callback: &IServiceCallbackProxy) -> Result<()> {
        Ok(self.sm.unregister_for_all_notifications(callback)?)
    }

    /// Withdraws a callback.
    pub fn unregister_for_notifications(
        &self,
        name: &str,
        callback: &IServiceCallbackProxy,
    ) -> Result<()> {
        Ok(self.sm.unregister_for_notifications(name, callback)?)
    }

    /// Withdraws this process's registration of `service` as `name`; false if it was not.
    pub fn try_unregister_service(&self, name: &str, service: &SpIBinder) -> Result<bool> {
        Ok(self.sm.try_unregister_service(name, service)?)
    }

    /// Whether the daemon's services directory declares `name` (it starts it on a get).
    pub fn is_declared(&self, name: &str) -> Result<bool> {
        Ok(self.sm.is_declared(name)?)
    }

    /// Every registered service with its owner.
    pub fn debug_info(&self) -> Result<Vec<ServiceDebugInfo>> {
        Ok(self.sm.get_service_debug_info()?)
    }
}

/// The service manager from async code (the `tokio` feature): gets and waits are awaited on the
/// tokio reactor (see `afbus_binder::tokio`), and registrations come as a stream.
#[cfg(feature = "tokio")]
impl ServiceManager {
    /// [`get_service`](Self::get_service), awaited.
    pub async fn get_service_async(&self, name: &str) -> Result<SpIBinder> {
        self.wait_for_service_async(name, DEFAULT_GET_TIMEOUT).await
    }

    /// [`wait_for_service`](Self::wait_for_service), awaited: no thread waits meanwhile.
    pub async fn wait_for_service_async(&self, name: &str, timeout: Duration) -> Result<SpIBinder> {
        use crate::protocol::IServiceManagerAsync as Async;
        if self.may_hold(name) {
            if let Some(held) = self.held(Async::identify_service(&self.sm, name).await.ok()) {
                return Ok(held);
            }
        }
        let found = Async::get_service(&self.sm, name, wait_ms(timeout)).await?;
        self.remember(name, found)
    }

    /// [`get_interface`](Self::get_interface), awaited (the interface check too).
    pub async fn get_interface_async<P: Interface>(&self, name: &str) -> Result<P> {
        let found = self.get_service_async(name).await?;
        // Known to the proxy from now on: the check below asks nothing more.
        found.descriptor_async().await?;
        Ok(P::from_binder_checked(found)?)
    }

    /// Registrations and removals of `name` from now on (its current registration first, if
    /// any), as a stream: await [`Notifications::next`]. The runtime must serve calls (a
    /// thread pool): the service manager tells this process's callback object. At most
    /// [`NOTIFICATIONS_BUFFERED`] wait to be read; past that the service manager's one-way
    /// calls wait, as for any slow receiver.
    pub async fn notifications(&self, rt: &Runtime, name: &str) -> Result<Notifications> {
        use crate::protocol::IServiceManagerAsync as Async;
        let (tx, rx) = tokio::sync::mpsc::channel(NOTIFICATIONS_BUFFERED);
        let callback = IServiceCallbackProxy::new_local(rt, Notifier { tx });
        Async::register_for_notifications(&self.sm, name, &callback).await?;
        Ok(Notifications {
            rx,
            unregister: Some((self.sm.clone(), name.to_owned(), callback)),
        })
    }
}

/// Notices a [`Notifications`] stream holds before the service manager's calls wait.
#[cfg(feature = "tokio")]
pub const NOTIFICATIONS_BUFFERED: usize = 64;

/// What the service manager says of a watched name.
#[cfg(feature = "tokio")]
#[derive(Debug)]
pub enum Notice {
    /// `name` was registered as `service`.
    Registered {
        /// The name.
        name: String,
        /// The object now registered under it.
        service: SpIBinder,
    },
    /// `name`'s owner died or withdrew it.
    Removed {
        /// The name.
        name: String,
    },
}

/// A stream of [`Notice`]s of one name (see [`ServiceManager::notifications`]); dropping it
/// stops them.
#[cfg(feature = "tokio")]
pub struct Notifications {
    rx: tokio::sync::mpsc::Receiver<Notice>,
    unregister: Option<(IServiceManagerProxy, String, IServiceCallbackProxy)>,
}

#[cfg(feature = "tokio")]
impl Notifications {
    /// The next notice; `None` once the service manager is gone.
    pub async fn next(&mut self) -> Option<Notice> {
        self.rx.recv().await
    }
}

#[cfg(feature = "tokio")]
impl Drop for Notifications {
    fn drop(&mut self) {
        use crate::protocol::IServiceManagerAsync as Async;
        let Some((sm, name, callback)) = self.unregister.take() else {
            return;
        };
        // Withdrawn in the background from async code (no worker blocks), at once otherwise.
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn(async move {
                    let _ = Async::unregister_for_notifications(&sm, &name, &callback).await;
                });
            }
            Err(_) => {
                let _ = IServiceManager::unregister_for_notifications(&sm, &name, &callback);
            }
        }
    }
}

/// The callback object behind a [`Notifications`] stream.
#[cfg(feature = "tokio")]
struct Notifier {
    tx: tokio::sync::mpsc::Sender<Notice>,
}

#[cfg(feature = "tokio")]
impl crate::protocol::IServiceCallback for Notifier {
    fn on_registration(
        &self,
        name: &str,
        service: &SpIBinder,
    ) -> std::result::Result<(), afbus_binder::Status> {
        self.tell(Notice::Registered {
            name: name.to_owned(),
            service: service.clone(),
        });
        Ok(())
    }

    fn on_removal(&self, name: &str) -> std::result::Result<(), afbus_binder::Status> {
        self.tell(Notice::Removed {
            name: name.to_owned(),
        });
        Ok(())
    }
}

#[cfg(feature = "tokio")]
impl Notifier {
    /// On a looper (the service manager calls it) waiting for room is the flow control; a
    /// thread of tokio's cannot wait, and a notice past the buffer is dropped, logged.
    fn tell(&self, notice: Notice) {
        let sent = match tokio::runtime::Handle::try_current() {
            Err(_) => self.tx.blocking_send(notice).is_ok(),
            Ok(_) => self.tx.try_send(notice).is_ok(),
        };
        if !sent && !self.tx.is_closed() {
            tracing::warn!("a service notification was dropped: its stream is not being read");
        }
    }
}
