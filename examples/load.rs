//! Load: many client connections, each making many calls (sync and one-way mixed) on one service,
//! with every call checked, and the service's fds, threads and peak memory reported.
//!
//! `cargo run --release --example load -- --clients 1000 --calls 1000 [--procs 100]`
//!
//! A client connection is a runtime with its own channel to the service. Clients run as threads
//! of `--procs` processes (`clients / procs` each, sharing one bus connection per process): the
//! bus allows each uid `MAX_CONNECTIONS_PER_UID` (256) connections, so a thousand processes of
//! one user would be refused, and many threads per process is how real clients look anyway.
//!
//! Checked: every sync call is answered once with its own content; every one-way call arrives
//! once, in order per client (the service checks sequence numbers and counts); once every client
//! has gone, the service's open fds are back to what they were before, and its threads are within
//! its pool's bound. Exit status 0 when all holds, 1 otherwise.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use afbus::binder::{
    Binder, CallContext, Parcel, Runtime, RuntimeConfig, SpIBinder, Status, StatusCode,
    TransactionCode, DEFAULT_MAX_THREADS,
};
use afbus::servicemanager::{PrivateBus, ServiceManager};
use afbus::transport::BusSocket;
use parking_lot::Mutex;

const NAME: &str = "afbus.examples.Load";
/// (client u32, seq u32, text) -> (client, seq, text).
const SYNC: TransactionCode = TransactionCode(1);
/// One-way (client u32, seq u32).
const ONEWAY: TransactionCode = TransactionCode(2);
/// (expected one-way calls per client u64) -> the service's figures, see `Stats`.
const STATS: TransactionCode = TransactionCode(3);
/// How long any single wait may last before the run counts as hung.
const PATIENCE: Duration = Duration::from_secs(300);
/// The service's fds that are the service manager's spare references to it (minted ahead, not
/// references until handed over): at most a batch.
const SPARE_FDS: u64 = afbus::binder::MINT_AHEAD_BATCH as u64;

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// What the service saw, per client.
#[derive(Default, Clone, Copy)]
struct PerClient {
    sync: u64,
    next_oneway: u64,
}

struct Load {
    clients: Vec<Mutex<PerClient>>,
    sync_total: AtomicU64,
    oneway_total: AtomicU64,
    /// Calls that named an unknown client, or a one-way call out of sequence.
    violations: AtomicU64,
    refs: AtomicUsize,
    fds_before: usize,
    threads_before: usize,
}

impl Binder for Load {
    fn descriptor(&self) -> &str {
        "afbus.examples.ILoad"
    }

    fn on_transact(
        &self,
        code: TransactionCode,
        data: &mut Parcel,
        reply: &mut Parcel,
        _: &CallContext,
    ) -> std::result::Result<(), Status> {
        match code {
            SYNC => {
                let (client, seq) = (data.read_u32()?, data.read_u32()?);
                let text = data.read_string()?;
                match self.clients.get(client as usize) {
                    Some(c) => c.lock().sync += 1,
                    None => {
                        self.violations.fetch_add(1, Ordering::SeqCst);
                    }
                }
                self.sync_total.fetch_add(1, Ordering::SeqCst);
                reply.write_u32(client);
                reply.write_u32(seq);
                reply.write_str(&text);
            }
            ONEWAY => {
                let (client, seq) = (data.read_u32()?, data.read_u32()?);
                let in_order = self.clients.get(client as usize).is_some_and(|c| {
                    let mut c = c.lock();
                    let ok = c.next_oneway == u64::from(seq);
                    c.next_oneway = u64::from(seq) + 1;
                    ok
                });
                if !in_order {
                    self.violations.fetch_add(1, Ordering::SeqCst);
                }
                self.oneway_total.fetch_add(1, Ordering::SeqCst);
            }
            STATS => {
                let (sync_each, oneway_each) = (data.read_u64()?, data.read_u64()?);
                let short = self
                    .clients
                    .iter()
                    .filter(|c| {
                        let c = *c.lock();
                        c.sync != sync_each || c.next_oneway != oneway_each
                    })
                    .count();
                reply.write_u64(self.sync_total.load(Ordering::SeqCst));
                reply.write_u64(self.oneway_total.load(Ordering::SeqCst));
                reply.write_u64(self.violations.load(Ordering::SeqCst));
                reply.write_u64(short as u64);
                reply.write_u64(self.refs.load(Ordering::SeqCst) as u64);
                reply.write_u64(self.fds_before as u64);
                reply.write_u64(count_dir("/proc/self/fd") as u64);
                reply.write_u64(self.threads_before as u64);
                reply.write_u64(count_dir("/proc/self/task") as u64);
                reply.write_u64(vm_hwm_kib());
            }
            _ => return Err(StatusCode::UNKNOWN_TRANSACTION.into()),
        }
        Ok(())
    }

