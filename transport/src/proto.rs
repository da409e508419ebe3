//! The bus master protocol: requests on an endpoint's master connection, their replies, and the
//! notices and signals the master sends unasked.
//!
//! A request is a `Request` frame whose `code` is an [`Op`]; its `Reply` carries the same
//! transaction id and a [`MasterStatus`] as code (on failure the payload is a message). Notices
//! are `Notice` frames whose code is a [`NoticeKind`]; multicast arrives as `Signal` frames.

use std::fmt;

use crate::addr::{Target, UniqueId, WellKnownName, MAX_NAME_LEN};
use crate::bloom::Bloom;
use crate::error::{Error, Result};
use crate::sys::Credentials;
use crate::wire::{Reader, Writer};

/// Most `key=value` fields in one match rule or signal.
pub const MAX_FIELDS: usize = 16;

/// Longest field key or value, in bytes.
pub const MAX_FIELD_LEN: usize = 255;

/// Request operation codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum Op {
    Hello = 1,
    RequestName = 2,
    ReleaseName = 3,
    Connect = 4,
    AddMatch = 5,
    RemoveMatch = 6,
    Watch = 7,
    Signal = 8,
    NameOwner = 9,
    Peers = 10,
}

impl Op {
    pub(crate) fn from_wire(code: u32) -> Option<Op> {
        use Op::*;
        [
            Hello,
            RequestName,
            ReleaseName,
            Connect,
            AddMatch,
            RemoveMatch,
            Watch,
            Signal,
            NameOwner,
            Peers,
        ]
        .into_iter()
        .find(|op| *op as u32 == code)
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Op::Hello => "hello",
            Op::RequestName => "request-name",
            Op::ReleaseName => "release-name",
            Op::Connect => "connect",
            Op::AddMatch => "add-match",
            Op::RemoveMatch => "remove-match",
            Op::Watch => "watch",
            Op::Signal => "signal",
            Op::NameOwner => "name-owner",
            Op::Peers => "peers",
        }
    }
}

/// The status code of a master reply. An open newtype: unknown values from a peer stay visible.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MasterStatus(pub u32);

impl MasterStatus {
    /// Success.
    pub const OK: MasterStatus = MasterStatus(0);
    /// Policy refused the operation.
    pub const DENIED: MasterStatus = MasterStatus(1);
    /// No such name or unique address on the bus.
    pub const NO_SUCH_PEER: MasterStatus = MasterStatus(2);
    /// The request did not decode.
    pub const MALFORMED: MasterStatus = MasterStatus(3);
    /// The endpoint has not sent `Hello` yet (or sent it twice).
    pub const NOT_JOINED: MasterStatus = MasterStatus(4);
    /// An unknown operation.
    pub const UNKNOWN_OP: MasterStatus = MasterStatus(5);
    /// A per-peer limit was reached.
    pub const LIMIT: MasterStatus = MasterStatus(6);
    /// Not found (a match rule to remove).
    pub const NOT_FOUND: MasterStatus = MasterStatus(7);
}

impl fmt::Display for MasterStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match *self {
            MasterStatus::OK => "ok",
            MasterStatus::DENIED => "permission denied",
            MasterStatus::NO_SUCH_PEER => "no such peer",
            MasterStatus::MALFORMED => "malformed request",
            MasterStatus::NOT_JOINED => "not joined",
            MasterStatus::UNKNOWN_OP => "unknown operation",
            MasterStatus::LIMIT => "limit reached",
            MasterStatus::NOT_FOUND => "not found",
            MasterStatus(other) => return write!(f, "status {other}"),
        };
        f.write_str(name)
    }
}

/// Notice codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum NoticeKind {
    NameOwnerChanged = 1,
    PeerGone = 2,
    Incoming = 3,
    PeerJoined = 4,
}

/// Identity of a peer on the bus, as the kernel reported it to the master.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerInfo {
    /// Its unique address.
    pub id: UniqueId,
    /// Its kernel-verified credentials at join.
    pub creds: Credentials,
}

impl PeerInfo {
    pub(crate) fn encode(&self, w: &mut Writer) {
        w.u64(self.id.0)
            .i32(self.creds.pid)
            .u32(self.creds.uid)
            .u32(self.creds.gid);
    }
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<PeerInfo> {
        Ok(PeerInfo {
            id: UniqueId(r.u64("peer id")?),
            creds: Credentials {
                pid: r.i32("peer pid")?,
                uid: r.u32("peer uid")?,
                gid: r.u32("peer gid")?,
            },
        })
    }
}

/// How to ask for a name that someone else may own.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum QueueMode {
    /// Wait in the name's queue until the owner releases it or leaves.
    #[default]
    Queue,
    /// Fail with [`NameOutcome::Exists`] instead of queueing.
    DoNotQueue,
}

