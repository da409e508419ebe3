//! What each peer process can make this runtime hold, bounded: references it holds to our
//! objects (each a channel, so an fd here), references of its objects we hold (an fd each too),
//! objects given either way over channels (a table entry each), and shared-memory rings. Going
//! past a bound fails that peer's call, not anyone else's.

use std::collections::HashMap;

use parking_lot::Mutex;

use crate::status::{Error, Result, StatusCode};

/// Shared-memory rings one peer process may have with this runtime; its further channels stay on
/// the socket. A ring pair maps [`afbus_transport::shm::SHM_BYTES`] (516 KiB), so a peer can make
/// us map about 4 MiB.
pub const MAX_RINGS_PER_PEER: usize = 8;

/// References to our objects one peer process (a broker, such as the service manager) may hold
/// minted ahead and not yet handed to anyone (see [`crate::RuntimeConfig::mint_ahead`]). Past it
/// the broker mints on demand; a spare handed on is charged to its new holder.
pub const MAX_SPARES_PER_PEER: usize = 64;

/// The most objects given over channels each way between one peer process and this runtime
/// (each a table entry, and a proxy of a few hundred bytes on the receiving side; no fd),
/// unless [`RuntimeConfig::max_given_per_peer`](crate::RuntimeConfig::max_given_per_peer) says
/// otherwise.
pub const MAX_GIVEN_PER_PEER: usize = 64 * 1024;

/// The most references (either way) one peer process may have with this runtime: an eighth
/// of the fd table, so that no one peer can exhaust it, and at least 128.
pub fn max_refs_per_peer() -> usize {
    let soft = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .map_or(1024, |(soft, _)| soft);
    usize::try_from(soft / 8).unwrap_or(usize::MAX).max(128)
}

/// Raises this process's soft fd limit to its hard limit (as Go's runtime does): every
/// reference is an fd, and the common soft limit of 1,024 is far below what the kernel allows.
pub(crate) fn raise_fd_limit() {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        if soft < hard {
            let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
        }
    }
}

#[derive(Default)]
struct Use {
    /// Live references to our objects held by the peer.
    exported: usize,
    /// Proxies of ours to the peer's objects.
    imported: usize,
    /// Our objects given to the peer over channels.
    given: usize,
    /// Proxies of ours to the peer's objects given to us over channels.
    received: usize,
    rings: usize,
    /// References to our objects minted ahead for the peer to hand on, not handed on yet.
    spares: usize,
}

impl Use {
    fn is_empty(&self) -> bool {
        self.exported == 0
            && self.imported == 0
            && self.given == 0
            && self.received == 0
            && self.rings == 0
            && self.spares == 0
    }
}

/// Which of a peer's counts.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Held {
    /// A reference to one of our objects, held by the peer.
    Exported,
    /// A reference to one of the peer's objects, held by us.
    Imported,
    /// One of our objects, given to the peer over a channel.
    Given,
    /// One of the peer's objects, given to us over a channel.
    Received,
    /// A ring pair on one of our channels with the peer.
    Ring,
    /// A reference to one of our objects minted ahead for the peer to hand on.
    Spare,
}

/// The counts per peer process (by pid).
pub(crate) struct Peers {
    by_pid: Mutex<HashMap<i32, Use>>,
    /// [`max_refs_per_peer`] when the runtime started (its fd limit raised).
    max_refs: usize,
    /// The bound on given objects each way.
    max_given: usize,
}

impl Default for Peers {
    fn default() -> Peers {
        Peers::new(MAX_GIVEN_PER_PEER)
    }
}

impl Peers {
    pub(crate) fn new(max_given: usize) -> Peers {
        Peers {
            by_pid: Mutex::default(),
            max_refs: max_refs_per_peer(),
            max_given,
        }
    }

    /// Counts one more of `what` for `pid`, or says why not.
    pub(crate) fn charge(&self, pid: i32, what: Held) -> Result<()> {
        let mut map = self.by_pid.lock();
        let u = map.entry(pid).or_default();
        let (count, max) = match what {
            Held::Exported => (&mut u.exported, self.max_refs),
            Held::Imported => (&mut u.imported, self.max_refs),
            Held::Given => (&mut u.given, self.max_given),
            Held::Received => (&mut u.received, self.max_given),
            Held::Ring => (&mut u.rings, MAX_RINGS_PER_PEER),
            Held::Spare => (&mut u.spares, MAX_SPARES_PER_PEER),
        };
        if *count >= max {
            let n = *count;
            if u.is_empty() {
                map.remove(&pid);
            }
            return Err(Error::new(
                StatusCode::NO_MEMORY,
                format!("pid {pid} already has {n} {what:?} with this process (at most {max})"),
            ));
        }
        *count += 1;
        Ok(())
    }

    /// Gives one `what` of `pid` back.
    pub(crate) fn refund(&self, pid: i32, what: Held) {
        let mut map = self.by_pid.lock();
        if let Some(u) = map.get_mut(&pid) {
            let count = match what {
                Held::Exported => &mut u.exported,
                Held::Imported => &mut u.imported,
                Held::Given => &mut u.given,
                Held::Received => &mut u.received,
                Held::Ring => &mut u.rings,
                Held::Spare => &mut u.spares,
            };
            *count = count.saturating_sub(1);
            if u.is_empty() {
                map.remove(&pid);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_count_is_bounded_and_refunded() {
        let peers = Peers::default();
        for _ in 0..MAX_RINGS_PER_PEER {
            peers.charge(7, Held::Ring).unwrap();
        }
        assert!(peers.charge(7, Held::Ring).is_err());
        peers.charge(8, Held::Ring).unwrap();
        peers.refund(7, Held::Ring);
        peers.charge(7, Held::Ring).unwrap();
        peers.charge(7, Held::Exported).unwrap();
        assert!(max_refs_per_peer() >= 128);
    }
}
