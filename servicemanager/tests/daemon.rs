//! The real daemon binary, spawned by the tests, with services and clients in other processes.

#[path = "../../transport/tests/common/mod.rs"]
mod common;

use std::io::Read;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use afbus_binder::{
    Binder, CallContext, ExceptionCode, Parcel, Runtime, RuntimeConfig, SpIBinder, Status,
    StatusCode, TransactionCode,
};
use afbus_servicemanager::{IServiceCallback, IServiceCallbackProxy, ServiceManager};
use common::{child_role, spawn_role, with_timeout, BUS_VAR};
use parking_lot::{Condvar, Mutex};

const DAEMON: &str = env!("CARGO_BIN_EXE_afbus-servicemanager");
const AFBUS: &str = env!("CARGO_BIN_EXE_afbus");

/// The daemon in a temp dir; killed on drop.
struct Bus {
    child: Child,
    ready: std::fs::File,
    dir: tempfile::TempDir,
}

impl Bus {
    fn start(policy: Option<&str>) -> Bus {
        Bus::start_with(policy, &[])
    }

    /// Starts the daemon with a services directory holding `declared` (file name, text; the
    /// text's `@BUS@` is replaced by the bus path).
    fn start_with(policy: Option<&str>, declared: &[(&str, &str)]) -> Bus {
        let dir = tempfile::tempdir().unwrap();
        let bus_path = dir.path().join("bus");
        if !declared.is_empty() {
            let services = dir.path().join("services");
            std::fs::create_dir(&services).unwrap();
            for (file, text) in declared {
                let text = text.replace("@BUS@", bus_path.to_str().unwrap());
                std::fs::write(services.join(file), text).unwrap();
            }
        }
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let (r, w) = nix::unistd::pipe().unwrap();
        let mut cmd = Command::new(DAEMON);
        cmd.arg("--bus")
            .arg(dir.path().join("bus"))
            .arg("--ready-fd")
            .arg(w.as_raw_fd().to_string());
        if !declared.is_empty() {
            cmd.arg("--services").arg(dir.path().join("services"));
        }
        if let Some(text) = policy {
            std::fs::write(dir.path().join("policy.toml"), text).unwrap();
            cmd.arg("--policy").arg(dir.path().join("policy.toml"));
        }
        let child = cmd.stderr(Stdio::null()).spawn().unwrap();
        drop(w);
        let mut bus = Bus {
            child,
            ready: std::fs::File::from(r),
            dir,
        };
        assert_eq!(bus.next_report(), b'R', "the daemon reports readiness");
        bus
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("bus")
    }

    /// The next byte on the ready pipe: R ready, H reloaded, E reload refused.
    fn next_report(&mut self) -> u8 {
        let mut b = [0u8; 1];
        self.ready.read_exact(&mut b).unwrap();
        b[0]
    }

    fn spawn(&self, role: &str) -> common::ChildGuard {
        spawn_role(role, &[(BUS_VAR, self.path().to_str().unwrap())])
    }
}

impl Drop for Bus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

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
        match code.0 {
            1 => reply.write_str(&data.read_string()?),
            2 => reply.write_i32(data.read_i32()? + data.read_i32()?),
            3 => reply.write_bytes(&data.read_bytes()?),
            4 => reply.write_fd(data.take_fd()?),
            _ => return Err(StatusCode::UNKNOWN_TRANSACTION.into()),
        }
        Ok(())
    }
    fn dump(&self, out: &mut dyn std::io::Write, args: &[String]) -> Result<(), Status> {
        let caller = afbus_binder::calling_context().map_or(-1, |c| c.caller().pid);
        writeln!(out, "echo service: args {args:?}, asked by pid {caller}").map_err(Status::from)
    }
}

