//! Binder's programming model on the afbus transport: parcels, local objects, proxies,
//! synchronous and one-way transactions, reference counts, death notices and priority
//! inheritance.
//!
//! A [`Runtime`] owns the objects a process exports and the proxies it holds. A service
//! implements [`Binder`] and publishes an object under a name on a bus; a client gets an
//! [`SpIBinder`] for that name and calls it as it would call a local object.
//!
//! ```
//! use std::sync::Arc;
//! use afbus_binder::{Binder, CallContext, Parcel, Runtime, RuntimeConfig, Status, TransactionCode};
//! use afbus_transport::{AllowAll, BusMaster, BusSocket};
//!
//! struct Echo;
//! impl Binder for Echo {
//!     fn descriptor(&self) -> &str { "org.example.IEcho" }
//!     fn on_transact(&self, _: TransactionCode, data: &mut Parcel, reply: &mut Parcel,
//!                    _: &CallContext) -> Result<(), Status> {
//!         reply.write_str(&data.read_string()?.to_uppercase());
//!         Ok(())
//!     }
//! }
//!
//! let dir = tempfile::tempdir().unwrap();
//! let bus = BusMaster::bind(dir.path().join("bus"), AllowAll).unwrap().spawn().unwrap();
//!
//! // The service side (usually another process).
//! let server = Runtime::new(RuntimeConfig::default()).unwrap();
//! server.start_thread_pool();
//! let endpoint = Arc::new(BusSocket::connect(bus.path()).unwrap());
//! server.publish(&endpoint, "org.example.Echo", &server.local(Echo)).unwrap();
//!
//! // The client side.
//! let client = Runtime::new(RuntimeConfig::default()).unwrap();
//! let echo = client.get_service(&BusSocket::connect(bus.path()).unwrap(), "org.example.Echo").unwrap();
//! let mut data = Parcel::new();
//! data.write_str("hello");
//! let mut reply = echo.transact(TransactionCode::FIRST_CALL, data).unwrap();
//! assert_eq!(reply.read_string().unwrap(), "HELLO");
//! ```
//!
//! With the `tokio` feature, the `tokio` module adds the same calls from async code
//! (`SpIBinder::transact_async`, awaited without blocking a worker) and async services.
#![deny(unsafe_code)]

mod call;
mod conn;
mod intro;
mod object;
pub mod parcel;
mod peers;
mod priority;
mod reply;
mod runtime;
mod senders;
mod status;
mod sys;
#[cfg(feature = "tokio")]
pub mod tokio;

pub use conn::MAX_PENDING_ONEWAY_BYTES;
pub use object::{
    calling_context, on_behalf_of, Binder, CallContext, DeathRecipient, Interface, ObjectId,
    OnewayMode, SpIBinder, TransactionCode, WeakBinder, MAX_DUMP_ARGS, MAX_PRINCIPAL_LEN,
    ONEWAY_ROOM_WAIT,
};
pub use parcel::{
    Blob, Parcel, ParcelError, Parcelable, WireParts, MAX_BLOB_BYTES, MAX_PARCEL_NESTING,
};
pub use peers::{max_refs_per_peer, MAX_GIVEN_PER_PEER, MAX_RINGS_PER_PEER, MAX_SPARES_PER_PEER};
pub use priority::{Priority, SchedPolicy};
pub use reply::REPLY_TIMEOUT;
pub use runtime::{
    Runtime, RuntimeConfig, DEFAULT_MAX_THREADS, MAX_PARCEL_BYTES, MAX_SPARES_HELD,
    MINT_AHEAD_BATCH, MINT_AHEAD_RETRY, MINT_TIMEOUT, RELEASE_DELAY, SHM_LINGER,
};
pub use senders::{SenderBacklog, MAX_ONEWAY_BYTES_PER_SENDER};
pub use status::{Error, ExceptionCode, Result, Status, StatusCode};
