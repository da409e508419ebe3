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
//! Between a call's object table and its trailer: the principal the caller acts for (UTF-8, at
//! most `MAX_PRINCIPAL_LEN` bytes; empty: none, see `on_behalf_of`).
//!
//! Call trailer (39 bytes, little-endian): principal length u16, target u64 (0: the channel's
//! own object; otherwise the key of an object given over this channel, or, in a nested call
//! only, the key of a reference the caller holds), caller runtime id u64, nested-in transaction
//! u64 (0: none), scheduling policy u8, priority level i32, parcel fd count u16, object count
//! u16, data length u32.
//!
//! Reply trailer (20 bytes), after the object table and a UTF-8 message: exception i32 (0:
//! success), code i32, message length u32, parcel fd count u16, object count u16, data length
//! u32.
//!
//! A `RELEASE` one-way frame has its own 12-byte payload: the key u64 (0: the channel's own
//! object) and how many gives of it the sender lets go, u32.

use afbus_transport::wire::{Reader, Writer};

use std::sync::Arc;

use crate::object::MAX_PRINCIPAL_LEN;
use crate::priority::Priority;
use crate::status::{Error, Result, Status, StatusCode};

/// Frame flag: this request belongs to a call the receiver is waiting on (`nested_in`).
pub(crate) const FLAG_NESTED: u16 = 1;
/// Frame flag: the parcel's data was too large for a frame and travels as a sealed memfd, the
/// frame's last fd; the data in the payload is empty.
pub(crate) const FLAG_SPILLED: u16 = 2;

const CALL_TRAILER_LEN: usize = 39;
const REPLY_TRAILER_LEN: usize = 20;

/// What a call or a successful reply adds behind its parcel's data and object table: the
/// longer of the two trailers.
pub(crate) const TRAILER_ROOM: usize = if CALL_TRAILER_LEN > REPLY_TRAILER_LEN {
    CALL_TRAILER_LEN
} else {
    REPLY_TRAILER_LEN
};

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

/// The payload of a `RELEASE` frame.
pub(crate) fn encode_release(key: u64, count: u32) -> Vec<u8> {
    let mut w = Writer::default();
    w.u64(key).u32(count);
    w.finish()
}

pub(crate) fn decode_release(payload: &[u8]) -> Option<(u64, u32)> {
    let mut r = Reader::new(payload);
    let release = (r.u64("release key").ok()?, r.u32("release count").ok()?);
    r.end("release").ok()?;
    Some(release)
}

