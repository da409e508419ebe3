//! Limits at the edge and hostile frames: typed errors, no fd leaks, the channel keeps working.

mod common;

use std::io::IoSlice;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::Mutex;

use afbus_transport::{
    BusSocket, Channel, Error, FrameKind, Header, HEADER_LEN, MAX_FDS_PER_FRAME, MAX_FRAME_BYTES,
    MAX_PAYLOAD_BYTES,
};
use common::{open_fds, TestBus};
use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags, UnixAddr};

/// Checks that an error is the one a case expects.
type IsExpected = fn(&Error) -> bool;

/// The tests count this process's fds, so they run one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// A header as raw bytes, with any field set to anything.
fn raw_header(kind: u16, nfds: u16, reserved: u16, len: u32) -> Vec<u8> {
    let mut b = Vec::with_capacity(HEADER_LEN);
    b.extend_from_slice(&kind.to_le_bytes());
    b.extend_from_slice(&0u16.to_le_bytes());
    b.extend_from_slice(&nfds.to_le_bytes());
    b.extend_from_slice(&reserved.to_le_bytes());
    b.extend_from_slice(&len.to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes());
    b.extend_from_slice(&0u64.to_le_bytes());
    b
}

/// Sends bytes and fds as one datagram, bypassing every check of the sending side.
fn raw_send(sock: BorrowedFd<'_>, bytes: &[u8], fds: &[OwnedFd]) {
    let raw: Vec<i32> = fds.iter().map(|f| f.as_raw_fd()).collect();
    let cmsgs = if raw.is_empty() {
        vec![]
    } else {
        vec![ControlMessage::ScmRights(&raw)]
    };
    sendmsg::<UnixAddr>(
        sock.as_raw_fd(),
        &[IoSlice::new(bytes)],
        &cmsgs,
        MsgFlags::empty(),
        None,
    )
    .expect("raw send");
}

fn pipes(n: usize) -> Vec<OwnedFd> {
    (0..n / 2 + 1)
        .flat_map(|_| {
            let (r, w) = nix::unistd::pipe().unwrap();
            [r, w]
        })
        .take(n)
        .collect()
}

fn assert_works(a: &Channel, b: &Channel) {
    a.send(
        &Header::new(FrameKind::OneWay).with_code(5),
        b"still here",
        &[],
    )
    .unwrap();
    let f = b.recv().unwrap();
    assert_eq!(
        (f.header.code, f.payload.as_slice()),
        (5, &b"still here"[..])
    );
}

#[test]
fn the_largest_frame_passes_and_one_byte_more_is_refused() {
    let _g = serial();
    let before = open_fds();
    {
        let (a, b) = Channel::pair().unwrap();
        let big = vec![7u8; MAX_PAYLOAD_BYTES];
        a.send(&Header::new(FrameKind::OneWay), &big, &[]).unwrap();
        assert_eq!(b.recv().unwrap().payload.len(), MAX_PAYLOAD_BYTES);

        let over = vec![7u8; MAX_PAYLOAD_BYTES + 1];
        let err = a
            .send(&Header::new(FrameKind::OneWay), &over, &[])
            .unwrap_err();
        assert!(
            matches!(err, Error::FrameTooLarge { len, max } if len == MAX_FRAME_BYTES + 1 && max == MAX_FRAME_BYTES)
        );

        // The same frame sent by a peer that skips the check, with fds: refused, fds closed.
        let mut frame = raw_header(3, 2, 0, (MAX_PAYLOAD_BYTES + 1) as u32);
        frame.extend_from_slice(&over);
        raw_send(a.as_fd(), &frame, &pipes(2));
        let err = b.recv().unwrap_err();
        assert!(
            matches!(err, Error::FrameTooLarge { len, .. } if len == MAX_FRAME_BYTES + 1),
            "{err}"
        );
        assert!(err.is_frame_error());
        assert_works(&a, &b);
    }
    assert_eq!(open_fds(), before, "no fd leaked");
}

#[test]
fn the_most_fds_pass_and_one_more_is_refused() {
    let _g = serial();
    let before = open_fds();
    {
        let (a, b) = Channel::pair().unwrap();
        let fds = pipes(MAX_FDS_PER_FRAME + 1);
        let borrowed: Vec<BorrowedFd<'_>> = fds.iter().map(|f| f.as_fd()).collect();
        a.send(
            &Header::new(FrameKind::OneWay),
            b"",
            &borrowed[..MAX_FDS_PER_FRAME],
        )
        .unwrap();
        assert_eq!(b.recv().unwrap().fds.len(), MAX_FDS_PER_FRAME);
        let err = a
            .send(&Header::new(FrameKind::OneWay), b"", &borrowed)
            .unwrap_err();
        assert!(
            matches!(err, Error::TooManyFds { count, max: MAX_FDS_PER_FRAME } if count == MAX_FDS_PER_FRAME + 1)
        );
        assert_works(&a, &b);
    }
    assert_eq!(open_fds(), before, "no fd leaked");
}

