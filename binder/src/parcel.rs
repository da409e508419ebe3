//! [`Parcel`]: the typed buffer that carries a call's arguments and its reply.
//!
//! The wire format is little-endian, with no padding or alignment:
//! - `bool`, `i8`, `u8`: one byte; a `bool` is 0 or 1, any other byte is an error.
//! - `i16` to `u64`, `f32`, `f64`: their little-endian bytes (floats bit for bit). A `char` is
//!   one UTF-16 code unit, as a `u16`, like AIDL's `char`.
//! - Strings and byte arrays: a `u32` byte count, then the bytes; strings are UTF-8, checked on
//!   read.
//! - Nullable strings and byte arrays: an `i32` byte count, -1 for null, then the bytes.
//! - Arrays (`write_slice`, `Vec<T>`): a `u32` element count, then the elements.
//! - Optional values (`write_option`, `Option<T>`): a `u8` tag, 0 absent or 1 present, then
//!   the value if present.
//! - File descriptors travel beside the data, in the parcel's fd table; the data holds the fd's
//!   `u32` index in that table.
//! - Object references ([`SpIBinder`]) travel the same way in the object table: a `u8` tag
//!   (0 null, 1 present), then the `u32` index.
//!
//! Writes append to the end of the data; reads consume it from a cursor. The data comes from
//! another process, so every read checks its bounds first and returns a [`ParcelError`] on bad
//! data, leaving the cursor where that read started.

pub(crate) mod blob;
mod error;
mod parcelable;

use std::fmt;
use std::io;
use std::ops::Range;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

pub use blob::{Blob, MAX_BLOB_BYTES};
pub use error::ParcelError;
pub use parcelable::Parcelable;

use crate::object::SpIBinder;

/// The most fds one parcel can carry: the kernel's `SCM_MAX_FD`, since one frame carries all of
/// a parcel's fds in a single `SCM_RIGHTS` message.
pub const MAX_PARCEL_FDS: usize = 253;

/// How deep [`Parcelable`] values may nest (a parcelable in a parcelable, an array of arrays) when
/// read: each level is a recursive call, and a frame's 128 KiB could otherwise describe a
/// thousand levels of a recursive parcelable, enough to overflow a looper's stack. The number is
/// serde_json's recursion limit.
pub const MAX_PARCEL_NESTING: usize = 128;

/// What a parcel sends: its data, its fds, and its object references.
pub type WireParts = (Vec<u8>, Vec<OwnedFd>, Vec<SpIBinder>);

/// A typed buffer for an IPC message: data bytes, a read cursor, and a table of fds.
#[derive(Default)]
pub struct Parcel {
    data: Vec<u8>,
    /// Slot `i` holds the fd that index `i` in the data names; `None` once taken out.
    fds: Vec<Option<OwnedFd>>,
    /// Object references; the data holds indices into this table.
    objects: Vec<SpIBinder>,
    /// The read cursor; never past `data.len()`.
    pos: usize,
    /// How many [`Parcelable`] reads are in progress, one inside the other.
    depth: usize,
}

/// Defines a little-endian write/read pair for each fixed-size number type.
macro_rules! numbers {
    ($($ty:ty => $write:ident, $read:ident;)*) => {$(
        #[doc = concat!("Appends a `", stringify!($ty), "`.")]
        pub fn $write(&mut self, value: $ty) {
            self.data.extend_from_slice(&value.to_le_bytes());
        }

        #[doc = concat!("Reads a `", stringify!($ty), "`.")]
        pub fn $read(&mut self) -> Result<$ty, ParcelError> {
            self.take_array().map(<$ty>::from_le_bytes)
        }
    )*};
}

impl Parcel {
    /// Creates an empty parcel.
    pub fn new() -> Self {
        Self::default()
    }

    /// Creates a parcel from received data and fds, with its cursor at the start.
    pub fn from_parts(data: Vec<u8>, fds: Vec<OwnedFd>) -> Self {
        let fds = fds.into_iter().map(Some).collect();
        Self {
            data,
            fds,
            objects: Vec::new(),
            pos: 0,
            depth: 0,
        }
    }