fn serve_echo(bus: &str, name: &str) -> ! {
    let rt = Runtime::new(RuntimeConfig::default()).unwrap();
    rt.start_thread_pool();
    let sm = ServiceManager::connect(&rt, bus).unwrap();
    sm.add_service(name, &rt.local(Echo)).unwrap();
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

#[test]
fn child_entry() {
    let Some((role, bus)) = child_role() else {
        return;
    };
    match role.as_str() {
        "echo" => serve_echo(&bus, "test.echo"),
        "lazy" => {
            let rt = Runtime::new(RuntimeConfig::default()).unwrap();
            rt.start_thread_pool();
            let sm = ServiceManager::connect(&rt, std::env::var("AFBUS_BUS").unwrap()).unwrap();
            afbus_servicemanager::serve_lazily(
                &rt,
                &sm,
                "test.lazy",
                Echo,
                Duration::from_millis(300),
            )
            .unwrap();
            std::process::exit(0)
        }
        "activated" => {
            assert_eq!(
                std::env::var("AFBUS_SERVICE_NAME").unwrap(),
                "test.activated"
            );
            serve_echo(&std::env::var("AFBUS_BUS").unwrap(), "test.activated")
        }
        "nobody" => {
            nix::unistd::setgid(nix::unistd::Gid::from_raw(65534)).unwrap();
            nix::unistd::setuid(nix::unistd::Uid::from_raw(65534)).unwrap();
            let rt = Runtime::new(RuntimeConfig::default()).unwrap();
            rt.start_thread_pool();
            let sm = ServiceManager::connect(&rt, &bus).unwrap();
            match sm.add_service("test.nobody", &rt.local(Echo)) {
                Ok(()) => std::process::exit(0),
                Err(afbus_binder::Error::Service(s))
                    if s.exception_code() == ExceptionCode::SECURITY =>
                {
                    eprintln!("refused: {s}");
                    std::process::exit(3)
                }
                Err(e) => panic!("{e}"),
            }
        }
        other => panic!("unknown role {other}"),
    }
}

fn client(path: &Path) -> (Runtime, ServiceManager) {
    let rt = Runtime::new(RuntimeConfig::default()).unwrap();
    rt.start_thread_pool();
    let sm = ServiceManager::connect(&rt, path).unwrap();
    (rt, sm)
}

fn echo(svc: &SpIBinder, text: &str) -> String {
    let mut p = Parcel::new();
    p.write_str(text);
    svc.transact(TransactionCode(1), p)
        .unwrap()
        .read_string()
        .unwrap()
}

#[test]
fn register_get_and_list_across_processes() {
    with_timeout(60, || {
        let bus = Bus::start(None);
        let (_rt, sm) = client(&bus.path());
        // Asked before the service exists: the get waits for it.
        let service = bus.spawn("echo");
        let echo_svc = sm.get_service("test.echo").unwrap();
        assert_eq!(echo(&echo_svc, "hi"), "hi");
        assert_eq!(sm.list_services().unwrap(), vec!["test.echo".to_string()]);
        let info = sm.debug_info().unwrap();
        assert_eq!(
            (info[0].name.as_str(), info[0].pid),
            ("test.echo", service.pid())
        );
        assert!(sm.check_service("test.none").unwrap().is_none());
        let missing = sm
            .wait_for_service("test.none", Duration::from_millis(100))
            .unwrap_err();
        assert_eq!(missing.code(), StatusCode::NAME_NOT_FOUND);
        // A typed lookup checks the interface: test.echo is no IServiceCallback.
        match sm.get_interface::<IServiceCallbackProxy>("test.echo") {
            Err(afbus_binder::Error::Service(s)) => {
                assert_eq!(
                    s.exception_code(),
                    afbus_binder::ExceptionCode::ILLEGAL_ARGUMENT
                );
                assert!(
                    s.message().contains("afbus.IServiceCallback")
                        && s.message().contains("test.IEcho"),
                    "{s}"
                );
            }
            other => panic!("a typed lookup of the wrong interface: {other:?}"),
        }
    })
}

/// Records IServiceCallback notifications: (1 registration | 2 removal, name).
#[derive(Default)]
struct Watcher {
    events: Mutex<Vec<(u32, String)>>,
    cv: Condvar,
}

impl Watcher {
    fn record(&self, kind: u32, name: &str) -> Result<(), Status> {
        self.events.lock().push((kind, name.to_owned()));
        self.cv.notify_all();
        Ok(())
    }
}

/// The callback object: shares its record with the test.
struct WatcherRef(Arc<Watcher>);

impl IServiceCallback for WatcherRef {
    fn on_registration(&self, name: &str, _: &SpIBinder) -> Result<(), Status> {
        self.0.record(REGISTERED, name)
    }
    fn on_removal(&self, name: &str) -> Result<(), Status> {
        self.0.record(REMOVED, name)
    }
}

const REGISTERED: u32 = 1;
const REMOVED: u32 = 2;

impl Watcher {
    fn wait_for(&self, n: usize) -> Vec<(u32, String)> {
        let mut ev = self.events.lock();
        while ev.len() < n {
            assert!(
                !self
                    .cv
                    .wait_for(&mut ev, Duration::from_secs(20))
                    .timed_out(),
                "no notification"
            );
        }
        ev.clone()
    }
}

#[test]
fn notifications_and_an_owner_killed_frees_its_names() {
    with_timeout(60, || {
        let bus = Bus::start(None);
        let (rt, sm) = client(&bus.path());
        let watcher = Arc::new(Watcher::default());
        sm.register_for_notifications(
            "test.echo",
            &IServiceCallbackProxy::new_local(&rt, WatcherRef(watcher.clone())),
        )
        .unwrap();
        let mut service = bus.spawn("echo");
        let events = watcher.wait_for(1);
        assert_eq!(events[0], (REGISTERED, "test.echo".to_string()));
        service.kill();
        let events = watcher.wait_for(2);
        assert_eq!(events[1], (REMOVED, "test.echo".to_string()));
        assert!(sm.check_service("test.echo").unwrap().is_none());
    })
}

#[test]
#[ignore = "needs root: a child drops to uid 65534 (CI runs it with --ignored, as root)"]
fn policy_refuses_another_uid_until_a_reload_allows_it() {
    assert!(nix::unistd::geteuid().is_root(), "this test needs root");
    with_timeout(60, || {
        let mut bus = Bus::start(Some("# the owner and root only\n"));
        let refused = bus.spawn("nobody").0.wait().unwrap();
        assert_eq!(
            refused.code(),
            Some(3),
            "refused by policy with a security error"
        );

        std::fs::write(bus.dir.path().join("policy.toml"), "this is not toml").unwrap();
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(bus.child.id() as i32),
            nix::sys::signal::SIGHUP,
        )
        .unwrap();
        assert_eq!(bus.next_report(), b'E', "a bad file is refused");
        assert_eq!(
            bus.spawn("nobody").0.wait().unwrap().code(),
            Some(3),
            "the old policy stays"
        );

        let allow = "[[allow]]\nuser = \"nobody\"\nown = [\"test.nobody\"]\n";
        std::fs::write(bus.dir.path().join("policy.toml"), allow).unwrap();
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(bus.child.id() as i32),
            nix::sys::signal::SIGHUP,
        )
        .unwrap();
        assert_eq!(bus.next_report(), b'H');
        assert_eq!(
            bus.spawn("nobody").0.wait().unwrap().code(),
            Some(0),
            "allowed after the reload"
        );
    })
}

