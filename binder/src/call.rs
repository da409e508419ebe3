//! The binder layer's framing inside a transport frame.
//!
//! A call's payload is the parcel's data, its object table, then a fixed trailer. Putting the
//! trailer last lets the receiver hand the data to the parcel without moving it. The frame's fds
//! are the parcel's fds, then one reference channel per `CHANNEL` entry of the object table, in
//! order.
//!
//! Object table: one 25-byte entry per object of the parcel, in order: kind u8, then three
//! u64 (little-endian). An object's identity is never the sender's word about someone else:
//! - `CHANNEL` (0): a reference channel, the frame's next fd, whose owner introduces it (see
//!   [`crate::intro`]); the u64s are 0.
//! - `GIVEN` (1): one of the sender's own objects, given over the channel this frame travels on
//!   (see [`crate::gives`]): its key there, its number and the sender's runtime id. The
//!   receiver calls it on this channel by its key.
//! - `HOME` (2): one of the receiver's own objects, going back over the channel through which
//!   the sender holds it: the key it was given by (its channel's key, or a give's). Only a key
//!   given over this very channel is accepted.
//!
//! Call trailer (37 bytes, little-endian): target u64 (0: the channel's own object; otherwise
//! the key of an object given over this channel, or, in a nested call only, the key of a
//! reference the caller holds), caller runtime id u64, nested-in transaction u64 (0: none),
//! scheduling policy u8, priority level i32, parcel fd count u16, object count u16, data length
//! u32.
//!
//! Reply trailer (20 bytes), after the object table and a UTF-8 message: exception i32 (0:
//! success), code i32, message length u32, parcel fd count u16, object count u16, data length
//! u32.
//!
//! A `RELEASE` one-way frame has its own 12-byte payload: the key u64 (0: the channel's own
//! object) and how many gives of it the sender lets go, u32.

use crate::priority::Priority;
use crate::status::{Error, Result, Status, StatusCode};

/// Frame flag: this request belongs to a call the receiver is waiting on (`nested_in`).
pub(crate) const FLAG_NESTED: u16 = 1;
/// Frame flag: the parcel's data was too large for a frame and travels as a sealed memfd, the
/// frame's last fd; the data in the payload is empty.
pub(crate) const FLAG_SPILLED: u16 = 2;

const CALL_TRAILER_LEN: usize = 37;
const REPLY_TRAILER_LEN: usize = 20;

/// The fixed part of a call.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CallInfo {
    pub target: u64,
    pub caller_runtime: u64,
    pub nested_in: u64,
    pub priority: Priority,
}

/// One entry of a frame's object table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WireObject {
    /// A reference channel: the frame's next object fd.
    Channel,
    /// An object of the sender's, given over this channel under `key`.
    Given { key: u64, number: u64, owner: u64 },
    /// An object of the receiver's, coming back under the key it was given by.
    Home { key: u64 },
}

pub(crate) const OBJECT_LEN: usize = 25;
const CHANNEL: u8 = 0;
const GIVEN: u8 = 1;
const HOME: u8 = 2;

/// Length of a `RELEASE` frame's payload.
pub(crate) const RELEASE_LEN: usize = 12;

/// The payload of a `RELEASE` frame.
pub(crate) fn encode_release(key: u64, count: u32) -> [u8; RELEASE_LEN] {
    let mut b = [0u8; RELEASE_LEN];
    b[..8].copy_from_slice(&key.to_le_bytes());
    b[8..].copy_from_slice(&count.to_le_bytes());
    b
}

pub(crate) fn decode_release(payload: &[u8]) -> Option<(u64, u32)> {
    if payload.len() != RELEASE_LEN {
        return None;
    }
    let mut f = Fields {
        buf: payload,
        at: 0,
    };
    Some((f.u64(), f.u32()))
}

fn encode_objects(data: &mut Vec<u8>, objects: &[WireObject]) {
    for o in objects {
        let (kind, a, b, c) = match *o {
            WireObject::Channel => (CHANNEL, 0, 0, 0),
            WireObject::Given { key, number, owner } => (GIVEN, key, number, owner),
            WireObject::Home { key } => (HOME, key, 0, 0),
        };
        data.push(kind);
        for v in [a, b, c] {
            data.extend_from_slice(&v.to_le_bytes());
        }
    }
}

/// A decoded call or reply body: the parcel's data, how many of the frame's fds are the
/// parcel's (the rest are reference channels), and the object table.
pub(crate) struct Body {
    pub data: Vec<u8>,
    pub parcel_fds: usize,
    pub objects: Vec<WireObject>,
}

