//! Scheduling priority, as a call carries it from caller to callee.

use std::cell::Cell;
use std::io;

use crate::sys;

/// A Linux scheduling policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SchedPolicy {
    /// `SCHED_OTHER`: time sharing, ordered by nice value.
    Other,
    /// `SCHED_BATCH`.
    Batch,
    /// `SCHED_IDLE`.
    Idle,
    /// `SCHED_FIFO`: real time.
    Fifo,
    /// `SCHED_RR`: real time, round robin.
    RoundRobin,
}

impl SchedPolicy {
    pub(crate) fn from_raw(v: i32) -> SchedPolicy {
        match v {
            libc::SCHED_FIFO => SchedPolicy::Fifo,
            libc::SCHED_RR => SchedPolicy::RoundRobin,
            libc::SCHED_BATCH => SchedPolicy::Batch,
            libc::SCHED_IDLE => SchedPolicy::Idle,
            _ => SchedPolicy::Other,
        }
    }

    pub(crate) fn to_raw(self) -> i32 {
        match self {
            SchedPolicy::Other => libc::SCHED_OTHER,
            SchedPolicy::Batch => libc::SCHED_BATCH,
            SchedPolicy::Idle => libc::SCHED_IDLE,
            SchedPolicy::Fifo => libc::SCHED_FIFO,
            SchedPolicy::RoundRobin => libc::SCHED_RR,
        }
    }

    /// True for the real-time policies.
    pub fn is_realtime(self) -> bool {
        matches!(self, SchedPolicy::Fifo | SchedPolicy::RoundRobin)
    }
}

/// A thread's policy and its level in it: the nice value (-20..=19) for the time-sharing
/// policies, the real-time priority (1..=99) for `Fifo` and `RoundRobin`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Priority {
    /// The policy.
    pub policy: SchedPolicy,
    /// Nice value or real-time priority.
    pub level: i32,
}

impl Priority {
    /// The default: `SCHED_OTHER` at nice 0.
    pub const DEFAULT: Priority = Priority {
        policy: SchedPolicy::Other,
        level: 0,
    };

    /// True if running at this priority is above the default: a real-time policy, or a nice
    /// value below zero.
    pub fn raises(self) -> bool {
        self.policy.is_realtime() || self.level < 0
    }

    /// The calling thread's priority.
    pub fn current() -> io::Result<Priority> {
        sys::current_priority()
    }

    /// Gives the calling thread this priority.
    pub fn apply(self) -> io::Result<()> {
        sys::set_priority(self)
    }

    pub(crate) fn encode(self) -> (u8, i32) {
        (self.policy.to_raw() as u8, self.level)
    }

    pub(crate) fn decode(policy: u8, level: i32) -> Option<Priority> {
        let policy = match i32::from(policy) {
            libc::SCHED_OTHER => SchedPolicy::Other,
            libc::SCHED_BATCH => SchedPolicy::Batch,
            libc::SCHED_IDLE => SchedPolicy::Idle,
            libc::SCHED_FIFO => SchedPolicy::Fifo,
            libc::SCHED_RR => SchedPolicy::RoundRobin,
            _ => return None,
        };
        let range = if policy.is_realtime() {
            1..=99
        } else {
            -20..=19
        };
        range.contains(&level).then_some(Priority { policy, level })
    }
}

/// Runs the calling thread at `wanted` until dropped, then restores what it had.
pub(crate) struct PriorityGuard {
    saved: Option<Priority>,
    /// Whether the thread now runs at the wanted priority.
    pub applied: bool,
}

thread_local! {
    /// The priority this thread runs at now, as far as the runtime knows: read once, then kept
    /// up to date by the guards (nested calls included), so that a call at the thread's current
    /// priority costs no system call. A handler that changes its own thread's priority must
    /// restore it.
    static OWN: Cell<Option<Priority>> = const { Cell::new(None) };
    /// For a looper waiting at a priority ceiling (see [`take_ceiling`]): the priority it had
    /// before, which is what it runs a call at whose caller may not raise it.
    static BASE: Cell<Option<Priority>> = const { Cell::new(None) };
}

