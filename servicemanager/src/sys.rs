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

/// Takes fd `fd`, inherited from whoever started us (`--ready-fd`), as a file of our own (a
/// duplicate): a pipe, a file or a socket. Fails with `EBADF` if no such fd is open.
pub fn inherited_fd(fd: i32) -> std::io::Result<std::fs::File> {
    use std::os::fd::BorrowedFd;
    // SAFETY: F_GETFD on an int reads the fd's flags and touches no memory; it fails with EBADF
    // if no fd is open at that number.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the fd is open (checked above) and nothing in this process closes it while it is
    // borrowed: the borrow lasts only as long as the dup below.
    let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
    Ok(std::fs::File::from(borrowed.try_clone_to_owned()?))
}
