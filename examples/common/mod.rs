//! What the examples share: a private bus with the service in a second process.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, ExitCode};

/// An example's errors are printed and end it.
pub type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

/// Runs `serve` when this process was started as the service (`service BUS`); otherwise starts a
/// private bus, starts this program again as the service, and runs `client` against it.
pub fn two_processes(
    name: &str,
    serve: fn(&Path) -> Result,
    client: fn(&Path, &mut std::process::Child) -> Result,
) -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.as_slice() {
        [role, bus] if role == "service" => serve(Path::new(bus)),
        _ => (|| {
            let bus = afbus::servicemanager::PrivateBus::start()?;
            let mut service = Command::new(std::env::current_exe()?)
                .arg("service")
                .arg(bus.path())
                .spawn()?;
            let result = client(bus.path(), &mut service);
            let _ = service.kill();
            let _ = service.wait();
            result
        })(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{name}: {e}");
            ExitCode::FAILURE
        }
    }
}
