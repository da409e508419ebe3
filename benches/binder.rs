//! Binder calls across processes, on the socket path and on the shared-memory fast path, beside
//! the floors of this machine, all in the same run; the payload curve from 64 B to 16 MiB with
//! the cost of a `memcpy` beside it; and what a one-way call costs its sender.
//!
//! `cargo bench --bench binder [-- --quick] [--iters N]`
//!
//! Workloads after Android's `binderThroughputTest`: a synchronous call of a null method with an
//! empty reply and a request of 0 or 4096 bytes. Floors, between the same two processes and
//! alternated in chunks with the calls: a raw `SOCK_SEQPACKET` ping-pong (its socket is handed
//! to the service in a parcel), a futex ping-pong on shared memory (both sides sleep), and,
//! across CPUs, a busy-poll ping-pong on shared memory (both sides spin).

mod common;

use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use afbus::binder::{
    Binder, CallContext, Parcel, Runtime, RuntimeConfig, SpIBinder, Status, StatusCode,
    TransactionCode,
};
use afbus::transport::{AllowAll, BusMaster, BusSocket};
use common::*;
use parking_lot::{Condvar, Mutex};

const NAME: &str = "org.afbus.bench.Null";
const NULL: TransactionCode = TransactionCode(1);
const TAKE_RAW: TransactionCode = TransactionCode(2);
const COUNT: TransactionCode = TransactionCode(3);
const WAIT_COUNT: TransactionCode = TransactionCode(4);
const TAKE_SHARED: TransactionCode = TransactionCode(5);
const BLOB: TransactionCode = TransactionCode(6);

/// The shared page of the futex and busy-poll floors: a sequence word (odd: a request is there,
/// even: its reply), the request's length, then the request.
const SHARED_BYTES: usize = 128 * 1024;
const SEQ: usize = 0;
/// Set while the server (or the client) sleeps on the futex: only then does the peer wake it.
const SERVER_ASLEEP: usize = 16;
const CLIENT_ASLEEP: usize = 32;
const LEN: usize = 64;
const DATA: usize = 128;
const STOP: u32 = u32::MAX;

#[derive(Default)]
struct Null {
    count: Mutex<u64>,
    counted: Condvar,
}

impl Binder for Null {
    fn descriptor(&self) -> &str {
        "org.afbus.bench.INull"
    }

    fn on_transact(
        &self,
        code: TransactionCode,
        data: &mut Parcel,
        reply: &mut Parcel,
        _: &CallContext,
    ) -> std::result::Result<(), Status> {
        match code {
            NULL => {}
            TAKE_RAW => {
                let raw = data.take_fd()?;
                std::thread::spawn(move || raw_echo(raw));
            }
            TAKE_SHARED => {
                let spin = data.read_bool()?;
                let shared = Shared::map(data.take_fd()?).map_err(|_| StatusCode::BAD_VALUE)?;
                std::thread::spawn(move || shared.serve(spin));
            }
            BLOB => {
                // Mapped, not read: what the call itself costs, not what reading costs.
                let blob = data.read_blob()?;
                reply.write_u64(blob.len() as u64);
            }
            COUNT => {
                *self.count.lock() += 1;
                self.counted.notify_all();
            }
            WAIT_COUNT => {
                let want = data.read_u64()?;
                let mut n = self.count.lock();
                while *n < want {
                    self.counted.wait(&mut n);
                }
                *n = 0;
            }
            _ => return Err(StatusCode::UNKNOWN_TRANSACTION.into()),
        }
        Ok(())
    }
}

/// A shared mapping for the futex and busy-poll floors.
struct Shared {
    map: memmap2::MmapRaw,
}

impl Shared {
    fn new() -> Result<(Shared, OwnedFd)> {
        let mfd = memfd::MemfdOptions::default().create("afbus-bench-floor")?;
        mfd.as_file().set_len(SHARED_BYTES as u64)?;
        let map = memmap2::MmapRaw::map_raw(mfd.as_file())?;
        Ok((Shared { map }, mfd.into_file().into()))
    }

    fn map(fd: OwnedFd) -> Result<Shared> {
        let map = memmap2::MmapRaw::map_raw(&std::fs::File::from(fd))?;
        Ok(Shared { map })
    }

    fn word(&self, at: usize) -> &AtomicU32 {
        assert!(at + 4 <= self.map.len() && at % 4 == 0);
        // SAFETY: in bounds and aligned (asserted); both processes use the word only atomically.
        unsafe { &*self.map.as_mut_ptr().add(at).cast::<AtomicU32>() }
    }