#[test]
fn a_bad_policy_at_startup_names_the_file_line_and_problem() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, "[[allow]]\nuid = 5\nfnid = [\"x\"]\n").unwrap();
    let out = Command::new(DAEMON)
        .arg("--bus")
        .arg(dir.path().join("bus"))
        .arg("--policy")
        .arg(&policy)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let expected = format!("{}:3:1:", policy.display());
    assert!(
        stderr.contains(&expected) && stderr.contains("fnid"),
        "{stderr}"
    );
    assert!(!dir.path().join("bus").exists());
}

#[test]
fn sigterm_stops_the_daemon_and_removes_its_socket() {
    let mut bus = Bus::start(None);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(bus.child.id() as i32),
        nix::sys::signal::SIGTERM,
    )
    .unwrap();
    assert!(bus.child.wait().unwrap().success());
    assert!(!bus.path().exists());
}

fn afbus(bus: &Bus, args: &[&str]) -> (bool, String) {
    let out = Command::new(AFBUS)
        .arg("--bus")
        .arg(bus.path())
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn the_afbus_command_against_a_live_bus() {
    with_timeout(60, || {
        let bus = Bus::start(None);
        let service = bus.spawn("echo");
        let (ok, out) = afbus(&bus, &["wait", "test.echo", "--timeout", "20"]);
        assert!(ok, "{out}");
        let (ok, out) = afbus(&bus, &["list"]);
        assert!(
            ok && out.starts_with("test.echo\ttest.IEcho\tpid "),
            "{out}"
        );
        let (ok, out) = afbus(&bus, &["--json", "list"]);
        assert!(ok, "{out}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v[0]["name"], "test.echo");
        assert_eq!(v[0]["pid"], service.pid());
        assert_eq!(v[0]["interface"], "test.IEcho");

        let (ok, out) = afbus(
            &bus,
            &[
                "call",
                "test.echo",
                "2",
                "i32",
                "40",
                "i32",
                "2",
                "--reply",
                "i32",
            ],
        );
        assert_eq!((ok, out.trim()), (true, "42"));
        let (ok, out) = afbus(
            &bus,
            &[
                "--json",
                "call",
                "test.echo",
                "1",
                "str",
                "hey",
                "--reply",
                "str",
            ],
        );
        assert_eq!((ok, out.trim()), (true, "[\"hey\"]"));
        let (ok, out) = afbus(&bus, &["call", "test.echo", "9"]);
        assert!(
            !ok && out.trim_end().ends_with("UNKNOWN_TRANSACTION"),
            "{out}"
        );
        let (ok, out) = afbus(
            &bus,
            &[
                "call",
                "test.echo",
                "3",
                "bytes",
                "00ff10",
                "--reply",
                "bytes",
            ],
        );
        assert_eq!((ok, out.trim()), (true, "\"00ff10\""));
        let file = bus.dir.path().join("passed");
        std::fs::write(&file, "x").unwrap();
        let (ok, out) = afbus(
            &bus,
            &[
                "call",
                "test.echo",
                "4",
                "fd",
                file.to_str().unwrap(),
                "--reply",
                "fd",
            ],
        );
        assert_eq!(
            (ok, out.trim()),
            (true, format!("{:?}", file.display().to_string()).as_str())
        );

        // By method name, given the interface's .aidl: arguments and reply as declared.
        let aidl = bus.dir.path().join("test/IEcho.aidl");
        std::fs::create_dir(bus.dir.path().join("test")).unwrap();
        std::fs::write(
            &aidl,
            "package test;\ninterface IEcho {\n    String echo(String text);\n    \
             int add(int a, int b);\n}\n",
        )
        .unwrap();
        let aidl = aidl.to_str().unwrap();
        let (ok, out) = afbus(
            &bus,
            &["call", "test.echo", "add", "40", "2", "--aidl", aidl],
        );
        assert_eq!((ok, out.trim()), (true, "return: 42"));
        let (ok, out) = afbus(
            &bus,
            &[
                "--json",
                "call",
                "test.echo",
                "echo",
                "hi there",
                "--aidl",
                aidl,
            ],
        );
        assert_eq!((ok, out.trim()), (true, r#"{"return":"hi there"}"#));
        let (ok, out) = afbus(&bus, &["call", "test.echo", "sub", "1", "--aidl", aidl]);
        assert!(
            !ok && out.contains("test.IEcho has no method \"sub\"; it has: echo, add"),
            "{out}"
        );
        let (ok, out) = afbus(&bus, &["call", "test.echo", "add", "1", "--aidl", aidl]);
        assert!(
            !ok && out.contains("add takes 2 argument(s) (a, b), not 1"),
            "{out}"
        );
        let (ok, out) = afbus(&bus, &["call", "test.echo", "add"]);
        assert!(
            !ok && out.contains("give the interface's .aidl with --aidl"),
            "{out}"
        );

        let (ok, out) = afbus(&bus, &["--json", "status"]);
        assert!(ok, "{out}");
        let peers: serde_json::Value = serde_json::from_str(&out).unwrap();
        let names: Vec<&str> = peers
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|p| {
                p["names"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|n| n.as_str().unwrap())
            })
            .collect();
        assert!(names.contains(&"afbus.ServiceManager"), "{out}");
        assert!(peers
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["pid"] == service.pid()));

        let (ok, out) = afbus(&bus, &["wait", "test.never", "--timeout", "0.1"]);
        assert!(
            !ok && out.contains("test.never was not registered within 0.1 s"),
            "{out}"
        );
        let (ok, out) = afbus(&bus, &["dump", "test.echo", "a", "b c"]);
        assert!(
            ok && out.starts_with("echo service: args [\"a\", \"b c\"], asked by pid "),
            "{out}"
        );
        let (ok, out) = afbus(&bus, &["check", "test.echo"]);
        assert_eq!((ok, out.trim()), (true, "test.echo: found"));
        let (ok, out) = afbus(&bus, &["check", "test.never"]);
        assert_eq!((ok, out.trim()), (false, "test.never: not found"));
        let (ok, out) = afbus(&bus, &["--json", "call", "test.echo", "9"]);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert!(
            !ok && v["error"].as_str().unwrap().contains("UNKNOWN_TRANSACTION"),
            "{out}"
        );
    })
}

#[test]
fn the_afbus_command_explains_an_empty_bus_and_a_missing_one() {
    with_timeout(60, || {
        let bus = Bus::start(None);
        let (ok, out) = afbus(&bus, &["list"]);
        assert!(
            ok && out.contains("no services registered or declared"),
            "{out}"
        );
        let (ok, out) = afbus(&bus, &["--json", "list"]);
        assert_eq!((ok, out.trim()), (true, "[]"));
        let missing = bus.dir.path().join("no-such-bus");
        let out = Command::new(AFBUS)
            .arg("--bus")
            .arg(&missing)
            .arg("list")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert!(err.contains(&missing.display().to_string()), "{err}");
        let out = Command::new(AFBUS).arg("--version").output().unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "afbus 0.1.0");
    })
}

/// A declaration that starts this test binary in the given role.
fn declaration(name: &str, role: &str) -> String {
    let exe = std::env::current_exe().unwrap();
    format!(
        "name = \"{name}\"\nexec = [\"{}\", \"--exact\", \"child_entry\", \"--nocapture\"]\nenv = {{ {} = \"{role}\", {} = \"@BUS@\" }}\n",
        exe.display(),
        common::ROLE_VAR,
        BUS_VAR
    )
}

#[test]
fn a_get_starts_a_declared_service() {
    with_timeout(60, || {
        let decl = declaration("test.activated", "activated");
        let bus = Bus::start_with(None, &[("activated.toml", &decl)]);
        let (_rt, sm) = client(&bus.path());
        assert!(sm.is_declared("test.activated").unwrap());
        assert!(!sm.is_declared("test.other").unwrap());
        assert!(
            sm.check_service("test.activated").unwrap().is_none(),
            "check never starts it"
        );
        assert_eq!(sm.list_declared().unwrap(), ["test.activated"]);
        let (ok, out) = afbus(&bus, &["list"]);
        assert!(
            ok && out.contains("test.activated\t(declared: started on the first get)"),
            "{out}"
        );
        let svc = sm
            .wait_for_service("test.activated", Duration::from_secs(20))
            .unwrap();
        assert_eq!(echo(&svc, "started on demand"), "started on demand");
        let again = sm.get_service("test.activated").unwrap();
        assert_eq!(again, svc, "started once");
        let (ok, out) = afbus(&bus, &["--json", "list"]);
        let rows: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert!(
            ok && rows[0]["declared"] == true && rows[0]["pid"].is_number(),
            "{out}"
        );
    })
}

#[test]
fn a_crash_looping_service_fails_its_getters_instead_of_hanging_them() {
    with_timeout(60, || {
        let decl = "name = \"test.crashes\"\nexec = [\"/bin/false\"]\n";
        let bus = Bus::start_with(None, &[("crashes.toml", decl)]);
        let (_rt, sm) = client(&bus.path());
        let mut messages = Vec::new();
        for _ in 0..afbus_servicemanager::activation::MAX_FAILED_STARTS_PER_MINUTE + 1 {
            let err = sm
                .wait_for_service("test.crashes", Duration::from_secs(20))
                .unwrap_err();
            messages.push(err.to_string());
        }
        assert!(
            messages[0].contains("exited before registering"),
            "{messages:?}"
        );
        assert!(
            messages.last().unwrap().contains("crash-looping"),
            "{messages:?}"
        );
    })
}

#[test]
fn a_bad_declaration_at_startup_names_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("services")).unwrap();
    let file = dir.path().join("services").join("bad.toml");
    std::fs::write(&file, "name = \"x.y\"\nexec = []\n").unwrap();
    let out = Command::new(DAEMON)
        .arg("--bus")
        .arg(dir.path().join("bus"))
        .arg("--services")
        .arg(dir.path().join("services"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("{}:2:", file.display())),
        "{stderr}"
    );
}

