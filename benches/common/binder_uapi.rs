//! The kernel Binder driver's user-space interface (`include/uapi/linux/android/binder.h`), just
//! enough to make synchronous calls without libbinder: open a device, map its receive buffer,
//! become the context manager, and exchange `BC_*` / `BR_*` commands with `BINDER_WRITE_READ`.
//!
//! Commands are (de)serialised field by field in native byte order, so the only unsafe code is
//! the system calls (`ioctl`, `mmap`, `munmap`) and the copy out of the mapped receive buffer.
//! Raw `libc` calls are used because the workspace's `nix` has neither its `ioctl` nor its
//! `mman` feature enabled, and enabling them would rebuild every crate above `nix`.
//! Layouts assume a 64-bit kernel ABI (`binder_size_t` and `binder_uintptr_t` are 64 bits).
#![allow(dead_code)]

use std::fs::OpenOptions;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

/// `BINDER_CURRENT_PROTOCOL_VERSION` for a 64-bit ABI.
pub const PROTOCOL_VERSION: i32 = 8;

/// Receive buffer mapped per process: libbinder maps 1 MiB minus two pages; the driver allows
/// up to 4 MiB. 1 MiB holds the largest echo (64 KiB) many times over.
pub const MAP_BYTES: usize = 1024 * 1024;

/// Size of `struct binder_transaction_data`.
pub const TXN_BYTES: usize = 64;
/// Size of `struct flat_binder_object`.
pub const FLAT_OBJECT_BYTES: usize = 24;
/// Size of `struct binder_ptr_cookie`.
const PTR_COOKIE_BYTES: usize = 16;

const IOC_WRITE: u32 = 1;
const IOC_READ: u32 = 2;

/// Linux's `_IOC(dir, type, nr, size)`.
const fn ioc(dir: u32, ty: u8, nr: u32, size: usize) -> u32 {
    (dir << 30) | ((size as u32) << 16) | ((ty as u32) << 8) | nr
}
const fn iow(ty: u8, nr: u32, size: usize) -> u32 {
    ioc(IOC_WRITE, ty, nr, size)
}
const fn ior(ty: u8, nr: u32, size: usize) -> u32 {
    ioc(IOC_READ, ty, nr, size)
}
const fn io(ty: u8, nr: u32) -> u32 {
    ioc(0, ty, nr, 0)
}

/// `struct binder_write_read`: what `BINDER_WRITE_READ` takes.
#[repr(C)]
#[derive(Default)]
struct WriteRead {
    write_size: u64,
    write_consumed: u64,
    write_buffer: u64,
    read_size: u64,
    read_consumed: u64,
    read_buffer: u64,
}

const BINDER_WRITE_READ: u32 = ioc(
    IOC_READ | IOC_WRITE,
    b'b',
    1,
    std::mem::size_of::<WriteRead>(),
);
const BINDER_SET_MAX_THREADS: u32 = iow(b'b', 5, 4);
const BINDER_SET_CONTEXT_MGR: u32 = iow(b'b', 7, 4);
const BINDER_VERSION: u32 = ioc(IOC_READ | IOC_WRITE, b'b', 9, 4);

/// Commands to the driver (`enum binder_driver_command_protocol`).
pub const BC_TRANSACTION: u32 = iow(b'c', 0, TXN_BYTES);
/// Answers the transaction this thread is serving.
pub const BC_REPLY: u32 = iow(b'c', 1, TXN_BYTES);
/// Gives a received buffer back to the driver.
pub const BC_FREE_BUFFER: u32 = iow(b'c', 3, 8);
/// Acknowledges `BR_INCREFS`.
pub const BC_INCREFS_DONE: u32 = iow(b'c', 8, PTR_COOKIE_BYTES);
/// Acknowledges `BR_ACQUIRE`.
pub const BC_ACQUIRE_DONE: u32 = iow(b'c', 9, PTR_COOKIE_BYTES);
/// This thread takes work addressed to the process (a server's looper).
pub const BC_ENTER_LOOPER: u32 = io(b'c', 12);

