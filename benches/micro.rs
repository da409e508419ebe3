//! Micro-benches of the hot pieces of a call, each beside its raw baseline: parcel writing and
//! reading beside a `memcpy` of the same bytes, and a frame sent and received on a channel
//! (header encode, `sendmsg`, `recvmsg`, header decode and checks) beside a raw `send`/`recv`
//! of the same bytes on a `SOCK_SEQPACKET` socketpair, all in one thread.
//!
//! `cargo bench --bench micro` (a few seconds per group; criterion's options after `--`).

mod common;

use std::hint::black_box;
use std::os::fd::AsRawFd;
use std::time::Duration;

use afbus::binder::Parcel;
use afbus::transport::{Channel, FrameKind, Header};
use common::socketpair;
use criterion::{BenchmarkId, Criterion, Throughput};
use nix::sys::socket::{recv, send, MsgFlags};

/// The "typical" small request: a few ints and a service-name-sized string.
fn write_typical(p: &mut Parcel) {
    p.write_i32(7);
    p.write_i32(-1);
    p.write_u64(0x1234_5678);
    p.write_str("org.afbus.examples.IEcho/default");
}

fn read_typical(p: &mut Parcel) -> Result<(i32, i32, u64, String), afbus::binder::ParcelError> {
    Ok((
        p.read_i32()?,
        p.read_i32()?,
        p.read_u64()?,
        p.read_string()?,
    ))
}

fn parcels(c: &mut Criterion) {
    let mut g = c.benchmark_group("parcel");
    let mut typical = Parcel::new();
    write_typical(&mut typical);
    let blob = vec![0xa5u8; 4096];
    let mut big = Parcel::new();
    big.write_bytes(&blob);
    for (name, bytes) in [
        ("typical", typical.as_bytes()),
        ("4 KiB bytes", big.as_bytes()),
    ] {
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        let mut dst = Vec::with_capacity(bytes.len());
        g.bench_function(BenchmarkId::new("memcpy baseline", name), |b| {
            b.iter(|| {
                dst.clear();
                dst.extend_from_slice(black_box(bytes));
                black_box(&dst);
            })
        });
    }
    g.throughput(Throughput::Bytes(typical.len() as u64));
    g.bench_function(BenchmarkId::new("write", "typical"), |b| {
        b.iter(|| {
            let mut p = Parcel::new();
            write_typical(&mut p);
            black_box(p)
        })
    });
    g.bench_function(BenchmarkId::new("read", "typical"), |b| {
        b.iter(|| {
            typical.rewind();
            black_box(read_typical(&mut typical).expect("typical parcel"))
        })
    });
    g.throughput(Throughput::Bytes(big.len() as u64));
    g.bench_function(BenchmarkId::new("write", "4 KiB bytes"), |b| {
        b.iter(|| {
            let mut p = Parcel::new();
            p.write_bytes(black_box(&blob));
            black_box(p)
        })
    });
    g.bench_function(BenchmarkId::new("read", "4 KiB bytes"), |b| {
        b.iter(|| {
            big.rewind();
            black_box(big.read_bytes().expect("4 KiB parcel"))
        })
    });
    g.finish();
}

fn frames(c: &mut Criterion) -> common::Result {
    let mut g = c.benchmark_group("frame send+recv, one thread");
    let (raw_a, raw_b) = socketpair()?;
    let (chan_a, chan_b) = Channel::pair()?;
    for size in [32usize, 4096] {
        let payload = vec![0xa5u8; size];
        // The raw datagram carries the header's bytes too, so both move the same amount.
        let datagram = vec![0xa5u8; size + afbus::transport::HEADER_LEN];
        let mut buf = vec![0u8; datagram.len() + 64];
        g.throughput(Throughput::Bytes(datagram.len() as u64));
        g.bench_function(BenchmarkId::new("raw send/recv baseline", size), |b| {
            b.iter(|| {
                send(raw_a.as_raw_fd(), &datagram, MsgFlags::MSG_NOSIGNAL).expect("send");
                black_box(recv(raw_b.as_raw_fd(), &mut buf, MsgFlags::empty()).expect("recv"))
            })
        });
        let header = Header::new(FrameKind::Request).with_code(1).with_txn(42);
        g.bench_function(BenchmarkId::new("channel send/recv", size), |b| {
            b.iter(|| {
                chan_a.send(&header, &payload, &[]).expect("send");
                black_box(chan_b.recv().expect("recv"))
            })
        });
    }
    g.finish();
    Ok(())
}

fn main() -> common::Result {
    let mut c = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .configure_from_args();
    parcels(&mut c);
    frames(&mut c)?;
    c.final_summary();
    Ok(())
}
