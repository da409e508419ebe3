//! afbus-bridge: the same AIDL services across machines, on Zenoh.
//!
//! A bridge joins a bus and a Zenoh session. It **exports** the bus names its configuration
//! lists (and the bus policy's `remote` rules allow to each peer) and **imports** peers' names:
//! a remote service shows on the local bus as an ordinary name, and a local client calls it
//! through the same generated proxy.
//!
//! - A call becomes a Zenoh query and its reply; a one-way call a put, in order. A peer's
//!   timeout is `TIMED_OUT`, a peer or service gone is `DEAD_OBJECT`, as on one bus.
//! - Objects passed in calls (callbacks, listeners) cross too: each bridge stands in for the
//!   other's objects, and Zenoh liveliness tokens carry who holds what and who is gone. An fd
//!   cannot cross (`FDS_NOT_ALLOWED`); a blob (a sealed memfd) is copied.
//! - Bus signals cross by their `member`: each peer gets those the bus policy lets it
//!   `receive`, and a peer's signals are sent on the bus if the policy lets it `send` them.
//! - Peers authenticate with mutual TLS (on QUIC); each peer's certificate name is its principal, and
//!   Zenoh's access control, made from the configuration, lets it speak only under that name.
//!
//! Without the `zenoh` feature the crate is its configuration, key layout and wire format only.
//!
//! ```
//! use afbus_bridge::config::Config;
//!
//! let config = Config::parse(r#"
//!     name = "hosta"
//!     peers = ["hostb"]
//!     [zenoh]
//!     listen = ["quic/0.0.0.0:7447"]
//!     [zenoh.tls]
//!     ca = "ca.pem"
//!     cert = "hosta.pem"
//!     key = "hosta.key"
//!     [[export]]
//!     name = "org.example.Echo"
//! "#, "bridge.toml").unwrap();
//! assert_eq!(config.exports, ["org.example.Echo"]);
//! // With the `zenoh` feature: `afbus_bridge::Bridge::start(&config)`.
//! ```
#![deny(unsafe_code)]

#[cfg(feature = "zenoh")]
mod bridge;
pub mod config;
pub mod envelope;
pub mod keys;
#[cfg(feature = "zenoh")]
mod pool;

#[cfg(feature = "zenoh")]
pub use bridge::{
    Bridge, BridgeError, GIVEN_GRACE, MAX_CALL_THREADS, MAX_CALL_THREADS_PER_PEER,
    MAX_QUEUED_BYTES, MAX_QUEUED_CALLS, MAX_QUEUED_ONEWAY, SIGNALS_QUEUED,
};
pub use config::Config;
pub use config::MAX_GIVEN_TO_PEER;