pub(crate) fn encode_call(
    mut data: Vec<u8>,
    parcel_fds: usize,
    objects: &[WireObject],
    info: &CallInfo,
) -> Vec<u8> {
    let data_len = data.len();
    encode_objects(&mut data, objects);
    let objects = objects.len();
    let (policy, level) = info.priority.encode();
    data.extend_from_slice(&info.target.to_le_bytes());
    data.extend_from_slice(&info.caller_runtime.to_le_bytes());
    data.extend_from_slice(&info.nested_in.to_le_bytes());
    data.push(policy);
    data.extend_from_slice(&level.to_le_bytes());
    data.extend_from_slice(&(parcel_fds as u16).to_le_bytes());
    data.extend_from_slice(&(objects as u16).to_le_bytes());
    data.extend_from_slice(&(data_len as u32).to_le_bytes());
    data
}

pub(crate) fn encode_reply(
    mut data: Vec<u8>,
    parcel_fds: usize,
    objects: &[WireObject],
    status: Option<&Status>,
) -> Vec<u8> {
    let data_len = data.len();
    encode_objects(&mut data, objects);
    let objects = objects.len();
    let (exception, code, message) = status.map_or((0, 0, ""), Status::raw_parts);
    data.extend_from_slice(message.as_bytes());
    data.extend_from_slice(&exception.to_le_bytes());
    data.extend_from_slice(&code.to_le_bytes());
    data.extend_from_slice(&(message.len() as u32).to_le_bytes());
    data.extend_from_slice(&(parcel_fds as u16).to_le_bytes());
    data.extend_from_slice(&(objects as u16).to_le_bytes());
    data.extend_from_slice(&(data_len as u32).to_le_bytes());
    data
}

/// Reads little-endian fields from a byte slice, checking bounds.
struct Fields<'a> {
    buf: &'a [u8],
    at: usize,
}

impl Fields<'_> {
    fn take<const N: usize>(&mut self) -> [u8; N] {
        let mut a = [0u8; N];
        a.copy_from_slice(&self.buf[self.at..self.at + N]);
        self.at += N;
        a
    }
    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.take())
    }
    fn i32(&mut self) -> i32 {
        i32::from_le_bytes(self.take())
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.take())
    }
    fn u16(&mut self) -> usize {
        usize::from(u16::from_le_bytes(self.take()))
    }
    fn u8(&mut self) -> u8 {
        self.take::<1>()[0]
    }
}

fn malformed(what: &'static str) -> Error {
    Error::new(StatusCode::BAD_VALUE, what)
}

/// Cuts `payload` to the body that precedes `tail_start` (the data, then the object table),
/// checking that the lengths add up and match the fds that arrived.
fn split(
    mut payload: Vec<u8>,
    tail_start: usize,
    data_len: usize,
    nobj: usize,
    parcel_fds: usize,
    frame_fds: usize,
) -> Result<Body> {
    if data_len.checked_add(nobj * OBJECT_LEN) != Some(tail_start) {
        return Err(malformed("lengths in the trailer do not add up"));
    }
    let mut f = Fields {
        buf: &payload,
        at: data_len,
    };
    let mut objects = Vec::with_capacity(nobj);
    for _ in 0..nobj {
        let kind = f.u8();
        let (a, b, c) = (f.u64(), f.u64(), f.u64());
        objects.push(match kind {
            CHANNEL => WireObject::Channel,
            GIVEN if a != 0 => WireObject::Given {
                key: a,
                number: b,
                owner: c,
            },
            HOME if a != 0 => WireObject::Home { key: a },
            _ => return Err(malformed("bad object table entry")),
        });
    }
    let channels = objects
        .iter()
        .filter(|o| **o == WireObject::Channel)
        .count();
    if parcel_fds + channels != frame_fds {
        return Err(malformed(
            "fd count does not match the objects and parcel fds",
        ));
    }
    payload.truncate(data_len);
    Ok(Body {
        data: payload,
        parcel_fds,
        objects,
    })
}

/// The keys of a frame's `HOME` entries, in order, read before the rest is decoded (so that
/// the objects they name are pinned in channel order); empty if the frame is malformed, which
/// its decoding then reports.
pub(crate) fn peek_homes(payload: &[u8], reply: bool) -> Vec<u64> {
    let table_end = if reply {
        let Some(tail) = payload.len().checked_sub(REPLY_TRAILER_LEN) else {
            return Vec::new();
        };
        let msg_len = Fields {
            buf: payload,
            at: tail + 8,
        }
        .u32() as usize;
        match tail.checked_sub(msg_len) {
            Some(end) => end,
            None => return Vec::new(),
        }
    } else {
        match payload.len().checked_sub(CALL_TRAILER_LEN) {
            Some(end) => end,
            None => return Vec::new(),
        }
    };
    let trailer_objects_at = payload.len() - 6;
    let nobj = Fields {
        buf: payload,
        at: trailer_objects_at,
    }
    .u16();
    let Some(start) = table_end.checked_sub(nobj * OBJECT_LEN) else {
        return Vec::new();
    };
    payload[start..table_end]
        .chunks_exact(OBJECT_LEN)
        .filter(|e| e[0] == HOME)
        .map(|e| u64::from_le_bytes(e[1..9].try_into().unwrap_or_default()))
        .collect()
}