/// The result of a name request: expected outcomes are values, not errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameOutcome {
    /// The caller now owns the name.
    PrimaryOwner,
    /// Someone else owns it; the caller waits in its queue.
    Queued,
    /// Someone else owns it and the caller did not want to queue.
    Exists,
    /// The caller already owned it.
    AlreadyOwner,
}

/// The result of releasing a name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReleaseOutcome {
    /// The caller owned it (or was queued for it) and no longer does.
    Released,
    /// Nobody owns the name.
    NonExistent,
    /// Someone else owns it and the caller was not queued for it.
    NotOwner,
}

macro_rules! wire_enum {
    ($t:ident { $($v:ident = $n:expr),* $(,)? }) => {
        impl $t {
            pub(crate) fn to_wire(self) -> u8 {
                match self { $($t::$v => $n),* }
            }
            pub(crate) fn from_wire(v: u8) -> Result<Self> {
                match v {
                    $($n => Ok($t::$v),)*
                    _ => Err(Error::Malformed { what: stringify!($t), offset: 0 }),
                }
            }
        }
    };
}
wire_enum!(QueueMode { Queue = 0, DoNotQueue = 1 });
wire_enum!(NameOutcome { PrimaryOwner = 1, Queued = 2, Exists = 3, AlreadyOwner = 4 });
wire_enum!(ReleaseOutcome { Released = 1, NonExistent = 2, NotOwner = 3 });

/// A set of `key=value` fields: what a signal carries and what a match rule asks for.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Fields(Vec<(String, String)>);

impl Fields {
    /// No fields.
    pub fn new() -> Fields {
        Fields(Vec::new())
    }

    /// Adds a field.
    pub fn with(mut self, key: impl Into<String>, value: impl Into<String>) -> Fields {
        self.0.push((key.into(), value.into()));
        self
    }

    /// The fields, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// The Bloom filter of these fields.
    pub fn bloom(&self) -> Bloom {
        Bloom::of(self.iter())
    }

    /// True when every field here appears, with the same value, in `message` (the exact check
    /// after Bloom containment).
    pub fn matched_by(&self, message: &Fields) -> bool {
        self.iter()
            .all(|(k, v)| message.iter().any(|(mk, mv)| mk == k && mv == v))
    }

    pub(crate) fn check(&self) -> Result<()> {
        let too_long = self
            .iter()
            .any(|(k, v)| k.len() > MAX_FIELD_LEN || v.len() > MAX_FIELD_LEN);
        if self.0.len() > MAX_FIELDS || too_long {
            return Err(Error::Invalid {
                what: "fields",
                text: format!("{} fields", self.0.len()),
                reason: "at most 16 fields of at most 255 bytes each",
            });
        }
        Ok(())
    }

    pub(crate) fn encode(&self, w: &mut Writer) {
        w.u32(self.0.len() as u32);
        for (k, v) in self.iter() {
            w.str(k).str(v);
        }
    }

    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Fields> {
        let n = r.u32("field count")? as usize;
        if n > MAX_FIELDS {
            return Err(Error::Malformed {
                what: "field count",
                offset: 0,
            });
        }
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let k = r.str(MAX_FIELD_LEN, "field key")?.to_owned();
            let v = r.str(MAX_FIELD_LEN, "field value")?.to_owned();
            out.push((k, v));
        }
        Ok(Fields(out))
    }
}

/// A multicast subscription: deliver signals whose fields include all of these.
pub type MatchRule = Fields;

/// What an endpoint asks the master to tell it about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Watch {
    /// Every owner change of this name.
    Name(WellKnownName),
    /// This peer leaving the bus.
    Peer(UniqueId),
    /// Every owner change and every departure on the bus.
    All,
}

impl Watch {
    pub(crate) fn encode(&self, w: &mut Writer) {
        match self {
            Watch::Name(n) => w.u8(1).str(n.as_str()),
            Watch::Peer(p) => w.u8(2).u64(p.0),
            Watch::All => w.u8(3),
        };
    }
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Watch> {
        Ok(match r.u8("watch kind")? {
            1 => Watch::Name(decode_name(r)?),
            2 => Watch::Peer(UniqueId(r.u64("watched peer")?)),
            3 => Watch::All,
            _ => {
                return Err(Error::Malformed {
                    what: "watch kind",
                    offset: 0,
                })
            }
        })
    }
}

pub(crate) fn decode_name(r: &mut Reader<'_>) -> Result<WellKnownName> {
    WellKnownName::new(r.str(MAX_NAME_LEN, "name")?)
}

