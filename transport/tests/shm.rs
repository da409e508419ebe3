//! The shared-memory fast path of channels: the switch, order across ring and socket, a
//! declined or bad offer, hang-ups, and a hostile peer scribbling over the rings.

mod common;

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::Duration;

use afbus_transport::shm::{SHM_BYTES, SHM_MAX_RECORD, SHM_MAX_STASHED_FRAMES, SHM_RING_BYTES};
use afbus_transport::{Channel, Error, FrameKind, Header, HEADER_LEN, MAX_PAYLOAD_BYTES};
use common::with_timeout;
use nix::sys::socket::{
    recvmsg, sendmsg, socketpair, AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags,
    SockFlag, SockType,
};

fn req(txn: u64) -> Header {
    Header::new(FrameKind::Request).with_txn(txn)
}

/// A pair on shared memory in both directions (each side sent once to switch).
fn shm_pair() -> (Channel, Channel) {
    let (a, b) = Channel::pair().unwrap();
    a.offer_shm().unwrap();
    // A receive takes the offer (the channel's own signalling: nothing is delivered).
    assert!(b.try_recv().unwrap().is_none());
    b.send(&req(0), b"switch", &[]).unwrap();
    assert_eq!(a.recv().unwrap().payload, b"switch");
    a.send(&req(0), b"switch", &[]).unwrap();
    assert_eq!(b.recv().unwrap().payload, b"switch");
    assert!(a.is_shm() && b.is_shm());
    (a, b)
}

#[test]
fn frames_keep_their_order_across_ring_and_socket() {
    with_timeout(30, || {
        let (a, b) = shm_pair();
        let file = tempfile::tempfile().unwrap();
        let big = vec![7u8; MAX_PAYLOAD_BYTES];
        for round in 0..50u64 {
            let base = round * 10;
            a.send(&req(base), b"small", &[]).unwrap();
            a.send(&req(base + 1), b"with fd", &[file.as_fd()]).unwrap();
            a.send(&req(base + 2), &big, &[]).unwrap();
            a.send(&req(base + 3), &big[..4096], &[]).unwrap();
            for (i, len) in [(0, 5), (1, 7), (2, big.len()), (3, 4096)] {
                let f = b.recv().unwrap();
                assert_eq!((f.header.txn, f.payload.len()), (base + i, len));
                assert_eq!(f.fds.len(), usize::from(i == 1));
            }
        }
        // Many small frames: the ring wraps around many times and fills up.
        let sender = std::thread::spawn(move || {
            for i in 0..20_000u64 {
                a.send(&req(i), &i.to_le_bytes(), &[]).unwrap();
            }
            a
        });
        for i in 0..20_000u64 {
            let f = b.recv().unwrap();
            assert_eq!(
                (f.header.txn, f.payload.as_slice()),
                (i, &i.to_le_bytes()[..])
            );
        }
        sender.join().unwrap();
    })
}

#[test]
fn frames_around_the_largest_ring_record_arrive_whole() {
    let (a, b) = shm_pair();
    // A record is 8 bytes, the 24-byte frame header, then the payload padded to 8.
    let largest = SHM_MAX_RECORD - 8 - HEADER_LEN;
    for len in [
        largest - 1,
        largest,
        largest + 1,
        largest + 8,
        MAX_PAYLOAD_BYTES,
    ] {
        let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        a.send(&req(len as u64), &payload, &[]).unwrap();
        let f = b.recv().unwrap();
        assert_eq!((f.header.txn, f.payload), (len as u64, payload));
    }
}

#[test]
fn a_full_ring_is_would_block_for_try_send() {
    let (a, b) = shm_pair();
    let payload = vec![1u8; 1000];
    let mut sent = 0;
    loop {
        match a.try_send(&req(sent), &payload, &[]) {
            Ok(()) => sent += 1,
            Err(Error::WouldBlock) => break,
            Err(e) => panic!("{e}"),
        }
        assert!(sent < 1000, "the ring never filled");
    }
    assert!(sent as usize * 1000 <= SHM_RING_BYTES);
    for i in 0..sent {
        assert_eq!(b.recv().unwrap().header.txn, i);
    }
    a.try_send(&req(sent), &payload, &[]).unwrap();
}

