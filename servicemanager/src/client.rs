//! The client side of IServiceManager.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use afbus_binder::{Error, Result, Runtime, SpIBinder, StatusCode};
use afbus_transport::BusSocket;

use crate::protocol::{
    IServiceCallbackProxy, IServiceManager, IServiceManagerProxy, ServiceDebugInfo,
    MAX_GET_WAIT_MS, SERVICE_MANAGER_NAME,
};

/// How long [`ServiceManager::get_service`] waits for a name to be registered (Android's
/// `getService` waits about as long).
pub const DEFAULT_GET_TIMEOUT: Duration = Duration::from_secs(5);

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
}

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
        Ok(ServiceManager { endpoint, sm })
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
    pub fn wait_for_service(&self, name: &str, timeout: Duration) -> Result<SpIBinder> {
        let wait_ms = timeout.as_millis().min(MAX_GET_WAIT_MS as u128) as i64;
        let found = self.sm.get_service(name, wait_ms)?;
        found.ok_or_else(|| Error::new(StatusCode::NAME_NOT_FOUND, format!("no service {name:?}")))
    }

    /// The service registered as `name`, if it is registered now.
    pub fn check_service(&self, name: &str) -> Result<Option<SpIBinder>> {
        Ok(self.sm.check_service(name)?)
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
