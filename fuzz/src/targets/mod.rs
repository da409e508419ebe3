//! The targets, one module each: `target(data)`, `seeds()`, `DICTIONARY` and `TARGET`.

pub mod activation;
pub mod call;
pub mod frame;
pub mod idl;
pub mod master;
pub mod parcel;
pub mod policy;
