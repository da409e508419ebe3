//! Activation: services declared in files, started by the daemon when someone asks for them.
//!
//! `--services DIR` holds one TOML file per service:
//!
//! ```toml
//! name = "org.example.echo"                  # the service name it registers
//! exec = ["/usr/libexec/echo-service", "-v"] # its command line
//! user = "nobody"                            # optional: run as this user (daemon must be root)
//! lazy = true                                # optional: it exits when its clients are gone
//! env = { RUST_LOG = "info" }                # optional: extra environment
//! ```
//!
//! The daemon starts the command with `AFBUS_BUS` set to its bus and `AFBUS_SERVICE_NAME` to the
//! name. A service that exits before registering fails the gets waiting for it; one that did so
//! [`MAX_FAILED_STARTS_PER_MINUTE`] times in a minute is not started again until the minute is
//! up. A lazy service that registered and exited when its clients left is no failure, however
//! often clients make it start: no client can make a declared service unavailable to others.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::policy::{lookup_user, parse_toml, ConfigError};
use crate::registry::valid_name;

/// Starts of one service that exited before registering, per minute, before it counts as
/// crash-looping.
pub const MAX_FAILED_STARTS_PER_MINUTE: usize = 5;

const MINUTE: Duration = Duration::from_secs(60);

/// A declared service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Declaration {
    /// The name it registers.
    pub name: String,
    /// Its command line.
    pub exec: Vec<String>,
    /// The uid and gid to run it as.
    pub user: Option<(u32, u32)>,
    /// Whether it exits when its last client is gone.
    pub lazy: bool,
    /// Extra environment.
    pub env: BTreeMap<String, String>,
    /// The file that declared it.
    pub file: PathBuf,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDeclaration {
    name: toml::Spanned<String>,
    exec: toml::Spanned<Vec<String>>,
    user: Option<toml::Spanned<String>>,
    #[serde(default)]
    lazy: bool,
    #[serde(default)]
    env: BTreeMap<String, String>,
}

/// Reads every `*.toml` file of `dir`.
pub fn load_dir(dir: &Path) -> Result<BTreeMap<String, Declaration>, ConfigError> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| ConfigError::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    let mut out = BTreeMap::new();
    for file in files {
        let text = std::fs::read_to_string(&file).map_err(|e| ConfigError::io(&file, e))?;
        let origin = file.display().to_string();
        let (decl, name_at) = parse_declaration(&text, &origin, file.clone())?;
        if let Some(other) = out
            .get(&decl.name)
            .map(|d: &Declaration| d.file.display().to_string())
        {
            return Err(ConfigError::at(
                &text,
                &origin,
                name_at,
                format!("{} is already declared in {other}", decl.name),
            ));
        }
        out.insert(decl.name.clone(), decl);
    }
    Ok(out)
}

/// Parses one declaration file's `text` (`origin` names it in errors, `file` is recorded).
///
/// Also returns the offset of the name in `text`, for errors about the name.
pub fn parse_declaration(
    text: &str,
    origin: &str,
    file: PathBuf,
) -> Result<(Declaration, usize), ConfigError> {
    let raw: RawDeclaration = parse_toml(text, origin)?;
    let at = |offset: usize, message: String| ConfigError::at(text, origin, offset, message);
    if !valid_name(raw.name.get_ref()) {
        return Err(at(
            raw.name.span().start,
            format!("invalid service name {:?}", raw.name.get_ref()),
        ));
    }
    if raw.exec.get_ref().is_empty() {
        return Err(at(
            raw.exec.span().start,
            "exec needs at least the program".into(),
        ));
    }
    let user = raw
        .user
        .as_ref()
        .map(|u| lookup_user(u, text, origin))
        .transpose()?;
    let name_at = raw.name.span().start;
    let decl = Declaration {
        name: raw.name.into_inner(),
        exec: raw.exec.into_inner(),
        user,
        lazy: raw.lazy,
        env: raw.env,
        file,
    };
    Ok((decl, name_at))
}

/// What the daemon knows of one declared service's processes.
#[derive(Default, Debug)]
pub struct Slot {
    /// The attempt running now, if any.
    pub running: Option<u64>,
    /// Its process.
    pub pid: Option<u32>,
    /// The last attempt that exited, and how.
    pub last_exit: Option<Exit>,
    /// The attempt that registered the name, if the running one did.
    registered: Option<u64>,
    /// When recent attempts exited without registering.
    failures: VecDeque<Instant>,
}

/// How a started process ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exit {
    /// Which start it was.
    pub attempt: u64,
    /// Its exit status.
    pub status: String,
    /// Whether it had registered the name (a lazy service leaving) or not (a failure).
    pub registered: bool,
}

/// Declarations and the processes started for them.
#[derive(Default, Debug)]
pub struct Activation {
    /// The declarations in force.
    pub declared: BTreeMap<String, Declaration>,
    /// Per name, its processes.
    pub slots: HashMap<String, Slot>,
    next_attempt: u64,
}

