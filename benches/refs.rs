//! What references cost: memory and fds per reference a service holds and per object a client
//! exports, and the time to pass one.
//!
//! `cargo bench --bench refs -- [--refs N] [--soft-nofile N]`
//!
//! A client passes N distinct local objects (default 10,000) to a service in another process,
//! which keeps a proxy to each; both report their resident memory (`VmRSS`) and open fds before
//! and after. Then the client takes 1,000 objects from the service and calls them in turn,
//! chunk by chunk against calls to one of them, pinned to one CPU: calls to many objects of one
//! peer should cost what calls to one do. `--soft-nofile N` lowers this process's soft `RLIMIT_NOFILE` to N before either
//! process starts (the hard limit stays), as a user's `ulimit -Sn 1024` would: whether the
//! runtime can then hold and export N references is part of the result.

#![deny(unsafe_code)]

mod common;

use std::sync::Arc;
use std::time::Instant;

use afbus::binder::{
    Binder, CallContext, Parcel, Runtime, RuntimeConfig, SpIBinder, Status, StatusCode,
    TransactionCode,
};
use afbus::transport::{AllowAll, BusMaster, BusSocket};
use common::{child_role, percentile, retry, spawn_child, Result};
use parking_lot::Mutex;

const NAME: &str = "org.afbus.bench.Holder";
const HOLD: TransactionCode = TransactionCode(1);
const STATS: TransactionCode = TransactionCode(2);
const MAKE: TransactionCode = TransactionCode(3);
/// What a token answers (with nothing).
const NOP: TransactionCode = TransactionCode(1);

/// Objects of the service the client calls in turn.
const SPREAD: usize = 1000;

/// What a process uses: resident KiB and open fds.
#[derive(Clone, Copy, Debug)]
struct Usage {
    rss_kib: i64,
    fds: i64,
}

fn usage() -> Result<Usage> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let rss_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or("no VmRSS in /proc/self/status")?;
    let fds = std::fs::read_dir("/proc/self/fd")?.count() as i64;
    Ok(Usage { rss_kib, fds })
}

/// The service: keeps every binder it is given.
struct Holder {
    held: Mutex<Vec<SpIBinder>>,
    /// Makes the objects MAKE hands out.
    made: Mutex<Arc<Runtime>>,
}

impl Binder for Holder {
    fn descriptor(&self) -> &str {
        "org.afbus.bench.IHolder"
    }

    fn on_transact(
        &self,
        code: TransactionCode,
        data: &mut Parcel,
        reply: &mut Parcel,
        _: &CallContext,
    ) -> std::result::Result<(), Status> {
        match code {
            HOLD => self.held.lock().push(data.read_binder()?),
            STATS => {
                let u = usage().map_err(|_| Status::from(StatusCode::UNKNOWN_ERROR))?;
                reply.write_i64(u.rss_kib);
                reply.write_i64(u.fds);
                reply.write_i64(self.held.lock().len() as i64);
            }
            MAKE => {
                let token = self.made.lock().local(Token);
                reply.write_binder(&token);
            }
            _ => return Err(StatusCode::UNKNOWN_TRANSACTION.into()),
        }
        Ok(())
    }
}

/// An object with nothing to do: what the client exports.
struct Token;

impl Binder for Token {
    fn descriptor(&self) -> &str {
        "org.afbus.bench.IToken"
    }

    fn on_transact(
        &self,
        code: TransactionCode,
        _: &mut Parcel,
        _: &mut Parcel,
        _: &CallContext,
    ) -> std::result::Result<(), Status> {
        match code {
            NOP => Ok(()),
            _ => Err(StatusCode::UNKNOWN_TRANSACTION.into()),
        }
    }
}

fn server(bus: &str) -> Result {
    let rt = Arc::new(Runtime::new(RuntimeConfig::default())?);
    let endpoint = Arc::new(BusSocket::connect(bus)?);
    let holder = Holder {
        held: Mutex::default(),
        made: Mutex::new(rt.clone()),
    };
    rt.publish(&endpoint, NAME, &rt.local(holder))?;
    rt.join_thread_pool();
    Ok(())
}

fn server_usage(svc: &SpIBinder) -> Result<(Usage, i64)> {
    let mut r = svc.transact(STATS, Parcel::new())?;
    let u = Usage {
        rss_kib: r.read_i64()?,
        fds: r.read_i64()?,
    };
    Ok((u, r.read_i64()?))
}

