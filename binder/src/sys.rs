//! The binder runtime's raw system calls: reading and setting a thread's scheduling priority.
//!
//! `nix` has no wrapper for `sched_getscheduler`/`sched_setscheduler` or `getpriority`/
//! `setpriority` on a thread id, so these call libc directly.

#![allow(unsafe_code)]

use std::io;

use crate::priority::{Priority, SchedPolicy};

/// The calling thread's scheduling policy and priority.
pub fn current_priority() -> io::Result<Priority> {
    // SAFETY: sched_getscheduler(0) reads the calling thread's policy; no memory is involved.
    let policy = unsafe { libc::sched_getscheduler(0) };
    if policy < 0 {
        return Err(io::Error::last_os_error());
    }
    let policy = SchedPolicy::from_raw(policy & !libc::SCHED_RESET_ON_FORK);
    let level = if policy.is_realtime() {
        let mut param = libc::sched_param { sched_priority: 0 };
        // SAFETY: `param` is a valid, writable sched_param for the duration of the call.
        if unsafe { libc::sched_getparam(0, &mut param) } < 0 {
            return Err(io::Error::last_os_error());
        }
        param.sched_priority
    } else {
        // getpriority returns the nice value, so -1 is a valid result: errno tells failures.
        nix::errno::Errno::clear();
        // SAFETY: getpriority on PRIO_PROCESS with who = 0 reads the calling thread's nice value.
        let nice = unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
        if nice == -1 && nix::errno::Errno::last_raw() != 0 {
            return Err(io::Error::last_os_error());
        }
        nice
    };
    Ok(Priority { policy, level })
}

/// Sets the calling thread's scheduling policy and priority.
pub fn set_priority(p: Priority) -> io::Result<()> {
    let param = libc::sched_param {
        sched_priority: if p.policy.is_realtime() { p.level } else { 0 },
    };
    // SAFETY: `param` is a valid sched_param; pid 0 names the calling thread.
    if unsafe { libc::sched_setscheduler(0, p.policy.to_raw(), &param) } < 0 {
        return Err(io::Error::last_os_error());
    }
    if !p.policy.is_realtime() {
        // SAFETY: setpriority on PRIO_PROCESS with who = 0 sets the calling thread's nice value.
        if unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, p.level) } < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}
