//! The shared-memory ring's consumer: a peer's control block and ring data, as hostile bytes.
//!
//! The input is the ring's 512-byte control block (the producer's head first) followed by its
//! data; the consumer takes records until the ring is empty or refuses one.

use afbus_transport::shm::testing::pop_all;
use afbus_transport::{FrameKind, HEADER_LEN};

/// This target.
pub const TARGET: crate::Target = crate::Target {
    name: "ring",
    run: target,
    seeds,
    dictionary: DICTIONARY,
};

/// Record tags and lengths.
pub const DICTIONARY: &[&[u8]] = &[
    b"\x01\x00\x00\x00",
    b"\x02\x00\x00\x00\x00\x00\x00\x00",
    b"\x03\x00\x00\x00",
    b"\x18\x00\x00\x00",
    b"\xff\xff\xff\xff",
];

const CONTROL: usize = 512;

/// Runs one input.
pub fn target(data: &[u8]) {
    pop_all(data);
}

/// A record as a producer writes it: tag, length, then the body padded to 8 bytes.
fn record(tag: u32, body: &[u8]) -> Vec<u8> {
    let mut r = tag.to_le_bytes().to_vec();
    r.extend_from_slice(&(body.len() as u32).to_le_bytes());
    r.extend_from_slice(body);
    r.resize(r.len().next_multiple_of(8), 0);
    r
}

fn frame(kind: FrameKind, txn: u64, payload: &[u8]) -> Vec<u8> {
    let mut hdr = [0u8; HEADER_LEN];
    hdr[0..2].copy_from_slice(&(kind as u16).to_le_bytes());
    hdr[8..12].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    hdr[16..24].copy_from_slice(&txn.to_le_bytes());
    let mut body = hdr.to_vec();
    body.extend_from_slice(payload);
    record(1, &body)
}

/// A ring holding `records`, its head just past them.
fn ring(records: &[Vec<u8>]) -> Vec<u8> {
    let data: Vec<u8> = records.concat();
    let mut out = vec![0u8; CONTROL];
    out[..8].copy_from_slice(&(data.len() as u64).to_le_bytes());
    out.extend_from_slice(&data);
    out
}

/// Rings with frames, a socket marker, and bad records after good ones.
pub fn seeds() -> Vec<Vec<u8>> {
    vec![
        ring(&[frame(FrameKind::Request, 1, b"hello")]),
        ring(&[
            frame(FrameKind::OneWay, 0, &[7; 100]),
            record(2, &[]),
            frame(FrameKind::Reply, 9, b""),
        ]),
        ring(&[frame(FrameKind::Request, 2, b"x"), record(3, &[0; 16])]),
        ring(&[frame(FrameKind::Request, 3, b"y"), record(9, b"unknown")]),
    ]
}
