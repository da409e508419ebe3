//! A caller that sends calls and never reads the replies: its replies fill its channel, and the
//! threads replying to it would block in a send for ever, until the whole pool was stuck and
//! nobody was served. Instead a reply waits at most `REPLY_TIMEOUT` for room, then the channel
//! is shut down; other callers are served throughout.

#[path = "../../transport/tests/common/mod.rs"]
mod common;
mod service;

use std::os::fd::AsFd;

use afbus_binder::{Parcel, RuntimeConfig, DEFAULT_MAX_THREADS};
use afbus_transport::{Channel, FrameKind, Header, Target, CHANNEL_SEND_BUFFER};
use common::{child_role, with_timeout};
use nix::poll::{PollFd, PollFlags, PollTimeout};
use service::*;

#[test]
fn child_entry() {
    let Some((role, bus)) = child_role() else {
        return;
    };
    match role.as_str() {
        "server" => serve(&bus),
        other => panic!("unknown role {other}"),
    }
}

/// An ECHO call of a 60 KB string as the runtime encodes it: the parcel, then the 39-byte call
/// trailer (no principal, target 0, caller 0, nested 0, SCHED_OTHER at 0, no fds, no objects,
/// data length).
fn big_echo() -> Vec<u8> {
    let mut p = Parcel::new();
    p.write_str(&"x".repeat(60_000));
    let mut payload = p.as_bytes().to_vec();
    let data_len = payload.len() as u32;
    payload.extend_from_slice(&[0u8; 2 + 24]);
    payload.push(0);
    payload.extend_from_slice(&0i32.to_le_bytes());
    payload.extend_from_slice(&[0u8; 4]);
    payload.extend_from_slice(&data_len.to_le_bytes());
    payload
}

#[test]
fn a_caller_that_never_reads_its_replies_loses_its_channel_and_others_are_served() {
    with_timeout(120, || {
        let w = World::new(RuntimeConfig::default());
        let svc = w.svc();
        // More channels than the service has threads, each sending more than its replies'
        // room: every thread that serves one of them fills the channel with replies.
        let flooders: Vec<_> = (0..DEFAULT_MAX_THREADS + 1)
            .map(|_| {
                let name = SVC.parse().unwrap();
                let (raw, _) = w.endpoint.connect_to(&Target::Name(name)).unwrap();
                raw.recv().unwrap();
                std::thread::spawn(move || flood(raw))
            })
            .collect();
        let mut p = Parcel::new();
        p.write_str("still served");
        let mut r = svc.transact(ECHO, p).unwrap();
        assert_eq!(r.read_string().unwrap(), "still served");
        for f in flooders {
            assert!(f.join().unwrap(), "the flooding channel was shut down");
        }
        svc.ping().unwrap();
    })
}

/// Sends big calls and never reads a reply; true once the channel is found shut down.
fn flood(raw: Channel) -> bool {
    let payload = big_echo();
    // More replies than the service's end of the channel can hold unread (the kernel doubles
    // the send buffer asked for).
    let calls = (2 * CHANNEL_SEND_BUFFER / payload.len() + 8) as u64;
    for txn in 1..=calls {
        let header = Header::new(FrameKind::Request)
            .with_code(ECHO.0)
            .with_txn(txn);
        if raw.send(&header, &payload, &[]).is_err() {
            return true;
        }
    }
    // Every call went out (threads of the service took them): it shuts the channel, since
    // their replies cannot fit unread. Wait for that without reading a reply.
    let mut pfd = [PollFd::new(raw.as_fd(), PollFlags::empty())];
    nix::poll::poll(&mut pfd, PollTimeout::NONE).unwrap();
    pfd[0]
        .revents()
        .is_some_and(|r| r.contains(PollFlags::POLLHUP))
}
