//! The afbus bus master daemon: a bus, its policy, and the service registry served as the
//! IServiceManager binder interface; plus the client side of that interface and an embedded
//! private bus for tests and examples.
//!
//! ```
//! use std::sync::Arc;
//! use afbus_binder::{Binder, CallContext, Parcel, Runtime, RuntimeConfig, Status, TransactionCode};
//! use afbus_servicemanager::{PrivateBus, ServiceManager};
//!
//! struct Hello;
//! impl Binder for Hello {
//!     fn descriptor(&self) -> &str { "org.example.IHello" }
//!     fn on_transact(&self, _: TransactionCode, _: &mut Parcel, reply: &mut Parcel,
//!                    _: &CallContext) -> Result<(), Status> {
//!         reply.write_str("hello");
//!         Ok(())
//!     }
//! }
//!
//! let bus = PrivateBus::start().unwrap();
//! let server = Runtime::new(RuntimeConfig::default()).unwrap();
//! server.start_thread_pool();
//! let sm = ServiceManager::connect(&server, bus.path()).unwrap();
//! sm.add_service("org.example.hello", &server.local(Hello)).unwrap();
//!
//! let client = Runtime::new(RuntimeConfig::default()).unwrap();
//! let sm = ServiceManager::connect(&client, bus.path()).unwrap();
//! let hello = sm.get_service("org.example.hello").unwrap();
//! let mut reply = hello.transact(TransactionCode::FIRST_CALL, Parcel::new()).unwrap();
//! assert_eq!(reply.read_string().unwrap(), "hello");
//! ```
#![deny(unsafe_code)]

pub mod activation;
pub mod aidl_call;
mod client;
mod daemon;
mod lazy;
mod paths;
pub mod policy;
pub mod protocol;
mod registration;
pub mod registry;
mod service;
mod sys;

pub use service::{MAX_WAITING_GETS, MAX_WAITING_GETS_PER_UID};

#[cfg(feature = "tokio")]
pub use client::{Notice, Notifications, NOTIFICATIONS_BUFFERED};
pub use client::{ServiceManager, DEFAULT_GET_TIMEOUT};
pub use daemon::{
    Daemon, DaemonError, DaemonOptions, PrivateBus, DAEMON_CALLS_PER_UID, DAEMON_MAX_THREADS,
    DAEMON_PEER_TIMEOUT, STOP_GRACE,
};
pub use lazy::{serve_lazily, DEFAULT_LAZY_GRACE};
pub use paths::{bus_path, check_dir, BusPath, UnsafeBusDir, BUS_ENV, SYSTEM_BUS};
pub use policy::{ConfigError, Op, Policy};
pub use protocol::{IServiceCallback, IServiceCallbackProxy, ServiceDebugInfo};
pub use registration::{Registration, FIRST_BACKOFF, MAX_BACKOFF};
/// For the daemon's binary: an inherited fd (`--ready-fd`) as a file of its own.
pub use sys::inherited_fd;
