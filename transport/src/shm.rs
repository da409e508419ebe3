//! The shared-memory fast path of a channel: two single-producer, single-consumer rings in a
//! sealed memfd that both processes map, with a futex word per direction as the doorbell.
//!
//! The socket stays: it carries fds, credentials, frames too large for a ring, and the hang-up.
//!
//! How a channel moves onto the rings:
//! 1. The end that created the channel sends an *offer* on the socket: a frame flagged
//!    `XFLAG_OFFER` whose one fd is the memfd ([`SHM_BYTES`], sealed against shrinking and
//!    growing, so neither side can make the other's mapping fault).
//! 2. The other end maps it (or, with the fast path off, closes it). From then on, the first frame
//!    each side sends goes on the socket flagged `XFLAG_SWITCH`; everything after it goes through
//!    that side's ring. The creator switches only after it saw the other side's switch, so an
//!    end that declined the offer keeps both directions on the socket.
//! 3. A frame with fds, or too large for the ring ([`SHM_MAX_RECORD`]), goes on the socket and a
//!    *marker* record in the ring keeps its place in the order.
//!
//! Waking: the consumer publishes how it waits in its ring's waiter word: running (it will look
//! again), parked on the futex (the producer wakes it), or asleep in `poll` (the producer sends a
//! `XFLAG_DOORBELL` frame on the socket). A waiting reader spins for [`shm_spin`] first, but only
//! when the peer last ran on another CPU: spinning against a peer on our own CPU starves it.
//!
//! Every index, length and record read from the mapping is checked before use: the peer can
//! write anything there. Each side keeps its own position privately and only publishes it; data
//! is copied out of the mapping before it is decoded, so it cannot change under the decoder.

#![allow(unsafe_code)]

use std::fs::File;
use std::os::fd::OwnedFd;
use std::sync::atomic::{fence, AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use memfd::{FileSeal, Memfd, MemfdOptions};
use memmap2::MmapRaw;

use crate::error::{Error, Result};
use crate::frame::{Header, HEADER_LEN, MAX_PAYLOAD_BYTES};
use crate::sys;

/// Bytes of one ring (one direction): room for two records of the largest size.
///
/// Only the pages a channel's traffic reaches become resident: a producer that finds its ring
/// empty starts again at its beginning, so calls one at a time keep to its first pages, and
/// only bursts of one-way calls or large frames reach further.
pub const SHM_RING_BYTES: usize = 256 * 1024;

/// Largest record (8-byte record header, frame header and payload) that travels in a ring:
/// frames up to 128 KiB less 32 bytes; larger ones (and any with fds) go on the socket behind a
/// marker.
pub const SHM_MAX_RECORD: usize = SHM_RING_BYTES / 2;

/// Size of a channel's memfd: a page of control words, then the two rings.
pub const SHM_BYTES: usize = CONTROL_BYTES + 2 * SHM_RING_BYTES;

/// Default bounded spin of a reader waiting on a ring before it sleeps on the futex.
pub const SHM_SPIN: Duration = Duration::from_micros(20);

/// Longest a reader sleeps on the futex before it looks at the socket itself (a hang-up does
/// not touch the futex; a runtime's poller wakes the reader sooner when it sees one).
pub const SHM_PARK_SLICE: Duration = Duration::from_millis(50);

/// Most socket frames a reader holds ahead of their ring markers before it calls the peer
/// broken and hangs up (a well-behaved peer has a few in flight at most).
pub const SHM_MAX_STASHED_FRAMES: usize = 64;

const CONTROL_BYTES: usize = 4096;
/// Each ring's control words, each on its own cache line (a spinning consumer reads `HEAD`
/// alone): written by the producer (head, its CPU), by the consumer (tail, waiter) and by a
/// producer waiting for room (space).
const CONTROL_STRIDE: usize = 512;
const HEAD: usize = 0;
const PRODUCER_CPU: usize = 64;
const TAIL: usize = 128;
const WAITER: usize = 256;
const SPACE: usize = 384;

/// The consumer will look at the ring again: no wake needed.
const WAIT_RUNNING: u32 = 0;
/// The consumer sleeps on the waiter futex.
const WAIT_FUTEX: u32 = 1;
/// The consumer sleeps in `poll` on the socket: a doorbell frame wakes it.
const WAIT_POLL: u32 = 2;

const REC_HDR: usize = 8;
const TAG_FRAME: u32 = 1;
const TAG_SOCKET: u32 = 2;
const TAG_PAD: u32 = 3;

static SPIN_NS: AtomicU64 = AtomicU64::new(u64::MAX);

/// The bounded spin of a waiting reader: [`SHM_SPIN`], or `AFBUS_SHM_SPIN_US` from the
/// environment, or what [`set_shm_spin`] set.
pub fn shm_spin() -> Duration {
    let ns = SPIN_NS.load(Ordering::Relaxed);
    if ns != u64::MAX {
        return Duration::from_nanos(ns);
    }
    let spin = std::env::var("AFBUS_SHM_SPIN_US")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map_or(SHM_SPIN, Duration::from_micros);
    SPIN_NS.store(spin.as_nanos() as u64, Ordering::Relaxed);
    spin
}

/// Sets the bounded spin of waiting readers in this process (zero: never spin).
pub fn set_shm_spin(spin: Duration) {
    SPIN_NS.store(
        spin.as_nanos().min(u64::MAX as u128 - 1) as u64,
        Ordering::Relaxed,
    );
}

/// Whether channels use the fast path unless told otherwise: `AFBUS_SHM=0` in the environment
/// turns it off.
pub fn shm_default() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var("AFBUS_SHM").map_or(true, |v| v != "0"))
}

