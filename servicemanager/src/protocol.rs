//! The IServiceManager interface: its name on the bus, descriptor and transaction codes.

use afbus_binder::TransactionCode;

/// The well-known bus name under which the daemon serves IServiceManager.
pub const SERVICE_MANAGER_NAME: &str = "afbus.ServiceManager";
/// IServiceManager's descriptor.
pub const DESCRIPTOR: &str = "afbus.IServiceManager";
/// IServiceCallback's descriptor.
pub const CALLBACK_DESCRIPTOR: &str = "afbus.IServiceCallback";

/// `getService(name: String, timeoutMs: long) -> @nullable IBinder`: waits up to the timeout.
pub const GET_SERVICE: TransactionCode = TransactionCode(1);
/// `checkService(name: String) -> @nullable IBinder`: never waits.
pub const CHECK_SERVICE: TransactionCode = TransactionCode(2);
/// `addService(name: String, service: IBinder)`.
pub const ADD_SERVICE: TransactionCode = TransactionCode(3);
/// `listServices() -> String[]`.
pub const LIST_SERVICES: TransactionCode = TransactionCode(4);
/// `registerForNotifications(name: String, callback: IServiceCallback)`.
pub const REGISTER_FOR_NOTIFICATIONS: TransactionCode = TransactionCode(5);
/// `unregisterForNotifications(name: String, callback: IServiceCallback)`.
pub const UNREGISTER_FOR_NOTIFICATIONS: TransactionCode = TransactionCode(6);
/// `isDeclared(name: String) -> boolean`: a file in the daemon's services directory declares it.
pub const IS_DECLARED: TransactionCode = TransactionCode(7);
/// `getServiceDebugInfo() -> ServiceDebugInfo[]` (name, pid, uid).
pub const GET_SERVICE_DEBUG_INFO: TransactionCode = TransactionCode(8);

/// `tryUnregisterService(name: String, service: IBinder) -> boolean`: the owner withdraws its
/// own registration (a lazy service about to exit).
pub const TRY_UNREGISTER_SERVICE: TransactionCode = TransactionCode(9);

/// `oneway onRegistration(name: String, service: IBinder)` on an IServiceCallback.
pub const ON_REGISTRATION: TransactionCode = TransactionCode(1);
/// `oneway onRemoval(name: String)` on an IServiceCallback: the owner died.
pub const ON_REMOVAL: TransactionCode = TransactionCode(2);

/// Longest a getter may ask to wait, in milliseconds: each waiting getter holds one of the
/// daemon's threads.
pub const MAX_GET_WAIT_MS: i64 = 5 * 60 * 1000;
