//! The binder runtime's raw system calls and unchecked contracts: a thread's scheduling
//! attributes, and (with the `tokio` feature) a socket's registration with tokio's reactor.
//!
//! `sched_getattr`/`sched_setattr` read or set the policy, nice value and real-time priority in
//! one call each; neither libc nor nix wraps them.

#![allow(unsafe_code)]

use std::io;
use std::mem;

use crate::priority::{Priority, SchedPolicy};

fn attr_size() -> u32 {
    mem::size_of::<libc::sched_attr>() as u32
}

/// The calling thread's scheduling policy and priority.
pub fn current_priority() -> io::Result<Priority> {
    // SAFETY: sched_attr is a plain C struct for which all-zero is a valid value.
    let mut attr: libc::sched_attr = unsafe { mem::zeroed() };
    // SAFETY: `attr` is writable and `attr_size()` bytes long; pid 0 is the calling thread.
    let r = unsafe { libc::syscall(libc::SYS_sched_getattr, 0, &mut attr, attr_size(), 0) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    let policy = SchedPolicy::from_raw(attr.sched_policy as i32);
    let level = if policy.is_realtime() {
        attr.sched_priority as i32
    } else {
        attr.sched_nice
    };
    Ok(Priority { policy, level })
}

/// Sets the calling thread's scheduling policy and priority.
pub fn set_priority(p: Priority) -> io::Result<()> {
    // SAFETY: sched_attr is a plain C struct for which all-zero is a valid value.
    let mut attr: libc::sched_attr = unsafe { mem::zeroed() };
    attr.size = attr_size();
    attr.sched_policy = p.policy.to_raw() as u32;
    if p.policy.is_realtime() {
        attr.sched_priority = p.level as u32;
    } else {
        attr.sched_nice = p.level;
    }
    // SAFETY: `attr` is a valid sched_attr of the size it states; pid 0 is the calling thread.
    let r = unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &attr, 0) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Maps a sealed memfd read-only.
pub fn map_sealed(file: &std::fs::File) -> io::Result<memmap2::Mmap> {
    // SAFETY: the caller checked that `file` is a memfd sealed against writing, shrinking and
    // growing (F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW), so no process can change or truncate
    // the bytes behind the mapping while it lives: the slice it exposes stays valid and
    // unchanging.
    unsafe { memmap2::Mmap::map(file) }
}

/// Maps a memfd this process just made, and that nobody else holds yet, writable and with its
/// pages faulted in at once (`MAP_POPULATE`: one batch instead of a fault per page).
pub fn map_fresh_mut(file: &std::fs::File) -> io::Result<memmap2::MmapMut> {
    // SAFETY: the memfd is ours alone until the caller sends it, which it does only after the
    // mapping is dropped and the memfd sealed: nobody else can change or truncate it meanwhile.
    unsafe { memmap2::MmapOptions::new().populate().map_mut(file) }
}

/// Registers `fd` (which it owns from now on) with the current tokio runtime's reactor, for
/// readiness to read.
#[cfg(feature = "tokio")]
pub fn register_readable(
    fd: std::os::fd::OwnedFd,
) -> io::Result<tokio::io::unix::AsyncFd<crate::tokio::Registered>> {
    let owned = crate::tokio::Registered::from(fd);
    // SAFETY: `Registered` owns its fd, closes it only when dropped (after the AsyncFd that
    // owns it deregisters it), and always answers `as_raw_fd` with that same fd.
    unsafe {
        tokio::io::unix::AsyncFd::register_with_interest(owned, tokio::io::Interest::READABLE)
    }
    .map_err(io::Error::from)
}