impl Target {
    pub(crate) fn encode(&self, w: &mut Writer) {
        match self {
            Target::Master => w.u8(0),
            Target::Unique(u) => w.u8(1).u64(u.0),
            Target::Name(n) => w.u8(2).str(n.as_str()),
            Target::Multicast(b) => {
                w.u8(3);
                b.0.iter().for_each(|c| {
                    w.u64(*c);
                });
                w
            }
        };
    }
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Target> {
        Ok(match r.u8("target kind")? {
            0 => Target::Master,
            1 => Target::Unique(UniqueId(r.u64("target id")?)),
            2 => Target::Name(decode_name(r)?),
            3 => Target::Multicast(decode_bloom(r)?),
            _ => {
                return Err(Error::Malformed {
                    what: "target kind",
                    offset: 0,
                })
            }
        })
    }
}

pub(crate) fn decode_bloom(r: &mut Reader<'_>) -> Result<Bloom> {
    let mut b = Bloom::EMPTY;
    for c in b.0.iter_mut() {
        *c = r.u64("bloom")?;
    }
    Ok(b)
}

/// A change of a name's primary owner.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameOwnerChanged {
    /// The name.
    pub name: WellKnownName,
    /// Its owner before, if any.
    pub old: Option<UniqueId>,
    /// Its owner now, if any.
    pub new: Option<UniqueId>,
}

impl NameOwnerChanged {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.str(self.name.as_str())
            .u64(id_or_zero(self.old))
            .u64(id_or_zero(self.new));
        w.finish()
    }
    pub(crate) fn decode(body: &[u8]) -> Result<Self> {
        let mut r = Reader::new(body);
        let out = NameOwnerChanged {
            name: decode_name(&mut r)?,
            old: nonzero_id(r.u64("old owner")?),
            new: nonzero_id(r.u64("new owner")?),
        };
        r.end("name owner notice")?;
        Ok(out)
    }
}

fn id_or_zero(id: Option<UniqueId>) -> u64 {
    id.map_or(0, |u| u.0)
}

pub(crate) fn nonzero_id(v: u64) -> Option<UniqueId> {
    (v != 0).then_some(UniqueId(v))
}

/// One endpoint of the bus, as the master sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerStatus {
    /// Its identity.
    pub info: PeerInfo,
    /// The names it owns.
    pub names: Vec<WellKnownName>,
    /// Frames the master holds for it because its socket is full (replies, notices, signals).
    pub queued_frames: u32,
    /// Their payload bytes.
    pub queued_bytes: u64,
}

impl PeerStatus {
    pub(crate) fn encode(&self, w: &mut Writer) {
        self.info.encode(w);
        w.u32(self.queued_frames)
            .u64(self.queued_bytes)
            .u32(self.names.len() as u32);
        for n in &self.names {
            w.str(n.as_str());
        }
    }

    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<PeerStatus> {
        let info = PeerInfo::decode(r)?;
        let queued_frames = r.u32("queued frames")?;
        let queued_bytes = r.u64("queued bytes")?;
        let count = r.u32("name count")? as usize;
        // Each name takes at least its 4-byte length: bound the count by the bytes left.
        let mut names = Vec::with_capacity(count.min(4096));
        for _ in 0..count {
            names.push(decode_name(r)?);
        }
        Ok(PeerStatus {
            info,
            names,
            queued_frames,
            queued_bytes,
        })
    }
}

/// A multicast message as delivered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signal {
    /// The sender.
    pub sender: UniqueId,
    /// Signals for this receiver the master dropped, oldest first, just before this one because
    /// the receiver did not read fast enough.
    pub lost_before: u64,
    /// The fields the receiver's match rules were checked against.
    pub fields: Fields,
    /// The body.
    pub body: Vec<u8>,
}

/// Byte offset of the `lost_before` count in a signal's payload (patched at delivery time).
pub(crate) const SIGNAL_LOST_OFFSET: usize = 8;

impl Signal {
    pub(crate) fn encode(sender: UniqueId, fields: &Fields, body: &[u8]) -> Vec<u8> {
        let mut w = Writer::default();
        w.u64(sender.0).u64(0);
        fields.encode(&mut w);
        w.bytes(body);
        w.finish()
    }
    pub(crate) fn decode(payload: &[u8]) -> Result<Signal> {
        let mut r = Reader::new(payload);
        let sender = UniqueId(r.u64("signal sender")?);
        let lost_before = r.u64("signal lost count")?;
        let fields = Fields::decode(&mut r)?;
        let body = r.bytes(usize::MAX, "signal body")?.to_vec();
        r.end("signal")?;
        Ok(Signal {
            sender,
            lost_before,
            fields,
            body,
        })
    }
}
