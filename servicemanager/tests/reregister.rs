//! A service manager killed with SIGKILL and started again on the same path: a service kept
//! by a `Registration` registers again by itself, clients find it and call it, and the channel
//! a client already held works throughout.

#[path = "../../transport/tests/common/mod.rs"]
mod common;

use std::io::Read;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use afbus_binder::{
    Binder, CallContext, Parcel, Runtime, RuntimeConfig, SpIBinder, Status, StatusCode,
    TransactionCode,
};
use afbus_servicemanager::{Registration, ServiceManager};
use common::{child_role, spawn_role, with_timeout, BUS_VAR};

const DAEMON: &str = env!("CARGO_BIN_EXE_afbus-servicemanager");
const NAME: &str = "test.reregister.Echo";
const ECHO: TransactionCode = TransactionCode(1);
/// Whether the service's first registration has returned (the service manager may have the
/// name, and answer lookups, before its reply to the registration reaches the service).
const REGISTERED: TransactionCode = TransactionCode(2);

/// Set in the service process once `Registration::keep` returned.
static KEPT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
/// Generous bound for a wait that should end at once; a hang guard, not a timing check.
const WAIT: Duration = Duration::from_secs(30);

/// The daemon on `bus`, killed on drop.
struct Daemon(Child);

impl Daemon {
    /// Starts the daemon and waits for it to say it is ready.
    fn start(bus: &Path) -> Daemon {
        let (r, w) = nix::unistd::pipe().unwrap();
        let child = Command::new(DAEMON)
            .arg("--bus")
            .arg(bus)
            .arg("--ready-fd")
            .arg(w.as_raw_fd().to_string())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        drop(w);
        let mut ready = [0u8; 1];
        std::fs::File::from(r).read_exact(&mut ready).unwrap();
        assert_eq!(&ready, b"R");
        Daemon(child)
    }

    fn kill9(mut self) {
        self.0.kill().unwrap();
        self.0.wait().unwrap();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Answers a string with the string and its own pid.
struct Echo;

impl Binder for Echo {
    fn descriptor(&self) -> &str {
        "test.IEcho"
    }

    fn on_transact(
        &self,
        code: TransactionCode,
        data: &mut Parcel,
        reply: &mut Parcel,
        _: &CallContext,
    ) -> Result<(), Status> {
        if code == REGISTERED {
            reply.write_bool(KEPT.load(std::sync::atomic::Ordering::SeqCst));
            return Ok(());
        }
        if code != ECHO {
            return Err(StatusCode::UNKNOWN_TRANSACTION.into());
        }
        reply.write_str(&data.read_string()?);
        reply.write_i32(std::process::id() as i32);
        Ok(())
    }
}

#[test]
fn child_entry() {
    let Some((role, bus)) = child_role() else {
        return;
    };
    assert_eq!(role, "service");
    let rt = Arc::new(Runtime::new(RuntimeConfig::default()).unwrap());
    rt.start_thread_pool();
    let echo = rt.local(Echo);
    let _registration = Registration::keep(&rt, &bus, vec![(NAME.into(), echo)]).unwrap();
    KEPT.store(true, std::sync::atomic::Ordering::SeqCst);
    rt.join_thread_pool();
}

/// Calls `svc`; the text echoed and the serving pid.
fn echo(svc: &SpIBinder, text: &str) -> (String, i32) {
    let mut p = Parcel::new();
    p.write_str(text);
    let mut r = svc.transact(ECHO, p).unwrap();
    (r.read_string().unwrap(), r.read_i32().unwrap())
}

#[test]
fn a_kept_service_registers_again_with_a_new_service_manager_and_old_channels_keep_working() {
    with_timeout(120, || {
        let dir = tempfile::tempdir().unwrap();
        let bus: PathBuf = dir.path().join("bus");
        let first = Daemon::start(&bus);
        let service = spawn_role("service", &[(BUS_VAR, bus.to_str().unwrap())]);

        let rt = Runtime::new(RuntimeConfig::default()).unwrap();
        let sm = ServiceManager::connect(&rt, &bus).unwrap();
        let held = sm.wait_for_service(NAME, WAIT).unwrap();
        assert_eq!(echo(&held, "before"), ("before".into(), service.pid()));
        // Killed only once the service has the first registration's answer.
        while !held
            .transact(REGISTERED, Parcel::new())
            .unwrap()
            .read_bool()
            .unwrap()
        {
            std::thread::sleep(Duration::from_millis(5));
        }

        first.kill9();
        // The bus is gone; the channel held to the service is not.
        assert!(
            sm.list_services().is_err(),
            "the old service manager is dead"
        );
        assert_eq!(echo(&held, "between"), ("between".into(), service.pid()));

        let _second = Daemon::start(&bus);
        let sm = ServiceManager::connect(&rt, &bus).unwrap();
        let found = sm.wait_for_service(NAME, WAIT).unwrap();
        assert_eq!(echo(&found, "after"), ("after".into(), service.pid()));
        assert_eq!(echo(&held, "still"), ("still".into(), service.pid()));
        assert_eq!(sm.list_services().unwrap(), vec![NAME.to_string()]);
    })
}

#[test]
fn keep_registers_at_once_and_fails_without_a_bus() {
    with_timeout(60, || {
        let dir = tempfile::tempdir().unwrap();
        let rt = Arc::new(Runtime::new(RuntimeConfig::default()).unwrap());
        rt.start_thread_pool();
        let missing = Registration::keep(&rt, dir.path().join("none"), vec![]);
        assert!(missing.is_err(), "no bus: the first registration fails");

        let bus = dir.path().join("bus");
        let daemon = Daemon::start(&bus);
        let kept = Registration::keep(&rt, &bus, vec![(NAME.into(), rt.local(Echo))]).unwrap();
        assert_eq!(kept.generation(), 1);
        let sm = ServiceManager::connect(&rt, &bus).unwrap();
        assert!(sm.check_service(NAME).unwrap().is_some());

        daemon.kill9();
        let _again = Daemon::start(&bus);
        assert!(kept.wait_generation(2, WAIT), "registered again");
        assert_eq!(kept.last_error(), None);
        let sm = ServiceManager::connect(&rt, &bus).unwrap();
        assert!(sm.check_service(NAME).unwrap().is_some());
    })
}
