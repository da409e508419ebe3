//! The quickstart, async: the same AIDL service (`IEcho`) implemented with `async fn`s on tokio,
//! and a tokio client that calls it through the real bus, in two processes. No tokio worker
//! blocks while a call is out: each reply is awaited on the tokio reactor.
//!
//! `cargo run --example async_quickstart` starts a private bus, runs the service in a second
//! process, calls it, and prints the replies and a latency summary.
//!
//! The crate depends on `afbus` with its `tokio` feature, and its `build.rs` asks afbus-idl for
//! the async traits (`Builder::async_api(true)`).

mod common;

use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

use afbus::binder::{Runtime, RuntimeConfig, Status};
use afbus::servicemanager::ServiceManager;
use common::Result;

/// The Rust that `build.rs` generated from IEcho.aidl.
mod aidl {
    include!(concat!(env!("OUT_DIR"), "/aidl.rs"));
}
use aidl::afbus::examples::IEcho::{IEchoAsync, IEchoAsyncServer, IEchoProxy};

/// The name the echo service registers.
const NAME: &str = "afbus.examples.IEcho/async";

/// The service: `async fn`s. Each call runs on the afbus thread that received it, on the
/// tokio runtime the service was made in, so it may await timers, channels and other calls.
#[derive(Default)]
struct Echo {
    pings: AtomicI32,
}

impl IEchoAsyncServer for Echo {
    async fn echo(&self, text: &str) -> std::result::Result<String, Status> {
        Ok(text.to_owned())
    }

    async fn ping(&self) -> std::result::Result<(), Status> {
        self.pings.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    async fn pings(&self) -> std::result::Result<i32, Status> {
        Ok(self.pings.load(Ordering::SeqCst))
    }

    async fn sleep(&self, millis: i32) -> std::result::Result<(), Status> {
        tokio::time::sleep(Duration::from_millis(millis.max(0) as u64)).await;
        Ok(())
    }
}

/// Registers the service and serves calls until the process is killed.
#[tokio::main]
async fn serve(bus: &Path) -> Result {
    let rt = Runtime::new(RuntimeConfig::default())?;
    rt.start_thread_pool();
    let sm = ServiceManager::connect(&rt, bus)?;
    let echo = IEchoProxy::new_async_local(&rt, Echo::default());
    sm.add_service(NAME, echo.as_binder())?;
    println!("[service pid {}] registered {NAME}", std::process::id());
    std::future::pending::<()>().await;
    Ok(())
}

/// Finds the service and calls it from async code.
#[tokio::main]
async fn call(bus: &Path) -> Result {
    let rt = Runtime::new(RuntimeConfig::default())?;
    let sm = ServiceManager::connect(&rt, bus)?;
    // Waits (in the service manager, not in a thread here) until the service registers.
    let echo: IEchoProxy = sm.get_interface_async(NAME).await?;

    println!(
        "[client pid {}] echo(\"hello, async afbus\") = {:?}",
        std::process::id(),
        echo.echo("hello, async afbus").await?
    );

    // While one call sleeps in the service, the other tasks of this runtime run on.
    let ticker = tokio::spawn(async {
        let mut ticks = 0;
        loop {
            tokio::time::sleep(Duration::from_millis(10)).await;
            ticks += 1;
            if ticks == 10 {
                return ticks;
            }
        }
    });
    echo.sleep(150).await?;
    println!(
        "[client] a 150 ms call was out while another task ticked {} times",
        ticker.await?
    );

    // A call given up by dropping its future: its reply is discarded when it comes.
    let gave_up = tokio::time::timeout(Duration::from_millis(10), echo.sleep(100)).await;
    println!("[client] a call given up after 10 ms: {}", gave_up.is_err());

    for _ in 0..3 {
        echo.ping().await?;
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut counted = echo.pings().await?;
    while counted < 3 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(1)).await;
        counted = echo.pings().await?;
    }
    println!("[client] sent 3 one-way pings; the service counted {counted}");

    let mut samples = Vec::with_capacity(2000);
    for _ in 0..2000 {
        let t = Instant::now();
        echo.echo("x").await?;
        samples.push(t.elapsed());
    }
    samples.sort();
    let at = |p: usize| samples[(samples.len() - 1) * p / 100].as_secs_f64() * 1e6;
    println!(
        "[client] 2000 awaited echo calls: p50 {:.1} µs, p99 {:.1} µs",
        at(50),
        at(99)
    );
    Ok(())
}

fn main() -> ExitCode {
    common::two_processes("async_quickstart", serve, |bus, _| call(bus))
}
