//! Priority: the callee's thread runs each call at its caller's scheduling priority, and goes
//! back to its own afterwards. A SCHED_FIFO caller needs CAP_SYS_NICE (root); without it the
//! example shows a nice value travelling instead.
//!
//! `cargo run --example priority`

mod common;

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use afbus::binder::{
    calling_context, Priority, Runtime, RuntimeConfig, SchedPolicy, Status, StatusCode,
};
use afbus::servicemanager::ServiceManager;
use common::Result;

mod aidl {
    include!(concat!(env!("OUT_DIR"), "/aidl.rs"));
}
use aidl::afbus::examples::IPriority::{IPriority, IPriorityProxy};

const NAME: &str = "afbus.examples.IPriority/default";

struct Observer;

impl IPriority for Observer {
    fn observe(&self) -> std::result::Result<String, Status> {
        let now = Priority::current().map_err(|_| Status::from(StatusCode::UNKNOWN_ERROR))?;
        let ctx = calling_context().ok_or(StatusCode::INVALID_OPERATION)?;
        Ok(format!(
            "handler runs {:?} {} (caller asked {:?} {}, applied: {})",
            now.policy, now.level, ctx.priority.policy, ctx.priority.level, ctx.priority_applied
        ))
    }
}

fn serve(bus: &Path) -> Result {
    let rt = Runtime::new(RuntimeConfig::default())?;
    rt.start_thread_pool();
    let sm = ServiceManager::connect(&rt, bus)?;
    sm.add_service(NAME, IPriorityProxy::new_local(&rt, Observer).as_binder())?;
    rt.join_thread_pool();
    Ok(())
}

/// Calls `observe` from a new thread running at `p`; `None` if this thread may not take `p`.
fn observe_at(observer: &IPriorityProxy, p: Priority) -> Result<Option<String>> {
    let observer = observer.clone();
    let seen = std::thread::spawn(move || match p.apply() {
        Ok(()) => Some(observer.observe().map_err(|s| s.to_string())),
        Err(_) => None,
    })
    .join()
    .map_err(|_| "caller thread panicked")?;
    Ok(seen.transpose()?)
}

fn client(bus: &Path, _: &mut std::process::Child) -> Result {
    let rt = Runtime::new(RuntimeConfig::default())?;
    let sm = ServiceManager::connect(&rt, bus)?;
    let observer: IPriorityProxy = sm.wait_for_interface(NAME, Duration::from_secs(10))?;
    println!("[client] at the default priority: {}", observer.observe()?);
    let fifo = Priority {
        policy: SchedPolicy::Fifo,
        level: 10,
    };
    match observe_at(&observer, fifo)? {
        Some(seen) => println!("[client] at SCHED_FIFO 10: {seen}"),
        None => println!("[client] SCHED_FIFO is refused here (it needs CAP_SYS_NICE)"),
    }
    let nice = Priority {
        policy: SchedPolicy::Other,
        level: 5,
    };
    if let Some(seen) = observe_at(&observer, nice)? {
        println!("[client] at nice 5: {seen}");
    }
    println!(
        "[client] at the default priority again: {}",
        observer.observe()?
    );
    Ok(())
}

fn main() -> ExitCode {
    common::two_processes("priority", serve, client)
}