    /// A received parcel with its object references already resolved.
    pub(crate) fn from_wire(data: Vec<u8>, fds: Vec<OwnedFd>, objects: Vec<SpIBinder>) -> Self {
        Self {
            objects,
            ..Self::from_parts(data, fds)
        }
    }

    /// Data, fds and object references, ready to be sent.
    pub(crate) fn into_wire(mut self) -> Result<WireParts, ParcelError> {
        let objects = std::mem::take(&mut self.objects);
        let (data, fds) = self.into_parts()?;
        Ok((data, fds, objects))
    }

    /// Creates a parcel from data, fds and object references, with its cursor at the start:
    /// the data names fds and objects by their index in these tables, as
    /// [`into_parts_with_objects`](Self::into_parts_with_objects) left them. For code that
    /// carries parcels it does not read, such as a bridge to another machine.
    pub fn from_parts_with_objects(
        data: Vec<u8>,
        fds: Vec<OwnedFd>,
        objects: Vec<SpIBinder>,
    ) -> Self {
        Self::from_wire(data, fds, objects)
    }

    /// Splits the parcel into its data, its fd table and its object table, the reverse of
    /// [`from_parts_with_objects`](Self::from_parts_with_objects). Fails as
    /// [`into_parts`](Self::into_parts) does.
    pub fn into_parts_with_objects(self) -> Result<WireParts, ParcelError> {
        self.into_wire()
    }

    /// Splits the parcel into its data and its fd table, ready to be sent as one frame.
    ///
    /// Fails with [`ParcelError::FdMissing`] if an fd was taken out with [`take_fd`](Self::take_fd),
    /// because the data's indices would then name the wrong fds; the fds are closed.
    pub fn into_parts(self) -> Result<(Vec<u8>, Vec<OwnedFd>), ParcelError> {
        let fds = self
            .fds
            .into_iter()
            .enumerate()
            .map(|(index, fd)| fd.ok_or(ParcelError::FdMissing { index }))
            .collect::<Result<_, _>>()?;
        Ok((self.data, fds))
    }

    /// The data written so far, or received.
    pub fn as_bytes(&self) -> &[u8] {
        &self.data
    }

    /// The length of the data in bytes.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether the data is empty.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The read cursor, as a byte offset into the data.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Moves the read cursor; fails if `position` is past the end of the data.
    pub fn set_position(&mut self, position: usize) -> Result<(), ParcelError> {
        if position > self.data.len() {
            return Err(ParcelError::PositionOutOfRange {
                position,
                len: self.data.len(),
            });
        }
        self.pos = position;
        Ok(())
    }

    /// Moves the read cursor back to the start.
    pub fn rewind(&mut self) {
        self.pos = 0;
    }

    /// How many bytes are left to read.
    pub fn remaining(&self) -> usize {
        self.data.len().saturating_sub(self.pos)
    }

    /// Empties the parcel: its data, its fds (which are closed) and its cursor.
    pub fn clear(&mut self) {
        self.data.clear();
        self.fds.clear();
        self.objects.clear();
        self.pos = 0;
    }

    /// The size of the fd table, counting fds already taken out.
    pub fn fd_count(&self) -> usize {
        self.fds.len()
    }

    /// The fd table in index order; `None` where an fd was taken out.
    pub fn fds(&self) -> impl ExactSizeIterator<Item = Option<BorrowedFd<'_>>> + '_ {
        self.fds.iter().map(|fd| fd.as_ref().map(AsFd::as_fd))
    }

    /// Fails with [`ParcelError::TooManyFds`] if the parcel holds more than [`MAX_PARCEL_FDS`]
    /// fds. Writing an fd cannot fail, so check this before sending.
    pub fn check_fd_limit(&self) -> Result<(), ParcelError> {
        let count = self.fds.len();
        if count > MAX_PARCEL_FDS {
            return Err(ParcelError::TooManyFds {
                count,
                max: MAX_PARCEL_FDS,
            });
        }
        Ok(())
    }

