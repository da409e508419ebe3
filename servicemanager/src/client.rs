//! The client side of IServiceManager.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use afbus_binder::{Error, Parcel, Result, Runtime, SpIBinder, StatusCode};
use afbus_transport::BusSocket;

use crate::protocol::*;

/// How long [`ServiceManager::get_service`] waits for a name to be registered (Android's
/// `getService` waits about as long).
pub const DEFAULT_GET_TIMEOUT: Duration = Duration::from_secs(5);

/// A registered service as the daemon reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceDebugInfo {
    /// The service's name.
    pub name: String,
    /// The pid that registered it.
    pub pid: i32,
    /// Its uid.
    pub uid: u32,
}

/// A connection to a bus's service manager.
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
    sm: SpIBinder,
}

impl ServiceManager {
    /// Joins the bus at `bus` and reaches its service manager through `rt`.
    pub fn connect(rt: &Runtime, bus: impl AsRef<Path>) -> Result<ServiceManager> {
        let endpoint = Arc::new(BusSocket::connect(bus)?);
        let sm = rt.get_service(&endpoint, SERVICE_MANAGER_NAME)?;
        Ok(ServiceManager { endpoint, sm })
    }

    /// This process's endpoint on the bus.
    pub fn endpoint(&self) -> &Arc<BusSocket> {
        &self.endpoint
    }

    /// The IServiceManager object itself.
    pub fn as_binder(&self) -> &SpIBinder {
        &self.sm
    }

    /// Registers `service` as `name`. The calling process must serve calls (a thread pool).
    pub fn add_service(&self, name: &str, service: &SpIBinder) -> Result<()> {
        let mut p = Parcel::new();
        p.write_str(name);
        p.write_binder(service);
        self.sm.transact(ADD_SERVICE, p).map(drop)
    }

    /// The service registered as `name`, waiting up to [`DEFAULT_GET_TIMEOUT`] for it.
    pub fn get_service(&self, name: &str) -> Result<SpIBinder> {
        self.wait_for_service(name, DEFAULT_GET_TIMEOUT)
    }

    /// The service registered as `name`, waiting up to `timeout`; `NAME_NOT_FOUND` after it.
    pub fn wait_for_service(&self, name: &str, timeout: Duration) -> Result<SpIBinder> {
        let mut p = Parcel::new();
        p.write_str(name);
        p.write_i64(timeout.as_millis().min(MAX_GET_WAIT_MS as u128) as i64);
        let found = self.sm.transact(GET_SERVICE, p)?.read_nullable_binder()?;
        found.ok_or_else(|| Error::new(StatusCode::NAME_NOT_FOUND, format!("no service {name:?}")))
    }

    /// The service registered as `name`, if it is registered now.
    pub fn check_service(&self, name: &str) -> Result<Option<SpIBinder>> {
        let mut p = Parcel::new();
        p.write_str(name);
        Ok(self.sm.transact(CHECK_SERVICE, p)?.read_nullable_binder()?)
    }

    /// The registered names this caller may find, sorted.
    pub fn list_services(&self) -> Result<Vec<String>> {
        Ok(self.sm.transact(LIST_SERVICES, Parcel::new())?.read_vec()?)
    }

    /// Asks for `callback` (an IServiceCallback) to be told of registrations of `name`,
    /// including the current one.
    pub fn register_for_notifications(&self, name: &str, callback: &SpIBinder) -> Result<()> {
        let mut p = Parcel::new();
        p.write_str(name);
        p.write_binder(callback);
        self.sm.transact(REGISTER_FOR_NOTIFICATIONS, p).map(drop)
    }

    /// Withdraws a callback.
    pub fn unregister_for_notifications(&self, name: &str, callback: &SpIBinder) -> Result<()> {
        let mut p = Parcel::new();
        p.write_str(name);
        p.write_binder(callback);
        self.sm.transact(UNREGISTER_FOR_NOTIFICATIONS, p).map(drop)
    }

    /// Withdraws this process's registration of `service` as `name`; false if it was not.
    pub fn try_unregister_service(&self, name: &str, service: &SpIBinder) -> Result<bool> {
        let mut p = Parcel::new();
        p.write_str(name);
        p.write_binder(service);
        Ok(self.sm.transact(TRY_UNREGISTER_SERVICE, p)?.read_bool()?)
    }

    /// Whether the daemon's services directory declares `name` (it starts it on a get).
    pub fn is_declared(&self, name: &str) -> Result<bool> {
        let mut p = Parcel::new();
        p.write_str(name);
        Ok(self.sm.transact(IS_DECLARED, p)?.read_bool()?)
    }

    /// Every registered service with its owner.
    pub fn debug_info(&self) -> Result<Vec<ServiceDebugInfo>> {
        let mut r = self.sm.transact(GET_SERVICE_DEBUG_INFO, Parcel::new())?;
        let n = r.read_u32()? as usize;
        let mut out = Vec::with_capacity(n.min(r.remaining() / 12));
        for _ in 0..n {
            out.push(ServiceDebugInfo {
                name: r.read_string()?,
                pid: r.read_i32()?,
                uid: r.read_u32()?,
            });
        }
        Ok(out)
    }
}