/// Returns from the driver (`enum binder_driver_return_protocol`).
pub const BR_ERROR: u32 = ior(b'r', 0, 4);
/// An incoming call.
pub const BR_TRANSACTION: u32 = ior(b'r', 2, TXN_BYTES);
/// The reply to this thread's call.
pub const BR_REPLY: u32 = ior(b'r', 3, TXN_BYTES);
/// The target died.
pub const BR_DEAD_REPLY: u32 = io(b'r', 5);
/// The driver took this thread's transaction or reply.
pub const BR_TRANSACTION_COMPLETE: u32 = io(b'r', 6);
/// Reference-count requests for one of this process's nodes.
pub const BR_INCREFS: u32 = ior(b'r', 7, PTR_COOKIE_BYTES);
/// See [`BR_INCREFS`].
pub const BR_ACQUIRE: u32 = ior(b'r', 8, PTR_COOKIE_BYTES);
/// See [`BR_INCREFS`].
pub const BR_RELEASE: u32 = ior(b'r', 9, PTR_COOKIE_BYTES);
/// See [`BR_INCREFS`].
pub const BR_DECREFS: u32 = ior(b'r', 10, PTR_COOKIE_BYTES);
/// Nothing; the driver starts every read with it.
pub const BR_NOOP: u32 = io(b'r', 12);
/// The driver asks for another looper thread.
pub const BR_SPAWN_LOOPER: u32 = io(b'r', 13);
/// The call failed in the driver.
pub const BR_FAILED_REPLY: u32 = io(b'r', 17);
/// The target process is frozen.
pub const BR_FROZEN_REPLY: u32 = io(b'r', 18);

/// `B_PACK_CHARS(c1, c2, c3, c4)`.
const fn pack(c: [u8; 4]) -> u32 {
    u32::from_be_bytes(c)
}
/// A local object (`BINDER_TYPE_BINDER`).
pub const TYPE_BINDER: u32 = pack([b's', b'b', b'*', 0x85]);
/// A reference to another process's object (`BINDER_TYPE_HANDLE`).
pub const TYPE_HANDLE: u32 = pack([b's', b'h', b'*', 0x85]);
/// `FLAT_BINDER_FLAG_ACCEPTS_FDS`.
pub const FLAG_ACCEPTS_FDS: u32 = 0x100;
/// Transaction flag `TF_STATUS_CODE`: the reply is a 32-bit status, not data.
pub const TF_STATUS_CODE: u32 = 0x08;
/// Transaction flag `TF_ACCEPT_FDS`.
pub const TF_ACCEPT_FDS: u32 = 0x10;
/// `IBinder::PING_TRANSACTION`, `B_PACK_CHARS('_','P','N','G')`.
pub const PING_TRANSACTION: u32 = pack([b'_', b'P', b'N', b'G']);

/// `struct binder_transaction_data`, as plain fields.
#[derive(Clone, Copy, Debug, Default)]
pub struct Txn {
    /// `target.handle` (sending) or `target.ptr` (received).
    pub target: u64,
    /// The target object's cookie.
    pub cookie: u64,
    /// The transaction code.
    pub code: u32,
    /// `TF_*` flags.
    pub flags: u32,
    /// Filled in by the driver.
    pub sender_pid: i32,
    /// Filled in by the driver.
    pub sender_euid: u32,
    /// Bytes of data at `buffer`.
    pub data_size: u64,
    /// Bytes of object offsets at `offsets`.
    pub offsets_size: u64,
    /// Address of the data.
    pub buffer: u64,
    /// Address of the offsets (one `u64` per object in the data).
    pub offsets: u64,
}

impl Txn {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.target.to_ne_bytes());
        out.extend_from_slice(&self.cookie.to_ne_bytes());
        out.extend_from_slice(&self.code.to_ne_bytes());
        out.extend_from_slice(&self.flags.to_ne_bytes());
        out.extend_from_slice(&self.sender_pid.to_ne_bytes());
        out.extend_from_slice(&self.sender_euid.to_ne_bytes());
        out.extend_from_slice(&self.data_size.to_ne_bytes());
        out.extend_from_slice(&self.offsets_size.to_ne_bytes());
        out.extend_from_slice(&self.buffer.to_ne_bytes());
        out.extend_from_slice(&self.offsets.to_ne_bytes());
    }

    fn decode(b: &[u8; TXN_BYTES]) -> Txn {
        let u64_at = |i: usize| u64::from_ne_bytes(b[i..i + 8].try_into().expect("8 bytes"));
        let u32_at = |i: usize| u32::from_ne_bytes(b[i..i + 4].try_into().expect("4 bytes"));
        Txn {
            target: u64_at(0),
            cookie: u64_at(8),
            code: u32_at(16),
            flags: u32_at(20),
            sender_pid: u32_at(24) as i32,
            sender_euid: u32_at(28),
            data_size: u64_at(32),
            offsets_size: u64_at(40),
            buffer: u64_at(48),
            offsets: u64_at(56),
        }
    }
}