/// The calling thread's priority, from [`OWN`] if known.
fn own() -> io::Result<Priority> {
    if let Some(p) = OWN.get() {
        return Ok(p);
    }
    let p = Priority::current()?;
    OWN.set(Some(p));
    Ok(p)
}

/// Makes the calling looper thread wait for calls at `ceiling` (see
/// [`RuntimeConfig::priority_ceiling`](crate::RuntimeConfig::priority_ceiling)), so that a
/// caller at that priority finds it running at its priority from the moment it is woken. Only
/// what the kernel lets this thread do itself, and only if it can come back down and up again
/// for callers at other priorities.
pub(crate) fn take_ceiling(ceiling: Priority) -> io::Result<()> {
    let base = own()?;
    if base == ceiling {
        return Ok(());
    }
    if !can_return_to(ceiling) {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "this process could not come back to the ceiling after a call at another priority \
             (it needs CAP_SYS_NICE, or RLIMIT_RTPRIO / RLIMIT_NICE high enough)",
        ));
    }
    ceiling.apply()?;
    OWN.set(Some(ceiling));
    BASE.set(Some(base));
    Ok(())
}

/// Puts a looper that [took a ceiling](take_ceiling) back at the priority it had before.
pub(crate) fn leave_ceiling() {
    if let Some(base) = BASE.take() {
        OWN.set(base.apply().ok().map(|()| base));
    }
}

impl PriorityGuard {
    /// Runs a call at its caller's claimed priority. A claim above the default counts only if
    /// `may_raise` says the caller could act as this process anyway; otherwise the call runs
    /// at the thread's own priority (below its ceiling, if it waits at one).
    pub(crate) fn for_call(claim: Priority, may_raise: impl FnOnce() -> bool) -> PriorityGuard {
        if !claim.raises() || may_raise() {
            return PriorityGuard::inherit(claim);
        }
        match BASE.get() {
            Some(base) => {
                let mut guard = PriorityGuard::inherit(base);
                guard.applied = false;
                guard
            }
            None => PriorityGuard {
                saved: None,
                applied: false,
            },
        }
    }

    pub(crate) fn inherit(wanted: Priority) -> PriorityGuard {
        let not_applied = PriorityGuard {
            saved: None,
            applied: false,
        };
        let Ok(own) = own() else {
            return not_applied;
        };
        if own == wanted {
            return PriorityGuard {
                saved: None,
                applied: true,
            };
        }
        if !can_return_to(own) {
            // Taking the caller's (lower) priority would strand this thread there.
            return not_applied;
        }
        match wanted.apply() {
            Ok(()) => {
                OWN.set(Some(wanted));
                PriorityGuard {
                    saved: Some(own),
                    applied: true,
                }
            }
            Err(_) => not_applied,
        }
    }
}

impl Drop for PriorityGuard {
    fn drop(&mut self) {
        if let Some(own) = self.saved.take() {
            // Back to what the thread ran at before this call: its own priority (its ceiling,
            // for a looper waiting at one), or an outer call's when this one was nested in it.
            OWN.set(own.apply().ok().map(|()| own));
        }
    }
}

/// Whether this thread could go back to `own` after a change: raising priority again needs
/// `CAP_SYS_NICE` (root here), or `RLIMIT_RTPRIO` at least the real-time priority, or
/// `RLIMIT_NICE` high enough for the nice value.
fn can_return_to(own: Priority) -> bool {
    use nix::sys::resource::{getrlimit, Resource};
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    if own.policy.is_realtime() {
        return getrlimit(Resource::RLIMIT_RTPRIO)
            .is_ok_and(|(soft, _)| soft >= u64::try_from(own.level).unwrap_or(u64::MAX));
    }
    let Ok((soft, _)) = getrlimit(Resource::RLIMIT_NICE) else {
        return false;
    };
    // RLIMIT_NICE allows nice values down to 20 - limit.
    i64::from(own.level) >= 20 - soft.min(40) as i64
}
