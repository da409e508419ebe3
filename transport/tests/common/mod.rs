//! Test harness: each test owns a private bus, runs peers as child processes of the test binary
//! itself (re-executed with a role), and has a timeout.
#![allow(dead_code)]

use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use afbus_transport::{AllowAll, BusMaster, MasterHandle, Policy};

/// Env var naming the role a re-executed test binary plays.
pub const ROLE_VAR: &str = "AFBUS_TEST_ROLE";
/// Env var carrying the bus path to a child.
pub const BUS_VAR: &str = "AFBUS_TEST_BUS";

/// A private bus in a temp dir; dropping it stops the master and removes the directory.
pub struct TestBus {
    pub master: MasterHandle,
    _dir: tempfile::TempDir,
}

impl TestBus {
    pub fn new() -> TestBus {
        TestBus::with_policy(AllowAll)
    }

    pub fn with_policy(policy: impl Policy + 'static) -> TestBus {
        let dir = tempfile::tempdir().expect("temp dir");
        // Children that drop privileges must still reach the bus socket.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod temp dir");
        let master = BusMaster::bind(dir.path().join("bus"), policy)
            .expect("bind bus")
            .spawn()
            .expect("spawn master");
        TestBus { master, _dir: dir }
    }

    pub fn path(&self) -> &std::path::Path {
        self.master.path()
    }

    /// Starts this test binary again as a child playing `role` on this bus.
    pub fn spawn(&self, role: &str) -> ChildGuard {
        spawn_role(role, &[(BUS_VAR, self.path().to_str().unwrap())])
    }
}

/// A child process that is killed and reaped when dropped.
pub struct ChildGuard(pub Child);

impl ChildGuard {
    pub fn pid(&self) -> i32 {
        self.0.id() as i32
    }

    /// Sends SIGKILL and reaps.
    pub fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }

    /// Waits for a clean exit.
    pub fn wait_success(mut self) {
        let status = self.0.wait().expect("wait child");
        assert!(status.success(), "child failed: {status}");
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Held (shared) while a child is forked and until it has exec'd: in between, the child holds
/// a copy of every fd the test process has open, close-on-exec or not.
static SPAWNING: std::sync::RwLock<()> = std::sync::RwLock::new(());

/// Runs `f` while no child is being spawned, for tests that need to know who holds an fd.
pub fn without_spawns<T>(f: impl FnOnce() -> T) -> T {
    let _quiet = SPAWNING.write().unwrap_or_else(|e| e.into_inner());
    f()
}

pub fn spawn_role(role: &str, env: &[(&str, &str)]) -> ChildGuard {
    let _spawning = SPAWNING.read().unwrap_or_else(|e| e.into_inner());
    let exe = std::env::current_exe().expect("current exe");
    let mut cmd = Command::new(exe);
    cmd.args(["--exact", "child_entry", "--nocapture", "--test-threads=1"])
        .env(ROLE_VAR, role)
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    ChildGuard(cmd.spawn().expect("spawn child"))
}

/// In a child: the role to play, if this process is one; also arranges to die with the parent.
pub fn child_role() -> Option<(String, String)> {
    let role = std::env::var(ROLE_VAR).ok()?;
    nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL).expect("pdeathsig");
    let bus = std::env::var(BUS_VAR).unwrap_or_default();
    Some((role, bus))
}

/// Runs `f` on its own thread and fails the test if it takes longer than `secs`.
pub fn with_timeout<T: Send + 'static>(secs: u64, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(v) => v,
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("test timed out after {secs} s"),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            // The closure panicked: re-raise its panic here.
            std::panic::resume_unwind(worker.join().unwrap_err())
        }
    }
}

/// Open fds of this process.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .count()
}