    fn on_refs_changed(&self, count: usize) {
        self.refs.store(count, Ordering::SeqCst);
    }
}

/// The service's figures, as STATS replies them.
#[derive(Debug)]
struct Stats {
    sync_total: u64,
    oneway_total: u64,
    violations: u64,
    /// Clients whose counts are not the expected ones.
    short: u64,
    refs: u64,
    fds_before: u64,
    fds_now: u64,
    threads_before: u64,
    threads_now: u64,
    vm_hwm_kib: u64,
}

fn stats(svc: &SpIBinder, sync_each: u64, oneway_each: u64) -> Result<Stats> {
    let mut p = Parcel::new();
    p.write_u64(sync_each);
    p.write_u64(oneway_each);
    let mut r = svc.transact(STATS, p)?;
    let mut next = || r.read_u64();
    Ok(Stats {
        sync_total: next()?,
        oneway_total: next()?,
        violations: next()?,
        short: next()?,
        refs: next()?,
        fds_before: next()?,
        fds_now: next()?,
        threads_before: next()?,
        threads_now: next()?,
        vm_hwm_kib: next()?,
    })
}

fn count_dir(path: &str) -> usize {
    std::fs::read_dir(path).map_or(0, |d| d.count())
}

/// Peak resident memory of this process (VmHWM), in KiB.
fn vm_hwm_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Lifts the soft fd limit to the hard one: a thousand channels need more than 1024 fds.
fn raise_fd_limit() {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    if let Ok((_, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
    }
}

/// The service process: registers, then serves until killed.
fn serve(bus: &Path, clients: usize) -> Result {
    raise_fd_limit();
    let rt = Runtime::new(RuntimeConfig::default())?;
    rt.start_thread_pool();
    let sm = ServiceManager::connect(&rt, bus)?;
    let load = Load {
        clients: (0..clients).map(|_| Mutex::default()).collect(),
        sync_total: AtomicU64::new(0),
        oneway_total: AtomicU64::new(0),
        violations: AtomicU64::new(0),
        refs: AtomicUsize::new(0),
        fds_before: count_dir("/proc/self/fd"),
        threads_before: count_dir("/proc/self/task"),
    };
    sm.add_service(NAME, &rt.local(load))?;
    rt.join_thread_pool();
    Ok(())
}

/// One client process: `count` client connections (threads), numbered from `first`.
fn clients(bus: &Path, first: u32, count: u32, calls: u32) -> Result {
    raise_fd_limit();
    let endpoint = Arc::new(BusSocket::connect(bus)?);
    let threads: Vec<_> = (first..first + count)
        .map(|id| {
            let endpoint = endpoint.clone();
            std::thread::spawn(move || client(endpoint, id, calls))
        })
        .collect();
    let mut failed = 0;
    for t in threads {
        match t.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                eprintln!("[clients] {e}");
                failed += 1;
            }
            Err(_) => failed += 1,
        }
    }
    if failed > 0 {
        return Err(format!("{failed} clients failed").into());
    }
    Ok(())
}

