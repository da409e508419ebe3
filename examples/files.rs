//! Files: an fd passed in a call and used by the other side, and a large payload that travels
//! as a sealed memfd the service maps instead of copying.
//!
//! `cargo run --example files`

mod common;

use std::io::Read;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use afbus::binder::{Blob, Runtime, RuntimeConfig, Status, StatusCode};
use afbus::servicemanager::ServiceManager;
use common::Result;

mod aidl {
    include!(concat!(env!("OUT_DIR"), "/aidl.rs"));
}
use aidl::afbus::examples::IFiles::{IFiles, IFilesProxy};

const NAME: &str = "afbus.examples.IFiles/default";

struct Files;

impl IFiles for Files {
    fn write_to(&self, fd: &OwnedFd, text: &str) -> std::result::Result<(), Status> {
        nix::unistd::write(fd, text.as_bytes()).map_err(|_| Status::from(StatusCode::BAD_VALUE))?;
        Ok(())
    }

    fn checksum(&self, blob: &OwnedFd) -> std::result::Result<i64, Status> {
        // A sealed memfd (its seals fix its size), or an error: then read in place, no copy.
        let fd = blob
            .try_clone()
            .map_err(|_| Status::from(StatusCode::NO_MEMORY))?;
        let bytes = Blob::open(fd)?;
        Ok(bytes.iter().map(|&b| i64::from(b)).sum())
    }
}

fn serve(bus: &Path) -> Result {
    let rt = Runtime::new(RuntimeConfig::default())?;
    rt.start_thread_pool();
    let sm = ServiceManager::connect(&rt, bus)?;
    sm.add_service(NAME, IFilesProxy::new_local(&rt, Files).as_binder())?;
    rt.join_thread_pool();
    Ok(())
}

fn client(bus: &Path, _: &mut std::process::Child) -> Result {
    let rt = Runtime::new(RuntimeConfig::default())?;
    let sm = ServiceManager::connect(&rt, bus)?;
    let files: IFilesProxy = sm.wait_for_interface(NAME, Duration::from_secs(10))?;

    let (r, w) = nix::unistd::pipe()?;
    files.write_to(&w, "written by the service into our pipe")?;
    drop(w); // the service's copy went with its call: the pipe now ends
    let mut text = String::new();
    std::fs::File::from(r).read_to_string(&mut text)?;
    println!("[client] read from the pipe: {text:?}");

    let data: Vec<u8> = (0..16 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let t = Instant::now();
    let sum = files.checksum(&Blob::seal(&data)?)?;
    let expected: i64 = data.iter().map(|&b| i64::from(b)).sum();
    println!(
        "[client] 16 MiB as a sealed memfd: checksum {sum} (expected {expected}) in {:.1} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    Ok(())
}

fn main() -> ExitCode {
    common::two_processes("files", serve, client)
}
