//! The examples of afbus, with their AIDL interfaces (`aidl/`), compiled by this package's
//! `build.rs`: `cargo run --example quickstart` from the repository's root runs one. They live in
//! a package of their own so that a crate depending on `afbus` compiles no IDL.
//!
//! The library itself is empty; see the `*.rs` files beside it.
