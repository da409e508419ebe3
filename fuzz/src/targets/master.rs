//! The bus master's request decoder, as any local process reaches it: a joined endpoint sends
//! a few hostile frames on its master connection; the master must refuse them (or act on them)
//! and go on serving everyone. After each input another endpoint asks the master a question.
//!
//! Input: records of a `u16` length then a frame's bytes (header and payload as on the wire),
//! at most four; a record that is cut short by the end of the input is sent as it is.

use std::io::IoSlice;
use std::os::fd::{AsFd, AsRawFd};
use std::sync::{Mutex, OnceLock};

use afbus_transport::{AllowAll, BusMaster, BusSocket, MasterHandle};
use nix::sys::socket::{self, MsgFlags};

/// This target.
pub const TARGET: crate::Target = crate::Target {
    name: "master",
    run: target,
    seeds,
    dictionary: DICTIONARY,
};

/// Ops, target and watch kinds, name fragments.
pub const DICTIONARY: &[&[u8]] = &[
    &[1, 0, 0, 0],
    &[2, 0, 0, 0],
    &[4, 0, 0, 0],
    &[5, 0, 0, 0],
    &[7, 0, 0, 0],
    &[8, 0, 0, 0],
    &[9, 0, 0, 0],
    &[10, 0, 0, 0],
    &[0xff, 0xff, 0xff, 0xff],
    b"org.test.A",
    b"*",
    b"..",
];

const NAME: &str = "org.fuzz.Name";
const MAX_RECORDS: usize = 4;

struct World {
    master: MasterHandle,
    /// Asks the master something after each input.
    observer: BusSocket,
}

static WORLD: OnceLock<Mutex<World>> = OnceLock::new();

fn world() -> &'static Mutex<World> {
    WORLD.get_or_init(|| {
        let dir = super::bus_dir("master");
        let master = BusMaster::bind(dir.join("bus"), AllowAll)
            .and_then(BusMaster::spawn)
            .expect("start a private bus");
        let observer = BusSocket::connect(master.path()).expect("join");
        Mutex::new(World { master, observer })
    })
}

/// Runs one input.
pub fn target(data: &[u8]) {
    let w = world().lock().unwrap_or_else(|e| e.into_inner());
    let hostile = BusSocket::connect(w.master.path()).expect("the master accepts a new endpoint");
    let fd = hostile.as_fd().as_raw_fd();
    let mut rest = data;
    for _ in 0..MAX_RECORDS {
        if rest.len() < 2 {
            break;
        }
        let len = usize::from(u16::from_le_bytes([rest[0], rest[1]]));
        let (record, tail) = rest[2..].split_at(len.min(rest.len() - 2));
        rest = tail;
        // A full socket buffer or a refused size tests nothing of the master's.
        let _ = socket::sendmsg::<()>(
            fd,
            &[IoSlice::new(record)],
            &[],
            MsgFlags::MSG_DONTWAIT,
            None,
        );
    }
    // The master still serves: another endpoint's question is answered.
    let name = NAME.parse().expect("valid name");
    w.observer
        .name_owner(&name)
        .expect("the master answers after hostile input");
    drop(hostile);
}

/// A frame of the master protocol: a request with `op` and `body`.
fn request(op: u32, txn: u64, body: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&0u16.to_le_bytes());
    b.extend_from_slice(&0u16.to_le_bytes());
    b.extend_from_slice(&0u16.to_le_bytes());
    b.extend_from_slice(&(body.len() as u32).to_le_bytes());
    b.extend_from_slice(&op.to_le_bytes());
    b.extend_from_slice(&txn.to_le_bytes());
    b.extend_from_slice(body);
    b
}

fn string(s: &str) -> Vec<u8> {
    [&(s.len() as u32).to_le_bytes()[..], s.as_bytes()].concat()
}

/// Requests of each op with well-formed bodies, one or several per input.
pub fn seeds() -> Vec<Vec<u8>> {
    let name = string(NAME);
    let frames = [
        request(2, 1, &[&name[..], &[0]].concat()),
        request(3, 2, &name),
        request(4, 3, &[&[2u8][..], &name].concat()),
        request(4, 4, &[&[1u8][..], &1u64.to_le_bytes()].concat()),
        request(7, 5, &[&[1u8][..], &name].concat()),
        request(7, 6, &[3u8]),
        request(9, 7, &name),
        request(10, 8, &[]),
        request(1, 9, &[0; 12]),
        request(5, 10, &[0, 0, 0, 0]),
        request(8, 11, &[0, 0, 0, 0]),
    ];
    let record = |f: &Vec<u8>| [&(f.len() as u16).to_le_bytes()[..], f].concat();
    let mut out: Vec<Vec<u8>> = frames.iter().map(record).collect();
    out.push(frames[..4].iter().flat_map(record).collect());
    out
}
