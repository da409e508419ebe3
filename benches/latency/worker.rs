//! The processes: a client process per transport (driven by the conductor over its stdin and
//! stdout) and the server process each client starts.
//!
//! Conductor to client: `run OP PAYLOAD N` lines. Client to conductor: first `ready` or
//! `skip REASON`; then for each run `ok N FAILURES` followed by N round-trip times (u64
//! little-endian nanoseconds), or `err CALLS_DONE MESSAGE`. A server prints `ready` once it serves.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{ChildStdin, ChildStdout, Command, Stdio};
use std::time::Instant;

use afbus::binder::Priority;

use super::common::{pin_to, ChildGuard, Result, CPU_VAR, ROLE_VAR};
use super::{afbus_rows, binder_uapi, kernel, raw, Client, Op, Work, SCHD_PRIORITY};

/// Env var: the transport a client or server process plays.
const TRANSPORT_VAR: &str = "AFBUS_BENCH_TRANSPORT";
/// Env var: the server's CPU, set by a client that pins it.
const SERVER_CPU_VAR: &str = "AFBUS_BENCH_SERVER_CPU";
/// Env var: where a server finds its client (a socket, file, bus or device path).
const ARG_VAR: &str = "AFBUS_BENCH_ARG";
/// Env var the runtime reads: `0` turns the shared-memory fast path off.
const SHM_VAR: &str = "AFBUS_SHM";

/// The conductor's handle on a client process.
pub struct Worker {
    /// The transport it measures.
    pub transport: &'static str,
    client_cpu: Option<usize>,
    server_cpu: Option<usize>,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    _guard: ChildGuard,
}

/// What a run of calls gave: (round-trip times in ns, calls that missed the caller's priority),
/// or (calls that succeeded, why the next one failed).
pub type RunResult = std::result::Result<(Vec<u64>, u64), (usize, String)>;

impl Worker {
    /// Starts the client process of `transport` (which starts its server). `Ok(Err(reason))`
    /// when the transport cannot run here.
    pub fn start(
        transport: &'static str,
        client_cpu: Option<usize>,
        server_cpu: Option<usize>,
    ) -> Result<std::result::Result<Worker, String>> {
        let mut cmd = Command::new(std::env::current_exe()?);
        cmd.env(ROLE_VAR, "client")
            .env(TRANSPORT_VAR, transport)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        if let Some(cpu) = client_cpu {
            cmd.env(CPU_VAR, cpu.to_string());
        }
        if let Some(cpu) = server_cpu {
            cmd.env(SERVER_CPU_VAR, cpu.to_string());
        }
        match transport {
            "afbus-socket" | "afbus-socket-async" => {
                cmd.env(SHM_VAR, "0");
            }
            "afbus-shm" | "afbus-shm-async" => {
                cmd.env(SHM_VAR, "1");
            }
            _ => {}
        }
        let mut guard = ChildGuard::new(cmd.spawn()?);
        let child = guard.child_mut();
        let stdin = child.stdin.take().ok_or("no stdin")?;
        let mut stdout = BufReader::new(child.stdout.take().ok_or("no stdout")?);
        let mut line = String::new();
        stdout.read_line(&mut line)?;
        match line
            .trim_end()
            .split_once(' ')
            .unwrap_or((line.trim_end(), ""))
        {
            ("ready", _) => Ok(Ok(Worker {
                transport,
                client_cpu,
                server_cpu,
                stdin,
                stdout,
                _guard: guard,
            })),
            ("skip", reason) => Ok(Err(reason.to_owned())),
            _ => Err(format!("{transport} client failed to start").into()),
        }
    }

    /// Replaces the client and server processes with new ones (after a failed call).
    pub fn restart(&mut self) -> Result {
        match Worker::start(self.transport, self.client_cpu, self.server_cpu)? {
            Ok(fresh) => {
                *self = fresh;
                Ok(())
            }
            Err(reason) => Err(format!("{} cannot restart: {reason}", self.transport).into()),
        }
    }

    /// Runs `n` calls of `work`. The outer error is a broken client process; the inner one a
    /// call that failed.
    pub fn run(&mut self, work: Work, n: usize) -> Result<RunResult> {
        writeln!(self.stdin, "run {} {} {n}", work.op as u32, work.payload)?;
        self.stdin.flush()?;
        let mut line = String::new();
        self.stdout.read_line(&mut line)?;
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (count, failures): (usize, u64) = match fields.as_slice() {
            ["ok", count, failures] => (count.parse()?, failures.parse()?),
            ["err", done, ..] => {
                let why = line.splitn(3, ' ').nth(2).unwrap_or("").trim_end();
                return Ok(Err((done.parse()?, why.to_owned())));
            }
            _ => return Err(format!("{} client died: {line:?}", self.transport).into()),
        };
        let mut raw = vec![0u8; count * 8];
        self.stdout.read_exact(&mut raw)?;
        let samples = raw
            .chunks_exact(8)
            .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
            .collect();
        Ok(Ok((samples, failures)))
    }
}

fn env_cpu(var: &str) -> Result<Option<usize>> {
    std::env::var(var)
        .ok()
        .map(|v| v.parse())
        .transpose()
        .map_err(Into::into)
}

/// Starts this binary as the server of `transport`, pinned like the client asked, and waits
/// for its `ready` line when `wait_ready`.
fn spawn_server(transport: &str, arg: &str, wait_ready: bool) -> Result<ChildGuard> {
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.env(ROLE_VAR, "server")
        .env(TRANSPORT_VAR, transport)
        .env(ARG_VAR, arg)
        .env_remove(CPU_VAR)
        .stdin(Stdio::null())
        .stdout(Stdio::piped());
    if let Some(cpu) = env_cpu(SERVER_CPU_VAR)? {
        cmd.env(CPU_VAR, cpu.to_string());
    }
    let mut guard = ChildGuard::new(cmd.spawn()?);
    if wait_ready {
        let out = guard.child_mut().stdout.take().ok_or("no stdout")?;
        let mut line = String::new();
        BufReader::new(out).read_line(&mut line)?;
        if line.trim_end() != "ready" {
            return Err(format!("{transport} server exited before it was ready").into());
        }
    }
    Ok(guard)
}

