//! Where clients find the bus, and whether a default location can be trusted.
//!
//! A bus path given on the command line or in `$AFBUS_BUS` is the user's choice. A default one
//! is ours to vouch for: the directory that holds the socket must be a real directory (not a
//! symlink) owned by the user or by root and writable by nobody else, as ssh-agent and X11
//! check theirs. Otherwise another local user could create it first and sit between the
//! clients and the daemon, or keep the daemon from starting.

use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

/// Env var naming the bus socket.
pub const BUS_ENV: &str = "AFBUS_BUS";

/// Root's default bus: `/run` is writable by root alone.
pub const SYSTEM_BUS: &str = "/run/afbus/bus";

/// Where the bus is and whether that was chosen by the user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BusPath {
    /// The socket's path.
    pub path: PathBuf,
    /// Not given by the user (`--bus` or `$AFBUS_BUS`): its directory is checked before use.
    pub default: bool,
}

/// A default bus directory that another user could control.
#[derive(Debug, thiserror::Error)]
#[error("{}: not a safe bus directory: {why}", path.display())]
pub struct UnsafeBusDir {
    /// The directory.
    pub path: PathBuf,
    /// What is wrong with it.
    pub why: String,
}

/// The bus to use: `explicit` (`--bus`), else `$AFBUS_BUS`; else, for root, [`SYSTEM_BUS`];
/// else `$XDG_RUNTIME_DIR/afbus/bus`, else `/tmp/afbus-UID/bus`.
pub fn bus_path(explicit: Option<PathBuf>) -> BusPath {
    let chosen = explicit.or_else(|| {
        std::env::var_os(BUS_ENV)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    });
    if let Some(path) = chosen {
        return BusPath {
            path,
            default: false,
        };
    }
    let uid = nix::unistd::geteuid();
    let path = if uid.is_root() {
        PathBuf::from(SYSTEM_BUS)
    } else if let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty()) {
        PathBuf::from(dir).join("afbus").join("bus")
    } else {
        PathBuf::from(format!("/tmp/afbus-{uid}")).join("bus")
    };
    BusPath {
        path,
        default: true,
    }
}

impl BusPath {
    /// For a client: the path, once a default one's directory is found safe. A directory that
    /// does not exist yet is no danger (there is no bus to reach).
    pub fn for_client(&self) -> Result<&Path, UnsafeBusDir> {
        if self.default {
            if let Some(dir) = self.path.parent().filter(|d| d.exists()) {
                check_dir(dir)?;
            }
        }
        Ok(&self.path)
    }

    /// For the daemon: makes the socket's directory if it is missing (mode 0755 under `/run`
    /// for everyone to reach, 0700 for a per-user bus) and, for a default path, checks it.
    pub fn prepare_for_daemon(&self) -> Result<(), UnsafeBusDir> {
        let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) else {
            return Ok(());
        };
        let mode = if !self.default || self.path == Path::new(SYSTEM_BUS) {
            0o755
        } else {
            0o700
        };
        if !dir.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(mode)
                .create(dir)
                .map_err(|e| UnsafeBusDir {
                    path: dir.to_owned(),
                    why: format!("cannot create it: {e}"),
                })?;
        }
        if self.default {
            check_dir(dir)?;
        }
        Ok(())
    }
}

/// Checks that `dir` is a directory (not a symlink), owned by this user or root, and writable
/// by nobody else.
pub fn check_dir(dir: &Path) -> Result<(), UnsafeBusDir> {
    let unsafe_dir = |why: String| UnsafeBusDir {
        path: dir.to_owned(),
        why,
    };
    let meta = std::fs::symlink_metadata(dir).map_err(|e| unsafe_dir(e.to_string()))?;
    if !meta.file_type().is_dir() {
        return Err(unsafe_dir("not a directory (a symlink?)".into()));
    }
    let me = nix::unistd::geteuid().as_raw();
    if meta.uid() != me && meta.uid() != 0 {
        return Err(unsafe_dir(format!(
            "owned by uid {}, not by uid {me} or root",
            meta.uid()
        )));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(unsafe_dir(format!(
            "mode {:o}: writable by group or others",
            meta.mode() & 0o7777
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn explicit_paths_are_the_users_choice() {
        let p = bus_path(Some(PathBuf::from("/somewhere/bus")));
        assert!(!p.default);
        assert_eq!(p.for_client().unwrap(), Path::new("/somewhere/bus"));
    }

    #[test]
    fn a_directory_writable_by_others_or_a_symlink_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("afbus");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        check_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = check_dir(&dir).unwrap_err();
        assert!(e.why.contains("writable"), "{e}");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&dir, &link).unwrap();
        assert!(check_dir(&link).unwrap_err().why.contains("symlink"));
    }

    #[test]
    fn a_default_directory_is_made_private_and_checked() {
        let tmp = tempfile::tempdir().unwrap();
        let path = BusPath {
            path: tmp.path().join("afbus-1000").join("bus"),
            default: true,
        };
        path.prepare_for_daemon().unwrap();
        let meta = std::fs::metadata(path.path.parent().unwrap()).unwrap();
        assert_eq!(meta.mode() & 0o777, 0o700);
        path.for_client().unwrap();
    }

    #[test]
    #[ignore = "needs root: hands a directory to another uid (CI runs it with --ignored)"]
    fn a_directory_another_user_made_is_refused() {
        assert!(nix::unistd::geteuid().is_root(), "this test needs root");
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("afbus-0");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        let nobody = Some(nix::unistd::Uid::from_raw(65534));
        nix::unistd::chown(&dir, nobody, None).unwrap();
        let path = BusPath {
            path: dir.join("bus"),
            default: true,
        };
        let e = path.prepare_for_daemon().unwrap_err();
        assert!(e.why.contains("owned by uid 65534"), "{e}");
        assert!(path.for_client().is_err());
    }
}