fn online_cpus() -> usize {
    static N: OnceLock<usize> = OnceLock::new();
    *N.get_or_init(sys::online_cpus)
}

/// Maps a ring memfd so that a forked child does not inherit the mapping: a ring's writer is
/// the process that switched the channel to it, so the reader can name it (see
/// [`crate::identity`]); a child reaches the peer through the socket, where the kernel names
/// it. No fd of the memfd is kept once it is mapped.
fn map_private_to_process(file: &File) -> Result<MmapRaw> {
    let map = MmapRaw::map_raw(file).map_err(|e| Error::io("mmap", e))?;
    map.advise(memmap2::Advice::DontFork)
        .map_err(|e| Error::io("madvise(MADV_DONTFORK)", e))?;
    Ok(map)
}

/// A channel's mapped memfd.
pub(crate) struct Link {
    map: MmapRaw,
    /// Ring 0 carries the creator's frames, ring 1 the other side's.
    creator: bool,
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link")
            .field("creator", &self.creator)
            .finish()
    }
}

impl Link {
    /// Creates and maps a fresh memfd; returns it with the fd to offer.
    pub(crate) fn create() -> Result<(Link, OwnedFd)> {
        let io = |what| move |e: memfd::Error| Error::io(what, std::io::Error::other(e));
        let mfd = MemfdOptions::default()
            .close_on_exec(true)
            .allow_sealing(true)
            .create("afbus-ring")
            .map_err(io("memfd_create"))?;
        mfd.as_file()
            .set_len(SHM_BYTES as u64)
            .map_err(|e| Error::io("ftruncate", e))?;
        mfd.add_seals(&[FileSeal::SealShrink, FileSeal::SealGrow, FileSeal::SealSeal])
            .map_err(io("F_ADD_SEALS"))?;
        let map = map_private_to_process(mfd.as_file())?;
        let link = Link { map, creator: true };
        for ring in [link.ring(0), link.ring(1)] {
            ring.word(WAITER).store(WAIT_POLL, Ordering::Relaxed);
        }
        Ok((link, mfd.into_file().into()))
    }

    /// Maps a memfd the peer offered, after checking its size and seals.
    pub(crate) fn accept(fd: OwnedFd) -> Result<Link> {
        let refused = |_| Error::Ring("the offered fd is not a memfd");
        let mfd = Memfd::try_from_fd(File::from(fd)).map_err(refused)?;
        let seals = mfd
            .seals()
            .map_err(|_| Error::Ring("the offered memfd's seals are unreadable"))?;
        if !seals.contains(&FileSeal::SealShrink) || !seals.contains(&FileSeal::SealGrow) {
            return Err(Error::Ring(
                "the offered memfd is not sealed against resizing",
            ));
        }
        let len = mfd
            .as_file()
            .metadata()
            .map_err(|e| Error::io("fstat", e))?
            .len();
        if len != SHM_BYTES as u64 {
            return Err(Error::Ring("the offered memfd has the wrong size"));
        }
        let map = map_private_to_process(mfd.as_file())?;
        Ok(Link {
            map,
            creator: false,
        })
    }