fn encode_objects(w: &mut Writer, objects: &[WireObject]) {
    for o in objects {
        let (kind, a, b, c) = match *o {
            WireObject::Channel => (CHANNEL, 0, 0, 0),
            WireObject::Given { key, number, owner } => (GIVEN, key, number, owner),
            WireObject::Home { key } => (HOME, key, 0, 0),
        };
        w.u8(kind).u64(a).u64(b).u64(c);
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
    data: Vec<u8>,
    parcel_fds: usize,
    objects: &[WireObject],
    info: &CallInfo,
    acting_for: &str,
) -> Vec<u8> {
    let data_len = data.len();
    let mut w = Writer(data);
    encode_objects(&mut w, objects);
    let (policy, level) = info.priority.encode();
    w.raw(acting_for.as_bytes())
        .u16(acting_for.len() as u16)
        .u64(info.target)
        .u64(info.caller_runtime)
        .u64(info.nested_in)
        .u8(policy)
        .i32(level)
        .u16(parcel_fds as u16)
        .u16(objects.len() as u16)
        .u32(data_len as u32);
    w.finish()
}

pub(crate) fn encode_reply(
    data: Vec<u8>,
    parcel_fds: usize,
    objects: &[WireObject],
    status: Option<&Status>,
) -> Vec<u8> {
    let data_len = data.len();
    let mut w = Writer(data);
    encode_objects(&mut w, objects);
    let (exception, code, message) = status.map_or((0, 0, ""), Status::raw_parts);
    w.raw(message.as_bytes())
        .i32(exception)
        .i32(code)
        .u32(message.len() as u32)
        .u16(parcel_fds as u16)
        .u16(objects.len() as u16)
        .u32(data_len as u32);
    w.finish()
}

/// A field the trailer's lengths promised is not there.
fn short(e: afbus_transport::Error) -> Error {
    Error::new(StatusCode::BAD_VALUE, format!("malformed frame: {e}"))
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
    let mut f = Reader::at(&payload, data_len);
    let mut objects = Vec::with_capacity(nobj);
    for _ in 0..nobj {
        let kind = f.u8("object kind").map_err(short)?;
        let mut word = || f.u64("object entry").map_err(short);
        let (a, b, c) = (word()?, word()?, word()?);
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
        let Ok(msg_len) = Reader::at(payload, tail + 8).u32("message length") else {
            return Vec::new();
        };
        match tail.checked_sub(msg_len as usize) {
            Some(end) => end,
            None => return Vec::new(),
        }
    } else {
        let Some(tail) = payload.len().checked_sub(CALL_TRAILER_LEN) else {
            return Vec::new();
        };
        let Ok(principal_len) = Reader::at(payload, tail).u16("principal length") else {
            return Vec::new();
        };
        match tail.checked_sub(usize::from(principal_len)) {
            Some(end) => end,
            None => return Vec::new(),
        }
    };
    // The object count is the trailer's second-to-last field, in both trailers.
    let Ok(nobj) = Reader::at(payload, payload.len() - 6).u16("object count") else {
        return Vec::new();
    };
    let Some(start) = table_end.checked_sub(usize::from(nobj) * OBJECT_LEN) else {
        return Vec::new();
    };
    let mut table = Reader::at(&payload[..table_end], start);
    let mut homes = Vec::new();
    for _ in 0..nobj {
        let (Ok(kind), Ok(key)) = (table.u8("object kind"), table.u64("object key")) else {
            return Vec::new();
        };
        if table.raw(16, "object entry").is_err() {
            return Vec::new();
        }
        if kind == HOME {
            homes.push(key);
        }
    }
    homes
}

/// Only the target, to find the object a one-way call is for before decoding the rest.
pub(crate) fn peek_target(payload: &[u8]) -> Option<u64> {
    let at = payload.len().checked_sub(CALL_TRAILER_LEN)? + 2;
    Reader::at(payload, at).u64("target").ok()
}

/// A decoded call: its body, its fixed part, and whom the caller acts for.
pub(crate) fn decode_call(
    payload: Vec<u8>,
    frame_fds: usize,
) -> Result<(Body, CallInfo, Option<Arc<str>>)> {
    let Some(tail) = payload.len().checked_sub(CALL_TRAILER_LEN) else {
        return Err(malformed("call shorter than its trailer"));
    };
    let mut f = Reader::at(&payload, tail);
    let principal_len = usize::from(f.u16("principal length").map_err(short)?);
    if principal_len > MAX_PRINCIPAL_LEN {
        return Err(malformed("principal longer than MAX_PRINCIPAL_LEN"));
    }
    let body_end = tail
        .checked_sub(principal_len)
        .ok_or_else(|| malformed("principal longer than the call"))?;
    let acting_for = match &payload[body_end..tail] {
        [] => None,
        bytes => Some(Arc::from(
            std::str::from_utf8(bytes).map_err(|_| malformed("principal is not UTF-8"))?,
        )),
    };
    let target = f.u64("target").map_err(short)?;
    let caller_runtime = f.u64("caller runtime").map_err(short)?;
    let nested_in = f.u64("nested-in").map_err(short)?;
    let policy = f.u8("policy").map_err(short)?;
    let level = f.i32("priority level").map_err(short)?;
    let parcel_fds = usize::from(f.u16("parcel fds").map_err(short)?);
    let nobj = usize::from(f.u16("object count").map_err(short)?);
    let data_len = f.u32("data length").map_err(short)? as usize;
    let priority = Priority::decode(policy, level).ok_or_else(|| malformed("bad priority"))?;
    let body = split(payload, body_end, data_len, nobj, parcel_fds, frame_fds)?;
    Ok((
        body,
        CallInfo {
            target,
            caller_runtime,
            nested_in,
            priority,
        },
        acting_for,
    ))
}

/// Only the caller's runtime id, to route calls made while serving this one.
pub(crate) fn peek_caller(payload: &[u8]) -> Option<u64> {
    let at = payload.len().checked_sub(CALL_TRAILER_LEN)? + 10;
    Reader::at(payload, at).u64("caller runtime").ok()
}

/// Only the nested-in field, to route a request before decoding the rest.
pub(crate) fn peek_nested_in(payload: &[u8]) -> Option<u64> {
    let at = payload.len().checked_sub(CALL_TRAILER_LEN)? + 18;
    Reader::at(payload, at).u64("nested-in").ok()
}

pub(crate) fn decode_reply(payload: Vec<u8>, frame_fds: usize) -> Result<(Body, Option<Status>)> {
    let Some(tail) = payload.len().checked_sub(REPLY_TRAILER_LEN) else {
        return Err(malformed("reply shorter than its trailer"));
    };
    let mut f = Reader::at(&payload, tail);
    let exception = f.i32("exception").map_err(short)?;
    let code = f.i32("status code").map_err(short)?;
    let msg_len = f.u32("message length").map_err(short)? as usize;
    let parcel_fds = usize::from(f.u16("parcel fds").map_err(short)?);
    let nobj = usize::from(f.u16("object count").map_err(short)?);
    let data_len = f.u32("data length").map_err(short)? as usize;
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
        let wire = encode_call(b"abc".to_vec(), 2, &objects, &info, "");
        assert_eq!(peek_nested_in(&wire), Some(7));
        assert_eq!(peek_target(&wire), Some(3));
        assert_eq!(peek_caller(&wire), Some(9));
        assert!(
            decode_call(wire.clone(), 2).is_err(),
            "a channel without its fd"
        );
        let (body, back, acting_for) = decode_call(wire.clone(), 3).unwrap();
        assert_eq!(acting_for, None);
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
    fn a_call_names_whom_it_is_made_for_within_the_bound() {
        let info = CallInfo {
            target: 3,
            caller_runtime: 9,
            nested_in: 7,
            priority: Priority::DEFAULT,
        };
        let home = [WireObject::Home { key: 8 }];
        let longest = "p".repeat(MAX_PRINCIPAL_LEN);
        let wire = encode_call(b"abc".to_vec(), 0, &home, &info, &longest);
        assert_eq!(peek_homes(&wire, false), [8]);
        assert_eq!(
            (peek_target(&wire), peek_nested_in(&wire)),
            (Some(3), Some(7))
        );
        let (body, _, acting_for) = decode_call(wire, 0).unwrap();
        assert_eq!(acting_for.as_deref(), Some(longest.as_str()));
        assert_eq!(body.data, b"abc");
        assert_eq!(body.objects, home);
        let too_long = format!("{longest}p");
        let wire = encode_call(Vec::new(), 0, &[], &info, &too_long);
        assert!(decode_call(wire, 0).is_err(), "past MAX_PRINCIPAL_LEN");
        let mut wire = encode_call(Vec::new(), 0, &[], &info, "hostb");
        let at = wire.len() - CALL_TRAILER_LEN - 1;
        wire[at] = 0xff;
        assert!(decode_call(wire, 0).is_err(), "not UTF-8");
        let wire = encode_call(Vec::new(), 0, &[], &info, "");
        let mut lying = wire.clone();
        let at = lying.len() - CALL_TRAILER_LEN;
        lying[at..at + 2].copy_from_slice(&200u16.to_le_bytes());
        assert!(decode_call(lying, 0).is_err(), "a length past the start");
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
