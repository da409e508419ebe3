//! The targets, one module each: `target(data)`, `seeds()`, `DICTIONARY` and `TARGET`.

pub mod activation;
pub mod bridged;
pub mod call;
pub mod frame;
pub mod idl;
pub mod master;
pub mod parcel;
pub mod policy;
pub mod ring;

use std::path::PathBuf;

/// A directory for a target's private bus, `afbus-fuzz/PID-NAME` in the temp dir. The bus lives
/// as long as the process (a static), so nothing removes it at exit; instead, directories of
/// processes that are gone are removed here.
pub(crate) fn bus_dir(name: &str) -> PathBuf {
    let root = std::env::temp_dir().join("afbus-fuzz");
    if let Ok(entries) = std::fs::read_dir(&root) {
        for e in entries.flatten() {
            let pid = e
                .file_name()
                .to_str()
                .and_then(|n| n.split('-').next()?.parse().ok());
            let gone = pid.is_some_and(|pid| {
                nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None)
                    == Err(nix::errno::Errno::ESRCH)
            });
            if gone {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
    let dir = root.join(format!("{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a directory for the private bus");
    dir
}