    numbers! {
        i8 => write_i8, read_i8;
        u8 => write_u8, read_u8;
        i16 => write_i16, read_i16;
        u16 => write_u16, read_u16;
        i32 => write_i32, read_i32;
        u32 => write_u32, read_u32;
        i64 => write_i64, read_i64;
        u64 => write_u64, read_u64;
        f32 => write_f32, read_f32;
        f64 => write_f64, read_f64;
    }

    /// Appends a `bool` as one byte, 0 or 1.
    pub fn write_bool(&mut self, value: bool) {
        self.write_u8(u8::from(value));
    }

    /// Reads a `bool`; any byte but 0 or 1 is [`ParcelError::InvalidBool`].
    pub fn read_bool(&mut self) -> Result<bool, ParcelError> {
        let offset = self.pos;
        match self.read_u8()? {
            0 => Ok(false),
            1 => Ok(true),
            value => {
                self.pos = offset;
                Err(ParcelError::InvalidBool { offset, value })
            }
        }
    }

    /// Appends a UTF-16 code unit, AIDL's `char`.
    pub fn write_char(&mut self, value: u16) {
        self.write_u16(value);
    }

    /// Reads a UTF-16 code unit, AIDL's `char`.
    pub fn read_char(&mut self) -> Result<u16, ParcelError> {
        self.read_u16()
    }

    /// Appends a string: its `u32` byte length, then its UTF-8 bytes.
    ///
    /// # Panics
    /// If the string is longer than `u32::MAX` bytes.
    pub fn write_str(&mut self, value: &str) {
        self.write_bytes(value.as_bytes());
    }

    /// Reads a string written by [`write_str`](Self::write_str), checking that it is UTF-8.
    pub fn read_string(&mut self) -> Result<String, ParcelError> {
        self.restoring(|p| {
            let range = p.skip_u32_prefixed()?;
            p.utf8(range).map(str::to_owned)
        })
    }

    /// Appends a byte array: its `u32` length, then the bytes.
    ///
    /// # Panics
    /// If the array is longer than `u32::MAX` bytes.
    pub fn write_bytes(&mut self, value: &[u8]) {
        self.write_len(value.len());
        self.append(value);
    }

    /// Reads a byte array written by [`write_bytes`](Self::write_bytes).
    pub fn read_bytes(&mut self) -> Result<Vec<u8>, ParcelError> {
        self.read_bytes_ref().map(<[u8]>::to_vec)
    }

    /// Reads a byte array written by [`write_bytes`](Self::write_bytes) without copying it.
    pub fn read_bytes_ref(&mut self) -> Result<&[u8], ParcelError> {
        let range = self.skip_u32_prefixed()?;
        Ok(self.slice(range))
    }

    /// Appends a string or null: an `i32` byte length, -1 for null, then the UTF-8 bytes.
    ///
    /// # Panics
    /// If the string is longer than `i32::MAX` bytes.
    pub fn write_nullable_str(&mut self, value: Option<&str>) {
        self.write_nullable_bytes(value.map(str::as_bytes));
    }

    /// Reads a string or null written by [`write_nullable_str`](Self::write_nullable_str).
    pub fn read_nullable_string(&mut self) -> Result<Option<String>, ParcelError> {
        self.restoring(|p| match p.skip_i32_prefixed()? {
            Some(range) => p.utf8(range).map(|s| Some(s.to_owned())),
            None => Ok(None),
        })
    }

    /// Appends a byte array or null: an `i32` length, -1 for null, then the bytes.
    ///
    /// # Panics
    /// If the array is longer than `i32::MAX` bytes.
    pub fn write_nullable_bytes(&mut self, value: Option<&[u8]>) {
        match value {
            Some(bytes) => {
                let len = i32::try_from(bytes.len()).expect("nullable byte array over i32::MAX");
                self.write_i32(len);
                self.append(bytes);
            }
            None => self.write_i32(-1),
        }
    }

