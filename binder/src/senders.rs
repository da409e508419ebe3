//! One-way spam detection: the one-way backlog of each sending process across a runtime's
//! channels, and the rule that pauses every channel of a sender holding too much of it.

use std::collections::HashMap;
use std::sync::{Arc, Weak};

use parking_lot::Mutex;

use crate::conn::Conn;

/// Bytes of one-way calls one sending process (by the kernel's pid) may have read and not yet
/// run, across all its channels into a runtime. Past it the sender is a suspected spammer: every
/// channel it sends one-way calls on stops being read until its backlog halves (so it gets
/// [`WOULD_BLOCK`](crate::StatusCode::WOULD_BLOCK) once the socket buffers fill), and a warning
/// is logged once per episode. A quarter of Binder's 1 MiB buffer, where Binder flags a pid as
/// spamming one-way.
pub const MAX_ONEWAY_BYTES_PER_SENDER: usize = 256 * 1024;

/// One sending process's one-way backlog in a runtime.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SenderBacklog {
    /// The sender's pid, as the kernel attached it to its calls.
    pub pid: i32,
    /// Bytes of its one-way calls read and not yet run.
    pub bytes: usize,
    /// Whether its channels are paused for going past [`MAX_ONEWAY_BYTES_PER_SENDER`].
    pub refused: bool,
}

/// One-way bytes read and not yet run, per sending process, across a runtime's channels.
#[derive(Default)]
pub(crate) struct Senders {
    by_pid: Mutex<HashMap<i32, Sender>>,
}

#[derive(Default)]
struct Sender {
    bytes: usize,
    /// Over the limit, and not yet back under half of it.
    refused: bool,
    /// Channels paused for this sender, to resume when it is under half again.
    paused: Vec<Weak<Conn>>,
}

impl Senders {
    /// Counts `bytes` read from `pid` on `conn`; true if `conn` must pause for this sender.
    pub(crate) fn charge(&self, pid: i32, uid: u32, bytes: usize, conn: &Arc<Conn>) -> bool {
        let mut by_pid = self.by_pid.lock();
        let s = by_pid.entry(pid).or_default();
        s.bytes += bytes;
        if !s.refused && s.bytes < MAX_ONEWAY_BYTES_PER_SENDER {
            return false;
        }
        if !s.refused {
            s.refused = true;
            tracing::warn!(
                pid,
                uid,
                bytes = s.bytes,
                limit = MAX_ONEWAY_BYTES_PER_SENDER,
                "one-way spam suspected: the sender's channels are not read until its backlog halves"
            );
        }
        s.paused.retain(|c| c.strong_count() > 0);
        if !s.paused.iter().any(|c| c.as_ptr() == Arc::as_ptr(conn)) {
            s.paused.push(Arc::downgrade(conn));
        }
        true
    }

    /// Takes back `bytes` of `pid`'s once run; the channels to resume if it is under half again.
    pub(crate) fn refund(&self, pid: i32, bytes: usize) -> Vec<Arc<Conn>> {
        let mut by_pid = self.by_pid.lock();
        let Some(s) = by_pid.get_mut(&pid) else {
            return Vec::new();
        };
        s.bytes = s.bytes.saturating_sub(bytes);
        let mut resume = Vec::new();
        if s.refused && s.bytes < MAX_ONEWAY_BYTES_PER_SENDER / 2 {
            s.refused = false;
            tracing::info!(pid, bytes = s.bytes, "one-way sender back under its limit");
            resume = s.paused.drain(..).filter_map(|c| c.upgrade()).collect();
        }
        if s.bytes == 0 && !s.refused {
            by_pid.remove(&pid);
        }
        resume
    }

    /// True if `pid` is refused, and then keeps `conn` among the channels to resume with it.
    pub(crate) fn hold(&self, pid: i32, conn: &Arc<Conn>) -> bool {
        let mut by_pid = self.by_pid.lock();
        let Some(s) = by_pid.get_mut(&pid).filter(|s| s.refused) else {
            return false;
        };
        if !s.paused.iter().any(|c| c.as_ptr() == Arc::as_ptr(conn)) {
            s.paused.push(Arc::downgrade(conn));
        }
        true
    }

    /// Every sender with a backlog, by pid.
    pub(crate) fn backlogs(&self) -> Vec<SenderBacklog> {
        let mut out: Vec<SenderBacklog> = self
            .by_pid
            .lock()
            .iter()
            .map(|(&pid, s)| SenderBacklog {
                pid,
                bytes: s.bytes,
                refused: s.refused,
            })
            .collect();
        out.sort_by_key(|b| b.pid);
        out
    }
}
