//! Criterion's view of the same workloads as `benches/binder.rs`: a binder null call, a 4 KiB
//! call and a one-way call across processes, beside the raw socketpair ping-pong floor.
//!
//! `cargo bench --bench criterion`

mod common;

use std::sync::Arc;

use afbus::binder::{
    Binder, CallContext, Parcel, Runtime, RuntimeConfig, Status, StatusCode, TransactionCode,
};
use afbus::transport::{AllowAll, BusMaster, BusSocket};
use common::*;
use criterion::{BenchmarkId, Criterion, Throughput};

const NAME: &str = "org.afbus.bench.Criterion";
const NULL: TransactionCode = TransactionCode(1);
const TAKE_RAW: TransactionCode = TransactionCode(2);

struct Null;

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
            NULL => Ok(()),
            TAKE_RAW => {
                let raw = data.take_fd()?;
                std::thread::spawn(move || raw_echo(raw));
                Ok(())
            }
            _ => Err(StatusCode::UNKNOWN_TRANSACTION.into()),
        }
    }
}

fn main() -> Result {
    if let Some((_, bus)) = child_role()? {
        let rt = Runtime::new(RuntimeConfig::default())?;
        let endpoint = Arc::new(BusSocket::connect(bus)?);
        rt.publish(&endpoint, NAME, &rt.local(Null))?;
        rt.join_thread_pool();
        return Ok(());
    }
    let dir = tempfile::tempdir()?;
    let master = BusMaster::bind(dir.path().join("bus"), AllowAll)?.spawn()?;
    pin_to(0)?;
    let _child = spawn_child("null", 0, master.path())?;
    let rt = Runtime::new(RuntimeConfig::default())?;
    let me = BusSocket::connect(master.path())?;
    let svc = retry(|| rt.get_service(&me, NAME))?;
    let (raw, theirs) = socketpair()?;
    let mut p = Parcel::new();
    p.write_fd(theirs);
    svc.transact(TAKE_RAW, p)?;

    let mut c = Criterion::default().configure_from_args();
    let mut group = c.benchmark_group("same-cpu round trip");
    for size in [0usize, 4096] {
        group.throughput(Throughput::Elements(1));
        let msg = vec![0xa5u8; size.max(32)];
        let mut buf = vec![0u8; msg.len() + 64];
        group.bench_with_input(BenchmarkId::new("raw-seqpacket", size), &size, |b, _| {
            b.iter(|| raw_round_trip(&raw, &msg, &mut buf).expect("raw round trip"))
        });
        let body = vec![0xa5u8; size];
        group.bench_with_input(
            BenchmarkId::new("afbus-binder null call", size),
            &size,
            |b, _| {
                b.iter(|| {
                    let mut p = Parcel::new();
                    if size > 0 {
                        p.write_bytes(&body);
                    }
                    svc.transact(NULL, p).expect("call")
                })
            },
        );
    }
    group.bench_function("afbus-binder one-way", |b| {
        b.iter(|| {
            svc.transact_oneway_blocking(NULL, Parcel::new())
                .expect("one-way")
        })
    });
    group.finish();
    c.final_summary();
    Ok(())
}
