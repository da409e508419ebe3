//! Binder calls across processes against the raw socketpair floor, in the same run, plus
//! one-way throughput.
//!
//! `cargo bench --bench binder [-- --quick] [--iters N]`
//!
//! Workloads after Android's `binderThroughputTest`: a synchronous call of a null method with an
//! empty reply and a request of 0 or 4096 bytes. The floor is a raw `SOCK_SEQPACKET` ping-pong of
//! the same size between the same two processes (its socket is handed to the service in a
//! parcel), alternated in chunks with the binder calls.

mod common;

use std::sync::Arc;
use std::time::Instant;

use afbus::binder::{
    Binder, CallContext, Parcel, Runtime, RuntimeConfig, Status, StatusCode, TransactionCode,
};
use afbus::transport::{AllowAll, BusMaster, BusSocket};
use common::*;
use parking_lot::{Condvar, Mutex};

const NAME: &str = "org.afbus.bench.Null";
const NULL: TransactionCode = TransactionCode(1);
const TAKE_RAW: TransactionCode = TransactionCode(2);
const COUNT: TransactionCode = TransactionCode(3);
const WAIT_COUNT: TransactionCode = TransactionCode(4);

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
        _: &mut Parcel,
        _: &CallContext,
    ) -> std::result::Result<(), Status> {
        match code {
            NULL => {}
            TAKE_RAW => {
                let raw = data.take_fd()?;
                std::thread::spawn(move || raw_echo(raw));
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
    let mut oneway_rates = Vec::new();
    for (pin, child_cpu) in pin_modes() {
        pin_to(0)?;
        let child = spawn_child("null", child_cpu, master.path())?;
        let rt = Runtime::new(RuntimeConfig::default())?;
        let me = BusSocket::connect(master.path())?;
        let svc = retry(|| rt.get_service(&me, NAME))?;
        let (raw, theirs) = socketpair()?;
        let mut p = Parcel::new();
        p.write_fd(theirs);
        svc.transact(TAKE_RAW, p)?;
        let mut empty_p50 = 0;
        for payload in [0usize, 4096] {
            // The floor moves the bytes the binder call moves: at least the framing's size.
            let msg = vec![0xa5u8; payload.max(32)];
            let mut buf = vec![0u8; msg.len() + 64];
            let body = vec![0xa5u8; payload];
            let (raw_s, call_s) = interleaved(
                opts.iters,
                || raw_round_trip(&raw, &msg, &mut buf),
                || {
                    timed(|| {
                        let mut p = Parcel::new();
                        if payload > 0 {
                            p.write_bytes(&body);
                        }
                        svc.transact(NULL, p)?;
                        Ok(())
                    })
                },
            )?;
            let raw_p50 = percentile(&raw_s, 50.0);
            print_row(
                "raw-seqpacket",
                "ping-pong",
                msg.len(),
                pin,
                &raw_s,
                raw_p50,
            );
            print_row("afbus-socket", "null call", payload, pin, &call_s, raw_p50);
            if payload == 0 {
                empty_p50 = percentile(&call_s, 50.0);
            } else {
                let ratio = percentile(&call_s, 50.0) as f64 / empty_p50 as f64;
                oneway_rates.push(format!("4 KiB call / empty call p50 ({pin}): {ratio:.2}x"));
            }
        }
        let n = opts.iters as u64;
        let t = Instant::now();
        for _ in 0..n {
            svc.transact_oneway_blocking(COUNT, Parcel::new())?;
        }
        let mut p = Parcel::new();
        p.write_u64(n);
        svc.transact(WAIT_COUNT, p)?;
        let rate = n as f64 / t.elapsed().as_secs_f64();
        oneway_rates.push(format!("one-way calls per second ({pin}): {rate:.0}"));
        drop(svc);
        drop(child);
    }
    println!();
    for line in oneway_rates {
        println!("{line}");
    }
    Ok(())
}

fn serve(bus: &str) -> Result {
    let rt = Runtime::new(RuntimeConfig::default())?;
    let endpoint = Arc::new(BusSocket::connect(bus)?);
    rt.publish(&endpoint, NAME, &rt.local(Null::default()))?;
    rt.join_thread_pool();
    Ok(())
}
