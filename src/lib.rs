//! afbus: Binder-style IPC for Linux in user space, on a bus socket with AF_BUS semantics built
//! over AF_UNIX.
//!
//! A service is written in AIDL; `afbus-idl` (from your `build.rs`) generates a trait, a proxy
//! and a stub for it. The service implements the trait on an ordinary type and registers it
//! with the bus's service manager; a client looks the name up and calls the proxy like a local
//! object. The interface (`aidl/org/example/IEcho.aidl`):
//!
//! ```text
//! package org.example;
//! interface IEcho {
//!     String echo(String text);
//!     oneway void ping();
//! }
//! ```
//!
//! `build.rs` (with `afbus-idl` as a build dependency; this and the next block are not compiled
//! here, as they need a build script: `examples/quickstart.rs` is the compiled version):
//!
//! ```text
//! fn main() {
//!     afbus_idl::Builder::new()
//!         .runtime_crate("::afbus::binder") // the generated code names the runtime through afbus
//!         .dir("aidl")
//!         .compile()
//!         .unwrap_or_else(|e| panic!("{e}"));
//! }
//! ```
//!
//! The service and a client (here in one program; they are usually two processes):
//!
//! ```text
//! use afbus::binder::{Runtime, RuntimeConfig, Status};
//! use afbus::servicemanager::{PrivateBus, ServiceManager};
//!
//! mod aidl {
//!     include!(concat!(env!("OUT_DIR"), "/aidl.rs"));
//! }
//! use aidl::org::example::IEcho::{IEcho, IEchoProxy};
//!
//! struct Echo;
//!
//! impl IEcho for Echo {
//!     fn echo(&self, text: &str) -> Result<String, Status> {
//!         Ok(text.to_owned())
//!     }
//!     fn ping(&self) -> Result<(), Status> {
//!         Ok(())
//!     }
//! }
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let bus = PrivateBus::start()?; // or the system's: afbus::servicemanager::bus_path(None)
//!     let rt = Runtime::new(RuntimeConfig::default())?;
//!     rt.start_thread_pool();
//!     let sm = ServiceManager::connect(&rt, bus.path())?;
//!     sm.add_service("org.example.IEcho/default", IEchoProxy::new_local(&rt, Echo).as_binder())?;
//!
//!     let echo: IEchoProxy = sm.get_interface("org.example.IEcho/default")?; // checks the interface
//!     assert_eq!(echo.echo("hi")?, "hi");
//!     Ok(())
//! }
//! ```
//!
//! The same code, compiled and run across two processes, is the repository's
//! `examples/quickstart.rs` (`cargo run --example quickstart`); the examples package shows the
//! manifest and `build.rs` of a crate that depends on `afbus` alone.
//!
//! This facade re-exports the layers: [`transport`] (bus addresses, frames, the bus master,
//! endpoints, channels), [`binder`] (parcels and Binder's object model: runtime, proxies,
//! objects) and [`servicemanager`] (the bus master daemon's registry and its client, the
//! embedded private bus). The transport alone, with no IDL:
//!
//! ```
//! use afbus::transport::{AllowAll, BusMaster, BusSocket};
//! let dir = tempfile::tempdir().unwrap();
//! let bus = BusMaster::bind(dir.path().join("bus"), AllowAll).unwrap().spawn().unwrap();
//! let endpoint = BusSocket::connect(bus.path()).unwrap();
//! println!("joined as {}", endpoint.addr());
//! ```
//!
//! The `tokio` feature adds async proxies and services (`afbus_idl::Builder::async_api`
//! generates `IFooAsync` and `IFooAsyncServer`; see `examples/async_quickstart.rs`) and the
//! service manager's async API.
//!
//! afbus logs through [`tracing`](https://docs.rs/tracing): refused one-way calls, policy
//! denials, loopers that could not take their priority ceiling. Nothing is printed unless the
//! program installs a subscriber (for example `tracing_subscriber::fmt::init()`).
#![forbid(unsafe_code)]

#[doc(inline)]
pub use afbus_binder as binder;
#[doc(inline)]
pub use afbus_servicemanager as servicemanager;
#[doc(inline)]
pub use afbus_transport as transport;
