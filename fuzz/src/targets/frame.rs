//! The frame receive path: a raw datagram (and fds) sent by a hostile peer, received by
//! [`Channel`] as every endpoint and runtime receives, which checks the header
//! (`Header::decode`), the lengths and the fds.
//!
//! Input: byte 0 chooses how many fds travel with the datagram (bits 0-1) and whether the
//! receiver asks for credentials (bit 2); the rest is the datagram.

use std::io::IoSlice;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use afbus_transport::{Channel, Error, FrameKind, Header, HEADER_LEN, MAX_FRAME_BYTES};
use nix::sys::socket::{self, AddressFamily, ControlMessage, MsgFlags, SockFlag, SockType};

/// This target.
pub const TARGET: crate::Target = crate::Target {
    name: "frame",
    run: target,
    seeds,
    dictionary: DICTIONARY,
};

/// Kinds, lengths and the header size, little-endian.
pub const DICTIONARY: &[&[u8]] = &[
    &[1, 0],
    &[2, 0],
    &[3, 0],
    &[4, 0],
    &[5, 0],
    &[6, 0],
    &[0, 0, 0, 0],
    &[24, 0, 0, 0],
    &[0xff, 0xff, 0xff, 0xff],
    &[0, 0, 2, 0],
    &[0xe8, 0xff, 1, 0],
];

/// Runs one input.
pub fn target(data: &[u8]) {
    let Some((&control, datagram)) = data.split_first() else {
        return;
    };
    let nfds = usize::from(control & 3);
    let Ok((raw, theirs)) = socket::socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    ) else {
        return;
    };
    let channel = Channel::from_fd(theirs);
    if control & 4 != 0 {
        let _ = channel.set_pass_credentials(true);
    }
    let fds: Vec<OwnedFd> = (0..nfds)
        .filter_map(|_| std::fs::File::open("/dev/null").ok().map(OwnedFd::from))
        .collect();
    let raw_fds: Vec<i32> = fds.iter().map(|f| f.as_raw_fd()).collect();
    let cmsg = [ControlMessage::ScmRights(&raw_fds)];
    let cmsgs: &[ControlMessage<'_>] = if raw_fds.is_empty() { &[] } else { &cmsg };
    let iov = [IoSlice::new(datagram)];
    // A datagram the kernel will not take (too large for the buffer) tests nothing of ours.
    if socket::sendmsg::<()>(
        raw.as_fd().as_raw_fd(),
        &iov,
        cmsgs,
        MsgFlags::MSG_DONTWAIT,
        None,
    )
    .is_err()
    {
        return;
    }
    drop(fds);
    check(datagram, nfds, channel.try_recv());
    // Exactly one datagram was sent: nothing more may come out of it.
    assert!(
        matches!(channel.try_recv(), Ok(None)),
        "one datagram gave two frames"
    );
    drop(raw);
    assert!(
        matches!(channel.recv(), Err(Error::HungUp)),
        "a closed peer must read as a hang-up"
    );
}

/// What a well-formed datagram must give, and that a bad one is refused.
fn check(
    datagram: &[u8],
    nfds: usize,
    got: afbus_transport::Result<Option<afbus_transport::Frame>>,
) {
    match got {
        Ok(Some(frame)) => {
            assert!(datagram.len() >= HEADER_LEN && datagram.len() <= MAX_FRAME_BYTES);
            assert_eq!(frame.payload, &datagram[HEADER_LEN..], "payload altered");
            assert_eq!(frame.fds.len(), nfds, "fds lost or invented");
            let declared = u32::from_le_bytes(datagram[8..12].try_into().expect("4 bytes"));
            assert_eq!(declared as usize, frame.payload.len(), "length unchecked");
        }
        // The channel's own signalling (a shared-memory offer, a doorbell) is taken, not given.
        Ok(None) => assert!(
            well_formed(datagram, nfds) && signalling(datagram),
            "a sent datagram was not received"
        ),
        Err(e) => {
            // A refusal is fine; it must be a typed one, and a frame that passes every check
            // must not be refused.
            let _ = e.to_string();
            assert!(
                !well_formed(datagram, nfds),
                "a well-formed frame was refused: {e}"
            );
        }
    }
}

/// The transport flags a channel knows (header bytes 6..8): offer, switch, doorbell.
const TRANSPORT_FLAGS: u16 = 1 | 2 | 4;

/// True when a frame carries the channel's own signalling: an offer or a doorbell.
fn signalling(datagram: &[u8]) -> bool {
    u16::from_le_bytes([datagram[6], datagram[7]]) & (1 | 4) != 0
}

/// True when `datagram` with `nfds` fds is a valid frame.
fn well_formed(datagram: &[u8], nfds: usize) -> bool {
    if datagram.len() < HEADER_LEN || datagram.len() > MAX_FRAME_BYTES {
        return false;
    }
    let u16_at = |i: usize| u16::from_le_bytes([datagram[i], datagram[i + 1]]);
    let declared = u32::from_le_bytes(datagram[8..12].try_into().expect("4 bytes")) as usize;
    (1..=5).contains(&u16_at(0))
        && u16_at(6) & !TRANSPORT_FLAGS == 0
        && usize::from(u16_at(4)) == nfds
        && declared == datagram.len() - HEADER_LEN
}

/// Valid frames of each kind, with and without fds.
pub fn seeds() -> Vec<Vec<u8>> {
    let kinds = [
        FrameKind::Request,
        FrameKind::Reply,
        FrameKind::OneWay,
        FrameKind::Notice,
        FrameKind::Signal,
    ];
    let mut out = Vec::new();
    for (i, kind) in kinds.into_iter().enumerate() {
        for nfds in [0u8, 2] {
            let payload = vec![i as u8; i * 7];
            let header = Header::new(kind).with_code(i as u32).with_txn(i as u64 + 1);
            out.push([vec![nfds], encode(&header, &payload, nfds.into())].concat());
        }
    }
    out
}

/// The wire form of a frame, as `Header`'s documented layout says.
fn encode(h: &Header, payload: &[u8], nfds: u16) -> Vec<u8> {
    let mut b = Vec::with_capacity(HEADER_LEN + payload.len());
    b.extend_from_slice(&(h.kind as u16).to_le_bytes());
    b.extend_from_slice(&h.flags.to_le_bytes());
    b.extend_from_slice(&nfds.to_le_bytes());
    b.extend_from_slice(&0u16.to_le_bytes());
    b.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    b.extend_from_slice(&h.code.to_le_bytes());
    b.extend_from_slice(&h.txn.to_le_bytes());
    b.extend_from_slice(payload);
    b
}
