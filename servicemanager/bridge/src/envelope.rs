//! What a bridged call and its reply look like on Zenoh: a parcel's data, its object table
//! turned into references the other bridge can resolve, and its blobs copied.
//!
//! A call or reply payload (little-endian, through [`afbus_transport::wire`]):
//! `version u8 = 1`, `code u32` (0 in a reply), the data (`u32` length, bytes), the object count
//! `u16` and one entry per object, the blob count `u16` and each blob (`u32` length, bytes).
//! An object entry is a kind byte and an id `u64`: `GIVEN` (0), one of the sender's objects,
//! followed by its interface descriptor (`u32` length, UTF-8); or `HOME` (1), one of the
//! receiver's own objects coming back, by the id the receiver gave it under.
//!
//! A failed call's reply is Zenoh's error reply whose payload is a [`Failure`]: exception `i32`,
//! code `i32`, message (`u32` length, UTF-8).
//!
//! A bridged signal ([`Signal`]): `version u8 = 1`, the field count `u16`, each field's key and
//! value (`u32` length, UTF-8), then the body (`u32` length, bytes).
//!
//! Everything here comes from another machine: each length is checked against its bound
//! before anything is allocated, and a payload that does not decode is an error with what and
//! where, never a panic.

use afbus_binder::{ExceptionCode, Status, StatusCode, TransactionCode};
use afbus_transport::wire::{Reader, Writer};

/// The most bytes a bridged call or reply may carry, data and blobs together: 64 MiB. Larger
/// payloads belong in a stream, not in one message across a network.
pub const MAX_BRIDGED_BYTES: usize = 64 * 1024 * 1024;
/// The most object references one bridged call or reply may carry.
pub const MAX_BRIDGED_OBJECTS: usize = 1024;
/// The most blobs (sealed memfds, copied across) one bridged call or reply may carry: as many
/// as a parcel may carry fds.
pub const MAX_BRIDGED_BLOBS: usize = afbus_binder::parcel::MAX_PARCEL_FDS;
/// The longest interface descriptor an object entry may name.
pub const MAX_DESCRIPTOR_LEN: usize = 1024;
/// The longest failure message a reply may carry.
pub const MAX_MESSAGE_LEN: usize = 64 * 1024;

const VERSION: u8 = 1;
const GIVEN: u8 = 0;
const HOME: u8 = 1;

/// An object reference as it crosses between two bridges.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ObjectRef {
    /// One of the sender's objects: the id it gave it under, and its interface.
    Given {
        /// The sender's id for it, for this receiver.
        id: u64,
        /// Its interface descriptor.
        descriptor: String,
    },
    /// One of the receiver's objects coming back, by the id the receiver gave it under.
    Home {
        /// The receiver's id for it.
        id: u64,
    },
}

/// A parcel as it crosses: its data, objects and blobs, in the parcel's order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Body {
    /// The parcel's data bytes, as they are.
    pub data: Vec<u8>,
    /// The parcel's object table.
    pub objects: Vec<ObjectRef>,
    /// The contents of the parcel's fds, each a sealed memfd (a blob).
    pub blobs: Vec<Vec<u8>>,
}

/// Why a bridged payload does not decode.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EnvelopeError {
    /// Not a version this bridge speaks.
    #[error("bridged payload of version {0}, not 1")]
    Version(u8),
    /// Too short, too long, or a bad field.
    #[error("malformed bridged payload: {what} at byte {offset}")]
    Malformed {
        /// What was being read.
        what: &'static str,
        /// Where.
        offset: usize,
    },
    /// Over one of the named bounds.
    #[error("bridged payload over its bound: {what} ({len} > {max})")]
    TooLarge {
        /// Which bound.
        what: &'static str,
        /// What the payload said.
        len: usize,
        /// The bound.
        max: usize,
    },
}

impl From<afbus_transport::Error> for EnvelopeError {
    fn from(e: afbus_transport::Error) -> Self {
        match e {
            afbus_transport::Error::Malformed { what, offset } => {
                EnvelopeError::Malformed { what, offset }
            }
            _ => EnvelopeError::Malformed {
                what: "payload",
                offset: 0,
            },
        }
    }
}

impl From<EnvelopeError> for Status {
    fn from(e: EnvelopeError) -> Status {
        Status::new_exception(ExceptionCode::BAD_PARCELABLE, e.to_string())
    }
}

