//! Siege: a root bus master, its service manager and a root echo service, each time under one
//! denial-of-service attempt by a local user of another uid (65534) speaking the protocol, while
//! root keeps listing the services (as `afbus list` does: a new connection each time) and calling
//! the echo service. Reports the latencies root sees and the daemon's fds and memory.
//!
//! `cargo run --release --example siege -- [--seconds N]` (as root: the attackers drop to 65534)
//!
//! The attempts: `squat` (connections that never say Hello), `waiters` (gets of an absent name
//! from many threads), `mute` (a registered service whose process never answers, got in a loop),
//! `unread` (calls to the service manager whose replies are never read), `signals` (subscribers
//! that never read, and a sender flooding them), `hoard` (references to the echo service taken
//! and kept). Exit status 0 when root's p99 stays under 100 ms in every row.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode};
use std::sync::Arc;
use std::time::{Duration, Instant};

use afbus::binder::{
    Binder, CallContext, Parcel, Runtime, RuntimeConfig, SpIBinder, Status, StatusCode,
    TransactionCode,
};
use afbus::servicemanager::{
    protocol::SERVICE_MANAGER_NAME, Daemon, DaemonOptions, ServiceManager,
};
use afbus::transport::{BusSocket, Fields, FrameKind, Header, Target};

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

const ECHO_NAME: &str = "public.Echo";
const ATTACKS: &[&str] = &[
    "none", "squat", "waiters", "mute", "unread", "signals", "hoard",
];
/// Root's p99 must stay under this in every row.
const BOUND: Duration = Duration::from_millis(100);

const POLICY: &str = r#"
[[allow]]
user = "nobody"
own = ["evil.*"]
find = ["*"]
call = ["public.*", "evil.*"]
send = ["Flood"]
receive = ["Flood"]

[[deny]]
user = "nobody"
find = ["secure.*"]
"#;

struct Echo;

impl Binder for Echo {
    fn descriptor(&self) -> &str {
        "siege.IEcho"
    }
    fn on_transact(
        &self,
        _: TransactionCode,
        data: &mut Parcel,
        reply: &mut Parcel,
        _: &CallContext,
    ) -> std::result::Result<(), Status> {
        reply.write_str(&data.read_string()?);
        Ok(())
    }
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.windows(2).find(|w| w[0] == name).map(|w| w[1].clone())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let bus = arg(&args, "--bus").map(PathBuf::from);
    let run = match (args.first().map(String::as_str), bus) {
        (Some("daemon"), Some(bus)) => daemon(&bus, &arg(&args, "--policy").unwrap_or_default()),
        (Some("echo"), Some(bus)) => echo_service(&bus),
        (Some("attack"), Some(bus)) => attack(&args[1], &bus),
        _ => siege(
            arg(&args, "--seconds")
                .map_or(Ok(3), |s| s.parse())
                .unwrap_or(3),
        ),
    };
    match run {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("siege: {e}");
            ExitCode::FAILURE
        }
    }
}

fn daemon(bus: &Path, policy: &str) -> Result<bool> {
    let _daemon = Daemon::start(&DaemonOptions {
        bus: bus.to_owned(),
        policy_file: Some(PathBuf::from(policy)),
        services_dir: None,
    })?;
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

fn echo_service(bus: &Path) -> Result<bool> {
    let rt = Runtime::new(RuntimeConfig::default())?;
    rt.start_thread_pool();
    let sm = ServiceManager::connect(&rt, bus)?;
    sm.add_service(ECHO_NAME, &rt.local(Echo))?;
    sm.add_service("secure.Admin", &rt.local(Echo))?;
    rt.join_thread_pool();
    Ok(true)
}

/// A child of this example playing `role`, killed on drop.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(args: &[&str], bus: &Path) -> Result<Guard> {
    let exe = std::env::current_exe()?;
    Ok(Guard(
        Command::new(exe).args(args).arg("--bus").arg(bus).spawn()?,
    ))
}

/// Open fds and resident memory (KiB) of process `pid`.
fn footprint(pid: u32) -> (usize, u64) {
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count());
    let rss = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0);
    (fds, rss)
}