#[test]
fn a_send_with_a_deadline_times_out_on_a_full_ring_or_socket() {
    let socket_only = Channel::pair().unwrap();
    for (a, b) in [shm_pair(), socket_only] {
        let payload = vec![1u8; 1000];
        let mut sent = 0;
        while a.try_send(&req(sent), &payload, &[]).is_ok() {
            sent += 1;
        }
        let deadline = std::time::Instant::now() + Duration::from_millis(50);
        assert!(matches!(
            a.send_until(&req(sent), &payload, &[], Some(deadline)),
            Err(Error::TimedOut)
        ));
        for i in 0..sent {
            assert_eq!(b.recv().unwrap().header.txn, i);
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        a.send_until(&req(sent), &payload, &[], Some(deadline))
            .unwrap();
        assert_eq!(b.recv().unwrap().header.txn, sent);
    }
}

#[test]
fn a_declined_offer_keeps_both_directions_on_the_socket() {
    let (a, b) = Channel::pair().unwrap();
    b.set_shm(false);
    a.offer_shm().unwrap();
    assert!(b.try_recv().unwrap().is_none());
    for i in 0..3 {
        b.send(&req(i), b"up", &[]).unwrap();
        assert_eq!(a.recv().unwrap().header.txn, i);
        a.send(&req(i), b"down", &[]).unwrap();
        assert_eq!(b.recv().unwrap().header.txn, i);
    }
    assert!(!a.is_shm() && !b.is_shm());
}

#[test]
fn a_reader_asleep_on_the_ring_hears_the_hang_up() {
    with_timeout(30, || {
        let (a, b) = shm_pair();
        let reader = std::thread::spawn(move || b.recv());
        std::thread::sleep(Duration::from_millis(100));
        drop(a);
        assert!(matches!(reader.join().unwrap(), Err(Error::HungUp)));
    })
}

#[test]
fn a_peer_that_writes_then_closes_has_all_it_wrote_read_first() {
    with_timeout(60, || {
        for round in 0..50u64 {
            let (a, b) = shm_pair();
            let b = std::sync::Arc::new(b);
            let poller = b.clone();
            let reader = std::thread::spawn(move || {
                let mut got = 0;
                loop {
                    match b.recv() {
                        Ok(f) => {
                            assert_eq!(f.header.txn, got);
                            got += 1;
                        }
                        Err(Error::HungUp) => return got,
                        Err(e) => panic!("{e}"),
                    }
                }
            });
            // Let the reader fall asleep on the ring some of the time.
            if round % 2 == 0 {
                std::thread::sleep(Duration::from_millis(2));
            }
            for i in 0..100 {
                a.send(&req(i), b"last words", &[]).unwrap();
            }
            drop(a);
            // As a runtime's poller does when it sees the hang-up: the reader looks at the
            // socket, and must still take what is in the ring first.
            poller.kick();
            assert_eq!(reader.join().unwrap(), 100);
        }
    })
}

/// Raw frame bytes, as a hostile peer writes them.
fn raw_header(kind: u16, nfds: u16, xflags: u16, len: u32) -> [u8; 24] {
    let mut h = [0u8; 24];
    h[0..2].copy_from_slice(&kind.to_le_bytes());
    h[4..6].copy_from_slice(&nfds.to_le_bytes());
    h[6..8].copy_from_slice(&xflags.to_le_bytes());
    h[8..12].copy_from_slice(&len.to_le_bytes());
    h
}

fn raw_pair() -> (Channel, OwnedFd) {
    let (x, y) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .unwrap();
    (Channel::from_fd(x), y)
}

fn raw_send(sock: &OwnedFd, bytes: &[u8], fds: &[i32]) {
    let cmsg = [ControlMessage::ScmRights(fds)];
    let cmsgs: &[ControlMessage] = if fds.is_empty() { &[] } else { &cmsg };
    sendmsg::<()>(
        sock.as_raw_fd(),
        &[IoSlice::new(bytes)],
        cmsgs,
        MsgFlags::empty(),
        None,
    )
    .unwrap();
}

#[test]
fn a_bad_offer_is_declined() {
    // Not sealed against shrinking: mapping it would let the peer make us fault.
    let unsealed = memfd::MemfdOptions::default().create("x").unwrap();
    unsealed.as_file().set_len(SHM_BYTES as u64).unwrap();
    // Sealed but of the wrong size.
    let small = memfd::MemfdOptions::default()
        .allow_sealing(true)
        .create("x")
        .unwrap();
    small.as_file().set_len(4096).unwrap();
    small
        .add_seals(&[memfd::FileSeal::SealShrink, memfd::FileSeal::SealGrow])
        .unwrap();
    let plain = tempfile::tempfile().unwrap();
    for fd in [unsealed.as_raw_fd(), small.as_raw_fd(), plain.as_raw_fd()] {
        let (chan, peer) = raw_pair();
        raw_send(&peer, &raw_header(3, 1, 1, 0), &[fd]);
        assert!(chan.try_recv().unwrap().is_none());
        // Our first frame does not switch: we declined.
        chan.send(&req(1), b"x", &[]).unwrap();
        let mut buf = [0u8; 64];
        let mut iov = [IoSliceMut::new(&mut buf)];
        let msg = recvmsg::<()>(peer.as_raw_fd(), &mut iov, None, MsgFlags::empty()).unwrap();
        let n = msg.bytes;
        assert_eq!(n, 25);
        assert_eq!(&buf[6..8], &[0, 0], "no switch flag");
        assert!(!chan.is_shm());
    }
}

/// A hostile peer that took our offer: it maps the memfd and writes what it likes.
struct Hostile {
    chan: Channel,
    peer: OwnedFd,
    map: memmap2::MmapMut,
}

fn hostile() -> Hostile {
    let (chan, peer) = raw_pair();
    chan.offer_shm().unwrap();
    let mut buf = [0u8; 64];
    let mut space = nix::cmsg_space!([i32; 4]);
    let mut iov = [IoSliceMut::new(&mut buf)];
    let msg = recvmsg::<()>(
        peer.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::empty(),
    )
    .unwrap();
    let mut memfd = None;
    for c in msg.cmsgs().unwrap() {
        if let ControlMessageOwned::ScmRights(fds) = c {
            memfd = fds.first().copied();
        }
    }
    // SAFETY: the fd was just received and is ours alone.
    let file = unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(memfd.unwrap()) };
    // SAFETY: a shared mapping of a memfd sealed against shrinking: it cannot fault.
    let map = unsafe { memmap2::MmapMut::map_mut(&file).unwrap() };
    // Switch our direction onto the ring, as an honest peer would.
    raw_send(&peer, &raw_header(3, 0, 2, 0), &[]);
    assert_eq!(chan.recv().unwrap().header.kind, FrameKind::OneWay);
    Hostile { chan, peer, map }
}

