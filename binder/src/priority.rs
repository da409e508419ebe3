//! Scheduling priority, as a call carries it from caller to callee.

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
    static OWN: std::cell::Cell<Option<Priority>> = const { std::cell::Cell::new(None) };
}

impl PriorityGuard {
    pub(crate) fn inherit(wanted: Priority) -> PriorityGuard {
        let own = match OWN.get() {
            Some(p) => p,
            None => match Priority::current() {
                Ok(p) => {
                    OWN.set(Some(p));
                    p
                }
                Err(_) => {
                    return PriorityGuard {
                        saved: None,
                        applied: false,
                    }
                }
            },
        };
        if own == wanted {
            return PriorityGuard {
                saved: None,
                applied: true,
            };
        }
        if !can_return_to(own) {
            // Taking the caller's (lower) priority would strand this thread there.
            return PriorityGuard {
                saved: None,
                applied: false,
            };
        }
        match wanted.apply() {
            Ok(()) => {
                OWN.set(Some(wanted));
                PriorityGuard {
                    saved: Some(own),
                    applied: true,
                }
            }
            Err(_) => PriorityGuard {
                saved: None,
                applied: false,
            },
        }
    }
}

impl Drop for PriorityGuard {
    fn drop(&mut self) {
        if let Some(own) = self.saved.take() {
            // Back to what the thread ran at before this call: its own priority, or an outer
            // call's when this one was nested in it.
            OWN.set(own.apply().ok().map(|()| own));
        }
    }
}

/// Whether this thread could go back to `own` after a change: raising priority again needs
/// `CAP_SYS_NICE` (root here) or a high enough `RLIMIT_NICE`.
fn can_return_to(own: Priority) -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    if own.policy.is_realtime() {
        return false;
    }
    let Ok((soft, _)) = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NICE)
    else {
        return false;
    };
    // RLIMIT_NICE allows nice values down to 20 - limit.
    i64::from(own.level) >= 20 - soft.min(40) as i64
}