impl Body {
    /// Data and blob bytes together, the size [`MAX_BRIDGED_BYTES`] bounds.
    pub fn payload_len(&self) -> usize {
        self.blobs.iter().map(Vec::len).sum::<usize>() + self.data.len()
    }

    /// Checks the named bounds, before a payload is built.
    pub fn check(&self) -> Result<(), EnvelopeError> {
        bound("bytes", self.payload_len(), MAX_BRIDGED_BYTES)?;
        bound("objects", self.objects.len(), MAX_BRIDGED_OBJECTS)?;
        bound("blobs", self.blobs.len(), MAX_BRIDGED_BLOBS)?;
        for o in &self.objects {
            if let ObjectRef::Given { descriptor, .. } = o {
                bound("descriptor", descriptor.len(), MAX_DESCRIPTOR_LEN)?;
            }
        }
        Ok(())
    }

    /// The payload of a call with transaction `code`.
    pub fn encode_call(&self, code: TransactionCode) -> Result<Vec<u8>, EnvelopeError> {
        self.encode(code.0)
    }

    /// The payload of a successful reply.
    pub fn encode_reply(&self) -> Result<Vec<u8>, EnvelopeError> {
        self.encode(0)
    }

    fn encode(&self, code: u32) -> Result<Vec<u8>, EnvelopeError> {
        self.check()?;
        let mut w = Writer(Vec::with_capacity(self.payload_len() + 64));
        w.u8(VERSION).u32(code).bytes(&self.data);
        w.u16(self.objects.len() as u16);
        for o in &self.objects {
            match o {
                ObjectRef::Given { id, descriptor } => w.u8(GIVEN).u64(*id).str(descriptor),
                ObjectRef::Home { id } => w.u8(HOME).u64(*id),
            };
        }
        w.u16(self.blobs.len() as u16);
        for b in &self.blobs {
            w.bytes(b);
        }
        Ok(w.finish())
    }

    /// Decodes a call's payload: its transaction code and body.
    pub fn decode_call(payload: &[u8]) -> Result<(TransactionCode, Body), EnvelopeError> {
        Body::decode(payload).map(|(code, body)| (TransactionCode(code), body))
    }

    /// Decodes a successful reply's payload.
    pub fn decode_reply(payload: &[u8]) -> Result<Body, EnvelopeError> {
        Body::decode(payload).map(|(_, body)| body)
    }

    fn decode(payload: &[u8]) -> Result<(u32, Body), EnvelopeError> {
        let mut r = Reader::new(payload);
        let version = r.u8("version")?;
        if version != VERSION {
            return Err(EnvelopeError::Version(version));
        }
        let code = r.u32("code")?;
        let data = r.bytes(MAX_BRIDGED_BYTES, "data")?.to_vec();
        let count = usize::from(r.u16("object count")?);
        bound("objects", count, MAX_BRIDGED_OBJECTS)?;
        let mut objects = Vec::with_capacity(count);
        for _ in 0..count {
            let at = r.position();
            objects.push(match r.u8("object kind")? {
                GIVEN => ObjectRef::Given {
                    id: r.u64("object id")?,
                    descriptor: r.str(MAX_DESCRIPTOR_LEN, "descriptor")?.to_owned(),
                },
                HOME => ObjectRef::Home {
                    id: r.u64("object id")?,
                },
                _ => {
                    return Err(EnvelopeError::Malformed {
                        what: "object kind",
                        offset: at,
                    })
                }
            });
        }
        let count = usize::from(r.u16("blob count")?);
        bound("blobs", count, MAX_BRIDGED_BLOBS)?;
        let mut blobs = Vec::with_capacity(count);
        let mut total = data.len();
        for _ in 0..count {
            let blob = r.bytes(MAX_BRIDGED_BYTES, "blob")?;
            total += blob.len();
            bound("bytes", total, MAX_BRIDGED_BYTES)?;
            blobs.push(blob.to_vec());
        }
        r.end("bridged payload")?;
        Ok((
            code,
            Body {
                data,
                objects,
                blobs,
            },
        ))
    }
}

/// A bus signal as it crosses: its fields (one of them `member`) and its body.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Signal {
    /// The signal's fields, in order.
    pub fields: Vec<(String, String)>,
    /// Its body.
    pub body: Vec<u8>,
}

