//! IServiceManager as the daemon serves it: generated from `aidl/afbus/*.aidl`, and where to
//! find it on the bus.

/// The Rust afbus-idl generated from `aidl/afbus/` (checked in, so that crates depending on
/// this one compile no IDL; `tests/generated.rs` keeps it in step with the AIDL).
mod generated {
    include!("generated.rs");
}

pub use generated::afbus::IServiceCallback::{
    transactions as callback_transactions, IServiceCallback, IServiceCallbackProxy,
    IServiceCallbackStub, DESCRIPTOR as CALLBACK_DESCRIPTOR,
};
#[cfg(feature = "tokio")]
pub use generated::afbus::IServiceCallback::{IServiceCallbackAsync, IServiceCallbackAsyncServer};
pub use generated::afbus::IServiceManager::{
    transactions, IServiceManager, IServiceManagerProxy, IServiceManagerStub, DESCRIPTOR,
};
#[cfg(feature = "tokio")]
pub use generated::afbus::IServiceManager::{IServiceManagerAsync, IServiceManagerAsyncServer};
pub use generated::afbus::ServiceDebugInfo::ServiceDebugInfo;

/// The well-known bus name under which the daemon serves IServiceManager.
pub const SERVICE_MANAGER_NAME: &str = "afbus.ServiceManager";

/// Longest a getter may ask to wait, in milliseconds: each waiting getter holds one of the
/// daemon's threads.
pub const MAX_GET_WAIT_MS: i64 = 5 * 60 * 1000;
