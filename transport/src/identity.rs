//! Who sent a frame, as of now.
//!
//! The kernel names the sending process of each socket frame (`SCM_CREDENTIALS`), and a ring's
//! writer is the process that switched the channel to it (its mapping is not inherited across
//! `fork`). That pid is resolved, frame by frame, into the process's current effective uid and
//! gid through a pidfd (`PIDFD_GET_INFO`, Linux 6.13), the notion of identity the bus master
//! and kernel Binder use: a process that drops privileges is seen with its new uid from its next
//! call on, and a forked child as itself. The pidfd is opened once per sending process and
//! kept, so a call costs one `ioctl`. On a kernel without `PIDFD_GET_INFO` the frame keeps what
//! the kernel stamped on it (the real uid).

use std::os::fd::{AsFd, OwnedFd};

use parking_lot::Mutex;

use crate::sys::{self, Credentials};

/// Resolves a sender's pid into its current credentials, caching the pidfd of the last sender.
#[derive(Debug, Default)]
pub(crate) struct Identity {
    last: Mutex<Option<(i32, OwnedFd)>>,
}

impl Identity {
    /// `sent` as of now: the pid the kernel stamped, with that process's current effective uid
    /// and gid; `sent` itself if the process has exited since (a one-way call's sender may) or
    /// the kernel cannot say.
    pub(crate) fn current(&self, sent: Credentials) -> Credentials {
        if sent.pid <= 0 {
            return sent;
        }
        let mut last = self.last.lock();
        let fresh = match last.as_ref() {
            Some((pid, fd)) if *pid == sent.pid => sys::pidfd_credentials(fd.as_fd()),
            _ => match sys::pidfd_open(sent.pid) {
                Ok(fd) => {
                    let got = sys::pidfd_credentials(fd.as_fd());
                    *last = Some((sent.pid, fd));
                    got
                }
                Err(e) => Err(e),
            },
        };
        match fresh {
            // A pidfd pins its process: the pid cannot be reused while we hold it.
            Ok(now) if now.pid == sent.pid => now,
            // Gone, or no pidfd or no PIDFD_GET_INFO here: the kernel's stamp is all there is.
            _ => sent,
        }
    }
}
