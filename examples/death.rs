//! Death: a client links to the death of a service, which then crashes (here: is killed) while
//! the client waits in a call. The call fails with DEAD_OBJECT and the death notice runs once.
//!
//! `cargo run --example death`

mod common;

use std::path::Path;
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::Duration;

use afbus::binder::{Runtime, RuntimeConfig, Status};
use afbus::servicemanager::ServiceManager;
use common::Result;

mod aidl {
    include!(concat!(env!("OUT_DIR"), "/aidl.rs"));
}
use aidl::afbus::examples::IEcho::{IEcho, IEchoProxy};

const NAME: &str = "afbus.examples.IEcho/default";

struct Echo;

impl IEcho for Echo {
    fn echo(&self, text: &str) -> std::result::Result<String, Status> {
        Ok(text.to_owned())
    }
    fn ping(&self) -> std::result::Result<(), Status> {
        Ok(())
    }
    fn pings(&self) -> std::result::Result<i32, Status> {
        Ok(0)
    }
    fn sleep(&self, millis: i32) -> std::result::Result<(), Status> {
        std::thread::sleep(Duration::from_millis(millis.max(0) as u64));
        Ok(())
    }
}

fn serve(bus: &Path) -> Result {
    let rt = Runtime::new(RuntimeConfig::default())?;
    rt.start_thread_pool();
    let sm = ServiceManager::connect(&rt, bus)?;
    sm.add_service(NAME, IEchoProxy::new_local(&rt, Echo).as_binder())?;
    rt.join_thread_pool();
    Ok(())
}

fn client(bus: &Path, service: &mut std::process::Child) -> Result {
    let rt = Runtime::new(RuntimeConfig::default())?;
    rt.start_thread_pool();
    let sm = ServiceManager::connect(&rt, bus)?;
    let echo: IEchoProxy = sm.wait_for_interface(NAME, Duration::from_secs(10))?;
    println!("[client] echo says {:?}", echo.echo("alive")?);

    let (told, notice) = mpsc::channel();
    echo.as_binder()
        .link_to_death(std::sync::Arc::new(move || {
            let _ = told.send(());
        }))?;
    let caller = {
        let echo = echo.clone();
        std::thread::spawn(move || echo.sleep(60_000))
    };
    // Let the call reach the service, then crash it.
    std::thread::sleep(Duration::from_millis(200));
    println!(
        "[client] killing the service (pid {}) during a call",
        service.id()
    );
    service.kill()?;
    let result = caller.join().expect("caller thread");
    println!(
        "[client] the call returned: {:?}",
        result.map_err(|s| s.to_string())
    );
    notice.recv_timeout(Duration::from_secs(10))?;
    println!(
        "[client] death notice received; is_alive = {}",
        echo.as_binder().is_alive()
    );
    Ok(())
}

fn main() -> ExitCode {
    common::two_processes("death", serve, client)
}