/// A small deterministic generator: the test needs no randomness crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn socket_frames_without_markers_are_held_only_up_to_the_bound() {
    let h = hostile();
    // Frames on the socket that no ring marker asks for: held for their markers, up to a bound.
    for _ in 0..SHM_MAX_STASHED_FRAMES {
        raw_send(&h.peer, &raw_header(3, 0, 0, 0), &[]);
    }
    assert!(matches!(h.chan.try_recv(), Ok(None)));
    raw_send(&h.peer, &raw_header(3, 0, 0, 0), &[]);
    assert!(matches!(h.chan.try_recv(), Err(Error::Ring(_))));
    // The peer is hung up on.
    assert!(matches!(h.chan.try_recv(), Err(Error::HungUp)));
}

#[test]
fn scribbled_rings_give_errors_never_a_crash_or_a_hang() {
    with_timeout(120, || {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let (control, stride, ring1) = (0usize, 512usize, 4096 + SHM_RING_BYTES);
        let mut outcomes = [0usize; 3];
        for round in 0..300 {
            let mut h = hostile();
            // Ring 1 is the hostile side's: its head, and the records it claims to have written.
            let head = match round % 3 {
                0 => rng.next(),
                1 => rng.next() % (SHM_RING_BYTES as u64 + 64),
                _ => (rng.next() % 64) * 8,
            };
            h.map[control + stride..control + stride + 8].copy_from_slice(&head.to_le_bytes());
            for _ in 0..64 {
                let at = ring1 + (rng.next() as usize % SHM_RING_BYTES);
                h.map[at] = rng.next() as u8;
            }
            if round % 2 == 0 {
                // Plausible record headers, to get past the first checks.
                let tag = 1 + (rng.next() % 3) as u32;
                let len = (rng.next() % 256) as u32;
                h.map[ring1..ring1 + 4].copy_from_slice(&tag.to_le_bytes());
                h.map[ring1 + 4..ring1 + 8].copy_from_slice(&len.to_le_bytes());
            }
            // Our tail in ring 0, as the hostile consumer publishes it.
            let tail = rng.next() % (2 * SHM_RING_BYTES as u64);
            h.map[control + 128..control + 136].copy_from_slice(&tail.to_le_bytes());
            raw_send(&h.peer, &raw_header(3, 0, 4, 0), &[]);
            for _ in 0..8 {
                match h.chan.try_recv() {
                    Ok(Some(_)) => outcomes[0] += 1,
                    Ok(None) => break,
                    Err(e) if e.is_frame_error() => outcomes[1] += 1,
                    Err(_) => {
                        outcomes[2] += 1;
                        break;
                    }
                }
            }
            // Sending over a scribbled ring fails or succeeds, but returns.
            let _ = h.chan.try_send(&req(1), &[0u8; 512], &[]);
        }
        assert!(outcomes[2] > 0, "no scribble was caught: {outcomes:?}");
    })
}
