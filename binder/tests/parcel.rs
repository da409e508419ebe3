//! Parcel: round trips, the wire format, every error on crafted bytes, fds, and robustness
//! against random data.

use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use afbus_binder::parcel::{Parcel, ParcelError, Parcelable, MAX_PARCEL_FDS};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Shape {
    Circle,
    Square,
}

impl Parcelable for Shape {
    fn write_to(&self, p: &mut Parcel) {
        p.write_u8(match self {
            Shape::Circle => 0,
            Shape::Square => 1,
        });
    }

    fn read_from(p: &mut Parcel) -> Result<Self, ParcelError> {
        let offset = p.position();
        match p.read_u8()? {
            0 => Ok(Shape::Circle),
            1 => Ok(Shape::Square),
            _ => Err(ParcelError::InvalidValue {
                offset,
                what: "Shape tag",
            }),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Drawing {
    name: String,
    shape: Shape,
    points: Vec<i32>,
    tags: Option<Vec<String>>,
    visible: bool,
}

impl Parcelable for Drawing {
    const MIN_WIRE_SIZE: usize = 4 + 1 + 4 + 1 + 1;

    fn write_to(&self, p: &mut Parcel) {
        p.write_str(&self.name);
        p.write(&self.shape);
        p.write_slice(&self.points);
        p.write_option(self.tags.as_ref());
        p.write_bool(self.visible);
    }

    fn read_from(p: &mut Parcel) -> Result<Self, ParcelError> {
        Ok(Drawing {
            name: p.read_string()?,
            shape: p.read()?,
            points: p.read_vec()?,
            tags: p.read_option()?,
            visible: p.read_bool()?,
        })
    }
}

fn drawing() -> Drawing {
    Drawing {
        name: "house".into(),
        shape: Shape::Square,
        points: vec![1, -2, i32::MAX],
        tags: Some(vec!["a".into(), String::new()]),
        visible: true,
    }
}

fn parcel_of(bytes: &[u8]) -> Parcel {
    Parcel::from_parts(bytes.to_vec(), Vec::new())
}

fn pipe() -> (OwnedFd, OwnedFd) {
    nix::unistd::pipe().expect("pipe")
}

#[test]
fn every_primitive_round_trips() {
    let mut p = Parcel::new();
    p.write_bool(true);
    p.write_bool(false);
    p.write_i8(i8::MIN);
    p.write_u8(u8::MAX);
    p.write_i16(-12_345);
    p.write_u16(u16::MAX);
    p.write_i32(i32::MIN);
    p.write_u32(u32::MAX);
    p.write_i64(i64::MIN);
    p.write_u64(u64::MAX);
    p.write_f32(-1.5);
    p.write_f64(f64::NAN);
    p.write_char(0x00e9);
    p.rewind();
    assert!(p.read_bool().unwrap());
    assert!(!p.read_bool().unwrap());
    assert_eq!(p.read_i8().unwrap(), i8::MIN);
    assert_eq!(p.read_u8().unwrap(), u8::MAX);
    assert_eq!(p.read_i16().unwrap(), -12_345);
    assert_eq!(p.read_u16().unwrap(), u16::MAX);
    assert_eq!(p.read_i32().unwrap(), i32::MIN);
    assert_eq!(p.read_u32().unwrap(), u32::MAX);
    assert_eq!(p.read_i64().unwrap(), i64::MIN);
    assert_eq!(p.read_u64().unwrap(), u64::MAX);
    assert_eq!(p.read_f32().unwrap(), -1.5);
    assert_eq!(p.read_f64().unwrap().to_bits(), f64::NAN.to_bits());
    assert_eq!(p.read_char().unwrap(), 0x00e9);
    assert_eq!(p.remaining(), 0);
}

#[test]
fn strings_and_bytes_round_trip() {
    let mut p = Parcel::new();
    p.write_str("");
    p.write_str("héllo, 世界");
    p.write_bytes(&[0, 1, 255]);
    p.write_bytes(&[]);
    p.write_bytes(b"zero copy");
    p.write_nullable_str(None);
    p.write_nullable_str(Some("x"));
    p.write_nullable_bytes(None);
    p.write_nullable_bytes(Some(&[]));
    p.rewind();
    assert_eq!(p.read_string().unwrap(), "");
    assert_eq!(p.read_string().unwrap(), "héllo, 世界");
    assert_eq!(p.read_bytes().unwrap(), [0, 1, 255]);
    assert_eq!(p.read_bytes().unwrap(), Vec::<u8>::new());
    assert_eq!(p.read_bytes_ref().unwrap(), b"zero copy");
    assert_eq!(p.read_nullable_string().unwrap(), None);
    assert_eq!(p.read_nullable_string().unwrap().as_deref(), Some("x"));
    assert_eq!(p.read_nullable_bytes().unwrap(), None);
    assert_eq!(p.read_nullable_bytes().unwrap(), Some(Vec::new()));
    assert_eq!(p.remaining(), 0);
}

#[test]
fn parcelables_round_trip() {
    let mut p = Parcel::new();
    p.write(&String::from("s"));
    p.write(&vec![vec![1u16, 2], vec![]]);
    p.write(&vec![Some(3i64), None]);
    p.write(&Some(Some(false)));
    p.write(&None::<String>);
    p.write_slice(&[
        drawing(),
        Drawing {
            tags: None,
            ..drawing()
        },
    ]);
    p.write_option(Some(&drawing()));
    p.write_option::<Drawing>(None);
    p.write(&1.25f32);
    p.rewind();
    assert_eq!(p.read::<String>().unwrap(), "s");
    assert_eq!(p.read::<Vec<Vec<u16>>>().unwrap(), vec![vec![1, 2], vec![]]);
    assert_eq!(p.read::<Vec<Option<i64>>>().unwrap(), vec![Some(3), None]);
    assert_eq!(p.read::<Option<Option<bool>>>().unwrap(), Some(Some(false)));
    assert_eq!(p.read::<Option<String>>().unwrap(), None);
    let drawings: Vec<Drawing> = p.read_vec().unwrap();
    assert_eq!(
        drawings,
        [
            drawing(),
            Drawing {
                tags: None,
                ..drawing()
            }
        ]
    );
    assert_eq!(p.read_option().unwrap(), Some(drawing()));
    assert_eq!(p.read_option::<Drawing>().unwrap(), None);
    assert_eq!(p.read::<f32>().unwrap(), 1.25);
    assert_eq!(p.remaining(), 0);
}

#[test]
fn wire_format_is_little_endian_and_unpadded() {
    let mut p = Parcel::new();
    p.write_bool(true);
    p.write_u16(0x0102);
    p.write_str("hi");
    p.write_nullable_bytes(None);
    p.write_slice(&[7u8, 8]);
    p.write_option(Some(&-1i32));
    #[rustfmt::skip]
    let expected = [
        1,
        2, 1,
        2, 0, 0, 0, b'h', b'i',
        0xff, 0xff, 0xff, 0xff,
        2, 0, 0, 0, 7, 8,
        1, 0xff, 0xff, 0xff, 0xff,
    ];
    assert_eq!(p.as_bytes(), expected);
    // A Vec<u8> as a Parcelable has the bytes of write_bytes.
    let mut bytes = Parcel::new();
    bytes.write_bytes(&[7, 8]);
    let mut vec = Parcel::new();
    vec.write(&vec![7u8, 8]);
    assert_eq!(bytes.as_bytes(), vec.as_bytes());
}

#[test]
fn cursor_and_buffer_management() {
    let mut p = Parcel::default();
    assert!(p.is_empty());
    p.write_u32(5);
    p.write_u32(6);
    assert_eq!((p.len(), p.position(), p.remaining()), (8, 0, 8));
    p.set_position(4).unwrap();
    assert_eq!(p.read_u32().unwrap(), 6);
    assert_eq!(p.remaining(), 0);
    p.set_position(8).unwrap();
    p.rewind();
    assert_eq!(p.read_u32().unwrap(), 5);
    p.clear();
    assert!(p.is_empty());
    assert_eq!((p.position(), p.fd_count()), (0, 0));
    assert!(format!("{p:?}").starts_with("Parcel"));
}

/// Asserts that `read` fails with `expected` and leaves the cursor where it was.
#[track_caller]
fn assert_fails<T: std::fmt::Debug>(
    p: &mut Parcel,
    read: impl FnOnce(&mut Parcel) -> Result<T, ParcelError>,
    expected: ParcelError,
) {
    let before = p.position();
    assert_eq!(read(p).unwrap_err(), expected);
    assert_eq!(
        p.position(),
        before,
        "a failed read must not move the cursor"
    );
}

#[test]
fn truncated_data_is_an_error() {
    let mut p = parcel_of(&[0xaa, 1, 2, 3]);
    p.read_u8().unwrap();
    let truncated = ParcelError::Truncated {
        offset: 1,
        needed: 4,
        available: 3,
    };
    assert_fails(&mut p, Parcel::read_i32, truncated);
    // A string whose body is short: the error points at the body, the cursor stays at the length.
    let mut p = parcel_of(&[0, 5, 0, 0, 0, b'a', b'b']);
    p.read_u8().unwrap();
    let truncated = ParcelError::Truncated {
        offset: 5,
        needed: 5,
        available: 2,
    };
    assert_fails(&mut p, Parcel::read_string, truncated);
}

#[test]
fn a_huge_declared_length_fails_fast() {
    let mut huge = vec![0xff; 4];
    huge.extend_from_slice(b"abc");
    let start = Instant::now();
    let mut p = parcel_of(&huge);
    let needed = usize::try_from(u32::MAX).unwrap();
    let truncated = ParcelError::Truncated {
        offset: 4,
        needed,
        available: 3,
    };
    assert_fails(&mut p, Parcel::read_string, truncated.clone());
    assert_fails(&mut p, Parcel::read_bytes, truncated.clone());
    assert_fails(&mut p, Parcel::read_vec::<u8>, truncated);
    // Elements of at least 8 bytes: the count is checked against the bytes before allocating.
    let truncated = ParcelError::Truncated {
        offset: 4,
        needed: needed * 8,
        available: 3,
    };
    assert_fails(&mut p, Parcel::read_vec::<u64>, truncated);
    assert!(p.read_vec::<String>().is_err());
    assert!(p.read_vec::<Option<Drawing>>().is_err());
    assert!(start.elapsed() < Duration::from_secs(1));
}

#[test]
fn invalid_bool_is_an_error() {
    let mut p = parcel_of(&[1, 2]);
    assert!(p.read_bool().unwrap());
    assert_fails(
        &mut p,
        Parcel::read_bool,
        ParcelError::InvalidBool {
            offset: 1,
            value: 2,
        },
    );
}

#[test]
fn invalid_presence_tag_is_an_error() {
    let mut p = parcel_of(&[9, 7]);
    p.read_u8().unwrap();
    let invalid = ParcelError::InvalidTag {
        offset: 1,
        value: 7,
    };
    assert_fails(&mut p, Parcel::read_option::<u8>, invalid.clone());
    assert_fails(&mut p, Parcel::read::<Option<u8>>, invalid);
}

#[test]
fn invalid_utf8_points_at_the_bad_byte() {
    let mut p = parcel_of(&[0, 3, 0, 0, 0, b'a', 0xff, b'b']);
    p.read_u8().unwrap();
    assert_fails(
        &mut p,
        Parcel::read_string,
        ParcelError::InvalidUtf8 { offset: 6 },
    );
    let mut p = parcel_of(&[2, 0, 0, 0, 0xc3, 0x28]);
    let invalid = ParcelError::InvalidUtf8 { offset: 4 };
    assert_fails(&mut p, Parcel::read_nullable_string, invalid);
}

#[test]
fn a_negative_nullable_length_other_than_minus_one_is_an_error() {
    let mut p = parcel_of(&(-2i32).to_le_bytes());
    let invalid = ParcelError::InvalidLength { offset: 0, len: -2 };
    assert_fails(&mut p, Parcel::read_nullable_bytes, invalid.clone());
    assert_fails(&mut p, Parcel::read_nullable_string, invalid);
}

#[test]
fn set_position_past_the_end_is_an_error() {
    let mut p = parcel_of(&[1, 2]);
    let err = p.set_position(3).unwrap_err();
    assert_eq!(
        err,
        ParcelError::PositionOutOfRange {
            position: 3,
            len: 2
        }
    );
    assert_eq!(p.position(), 0);
}

#[test]
fn a_parcelable_reports_invalid_values_and_the_cursor_is_restored() {
    let mut p = Parcel::new();
    p.write_u8(0);
    p.write(&drawing());
    let mut bytes = p.as_bytes().to_vec();
    // The shape tag follows the name: 1 byte, then 4 + 5 bytes of "house".
    bytes[1 + 4 + 5] = 9;
    let mut p = parcel_of(&bytes);
    p.read_u8().unwrap();
    let invalid = ParcelError::InvalidValue {
        offset: 10,
        what: "Shape tag",
    };
    assert_fails(&mut p, Parcel::read::<Drawing>, invalid.clone());
    assert_eq!(invalid.to_string(), "invalid Shape tag at offset 10");

    // A bad element puts the cursor back at the array's count.
    let mut p = parcel_of(&[0, 3, 0, 0, 0, 1, 0, 4]);
    p.read_u8().unwrap();
    let invalid = ParcelError::InvalidValue {
        offset: 7,
        what: "Shape tag",
    };
    assert_fails(&mut p, Parcel::read_vec::<Shape>, invalid);
}

#[test]
fn fds_travel_through_the_parcel() {
    let (read_end, write_end) = pipe();
    let mut p = Parcel::new();
    p.write_i32(1);
    p.write_fd(write_end);
    p.write_i32(2);
    assert_eq!(p.fd_count(), 1);
    p.check_fd_limit().unwrap();

    // As the transport would: split into a frame's parts and rebuild on the other side.
    let (data, fds) = p.into_parts().unwrap();
    let mut p = Parcel::from_parts(data, fds);
    assert_eq!(p.read_i32().unwrap(), 1);
    let write_end = p.take_fd().unwrap();
    assert_eq!(p.read_i32().unwrap(), 2);
    assert!(p.fds().all(|fd| fd.is_none()));

    assert_eq!(nix::unistd::write(&write_end, b"ping").unwrap(), 4);
    let mut buf = [0; 4];
    assert_eq!(nix::unistd::read(read_end.as_fd(), &mut buf).unwrap(), 4);
    assert_eq!(&buf, b"ping");
}

#[test]
fn a_duplicated_fd_leaves_the_original_usable() {
    let (read_end, write_end) = pipe();
    let mut p = Parcel::new();
    p.write_dup_fd(write_end.as_fd()).unwrap();
    p.rewind();
    let dup = p.take_fd().unwrap();
    nix::unistd::write(&dup, b"a").unwrap();
    nix::unistd::write(&write_end, b"b").unwrap();
    let mut buf = [0; 2];
    assert_eq!(nix::unistd::read(read_end.as_fd(), &mut buf).unwrap(), 2);
    assert_eq!(&buf, b"ab");
}

#[test]
fn an_fd_index_out_of_range_is_an_error() {
    let (_read_end, write_end) = pipe();
    let mut data = vec![0xee];
    data.extend_from_slice(&1u32.to_le_bytes());
    let mut p = Parcel::from_parts(data, vec![write_end]);
    p.read_u8().unwrap();
    let bad = ParcelError::BadFdIndex {
        offset: 1,
        index: 1,
        count: 1,
    };
    assert_fails(&mut p, Parcel::take_fd, bad);
    assert_eq!(p.fds().len(), 1);
}

#[test]
fn an_fd_cannot_be_taken_twice() {
    let (_read_end, write_end) = pipe();
    let mut p = Parcel::new();
    p.write_fd(write_end);
    p.write_u32(0);
    p.rewind();
    p.take_fd().unwrap();
    let taken = ParcelError::FdAlreadyTaken {
        offset: 4,
        index: 0,
    };
    assert_fails(&mut p, Parcel::take_fd, taken);
}

#[test]
fn a_parcel_missing_a_taken_fd_cannot_be_sent() {
    let (read_end, write_end) = pipe();
    let mut p = Parcel::new();
    p.write_fd(read_end);
    p.write_fd(write_end);
    p.set_position(4).unwrap();
    let _write_end = p.take_fd().unwrap();
    assert_eq!(
        p.into_parts().unwrap_err(),
        ParcelError::FdMissing { index: 1 }
    );
}

#[test]
fn too_many_fds_are_reported_before_sending() {
    let (read_end, _write_end) = pipe();
    let mut p = Parcel::new();
    for _ in 0..MAX_PARCEL_FDS {
        p.write_dup_fd(read_end.as_fd()).unwrap();
    }
    p.check_fd_limit().unwrap();
    p.write_dup_fd(read_end.as_fd()).unwrap();
    let err = p.check_fd_limit().unwrap_err();
    assert_eq!(
        err,
        ParcelError::TooManyFds {
            count: 254,
            max: 253
        }
    );
}

/// xorshift64*: a small deterministic generator, so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> usize {
        usize::try_from(self.next() % n).unwrap()
    }

    /// A byte that is often 0, small or 0xff, so lengths, counts and tags are often plausible.
    fn byte(&mut self) -> u8 {
        match self.below(4) {
            0 => 0,
            1 => self.next() as u8 % 4,
            2 => 0xff,
            _ => self.next() as u8,
        }
    }
}

/// Runs one read chosen by `op`, reporting only whether it succeeded.
fn random_read(p: &mut Parcel, op: usize) -> bool {
    match op {
        0 => p.read_bool().is_ok(),
        1 => p.read_i8().is_ok(),
        2 => p.read_u16().is_ok(),
        3 => p.read_i32().is_ok(),
        4 => p.read_u64().is_ok(),
        5 => p.read_f64().is_ok(),
        6 => p.read_char().is_ok(),
        7 => p.read_string().is_ok(),
        8 => p.read_bytes().is_ok(),
        9 => p.read_bytes_ref().is_ok(),
        10 => p.read_nullable_string().is_ok(),
        11 => p.read_nullable_bytes().is_ok(),
        12 => p.take_fd().is_ok(),
        13 => p.read_vec::<u32>().is_ok(),
        14 => p.read::<Vec<String>>().is_ok(),
        15 => p.read_option::<Vec<Option<u16>>>().is_ok(),
        16 => p.read::<Drawing>().is_ok(),
        _ => p.read::<Vec<Option<Drawing>>>().is_ok(),
    }
}

#[test]
fn random_bytes_never_panic_and_failed_reads_never_move_the_cursor() {
    let (read_end, _write_end) = pipe();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut successes = 0;
    for _ in 0..10_000 {
        let len = rng.below(64);
        let data: Vec<u8> = (0..len).map(|_| rng.byte()).collect();
        let fds = (0..rng.below(3))
            .map(|_| read_end.try_clone().unwrap())
            .collect();
        let mut p = Parcel::from_parts(data, fds);
        for _ in 0..16 {
            let before = p.position();
            if random_read(&mut p, rng.below(18)) {
                successes += 1;
            } else {
                assert_eq!(p.position(), before);
                if rng.below(2) == 0 {
                    p.set_position(rng.below(len as u64 + 1)).unwrap();
                }
            }
            assert!(p.position() <= p.len());
        }
    }
    // The generator is biased towards plausible bytes, so many reads get past their checks.
    assert!(successes > 10_000, "only {successes} reads succeeded");
}

#[test]
fn a_blob_round_trips_and_hostile_memfds_are_refused() {
    use afbus_binder::MAX_BLOB_BYTES;
    use std::io::Write;
    use std::os::fd::OwnedFd;

    let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    let mut p = Parcel::new();
    p.write_blob(&data).unwrap();
    p.write_blob(&[]).unwrap();
    p.rewind();
    assert_eq!(&*p.read_blob().unwrap(), &data[..]);
    assert!(p.read_blob().unwrap().is_empty());

    let unsealed = || {
        let m = memfd::MemfdOptions::default()
            .allow_sealing(true)
            .create("t")
            .unwrap();
        m.as_file().write_all(b"abc").unwrap();
        m
    };
    let cases: Vec<(u64, OwnedFd, &str)> = vec![
        (3, OwnedFd::from(unsealed().into_file()), "not sealed"),
        (3, nix::unistd::pipe().unwrap().0, "not a memfd"),
        (
            4,
            {
                let m = unsealed();
                m.add_seals(&[
                    memfd::FileSeal::SealWrite,
                    memfd::FileSeal::SealShrink,
                    memfd::FileSeal::SealGrow,
                ])
                .unwrap();
                OwnedFd::from(m.into_file())
            },
            "size differs",
        ),
        (
            MAX_BLOB_BYTES as u64 + 1,
            nix::unistd::pipe().unwrap().0,
            "longer than MAX_BLOB_BYTES",
        ),
    ];
    // A sealed memfd received as a plain fd opens at the size its seals fix; an unsealed one
    // does not.
    let opened = afbus_binder::Blob::open(afbus_binder::Blob::seal(&data[..1000]).unwrap());
    assert_eq!(&*opened.unwrap(), &data[..1000]);
    assert!(matches!(
        afbus_binder::Blob::open(OwnedFd::from(unsealed().into_file())),
        Err(ParcelError::BadBlob { .. })
    ));
    for (len, fd, reason) in cases {
        let mut p = Parcel::new();
        p.write_u64(len);
        p.write_fd(fd);
        p.rewind();
        match p.read_blob() {
            Err(ParcelError::BadBlob {
                offset: 0,
                reason: r,
            }) => assert!(r.contains(reason), "{r}"),
            other => panic!("{reason}: {other:?}"),
        }
        assert_eq!(p.position(), 0, "the cursor stays");
    }
}