/// Only the target, to find the object a one-way call is for before decoding the rest.
pub(crate) fn peek_target(payload: &[u8]) -> Option<u64> {
    let at = payload.len().checked_sub(CALL_TRAILER_LEN)?;
    Some(Fields { buf: payload, at }.u64())
}

pub(crate) fn decode_call(payload: Vec<u8>, frame_fds: usize) -> Result<(Body, CallInfo)> {
    let Some(tail) = payload.len().checked_sub(CALL_TRAILER_LEN) else {
        return Err(malformed("call shorter than its trailer"));
    };
    let mut f = Fields {
        buf: &payload,
        at: tail,
    };
    let target = f.u64();
    let caller_runtime = f.u64();
    let nested_in = f.u64();
    let (policy, level) = (f.u8(), f.i32());
    let (parcel_fds, nobj, data_len) = (f.u16(), f.u16(), f.u32() as usize);
    let priority = Priority::decode(policy, level).ok_or_else(|| malformed("bad priority"))?;
    let body = split(payload, tail, data_len, nobj, parcel_fds, frame_fds)?;
    Ok((
        body,
        CallInfo {
            target,
            caller_runtime,
            nested_in,
            priority,
        },
    ))
}

/// Only the caller's runtime id, to route calls made while serving this one.
pub(crate) fn peek_caller(payload: &[u8]) -> Option<u64> {
    let at = payload.len().checked_sub(CALL_TRAILER_LEN)? + 8;
    Some(Fields { buf: payload, at }.u64())
}

/// Only the nested-in field, to route a request before decoding the rest.
pub(crate) fn peek_nested_in(payload: &[u8]) -> Option<u64> {
    let at = payload.len().checked_sub(CALL_TRAILER_LEN)? + 16;
    Some(Fields { buf: payload, at }.u64())
}

pub(crate) fn decode_reply(payload: Vec<u8>, frame_fds: usize) -> Result<(Body, Option<Status>)> {
    let Some(tail) = payload.len().checked_sub(REPLY_TRAILER_LEN) else {
        return Err(malformed("reply shorter than its trailer"));
    };
    let mut f = Fields {
        buf: &payload,
        at: tail,
    };
    let (exception, code, msg_len) = (f.i32(), f.i32(), f.u32() as usize);
    let (parcel_fds, nobj, data_len) = (f.u16(), f.u16(), f.u32() as usize);
    let Some(msg_start) = tail.checked_sub(msg_len) else {
        return Err(malformed("reply message longer than the reply"));
    };
    let status = if exception == 0 {
        None
    } else {
        let msg = String::from_utf8_lossy(&payload[msg_start..tail]).into_owned();
        Some(Status::from_raw_parts(exception, code, msg))
    };
    let body = split(payload, msg_start, data_len, nobj, parcel_fds, frame_fds)?;
    Ok((body, status))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_round_trip() {
        let info = CallInfo {
            target: 3,
            caller_runtime: 9,
            nested_in: 7,
            priority: Priority::DEFAULT,
        };
        let objects = [
            WireObject::Channel,
            WireObject::Given {
                key: 5,
                number: 6,
                owner: 7,
            },
            WireObject::Home { key: 8 },
        ];
        let wire = encode_call(b"abc".to_vec(), 2, &objects, &info);
        assert_eq!(peek_nested_in(&wire), Some(7));
        assert_eq!(peek_target(&wire), Some(3));
        assert!(
            decode_call(wire.clone(), 2).is_err(),
            "a channel without its fd"
        );
        let (body, back) = decode_call(wire.clone(), 3).unwrap();
        assert_eq!((body.data.as_slice(), body.parcel_fds), (&b"abc"[..], 2));
        assert_eq!(body.objects, objects);
        assert_eq!(peek_homes(&wire, false), [8]);
        let mut bad = wire;
        bad[3] = 9;
        assert!(decode_call(bad, 3).is_err(), "an unknown object kind");
        assert_eq!(
            (back.target, back.caller_runtime, back.nested_in),
            (3, 9, 7)
        );
    }

    #[test]
    fn reply_round_trip_and_hostile_lengths() {
        let st = Status::new_service_specific(42, "nope");
        let home = [WireObject::Home { key: 4 }];
        let wire = encode_reply(b"xy".to_vec(), 0, &home, Some(&st));
        assert_eq!(peek_homes(&wire, true), [4]);
        for cut in 0..wire.len() {
            peek_homes(&wire[cut..], true);
            peek_homes(&wire[..cut], false);
        }
        let (body, back) = decode_reply(wire.clone(), 0).unwrap();
        assert_eq!((body.data.as_slice(), back), (&b"xy"[..], Some(st)));
        assert!(decode_reply(wire.clone(), 1).is_err(), "fd count mismatch");
        let mut bad = wire;
        let n = bad.len();
        bad[n - 4..].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(
            decode_reply(bad, 0).is_err(),
            "data length beyond the payload"
        );
        for len in 0..CALL_TRAILER_LEN {
            assert!(decode_call(vec![0xff; len], 0).is_err());
        }
    }
}