    /// Reads a byte array or null written by [`write_nullable_bytes`](Self::write_nullable_bytes).
    pub fn read_nullable_bytes(&mut self) -> Result<Option<Vec<u8>>, ParcelError> {
        let range = self.skip_i32_prefixed()?;
        Ok(range.map(|range| self.slice(range).to_vec()))
    }

    /// Moves `fd` into the parcel's fd table and appends its index.
    ///
    /// This cannot fail; [`check_fd_limit`](Self::check_fd_limit) says whether the parcel can
    /// still be sent.
    pub fn write_fd(&mut self, fd: OwnedFd) {
        self.write_len(self.fds.len());
        self.fds.push(Some(fd));
    }

    /// Duplicates `fd` (close-on-exec) into the parcel, as [`write_fd`](Self::write_fd) does;
    /// fails only if the duplication does.
    pub fn write_dup_fd(&mut self, fd: BorrowedFd<'_>) -> io::Result<()> {
        self.write_fd(fd.try_clone_to_owned()?);
        Ok(())
    }

    /// Reads an fd index and moves that fd out of the table. Fails with
    /// [`ParcelError::BadFdIndex`] for an index outside the table and
    /// [`ParcelError::FdAlreadyTaken`] for an fd taken before.
    pub fn take_fd(&mut self) -> Result<OwnedFd, ParcelError> {
        self.restoring(|p| {
            let offset = p.pos;
            let index = p.read_u32()?;
            let count = p.fds.len();
            let slot = usize::try_from(index)
                .ok()
                .and_then(|i| p.fds.get_mut(i))
                .ok_or(ParcelError::BadFdIndex {
                    offset,
                    index,
                    count,
                })?;
            slot.take()
                .ok_or(ParcelError::FdAlreadyTaken { offset, index })
        })
    }

