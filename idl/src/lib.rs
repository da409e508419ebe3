//! The afbus IDL compiler: AIDL in, Rust proxies and stubs out.
#![forbid(unsafe_code)]
