//! The service manager off the data path: gets (of a service the client holds already, and of
//! one it does not, back to back and one per millisecond as a process's first get is) against
//! a plain call made the same way, and a call's cost with 1 and with 10,000 registered names,
//! measured in the same run.
//!
//! `cargo bench --bench servicemanager [-- --quick] [--iters N]`

mod common;
#[path = "servicemanager/raw_get.rs"]
mod raw_get;

use std::time::Duration;

use afbus::binder::{
    Binder, CallContext, Parcel, Runtime, RuntimeConfig, Status, StatusCode, TransactionCode,
};
use afbus::servicemanager::{PrivateBus, ServiceManager};
use common::*;

const NULL: TransactionCode = TransactionCode(1);
const REGISTER_MANY: TransactionCode = TransactionCode(2);
const NAMES: usize = 10_000;

/// A null method, and a method that registers the service under many more names.
struct Null {
    bus: String,
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
            NULL => Ok(()),
            REGISTER_MANY => {
                let binder = data.read_binder()?;
                let rt = Runtime::new(RuntimeConfig::default()).map_err(Status::from)?;
                let sm = ServiceManager::connect(&rt, &self.bus).map_err(Status::from)?;
                for i in 0..data.read_u32()? {
                    sm.add_service(&format!("bench.filler.{i}"), &binder)
                        .map_err(Status::from)?;
                }
                Ok(())
            }
            _ => Err(StatusCode::UNKNOWN_TRANSACTION.into()),
        }
    }
}

fn main() -> Result {
    if let Some((_, bus)) = child_role()? {
        let rt = Runtime::new(RuntimeConfig::default())?;
        let sm = ServiceManager::connect(&rt, &bus)?;
        let me = rt.local(Null { bus: bus.clone() });
        sm.add_service("bench.null", &me)?;
        rt.join_thread_pool();
        return Ok(());
    }
    let opts = Opts::from_args()?;
    let bus = PrivateBus::start()?;
    // Started, as the bus master's threads are, before this thread is pinned.
    let raw = raw_get::RawBroker::start()?;
    println!(
        "samples per row: {} (after {} warm-up), alternating in chunks of {CHUNK}",
        opts.iters,
        opts.iters / 10
    );
    println!();
    print_header();
    let (pin, child_cpu) = pin_modes()[0];
    pin_to(0)?;
    let child = spawn_child("null", child_cpu, bus.path())?;
    let rt = Runtime::new(RuntimeConfig::default())?;
    let sm = ServiceManager::connect(&rt, bus.path())?;
    let svc = sm.wait_for_service("bench.null", Duration::from_secs(20))?;
    let call = || timed(|| Ok(svc.transact(NULL, Parcel::new()).map(drop)?));
    let gets = opts.iters / 10;
    let get = || timed(|| Ok(sm.get_service("bench.null").map(drop)?));
    let (call_s, get_s) = interleaved(gets, call, get)?;
    // A client that does not hold the service: each get needs a new reference. It is timed
    // until the proxy is in hand; letting it go (the service hears the hang-up) comes after.
    let fresh_rt = Runtime::new(RuntimeConfig::default())?;
    let fresh_sm = ServiceManager::connect(&fresh_rt, bus.path())?;
    let fresh_get = || {
        let mut got = None;
        let t = timed(|| {
            got = Some(fresh_sm.get_service("bench.null")?);
            Ok(())
        })?;
        drop(got);
        Ok(t)
    };
    let (_, fresh_s) = interleaved(gets, call, fresh_get)?;
    // The same, one get a millisecond, as a process's first get of a service is: what the
    // service manager and the service do after each get (telling the service whom its spare
    // went to, minting the next, hearing the client drop it) is done before the next one. Each
    // get is timed beside a null call to the service and a call to the service manager (which
    // runs wherever the scheduler puts it, as the service does not), and beside the floor of
    // both with no framework (see `raw_get`), one of each in turn.
    let sm_call = || timed(|| Ok(sm.is_declared("bench.null").map(drop)?));
    let raw_call = || timed(|| raw.call());
    let raw_get = || timed(|| raw.get());
    let mut paced: [Vec<u64>; 5] = Default::default();
    let mut ops: [&dyn Fn() -> Result<u64>; 5] = [&call, &sm_call, &fresh_get, &raw_call, &raw_get];
    for i in 0..gets / 4 + gets / 40 {
        ops.rotate_left(1);
        for (j, op) in ops.iter().enumerate() {
            std::thread::sleep(Duration::from_millis(1));
            let t = op()?;
            if i >= gets / 40 {
                paced[(i + 1 + j) % 5].push(t);
            }
        }
    }
    paced.iter_mut().for_each(|s| s.sort_unstable());
    let [paced_call_s, paced_sm_s, paced_s, raw_call_s, raw_get_s] = paced;
    // The path the runtime takes (`AFBUS_SHM=0`: the socket).
    let afbus = match afbus::transport::shm::shm_default() {
        true => "afbus-shm",
        false => "afbus-socket",
    };
    let call_p50 = percentile(&call_s, 50.0);
    print_row(afbus, "null call", 0, pin, &call_s, call_p50);
    print_row(afbus, "get (not held yet)", 0, pin, &fresh_s, call_p50);
    let paced_call_p50 = percentile(&paced_call_s, 50.0);
    print_row(
        afbus,
        "null call, paced",
        0,
        pin,
        &paced_call_s,
        paced_call_p50,
    );
    print_row(
        afbus,
        "service manager call, paced",
        0,
        pin,
        &paced_sm_s,
        paced_call_p50,
    );
    print_row(
        afbus,
        "get (not held yet), paced",
        0,
        pin,
        &paced_s,
        paced_call_p50,
    );
    let raw_call_p50 = percentile(&raw_call_s, 50.0);
    print_row(
        "raw-seqpacket",
        "null call, paced",
        0,
        pin,
        &raw_call_s,
        raw_call_p50,
    );
    print_row(
        "raw-seqpacket",
        "new connection passed, paced",
        0,
        pin,
        &raw_get_s,
        raw_call_p50,
    );
    let p50 = |s: &[u64]| percentile(s, 50.0) as f64;
    println!(
        "\nget (not held yet), paced / service manager call, paced: {:.2}x",
        p50(&paced_s) / p50(&paced_sm_s)
    );
    println!();
    print_row(afbus, "get (held already)", 0, pin, &get_s, call_p50);

    let names = |n: usize| format!("call, {n} names");
    let (one, _) = interleaved(opts.iters, call, call)?;
    let mut p = Parcel::new();
    p.write_binder(&svc);
    p.write_u32(NAMES as u32);
    svc.transact(REGISTER_MANY, p)?;
    assert!(sm
        .check_service(&format!("bench.filler.{}", NAMES - 1))?
        .is_some());
    let (many, _) = interleaved(opts.iters, call, call)?;
    let one_p50 = percentile(&one, 50.0);
    print_row(afbus, &names(1), 0, pin, &one, one_p50);
    print_row(afbus, &names(NAMES + 1), 0, pin, &many, one_p50);
    drop(child);
    Ok(())
}
