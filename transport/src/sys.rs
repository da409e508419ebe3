//! The transport's raw system calls: `sendmsg`/`recvmsg` with `SCM_RIGHTS` and `SCM_CREDENTIALS`.
//!
//! `nix` wraps both calls, but its `RecvMsg::cmsgs` refuses to walk the control messages once the
//! kernel set `MSG_CTRUNC`, and the descriptors that did arrive would then leak: a hostile sender
//! could exhaust our fd table with frames that carry too many fds. Here every received fd becomes
//! an `OwnedFd` before anything else looks at the message, so a refused frame closes them.

#![allow(unsafe_code)]

use std::io::{self, IoSlice, IoSliceMut};
use std::mem;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::ptr;

use crate::frame::MAX_FDS_PER_FRAME;

/// Kernel-verified identity of a process, as `SO_PEERCRED` or `SCM_CREDENTIALS` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Credentials {
    /// Process id.
    pub pid: i32,
    /// User id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
}

impl From<libc::ucred> for Credentials {
    fn from(c: libc::ucred) -> Self {
        Credentials {
            pid: c.pid,
            uid: c.uid,
            gid: c.gid,
        }
    }
}

/// Bytes of control-message space for `MAX_FDS_PER_FRAME` descriptors plus one `ucred`.
const CMSG_BUF_LEN: usize = cmsg_space(MAX_FDS_PER_FRAME * mem::size_of::<RawFd>())
    + cmsg_space(mem::size_of::<libc::ucred>());

const fn cmsg_space(len: usize) -> usize {
    // CMSG_SPACE: header and data, each rounded up to the alignment of `size_t`.
    const ALIGN: usize = mem::size_of::<usize>();
    let hdr = (mem::size_of::<libc::cmsghdr>() + ALIGN - 1) & !(ALIGN - 1);
    hdr + ((len + ALIGN - 1) & !(ALIGN - 1))
}

/// A control-message buffer aligned as `cmsghdr` requires.
#[repr(C, align(8))]
struct CmsgBuf([u8; CMSG_BUF_LEN]);

/// What one `recvmsg` delivered.
pub struct Received {
    /// Bytes of data copied into the caller's buffer.
    pub len: usize,
    /// The datagram's real length (larger than `len` when `data_truncated`).
    pub full_len: usize,
    /// The datagram did not fit the buffer; the kernel discarded the rest.
    pub data_truncated: bool,
    /// Some control data did not fit (`MSG_CTRUNC`): fds were lost in the kernel.
    pub ctrl_truncated: bool,
    /// Descriptors that arrived, already owned (and close-on-exec).
    pub fds: Vec<OwnedFd>,
    /// The sender's credentials, when the socket has `SO_PASSCRED`.
    pub creds: Option<Credentials>,
}

