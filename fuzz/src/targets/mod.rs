//! The targets, one module each: `target(data)`, `seeds()`, `DICTIONARY` and `TARGET`.

pub mod activation;
pub mod frame;
pub mod idl;
pub mod parcel;
pub mod policy;
