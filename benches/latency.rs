//! Call latency of afbus against its raw floors and the kernel Binder driver, on Android's
//! benchmark workloads, in one run.
//!
//! `cargo bench --bench latency -- [--quick] [--iters N] [--json FILE] [--transports LIST]
//! [--pins LIST] [--workloads LIST] [--background-load]`
//!
//! `--background-load` runs one busy loop per CPU (SCHED_OTHER, each pinned to its CPU) for the
//! whole run: a loaded machine, where priority inheritance must show its worth.
//!
//! Workloads (reproducing what Android measures, not its code):
//! - `null`: `binderThroughputTest`, a synchronous call with a request of 0 or 4096 bytes and an
//!   empty reply;
//! - `echo`: `binderRpcBenchmark`, a byte array of 64 B to 65537 B sent and returned; `ping`;
//!   `object`, a binder (an fd on `raw-seqpacket`) sent and returned;
//! - `schd`: `schd-dbg`, a SCHED_FIFO caller; the handler reports whether it runs at the caller's
//!   priority, and round trips over 2.5 ms count as missed deadlines.
//!
//! Rows: `raw-seqpacket`, `raw-futex` and `raw-futex-rt` (the floors: no framework; see
//! `latency/raw.rs`), `afbus-socket` and `afbus-shm` (the runtime on each path; `schd` calls a
//! runtime whose loopers wait at the caller's priority, `RuntimeConfig::priority_ceiling`), and
//! `binder-kernel` where this kernel has Binder.
//!
//! Each transport's client runs in its own process (with its own server process), pinned as the
//! pin mode says; this process only conducts. For each workload it runs every transport in turn,
//! chunk by chunk, so host noise falls on all rows alike, and divides each row's p50 by the p50 of
//! `raw-seqpacket` (and of `binder-kernel`, where there is a device) measured beside it.

#![deny(unsafe_code)]

mod common;

#[path = "latency/afbus_rows.rs"]
mod afbus_rows;
#[allow(unsafe_code)]
#[path = "common/binder_uapi.rs"]
mod binder_uapi;
#[allow(unsafe_code)]
#[path = "latency/futex.rs"]
mod futex;
#[path = "latency/kernel.rs"]
mod kernel;
#[path = "latency/raw.rs"]
mod raw;
#[path = "latency/report.rs"]
mod report;
#[path = "latency/worker.rs"]
mod worker;

use afbus::binder::{Priority, SchedPolicy};
use common::{Result, ROLE_VAR};
use report::Row;
use worker::Worker;

/// Largest message any workload sends (65537 B of echo plus headers), rounded up.
pub const MAX_MESSAGE: usize = 128 * 1024;

/// Rows, in table order. The first is the baseline of the ratio column.
const TRANSPORTS: &[&str] = &[
    "raw-seqpacket",
    "raw-futex",
    "raw-futex-rt",
    "afbus-socket",
    "afbus-socket-async",
    "afbus-shm",
    "afbus-shm-async",
    "binder-kernel",
];

/// Pin modes: (name, client CPU, server CPU).
const PINS: &[(&str, Option<usize>, Option<usize>)] = &[
    ("same", Some(0), Some(0)),
    ("cross", Some(0), Some(1)),
    ("unpinned", None, None),
];

/// `binderRpcBenchmark`'s byte-array sizes.
const ECHO_SIZES: &[usize] = &[
    64, 1024, 2048, 4096, 8182, 16364, 32728, 65535, 65536, 65537,
];

/// `binderThroughputTest`'s request sizes (`-s 0`, `-s 4096`).
const NULL_SIZES: &[usize] = &[0, 4096];

/// The priority of the `schd` caller.
pub const SCHD_PRIORITY: Priority = Priority {
    policy: SchedPolicy::Fifo,
    level: 10,
};

/// Round trips per transport before switching to the next.
const CHUNK: usize = 500;

/// What a call does; the value is its code on every transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// A request of some bytes, an empty reply.
    Null = 1,
    /// The request's bytes come back.
    Echo = 2,
    /// Nothing there and back (the framework's own ping where it has one).
    Ping = 3,
    /// An object goes there and back.
    Object = 4,
    /// A SCHED_FIFO caller; the reply says whether the handler ran at its priority.
    Schd = 5,
}

impl Op {
    const ALL: [Op; 5] = [Op::Null, Op::Echo, Op::Ping, Op::Object, Op::Schd];

    /// The operation with this code, if any.
    pub fn from_wire(v: u32) -> Option<Op> {
        Op::ALL.into_iter().find(|op| *op as u32 == v)
    }

