//! The error a parcel read (or a check before sending) returns.

/// Why a parcel could not be read, or cannot be sent.
///
/// Read errors carry the byte offset of the bad or missing data, so a malformed message can be
/// diagnosed from its bytes. A failed read leaves the parcel's cursor where that read started.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParcelError {
    /// The data ends before the value does.
    #[error("parcel truncated at offset {offset}: needed {needed} bytes, {available} left")]
    Truncated {
        /// Where the short read began.
        offset: usize,
        /// How many bytes it needed (a lower bound for an array's elements).
        needed: usize,
        /// How many bytes were left from `offset`.
        available: usize,
    },
    /// A `bool` byte other than 0 or 1.
    #[error("invalid bool {value} at offset {offset}: must be 0 or 1")]
    InvalidBool {
        /// Where the byte is.
        offset: usize,
        /// The byte found.
        value: u8,
    },
    /// An optional value's presence tag other than 0 (absent) or 1 (present).
    #[error("invalid presence tag {value} at offset {offset}: must be 0 or 1")]
    InvalidTag {
        /// Where the tag is.
        offset: usize,
        /// The tag found.
        value: u8,
    },
    /// A string's bytes are not UTF-8.
    #[error("invalid UTF-8 at offset {offset}")]
    InvalidUtf8 {
        /// Where the first byte that is not valid UTF-8 is.
        offset: usize,
    },
    /// A nullable string's or byte array's length is negative but not -1 (null).
    #[error("invalid length {len} at offset {offset}")]
    InvalidLength {
        /// Where the length is.
        offset: usize,
        /// The length found.
        len: i32,
    },
    /// An fd index that is not in the parcel's fd table.
    #[error("fd index {index} at offset {offset} is out of range: the parcel has {count} fds")]
    BadFdIndex {
        /// Where the index is.
        offset: usize,
        /// The index found.
        index: u32,
        /// How many fds the parcel's table holds.
        count: usize,
    },
    /// An fd index whose fd was already taken out of the parcel.
    #[error("fd index {index} at offset {offset} was already taken")]
    FdAlreadyTaken {
        /// Where the index is.
        offset: usize,
        /// The index found.
        index: u32,
    },
    /// An fd was taken out of the parcel, so its data no longer matches its fd table and it
    /// cannot be sent on.
    #[error("fd {index} was taken out of the parcel: its data no longer matches its fds")]
    FdMissing {
        /// The index of the first fd taken.
        index: usize,
    },
    /// The parcel holds more fds than one frame can carry.
    #[error("parcel holds {count} fds, more than the {max} one frame can carry")]
    TooManyFds {
        /// How many fds the parcel holds.
        count: usize,
        /// The limit, [`MAX_PARCEL_FDS`](super::MAX_PARCEL_FDS).
        max: usize,
    },
    /// An object index that is not in the parcel's object table.
    #[error("object index {index} at offset {offset} is out of range: the parcel has {count}")]
    BadObjectIndex {
        /// Where the index is.
        offset: usize,
        /// The index found.
        index: u32,
        /// How many objects the parcel holds.
        count: usize,
    },
    /// A blob whose memfd is not what its sender said it was.
    #[error("bad blob at offset {offset}: {reason}")]
    BadBlob {
        /// Where the blob's length is.
        offset: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A null where a value was required.
    #[error("unexpected null at offset {offset}")]
    UnexpectedNull {
        /// Where the null tag is.
        offset: usize,
    },
    /// A cursor position past the end of the data.
    #[error("position {position} is past the end of the parcel ({len} bytes)")]
    PositionOutOfRange {
        /// The position asked for.
        position: usize,
        /// The parcel's length.
        len: usize,
    },
    /// Values nested deeper than [`MAX_PARCEL_NESTING`](super::MAX_PARCEL_NESTING): a reader
    /// would otherwise recurse once per level and a forged parcel could overflow its stack.
    #[error("values nested more than {max} deep at offset {offset}")]
    TooDeep {
        /// Where the value that went too deep starts.
        offset: usize,
        /// The limit.
        max: usize,
    },
    /// Well-formed bytes that are not a valid value of the type being read, such as an unknown
    /// enum tag; for [`Parcelable`](super::Parcelable) implementations to return.
    #[error("invalid {what} at offset {offset}")]
    InvalidValue {
        /// Where the value starts.
        offset: usize,
        /// What was being read, such as "Color tag".
        what: &'static str,
    },
}