/// The daemon with `test.lazy` declared lazy, a client, and a watcher of that name.
fn lazy_bus() -> (Bus, Runtime, ServiceManager, Arc<Watcher>) {
    let decl = declaration("test.lazy", "lazy") + "lazy = true\n";
    let bus = Bus::start_with(None, &[("lazy.toml", &decl)]);
    let (rt, sm) = client(&bus.path());
    let watcher = Arc::new(Watcher::default());
    sm.register_for_notifications(
        "test.lazy",
        &IServiceCallbackProxy::new_local(&rt, WatcherRef(watcher.clone())),
    )
    .unwrap();
    (bus, rt, sm, watcher)
}

#[test]
fn a_lazy_service_exits_after_its_last_client_and_comes_back_on_the_next_get() {
    with_timeout(60, || {
        let (_bus, _rt, sm, watcher) = lazy_bus();

        let svc = sm
            .wait_for_service("test.lazy", Duration::from_secs(20))
            .unwrap();
        assert_eq!(echo(&svc, "one"), "one");
        let first_pid = sm.debug_info().unwrap()[0].pid;
        assert_eq!(watcher.wait_for(1)[0].0, REGISTERED);
        // While we hold it, it stays.
        std::thread::sleep(Duration::from_millis(600));
        assert!(
            sm.check_service("test.lazy").unwrap().is_some(),
            "a held lazy service stays"
        );
        drop(svc);
        assert_eq!(
            watcher.wait_for(2)[1],
            (REMOVED, "test.lazy".to_string()),
            "it left"
        );

        let svc = sm
            .wait_for_service("test.lazy", Duration::from_secs(20))
            .unwrap();
        assert_eq!(echo(&svc, "two"), "two");
        let second_pid = sm.debug_info().unwrap()[0].pid;
        assert_ne!(first_pid, second_pid, "a new process serves it");
    })
}

