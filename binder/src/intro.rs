//! A reference channel's introduction: the first frame on every reference channel, written by
//! the object's owner on its own end before the other end leaves its hands.
//!
//! What a reference is comes only from here, never from whoever passed the channel on: only the
//! process holding the owner end can put a frame in the holder's receive queue, and the kernel
//! stamps that frame with the writer's pid. A channel whose introduction was already read (a
//! used reference passed on raw), or was written by another process than the one the kernel
//! names as the channel's maker, is refused.
//!
//! Payload (24 bytes, little-endian): the owner's runtime id u64, the object's number u64, and
//! the reference's key u64: a random number that the owner maps to this reference while it
//! lives. A peer names an object of the owner's other than its channel's own (a call nested in
//! one of the owner's, see [`crate::call`]) by the key of a reference it holds, so it can reach
//! only objects it was given.

use std::time::Duration;

use afbus_transport::{Channel, FrameKind, Header};

use crate::status::{Error, Result, StatusCode};

/// Code of the one-way frame that opens a reference channel.
const INTRO_CODE: u32 = u32::from_be_bytes(*b"_INT");
const INTRO_LEN: usize = 24;

/// What the owner of a reference channel says it stands for, and who said it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Intro {
    /// The owner's runtime id.
    pub owner: u64,
    /// The object's number in that runtime.
    pub number: u64,
    /// This reference's key (never 0).
    pub key: u64,
    /// The owner's pid, as the kernel stamped it on the introduction.
    pub pid: i32,
}

/// A new reference key: random, never 0.
pub(crate) fn new_key() -> Result<u64> {
    loop {
        let key = getrandom::u64()
            .map_err(|e| Error::new(StatusCode::UNKNOWN_ERROR, format!("getrandom: {e}")))?;
        if key != 0 {
            return Ok(key);
        }
    }
}

/// Writes the introduction on the owner's end of a new reference channel.
pub(crate) fn send(channel: &Channel, owner: u64, number: u64, key: u64) -> Result<()> {
    let mut payload = [0u8; INTRO_LEN];
    payload[..8].copy_from_slice(&owner.to_le_bytes());
    payload[8..16].copy_from_slice(&number.to_le_bytes());
    payload[16..].copy_from_slice(&key.to_le_bytes());
    channel.send(
        &Header::new(FrameKind::OneWay).with_code(INTRO_CODE),
        &payload,
        &[],
    )?;
    Ok(())
}

/// Reads the introduction on the holder's end: already there for a minted channel (`wait`
/// `None`), within `wait` for one the bus master brokered. `maker` is the pid the kernel (or
/// the master) names as the owner; the introduction must come from that process.
pub(crate) fn recv(channel: &Channel, maker: i32, wait: Option<Duration>) -> Result<Intro> {
    channel.set_pass_credentials(true)?;
    let frame = match wait {
        None => channel.try_recv()?,
        Some(timeout) => Some(channel.recv_timeout(timeout)?),
    };
    let refused =
        |why: &str| Error::new(StatusCode::BAD_VALUE, format!("reference refused: {why}"));
    let frame =
        frame.ok_or_else(|| refused("its channel has no introduction (a used reference)"))?;
    if frame.header.kind != FrameKind::OneWay
        || frame.header.code != INTRO_CODE
        || frame.payload.len() != INTRO_LEN
        || !frame.fds.is_empty()
    {
        return Err(refused("its channel does not open with an introduction"));
    }
    let pid = frame.creds.map_or(0, |c| c.pid);
    if pid <= 0 || pid != maker {
        return Err(refused(&format!(
            "introduced by pid {pid}, but the channel's owner is pid {maker}"
        )));
    }
    let word = |i: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&frame.payload[i..i + 8]);
        u64::from_le_bytes(b)
    };
    let key = word(16);
    if key == 0 {
        return Err(refused("its key is 0"));
    }
    Ok(Intro {
        owner: word(0),
        number: word(8),
        key,
        pid,
    })
}
