//! Callbacks: a single-threaded client (no thread pool at all) passes one of its objects to a
//! service, and takes the service's calls on it while it waits for its own call to return.
//!
//! `cargo run --example callbacks`

mod common;

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use afbus::binder::{Runtime, RuntimeConfig, Status};
use afbus::servicemanager::ServiceManager;
use common::Result;

mod aidl {
    include!(concat!(env!("OUT_DIR"), "/aidl.rs"));
}
use aidl::afbus::examples::IProgress::{IProgress, IProgressProxy};
use aidl::afbus::examples::IWorker::{IWorker, IWorkerProxy};

const NAME: &str = "afbus.examples.IWorker/default";

/// The service: calls back into its caller once per step.
struct Worker;

impl IWorker for Worker {
    fn run(
        &self,
        steps: i32,
        progress: &IProgressProxy,
    ) -> std::result::Result<Vec<String>, Status> {
        (1..=steps).map(|n| progress.step(n)).collect()
    }
}

/// The client's callback object.
struct Progress;

impl IProgress for Progress {
    fn step(&self, n: i32) -> std::result::Result<String, Status> {
        let thread = std::thread::current();
        println!(
            "[client] step {n} reported, on thread {:?}",
            thread.name().unwrap_or("?")
        );
        Ok(format!("ack {n}"))
    }
}

fn serve(bus: &Path) -> Result {
    let rt = Runtime::new(RuntimeConfig::default())?;
    rt.start_thread_pool();
    let sm = ServiceManager::connect(&rt, bus)?;
    sm.add_service(NAME, IWorkerProxy::new_local(&rt, Worker).as_binder())?;
    rt.join_thread_pool();
    Ok(())
}

fn client(bus: &Path) -> Result {
    // No thread pool: the only thread that can run the callbacks is the one waiting.
    let rt = Runtime::new(RuntimeConfig {
        max_threads: 0,
        ..RuntimeConfig::default()
    })?;
    let sm = ServiceManager::connect(&rt, bus)?;
    let worker: IWorkerProxy = sm.wait_for_interface(NAME, Duration::from_secs(10))?;
    let progress = IProgressProxy::new_local(&rt, Progress);
    println!(
        "[client] calling run(3) from thread {:?}",
        std::thread::current().name().unwrap_or("?")
    );
    let notes = worker.run(3, &progress)?;
    println!("[client] run returned {notes:?}");
    Ok(())
}

fn main() -> ExitCode {
    common::two_processes("callbacks", serve, |bus, _| client(bus))
}