impl Activation {
    /// Nothing started yet for these declarations.
    pub fn new(declared: BTreeMap<String, Declaration>) -> Activation {
        Activation {
            declared,
            ..Activation::default()
        }
    }

    /// Starts `name` unless it runs already; returns the attempt to wait for, and the child to
    /// reap when one was started.
    pub fn ensure_started(
        &mut self,
        name: &str,
        bus: &Path,
    ) -> Result<(u64, Option<Child>), String> {
        let decl = self
            .declared
            .get(name)
            .ok_or_else(|| format!("{name} is not declared"))?;
        let slot = self.slots.entry(name.to_owned()).or_default();
        if let Some(attempt) = slot.running {
            return Ok((attempt, None));
        }
        let now = Instant::now();
        while slot
            .failures
            .front()
            .is_some_and(|t| now.duration_since(*t) > MINUTE)
        {
            slot.failures.pop_front();
        }
        if slot.failures.len() >= MAX_FAILED_STARTS_PER_MINUTE {
            return Err(format!(
                "{name} is crash-looping: it exited {} times in the last minute without registering",
                slot.failures.len()
            ));
        }
        let mut cmd = Command::new(&decl.exec[0]);
        cmd.args(&decl.exec[1..])
            .envs(&decl.env)
            .env("AFBUS_BUS", bus)
            .env("AFBUS_SERVICE_NAME", name)
            .stdin(Stdio::null());
        if let Some((uid, gid)) = decl.user {
            cmd.uid(uid).gid(gid);
        }
        crate::sys::start_with_signals_unblocked(&mut cmd);
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {name} ({}): {e}", decl.exec[0]))?;
        self.next_attempt += 1;
        slot.running = Some(self.next_attempt);
        slot.pid = Some(child.id());
        tracing::info!(name, pid = child.id(), "started declared service");
        Ok((self.next_attempt, Some(child)))
    }

    /// The processes started for declarations that are still running.
    pub fn running_pids(&self) -> Vec<u32> {
        self.slots.values().filter_map(|s| s.pid).collect()
    }

    /// Records that `name` was registered, by the running attempt if there is one.
    pub fn registered(&mut self, name: &str) {
        if let Some(slot) = self.slots.get_mut(name) {
            slot.registered = slot.running;
        }
    }

    /// Records that `attempt` of `name` exited.
    pub fn exited(&mut self, name: &str, attempt: u64, status: String) {
        let slot = self.slots.entry(name.to_owned()).or_default();
        if slot.running == Some(attempt) {
            slot.running = None;
            slot.pid = None;
        }
        let registered = slot.registered == Some(attempt);
        if !registered {
            slot.failures.push_back(Instant::now());
        }
        slot.last_exit = Some(Exit {
            attempt,
            status,
            registered,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, file: &str, text: &str) {
        std::fs::write(dir.join(file), text).unwrap();
    }

    #[test]
    fn loads_declarations_and_reports_bad_files() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "a.toml",
            "name = \"org.a\"\nexec = [\"/bin/true\"]\nlazy = true\n",
        );
        write(dir.path(), "notes.txt", "ignored");
        let d = load_dir(dir.path()).unwrap();
        assert_eq!(d["org.a"].exec, vec!["/bin/true".to_string()]);
        assert!(d["org.a"].lazy);

        write(dir.path(), "b.toml", "name = \"org.b\"\nexec = []\n");
        let e = load_dir(dir.path()).unwrap_err();
        assert!(e.path.ends_with("b.toml") && e.line == 2, "{e}");
        write(
            dir.path(),
            "b.toml",
            "name = \"bad name\"\nexec = [\"x\"]\n",
        );
        assert_eq!(load_dir(dir.path()).unwrap_err().line, 1);
        write(dir.path(), "b.toml", "name = \"org.a\"\nexec = [\"x\"]\n");
        assert!(load_dir(dir.path())
            .unwrap_err()
            .message
            .contains("already declared"));
        write(
            dir.path(),
            "b.toml",
            "name = \"org.b\"\nexec = [\"x\"]\nrestart = 1\n",
        );
        assert_eq!(load_dir(dir.path()).unwrap_err().line, 3);
    }

    #[test]
    fn crash_loops_are_cut_off() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "f.toml",
            "name = \"org.f\"\nexec = [\"/bin/false\"]\n",
        );
        let mut a = Activation {
            declared: load_dir(dir.path()).unwrap(),
            ..Activation::default()
        };
        for _ in 0..MAX_FAILED_STARTS_PER_MINUTE {
            let (attempt, child) = a
                .ensure_started("org.f", Path::new("/nonexistent"))
                .unwrap();
            let status = child.unwrap().wait().unwrap();
            a.exited("org.f", attempt, status.to_string());
        }
        let err = a
            .ensure_started("org.f", Path::new("/nonexistent"))
            .unwrap_err();
        assert!(err.contains("crash-looping"), "{err}");
    }
}
