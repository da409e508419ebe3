//! Who sent a frame, as of now.
//!
//! The kernel names the sending process of each socket frame (`SCM_CREDENTIALS`), and a ring's
//! writer is the process that switched the channel to it (its mapping is not inherited across
//! `fork`). That pid is resolved into the process's current effective uid and gid through a
//! pidfd (`PIDFD_GET_INFO`, Linux 6.13), the notion of identity the bus master and kernel Binder
//! use: a root process that drops privileges is seen with its new uid from its next call on,
//! and a forked child as itself.
//!
//! Resolving never adds privilege. The process behind a pid can gain some after the frame was
//! stamped (it executes a setuid program, while another process goes on writing into a ring or
//! socket it handed over; or it exits and a root process takes its pid): so the current
//! identity is taken only if it equals the stamp, or if the stamp was root's (from root,
//! anything is a drop). Otherwise the stamp stands, which the kernel wrote when the frame was
//! sent. The pidfd is opened once per sending process and kept, so a call costs one `ioctl`.
//! On a kernel without `PIDFD_GET_INFO` the stamp stands (the real uid).

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
    /// and gid if that is no more than the stamp allows (see the module's doc); `sent` itself
    /// otherwise, or if the process has exited since or the kernel cannot say.
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
            Ok(now) if now.pid == sent.pid && no_gain(sent, now) => now,
            // Gone, gained privilege, or no pidfd or no PIDFD_GET_INFO here: the kernel's stamp.
            _ => sent,
        }
    }
}

/// True if `now` is no more privileged than `stamped`: the same ids, or a change from root's.
fn no_gain(stamped: Credentials, now: Credentials) -> bool {
    (stamped.uid, stamped.gid) == (now.uid, now.gid) || stamped.uid == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(uid: u32, gid: u32) -> Credentials {
        Credentials { pid: 7, uid, gid }
    }

    #[test]
    fn resolving_drops_privilege_but_never_adds_it() {
        assert!(no_gain(creds(1000, 1000), creds(1000, 1000)));
        assert!(no_gain(creds(0, 0), creds(65534, 65534)), "root dropping");
        assert!(
            !no_gain(creds(1000, 1000), creds(0, 0)),
            "a setuid-root exec"
        );
        assert!(!no_gain(creds(1000, 1000), creds(1000, 0)), "a setgid exec");
        assert!(!no_gain(creds(1000, 1000), creds(1001, 1000)));
    }

    #[test]
    fn this_process_resolves_to_itself() {
        let me = Credentials {
            pid: std::process::id() as i32,
            uid: nix::unistd::getuid().as_raw(),
            gid: nix::unistd::getgid().as_raw(),
        };
        assert_eq!(Identity::default().current(me).pid, me.pid);
    }
}