/// Encodes a `struct flat_binder_object`.
pub fn flat_object(kind: u32, flags: u32, binder_or_handle: u64, cookie: u64) -> [u8; 24] {
    let mut b = [0u8; FLAT_OBJECT_BYTES];
    b[0..4].copy_from_slice(&kind.to_ne_bytes());
    b[4..8].copy_from_slice(&flags.to_ne_bytes());
    b[8..16].copy_from_slice(&binder_or_handle.to_ne_bytes());
    b[16..24].copy_from_slice(&cookie.to_ne_bytes());
    b
}

/// A queue of commands for the next `BINDER_WRITE_READ`.
#[derive(Default)]
pub struct Commands(Vec<u8>);

impl Commands {
    /// Appends a command with no argument.
    pub fn plain(&mut self, cmd: u32) {
        self.0.extend_from_slice(&cmd.to_ne_bytes());
    }
    /// Appends `BC_TRANSACTION` or `BC_REPLY`.
    pub fn txn(&mut self, cmd: u32, t: &Txn) {
        self.plain(cmd);
        t.encode(&mut self.0);
    }
    /// Appends `BC_FREE_BUFFER` for a buffer the driver delivered.
    pub fn free_buffer(&mut self, buffer: u64) {
        self.plain(BC_FREE_BUFFER);
        self.0.extend_from_slice(&buffer.to_ne_bytes());
    }
    /// Appends a command taking a `binder_ptr_cookie`.
    pub fn ptr_cookie(&mut self, cmd: u32, ptr: u64, cookie: u64) {
        self.plain(cmd);
        self.0.extend_from_slice(&ptr.to_ne_bytes());
        self.0.extend_from_slice(&cookie.to_ne_bytes());
    }
    /// Empties the queue.
    pub fn clear(&mut self) {
        self.0.clear();
    }
    /// The encoded commands.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// One return from the driver.
#[derive(Debug)]
pub enum Return {
    /// `BR_TRANSACTION` or `BR_REPLY`.
    Txn(u32, Txn),
    /// A reference-count command with its node's pointer and cookie.
    Refs(u32, u64, u64),
    /// `BR_ERROR` with its code.
    Error(i32),
    /// A command with no argument.
    Plain(u32),
}

/// Splits what the driver wrote into the read buffer into returns.
pub fn parse_returns(mut b: &[u8], out: &mut Vec<Return>) -> io::Result<()> {
    let bad = |what: String| io::Error::new(io::ErrorKind::InvalidData, what);
    while !b.is_empty() {
        let (cmd, rest) = b
            .split_first_chunk::<4>()
            .ok_or_else(|| bad("truncated return".into()))?;
        let cmd = u32::from_ne_bytes(*cmd);
        let size = ((cmd >> 16) & 0x3fff) as usize;
        if rest.len() < size {
            return Err(bad(format!("return {cmd:#x} truncated")));
        }
        let (arg, rest) = rest.split_at(size);
        out.push(match cmd {
            BR_TRANSACTION | BR_REPLY => {
                Return::Txn(cmd, Txn::decode(arg.try_into().expect("sized by cmd")))
            }
            BR_INCREFS | BR_ACQUIRE | BR_RELEASE | BR_DECREFS => Return::Refs(
                cmd,
                u64::from_ne_bytes(arg[..8].try_into().expect("sized by cmd")),
                u64::from_ne_bytes(arg[8..].try_into().expect("sized by cmd")),
            ),
            BR_ERROR => Return::Error(i32::from_ne_bytes(arg.try_into().expect("sized by cmd"))),
            _ if size == 0 => Return::Plain(cmd),
            _ => return Err(bad(format!("unexpected return {cmd:#x}"))),
        });
        b = rest;
    }
    Ok(())
}

/// An open Binder device with its receive buffer mapped.
pub struct Device {
    fd: OwnedFd,
    map: *mut libc::c_void,
}

impl Device {
    /// Opens `path`, checks the protocol version, maps [`MAP_BYTES`] and asks the driver not to
    /// request looper threads (each side here uses one thread).
    pub fn open(path: &Path) -> io::Result<Device> {
        let fd: OwnedFd = OpenOptions::new().read(true).write(true).open(path)?.into();
        let mut version: i32 = 0;
        // SAFETY: BINDER_VERSION writes one `struct binder_version` (an `__s32`) to the
        // pointer, which points to a live, writable i32.
        if unsafe { libc::ioctl(fd.as_raw_fd(), BINDER_VERSION as _, &mut version) } < 0 {
            return Err(io::Error::last_os_error());
        }
        if version != PROTOCOL_VERSION {
            return Err(io::Error::other(format!(
                "binder protocol {version}, this bench speaks {PROTOCOL_VERSION}"
            )));
        }
        // SAFETY: a new private read-only mapping of the device at an address the kernel
        // picks; it aliases no Rust object and is unmapped only in Drop.
        let map = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                MAP_BYTES,
                libc::PROT_READ,
                libc::MAP_PRIVATE | libc::MAP_NORESERVE,
                fd.as_raw_fd(),
                0,
            )
        };
        if map == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let dev = Device { fd, map };
        let max_threads: u32 = 0;
        // SAFETY: BINDER_SET_MAX_THREADS reads one u32 from the pointer, a live local.
        if unsafe {
            libc::ioctl(
                dev.fd.as_raw_fd(),
                BINDER_SET_MAX_THREADS as _,
                &max_threads,
            )
        } < 0
        {
            return Err(io::Error::last_os_error());
        }
        Ok(dev)
    }

    /// Makes this process the context manager: the owner of handle 0.
    pub fn become_context_manager(&self) -> io::Result<()> {
        let unused: i32 = 0;
        // SAFETY: BINDER_SET_CONTEXT_MGR reads (and ignores) one i32 from the pointer, a live
        // local.
        if unsafe { libc::ioctl(self.fd.as_raw_fd(), BINDER_SET_CONTEXT_MGR as _, &unused) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// One `BINDER_WRITE_READ`: hands `write` to the driver, then blocks until it has returns
    /// for this thread (when `read` is not empty). Returns the bytes of `read` filled.
    pub fn write_read(&self, write: &[u8], read: &mut [u8]) -> io::Result<usize> {
        let mut wr = WriteRead {
            write_size: write.len() as u64,
            write_buffer: write.as_ptr() as u64,
            read_size: read.len() as u64,
            read_buffer: read.as_mut_ptr() as u64,
            ..WriteRead::default()
        };
        loop {
            // SAFETY: `wr` is a live `struct binder_write_read`; the driver writes only to it
            // and to `read` (read_size bytes, a live exclusive borrow), and only reads from
            // `write` and from the user addresses inside the commands, which it validates
            // (copy_from_user), so no Rust object is written behind the compiler's back.
            let r = unsafe { libc::ioctl(self.fd.as_raw_fd(), BINDER_WRITE_READ as _, &mut wr) };
            if r >= 0 {
                return Ok(wr.read_consumed as usize);
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }

    /// The address range of the receive buffer.
    fn map_range(&self) -> std::ops::Range<u64> {
        let start = self.map as u64;
        start..start + MAP_BYTES as u64
    }

    /// Copies `len` bytes at `addr` out of the receive buffer (where the driver put a
    /// transaction's data), after checking the range lies inside the mapping.
    pub fn copy_out(&self, addr: u64, len: u64, out: &mut Vec<u8>) -> io::Result<()> {
        let range = self.map_range();
        let end = addr.checked_add(len);
        if len > 0 && (addr < range.start || end.is_none_or(|e| e > range.end)) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("buffer {addr:#x}+{len} outside the binder mapping"),
            ));
        }
        out.clear();
        if len == 0 {
            return Ok(());
        }
        // SAFETY: [addr, addr+len) lies inside our live read-only mapping (checked above); the
        // driver filled it before delivering the transaction and does not reuse it until we
        // send BC_FREE_BUFFER, which cannot happen during this copy (the slice does not escape).
        let src = unsafe { std::slice::from_raw_parts(addr as *const u8, len as usize) };
        out.extend_from_slice(src);
        Ok(())
    }
}

impl Drop for Device {
    fn drop(&mut self) {
        // SAFETY: `map` is the live mapping of MAP_BYTES made in `open`; no slice into it
        // outlives a `copy_out` call.
        unsafe { libc::munmap(self.map, MAP_BYTES) };
    }
}