    fn ring(&self, index: usize) -> Ring<'_> {
        debug_assert!(self.map.len() == SHM_BYTES && index < 2);
        let base = self.map.as_mut_ptr();
        // SAFETY: the mapping is SHM_BYTES long (checked at creation or acceptance, and sealed
        // against shrinking), so both offsets stay inside it.
        let (control, data) = unsafe {
            (
                base.add(index * CONTROL_STRIDE),
                base.add(CONTROL_BYTES + index * SHM_RING_BYTES),
            )
        };
        Ring {
            control,
            data,
            _map: std::marker::PhantomData,
        }
    }

    /// The ring this side produces into.
    pub(crate) fn tx(&self) -> Ring<'_> {
        self.ring(if self.creator { 0 } else { 1 })
    }

    /// The ring this side consumes.
    pub(crate) fn rx(&self) -> Ring<'_> {
        self.ring(if self.creator { 1 } else { 0 })
    }
}

/// One direction's control words and data, inside a [`Link`]'s mapping.
pub(crate) struct Ring<'a> {
    control: *mut u8,
    data: *mut u8,
    _map: std::marker::PhantomData<&'a MmapRaw>,
}

/// What the consumer found at the front of its ring.
pub(crate) enum Record {
    /// A frame, its header checked, its payload copied out.
    Frame(Header, Vec<u8>),
    /// The next frame is the oldest socket frame not yet taken.
    Socket,
}

/// How far into a ring records go before an empty ring sends the next one back to its start:
/// half of it, so that a producer always has at least half the ring (128 KiB, what the binder
/// layer reads ahead of one channel's one-way calls) in front of it, even before the consumer
/// skips the padding; calls one at a time touch at most 32 pages.
pub const REWIND_AT: usize = SHM_RING_BYTES / 2;

/// The room a record of `frame_len` bytes (header and payload) takes in a ring.
pub(crate) fn record_len(frame_len: usize) -> usize {
    REC_HDR + frame_len.next_multiple_of(8)
}