    fn copy_in(&self, bytes: &[u8]) {
        assert!(DATA + bytes.len() <= self.map.len());
        // SAFETY: in bounds (asserted); the peer does not touch the area until the sequence
        // word says a request is there.
        unsafe {
            std::ptr::copy_nonoverlapping(
                bytes.as_ptr(),
                self.map.as_mut_ptr().add(DATA),
                bytes.len(),
            )
        }
    }

    fn copy_out(&self, into: &mut [u8]) {
        assert!(DATA + into.len() <= self.map.len());
        // SAFETY: in bounds (asserted); the client does not write the area until it has the
        // reply.
        unsafe {
            std::ptr::copy_nonoverlapping(
                self.map.as_ptr().add(DATA),
                into.as_mut_ptr(),
                into.len(),
            )
        }
    }

    /// Waits until the sequence word is not `seen`: spinning (bounded, for the busy-poll floor,
    /// which then sleeps between chunks of the other rows), or asleep on the futex.
    fn wait_change(&self, seen: u32, spin: bool, asleep: usize) -> u32 {
        let seq = self.word(SEQ);
        if spin {
            let start = Instant::now();
            while start.elapsed() < Duration::from_millis(1) {
                for _ in 0..64 {
                    let v = seq.load(Ordering::Acquire);
                    if v != seen {
                        return v;
                    }
                    std::hint::spin_loop();
                }
            }
        }
        loop {
            self.word(asleep).store(1, Ordering::SeqCst);
            let v = seq.load(Ordering::SeqCst);
            if v != seen {
                self.word(asleep).store(0, Ordering::Relaxed);
                return v;
            }
            futex(seq, libc::FUTEX_WAIT, seen);
            self.word(asleep).store(0, Ordering::Relaxed);
        }
    }

    fn post(&self, v: u32, peer_asleep: usize) {
        self.word(SEQ).store(v, Ordering::SeqCst);
        if self.word(peer_asleep).load(Ordering::SeqCst) != 0 {
            futex(self.word(SEQ), libc::FUTEX_WAKE, 1);
        }
    }

    /// The server side: copies each request out and answers it.
    fn serve(self, spin: bool) {
        let mut buf = vec![0u8; SHARED_BYTES - DATA];
        let mut seen = 0;
        loop {
            let v = self.wait_change(seen, spin, SERVER_ASLEEP);
            if v == STOP {
                return;
            }
            let len = (self.word(LEN).load(Ordering::Relaxed) as usize).min(buf.len());
            self.copy_out(&mut buf[..len]);
            seen = v.wrapping_add(1);
            self.post(seen, CLIENT_ASLEEP);
        }
    }

    /// One round trip of `msg` from the client side.
    fn round_trip(&self, seq: &mut u32, msg: &[u8], spin: bool) -> Result<u64> {
        timed(|| {
            self.copy_in(msg);
            self.word(LEN).store(msg.len() as u32, Ordering::Relaxed);
            *seq = seq.wrapping_add(2);
            self.post(*seq - 1, SERVER_ASLEEP);
            self.wait_change(*seq - 1, spin, CLIENT_ASLEEP);
            Ok(())
        })
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.post(STOP, SERVER_ASLEEP);
    }
}

fn futex(word: &AtomicU32, op: i32, val: u32) {
    // SAFETY: `word` is a live, aligned u32 in a shared mapping; a relative null timeout.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            op,
            val,
            std::ptr::null::<libc::timespec>(),
        );
    }
}

/// Runs every row alternately in chunks, after a warm-up of a tenth; returns the samples of
/// each row in nanoseconds, sorted.
fn interleave(iters: usize, rows: &mut [&mut dyn FnMut() -> Result<u64>]) -> Result<Vec<Vec<u64>>> {
    for _ in 0..iters / 10 {
        for row in rows.iter_mut() {
            row()?;
        }
    }
    let mut samples = vec![Vec::with_capacity(iters); rows.len()];
    while samples[0].len() < iters {
        let n = CHUNK.min(iters - samples[0].len());
        for (row, s) in rows.iter_mut().zip(samples.iter_mut()) {
            for _ in 0..n {
                s.push(row()?);
            }
        }
    }
    for s in &mut samples {
        s.sort_unstable();
    }
    Ok(samples)
}

fn null_call(svc: &SpIBinder, body: &[u8]) -> Result<u64> {
    timed(|| {
        let mut p = Parcel::new();
        if !body.is_empty() {
            p.write_bytes(body);
        }
        svc.transact(NULL, p)?;
        Ok(())
    })
}

