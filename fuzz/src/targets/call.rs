//! A binder call as a hostile peer sends it: a frame on a reference channel to an object of a
//! live runtime, which decodes the call trailer, imports the object references and fds, runs the
//! handler (whose reads of the parcel meet the fuzzed bytes) and replies. After each input the
//! peer pings the object: the runtime must still answer.
//!
//! Input: byte 0 chooses the frame kind (bits 0-1: request, one-way, nested request, reply), the
//! number of fds sent (bits 2-3), whether a well-formed trailer is appended to the payload (bit 4,
//! with the fields from bytes 5-8: target, policy, nested-in and keyed objects (byte 7), level),
//! and whether the fds are object references (bit 5: socket ends whose peers are closed, so with
//! no introduction) or parcel fds (`/dev/null`s); bytes 1-4 are the code; the rest is the payload.
//! Keyed objects (`GIVEN` and `HOME` entries) follow the reference channels in the object table.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use afbus_binder::{
    Binder, CallContext, Parcel, Runtime, RuntimeConfig, Status, StatusCode, TransactionCode,
};
use afbus_idl_e2e::org::afbus::test::{Everything::Everything, Shape::Shape};
use afbus_transport::{
    AllowAll, BusMaster, BusSocket, Channel, FrameKind, Header, MasterHandle, Target,
};

/// This target.
pub const TARGET: crate::Target = crate::Target {
    name: "call",
    run: target,
    seeds,
    dictionary: DICTIONARY,
};

/// Codes of the handler and the built-in ones, trailer sizes.
pub const DICTIONARY: &[&[u8]] = &[
    &[1, 0, 0, 0],
    &[2, 0, 0, 0],
    &[3, 0, 0, 0],
    &[4, 0, 0, 0],
    &[5, 0, 0, 0],
    b"_PNG",
    b"_NTF",
    b"_MNT",
    b"_MNA",
    &[39, 0, 0, 0],
    &[0xff, 0xff, 0, 0],
];

const NAME: &str = "afbus.fuzz.Call";
/// Frame flag of a nested request (the binder layer's `FLAG_NESTED`).
const FLAG_NESTED: u16 = 1;
/// `TransactionCode::PING`'s value.
const PING: u32 = u32::from_be_bytes(*b"_PNG");
const CALL_TRAILER_LEN: usize = 39;

/// The object under test: each code reads the parcel a different way.
struct Handler;

impl Binder for Handler {
    fn descriptor(&self) -> &str {
        "afbus.fuzz.ICall"
    }

    fn on_transact(
        &self,
        code: TransactionCode,
        data: &mut Parcel,
        reply: &mut Parcel,
        _: &CallContext,
    ) -> Result<(), Status> {
        match code.0 {
            1 => reply.write_str(&data.read_string()?),
            2 => reply.write(&data.read::<Everything>()?),
            3 => {
                let b = data.read_nullable_binder()?;
                reply.write_nullable_binder(b.as_ref());
            }
            4 => {
                let fd = data.take_fd()?;
                reply.write_fd(fd);
            }
            5 => reply.write(&data.read_vec::<Shape>()?),
            6 => reply.write_u64(data.read_blob()?.len() as u64),
            _ => return Err(StatusCode::UNKNOWN_TRANSACTION.into()),
        }
        Ok(())
    }
}

/// A runtime serving the handler on a private bus, and a raw peer's channel to it.
struct World {
    _master: MasterHandle,
    _rt: Runtime,
    client: BusSocket,
    channel: Mutex<Option<Channel>>,
}

static WORLD: OnceLock<World> = OnceLock::new();
/// Set when a runtime thread panics (the handler's panics are caught and replied as errors).
static RUNTIME_PANICKED: AtomicBool = AtomicBool::new(false);
static NEXT_PING: AtomicU64 = AtomicU64::new(1 << 63);

