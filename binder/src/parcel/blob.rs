//! Blobs: large payloads that travel as sealed memfds and are mapped, not copied, by the
//! receiver.

use std::fmt;
use std::ops::Deref;
use std::os::fd::OwnedFd;

use memfd::{FileSeal, Memfd, MemfdOptions};

use super::ParcelError;

/// Largest blob, in bytes: 256 MiB, so that a hostile sender cannot make a receiver map more
/// than that per blob.
pub const MAX_BLOB_BYTES: usize = 256 * 1024 * 1024;

/// The seals a received blob must carry: nobody can write, shrink or grow it any more.
const SEALS: [FileSeal; 3] = [
    FileSeal::SealWrite,
    FileSeal::SealShrink,
    FileSeal::SealGrow,
];

/// A received blob: the sender's bytes, mapped read-only.
pub struct Blob {
    map: Option<memmap2::Mmap>,
}

impl Deref for Blob {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.map.as_deref().unwrap_or(&[])
    }
}

impl fmt::Debug for Blob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Blob({} bytes)", self.len())
    }
}

impl Blob {
    /// Copies `data` into a new memfd and seals it against writing, shrinking and growing: an
    /// fd to send (in a parcel, or as an AIDL `ParcelFileDescriptor`).
    pub fn seal(data: &[u8]) -> std::io::Result<OwnedFd> {
        seal(data)
    }

    /// Maps a received memfd sealed against writing, shrinking and growing (as [`seal`]
    /// makes them), whatever its size up to [`MAX_BLOB_BYTES`]: the seals fix the size, so
    /// none needs to travel beside it. Anything else is [`ParcelError::BadBlob`].
    ///
    /// [`seal`]: Blob::seal
    pub fn open(fd: OwnedFd) -> Result<Blob, ParcelError> {
        map_whole(fd, MAX_BLOB_BYTES)
    }
}

/// Copies `data` into a new memfd and seals it.
pub(crate) fn seal(data: &[u8]) -> std::io::Result<OwnedFd> {
    build(data.len(), |map| map.copy_from_slice(data))
}

/// Makes a memfd of `len` bytes, lets `fill` write them in place (no copy), and seals it.
pub(crate) fn build(len: usize, fill: impl FnOnce(&mut [u8])) -> std::io::Result<OwnedFd> {
    let other = |e: memfd::Error| std::io::Error::other(e.to_string());
    let mfd = MemfdOptions::default()
        .allow_sealing(true)
        .close_on_exec(true)
        .create("afbus-blob")
        .map_err(other)?;
    mfd.as_file().set_len(len as u64)?;
    if len > 0 {
        let mut map = crate::sys::map_fresh_mut(mfd.as_file())?;
        fill(&mut map);
        // Sealing against writes needs every writable mapping gone.
        drop(map);
    }
    mfd.add_seals(&[
        FileSeal::SealWrite,
        FileSeal::SealShrink,
        FileSeal::SealGrow,
        FileSeal::SealSeal,
    ])
    .map_err(other)?;
    Ok(OwnedFd::from(mfd.into_file()))
}

/// Maps a sealed memfd of whatever size it has, up to `max` bytes.
pub(crate) fn map_whole(fd: OwnedFd, max: usize) -> Result<Blob, ParcelError> {
    let bad = |reason: &'static str| ParcelError::BadBlob { offset: 0, reason };
    let size = std::fs::File::from(fd.try_clone().map_err(|_| bad("cannot be duplicated"))?)
        .metadata()
        .map_err(|_| bad("size unreadable"))?
        .len();
    let len = usize::try_from(size)
        .ok()
        .filter(|&l| l <= max)
        .ok_or(bad("larger than allowed"))?;
    map(fd, len, 0)
}

/// Checks that `fd` is a sealed memfd of exactly `len` bytes and maps it.
pub(crate) fn map(fd: OwnedFd, len: usize, offset: usize) -> Result<Blob, ParcelError> {
    let bad = |reason: &'static str| ParcelError::BadBlob { offset, reason };
    let mfd = Memfd::try_from_fd(fd).map_err(|_| bad("not a memfd"))?;
    let seals = mfd.seals().map_err(|_| bad("seals unreadable"))?;
    if !SEALS.iter().all(|s| seals.contains(s)) {
        return Err(bad("not sealed against write, shrink and grow"));
    }
    let size = mfd
        .as_file()
        .metadata()
        .map_err(|_| bad("size unreadable"))?
        .len();
    if size != len as u64 {
        return Err(bad("size differs from the declared length"));
    }
    if len == 0 {
        return Ok(Blob { map: None });
    }
    let map = crate::sys::map_sealed(mfd.as_file()).map_err(|_| bad("cannot be mapped"))?;
    Ok(Blob { map: Some(map) })
}