impl Signal {
    /// The payload of a bridged signal.
    pub fn encode(&self) -> Result<Vec<u8>, EnvelopeError> {
        bound("fields", self.fields.len(), afbus_transport::MAX_FIELDS)?;
        bound(
            "signal body",
            self.body.len(),
            afbus_transport::MAX_PAYLOAD_BYTES,
        )?;
        let mut w = Writer::default();
        w.u8(VERSION).u16(self.fields.len() as u16);
        for (k, v) in &self.fields {
            bound(
                "field",
                k.len().max(v.len()),
                afbus_transport::MAX_FIELD_LEN,
            )?;
            w.str(k).str(v);
        }
        w.bytes(&self.body);
        Ok(w.finish())
    }

    /// Decodes a bridged signal's payload.
    pub fn decode(payload: &[u8]) -> Result<Signal, EnvelopeError> {
        let mut r = Reader::new(payload);
        let version = r.u8("version")?;
        if version != VERSION {
            return Err(EnvelopeError::Version(version));
        }
        let count = usize::from(r.u16("field count")?);
        bound("fields", count, afbus_transport::MAX_FIELDS)?;
        let mut fields = Vec::with_capacity(count);
        for _ in 0..count {
            let k = r.str(afbus_transport::MAX_FIELD_LEN, "field key")?;
            let v = r.str(afbus_transport::MAX_FIELD_LEN, "field value")?;
            fields.push((k.to_owned(), v.to_owned()));
        }
        let body = r
            .bytes(afbus_transport::MAX_PAYLOAD_BYTES, "signal body")?
            .to_vec();
        r.end("bridged signal")?;
        Ok(Signal { fields, body })
    }

    /// Its `member` field, if it has exactly one (with two, the bus would match either, and
    /// a policy decides on one).
    pub fn only_member(&self) -> Option<&str> {
        let mut members = self.fields.iter().filter(|(k, _)| k == "member");
        match (members.next(), members.next()) {
            (Some((_, v)), None) => Some(v),
            _ => None,
        }
    }
}

fn bound(what: &'static str, len: usize, max: usize) -> Result<(), EnvelopeError> {
    if len > max {
        return Err(EnvelopeError::TooLarge { what, len, max });
    }
    Ok(())
}

/// A failed call, as its error reply carries it: the [`Status`] the caller gets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure(pub Status);

impl Failure {
    /// A transaction-level failure (`DEAD_OBJECT`, `PERMISSION_DENIED`...).
    pub fn code(code: StatusCode, message: impl Into<String>) -> Failure {
        Failure(transaction_failed(code, message.into()))
    }

    /// The error reply's payload.
    pub fn encode(&self) -> Vec<u8> {
        let s = &self.0;
        let code = if s.exception_code() == ExceptionCode::TRANSACTION_FAILED {
            s.transaction_error().0
        } else {
            s.service_specific_code()
        };
        let message = s.message();
        let message = &message[..floor_char_boundary(message, MAX_MESSAGE_LEN)];
        let mut w = Writer::default();
        w.i32(s.exception_code().0).i32(code).str(message);
        w.finish()
    }

    /// Decodes an error reply's payload.
    pub fn decode(payload: &[u8]) -> Result<Failure, EnvelopeError> {
        let mut r = Reader::new(payload);
        let exception = ExceptionCode(r.i32("exception")?);
        let code = r.i32("code")?;
        let message = r.str(MAX_MESSAGE_LEN, "message")?.to_owned();
        r.end("failure")?;
        Ok(Failure(if exception == ExceptionCode::TRANSACTION_FAILED {
            transaction_failed(StatusCode(code), message)
        } else if exception == ExceptionCode::SERVICE_SPECIFIC {
            Status::new_service_specific(code, message)
        } else {
            Status::new_exception(exception, message)
        }))
    }
}

fn transaction_failed(code: StatusCode, message: String) -> Status {
    Status::from(afbus_binder::Error::new(code, message))
}