    /// Its name in tables, JSON and options.
    pub fn name(self) -> &'static str {
        match self {
            Op::Null => "null",
            Op::Echo => "echo",
            Op::Ping => "ping",
            Op::Object => "object",
            Op::Schd => "schd",
        }
    }

    fn parse(s: &str) -> Result<Op> {
        Op::ALL
            .into_iter()
            .find(|op| op.name() == s)
            .ok_or_else(|| format!("unknown workload {s:?}").into())
    }
}

/// One workload: an operation and the bytes the request carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Work {
    /// The operation.
    pub op: Op,
    /// Request bytes (echo: also reply bytes).
    pub payload: usize,
}

impl Work {
    /// The payload column: bytes, or what travels instead.
    pub fn payload_label(&self) -> String {
        match self.op {
            Op::Object => "1 object".into(),
            _ => format!("{} B", self.payload),
        }
    }
}

/// A transport's client side: one synchronous call.
pub trait Client {
    /// Calls `op` with `payload` and checks the reply; returns whether the handler ran at the
    /// caller's priority (meaningful for [`Op::Schd`]).
    fn call(&mut self, op: Op, payload: &[u8]) -> Result<bool>;
}

/// What a server process prints on stdout once it serves.
pub fn say_ready() -> Result {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(b"ready\n")?;
    out.flush()?;
    Ok(())
}

/// Whether the calling thread runs at [`SCHD_PRIORITY`] (what a `schd` handler reports).
pub fn runs_at_caller_priority() -> bool {
    Priority::current().is_ok_and(|p| p == SCHD_PRIORITY)
}

struct Opts {
    iters: usize,
    background_load: bool,
    json: Option<String>,
    transports: Vec<&'static str>,
    pins: Vec<&'static str>,
    ops: Vec<Op>,
}

