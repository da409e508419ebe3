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

use parking_lot::Mutex;

use afbus_transport::wire::{Reader, Writer};
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

/// Keys drawn from the kernel at once: one `getrandom` per this many references.
const KEY_BATCH: usize = 32;

/// Keys drawn from the kernel and not handed out yet, with the
/// [`fork_generation`](afbus_transport::fork_generation) they were drawn in: a forked child
/// draws its own, or its keys would be its parent's, which a peer of the parent could know.
static KEYS: Mutex<(u64, Vec<u64>)> = Mutex::new((0, Vec::new()));

/// A new reference key: random (from `getrandom`, drawn [`KEY_BATCH`] at a time), never 0.
pub(crate) fn new_key() -> Result<u64> {
    let mut guard = KEYS.lock();
    let (drawn_in, keys) = &mut *guard;
    let now = afbus_transport::fork_generation();
    if *drawn_in != now {
        keys.clear();
        *drawn_in = now;
    }
    loop {
        if let Some(key) = keys.pop() {
            if key != 0 {
                return Ok(key);
            }
            continue;
        }
        let mut bytes = [0u8; KEY_BATCH * 8];
        getrandom::fill(&mut bytes)
            .map_err(|e| Error::new(StatusCode::UNKNOWN_ERROR, format!("getrandom: {e}")))?;
        keys.extend(
            bytes
                .chunks_exact(8)
                .map(|c| u64::from_ne_bytes(c.try_into().unwrap_or_default())),
        );
    }
}

/// Writes the introduction on the owner's end of a new reference channel.
pub(crate) fn send(channel: &Channel, owner: u64, number: u64, key: u64) -> Result<()> {
    let mut payload = Writer::default();
    payload.u64(owner).u64(number).u64(key);
    channel.send(
        &Header::new(FrameKind::OneWay).with_code(INTRO_CODE),
        &payload.finish(),
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
    let mut r = Reader::new(&frame.payload);
    let mut word = |what| r.u64(what).map_err(|e| refused(&e.to_string()));
    let (owner, number, key) = (word("owner")?, word("number")?, word("key")?);
    if key == 0 {
        return Err(refused("its key is 0"));
    }
    Ok(Intro {
        owner,
        number,
        key,
        pid,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_nonzero_and_distinct() {
        let keys: std::collections::HashSet<u64> =
            (0..KEY_BATCH * 3).map(|_| new_key().unwrap()).collect();
        assert_eq!(keys.len(), KEY_BATCH * 3);
        assert!(!keys.contains(&0));
    }

    #[test]
    fn a_forked_child_draws_its_own_keys() {
        // The pool now holds keys the parent will hand out next.
        new_key().unwrap();
        let pending = KEYS.lock().1.clone();
        let (r, w) = nix::unistd::pipe().unwrap();
        #[allow(unsafe_code)]
        // SAFETY: the child only draws a key, writes it to a pipe and exits with `_exit`.
        match unsafe { nix::unistd::fork() }.unwrap() {
            nix::unistd::ForkResult::Child => {
                let key = new_key().map_or(0, |k| k);
                let _ = nix::unistd::write(&w, &key.to_ne_bytes());
                #[allow(unsafe_code)]
                // SAFETY: exits the forked child at once, running nothing of the parent's.
                unsafe {
                    libc::_exit(0)
                };
            }
            nix::unistd::ForkResult::Parent { child } => {
                drop(w);
                let mut b = [0u8; 8];
                assert_eq!(nix::unistd::read(&r, &mut b).unwrap(), 8);
                nix::sys::wait::waitpid(child, None).unwrap();
                let childs = u64::from_ne_bytes(b);
                assert_ne!(childs, 0);
                assert!(
                    !pending.contains(&childs),
                    "the child handed out one of its parent's keys"
                );
            }
        }
    }
}