/// One client connection: even calls sync (reply checked), odd ones one-way.
fn client(endpoint: Arc<BusSocket>, id: u32, calls: u32) -> Result {
    let rt = Runtime::new(RuntimeConfig {
        max_threads: 0,
        inherit_priority: false,
        ..RuntimeConfig::default()
    })?;
    let sm = ServiceManager::with_endpoint(&rt, endpoint)?;
    let svc = sm.wait_for_service(NAME, PATIENCE)?;
    for seq in 0..calls {
        let mut p = Parcel::new();
        p.write_u32(id);
        if seq % 2 == 0 {
            p.write_u32(seq);
            let text = format!("client {id} call {seq}");
            p.write_str(&text);
            let mut r = svc.transact(SYNC, p)?;
            let (c, s, t) = (r.read_u32()?, r.read_u32()?, r.read_string()?);
            if (c, s, t.as_str()) != (id, seq, text.as_str()) {
                return Err(format!("client {id} call {seq}: reply ({c}, {s}, {t:?})").into());
            }
        } else {
            p.write_u32(seq / 2);
            svc.transact_oneway_blocking(ONEWAY, p)?;
        }
    }
    Ok(())
}

struct Options {
    clients: u32,
    calls: u32,
    procs: u32,
}

fn parse(args: &[String]) -> Option<Options> {
    let mut o = Options {
        clients: 1000,
        calls: 1000,
        procs: 100,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let v: u32 = it.next()?.parse().ok()?;
        match a.as_str() {
            "--clients" => o.clients = v,
            "--calls" => o.calls = v,
            "--procs" => o.procs = v,
            _ => return None,
        }
    }
    o.procs = o.procs.clamp(1, o.clients.max(1));
    Some(o)
}