/// Makes this process die with its parent, so that no client or server outlives a bench that
/// was killed (a guard's kill runs only on an orderly exit).
fn die_with_parent() -> Result {
    nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)?;
    Ok(())
}

/// A client process: sets up its transport and server, then runs what the conductor asks.
pub fn client_main() -> Result {
    die_with_parent()?;
    if let Some(cpu) = env_cpu(CPU_VAR)? {
        pin_to(cpu)?;
    }
    let transport = std::env::var(TRANSPORT_VAR)?;
    let dir = tempfile::tempdir()?;
    let mut server = None;
    let mut out = std::io::stdout().lock();
    let mut client: Box<dyn Client> = match transport.as_str() {
        "raw-seqpacket" => {
            let path = dir.path().join("raw.sock");
            let arg = path.to_str().ok_or("path not UTF-8")?.to_owned();
            Box::new(raw::SeqpacketClient::new(&path, || {
                server = Some(spawn_server(&transport, &arg, false)?);
                Ok(())
            })?)
        }
        "raw-futex" | "raw-futex-rt" => {
            let path = dir.path().join("futex.shm");
            let arg = path.to_str().ok_or("path not UTF-8")?.to_owned();
            Box::new(raw::FutexClient::new(&path, || {
                server = Some(spawn_server(&transport, &arg, true)?);
                Ok(())
            })?)
        }
        "afbus-socket" | "afbus-shm" | "afbus-socket-async" | "afbus-shm-async" => {
            let asynchronous = transport.ends_with("-async");
            Box::new(afbus_rows::AfbusClient::new(asynchronous, |bus| {
                spawn_server(&transport, bus, true)
            })?)
        }
        "binder-kernel" => {
            let path = kernel::device().ok_or("no binder device")?;
            let dev = match binder_uapi::Device::open(&path) {
                Ok(dev) => dev,
                Err(e) => {
                    writeln!(out, "skip cannot open {}: {e}", path.display())?;
                    return Ok(());
                }
            };
            let arg = path.to_str().ok_or("path not UTF-8")?.to_owned();
            Box::new(kernel::KernelClient::new(dev, || {
                server = Some(spawn_server(&transport, &arg, true)?);
                Ok(())
            })?)
        }
        other => return Err(format!("unknown transport {other}").into()),
    };
    writeln!(out, "ready")?;
    out.flush()?;
    let mut lines = std::io::stdin().lock().lines();
    let mut samples = Vec::new();
    let mut body = Vec::new();
    while let Some(line) = lines.next().transpose()? {
        let f: Vec<usize> = line
            .split_whitespace()
            .skip(1)
            .map(str::parse)
            .collect::<std::result::Result<_, _>>()?;
        let [op, payload, n] = f[..] else {
            return Err(format!("bad command {line:?}").into());
        };
        let op = Op::from_wire(op as u32).ok_or("bad op")?;
        body.resize(payload, 0xa5);
        samples.clear();
        match run(&mut *client, op, &body, n, &mut samples) {
            Ok(failures) => {
                writeln!(out, "ok {} {failures}", samples.len())?;
                for s in &samples {
                    out.write_all(&s.to_le_bytes())?;
                }
            }
            Err(e) => writeln!(
                out,
                "err {} {}",
                samples.len(),
                e.to_string().replace('\n', " ")
            )?,
        }
        out.flush()?;
    }
    drop(server);
    Ok(())
}

/// `n` timed calls; the caller runs at [`SCHD_PRIORITY`] for `schd`, and then rests for as long
/// (real time at most half the time). Returns the number of
/// calls whose handler did not run at the caller's priority.
fn run(client: &mut dyn Client, op: Op, body: &[u8], n: usize, out: &mut Vec<u64>) -> Result<u64> {
    let before = Priority::current()?;
    if op == Op::Schd {
        SCHD_PRIORITY.apply()?;
    }
    let mut failures = 0;
    let start = Instant::now();
    let result = (|| -> Result {
        for _ in 0..n {
            let t = Instant::now();
            let at_priority = client.call(op, body)?;
            out.push(t.elapsed().as_nanos() as u64);
            failures += u64::from(!at_priority);
        }
        Ok(())
    })();
    if op == Op::Schd {
        // Real-time threads that keep a CPU busy past `sched_rt_runtime_us` (95% of each second
        // by default) are stopped by the kernel for the rest of the second, which would show
        // as 50 ms stalls in every row, the floors' included: rest as long as the chunk ran.
        std::thread::sleep(start.elapsed());
    }
    before.apply()?;
    result.map(|()| failures)
}

/// A server process.
pub fn server_main() -> Result {
    die_with_parent()?;
    if let Some(cpu) = env_cpu(CPU_VAR)? {
        pin_to(cpu)?;
    }
    let arg = std::env::var(ARG_VAR)?;
    match std::env::var(TRANSPORT_VAR)?.as_str() {
        "raw-seqpacket" => raw::seqpacket_server(&arg),
        "raw-futex" => raw::futex_server(&arg, false),
        "raw-futex-rt" => raw::futex_server(&arg, true),
        "afbus-socket" | "afbus-shm" | "afbus-socket-async" | "afbus-shm-async" => {
            afbus_rows::server(&arg)
        }
        "binder-kernel" => kernel::server(&arg),
        other => Err(format!("unknown transport {other}").into()),
    }
}