#[test]
fn afbus_monitor_prints_signals_and_notices_live() {
    with_timeout(60, || {
        use std::io::BufRead;
        let bus = Bus::start(None);
        let mut monitor = Command::new(AFBUS)
            .arg("--bus")
            .arg(bus.path())
            .args(["monitor", "member=Ping"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = std::io::BufReader::new(monitor.stdout.take().unwrap()).lines();
        // What the monitor printed: bus notices and the service manager's come on their own
        // paths, so in no set order between the two.
        let mut seen: Vec<serde_json::Value> = Vec::new();
        let mut find = |what: &str, pred: &dyn Fn(&serde_json::Value) -> bool| {
            let mut at = 0;
            loop {
                if let Some(v) = seen[at..]
                    .iter()
                    .find_map(|v| v.get(what).filter(|x| pred(x)))
                {
                    return v.clone();
                }
                at = seen.len();
                let line = lines.next().unwrap().unwrap();
                seen.push(serde_json::from_str(&line).unwrap());
            }
        };
        let sender = afbus_transport::BusSocket::connect(bus.path()).unwrap();
        let fields = afbus_transport::Fields::new().with("member", "Ping");
        // Delivered to one receiver once the monitor has subscribed.
        while sender.send_signal(&fields, b"hello").unwrap() == 0 {
            std::thread::sleep(Duration::from_millis(10));
        }
        let signal = find("signal", &|_| true);
        assert_eq!(signal["fields"][0], "member=Ping");
        assert_eq!(signal["body_len"], 5);
        let id = sender.id().to_string();
        drop(sender);
        let gone = find("peer_gone", &|g| g["peer"] == id.as_str());
        assert_eq!(
            gone["pid"],
            std::process::id(),
            "named as it joined: {gone}"
        );

        // A service joins the bus, registers, and dies: each with its pid, uid and process.
        let mut service = bus.spawn("echo");
        let pid = service.pid();
        let joined = find("peer_joined", &|j| j["pid"] == pid);
        assert!(joined["process"].is_string(), "{joined}");
        let registered = find("registered", &|r| r["name"] == "test.echo");
        assert_eq!(registered["pid"], pid, "{registered}");
        assert_eq!(
            registered["uid"],
            nix::unistd::getuid().as_raw(),
            "{registered}"
        );
        service.kill();
        find("removed", &|r| r["name"] == "test.echo");
        find("peer_gone", &|g| g["pid"] == pid);
        let _ = monitor.kill();
        let _ = monitor.wait();
    })
}

#[test]
fn the_service_quota_comes_from_the_policy() {
    with_timeout(60, || {
        let bus = Bus::start(Some("[quota]\nservices_per_uid = 1\n"));
        let (rt, sm) = client(&bus.path());
        sm.add_service("test.one", &rt.local(Echo)).unwrap();
        let err = sm.add_service("test.two", &rt.local(Echo)).unwrap_err();
        assert!(
            err.to_string().contains("the most services it may (1)"),
            "{err}"
        );
        sm.replace_service("test.one", &rt.local(Echo))
            .expect("replacing stays within the quota");
    })
}

#[test]
fn killing_the_bus_master_leaves_live_channels_working() {
    with_timeout(60, || {
        let mut bus = Bus::start(None);
        let (_rt, sm) = client(&bus.path());
        let _service = bus.spawn("echo");
        let svc = sm.get_service("test.echo").unwrap();
        assert_eq!(echo(&svc, "before"), "before");
        bus.child.kill().unwrap();
        bus.child.wait().unwrap();
        // The master is on the control path only: the channel to the service still works.
        assert_eq!(echo(&svc, "after"), "after");
        // Its own objects are gone, and the bus says so with a typed error.
        assert_eq!(
            sm.list_services().unwrap_err().code(),
            StatusCode::DEAD_OBJECT
        );
        assert!(matches!(
            sm.endpoint().recv_event(Some(Duration::from_secs(10))),
            Err(afbus_transport::Error::BusGone)
        ));
    })
}

/// The signal mask of process `pid`, as /proc shows it.
fn blocked_signals(pid: u32) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("SigBlk:")).unwrap();
    line.split_whitespace().nth(1).unwrap().to_owned()
}

