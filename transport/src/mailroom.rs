//! Several threads waiting on one socket, each for its own frames (replies to its requests,
//! calls nested in its call): whichever thread needs something reads, one at a time, with the
//! lock released while it blocks, and files every frame where its waiter looks; the others
//! sleep until something is filed. The bus master's endpoint ([`crate::BusSocket`]) and the
//! binder layer's reference channels both work this way, over their own state `S`.
//!
//! ```
//! use afbus_transport::mailroom::Mailroom;
//! use std::collections::HashMap;
//! let room = Mailroom::new(HashMap::<u64, String>::new());
//! let mut guard = room.lock();
//! // No one reads: this thread does, with the lock released meanwhile.
//! assert!(!guard.is_reading());
//! let (txn, frame) = room.read(&mut guard, || (7, "reply".to_string()));
//! guard.insert(txn, frame);
//! room.filed();
//! assert_eq!(guard.remove(&7).as_deref(), Some("reply"));
//! ```

use std::ops::{Deref, DerefMut};
use std::time::Instant;

use parking_lot::{Condvar, Mutex, MutexGuard};

/// Who reads the socket now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Reader {
    /// Nobody: a thread that needs a frame reads it.
    #[default]
    Nobody,
    /// A thread is reading, the lock released; the others wait for what it files.
    Reading,
}

/// The shared state of a socket's waiters: who reads now, and the user's mailboxes `S`.
#[derive(Default)]
pub struct Room<S> {
    reader: Reader,
    state: S,
}

impl<S> Room<S> {
    /// Who reads the socket now.
    pub fn reader(&self) -> Reader {
        self.reader
    }

    /// Whether a thread is reading the socket now.
    pub fn is_reading(&self) -> bool {
        self.reader == Reader::Reading
    }
}

impl<S> Deref for Room<S> {
    type Target = S;
    fn deref(&self) -> &S {
        &self.state
    }
}

impl<S> DerefMut for Room<S> {
    fn deref_mut(&mut self) -> &mut S {
        &mut self.state
    }
}

/// A socket's waiters (see the module).
#[derive(Default)]
pub struct Mailroom<S> {
    room: Mutex<Room<S>>,
    filed: Condvar,
}

impl<S> Mailroom<S> {
    /// Waiters over `state`, nobody reading.
    pub fn new(state: S) -> Mailroom<S> {
        Mailroom {
            room: Mutex::new(Room {
                reader: Reader::Nobody,
                state,
            }),
            filed: Condvar::new(),
        }
    }

    /// Locks the shared state.
    pub fn lock(&self) -> MutexGuard<'_, Room<S>> {
        self.room.lock()
    }

    /// Reads with `recv` as the one reader: the lock is released while it runs (other threads
    /// see [`Reader::Reading`] and wait) and held again when it returns, for the caller to file
    /// what it read and then call [`filed`](Self::filed). The caller must have seen nobody
    /// reading.
    pub fn read<T>(&self, room: &mut MutexGuard<'_, Room<S>>, recv: impl FnOnce() -> T) -> T {
        debug_assert_eq!(room.reader, Reader::Nobody, "one reader at a time");
        room.reader = Reader::Reading;
        let got = MutexGuard::unlocked(room, recv);
        room.reader = Reader::Nobody;
        got
    }

    /// Wakes every waiter: something was filed, the reader let go, or the state changed.
    pub fn filed(&self) {
        self.filed.notify_all();
    }

    /// Sleeps until [`filed`](Self::filed) or `deadline`; true if the deadline passed.
    pub fn wait(&self, room: &mut MutexGuard<'_, Room<S>>, deadline: Option<Instant>) -> bool {
        match deadline {
            Some(d) => self.filed.wait_until(room, d).timed_out(),
            None => {
                self.filed.wait(room);
                false
            }
        }
    }
}