fn blob_call(svc: &SpIBinder, len: usize) -> Result<u64> {
    timed(|| {
        let mut p = Parcel::new();
        p.write_blob_with(len, |b| b.fill(0xa5))?;
        let mut reply = svc.transact(BLOB, p)?;
        assert_eq!(reply.read_u64()?, len as u64);
        Ok(())
    })
}

fn main() -> Result {
    if let Some((_, bus)) = child_role()? {
        return serve(&bus);
    }
    let opts = Opts::from_args()?;
    let dir = tempfile::tempdir()?;
    let master = BusMaster::bind(dir.path().join("bus"), AllowAll)?.spawn()?;
    println!(
        "round trips per row: {} (after {} warm-up), alternating in chunks of {CHUNK}",
        opts.iters,
        opts.iters / 10
    );
    println!();
    print_header();
    let mut notes = Vec::new();
    let mut curves = Vec::new();
    for (pin, child_cpu) in pin_modes() {
        pin_to(0)?;
        let child = spawn_child("null", child_cpu, master.path())?;
        let me = BusSocket::connect(master.path())?;
        let rt_shm = Runtime::new(RuntimeConfig {
            shm: true,
            ..RuntimeConfig::default()
        })?;
        let rt_sock = Runtime::new(RuntimeConfig {
            shm: false,
            ..RuntimeConfig::default()
        })?;
        // Priority inheritance costs the caller one sched_getattr per call: a row without it.
        let rt_plain = Runtime::new(RuntimeConfig {
            shm: true,
            inherit_priority: false,
            ..RuntimeConfig::default()
        })?;
        let shm = retry(|| rt_shm.get_service(&me, NAME))?;
        let sock = rt_sock.get_service(&me, NAME)?;
        let plain = rt_plain.get_service(&me, NAME)?;
        for _ in 0..3 {
            plain.ping()?;
        }
        // A channel moves to shared memory with its second call (offered with the first reply).
        for _ in 0..3 {
            shm.ping()?;
            sock.ping()?;
        }
        if !shm.uses_shared_memory() {
            println!("(the fast path is off: AFBUS_SHM=0; the afbus-shm rows use the socket)");
        }

        let (raw, theirs) = socketpair()?;
        let mut p = Parcel::new();
        p.write_fd(theirs);
        shm.transact(TAKE_RAW, p)?;
        let floor = |spin: bool| -> Result<Shared> {
            let (shared, fd) = Shared::new()?;
            let mut p = Parcel::new();
            p.write_bool(spin);
            p.write_fd(fd);
            shm.transact(TAKE_SHARED, p)?;
            Ok(shared)
        };
        let futex_floor = floor(false)?;
        // Busy-polling against a peer on the same CPU only starves it: across CPUs only.
        let spin_floor = (pin == "cross").then(|| floor(true)).transpose()?;

        let mut empty = (0, 0);
        for payload in [0usize, 4096, 64 * 1024] {
            let msg = vec![0xa5u8; payload.max(32)];
            let mut buf = vec![0u8; msg.len() + 64];
            let body = vec![0xa5u8; payload];
            let (mut s1, mut s2) = (0u32, 0u32);
            let mut names = vec!["raw-seqpacket", "raw-futex"];
            let mut rows: Vec<Box<dyn FnMut() -> Result<u64>>> = vec![
                Box::new(|| raw_round_trip(&raw, &msg, &mut buf)),
                Box::new(|| futex_floor.round_trip(&mut s1, &msg, false)),
            ];
            if let Some(spin_floor) = &spin_floor {
                names.push("raw-spin");
                rows.push(Box::new(|| spin_floor.round_trip(&mut s2, &msg, true)));
            }
            names.extend(["afbus-socket", "afbus-shm", "afbus-shm, no inheritance"]);
            rows.push(Box::new(|| null_call(&sock, &body)));
            rows.push(Box::new(|| null_call(&shm, &body)));
            rows.push(Box::new(|| null_call(&plain, &body)));
            let mut refs: Vec<&mut dyn FnMut() -> Result<u64>> =
                rows.iter_mut().map(|r| &mut **r as _).collect();
            let samples = interleave(opts.iters, &mut refs)?;
            let raw_p50 = percentile(&samples[0], 50.0);
            for (name, s) in names.iter().zip(&samples) {
                let (workload, size) = if name.starts_with("raw") {
                    ("ping-pong", msg.len())
                } else {
                    ("null call", payload)
                };
                print_row(name, workload, size, pin, s, raw_p50);
            }
            let p50 = |name: &str| {
                let i = names.iter().position(|n| *n == name).expect("a row");
                percentile(&samples[i], 50.0) as f64
            };
            let shm_p50 = p50("afbus-shm");
            match payload {
                0 => {
                    empty = (p50("afbus-socket") as u64, shm_p50 as u64);
                    notes.push(format!(
                        "{pin}: empty call on shm / raw futex {:.2}x, / raw seqpacket {:.2}x{}",
                        shm_p50 / p50("raw-futex"),
                        shm_p50 / p50("raw-seqpacket"),
                        match spin_floor {
                            Some(_) =>
                                format!(", / raw busy-poll {:.2}x", shm_p50 / p50("raw-spin")),
                            None => String::new(),
                        }
                    ));
                }
                4096 => notes.push(format!(
                    "{pin}: 4 KiB call / empty call: socket {:.2}x, shm {:.2}x",
                    p50("afbus-socket") / empty.0 as f64,
                    shm_p50 / empty.1 as f64,
                )),
                _ => {}
            }
        }
        drop((futex_floor, spin_floor));

        // The payload curve: bytes in the parcel (through the ring, or the socket behind a
        // marker above SHM_MAX_RECORD), a blob written in place, and a memcpy of the same size.
        let mut curve = Vec::new();
        for size in [64usize, 1024, 4096, 16 << 10, 64 << 10, 1 << 20, 16 << 20] {
            let iters = (opts.iters / 10).min((256 << 20) / size).max(20);
            let body = vec![0xa5u8; size];
            let mut dst = vec![0u8; size];
            let mut names = vec!["memcpy", "afbus-shm blob"];
            let mut rows: Vec<Box<dyn FnMut() -> Result<u64>>> = vec![
                Box::new(|| {
                    timed(|| {
                        dst.copy_from_slice(std::hint::black_box(&body));
                        std::hint::black_box(&dst);
                        Ok(())
                    })
                }),
                Box::new(|| blob_call(&shm, size)),
            ];
            if size <= 64 << 10 {
                names.push("afbus-shm bytes");
                rows.push(Box::new(|| null_call(&shm, &body)));
            }
            let mut refs: Vec<&mut dyn FnMut() -> Result<u64>> =
                rows.iter_mut().map(|r| &mut **r as _).collect();
            let samples = interleave(iters, &mut refs)?;
            let p50s: Vec<u64> = samples.iter().map(|s| percentile(s, 50.0)).collect();
            curve.push((size, p50s));
        }
        curves.push((pin, curve));

        // What a one-way call costs its sender (the receiver keeps up or the sender waits).
        for (name, svc) in [("afbus-socket", &sock), ("afbus-shm", &shm)] {
            let n = opts.iters;
            let mut costs = Vec::with_capacity(n);
            let t = Instant::now();
            for _ in 0..n {
                costs.push(timed(|| {
                    svc.transact_oneway_blocking(COUNT, Parcel::new())?;
                    Ok(())
                })?);
            }
            let mut p = Parcel::new();
            p.write_u64(n as u64);
            svc.transact(WAIT_COUNT, p)?;
            let rate = n as f64 / t.elapsed().as_secs_f64();
            costs.sort_unstable();
            notes.push(format!(
                "{pin}: one-way on {name}: sender p50 {:.2} µs, p99 {:.2} µs; {rate:.0} calls/s delivered",
                percentile(&costs, 50.0) as f64 / 1000.0,
                percentile(&costs, 99.0) as f64 / 1000.0,
            ));
        }
        drop((shm, sock, plain));
        drop(child);
    }
    println!();
    for line in notes {
        println!("{line}");
    }
    for (pin, curve) in curves {
        println!();
        println!("payload curve, {pin}, p50 µs (memcpy: the copy alone, in this process):");
        println!();
        println!("| size | memcpy | afbus-shm bytes | afbus-shm blob |");
        println!("|---|---|---|---|");
        for (size, p50s) in curve {
            let us = |i: usize| {
                p50s.get(i)
                    .map_or("-".to_string(), |ns| format!("{:.2}", *ns as f64 / 1000.0))
            };
            println!("| {} | {} | {} | {} |", human(size), us(0), us(2), us(1));
        }
    }
    Ok(())
}

fn human(size: usize) -> String {
    match size {
        s if s >= 1 << 20 => format!("{} MiB", s >> 20),
        s if s >= 1 << 10 => format!("{} KiB", s >> 10),
        s => format!("{s} B"),
    }
}

fn serve(bus: &str) -> Result {
    let rt = Runtime::new(RuntimeConfig::default())?;
    let endpoint = Arc::new(BusSocket::connect(bus)?);
    rt.publish(&endpoint, NAME, &rt.local(Null::default()))?;
    rt.join_thread_pool();
    Ok(())
}