/// Runs the whole test and prints the report; true if every check held.
fn drive(o: &Options) -> Result<bool> {
    raise_fd_limit();
    let bus = PrivateBus::start()?;
    let exe = std::env::current_exe()?;
    let path = bus.path().to_path_buf();
    let mut service = Killed(
        Command::new(&exe)
            .args(["service", "--bus"])
            .arg(&path)
            .args(["--clients", &o.clients.to_string()])
            .spawn()?,
    );
    let rt = Runtime::new(RuntimeConfig::default())?;
    let sm = ServiceManager::connect(&rt, &path)?;
    let svc = sm.wait_for_service(NAME, PATIENCE)?;
    let sync_each = u64::from(o.calls.div_ceil(2));
    let oneway_each = u64::from(o.calls / 2);
    let before = stats(&svc, sync_each, oneway_each)?;

    println!(
        "[load] {} clients ({} processes x {} threads) x {} calls (half sync, half one-way)",
        o.clients,
        o.procs,
        o.clients.div_ceil(o.procs),
        o.calls
    );
    let started = Instant::now();
    let per = o.clients.div_ceil(o.procs);
    let mut children = Vec::new();
    let mut first = 0;
    while first < o.clients {
        let count = per.min(o.clients - first);
        children.push(
            Command::new(&exe)
                .args(["clients", "--bus"])
                .arg(&path)
                .args(["--first", &first.to_string(), "--count", &count.to_string()])
                .args(["--calls", &o.calls.to_string()])
                .spawn()?,
        );
        first += count;
    }
    let mut failed_procs = 0;
    for mut c in children {
        if !c.wait()?.success() {
            failed_procs += 1;
        }
    }
    let calls_done = started.elapsed();

    // One-way calls may still be queued in the service; the clients' channels close as the
    // service notices their processes have gone, and their fds as the last thread holding
    // each lets go. Wait for all three (a leak is what is left after PATIENCE).
    let total_oneway = oneway_each * u64::from(o.clients);
    let deadline = Instant::now() + PATIENCE;
    let after = loop {
        let s = stats(&svc, sync_each, oneway_each)?;
        let settled = s.oneway_total >= total_oneway
            && s.refs <= before.refs
            && s.fds_now <= before.fds_now + SPARE_FDS;
        if settled || Instant::now() > deadline {
            break s;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let drained = started.elapsed();

    let total_sync = sync_each * u64::from(o.clients);
    let total = total_sync + total_oneway;
    println!(
        "[load] {} calls in {:.1} s ({:.0} calls/s); one-way queue drained and channels closed at {:.1} s",
        total,
        calls_done.as_secs_f64(),
        total as f64 / calls_done.as_secs_f64(),
        drained.as_secs_f64()
    );
    let checks = [
        (
            "client processes exited cleanly",
            failed_procs == 0,
            format!("{failed_procs} failed"),
        ),
        (
            "every sync call answered once with its own content",
            after.sync_total == total_sync,
            format!("{} of {total_sync}", after.sync_total),
        ),
        (
            "every one-way call delivered once",
            after.oneway_total == total_oneway,
            format!("{} of {total_oneway}", after.oneway_total),
        ),
        (
            "no call out of order or from an unknown client",
            after.violations == 0,
            format!("{} violations", after.violations),
        ),
        (
            "every client's counts exact",
            after.short == 0,
            format!("{} clients off", after.short),
        ),
        (
            "references back to before",
            after.refs == before.refs,
            format!("{} before, {} after", before.refs, after.refs),
        ),
        (
            "no fd leak",
            // Before may count an fd of the driver's own get still being dropped: at most, then
            // (the wait above gives every fd of the clients the time to close), and the service
            // manager's spare references to the service, which it keeps from the first get on.
            after.fds_now <= before.fds_now + SPARE_FDS,
            format!(
                "{} before, {} after (at start {})",
                before.fds_now, after.fds_now, after.fds_before
            ),
        ),
        (
            "threads within the pool's bound",
            after.threads_now <= after.threads_before + DEFAULT_MAX_THREADS as u64,
            format!(
                "{} at start, {} before, {} after (pool bound {DEFAULT_MAX_THREADS})",
                after.threads_before, before.threads_now, after.threads_now
            ),
        ),
    ];
    let mut ok = true;
    for (what, held, detail) in &checks {
        println!(
            "[load] {} {what}: {detail}",
            if *held { "ok  " } else { "FAIL" }
        );
        ok &= held;
    }
    println!(
        "[load] service peak memory (VmHWM): {:.1} MiB",
        after.vm_hwm_kib as f64 / 1024.0
    );
    service.0.kill()?;
    Ok(ok)
}

/// A child killed and reaped on drop.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The value after `flag` in `args`.
fn arg<T: std::str::FromStr>(args: &[String], flag: &str) -> Option<T> {
    let at = args.iter().position(|a| a == flag)?;
    args.get(at + 1)?.parse().ok()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("service") => arg::<PathBuf>(&args, "--bus")
            .zip(arg::<usize>(&args, "--clients"))
            .ok_or_else(|| "service --bus PATH --clients N".into())
            .and_then(|(bus, n)| serve(&bus, n))
            .map(|()| true),
        Some("clients") => (|| {
            let bus: PathBuf = arg(&args, "--bus")?;
            Some((
                bus,
                arg(&args, "--first")?,
                arg(&args, "--count")?,
                arg(&args, "--calls")?,
            ))
        })()
        .ok_or_else(|| "clients --bus PATH --first N --count N --calls N".into())
        .and_then(|(bus, first, count, calls)| clients(&bus, first, count, calls))
        .map(|()| true),
        _ => match parse(&args) {
            Some(o) => drive(&o),
            None => Err("usage: load [--clients N] [--calls N] [--procs N]".into()),
        },
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("load: {e}");
            ExitCode::FAILURE
        }
    }
}