/// A started service takes signals as one started by hand does, and stops with the daemon
/// (SIGTERM, then SIGKILL after STOP_GRACE: systemd's stop sequence).
#[test]
fn started_services_take_signals_and_stop_with_the_daemon() {
    with_timeout(60, || {
        let decl = declaration("test.activated", "activated");
        let mut bus = Bus::start_with(None, &[("activated.toml", &decl)]);
        let (_rt, sm) = client(&bus.path());
        let svc = sm
            .wait_for_service("test.activated", Duration::from_secs(20))
            .unwrap();
        let info = sm.debug_info().unwrap();
        let pid = info
            .iter()
            .find(|s| s.name == "test.activated")
            .unwrap()
            .pid as u32;
        // glibc blocks every signal in a thread for the instant it creates another, so one read
        // may see that; a mask inherited from the daemon would be in every read.
        let masks: Vec<_> = (0..50)
            .map(|_| {
                std::thread::sleep(Duration::from_millis(2));
                blocked_signals(pid)
            })
            .collect();
        assert!(
            masks.iter().any(|m| m == "0000000000000000"),
            "an empty signal mask: {masks:?}"
        );
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(bus.child.id() as i32),
            nix::sys::signal::SIGTERM,
        )
        .unwrap();
        assert!(bus.child.wait().unwrap().success());
        // The daemon reaped it before it exited.
        assert!(
            std::fs::metadata(format!("/proc/{pid}")).is_err(),
            "the service outlived the daemon"
        );
        assert!(!svc.is_alive());
    })
}

