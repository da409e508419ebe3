//! afbus: Binder-style IPC for Linux in user space, on a bus socket with AF_BUS semantics built
//! over AF_UNIX.
//!
//! This facade re-exports the layers: [`transport`] (bus addresses, frames, the bus master,
//! endpoints, channels), [`binder`] (parcels and Binder's object model) and [`servicemanager`]
//! (the bus master daemon's registry and its client, the embedded private bus).
//!
//! ```
//! use afbus::transport::{AllowAll, BusMaster, BusSocket};
//! let dir = tempfile::tempdir().unwrap();
//! let bus = BusMaster::bind(dir.path().join("bus"), AllowAll).unwrap().spawn().unwrap();
//! let endpoint = BusSocket::connect(bus.path()).unwrap();
//! println!("joined as {}", endpoint.addr());
//! ```
#![forbid(unsafe_code)]

pub use afbus_binder as binder;
pub use afbus_servicemanager as servicemanager;
pub use afbus_transport as transport;
