//! What the latency benches share: pinning, the echo process, sample statistics and the
//! markdown table.
#![allow(dead_code)]

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use nix::sched::{sched_setaffinity, CpuSet};
use nix::unistd::Pid;

/// Errors in a bench are reported and end it.
pub type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Env var naming the role a re-executed bench binary plays.
pub const ROLE_VAR: &str = "AFBUS_BENCH_ROLE";
/// Env var: the CPU the child pins itself to.
pub const CPU_VAR: &str = "AFBUS_BENCH_CPU";
/// Env var: the bus path.
pub const BUS_VAR: &str = "AFBUS_BENCH_BUS";

/// Pins the calling thread (and the threads it spawns later) to one CPU.
pub fn pin_to(cpu: usize) -> Result {
    let mut set = CpuSet::new();
    set.set(cpu)?;
    sched_setaffinity(Pid::from_raw(0), &set)?;
    Ok(())
}

/// Pin modes to measure: both on CPU 0, or the child on CPU 1 (when there is one).
pub fn pin_modes() -> Vec<(&'static str, usize)> {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cpus >= 2 {
        vec![("same", 0), ("cross", 1)]
    } else {
        vec![("same", 0)]
    }
}

/// A child process, killed and reaped when dropped (also when the bench fails).
pub struct ChildGuard(Child);

impl ChildGuard {
    /// Guards a child spawned elsewhere.
    pub fn new(child: Child) -> ChildGuard {
        ChildGuard(child)
    }

    /// The guarded child (to take its pipes).
    pub fn child_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts this bench binary again as a child playing `role`, pinned to `cpu`, on `bus`.
pub fn spawn_child(role: &str, cpu: usize, bus: &std::path::Path) -> Result<ChildGuard> {
    Ok(ChildGuard(
        Command::new(std::env::current_exe()?)
            .env(ROLE_VAR, role)
            .env(CPU_VAR, cpu.to_string())
            .env(BUS_VAR, bus)
            .spawn()?,
    ))
}

/// In a child: (role, bus path), after pinning to the CPU asked for.
pub fn child_role() -> Result<Option<(String, String)>> {
    let Ok(role) = std::env::var(ROLE_VAR) else {
        return Ok(None);
    };
    pin_to(std::env::var(CPU_VAR)?.parse()?)?;
    Ok(Some((role, std::env::var(BUS_VAR)?)))
}

/// Retries `f` for up to ten seconds, for a child that is still starting.
pub fn retry<T, E: std::fmt::Debug>(
    mut f: impl FnMut() -> std::result::Result<T, E>,
) -> std::result::Result<T, E> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match f() {
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            other => return other,
        }
    }
}

/// Options shared by the latency benches: `--quick`, `--iters N`.
pub struct Opts {
    pub iters: usize,
}

impl Opts {
    pub fn from_args() -> Result<Opts> {
        let args: Vec<String> = std::env::args().collect();
        let quick = args.iter().any(|a| a == "--quick");
        let iters = args
            .windows(2)
            .find(|w| w[0] == "--iters")
            .map(|w| w[1].parse())
            .transpose()?
            .unwrap_or(if quick { 20_000 } else { 100_000 });
        Ok(Opts { iters })
    }
}

/// Round trips per chunk before switching to the other transport.
pub const CHUNK: usize = 1000;

/// Runs `a` and `b` alternately in chunks, after a warm-up of a tenth; returns both sets of
/// samples in nanoseconds, sorted.
pub fn interleaved(
    iters: usize,
    mut a: impl FnMut() -> Result<u64>,
    mut b: impl FnMut() -> Result<u64>,
) -> Result<(Vec<u64>, Vec<u64>)> {
    for _ in 0..iters / 10 {
        a()?;
        b()?;
    }
    let (mut sa, mut sb) = (Vec::with_capacity(iters), Vec::with_capacity(iters));
    while sa.len() < iters {
        for _ in 0..CHUNK.min(iters - sa.len()) {
            sa.push(a()?);
        }
        for _ in 0..CHUNK.min(iters - sb.len()) {
            sb.push(b()?);
        }
    }
    sa.sort_unstable();
    sb.sort_unstable();
    Ok((sa, sb))
}

/// Times one call of `f` in nanoseconds.
pub fn timed(f: impl FnOnce() -> Result) -> Result<u64> {
    let t = Instant::now();
    f()?;
    Ok(t.elapsed().as_nanos() as u64)
}

pub fn percentile(sorted: &[u64], p: f64) -> u64 {
    let i = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

pub fn print_header() {
    println!("| transport | workload | payload | pin | p50 µs | p90 µs | p99 µs | p99.9 µs | max µs | mean µs | ratio |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
}

/// One row; `ratio` is this row's p50 over `base_p50` (the floor measured beside it).
pub fn print_row(
    transport: &str,
    workload: &str,
    payload: usize,
    pin: &str,
    s: &[u64],
    base_p50: u64,
) {
    let us = |ns: u64| format!("{:.2}", ns as f64 / 1000.0);
    let mean = s.iter().sum::<u64>() / s.len() as u64;
    let p50 = percentile(s, 50.0);
    println!(
        "| {transport} | {workload} | {payload} B | {pin} | {} | {} | {} | {} | {} | {} | {:.2}x |",
        us(p50),
        us(percentile(s, 90.0)),
        us(percentile(s, 99.0)),
        us(percentile(s, 99.9)),
        us(*s.last().unwrap()),
        us(mean),
        p50 as f64 / base_p50 as f64,
    );
}

/// The raw floor's echo side: sends back every datagram.
pub fn raw_echo(raw: std::os::fd::OwnedFd) -> Result {
    use nix::sys::socket::{recv, send, MsgFlags};
    use std::os::fd::AsRawFd;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = recv(raw.as_raw_fd(), &mut buf, MsgFlags::empty())?;
        if n == 0 {
            return Ok(());
        }
        send(raw.as_raw_fd(), &buf[..n], MsgFlags::MSG_NOSIGNAL)?;
    }
}

/// The raw floor's client side: one round trip of `msg`.
pub fn raw_round_trip(raw: &std::os::fd::OwnedFd, msg: &[u8], buf: &mut [u8]) -> Result<u64> {
    use nix::sys::socket::{recv, send, MsgFlags};
    use std::os::fd::AsRawFd;
    timed(|| {
        send(raw.as_raw_fd(), msg, MsgFlags::MSG_NOSIGNAL)?;
        let n = recv(raw.as_raw_fd(), buf, MsgFlags::empty())?;
        assert_eq!(n, msg.len());
        Ok(())
    })
}

/// A raw `SOCK_SEQPACKET` socketpair.
pub fn socketpair() -> Result<(std::os::fd::OwnedFd, std::os::fd::OwnedFd)> {
    use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
    Ok(socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )?)
}
