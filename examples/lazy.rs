//! Lazy services: the bus master starts a declared service on the first get, the service exits
//! when its last client has gone for a grace period, and the next get starts it again.
//!
//! `cargo run --example lazy`

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use afbus::binder::{Runtime, RuntimeConfig, Status};
use afbus::servicemanager::{serve_lazily, Daemon, DaemonOptions, ServiceManager};

mod aidl {
    include!(concat!(env!("OUT_DIR"), "/aidl.rs"));
}
use aidl::afbus::examples::IEcho::{IEcho, IEchoStub};

const NAME: &str = "afbus.examples.IEcho/lazy";
const GRACE: Duration = Duration::from_millis(500);

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

struct Echo;

impl IEcho for Echo {
    fn echo(&self, text: &str) -> std::result::Result<String, Status> {
        Ok(format!("{text} (from pid {})", std::process::id()))
    }
    fn ping(&self) -> std::result::Result<(), Status> {
        Ok(())
    }
    fn pings(&self) -> std::result::Result<i32, Status> {
        Ok(0)
    }
    fn sleep(&self, _: i32) -> std::result::Result<(), Status> {
        Ok(())
    }
}

/// The service, as the bus master starts it: serves until idle, then returns and exits.
fn serve() -> Result {
    let bus = std::env::var("AFBUS_BUS")?;
    let rt = Runtime::new(RuntimeConfig::default())?;
    rt.start_thread_pool();
    let sm = ServiceManager::connect(&rt, &bus)?;
    println!(
        "[service pid {}] started by the bus master",
        std::process::id()
    );
    serve_lazily(&rt, &sm, NAME, IEchoStub::new(Echo), GRACE)?;
    println!(
        "[service pid {}] no clients left: exiting",
        std::process::id()
    );
    Ok(())
}

fn client(bus: &Path) -> Result {
    let rt = Runtime::new(RuntimeConfig::default())?;
    let sm = ServiceManager::connect(&rt, bus)?;
    println!(
        "[client] {NAME} declared: {}, registered: {}",
        sm.is_declared(NAME)?,
        sm.check_service(NAME)?.is_some()
    );
    for round in 1..=2 {
        let echo = aidl::afbus::examples::IEcho::IEchoProxy::from_binder(
            sm.wait_for_service(NAME, Duration::from_secs(10))?,
        );
        println!("[client] round {round}: {}", echo.echo("hello")?);
        drop(echo);
        // Wait for the service to leave: it unregisters once idle for the grace period. (Listing
        // names holds no reference; a get or check would, and keep the service busy.)
        while sm.list_services()?.iter().any(|n| n == NAME) {
            std::thread::sleep(Duration::from_millis(50));
        }
        println!("[client] round {round}: the service has gone");
    }
    Ok(())
}

fn run() -> Result {
    if std::env::var("AFBUS_SERVICE_NAME").is_ok() {
        return serve();
    }
    let dir = tempfile::tempdir()?;
    let services = dir.path().join("services");
    std::fs::create_dir(&services)?;
    let exe = std::env::current_exe()?;
    std::fs::write(
        services.join("echo.toml"),
        format!(
            "name = \"{NAME}\"\nexec = [\"{}\"]\nlazy = true\n",
            exe.display()
        ),
    )?;
    let opts = DaemonOptions {
        bus: dir.path().join("bus"),
        policy_file: None,
        services_dir: Some(services),
    };
    let daemon = Daemon::start(&opts)?;
    let result = client(daemon.path());
    daemon.stop();
    result
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lazy: {e}");
            ExitCode::FAILURE
        }
    }
}