fn world() -> &'static World {
    WORLD.get_or_init(|| {
        let default_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if std::thread::current()
                .name()
                .is_some_and(|n| n.starts_with("afbus-"))
            {
                RUNTIME_PANICKED.store(true, Ordering::SeqCst);
            }
            default_hook(info);
        }));
        // The bus lives as long as the process.
        let dir = super::bus_dir("call");
        let master = BusMaster::bind(dir.join("bus"), AllowAll)
            .and_then(BusMaster::spawn)
            .expect("start a private bus");
        // Without priority inheritance: fuzzed priorities must not make this process real-time.
        let rt = Runtime::new(RuntimeConfig {
            inherit_priority: false,
            ..RuntimeConfig::default()
        })
        .expect("runtime");
        rt.start_thread_pool();
        let server = Arc::new(BusSocket::connect(master.path()).expect("join"));
        rt.publish(&server, NAME, &rt.local(Handler))
            .expect("publish");
        let client = BusSocket::connect(master.path()).expect("join");
        World {
            _master: master,
            _rt: rt,
            client,
            channel: Mutex::new(None),
        }
    })
}

/// A new channel to the object, its introduction frame read.
fn connect(w: &World) -> Channel {
    let (channel, _) = w
        .client
        .connect_to(&Target::Name(NAME.parse().expect("valid name")))
        .expect("connect to the object");
    let intro = channel.recv().expect("the object introduces itself");
    assert_eq!(intro.header.kind, FrameKind::OneWay);
    channel
}

/// Runs one input.
pub fn target(data: &[u8]) {
    let w = world();
    let mut guard = w.channel.lock().unwrap_or_else(|e| e.into_inner());
    let channel = guard.get_or_insert_with(|| connect(w));
    let Some((&control, rest)) = data.split_first() else {
        return;
    };
    let (code, rest) = rest.split_at(rest.len().min(4));
    let code = code
        .iter()
        .rev()
        .fold(0u32, |c, &b| (c << 8) | u32::from(b));
    let (kind, flags) = match control & 3 {
        0 => (FrameKind::Request, 0),
        1 => (FrameKind::OneWay, 0),
        2 => (FrameKind::Request, FLAG_NESTED),
        _ => (FrameKind::Reply, 0),
    };
    let nfds = usize::from((control >> 2) & 3);
    let objects = control & 0x20 != 0;
    let mut payload = rest.to_vec();
    if control & 0x10 != 0 {
        let (fields, data) = rest.split_at(rest.len().min(4));
        payload = data.to_vec();
        let field = |i: usize| fields.get(i).copied().unwrap_or(0);
        let nobj = if objects { nfds } else { 0 };
        let data_len = payload.len();
        let trailer = Trailer {
            data_len,
            parcel_fds: nfds - nobj,
            objects: nobj,
            keyed: usize::from(field(2) >> 2),
            target: field(0),
            policy: field(1),
            nested: field(2) & 3,
            level: field(3),
            // As long as the policy byte says; an odd one is not UTF-8.
            principal: field(1),
        };
        trailer.append(&mut payload);
    }
    let fds: Vec<OwnedFd> = (0..nfds)
        .filter_map(|_| {
            if objects {
                // The peer end closes at once: a reference to an object that is already gone.
                Channel::pair().ok().map(|(ours, _gone)| ours.into_fd())
            } else {
                std::fs::File::open("/dev/null").ok().map(OwnedFd::from)
            }
        })
        .collect();
    let borrowed: Vec<BorrowedFd<'_>> = fds.iter().map(|f| f.as_fd()).collect();
    let txn = u64::from(code) | 1 << 40;
    let header = Header::new(kind)
        .with_code(code)
        .with_txn(txn)
        .with_flags(flags);
    if channel.send(&header, &payload, &borrowed).is_err() {
        // Refused before sending (too large); nothing reached the runtime.
        return;
    }
    drop(fds);
    // The runtime must still serve this channel: ping it and wait for that reply.
    let ping_txn = NEXT_PING.fetch_add(1, Ordering::Relaxed);
    let mut ping = Vec::new();
    Trailer::default().append(&mut ping);
    let header = Header::new(FrameKind::Request)
        .with_code(PING)
        .with_txn(ping_txn);
    channel
        .send(&header, &ping, &[])
        .expect("the runtime keeps the channel open");
    loop {
        let frame = channel.recv().expect("the runtime answers the ping");
        if frame.header.kind == FrameKind::Reply && frame.header.txn == ping_txn {
            break;
        }
    }
    assert!(
        !RUNTIME_PANICKED.load(Ordering::SeqCst),
        "a runtime thread panicked"
    );
}

