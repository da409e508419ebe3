//! Who may connect to the master, and for how long a connection may stay unjoined: the bounds
//! that keep connections which never say `Hello` from filling the master's fd table.
//!
//! Pure bookkeeping: the master asks, and closes what it is told to.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// Connections that have not joined (no `Hello` yet), over all uids (dbus-daemon's
/// `max_incomplete_connections` on the system bus).
pub const MAX_INCOMPLETE_CONNECTIONS: usize = 64;
/// Connections one uid may hold without having joined: a quarter of the total, so one uid
/// cannot keep every other user out.
pub const MAX_INCOMPLETE_PER_UID: usize = MAX_INCOMPLETE_CONNECTIONS / 4;
/// How long a connection may stay unjoined before the master closes it (dbus-daemon's
/// `auth_timeout` is 30 s; a `Hello` is one frame, so a few seconds is generous).
pub const HELLO_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the master stops accepting when it is out of fds, so that it serves and reaps its
/// peers instead of spinning on a listener it cannot accept from.
pub const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Why a new connection is closed at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Refused {
    /// The uid already holds [`MAX_INCOMPLETE_PER_UID`] unjoined connections.
    IncompleteForUid,
    /// [`MAX_INCOMPLETE_CONNECTIONS`] connections are unjoined.
    Incomplete,
}

#[derive(Debug, Default)]
pub(super) struct Admission {
    /// Unjoined connections per uid.
    incomplete: HashMap<u32, usize>,
    total: usize,
    /// Each admitted connection's `Hello` deadline, in the order admitted (one timeout for all,
    /// so also in deadline order). Entries of connections that joined or left meanwhile are
    /// skipped when they come due.
    deadlines: VecDeque<(Instant, u64)>,
    /// Accepting stopped until then (out of fds).
    paused_until: Option<Instant>,
}

impl Admission {
    /// Counts a new unjoined connection `id` of `uid`, or says why it must be closed.
    pub(super) fn admit(&mut self, uid: u32, id: u64, now: Instant) -> Result<(), Refused> {
        if self.total >= MAX_INCOMPLETE_CONNECTIONS {
            return Err(Refused::Incomplete);
        }
        let n = self.incomplete.entry(uid).or_insert(0);
        if *n >= MAX_INCOMPLETE_PER_UID {
            return Err(Refused::IncompleteForUid);
        }
        *n += 1;
        self.total += 1;
        self.deadlines.push_back((now + HELLO_TIMEOUT, id));
        Ok(())
    }

    /// An unjoined connection of `uid` joined or went away.
    pub(super) fn settled(&mut self, uid: u32) {
        if let Some(n) = self.incomplete.get_mut(&uid) {
            *n -= 1;
            self.total -= 1;
            if *n == 0 {
                self.incomplete.remove(&uid);
            }
        }
    }

    /// Connections whose `Hello` deadline has passed (the caller closes those still unjoined).
    pub(super) fn overdue(&mut self, now: Instant) -> Vec<u64> {
        let mut due = Vec::new();
        while let Some(&(at, id)) = self.deadlines.front() {
            if at > now {
                break;
            }
            self.deadlines.pop_front();
            due.push(id);
        }
        due
    }

    /// Stops accepting for [`ACCEPT_BACKOFF`].
    pub(super) fn pause(&mut self, now: Instant) {
        self.paused_until = Some(now + ACCEPT_BACKOFF);
    }

    /// True (once) when a pause has ended and the listener should be watched again.
    pub(super) fn resume(&mut self, now: Instant) -> bool {
        match self.paused_until {
            Some(at) if at <= now => {
                self.paused_until = None;
                true
            }
            _ => false,
        }
    }

    /// When the master must next look at the clock.
    pub(super) fn next_wakeup(&self) -> Option<Instant> {
        let hello = self.deadlines.front().map(|&(at, _)| at);
        match (hello, self.paused_until) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Unjoined connections now, over all uids.
    #[cfg(test)]
    fn incomplete(&self) -> usize {
        self.total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_per_uid_and_in_total() {
        let now = Instant::now();
        let mut a = Admission::default();
        for i in 0..MAX_INCOMPLETE_PER_UID as u64 {
            a.admit(65534, i, now).unwrap();
        }
        assert_eq!(a.admit(65534, 99, now), Err(Refused::IncompleteForUid));
        a.settled(65534);
        a.admit(65534, 100, now).unwrap();
        let mut id = 1000;
        for uid in 1.. {
            match a.admit(uid, id, now) {
                Ok(()) => id += 1,
                Err(e) => {
                    assert_eq!(e, Refused::Incomplete);
                    break;
                }
            }
        }
        assert_eq!(a.incomplete(), MAX_INCOMPLETE_CONNECTIONS);
    }

    #[test]
    fn deadlines_and_pauses() {
        let now = Instant::now();
        let mut a = Admission::default();
        a.admit(1, 7, now).unwrap();
        assert!(a.overdue(now).is_empty());
        assert_eq!(a.next_wakeup(), Some(now + HELLO_TIMEOUT));
        assert_eq!(a.overdue(now + HELLO_TIMEOUT), vec![7]);
        assert_eq!(a.next_wakeup(), None);
        a.pause(now);
        assert!(!a.resume(now));
        assert!(a.resume(now + ACCEPT_BACKOFF));
        assert!(!a.resume(now + ACCEPT_BACKOFF));
    }
}
