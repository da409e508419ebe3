//! The afbus bus socket: bus addresses, frames over AF_UNIX `SOCK_SEQPACKET`, the bus master
//! engine, endpoints and the point-to-point channels the master brokers between them.
//!
//! A bus is a socket path owned by a [`BusMaster`]. Endpoints ([`BusSocket`]) join it and get a
//! unique address; identity comes from the kernel (`SO_PEERCRED`), never from what a peer says.
//! Privileged operations (owning a name, connecting to a peer, multicast) are requests to the
//! master, checked by its [`Policy`]. A connection between two endpoints is a socketpair the
//! master hands out, one end to each: a [`Channel`]. The master is never on a channel's path.
//!
//! ```
//! use afbus_transport::{AllowAll, BusMaster, BusSocket, Event, FrameKind, Header, QueueMode, Target};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let master = BusMaster::bind(dir.path().join("bus"), AllowAll).unwrap().spawn().unwrap();
//!
//! let server = BusSocket::connect(master.path()).unwrap();
//! let name = "org.example.Echo".parse().unwrap();
//! server.request_name(&name, QueueMode::Queue).unwrap();
//!
//! let client = BusSocket::connect(master.path()).unwrap();
//! let (to_server, _) = client.connect_to(&Target::Name(name)).unwrap();
//! to_server.send(&Header::new(FrameKind::Request).with_txn(1), b"ping", &[]).unwrap();
//!
//! let Event::Incoming { channel: from_client, peer: who, .. } = server.recv_event(None).unwrap() else { panic!() };
//! assert_eq!(who.id, client.id());
//! let request = from_client.recv().unwrap();
//! assert_eq!(request.payload, b"ping");
//! ```
#![deny(unsafe_code)]

mod addr;
mod bloom;
mod channel;
mod endpoint;
mod error;
mod frame;
mod identity;
pub mod mailroom;
mod master;
mod policy;
mod proto;
pub mod shm;
mod sys;
pub mod wire;

pub use addr::{BusAddr, Target, UniqueId, WellKnownName, MAX_NAME_LEN};
pub use bloom::{Bloom, BLOOM_BITS, BLOOM_HASHES};
pub use channel::{Channel, CHANNEL_SEND_BUFFER};
pub use endpoint::{BusSocket, Event, MASTER_TIMEOUT, MAX_PENDING_EVENTS};
pub use error::{Error, Result};
pub use frame::{
    Frame, FrameKind, Header, HEADER_LEN, MAX_FDS_PER_FRAME, MAX_FRAME_BYTES, MAX_PAYLOAD_BYTES,
};
pub use master::{
    BusMaster, MasterHandle, Stopper, ACCEPT_BACKOFF, HELLO_TIMEOUT, MAX_CONNECTIONS,
    MAX_CONNECTIONS_PER_UID, MAX_INCOMPLETE_CONNECTIONS, MAX_INCOMPLETE_PER_UID,
    MAX_MATCHES_PER_PEER, MAX_NAMES_PER_PEER, MAX_QUEUED_BYTES_PER_PEER, MAX_QUEUED_BYTES_PER_UID,
    MAX_QUEUED_FRAMES, MAX_WATCHES_PER_PEER, SIGNAL_QUEUE_LEN,
};
pub use policy::{AllowAll, Policy, Verdict};
pub use proto::{
    Fields, MasterStatus, MatchRule, NameOutcome, NameOwnerChanged, PeerInfo, PeerStatus,
    QueueMode, ReleaseOutcome, Signal, Watch, MAX_FIELDS, MAX_FIELD_LEN,
};
pub use sys::{fork_generation, socket_cookie, Credentials};