fn percentiles(samples: &mut [Duration]) -> (f64, f64, f64) {
    samples.sort();
    let at = |q: f64| {
        let i = ((samples.len() - 1) as f64 * q).round() as usize;
        samples[i].as_secs_f64() * 1e3
    };
    (at(0.5), at(0.99), at(1.0))
}

fn siege(seconds: u64) -> Result<bool> {
    if !nix::unistd::geteuid().is_root() {
        return Err("run it as root: the attackers drop to uid 65534".into());
    }
    let dir = tempfile::tempdir()?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))?;
    let bus = dir.path().join("bus");
    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, POLICY)?;
    let daemon = spawn(&["daemon", "--policy", policy.to_str().unwrap()], &bus)?;
    while BusSocket::connect(&bus).is_err() {
        std::thread::sleep(Duration::from_millis(20));
    }
    let echo_proc = spawn(&["echo"], &bus)?;
    let rt = Runtime::new(RuntimeConfig::default())?;
    let sm = ServiceManager::connect(&rt, &bus)?;
    let echo = sm.wait_for_service(ECHO_NAME, Duration::from_secs(20))?;
    println!("root's view, {seconds} s per row; daemon fds and memory are the row's maxima");
    println!("| attack | list p50 ms | list p99 ms | list max ms | echo p50 ms | echo p99 ms | echo max ms | failed | daemon fds | daemon RSS MiB | echo service fds |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    let mut all_ok = true;
    for &name in ATTACKS {
        let _attacker = (name != "none")
            .then(|| spawn(&["attack", name], &bus))
            .transpose()?;
        std::thread::sleep(Duration::from_millis(500));
        let (mut list, mut call) = (Vec::new(), Vec::new());
        let (mut failed, mut fds, mut rss, mut echo_fds) = (0, 0, 0, 0);
        let until = Instant::now() + Duration::from_secs(seconds);
        while Instant::now() < until {
            let t = Instant::now();
            let listed = ServiceManager::connect(&rt, &bus).and_then(|sm| sm.debug_info());
            list.push(t.elapsed());
            failed += usize::from(listed.is_err());
            let t = Instant::now();
            let mut p = Parcel::new();
            p.write_str("root");
            failed += usize::from(echo.transact(TransactionCode(1), p).is_err());
            call.push(t.elapsed());
            let (f, r) = footprint(daemon.0.id());
            (fds, rss) = (fds.max(f), rss.max(r));
            echo_fds = echo_fds.max(footprint(echo_proc.0.id()).0);
            std::thread::sleep(Duration::from_millis(5));
        }
        let (l50, l99, lmax) = percentiles(&mut list);
        let (c50, c99, cmax) = percentiles(&mut call);
        let ok = l99 < BOUND.as_secs_f64() * 1e3 && c99 < BOUND.as_secs_f64() * 1e3 && failed == 0;
        all_ok &= ok;
        println!(
            "| {name} | {l50:.2} | {l99:.2} | {lmax:.1} | {c50:.3} | {c99:.2} | {cmax:.1} | {failed} | {fds} | {:.1} | {echo_fds} |",
            rss as f64 / 1024.0
        );
    }
    println!(
        "{}",
        if all_ok {
            "ok: root's p99 under 100 ms in every row"
        } else {
            "FAIL"
        }
    );
    Ok(all_ok)
}