#[test]
fn hostile_frames_are_typed_errors_their_fds_closed_and_the_channel_goes_on() {
    let _g = serial();
    let before = open_fds();
    {
        let (a, b) = Channel::pair().unwrap();
        let cases: Vec<(Vec<u8>, usize, IsExpected)> = vec![
            (vec![1, 0, 0], 1, |e| {
                matches!(e, Error::ShortFrame { len: 3, .. })
            }),
            (
                {
                    let mut f = raw_header(3, 0, 0, 100);
                    f.extend([0; 50]);
                    f
                },
                2,
                |e| {
                    matches!(
                        e,
                        Error::BadLength {
                            declared: 100,
                            actual: 50
                        }
                    )
                },
            ),
            (raw_header(77, 0, 0, 0), 3, |e| {
                matches!(e, Error::UnknownKind(77))
            }),
            (raw_header(3, 0, 9, 0), 1, |e| {
                matches!(e, Error::BadReserved(9))
            }),
            (raw_header(3, 1, 0, 0), 3, |e| {
                matches!(
                    e,
                    Error::FdCountMismatch {
                        declared: 1,
                        actual: 3
                    }
                )
            }),
            (raw_header(3, 5, 0, 0), 0, |e| {
                matches!(
                    e,
                    Error::FdCountMismatch {
                        declared: 5,
                        actual: 0
                    }
                )
            }),
        ];
        for (bytes, nfds, expected) in cases {
            raw_send(a.as_fd(), &bytes, &pipes(nfds));
            let err = b.recv().unwrap_err();
            assert!(expected(&err), "unexpected {err}");
            assert!(err.is_frame_error());
            assert_works(&a, &b);
        }
        // An empty datagram from a connected peer is a short frame, not a hang-up.
        raw_send(a.as_fd(), &[], &[]);
        assert!(matches!(
            b.recv().unwrap_err(),
            Error::ShortFrame { len: 0, .. }
        ));
        assert_works(&a, &b);
    }
    assert_eq!(open_fds(), before, "every fd of a refused frame was closed");
}

#[test]
fn hang_up_and_would_block_are_typed() {
    let _g = serial();
    let (a, b) = Channel::pair().unwrap();
    assert!(b.try_recv().unwrap().is_none());
    let mut sent = 0;
    loop {
        match a.try_send(&Header::new(FrameKind::OneWay), &[0; 4096], &[]) {
            Ok(()) => sent += 1,
            Err(Error::WouldBlock) => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert!(sent > 0);
    assert!(matches!(
        b.recv_timeout(std::time::Duration::from_millis(1)),
        Ok(f) if f.payload.len() == 4096
    ));
    drop(b);
    assert!(matches!(
        a.send(&Header::new(FrameKind::OneWay), b"x", &[]),
        Err(Error::HungUp)
    ));
    let (c, d) = Channel::pair().unwrap();
    drop(c);
    assert!(matches!(d.recv(), Err(Error::HungUp)));
    assert!(matches!(
        d.recv_timeout(std::time::Duration::from_secs(5)),
        Err(Error::HungUp)
    ));
}

#[test]
fn the_master_survives_hostile_peers() {
    let _g = serial();
    let bus = TestBus::new();
    let raw = nix::sys::socket::socket(
        nix::sys::socket::AddressFamily::Unix,
        nix::sys::socket::SockType::SeqPacket,
        nix::sys::socket::SockFlag::SOCK_CLOEXEC,
        None,
    )
    .unwrap();
    nix::sys::socket::connect(raw.as_raw_fd(), &UnixAddr::new(bus.path()).unwrap()).unwrap();
    let raw = Channel::from_fd(raw);
    raw_send(raw.as_fd(), &[0xff; 5], &pipes(3));
    // A well-formed request with op 0, which does not exist.
    raw_send(raw.as_fd(), &raw_header(1, 0, 0, 0), &[]);
    let reply = raw
        .recv_timeout(std::time::Duration::from_secs(10))
        .unwrap();
    assert_eq!((reply.header.kind, reply.header.txn), (FrameKind::Reply, 0));
    assert_eq!(
        reply.header.code,
        afbus_transport::MasterStatus::UNKNOWN_OP.0
    );
    // A request before hello is refused, not served.
    raw.send(
        &Header::new(FrameKind::Request).with_code(2).with_txn(4),
        b"junk",
        &[],
    )
    .unwrap();
    let reply = raw
        .recv_timeout(std::time::Duration::from_secs(10))
        .unwrap();
    assert_eq!((reply.header.kind, reply.header.txn), (FrameKind::Reply, 4));
    assert_ne!(reply.header.code, 0);
    // An unknown op and a malformed hello are refused too.
    raw.send(
        &Header::new(FrameKind::Request).with_code(999).with_txn(5),
        b"",
        &[],
    )
    .unwrap();
    assert_ne!(
        raw.recv_timeout(std::time::Duration::from_secs(10))
            .unwrap()
            .header
            .code,
        0
    );
    raw.send(
        &Header::new(FrameKind::Request).with_code(1).with_txn(6),
        b"\x01",
        &[],
    )
    .unwrap();
    assert_ne!(
        raw.recv_timeout(std::time::Duration::from_secs(10))
            .unwrap()
            .header
            .code,
        0
    );

    let good = BusSocket::connect(bus.path()).unwrap();
    let name = "org.test.Fine".parse().unwrap();
    good.request_name(&name, afbus_transport::QueueMode::Queue)
        .unwrap();
}
