//! The `Parcelable` trait and its implementations for the built-in types.

use super::{Parcel, ParcelError};

/// A type that can be written to a [`Parcel`] and read back.
///
/// `read_from` must read exactly what `write_to` wrote. It may return
/// [`ParcelError::InvalidValue`] for bytes that are well formed but not a value of the type; it
/// need not restore the cursor on failure, because [`Parcel::read`] does.
///
/// ```
/// use afbus_binder::{Parcel, ParcelError, Parcelable};
///
/// #[derive(Debug, PartialEq)]
/// struct Point {
///     x: i32,
///     y: i32,
/// }
///
/// impl Parcelable for Point {
///     const MIN_WIRE_SIZE: usize = 8;
///
///     fn write_to(&self, p: &mut Parcel) {
///         p.write_i32(self.x);
///         p.write_i32(self.y);
///     }
///
///     fn read_from(p: &mut Parcel) -> Result<Self, ParcelError> {
///         Ok(Point { x: p.read_i32()?, y: p.read_i32()? })
///     }
/// }
///
/// let mut p = Parcel::new();
/// p.write(&Point { x: 1, y: -2 });
/// p.rewind();
/// assert_eq!(p.read::<Point>().unwrap(), Point { x: 1, y: -2 });
/// ```
pub trait Parcelable: Sized {
    /// The fewest bytes any value of this type takes on the wire; 0 counts as 1.
    ///
    /// [`Parcel::read_vec`] refuses an element count that the remaining bytes could not hold at
    /// this size, so a forged count cannot make it allocate more than the data justifies.
    /// Overstating it rejects good data; the default of 1 is always safe.
    const MIN_WIRE_SIZE: usize = 1;

    /// Appends this value to `parcel`.
    fn write_to(&self, parcel: &mut Parcel);

    /// Reads a value from `parcel` at its cursor.
    fn read_from(parcel: &mut Parcel) -> Result<Self, ParcelError>;
}

/// Implements `Parcelable` for fixed-size types through their `write_*`/`read_*` pair.
macro_rules! fixed_size_parcelable {
    ($($ty:ty => $write:ident, $read:ident;)*) => {$(
        impl Parcelable for $ty {
            const MIN_WIRE_SIZE: usize = std::mem::size_of::<$ty>();

            fn write_to(&self, parcel: &mut Parcel) {
                parcel.$write(*self);
            }

            fn read_from(parcel: &mut Parcel) -> Result<Self, ParcelError> {
                parcel.$read()
            }
        }
    )*};
}

fixed_size_parcelable! {
    bool => write_bool, read_bool;
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

/// Written as [`Parcel::write_str`].
impl Parcelable for String {
    const MIN_WIRE_SIZE: usize = 4;

    fn write_to(&self, parcel: &mut Parcel) {
        parcel.write_str(self);
    }

    fn read_from(parcel: &mut Parcel) -> Result<Self, ParcelError> {
        parcel.read_string()
    }
}

/// Written as [`Parcel::write_slice`]. A `Vec<u8>` so written has the same bytes as
/// [`Parcel::write_bytes`], which is the faster way to write one.
impl<T: Parcelable> Parcelable for Vec<T> {
    const MIN_WIRE_SIZE: usize = 4;

    fn write_to(&self, parcel: &mut Parcel) {
        parcel.write_slice(self);
    }

    fn read_from(parcel: &mut Parcel) -> Result<Self, ParcelError> {
        parcel.read_vec()
    }
}

/// Written as [`Parcel::write_option`]: a presence tag, then the value. This is not the
/// length -1 form of [`Parcel::write_nullable_str`].
impl<T: Parcelable> Parcelable for Option<T> {
    fn write_to(&self, parcel: &mut Parcel) {
        parcel.write_option(self.as_ref());
    }

    fn read_from(parcel: &mut Parcel) -> Result<Self, ParcelError> {
        parcel.read_option()
    }
}
