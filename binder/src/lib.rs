//! Binder's programming model on the afbus transport: parcels, local objects, proxies,
//! synchronous and one-way transactions, reference counts and death notices.
//!
//! ```
//! use afbus_binder::Parcel;
//!
//! let mut p = Parcel::new();
//! p.write_i32(7);
//! p.write_str("hello");
//! p.rewind();
//! assert_eq!(p.read_i32().unwrap(), 7);
//! assert_eq!(p.read_string().unwrap(), "hello");
//! ```
#![deny(unsafe_code)]

pub mod parcel;

pub use parcel::{Parcel, ParcelError, Parcelable};
