//! A shared mapping with two futex doorbells, for the `raw-futex` floor.
//!
//! Layout (native byte order): word 0 is the request doorbell, word 1 the reply doorbell (each a
//! sequence number the writer bumps), word 2 the operation, word 3 the request length, word 4
//! the reply length; the message bytes start at [`DATA`]. Client and server take turns, so only
//! one side touches the data at a time. The peer is another copy of this bench, trusted: a
//! hostile peer could race the data copies, which a real transport must not allow.
//!
//! Raw `libc` calls: `nix` has no futex wrapper, and its `mman` feature is off in the workspace.

use std::fs::OpenOptions;
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use super::common::Result;
use super::MAX_MESSAGE;

/// Where the message bytes start: the control words get their own cache line.
const DATA: usize = 64;
/// Size of the mapping.
const MAP_BYTES: usize = DATA + MAX_MESSAGE;
/// How long a client waits for a reply before calling the server dead.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// The shared mapping.
pub struct SharedPage {
    base: *mut u8,
}

impl SharedPage {
    /// The request doorbell.
    pub const REQUEST: usize = 0;
    /// The reply doorbell.
    pub const REPLY: usize = 1;
    const OP: usize = 2;
    const REQUEST_LEN: usize = 3;
    const REPLY_LEN: usize = 4;

    /// Creates (zeroed) and maps the file at `path`.
    pub fn create(path: &Path) -> Result<SharedPage> {
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)?;
        f.set_len(MAP_BYTES as u64)?;
        Self::map(&f)
    }

    /// Maps the file another process created at `path`.
    pub fn open(path: &Path) -> Result<SharedPage> {
        let f = OpenOptions::new().read(true).write(true).open(path)?;
        if f.metadata()?.len() < MAP_BYTES as u64 {
            return Err("shared file too short".into());
        }
        Self::map(&f)
    }

    fn map(f: &std::fs::File) -> Result<SharedPage> {
        // SAFETY: a new shared mapping of MAP_BYTES of a file at least that long, at an
        // address the kernel picks; it aliases no Rust object and is unmapped only in Drop.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                MAP_BYTES,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                f.as_raw_fd(),
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error().into());
        }
        Ok(SharedPage { base: base.cast() })
    }

    fn word(&self, i: usize) -> &AtomicU32 {
        assert!(i < DATA / 4);
        // SAFETY: word `i` lies inside the live mapping (checked above), is 4-byte aligned
        // (the mapping is page aligned), and is only ever accessed atomically, by us and by
        // the peer.
        unsafe { AtomicU32::from_ptr(self.base.add(i * 4).cast()) }
    }

    fn write_data(&self, src: &[u8]) -> Result {
        if src.len() > MAX_MESSAGE {
            return Err("message larger than the shared page".into());
        }
        // SAFETY: DATA + src.len() <= MAP_BYTES (checked above); the peer does not touch the
        // data while it is our turn (see the module comment), and `src` is a separate buffer.
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), self.base.add(DATA), src.len()) };
        Ok(())
    }

    fn read_data(&self, len: usize, dst: &mut [u8]) -> Result<usize> {
        if len > MAX_MESSAGE || len > dst.len() {
            return Err("bad length in the shared page".into());
        }
        // SAFETY: DATA + len <= MAP_BYTES and len <= dst.len() (checked above); the peer does
        // not touch the data while it is our turn, and `dst` is a separate buffer.
        unsafe { std::ptr::copy_nonoverlapping(self.base.add(DATA), dst.as_mut_ptr(), len) };
        Ok(len)
    }

    /// Writes a request (operation and payload) into the page.
    pub fn put_request(&self, op: u32, payload: &[u8]) -> Result {
        self.write_data(payload)?;
        self.word(Self::OP).store(op, Ordering::Relaxed);
        self.word(Self::REQUEST_LEN)
            .store(payload.len() as u32, Ordering::Relaxed);
        Ok(())
    }

    /// Copies the request out: (operation, length).
    pub fn take_request(&self, dst: &mut [u8]) -> Result<(u32, usize)> {
        let len = self.word(Self::REQUEST_LEN).load(Ordering::Relaxed) as usize;
        Ok((
            self.word(Self::OP).load(Ordering::Relaxed),
            self.read_data(len, dst)?,
        ))
    }

    /// Writes the reply payload into the page.
    pub fn put_reply(&self, body: &[u8]) -> Result {
        self.write_data(body)?;
        self.word(Self::REPLY_LEN)
            .store(body.len() as u32, Ordering::Relaxed);
        Ok(())
    }

    /// Copies the reply out; returns its length.
    pub fn take_reply(&self, dst: &mut [u8]) -> Result<usize> {
        let len = self.word(Self::REPLY_LEN).load(Ordering::Relaxed) as usize;
        self.read_data(len, dst)
    }

    /// Publishes `seq` on doorbell `bell` and wakes the peer if it sleeps there.
    pub fn ring(&self, bell: usize, seq: u32) {
        let w = self.word(bell);
        w.store(seq, Ordering::Release);
        // SAFETY: FUTEX_WAKE only reads the address, which is a live aligned u32 in a shared
        // mapping; no pointer arguments besides it.
        unsafe { libc::syscall(libc::SYS_futex, w.as_ptr(), libc::FUTEX_WAKE, 1) };
    }

    /// Sleeps until doorbell `bell` shows `seq`. The request side (the server) waits for ever;
    /// the reply side gives up after [`REPLY_TIMEOUT`].
    pub fn wait_for(&self, bell: usize, seq: u32) -> Result {
        let w = self.word(bell);
        let started = Instant::now();
        let slice = libc::timespec {
            tv_sec: 1,
            tv_nsec: 0,
        };
        loop {
            let now = w.load(Ordering::Acquire);
            if now == seq {
                return Ok(());
            }
            if bell == Self::REPLY && started.elapsed() > REPLY_TIMEOUT {
                return Err("raw-futex server stopped answering".into());
            }
            // SAFETY: FUTEX_WAIT reads the live aligned u32 at the address and the live
            // timespec; it writes nothing.
            unsafe {
                libc::syscall(
                    libc::SYS_futex,
                    w.as_ptr(),
                    libc::FUTEX_WAIT,
                    now,
                    &slice as *const libc::timespec,
                )
            };
        }
    }
}

impl Drop for SharedPage {
    fn drop(&mut self) {
        // SAFETY: `base` is the live mapping of MAP_BYTES made in `map`; no reference into it
        // outlives the methods above.
        unsafe { libc::munmap(self.base.cast(), MAP_BYTES) };
    }
}
