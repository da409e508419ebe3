//! The binder layer's framing inside a transport frame.
//!
//! A call's payload is the parcel's data, then a fixed trailer. Putting the trailer last lets
//! the receiver hand the data to the parcel without moving it. The frame's fds are the parcel's
//! fds, then one reference channel per object, in order. An object's identity does not travel
//! here: the sender's word would be worth nothing. Each reference channel opens with its
//! owner's introduction (see [`crate::intro`]), which the receiver reads.
//!
//! Call trailer (37 bytes, little-endian): target u64 (0: the channel's own object; otherwise,
//! in a nested call only, the key of a reference the caller holds), caller runtime id u64,
//! nested-in transaction u64 (0: none), scheduling policy u8, priority level i32, parcel fd count
//! u16, object count u16, data length u32.
//!
//! Reply trailer (20 bytes), after a UTF-8 message: exception i32 (0: success), code i32,
//! message length u32, parcel fd count u16, object count u16, data length u32.

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

/// A decoded call or reply body: the parcel's data, and how many of the frame's fds are the
/// parcel's (the rest are object references).
pub(crate) struct Body {
    pub data: Vec<u8>,
    pub parcel_fds: usize,
}

pub(crate) fn encode_call(
    mut data: Vec<u8>,
    parcel_fds: usize,
    objects: usize,
    info: &CallInfo,
) -> Vec<u8> {
    let data_len = data.len();
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
    objects: usize,
    status: Option<&Status>,
) -> Vec<u8> {
    let data_len = data.len();
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

/// Cuts `payload` to the body that precedes `tail_start`, checking that the lengths add up and
/// match the fds that arrived.
fn split(
    mut payload: Vec<u8>,
    tail_start: usize,
    data_len: usize,
    nobj: usize,
    parcel_fds: usize,
    frame_fds: usize,
) -> Result<Body> {
    if data_len != tail_start {
        return Err(malformed("lengths in the trailer do not add up"));
    }
    if parcel_fds + nobj != frame_fds {
        return Err(malformed(
            "fd count does not match the objects and parcel fds",
        ));
    }
    payload.truncate(data_len);
    Ok(Body {
        data: payload,
        parcel_fds,
    })
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
        let wire = encode_call(b"abc".to_vec(), 2, 1, &info);
        assert_eq!(peek_nested_in(&wire), Some(7));
        assert!(
            decode_call(wire.clone(), 2).is_err(),
            "an object without its fd"
        );
        let (body, back) = decode_call(wire, 3).unwrap();
        assert_eq!((body.data.as_slice(), body.parcel_fds), (&b"abc"[..], 2));
        assert_eq!(
            (back.target, back.caller_runtime, back.nested_in),
            (3, 9, 7)
        );
    }

    #[test]
    fn reply_round_trip_and_hostile_lengths() {
        let st = Status::new_service_specific(42, "nope");
        let wire = encode_reply(b"xy".to_vec(), 0, 0, Some(&st));
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