impl Opts {
    fn parse() -> Result<Opts> {
        let mut args = std::env::args().skip(1);
        let (mut quick, mut iters, mut json) = (false, None, None);
        let mut background_load = false;
        let mut transports = TRANSPORTS.to_vec();
        let mut pins: Vec<&str> = PINS.iter().map(|p| p.0).collect();
        let mut ops = Op::ALL.to_vec();
        let pick = |list: String, from: &[&'static str]| -> Result<Vec<&'static str>> {
            list.split(',')
                .map(|s| {
                    from.iter()
                        .copied()
                        .find(|t| *t == s)
                        .ok_or_else(|| format!("unknown name {s:?}; known: {from:?}").into())
                })
                .collect()
        };
        while let Some(a) = args.next() {
            let mut value = || args.next().ok_or(format!("{a} needs a value"));
            match a.as_str() {
                "--quick" => quick = true,
                "--background-load" => background_load = true,
                // cargo bench passes this to every bench.
                "--bench" => {}
                "--iters" => iters = Some(value()?.parse()?),
                "--json" => json = Some(value()?),
                "--transports" => transports = pick(value()?, TRANSPORTS)?,
                "--pins" => pins = pick(value()?, &PINS.iter().map(|p| p.0).collect::<Vec<_>>())?,
                "--workloads" => ops = value()?.split(',').map(Op::parse).collect::<Result<_>>()?,
                other => return Err(format!("unknown option {other:?}").into()),
            }
        }
        let iters = iters.unwrap_or(if quick { 1000 } else { 20_000 });
        if iters == 0 {
            return Err("--iters must be at least 1".into());
        }
        Ok(Opts {
            iters,
            background_load,
            json,
            transports,
            pins,
            ops,
        })
    }

    fn works(&self) -> Vec<Work> {
        let mut w = Vec::new();
        for &op in &self.ops {
            let sizes = match op {
                Op::Null => NULL_SIZES,
                Op::Echo => ECHO_SIZES,
                _ => &[0],
            };
            w.extend(sizes.iter().map(|&payload| Work { op, payload }));
        }
        w
    }
}

fn main() -> Result {
    match std::env::var(ROLE_VAR).as_deref() {
        Ok("client") => return worker::client_main(),
        Ok("server") => return worker::server_main(),
        _ => {}
    }
    let opts = Opts::parse()?;
    describe_machine();
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let _load = opts.background_load.then(|| {
        println!("background load: {cpus} busy loop(s) at SCHED_OTHER, one pinned to each CPU");
        BusyLoops::start(cpus)
    });
    println!(
        "round trips per row: {} (after {} warm-up), transports alternating in chunks of {CHUNK}",
        opts.iters,
        opts.iters / 10
    );
    let mut notes = Vec::new();
    let mut transports = opts.transports.clone();
    if transports.contains(&"binder-kernel") && kernel::device().is_none() {
        notes.push("binder-kernel: skipped: no binder device".to_owned());
        transports.retain(|t| *t != "binder-kernel");
    }
    let mut works = opts.works();
    let fifo_ok = std::thread::spawn(|| SCHD_PRIORITY.apply())
        .join()
        .map_err(|_| "priority probe panicked")?;
    if let Err(e) = fifo_ok {
        if works.iter().any(|w| w.op == Op::Schd) {
            notes.push(format!(
                "schd: skipped: SCHED_FIFO not permitted here ({e}; it needs CAP_SYS_NICE or \
                 RLIMIT_RTPRIO)"
            ));
        }
        works.retain(|w| w.op != Op::Schd);
    }
    if transports.contains(&"raw-futex") && works.iter().any(|w| w.op == Op::Object) {
        notes.push("raw-futex: no object workload (shared memory cannot carry one)".into());
    }
    let mut rows = Vec::new();
    for &(pin, client_cpu, server_cpu) in PINS.iter().filter(|p| opts.pins.contains(&p.0)) {
        if server_cpu.is_some_and(|c| c >= cpus) {
            notes.push(format!("pin {pin}: skipped: only {cpus} CPU(s)"));
            continue;
        }
        let mut workers = Vec::new();
        for &t in &transports {
            match Worker::start(t, client_cpu, server_cpu)? {
                Ok(w) => workers.push(w),
                Err(reason) => notes.push(format!("{t} ({pin}): skipped: {reason}")),
            }
        }
        for &work in &works {
            measure(&mut workers, work, pin, opts.iters, &mut rows, &mut notes)?;
        }
    }
    println!();
    report::print_table(&rows);
    println!();
    report::print_schd(&rows);
    if !notes.is_empty() {
        println!();
        notes.dedup();
        for n in &notes {
            println!("- {n}");
        }
    }
    if let Some(path) = &opts.json {
        report::write_json(path, &rows)?;
        println!("\nwrote {} rows to {path}", rows.len());
    }
    Ok(())
}

/// Measures `work` on every worker that can do it, alternating chunk by chunk. A transport whose
/// call fails gets no row for this workload but a note saying after how many calls and why, and
/// its processes are started afresh for the next workload.
fn measure(
    workers: &mut [Worker],
    work: Work,
    pin: &'static str,
    iters: usize,
    rows: &mut Vec<Row>,
    notes: &mut Vec<String>,
) -> Result {
    struct State {
        samples: Vec<u64>,
        priority_failures: u64,
        calls: usize,
        failed: bool,
    }
    let mut active: Vec<(&mut Worker, State)> = workers
        .iter_mut()
        .filter(|w| !(w.transport.starts_with("raw-futex") && work.op == Op::Object))
        .map(|w| {
            let st = State {
                samples: Vec::with_capacity(iters),
                priority_failures: 0,
                calls: 0,
                failed: false,
            };
            (w, st)
        })
        .collect();
    let warm_up = (iters / 10).max(1);
    let mut step = |w: &mut Worker, st: &mut State, n: usize, keep: bool| -> Result {
        if st.failed {
            return Ok(());
        }
        match w.run(work, n)? {
            Ok((s, f)) => {
                st.calls += s.len();
                if keep {
                    st.samples.extend(s);
                    st.priority_failures += f;
                }
            }
            Err((done, e)) => {
                notes.push(format!(
                    "{} {} {} ({pin}): failed after {} calls: {e}",
                    w.transport,
                    work.op.name(),
                    work.payload_label(),
                    st.calls + done
                ));
                st.failed = true;
                w.restart()?;
            }
        }
        Ok(())
    };
    for (w, st) in active.iter_mut() {
        step(w, st, warm_up, false)?;
    }
    let mut done = 0;
    while done < iters {
        let n = CHUNK.min(iters - done);
        for (w, st) in active.iter_mut() {
            step(w, st, n, true)?;
        }
        done += n;
    }
    for (w, mut st) in active.into_iter().filter(|(_, st)| !st.failed) {
        st.samples.sort_unstable();
        rows.push(Row {
            transport: w.transport,
            work,
            pin,
            samples: st.samples,
            priority_failures: st.priority_failures,
        });
    }
    Ok(())
}

/// One busy loop per CPU, pinned there, until dropped.
struct BusyLoops {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl BusyLoops {
    fn start(cpus: usize) -> BusyLoops {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let threads = (0..cpus)
            .map(|cpu| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let mut set = nix::sched::CpuSet::new();
                    if set.set(cpu).is_ok() {
                        let _ = nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set);
                    }
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        std::hint::spin_loop();
                    }
                })
            })
            .collect();
        BusyLoops { stop, threads }
    }
}

impl Drop for BusyLoops {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Prints what the numbers were measured on.
fn describe_machine() {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    println!("machine: {cpus} CPU(s), {model}, Linux {}", kernel.trim());
}
