//! Quickstart: a service defined in AIDL (`examples/aidl/afbus/examples/IEcho.aidl`), served by
//! one process and called by another like a local object.
//!
//! `cargo run --example quickstart` starts a private bus, runs the service in a second process,
//! calls it, and prints the replies and a latency summary. `-- --bus PATH` uses a running bus
//! instead; `-- service --bus PATH` only serves (until killed), for `afbus call` and scripts.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

use afbus::binder::{Runtime, RuntimeConfig, Status};
use afbus::servicemanager::{PrivateBus, ServiceManager};

/// The Rust that `build.rs` generated from IEcho.aidl.
mod aidl {
    include!(concat!(env!("OUT_DIR"), "/aidl.rs"));
}
use aidl::afbus::examples::IEcho::{IEcho, IEchoProxy};

/// The name the echo service registers.
const NAME: &str = "afbus.examples.IEcho/default";

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

/// The service: an ordinary Rust type implementing the generated trait.
#[derive(Default)]
struct Echo {
    pings: AtomicI32,
}

impl IEcho for Echo {
    fn echo(&self, text: &str) -> std::result::Result<String, Status> {
        Ok(text.to_owned())
    }

    fn ping(&self) -> std::result::Result<(), Status> {
        self.pings.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    fn pings(&self) -> std::result::Result<i32, Status> {
        Ok(self.pings.load(Ordering::SeqCst))
    }

    fn sleep(&self, millis: i32) -> std::result::Result<(), Status> {
        std::thread::sleep(Duration::from_millis(millis.max(0) as u64));
        Ok(())
    }
}

/// Registers the service and serves calls until the process is killed.
fn serve(bus: &Path) -> Result {
    let rt = Runtime::new(RuntimeConfig::default())?;
    rt.start_thread_pool();
    let sm = ServiceManager::connect(&rt, bus)?;
    let echo = IEchoProxy::new_local(&rt, Echo::default());
    sm.add_service(NAME, echo.as_binder())?;
    println!("[service pid {}] registered {NAME}", std::process::id());
    rt.join_thread_pool();
    Ok(())
}

/// Finds the service and calls it as if it were local.
fn call(bus: &Path) -> Result {
    let rt = Runtime::new(RuntimeConfig::default())?;
    let sm = ServiceManager::connect(&rt, bus)?;
    let echo: IEchoProxy = sm.wait_for_interface(NAME, Duration::from_secs(10))?;

    println!(
        "[client pid {}] echo(\"hello, afbus\") = {:?}",
        std::process::id(),
        echo.echo("hello, afbus")?
    );
    for _ in 0..3 {
        echo.ping()?;
    }
    // One-way calls return at once and run in the order they were sent, but a later
    // synchronous call may overtake them (as in Binder): ask until all three have run.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut counted = echo.pings()?;
    while counted < 3 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
        counted = echo.pings()?;
    }
    println!("[client] sent 3 one-way pings; the service counted {counted}");

    let mut samples: Vec<Duration> = (0..2000)
        .map(|_| {
            let t = Instant::now();
            echo.echo("x").map(|_| t.elapsed())
        })
        .collect::<std::result::Result<_, _>>()?;
    samples.sort();
    let at = |p: usize| samples[(samples.len() - 1) * p / 100].as_secs_f64() * 1e6;
    println!(
        "[client] 2000 echo calls: p50 {:.1} µs, p99 {:.1} µs",
        at(50),
        at(99)
    );
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let bus_arg = args
        .windows(2)
        .find(|w| w[0] == "--bus")
        .map(|w| PathBuf::from(&w[1]));
    let run = match (args.first().map(String::as_str), bus_arg) {
        (Some("service"), Some(bus)) => serve(&bus),
        (Some("service"), None) => Err("service needs --bus PATH".into()),
        (_, bus) => demo(bus),
    };
    match run {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("quickstart: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the service in a second process and calls it, on a private bus unless given one.
fn demo(bus: Option<PathBuf>) -> Result {
    let private = match bus {
        Some(_) => None,
        None => Some(PrivateBus::start()?),
    };
    let bus = bus.unwrap_or_else(|| private.as_ref().expect("started").path().to_owned());
    println!("[bus] {}", bus.display());
    let mut service = Command::new(std::env::current_exe()?)
        .arg("service")
        .arg("--bus")
        .arg(&bus)
        .spawn()?;
    let result = call(&bus);
    let _ = service.kill();
    let _ = service.wait();
    result
}