/// The largest index at most `max` that is a char boundary of `s`.
fn floor_char_boundary(s: &str, max: usize) -> usize {
    if s.len() <= max {
        return s.len();
    }
    (0..=max)
        .rev()
        .find(|&i| s.is_char_boundary(i))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Body {
        Body {
            data: b"hello".to_vec(),
            objects: vec![
                ObjectRef::Given {
                    id: 7,
                    descriptor: "org.example.ICallback".into(),
                },
                ObjectRef::Home { id: 9 },
            ],
            blobs: vec![vec![1, 2, 3], Vec::new()],
        }
    }

    #[test]
    fn a_call_and_a_reply_read_back() {
        let body = sample();
        let payload = body.encode_call(TransactionCode(5)).unwrap();
        assert_eq!(
            Body::decode_call(&payload).unwrap(),
            (TransactionCode(5), body.clone())
        );
        assert_eq!(
            Body::decode_reply(&body.encode_reply().unwrap()).unwrap(),
            body
        );
    }

    #[test]
    fn every_truncation_and_extension_is_a_clear_error() {
        let payload = sample().encode_call(TransactionCode(5)).unwrap();
        for n in 0..payload.len() {
            let e = Body::decode_call(&payload[..n]).unwrap_err();
            assert!(matches!(e, EnvelopeError::Malformed { .. }), "{n}: {e:?}");
        }
        let mut longer = payload.clone();
        longer.push(0);
        assert!(Body::decode_call(&longer).is_err());
        let mut other = payload;
        other[0] = 2;
        assert_eq!(Body::decode_call(&other), Err(EnvelopeError::Version(2)));
    }

    #[test]
    fn bounds_hold_at_the_edge() {
        let mut body = Body {
            objects: vec![ObjectRef::Home { id: 1 }; MAX_BRIDGED_OBJECTS],
            ..Body::default()
        };
        let payload = body.encode_reply().unwrap();
        assert_eq!(Body::decode_reply(&payload).unwrap(), body);
        body.objects.push(ObjectRef::Home { id: 1 });
        assert!(matches!(
            body.encode_reply(),
            Err(EnvelopeError::TooLarge {
                what: "objects",
                ..
            })
        ));
        // A hostile count past the bound is refused before anything is allocated.
        let mut w = Writer::default();
        w.u8(VERSION).u32(0).bytes(&[]).u16(u16::MAX);
        assert!(matches!(
            Body::decode_reply(&w.finish()),
            Err(EnvelopeError::TooLarge {
                what: "objects",
                ..
            })
        ));
        let big = Body {
            blobs: vec![
                vec![0; MAX_BRIDGED_BYTES / 2],
                vec![0; MAX_BRIDGED_BYTES / 2 + 1],
            ],
            ..Body::default()
        };
        assert!(matches!(
            big.encode_reply(),
            Err(EnvelopeError::TooLarge { what: "bytes", .. })
        ));
    }

    #[test]
    fn signals_read_back_and_keep_to_the_bus_bounds() {
        let s = Signal {
            fields: vec![
                ("member".into(), "BatteryLow".into()),
                ("path".into(), "/power".into()),
            ],
            body: b"12%".to_vec(),
        };
        let payload = s.encode().unwrap();
        assert_eq!(Signal::decode(&payload).unwrap(), s);
        assert_eq!(s.only_member(), Some("BatteryLow"));
        let mut two = s.clone();
        two.fields.push(("member".into(), "Secret".into()));
        assert_eq!(two.only_member(), None, "two members are refused");
        for n in 0..payload.len() {
            assert!(Signal::decode(&payload[..n]).is_err());
        }
        let many = Signal {
            fields: vec![("k".into(), "v".into()); afbus_transport::MAX_FIELDS + 1],
            body: Vec::new(),
        };
        assert!(matches!(
            many.encode(),
            Err(EnvelopeError::TooLarge { what: "fields", .. })
        ));
    }

    #[test]
    fn failures_keep_their_kind() {
        for status in [
            Status::from(StatusCode::DEAD_OBJECT),
            Status::from(StatusCode::FDS_NOT_ALLOWED),
            Status::new_service_specific(42, "no such thing"),
            Status::new_exception(ExceptionCode::SECURITY, "denied"),
        ] {
            let back = Failure::decode(&Failure(status.clone()).encode()).unwrap();
            assert_eq!(back.0.exception_code(), status.exception_code());
            assert_eq!(back.0.transaction_error(), status.transaction_error());
            assert_eq!(
                back.0.service_specific_code(),
                status.service_specific_code()
            );
        }
        let f = Failure::code(StatusCode::PERMISSION_DENIED, "hostb may not call x");
        assert_eq!(f.0.transaction_error(), StatusCode::PERMISSION_DENIED);
        assert_eq!(f.0.message(), "hostb may not call x");
        assert!(Failure::decode(&[1, 2]).is_err());
    }
}