    /// Appends `data` as a blob: a sealed memfd the receiver maps instead of copying, for
    /// payloads too large for a frame. Fails if the memfd cannot be made, or if `data` is over
    /// [`MAX_BLOB_BYTES`].
    pub fn write_blob(&mut self, data: &[u8]) -> io::Result<()> {
        if data.len() > MAX_BLOB_BYTES {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "blob over MAX_BLOB_BYTES",
            ));
        }
        let fd = blob::seal(data)?;
        self.write_u64(data.len() as u64);
        self.write_fd(fd);
        Ok(())
    }

    /// Appends a blob of `len` bytes that `fill` writes in place, in the memfd the receiver will
    /// map: a large payload produced this way is never copied. Fails as
    /// [`write_blob`](Self::write_blob) does.
    pub fn write_blob_with(&mut self, len: usize, fill: impl FnOnce(&mut [u8])) -> io::Result<()> {
        if len > MAX_BLOB_BYTES {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "blob over MAX_BLOB_BYTES",
            ));
        }
        let fd = blob::build(len, fill)?;
        self.write_u64(len as u64);
        self.write_fd(fd);
        Ok(())
    }

    /// Reads a blob: its length, then its memfd, which must be sealed and of that length.
    pub fn read_blob(&mut self) -> Result<Blob, ParcelError> {
        self.restoring(|p| {
            let offset = p.pos;
            let len = p.read_u64()?;
            let len = usize::try_from(len)
                .ok()
                .filter(|&l| l <= MAX_BLOB_BYTES)
                .ok_or(ParcelError::BadBlob {
                    offset,
                    reason: "longer than MAX_BLOB_BYTES",
                })?;
            let fd = p.take_fd()?;
            blob::map(fd, len, offset)
        })
    }

    /// Appends an object reference. Sending the parcel mints a reference for the receiver: a
    /// local object is exported, a proxy's owner is asked for a new reference.
    pub fn write_binder(&mut self, binder: &SpIBinder) {
        self.write_nullable_binder(Some(binder));
    }

    /// Appends an object reference or null.
    pub fn write_nullable_binder(&mut self, binder: Option<&SpIBinder>) {
        match binder {
            None => self.write_u8(0),
            Some(b) => {
                self.write_u8(1);
                self.write_len(self.objects.len());
                self.objects.push(b.clone());
            }
        }
    }

    /// Reads an object reference; null is [`ParcelError::UnexpectedNull`].
    pub fn read_binder(&mut self) -> Result<SpIBinder, ParcelError> {
        let offset = self.pos;
        self.read_nullable_binder()?.ok_or_else(|| {
            self.pos = offset;
            ParcelError::UnexpectedNull { offset }
        })
    }

    /// Reads an object reference or null.
    pub fn read_nullable_binder(&mut self) -> Result<Option<SpIBinder>, ParcelError> {
        self.restoring(|p| {
            let offset = p.pos;
            match p.read_u8()? {
                0 => Ok(None),
                1 => {
                    let at = p.pos;
                    let index = p.read_u32()?;
                    let count = p.objects.len();
                    let object = usize::try_from(index).ok().and_then(|i| p.objects.get(i));
                    let object = object.ok_or(ParcelError::BadObjectIndex {
                        offset: at,
                        index,
                        count,
                    })?;
                    Ok(Some(object.clone()))
                }
                value => Err(ParcelError::InvalidTag { offset, value }),
            }
        })
    }

    /// How many object references the parcel holds.
    pub fn object_count(&self) -> usize {
        self.objects.len()
    }

    /// Appends a [`Parcelable`] value.
    pub fn write<T: Parcelable>(&mut self, value: &T) {
        value.write_to(self);
    }

    /// Reads a [`Parcelable`] value.
    ///
    /// On failure the cursor goes back to where the value started; fds already taken out by the
    /// failed read stay taken.
    pub fn read<T: Parcelable>(&mut self) -> Result<T, ParcelError> {
        self.nested(T::read_from)
    }

    /// Appends an array: its `u32` element count, then the elements.
    ///
    /// # Panics
    /// If the slice has more than `u32::MAX` elements.
    pub fn write_slice<T: Parcelable>(&mut self, values: &[T]) {
        self.write_len(values.len());
        for value in values {
            value.write_to(self);
        }
    }

    /// Reads an array written by [`write_slice`](Self::write_slice).
    ///
    /// A count that the remaining bytes cannot hold at [`Parcelable::MIN_WIRE_SIZE`] bytes per
    /// element is [`ParcelError::Truncated`], found before anything is allocated.
    pub fn read_vec<T: Parcelable>(&mut self) -> Result<Vec<T>, ParcelError> {
        self.nested(|p| {
            let count = p.read_count(T::MIN_WIRE_SIZE)?;
            let mut values = Vec::with_capacity(count);
            for _ in 0..count {
                values.push(T::read_from(p)?);
            }
            Ok(values)
        })
    }

    /// Appends an optional value: a `u8` tag, 0 absent or 1 present, then the value if present.
    pub fn write_option<T: Parcelable>(&mut self, value: Option<&T>) {
        match value {
            Some(value) => {
                self.write_u8(1);
                value.write_to(self);
            }
            None => self.write_u8(0),
        }
    }

    /// Reads an optional value written by [`write_option`](Self::write_option); a tag other
    /// than 0 or 1 is [`ParcelError::InvalidTag`].
    pub fn read_option<T: Parcelable>(&mut self) -> Result<Option<T>, ParcelError> {
        self.nested(|p| {
            let offset = p.pos;
            match p.read_u8()? {
                0 => Ok(None),
                1 => T::read_from(p).map(Some),
                value => Err(ParcelError::InvalidTag { offset, value }),
            }
        })
    }

    /// Appends a length or count as a `u32`.
    /// Appends raw bytes, growing the buffer with room to spare for the call's trailer, which
    /// is appended in place when the parcel is sent: a large array is then never moved.
    fn append(&mut self, bytes: &[u8]) {
        if self.data.capacity() - self.data.len() < bytes.len() {
            // Room for what a call adds behind the data, with an object entry or so.
            self.data
                .reserve(bytes.len() + crate::call::TRAILER_ROOM + crate::call::OBJECT_LEN);
        }
        self.data.extend_from_slice(bytes);
    }

    fn write_len(&mut self, len: usize) {
        self.write_u32(u32::try_from(len).expect("length over u32::MAX"));
    }

    /// Runs `read` one nesting level down, as [`restoring`](Self::restoring) does; past
    /// [`MAX_PARCEL_NESTING`] levels it fails instead.
    fn nested<T>(
        &mut self,
        read: impl FnOnce(&mut Self) -> Result<T, ParcelError>,
    ) -> Result<T, ParcelError> {
        if self.depth >= MAX_PARCEL_NESTING {
            return Err(ParcelError::TooDeep {
                offset: self.pos,
                max: MAX_PARCEL_NESTING,
            });
        }
        self.depth += 1;
        let result = self.restoring(read);
        self.depth -= 1;
        result
    }

    /// Runs `read`, moving the cursor back to where it was if `read` fails.
    fn restoring<T>(
        &mut self,
        read: impl FnOnce(&mut Self) -> Result<T, ParcelError>,
    ) -> Result<T, ParcelError> {
        let start = self.pos;
        let result = read(self);
        if result.is_err() {
            self.pos = start;
        }
        result
    }

    /// Moves the cursor over the next `n` bytes and returns their range; every read goes
    /// through here. Fails without moving if fewer than `n` bytes are left.
    fn advance(&mut self, n: usize) -> Result<Range<usize>, ParcelError> {
        let offset = self.pos;
        let available = self.remaining();
        if n > available {
            return Err(ParcelError::Truncated {
                offset,
                needed: n,
                available,
            });
        }
        self.pos = offset + n;
        Ok(offset..self.pos)
    }

    /// The bytes in `range`, which [`advance`](Self::advance) returned.
    fn slice(&self, range: Range<usize>) -> &[u8] {
        self.data.get(range).unwrap_or_default()
    }

    /// Reads the next `N` bytes into an array.
    fn take_array<const N: usize>(&mut self) -> Result<[u8; N], ParcelError> {
        let range = self.advance(N)?;
        let mut bytes = [0; N];
        bytes.copy_from_slice(self.slice(range));
        Ok(bytes)
    }

    /// Reads a `u32` length and moves over that many bytes, returning their range.
    fn skip_u32_prefixed(&mut self) -> Result<Range<usize>, ParcelError> {
        self.restoring(|p| {
            let len = p.read_u32()?;
            p.advance(usize::try_from(len).unwrap_or(usize::MAX))
        })
    }

    /// Reads an `i32` length (-1 for null) and moves over that many bytes, returning their
    /// range, or `None` for null.
    fn skip_i32_prefixed(&mut self) -> Result<Option<Range<usize>>, ParcelError> {
        self.restoring(|p| {
            let offset = p.pos;
            match p.read_i32()? {
                -1 => Ok(None),
                len => {
                    let n = usize::try_from(len)
                        .map_err(|_| ParcelError::InvalidLength { offset, len })?;
                    p.advance(n).map(Some)
                }
            }
        })
    }

    /// Reads a `u32` element count and checks that the remaining bytes can hold that many
    /// elements of at least `min_size` bytes each.
    fn read_count(&mut self, min_size: usize) -> Result<usize, ParcelError> {
        let count = usize::try_from(self.read_u32()?).unwrap_or(usize::MAX);
        let needed = count.saturating_mul(min_size.max(1));
        let available = self.remaining();
        if needed > available {
            return Err(ParcelError::Truncated {
                offset: self.pos,
                needed,
                available,
            });
        }
        Ok(count)
    }

    /// The bytes in `range` as a string, or [`ParcelError::InvalidUtf8`] at the first bad byte.
    fn utf8(&self, range: Range<usize>) -> Result<&str, ParcelError> {
        let start = range.start;
        std::str::from_utf8(self.slice(range)).map_err(|e| ParcelError::InvalidUtf8 {
            offset: start + e.valid_up_to(),
        })
    }
}

impl fmt::Debug for Parcel {
    /// Shows the size, cursor and fds, not the data, which may be large.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Parcel")
            .field("len", &self.data.len())
            .field("position", &self.pos)
            .field("fds", &self.fds)
            .field("objects", &self.objects.len())
            .finish()
    }
}