impl Ring<'_> {
    fn word(&self, at: usize) -> &AtomicU32 {
        // SAFETY: `at` is one of the control offsets, 4-aligned and inside the ring's control
        // block in the live mapping; atomics are the only way either process touches it.
        unsafe { &*self.control.add(at).cast::<AtomicU32>() }
    }

    fn index(&self, at: usize) -> &AtomicU64 {
        // SAFETY: as for `word`, with 8-aligned offsets.
        unsafe { &*self.control.add(at).cast::<AtomicU64>() }
    }

    fn copy_out(&self, off: usize, dst: &mut [u8]) {
        assert!(off <= SHM_RING_BYTES && dst.len() <= SHM_RING_BYTES - off);
        // SAFETY: the range is inside the ring's data (asserted). The peer may write it at any
        // time; we copy plain bytes out without forming a reference to shared memory, and check
        // the copy, never the mapping, afterwards.
        unsafe { std::ptr::copy_nonoverlapping(self.data.add(off), dst.as_mut_ptr(), dst.len()) }
    }

    /// Copies `len` bytes at `off` into a new vector (not zeroed first: it is written whole).
    fn copy_out_vec(&self, off: usize, len: usize) -> Vec<u8> {
        assert!(off <= SHM_RING_BYTES && len <= SHM_RING_BYTES - off);
        let mut v = Vec::with_capacity(len);
        // SAFETY: as for `copy_out`; the vector has capacity for `len` bytes, all of which the
        // copy initialises before `set_len` exposes them.
        unsafe {
            std::ptr::copy_nonoverlapping(self.data.add(off), v.as_mut_ptr(), len);
            v.set_len(len);
        }
        v
    }

    fn copy_in(&self, off: usize, src: &[u8]) {
        assert!(off <= SHM_RING_BYTES && src.len() <= SHM_RING_BYTES - off);
        // SAFETY: the range is inside the ring's data (asserted) and, by the ring protocol, not
        // yet published to the consumer; a misbehaving peer reading it early only hurts itself.
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), self.data.add(off), src.len()) }
    }

    // ---- the consumer's side ----

    /// True if the producer published something past `tail`.
    pub(crate) fn has_data(&self, tail: u64) -> bool {
        self.index(HEAD).load(Ordering::Acquire) != tail
    }

    /// Takes the record at `tail`, if any, and publishes the new tail.
    ///
    /// A record whose frame header does not decode is consumed and returned as that frame
    /// error; a broken index or record layout is [`Error::Ring`] (the ring is unusable).
    pub(crate) fn pop(&self, tail: &mut u64) -> Result<Option<Record>> {
        loop {
            let head = self.index(HEAD).load(Ordering::Acquire);
            let avail = head.wrapping_sub(*tail);
            if avail == 0 {
                return Ok(None);
            }
            if avail > SHM_RING_BYTES as u64 || avail % 8 != 0 {
                return Err(Error::Ring("the producer's index is out of range"));
            }
            let off = (*tail % SHM_RING_BYTES as u64) as usize;
            let mut rh = [0u8; REC_HDR];
            self.copy_out(off, &mut rh);
            let tag = u32::from_le_bytes([rh[0], rh[1], rh[2], rh[3]]);
            let len = u32::from_le_bytes([rh[4], rh[5], rh[6], rh[7]]) as usize;
            if len > SHM_RING_BYTES {
                return Err(Error::Ring("a record is longer than the ring"));
            }
            let rec = record_len(len);
            if rec as u64 > avail || off + rec > SHM_RING_BYTES {
                return Err(Error::Ring("a record runs past what was published"));
            }
            let found = match tag {
                TAG_PAD if off + rec == SHM_RING_BYTES => None,
                TAG_PAD => return Err(Error::Ring("padding that does not end the ring")),
                TAG_SOCKET if len == 0 => Some(Ok(Record::Socket)),
                TAG_FRAME if (HEADER_LEN..=HEADER_LEN + MAX_PAYLOAD_BYTES).contains(&len) => {
                    let mut hdr = [0u8; HEADER_LEN];
                    self.copy_out(off + REC_HDR, &mut hdr);
                    let payload = self.copy_out_vec(off + REC_HDR + HEADER_LEN, len - HEADER_LEN);
                    Some(Header::decode(&hdr, payload.len(), 0).map(|h| Record::Frame(h, payload)))
                }
                _ => return Err(Error::Ring("a record of unknown kind or bad length")),
            };
            *tail = tail.wrapping_add(rec as u64);
            self.index(TAIL).store(*tail, Ordering::Release);
            fence(Ordering::SeqCst);
            if self.word(SPACE).load(Ordering::Relaxed) != 0 {
                self.word(SPACE).store(0, Ordering::Relaxed);
                sys::futex_wake(self.word(SPACE));
            }
            if let Some(found) = found {
                return found.map(Some);
            }
        }
    }

    /// Sleeps on the waiter futex for at most `timeout` unless something is published past
    /// `tail`, or `kicked` is set ([`kick`](Self::kick)), meanwhile.
    pub(crate) fn park(&self, tail: u64, timeout: Duration, kicked: &AtomicBool) {
        let waiter = self.word(WAITER);
        waiter.store(WAIT_FUTEX, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        if !self.has_data(tail) && !kicked.load(Ordering::SeqCst) {
            sys::futex_wait(waiter, WAIT_FUTEX, timeout);
        }
        waiter.store(WAIT_RUNNING, Ordering::SeqCst);
    }

    /// Whether a reader would spin now (see [`Self::spin`]): the producer last ran on another
    /// CPU, and there is one.
    pub(crate) fn would_spin(&self, spin: Duration) -> bool {
        !spin.is_zero()
            && online_cpus() >= 2
            && self.word(PRODUCER_CPU).load(Ordering::Relaxed) != sys::current_cpu()
    }

    /// Spins while nothing is past `tail`, at most `spin`, and only if the producer last ran on
    /// another CPU; true if something came.
    pub(crate) fn spin(&self, tail: u64, spin: Duration) -> bool {
        if !self.would_spin(spin) {
            return false;
        }
        let start = std::time::Instant::now();
        loop {
            for _ in 0..64 {
                if self.has_data(tail) {
                    return true;
                }
                std::hint::spin_loop();
            }
            if start.elapsed() >= spin {
                return false;
            }
        }
    }

    /// Says the consumer now sleeps in `poll`; true if something is already past `tail`.
    pub(crate) fn park_poll(&self, tail: u64) -> bool {
        self.word(WAITER).store(WAIT_POLL, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        self.has_data(tail)
    }

    /// Says a reader is about to look at the ring: producers need not ring the doorbell.
    /// A reader parked on the futex stays woken-on-write.
    pub(crate) fn will_read(&self) {
        let _ = self.word(WAITER).compare_exchange(
            WAIT_POLL,
            WAIT_RUNNING,
            Ordering::SeqCst,
            Ordering::Relaxed,
        );
    }

    /// Makes this process's reader look at the socket: sets `kicked` (seen before it sleeps)
    /// and wakes it if it sleeps on the futex (the word changes too, in case it is about to).
    ///
    /// A ring parked for `poll` stays so: the kick may come after the reader it was meant for
    /// has let go and parked the ring, and a word reset to running would tell producers that
    /// someone reads, so that nobody rang the doorbell for their frames again.
    pub(crate) fn kick(&self, kicked: &AtomicBool) {
        kicked.store(true, Ordering::SeqCst);
        self.wake_futex_sleeper();
    }

    /// Wakes the consumer if it sleeps on the waiter futex (or is about to: the word changes to
    /// running, so that its wait returns at once); a consumer in any other state is left as it is.
    fn wake_futex_sleeper(&self) {
        let waiter = self.word(WAITER);
        if waiter
            .compare_exchange(
                WAIT_FUTEX,
                WAIT_RUNNING,
                Ordering::SeqCst,
                Ordering::Relaxed,
            )
            .is_ok()
        {
            sys::futex_wake(waiter);
        }
    }

    // ---- the producer's side ----

    /// Free bytes for a producer whose private head is `head`.
    fn free(&self, head: u64) -> Result<usize> {
        let tail = self.index(TAIL).load(Ordering::Acquire);
        let used = head.wrapping_sub(tail);
        if used > SHM_RING_BYTES as u64 {
            return Err(Error::Ring("the consumer's index is out of range"));
        }
        Ok(SHM_RING_BYTES - used as usize)
    }

    /// Bytes a record of `rec` bytes needs at `head`, padding to the ring's end included.
    fn needed(head: u64, rec: usize) -> usize {
        let off = (head % SHM_RING_BYTES as u64) as usize;
        if off + rec > SHM_RING_BYTES {
            SHM_RING_BYTES - off + rec
        } else {
            rec
        }
    }

    /// True if a record of `rec` bytes fits now.
    pub(crate) fn fits(&self, head: u64, rec: usize) -> Result<bool> {
        Ok(self.free(head)? >= Ring::needed(head, rec))
    }

    /// True if the record should go to the ring's start, behind padding, so that calls one at a
    /// time keep touching the same pages: the ring is empty (the consumer took everything), the
    /// consumer is reading or about to (not asleep in `poll`), and the records already reach
    /// [`REWIND_AT`]. The padding counts as used until the consumer skips it, so until then the
    /// producer has only the part of the ring before it: rewinding sooner would leave a burst of
    /// one-way calls a ring that looks full.
    fn rewinds(&self, head: u64, rec: usize) -> bool {
        let off = (head % SHM_RING_BYTES as u64) as usize;
        off >= REWIND_AT
            && rec <= off
            && self.index(TAIL).load(Ordering::Acquire) == head
            && self.word(WAITER).load(Ordering::Relaxed) != WAIT_POLL
    }

    /// Sleeps until the consumer frees room or `timeout` passes (the caller re-checks).
    pub(crate) fn wait_room(&self, head: u64, rec: usize, timeout: Duration) -> Result<()> {
        let space = self.word(SPACE);
        space.store(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        if !self.fits(head, rec)? {
            sys::futex_wait(space, 1, timeout);
        }
        Ok(())
    }

    /// Writes one record (room checked by the caller) and publishes it.
    pub(crate) fn push(&self, head: &mut u64, hdr: Option<&[u8; HEADER_LEN]>, payload: &[u8]) {
        let frame_len = hdr.map_or(0, |_| HEADER_LEN + payload.len());
        let rec = record_len(frame_len);
        let mut off = (*head % SHM_RING_BYTES as u64) as usize;
        if off + rec > SHM_RING_BYTES || self.rewinds(*head, rec) {
            let pad = SHM_RING_BYTES - off;
            self.copy_in(off, &rec_header(TAG_PAD, pad - REC_HDR));
            *head = head.wrapping_add(pad as u64);
            off = 0;
        }
        match hdr {
            Some(h) => {
                self.copy_in(off, &rec_header(TAG_FRAME, frame_len));
                self.copy_in(off + REC_HDR, h);
                self.copy_in(off + REC_HDR + HEADER_LEN, payload);
            }
            None => self.copy_in(off, &rec_header(TAG_SOCKET, 0)),
        }
        *head = head.wrapping_add(rec as u64);
        self.word(PRODUCER_CPU)
            .store(sys::current_cpu(), Ordering::Relaxed);
        self.index(HEAD).store(*head, Ordering::Release);
    }

    /// After a push: wakes a consumer parked on the futex; true if it sleeps in `poll` and
    /// needs a doorbell on the socket.
    pub(crate) fn notify(&self) -> bool {
        fence(Ordering::SeqCst);
        let waiter = self.word(WAITER);
        match waiter.load(Ordering::SeqCst) {
            WAIT_FUTEX => {
                self.wake_futex_sleeper();
                false
            }
            WAIT_POLL => waiter
                .compare_exchange(WAIT_POLL, WAIT_RUNNING, Ordering::SeqCst, Ordering::Relaxed)
                .is_ok(),
            _ => false,
        }
    }
}

fn rec_header(tag: u32, len: usize) -> [u8; REC_HDR] {
    let mut b = [0u8; REC_HDR];
    b[..4].copy_from_slice(&tag.to_le_bytes());
    b[4..].copy_from_slice(&(len as u32).to_le_bytes());
    b
}

/// Test and fuzzing access to a raw ring over plain memory.
#[doc(hidden)]
pub mod testing {
    use super::*;

    /// Runs the consumer over `bytes` laid out as a ring's control block and data (hostile
    /// input): pops until empty or an error, and returns how many frames came out.
    pub fn pop_all(bytes: &[u8]) -> usize {
        let mut control = vec![0u64; CONTROL_STRIDE / 8];
        let mut data = vec![0u64; SHM_RING_BYTES / 8];
        // SAFETY: viewing u64 buffers as bytes; lengths are the buffers' own.
        let (cb, db) = unsafe {
            (
                std::slice::from_raw_parts_mut(control.as_mut_ptr().cast::<u8>(), CONTROL_STRIDE),
                std::slice::from_raw_parts_mut(data.as_mut_ptr().cast::<u8>(), SHM_RING_BYTES),
            )
        };
        let (c, d) = bytes.split_at(bytes.len().min(CONTROL_STRIDE));
        cb[..c.len()].copy_from_slice(c);
        let d = &d[..d.len().min(SHM_RING_BYTES)];
        db[..d.len()].copy_from_slice(d);
        let ring = Ring {
            control: cb.as_mut_ptr(),
            data: db.as_mut_ptr(),
            _map: std::marker::PhantomData,
        };
        let mut tail = 0;
        let mut frames = 0;
        for _ in 0..SHM_RING_BYTES {
            match ring.pop(&mut tail) {
                Ok(Some(_)) => frames += 1,
                Err(e) if e.is_frame_error() => frames += 1,
                Ok(None) | Err(_) => break,
            }
        }
        frames
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_consumer_over_random_rings_returns() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut bytes = vec![0u8; CONTROL_STRIDE + 4096];
        for round in 0..2000 {
            for b in bytes.iter_mut() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *b = x as u8;
            }
            // Small heads most of the time, so that records get looked at.
            let head = (x % 4096) & !7;
            if round % 4 != 0 {
                bytes[..8].copy_from_slice(&head.to_le_bytes());
            }
            testing::pop_all(&bytes);
        }
    }

    /// A kick that comes after its reader let go of the ring (a poller saw the socket readable
    /// while that reader held the channel) leaves producers ringing the doorbell.
    #[test]
    fn a_late_kick_leaves_the_ring_asking_for_the_doorbell() {
        let (consumer, fd) = Link::create().unwrap();
        let producer = Link::accept(fd).unwrap();
        let kicked = AtomicBool::new(false);
        assert!(!consumer.rx().park_poll(0), "an empty ring");
        consumer.rx().kick(&kicked);
        assert!(
            kicked.load(Ordering::SeqCst),
            "the next reader looks at the socket"
        );
        let mut head = 0;
        producer.tx().push(&mut head, None, &[]);
        assert!(producer.tx().notify(), "the producer rings the doorbell");
    }

    #[test]
    fn a_frame_written_is_the_frame_read() {
        let mut ring = vec![0u8; CONTROL_STRIDE + SHM_RING_BYTES];
        let hdr = Header::new(crate::FrameKind::Request).with_txn(9);
        let mut rec = rec_header(TAG_FRAME, HEADER_LEN + 3).to_vec();
        rec.extend_from_slice(&hdr.encode(3, 0));
        rec.extend_from_slice(b"abc\0\0\0\0\0");
        ring[CONTROL_STRIDE..CONTROL_STRIDE + rec.len()].copy_from_slice(&rec);
        ring[..8].copy_from_slice(&(rec.len() as u64).to_le_bytes());
        assert_eq!(testing::pop_all(&ring), 1);
        ring[..8].copy_from_slice(&(rec.len() as u64 + 8).to_le_bytes());
        assert_eq!(
            testing::pop_all(&ring),
            1,
            "a torn record after it is refused"
        );
    }
}
