//! Where clients find the bus.

use std::path::PathBuf;

/// Env var naming the bus socket.
pub const BUS_ENV: &str = "AFBUS_BUS";

/// The bus to use: `explicit` (`--bus`), else `$AFBUS_BUS`, else `$XDG_RUNTIME_DIR/afbus/bus`,
/// else `/tmp/afbus-UID/bus`.
pub fn bus_path(explicit: Option<PathBuf>) -> PathBuf {
    if let Some(p) = explicit {
        return p;
    }
    if let Some(p) = std::env::var_os(BUS_ENV).filter(|v| !v.is_empty()) {
        return PathBuf::from(p);
    }
    if let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty()) {
        return PathBuf::from(dir).join("afbus").join("bus");
    }
    PathBuf::from(format!("/tmp/afbus-{}", nix::unistd::getuid())).join("bus")
}