/// One attempt, as uid 65534, until killed.
fn attack(name: &str, bus: &Path) -> Result<bool> {
    nix::unistd::setgid(nix::unistd::Gid::from_raw(65534))?;
    nix::unistd::setuid(nix::unistd::Uid::from_raw(65534))?;
    let bus = bus.to_owned();
    match name {
        "squat" => {
            let mut held: Vec<OwnedFd> = Vec::new();
            loop {
                match raw_connect(&bus) {
                    Ok(s) => held.push(s),
                    Err(_) => std::thread::sleep(Duration::from_millis(1)),
                }
                if held.len() > 4000 {
                    held.clear();
                }
            }
        }
        "waiters" => flood(64, move || {
            let rt = Runtime::new(RuntimeConfig::default())?;
            let sm = ServiceManager::connect(&rt, &bus)?;
            loop {
                let _ = sm.wait_for_service("evil.absent", Duration::from_secs(10));
            }
        }),
        "mute" => {
            let mute = Runtime::new(RuntimeConfig {
                max_threads: 0,
                ..RuntimeConfig::default()
            })?;
            ServiceManager::connect(&mute, &bus)?.add_service("evil.Mute", &mute.local(Echo))?;
            flood(16, move || {
                let rt = Runtime::new(RuntimeConfig::default())?;
                let sm = ServiceManager::connect(&rt, &bus)?;
                loop {
                    let _ = sm.check_service("evil.Mute");
                }
            })
        }
        "unread" => flood(8, move || loop {
            let endpoint = BusSocket::connect(&bus)?;
            let target = Target::Name(SERVICE_MANAGER_NAME.parse()?);
            let (chan, _) = endpoint.connect_to(&target)?;
            let _intro = chan.recv_timeout(Duration::from_secs(5))?;
            for txn in 1.. {
                let header = Header::new(FrameKind::Request)
                    .with_code(TransactionCode::PING.0)
                    .with_txn(txn);
                if chan.try_send(&header, &ping_payload(), &[]).is_err() {
                    break;
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        }),
        "signals" => {
            let rule = Fields::new().with("member", "Flood");
            let mut subscribers = Vec::new();
            while subscribers.len() < 200 {
                let Ok(s) = BusSocket::connect(&bus) else {
                    break;
                };
                if s.add_match(&rule).is_err() {
                    break;
                }
                subscribers.push(s);
            }
            let sender = subscribers.pop().ok_or("no connection")?;
            let body = vec![0u8; 64 * 1024];
            loop {
                let _ = sender.send_signal(&rule, &body);
            }
        }
        "hoard" => {
            let mut kept: Vec<(Runtime, SpIBinder)> = Vec::new();
            loop {
                let rt = Runtime::new(RuntimeConfig {
                    max_threads: 0,
                    ..RuntimeConfig::default()
                })?;
                let got =
                    ServiceManager::connect(&rt, &bus).and_then(|sm| sm.get_service(ECHO_NAME));
                match got {
                    Ok(svc) => kept.push((rt, svc)),
                    Err(e) if e.code() == StatusCode::NO_MEMORY => {
                        std::thread::sleep(Duration::from_millis(10))
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(1)),
                }
            }
        }
        other => Err(format!("unknown attack {other}").into()),
    }
}

/// Runs `threads` copies of `f` for ever (each restarted when it fails).
fn flood(threads: usize, f: impl Fn() -> Result + Send + Sync + 'static) -> Result<bool> {
    let f = Arc::new(f);
    for _ in 0..threads {
        let f = f.clone();
        std::thread::spawn(move || loop {
            let _ = f();
            std::thread::sleep(Duration::from_millis(1));
        });
    }
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

fn raw_connect(bus: &Path) -> std::io::Result<OwnedFd> {
    use nix::sys::socket::{self, AddressFamily, SockFlag, SockType, UnixAddr};
    let sock = socket::socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    socket::connect(sock.as_fd().as_raw_fd(), &UnixAddr::new(bus)?)?;
    Ok(sock)
}

/// An empty call's payload: no data, then the call trailer (see afbus-binder's `call` module).
fn ping_payload() -> Vec<u8> {
    let mut p = Vec::with_capacity(39);
    p.extend_from_slice(&0u16.to_le_bytes()); // no principal
    p.extend_from_slice(&0u64.to_le_bytes()); // target: the channel's own object
    p.extend_from_slice(&0u64.to_le_bytes()); // caller runtime
    p.extend_from_slice(&0u64.to_le_bytes()); // nested in
    p.push(0); // SCHED_OTHER
    p.extend_from_slice(&0i32.to_le_bytes());
    p.extend_from_slice(&[0; 8]); // parcel fds, objects, data length
    p
}