/// Sends one datagram made of `iov`, with `fds` and optionally explicit `creds`.
///
/// `MSG_NOSIGNAL` is always set: a hung-up peer is `EPIPE`, never `SIGPIPE`.
pub fn send_msg(
    sock: BorrowedFd<'_>,
    iov: &[IoSlice<'_>],
    fds: &[BorrowedFd<'_>],
    creds: Option<Credentials>,
    nonblocking: bool,
) -> io::Result<usize> {
    debug_assert!(fds.len() <= MAX_FDS_PER_FRAME);
    let mut flags = libc::MSG_NOSIGNAL;
    if nonblocking {
        flags |= libc::MSG_DONTWAIT;
    }
    if fds.is_empty() && creds.is_none() {
        return send_plain(sock, iov, flags);
    }
    let mut buf = CmsgBuf([0; CMSG_BUF_LEN]);
    // SAFETY: msghdr is a plain C struct for which all-zero is a valid (empty) value.
    let mut msg: libc::msghdr = unsafe { mem::zeroed() };
    msg.msg_iov = iov.as_ptr() as *mut libc::iovec;
    msg.msg_iovlen = iov.len();
    let mut ctrl_len = 0;
    if !fds.is_empty() {
        ctrl_len += cmsg_space(mem::size_of_val(fds));
    }
    if creds.is_some() {
        ctrl_len += cmsg_space(mem::size_of::<libc::ucred>());
    }
    msg.msg_control = buf.0.as_mut_ptr().cast();
    msg.msg_controllen = ctrl_len;
    // SAFETY: msg_control points at `buf`, aligned for cmsghdr and at least `ctrl_len` bytes
    // long (CMSG_BUF_LEN covers the maximum fds plus one ucred); CMSG_FIRSTHDR/NXTHDR stay
    // within msg_controllen, and each data write is sized by the CMSG_LEN we just set.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        if !fds.is_empty() {
            let bytes = mem::size_of_val(fds);
            (*cmsg).cmsg_level = libc::SOL_SOCKET;
            (*cmsg).cmsg_type = libc::SCM_RIGHTS;
            (*cmsg).cmsg_len = libc::CMSG_LEN(bytes as u32) as usize;
            let data = libc::CMSG_DATA(cmsg).cast::<RawFd>();
            for (i, fd) in fds.iter().enumerate() {
                ptr::write_unaligned(data.add(i), fd.as_raw_fd());
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
        if let Some(c) = creds {
            let uc = libc::ucred {
                pid: c.pid,
                uid: c.uid,
                gid: c.gid,
            };
            (*cmsg).cmsg_level = libc::SOL_SOCKET;
            (*cmsg).cmsg_type = libc::SCM_CREDENTIALS;
            (*cmsg).cmsg_len = libc::CMSG_LEN(mem::size_of::<libc::ucred>() as u32) as usize;
            ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::ucred>(), uc);
        }
    }
    retry_interrupted(|| {
        // SAFETY: `msg` describes live buffers (iov slices, control buffer) for the duration of
        // the call; `sock` is an open descriptor.
        unsafe { libc::sendmsg(sock.as_raw_fd(), &msg, flags) }
    })
}

/// Runs a system call again while a signal interrupts it (`EINTR`): a handler installed without
/// `SA_RESTART` anywhere in the process must not fail a send or a receive.
fn retry_interrupted(mut call: impl FnMut() -> isize) -> io::Result<usize> {
    loop {
        let n = call();
        if n >= 0 {
            return Ok(n as usize);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Frames up to this size with no control data are gathered into one stack buffer and sent with
/// `send(2)`: copying a few hundred bytes costs less than `sendmsg`'s import of a `msghdr` and an
/// iovec array from user memory.
const GATHER_MAX: usize = 1024;

/// Sends a datagram without control data.
fn send_plain(sock: BorrowedFd<'_>, iov: &[IoSlice<'_>], flags: libc::c_int) -> io::Result<usize> {
    let total: usize = iov.iter().map(|s| s.len()).sum();
    if total <= GATHER_MAX {
        let mut buf = [0u8; GATHER_MAX];
        let mut at = 0;
        for s in iov {
            buf[at..at + s.len()].copy_from_slice(s);
            at += s.len();
        }
        retry_interrupted(|| {
            // SAFETY: `buf[..total]` is initialized and lives across the call; `sock` is open.
            unsafe { libc::send(sock.as_raw_fd(), buf.as_ptr().cast(), total, flags) }
        })
    } else {
        // SAFETY: msghdr is a plain C struct for which all-zero is a valid (empty) value.
        let mut msg: libc::msghdr = unsafe { mem::zeroed() };
        msg.msg_iov = iov.as_ptr() as *mut libc::iovec;
        msg.msg_iovlen = iov.len();
        retry_interrupted(|| {
            // SAFETY: `msg` points at the caller's live iov slices (IoSlice is ABI-compatible
            // with iovec) and carries no control data.
            unsafe { libc::sendmsg(sock.as_raw_fd(), &msg, flags) }
        })
    }
}

/// Receives one datagram into `iov`, taking ownership of every descriptor that came with it.
pub fn recv_msg(
    sock: BorrowedFd<'_>,
    iov: &mut [IoSliceMut<'_>],
    nonblocking: bool,
) -> io::Result<Received> {
    // Left uninitialized: the kernel writes msg_controllen bytes and we read no further.
    let mut buf = mem::MaybeUninit::<CmsgBuf>::uninit();
    // SAFETY: msghdr is a plain C struct for which all-zero is a valid (empty) value.
    let mut msg: libc::msghdr = unsafe { mem::zeroed() };
    msg.msg_iov = iov.as_mut_ptr().cast();
    msg.msg_iovlen = iov.len();
    msg.msg_control = buf.as_mut_ptr().cast();
    msg.msg_controllen = CMSG_BUF_LEN;
    // MSG_TRUNC makes the kernel return the datagram's real length even when it did not fit.
    let mut flags = libc::MSG_CMSG_CLOEXEC | libc::MSG_TRUNC;
    if nonblocking {
        flags |= libc::MSG_DONTWAIT;
    }
    let full_len = retry_interrupted(|| {
        // An interrupted call received nothing; start each attempt from the same state.
        msg.msg_controllen = CMSG_BUF_LEN;
        msg.msg_flags = 0;
        // SAFETY: `msg` points at live, writable buffers of the stated lengths for the whole
        // call.
        unsafe { libc::recvmsg(sock.as_raw_fd(), &mut msg, flags) }
    })?;
    let capacity: usize = iov.iter().map(|s| s.len()).sum();
    let mut out = Received {
        len: full_len.min(capacity),
        full_len,
        data_truncated: msg.msg_flags & libc::MSG_TRUNC != 0,
        ctrl_truncated: msg.msg_flags & libc::MSG_CTRUNC != 0,
        fds: Vec::new(),
        creds: None,
    };
    // SAFETY: the kernel filled `buf` with msg_controllen bytes of well-formed cmsghdrs (also when
    // it truncated: it only writes whole headers); CMSG_FIRSTHDR/NXTHDR bound the walk by
    // msg_controllen, and each payload is read unaligned within its cmsg_len. Every fd in an
    // SCM_RIGHTS payload was just installed in our table for us, so we are its only owner.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            let data = libc::CMSG_DATA(cmsg);
            let data_len = (*cmsg).cmsg_len - (data as usize - cmsg as usize);
            match ((*cmsg).cmsg_level, (*cmsg).cmsg_type) {
                (libc::SOL_SOCKET, libc::SCM_RIGHTS) => {
                    let count = data_len / mem::size_of::<RawFd>();
                    for i in 0..count {
                        let fd = ptr::read_unaligned(data.cast::<RawFd>().add(i));
                        out.fds.push(OwnedFd::from_raw_fd(fd));
                    }
                }
                (libc::SOL_SOCKET, libc::SCM_CREDENTIALS)
                    if data_len >= mem::size_of::<libc::ucred>() =>
                {
                    let uc = ptr::read_unaligned(data.cast::<libc::ucred>());
                    out.creds = Some(uc.into());
                }
                _ => {}
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    Ok(out)
}

/// Sleeps while `*word == expected`, at most `timeout`; returns on a wake, a timeout, a signal
/// or a changed word alike (the caller re-checks what it waits for).
///
/// Not `FUTEX_PRIVATE_FLAG`: the word lives in memory shared with another process.
pub fn futex_wait(
    word: &std::sync::atomic::AtomicU32,
    expected: u32,
    timeout: std::time::Duration,
) {
    let ts = libc::timespec {
        tv_sec: timeout.as_secs().min(i64::MAX as u64) as libc::time_t,
        tv_nsec: libc::c_long::from(timeout.subsec_nanos() as i32),
    };
    // SAFETY: `word` is a live, aligned u32 for the duration of the call and `ts` a valid
    // relative timeout; FUTEX_WAIT only reads them.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT,
            expected,
            &ts as *const libc::timespec,
        );
    }
}

/// Wakes every thread, in any process, sleeping in [`futex_wait`] on `word`.
pub fn futex_wake(word: &std::sync::atomic::AtomicU32) {
    // SAFETY: `word` is a live, aligned u32; FUTEX_WAKE does not access the memory beyond its
    // address, which keys the wait queue.
    unsafe {
        libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE, i32::MAX);
    }
}

/// The CPU this thread runs on now (a vDSO call), or `u32::MAX` if unknown.
pub fn current_cpu() -> u32 {
    // SAFETY: sched_getcpu takes no arguments and touches no memory of ours.
    let cpu = unsafe { libc::sched_getcpu() };
    u32::try_from(cpu).unwrap_or(u32::MAX)
}

/// CPUs online in the machine (not only those this thread may run on), at least 1.
pub fn online_cpus() -> usize {
    // SAFETY: sysconf reads a system value and touches no memory of ours.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    usize::try_from(n).unwrap_or(1).max(1)
}

/// `struct pidfd_info` as Linux 6.13 introduced it (`PIDFD_INFO_SIZE_VER0`, 64 bytes); later
/// kernels accept this size and fill what it covers.
#[repr(C)]
#[derive(Default)]
struct PidfdInfo {
    mask: u64,
    cgroupid: u64,
    pid: u32,
    tgid: u32,
    ppid: u32,
    ruid: u32,
    rgid: u32,
    euid: u32,
    egid: u32,
    suid: u32,
    sgid: u32,
    fsuid: u32,
    fsgid: u32,
    spare0: u32,
}

/// `PIDFD_INFO_CREDS`: the task's credentials.
const PIDFD_INFO_CREDS: u64 = 1 << 1;
/// `PIDFD_GET_INFO`: `_IOWR(PIDFS_IOCTL_MAGIC (0xFF), 11, struct pidfd_info)`.
const PIDFD_GET_INFO: libc::c_ulong =
    (3 << 30) | ((mem::size_of::<PidfdInfo>() as libc::c_ulong) << 16) | (0xFF << 8) | 11;

/// Opens a pidfd for process `pid` (`pidfd_open(2)`; nix has no wrapper).
pub(crate) fn pidfd_open(pid: i32) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and a flags word and returns a new fd or -1; no memory is
    // passed.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this fd to us and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// The process behind `pidfd` as of now: its pid (in our namespace) and its effective uid and
/// gid (`ioctl(PIDFD_GET_INFO)`, Linux 6.13; nix has no wrapper). Fails with `ESRCH` once the
/// process has exited.
pub(crate) fn pidfd_credentials(pidfd: BorrowedFd<'_>) -> io::Result<Credentials> {
    let mut info = PidfdInfo {
        mask: PIDFD_INFO_CREDS,
        ..PidfdInfo::default()
    };
    // SAFETY: `info` is a live, writable `struct pidfd_info` of the size the request number
    // encodes; the kernel writes at most that many bytes into it.
    let rc = unsafe {
        libc::ioctl(
            pidfd.as_raw_fd(),
            PIDFD_GET_INFO,
            &mut info as *mut PidfdInfo,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    if info.mask & PIDFD_INFO_CREDS == 0 {
        return Err(io::Error::other("PIDFD_GET_INFO returned no credentials"));
    }
    Ok(Credentials {
        pid: info.tgid as i32,
        uid: info.euid,
        gid: info.egid,
    })
}

/// Forks this process has gone through, as seen from inside it: 0 in the process that first
/// asked, one more in each child forked since.
static FORKS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

extern "C" fn count_fork_in_child() {
    FORKS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

/// How many forks separate this process from the one that first called this: a value taken
/// before a `fork` differs from the child's. (`pthread_atfork`, which nix does not wrap.)
pub fn fork_generation() -> u64 {
    static REGISTER: std::sync::Once = std::sync::Once::new();
    REGISTER.call_once(|| {
        // SAFETY: the handler is a plain `extern "C"` function that only touches an atomic,
        // which is async-signal-safe as a child's atfork handler must be.
        unsafe { libc::pthread_atfork(None, None, Some(count_fork_in_child)) };
    });
    FORKS.load(std::sync::atomic::Ordering::Relaxed)
}

/// `SO_COOKIE`: a socket's 64-bit cookie, unique for the life of the system (never reused, unlike
/// an inode number). nix has no wrapper.
const SO_COOKIE: libc::c_int = 57;

/// The kernel's never-reused name for the socket behind `sock`.
pub fn socket_cookie(sock: BorrowedFd<'_>) -> io::Result<u64> {
    let mut cookie: u64 = 0;
    let mut len = mem::size_of::<u64>() as libc::socklen_t;
    // SAFETY: `cookie` is a writable u64 and `len` says so; the kernel writes at most `len` bytes
    // and updates `len`.
    let rc = unsafe {
        libc::getsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            SO_COOKIE,
            (&mut cookie as *mut u64).cast(),
            &mut len,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(cookie)
}