/// Bytes of one object table entry (kind 0: a reference channel, the frame's next fd; 1 and 2
/// name an object by key).
const OBJECT_ENTRY_LEN: usize = 25;

/// A call trailer (the binder layer's wire format: see `binder/src/call.rs`).
#[derive(Default)]
struct Trailer {
    data_len: usize,
    parcel_fds: usize,
    objects: usize,
    /// Object table entries after the channels that name objects by key, `GIVEN` and `HOME` in
    /// turn (keys 1, 2, ...: none given over the channel, so every `HOME` must be refused).
    keyed: usize,
    /// The target object: small numbers name no object, or (0) the channel's own.
    target: u8,
    policy: u8,
    nested: u8,
    level: u8,
    /// The principal's length (`on_behalf_of`), of `p`s, or of 0xff (not UTF-8) when odd.
    principal: u8,
}

impl Trailer {
    /// Appends the object table (a reference channel entry per object) and the trailer.
    fn append(&self, out: &mut Vec<u8>) {
        out.extend(std::iter::repeat_n(0u8, OBJECT_ENTRY_LEN * self.objects));
        for i in 0..self.keyed {
            out.push(1 + (i % 2) as u8);
            out.extend_from_slice(&(i as u64 + 1).to_le_bytes());
            out.extend_from_slice(&[0; 16]);
        }
        let byte = if self.principal % 2 == 1 { 0xff } else { b'p' };
        out.extend(std::iter::repeat_n(byte, usize::from(self.principal)));
        let start = out.len();
        out.extend_from_slice(&u16::from(self.principal).to_le_bytes());
        out.extend_from_slice(&u64::from(self.target).to_le_bytes());
        out.extend_from_slice(&0u64.to_le_bytes());
        out.extend_from_slice(&u64::from(self.nested).to_le_bytes());
        out.push(self.policy);
        out.extend_from_slice(&i32::from(self.level as i8).to_le_bytes());
        out.extend_from_slice(&(self.parcel_fds as u16).to_le_bytes());
        out.extend_from_slice(&((self.objects + self.keyed) as u16).to_le_bytes());
        out.extend_from_slice(&(self.data_len as u32).to_le_bytes());
        debug_assert_eq!(out.len() - start, CALL_TRAILER_LEN);
    }
}

/// Well-formed calls of each handler code.
pub fn seeds() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut add = |control: u8, code: u32, p: Parcel| {
        let mut input = vec![control | 0x10];
        input.extend_from_slice(&code.to_le_bytes());
        input.extend_from_slice(&[0, 0, 0, 0]);
        input.extend_from_slice(p.as_bytes());
        out.push(input);
    };
    let mut p = Parcel::new();
    p.write_str("hello");
    add(0, 1, p);
    let mut p = Parcel::new();
    p.write(&Everything::default());
    add(0, 2, p);
    let mut p = Parcel::new();
    p.write_u8(0);
    add(1, 3, p);
    let mut p = Parcel::new();
    p.write_u32(0);
    add(1 << 2, 4, p);
    let mut p = Parcel::new();
    p.write_slice(&[Shape::radius(3), Shape::label("x".into())]);
    add(1, 5, p);
    let mut p = Parcel::new();
    p.write_u64(16);
    p.write_u32(0);
    add(1 << 2, 6, p);
    add(2, PING, Parcel::new());
    // Object references: code 3 reads one and passes it back on.
    let mut p = Parcel::new();
    p.write_u8(1);
    p.write_u32(0);
    add(0x20 | 1 << 2, 3, p);
    out
}
