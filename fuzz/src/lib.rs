//! Fuzz targets for the code that reads another process's (or another user's) bytes, and a
//! driver that runs them on the stable toolchain.
//!
//! Each target is a `fn(&[u8])` that must neither panic nor hang on any input: errors are the
//! expected outcome of bad bytes. [`TARGETS`] lists them with their seed inputs and a dictionary
//! of tokens for the mutator. Two ways to run them:
//!
//! - [`driver`]: deterministic mutation of the seeds plus random inputs, each input under a time
//!   bound, on any toolchain. The test `tests/smoke.rs` and the `afbus-fuzz` binary use it.
//! - libFuzzer, coverage-guided: `fuzz/libfuzzer/` is one entry point for every target, and
//!   `fuzz/libfuzzer/run TARGET` builds and runs it (see the README's Reliability section).
//!
//! Adding a target: a module under `targets/` with `target`, `seeds`, `DICTIONARY` and `TARGET`,
//! its `pub mod` line in `targets/mod.rs`, and its line in [`TARGETS`]. Nothing else: the smoke
//! test, the `afbus-fuzz` binary and the libFuzzer entry point all go through [`TARGETS`].
#![deny(unsafe_code)]

pub mod driver;
pub mod mutate;
pub mod targets;

/// One fuzz target.
pub struct Target {
    /// Its name on the command line and in `fuzz_targets/`.
    pub name: &'static str,
    /// Runs one input; must not panic or hang.
    pub run: fn(&[u8]),
    /// Well-formed inputs that mutation starts from.
    pub seeds: fn() -> Vec<Vec<u8>>,
    /// Tokens the mutator splices in (keywords, magic numbers).
    pub dictionary: &'static [&'static [u8]],
}

/// Every target.
pub const TARGETS: &[Target] = &[
    targets::frame::TARGET,
    targets::ring::TARGET,
    targets::parcel::TARGET,
    targets::call::TARGET,
    targets::master::TARGET,
    targets::idl::TARGET,
    targets::policy::TARGET,
    targets::activation::TARGET,
    targets::bridged::TARGET,
];

/// The target called `name`.
pub fn target(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}
