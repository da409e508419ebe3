//! The daemon's one raw step: what a started service's process does between `fork` and `exec`.

#![allow(unsafe_code)]

use std::os::unix::process::CommandExt;
use std::process::Command;

use nix::sys::signal::SigSet;

/// Makes `cmd`'s process start with an empty signal mask, as one started by hand does. The
/// daemon blocks SIGTERM, SIGINT and SIGHUP in every thread (it reads them from a signalfd), a
/// child inherits its parent's mask across `exec`, and `std::process::Command` keeps it: a
/// service started so would ignore SIGTERM. (Handled signals go back to their defaults at
/// `exec`; the daemon ignores none.)
pub(crate) fn start_with_signals_unblocked(cmd: &mut Command) {
    // SAFETY: the closure runs in the child between fork and exec, where only async-signal-safe
    // calls are allowed: it makes one, pthread_sigmask, and allocates nothing.
    unsafe {
        cmd.pre_exec(|| {
            SigSet::empty()
                .thread_set_mask()
                .map_err(std::io::Error::from)
        });
    }
}
