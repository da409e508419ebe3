//! A forged parcel cannot make a reader recurse without bound: a recursive parcelable nested
//! past `MAX_PARCEL_NESTING` levels is an error, not a stack overflow. The fuzz target `parcel`
//! found the overflow with afbus-idl's recursive `Everything` (`@nullable(heap=true) Everything
//! next`): a thousand levels fit in one frame and overflowed a 2 MiB thread.

use afbus_binder::{Parcel, ParcelError, Parcelable, MAX_PARCEL_NESTING};

/// A list node, shaped as afbus-idl generates a `@nullable(heap=true)` recursive field.
#[derive(Debug, PartialEq)]
struct Node {
    value: i32,
    next: Option<Box<Node>>,
}

impl Parcelable for Node {
    fn write_to(&self, p: &mut Parcel) {
        p.write_i32(self.value);
        match &self.next {
            Some(n) => {
                p.write_u8(1);
                p.write(&**n);
            }
            None => p.write_u8(0),
        }
    }

    fn read_from(p: &mut Parcel) -> Result<Self, ParcelError> {
        let value = p.read_i32()?;
        let next = match p.read_u8()? {
            0 => None,
            _ => Some(Box::new(p.read::<Node>()?)),
        };
        Ok(Node { value, next })
    }
}

/// The bytes of a list `levels` nodes long, written without recursion.
fn list_bytes(levels: usize) -> Vec<u8> {
    let mut data = Vec::with_capacity(levels * 5);
    for i in 0..levels {
        data.extend_from_slice(&(i as i32).to_le_bytes());
        data.push(u8::from(i + 1 < levels));
    }
    data
}

/// Reads a `Node` from `data` on a thread with a small stack, as a looper would.
fn read_on_small_stack(data: Vec<u8>) -> Result<(), ParcelError> {
    std::thread::Builder::new()
        .stack_size(512 * 1024)
        .spawn(move || {
            Parcel::from_parts(data, Vec::new())
                .read::<Node>()
                .map(drop)
        })
        .unwrap()
        .join()
        .expect("the reader did not panic")
}

#[test]
fn nesting_up_to_the_limit_reads() {
    assert_eq!(read_on_small_stack(list_bytes(MAX_PARCEL_NESTING)), Ok(()));
}

#[test]
fn nesting_past_the_limit_is_an_error() {
    let err = read_on_small_stack(list_bytes(MAX_PARCEL_NESTING + 1)).unwrap_err();
    assert_eq!(
        err,
        ParcelError::TooDeep {
            offset: MAX_PARCEL_NESTING * 5,
            max: MAX_PARCEL_NESTING
        }
    );
}

#[test]
fn a_frame_full_of_nesting_is_an_error_not_a_stack_overflow() {
    let levels = afbus_transport::MAX_PAYLOAD_BYTES / 5;
    assert!(matches!(
        read_on_small_stack(list_bytes(levels)),
        Err(ParcelError::TooDeep { .. })
    ));
}

#[test]
fn the_depth_is_restored_after_an_error() {
    let mut data = list_bytes(MAX_PARCEL_NESTING + 1);
    data.extend(list_bytes(3));
    let mut p = Parcel::from_parts(data, Vec::new());
    assert!(p.read::<Node>().is_err());
    // The cursor went back; skip the deep list and read the short one.
    p.set_position((MAX_PARCEL_NESTING + 1) * 5).unwrap();
    let short = p.read::<Node>().unwrap();
    assert_eq!(short.value, 0);
    assert_eq!(short.next.unwrap().next.unwrap().value, 2);
}