fn main() -> Result {
    if let Some((role, bus)) = child_role()? {
        assert_eq!(role, "holder");
        return server(&bus);
    }
    let mut refs = 10_000usize;
    let mut soft_nofile = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--refs" => refs = args.next().ok_or("--refs N")?.parse()?,
            "--soft-nofile" => soft_nofile = Some(args.next().ok_or("--soft-nofile N")?.parse()?),
            "--bench" => {}
            other => return Err(format!("unknown option {other}").into()),
        }
    }
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    if let Some(soft) = soft_nofile {
        let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
        setrlimit(Resource::RLIMIT_NOFILE, soft, hard)?;
    }
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    println!("RLIMIT_NOFILE at start: soft {soft}, hard {hard}; {refs} references");

    let dir = tempfile::tempdir()?;
    let master = BusMaster::bind(dir.path().join("bus"), AllowAll)?.spawn()?;
    let _server = spawn_child("holder", 0, master.path())?;
    common::pin_to(0)?;
    let rt = Runtime::new(RuntimeConfig::default())?;
    rt.start_thread_pool();
    let (soft_now, _) = getrlimit(Resource::RLIMIT_NOFILE)?;
    let me = BusSocket::connect(master.path())?;
    let svc = retry(|| rt.get_service(&me, NAME))?;

    // Warm up both sides (threads, buffers, rings), then measure from there.
    let mut mine = Vec::with_capacity(refs + 100);
    let pass = |mine: &mut Vec<SpIBinder>| -> Result<u64> {
        let token = rt.local(Token);
        let mut p = Parcel::new();
        p.write_binder(&token);
        let t = Instant::now();
        svc.transact(HOLD, p)?;
        let ns = t.elapsed().as_nanos() as u64;
        mine.push(token);
        Ok(ns)
    };
    for _ in 0..100 {
        pass(&mut mine)?;
    }
    let (server_before, _) = server_usage(&svc)?;
    let client_before = usage()?;
    let mut samples = Vec::with_capacity(refs);
    let mut failed = None;
    for i in 0..refs {
        match pass(&mut mine) {
            Ok(ns) => samples.push(ns),
            Err(e) => {
                failed = Some(format!("reference {} failed: {e}", i + 1));
                break;
            }
        }
    }
    let (server_after, held) = server_usage(&svc)?;
    let client_after = usage()?;
    let n = samples.len().max(1) as f64;
    samples.sort_unstable();
    let us = |p| match samples.is_empty() {
        true => f64::NAN,
        false => percentile(&samples, p) as f64 / 1000.0,
    };
    println!(
        "soft limit after Runtime::new: {soft_now}; passed {} of {refs}, the service holds {}",
        samples.len(),
        held - 100
    );
    if let Some(f) = failed {
        println!("{f}");
    }
    println!("| what | per reference | total |");
    println!("|---|---|---|");
    let row = |what: &str, before: Usage, after: Usage| {
        let kib = (after.rss_kib - before.rss_kib) as f64;
        let fds = (after.fds - before.fds) as f64;
        println!(
            "| {what}, memory | {:.2} KiB | {:.1} MiB |",
            kib / n,
            kib / 1024.0
        );
        println!("| {what}, fds | {:.2} | {} |", fds / n, fds);
    };
    row("service holding", server_before, server_after);
    row("client exporting", client_before, client_after);
    println!(
        "| passing one (call with one new object), p50 / p99 | {:.1} / {:.1} µs | |",
        us(50.0),
        us(99.0)
    );
    spread_calls(&svc)
}

/// Calls to `SPREAD` objects of the service in turn against calls to one of them, alternating
/// chunk by chunk.
fn spread_calls(svc: &SpIBinder) -> Result {
    let objects: Vec<SpIBinder> = (0..SPREAD)
        .map(|_| Ok(svc.transact(MAKE, Parcel::new())?.read_binder()?))
        .collect::<Result<_>>()?;
    let call = |o: &SpIBinder| -> Result<u64> {
        let t = Instant::now();
        o.transact(NOP, Parcel::new())?;
        Ok(t.elapsed().as_nanos() as u64)
    };
    for o in &objects {
        call(o)?;
    }
    let (mut one, mut many) = (Vec::new(), Vec::new());
    for _ in 0..20 {
        for o in &objects {
            many.push(call(o)?);
        }
        for _ in 0..SPREAD {
            one.push(call(&objects[0])?);
        }
    }
    one.sort_unstable();
    many.sort_unstable();
    let p = |v: &[u64], q| percentile(v, q) as f64 / 1000.0;
    println!(
        "| null calls to {SPREAD} objects of one peer in turn, p50 / p99 | {:.2} / {:.2} µs | {:.2}x one object's p50 |",
        p(&many, 50.0),
        p(&many, 99.0),
        p(&many, 50.0) / p(&one, 50.0)
    );
    println!(
        "| null calls to one of them, p50 / p99 | {:.2} / {:.2} µs | |",
        p(&one, 50.0),
        p(&one, 99.0)
    );
    Ok(())
}