/// A client cannot make a declared service unavailable to others by making it start and leave
/// again and again: a lazy service that registered and exited is no crash.
#[test]
fn a_lazy_service_started_over_and_over_is_not_crash_looping() {
    with_timeout(120, || {
        let (_bus, _rt, sm, watcher) = lazy_bus();
        let rounds = afbus_servicemanager::activation::MAX_FAILED_STARTS_PER_MINUTE + 2;
        for round in 0..rounds {
            let svc = sm
                .wait_for_service("test.lazy", Duration::from_secs(20))
                .unwrap_or_else(|e| panic!("round {round}: {e}"));
            assert_eq!(echo(&svc, "again"), "again");
            drop(svc);
            // Registered, then removed as it leaves.
            let events = watcher.wait_for(2 * (round + 1));
            assert_eq!(events[2 * round + 1], (REMOVED, "test.lazy".to_string()));
        }
    })
}

/// Startup errors name what they are about: a `--ready-fd` that is not open, a policy file
/// that is missing.
#[test]
fn startup_errors_name_their_subject() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(DAEMON)
            .arg("--bus")
            .arg(dir.path().join("bus"))
            .args(args)
            .output()
            .unwrap();
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let err = run(&["--ready-fd", "57"]);
    assert!(
        err.contains("--ready-fd 57") && err.contains("Bad file descriptor"),
        "{err}"
    );
    let missing = dir.path().join("policy.toml");
    let err = run(&["--policy", missing.to_str().unwrap()]);
    assert!(err.contains("policy.toml: cannot read it"), "{err}");
}

/// The shipped sample configuration (`dist/`) is what the daemon accepts, and under systemd
/// (`$NOTIFY_SOCKET`) the daemon says when it is ready, reloading and stopping.
#[test]
fn the_sample_configuration_loads_and_systemd_hears_readiness() {
    with_timeout(60, || {
        use std::os::unix::net::UnixDatagram;
        let dist = Path::new(env!("CARGO_MANIFEST_DIR")).join("dist");
        let dir = tempfile::tempdir().unwrap();
        let notify_path = dir.path().join("notify");
        let notify = UnixDatagram::bind(&notify_path).unwrap();
        notify
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut daemon = Command::new(DAEMON)
            .arg("--bus")
            .arg(dir.path().join("bus"))
            .arg("--policy")
            .arg(dist.join("policy.toml"))
            .arg("--services")
            .arg(dist.join("services.d"))
            .env("NOTIFY_SOCKET", &notify_path)
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let next = || {
            let mut buf = [0u8; 64];
            let n = notify.recv(&mut buf).expect("a notification");
            String::from_utf8_lossy(&buf[..n]).into_owned()
        };
        assert_eq!(next(), "READY=1");
        let rt = Runtime::new(RuntimeConfig::default()).unwrap();
        let sm = ServiceManager::connect(&rt, dir.path().join("bus")).unwrap();
        assert!(
            sm.is_declared("afbus.examples.IEcho/default").unwrap(),
            "the sample declaration is loaded"
        );
        let pid = nix::unistd::Pid::from_raw(daemon.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGHUP).unwrap();
        assert_eq!(next(), "RELOADING=1");
        assert_eq!(next(), "READY=1");
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
        assert_eq!(next(), "STOPPING=1");
        assert!(daemon.wait().unwrap().success());
    })
}

/// An object that records its reference counts.
#[derive(Default)]
struct Counted {
    history: Mutex<Vec<usize>>,
}

impl Binder for Counted {
    fn descriptor(&self) -> &str {
        "test.ICounted"
    }
    fn on_transact(
        &self,
        _: TransactionCode,
        _: &mut Parcel,
        _: &mut Parcel,
        _: &CallContext,
    ) -> Result<(), Status> {
        Ok(())
    }
    fn on_refs_changed(&self, count: usize) {
        self.history.lock().push(count);
    }
}

/// A get of a service the client holds already needs nothing from the service's process: the
/// service manager says who the object is, and the client's own proxy answers.
#[test]
fn a_get_of_a_service_already_held_mints_nothing() {
    with_timeout(60, || {
        let bus = Bus::start(None);
        let (service_rt, service_sm) = client(&bus.path());
        let counted = Arc::new(Counted::default());
        service_sm
            .add_service("test.counted", &service_rt.local_arc(counted.clone()))
            .unwrap();
        let (_rt, sm) = client(&bus.path());
        let first = sm.get_service("test.counted").unwrap();
        first.ping().unwrap();
        let settled = |n: usize| {
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while counted.history.lock().len() < n {
                assert!(
                    std::time::Instant::now() < deadline,
                    "{:?}",
                    counted.history.lock()
                );
                std::thread::sleep(Duration::from_millis(5));
            }
            std::thread::sleep(Duration::from_millis(50));
            counted.history.lock().clone()
        };
        // The service manager's reference, then the client's.
        let before = settled(2);
        assert_eq!(before, [1, 2]);
        for _ in 0..10 {
            let again = sm.get_service("test.counted").unwrap();
            assert_eq!(again, first, "the same proxy");
        }
        assert_eq!(settled(2), before, "no reference was minted for the gets");
        // An object without a dump says so.
        let devnull = std::fs::File::create("/dev/null").unwrap();
        let no_dump = first.dump(std::os::fd::AsFd::as_fd(&devnull), &[]);
        assert_eq!(no_dump.unwrap_err().code(), StatusCode::UNKNOWN_TRANSACTION);
        // Once the client lets go, a get mints a reference again.
        drop(first);
        let after_drop = settled(3);
        assert_eq!(after_drop.last(), Some(&1));
        let fresh = sm.get_service("test.counted").unwrap();
        fresh.ping().unwrap();
        assert_eq!(settled(4).last(), Some(&2));
    })
}

/// Shell completions and the man page come from the command's own definition.
#[test]
fn the_afbus_command_prints_completions_and_its_man_page() {
    let run = |args: &[&str]| {
        let out = Command::new(AFBUS).args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    for shell in ["bash", "zsh", "fish"] {
        let script = run(&["completions", shell]);
        assert!(
            script.contains("afbus") && script.contains("monitor"),
            "{shell}"
        );
    }
    let man = run(&["man"]);
    assert!(
        man.contains(".TH afbus 1") && man.contains("check"),
        "{man}"
    );
}

/// A per-user bus, as `dist/afbus-servicemanager-user.service` runs it: the daemon and the
/// user's clients find `$XDG_RUNTIME_DIR/afbus/bus` with no `--bus`.
#[test]
#[ignore = "needs root: the bus runs as uid 65534 (CI runs it with --ignored, as root)"]
fn a_per_user_bus_is_found_at_the_users_runtime_dir() {
    use std::os::unix::process::CommandExt;
    assert!(nix::unistd::geteuid().is_root(), "this test needs root");
    with_timeout(60, || {
        let dir = tempfile::tempdir().unwrap();
        let runtime_dir = dir.path().join("run-user");
        std::fs::create_dir(&runtime_dir).unwrap();
        let nobody = nix::unistd::Uid::from_raw(65534);
        let nogroup = nix::unistd::Gid::from_raw(65534);
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(&runtime_dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        nix::unistd::chown(&runtime_dir, Some(nobody), Some(nogroup)).unwrap();
        let (r, w) = nix::unistd::pipe().unwrap();
        let mut daemon = Command::new(DAEMON)
            .arg("--ready-fd")
            .arg(w.as_raw_fd().to_string())
            .env("XDG_RUNTIME_DIR", &runtime_dir)
            .env_remove("AFBUS_BUS")
            .uid(65534)
            .gid(65534)
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        drop(w);
        let mut ready = [0u8; 1];
        std::fs::File::from(r).read_exact(&mut ready).unwrap();
        assert_eq!(&ready, b"R");
        assert!(runtime_dir.join("afbus/bus").exists());
        let out = Command::new(AFBUS)
            .arg("list")
            .env("XDG_RUNTIME_DIR", &runtime_dir)
            .env_remove("AFBUS_BUS")
            .uid(65534)
            .gid(65534)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{text} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.contains("no services registered"), "{text}");
        let _ = daemon.kill();
        let _ = daemon.wait();
    })
}
